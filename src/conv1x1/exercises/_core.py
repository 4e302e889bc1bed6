"""Checking exercise answers, and the widget that displays the checks.

The checking logic is a set of plain functions that take the learner's
answer and return a :class:`Result` (correct, message, hint). They never
raise on a learner's input: text that is not a number, an empty field, an
array of the wrong shape or a function that crashes all come back as a
:class:`Result` whose message says what went wrong. Text is parsed, never
evaluated.

Numbers follow one rule (:func:`check_number`): an answer is right when it
is within the exercise's tolerance, or when the exact answer rounds to it
at the precision the learner typed, with three significant figures or more
("1.229M" for 1,228,900). A learner's function runs under a time limit
that holds whatever the function catches (:func:`run_learner`), read when
the check runs (:func:`time_limit`).

The widget only displays what a checker returns, so every check can be
tested without a browser. A chapter does not build it itself: each
exercise is registered in its chapter's module (see
:mod:`conv1x1.exercises`) and one line, ``show("label")``, displays it with
:func:`exercise_widget`.

Introduced in the chapter "The structure of a 1x1 convolution".
"""

from __future__ import annotations

import copy
import decimal
import functools
import math
import os
import re
import signal
import sys
import sysconfig
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "Result",
    "parse_number",
    "parse_shape",
    "check_number",
    "check_shape",
    "check_choice",
    "check_array",
    "check_function",
    "run_learner",
    "time_limit",
    "COMMON_UNITS",
    "MIN_FIGURES",
]


@dataclass(frozen=True)
class Result:
    """The outcome of checking one answer.

    Attributes:
        correct: whether the answer is right.
        message: what to tell the learner, right or wrong.
        hint: a nudge towards the answer, shown on request ("" for none).
    """

    correct: bool
    message: str
    hint: str = ""

    def __bool__(self) -> bool:
        return self.correct


_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
#: Powers of ten of the suffixes K, M, G and B (billion).
_SUFFIXES = {"k": 3, "m": 6, "g": 9, "b": 9}
#: What may separate groups of three digits: a comma, an underscore, a space,
#: a no-break space, a narrow no-break space (what copying a formatted
#: number often gives) or a thin space.
_GROUPS = re.compile("(?<=[0-9])[,_ \u00a0\u202f\u2009](?=[0-9]{3}(?![0-9]))")
_DECIMAL_COMMA = re.compile(r"^[+-]?[0-9]+,([0-9]{1,2}|[0-9]{4,})$")
_TRAILING_WORD = re.compile(r"^(.*?[0-9.])\s*(?:[kKmMgGbB](?![A-Za-z]))?\s*([^\W\d_]\D{2,})$")
#: Units a number may end with when an exercise names none: the words the
#: course's questions use. The word is not checked against the number (the
#: number is): "16,384 weights" is judged as 16,384.
COMMON_UNITS = (
    "parameters", "parameter", "params", "weights", "MACs", "MAC",
    "multiply-accumulates", "FLOPs", "FLOP", "FLOP/B", "FLOPs/B", "FLOP/byte",
    "FLOPs/byte", "FLOPs per byte", "FLOP per byte", "bytes", "times", "x", "×",
)
#: Significant figures a rounded answer needs (fewer when the exact answer has fewer).
MIN_FIGURES = 3
#: Longest text a message quotes back to the learner.
_QUOTE_LIMIT = 40
#: Most digits a dimension of a shape may have (a billion is already absurd).
_MAX_DIGITS = 9
_EXACT = decimal.Context(prec=200, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                         traps=[])


def _quote(text) -> str:
    """``text`` in quotes for a message, shortened when long."""
    text = str(text)
    if len(text) > _QUOTE_LIMIT:
        text = text[:_QUOTE_LIMIT - 3] + "..."
    return f"'{text}'"


def _is_real_number(value) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


@dataclass(frozen=True)
class _Typed:
    """A learner's number as typed: its value and how precisely it was given.

    ``"1.229M"`` is 1,229,000 with its last digit in the thousands
    (``place`` 3) and 4 significant figures; ``"1,228,900"`` is exact to the
    unit (``place`` 0, 7 figures: a whole number written out claims every
    digit). A number passed from code is read as Python writes it.
    """

    value: float
    exact: decimal.Decimal
    place: int
    figures: int


def _typed(exact: decimal.Decimal, shown) -> _Typed:
    sign, digits, exponent = exact.as_tuple()
    value = float(exact)
    if not math.isfinite(value):
        raise ValueError(f"{_quote(shown)} is too large to be a count or a cost "
                         "(more than 10^308): check the exponent or the number of "
                         "digits.")
    figures = 0 if not any(digits) else len(digits)
    return _Typed(value, exact, exponent, figures)


def _strip_unit(raw: str, units: Sequence[str]) -> str:
    """``raw`` without a trailing unit from ``units`` ("96.5 FLOP/B" -> "96.5")."""
    lower = raw.lower()
    for unit in sorted({u.strip() for u in units if u.strip()}, key=len, reverse=True):
        if not lower.endswith(unit.lower()) or len(unit.lower()) != len(unit):
            continue
        head = raw[:len(raw) - len(unit)]
        if head.strip() and (head[-1].isspace() or head[-1] in "0123456789."
                             or not unit[0].isalpha()):
            return head.strip()
    return raw


def _not_a_number(raw: str, body: str, units: Sequence[str]) -> str:
    """Why ``raw`` is not a number, as specifically as can be said."""
    if _DECIMAL_COMMA.match(body.strip()):
        return (f"{_quote(raw)} is not a number: write decimals with a point, e.g. "
                "2.5; a comma separates groups of three digits, as in 4,160.")
    word = _TRAILING_WORD.match(body.strip())
    if word and _NUMBER.match(_GROUPS.sub("", word.group(1).strip())):
        named = [u for u in units if u.strip()]
        which = (f" or with its unit ({', '.join(named)})" if 0 < len(named) <= 4
                 else "")
        return (f"{_quote(word.group(2))} is not a unit this answer takes: type the "
                f"number alone{which}, e.g. 4160 or 1.2M.")
    return (f"{_quote(raw)} is not a number. Type digits only, e.g. 4160, 4,160, 1.5e6 "
            "or 3.4M; expressions such as 2*3 are not evaluated.")


def _read_number(text, units: Sequence[str] = COMMON_UNITS) -> _Typed:
    """The learner's number and its precision; see :func:`parse_number`."""
    if isinstance(text, (bool, np.bool_)):
        raise ValueError("Expected a number; received a yes/no value.")
    if isinstance(text, (int, np.integer)):
        return _typed(decimal.Decimal(int(text)), text)
    if isinstance(text, (float, np.floating)):
        value = float(text)
        if math.isnan(value):
            raise ValueError("NaN is not a number: the computation that gave it went "
                             "wrong (0/0, say). Type the number itself, e.g. 4160.")
        if math.isinf(value):
            raise ValueError("Expected a finite number; infinity is too large to be "
                             "a count or a cost.")
        return _typed(decimal.Decimal(repr(value)), text)
    raw = str(text).strip()
    if not raw:
        raise ValueError("The answer is empty: type a number, e.g. 4160.")
    body = _strip_unit(raw, units)
    cleaned = _GROUPS.sub("", body)
    shift = 0
    if cleaned and cleaned[-1].lower() in _SUFFIXES:
        shift = _SUFFIXES[cleaned[-1].lower()]
        cleaned = cleaned[:-1].strip()
    if not _NUMBER.match(cleaned):
        raise ValueError(_not_a_number(raw, body, units))
    sign, digits, exponent = decimal.Decimal(cleaned).as_tuple()
    return _typed(decimal.Decimal((sign, digits, exponent + shift)), raw)


def parse_number(text, *, units: Sequence[str] = COMMON_UNITS) -> float:
    """Parse a learner's number: ``"4160"``, ``"4,160"``, ``"1.5e6"``, ``"3.4M"``.

    Thousands separators (commas, underscores, spaces, no-break and thin
    spaces) are allowed, and so are the suffixes K, M and G (or B, for
    billion), and one trailing unit from ``units`` ("1,228,900 parameters",
    "96.5 FLOP/B", "77M MACs"). Nothing is evaluated: ``"2*3"`` is
    rejected, not computed.

    Raises:
        ValueError: with a message meant for the learner.
    """
    return _read_number(text, units).value


_SEPARATOR = re.compile(r"\s*(?:,|x|×|\*)\s*|\s+")
_BRACKETS = {"(": ")", "[": "]"}


def parse_shape(text) -> tuple[int, ...]:
    """Parse a shape such as ``"(1, 28, 28, 64)"``, ``"[1, 28, 28, 64]"``, ``"1 x 28 x 28 x 64"``.

    One pair of round or square brackets is allowed around the whole shape,
    and one trailing comma, as in Python's ``(8,)``. Each dimension is a
    whole number of at most nine digits.

    Raises:
        ValueError: with a message meant for the learner.
    """
    if isinstance(text, (tuple, list)):
        parts = [str(p).strip() for p in text]
    else:
        raw = str(text).strip()
        if not raw:
            raise ValueError("The answer is empty: type a shape, e.g. (1, 28, 28, 64).")
        inner = raw
        if inner[0] in _BRACKETS:
            if inner[-1] != _BRACKETS[inner[0]]:
                raise ValueError(f"{_quote(raw)} opens a bracket it does not close: "
                                 "write the shape as (1, 28, 28, 64).")
            inner = inner[1:-1].strip()
        if any(c in inner for c in "()[]{}"):
            raise ValueError(f"{_quote(raw)} has a bracket out of place: write one "
                             "shape, e.g. (1, 28, 28, 64), without nested brackets.")
        parts = _SEPARATOR.split(inner)
        if len(parts) > 1 and parts[-1] == "" and inner.rstrip().endswith(","):
            parts = parts[:-1]  # a trailing comma, as in (8,)
        if parts == [""]:
            parts = []
        if "" in parts:
            raise ValueError(f"{_quote(raw)} has a number missing between two "
                             "separators: write the shape as (1, 28, 28, 64).")
    if not parts:
        raise ValueError("Expected at least one dimension, e.g. (28, 28, 64).")
    dims = []
    for part in parts:
        if not re.fullmatch(r"[0-9]+", part):
            raise ValueError(
                f"{_quote(part)} is not a whole number. Write the shape as whole numbers "
                "separated by commas, e.g. (1, 28, 28, 64)."
            )
        if len(part.lstrip("0")) > _MAX_DIGITS:
            raise ValueError(f"{_quote(part)} is too large for a dimension: a shape's "
                             f"dimensions have at most {_MAX_DIGITS} digits.")
        dims.append(int(part))
    return tuple(dims)


def _factor_hint(value: float, expected: float) -> str:
    """" It is off by a factor of n ..." for a small whole n (2 to 10), else ""."""
    if value == 0 or expected == 0 or (value > 0) != (expected > 0):
        return ""
    big, small = max(abs(value), abs(expected)), min(abs(value), abs(expected))
    if not big <= 10.5 * small:  # also false when the quotient would overflow
        return ""
    ratio = big / small
    factor = round(ratio)
    if 2 <= factor <= 10 and math.isclose(ratio, factor, rel_tol=1e-9):
        return (f" It is off by a factor of {factor}: is a term missing or "
                "counted twice?")
    return ""


def _format_number(value: float) -> str:
    """A number as a learner would write it: whole numbers in full, with commas."""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.6g}"


def _exact(number) -> decimal.Decimal:
    """A number of the exercise's author, as it is written (0.115, not its binary value)."""
    if isinstance(number, (int, np.integer)):
        return decimal.Decimal(int(number))
    return decimal.Decimal(repr(float(number)))


def _figures_needed(expected) -> int:
    """:data:`MIN_FIGURES`, or all of the exact answer's figures when it has fewer."""
    digits = _exact(expected).as_tuple().digits
    figures = len("".join(map(str, digits)).strip("0"))
    return max(1, min(MIN_FIGURES, figures))


def _rounds_to(typed: _Typed, expected) -> bool:
    """Whether ``expected`` rounds to the learner's number at the place of its last digit."""
    half = decimal.Decimal((0, (5,), typed.place - 1))
    gap = _EXACT.abs(_EXACT.subtract(_exact(expected), typed.exact))
    return _EXACT.compare(gap, half) <= 0


def _same(typed: _Typed, expected, rel_tol: float, abs_tol: float) -> bool:
    """The number rule: within tolerance, or ``expected`` rounded as the learner rounded."""
    if math.isclose(typed.value, expected, rel_tol=rel_tol, abs_tol=abs_tol):
        return True
    return typed.figures >= _figures_needed(expected) and _rounds_to(typed, expected)


def _units_taken(unit: str, units: Sequence[str] | None) -> tuple[str, ...]:
    taken = list(COMMON_UNITS if units is None else units)
    if unit.strip():
        taken += [unit.strip(), unit.split()[-1]]
    return tuple(taken)


def check_number(answer, expected: float, *, rel_tol: float = 1e-6,
                 abs_tol: float = 0.0, hint: str = "", unit: str = "",
                 units: Sequence[str] | None = None,
                 mistakes: Callable[[float], str | None] | Mapping | None = None
                 ) -> Result:
    """Check a numeric answer against ``expected``, by one rule for every exercise.

    The answer is right when it is within the exercise's tolerance
    (``rel_tol``, ``abs_tol``), or when ``expected`` rounds to it at the
    precision the learner typed: ``"1.229M"`` for 1,228,900 (rounded to the
    thousand), ``"3.23M"`` for 3,229,800, ``"96.5"`` for 96.4923...

    A rounded answer needs :data:`MIN_FIGURES` (three) significant figures,
    or all of the exact answer's when it has fewer (``"64"``, ``"0.5"``).
    Three figures keep a rounded answer within 0.5% of the exact one, which
    is how the chapters quote figures (3.23M, 96.5 FLOP/B); two would let
    ``"77M"`` stand for 77,070,336 and one ``"1M"`` for 1,228,900, off by
    19%, answers that say nothing of whether the count was done right. A
    whole number written out in full claims every digit: ``"1,229,000"`` is
    wrong for 1,228,900, where ``"1.229M"`` is right.

    The answer may end with a unit: one of ``units``, or when it is None any
    of :data:`COMMON_UNITS`, and ``unit`` (shown after the number in the
    messages, e.g. ``" MACs"``) and its last word.

    A wrong answer is called too large or too small; when it is off by a
    small whole factor (2 to 10) the message says so, a sign of a term
    missing or counted twice. An exercise that knows typical mistakes
    passes ``mistakes``: a mapping from a wrong value to its message, each
    matched by the rule above (so ``"3.19M"`` matches 3,188,840), or a
    function called with the learner's number when it is wrong that returns
    the message for a mistake it recognises, or None.

    Raises:
        ValueError: when ``expected`` or a tolerance is not a finite number (a
            mistake of the exercise's author, never of the learner).
    """
    if not _is_real_number(expected) or not math.isfinite(expected):
        raise ValueError(f"check_number: expected must be a finite number; received "
                         f"{expected!r}.")
    for name, tol in (("rel_tol", rel_tol), ("abs_tol", abs_tol)):
        if not _is_real_number(tol) or not 0 <= tol < math.inf:
            raise ValueError(f"check_number: {name} must be a number >= 0; received "
                             f"{tol!r}.")
    try:
        typed = _read_number(answer, _units_taken(unit, units))
    except ValueError as err:
        return Result(False, str(err), hint)
    value = typed.value
    if _same(typed, expected, rel_tol, abs_tol):
        return Result(True, f"Correct: {_format_number(expected)}{unit}.", hint)
    if isinstance(mistakes, Mapping):
        for wrong, why in mistakes.items():
            if _same(typed, wrong, rel_tol, abs_tol):
                return Result(False, why, hint)
    elif mistakes is not None:
        why = mistakes(value)
        if why:
            return Result(False, why, hint)
    if typed.figures and _rounds_to(typed, expected):
        need = _figures_needed(expected)
        return Result(False, f"Not precise enough: {_format_number(value)}{unit} has "
                             f"{typed.figures} significant figure"
                             f"{'' if typed.figures == 1 else 's'}; give at least "
                             f"{need}, or the exact number.", hint)
    direction = "too large" if value > expected else "too small"
    message = f"Not quite: {_format_number(value)}{unit} is {direction}."
    return Result(False, message + _factor_hint(value, expected), hint)


def check_shape(answer, expected: Sequence[int], *, hint: str = "") -> Result:
    """Check a shape answer such as ``"(1, 28, 28, 32)"``.

    Raises:
        ValueError: when ``expected`` is not a sequence of whole numbers >= 0
            (a mistake of the exercise's author, never of the learner).
    """
    if (not isinstance(expected, (tuple, list)) or not expected
            or not all(isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_))
                       and d >= 0 for d in expected)):
        raise ValueError(f"check_shape: expected must be a tuple of whole numbers >= 0, "
                         f"e.g. (8, 14, 14, 32); received {expected!r}.")
    expected = tuple(int(d) for d in expected)
    try:
        shape = parse_shape(answer)
    except ValueError as err:
        return Result(False, str(err), hint)
    if shape == expected:
        return Result(True, f"Correct: {expected}.", hint)
    if len(shape) != len(expected):
        return Result(False, f"{shape} has {len(shape)} dimensions; the answer has "
                             f"{len(expected)}.", hint)
    wrong = [i for i, (a, b) in enumerate(zip(shape, expected)) if a != b]
    return Result(False, f"{shape} is wrong in axis {', '.join(map(str, wrong))}.", hint)


def _sentence(text: str) -> str:
    """``text`` ended with a full stop, unless it already ends a sentence."""
    return text if text.rstrip().endswith((".", "!", "?")) else text + "."


def check_choice(answer, expected: str, options: Sequence[str], *,
                 explanations: dict | None = None, hint: str = "") -> Result:
    """Check a multiple-choice answer; ``explanations`` maps wrong options to why.

    Raises:
        ValueError: when ``expected`` is not one of ``options`` (a mistake of
            the exercise's author).
    """
    options = list(options)
    if expected not in options:
        raise ValueError(f"check_choice: expected must be one of the options {options}; "
                         f"received {expected!r}.")
    if not isinstance(answer, str):
        return Result(False, "Pick one of the options first.", hint)
    if answer not in options:
        return Result(False, f"{_quote(answer)} is not one of the options: pick "
                             "one of them.", hint)
    if answer == expected:
        return Result(True, _sentence(f"Correct: {expected}"), hint)
    why = (explanations or {}).get(answer, "")
    chosen = answer.rstrip()
    chosen = chosen[:-1] if chosen.endswith(".") else chosen
    return Result(False, f"Not “{chosen}”. {why}".strip(), hint)


def check_array(answer, expected, *, rtol: float = 1e-5, atol: float = 1e-6,
                hint: str = "") -> Result:
    """Check an array answer: numeric, the right shape, the right values.

    The answer may be anything numpy turns into an array (a list, a numpy
    array, a TensorFlow tensor). Refused, each with its own message: complex
    numbers (the imaginary part is never dropped silently), text (even text
    of digits), True/False values where numbers are expected, and, when
    ``expected`` is boolean, numbers where True/False values are expected
    (boolean arrays are compared exactly).
    """
    expected = np.asarray(expected)
    if expected.dtype.kind not in "biuf":
        raise ValueError(f"check_array: expected must be an array of real numbers or "
                         f"booleans; received dtype {expected.dtype}.")
    try:
        value = np.asarray(answer)
    except Exception as err:  # numpy, or the answer's own __array__, may raise anything
        return Result(False, f"Expected an array of numbers; received "
                             f"{type(answer).__name__}, which could not be turned into "
                             f"an array ({type(err).__name__}: {err}).", hint)
    kind = value.dtype.kind
    if kind == "O":
        items = value.ravel().tolist()
        if any(isinstance(item, (str, bytes)) for item in items):
            kind = "U"
        elif items and all(_is_real_number(item) for item in items):
            try:
                value, kind = value.astype(float), "f"
            except OverflowError:  # whole numbers beyond a float's range
                return Result(False, "The array holds a number too large for a float.",
                              hint)
    if kind == "c":
        return Result(False, "The array holds complex numbers; the answer is real. "
                             "Where does an imaginary part come from?", hint)
    if kind in "US":
        return Result(False, "The array holds text, not numbers: compute the values "
                             "rather than typing them as strings.", hint)
    if kind == "b" and expected.dtype.kind != "b":
        return Result(False, "The array holds True/False values; the answer is numbers.",
                      hint)
    if expected.dtype.kind == "b" and kind != "b":
        return Result(False, "The answer is an array of True/False values; this one holds "
                             f"{value.dtype} values. A comparison such as x > 0 gives "
                             "True/False values.", hint)
    if kind not in "biuf":
        return Result(False, f"Expected an array of numbers; received "
                             f"{type(answer).__name__}.", hint)
    if value.shape != expected.shape:
        return Result(False, f"Expected an array of shape {expected.shape}; received "
                             f"shape {value.shape}.", hint)
    if kind == "b":
        if np.array_equal(value, expected):
            return Result(True, "Correct: every value matches.", hint)
        share = float(np.mean(value != expected))
        return Result(False, f"The shape is right but {share:.0%} of the values differ.",
                      hint)
    value = value.astype(float)
    if not np.all(np.isfinite(value)):
        return Result(False, "The array contains NaN or infinite values.", hint)
    if np.allclose(value, expected, rtol=rtol, atol=atol):
        return Result(True, "Correct: every value matches.", hint)
    worst = float(np.max(np.abs(value - expected)))
    share = float(np.mean(~np.isclose(value, expected, rtol=rtol, atol=atol)))
    return Result(False, f"The shape is right but {share:.0%} of the values differ "
                         f"(largest difference {worst:.3g}).", hint)


class _TimeLimit(BaseException):
    """Raised in the learner's function when its time is up.

    A BaseException, so that a learner's ``except Exception`` does not swallow it.
    """


#: Environment variable that sets the seconds a learner's function may run.
TIME_LIMIT_VARIABLE = "CONV1X1_TIME_LIMIT"
#: Seconds a learner's function may run when the variable is not set.
DEFAULT_TIME_LIMIT_S = 20.0


def time_limit(default: float | None = None) -> float:
    """Seconds a learner's function may run, read when a check runs.

    The one rule of every function checker: the environment variable
    ``CONV1X1_TIME_LIMIT`` when it is set (a slow machine may raise it, a
    test may lower it), else ``default``, else :data:`DEFAULT_TIME_LIMIT_S`.
    It is read at every call, never fixed when a module is imported.

    Raises:
        ValueError: when the variable is set to something that is not a
            number of seconds > 0.
    """
    text = os.environ.get(TIME_LIMIT_VARIABLE, "").strip()
    if text:
        try:
            seconds = float(text)
        except ValueError:
            seconds = math.nan
        if not 0 < seconds < math.inf:
            raise ValueError(f"{TIME_LIMIT_VARIABLE} must be a number of seconds > 0, "
                             f"e.g. 20; received {text!r}. Set it to a number or "
                             "unset it.")
        return seconds
    if default is None:
        return DEFAULT_TIME_LIMIT_S
    if not _is_real_number(default) or not 0 < default < math.inf:
        raise ValueError(f"time_limit: default must be a number of seconds > 0 or None; "
                         f"received {default!r}.")
    return float(default)


_check_function_time_limit = time_limit  # check_function has an argument of that name
_AT_CHECK = object()  # check_function's default limit: time_limit() when it runs

#: A sys.monitoring tool id is free for this (3.12 and later), else None.
_MONITORING_TOOLS = (3, 4)


class _Stopper:
    """Makes the time limit hold whatever the learner's code catches.

    When the time is up, an interval timer raises :class:`_TimeLimit` in
    the learner's code. A bare ``except:`` in a retry loop catches it, so
    from then on the exception is raised again at every line the learner's
    code runs, until it leaves the learner's function. Raising at every
    line escapes any nest of handlers: the first line of a handler is
    outside the ``try`` that it handles.

    Before the time is up nothing is traced, so a learner's Keras code runs
    at full speed. How "every line" is done depends on Python:

    * 3.12 and later: a :mod:`sys.monitoring` callback on LINE events that
      raises (a callback that raises stays registered).
    * 3.10 and 3.11: a trace function. One that raises is removed by the
      interpreter, so the trace function does not raise: it is a C function,
      ``PyThreadState_SetAsyncExc`` through :mod:`ctypes`, which asks the
      interpreter to raise the exception in this thread at its next check
      (a loop's jump back, a call). Being C, it runs no Python code where
      the interpreter could raise the exception inside the trace function.
      It is disarmed by pointing it at thread 0, which does not exist
      (clearing the request instead leaves 3.11's interpreter checking for
      it at every instruction). Python 3.10 does not handle signals at all
      in a loop whose body starts with ``try:`` and calls nothing, not even
      Ctrl-C: such a loop cannot be stopped there.

    Elsewhere than in the main thread, see :func:`_ask_to_stop`.
    """

    def __init__(self):
        self.thread_id = threading.get_ident()
        self.active = False      # the learner's function is running
        self.expired = False     # its time is up
        self.boundary = None     # the frame that called the learner's function
        self._tool = None
        self.target = None      # 3.10, 3.11: the thread the trace function aims at
        self._previous_trace = None
        self._traced = []
        self.outer = (0.0, 0.0)  # a timer someone else had set

    def call(self, fn, args, limit):
        """``fn(*args)`` with the timer set; this call's frame is where raising stops.

        Its ``finally`` calls no Python function before the trace function is
        disarmed and a raise it asked for is taken: the interpreter raises a
        pending exception on entering one.
        """
        self.boundary = sys._getframe()
        self.active = True
        # Fire again every 0.1 s: a blocking call is interrupted each time.
        self.outer = signal.setitimer(signal.ITIMER_REAL, limit, 0.1)
        try:
            return fn(*args)
        finally:
            self.active = False
            if self.target is not None:
                self.target.value = 0  # the trace function now aims at no thread
                try:  # a raise still pending comes after a C function returns
                    id(self)
                except _TimeLimit:
                    pass

    def on_alarm(self, frame) -> None:
        """The interval timer fired in ``frame``: raise, and keep raising."""
        if not self.active:
            return
        if not self.expired:
            self.expired = True
            self._arm(frame)
        raise _TimeLimit

    def _arm(self, frame) -> None:
        if sys.version_info >= (3, 12):
            self._arm_monitoring()
            return
        try:
            import ctypes
        except ImportError:  # a Python without ctypes: the first raise only
            return
        setter = ctypes.PYFUNCTYPE(
            ctypes.c_int, ctypes.c_ulong, ctypes.py_object, ctypes.py_object,
            ctypes.py_object, ctypes.py_object,
        )(("PyThreadState_SetAsyncExc", ctypes.pythonapi))
        # Called as tracer(frame, event, arg): the two arguments bound here
        # come first and the C function ignores the three extra ones (every
        # C calling convention leaves extra arguments to the caller). The
        # thread id is read from the c_ulong at each call: 0 aims at no
        # thread, which disarms a trace function left in a frame.
        self.target = ctypes.c_ulong(self.thread_id)
        tracer = functools.partial(setter, self.target, _TimeLimit)
        setter.restype = {0: tracer, 1: tracer}.get  # the frame's trace function
        self._previous_trace = sys.gettrace()
        sys.settrace(tracer)
        while frame is not None and frame is not self.boundary:
            frame.f_trace = tracer
            self._traced.append(frame)
            frame = frame.f_back

    def _arm_monitoring(self) -> None:
        monitoring = sys.monitoring
        for tool in _MONITORING_TOOLS:
            if monitoring.get_tool(tool) is None:
                break
        else:
            return  # every tool id taken: the first raise only
        own = {_Stopper.call.__code__, _Stopper.disarm.__code__,
               _call_with_time_limit.__code__}

        def on_line(code, line):
            if not self.active or threading.get_ident() != self.thread_id:
                return None
            if code in own:
                return monitoring.DISABLE
            raise _TimeLimit

        monitoring.use_tool_id(tool, "conv1x1 time limit")
        self._tool = tool
        monitoring.register_callback(tool, monitoring.events.LINE, on_line)
        monitoring.set_events(tool, monitoring.events.LINE)

    def disarm(self) -> None:
        """Stop raising: remove the trace function or the monitoring callback."""
        self.active = False
        if self.target is not None:
            self.target.value = 0
            sys.settrace(self._previous_trace)
            for frame in self._traced:
                frame.f_trace = None
            self._traced.clear()
            self.target = None
        if self._tool is not None:
            monitoring = sys.monitoring
            monitoring.set_events(self._tool, 0)
            monitoring.register_callback(self._tool, monitoring.events.LINE, None)
            monitoring.free_tool_id(self._tool)
            self._tool = None


def _call_with_time_limit(fn, args, limit):
    """``fn(*args)``, or :class:`_TimeLimit` after ``limit`` seconds.

    In the main thread of a Unix process (where a Jupyter kernel runs a
    widget's callback) an interval timer raises inside ``fn`` when the time
    is up, and :class:`_Stopper` keeps raising until ``fn`` has left, so a
    learner's ``except:`` cannot hold it. A function that swallows every
    raise and returns late has still run out of time. Elsewhere ``fn`` runs
    in a daemon thread; when the time is up it is asked to stop and, if it
    does not, abandoned, still running.
    """
    if limit is None:
        return fn(*args)
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        stopper = _Stopper()

        def on_alarm(signum, frame):
            stopper.on_alarm(frame)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        started = time.monotonic()
        try:
            try:
                value = stopper.call(fn, args, limit)
            finally:
                # Python 3.10 raises a pending exception as a handler starts, so
                # the finally of stopper.call may have stopped at its first line.
                stopper.active = False
                if stopper.target is not None:
                    stopper.target.value = 0
                signal.setitimer(signal.ITIMER_REAL, 0)
                stopper.disarm()
        except BaseException:
            if stopper.expired:  # whatever it raised last, its time was up
                raise _TimeLimit from None
            raise
        finally:
            signal.signal(signal.SIGALRM, previous)
            outer = stopper.outer
            if outer[0] > 0:  # a timer set by someone else (pytest-timeout, say) goes on
                left = max(outer[0] - (time.monotonic() - started), 1e-3)
                signal.setitimer(signal.ITIMER_REAL, left, outer[1])
        if stopper.expired:  # it swallowed every raise and returned late
            raise _TimeLimit
        return value
    outcome = {}

    def run():
        try:
            outcome["value"] = fn(*args)
        except BaseException as err:  # reported by the caller
            outcome["error"] = err

    worker = threading.Thread(target=run, daemon=True, name="conv1x1-check")
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        _ask_to_stop(worker)
    if worker.is_alive():
        raise _TimeLimit("thread")
    if "error" in outcome and not isinstance(outcome["error"], _TimeLimit):
        raise outcome["error"]
    if "error" in outcome:
        raise _TimeLimit
    return outcome["value"]


def _ask_to_stop(worker, seconds: float = 0.5) -> None:
    """Raise :class:`_TimeLimit` in ``worker`` again and again, for ``seconds`` at most."""
    try:
        import ctypes
    except ImportError:
        return
    setter = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
        ("PyThreadState_SetAsyncExc", ctypes.pythonapi))
    deadline = time.monotonic() + seconds
    while worker.is_alive() and time.monotonic() < deadline:
        setter(worker.ident, _TimeLimit)
        worker.join(0.01)


def _library_folders() -> tuple[str, ...]:
    """Folders whose code is not the learner's: numpy, this package, Python's libraries."""
    folders = {os.path.dirname(np.__file__), os.path.dirname(os.path.dirname(__file__))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            folders.add(sysconfig.get_paths()[key])
        except KeyError:
            pass
    return tuple(os.path.join(os.path.realpath(f), "") for f in folders if f)


def _learner_frame(tb):
    """The last frame of a traceback that is in the learner's code, or None."""
    library = _library_folders()
    frames = traceback.extract_tb(tb)
    for frame in reversed(frames):
        path = os.path.realpath(frame.filename) if not frame.filename.startswith("<") \
            else frame.filename
        if not path.startswith(library):
            return frame
    return None


def run_learner(fn, args=(), *, limit: float | None, context: str = "",
                returns: str = "its result") -> tuple[object, str | None]:
    """Run a learner's ``fn(*args)`` with a time limit: ``(output, None)`` or ``(None, why)``.

    The one place where a checker runs a learner's code. Nothing escapes
    it: an endless loop is stopped after ``limit`` seconds, ``sys.exit()``
    and every other exception (even KeyboardInterrupt and GeneratorExit)
    come back as a message, which names the line of the learner's own code
    that raised.

    Args:
        fn: the learner's function (anything: a function that is not
            callable gets a message too).
        args: its positional arguments.
        limit: seconds it may run (None: no limit).
        context: words placed after the verdict, e.g. " on inputs of shapes
            (2, 3)".
        returns: what ``fn`` should return, for the message after ``sys.exit()``.
    """
    if not callable(fn):
        return None, (f"Expected a function; received {type(fn).__name__}. "
                      "Pass the function itself, without calling it.")
    try:
        return _call_with_time_limit(fn, tuple(args), limit), None
    except _TimeLimit as stop:
        unit = "second" if limit == 1 else "seconds"
        message = (f"Your function did not return within {limit:g} {unit}{context}, "
                   "so the check stopped it. Is there a loop that never ends?")
        if stop.args:
            message += (" It may still be running in the background; restart the "
                        "kernel if the notebook slows down.")
        return None, message
    except SystemExit:
        return None, ("Your function tried to stop Python (SystemExit, from "
                      f"sys.exit() or exit()){context}; it must return {returns} "
                      "instead.")
    except BaseException as err:  # noqa: B036 -- the learner's code may raise anything
        frame = _learner_frame(err.__traceback__)
        where = look = ""
        if frame is not None:
            where = f" (line {frame.lineno})"
            if (frame.line or "").strip():
                look = f" Look at line {frame.lineno} ({frame.line.strip()})."
        text = f": {err}" if str(err) else ""
        return None, (f"Your function raised {type(err).__name__}{text}{where}"
                      f"{context}.{look}")


def _describe_inputs(args) -> str:
    parts = []
    for a in args:
        shape = getattr(a, "shape", None)
        if shape is not None:
            parts.append(str(tuple(shape)))
        elif isinstance(a, (list, tuple)):
            parts.append(str(np.shape(a)) if all(_is_real_number(v) for v in a)
                         else type(a).__name__)
        else:
            parts.append(repr(a) if _is_real_number(a) else type(a).__name__)
    return ", ".join(parts)


def _copies(make_inputs, rng):
    """Fresh inputs from ``make_inputs(rng)``, and an independent copy of them."""
    state = rng.bit_generator.state
    args = make_inputs(rng)
    if isinstance(args, list):
        args = tuple(args)
    if not isinstance(args, tuple):
        raise ValueError(f"check_function: make_inputs must return a tuple of arguments; "
                         f"received {type(args).__name__}.")
    try:
        twin = copy.deepcopy(args)
    except Exception:  # objects that cannot be copied: draw the same inputs again
        again = type(rng)(type(rng.bit_generator)())
        again.bit_generator.state = state
        twin = tuple(make_inputs(again))
    return args, twin


def check_function(fn, reference: Callable, make_inputs: Callable, *,
                   trials: int = 5, seed: int = 0, rtol: float = 1e-5,
                   atol: float = 1e-6, time_limit: float | None | object = _AT_CHECK,
                   hint: str = "") -> Result:
    """Run a learner's function and a reference on random inputs and compare.

    Each trial draws new inputs with ``make_inputs`` and gives the learner's
    function and the reference their own deep copies, so a function that
    changes its arguments in place cannot change what the reference
    computes. Whatever the learner's function does (raises, calls
    ``sys.exit()``, never returns, returns None) comes back as a
    :class:`Result` whose message names the learner's own line.

    Args:
        fn: the learner's function.
        reference: a correct implementation with the same signature.
        make_inputs: ``make_inputs(rng) -> tuple`` of positional arguments;
            called once per trial with one seeded generator.
        trials: how many random cases to try, a whole number >= 1.
        seed: seed of the generator, so a check always tries the same cases.
        rtol, atol: tolerances of the comparison, as in :func:`check_array`.
        time_limit: seconds the learner's function may take on one case
            (None: no limit); by default :func:`time_limit`, read when the
            check runs.
        hint: returned with the result.

    Returns:
        A :class:`Result`, never an exception from ``fn``.

    Raises:
        ValueError: for a bad ``trials``, ``time_limit``, ``reference`` or
            ``make_inputs`` (mistakes of the exercise's author).
    """
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ValueError(f"check_function: trials must be a whole number >= 1; received "
                         f"{trials!r}.")
    if time_limit is _AT_CHECK:
        time_limit = _check_function_time_limit()
    if time_limit is not None and (not _is_real_number(time_limit)
                                   or not 0 < time_limit < math.inf):
        raise ValueError(f"check_function: time_limit must be a number of seconds > 0 "
                         f"or None; received {time_limit!r}.")
    if not callable(reference) or not callable(make_inputs):
        raise ValueError("check_function: reference and make_inputs must be functions.")
    if not callable(fn):
        return Result(False, run_learner(fn, limit=None)[1], hint)
    rng = np.random.default_rng(seed)
    for trial in range(int(trials)):
        args, reference_args = _copies(make_inputs, rng)
        shapes = _describe_inputs(args)
        expected = reference(*reference_args)
        got, failure = run_learner(fn, args, limit=time_limit,
                                   context=f" on inputs of shapes {shapes}",
                                   returns="an array")
        if failure:
            return Result(False, failure, hint)
        if got is None:
            return Result(False, "Your function returned None: is its return statement "
                                 "missing?", hint)
        result = check_array(got, expected, rtol=rtol, atol=atol)
        if not result.correct:
            return Result(False, f"Case {trial + 1} (inputs of shapes {shapes}): "
                                 f"{result.message}", hint)
    return Result(True, f"Correct on all {trials} random cases.", hint)


# --------------------------------------------------------------------------
# Widgets: they only display what a checker returns.

def _feedback_html(result: Result) -> str:
    import html

    colour = "#1a7f37" if result.correct else "#b42318"
    mark = "✔" if result.correct else "✘"
    return (f'<div class="exercise-feedback" style="color:{colour}">'
            f"{mark} {html.escape(result.message)}</div>")


def _run_check(check_callback) -> Result:
    """``check_callback()``, or a Result saying why it could not run.

    A widget's click handler must never raise: an exception there is lost
    in the kernel's log and the learner sees nothing change.
    """
    try:
        result = check_callback()
    except BaseException as err:  # noqa: B036 -- even SystemExit must not leave a click
        return Result(False, f"This answer could not be checked ({type(err).__name__}: "
                             f"{err}). Check its form against the question.")
    if not isinstance(result, Result):
        return Result(False, "This answer could not be checked: the checker returned "
                             f"{type(result).__name__}, not a Result.")
    return result


def _learner_namespace() -> dict:
    """The notebook's namespace: IPython's user namespace, else ``__main__``."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return shell.user_ns
    import sys

    return vars(sys.modules["__main__"])


_MISSING = object()


def exercise_widget(exercise, check_answer: Callable[[object], Result]):
    """The widget of one registered exercise: its controls, Check and Hint buttons.

    ``check_answer`` is called with the text typed, the option picked or, for a
    function exercise, the learner's function as it is defined in the notebook
    (IPython's user namespace) at the moment Check is pressed, so a function
    defined again in a later cell is the one checked.

    Every press of Check replaces the feedback, whatever happens: a checker
    that raises shows a message instead of the previous verdict, and nothing
    raises out of the click. Changing the answer clears the verdict. Hint
    shows the exercise's hints one at a time, gentle first; after the last
    one the button is disabled.
    """
    import html

    import ipywidgets as widgets

    feedback = widgets.HTML(value="")
    hint_box = widgets.HTML(value="")
    check_button = widgets.Button(description="Check", button_style="primary",
                                  icon="check")

    def clear(_change=None):
        feedback.value = ""

    if exercise.widget == "text":
        field = widgets.Text(description="Answer:", placeholder=exercise.placeholder,
                             continuous_update=False)
        field.observe(clear, names="value")
        controls = [field]

        def read():
            return field.value
    elif exercise.widget == "choice":
        radio = widgets.RadioButtons(options=list(exercise.options), value=None,
                                     layout=widgets.Layout(width="max-content"))
        radio.observe(clear, names="value")
        controls = [radio]

        def read():
            return radio.value
    else:
        name = exercise.function_name
        controls = [widgets.HTML(
            value=f"Define <code>{name}</code> in a cell, run it, then press Check.")]

        def read():
            return _learner_namespace().get(name, _MISSING)

    def checked() -> Result:
        answer = read()
        if answer is _MISSING:
            return Result(False, f"No function named {exercise.function_name} is "
                                 "defined yet: run the cell that defines it first.")
        return check_answer(answer)

    def on_check(_):
        clear()
        feedback.value = _feedback_html(_run_check(checked))

    check_button.on_click(on_check)
    buttons = [check_button]
    if exercise.hints:
        shown = []
        hint_button = widgets.Button(description="Hint", icon="lightbulb-o")

        def on_hint(_):
            if len(shown) < len(exercise.hints):
                shown.append(exercise.hints[len(shown)])
            hint_box.value = "".join(
                f"<div><i>Hint {i + 1} of {len(exercise.hints)}:</i> {html.escape(h)}</div>"
                for i, h in enumerate(shown))
            if len(shown) == len(exercise.hints):
                hint_button.disabled = True

        hint_button.on_click(on_hint)
        buttons.append(hint_button)
    box = widgets.VBox([*controls, widgets.HBox(buttons), feedback, hint_box])
    box.add_class("conv1x1-exercise")
    return box

"""Checking exercise answers, and the widgets that display the checks.

The checking logic is a set of plain functions that take the learner's
answer and return a :class:`Result` (correct, message, hint). They never
raise on a learner's input: text that is not a number, an empty field, an
array of the wrong shape or a function that crashes all come back as a
:class:`Result` whose message says what went wrong. Text is parsed, never
evaluated.

The widgets (:func:`answer_widget`, :func:`function_widget`) only display
what a checker returns, so every check can be tested without a browser.
A chapter builds a checker with :func:`functools.partial` or a small lambda
and hands it to a widget::

    check = functools.partial(check_number, expected=4160)
    answer_widget(check, hint="Count the bias too.")

Introduced in the chapter "The structure of a 1x1 convolution".
"""

from __future__ import annotations

import math
import re
import traceback
from dataclasses import dataclass
from typing import Callable, Sequence

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
    "answer_widget",
    "choice_widget",
    "function_widget",
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


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SUFFIXES = {"k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9}


def parse_number(text) -> float:
    """Parse a learner's number: ``"4160"``, ``"4,160"``, ``"1.5e6"``, ``"3.4M"``.

    Thousands separators (commas, underscores, spaces) are allowed, and so
    are the suffixes K, M and G (or B, for billion). Nothing is evaluated:
    ``"2*3"`` is rejected, not computed.

    Raises:
        ValueError: with a message meant for the learner.
    """
    if isinstance(text, bool):
        raise ValueError("Expected a number; received a yes/no value.")
    if isinstance(text, (int, float, np.integer, np.floating)):
        value = float(text)
    else:
        raw = str(text).strip()
        if not raw:
            raise ValueError("The answer is empty: type a number, e.g. 4160.")
        cleaned = re.sub(r"(?<=\d)[,_ ](?=\d{3})", "", raw)
        scale = 1.0
        if cleaned and cleaned[-1].lower() in _SUFFIXES:
            scale = _SUFFIXES[cleaned[-1].lower()]
            cleaned = cleaned[:-1].strip()
        if not _NUMBER.match(cleaned):
            raise ValueError(
                f"'{raw}' is not a number. Type digits only, e.g. 4160, 4,160, "
                "1.5e6 or 3.4M; expressions such as 2*3 are not evaluated."
            )
        value = float(cleaned) * scale
    if not math.isfinite(value):
        raise ValueError("Expected a finite number.")
    return value


def parse_shape(text) -> tuple[int, ...]:
    """Parse a shape such as ``"(1, 28, 28, 64)"``, ``"1 x 28 x 28 x 64"``.

    Raises:
        ValueError: with a message meant for the learner.
    """
    if isinstance(text, (tuple, list)):
        parts = [str(p) for p in text]
    else:
        raw = str(text).strip()
        if not raw:
            raise ValueError("The answer is empty: type a shape, e.g. (1, 28, 28, 64).")
        inner = raw.strip("()[] ")
        parts = [p for p in re.split(r"\s*[,x×*]\s*|\s+", inner) if p]
    if not parts:
        raise ValueError("Expected at least one dimension, e.g. (28, 28, 64).")
    dims = []
    for part in parts:
        if not re.fullmatch(r"\d+", part.strip()):
            raise ValueError(
                f"'{part}' is not a whole number. Write the shape as whole numbers "
                "separated by commas, e.g. (1, 28, 28, 64)."
            )
        dims.append(int(part))
    return tuple(dims)


def check_number(answer, expected: float, *, rel_tol: float = 1e-6,
                 abs_tol: float = 0.0, hint: str = "", unit: str = "") -> Result:
    """Check a numeric answer against ``expected`` within a tolerance."""
    try:
        value = parse_number(answer)
    except ValueError as err:
        return Result(False, str(err), hint)
    if math.isclose(value, expected, rel_tol=rel_tol, abs_tol=abs_tol):
        return Result(True, f"Correct: {expected:,.6g}{unit}.", hint)
    direction = "too large" if value > expected else "too small"
    message = f"Not quite: {value:,.6g}{unit} is {direction}."
    if value and expected:
        ratio = max(value / expected, expected / value)
        if ratio >= 2 and math.isclose(ratio, round(ratio), rel_tol=1e-9):
            message += (f" It is off by a factor of {round(ratio)}: is a term "
                        "missing or counted twice?")
    return Result(False, message, hint)


def check_shape(answer, expected: Sequence[int], *, hint: str = "") -> Result:
    """Check a shape answer such as ``"(1, 28, 28, 32)"``."""
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


def check_choice(answer, expected: str, options: Sequence[str], *,
                 explanations: dict | None = None, hint: str = "") -> Result:
    """Check a multiple-choice answer; ``explanations`` maps wrong options to why."""
    if answer is None or answer not in options:
        return Result(False, "Pick one of the options first.", hint)
    if answer == expected:
        return Result(True, f"Correct: {expected}.", hint)
    why = (explanations or {}).get(answer, "")
    return Result(False, f"Not {answer}. {why}".strip(), hint)


def check_array(answer, expected, *, rtol: float = 1e-5, atol: float = 1e-6,
                hint: str = "") -> Result:
    """Check an array answer: numeric, the right shape, the right values."""
    expected = np.asarray(expected)
    try:
        value = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        return Result(False, f"Expected an array of numbers; received "
                             f"{type(answer).__name__}.", hint)
    if value.shape != expected.shape:
        return Result(False, f"Expected an array of shape {expected.shape}; received "
                             f"shape {value.shape}.", hint)
    if not np.all(np.isfinite(value)):
        return Result(False, "The array contains NaN or infinite values.", hint)
    if np.allclose(value, expected, rtol=rtol, atol=atol):
        return Result(True, "Correct: every value matches.", hint)
    worst = float(np.max(np.abs(value - expected)))
    share = float(np.mean(~np.isclose(value, expected, rtol=rtol, atol=atol)))
    return Result(False, f"The shape is right but {share:.0%} of the values differ "
                         f"(largest difference {worst:.3g}).", hint)


def check_function(fn, reference: Callable, make_inputs: Callable, *,
                   trials: int = 5, seed: int = 0, rtol: float = 1e-5,
                   atol: float = 1e-6, hint: str = "") -> Result:
    """Run a learner's function and a reference on random inputs and compare.

    Args:
        fn: the learner's function.
        reference: a correct implementation with the same signature.
        make_inputs: ``make_inputs(rng) -> tuple`` of positional arguments;
            called ``trials`` times with one seeded generator.
        trials: how many random cases to try.
        seed: seed of the generator, so a check always tries the same cases.

    Returns:
        A :class:`Result`; a crash in ``fn`` is reported in its message
        with the last line of the traceback, never raised.
    """
    if not callable(fn):
        return Result(False, f"Expected a function; received {type(fn).__name__}. "
                             "Pass the function itself, without calling it.", hint)
    rng = np.random.default_rng(seed)
    for trial in range(trials):
        args = make_inputs(rng)
        shapes = ", ".join(str(np.shape(a)) for a in args)
        try:
            got = fn(*args)
        except Exception as err:  # the learner's code may raise anything
            where = traceback.extract_tb(err.__traceback__)[-1]
            return Result(False, f"Your function raised {type(err).__name__}: {err} "
                                 f"(line {where.lineno}) on inputs of shapes {shapes}.",
                          hint)
        result = check_array(got, reference(*args), rtol=rtol, atol=atol)
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


def _frame(check_callback, controls, *, hint: str, solution: str):
    import ipywidgets as widgets

    feedback = widgets.HTML(value="")
    extra = widgets.HTML(value="")
    check_button = widgets.Button(description="Check", button_style="primary",
                                  icon="check")
    buttons = [check_button]

    def on_check(_):
        result = check_callback()
        feedback.value = _feedback_html(result)

    check_button.on_click(on_check)
    if hint:
        hint_button = widgets.Button(description="Hint", icon="lightbulb-o")
        hint_button.on_click(lambda _: setattr(extra, "value", f"<i>Hint:</i> {hint}"))
        buttons.append(hint_button)
    if solution:
        reveal_button = widgets.Button(description="Reveal", icon="eye")
        reveal_button.on_click(
            lambda _: setattr(extra, "value", f"<i>Answer:</i> {solution}"))
        buttons.append(reveal_button)
    box = widgets.VBox([*controls, widgets.HBox(buttons), feedback, extra])
    box.add_class("conv1x1-exercise")
    return box


def answer_widget(check: Callable[[str], Result], *, description: str = "Answer:",
                  placeholder: str = "", hint: str = "", solution: str = ""):
    """A text field with Check, Hint and Reveal buttons over ``check(text)``."""
    import ipywidgets as widgets

    field = widgets.Text(description=description, placeholder=placeholder,
                         continuous_update=False)
    return _frame(lambda: check(field.value), [field], hint=hint, solution=solution)


def choice_widget(check: Callable[[str], Result], options: Sequence[str], *,
                  hint: str = "", solution: str = ""):
    """Radio buttons with Check, Hint and Reveal buttons over ``check(option)``."""
    import ipywidgets as widgets

    radio = widgets.RadioButtons(options=list(options), value=None,
                                 layout=widgets.Layout(width="max-content"))
    return _frame(lambda: check(radio.value), [radio], hint=hint, solution=solution)


def function_widget(check: Callable[[Callable], Result], fn: Callable, *,
                    hint: str = "", solution: str = ""):
    """A Check button that runs ``check(fn)`` on the learner's function."""
    import ipywidgets as widgets

    label = widgets.HTML(value=f"Checking <code>{getattr(fn, '__name__', 'function')}"
                               "</code> on random inputs.")
    return _frame(lambda: check(fn), [label], hint=hint, solution=solution)


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


def exercise_widget(exercise, check_answer: Callable[[object], Result]):
    """The widget of one registered exercise: controls, Check and Hint buttons.

    ``check_answer`` is called with the text typed, the option picked or, for a
    function exercise, the learner's function as it is defined in the notebook
    at the moment Check is pressed.
    """
    import html

    import ipywidgets as widgets

    feedback = widgets.HTML(value="")
    hint_box = widgets.HTML(value="")
    check_button = widgets.Button(description="Check", button_style="primary",
                                  icon="check")
    if exercise.widget == "text":
        field = widgets.Text(description="Answer:", placeholder=exercise.placeholder,
                             continuous_update=False)
        controls = [field]

        def read():
            return field.value
    elif exercise.widget == "choice":
        radio = widgets.RadioButtons(options=list(exercise.options), value=None,
                                     layout=widgets.Layout(width="max-content"))
        controls = [radio]

        def read():
            return radio.value
    else:
        name = exercise.function_name
        controls = [widgets.HTML(
            value=f"Define <code>{name}</code> in a cell, run it, then press Check.")]

        def read():
            namespace = _learner_namespace()
            if name not in namespace:
                return None
            return namespace[name]

    def on_check(_):
        answer = read()
        if exercise.widget == "function" and answer is None:
            result = Result(False, f"No function named {exercise.function_name} is "
                                   "defined yet: run the cell that defines it first.")
        else:
            result = check_answer(answer)
        feedback.value = _feedback_html(result)

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

        hint_button.on_click(on_hint)
        buttons.append(hint_button)
    box = widgets.VBox([*controls, widgets.HBox(buttons), feedback, hint_box])
    box.add_class("conv1x1-exercise")
    return box

"""Exercises: answer checking, the widget that displays it, and the questions.

The package has three layers, kept apart as in Kaggle's learntools:

* :mod:`conv1x1.exercises._core`: plain checking functions (``check_number``,
  ``check_shape``, ``check_choice``, ``check_array``, ``check_function``) that
  take a learner's answer and return a :class:`Result`. They never raise on a
  learner's input and never evaluate text.
* One module per chapter (``conv1x1.exercises.structure``, ...), each holding
  that chapter's :class:`Exercise` objects in a tuple ``EXERCISES``: the
  checker, the expected answer, hints from gentle to explicit and, for
  multiple choice, why each wrong option is wrong. The answers live here, out
  of the learner's sight.
* :func:`show` and :func:`check`, keyed by the label of the chapter's
  ``{exercise}`` block. A notebook shows a question's widget with one line,
  ``show("structure-ex-shape")``, and a worked solution runs its answer
  through the same checker with ``check("structure-ex-shape", answer)``.

The widget :func:`show` displays has a Check button (every press replaces
the verdict; nothing raises out of it) and a Hint button that shows the
hints one at a time. For a function exercise, Check looks the function up
by name in the notebook's namespace when it is pressed, so the learner's
latest definition is the one checked; the learner's function runs under
a time limit (:func:`time_limit` seconds, read when Check is pressed) that
holds whatever the function catches.

Numbers follow one rule: an answer is right when it is within the
exercise's tolerance, or when the exact answer rounds to it at the
precision the learner typed, with at least three significant figures
("1.229M" or "1,228,900 parameters" for 1,228,900; not "1M").

Introduced in the chapter "The structure of a 1x1 convolution".
"""

from __future__ import annotations

from conv1x1.exercises._core import (
    Result,
    check_array,
    check_choice,
    check_function,
    check_number,
    check_shape,
    parse_number,
    parse_shape,
    time_limit,
)
from conv1x1.exercises._registry import Exercise, KINDS, all_exercises, check, get, show

__all__ = [
    "Exercise",
    "KINDS",
    "Result",
    "all_exercises",
    "check",
    "check_array",
    "check_choice",
    "check_function",
    "check_number",
    "check_shape",
    "get",
    "parse_number",
    "parse_shape",
    "show",
    "time_limit",
]

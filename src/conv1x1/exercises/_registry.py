"""The exercises of every chapter, found by the label of their ``{exercise}`` block.

Each chapter has a module in this package named after its notebook
(``book/structure.ipynb`` -> ``conv1x1.exercises.structure``) with a tuple
``EXERCISES`` of :class:`Exercise`. Labels start with the chapter's name with
dashes (``structure-ex-shape``, ``dimensionality-reduction-ex-pca``), so a label
says where its question is.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from conv1x1.exercises._core import Result

#: What an exercise asks of the learner. A chapter keeps plain arithmetic to
#: at most half of its exercises.
KINDS = ("arithmetic", "predict", "design", "debug", "conceptual")

_LABEL = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*-ex-[a-z0-9]+(-[a-z0-9]+)*")

#: How the learner answers: a text field, one of several options, or a
#: function defined in the notebook and looked up by name when Check is pressed.
WIDGETS = ("text", "choice", "function")


@dataclass(frozen=True)
class Exercise:
    """One question: how to check it, and how to help.

    Attributes:
        label: the label of the ``{exercise}`` block, e.g. ``"structure-ex-shape"``.
        kind: one of :data:`KINDS`.
        check: a pure function ``check(answer) -> Result``. For a ``"text"``
            widget the answer is the text typed; for ``"choice"`` the option
            picked (or None); for ``"function"`` the learner's function.
        hints: from gentle to explicit; the Hint button shows the next one.
        widget: one of :data:`WIDGETS`.
        options: the options of a ``"choice"`` widget, in display order.
        function_name: for a ``"function"`` widget, the name of the learner's
            function in the notebook; it is looked up when Check is pressed,
            so the latest definition is the one checked.
        placeholder: grey text in an empty text field (a format, never the
            answer), e.g. ``"a shape such as (1, 2, 3)"``.
    """

    label: str
    kind: str
    check: Callable[[Any], Result]
    hints: tuple[str, ...] = ()
    widget: str = "text"
    options: tuple[str, ...] = ()
    function_name: str = ""
    placeholder: str = ""
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        if not isinstance(self.label, str) or not _LABEL.fullmatch(self.label):
            raise ValueError(
                f"Expected a label such as 'resnet-ex-budget' (the chapter's name with "
                f"dashes, '-ex-', a name); received {self.label!r}.")
        if not callable(self.check):
            raise ValueError(f"Exercise {self.label!r}: check must be a function; "
                             f"received {type(self.check).__name__}.")
        if (not isinstance(self.hints, tuple)
                or not all(isinstance(h, str) and h.strip() for h in self.hints)):
            raise ValueError(
                f"Exercise {self.label!r}: hints must be a tuple of non-empty strings, "
                f"gentle to explicit, e.g. ('first hint',); received {self.hints!r}.")
        if not isinstance(self.options, tuple) or not all(
                isinstance(o, str) for o in self.options):
            raise ValueError(f"Exercise {self.label!r}: options must be a tuple of "
                             f"strings; received {self.options!r}.")
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"Exercise {self.label!r}: two options are the same.")
        if self.kind not in KINDS:
            raise ValueError(f"Expected kind to be one of {KINDS}; received {self.kind!r}.")
        if self.widget not in WIDGETS:
            raise ValueError(
                f"Expected widget to be one of {WIDGETS}; received {self.widget!r}.")
        if self.widget == "choice" and len(self.options) < 2:
            raise ValueError(f"Exercise {self.label!r}: a choice needs two or more options.")
        if self.widget == "function" and not self.function_name.isidentifier():
            raise ValueError(
                f"Exercise {self.label!r}: a function exercise needs the function's "
                f"name; received {self.function_name!r}.")


def _chapter_modules():
    import conv1x1.exercises as package

    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{package.__name__}.{info.name}")


def all_exercises() -> dict[str, Exercise]:
    """Every chapter's exercises, keyed by label."""
    found: dict[str, Exercise] = {}
    for module in _chapter_modules():
        for exercise in getattr(module, "EXERCISES", ()):
            if exercise.label in found:
                raise ValueError(f"Exercise label {exercise.label!r} is defined twice.")
            found[exercise.label] = exercise
    return found


def get(label: str) -> Exercise:
    """The exercise with this label, or a ``ValueError`` naming the known ones."""
    exercises = all_exercises()
    if label not in exercises:
        chapter = str(label).split("-ex-")[0]
        near = sorted(name for name in exercises if name.startswith(chapter))
        raise ValueError(
            f"Expected the label of an exercise; received {label!r}. "
            f"Known labels{' in this chapter' if near else ''}: "
            f"{', '.join(near or sorted(exercises))}."
        )
    return exercises[label]


def check(label: str, answer) -> Result:
    """Check ``answer`` to the exercise ``label``; never raises on the answer."""
    exercise = get(label)
    try:
        return exercise.check(answer)
    except Exception as err:  # a checker must never show the learner a traceback
        return Result(False, f"This answer could not be checked ({type(err).__name__}: "
                             f"{err}). Check its form against the question.")


def show(label: str):
    """The widget of exercise ``label``: the one line under each question."""
    from conv1x1.exercises import _core

    return _core.exercise_widget(get(label), lambda answer: check(label, answer))

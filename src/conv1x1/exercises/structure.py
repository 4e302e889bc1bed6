"""Exercises of the chapter "The structure of a 1x1 convolution"."""

from __future__ import annotations

from conv1x1.exercises._core import check_shape
from conv1x1.exercises._registry import Exercise

EXERCISES = (
    Exercise(
        label="structure-ex-shape",
        kind="predict",
        check=lambda answer: check_shape(answer, (8, 14, 14, 32)),
        hints=("Which axes does a 1x1 convolution leave alone?",
               "Stride 2 keeps rows 0, 2, 4, ...: how many of 28 is that?"),
        placeholder="a shape such as (1, 2, 3, 4)",
    ),
)

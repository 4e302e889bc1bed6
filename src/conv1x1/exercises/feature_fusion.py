"""Exercises of the chapter "Feature fusion".

Five questions: a chroma value by hand, a fusion kernel that subtracts two
maps, what an addition followed by a 1x1 convolution cannot compute, a
prediction of what a layer learns from pixels in the wrong channel order,
and a concatenation that interleaves the channels.
"""

from __future__ import annotations

import numpy as np

from conv1x1.exercises._core import (
    Result,
    check_choice,
    check_function,
    check_number,
)
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# Arithmetic: Cr of pure yellow, (R, G, B) = (1, 1, 0), in the [0, 1] range.

CR_OF_YELLOW = 0.5 + 0.5 - 0.418688

# --------------------------------------------------------------------------
# Design: the (2c, c) kernel of a 1x1 convolution that computes A - B from
# the concatenation [A, B].


def reference_difference_kernel(c):
    """Identity rows for A, minus identity rows for B."""
    c = int(c)
    return np.vstack([np.eye(c), -np.eye(c)])


def difference_inputs(rng):
    return (int(rng.integers(1, 9)),)


def check_difference(fn) -> Result:
    """Compare the learner's ``difference_kernel(c)`` with the reference."""
    return check_function(fn, reference_difference_kernel, difference_inputs,
                          trials=5)


# --------------------------------------------------------------------------
# Conceptual: what Add, then a 1x1 convolution, cannot compute from fixed
# maps A and B.

EXPRESS_OPTIONS = ("3 (A + B)", "(A + B) / 2 + 1", "A + 2 B",
                   "(A + B) K for a matrix K")
EXPRESS_EXPLANATIONS = {
    EXPRESS_OPTIONS[0]: "That is the sum through a 1x1 convolution with "
                        "kernel 3 I and no bias.",
    EXPRESS_OPTIONS[1]: "That is the sum through a 1x1 convolution with "
                        "kernel I / 2 and bias 1.",
    EXPRESS_OPTIONS[3]: "That is the definition of a 1x1 convolution of the "
                        "sum, whatever K is.",
}

# --------------------------------------------------------------------------
# Predict: a Conv2D(1, 1) trained on BGR pixels to output RGB luma.

BGR_OPTIONS = (
    "(0.299, 0.587, 0.114): the luma weights",
    "(0.114, 0.587, 0.299): the luma weights in reverse order",
    "(1/3, 1/3, 1/3): it cannot tell the channels apart, so it averages",
    "None: the error stays large, because the target is not a weighted sum "
    "of the inputs",
)
BGR_EXPLANATIONS = {
    BGR_OPTIONS[0]: "The layer's first input is blue, not red: the weight it "
                    "learns for its first input is the weight luma gives blue.",
    BGR_OPTIONS[2]: "Every input channel has a weight of its own, and the "
                    "channels are different pictures: least squares finds the "
                    "exact weight of each.",
    BGR_OPTIONS[3]: "The target is still an exact weighted sum of the three "
                    "inputs, only in another order, so a 1x1 convolution can "
                    "fit it exactly.",
}

# --------------------------------------------------------------------------
# Find the bug: a concatenation that interleaves the two maps' channels.


def reference_fuse(a, b, kernel, bias):
    """Concatenate on the channel axis, A first, then a 1x1 convolution."""
    return np.concatenate([a, b], axis=-1) @ kernel + bias


def fuse_inputs(rng):
    n, h, w, c, c_out = (int(v) for v in rng.integers(2, 6, size=5))
    return (rng.normal(size=(n, h, w, c)), rng.normal(size=(n, h, w, c)),
            rng.normal(size=(2 * c, c_out)), rng.normal(size=(c_out,)))


def check_fuse(fn) -> Result:
    """Compare the learner's ``my_fuse`` with concatenate-then-1x1."""
    return check_function(fn, reference_fuse, fuse_inputs, trials=6)


EXERCISES = (
    Exercise(
        label="feature-fusion-ex-cr",
        kind="arithmetic",
        check=lambda answer: check_number(answer, CR_OF_YELLOW, rel_tol=1e-4),
        hints=("For pure yellow only the R and G rows of the kernel matter.",
               "Add the R and G entries of the Cr column, 0.5 and -0.418688, "
               "and do not forget the bias of Cr."),
        placeholder="a decimal number",
    ),
    Exercise(
        label="feature-fusion-ex-difference",
        kind="design",
        check=check_difference,
        widget="function",
        function_name="difference_kernel",
        hints=("The first c rows of the kernel act on A, the last c rows on "
               "B: [A, B] K = A K_A + B K_B.",
               "Choose K_A and K_B, two c x c matrices, so that "
               "A K_A + B K_B = A - B; np.eye(c) and np.vstack help."),
    ),
    Exercise(
        label="feature-fusion-ex-express",
        kind="conceptual",
        widget="choice",
        options=EXPRESS_OPTIONS,
        check=lambda answer: check_choice(answer, "A + 2 B", EXPRESS_OPTIONS,
                                          explanations=EXPRESS_EXPLANATIONS),
        hints=("After the addition, the layer sees only A + B: can it tell how "
               "much of a value came from B?",),
    ),
    Exercise(
        label="feature-fusion-ex-bgr",
        kind="predict",
        widget="choice",
        options=BGR_OPTIONS,
        check=lambda answer: check_choice(answer, BGR_OPTIONS[1], BGR_OPTIONS,
                                          explanations=BGR_EXPLANATIONS),
        hints=("Write the target in terms of the layer's inputs: input 0 is "
               "blue, input 1 green, input 2 red.",),
    ),
    Exercise(
        label="feature-fusion-ex-fuse",
        kind="debug",
        check=check_fuse,
        widget="function",
        function_name="my_fuse",
        hints=("Try it with c = 2 on maps you can read: a full of 1s and b "
               "full of 2s. Which channel of the stacked map holds what?",
               "np.stack(..., axis=-1) adds a new last axis: reshaping it "
               "away puts a's and b's channels in turns, a0, b0, a1, b1, ...",
               "np.concatenate([a, b], axis=-1) puts all of a's channels "
               "first, then b's, the order the kernel's rows expect."),
    ),
)

"""Exercises of the chapter "The structure of a 1x1 convolution".

Five questions: predict a shape, find the bug in a 1x1 convolution written
with a reshape, design a block under a parameter budget, the arithmetic of
a bottleneck, and what the input's size changes.
"""

from __future__ import annotations

import numpy as np

from conv1x1.exercises._core import (
    Result,
    check_choice,
    check_function,
    check_number,
    check_shape,
    run_learner,
    time_limit,
)
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# Find the bug: a 1x1 convolution through a reshape that mixes pixels.


def reference_pointwise(x, w, b):
    """The 1x1 convolution ``x @ w + b`` at every pixel, in float64."""
    return np.asarray(x, np.float64) @ np.asarray(w, np.float64) + b


def pointwise_inputs(rng):
    """Random ``(x, w, b)`` of a random shape, at least 2 pixels and channels."""
    n, h, w, c_in, c_out = (int(v) for v in rng.integers(2, 6, size=5))
    return (rng.normal(size=(n, h, w, c_in)), rng.normal(size=(c_in, c_out)),
            rng.normal(size=(c_out,)))


def check_pointwise(fn) -> Result:
    """Compare the learner's ``my_pointwise`` with ``x @ w + b`` on 8 cases."""
    return check_function(fn, reference_pointwise, pointwise_inputs, trials=8)


# --------------------------------------------------------------------------
# Design under a budget: 256 channels in and out, under 50,000 parameters.

BUDGET_INPUT = (14, 14, 256)
BUDGET_PARAMS = 50_000


#: Seconds ``my_block`` may take to build its block.
TIME_LIMIT_S = 30.0


def check_budget_block(fn) -> Result:
    """Build ``my_block`` on a (14, 14, 256) input and count its parameters."""
    import keras

    from conv1x1 import cost

    if not callable(fn):
        return Result(False, f"Expected the function my_block itself; received "
                             f"{type(fn).__name__}.")
    inputs = keras.Input(shape=BUDGET_INPUT)
    outputs, failure = run_learner(fn, (inputs,), limit=time_limit(TIME_LIMIT_S),
                                   returns="a Keras tensor")
    if failure:
        return Result(False, failure)
    if outputs is None:
        return Result(False, "my_block returned None: is its return statement "
                             "missing?")
    if not isinstance(outputs, keras.KerasTensor):
        return Result(False, "my_block must return the Keras tensor that its last "
                             f"layer gives; it returned {type(outputs).__name__}.")
    try:
        model = keras.Model(inputs, outputs)
    except Exception as err:  # e.g. an output not computed from this input
        reason = str(err).splitlines()[0][:200] if str(err) else ""
        return Result(False, "Keras could not make a model from x to the block's "
                             f"output ({type(err).__name__}: {reason}). Build "
                             "every layer on x, the tensor my_block receives, "
                             "and give layers distinct names, if any.")
    shape = tuple(outputs.shape)
    if shape != (None, *BUDGET_INPUT):
        return Result(False, f"The block must keep the map's shape: its output has "
                             f"shape {shape[1:]}, the input {BUDGET_INPUT}.")
    try:
        records = cost.layer_costs(model)
    except ValueError as err:
        return Result(False, f"The block uses a layer the course cannot count: {err}")
    params = model.count_params()
    spatial = [r for r in records if r.kind in ("conv", "depthwise")]
    if not spatial:
        return Result(False, f"The block has {params:,} parameters but no layer "
                             "that looks at neighbouring pixels: add a 3x3 "
                             "convolution.")
    if params >= BUDGET_PARAMS:
        return Result(False, f"The block has {params:,} parameters; the budget is "
                             f"under {BUDGET_PARAMS:,}. Make the layers around "
                             "the 3x3 convolution narrower.")
    macs = sum(r.macs for r in records)
    return Result(True, f"Correct: {params:,} parameters (a 3x3 convolution from "
                        f"256 to 256 channels has {cost.conv_params(256, 256, 3):,}) "
                        f"and {macs:,} MACs per image.")


# --------------------------------------------------------------------------
# Arithmetic: a bottleneck against one 3x3 layer between 256 channels.

SINGLE_MACS_PER_PIXEL = 9 * 256 * 256
BOTTLENECK_MACS_PER_PIXEL = 256 * 64 + 9 * 64 * 64 + 64 * 256

# --------------------------------------------------------------------------
# Conceptual: what doubling H and W changes.

SIZE_OPTIONS = (
    "Parameters and MACs both stay the same",
    "Parameters and MACs both grow fourfold",
    "Parameters stay the same; MACs grow fourfold",
    "Parameters stay the same; MACs double",
    "Parameters grow fourfold; MACs stay the same",
)
SIZE_EXPLANATIONS = {
    SIZE_OPTIONS[0]: "The weights stay the same, but they are used at every "
                     "pixel: more pixels, more multiply-accumulates.",
    SIZE_OPTIONS[1]: "The kernel is C_in x C_out whatever the map's size: the "
                     "same weights are shared by every pixel.",
    SIZE_OPTIONS[3]: "Doubling both the height and the width multiplies the "
                     "number of pixels by 2 x 2.",
    SIZE_OPTIONS[4]: "It is the other way round: the weights do not depend on "
                     "H and W, the work does.",
}

EXERCISES = (
    Exercise(
        label="structure-ex-shape",
        kind="predict",
        check=lambda answer: check_shape(answer, (8, 14, 14, 32)),
        hints=("Which axes does a 1x1 convolution leave alone?",
               "Stride 2 keeps rows 0, 2, 4, ...: how many of 28 is that?"),
        placeholder="a shape such as (1, 2, 3, 4)",
    ),
    Exercise(
        label="structure-ex-implement",
        kind="debug",
        check=check_pointwise,
        widget="function",
        function_name="my_pointwise",
        hints=("Try it on a tiny x you can read, x = np.arange(12.0).reshape("
               "1, 2, 2, 3), with w = np.eye(3) and b = np.zeros(3): an identity "
               "kernel should give x back.",
               "The channel axis is last, so in memory the C_in values of one "
               "pixel sit next to each other. Which reshape keeps them together "
               "in one row?",
               "x.reshape(n * h * w_, c_in) has one row per pixel; "
               "x.reshape(c_in, -1).T puts values of different pixels in a row."),
    ),
    Exercise(
        label="structure-ex-budget",
        kind="design",
        check=check_budget_block,
        widget="function",
        function_name="my_block",
        hints=("A 3x3 convolution between 256 channels alone has 590,080 "
               "parameters: the 3x3 layer must see fewer channels.",
               "Reduce the channels with a 1x1 convolution, apply the 3x3 "
               "convolution to the few channels, and expand back with another "
               "1x1 convolution.",
               "With d channels in the middle the block has about "
               "2 * 256 * d + 9 * d * d parameters: d = 64 is too many, "
               "d = 32 fits."),
    ),
    Exercise(
        label="structure-ex-macs",
        kind="arithmetic",
        check=lambda answer: check_number(
            answer, SINGLE_MACS_PER_PIXEL / BOTTLENECK_MACS_PER_PIXEL, rel_tol=0.01),
        hints=("The 14 x 14 is common to all terms and cancels.",
               "Compare 9 * 256 * 256 with 256 * 64 + 9 * 64 * 64 + 64 * 256."),
        placeholder="a decimal number, e.g. 2.5",
    ),
    Exercise(
        label="structure-ex-size",
        kind="conceptual",
        widget="choice",
        options=SIZE_OPTIONS,
        check=lambda answer: check_choice(answer, SIZE_OPTIONS[2], SIZE_OPTIONS,
                                          explanations=SIZE_EXPLANATIONS),
        hints=("Which of the two formulas, C_in C_out + C_out and "
               "H W C_in C_out, contains H and W?",),
    ),
)

"""Exercises of the chapter "Depth: stacking 1x1 convolutions".

Five questions: a parameter count (arithmetic), what batch normalization
between two 1x1 convolutions changes (conceptual), which rescalings of a
trained ReLU stack leave its function alone (predict), a bug in merging two
linear layers (debug), and a stack of 1x1 convolutions designed under a
budget of multiply-accumulates (design).

The design checker builds the learner's block on a symbolic input, with a
time limit (:func:`conv1x1.exercises._blocks.build_block`), and counts its
cost with :func:`conv1x1.cost.layer_costs`.
"""

from __future__ import annotations

import numpy as np

from conv1x1.exercises._core import (
    Result,
    check_choice,
    check_function,
    check_number,
    time_limit,
)
from conv1x1.exercises._blocks import build_block, count_nonlinearities
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# depth-ex-params: a head of three 1x1 convolutions, 64 -> 32 -> 32 -> 10.

HEAD_WIDTHS = (64, 32, 32, 10)
HEAD_PARAMS = sum(c_in * c_out + c_out
                  for c_in, c_out in zip(HEAD_WIDTHS, HEAD_WIDTHS[1:]))
HEAD_WEIGHTS = sum(c_in * c_out
                   for c_in, c_out in zip(HEAD_WIDTHS, HEAD_WIDTHS[1:]))


def _params_mistake(value: float) -> str | None:
    """The message for a known mistake, or None."""
    if value == HEAD_WEIGHTS:
        return (f"Not quite: {HEAD_WEIGHTS:,} counts the kernel "
                "weights only. Keras also counts one bias per "
                "output channel.")
    if value == HEAD_WEIGHTS * 8 * 8 or value == HEAD_PARAMS * 8 * 8:
        return ("Not quite: the spatial size does not enter. The "
                "same weights are used at every pixel.")
    return None


def _check_params(answer) -> Result:
    return check_number(answer, HEAD_PARAMS, mistakes=_params_mistake)


# --------------------------------------------------------------------------
# depth-ex-batchnorm: Conv2D(8, 1), BatchNormalization, Conv2D(4, 1).

BATCHNORM_OPTIONS = (
    "Nothing beyond one Conv2D(4, 1): at inference batch normalization is a "
    "fixed scale and shift per channel, so the three layers merge into one",
    "More: batch normalization divides by a standard deviation, and that "
    "division is a non-linearity",
    "More, but only what it learned in training: the batch statistics made "
    "it non-linear, and that survives into prediction",
    "Less: the 8 channels in the middle limit the merged kernel's rank to 8",
)


def _check_batchnorm(answer) -> Result:
    return check_choice(answer, BATCHNORM_OPTIONS[0], BATCHNORM_OPTIONS, explanations={
        BATCHNORM_OPTIONS[1]:
            "At inference the standard deviation is a stored number, the moving "
            "variance learned in training; it does not depend on the input. "
            "Dividing by a constant is linear.",
        BATCHNORM_OPTIONS[2]:
            "In training each batch is normalised with its own statistics, but "
            "prediction uses the moving averages, fixed numbers. What is left "
            "is one affine map per channel.",
        BATCHNORM_OPTIONS[3]:
            "A map from 3 to 4 channels has rank at most 3 anyway; a middle "
            "layer of 8 channels limits nothing here.",
    })


# --------------------------------------------------------------------------
# depth-ex-scale: scale the first layer of a trained ReLU stack by c and the
# second layer's kernel by 1/c.

SCALE_OPTIONS = (
    "for every c other than 0",
    "for every c > 0",
    "only for c = 1",
    "only for c = 1 and c = -1",
)


def _check_scale(answer) -> Result:
    return check_choice(answer, SCALE_OPTIONS[1], SCALE_OPTIONS, explanations={
        SCALE_OPTIONS[0]:
            "For c < 0 every pre-activation changes sign, and max(0, -z) is "
            "not -max(0, z): the units that were active switch off and the "
            "others switch on. That works without an activation, not with one.",
        SCALE_OPTIONS[2]:
            "For c > 0, max(0, c z) = c max(0, z): the factor passes through "
            "the ReLU, and the second layer's 1/c removes it.",
        SCALE_OPTIONS[3]:
            "c = -1 negates every pre-activation; the ReLU then keeps the "
            "other half of each unit's ramp, a different function.",
    })


# --------------------------------------------------------------------------
# depth-ex-merge: find and fix the bug in merging two 1x1 convolutions.

def reference_merge(kernel1, bias1, kernel2, bias2):
    """The single layer equal to two stacked 1x1 convolutions, bias as last row."""
    kernel1, kernel2 = np.asarray(kernel1), np.asarray(kernel2)
    return np.vstack([kernel1 @ kernel2, np.asarray(bias1) @ kernel2 + bias2])


def _merge_inputs(rng):
    c_in, c_mid, c_out = rng.integers(1, 7, size=3)
    return (rng.normal(size=(c_in, c_mid)), rng.normal(size=(c_mid,)),
            rng.normal(size=(c_mid, c_out)), rng.normal(size=(c_out,)))


def _check_merge(fn) -> Result:
    return check_function(fn, reference_merge, _merge_inputs, trials=8)


# --------------------------------------------------------------------------
# depth-ex-budget: three or more non-linear 1x1 layers on NIN's 16x16x192
# map, for at most half the MACs of NIN's two 192 -> 192 layers.

BUDGET_SHAPE = (16, 16, 192)
NIN_PAIR_MACS = 2 * 16 * 16 * 192 * 192
BUDGET_MACS = NIN_PAIR_MACS // 2
MIN_NONLINEAR_LAYERS = 3

#: Seconds a learner's function may take before the check gives up.
TIME_LIMIT_S = 20.0


def _check_budget(fn) -> Result:
    built, failure = build_block(fn, BUDGET_SHAPE, limit=time_limit(TIME_LIMIT_S))
    if failure:
        return Result(False, failure)
    if built.output_shape != (None, *BUDGET_SHAPE):
        return Result(False, f"The output has shape {built.output_shape}; it must keep "
                             f"the input's shape {(None, *BUDGET_SHAPE)}.")
    model, records = built.model, built.records
    others = sorted({r.name for r in records if r.macs and r.kind != "pointwise"})
    if others:
        return Result(False, "Use 1x1 convolutions only; these layers are not: "
                             f"{', '.join(others)}.")
    pointwise = sum(r.kind == "pointwise" for r in records)
    nonlinear = count_nonlinearities(model)
    if pointwise < MIN_NONLINEAR_LAYERS or nonlinear < MIN_NONLINEAR_LAYERS:
        return Result(False, f"Your block has {pointwise} 1x1 convolution"
                             f"{'' if pointwise == 1 else 's'} and {nonlinear} "
                             f"non-linearit{'y' if nonlinear == 1 else 'ies'}; "
                             "it needs at least "
                             f"{MIN_NONLINEAR_LAYERS} of each (a ReLU after "
                             "each 1x1 convolution).")
    macs = built.macs
    if macs > BUDGET_MACS:
        return Result(False, f"Your block costs {macs:,} MACs, over the budget "
                             f"of {BUDGET_MACS:,}. Narrow the layers inside.")
    return Result(True, f"Correct: {pointwise} 1x1 convolutions, {nonlinear} "
                        f"non-linearities, {macs:,} MACs ({macs / NIN_PAIR_MACS:.0%} "
                        "of NIN's two 192 -> 192 layers).")


EXERCISES = (
    Exercise(
        label="depth-ex-params",
        kind="arithmetic",
        check=_check_params,
        hints=("Count layer by layer: how many weights and how many biases "
               "does a 1x1 convolution from C_in to C_out channels have?",
               "Each layer has C_in * C_out weights and C_out biases; the "
               "spatial size of the feature map does not matter.",
               "Add 64 * 32 + 32, 32 * 32 + 32 and 32 * 10 + 10."),
        placeholder="a whole number",
    ),
    Exercise(
        label="depth-ex-batchnorm",
        kind="conceptual",
        check=_check_batchnorm,
        widget="choice",
        options=BATCHNORM_OPTIONS,
        hints=("Write what batch normalization computes at prediction for one "
               "channel: gamma (h - mean) / sqrt(variance + eps) + beta. Which "
               "of these numbers depend on the input?",
               "A fixed scale and shift per channel is a diagonal matrix and a "
               "bias: put it between the two kernels of the collapse equation."),
    ),
    Exercise(
        label="depth-ex-scale",
        kind="predict",
        check=_check_scale,
        widget="choice",
        options=SCALE_OPTIONS,
        hints=("Follow one hidden unit: its pre-activation z becomes c z, the "
               "ReLU gives max(0, c z), and the second layer divides by c.",
               "Compare max(0, c z) with c max(0, z) for c = 2 and for c = -1."),
    ),
    Exercise(
        label="depth-ex-merge",
        kind="debug",
        check=_check_merge,
        widget="function",
        function_name="merge",
        hints=("The author's test had 8 -> 8 -> 8 layers and zero biases. Try "
               "3 -> 5 -> 2 layers with random biases.",
               "Expand (x K1 + b1) K2 + b2 and collect the terms without x: "
               "which kernel does b1 pass through?",
               "The merged bias is b1 @ K2 + b2; the merged kernel is right."),
    ),
    Exercise(
        label="depth-ex-budget",
        kind="design",
        check=_check_budget,
        widget="function",
        function_name="my_stack",
        hints=("A 1x1 layer from a to b channels costs 16 * 16 * a * b MACs "
               "here; the first and last layers must read and write 192 "
               "channels.",
               "Go in and out of a narrower width d: 192 -> d -> d -> 192 costs "
               "256 * (2 * 192 * d + d * d) MACs.",
               "d = 64 costs 7,340,032 MACs: three Conv2D layers with "
               "kernel_size=1 and activation='relu', widths 64, 64, 192."),
    ),
)

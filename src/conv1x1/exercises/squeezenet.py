"""Exercises of the chapter "SqueezeNet: fire modules".

Five questions: the parameters of a fire module that is not in SqueezeNet
(arithmetic), the MACs of SqueezeNet v1.0 on an image twice as wide
(predict, then run), a fire-style block designed under a parameter budget
(design), a fire module whose 3x3 branch reads the wrong tensor (debug), and
where SqueezeNet v1.1's saving comes from (conceptual).

The design and debug checkers build the learner's block on a symbolic input,
with a time limit, and count it with :mod:`conv1x1.cost`.
"""

from __future__ import annotations

import math

import numpy as np

from conv1x1.exercises._blocks import build_block, spatial_layers
from conv1x1.exercises._core import (
    Result,
    check_choice,
    check_number,
    parse_number,
)
from conv1x1.exercises._registry import Exercise


def fire_params(c_in: int, s: int, e1: int, e3: int) -> int:
    """Parameters of a fire module, biases included (the chapter's formula)."""
    return (c_in + 1) * s + (s + 1) * e1 + (9 * s + 1) * e3


# --------------------------------------------------------------------------
# squeezenet-ex-fire: a fire module with s = 24, e1 = e3 = 96 on 192 channels.

FIRE = (192, 24, 96, 96)
FIRE_PARAMS = fire_params(*FIRE)
FIRE_WEIGHTS = 192 * 24 + 24 * 96 + 9 * 24 * 96


def _fire_mistake(value: float) -> str | None:
    """The message for a known mistake, or None."""
    c_in, s, e1, e3 = FIRE
    if value == FIRE_WEIGHTS:
        return (f"Not quite: {FIRE_WEIGHTS:,} counts the weights "
                "only. Every convolution of a fire module has a "
                "bias per filter.")
    if value == fire_params(c_in, s, e1 + e3, 0):
        return ("Not quite: that treats all expand filters as "
                "1x1. Half of them are 3x3, with 9 weights per "
                "squeezed channel.")
    if value == (c_in + 1) * s + (c_in + 1) * e1 + (9 * c_in + 1) * e3:
        return ("Not quite: the expand filters read the squeezed "
                f"map, {s} channels, not the {c_in} input "
                "channels.")
    return None


def _check_fire(answer) -> Result:
    return check_number(answer, FIRE_PARAMS, mistakes=_fire_mistake)


# --------------------------------------------------------------------------
# squeezenet-ex-input: v1.0's MACs on a 454x454 image, relative to 227x227.

def v1_0_macs(size: int) -> int:
    """SqueezeNet v1.0's MACs for a size x size x 3 image, "valid" padding."""
    fires = [(16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
             (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)]

    def valid(n, k, stride):
        return (n - k) // stride + 1

    side = valid(size, 7, 2)
    macs = side * side * 7 * 7 * 3 * 96
    side = valid(side, 3, 2)
    c_in = 96
    for i, (s, e1, e3) in enumerate(fires):
        macs += side * side * (c_in * s + s * e1 + 9 * s * e3)
        c_in = e1 + e3
        if i in (2, 6):                      # pooling after fire4 and fire8
            side = valid(side, 3, 2)
    return macs + side * side * c_in * 1000


INPUT_RATIO = v1_0_macs(454) / v1_0_macs(227)


def _check_input(answer) -> Result:
    result = check_number(answer, INPUT_RATIO, rel_tol=0, abs_tol=0.06)
    if result.correct:
        return Result(True, f"Correct: {INPUT_RATIO:.2f} times the MACs. Every "
                            "layer's cost is proportional to its output map's "
                            "area, and the areas grow about fourfold.")
    try:
        value = parse_number(answer)
    except ValueError:
        return result
    if math.isclose(value, 1, abs_tol=0.05):
        return Result(False, "Not quite: the parameters stay the same (the "
                             "network is fully convolutional), but every "
                             "weight is used at more positions.")
    if math.isclose(value, 2, abs_tol=0.15):
        return Result(False, "Not quite: twice the width is also twice the "
                             "height. A layer's MACs are proportional to the "
                             "area of its output map.")
    if math.isclose(value, 4, abs_tol=0.05):
        return Result(False, "Close: four times the area is the right idea, "
                             "but 'valid' padding loses a fixed border in every "
                             "layer, so the small image loses a larger share "
                             "of its map. The ratio is a little more than 4: "
                             "give it to one decimal.")
    return Result(False, f"{result.message} Think of how the area of every "
                         "map changes, and what 'valid' padding does at the "
                         "borders.")


# --------------------------------------------------------------------------
# squeezenet-ex-budget: 28x28x256 -> 28x28x256 with a 3x3 convolution, in at
# most 40,000 parameters.

BUDGET_SHAPE = (28, 28, 256)
BUDGET_PARAMS = 40_000


def _check_budget(fn) -> Result:
    built, failure = build_block(fn, BUDGET_SHAPE)
    if failure:
        return Result(False, failure)
    if built.output_shape != (None, *BUDGET_SHAPE):
        return Result(False, f"The output has shape {built.output_shape}; it "
                             f"must be {(None, *BUDGET_SHAPE)}: the same map, "
                             "256 channels.")
    if not spatial_layers(built.model):
        return Result(False, "Your block has no 3x3 convolution, so it never "
                             "looks at neighbouring pixels. Include at least "
                             "one layer with kernel_size=3.")
    if built.params > BUDGET_PARAMS:
        return Result(False, f"Your block has {built.params:,} parameters, "
                             f"over the budget of {BUDGET_PARAMS:,}. Squeeze "
                             "harder before the 3x3 filters, or make fewer of "
                             "them 3x3.")
    return Result(True, f"Correct: {built.params:,} parameters and "
                        f"{built.macs:,} MACs, 3x3 layer(s): "
                        f"{', '.join(spatial_layers(built.model))}.")


# --------------------------------------------------------------------------
# squeezenet-ex-bug: the 3x3 expand branch reads x instead of the squeeze.

BUG_CASES = ((55, 55, 96, 16, 64, 64), (13, 13, 20, 3, 5, 7),
             (8, 6, 6, 2, 3, 1))


def _check_bug(fn) -> Result:
    for height, width, c_in, s, e1, e3 in BUG_CASES:
        case = (f"on a {height}x{width}x{c_in} input with s={s}, e1={e1}, "
                f"e3={e3}")
        built, failure = build_block(fn, (height, width, c_in), s, e1, e3)
        if failure:
            return Result(False, f"{failure} ({case})")
        if built.output_shape != (None, height, width, e1 + e3):
            return Result(False, f"The output has shape {built.output_shape} "
                                 f"{case}; a fire module keeps the map and "
                                 f"outputs e1 + e3 = {e1 + e3} channels.")
        expected = fire_params(c_in, s, e1, e3)
        if built.params != expected:
            return Result(False, f"Your module has {built.params:,} "
                                 f"parameters {case}; a fire module has "
                                 f"{expected:,}. Which tensor does each "
                                 "branch read?")
        why = _compare_with_fire(built.model, (height, width, c_in), s, e1, e3)
        if why:
            return Result(False, f"{why} ({case})")
    return Result(True, "Correct: the right shape, parameter count and output "
                        f"in all {len(BUG_CASES)} cases.")


def _compare_with_fire(model, shape, s, e1, e3) -> str:
    """What differs between ``model`` and a fire module with its weights, or ""."""
    import tensorflow as tf

    kernels = {}
    for layer in model.layers:
        weights = layer.get_weights()
        if weights and len(weights[0].shape) == 4:
            kernels[tuple(weights[0].shape)] = (weights[0], weights[1] if len(
                weights) > 1 else np.zeros(weights[0].shape[-1], np.float32))
    c_in = shape[-1]
    wanted = ((1, 1, c_in, s), (1, 1, s, e1), (3, 3, s, e3))
    if any(k not in kernels for k in wanted):
        return ("Your module's convolutions are not a 1x1 squeeze and 1x1 and "
                "3x3 expands of the expected sizes")
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)

    def conv(t, key):
        kernel, bias = kernels[key]
        return tf.nn.relu(tf.nn.conv2d(t, kernel, 1, "SAME") + bias)

    squeeze = conv(x, wanted[0])
    left, right = conv(squeeze, wanted[1]), conv(squeeze, wanted[2])
    got = np.asarray(model(x), dtype=np.float64)
    if np.allclose(got, np.concatenate([left, right], axis=-1), atol=1e-4):
        return ""
    if np.allclose(got, np.concatenate([right, left], axis=-1), atol=1e-4):
        return ("Your branches are concatenated 3x3 first; a fire module puts "
                "the 1x1 expand's channels first")
    return ("Your module has the parameters of a fire module but computes "
            "something else: every convolution of a fire module, the squeeze "
            "and both expands, ends in a ReLU")


# --------------------------------------------------------------------------
# squeezenet-ex-v11: where does v1.1's saving come from?

V11_OPTIONS = (
    "Moving the poolings earlier, so that fire2 to fire9 work on smaller maps",
    "The smaller conv1: 64 filters of 3x3 instead of 96 of 7x7",
    "Fewer parameters: v1.1 has about 13,000 fewer than v1.0",
    "Leaving out layers: v1.1 has fewer fire modules",
)


def _check_v11(answer) -> Result:
    return check_choice(answer, V11_OPTIONS[0], V11_OPTIONS, explanations={
        V11_OPTIONS[1]:
            "conv1 costs a fifth of v1.0's MACs, and the smaller conv1 alone "
            "brings 833M down to 687M, 1.2 times fewer. Moving the poolings "
            "alone brings it to 503M, 1.65 times fewer.",
        V11_OPTIONS[2]:
            "1% fewer parameters cannot give 2.4 times fewer MACs. A weight "
            "costs one MAC per position of its layer's output map: what "
            "matters is how large the maps are where the weights sit.",
        V11_OPTIONS[3]:
            "Both versions have the same eight fire modules, with the same "
            "widths, fire2 to fire9.",
    })


EXERCISES = (
    Exercise(
        label="squeezenet-ex-fire",
        kind="arithmetic",
        check=_check_fire,
        hints=("Count the three convolutions one by one; each has a bias per "
               "filter.",
               "The squeeze layer reads the 192 input channels; both expand "
               "layers read the 24 squeezed channels.",
               "(192 + 1) * 24 + (24 + 1) * 96 + (9 * 24 + 1) * 96."),
        placeholder="a whole number",
    ),
    Exercise(
        label="squeezenet-ex-input",
        kind="predict",
        check=_check_input,
        hints=("Do the parameters change? Does the number of positions at "
               "which each weight is used change?",
               "Twice the width and twice the height: about four times the "
               "positions in every layer. 'Valid' padding makes it a little "
               "more than four."),
        placeholder="a decimal number, e.g. 1.5",
    ),
    Exercise(
        label="squeezenet-ex-budget",
        kind="design",
        check=_check_budget,
        widget="function",
        function_name="my_fire",
        hints=("fire5, (32, 128, 128) on 256 channels, has 49,440 "
               "parameters: too many.",
               "The 3x3 filters cost 9 * s weights each: lower the squeeze "
               "width s, or make fewer of the 256 expand filters 3x3.",
               "For example squeeze to 24, then 128 1x1 and 128 3x3 filters "
               "(37,144 parameters), or squeeze to 32, then 192 1x1 and 64 "
               "3x3 filters (33,056)."),
    ),
    Exercise(
        label="squeezenet-ex-bug",
        kind="debug",
        check=_check_bug,
        widget="function",
        function_name="my_fire_fixed",
        hints=("The module builds and its output has the right shape. Count "
               "its parameters and compare with the fire module's formula.",
               "Which tensor does each expand branch read? Both should read "
               "the squeezed map.",
               "The 3x3 branch is called on x; call it on the squeeze layer's "
               "output."),
    ),
    Exercise(
        label="squeezenet-ex-v11",
        kind="conceptual",
        check=_check_v11,
        widget="choice",
        options=V11_OPTIONS,
        hints=("A layer's MACs are its weights times the area of its output "
               "map.",
               "Most of v1.0's MACs are in the fire modules at 55x55 and "
               "27x27. Which change shrinks those maps?"),
    ),
)

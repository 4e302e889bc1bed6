"""Exercises of the chapter "Squeeze-and-excitation: channel attention".

Three questions: the parameters of one SE block as Keras counts them
(arithmetic), a block that forgot to pool (debug: the learner writes the
fixed function), and what SE-PRE adds to ResNet-50 as a share of what the
standard placement adds (conceptual).

The debug checker builds the learner's block on a symbolic input, runs it
on random maps and tests what channel attention must satisfy: one gate per
image and channel, the same at every pixel, between 0 and 1, and depending
on the image.
"""

from __future__ import annotations

import numpy as np

from conv1x1.exercises._blocks import build_block
from conv1x1.exercises._core import Result, check_choice, check_number
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# squeeze-excitation-ex-block-params: one SE block on 2048 channels, r = 16.

BLOCK_CHANNELS, BLOCK_RATIO = 2048, 16
_REDUCED = BLOCK_CHANNELS // BLOCK_RATIO
BLOCK_WEIGHTS = 2 * BLOCK_CHANNELS * _REDUCED
BLOCK_PARAMS = BLOCK_WEIGHTS + _REDUCED + BLOCK_CHANNELS


def _block_params_mistake(value: float) -> str | None:
    """The message for a known mistake, or None."""
    if value != round(value):
        return "Not quite: a parameter count is a whole number; give it exactly."
    if value == BLOCK_WEIGHTS:
        return (f"Not quite: {BLOCK_WEIGHTS:,} counts the two kernels "
                "only. Keras also counts one bias per output of each "
                "fully connected layer.")
    if value == BLOCK_WEIGHTS // 2 or value == BLOCK_WEIGHTS // 2 + _REDUCED:
        return ("Not quite: that is one fully connected layer. The "
                "block has two, C -> C/r and C/r -> C.")
    if value in (7 * 7 * BLOCK_PARAMS, 7 * 7 * BLOCK_WEIGHTS,
                 14 * 14 * BLOCK_PARAMS, 14 * 14 * BLOCK_WEIGHTS):
        return ("Not quite: the map's size does not enter. The fully "
                "connected layers act on the pooled vector.")
    return None


def _check_block_params(answer) -> Result:
    # A count is a whole number: no relative tolerance, so 526464.4 is wrong.
    return check_number(answer, BLOCK_PARAMS, rel_tol=0.0, abs_tol=0.01,
                        mistakes=_block_params_mistake)


# --------------------------------------------------------------------------
# squeeze-excitation-ex-fix: a block that applies Dense to the 4-D map.

#: Input of the debug check: (height, width, channels), and the ratio passed.
FIX_SHAPE, FIX_RATIO = (5, 6, 16), 4

#: Seconds the learner's function may take to build its block.
TIME_LIMIT_S = 20.0


#: A second ratio the block is built with: its parameters must follow ``ratio``.
FIX_OTHER_RATIO = 2


def _build(fn, ratio=FIX_RATIO):
    """``(model, "")`` from the learner's ``fn(x, ratio)``, or ``(None, why)``."""
    built, failure = build_block(fn, FIX_SHAPE, ratio, limit=TIME_LIMIT_S)
    if failure:
        return None, failure
    if built.output_shape != (None, *FIX_SHAPE):
        return None, (f"The block's output has shape {built.output_shape}; an SE "
                      f"block keeps its input's shape {(None, *FIX_SHAPE)}.")
    return built.model, ""


def gates_of(model, x) -> np.ndarray:
    """The factors the block multiplied ``x`` by: ``model(x) / x``."""
    y = np.asarray(model(x, training=False), dtype=np.float64)
    return y / np.asarray(x, dtype=np.float64)


def _bottleneck_is_linear(model, rng) -> bool:
    """Whether the gates' logits are an affine function of the pooled vector.

    Two maps that differ from a third by +c and -c per channel pool to
    z0 + c and z0 - c. An affine logit at z0 is then the mean of the logits
    at the two; a ReLU between the layers breaks that as soon as one of its
    units changes sign, which random shifts of this size make certain.
    """
    base = (rng.uniform(0.5, 1.5, (16, *FIX_SHAPE))
            * rng.choice([-1.0, 1.0], (16, *FIX_SHAPE)))
    shift = rng.uniform(-0.4, 0.4, (16, 1, 1, FIX_SHAPE[-1]))

    middle = _logits(model, base)
    mean = (_logits(model, base + shift) + _logits(model, base - shift)) / 2
    return bool(np.max(np.abs(middle - mean)) < 1e-3)


def _logits(model, x) -> np.ndarray:
    """The gates' logits, log(s / (1 - s)), one row per image."""
    gates = np.clip(gates_of(model, x.astype(np.float32))[:, 0, 0, :], 1e-7, 1 - 1e-7)
    return np.log(gates / (1 - gates))


def _logits_scale_with_the_input(model, rng) -> bool:
    """Whether doubling the input doubles the logits, as ReLU then a linear layer do.

    A freshly built block has zero biases, so an SE excitation,
    ``W2 relu(W1 z)``, is positively homogeneous in the pooled vector ``z``;
    a sigmoid (or any other squashing) in the bottleneck is not.
    """
    x = (rng.uniform(0.5, 1.5, (16, *FIX_SHAPE))
         * rng.choice([-1.0, 1.0], (16, *FIX_SHAPE)))
    return bool(np.allclose(_logits(model, 2 * x), 2 * _logits(model, x), atol=1e-3))


def _check_fix(fn) -> Result:
    from conv1x1.squeeze_excitation import se_params

    model, failure = _build(fn)
    if failure:
        return Result(False, failure)
    rng = np.random.default_rng(0)
    # Values away from zero, of both signs, so that y / x is well defined.
    x = (rng.uniform(0.5, 1.5, (4, *FIX_SHAPE))
         * rng.choice([-1.0, 1.0], (4, *FIX_SHAPE))).astype(np.float32)
    try:
        gates = gates_of(model, x)
    except Exception as err:
        return Result(False, f"Running your block failed ({type(err).__name__}: "
                             f"{err}).")
    if not np.all(np.isfinite(gates)):
        return Result(False, "Your block's output contains NaN or infinite values.")
    spread = np.ptp(gates, axis=(1, 2))
    if np.max(spread) > 1e-4:
        return Result(False, "Your block multiplies the pixels of one channel by "
                             f"different factors (they differ by up to "
                             f"{np.max(spread):.3g}): it gates every pixel "
                             "separately. Channel attention has one gate per "
                             "channel, computed from the pooled map.")
    per_channel = gates[:, 0, 0, :]
    if np.any(per_channel <= 0) or np.any(per_channel >= 1):
        return Result(False, "Your block's factors are not all between 0 and 1: "
                             "is the sigmoid missing from the last layer?")
    if np.max(np.ptp(per_channel, axis=0)) < 1e-6:
        return Result(False, "Your block multiplies every image by the same "
                             "factors: the gates must be computed from the image.")
    params = int(model.count_params())
    expected = se_params(FIX_SHAPE[-1], FIX_RATIO)
    if params != expected:
        return Result(False, f"Your block gates channels, but has {params:,} "
                             f"parameters; an SE block on {FIX_SHAPE[-1]} channels "
                             f"with r = {FIX_RATIO} has {expected:,} (two fully "
                             "connected layers with biases, C -> C/r -> C).")
    other, failure = _build(fn, FIX_OTHER_RATIO)
    if failure:
        return Result(False, failure)
    expected = se_params(FIX_SHAPE[-1], FIX_OTHER_RATIO)
    if int(other.count_params()) != expected:
        return Result(False, f"With ratio={FIX_OTHER_RATIO} your block has "
                             f"{int(other.count_params()):,} parameters instead of "
                             f"{expected:,}: the bottleneck's width must be "
                             "channels // ratio, with the ratio passed in.")
    if _bottleneck_is_linear(model, rng):
        return Result(False, "Your gates are a sigmoid of an affine function of "
                             "the pooled vector: the bottleneck has no "
                             "non-linearity. SE puts a ReLU after the first "
                             "fully connected layer.")
    if not _logits_scale_with_the_input(model, rng):
        return Result(False, "Your gates do not follow SE's excitation: with a "
                             "ReLU between the two fully connected layers (whose "
                             "biases start at zero), doubling the input doubles "
                             "every gate's logit, and yours do not. Is the first "
                             "layer's activation a ReLU, and only the last one a "
                             "sigmoid?")
    return Result(True, "Correct: one gate per image and channel, the same at "
                        f"every pixel, between 0 and 1, and {params:,} "
                        "parameters, as in an SE block.")


def reference_fix(x, ratio):
    """The fixed block: pool first, then the two fully connected layers."""
    import keras

    channels = x.shape[-1]
    s = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    s = keras.layers.Dense(channels // ratio, activation="relu")(s)
    s = keras.layers.Dense(channels, activation="sigmoid")(s)
    return keras.layers.Multiply()([x, s])


# --------------------------------------------------------------------------
# squeeze-excitation-ex-pre: SE-PRE against the standard placement in
# ResNet-50.

PRE_OPTIONS = ("about 25%", "about 50%", "about 79%", "100%, the same")


def _check_pre(answer) -> Result:
    return check_choice(answer, PRE_OPTIONS[2], PRE_OPTIONS, explanations={
        PRE_OPTIONS[0]:
            "A quarter is what one projecting unit keeps: its input has half "
            "the channels of its output, and an SE block's parameters go with "
            "the square of its channels. But only the first unit of each stage "
            "projects; the other twelve units keep their shape and cost the "
            "same in either place.",
        PRE_OPTIONS[1]:
            "Halving the channels does not halve an SE block: its two layers "
            "have C * C/r weights each, so half the channels keep a quarter of "
            "them. And only the first unit of each stage sees fewer channels.",
        PRE_OPTIONS[3]:
            "That holds for the units whose input and output have the same "
            "channels. The first unit of every stage receives fewer channels "
            "than it puts out (64 -> 256, 256 -> 512, 512 -> 1024, "
            "1024 -> 2048).",
    })


EXERCISES = (
    Exercise(
        label="squeeze-excitation-ex-block-params",
        kind="arithmetic",
        check=_check_block_params,
        hints=("The block has two fully connected layers: C -> C/r and "
               "C/r -> C. Pooling and the rescaling have no parameters.",
               "Each layer has in * out weights and one bias per output.",
               "2 * 2048 * 128 weights, plus 128 + 2048 biases."),
        placeholder="a whole number",
    ),
    Exercise(
        label="squeeze-excitation-ex-fix",
        kind="debug",
        check=_check_fix,
        widget="function",
        function_name="my_se",
        hints=("Print the shape of s after the first Dense layer: which axes "
               "does Dense leave alone?",
               "The gates must be computed from one vector per image: squeeze "
               "the map first.",
               "Start with keras.layers.GlobalAveragePooling2D(keepdims=True)(x) "
               "and apply the two Dense layers to that (N, 1, 1, C) map."),
    ),
    Exercise(
        label="squeeze-excitation-ex-pre",
        kind="conceptual",
        check=_check_pre,
        widget="choice",
        options=PRE_OPTIONS,
        hints=("An SE block on C channels has about 2 C^2 / r parameters: "
               "which channels does it see in each placement?",
               "Compare a unit's input and output channels, in the first unit "
               "of a stage and in the others: only the first units change.",
               "conv2_x's first unit receives 64 channels, the other stages' "
               "first units half their output's channels."),
    ),
)

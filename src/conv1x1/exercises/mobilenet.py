"""Exercises of the chapter "MobileNet: depthwise separable convolutions".

Five questions: the cost ratio of a separable layer (arithmetic), what
doubling MobileNetV2's expansion factor does to a block's MACs (predict,
then run), a block designed under a budget of MACs (design), a cost function
that forgets where the stride acts (debug), and what a depthwise separable
layer cannot represent (conceptual).
"""

from __future__ import annotations

import math

from conv1x1.exercises._blocks import build_block, spatial_layers
from conv1x1.exercises._core import (
    Result,
    check_choice,
    check_function,
    check_number,
)
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# mobilenet-ex-ratio: separable / standard for a 3x3 layer with 256 outputs.

RATIO = 1 / 256 + 1 / 9


def _ratio_mistake(value: float) -> str | None:
    """The message for a known mistake, or None."""
    if value == round(RATIO, 2):
        return ("Close, but rounded too far for the check: give three decimal "
                "places.")
    if math.isclose(value, 1 / 9, rel_tol=2e-3):
        return ("Not quite: 1/9 is the depthwise part alone. "
                "Add the pointwise part's share, 1/C_out.")
    if math.isclose(value, 1 / 256, rel_tol=2e-3):
        return ("Not quite: 1/256 is the pointwise part alone. "
                "Add the depthwise part's share, 1/k^2.")
    if math.isclose(value, 1 / RATIO, rel_tol=2e-3):
        return ("That is the saving, standard / separable; the "
                "question asks for separable / standard.")
    return None


def _check_ratio(answer) -> Result:
    return check_number(answer, RATIO, rel_tol=2e-3, mistakes=_ratio_mistake)


# --------------------------------------------------------------------------
# mobilenet-ex-expansion: t from 6 to 12 in a 56x56x24 -> 24 inverted
# residual block. Every layer has one side t * C wide: MACs are linear in t.

def inverted_residual_macs(size: int, c_in: int, c_out: int, t: int) -> int:
    """MACs of an inverted residual block with stride 1 (k = 3)."""
    hidden = t * c_in
    return size * size * (c_in * hidden + 9 * hidden + hidden * c_out)


EXPANSION_FACTOR = (inverted_residual_macs(56, 24, 24, 12)
                    / inverted_residual_macs(56, 24, 24, 6))


def _expansion_mistake(value: float) -> str | None:
    """The message for a known mistake, or None."""
    if math.isclose(value, 4, rel_tol=1e-2):
        return ("Not quite: no layer is quadratic in t. The "
                "expansion is C_in x tC_in, the projection "
                "tC_in x C_out: one side each.")
    return None


def _check_expansion(answer) -> Result:
    result = check_number(answer, EXPANSION_FACTOR, rel_tol=1e-3,
                          mistakes=_expansion_mistake)
    if result.correct:
        return Result(True, "Correct: exactly 2. Each of the three layers "
                            "touches the t * C_in hidden channels on one side "
                            "only, so every term is linear in t.")
    return result


# --------------------------------------------------------------------------
# mobilenet-ex-budget: 14x14x128 -> 14x14x256 for at most an eighth of the
# MACs of a standard 3x3 convolution.

BUDGET_SHAPE = (14, 14, 128)
BUDGET_CHANNELS = 256
STANDARD_MACS = 14 * 14 * 9 * 128 * 256
BUDGET_MACS = STANDARD_MACS // 8


def _check_budget(fn) -> Result:
    built, failure = build_block(fn, BUDGET_SHAPE)
    if failure:
        return Result(False, failure)
    wanted = (None, 14, 14, BUDGET_CHANNELS)
    if built.output_shape != wanted:
        return Result(False, f"The output has shape {built.output_shape}; it "
                             f"must be {wanted}.")
    if not spatial_layers(built.model):
        return Result(False, "Your block has no 3x3 filter, so it never looks "
                             "at neighbouring pixels. Include at least one "
                             "layer with kernel_size=3.")
    if built.macs > BUDGET_MACS:
        return Result(False, f"Your block costs {built.macs:,} MACs, over the "
                             f"budget of {BUDGET_MACS:,} (an eighth of "
                             f"{STANDARD_MACS:,}).")
    return Result(True, f"Correct: {built.macs:,} MACs, "
                        f"{built.macs / STANDARD_MACS:.1%} of a standard 3x3 "
                        f"convolution; {built.params:,} parameters.")


# --------------------------------------------------------------------------
# mobilenet-ex-bug: the pointwise half counted on the input map.

def reference_separable_macs(height, width, c_in, c_out, stride):
    """MACs of a 3x3 depthwise ("same", stride) then a 1x1 convolution."""
    out_h, out_w = math.ceil(height / stride), math.ceil(width / stride)
    return out_h * out_w * (9 * c_in + c_in * c_out)


def _bug_inputs(rng):
    height, width = (int(v) for v in rng.integers(3, 40, size=2))
    c_in, c_out = (int(v) for v in rng.integers(1, 64, size=2))
    stride = int(rng.integers(1, 3))
    return height, width, c_in, c_out, stride


def _check_bug(fn) -> Result:
    return check_function(fn, reference_separable_macs, _bug_inputs,
                          trials=12)


# --------------------------------------------------------------------------
# mobilenet-ex-separable: what a depthwise separable layer cannot represent.

SEPARABLE_OPTIONS = (
    "Different spatial patterns for one input channel in different output "
    "channels",
    "Mixing information across channels",
    "Seeing more than one pixel: a receptive field larger than 1x1",
    "A shift (bias) per output channel",
)


def _check_separable(answer) -> Result:
    return check_choice(answer, SEPARABLE_OPTIONS[0], SEPARABLE_OPTIONS,
                        explanations={
        SEPARABLE_OPTIONS[1]:
            "The pointwise convolution does exactly that: every output "
            "channel is a weighted sum of all C_in filtered channels.",
        SEPARABLE_OPTIONS[2]:
            "The depthwise k x k filters see a k x k window, as a standard "
            "convolution does.",
        SEPARABLE_OPTIONS[3]:
            "A bias, or batch normalization's beta, after the pointwise "
            "convolution gives each output channel its shift.",
    })


EXERCISES = (
    Exercise(
        label="mobilenet-ex-ratio",
        kind="arithmetic",
        check=_check_ratio,
        hints=("Write the MACs of the depthwise and the pointwise layer over "
               "those of the standard one; H, W and C_in cancel.",
               "The fraction is 1/C_out + 1/k^2."),
        placeholder="three decimal places, e.g. 0.250",
    ),
    Exercise(
        label="mobilenet-ex-expansion",
        kind="predict",
        check=_check_expansion,
        hints=("Write the three layers' MACs with the hidden width t C_in.",
               "Expansion H W C_in (t C_in), depthwise H W 9 (t C_in), "
               "projection H W (t C_in) C_out: what power of t is in each?"),
        placeholder="a number, e.g. 1.5",
    ),
    Exercise(
        label="mobilenet-ex-budget",
        kind="design",
        check=_check_budget,
        widget="function",
        function_name="my_block",
        hints=("A standard 3x3 convolution from 128 to 256 channels costs "
               f"{STANDARD_MACS:,} MACs here; you may spend an eighth.",
               "Split the spatial filtering and the channel mixing, as "
               "MobileNet does: by Eq. 5 the pair costs 1/256 + 1/9 of the "
               "standard layer.",
               "keras.layers.DepthwiseConv2D(3, padding='same') followed by "
               "keras.layers.Conv2D(256, 1), or "
               "conv1x1.mobilenet.depthwise_separable(x, 256, prefix='b_')."),
    ),
    Exercise(
        label="mobilenet-ex-bug",
        kind="debug",
        check=_check_bug,
        widget="function",
        function_name="separable_macs",
        hints=("The function is right for stride 1. Try stride 2 on a 14x14 "
               "map and count by hand.",
               "Which map does the pointwise convolution run on: the input "
               "of the block or the depthwise layer's output?",
               "Both halves run at out_h x out_w positions."),
    ),
    Exercise(
        label="mobilenet-ex-separable",
        kind="conceptual",
        check=_check_separable,
        widget="choice",
        options=SEPARABLE_OPTIONS,
        hints=("The separable layer equals a standard convolution with "
               "kernel K[u, v, m, n] = D[u, v, m] P[m, n].",
               "Fix an input channel m and compare K[:, :, m, n] for two "
               "output channels n."),
    ),
)

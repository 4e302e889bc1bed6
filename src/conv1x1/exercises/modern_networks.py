"""Exercises of the chapter "1x1 convolutions in today's networks".

Four questions: the MACs of a grouped 1x1 convolution in a ShuffleNet unit
(arithmetic), which input channels a stack of grouped convolutions without
a shuffle can see (predict), a block that mixes every channel with every
other for half the MACs of a 1x1 convolution (design), and a batch
normalization fold that forgets the convolution's bias (debug).
"""

from __future__ import annotations

import numpy as np

from conv1x1.exercises._blocks import build_block
from conv1x1.modern import channel_dependence
from conv1x1.exercises._core import (
    Result,
    check_array,
    check_choice,
    check_number,
    run_learner,
    time_limit,
)
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# modern-networks-ex-groups: ShuffleNet (g = 3), stage 3's first layer:
# a grouped 1x1 convolution from 240 to 60 channels on a 28 x 28 map.

GROUPS_SHAPE = (28, 28, 240, 60, 3)     # H, W, C_in, C_out, g


def grouped_pointwise_macs(height, width, c_in, c_out, groups) -> int:
    """MACs of a grouped 1x1 convolution: each output sees C_in / g inputs."""
    return height * width * (c_in // groups) * c_out


GROUPS_MACS = grouped_pointwise_macs(*GROUPS_SHAPE)


def _groups_mistake(value: float) -> str | None:
    h, w, c_in, c_out, g = GROUPS_SHAPE
    if value == h * w * c_in * c_out:
        return ("Not quite: that is an ordinary 1x1 convolution. With g "
                "groups each output channel reads only C_in / g inputs.")
    if value == h * w * c_in * c_out / g ** 2:
        return ("Not quite: that divides by g twice. Each of the g groups "
                "maps C_in / g inputs to C_out / g outputs, and there are g "
                "of them: g (C_in / g)(C_out / g) = C_in C_out / g.")
    if value == c_in * c_out / g:
        return ("Not quite: that is the number of weights. A 1x1 "
                "convolution uses every weight once at each of the H W "
                "positions.")
    return None


def _check_groups(answer) -> Result:
    return check_number(answer, GROUPS_MACS, rel_tol=0.0,
                        mistakes=_groups_mistake)


# --------------------------------------------------------------------------
# modern-networks-ex-reach: three grouped 1x1 convolutions (g = 4), no
# shuffle, 32 input channels, 64 output channels; output channel 37.

REACH_OPTIONS = (
    "Only input channels 16 to 23",
    "All 32 input channels: three layers mix everything",
    "Input channels 16 to 31: each layer reaches one group further",
    "Only input channel 18",
)
REACH_EXPECTED = REACH_OPTIONS[0]
REACH_EXPLANATIONS = {
    REACH_OPTIONS[1]: (
        "Depth does not help: every layer maps group k to group k, so "
        "group k of the output is a function of group k of the input, "
        "however many such layers are stacked."),
    REACH_OPTIONS[2]: (
        "Groups have no overlap, unlike a spatial window: group k of a "
        "layer reads exactly group k of the layer below, never its "
        "neighbour."),
    REACH_OPTIONS[3]: (
        "Within a group the convolution is an ordinary 1x1 convolution: "
        "every output channel of the group reads all 8 input channels "
        "of its group."),
}


def _check_reach(answer) -> Result:
    return check_choice(answer, REACH_EXPECTED, REACH_OPTIONS,
                        explanations=REACH_EXPLANATIONS)


# --------------------------------------------------------------------------
# modern-networks-ex-mixing: 8 x 8 x 32 -> 8 x 8 x 32, every output channel
# depending on every input channel, at most half a 1x1 convolution's MACs.

MIXING_SHAPE = (8, 8, 32)
MIXING_BUDGET = 8 * 8 * 32 * 32 // 2


#: Operations outside layers that a block may use: none of them multiplies.
_MOVES = frozenset({"reshape", "transpose", "getitem", "concatenate", "add",
                    "relu", "split", "stack", "squeeze", "expanddims",
                    "swapaxes", "moveaxis"})


def _uncountable(model) -> list[str]:
    """Operations of ``model`` whose MACs ``cost.layer_costs`` cannot see."""
    import keras

    found = []
    for op in model.operations:
        name = type(op).__name__
        if isinstance(op, keras.layers.Lambda):
            found.append(f"Lambda layer {op.name!r}")
        elif isinstance(op, keras.layers.Layer):
            if not type(op).__module__.startswith("keras."):
                found.append(f"custom layer {name} ({op.name!r})")
        elif name.lower().replace("_", "") not in _MOVES:
            found.append(f"keras.ops operation {name}")
    return found


def _check_mixing(fn) -> Result:
    built, failure = build_block(fn, MIXING_SHAPE)
    if built is None:
        return Result(False, failure)
    hidden = _uncountable(built.model)
    if hidden:
        return Result(False, (
            "The check counts the MACs of Keras's own layers, and your block "
            f"also computes with {', '.join(hidden)}, whose MACs it cannot "
            "count. Build it from layers such as Conv2D, Reshape and Permute "
            "(or modern.channel_shuffle)."))
    expected_shape = (None, *MIXING_SHAPE)
    if built.output_shape != expected_shape:
        return Result(False, f"Expected an output of shape {expected_shape}; "
                             f"received {built.output_shape}.")
    if built.macs > MIXING_BUDGET:
        return Result(False, (
            f"Your block costs {built.macs:,} MACs, over the budget of "
            f"{MIXING_BUDGET:,} (half of one 1x1 convolution from 32 to 32 "
            "channels, 65,536). Use groups, or a narrower middle."))
    try:
        linked = channel_dependence(built.model)
    except Exception as err:   # the learner's layers run here
        return Result(False, f"Your block could not be run on an input of "
                             f"shape (4, 8, 8, 32) ({type(err).__name__}: "
                             f"{err}).")
    if not linked.all():
        c_in, c_out = np.argwhere(~linked)[0]
        missing = int((~linked).sum())
        return Result(False, (
            f"{missing} of the 1,024 (input, output) channel pairs are not "
            f"connected: for example, output channel {c_out} does not "
            f"change when input channel {c_in} does. Grouped convolutions "
            "stacked without a shuffle keep their groups apart."))
    return Result(True, (
        f"Correct: {built.macs:,} MACs (budget {MIXING_BUDGET:,}), and every "
        "output channel depends on every input channel."))


# --------------------------------------------------------------------------
# modern-networks-ex-fold: fold batch normalization into a 1x1 convolution
# with a bias (kernel (1, 1, C_in, C_out)).

def reference_fold(kernel, bias, gamma, beta, mean, variance, epsilon=1e-3):
    """The kernel and bias of one convolution equal to conv then BN."""
    scale = gamma / np.sqrt(variance + epsilon)
    return kernel * scale, (bias - mean) * scale + beta


def _without_bias(kernel, bias, gamma, beta, mean, variance, epsilon=1e-3):
    scale = gamma / np.sqrt(variance + epsilon)
    return kernel * scale, beta - mean * scale


def _fold_inputs(rng, c_in=5, c_out=4):
    return (rng.normal(size=(1, 1, c_in, c_out)), rng.normal(size=c_out),
            rng.uniform(0.5, 2.0, c_out), rng.normal(size=c_out),
            rng.normal(size=c_out), rng.uniform(0.1, 3.0, c_out), 1e-3)


def _check_fold(fn) -> Result:
    rng = np.random.default_rng(0)
    for case in range(3):
        args = _fold_inputs(rng)
        copies = tuple(np.copy(a) if isinstance(a, np.ndarray) else a
                       for a in args)
        got, failure = run_learner(fn, copies, limit=time_limit(10.0),
                                   returns="(kernel, bias)")
        if failure:
            return Result(False, failure)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return Result(False, (
                "Expected your function to return two arrays, "
                f"(kernel, bias); received {type(got).__name__}."))
        kernel, bias = reference_fold(*args)
        k_result = check_array(got[0], kernel)
        if not k_result.correct:
            return Result(False, f"Case {case + 1}, the kernel: "
                                 f"{k_result.message}")
        b_result = check_array(got[1], bias)
        if not b_result.correct:
            _, forgot = _without_bias(*args)
            try:
                same = np.allclose(np.asarray(got[1], dtype=float), forgot)
            except (TypeError, ValueError):
                same = False
            if same:
                return Result(False, (
                    "The bias is still the one for a convolution without "
                    "a bias: BN shifts the convolution's output z = Wx + b, "
                    "so b is scaled and shifted with it."))
            return Result(False, f"Case {case + 1}, the bias: "
                                 f"{b_result.message}")
    return Result(True, "Correct on all 3 random cases, biases included.")


EXERCISES = (
    Exercise(
        label="modern-networks-ex-groups",
        kind="arithmetic",
        check=_check_groups,
        hints=(
            "A 1x1 convolution costs one MAC per weight per position.",
            "With g groups, each output channel has C_in / g weights.",
            "H W (C_in / g) C_out with H = W = 28, C_in = 240, C_out = 60, "
            "g = 3.",
        ),
        placeholder="a whole number of MACs",
    ),
    Exercise(
        label="modern-networks-ex-reach",
        kind="predict",
        check=_check_reach,
        widget="choice",
        options=REACH_OPTIONS,
        hints=(
            "Which group is output channel 37 in? 64 channels in 4 groups.",
            "Group k of a grouped layer reads only group k of the layer "
            "below it.",
            "Channel 37 is in group 2 (channels 32 to 47); group 2 of the "
            "input is channels 16 to 23.",
        ),
    ),
    Exercise(
        label="modern-networks-ex-mixing",
        kind="design",
        check=_check_mixing,
        widget="function",
        function_name="my_mixer",
        hints=(
            "One 1x1 convolution from 32 to 32 channels costs 65,536 MACs, "
            "twice the budget.",
            "Two grouped 1x1 convolutions with g = 4 cost a quarter each; "
            "what must come between them?",
            "Conv2D(32, 1, groups=4), modern.channel_shuffle(x, 4, "
            "prefix=...), Conv2D(32, 1, groups=4).",
        ),
    ),
    Exercise(
        label="modern-networks-ex-fold",
        kind="debug",
        check=_check_fold,
        widget="function",
        function_name="fold_bn",
        hints=(
            "Write out BN applied to z = W x + b, with s = gamma / sqrt(var "
            "+ eps).",
            "s (W x + b - mean) + beta: which term does the function drop?",
            "The new bias is s (b - mean) + beta.",
        ),
    ),
)

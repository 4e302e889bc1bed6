"""Exercises of the chapter "Inception (GoogLeNet)".

Four questions: the parameters of an auxiliary classifier attached to module
3b, on a 28x28 map (arithmetic), which change of a width cuts module 3a's
cost most (predict), a module designed under a budget of
multiply-accumulates (design), and a pooling branch whose output does not
fit the concatenation (debug).

The two function checkers build the learner's code on symbolic inputs, with
a time limit (:func:`conv1x1.exercises._blocks.build_block`), and never raise.
"""

from __future__ import annotations

import numpy as np

from conv1x1.exercises._blocks import build_block, count_nonlinearities
from conv1x1.exercises._core import Result, check_choice, check_number
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# inception-ex-aux: an auxiliary classifier on 3b's 28x28x480 output. The
# 5x5/3 average pooling ("valid") gives floor((28 - 5) / 3) + 1 = 8, so the
# first fully connected layer reads 8 * 8 * 128 numbers, not the 4 * 4 * 128
# of the classifiers on 4a and 4d (14x14 maps).

AUX_SIZE = 28
AUX_CHANNELS = 480
AUX_CLASSES = 1000


def _aux(channels: int, pooled: int, *, biases: bool = True) -> int:
    """Parameters of the auxiliary classifier on a map pooled to pooled^2."""
    weights = (channels * 128 + pooled * pooled * 128 * 1024
               + 1024 * AUX_CLASSES)
    return weights + (128 + 1024 + AUX_CLASSES if biases else 0)


AUX_POOLED = (AUX_SIZE - 5) // 3 + 1
AUX_PARAMS = _aux(AUX_CHANNELS, AUX_POOLED)


#: Known mistakes and what to say, matched as typed answers are (so a
#: rounded "3.19M" is recognised as the 4a classifier, as is 3,188,840).
_AUX_MISTAKES = {
    _aux(AUX_CHANNELS, AUX_POOLED, biases=False): (
        "Not quite: that counts the weights only; Keras also "
        "counts one bias per filter and per unit."),
    _aux(512, 4): (
        "Not quite: that is the chapter's classifier on module 4a, "
        "with 512 input channels and a 14x14 map. Module 3b "
        "outputs 480 channels on a 28x28 map."),
    _aux(528, 4): (
        "Not quite: that is the chapter's classifier on module 4d, "
        "with 528 input channels and a 14x14 map. Module 3b "
        "outputs 480 channels on a 28x28 map."),
    _aux(AUX_CHANNELS, 4): (
        "Not quite: the 480 channels are right, but the pooled map "
        "is not 4x4 here. 5x5 pooling with stride 3 on a 28x28 "
        "map gives floor((28 - 5) / 3) + 1 positions per side."),
    _aux(256, AUX_POOLED): (
        "Not quite: 256 is what module 3b reads; the classifier "
        "reads what 3b outputs, 480 channels."),
    _aux(AUX_CHANNELS, (AUX_SIZE - 5) // 3): (
        "Not quite: the pooled size is off by one. A window of 5 "
        "with stride 3 fits floor((28 - 5) / 3) + 1 times."),
    _aux(AUX_CHANNELS, -(-AUX_SIZE // 3)): (
        "Not quite: that is a 10x10 map, what padding='same' "
        "would give. The paper's pooling has no padding."),
    _aux(AUX_CHANNELS, AUX_SIZE): (
        "Not quite: the 5x5 average pooling with stride 3 comes "
        "first; the fully connected layer does not read the whole "
        "28x28 map."),
}


def _check_aux(answer) -> Result:
    return check_number(answer, AUX_PARAMS, mistakes=_AUX_MISTAKES)


# --------------------------------------------------------------------------
# inception-ex-halve: which halving cuts module 3a's MACs the most.

HALVE_OPTIONS = (
    "Halve the 3x3 reduce, from 96 to 48 channels",
    "Halve the 5x5 reduce, from 16 to 8 channels",
    "Halve the 1x1 branch, from 64 to 32 filters",
    "Halve the pool projection, from 32 to 16 filters",
)


#: MACs each halving saves in module 3a (28x28x192 input), from equation
#: (eq-inception-macs) of the chapter.
HALVE_SAVINGS = (
    28 * 28 * (192 * 48 + 9 * 48 * 128),
    28 * 28 * (192 * 8 + 25 * 8 * 32),
    28 * 28 * 192 * 32,
    28 * 28 * 192 * 16,
)


def _check_halve(answer) -> Result:
    m = [f"{v / 1e6:.1f}M" for v in HALVE_SAVINGS]
    return check_choice(answer, HALVE_OPTIONS[0], HALVE_OPTIONS, explanations={
        HALVE_OPTIONS[1]:
            f"The 5x5 branch is cheap once reduced (12.4M MACs in all); halving "
            f"its reduction saves {m[1]}, against {m[0]} for the 3x3 reduce.",
        HALVE_OPTIONS[2]:
            f"The 1x1 branch costs 28 * 28 * 192 * 64 MACs; halving it saves {m[2]} "
            f"and removes 32 output channels. The 3x3 reduce saves {m[0]}.",
        HALVE_OPTIONS[3]:
            f"The pool projection is one of the module's cheapest layers; "
            f"halving it saves {m[3]}. The 3x3 reduce saves {m[0]}.",
    }, hint="A reduce width r appears twice in the module's cost: H W C r for the "
            "1x1 layer and 9 r n3x3 (or 25 r n5x5) per position for the "
            "convolution behind it.")


# --------------------------------------------------------------------------
# The learner's code is built with conv1x1.exercises._blocks.build_block;
# every convolution of GoogLeNet ends in a ReLU.

def _relu(layer) -> bool:
    return getattr(getattr(layer, "activation", None), "__name__", "") == "relu"


# --------------------------------------------------------------------------
# inception-ex-budget: a module on 3b's input for at most 200M MACs.

BUDGET_SHAPE = (28, 28, 256)
BUDGET_CHANNELS = 480
BUDGET_MACS = 200_000_000
#: Module 3b as printed in Table 1, for comparison.
MODULE_3B_MACS = 28 * 28 * (256 * (128 + 128 + 32 + 64) + 9 * 128 * 192 + 25 * 32 * 96)


def _check_budget(fn) -> Result:
    import keras

    built, failure = build_block(fn, BUDGET_SHAPE, what="module")
    if failure:
        return Result(False, failure)
    model = built.model
    if tuple(model.output.shape) != (None, 28, 28, BUDGET_CHANNELS):
        return Result(False, f"The output has shape {tuple(model.output.shape)}; "
                             f"expected {(None, 28, 28, BUDGET_CHANNELS)}.")
    layers = model.layers
    # A Concatenate layer, or keras.ops.concatenate (an operation of the
    # same name in the model's graph).
    if not any(type(op).__name__ == "Concatenate" for op in model.operations):
        return Result(False, "Your module concatenates nothing: the branches' "
                             "outputs must be joined on the channel axis "
                             "(keras.layers.Concatenate or "
                             "keras.ops.concatenate).")
    convs = [layer for layer in layers if isinstance(layer, keras.layers.Conv2D)]
    kernels = {tuple(layer.kernel_size) for layer in convs}
    missing = [k for k in ((3, 3), (5, 5)) if k not in kernels]
    pools = [layer for layer in layers if isinstance(layer, keras.layers.MaxPooling2D)]
    if missing or not pools:
        return Result(False, "An inception module needs a 3x3 and a 5x5 convolution "
                             "and a max-pooling branch; yours lacks "
                             + (", ".join(f"a {k[0]}x{k[1]} convolution" for k in missing)
                                or "the max pooling") + ".")
    if not any(pool.input is model.inputs[0] for pool in pools):
        return Result(False, "Your max pooling does not read the module's input: "
                             "in an inception module it is a branch of its own, "
                             "side by side with the convolutions.")
    linear = [layer.name for layer in convs if not _relu(layer)]
    if count_nonlinearities(model, {"relu"}) < len(convs):
        return Result(False, f"Every convolution needs a ReLU; these have none: "
                             f"{', '.join(linear)}.")
    macs = built.macs
    if macs > BUDGET_MACS:
        return Result(False, f"Your module costs {macs:,} MACs, over the budget of "
                             f"{BUDGET_MACS:,}. Narrow the reductions in front of "
                             "the 3x3 and 5x5 convolutions.")
    return Result(True, f"Correct: {macs:,} MACs, {macs / MODULE_3B_MACS:.0%} of "
                        "module 3b's, for the same 480 output channels.")


# --------------------------------------------------------------------------
# inception-ex-pool-branch: the pooling branch must keep the spatial size.

BRANCH_CASES = (((28, 28, 192), 32), ((7, 9, 16), 8))


def _check_pool_branch(fn) -> Result:
    import keras

    for shape, pool_proj in BRANCH_CASES:
        built, failure = build_block(fn, shape, pool_proj, what="branch")
        if failure:
            return Result(False, failure)
        model = built.model
        case = f"For x of shape {(None, *shape)} and pool_proj={pool_proj}"
        expected = (None, shape[0], shape[1], pool_proj)
        if tuple(model.output.shape) != expected:
            return Result(False, f"{case} the branch outputs {tuple(model.output.shape)}"
                                 f"; to be concatenated with the other branches it "
                                 f"must output {expected}.")
        pools = [layer for layer in model.layers
                 if isinstance(layer, keras.layers.MaxPooling2D)]
        convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
        if (len(pools) != 1 or tuple(pools[0].pool_size) != (3, 3)
                or len(convs) != 1 or tuple(convs[0].kernel_size) != (1, 1)):
            return Result(False, f"{case} the branch should be one 3x3 max pooling "
                                 "followed by one 1x1 convolution.")
        x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
        try:
            import tensorflow as tf

            kernel, bias = (np.asarray(w) for w in convs[0].get_weights())
            pooled = tf.nn.max_pool2d(x, 3, 1, "SAME").numpy()
            want = np.maximum(pooled @ kernel[0, 0] + bias, 0.0)
            got = np.asarray(keras.ops.convert_to_numpy(model(x)), dtype=float)
        except Exception as err:
            return Result(False, f"{case} the branch could not be run "
                                 f"({type(err).__name__}: {err}).")
        if (not np.allclose(got, want, rtol=1e-4, atol=1e-4)
                and np.allclose(got, pooled @ kernel[0, 0] + bias, rtol=1e-4,
                                atol=1e-4)):
            return Result(False, "The 1x1 projection needs its ReLU, like every "
                                 "convolution of GoogLeNet.")
        if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            return Result(False, f"{case} the values differ from a 3x3 max pooling "
                                 "with stride 1 and 'same' padding followed by the "
                                 "1x1 convolution.")
    return Result(True, "Correct: stride 1 and 'same' padding keep the spatial size, "
                        "so the branch fits the concatenation.")


EXERCISES = (
    Exercise(
        label="inception-ex-aux",
        kind="arithmetic",
        check=_check_aux,
        hints=("Follow the layers on 3b's output: how many channels, and how "
               "large is the map after 5x5 average pooling with stride 3?",
               "Without padding, a window of 5 with stride 3 fits "
               "floor((28 - 5) / 3) + 1 = 8 times per side, so the first "
               "fully connected layer reads 8 * 8 * 128 numbers.",
               "Add (480 * 128 + 128) + (8192 * 1024 + 1024) "
               "+ (1024 * 1000 + 1000)."),
        placeholder="a whole number",
    ),
    Exercise(
        label="inception-ex-halve",
        kind="predict",
        check=_check_halve,
        widget="choice",
        options=HALVE_OPTIONS,
        hints=("Which branch of module 3a is the most expensive, and which layer "
               "of it does each option change?",
               "Halving a reduce width halves both the 1x1 layer and the "
               "convolution that reads its output.",
               "The 3x3 convolution reads the 3x3 reduce: 9 * 96 * 128 MACs per "
               "position, the largest term of the module."),
    ),
    Exercise(
        label="inception-ex-budget",
        kind="design",
        check=_check_budget,
        widget="function",
        function_name="my_module",
        hints=("Module 3b spends most of its MACs in the 3x3 branch: 9 * 128 * 192 "
               "per position after a reduction to 128 channels.",
               "The output channels are n1x1 + n3x3 + n5x5 + pool_proj; the "
               "reductions do not appear in them, so narrow the reductions.",
               "inception.inception_module(x, 128, 64, 192, 16, 96, 64, "
               "prefix='m_') costs about 171M MACs."),
    ),
    Exercise(
        label="inception-ex-pool-branch",
        kind="debug",
        check=_check_pool_branch,
        widget="function",
        function_name="pool_branch",
        hints=("Build the branch on keras.Input((28, 28, 192)) and print the "
               "output's shape.",
               "Keras's MaxPooling2D uses strides=pool_size when strides is "
               "not given: 3, not 1.",
               "MaxPooling2D(3, strides=1, padding='same')."),
    ),
)

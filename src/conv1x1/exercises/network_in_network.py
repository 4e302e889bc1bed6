"""Exercises of the chapter "Network In Network".

Four questions: what a fully connected head would cost once the network
reads 64x64 images (arithmetic), what probability a class can get when its
map goes through a ReLU before global average pooling (predict), a
classifier head that flattens its class maps instead of averaging them
(debug), and an mlpconv head designed under a parameter budget (design).

The two function checkers build the learner's head on symbolic inputs, with
a time limit (:func:`conv1x1.exercises._blocks.build_block`), judge it by
what it computes on random inputs, and never raise.
"""

from __future__ import annotations

import numpy as np

from conv1x1.exercises._blocks import build_block, count_nonlinearities
from conv1x1.exercises._core import Result, check_choice, check_number
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# network-in-network-ex-fc64: Flatten + Dense(10) on the CIFAR-10 NiN's last
# 192-channel map, for 64x64 images. The two 3x3/2 poolings ("same") halve
# 64 twice: the map is 16x16x192.

FC_SIZE = 64 // 2 // 2
FC_CHANNELS = 192
FC_CLASSES = 10
FC_PARAMS = FC_SIZE * FC_SIZE * FC_CHANNELS * FC_CLASSES + FC_CLASSES


def _fc_head(size: int) -> int:
    return size * size * FC_CHANNELS * FC_CLASSES + FC_CLASSES


#: Known mistakes and what to say, matched as typed answers are (so a
#: rounded "3.19M" is recognised as the 4a classifier, as is 3,188,840).
_FC64_MISTAKES = {
    FC_PARAMS - FC_CLASSES: (
        "Not quite: that counts the weights only. Keras also "
        "counts one bias per output unit."),
    _fc_head(8): (
        "Not quite: that is the head on the 8x8 map of 32x32 "
        "images. With 64x64 images, what size is the map after "
        "the two poolings?"),
    _fc_head(15): (
        "Not quite: that is a 15x15 map, what 'valid' pooling would "
        "leave. The network pools with padding='same', which "
        "halves 64 to 32, then 16."),
    _fc_head(32): (
        "Not quite: that is the map after one pooling. The last "
        "block comes after two: 64 -> 32 -> 16."),
    _fc_head(64): (
        "Not quite: that leaves out both poolings; the last block "
        "works on 16x16 maps."),
    FC_CHANNELS * FC_CLASSES + FC_CLASSES: (
        "Not quite: that is NiN's own head, a 1x1 convolution, "
        "whose weights are shared by every position. A fully "
        "connected layer on the flattened map has its own weights "
        "for every position."),
}


def _check_fc64(answer) -> Result:
    return check_number(answer, FC_PARAMS, mistakes=_FC64_MISTAKES)


# --------------------------------------------------------------------------
# network-in-network-ex-relu-maps: with a ReLU on the class maps (as in the
# released model), a class whose map is negative everywhere scores 0 while
# every other score is >= 0, so its probability is at most 1/10.

RELU_OPTIONS = (
    "Exactly 0",
    "At most 1/10",
    "Exactly 1/10",
    "Any value between 0 and 1, depending on the other classes",
)


def _check_relu_maps(answer) -> Result:
    return check_choice(answer, RELU_OPTIONS[1], RELU_OPTIONS, explanations={
        RELU_OPTIONS[0]:
            "The ReLU turns the map into zeros, so the class's score is 0, "
            "not minus infinity: a softmax gives exp(0) = 1 a share of the "
            "total, however small.",
        RELU_OPTIONS[2]:
            "That happens only when every other class scores 0 as well. "
            "Any other class with a positive score takes more than its "
            "share, and this class gets less than 1/10.",
        RELU_OPTIONS[3]:
            "The other classes' scores are means of ReLU outputs, so none "
            "is negative: exp(0) = 1 is the smallest term of the softmax's "
            "sum of ten, and this class's share can never exceed 1/10.",
    }, hint="After the ReLU, what is the class's score, and what is the "
            "smallest score any class can have?")


# --------------------------------------------------------------------------
# Layers that tie a head to one map size.

def _dense_layers(model):
    import keras

    return sorted(layer.name for layer in model.layers
                  if isinstance(layer, keras.layers.Dense))


def _run(model, x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(model(x)), dtype=float)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------
# network-in-network-ex-head: fix a head that flattens its class maps.
#
# NiN's head computes softmax(mean over positions of (W x + b)), which is
# softmax(W mean(x) + b): its output depends on x only through the spatial
# mean of x, and its logits are affine in that mean. Both are checked on
# random inputs at three map sizes, whatever layers the head is built from
# (GlobalAveragePooling2D, keepdims=True with Reshape or Flatten, a
# Dense layer after the pooling, keras.ops.mean, ...).

HEAD_CASES = (((8, 8, 32), 4), ((5, 7, 16), 3), ((1, 1, 6), 2))


def _check_head(fn) -> Result:
    rng = np.random.default_rng(0)
    for shape, classes in HEAD_CASES:
        built, failure = build_block(fn, shape, classes, what="head")
        if failure:
            return Result(False, failure)
        model = built.model
        case = f"For x of shape {(None, *shape)} and classes={classes}"
        if tuple(model.output.shape) != (None, classes):
            return Result(False, f"{case} the output has shape "
                                 f"{tuple(model.output.shape)}; expected "
                                 f"{(None, classes)}, one score per class.")
        channels = shape[-1]
        x = rng.normal(size=(3, *shape)).astype("float32")
        means = x.mean(axis=(1, 2), keepdims=True)
        flat = np.broadcast_to(means, x.shape).astype("float32")
        shuffled = x.reshape(3, -1, channels)[:, ::-1].reshape(x.shape)
        try:
            got, got_flat, got_shuffled = (_run(model, a)
                                           for a in (x, flat, shuffled))
            half = _run(model, (flat[:1] + flat[1:2]) / 2)
        except Exception as err:
            return Result(False, f"{case} the head could not be run "
                                 f"({type(err).__name__}: {err}).")
        if not (np.all(got >= 0)
                and np.allclose(got.sum(axis=1), 1, atol=1e-4)):
            return Result(False, f"{case} the outputs are not probabilities "
                                 "(each row should be non-negative and sum "
                                 "to 1): end with a softmax.")
        if not np.allclose(got, got_shuffled, rtol=1e-4, atol=1e-5):
            return Result(False, f"{case} the scores change when the "
                                 "positions of the map are shuffled: every "
                                 "position has weights of its own, as after "
                                 "a Flatten, which ties the head to one map "
                                 "size. Average each class map instead.")
        if not np.allclose(got, got_flat, rtol=1e-4, atol=1e-5):
            return Result(False, f"{case} the output is not the softmax of "
                                 "each class map's spatial mean: something "
                                 "non-linear (a softmax or a ReLU) acts on "
                                 "the maps before they are averaged, or the "
                                 "pooling is not an average. Average the "
                                 "raw maps, then apply the softmax.")
        logits = np.log(np.maximum(np.concatenate([got_flat[:2], half]),
                                   1e-30))
        logits -= logits.mean(axis=1, keepdims=True)
        if not np.allclose(logits[2], (logits[0] + logits[1]) / 2,
                           rtol=1e-3, atol=1e-4):
            return Result(False, f"{case} the scores are not a linear "
                                 "function of the averaged maps: a "
                                 "non-linearity sits between the pooling "
                                 "and the softmax. The class maps' means "
                                 "are the scores.")
        if built.params not in (channels * classes,
                                channels * classes + classes):
            return Result(False, f"{case} the head has {built.params:,} "
                                 "parameters; a NiN head has one 1x1 "
                                 f"convolution from {channels} channels to "
                                 f"{classes} class maps, "
                                 f"{channels * classes + classes:,} with "
                                 "biases.")
    return Result(True, "Correct: a 1x1 convolution gives a map per class, "
                        "the average gives its score, softmax the "
                        "probabilities, and the head works for any map "
                        "size.")


# --------------------------------------------------------------------------
# network-in-network-ex-budget: an mlpconv head on an 8x8x192 map.

BUDGET_SHAPE = (8, 8, 192)
BUDGET_CLASSES = 10
#: NiN's own head, block3_mlp1 and block3_mlp2: 192 -> 192 -> 10.
NIN_HEAD_PARAMS = (192 * 192 + 192) + (192 * 10 + 10)
BUDGET_PARAMS = NIN_HEAD_PARAMS // 4


def _check_budget(fn) -> Result:
    import keras

    built, failure = build_block(fn, BUDGET_SHAPE, what="head")
    if failure:
        return Result(False, failure)
    model, records = built.model, built.records
    if tuple(model.output.shape) != (None, BUDGET_CLASSES):
        return Result(False, f"The output has shape "
                             f"{tuple(model.output.shape)}; expected "
                             f"{(None, BUDGET_CLASSES)}: one score per "
                             "class.")
    dense = _dense_layers(model)
    if dense:
        return Result(False, f"Your head uses {', '.join(dense)}; use 1x1 "
                             "convolutions and global average pooling, no "
                             "fully connected layer.")
    pointwise = [r for r in records if r.kind == "pointwise"]
    others = sorted({r.name for r in records
                     if r.macs and r.kind != "pointwise"})
    if others:
        return Result(False, "Use 1x1 convolutions only; these layers are "
                             f"not: {', '.join(others)}.")
    convs = [layer for layer in model.layers
             if isinstance(layer, keras.layers.Conv2D)]
    # A ReLU anywhere but on the layer that gives the class maps.
    last_relu = (getattr(convs[-1].activation, "__name__", "") == "relu"
                 if convs else False)
    hidden_relu = count_nonlinearities(model, {"relu"}) > last_relu
    if len(pointwise) < 2 or not hidden_relu:
        return Result(False, f"Your head has {len(pointwise)} 1x1 "
                             f"convolutions and "
                             f"{'a' if hidden_relu else 'no'} ReLU in front "
                             "of the last; an mlpconv head needs a hidden "
                             "1x1 layer with a ReLU before the one that "
                             "gives the class maps.")
    # What the head computes: the softmax of each class map's mean, the
    # class maps being the last convolution's output (after a ReLU of its
    # own, as in the released model, or a separate ReLU layer).
    x = np.random.default_rng(0).normal(
        size=(3, *BUDGET_SHAPE)).astype("float32")
    try:
        out = _run(model, x)
        read = _run(keras.Model(model.input, convs[-1].input), x)
        kernel, *bias = convs[-1].get_weights()
        maps = read @ kernel.reshape(kernel.shape[-2:])   # before activation
        maps = maps + bias[0] if bias else maps
    except Exception as err:
        return Result(False, f"Your head could not be run "
                             f"({type(err).__name__}: {err}).")
    if not (np.all(out >= 0) and np.allclose(out.sum(axis=1), 1, atol=1e-4)):
        return Result(False, "Your head's outputs are not probabilities "
                             "(each row should be non-negative and sum to "
                             "1): end with a softmax after the global "
                             "average pooling.")
    means = [maps.mean(axis=(1, 2)), np.maximum(maps, 0).mean(axis=(1, 2))]
    if not any(np.allclose(out, _softmax(m), rtol=1e-4, atol=1e-5)
               for m in means):
        if np.allclose(out, _softmax(maps).mean(axis=(1, 2)), rtol=1e-4,
                       atol=1e-5):
            return Result(False, "Your head applies the softmax at every "
                                 "position and then averages the "
                                 "probabilities. Average the class maps "
                                 "first, then apply one softmax to the "
                                 "ten scores, as NiN does.")
        return Result(False, "Your head's output is not the softmax of each "
                             "class map's spatial mean (the class maps being "
                             "the output of your last 1x1 convolution). "
                             "Average the maps, then apply the softmax.")
    params = model.count_params()
    if params > BUDGET_PARAMS:
        return Result(False, f"Your head has {params:,} parameters, over the "
                             f"budget of {BUDGET_PARAMS:,}. Narrow the "
                             "hidden layer.")
    return Result(True, f"Correct: {len(pointwise)} 1x1 convolutions, "
                        f"{params:,} parameters ({params / NIN_HEAD_PARAMS:.0%}"
                        " of NiN's 192 -> 192 -> 10 head).")


EXERCISES = (
    Exercise(
        label="network-in-network-ex-fc64",
        kind="arithmetic",
        check=_check_fc64,
        hints=("Follow a 64x64 image through the network: which layers "
               "change the map's size, and by how much?",
               "Each 3x3/2 pooling with padding='same' halves the size. A "
               "Flatten then a Dense layer from n inputs to m outputs has "
               "n * m weights and m biases.",
               "The last block works on 16x16 maps: n = 16 * 16 * 192 and "
               "m = 10."),
        placeholder="a whole number",
    ),
    Exercise(
        label="network-in-network-ex-relu-maps",
        kind="predict",
        check=_check_relu_maps,
        widget="choice",
        options=RELU_OPTIONS,
        hints=("A class's score is the mean of its map. What is the mean of a "
               "map the ReLU has turned into zeros?",
               "Every score is the mean of ReLU outputs, so none is "
               "negative. The softmax gives class c the share "
               "exp(s_c) / (exp(s_1) + ... + exp(s_10))."),
    ),
    Exercise(
        label="network-in-network-ex-head",
        kind="debug",
        check=_check_head,
        widget="function",
        function_name="class_map_head",
        hints=("Build the buggy head on keras.Input((8, 8, 32)) with "
               "classes=4 and look at the output's shape.",
               "Flatten keeps every position's score: 8 * 8 * 4 numbers, "
               "not 4. Each class should get one number, the average of its "
               "map.",
               "Replace Flatten by keras.layers.GlobalAveragePooling2D()."),
    ),
    Exercise(
        label="network-in-network-ex-budget",
        kind="design",
        check=_check_budget,
        widget="function",
        function_name="my_head",
        hints=(f"The budget is {BUDGET_PARAMS:,} parameters. A 1x1 layer "
               "from a to b channels has a * b + b.",
               "192 -> d -> 10 costs (192 d + d) + (10 d + 10) parameters: "
               f"solve for the largest d within {BUDGET_PARAMS:,}.",
               "d = 32 fits: Conv2D(32, 1, activation='relu'), "
               "Conv2D(10, 1), GlobalAveragePooling2D(), "
               "Activation('softmax')."),
    ),
)

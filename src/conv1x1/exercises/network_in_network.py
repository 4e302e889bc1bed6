"""Exercises of the chapter "Network In Network".

Four questions: what a fully connected head on NiN's last feature map would
cost for CIFAR-100 (arithmetic), what happens to the CIFAR-10 network's
parameters when it reads larger images (predict), a classifier head that
flattens its class maps instead of averaging them (debug), and an mlpconv
head designed under a parameter budget (design).

The two function checkers build the learner's head on symbolic inputs, with
a time limit (:func:`conv1x1.exercises._blocks.build_block`), and never raise.
"""

from __future__ import annotations

import numpy as np

from conv1x1.exercises._blocks import build_block, count_nonlinearities
from conv1x1.exercises._core import Result, check_choice, check_number
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# network-in-network-ex-cifar100: Flatten + Dense(100) on the 8x8x192 map.

FC_MAP = (8, 8, 192)
FC_CLASSES = 100
FC_PARAMS = FC_MAP[0] * FC_MAP[1] * FC_MAP[2] * FC_CLASSES + FC_CLASSES


def _cifar100_mistake(value: float) -> str | None:
    """The message for a known mistake, or None."""
    if value == FC_PARAMS - FC_CLASSES:
        return ("Not quite: that counts the weights only. Keras also "
                "counts one bias per output unit.")
    if value == FC_MAP[2] * FC_CLASSES + FC_CLASSES:
        return ("Not quite: that is a 1x1 convolution, whose weights "
                "are shared by all positions. A fully connected layer "
                "on the flattened map has its own weights for every "
                "position.")
    return None


def _check_cifar100(answer) -> Result:
    return check_number(answer, FC_PARAMS, mistakes=_cifar100_mistake)


# --------------------------------------------------------------------------
# network-in-network-ex-input-size: nin(input_shape=(64, 64, 3)).

SIZE_OPTIONS = (
    "It stays 966,986: no layer's parameters depend on the image size",
    "It grows about 4 times: four times as many pixels need four times the weights",
    "It grows, but only in the last block, whose maps are now 16x16",
    "The model cannot be built: global average pooling expects 8x8 maps",
)


def _check_input_size(answer) -> Result:
    return check_choice(answer, SIZE_OPTIONS[0], SIZE_OPTIONS, explanations={
        SIZE_OPTIONS[1]:
            "That is what happens to the MACs. A convolution's weights are "
            "shared by every position, so more positions cost more work, not "
            "more parameters.",
        SIZE_OPTIONS[2]:
            "The last block's maps are indeed 16x16, but its layers are "
            "convolutions too: their kernels do not depend on the map size, and "
            "global average pooling has no parameters.",
        SIZE_OPTIONS[3]:
            "Global average pooling averages whatever spatial size it receives; "
            "it has no parameters tied to 8x8. A Flatten followed by a Dense "
            "layer would be tied to the size, which is what NiN avoids.",
    }, hint="Which layers of the network have parameters, and does any of them "
            "know the map's height and width?")


# --------------------------------------------------------------------------
# Layers that tie a head to one map size.

def _forbidden(model):
    import keras

    return sorted(layer.name for layer in model.layers
                  if isinstance(layer, (keras.layers.Dense, keras.layers.Flatten,
                                        keras.layers.Reshape)))


# --------------------------------------------------------------------------
# network-in-network-ex-head: fix a head that flattens its class maps.

HEAD_CASES = (((8, 8, 32), 4), ((5, 7, 16), 3), ((1, 1, 6), 2))


def _check_head(fn) -> Result:
    import keras

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
        forbidden = _forbidden(model)
        if forbidden:
            return Result(False, f"{case} the head uses {', '.join(forbidden)}: "
                                 "a Flatten, Reshape or Dense layer ties the head "
                                 "to one map size. Average each class map instead.")
        convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
        if len(convs) != 1 or tuple(convs[0].kernel_size) != (1, 1):
            return Result(False, f"{case} the head has {len(convs)} convolutions; "
                                 "keep exactly the one 1x1 convolution of the "
                                 "original code.")
        rng = np.random.default_rng(0)
        x = rng.normal(size=(2, *shape)).astype("float32")
        try:
            got = np.asarray(keras.ops.convert_to_numpy(model(x)), dtype=float)
            maps = np.asarray(keras.ops.convert_to_numpy(convs[0](x)), dtype=float)
        except Exception as err:
            return Result(False, f"{case} the head could not be run "
                                 f"({type(err).__name__}: {err}).")
        scores = maps.mean(axis=(1, 2))
        expected = np.exp(scores - scores.max(axis=1, keepdims=True))
        expected /= expected.sum(axis=1, keepdims=True)
        if not np.allclose(got, expected, rtol=1e-4, atol=1e-5):
            return Result(False, f"{case} the output is not the softmax of each "
                                 "class map's spatial mean. Average the maps, then "
                                 "apply the softmax.")
    return Result(True, "Correct: one 1x1 convolution gives a map per class, global "
                        "average pooling gives its score, softmax the "
                        "probabilities, and the head works for any map size.")


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
        return Result(False, f"The output has shape {tuple(model.output.shape)}; "
                             f"expected {(None, BUDGET_CLASSES)}: one score per class.")
    forbidden = _forbidden(model)
    if forbidden:
        return Result(False, f"Your head uses {', '.join(forbidden)}; use 1x1 "
                             "convolutions and global average pooling only.")
    if not any(isinstance(layer, keras.layers.GlobalAveragePooling2D)
               for layer in model.layers):
        return Result(False, "Your head has no GlobalAveragePooling2D layer: the "
                             "class maps must be averaged into scores.")
    pointwise = [r for r in records if r.kind == "pointwise"]
    others = sorted({r.name for r in records if r.macs and r.kind != "pointwise"})
    if others:
        return Result(False, "Use 1x1 convolutions only; these layers are not: "
                             f"{', '.join(others)}.")
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    # A ReLU anywhere but on the layer that gives the class maps.
    last_relu = getattr(convs[-1].activation, "__name__", "") == "relu" if convs else False
    hidden_relu = count_nonlinearities(model, {"relu"}) > last_relu
    if len(pointwise) < 2 or not hidden_relu:
        return Result(False, f"Your head has {len(pointwise)} 1x1 convolutions and "
                             f"{'a' if hidden_relu else 'no'} ReLU in front of the "
                             "last; an mlpconv head needs a hidden 1x1 layer with "
                             "a ReLU before the one that gives the class maps.")
    x = np.random.default_rng(0).normal(size=(3, *BUDGET_SHAPE)).astype("float32")
    try:
        out = np.asarray(keras.ops.convert_to_numpy(model(x)), dtype=float)
    except Exception as err:
        return Result(False, f"Your head could not be run ({type(err).__name__}: "
                             f"{err}).")
    if not (np.all(out >= 0) and np.allclose(out.sum(axis=1), 1, atol=1e-4)):
        return Result(False, "Your head's outputs are not probabilities (each row "
                             "should be non-negative and sum to 1): end with a "
                             "softmax after the global average pooling.")
    params = model.count_params()
    if params > BUDGET_PARAMS:
        return Result(False, f"Your head has {params:,} parameters, over the budget "
                             f"of {BUDGET_PARAMS:,}. Narrow the hidden layer.")
    return Result(True, f"Correct: {len(pointwise)} 1x1 convolutions, {params:,} "
                        f"parameters ({params / NIN_HEAD_PARAMS:.0%} of NiN's "
                        "192 -> 192 -> 10 head).")


EXERCISES = (
    Exercise(
        label="network-in-network-ex-cifar100",
        kind="arithmetic",
        check=_check_cifar100,
        hints=("Flatten turns the 8x8x192 map into one long vector. How long?",
               "A Dense layer from n inputs to m outputs has n * m weights and m "
               "biases.",
               "n = 8 * 8 * 192 = 12,288 and m = 100."),
        placeholder="a whole number",
    ),
    Exercise(
        label="network-in-network-ex-input-size",
        kind="predict",
        check=_check_input_size,
        widget="choice",
        options=SIZE_OPTIONS,
        hints=("List the layers that have parameters: convolutions only.",
               "A k x k convolution from C_in to C_out channels has "
               "k * k * C_in * C_out + C_out parameters. Where is H x W?"),
    ),
    Exercise(
        label="network-in-network-ex-head",
        kind="debug",
        check=_check_head,
        widget="function",
        function_name="class_map_head",
        hints=("Build the buggy head on keras.Input((8, 8, 32)) with classes=4 "
               "and look at the output's shape.",
               "Flatten keeps every position's score: 8 * 8 * 4 numbers, not 4. "
               "Each class should get one number, the average of its map.",
               "Replace Flatten by keras.layers.GlobalAveragePooling2D()."),
    ),
    Exercise(
        label="network-in-network-ex-budget",
        kind="design",
        check=_check_budget,
        widget="function",
        function_name="my_head",
        hints=(f"The budget is {BUDGET_PARAMS:,} parameters. A 1x1 layer from a "
               "to b channels has a * b + b.",
               "192 -> d -> 10 costs (192 d + d) + (10 d + 10) parameters: solve "
               f"for the largest d within {BUDGET_PARAMS:,}.",
               "d = 32 fits: Conv2D(32, 1, activation='relu'), Conv2D(10, 1), "
               "GlobalAveragePooling2D(), Activation('softmax')."),
    ),
)

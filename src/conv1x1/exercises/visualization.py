"""Exercises of the chapter "Visualizing 1x1 convolutions".

Five questions: one pixel through the opponent-colour kernel (arithmetic),
how global average pooling and a 1x1 convolution may be ordered
(conceptual), a bug in computing class activation maps (debug), a classifier
with finer class maps under a budget of multiply-accumulates (design), and
how far the learned colour mix can be rearranged without changing the
network (predict).
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
from conv1x1.exercises._blocks import build_block
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# visualization-ex-pixel: the blue-yellow value of one orange pixel.

PIXEL = (0.8, 0.4, 0.2)
BLUE_YELLOW = (-0.5, -0.5, 1.0)
PIXEL_BY = float(np.dot(PIXEL, BLUE_YELLOW))


def _pixel_mistake(value: float) -> str | None:
    """The message for a known mistake, or None."""
    red, green, blue = PIXEL
    if np.isclose(value, -PIXEL_BY):
        return (f"Not quite: {value:g} has the wrong sign. The "
                "column weights blue +1 and red and green -0.5.")
    if np.isclose(value, blue - (red + green)):
        return (f"Not quite: {value:g} subtracts red and green "
                "in full; each is weighted -0.5.")
    return None


def _check_pixel(answer) -> Result:
    return check_number(answer, PIXEL_BY, abs_tol=1e-6, mistakes=_pixel_mistake)


# --------------------------------------------------------------------------
# visualization-ex-gap: pooling before or after the class_maps layer.

GAP_OPTIONS = (
    "The same for every image and class: the 1x1 convolution is linear, and "
    "an average can be taken before or after a linear map",
    "Different: the bias is added at all 64 positions before averaging, so "
    "it enters the score 64 times",
    "The same, but only because conv_c ends in a ReLU, so that its outputs "
    "are non-negative",
    "The same for the predicted class only",
)


def _check_gap(answer) -> Result:
    return check_choice(answer, GAP_OPTIONS[0], GAP_OPTIONS, explanations={
        GAP_OPTIONS[1]:
            "It is added at 64 positions and the average divides by 64, so it "
            "enters once, exactly as in the other order.",
        GAP_OPTIONS[2]:
            "The sign plays no part: the mean of h K + b over the positions is "
            "(mean of h) K + b for any h, positive or negative.",
        GAP_OPTIONS[3]:
            "The argument holds for each column of the kernel separately, so "
            "for every class, predicted or not.",
    })


# --------------------------------------------------------------------------
# visualization-ex-cam: find and fix the bug in computing class maps.

def reference_class_maps(features, kernel, bias):
    """Class activation maps: the 1x1 convolution applied at every position."""
    return np.asarray(features) @ np.asarray(kernel) + np.asarray(bias)


def _cam_inputs(rng):
    n, h, w = rng.integers(1, 4), rng.integers(1, 6), rng.integers(1, 6)
    channels, classes = rng.integers(1, 9), rng.integers(2, 5)
    return (np.maximum(rng.normal(size=(n, h, w, channels)), 0),
            rng.normal(size=(channels, classes)), rng.normal(size=(classes,)))


def _check_cam(fn) -> Result:
    return check_function(fn, reference_class_maps, _cam_inputs, trials=8)


# --------------------------------------------------------------------------
# visualization-ex-resolution: class maps of 16 x 16 instead of 8 x 8, for no
# more MACs than the chapter's classifier.

IMAGE_SHAPE = (32, 32, 3)
MAP_SHAPE = (16, 16, 4)
#: MACs per image of the chapter's classifier (its cost table's total).
CHAPTER_MACS = (32 * 32 * 3 * 4 + 32 * 32 * 9 * 4 * 16 + 16 * 16 * 9 * 16 * 16
                + 8 * 8 * 9 * 16 * 16 + 8 * 8 * 16 * 4)

#: Seconds a learner's function may take before the check gives up.
TIME_LIMIT_S = 20.0


def _class_map_layers(model):
    """The 1x1 convolutions of ``model`` whose output could be class maps."""
    import keras

    return [layer for layer in model.layers
            if isinstance(layer, keras.layers.Conv2D)
            and tuple(layer.kernel_size) == (1, 1)
            and tuple(layer.output.shape)[-1] == MAP_SHAPE[-1]]


def _check_resolution(fn) -> Result:
    import keras

    built, failure = build_block(fn, IMAGE_SHAPE, limit=time_limit(TIME_LIMIT_S),
                                 what="classifier")
    if failure:
        return Result(False, failure)
    if built.output_shape != (None, MAP_SHAPE[-1]):
        return Result(False, f"The output has shape {built.output_shape}; it "
                             "must be one probability per class, (None, 4).")
    model = built.model
    candidates = _class_map_layers(model)
    if not candidates:
        return Result(False, "No 1x1 convolution with 4 output channels: the "
                             "class maps come from one, before the pooling.")
    maps_layer = candidates[-1]
    shape = tuple(maps_layer.output.shape)[1:]
    if shape != MAP_SHAPE:
        return Result(False, f"The class maps ({maps_layer.name}) are "
                             f"{shape[0]} x {shape[1]}; they must be "
                             f"{MAP_SHAPE[0]} x {MAP_SHAPE[1]}.")
    try:
        probe = keras.Model(model.input, [maps_layer.output, model.output])
        images = np.random.default_rng(0).uniform(size=(2, *IMAGE_SHAPE))
        maps, probabilities = (keras.ops.convert_to_numpy(t)
                               for t in probe(images.astype("float32")))
    except Exception as err:
        return Result(False, f"Your classifier could not be run ({type(err).__name__}"
                             f": {err}).")
    scores = maps.astype(float).mean(axis=(1, 2))
    softmax = np.exp(scores - scores.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    if not np.allclose(probabilities, softmax, rtol=1e-3, atol=1e-5):
        return Result(False, f"The output is not the softmax of the mean of the "
                             f"class maps ({maps_layer.name}): end with "
                             "GlobalAveragePooling2D and a softmax, nothing in "
                             "between.")
    macs = built.macs
    if macs > CHAPTER_MACS:
        return Result(False, f"Your classifier costs {macs:,} MACs, over the "
                             f"budget of {CHAPTER_MACS:,}.")
    return Result(True, f"Correct: class maps of {MAP_SHAPE[0]} x {MAP_SHAPE[1]} "
                        f"for {macs:,} MACs ({macs / CHAPTER_MACS:.0%} of the "
                        "chapter's classifier).")


# --------------------------------------------------------------------------
# visualization-ex-constant: how many colour_mix channels an invertible M
# can make constant.

CONSTANT_OPTIONS = ("none", "exactly one", "two", "all four")


def _check_constant(answer) -> Result:
    return check_choice(answer, CONSTANT_OPTIONS[1], CONSTANT_OPTIONS, explanations={
        CONSTANT_OPTIONS[0]:
            "Four channels computed from three colour values are linearly "
            "dependent: some combination of the kernel's columns is zero.",
        CONSTANT_OPTIONS[2]:
            "A channel of the new mix is constant when its column of M lies in "
            "the null space of the 3 x 4 kernel. With rank 3, that space is a "
            "line, and the columns of an invertible M are independent: only "
            "one fits.",
        CONSTANT_OPTIONS[3]:
            "Then every column of M would lie in the kernel's null space, and M "
            "would not be invertible; the network would also see no colour "
            "at all.",
    })


EXERCISES = (
    Exercise(
        label="visualization-ex-pixel",
        kind="arithmetic",
        check=_check_pixel,
        hints=("The blue-yellow value is the dot product of the pixel with the "
               "kernel's third column, plus its bias 0.",
               "BY = B - (R + G) / 2."),
        placeholder="a decimal number",
    ),
    Exercise(
        label="visualization-ex-gap",
        kind="conceptual",
        check=_check_gap,
        widget="choice",
        options=GAP_OPTIONS,
        hints=("Write the map of class c at position p as h_p K[:, c] + b_c and "
               "average it over the positions p.",
               "Is the mean of a sum the sum of the means? Can a constant "
               "factor come out of a mean?"),
    ),
    Exercise(
        label="visualization-ex-cam",
        kind="debug",
        check=_check_cam,
        widget="function",
        function_name="class_activation_maps",
        hints=("Test the promise in the docstring: average the output over "
               "its two spatial axes and compare with "
               "features.mean(axis=(1, 2)) @ kernel + bias.",
               "Scaling each map into [0, 1] is for display. It changes the "
               "values, and with them the mean.",
               "The class maps are the 1x1 convolution itself: return "
               "features @ kernel + bias."),
    ),
    Exercise(
        label="visualization-ex-resolution",
        kind="design",
        check=_check_resolution,
        widget="function",
        function_name="my_classifier",
        hints=("The class maps have the resolution of the layers after the "
               "last pooling. With one pooling they are 16 x 16, but every "
               "layer after it then runs on 4 times as many positions.",
               "Build your model and print cost.cost_table of it: drop one "
               "3x3 layer, or make the layers narrower, until the total fits.",
               "A 1x1 mix 3 -> 4, a 3x3 layer 4 -> 16 with ReLU, one pooling, "
               "a 3x3 layer 16 -> 16 with ReLU, a 1x1 layer 16 -> 4, global "
               "average pooling and a softmax cost 1,208,320 MACs."),
    ),
    Exercise(
        label="visualization-ex-constant",
        kind="predict",
        check=_check_constant,
        widget="choice",
        options=CONSTANT_OPTIONS,
        hints=("Channel j of the new mix is x K M[:, j] + b M[:, j]. When is it "
               "the same for every pixel x?",
               "K maps 3 numbers to 4. How many independent vectors v have "
               "K v = 0, and how many of them can be columns of one "
               "invertible M?"),
    ),
)

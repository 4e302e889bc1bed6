"""Exercises of the chapter "Visualizing 1x1 convolutions".

Four questions: one pixel through the opponent-colour kernel (arithmetic),
why global average pooling and a 1x1 convolution may be swapped
(conceptual), a bug in computing class activation maps (debug), and how far
the learned colour mix can be rearranged without changing the network
(predict).
"""

from __future__ import annotations

import numpy as np

from conv1x1.exercises._core import (
    Result,
    check_choice,
    check_function,
    check_number,
    parse_number,
)
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# visualization-ex-pixel: the blue-yellow value of one orange pixel.

PIXEL = (0.8, 0.4, 0.2)
BLUE_YELLOW = (-0.5, -0.5, 1.0)
PIXEL_BY = float(np.dot(PIXEL, BLUE_YELLOW))


def _check_pixel(answer) -> Result:
    result = check_number(answer, PIXEL_BY, abs_tol=1e-6)
    if result.correct:
        return result
    try:
        value = parse_number(answer)
    except Exception:  # check_number's message already says why
        return result
    red, green, blue = PIXEL
    if np.isclose(value, -PIXEL_BY):
        return Result(False, f"Not quite: {value:g} has the wrong sign. The "
                             "column weights blue +1 and red and green -0.5.")
    if np.isclose(value, blue - (red + green)):
        return Result(False, f"Not quite: {value:g} subtracts red and green "
                             "in full; each is weighted -0.5.")
    return result


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

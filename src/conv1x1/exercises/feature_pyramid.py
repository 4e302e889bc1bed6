"""Exercises of the chapter "Feature pyramid networks".

Four questions: which addition of a naive top-down pathway fails first
for a given input size (predict), the parameters of the laterals at a
smaller d (arithmetic), 3x3 laterals in place of the smoothing
convolutions (design: what the swap costs on ResNet-50 and what it loses),
and a top-down step that fails on odd sizes (debug: the learner writes the
fixed function, checked on many sizes against nearest-neighbour upsampling
that keeps every coarse pixel over the two fine pixels it came from).
"""

from __future__ import annotations

import numpy as np

from conv1x1.exercises._core import (
    Result,
    check_choice,
    check_number,
    run_learner,
    time_limit,
)
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# feature-pyramid-ex-breaks: a 120 x 120 input on ResNet-50, naive pathway.

BREAKS_SIZE = 120
BREAKS_OPTIONS = (
    "M2 = up(M3) + L2",
    "M3 = up(M4) + L3",
    "M4 = up(M5) + L4",
    "None: every addition fits",
)


def _check_breaks(answer) -> Result:
    return check_choice(answer, BREAKS_OPTIONS[1], BREAKS_OPTIONS, explanations={
        BREAKS_OPTIONS[0]:
            "C2 is 30 pixels and C3 15: up(M3) would be 30 and fit, and the "
            "pathway, built from the top, stops before it gets there.",
        BREAKS_OPTIONS[2]:
            "C4 is 8 pixels and C5 4: up(M5) has 8 pixels and fits.",
        BREAKS_OPTIONS[3]:
            "120 is not a multiple of 32: C2..C5 are 30, 15, 8 and 4 pixels, "
            "and one of the additions does not fit.",
    })


# --------------------------------------------------------------------------
# feature-pyramid-ex-laterals: the four laterals of ResNet-50 at d = 128.

LATERAL_CHANNELS = (256, 512, 1024, 2048)
LATERAL_D = 128
LATERAL_WEIGHTS = sum(c * LATERAL_D for c in LATERAL_CHANNELS)
LATERAL_PARAMS = LATERAL_WEIGHTS + len(LATERAL_CHANNELS) * LATERAL_D


def _laterals_mistake(value: float) -> str | None:
    """The message for a known mistake, or None."""
    if value == LATERAL_WEIGHTS:
        return (f"Not quite: {LATERAL_WEIGHTS:,} counts the kernels only; "
                "each lateral also has one bias per output channel.")
    smoothing = len(LATERAL_CHANNELS) * (9 * LATERAL_D ** 2 + LATERAL_D)
    if value in (LATERAL_PARAMS + smoothing, LATERAL_WEIGHTS + smoothing):
        return ("Not quite: that includes the 3x3 smoothing "
                "convolutions. Count the 1x1 laterals only.")
    if value == sum(c * 256 + 256 for c in LATERAL_CHANNELS):
        return ("Not quite: that is d = 256; the question asks for "
                "d = 128.")
    return None


def _check_laterals(answer) -> Result:
    return check_number(answer, LATERAL_PARAMS, mistakes=_laterals_mistake)


# --------------------------------------------------------------------------
# feature-pyramid-ex-swap: 3x3 laterals and no smoothing, on ResNet-50 at
# d = 256 and 224 x 224 (C2..C5: 56, 28, 14 and 7 pixels).

SWAP_SIDES = (56, 28, 14, 7)
SWAP_D = 256
#: MACs of the paper's 1x1 laterals, of its 3x3 smoothing, and of 3x3 laterals.
SWAP_LATERAL_MACS = sum(s * s * c * SWAP_D
                        for s, c in zip(SWAP_SIDES, LATERAL_CHANNELS))
SWAP_SMOOTH_MACS = sum(9 * s * s * SWAP_D ** 2 for s in SWAP_SIDES)
SWAP_WIDE_MACS = 9 * SWAP_LATERAL_MACS
SWAP_EXTRA_MACS = SWAP_WIDE_MACS - SWAP_LATERAL_MACS - SWAP_SMOOTH_MACS
SWAP_P2_SAVING = SWAP_SIDES[0] ** 2 * LATERAL_CHANNELS[0] * SWAP_D

SWAP_OPTIONS = (
    f"It adds about {SWAP_EXTRA_MACS / 1e9:.2f} billion MACs, and the "
    "upsampled top-down maps reach P_k unsmoothed",
    f"It saves about {SWAP_SMOOTH_MACS / 1e9:.2f} billion MACs, the "
    "smoothing's cost, and computes the same maps",
    f"It saves about {SWAP_P2_SAVING / 1e9:.2f} billion MACs, and computes "
    "the same maps",
    "It costs the same MACs and computes the same maps: only the place of "
    "the 3x3 changes",
)


def _check_swap(answer) -> Result:
    return check_choice(answer, SWAP_OPTIONS[0], SWAP_OPTIONS, explanations={
        SWAP_OPTIONS[1]:
            "A 3x3 lateral costs nine times a 1x1 one: "
            f"9 x {SWAP_LATERAL_MACS:,} = {SWAP_WIDE_MACS:,} MACs, more than "
            "the 1x1 laterals and the smoothing together "
            f"({SWAP_LATERAL_MACS + SWAP_SMOOTH_MACS:,}). Nor are the maps "
            "the same: the smoothing filtered the upsampled top-down map "
            "too, not only the lateral.",
        SWAP_OPTIONS[2]:
            f"That is the saving at P2 alone, where C2 has d = {SWAP_D} "
            "channels and the 3x3 lateral costs what the smoothing did. "
            "C3..C5 have 512 to 2048 channels, more than d, and a 3x3 on "
            "them costs more than a 3x3 on d channels. And without the "
            "smoothing the upsampled map is added unfiltered.",
        SWAP_OPTIONS[3]:
            "A 3x3 convolution on C_k costs 9 H W C_k d; the smoothing, on "
            "d channels, 9 H W d^2. They are equal only where C_k = d, at "
            "P2. And the smoothing filtered the sum, the upsampled coarse "
            "map included; a 3x3 lateral filters only its own level.",
    })


# --------------------------------------------------------------------------
# feature-pyramid-ex-merge: a top-down step that works for every size.

#: (lateral height, lateral width) of the check's cases; the coarse map is
#: half of each, rounded up, as after a stride-2 layer with "same" padding.
MERGE_SIZES = ((8, 8), (7, 7), (13, 6), (5, 9), (1, 2), (25, 25))
MERGE_CHANNELS = 3

#: Seconds the learner's function may take to build one case.
TIME_LIMIT_S = 20.0


def reference_merge(coarse, lateral):
    """Numpy: each coarse pixel copied to a 2x2 block, cropped, plus the lateral."""
    up = np.repeat(np.repeat(coarse, 2, axis=1), 2, axis=2)
    return up[:, :lateral.shape[1], :lateral.shape[2], :] + lateral


def _build_case(fn, size):
    import keras

    coarse_size = (-(-size[0] // 2), -(-size[1] // 2))
    coarse = keras.Input(shape=(*coarse_size, MERGE_CHANNELS))
    lateral = keras.Input(shape=(*size, MERGE_CHANNELS))
    out, failure = run_learner(
        fn, (coarse, lateral), limit=time_limit(TIME_LIMIT_S), returns="a tensor",
        context=(f" for a {size[0]}x{size[1]} lateral and a {coarse_size[0]}x"
                 f"{coarse_size[1]} coarse map"))
    if failure:
        return None, failure
    if not isinstance(out, keras.KerasTensor):
        return None, ("Expected your function to return a Keras tensor; received "
                      f"{type(out).__name__}.")
    if tuple(out.shape) != (None, *size, MERGE_CHANNELS):
        return None, (f"For a {size[0]}x{size[1]} lateral your function returns shape "
                      f"{tuple(out.shape)}; the merged map must have the lateral's "
                      f"shape {(None, *size, MERGE_CHANNELS)}.")
    try:
        return keras.Model([coarse, lateral], out), ""
    except Exception as err:
        return None, (f"Your merge could not be built into a model "
                      f"({type(err).__name__}: {err}). Use only the two inputs.")


def _nearest_resize(coarse, size):
    """Keras's nearest-neighbour resize of ``coarse`` to ``size`` (a wrong fix)."""
    import keras

    resized = keras.layers.Resizing(*size, interpolation="nearest")(coarse)
    return np.asarray(keras.ops.convert_to_numpy(resized), dtype=np.float64)


def _diagnose_merge(got, coarse, lateral) -> str:
    """What a wrong merge most likely did, judged from its output."""
    h, w = lateral.shape[1:3]
    up = reference_merge(coarse, lateral) - lateral

    def close(candidate):
        return np.allclose(got, candidate, rtol=1e-5, atol=1e-5)

    if close(up):
        return "It looks like the upsampled coarse map alone: add the lateral."
    if close(lateral):
        return "It looks like the lateral alone: add the upsampled coarse map."
    if close(_nearest_resize(coarse, (h, w)) + lateral):
        return ("It matches resizing the coarse map to the lateral's size, "
                "which stretches it: some fine pixels then get a coarse pixel "
                "other than (i // 2, j // 2), the one computed from them. "
                "Upsample by 2 and crop instead.")
    full = np.repeat(np.repeat(coarse, 2, axis=1), 2, axis=2)
    if close(full[:, -h:, -w:, :] + lateral):
        return ("It matches cropping the upsampled map from the bottom right; "
                "keep its top-left corner, where pixel (0, 0) sits.")
    return ("Fine pixel (i, j) must get coarse pixel (i // 2, j // 2), the one "
            "computed from it, plus the lateral's own value.")


def _check_merge(fn) -> Result:
    if not callable(fn):
        return Result(False, f"Expected a function; received {type(fn).__name__}. "
                             "Pass the function itself, without calling it.")
    rng = np.random.default_rng(0)
    for size in MERGE_SIZES:
        model, failure = _build_case(fn, size)
        if failure:
            return Result(False, failure)
        coarse_size = (-(-size[0] // 2), -(-size[1] // 2))
        coarse = rng.normal(size=(2, *coarse_size, MERGE_CHANNELS)).astype("float32")
        lateral = rng.normal(size=(2, *size, MERGE_CHANNELS)).astype("float32")
        try:
            got = np.asarray(model([coarse, lateral]), dtype=np.float64)
        except Exception as err:
            return Result(False, f"Running your merge failed ({type(err).__name__}: "
                                 f"{err}).")
        expected = reference_merge(coarse, lateral)
        if not np.allclose(got, expected, rtol=1e-5, atol=1e-5):
            return Result(False, f"For a {size[0]}x{size[1]} lateral the shape is "
                                 "right but the values are not. "
                                 + _diagnose_merge(got, coarse, lateral))
    return Result(True, f"Correct on all {len(MERGE_SIZES)} sizes, odd and even.")


# --------------------------------------------------------------------------

EXERCISES = (
    Exercise(
        label="feature-pyramid-ex-breaks",
        kind="predict",
        check=_check_breaks,
        widget="choice",
        options=BREAKS_OPTIONS,
        hints=("Compute C2..C5 for 120: ceil(120 / 4), then halve and round up "
               "three times.",
               "The pathway starts at the top: compare 2 x C5 with C4, then "
               "2 x C4 with C3, then 2 x C3 with C2."),
    ),
    Exercise(
        label="feature-pyramid-ex-laterals",
        kind="arithmetic",
        check=_check_laterals,
        hints=("A 1x1 convolution from C to d channels has C * d weights and d "
               "biases; the map's size does not enter.",
               "Add (256 + 512 + 1024 + 2048) * 128 and 4 * 128."),
        placeholder="a whole number",
    ),
    Exercise(
        label="feature-pyramid-ex-swap",
        kind="design",
        check=_check_swap,
        widget="choice",
        options=SWAP_OPTIONS,
        hints=("Write each design's MACs at one level: the paper's "
               "H W C_k d + 9 H W d^2, the proposal's 9 H W C_k d.",
               "Compare C_k with d level by level: equal at C2, two to "
               "eight times more at C3..C5. Then ask what the smoothing "
               "filtered besides the lateral."),
    ),
    Exercise(
        label="feature-pyramid-ex-merge",
        kind="debug",
        check=_check_merge,
        widget="function",
        function_name="merge",
        hints=("Try the function on a 7x7 lateral: what size does the "
               "upsampled 4x4 map have?",
               "Upsampling a map of ceil(n / 2) pixels gives n or n + 1 pixels: "
               "remove what is too much, from the bottom and right.",
               "Slice the upsampled tensor, up[:, :h, :w, :], with h and w from "
               "lateral.shape, or use keras.layers.Cropping2D."),
    ),
)

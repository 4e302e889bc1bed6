"""Feature pyramid networks: 1x1 laterals, a top-down pathway and 3x3 smoothing.

A feature pyramid network (FPN) turns a backbone's stage outputs C2..C5,
whose channel counts grow as their maps shrink, into maps P2..P5 that all
have the same d channels. A 1x1 convolution (the *lateral*) brings each
C_k to d channels; starting from the coarsest, each merged map is upsampled
by 2 (nearest neighbour) and added to the next finer lateral; a 3x3
convolution smooths every merged map. The extra layers have no
non-linearities. P6, for the largest anchors, is P5 subsampled with stride 2.

The laterals do more than match channels. The top-down maps are
semantically strong but coarse: upsampled from C5, their features sit only
roughly where they belong. The finer C_k, subsampled fewer times, localise
precisely, and the lateral brings those positions back into the sum. With
``laterals=False`` the builder makes the paper's ablation without them
(its Table 1(e)): the top-down pathway alone, upsampled and smoothed.

The addition needs the upsampled map and the lateral to have the same size.
That holds when every stage halves its input exactly, i.e. when the input
size is a multiple of the backbone's total stride; for other sizes a stage
with "same" padding rounds up and the upsampled map is one pixel too large.
:func:`feature_pyramid` offers three ways to align them (see
:data:`ALIGNMENTS`), and :func:`pad_to_multiple` the fourth, padding the
input.

Paper: Lin, Dollar, Girshick, He, Hariharan and Belongie, "Feature Pyramid
Networks for Object Detection", CVPR 2017 (arXiv:1612.03144), section 3 and
Figure 3; the ablations are in section 5.1.1 and Table 1.

Introduced in the feature pyramid network chapter.
"""

from __future__ import annotations

from conv1x1 import _checks

__all__ = [
    "ALIGNMENTS",
    "MAX_CHANNELS",
    "feature_pyramid",
    "level_sizes",
    "naive_breaks",
    "padded_size",
    "pad_to_multiple",
    "pyramid_cost",
]

#: How :func:`feature_pyramid` makes the upsampled map fit the lateral:
#: "naive" adds them as they are (the addition fails when the sizes differ),
#: "crop" drops the extra last row and column of the upsampled map, and
#: "resize" resizes the coarser map to the lateral's size directly (nearest
#: neighbour), which works for any pair of sizes.
ALIGNMENTS = ("naive", "crop", "resize")

#: The largest ``channels`` (d) accepted; the paper uses 256.
MAX_CHANNELS = 65536

#: The most levels :func:`level_sizes` computes (each halves the map).
MAX_STAGES = 64


def _channels(value):
    """d as an int in 1..MAX_CHANNELS."""
    value = _checks.integer_at_least(value, "channels", 1, "The paper uses d = 256.")
    if value > MAX_CHANNELS:
        raise ValueError(
            f"Expected channels to be at most {MAX_CHANNELS:,}; received "
            f"{value:,}, whose 3x3 kernels alone would not fit in memory. "
            "The paper uses d = 256.")
    return value


def _spatial(tensor, name):
    shape = tuple(tensor.shape)
    if len(shape) != 4:
        raise ValueError(
            f"Expected level {name!r} to be a feature map (batch, height, width, "
            f"channels); its output has shape {shape}.")
    return shape[1], shape[2]


def _levels(backbone, level_names):
    import keras

    if not isinstance(backbone, keras.Model):
        raise ValueError(
            f"Expected backbone to be a keras.Model; received "
            f"{type(backbone).__name__}. Build it with keras.Input or pass a "
            "model such as conv1x1.resnet.resnet(50, include_top=False).")
    if (isinstance(level_names, (str, bytes))
            or not isinstance(level_names, (tuple, list))
            or len(level_names) < 2
            or not all(isinstance(n, str) for n in level_names)):
        raise ValueError(
            "Expected level_names to be a list of two or more layer names, from "
            "the finest level to the coarsest, e.g. "
            f"resnet.stage_output_names(50); received {level_names!r}.")
    if len(set(level_names)) != len(level_names):
        raise ValueError(f"Expected distinct level names; received {level_names!r}.")
    known = {layer.name for layer in backbone.layers}
    tensors = []
    for level in level_names:
        if level not in known:
            ends = sorted(n for n in known if n.endswith("_out"))[:8]
            raise ValueError(
                f"Backbone {backbone.name!r} has no layer named {level!r}. Pass the "
                "names of its stage outputs"
                + (f", e.g. {', '.join(ends)}." if ends else "."))
        tensors.append(backbone.get_layer(level).output)
    sizes = [_spatial(t, n) for t, n in zip(tensors, level_names)]
    for (fine, coarse), (a, b) in zip(zip(sizes, sizes[1:]),
                                      zip(level_names, level_names[1:])):
        if None not in fine + coarse and not (coarse[0] < fine[0]
                                              and coarse[1] < fine[1]):
            raise ValueError(
                f"Expected each level to be coarser than the one before; {b!r} is "
                f"{coarse[0]}x{coarse[1]} after {a!r} at {fine[0]}x{fine[1]}. List "
                "the levels from the finest to the coarsest.")
    return tensors, sizes


def _align(x, size, target, align, prefix, level):
    """Upsample ``x`` (of spatial ``size``) to ``target`` as ``align`` says."""
    import keras

    if align == "resize":
        if None in target:
            raise ValueError(
                "align='resize' needs the levels' sizes; the backbone's input size "
                "is not fixed. Build the backbone with a fixed input shape.")
        return keras.layers.Resizing(target[0], target[1], interpolation="nearest",
                                     name=f"{prefix}resize{level}")(x)
    x = keras.layers.UpSampling2D(2, interpolation="nearest",
                                  name=f"{prefix}up{level}")(x)
    if align == "naive":
        return x
    if None in size or None in target:
        raise ValueError(
            "align='crop' needs the levels' sizes; the backbone's input size is not "
            "fixed. Build the backbone with a fixed input shape.")
    extra = (2 * size[0] - target[0], 2 * size[1] - target[1])
    if extra == (0, 0):
        return x
    if not all(0 <= e <= 1 for e in extra):
        raise ValueError(
            f"Cannot crop the upsampled level P{level + 1} ({2 * size[0]}x"
            f"{2 * size[1]}) to the lateral's {target[0]}x{target[1]}: cropping only "
            "removes the extra row or column left by rounding up. Use "
            "align='resize' for a backbone whose stages round down or are not a "
            "factor 2 apart.")
    return keras.layers.Cropping2D(((0, extra[0]), (0, extra[1])),
                                   name=f"{prefix}crop{level}")(x)


def feature_pyramid(backbone, level_names, *, channels: int = 256,
                    align: str = "crop", extra_level: bool = True,
                    laterals: bool = True, first_level: int = 2,
                    prefix: str = "fpn_", name: str | None = None):
    """The pyramid P2..P5 (and P6) on top of a Keras backbone.

    For every level name, from the finest to the coarsest, a 1x1
    convolution ``{prefix}lateral{k}`` maps the stage output C_k to
    ``channels`` (d) channels. The coarsest lateral starts the top-down
    pathway; each finer level adds the coarser merged map, upsampled by 2
    with nearest neighbours (``{prefix}up{k}``) and aligned as ``align``
    says, to its lateral (``{prefix}merge{k}``). A 3x3 convolution with d
    filters, ``{prefix}p{k}``, smooths every merged map. No layer has an
    activation. With ``extra_level``, ``{prefix}p{K+1}`` subsamples the
    coarsest output with stride 2 (max pooling with a 1x1 window, as in
    the paper's P6). With ``laterals=False`` only the coarsest level has
    its 1x1 convolution (to start the pathway) and every finer merged map
    is the upsampled coarser one alone, ``M_k = up(M_{k+1})``: the paper's
    "top-down pyramid, w/o lateral" (Table 1(e)).

    Paper: Lin et al. 2017 (arXiv:1612.03144), section 3 and Figure 3.

    Args:
        backbone: a functional ``keras.Model`` (the course's
            ``resnet.resnet(..., include_top=False)``, a
            ``keras.applications`` model, or any model with named stage
            outputs).
        level_names: names of the backbone's layers that output C2, C3, ...,
            from the finest to the coarsest (two or more), e.g.
            ``resnet.stage_output_names(50)``.
        channels: d, the channels of every pyramid level (256 in the paper;
            at most :data:`MAX_CHANNELS`).
        align: "crop" (default), "resize" or "naive" (see
            :data:`ALIGNMENTS`); "naive" reproduces the failure of an input
            size that is not a multiple of the total stride.
        extra_level: whether to add P6 by stride-2 subsampling of P5.
        laterals: whether the finer levels add their 1x1 laterals (True, the
            paper's design) or take the upsampled coarser map alone (False,
            its ablation).
        first_level: the index k of the first level's name, P{k} (2).
        prefix: prefix of the new layers' names.
        name: the model's name (default ``f"{backbone.name}_fpn"``).

    Returns:
        A ``keras.Model`` from the backbone's input to the list
        [P2, P3, ..., (P6)] of maps with d channels, each the size of its
        C_k (P6: half of P5's, rounded up).

    Raises:
        ValueError: for a backbone that is not a Keras model, level names
            that are not two or more distinct layers of it, from fine to
            coarse, a bad ``channels``, ``align``, ``extra_level``,
            ``laterals``, ``first_level``, prefix (one with "/", or one
            that the backbone's layer names already use) or name, a "crop"
            that cannot align two
            levels (then use "resize"), and, with ``align="naive"``, the
            addition of two maps of different sizes (Keras's own error).

    Introduced in the feature pyramid network chapter.
    """
    import keras

    tensors, sizes = _levels(backbone, level_names)
    channels = _channels(channels)
    align = _checks.choice(align, ALIGNMENTS, "align")
    extra_level = _checks.boolean(extra_level, "extra_level")
    laterals = _checks.boolean(laterals, "laterals")
    first_level = _checks.integer_at_least(first_level, "first_level", 0)
    prefix = _checks.prefix(prefix)
    if "/" in prefix:
        raise ValueError(
            f"Expected a prefix without '/', which Keras refuses in layer "
            f"names; received {prefix!r}. Use '_' instead, e.g. 'fpn_'.")
    name = _checks.name_or_none(name)

    levels = list(range(first_level, first_level + len(tensors)))
    clash = sorted({layer.name for layer in backbone.layers}
                   & set(_layer_names(prefix, levels, len(tensors))))
    if clash:
        raise ValueError(
            f"Expected a prefix that no layer of the backbone uses; backbone "
            f"{backbone.name!r} already has {clash[0]!r}, which the pyramid "
            f"would name again with prefix={prefix!r}. Pass another prefix, "
            "e.g. prefix='fpn2_'.")
    outputs = _top_down(tensors, sizes, levels, channels=channels, align=align,
                       laterals=laterals, prefix=prefix)
    if extra_level:
        outputs.append(keras.layers.MaxPooling2D(
            1, strides=2, name=f"{prefix}p{levels[-1] + 1}")(outputs[-1]))
    return keras.Model(backbone.input, outputs, name=name or f"{backbone.name}_fpn")


def _layer_names(prefix, levels, count):
    kinds = ("lateral", "up", "crop", "resize", "merge", "p")
    return [f"{prefix}{kind}{k}" for kind in kinds for k in levels] + [
        f"{prefix}p{levels[-1] + 1}"]


def _top_down(features, sizes, levels, *, channels, align, laterals, prefix):
    """The pyramid's layers on C_k (``features``): P_k, both finest first.

    The block the chapter shows; :func:`feature_pyramid` checks the
    arguments and calls it. ``sizes`` are the levels' (height, width),
    ``levels`` their indices k.
    """
    import keras

    lateral = [keras.layers.Conv2D(channels, 1, name=f"{prefix}lateral{k}")
               for k in levels]
    merged = [None] * len(features)
    merged[-1] = lateral[-1](features[-1])             # coarsest: M = L
    for i in range(len(features) - 2, -1, -1):         # from coarse to fine
        k = levels[i]
        up = _align(merged[i + 1], sizes[i + 1], sizes[i], align, prefix, k)
        if laterals:                                   # M_k = up(M_k+1) + L_k
            merged[i] = keras.layers.Add(name=f"{prefix}merge{k}")(
                [up, lateral[i](features[i])])
        else:                                          # M_k = up(M_k+1)
            merged[i] = up
    return [keras.layers.Conv2D(channels, 3, padding="same",   # smoothing
                                name=f"{prefix}p{k}")(m)
            for k, m in zip(levels, merged)]


def level_sizes(size: int, stages: int = 4, first_stride: int = 4) -> tuple[int, ...]:
    """The side of C2, C3, ... for an input side ``size``, when every stride-2 step rounds up.

    ResNet's stem (a stride-2 convolution and a stride-2 pooling, both
    padded so that they round up) gives C2 at ``ceil(size / 4)``, and each
    later stage halves that, rounding up: ``ceil(size / 2**k)`` for C_k.

    Args:
        size: the input's height or width (>= 1).
        stages: how many levels (1 to :data:`MAX_STAGES`).
        first_stride: the stride of the first level, a power of 2 (4 for C2).

    Raises:
        ValueError: for arguments that are not positive integers, or a
            first stride that is not a power of two.

    Introduced in the feature pyramid network chapter.
    """
    size = _checks.positive_int(size, "size")
    stages = _checks.positive_int(stages, "stages")
    if stages > MAX_STAGES:
        raise ValueError(
            f"Expected stages to be at most {MAX_STAGES}; received {stages:,}. "
            "ResNet has 4 levels (C2..C5).")
    first_stride = _checks.positive_int(first_stride, "first_stride")
    if first_stride & (first_stride - 1):
        raise ValueError(
            f"Expected first_stride to be a power of 2; received {first_stride}.")
    sides = [-(-size // first_stride)]            # exact for any integer
    for _ in range(stages - 1):
        sides.append(-(-sides[-1] // 2))
    return tuple(sides)


def naive_breaks(size: int, stages: int = 4, first_stride: int = 4):
    """The first level whose naive addition fails for input side ``size``, or None.

    The naive top-down pathway adds the upsampled C_{k+1}, of side
    ``2 * ceil(s / 2)``, to C_k, of side ``s``: they match only when ``s``
    is even. Levels are numbered from 2, so a return value of 4 means that
    P4 = up(P5) + lateral(C4) is the addition that fails.

    Args:
        as :func:`level_sizes`.

    Returns:
        The level k of the failing addition, or None when every addition fits.

    Introduced in the feature pyramid network chapter.
    """
    sides = level_sizes(size, stages, first_stride)
    for k in range(len(sides) - 2, -1, -1):
        if 2 * sides[k + 1] != sides[k]:
            return k + 2
    return None


def padded_size(size: int, multiple: int = 32) -> int:
    """The smallest multiple of ``multiple`` that is >= ``size``.

    Raises:
        ValueError: for arguments that are not positive integers.

    Introduced in the feature pyramid network chapter.
    """
    size = _checks.positive_int(size, "size")
    multiple = _checks.positive_int(multiple, "multiple")
    return -(-size // multiple) * multiple


def pad_to_multiple(x, multiple: int = 32, *, name: str = "pad_to_multiple"):
    """Zero-pad a Keras tensor at the bottom and right to a multiple of ``multiple``.

    Padding at the far sides keeps pixel (i, j) of the input at (i, j), so
    a detection's coordinates need no shift afterwards.

    Args:
        x: Keras tensor (batch, height, width, channels) with a known size.
        multiple: the backbone's total stride (32 for ResNet's C5).
        name: the ``ZeroPadding2D`` layer's name.

    Returns:
        A Keras tensor (batch, padded height, padded width, channels).

    Raises:
        ValueError: for a tensor that is not 4-D, has an unknown height or
            width, a multiple that is not a positive integer, or a bad name.

    Introduced in the feature pyramid network chapter.
    """
    import keras

    shape = _checks.feature_map(x)
    multiple = _checks.positive_int(multiple, "multiple")
    name = _checks.name_or_none(name)
    if shape[1] is None or shape[2] is None:
        raise ValueError(
            f"Expected x with a known height and width; received shape {shape}. "
            "Start from keras.Input(shape=(height, width, channels)).")
    extra = (padded_size(shape[1], multiple) - shape[1],
             padded_size(shape[2], multiple) - shape[2])
    return keras.layers.ZeroPadding2D(((0, extra[0]), (0, extra[1])),
                                      name=name)(x)


def pyramid_cost(level_shapes, channels: int = 256) -> dict:
    """Parameters and MACs of the laterals and the smoothing convolutions.

    For a level with an H x W x C map: the lateral costs ``H W C d`` MACs and
    has ``C d + d`` parameters; the 3x3 smoothing costs ``9 H W d^2`` MACs and
    has ``9 d^2 + d`` parameters. Upsampling, addition and P6 multiply
    nothing.

    Args:
        level_shapes: (height, width, channels) of C2, C3, ..., positive ints.
        channels: d (>= 1).

    Returns:
        ``{"lateral_macs", "smooth_macs", "lateral_params", "smooth_params"}``,
        each a list with one entry per level.

    Raises:
        ValueError: for a malformed table of shapes or a bad ``channels``.

    Introduced in the feature pyramid network chapter.
    """
    rows = _checks.stage_table(level_shapes, ("height", "width", "channels"),
                               "level_shapes")
    d = _channels(channels)
    return {
        "lateral_macs": [h * w * c * d for h, w, c in rows],
        "smooth_macs": [9 * h * w * d * d for h, w, _ in rows],
        "lateral_params": [c * d + d for _, _, c in rows],
        "smooth_params": [9 * d * d + d for _ in rows],
    }

"""Squeeze-and-excitation: channel attention from two 1x1 convolutions.

A squeeze-and-excitation (SE) block reweights the channels of a feature map
by numbers computed from the map itself. It *squeezes* every channel to one
number by global average pooling, passes the resulting vector through a
bottleneck of two fully connected layers (``C -> C / r`` with ReLU,
``C / r -> C`` with a sigmoid) and *excites* the map by multiplying every
channel by its gate in (0, 1). On the pooled 1x1 map, the two fully
connected layers are 1x1 convolutions, which is how this module (and Keras's
EfficientNet) builds them.

The module holds the block (:func:`se_block`), the hook that puts it into the
course's ResNet (:func:`se_attention`), the cost formulas
(:func:`se_params`, :func:`se_macs`, :func:`se_added_params`), a small
residual unit with the four placements of the paper's ablation
(:func:`se_residual_unit`), a small classifier with and without SE
(:func:`se_small`) and a synthetic task whose relevant channels depend on
the input (:func:`channel_cue_images`).

Paper: Hu, Shen, Albanie, Sun and Wu, "Squeeze-and-Excitation Networks",
IEEE TPAMI 42(8), 2020 (the journal version of the CVPR 2018 paper,
arXiv:1709.01507; table and figure numbers are the journal's): Figure 3
(the SE-ResNet module), section 4 (the cost), Table 10 (the reduction
ratio), Table 11 (average or max squeeze), Figure 5 and Table 14 (where the
block goes).

Introduced in the squeeze-and-excitation chapter.
"""

from __future__ import annotations

import numpy as np

from conv1x1 import _checks

__all__ = [
    "PLACEMENTS",
    "RESNET50_SE_STAGES",
    "squeeze_channels",
    "se_block",
    "se_attention",
    "se_params",
    "se_macs",
    "se_added_params",
    "se_residual_unit",
    "se_small",
    "channel_cue_images",
    "MAX_CUE_VALUES",
]

#: Where :func:`se_residual_unit` puts the SE block (Figure 5 of the paper):
#: None for no SE; "standard" on the residual branch before the addition;
#: "pre" before the residual branch; "post" after the addition and its ReLU;
#: "identity" on the shortcut, in parallel with the branch.
PLACEMENTS = (None, "standard", "pre", "post", "identity")

#: The most values :func:`channel_cue_images` makes (2**28 float32, 1 GiB).
MAX_CUE_VALUES = 2**28

#: SE-ResNet-50's stages as (blocks N_s, channels C_s that SE sees): the
#: output channels of the bottleneck blocks of conv2_x..conv5_x.
RESNET50_SE_STAGES = ((3, 256), (4, 512), (6, 1024), (3, 2048))


def squeeze_channels(channels: int, ratio: int = 16) -> int:
    """The width of the SE bottleneck, ``channels // ratio``.

    Args:
        channels: the channels C of the map the block reweights (>= 1).
        ratio: the reduction ratio r (>= 1); 16 in the paper.

    Returns:
        ``C // r``, at least 1.

    Raises:
        ValueError: for a channel count or ratio that is not a positive
            integer, or a ratio larger than the channel count (which would
            leave no channels in the bottleneck).

    Introduced in the squeeze-and-excitation chapter.
    """
    channels = _checks.positive_int(channels, "channels")
    ratio = _checks.integer_at_least(ratio, "ratio", 1,
                                     "The paper uses r = 16.")
    if ratio > channels:
        raise ValueError(
            f"Expected ratio <= channels, so that the bottleneck keeps at least one "
            f"channel; received ratio={ratio} for {channels} channels. Use a ratio "
            f"of at most {channels}.")
    return channels // ratio


def se_block(x, ratio: int = 16, *, prefix: str = "se_"):
    """Squeeze-and-excitation: pool, bottleneck, sigmoid gates, rescale.

    ``GlobalAveragePooling2D`` keeps a 1x1 map (``{prefix}squeeze``); a 1x1
    convolution reduces its C channels to ``C // ratio`` with ReLU
    (``{prefix}reduce``), a second one restores C channels with a sigmoid
    (``{prefix}expand``), and ``Multiply`` scales every channel of ``x`` by
    its gate (``{prefix}excite``). The two 1x1 convolutions on a 1x1 map are
    the paper's two fully connected layers; both have biases.

    Paper: Hu et al., TPAMI 2020 (arXiv:1709.01507), Figure 1 and Eqs. 2
    to 4. The paper's ablations (section 6) drop the two layers' biases on
    ResNets; this block keeps them, as Keras's layers do by default.

    Args:
        x: Keras tensor of shape (batch, height, width, channels).
        ratio: the reduction ratio r (1 <= r <= channels); 16 in the paper.
        prefix: prefix of the four layer names.

    Returns:
        A Keras tensor of the same shape as ``x``.

    Raises:
        ValueError: for a tensor that is not a 4-D Keras tensor with known
            channels, a bad ratio (see :func:`squeeze_channels`) or a prefix
            that is not a string.

    Introduced in the squeeze-and-excitation chapter.
    """
    import keras

    shape = _checks.feature_map(x)
    prefix = _checks.prefix(prefix)
    channels = int(shape[-1])
    reduced = squeeze_channels(channels, ratio)
    s = keras.layers.GlobalAveragePooling2D(keepdims=True,
                                            name=f"{prefix}squeeze")(x)
    s = keras.layers.Conv2D(reduced, 1, activation="relu",
                            name=f"{prefix}reduce")(s)
    s = keras.layers.Conv2D(channels, 1, activation="sigmoid",
                            name=f"{prefix}expand")(s)
    return keras.layers.Multiply(name=f"{prefix}excite")([x, s])


def se_attention(ratio: int = 16):
    """The SE block as an ``attention(tensor, prefix)`` hook for the ResNet builders.

    ``resnet(50, attention=se_attention(16))`` builds SE-ResNet-50: every
    block's residual branch passes through :func:`se_block` just before the
    addition, with layer names ``{block prefix}se_squeeze`` and so on.

    Args:
        ratio: the reduction ratio r (>= 1).

    Returns:
        A function ``attention(tensor, prefix) -> tensor``.

    Raises:
        ValueError: for a ratio that is not a positive integer (a ratio larger
            than a block's channels is reported when the model is built).

    Introduced in the squeeze-and-excitation chapter.
    """
    ratio = _checks.integer_at_least(ratio, "ratio", 1, "The paper uses r = 16.")

    def attention(tensor, prefix):
        prefix = _checks.prefix(prefix)
        return se_block(tensor, ratio, prefix=f"{prefix}se_")

    return attention


def se_params(channels: int, ratio: int = 16, *, bias: bool = True) -> int:
    """Parameters of one SE block on C channels: ``2 C (C // r)`` (+ biases).

    The reduction has a ``C x C/r`` kernel and C/r biases, the expansion a
    ``C/r x C`` kernel and C biases; pooling and the rescaling have none.

    Args:
        channels: C (>= 1).
        ratio: r (1 <= r <= C).
        bias: whether to count the ``C // r + C`` biases (Keras does; the
            paper's formula ``2 C^2 / r`` does not).

    Raises:
        ValueError: as :func:`squeeze_channels`, and for a non-boolean bias.

    Introduced in the squeeze-and-excitation chapter.
    """
    reduced = squeeze_channels(channels, ratio)
    bias = _checks.boolean(bias, "bias")
    return 2 * channels * reduced + ((reduced + channels) if bias else 0)


def se_macs(height: int, width: int, channels: int, ratio: int = 16, *,
            scale: bool = True) -> int:
    """Multiply-accumulates of one SE block on an H x W x C map.

    The two fully connected layers cost ``2 C (C // r)`` MACs, independent
    of the map's size; the channel-wise rescaling multiplies every one of
    the ``H W C`` values once. The pooling only adds, and is not counted.

    Args:
        height, width: the map's spatial size (>= 1).
        channels: C (>= 1).
        ratio: r (1 <= r <= C).
        scale: whether to count the ``H W C`` multiplications of the
            rescaling (``cost.layer_costs`` does not: a ``Multiply`` layer has
            no weights).

    Raises:
        ValueError: for sizes that are not positive integers, a bad ratio or
            a non-boolean ``scale``.

    Introduced in the squeeze-and-excitation chapter.
    """
    height = _checks.positive_int(height, "height")
    width = _checks.positive_int(width, "width")
    reduced = squeeze_channels(channels, ratio)
    scale = _checks.boolean(scale, "scale")
    return 2 * channels * reduced + (height * width * channels if scale else 0)


def se_added_params(stages=RESNET50_SE_STAGES, ratio: int = 16, *,
                    bias: bool = True) -> int:
    """Parameters SE adds to a network: ``sum_s N_s se_params(C_s, r)``.

    Without biases and with r dividing every C_s this is the paper's
    ``(2 / r) sum_s N_s C_s^2`` (section 4).

    Args:
        stages: rows (blocks N_s, channels C_s), one per stage; ResNet-50's
            by default.
        ratio: r (>= 1, at most every C_s).
        bias: whether to count the biases of the fully connected layers.

    Raises:
        ValueError: for a malformed stage table, a bad ratio or a
            non-boolean bias.

    Introduced in the squeeze-and-excitation chapter.
    """
    rows = _checks.stage_table(stages, ("blocks", "channels"))
    return sum(blocks * se_params(channels, ratio, bias=bias)
               for blocks, channels in rows)


def se_residual_unit(x, filters: int, *, placement="standard", ratio: int = 16,
                     stride: int = 1, bn_momentum: float = 0.99,
                     prefix: str):
    """A bottleneck residual unit with an SE block at one of four places.

    The residual branch is ``1x1 conv (stride) - BN - ReLU - 3x3 conv - BN -
    ReLU - 1x1 conv to 4 * filters - BN``; the shortcut is ``x`` itself, or a
    strided 1x1 projection with batch normalization where the shape changes.
    ``placement`` says where :func:`se_block` goes (the paper's Figure 5):

    * ``"standard"``: on the branch, before the addition (SE-ResNet);
    * ``"pre"``: on the unit's input, before the branch (SE-PRE); the
      shortcut still carries the unrescaled input;
    * ``"post"``: after the addition and its ReLU (SE-POST);
    * ``"identity"``: on the shortcut, in parallel with the branch
      (SE-Identity); where the shortcut projects, SE acts on its input;
    * None: the plain unit.

    "pre" and "identity" reweight the unit's input (its channels and map
    size), "standard" and "post" its output, which is what makes their
    costs differ in a stage's first, projecting unit.

    Paper: Hu et al., TPAMI 2020 (arXiv:1709.01507), Figure 5 and Table 14.

    Args:
        x: Keras tensor of shape (batch, height, width, channels).
        filters: the bottleneck's width; the unit outputs ``4 * filters``.
        placement: one of :data:`PLACEMENTS`.
        ratio: SE's reduction ratio r.
        stride: 1 or 2.
        bn_momentum: batch normalization's momentum, in [0, 1).
        prefix: prefix of the layer names (``{prefix}1_conv``, ...,
            ``{prefix}se_squeeze``, ...).

    Returns:
        Keras tensor (batch, ceil(height / stride), ceil(width / stride),
        4 * filters).

    Raises:
        ValueError: for a tensor that is not 4-D, ``filters`` < 1, an
            unknown placement, a bad ratio (larger than the channels SE
            sees), a stride other than 1 or 2, a bad momentum or a prefix
            that is not a string.

    Introduced in the squeeze-and-excitation chapter.
    """
    import keras

    shape = _checks.feature_map(x)
    filters = _checks.integer_at_least(filters, "filters", 1,
                                       "Pass the bottleneck's width.")
    placement = _checks.choice(placement, PLACEMENTS, "placement")
    ratio = _checks.integer_at_least(ratio, "ratio", 1, "The paper uses r = 16.")
    stride = _checks.stride(stride)
    bn_momentum = _checks.rate(bn_momentum, "bn_momentum")
    prefix = _checks.prefix(prefix)
    out_channels = 4 * filters

    def conv_bn(t, width, kernel, step, name, relu=True):
        t = keras.layers.Conv2D(width, kernel, strides=step, padding="same",
                                use_bias=False, name=f"{prefix}{name}_conv")(t)
        t = keras.layers.BatchNormalization(momentum=bn_momentum,
                                            name=f"{prefix}{name}_bn")(t)
        return keras.layers.ReLU(name=f"{prefix}{name}_relu")(t) if relu else t

    se = lambda t: se_block(t, ratio, prefix=f"{prefix}se_")  # noqa: E731
    branch = se(x) if placement == "pre" else x
    branch = conv_bn(branch, filters, 1, stride, "1")
    branch = conv_bn(branch, filters, 3, 1, "2")
    branch = conv_bn(branch, out_channels, 1, 1, "3", relu=False)
    if placement == "standard":
        branch = se(branch)
    shortcut = se(x) if placement == "identity" else x
    if stride != 1 or int(shape[-1]) != out_channels:
        shortcut = conv_bn(shortcut, out_channels, 1, stride, "0", relu=False)
    y = keras.layers.Add(name=f"{prefix}add")([shortcut, branch])
    y = keras.layers.ReLU(name=f"{prefix}out")(y)
    return se(y) if placement == "post" else y


def se_small(input_shape=(20, 20, 6), classes: int = 2, *, widths=(8, 8),
             ratio=None, name: str | None = None):
    """A small classifier of 3x3 convolutions, with SE on every convolution's input.

    ``widths`` gives one 3x3 convolution ("same" padding, stride 1, ReLU) per
    entry, named ``conv{i}``. With a ``ratio``, :func:`se_block` (``se{i}_``)
    reweights the channels that enter every convolution, the raw input's
    included (the SE-PRE position of the paper's Figure 5, in a network
    without shortcuts). Global average pooling and a softmax classifier close
    it. No batch normalization, so that a few epochs of training behave the
    same in training and inference.

    Args:
        input_shape: (height, width, channels) of positive integers.
        classes: output classes (>= 1).
        widths: filters per convolution, a non-empty sequence of integers >= 1.
        ratio: None for no SE, else SE's reduction ratio (at most the input's
            channels and every width but the last).
        name: model name, or None for "se_small" / "plain_small".

    Returns:
        An uncompiled ``keras.Model``.

    Raises:
        ValueError: for a bad input shape, ``classes`` < 1, malformed
            widths, a bad ratio or a bad name.

    Introduced in the squeeze-and-excitation chapter.
    """
    import keras

    input_shape = _checks.image_input_shape(input_shape, channels=None)
    classes = _checks.positive_int(classes, "classes")
    if isinstance(widths, (str, bytes)) or not isinstance(widths, (tuple, list)):
        raise ValueError(
            f"Expected widths to be a sequence of filters, e.g. (8, 8); received "
            f"{widths!r}.")
    rows = _checks.stage_table([(w,) for w in widths], ("filters",), "widths")
    if ratio is not None:
        for channels in (input_shape[-1], *(w for (w,) in rows[:-1])):
            squeeze_channels(channels, ratio)
    name = _checks.name_or_none(name)

    inputs = keras.Input(shape=input_shape, name="input_layer")
    x = inputs
    for i, (width,) in enumerate(rows, start=1):
        if ratio is not None:
            x = se_block(x, ratio, prefix=f"se{i}_")
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu",
                                name=f"conv{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    default = "plain_small" if ratio is None else "se_small"
    return keras.Model(inputs, x, name=name or default)


def channel_cue_images(n: int, size: int = 20, *, seed: int = 0,
                       noise: float = 0.2):
    """A task where which channels matter depends on the image.

    Every image has six channels of Gaussian noise. Channels 0-1 (group A)
    and 2-3 (group B) may each hold a bright 4x4 square, independently, in
    the central region (seven pixels from every edge). The cue is a frame
    one pixel wide along the image's border, in channel 4 or in channel 5:
    in channel 4 it says that group A carries the label, in channel 5 that
    group B does. The label is 1 if the cued group holds a square, 0 if not;
    the other group is a distractor that agrees with the label half of the
    time. The frame is seven pixels from any square, so a stack of two 3x3
    convolutions (a 5x5 receptive field) sees the cue and a square together
    at no pixel, and a network that pools and then classifies linearly
    cannot combine them exactly: what it pools is a sum of what the cue
    contributes and what each square contributes, and a linear rule on such
    features gets at most 7 of the 8 equally likely (cue, square in A,
    square in B) cases right (87.5%). Training settles near 75% (right
    whenever the two groups agree). A network that reads the cue from the
    pooled channels and rescales the groups, as SE does, can reach 100%.

    Args:
        n: number of images (>= 1).
        size: height and width (>= 18).
        seed: seed of the generator (an integer >= 0).
        noise: standard deviation of the Gaussian noise on every channel
            (a finite number >= 0).

    Returns:
        ``(images, labels, cues)``: float32 (n, size, size, 6), int64 (n,)
        labels in {0, 1}, and int64 (n,) cues (0: group A, 1: group B).

    Raises:
        ValueError: for ``n`` < 1, ``size`` < 18, a bad seed or noise, or
            more than :data:`MAX_CUE_VALUES` values in all (``n * size**2 *
            6``), which would not fit in memory.

    Introduced in the squeeze-and-excitation chapter.
    """
    n = _checks.integer_at_least(n, "n", 1)
    size = _checks.integer_at_least(size, "size", 18,
                                    "The squares need seven pixels of border.")
    seed = _checks.integer_at_least(seed, "seed", 0,
                                    "Pass a whole number such as 0 or 42.")
    noise = _checks.non_negative_number(noise, "noise")
    if n * size * size * 6 > MAX_CUE_VALUES:
        raise ValueError(
            f"Expected at most {MAX_CUE_VALUES:,} values (n * size**2 * 6, "
            f"float32); received n={n:,} and size={size:,}, which make "
            f"{n * size * size * 6:,}. Ask for fewer or smaller images, e.g. "
            "n=1200 and size=20.")
    rng = np.random.default_rng(seed)
    images = rng.normal(0.0, noise, (n, size, size, 6)).astype(np.float32)
    cues = rng.integers(0, 2, n)
    present = rng.integers(0, 2, (n, 2))           # per group: a square or not
    ring = np.ones((size, size), np.float32)
    ring[1:-1, 1:-1] = 0.0
    for i in range(n):
        for group in range(2):
            if present[i, group]:
                top, left = rng.integers(7, size - 7 - 4 + 1, 2)
                for channel in (2 * group, 2 * group + 1):
                    brightness = rng.uniform(0.5, 1.0)
                    images[i, top:top + 4, left:left + 4, channel] += brightness
        images[i, :, :, 4 + cues[i]] += ring
    labels = present[np.arange(n), cues]
    return images, labels.astype(np.int64), cues.astype(np.int64)

"""ResNet: residual blocks, their stage tables and the builders, side by side.

A residual block computes ``relu(F(x) + shortcut(x))``: a few convolutions
``F`` (the residual branch) whose output is added to the block's input
(the shortcut). ResNet-18 and -34 use the *basic* block of two 3x3
convolutions; ResNet-50, -101 and -152 use the *bottleneck* block, whose
1x1 convolutions reduce the channels four times before a 3x3 convolution and
restore them after it.

Layer names follow ``keras.applications.ResNet50``: block ``j`` of stage
``i`` has the prefix ``f"conv{i}_block{j}_"``, its convolutions are
``{prefix}1_conv``, ``{prefix}2_conv`` (and ``{prefix}3_conv``), the
projection shortcut is ``{prefix}0_conv``, the addition ``{prefix}add`` and
the block's output ``{prefix}out``. The four stage outputs of ResNet-50 are
therefore ``conv2_block3_out``, ``conv3_block4_out``, ``conv4_block6_out``
and ``conv5_block3_out``, as in Keras (:func:`stage_output_names`).

Paper: He, Zhang, Ren and Sun, "Deep Residual Learning for Image
Recognition", CVPR 2016 (arXiv:1512.03385): Table 1 (the stage tables),
Figure 5 (the blocks), section 3.3 (shortcut options A and B), section
4.1 (option C, the comparison of the three in Table 3, and the bottleneck
blocks) and section 4.2 (the CIFAR-10 networks that :func:`resnet_small`
follows). ``groups`` in :func:`bottleneck_block` gives ResNeXt's block (Xie
et al., "Aggregated Residual Transformations for Deep Neural Networks",
CVPR 2017): the same 1x1 reduce and expand around a grouped 3x3.

Introduced in the ResNet chapter.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from conv1x1 import _checks

__all__ = [
    "MAX_BLOCKS",
    "MAX_FILTERS",
    "RESNET_STAGES",
    "SHORTCUTS",
    "STAGE_WIDTHS",
    "STRIDE_AT",
    "basic_block",
    "bottleneck_block",
    "ResNetCost",
    "resnet",
    "resnet_cost",
    "resnet_small",
    "shortcut_path",
    "stage_output_names",
]

#: ResNet's Table 1: depth -> (block kind, blocks per stage conv2_x..conv5_x).
RESNET_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}

#: Filters of the 3x3 convolutions in stages conv2_x..conv5_x. A basic
#: block outputs this many channels; a bottleneck block ``expansion`` (4)
#: times as many (256, 512, 1024, 2048).
STAGE_WIDTHS = (64, 128, 256, 512)

#: The shortcut options, and None for a plain network: "A" identity, with
#: a strided identity plus zero channels where the shape changes (no
#: parameters); "B" identity, with a 1x1 projection only where the shape
#: changes; "C" a 1x1 projection in every block. Section 3.3 of the paper
#: describes A and B; section 4.1 adds C and compares the three (Table 3).
SHORTCUTS = ("A", "B", "C", None)

#: Where a strided bottleneck block subsamples: in its first 1x1
#: convolution (the paper, Keras's ResNet50) or in its 3x3 convolution
#: (the variant torchvision and others ship, known as "ResNet v1.5").
STRIDE_AT = ("1x1", "3x3")

_BN_EPSILON = 1.001e-5  # as in keras.applications.resnet

#: The most filters (or classes) one layer may have here: a larger number is
#: a typo, and its kernel would not fit in memory (ResNet's widest layer has
#: 2,048 filters).
MAX_FILTERS = 65_536

#: The most blocks one stage may have in a built network (the deepest
#: networks of the papers have about 200 per stage).
MAX_BLOCKS = 1_000


def _filters(value, name="filters", fix="Pass the filters of the 3x3 "
             "convolution."):
    value = _checks.integer_at_least(value, name, 1, fix)
    if value > MAX_FILTERS:
        raise ValueError(
            f"Expected {name} to be at most {MAX_FILTERS:,}; received "
            f"{value:,}, whose kernels would not fit in memory. ResNet's "
            "widest layer has 2,048 filters.")
    return value


def _conv_bn(x, filters, kernel_size, stride, name, *, use_bias, relu,
             groups=1, zero_gamma=False):
    """Convolution, batch normalization and (optionally) ReLU, named Keras-style.

    ``zero_gamma`` starts the batch normalization's scale at zero, so that
    the layer outputs its shift (zero) until training moves it.
    """
    import keras

    x = keras.layers.Conv2D(filters, kernel_size, strides=stride, padding="same",
                            use_bias=use_bias, groups=groups,
                            name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(
        epsilon=_BN_EPSILON, gamma_initializer="zeros" if zero_gamma else "ones",
        name=f"{name}_bn")(x)
    if relu:
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return x


def _check_shortcut(shortcut):
    return _checks.choice(shortcut, SHORTCUTS, "shortcut")


def shortcut_path(x, filters: int, stride: int = 1, *, shortcut="B",
                  use_bias: bool = False, prefix: str):
    """The tensor a residual block adds to its branch: ``x``, padded or projected.

    Where the block keeps the shape (``stride`` 1 and ``filters`` equal to
    the input's channels) options A and B return ``x`` itself. Where the
    shape changes, option A subsamples ``x`` (takes every ``stride``-th
    pixel, a strided identity) and appends zero channels, with no
    parameters and no multiplications; option B uses a 1x1 convolution with
    stride ``stride`` and batch normalization, ``{prefix}0_conv`` and
    ``{prefix}0_bn``. Option C uses that projection in every block.

    Paper: He et al. 2016 (arXiv:1512.03385): options (A) and (B) in
    section 3.3, (C) and the comparison of the three in section 4.1.

    Args:
        x: Keras tensor of shape (batch, height, width, channels).
        filters: the channels of the block's output.
        stride: 1 or 2, the block's stride.
        shortcut: "A", "B", "C", or None for no shortcut (returns None).
        use_bias: whether the projection has a bias (Keras's ResNet50 does).
        prefix: prefix of the layer names, e.g. ``"conv3_block1_"``.

    Returns:
        A Keras tensor of shape (batch, ceil(height / stride),
        ceil(width / stride), filters), or None for ``shortcut=None``.

    Raises:
        ValueError: for a tensor that is not 4-D, ``filters`` < 1, a stride
            other than 1 or 2, an unknown shortcut, a non-boolean
            ``use_bias``, a prefix that is not a string, or option A asked
            to reduce the channels (zero-padding can only add channels).

    Introduced in the ResNet chapter.
    """
    import keras

    shape = _checks.feature_map(x)
    filters = _filters(filters, fix="Pass the block's output channels.")
    stride = _checks.stride(stride)
    shortcut = _check_shortcut(shortcut)
    use_bias = _checks.boolean(use_bias, "use_bias")
    prefix = _checks.prefix(prefix)
    c_in = int(shape[-1])
    if shortcut is None:
        return None
    same_shape = stride == 1 and c_in == filters
    if shortcut in ("A", "B") and same_shape:
        return x
    if shortcut == "A":
        if filters < c_in:
            raise ValueError(
                f"Expected filters >= the input's {c_in} channels for shortcut 'A', "
                f"which can only add zero channels; received filters={filters}. "
                "Use shortcut='B' to project to fewer channels.")
        extra = filters - c_in

        def pad(t):
            t = t[:, ::stride, ::stride, :]
            return keras.ops.pad(t, [[0, 0], [0, 0], [0, 0], [0, extra]])

        out_shape = (-(-shape[1] // stride) if shape[1] is not None else None,
                     -(-shape[2] // stride) if shape[2] is not None else None,
                     filters)
        return keras.layers.Lambda(pad, output_shape=out_shape,
                                   name=f"{prefix}0_pad")(x)
    return _conv_bn(x, filters, 1, stride, f"{prefix}0", use_bias=use_bias,
                    relu=False)


def _finish(residual, inputs, filters, stride, shortcut, attention, use_bias,
            prefix):
    """Attention on the branch, the addition, and the block's output ReLU."""
    import keras

    if attention is not None:
        branch_shape = tuple(residual.shape)
        try:
            residual = attention(residual, prefix)
        except TypeError as err:
            raise ValueError(
                "Expected attention to be a function attention(tensor, prefix) "
                f"-> tensor of two arguments; calling it raised TypeError: "
                f"{err}. Give it a second argument, the block's layer-name "
                "prefix.") from err
        if (not keras.backend.is_keras_tensor(residual)
                or tuple(residual.shape) != branch_shape):
            raise ValueError(
                "Expected attention(tensor, prefix) to return a Keras tensor of the "
                f"branch's shape {branch_shape}; received "
                f"{type(residual).__name__} of shape "
                f"{tuple(getattr(residual, 'shape', ()))}. An attention reweights "
                "the channels; it must not change the shape.")
    skip = shortcut_path(inputs, filters, stride, shortcut=shortcut,
                         use_bias=use_bias, prefix=prefix)
    if skip is not None:
        residual = keras.layers.Add(name=f"{prefix}add")([skip, residual])
    return keras.layers.ReLU(name=f"{prefix}out")(residual)


def _check_block_args(x, filters, stride, shortcut, attention, use_bias, prefix):
    shape = _checks.feature_map(x)
    filters = _filters(filters)
    stride = _checks.stride(stride)
    shortcut = _check_shortcut(shortcut)
    if attention is not None and not callable(attention):
        raise ValueError(
            "Expected attention to be None or a function attention(tensor, prefix) "
            f"-> tensor; received {type(attention).__name__}.")
    use_bias = _checks.boolean(use_bias, "use_bias")
    prefix = _checks.prefix(prefix)
    return shape, filters, stride, shortcut, use_bias, prefix


def basic_block(x, filters: int, stride: int = 1, *, shortcut="B", attention=None,
                use_bias: bool = False, zero_init_residual: bool = False,
                prefix: str):
    """ResNet's basic block: two 3x3 convolutions and a shortcut.

    ``3x3 conv (stride) - BN - ReLU - 3x3 conv - BN``, then ``attention``
    (if any) on that branch, the shortcut added, and a ReLU. The block
    outputs ``filters`` channels. Used by ResNet-18 and ResNet-34 and by the
    CIFAR-10 networks.

    Paper: He et al. 2016 (arXiv:1512.03385), Figure 5 (left).

    Args:
        x: Keras tensor of shape (batch, height, width, channels).
        filters: filters of both 3x3 convolutions (>= 1).
        stride: 1 or 2, the stride of the first 3x3 convolution.
        shortcut: "A", "B" (default), "C" (see :func:`shortcut_path`) or
            None for a plain block with no addition.
        attention: None, or a function ``attention(tensor, prefix) ->
            tensor`` applied to the residual branch just before the addition
            (where squeeze-and-excitation goes); it receives this block's
            prefix and must return a tensor of the same shape.
        use_bias: whether the convolutions have biases (the paper's have
            none, since batch normalization follows; Keras's have).
        zero_init_residual: start the branch's last batch-normalization
            scale (gamma) at zero, so that the branch outputs zeros and the
            block computes ``relu(shortcut(x))`` until training moves it
            (Goyal et al. 2017; "zero gamma" in He et al. 2019).
        prefix: prefix of the layer names, e.g. ``"conv2_block1_"``:
            ``{prefix}1_conv``, ``1_bn``, ``1_relu``, ``2_conv``, ``2_bn``,
            ``add`` and ``out`` (plus the shortcut's ``0_conv``, ``0_bn`` or
            ``0_pad``).

    Returns:
        Keras tensor (batch, ceil(height / stride), ceil(width / stride),
        filters).

    Raises:
        ValueError: for a tensor that is not 4-D, ``filters`` < 1, a stride
            other than 1 or 2, an unknown shortcut, an attention that is not
            callable or changes the shape, a non-boolean ``use_bias`` or
            ``zero_init_residual``, or a prefix that is not a string.

    Introduced in the ResNet chapter.
    """
    _, filters, stride, shortcut, use_bias, prefix = _check_block_args(
        x, filters, stride, shortcut, attention, use_bias, prefix)
    zero = _checks.boolean(zero_init_residual, "zero_init_residual")
    inputs = x
    x = _conv_bn(x, filters, 3, stride, f"{prefix}1", use_bias=use_bias, relu=True)
    x = _conv_bn(x, filters, 3, 1, f"{prefix}2", use_bias=use_bias, relu=False,
                 zero_gamma=zero)
    return _finish(x, inputs, filters, stride, shortcut, attention, use_bias,
                   prefix)


def bottleneck_block(x, filters: int, stride: int = 1, *, expansion: int = 4,
                     stride_at: str = "1x1", shortcut="B", attention=None,
                     use_bias: bool = False, groups: int = 1,
                     zero_init_residual: bool = False, prefix: str):
    """ResNet's bottleneck block: 1x1 reduce, 3x3, 1x1 expand, and a shortcut.

    ``1x1 conv to filters - BN - ReLU - 3x3 conv - BN - ReLU - 1x1 conv to
    expansion * filters - BN``, then ``attention`` (if any) on that branch,
    the shortcut added, and a ReLU. The 3x3 convolution works on ``filters``
    channels, a quarter of the block's output: the 1x1 convolutions carry
    the channels down and up again. ``stride_at`` says which convolution
    subsamples when ``stride`` is 2: the first 1x1 (the paper and Keras's
    ResNet50) or the 3x3 ("ResNet v1.5", torchvision). With ``groups`` > 1
    the 3x3 convolution is grouped, ResNeXt's block: ResNeXt-50 (32x4d)
    has ``groups=32``, ``filters`` twice ResNet-50's (128 in conv2_x) and
    ``expansion=2``.

    Paper: He et al. 2016 (arXiv:1512.03385), Figure 5 (right); ResNeXt:
    Xie et al. 2017 (arXiv:1611.05431), Figure 3 (c).

    Args:
        x: Keras tensor of shape (batch, height, width, channels).
        filters: filters of the 1x1 reduction and the 3x3 convolution (the
            bottleneck's width d, 64 in conv2_x).
        stride: 1 or 2.
        expansion: the block outputs ``expansion * filters`` channels (>= 1;
            4 in the paper).
        stride_at: "1x1" (the paper) or "3x3" (v1.5).
        shortcut: "A", "B" (default), "C" (see :func:`shortcut_path`) or
            None for a plain block with no addition.
        attention: None, or a function ``attention(tensor, prefix) ->
            tensor`` applied to the branch just before the addition; it
            receives this block's prefix and must keep the shape.
        use_bias: whether the convolutions have biases (Keras's have).
        groups: groups of the 3x3 convolution (1, ResNet; ResNeXt's
            cardinality, 32 in ResNeXt-50); it must divide ``filters``.
        zero_init_residual: start the last batch normalization's scale at
            zero, so that the block computes ``relu(shortcut(x))`` at first
            (see :func:`basic_block`).
        prefix: prefix of the layer names: ``{prefix}1_conv`` ...
            ``3_bn``, ``add``, ``out`` (and the shortcut's layers).

    Returns:
        Keras tensor (batch, ceil(height / stride), ceil(width / stride),
        expansion * filters).

    Raises:
        ValueError: as :func:`basic_block`, and for ``expansion`` < 1 (or
            an output wider than :data:`MAX_FILTERS`), a ``stride_at`` other
            than "1x1" or "3x3", or ``groups`` < 1 or not dividing
            ``filters``.

    Introduced in the ResNet chapter.
    """
    _, filters, stride, shortcut, use_bias, prefix = _check_block_args(
        x, filters, stride, shortcut, attention, use_bias, prefix)
    expansion = _check_expansion(expansion, filters)
    stride_at = _checks.choice(stride_at, STRIDE_AT, "stride_at")
    groups = _check_groups(groups, (filters,))
    zero = _checks.boolean(zero_init_residual, "zero_init_residual")
    first, middle = (stride, 1) if stride_at == "1x1" else (1, stride)
    inputs = x
    x = _conv_bn(x, filters, 1, first, f"{prefix}1", use_bias=use_bias, relu=True)
    x = _conv_bn(x, filters, 3, middle, f"{prefix}2", use_bias=use_bias, relu=True,
                 groups=groups)
    x = _conv_bn(x, expansion * filters, 1, 1, f"{prefix}3", use_bias=use_bias,
                 relu=False, zero_gamma=zero)
    return _finish(x, inputs, expansion * filters, stride, shortcut, attention,
                   use_bias, prefix)


def _check_expansion(expansion, widest: int) -> int:
    expansion = _checks.integer_at_least(expansion, "expansion", 1,
                                         "The paper uses 4.")
    if expansion * widest > MAX_FILTERS:
        raise ValueError(
            f"Expected expansion * filters to be at most {MAX_FILTERS:,}; "
            f"received expansion={expansion} with {widest:,} filters. The "
            "paper uses 4.")
    return expansion


def _check_groups(groups, widths) -> int:
    groups = _checks.integer_at_least(groups, "groups", 1,
                                      "Use 1 for ResNet, 32 for ResNeXt-50.")
    for width in widths:
        if width % groups:
            raise ValueError(
                f"Expected groups to divide the 3x3 convolution's {width} "
                f"filters; received groups={groups}. Choose a divisor of "
                f"{width}, e.g. {math.gcd(width, groups)}.")
    return groups


def _check_depth(depth) -> int:
    if (isinstance(depth, bool) or not isinstance(depth, numbers.Integral)
            or int(depth) not in RESNET_STAGES):
        raise ValueError(
            f"Expected depth to be one of {', '.join(map(str, RESNET_STAGES))} "
            f"(the columns of the paper's Table 1); received {depth!r}. For another "
            "number of blocks per stage pass stages=((width, blocks), ...).")
    return int(depth)


def _depth_and_stages(depth, stages, *, max_blocks=MAX_BLOCKS):
    """(depth, block kind, (width, blocks) rows): the table's, or ``stages`` checked."""
    depth = _check_depth(depth)
    kind, blocks = RESNET_STAGES[depth]
    if stages is None:
        return depth, kind, tuple(zip(STAGE_WIDTHS, blocks))
    rows = _checks.stage_table(stages, ("width", "blocks"))
    for i, (width, count) in enumerate(rows):
        if width > MAX_FILTERS or (max_blocks is not None and count > max_blocks):
            # resnet_cost sets no limit on the blocks (max_blocks=None).
            blocks = ("" if max_blocks is None
                      else f" and at most {max_blocks:,} blocks")
            raise ValueError(
                f"Expected every row of stages to have a width of at most "
                f"{MAX_FILTERS:,}{blocks}; row {i} "
                f"is {(width, count)!r}. Check the row for a typo.")
    return depth, kind, rows


def _check_classes(classes) -> int:
    classes = _checks.positive_int(classes, "classes")
    if classes > MAX_FILTERS:
        raise ValueError(
            f"Expected classes to be at most {MAX_FILTERS:,}; received "
            f"{classes:,}. ImageNet has 1,000.")
    return classes


def _check_bottleneck_only(kind, depth, expansion, stride_at, groups):
    """Refuse bottleneck options for a basic-block depth instead of ignoring them."""
    if kind != "basic":
        return
    for name, value, neutral in (("expansion", expansion, 4),
                                 ("stride_at", stride_at, "1x1"),
                                 ("groups", groups, 1)):
        if value != neutral:
            raise ValueError(
                f"Expected {name}={neutral!r} for ResNet-{depth}, whose basic "
                f"blocks have no 1x1 convolutions; received {name}="
                f"{value!r}. Use depth 50, 101 or 152 for bottleneck blocks.")


def stage_output_names(depth=50) -> tuple[str, ...]:
    """The names of the layers that end each stage: ``conv{i}_block{n}_out``.

    These are the feature maps a detector's feature pyramid reads (C2..C5 of
    ResNet-50 are ``conv2_block3_out``, ``conv3_block4_out``,
    ``conv4_block6_out``, ``conv5_block3_out``, as in Keras's ResNet50).

    Args:
        depth: one of the depths of :data:`RESNET_STAGES`, or a sequence of
            blocks per stage (for :func:`resnet_small` or a custom table);
            the first stage is called conv2.

    Returns:
        A tuple of layer names, one per stage.

    Raises:
        ValueError: for an unknown depth or a malformed sequence.

    Introduced in the ResNet chapter.
    """
    if isinstance(depth, (tuple, list)):
        rows = _checks.stage_table([(n,) for n in depth] if all(
            not isinstance(n, (tuple, list)) for n in depth) else depth,
            ("blocks",), "depth (blocks per stage)")
        blocks = [row[0] for row in rows]
    else:
        blocks = RESNET_STAGES[_check_depth(depth)][1]
    return tuple(f"conv{i + 2}_block{n}_out" for i, n in enumerate(blocks))


def _stack(x, kind, stages, *, first_stride, expansion, stride_at, shortcut,
           attention, use_bias, groups=1):
    """All residual stages: (width, blocks) rows, stride 2 at each later stage."""
    for i, (width, count) in enumerate(stages):
        for j in range(count):
            stride = (first_stride if i == 0 else 2) if j == 0 else 1
            prefix = f"conv{i + 2}_block{j + 1}_"
            if kind == "basic":
                x = basic_block(x, width, stride, shortcut=shortcut,
                                attention=attention, use_bias=use_bias,
                                prefix=prefix)
            else:
                x = bottleneck_block(x, width, stride, expansion=expansion,
                                     stride_at=stride_at, shortcut=shortcut,
                                     attention=attention, use_bias=use_bias,
                                     groups=groups, prefix=prefix)
    return x


def _layer_count(kind: str, stages) -> int:
    """Weighted layers: the stem, 2 or 3 per block, and the classifier."""
    per_block = 2 if kind == "basic" else 3
    return 2 + per_block * sum(count for _, count in stages)


def resnet(depth: int = 50, input_shape=(224, 224, 3), classes: int = 1000, *,
           include_top: bool = True, stride_at: str = "1x1", shortcut="B",
           attention=None, use_bias: bool = False, stages=None,
           expansion: int = 4, groups: int = 1, name: str | None = None):
    """ResNet for ImageNet, from the paper's Table 1.

    A 7x7 convolution with 64 filters and stride 2, batch normalization,
    ReLU and 3x3 max pooling with stride 2 (the stem, ``conv1`` and
    ``pool1``), then four stages conv2_x..conv5_x of basic (ResNet-18, -34)
    or bottleneck (ResNet-50, -101, -152) blocks, the first block of
    conv3_x..conv5_x with stride 2, then global average pooling and a
    softmax classifier. The layers are named as in
    ``keras.applications.ResNet50``; with ``use_bias=True`` (biases in every
    convolution, as Keras has) ResNet-50, -101 and -152 have exactly Keras's
    parameters and multiply-accumulates.

    Paper: He et al., "Deep Residual Learning for Image Recognition", CVPR
    2016 (arXiv:1512.03385), Table 1.

    Args:
        depth: 18, 34, 50, 101 or 152 (a key of :data:`RESNET_STAGES`); it
            picks the block and the blocks per stage.
        input_shape: (height, width, 3), at least 32x32 (the total stride).
        classes: output classes of the classifier (>= 1).
        include_top: whether to end with pooling and the classifier; without
            it the model ends at the last block's output.
        stride_at: "1x1" (the paper) or "3x3" (v1.5); bottleneck blocks only.
        shortcut: "A", "B" (the paper's ImageNet models) or "C"; None
            builds the plain network of the same depth.
        attention: None, or ``attention(tensor, prefix) -> tensor`` applied
            to every block's branch before the addition (squeeze-and-
            excitation).
        use_bias: biases in the convolutions (False as in the paper; True
            reproduces Keras's parameter count).
        stages: None for the depth's table, or ((width, blocks), ...) rows
            to override it, e.g. ((64, 2), (128, 2)); the block kind still
            comes from ``depth``.
        expansion: a bottleneck block's output channels over its width (4).
        groups: groups of every bottleneck's 3x3 convolution (1; ResNeXt-50
            (32x4d) is ``groups=32``, ``expansion=2`` and the widths
            128, 256, 512, 1024).
        name: model name; defaults to ``f"resnet{layers}"``, the weighted
            layers counted.

    Returns:
        An uncompiled ``keras.Model``.

    Raises:
        ValueError: for an unknown depth, an input shape that is not
            (height, width, 3) or is smaller than 32x32, ``classes`` < 1, a
            non-boolean flag, an unknown ``stride_at`` or ``shortcut``, an
            attention that is not callable, a malformed stage table (or
            one wider than :data:`MAX_FILTERS` or deeper than
            :data:`MAX_BLOCKS`), ``expansion`` < 1, ``groups`` that do not
            divide the widths, bottleneck options (``expansion``,
            ``stride_at``, ``groups``) for a basic-block depth, or a name
            that is not a non-empty string.

    Introduced in the ResNet chapter.
    """
    import keras

    depth, kind, stages = _depth_and_stages(depth, stages)
    min_size = 2 ** (len(stages) + 1)
    input_shape = _checks.image_input_shape(input_shape, min_size=min_size)
    classes = _check_classes(classes)
    include_top = _checks.boolean(include_top, "include_top")
    stride_at = _checks.choice(stride_at, STRIDE_AT, "stride_at")
    _check_shortcut(shortcut)
    if attention is not None and not callable(attention):
        raise ValueError(
            "Expected attention to be None or a function attention(tensor, prefix) "
            f"-> tensor; received {type(attention).__name__}.")
    use_bias = _checks.boolean(use_bias, "use_bias")
    expansion = _check_expansion(expansion, max(w for w, _ in stages))
    groups = _check_groups(groups, [w for w, _ in stages] if kind != "basic"
                           else [])
    _check_bottleneck_only(kind, depth, expansion, stride_at, groups)
    name = _checks.name_or_none(name)

    inputs = keras.Input(shape=input_shape, name="input_layer")
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = keras.layers.Conv2D(64, 7, strides=2, use_bias=use_bias,
                            name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=_BN_EPSILON, name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = _stack(x, kind, stages, first_stride=1, expansion=expansion,
               stride_at=stride_at, shortcut=shortcut, attention=attention,
               use_bias=use_bias, groups=groups)
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=name or f"resnet{_layer_count(kind, stages)}")


def resnet_small(blocks: int = 3, input_shape=(32, 32, 3), classes: int = 10, *,
                 widths=(16, 32, 64), shortcut="A", attention=None,
                 classifier_activation="softmax", name: str | None = None):
    """The paper's CIFAR-10 ResNet: 6n + 2 layers on 32x32 images.

    A 3x3 convolution with ``widths[0]`` filters, batch normalization and
    ReLU (``conv1``), then one stage per width of ``blocks`` basic blocks
    each (stages conv2_x, conv3_x, ...; the first block of every later stage
    halves the feature map), global average pooling and a classifier. With
    the defaults (n = 3, widths 16, 32, 64, option A shortcuts) this is the
    paper's ResNet-20. ``shortcut=None`` builds the plain counterpart: the
    same layers without the additions, the network of the degradation
    experiment.

    Paper: He et al. 2016 (arXiv:1512.03385), section 4.2.

    Args:
        blocks: basic blocks per stage, n (>= 1).
        input_shape: (height, width, 3), at least 2 ** (stages - 1) pixels.
        classes: output classes (>= 1).
        widths: filters per stage (each >= 1), one stage per entry.
        shortcut: "A" (the paper's choice here), "B", "C", or None (plain).
        attention: as in :func:`resnet`.
        classifier_activation: "softmax" or None for logits.
        name: model name; defaults to ``f"resnet{6n+2}_small"`` or
            ``f"plain{6n+2}_small"``.

    Returns:
        An uncompiled ``keras.Model``.

    Raises:
        ValueError: for ``blocks`` < 1, a bad input shape, ``classes`` < 1,
            malformed widths, an unknown shortcut or activation, an
            attention that is not callable, or a bad name.

    Introduced in the ResNet chapter.
    """
    import keras

    blocks = _checks.integer_at_least(blocks, "blocks", 1,
                                      "The paper uses n = 3, 5, 7, 9 or 18.")
    if blocks > MAX_BLOCKS:
        raise ValueError(
            f"Expected blocks to be at most {MAX_BLOCKS:,}; received "
            f"{blocks:,}. The paper's deepest CIFAR-10 network has n = 200.")
    known = isinstance(widths, (tuple, list)) and all(
        isinstance(w, numbers.Integral) and not isinstance(w, bool)
        and 1 <= w <= MAX_FILTERS for w in widths)
    if not known or not widths:
        raise ValueError(
            "Expected widths to be a non-empty sequence of positive filters per "
            f"stage (at most {MAX_FILTERS:,}), e.g. (16, 32, 64); received "
            f"{widths!r}.")
    stages = tuple((int(w), blocks) for w in widths)
    input_shape = _checks.image_input_shape(input_shape,
                                            min_size=2 ** (len(stages) - 1))
    classes = _check_classes(classes)
    _check_shortcut(shortcut)
    if attention is not None and not callable(attention):
        raise ValueError(
            "Expected attention to be None or a function attention(tensor, prefix) "
            f"-> tensor; received {type(attention).__name__}.")
    classifier_activation = _checks.choice(classifier_activation,
                                           ("softmax", None), "classifier_activation")
    name = _checks.name_or_none(name)

    inputs = keras.Input(shape=input_shape, name="input_layer")
    x = keras.layers.Conv2D(stages[0][0], 3, padding="same", use_bias=False,
                            name="conv1_conv")(inputs)
    x = keras.layers.BatchNormalization(epsilon=_BN_EPSILON, name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    x = _stack(x, "basic", stages, first_stride=1, expansion=1, stride_at="1x1",
               shortcut=shortcut, attention=attention, use_bias=False)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dense(classes, activation=classifier_activation,
                           name="predictions")(x)
    layers = _layer_count("basic", stages)
    default = f"{'plain' if shortcut is None else 'resnet'}{layers}_small"
    return keras.Model(inputs, x, name=name or default)


@dataclass(frozen=True)
class ResNetCost:
    """What :func:`resnet_cost` counts for one network.

    Attributes:
        layers: weighted layers (convolutions of the stem and the residual
            branches, and the classifier), the number in the network's name.
        params: parameters as Keras's ``count_params`` reports them (batch
            normalization's four numbers per channel included).
        macs: multiply-accumulates for one image, the classifier included.
        stage_params: parameters of each stage conv2_x, conv3_x, ...
        stage_macs: MACs of each stage.
    """

    layers: int
    params: int
    macs: int
    stage_params: tuple[int, ...]
    stage_macs: tuple[int, ...]


def resnet_cost(depth: int = 50, *, stages=None, expansion: int = 4,
                input_size: int = 224, classes: int = 1000, shortcut="B",
                stride_at: str = "1x1", use_bias: bool = False,
                groups: int = 1) -> ResNetCost:
    """Parameters and MACs of :func:`resnet`'s network, by formula, without Keras.

    Walks the same table as :func:`resnet` and adds each convolution's
    ``k * k * C_in * C_out`` weights (plus four batch-normalization numbers
    per output channel, and a bias per filter with ``use_bias``) and its
    ``H' * W' * k * k * C_in * C_out`` MACs (divided by ``groups`` for a
    grouped 3x3). The blocks after the first of a stage are all alike, so it
    counts one and multiplies: it takes microseconds whatever the depth, and
    an explorer can redraw on every change. The ResNet chapter checks it
    against :func:`conv1x1.cost.layer_costs` of the built model.

    Paper: He et al. 2016 (arXiv:1512.03385), Table 1.

    Args:
        depth, stages, expansion, classes, shortcut, stride_at, use_bias,
            groups: as in :func:`resnet` (``shortcut=None`` counts the plain
            network); ``stages`` may have any number of blocks.
        input_size: height and width of the square input (>= 32).

    Returns:
        A :class:`ResNetCost`.

    Raises:
        ValueError: for the arguments :func:`resnet` refuses, or an
            ``input_size`` below the network's total stride.

    Introduced in the ResNet chapter.
    """
    depth, kind, stages = _depth_and_stages(depth, stages, max_blocks=None)
    expansion = _check_expansion(expansion, max(w for w, _ in stages))
    size = _checks.integer_at_least(input_size, "input_size",
                                    2 ** (len(stages) + 1),
                                    "The network's total stride must fit.")
    classes = _check_classes(classes)
    _check_shortcut(shortcut)
    stride_at = _checks.choice(stride_at, STRIDE_AT, "stride_at")
    extra = 4 + _checks.boolean(use_bias, "use_bias")  # per output channel
    groups = _check_groups(groups, [w for w, _ in stages] if kind != "basic"
                           else [])
    _check_bottleneck_only(kind, depth, expansion, stride_at, groups)

    def conv(h_out, k, c_in, c_out, g=1):
        weights = k * k * (c_in // g) * c_out
        return weights + extra * c_out, h_out * h_out * weights

    size = -(-size // 2)
    params, macs = conv(size, 7, 3, 64)
    size = -(-size // 2)
    c_in = 64
    stage_params, stage_macs = [], []
    for i, (width, count) in enumerate(stages):
        p_stage = m_stage = 0
        # The first block, and one of the (count - 1) blocks that follow it,
        # which all have the same shapes.
        for j, repeat in ((0, 1), (1, count - 1)):
            if not repeat:
                continue
            stride = 2 if i > 0 and j == 0 else 1
            h_out = -(-size // stride)
            if kind == "basic":
                out = width
                convs = [conv(h_out, 3, c_in, width), conv(h_out, 3, width, width)]
            else:
                out = expansion * width
                first = h_out if stride_at == "1x1" else size
                convs = [conv(first, 1, c_in, width),
                         conv(h_out, 3, width, width, groups),
                         conv(h_out, 1, width, out)]
            changes = stride != 1 or c_in != out
            if shortcut == "C" or (shortcut == "B" and changes):
                convs.append(conv(h_out, 1, c_in, out))
            p_stage += repeat * sum(p for p, _ in convs)
            m_stage += repeat * sum(m for _, m in convs)
            c_in, size = out, h_out
        stage_params.append(p_stage)
        stage_macs.append(m_stage)
    params += sum(stage_params) + c_in * classes + classes
    macs += sum(stage_macs) + c_in * classes
    return ResNetCost(_layer_count(kind, stages), params, macs, tuple(stage_params),
                      tuple(stage_macs))

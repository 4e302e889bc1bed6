"""Tensor-in, tensor-out building blocks of the architectures in the course.

Each builder takes a Keras tensor and returns a Keras tensor; its layers are
named from a ``prefix`` so a chapter can ``model.get_layer(...)`` any of them.
"""

from __future__ import annotations

from conv1x1._checks import integer_at_least


# --------------------------------------------------------------------------
# Argument checks shared by the blocks.

def _expect_stride(stride) -> int:
    if isinstance(stride, bool) or stride not in (1, 2):
        raise ValueError(
            f"Expected stride to be 1 or 2; received {stride!r}. MobileNet blocks "
            "either keep the spatial size (1) or halve it (2)."
        )
    return int(stride)


def _expect_odd_kernel(kernel_size) -> int:
    kernel_size = integer_at_least(
        kernel_size, "kernel_size", 3, "Use an odd depthwise kernel such as 3 or 5.")
    if kernel_size % 2 == 0:
        raise ValueError(
            f"Expected an odd kernel_size (3, 5, 7, ...); received {kernel_size}. "
            "An even kernel has no centre pixel."
        )
    return kernel_size


def _expect_momentum(bn_momentum) -> float:
    import numbers

    if (isinstance(bn_momentum, bool) or not isinstance(bn_momentum, numbers.Real)
            or not 0 <= bn_momentum < 1):
        raise ValueError(
            f"Expected bn_momentum in [0, 1); received {bn_momentum!r}. Keras's "
            "default is 0.99; use about 0.9 for training runs of a few hundred steps."
        )
    return float(bn_momentum)


def _expect_feature_map(x, name: str = "x"):
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 4 or shape[-1] is None:
        raise ValueError(
            f"Expected {name} to be a Keras tensor of shape (batch, height, width, "
            f"channels) with a known channel count; received shape {shape}. Start "
            "from keras.Input(shape=(height, width, channels))."
        )
    return shape


# --------------------------------------------------------------------------
# MobileNet v1 and v2 blocks (introduced in the MobileNet chapter).

def _strided_depthwise(x, kernel_size: int, stride: int, prefix: str, name: str):
    """A bias-free depthwise convolution; stride 2 pads explicitly, as Keras's MobileNet."""
    import keras

    if stride == 1:
        padding = "same"
    else:
        # (k - 2) zeros in total, fewer on top and left: for an even input this is
        # exactly what padding="same" does; for an odd one the output is
        # floor(size / 2), as in keras.applications.MobileNet.
        total = kernel_size - 2
        pad = (total // 2, total - total // 2)
        x = keras.layers.ZeroPadding2D((pad, pad), name=f"{prefix}pad")(x)
        padding = "valid"
    return keras.layers.DepthwiseConv2D(kernel_size, strides=stride, padding=padding,
                                        use_bias=False, name=f"{prefix}{name}")(x)


def depthwise_separable(x, filters: int, stride: int = 1, *, prefix: str,
                        kernel_size: int = 3, bn_momentum: float = 0.99):
    """A depthwise separable convolution: depthwise k x k, then pointwise 1x1.

    The MobileNet v1 block factorises a standard convolution into a depthwise
    convolution, which filters each input channel on its own, and a 1x1
    (pointwise) convolution, which mixes the channels. Both are bias-free and
    followed by batch normalization and ReLU6, as in
    ``keras.applications.MobileNet``. With ``stride=2`` the input is
    zero-padded by one row and column at the bottom and right and the
    depthwise convolution uses "valid" padding, again as Keras does, so a
    network built from this block has exactly Keras's shapes and costs.

    Paper: Howard et al., "MobileNets: Efficient Convolutional Neural Networks
    for Mobile Vision Applications", 2017 (arXiv:1704.04861), Figure 3.

    Args:
        x: Keras tensor of shape (batch, height, width, channels).
        filters: output channels of the pointwise convolution (>= 1).
        stride: 1 or 2, the stride of the depthwise convolution.
        prefix: prefix of the layer names: ``{prefix}dw``, ``{prefix}dw_bn``,
            ``{prefix}dw_relu``, ``{prefix}pw``, ``{prefix}pw_bn``,
            ``{prefix}pw_relu`` (and ``{prefix}pad`` when ``stride=2``).
        kernel_size: odd size of the depthwise kernel (default 3).
        bn_momentum: momentum of the batch normalization moving statistics,
            in [0, 1) (Keras's default 0.99; parameter counts do not depend
            on it).

    Returns:
        Keras tensor of shape (batch, height', width', filters), with height'
        = height for stride 1 and floor(height / 2) for stride 2.

    Raises:
        ValueError: for a tensor that is not 4-D, ``filters`` < 1, a stride
            other than 1 or 2, or an even or too small ``kernel_size``, or ``bn_momentum`` outside [0, 1).

    Introduced in the MobileNet chapter.
    """
    from functools import partial

    import keras

    _expect_feature_map(x)
    filters = integer_at_least(filters, "filters", 1,
                                   "Pass the number of output channels.")
    stride = _expect_stride(stride)
    kernel_size = _expect_odd_kernel(kernel_size)
    bn = partial(keras.layers.BatchNormalization, momentum=_expect_momentum(bn_momentum))
    x = _strided_depthwise(x, kernel_size, stride, prefix, "dw")
    x = bn(name=f"{prefix}dw_bn")(x)
    x = keras.layers.ReLU(6.0, name=f"{prefix}dw_relu")(x)
    x = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{prefix}pw")(x)
    x = bn(name=f"{prefix}pw_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{prefix}pw_relu")(x)


def inverted_residual(x, filters: int, expansion: int = 6, stride: int = 1, *,
                      prefix: str, kernel_size: int = 3, bn_momentum: float = 0.99):
    """MobileNetV2's inverted residual block with a linear bottleneck.

    A 1x1 convolution expands the ``C`` input channels to ``expansion * C``
    (batch normalization, ReLU6; skipped when ``expansion == 1``), a depthwise
    convolution filters them spatially (batch normalization, ReLU6), and a
    second 1x1 convolution projects them down to ``filters`` channels with
    batch normalization and **no activation**: the bottleneck is linear. When
    the stride is 1 and ``filters`` equals ``C``, the input is added to the
    output. All convolutions are bias-free. With stride 2 the depthwise
    convolution pads as padding="same" does, which is what
    ``keras.applications.MobileNetV2`` computes.

    Paper: Sandler et al., "MobileNetV2: Inverted Residuals and Linear
    Bottlenecks", CVPR 2018 (arXiv:1801.04381), Table 1 and Figure 4.

    Args:
        x: Keras tensor of shape (batch, height, width, channels).
        filters: output channels of the projection (>= 1).
        expansion: expansion factor t (>= 1); the paper uses 6, and 1 in the
            first block, where the expansion layer is left out.
        stride: 1 or 2, the stride of the depthwise convolution.
        prefix: prefix of the layer names: ``{prefix}expand``,
            ``{prefix}expand_bn``, ``{prefix}expand_relu``,
            ``{prefix}depthwise``, ``{prefix}depthwise_bn``,
            ``{prefix}depthwise_relu``, ``{prefix}project``,
            ``{prefix}project_bn`` and ``{prefix}add`` for the residual.
        kernel_size: odd size of the depthwise kernel (default 3).
        bn_momentum: momentum of the batch normalization moving statistics,
            in [0, 1) (Keras's default 0.99; parameter counts do not depend
            on it).

    Returns:
        Keras tensor of shape (batch, height', width', filters), height' =
        ceil(height / stride).

    Raises:
        ValueError: for a tensor that is not 4-D, ``filters`` < 1,
            ``expansion`` < 1, a stride other than 1 or 2, or an even or too
            small ``kernel_size``, or ``bn_momentum`` outside [0, 1).

    Introduced in the MobileNet chapter.
    """
    from functools import partial

    import keras

    shape = _expect_feature_map(x)
    filters = integer_at_least(filters, "filters", 1,
                                   "Pass the number of output channels.")
    expansion = integer_at_least(
        expansion, "expansion", 1,
        "Use 1 for no expansion layer or the paper's 6 for a sixfold expansion.")
    stride = _expect_stride(stride)
    kernel_size = _expect_odd_kernel(kernel_size)
    bn = partial(keras.layers.BatchNormalization, momentum=_expect_momentum(bn_momentum))
    c_in = int(shape[-1])
    inputs = x
    if expansion > 1:
        x = keras.layers.Conv2D(expansion * c_in, 1, use_bias=False,
                                name=f"{prefix}expand")(x)
        x = bn(name=f"{prefix}expand_bn")(x)
        x = keras.layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    x = keras.layers.DepthwiseConv2D(kernel_size, strides=stride, padding="same",
                                     use_bias=False, name=f"{prefix}depthwise")(x)
    x = bn(name=f"{prefix}depthwise_bn")(x)
    x = keras.layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{prefix}project")(x)
    x = bn(name=f"{prefix}project_bn")(x)
    if stride == 1 and filters == c_in:
        x = keras.layers.Add(name=f"{prefix}add")([inputs, x])
    return x


# --------------------------------------------------------------------------
# SqueezeNet's fire module (introduced in the SqueezeNet chapter).

def fire_module(x, squeeze: int, expand1x1: int, expand3x3: int, *, prefix: str,
                enforce_paper_constraint: bool = False):
    """SqueezeNet's fire module: a 1x1 squeeze layer feeding a 1x1 + 3x3 expand layer.

    The squeeze layer is a 1x1 convolution with ``squeeze`` filters and ReLU;
    it cuts the number of channels that the 3x3 filters see. The expand layer
    applies, to the squeezed map, a 1x1 convolution with ``expand1x1``
    filters and a 3x3 convolution (``padding="same"``) with ``expand3x3``
    filters, each with ReLU, and concatenates the two on the channel axis.
    All convolutions have biases, as in the paper. The spatial size is kept.

    For ``C`` input channels the module has
    ``(C + 1) * s + (s + 1) * e1 + (9 * s + 1) * e3`` parameters, with
    ``s, e1, e3 = squeeze, expand1x1, expand3x3``.

    Paper: Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer
    parameters and <0.5MB model size", 2016 (arXiv:1602.07360), Section 3.2
    and Figure 1.

    Args:
        x: Keras tensor of shape (batch, height, width, channels).
        squeeze: filters of the squeeze layer, s1x1 in the paper (>= 1).
        expand1x1: 1x1 filters of the expand layer, e1x1 (>= 1).
        expand3x3: 3x3 filters of the expand layer, e3x3 (>= 1).
        prefix: prefix of the layer names: ``{prefix}squeeze1x1``,
            ``{prefix}expand1x1``, ``{prefix}expand3x3`` and
            ``{prefix}concat``.
        enforce_paper_constraint: if True, require s1x1 < e1x1 + e3x3 as the
            paper does, so that the squeeze layer really is narrower than
            the expand layer.

    Returns:
        Keras tensor of shape (batch, height, width, expand1x1 + expand3x3).

    Raises:
        ValueError: for a tensor that is not 4-D, a filter count that is not
            a positive integer, or (with ``enforce_paper_constraint``) a
            squeeze layer at least as wide as the expand layer.

    Introduced in the SqueezeNet chapter.
    """
    import keras

    _expect_feature_map(x)
    squeeze, expand1x1, expand3x3 = (
        integer_at_least(value, name, 1, "Every layer of a fire module needs at "
                                              "least one filter.")
        for value, name in ((squeeze, "squeeze"), (expand1x1, "expand1x1"),
                            (expand3x3, "expand3x3")))
    if enforce_paper_constraint and squeeze >= expand1x1 + expand3x3:
        raise ValueError(
            f"The paper requires s1x1 < e1x1 + e3x3; received squeeze={squeeze} with "
            f"expand1x1 + expand3x3 = {expand1x1 + expand3x3}. Use at most "
            f"{expand1x1 + expand3x3 - 1} squeeze filters, or pass "
            "enforce_paper_constraint=False."
        )
    s = keras.layers.Conv2D(squeeze, 1, activation="relu",
                            name=f"{prefix}squeeze1x1")(x)
    e1 = keras.layers.Conv2D(expand1x1, 1, activation="relu",
                             name=f"{prefix}expand1x1")(s)
    e3 = keras.layers.Conv2D(expand3x3, 3, padding="same", activation="relu",
                             name=f"{prefix}expand3x3")(s)
    return keras.layers.Concatenate(axis=-1, name=f"{prefix}concat")([e1, e3])

"""MobileNet: depthwise separable and inverted residual blocks, tables, builders.

Everything the MobileNet chapter builds is in this module, block next to
table next to builder, as in Keras's ``applications/mobilenet.py``:

* :func:`depthwise_separable`, MobileNet v1's block, and
  :func:`inverted_residual`, MobileNetV2's block with a linear bottleneck;
* :data:`MOBILENET_STAGES` (the paper's Table 1) and
  :data:`MOBILENET_SMALL_STAGES` (a five-layer network for 32x32 images);
* :func:`mobilenet` and :func:`mobilenet_small`, driven by those tables.

Blocks take a Keras tensor and return one; their layers are named from a
``prefix`` so that a chapter can ``model.get_layer(...)`` any of them.

Papers: Howard et al., "MobileNets: Efficient Convolutional Neural Networks
for Mobile Vision Applications", 2017 (arXiv:1704.04861); Sandler et al.,
"MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018
(arXiv:1801.04381).

Introduced in the MobileNet chapter.
"""

from __future__ import annotations

from conv1x1 import _checks

__all__ = [
    "MOBILENET_STAGES",
    "MOBILENET_SMALL_STAGES",
    "depthwise_separable",
    "inverted_residual",
    "mobilenet",
    "mobilenet_small",
]


# --------------------------------------------------------------------------
# Checks shared by the two blocks of this module.

def _odd_kernel(kernel_size) -> int:
    kernel_size = _checks.integer_at_least(
        kernel_size, "kernel_size", 3, "Use an odd depthwise kernel such as 3 or 5.")
    if kernel_size % 2 == 0:
        raise ValueError(
            f"Expected an odd kernel_size (3, 5, 7, ...); received {kernel_size}. "
            "An even kernel has no centre pixel.")
    return kernel_size


def _momentum(bn_momentum) -> float:
    return _checks.rate(
        bn_momentum, "bn_momentum",
        "Keras's default is 0.99; use about 0.9 for runs of a few hundred steps.")


# --------------------------------------------------------------------------
# MobileNet v1: the depthwise separable block.

def _strided_depthwise(x, kernel_size: int, stride: int, prefix: str, name: str):
    """A bias-free depthwise convolution; stride 2 pads as Keras's MobileNet."""
    import keras

    if stride == 1:
        padding = "same"
    else:
        # (k - 2) zeros in total, fewer on top and left: for an even input
        # this is what padding="same" does; for an odd one the output is
        # floor(size / 2), as in keras.applications.MobileNet.
        total = kernel_size - 2
        pad = (total // 2, total - total // 2)
        x = keras.layers.ZeroPadding2D((pad, pad), name=f"{prefix}pad")(x)
        padding = "valid"
    return keras.layers.DepthwiseConv2D(
        kernel_size, strides=stride, padding=padding, use_bias=False,
        name=f"{prefix}{name}")(x)


def _block_arguments(x, prefix, filters, stride, kernel_size, bn_momentum):
    """The checks both blocks share; returns them with a BatchNormalization maker."""
    from functools import partial

    import keras

    shape = _checks.feature_map(x)
    prefix = _checks.prefix(prefix)
    filters = _checks.integer_at_least(filters, "filters", 1,
                                       "Pass the number of output channels.")
    stride = _checks.stride(stride)
    kernel_size = _odd_kernel(kernel_size)
    bn = partial(keras.layers.BatchNormalization, momentum=_momentum(bn_momentum))
    return shape, prefix, filters, stride, kernel_size, bn


def depthwise_separable(x, filters: int, stride: int = 1, *, prefix: str,
                        kernel_size: int = 3, bn_momentum: float = 0.99):
    """A depthwise separable convolution: depthwise k x k, then pointwise 1x1.

    MobileNet v1's block factorises a standard convolution into a depthwise
    convolution, which filters each input channel on its own, and a 1x1
    (pointwise) convolution, which mixes the channels. Both are bias-free and
    followed by batch normalization and an activation. The paper writes
    ReLU; Keras's ``keras.applications.MobileNet`` and the authors' released
    TensorFlow implementation use ReLU6, min(max(x, 0), 6), and so does this
    block, so that a network built from it has exactly Keras's layers. With
    ``stride=2`` the input is zero-padded by one row and column at the bottom
    and right and the depthwise convolution uses "valid" padding, again as
    Keras does, so the shapes and costs are Keras's too.

    Paper: Howard et al., "MobileNets: Efficient Convolutional Neural
    Networks for Mobile Vision Applications", 2017 (arXiv:1704.04861),
    Figure 3.

    Args:
        x: symbolic Keras tensor of shape (batch, height, width, channels),
            e.g. from ``keras.Input``; at least 2x2 when ``stride=2``.
        filters: output channels of the pointwise convolution (>= 1).
        stride: the integer 1 or 2, the stride of the depthwise convolution.
        prefix: string that starts the layer names: ``{prefix}dw``,
            ``{prefix}dw_bn``, ``{prefix}dw_relu``, ``{prefix}pw``,
            ``{prefix}pw_bn``, ``{prefix}pw_relu`` (and ``{prefix}pad`` when
            ``stride=2``).
        kernel_size: odd size of the depthwise kernel (default 3).
        bn_momentum: momentum of the batch normalization moving statistics,
            in [0, 1) (Keras's default 0.99; parameter counts do not depend
            on it).

    Returns:
        Keras tensor of shape (batch, height', width', filters), with height'
        = height for stride 1 and floor(height / 2) for stride 2.

    Raises:
        ValueError: for an ``x`` that is not a symbolic 4-D Keras tensor
            (a numpy array is refused: the block builds a graph), a map
            smaller than 2x2 with stride 2, ``filters`` < 1, a stride other
            than the integer 1 or 2, an even or too small ``kernel_size``,
            ``bn_momentum`` outside [0, 1), or a prefix that is not a string.

    Introduced in the MobileNet chapter.
    """
    import keras

    shape, prefix, filters, stride, kernel_size, bn = _block_arguments(
        x, prefix, filters, stride, kernel_size, bn_momentum)
    if stride == 2:
        small = [d for d in shape[1:3] if d is not None and d < 2]
        if small:
            raise ValueError(
                f"depthwise_separable (prefix {prefix!r}): expected a map of at "
                f"least 2x2 for stride 2; received height x width "
                f"{shape[1]}x{shape[2]}. A stride-2 block halves the map "
                "(floor(size / 2)), so a 1-pixel map has nothing to halve: use "
                "stride=1 here or a larger input.")
    x = _strided_depthwise(x, kernel_size, stride, prefix, "dw")
    x = bn(name=f"{prefix}dw_bn")(x)
    x = keras.layers.ReLU(6.0, name=f"{prefix}dw_relu")(x)
    x = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{prefix}pw")(x)
    x = bn(name=f"{prefix}pw_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{prefix}pw_relu")(x)


# --------------------------------------------------------------------------
# MobileNetV2: the inverted residual block.

def inverted_residual(x, filters: int, expansion: int = 6, stride: int = 1, *,
                      prefix: str, kernel_size: int = 3,
                      bn_momentum: float = 0.99):
    """MobileNetV2's inverted residual block with a linear bottleneck.

    A 1x1 convolution expands the ``C`` input channels to ``expansion * C``
    (batch normalization, ReLU6; left out when ``expansion == 1``), a
    depthwise convolution filters them spatially (batch normalization,
    ReLU6), and a second 1x1 convolution projects them down to ``filters``
    channels with batch normalization and **no activation**: the bottleneck
    is linear. When the stride is 1 and ``filters`` equals ``C``, the input
    is added to the output. All convolutions are bias-free. With stride 2
    the depthwise convolution pads as padding="same" does, which is what
    ``keras.applications.MobileNetV2`` computes; any map size works.

    Paper: Sandler et al., "MobileNetV2: Inverted Residuals and Linear
    Bottlenecks", CVPR 2018 (arXiv:1801.04381), Table 1 and Figure 4.

    Args:
        x: symbolic Keras tensor of shape (batch, height, width, channels).
        filters: output channels of the projection (>= 1).
        expansion: expansion factor t (>= 1); the paper uses 6, and 1 in the
            first block, where the expansion layer is left out.
        stride: the integer 1 or 2, the stride of the depthwise convolution.
        prefix: string that starts the layer names: ``{prefix}expand``,
            ``{prefix}expand_bn``, ``{prefix}expand_relu``,
            ``{prefix}depthwise``, ``{prefix}depthwise_bn``,
            ``{prefix}depthwise_relu``, ``{prefix}project``,
            ``{prefix}project_bn`` and ``{prefix}add`` for the residual.
        kernel_size: odd size of the depthwise kernel (default 3).
        bn_momentum: momentum of the batch normalization moving statistics,
            in [0, 1).

    Returns:
        Keras tensor of shape (batch, height', width', filters), height' =
        ceil(height / stride).

    Raises:
        ValueError: for an ``x`` that is not a symbolic 4-D Keras tensor,
            ``filters`` < 1, ``expansion`` < 1, a stride other than the
            integer 1 or 2, an even or too small ``kernel_size``,
            ``bn_momentum`` outside [0, 1), or a prefix that is not a string.

    Introduced in the MobileNet chapter.
    """
    import keras

    shape, prefix, filters, stride, kernel_size, bn = _block_arguments(
        x, prefix, filters, stride, kernel_size, bn_momentum)
    expansion = _checks.integer_at_least(
        expansion, "expansion", 1,
        "Use 1 for no expansion layer or the paper's 6 for a sixfold expansion.")
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
# The stage tables and the builders.

#: MobileNet v1's thirteen depthwise separable layers, as (filters, stride),
#: after a first standard 3x3 convolution with 32 filters and stride 2
#: (Howard et al. 2017, Table 1).
# The widest layer a builder accepts: 4096 filters, four times MobileNet's
# widest, is about 70 million weights, already more than a laptop should hold
# for an experiment; a mistyped alpha of 1e6 would otherwise try to allocate
# about 10**18 of them.
MAX_FILTERS = 4096

MOBILENET_STAGES = (
    (64, 1),
    (128, 2), (128, 1),
    (256, 2), (256, 1),
    (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)

#: A five-layer MobileNet for 32x32 images that trains in seconds on a CPU,
#: after a first standard 3x3 convolution with 16 filters and stride 2.
MOBILENET_SMALL_STAGES = (
    (32, 1),
    (64, 2), (64, 1),
    (128, 2), (128, 1),
)


def _stages(stages) -> tuple[tuple[int, int], ...]:
    table = _checks.stage_table(stages, ("filters", "stride"))
    for i, (_, stride) in enumerate(table):
        _checks.stride(stride, name=f"the stride of stage {i} of stages")
    return table


def mobilenet(alpha: float = 1.0, input_shape=(224, 224, 3),
              classes: int = 1000, *, stages=MOBILENET_STAGES,
              first_filters: int = 32, dropout: float = 1e-3,
              bn_momentum: float = 0.99, classifier_activation="softmax",
              name: str | None = None):
    """MobileNet v1: a standard 3x3 convolution, then depthwise separable layers.

    The network reads like the paper's Table 1: a 3x3 convolution with
    ``first_filters`` filters and stride 2, then one
    :func:`depthwise_separable` layer per (filters, stride) row of
    ``stages``. The width multiplier ``alpha`` thins every layer to
    ``int(filters * alpha)`` channels; the resolution multiplier of the paper
    is the input size. The classifier is global average pooling (keeping a
    1x1 map), dropout, a 1x1 convolution to ``classes`` channels and a
    reshape: with the default arguments the model has the same layers,
    shapes, parameters and multiply-accumulates as
    ``keras.applications.MobileNet(weights=None)``. Nothing is downloaded.

    Paper: Howard et al., "MobileNets: Efficient Convolutional Neural
    Networks for Mobile Vision Applications", 2017 (arXiv:1704.04861),
    Table 1.

    Args:
        alpha: width multiplier, a finite number > 0 (the paper uses 1,
            0.75, 0.5 and 0.25).
        input_shape: (height, width, 3); height and width at least the
            network's total stride (32 for the default stages).
        classes: number of output classes (>= 1).
        stages: (filters, stride) per depthwise separable layer, positive
            integers, strides 1 or 2.
        first_filters: filters of the first standard convolution (stride 2).
        dropout: dropout rate before the classifier, in [0, 1).
        bn_momentum: momentum of every batch normalization's moving
            statistics, in [0, 1) (Keras's default 0.99).
        classifier_activation: activation of the output: the name of a
            Keras activation ("softmax"), a callable, or None for logits.
        name: model name, a non-empty string; defaults to
            ``mobilenet_{alpha:.2f}_{height}``.

    Returns:
        An uncompiled ``keras.Model`` with random weights.

    Raises:
        ValueError: for an ``alpha`` that is not a finite number > 0 (or so
            small that a layer has no filter, or so large that a layer has
            more than ``MAX_FILTERS``), an ``input_shape`` that is not
            (height, width, 3) or is smaller than the total stride,
            ``classes`` < 1, a malformed stage table, ``dropout`` or
            ``bn_momentum`` outside [0, 1), an unknown
            ``classifier_activation`` or a ``name`` that is not a string.

    Introduced in the MobileNet chapter.
    """
    import keras

    alpha = _checks.positive_number(
        alpha, "alpha (the width multiplier)",
        "The paper uses 1.0, 0.75, 0.5 and 0.25.")
    table = _stages(stages)
    first_filters = _checks.integer_at_least(
        first_filters, "first_filters", 1,
        "Pass the filters of the first convolution.")
    widths = [first_filters] + [filters for filters, _ in table]
    if int(min(widths) * alpha) < 1:
        raise ValueError(
            f"Expected alpha large enough for every layer to keep a filter; "
            f"received alpha={alpha}, which leaves int({min(widths)} * {alpha}) "
            f"= 0 filters. Use alpha >= {1 / min(widths):.4g}.")
    if int(max(widths) * alpha) > MAX_FILTERS:
        raise ValueError(
            f"Expected alpha small enough for every layer to have at most "
            f"{MAX_FILTERS:,} filters; received alpha={alpha}, which gives "
            f"the widest layer ({max(widths)} filters at alpha 1) about "
            f"{max(widths) * alpha:.3g} filters. "
            f"Use alpha <= {MAX_FILTERS / max(widths):.4g}; the paper's width "
            f"multipliers are at most 1.")
    total_stride = 2 ** (1 + sum(stride == 2 for _, stride in table))
    height, width, channels = _checks.image_input_shape(
        input_shape, channels=3, min_size=total_stride)
    classes = _checks.integer_at_least(classes, "classes", 1,
                                       "Pass the number of output classes.")
    dropout = _checks.rate(dropout, "dropout")
    bn_momentum = _momentum(bn_momentum)
    classifier_activation = _checks.activation(classifier_activation,
                                               "classifier_activation")
    name = _checks.name_or_none(name)

    inputs = keras.Input(shape=(height, width, channels))
    x = keras.layers.Conv2D(int(first_filters * alpha), 3, strides=2,
                            padding="same", use_bias=False, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(momentum=bn_momentum, name="conv1_bn")(x)
    x = keras.layers.ReLU(6.0, name="conv1_relu")(x)
    for index, (filters, stride) in enumerate(table, start=1):
        x = depthwise_separable(x, int(filters * alpha), stride,
                                prefix=f"block{index}_", bn_momentum=bn_momentum)
    x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.Conv2D(classes, 1, name="conv_preds")(x)
    x = keras.layers.Reshape((classes,), name="reshape")(x)
    outputs = keras.layers.Activation(classifier_activation,
                                      name="predictions")(x)
    return keras.Model(inputs, outputs,
                       name=name or f"mobilenet_{alpha:0.2f}_{height}")


def mobilenet_small(alpha: float = 1.0, input_shape=(32, 32, 3),
                    classes: int = 4, *, dropout: float = 0.0,
                    bn_momentum: float = 0.9, classifier_activation="softmax",
                    name: str | None = None):
    """A five-layer MobileNet for small images, for training demonstrations.

    The same design as :func:`mobilenet` (a strided 3x3 convolution with 16
    filters, then depthwise separable layers, global pooling and a 1x1
    classifier), with the stage table :data:`MOBILENET_SMALL_STAGES`: it
    downsamples by 8, so a 32x32 image ends as a 4x4 map with 128 channels.
    It trains in seconds on :func:`conv1x1.data.synthetic_shapes`. Its batch
    normalization momentum defaults to 0.9 rather than 0.99: a run of a few
    hundred steps leaves 0.99's moving statistics dominated by their initial
    values (0.99 ** 300 = 0.05), and the model then fails at inference.

    Paper: Howard et al. 2017 (arXiv:1704.04861), scaled down.

    Args:
        alpha: width multiplier, a finite number > 0.
        input_shape: (height, width, 3), height and width at least 8.
        classes: number of output classes (>= 1).
        dropout: dropout rate before the classifier, in [0, 1).
        bn_momentum: momentum of the batch normalization statistics.
        classifier_activation: activation of the output, as in
            :func:`mobilenet`.
        name: model name; defaults to ``mobilenet_small_{alpha:.2f}_{height}``.

    Returns:
        An uncompiled ``keras.Model``.

    Raises:
        ValueError: as :func:`mobilenet`.

    Introduced in the MobileNet chapter.
    """
    alpha = _checks.positive_number(alpha, "alpha (the width multiplier)")
    height, _, _ = _checks.image_input_shape(input_shape, channels=3,
                                             min_size=8)
    if _checks.name_or_none(name) is None:
        name = f"mobilenet_small_{alpha:0.2f}_{height}"
    return mobilenet(alpha, input_shape, classes, stages=MOBILENET_SMALL_STAGES,
                     first_filters=16, dropout=dropout, bn_momentum=bn_momentum,
                     classifier_activation=classifier_activation, name=name)

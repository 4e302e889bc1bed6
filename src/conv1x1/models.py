"""Whole networks built from :mod:`conv1x1.blocks`, driven by tables of stages."""

from __future__ import annotations

from conv1x1._checks import integer_at_least


# --------------------------------------------------------------------------
# MobileNet v1 (introduced in the MobileNet chapter).

#: MobileNet v1's thirteen depthwise separable layers, as (filters, stride),
#: after a first standard 3x3 convolution with 32 filters and stride 2
#: (Howard et al. 2017, Table 1).
MOBILENET_STAGES = (
    (64, 1),
    (128, 2), (128, 1),
    (256, 2), (256, 1),
    (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)

#: A five-layer MobileNet for 32x32 images that trains in seconds on a CPU.
MOBILENET_SMALL_STAGES = (
    (32, 1),
    (64, 2), (64, 1),
    (128, 2), (128, 1),
)


def _check_stages(stages) -> tuple[tuple[int, int], ...]:
    try:
        table = tuple((filters, stride) for filters, stride in stages)
    except (TypeError, ValueError):
        raise ValueError(
            "Expected stages to be a sequence of (filters, stride) pairs, e.g. "
            f"((64, 1), (128, 2)); received {stages!r}."
        ) from None
    if not table:
        raise ValueError("Expected at least one (filters, stride) stage; received none.")
    return table


def mobilenet(alpha: float = 1.0, input_shape=(224, 224, 3), classes: int = 1000, *,
              stages=MOBILENET_STAGES, first_filters: int = 32, dropout: float = 1e-3,
              bn_momentum: float = 0.99, classifier_activation="softmax",
              name: str | None = None):
    """MobileNet v1: a standard 3x3 convolution, then depthwise separable layers.

    The network is driven by ``stages``, a table of (filters, stride) pairs,
    one per :func:`conv1x1.blocks.depthwise_separable` layer. The width
    multiplier ``alpha`` thins every layer to ``int(filters * alpha)``
    channels; the resolution multiplier of the paper is the input size. The
    classifier is global average pooling (keeping a 1x1 map), dropout, a 1x1
    convolution to ``classes`` channels and a reshape: with the default
    arguments the model has the same layers, shapes, parameters and
    multiply-accumulates as ``keras.applications.MobileNet(weights=None)``.

    Paper: Howard et al., "MobileNets: Efficient Convolutional Neural Networks
    for Mobile Vision Applications", 2017 (arXiv:1704.04861), Table 1.

    Args:
        alpha: width multiplier, > 0 (the paper uses 1, 0.75, 0.5, 0.25).
        input_shape: (height, width, 3); height and width at least the
            network's total stride (32 for the default stages).
        classes: number of output classes (>= 1).
        stages: (filters, stride) per depthwise separable layer, strides 1 or 2.
        first_filters: filters of the first standard convolution (stride 2).
        dropout: dropout rate before the classifier, in [0, 1).
        bn_momentum: momentum of every batch normalization's moving
            statistics, in [0, 1) (Keras's default 0.99).
        classifier_activation: activation of the output ("softmax", or None
            for logits).
        name: model name; defaults to ``mobilenet_{alpha:.2f}_{height}``.

    Returns:
        An uncompiled ``keras.Model``.

    Raises:
        ValueError: for ``alpha`` <= 0 (or so small that a layer has no
            filter), an ``input_shape`` that is not (height, width, 3) or is
            smaller than the total stride, ``classes`` < 1, a malformed stage
            table, or ``dropout`` or ``bn_momentum`` outside [0, 1).

    Introduced in the MobileNet chapter.
    """
    import numbers

    import keras

    from conv1x1 import blocks

    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not alpha > 0:
        raise ValueError(
            f"Expected alpha (the width multiplier) to be a number > 0; received "
            f"{alpha!r}. The paper uses 1.0, 0.75, 0.5 and 0.25."
        )
    table = _check_stages(stages)
    first_filters = integer_at_least(
        first_filters, "first_filters", 1, "Pass the filters of the first convolution.")
    widths = [first_filters] + [filters for filters, _ in table]
    for filters, stride in table:
        integer_at_least(filters, "the filters of every stage", 1,
                                    "Each stage is a (filters, stride) pair.")
        blocks._expect_stride(stride)
    if int(min(widths) * alpha) < 1:
        raise ValueError(
            f"alpha={alpha} leaves a layer with int({min(widths)} * {alpha}) = 0 "
            f"filters; use alpha >= {1 / min(widths):.4g}."
        )
    if (not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3
            or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1
                   for d in input_shape)):
        raise ValueError(
            "Expected input_shape to be (height, width, 3) with positive integers; "
            f"received {input_shape!r}."
        )
    height, width, channels = (int(d) for d in input_shape)
    if channels != 3:
        raise ValueError(
            f"Expected input_shape with 3 channels (RGB), as in the paper and in "
            f"keras.applications.MobileNet; received {channels} channels in "
            f"{tuple(input_shape)}. Convert the images to RGB."
        )
    total_stride = 2 ** (1 + sum(stride == 2 for _, stride in table))
    if min(height, width) < total_stride:
        raise ValueError(
            f"Expected height and width of at least {total_stride}: the network "
            f"downsamples by {total_stride}; received input_shape "
            f"{tuple(input_shape)}. Use a larger input or fewer stride-2 stages."
        )
    classes = integer_at_least(classes, "classes", 1,
                                          "Pass the number of output classes.")
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) \
            or not 0 <= dropout < 1:
        raise ValueError(f"Expected dropout in [0, 1); received {dropout!r}.")

    bn_momentum = blocks._expect_momentum(bn_momentum)

    inputs = keras.Input(shape=(height, width, channels))
    x = keras.layers.Conv2D(int(first_filters * alpha), 3, strides=2, padding="same",
                            use_bias=False, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(momentum=bn_momentum, name="conv1_bn")(x)
    x = keras.layers.ReLU(6.0, name="conv1_relu")(x)
    for index, (filters, stride) in enumerate(table, start=1):
        x = blocks.depthwise_separable(x, int(filters * alpha), stride,
                                       prefix=f"block{index}_", bn_momentum=bn_momentum)
    x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.Conv2D(classes, 1, name="conv_preds")(x)
    x = keras.layers.Reshape((classes,), name="reshape")(x)
    outputs = keras.layers.Activation(classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name or f"mobilenet_{alpha:0.2f}_{height}")


def mobilenet_small(alpha: float = 1.0, input_shape=(32, 32, 3), classes: int = 4, *,
                    dropout: float = 0.0, bn_momentum: float = 0.9,
                    classifier_activation="softmax", name: str | None = None):
    """A five-layer MobileNet for small images, for training demonstrations.

    The same design as :func:`mobilenet` (a strided 3x3 convolution with 16
    filters, then depthwise separable layers, global pooling and a 1x1
    classifier), with the stage table :data:`MOBILENET_SMALL_STAGES`: it
    downsamples by 8, so a 32x32 image ends as a 4x4 map. It trains in
    seconds on :func:`conv1x1.data.synthetic_shapes`. Its batch
    normalization momentum defaults to 0.9 rather than 0.99: a run of a few
    hundred steps leaves 0.99's moving statistics dominated by their initial
    values (0.99 ** 300 = 0.05), and the model then fails at inference.

    Args:
        alpha: width multiplier, > 0.
        input_shape: (height, width, 3), height and width at least 8.
        classes: number of output classes (>= 1).
        dropout: dropout rate before the classifier, in [0, 1).
        bn_momentum: momentum of the batch normalization statistics.
        classifier_activation: activation of the output.
        name: model name; defaults to ``mobilenet_small_{alpha:.2f}_{height}``.

    Returns:
        An uncompiled ``keras.Model``.

    Raises:
        ValueError: as :func:`mobilenet`.

    Introduced in the MobileNet chapter.
    """
    if name is None and isinstance(input_shape, (tuple, list)) and input_shape \
            and isinstance(alpha, (int, float)):
        name = f"mobilenet_small_{float(alpha):0.2f}_{input_shape[0]}"
    return mobilenet(alpha, input_shape, classes, stages=MOBILENET_SMALL_STAGES,
                     first_filters=16, dropout=dropout, bn_momentum=bn_momentum,
                     classifier_activation=classifier_activation, name=name)


# --------------------------------------------------------------------------
# SqueezeNet (introduced in the SqueezeNet chapter).

#: conv1 of SqueezeNet v1.0 as (filters, kernel size, stride): 96 filters, 7x7/2.
SQUEEZENET_V1_0_STEM = (96, 7, 2)

#: The fire modules of SqueezeNet v1.0 as (s1x1, e1x1, e3x3), fire2 to fire9,
#: grouped into stages: a 3x3/2 max pooling follows conv1 and every stage but
#: the last, that is conv1, fire4 and fire8 (Iandola et al. 2016, Table 1).
SQUEEZENET_V1_0_STAGES = (
    ((16, 64, 64), (16, 64, 64), (32, 128, 128)),                      # fire2-4
    ((32, 128, 128), (48, 192, 192), (48, 192, 192), (64, 256, 256)),  # fire5-8
    ((64, 256, 256),),                                                 # fire9
)

#: conv1 of the small SqueezeNet for 32x32 images: 32 filters, 3x3/1.
SQUEEZENET_SMALL_STEM = (32, 3, 1)

#: Fire modules of the small SqueezeNet, fire2 to fire5, in two stages.
SQUEEZENET_SMALL_STAGES = (
    ((8, 16, 16), (8, 16, 16)),      # fire2-3, then max pooling
    ((16, 32, 32), (16, 32, 32)),    # fire4-5
)


def squeezenet_min_input_size(stem=SQUEEZENET_V1_0_STEM, n_stages: int = 3) -> int:
    """Smallest height and width a SqueezeNet with this stem and stages accepts.

    conv1 and the max poolings use "valid" padding, so each of them needs a
    window's worth of input: working backwards from a 1x1 output, every 3x3/2
    pooling needs ``2 * (n - 1) + 3`` pixels for ``n`` outputs and conv1
    ``stride * (n - 1) + kernel``. SqueezeNet v1.0 (three poolings) needs 35.

    Args:
        stem: conv1 as (filters, kernel size, stride).
        n_stages: number of stages of fire modules; there is one pooling
            after conv1 and one after every stage but the last.

    Returns:
        The minimum height (and width) in pixels.

    Raises:
        ValueError: for a malformed stem or ``n_stages`` < 1.

    Introduced in the SqueezeNet chapter.
    """
    _, kernel, stride = _squeezenet_stem(stem)
    n_stages = integer_at_least(n_stages, "n_stages", 1, "A SqueezeNet has at least one stage.")
    need = 1
    for _ in range(n_stages):          # conv1's pooling and one per stage but the last
        need = 2 * (need - 1) + 3
    return stride * (need - 1) + kernel


def _squeezenet_stem(stem) -> tuple[int, int, int]:
    if not isinstance(stem, (tuple, list)) or len(stem) != 3:
        raise ValueError(
            f"Expected stem to be (filters, kernel size, stride); received {stem!r}. "
            f"SqueezeNet v1.0 uses {SQUEEZENET_V1_0_STEM}."
        )
    return tuple(integer_at_least(v, f"stem[{i}] ({what})", 1,
                                  "Use positive integers, e.g. (96, 7, 2).")
                 for i, (v, what) in enumerate(zip(stem, ("filters", "kernel size", "stride"))))


def _squeezenet_stages(stages) -> tuple[tuple[tuple, ...], ...]:
    example = "e.g. (((16, 64, 64), (16, 64, 64)), ((32, 128, 128),))"
    if not isinstance(stages, (tuple, list)) or not stages:
        raise ValueError(
            f"Expected stages to be a non-empty sequence of stages, each a sequence of "
            f"(s1x1, e1x1, e3x3) triples, {example}; received {stages!r}."
        )
    for i, stage in enumerate(stages):
        if (not isinstance(stage, (tuple, list)) or not stage
                or not all(isinstance(f, (tuple, list)) and len(f) == 3 for f in stage)):
            raise ValueError(
                f"Expected stages[{i}] to be a non-empty sequence of (s1x1, e1x1, e3x3) "
                f"triples, {example}; received {stage!r}."
            )
    return tuple(tuple(tuple(f) for f in stage) for stage in stages)


def _squeezenet(input_shape, classes, stem, stages, dropout, name, final_relu):
    import numbers

    import keras

    from conv1x1.blocks import fire_module

    if (not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3
            or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 1
                       for d in input_shape)):
        raise ValueError(
            "Expected input_shape to be (height, width, channels) with positive "
            f"integers, e.g. (227, 227, 3); received {input_shape!r}."
        )
    classes = integer_at_least(classes, "classes", 1, "A classifier needs at least one class.")
    filters, kernel, stride = _squeezenet_stem(stem)
    stages = _squeezenet_stages(stages)
    if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Real)
            or not 0 <= dropout < 1):
        raise ValueError(
            f"Expected dropout to be a rate in [0, 1); received {dropout!r}. "
            "The paper uses 0.5; 0 leaves dropout out."
        )
    need = squeezenet_min_input_size(stem, len(stages))
    height, width = int(input_shape[0]), int(input_shape[1])
    if min(height, width) < need:
        raise ValueError(
            f"input_shape {tuple(input_shape)} is too small: conv1 ({kernel}x{kernel}/"
            f"{stride}) and {len(stages)} max poolings (3x3/2), all with 'valid' "
            f"padding, need a height and width of at least {need} pixels. Use an "
            f"input of {need}x{need} or larger."
        )

    inputs = keras.Input(shape=tuple(int(d) for d in input_shape), name="input")
    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="valid",
                            activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="valid", name="maxpool1")(x)
    number = 2
    for i, stage in enumerate(stages):
        for squeeze, expand1x1, expand3x3 in stage:
            x = fire_module(x, squeeze, expand1x1, expand3x3, prefix=f"fire{number}_")
            number += 1
        if i < len(stages) - 1:
            x = keras.layers.MaxPooling2D(3, strides=2, padding="valid",
                                          name=f"maxpool{number - 1}")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    # conv10 in v1.0, with a ReLU as in the authors' released model.
    x = keras.layers.Conv2D(classes, 1, activation="relu" if final_relu else None,
                            name=f"conv{number}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_avgpool")(x)
    outputs = keras.layers.Activation("softmax", name="softmax")(x)
    return keras.Model(inputs, outputs, name=name)


def squeezenet(input_shape=(227, 227, 3), classes: int = 1000, *,
               stem=SQUEEZENET_V1_0_STEM, stages=SQUEEZENET_V1_0_STAGES,
               dropout: float = 0.5, name: str = "squeezenet_v1_0"):
    """SqueezeNet v1.0: conv1, eight fire modules, conv10 and global average pooling.

    conv1 (96 filters, 7x7, stride 2, ReLU) is followed by 3x3/2 max pooling;
    then come the fire modules of ``stages`` (fire2, fire3, ...), with a 3x3/2
    max pooling after every stage but the last (after fire4 and fire8 in
    v1.0), dropout, a 1x1 convolution with ReLU to ``classes`` channels
    (conv10, with the ReLU of the authors' released model), global average pooling and softmax. conv1 and the poolings use
    "valid" padding, which gives the paper's output sizes 111, 55, 27 and 13
    for a 227x227 input. Layers are named as in the paper: ``conv1``,
    ``maxpool1``, ``fire2_squeeze1x1``, ..., ``maxpool4``, ``maxpool8``,
    ``conv10``. With the defaults the model has 1,248,424 parameters.

    Paper: Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer
    parameters and <0.5MB model size", 2016 (arXiv:1602.07360), Table 1.

    Args:
        input_shape: (height, width, channels); height and width at least
            :func:`squeezenet_min_input_size` (35 for v1.0).
        classes: number of classes (>= 1), the filters of the last 1x1 conv.
        stem: conv1 as (filters, kernel size, stride).
        stages: fire modules as stages of (s1x1, e1x1, e3x3) triples; see
            :data:`SQUEEZENET_V1_0_STAGES`.
        dropout: dropout rate before the last conv, in [0, 1); 0 leaves the
            layer out.
        name: the model's name.

    Returns:
        An uncompiled ``keras.Model`` with random weights (nothing is
        downloaded).

    Raises:
        ValueError: for a malformed input_shape, stem or stages, classes < 1,
            a dropout rate outside [0, 1), an input smaller than the minimum,
            or a fire module with a non-positive filter count.

    Introduced in the SqueezeNet chapter.
    """
    return _squeezenet(input_shape, classes, stem, stages, dropout, name, final_relu=True)


def squeezenet_small(input_shape=(32, 32, 3), classes: int = 4, *,
                     stem=SQUEEZENET_SMALL_STEM, stages=SQUEEZENET_SMALL_STAGES,
                     dropout: float = 0.0, name: str = "squeezenet_small"):
    """A small SqueezeNet for tiny images, trainable on a CPU in seconds.

    The same layout as :func:`squeezenet` (conv1, max pooling, fire modules
    with a pooling between stages, a 1x1 conv to ``classes``, global average
    pooling, softmax) with a 3x3/1 conv1 of 32 filters and four narrow fire
    modules, :data:`SQUEEZENET_SMALL_STAGES`. For 32x32 inputs the maps are
    30x30 after conv1, 14x14 after the first pooling and 6x6 after the
    second. The last 1x1 conv has no ReLU: its outputs are the logits, and
    a ReLU there can switch a class off for good early in a short training
    run (all its scores stuck at zero).

    Paper: Iandola et al. 2016 (arXiv:1602.07360), scaled down.

    Args:
        input_shape: (height, width, channels); at least 9x9 with the
            default stem and stages.
        classes: number of classes (>= 1).
        stem: conv1 as (filters, kernel size, stride).
        stages: fire modules as stages of (s1x1, e1x1, e3x3) triples.
        dropout: dropout rate before the last conv, in [0, 1).
        name: the model's name.

    Returns:
        An uncompiled ``keras.Model``.

    Raises:
        ValueError: as :func:`squeezenet`.

    Introduced in the SqueezeNet chapter.
    """
    return _squeezenet(input_shape, classes, stem, stages, dropout, name, final_relu=False)

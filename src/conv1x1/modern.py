"""1x1 convolutions in today's networks: shares, groups, MBConv, counters.

The closing architecture chapter follows the 1x1 convolution into the
networks a reader will use. This module holds what it computes:

* :data:`APPLICATIONS` (nine ``keras.applications`` models with their
  arXiv identifiers) and :func:`pointwise_shares`, which splits a model's
  MACs and parameters between 1x1 convolutions, Dense layers applied at
  every pixel and everything else;
* ShuffleNet's channel shuffle (:func:`channel_shuffle`), a small network of
  grouped 1x1 convolutions with and without it (:func:`grouped_network`),
  a task that needs information from two groups (:func:`cross_group_task`)
  and :func:`groups_reached`, which finds out by perturbation which output
  groups an input group can reach;
* EfficientNet's MBConv block (:func:`mbconv`), laid out as the course's
  inverted residual with squeeze-and-excitation between the depthwise and
  the projection, and :func:`copy_weights_by_name` to load another model's
  weights into it;
* :func:`dense_as_pointwise`, the 1x1 convolution that computes what a
  Dense layer computes on a feature map;
* :func:`profiler_float_ops`, TensorFlow's graph profiler's float
  operations by op type, for the table of counting conventions.

Papers: Zhang et al., "ShuffleNet", CVPR 2018 (arXiv:1707.01083); Tan and
Le, "EfficientNet", ICML 2019 (arXiv:1905.11946); Liu et al., "A ConvNet
for the 2020s", CVPR 2022 (arXiv:2201.03545).

Introduced in the chapter "1x1 convolutions in today's networks".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from conv1x1 import _checks, cost

__all__ = [
    "APPLICATIONS",
    "SHARE_KINDS",
    "Shares",
    "pointwise_shares",
    "build_application",
    "channel_shuffle",
    "grouped_network",
    "cross_group_task",
    "groups_reached",
    "channel_dependence",
    "mbconv",
    "copy_weights_by_name",
    "dense_as_pointwise",
    "profiler_float_ops",
]

#: Nine ``keras.applications`` models in the order their papers appeared on
#: arXiv, as (Keras builder, arXiv identifier, paper's year of publication).
APPLICATIONS = (
    ("VGG16", "1409.1556", 2015),
    ("InceptionV3", "1512.00567", 2016),
    ("ResNet50", "1512.03385", 2016),
    ("DenseNet121", "1608.06993", 2017),
    ("MobileNet", "1704.04861", 2017),
    ("MobileNetV2", "1801.04381", 2018),
    ("MobileNetV3Small", "1905.02244", 2019),
    ("EfficientNetB0", "1905.11946", 2019),
    ("ConvNeXtTiny", "2201.03545", 2022),
)

#: The kinds :func:`pointwise_shares` tells apart: 1x1 convolutions on a
#: feature map, Dense layers applied at every pixel of one, convolutions
#: with a larger window, depthwise convolutions (``DepthwiseConv2D`` or a
#: ``Conv2D`` with one group per channel), fully connected layers on
#: vectors (a 1x1 convolution on a 1x1 map included), and layers without
#: multiplications.
SHARE_KINDS = ("pointwise", "per_pixel_dense", "spatial", "depthwise",
               "fully_connected", "other")

_FROM_COST = {"pointwise": "pointwise", "conv": "spatial",
              "depthwise": "depthwise", "dense": "fully_connected",
              "other": "other"}


@dataclass(frozen=True)
class Shares:
    """A model's MACs and parameters by :data:`SHARE_KINDS`.

    Attributes:
        macs: MACs per kind, for one input image.
        params: parameters per kind, as Keras counts them.
        total_macs, total_params: the sums over all kinds.
    """

    macs: dict
    params: dict
    total_macs: int
    total_params: int

    def macs_pct(self, kind: str) -> float:
        """The share of the MACs in layers of ``kind``, in percent."""
        return 100.0 * self.macs[_kind(kind)] / self.total_macs

    def params_pct(self, kind: str) -> float:
        """The share of the parameters in layers of ``kind``, in percent."""
        return 100.0 * self.params[_kind(kind)] / self.total_params

    def pointwise_macs_pct(self) -> float:
        """1x1 convolutions and per-pixel Dense layers together, in %."""
        return self.macs_pct("pointwise") + self.macs_pct("per_pixel_dense")


def _kind(kind):
    return _checks.choice(kind, SHARE_KINDS, "kind")


def _walk(model, prefix=""):
    """(name, layer) for every layer, nested models' names as cost does."""
    import keras

    for layer in model.layers:
        name = prefix + layer.name
        if isinstance(layer, keras.Model):
            yield from _walk(layer, name + "/")
        else:
            yield name, layer


def _positions(shape) -> int:
    return math.prod(int(d) for d in tuple(shape)[1:-1])


def _share_kind(record, layer) -> str:
    import keras

    if layer is None:      # a half of a separable layer, a wrapped layer
        return _FROM_COST[record.kind]
    if (record.kind == "dense" and isinstance(layer, keras.layers.Dense)
            and _positions(layer.output.shape) > 1):
        return "per_pixel_dense"
    if (record.kind == "conv" and isinstance(layer, keras.layers.Conv2D)
            and layer.groups > 1
            and layer.groups == int(layer.input.shape[-1])):
        return "depthwise"
    return _FROM_COST[record.kind]


def pointwise_shares(model) -> Shares:
    """Split a model's MACs and parameters by :data:`SHARE_KINDS`.

    The counts are :func:`conv1x1.cost.layer_costs`'s; this function only
    sorts its records further. A ``Dense`` layer whose output has more than
    one position (ConvNeXt's ``pointwise_conv_1`` on a 56 x 56 map) is a
    1x1 convolution written another way and is ``"per_pixel_dense"``; a
    ``Conv2D`` with as many groups as input channels (ConvNeXt's 7x7
    layers) is ``"depthwise"``.

    Args:
        model: a built Keras model with known spatial sizes.

    Returns:
        A :class:`Shares`.

    Raises:
        ValueError: as :func:`conv1x1.cost.layer_costs` does.

    Introduced in the chapter "1x1 convolutions in today's networks".
    """
    records = cost.layer_costs(model)
    layers = dict(_walk(model))
    macs = dict.fromkeys(SHARE_KINDS, 0)
    params = dict.fromkeys(SHARE_KINDS, 0)
    for record in records:
        kind = _share_kind(record, layers.get(record.name))
        macs[kind] += record.macs
        params[kind] += record.params
    return Shares(macs, params, sum(macs.values()), sum(params.values()))


def build_application(name: str, size: int = 224):
    """A ``keras.applications`` model of :data:`APPLICATIONS`, no weights.

    Every model is built for ``size x size x 3`` images (InceptionV3 for
    299 x 299, its native size, when ``size`` is 224) with 1000 classes.

    Raises:
        ValueError: for a name that is not in :data:`APPLICATIONS`.

    Introduced in the chapter "1x1 convolutions in today's networks".
    """
    import keras

    names = [entry[0] for entry in APPLICATIONS]
    name = _checks.choice(name, names, "name")
    size = _checks.integer_at_least(size, "size", 75,
                                    "Keras's models need 75 pixels or more.")
    if name == "InceptionV3" and size == 224:
        size = 299
    return getattr(keras.applications, name)(
        weights=None, input_shape=(size, size, 3))


# --------------------------------------------------------------------------
# ShuffleNet: grouped 1x1 convolutions and the channel shuffle.

def _groups(groups, channels, what):
    groups = _checks.integer_at_least(groups, "groups", 1,
                                      "Use 2 or more groups.")
    if channels % groups:
        raise ValueError(
            f"Expected groups to divide the {channels} channels of {what}; "
            f"received groups={groups}. Choose a divisor of {channels}.")
    return groups


def channel_shuffle(x, groups: int, *, prefix: str):
    """ShuffleNet's channel shuffle: reshape to (g, n), transpose, flatten.

    Channel ``i * n + j`` (group ``i``, position ``j``) moves to position
    ``j * g + i``, so that each group of the next grouped layer receives
    ``n / g`` channels from every group of this one. It has no weights and
    no multiplications.

    Paper: Zhang et al. 2018 (arXiv:1707.01083), section 3.1, Figure 1.

    Args:
        x: symbolic 4-D Keras tensor with known height, width, channels.
        groups: g, which divides the channels.
        prefix: starts the three layer names (``{prefix}split``,
            ``{prefix}swap``, ``{prefix}merge``).

    Raises:
        ValueError: for a tensor that is not a 4-D Keras tensor with known
            sizes, or groups that do not divide its channels.

    Introduced in the chapter "1x1 convolutions in today's networks".
    """
    import keras

    shape = _checks.feature_map(x)
    prefix = _checks.prefix(prefix)
    if any(d is None for d in shape[1:]):
        raise ValueError(
            f"channel_shuffle needs known sizes; received shape {shape}. "
            "Build the model from keras.Input(shape=(H, W, C)).")
    height, width, channels = (int(d) for d in shape[1:])
    groups = _groups(groups, channels, "x")
    x = keras.layers.Reshape((height, width, groups, channels // groups),
                             name=f"{prefix}split")(x)
    x = keras.layers.Permute((1, 2, 4, 3), name=f"{prefix}swap")(x)
    return keras.layers.Reshape((height, width, channels),
                                name=f"{prefix}merge")(x)


def grouped_network(shuffle: bool, input_shape=(6, 6, 8), groups: int = 2,
                    width: int = 32, classes: int = 2, seed: int = 0):
    """Two grouped 1x1 convolutions, with or without a shuffle between.

    ``conv1`` (grouped 1x1, ReLU), the optional ``shuffle`` (see
    :func:`channel_shuffle`), ``conv2`` (grouped 1x1, ReLU), global average
    pooling and a Dense classifier. The two versions have the same layers
    with weights, so the same parameters and MACs.

    Args:
        shuffle: whether to shuffle the channels between the convolutions.
        input_shape: (height, width, channels); groups divide the channels.
        groups: g of both grouped convolutions.
        width: the channels of both convolutions (a multiple of g * g, so
            that the shuffle hands every group the same share of every
            other group).
        classes: outputs of the classifier.
        seed: seed of the weights' initialisation.

    Raises:
        ValueError: for a bad shape, groups or width.

    Introduced in the chapter "1x1 convolutions in today's networks".
    """
    import keras

    shuffle = _checks.boolean(shuffle, "shuffle")
    input_shape = _checks.image_input_shape(input_shape, channels=None)
    groups = _groups(groups, input_shape[-1], "the input")
    width = _checks.integer_at_least(width, "width", groups * groups)
    if width % (groups * groups):
        raise ValueError(
            f"Expected width to be a multiple of groups * groups = "
            f"{groups * groups}; received {width}.")
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Conv2D(width, 1, groups=groups, activation="relu",
                            name="conv1")(inputs)
    if shuffle:
        x = channel_shuffle(x, groups, prefix="shuffle_")
    x = keras.layers.Conv2D(width, 1, groups=groups, activation="relu",
                            name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(classes, activation="softmax",
                                 name="classifier")(x)
    name = "shuffled" if shuffle else "grouped"
    return keras.Model(inputs, outputs, name=name)


def cross_group_task(n: int, size: int = 6, channels: int = 8,
                     groups: int = 2, seed: int = 0):
    """Images whose label needs one channel of group 0 and one of group 1.

    Every channel is Gaussian noise (standard deviation 0.5). Channel 0
    (group 0) has ``a`` added and channel ``channels // groups`` (the first
    of group 1) has ``b``, with ``a`` and ``b`` uniform in
    [-1.5, -0.5] or [0.5, 1.5]. The label is 1 when ``a`` and ``b`` have
    the same sign: an exclusive or across two groups. A classifier whose
    score is a sum of a function of group 0 and one of group 1 cannot be
    right on more than three of the four sign patterns.

    Returns:
        ``(images, labels)``: float32 (n, size, size, channels), int (n,).

    Raises:
        ValueError: for a non-positive n or size, or groups that do not
            divide the channels (at least two groups).

    Introduced in the chapter "1x1 convolutions in today's networks".
    """
    n = _checks.positive_int(n, "n")
    size = _checks.positive_int(size, "size")
    channels = _checks.positive_int(channels, "channels")
    groups = _checks.integer_at_least(groups, "groups", 2,
                                      "The task needs two groups.")
    _groups(groups, channels, "the images")
    rng = np.random.default_rng(seed)
    images = 0.5 * rng.normal(size=(n, size, size, channels))
    a = rng.choice([-1.0, 1.0], n) * rng.uniform(0.5, 1.5, n)
    b = rng.choice([-1.0, 1.0], n) * rng.uniform(0.5, 1.5, n)
    images[..., 0] += a[:, None, None]
    images[..., channels // groups] += b[:, None, None]
    labels = (np.sign(a) == np.sign(b)).astype(int)
    return images.astype("float32"), labels


def _float32_rounding(values) -> float:
    """A change smaller than this in ``values`` is float32 rounding, not signal."""
    return 1e-6 * (1.0 + float(np.abs(values).max()))


def _quietly(fn, *args):
    """``fn(*args)`` with TensorFlow's Python warnings held back.

    Calling freshly built models eagerly (grouped convolutions compile a
    function per layer) makes TensorFlow warn about retracing; the warning
    is about speed, not correctness, and would fill a chapter's output.
    """
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        return fn(*args)
    finally:
        logger.setLevel(level)


def groups_reached(model, input_group: int, groups: int,
                   seed: int = 0) -> set:
    """The output groups of ``model`` that change when one input group does.

    Adds noise to the channels of ``input_group`` of a random input and
    returns the groups of the output's channels (``groups`` equal blocks)
    whose values change by more than float32 rounding. For a stack of grouped convolutions without a
    shuffle this is ``{input_group}``.

    Args:
        model: a Keras model from a 4-D map to a 4-D map.
        input_group: which of the ``groups`` blocks of input channels to
            perturb (0-based).
        groups: how many equal blocks the input and output channels form.
        seed: seed of the input and the perturbation.

    Raises:
        ValueError: for a group outside ``range(groups)`` or groups that do
            not divide the channels.

    Introduced in the chapter "1x1 convolutions in today's networks".
    """
    shape = tuple(model.input.shape)
    out_channels = int(model.output.shape[-1])
    groups = _groups(groups, int(shape[-1]), "the model's input")
    _groups(groups, out_channels, "the model's output")
    input_group = _checks.integer_at_least(input_group, "input_group", 0)
    if input_group >= groups:
        raise ValueError(
            f"Expected input_group in 0..{groups - 1}; "
            f"received {input_group}.")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, *shape[1:])).astype("float32")
    changed = x.copy()
    width = int(shape[-1]) // groups
    block = slice(input_group * width, (input_group + 1) * width)
    changed[..., block] += rng.normal(size=changed[..., block].shape)
    both = np.asarray(_quietly(model, np.concatenate([x, changed])))
    diff = np.abs(both[1] - both[0])
    per_group = diff.reshape(-1, groups, out_channels // groups)
    # Two rows of one batch may be summed in different orders, so a group the
    # change never reaches can still differ by float32 rounding (seen on some
    # processors): count a group only when it changes by more than that.
    rounding = _float32_rounding(both)
    return {g for g in range(groups) if per_group[:, g].max() > rounding}


def channel_dependence(model, seed: int = 0) -> np.ndarray:
    """Which output channels of ``model`` change with which input channels.

    Perturbs one input channel at a time (at every position of four random
    inputs, in one batch) and marks the output channels that change by
    more than float32 rounding.

    Args:
        model: a Keras model (or any callable) from (N, H, W, C_in) with
            known H, W, C_in to (N, ..., C_out).
        seed: seed of the inputs and perturbations.

    Returns:
        A boolean array of shape (C_in, C_out).

    Introduced in the chapter "1x1 convolutions in today's networks".
    """
    shape = tuple(int(d) for d in tuple(model.input.shape)[1:])
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(4, *shape)).astype("float32")
    channels = shape[-1]
    batch = [base]
    for c in range(channels):
        changed = base.copy()
        changed[..., c] += rng.normal(size=changed[..., c].shape) + 1.0
        batch.append(changed)
    out = np.asarray(_quietly(model, np.concatenate(batch)))
    out = out.reshape(channels + 1, 4, -1, out.shape[-1])
    diff = np.abs(out[1:] - out[:1]).max(axis=(1, 2))      # (C_in, C_out)
    return diff > _float32_rounding(out)


# --------------------------------------------------------------------------
# EfficientNet's MBConv.

def mbconv(x, filters: int, expansion: int = 6, stride: int = 1, *,
           prefix: str, kernel_size: int = 3, se_ratio: float | None = 0.25,
           activation: str = "swish"):
    """EfficientNet's MBConv: an inverted residual with SE and swish.

    The layers of :func:`conv1x1.mobilenet.inverted_residual` (expansion
    1x1, depthwise k x k, projection 1x1, each bias-free with batch
    normalization, the projection linear, the residual when shapes allow),
    with the activation as an argument (EfficientNet's swish, x sigmoid(x))
    and a squeeze-and-excitation block between the depthwise convolution
    and the projection, built as :func:`conv1x1.squeeze_excitation.se_block`
    is: global average pooling, a 1x1 convolution to
    ``max(1, int(C_in * se_ratio))`` channels (with the block's activation),
    a 1x1 convolution back (sigmoid), a product. EfficientNet sizes the
    squeeze from the block's *input* channels C_in, not the expanded ones.

    Layer names follow ``keras.applications.EfficientNetB0``'s
    (``{prefix}expand_conv``, ``{prefix}dwconv``, ``{prefix}se_reduce``,
    ``{prefix}project_conv``, ...), so that weights copy across by name.
    With stride 2 the depthwise convolution uses padding "same", which for
    an even input is the padding Keras's EfficientNet adds by hand.

    Paper: Tan and Le 2019 (arXiv:1905.11946), section 4 and Table 1.

    Args:
        x: symbolic Keras tensor (batch, height, width, C_in).
        filters: output channels of the projection.
        expansion: expansion factor (1 leaves the expansion out).
        stride: 1 or 2, of the depthwise convolution.
        prefix: starts every layer name.
        kernel_size: odd depthwise kernel size (3 or 5 in EfficientNet).
        se_ratio: squeeze channels as a fraction of C_in, in (0, 1]; None
            for no squeeze-and-excitation.
        activation: a Keras activation name ("swish", "relu6", ...).

    Raises:
        ValueError: for a tensor that is not a 4-D Keras tensor, filters or
            expansion below 1, a stride other than 1 or 2, an even kernel,
            a se_ratio outside (0, 1], or a prefix that is not a string.

    Introduced in the chapter "1x1 convolutions in today's networks".
    """
    import keras

    shape = _checks.feature_map(x)
    prefix = _checks.prefix(prefix)
    filters = _checks.integer_at_least(filters, "filters", 1)
    expansion = _checks.integer_at_least(expansion, "expansion", 1)
    stride = _checks.stride(stride)
    kernel_size = _checks.integer_at_least(kernel_size, "kernel_size", 1)
    if kernel_size % 2 == 0:
        raise ValueError(f"Expected an odd kernel_size; received "
                         f"{kernel_size}. Use 3 or 5.")
    if se_ratio is not None:
        se_ratio = _checks.positive_number(se_ratio, "se_ratio")
        if se_ratio > 1:
            raise ValueError(f"Expected se_ratio in (0, 1] or None; "
                             f"received {se_ratio}. EfficientNet uses 0.25.")
    activation = _checks.activation(activation)
    c_in = int(shape[-1])
    hidden = c_in * expansion
    inputs = x
    if expansion > 1:
        x = keras.layers.Conv2D(hidden, 1, use_bias=False,
                                name=f"{prefix}expand_conv")(x)
        x = keras.layers.BatchNormalization(name=f"{prefix}expand_bn")(x)
        x = keras.layers.Activation(
            activation, name=f"{prefix}expand_activation")(x)
    x = keras.layers.DepthwiseConv2D(kernel_size, strides=stride,
                                     padding="same", use_bias=False,
                                     name=f"{prefix}dwconv")(x)
    x = keras.layers.BatchNormalization(name=f"{prefix}bn")(x)
    x = keras.layers.Activation(activation, name=f"{prefix}activation")(x)
    if se_ratio is not None:
        squeezed = max(1, int(c_in * se_ratio))
        s = keras.layers.GlobalAveragePooling2D(
            keepdims=True, name=f"{prefix}se_squeeze")(x)
        s = keras.layers.Conv2D(squeezed, 1, activation=activation,
                                name=f"{prefix}se_reduce")(s)
        s = keras.layers.Conv2D(hidden, 1, activation="sigmoid",
                                name=f"{prefix}se_expand")(s)
        x = keras.layers.Multiply(name=f"{prefix}se_excite")([x, s])
    x = keras.layers.Conv2D(filters, 1, use_bias=False,
                            name=f"{prefix}project_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{prefix}project_bn")(x)
    if stride == 1 and filters == c_in:
        x = keras.layers.Add(name=f"{prefix}add")([x, inputs])
    return x


def copy_weights_by_name(source, target) -> list[str]:
    """Copy the weights of every layer of ``target`` from ``source``.

    Each layer of ``target`` that has weights takes those of the layer of
    ``source`` with the same name.

    Returns:
        The names of the layers copied, in ``target``'s order.

    Raises:
        ValueError: when a layer with weights has no namesake in ``source``
            or the shapes differ.

    Introduced in the chapter "1x1 convolutions in today's networks".
    """
    copied = []
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            other = source.get_layer(layer.name)
        except ValueError:
            raise ValueError(
                f"Layer {layer.name!r} of {target.name!r} has no namesake in "
                f"{source.name!r}; name the layers alike.") from None
        mine = [tuple(w.shape) for w in layer.get_weights()]
        theirs = [tuple(w.shape) for w in other.get_weights()]
        if mine != theirs:
            raise ValueError(
                f"Layer {layer.name!r}: expected weights of shapes {mine}; "
                f"{source.name!r} has {theirs}.")
        layer.set_weights(other.get_weights())
        copied.append(layer.name)
    return copied


def dense_as_pointwise(dense):
    """The 1x1 ``Conv2D`` that computes what a built ``Dense`` layer does.

    A Dense layer applied to a (batch, H, W, C) tensor multiplies the last
    axis by its C x N kernel at every position: a 1x1 convolution whose
    kernel is the same matrix, shaped (1, 1, C, N).

    Raises:
        ValueError: for a layer that is not a built ``keras.layers.Dense``.

    Introduced in the chapter "1x1 convolutions in today's networks".
    """
    import keras

    if not isinstance(dense, keras.layers.Dense) or not dense.built:
        raise ValueError(
            f"Expected a built keras.layers.Dense; received "
            f"{type(dense).__name__}. Call the layer on a tensor first.")
    kernel = dense.get_weights()[0]
    conv = keras.layers.Conv2D(dense.units, 1, use_bias=dense.use_bias,
                               activation=dense.activation)
    conv.build((None, None, None, kernel.shape[0]))
    conv.set_weights([kernel[None, None], *dense.get_weights()[1:]])
    return conv


# --------------------------------------------------------------------------
# TensorFlow's graph profiler.

def profiler_float_ops(model) -> dict:
    """Float operations of one image by op type, from TensorFlow's profiler.

    Traces ``model`` on one input of its own shape and runs
    ``tf.compat.v1.profiler`` (``float_operation`` options) on the graph,
    the tool that keras-flops and most TensorFlow "FLOPs" figures use. It
    counts a multiply-accumulate as two operations, and also counts bias
    additions, pooling and other element-wise work.

    Returns:
        ``{op type: float operations}``, e.g. ``{"Conv2D": ..., "MatMul":
        ...}``, op types with zero left out.

    Raises:
        ValueError: for a model whose input shape is not fully known.

    Introduced in the chapter "1x1 convolutions in today's networks".
    """
    import tensorflow as tf
    from tensorflow.python.profiler import model_analyzer, option_builder

    shape = tuple(model.input.shape)[1:]
    if any(d is None for d in shape):
        raise ValueError(
            f"Expected a model with a known input shape; received "
            f"{(None, *shape)}. Build it from keras.Input(shape=...).")
    function = tf.function(lambda x: model(x, training=False))
    graph = function.get_concrete_function(
        tf.TensorSpec((1, *shape), tf.float32)).graph
    options = option_builder.ProfileOptionBuilder(
        option_builder.ProfileOptionBuilder.float_operation()
    ).with_empty_output().build()
    root = _quietly(lambda: model_analyzer.profile(graph, cmd="op",
                                                   options=options))
    found = {}
    stack = list(root.children)
    while stack:
        node = stack.pop()
        if node.float_ops:
            found[node.name] = found.get(node.name, 0) + int(node.float_ops)
        stack.extend(node.children)
    return found

"""Network In Network: the mlpconv block, its stage tables and its builders.

Lin, Chen and Yan replaced the linear filter of a convolutional layer by a
small multilayer perceptron slid over the image, the **mlpconv** layer: a
spatial convolution followed by 1x1 convolutions, each with a ReLU. The
last mlpconv layer outputs one feature map per class, and global average
pooling turns each map into that class's score, with no fully connected
layer at all.

This module holds, side by side:

* :func:`mlpconv_block`, the block;
* :data:`NIN_CIFAR10_STAGES`, the CIFAR-10 network of the authors' released
  configuration, and :data:`NIN_SMALL_STAGES`, a small one for 32x32
  synthetic images;
* :func:`nin` and :func:`nin_small`, the builders, driven by those tables.

Paper: Lin, Chen and Yan, "Network In Network", 2013 (arXiv:1312.4400).

Introduced in the Network In Network chapter.
"""

from __future__ import annotations

from conv1x1 import _checks
from conv1x1.training import pointwise_stack

__all__ = ["MAX_KERNEL", "MAX_WIDTH", "NIN_CIFAR10_STAGES",
           "NIN_SMALL_STAGES", "STAGE_FIELDS", "mlpconv_block", "nin",
           "nin_small"]

#: The fields of one row of a NiN stage table: the spatial convolution's
#: filters and kernel size, then the widths of the two 1x1 layers.
STAGE_FIELDS = ("filters", "kernel_size", "mlp1", "mlp2")

#: The CIFAR-10 network of the authors' released configuration (the paper
#: prints no channel counts): three mlpconv blocks, 5x5x192 -> 160 -> 96,
#: 5x5x192 -> 192 -> 192 and 3x3x192 -> 192 -> 10. The last width is the
#: number of classes.
NIN_CIFAR10_STAGES = (
    (192, 5, 160, 96),
    (192, 5, 192, 192),
    (192, 3, 192, 10),
)

#: A small NiN for 32x32 images of the four classes of
#: :func:`conv1x1.data.synthetic_shapes`.
NIN_SMALL_STAGES = (
    (16, 3, 16, 16),
    (32, 3, 32, 4),
)

#: The largest width (output channels) and kernel size the builders accept:
#: far beyond any network of the papers, and small enough that a typo such
#: as ``10**9`` gets this message rather than an out-of-memory error.
MAX_WIDTH = 65_536
MAX_KERNEL = 31


def _width(value, name: str) -> int:
    value = _checks.integer_at_least(value, name, 1)
    if value > MAX_WIDTH:
        raise ValueError(
            f"Expected {name} to be at most {MAX_WIDTH:,} channels; received "
            f"{value:,}. NiN's widest layer has 192.")
    return value


def _kernel(value, name: str = "kernel_size") -> int:
    value = _checks.integer_at_least(value, name, 1)
    if value > MAX_KERNEL:
        raise ValueError(
            f"Expected {name} to be at most {MAX_KERNEL}; received {value:,}. "
            "NiN's spatial convolutions are 5x5 and 3x3.")
    return value


def mlpconv_block(x, filters: int, kernel_size: int, mlp, *, prefix: str,
                  final_activation="relu"):
    """NiN's mlpconv block: a spatial convolution, then 1x1 convolutions.

    The spatial convolution (``kernel_size`` x ``kernel_size``, ``filters``
    output channels, ``padding="same"``, ReLU) is followed by one 1x1
    convolution per entry of ``mlp``, each with a ReLU except that the last
    one gets ``final_activation``. The 1x1 layers see one position at a time:
    together with the spatial convolution they form a small multilayer
    perceptron applied to every k x k patch. The paper calls such a stack of
    1x1 layers "cascaded cross channel parametric pooling"; the Caffe models
    released with it name them ``cccp1``, ``cccp2``, ... With ``C`` input
    channels the block has ``k*k*C*filters + filters`` parameters for the
    spatial layer and ``c_in*c_out + c_out`` for each 1x1 layer.

    Paper: Lin, Chen and Yan, "Network In Network", 2013 (arXiv:1312.4400),
    section 3.1 and Figure 1.

    Args:
        x: Keras tensor of shape (batch, height, width, channels).
        filters: output channels of the spatial convolution (>= 1).
        kernel_size: its kernel size k (>= 1).
        mlp: output channels of each 1x1 convolution, e.g. ``(160, 96)``;
            at least one.
        prefix: start of every layer name: ``{prefix}conv`` for the spatial
            layer, ``{prefix}mlp1``, ``{prefix}mlp2``, ... for the 1x1 layers.
        final_activation: activation of the last 1x1 layer; ``"relu"`` as in
            the paper, ``None`` for raw class scores.

    Returns:
        Keras tensor of shape (batch, height, width, mlp[-1]).

    Raises:
        ValueError: for an input that is not a 4-D Keras tensor, a filter
            count or kernel size that is not a positive integer, an empty
            ``mlp``, a width above :data:`MAX_WIDTH`, a kernel size above
            :data:`MAX_KERNEL`, a prefix that is not a string or a
            ``final_activation`` Keras does not know.

    Introduced in the Network In Network chapter.
    """
    import keras

    _checks.feature_map(x)
    filters = _width(filters, "filters")
    kernel_size = _kernel(kernel_size)
    prefix = _checks.prefix(prefix)
    if (isinstance(mlp, (str, bytes))
            or not isinstance(mlp, (tuple, list)) or not mlp):
        raise ValueError(
            "Expected mlp to be a non-empty sequence of widths, one per 1x1 "
            f"layer (e.g. (160, 96)); received {mlp!r}.")
    mlp = [_width(width, "every width of mlp") for width in mlp]
    final_activation = _checks.activation(final_activation,
                                          "final_activation")
    h = keras.layers.Conv2D(filters, kernel_size, padding="same",
                            activation="relu", name=f"{prefix}conv")(x)
    return pointwise_stack(h, mlp, activation="relu",
                           output_activation=final_activation,
                           prefix=f"{prefix}mlp")


def _nin(input_shape, stages, dropout, final_activation, name, average_after=()):
    import keras

    input_shape = _checks.image_input_shape(input_shape, channels=None)
    stages = _checks.stage_table(stages, STAGE_FIELDS)
    for i, (filters, kernel_size, mlp1, mlp2) in enumerate(stages):
        for value, field in zip((filters, mlp1, mlp2),
                                ("filters", "mlp1", "mlp2")):
            _width(value, f"{field} of stages row {i}")
        _kernel(kernel_size, f"kernel_size of stages row {i}")
    dropout = _checks.rate(dropout, "dropout", "The paper uses 0.5; 0 leaves dropout out.")
    name = _checks.name_or_none(name)
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for i, (filters, kernel_size, mlp1, mlp2) in enumerate(stages, start=1):
        last = i == len(stages)
        x = mlpconv_block(x, filters, kernel_size, (mlp1, mlp2), prefix=f"block{i}_",
                          final_activation=final_activation if last else "relu")
        if not last:
            pool = (keras.layers.AveragePooling2D if i in average_after
                    else keras.layers.MaxPooling2D)
            x = pool(3, strides=2, padding="same", name=f"block{i}_pool")(x)
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"block{i}_dropout")(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_avgpool")(x)
    outputs = keras.layers.Activation("softmax", name="softmax")(x)
    return keras.Model(inputs, outputs, name=name)


def nin(input_shape=(32, 32, 3), *, stages=NIN_CIFAR10_STAGES, dropout: float = 0.5,
        name: str = "nin_cifar10"):
    """Network In Network for CIFAR-10: mlpconv blocks and global average pooling.

    One mlpconv block per row of ``stages`` (see :func:`mlpconv_block`),
    named ``block1_``, ``block2_``, ...; after every block but the last come
    3x3 pooling with stride 2 (``padding="same"``, so 32 -> 16 -> 8) and
    dropout. The pooling is max pooling after the first block and average
    pooling after the second, as in the authors' released model (the paper's
    text says max pooling for both). The last block's last 1x1 layer has one output channel per
    class; global average pooling (``global_avgpool``) turns each of those
    maps into the class's score and a softmax (``softmax``) makes them
    probabilities. There is no fully connected layer. Every convolution has
    a ReLU, the last one included, as in the authors' released model.

    Paper: Lin, Chen and Yan, "Network In Network", 2013 (arXiv:1312.4400),
    section 4.2; the channel counts of :data:`NIN_CIFAR10_STAGES` are those
    of the authors' released configuration.

    Args:
        input_shape: (height, width, channels) of the images.
        stages: rows of (filters, kernel_size, mlp1, mlp2), one per mlpconv
            block; the last row's ``mlp2`` is the number of classes.
        dropout: dropout rate after each pooling, in [0, 1); 0 leaves the
            layers out.
        name: the model's name.

    Returns:
        An uncompiled ``keras.Model`` with random weights.

    Raises:
        ValueError: for a malformed input shape or stage table, or a dropout
            rate outside [0, 1).

    Introduced in the Network In Network chapter.
    """
    # The released model averages after the second block; the paper's text
    # says max pooling. Neither has parameters or MACs in the course's count.
    return _nin(input_shape, stages, dropout, "relu", name, average_after=(2,))


def nin_small(input_shape=(32, 32, 3), *, stages=NIN_SMALL_STAGES, dropout: float = 0.0,
              name: str = "nin_small"):
    """A small Network In Network for tiny images, trainable on a CPU in seconds.

    The layout of :func:`nin` with :data:`NIN_SMALL_STAGES` (two mlpconv
    blocks with 3x3 spatial convolutions), except that the last 1x1 layer
    has no ReLU: its maps are raw class scores (logits) at every position,
    the "class maps" that global average pooling averages. A ReLU there can
    switch a class off for good early in a short training run.

    Paper: Lin, Chen and Yan 2013 (arXiv:1312.4400), scaled down.

    Args:
        input_shape: (height, width, channels) of the images.
        stages: rows of (filters, kernel_size, mlp1, mlp2); the last row's
            ``mlp2`` is the number of classes (4 by default).
        dropout: dropout rate after each pooling, in [0, 1).
        name: the model's name.

    Returns:
        An uncompiled ``keras.Model``; the layer ``global_avgpool`` outputs
        the logits and ``softmax`` the probabilities.

    Raises:
        ValueError: as :func:`nin`.

    Introduced in the Network In Network chapter.
    """
    return _nin(input_shape, stages, dropout, None, name)

"""SqueezeNet: the fire module, the stage tables and the builders.

Everything the SqueezeNet chapter builds is in this module, block next to
table next to builder:

* :func:`fire_module`, a 1x1 squeeze layer feeding 1x1 and 3x3 expand layers;
* the stems and fire-module tables of SqueezeNet v1.0
  (:data:`SQUEEZENET_V1_0_STEM`, :data:`SQUEEZENET_V1_0_STAGES`), of v1.1
  (:data:`SQUEEZENET_V1_1_STEM`, :data:`SQUEEZENET_V1_1_STAGES`) and of a
  small network for 32x32 images (:data:`SQUEEZENET_SMALL_STEM`,
  :data:`SQUEEZENET_SMALL_STAGES`);
* :func:`squeezenet`, :func:`squeezenet_small` and
  :func:`squeezenet_min_input_size`.

Paper: Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer
parameters and <0.5MB model size", 2016 (arXiv:1602.07360).

Introduced in the SqueezeNet chapter.
"""

from __future__ import annotations

from conv1x1 import _checks

__all__ = [
    "SQUEEZENET_V1_0_STEM",
    "SQUEEZENET_V1_0_STAGES",
    "SQUEEZENET_V1_1_STEM",
    "SQUEEZENET_V1_1_STAGES",
    "SQUEEZENET_SMALL_STEM",
    "SQUEEZENET_SMALL_STAGES",
    "fire_module",
    "squeezenet",
    "squeezenet_small",
    "squeezenet_min_input_size",
]

#: The names of a fire module's three widths, in table order.
FIRE_FIELDS = ("squeeze", "expand1x1", "expand3x3")


# --------------------------------------------------------------------------
# The fire module.

def fire_module(x, squeeze: int, expand1x1: int, expand3x3: int, *,
                prefix: str, enforce_paper_constraint: bool = False):
    """SqueezeNet's fire module: a 1x1 squeeze layer, then 1x1 and 3x3 expands.

    The squeeze layer is a 1x1 convolution with ``squeeze`` filters and
    ReLU; it cuts the number of channels that the 3x3 filters see. The
    expand layer applies, to the squeezed map, a 1x1 convolution with
    ``expand1x1`` filters and a 3x3 convolution (``padding="same"``) with
    ``expand3x3`` filters, each with ReLU, and concatenates the two on the
    channel axis. All convolutions have biases, as in the paper. The spatial
    size is kept.

    For ``C`` input channels the module has
    ``(C + 1) * s + (s + 1) * e1 + (9 * s + 1) * e3`` parameters, with
    ``s, e1, e3 = squeeze, expand1x1, expand3x3``.

    Paper: Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer
    parameters and <0.5MB model size", 2016 (arXiv:1602.07360), Section 3.2
    and Figure 1.

    Args:
        x: symbolic Keras tensor of shape (batch, height, width, channels).
        squeeze: filters of the squeeze layer, s1x1 in the paper (>= 1).
        expand1x1: 1x1 filters of the expand layer, e1x1 (>= 1).
        expand3x3: 3x3 filters of the expand layer, e3x3 (>= 1).
        prefix: string that starts the layer names: ``{prefix}squeeze1x1``,
            ``{prefix}expand1x1``, ``{prefix}expand3x3`` and
            ``{prefix}concat``.
        enforce_paper_constraint: if True, require s1x1 < e1x1 + e3x3 as the
            paper does, so that the squeeze layer really is narrower than
            the expand layer.

    Returns:
        Keras tensor of shape (batch, height, width, expand1x1 + expand3x3).

    Raises:
        ValueError: for an ``x`` that is not a symbolic 4-D Keras tensor, a
            filter count that is not a positive integer, a prefix that is not
            a string, an ``enforce_paper_constraint`` that is not True or
            False, or (with ``enforce_paper_constraint``) a squeeze layer at
            least as wide as the expand layer.

    Introduced in the SqueezeNet chapter.
    """
    import keras

    _checks.feature_map(x)
    prefix = _checks.prefix(prefix)
    squeeze, expand1x1, expand3x3 = (
        _checks.integer_at_least(
            value, name, 1, "Every layer of a fire module needs at least one "
                            "filter.")
        for value, name in zip((squeeze, expand1x1, expand3x3), FIRE_FIELDS))
    enforce_paper_constraint = _checks.boolean(enforce_paper_constraint,
                                               "enforce_paper_constraint")
    if enforce_paper_constraint and squeeze >= expand1x1 + expand3x3:
        raise ValueError(
            f"The paper requires s1x1 < e1x1 + e3x3; received squeeze={squeeze} "
            f"with expand1x1 + expand3x3 = {expand1x1 + expand3x3}. Use at most "
            f"{expand1x1 + expand3x3 - 1} squeeze filters, or pass "
            "enforce_paper_constraint=False.")
    s = keras.layers.Conv2D(squeeze, 1, activation="relu",
                            name=f"{prefix}squeeze1x1")(x)
    e1 = keras.layers.Conv2D(expand1x1, 1, activation="relu",
                             name=f"{prefix}expand1x1")(s)
    e3 = keras.layers.Conv2D(expand3x3, 3, padding="same", activation="relu",
                             name=f"{prefix}expand3x3")(s)
    return keras.layers.Concatenate(axis=-1, name=f"{prefix}concat")([e1, e3])


# --------------------------------------------------------------------------
# The stage tables.

#: conv1 of SqueezeNet v1.0 as (filters, kernel size, stride): 96 filters,
#: 7x7/2 (Iandola et al. 2016, Table 1).
SQUEEZENET_V1_0_STEM = (96, 7, 2)

#: The fire modules of SqueezeNet v1.0 as (s1x1, e1x1, e3x3), fire2 to fire9,
#: grouped into stages: a 3x3/2 max pooling follows conv1 and every stage but
#: the last, that is conv1, fire4 and fire8 (Iandola et al. 2016, Table 1).
SQUEEZENET_V1_0_STAGES = (
    ((16, 64, 64), (16, 64, 64), (32, 128, 128)),                      # 2-4
    ((32, 128, 128), (48, 192, 192), (48, 192, 192), (64, 256, 256)),  # 5-8
    ((64, 256, 256),),                                                 # 9
)

#: conv1 of SqueezeNet v1.1: 64 filters, 3x3/2 (the authors' released v1.1).
SQUEEZENET_V1_1_STEM = (64, 3, 2)

#: SqueezeNet v1.1: the same eight fire modules as v1.0, with the poolings
#: moved earlier, after conv1, fire3 and fire5 (the authors' released v1.1,
#: which reports v1.0's accuracy for about 2.4 times fewer operations).
SQUEEZENET_V1_1_STAGES = (
    ((16, 64, 64), (16, 64, 64)),                                      # 2-3
    ((32, 128, 128), (32, 128, 128)),                                  # 4-5
    ((48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)),  # 6-9
)

#: conv1 of the small SqueezeNet for 32x32 images: 32 filters, 3x3/1.
SQUEEZENET_SMALL_STEM = (32, 3, 1)

#: Fire modules of the small SqueezeNet, fire2 to fire5, in two stages.
SQUEEZENET_SMALL_STAGES = (
    ((8, 16, 16), (8, 16, 16)),      # fire2-3, then max pooling
    ((16, 32, 32), (16, 32, 32)),    # fire4-5
)


def _stem(stem) -> tuple[int, int, int]:
    if not isinstance(stem, (tuple, list)) or len(stem) != 3:
        raise ValueError(
            f"Expected stem to be (filters, kernel size, stride); received "
            f"{stem!r}. SqueezeNet v1.0 uses {SQUEEZENET_V1_0_STEM}.")
    return tuple(
        _checks.integer_at_least(value, f"stem[{i}] ({what})", 1,
                                 "Use positive integers, e.g. (96, 7, 2).")
        for i, (value, what) in enumerate(
            zip(stem, ("filters", "kernel size", "stride"))))


def _fire_stages(stages) -> tuple[tuple[tuple[int, int, int], ...], ...]:
    if not isinstance(stages, (tuple, list)) or not stages:
        raise ValueError(
            "Expected stages to be a non-empty sequence of stages, each a "
            "sequence of (squeeze, expand1x1, expand3x3) rows, e.g. "
            f"(((16, 64, 64), (16, 64, 64)), ((32, 128, 128),)); received "
            f"{stages!r}.")
    return tuple(_checks.stage_table(stage, FIRE_FIELDS, name=f"stages[{i}]")
                 for i, stage in enumerate(stages))


def squeezenet_min_input_size(stem=SQUEEZENET_V1_0_STEM,
                              n_stages: int = 3) -> int:
    """Smallest height and width a SqueezeNet with this stem and stages accepts.

    conv1 and the max poolings use "valid" padding, so each of them needs a
    window's worth of input: working backwards from a 1x1 output, every
    3x3/2 pooling needs ``2 * (n - 1) + 3`` pixels for ``n`` outputs and
    conv1 ``stride * (n - 1) + kernel``. SqueezeNet v1.0 (three poolings)
    needs 35.

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
    _, kernel, stride = _stem(stem)
    n_stages = _checks.integer_at_least(n_stages, "n_stages", 1,
                                        "A SqueezeNet has at least one stage.")
    need = 1
    for _ in range(n_stages):     # conv1's pooling and one per stage but the last
        need = 2 * (need - 1) + 3
    return stride * (need - 1) + kernel


def _squeezenet(input_shape, classes, stem, stages, dropout,
                classifier_activation, name, final_relu):
    import keras

    filters, kernel, stride = _stem(stem)
    stages = _fire_stages(stages)
    need = squeezenet_min_input_size(stem, len(stages))
    height, width, channels = _checks.image_input_shape(input_shape,
                                                        channels=None)
    if min(height, width) < need:
        raise ValueError(
            f"Expected input_shape of at least {need}x{need}: conv1 "
            f"({kernel}x{kernel}/{stride}) and {len(stages)} max poolings "
            f"(3x3/2), all with 'valid' padding, need a height and width of at "
            f"least {need} pixels; received {height}x{width}. Use an input of "
            f"{need}x{need} or larger.")
    classes = _checks.integer_at_least(classes, "classes", 1,
                                       "A classifier needs at least one class.")
    dropout = _checks.rate(dropout, "dropout",
                           "The paper uses 0.5; 0 leaves dropout out.")
    classifier_activation = _checks.activation(classifier_activation,
                                               "classifier_activation")
    name = _checks.name_or_none(name)

    inputs = keras.Input(shape=(height, width, channels), name="input")
    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="valid",
                            activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="valid",
                                  name="maxpool1")(x)
    number = 2
    for i, stage in enumerate(stages):
        for squeeze, expand1x1, expand3x3 in stage:
            x = fire_module(x, squeeze, expand1x1, expand3x3,
                            prefix=f"fire{number}_")
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
    outputs = keras.layers.Activation(classifier_activation, name="softmax")(x)
    return keras.Model(inputs, outputs, name=name)


def squeezenet(input_shape=(227, 227, 3), classes: int = 1000, *,
               stem=SQUEEZENET_V1_0_STEM, stages=SQUEEZENET_V1_0_STAGES,
               dropout: float = 0.5, classifier_activation="softmax",
               name: str = "squeezenet_v1_0"):
    """SqueezeNet: conv1, fire modules in stages, conv10 and global pooling.

    The network reads like the paper's Table 1: conv1 (96 filters, 7x7,
    stride 2, ReLU) is followed by 3x3/2 max pooling; then come the fire
    modules of ``stages`` (fire2, fire3, ...), with a 3x3/2 max pooling after
    every stage but the last (after fire4 and fire8 in v1.0), dropout, a 1x1
    convolution with ReLU to ``classes`` channels (conv10, with the ReLU of
    the authors' released model), global average pooling and the classifier
    activation. conv1 and the poolings use "valid" padding, which gives the
    paper's output sizes 111, 55, 27 and 13 for a 227x227 input. Layers are
    named as in the paper: ``conv1``, ``maxpool1``, ``fire2_squeeze1x1``,
    ..., ``maxpool4``, ``maxpool8``, ``conv10``. With the defaults the model
    has 1,248,424 parameters. SqueezeNet v1.1 is
    ``squeezenet(stem=SQUEEZENET_V1_1_STEM, stages=SQUEEZENET_V1_1_STAGES)``.

    Paper: Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer
    parameters and <0.5MB model size", 2016 (arXiv:1602.07360), Table 1.

    Args:
        input_shape: (height, width, channels); height and width at least
            :func:`squeezenet_min_input_size` (35 for v1.0).
        classes: number of classes (>= 1), the filters of the last 1x1 conv.
        stem: conv1 as (filters, kernel size, stride).
        stages: fire modules as stages of (s1x1, e1x1, e3x3) rows; see
            :data:`SQUEEZENET_V1_0_STAGES`.
        dropout: dropout rate before the last conv, in [0, 1); 0 leaves the
            layer out.
        classifier_activation: activation after the pooling: the name of a
            Keras activation ("softmax"), a callable, or None.
        name: the model's name, a non-empty string.

    Returns:
        An uncompiled ``keras.Model`` with random weights (nothing is
        downloaded).

    Raises:
        ValueError: for a malformed input_shape, stem or stages, classes < 1,
            a dropout rate outside [0, 1), an input smaller than the minimum,
            a fire module with a non-positive filter count, an unknown
            classifier activation, or a name that is not a string.

    Introduced in the SqueezeNet chapter.
    """
    return _squeezenet(input_shape, classes, stem, stages, dropout,
                       classifier_activation, name, final_relu=True)


def squeezenet_small(input_shape=(32, 32, 3), classes: int = 4, *,
                     stem=SQUEEZENET_SMALL_STEM, stages=SQUEEZENET_SMALL_STAGES,
                     dropout: float = 0.0, classifier_activation="softmax",
                     name: str = "squeezenet_small"):
    """A small SqueezeNet for tiny images, trainable on a CPU in seconds.

    The same layout as :func:`squeezenet` (conv1, max pooling, fire modules
    with a pooling between stages, a 1x1 conv to ``classes``, global average
    pooling) with a 3x3/1 conv1 of 32 filters and four narrow fire modules,
    :data:`SQUEEZENET_SMALL_STAGES`. For 32x32 inputs the maps are 30x30
    after conv1, 14x14 after the first pooling and 6x6 after the second. The
    last 1x1 conv has no ReLU: its outputs are the logits, and a ReLU there
    can switch a class off for good early in a short training run (all its
    scores stuck at zero).

    Paper: Iandola et al. 2016 (arXiv:1602.07360), scaled down.

    Args:
        input_shape: (height, width, channels); at least 9x9 with the
            default stem and stages.
        classes: number of classes (>= 1).
        stem: conv1 as (filters, kernel size, stride).
        stages: fire modules as stages of (s1x1, e1x1, e3x3) rows.
        dropout: dropout rate before the last conv, in [0, 1).
        classifier_activation: activation after the pooling.
        name: the model's name.

    Returns:
        An uncompiled ``keras.Model``.

    Raises:
        ValueError: as :func:`squeezenet`.

    Introduced in the SqueezeNet chapter.
    """
    return _squeezenet(input_shape, classes, stem, stages, dropout,
                       classifier_activation, name, final_relu=False)

"""Inception (GoogLeNet): the inception module, its stage table and its builders.

An inception module runs a 1x1, a 3x3 and a 5x5 convolution and a 3x3 max
pooling side by side on the same input and concatenates their outputs on
the channel axis. The naive version does exactly that; the real one puts a
1x1 convolution in front of the 3x3 and 5x5 convolutions to cut the number
of channels they read, and one behind the pooling to cut the number it
passes on. GoogLeNet stacks nine such modules.

This module holds, side by side:

* :func:`naive_inception_module` and :func:`inception_module`, the blocks,
  and :func:`auxiliary_classifier`, GoogLeNet's side classifier;
* :data:`GOOGLENET_STAGES`, the filter counts of the paper's Table 1, and
  :data:`INCEPTION_SMALL_STAGES`, a small net for 32x32 synthetic images;
* :func:`googlenet` and :func:`inception_small`, the builders.

Paper: Szegedy et al., "Going Deeper with Convolutions", 2014
(arXiv:1409.4842).

Introduced in the Inception chapter.
"""

from __future__ import annotations

from conv1x1 import _checks

__all__ = ["MAX_CLASSES", "MAX_WIDTH", "MODULE_FIELDS", "GOOGLENET_STAGES",
           "GOOGLENET_AUX",
           "INCEPTION_SMALL_STAGES", "naive_inception_module", "inception_module",
           "auxiliary_classifier", "googlenet", "inception_small"]

#: The six widths of one inception module, in the order of the paper's Table 1.
MODULE_FIELDS = ("n1x1", "n3x3_reduce", "n3x3", "n5x5_reduce", "n5x5", "pool_proj")

#: GoogLeNet's inception modules (Table 1 of the paper), grouped into stages
#: 3, 4 and 5; a 3x3/2 max pooling separates the stages. Modules are called
#: 3a, 3b, 4a, ..., 5b.
GOOGLENET_STAGES = (
    ((64, 96, 128, 16, 32, 32),           # 3a
     (128, 128, 192, 32, 96, 64)),        # 3b
    ((192, 96, 208, 16, 48, 64),          # 4a
     (160, 112, 224, 24, 64, 64),         # 4b
     (128, 128, 256, 24, 64, 64),         # 4c
     (112, 144, 288, 32, 64, 64),         # 4d
     (256, 160, 320, 32, 128, 128)),      # 4e
    ((256, 160, 320, 32, 128, 128),       # 5a
     (384, 192, 384, 48, 128, 128)),      # 5b
)

#: The modules after which GoogLeNet attaches its auxiliary classifiers.
GOOGLENET_AUX = ("4a", "4d")

#: A small inception net for 32x32 images: two stages of one module each.
INCEPTION_SMALL_STAGES = (
    ((16, 16, 24, 4, 8, 8),),
    ((24, 24, 32, 8, 12, 12),),
)


#: The largest width (filters) and number of classes the builders accept:
#: far beyond GoogLeNet's (384 filters, 1,000 classes), and small enough
#: that a typo such as ``10**9`` gets this message rather than an
#: out-of-memory error.
MAX_WIDTH = 65_536
MAX_CLASSES = 100_000


def _widths(values, names):
    widths = []
    for value, name in zip(values, names):
        value = _checks.integer_at_least(
            value, name, 1, "Every branch needs at least one filter.")
        if value > MAX_WIDTH:
            raise ValueError(
                f"Expected {name} to be at most {MAX_WIDTH:,} filters; "
                f"received {value:,}. GoogLeNet's widest layer has 384.")
        widths.append(value)
    return tuple(widths)


def _classes(value):
    value = _checks.integer_at_least(value, "classes", 1)
    if value > MAX_CLASSES:
        raise ValueError(
            f"Expected classes to be at most {MAX_CLASSES:,}; received "
            f"{value:,}. ImageNet has 1,000.")
    return value


def naive_inception_module(x, n1x1: int, n3x3: int, n5x5: int, *, prefix: str):
    """The naive inception module: 1x1, 3x3, 5x5 convolutions and pooling side by side.

    The paper's Figure 2(a): a 1x1, a 3x3 and a 5x5 convolution (each
    ``padding="same"`` with ReLU) and a 3x3 max pooling with stride 1 all
    read the input, and their outputs are concatenated. The pooling branch
    passes all of the input's channels on, so the output has
    ``n1x1 + n3x3 + n5x5 + C_in`` channels and grows from module to module.

    Paper: Szegedy et al. 2014 (arXiv:1409.4842), section 4, Figure 2(a).

    Args:
        x: Keras tensor of shape (batch, height, width, channels).
        n1x1, n3x3, n5x5: filters of the three convolutions (>= 1 each).
        prefix: start of the layer names: ``{prefix}1x1``, ``{prefix}3x3``,
            ``{prefix}5x5``, ``{prefix}pool`` and ``{prefix}output``.

    Returns:
        Keras tensor of shape (batch, height, width, n1x1 + n3x3 + n5x5 + C_in).

    Raises:
        ValueError: for an input that is not a 4-D Keras tensor, a filter count
            that is not a positive integer, a width above :data:`MAX_WIDTH` or
            a prefix that is not a string.

    Introduced in the Inception chapter.
    """
    import keras

    _checks.feature_map(x)
    n1x1, n3x3, n5x5 = _widths((n1x1, n3x3, n5x5), ("n1x1", "n3x3", "n5x5"))
    prefix = _checks.prefix(prefix)
    conv = keras.layers.Conv2D
    branches = [
        conv(n1x1, 1, activation="relu", name=f"{prefix}1x1")(x),
        conv(n3x3, 3, padding="same", activation="relu", name=f"{prefix}3x3")(x),
        conv(n5x5, 5, padding="same", activation="relu", name=f"{prefix}5x5")(x),
        keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{prefix}pool")(x),
    ]
    return keras.layers.Concatenate(axis=-1, name=f"{prefix}output")(branches)


def inception_module(x, n1x1: int, n3x3_reduce: int, n3x3: int, n5x5_reduce: int,
                     n5x5: int, pool_proj: int, *, prefix: str):
    """The inception module with dimension reductions (GoogLeNet's building block).

    Four branches read the input and are concatenated on the channel axis:

    1. a 1x1 convolution with ``n1x1`` filters;
    2. a 1x1 convolution to ``n3x3_reduce`` channels, then a 3x3 convolution
       with ``n3x3`` filters;
    3. a 1x1 convolution to ``n5x5_reduce`` channels, then a 5x5 convolution
       with ``n5x5`` filters;
    4. a 3x3 max pooling with stride 1, then a 1x1 convolution with
       ``pool_proj`` filters.

    Every convolution has a bias and a ReLU ("all convolutions, including
    those inside the Inception modules, use rectified linear activation")
    and ``padding="same"``, so the spatial size is kept. With ``C`` input
    channels the module has
    ``C*(n1x1 + n3x3_reduce + n5x5_reduce + pool_proj) + 9*n3x3_reduce*n3x3
    + 25*n5x5_reduce*n5x5`` weights plus one bias per filter, and outputs
    ``n1x1 + n3x3 + n5x5 + pool_proj`` channels.

    Paper: Szegedy et al., "Going Deeper with Convolutions", 2014
    (arXiv:1409.4842), section 4, Figure 2(b) and Table 1.

    Args:
        x: Keras tensor of shape (batch, height, width, channels).
        n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj: the six
            widths of the paper's Table 1 (>= 1 each).
        prefix: start of the layer names: ``{prefix}1x1``,
            ``{prefix}3x3_reduce``, ``{prefix}3x3``, ``{prefix}5x5_reduce``,
            ``{prefix}5x5``, ``{prefix}pool``, ``{prefix}pool_proj`` and
            ``{prefix}output`` (the concatenation), as in the authors' model.

    Returns:
        Keras tensor of shape (batch, height, width, n1x1 + n3x3 + n5x5 + pool_proj).

    Raises:
        ValueError: for an input that is not a 4-D Keras tensor, a width that
            is not a positive integer, a width above :data:`MAX_WIDTH` or a
            prefix that is not a string.

    Introduced in the Inception chapter.
    """
    import keras

    _checks.feature_map(x)
    n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj = _widths(
        (n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj),
        MODULE_FIELDS)
    prefix = _checks.prefix(prefix)

    def conv(h, filters, k, name):
        return keras.layers.Conv2D(filters, k, padding="same",
                                   activation="relu",
                                   name=f"{prefix}{name}")(h)

    b1 = conv(x, n1x1, 1, "1x1")
    b3 = conv(conv(x, n3x3_reduce, 1, "3x3_reduce"), n3x3, 3, "3x3")
    b5 = conv(conv(x, n5x5_reduce, 1, "5x5_reduce"), n5x5, 5, "5x5")
    pooled = keras.layers.MaxPooling2D(3, strides=1, padding="same",
                                       name=f"{prefix}pool")(x)
    bp = conv(pooled, pool_proj, 1, "pool_proj")
    return keras.layers.Concatenate(axis=-1, name=f"{prefix}output")(
        [b1, b3, b5, bp])


def auxiliary_classifier(x, classes: int = 1000, *, prefix: str, dropout: float = 0.7):
    """GoogLeNet's auxiliary classifier, a small network on an intermediate map.

    As in section 5 of the paper: 5x5 average pooling with stride 3
    ("valid", so a 14x14 map becomes 4x4), a 1x1 convolution with 128
    filters and ReLU, a fully connected layer of 1024 units with ReLU,
    dropout, and a fully connected layer to ``classes`` with softmax. It is
    used only during training (its loss is added with weight 0.3) and
    dropped at inference.

    Paper: Szegedy et al. 2014 (arXiv:1409.4842), section 5 and Figure 3.

    Args:
        x: Keras tensor of shape (batch, height, width, channels), at least 5x5.
        classes: number of classes (>= 1).
        prefix: start of the layer names: ``{prefix}avgpool``, ``{prefix}conv``,
            ``{prefix}flatten``, ``{prefix}fc``, ``{prefix}dropout``,
            ``{prefix}classifier``.
        dropout: dropout rate before the last layer, in [0, 1) (0.7 in the
            paper; 0 leaves it out).

    Returns:
        Keras tensor of shape (batch, classes): the class probabilities.

    Raises:
        ValueError: for an input that is not a 4-D Keras tensor or is smaller
            than 5x5, classes outside 1 to :data:`MAX_CLASSES`, a dropout
            rate outside [0, 1) or a prefix that is not a string.

    Introduced in the Inception chapter.
    """
    import keras

    shape = _checks.feature_map(x)
    classes = _classes(classes)
    prefix = _checks.prefix(prefix)
    dropout = _checks.rate(dropout, "dropout", "The paper uses 0.7.")
    if shape[1] is None or shape[2] is None or min(shape[1], shape[2]) < 5:
        raise ValueError(
            f"Expected x of at least 5x5 pixels for the 5x5 average pooling; received "
            f"shape {shape}. Attach the classifier to an earlier, larger map.")
    h = keras.layers.AveragePooling2D(5, strides=3, name=f"{prefix}avgpool")(x)
    h = keras.layers.Conv2D(128, 1, activation="relu", name=f"{prefix}conv")(h)
    h = keras.layers.Flatten(name=f"{prefix}flatten")(h)
    h = keras.layers.Dense(1024, activation="relu", name=f"{prefix}fc")(h)
    if dropout:
        h = keras.layers.Dropout(dropout, name=f"{prefix}dropout")(h)
    return keras.layers.Dense(classes, activation="softmax", name=f"{prefix}classifier")(h)


def _module_names(stages):
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [[f"{i + 3}{letters[j]}" for j in range(len(stage))]
            for i, stage in enumerate(stages)]


def _stages(stages):
    example = "e.g. (((64, 96, 128, 16, 32, 32),), ((192, 96, 208, 16, 48, 64),))"
    if isinstance(stages, (str, bytes)) or not isinstance(stages, (tuple, list)) or not stages:
        raise ValueError(
            "Expected stages to be a non-empty sequence of stages, each a sequence of "
            f"rows {MODULE_FIELDS}, {example}; received {stages!r}.")
    if len(stages) > 23 or any(isinstance(s, (tuple, list)) and len(s) > 26 for s in stages):
        raise ValueError("Expected at most 23 stages of at most 26 modules each (modules "
                         "are named 3a to 25z).")
    return tuple(_checks.stage_table(stage, MODULE_FIELDS, name=f"stages[{i}]")
                 for i, stage in enumerate(stages))


def googlenet(input_shape=(224, 224, 3), classes: int = 1000, *, stages=GOOGLENET_STAGES,
              aux_after=(), dropout: float = 0.4, name: str = "googlenet"):
    """GoogLeNet (Inception v1), built from the filter counts of Table 1.

    The stem: ``conv1`` (7x7/2, 64 filters), ``pool1`` (3x3/2 max pooling),
    ``conv2_reduce`` (1x1, 64) and ``conv2`` (3x3, 192), ``pool2``. Then the
    inception modules of ``stages`` (see :func:`inception_module`), named
    ``inception_3a_``, ``inception_3b_``, ``inception_4a_``, ..., with a
    3x3/2 max pooling (``pool3``, ``pool4``) between stages; global average
    pooling (``avgpool``, the paper's 7x7/1 average pooling for a 224x224
    input), dropout, and a fully connected layer to ``classes``
    (``classifier``) with softmax. Every convolution has a bias and a ReLU;
    poolings use ``padding="same"``, which gives Table 1's sizes 112, 56,
    28, 14 and 7. The two local response normalisation layers of the
    paper's Figure 3 are left out: they have no parameters and cost no
    multiply-accumulates in the course's counting.

    Paper: Szegedy et al., "Going Deeper with Convolutions", 2014
    (arXiv:1409.4842), Table 1 and Figure 3.

    Args:
        input_shape: (height, width, channels) of the images.
        classes: number of classes (>= 1).
        stages: the inception modules, a sequence of stages, each a sequence of
            rows (n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj);
            see :data:`GOOGLENET_STAGES`.
        aux_after: names of the modules (such as ``"4a"``) after which to
            attach an :func:`auxiliary_classifier`, named ``aux_4a_``, ...;
            :data:`GOOGLENET_AUX` gives the paper's two. With any, the model
            has several outputs: the main classifier's first.
        dropout: dropout rate before the classifier, in [0, 1) (0.4 in the
            paper).
        name: the model's name.

    Returns:
        An uncompiled ``keras.Model`` with random weights (nothing is
        downloaded).

    Raises:
        ValueError: for a malformed input shape or stage table, classes
            outside 1 to :data:`MAX_CLASSES`, a dropout rate outside [0, 1), or an ``aux_after`` name that is
            not one of the modules, appears twice or names a module whose
            map is smaller than 5x5.

    Introduced in the Inception chapter.
    """
    import keras

    input_shape = _checks.image_input_shape(input_shape, channels=None)
    classes = _classes(classes)
    stages = _stages(stages)
    dropout = _checks.rate(dropout, "dropout", "The paper uses 0.4.")
    name = _checks.name_or_none(name)
    names = _module_names(stages)
    known = [n for stage in names for n in stage]
    if isinstance(aux_after, str) or not isinstance(aux_after, (tuple, list)):
        raise ValueError(f"Expected aux_after to be a tuple of module names such as "
                         f"('4a', '4d'); received {aux_after!r}.")
    for module in aux_after:
        if module not in known:
            raise ValueError(f"Expected every name in aux_after to be one of the modules "
                             f"{', '.join(known)}; received {module!r}.")
    if len(set(aux_after)) != len(aux_after):
        raise ValueError(f"Expected every name in aux_after once; received "
                         f"{aux_after!r}. Each module takes at most one "
                         "auxiliary classifier.")

    conv = keras.layers.Conv2D
    pool = keras.layers.MaxPooling2D
    inputs = keras.Input(shape=input_shape, name="input")
    x = conv(64, 7, strides=2, padding="same", activation="relu", name="conv1")(inputs)
    x = pool(3, strides=2, padding="same", name="pool1")(x)
    x = conv(64, 1, activation="relu", name="conv2_reduce")(x)
    x = conv(192, 3, padding="same", activation="relu", name="conv2")(x)
    x = pool(3, strides=2, padding="same", name="pool2")(x)
    aux = []
    for i, (stage, stage_names) in enumerate(zip(stages, names)):
        if i:
            x = pool(3, strides=2, padding="same", name=f"pool{i + 2}")(x)
        for widths, module in zip(stage, stage_names):
            x = inception_module(x, *widths, prefix=f"inception_{module}_")
            if module in aux_after:
                if min(x.shape[1], x.shape[2]) < 5:
                    raise ValueError(
                        f"Expected module {module} of aux_after to output a "
                        f"map of at least 5x5 for the auxiliary classifier's "
                        f"5x5 pooling; with input_shape {input_shape} it "
                        f"outputs {x.shape[1]}x{x.shape[2]}. Use a larger "
                        "input (224x224 in the paper) or an earlier module.")
                aux.append(auxiliary_classifier(x, classes, prefix=f"aux_{module}_"))
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, [outputs, *aux] if aux else outputs, name=name)


def inception_small(input_shape=(32, 32, 3), classes: int = 4, *,
                    stages=INCEPTION_SMALL_STAGES, reductions: bool = True,
                    name: str | None = None):
    """A small inception net for tiny images, with or without the 1x1 reductions.

    A 3x3 convolution with 16 filters (``conv1``) and a 3x3/2 max pooling,
    then the modules of ``stages`` with a 3x3/2 max pooling between stages,
    global average pooling and a fully connected layer to ``classes``
    (``classifier``, softmax). With ``reductions=True`` the modules are
    :func:`inception_module`; with ``reductions=False`` they are
    :func:`naive_inception_module` with the same n1x1, n3x3 and n5x5 (the
    reduce and pool_proj widths are not used), so the two nets differ only in
    the 1x1 reductions.

    Paper: Szegedy et al. 2014 (arXiv:1409.4842), scaled down.

    Args:
        input_shape: (height, width, channels) of the images.
        classes: number of classes (>= 1).
        stages: stages of rows (n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5,
            pool_proj).
        reductions: True for the modules with 1x1 reductions, False for the
            naive ones.
        name: the model's name; by default ``inception_small`` or
            ``inception_small_naive``.

    Returns:
        An uncompiled ``keras.Model``.

    Raises:
        ValueError: for a malformed input shape or stage table, classes
            outside 1 to :data:`MAX_CLASSES` or ``reductions`` that is not
            True or False.

    Introduced in the Inception chapter.
    """
    import keras

    input_shape = _checks.image_input_shape(input_shape, channels=None)
    classes = _classes(classes)
    stages = _stages(stages)
    if not isinstance(reductions, bool):
        raise ValueError(f"Expected reductions to be True or False; received {reductions!r}.")
    name = _checks.name_or_none(name) or ("inception_small" if reductions
                                          else "inception_small_naive")
    inputs = keras.Input(shape=input_shape, name="input")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    for i, (stage, stage_names) in enumerate(zip(stages, _module_names(stages))):
        if i:
            x = keras.layers.MaxPooling2D(3, strides=2, padding="same",
                                          name=f"pool{i + 1}")(x)
        for (n1, r3, n3, r5, n5, pp), module in zip(stage, stage_names):
            if reductions:
                x = inception_module(x, n1, r3, n3, r5, n5, pp, prefix=f"inception_{module}_")
            else:
                x = naive_inception_module(x, n1, n3, n5, prefix=f"inception_{module}_")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=name)

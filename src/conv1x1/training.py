"""Small trainable stacks of 1x1 convolutions, and reading their layers back.

Two chapters train small Keras models and then look inside them: the depth
chapter stacks 1x1 convolutions with ReLUs into a multilayer perceptron that
runs at every pixel (the "mlpconv" layer of Network In Network), and the
visualization chapter shows what the 1x1 layers of a trained classifier
respond to. Both need the same two pieces, which live here:

* :func:`pointwise_stack` builds a stack of 1x1 convolutions on a Keras
  tensor, with layer names built from a prefix;
* :func:`layer_output` runs a model up to one named layer and returns that
  layer's feature maps as a numpy array.

Introduced in the chapter "Depth: stacking 1x1 convolutions".
"""

from __future__ import annotations


import numpy as np

from conv1x1._checks import integer_at_least

__all__ = ["pointwise_stack", "layer_output"]


def _check_widths(widths) -> list[int]:
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise ValueError(
            "Expected widths to be a sequence of positive ints, one per 1x1 layer "
            f"(e.g. [16, 16, 1]); received {widths!r}."
        )
    widths = list(widths)
    if not widths:
        raise ValueError(
            "Expected at least one width (one 1x1 layer); received an empty "
            "sequence. Pass e.g. widths=[16, 1]."
        )
    return [integer_at_least(width, "every width", 1,
                             f"Each is a number of output channels; widths={widths!r}.")
            for width in widths]


def pointwise_stack(x, widths, *, activation="relu", output_activation="same",
                    prefix: str = "pointwise_"):
    """Apply a stack of 1x1 convolutions to a Keras tensor.

    Layer ``i`` (counting from 1) is ``Conv2D(widths[i-1], kernel_size=1)``
    named ``f"{prefix}{i}"``. Every layer but the last is followed by
    ``activation``; the last one by ``output_activation`` (by default the same
    activation, as in the mlpconv layers of Network In Network, where every
    1x1 layer has a ReLU). With ``activation=None`` the whole stack is one
    affine map per pixel, however deep it is.

    Paper: Lin, Chen and Yan, "Network In Network" (2013), section 3.1.

    Args:
        x: a Keras tensor of shape (batch, height, width, channels), e.g.
            ``keras.Input(shape=(None, None, 2))``.
        widths: output channels of each 1x1 layer, e.g. ``[16, 16, 1]``.
        activation: activation after every layer but the last (a Keras
            activation name, a callable, or ``None`` for none).
        output_activation: activation after the last layer; ``"same"``
            (the default) repeats ``activation``.
        prefix: start of every layer's name, so that ``model.get_layer``
            finds them (``prefix + "1"``, ``prefix + "2"``, ...).

    Returns:
        The output tensor, with ``widths[-1]`` channels and the input's
        spatial size.

    Raises:
        ValueError: for an input that is not 4-D, empty or non-positive
            widths, an unknown activation or a prefix that is not a string.

    Introduced in the chapter "Depth: stacking 1x1 convolutions".
    """
    import keras

    widths = _check_widths(widths)
    if not isinstance(prefix, str):
        raise ValueError(f"Expected prefix to be a string; received {prefix!r}.")
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) != 4:
        raise ValueError(
            "Expected a Keras tensor with 4 dimensions (batch, height, width, "
            f"channels); received {'no tensor' if shape is None else tuple(shape)}. "
            "Start from keras.Input(shape=(height, width, channels))."
        )
    if output_activation == "same":
        output_activation = activation
    for name, value in (("activation", activation),
                        ("output_activation", output_activation)):
        try:
            keras.activations.get(value)
        except (ValueError, TypeError):
            raise ValueError(
                f"Expected {name} to be a Keras activation name such as 'relu', "
                f"a callable or None; received {value!r}."
            ) from None
    for i, width in enumerate(widths, start=1):
        last = i == len(widths)
        x = keras.layers.Conv2D(width, kernel_size=1,
                                activation=output_activation if last else activation,
                                name=f"{prefix}{i}")(x)
    return x


def layer_output(model, layer_name: str, x, *, batch_size: int = 64) -> np.ndarray:
    """The output of one named layer of a model, for a batch of inputs.

    Builds a model that shares the layers (and trained weights) of ``model``
    from its input up to ``layer_name`` and runs it on ``x``. For a
    convolution this is the layer's feature maps after its activation.

    Args:
        model: a functional or sequential Keras model, built on an input.
        layer_name: the name of one of its layers.
        x: a batch of inputs the model accepts, e.g. images of shape
            (N, H, W, C).
        batch_size: how many inputs to run at once.

    Returns:
        numpy array: the layer's output for every input, e.g. (N, H, W, C_out).

    Raises:
        ValueError: if ``model`` is not a built Keras model, has no layer
            called ``layer_name``, ``x`` holds no inputs or inputs of
            another shape than the model's (a wrong channel count, say), or
            ``batch_size`` is not a positive int.

    Introduced in the chapter "Depth: stacking 1x1 convolutions".
    """
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"Expected a keras.Model; received {type(model).__name__}.")
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(
            f"Model {model.name!r} has no layer named {layer_name!r}; its layers "
            f"are {names}. Name layers when you build them, e.g. "
            "Conv2D(..., name='mix')."
        )
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"Model {model.name!r} has no defined input, so its layers have no "
            "symbolic outputs. Build it with keras.Input(shape=...)."
        )
    batch_size = integer_at_least(batch_size, "batch_size")
    if len(inputs) == 1:
        inputs = inputs[0]          # a single input, called with a single array
    probe = keras.Model(inputs, model.get_layer(layer_name).output)
    x = np.asarray(x)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(
            f"Expected a batch of at least one input; received shape {x.shape}. "
            "Add a batch axis, e.g. x[None] for a single image."
        )
    expected = tuple(probe.inputs[0].shape) if len(probe.inputs) == 1 else None
    if expected is not None and (
            x.ndim != len(expected)
            or any(e is not None and e != d for e, d in zip(expected[1:], x.shape[1:]))):
        wanted = "(batch, " + ", ".join("any" if e is None else str(e)
                                        for e in expected[1:]) + ")"
        raise ValueError(
            f"Model {model.name!r} expects inputs of shape {wanted}; received x of "
            f"shape {x.shape}. Pass a batch of inputs like the ones the model was "
            "built for (same number of channels last)."
        )
    # Plain calls rather than predict(): a probe is often built once and run
    # once, and predict() would compile a new function for every probe.
    return np.concatenate([keras.ops.convert_to_numpy(probe(x[i:i + batch_size]))
                           for i in range(0, len(x), batch_size)])

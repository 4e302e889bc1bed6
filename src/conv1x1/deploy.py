"""Preparing a trained network for inference: batch norm folded into convolutions.

At inference a batch normalisation layer uses fixed statistics, so it is an
affine map per channel::

    bn(z) = gamma * (z - mean) / sqrt(var + epsilon) + beta = s * z + t

with ``s = gamma / sqrt(var + epsilon)`` and ``t = beta - s * mean``. When it
directly follows a convolution with no activation in between,
``z = W * x + b``, the two are one convolution with kernel ``s * W`` (each
output channel's filter scaled by its ``s``) and bias ``s * (b - mean) + beta``.
Inference engines do this ("operator fusion"): one layer instead of two, and
one pass over the output in memory instead of two.

The fold is exact in real arithmetic; in float32 the folded layer agrees with
the pair to rounding.

Introduced in the benchmarking chapter.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fold_batch_norm", "folded_conv"]


def _conv_kind(conv) -> str:
    import keras

    if isinstance(conv, keras.layers.DepthwiseConv2D):
        return "depthwise"
    if isinstance(conv, keras.layers.Conv2D):
        return "conv"
    raise TypeError(
        "Expected conv to be a keras.layers.Conv2D or DepthwiseConv2D; "
        f"received {type(conv).__name__}. Pass the convolution that the batch "
        "normalisation follows.")


def _checked(conv, bn):
    """The convolution's kind, output channels and channel axis, after checks."""
    import keras

    kind = _conv_kind(conv)
    if not isinstance(bn, keras.layers.BatchNormalization):
        raise TypeError(
            "Expected bn to be a keras.layers.BatchNormalization; received "
            f"{type(bn).__name__}. Pass the batch normalisation that directly "
            "follows conv (fold_batch_norm(conv, bn), in that order).")
    for layer, name in ((conv, "conv"), (bn, "bn")):
        if not layer.built:
            raise ValueError(
                f"Expected {name} to be built (its weights created); received "
                f"the unbuilt layer {layer.name!r}. Call it on an input first, "
                "or pass layers from a built model.")
    activation = conv.get_config().get("activation")
    if activation not in ("linear", None):
        raise ValueError(
            "Expected conv without an activation (activation='linear'); "
            f"received {conv.name!r} with activation {activation!r}. Batch "
            "normalisation after a non-linearity cannot be folded into the "
            "convolution: only conv -> bn, with nothing between, can.")
    axis = -1 if conv.data_format == "channels_last" else 1
    bn_axis = bn.axis if isinstance(bn.axis, int) else None
    if isinstance(bn.axis, (list, tuple)) and len(bn.axis) == 1:
        bn_axis = bn.axis[0]
    if bn_axis is None or bn_axis % 4 != axis % 4:
        raise ValueError(
            f"Expected bn to normalise the channel axis ({axis}, the "
            f"convolution's data_format is {conv.data_format}); received "
            f"axis={bn.axis!r}.")
    kernel_shape = tuple(conv.kernel.shape)
    if kind == "conv":
        channels = int(conv.filters)
    else:
        channels = int(kernel_shape[2] * kernel_shape[3])
    bn_channels = int(bn.moving_mean.shape[0])
    if bn_channels != channels:
        raise ValueError(
            f"Expected bn over the {channels} channels that conv {conv.name!r} "
            f"outputs; received bn {bn.name!r} over {bn_channels} channels. "
            "Pass the batch normalisation that directly follows this "
            "convolution.")
    return kind, channels


def fold_batch_norm(conv, bn) -> tuple[np.ndarray, np.ndarray]:
    """The kernel and bias of one convolution equal to ``bn(conv(x))`` at inference.

    Args:
        conv: a built ``keras.layers.Conv2D`` or ``DepthwiseConv2D`` with no
            activation (with or without a bias).
        bn: the built ``keras.layers.BatchNormalization`` that directly follows
            it, over the channel axis; its moving mean and variance are used
            (inference mode).

    Returns:
        ``(kernel, bias)`` as numpy arrays of the convolution's dtype: the
        kernel has the shape of ``conv.kernel``; the bias has one entry per
        output channel.

    Raises:
        TypeError: if ``conv`` or ``bn`` is not a layer of the kinds above.
        ValueError: if a layer is unbuilt, ``conv`` has an activation, or the
            channel counts or axes do not match.
    """
    kind, channels = _checked(conv, bn)
    mean = np.asarray(bn.moving_mean, dtype=np.float64)
    var = np.asarray(bn.moving_variance, dtype=np.float64)
    gamma = (np.asarray(bn.gamma, dtype=np.float64) if bn.scale
             else np.ones(channels))
    beta = (np.asarray(bn.beta, dtype=np.float64) if bn.center
            else np.zeros(channels))
    scale = gamma / np.sqrt(var + float(bn.epsilon))
    kernel = np.asarray(conv.kernel)
    dtype = kernel.dtype
    bias = (np.asarray(conv.bias, dtype=np.float64) if conv.use_bias
            else np.zeros(channels))
    if kind == "conv":
        # (kh, kw, c_in / groups, filters): output channels on the last axis.
        new_kernel = kernel.astype(np.float64) * scale
    else:
        # (kh, kw, c_in, multiplier): output channel c * multiplier + m.
        new_kernel = kernel.astype(np.float64) * scale.reshape(kernel.shape[2:])
    new_bias = scale * (bias - mean) + beta
    return new_kernel.astype(dtype), new_bias.astype(dtype)


def folded_conv(conv, bn):
    """A new convolution layer, with a bias, that computes ``bn(conv(x))``.

    The layer has ``conv``'s configuration (kernel size, strides, padding,
    groups, ...) with ``use_bias=True``, the name ``conv.name + "_folded"``,
    and the weights of :func:`fold_batch_norm`. It is built for the same
    input channels; use it at inference, in place of the pair.
    """
    kind, _ = _checked(conv, bn)
    kernel, bias = fold_batch_norm(conv, bn)
    config = dict(conv.get_config(), use_bias=True,
                  name=f"{conv.name}_folded")
    layer = type(conv).from_config(config)
    c_in = int(conv.kernel.shape[2])
    if kind == "conv":
        c_in *= int(conv.groups)
    if conv.data_format == "channels_last":
        shape = (None, None, None, c_in)
    else:
        shape = (None, c_in, None, None)
    layer.build(shape)
    layer.set_weights([kernel, bias])
    return layer

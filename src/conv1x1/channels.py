"""Working with the channels of a feature map: fixed and fitted 1x1 convolutions.

Three helpers that the chapters on dimensionality reduction and feature
fusion share:

* :func:`fixed_pointwise` turns a matrix (and a bias) into a Keras
  ``Conv2D(kernel_size=1)`` layer with exactly those weights, so a known
  linear map of the channels (a colour transform, a PCA projection) runs as
  a layer of a model;
* :func:`random_features` makes a real multi-channel feature map from an
  image with a seeded bank of random k x k filters and a ReLU, the kind of
  map a 1x1 convolution meets inside a network;
* :func:`fit_pointwise` finds the 1x1 convolution that maps one feature map
  to another best in the least-squares sense, in closed form.

Introduced in the chapter "Dimensionality reduction".
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from conv1x1._checks import boolean, finite_array, positive_int

__all__ = ["fixed_pointwise", "random_features", "fit_pointwise"]


def fixed_pointwise(matrix, bias=None, *, name: str = "pointwise",
                    trainable: bool = False):
    """A Keras 1x1 convolution whose kernel is a given matrix.

    ``Conv2D(filters=C_out, kernel_size=1)`` computes ``y = x @ matrix + bias``
    at every pixel (see the structure chapter). This builds such a layer for
    inputs with ``C_in`` channels and sets its weights, so a transform known
    in closed form, such as RGB to YCbCr or a PCA projection, becomes a layer
    that can sit in a model. The layer is frozen unless ``trainable=True``.

    Args:
        matrix: the kernel as a (C_in, C_out) matrix, or a Keras kernel of
            shape (1, 1, C_in, C_out).
        bias: optional bias of shape (C_out,); ``None`` builds a layer
            without a bias (``use_bias=False``).
        name: the layer's name.
        trainable: whether training may change the weights.

    Returns:
        A built ``keras.layers.Conv2D`` with ``kernel_size=1``.

    Raises:
        ValueError: if the matrix is not 2-D (or 1x1 4-D), the bias has the
            wrong shape, or either holds something other than finite real
            numbers.

    Introduced in the chapter "Dimensionality reduction".
    """
    import keras

    matrix = finite_array(matrix, "matrix").astype(np.float32)
    if matrix.ndim == 4 and matrix.shape[:2] == (1, 1):
        matrix = matrix[0, 0]
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(
            "Expected matrix of shape (C_in, C_out) or (1, 1, C_in, C_out); "
            f"received shape {matrix.shape}. Reshape a single row vector of "
            "weights w to w[:, None] for one output channel."
        )
    c_in, c_out = matrix.shape
    weights = [matrix.reshape(1, 1, c_in, c_out)]
    if bias is not None:
        bias = finite_array(bias, "bias").astype(np.float32)
        if bias.shape != (c_out,):
            raise ValueError(
                f"Expected a bias of shape ({c_out},), one value per output channel "
                f"(matrix has shape {matrix.shape}); received shape {bias.shape}."
            )
        weights.append(bias)
    layer = keras.layers.Conv2D(c_out, kernel_size=1, use_bias=bias is not None,
                                name=name, trainable=trainable)
    layer.build((None, None, None, c_in))
    layer.set_weights(weights)
    return layer


def random_features(images, channels: int, *, kernel_size: int = 3, seed: int = 0,
                    activation: str | None = "relu", prefix: str = "features_"):
    """A multi-channel feature map from an image, made by random filters.

    Applies a ``Conv2D(channels, kernel_size, padding="same")`` with seeded
    Glorot-uniform weights and small seeded random biases, then the
    activation. The result is what an untrained convolutional layer produces:
    many channels, each a different local pattern detector, strongly
    correlated with each other because they all look at the same image.
    The same arguments always give the same map.

    Args:
        images: an image (H, W, C) or a batch (N, H, W, C).
        channels: how many output channels (filters).
        kernel_size: the filters' spatial size.
        seed: seed of the filters' initializers.
        activation: a Keras activation name, or ``None`` for none.
        prefix: prefix of the convolution layer's name (``prefix + "conv"``).

    Returns:
        float32 numpy array with the same leading axes as ``images`` and
        ``channels`` channels.

    Raises:
        ValueError: for an input that is not 3-D or 4-D or holds NaN or
            infinite values, or a non-positive channel count or kernel size.

    Introduced in the chapter "Dimensionality reduction".
    """
    import keras

    images = finite_array(images, "images").astype(np.float32)
    if images.ndim not in (3, 4):
        raise ValueError(
            "Expected images of shape (H, W, C) or (N, H, W, C); received shape "
            f"{images.shape}."
        )
    channels = positive_int(channels, "channels")
    kernel_size = positive_int(kernel_size, "kernel_size")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"Expected seed to be an integer; received {seed!r}.")
    batch = images if images.ndim == 4 else images[None]
    conv = keras.layers.Conv2D(
        channels, kernel_size, padding="same", activation=activation,
        kernel_initializer=keras.initializers.GlorotUniform(seed=int(seed)),
        bias_initializer=keras.initializers.RandomUniform(-0.1, 0.1, seed=int(seed) + 1),
        name=f"{prefix}conv")
    out = keras.ops.convert_to_numpy(conv(batch)).astype(np.float32)
    return out if images.ndim == 4 else out[0]


def fit_pointwise(x, y, *, bias: bool = True):
    """The least-squares 1x1 convolution from feature map ``x`` to ``y``.

    Every pixel gives one equation ``y_ij = x_ij W + b``; stacking the
    pixels as rows turns the fit into an ordinary linear least-squares
    problem, solved in closed form with ``numpy.linalg.lstsq``. No
    gradient descent is involved, so the result is the exact optimum: no
    1x1 convolution gets a smaller sum of squared errors.

    Args:
        x: input feature map(s), shape (..., C_in).
        y: target feature map(s), shape (..., C_out), the same leading axes.
        bias: whether to fit a bias (an affine map) or a plain matrix.

    When the pixels do not determine the map (fewer pixels than unknowns
    per output channel, ``C_in`` or ``C_in + 1`` with a bias, or input
    channels that are linear combinations of each other) many maps fit
    equally well; the one with the smallest weights is returned, with a
    ``RuntimeWarning`` that says so.

    Returns:
        ``(W, b)``: the kernel as a (C_in, C_out) matrix and the bias of shape
        (C_out,) (zeros when ``bias=False``).

    Raises:
        ValueError: if the arrays are not numeric, hold NaN or infinite
            values, have fewer than 2 dimensions, no pixel or no channel,
            their leading axes differ, or ``bias`` is not True or False.

    Introduced in the chapter "Dimensionality reduction".
    """
    x = finite_array(x, "x").astype(np.float64)
    y = finite_array(y, "y").astype(np.float64)
    bias = boolean(bias, "bias")
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError(
            "Expected x and y with a channel axis last and at least one pixel axis, "
            f"e.g. (H, W, C); received shapes {x.shape} and {y.shape}."
        )
    if x.shape[:-1] != y.shape[:-1]:
        raise ValueError(
            f"x and y must have the same pixels: x has shape {x.shape} and y has "
            f"shape {y.shape}, which differ before the channel axis."
        )
    if x.size == 0 or y.size == 0:
        raise ValueError(
            "Expected at least one pixel and one channel in x and y; received "
            f"shapes {x.shape} and {y.shape}. A fit needs data."
        )
    rows_x = x.reshape(-1, x.shape[-1])
    rows_y = y.reshape(-1, y.shape[-1])
    if bias:
        rows_x = np.hstack([rows_x, np.ones((rows_x.shape[0], 1))])
    solution, _, rank, _ = np.linalg.lstsq(rows_x, rows_y, rcond=None)
    unknowns = rows_x.shape[1]
    if rank < unknowns:
        why = (f"only {rows_x.shape[0]} pixel(s) for {unknowns} unknowns per output "
               "channel" if rows_x.shape[0] < unknowns else
               "some input channels are linear combinations of the others")
        warnings.warn(
            f"fit_pointwise: the 1x1 convolution is not determined by the data "
            f"({why}; rank {rank} of {unknowns}). Many kernels fit equally well; "
            "the one with the smallest weights is returned. Use more pixels or "
            "fewer, independent channels for a unique fit.",
            RuntimeWarning, stacklevel=2)
    if bias:
        return solution[:-1], solution[-1]
    return solution, np.zeros(rows_y.shape[1])

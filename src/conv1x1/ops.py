"""Reference implementations of the 1x1 (pointwise) convolution in numpy.

A 1x1 convolution applies one linear map to the channel vector of every pixel.
For an input ``x`` of shape (N, H, W, C_in), a kernel ``w`` of shape
(C_in, C_out) and a bias ``b`` of length C_out, the output at every position is

    y[n, i, j, :] = x[n, i, j, :] @ w + b

These functions are the course's ground truth: they are tested against
``tf.nn.conv2d`` and used in the chapters to show what Keras computes.

Introduced in the chapter "The structure of a 1x1 convolution".
"""

from __future__ import annotations

import numpy as np

from conv1x1._checks import finite_array

__all__ = ["pointwise_conv", "pointwise_conv_loops", "as_matrix"]


def as_matrix(w) -> np.ndarray:
    """Return a 1x1 kernel as its (C_in, C_out) matrix.

    Accepts the matrix itself or a Keras-style kernel of shape
    (1, 1, C_in, C_out).

    Raises:
        ValueError: if ``w`` has another rank, a spatial size other than 1x1,
            no input or output channel, or NaN or infinite entries.
    """
    w = finite_array(w, "w")
    if w.ndim == 4:
        if w.shape[:2] != (1, 1):
            raise ValueError(
                "Expected a 1x1 kernel of shape (1, 1, C_in, C_out); received "
                f"shape {w.shape}, a {w.shape[0]}x{w.shape[1]} kernel. A pointwise "
                "convolution has no spatial extent: use a general convolution for "
                "larger kernels."
            )
        w = w[0, 0]
    if w.ndim == 2:
        if 0 in w.shape:
            raise ValueError(
                f"Expected a kernel with at least one input and one output channel; "
                f"received shape {w.shape}."
            )
        return w
    raise ValueError(
        "Expected w with 2 dimensions (C_in, C_out) or 4 dimensions "
        f"(1, 1, C_in, C_out); received shape {w.shape}."
    )


def _validate(x, w, b):
    x = finite_array(x, "x")
    if x.ndim not in (3, 4):
        raise ValueError(
            "Expected x with 4 dimensions (N, H, W, C_in) or 3 dimensions "
            f"(H, W, C_in); received shape {x.shape}. Add or remove a batch axis, "
            "e.g. x[None] for a single image."
        )
    if x.shape[-1] == 0:
        raise ValueError(
            f"Expected x with at least one channel; received shape {x.shape}, whose "
            "last (channel) axis is empty."
        )
    w = as_matrix(w)
    if x.shape[-1] != w.shape[0]:
        raise ValueError(
            f"Channel mismatch: x has {x.shape[-1]} channels (last axis of shape "
            f"{x.shape}) but w expects C_in={w.shape[0]} (w has shape {w.shape}). "
            "The kernel's first axis must equal the number of input channels."
        )
    if b is not None:
        b = finite_array(b, "b")
        if b.shape != (w.shape[1],):
            raise ValueError(
                f"Expected a bias of shape ({w.shape[1]},), one value per output "
                f"channel; received shape {b.shape}."
            )
    return x, w, b


def pointwise_conv(x, w, b=None) -> np.ndarray:
    """Apply a 1x1 convolution with a single matrix multiply.

    The spatial positions are independent, so the whole operation is
    ``x @ w`` on the last axis: numpy broadcasts the matrix product over
    the batch and spatial axes, exactly like reshaping ``x`` to
    (N*H*W, C_in), multiplying, and reshaping back.

    Args:
        x: input of shape (N, H, W, C_in) or (H, W, C_in).
        w: kernel of shape (C_in, C_out) or (1, 1, C_in, C_out).
        b: optional bias of shape (C_out,).

    Returns:
        Array of shape (..., H, W, C_out), the same leading axes as ``x``.

    Raises:
        ValueError: on a wrong rank, a channel mismatch, an empty channel
            axis, a kernel that is not 1x1, a bias of the wrong length,
            non-numeric data or NaN and infinite values (which a matrix
            product would spread silently to every output channel).
    """
    x, w, b = _validate(x, w, b)
    y = x @ w
    if b is not None:
        y = y + b
    return y


def pointwise_conv_loops(x, w, b=None) -> np.ndarray:
    """Apply a 1x1 convolution with explicit loops, one pixel at a time.

    Written for reading, not for speed: for every image, row and column it
    takes the pixel's channel vector and multiplies it by the kernel matrix.
    Accepts and returns the same shapes as :func:`pointwise_conv`.
    """
    x, w, b = _validate(x, w, b)
    batched = x if x.ndim == 4 else x[None]
    n, height, width, _ = batched.shape
    c_out = w.shape[1]
    y = np.zeros((n, height, width, c_out), dtype=np.result_type(batched, w))
    for image in range(n):
        for row in range(height):
            for col in range(width):
                pixel = batched[image, row, col]  # the channel vector, (C_in,)
                for out in range(c_out):
                    y[image, row, col, out] = np.dot(pixel, w[:, out])
                if b is not None:
                    y[image, row, col] += b
    return y if x.ndim == 4 else y[0]

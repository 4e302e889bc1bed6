"""conv1x1.ops against TensorFlow's own convolution."""

import numpy as np
import pytest
import tensorflow as tf

from conv1x1 import ops


def tf_conv1x1(x, w, b=None):
    """The independent reference: tf.nn.conv2d with a (1, 1, C_in, C_out) kernel."""
    x4 = x if x.ndim == 4 else x[None]
    y = tf.nn.conv2d(x4, w.reshape(1, 1, *w.shape), strides=1, padding="VALID").numpy()
    if b is not None:
        y = y + b
    return y if x.ndim == 4 else y[0]


@pytest.mark.parametrize("seed", range(12))
def test_matches_tf_conv2d_on_random_shapes(seed):
    rng = np.random.default_rng(seed)
    n, h, w_, c_in, c_out = rng.integers(1, 9, size=5)
    x = rng.normal(size=(n, h, w_, c_in)).astype(np.float32)
    w = rng.normal(size=(c_in, c_out)).astype(np.float32)
    b = rng.normal(size=(c_out,)).astype(np.float32)
    expected = tf_conv1x1(x, w, b)
    for fn in (ops.pointwise_conv, ops.pointwise_conv_loops):
        got = fn(x, w, b)
        assert got.shape == (n, h, w_, c_out)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_without_bias_and_single_image_and_keras_kernel_layout():
    rng = np.random.default_rng(100)
    x = rng.normal(size=(7, 5, 4)).astype(np.float32)
    w = rng.normal(size=(4, 6)).astype(np.float32)
    expected = tf_conv1x1(x, w)
    for fn in (ops.pointwise_conv, ops.pointwise_conv_loops):
        np.testing.assert_allclose(fn(x, w), expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(fn(x, w.reshape(1, 1, 4, 6)), expected, rtol=1e-5, atol=1e-5)
        assert fn(x, w).shape == (7, 5, 6)


def test_integer_input_is_computed_in_floating_point():
    x = np.arange(2 * 2 * 3).reshape(1, 2, 2, 3)
    w = np.array([[1], [2], [3]])
    got = ops.pointwise_conv(x, w, [0.5])
    np.testing.assert_allclose(got[0, :, :, 0], [[8.5, 26.5], [44.5, 62.5]])
    assert np.issubdtype(got.dtype, np.floating)


def test_as_matrix():
    w = np.ones((1, 1, 3, 2))
    assert ops.as_matrix(w).shape == (3, 2)
    assert ops.as_matrix(np.ones((3, 2))).shape == (3, 2)


@pytest.mark.parametrize("fn", [ops.pointwise_conv, ops.pointwise_conv_loops])
@pytest.mark.parametrize("x, w, b, words", [
    (np.ones((5, 5)), np.ones((5, 2)), None, "4 dimensions"),
    (np.ones((1, 1, 2, 2, 3)), np.ones((3, 2)), None, "received shape (1, 1, 2, 2, 3)"),
    (np.ones((1, 4, 4, 3)), np.ones((5, 2)), None, "Channel mismatch"),
    (np.ones((1, 4, 4, 3)), np.ones((3, 3, 3, 2)), None, "3x3 kernel"),
    (np.ones((1, 4, 4, 3)), np.ones((3,)), None, "received shape (3,)"),
    (np.ones((1, 4, 4, 3)), np.ones((3, 2)), np.ones(3), "bias of shape (2,)"),
    (np.ones((1, 4, 4, 3)), np.ones((3, 2)), np.ones((1, 2)), "received shape (1, 2)"),
    (np.full((1, 2, 2, 3), "a"), np.ones((3, 2)), None, "hold real numbers"),
    ([[1, 2], [3]], np.ones((3, 2)), None, "numeric array"),
    (np.ones((1, 2, 2, 3), dtype=complex), np.ones((3, 2)), None, "real numbers"),
    (np.ones((1, 2, 2, 3)), np.full((3, 2), None), None, "hold real numbers"),
])
def test_bad_arguments_raise_value_error(fn, x, w, b, words):
    with pytest.raises(ValueError) as info:
        fn(x, w, b)
    assert words in str(info.value)


@pytest.mark.parametrize("fn", [ops.pointwise_conv, ops.pointwise_conv_loops])
@pytest.mark.parametrize("where, value", [("x", np.nan), ("x", np.inf), ("w", -np.inf),
                                          ("w", np.nan), ("b", np.nan), ("b", np.inf)])
def test_nan_and_infinity_are_refused_by_name(fn, where, value):
    args = {"x": np.ones((1, 2, 2, 3)), "w": np.ones((3, 2)), "b": np.ones(2)}
    args[where] = args[where].copy()
    args[where].flat[1] = value
    with pytest.raises(ValueError, match=f"Expected {where} to hold finite numbers; "
                                         r"received 1 NaN or infinite"):
        fn(args["x"], args["w"], args["b"])


@pytest.mark.parametrize("fn", [ops.pointwise_conv, ops.pointwise_conv_loops])
@pytest.mark.parametrize("x, w, words", [
    (np.ones((1, 2, 2, 0)), np.ones((0, 2)), "at least one channel; received shape (1, 2, 2, 0)"),
    (np.ones((2, 2, 0)), np.ones((0, 3)), "at least one channel"),
    (np.ones((1, 2, 2, 3)), np.ones((3, 0)), "at least one input and one output channel"),
    (np.ones((1, 2, 2, 3)), np.ones((1, 1, 3, 0)), "received shape (3, 0)"),
])
def test_empty_channel_axes_are_refused(fn, x, w, words):
    with pytest.raises(ValueError) as info:
        fn(x, w)
    assert words in str(info.value)


def test_as_matrix_refuses_nan():
    with pytest.raises(ValueError, match="Expected w to hold finite numbers"):
        ops.as_matrix(np.full((1, 1, 2, 2), np.nan))


@pytest.mark.parametrize("fn", [ops.pointwise_conv, ops.pointwise_conv_loops])
@pytest.mark.parametrize("x_type, w_type", [(np.float32, np.float32), (np.float64, np.float32),
                                            (np.float32, np.float64)])
def test_both_implementations_keep_numpy_result_dtype(fn, x_type, w_type):
    x = np.ones((1, 2, 2, 3), dtype=x_type)
    w = np.ones((3, 2), dtype=w_type)
    assert fn(x, w).dtype == np.result_type(x_type, w_type)


@pytest.mark.parametrize("fn", [ops.pointwise_conv, ops.pointwise_conv_loops])
@pytest.mark.parametrize("x, w, b, text", [
    (np.ones((1, 2, 2, 3)), np.ones((2, 3, 4, 2)), None,
     "Expected a 1x1 kernel of shape (1, 1, C_in, C_out); received shape (2, 3, 4, 2), a "
     "2x3 kernel. A pointwise convolution has no spatial extent: use a general "
     "convolution for larger kernels."),
    (np.ones((1, 2, 2, 3)), np.ones(3), None,
     "Expected w with 2 dimensions (C_in, C_out) or 4 dimensions (1, 1, C_in, C_out); "
     "received shape (3,)."),
    (np.ones((1, 2, 2, 3)), np.ones((3, 0)), None,
     "Expected a kernel with at least one input and one output channel; received "
     "shape (3, 0)."),
    (np.ones((2, 3)), np.ones((3, 2)), None,
     "Expected x with 4 dimensions (N, H, W, C_in) or 3 dimensions (H, W, C_in); "
     "received shape (2, 3). Add or remove a batch axis, e.g. x[None] for a single image."),
    (np.ones((1, 2, 2, 0)), np.ones((0, 2)), None,
     "Expected x with at least one channel; received shape (1, 2, 2, 0), whose last "
     "(channel) axis is empty."),
    (np.ones((1, 2, 5, 3)), np.ones((4, 2)), None,
     "Channel mismatch: x has 3 channels (last axis of shape (1, 2, 5, 3)) but w expects "
     "C_in=4 (w has shape (4, 2)). The kernel's first axis must equal the number of "
     "input channels."),
    (np.ones((1, 2, 2, 3)), np.ones((3, 2)), np.ones(5),
     "Expected a bias of shape (2,), one value per output channel; received shape (5,)."),
])
def test_exact_messages(fn, x, w, b, text):
    with pytest.raises(ValueError) as info:
        fn(x, w, b)
    assert str(info.value) == text

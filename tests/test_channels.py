"""conv1x1.channels against TensorFlow's convolution, numpy's least squares and known transforms."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conv1x1 import channels, ops


def tf_conv1x1(x, w, b=None):
    y = tf.nn.conv2d(x, w.reshape(1, 1, *w.shape).astype(np.float32), strides=1,
                     padding="VALID").numpy()
    return y if b is None else y + b


# ---------------------------------------------------------------- fixed_pointwise

@pytest.mark.parametrize("seed", range(4))
def test_fixed_pointwise_computes_x_times_matrix_plus_bias(seed):
    rng = np.random.default_rng(seed)
    c_in, c_out = rng.integers(1, 7, size=2)
    x = rng.normal(size=(2, 5, 4, c_in)).astype(np.float32)
    w = rng.normal(size=(c_in, c_out))
    b = rng.normal(size=(c_out,))
    layer = channels.fixed_pointwise(w, b, name="mix")
    got = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(got, tf_conv1x1(x, w, b), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, ops.pointwise_conv(x, w, b), rtol=1e-5, atol=1e-5)
    assert isinstance(layer, keras.layers.Conv2D)
    assert layer.kernel_size == (1, 1) and layer.name == "mix"
    assert layer.count_params() == c_in * c_out + c_out


def test_fixed_pointwise_without_bias_frozen_and_keras_layout():
    rng = np.random.default_rng(10)
    w = rng.normal(size=(3, 2))
    x = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
    layer = channels.fixed_pointwise(w.reshape(1, 1, 3, 2))
    assert not layer.use_bias and not layer.trainable and layer.count_params() == 6
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), tf_conv1x1(x, w),
                               rtol=1e-5, atol=1e-5)
    assert channels.fixed_pointwise(w, trainable=True).trainable


def test_fixed_pointwise_ycbcr_matches_pillow():
    from PIL import Image

    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    kernel = np.array([[0.299, -0.168736, 0.5], [0.587, -0.331264, -0.418688],
                       [0.114, 0.5, -0.081312]])
    layer = channels.fixed_pointwise(kernel, [0.0, 0.5, 0.5])
    ours = 255 * keras.ops.convert_to_numpy(layer(rgb[None] / 255.0))[0]
    pil = np.asarray(Image.fromarray(rgb).convert("YCbCr"), dtype=float)
    assert np.max(np.abs(ours - pil)) <= 1.01


@pytest.mark.parametrize("matrix, bias, fragment", [
    (np.ones(3), None, "(C_in, C_out)"),
    (np.ones((3, 3, 2, 2)), None, "(C_in, C_out)"),
    (np.ones((0, 2)), None, "(C_in, C_out)"),
    (np.ones((3, 2)), np.ones(3), "bias of shape (2,)"),
    (np.array([["a", "b"]]), None, "real numbers"),
    (np.ones((3, 2)), np.array(["x", "y"]), "real numbers"),
    (np.ones((2, 2)) + 1j, None, "real numbers"),
])
def test_fixed_pointwise_rejects_bad_arguments(matrix, bias, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        channels.fixed_pointwise(matrix, bias)


def test_fixed_pointwise_rejects_ragged_input():
    with pytest.raises(ValueError, match="could not be converted"):
        channels.fixed_pointwise([[1.0, 2.0], [3.0]])


# ---------------------------------------------------------------- random_features

def test_random_features_is_a_seeded_conv_with_relu():
    rng = np.random.default_rng(0)
    image = rng.uniform(-0.5, 0.5, size=(12, 10, 3)).astype(np.float32)
    first = channels.random_features(image, 5, seed=4)
    again = channels.random_features(image, 5, seed=4)
    other = channels.random_features(image, 5, seed=5)
    assert first.shape == (12, 10, 5) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert first.min() >= 0 and 0 < np.mean(first > 0) < 1
    # The same filters without the activation: the ReLU of a linear convolution.
    linear = channels.random_features(image, 5, seed=4, activation=None)
    assert linear.min() < 0
    np.testing.assert_allclose(first, np.maximum(linear, 0), atol=1e-6)


def test_random_features_matches_tf_conv2d_with_same_weights():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    batch = rng.normal(size=(2, 9, 9, 4)).astype(np.float32)
    out = channels.random_features(batch, 6, kernel_size=3, seed=7, activation=None)
    kernel = keras.initializers.GlorotUniform(seed=7)((3, 3, 4, 6))
    bias = keras.initializers.RandomUniform(-0.1, 0.1, seed=8)((6,))
    expected = tf.nn.conv2d(batch, kernel, strides=1, padding="SAME").numpy() + bias.numpy()
    assert out.shape == (2, 9, 9, 6)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"images": np.ones((4, 4)), "channels": 2}, "(H, W, C) or (N, H, W, C)"),
    ({"images": np.ones((4, 4, 3)), "channels": 0}, "channels to be a positive integer"),
    ({"images": np.ones((4, 4, 3)), "channels": 2.5}, "channels to be a positive integer"),
    ({"images": np.ones((4, 4, 3)), "channels": 2, "kernel_size": 0}, "kernel_size"),
    ({"images": np.ones((4, 4, 3)), "channels": 2, "seed": 1.5}, "seed to be an integer"),
    ({"images": np.ones((4, 4, 3)), "channels": True}, "channels to be a positive integer"),
])
def test_random_features_rejects_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        channels.random_features(**kwargs)


# ---------------------------------------------------------------- fit_pointwise

def test_fit_pointwise_recovers_an_exact_affine_map():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 7, 5, 4))
    w = rng.normal(size=(4, 3))
    b = rng.normal(size=(3,))
    w_fit, b_fit = channels.fit_pointwise(x, ops.pointwise_conv(x, w, b))
    np.testing.assert_allclose(w_fit, w, atol=1e-10)
    np.testing.assert_allclose(b_fit, b, atol=1e-10)


def test_fit_pointwise_solves_the_normal_equations():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 8, 3))
    y = rng.normal(size=(8, 8, 2))                      # no exact fit exists
    rows = np.hstack([x.reshape(-1, 3), np.ones((64, 1))])
    expected = np.linalg.solve(rows.T @ rows, rows.T @ y.reshape(-1, 2))
    w_fit, b_fit = channels.fit_pointwise(x, y)
    np.testing.assert_allclose(np.vstack([w_fit, b_fit]), expected, atol=1e-10)
    # Without a bias: the normal equations of the plain matrix.
    rows = x.reshape(-1, 3)
    w_nb, b_nb = channels.fit_pointwise(x, y, bias=False)
    np.testing.assert_allclose(w_nb, np.linalg.solve(rows.T @ rows, rows.T @ y.reshape(-1, 2)),
                               atol=1e-10)
    np.testing.assert_array_equal(b_nb, np.zeros(2))


@pytest.mark.parametrize("x, y, fragment", [
    (np.ones(5), np.ones((5, 1)), "at least one pixel axis"),
    (np.ones((4, 4, 3)), np.ones((4, 5, 2)), "same pixels"),
    (np.array([["a"]]), np.ones((1, 1)), "real numbers"),
])
def test_fit_pointwise_rejects_bad_arguments(x, y, fragment):
    with pytest.raises(ValueError, match=fragment):
        channels.fit_pointwise(x, y)


@pytest.mark.parametrize("x, y, fragment", [
    (np.full((4, 4, 3), np.nan), np.ones((4, 4, 2)), "x to hold finite numbers"),
    (np.ones((4, 4, 3)), np.full((4, 4, 2), np.inf), "y to hold finite numbers"),
    (np.ones((0, 3)), np.ones((0, 2)), "at least one pixel"),
    (np.ones((4, 4, 0)), np.ones((4, 4, 2)), "at least one pixel and one channel"),
    (np.ones((4, 4, 3)), np.ones((4, 4, 0)), "at least one pixel and one channel"),
])
def test_fit_pointwise_refuses_data_it_cannot_fit(x, y, fragment):
    with pytest.raises(ValueError, match=fragment):
        channels.fit_pointwise(x, y)


def test_fit_pointwise_refuses_a_bias_flag_that_is_not_a_boolean():
    with pytest.raises(ValueError, match="Expected bias to be True or False; received 'no'"):
        channels.fit_pointwise(np.ones((4, 3)), np.ones((4, 2)), bias="no")


def test_fit_pointwise_warns_when_the_fit_is_not_unique():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 5))              # 2 pixels, 5 channels + a bias: 6 unknowns
    y = rng.normal(size=(2, 1))
    with pytest.warns(RuntimeWarning, match=r"only 2 pixel\(s\) for 6 unknowns"):
        w, b = channels.fit_pointwise(x, y)
    # Still an exact fit, and the smallest one: numpy's pseudo-inverse solution.
    np.testing.assert_allclose(x @ w + b, y, atol=1e-10)
    rows = np.hstack([x, np.ones((2, 1))])
    np.testing.assert_allclose(np.vstack([w, b]), np.linalg.pinv(rows) @ y, atol=1e-10)
    # Enough pixels but a channel that repeats another: not unique either.
    x = rng.normal(size=(50, 3))
    x[:, 2] = 2 * x[:, 0]
    with pytest.warns(RuntimeWarning, match="linear combinations"):
        channels.fit_pointwise(x, rng.normal(size=(50, 2)), bias=False)


def test_fit_pointwise_does_not_warn_when_the_fit_is_unique():
    import warnings

    rng = np.random.default_rng(8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        channels.fit_pointwise(rng.normal(size=(6, 5)), rng.normal(size=(6, 1)))


@pytest.mark.parametrize("call", [
    lambda: channels.fixed_pointwise(np.array([[1.0, np.nan]])),
    lambda: channels.fixed_pointwise(np.ones((2, 2)), [0.0, np.inf]),
    lambda: channels.random_features(np.full((4, 4, 3), np.nan), 2),
])
def test_fixed_and_random_features_refuse_nan_and_infinity(call):
    with pytest.raises(ValueError, match="to hold finite numbers"):
        call()

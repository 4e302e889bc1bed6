"""Batch norm folded into the convolution before it, against the two layers.

Every case runs the convolution and the batch normalisation in inference
mode on random inputs, with statistics far from the defaults (mean 0,
variance 1, gamma 1, beta 0), and compares with the one folded layer.
"""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from conv1x1 import deploy  # noqa: E402


def _bn(channels, *, seed, epsilon=1e-3, center=True, scale=True):
    """A built BatchNormalization with random, non-trivial statistics."""
    rng = np.random.default_rng(seed)
    bn = keras.layers.BatchNormalization(epsilon=epsilon, center=center,
                                         scale=scale)
    bn.build((None, None, None, channels))
    weights = []
    if scale:
        weights.append(rng.uniform(0.5, 2.0, channels))           # gamma
    if center:
        weights.append(rng.normal(0.0, 1.0, channels))            # beta
    weights.append(rng.normal(0.0, 2.0, channels))                # mean
    weights.append(rng.uniform(0.1, 4.0, channels))               # variance
    bn.set_weights([w.astype(np.float32) for w in weights])
    return bn


def _conv(layer, c_in, seed):
    layer.build((None, None, None, c_in))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32)
                       for w in layer.get_weights()])
    return layer


def _x(shape, seed=1):
    return np.random.default_rng(seed).normal(0, 1, shape).astype(np.float32)


@pytest.mark.parametrize("make, c_in, out", [
    (lambda: keras.layers.Conv2D(6, 1), 4, 6),
    (lambda: keras.layers.Conv2D(5, 3, strides=2, padding="same",
                                 use_bias=False), 3, 5),
    (lambda: keras.layers.Conv2D(4, 1, groups=2, use_bias=False), 4, 4),
    (lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2,
                                          padding="same"), 3, 6),
])
def test_folded_layer_computes_the_pair_in_inference_mode(make, c_in, out):
    conv = _conv(make(), c_in, seed=2)
    bn = _bn(out, seed=3, epsilon=0.01)
    x = _x((2, 7, 7, c_in))
    pair = bn(conv(x), training=False).numpy()
    folded = deploy.folded_conv(conv, bn)
    assert folded.use_bias and folded.strides == conv.strides
    assert folded.padding == conv.padding and folded.name.endswith("_folded")
    one = folded(x).numpy()
    assert one.shape == pair.shape
    # float32 rounding: relative to the outputs' size
    np.testing.assert_allclose(one, pair, rtol=1e-5,
                               atol=1e-5 * np.abs(pair).max())
    # and the statistics mattered: without them the outputs differ a lot
    assert np.abs(conv(x).numpy() - pair).max() > 0.1


def test_fold_matches_the_formula_channel_by_channel():
    conv = _conv(keras.layers.Conv2D(3, 1), 2, seed=4)
    bn = _bn(3, seed=5, epsilon=0.5)
    kernel, bias = deploy.fold_batch_norm(conv, bn)
    gamma, beta, mean, var = (np.asarray(w, np.float64)
                              for w in bn.get_weights())
    w, b = conv.get_weights()
    s = gamma / np.sqrt(var + 0.5)        # epsilon is used, not dropped
    np.testing.assert_allclose(kernel, w * s, rtol=1e-6)
    np.testing.assert_allclose(bias, s * (b - mean) + beta, rtol=1e-5,
                               atol=1e-6)
    assert kernel.dtype == np.float32 and bias.shape == (3,)


def test_batch_norm_without_gamma_or_beta():
    conv = _conv(keras.layers.Conv2D(3, 1, use_bias=False), 2, seed=6)
    bn = _bn(3, seed=7, center=False, scale=False)
    mean, var = (np.asarray(w, np.float64) for w in bn.get_weights())
    kernel, bias = deploy.fold_batch_norm(conv, bn)
    np.testing.assert_allclose(bias, -mean / np.sqrt(var + 1e-3), rtol=1e-5)
    x = _x((1, 3, 3, 2))
    np.testing.assert_allclose(deploy.folded_conv(conv, bn)(x).numpy(),
                               bn(conv(x), training=False).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_channels_first_pair_folds():
    conv = keras.layers.Conv2D(3, 1, data_format="channels_first")
    conv.build((None, 2, None, None))
    bn = keras.layers.BatchNormalization(axis=1)
    bn.build((None, 3, None, None))
    bn.set_weights([np.array(v, np.float32) for v in
                    ([2, 1, .5], [1, 0, -1], [3, -2, 1], [4, 1, .25])])
    kernel, bias = deploy.fold_batch_norm(conv, bn)
    s = np.array([2, 1, .5]) / np.sqrt(np.array([4, 1, .25]) + 1e-3)
    np.testing.assert_allclose(kernel, conv.get_weights()[0] * s, rtol=1e-6)
    np.testing.assert_allclose(bias, s * -np.array([3, -2, 1]) + [1, 0, -1],
                               rtol=1e-5)


def _unbuilt_conv():
    return keras.layers.Conv2D(3, 1)


def _bad_calls():
    conv = _conv(keras.layers.Conv2D(3, 1), 2, seed=8)
    relu = _conv(keras.layers.Conv2D(3, 1, activation="relu"), 2, seed=8)
    bn3, bn4 = _bn(3, seed=9), _bn(4, seed=9)
    dense = keras.layers.Dense(3)
    dense.build((None, 2))
    return [
        (lambda: deploy.fold_batch_norm(bn3, conv), TypeError, "conv"),
        (lambda: deploy.fold_batch_norm(dense, bn3), TypeError, "Conv2D"),
        (lambda: deploy.fold_batch_norm(conv, dense), TypeError,
         "BatchNormalization"),
        (lambda: deploy.fold_batch_norm(_unbuilt_conv(), bn3), ValueError,
         "built"),
        (lambda: deploy.fold_batch_norm(
            conv, keras.layers.BatchNormalization()), ValueError, "built"),
        (lambda: deploy.fold_batch_norm(conv, bn4), ValueError,
         "3 channels"),
        (lambda: deploy.fold_batch_norm(relu, bn3), ValueError,
         "activation"),
        (lambda: deploy.folded_conv(conv, bn4), ValueError, "4 channels"),
        (lambda: deploy.folded_conv(None, bn3), TypeError, "NoneType"),
    ]


def test_bad_arguments_name_what_was_expected():
    for call, error, words in _bad_calls():
        with pytest.raises(error, match=words):
            call()


def test_batch_norm_over_another_axis_is_refused():
    conv = _conv(keras.layers.Conv2D(3, 1), 3, seed=10)
    bn = keras.layers.BatchNormalization(axis=1)
    bn.build((None, 3, 5, 5))
    with pytest.raises(ValueError, match="channel axis"):
        deploy.fold_batch_norm(conv, bn)

"""conv1x1.modern: shares of the work, groups and shuffles, MBConv, Dense as
1x1 convolution, the profiler's counts."""

import math

import keras
import numpy as np
import pytest

from conv1x1 import cost, modern
from conv1x1.mobilenet import inverted_residual


def test_applications_are_in_arxiv_order_and_buildable_names():
    ids = [arxiv for _, arxiv, _ in modern.APPLICATIONS]
    assert ids == sorted(ids, key=lambda a: tuple(map(int, a.split("."))))
    assert len(modern.APPLICATIONS) == 9
    for name, _, _ in modern.APPLICATIONS:
        assert hasattr(keras.applications, name)


@pytest.mark.parametrize("groups", [1, 2, 3, 4, 12])
def test_grouped_pointwise_costs_the_closed_form(groups):
    h, w, c_in, c_out = 7, 5, 24, 36
    model = keras.Sequential([keras.Input((h, w, c_in)),
                              keras.layers.Conv2D(c_out, 1, groups=groups)])
    (record,) = cost.layer_costs(model)
    assert record.kind == "pointwise"
    assert record.macs == h * w * c_in * c_out / groups
    assert record.params == model.count_params()
    assert record.params == c_in * c_out / groups + c_out
    assert cost.conv_macs(h, w, c_in, c_out, groups=groups) == record.macs


def _small_model():
    inputs = keras.Input((6, 6, 4))
    x = keras.layers.Conv2D(8, 3, padding="same", name="k3")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(8, 1, name="pw")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.Conv2D(8, 7, padding="same", groups=8, name="gdw")(x)
    x = keras.layers.Dense(16, name="pixel_dense")(x)
    x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="pool")(x)
    x = keras.layers.Conv2D(5, 1, name="fc_conv")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    return keras.Model(inputs, outputs)


def test_shares_sort_every_kind_of_layer():
    model = _small_model()
    shares = modern.pointwise_shares(model)
    hw = 36
    expected = {
        "spatial": hw * 9 * 4 * 8,
        "pointwise": hw * 8 * 8,
        "depthwise": hw * 9 * 8 + hw * 49 * 8,
        "per_pixel_dense": hw * 8 * 16,
        "fully_connected": 16 * 5 + 5 * 3,
        "other": 0,
    }
    assert shares.macs == expected
    assert shares.total_params == model.count_params()
    assert shares.params["other"] == 4 * 8          # batch normalization
    assert shares.params["per_pixel_dense"] == 8 * 16 + 16
    assert math.isclose(sum(shares.macs_pct(k) for k in modern.SHARE_KINDS),
                        100.0)
    assert math.isclose(shares.pointwise_macs_pct(),
                        100 * (hw * 64 + hw * 128) / sum(expected.values()))
    with pytest.raises(ValueError, match="kind"):
        shares.macs_pct("conv")


def test_shares_of_convnext_tiny_against_its_closed_form():
    """ConvNeXt-T from its configuration (Liu et al. 2022, section 3):
    a 4x4 stride-4 stem, stages of (3, 3, 9, 3) blocks of widths (96, 192,
    384, 768) on 56, 28, 14 and 7 pixel maps, each block a 7x7 depthwise
    and two per-pixel Linear layers C -> 4C -> C, 2x2 stride-2 layers
    between stages and a 768 -> 1000 head."""
    model = modern.build_application("ConvNeXtTiny")
    shares = modern.pointwise_shares(model)
    depths, widths, sizes = (3, 3, 9, 3), (96, 192, 384, 768), (56, 28, 14, 7)
    dense = sum(d * s * s * 8 * c * c
                for d, c, s in zip(depths, widths, sizes))
    depthwise = sum(d * s * s * 49 * c
                    for d, c, s in zip(depths, widths, sizes))
    spatial = 56 * 56 * 16 * 3 * 96 + sum(
        s * s * 4 * c_prev * c
        for c_prev, c, s in zip(widths, widths[1:], sizes[1:]))
    assert shares.macs["per_pixel_dense"] == dense
    assert shares.macs["depthwise"] == depthwise
    assert shares.macs["spatial"] == spatial
    assert shares.macs["fully_connected"] == 768 * 1000
    assert shares.macs["pointwise"] == 0
    assert shares.total_params == model.count_params()
    assert round(shares.total_macs / 1e9, 1) == 4.5   # the paper's "4.5G"


def test_channel_shuffle_is_shufflenets_permutation():
    g, n = 3, 4
    inputs = keras.Input((2, 2, g * n))
    model = keras.Model(inputs, modern.channel_shuffle(inputs, g, prefix="s_"))
    x = np.broadcast_to(np.arange(g * n, dtype="float32"), (1, 2, 2, g * n))
    out = np.asarray(model(x))[0, 0, 0]
    # Channel j of group i (index i * n + j) goes to position j * g + i.
    expected = np.empty(g * n)
    for i in range(g):
        for j in range(n):
            expected[j * g + i] = i * n + j
    assert np.array_equal(out, expected)
    assert model.count_params() == 0
    assert sum(r.macs for r in cost.layer_costs(model)) == 0


def _features(shuffle, groups=4):
    net = modern.grouped_network(shuffle, input_shape=(3, 3, 8),
                                 groups=groups, width=32)
    return net, keras.Model(net.input, net.get_layer("conv2").output)


def test_without_a_shuffle_each_group_reaches_only_itself():
    _, plain = _features(False)
    _, shuffled = _features(True)
    for k in range(4):
        assert modern.groups_reached(plain, k, 4) == {k}
        assert modern.groups_reached(shuffled, k, 4) == {0, 1, 2, 3}


def test_the_shuffle_costs_nothing():
    plain, _ = _features(False)
    shuffled, _ = _features(True)
    assert plain.count_params() == shuffled.count_params()
    assert (cost.cost_table(plain).total_macs
            == cost.cost_table(shuffled).total_macs
            == 9 * 8 * 32 // 4 + 9 * 32 * 32 // 4 + 32 * 2)


def test_cross_group_task_puts_the_signs_in_two_groups():
    images, labels = modern.cross_group_task(400, channels=8, groups=2)
    a = images[..., 0].mean(axis=(1, 2))
    b = images[..., 4].mean(axis=(1, 2))
    assert np.mean((np.sign(a) == np.sign(b)) == labels) > 0.95
    assert 0.4 < labels.mean() < 0.6
    assert images.dtype == np.float32 and images.shape == (400, 6, 6, 8)


def test_mbconv_without_se_is_the_inverted_residual():
    x = keras.Input((10, 10, 16))
    ours = keras.Model(x, modern.mbconv(x, 16, 6, 1, prefix="m_",
                                        se_ratio=None, activation="relu6"))
    y = keras.Input((10, 10, 16))
    course = keras.Model(y, inverted_residual(y, 16, 6, 1, prefix="c_"))
    mine = [(r.kind, r.macs, r.params) for r in cost.layer_costs(ours)
            if r.params]
    theirs = [(r.kind, r.macs, r.params) for r in cost.layer_costs(course)
              if r.params]
    assert mine == theirs
    with_weights = [layer for layer in course.layers if layer.weights]
    for a, b in zip([y for y in ours.layers if y.weights], with_weights):
        a.set_weights(b.get_weights())
    probe = np.random.default_rng(0).normal(size=(2, 10, 10, 16))
    np.testing.assert_allclose(np.asarray(ours(probe)),
                               np.asarray(course(probe)), atol=1e-5)


def test_mbconv_squeezes_from_the_input_channels():
    x = keras.Input((8, 8, 24))
    model = keras.Model(x, modern.mbconv(x, 40, 6, 2, prefix="b_",
                                         kernel_size=5))
    assert model.get_layer("b_se_reduce").filters == 6       # 24 / 4
    assert model.get_layer("b_se_expand").filters == 144     # 6 * 24
    assert tuple(model.output.shape) == (None, 4, 4, 40)
    assert "b_add" not in [layer.name for layer in model.layers]


def test_dense_on_a_map_is_a_pointwise_convolution():
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 12)).astype("float32")
    dense = keras.layers.Dense(48)
    y_dense = np.asarray(dense(x))
    conv = modern.dense_as_pointwise(dense)
    y_conv = np.asarray(conv(x))
    np.testing.assert_allclose(y_conv, y_dense, rtol=1e-5, atol=1e-5)
    assert conv.count_params() == dense.count_params() == 12 * 48 + 48


def test_profiler_counts_two_float_ops_per_mac():
    inputs = keras.Input((9, 9, 3))
    x = keras.layers.Conv2D(8, 3, use_bias=False)(inputs)
    x = keras.layers.Conv2D(16, 1, use_bias=False)(x)
    x = keras.layers.DepthwiseConv2D(3, use_bias=False)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(4, use_bias=False)(x)
    model = keras.Model(inputs, outputs)
    ops = modern.profiler_float_ops(model)
    conv = 7 * 7 * 27 * 8 + 7 * 7 * 8 * 16
    depthwise = 5 * 5 * 9 * 16
    dense = 5 * 5 * 16 * 4
    assert ops["Conv2D"] == 2 * conv
    assert ops["DepthwiseConv2dNative"] == 2 * depthwise
    assert ops["MatMul"] == 2 * dense
    counted = sum(r.macs for r in cost.layer_costs(model))
    assert counted == conv + depthwise + dense


@pytest.mark.parametrize("call, words", [
    (lambda: modern.build_application("ResNet18"), "name"),
    (lambda: modern.grouped_network(True, input_shape=(4, 4, 6), groups=4),
     "divide"),
    (lambda: modern.grouped_network(True, width=30), "multiple"),
    (lambda: modern.grouped_network("yes"), "True or False"),
    (lambda: modern.cross_group_task(10, groups=1), "groups"),
    (lambda: modern.channel_shuffle(keras.Input((4, 4, 6)), 4, prefix="s"),
     "divide"),
    (lambda: modern.channel_shuffle(np.zeros((1, 4, 4, 6)), 2, prefix="s"),
     "Keras tensor"),
    (lambda: modern.mbconv(keras.Input((8, 8, 8)), 8, prefix="m",
                           se_ratio=2.0), "se_ratio"),
    (lambda: modern.mbconv(keras.Input((8, 8, 8)), 8, prefix="m",
                           kernel_size=4), "odd"),
    (lambda: modern.dense_as_pointwise(keras.layers.Dense(3)), "built"),
])
def test_bad_arguments_are_explained(call, words):
    with pytest.raises(ValueError, match=words):
        call()


class _RoundingNoise:
    """A pretend model: the identity on 8 channels, plus noise of float32
    rounding's size on the second row of a batch, as a processor that sums
    two rows of one batch in different orders gives."""

    class _Tensor:
        shape = (None, 2, 2, 8)

    input = output = _Tensor()

    def __call__(self, x):
        out = np.array(x, dtype="float32")
        out[1] += 3e-8
        return out


def test_groups_reached_ignores_rounding_but_not_a_real_change():
    assert modern.groups_reached(_RoundingNoise(), 1, 4) == {1}
    assert modern.groups_reached(_RoundingNoise(), 0, 2) == {0}


def test_groups_reached_checks_its_group():
    _, plain = _features(False)
    with pytest.raises(ValueError, match="input_group"):
        modern.groups_reached(plain, 4, 4)


def test_copy_weights_by_name_refuses_a_missing_namesake():
    x = keras.Input((4, 4, 3))
    a = keras.Model(x, keras.layers.Conv2D(2, 1, name="one")(x))
    y = keras.Input((4, 4, 3))
    b = keras.Model(y, keras.layers.Conv2D(2, 1, name="two")(y))
    with pytest.raises(ValueError, match="namesake"):
        modern.copy_weights_by_name(a, b)
    c = keras.Model(y, keras.layers.Conv2D(2, 1, name="one")(y))
    assert modern.copy_weights_by_name(a, c) == ["one"]
    np.testing.assert_array_equal(c.get_layer("one").get_weights()[0],
                                  a.get_layer("one").get_weights()[0])


def test_channel_dependence_of_a_grouped_layer_is_block_diagonal():
    x = keras.Input((3, 3, 8))
    model = keras.Model(x, keras.layers.Conv2D(12, 1, groups=4)(x))
    linked = modern.channel_dependence(model)
    # Input channel c (group c // 2) reaches output channel o (group o // 3).
    expected = np.array([[c // 2 == o // 3 for o in range(12)]
                         for c in range(8)])
    assert np.array_equal(linked, expected)

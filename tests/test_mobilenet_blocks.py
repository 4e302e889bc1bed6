"""conv1x1.blocks.depthwise_separable / inverted_residual and conv1x1.models.mobilenet."""

import keras
import numpy as np
import pytest

from conv1x1 import blocks, cost, models


def block_model(input_shape, build):
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, build(inputs))


def by_name(model):
    return {record.name: record for record in cost.layer_costs(model)}


# --------------------------------------------------------------------------
# depthwise_separable

@pytest.mark.parametrize("size, channels, filters, stride, kernel", [
    (16, 8, 12, 1, 3), (16, 8, 12, 2, 3), (15, 8, 4, 2, 3), (15, 6, 6, 1, 5),
    (12, 3, 5, 2, 5), (7, 16, 32, 2, 3),
])
def test_depthwise_separable_shapes_and_costs(size, channels, filters, stride, kernel):
    model = block_model((size, size, channels), lambda x: blocks.depthwise_separable(
        x, filters, stride, prefix="b_", kernel_size=kernel))
    out = size if stride == 1 else size // 2          # Keras's MobileNet: floor(size / 2)
    assert tuple(model.output.shape) == (None, out, out, filters)
    weights_dw = kernel * kernel * channels
    weights_pw = channels * filters
    # Keras's own count: the two kernels plus 4 BN numbers per channel, no biases.
    assert model.count_params() == weights_dw + weights_pw + 4 * channels + 4 * filters
    records = by_name(model)
    assert records["b_dw"].kind == "depthwise" and records["b_pw"].kind == "pointwise"
    assert records["b_dw"].weights == weights_dw and records["b_pw"].weights == weights_pw
    assert records["b_dw"].macs == out * out * weights_dw
    assert records["b_pw"].macs == out * out * weights_pw == cost.conv_macs(out, out, channels, filters)
    assert ("b_pad" in records) == (stride == 2)
    names = [layer.name for layer in model.layers[1:]]
    assert names[-6:] == ["b_dw", "b_dw_bn", "b_dw_relu", "b_pw", "b_pw_bn", "b_pw_relu"]


def test_depthwise_separable_computes_depthwise_then_pointwise():
    """Against tf-free numpy: with identity BN, the block is ReLU6(ReLU6(dw(x)) @ W)."""
    rng = np.random.default_rng(0)
    model = block_model((6, 6, 3), lambda x: blocks.depthwise_separable(x, 4, prefix="b_"))
    dw = rng.normal(size=(3, 3, 3, 1)).astype("float32")
    pw = rng.normal(size=(1, 1, 3, 4)).astype("float32")
    model.get_layer("b_dw").set_weights([dw])
    model.get_layer("b_pw").set_weights([pw])
    x = rng.normal(size=(2, 6, 6, 3)).astype("float32")
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    depthwise = np.zeros_like(x)
    for i in range(6):
        for j in range(6):
            depthwise[:, i, j] = np.einsum("nuvc,uvc->nc", padded[:, i:i + 3, j:j + 3],
                                           dw[..., 0])
    eps = model.get_layer("b_dw_bn").epsilon
    scale = 1 / np.sqrt(1 + eps)                      # fresh BN: mean 0, variance 1
    hidden = np.clip(depthwise * scale, 0, 6)
    expected = np.clip(hidden @ pw[0, 0] * scale, 0, 6)
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_depthwise_separable_momentum_reaches_batch_norm():
    model = block_model((8, 8, 4), lambda x: blocks.depthwise_separable(
        x, 4, prefix="b_", bn_momentum=0.9))
    assert model.get_layer("b_dw_bn").momentum == model.get_layer("b_pw_bn").momentum == 0.9


# --------------------------------------------------------------------------
# inverted_residual

@pytest.mark.parametrize("size, channels, filters, expansion, stride", [
    (16, 8, 8, 6, 1), (16, 8, 16, 6, 1), (16, 8, 8, 6, 2), (15, 4, 6, 3, 2),
    (10, 16, 16, 1, 1), (10, 32, 16, 1, 1),
])
def test_inverted_residual_shapes_costs_and_residual(size, channels, filters, expansion, stride):
    model = block_model((size, size, channels), lambda x: blocks.inverted_residual(
        x, filters, expansion, stride, prefix="b_"))
    out = -(-size // stride)
    hidden = expansion * channels
    assert tuple(model.output.shape) == (None, out, out, filters)
    records = by_name(model)
    expand = size * size * channels * hidden if expansion > 1 else 0
    assert ("b_expand" in records) == (expansion > 1)
    assert records["b_depthwise"].macs == out * out * 9 * hidden
    assert records["b_project"].macs == out * out * hidden * filters
    assert records["b_project"].kind == "pointwise"
    if expansion > 1:
        assert records["b_expand"].macs == expand
        assert records["b_expand"].kind == "pointwise"
    assert cost.cost_table(model).total_macs == expand + out * out * (9 * hidden + hidden * filters)
    weights = (channels * hidden if expansion > 1 else 0) + 9 * hidden + hidden * filters
    bn = 4 * ((hidden if expansion > 1 else 0) + hidden + filters)
    assert model.count_params() == weights + bn
    residual = stride == 1 and channels == filters
    assert ("b_add" in [layer.name for layer in model.layers]) == residual
    # No activation after the projection: the last layer is the BN or the add.
    assert model.layers[-1].name == ("b_add" if residual else "b_project_bn")


@pytest.mark.parametrize("residual", [True, False])
def test_inverted_residual_adds_the_input(residual):
    """With the projection's BN set to output zero, the block returns x (or 0)."""
    filters = 6 if residual else 5
    model = block_model((5, 5, 6), lambda x: blocks.inverted_residual(x, filters, prefix="b_"))
    bn = model.get_layer("b_project_bn")
    bn.set_weights([np.zeros(filters), np.zeros(filters), np.zeros(filters), np.ones(filters)])
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 6)).astype("float32")
    expected = x if residual else np.zeros((2, 5, 5, 5), "float32")
    np.testing.assert_allclose(model(x).numpy(), expected, atol=1e-6)


def test_projection_is_linear():
    """Negative outputs survive: no ReLU after the projection."""
    model = block_model((6, 6, 4), lambda x: blocks.inverted_residual(x, 3, prefix="b_"))
    x = np.random.default_rng(2).normal(size=(4, 6, 6, 4)).astype("float32")
    assert (model(x).numpy() < 0).any()


@pytest.fixture(scope="module")
def keras_v2():
    return keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))


@pytest.mark.parametrize("keras_prefix, input_layer, filters, expansion, stride", [
    ("expanded_conv_", "Conv1_relu", 16, 1, 1),
    ("block_1_", "expanded_conv_project_BN", 24, 6, 2),
    ("block_2_", "block_1_project_BN", 24, 6, 1),
    ("block_13_", "block_12_add", 160, 6, 2),
])
def test_inverted_residual_matches_keras_mobilenet_v2(keras_v2, keras_prefix, input_layer,
                                                       filters, expansion, stride):
    shape = keras_v2.get_layer(input_layer).output.shape[1:]
    mine = block_model(shape, lambda x: blocks.inverted_residual(
        x, filters, expansion, stride, prefix="b_"))
    theirs = {r.name: r for r in cost.layer_costs(keras_v2) if r.name.startswith(keras_prefix)}
    theirs_params = sum(keras_v2.get_layer(n).count_params() for n in
                        (layer.name for layer in keras_v2.layers) if n.startswith(keras_prefix))
    assert mine.count_params() == theirs_params
    assert cost.cost_table(mine).total_macs == sum(r.macs for r in theirs.values())
    assert tuple(mine.output.shape[1:]) == tuple(keras_v2.get_layer(
        keras_prefix + "project_BN").output.shape[1:])
    assert ("b_add" in [layer.name for layer in mine.layers]) == (
        (keras_prefix + "add") in [layer.name for layer in keras_v2.layers])


# --------------------------------------------------------------------------
# mobilenet

@pytest.mark.parametrize("alpha", [1.0, 0.75, 0.5, 0.25])
@pytest.mark.parametrize("input_shape", [(224, 224, 3), (161, 193, 3)])
def test_mobilenet_matches_keras_applications(alpha, input_shape):
    mine = models.mobilenet(alpha=alpha, input_shape=input_shape)
    theirs = keras.applications.MobileNet(weights=None, alpha=alpha, input_shape=input_shape)
    assert mine.count_params() == theirs.count_params()
    mine_table, theirs_table = cost.cost_table(mine), cost.cost_table(theirs)
    assert mine_table.rows == theirs_table.rows
    assert mine_table.total_macs == theirs_table.total_macs
    assert tuple(mine.output.shape) == tuple(theirs.output.shape) == (None, 1000)
    last = [layer for layer in mine.layers if layer.name.endswith("pw_relu")][-1]
    assert tuple(last.output.shape) == tuple(theirs.get_layer("conv_pw_13_relu").output.shape)


# (alpha, resolution) -> printed mult-adds (millions) and parameters (millions), Tables 6 and 7.
PAPER = {(1.0, 224): (569, 4.2), (0.75, 224): (325, 2.6), (0.5, 224): (149, 1.3),
         (0.25, 224): (41, 0.5), (1.0, 192): (418, 4.2), (1.0, 160): (290, 4.2),
         (1.0, 128): (186, 4.2)}


@pytest.mark.parametrize("alpha, size", sorted(PAPER))
def test_mobilenet_reproduces_tables_6_and_7(alpha, size):
    table = cost.cost_table(models.mobilenet(alpha=alpha, input_shape=(size, size, 3)))
    macs, weights = PAPER[alpha, size]
    assert round(table.total_weights / 1e6, 1) == weights
    if (alpha, size) == (1.0, 160):
        # 290,675,200 MACs: the paper truncates this one to 290; rounded it is 291.
        assert table.total_macs == 290_675_200 and round(table.total_macs / 1e6) == 291
    else:
        assert round(table.total_macs / 1e6) == macs


def test_mobilenet_table_2():
    table = cost.cost_table(models.mobilenet())
    assert table.total_macs == 568_740_352 and table.total_weights == 4_209_088
    assert table.total_params == 4_253_864
    shares = {kind: (round(table.row(kind).macs_pct, 2), round(table.row(kind).weights_pct, 2))
              for kind in ("pointwise", "depthwise", "conv", "dense")}
    assert shares == {"pointwise": (94.86, 74.59), "depthwise": (3.06, 1.06),
                      "conv": (1.91, 0.02), "dense": (0.18, 24.33)}


def test_mobilenet_small_and_custom_stages():
    model = models.mobilenet_small()
    assert tuple(model.output.shape) == (None, 4)
    assert model.get_layer("block5_pw_relu").output.shape[1:] == (4, 4, 128)
    assert model.get_layer("conv1_bn").momentum == 0.9
    records = by_name(model)
    assert records["conv_preds"].kind == "dense" and records["conv_preds"].weights == 128 * 4
    custom = models.mobilenet(0.5, (16, 16, 3), 10, stages=((8, 2), (16, 1)), first_filters=8)
    assert custom.get_layer("block2_pw").output.shape[1:] == (4, 4, 8)
    probabilities = custom(np.zeros((2, 16, 16, 3), "float32")).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


# --------------------------------------------------------------------------
# Error paths

def tensor(shape=(8, 8, 4)):
    return keras.Input(shape=shape)


@pytest.mark.parametrize("build, match", [
    (lambda: blocks.depthwise_separable(tensor(), 0, prefix="b_"), "filters"),
    (lambda: blocks.depthwise_separable(tensor(), 2.5, prefix="b_"), "filters"),
    (lambda: blocks.depthwise_separable(tensor(), 4, 3, prefix="b_"), "stride"),
    (lambda: blocks.depthwise_separable(tensor(), 4, True, prefix="b_"), "stride"),
    (lambda: blocks.depthwise_separable(tensor(), 4, prefix="b_", kernel_size=4), "odd"),
    (lambda: blocks.depthwise_separable(tensor(), 4, prefix="b_", kernel_size=1), "kernel_size"),
    (lambda: blocks.depthwise_separable(tensor(), 4, prefix="b_", bn_momentum=1.0), "bn_momentum"),
    (lambda: blocks.depthwise_separable(np.zeros((5, 5)), 4, prefix="b_"), "shape"),
    (lambda: blocks.inverted_residual(tensor(), 0, prefix="b_"), "filters"),
    (lambda: blocks.inverted_residual(tensor(), 4, 0, prefix="b_"), "expansion"),
    (lambda: blocks.inverted_residual(tensor(), 4, 1.5, prefix="b_"), "expansion"),
    (lambda: blocks.inverted_residual(tensor(), 4, 6, 0, prefix="b_"), "stride"),
    (lambda: blocks.inverted_residual(tensor(), 4, prefix="b_", kernel_size=2), "kernel_size"),
    (lambda: blocks.inverted_residual(tensor(), 4, prefix="b_", bn_momentum=-0.1), "bn_momentum"),
    (lambda: blocks.inverted_residual(keras.Input(shape=(8, 4)), 4, prefix="b_"), "shape"),
    (lambda: models.mobilenet(alpha=0), "alpha"),
    (lambda: models.mobilenet(alpha=-0.5), "alpha"),
    (lambda: models.mobilenet(alpha="1"), "alpha"),
    (lambda: models.mobilenet(alpha=0.01), "alpha"),
    (lambda: models.mobilenet(input_shape=(31, 224, 3)), "at least 32"),
    (lambda: models.mobilenet(input_shape=(224, 16, 3)), "at least 32"),
    (lambda: models.mobilenet(input_shape=(224, 224, 1)), "3 channels"),
    (lambda: models.mobilenet(input_shape=(224, 224)), "input_shape"),
    (lambda: models.mobilenet(input_shape=(224, 0, 3)), "input_shape"),
    (lambda: models.mobilenet(input_shape="224"), "input_shape"),
    (lambda: models.mobilenet(classes=0), "classes"),
    (lambda: models.mobilenet(dropout=1.0), "dropout"),
    (lambda: models.mobilenet(bn_momentum=2), "bn_momentum"),
    (lambda: models.mobilenet(stages=()), "stage"),
    (lambda: models.mobilenet(stages=(64, 128)), "stages"),
    (lambda: models.mobilenet(stages=((64, 3),)), "stride"),
    (lambda: models.mobilenet(stages=((0, 1),)), "filters"),
    (lambda: models.mobilenet(first_filters=0), "first_filters"),
    (lambda: models.mobilenet_small(input_shape=(7, 7, 3)), "at least 8"),
    (lambda: models.mobilenet_small(alpha=0), "alpha"),
])
def test_bad_arguments_raise_value_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()

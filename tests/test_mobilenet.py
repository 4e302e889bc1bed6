"""conv1x1.mobilenet: the two blocks, the stage tables and the builders."""

import keras
import numpy as np
import pytest

from conv1x1 import cost
from conv1x1 import mobilenet as mn


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
    model = block_model((size, size, channels), lambda x: mn.depthwise_separable(
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
    model = block_model((6, 6, 3), lambda x: mn.depthwise_separable(x, 4, prefix="b_"))
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
    model = block_model((8, 8, 4), lambda x: mn.depthwise_separable(
        x, 4, prefix="b_", bn_momentum=0.9))
    assert model.get_layer("b_dw_bn").momentum == model.get_layer("b_pw_bn").momentum == 0.9


# --------------------------------------------------------------------------
# inverted_residual

@pytest.mark.parametrize("size, channels, filters, expansion, stride", [
    (16, 8, 8, 6, 1), (16, 8, 16, 6, 1), (16, 8, 8, 6, 2), (15, 4, 6, 3, 2),
    (10, 16, 16, 1, 1), (10, 32, 16, 1, 1),
])
def test_inverted_residual_shapes_costs_and_residual(size, channels, filters, expansion, stride):
    model = block_model((size, size, channels), lambda x: mn.inverted_residual(
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
    model = block_model((5, 5, 6), lambda x: mn.inverted_residual(x, filters, prefix="b_"))
    bn = model.get_layer("b_project_bn")
    bn.set_weights([np.zeros(filters), np.zeros(filters), np.zeros(filters), np.ones(filters)])
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 6)).astype("float32")
    expected = x if residual else np.zeros((2, 5, 5, 5), "float32")
    np.testing.assert_allclose(model(x).numpy(), expected, atol=1e-6)


def test_projection_is_linear():
    """Negative outputs survive: no ReLU after the projection."""
    model = block_model((6, 6, 4), lambda x: mn.inverted_residual(x, 3, prefix="b_"))
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
    mine = block_model(shape, lambda x: mn.inverted_residual(
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
    mine = mn.mobilenet(alpha=alpha, input_shape=input_shape)
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
    table = cost.cost_table(mn.mobilenet(alpha=alpha, input_shape=(size, size, 3)))
    macs, weights = PAPER[alpha, size]
    assert round(table.total_weights / 1e6, 1) == weights
    if (alpha, size) == (1.0, 160):
        # 290,675,200 MACs: the paper truncates this one to 290; rounded it is 291.
        assert table.total_macs == 290_675_200 and round(table.total_macs / 1e6) == 291
    else:
        assert round(table.total_macs / 1e6) == macs


def test_mobilenet_table_2():
    table = cost.cost_table(mn.mobilenet())
    assert table.total_macs == 568_740_352 and table.total_weights == 4_209_088
    assert table.total_params == 4_253_864
    shares = {kind: (round(table.row(kind).macs_pct, 2), round(table.row(kind).weights_pct, 2))
              for kind in ("pointwise", "depthwise", "conv", "dense")}
    assert shares == {"pointwise": (94.86, 74.59), "depthwise": (3.06, 1.06),
                      "conv": (1.91, 0.02), "dense": (0.18, 24.33)}


def test_mobilenet_small_and_custom_stages():
    model = mn.mobilenet_small()
    assert tuple(model.output.shape) == (None, 4)
    assert model.get_layer("block5_pw_relu").output.shape[1:] == (4, 4, 128)
    assert model.get_layer("conv1_bn").momentum == 0.9
    records = by_name(model)
    assert records["conv_preds"].kind == "dense" and records["conv_preds"].weights == 128 * 4
    custom = mn.mobilenet(0.5, (16, 16, 3), 10, stages=((8, 2), (16, 1)), first_filters=8)
    assert custom.get_layer("block2_pw").output.shape[1:] == (4, 4, 8)
    probabilities = custom(np.zeros((2, 16, 16, 3), "float32")).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


# --------------------------------------------------------------------------
# Error paths

def tensor(shape=(8, 8, 4)):
    return keras.Input(shape=shape)


@pytest.mark.parametrize("build, match", [
    (lambda: mn.depthwise_separable(tensor(), 0, prefix="b_"), "filters"),
    (lambda: mn.depthwise_separable(tensor(), 2.5, prefix="b_"), "filters"),
    (lambda: mn.depthwise_separable(tensor(), 4, 3, prefix="b_"), "stride"),
    (lambda: mn.depthwise_separable(tensor(), 4, True, prefix="b_"), "stride"),
    (lambda: mn.depthwise_separable(tensor(), 4, prefix="b_", kernel_size=4), "odd"),
    (lambda: mn.depthwise_separable(tensor(), 4, prefix="b_", kernel_size=1), "kernel_size"),
    (lambda: mn.depthwise_separable(tensor(), 4, prefix="b_", bn_momentum=1.0), "bn_momentum"),
    (lambda: mn.depthwise_separable(np.zeros((5, 5)), 4, prefix="b_"), "shape"),
    (lambda: mn.inverted_residual(tensor(), 0, prefix="b_"), "filters"),
    (lambda: mn.inverted_residual(tensor(), 4, 0, prefix="b_"), "expansion"),
    (lambda: mn.inverted_residual(tensor(), 4, 1.5, prefix="b_"), "expansion"),
    (lambda: mn.inverted_residual(tensor(), 4, 6, 0, prefix="b_"), "stride"),
    (lambda: mn.inverted_residual(tensor(), 4, prefix="b_", kernel_size=2), "kernel_size"),
    (lambda: mn.inverted_residual(tensor(), 4, prefix="b_", bn_momentum=-0.1), "bn_momentum"),
    (lambda: mn.inverted_residual(keras.Input(shape=(8, 4)), 4, prefix="b_"), "shape"),
    (lambda: mn.mobilenet(alpha=0), "alpha"),
    (lambda: mn.mobilenet(alpha=-0.5), "alpha"),
    (lambda: mn.mobilenet(alpha="1"), "alpha"),
    (lambda: mn.mobilenet(alpha=0.01), "alpha"),
    (lambda: mn.mobilenet(input_shape=(31, 224, 3)), "at least 32"),
    (lambda: mn.mobilenet(input_shape=(224, 16, 3)), "at least 32"),
    (lambda: mn.mobilenet(input_shape=(224, 224, 1)), "3 channels"),
    (lambda: mn.mobilenet(input_shape=(224, 224)), "input_shape"),
    (lambda: mn.mobilenet(input_shape=(224, 0, 3)), "input_shape"),
    (lambda: mn.mobilenet(input_shape="224"), "input_shape"),
    (lambda: mn.mobilenet(classes=0), "classes"),
    (lambda: mn.mobilenet(dropout=1.0), "dropout"),
    (lambda: mn.mobilenet(bn_momentum=2), "bn_momentum"),
    (lambda: mn.mobilenet(stages=()), "stage"),
    (lambda: mn.mobilenet(stages=(64, 128)), "stages"),
    (lambda: mn.mobilenet(stages=((64, 3),)), "stride"),
    (lambda: mn.mobilenet(stages=((0, 1),)), "filters"),
    (lambda: mn.mobilenet(first_filters=0), "first_filters"),
    (lambda: mn.mobilenet_small(input_shape=(7, 7, 3)), "at least 8"),
    (lambda: mn.mobilenet(input_shape=(224.0, 224, 3)), "input_shape"),
    (lambda: mn.mobilenet_small(alpha=0), "alpha"),
])
def test_bad_arguments_raise_value_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_alpha_values_raise_value_error_not_overflow():
    for alpha in (float("inf"), float("-inf"), float("nan"), np.float64("inf")):
        with pytest.raises(ValueError, match=r"alpha.*finite number > 0"):
            mn.mobilenet(alpha=alpha)


def test_an_alpha_that_would_allocate_too_much_is_refused_before_building():
    for alpha in (1e6, 4.01, 1e300):
        with pytest.raises(ValueError, match=r"at most 4,096 filters.*Use alpha <= 4\b"):
            mn.mobilenet(alpha=alpha)
    with pytest.raises(ValueError, match=r"Use alpha <= 32\b"):
        mn.mobilenet_small(alpha=1e6)
    model = mn.mobilenet(alpha=4.0, input_shape=(32, 32, 3), classes=2)
    widest = max(layer.filters for layer in model.layers if hasattr(layer, "filters"))
    assert widest == mn.MAX_FILTERS == 4 * 1024


@pytest.mark.parametrize("stride", [2.0, 1.0, np.float64(2.0), "2"])
def test_float_or_text_stride_is_refused_like_float_filters(stride):
    with pytest.raises(ValueError, match=r"Expected filters to be an integer"):
        mn.depthwise_separable(tensor(), 4.0, prefix="b_")
    with pytest.raises(ValueError, match=r"Expected stride to be the integer 1 or 2"):
        mn.depthwise_separable(tensor(), 4, stride, prefix="b_")
    with pytest.raises(ValueError, match=r"Expected stride to be the integer 1 or 2"):
        mn.inverted_residual(tensor(), 4, 6, stride, prefix="b_")
    with pytest.raises(ValueError, match=r"row 0 is \(64, "):
        mn.mobilenet(stages=((64, stride),))
    with pytest.raises(ValueError, match=r"the stride of stage 1 of stages to be the integer"):
        mn.mobilenet(stages=((64, 1), (64, 3)))


def test_numpy_integer_stride_is_accepted():
    out = mn.depthwise_separable(tensor(), 4, np.int64(2), prefix="b_")
    assert tuple(out.shape) == (None, 4, 4, 4)


def test_array_stride_gets_a_message_not_numpys_truth_value_error():
    for build in (lambda: mn.depthwise_separable(tensor(), 4, np.array([1, 2]), prefix="b_"),
                  lambda: mn.inverted_residual(tensor(), 4, 6, np.array([1, 2]), prefix="b_")):
        with pytest.raises(ValueError, match=r"Expected stride .* received array\(\[1, 2\]\)"):
            build()


def test_stages_of_strings_name_the_whole_row():
    with pytest.raises(ValueError, match=r"row 0 is '64'") as info:
        mn.mobilenet(stages=["64", "12"])
    assert "'6'" not in str(info.value)


def test_stride_two_on_a_one_pixel_map_names_the_block():
    with pytest.raises(ValueError, match=r"depthwise_separable \(prefix 'b_'\).*at least 2x2.*1x1"):
        mn.depthwise_separable(keras.Input((1, 1, 4)), 4, stride=2, prefix="b_")
    with pytest.raises(ValueError, match=r"at least 2x2.*2x1"):
        mn.depthwise_separable(keras.Input((2, 1, 4)), 4, stride=2, prefix="b_")
    # What is valid: 2x2 halves to 1x1; stride 1 keeps a 1x1 map; the V2 block
    # pads as "same" and takes any size.
    out = mn.depthwise_separable(keras.Input((2, 2, 4)), 4, stride=2, prefix="c_")
    assert tuple(out.shape[1:3]) == (1, 1)
    out = mn.depthwise_separable(keras.Input((1, 1, 4)), 4, stride=1, prefix="d_")
    assert tuple(out.shape[1:3]) == (1, 1)
    out = mn.inverted_residual(keras.Input((1, 1, 4)), 4, stride=2, prefix="e_")
    assert tuple(out.shape[1:3]) == (1, 1)


@pytest.mark.parametrize("x", [np.zeros((2, 8, 8, 4), "float32"),
                               np.zeros((8, 8, 4), "float32")])
def test_blocks_refuse_numpy_arrays(x):
    for block in (mn.depthwise_separable, mn.inverted_residual):
        with pytest.raises(ValueError, match=r"Keras tensor.*received ndarray.*keras.Input"):
            block(x, 4, prefix="b_")


@pytest.mark.parametrize("prefix", [None, 3, b"b_"])
def test_prefix_must_be_a_string(prefix):
    for block in (mn.depthwise_separable, mn.inverted_residual):
        with pytest.raises(ValueError, match=r"Expected prefix to be a string"):
            block(tensor(), 4, prefix=prefix)


def test_classifier_activation_and_name_are_checked_before_keras():
    for build in (mn.mobilenet, mn.mobilenet_small):
        with pytest.raises(ValueError, match=r"classifier_activation .* received 'nope'"):
            build(classifier_activation="nope")
        with pytest.raises(ValueError, match=r"Expected name to be a non-empty string .* 123"):
            build(name=123)
    logits = mn.mobilenet_small(classifier_activation=None, name="logits")
    assert logits.name == "logits" and logits.get_layer("predictions").activation.__name__ == "linear"


# --------------------------------------------------------------------------
# The small network against figures written out from its definition: a 3x3/2
# convolution with 16 filters, then separable layers 32/1, 64/2, 64/1, 128/2,
# 128/1, on a 32x32x3 image. Any change of its stage table changes a row.

SMALL_LAYERS = [  # (layer, output side, output channels, kernel weights)
    ("conv1", 16, 16, 3 * 3 * 3 * 16),
    ("block1_dw", 16, 16, 3 * 3 * 16), ("block1_pw", 16, 32, 16 * 32),
    ("block2_dw", 8, 32, 3 * 3 * 32), ("block2_pw", 8, 64, 32 * 64),
    ("block3_dw", 8, 64, 3 * 3 * 64), ("block3_pw", 8, 64, 64 * 64),
    ("block4_dw", 4, 64, 3 * 3 * 64), ("block4_pw", 4, 128, 64 * 128),
    ("block5_dw", 4, 128, 3 * 3 * 128), ("block5_pw", 4, 128, 128 * 128),
    ("conv_preds", 1, 4, 128 * 4),
]


def test_mobilenet_small_layer_by_layer():
    model = mn.mobilenet_small()
    records = by_name(model)
    for layer, side, channels, weights in SMALL_LAYERS:
        assert tuple(model.get_layer(layer).output.shape[1:]) == (side, side, channels), layer
        assert records[layer].weights == weights, layer
        assert records[layer].macs == side * side * weights, layer
    conv_layers = [r.name for r in cost.layer_costs(model) if r.weights]
    assert conv_layers == [layer for layer, *_ in SMALL_LAYERS]
    batch_norm = 4 * (16 + 16 + 32 + 32 + 64 + 64 + 64 + 64 + 128 + 128 + 128)
    assert model.count_params() == sum(w for *_, w in SMALL_LAYERS) + 4 + batch_norm
    assert cost.cost_table(model).total_macs == 1_148_416 == sum(
        side * side * w for _, side, _, w in SMALL_LAYERS)

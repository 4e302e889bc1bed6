"""conv1x1.squeeze_excitation and the squeeze-and-excitation chapter's exercises."""

from fractions import Fraction

import keras
import numpy as np
import pytest

from conv1x1 import cost, resnet
from conv1x1 import squeeze_excitation as se
from conv1x1.exercises import check
from conv1x1.exercises import squeeze_excitation as ex

RESNET50 = ((3, 256), (4, 512), (6, 1024), (3, 2048))


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


# --------------------------------------------------------------------------
# The block


def test_se_block_computes_squeeze_excitation_and_rescaling():
    inputs = keras.Input(shape=(5, 4, 32))
    model = keras.Model(inputs, se.se_block(inputs, 8, prefix="b_"))
    names = [layer.name for layer in model.layers[1:]]
    assert names == ["b_squeeze", "b_reduce", "b_expand", "b_excite"]
    x = np.random.default_rng(1).normal(size=(3, 5, 4, 32)).astype("float32")
    k1, b1 = model.get_layer("b_reduce").get_weights()
    k2, b2 = model.get_layer("b_expand").get_weights()
    assert k1.shape == (1, 1, 32, 4) and k2.shape == (1, 1, 4, 32)
    z = x.mean(axis=(1, 2))
    gates = sigmoid(np.maximum(z @ k1[0, 0] + b1, 0) @ k2[0, 0] + b2)
    np.testing.assert_allclose(model(x), x * gates[:, None, None, :],
                               rtol=1e-5, atol=1e-6)


def set_random_weights(model, seed=0):
    """Every weight of ``model`` random, biases included (they start at zero)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32")
                       for w in model.get_weights()])


def test_se_block_default_ratio_is_the_papers_16_and_biases_count():
    inputs = keras.Input(shape=(3, 3, 64))
    model = keras.Model(inputs, se.se_block(inputs))             # no ratio
    assert model.get_layer("se_reduce").filters == 64 // 16      # r = 16
    set_random_weights(model, 2)
    k1, b1 = model.get_layer("se_reduce").get_weights()
    k2, b2 = model.get_layer("se_expand").get_weights()
    assert np.abs(b1).min() > 0 and np.abs(b2).min() > 0
    x = np.random.default_rng(3).normal(size=(2, 3, 3, 64)).astype("float32")
    z = x.mean(axis=(1, 2))
    gates = sigmoid(np.maximum(z @ k1[0, 0] + b1, 0) @ k2[0, 0] + b2)
    np.testing.assert_allclose(model(x), x * gates[:, None, None, :],
                               rtol=1e-5, atol=1e-6)
    # Squeeze first: a map with the same channel means gets the same gates.
    shuffled = x[:, ::-1, ::-1, :].copy()
    np.testing.assert_allclose(model(shuffled) / shuffled, model(x) / x,
                               rtol=1e-4, atol=1e-5)


def test_resnet50_stages_and_fc_widths_are_table_1s():
    # Table 1 (SE-ResNet-50): blocks x output channels per stage, and the
    # SE module's "fc, [16, 256]" ... "fc, [128, 2048]" at r = 16.
    assert se.RESNET50_SE_STAGES == ((3, 256), (4, 512), (6, 1024), (3, 2048))
    widths = [(se.squeeze_channels(c), c) for _, c in se.RESNET50_SE_STAGES]
    assert widths == [(16, 256), (32, 512), (64, 1024), (128, 2048)]


def test_every_default_ratio_is_16():
    r = 16                                                       # the paper's
    assert se.squeeze_channels(256) == 256 // r
    assert se.se_params(256) == 2 * 256 * (256 // r) + 256 // r + 256
    assert se.se_macs(7, 7, 2048) == 2 * 2048 * (2048 // r) + 7 * 7 * 2048
    assert se.se_added_params(bias=False) == sum(
        2 * n * c * c // r for n, c in RESNET50)
    x = keras.Input(shape=(4, 4, 64))
    hooked = keras.Model(x, se.se_attention()(x, "b_"))
    assert hooked.get_layer("b_se_reduce").filters == 64 // r
    y = keras.Input(shape=(4, 4, 64))
    unit = keras.Model(y, se.se_residual_unit(y, 16, prefix="u_"))
    assert unit.get_layer("u_se_reduce").filters == 64 // r


def inputs_of(model, name):
    """Names of the layers whose outputs feed layer ``name`` of ``model``."""
    node = model.get_layer(name)._inbound_nodes[0]
    return [t._keras_history.operation.name for t in node.input_tensors]


def activation_of(model, name):
    return model.get_layer(name).activation.__name__


def test_se_block_layer_order_and_activations():
    x = keras.Input(shape=(4, 4, 32), name="x")
    model = keras.Model(x, se.se_block(x, 8, prefix="b_"))
    assert inputs_of(model, "b_squeeze") == ["x"]
    assert inputs_of(model, "b_reduce") == ["b_squeeze"]
    assert inputs_of(model, "b_expand") == ["b_reduce"]
    assert inputs_of(model, "b_excite") == ["x", "b_expand"]
    assert activation_of(model, "b_reduce") == "relu"
    assert activation_of(model, "b_expand") == "sigmoid"
    assert type(model.get_layer("b_squeeze")).__name__ == "GlobalAveragePooling2D"


@pytest.mark.parametrize("placement", ["standard", "pre", "post", "identity"])
@pytest.mark.parametrize("shape,stride", [((6, 6, 64), 1), ((6, 6, 32), 2)])
def test_residual_unit_puts_se_where_figure_5_does(placement, shape, stride):
    x = keras.Input(shape=shape, name="x")
    model = keras.Model(x, se.se_residual_unit(
        x, 16, placement=placement, stride=stride, prefix="u_"))
    projects = stride != 1 or shape[-1] != 64
    # The branch: conv-BN-ReLU twice, then conv-BN without a ReLU.
    assert inputs_of(model, "u_1_relu") == ["u_1_bn"]
    assert inputs_of(model, "u_2_conv") == ["u_1_relu"]
    assert inputs_of(model, "u_3_conv") == ["u_2_relu"]
    assert inputs_of(model, "u_3_bn") == ["u_3_conv"]
    assert inputs_of(model, "u_out") == ["u_add"]
    names = [layer.name for layer in model.layers]
    assert "u_3_relu" not in names
    branch_in = "u_se_excite" if placement == "pre" else "x"
    assert inputs_of(model, "u_1_conv") == [branch_in]
    branch_out = "u_se_excite" if placement == "standard" else "u_3_bn"
    se_in = {"standard": "u_3_bn", "pre": "x", "post": "u_out",
             "identity": "x"}[placement]
    assert inputs_of(model, "u_se_squeeze") == [se_in]
    shortcut = "u_se_excite" if placement == "identity" else "x"
    if projects:
        assert inputs_of(model, "u_0_conv") == [shortcut]
        shortcut = "u_0_bn"
    assert inputs_of(model, "u_add") == [shortcut, branch_out]
    last = "u_se_excite" if placement == "post" else "u_out"
    assert model.output._keras_history.operation.name == last


def test_se_small_puts_se_before_every_convolution():
    model = se.se_small(ratio=2)
    assert inputs_of(model, "se1_squeeze") == ["input_layer"]
    assert inputs_of(model, "conv1") == ["se1_excite"]
    assert inputs_of(model, "se2_squeeze") == ["conv1"]
    assert inputs_of(model, "conv2") == ["se2_excite"]
    assert inputs_of(model, "pool") == ["conv2"]
    assert activation_of(model, "conv1") == activation_of(model, "conv2") == "relu"
    assert activation_of(model, "predictions") == "softmax"


def test_fully_connected_layer_equals_1x1_convolution_on_a_1x1_map():
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(12, 5)), rng.normal(size=5)
    z = rng.normal(size=(4, 12)).astype("float32")
    conv = keras.layers.Conv2D(5, 1)
    conv.build((None, 1, 1, 12))
    conv.set_weights([kernel.reshape(1, 1, 12, 5), bias])
    np.testing.assert_allclose(conv(z[:, None, None, :])[:, 0, 0], z @ kernel + bias,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ratio", [2, 4, 8, 16, 32])
@pytest.mark.parametrize("channels", [256, 512, 1024, 2048])
def test_se_params_match_keras_for_every_ratio(channels, ratio):
    inputs = keras.Input(shape=(2, 2, channels))
    model = keras.Model(inputs, se.se_block(inputs, ratio))
    assert model.count_params() == se.se_params(channels, ratio)
    weights = sum(r.weights for r in cost.layer_costs(model))
    assert weights == se.se_params(channels, ratio, bias=False) == 2 * channels ** 2 // ratio


def test_se_params_and_macs_with_a_ratio_that_does_not_divide():
    assert se.squeeze_channels(10, 3) == 3
    assert se.se_params(10, 3) == 2 * 10 * 3 + 3 + 10
    inputs = keras.Input(shape=(3, 3, 10))
    model = keras.Model(inputs, se.se_block(inputs, 3))
    assert model.count_params() == se.se_params(10, 3)
    fc = sum(r.macs for r in cost.layer_costs(model))
    assert se.se_macs(3, 3, 10, 3, scale=False) == fc == 60
    assert se.se_macs(3, 3, 10, 3) == fc + 3 * 3 * 10


def test_added_params_follow_the_papers_formula():
    for ratio in (2, 4, 8, 16, 32):
        paper = Fraction(2, ratio) * sum(n * c * c for n, c in RESNET50)
        assert se.se_added_params(RESNET50, ratio, bias=False) == paper
        biases = sum(n * (c // ratio + c) for n, c in RESNET50)
        assert se.se_added_params(RESNET50, ratio) == paper + biases
    assert se.se_added_params(bias=False) == 2_514_944
    assert se.se_added_params() == 2_530_992


@pytest.fixture(scope="module")
def resnet50_pair():
    plain = resnet.resnet(50)
    with_se = resnet.resnet(50, attention=se.se_attention(16), name="se_resnet50")
    return plain, with_se


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_se_resnet50_against_the_paper(resnet50_pair):
    plain, with_se = resnet50_pair
    assert with_se.count_params() - plain.count_params() == se.se_added_params()
    assert round(trainable(plain) / 1e6, 1) == 25.6            # the paper's 25.6M
    assert round(trainable(with_se) / 1e6, 1) == 28.1          # the paper's 28.1M
    assert round(plain.count_params() / 1e6, 1) == 25.6
    assert round(with_se.count_params() / 1e6, 1) == 28.1
    plain_macs = cost.cost_table(plain).total_macs
    se_macs = cost.cost_table(with_se).total_macs
    assert se_macs - plain_macs == se.se_added_params(bias=False)
    scale = sum(int(np.prod(layer.output.shape[1:])) for layer in with_se.layers
                if layer.name.endswith("se_excite"))
    assert scale == sum(n * se.se_macs(s, s, c, 16) - n * se.se_macs(s, s, c, 16, scale=False)
                        for (n, c), s in zip(RESNET50, (56, 28, 14, 7)))
    assert round(plain_macs / 1e9, 2) == 3.86                  # the paper's 3.86
    assert round((se_macs + scale) / 1e9, 2) == 3.87           # the paper's 3.87
    assert with_se.get_layer("conv2_block1_se_squeeze") is not None


#: Table 10 of the journal version: SE-ResNet-50's parameters for each r.
TABLE_10_PARAMS_M = {2: 45.7, 4: 35.7, 8: 30.7, 16: 28.1, 32: 26.9}


def test_table_10_parameter_column_against_two_counts(resnet50_pair):
    plain, with_se = resnet50_pair
    base = trainable(plain)
    assert plain.count_params() - base == 53_120         # moving statistics
    ours = {r: round((base + se.se_added_params(ratio=r)) / 1e6, 1)
            for r in TABLE_10_PARAMS_M}
    keras_count = {r: round((plain.count_params() + se.se_added_params(ratio=r))
                            / 1e6, 1) for r in TABLE_10_PARAMS_M}
    # Trainable parameters: r = 2 and 16 reproduce, the others are 0.1M short.
    assert [r for r in ours if ours[r] == TABLE_10_PARAMS_M[r]] == [2, 16]
    assert all(round(TABLE_10_PARAMS_M[r] - ours[r], 1) == 0.1 for r in (4, 8, 32))
    # Keras's count: all but r = 2, which it puts 0.1M above.
    assert [r for r in keras_count
            if keras_count[r] == TABLE_10_PARAMS_M[r]] == [4, 8, 16, 32]
    assert keras_count[2] == 45.8


def test_dropping_the_last_stage_leaves_about_4_percent(resnet50_pair):
    plain, _ = resnet50_pair
    base = trainable(plain)
    assert round(se.se_added_params(bias=False) / base, 2) == 0.10     # "~10%"
    without_last = se.se_added_params(RESNET50[:3], bias=False)
    assert round(without_last / base, 2) == 0.04                        # "~4%"
    last = se.se_added_params(RESNET50[3:], bias=False)
    assert last == 3 * 2 * 2048 ** 2 // 16 == 1_572_864
    assert 0.5 < last / se.se_added_params(bias=False) < 0.7            # "majority"


def test_se_attention_in_the_small_resnet():
    plain = resnet.resnet_small(1)
    with_se = resnet.resnet_small(1, attention=se.se_attention(4))
    added = with_se.count_params() - plain.count_params()
    assert added == se.se_added_params(((1, 16), (1, 32), (1, 64)), 4)


def test_standard_unit_matches_resnet_bottleneck_with_se_attention():
    x = keras.Input(shape=(8, 8, 64))
    ours = keras.Model(x, se.se_residual_unit(x, 16, placement="standard", prefix="a_"))
    y = keras.Input(shape=(8, 8, 64))
    theirs = keras.Model(y, resnet.bottleneck_block(
        y, 16, attention=se.se_attention(16), prefix="b_"))
    assert ours.count_params() == theirs.count_params()


@pytest.mark.parametrize("placement,seen", [
    (None, None), ("standard", (7, 7, 128)), ("post", (7, 7, 128)),
    ("pre", (14, 14, 64)), ("identity", (14, 14, 64))])
def test_placements_see_input_or_output(placement, seen):
    x = keras.Input(shape=(14, 14, 64))
    model = keras.Model(x, se.se_residual_unit(x, 32, placement=placement, stride=2,
                                               prefix="u_"))
    assert model.output.shape == (None, 7, 7, 128)
    se_layers = [layer for layer in model.layers if layer.name.startswith("u_se_")]
    if placement is None:
        assert se_layers == []
        return
    assert tuple(model.get_layer("u_se_excite").output.shape[1:]) == seen
    assert sum(layer.count_params() for layer in se_layers) == se.se_params(seen[-1], 16)


def test_placements_cost_the_same_in_an_identity_unit():
    counts = set()
    for placement in ("standard", "pre", "post", "identity"):
        x = keras.Input(shape=(6, 6, 64))
        model = keras.Model(x, se.se_residual_unit(x, 16, placement=placement,
                                                   prefix="u_"))
        counts.add(model.count_params())
    assert len(counts) == 1


def test_se_small():
    plain = se.se_small()
    with_se = se.se_small(ratio=2)
    assert plain.name == "plain_small" and with_se.name == "se_small"
    assert plain.count_params() == (6 * 9 * 8 + 8) + (8 * 9 * 8 + 8) + (8 * 2 + 2)
    assert with_se.count_params() - plain.count_params() == (
        se.se_params(6, 2) + se.se_params(8, 2))
    assert with_se.get_layer("se1_excite").output.shape == (None, 20, 20, 6)


def test_channel_cue_images_labels_follow_the_cued_group():
    images, labels, cues = se.channel_cue_images(200, seed=3, noise=0.0)
    assert images.shape == (200, 20, 20, 6) and images.dtype == np.float32
    assert labels.dtype == np.int64 and set(np.unique(cues)) == {0, 1}
    has_square = images[..., [0, 2]].max(axis=(1, 2)) > 0          # (n, 2)
    np.testing.assert_array_equal(labels, has_square[np.arange(200), cues])
    frame = images[..., 4:6].max(axis=(1, 2)) > 0
    np.testing.assert_array_equal(frame.argmax(axis=1), cues)
    assert frame.sum(axis=1).tolist() == [1] * 200
    rows, cols = np.nonzero(images[..., :4].max(axis=(0, 3)))
    assert rows.min() >= 7 and cols.min() >= 7 and rows.max() <= 12 and cols.max() <= 12
    again = se.channel_cue_images(200, seed=3, noise=0.0)
    np.testing.assert_array_equal(again[0], images)
    assert 0.3 < labels.mean() < 0.7 and (labels != has_square[np.arange(200), 1 - cues]).any()


# --------------------------------------------------------------------------
# Error paths


@pytest.mark.parametrize("channels,ratio,match", [
    (64, 128, "ratio <= channels"), (64, 0, "ratio"), (64, 2.0, "ratio"),
    (64, True, "ratio"), (0, 2, "channels"), ("64", 2, "channels")])
def test_squeeze_channels_errors(channels, ratio, match):
    with pytest.raises(ValueError, match=match):
        se.squeeze_channels(channels, ratio)


def test_se_block_errors():
    with pytest.raises(ValueError, match="Keras tensor"):
        se.se_block(np.zeros((1, 4, 4, 8)), 2)
    with pytest.raises(ValueError, match="prefix"):
        se.se_block(keras.Input(shape=(4, 4, 8)), 2, prefix=3)
    with pytest.raises(ValueError, match="ratio <= channels"):
        se.se_block(keras.Input(shape=(4, 4, 8)), 16)
    with pytest.raises(ValueError, match="ratio"):
        se.se_attention(0)


def test_attention_hook_and_cue_images_refuse_bad_arguments():
    hook = se.se_attention(2)
    with pytest.raises(ValueError, match="prefix"):
        hook(keras.Input(shape=(4, 4, 8)), 5)
    with pytest.raises(ValueError, match="n=1,000,000,000"):
        se.channel_cue_images(10**9)
    with pytest.raises(ValueError, match="size=100,000"):
        se.channel_cue_images(1, 100_000)
    images, _, _ = se.channel_cue_images(np.int64(3), np.int64(18))
    assert images.shape == (3, 18, 18, 6)


def test_cost_function_errors():
    with pytest.raises(ValueError, match="bias"):
        se.se_params(64, 4, bias="yes")
    with pytest.raises(ValueError, match="height"):
        se.se_macs(0, 4, 64)
    with pytest.raises(ValueError, match="scale"):
        se.se_macs(4, 4, 64, scale=1)
    with pytest.raises(ValueError, match="stages"):
        se.se_added_params([(3, 256, 1)])
    with pytest.raises(ValueError, match="stages"):
        se.se_added_params([])


def test_residual_unit_errors():
    x = keras.Input(shape=(8, 8, 64))
    with pytest.raises(ValueError, match="placement"):
        se.se_residual_unit(x, 16, placement="middle", prefix="u_")
    with pytest.raises(ValueError, match="stride"):
        se.se_residual_unit(x, 16, stride=3, prefix="u_")
    with pytest.raises(ValueError, match="filters"):
        se.se_residual_unit(x, 0, prefix="u_")
    with pytest.raises(ValueError, match="bn_momentum"):
        se.se_residual_unit(x, 16, bn_momentum=1.5, prefix="u_")
    with pytest.raises(ValueError, match="prefix"):
        se.se_residual_unit(x, 16, prefix=None)
    with pytest.raises(ValueError, match="ratio <= channels"):
        se.se_residual_unit(x, 2, ratio=16, prefix="u_")
    with pytest.raises(ValueError, match="Keras tensor"):
        se.se_residual_unit(np.zeros((1, 8, 8, 64)), 16, prefix="u_")


def test_se_small_and_data_errors():
    with pytest.raises(ValueError, match="widths"):
        se.se_small(widths=8)
    with pytest.raises(ValueError, match="widths"):
        se.se_small(widths=(8, 0))
    with pytest.raises(ValueError, match="ratio <= channels"):
        se.se_small(ratio=8)                      # more than the input's 6 channels
    with pytest.raises(ValueError, match="input_shape"):
        se.se_small(input_shape=(20, 20))
    with pytest.raises(ValueError, match="classes"):
        se.se_small(classes=0)
    with pytest.raises(ValueError, match="name"):
        se.se_small(name="")
    with pytest.raises(ValueError, match="n"):
        se.channel_cue_images(0)
    with pytest.raises(ValueError, match="size"):
        se.channel_cue_images(4, 17)
    with pytest.raises(ValueError, match="seed"):
        se.channel_cue_images(4, seed=-1)
    with pytest.raises(ValueError, match="noise"):
        se.channel_cue_images(4, noise=-0.1)


# --------------------------------------------------------------------------
# The chapter's exercises


def test_block_params_exercise():
    label = "squeeze-excitation-ex-block-params"
    inputs = keras.Input(shape=(7, 7, 2048))
    answer = keras.Model(inputs, se.se_block(inputs, 16)).count_params()
    assert answer == 2 * 2048 * 128 + 128 + 2048
    assert check(label, str(answer)).correct and check(label, f"{answer:,}").correct
    assert "two kernels only" in check(label, "524288").message
    assert "one fully connected layer" in check(label, "262144").message
    assert "size does not enter" in check(label, str(7 * 7 * answer)).message
    # Within a relative tolerance of 1e-6, but not a count.
    assert "whole number" in check(label, f"{answer}.4").message
    assert check(label, f"{answer / 1000}K").correct
    for bad in ("", "abc", None, "1e999", [1, 2]):
        result = check(label, bad)
        assert not result.correct and result.message


def channel_axis_se(x, ratio):
    """The exercise's bug: the squeeze averages the channels of every pixel."""
    channels = x.shape[-1]
    s = keras.ops.mean(x, axis=-1, keepdims=True)
    s = keras.layers.Dense(channels // ratio, activation="relu")(s)
    s = keras.layers.Dense(channels, activation="sigmoid")(s)
    return keras.layers.Multiply()([x, s])


def buggy_se(x, ratio):
    channels = x.shape[-1]
    s = keras.layers.Dense(channels // ratio, activation="relu")(x)
    s = keras.layers.Dense(channels, activation="sigmoid")(s)
    return keras.layers.Multiply()([x, s])


def se_variant(squeeze="avg", layer="dense", first="relu", last="sigmoid",
               bias_initializer="zeros", separate_relu=False):
    """An SE block built in one of the ways a learner may write it."""
    def block(x, ratio):
        channels = x.shape[-1]
        if squeeze == "avg":
            s = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
        elif squeeze == "max":
            s = keras.layers.GlobalMaxPooling2D(keepdims=True)(x)
        else:
            s = keras.ops.mean(x, axis=(1, 2), keepdims=squeeze == "ops")
        act = None if separate_relu else first
        if layer == "dense":
            s = keras.layers.Dense(channels // ratio, activation=act,
                                   bias_initializer=bias_initializer)(s)
        else:
            s = keras.layers.Conv2D(channels // ratio, 1, activation=act,
                                    bias_initializer=bias_initializer)(s)
        if separate_relu:
            s = keras.layers.ReLU()(s)
        if layer == "dense":
            s = keras.layers.Dense(channels, activation=last,
                                   bias_initializer=bias_initializer)(s)
        else:
            s = keras.layers.Conv2D(channels, 1, activation=last,
                                    bias_initializer=bias_initializer)(s)
        return keras.layers.Multiply()([x, s])
    return block


def fixed_but_wide(x, ratio):
    channels = x.shape[-1]
    s = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    s = keras.layers.Dense(channels, activation="relu")(s)
    s = keras.layers.Dense(channels, activation="sigmoid")(s)
    return keras.layers.Multiply()([x, s])


def fixed_gates(x, ratio):
    gates = keras.layers.Dense(x.shape[-1], activation="sigmoid")(
        keras.ops.zeros_like(x[:, :1, :1, :1]))
    return keras.layers.Multiply()([x, gates])


def ratio_ignored(x, ratio):
    channels = x.shape[-1]
    s = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    s = keras.layers.Dense(channels // 4, activation="relu")(s)
    s = keras.layers.Dense(channels, activation="sigmoid")(s)
    return keras.layers.Multiply()([x, s])


FIX = "squeeze-excitation-ex-fix"


def test_fix_exercise_accepts_every_correct_se_block():
    for block in (ex.reference_fix, se_variant(separate_relu=True),
                  se_variant(squeeze="mean"),              # no keepdims
                  se_variant(bias_initializer="ones"),
                  se_variant(layer="conv", bias_initializer="ones")):
        result = check(FIX, block)
        assert result.correct, result.message
        assert "not the channels' average" not in result.message


@pytest.mark.parametrize("layer", ["dense", "conv"])
def test_fix_exercise_accepts_a_max_squeeze_with_a_note(layer):
    """The paper's Table 11 ablates max pooling: effective, 0.29 points worse."""
    result = check(FIX, se_variant(squeeze="max", layer=layer))
    assert result.correct, result.message
    assert "Table 11" in result.message and "22.57%" in result.message


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_fix_verdicts_do_not_depend_on_the_initial_weights(seed):
    keras.utils.set_random_seed(seed)
    assert check(FIX, se_variant(squeeze="max")).correct
    assert check(FIX, se_variant(bias_initializer="ones")).correct
    linear = check(FIX, se_variant(squeeze="max", first=None))
    assert "no non-linearity" in linear.message
    assert "no non-linearity" in check(FIX, se_variant(layer="conv", first=None)).message
    squashing = check(FIX, se_variant(first="sigmoid", bias_initializer="ones"))
    assert "only the last one a sigmoid" in squashing.message


def test_fix_exercise_names_each_mistake():
    assert "which axes does your squeeze average" in check(FIX, channel_axis_se).message
    assert "every pixel separately" in check(FIX, buggy_se).message
    assert "ratio=2" in check(FIX, ratio_ignored).message
    assert "no non-linearity" in check(FIX, se_variant(first=None)).message
    assert "only the last one a sigmoid" in check(FIX, se_variant(first="tanh")).message
    assert "softmax" in check(FIX, se_variant(last="softmax")).message
    assert "parameters" in check(FIX, fixed_but_wide).message
    assert not check(FIX, fixed_but_wide).correct
    assert "same factors" in check(FIX, fixed_gates).message
    assert "sigmoid" in check(FIX, lambda x, r: x).message
    assert "shape" in check(FIX, lambda x, r: x[:, :2]).message
    assert "Keras tensor" in check(FIX, lambda x, r: np.zeros(3)).message
    assert "Expected a function" in check(FIX, 3).message
    assert "ZeroDivisionError" in check(FIX, lambda x, r: 1 / 0).message

    def leaves(x, r):
        raise SystemExit

    assert "stop Python" in check(FIX, leaves).message


def test_fix_check_puts_back_the_weights_of_the_learners_own_layers():
    reduce = keras.layers.Dense(4, activation="relu", bias_initializer="ones")
    expand = keras.layers.Dense(16, activation="sigmoid")

    def shared(x, ratio):
        s = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
        return keras.layers.Multiply()([x, expand(reduce(s))])

    shared(keras.Input(shape=(5, 6, 16)), 4)
    before = [w.copy() for w in reduce.get_weights() + expand.get_weights()]
    check(FIX, shared)
    after = reduce.get_weights() + expand.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_probe_values_match_for_dense_and_1x1_kernels():
    dense = ex.probe_values((16, 4), "dense/kernel", np.random.default_rng(0))
    conv = ex.probe_values((1, 1, 16, 4), "conv2d/kernel", np.random.default_rng(0))
    np.testing.assert_array_equal(dense, conv[0, 0])
    assert np.allclose(dense.var(), 1 / 16, rtol=0.5)
    assert not ex.probe_values((4,), "dense/bias", None).any()
    assert (ex.probe_values((4,), "bn/gamma", None) == 1).all()


def test_fix_exercise_time_limit(monkeypatch):
    monkeypatch.setattr(ex, "TIME_LIMIT_S", 0.3)

    def forever(x, r):
        while True:
            pass

    result = check("squeeze-excitation-ex-fix", forever)
    assert not result.correct and "did not return" in result.message


def test_budget_exercise():
    label = "squeeze-excitation-ex-budget"
    stages = ((3, 256), (4, 512), (6, 1024), (3, 2048))

    def added(ratios):                                   # weights and biases
        return sum(n * (2 * c * (c // r) + c // r + c)
                   for (n, c), r in zip(stages, ratios))

    assert added((16, 16, 16, 1024)) == 982_326 <= 1_000_000
    for answer in ("(16, 16, 16, 1024)", "16 16 16 1024", "[32, 16, 16, 512]",
                   "(16, 16, 16, 1,024)", (16, 16, 16, 1024), "(1, 4, 256, 2048)"):
        result = check(label, answer)
        assert result.correct, (answer, result.message)
    # r = 512 in the last stage: the kernels fit, the biases do not.
    assert added((16, 16, 16, 512)) == 1_006_908
    assert "biases" in check(label, "(16, 16, 16, 512)").message
    assert "conv5_x alone" in check(label, "(16, 16, 16, 16)").message
    halve = check(label, "(16, 16, 16, 2048)")
    assert not halve.correct and "halve the ratio of conv2_x" in halve.message
    assert added((8, 16, 16, 2048)) <= 1_000_000
    assert "power of two" in check(label, "(3, 16, 16, 1024)").message
    assert "power of two" in check(label, "(16, 16, 16, 4096)").message
    assert "four ratios" in check(label, "(16, 16, 16)").message
    assert "whole number" in check(label, "abc").message
    assert "whole number" in check(label, "16 16 16 1e3").message
    for bad in (None, "", "(", "9" * 40, [1, 2]):
        result = check(label, bad)
        assert not result.correct and result.message


def test_pre_exercise():
    label = "squeeze-excitation-ex-pre"
    inputs = [(1, 64), (2, 256), (1, 256), (3, 512), (1, 512), (5, 1024), (1, 1024),
              (2, 2048)]
    share = se.se_added_params(inputs) / se.se_added_params(RESNET50)
    assert round(share, 2) == 0.79
    assert check(label, f"about {share:.0%}").correct
    for option in ex.PRE_OPTIONS[:2] + ex.PRE_OPTIONS[3:]:
        result = check(label, option)
        assert not result.correct and len(result.message) > len(option) + 10
    assert not check(label, None).correct and not check(label, "fewer").correct


def test_exercise_kinds():
    kinds = {e.label: e.kind for e in ex.EXERCISES}
    assert kinds == {"squeeze-excitation-ex-block-params": "arithmetic",
                     "squeeze-excitation-ex-fix": "debug",
                     "squeeze-excitation-ex-pre": "arithmetic",
                     "squeeze-excitation-ex-budget": "design"}


# --------------------------------------------------------------------------
# Messages, boundaries and defaults (found by mutation testing)


def _unit(shape=(4, 4, 8), filters=2, **kwargs):
    return se.se_residual_unit(keras.Input(shape=shape), filters,
                               **{"prefix": "u_", **kwargs})


#: (call, the whole message it must raise, as a regular expression).
MESSAGES = [
    (lambda: se.squeeze_channels(0, 2),
     r"Expected channels to be a positive integer; received 0\.$"),
    (lambda: se.squeeze_channels(8, 0),
     r"Expected ratio to be an integer >= 1; received 0\. The paper uses r = 16\.$"),
    (lambda: se.se_attention(0),
     r"Expected ratio to be an integer >= 1; received 0\. The paper uses r = 16\.$"),
    (lambda: se.se_params(8, 2, bias="yes"),
     r"Expected bias to be True or False; received 'yes'\.$"),
    (lambda: se.se_macs(0, 4, 8, 2),
     r"Expected height to be a positive integer; received 0\.$"),
    (lambda: se.se_macs(4, 0, 8, 2),
     r"Expected width to be a positive integer; received 0\.$"),
    (lambda: se.se_macs(4, 4, 8, 2, scale=1),
     r"Expected scale to be True or False; received 1\.$"),
    (lambda: se.se_added_params([(3, 0)]),
     r"Expected every row of stages to be \(blocks, channels\) with positive integers"),
    (lambda: _unit(filters=0),
     r"Expected filters to be an integer >= 1; received 0\. Pass the bottleneck's width\.$"),
    (lambda: _unit(placement="middle"),
     r"Expected placement to be one of None, 'standard', 'pre', 'post', 'identity'"),
    (lambda: _unit(ratio=0),
     r"Expected ratio to be an integer >= 1; received 0\. The paper uses r = 16\.$"),
    (lambda: _unit(bn_momentum=1.0),
     r"Expected bn_momentum to be a number in \[0, 1\); received 1\.0\.$"),
    (lambda: se.se_small(classes=0),
     r"Expected classes to be a positive integer; received 0\.$"),
    (lambda: se.se_small(widths=(8, 0)),
     r"Expected every row of widths to be \(filters\) with positive integers; row 1"),
    (lambda: se.channel_cue_images(0),
     r"Expected n to be an integer >= 1; received 0\.$"),
    (lambda: se.channel_cue_images(4, 17),
     r"Expected size to be an integer >= 18; received 17\. "
     r"The squares need seven pixels of border\.$"),
    (lambda: se.channel_cue_images(4, seed=-1),
     r"Expected seed to be an integer >= 0; received -1\. "
     r"Pass a whole number such as 0 or 42\.$"),
    (lambda: se.channel_cue_images(4, noise=-0.1),
     r"Expected noise to be a finite number >= 0; received -0\.1\.$"),
    (lambda: se.channel_cue_images(138_085, 18),          # 6 * 18**2 * n > 2**28
     r"Expected at most 268,435,456 values \(n \* size\*\*2 \* 6, float32\); "
     r"received n=138,085 and size=18, which make 268,437,240\. Ask for fewer or "
     r"smaller images, e\.g\. n=1200 and size=20\.$"),
]


@pytest.mark.parametrize("call,message", MESSAGES,
                         ids=[m[:40] for _, m in MESSAGES])
def test_messages_name_the_argument_the_bound_and_the_fix(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_ratio_and_filters_of_one_are_accepted():
    x = keras.Input(shape=(2, 2, 4))
    hooked = keras.Model(x, se.se_attention(1)(x, "b_"))
    assert hooked.get_layer("b_se_reduce").filters == 4              # C // 1
    y = keras.Input(shape=(2, 2, 4))
    unit = keras.Model(y, se.se_residual_unit(y, 1, ratio=1, prefix="u_"))
    assert unit.output.shape == (None, 2, 2, 4)
    assert unit.get_layer("u_se_reduce").filters == 4


def test_residual_unit_passes_its_ratio_to_se():
    x = keras.Input(shape=(4, 4, 16))
    for placement in ("standard", "pre", "post", "identity"):
        model = keras.Model(x, se.se_residual_unit(x, 4, placement=placement,
                                                   ratio=4, prefix=f"{placement}_"))
        assert model.get_layer(f"{placement}_se_reduce").filters == 16 // 4


@pytest.mark.parametrize("shape,filters,stride", [
    ((4, 4, 8), 4, 1),              # channels change, map size does not
    ((4, 4, 16), 4, 2),             # map size changes, channels do not
])
def test_shortcut_projects_when_either_shape_changes(shape, filters, stride):
    x = keras.Input(shape=shape, name="x")
    model = keras.Model(x, se.se_residual_unit(x, filters, stride=stride,
                                               placement=None, prefix="u_"))
    size = -(-shape[0] // stride)
    assert model.output.shape == (None, size, size, 4 * filters)
    assert inputs_of(model, "u_0_conv") == ["x"]
    assert inputs_of(model, "u_add") == ["u_0_bn", "u_3_bn"]
    projection = model.get_layer("u_0_conv")
    (kernel,) = projection.get_weights()                              # no bias
    assert kernel.shape == (1, 1, shape[-1], 4 * filters)             # a 1x1 projection
    assert projection.strides == (stride, stride)


def test_residual_unit_batch_norms_use_the_given_momentum():
    momentum = 0.5
    x = keras.Input(shape=(4, 4, 8))
    model = keras.Model(x, se.se_residual_unit(x, 4, stride=2, bn_momentum=momentum,
                                               prefix="u_"))
    data = np.random.default_rng(0).normal(size=(3, 4, 4, 8)).astype("float32")
    for name in ("u_0", "u_1", "u_2", "u_3"):
        conv_out = keras.Model(x, model.get_layer(f"{name}_conv").output)(data)
        bn = model.get_layer(f"{name}_bn")
        before = bn.moving_mean.numpy().copy()
        bn(conv_out, training=True)
        batch_mean = np.asarray(conv_out).mean(axis=(0, 1, 2))
        np.testing.assert_allclose(
            bn.moving_mean.numpy(), momentum * before + (1 - momentum) * batch_mean,
            rtol=1e-5, atol=1e-6)


def test_se_small_keeps_the_map_size_and_checks_only_convolution_inputs():
    model = se.se_small(input_shape=(10, 9, 6), widths=(8, 4), ratio=2)
    assert model.get_layer("conv1").output.shape == (None, 10, 9, 8)   # "same"
    assert model.get_layer("conv2").output.shape == (None, 10, 9, 4)
    # The ratio is compared with the channels, not with the height or width.
    narrow = se.se_small(input_shape=(20, 4, 8), widths=(8,), ratio=8)
    assert narrow.get_layer("se1_reduce").filters == 1
    # The last width feeds no SE block: it may be smaller than the ratio.
    last = se.se_small(widths=(2,), ratio=4)
    assert last.get_layer("se1_reduce").filters == 6 // 4
    assert last.get_layer("conv1").output.shape == (None, 20, 20, 2)


def test_se_small_checks_the_ratio_before_the_name():
    # widths (8, 4, 2): the second convolution's 4 channels are too few for r = 5,
    # and that is reported before the bad name, before any layer is built.
    with pytest.raises(ValueError, match=r"received ratio=5 for 4 channels"):
        se.se_small(widths=(8, 4, 2), ratio=5, name="")
    with pytest.raises(ValueError, match=r"received ratio=8 for 6 channels"):
        se.se_small(input_shape=(8, 8, 6), widths=(8, 8), ratio=8, name="")


def test_channel_cue_images_limit_is_inclusive(monkeypatch):
    monkeypatch.setattr(se, "MAX_CUE_VALUES", 2 * 18 * 18 * 6)
    images, _, _ = se.channel_cue_images(2, 18)                  # exactly the limit
    assert images.shape == (2, 18, 18, 6)
    with pytest.raises(ValueError, match=r"received n=3 and size=18, which make 5,832\."):
        se.channel_cue_images(3, 18)


def test_channel_cue_images_defaults_are_seed_0_and_noise_0_2():
    default = se.channel_cue_images(300)
    explicit = se.channel_cue_images(300, 20, seed=0, noise=0.2)
    for a, b in zip(default, explicit):
        np.testing.assert_array_equal(a, b)
    other = se.channel_cue_images(300, seed=1, noise=0.2)
    assert not np.array_equal(other[0], default[0])
    # Channel 4 without its frame holds the noise alone: its spread is 0.2.
    noise_only = default[0][default[2] == 1][..., 4]
    assert abs(noise_only.std() - 0.2) < 0.005


def test_channel_cue_frame_is_one_pixel_wide_and_added_to_the_noise():
    size, n = 18, 60
    ring = np.ones((size, size), np.float32)           # the border, by hand
    ring[1:size - 1, 1:size - 1] = 0
    clean, _, cues = se.channel_cue_images(n, size, seed=4, noise=0.0)
    for i in range(n):
        np.testing.assert_array_equal(clean[i, :, :, 4 + cues[i]], ring)
        assert not clean[i, :, :, 5 - cues[i]].any()
    noisy, _, _ = se.channel_cue_images(n, size, seed=4, noise=0.3)
    framed = noisy[np.arange(n), :, :, 4 + cues]                     # (n, size, size)
    interior = framed[:, 1:-1, 1:-1]
    assert abs(interior.mean()) < 0.02 and abs(interior.std() - 0.3) < 0.02
    border = framed[:, [0, -1], :]
    assert abs(border.mean() - 1.0) < 0.05 and abs(border.std() - 0.3) < 0.03


def test_channel_cue_squares_brightness_and_noise():
    n = 300
    clean, _, _ = se.channel_cue_images(n, seed=5, noise=0.0)
    squares = clean[..., :4]
    lit = squares[squares > 0]
    # Every square pixel is one brightness per (image, channel), drawn in [0.5, 1).
    assert lit.min() >= 0.5 and lit.max() < 1.0
    assert lit.min() < 0.55 and lit.max() > 0.95
    per_square = [np.unique(clean[i, ..., c][clean[i, ..., c] > 0])
                  for i in range(n) for c in range(4) if clean[i, ..., c].any()]
    assert all(len(values) == 1 for values in per_square)
    assert all((clean[i, ..., c] > 0).sum() == 16
               for i in range(n) for c in range(4) if clean[i, ..., c].any())
    # With noise, the same squares (same seed) carry the noise on top.
    noisy, _, _ = se.channel_cue_images(n, seed=5, noise=0.2)
    difference = (noisy[..., :4] - clean[..., :4])[squares > 0]
    assert abs(difference.mean()) < 0.01 and abs(difference.std() - 0.2) < 0.01

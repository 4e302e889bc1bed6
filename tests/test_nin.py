"""conv1x1.nin and the exercises of the Network In Network chapter."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conv1x1 import nin
from conv1x1.exercises import check, get


def conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def conv_macs(size, k, c_in, c_out):
    return size * size * k * k * c_in * c_out


def _macs(model):
    """MACs of every Conv2D from its kernel shape and output size, without conv1x1.cost."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, _ = layer.output.shape
            total += h * w * int(np.prod(layer.kernel.shape))
    return total


# --------------------------------------------------------------------------
# mlpconv_block

def test_mlpconv_block_shape_names_and_parameters():
    x = keras.Input(shape=(32, 32, 3))
    model = keras.Model(x, nin.mlpconv_block(x, 192, 5, (160, 96), prefix="b1_"))
    assert tuple(model.output.shape) == (None, 32, 32, 96)
    assert [layer.name for layer in model.layers[1:]] == ["b1_conv", "b1_mlp1", "b1_mlp2"]
    assert model.count_params() == (conv_params(5, 3, 192) + conv_params(1, 192, 160)
                                    + conv_params(1, 160, 96)) == 60_928
    assert [tuple(model.get_layer(n).kernel_size) for n in ("b1_conv", "b1_mlp1")] == [
        (5, 5), (1, 1)]
    assert all(model.get_layer(n).activation.__name__ == "relu"
               for n in ("b1_conv", "b1_mlp1", "b1_mlp2"))


def test_mlpconv_block_computes_relu_mlp_at_every_patch():
    x = keras.Input(shape=(6, 6, 2))
    model = keras.Model(x, nin.mlpconv_block(x, 4, 3, (5, 3), prefix="p_",
                                             final_activation=None))
    data = np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype("float32")
    (k0, b0), (k1, b1), (k2, b2) = (model.get_layer(n).get_weights()
                                    for n in ("p_conv", "p_mlp1", "p_mlp2"))
    h = tf.nn.relu(tf.nn.conv2d(data, k0, 1, "SAME") + b0)
    h = tf.nn.relu(tf.einsum("nhwc,cd->nhwd", h, k1[0, 0]) + b1)
    expected = tf.einsum("nhwc,cd->nhwd", h, k2[0, 0]) + b2
    np.testing.assert_allclose(model(data), expected, rtol=1e-5, atol=1e-5)
    assert model.get_layer("p_mlp2").activation.__name__ == "linear"


@pytest.mark.parametrize("kwargs, words", [
    (dict(filters=0), "filters"),
    (dict(filters=2.5), "filters"),
    (dict(kernel_size=0), "kernel_size"),
    (dict(kernel_size="3"), "kernel_size"),
    (dict(mlp=()), "mlp"),
    (dict(mlp="16"), "mlp"),
    (dict(mlp=16), "mlp"),
    (dict(mlp=(16, 0)), "width"),
    (dict(prefix=3), "prefix"),
])
def test_mlpconv_block_rejects_bad_arguments(kwargs, words):
    args = dict(filters=8, kernel_size=3, mlp=(8, 4), prefix="b_")
    args.update(kwargs)
    with pytest.raises(ValueError, match=words):
        nin.mlpconv_block(keras.Input(shape=(8, 8, 3)), **args)


def test_mlpconv_block_rejects_arrays():
    with pytest.raises(ValueError, match="Keras tensor"):
        nin.mlpconv_block(np.zeros((1, 8, 8, 3)), 8, 3, (4,), prefix="b_")


def test_mlpconv_block_default_is_relu_after_every_layer_in_order():
    x = keras.Input(shape=(5, 5, 2))
    model = keras.Model(x, nin.mlpconv_block(x, 3, 3, (4, 2), prefix="d_"))
    data = np.random.default_rng(2).normal(size=(2, 5, 5, 2)).astype("float32")
    k0, b0 = model.get_layer("d_conv").get_weights()
    k1, b1 = model.get_layer("d_mlp1").get_weights()
    k2, b2 = model.get_layer("d_mlp2").get_weights()
    h = np.maximum(tf.nn.conv2d(data, k0, 1, "SAME").numpy() + b0, 0)
    h = np.maximum(h @ k1[0, 0] + b1, 0)
    expected = np.maximum(h @ k2[0, 0] + b2, 0)
    np.testing.assert_allclose(model(data), expected, rtol=1e-5, atol=1e-5)
    # the 1x1 layers read the spatial layer's output, one after the other
    assert model.get_layer("d_mlp1").input is model.get_layer("d_conv").output
    assert model.get_layer("d_mlp2").input is model.get_layer("d_mlp1").output


@pytest.mark.parametrize("kwargs, words", [
    (dict(filters=10**9), "at most 65,536"),
    (dict(kernel_size=10**6), "kernel_size to be at most 31"),
    (dict(mlp=(8, 10**9)), "every width of mlp to be at most"),
    (dict(filters=float("nan")), "filters"),
    (dict(final_activation="nope"), "final_activation"),
    (dict(final_activation=3), "final_activation"),
])
def test_mlpconv_block_refuses_huge_and_unknown_values(kwargs, words):
    args = dict(filters=8, kernel_size=3, mlp=(8, 4), prefix="b_")
    args.update(kwargs)
    with pytest.raises(ValueError, match=words):
        nin.mlpconv_block(keras.Input(shape=(8, 8, 3)), **args)


# --------------------------------------------------------------------------
# nin and nin_small

def test_nin_cifar10_parameters_and_macs_against_closed_form():
    model = nin.nin()
    rows = [(32, 3, 192, 5, 160, 96), (16, 96, 192, 5, 192, 192), (8, 192, 192, 3, 192, 10)]
    params = sum(conv_params(k, c, f) + conv_params(1, f, m1) + conv_params(1, m1, m2)
                 for _, c, f, k, m1, m2 in rows)
    macs = sum(conv_macs(s, k, c, f) + conv_macs(s, 1, f, m1) + conv_macs(s, 1, m1, m2)
               for s, c, f, k, m1, m2 in rows)
    assert model.count_params() == params == 966_986
    assert _macs(model) == macs == 222_486_528
    assert tuple(model.output.shape) == (None, 10)
    assert [model.get_layer(f"block{i}_conv").output.shape[1] for i in (1, 2, 3)] == [32, 16, 8]
    assert [model.get_layer(f"block{i}_dropout").rate for i in (1, 2)] == [0.5, 0.5]
    assert not any(isinstance(layer, keras.layers.Dense) for layer in model.layers)
    assert model.get_layer("block3_mlp2").activation.__name__ == "relu"


def test_nin_parameters_do_not_depend_on_input_size_and_dropout_can_be_left_out():
    big = nin.nin(input_shape=(64, 64, 3), dropout=0.0)
    assert big.count_params() == 966_986
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in big.layers)
    assert _macs(big) == 4 * 222_486_528


def test_nin_small_scores_are_the_spatial_means_of_the_class_maps():
    model = nin.nin_small()
    assert tuple(model.output.shape) == (None, 4)
    assert model.get_layer("block2_mlp2").activation.__name__ == "linear"
    data = np.random.default_rng(1).uniform(size=(3, 32, 32, 3)).astype("float32")
    maps = keras.Model(model.input, model.get_layer("block2_mlp2").output)(data)
    probabilities = model(data)
    np.testing.assert_allclose(probabilities, tf.nn.softmax(tf.reduce_mean(maps, axis=(1, 2))),
                               rtol=1e-5, atol=1e-6)
    assert model.count_params() == sum(
        conv_params(k, c, f) + conv_params(1, f, m1) + conv_params(1, m1, m2)
        for c, (f, k, m1, m2) in zip((3, 16), nin.NIN_SMALL_STAGES))


@pytest.mark.parametrize("kwargs, words", [
    (dict(input_shape=(32, 32)), "input_shape"),
    (dict(input_shape=(32, 0, 3)), "input_shape"),
    (dict(stages=()), "stages"),
    (dict(stages=((192, 5, 160),)), "stages"),
    (dict(stages=((192, 5, 160, 0),)), "stages"),
    (dict(stages=((192, 5.0, 160, 10),)), "stages"),
    (dict(stages=3), "stages"),
    (dict(dropout=1.0), "dropout"),
    (dict(dropout=-0.1), "dropout"),
    (dict(dropout=True), "dropout"),
    (dict(name=""), "name"),
])
def test_nin_rejects_bad_arguments(kwargs, words):
    for build in (nin.nin, nin.nin_small):
        with pytest.raises(ValueError, match=words):
            build(**kwargs)


# The CIFAR-10 network of the authors' released model definition, written
# here rather than read from nin.NIN_CIFAR10_STAGES: (filters, k, m1, m2).
RELEASED_CIFAR10 = ((192, 5, 160, 96), (192, 5, 192, 192), (192, 3, 192, 10))


def test_stage_table_is_the_released_model():
    assert nin.NIN_CIFAR10_STAGES == RELEASED_CIFAR10
    assert nin.nin().input.shape[1:] == (32, 32, 3)
    assert nin.nin_small().input.shape[1:] == (32, 32, 3)


def test_nin_layers_come_in_the_papers_order():
    model = nin.nin()
    kinds = [(type(layer).__name__, layer.name) for layer in model.layers]
    expected = [("InputLayer", "input")]
    for i in (1, 2, 3):
        expected += [("Conv2D", f"block{i}_conv"), ("Conv2D", f"block{i}_mlp1"),
                     ("Conv2D", f"block{i}_mlp2")]
        if i < 3:
            pool = "MaxPooling2D" if i == 1 else "AveragePooling2D"
            expected += [(pool, f"block{i}_pool"),
                         ("Dropout", f"block{i}_dropout")]
    expected += [("GlobalAveragePooling2D", "global_avgpool"),
                 ("Activation", "softmax")]
    assert kinds == expected
    for i in (1, 2):
        pool = model.get_layer(f"block{i}_pool")
        assert tuple(pool.pool_size) == (3, 3) and tuple(pool.strides) == (2, 2)
        assert model.get_layer(f"block{i}_dropout").input is pool.output
    assert model.get_layer("softmax").activation.__name__ == "softmax"


def test_nin_computes_the_network_of_the_paper():
    stages = ((6, 3, 5, 4), (5, 3, 4, 3))
    model = nin.nin(input_shape=(9, 9, 2), stages=stages, dropout=0.5)
    data = np.random.default_rng(3).normal(size=(2, 9, 9, 2)).astype("float32")

    def conv(h, name):
        kernel, bias = model.get_layer(name).get_weights()
        return np.maximum(tf.nn.conv2d(h, kernel, 1, "SAME").numpy() + bias, 0)

    h = data
    for name in ("block1_conv", "block1_mlp1", "block1_mlp2"):
        h = conv(h, name)
    h = tf.nn.max_pool2d(h, 3, 2, "SAME").numpy()       # dropout: inference
    for name in ("block2_conv", "block2_mlp1", "block2_mlp2"):
        h = conv(h, name)
    scores = h.mean(axis=(1, 2))
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model(data), expected, rtol=1e-5, atol=1e-6)
    assert tuple(model.get_layer("block1_pool").output.shape) == (None, 5, 5, 4)


@pytest.mark.parametrize("kwargs, words", [
    (dict(stages=((10**9, 3, 8, 4),)), "filters of stages row 0"),
    (dict(stages=((8, 3, 8, 4), (8, 99, 8, 4))), "kernel_size of stages row 1"),
    (dict(stages=((8, 3, 8, 10**6),)), "mlp2 of stages row 0"),
    (dict(dropout=float("nan")), "dropout"),
])
def test_nin_refuses_huge_rows_before_keras_runs_out_of_memory(kwargs, words):
    with pytest.raises(ValueError, match=words):
        nin.nin(**kwargs)


# --------------------------------------------------------------------------
# The chapter's exercises

def test_exercise_fc64():
    label = "network-in-network-ex-fc64"
    # 64 -> 32 -> 16 after the two 3x3/2 poolings: a 16x16x192 map.
    assert check(label, "491,530").correct
    assert check(label, "491530").correct
    assert "weights only" in check(label, "491,520").message
    assert "8x8 map of 32x32 images" in check(label, "122,890").message
    assert "'valid'" in check(label, f"{15 * 15 * 1920 + 10}").message
    assert "one pooling" in check(label, f"{32 * 32 * 1920 + 10}").message
    assert "both poolings" in check(label, f"{64 * 64 * 1920 + 10}").message
    # A mistake is recognised when rounded as the learner types it, too.
    assert "8x8 map of 32x32 images" in check(label, "123k").message
    assert "one pooling" in check(label, "1.97M").message
    assert "1x1 convolution" in check(label, "1930").message
    assert not check(label, "").correct and not check(label, "two").correct


def test_exercise_relu_maps():
    exercise = get("network-in-network-ex-relu-maps")
    assert exercise.kind == "predict"
    assert check(exercise.label, "At most 1/10").correct
    for wrong in exercise.options:
        if wrong != "At most 1/10":
            result = check(exercise.label, wrong)
            assert not result.correct
            assert len(result.message) > len(wrong) + 40
    assert "Pick" in check(exercise.label, None).message
    # the bound: a zero score among ten non-negative ones
    scores = np.random.default_rng(0).uniform(0, 3, size=(1000, 10))
    scores[:, 7] = 0
    p7 = np.exp(scores[:, 7]) / np.exp(scores).sum(axis=1)
    assert p7.max() <= 0.1 and p7.min() > 0
    assert np.exp(0) / (10 * np.exp(0)) == 0.1


def _fixed_head(x, classes):
    maps = keras.layers.Conv2D(classes, 1)(x)
    return keras.layers.Activation("softmax")(keras.layers.GlobalAveragePooling2D()(maps))


def _flatten_head(x, classes):
    maps = keras.layers.Conv2D(classes, 1)(x)
    return keras.layers.Activation("softmax")(keras.layers.Flatten()(maps))


def _dense_head(x, classes):
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    return keras.layers.Dense(classes, activation="softmax")(pooled)


def _no_softmax_head(x, classes):
    return keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(classes, 1)(x))


def _keepdims_reshape_head(x, classes):
    maps = keras.layers.Conv2D(classes, 1)(x)
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True)(maps)
    scores = keras.layers.Reshape((classes,))(pooled)
    return keras.layers.Activation("softmax")(scores)


def _keepdims_flatten_head(x, classes):
    maps = keras.layers.Conv2D(classes, 1)(x)
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True)(maps)
    return keras.layers.Softmax()(keras.layers.Flatten()(pooled))


def _ops_mean_head(x, classes):
    maps = keras.layers.Conv2D(classes, 1)(x)
    return keras.ops.softmax(keras.ops.mean(maps, axis=(1, 2)))


def _softmax_then_average_head(x, classes):
    maps = keras.layers.Conv2D(classes, 1, activation="softmax")(x)
    return keras.layers.GlobalAveragePooling2D()(maps)


def _max_pool_head(x, classes):
    maps = keras.layers.Conv2D(classes, 1)(x)
    scores = keras.layers.GlobalMaxPooling2D()(maps)
    return keras.layers.Activation("softmax")(scores)


def _flatten_dense_head(x, classes):
    maps = keras.layers.Conv2D(classes, 1)(x)
    scores = keras.layers.Dense(classes)(keras.layers.Flatten()(maps))
    return keras.layers.Activation("softmax")(scores)


def _hidden_relu_after_pooling_head(x, classes):
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    scores = keras.layers.Dense(classes, activation="relu")(pooled)
    return keras.layers.Activation("softmax")(scores)


def test_exercise_head_judges_behaviour_at_every_map_size():
    label = "network-in-network-ex-head"
    # size-independent heads, however they are spelt
    for head in (_keepdims_reshape_head, _keepdims_flatten_head,
                 _ops_mean_head, _dense_head):
        result = check(label, head)
        assert result.correct, (head.__name__, result.message)
    assert "shuffled" in check(label, _flatten_dense_head).message
    result = check(label, _softmax_then_average_head)
    assert not result.correct and "before they are averaged" in result.message
    assert "not an average" in check(label, _max_pool_head).message
    assert "not a linear function" in check(
        label, _hidden_relu_after_pooling_head).message


def test_exercise_head():
    label = "network-in-network-ex-head"
    assert check(label, _fixed_head).correct
    assert "(None, 256)" in check(label, _flatten_head).message
    assert "softmax" in check(label, _no_softmax_head).message
    assert "Expected a function" in check(label, 42).message
    assert "raised ZeroDivisionError" in check(label, lambda x, c: 1 / 0).message
    assert "Keras tensor" in check(label, lambda x, c: np.zeros((1, c))).message


def _narrow_head(x):
    x = keras.layers.Conv2D(32, 1, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(10, 1)(x))
    return keras.layers.Activation("softmax")(x)


def _wide_head(x):
    x = keras.layers.Conv2D(192, 1, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(10, 1)(x))
    return keras.layers.Activation("softmax")(x)


def _shallow_head(x):
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(10, 1)(x))
    return keras.layers.Activation("softmax")(x)


def test_exercise_budget():
    label = "network-in-network-ex-budget"
    result = check(label, _narrow_head)
    assert result.correct and "6,506" in result.message
    assert "over the budget" in check(label, _wide_head).message
    assert "hidden 1x1 layer" in check(label, _shallow_head).message
    assert "NotImplementedError" in check(label, _raises).message
    assert not check(label, "my_head").correct


def _raises(x):
    raise NotImplementedError


def _no_softmax_head(x):
    x = keras.layers.Conv2D(32, 1, activation="relu")(x)
    return keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(10, 1)(x))


def _separate_relu_head(x):
    x = keras.layers.ReLU()(keras.layers.Conv2D(32, 1)(x))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(10, 1)(x))
    return keras.layers.Softmax()(x)


def _ten_wide_hidden_head(x):
    x = keras.layers.Conv2D(10, 1, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(10, 1)(x))
    return keras.layers.Activation("softmax")(x)


def _softmax_before_pooling_budget_head(x):
    x = keras.layers.Conv2D(32, 1, activation="relu")(x)
    x = keras.layers.Conv2D(10, 1, activation="softmax")(x)
    return keras.layers.GlobalAveragePooling2D()(x)


def _ops_budget_head(x):
    x = keras.layers.Conv2D(32, 1, activation="relu")(x)
    maps = keras.layers.ReLU()(keras.layers.Conv2D(10, 1)(x))
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True)(maps)
    return keras.ops.softmax(keras.layers.Flatten()(pooled))


def test_exercise_budget_rejects_the_mean_of_per_position_probabilities():
    label = "network-in-network-ex-budget"
    result = check(label, _softmax_before_pooling_budget_head)
    assert not result.correct and "every position" in result.message
    assert check(label, _ops_budget_head).correct


def test_exercise_budget_judges_what_the_head_does_not_how_it_is_spelt():
    label = "network-in-network-ex-budget"
    assert "softmax" in check(label, _no_softmax_head).message
    assert check(label, _separate_relu_head).correct
    assert check(label, _ten_wide_hidden_head).correct


def test_every_exercise_has_hints_and_few_are_arithmetic():
    from conv1x1.exercises import network_in_network

    kinds = [e.kind for e in network_in_network.EXERCISES]
    assert len(kinds) >= 3 and kinds.count("arithmetic") <= len(kinds) / 2
    assert all(len(e.hints) >= 2 for e in network_in_network.EXERCISES)


def test_pooling_follows_the_released_model_max_then_average():
    model = nin.nin()
    kinds = [type(model.get_layer(f"block{i}_pool")).__name__ for i in (1, 2)]
    assert kinds == ["MaxPooling2D", "AveragePooling2D"]
    small = nin.nin_small()
    assert all(isinstance(layer, keras.layers.MaxPooling2D)
               for layer in small.layers if layer.name.endswith("_pool"))


# --------------------------------------------------------------------------
# Limits, messages and defaults, exactly

def test_the_limits_themselves_are_allowed():
    """One channel, MAX_WIDTH channels and a MAX_KERNEL kernel all build; one
    more is refused, with the paper's sizes in the message."""
    x = keras.Input(shape=(4, 4, 1))
    out = nin.mlpconv_block(x, 1, 1, (1,), prefix="one_")
    assert tuple(out.shape) == (None, 4, 4, 1)
    wide = nin.mlpconv_block(x, nin.MAX_WIDTH, 1, (1,), prefix="wide_")
    assert wide.shape[-1] == 1
    big = nin.mlpconv_block(x, 1, nin.MAX_KERNEL, (1,), prefix="big_")
    assert tuple(big.shape) == (None, 4, 4, 1)
    with pytest.raises(ValueError, match="at most 65,536 channels; received 65,537"):
        nin.mlpconv_block(x, nin.MAX_WIDTH + 1, 1, (1,), prefix="w_")
    with pytest.raises(ValueError, match=r"at most 31; received 32\. NiN's spatial "
                                         r"convolutions are 5x5 and 3x3\."):
        nin.mlpconv_block(x, 1, nin.MAX_KERNEL + 1, (1,), prefix="k_")


@pytest.mark.parametrize("kwargs, words", [
    (dict(filters=0), "^Expected filters to be"),
    (dict(mlp=()), "^Expected mlp to be a non-empty sequence of widths"),
    (dict(final_activation="nope"), "^Expected final_activation to be"),
])
def test_mlpconv_block_messages_name_the_argument(kwargs, words):
    args = dict(filters=8, kernel_size=3, mlp=(8, 4), prefix="b_")
    args.update(kwargs)
    with pytest.raises(ValueError, match=words):
        nin.mlpconv_block(keras.Input(shape=(8, 8, 3)), **args)


@pytest.mark.parametrize("field, row", [("filters", (10**6, 3, 8, 4)),
                                        ("mlp1", (8, 3, 10**6, 4)),
                                        ("mlp2", (8, 3, 8, 10**6))])
def test_a_bad_stage_row_is_named_by_field_and_row(field, row):
    with pytest.raises(ValueError, match=f"Expected {field} of stages row 1 to be at most"):
        nin.nin(stages=((8, 3, 8, 4), row))


def test_a_bad_dropout_says_what_the_paper_uses():
    with pytest.raises(ValueError, match=r"Expected dropout to be a number in \[0, 1\); "
                                         r"received 1\.5\. The paper uses 0\.5; 0 leaves "
                                         r"dropout out\."):
        nin.nin(dropout=1.5)


def test_only_the_last_block_of_nin_small_has_raw_scores():
    model = nin.nin_small()
    activations = {layer.name: layer.activation.__name__ for layer in model.layers
                   if isinstance(layer, keras.layers.Conv2D)}
    assert activations == {"block1_conv": "relu", "block1_mlp1": "relu",
                           "block1_mlp2": "relu", "block2_conv": "relu",
                           "block2_mlp1": "relu", "block2_mlp2": "linear"}


def test_default_names_and_dropout():
    assert nin.nin().name == "nin_cifar10"
    small = nin.nin_small()
    assert small.name == "nin_small"
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in small.layers)
    assert nin.nin(name="mine").name == "mine"

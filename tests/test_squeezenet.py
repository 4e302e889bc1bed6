"""SqueezeNet: the fire module and the v1.0 network against the paper's Table 1."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conv1x1 import cost
from conv1x1.squeezenet import (SQUEEZENET_SMALL_STAGES, SQUEEZENET_SMALL_STEM,
                                SQUEEZENET_V1_0_STAGES, SQUEEZENET_V1_1_STAGES,
                                SQUEEZENET_V1_1_STEM, fire_module, squeezenet,
                                squeezenet_min_input_size, squeezenet_small)

# Iandola et al. 2016, Table 1: parameters per layer, biases included.
PAPER_PARAMS = {"conv1": 14_208, "fire2": 11_920, "fire3": 12_432, "fire4": 45_344,
                "fire5": 49_440, "fire6": 104_880, "fire7": 111_024, "fire8": 188_992,
                "fire9": 197_184, "conv10": 513_000}
PAPER_TOTAL = 1_248_424
PAPER_FIRES = [(16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
               (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)]


def fire_formula(c_in, s, e1, e3):
    """Weights plus biases of the three convolutions, written out by hand."""
    return (c_in * s + s) + (s * e1 + e1) + (3 * 3 * s * e3 + e3)


def fire_model(input_shape, *args, **kwargs):
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, fire_module(inputs, *args, prefix="f_", **kwargs))


@pytest.fixture(scope="module")
def v10():
    return squeezenet()


# --------------------------------------------------------------------------
# fire_module

@pytest.mark.parametrize("shape, s, e1, e3", [
    ((55, 55, 96), 16, 64, 64), ((27, 27, 256), 32, 128, 128), ((13, 13, 512), 64, 256, 256),
    ((7, 5, 3), 2, 1, 5), ((1, 1, 8), 1, 1, 1)])
def test_fire_module_shape_and_parameters(shape, s, e1, e3):
    model = fire_model(shape, s, e1, e3)
    assert tuple(model.output.shape) == (None, shape[0], shape[1], e1 + e3)
    assert model.count_params() == fire_formula(shape[-1], s, e1, e3)
    assert model.count_params() == (cost.conv_params(shape[-1], s) + cost.conv_params(s, e1)
                                    + cost.conv_params(s, e3, kernel_size=3))
    assert sum(r.params for r in cost.layer_costs(model)) == model.count_params()


def test_fire_module_layer_names_and_kinds():
    model = fire_model((10, 10, 12), 4, 6, 6)
    names = [layer.name for layer in model.layers[1:]]
    assert names == ["f_squeeze1x1", "f_expand1x1", "f_expand3x3", "f_concat"]
    kinds = {r.name: r.kind for r in cost.layer_costs(model)}
    assert kinds == {"f_squeeze1x1": "pointwise", "f_expand1x1": "pointwise",
                     "f_expand3x3": "conv", "f_concat": "other"}
    assert model.get_layer("f_expand3x3").padding == "same"


def test_fire_module_computes_squeeze_then_concatenated_expand():
    """Against tf.nn.conv2d with the layer's own weights."""
    keras.utils.set_random_seed(0)
    model = fire_model((9, 8, 5), 3, 4, 2)
    x = np.random.default_rng(0).normal(size=(2, 9, 8, 5)).astype(np.float32)
    ws, bs = model.get_layer("f_squeeze1x1").get_weights()
    w1, b1 = model.get_layer("f_expand1x1").get_weights()
    w3, b3 = model.get_layer("f_expand3x3").get_weights()
    squeezed = tf.nn.relu(tf.nn.conv2d(x, ws, 1, "VALID") + bs)
    expected = tf.concat([tf.nn.relu(tf.nn.conv2d(squeezed, w1, 1, "VALID") + b1),
                          tf.nn.relu(tf.nn.conv2d(squeezed, w3, 1, "SAME") + b3)], axis=-1)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected.numpy(),
                               rtol=1e-5, atol=1e-5)


def test_fire_module_paper_constraint():
    inputs = keras.Input(shape=(8, 8, 16))
    with pytest.raises(ValueError, match=r"s1x1 < e1x1 \+ e3x3.*at most 127"):
        fire_module(inputs, 128, 64, 64, prefix="a_", enforce_paper_constraint=True)
    with pytest.raises(ValueError, match="squeeze=200"):
        fire_module(inputs, 200, 64, 64, prefix="b_", enforce_paper_constraint=True)
    ok = fire_module(inputs, 127, 64, 64, prefix="c_", enforce_paper_constraint=True)
    assert ok.shape[-1] == 128
    # Without the flag a wide squeeze layer is allowed.
    assert fire_module(inputs, 128, 64, 64, prefix="d_").shape[-1] == 128


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, None, "16"])
@pytest.mark.parametrize("position, name", [(0, "squeeze"), (1, "expand1x1"), (2, "expand3x3")])
def test_fire_module_rejects_bad_filter_counts(bad, position, name):
    counts = [4, 8, 8]
    counts[position] = bad
    with pytest.raises(ValueError, match=f"Expected {name} to be an integer >= 1"):
        fire_module(keras.Input(shape=(8, 8, 3)), *counts, prefix="x_")


@pytest.mark.parametrize("x", [np.zeros((8, 8, 3)), keras.Input(shape=(8, 3)), None])
def test_fire_module_rejects_a_tensor_that_is_not_4d(x):
    with pytest.raises(ValueError, match=r"shape \(batch, height, width, channels\)"):
        fire_module(x, 4, 8, 8, prefix="x_")


# --------------------------------------------------------------------------
# squeezenet

def test_squeezenet_total_parameters(v10):
    assert v10.count_params() == PAPER_TOTAL == sum(PAPER_PARAMS.values())
    assert sum(r.params for r in cost.layer_costs(v10)) == PAPER_TOTAL


def test_squeezenet_parameters_per_layer_match_table_1(v10):
    per_layer = {}
    for record in cost.layer_costs(v10):
        key = record.name.split("_")[0]
        per_layer[key] = per_layer.get(key, 0) + record.params
    per_layer = {k: v for k, v in per_layer.items() if v}
    assert per_layer == PAPER_PARAMS
    # The same numbers from the formula, chaining the channel counts.
    c_in = 96
    for i, (s, e1, e3) in enumerate(PAPER_FIRES, start=2):
        assert PAPER_PARAMS[f"fire{i}"] == fire_formula(c_in, s, e1, e3)
        c_in = e1 + e3
    assert PAPER_PARAMS["conv1"] == 7 * 7 * 3 * 96 + 96
    assert PAPER_PARAMS["conv10"] == 512 * 1000 + 1000


def test_squeezenet_stage_table_is_the_paper_configuration():
    assert [f for stage in SQUEEZENET_V1_0_STAGES for f in stage] == PAPER_FIRES


@pytest.mark.parametrize("size, expected", [
    (227, {"conv1": 111, "maxpool1": 55, "fire2_concat": 55, "fire4_concat": 55,
           "maxpool4": 27, "fire8_concat": 27, "maxpool8": 13, "fire9_concat": 13,
           "conv10": 13}),
    (224, {"conv1": 109, "maxpool1": 54, "fire4_concat": 54, "maxpool4": 26,
           "fire8_concat": 26, "maxpool8": 12, "conv10": 12}),
])
def test_squeezenet_output_sizes(size, expected):
    model = squeezenet((size, size, 3))
    for name, side in expected.items():
        assert tuple(model.get_layer(name).output.shape[1:3]) == (side, side), name
    # The valid-padding formula gives the same chain.
    side = cost.conv_output_size(size, 7, 2, "valid")
    assert side == expected["conv1"]
    for pool in ("maxpool1", "maxpool4", "maxpool8"):
        side = cost.conv_output_size(side, 3, 2, "valid")
        if pool in expected:
            assert side == expected[pool]
    assert model.count_params() == PAPER_TOTAL      # fully convolutional: size-independent


def test_squeezenet_channels_per_layer(v10):
    channels = {"conv1": 96, "fire2_concat": 128, "fire3_concat": 128, "fire4_concat": 256,
                "fire5_concat": 256, "fire6_concat": 384, "fire7_concat": 384,
                "fire8_concat": 512, "fire9_concat": 512, "conv10": 1000}
    for name, c in channels.items():
        assert v10.get_layer(name).output.shape[-1] == c
    assert tuple(v10.output.shape) == (None, 1000)


def test_squeezenet_macs_match_the_formula(v10):
    c_in, macs = 96, cost.conv_macs(227, 227, 3, 96, 7, 2, padding="valid")
    sizes = [55, 55, 55, 27, 27, 27, 27, 13]
    for side, (s, e1, e3) in zip(sizes, PAPER_FIRES):
        macs += side * side * (c_in * s + s * e1 + 9 * s * e3)
        c_in = e1 + e3
    macs += 13 * 13 * 512 * 1000
    assert sum(r.macs for r in cost.layer_costs(v10)) == macs == 832_667_936


def test_squeezenet_classes_and_custom_stages():
    model = squeezenet((64, 64, 3), classes=10, stages=(((4, 8, 8),), ((8, 16, 16),)))
    assert tuple(model.output.shape) == (None, 10)
    assert [l.name for l in model.layers if l.name.startswith("maxpool")] == ["maxpool1", "maxpool2"]
    assert model.get_layer("conv4").count_params() == 32 * 10 + 10
    assert model.count_params() == (cost.conv_params(3, 96, 7) + fire_formula(96, 4, 8, 8)
                                    + fire_formula(16, 8, 16, 16) + cost.conv_params(32, 10))
    assert "dropout" in [l.name for l in model.layers]
    assert "dropout" not in [l.name for l in squeezenet(dropout=0.0).layers]


def test_squeezenet_min_input_size():
    assert squeezenet_min_input_size() == 35
    assert squeezenet_min_input_size(SQUEEZENET_SMALL_STEM, 2) == 9
    assert squeezenet_min_input_size((8, 3, 1), 1) == 5
    assert tuple(squeezenet((35, 35, 3)).get_layer("maxpool8").output.shape[1:3]) == (1, 1)
    assert tuple(squeezenet_small((9, 9, 3)).get_layer("maxpool3").output.shape[1:3]) == (1, 1)
    with pytest.raises(ValueError, match="at least 35 pixels"):
        squeezenet((34, 227, 3))
    with pytest.raises(ValueError, match="at least 9 pixels"):
        squeezenet_small((32, 8, 3))
    with pytest.raises(ValueError, match="n_stages"):
        squeezenet_min_input_size(n_stages=0)


@pytest.mark.parametrize("kwargs, match", [
    ({"input_shape": (227, 227)}, "input_shape"),
    ({"input_shape": (227, 0, 3)}, "input_shape"),
    ({"input_shape": (227.0, 227, 3)}, "input_shape"),
    ({"input_shape": (True, 227, 3)}, "input_shape"),
    ({"input_shape": 227}, "input_shape"),
    ({"input_shape": (30, 30, 3)}, "at least 35x35"),
    ({"classes": 0}, "classes"),
    ({"classes": 2.5}, "classes"),
    ({"classes": True}, "classes"),
    ({"dropout": 1.0}, "dropout"),
    ({"dropout": -0.1}, "dropout"),
    ({"dropout": "0.5"}, "dropout"),
    ({"stem": (96, 7)}, "stem"),
    ({"stem": (96, 0, 2)}, "stem"),
    ({"stem": 96}, "stem"),
    ({"stages": ()}, "stages"),
    ({"stages": ((),)}, r"stages\[0\]"),
    ({"stages": (((16, 64),),)}, r"stages\[0\]"),
    ({"stages": (((16, 64, 64),), 5)}, r"stages\[1\]"),
    ({"stages": (((0, 64, 64),),)}, "squeeze"),
    ({"stages": (((16, 64, -1),),)}, "expand3x3"),
])
def test_squeezenet_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        squeezenet(**kwargs)


def test_squeezenet_small_shapes_and_output():
    keras.utils.set_random_seed(0)
    model = squeezenet_small()
    sizes = {"conv1": 30, "maxpool1": 14, "fire3_concat": 14, "maxpool3": 6, "fire5_concat": 6}
    for name, side in sizes.items():
        assert tuple(model.get_layer(name).output.shape[1:3]) == (side, side), name
    stages = [f for stage in SQUEEZENET_SMALL_STAGES for f in stage]
    expected, c_in = cost.conv_params(3, 32, 3), 32
    for s, e1, e3 in stages:
        expected += fire_formula(c_in, s, e1, e3)
        c_in = e1 + e3
    expected += cost.conv_params(c_in, 4)
    assert model.count_params() == expected
    probs = model.predict(np.random.default_rng(0).random((3, 32, 32, 3)), verbose=0)
    assert probs.shape == (3, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_last_conv_activation():
    """v1.0's conv10 has the ReLU of the released model; the small model outputs raw logits."""
    assert squeezenet((35, 35, 3)).get_layer("conv10").activation.__name__ == "relu"
    assert squeezenet_small().get_layer("conv6").activation.__name__ == "linear"


# --------------------------------------------------------------------------
# The small network against figures written out from its definition: conv1
# 3x3/1 with 32 filters on a 32x32x3 image, 3x3/2 pooling, fire2 and fire3
# (squeeze 8, expand 16 + 16), pooling, fire4 and fire5 (squeeze 16, expand
# 32 + 32), a 1x1 conv to 4 classes. Every number below is typed from that
# description, not taken from SQUEEZENET_SMALL_STAGES.

SMALL_LAYERS = {  # layer: (output side, output channels, parameters with biases)
    "conv1": (30, 32, 3 * 3 * 3 * 32 + 32),
    "fire2_squeeze1x1": (14, 8, 32 * 8 + 8),
    "fire2_expand1x1": (14, 16, 8 * 16 + 16),
    "fire2_expand3x3": (14, 16, 9 * 8 * 16 + 16),
    "fire3_squeeze1x1": (14, 8, 32 * 8 + 8),
    "fire3_expand1x1": (14, 16, 8 * 16 + 16),
    "fire3_expand3x3": (14, 16, 9 * 8 * 16 + 16),
    "fire4_squeeze1x1": (6, 16, 32 * 16 + 16),
    "fire4_expand1x1": (6, 32, 16 * 32 + 32),
    "fire4_expand3x3": (6, 32, 9 * 16 * 32 + 32),
    "fire5_squeeze1x1": (6, 16, 64 * 16 + 16),
    "fire5_expand1x1": (6, 32, 16 * 32 + 32),
    "fire5_expand3x3": (6, 32, 9 * 16 * 32 + 32),
    "conv6": (6, 4, 64 * 4 + 4),
}


def test_squeezenet_small_layer_by_layer():
    model = squeezenet_small()
    records = {r.name: r for r in cost.layer_costs(model)}
    for name, (side, channels, params) in SMALL_LAYERS.items():
        assert tuple(model.get_layer(name).output.shape[1:]) == (side, side, channels), name
        assert records[name].params == params, name
        assert records[name].macs == side * side * (params - channels), name
    assert [r.name for r in cost.layer_costs(model) if r.params] == list(SMALL_LAYERS)
    assert model.count_params() == sum(p for _, _, p in SMALL_LAYERS.values()) == 16_244


# --------------------------------------------------------------------------
# SqueezeNet v1.1: the poolings moved earlier, a 3x3 conv1 with 64 filters.

def test_squeezenet_v1_1():
    v11 = squeezenet(stem=SQUEEZENET_V1_1_STEM, stages=SQUEEZENET_V1_1_STAGES)
    # torchvision documents 1,235,496 parameters for squeezenet1_1.
    assert v11.count_params() == 1_235_496
    assert [f for stage in SQUEEZENET_V1_1_STAGES for f in stage] == PAPER_FIRES
    sides = {"conv1": 113, "maxpool1": 56, "fire3_concat": 56, "maxpool3": 27,
             "maxpool5": 13, "conv10": 13}
    for name, side in sides.items():
        assert tuple(v11.get_layer(name).output.shape[1:3]) == (side, side), name
    c_in, macs = 64, 113 * 113 * 3 * 3 * 3 * 64
    for side, (s, e1, e3) in zip([56, 56, 27, 27, 13, 13, 13, 13], PAPER_FIRES):
        macs += side * side * (c_in * s + s * e1 + 9 * s * e3)
        c_in = e1 + e3
    macs += 13 * 13 * 512 * 1000
    assert sum(r.macs for r in cost.layer_costs(v11)) == macs == 352_540_352
    assert round(832_667_936 / macs, 1) == 2.4


# --------------------------------------------------------------------------
# Bad arguments answered in the course's words, not Keras's.

def test_fire_module_refuses_numpy_and_non_string_prefix():
    with pytest.raises(ValueError, match=r"Keras tensor.*ndarray.*keras.Input"):
        fire_module(np.zeros((2, 8, 8, 3), "float32"), 4, 8, 8, prefix="x_")
    for prefix in (None, 5):
        with pytest.raises(ValueError, match="Expected prefix to be a string"):
            fire_module(keras.Input(shape=(8, 8, 3)), 4, 8, 8, prefix=prefix)
    with pytest.raises(ValueError, match="enforce_paper_constraint to be True or False"):
        fire_module(keras.Input(shape=(8, 8, 3)), 4, 8, 8, prefix="x_",
                    enforce_paper_constraint="yes")


@pytest.mark.parametrize("build", [squeezenet, squeezenet_small])
def test_squeezenet_classifier_activation_and_name(build):
    with pytest.raises(ValueError, match=r"classifier_activation .* received 'nope'"):
        build(classifier_activation="nope")
    with pytest.raises(ValueError, match=r"Expected name to be a non-empty string .* 123"):
        build(name=123)
    with pytest.raises(ValueError, match=r"rows.*received 'abc'|row 0 is 'a'"):
        build(stages=("abc",))
    logits = squeezenet_small(classifier_activation=None)
    assert logits.get_layer("softmax").activation.__name__ == "linear"

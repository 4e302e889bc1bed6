"""conv1x1.inception and the exercises of the Inception chapter."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from conv1x1 import inception
from conv1x1.exercises import check, get

# Table 1 of Szegedy et al. 2014, as printed: the six widths of every module
# (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj), 3a to 5b.
TABLE_1 = [(64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64),
           (192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64),
           (128, 128, 256, 24, 64, 64), (112, 144, 288, 32, 64, 64),
           (256, 160, 320, 32, 128, 128), (256, 160, 320, 32, 128, 128),
           (384, 192, 384, 48, 128, 128)]

# Table 1 of Szegedy et al. 2014: input channels and map size of every module.
MODULE_INPUTS = [(192, 28), (256, 28), (480, 14), (512, 14), (512, 14), (512, 14),
                 (528, 14), (832, 7), (832, 7)]


def module_weights(c, n1, r3, n3, r5, n5, p):
    return c * (n1 + r3 + r5 + p) + 9 * r3 * n3 + 25 * r5 * n5


def module_params(c, n1, r3, n3, r5, n5, p):
    return module_weights(c, n1, r3, n3, r5, n5, p) + n1 + r3 + n3 + r5 + n5 + p


def _conv_macs(model):
    """MACs of every Conv2D and Dense from kernel shapes and output sizes alone."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, _ = layer.output.shape
            total += h * w * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total


# --------------------------------------------------------------------------
# The modules

def test_inception_module_3a_shapes_names_and_parameters():
    x = keras.Input(shape=(28, 28, 192))
    model = keras.Model(x, inception.inception_module(x, 64, 96, 128, 16, 32, 32,
                                                      prefix="i3a_"))
    assert tuple(model.output.shape) == (None, 28, 28, 256)
    names = {layer.name for layer in model.layers}
    assert {f"i3a_{n}" for n in ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5",
                                 "pool", "pool_proj", "output")} <= names
    assert model.count_params() == module_params(192, 64, 96, 128, 16, 32, 32)
    assert module_weights(192, 64, 96, 128, 16, 32, 32) == 163_328
    assert _conv_macs(model) == 28 * 28 * 163_328 == 128_049_152
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 6 and all(c.activation.__name__ == "relu" for c in convs)


def test_inception_module_computes_its_four_branches():
    x = keras.Input(shape=(6, 6, 3))
    model = keras.Model(x, inception.inception_module(x, 2, 3, 4, 1, 2, 2, prefix="m_"))
    data = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype("float32")

    def conv(h, name):
        kernel, bias = model.get_layer(f"m_{name}").get_weights()
        return tf.nn.relu(tf.nn.conv2d(h, kernel, 1, "SAME") + bias)

    expected = tf.concat([
        conv(data, "1x1"),
        conv(conv(data, "3x3_reduce"), "3x3"),
        conv(conv(data, "5x5_reduce"), "5x5"),
        conv(tf.nn.max_pool2d(data, 3, 1, "SAME"), "pool_proj")], axis=-1)
    np.testing.assert_allclose(model(data), expected, rtol=1e-5, atol=1e-5)


def test_naive_module_passes_the_input_channels_on():
    x = keras.Input(shape=(28, 28, 192))
    model = keras.Model(x, inception.naive_inception_module(x, 64, 128, 32, prefix="n_"))
    assert tuple(model.output.shape) == (None, 28, 28, 64 + 128 + 32 + 192)
    assert model.count_params() == (192 * 64 + 64) + (9 * 192 * 128 + 128) + (
        25 * 192 * 32 + 32)
    assert _conv_macs(model) == 28 * 28 * 192 * (64 + 9 * 128 + 25 * 32) == 303_464_448
    data = np.random.default_rng(1).normal(size=(1, 28, 28, 192)).astype("float32")
    np.testing.assert_allclose(np.asarray(model(data))[..., -192:],
                               tf.nn.max_pool2d(data, 3, 1, "SAME"), rtol=1e-6)


@pytest.mark.parametrize("kwargs, words", [
    (dict(n1x1=0), "n1x1"),
    (dict(n3x3_reduce=-1), "n3x3_reduce"),
    (dict(n3x3=1.5), "n3x3"),
    (dict(n5x5_reduce=True), "n5x5_reduce"),
    (dict(n5x5="8"), "n5x5"),
    (dict(pool_proj=None), "pool_proj"),
    (dict(prefix=None), "prefix"),
])
def test_inception_module_rejects_bad_arguments(kwargs, words):
    args = dict(n1x1=4, n3x3_reduce=4, n3x3=4, n5x5_reduce=4, n5x5=4, pool_proj=4,
                prefix="m_")
    args.update(kwargs)
    with pytest.raises(ValueError, match=words):
        inception.inception_module(keras.Input(shape=(8, 8, 3)), **args)


@pytest.mark.parametrize("args, kwargs, words", [
    ((np.zeros((1, 8, 8, 3)), 4, 4, 4), dict(prefix="n_"), "Keras tensor"),
    ((None, 0, 4, 4), dict(prefix="n_"), "n1x1"),
    ((None, 4, 4, 4), dict(prefix=1), "prefix"),
])
def test_naive_module_rejects_bad_arguments(args, kwargs, words):
    args = (keras.Input(shape=(8, 8, 3)) if args[0] is None else args[0], *args[1:])
    with pytest.raises(ValueError, match=words):
        inception.naive_inception_module(*args, **kwargs)


def test_auxiliary_classifier_parameters_and_errors():
    x = keras.Input(shape=(14, 14, 512))
    model = keras.Model(x, inception.auxiliary_classifier(x, 1000, prefix="aux_"))
    assert model.get_layer("aux_avgpool").output.shape[1:3] == (4, 4)
    assert model.count_params() == (512 * 128 + 128) + (2048 * 1024 + 1024) + (
        1024 * 1000 + 1000) == 3_188_840
    assert model.get_layer("aux_dropout").rate == 0.7
    with pytest.raises(ValueError, match="5x5"):
        inception.auxiliary_classifier(keras.Input(shape=(4, 4, 8)), prefix="a_")
    with pytest.raises(ValueError, match="classes"):
        inception.auxiliary_classifier(x, 0, prefix="a_")
    with pytest.raises(ValueError, match="dropout"):
        inception.auxiliary_classifier(x, prefix="a_", dropout=1)
    with pytest.raises(ValueError, match="prefix"):
        inception.auxiliary_classifier(x, prefix=None)
    with pytest.raises(ValueError, match="Keras tensor"):
        inception.auxiliary_classifier(np.zeros((1, 14, 14, 8)), prefix="a_")


def test_auxiliary_classifier_computes_section_5s_network():
    x = keras.Input(shape=(14, 14, 6))
    model = keras.Model(x, inception.auxiliary_classifier(x, 5, prefix="a_"))
    pool = model.get_layer("a_avgpool")
    assert (tuple(pool.pool_size), tuple(pool.strides), pool.padding) == (
        (5, 5), (3, 3), "valid")
    assert model.get_layer("a_conv").filters == 128
    assert model.get_layer("a_fc").units == 1024
    assert [model.get_layer(n).activation.__name__
            for n in ("a_conv", "a_fc", "a_classifier")] == [
        "relu", "relu", "softmax"]
    assert model.get_layer("a_classifier").input is model.get_layer(
        "a_dropout").output
    data = np.random.default_rng(4).normal(size=(2, 14, 14, 6)).astype("float32")
    kc, bc = model.get_layer("a_conv").get_weights()
    kf, bf = model.get_layer("a_fc").get_weights()
    kl, bl = model.get_layer("a_classifier").get_weights()
    h = tf.nn.avg_pool2d(data, 5, 3, "VALID").numpy()
    h = np.maximum(h @ kc[0, 0] + bc, 0).reshape(2, -1)
    h = np.maximum(h @ kf + bf, 0)          # dropout is off at inference
    logits = h @ kl + bl
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model(data), expected, rtol=1e-4, atol=1e-6)
    default = keras.Model(x, inception.auxiliary_classifier(x, prefix="b_"))
    assert default.output.shape[-1] == 1000


@pytest.mark.parametrize("kwargs, words", [
    (dict(n1x1=10**9), "n1x1 to be at most 65,536"),
    (dict(n5x5=2**20), "n5x5 to be at most"),
    (dict(pool_proj=float("nan")), "pool_proj"),
])
def test_inception_module_refuses_huge_widths(kwargs, words):
    args = dict(n1x1=4, n3x3_reduce=4, n3x3=4, n5x5_reduce=4, n5x5=4,
                pool_proj=4, prefix="m_")
    args.update(kwargs)
    with pytest.raises(ValueError, match=words):
        inception.inception_module(keras.Input(shape=(8, 8, 3)), **args)
    with pytest.raises(ValueError, match="n3x3 to be at most"):
        inception.naive_inception_module(keras.Input(shape=(8, 8, 3)), 4,
                                         10**9, 4, prefix="n_")


def test_the_modules_branches_read_what_figure_2b_says():
    x = keras.Input(shape=(8, 8, 16))
    model = keras.Model(x, inception.inception_module(x, 2, 3, 4, 1, 2, 2,
                                                      prefix="m_"))
    get = model.get_layer
    for name in ("1x1", "3x3_reduce", "5x5_reduce", "pool"):
        assert get(f"m_{name}").input is x
    assert get("m_3x3").input is get("m_3x3_reduce").output
    assert get("m_5x5").input is get("m_5x5_reduce").output
    assert get("m_pool_proj").input is get("m_pool").output
    pool = get("m_pool")
    assert (tuple(pool.pool_size), tuple(pool.strides), pool.padding) == (
        (3, 3), (1, 1), "same")
    assert [t.shape[-1] for t in get("m_output").input] == [2, 4, 2, 2]


# Messages are matched in full: the argument's name, the bound, the hint.
WIDTH_HINT = r"Every branch needs at least one filter\."
WIDTH_MAX = (r"Expected {} to be at most 65,536 filters; received 65,537\. "
             r"GoogLeNet's widest layer has 384\.")


def _relu_conv(model, name, h, strides=1):
    """ReLU(conv(h) + bias) with the weights of layer ``name``, by TF ops."""
    kernel, bias = model.get_layer(name).get_weights()
    return tf.nn.relu(tf.nn.conv2d(h, kernel, strides, "SAME") + bias)


def _module_reference(model, prefix, h):
    """Figure 2(b)'s module by TF ops, with the weights of ``{prefix}*``."""
    def conv(t, name):
        return _relu_conv(model, f"{prefix}{name}", t)
    return tf.concat([
        conv(h, "1x1"),
        conv(conv(h, "3x3_reduce"), "3x3"),
        conv(conv(h, "5x5_reduce"), "5x5"),
        conv(tf.nn.max_pool2d(h, 3, 1, "SAME"), "pool_proj")], axis=-1)


def _naive_reference(model, prefix, h):
    """Figure 2(a)'s module by TF ops, with the weights of ``{prefix}*``."""
    def conv(t, name):
        return _relu_conv(model, f"{prefix}{name}", t)
    return tf.concat([conv(h, "1x1"), conv(h, "3x3"), conv(h, "5x5"),
                      tf.nn.max_pool2d(h, 3, 1, "SAME")], axis=-1)


def test_naive_module_computes_figure_2a_with_its_layer_names():
    x = keras.Input(shape=(6, 6, 3))
    model = keras.Model(
        x, inception.naive_inception_module(x, 2, 3, 4, prefix="n_"))
    kinds = sorted((type(layer).__name__, layer.name)
                   for layer in model.layers[1:])
    assert kinds == [("Concatenate", "n_output"), ("Conv2D", "n_1x1"),
                     ("Conv2D", "n_3x3"), ("Conv2D", "n_5x5"),
                     ("MaxPooling2D", "n_pool")]
    assert [model.get_layer(f"n_{k}").kernel.shape[:2]
            for k in ("1x1", "3x3", "5x5")] == [(1, 1), (3, 3), (5, 5)]
    data = np.random.default_rng(5).normal(size=(2, 6, 6, 3))
    data = data.astype("float32")
    expected = _naive_reference(model, "n_", data)
    assert expected.shape == (2, 6, 6, 2 + 3 + 4 + 3)
    np.testing.assert_allclose(model(data), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("build, kwargs, words", [
    ("module", dict(n1x1=0),
     rf"Expected n1x1 to be an integer >= 1; received 0\. {WIDTH_HINT}"),
    ("module", dict(n5x5_reduce=-2),
     rf"Expected n5x5_reduce to be an integer >= 1; received -2\. "
     rf"{WIDTH_HINT}"),
    ("naive", dict(n1x1=0),
     rf"Expected n1x1 to be an integer >= 1; received 0\. {WIDTH_HINT}"),
    ("naive", dict(n3x3=0),
     rf"Expected n3x3 to be an integer >= 1; received 0\. {WIDTH_HINT}"),
    ("naive", dict(n5x5=0),
     rf"Expected n5x5 to be an integer >= 1; received 0\. {WIDTH_HINT}"),
    ("module", dict(pool_proj=65_537), WIDTH_MAX.format("pool_proj")),
    ("naive", dict(n5x5=65_537), WIDTH_MAX.format("n5x5")),
])
def test_modules_refuse_widths_naming_the_width_bound_and_fix(build, kwargs,
                                                              words):
    x = keras.Input(shape=(4, 4, 2))
    if build == "module":
        args = dict(n1x1=1, n3x3_reduce=1, n3x3=1, n5x5_reduce=1, n5x5=1,
                    pool_proj=1, prefix="m_")
        block = inception.inception_module
    else:
        args = dict(n1x1=1, n3x3=1, n5x5=1, prefix="n_")
        block = inception.naive_inception_module
    args.update(kwargs)
    with pytest.raises(ValueError, match=words):
        block(x, **args)


def test_modules_accept_one_filter_and_max_width_filters():
    assert inception.MAX_WIDTH == 65_536
    x = keras.Input(shape=(1, 1, 1))
    widest = inception.inception_module(x, 1, 1, 1, 1, 1, 65_536,
                                        prefix="m_")
    assert tuple(widest.shape) == (None, 1, 1, 1 + 1 + 1 + 65_536)
    naive = inception.naive_inception_module(x, 65_536, 1, 1, prefix="n_")
    assert tuple(naive.shape) == (None, 1, 1, 65_536 + 1 + 1 + 1)


AUX_SIZE = (r"Expected x of at least 5x5 pixels for the 5x5 average pooling; "
            r"received shape \(None, {}\)\. Attach the classifier to an "
            r"earlier, larger map\.")


@pytest.mark.parametrize("shape, kwargs, words", [
    ((None, 14, 8), {}, AUX_SIZE.format("None, 14, 8")),
    ((14, None, 8), {}, AUX_SIZE.format("14, None, 8")),
    ((4, 14, 8), {}, AUX_SIZE.format("4, 14, 8")),
    ((14, 4, 8), {}, AUX_SIZE.format("14, 4, 8")),
    ((14, 14, 8), dict(dropout=1), r"Expected dropout to be a number in "
     r"\[0, 1\); received 1\. The paper uses 0\.7\."),
    ((14, 14, 8), dict(classes=0),
     r"Expected classes to be an integer >= 1; received 0\."),
])
def test_auxiliary_classifier_refusals_in_full(shape, kwargs, words):
    with pytest.raises(ValueError, match=words):
        inception.auxiliary_classifier(keras.Input(shape=shape), prefix="a_",
                                       **kwargs)


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")
def test_auxiliary_classifier_on_the_smallest_map_with_one_class():
    # 5x5 is the smallest map the 5x5 pooling reads, whatever the channels
    x = keras.Input(shape=(5, 5, 3))
    model = keras.Model(x, inception.auxiliary_classifier(x, 1, prefix="a_"))
    assert tuple(model.get_layer("a_avgpool").output.shape) == (None, 1, 1, 3)
    assert tuple(model.output.shape) == (None, 1)
    assert [(type(layer).__name__, layer.name)
            for layer in model.layers[1:]] == [
        ("AveragePooling2D", "a_avgpool"), ("Conv2D", "a_conv"),
        ("Flatten", "a_flatten"), ("Dense", "a_fc"), ("Dropout", "a_dropout"),
        ("Dense", "a_classifier")]
    data = np.random.default_rng(6).normal(size=(2, 5, 5, 3))
    np.testing.assert_allclose(model(data.astype("float32")), np.ones((2, 1)),
                               rtol=1e-6)


# --------------------------------------------------------------------------
# GoogLeNet

@pytest.fixture(scope="module")
def googlenet():
    return inception.googlenet()


def test_googlenet_follows_table_1(googlenet):
    rows = TABLE_1
    assert [row for stage in inception.GOOGLENET_STAGES
            for row in stage] == TABLE_1
    names = ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]
    outputs = [256, 480, 512, 512, 512, 528, 832, 832, 1024]
    for name, row, (c, h), out in zip(names, rows, MODULE_INPUTS, outputs):
        layer = googlenet.get_layer(f"inception_{name}_output")
        assert tuple(layer.output.shape) == (None, h, h, out) == (
            None, h, h, row[0] + row[2] + row[4] + row[5])
        assert layer.input[0].shape[1] == h
        assert googlenet.get_layer(f"inception_{name}_1x1").input.shape[-1] == c
    assert googlenet.get_layer("conv1").output.shape[1:] == (112, 112, 64)
    assert googlenet.get_layer("conv2").output.shape[1:] == (56, 56, 192)
    assert googlenet.get_layer("dropout").rate == 0.4
    assert tuple(googlenet.output.shape) == (None, 1000)


def test_googlenet_parameters_and_macs_against_closed_form(googlenet):
    rows = TABLE_1
    stem = (7 * 7 * 3 * 64 + 64) + (64 * 64 + 64) + (9 * 64 * 192 + 192)
    modules = sum(module_params(c, *row) for (c, _), row in zip(MODULE_INPUTS, rows))
    assert googlenet.count_params() == stem + modules + 1024 * 1000 + 1000 == 6_998_552
    macs = (112 * 112 * 7 * 7 * 3 * 64 + 56 * 56 * (64 * 64 + 9 * 64 * 192)
            + sum(h * h * module_weights(c, *row) for (c, h), row in zip(MODULE_INPUTS, rows))
            + 1024 * 1000)
    assert _conv_macs(googlenet) == macs == 1_582_671_872


def test_googlenet_auxiliary_classifiers_add_parameters_only_for_training(googlenet):
    model = inception.googlenet(aux_after=inception.GOOGLENET_AUX)
    assert len(model.outputs) == 3
    aux = sum((c * 128 + 128) + (2048 * 1024 + 1024) + (1024 * 1000 + 1000)
              for c in (512, 528))
    assert model.count_params() == googlenet.count_params() + aux
    assert keras.Model(model.input, model.outputs[0]).count_params() == (
        googlenet.count_params())


def test_googlenet_stem_and_head_are_figure_3s(googlenet):
    get = googlenet.get_layer
    conv1, conv2r, conv2 = get("conv1"), get("conv2_reduce"), get("conv2")
    assert (conv1.filters, tuple(conv1.kernel_size), tuple(conv1.strides)) == (
        64, (7, 7), (2, 2))
    assert (conv2r.filters, tuple(conv2r.kernel_size)) == (64, (1, 1))
    assert (conv2.filters, tuple(conv2.kernel_size)) == (192, (3, 3))
    for name in ("pool1", "pool2", "pool3", "pool4"):
        pool = get(name)
        assert (tuple(pool.pool_size), tuple(pool.strides)) == ((3, 3), (2, 2))
    assert get("pool1").input is conv1.output
    assert conv2r.input is get("pool1").output and conv2.input is conv2r.output
    assert get("inception_3a_1x1").input is get("pool2").output
    assert get("pool3").input is get("inception_3b_output").output
    assert get("avgpool").input is get("inception_5b_output").output
    assert get("dropout").input is get("avgpool").output
    assert get("classifier").input is get("dropout").output
    assert get("classifier").activation.__name__ == "softmax"
    convs = [layer for layer in googlenet.layers
             if isinstance(layer, keras.layers.Conv2D)]
    assert all(layer.activation.__name__ == "relu" for layer in convs)
    # the defaults: 224x224 RGB, 1,000 classes, no auxiliary classifier
    assert googlenet.input.shape[1:] == (224, 224, 3)
    assert len(googlenet.outputs) == 1 and googlenet.output.shape[-1] == 1000
    assert inception.GOOGLENET_AUX == ("4a", "4d")


@pytest.mark.parametrize("kwargs, words", [
    (dict(classes=10**9), "classes to be at most 100,000"),
    (dict(aux_after=("4a", "4a")), "once"),
    (dict(input_shape=(64, 64, 3), aux_after=("4a",)),
     "module 4a of aux_after .* 4x4"),
])
def test_googlenet_refuses_what_would_fail_obscurely_or_silently(kwargs,
                                                                 words):
    with pytest.raises(ValueError, match=words):
        inception.googlenet(**kwargs)


@pytest.mark.parametrize("kwargs, words", [
    (dict(input_shape=(224, 224)), "input_shape"),
    (dict(classes=0), "classes"),
    (dict(stages=()), "stages"),
    (dict(stages=(((64, 96, 128, 16, 32),),)), "stages"),
    (dict(stages=((64, 96, 128, 16, 32, 32),)), "stages"),
    (dict(stages="3a"), "stages"),
    (dict(aux_after=("4f",)), "aux_after"),
    (dict(aux_after="4a"), "aux_after"),
    (dict(dropout=1.0), "dropout"),
    (dict(name=""), "name"),
    (dict(stages=(((4, 4, 4, 4, 4, 4),),) * 24), "at most 23 stages"),
])
def test_googlenet_rejects_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        inception.googlenet(**kwargs)


def test_inception_small_with_and_without_reductions():
    real = inception.inception_small()
    naive = inception.inception_small(reductions=False)
    assert real.name == "inception_small" and naive.name == "inception_small_naive"
    assert tuple(real.output.shape) == tuple(naive.output.shape) == (None, 4)
    (s1,), (s2,) = inception.INCEPTION_SMALL_STAGES
    stem = 9 * 3 * 16 + 16
    c2 = s1[0] + s1[2] + s1[4] + s1[5]
    assert real.count_params() == (stem + module_params(16, *s1) + module_params(c2, *s2)
                                   + (s2[0] + s2[2] + s2[4] + s2[5]) * 4 + 4)
    n1 = 16 + s1[0] + s1[2] + s1[4]
    naive_params = stem + sum((c * n1_ + n1_) + (9 * c * n3 + n3) + (25 * c * n5 + n5)
                              for c, (n1_, _, n3, _, n5, _) in ((16, s1), (n1, s2)))
    assert naive.count_params() == naive_params + (n1 + s2[0] + s2[2] + s2[4]) * 4 + 4
    with pytest.raises(ValueError, match="reductions"):
        inception.inception_small(reductions="no")
    with pytest.raises(ValueError, match="classes"):
        inception.inception_small(classes=0)
    with pytest.raises(ValueError, match="input_shape"):
        inception.inception_small(input_shape=(32, 32, 3, 1))
    with pytest.raises(ValueError, match="name"):
        inception.inception_small(name=3)
    with pytest.raises(ValueError, match="stages"):
        inception.inception_small(stages=((),))


# Tiny stage tables: the builders' stems, pools and heads do not depend on
# the widths, so small nets show them cheaply.
ROW = (1, 1, 1, 1, 1, 1)
TINY = (((6, 4, 8, 2, 4, 4),), ((8, 4, 6, 2, 4, 2),), ((4, 4, 6, 2, 4, 4),))
STEM = (("InputLayer", "input"), ("Conv2D", "conv1"),
        ("MaxPooling2D", "pool1"))


def _outer_layers(model):
    """(kind, name) of every layer outside the inception modules, in order."""
    return [(type(layer).__name__, layer.name) for layer in model.layers
            if not layer.name.startswith("inception_")]


def _softmax_head(model, h):
    """Global average pooling and the softmax classifier, by numpy."""
    kernel, bias = model.get_layer("classifier").get_weights()
    logits = np.asarray(h).mean(axis=(1, 2)) @ kernel + bias
    scores = np.exp(logits - logits.max(axis=1, keepdims=True))
    return scores / scores.sum(axis=1, keepdims=True)


def _probe(model, names, data):
    """The outputs of the layers ``names`` of ``model`` for ``data``."""
    outputs = [model.get_layer(name).output for name in names]
    return dict(zip(names, keras.Model(model.input, outputs)(data)))


def test_googlenet_computes_figure_3s_stem_modules_and_head():
    model = inception.googlenet(input_shape=(32, 32, 2), classes=5,
                                stages=TINY)
    assert model.name == "googlenet"
    assert _outer_layers(model) == [
        *STEM, ("Conv2D", "conv2_reduce"), ("Conv2D", "conv2"),
        ("MaxPooling2D", "pool2"), ("MaxPooling2D", "pool3"),
        ("MaxPooling2D", "pool4"), ("GlobalAveragePooling2D", "avgpool"),
        ("Dropout", "dropout"), ("Dense", "classifier")]
    assert model.get_layer("dropout").rate == 0.4
    # the names are the builder's, not Keras's counters: a second net has them
    again = inception.googlenet(input_shape=(32, 32, 2), stages=TINY[:1])
    assert _outer_layers(again)[-3:] == _outer_layers(model)[-3:]
    assert model.get_layer("conv1").kernel.shape == (7, 7, 2, 64)
    assert model.get_layer("conv2").kernel.shape == (3, 3, 64, 192)
    # Each layer against TF ops on the model's own input to it (a layer
    # deep in a tiny random net sees little signal from the image).
    data = np.random.default_rng(7).normal(size=(2, 32, 32, 2))
    data = data.astype("float32")
    names = ["pool1", "conv2", "pool2", "inception_3a_output", "pool3",
             "inception_4a_output", "pool4", "inception_5a_output"]
    got = _probe(model, names, data)
    expected = {
        "pool1": tf.nn.max_pool2d(_relu_conv(model, "conv1", data, 2),
                                  3, 2, "SAME"),
        "conv2": _relu_conv(model, "conv2",
                            _relu_conv(model, "conv2_reduce", got["pool1"])),
        "pool2": tf.nn.max_pool2d(got["conv2"], 3, 2, "SAME"),
        "inception_3a_output": _module_reference(model, "inception_3a_",
                                                 got["pool2"]),
        "pool3": tf.nn.max_pool2d(got["inception_3a_output"], 3, 2, "SAME"),
        "inception_4a_output": _module_reference(model, "inception_4a_",
                                                 got["pool3"]),
        "pool4": tf.nn.max_pool2d(got["inception_4a_output"], 3, 2, "SAME"),
        "inception_5a_output": _module_reference(model, "inception_5a_",
                                                 got["pool4"]),
    }
    sizes = [8, 8, 4, 4, 2, 2, 1, 1]           # Table 1's halvings, from 32
    for name, size in zip(names, sizes):
        assert got[name].shape[1:3] == (size, size), name
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5,
                                   atol=1e-6, err_msg=name)
    # dropout is off at inference
    np.testing.assert_allclose(
        model(data), _softmax_head(model, got["inception_5a_output"]),
        rtol=1e-5, atol=1e-7)


def test_googlenet_aux_on_a_5x5_map_with_its_classes_and_the_name():
    # 4a sees the input at 1/16: an 80x80 image gives it a 5x5 map, the
    # smallest the classifier's 5x5 pooling reads; any channel count goes.
    model = inception.googlenet(input_shape=(80, 80, 1), classes=7,
                                stages=TINY[:2], aux_after=("4a",),
                                name="tiny")
    assert model.name == "tiny"
    assert model.get_layer("inception_4a_output").output.shape[1:3] == (5, 5)
    assert [tuple(t.shape) for t in model.outputs] == [(None, 7), (None, 7)]
    assert model.get_layer("aux_4a_classifier").output is model.outputs[1]


AUX_LATE = (r"Expected module 4a of aux_after to output a map of at least "
            r"5x5 for the auxiliary classifier's 5x5 pooling; with "
            r"input_shape \({}, 3\) it outputs {}\. Use a larger input "
            r"\(224x224 in the paper\) or an earlier module\.")


@pytest.mark.parametrize("kwargs, words", [
    (dict(input_shape=(64, 224, 3), aux_after=("4a",)),
     AUX_LATE.format("64, 224", "4x14")),
    (dict(input_shape=(224, 64, 3), aux_after=("4a",)),
     AUX_LATE.format("224, 64", "14x4")),
    (dict(aux_after=None), r"Expected aux_after to be a tuple of module "
     r"names such as \('4a', '4d'\); received None\."),
    (dict(aux_after=("4f",)), r"Expected every name in aux_after to be one "
     r"of the modules 3a, 4a; received '4f'\."),
    (dict(aux_after=["4a", "4a"]), r"Expected every name in aux_after once; "
     r"received \['4a', '4a'\]\. Each module takes at most one auxiliary "
     r"classifier\."),
    (dict(dropout=1.0), r"Expected dropout to be a number in \[0, 1\); "
     r"received 1\.0\. The paper uses 0\.4\."),
    (dict(classes=100_001), r"Expected classes to be at most 100,000; "
     r"received 100,001\. ImageNet has 1,000\."),
    (dict(classes=0),
     r"Expected classes to be an integer >= 1; received 0\."),
])
def test_googlenet_refusals_in_full(kwargs, words):
    with pytest.raises(ValueError, match=words):
        inception.googlenet(**{"stages": TINY[:2], **kwargs})


@pytest.mark.parametrize("reductions", [True, False])
def test_inception_small_computes_its_network(reductions):
    model = inception.inception_small(input_shape=(8, 8, 2), classes=3,
                                      stages=TINY[:2], reductions=reductions)
    assert model.name == ("inception_small" if reductions
                          else "inception_small_naive")
    assert _outer_layers(model) == [
        *STEM, ("MaxPooling2D", "pool2"),
        ("GlobalAveragePooling2D", "avgpool"), ("Dense", "classifier")]
    assert model.get_layer("conv1").kernel.shape == (3, 3, 2, 16)
    block = _module_reference if reductions else _naive_reference
    data = np.random.default_rng(8).normal(size=(2, 8, 8, 2))
    data = data.astype("float32")
    names = ["pool1", "inception_3a_output", "pool2", "inception_4a_output"]
    got = _probe(model, names, data)
    expected = [
        tf.nn.max_pool2d(_relu_conv(model, "conv1", data), 3, 2, "SAME"),
        block(model, "inception_3a_", got["pool1"]),
        tf.nn.max_pool2d(got["inception_3a_output"], 3, 2, "SAME"),
        block(model, "inception_4a_", got["pool2"])]
    for name, size, want in zip(names, (4, 4, 2, 2), expected):
        assert got[name].shape[1:3] == (size, size), name
        np.testing.assert_allclose(got[name], want, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    np.testing.assert_allclose(
        model(data), _softmax_head(model, got["inception_4a_output"]),
        rtol=1e-5, atol=1e-7)


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")
def test_inception_small_classes_from_one_to_max():
    assert inception.MAX_CLASSES == 100_000
    one = inception.inception_small(input_shape=(4, 4, 1), classes=1,
                                    stages=((ROW,),))
    data = np.random.default_rng(9).normal(size=(2, 4, 4, 1))
    np.testing.assert_allclose(one(data.astype("float32")), np.ones((2, 1)),
                               rtol=1e-6)
    most = inception.inception_small(input_shape=(4, 4, 1), classes=100_000,
                                     stages=((ROW,),))
    assert tuple(most.output.shape) == (None, 100_000)
    with pytest.raises(ValueError, match=r"Expected classes to be at most "
                       r"100,000; received 100,001\. ImageNet has 1,000\."):
        inception.inception_small(classes=100_001)


STAGES_SHAPE = re.escape(
    "Expected stages to be a non-empty sequence of stages, each a sequence "
    "of rows ('n1x1', 'n3x3_reduce', 'n3x3', 'n5x5_reduce', 'n5x5', "
    "'pool_proj'), e.g. (((64, 96, 128, 16, 32, 32),), ((192, 96, 208, 16, "
    "48, 64),)); received ")
STAGES_COUNT = re.escape("Expected at most 23 stages of at most 26 modules "
                         "each (modules are named 3a to 25z).")


@pytest.mark.parametrize("stages, words", [
    (7, STAGES_SHAPE + r"7\."),
    ((), STAGES_SHAPE + r"\(\)\."),
    ("3a", STAGES_SHAPE + r"'3a'\."),
    (((ROW,),) * 24, STAGES_COUNT),
    (((ROW,) * 27,), STAGES_COUNT),
    (((ROW,), (ROW, (1, 2, 3))), r"Expected every row of stages\[1\] to be "),
])
def test_stage_tables_refused_in_full(stages, words):
    for build in (inception.googlenet, inception.inception_small):
        with pytest.raises(ValueError, match=words):
            build(stages=stages)


def test_stage_tables_of_23_stages_or_26_modules_are_named_3a_to_25z():
    # The names are checked before anything is built: an unknown aux_after
    # name gets the list of the modules of the table.
    deep = ", ".join(f"{stage}a" for stage in range(3, 26))
    with pytest.raises(ValueError, match=f"of the modules {deep}; received"):
        inception.googlenet(stages=((ROW,),) * 23, aux_after=("26a",))
    wide = ", ".join(f"3{letter}" for letter in "abcdefghijklmnopqrstuvwxyz")
    with pytest.raises(ValueError, match=f"of the modules {wide}; received"):
        inception.googlenet(stages=((ROW,) * 26,), aux_after=("4a",))
    # ... and inception_small checks reductions only after the table
    for stages in (((ROW,),) * 23, ((ROW,) * 26,)):
        with pytest.raises(ValueError, match="Expected reductions to be "
                           "True or False; received 'no'"):
            inception.inception_small(stages=stages, reductions="no")


def test_googlenet_lists_all_nine_modules_for_an_unknown_aux_name():
    with pytest.raises(ValueError, match=r"one of the modules 3a, 3b, 4a, "
                       r"4b, 4c, 4d, 4e, 5a, 5b; received '6a'\."):
        inception.googlenet(aux_after=("6a",))


# --------------------------------------------------------------------------
# The chapter's exercises

def test_exercise_aux():
    label = "inception-ex-aux"
    x = keras.Input(shape=(28, 28, 480))
    answer = keras.Model(x, inception.auxiliary_classifier(
        x, prefix="a_")).count_params()
    # 5x5/3 valid pooling: floor((28 - 5) / 3) + 1 = 8, so fc reads 8*8*128.
    assert answer == (480 * 128 + 128) + (8 * 8 * 128 * 1024 + 1024) + (
        1024 * 1000 + 1000) == 9_476_200
    assert check(label, f"{answer:,}").correct
    assert check(label, "9476200").correct
    assert "weights only" in check(label, "9,474,048").message
    # the chapter's classifiers on 4a (512 channels) and 4d (528), 14x14
    assert "module 4a" in check(label, "3,188,840").message
    assert "module 4d" in check(label, "3,190,888").message
    # ... also when rounded as typed
    assert "module 4a" in check(label, "3.189M").message
    assert "module 4d" in check(label, "3.191M").message
    assert "not 4x4" in check(label, "3,184,744").message
    assert "256" in check(label, f"{256 * 128 + 128 + 8389632 + 1025000}"
                          ).message
    assert "off by one" in check(
        label, f"{61568 + 7 * 7 * 128 * 1024 + 1024 + 1025000}").message
    assert "padding='same'" in check(
        label, f"{61568 + 10 * 10 * 128 * 1024 + 1024 + 1025000}").message
    assert "whole" in check(
        label, f"{61568 + 28 * 28 * 128 * 1024 + 1024 + 1025000}").message
    assert not check(label, "").correct and not check(label, "lots").correct


def test_exercise_halve():
    exercise = get("inception-ex-halve")
    assert exercise.kind == "predict"
    assert check(exercise.label, exercise.options[0]).correct
    for wrong in exercise.options[1:]:
        result = check(exercise.label, wrong)
        assert not result.correct and "50.6M" in result.message
    assert "not one of the options" in check(exercise.label, "something else").message
    # The savings, from the closed form of the module's MACs.
    def macs(n1, r3, n3, r5, n5, p, c=192, h=28):
        return h * h * (c * (n1 + r3 + r5 + p) + 9 * r3 * n3 + 25 * r5 * n5)
    base = macs(64, 96, 128, 16, 32, 32)
    savings = [base - macs(64, 48, 128, 16, 32, 32), base - macs(64, 96, 128, 8, 32, 32),
               base - macs(32, 96, 128, 16, 32, 32), base - macs(64, 96, 128, 16, 32, 16)]
    assert max(savings) == savings[0] == 50_577_408


def _cheap_module(x):
    return inception.inception_module(x, 128, 64, 192, 16, 96, 64, prefix="cheap_")


def _module_3b(x):
    return inception.inception_module(x, 128, 128, 192, 32, 96, 64, prefix="m3b_")


def _no_5x5(x):
    a = keras.layers.Conv2D(240, 1, activation="relu")(x)
    b = keras.layers.Conv2D(176, 3, padding="same", activation="relu")(x)
    p = keras.layers.MaxPooling2D(3, 1, padding="same")(x)
    p = keras.layers.Conv2D(64, 1, activation="relu")(p)
    return keras.layers.Concatenate()([a, b, p])


def _linear_module(x):
    a = keras.layers.Conv2D(128, 1)(x)
    b = keras.layers.Conv2D(192, 3, padding="same", activation="relu")(
        keras.layers.Conv2D(32, 1, activation="relu")(x))
    c = keras.layers.Conv2D(96, 5, padding="same", activation="relu")(
        keras.layers.Conv2D(8, 1, activation="relu")(x))
    p = keras.layers.Conv2D(64, 1, activation="relu")(
        keras.layers.MaxPooling2D(3, 1, padding="same")(x))
    return keras.layers.Concatenate()([a, b, c, p])


def test_exercise_budget():
    label = "inception-ex-budget"
    result = check(label, _cheap_module)
    assert result.correct and "171,401,216" in result.message
    assert "over the budget" in check(label, _module_3b).message
    assert "5x5" in check(label, _no_5x5).message
    assert "ReLU" in check(label, _linear_module).message
    assert "(None, 28, 28, 256)" in check(label, lambda x: x).message
    assert "Expected a function" in check(label, None).message
    assert "raised" in check(label, lambda x: x.nonexistent).message


def _fixed_branch(x, pool_proj):
    pooled = keras.layers.MaxPooling2D(3, strides=1, padding="same")(x)
    return keras.layers.Conv2D(pool_proj, 1, activation="relu")(pooled)


def _buggy_branch(x, pool_proj):
    pooled = keras.layers.MaxPooling2D(3, padding="same")(x)
    return keras.layers.Conv2D(pool_proj, 1, activation="relu")(pooled)


def _avg_branch(x, pool_proj):
    pooled = keras.layers.AveragePooling2D(3, strides=1, padding="same")(x)
    return keras.layers.Conv2D(pool_proj, 1, activation="relu")(pooled)


def _linear_branch(x, pool_proj):
    pooled = keras.layers.MaxPooling2D(3, strides=1, padding="same")(x)
    return keras.layers.Conv2D(pool_proj, 1)(pooled)


def _pool_after_convs(x):
    a = keras.layers.Conv2D(128, 1, activation="relu")(x)
    b = keras.layers.Conv2D(192, 3, padding="same", activation="relu")(
        keras.layers.Conv2D(64, 1, activation="relu")(x))
    c = keras.layers.Conv2D(96, 5, padding="same", activation="relu")(
        keras.layers.Conv2D(16, 1, activation="relu")(x))
    joined = keras.layers.Concatenate()([a, b, c])
    pooled = keras.layers.MaxPooling2D(3, 1, padding="same")(joined)
    return keras.layers.Conv2D(480, 1, activation="relu")(pooled)


def _separate_relus(x):
    def conv(t, filters, k):
        return keras.layers.ReLU()(keras.layers.Conv2D(filters, k, padding="same")(t))
    a = conv(x, 128, 1)
    b = conv(conv(x, 64, 1), 192, 3)
    c = conv(conv(x, 16, 1), 96, 5)
    p = conv(keras.layers.MaxPooling2D(3, 1, padding="same")(x), 64, 1)
    return keras.layers.Concatenate()([a, b, c, p])


def _separate_relu_branch(x, pool_proj):
    pooled = keras.layers.MaxPooling2D(3, strides=1, padding="same")(x)
    return keras.layers.ReLU()(keras.layers.Conv2D(pool_proj, 1)(pooled))


def _ops_concatenate_module(x):
    def conv(t, filters, k):
        return keras.layers.Conv2D(filters, k, padding="same",
                                   activation="relu")(t)
    pooled = keras.layers.MaxPooling2D(3, 1, padding="same")(x)
    return keras.ops.concatenate(
        [conv(x, 128, 1), conv(conv(x, 64, 1), 192, 3),
         conv(conv(x, 16, 1), 96, 5), conv(pooled, 64, 1)], axis=-1)


def test_budget_checker_accepts_keras_ops_concatenate():
    result = check("inception-ex-budget", _ops_concatenate_module)
    assert result.correct and "171,401,216" in result.message


def test_budget_and_branch_checkers_judge_structure_not_spelling():
    assert "module's input" in check("inception-ex-budget", _pool_after_convs).message
    assert check("inception-ex-budget", _separate_relus).correct
    assert check("inception-ex-pool-branch", _separate_relu_branch).correct


def test_exercise_pool_branch():
    label = "inception-ex-pool-branch"
    assert check(label, _fixed_branch).correct
    assert "(None, 10, 10, 32)" in check(label, _buggy_branch).message
    assert "max pooling" in check(label, _avg_branch).message
    assert "ReLU" in check(label, _linear_branch).message
    assert not check(label, "pool_branch").correct


def test_every_exercise_has_hints_and_few_are_arithmetic():
    from conv1x1.exercises import inception as chapter

    kinds = [e.kind for e in chapter.EXERCISES]
    assert len(kinds) >= 3 and kinds.count("arithmetic") <= len(kinds) / 2
    assert all(len(e.hints) >= 2 for e in chapter.EXERCISES)

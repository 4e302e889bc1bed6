"""ResNet: blocks, shortcuts, networks against closed forms, Keras, paper."""

import math
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from conv1x1 import cost
from conv1x1.resnet import (
    MAX_BLOCKS,
    MAX_FILTERS,
    RESNET_STAGES,
    STAGE_WIDTHS,
    basic_block,
    bottleneck_block,
    resnet,
    resnet_cost,
    resnet_small,
    shortcut_path,
    stage_output_names,
)

# He et al. 2016, Table 1: "FLOPs" (multiply-adds) at 224x224, in units of 1e9.
PAPER_FLOPS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
# Table 1: blocks per stage conv2_x..conv5_x, and the 3x3 widths, written
# from the paper (not from the package's tables).
PAPER_BLOCKS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
PAPER_WIDTHS = (64, 128, 256, 512)
PAPER_BOTTLENECK_OUTPUTS = (256, 512, 1024, 2048)
# Table 6 (CIFAR-10): parameters of the 6n + 2-layer networks, in millions.
PAPER_CIFAR_PARAMS = {3: 0.27, 5: 0.46, 7: 0.66, 9: 0.85, 18: 1.7}
BN = 4  # gamma, beta, moving mean and moving variance per channel


def macs(model):
    return sum(r.macs for r in cost.layer_costs(model))


def block_model(block, shape, *args, **kwargs):
    inputs = keras.Input(shape=shape)
    return keras.Model(inputs, block(inputs, *args, prefix="b_", **kwargs))


# --------------------------------------------------------------------------
# Closed forms written out by hand, independent of the package.


def resnet_formula(
    depth, *, size=224, classes=1000, stride_at="1x1", shortcut="B", bias=False
):
    """(parameters, MACs) of ResNet-depth, walking Table 1 by hand."""
    kind, blocks = PAPER_BLOCKS[depth]
    b = 1 if bias else 0
    h = size // 2  # conv1 7x7/2
    params = 7 * 7 * 3 * 64 + b * 64 + BN * 64
    total = h * h * 7 * 7 * 3 * 64
    h //= 2  # pool1 3x3/2
    c_in = 64
    for stage, (width, count) in enumerate(zip(PAPER_WIDTHS, blocks)):
        for j in range(count):
            stride = 2 if stage > 0 and j == 0 else 1
            h_out = h // stride
            if kind == "basic":
                out = width
                params += (
                    9 * c_in * width + 9 * width * width + 2 * (b + BN) * width
                )
                total += h_out * h_out * (9 * c_in * width + 9 * width * width)
            else:
                out = 4 * width
                params += (
                    c_in * width
                    + 9 * width * width
                    + width * out
                    + (b + BN) * (2 * width + out)
                )
                first = h if stride_at == "3x3" else h_out
                total += first * first * c_in * width
                total += h_out * h_out * (9 * width * width + width * out)
            if shortcut == "C" or (
                shortcut == "B" and (stride != 1 or c_in != out)
            ):
                params += c_in * out + (b + BN) * out
                total += h_out * h_out * c_in * out
            c_in, h = out, h_out
    params += c_in * classes + classes
    total += c_in * classes
    return params, total


def cifar_formula(n, widths=(16, 32, 64), classes=10):
    """(all, trainable) parameters of the 6n + 2 CIFAR network, option A."""
    weights = 9 * 3 * widths[0]
    bn_channels = widths[0]
    c_in = widths[0]
    for width in widths:
        for _ in range(n):
            weights += 9 * c_in * width + 9 * width * width
            bn_channels += 2 * width
            c_in = width
    weights += c_in * classes + classes
    return weights + 4 * bn_channels, weights + 2 * bn_channels


# --------------------------------------------------------------------------
# The ImageNet networks


@pytest.mark.parametrize("depth", [18, 34, 50])
def test_resnet_matches_closed_form(depth):
    model = resnet(depth)
    params, total = resnet_formula(depth)
    assert model.count_params() == params
    assert macs(model) == total
    assert model.name == f"resnet{depth}"
    # resnet_cost walks the same table by formula, without Keras.
    counted = resnet_cost(depth)
    assert (counted.params, counted.macs, counted.layers) == (
        params,
        total,
        depth,
    )
    records = cost.layer_costs(model)
    for i, stage in enumerate(("conv2", "conv3", "conv4", "conv5")):
        mine = [r for r in records if r.name.startswith(stage)]
        assert counted.stage_macs[i] == sum(r.macs for r in mine)
        assert counted.stage_params[i] == sum(r.params for r in mine)
    assert tuple(model.output.shape) == (None, 1000)


def test_resnet_variants_match_closed_form():
    for kwargs in ({"stride_at": "3x3"}, {"shortcut": "C"}, {"shortcut": "A"}):
        model = resnet(50, **kwargs)
        params, total = resnet_formula(50, **kwargs)
        if (
            kwargs.get("shortcut") == "A"
        ):  # zero channels: no projection at all
            params, total = resnet_formula(50, shortcut="none")
        assert model.count_params() == params, kwargs
        assert macs(model) == total, kwargs
        counted = resnet_cost(50, **kwargs)
        assert (counted.params, counted.macs) == (params, total), kwargs


# ResNet-50 only: 101 and 152 are built by the same code from their rows of
# Table 1, which PAPER_BLOCKS checks against the paper (building Keras's two
# deeper models cost 11 s of the test suite's budget for no other check).
@pytest.mark.parametrize("depth, application", [(50, "ResNet50")])
def test_resnet_matches_keras_applications(depth, application):
    """With biases in the convolutions, as Keras has, every layer agrees."""
    reference = getattr(keras.applications, application)(weights=None)
    model = resnet(depth, use_bias=True)
    # Keras numbers its input layers (input_layer, input_layer_1, ...).
    ours = [
        (layer.name, tuple(layer.output.shape), layer.count_params())
        for layer in model.layers[1:]
    ]
    theirs = [
        (layer.name, tuple(layer.output.shape), layer.count_params())
        for layer in reference.layers[1:]
    ]
    assert ours == theirs
    assert model.count_params() == reference.count_params()
    assert macs(model) == macs(reference)
    # The paper's convolutions have no biases: one fewer parameter per filter.
    conv_filters = sum(
        layer.filters
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D)
    )
    assert (
        resnet(depth).count_params() == reference.count_params() - conv_filters
    )


def test_table1_flops():
    """Which printed figures reproduce, and how the others come about."""
    computed = {depth: macs(resnet(depth)) / 1e9 for depth in (18, 34, 50)}
    computed[101] = resnet_formula(101)[1] / 1e9
    computed[152] = resnet_formula(152)[1] / 1e9
    for depth in (18, 101, 152):
        assert round(computed[depth], 1) == PAPER_FLOPS[depth]
    # ResNet-34: 3.66e9 with projections (B); the plain network has 3.64e9.
    assert round(computed[34], 1) == 3.7
    assert round(macs(resnet(34, shortcut=None)) / 1e9, 1) == PAPER_FLOPS[34]
    # ResNet-50: 3.86e9 (stride in the 1x1), which rounds to 3.9, not 3.8;
    # with the stride in the 3x3 it is the 4.1e9 most libraries quote.
    assert round(computed[50], 1) == 3.9
    assert math.floor(computed[50] * 10) / 10 == PAPER_FLOPS[50]
    assert round(macs(resnet(50, stride_at="3x3")) / 1e9, 1) == 4.1


def test_stage_outputs_as_in_keras():
    model = resnet(50, include_top=False)
    names = stage_output_names(50)
    assert names == (
        "conv2_block3_out",
        "conv3_block4_out",
        "conv4_block6_out",
        "conv5_block3_out",
    )
    sizes = [tuple(model.get_layer(n).output.shape) for n in names]
    assert sizes == [
        (None, 56, 56, 256),
        (None, 28, 28, 512),
        (None, 14, 14, 1024),
        (None, 7, 7, 2048),
    ]
    assert model.output.name == model.get_layer(names[-1]).output.name
    assert stage_output_names(18) == tuple(
        f"conv{i}_block2_out" for i in range(2, 6)
    )
    assert stage_output_names((3, 3, 3)) == (
        "conv2_block3_out",
        "conv3_block3_out",
        "conv4_block3_out",
    )


def test_custom_stages_and_expansion():
    model = resnet(
        50,
        input_shape=(64, 64, 3),
        classes=5,
        stages=((32, 1), (64, 2)),
        expansion=2,
    )
    assert model.name == "resnet11"  # 2 + 3 * 3 weighted layers
    assert tuple(model.get_layer("conv3_block2_out").output.shape) == (
        None,
        8,
        8,
        128,
    )
    assert tuple(model.output.shape) == (None, 5)


def test_resnet_cost_of_custom_tables_matches_the_built_model():
    for kwargs in (
        {"depth": 50, "stages": ((16, 2), (32, 1)), "expansion": 2},
        {"depth": 18, "shortcut": None, "classes": 7, "use_bias": True},
        {"depth": 34, "shortcut": "C", "stages": ((8, 1),) * 3},
    ):
        size = 97  # odd: every "same" stride rounds up
        model = resnet(input_shape=(size, size, 3), **kwargs)
        counted = resnet_cost(input_size=size, **kwargs)
        assert counted.params == model.count_params(), kwargs
        assert counted.macs == macs(model), kwargs
        assert model.name == f"resnet{counted.layers}"


def test_plain_network_has_no_additions():
    plain = resnet(18, shortcut=None)
    assert not any(
        isinstance(layer, keras.layers.Add) for layer in plain.layers
    )
    assert plain.count_params() == resnet(18, shortcut="A").count_params()
    assert (
        sum(isinstance(layer, keras.layers.Add) for layer in resnet(18).layers)
        == 8
    )


# --------------------------------------------------------------------------
# Blocks


@pytest.mark.parametrize(
    "stride, c_in, filters, shortcut, projected",
    [
        (1, 8, 8, "B", False),
        (2, 8, 8, "B", True),
        (1, 4, 8, "B", True),
        (1, 8, 8, "C", True),
        (2, 8, 16, "A", False),
        (1, 8, 8, None, False),
    ],
)
def test_basic_block(stride, c_in, filters, shortcut, projected):
    model = block_model(
        basic_block, (10, 10, c_in), filters, stride, shortcut=shortcut
    )
    size = -(-10 // stride)
    assert tuple(model.output.shape) == (None, size, size, filters)
    params = 9 * c_in * filters + 9 * filters * filters + 2 * BN * filters
    if projected:
        params += c_in * filters + BN * filters
    assert model.count_params() == params
    names = [layer.name for layer in model.layers]
    assert ("b_0_conv" in names) == projected
    assert ("b_add" in names) == (shortcut is not None)
    assert names[-1] == "b_out"


@pytest.mark.parametrize("stride_at", ["1x1", "3x3"])
def test_bottleneck_stride_placement(stride_at):
    model = block_model(
        bottleneck_block, (8, 8, 32), 16, 2, stride_at=stride_at
    )
    strides = {n: model.get_layer(f"b_{n}_conv").strides for n in (0, 1, 2, 3)}
    assert strides[0] == (2, 2) and strides[3] == (1, 1)
    assert strides[1] == ((2, 2) if stride_at == "1x1" else (1, 1))
    assert strides[2] == ((1, 1) if stride_at == "1x1" else (2, 2))
    first = (4 if stride_at == "1x1" else 8) ** 2 * 32 * 16
    assert macs(model) == first + 16 * (9 * 16 * 16 + 16 * 64 + 32 * 64)


def test_bottleneck_expansion_and_parameters():
    model = block_model(bottleneck_block, (7, 7, 256), 64, expansion=4)
    assert tuple(model.output.shape) == (None, 7, 7, 256)
    # The paper's example: 1x1 256->64, 3x3 64->64, 1x1 64->256 and BN.
    assert model.count_params() == (
        256 * 64 + 9 * 64 * 64 + 64 * 256 + BN * (64 + 64 + 256)
    )
    assert "b_0_conv" not in [layer.name for layer in model.layers]


def test_shortcut_a_is_strided_identity_with_zero_channels():
    inputs = keras.Input(shape=(6, 6, 3))
    model = keras.Model(
        inputs, shortcut_path(inputs, 5, 2, shortcut="A", prefix="s_")
    )
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype("float32")
    y = model.predict(x, verbose=0)
    np.testing.assert_array_equal(y[..., :3], x[:, ::2, ::2, :])
    np.testing.assert_array_equal(y[..., 3:], 0.0)
    assert model.count_params() == 0 and macs(model) == 0
    assert shortcut_path(inputs, 3, 1, shortcut="A", prefix="s_") is inputs
    assert shortcut_path(inputs, 3, 1, shortcut=None, prefix="s_") is None


def test_strided_projection_reads_a_quarter_of_the_pixels():
    """A 1x1 convolution with stride 2 never reads pixels with an odd index."""
    inputs = keras.Input(shape=(8, 8, 4))
    model = keras.Model(
        inputs, shortcut_path(inputs, 6, 2, shortcut="B", prefix="s_")
    )
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 8, 8, 4)).astype("float32")
    changed = x.copy()
    odd = np.ones((8, 8), bool)
    odd[::2, ::2] = False
    changed[:, odd, :] = rng.normal(size=changed[:, odd, :].shape)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), model.predict(changed, verbose=0)
    )
    assert odd.mean() == 0.75


def test_attention_sits_on_the_branch_before_the_addition():
    seen = []

    def silence(tensor, prefix):
        seen.append((prefix, tuple(tensor.shape)))
        return keras.layers.Lambda(lambda t: t * 0.0, name=f"{prefix}se")(
            tensor
        )

    model = block_model(basic_block, (5, 5, 4), 4, attention=silence)
    assert seen == [("b_", (None, 5, 5, 4))]
    names = [layer.name for layer in model.layers]
    assert names.index("b_2_bn") < names.index("b_se") < names.index("b_add")
    x = np.random.default_rng(2).normal(size=(1, 5, 5, 4)).astype("float32")
    # A silenced branch leaves relu(identity).
    np.testing.assert_allclose(model.predict(x, verbose=0), np.maximum(x, 0))


def test_attention_in_every_block_of_a_network():
    prefixes = []

    def record(tensor, prefix):
        prefixes.append(prefix)
        return tensor

    resnet(18, input_shape=(32, 32, 3), attention=record)
    assert prefixes == [
        f"conv{i}_block{j}_" for i in range(2, 6) for j in (1, 2)
    ]


# --------------------------------------------------------------------------
# The CIFAR-10 networks (section 4.2)


@pytest.mark.parametrize("n", sorted(PAPER_CIFAR_PARAMS))
def test_cifar_networks_reproduce_table6(n):
    model = resnet_small(n)
    total, trainable = cifar_formula(n)
    assert model.count_params() == total
    trained = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trained == trainable
    # Table 6 counts trained parameters, rounded to two significant digits.
    assert float(f"{trainable / 1e6:.2g}") == PAPER_CIFAR_PARAMS[n]
    assert model.name == f"resnet{6 * n + 2}_small"


def test_small_plain_counterpart():
    plain = resnet_small(
        2,
        input_shape=(16, 16, 3),
        classes=4,
        widths=(4, 8),
        shortcut=None,
        classifier_activation=None,
    )
    assert plain.name == "plain10_small"
    assert not any(
        isinstance(layer, keras.layers.Add) for layer in plain.layers
    )
    assert tuple(plain.get_layer("conv3_block1_out").output.shape) == (
        None,
        8,
        8,
        8,
    )
    out = plain.predict(np.zeros((1, 16, 16, 3), "float32"), verbose=0)
    assert out.shape == (1, 4)


# --------------------------------------------------------------------------
# Errors


def _input(shape=(8, 8, 4)):
    return keras.Input(shape=shape)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: basic_block(np.zeros((1, 8, 8, 4)), 4, prefix="p_"),
            "Keras tensor",
        ),
        (lambda: basic_block(_input(), 0, prefix="p_"), "filters"),
        (lambda: basic_block(_input(), 4, 3, prefix="p_"), "stride"),
        (lambda: basic_block(_input(), 4, True, prefix="p_"), "stride"),
        (
            lambda: basic_block(_input(), 4, shortcut="D", prefix="p_"),
            "shortcut",
        ),
        (
            lambda: basic_block(_input(), 4, shortcut="b", prefix="p_"),
            "shortcut",
        ),
        (
            lambda: basic_block(_input(), 4, attention="se", prefix="p_"),
            "attention",
        ),
        (
            lambda: basic_block(
                _input(), 4, attention=lambda t, p: t[..., :2], prefix="p_"
            ),
            "shape",
        ),
        (
            lambda: basic_block(_input(), 4, use_bias="yes", prefix="p_"),
            "use_bias",
        ),
        (lambda: basic_block(_input(), 4, prefix=3), "prefix"),
        (
            lambda: bottleneck_block(_input(), 4, expansion=0, prefix="p_"),
            "expansion",
        ),
        (
            lambda: bottleneck_block(
                _input(), 4, stride_at="2x2", prefix="p_"
            ),
            "stride_at",
        ),
        (
            lambda: shortcut_path(_input(), 2, shortcut="A", prefix="p_"),
            "shortcut='B'",
        ),
        (lambda: resnet(20), "depth"),
        (lambda: resnet(True), "depth"),
        (lambda: resnet([50]), "depth"),
        (lambda: resnet(18, input_shape=(16, 16, 3)), "at least 32x32"),
        (lambda: resnet(18, input_shape=(64, 64, 1)), "3 channels"),
        (lambda: resnet(18, classes=0), "classes"),
        (lambda: resnet(18, include_top="no"), "include_top"),
        (lambda: resnet(18, stride_at="3"), "stride_at"),
        (lambda: resnet(18, shortcut="none"), "shortcut"),
        (lambda: resnet(18, attention=1), "attention"),
        (lambda: resnet(18, use_bias=1), "use_bias"),
        (lambda: resnet(18, stages=((64, 0),)), "stages"),
        (lambda: resnet(18, stages=5), "stages"),
        (lambda: resnet(50, expansion=0), "expansion"),
        (lambda: resnet(18, name=""), "name"),
        (lambda: resnet_small(0), "blocks"),
        (lambda: resnet_small(3, widths=16), "widths"),
        (lambda: resnet_small(3, widths=(16, 0)), "widths"),
        (lambda: resnet_small(3, widths=()), "widths"),
        (lambda: resnet_small(3, input_shape=(2, 2, 3)), "at least"),
        (lambda: resnet_small(3, classes=-1), "classes"),
        (lambda: resnet_small(3, shortcut="D"), "shortcut"),
        (lambda: resnet_small(3, attention="se"), "attention"),
        (
            lambda: resnet_small(3, classifier_activation="relu"),
            "classifier_activation",
        ),
        (lambda: resnet_small(3, name=7), "name"),
        (lambda: stage_output_names(20), "depth"),
        (lambda: resnet_cost(19), "depth"),
        (lambda: resnet_cost(50, input_size=16), "input_size"),
        (lambda: resnet_cost(50, stages=((1, 2, 3),)), "stages"),
        (lambda: resnet_cost(50, expansion=1.5), "expansion"),
        (lambda: resnet_cost(50, classes=0), "classes"),
        (lambda: resnet_cost(50, shortcut="D"), "shortcut"),
        (lambda: resnet_cost(50, stride_at=1), "stride_at"),
        (lambda: resnet_cost(50, use_bias=None), "use_bias"),
        (lambda: stage_output_names([]), "blocks per stage"),
        (lambda: stage_output_names((3, 0)), "blocks per stage"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------
# What the blocks compute: the output against numpy on a tiny input


def np_conv(x, kernel, stride=1, groups=1):
    """'same' convolution as Keras pads it (the extra pixel at the bottom
    right), written out with loops over the kernel."""
    n, h, w, c_in = x.shape
    k, _, c_group, c_out = kernel.shape
    h_out, w_out = -(-h // stride), -(-w // stride)
    pad_h = max((h_out - 1) * stride + k - h, 0)
    pad_w = max((w_out - 1) * stride + k - w, 0)
    padded = np.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2),
                        (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    out = np.zeros((n, h_out, w_out, c_out))
    per_group = c_out // groups
    for g in range(groups):
        ins = slice(g * c_group, (g + 1) * c_group)
        outs = slice(g * per_group, (g + 1) * per_group)
        for i in range(k):
            for j in range(k):
                patch = padded[:, i:i + stride * h_out:stride,
                               j:j + stride * w_out:stride, ins]
                out[..., outs] += patch @ kernel[i, j, :, outs]
    return out


def np_bn(x, gamma, beta, mean, var, eps=1.001e-5):
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def relu(x):
    return np.maximum(x, 0)


def randomise(model, seed, small_variance=()):
    """Random kernels and batch-normalization statistics, so that no layer is
    an identity by accident; returns {layer name: weights}. The batch
    normalizations named in ``small_variance`` get variances of 0.001 to
    0.002, where their epsilon weighs."""
    rng = np.random.default_rng(seed)
    weights = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        new = [rng.normal(size=w.shape) for w in layer.get_weights()]
        if isinstance(layer, keras.layers.BatchNormalization):
            low, high = ((0.001, 0.002) if layer.name in small_variance
                         else (0.5, 2.0))
            new[3] = rng.uniform(low, high, size=new[3].shape)  # variance
        layer.set_weights(new)
        weights[layer.name] = new
    return weights


def conv_bn(x, w, name, stride=1, groups=1):
    return np_bn(np_conv(x, w[f"b_{name}_conv"][0], stride, groups),
                 *w[f"b_{name}_bn"])


@pytest.mark.parametrize("stride, c_in, shortcut", [
    (2, 3, "B"), (1, 4, "B"), (1, 4, "C"), (2, 3, "A"), (1, 4, None)])
def test_basic_block_computes_the_numpy_reference(stride, c_in, shortcut):
    model = block_model(basic_block, (5, 5, c_in), 4, stride,
                        shortcut=shortcut)
    w = randomise(model, 0)
    x = np.random.default_rng(1).normal(size=(2, 5, 5, c_in))
    y = relu(conv_bn(x, w, "1", stride))
    y = conv_bn(y, w, "2")
    if shortcut in ("B", "C") and (stride, c_in, shortcut) != (1, 4, "B"):
        y = y + conv_bn(x, w, "0", stride)
    elif shortcut == "A":
        sub = x[:, ::stride, ::stride, :]
        y = y + np.pad(sub, ((0, 0), (0, 0), (0, 0), (0, 4 - c_in)))
    elif shortcut == "B":
        y = y + x
    np.testing.assert_allclose(model.predict(x, verbose=0), relu(y),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stride_at, groups", [
    ("1x1", 1), ("3x3", 1), ("1x1", 2)])
def test_bottleneck_block_computes_the_numpy_reference(stride_at, groups):
    """1x1 reduce, BN, ReLU, 3x3 (grouped), BN, ReLU, 1x1 expand, BN, plus
    the projection, then ReLU; the stride where ``stride_at`` says."""
    model = block_model(bottleneck_block, (5, 5, 6), 4, 2,
                        stride_at=stride_at, groups=groups)
    w = randomise(model, 2)
    x = np.random.default_rng(3).normal(size=(2, 5, 5, 6))
    first, middle = (2, 1) if stride_at == "1x1" else (1, 2)
    y = relu(conv_bn(x, w, "1", first))
    y = relu(conv_bn(y, w, "2", middle, groups))
    y = conv_bn(y, w, "3") + conv_bn(x, w, "0", 2)
    np.testing.assert_allclose(model.predict(x, verbose=0), relu(y),
                               rtol=1e-4, atol=1e-4)
    assert tuple(model.output.shape) == (None, 3, 3, 16)


def test_zero_init_residual_makes_the_block_relu_of_its_shortcut():
    """Zero gamma in the branch's last BN: at initialisation the branch
    outputs zeros, so the block is ReLU(x) (x itself for x >= 0)."""
    x = np.abs(np.random.default_rng(4).normal(size=(2, 6, 6, 16)))
    for block, kwargs in ((bottleneck_block, {}), (basic_block, {})):
        filters = 4 if block is bottleneck_block else 16
        model = block_model(block, (6, 6, 16), filters,
                            zero_init_residual=True, **kwargs)
        last = "b_3_bn" if block is bottleneck_block else "b_2_bn"
        assert not model.get_layer(last).get_weights()[0].any()
        np.testing.assert_allclose(model.predict(x, verbose=0), x, atol=1e-6)
        np.testing.assert_allclose(model.predict(-x, verbose=0), 0.0)
    # Without it (the default) the same block changes its input.
    model = block_model(bottleneck_block, (6, 6, 16), 4)
    assert not np.allclose(model.predict(x, verbose=0), x, atol=1e-3)
    assert model.get_layer("b_3_bn").get_weights()[0].all()


# --------------------------------------------------------------------------
# Defaults the papers fix


def test_block_defaults_are_the_papers():
    model = block_model(bottleneck_block, (8, 8, 16), 4, 2)
    layers = {layer.name: layer for layer in model.layers}
    # Expansion 4, stride in the first 1x1, option B projection, no biases,
    # an ungrouped 3x3 and batch normalization with Keras's epsilon.
    assert tuple(model.output.shape) == (None, 4, 4, 16)
    assert layers["b_1_conv"].strides == (2, 2)
    assert layers["b_2_conv"].strides == (1, 1)
    assert layers["b_0_conv"].kernel_size == (1, 1)
    assert not any(getattr(layer, "use_bias", False)
                   for layer in model.layers
                   if isinstance(layer, keras.layers.Conv2D))
    assert layers["b_2_conv"].groups == 1
    assert all(layer.epsilon == 1.001e-5 for layer in model.layers
               if isinstance(layer, keras.layers.BatchNormalization))
    basic = block_model(basic_block, (8, 8, 16), 8, 2)
    assert "b_0_conv" in [layer.name for layer in basic.layers]  # option B


def test_network_defaults_are_the_papers():
    model = resnet()  # ResNet-50, 224x224x3, 1000 classes, Table 1
    assert model.name == "resnet50"
    assert tuple(model.input.shape) == (None, 224, 224, 3)
    assert tuple(model.output.shape) == (None, 1000)
    assert model.get_layer("conv1_conv").kernel_size == (7, 7)
    assert model.get_layer("conv1_conv").strides == (2, 2)
    outputs = [model.get_layer(name).output.shape[-1]
               for name in stage_output_names(50)]
    assert outputs == list(PAPER_BOTTLENECK_OUTPUTS)
    widths = [model.get_layer(f"conv{i}_block1_2_conv").filters
              for i in range(2, 6)]
    assert widths == list(PAPER_WIDTHS)
    counts = [sum(1 for layer in model.layers
                  if layer.name.startswith(f"conv{i}_")
                  and layer.name.endswith("_out")) for i in range(2, 6)]
    assert tuple(counts) == PAPER_BLOCKS[50][1]
    # The paper's tables, as the package holds them.
    assert RESNET_STAGES == PAPER_BLOCKS
    assert STAGE_WIDTHS == PAPER_WIDTHS


def test_resnet_small_defaults_are_resnet20():
    """Section 4.2: n = 3, 16/32/64 filters, option A, 0.27M parameters."""
    model = resnet_small()
    assert model.name == "resnet20_small"
    assert tuple(model.input.shape) == (None, 32, 32, 3)
    assert tuple(model.output.shape) == (None, 10)
    names = [layer.name for layer in model.layers]
    assert not any(n.endswith("_0_conv") for n in names)  # option A
    assert sum(n.endswith("_add") for n in names) == 9
    trained = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert round(trained / 1e6, 2) == 0.27
    assert model.get_layer("predictions").activation.__name__ == "softmax"


# --------------------------------------------------------------------------
# ResNeXt: the grouped 3x3, counted by conv1x1.cost and by resnet_cost


def test_resnext_block_cost():
    """ResNeXt-50's conv2 block (32 groups of width 4): 1x1 256->128, grouped
    3x3 128->128, 1x1 128->256; about a ResNet bottleneck's weights."""
    model = block_model(bottleneck_block, (56, 56, 256), 128, groups=32,
                        expansion=2)
    weights = [r.weights for r in cost.layer_costs(model) if r.weights]
    assert weights == [256 * 128, 9 * 4 * 128, 128 * 256]
    assert macs(model) == 56 * 56 * sum(weights)
    resnet_block = 256 * 64 + 9 * 64 * 64 + 64 * 256
    assert abs(sum(weights) / resnet_block - 1) < 0.01
    assert model.get_layer("b_2_conv").groups == 32


def test_resnet_cost_counts_grouped_convolutions_as_built():
    kwargs = {"depth": 50, "stages": ((16, 2), (32, 1)), "expansion": 2,
              "groups": 4}
    model = resnet(input_shape=(64, 64, 3), **kwargs)
    counted = resnet_cost(input_size=64, **kwargs)
    assert counted.params == model.count_params()
    assert counted.macs == macs(model)
    ungrouped = resnet_cost(input_size=64, **{**kwargs, "groups": 1})
    # Each 3x3 keeps a quarter of its weights: 9 * w * w * (1 - 1/4) fewer.
    saved = sum(9 * w * w * 3 // 4 * n for w, n in kwargs["stages"])
    assert ungrouped.params - counted.params == saved


def test_resnet_cost_of_a_very_deep_stage_is_immediate():
    """A stage's blocks after the first are alike: any depth counts at once."""
    def params(n):
        return resnet_cost(50, stages=((64, n),)).params

    per_block = params(3) - params(2)
    assert per_block == 256 * 64 + 9 * 64 * 64 + 64 * 256 + 4 * (64 + 64 + 256)
    assert params(10**9) - params(3) == (10**9 - 3) * per_block


# --------------------------------------------------------------------------
# More bad arguments: huge values, bottleneck options where there is no
# bottleneck, attention of the wrong arity


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: basic_block(_input(), 10**7, prefix="p_"), "at most"),
        (lambda: bottleneck_block(_input(), 64, expansion=10**4, prefix="p_"),
         "expansion"),
        (lambda: bottleneck_block(_input(), 6, groups=4, prefix="p_"),
         "groups to divide"),
        (lambda: bottleneck_block(_input(), 6, groups=0, prefix="p_"),
         "groups"),
        (lambda: bottleneck_block(_input(), 6, groups=2.0, prefix="p_"),
         "groups"),
        (lambda: bottleneck_block(_input(), 4, zero_init_residual="yes",
                                  prefix="p_"), "zero_init_residual"),
        (lambda: basic_block(_input(), 4, attention=lambda t: t, prefix="p_"),
         "two arguments"),
        (lambda: resnet(18, expansion=2), "expansion=4"),
        (lambda: resnet(34, stride_at="3x3"), "stride_at='1x1'"),
        (lambda: resnet(18, groups=32), "groups=1"),
        (lambda: resnet_cost(18, expansion=2), "expansion=4"),
        (lambda: resnet_cost(34, groups=2), "groups=1"),
        (lambda: resnet_cost(50, groups=3), "groups to divide"),
        (lambda: resnet(18, classes=10**7), "classes"),
        (lambda: resnet(18, stages=((10**7, 1),)), "stages"),
        (lambda: resnet(18, stages=((64, 10**6),)), "stages"),
        (lambda: resnet_small(10**6), "blocks"),
        (lambda: resnet_small(3, widths=(16, 10**7)), "widths"),
        (lambda: resnet_cost(50, classes=float("nan")), "classes"),
        (lambda: resnet_cost(50, stages=((float("nan"), 1),)), "stages"),
    ],
)
def test_more_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------
# Messages in full, from their start: the argument's name, the bound, the
# value received and the hint, for every check of the builders

FILTERS_BOUND = 65_536  # the package's MAX_FILTERS, written out
BLOCKS_BOUND = 1_000  # MAX_BLOCKS
WHOLE = {
    "x": "Expected x to be a Keras tensor of shape (batch, height, width, "
         "channels) with a known channel count; received ndarray of shape "
         "(1, 8, 8, 4). Start from keras.Input(shape=(height, width, "
         "channels)).",
    "filters 0": "Expected filters to be an integer >= 1; received 0. Pass "
                 "the filters of the 3x3 convolution.",
    "output filters 0": "Expected filters to be an integer >= 1; received 0. "
                        "Pass the block's output channels.",
    "filters max": "Expected filters to be at most 65,536; received 65,537, "
                   "whose kernels would not fit in memory. ResNet's widest "
                   "layer has 2,048 filters.",
    "stride": "Expected stride to be the integer 1 or 2; received 3.",
    "shortcut": "Expected shortcut to be one of 'A', 'B', 'C', None; "
                "received 'b'.",
    "use_bias": "Expected use_bias to be True or False; received 'yes'.",
    "zero": "Expected zero_init_residual to be True or False; received 'yes'.",
    "prefix": "Expected prefix to be a string that starts every layer name, "
              "e.g. 'block1_'; received None.",
    "attention": "Expected attention to be None or a function attention("
                 "tensor, prefix) -> tensor; received str.",
    "narrow A": "Expected filters >= the input's 4 channels for shortcut 'A', "
                "which can only add zero channels; received filters=3. Use "
                "shortcut='B' to project to fewer channels.",
    "shape": "Expected attention(tensor, prefix) to return a Keras tensor of "
             "the branch's shape (None, 8, 8, 4); received KerasTensor of "
             "shape (None, 8, 8, 2). An attention reweights the channels; it "
             "must not change the shape.",
    "not a tensor": "Expected attention(tensor, prefix) to return a Keras "
                    "tensor of the branch's shape (None, 8, 8, 4); received "
                    "NoneType of shape (). An attention reweights the "
                    "channels; it must not change the shape.",
    "expansion": "Expected expansion to be an integer >= 1; received 0. The "
                 "paper uses 4.",
    "expansion max": "Expected expansion * filters to be at most 65,536; "
                     "received expansion=5 with 16,384 filters. The paper "
                     "uses 4.",
    "stride_at": "Expected stride_at to be one of '1x1', '3x3'; received "
                 "'2x2'.",
    "groups": "Expected groups to be an integer >= 1; received 0. Use 1 for "
              "ResNet, 32 for ResNeXt-50.",
    "groups 6": "Expected groups to divide the 3x3 convolution's 6 filters; "
                "received groups=4. Choose a divisor of 6, e.g. 2.",
    "groups 64": "Expected groups to divide the 3x3 convolution's 64 "
                 "filters; received groups=6. Choose a divisor of 64, e.g. "
                 "2.",
    "depth": "Expected depth to be one of 18, 34, 50, 101, 152 (the columns "
             "of the paper's Table 1); received 20. For another number of "
             "blocks per stage pass stages=((width, blocks), ...).",
    "stages": "Expected stages to be a sequence of (width, blocks) rows; "
              "received 5.",
    "no stages": "Expected stages to have at least one (width, blocks) row; "
                 "received none.",
    "stage row": "Expected every row of stages to be (width, blocks) with "
                 "positive integers; row 0 is (64, 0).",
    "stage width": "Expected every row of stages to have a width of at most "
                   "65,536 and at most 1,000 blocks; row 1 is (65537, 1). "
                   "Check the row for a typo.",
    "stage blocks": "Expected every row of stages to have a width of at most "
                    "65,536 and at most 1,000 blocks; row 0 is (64, 1001). "
                    "Check the row for a typo.",
    "cost width": "Expected every row of stages to have a width of at most "
                  "65,536; row 0 is (65537, 1). Check the row for a typo.",
    "size 32": "Expected input_shape at least 32x32 (the network's total "
               "stride); received 31x32. Use a larger input.",
    "size 8": "Expected input_shape at least 8x8 (the network's total "
              "stride); received 8x7. Use a larger input.",
    "size 4": "Expected input_shape at least 4x4 (the network's total "
              "stride); received 4x3. Use a larger input.",
    "channels": "Expected input_shape with 3 channels; received 1 in "
                "(8, 8, 1).",
    "classes": "Expected classes to be a positive integer; received 0.",
    "classes max": "Expected classes to be at most 65,536; received 65,537. "
                   "ImageNet has 1,000.",
    "include_top": "Expected include_top to be True or False; received 'no'.",
    "basic groups": "Expected groups=1 for ResNet-18, whose basic blocks "
                    "have no 1x1 convolutions; received groups=3. Use depth "
                    "50, 101 or 152 for bottleneck blocks.",
    "basic expansion": "Expected expansion=4 for ResNet-34, whose basic "
                       "blocks have no 1x1 convolutions; received "
                       "expansion=2. Use depth 50, 101 or 152 for bottleneck "
                       "blocks.",
    "basic stride_at": "Expected stride_at='1x1' for ResNet-18, whose basic "
                       "blocks have no 1x1 convolutions; received "
                       "stride_at='3x3'. Use depth 50, 101 or 152 for "
                       "bottleneck blocks.",
    "name": "Expected name to be a non-empty string or None; received ''.",
    "blocks": "Expected blocks to be an integer >= 1; received 0. The paper "
              "uses n = 3, 5, 7, 9 or 18.",
    "blocks max": "Expected blocks to be at most 1,000; received 1,001. The "
                  "paper's deepest CIFAR-10 network has n = 200.",
    "activation": "Expected classifier_activation to be one of 'softmax', "
                  "None; received 'relu'.",
    "input_size": "Expected input_size to be an integer >= 32; received 31. "
                  "The network's total stride must fit.",
    "input_size 8": "Expected input_size to be an integer >= 8; received 7. "
                    "The network's total stride must fit.",
    "no blocks": "Expected depth (blocks per stage) to have at least one "
                 "(blocks) row; received none.",
    "blocks row": "Expected every row of depth (blocks per stage) to be "
                  "(blocks) with positive integers; row 1 is (0,).",
}


def widths_message(widths):
    return ("Expected widths to be a non-empty sequence of positive filters "
            "per stage (at most 65,536), e.g. (16, 32, 64); received "
            f"{widths!r}.")


def _none(tensor, prefix):
    return None


@pytest.mark.parametrize("call, key", [
    (lambda: shortcut_path(np.zeros((1, 8, 8, 4)), 4, prefix="p_"), "x"),
    (lambda: shortcut_path(_input(), 0, prefix="p_"), "output filters 0"),
    (lambda: shortcut_path(_input(), 65_537, prefix="p_"), "filters max"),
    (lambda: shortcut_path(_input(), 4, 3, prefix="p_"), "stride"),
    (lambda: shortcut_path(_input(), 4, shortcut="b", prefix="p_"),
     "shortcut"),
    (lambda: shortcut_path(_input(), 4, use_bias="yes", prefix="p_"),
     "use_bias"),
    (lambda: shortcut_path(_input(), 4, prefix=None), "prefix"),
    (lambda: shortcut_path(_input(), 3, 2, shortcut="A", prefix="p_"),
     "narrow A"),
    (lambda: basic_block(np.zeros((1, 8, 8, 4)), 4, prefix="p_"), "x"),
    (lambda: basic_block(_input(), 0, prefix="p_"), "filters 0"),
    (lambda: basic_block(_input(), 65_537, prefix="p_"), "filters max"),
    (lambda: basic_block(_input(), 4, 3, prefix="p_"), "stride"),
    (lambda: basic_block(_input(), 4, shortcut="b", prefix="p_"), "shortcut"),
    (lambda: basic_block(_input(), 4, attention="se", prefix="p_"),
     "attention"),
    (lambda: basic_block(_input(), 4, use_bias="yes", prefix="p_"),
     "use_bias"),
    (lambda: basic_block(_input(), 4, zero_init_residual="yes", prefix="p_"),
     "zero"),
    (lambda: basic_block(_input(), 4, prefix=None), "prefix"),
    (lambda: basic_block(_input(), 4, attention=lambda t, p: t[..., :2],
                         prefix="p_"), "shape"),
    (lambda: basic_block(_input(), 4, attention=_none, prefix="p_"),
     "not a tensor"),
    (lambda: bottleneck_block(_input(), 1, expansion=4, attention=_none,
                              prefix="p_"), "not a tensor"),
    (lambda: bottleneck_block(_input(), 4, attention="se", prefix="p_"),
     "attention"),
    (lambda: bottleneck_block(_input(), 4, use_bias="yes", prefix="p_"),
     "use_bias"),
    (lambda: bottleneck_block(_input(), 4, zero_init_residual="yes",
                              prefix="p_"), "zero"),
    (lambda: bottleneck_block(_input(), 4, expansion=0, prefix="p_"),
     "expansion"),
    (lambda: bottleneck_block(_input(), 16_384, expansion=5, prefix="p_"),
     "expansion max"),
    (lambda: bottleneck_block(_input(), 4, stride_at="2x2", prefix="p_"),
     "stride_at"),
    (lambda: bottleneck_block(_input(), 6, groups=0, prefix="p_"), "groups"),
    (lambda: bottleneck_block(_input(), 6, groups=4, prefix="p_"),
     "groups 6"),
    (lambda: resnet(20), "depth"),
    (lambda: resnet(18, stages=5), "stages"),
    (lambda: resnet(18, stages=()), "no stages"),
    (lambda: resnet(18, stages=((64, 0),)), "stage row"),
    (lambda: resnet(18, stages=((64, 2), (65_537, 1))), "stage width"),
    (lambda: resnet(18, stages=((64, 1_001),)), "stage blocks"),
    (lambda: resnet(18, input_shape=(31, 32, 3)), "size 32"),
    (lambda: resnet(18, input_shape=(8, 7, 3), stages=((8, 1), (8, 1))),
     "size 8"),
    (lambda: resnet(18, input_shape=(8, 8, 1)), "channels"),
    (lambda: resnet(18, classes=0), "classes"),
    (lambda: resnet(18, classes=65_537), "classes max"),
    (lambda: resnet(18, include_top="no"), "include_top"),
    (lambda: resnet(50, stride_at="2x2"), "stride_at"),
    (lambda: resnet(18, shortcut="b"), "shortcut"),
    (lambda: resnet(18, attention="se"), "attention"),
    (lambda: resnet(18, use_bias="yes"), "use_bias"),
    (lambda: resnet(50, expansion=0), "expansion"),
    (lambda: resnet(50, stages=((16_384, 1),), expansion=5), "expansion max"),
    (lambda: resnet(50, groups=0), "groups"),
    (lambda: resnet(50, groups=6), "groups 64"),
    (lambda: resnet(18, groups=3), "basic groups"),
    (lambda: resnet(34, expansion=2), "basic expansion"),
    (lambda: resnet(18, stride_at="3x3"), "basic stride_at"),
    (lambda: resnet(18, name=""), "name"),
    (lambda: resnet_small(0), "blocks"),
    (lambda: resnet_small(1_001), "blocks max"),
    (lambda: resnet_small(1, input_shape=(4, 3, 3)), "size 4"),
    (lambda: resnet_small(1, input_shape=(8, 8, 1)), "channels"),
    (lambda: resnet_small(1, classes=0), "classes"),
    (lambda: resnet_small(1, classes=65_537), "classes max"),
    (lambda: resnet_small(1, shortcut="b"), "shortcut"),
    (lambda: resnet_small(1, attention="se"), "attention"),
    (lambda: resnet_small(1, classifier_activation="relu"), "activation"),
    (lambda: resnet_small(1, name=""), "name"),
    (lambda: stage_output_names(20), "depth"),
    (lambda: stage_output_names([]), "no blocks"),
    (lambda: stage_output_names((3, 0)), "blocks row"),
    (lambda: stage_output_names([(3,), (0,)]), "blocks row"),
    (lambda: resnet_cost(20), "depth"),
    (lambda: resnet_cost(50, stages=5), "stages"),
    (lambda: resnet_cost(50, stages=((64, 0),)), "stage row"),
    (lambda: resnet_cost(50, stages=((65_537, 1),)), "cost width"),
    (lambda: resnet_cost(50, input_size=31), "input_size"),
    (lambda: resnet_cost(50, input_size=7, stages=((8, 1), (8, 1))),
     "input_size 8"),
    (lambda: resnet_cost(50, classes=0), "classes"),
    (lambda: resnet_cost(50, classes=65_537), "classes max"),
    (lambda: resnet_cost(50, shortcut="b"), "shortcut"),
    (lambda: resnet_cost(50, stride_at="2x2"), "stride_at"),
    (lambda: resnet_cost(50, use_bias="yes"), "use_bias"),
    (lambda: resnet_cost(50, expansion=0), "expansion"),
    (lambda: resnet_cost(50, stages=((16_384, 1),), expansion=5),
     "expansion max"),
    (lambda: resnet_cost(50, groups=0), "groups"),
    (lambda: resnet_cost(50, groups=6), "groups 64"),
    (lambda: resnet_cost(18, groups=3), "basic groups"),
    (lambda: resnet_cost(34, expansion=2), "basic expansion"),
    (lambda: resnet_cost(18, stride_at="3x3"), "basic stride_at"),
])
def test_messages_in_full(call, key):
    with pytest.raises(ValueError, match="^" + re.escape(WHOLE[key]) + "$"):
        call()


@pytest.mark.parametrize("widths", [(16, 0), (16, 65_537), (), 16, [16, True],
                                    (16, 2.0)])
def test_widths_message_in_full(widths):
    with pytest.raises(ValueError,
                       match="^" + re.escape(widths_message(widths)) + "$"):
        resnet_small(1, widths=widths)


@pytest.mark.parametrize("block", [basic_block, bottleneck_block])
def test_attention_of_one_argument_is_told_to_take_the_prefix(block):
    with pytest.raises(ValueError, match=(
            r"^Expected attention to be a function attention\(tensor, "
            r"prefix\) -> tensor of two arguments; calling it raised "
            r"TypeError: .*1 positional argument.*\. Give it a second "
            r"argument, the block's layer-name prefix\.$")):
        block(_input(), 4, attention=lambda t: t, prefix="p_")


# --------------------------------------------------------------------------
# Boundaries: the limit accepted, one past it refused (above, in full).
# Where a network at the limit would not fit in memory, the check that
# follows refuses instead, which shows that the limit passed its own check.


@pytest.mark.parametrize("call, key", [
    # 65,536 filters: the stride is checked next.
    (lambda: shortcut_path(_input(), 65_536, 3, prefix="p_"), "stride"),
    (lambda: basic_block(_input(), 65_536, 3, prefix="p_"), "stride"),
    # expansion * filters = 4 * 16,384 = 65,536: stride_at (groups) next.
    (lambda: bottleneck_block(_input(), 16_384, stride_at="2x2",
                              prefix="p_"), "stride_at"),
    (lambda: resnet(50, stages=((16_384, 1),), groups=0), "groups"),
    # A row of 65,536 filters and 1,000 blocks: the input shape is next
    # (one stage: at least 4x4).
    (lambda: resnet(18, stages=((65_536, 1_000),), input_shape=(4, 3, 3)),
     "size 4"),
    # 65,536 classes: include_top is next.
    (lambda: resnet(18, classes=65_536, include_top="no"), "include_top"),
    # 1,000 blocks of 65,536 filters: the input shape is next.
    (lambda: resnet_small(1_000, widths=(65_536,), input_shape=(8, 8, 1)),
     "channels"),
])
def test_limits_pass_their_own_check(call, key):
    with pytest.raises(ValueError, match="^" + re.escape(WHOLE[key]) + "$"):
        call()


def test_limits_are_the_documented_ones():
    assert (MAX_FILTERS, MAX_BLOCKS) == (FILTERS_BOUND, BLOCKS_BOUND)


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")
def test_smallest_networks_are_built():
    """One filter, one block, one class, and the smallest input: the total
    stride (2 ** (stages + 1) for resnet, 2 ** (stages - 1) for
    resnet_small)."""
    small = resnet_small(1, input_shape=(4, 4, 3), classes=1,
                         widths=(1, 1, 1))
    assert tuple(small.output.shape) == (None, 1)
    assert tuple(small.get_layer("conv4_block1_out").output.shape) == (
        None, 1, 1, 1)
    one = resnet_small(1, input_shape=(1, 1, 3), classes=2, widths=(1,))
    assert tuple(one.output.shape) == (None, 2)
    net = resnet(18, input_shape=(32, 32, 3), classes=1, stages=((1, 1),) * 4)
    assert tuple(net.get_layer("conv5_block1_out").output.shape) == (
        None, 1, 1, 1)
    two = resnet(50, input_shape=(8, 8, 3), stages=((1, 1), (1, 1)),
                 expansion=1, groups=1)
    assert tuple(two.get_layer("conv3_block1_out").output.shape) == (
        None, 1, 1, 1)
    most = resnet(18, classes=65_536, input_shape=(4, 4, 3),
                  stages=((1, 1),))
    assert tuple(most.output.shape) == (None, 65_536)
    widest = resnet_small(1, input_shape=(1, 1, 3), classes=65_536,
                          widths=(1,))
    assert widest.get_layer("predictions").count_params() == 2 * 65_536


def test_groups_from_one_to_the_width():
    for groups in (1, 4):
        model = block_model(bottleneck_block, (4, 4, 8), 4, groups=groups)
        assert model.get_layer("b_2_conv").groups == groups
        # The grouped 3x3 keeps 1/groups of its 9 * 4 * 4 weights.
        conv = model.get_layer("b_2_conv")
        assert conv.count_params() == 9 * 4 * 4 // groups


def test_resnet_cost_limits():
    # The smallest input is the total stride: 32 for four stages, 8 for two;
    # at 32x32 the stages work on 8, 8, 4, 2, 1 pixels.
    assert (resnet_cost(50, input_size=32).params,
            resnet_cost(50, input_size=32).macs) == resnet_formula(50, size=32)
    two = resnet_cost(50, input_size=8, stages=((8, 1), (8, 1)))
    # 8x8 -> conv1 4x4 -> pool 2x2 -> conv3 1x1
    assert two.stage_macs[1] == (1 * 32 * 8 + 9 * 8 * 8 + 8 * 32 + 32 * 32)
    # 65,536 classes: each extra class adds 2,048 weights and a bias.
    most = resnet_cost(50, classes=65_536)
    assert most.params - resnet_cost(50, classes=1).params == 65_535 * 2_049
    # A row of 65,536 filters (expansion 1) and no limit on the blocks.
    wide = resnet_cost(50, stages=((65_536, 10**6),), expansion=1)
    assert wide.layers == 2 + 3 * 10**6


def test_resnet_cost_counts_are_exact_integers():
    """Grouped 3x3 weights are whole numbers (groups divide the width), and a
    stage of 10**9 blocks stays exact, far past float's 2**53."""
    deep = resnet_cost(50, stages=((64, 10**9),), groups=32)
    shallow = resnet_cost(50, stages=((64, 3),), groups=32)
    per_block = 256 * 64 + 9 * (64 // 32) * 64 + 64 * 256
    assert all(type(n) is int for n in (deep.params, deep.macs,
                                        *deep.stage_params, *deep.stage_macs))
    assert deep.macs - shallow.macs == (10**9 - 3) * 56 * 56 * per_block
    assert deep.params - shallow.params == (10**9 - 3) * (
        per_block + 4 * (64 + 64 + 256))
    assert deep.macs > 2**53


# --------------------------------------------------------------------------
# Defaults by their effect


def test_shortcut_path_defaults_to_b_stride_1_and_no_bias():
    inputs = _input((6, 6, 4))
    # Option B, stride 1: the same shape is the input itself ...
    assert shortcut_path(inputs, 4, prefix="s_") is inputs
    # ... and a change of shape (channels or stride) a 1x1 projection
    # without bias, followed by batch normalization and no ReLU.
    for filters, stride in ((6, 1), (4, 2)):
        model = keras.Model(inputs, shortcut_path(inputs, filters, stride,
                                                  prefix="s_"))
        assert [layer.name for layer in model.layers[1:]] == ["s_0_conv",
                                                              "s_0_bn"]
        conv = model.get_layer("s_0_conv")
        assert conv.kernel_size == (1, 1) and conv.strides == (stride, stride)
        assert not conv.use_bias
        assert tuple(model.output.shape) == (None, 6 // stride,
                                             6 // stride, filters)


def test_basic_block_defaults_to_b():
    """Without the argument: an identity shortcut where the shape is kept, a
    projection where it changes."""
    same = block_model(basic_block, (5, 5, 4), 4)
    assert "b_0_conv" not in [layer.name for layer in same.layers]
    w = randomise(same, 5)
    x = np.random.default_rng(6).normal(size=(2, 5, 5, 4))
    y = conv_bn(relu(conv_bn(x, w, "1")), w, "2") + x
    np.testing.assert_allclose(same.predict(x, verbose=0), relu(y),
                               rtol=1e-4, atol=1e-4)
    wider = block_model(basic_block, (5, 5, 4), 6)
    assert wider.get_layer("b_0_conv").kernel_size == (1, 1)


def test_stage_output_names_default_and_row_forms():
    assert stage_output_names() == ("conv2_block3_out", "conv3_block4_out",
                                    "conv4_block6_out", "conv5_block3_out")
    # Blocks per stage, as numbers or as one-number rows.
    for depth in ([3, 1], ((3,), (1,)), [[3], [1]]):
        assert stage_output_names(depth) == ("conv2_block3_out",
                                             "conv3_block1_out")
    assert stage_output_names((1,)) == ("conv2_block1_out",)


def test_resnet_cost_defaults_are_resnet50_at_224():
    counted = resnet_cost()
    assert (counted.params, counted.macs) == resnet_formula(50)
    assert counted.layers == 50


def test_names_passed_to_the_builders_are_used():
    assert resnet_small(1, input_shape=(4, 4, 3), widths=(2,),
                        name="tiny").name == "tiny"
    assert resnet(18, input_shape=(4, 4, 3), stages=((2, 1),),
                  name="tiny").name == "tiny"


def test_resnet_small_attention_in_every_block():
    prefixes = []

    def record(tensor, prefix):
        prefixes.append((prefix, tensor.shape[-1]))
        return tensor

    resnet_small(2, input_shape=(4, 4, 3), widths=(2, 3), attention=record)
    assert prefixes == [("conv2_block1_", 2), ("conv2_block2_", 2),
                        ("conv3_block1_", 3), ("conv3_block2_", 3)]


# --------------------------------------------------------------------------
# What the networks compute, layer by layer, on tiny inputs


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def named_conv_bn(x, w, name, stride=1):
    return np_bn(np_conv(x, w[f"{name}_conv"][0], stride),
                 *w[f"{name}_bn"])


def np_basic_block(x, w, prefix, stride, filters):
    """Option A: identity, or strided identity plus zero channels."""
    y = relu(named_conv_bn(x, w, f"{prefix}1", stride))
    y = named_conv_bn(y, w, f"{prefix}2")
    skip = x[:, ::stride, ::stride, :]
    skip = np.pad(skip, ((0, 0),) * 3 + ((0, filters - x.shape[-1]),))
    return relu(y + skip)


@pytest.mark.parametrize("activation", ["softmax", None])
def test_resnet_small_computes_the_numpy_reference(activation):
    """3x3 conv, BN (Keras's epsilon), ReLU; basic blocks with option A;
    global average pooling; a dense layer with softmax or logits."""
    model = resnet_small(1, input_shape=(5, 5, 3), classes=3, widths=(2, 3),
                         classifier_activation=activation)
    names = [layer.name for layer in model.layers]
    assert names[:4] == ["input_layer", "conv1_conv", "conv1_bn",
                         "conv1_relu"]
    assert names[-2:] == ["avg_pool", "predictions"]
    w = randomise(model, 7, small_variance=("conv1_bn",))
    x = np.random.default_rng(8).normal(size=(2, 5, 5, 3))
    y = relu(named_conv_bn(x, w, "conv1"))
    y = np_basic_block(y, w, "conv2_block1_", 1, 2)
    y = np_basic_block(y, w, "conv3_block1_", 2, 3)
    kernel, bias = w["predictions"]
    z = y.mean(axis=(1, 2)) @ kernel + bias
    expected = softmax(z) if activation else z
    np.testing.assert_allclose(model.predict(x, verbose=0), expected,
                               rtol=1e-4, atol=1e-5)


def test_builders_name_their_own_layers():
    """The names are the builders', not Keras's counters: a second network,
    built after other unnamed layers, has the same ones."""
    keras.Input(shape=(2,))
    first = resnet_small(1, input_shape=(4, 4, 3), widths=(2,))
    second = resnet_small(1, input_shape=(4, 4, 3), widths=(2,))
    expected = ["input_layer", "conv1_conv", "conv1_bn", "conv1_relu",
                "conv2_block1_1_conv", "conv2_block1_1_bn",
                "conv2_block1_1_relu", "conv2_block1_2_conv",
                "conv2_block1_2_bn", "conv2_block1_add", "conv2_block1_out",
                "avg_pool", "predictions"]
    for model in (first, second):
        assert [layer.name for layer in model.layers] == expected
    net = resnet(18, input_shape=(4, 4, 3), stages=((2, 1),))
    assert [layer.name for layer in net.layers[:7]] == [
        "input_layer", "conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu",
        "pool1_pad", "pool1_pool"]


def test_resnet_stem_and_head_compute_the_tf_reference():
    """Pad 3, 7x7 conv with stride 2, BN (Keras's epsilon), ReLU, pad 1, 3x3
    max pooling with stride 2; then global average pooling and softmax."""
    model = resnet(18, input_shape=(11, 9, 3), classes=3, stages=((2, 1),))
    w = randomise(model, 9, small_variance=("conv1_bn",))
    x = np.random.default_rng(10).normal(size=(2, 11, 9, 3))
    probe = keras.Model(model.input, [model.get_layer("pool1_pool").output,
                                      model.get_layer("conv2_block1_out")
                                      .output, model.output])
    pool, block, out = probe.predict(x, verbose=0)
    padded = np.pad(x, ((0, 0), (3, 3), (3, 3), (0, 0)))
    y = tf.nn.conv2d(padded, w["conv1_conv"][0], 2, "VALID").numpy()
    y = relu(np_bn(y, *w["conv1_bn"]))
    # Zero padding before the pooling: the ReLU's outputs are >= 0.
    y = np.pad(y, ((0, 0), (1, 1), (1, 1), (0, 0)))
    y = tf.nn.max_pool2d(y, 3, 2, "VALID").numpy()
    # 11x9 -> (11 + 6 - 7) // 2 + 1 = 6 by 5 -> (6 + 2 - 3) // 2 + 1 = 3 by 3
    assert y.shape == (2, 3, 3, 64)
    np.testing.assert_allclose(pool, y, rtol=1e-4, atol=1e-4)
    kernel, bias = w["predictions"]
    np.testing.assert_allclose(
        out, softmax(block.astype(float).mean(axis=(1, 2)) @ kernel + bias),
        rtol=1e-4, atol=1e-6)


def test_shortcut_projection_computes_the_numpy_reference():
    """Option B with use_bias: a strided 1x1 convolution with bias and batch
    normalization, and no ReLU (the output keeps its negative values)."""
    inputs = _input((5, 7, 3))
    model = keras.Model(inputs, shortcut_path(inputs, 4, 2, use_bias=True,
                                              prefix="s_"))
    w = randomise(model, 11)
    x = np.random.default_rng(12).normal(size=(2, 5, 7, 3))
    kernel, bias = w["s_0_conv"]
    y = np_bn(x[:, ::2, ::2, :] @ kernel[0, 0] + bias, *w["s_0_bn"])
    got = model.predict(x, verbose=0)
    assert got.shape == (2, 3, 4, 4) and (got < 0).any()
    np.testing.assert_allclose(got, y, rtol=1e-4, atol=1e-4)


def test_shortcut_a_on_odd_and_unknown_sizes():
    inputs = _input((5, 7, 2))
    model = keras.Model(inputs, shortcut_path(inputs, 3, 2, shortcut="A",
                                              prefix="s_"))
    assert tuple(model.output.shape) == (None, 3, 4, 3)
    x = np.random.default_rng(13).normal(size=(1, 5, 7, 2)).astype("float32")
    y = model.predict(x, verbose=0)
    np.testing.assert_array_equal(y[..., :2], x[:, ::2, ::2, :])
    np.testing.assert_array_equal(y[..., 2], 0.0)
    # Same channels, stride 2: a strided identity with no zero channels.
    same = shortcut_path(inputs, 2, 2, shortcut="A", prefix="t_")
    assert tuple(same.shape) == (None, 3, 4, 2)
    free = _input((None, None, 2))
    assert tuple(shortcut_path(free, 5, 2, shortcut="A", prefix="u_").shape
                 ) == (None, None, None, 5)

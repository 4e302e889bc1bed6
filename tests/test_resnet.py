"""ResNet: blocks, shortcuts, networks against closed forms, Keras, paper."""

import math

import keras
import numpy as np
import pytest

from conv1x1 import cost
from conv1x1.resnet import (
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


def randomise(model, seed):
    """Random kernels and batch-normalization statistics, so that no layer is
    an identity by accident; returns {layer name: weights}."""
    rng = np.random.default_rng(seed)
    weights = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        new = [rng.normal(size=w.shape) for w in layer.get_weights()]
        if isinstance(layer, keras.layers.BatchNormalization):
            new[3] = rng.uniform(0.5, 2.0, size=new[3].shape)  # variance
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

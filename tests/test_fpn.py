"""conv1x1.fpn and the feature pyramid network chapter's exercises."""

import keras
import numpy as np
import pytest

from conv1x1 import cost, fpn, resnet
from conv1x1.exercises import check
from conv1x1.exercises import feature_pyramid as ex

TINY = ((8, 1), (16, 1), (32, 1), (64, 1))
TINY_LEVELS = resnet.stage_output_names((1, 1, 1, 1))
RESNET50_CHANNELS = (256, 512, 1024, 2048)


def tiny_backbone(size):
    return resnet.resnet(18, input_shape=(size, size, 3), include_top=False,
                         stages=TINY, name=f"tiny{size}")


def ceil_half(n):
    return -(-n // 2)


@pytest.fixture(scope="module")
def resnet50_pyramid():
    backbone = resnet.resnet(50, include_top=False)
    return backbone, fpn.feature_pyramid(backbone, resnet.stage_output_names(50))


def test_resnet50_pyramid_shapes_params_and_macs(resnet50_pyramid):
    backbone, pyramid = resnet50_pyramid
    assert [tuple(p.shape[1:]) for p in pyramid.outputs] == [
        (56, 56, 256), (28, 28, 256), (14, 14, 256), (7, 7, 256), (4, 4, 256)]
    shapes = [(s, s, c) for s, c in zip((56, 28, 14, 7), RESNET50_CHANNELS)]
    parts = fpn.pyramid_cost(shapes, 256)
    added = pyramid.count_params() - backbone.count_params()
    assert added == sum(parts["lateral_params"]) + sum(parts["smooth_params"])
    assert added == sum(c * 256 + 256 for c in RESNET50_CHANNELS) + 4 * (9 * 256 ** 2 + 256)
    records = {r.name: r for r in cost.layer_costs(pyramid)}
    for k, (s, _, c) in zip(range(2, 6), shapes):
        assert records[f"fpn_lateral{k}"].macs == s * s * c * 256
        assert records[f"fpn_p{k}"].macs == 9 * s * s * 256 * 256
    extra = cost.cost_table(pyramid).total_macs - cost.cost_table(backbone).total_macs
    assert extra == sum(parts["lateral_macs"]) + sum(parts["smooth_macs"])
    new = [layer for layer in pyramid.layers if layer.name.startswith("fpn_")]
    assert all(getattr(layer, "activation", keras.activations.linear).__name__ == "linear"
               for layer in new)


def test_top_down_arithmetic_on_odd_sizes():
    backbone = tiny_backbone(37)
    pyramid = fpn.feature_pyramid(backbone, TINY_LEVELS, channels=4)
    names = ["fpn_lateral5", "fpn_lateral4", "fpn_merge4", "fpn_lateral3", "fpn_merge3",
             "fpn_lateral2", "fpn_merge2"]
    probe = keras.Model(backbone.input, [pyramid.get_layer(n).output for n in names])
    x = np.random.default_rng(0).uniform(size=(2, 37, 37, 3)).astype("float32")
    l5, l4, m4, l3, m3, l2, m2 = (np.asarray(t) for t in probe(x))
    for coarse, lateral, merged in ((l5, l4, m4), (m4, l3, m3), (m3, l2, m2)):
        np.testing.assert_allclose(merged, ex.reference_merge(coarse, lateral),
                                   rtol=1e-5, atol=1e-5)
    outputs = pyramid(x)
    p5, p6 = np.asarray(outputs[3]), np.asarray(outputs[4])
    np.testing.assert_allclose(p6, p5[:, ::2, ::2, :])          # stride-2 subsampling


# --------------------------------------------------------------------------
# What the pyramid computes, against numpy on tiny maps

def three_level_backbone(size):
    """Three stride-2 convolutions ("c2", "c3", "c4") with 3, 5 and 6 channels.

    ``size`` is the input's side, or its (height, width).
    """
    height, width = (size, size) if isinstance(size, int) else size
    inputs = keras.Input(shape=(height, width, 2))
    x = inputs
    for name, depth in (("c2", 3), ("c3", 5), ("c4", 6)):
        x = keras.layers.Conv2D(depth, 3, strides=2, padding="same",
                                activation="relu", name=name)(x)
    return keras.Model(inputs, x, name=f"three{height}x{width}")


def np_conv(x, layer):
    """A Conv2D layer with "same" padding, stride 1, in numpy."""
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
    k = kernel.shape[0]
    pad = k // 2
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    h, w = x.shape[1:3]
    out = np.zeros((x.shape[0], h, w, kernel.shape[-1]))
    for di in range(k):
        for dj in range(k):
            out += padded[:, di:di + h, dj:dj + w, :] @ kernel[di, dj]
    return out + bias


def np_up(x, size):
    """Nearest-neighbour upsampling by 2, cropped at the bottom and right."""
    up = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    return up[:, :size[0], :size[1], :]


def run_pyramid(size, **options):
    backbone = three_level_backbone(size)
    pyramid = fpn.feature_pyramid(backbone, ["c2", "c3", "c4"], channels=4,
                                  **options)
    for layer in pyramid.layers:         # non-zero biases, so they are seen
        if layer.name.startswith("fpn_") and layer.get_weights():
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, np.linspace(-1, 1, bias.size)])
    probe = keras.Model(backbone.input, [backbone.get_layer(n).output
                                         for n in ("c2", "c3", "c4")])
    shape = backbone.input.shape[1:]
    x = np.random.default_rng(1).normal(size=(2, *shape)).astype("float32")
    c = [np.asarray(t, dtype=np.float64) for t in probe(x)]
    got = [np.asarray(t, dtype=np.float64) for t in pyramid(x)]
    return pyramid, c, got


@pytest.mark.parametrize("size", [16, 13])     # levels 8, 4, 2 and 7, 4, 2
def test_pyramid_matches_numpy_lateral_upsample_add_then_smooth(size):
    pyramid, (c2, c3, c4), got = run_pyramid(size)
    layer = pyramid.get_layer
    l2, l3, l4 = (np_conv(c, layer(f"fpn_lateral{k}"))
                  for c, k in ((c2, 2), (c3, 3), (c4, 4)))
    m4 = l4
    m3 = np_up(m4, l3.shape[1:3]) + l3
    m2 = np_up(m3, l2.shape[1:3]) + l2
    expected = [np_conv(m, layer(f"fpn_p{k}")) for m, k in ((m2, 2), (m3, 3), (m4, 4))]
    expected.append(expected[-1][:, ::2, ::2, :])                    # P5 from P4
    assert len(got) == 4
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)
    # Smoothing before the addition, or no smoothing, computes something else.
    smoothed_first = np_up(np_conv(m4, layer("fpn_p3")), l3.shape[1:3]) + l3
    assert not np.allclose(got[1], smoothed_first, atol=1e-3)
    assert not np.allclose(got[1], m3, atol=1e-3)


def test_pyramid_without_laterals_is_the_upsampled_top_alone():
    pyramid, (c2, c3, c4), got = run_pyramid(13, laterals=False, extra_level=False,
                                             prefix="fpn_")
    layer = pyramid.get_layer
    m4 = np_conv(c4, layer("fpn_lateral4"))
    m3 = np_up(m4, c3.shape[1:3])
    m2 = np_up(m3, c2.shape[1:3])
    for g, m, k in zip(got, (m2, m3, m4), (2, 3, 4)):
        np.testing.assert_allclose(g, np_conv(m, layer(f"fpn_p{k}")), rtol=1e-4,
                                   atol=1e-4)
    names = {lay.name for lay in pyramid.layers}
    assert "fpn_lateral4" in names and not names & {"fpn_lateral2", "fpn_lateral3",
                                                    "fpn_merge2", "fpn_merge3"}
    # One 1x1 (6 -> 4 channels) and three 3x3 (4 -> 4) convolutions.
    added = pyramid.count_params() - three_level_backbone(13).count_params()
    assert added == (6 * 4 + 4) + 3 * (9 * 4 * 4 + 4)


def test_defaults_are_the_papers():
    backbone = tiny_backbone(45)                  # 12, 6, 3, 2: crop needed
    pyramid = fpn.feature_pyramid(backbone, TINY_LEVELS)
    assert pyramid.name == "tiny45_fpn"
    # d = 256 everywhere, P2..P5 plus P6, named from level 2 with prefix fpn_.
    assert [tuple(p.shape[1:]) for p in pyramid.outputs] == [
        (12, 12, 256), (6, 6, 256), (3, 3, 256), (2, 2, 256), (1, 1, 256)]
    names = [lay.name for lay in pyramid.layers if lay.name.startswith("fpn_")]
    assert {f"fpn_lateral{k}" for k in range(2, 6)} <= set(names)
    assert {f"fpn_merge{k}" for k in range(2, 5)} <= set(names)   # laterals on
    assert "fpn_crop4" in names and "fpn_p6" in names             # align="crop"
    assert isinstance(pyramid.get_layer("fpn_p6"), keras.layers.MaxPooling2D)
    assert pyramid.get_layer("fpn_up4").interpolation == "nearest"
    smooth = pyramid.get_layer("fpn_p2")
    assert smooth.kernel_size == (3, 3) and smooth.padding == "same"
    assert pyramid.get_layer("fpn_lateral3").kernel_size == (1, 1)
    assert fpn.level_sizes(224) == (56, 28, 14, 7)               # stages 4, stride 4
    assert fpn.padded_size(100) == 128                           # multiple of 32
    assert fpn.pad_to_multiple(keras.Input(shape=(33, 70, 1))).shape == (None, 64, 96, 1)
    assert fpn.pyramid_cost([(1, 1, 1)])["smooth_params"] == [9 * 256 ** 2 + 256]


def test_paper_figures_for_resnet50():
    """Section 3 of the paper: d = 256, C2..C5 at strides 4..32 with 256..2048
    channels (ResNet-50); P6 a stride-2 subsampling of P5."""
    shapes = [(224 // s, 224 // s, c)
              for s, c in zip((4, 8, 16, 32), (256, 512, 1024, 2048))]
    parts = fpn.pyramid_cost(shapes)
    assert sum(parts["lateral_params"]) + sum(parts["smooth_params"]) == 3_344_384
    assert sum(parts["lateral_params"]) == 984_064
    assert sum(parts["lateral_macs"]) == 385_351_680
    assert sum(parts["smooth_macs"]) == 2_456_616_960
    # A 3x3 lateral has nine times the 1x1's weights and MACs.
    assert 9 * (256 + 512 + 1024 + 2048) * 256 + 4 * 256 == 8_848_384
    assert 9 * 385_351_680 == 3_468_165_120


def level_parities(size):
    """Which of the four levels (strides 4 to 32) have odd sides."""
    return tuple(-(-size // 2 ** k) % 2 for k in range(2, 6))


# Whether a level needs a crop or a resize depends only on whether its side is
# odd, so one size for each pattern of odd sides covers every case: the
# smallest size of each pattern that sizes 32 to 1024 produce (16 patterns).
SIZES_OF_EVERY_PARITY = sorted({level_parities(size): size
                                for size in range(1024, 31, -1)}.values())


def test_sizes_of_every_pattern_of_odd_levels_work_with_crop_and_resize():
    assert len({level_parities(size) for size in SIZES_OF_EVERY_PARITY}) == 16
    assert {level_parities(size) for size in SIZES_OF_EVERY_PARITY} == {
        level_parities(size) for size in range(32, 1025)}
    for size in SIZES_OF_EVERY_PARITY:
        backbone = tiny_backbone(size)
        sides = list(fpn.level_sizes(size))
        assert [backbone.get_layer(n).output.shape[1] for n in TINY_LEVELS] == sides
        for align in ("crop", "resize"):
            model = fpn.feature_pyramid(backbone, TINY_LEVELS, channels=4, align=align,
                                        name=f"p{align}{size}")
            got = [tuple(p.shape[1:]) for p in model.outputs]
            expected = [(s, s, 4) for s in sides] + [(ceil_half(sides[-1]),) * 2 + (4,)]
            assert got == expected, (size, align)


@pytest.mark.parametrize("size", [32, 33, 47, 61, 62, 63, 64, 65, 88, 96, 97, 100, 120])
def test_naive_pathway_fails_exactly_where_naive_breaks_says(size):
    backbone = tiny_backbone(size)
    if fpn.naive_breaks(size) is None:
        model = fpn.feature_pyramid(backbone, TINY_LEVELS, channels=4, align="naive")
        assert model.outputs[0].shape[1] == fpn.level_sizes(size)[0]
    else:
        with pytest.raises(ValueError, match="incompatible shapes"):
            fpn.feature_pyramid(backbone, TINY_LEVELS, channels=4, align="naive")


def test_naive_breaks_formula():
    for size in range(32, 1025):
        sides = fpn.level_sizes(size)
        assert sides == tuple(-(-size // 2 ** k) for k in range(2, 6))
        assert (fpn.naive_breaks(size) is None) == (size % 32 in (0, 29, 30, 31))
    assert fpn.naive_breaks(100) == 4 and fpn.naive_breaks(120) == 3
    assert fpn.naive_breaks(60) == 2
    assert fpn.level_sizes(224) == (56, 28, 14, 7)
    assert fpn.level_sizes(20, stages=2, first_stride=2) == (10, 5)


def test_any_model_with_named_stage_outputs():
    backbone = keras.applications.ResNet50(weights=None, include_top=False,
                                           input_shape=(97, 97, 3))
    pyramid = fpn.feature_pyramid(backbone, resnet.stage_output_names(50), channels=32)
    assert [p.shape[1] for p in pyramid.outputs] == [25, 13, 7, 4, 2]


@pytest.mark.parametrize("size", [97, 225])
def test_course_resnet50_at_sizes_that_are_not_multiples_of_32(size):
    backbone = resnet.resnet(50, input_shape=(size, size, 3), include_top=False)
    pyramid = fpn.feature_pyramid(backbone, resnet.stage_output_names(50))
    sides = list(fpn.level_sizes(size))
    assert [p.shape[1] for p in pyramid.outputs] == sides + [ceil_half(sides[-1])]
    with pytest.raises(ValueError, match="incompatible shapes"):
        fpn.feature_pyramid(backbone, resnet.stage_output_names(50), align="naive",
                            prefix="naive_")


def floor_backbone(size):
    """Stages that round down (valid max pooling): crop cannot align them."""
    inputs = keras.Input(shape=(size, size, 3))
    x, names = inputs, []
    for i in range(4):
        x = keras.layers.Conv2D(4 * (i + 1), 3, padding="same")(x)
        x = keras.layers.MaxPooling2D(2, name=f"stage{i}")(x)
        names.append(f"stage{i}")
    return keras.Model(inputs, x), names


def test_resize_aligns_levels_that_round_down():
    backbone, names = floor_backbone(45)           # 22, 11, 5, 2
    with pytest.raises(ValueError, match="align='resize'"):
        fpn.feature_pyramid(backbone, names, channels=4)
    model = fpn.feature_pyramid(backbone, names, channels=4, align="resize",
                                extra_level=False, first_level=3, prefix="r_")
    assert [p.shape[1] for p in model.outputs] == [22, 11, 5, 2]
    assert model.get_layer("r_p3").output.shape[1] == 22
    assert model.get_layer("r_resize5").output.shape[1:3] == (5, 5)


def test_pad_to_multiple():
    inputs = keras.Input(shape=(100, 70, 2))
    padded = fpn.pad_to_multiple(inputs, 32, name="pad")
    assert padded.shape == (None, 128, 96, 2)
    x = np.ones((1, 100, 70, 2), "float32")
    y = np.asarray(keras.Model(inputs, padded)(x))
    np.testing.assert_array_equal(y[:, :100, :70], x)
    assert y[:, 100:].sum() == 0 and y[:, :, 70:].sum() == 0
    assert fpn.padded_size(100) == 128 and fpn.padded_size(128) == 128
    assert fpn.padded_size(1333) == 1344 and fpn.padded_size(7, 4) == 8
    backbone = tiny_backbone(128)
    pyramid = fpn.feature_pyramid(backbone, TINY_LEVELS, channels=4, align="naive")
    small = keras.Input(shape=(100, 100, 3))
    outputs = pyramid(fpn.pad_to_multiple(small))
    assert [o.shape[1] for o in outputs] == [32, 16, 8, 4, 2]


def test_pyramid_cost_values():
    parts = fpn.pyramid_cost([(4, 5, 6), (2, 3, 12)], 8)
    assert parts == {"lateral_macs": [4 * 5 * 6 * 8, 2 * 3 * 12 * 8],
                     "smooth_macs": [9 * 4 * 5 * 64, 9 * 2 * 3 * 64],
                     "lateral_params": [6 * 8 + 8, 12 * 8 + 8],
                     "smooth_params": [9 * 64 + 8, 9 * 64 + 8]}


# --------------------------------------------------------------------------
# Error paths


def test_builder_errors():
    backbone = tiny_backbone(40)
    with pytest.raises(ValueError, match="keras.Model"):
        fpn.feature_pyramid("resnet", TINY_LEVELS)
    for bad in ("conv2_block1_out", ["conv2_block1_out"], [1, 2], None):
        with pytest.raises(ValueError, match="two or more layer names"):
            fpn.feature_pyramid(backbone, bad)
    with pytest.raises(ValueError, match="distinct"):
        fpn.feature_pyramid(backbone, [TINY_LEVELS[0], TINY_LEVELS[0]])
    with pytest.raises(ValueError, match="no layer named 'conv9'.*conv2_block1_out"):
        fpn.feature_pyramid(backbone, [TINY_LEVELS[0], "conv9"])
    with pytest.raises(ValueError, match="finest to the coarsest"):
        fpn.feature_pyramid(backbone, TINY_LEVELS[::-1])
    for bad in (0, -4, 2.0, float("nan"), True, "256", None):
        with pytest.raises(ValueError, match="Expected channels.*received"):
            fpn.feature_pyramid(backbone, TINY_LEVELS, channels=bad)
    with pytest.raises(ValueError, match="at most 65,536.*d = 256"):
        fpn.feature_pyramid(backbone, TINY_LEVELS, channels=10 ** 9)
    with pytest.raises(ValueError, match="laterals"):
        fpn.feature_pyramid(backbone, TINY_LEVELS, laterals="no")
    with pytest.raises(ValueError, match="without '/'"):
        fpn.feature_pyramid(backbone, TINY_LEVELS, prefix="fpn/")
    pyramid = fpn.feature_pyramid(backbone, TINY_LEVELS, channels=4)
    with pytest.raises(ValueError, match="already has 'fpn_.*another prefix"):
        fpn.feature_pyramid(pyramid, TINY_LEVELS, channels=4)
    with pytest.raises(ValueError, match="align"):
        fpn.feature_pyramid(backbone, TINY_LEVELS, align="pad")
    with pytest.raises(ValueError, match="extra_level"):
        fpn.feature_pyramid(backbone, TINY_LEVELS, extra_level="yes")
    with pytest.raises(ValueError, match="first_level"):
        fpn.feature_pyramid(backbone, TINY_LEVELS, first_level=-1)
    with pytest.raises(ValueError, match="prefix"):
        fpn.feature_pyramid(backbone, TINY_LEVELS, prefix=3)
    with pytest.raises(ValueError, match="name"):
        fpn.feature_pyramid(backbone, TINY_LEVELS, name="")
    with_top = resnet.resnet(18, input_shape=(40, 40, 3), stages=TINY, classes=3)
    with pytest.raises(ValueError, match="feature map"):
        fpn.feature_pyramid(with_top, [TINY_LEVELS[-1], "avg_pool"])


def test_unknown_sizes_need_naive_or_a_fixed_input():
    inputs = keras.Input(shape=(None, None, 3))
    a = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="b")(a)
    backbone = keras.Model(inputs, b)
    for align in ("crop", "resize"):
        with pytest.raises(ValueError, match="fixed input shape"):
            fpn.feature_pyramid(backbone, ["a", "b"], channels=4, align=align)
    model = fpn.feature_pyramid(backbone, ["a", "b"], channels=4, align="naive")
    out = model(np.zeros((1, 64, 64, 3), "float32"))
    assert [o.shape[1] for o in out] == [32, 16, 8]


def test_crop_refuses_levels_more_than_a_factor_two_apart():
    inputs = keras.Input(shape=(64, 64, 3))
    a = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(4, 3, strides=4, padding="same", name="b")(a)
    backbone = keras.Model(inputs, b)
    with pytest.raises(ValueError, match="align='resize'"):
        fpn.feature_pyramid(backbone, ["a", "b"], channels=4)
    model = fpn.feature_pyramid(backbone, ["a", "b"], channels=4, align="resize")
    assert model.outputs[0].shape[1] == 32


def test_helper_errors():
    for bad in (0, -1, 2.5, float("nan"), "64", True):
        with pytest.raises(ValueError, match="Expected size"):
            fpn.level_sizes(bad)
    with pytest.raises(ValueError, match="stages to be at most 64"):
        fpn.level_sizes(64, stages=10 ** 9)
    # Integer arithmetic: exact for sizes that a float would round.
    assert fpn.level_sizes(10 ** 30 + 1, stages=2) == (
        (10 ** 30 + 4) // 4, (10 ** 30 + 8) // 8)
    with pytest.raises(ValueError, match="power of 2"):
        fpn.level_sizes(64, first_stride=3)
    with pytest.raises(ValueError, match="stages"):
        fpn.naive_breaks(64, stages=0)
    with pytest.raises(ValueError, match="multiple"):
        fpn.padded_size(100, 0)
    with pytest.raises(ValueError, match="size"):
        fpn.padded_size(-1)
    with pytest.raises(ValueError, match="known height"):
        fpn.pad_to_multiple(keras.Input(shape=(None, None, 3)))
    with pytest.raises(ValueError, match="Keras tensor"):
        fpn.pad_to_multiple(np.zeros((1, 4, 4, 3)))
    with pytest.raises(ValueError, match="level_shapes"):
        fpn.pyramid_cost([(4, 4)])
    with pytest.raises(ValueError, match="channels"):
        fpn.pyramid_cost([(4, 4, 4)], channels=0)


# --------------------------------------------------------------------------
# Whole messages, boundaries and maps that are not square


def stride_backbone(strides, shape=(8, 8, 2), tail=None):
    """Convolutions "c2", "c3", ... with the given strides (an int or a pair);
    ``tail`` names an identity layer after the last one."""
    inputs = keras.Input(shape=shape)
    x = inputs
    for i, stride in enumerate(strides):
        x = keras.layers.Conv2D(3 + i, 3, strides=stride, padding="same",
                                name=f"c{i + 2}")(x)
    if tail:
        x = keras.layers.Identity(name=tail)(x)
    return keras.Model(inputs, x, name="small")


LEVELS3 = ["c2", "c3", "c4"]               # 4x4, 2x2 and 1x1 on an 8x8 input

BUILDER_MESSAGES = {
    "backbone": (
        dict(backbone="resnet"),
        r"^Expected backbone to be a keras\.Model; received str\. Build it with "
        r"keras\.Input or pass a model such as "
        r"conv1x1\.resnet\.resnet\(50, include_top=False\)\.$"),
    "one string": (
        dict(level_names="c2"),
        r"^Expected level_names to be a list of two or more layer names, from the "
        r"finest level to the coarsest, e\.g\. resnet\.stage_output_names\(50\); "
        r"received 'c2'\.$"),
    "one name": (dict(level_names=["c2"]), r"^Expected level_names .*; received \['c2'\]\.$"),
    "numbers": (dict(level_names=["c2", 3]),
                r"^Expected level_names .*; received \['c2', 3\]\.$"),
    "bytes": (dict(level_names=b"c2c3"), r"^Expected level_names .*; received b'c2c3'\.$"),
    "dict": (dict(level_names={"c2": 1, "c3": 2}),
             r"^Expected level_names .*; received \{'c2': 1, 'c3': 2\}\.$"),
    "twice": (dict(level_names=("c2", "c3", "c2")),
              r"^Expected distinct level names; received \('c2', 'c3', 'c2'\)\.$"),
    "unknown": (
        dict(level_names=["c2", "c9"]),
        r"^Backbone 'small' has no layer named 'c9'\. Pass the names of its stage "
        r"outputs\.$"),
    "reversed": (
        dict(level_names=["c3", "c2"]),
        r"^Expected each level to be coarser than the one before; 'c2' is 4x4 after "
        r"'c3' at 2x2\. List the levels from the finest to the coarsest\.$"),
    "channels 0": (
        dict(channels=0),
        r"^Expected channels to be an integer >= 1; received 0\. The paper uses "
        r"d = 256\.$"),
    "channels above": (
        dict(channels=65_537),
        r"^Expected channels to be at most 65,536; received 65,537, whose 3x3 "
        r"kernels alone would not fit in memory\. The paper uses d = 256\.$"),
    "align": (
        dict(align="pad"),
        r"^Expected align to be one of 'naive', 'crop', 'resize'; received 'pad'\.$"),
    "extra_level": (
        dict(extra_level="yes"),
        r"^Expected extra_level to be True or False; received 'yes'\.$"),
    "laterals": (
        dict(laterals="no"), r"^Expected laterals to be True or False; received 'no'\.$"),
    "first_level": (
        dict(first_level=-1),
        r"^Expected first_level to be an integer >= 0; received -1\.$"),
    "prefix type": (
        dict(prefix=3),
        r"^Expected prefix to be a string that starts every layer name, e\.g\. "
        r"'block1_'; received 3\.$"),
    "prefix slash": (
        dict(prefix="fpn/"),
        r"^Expected a prefix without '/', which Keras refuses in layer names; "
        r"received 'fpn/'\. Use '_' instead, e\.g\. 'fpn_'\.$"),
    "name": (
        dict(name=""), r"^Expected name to be a non-empty string or None; received ''\.$"),
}


@pytest.mark.parametrize("case", list(BUILDER_MESSAGES))
def test_builder_messages_are_whole(case):
    given, message = BUILDER_MESSAGES[case]
    arguments = dict(backbone=stride_backbone((2, 2, 2)), level_names=LEVELS3,
                     channels=4)
    arguments.update(given)
    with pytest.raises(ValueError, match=message):
        fpn.feature_pyramid(arguments.pop("backbone"), arguments.pop("level_names"),
                            **arguments)


def test_unknown_level_message_lists_eight_stage_outputs_sorted():
    inputs = keras.Input(shape=(4, 4, 1))
    x = inputs
    for i in range(9, -1, -1):                  # s9_out first, s0_out last
        x = keras.layers.Identity(name=f"s{i}_out")(x)
    backbone = keras.Model(inputs, x, name="outs")
    listed = ", ".join(f"s{i}_out" for i in range(8))
    with pytest.raises(ValueError, match=(
            rf"^Backbone 'outs' has no layer named 'c9'\. Pass the names of its "
            rf"stage outputs, e\.g\. {listed}\.$")):
        fpn.feature_pyramid(backbone, ["s0_out", "c9"])


def test_level_that_is_not_a_feature_map_message():
    inputs = keras.Input(shape=(8, 8, 2))
    c2 = keras.layers.Conv2D(3, 3, strides=2, padding="same", name="c2")(inputs)
    flat = keras.layers.Flatten(name="flat")(c2)            # 4 * 4 * 3 = 48
    backbone = keras.Model(inputs, flat)
    with pytest.raises(ValueError, match=(
            r"^Expected level 'flat' to be a feature map \(batch, height, width, "
            r"channels\); its output has shape \(None, 48\)\.$")):
        fpn.feature_pyramid(backbone, ["c2", "flat"], channels=4)


@pytest.mark.parametrize("stride, coarse", [((2, 1), "2x4"), ((1, 2), "4x2"),
                                            (1, "4x4")])
def test_each_level_must_be_coarser_in_both_height_and_width(stride, coarse):
    backbone = stride_backbone((2, stride))         # c2 4x4, then c3
    with pytest.raises(ValueError, match=(
            rf"^Expected each level to be coarser than the one before; 'c3' is "
            rf"{coarse} after 'c2' at 4x4\. List the levels")):
        fpn.feature_pyramid(backbone, ["c2", "c3"], channels=4)


def test_two_levels_and_first_level_zero_and_channels_one_are_accepted():
    pyramid = fpn.feature_pyramid(stride_backbone((2, 2)), ["c2", "c3"],
                                  channels=1, first_level=0)
    assert [tuple(p.shape[1:]) for p in pyramid.outputs] == [(4, 4, 1), (2, 2, 1),
                                                             (1, 1, 1)]
    assert [pyramid.get_layer(f"fpn_p{k}").output.shape[1] for k in (0, 1, 2)] == [
        4, 2, 1]
    assert isinstance(pyramid.get_layer("fpn_p2"), keras.layers.MaxPooling2D)


def test_channels_limit_is_inclusive():
    assert fpn.MAX_CHANNELS == 65_536
    parts = fpn.pyramid_cost([(1, 1, 1)], channels=65_536)
    assert parts["lateral_params"] == [65_536 + 65_536]
    assert parts["smooth_params"] == [9 * 65_536 ** 2 + 65_536]
    with pytest.raises(ValueError, match=r"^Expected channels to be at most 65,536; "
                       r"received 65,537, whose 3x3 kernels"):
        fpn.pyramid_cost([(1, 1, 1)], channels=65_537)
    assert fpn.pyramid_cost([(1, 1, 1)], channels=1)["lateral_params"] == [2]


# Every name the pyramid gives a layer (levels 2..4 and the extra P5), for
# a backbone that already has it: caught before Keras's own complaint.
@pytest.mark.parametrize("taken", ["fpn_lateral2", "fpn_lateral4", "fpn_up3", "fpn_crop2",
                                   "fpn_resize3", "fpn_merge2", "fpn_p4", "fpn_p5"])
def test_prefix_clash_message_names_the_layer(taken):
    backbone = stride_backbone((2, 2, 2), tail=taken)
    with pytest.raises(ValueError, match=(
            rf"^Expected a prefix that no layer of the backbone uses; backbone "
            rf"'small' already has '{taken}', which the pyramid would name again "
            rf"with prefix='fpn_'\. Pass another prefix, e\.g\. prefix='fpn2_'\.$")):
        fpn.feature_pyramid(backbone, LEVELS3, channels=4)
    other = fpn.feature_pyramid(backbone, LEVELS3, channels=4, prefix="fpn2_")
    assert len(other.outputs) == 4


@pytest.mark.parametrize("free", ["fpn_p6", "fpn_lateral5", "fpn_p1", "fpn_x"])
def test_names_the_pyramid_does_not_use_are_free(free):
    backbone = stride_backbone((2, 2, 2), tail=free)
    pyramid = fpn.feature_pyramid(backbone, LEVELS3, channels=4)
    assert [p.shape[1] for p in pyramid.outputs] == [4, 2, 1, 1]


def test_explicit_model_name_is_used():
    backbone = stride_backbone((2, 2))
    assert fpn.feature_pyramid(backbone, ["c2", "c3"], channels=2,
                               name="mine").name == "mine"


@pytest.mark.parametrize("align", ["crop", "resize"])
def test_pyramid_on_maps_that_are_not_square(align):
    """Input 13x20: C2 7x10, C3 4x5, C4 2x3. Upsampled, C4's 4x6 is one column
    too wide for C3 and C3's 8x10 one row too high for C2."""
    pyramid, (c2, c3, c4), got = run_pyramid((13, 20), align=align)
    assert [c.shape[1:3] for c in (c2, c3, c4)] == [(7, 10), (4, 5), (2, 3)]
    names = {layer.name for layer in pyramid.layers}
    layer = pyramid.get_layer
    if align == "crop":
        up = np_up
        assert {"fpn_up2", "fpn_up3", "fpn_crop2", "fpn_crop3"} <= names
        assert layer("fpn_crop3").output.shape[1:3] == (4, 5)
        assert layer("fpn_crop2").output.shape[1:3] == (7, 10)
    else:
        def up(x, size):    # TensorFlow's nearest neighbour, half-pixel centres
            rows, cols = (np.minimum(np.floor(
                (np.arange(n, dtype=np.float32) + np.float32(0.5))
                * np.float32(m / n)).astype(int), m - 1)
                for n, m in zip(size, x.shape[1:3]))
            return x[:, rows][:, :, cols]
        assert {"fpn_resize2", "fpn_resize3"} <= names and "fpn_up2" not in names
    l2, l3, l4 = (np_conv(c, layer(f"fpn_lateral{k}"))
                  for c, k in ((c2, 2), (c3, 3), (c4, 4)))
    m3 = up(l4, (4, 5)) + l3
    m2 = up(m3, (7, 10)) + l2
    expected = [np_conv(m, layer(f"fpn_p{k}")) for m, k in ((m2, 2), (m3, 3), (l4, 4))]
    expected.append(expected[-1][:, ::2, ::2, :])
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)
    if align == "resize":     # resizing 4 -> 7 rows picks other rows than crop
        cropped = np_up(np_up(l4, (4, 5)) + l3, (7, 10)) + l2
        assert not np.allclose(got[0], np_conv(cropped, layer("fpn_p2")), atol=1e-3)


def test_exact_sizes_get_no_crop_layer():
    pyramid, _, _ = run_pyramid((16, 8))            # 8x4, 4x2, 2x1
    names = {layer.name for layer in pyramid.layers}
    assert {"fpn_up2", "fpn_up3"} <= names
    assert not {"fpn_crop2", "fpn_crop3"} & names


def crop_backbone(fine, coarse):
    """Levels "a" (fine x fine) and "b" (coarse x coarse), from a fine x fine input."""
    inputs = keras.Input(shape=(fine, fine, 1))
    a = keras.layers.Conv2D(2, 1, name="a")(inputs)
    b = keras.layers.Resizing(coarse, coarse, name="b")(a)
    return keras.Model(inputs, b, name="ab")


@pytest.mark.parametrize("fine, coarse, kept", [(7, 4, True), (8, 4, True),
                                                (6, 4, False), (9, 4, False)])
def test_crop_removes_at_most_one_row_and_column(fine, coarse, kept):
    """Upsampled, the 4x4 level is 8x8: one row too many for 7 is cropped, two
    for 6 are not, and 9 would need one more row, not one less."""
    backbone = crop_backbone(fine, coarse)
    if kept:
        model = fpn.feature_pyramid(backbone, ["a", "b"], channels=2)
        assert model.outputs[0].shape[1:3] == (fine, fine)
    else:
        with pytest.raises(ValueError, match=(
                rf"^Cannot crop the upsampled level P3 \(8x8\) to the lateral's "
                rf"{fine}x{fine}: cropping only removes the extra row or column left "
                r"by rounding up\. Use align='resize' for a backbone whose stages "
                r"round down or are not a factor 2 apart\.$")):
            fpn.feature_pyramid(backbone, ["a", "b"], channels=2)


def test_unknown_size_messages_are_whole():
    inputs = keras.Input(shape=(None, None, 3))
    a = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="b")(a)
    backbone = keras.Model(inputs, b)
    for align in ("crop", "resize"):
        with pytest.raises(ValueError, match=(
                rf"^align='{align}' needs the levels' sizes; the backbone's input "
                r"size is not fixed\. Build the backbone with a fixed input "
                r"shape\.$")):
            fpn.feature_pyramid(backbone, ["a", "b"], channels=4, align=align)


def test_crop_needs_the_coarse_size_too():
    """A fine level of unknown size above a coarse level of fixed size."""
    inputs = keras.Input(shape=(None, None, 3))
    a = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="a")(inputs)
    b = keras.layers.Resizing(4, 4, name="b")(a)
    backbone = keras.Model(inputs, b)
    with pytest.raises(ValueError, match=r"^align='crop' needs the levels' sizes"):
        fpn.feature_pyramid(backbone, ["a", "b"], channels=4)


def test_level_sizes_and_naive_breaks_messages_and_limits():
    for call, message in (
            (lambda: fpn.level_sizes(0),
             r"^Expected size to be a positive integer; received 0\.$"),
            (lambda: fpn.level_sizes(8, stages=0),
             r"^Expected stages to be a positive integer; received 0\.$"),
            (lambda: fpn.level_sizes(8, stages=65),
             r"^Expected stages to be at most 64; received 65\. ResNet has 4 levels "
             r"\(C2\.\.C5\)\.$"),
            (lambda: fpn.level_sizes(8, stages=1000),
             r"^Expected stages to be at most 64; received 1,000\. "),
            (lambda: fpn.level_sizes(8, first_stride=0),
             r"^Expected first_stride to be a positive integer; received 0\.$"),
            (lambda: fpn.level_sizes(8, first_stride=12),
             r"^Expected first_stride to be a power of 2; received 12\.$"),
            (lambda: fpn.naive_breaks(8, first_stride=6),
             r"^Expected first_stride to be a power of 2; received 6\.$")):
        with pytest.raises(ValueError, match=message):
            call()
    assert fpn.level_sizes(1, stages=64) == (1,) * 64
    assert fpn.level_sizes(9, stages=1) == (3,)
    assert fpn.level_sizes(1) == (1, 1, 1, 1)
    assert fpn.level_sizes(5, stages=3, first_stride=1) == (5, 3, 2)
    assert fpn.level_sizes(100, stages=2, first_stride=32) == (4, 2)
    # naive_breaks passes stages and first_stride on: 10, 5 fit; 5, 3 do not.
    assert fpn.naive_breaks(20, stages=2, first_stride=2) is None
    assert fpn.naive_breaks(20, stages=2) == 2
    assert fpn.naive_breaks(24, stages=3, first_stride=8) == 2     # 3, 2, 1
    assert fpn.naive_breaks(96) is None                             # 24, 12, 6, 3
    assert fpn.naive_breaks(96, stages=5) == 5                      # ..., 3, 2


def test_padded_size_and_pad_to_multiple_messages_and_limits():
    for call, message in (
            (lambda: fpn.padded_size(0),
             r"^Expected size to be a positive integer; received 0\.$"),
            (lambda: fpn.padded_size(5, 0),
             r"^Expected multiple to be a positive integer; received 0\.$"),
            (lambda: fpn.pad_to_multiple(keras.Input(shape=(8, 8, 1)), 0),
             r"^Expected multiple to be a positive integer; received 0\.$"),
            (lambda: fpn.pad_to_multiple(keras.Input(shape=(8, 8, 1)), name=""),
             r"^Expected name to be a non-empty string or None; received ''\.$"),
            (lambda: fpn.pad_to_multiple(np.zeros((1, 4, 4, 3))),
             r"^Expected x to be a Keras tensor of shape \(batch, height, width, "
             r"channels\) with a known channel count; received ndarray of shape "
             r"\(1, 4, 4, 3\)\. Start from keras\.Input\(shape=\(height, width, "
             r"channels\)\)\.$"),
            (lambda: fpn.pad_to_multiple(keras.Input(shape=(None, 6, 1))),
             r"^Expected x with a known height and width; received shape "
             r"\(None, None, 6, 1\)\. Start from "
             r"keras\.Input\(shape=\(height, width, channels\)\)\.$"),
            (lambda: fpn.pad_to_multiple(keras.Input(shape=(6, None, 1))),
             r"^Expected x with a known height and width; received shape "
             r"\(None, 6, None, 1\)\. ")):
        with pytest.raises(ValueError, match=message):
            call()
    assert fpn.padded_size(1) == 32 and fpn.padded_size(32) == 32
    assert fpn.padded_size(33) == 64 and fpn.padded_size(7, 1) == 7
    assert fpn.pad_to_multiple(keras.Input(shape=(5, 6, 1)), 1).shape == (None, 5, 6, 1)


def test_pad_to_multiple_pads_bottom_and_right_like_numpy():
    inputs = keras.Input(shape=(5, 9, 2))
    padded = fpn.pad_to_multiple(inputs, 4)              # to 8 x 12
    model = keras.Model(inputs, padded)
    assert model.get_layer("pad_to_multiple").output.shape == (None, 8, 12, 2)
    x = np.random.default_rng(2).normal(size=(2, 5, 9, 2)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(x)),
                                  np.pad(x, ((0, 0), (0, 3), (0, 3), (0, 0))))
    named = keras.Model(inputs, fpn.pad_to_multiple(inputs, 4, name="to_8x12"))
    assert named.get_layer("to_8x12").output.shape == (None, 8, 12, 2)


def test_pyramid_cost_messages_and_default_channels():
    with pytest.raises(ValueError, match=(
            r"^Expected every row of level_shapes to be \(height, width, channels\) "
            r"with positive integers; row 1 is \(4, 4\)\.$")):
        fpn.pyramid_cost([(4, 4, 4), (4, 4)])
    with pytest.raises(ValueError, match=r"^Expected channels to be an integer >= 1; "
                       r"received 0\. The paper uses d = 256\.$"):
        fpn.pyramid_cost([(4, 4, 4)], channels=0)
    parts = fpn.pyramid_cost([(2, 3, 5)])
    assert parts == {"lateral_macs": [2 * 3 * 5 * 256],
                     "smooth_macs": [9 * 2 * 3 * 256 * 256],
                     "lateral_params": [5 * 256 + 256],
                     "smooth_params": [9 * 256 * 256 + 256]}


# --------------------------------------------------------------------------
# The chapter's exercises


def test_breaks_exercise():
    label = "feature-pyramid-ex-breaks"
    assert fpn.naive_breaks(ex.BREAKS_SIZE) == 3
    level = fpn.naive_breaks(ex.BREAKS_SIZE)
    right = f"M{level} = up(M{level + 1}) + L{level}"
    assert check(label, right).correct
    for option in ex.BREAKS_OPTIONS:
        if option != right:
            result = check(label, option)
            assert not result.correct and len(result.message) > len(option) + 20
    assert not check(label, None).correct and not check(label, "P3").correct


def test_laterals_exercise():
    label = "feature-pyramid-ex-laterals"
    shapes = [(8, 8, c) for c in RESNET50_CHANNELS]
    answer = sum(fpn.pyramid_cost(shapes, 128)["lateral_params"])
    assert check(label, str(answer)).correct and check(label, f"{answer:,}").correct
    assert "kernels only" in check(label, str(answer - 4 * 128)).message
    smoothing = sum(fpn.pyramid_cost(shapes, 128)["smooth_params"])
    assert "smoothing" in check(label, str(answer + smoothing)).message
    d256 = sum(fpn.pyramid_cost(shapes, 256)["lateral_params"])
    assert "d = 256" in check(label, str(d256)).message
    for bad in ("", "abc", None, "inf", "1e999"):
        result = check(label, bad)
        assert not result.correct and result.message


def test_swap_exercise():
    """3x3 laterals instead of the smoothing, ResNet-50 at d = 256, 224 px."""
    label = "feature-pyramid-ex-swap"
    shapes = [(s, s, c) for s, c in zip((56, 28, 14, 7), RESNET50_CHANNELS)]
    parts = fpn.pyramid_cost(shapes, 256)
    paper = sum(parts["lateral_macs"]) + sum(parts["smooth_macs"])
    swap = sum(9 * h * w * c * 256 for h, w, c in shapes)
    assert paper == 2_841_968_640 and swap == 3_468_165_120
    assert swap - paper == 626_196_480
    right = next(o for o in ex.SWAP_OPTIONS if "adds about 0.63 billion" in o)
    assert check(label, right).correct
    # The wrong options' figures: the smoothing alone, the saving at P2.
    assert any("2.46 billion" in o for o in ex.SWAP_OPTIONS)
    assert any("0.21 billion" in o for o in ex.SWAP_OPTIONS)
    assert round(sum(parts["smooth_macs"]) / 1e9, 2) == 2.46
    assert round(parts["lateral_macs"][0] / 1e9, 2) == 0.21
    for option in ex.SWAP_OPTIONS:
        if option != right:
            result = check(label, option)
            assert not result.correct
            assert "smooth" in result.message and len(result.message) > 150
    assert "3,468,165,120" in check(label, ex.SWAP_OPTIONS[1]).message
    assert not check(label, None).correct
    assert not check(label, "0.63").correct
    kind = {e.label: e.kind for e in ex.EXERCISES}[label]
    assert kind == "design"


def keras_merge(coarse, lateral):
    up = keras.layers.UpSampling2D()(coarse)
    return keras.layers.Add()([up[:, :lateral.shape[1], :lateral.shape[2], :], lateral])


def naive_merge(coarse, lateral):
    return keras.layers.Add()([keras.layers.UpSampling2D()(coarse), lateral])


def resized_merge(coarse, lateral):
    up = keras.layers.Resizing(lateral.shape[1], lateral.shape[2],
                               interpolation="nearest")(coarse)
    return keras.layers.Add()([up, lateral])


def upsampled_only(coarse, lateral):
    up = keras.layers.UpSampling2D()(coarse)
    return up[:, :lateral.shape[1], :lateral.shape[2], :]


def bottom_right_merge(coarse, lateral):
    up = keras.layers.UpSampling2D()(coarse)
    h, w = lateral.shape[1], lateral.shape[2]
    return keras.layers.Add()([up[:, up.shape[1] - h:, up.shape[2] - w:, :],
                               lateral])


def doubled_merge(coarse, lateral):
    return keras.layers.Add()([keras_merge(coarse, lateral), lateral])


def test_merge_exercise():
    label = "feature-pyramid-ex-merge"
    assert check(label, keras_merge).correct
    assert "incompatible shapes" in check(label, naive_merge).message
    assert "resizing the coarse map" in check(label, resized_merge).message
    assert "add the lateral" in check(label, upsampled_only).message
    assert "add the upsampled" in check(label, lambda c, lat: lat).message
    assert "bottom right" in check(label, bottom_right_merge).message
    assert "(i // 2, j // 2)" in check(label, doubled_merge).message
    assert "shape" in check(label, lambda c, lat: c).message
    assert "Keras tensor" in check(label, lambda c, lat: 3).message
    assert "Expected a function" in check(label, "merge").message
    assert "ZeroDivisionError" in check(label, lambda c, lat: 1 / 0).message


def test_merge_exercise_time_limit(monkeypatch):
    monkeypatch.setattr(ex, "TIME_LIMIT_S", 0.3)

    def forever(c, lat):
        while True:
            pass

    result = check("feature-pyramid-ex-merge", forever)
    assert not result.correct and "did not return" in result.message


def test_exercise_kinds():
    kinds = [e.kind for e in ex.EXERCISES]
    assert len(kinds) >= 3 and 2 * kinds.count("arithmetic") <= len(kinds)

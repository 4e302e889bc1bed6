"""conv1x1.cost: formulas, the layer walk, and MobileNet's Table 2."""

import itertools
import math

import keras
import numpy as np
import pytest

from conv1x1 import cost


def single(input_shape, layer):
    return keras.Sequential([keras.Input(shape=input_shape), layer])


CONV_CASES = [case for case in itertools.product(
    [(8, 8), (15, 9), (1, 1)],        # input height, width
    [(3, 4), (16, 8), (12, 12)],      # c_in, c_out
    [1, 3, (3, 1)],                   # kernel size
    [1, 2],                           # stride
    ["same", "valid"],
    [True, False],                    # bias
) if not (case[4] == "valid" and case[2] != 1 and case[0] == (1, 1))]  # valid kernels must fit


@pytest.mark.parametrize("hw, channels, kernel, stride, padding, bias", CONV_CASES)
def test_conv_layer_matches_formulas_and_count_params(hw, channels, kernel, stride, padding, bias):
    (h, w), (c_in, c_out) = hw, channels
    k_h, k_w = (kernel, kernel) if isinstance(kernel, int) else kernel
    model = single((h, w, c_in), keras.layers.Conv2D(c_out, kernel, strides=stride,
                                                     padding=padding, use_bias=bias))
    (record,) = cost.layer_costs(model)
    out_h, out_w = model.layers[0].output.shape[1:3]
    # Independent of conv1x1: Keras's own output shape and parameter count.
    assert record.macs == out_h * out_w * k_h * k_w * c_in * c_out
    assert record.params == model.count_params()
    assert record.weights == k_h * k_w * c_in * c_out
    # The formulas agree with Keras too.
    assert cost.conv_params(c_in, c_out, kernel, bias=bias) == model.count_params()
    assert cost.conv_macs(h, w, c_in, c_out, kernel, stride, padding=padding) == record.macs
    expected_kind = ("conv" if k_h * k_w > 1 else
                     "dense" if out_h * out_w == 1 and h * w == 1 else "pointwise")
    assert record.kind == expected_kind


@pytest.mark.parametrize("shape, strides, padding", [
    ((5, 5, 3), 5, "same"),             # stride as large as the map
    ((3, 4, 3), (3, 4), "valid"),       # one stride per axis, no padding
    ((9, 2, 3), (9, 2), "same"),
])
def test_pointwise_conv_reducing_a_large_map_to_one_pixel_is_pointwise(shape, strides, padding):
    # The output is 1x1 but the input is not: the layer subsamples a map, it is
    # not a fully connected layer on a vector.
    model = single(shape, keras.layers.Conv2D(4, 1, strides=strides, padding=padding))
    (record,) = cost.layer_costs(model)
    assert tuple(model.layers[0].output.shape[1:3]) == (1, 1)
    assert record.kind == "pointwise"
    assert record.macs == 1 * 1 * 3 * 4


def test_pointwise_conv_on_a_single_pixel_is_dense():
    (record,) = cost.layer_costs(single((1, 1, 6), keras.layers.Conv2D(5, 1)))
    assert (record.kind, record.macs) == ("dense", 30)


ASYMMETRIC = [
    ((13, 9), (3, 1), (1, 3), "same"),
    ((13, 9), (1, 5), (3, 1), "same"),
    ((13, 9), (2, 3), (2, 3), "valid"),
    ((10, 17), (5, 2), (3, 2), "valid"),
    ((10, 17), 1, (1, 4), "valid"),
    ((10, 17), 3, (4, 1), "same"),
]


@pytest.mark.parametrize("hw, kernel, strides, padding", ASYMMETRIC)
def test_asymmetric_kernels_and_strides(hw, kernel, strides, padding):
    (h, w), c_in, c_out = hw, 3, 5
    k_h, k_w = (kernel, kernel) if isinstance(kernel, int) else kernel
    model = single((h, w, c_in), keras.layers.Conv2D(c_out, kernel, strides=strides,
                                                     padding=padding))
    out_h, out_w = model.layers[0].output.shape[1:3]     # Keras's own shape
    expected = out_h * out_w * k_h * k_w * c_in * c_out
    assert cost.conv_macs(h, w, c_in, c_out, kernel, strides, padding=padding) == expected
    assert cost.layer_costs(model)[0].macs == expected
    # Each axis uses its own stride and kernel: the transposed problem costs the same.
    assert cost.conv_macs(w, h, c_in, c_out, (k_w, k_h), strides[::-1],
                          padding=padding) == expected


@pytest.mark.parametrize("bias", ["no", "False", 0, 1, None, 1.0])
def test_conv_params_refuses_a_bias_flag_that_is_not_a_boolean(bias):
    with pytest.raises(ValueError, match=r"Expected bias to be True or False; received"):
        cost.conv_params(4, 4, bias=bias)


def test_einsum_dense_counts_like_the_dense_layer_it_generalises():
    dense = single((5, 8), keras.layers.Dense(3, use_bias=False))
    for equation, out in [("abc,cd->abd", (5, 3)), ("...c,cd->...d", (3,))]:
        einsum = single((5, 8), keras.layers.EinsumDense(equation, output_shape=out))
        (record,) = cost.layer_costs(einsum)
        # Independent reference: Dense applies the same (8, 3) matrix at every step.
        assert record.kind == "dense"
        assert record.macs == cost.layer_costs(dense)[0].macs == 5 * 8 * 3
        assert record.params == einsum.count_params() == 24
    # A contraction over two axes: every index is looped over once.
    einsum = single((4, 6, 2), keras.layers.EinsumDense("abcd,cde->abe", output_shape=(4, 7),
                                                        name="two_axes"))
    (record,) = cost.layer_costs(einsum)
    assert record.macs == 4 * 6 * 2 * 7 and record.weights == 6 * 2 * 7
    assert record.name == "two_axes" and record.params == einsum.count_params()
    # A trailing "..." stands for the axes after the named ones: here the 8
    # channels of each of 4 columns are mapped to 3, 4 * 8 * 3 MACs.
    einsum = single((8, 4), keras.layers.EinsumDense("ac...,cd->ad...", output_shape=3))
    assert tuple(einsum.output_shape) == (None, 3, 4)
    (record,) = cost.layer_costs(einsum)
    assert record.macs == 4 * 8 * 3 and record.weights == 8 * 3


def test_einsum_dense_inside_time_distributed():
    model = single((6, 8), keras.layers.TimeDistributed(
        keras.layers.EinsumDense("ab,bc->ac", output_shape=3, name="proj"), name="td"))
    (record,) = cost.layer_costs(model)
    assert (record.name, record.kind, record.macs) == ("td/proj", "dense", 6 * 8 * 3)
    assert record.params == model.count_params() == 24


def test_time_distributed_costs_its_layer_once_per_step():
    steps = 5
    (record,) = cost.layer_costs(single((steps, 8), keras.layers.TimeDistributed(
        keras.layers.Dense(3, name="proj"), name="td")))
    assert record.name == "td/proj"
    assert (record.kind, record.macs, record.weights, record.params) == (
        "dense", steps * 8 * 3, 8 * 3, 27)
    model = single((steps, 9, 9, 2), keras.layers.TimeDistributed(
        keras.layers.Conv2D(4, 3, strides=2)))
    (record,) = cost.layer_costs(model)
    assert record.kind == "conv" and record.params == model.count_params()
    assert record.weights == 3 * 3 * 2 * 4
    assert record.macs == steps * cost.conv_macs(9, 9, 2, 4, 3, 2, padding="valid")


def test_time_distributed_needs_a_known_number_of_steps():
    model = single((None, 8), keras.layers.TimeDistributed(keras.layers.Dense(3)))
    with pytest.raises(ValueError, match="time steps is unknown"):
        cost.layer_costs(model)


def _attention_model():
    inputs = keras.Input((6, 8))
    return keras.Model(inputs, keras.layers.MultiHeadAttention(2, 4, name="mha")(inputs, inputs))


def _two_inputs(build):
    query, value = keras.Input((6, 8)), keras.Input((6, 8))
    return lambda: keras.Model([query, value], build(query, value))


@pytest.mark.parametrize("build, words", [
    (_attention_model, "'mha' (MultiHeadAttention)"),
    (lambda: single((6, 8), keras.layers.LSTM(3, name="memory")), "'memory' (LSTM)"),
    (lambda: single((6, 8), keras.layers.GRU(3, name="gates")), "'gates' (GRU)"),
    (lambda: single((6, 8), keras.layers.SimpleRNN(3, name="rnn")), "'rnn' (SimpleRNN)"),
    (lambda: single((6, 8), keras.layers.Bidirectional(keras.layers.LSTM(3), name="both")),
     "'both' (Bidirectional)"),
    (_two_inputs(lambda q, v: keras.layers.Attention(name="att")([q, v])),
     "'att' (Attention)"),
    (_two_inputs(lambda q, v: keras.layers.AdditiveAttention(name="add")([q, v])),
     "'add' (AdditiveAttention)"),
    (_two_inputs(lambda q, v: keras.layers.GroupQueryAttention(
        head_dim=4, num_query_heads=2, num_key_value_heads=1, name="gqa")(q, v)),
     "'gqa' (GroupedQueryAttention)"),
    (_two_inputs(lambda q, v: keras.layers.Dot(axes=-1, name="dot")([q, v])),
     "'dot' (Dot)"),
])
def test_layers_that_are_not_counted_are_refused_by_name(build, words):
    with pytest.raises(ValueError, match="cannot count the multiply-accumulates") as info:
        cost.layer_costs(build())
    assert words in str(info.value)


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_grouped_convolution(groups):
    model = single((10, 10, 8), keras.layers.Conv2D(16, 3, padding="same", groups=groups))
    (record,) = cost.layer_costs(model)
    assert record.params == model.count_params() == cost.conv_params(8, 16, 3, groups=groups)
    assert record.macs == 10 * 10 * 9 * (8 // groups) * 16 == cost.conv_macs(
        10, 10, 8, 16, 3, groups=groups)


@pytest.mark.parametrize("multiplier, stride", [(1, 1), (2, 1), (1, 2)])
def test_depthwise(multiplier, stride):
    model = single((12, 12, 6), keras.layers.DepthwiseConv2D(
        3, strides=stride, padding="same", depth_multiplier=multiplier))
    (record,) = cost.layer_costs(model)
    out = 12 // stride
    assert record.kind == "depthwise" and record.name == model.layers[0].name
    assert record.weights == 9 * 6 * multiplier
    assert record.params == model.count_params()
    assert record.macs == out * out * 9 * 6 * multiplier
    # A depthwise conv is a grouped conv with one group per input channel.
    assert record.macs == cost.conv_macs(12, 12, 6, 6 * multiplier, 3, stride, groups=6)


def test_separable_is_split_into_depthwise_and_pointwise():
    model = single((10, 10, 8), keras.layers.SeparableConv2D(32, 3, padding="same",
                                                             name="sep"))
    dw, pw = cost.layer_costs(model)
    assert (dw.name, pw.name) == ("sep/depthwise", "sep/pointwise")
    assert (dw.kind, pw.kind) == ("depthwise", "pointwise")
    assert dw.macs == 10 * 10 * 9 * 8 and pw.macs == 10 * 10 * 8 * 32
    assert (dw.weights, pw.weights) == (9 * 8, 8 * 32)
    assert (dw.params, pw.params) == (9 * 8, 8 * 32 + 32)
    assert dw.params + pw.params == model.count_params()


def test_separable_with_a_depth_multiplier():
    model = single((6, 6, 4), keras.layers.SeparableConv2D(5, 3, depth_multiplier=2,
                                                           padding="valid"))
    dw, pw = cost.layer_costs(model)
    assert (dw.macs, pw.macs) == (4 * 4 * 9 * 4 * 2, 4 * 4 * 8 * 5)
    assert (dw.weights, pw.weights) == (9 * 8, 8 * 5)
    assert type(dw.macs) is int and type(pw.macs) is int and type(pw.weights) is int
    assert dw.params + pw.params == model.count_params()


@pytest.mark.parametrize("make, frame", [
    (lambda: keras.layers.Dense(3, name="inner"), (8,)),
    (lambda: keras.layers.Dense(3, name="inner"), (4, 8)),
    (lambda: keras.layers.Conv2D(4, 1, name="inner"), (5, 5, 2)),
    (lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="inner"), (6, 6, 3)),
    (lambda: keras.layers.SeparableConv2D(4, 3, strides=2, name="inner"), (7, 7, 3)),
    (lambda: keras.layers.Conv2DTranspose(4, 3, strides=2, name="inner"), (3, 3, 2)),
    (lambda: keras.layers.BatchNormalization(name="inner"), (3, 3, 2)),
])
def test_time_distributed_is_its_layer_on_every_frame(make, frame):
    steps = 3
    wrapped = cost.layer_costs(single((steps, *frame), keras.layers.TimeDistributed(
        make(), name="td")))
    alone = cost.layer_costs(single(frame, make()))
    assert len(wrapped) == len(alone) >= 1
    for w, a in zip(wrapped, alone):
        assert w == cost.LayerCost("td/" + a.name, a.kind, steps * a.macs, a.weights,
                                   a.params)


def test_dense_on_vectors_and_on_feature_maps():
    (record,) = cost.layer_costs(single((20,), keras.layers.Dense(7, name="fc")))
    assert (record.name, record.kind, record.macs, record.weights, record.params) == (
        "fc", "dense", 140, 140, 147)
    (record,) = cost.layer_costs(single((5, 6, 20), keras.layers.Dense(7)))
    assert record.macs == 5 * 6 * 140 and record.params == 147


def test_transposed_convolution_counts_input_positions():
    model = single((4, 4, 3), keras.layers.Conv2DTranspose(5, 3, strides=2, padding="same",
                                                           name="up"))
    (record,) = cost.layer_costs(model)
    assert record.kind == "conv" and record.macs == 4 * 4 * 9 * 3 * 5
    assert record.name == "up" and record.weights == 9 * 3 * 5
    assert record.params == model.count_params()


def test_nested_models_are_walked_and_named():
    inner = keras.Sequential([keras.Input((8, 8, 4)), keras.layers.Conv2D(6, 1, name="mix"),
                              keras.layers.BatchNormalization(name="bn")], name="block")
    inputs = keras.Input((8, 8, 4))
    x = inner(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    model = keras.Model(inputs, outputs)
    records = cost.layer_costs(model)
    names = [r.name for r in records]
    assert names == ["block/mix", "block/bn", "gap", "head"]
    assert sum(r.params for r in records) == model.count_params()
    assert records[0].macs == 8 * 8 * 4 * 6
    assert records[1].kind == "other" and records[1].macs == 0 and records[1].params == 24


@pytest.mark.parametrize("builder, shape", [
    (keras.applications.MobileNetV2, (96, 96, 3)),
    (keras.applications.ResNet50, (64, 64, 3)),
])
def test_applications_parameters_add_up(builder, shape):
    model = builder(weights=None, input_shape=shape, classes=10)
    records = cost.layer_costs(model)
    assert sum(r.params for r in records) == model.count_params()
    assert {r.kind for r in records} >= {"pointwise", "conv", "dense", "other"}


@pytest.fixture(scope="module")
def mobilenet_table():
    return cost.cost_table(keras.applications.MobileNet(weights=None))


# MobileNet (Howard et al. 2017), Table 2: (mult-adds %, parameters %) per layer type.
PAPER_TABLE_2 = {"pointwise": (94.86, 74.59), "depthwise": (3.06, 1.06),
                 "conv": (1.19, 0.02), "dense": (0.18, 24.33)}


@pytest.mark.parametrize("kind", ["pointwise", "depthwise", "dense"])
def test_mobilenet_table_2_rows_that_reproduce(mobilenet_table, kind):
    row = mobilenet_table.row(kind)
    macs_pct, params_pct = PAPER_TABLE_2[kind]
    # The paper's parameter shares are of kernel weights (no biases, no batch norm).
    assert round(row.macs_pct, 2) == macs_pct
    assert round(row.weights_pct, 2) == params_pct


def test_mobilenet_table_2_first_conv_row_is_a_digit_swap(mobilenet_table):
    row = mobilenet_table.row("conv")
    # The first layer: 3x3, 3 -> 32 channels, stride 2, 112x112 output.
    assert row.macs == 112 * 112 * 9 * 3 * 32 == 10_838_016
    assert round(row.macs_pct, 2) == 1.91          # printed as 1.19
    assert round(row.weights_pct, 2) == PAPER_TABLE_2["conv"][1]
    paper_sum = sum(m for m, _ in PAPER_TABLE_2.values())
    corrected = paper_sum - 1.19 + 1.91
    assert abs(paper_sum - 100) > 0.5 and abs(corrected - 100) < 0.02


def test_mobilenet_totals(mobilenet_table):
    assert mobilenet_table.total_macs == 568_740_352            # "569M mult-adds"
    assert round(mobilenet_table.total_weights / 1e6, 1) == 4.2  # "4.2M parameters"
    assert mobilenet_table.total_params == keras.applications.MobileNet(
        weights=None).count_params()
    assert math.isclose(sum(r.macs_pct for r in mobilenet_table.rows), 100.0)
    text = str(mobilenet_table)
    assert "pointwise" in text and "568,740,352" in text
    assert "<table>" in mobilenet_table._repr_html_()


def test_formula_defaults_and_types():
    # Defaults: a 1x1 kernel, stride 1 and "same" padding keep the size.
    assert cost.conv_output_size(7) == 7
    assert cost.conv_output_size(7, padding="valid") == 7
    assert cost.conv_output_size(7, 3) == 7
    assert cost.conv_output_size(7, stride=2) == 4
    # Counts are exact integers, also with groups (no float division).
    for value in (cost.conv_params(8, 16, 3, groups=4), cost.conv_params(8, 16, bias=False),
                  cost.conv_macs(10, 10, 8, 16, 3, groups=4), cost.conv_macs(5, 5, 3, 2),
                  cost.conv_output_size(9, 2, 2, "valid")):
        assert type(value) is int
    assert cost.conv_params(8, 16, 3, groups=4) == 9 * 2 * 16 + 16


def test_formula_values():
    assert cost.conv_output_size(7, 3, 2, "valid") == 3
    assert cost.conv_output_size(7, 3, 2, "same") == 4
    assert cost.conv_params(256, 64) == 16_448
    assert cost.conv_params(256, 64, bias=False) == 16_384
    assert cost.conv_macs(56, 56, 256, 64) == 51_380_224
    assert cost.conv_macs(56, 56, 256, 64, kernel_size=3) == 9 * 51_380_224


@pytest.mark.parametrize("call, words", [
    (lambda: cost.conv_params(0, 4), "c_in to be a positive integer"),
    (lambda: cost.conv_params(4, 4.5), "c_out to be a positive integer"),
    (lambda: cost.conv_params(6, 4, groups=4), "must divide"),
    (lambda: cost.conv_params(4, 4, kernel_size=(1, 2, 3)), "pair"),
    (lambda: cost.conv_macs(8, 8, 4, 4, padding="full"), "'same' or 'valid'"),
    (lambda: cost.conv_macs(2, 2, 4, 4, kernel_size=3, padding="valid"), "does not fit"),
    (lambda: cost.conv_macs(8, True, 4, 4), "width"),
    (lambda: cost.layer_costs(keras.layers.Dense(3)), "Expected a keras.Model"),
    (lambda: cost.layer_costs(keras.Sequential([keras.layers.Dense(3)])), "keras.Input"),
    (lambda: cost.cost_table(single((4,), keras.layers.Dense(2))).row("fc"), "Expected one of"),
])
def test_errors(call, words):
    with pytest.raises(ValueError) as info:
        call()
    assert words in str(info.value)


# ---------------------------------------------------------------- exact messages

class _Subclassed(keras.Model):
    """A model whose layers are called eagerly, never on symbolic inputs."""

    def __init__(self):
        super().__init__(name="sub")
        self.inner = keras.layers.Dense(2, name="inner")

    def call(self, x):
        return self.inner(x)


@pytest.mark.parametrize("call, text", [
    (lambda: cost.conv_params(4, 4, kernel_size=(1, 2, 3)),
     "Expected kernel_size to be an int or a pair (height, width); received (1, 2, 3)."),
    (lambda: cost.conv_params(4, 4, kernel_size=(0, 1)),
     "Expected kernel_size to be a positive integer; received 0."),
    (lambda: cost.conv_params(4, 4, kernel_size=(1, 0)),
     "Expected kernel_size to be a positive integer; received 0."),
    (lambda: cost.conv_params(4, 4, kernel_size=0),
     "Expected kernel_size to be a positive integer; received 0."),
    (lambda: cost.conv_macs(8, 8, 4, 4, kernel_size="3"),
     "Expected kernel_size to be a positive integer; received '3'."),
    (lambda: cost.conv_macs(8, 8, 4, 4, kernel_size=[3, 3, 3]),
     "Expected kernel_size to be an int or a pair (height, width); received [3, 3, 3]."),
    (lambda: cost.conv_macs(8, 0, 4, 4), "Expected width to be a positive integer; received 0."),
    (lambda: cost.conv_macs(8, 8, 4, 4, stride=[1]),
     "Expected stride to be an int or a pair (height, width); received [1]."),
    (lambda: cost.conv_macs(8, 8, 4, 4, stride=(1, 0)),
     "Expected stride to be a positive integer; received 0."),
    (lambda: cost.conv_output_size(2, 3, 1, "valid"),
     "A 3-wide kernel with 'valid' padding does not fit an input of size 2; use a "
     "larger input or padding='same'."),
    (lambda: cost.conv_output_size(8, 1, 1, "full"),
     "Expected padding to be 'same' or 'valid'; received 'full'."),
    (lambda: cost.conv_output_size(8, 1, 0),
     "Expected stride to be a positive integer; received 0."),
    (lambda: cost.conv_output_size(8, 0),
     "Expected kernel_size to be a positive integer; received 0."),
    (lambda: cost.conv_output_size(0),
     "Expected size to be a positive integer; received 0."),
    (lambda: cost.conv_params(6, 4, groups=4),
     "groups=4 must divide both c_in=6 and c_out=4; choose a number of groups that "
     "divides the channel counts."),
    (lambda: cost.conv_params(4, 6, groups=4),
     "groups=4 must divide both c_in=4 and c_out=6; choose a number of groups that "
     "divides the channel counts."),
    (lambda: cost.conv_params(4, 4, groups=0),
     "Expected groups to be a positive integer; received 0."),
    (lambda: cost.conv_macs(0, 8, 4, 4), "Expected height to be a positive integer; received 0."),
    (lambda: cost.conv_macs(8, 8, 0, 4), "Expected c_in to be a positive integer; received 0."),
    (lambda: cost.conv_macs(8, 8, 4, 0), "Expected c_out to be a positive integer; received 0."),
    (lambda: cost.conv_macs(8, 8, 4, 4, groups=0),
     "Expected groups to be a positive integer; received 0."),
    (lambda: cost.conv_macs(8, 8, 6, 4, groups=4),
     "groups=4 must divide both c_in=6 and c_out=4; choose a number of groups that "
     "divides the channel counts."),
    (lambda: cost.layer_costs(single((None, None, 3), keras.layers.Conv2D(4, 1))),
     "Cannot count MACs for an output of shape (None, None, None, 4) with an unknown "
     "spatial size; build the model with a fixed input_shape."),
    (lambda: cost.layer_costs(single((None, 8), keras.layers.EinsumDense(
        "abc,cd->abd", output_shape=(None, 3), name="mix"))),
     "Cannot count MACs for layer 'mix' (EinsumDense) with input shape (None, None, 8): "
     "a size other than the batch is unknown. Build the model with a fixed input shape."),
    (lambda: cost.layer_costs(single((None, 8), keras.layers.TimeDistributed(
        keras.layers.Dense(3), name="td"))),
     "Cannot count MACs for layer 'td' (TimeDistributed) with input shape (None, None, 8): "
     "the number of time steps is unknown. Build the model with a fixed input shape."),
    (lambda: cost.layer_costs(_attention_model()),
     "layer_costs cannot count the multiply-accumulates of layer 'mha' "
     "(MultiHeadAttention): it counts convolutions, dense and einsum layers, and layers "
     "without multiplications. Count that layer by hand, or pass a model without it."),
    (lambda: cost.layer_costs(keras.layers.Dense(3)),
     "Expected a keras.Model; received Dense. Wrap a single layer in "
     "keras.Sequential([keras.Input(shape), layer])."),
    (lambda: cost.layer_costs(keras.Sequential([keras.layers.Dense(3)], name="unbuilt")),
     "Model 'unbuilt' is not built, so its layers have no shapes. Start it with "
     "keras.Input(shape=...) or call model.build(input_shape)."),
    (lambda: cost.cost_table(single((4,), keras.layers.Dense(2))).row("fc"),
     "Expected one of ('pointwise', 'conv', 'depthwise', 'dense', 'other'); "
     "received 'fc'."),
])
def test_exact_messages(call, text):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == text


def test_a_layer_without_a_single_input_is_explained():
    model = _Subclassed()
    model(np.zeros((1, 3)))
    with pytest.raises(ValueError) as info:
        cost.layer_costs(model)
    text = str(info.value)
    assert text.startswith("Layer 'inner' has no single input and output shape (")
    assert text.endswith(
        "). layer_costs needs a model whose layers have been called once on symbolic "
        "inputs: build it with keras.Input(shape=...) or pass input_shape to "
        "keras.applications.")


@pytest.fixture(scope="module")
def small_table():
    # By hand: a 1x1 conv 3 -> 2 on 4x4 (96 MACs, 6 weights, 8 parameters), a
    # flatten, and a dense layer 32 -> 5 (160 MACs, 160 weights, 165 parameters).
    return cost.cost_table(keras.Sequential([
        keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 1, name="pw"),
        keras.layers.Flatten(name="flat"), keras.layers.Dense(5, name="fc")]))


def test_cost_table_rows_and_totals(small_table):
    assert [r.kind for r in small_table.rows] == list(cost.KINDS)
    assert (small_table.total_macs, small_table.total_weights,
            small_table.total_params) == (256, 166, 173)
    assert small_table.row("pointwise") == cost.CostRow(
        "pointwise", 1, 96, 6, 8, 37.5, 100 * 6 / 166, 100 * 8 / 173)
    assert small_table.row("dense") == cost.CostRow(
        "dense", 1, 160, 160, 165, 62.5, 100 * 160 / 166, 100 * 165 / 173)
    assert small_table.row("other") == cost.CostRow("other", 1, 0, 0, 0, 0.0, 0.0, 0.0)
    assert small_table.row("conv") == cost.CostRow("conv", 0, 0, 0, 0, 0.0, 0.0, 0.0)


def test_cost_table_text(small_table):
    assert str(small_table).splitlines() == [
        "kind       layers  MACs  MACs %  weights  weights %  params  params %",
        "pointwise       1    96   37.50        6       3.61       8      4.62",
        "dense           1   160   62.50      160      96.39     165     95.38",
        "other           1     0    0.00        0       0.00       0      0.00",
        "total           3   256  100.00      166     100.00     173    100.00",
    ]


def test_cost_table_html(small_table):
    cells = lambda tag, *values: "".join(f"<{tag}>{v}</{tag}>" for v in values)  # noqa: E731
    assert small_table._repr_html_() == (
        "<table><thead><tr>"
        + cells("th", "kind", "layers", "MACs", "MACs %", "weights", "weights %",
                "params", "params %")
        + "</tr></thead><tbody>"
        + "<tr>" + cells("td", "pointwise", 1, 96, "37.50", 6, "3.61", 8, "4.62") + "</tr>"
        + "<tr>" + cells("td", "dense", 1, 160, "62.50", 160, "96.39", 165, "95.38") + "</tr>"
        + "<tr>" + cells("td", "other", 1, 0, "0.00", 0, "0.00", 0, "0.00") + "</tr>"
        + "<tr>" + cells("th", "total", 3, 256, "100.00", 166, "100.00", 173, "100.00")
        + "</tr></tbody></table>")


def test_cost_table_groups_thousands():
    table = cost.cost_table(single((40, 40, 3), keras.layers.Conv2D(8, 1)))
    assert "  38,400  " in str(table) and "<td>38,400</td>" in table._repr_html_()


def test_a_model_without_multiplications_has_zero_shares():
    table = cost.cost_table(single((4, 4, 3), keras.layers.BatchNormalization()))
    row = table.row("other")
    assert (row.layers, row.macs, row.macs_pct, row.weights_pct) == (1, 0, 0.0, 0.0)
    assert row.params == 12 and row.params_pct == 100.0

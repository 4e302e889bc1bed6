"""conv1x1._checks: every validator accepts what it should, and says exactly why not."""

import math

import keras
import numpy as np
import pytest

from conv1x1 import _checks as checks


def message(call):
    with pytest.raises(ValueError) as info:
        call()
    return str(info.value)


# ---------------------------------------------------------------- integers

@pytest.mark.parametrize("value, low", [(1, 1), (5, 5), (0, 0), (np.int64(3), 2), (-2, -3)])
def test_integer_at_least_accepts_integers_from_low(value, low):
    result = checks.integer_at_least(value, "n", low)
    assert result == value and type(result) is int


def test_integer_at_least_messages():
    assert message(lambda: checks.integer_at_least(4, "n", 5)) == (
        "Expected n to be an integer >= 5; received 4.")
    assert message(lambda: checks.integer_at_least(0, "n")) == (
        "Expected n to be an integer >= 1; received 0.")
    assert message(lambda: checks.integer_at_least(True, "n", 0, "Use 1.")) == (
        "Expected n to be an integer >= 0; received True. Use 1.")
    assert message(lambda: checks.integer_at_least(2.0, "n")) == (
        "Expected n to be an integer >= 1; received 2.0.")
    assert message(lambda: checks.integer_at_least("3", "n")) == (
        "Expected n to be an integer >= 1; received '3'.")


@pytest.mark.parametrize("value", [1, 7, np.int32(2)])
def test_positive_int_accepts(value):
    result = checks.positive_int(value, "c")
    assert result == value and type(result) is int


@pytest.mark.parametrize("value", [0, -1, True, False, 1.0, "1", None])
def test_positive_int_refuses(value):
    assert message(lambda: checks.positive_int(value, "c")) == (
        f"Expected c to be a positive integer; received {value!r}.")


# ---------------------------------------------------------------- arrays

def test_float_array_converts_integers_and_booleans_and_keeps_floats():
    ints = checks.float_array([1, 2], "x")
    assert ints.dtype == np.float64 and ints.tolist() == [1.0, 2.0]
    flags = checks.float_array(np.array([True, False]), "x")
    assert flags.dtype == np.float64 and flags.tolist() == [1.0, 0.0]
    single = np.ones(3, dtype=np.float32)
    assert checks.float_array(single, "x").dtype == np.float32


def test_float_array_messages():
    assert message(lambda: checks.float_array([[1, 2], [3]], "x")).startswith(
        "Expected x to be a numeric array; it could not be converted (")
    assert message(lambda: checks.float_array([[1, 2], [3]], "x")).endswith(
        "). Pass a numpy array of numbers.")
    assert message(lambda: checks.float_array(np.array(["a"]), "w")) == (
        "Expected w to hold real numbers; received an array of dtype <U1. "
        "Convert it with np.asarray(w, dtype=float).")
    assert message(lambda: checks.float_array(np.array([None]), "w")) == (
        "Expected w to hold real numbers; received an array of dtype object. "
        "Convert it with np.asarray(w, dtype=float).")
    assert message(lambda: checks.float_array(np.array([1j]), "b")) == (
        "Expected b to hold real numbers; received complex dtype complex128. "
        "Take the real part or convert the data first.")


def test_finite_array():
    np.testing.assert_array_equal(checks.finite_array([1, 2], "x"), [1.0, 2.0])
    assert checks.finite_array([1, 2], "x").dtype == np.float64
    assert message(lambda: checks.finite_array([np.nan, 1, np.inf, -np.inf], "x")) == (
        "Expected x to hold finite numbers; received 3 NaN or infinite value(s) in an "
        "array of shape (4,). Replace them first, e.g. with np.nan_to_num(x).")
    assert message(lambda: checks.finite_array([[1], []], "x")).startswith(
        "Expected x to be a numeric array; it could not be converted")


# ---------------------------------------------------------------- numbers

@pytest.mark.parametrize("value", [0.5, 3, np.float32(2.5), 1e300])
def test_positive_number_accepts(value):
    result = checks.positive_number(value, "alpha")
    assert result == float(value) and type(result) is float


@pytest.mark.parametrize("value", [0, -1.0, True, math.inf, math.nan, "1", None])
def test_positive_number_refuses(value):
    assert message(lambda: checks.positive_number(value, "alpha", "Try 1.0.")) == (
        f"Expected alpha to be a finite number > 0; received {value!r}. Try 1.0.")
    assert message(lambda: checks.positive_number(value, "alpha")) == (
        f"Expected alpha to be a finite number > 0; received {value!r}.")


@pytest.mark.parametrize("value", [0, 0.0, 0.5, 7, np.float64(2.0)])
def test_non_negative_number_accepts(value):
    result = checks.non_negative_number(value, "noise")
    assert result == float(value) and type(result) is float


@pytest.mark.parametrize("value", [-1e-9, True, math.inf, math.nan, "0.1", None])
def test_non_negative_number_refuses(value):
    assert message(lambda: checks.non_negative_number(value, "noise", "E.g. 0.1.")) == (
        f"Expected noise to be a finite number >= 0; received {value!r}. E.g. 0.1.")
    assert message(lambda: checks.non_negative_number(value, "noise")) == (
        f"Expected noise to be a finite number >= 0; received {value!r}.")


@pytest.mark.parametrize("value", [0, 0.0, 0.5, 0.999])
def test_rate_accepts(value):
    result = checks.rate(value)
    assert result == value and type(result) is float


@pytest.mark.parametrize("value", [1, 1.0, -0.1, True, "0.5", None])
def test_rate_refuses(value):
    assert message(lambda: checks.rate(value)) == (
        f"Expected dropout to be a number in [0, 1); received {value!r}.")
    assert message(lambda: checks.rate(value, "keep", "Fix it.")) == (
        f"Expected keep to be a number in [0, 1); received {value!r}. Fix it.")


def test_boolean():
    assert checks.boolean(True, "bias") is True
    assert checks.boolean(np.bool_(False), "bias") is False
    for value in ("no", 0, 1, None, 1.0):
        assert message(lambda: checks.boolean(value, "bias")) == (
            f"Expected bias to be True or False; received {value!r}.")


# ---------------------------------------------------------------- choices and names

def test_stride():
    assert checks.stride(2) == 2 and type(checks.stride(np.int64(1))) is int
    assert checks.stride(3, allowed=(1, 3)) == 3
    assert message(lambda: checks.stride(3)) == (
        "Expected stride to be the integer 1 or 2; received 3.")
    assert message(lambda: checks.stride(2.0)) == (
        "Expected stride to be the integer 1 or 2; received 2.0.")
    assert message(lambda: checks.stride(True, allowed=(1, 2, 4), name="step")) == (
        "Expected step to be the integer 1 or 2 or 4; received True.")


def test_choice():
    assert checks.choice("same", ("same", "valid"), "padding") == "same"
    assert checks.choice(2, (1, 2), "n") == 2
    assert message(lambda: checks.choice("full", ("same", "valid"), "padding")) == (
        "Expected padding to be one of 'same', 'valid'; received 'full'.")
    # Compared by type as well as value: True is not 1, 1.0 is not 1.
    assert "received True" in message(lambda: checks.choice(True, (1, 2), "n"))
    assert "received 1.0" in message(lambda: checks.choice(1.0, (1, 2), "n"))


def test_name_or_none():
    assert checks.name_or_none(None) is None
    assert checks.name_or_none("net") == "net"
    assert message(lambda: checks.name_or_none("")) == (
        "Expected name to be a non-empty string or None; received ''.")
    assert message(lambda: checks.name_or_none(123, "model_name")) == (
        "Expected model_name to be a non-empty string or None; received 123.")


def test_prefix():
    assert checks.prefix("") == "" and checks.prefix("b1_") == "b1_"
    assert message(lambda: checks.prefix(None)) == (
        "Expected prefix to be a string that starts every layer name, e.g. 'block1_'; "
        "received None.")
    assert message(lambda: checks.prefix(3, "stem")).startswith("Expected stem to be")


# ---------------------------------------------------------------- shapes and tables

def test_image_input_shape_accepts():
    assert checks.image_input_shape((32, 24, 3)) == (32, 24, 3)
    assert checks.image_input_shape([8, 8, 5], channels=None) == (8, 8, 5)
    assert checks.image_input_shape((32, 32, 1), channels=1, min_size=32) == (32, 32, 1)
    assert checks.image_input_shape((1, 1, 3)) == (1, 1, 3)      # any size by default
    result = checks.image_input_shape((np.int64(4), 4, 3))
    assert all(type(d) is int for d in result)


@pytest.mark.parametrize("value", [(32, 32), (32, 32, 3, 1), "32x32x3", (32, 0, 3),
                                   (32.0, 32, 3), (True, 32, 3), None])
def test_image_input_shape_refuses_bad_shapes(value):
    assert message(lambda: checks.image_input_shape(value)) == (
        "Expected input_shape to be (height, width, channels) with positive integers; "
        f"received {value!r}.")


def test_image_input_shape_channels_and_size():
    assert message(lambda: checks.image_input_shape((8, 8, 1))) == (
        "Expected input_shape with 3 channels; received 1 in (8, 8, 1).")
    assert message(lambda: checks.image_input_shape((31, 32, 3), min_size=32,
                                                    name="shape")) == (
        "Expected shape at least 32x32 (the network's total stride); received 31x32. "
        "Use a larger input.")
    assert "received 32x31" in message(
        lambda: checks.image_input_shape((32, 31, 3), min_size=32))


FIELDS = ("filters", "stride")


def test_stage_table_accepts_and_normalises():
    table = checks.stage_table([[16, 1], (np.int64(32), 2)], FIELDS)
    assert table == ((16, 1), (32, 2))
    assert all(type(v) is int for row in table for v in row)
    assert isinstance(table, tuple) and all(isinstance(row, tuple) for row in table)


def test_stage_table_messages():
    assert message(lambda: checks.stage_table(5, FIELDS)) == (
        "Expected stages to be a sequence of (filters, stride) rows; received 5.")
    assert message(lambda: checks.stage_table([], FIELDS, "blocks")) == (
        "Expected blocks to have at least one (filters, stride) row; received none.")
    assert message(lambda: checks.stage_table([(16, 1), (32,)], FIELDS)) == (
        "Expected every row of stages to be (filters, stride) with positive integers; "
        "row 1 is (32,).")
    assert message(lambda: checks.stage_table(["64", "12"], FIELDS)) == (
        "Expected every row of stages to be (filters, stride) with positive integers; "
        "row 0 is '64'.")
    assert "row 0 is (16, 0)" in message(lambda: checks.stage_table([(16, 0)], FIELDS))
    assert "row 0 is (16.0, 1)" in message(lambda: checks.stage_table([(16.0, 1)], FIELDS))
    assert "row 0 is [16, 1, 1]" in message(lambda: checks.stage_table([[16, 1, 1]], FIELDS))


def test_feature_map():
    x = keras.Input((8, 8, 3))
    assert checks.feature_map(x) == (None, 8, 8, 3)
    assert message(lambda: checks.feature_map(np.zeros((1, 8, 8, 3)), "inputs")) == (
        "Expected inputs to be a Keras tensor of shape (batch, height, width, channels) "
        "with a known channel count; received ndarray of shape (1, 8, 8, 3). Start from "
        "keras.Input(shape=(height, width, channels)).")
    assert "received KerasTensor of shape (None, 8, 3)" in message(
        lambda: checks.feature_map(keras.Input((8, 3))))
    assert "of shape (None, 8, 8, None)" in message(
        lambda: checks.feature_map(keras.Input((8, 8, None))))
    assert "Expected x to be" in message(lambda: checks.feature_map(None))


# ---------------------------------------------------------------- activations

def test_activation():
    assert checks.activation(None) is None
    assert checks.activation("softmax") == "softmax"
    assert checks.activation(np.tanh) is np.tanh
    # A serialised Keras config is not a name: refused, though Keras reads it.
    config = {"class_name": "function", "config": "relu", "module": "keras.activations"}
    assert keras.activations.get(config) is keras.activations.relu
    for value in ("nope", "", 3, config, ["relu"]):
        assert message(lambda: checks.activation(value, "classifier_activation")) == (
            "Expected classifier_activation to be the name of a Keras activation (e.g. "
            "'softmax', 'sigmoid' or 'linear'), a callable, or None for raw scores; "
            f"received {value!r}.")
    assert message(lambda: checks.activation("nope")).startswith("Expected activation to be")


def test_stage_table_reads_a_generator_once():
    from conv1x1 import _checks

    rows = ((f, s) for f, s in [(64, 1), (128, 2)])
    assert _checks.stage_table(rows, ("filters", "stride")) == ((64, 1), (128, 2))
    bad = (r for r in [(64, 1), "12"])
    with pytest.raises(ValueError, match="row 1 is '12'"):
        _checks.stage_table(bad, ("filters", "stride"))

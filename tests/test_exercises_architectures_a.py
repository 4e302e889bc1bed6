"""The exercises of the SqueezeNet and MobileNet chapters.

Each checker accepts the reference answer, rejects typical wrong answers
with the message meant for them, and answers malformed input with a message
instead of raising. Expected values are recomputed here independently: from
the Keras models the course builds, or from closed-form counts.
"""

import math

import keras
import numpy as np
import pytest

from conv1x1 import cost
from conv1x1.exercises import check, get
from conv1x1.exercises import mobilenet as mex
from conv1x1.exercises import squeezenet as sex
from conv1x1.mobilenet import depthwise_separable, inverted_residual
from conv1x1.squeezenet import (SQUEEZENET_V1_1_STAGES, SQUEEZENET_V1_1_STEM,
                                fire_module, squeezenet)

LABELS = ["squeezenet-ex-fire", "squeezenet-ex-input", "squeezenet-ex-budget",
          "squeezenet-ex-bug", "squeezenet-ex-v11", "mobilenet-ex-ratio",
          "mobilenet-ex-expansion", "mobilenet-ex-budget", "mobilenet-ex-bug",
          "mobilenet-ex-separable"]

MALFORMED = [None, "", "abc", "1e400", "9" * 5000, [1, 2], {"a": 1}, 3 + 2j,
             float("nan"), object(), b"12", 1e-310]


def verdict(label, answer):
    result = check(label, answer)
    assert isinstance(result.message, str) and result.message
    return result


@pytest.mark.parametrize("label", LABELS)
def test_malformed_answers_get_a_message_and_a_no(label):
    for answer in MALFORMED:
        assert not verdict(label, answer).correct


def test_kinds_and_counts():
    kinds = {label: get(label).kind for label in LABELS}
    for chapter in ("squeezenet", "mobilenet"):
        mine = [k for label, k in kinds.items() if label.startswith(chapter + "-")]
        assert len(mine) == 5 and mine.count("arithmetic") <= len(mine) / 2
        assert {"predict", "design", "debug", "conceptual"} <= set(mine)


# --------------------------------------------------------------------------
# SqueezeNet

def test_fire_arithmetic_against_keras():
    inputs = keras.Input(shape=(20, 20, 192))
    expected = keras.Model(inputs, fire_module(inputs, 24, 96, 96, prefix="f_")).count_params()
    assert expected == 27_864
    assert verdict("squeezenet-ex-fire", "27,864").correct
    assert verdict("squeezenet-ex-fire", 27864).correct
    assert "bias per filter" in verdict("squeezenet-ex-fire", 192 * 24 + 24 * 96 + 9 * 24 * 96).message
    assert "squeezed map" in verdict(
        "squeezenet-ex-fire", 193 * 24 + 193 * 96 + (9 * 192 + 1) * 96).message
    assert "3x3" in verdict("squeezenet-ex-fire", 193 * 24 + 25 * 192).message
    assert not verdict("squeezenet-ex-fire", "27865").correct


def test_input_size_prediction_against_the_built_models():
    small = sum(r.macs for r in cost.layer_costs(squeezenet((227, 227, 3))))
    large = sum(r.macs for r in cost.layer_costs(squeezenet((454, 454, 3))))
    assert sex.v1_0_macs(227) == small == 832_667_936
    assert sex.v1_0_macs(454) == large
    ratio = large / small
    assert 4.1 < ratio < 4.2
    assert verdict("squeezenet-ex-input", f"{ratio:.1f}").correct
    assert verdict("squeezenet-ex-input", "4.14").correct
    assert "parameters stay the same" in verdict("squeezenet-ex-input", "1").message
    assert "area" in verdict("squeezenet-ex-input", "2").message
    assert not verdict("squeezenet-ex-input", "4.4").correct
    assert not verdict("squeezenet-ex-input", "3.9").correct


def test_budget_design():
    def fire(x):
        return fire_module(x, 24, 128, 128, prefix="b_")

    def lopsided(x):
        return fire_module(x, 32, 192, 64, prefix="l_")

    def fire4(x):
        return fire_module(x, 32, 128, 128, prefix="f4_")

    def plain(x):
        return keras.layers.Conv2D(256, 3, padding="same")(x)

    def pointwise_only(x):
        return keras.layers.Conv2D(256, 1)(x)

    def narrower(x):
        return fire_module(x, 8, 64, 64, prefix="n_")

    assert verdict("squeezenet-ex-budget", fire).correct
    assert "37,144" in verdict("squeezenet-ex-budget", fire).message
    assert verdict("squeezenet-ex-budget", lopsided).correct
    assert "49,440" in verdict("squeezenet-ex-budget", fire4).message
    assert "590,080" in verdict("squeezenet-ex-budget", plain).message
    assert "no 3x3" in verdict("squeezenet-ex-budget", pointwise_only).message
    assert "must be (None, 28, 28, 256)" in verdict("squeezenet-ex-budget", narrower).message


def buggy_fire(x, s, e1, e3):
    squeeze = keras.layers.Conv2D(s, 1, activation="relu")(x)
    left = keras.layers.Conv2D(e1, 1, activation="relu")(squeeze)
    right = keras.layers.Conv2D(e3, 3, padding="same", activation="relu")(x)
    return keras.layers.Concatenate()([left, right])


def fixed_fire(x, s, e1, e3):
    squeeze = keras.layers.Conv2D(s, 1, activation="relu")(x)
    left = keras.layers.Conv2D(e1, 1, activation="relu")(squeeze)
    right = keras.layers.Conv2D(e3, 3, padding="same", activation="relu")(squeeze)
    return keras.layers.Concatenate()([left, right])


def test_bug_fix():
    assert verdict("squeezenet-ex-bug", fixed_fire).correct
    wrong = verdict("squeezenet-ex-bug", buggy_fire)
    assert not wrong.correct and "Which tensor" in wrong.message

    def valid_padding(x, s, e1, e3):
        squeeze = keras.layers.Conv2D(s, 1, activation="relu")(x)
        left = keras.layers.Conv2D(e1, 1, activation="relu")(squeeze)
        right = keras.layers.Conv2D(e3, 3, activation="relu")(squeeze)
        return keras.layers.Concatenate()([left, right])

    assert "raised ValueError" in verdict("squeezenet-ex-bug", valid_padding).message
    crash = verdict("squeezenet-ex-bug", lambda x, s, e1, e3: [x][e3])
    assert "raised IndexError" in crash.message and "line" in crash.message


def test_bug_fix_checks_what_the_module_computes():
    def no_relu(x, s, e1, e3):
        squeeze = keras.layers.Conv2D(s, 1)(x)
        left = keras.layers.Conv2D(e1, 1)(squeeze)
        right = keras.layers.Conv2D(e3, 3, padding="same")(squeeze)
        return keras.layers.Concatenate()([left, right])

    def swapped(x, s, e1, e3):
        squeeze = keras.layers.Conv2D(s, 1, activation="relu")(x)
        left = keras.layers.Conv2D(e1, 1, activation="relu")(squeeze)
        right = keras.layers.Conv2D(e3, 3, padding="same",
                                    activation="relu")(squeeze)
        return keras.layers.Concatenate()([right, left])

    def separate_relus(x, s, e1, e3):
        squeeze = keras.layers.ReLU()(keras.layers.Conv2D(s, 1)(x))
        left = keras.layers.ReLU()(keras.layers.Conv2D(e1, 1)(squeeze))
        right = keras.layers.ReLU()(
            keras.layers.Conv2D(e3, 3, padding="same")(squeeze))
        return keras.layers.Concatenate()([left, right])

    assert "ends in a ReLU" in verdict("squeezenet-ex-bug", no_relu).message
    assert "1x1 expand's channels first" in verdict("squeezenet-ex-bug", swapped).message
    assert verdict("squeezenet-ex-bug", separate_relus).correct


def test_a_block_that_never_returns_is_stopped(monkeypatch):
    from conv1x1.exercises import _blocks

    monkeypatch.setattr(_blocks.call_learner, "__kwdefaults__", {"limit": 0.5})

    def forever(x, *args):
        while True:
            pass

    result = check("squeezenet-ex-bug", forever)
    assert not result.correct and "did not return within" in result.message
    result = check("mobilenet-ex-budget", forever)
    assert not result.correct and "did not return within" in result.message


def test_exit_and_non_tensor_outputs():
    import sys

    assert "SystemExit" in check("squeezenet-ex-budget", lambda x: sys.exit()).message
    assert "Keras tensor" in check("squeezenet-ex-budget", lambda x: 3).message
    assert "Expected a function" in check("squeezenet-ex-budget", "my_fire").message


def test_v11_choice_and_its_numbers():
    def macs(**kwargs):
        return sum(r.macs for r in cost.layer_costs(squeezenet(**kwargs)))

    v10 = macs()
    stem_only = macs(stem=SQUEEZENET_V1_1_STEM)
    pools_only = macs(stages=SQUEEZENET_V1_1_STAGES)
    both = macs(stem=SQUEEZENET_V1_1_STEM, stages=SQUEEZENET_V1_1_STAGES)
    assert round(v10 / both, 1) == 2.4
    assert v10 - pools_only > 2 * (v10 - stem_only)        # the poolings matter most
    assert (round(stem_only / 1e6), round(pools_only / 1e6)) == (687, 503)
    assert round(v10 / stem_only, 1) == 1.2 and round(v10 / pools_only, 2) == 1.65
    options = get("squeezenet-ex-v11").options
    assert verdict("squeezenet-ex-v11", options[0]).correct
    for wrong in options[1:]:
        result = verdict("squeezenet-ex-v11", wrong)
        assert not result.correct and len(result.message) > len(wrong) + 30


# --------------------------------------------------------------------------
# MobileNet

def test_ratio_against_cost():
    standard = cost.conv_macs(28, 28, 128, 256, kernel_size=3)
    separable = (cost.conv_macs(28, 28, 128, 128, kernel_size=3, groups=128)
                 + cost.conv_macs(28, 28, 128, 256))
    assert math.isclose(separable / standard, mex.RATIO)
    assert verdict("mobilenet-ex-ratio", "0.115").correct
    assert "depthwise part alone" in verdict("mobilenet-ex-ratio", "0.1111").message
    assert "pointwise part alone" in verdict("mobilenet-ex-ratio", 1 / 256).message
    assert "the saving" in verdict("mobilenet-ex-ratio", "8.69").message
    assert not verdict("mobilenet-ex-ratio", "0.3").correct


def test_expansion_prediction_against_keras_blocks():
    def block_macs(t):
        inputs = keras.Input(shape=(56, 56, 24))
        model = keras.Model(inputs, inverted_residual(inputs, 24, t, prefix="b_"))
        return cost.cost_table(model).total_macs

    assert block_macs(12) == 2 * block_macs(6) == 2 * mex.inverted_residual_macs(56, 24, 24, 6)
    assert verdict("mobilenet-ex-expansion", "2").correct
    assert "quadratic" in verdict("mobilenet-ex-expansion", "4").message
    assert not verdict("mobilenet-ex-expansion", "2.5").correct


def test_budget_design_mobilenet():
    def separable(x):
        return depthwise_separable(x, 256, prefix="b_")

    def by_hand(x):
        x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
        return keras.layers.Conv2D(256, 1)(x)

    def standard(x):
        return keras.layers.Conv2D(256, 3, padding="same")(x)

    def strided(x):
        return depthwise_separable(x, 256, 2, prefix="s_")

    result = verdict("mobilenet-ex-budget", separable)
    assert result.correct and "6,648,320" in result.message
    assert verdict("mobilenet-ex-budget", by_hand).correct
    assert "57,802,752" in verdict("mobilenet-ex-budget", standard).message
    assert "must be (None, 14, 14, 256)" in verdict("mobilenet-ex-budget", strided).message
    assert "no 3x3" in verdict("mobilenet-ex-budget",
                               lambda x: keras.layers.Conv2D(256, 1)(x)).message
    assert mex.STANDARD_MACS == cost.conv_macs(14, 14, 128, 256, kernel_size=3)


def buggy_separable_macs(height, width, c_in, c_out, stride):
    out_h, out_w = math.ceil(height / stride), math.ceil(width / stride)
    depthwise = out_h * out_w * 9 * c_in
    pointwise = height * width * c_in * c_out
    return depthwise + pointwise


def fixed_separable_macs(height, width, c_in, c_out, stride):
    out_h, out_w = math.ceil(height / stride), math.ceil(width / stride)
    return out_h * out_w * (9 * c_in + c_in * c_out)


@pytest.mark.parametrize("size, c_in, c_out, stride", [
    (14, 8, 16, 1), (14, 8, 16, 2), (15, 3, 5, 2), (7, 32, 4, 2)])
def test_bug_reference_against_keras(size, c_in, c_out, stride):
    inputs = keras.Input(shape=(size, size, c_in))
    x = keras.layers.DepthwiseConv2D(3, strides=stride, padding="same")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(c_out, 1)(x))
    assert cost.cost_table(model).total_macs == mex.reference_separable_macs(
        size, size, c_in, c_out, stride)


def test_bug_fix_mobilenet():
    assert verdict("mobilenet-ex-bug", fixed_separable_macs).correct
    assert not verdict("mobilenet-ex-bug", buggy_separable_macs).correct
    assert not verdict("mobilenet-ex-bug", lambda h, w, c, n, s: "many").correct
    rng = np.random.default_rng(0)
    strides = [mex._bug_inputs(rng)[-1] for _ in range(12)]
    assert 2 in strides and 1 in strides


def test_separable_choice():
    options = get("mobilenet-ex-separable").options
    assert verdict("mobilenet-ex-separable", options[0]).correct
    for wrong in options[1:]:
        result = verdict("mobilenet-ex-separable", wrong)
        assert not result.correct and len(result.message) > len(wrong) + 30
    # The claim behind the answer: K[:, :, m, n] = D[:, :, m] P[m, n] is, for
    # a fixed m, one spatial pattern scaled per output channel (rank one).
    rng = np.random.default_rng(0)
    d, p = rng.normal(size=(3, 3, 4)), rng.normal(size=(4, 5))
    kernel = d[..., None] * p
    for m in range(4):
        assert np.linalg.matrix_rank(kernel[:, :, m, :].reshape(9, 5)) == 1


def test_ratio_rounded_to_two_places_is_told_to_give_three():
    assert "three decimal places" in verdict("mobilenet-ex-ratio", "0.12").message
    assert verdict("mobilenet-ex-ratio", "0.115").correct


def test_input_prediction_of_exactly_four_is_told_why_it_is_a_little_more():
    result = verdict("squeezenet-ex-input", "4.0")
    assert not result.correct and "a little more than 4" in result.message
    assert verdict("squeezenet-ex-input", "4.1").correct

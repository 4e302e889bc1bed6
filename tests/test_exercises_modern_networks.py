"""The exercises of "1x1 convolutions in today's networks": reference answers
pass, typical mistakes fail with the intended message, malformed answers
come back as messages."""

import keras
import numpy as np
import pytest
from keras import layers

from conv1x1 import cost, deploy, modern
from conv1x1.exercises import check, get
from conv1x1.exercises.modern_networks import (
    EXERCISES,
    MIXING_BUDGET,
    REACH_OPTIONS,
    reference_fold,
)


def test_labels_kinds_and_mix():
    kinds = {e.label: e.kind for e in EXERCISES}
    assert kinds == {
        "modern-networks-ex-groups": "arithmetic",
        "modern-networks-ex-reach": "predict",
        "modern-networks-ex-mixing": "design",
        "modern-networks-ex-fold": "debug",
    }
    for exercise in EXERCISES:
        assert get(exercise.label) is exercise
        assert len(exercise.hints) >= 2


# --------------------------------------------------------------------------
# modern-networks-ex-groups

def test_groups_answer_is_keras_count():
    model = keras.Sequential([keras.Input((28, 28, 240)),
                              layers.Conv2D(60, 1, groups=3)])
    (record,) = cost.layer_costs(model)
    assert check("modern-networks-ex-groups", f"{record.macs:,}").correct
    assert check("modern-networks-ex-groups", str(record.macs)).correct


@pytest.mark.parametrize("answer, words", [
    (str(28 * 28 * 240 * 60), "ordinary 1x1"),
    (str(28 * 28 * 240 * 60 // 9), "divides by g twice"),
    (str(240 * 60 // 3), "number of weights"),
    ("3763201", "too large"),
    ("lots", ""),
    ("", ""),
])
def test_groups_mistakes(answer, words):
    result = check("modern-networks-ex-groups", answer)
    assert not result.correct
    assert words in result.message and result.message


# --------------------------------------------------------------------------
# modern-networks-ex-reach

def test_reach_answer_is_what_a_stack_computes():
    inputs = keras.Input((3, 3, 32))
    x = inputs
    for width in (32, 64, 64):
        x = layers.Conv2D(width, 1, groups=4, activation="relu")(x)
    model = keras.Model(inputs, x)
    # Perturb each input channel; see whether output channel 37 moves.
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4, 3, 3, 32)).astype("float32")
    batch = [base]
    for c in range(32):
        changed = base.copy()
        changed[..., c] += 1.0 + rng.normal(size=changed[..., c].shape)
        batch.append(changed)
    out = np.asarray(model.predict(np.concatenate(batch), verbose=0))
    out = out.reshape(33, 4, 3, 3, 64)
    moved = np.abs(out[1:] - out[:1])[..., 37].max(axis=(1, 2, 3))
    reached = [c for c in range(32) if moved[c] > 0]
    assert reached == list(range(16, 24))
    assert check("modern-networks-ex-reach", REACH_OPTIONS[0]).correct


def test_reach_wrong_options_are_explained():
    for option in REACH_OPTIONS[1:]:
        result = check("modern-networks-ex-reach", option)
        assert not result.correct and len(result.message) > 40
    assert not check("modern-networks-ex-reach", None).correct


# --------------------------------------------------------------------------
# modern-networks-ex-mixing

def shuffled(x):
    x = layers.Conv2D(32, 1, groups=4, activation="relu")(x)
    x = modern.channel_shuffle(x, 4, prefix="mix_")
    return layers.Conv2D(32, 1, groups=4)(x)


def bottleneck(x):
    x = layers.Conv2D(8, 1, use_bias=False)(x)
    return layers.Conv2D(32, 1)(x)


def test_mixing_reference_designs_pass():
    for fn in (shuffled, bottleneck):
        result = check("modern-networks-ex-mixing", fn)
        assert result.correct, result.message
    assert MIXING_BUDGET == 8 * 8 * 32 * 32 / 2


def test_mixing_without_shuffle_is_not_connected():
    def unshuffled(x):
        x = layers.Conv2D(32, 1, groups=4, activation="relu")(x)
        return layers.Conv2D(32, 1, groups=4)(x)

    result = check("modern-networks-ex-mixing", unshuffled)
    assert not result.correct
    # 4 groups of 8: only 4 * 8 * 8 = 256 of the 1,024 pairs are connected.
    assert "768 of the 1,024" in result.message


def test_mixing_full_convolution_is_over_budget():
    result = check("modern-networks-ex-mixing",
                   lambda x: layers.Conv2D(32, 1)(x))
    assert not result.correct
    assert f"{8 * 8 * 32 * 32:,} MACs" in result.message


MIXING_MATRIX = np.ones((32, 32), dtype="float32")


class Mixing(layers.Layer):
    def call(self, x):
        return keras.ops.einsum("bhwc,cd->bhwd", x, MIXING_MATRIX)


@pytest.mark.parametrize("fn, words", [
    (lambda x: keras.ops.einsum("bhwc,cd->bhwd", x, MIXING_MATRIX),
     "keras.ops operation Einsum"),
    (lambda x: layers.Lambda(lambda t: keras.ops.einsum(
        "bhwc,cd->bhwd", t, MIXING_MATRIX))(x), "Lambda layer"),
    (lambda x: Mixing()(x), "custom layer Mixing"),
])
def test_mixing_uncounted_multiplications_are_refused(fn, words):
    # Each of these mixes every channel with every other for 65,536 MACs
    # that cost.layer_costs cannot see.
    result = check("modern-networks-ex-mixing", fn)
    assert not result.correct and words in result.message, result.message


def test_mixing_operations_that_only_move_values_are_accepted():
    def sliced_shuffle(x):
        x = layers.Conv2D(32, 1, groups=4, activation="relu")(x)
        x = keras.ops.reshape(x, (-1, 8, 8, 4, 8))
        x = keras.ops.transpose(x, (0, 1, 2, 4, 3))
        x = keras.ops.reshape(x, (-1, 8, 8, 32))
        return layers.Conv2D(32, 1, groups=4)(x)

    result = check("modern-networks-ex-mixing", sliced_shuffle)
    assert result.correct, result.message


@pytest.mark.parametrize("fn, words", [
    (lambda x: layers.Conv2D(16, 1, groups=4)(x), "shape"),
    (lambda x: 1 / 0, "ZeroDivisionError"),
    (lambda x: np.zeros(3), "Keras tensor"),
    ("my_mixer", "function"),
])
def test_mixing_malformed_answers(fn, words):
    result = check("modern-networks-ex-mixing", fn)
    assert not result.correct and words in result.message


# --------------------------------------------------------------------------
# modern-networks-ex-fold

def test_reference_fold_agrees_with_deploy_and_keras():
    rng = np.random.default_rng(3)
    conv = layers.Conv2D(4, 1, use_bias=True)
    bn = layers.BatchNormalization(epsilon=1e-3)
    x = rng.normal(size=(2, 3, 3, 5)).astype("float32")
    bn(conv(x))
    conv.set_weights([rng.normal(size=(1, 1, 5, 4)), rng.normal(size=4)])
    bn.set_weights([rng.uniform(0.5, 2, 4), rng.normal(size=4),
                    rng.normal(size=4), rng.uniform(0.1, 3, 4)])
    gamma, beta, mean, var = bn.get_weights()
    kernel, bias = reference_fold(*conv.get_weights(), gamma, beta, mean, var)
    k2, b2 = deploy.fold_batch_norm(conv, bn)
    np.testing.assert_allclose(kernel, k2, rtol=1e-5)
    np.testing.assert_allclose(bias, b2, rtol=1e-5, atol=1e-6)
    folded = np.einsum("nhwc,cd->nhwd", x, kernel[0, 0]) + bias
    np.testing.assert_allclose(folded, np.asarray(bn(conv(x), training=False)),
                               rtol=1e-4, atol=1e-5)


def test_fold_reference_passes_and_the_bug_is_named():
    assert check("modern-networks-ex-fold", reference_fold).correct

    def buggy(kernel, bias, gamma, beta, mean, variance, epsilon=1e-3):
        scale = gamma / np.sqrt(variance + epsilon)
        return kernel * scale, beta - mean * scale

    result = check("modern-networks-ex-fold", buggy)
    assert not result.correct and "without a bias" in result.message


@pytest.mark.parametrize("fn, words", [
    (lambda *a: None, "two arrays"),
    (lambda kernel, *a: kernel, "two arrays"),
    (lambda kernel, bias, *a: (kernel, bias), "the kernel"),
    (lambda kernel, bias, g, b, m, v, e=1e-3: (kernel * g / np.sqrt(v + e),
                                               bias), "the bias"),
    (lambda: 0, "TypeError"),
])
def test_fold_malformed_answers(fn, words):
    result = check("modern-networks-ex-fold", fn)
    assert not result.correct and words in result.message, result.message

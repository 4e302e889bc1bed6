"""The exercises of the depth and visualization chapters.

Each reference answer passes its checker, typical wrong answers fail with
the message meant for them, and malformed answers give a message instead of
an exception. Expected values are computed independently (Keras's own
layers and parameter counts, closed-form formulas).
"""

import json
import pathlib
import sys
import time

import numpy as np
import pytest

from conv1x1.environment import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402

from conv1x1 import training  # noqa: E402
from conv1x1.exercises import KINDS, all_exercises, check, get  # noqa: E402
from conv1x1.exercises import depth as depth_exercises  # noqa: E402
from conv1x1.exercises import visualization as vis_exercises  # noqa: E402

BOOK = pathlib.Path(__file__).resolve().parents[1] / "book"
MODULES = {"depth": depth_exercises, "visualization": vis_exercises}
MALFORMED_TEXT = ["", "   ", "abc", "2*3", "1e-310", "5e-324", "1e308", "nan",
                  None, [1, 2], "9" * 5000]


def _options(label):
    return get(label).options


# ---------------------------------------------------------------- registry

@pytest.mark.parametrize("stem", sorted(MODULES))
def test_chapter_has_enough_exercises_of_the_right_kinds(stem):
    exercises = MODULES[stem].EXERCISES
    prefix = stem.replace("_", "-") + "-ex-"
    assert len(exercises) >= 3
    assert all(ex.label.startswith(prefix) for ex in exercises)
    assert all(ex.kind in KINDS for ex in exercises)
    arithmetic = sum(ex.kind == "arithmetic" for ex in exercises)
    assert arithmetic <= len(exercises) / 2
    assert all(len(ex.hints) >= 2 for ex in exercises)
    registered = all_exercises()
    assert all(registered[ex.label] is ex for ex in exercises)


def _cells(stem):
    """The chapter's cells, less the headings that only fold solutions in
    JupyterLab (markdown headings tagged remove-cell, which the book leaves out;
    scripts/normalize_notebooks.py adds them)."""
    notebook = json.loads((BOOK / f"{stem}.ipynb").read_text(encoding="utf-8"))
    return [(cell["cell_type"], "".join(cell["source"]), cell["metadata"])
            for cell in notebook["cells"]
            if not (cell["cell_type"] == "markdown"
                    and "remove-cell" in cell["metadata"].get("tags", [])
                    and "".join(cell["source"]).startswith("#"))]


@pytest.mark.parametrize("stem", sorted(MODULES))
def test_notebook_shows_every_exercise_and_folds_its_solution(stem):
    cells = _cells(stem)
    for exercise in MODULES[stem].EXERCISES:
        label = exercise.label
        question = [i for i, (kind, text, _) in enumerate(cells)
                    if kind == "markdown" and f":label: {label}\n" in text]
        assert len(question) == 1, label
        widget = [i for i, (kind, text, _) in enumerate(cells)
                  if kind == "code" and text.strip() == f'show("{label}")']
        assert len(widget) == 1 and widget[0] - question[0] in (1, 2), label
        assert cells[widget[0]][2].get("tags") == ["remove-input"]
        if exercise.widget == "function":
            stub = cells[question[0] + 1][1]
            assert f"def {exercise.function_name}(" in stub
        start = [i for i, (_, text, _) in enumerate(cells)
                 if text.startswith(f"````{{solution-start}} {label}\n")]
        assert len(start) == 1 and start[0] == widget[0] + 1, label
        end = next(i for i in range(start[0], len(cells))
                   if cells[i][1].startswith("````{solution-end}"))
        solution = [cells[i] for i in range(start[0], end)
                    if cells[i][0] == "code"]
        assert any(f'check("{label}"' in text for _, text, _ in solution)
        for _, _, meta in solution:
            assert meta.get("jupyter") == {"source_hidden": True,
                                           "outputs_hidden": True}, label
        # Only the stub defines the learner's function before the solution,
        # and no solution defines it (the widget would find that one).
        if exercise.function_name:
            defined = [i for i, (kind, text, _) in enumerate(cells)
                       if kind == "code"
                       and f"def {exercise.function_name}(" in text]
            assert defined == [question[0] + 1], label


@pytest.mark.parametrize("label", [ex.label for module in MODULES.values()
                                   for ex in module.EXERCISES
                                   if ex.widget != "function"])
@pytest.mark.parametrize("answer", MALFORMED_TEXT)
def test_malformed_answers_give_a_message(label, answer):
    result = check(label, answer)
    assert not result.correct and result.message


# ------------------------------------------------------------ depth: params

def test_params_reference_is_keras_count():
    inputs = keras.Input(shape=(8, 8, 64))
    head = keras.Model(inputs, training.pointwise_stack(inputs, [32, 32, 10]))
    count = head.count_params()
    assert depth_exercises.HEAD_PARAMS == count == 3466
    for text in (str(count), "3,466", "3 466", " 3466 "):
        assert check("depth-ex-params", text).correct


@pytest.mark.parametrize("answer, words", [
    ("3392", "weights only"), (str(3466 * 64), "spatial size"),
    (str(3392 * 64), "spatial size"), ("3500", "too large"),
    ("3000", "too small"),
])
def test_params_slips_get_their_message(answer, words):
    result = check("depth-ex-params", answer)
    assert not result.correct and words in result.message


# ------------------------------------------------------------ depth: choices

@pytest.mark.parametrize("label, right", [
    ("depth-ex-batchnorm", 0), ("depth-ex-scale", 1),
    ("visualization-ex-gap", 0), ("visualization-ex-constant", 1),
])
def test_choice_has_one_right_option_and_explains_each_wrong_one(label,
                                                                 right):
    options = _options(label)
    verdicts = [check(label, option) for option in options]
    assert [v.correct for v in verdicts] == [i == right
                                             for i in range(len(options))]
    wrong = [i for i in range(len(options)) if i != right]
    explanations = [verdicts[i].message for i in wrong]
    for i, message in zip(wrong, explanations):
        assert len(message) > len(f"Not {options[i]}.") + 20, message
    assert len(set(explanations)) == len(explanations)
    assert "Pick one" in check(label, None).message
    assert "not one of the options" in check(label, options[right].upper()).message


def test_batchnorm_claim_holds_for_keras():
    """A trained Conv2D -> BatchNormalization -> Conv2D is one 1x1 conv."""
    rng = np.random.default_rng(3)
    inputs = keras.Input(shape=(None, None, 3))
    h = keras.layers.Conv2D(8, 1)(inputs)
    norm = keras.layers.BatchNormalization()
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1)(norm(h)))
    gamma, beta, mean = rng.normal(size=(3, 8))
    norm.set_weights([gamma, beta, mean, rng.uniform(0.5, 2, size=8)])
    x = rng.normal(size=(2, 5, 5, 3)).astype(np.float32)
    y = keras.ops.convert_to_numpy(model(x, training=False))
    # One affine map per pixel: fit it by least squares and check the residual.
    features = np.concatenate([x.reshape(-1, 3), np.ones((50, 1))], axis=1)
    solution, *_ = np.linalg.lstsq(features, y.reshape(-1, 4), rcond=None)
    np.testing.assert_allclose(features @ solution, y.reshape(-1, 4),
                               atol=1e-4)


# ------------------------------------------------------------ depth: merge

def test_merge_reference_matches_two_keras_layers():
    rng = np.random.default_rng(1)
    K1, b1 = rng.normal(size=(3, 5)), rng.normal(size=5)
    K2, b2 = rng.normal(size=(5, 2)), rng.normal(size=2)
    inputs = keras.Input(shape=(4, 4, 3))
    first, second = keras.layers.Conv2D(5, 1), keras.layers.Conv2D(2, 1)
    model = keras.Model(inputs, second(first(inputs)))
    first.set_weights([K1[None, None], b1])
    second.set_weights([K2[None, None], b2])
    x = rng.normal(size=(2, 4, 4, 3)).astype(np.float32)
    merged = depth_exercises.reference_merge(K1, b1, K2, b2)
    np.testing.assert_allclose(x @ merged[:-1] + merged[-1],
                               keras.ops.convert_to_numpy(model(x)),
                               rtol=1e-4, atol=1e-4)
    assert check("depth-ex-merge", lambda a, b, c, d: np.vstack(
        [a @ c, b @ c + d])).correct


def _buggy_merge(K1, b1, K2, b2):
    return np.vstack([K1 @ K2, b1 + b2])


@pytest.mark.parametrize("fn, words", [
    (_buggy_merge, ""),
    (lambda K1, b1, K2, b2: np.vstack([K1 @ K2, b2]), "differ"),
    (lambda K1, b1, K2, b2: K1 @ K2, "shape"),
    (lambda K1, b1, K2, b2: 1 / 0, "ZeroDivisionError"),
    ("def merge(): pass", "Expected a function"),
    (None, "Expected a function"),
])
def test_merge_rejects_wrong_functions(fn, words):
    result = check("depth-ex-merge", fn)
    assert not result.correct and words in result.message


def test_buggy_merge_passes_its_authors_test_but_not_the_checker():
    zeros = np.zeros(8)
    rng = np.random.default_rng(0)
    K1, K2 = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    np.testing.assert_allclose(
        _buggy_merge(K1, zeros, K2, zeros),
        depth_exercises.reference_merge(K1, zeros, K2, zeros))
    assert not check("depth-ex-merge", _buggy_merge).correct


# ------------------------------------------------------------ depth: budget

def _stack(widths, **kwargs):
    return lambda x: training.pointwise_stack(x, widths, **kwargs)


def test_budget_reference_passes_with_closed_form_cost():
    result = check("depth-ex-budget", _stack([64, 64, 192]))
    assert result.correct
    assert f"{256 * (192 * 64 + 64 * 64 + 64 * 192):,} MACs" in result.message
    assert depth_exercises.BUDGET_MACS == 16 * 16 * 192 * 192
    # 192 -> d -> d -> 192 fits the budget up to d = 79.
    assert check("depth-ex-budget", _stack([79, 79, 192])).correct
    assert not check("depth-ex-budget", _stack([80, 80, 192])).correct


def _relu_layers(x):
    for width in (32, 32, 192):
        x = keras.layers.Conv2D(width, 1)(x)
        x = keras.layers.ReLU()(x)
    return x


def test_budget_accepts_separate_relu_layers():
    assert check("depth-ex-budget", _relu_layers).correct


def _after_each(nonlinearity):
    def block(x):
        for width in (64, 64, 192):
            x = nonlinearity(keras.layers.Conv2D(width, 1)(x))
        return x
    return block


@pytest.mark.parametrize("nonlinearity", [
    keras.ops.relu, keras.activations.relu,
    lambda t: keras.ops.maximum(t, 0.0), keras.layers.Activation("relu6"),
], ids=["ops.relu", "activations.relu", "maximum", "shared Activation"])
def test_budget_counts_every_way_of_writing_a_relu(nonlinearity):
    result = check("depth-ex-budget", _after_each(nonlinearity))
    assert result.correct and "3 non-linearities" in result.message


def test_budget_counts_only_this_models_calls_of_a_shared_relu():
    relu = keras.layers.ReLU()

    def one_relu(x):
        x = keras.layers.Conv2D(64, 1)(x)
        x = keras.layers.Conv2D(64, 1)(x)
        return relu(keras.layers.Conv2D(192, 1)(x))

    for _ in range(3):             # pressing Check again changes nothing
        result = check("depth-ex-budget", one_relu)
        assert not result.correct and "1 non-linearity;" in result.message


def test_budget_gives_one_verdict_for_layers_made_outside_the_function():
    conv = keras.layers.Conv2D(192, 1, activation="relu")

    def reuses(x):
        return _after_each(keras.ops.relu)(conv(x))

    macs = 16 * 16 * (192 * 192 + 192 * 64 + 64 * 64 + 64 * 192)
    for _ in range(2):
        result = check("depth-ex-budget", reuses)
        assert not result.correct and f"costs {macs:,} MACs" in result.message


def _raises(x):
    return x.no_such_attribute  # this line is the one reported


@pytest.mark.parametrize("fn, words", [
    (_stack([192, 192, 192]), "over the budget"),
    (_stack([192, 192]), "needs at least 3"),
    (_stack([64, 64, 192], activation=None, output_activation=None),
     "0 non-linearities"),
    (lambda x: keras.layers.Conv2D(192, 3, padding="same",
                                   activation="relu")(x),
     "1x1 convolutions only"),
    (_stack([64, 64, 100]), "must keep the input's shape"),
    (lambda x: x, "needs at least 3"),
    (lambda x: np.zeros((1, 16, 16, 192)), "Keras tensor"),
    (lambda x: None, "Keras tensor"),
    (lambda x: training.pointwise_stack(keras.Input((16, 16, 192)),
                                        [64, 64, 192]),
     "could not be built"),
    (lambda x: sys.exit(), "SystemExit"),
    (lambda: None, "raised TypeError"),
    (42, "Expected a function"),
])
def test_budget_rejects_with_a_message(fn, words):
    result = check("depth-ex-budget", fn)
    assert not result.correct and words in result.message, result.message


def test_budget_reports_the_learners_line():
    import inspect

    line = inspect.getsourcelines(_raises)[1] + 1
    result = check("depth-ex-budget", _raises)
    assert not result.correct and f"(line {line})" in result.message


def test_budget_stops_a_function_that_never_returns(monkeypatch):
    monkeypatch.setattr(depth_exercises, "TIME_LIMIT_S", 0.5)

    def forever(x):
        while True:
            pass

    start = time.monotonic()
    result = check("depth-ex-budget", forever)
    assert time.monotonic() - start < 5
    assert not result.correct and "did not return within" in result.message


def test_time_limit_restores_an_outer_timer():
    import signal

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        # Long enough that a busy machine cannot let it fire during the check.
        signal.setitimer(signal.ITIMER_REAL, 60.0)
        assert check("depth-ex-budget", _stack([64, 64, 192])).correct
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left < 60.0
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        time.sleep(0.2)
        assert fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------- visualization: pixel

def test_pixel_reference_matches_the_opponent_kernel():
    kernel = np.array([[1 / 3, 1.0, -0.5], [1 / 3, -1.0, -0.5],
                       [1 / 3, 0.0, 1.0]])
    value = np.array([0.8, 0.4, 0.2]) @ kernel[:, 2]
    assert value == pytest.approx(-0.4)
    for text in ("-0.4", "-0.40", "-.4", f"{value:.6f}"):
        assert check("visualization-ex-pixel", text).correct


@pytest.mark.parametrize("answer, words", [
    ("0.4", "wrong sign"), ("-1", "in full"), ("-0.5", "too small"),
])
def test_pixel_slips_get_their_message(answer, words):
    result = check("visualization-ex-pixel", answer)
    assert not result.correct and words in result.message


# --------------------------------------------------------- visualization: cam

def test_cam_reference_means_are_the_scores_of_a_keras_head():
    rng = np.random.default_rng(2)
    kernel, bias = rng.normal(size=(16, 4)), rng.normal(size=4)
    inputs = keras.Input(shape=(8, 8, 16))
    conv = keras.layers.Conv2D(4, 1)
    pooled = keras.layers.GlobalAveragePooling2D()(conv(inputs))
    head = keras.Model(inputs, pooled)
    conv.set_weights([kernel[None, None], bias])
    features = np.maximum(rng.normal(size=(3, 8, 8, 16)), 0).astype(np.float32)
    maps = vis_exercises.reference_class_maps(features, kernel, bias)
    np.testing.assert_allclose(maps.mean(axis=(1, 2)),
                               keras.ops.convert_to_numpy(head(features)),
                               rtol=1e-4, atol=1e-4)
    assert check("visualization-ex-cam", lambda f, k, b: f @ k + b).correct


def _normalised_maps(features, kernel, bias):
    maps = features @ kernel + bias
    maps = maps - maps.min(axis=(1, 2), keepdims=True)
    return maps / maps.max(axis=(1, 2), keepdims=True)


@pytest.mark.parametrize("fn, words", [
    (_normalised_maps, "differ"),
    (lambda f, k, b: np.maximum(f @ k + b, 0), "differ"),
    (lambda f, k, b: f.mean(axis=(1, 2)) @ k + b, "shape"),
    (lambda f, k, b: f @ k, "differ"),
    (lambda f, k: f @ k, "TypeError"),
    ([1, 2, 3], "Expected a function"),
])
def test_cam_rejects_wrong_functions(fn, words):
    result = check("visualization-ex-cam", fn)
    assert not result.correct and words in result.message, result.message


# -------------------------------------------------- visualization: resolution

def _classifier(x, poolings=2, third_layer=True):
    """The chapter's classifier, with one or two poolings."""
    layers = keras.layers
    h = layers.Conv2D(4, 1)(x)
    h = layers.Conv2D(16, 3, padding="same", activation="relu")(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(16, 3, padding="same", activation="relu")(h)
    if poolings == 2:
        h = layers.MaxPooling2D(2)(h)
    if third_layer:
        h = layers.Conv2D(16, 3, padding="same", activation="relu")(h)
    h = layers.Conv2D(4, 1)(h)
    h = layers.GlobalAveragePooling2D()(h)
    return layers.Activation("softmax")(h)


def test_resolution_budget_is_the_chapters_classifier():
    from conv1x1 import cost

    inputs = keras.Input(shape=(32, 32, 3))
    model = keras.Model(inputs, _classifier(inputs))
    assert vis_exercises.CHAPTER_MACS == cost.cost_table(model).total_macs


def test_resolution_reference_passes():
    result = check("visualization-ex-resolution",
                   lambda x: _classifier(x, poolings=1, third_layer=False))
    assert result.correct and "1,208,320 MACs" in result.message


def _dense_after_pooling(x):
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(4, 1)(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.layers.Activation("softmax")(keras.layers.Dense(4)(h))


def _no_maps(x):
    h = keras.layers.MaxPooling2D(2)(x)
    h = keras.layers.Conv2D(8, 1)(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.layers.Dense(4, activation="softmax")(h)


def _logits(x):
    h = keras.layers.MaxPooling2D(2)(x)
    return keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 1)(h))


@pytest.mark.parametrize("fn, words", [
    (_classifier, "are 8 x 8"),
    (lambda x: _classifier(x, poolings=1), "over the budget"),
    (_dense_after_pooling, "not the softmax"),
    (_logits, "not the softmax"),
    (_no_maps, "No 1x1 convolution with 4"),
    (lambda x: x, "must be one probability per class"),
    (lambda x: np.ones((1, 4)), "Keras tensor"),
    (lambda x: sys.exit(1), "SystemExit"),
    (lambda x: x[0, 0, 0, 9].foo, "raised"),
    ("my_classifier", "Expected a function"),
])
def test_resolution_rejects_with_a_message(fn, words):
    result = check("visualization-ex-resolution", fn)
    assert not result.correct and words in result.message, result.message


def test_resolution_stops_a_function_that_never_returns(monkeypatch):
    monkeypatch.setattr(vis_exercises, "TIME_LIMIT_S", 0.5)

    def forever(x):
        while True:
            pass

    result = check("visualization-ex-resolution", forever)
    assert not result.correct and "did not return within" in result.message

"""Exercises of the structure, dimensionality reduction and fusion chapters.

Each checker is tried with the reference answer, with the mistakes a learner
typically makes, and with malformed input; expected values are recomputed
independently (Keras layers, closed forms, Pillow) rather than copied from
the modules under test.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from conv1x1.exercises import check, get
from conv1x1.exercises import dimensionality_reduction as dr
from conv1x1.exercises import feature_fusion as ff
from conv1x1.exercises import structure as st

ROOT = Path(__file__).resolve().parents[1]
MODULES = {
    "structure": st,
    "dimensionality_reduction": dr,
    "feature_fusion": ff,
}


# --------------------------------------------------------------------------
# The notebooks and the modules agree, and follow the exercise design.


def _cells(stem):
    return json.loads((ROOT / "book" / f"{stem}.ipynb").read_text())["cells"]


@pytest.mark.parametrize("stem", sorted(MODULES))
def test_every_exercise_has_a_widget_and_a_folded_solution_that_checks(stem):
    cells = _cells(stem)
    sources = ["".join(c["source"]) for c in cells]
    labels = [e.label for e in MODULES[stem].EXERCISES]
    prefix = stem.replace("_", "-") + "-ex-"
    assert len(labels) >= 3 and all(
        label.startswith(prefix) for label in labels
    )
    kinds = [e.kind for e in MODULES[stem].EXERCISES]
    assert kinds.count("arithmetic") <= len(kinds) / 2
    in_text = [
        re.search(r":label: (\S+)", s).group(1)
        for s in sources
        if s.startswith("```{exercise}") or "\n```{exercise}" in s
    ]
    assert in_text == labels
    for label in labels:
        widget = [i for i, s in enumerate(sources) if s == f'show("{label}")']
        assert len(widget) == 1, label
        assert cells[widget[0]]["metadata"].get("tags") == ["remove-input"]
        start = next(
            i
            for i, s in enumerate(sources)
            if f"{{solution-start}} {label}" in s
        )
        end = next(
            i
            for i in range(start, len(sources))
            if "{solution-end}" in sources[i]
        )
        assert widget[0] < start
        code = [c for c in cells[start:end] if c["cell_type"] == "code"]
        assert code, label
        for cell in code:
            assert cell["metadata"]["jupyter"] == {
                "source_hidden": True,
                "outputs_hidden": True,
            }
        assert any(f'check("{label}"' in "".join(c["source"]) for c in code)


@pytest.mark.parametrize("stem", sorted(MODULES))
def test_chapter_code_fits_the_page_and_starts_tensorflow_quietly(stem):
    code = [
        "".join(c["source"]) for c in _cells(stem) if c["cell_type"] == "code"
    ]
    assert code[0].startswith(
        "from conv1x1.environment import quiet_tensorflow"
    )
    assert "from conv1x1.exercises import check, show" in code[0]
    long = [
        line
        for source in code
        for line in source.splitlines()
        if len(line) > 79
    ]
    assert long == []


def test_every_wrong_option_has_its_own_explanation():
    for module in MODULES.values():
        for exercise in module.EXERCISES:
            if exercise.widget != "choice":
                continue
            right = [
                o for o in exercise.options if check(exercise.label, o).correct
            ]
            assert len(right) == 1, exercise.label
            messages = []
            for option in exercise.options:
                if option in right:
                    continue
                result = check(exercise.label, option)
                assert not result.correct
                why = result.message.replace(f"Not {option}.", "").strip()
                assert len(why) > 20, (exercise.label, option)
                messages.append(why)
            assert len(set(messages)) == len(messages)
            assert "Pick one" in check(exercise.label, None).message
            assert not check(exercise.label, "something else").correct


def test_hints_go_from_gentle_to_explicit():
    for module in MODULES.values():
        for exercise in module.EXERCISES:
            assert exercise.hints, exercise.label
            assert all(isinstance(h, str) and h for h in exercise.hints)


@pytest.mark.parametrize(
    "label",
    [
        e.label
        for m in MODULES.values()
        for e in m.EXERCISES
        if e.widget == "text"
    ],
)
@pytest.mark.parametrize(
    "answer", ["", "abc", "1e400", "(", "9" * 5000, None, 3j]
)
def test_text_exercises_answer_malformed_input_with_a_message(label, answer):
    result = check(label, answer)
    assert not result.correct and result.message


@pytest.mark.parametrize(
    "label",
    [
        e.label
        for m in MODULES.values()
        for e in m.EXERCISES
        if e.widget == "function"
    ],
)
@pytest.mark.parametrize("answer", [None, 3, "def f(): pass"])
def test_function_exercises_reject_what_is_not_a_function(label, answer):
    result = check(label, answer)
    assert not result.correct and result.message


@pytest.mark.parametrize(
    "label, name",
    [
        ("structure-ex-implement", "my_pointwise"),
        ("structure-ex-budget", "my_block"),
        ("dimensionality-reduction-ex-pca", "my_pca_reconstruct"),
        ("feature-fusion-ex-difference", "difference_kernel"),
        ("feature-fusion-ex-fuse", "my_fuse"),
    ],
)
def test_function_exercises_name_the_learners_function(label, name):
    assert get(label).widget == "function" and get(label).function_name == name


# --------------------------------------------------------------------------
# Structure.


def test_structure_shape():
    import keras

    expected = keras.layers.Conv2D(32, 1, strides=2).compute_output_shape(
        (8, 28, 28, 64)
    )
    assert check("structure-ex-shape", str(tuple(expected))).correct
    wrong = check("structure-ex-shape", "(8, 28, 28, 32)")
    assert not wrong.correct and "axis 1, 2" in wrong.message
    assert "missing" in check("structure-ex-shape", "(8,,14,14,32)").message


def _keras_pointwise(x, w, b):
    """The 1x1 convolution as a Keras Conv2D: an independent reference."""
    import keras

    layer = keras.layers.Conv2D(w.shape[1], 1, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([w[None, None], b])
    return keras.ops.convert_to_numpy(layer(x))


def test_structure_implement_accepts_correct_functions_and_finds_the_bug():
    assert check("structure-ex-implement", lambda x, w, b: x @ w + b).correct
    assert check("structure-ex-implement", _keras_pointwise).correct

    def buggy(x, w, b):  # the version shown in the chapter
        n, h, w_, c_in = x.shape
        rows = x.reshape(c_in, n * h * w_).T
        return (rows @ w + b).reshape(n, h, w_, -1)

    result = check("structure-ex-implement", buggy)
    assert not result.correct and "values differ" in result.message
    no_bias = check("structure-ex-implement", lambda x, w, b: x @ w)
    assert not no_bias.correct
    transposed = check("structure-ex-implement", lambda x, w, b: x @ w.T + b)
    assert not transposed.correct  # a square kernel, or a ValueError otherwise

    def stub(x, w, b):
        raise NotImplementedError("write my_pointwise")

    assert (
        "NotImplementedError" in check("structure-ex-implement", stub).message
    )


def _bottleneck(d, out=256, spatial=3):
    import keras

    def block(x):
        y = keras.layers.Conv2D(d, 1, activation="relu")(x)
        y = keras.layers.Conv2D(d, spatial, padding="same", activation="relu")(
            y
        )
        return keras.layers.Conv2D(out, 1)(y)

    return block


def test_structure_budget_counts_the_block_as_keras_does():
    # closed form: (256 d + d) + (9 d^2 + d) + (256 d + 256)
    for d, fits in ((16, True), (32, True), (48, True), (64, False)):
        params = 256 * d + d + 9 * d * d + d + 256 * d + 256
        assert (params < 50_000) == fits
        result = check("structure-ex-budget", _bottleneck(d))
        assert result.correct == fits, result.message
        assert f"{params:,}" in result.message


def test_structure_budget_rejects_blocks_that_break_a_rule():
    import keras

    no_neighbours = check("structure-ex-budget", _bottleneck(32, spatial=1))
    assert (
        not no_neighbours.correct
        and "neighbouring pixels" in no_neighbours.message
    )
    narrow = check("structure-ex-budget", _bottleneck(32, out=128))
    assert not narrow.correct and "shape" in narrow.message
    numpy_out = check("structure-ex-budget", lambda x: np.zeros((14, 14, 256)))
    assert not numpy_out.correct and "Keras tensor" in numpy_out.message
    nothing = check("structure-ex-budget", lambda x: None)
    assert not nothing.correct and "None" in nothing.message

    def elsewhere(x):
        other = keras.Input((14, 14, 256))
        return keras.layers.Conv2D(256, 3, padding="same")(other)

    assert "Build every layer on x" in check(
        "structure-ex-budget", elsewhere
    ).message

    def same_names(x):
        y = keras.layers.Conv2D(16, 1, name="reduce")(x)
        y = keras.layers.Conv2D(16, 3, padding="same", name="reduce")(y)
        return keras.layers.Conv2D(256, 1)(y)

    twice = check("structure-ex-budget", same_names)
    assert not twice.correct and "distinct names" in twice.message

    def stub(x):
        raise NotImplementedError("write my_block")

    assert "NotImplementedError" in check("structure-ex-budget", stub).message
    wide = check(
        "structure-ex-budget",
        lambda x: keras.layers.Conv2D(256, 3, padding="same")(x),
    )
    assert not wide.correct and "590,080" in wide.message


def test_structure_macs():
    from conv1x1 import cost

    single = 9 * 14 * 14 * 256 * 256
    bottleneck = (
        cost.conv_macs(14, 14, 256, 64)
        + cost.conv_macs(14, 14, 64, 64, kernel_size=3)
        + cost.conv_macs(14, 14, 64, 256)
    )
    assert check("structure-ex-macs", f"{single / bottleneck:.2f}").correct
    assert not check("structure-ex-macs", "9").correct
    # the paper's comparison, the basic block, is a different number
    basic = 2 * 9 * 14 * 14 * 64 * 64
    assert not check("structure-ex-macs", f"{single / basic:.2f}").correct


def test_structure_size():
    assert check(
        "structure-ex-size", "Parameters stay the same; MACs grow fourfold"
    ).correct


# --------------------------------------------------------------------------
# Dimensionality reduction.


def test_dimensionality_reduction_inception_matches_keras():
    import keras

    from conv1x1 import cost

    branch = keras.Sequential(
        [
            keras.Input((28, 28, 192)),
            keras.layers.Conv2D(96, 1),
            keras.layers.Conv2D(128, 3, padding="same"),
        ]
    )
    macs = sum(r.macs for r in cost.layer_costs(branch))
    assert check("dimensionality-reduction-ex-inception", f"{macs:,}").correct
    direct = cost.conv_macs(28, 28, 192, 128, kernel_size=3)
    assert not check(
        "dimensionality-reduction-ex-inception", str(direct)
    ).correct
    reads_192 = cost.conv_macs(28, 28, 192, 96) + cost.conv_macs(
        28, 28, 192, 128, 3
    )
    assert (
        "too large"
        in check(
            "dimensionality-reduction-ex-inception", str(reads_192)
        ).message
    )


def test_dimensionality_reduction_eigen():
    assert check("dimensionality-reduction-ex-eigen", "2").correct
    assert check("dimensionality-reduction-ex-eigen", "2.0").correct
    assert not check(
        "dimensionality-reduction-ex-eigen", "8"
    ).correct  # kept, not lost
    assert not check("dimensionality-reduction-ex-eigen", "1").correct


def test_dimensionality_reduction_rank_is_the_rank_of_the_centred_pixels():
    from conv1x1 import channels, data

    features = channels.random_features(
        data.sample_photo(64) - 0.5, channels=32, kernel_size=3, seed=0
    )
    extra = np.stack(
        [
            2 * features[..., 0],
            features[..., 1] - features[..., 2],
            features[..., 3] + 0.5,
            features[..., 4] + features[..., 5] + features[..., 6],
        ],
        axis=-1,
    )
    rows = (
        np.concatenate([features, extra], -1)
        .reshape(-1, 36)
        .astype(np.float64)
    )
    rank = np.linalg.matrix_rank(rows - rows.mean(axis=0), tol=1e-6)
    assert check("dimensionality-reduction-ex-rank", str(rank)).correct
    assert not check("dimensionality-reduction-ex-rank", "36").correct
    # without centring the constant would add a direction
    assert np.linalg.matrix_rank(rows, tol=1e-6) == rank + 1
    assert not check("dimensionality-reduction-ex-rank", "32.5").correct


def test_dimensionality_reduction_reference_meets_eckart_young():
    rng = np.random.default_rng(3)
    feature_map, d = dr.pca_inputs(rng)
    rows = feature_map.reshape(-1, feature_map.shape[-1])
    eigenvalues = np.linalg.eigvalsh(np.cov(rows.T, bias=True))[::-1]
    rebuilt = dr.reference_pca_reconstruct(feature_map, d)
    error = np.mean(np.sum((feature_map - rebuilt) ** 2, axis=-1))
    assert error == pytest.approx(eigenvalues[d:].sum(), rel=1e-9)


def test_dimensionality_reduction_pca_finds_both_bugs():
    def by_eigh(feature_map, d):
        rows = feature_map.reshape(-1, feature_map.shape[-1])
        mu = rows.mean(axis=0)
        _, vectors = np.linalg.eigh(np.cov(rows.T, bias=True))
        v = vectors[:, ::-1][:, :d]
        return ((rows - mu) @ v @ v.T + mu).reshape(feature_map.shape)

    def centres_in_place(feature_map, d):
        rows = feature_map.reshape(-1, feature_map.shape[-1])
        mu = rows.mean(axis=0)
        rows -= mu  # changes the caller's array
        _, _, v_t = np.linalg.svd(rows, full_matrices=False)
        return (rows @ v_t[:d].T @ v_t[:d] + mu).reshape(feature_map.shape)

    assert check("dimensionality-reduction-ex-pca", by_eigh).correct
    assert check("dimensionality-reduction-ex-pca", centres_in_place).correct

    def bug(centre, rows_of_vt):
        def fn(feature_map, d):
            rows = feature_map.reshape(-1, feature_map.shape[-1])
            mu = rows.mean(axis=0)
            _, _, v_t = np.linalg.svd(
                rows - mu if centre else rows, full_matrices=False
            )
            v = v_t[:d].T if rows_of_vt else v_t[:, :d]
            return ((rows - mu) @ v @ v.T + mu).reshape(feature_map.shape)

        return fn

    assert check("dimensionality-reduction-ex-pca", bug(True, True)).correct
    for centre, rows_of_vt in ((False, False), (False, True), (True, False)):
        result = check(
            "dimensionality-reduction-ex-pca", bug(centre, rows_of_vt)
        )
        assert not result.correct and "values differ" in result.message


def test_dimensionality_reduction_learned():
    option = "The two errors are not measured the same way or on the same data"
    assert check("dimensionality-reduction-ex-learned", option).correct


# --------------------------------------------------------------------------
# Feature fusion.


def test_feature_fusion_cr_agrees_with_pillow():
    from PIL import Image

    yellow = Image.fromarray(np.array([[[255, 255, 0]]], dtype=np.uint8))
    pil_cr = np.asarray(yellow.convert("YCbCr"))[0, 0, 2] / 255
    assert check("feature-fusion-ex-cr", "0.581312").correct
    assert abs(0.581312 - pil_cr) <= 1 / 255
    # the bias forgotten, or only the green term
    assert not check("feature-fusion-ex-cr", "0.081312").correct
    assert not check("feature-fusion-ex-cr", "-0.418688").correct


def test_feature_fusion_difference_kernel_computes_a_minus_b_in_keras():
    import keras

    from conv1x1 import channels

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 1, 4, 4, 3))
    kernel = ff.reference_difference_kernel(3)
    fused = channels.fixed_pointwise(kernel)(
        keras.layers.Concatenate()([a, b])
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(fused), a - b, atol=1e-6
    )
    assert check(
        "feature-fusion-ex-difference",
        lambda c: np.vstack([np.eye(c), -np.eye(c)]),
    ).correct
    swapped = check(
        "feature-fusion-ex-difference",
        lambda c: np.vstack([-np.eye(c), np.eye(c)]),
    )
    assert not swapped.correct
    flat = check("feature-fusion-ex-difference", lambda c: np.eye(c))
    assert not flat.correct and "shape" in flat.message


def test_feature_fusion_express():
    assert check("feature-fusion-ex-express", "A + 2 B").correct


def test_feature_fusion_bgr_is_what_least_squares_finds():
    from conv1x1 import data

    rows = data.sample_photo(32).reshape(-1, 3).astype(np.float64)
    luma = np.array([0.299, 0.587, 0.114])
    bgr = np.hstack([rows[:, ::-1], np.ones((len(rows), 1))])
    weights = np.linalg.lstsq(bgr, rows @ luma, rcond=None)[0][:3]
    np.testing.assert_allclose(weights, luma[::-1], atol=1e-9)
    right = [
        o for o in ff.BGR_OPTIONS if check("feature-fusion-ex-bgr", o).correct
    ]
    assert right == [ff.BGR_OPTIONS[1]] and "(0.114, 0.587, 0.299)" in right[0]


def test_feature_fusion_fuse_accepts_keras_and_finds_the_interleaving():
    import keras

    def keras_fuse(a, b, kernel, bias):
        layer = keras.layers.Conv2D(kernel.shape[1], 1, dtype="float64")
        both = keras.layers.Concatenate(dtype="float64")([a, b])
        layer.build(both.shape)
        layer.set_weights([kernel[None, None], bias])
        return keras.ops.convert_to_numpy(layer(both))

    assert check("feature-fusion-ex-fuse", keras_fuse).correct

    def interleaved(a, b, kernel, bias):  # the version shown in the chapter
        n, h, w, c = a.shape
        return (
            np.stack([a, b], axis=-1).reshape(n, h, w, 2 * c) @ kernel + bias
        )

    result = check("feature-fusion-ex-fuse", interleaved)
    assert not result.correct and "values differ" in result.message
    b_first = check(
        "feature-fusion-ex-fuse",
        lambda a, b, k, bias: np.concatenate([b, a], -1) @ k + bias,
    )
    assert not b_first.correct
    batch_axis = check(
        "feature-fusion-ex-fuse",
        lambda a, b, k, bias: np.concatenate([a, b], 0) @ k + bias,
    )
    assert not batch_axis.correct and "raised ValueError" in batch_axis.message

"""The conv1x1-cost command: totals against TensorFlow's profiler and closed
forms, uncounted layers listed, and every bad argument explained.

The installed command runs as a subprocess once (it imports TensorFlow, a
few seconds); the other cases call the same ``main`` in this process, which
is what the console script calls.
"""

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from conv1x1 import cli, modern

SCRIPT = Path(sys.executable).with_name("conv1x1-cost")
BOOK = Path(__file__).resolve().parents[1] / "book"


def run_command(*args):
    """The installed console script, as a reader runs it."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def run_main(capsys, *args):
    """``main`` in this process: (exit status, stdout, stderr)."""
    try:
        status = cli.main(list(args))
    except SystemExit as exit_:  # argparse refuses a malformed option
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def profiled_macs(model):
    """Half the float operations TensorFlow's graph profiler counts for the
    model's convolutions and matrix products (two per multiply-accumulate)."""
    ops = modern.profiler_float_ops(model)
    total = sum(
        ops.get(op, 0) for op in ("Conv2D", "DepthwiseConv2dNative", "MatMul")
    )
    assert total > 0 and total % 2 == 0
    return total // 2


def test_the_installed_command_counts_mobilenet_v2_as_tensorflow_does():
    result = run_command("MobileNetV2", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    model = keras.applications.MobileNetV2(weights=None)
    # Keras numbers the layers it names itself within a process (input_layer,
    # input_layer_1, ...); the command's fresh process had built none before.
    def unnumbered(name):
        return re.sub(r"_\d+$", "", name)

    totals = data["totals"]
    assert totals["macs"] == profiled_macs(model)
    assert totals["flops"] == 2 * totals["macs"]
    assert totals["params"] == model.count_params()
    assert totals["uncounted_layers"] == []
    assert data["input_shape"] == [224, 224, 3]
    assert [unnumbered(row["name"]) for row in data["layers"]] == [
        unnumbered(layer.name) for layer in model.layers
    ]
    assert sum(row["macs"] for row in data["layers"]) == totals["macs"]
    by_kind = data["by_kind"]
    assert sum(k["macs"] for k in by_kind.values()) == totals["macs"]
    assert by_kind["pointwise"]["layers"] == sum(
        1
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D)
        and not isinstance(layer, keras.layers.DepthwiseConv2D)
        and layer.kernel_size == (1, 1)
    )
    # The appendix shows part of this model's text output: it is the output.
    def row(line):
        words = line.split()
        return " ".join([unnumbered(words[0]), *words[1:]]) if words else ""

    printed = {row(line) for line in
               cli.render_text(cli.count_model(model)).splitlines()}
    page = (BOOK / "cost_counter.md").read_text()
    example = page.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    shown = [row(line) for line in example if line != "..."]
    assert len(shown) > 10
    assert [line for line in shown if line not in printed] == []


def test_an_unknown_name_is_refused_with_a_suggestion_and_no_traceback(capsys):
    status, out, err = run_main(capsys, "MobileNetV5")
    assert status == 2
    assert out == ""
    assert "Unknown model 'MobileNetV5'" in err
    assert "Did you mean" in err and "MobileNetV2" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["ResNet50", "EfficientNetB0"])
def test_totals_agree_with_tensorflows_profiler(capsys, name):
    status, out, err = run_main(
        capsys, name, "--input-shape", "64,64,3", "--json"
    )
    assert status == 0, err
    data = json.loads(out)
    model = getattr(keras.applications, name)(
        weights=None, input_shape=(64, 64, 3)
    )
    assert data["input_shape"] == [64, 64, 3]
    assert data["totals"]["macs"] == profiled_macs(model)
    assert data["totals"]["params"] == model.count_params()
    assert data["totals"]["uncounted_layers"] == []


@keras.saving.register_keras_serializable(package="test_cli")
class Scale(keras.layers.Layer):
    """A layer the counter does not know: a learned per-channel factor."""

    def build(self, input_shape):
        self.factor = self.add_weight(
            shape=(input_shape[-1],), initializer="ones"
        )

    def call(self, x):
        return x * self.factor


def grouped_model(input_shape=(12, 10, 8), name="grouped"):
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(16, 3, padding="same", groups=4, name="g3x3")(
        inputs
    )
    x = keras.layers.Conv2D(24, 1, groups=2, use_bias=False, name="g1x1")(x)
    x = keras.layers.Conv2D(
        24, 3, strides=2, padding="same", groups=24, name="per_channel"
    )(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(
        inputs, keras.layers.Dense(5, name="head")(x), name=name
    )


def grouped_closed_form(h, w):
    """Each output channel sees c_in / groups inputs over its k x k window."""
    h2, w2 = -(-h // 2), -(-w // 2)
    return (
        h * w * 3 * 3 * (8 // 4) * 16
        + h * w * (16 // 2) * 24
        + h2 * w2 * 3 * 3 * (24 // 24) * 24
        + 24 * 5
    )


def test_grouped_convolutions_from_a_file_match_the_closed_form(
    capsys, tmp_path
):
    path = tmp_path / "grouped.keras"
    grouped_model().save(path)
    status, out, err = run_main(capsys, str(path), "--csv")
    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sum(int(r["macs"]) for r in rows) == grouped_closed_form(12, 10)
    g1x1 = next(r for r in rows if r["name"] == "g1x1")
    assert (g1x1["kind"], int(g1x1["macs"]), int(g1x1["weights"])) == (
        "pointwise",
        12 * 10 * 8 * 24,
        8 * 24,
    )
    assert {r["name"]: r["kind"] for r in rows}["per_channel"] == "conv"


def test_a_model_of_unknown_size_needs_and_takes_an_input_shape(
    capsys, tmp_path
):
    path = tmp_path / "any_size.keras"
    grouped_model((None, None, 8), name="any_size").save(path)
    status, out, err = run_main(capsys, str(path))
    assert status == 2 and out == ""
    assert "(None, None, None, 8)" in err and "--input-shape" in err
    status, out, err = run_main(capsys, str(path), "--input-shape", "20x6x8")
    assert status == 0, err
    assert f"Total MACs: {grouped_closed_form(20, 6):,} " in out
    assert f"Total FLOPs: {2 * grouped_closed_form(20, 6):,} " in out
    assert 'Model: "any_size", input 20x6x8' in out


def test_unknown_layers_are_listed_as_uncounted_never_as_zero(
    capsys, tmp_path
):
    inputs = keras.Input((6, 6, 4))
    x = keras.layers.Conv2D(8, 1, name="mix")(inputs)
    x = Scale(name="scale")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    path = tmp_path / "custom.keras"
    model.save(path)
    status, out, err = run_main(capsys, str(path), "--json")
    assert status == 0, err
    data = json.loads(out)
    rows = {r["name"]: r for r in data["layers"]}
    assert (
        rows["scale"]["kind"] == "uncounted" and rows["scale"]["macs"] is None
    )
    assert rows["scale"]["params"] == 8
    assert data["totals"]["uncounted_layers"] == ["scale"]
    assert data["totals"]["macs"] == 6 * 6 * 4 * 8 + 8 * 3
    assert data["totals"]["params"] == model.count_params()
    status, out, _ = run_main(capsys, str(path))
    assert "Uncounted: 1 layer(s), not in the totals:" in out
    assert "  scale (Scale): " in out
    line = next(
        li for li in out.splitlines() if li.startswith("scale (Scale)")
    )
    assert line.split()[-2:] == ["uncounted", "uncounted"]


def test_attention_and_recurrent_layers_are_uncounted_with_a_reason():
    inputs = keras.Input((5, 8))
    x = keras.layers.MultiHeadAttention(2, 4, name="mha")(inputs, inputs)
    x = keras.layers.LSTM(3, name="memory")(x)
    count = cli.count_model(
        keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    )
    assert [r.name for r in count.uncounted] == ["mha", "memory"]
    assert all("attention" in r.note for r in count.uncounted)
    assert count.macs == 3 * 2
    assert "Uncounted: none" in cli.render_text(
        cli.count_model(grouped_model())
    )


def test_a_layer_called_twice_is_uncounted_not_counted_once(tmp_path, capsys):
    inputs = keras.Input((6,))
    shared = keras.layers.Dense(6, name="shared")
    once = keras.layers.Dense(4, name="once")
    count = cli.count_model(keras.Model(inputs, once(shared(shared(inputs)))))
    assert [(r.name, r.note[:14]) for r in count.uncounted] == [
        ("shared", "called 2 times")
    ]
    assert count.macs == 6 * 4
    # A wrapper around a free layer is free; a Sequential is resized.
    frames = keras.Input((3, 5, 5, 2))
    x = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 1))(frames)
    x = keras.layers.TimeDistributed(keras.layers.Dropout(0.5))(x)
    count = cli.count_model(keras.Model(frames, x))
    assert count.uncounted == () and count.macs == 3 * 5 * 5 * 2 * 4
    path = tmp_path / "seq.keras"
    keras.Sequential(
        [keras.Input((None, None, 3)), keras.layers.Conv2D(4, 3)]
    ).save(path)
    status, out, err = run_main(capsys, str(path), "--input-shape", "10,9,3")
    assert status == 0, err
    assert f"Total MACs: {8 * 7 * 9 * 3 * 4:,} (6.0 K)" in out


def test_a_file_that_is_not_a_keras_model(capsys, tmp_path):
    for name in ("notes.keras", "notes.txt"):
        path = tmp_path / name
        path.write_text("not a model")
        status, out, err = run_main(capsys, str(path))
        assert status == 2 and out == ""
        assert (
            f"'{path}' is not a Keras model" in err and "Traceback" not in err
        )
    status, _, err = run_main(capsys, str(tmp_path))
    assert status == 2 and "is a folder" in err
    status, _, err = run_main(capsys, str(tmp_path / "missing.keras"))
    assert status == 2 and "No such file" in err


@pytest.mark.parametrize(
    "args, words",
    [
        (["NoSuchNet"], "Known names: ConvNeXtBase"),
        (["resnet50"], "Did you mean ResNet50?"),
        (["MobileNetV2", "--input-shape", "8,8,3"], "at least 32x32"),
    ],
)
def test_bad_model_names_and_sizes_are_explained(capsys, args, words):
    status, out, err = run_main(capsys, *args)
    assert status == 2 and out == ""
    assert words in err and err.startswith("conv1x1-cost: error: ")


@pytest.mark.parametrize(
    "args, words",
    [
        (
            ["MobileNetV2", "--input-shape", "224,abc"],
            "expected positive sizes",
        ),
        (
            ["MobileNetV2", "--input-shape", "0,224,3"],
            "expected positive sizes",
        ),
        (["MobileNetV2", "--csv", "--json"], "not allowed with"),
        ([], "the following arguments are required: model"),
    ],
)
def test_malformed_options_are_refused_before_anything_is_built(
    capsys, args, words
):
    status, out, err = run_main(capsys, *args)
    assert status == 2 and out == "" and words in err


def test_an_input_shape_of_the_wrong_rank(capsys, tmp_path):
    path = tmp_path / "g.keras"
    grouped_model().save(path)
    status, _, err = run_main(capsys, str(path), "--input-shape", "12,10")
    assert status == 2 and "needs 3" in err


def test_the_appendix_names_every_layer_the_counter_calls_free():
    page = (BOOK / "cost_counter.md").read_text()
    missing = [name for name in cli.ZERO_MAC_LAYERS if f"`{name}`" not in page]
    assert not missing, missing

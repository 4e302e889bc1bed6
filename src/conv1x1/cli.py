"""The ``conv1x1-cost`` command: what a Keras model costs, layer by layer.

Usage::

    conv1x1-cost MobileNetV2                     # a keras.applications name
    conv1x1-cost path/to/model.keras             # a saved Keras model
    conv1x1-cost ResNet50 --input-shape 160,160,3
    conv1x1-cost model.keras --csv > cost.csv    # or --json

It prints a table like ``model.summary()`` with each layer's
multiply-accumulates (MACs) and kind, then the totals in MACs and in FLOPs
(two per MAC). Applications are built with ``weights=None``: nothing is
downloaded. The counts are :mod:`conv1x1.cost`'s: MACs for one input
sample; convolutions, depthwise and separable convolutions, dense and
einsum layers are counted; layers known to do no multiplications that the
course counts (normalization, activations, element-wise arithmetic,
pooling, reshaping) cost zero. Every other layer is listed as *uncounted*:
its MACs are not in the totals, and the output says so.

Bad arguments (an unknown model name, a file that is not a Keras model, a
model whose input size is unknown) get a message on stderr and exit
status 2.

Introduced in the appendix "Count the cost of your own model".
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import json
import os
import sys
from dataclasses import asdict, dataclass

__all__ = ["ZERO_MAC_LAYERS", "LayerRow", "ModelCount", "CommandError",
           "count_model", "load_model", "parse_input_shape", "render_text",
           "render_csv", "render_json", "main"]

#: Keras layers that the course counts as free: no multiplication of an
#: activation by a weight, or one per element at most (normalization,
#: activations, element-wise arithmetic, pooling, resampling, reshaping,
#: regularization that is inactive at inference).
ZERO_MAC_LAYERS = (
    "InputLayer", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
    "Concatenate", "BatchNormalization", "LayerNormalization",
    "GroupNormalization", "UnitNormalization", "Normalization", "Rescaling",
    "Resizing", "CenterCrop", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "GaussianDropout", "GaussianNoise", "AlphaDropout", "ActivityRegularization",
    "Reshape", "Flatten", "Permute", "RepeatVector", "ZeroPadding1D",
    "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "Identity", "Masking",
    "Embedding",
)

#: Layers of keras.applications that are not in keras.layers, all
#: element-wise: ConvNeXt's per-channel scale and InceptionResNetV2's scaled
#: residual sum. (module, class name).
_APPLICATION_LAYERS = (
    ("keras.src.applications.convnext", "LayerScale"),
    ("keras.src.applications.inception_resnet_v2", "CustomScaleLayer"),
)

#: The exit status for a bad argument (as argparse uses).
USAGE_ERROR = 2


class CommandError(Exception):
    """A bad argument: its message is printed, and the command exits with 2."""


@dataclass(frozen=True)
class LayerRow:
    """One row of the table.

    ``macs`` is None for an uncounted layer, whose ``kind`` is "uncounted"
    and whose ``note`` says why. A separable convolution gives two rows.
    """

    name: str
    type: str
    output_shape: str
    kind: str
    params: int
    weights: int
    macs: int | None
    note: str = ""


@dataclass(frozen=True)
class ModelCount:
    """A model's rows and totals; ``macs`` leaves out the uncounted layers."""

    model: str
    input_shape: tuple
    rows: tuple[LayerRow, ...]

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows if r.macs is not None)

    @property
    def flops(self) -> int:
        """Floating-point operations: a multiply and an add per MAC."""
        return 2 * self.macs

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def weights(self) -> int:
        return sum(r.weights for r in self.rows)

    @property
    def uncounted(self) -> tuple[LayerRow, ...]:
        return tuple(r for r in self.rows if r.macs is None)

    def by_kind(self) -> dict[str, dict[str, int]]:
        """Layers, MACs, weights and parameters of each kind present."""
        kinds: dict[str, dict[str, int]] = {}
        for r in self.rows:
            entry = kinds.setdefault(r.kind, dict(layers=0, macs=0, weights=0,
                                                  params=0))
            entry["layers"] += 1
            entry["macs"] += r.macs or 0
            entry["weights"] += r.weights
            entry["params"] += r.params
        return kinds


# --------------------------------------------------------------------------
# Counting.

def _zero_mac_types():
    import importlib

    import keras

    types = [getattr(keras.layers, n) for n in ZERO_MAC_LAYERS
             if hasattr(keras.layers, n)]
    for module, name in _APPLICATION_LAYERS:
        try:
            types.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(types)


def _shape_text(layer) -> str:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return "?"
    return str(tuple(shape)) if not isinstance(shape, list) else str(shape)


def _calls(model, layer) -> int:
    """How many times ``model`` calls ``layer`` (1 when Keras keeps no record)."""
    graph = getattr(model, "_functional", None) or model   # a Sequential's graph
    nodes = getattr(graph, "_nodes", None)
    if not nodes:
        return 1
    prefix = f"{id(layer)}_ib-"      # Keras's key for each call of a layer
    return max(1, sum(1 for key in nodes if str(key).startswith(prefix)))


def _leaf_rows(layer, prefix: str, zero_types, calls: int = 1) -> list[LayerRow]:
    import keras

    from conv1x1 import cost

    name = prefix + layer.name
    kind_name = type(layer).__name__
    shape = _shape_text(layer) if calls == 1 else "(several)"
    params = layer.count_params() if layer.built else 0
    if calls > 1:
        return [LayerRow(name, kind_name, shape, "uncounted", params, 0, None,
                         f"called {calls} times, each call on its own shapes; "
                         "count it once per call by hand")]
    inner = layer.layer if isinstance(layer, keras.layers.TimeDistributed) else layer
    if isinstance(layer, cost._uncounted_types()):
        return [LayerRow(name, kind_name, shape, "uncounted", params, 0, None,
                         "multiplies activations by each other (attention, "
                         "recurrence); count it by hand")]
    if isinstance(inner, zero_types):
        return [LayerRow(name, kind_name, shape, "other", params, 0, 0)]
    try:
        records = cost._layer_records(layer, prefix)
    except ValueError as err:
        return [LayerRow(name, kind_name, shape, "uncounted", params, 0, None,
                         str(err).split(". ")[0])]
    if len(records) == 1 and records[0].kind == "other":
        # cost gives zero to every layer it does not know: not here.
        return [LayerRow(name, kind_name, shape, "uncounted", params, 0, None,
                         "a layer the counter does not know; count it by hand")]
    return [LayerRow(r.name, kind_name, shape, r.kind, r.params, r.weights, r.macs)
            for r in records]


def _walk(model, prefix: str, zero_types) -> list[LayerRow]:
    import keras

    rows = []
    for layer in model.layers:
        calls = _calls(model, layer)
        if isinstance(layer, keras.Model) and calls == 1:
            rows.extend(_walk(layer, prefix + layer.name + "/", zero_types))
        else:
            rows.extend(_leaf_rows(layer, prefix, zero_types, calls))
    return rows


def count_model(model) -> ModelCount:
    """Count a built Keras model layer by layer.

    Layers :mod:`conv1x1.cost` counts get their MACs; layers in
    :data:`ZERO_MAC_LAYERS` get zero; every other layer gets ``macs=None``
    and kind "uncounted", so that no layer is given zero silently.

    Raises:
        CommandError: if ``model`` is not a Keras model, is not built, or
            its input size is unknown.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise CommandError(f"Expected a Keras model; received "
                           f"{type(model).__name__}.")
    if not model.built:
        raise CommandError(
            f"Model {model.name!r} is not built, so its layers have no shapes. "
            "Save it after calling it on data, or build it from keras.Input.")
    shapes = [tuple(t.shape) for t in model.inputs]
    for shape in shapes:
        if any(d is None for d in shape[1:]):
            raise CommandError(
                f"Model {model.name!r} takes inputs of shape {shape}: their size "
                "is unknown, and MACs depend on it. Pass --input-shape, e.g. "
                "--input-shape 224,224,3.")
    rows = _walk(model, "", _zero_mac_types())
    input_shape = shapes[0][1:] if len(shapes) == 1 else tuple(s[1:] for s in shapes)
    return ModelCount(model.name, input_shape, tuple(rows))


# --------------------------------------------------------------------------
# Loading.

def parse_input_shape(text: str) -> tuple[int, ...]:
    """``"224,224,3"`` or ``"224x224x3"`` as a tuple of positive ints."""
    parts = text.replace("x", ",").replace("X", ",").split(",")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise argparse.ArgumentTypeError(
            f"expected positive sizes separated by commas, such as 224,224,3; "
            f"received {text!r}")
    return shape


def _application_names() -> list[str]:
    import keras

    return sorted(n for n in dir(keras.applications)
                  if n[:1].isupper() and callable(getattr(keras.applications, n)))


def _looks_like_a_path(spec: str) -> bool:
    return (os.sep in spec or "/" in spec
            or spec.lower().endswith((".keras", ".h5", ".hdf5", ".zip")))


def _resized(model, input_shape):
    """A copy of ``model`` (a single-input model) taking ``input_shape``."""
    import keras

    if len(model.inputs) != 1:
        raise CommandError(
            f"--input-shape gives one input's shape, and model {model.name!r} "
            f"has {len(model.inputs)} inputs.")
    old = tuple(model.inputs[0].shape)[1:]
    if old == tuple(input_shape):
        return model
    if len(old) != len(input_shape):
        raise CommandError(
            f"--input-shape {','.join(map(str, input_shape))} has "
            f"{len(input_shape)} sizes; model {model.name!r} takes inputs of "
            f"shape {(None, *old)}, which needs {len(old)}.")
    try:
        return keras.models.clone_model(
            model, input_tensors=keras.Input(shape=input_shape))
    except Exception as err:  # Keras raises many kinds for a shape that does not fit
        raise CommandError(
            f"Model {model.name!r} cannot take inputs of shape "
            f"{(None, *input_shape)}: {err}".rstrip()) from None


def load_model(spec: str, input_shape=None):
    """The model a command line names: an application or a ``.keras`` file.

    Raises:
        CommandError: for an unknown name, a missing file, a file that is
            not a Keras model, or an input shape the model cannot take.
    """
    import keras

    if os.path.exists(spec):
        if os.path.isdir(spec):
            raise CommandError(
                f"{spec!r} is a folder, not a Keras model file. Save a model with "
                "model.save('model.keras') and pass that file.")
        try:
            model = keras.saving.load_model(spec, compile=False)
        except Exception as err:  # Keras raises many kinds for a bad file
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise CommandError(
                f"{spec!r} is not a Keras model that can be loaded "
                f"({type(err).__name__}: {first[:300]}). Save a model with "
                "model.save('model.keras'); a model with custom layers needs "
                "them registered with keras.saving.register_keras_serializable."
            ) from None
        if not isinstance(model, keras.Model):
            raise CommandError(f"{spec!r} holds a {type(model).__name__}, not a "
                               "Keras model.")
        return _resized(model, input_shape) if input_shape else model
    if _looks_like_a_path(spec):
        raise CommandError(f"No such file: {spec!r}.")
    names = _application_names()
    if spec not in names:
        by_case = [n for n in names if n.lower() == spec.lower()]
        close = by_case or difflib.get_close_matches(spec, names, n=3, cutoff=0.6)
        hint = (f" Did you mean {' or '.join(close)}?" if close else
                f" Known names: {', '.join(names)}.")
        raise CommandError(
            f"Unknown model {spec!r}: neither a file nor a keras.applications "
            f"name.{hint}")
    builder = getattr(keras.applications, spec)
    kwargs = {"weights": None}
    if input_shape:
        kwargs["input_shape"] = tuple(input_shape)
    try:
        return builder(**kwargs)
    except ValueError as err:
        raise CommandError(f"keras.applications.{spec} cannot be built with "
                           f"{kwargs}: {err}") from None


# --------------------------------------------------------------------------
# Output.

def _millions(n: int) -> str:
    """``n`` in G, M or K, for reading; the exact count stands beside it."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.{2 if unit == 'G' else 1}f} {unit}"
    return f"{n}"


def render_text(count: ModelCount) -> str:
    """The table and totals, as the command prints them."""
    header = ("Layer (type)", "Output Shape", "Param #", "MACs", "Kind")
    lines = [(f"{r.name} ({r.type})", r.output_shape, f"{r.params:,}",
              "uncounted" if r.macs is None else f"{r.macs:,}", r.kind)
             for r in count.rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(header)]

    def fmt(cells):
        return "  ".join(c.rjust(w) if i in (2, 3) else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "-" * len(fmt(header))
    shape = "x".join(map(str, count.input_shape)) if all(
        isinstance(d, int) for d in count.input_shape) else str(count.input_shape)
    out = [f'Model: "{count.model}", input {shape}, MACs for one sample',
           rule, fmt(header), rule, *map(fmt, lines), rule]
    total = count.macs
    out.append(f"Total params: {count.params:,} (kernel weights: "
               f"{count.weights:,})")
    out.append(f"Total MACs: {total:,} ({_millions(total)})")
    out.append(f"Total FLOPs: {count.flops:,} ({_millions(count.flops)}), "
               "2 per MAC")
    kinds = count.by_kind()
    shares = ", ".join(f"{k} {100 * v['macs'] / total:.1f}%"
                       for k, v in kinds.items() if v["macs"] and total)
    if shares:
        out.append(f"MACs by kind: {shares}")
    if count.uncounted:
        out.append(f"Uncounted: {len(count.uncounted)} layer(s), not in the "
                   "totals:")
        out.extend(f"  {r.name} ({r.type}): {r.note}" for r in count.uncounted)
    else:
        out.append("Uncounted: none")
    return "\n".join(out)


_CSV_FIELDS = ("name", "type", "output_shape", "kind", "params", "weights", "macs")


def render_csv(count: ModelCount) -> str:
    """One line per row; an uncounted layer's MACs are left empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_CSV_FIELDS)
    for r in count.rows:
        writer.writerow([r.name, r.type, r.output_shape, r.kind, r.params,
                         r.weights, "" if r.macs is None else r.macs])
    return buffer.getvalue().rstrip("\n")


def render_json(count: ModelCount) -> str:
    """Rows, totals and the totals by kind; uncounted MACs are null."""
    return json.dumps({
        "model": count.model,
        "input_shape": list(count.input_shape),
        "units": "MACs for one input sample; FLOPs = 2 x MACs",
        "layers": [asdict(r) for r in count.rows],
        "totals": {"params": count.params, "weights": count.weights,
                   "macs": count.macs, "flops": count.flops,
                   "uncounted_layers": [r.name for r in count.uncounted]},
        "by_kind": count.by_kind(),
    }, indent=2)


# --------------------------------------------------------------------------
# The command.

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conv1x1-cost",
        description="Count the multiply-accumulates (MACs), FLOPs (2 per MAC) "
        "and parameters of a Keras model, layer by layer.",
        epilog="Examples: conv1x1-cost MobileNetV2; conv1x1-cost model.keras "
        "--input-shape 224,224,3 --json")
    parser.add_argument("model", help="a keras.applications name (built with "
                        "weights=None, nothing is downloaded) or a .keras file")
    parser.add_argument("--input-shape", type=parse_input_shape, metavar="H,W,C",
                        help="the input's shape without the batch axis, for a "
                        "model whose input size is unknown or to count another "
                        "size")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true", help="one CSV line per layer")
    output.add_argument("--json", action="store_true",
                        help="layers and totals as JSON")
    return parser


def main(argv=None) -> int:
    """Run the command; returns the exit status (0, or 2 for a bad argument)."""
    args = _parser().parse_args(argv)
    from conv1x1.environment import quiet_tensorflow

    quiet_tensorflow()
    try:
        count = count_model(load_model(args.model, args.input_shape))
    except CommandError as err:
        print(f"conv1x1-cost: error: {err}", file=sys.stderr)
        return USAGE_ERROR
    render = render_csv if args.csv else render_json if args.json else render_text
    print(render(count))
    return 0


if __name__ == "__main__":  # pragma: no cover - python -m conv1x1.cli
    sys.exit(main())

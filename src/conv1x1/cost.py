"""What convolutions cost: parameter and multiply-accumulate (MAC) counts.

The course counts multiply-accumulates for one input sample everywhere: one
MAC is one multiplication and the addition that accumulates it. Papers that
say "mult-adds" (MobileNet) or "FLOPs (multiply-adds)" (ResNet, SENet) count
the same thing. Bias additions, batch normalization, activations and pooling
are not counted, as in those papers: they are a small fraction of the work
and batch normalization folds into the preceding convolution at inference.

Two kinds of function live here:

* formulas (:func:`conv_output_size`, :func:`conv_macs`, :func:`conv_params`)
  that take shapes and return numbers, derived in the structure chapter;
* :func:`layer_costs` and :func:`cost_table`, which walk a Keras 3 model and
  apply the formulas layer by layer, as MobileNet's Table 2 does.

Introduced in the chapter "The structure of a 1x1 convolution".
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from conv1x1._checks import boolean, positive_int

__all__ = [
    "KINDS",
    "LayerCost",
    "CostRow",
    "CostTable",
    "conv_output_size",
    "conv_macs",
    "conv_params",
    "layer_costs",
    "cost_table",
]

#: The kinds of layer that :func:`layer_costs` tells apart, in table order.
KINDS = ("pointwise", "conv", "depthwise", "dense", "other")


def _pair(value, name: str) -> tuple[int, int]:
    """Normalise an int or a pair of ints, as Keras does for kernel_size."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(
                f"Expected {name} to be an int or a pair (height, width); "
                f"received {value!r}."
            )
        return (positive_int(value[0], name), positive_int(value[1], name))
    value = positive_int(value, name)
    return (value, value)


def conv_output_size(size: int, kernel_size: int = 1, stride: int = 1,
                     padding: str = "same") -> int:
    """Output length along one spatial axis of a convolution or pooling.

    ``"same"`` padding gives ceil(size / stride); ``"valid"`` gives
    floor((size - kernel_size) / stride) + 1, as in Keras.

    Raises:
        ValueError: for a non-positive size, kernel or stride, an unknown
            padding, or a "valid" kernel larger than the input.
    """
    size = positive_int(size, "size")
    kernel_size = positive_int(kernel_size, "kernel_size")
    stride = positive_int(stride, "stride")
    if padding == "same":
        return math.ceil(size / stride)
    if padding == "valid":
        if kernel_size > size:
            raise ValueError(
                f"A {kernel_size}-wide kernel with 'valid' padding does not fit an "
                f"input of size {size}; use a larger input or padding='same'."
            )
        return (size - kernel_size) // stride + 1
    raise ValueError(
        f"Expected padding to be 'same' or 'valid'; received {padding!r}."
    )


def _check_groups(c_in: int, c_out: int, groups: int) -> None:
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"groups={groups} must divide both c_in={c_in} and c_out={c_out}; "
            "choose a number of groups that divides the channel counts."
        )


def conv_params(c_in: int, c_out: int, kernel_size=1, groups: int = 1,
                bias: bool = True) -> int:
    """Number of parameters of a 2-D convolution.

    Each of the ``c_out`` filters sees ``c_in / groups`` input channels over a
    ``k_h x k_w`` window, plus one bias each:
    ``k_h * k_w * (c_in / groups) * c_out (+ c_out)``. A 1x1 convolution has
    ``c_in * c_out + c_out``.

    Raises:
        ValueError: for channel counts, kernel sizes or groups that are not
            positive integers, groups that do not divide both channel
            counts, or a ``bias`` other than True or False.
    """
    c_in = positive_int(c_in, "c_in")
    c_out = positive_int(c_out, "c_out")
    groups = positive_int(groups, "groups")
    k_h, k_w = _pair(kernel_size, "kernel_size")
    bias = boolean(bias, "bias")
    _check_groups(c_in, c_out, groups)
    return k_h * k_w * (c_in // groups) * c_out + (c_out if bias else 0)


def conv_macs(height: int, width: int, c_in: int, c_out: int, kernel_size=1,
              stride=1, groups: int = 1, padding: str = "same") -> int:
    """Multiply-accumulates of a 2-D convolution on one input sample.

    ``height`` and ``width`` are the input's spatial size. Every output
    position computes ``c_out`` dot products of length
    ``k_h * k_w * c_in / groups``, so the count is
    ``H_out * W_out * k_h * k_w * (c_in / groups) * c_out``; a 1x1 convolution
    with stride 1 costs ``H * W * c_in * c_out``. ``kernel_size`` and
    ``stride`` are an int or a pair (height, width), as in Keras.

    Raises:
        ValueError: for sizes, channel counts, kernels, strides or groups
            that are not positive integers, groups that do not divide both
            channel counts, an unknown padding, or a "valid" kernel larger
            than the input.
    """
    height = positive_int(height, "height")
    width = positive_int(width, "width")
    k_h, k_w = _pair(kernel_size, "kernel_size")
    s_h, s_w = _pair(stride, "stride")
    c_in = positive_int(c_in, "c_in")
    c_out = positive_int(c_out, "c_out")
    groups = positive_int(groups, "groups")
    _check_groups(c_in, c_out, groups)
    h_out = conv_output_size(height, k_h, s_h, padding)
    w_out = conv_output_size(width, k_w, s_w, padding)
    return h_out * w_out * k_h * k_w * (c_in // groups) * c_out


@dataclass(frozen=True)
class LayerCost:
    """The cost of one layer (or one half of a separable convolution).

    Attributes:
        name: the layer's name; nested models prefix it with "outer/".
        kind: one of :data:`KINDS`.
        macs: multiply-accumulates for one input sample.
        weights: kernel entries (the numbers that multiply activations).
        params: all of the layer's parameters as Keras counts them
            (biases and batch-normalization statistics included).
    """

    name: str
    kind: str
    macs: int
    weights: int
    params: int


def _spatial(shape) -> int:
    """Product of the axes between batch and channels of a Keras shape."""
    dims = tuple(shape)[1:-1]
    if any(d is None for d in dims):
        raise ValueError(
            f"Cannot count MACs for an output of shape {tuple(shape)} with an "
            "unknown spatial size; build the model with a fixed input_shape."
        )
    return math.prod(dims)


def _io_shapes(layer, shapes=None):
    """``(input shape, output shape)`` of a layer called once (or ``shapes``)."""
    if shapes is not None:
        return shapes
    try:
        return tuple(layer.input.shape), tuple(layer.output.shape)
    except (AttributeError, ValueError) as err:
        raise ValueError(
            f"Layer {layer.name!r} has no single input and output shape ({err}). "
            "layer_costs needs a model whose layers have been called once on "
            "symbolic inputs: build it with keras.Input(shape=...) or pass "
            "input_shape to keras.applications."
        ) from None


def _kernel_size(layer) -> int:
    return math.prod(layer.kernel_size)


def _uncounted_types():
    """Layers that multiply but whose MACs :func:`layer_costs` does not count."""
    import keras

    # Subclasses are refused with their parent (AdditiveAttention is an
    # Attention; LSTM, GRU and SimpleRNN are RNNs).
    names = ("MultiHeadAttention", "GroupQueryAttention", "Attention", "RNN",
             "Bidirectional", "Dot")
    return tuple(getattr(keras.layers, n) for n in names if hasattr(keras.layers, n))


def _axis_keys(term: str, rank: int) -> list[str]:
    """The index of every axis of an einsum operand; "..." axes get keys of their own."""
    if "..." not in term:
        return list(term)
    before, after = term.split("...")
    return [*before, *(f"...{i}" for i in range(rank - len(before) - len(after))),
            *after]


def _einsum_records(layer, name: str, params: int, shapes=None) -> list[LayerCost]:
    """An ``EinsumDense``: one MAC for every combination of its equation's indices.

    A contraction such as ``"abc,cd->abd"`` multiplies and accumulates once
    for every value of every index, so its MACs per sample are the product of
    the sizes of all indices but the batch axis (the input's first).
    """
    in_shape, _ = _io_shapes(layer, shapes)
    kernel_shape = tuple(layer.kernel.shape)
    operands, _ = layer.equation.split("->")
    lhs, rhs = operands.split(",")
    # The kernel's term has no "...": its letters name its axes one by one.
    sizes = dict(zip(rhs, kernel_shape))
    # The input's first axis is the batch, left out of a per-sample count.
    sizes.update(zip(_axis_keys(lhs, len(in_shape))[1:], in_shape[1:]))
    if any(d is None for d in sizes.values()):
        raise ValueError(
            f"Cannot count MACs for layer {name!r} ({type(layer).__name__}) with "
            f"input shape {in_shape}: a size other than the batch is unknown. Build "
            "the model with a fixed input shape."
        )
    weights = math.prod(kernel_shape)
    return [LayerCost(name, "dense", math.prod(sizes.values()), weights, params)]


def _layer_records(layer, prefix: str, shapes=None) -> list[LayerCost]:
    import keras

    name = prefix + layer.name
    if isinstance(layer, keras.Model):
        records = []
        for inner in layer.layers:
            records.extend(_layer_records(inner, name + "/"))
        return records
    if isinstance(layer, keras.layers.InputLayer):
        return []
    if isinstance(layer, _uncounted_types()):
        raise ValueError(
            f"layer_costs cannot count the multiply-accumulates of layer {name!r} "
            f"({type(layer).__name__}): it counts convolutions, dense and einsum "
            "layers, and layers without multiplications. Count that layer by hand, "
            "or pass a model without it."
        )
    if isinstance(layer, keras.layers.TimeDistributed):
        # The wrapped layer runs once per time step, on the shape without time.
        in_shape, out_shape = _io_shapes(layer)
        steps = in_shape[1]
        if steps is None:
            raise ValueError(
                f"Cannot count MACs for layer {name!r} (TimeDistributed) with input "
                f"shape {in_shape}: the number of time steps is unknown. Build the "
                "model with a fixed input shape."
            )
        inner_shapes = ((None, *in_shape[2:]), (None, *out_shape[2:]))
        return [LayerCost(r.name, r.kind, r.macs * steps, r.weights, r.params)
                for r in _layer_records(layer.layer, name + "/", inner_shapes)]

    params = layer.count_params()
    if isinstance(layer, keras.layers.EinsumDense):
        return _einsum_records(layer, name, params, shapes)
    if isinstance(layer, (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)):
        in_shape, out_shape = _io_shapes(layer, shapes)
        positions = _spatial(out_shape)
        c_in = in_shape[-1]
        c_mid = c_in * layer.depth_multiplier
        dw_weights = _kernel_size(layer) * c_mid
        pw_weights = c_mid * layer.filters
        return [
            LayerCost(name + "/depthwise", "depthwise", positions * dw_weights,
                      dw_weights, dw_weights),
            LayerCost(name + "/pointwise", "pointwise", positions * pw_weights,
                      pw_weights, params - dw_weights),
        ]
    if isinstance(layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)):
        in_shape, out_shape = _io_shapes(layer, shapes)
        weights = _kernel_size(layer) * in_shape[-1] * layer.depth_multiplier
        return [LayerCost(name, "depthwise", _spatial(out_shape) * weights,
                          weights, params)]
    transposed = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                  keras.layers.Conv3DTranspose)
    if isinstance(layer, transposed):
        in_shape, _ = _io_shapes(layer, shapes)
        weights = _kernel_size(layer) * in_shape[-1] * layer.filters
        # Every input position scatters into a k x k window: MACs follow the input.
        return [LayerCost(name, "conv", _spatial(in_shape) * weights, weights, params)]
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
        in_shape, out_shape = _io_shapes(layer, shapes)
        weights = _kernel_size(layer) * (in_shape[-1] // layer.groups) * layer.filters
        positions = _spatial(out_shape)
        if _kernel_size(layer) != 1:
            kind = "conv"
        elif positions == 1 and _spatial(in_shape) == 1:
            # A 1x1 convolution on a 1x1 map is a fully connected layer
            # (Keras's MobileNet classifier, squeeze-and-excitation blocks).
            kind = "dense"
        else:
            kind = "pointwise"
        return [LayerCost(name, kind, positions * weights, weights, params)]
    if isinstance(layer, keras.layers.Dense):
        in_shape, out_shape = _io_shapes(layer, shapes)
        weights = in_shape[-1] * layer.units
        # Applied at every position of a feature map (at one, for a vector).
        return [LayerCost(name, "dense", _spatial(out_shape) * weights, weights, params)]
    return [LayerCost(name, "other", 0, 0, params)]


def layer_costs(model) -> list[LayerCost]:
    """One :class:`LayerCost` per layer of a Keras 3 model, in model order.

    Nested models (a ``Sequential`` inside a functional model, a backbone
    inside a detector) are walked recursively and their layers' names are
    prefixed with the nested model's name. A ``SeparableConv2D`` gives two
    records, its depthwise and its pointwise half. Layers without
    multiplications (batch normalization, activations, pooling, reshapes)
    are kind ``"other"`` with zero MACs; their parameters still count.

    A 1x1 convolution applied to a 1x1 spatial map is recorded as
    ``"dense"``: it computes exactly what a fully connected layer computes,
    and papers count it as one. An ``EinsumDense`` is ``"dense"`` too, with
    one MAC per combination of its equation's indices; a ``TimeDistributed``
    layer costs its wrapped layer once per time step.

    Layers that multiply activations by each other (attention, recurrent
    cells, ``Dot``) are refused rather than counted as free.

    Raises:
        ValueError: if ``model`` is not a Keras model, a layer's shapes are
            unknown (a model that was never built on an input shape), or a
            layer is one whose MACs are not counted (MultiHeadAttention,
            Attention, recurrent layers, Dot): the message names it.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(
            f"Expected a keras.Model; received {type(model).__name__}. Wrap a "
            "single layer in keras.Sequential([keras.Input(shape), layer])."
        )
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} is not built, so its layers have no shapes. "
            "Start it with keras.Input(shape=...) or call model.build(input_shape)."
        )
    records = []
    for layer in model.layers:
        records.extend(_layer_records(layer, ""))
    return records


@dataclass(frozen=True)
class CostRow:
    """Totals for one kind of layer, with shares of the whole model in %."""

    kind: str
    layers: int
    macs: int
    weights: int
    params: int
    macs_pct: float
    weights_pct: float
    params_pct: float


@dataclass(frozen=True)
class CostTable:
    """Costs grouped by kind of layer, as in MobileNet's Table 2."""

    rows: tuple[CostRow, ...]
    total_macs: int
    total_weights: int
    total_params: int

    def row(self, kind: str) -> CostRow:
        """The row for ``kind``; a kind the model lacks has a row of zeros."""
        for row in self.rows:
            if row.kind == kind:
                return row
        raise ValueError(f"Expected one of {KINDS}; received {kind!r}.")

    def _lines(self):
        header = ("kind", "layers", "MACs", "MACs %", "weights", "weights %",
                  "params", "params %")
        body = [(r.kind, f"{r.layers}", f"{r.macs:,}", f"{r.macs_pct:.2f}",
                 f"{r.weights:,}", f"{r.weights_pct:.2f}", f"{r.params:,}",
                 f"{r.params_pct:.2f}") for r in self.rows if r.layers]
        total = ("total", f"{sum(r.layers for r in self.rows)}",
                 f"{self.total_macs:,}", "100.00", f"{self.total_weights:,}",
                 "100.00", f"{self.total_params:,}", "100.00")
        return header, body, total

    def __str__(self) -> str:
        header, body, total = self._lines()
        table = [header, *body, total]
        widths = [max(len(line[i]) for line in table) for i in range(len(header))]
        fmt = lambda line: "  ".join(  # noqa: E731
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths)))
        return "\n".join(fmt(line) for line in table)

    def _repr_html_(self) -> str:
        header, body, total = self._lines()
        cells = lambda line, tag: "".join(  # noqa: E731
            f"<{tag}>{html.escape(c)}</{tag}>" for c in line)
        rows = "".join(f"<tr>{cells(line, 'td')}</tr>" for line in body)
        return (f"<table><thead><tr>{cells(header, 'th')}</tr></thead><tbody>{rows}"
                f"<tr><th>{'</th><th>'.join(total)}</th></tr></tbody></table>")


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def cost_table(model) -> CostTable:
    """Group :func:`layer_costs` by kind, with totals and percentages.

    Rows come in the order of :data:`KINDS`. Percentages are of the model's
    total MACs, kernel weights and parameters.
    """
    records = layer_costs(model)
    total_macs = sum(r.macs for r in records)
    total_weights = sum(r.weights for r in records)
    total_params = sum(r.params for r in records)
    rows = []
    for kind in KINDS:
        mine = [r for r in records if r.kind == kind]
        macs = sum(r.macs for r in mine)
        weights = sum(r.weights for r in mine)
        params = sum(r.params for r in mine)
        rows.append(CostRow(kind, len(mine), macs, weights, params,
                            _pct(macs, total_macs), _pct(weights, total_weights),
                            _pct(params, total_params)))
    return CostTable(tuple(rows), total_macs, total_weights, total_params)

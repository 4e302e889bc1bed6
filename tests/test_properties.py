"""Properties that hold for every input, checked on random ones with Hypothesis.

* The 1x1 convolution (``ops.pointwise_conv``) is the matrix product of every
  pixel's channel vector with the kernel: it equals numpy's ``einsum``,
  Keras's ``Conv2D(kernel_size=1)`` and ``Dense`` on random shapes, it is
  linear, and it commutes with any permutation of the pixels.
* ``cost.conv_macs`` and ``cost.conv_params`` agree with ``cost.layer_costs``
  and Keras's ``count_params`` on random Keras layers (kernel, stride,
  padding, groups, depthwise, separable).
* The answer parsers of the exercises, on any text, return a value or raise
  ``ValueError`` with a message, and never evaluate the text.

Properties that build Keras layers run fewer examples (they cost tens of
milliseconds each); the whole file runs in well under 30 seconds.
"""

import builtins
import contextlib
import math

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conv1x1 import cost, ops
from conv1x1.exercises import parse_number, parse_shape

NUMPY = settings(max_examples=100, deadline=None)
KERAS = settings(max_examples=25, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
TEXT = settings(max_examples=200, deadline=None)

values = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def conv_problem(draw, batch=True):
    """x (N, H, W, C_in), w (C_in, C_out), b (C_out,) with small random sizes."""
    shape = (draw(st.integers(1, 3)),) if batch else ()
    shape += (draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 6)))
    c_out = draw(st.integers(1, 6))
    x = draw(hnp.arrays(np.float64, shape, elements=values))
    w = draw(hnp.arrays(np.float64, (shape[-1], c_out), elements=values))
    b = draw(hnp.arrays(np.float64, (c_out,), elements=values))
    return x, w, b


def close(a, b, scale=1.0, rtol=1e-9):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 100 * scale)


# ------------------------------------------------------------ the 1x1 convolution

@NUMPY
@given(st.booleans().flatmap(lambda batch: conv_problem(batch=batch)))
def test_pointwise_conv_is_the_matrix_product_at_every_pixel(problem):
    x, w, b = problem
    expected = np.einsum("...c,cd->...d", x, w) + b   # written independently of ops
    got = ops.pointwise_conv(x, w, b)
    assert got.shape == x.shape[:-1] + (w.shape[1],)
    close(got, expected, scale=np.abs(x).max() * np.abs(w).max() * x.shape[-1] + 10)
    close(ops.pointwise_conv_loops(x, w, b), got,
          scale=np.abs(x).max() * np.abs(w).max() * x.shape[-1] + 10)


@KERAS
@given(conv_problem())
def test_pointwise_conv_equals_keras_conv2d_and_dense(problem):
    x, w, b = (a.astype(np.float32) for a in problem)
    conv = keras.layers.Conv2D(w.shape[1], kernel_size=1)
    conv.build(x.shape)
    conv.set_weights([w[None, None], b])
    dense = keras.layers.Dense(w.shape[1])
    dense.build(x.shape)
    dense.set_weights([w, b])
    ours = ops.pointwise_conv(x, w, b)
    scale = float(np.abs(x).max() * np.abs(w).max() * x.shape[-1] + np.abs(b).max() + 1)
    for layer in (conv, dense):
        theirs = keras.ops.convert_to_numpy(layer(x))
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * scale)


@NUMPY
@given(conv_problem(), st.floats(-3, 3), st.floats(-3, 3), st.data())
def test_pointwise_conv_is_linear(problem, alpha, beta, data):
    x, w, _ = problem
    y = data.draw(hnp.arrays(np.float64, x.shape, elements=values))
    v = data.draw(hnp.arrays(np.float64, w.shape, elements=values))
    scale = 10 * 10 * x.shape[-1] * 7
    # In the input ...
    close(ops.pointwise_conv(alpha * x + beta * y, w),
          alpha * ops.pointwise_conv(x, w) + beta * ops.pointwise_conv(y, w), scale)
    # ... and in the kernel.
    close(ops.pointwise_conv(x, alpha * w + beta * v),
          alpha * ops.pointwise_conv(x, w) + beta * ops.pointwise_conv(x, v), scale)


@NUMPY
@given(conv_problem(), st.data())
def test_pointwise_conv_commutes_with_any_permutation_of_pixels(problem, data):
    x, w, b = problem
    n, h, width, c_in = x.shape
    order = np.array(data.draw(st.permutations(range(n * h * width))))
    shuffled = x.reshape(-1, c_in)[order].reshape(x.shape)
    out = ops.pointwise_conv(x, w, b)
    moved = out.reshape(-1, w.shape[1])[order].reshape(out.shape)
    # Each pixel is computed from its own channels only, so shuffling the pixels
    # before or after the convolution gives exactly the same numbers.
    np.testing.assert_array_equal(ops.pointwise_conv(shuffled, w, b), moved)


# ------------------------------------------------------------ cost formulas vs layers

@st.composite
def conv_layer(draw):
    """A random Conv2D, DepthwiseConv2D or SeparableConv2D on a random input."""
    kind = draw(st.sampled_from(["conv", "depthwise", "separable"]))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["same", "valid"]))
    height, width = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    assume(padding == "same" or (kernel[0] <= height and kernel[1] <= width))
    groups = draw(st.sampled_from([1, 2, 3]))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    multiplier = draw(st.integers(1, 2))
    bias = draw(st.booleans())
    return dict(kind=kind, kernel=kernel, strides=strides, padding=padding,
                height=height, width=width, groups=groups, c_in=c_in, c_out=c_out,
                multiplier=multiplier, bias=bias)


def build(spec):
    common = dict(kernel_size=spec["kernel"], strides=spec["strides"],
                  padding=spec["padding"], use_bias=spec["bias"])
    if spec["kind"] == "conv":
        layer = keras.layers.Conv2D(spec["c_out"], groups=spec["groups"], **common)
    elif spec["kind"] == "depthwise":
        layer = keras.layers.DepthwiseConv2D(depth_multiplier=spec["multiplier"], **common)
    else:
        layer = keras.layers.SeparableConv2D(spec["c_out"],
                                             depth_multiplier=spec["multiplier"], **common)
    return keras.Sequential([keras.Input((spec["height"], spec["width"], spec["c_in"])),
                             layer])


@KERAS
@given(conv_layer())
def test_formulas_agree_with_layer_costs_and_count_params(spec):
    model = build(spec)
    records = cost.layer_costs(model)
    h, w, c_in = spec["height"], spec["width"], spec["c_in"]
    kernel, strides, padding = spec["kernel"], spec["strides"], spec["padding"]
    out_h, out_w = model.layers[-1].output.shape[1:3]      # Keras's own output size
    if spec["kind"] == "conv":
        groups, c_out = spec["groups"], spec["c_out"]
        (record,) = records
        macs = cost.conv_macs(h, w, c_in, c_out, kernel, strides, groups, padding)
        params = cost.conv_params(c_in, c_out, kernel, groups, spec["bias"])
    elif spec["kind"] == "depthwise":
        c_out = c_in * spec["multiplier"]
        (record,) = records
        macs = cost.conv_macs(h, w, c_in, c_out, kernel, strides, c_in, padding)
        params = cost.conv_params(c_in, c_out, kernel, c_in, spec["bias"])
    else:
        c_mid, c_out = c_in * spec["multiplier"], spec["c_out"]
        depthwise, pointwise = records
        assert (depthwise.kind, pointwise.kind) == ("depthwise", "pointwise")
        assert pointwise.macs == cost.conv_macs(out_h, out_w, c_mid, c_out)
        macs = (cost.conv_macs(h, w, c_in, c_mid, kernel, strides, c_in, padding)
                + cost.conv_macs(out_h, out_w, c_mid, c_out))
        params = (cost.conv_params(c_in, c_mid, kernel, c_in, bias=False)
                  + cost.conv_params(c_mid, c_out, bias=spec["bias"]))
    assert sum(r.macs for r in records) == macs
    assert sum(r.params for r in records) == params == model.count_params()
    # Independent of conv1x1: the closed form on Keras's output size.
    per_position = kernel[0] * kernel[1] * c_in * c_out // (
        spec["groups"] if spec["kind"] == "conv" else c_in)
    if spec["kind"] != "separable":
        assert macs == out_h * out_w * per_position


# ------------------------------------------------------------ the answer parsers

@contextlib.contextmanager
def nothing_evaluated():
    """Make eval, exec and compile raise while the block runs."""
    saved = {name: getattr(builtins, name) for name in ("eval", "exec", "compile")}

    def refuse(*args, **kwargs):
        raise AssertionError(f"the parser evaluated {args[:1]!r}")

    for name in saved:
        setattr(builtins, name, refuse)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(builtins, name, fn)


def parses_or_explains(parser, text):
    with nothing_evaluated():
        try:
            value = parser(text)
        except ValueError as err:
            assert str(err).strip(), f"empty message for {text!r}"
            return None
    return value


expressions = st.sampled_from([
    "__import__('os')", "__import__('os').system('true')", "2*3", "1+1", "10**3",
    "open('x')", "lambda: 1", "[1, 2]", "{}", "1e400", "nan", "inf", "-inf", "0x10",
    "1_0", "(1, 2) + (3,)", "range(3)", "float('inf')", "import os",
])
any_text = st.one_of(st.text(), expressions,
                     st.text(alphabet="0123456789 ,._xkKmMgGbBeE+-()[]*×", max_size=20))


@TEXT
@given(any_text)
def test_parse_number_returns_a_finite_float_or_explains(text):
    value = parses_or_explains(parse_number, text)
    if value is not None:
        assert isinstance(value, float) and math.isfinite(value)


@TEXT
@given(any_text)
def test_parse_shape_returns_whole_numbers_or_explains(text):
    value = parses_or_explains(parse_shape, text)
    if value is not None:
        assert isinstance(value, tuple) and value
        assert all(isinstance(d, int) and d >= 0 for d in value)


@pytest.mark.parametrize("parser", [parse_number, parse_shape])
@pytest.mark.parametrize("text", ["__import__('os')", "__import__('os').getcwd()",
                                  "2**3", "open('/etc/passwd')", "exec('1')"])
def test_code_is_refused_not_run(parser, text):
    with nothing_evaluated(), pytest.raises(ValueError) as info:
        parser(text)
    assert str(info.value).strip()


@NUMPY
@given(st.integers(0, 10**12), st.sampled_from(["{:d}", "{:,d}", "{:_d}"]))
def test_parse_number_reads_integers_as_written(n, template):
    assert parse_number(template.format(n)) == n


@NUMPY
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_parse_number_reads_floats_as_python_prints_them(x):
    assert parse_number(repr(x)) == x


@NUMPY
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=6),
       st.sampled_from([", ", ",", " x ", "x", " "]), st.sampled_from(["()", "[]", "  "]))
def test_parse_shape_reads_shapes_as_written(dims, separator, brackets):
    text = brackets[0] + separator.join(map(str, dims)) + brackets[1]
    assert parse_shape(text) == tuple(dims)

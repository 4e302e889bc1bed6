"""The timing harness: statistics, calibration, byte counts, roofline, errors.

No assertion here depends on how fast the machine is: timings are checked
only against lower bounds that a sleeping function guarantees.
"""

import functools
import re
import statistics
import time

import numpy as np
import pytest

from conv1x1 import benchmark as bm


def test_timing_statistics_match_the_statistics_module():
    seconds = (0.010, 0.012, 0.011, 0.030, 0.009)
    timing = bm.Timing("t", seconds, number=4, flops=2e9)
    assert timing.median == statistics.median(seconds) == 0.011
    assert timing.best == 0.009
    q1, _, q3 = np.percentile(seconds, [25, 50, 75])
    assert timing.spread == pytest.approx((q3 - q1) / 0.011)
    assert timing.gflops == pytest.approx(2e9 / 0.011 / 1e9)
    assert timing.best_gflops == pytest.approx(2e9 / 0.009 / 1e9)
    assert "GFLOP/s" in str(timing) and "5 x 4 calls" in str(timing)
    assert bm.Timing("t", (0.5,), number=1).spread == 0.0
    assert bm.Timing("t", (0.5,), number=1).gflops is None
    assert bm.Timing("t", (0.5,), number=1).best_gflops is None


def test_time_callable_warms_up_calibrates_and_repeats():
    calls = []

    def work():
        calls.append(1)
        time.sleep(0.002)

    timing = bm.time_callable(work, repeats=3, min_time=0.01, warmup=2)
    assert len(timing.seconds) == 3
    assert timing.best >= 0.002                      # sleep is a lower bound
    # warm-up + one calibration call + calibration rounds + the repeats
    assert len(calls) >= 2 + 1 + 3 * timing.number


class PretendClock:
    """A clock that moves only when pretend work runs; calling it reads it."""

    def __init__(self):
        self.now = 0.0
        self.log = []           # the name of each call of pretend work, in order

    def __call__(self):
        return self.now

    def work(self, seconds, name="work"):
        """A function each call of which takes ``seconds`` of pretend time."""
        def run():
            self.log.append(name)
            self.now += seconds
        return run


def test_time_callable_calibrates_like_timeit_on_a_pretend_clock():
    clock = PretendClock()
    # each call takes exactly 2 ms of pretend time
    timing = bm.time_callable(clock.work(0.002), repeats=3, min_time=0.01,
                              warmup=2, clock=clock)
    # One call takes 2 ms < 10 ms, so calibration asks for 10 / 2 = 5 calls,
    # which last 10 ms: every repeat is 5 calls.
    assert timing.number == 5
    np.testing.assert_allclose(timing.seconds, [0.002] * 3)
    # warm-up 2, calibration 1 + 5, repeats 3 x 5
    assert len(clock.log) == 2 + 1 + 5 + 3 * 5


def test_compiled_runs_the_layer_and_fetches_one_value_per_output():
    keras = pytest.importorskip("keras")
    layer = keras.layers.Conv2D(3, 1, use_bias=False,
                                kernel_initializer="ones")
    x = np.arange(16, dtype=np.float32).reshape(1, 2, 2, 4)
    out = bm.compiled(layer, x)()
    assert isinstance(out, np.ndarray)
    # The first output value: pixel (0, 0), channel 0, sums the input channels.
    np.testing.assert_allclose(out, [0 + 1 + 2 + 3])


def test_compiled_fetches_from_every_output_of_a_model():
    pytest.importorskip("tensorflow")

    def two_outputs(t):
        return {"double": 2 * t, "negated": -t}

    out = bm.compiled(two_outputs, np.array([[3.0, 5.0]], np.float32))()
    np.testing.assert_allclose(sorted(out), [-3.0, 6.0])


def test_time_layer_reports_flops_per_second():
    keras = pytest.importorskip("keras")
    layer = keras.layers.Conv2D(8, 1, use_bias=False)
    timing = bm.time_layer(layer, (4, 4, 8), batch=2, flops=2 * 2 * 16 * 8 * 8,
                           repeats=2, min_time=0.001)
    assert timing.gflops == pytest.approx(timing.flops / timing.median / 1e9)


def test_conv_bytes_counts_input_kernel_and_output_once():
    # 1x1, 56x56x256 -> 64, batch 1, float32
    expected = 4 * (56 * 56 * 256 + 56 * 56 * 64 + 256 * 64)
    assert bm.conv_bytes(56, 56, 256, 64) == expected
    # stride 2 with 'same' padding: output ceil(7/2) = 4
    assert (bm.conv_bytes(7, 7, 2, 3, 3, stride=2)
            == 4 * (49 * 2 + 16 * 3 + 9 * 6))
    # depthwise: one k x k filter per channel
    assert bm.conv_bytes(8, 8, 16, 16, 3, depthwise=True, batch=2) == \
        4 * (2 * (64 * 16 + 64 * 16) + 9 * 16)


def test_roofline_is_the_lower_of_the_two_roofs():
    assert bm.roofline(1.0, 400.0, 20.0) == 20.0
    assert bm.roofline(100.0, 400.0, 20.0) == 400.0
    np.testing.assert_allclose(bm.roofline([5, 20, 40], 400, 20),
                               [100, 400, 400])
    assert bm.arithmetic_intensity(100, 50) == 2.0


@pytest.mark.parametrize("call, words", [
    (lambda: bm.time_callable(42), "function of no arguments"),
    (lambda: bm.time_callable(lambda: None, repeats=0), "repeats"),
    (lambda: bm.time_callable(lambda: None, min_time=0), "min_time"),
    (lambda: bm.time_callable(lambda: None, warmup=-1), "warmup"),
    (lambda: bm.roofline(0.0, 400, 20), "intensity"),
    (lambda: bm.roofline(1.0, float("inf"), 20), "peak_gflops"),
    (lambda: bm.conv_bytes(0, 4, 4, 4), "height"),
    (lambda: bm.arithmetic_intensity(1, 0), "n_bytes"),
    (lambda: bm.compiled(3, np.ones(2)), "Keras layer"),
    (lambda: bm.time_callable(lambda: None, clock=1.5), "clock"),
    (lambda: bm.time_layer(None, (4, "4", 3)), "input_shape"),
])
def test_bad_arguments_raise_value_error(call, words):
    with pytest.raises(ValueError, match=words):
        call()


# --------------------------------------------------------------------------
# The machine figures, on a pretend clock: each reading of the clock moves it
# on by 50 ms, so one timed run of any number of calls lasts 50 ms and the
# calibration settles on one call per repeat (50 ms >= min_time 20 ms).

def _stepping_clock(step=0.05):
    now = [0.0]

    def clock():
        now[0] += step
        return now[0]

    return clock


def test_measure_bandwidth_counts_a_read_and_a_write_per_byte():
    gbs, timing = bm.measure_bandwidth(8, repeats=3, clock=_stepping_clock())
    assert timing.number == 1 and len(timing.seconds) == 3
    np.testing.assert_allclose(timing.seconds, [0.05] * 3)
    # 8 MiB read and 8 MiB written in 50 ms
    assert gbs == pytest.approx(2 * 8 * 2**20 / 0.05 / 1e9)


def test_measure_matmul_peak_counts_two_n_cubed_flops():
    pytest.importorskip("tensorflow")
    timing = bm.measure_matmul_peak(64, repeats=2, clock=_stepping_clock())
    assert timing.flops == 2 * 64**3
    assert timing.best_gflops == pytest.approx(2 * 64**3 / 0.05 / 1e9)
    assert timing.label == "matmul 64"


@pytest.mark.parametrize("threads, late_pool", [(3, "intra"), (1, "inter")])
def test_set_threads_sets_both_pools_and_explains_a_late_call(monkeypatch, threads,
                                                             late_pool):
    tf = pytest.importorskip("tensorflow")
    calls = []
    threading = tf.config.threading
    monkeypatch.setattr(threading, "set_intra_op_parallelism_threads",
                        lambda n: calls.append(("intra", n)))
    monkeypatch.setattr(threading, "set_inter_op_parallelism_threads",
                        lambda n: calls.append(("inter", n)))
    bm.set_threads(threads)
    assert calls == [("intra", threads), ("inter", threads)]

    error = f"{late_pool.capitalize()} op parallelism cannot be modified after initialization."

    def too_late(n):
        raise RuntimeError(error)

    monkeypatch.setattr(threading, f"set_{late_pool}_op_parallelism_threads", too_late)
    with pytest.raises(ValueError, match=(
            r"^TensorFlow's thread pools are fixed once it has run an "
            rf"operation \({re.escape(error)}\)\. Call set_threads first, in a fresh kernel "
            r"or process\.$")):
        bm.set_threads(2)



def test_time_interleaved_alternates_the_functions():
    clock = PretendClock()
    fns = {"a": clock.work(0.004, "a"), "b": clock.work(0.01, "b")}
    timings = bm.time_interleaved(fns, repeats=3, min_time=0.02, warmup=1,
                                  flops={"a": 8e6}, clock=clock)
    # a: 4 ms a call, so 5 calls a repeat; b: 10 ms, so 2 calls a repeat.
    assert (timings["a"].number, timings["b"].number) == (5, 2)
    np.testing.assert_allclose(timings["a"].seconds, [0.004] * 3)
    np.testing.assert_allclose(timings["b"].seconds, [0.01] * 3)
    assert timings["a"].gflops == pytest.approx(8e6 / 0.004 / 1e9)
    assert timings["b"].flops is None
    # After warm-up and calibration, the repeats alternate: 5 a, 2 b, ...
    assert clock.log[-21:] == (["a"] * 5 + ["b"] * 2) * 3


def test_time_layers_times_each_layer_on_its_own_shape():
    keras = pytest.importorskip("keras")
    layers = {"1x1": keras.layers.Conv2D(4, 1),
              "3x3": keras.layers.Conv2D(4, 3)}
    layers["1x1, batch 1"] = layers["1x1"]
    timings = bm.time_layers(layers, {"1x1": (4, 4, 2), "3x3": (6, 6, 2),
                                      "1x1, batch 1": (4, 4, 2)},
                             batch={"1x1": 2, "3x3": 2, "1x1, batch 1": 1},
                             repeats=2, min_time=0.001,
                             flops={"1x1": 2 * 2 * 16 * 2 * 4})
    assert list(timings) == ["1x1", "3x3", "1x1, batch 1"]
    assert len(layers["3x3"].kernel.shape) == 4          # built by the call
    assert timings["1x1"].gflops is not None and timings["3x3"].flops is None


def _nothing():
    return None


@pytest.mark.parametrize("call, words", [
    (lambda: bm.measure_bandwidth(4), "megabytes"),
    (lambda: bm.measure_bandwidth(8.5), "megabytes"),
    (lambda: bm.measure_bandwidth(True), "megabytes"),
    (lambda: bm.measure_bandwidth(8, repeats=0), "repeats"),
    (lambda: bm.measure_bandwidth(8, clock="now"), "clock"),
    (lambda: bm.measure_matmul_peak(8), "n"),
    (lambda: bm.measure_matmul_peak(64, repeats=-1), "repeats"),
    (lambda: bm.measure_matmul_peak("big"), "n"),
    (lambda: bm.set_threads(0), "threads"),
    (lambda: bm.set_threads(2.0), "threads"),
    (lambda: bm.set_threads(None), "threads"),
    (lambda: bm.time_layer(None, (4, 4, 3), batch=0), "batch"),
    (lambda: bm.time_layer(None, (4, 0, 3)), "input_shape"),
    (lambda: bm.time_layer(None, (4, True, 3)), "input_shape"),
    (lambda: bm.time_layer(None, ()), "input_shape"),
    (lambda: bm.time_layer(None, (4, 4, 3), seed=-1), "seed"),
    (lambda: bm.roofline("fast", 400, 20), "intensity"),
    (lambda: bm.roofline(float("nan"), 400, 20), "intensity"),
    (lambda: bm.roofline(1.0, 400, -20), "bandwidth_gbs"),
    (lambda: bm.conv_bytes(4, 4, 4, 4, depthwise="yes"), "depthwise"),
    (lambda: bm.conv_bytes(4, 4, 4, 4, stride=-2), "stride"),
    (lambda: bm.conv_bytes(4, 4, 4.0, 4), "c_in"),
    (lambda: bm.arithmetic_intensity(float("nan"), 4), "flops"),
    (lambda: bm.compiled(lambda t: t, "not numbers"), "numeric array"),
    (lambda: bm.time_interleaved({}), "non-empty dict"),
    (lambda: bm.time_interleaved([lambda: None]), "non-empty dict"),
    (lambda: bm.time_interleaved({"a": 3}), "non-empty dict"),
    (lambda: bm.time_interleaved({"a": _nothing}, flops={"b": 1}), "flops"),
    (lambda: bm.time_interleaved({"a": _nothing}, flops={"a": 0}), "flops"),
    (lambda: bm.time_interleaved({"a": _nothing}, repeats=0), "repeats"),
    (lambda: bm.time_layers({}, (4, 4, 3)), "layers"),
    (lambda: bm.time_layers({"a": None}, {"b": (4, 4, 3)}), "input_shape"),
    (lambda: bm.time_layers({"a": None}, (4, 4, 3), batch={"b": 2}), "batch"),
    (lambda: bm.time_layers({"a": None}, (4, 4, 3), batch=0), "batch"),
])
def test_more_bad_arguments_raise_value_error(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_time_callable_defaults_two_warmups_fifteen_repeats_20_ms():
    clock = PretendClock()
    timing = bm.time_callable(clock.work(0.001), clock=clock)
    # 1 ms < 20 ms: calibration asks for 20 calls a repeat.
    assert timing.number == 20 and len(timing.seconds) == 15
    # warm-up 2, calibration 1 + 20, repeats 15 x 20
    assert len(clock.log) == 2 + 1 + 20 + 15 * 20


# --------------------------------------------------------------------------
# Labels, printouts, calibration rounds and the argument checks' messages.

def test_timing_prints_the_median_in_milliseconds():
    seconds = (0.010, 0.012, 0.011, 0.030, 0.009)
    q1, q3 = np.percentile(seconds, [25, 75])
    timing = bm.Timing("conv", seconds, number=4, flops=2e9)
    # median 0.011 s = 11 ms; 2 GFLOPs in 11 ms = 181.8 GFLOP/s
    spread = (q3 - q1) / 0.011
    assert str(timing) == (f"conv: median 11.000 ms (spread {spread:.0%}, "
                           f"5 x 4 calls), {2e9 / 0.011 / 1e9:.1f} GFLOP/s")
    assert str(bm.Timing("copy", (0.0025,), number=8)) == \
        "copy: median 2.500 ms (spread 0%, 1 x 8 calls)"


def test_time_callable_labels_with_the_label_else_the_name_else_fn():
    now = [0.0]

    def conv_step():            # 5 ms of pretend time a call
        now[0] += 0.005

    kwargs = dict(repeats=1, min_time=0.01, warmup=0, clock=lambda: now[0])
    assert bm.time_callable(conv_step, **kwargs).label == "conv_step"
    assert bm.time_callable(conv_step, label="1x1", **kwargs).label == "1x1"
    # A partial object has no __name__.
    unnamed = functools.partial(conv_step)
    assert bm.time_callable(unnamed, **kwargs).label == "fn"


def test_time_callable_accepts_one_repeat_and_no_warmup():
    clock = PretendClock()
    timing = bm.time_callable(clock.work(0.004), repeats=1, warmup=0,
                              min_time=0.02, clock=clock)
    assert timing.number == 5 and len(timing.seconds) == 1
    # no warm-up, calibration 1 + 5, one repeat of 5
    assert len(clock.log) == 1 + 5 + 5


def test_time_callable_calibration_at_least_doubles_the_calls_each_round():
    now = [0.0]
    calls = []

    def work():                 # the first call takes 1 ms, later ones 0.75 ms
        now[0] += 0.00075 if calls else 0.001
        calls.append(1)

    timing = bm.time_callable(work, repeats=1, warmup=0, min_time=0.02,
                              clock=lambda: now[0])
    # One call lasts 1 ms, so the next round has 20 calls; they last 15 ms,
    # still short of 20 ms. Scaling by 20 / 15 would ask for 27 calls, but
    # like timeit's autorange (1, 2, 5, 10, 20, ...) each round at least
    # doubles the calls: 40, which last 30 ms.
    assert timing.number == 40
    np.testing.assert_allclose(timing.seconds, [0.00075])
    assert len(calls) == 1 + 20 + 40 + 40


def test_time_interleaved_defaults_two_warmups_fifteen_repeats_20_ms():
    clock = PretendClock()
    timings = bm.time_interleaved({"a": clock.work(0.001, "a"),
                                   "b": clock.work(0.001, "b")}, clock=clock)
    for label, timing in timings.items():
        # 1 ms < 20 ms: calibration asks for 20 calls a repeat.
        assert timing.label == label and timing.flops is None
        assert timing.number == 20 and len(timing.seconds) == 15
    # each: warm-up 2, calibration 1 + 20, repeats 15 x 20
    assert [clock.log.count(name) for name in "ab"] == [2 + 1 + 20 + 15 * 20] * 2


def test_time_interleaved_accepts_one_repeat_no_warmup_and_flops_for_all():
    clock = PretendClock()
    work = clock.work(0.004)
    timings = bm.time_interleaved({"a": work, "b": work}, repeats=1, warmup=0,
                                  min_time=0.02, flops={"a": 4e6, "b": 8e6},
                                  clock=clock)
    assert [len(t.seconds) for t in timings.values()] == [1, 1]
    # no warm-up, calibration 1 + 5, one repeat of 5; for each function
    assert len(clock.log) == 2 * (1 + 5 + 5)
    assert timings["a"].gflops == pytest.approx(4e6 / 0.004 / 1e9)
    assert timings["b"].gflops == pytest.approx(8e6 / 0.004 / 1e9)


def test_roofline_returns_a_float_for_one_intensity_an_array_for_many():
    assert type(bm.roofline(1.0, 400.0, 20.0)) is float
    assert type(bm.roofline(np.float32(100.0), 400.0, 20.0)) is float
    assert isinstance(bm.roofline([1.0], 400.0, 20.0), np.ndarray)


_GOOD_CONV = dict(height=4, width=4, c_in=4, c_out=4, kernel_size=1, batch=1,
                  stride=1, itemsize=4)
_INTEGER_AT_LEAST = r"Expected {} to be an integer >= {}; received {!r}\.$"
_POSITIVE = r"Expected {} to be a finite number > 0; received {!r}\.$"
_MIN_TIME = r"Expected min_time to be a finite number > 0; received 0\. " \
            r"Use about 0\.02 seconds\.$"
_FNS = (r"^Expected fns to be a non-empty dict from labels to functions of no "
        r"arguments, e\.g\. \{'1x1': run_1x1\}; received ")
_X = (r"^Expected x to be a numeric array, e\.g\. a float32 numpy array of "
      r"shape \(batch, height, width, channels\); received ")


@pytest.mark.parametrize("call, pattern", [
    (lambda: bm.time_callable(42),
     r"^Expected fn to be a function of no arguments; received int\. "
     r"Wrap a call in a lambda\.$"),
    (lambda: bm.time_callable(_nothing, repeats=0),
     _INTEGER_AT_LEAST.format("repeats", 1, 0)),
    (lambda: bm.time_callable(_nothing, warmup=-1),
     _INTEGER_AT_LEAST.format("warmup", 0, -1)),
    (lambda: bm.time_callable(_nothing, min_time=0), _MIN_TIME),
    (lambda: bm.time_callable(_nothing, flops=0),
     _POSITIVE.format("flops", 0)),
    (lambda: bm.time_callable(_nothing, clock=1.5),
     r"^Expected clock to be a function returning seconds, such as "
     r"time\.perf_counter; received float\.$"),
    (lambda: bm.time_interleaved({}), _FNS + r"\{\}\.$"),
    (lambda: bm.time_interleaved({"a": 3}), _FNS + r"\{'a': 3\}\.$"),
    (lambda: bm.time_interleaved({"a": _nothing}, repeats=0),
     _INTEGER_AT_LEAST.format("repeats", 1, 0)),
    (lambda: bm.time_interleaved({"a": _nothing}, warmup=-1),
     _INTEGER_AT_LEAST.format("warmup", 0, -1)),
    (lambda: bm.time_interleaved({"a": _nothing}, min_time=0), _MIN_TIME),
    (lambda: bm.time_interleaved({"a": _nothing}, flops={"b": 1}),
     r"^Expected flops to be None or a dict from some of the labels of fns to "
     r"FLOPs; received \{'b': 1\}\.$"),
    (lambda: bm.time_interleaved({"a": _nothing}, flops={"a": 0}),
     _POSITIVE.format(r"flops\['a'\]", 0)),
    (lambda: bm.time_interleaved({"a": _nothing}, clock="now"),
     r"^Expected clock to be a function returning seconds, such as "
     r"time\.perf_counter; received str\.$"),
    (lambda: bm.compiled(3, np.ones(2)),
     r"^Expected a Keras layer, model or function to compile; "
     r"received int\.$"),
    (lambda: bm.compiled(_nothing, object()), _X + r"object\.$"),
    (lambda: bm.compiled(_nothing, "not numbers"), _X + r"str\.$"),
    (lambda: bm.compiled(_nothing, np.array([True, False])),
     _X + r"ndarray of dtype bool\.$"),
    (lambda: bm.time_layer(None, (4, 4, 3), batch=0),
     _INTEGER_AT_LEAST.format("batch", 1, 0)),
    (lambda: bm.time_layer(None, (4, 4, 3), seed=-1),
     _INTEGER_AT_LEAST.format("seed", 0, -1)),
    (lambda: bm.time_layer(None, (4, 0, 3)),
     r"^Expected input_shape to be a tuple of positive integers, e\.g\. "
     r"\(56, 56, 64\); received \(4, 0, 3\)\.$"),
    (lambda: bm.time_layers({}, (4, 4, 3)),
     r"^Expected layers to be a non-empty dict from labels to Keras layers; "
     r"received \{\}\.$"),
    (lambda: bm.time_layers({"a": None}, (4, 4, 3), seed=-1),
     _INTEGER_AT_LEAST.format("seed", 0, -1)),
    (lambda: bm.time_layers({"a": None}, (4, 4, 3), batch=0),
     _INTEGER_AT_LEAST.format("batch", 1, 0)),
    *[(lambda name=name: bm.conv_bytes(**{**_GOOD_CONV, name: 0}),
       _INTEGER_AT_LEAST.format(name, 1, 0)) for name in _GOOD_CONV],
    (lambda: bm.conv_bytes(4, 4, 4, 4, depthwise="yes"),
     r"^Expected depthwise to be True or False; received 'yes'\.$"),
    (lambda: bm.arithmetic_intensity(0, 4), _POSITIVE.format("flops", 0)),
    (lambda: bm.arithmetic_intensity(4, 0), _POSITIVE.format("n_bytes", 0)),
    (lambda: bm.roofline(1.0, 0, 20), _POSITIVE.format("peak_gflops", 0)),
    (lambda: bm.roofline(1.0, 400, 0), _POSITIVE.format("bandwidth_gbs", 0)),
    (lambda: bm.roofline("fast", 400, 20),
     r"^Expected intensity to be a number or an array of numbers \(FLOPs per "
     r"byte\); received 'fast'\.$"),
    (lambda: bm.roofline([1.0, 0.0], 400, 20),
     r"^Expected every intensity to be a finite number > 0 "
     r"\(FLOPs per byte\)\.$"),
    (lambda: bm.measure_matmul_peak(15),
     _INTEGER_AT_LEAST.format("n", 16, 15)),
    (lambda: bm.measure_matmul_peak(64, repeats=0),
     _INTEGER_AT_LEAST.format("repeats", 1, 0)),
    (lambda: bm.measure_bandwidth(7),
     _INTEGER_AT_LEAST.format("megabytes", 8, 7)),
    (lambda: bm.measure_bandwidth(8, repeats=0),
     _INTEGER_AT_LEAST.format("repeats", 1, 0)),
    (lambda: bm.set_threads(0), _INTEGER_AT_LEAST.format("threads", 1, 0)),
])
def test_error_messages_name_the_argument_and_what_it_should_be(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


# --------------------------------------------------------------------------
# time_layer and time_layers on a pretend clock: time_callable and
# time_interleaved are wrapped so that every call of a timed function moves a
# pretend clock on by 1 ms; the wrapped functions still run, and what they
# return is kept.

def _ticking(fn, now, outputs, step=0.001):
    @functools.wraps(fn)
    def ticking():
        outputs.append(fn())
        now[0] += step
    return ticking


def _pretend_time_callable(monkeypatch):
    real, now, timed, outputs = bm.time_callable, [0.0], [], []

    def pretend(fn, **kwargs):
        timed.append(fn)
        return real(_ticking(fn, now, outputs), clock=lambda: now[0], **kwargs)

    monkeypatch.setattr(bm, "time_callable", pretend)
    return timed, outputs


def _pretend_time_interleaved(monkeypatch):
    real, now, outputs = bm.time_interleaved, [0.0], {}

    def pretend(fns, **kwargs):
        ticking = {label: _ticking(fn, now, outputs.setdefault(label, []))
                   for label, fn in fns.items()}
        return real(ticking, clock=lambda: now[0], **kwargs)

    monkeypatch.setattr(bm, "time_interleaved", pretend)
    return outputs


def _recording_identity(seen, label=None):
    def identity(t):            # runs when the tf.function traces
        seen.setdefault(label, set()).add((tuple(t.shape), t.dtype.name))
        return t
    return identity


def test_time_layer_defaults_batch_1_seed_0_float32_15_repeats(monkeypatch):
    pytest.importorskip("tensorflow")
    timed, outputs = _pretend_time_callable(monkeypatch)
    seen = {}
    timing = bm.time_layer(_recording_identity(seen), (2, 3, 4))
    assert seen == {None: {((1, 2, 3, 4), "float32")}}
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4))
    # the first value of the float32 input
    np.testing.assert_array_equal(outputs[0], x.astype(np.float32).flat[:1])
    # 1 ms < 20 ms: calibration asks for 20 calls a repeat.
    assert timing.number == 20 and len(timing.seconds) == 15
    # A function has no layer name: time_callable names the timing.
    assert timing.label == timed[0].__name__


def test_time_layer_passes_label_repeats_min_time_takes_1x1x1(monkeypatch):
    keras = pytest.importorskip("keras")
    _pretend_time_callable(monkeypatch)
    layer = keras.layers.Conv2D(2, 1, name="proj")
    timing = bm.time_layer(layer, (1, 1, 1), batch=1, repeats=3,
                           min_time=0.005)
    assert timing.label == "proj"
    # 1 ms < 5 ms: 5 calls a repeat
    assert timing.number == 5 and len(timing.seconds) == 3
    assert bm.time_layer(layer, (1, 1, 1), label="given", repeats=1,
                         min_time=0.001).label == "given"


def test_time_layers_defaults_batch_1_seed_0_float32_15_repeats(monkeypatch):
    pytest.importorskip("tensorflow")
    outputs = _pretend_time_interleaved(monkeypatch)
    seen = {}
    layers = {label: _recording_identity(seen, label) for label in "ab"}
    timings = bm.time_layers(layers, {"a": (2, 3, 1), "b": (1, 1, 1)})
    assert seen == {"a": {((1, 2, 3, 1), "float32")},
                    "b": {((1, 1, 1, 1), "float32")}}
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 1))
    np.testing.assert_array_equal(outputs["a"][0],
                                  x.astype(np.float32).flat[:1])
    for label, timing in timings.items():
        assert timing.label == label
        assert timing.number == 20 and len(timing.seconds) == 15
    timings = bm.time_layers({"a": layers["a"]}, (1, 1, 1), repeats=3,
                             min_time=0.005)
    assert timings["a"].number == 5 and len(timings["a"].seconds) == 3


# --------------------------------------------------------------------------
# The machine figures: what is timed, and the defaults.

def test_measure_matmul_peak_multiplies_seeded_matrices_n_16(monkeypatch):
    pytest.importorskip("tensorflow")
    real, runs = bm.compiled, []

    def keep(fn, x):
        runs.append(real(fn, x))
        return runs[-1]

    monkeypatch.setattr(bm, "compiled", keep)
    timing = bm.measure_matmul_peak(16, repeats=1, clock=_stepping_clock())
    assert timing.label == "matmul 16" and timing.flops == 2 * 16**3
    assert len(timing.seconds) == 1
    rng = np.random.default_rng(0)
    a = rng.standard_normal((16, 16)).astype(np.float32)
    b = rng.standard_normal((16, 16)).astype(np.float32)
    np.testing.assert_allclose(runs[0](), (a @ b)[0, :1], rtol=1e-5, atol=1e-5)


def test_measure_matmul_peak_defaults_to_n_2048_and_nine_repeats(monkeypatch):
    pytest.importorskip("tensorflow")
    shapes = []

    def no_multiply(fn, x):     # records the matrix, times nothing
        shapes.append(tuple(x.shape))
        return _nothing

    monkeypatch.setattr(bm, "compiled", no_multiply)
    timing = bm.measure_matmul_peak(clock=_stepping_clock())
    assert shapes == [(2048, 2048)]
    assert timing.flops == 2 * 2048**3 and round(timing.flops / 1e9) == 17
    assert len(timing.seconds) == 9


def test_measure_bandwidth_times_a_copy_of_the_whole_array(monkeypatch):
    real_copyto, sizes = np.copyto, []

    def copyto(dst, src):
        sizes.append((dst.nbytes, src.nbytes))
        real_copyto(dst, src)

    monkeypatch.setattr(bm.np, "copyto", copyto)
    gbs, timing = bm.measure_bandwidth(8, repeats=1, clock=_stepping_clock())
    # warm-up 2, calibration 1 (50 ms >= 20 ms), one repeat of one call
    assert sizes == [(8 * 2**20, 8 * 2**20)] * 4
    assert timing.label == "copy" and len(timing.seconds) == 1
    assert gbs == pytest.approx(2 * 8 * 2**20 / 0.05 / 1e9, rel=1e-12)


def test_measure_bandwidth_defaults_to_256_mib_and_nine_repeats(monkeypatch):
    sizes = []
    # np.zeros, unlike np.ones, leaves the pages untouched until written, and
    # the pretend copy writes nothing: 256 MiB cost no time.
    monkeypatch.setattr(bm.np, "ones", lambda n, dtype: np.zeros(n, dtype))
    monkeypatch.setattr(bm.np, "copyto",
                        lambda dst, src: sizes.append(src.nbytes))
    gbs, timing = bm.measure_bandwidth(clock=_stepping_clock())
    # warm-up 2, calibration 1, 9 repeats of one call
    assert sizes == [256 * 2**20] * (2 + 1 + 9)
    assert len(timing.seconds) == 9
    assert gbs == pytest.approx(2 * 256 * 2**20 / 0.05 / 1e9, rel=1e-12)

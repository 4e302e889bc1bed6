"""The timing harness: statistics, calibration, byte counts, roofline, errors.

No assertion here depends on how fast the machine is: timings are checked
only against lower bounds that a sleeping function guarantees.
"""

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


def test_time_callable_calibrates_like_timeit_on_a_pretend_clock():
    now = [0.0]
    calls = []

    def work():                 # each call takes exactly 2 ms of pretend time
        calls.append(1)
        now[0] += 0.002

    timing = bm.time_callable(work, repeats=3, min_time=0.01, warmup=2,
                              clock=lambda: now[0])
    # One call takes 2 ms < 10 ms, so calibration asks for 10 / 2 = 5 calls,
    # which last 10 ms: every repeat is 5 calls.
    assert timing.number == 5
    np.testing.assert_allclose(timing.seconds, [0.002] * 3)
    # warm-up 2, calibration 1 + 5, repeats 3 x 5
    assert len(calls) == 2 + 1 + 5 + 3 * 5


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


def test_set_threads_sets_both_pools_and_explains_a_late_call(monkeypatch):
    tf = pytest.importorskip("tensorflow")
    calls = []
    threading = tf.config.threading
    monkeypatch.setattr(threading, "set_intra_op_parallelism_threads",
                        lambda n: calls.append(("intra", n)))
    monkeypatch.setattr(threading, "set_inter_op_parallelism_threads",
                        lambda n: calls.append(("inter", n)))
    bm.set_threads(3)
    assert calls == [("intra", 3), ("inter", 3)]

    def too_late(n):
        raise RuntimeError("Intra op parallelism cannot be modified after "
                           "initialization.")

    monkeypatch.setattr(threading, "set_intra_op_parallelism_threads",
                        too_late)
    with pytest.raises(ValueError, match="fresh kernel"):
        bm.set_threads(2)


def test_time_interleaved_alternates_the_functions():
    now = [0.0]
    order = []

    def work(name, seconds):
        def run():
            order.append(name)
            now[0] += seconds
        return run

    fns = {"a": work("a", 0.004), "b": work("b", 0.01)}
    timings = bm.time_interleaved(fns, repeats=3, min_time=0.02, warmup=1,
                                  flops={"a": 8e6}, clock=lambda: now[0])
    # a: 4 ms a call, so 5 calls a repeat; b: 10 ms, so 2 calls a repeat.
    assert (timings["a"].number, timings["b"].number) == (5, 2)
    np.testing.assert_allclose(timings["a"].seconds, [0.004] * 3)
    np.testing.assert_allclose(timings["b"].seconds, [0.01] * 3)
    assert timings["a"].gflops == pytest.approx(8e6 / 0.004 / 1e9)
    assert timings["b"].flops is None
    # After warm-up and calibration, the repeats alternate: 5 a, 2 b, ...
    assert order[-21:] == (["a"] * 5 + ["b"] * 2) * 3


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
    now = [0.0]
    calls = []

    def work():                 # 1 ms of pretend time a call
        calls.append(1)
        now[0] += 0.001

    timing = bm.time_callable(work, clock=lambda: now[0])
    # 1 ms < 20 ms: calibration asks for 20 calls a repeat.
    assert timing.number == 20 and len(timing.seconds) == 15
    # warm-up 2, calibration 1 + 20, repeats 15 x 20
    assert len(calls) == 2 + 1 + 20 + 15 * 20

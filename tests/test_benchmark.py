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
    layer = keras.layers.Conv2D(3, 1, use_bias=False, kernel_initializer="ones")
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
    assert bm.conv_bytes(7, 7, 2, 3, 3, stride=2) == 4 * (49 * 2 + 16 * 3 + 9 * 6)
    # depthwise: one k x k filter per channel
    assert bm.conv_bytes(8, 8, 16, 16, 3, depthwise=True, batch=2) == \
        4 * (2 * (64 * 16 + 64 * 16) + 9 * 16)


def test_roofline_is_the_lower_of_the_two_roofs():
    assert bm.roofline(1.0, 400.0, 20.0) == 20.0
    assert bm.roofline(100.0, 400.0, 20.0) == 400.0
    np.testing.assert_allclose(bm.roofline([5, 20, 40], 400, 20), [100, 400, 400])
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

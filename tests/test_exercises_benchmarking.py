"""The benchmarking chapter's exercises: right answers pass, wrong fail."""

import statistics
import time

import numpy as np
import pytest

from conv1x1.exercises import benchmarking as bx
from conv1x1.exercises import check, get


def _wrong_options_explained(label, explanations):
    exercise = get(label)
    right = [o for o in exercise.options if check(label, o).correct]
    for option in exercise.options:
        if option not in right:
            result = check(label, option)
            assert not result.correct
            assert explanations[option] in result.message
    assert "Pick one" in check(label, None).message
    return right


# --------------------------------------------------------------------------
# benchmarking-ex-reduction

def test_reduction_right_option_is_the_reuse_argument():
    right = _wrong_options_explained("benchmarking-ex-reduction",
                                     bx.REDUCTION_EXPLANATIONS)
    assert len(right) == 1
    assert "576 products instead of 64" in right[0]
    assert "registers" in right[0]


def test_reduction_explanations_hold_the_right_numbers():
    # Per pixel: A = 2*64*64 FLOPs on 4*(64+64) bytes, B = 2*576*64 on
    # 4*(576+64) bytes.
    assert bx.REDUCTION_INTENSITY["A"] == 16.0
    assert bx.REDUCTION_INTENSITY["B"] == pytest.approx(28.8)
    intensity = bx.REDUCTION_EXPLANATIONS[bx.REDUCTION_OPTIONS[2]]
    assert "16 FLOPs per byte" in intensity and "28.8" in intensity
    # Lavin and Gray: F(2x2, 3x3) uses 4 x 4 = 16 multiplications where the
    # direct computation of 2 x 2 outputs of a 3x3 kernel uses 36.
    # A at batch 8: 8 * 56 * 56 * 64 * 64 = 102,760,448 MACs a call.
    fixed = bx.REDUCTION_EXPLANATIONS[bx.REDUCTION_OPTIONS[3]]
    assert 8 * 56 * 56 * 64 * 64 == 102_760_448
    assert "about 100 million multiply-adds" in fixed
    winograd = bx.REDUCTION_EXPLANATIONS[bx.REDUCTION_OPTIONS[0]]
    assert "with 16 multiplications instead of 36" in winograd
    assert "1x1" in winograd


# --------------------------------------------------------------------------
# benchmarking-ex-intensity

def test_intensity_matches_the_formula_and_conv_bytes():
    from conv1x1 import benchmark, cost

    flops = 2 * cost.conv_macs(28, 28, 512, 512)
    intensity = flops / benchmark.conv_bytes(28, 28, 512, 512)
    assert intensity == pytest.approx(411_041_792 / 4_259_840)
    assert check("benchmarking-ex-intensity", f"{intensity:.1f}").correct
    assert "not a number" in check("benchmarking-ex-intensity", "lots").message


@pytest.mark.parametrize("answer, words", [
    (411_041_792 / 2 / 4_259_840, "MACs, not FLOPs"),
    (411_041_792 / (4_259_840 / 4), "4 bytes"),
    (411_041_792 / (4 * 2 * 28 * 28 * 512), "kernel"),
])
def test_intensity_names_the_usual_mistakes(answer, words):
    result = check("benchmarking-ex-intensity", f"{answer:.2f}")
    assert not result.correct and words in result.message


# --------------------------------------------------------------------------
# benchmarking-ex-median

def test_fake_workload_advances_its_clock_only_when_called():
    work = bx.FakeWorkload([5.0, 1.0, 2.0])
    assert work.clock() == 0.0
    for _ in range(4):
        work()
    assert work.clock() == 5 + 1 + 2 + 1      # later calls cycle durations[1:]
    assert work.calls == 4 and work.reads == 2
    assert work.took == [5.0, 1.0, 2.0, 1.0]


def test_cases_have_a_slow_first_call_an_interruption_and_distinct_times():
    rng = np.random.default_rng(3)
    for repeats in bx.MEDIAN_REPEATS:
        durations = bx._median_cases(rng, repeats)
        steady = statistics.median(durations[1:repeats + 1])
        assert durations[0] > 20 * steady                     # first call
        assert max(durations[1:repeats + 1]) > 10 * steady    # interruption
        assert len(set(durations)) == len(durations)
    assert {r % 2 for r in bx.MEDIAN_REPEATS} == {0, 1}       # odd and even


def _timed(fn, repeats, clock, warmups):
    for _ in range(warmups):
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return times


def one_warmup(fn, repeats, clock):
    return statistics.median(_timed(fn, repeats, clock, 1))


def two_warmups(fn, repeats, clock):            # the package's default
    return statistics.median(_timed(fn, repeats, clock, 2))


def upper_median(fn, repeats, clock):
    return sorted(_timed(fn, repeats, clock, 1))[repeats // 2]


def lower_median(fn, repeats, clock):
    return statistics.median_low(_timed(fn, repeats, clock, 1))


def numpy_median(fn, repeats, clock):
    return np.median(np.array(_timed(fn, repeats, clock, 3)))


@pytest.mark.parametrize("fn", [one_warmup, two_warmups, upper_median,
                                lower_median, numpy_median])
def test_median_time_accepts_every_valid_median_benchmark(fn):
    result = check("benchmarking-ex-median", fn)
    assert result.correct, result.message


def test_median_time_says_how_many_warmups_it_saw():
    result = check("benchmarking-ex-median", two_warmups)
    assert "after 2 warm-up" in result.message


def original_bug(fn, repeats, clock):            # the chapter's buggy version
    start = clock()
    for _ in range(repeats):
        fn()
    return (clock() - start) / repeats


def mean_after_warmup(fn, repeats, clock):
    return statistics.fmean(_timed(fn, repeats, clock, 1))


def median_without_warmup(fn, repeats, clock):
    return statistics.median(_timed(fn, repeats, clock, 0))


def minimum(fn, repeats, clock):
    return min(_timed(fn, repeats, clock, 1))


def total(fn, repeats, clock):
    return sum(_timed(fn, repeats, clock, 1))


def first_call_only(fn, repeats, clock):
    times = _timed(fn, 1, clock, 0)
    for _ in range(repeats):
        fn()
    return times[0]


def milliseconds(fn, repeats, clock):
    return 1000 * statistics.median(_timed(fn, repeats, clock, 1))


def wall_clock(fn, repeats, clock):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def no_return(fn, repeats, clock):
    statistics.median(_timed(fn, repeats, clock, 1))


def a_list(fn, repeats, clock):
    return _timed(fn, repeats, clock, 1)


def too_few_calls(fn, repeats, clock):
    fn()
    return statistics.median(_timed(fn, repeats - 2, clock, 0))


@pytest.mark.parametrize("fn, words", [
    (original_bug, "mean of the timed calls, including the slow first call"),
    (mean_after_warmup, "mean"),
    (median_without_warmup, "warm-up call"),
    (minimum, "minimum"),
    (total, "total"),
    (first_call_only, "first call alone"),
    (milliseconds, "milliseconds"),
    (wall_clock, "never called clock()"),
    (no_return, "returned None"),
    (a_list, "one number of seconds"),
    (too_few_calls, "called fn"),
    ("median_time", "Pass the function"),
])
def test_median_time_names_each_usual_mistake(fn, words):
    result = check("benchmarking-ex-median", fn)
    assert not result.correct
    assert words in result.message, result.message
    assert "100%" not in result.message


def test_median_time_never_hangs_on_a_loop_that_swallows_errors(monkeypatch):
    monkeypatch.setattr(bx, "TIME_LIMIT_S", 0.3)

    def stubborn(fn, repeats, clock):
        while True:
            try:
                fn()
            except Exception:
                pass

    started = time.monotonic()
    result = check("benchmarking-ex-median", stubborn)
    assert not result.correct and "did not return within" in result.message
    assert time.monotonic() - started < 5


def test_median_time_reports_the_learners_error():
    def broken(fn, repeats, clock):
        return statistics.median([])

    result = check("benchmarking-ex-median", broken)
    assert not result.correct and "StatisticsError" in result.message


# --------------------------------------------------------------------------
# benchmarking-ex-batch

def test_batch_intensities_from_the_formula():
    # 7x7, 1024 -> 1024, float32. Batch 1: 2*49*1024^2 FLOPs on
    # 4*(49*2048 + 1024^2) bytes; batch 32: 32 times the FLOPs on
    # 4*(32*49*2048 + 1024^2) bytes.
    assert bx.batch_intensity(1) == pytest.approx(102_760_448 / 4_595_712)
    assert bx.batch_intensity(32) == pytest.approx(3_288_334_336 / 17_039_360)
    assert bx.batch_intensity(1) < bx.BATCH_RIDGE < bx.batch_intensity(32)


def test_batch_right_option_and_explanations():
    right = _wrong_options_explained("benchmarking-ex-batch",
                                     bx.BATCH_EXPLANATIONS)
    assert right == ["memory bound at batch 1, compute bound at batch 32"]
    assert "about 22 FLOPs per byte" in bx.BATCH_EXPLANATIONS[
        bx.BATCH_OPTIONS[1]]
    assert "about 193 FLOPs" in bx.BATCH_EXPLANATIONS[bx.BATCH_OPTIONS[0]]


def test_kinds_are_registered_honestly():
    kinds = {e.label: e.kind for e in bx.EXERCISES}
    assert kinds == {"benchmarking-ex-reduction": "conceptual",
                     "benchmarking-ex-intensity": "arithmetic",
                     "benchmarking-ex-median": "debug",
                     "benchmarking-ex-batch": "predict"}

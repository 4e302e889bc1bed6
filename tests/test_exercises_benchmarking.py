"""The benchmarking chapter's exercises: right answers pass, typical wrong ones fail."""

import statistics

import pytest

from conv1x1.exercises import check, get
from conv1x1.exercises import benchmarking as bx


def test_ratio_choice_explains_every_wrong_option():
    exercise = get("benchmarking-ex-ratio")
    right = [o for o in exercise.options if check(exercise.label, o).correct]
    assert right == [bx.RATIO_OPTIONS[1]]
    for option in exercise.options:
        if option not in right:
            result = check(exercise.label, option)
            assert not result.correct
            assert bx.RATIO_EXPLANATIONS[option] in result.message
    assert "Pick one" in check(exercise.label, None).message


def test_intensity_matches_the_formula_and_conv_bytes():
    from conv1x1 import benchmark, cost

    flops = 2 * cost.conv_macs(28, 28, 512, 512)
    intensity = flops / benchmark.conv_bytes(28, 28, 512, 512)
    assert intensity == pytest.approx(411_041_792 / 4_259_840)
    assert check("benchmarking-ex-intensity", f"{intensity:.1f}").correct
    # Forgetting that a FLOP count is twice the MACs is off by a factor of 2.
    assert not check("benchmarking-ex-intensity", f"{intensity / 2:.1f}").correct
    # Forgetting the 4 bytes per value is off by a factor of 4.
    assert not check("benchmarking-ex-intensity", f"{intensity * 4:.1f}").correct
    assert "not a number" in check("benchmarking-ex-intensity", "lots").message


def test_fake_workload_advances_its_clock():
    work = bx.FakeWorkload([5.0, 1.0, 2.0])
    work()
    work()
    work()
    work()
    assert work.clock() == 5 + 1 + 2 + 2 and work.calls == 4


def _fixed(fn, repeats, clock):
    fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def _buggy(fn, repeats, clock):
    start = clock()
    for _ in range(repeats):
        fn()
    return (clock() - start) / repeats


def _mean_after_warmup(fn, repeats, clock):
    fn()
    start = clock()
    for _ in range(repeats):
        fn()
    return (clock() - start) / repeats


def _median_without_warmup(fn, repeats, clock):
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def test_median_time_accepts_the_fix_and_rejects_each_bug():
    label = "benchmarking-ex-median"
    assert check(label, _fixed).correct
    assert check(label, bx.reference_median_time).correct
    for wrong in (_buggy, _mean_after_warmup, _median_without_warmup):
        assert not check(label, wrong).correct, wrong.__name__
    assert not check(label, "median_time").correct


def test_the_first_call_and_the_interruption_both_matter():
    import numpy as np

    repeats, durations = bx._median_cases(np.random.default_rng(3))
    work = bx.FakeWorkload(durations)
    fixed = bx.reference_median_time(work, repeats, work.clock)
    assert fixed == pytest.approx(statistics.median(durations[1:repeats + 1]))
    assert max(durations[1:]) > 10 * fixed       # an interruption is present
    assert durations[0] > 20 * fixed             # and a slow first call


def test_halves_prediction():
    assert check("benchmarking-ex-halves", "the depthwise 3x3 convolution").correct
    wrong = check("benchmarking-ex-halves", "the pointwise 1x1 convolution")
    assert not wrong.correct and "reuse" in wrong.message

"""conv1x1.exercises._core: the number rule, the time limit and malformed answers.

The number rule: an answer is right when it is within the exercise's
tolerance, or when the exact answer rounds to it at the precision the
learner typed, with three significant figures or more. The expected values
below are the course's own figures, written out: NiN's fully connected
head for 100 classes (1,228,900 parameters), Inception's auxiliary
classifier (3,229,800), the extra MACs of ResNet's stride moved to the
first 1x1 (77,070,336) and the arithmetic intensity of the benchmarking
chapter (2 * 28*28*512*512 / (4 * (28*28*512*2 + 512*512)) FLOP/B).

The time limit: a learner's function that catches the checker's
exception in a retry loop is stopped all the same, and the limit is read
from the environment when a check runs.
"""

import decimal
import math
import signal
import sys
import time

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conv1x1 import exercises as ex
from conv1x1.exercises import _core as core

NIN_FC = 1_228_900
AUX = 3_229_800
STRIDE_EXTRA = 77_070_336
INTENSITY = 2 * 28 * 28 * 512 * 512 / (4 * (28 * 28 * 512 * 2 + 512 * 512))


# ------------------------------------------------------------ the number rule

@pytest.mark.parametrize("answer, expected", [
    ("1.229M", NIN_FC), ("1.2289M", NIN_FC), ("1.23M", NIN_FC), ("1,228.9K", NIN_FC),
    ("3.23M", AUX), ("3.2298M", AUX), ("77.1M", STRIDE_EXTRA), ("77.07M", STRIDE_EXTRA),
    ("96.5", INTENSITY), ("96.49", INTENSITY), ("1.229e6", NIN_FC),
])
def test_an_answer_rounded_as_typed_is_right(answer, expected):
    result = core.check_number(answer, expected)
    assert result.correct, result.message


@pytest.mark.parametrize("answer, expected, figures", [
    ("1M", NIN_FC, 1), ("1.2M", NIN_FC, 2), ("77M", STRIDE_EXTRA, 2),
    ("3.2M", AUX, 2), ("96", INTENSITY, 2),
])
def test_too_few_significant_figures_are_not_enough(answer, expected, figures):
    result = core.check_number(answer, expected)
    assert not result.correct
    assert result.message.startswith("Not precise enough:")
    assert f"has {figures} significant figure" in result.message
    assert "give at least 3" in result.message


@pytest.mark.parametrize("answer, expected", [
    ("1,229,000", NIN_FC),   # written out in full: every digit is claimed
    ("1.228M", NIN_FC),      # rounded the wrong way
    ("1.2290M", NIN_FC),     # claims the hundreds: 1,229,000 is not 1,228,900
    ("3.22M", AUX), ("77.0M", STRIDE_EXTRA), ("96.4", INTENSITY),
])
def test_an_answer_rounded_wrongly_is_wrong(answer, expected):
    result = core.check_number(answer, expected)
    assert not result.correct
    assert "too large" in result.message or "too small" in result.message


def test_the_exercises_tolerance_still_holds():
    assert core.check_number("8.5", 8.47, rel_tol=0.01).correct
    assert core.check_number("0.1152", 0.115, rel_tol=2e-3).correct
    assert not core.check_number("0.1153", 0.115, rel_tol=2e-3).correct
    # An exact answer with fewer than three figures needs all of them.
    assert core.check_number("64", 64).correct and core.check_number("6.4e1", 64).correct
    assert not core.check_number("6e1", 64).correct
    assert core.check_number("0.5", 0.5).correct
    assert not core.check_number("0", 0.3).correct
    assert "too small" in core.check_number("0", 0.3).message


@pytest.mark.parametrize("answer", [
    "1,228,900 parameters", "1,228,900 Parameters", "1.229M parameters",
    "1.229M params", "1228900parameters", "1\u00a0228\u00a0900",
    "1\u202f228\u202f900", "1\u2009228\u2009900", "1\u202f228\u202f900\u00a0parameters",
])
def test_units_and_every_kind_of_thousands_space_are_read(answer):
    assert core.check_number(answer, NIN_FC).correct, answer


def test_the_exercises_own_unit_is_read():
    assert core.check_number("96.5 FLOP/B", INTENSITY).correct
    assert core.check_number("77.07M MACs", STRIDE_EXTRA).correct
    assert core.check_number("77.07M more MACs", STRIDE_EXTRA, unit=" more MACs").correct
    only = core.check_number("5 parameters", 5, units=("MACs",))
    assert not only.correct
    assert only.message.startswith("'parameters' is not a unit this answer takes")
    assert "(MACs)" in only.message
    assert core.check_number("5 MACs", 5, units=("MACs",)).correct


@pytest.mark.parametrize("answer, words", [
    ("1.2M apples", "'apples' is not a unit this answer takes"),
    ("1,5", "write decimals with a point"),
    ("2*3", "is not a number"),
])
def test_what_is_not_a_number_is_named(answer, words):
    result = core.check_number(answer, 6)
    assert not result.correct and words in result.message


def test_nan_is_not_a_number_and_huge_numbers_are_too_large_to_be_counts():
    nan = core.check_number(float("nan"), 5)
    assert not nan.correct
    assert nan.message.startswith("NaN is not a number")
    assert "too large" not in nan.message
    for huge in (10**400, "1e400", "9" * 500, np.float64("inf")):
        result = core.check_number(huge, 5)
        assert not result.correct and "too large to be a count" in result.message
        assert "Overflow" not in result.message
    assert "too large to be a count" in ex.check("structure-ex-macs", 10**400).message


def test_known_mistakes_are_matched_by_the_same_rule():
    aux_at_512 = 3_188_840
    mistakes = {aux_at_512: "That is the classifier on 4a's 512 channels."}
    for answer in ("3,188,840", "3.19M", "3.189M"):
        result = core.check_number(answer, AUX, mistakes=mistakes)
        assert not result.correct and result.message == mistakes[aux_at_512], answer
    plain = core.check_number("3.3M", AUX, mistakes=mistakes)
    assert not plain.correct and "too large" in plain.message
    # A function still works as before, called with the learner's number.
    seen = []
    called = core.check_number("3.3M", AUX, mistakes=lambda v: seen.append(v) or "no")
    assert called.message == "no" and seen == [3.3e6]


def _round_half_up(count: int, exponent: int) -> int:
    """``count`` rounded to a multiple of 10**exponent, in units of it."""
    return (2 * count + 10**exponent) // (2 * 10**exponent)


@settings(max_examples=200, deadline=None)
@given(st.integers(1000, 10**12), st.integers(3, 6))
def test_any_count_rounded_to_three_figures_or_more_is_right(count, figures):
    exponent = max(0, len(str(count)) - figures)
    mantissa = _round_half_up(count, exponent)
    in_millions = decimal.Decimal((0, tuple(map(int, str(mantissa))), exponent - 6))
    for text in (f"{mantissa}e{exponent}", f"{in_millions}M"):  # the same figures
        assert core.check_number(text, count).correct, (text, count)


@settings(max_examples=200, deadline=None)
@given(st.integers(1000, 10**12))
def test_a_count_rounded_to_two_figures_is_right_only_within_tolerance(count):
    exponent = len(str(count)) - 2
    mantissa = _round_half_up(count, exponent)
    assume(len(str(mantissa)) == 2)  # 99,500 rounds to 100e3: three figures
    text = f"{mantissa}e{exponent}"
    result = core.check_number(text, count)
    assert result.correct == math.isclose(float(text), count, rel_tol=1e-6)
    if not result.correct:
        assert result.message.startswith("Not precise enough")


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**9), st.integers(1, 10**6))
def test_a_whole_number_written_in_full_is_exact(count, offset):
    assert core.check_number(f"{count:,}", count).correct
    other = core.check_number(f"{count + offset:,}", count)
    assert other.correct == math.isclose(count + offset, count, rel_tol=1e-6)


# ------------------------------------------------- malformed answers (properties)

any_answer = st.one_of(
    st.text(max_size=40), st.none(), st.booleans(), st.integers(),
    st.floats(), st.complex_numbers(), st.lists(st.text(max_size=3), max_size=3),
    st.from_regex(r"\A[0-9., \u00a0\u202f]{0,12}[kKmMgGbB]? ?[A-Za-z/]{0,12}\Z"),
)


@settings(max_examples=300, deadline=None)
@given(any_answer, st.sampled_from([None, (), ("MACs",), ("FLOP/B", "x")]))
def test_check_number_never_raises_with_units(answer, units):
    result = core.check_number(answer, NIN_FC, units=units, unit=" parameters")
    assert isinstance(result, core.Result) and result.message
    assert len(result.message) < 300


@settings(max_examples=300, deadline=None)
@given(any_answer)
def test_check_choice_never_raises_and_accepts_only_the_answer(answer):
    options = ["It doubles", "It stays the same.", "Is it halved?"]
    result = core.check_choice(answer, "It doubles", options,
                               explanations={"Is it halved?": "No."})
    assert isinstance(result, core.Result) and result.message
    assert result.correct == (answer == "It doubles")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["It doubles", "It stays the same.", "Is it halved?"]))
def test_check_choice_accepts_exactly_the_expected_option(answer):
    options = ["It doubles", "It stays the same.", "Is it halved?"]
    assert core.check_choice(answer, "It doubles", options).correct == (
        answer == "It doubles")


# ------------------------------------------------------ the time limit holds

def _retry_with_bare_except():
    while True:
        try:
            time.sleep(1)
        except:  # noqa: E722 -- the learner's code under test
            pass


def _nested_handlers_around_a_busy_loop():
    n = 0
    while True:
        try:
            try:
                try:
                    while True:
                        n += 1
                except:  # noqa: E722
                    pass
            except BaseException:
                pass
        except:  # noqa: E722
            pass


def _helper_that_swallows():
    try:
        sum(range(10**5))
    except:  # noqa: E722
        pass


def _retry_around_a_helper():
    while True:
        try:
            _helper_that_swallows()
        except:  # noqa: E722
            continue


def _converts_the_stop_into_its_own_error():
    try:
        time.sleep(5)
    except BaseException:
        raise ValueError("caught it")


def _swallows_once_and_returns_late():
    try:
        time.sleep(5)
    except:  # noqa: E722
        pass
    return 42


@pytest.mark.parametrize("learner", [
    _retry_with_bare_except, _nested_handlers_around_a_busy_loop, _retry_around_a_helper,
    _converts_the_stop_into_its_own_error, _swallows_once_and_returns_late,
])
def test_the_time_limit_holds_whatever_the_learner_catches(learner):
    trace_before = sys.gettrace()
    handler_before = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    output, why = core.run_learner(learner, limit=0.2)
    assert time.monotonic() - start < 3
    assert output is None
    assert why.startswith("Your function did not return within 0.2 seconds")
    # Nothing is left behind: no trace function, no timer, the old handler.
    assert sys.gettrace() is trace_before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler_before
    time.sleep(0.15)  # a stray alarm or a pending raise would land here
    assert sum(range(1000)) == 499500


def test_nothing_is_traced_before_the_time_is_up():
    seen = []

    def looks():
        seen.append(sys.gettrace())
        return 7

    before = sys.gettrace()
    assert core.run_learner(looks, limit=5) == (7, None)
    assert seen == [before]


def test_check_function_stops_a_retry_loop():
    def my_double(a):
        while True:
            try:
                time.sleep(1)
            except:  # noqa: E722
                pass

    result = ex.check_function(my_double, lambda a: 2 * a,
                               lambda rng: (rng.normal(size=3),), time_limit=0.3)
    assert not result.correct and "did not return within 0.3 seconds" in result.message


# ------------------------------------------- the time limit is read at call time

def test_time_limit_reads_the_environment_at_every_call(monkeypatch):
    monkeypatch.delenv(core.TIME_LIMIT_VARIABLE, raising=False)
    assert core.time_limit() == core.DEFAULT_TIME_LIMIT_S == 20.0
    assert core.time_limit(30) == 30.0
    monkeypatch.setenv(core.TIME_LIMIT_VARIABLE, "0.4")
    assert core.time_limit() == 0.4 and core.time_limit(30) == 0.4
    monkeypatch.setenv(core.TIME_LIMIT_VARIABLE, "2.5")
    assert core.time_limit() == 2.5


@pytest.mark.parametrize("text", ["soon", "0", "-1", "inf", "nan"])
def test_time_limit_refuses_a_bad_setting(monkeypatch, text):
    monkeypatch.setenv(core.TIME_LIMIT_VARIABLE, text)
    with pytest.raises(ValueError) as info:
        core.time_limit()
    assert "CONV1X1_TIME_LIMIT must be a number of seconds > 0" in str(info.value)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("default", [0, -2, "20", True, float("inf")])
def test_time_limit_refuses_a_bad_default(monkeypatch, default):
    monkeypatch.delenv(core.TIME_LIMIT_VARIABLE, raising=False)
    with pytest.raises(ValueError, match="default must be a number of seconds"):
        core.time_limit(default)


def test_check_function_reads_the_limit_when_it_runs(monkeypatch):
    def never_returns(a):
        while True:
            a = a + 1

    monkeypatch.setenv(core.TIME_LIMIT_VARIABLE, "0.3")
    start = time.monotonic()
    result = ex.check_function(never_returns, lambda a: a, lambda rng: (np.zeros(2),))
    assert time.monotonic() - start < 3
    assert "did not return within 0.3 seconds" in result.message


def _sleeps_forever(*args):
    while True:
        time.sleep(0.05)


def test_every_function_exercise_reads_the_limit_when_it_runs(monkeypatch):
    """Each chapter's function checker stops the learner at CONV1X1_TIME_LIMIT.

    Slow on purpose (about 0.1 s for each function exercise): it is the one
    test that runs every chapter's function checker on a function that
    never returns.
    """
    import keras  # noqa: F401 -- imported first, so that no check pays for it

    monkeypatch.setenv(core.TIME_LIMIT_VARIABLE, "0.1")
    labels = sorted(label for label, exercise in ex.all_exercises().items()
                    if exercise.widget == "function")
    assert len(labels) >= 10
    slow = []
    for label in labels:
        start = time.monotonic()
        result = ex.check(label, _sleeps_forever)
        if not (not result.correct and "within 0.1 seconds" in result.message
                and time.monotonic() - start < 10):
            slow.append((label, result.message[:120]))
    assert slow == []

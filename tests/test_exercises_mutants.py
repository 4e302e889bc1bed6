"""conv1x1.exercises._core, word for word: the exact messages and boundaries.

tests/test_exercises.py checks that each checker gives the right verdict
with a helpful message; these tests pin the messages themselves and the
edges of every rule (the factor hint's range, the digit limit, the quote
length), so that a small slip in the checkers (found by ``make mutate``)
fails a test.
"""

import numpy as np
import pytest

from conv1x1.exercises import _core as core


def refusal(parser, text):
    with pytest.raises(ValueError) as info:
        parser(text)
    return str(info.value)


# ---------------------------------------------------------------- parse_number

@pytest.mark.parametrize("text, message", [
    ("", "The answer is empty: type a number, e.g. 4160."),
    ("  ", "The answer is empty: type a number, e.g. 4160."),
    (True, "Expected a number; received a yes/no value."),
    (np.bool_(False), "Expected a number; received a yes/no value."),
    ("2*3", "'2*3' is not a number. Type digits only, e.g. 4160, 4,160, 1.5e6 or 3.4M; "
            "expressions such as 2*3 are not evaluated."),
    ("1e400", "'1e400' is too large to be a count or a cost (more than 10^308): check "
              "the exponent or the number of digits."),
    (10**400, "'" + "1" + "0" * 36 + "...' is too large to be a count or a cost (more "
              "than 10^308): check the exponent or the number of digits."),
    (float("nan"), "NaN is not a number: the computation that gave it went wrong (0/0, "
                   "say). Type the number itself, e.g. 4160."),
    (float("inf"), "Expected a finite number; infinity is too large to be a count or a "
                   "cost."),
])
def test_parse_number_messages(text, message):
    assert refusal(core.parse_number, text) == message


def test_long_answers_are_quoted_short():
    text = "abcdefghij" * 5                                  # 50 characters
    assert refusal(core.parse_number, text).startswith("'" + text[:37] + "...' is not")
    exactly = "x" * 40                                      # at the limit: kept whole
    assert refusal(core.parse_number, exactly).startswith(f"'{exactly}' is not")
    assert refusal(core.parse_number, "x" * 41).startswith("'" + "x" * 37 + "...' is not")


@pytest.mark.parametrize("text, value", [
    ("2k", 2e3), ("2K", 2e3), ("2m", 2e6), ("2M", 2e6), ("2g", 2e9), ("2G", 2e9),
    ("2b", 2e9), ("2B", 2e9), ("1,234,567", 1234567.0), ("1 234", 1234.0),
    ("1_234", 1234.0), ("+3", 3.0), ("3.", 3.0), ("2.5e-3", 0.0025), ("1E3", 1000.0),
    ("2.5 k", 2500.0), (np.float32(0.5), 0.5), (7, 7.0),
])
def test_parse_number_values(text, value):
    result = core.parse_number(text)
    assert result == value and type(result) is float


@pytest.mark.parametrize("text", ["1,23", "k", "1kk", "1e", "--1", "1..2", "0x10"])
def test_parse_number_refuses_near_misses(text):
    assert "is not a number" in refusal(core.parse_number, text)


# ---------------------------------------------------------------- parse_shape

@pytest.mark.parametrize("text, message", [
    ("", "The answer is empty: type a shape, e.g. (1, 28, 28, 64)."),
    ("()", "Expected at least one dimension, e.g. (28, 28, 64)."),
    ([], "Expected at least one dimension, e.g. (28, 28, 64)."),
    ("(8, 14", "'(8, 14' opens a bracket it does not close: write the shape as "
               "(1, 28, 28, 64)."),
    ("[8, 14)", "'[8, 14)' opens a bracket it does not close: write the shape as "
                "(1, 28, 28, 64)."),
    ("8, (14)", "'8, (14)' has a bracket out of place: write one shape, e.g. "
                "(1, 28, 28, 64), without nested brackets."),
    ("8, {14}", "'8, {14}' has a bracket out of place: write one shape, e.g. "
                "(1, 28, 28, 64), without nested brackets."),
    ("(8,,14)", "'(8,,14)' has a number missing between two separators: write the "
                "shape as (1, 28, 28, 64)."),
    ("(8, a)", "'a' is not a whole number. Write the shape as whole numbers separated "
               "by commas, e.g. (1, 28, 28, 64)."),
    ("(1234567890,)", "'1234567890' is too large for a dimension: a shape's dimensions "
                      "have at most 9 digits."),
])
def test_parse_shape_messages(text, message):
    assert refusal(core.parse_shape, text) == message


@pytest.mark.parametrize("text, shape", [
    ("(8,)", (8,)), ("[8]", (8,)), ("8", (8,)), ("(8, 14,)", (8, 14)),
    ("( 8 ,14 )", (8, 14)), ("8 14", (8, 14)), ("8×14", (8, 14)), ("8*14", (8, 14)),
    ("(123456789,)", (123456789,)), ("(0000000001234,)", (1234,)), ((" 8", 9), (8, 9)),
    ([0, 3], (0, 3)),
])
def test_parse_shape_values(text, shape):
    result = core.parse_shape(text)
    assert result == shape and all(type(d) is int for d in result)


# ---------------------------------------------------------------- check_number

def test_check_number_messages():
    assert core.check_number("4160", 4160).message == "Correct: 4,160."
    assert core.check_number("0.115", 0.115).message == "Correct: 0.115."
    assert core.check_number("2e15", 2e15).message == "Correct: 2e+15."
    assert core.check_number("999999999999999", 999999999999999).message == (
        "Correct: 999,999,999,999,999.")
    assert core.check_number("5", 5, unit=" MACs").message == "Correct: 5 MACs."
    assert core.check_number("4200", 4160, hint="Count the bias.") == core.Result(
        False, "Not quite: 4,200 is too large.", "Count the bias.")
    assert core.check_number("4000", 4160).message == "Not quite: 4,000 is too small."
    assert core.check_number("abc", 4160, hint="h") == core.Result(
        False, "'abc' is not a number. Type digits only, e.g. 4160, 4,160, 1.5e6 or "
               "3.4M; expressions such as 2*3 are not evaluated.", "h")


@pytest.mark.parametrize("value, expected, factor", [
    (8320, 4160, 2), (2080, 4160, 2), (41600, 4160, 10), (416, 4160, 10),
    (-6, -2, 3), (30, 3, 10),
])
def test_check_number_factor_hint_range(value, expected, factor):
    message = core.check_number(str(value), expected).message
    assert message.endswith(f" It is off by a factor of {factor}: is a term missing or "
                            "counted twice?")


@pytest.mark.parametrize("value, expected", [
    (45760, 4160), (4160 * 1.5, 4160), (0, 4160), (5, 0), (-8320, 4160), (33, 3),
    (4160 * 2.0001, 4160),
])
def test_check_number_no_factor_hint(value, expected):
    assert "factor" not in core.check_number(str(value), expected).message


def test_check_number_tolerances():
    assert core.check_number("100.5", 100, rel_tol=0.01).correct
    assert not core.check_number("102", 100, rel_tol=0.01).correct
    assert core.check_number("100.5", 100, abs_tol=1).correct
    assert not core.check_number("100.000001", 100, rel_tol=0).correct
    assert core.check_number("4160.000001", 4160).correct     # default rel_tol 1e-6


@pytest.mark.parametrize("kwargs, message", [
    ({"expected": float("nan")}, "check_number: expected must be a finite number; "
                                 "received nan."),
    ({"expected": "4160"}, "check_number: expected must be a finite number; "
                           "received '4160'."),
    ({"expected": 1, "rel_tol": -1}, "check_number: rel_tol must be a number >= 0; "
                                     "received -1."),
    ({"expected": 1, "abs_tol": float("inf")}, "check_number: abs_tol must be a number "
                                               ">= 0; received inf."),
    ({"expected": 1, "abs_tol": "0"}, "check_number: abs_tol must be a number >= 0; "
                                      "received '0'."),
])
def test_check_number_author_mistakes(kwargs, message):
    with pytest.raises(ValueError) as info:
        core.check_number("1", **kwargs)
    assert str(info.value) == message


def test_check_number_mistakes_callback_only_for_wrong_answers():
    seen = []

    def mistakes(value):
        seen.append(value)
        return "That counts the weights only." if value == 4096 else None

    assert core.check_number("4096", 4160, mistakes=mistakes).message == (
        "That counts the weights only.")
    assert core.check_number("4000", 4160, mistakes=mistakes).message == (
        "Not quite: 4,000 is too small.")
    assert core.check_number("4160", 4160, mistakes=mistakes).correct
    assert seen == [4096.0, 4000.0]


# ---------------------------------------------------------------- check_shape and choice

def test_check_shape_messages():
    assert core.check_shape("(8, 14)", (8, 14)) == core.Result(True, "Correct: (8, 14).")
    assert core.check_shape("(8, 14, 3)", [8, 14], hint="h") == core.Result(
        False, "(8, 14, 3) has 3 dimensions; the answer has 2.", "h")
    assert core.check_shape("(9, 14, 4)", (8, 14, 3)).message == (
        "(9, 14, 4) is wrong in axis 0, 2.")
    assert core.check_shape("y", (8,)).message.startswith("'y' is not a whole number")
    with pytest.raises(ValueError) as info:
        core.check_shape("8", (8, True))
    assert str(info.value) == ("check_shape: expected must be a tuple of whole numbers "
                               ">= 0, e.g. (8, 14, 14, 32); received (8, True).")
    for bad in ((), (8, -1), "8", (8.0,)):
        with pytest.raises(ValueError):
            core.check_shape("8", bad)
    assert core.check_shape("(0, 3)", (np.int64(0), 3)).correct


def test_check_choice_messages():
    options = ("a 1x1 conv", "a 3x3 conv", "pooling.")
    assert core.check_choice("a 1x1 conv", "a 1x1 conv", options) == core.Result(
        True, "Correct: a 1x1 conv.")
    assert core.check_choice("pooling.", "pooling.", options).message == "Correct: pooling."
    assert core.check_choice("a 3x3 conv", "a 1x1 conv", options,
                             explanations={"a 3x3 conv": "It mixes space too."},
                             hint="h") == core.Result(
        False, "Not “a 3x3 conv”. It mixes space too.", "h")
    assert core.check_choice("pooling.", "a 1x1 conv", options).message == "Not “pooling”."
    for answer in (None, 1):
        assert core.check_choice(answer, "a 1x1 conv", options).message == (
            "Pick one of the options first.")
    assert core.check_choice("other", "a 1x1 conv", options).message == (
        "'other' is not one of the options: pick one of them.")
    with pytest.raises(ValueError) as info:
        core.check_choice("x", "missing", ["x", "y"])
    assert str(info.value) == ("check_choice: expected must be one of the options "
                               "['x', 'y']; received 'missing'.")


# ---------------------------------------------------------------- check_array

@pytest.mark.parametrize("answer, expected, message", [
    ([1.0, 2.0], [1.0, 2.0], "Correct: every value matches."),
    ([1.0, 2.5], [1.0, 2.0], "The shape is right but 50% of the values differ "
                             "(largest difference 0.5)."),
    ([1.0, 2.0, 3.0], [1.0, 2.0], "Expected an array of shape (2,); received shape (3,)."),
    ([1.0, float("nan")], [1.0, 2.0], "The array contains NaN or infinite values."),
    ([1j, 2.0], [1.0, 2.0], "The array holds complex numbers; the answer is real. Where "
                            "does an imaginary part come from?"),
    (["1", "2"], [1.0, 2.0], "The array holds text, not numbers: compute the values "
                             "rather than typing them as strings."),
    ([True, False], [1.0, 2.0], "The array holds True/False values; the answer is "
                                "numbers."),
    ([1, 0], [True, False], "The answer is an array of True/False values; this one holds "
                            "int64 values. A comparison such as x > 0 gives True/False "
                            "values."),
    ([True, True], [True, False], "The shape is right but 50% of the values differ."),
    ([True, False], [True, False], "Correct: every value matches."),
    (np.array([10**400, 1], dtype=object), [1.0, 2.0],
     "The array holds a number too large for a float."),
    (np.array([1, "a"], dtype=object), [1.0, 2.0],
     "The array holds text, not numbers: compute the values rather than typing them as "
     "strings."),
    (np.array([1, 2.5], dtype=object), [1.0, 2.5], "Correct: every value matches."),
    (None, [1.0], "Expected an array of numbers; received NoneType."),
])
def test_check_array_messages(answer, expected, message):
    assert core.check_array(answer, expected).message == message


def test_check_array_tolerances_and_author_mistakes():
    assert core.check_array([1.00001], [1.0]).correct               # default rtol 1e-5
    assert not core.check_array([1.001], [1.0]).correct
    assert core.check_array([1.001], [1.0], rtol=1e-2).correct
    assert core.check_array([0.5], [0.0], atol=1.0).correct
    assert not core.check_array([1e-5], [0.0]).correct              # default atol 1e-6
    with pytest.raises(ValueError) as info:
        core.check_array([1], np.array(["a"]))
    assert str(info.value) == ("check_array: expected must be an array of real numbers or "
                               "booleans; received dtype <U1.")


# ---------------------------------------------------------------- check_function

def _double(x):
    return 2 * x


def _make(rng):
    return (rng.normal(size=(2, 3)),)


def test_check_function_messages():
    assert core.check_function(_double, _double, _make) == core.Result(
        True, "Correct on all 5 random cases.")
    assert core.check_function(_double, _double, _make, trials=2).message == (
        "Correct on all 2 random cases.")
    wrong = core.check_function(lambda x: 3 * x, _double, _make, hint="h")
    assert wrong.hint == "h" and wrong.message.startswith(
        "Case 1 (inputs of shapes (2, 3)): The shape is right but 100% of the values differ")
    assert core.check_function(lambda x: None, _double, _make).message == (
        "Your function returned None: is its return statement missing?")
    assert core.check_function(3, _double, _make).message == (
        "Expected a function; received int. Pass the function itself, without calling it.")


@pytest.mark.parametrize("kwargs, message", [
    ({"trials": 0}, "check_function: trials must be a whole number >= 1; received 0."),
    ({"trials": True}, "check_function: trials must be a whole number >= 1; received True."),
    ({"time_limit": 0}, "check_function: time_limit must be a number of seconds > 0 or "
                        "None; received 0."),
    ({"time_limit": "1"}, "check_function: time_limit must be a number of seconds > 0 or "
                          "None; received '1'."),
    ({"reference": 3}, "check_function: reference and make_inputs must be functions."),
    ({"make_inputs": 3}, "check_function: reference and make_inputs must be functions."),
    ({"make_inputs": lambda rng: 3}, "check_function: make_inputs must return a tuple of "
                                     "arguments; received int."),
])
def test_check_function_author_mistakes(kwargs, message):
    arguments = {"reference": _double, "make_inputs": _make, **kwargs}
    with pytest.raises(ValueError) as info:
        core.check_function(_double, **arguments)
    assert str(info.value) == message


def test_inputs_are_described_by_shape_or_type():
    assert core._describe_inputs((np.zeros((2, 3)), [1, 2], [np.zeros(2)], 3, 2.5, "s",
                                  (1.0, 2.0))) == (
        "(2, 3), (2,), list, 3, 2.5, str, (2,)")
    assert core._describe_inputs(()) == ""


def test_list_inputs_are_accepted_as_a_tuple():
    result = core.check_function(_double, _double, lambda rng: [rng.normal(size=3)])
    assert result.correct


# ---------------------------------------------------------------- run_learner and widgets

def test_run_learner_messages():
    assert core.run_learner(lambda: 5, limit=None) == (5, None)
    assert core.run_learner(lambda a, b: a + b, (2, 3), limit=1.0) == (5, None)

    def broken():
        raise KeyError("k")

    output, why = core.run_learner(broken, limit=None, context=" on case 1")
    assert output is None
    assert why.startswith("Your function raised KeyError: 'k' (line ")
    assert why.endswith(') on case 1. Look at line ' + why.split("line ")[1].split(")")[0]
                        + ' (raise KeyError("k")).')

    def silent():
        raise ValueError

    assert core.run_learner(silent, limit=None)[1].startswith(
        "Your function raised ValueError (line ")
    assert core.run_learner(lambda: exit(), limit=None, returns="a number")[1] == (
        "Your function tried to stop Python (SystemExit, from sys.exit() or exit()); "
        "it must return a number instead.")


def test_feedback_html():
    assert core._feedback_html(core.Result(True, "Correct: 4 < 5.")) == (
        '<div class="exercise-feedback" style="color:#1a7f37">✔ Correct: 4 &lt; 5.</div>')
    assert core._feedback_html(core.Result(False, "No")) == (
        '<div class="exercise-feedback" style="color:#b42318">✘ No</div>')


def test_run_check_never_raises():
    assert core._run_check(lambda: core.Result(True, "ok")) == core.Result(True, "ok")
    assert core._run_check(lambda: 1 / 0) == core.Result(
        False, "This answer could not be checked (ZeroDivisionError: division by zero). "
               "Check its form against the question.")
    assert core._run_check(lambda: "yes") == core.Result(
        False, "This answer could not be checked: the checker returned str, not a Result.")


# ---------------------------------------------------------------- the hint comes back

@pytest.mark.parametrize("call", [
    lambda h: core.check_array(object(), [1.0], hint=h),
    lambda h: core.check_array(np.array([10**400], dtype=object), [1.0], hint=h),
    lambda h: core.check_array([1, 0], [True, False], hint=h),
    lambda h: core.check_array([1.0], [1.0], hint=h),
    lambda h: core.check_array([True], [True], hint=h),
    lambda h: core.check_array([True], [False], hint=h),
    lambda h: core.check_array([np.nan], [1.0], hint=h),
    lambda h: core.check_array([2.0], [1.0], hint=h),
    lambda h: core.check_choice(None, "a", ["a", "b"], hint=h),
    lambda h: core.check_shape("y", (8,), hint=h),
    lambda h: core.check_shape("(9, 8)", (8, 8), hint=h),
    lambda h: core.check_function(_double, _double, _make, hint=h),
    lambda h: core.check_function(3, _double, _make, hint=h),
    lambda h: core.check_function(lambda x: None, _double, _make, hint=h),
    lambda h: core.check_function(lambda x: 1 / 0, _double, _make, hint=h),
])
def test_every_verdict_carries_the_hint(call):
    result = call("the hint")
    assert result.hint == "the hint" and type(result.correct) is bool


def test_factor_hint_edges():
    hint = " It is off by a factor of 2: is a term missing or counted twice?"
    assert core._factor_hint(2.0, 1.0) == hint
    assert core._factor_hint(1.0, 2.0) == hint
    assert core._factor_hint(-2.0, -1.0) == hint
    assert core._factor_hint(2.0, -1.0) == "" and core._factor_hint(-2.0, 1.0) == ""
    assert core._factor_hint(1.0, 0.0) == "" and core._factor_hint(0.0, 1.0) == ""
    assert core._factor_hint(2.0, 0.0) == ""
    assert core._factor_hint(10.5, 1.0) == "" and core._factor_hint(11.0, 1.0) == ""
    assert core._factor_hint(10.0, 1.0).startswith(" It is off by a factor of 10")


def test_time_limit_message_says_second_or_seconds():
    def endless():
        while True:
            pass

    assert "within 1 second, " in core.run_learner(endless, limit=1)[1]
    why = core.run_learner(endless, limit=0.2)[1]
    assert why.startswith("Your function did not return within 0.2 seconds, so the check "
                          "stopped it. Is there a loop that never ends?")


def test_check_function_default_seed_and_infinite_time_limit():
    seen = []

    def make(rng):
        seen.append(rng.normal())
        return (np.zeros(2),)

    core.check_function(_double, _double, make, trials=1)
    assert seen == [np.random.default_rng(0).normal()]
    with pytest.raises(ValueError, match="time_limit must be"):
        core.check_function(_double, _double, _make, time_limit=float("inf"))

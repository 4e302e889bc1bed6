"""conv1x1.exercises: parsing, checking, and the widgets that display the checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conv1x1 import exercises as ex


@pytest.mark.parametrize("text, value", [
    ("4160", 4160), (" 4,160 ", 4160), ("4_160", 4160), ("1 048 576", 1048576),
    ("1.5e6", 1.5e6), ("3.4M", 3.4e6), ("2.7k", 2700), ("1.8G", 1.8e9), ("-0.5", -0.5),
    (".25", 0.25), (12, 12.0), (np.int64(7), 7.0),
])
def test_parse_number(text, value):
    assert ex.parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text, words", [
    ("", "empty"), ("   ", "empty"), ("abc", "not a number"), ("2*3", "not evaluated"),
    ("__import__('os')", "not a number"), ("1,2,3,4", "not a number"), (True, "yes/no"),
    ("nan", "not a number"), (float("inf"), "finite"),
])
def test_parse_number_rejects_with_a_message(text, words):
    with pytest.raises(ValueError) as info:
        ex.parse_number(text)
    assert words in str(info.value)


@pytest.mark.parametrize("text", ["(8, 14, 14, 32)", "8,14,14,32", "[8, 14, 14, 32]",
                                  "8 x 14 x 14 x 32", "8x14x14x32", (8, 14, 14, 32)])
def test_parse_shape(text):
    assert ex.parse_shape(text) == (8, 14, 14, 32)


@pytest.mark.parametrize("text, words", [("", "empty"), ("()", "at least one"),
                                          ("(8, a, 3)", "'a' is not a whole number"),
                                          ("(2.5, 3)", "'2.5' is not")])
def test_parse_shape_rejects(text, words):
    with pytest.raises(ValueError) as info:
        ex.parse_shape(text)
    assert words in str(info.value)


def test_check_number():
    right = ex.check_number("16,448", 16448, hint="h")
    assert right.correct and bool(right) and "16,448" in right.message and right.hint == "h"
    wrong = ex.check_number("16384", 16448)
    assert not wrong.correct and "too small" in wrong.message
    doubled = ex.check_number("32896", 16448)
    assert not doubled.correct and "factor of 2" in doubled.message
    assert ex.check_number("8.5", 8.47, rel_tol=0.01).correct
    assert not ex.check_number("9", 8.47, rel_tol=0.01).correct
    malformed = ex.check_number("sixteen", 16448)
    assert not malformed.correct and "not a number" in malformed.message
    assert not ex.check_number("0", 5).correct


def test_check_shape():
    assert ex.check_shape("(8,14,14,32)", (8, 14, 14, 32)).correct
    rank = ex.check_shape("(14, 14, 32)", (8, 14, 14, 32))
    assert not rank.correct and "3 dimensions" in rank.message
    axis = ex.check_shape("(8, 28, 28, 32)", (8, 14, 14, 32))
    assert not axis.correct and "axis 1, 2" in axis.message
    assert "not a whole number" in ex.check_shape("(8, y)", (8, 1)).message


def test_check_number_names_a_known_mistake():
    seen = []

    def mistakes(value):
        seen.append(value)
        return "That counts the weights only." if value == 16384 else None

    weights_only = ex.check_number("16,384", 16448, mistakes=mistakes, hint="h")
    assert not weights_only.correct and weights_only.hint == "h"
    assert weights_only.message == "That counts the weights only."
    other = ex.check_number("16000", 16448, mistakes=mistakes)
    assert not other.correct and "too small" in other.message
    assert ex.check_number("16448", 16448, mistakes=mistakes).correct
    assert "not a number" in ex.check_number("lots", 16448, mistakes=mistakes).message
    assert seen == [16384.0, 16000.0]


def test_check_choice():
    kwargs = dict(expected="b", options=["a", "b"], explanations={"a": "Because."})
    assert ex.check_choice("b", **kwargs).correct
    assert ex.check_choice("a", **kwargs).message == "Not “a”. Because."
    assert "Pick one" in ex.check_choice(None, **kwargs).message
    assert ex.check_choice("c", **kwargs).message == (
        "'c' is not one of the options: pick one of them.")


def test_check_array():
    expected = np.arange(6.0).reshape(2, 3)
    assert ex.check_array(expected.tolist(), expected).correct
    assert "shape (2, 3)" in ex.check_array(np.zeros(3), expected).message
    assert "holds text" in ex.check_array("text", expected).message
    assert "NaN" in ex.check_array(np.full((2, 3), np.nan), expected).message
    off = ex.check_array(expected + np.eye(2, 3), expected)
    assert not off.correct and "33%" in off.message


def _inputs(rng):
    return (rng.normal(size=(2, 3)),)


def test_check_function():
    reference = lambda a: a * 2  # noqa: E731
    assert ex.check_function(lambda a: a + a, reference, _inputs).correct
    wrong = ex.check_function(lambda a: a * 3, reference, _inputs)
    assert not wrong.correct and "Case 1" in wrong.message

    def crashes(a):
        return a @ np.ones((5, 5))

    crashed = ex.check_function(crashes, reference, _inputs)
    assert not crashed.correct and "raised ValueError" in crashed.message
    assert "Expected a function" in ex.check_function(3, reference, _inputs).message
    shape = ex.check_function(lambda a: a[0], reference, _inputs)
    assert "shape (2, 3)" in shape.message
    forgot_return = ex.check_function(lambda a: None, reference, _inputs)
    assert not forgot_return.correct and "returned None" in forgot_return.message


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _find(box, kind, description=None):
    for w in _walk(box):
        if isinstance(w, kind) and (description is None or w.description == description):
            return w
    raise LookupError(description)


# --------------------------------------------------------------------------
# Malformed and extreme answers: a clear message and the right verdict.

@pytest.mark.parametrize("text, expected", [
    ("1e-310", 16448), ("5e-324", 16448), ("1e308", 1e-10), ("-1e308", 1e-10),
    ("1e-320", -3.0), ("1e300", 0.5), ("1e-300", 3.0),
])
def test_check_number_extreme_values_give_a_verdict(text, expected):
    result = ex.check_number(text, expected)
    assert not result.correct
    assert "too large" in result.message or "too small" in result.message
    assert "factor" not in result.message


@pytest.mark.parametrize("text, factor", [("32896", 2), ("164480", 10), ("1644.8", 10),
                                          ("5482.666666666667", 3)])
def test_check_number_offers_small_whole_factors(text, factor):
    result = ex.check_number(text, 16448)
    assert not result.correct and f"factor of {factor}:" in result.message


@pytest.mark.parametrize("text", ["181", "1644800", "-32896"])
def test_check_number_gives_no_factor_hint_beyond_ten_or_across_signs(text):
    result = ex.check_number(text, 16448)
    assert not result.correct and "factor" not in result.message


def test_check_number_tolerance_is_tight():
    """0.3 is not 0.115, whatever tolerance the exercise uses; the default is 1e-6."""
    assert not ex.check_number("0.3", 0.115).correct
    assert not ex.check_number("0.3", 0.115, rel_tol=2e-3).correct
    assert not ex.check_number("0.1153", 0.115, rel_tol=2e-3).correct
    assert ex.check_number("0.1152", 0.115, rel_tol=2e-3).correct
    assert ex.check_number(0.115 * (1 + 0.9e-6), 0.115).correct
    assert not ex.check_number(0.115 * (1 + 2e-6), 0.115).correct
    assert not ex.check_number("0.1151", 0.115, abs_tol=0.0).correct
    assert ex.check_number("0.1151", 0.115, abs_tol=2e-4).correct


@pytest.mark.parametrize("expected", [float("nan"), float("inf"), "12", None])
def test_check_number_rejects_a_bad_expected_value_for_the_author(expected):
    with pytest.raises(ValueError, match="expected"):
        ex.check_number("12", expected)


@pytest.mark.parametrize("text, words", [
    ("(8,14,14,32", "bracket"), ("8,14,14,32)", "bracket"), ("[[8,14,14,32]]", "bracket"),
    ("(8,14,14,32]", "bracket"), ("(8,,14,14,32)", "missing"), (",8,14", "missing"),
    ("(8, 14, 14, 32,,)", "missing"), ("9" * 5000, "too large"), ("(8, 1e3)", "'1e3'"),
    ("(8, -3)", "'-3'"), ("(8, ٣)", "not a whole number"),
])
def test_parse_shape_rejects_malformed_text(text, words):
    with pytest.raises(ValueError) as info:
        ex.parse_shape(text)
    message = str(info.value)
    assert words in message
    assert "Exceeds the limit" not in message and len(message) < 300


@pytest.mark.parametrize("text", ["(8,)", "(8, )", "8"])
def test_parse_shape_accepts_a_one_dimensional_shape(text):
    assert ex.parse_shape(text) == (8,)


def test_check_shape_malformed_answers_are_wrong_with_a_message():
    for text in ["(8,14,14,32", "[[8,14,14,32]]", "(8,,14,14,32)", "9" * 5000]:
        result = ex.check_shape(text, (8, 14, 14, 32))
        assert not result.correct and result.message and len(result.message) < 300


@pytest.mark.parametrize("expected", [(1.5, 2), (8, -1), ("8", 2), (True, 2), 8, ()])
def test_check_shape_rejects_a_bad_expected_shape_for_the_author(expected):
    with pytest.raises(ValueError, match="expected"):
        ex.check_shape("(1, 2)", expected)


def test_check_array_rejects_complex_text_and_mismatched_kinds():
    expected = np.arange(6.0).reshape(2, 3)
    complex_answer = ex.check_array(expected + 1j, expected)
    assert not complex_answer.correct and "complex" in complex_answer.message
    assert not ex.check_array(expected + 0j, expected).correct
    digits = ex.check_array(np.array([["0", "1", "2"], ["3", "4", "5"]]), expected)
    assert not digits.correct and "text" in digits.message
    mixed = ex.check_array([[0, 1, 2], [3, 4, "5"]], expected)
    assert not mixed.correct and "text" in mixed.message
    yes_no = ex.check_array(expected.astype(bool), expected)
    assert not yes_no.correct and "True/False" in yes_no.message
    assert not ex.check_array(None, expected).correct
    ragged = ex.check_array([[0, 1, 2], [3, 4]], expected)
    assert not ragged.correct and "array of numbers" in ragged.message


def test_check_array_compares_booleans_with_boolean_answers_only():
    mask = np.array([True, False, True])
    assert ex.check_array(mask.copy(), mask).correct
    assert not ex.check_array(~mask, mask).correct
    numbers = ex.check_array(np.array([1, 0, 1]), mask)
    assert not numbers.correct and "True/False" in numbers.message


def test_check_array_survives_an_array_interface_that_raises():
    class Broken:
        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("no array here")

    result = ex.check_array(Broken(), np.zeros(3))
    assert not result.correct
    assert "RuntimeError" in result.message and "no array here" in result.message
    huge = ex.check_array([10**400, 1, 2], np.zeros(3))
    assert not huge.correct and "too large" in huge.message


def test_check_function_returning_none_says_so():
    result = ex.check_function(lambda a: None, lambda a: a * 2, _inputs)
    assert not result.correct
    assert "returned None" in result.message and "return" in result.message


def test_check_function_has_a_time_limit():
    import time

    def never_returns(a):
        while True:
            a = a + 1

    start = time.monotonic()
    result = ex.check_function(never_returns, lambda a: a, _inputs, time_limit=0.3)
    assert time.monotonic() - start < 5
    assert not result.correct and "did not return within 0.3 seconds" in result.message


def test_check_function_time_limit_outside_the_main_thread():
    import threading
    import time

    def sleeps(a):
        time.sleep(3)
        return a

    results = []
    start = time.monotonic()
    thread = threading.Thread(target=lambda: results.append(
        ex.check_function(sleeps, lambda a: a, _inputs, time_limit=0.3)))
    thread.start()
    thread.join(10)
    assert time.monotonic() - start < 2.5
    assert not results[0].correct and "did not return within 0.3 seconds" in results[0].message


def test_check_function_time_limit_leaves_no_alarm_behind():
    import signal
    import time

    before = signal.getsignal(signal.SIGALRM)
    assert ex.check_function(lambda a: a * 2, lambda a: a * 2, _inputs, time_limit=0.2).correct
    time.sleep(0.4)  # an alarm left armed would fire here and fail the test
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_check_function_time_limit_keeps_an_outer_timer():
    import signal

    fired = []

    def outer_handler(*args):
        fired.append(1)

    previous = signal.signal(signal.SIGALRM, outer_handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        assert ex.check_function(lambda a: a, lambda a: a, _inputs, time_limit=0.2).correct
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25.0 < left <= 30.0
        assert signal.getsignal(signal.SIGALRM) is outer_handler
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == []


@pytest.mark.parametrize("escape, words", [
    (SystemExit, "SystemExit"), (KeyboardInterrupt, "KeyboardInterrupt"),
    (GeneratorExit, "GeneratorExit"),
])
def test_check_function_catches_escapes(escape, words):
    def leaves(a):
        raise escape()

    result = ex.check_function(leaves, lambda a: a, _inputs)
    assert not result.correct and words in result.message


def test_check_function_catches_sys_exit():
    import sys

    result = ex.check_function(lambda a: sys.exit(3), lambda a: a, _inputs)
    assert not result.correct and "SystemExit" in result.message


def _pca_inputs(rng):
    rows = rng.normal(size=(20, 4)) @ rng.normal(size=(4, 4)) + rng.normal(size=4) * 5
    return (rows,)


def _reference_shrink(rows):
    """Halve every row's distance to the mean row (out of place)."""
    mu = rows.mean(axis=0)
    return (rows - mu) * 0.5 + mu


def test_check_function_gives_the_learner_its_own_inputs():
    def shrinks_in_place(rows):  # correct, but works on its argument
        mu = rows.mean(axis=0)
        rows -= mu
        rows *= 0.5
        rows += mu
        return rows

    assert ex.check_function(shrinks_in_place, _reference_shrink, _pca_inputs).correct


def test_check_function_gives_the_reference_its_own_inputs():
    def zero_inputs(x, w, b):
        w[...] = 0
        b[...] = 0
        return np.zeros((x.shape[0], w.shape[1]))

    def reference(x, w, b):
        return x @ w + b

    def make(rng):
        return rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)

    result = ex.check_function(zero_inputs, reference, make)
    assert not result.correct and "Case 1" in result.message


def test_check_function_draws_fresh_inputs_for_every_trial():
    remembered = []

    def first_answer_forever(a):
        if not remembered:
            remembered.append(a * 2)
        return remembered[0]

    result = ex.check_function(first_answer_forever, lambda a: a * 2, _inputs, trials=3)
    assert not result.correct and "Case 2" in result.message
    calls = []
    ex.check_function(lambda a: a, lambda a: a, lambda rng: calls.append(1) or _inputs(rng),
                      trials=4)
    assert len(calls) >= 4


@pytest.mark.parametrize("trials", [0, -1, 2.0, True, "3"])
def test_check_function_rejects_bad_trials_for_the_author(trials):
    with pytest.raises(ValueError, match="trials"):
        ex.check_function(lambda a: a, lambda a: a, _inputs, trials=trials)


def test_check_function_reports_the_learners_own_line():
    def reshapes(a):
        total = a.sum()
        return np.reshape(a, (7,)) + total  # the failing line

    result = ex.check_function(reshapes, lambda a: a, _inputs)
    line = reshapes.__code__.co_firstlineno + 2
    assert not result.correct and "raised ValueError" in result.message
    assert f"line {line}" in result.message
    assert "np.reshape(a, (7,))" in result.message


def test_check_function_result_of_the_reference_is_not_the_learners_input():
    """A reference that returns its own argument must not see the learner's changes."""
    def doubles_in_place(a):
        a *= 2
        return a

    result = ex.check_function(doubles_in_place, lambda a: a, _inputs)
    assert not result.correct and "Case 1" in result.message
    assert ex.check_function(lambda a: a.copy(), lambda a: a, _inputs).correct


# --------------------------------------------------------------------------
# exercise_widget: what show() displays, driven without a browser.

def _parts(box):
    import ipywidgets as widgets

    feedback, hints = [w for w in _walk(box) if isinstance(w, widgets.HTML)][-2:]
    return feedback, hints


def _text_exercise(**kwargs):
    settings = dict(label="test-ex-number", kind="arithmetic",
                    check=lambda answer: ex.check_number(answer, 42),
                    hints=("Gentle: think of sevens.", "Explicit: six sevens."))
    settings.update(kwargs)
    return ex.Exercise(**settings)


def test_exercise_widget_checks_text_and_replaces_the_verdict_on_every_click():
    import ipywidgets as widgets

    from conv1x1.exercises import _core

    exercise = _text_exercise()
    box = _core.exercise_widget(exercise, exercise.check)
    feedback, _ = _parts(box)
    field, check = _find(box, widgets.Text), _find(box, widgets.Button, "Check")
    field.value = "42"
    check.click()
    assert "✔ Correct: 42." in feedback.value
    field.value = "41"
    assert feedback.value == "", "a changed answer keeps the old verdict"
    check.click()
    assert "✘" in feedback.value and "too small" in feedback.value
    assert "Correct" not in feedback.value
    field.value = "<b>42</b>"
    check.click()
    assert "<b>" not in feedback.value and "&lt;b&gt;" in feedback.value


def test_exercise_widget_shows_hints_one_at_a_time_gentle_first():
    import ipywidgets as widgets

    from conv1x1.exercises import _core

    exercise = _text_exercise()
    box = _core.exercise_widget(exercise, exercise.check)
    _, hints = _parts(box)
    button = _find(box, widgets.Button, "Hint")
    assert hints.value == ""
    button.click()
    assert "Hint 1 of 2" in hints.value and "Gentle" in hints.value
    assert "Explicit" not in hints.value
    button.click()
    assert hints.value.index("Gentle") < hints.value.index("Explicit")
    assert "Hint 2 of 2" in hints.value and button.disabled
    button.click()
    assert hints.value.count("Hint ") == 2
    no_hints = _core.exercise_widget(_text_exercise(hints=()), exercise.check)
    assert not any(isinstance(w, widgets.Button) and w.description == "Hint"
                   for w in _walk(no_hints))


@pytest.mark.parametrize("escape", [RuntimeError("checker broke"), SystemExit(1),
                                    KeyboardInterrupt()])
def test_exercise_widget_click_never_raises_and_never_keeps_a_stale_verdict(escape):
    import ipywidgets as widgets

    from conv1x1.exercises import _core

    calls = []

    def check(answer):
        calls.append(answer)
        if len(calls) > 1:
            raise escape
        return ex.check_number(answer, 42)

    box = _core.exercise_widget(_text_exercise(check=check), check)
    feedback, _ = _parts(box)
    _find(box, widgets.Text).value = "42"
    _find(box, widgets.Button, "Check").click()
    assert "Correct" in feedback.value
    _find(box, widgets.Button, "Check").click()
    assert "Correct" not in feedback.value and "✘" in feedback.value
    assert type(escape).__name__ in feedback.value and "could not be checked" in feedback.value


def test_exercise_widget_choice():
    import ipywidgets as widgets

    from conv1x1.exercises import _core

    exercise = ex.Exercise(
        label="test-ex-choice", kind="conceptual", widget="choice", options=("a", "b"),
        check=lambda o: ex.check_choice(o, "b", ["a", "b"], explanations={"a": "Why."}))
    box = _core.exercise_widget(exercise, exercise.check)
    feedback, _ = _parts(box)
    _find(box, widgets.Button, "Check").click()
    assert "Pick one" in feedback.value
    _find(box, widgets.RadioButtons).value = "a"
    _find(box, widgets.Button, "Check").click()
    assert "Not “a”. Why." in feedback.value
    _find(box, widgets.RadioButtons).value = "b"
    assert feedback.value == ""
    _find(box, widgets.Button, "Check").click()
    assert "Correct: b" in feedback.value


def _function_exercise():
    return ex.Exercise(
        label="test-ex-double", kind="design", widget="function", function_name="my_double",
        check=lambda fn: ex.check_function(fn, lambda a: a * 2, _inputs))


def test_exercise_widget_checks_the_current_definition_by_name(monkeypatch):
    import ipywidgets as widgets

    from conv1x1.exercises import _core

    namespace = {}
    monkeypatch.setattr(_core, "_learner_namespace", lambda: namespace)
    exercise = _function_exercise()
    box = _core.exercise_widget(exercise, exercise.check)
    feedback, _ = _parts(box)
    check = _find(box, widgets.Button, "Check")
    check.click()
    assert "No function named my_double" in feedback.value

    def my_double(a):
        raise NotImplementedError("your code here")

    namespace["my_double"] = my_double
    check.click()
    assert "NotImplementedError" in feedback.value and "your code here" in feedback.value
    namespace["my_double"] = lambda a: a + a  # defined again, in a later cell
    check.click()
    assert "Correct on all 5 random cases" in feedback.value
    namespace["my_double"] = lambda a: a * 3
    check.click()
    assert "Correct" not in feedback.value and "Case 1" in feedback.value
    namespace["my_double"] = 7
    check.click()
    assert "Expected a function" in feedback.value


def test_exercise_widget_finds_the_function_in_ipythons_namespace():
    import ipywidgets as widgets
    from IPython.core.interactiveshell import InteractiveShell

    from conv1x1.exercises import _core

    shell = InteractiveShell.instance()
    try:
        exercise = _function_exercise()
        box = _core.exercise_widget(exercise, exercise.check)
        feedback, _ = _parts(box)
        shell.run_cell("def my_double(a):\n    raise NotImplementedError\n")
        _find(box, widgets.Button, "Check").click()
        assert "NotImplementedError" in feedback.value
        shell.run_cell("def my_double(a):\n    return 2 * a\n")
        _find(box, widgets.Button, "Check").click()
        assert "Correct" in feedback.value
        shell.run_cell("def my_double(a):\n    x = a.reshape(7)\n    return x\n")
        _find(box, widgets.Button, "Check").click()
        assert "raised ValueError" in feedback.value
        assert "line 2 (x = a.reshape(7))" in feedback.value
    finally:
        InteractiveShell.clear_instance()


# --------------------------------------------------------------------------
# Properties: on any input the parsers give a value or a ValueError with a
# message, and accept only text made of the characters of a number or shape.

NUMBER_CHARACTERS = set("0123456789+-.eE,_kKmMgGbB")
SHAPE_CHARACTERS = set("0123456789,x×*()[]")
near_numbers = st.from_regex(r"\A[-+ ]?[0-9,._ eE]{0,12}[kKmMgGbB]?\Z") | st.text(max_size=40)
near_shapes = st.from_regex(r"\A[(\[]?[0-9, x×*]{0,20}[)\]]?\Z") | st.text(max_size=40)


@settings(max_examples=300)
@given(near_numbers)
def test_parse_number_on_any_text(text):
    try:
        value = ex.parse_number(text)
    except ValueError as err:
        assert str(err) and len(str(err)) < 300
    else:
        assert np.isfinite(value)
        number = text.strip()
        for unit in sorted(ex._core.COMMON_UNITS, key=len, reverse=True):
            if number.lower().endswith(unit.lower()):
                number = number[:-len(unit)]
                break
        assert all(c in NUMBER_CHARACTERS or c.isspace() for c in number), "not a number"


@settings(max_examples=300)
@given(near_shapes)
def test_parse_shape_on_any_text(text):
    try:
        shape = ex.parse_shape(text)
    except ValueError as err:
        assert str(err) and len(str(err)) < 300
    else:
        assert shape and all(isinstance(d, int) and 0 <= d < 10**9 for d in shape)
        assert all(c in SHAPE_CHARACTERS or c.isspace() for c in text), "not a shape"


@given(st.lists(st.integers(0, 10**9 - 1), min_size=1, max_size=6))
def test_parse_shape_reads_every_way_of_writing_a_shape(dims):
    shape = tuple(dims)
    for text in (str(shape), str(list(shape)), " x ".join(map(str, shape)),
                 ",".join(map(str, shape)), "×".join(map(str, shape))):
        assert ex.parse_shape(text) == shape, text


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-10**15, 10**15))
def test_parse_number_reads_numbers_as_written(value):
    assert ex.parse_number(repr(value)) == float(value)
    if isinstance(value, int):
        assert ex.parse_number(f"{value:,}") == value


@given(st.one_of(st.text(max_size=30), st.none(), st.integers(), st.floats(),
                 st.lists(st.integers(), max_size=5), st.booleans()),
       st.floats(-1e12, 1e12, allow_nan=False))
def test_check_number_and_check_shape_never_raise(answer, expected):
    for result in (ex.check_number(answer, expected),
                   ex.check_shape(answer, (8, 14, 14, 32))):
        assert isinstance(result, ex.Result) and result.message
    if ex.check_number(answer, expected).correct:
        # Within the tolerance, or rounded to three significant figures or more.
        assert abs(ex.parse_number(answer) - expected) <= 0.006 * abs(expected)


@pytest.mark.parametrize("settings, words", [
    (dict(label="Resnet budget"), "label such as"),
    (dict(label="resnet-budget"), "label such as"),
    (dict(hints="Count the bias too."), "hints must be a tuple"),
    (dict(hints=("",)), "hints must be a tuple"),
    (dict(kind="trivia"), "kind to be one of"),
    (dict(widget="slider"), "widget to be one of"),
    (dict(widget="choice", options=("a",)), "two or more options"),
    (dict(widget="choice", options=("a", "a")), "two options are the same"),
    (dict(widget="choice", options=["a", "b"]), "options must be a tuple"),
    (dict(widget="function", function_name="my block"), "function's name"),
    (dict(check="42"), "check must be a function"),
])
def test_exercise_definitions_are_checked_for_the_author(settings, words):
    with pytest.raises(ValueError, match=words):
        _text_exercise(**settings)


def test_check_choice_refuses_what_is_not_an_option():
    options = ["a", "b"]
    assert "Pick one" in ex.check_choice(np.array(["a", "b"]), "b", options).message
    assert "Pick one" in ex.check_choice(["b"], "b", options).message
    with pytest.raises(ValueError, match="one of the options"):
        ex.check_choice("a", "c", options)


def test_check_choice_ends_each_sentence_with_one_full_stop():
    options = ["It stays the same.", "It doubles", "Is it halved?"]
    why = {"It stays the same.": "Count again.", "Is it halved?": "No."}
    right = ex.check_choice("It doubles", "It doubles", options, explanations=why)
    assert right.message == "Correct: It doubles."
    ends_in_stop = ex.check_choice("It stays the same.", "It stays the same.", options)
    assert ends_in_stop.message == "Correct: It stays the same."
    wrong = ex.check_choice("It stays the same.", "It doubles", options,
                            explanations=why)
    assert wrong.message == "Not “It stays the same”. Count again."
    question = ex.check_choice("Is it halved?", "It doubles", options, explanations=why)
    assert question.message == "Not “Is it halved?”. No."
    assert ".." not in right.message + ends_in_stop.message + wrong.message


@given(st.one_of(st.text(max_size=20), st.none(), st.booleans(), st.complex_numbers(),
                 st.lists(st.one_of(st.floats(), st.text(max_size=3), st.integers(),
                                    st.integers(10**308, 10**400)), max_size=6),
                 st.lists(st.lists(st.floats(), max_size=3), max_size=3)))
def test_check_array_never_raises(answer):
    result = ex.check_array(answer, np.arange(6.0).reshape(2, 3))
    assert isinstance(result, ex.Result) and result.message and not result.correct


def test_check_number_writes_whole_numbers_in_full():
    # Six significant digits would show 101,154,816 and 101,154,000 alike.
    right = ex.check_number("101,154,816", 101_154_816)
    assert right.correct and "101,154,816" in right.message
    wrong = ex.check_number("101154000", 101_154_816)
    assert not wrong.correct and "101,154,000 is too small" in wrong.message
    assert "0.115" in ex.check_number("0.115", 0.115).message


# ------------------------------------------------ running the learner's code

def test_run_learner_returns_the_output_or_why_not():
    import sys

    from conv1x1.exercises._core import run_learner

    assert run_learner(lambda a, b: a + b, (2, 3), limit=1.0) == (5, None)
    output, why = run_learner("my_block", limit=1.0)
    assert output is None and "Expected a function; received str" in why
    _, why = run_learner(lambda: sys.exit(0), limit=1.0, returns="a tensor")
    assert "SystemExit" in why and "must return a tensor" in why
    for escape in (KeyboardInterrupt, GeneratorExit, ValueError):
        def leaves(escape=escape):
            raise escape("stop")

        _, why = run_learner(leaves, limit=1.0, context=" on x")
        line = leaves.__code__.co_firstlineno + 1
        assert f"raised {escape.__name__}: stop (line {line}) on x." in why
        assert 'Look at line' in why and 'raise escape("stop")' in why


def test_run_learner_stops_an_endless_loop_and_restores_the_alarm():
    import signal
    import time

    from conv1x1.exercises._core import run_learner

    def forever():
        while True:
            pass

    before = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    output, why = run_learner(forever, limit=0.3, context=" for x")
    assert time.monotonic() - start < 5
    assert output is None
    assert "did not return within 0.3 seconds for x" in why
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_build_block_counts_what_keras_counts():
    import keras

    from conv1x1.exercises._blocks import build_block, spatial_layers

    def block(x, width):
        y = keras.layers.Conv2D(width, 1, activation="relu")(x)
        return keras.layers.Conv2D(6, 3, padding="same")(y)

    built, why = build_block(block, (5, 7, 3), 4)
    assert why == "" and built.output_shape == (None, 5, 7, 6)
    assert built.params == built.model.count_params() == (3 * 4 + 4) + (9 * 4 * 6 + 6)
    assert built.macs == 5 * 7 * (3 * 4 + 9 * 4 * 6)
    assert spatial_layers(built.model) == [built.model.layers[-1].name]
    built, why = build_block(lambda x: keras.Input((5, 7, 3)), (5, 7, 3), what="head")
    assert built is None and "Your head could not be built" in why
    built, why = build_block(lambda x: x.numpy(), (5, 7, 3))
    assert built is None and "raised" in why and "(line " in why


@pytest.mark.parametrize("label, arity", [
    ("network-in-network-ex-head", 2), ("network-in-network-ex-budget", 1),
    ("inception-ex-budget", 1), ("inception-ex-pool-branch", 2),
    ("squeeze-excitation-ex-fix", 2), ("depth-ex-budget", 1),
])
def test_block_checkers_report_an_exit_and_the_learners_line(label, arity):
    import sys

    def crashes(x, *args):
        return x.no_such_attribute

    line = crashes.__code__.co_firstlineno + 1
    crashed = ex.check(label, crashes)
    assert not crashed.correct and f"(line {line})" in crashed.message
    exits = ex.check(label, lambda *args: sys.exit(2) if len(args) == arity else 0)
    assert not exits.correct and "SystemExit" in exits.message

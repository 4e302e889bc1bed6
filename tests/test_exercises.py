"""conv1x1.exercises: parsing, checking, and the widgets that display the checks."""

import numpy as np
import pytest

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


def test_check_choice():
    kwargs = dict(expected="b", options=["a", "b"], explanations={"a": "Because."})
    assert ex.check_choice("b", **kwargs).correct
    assert ex.check_choice("a", **kwargs).message == "Not a. Because."
    assert "Pick one" in ex.check_choice(None, **kwargs).message


def test_check_array():
    expected = np.arange(6.0).reshape(2, 3)
    assert ex.check_array(expected.tolist(), expected).correct
    assert "shape (2, 3)" in ex.check_array(np.zeros(3), expected).message
    assert "array of numbers" in ex.check_array("text", expected).message
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
    assert "returned" not in ex.check_function(lambda a: None, reference, _inputs).message


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _find(box, kind, description=None):
    import ipywidgets as widgets

    for w in _walk(box):
        if isinstance(w, kind) and (description is None or w.description == description):
            return w
    raise LookupError(description)


def test_answer_widget_shows_feedback_hint_and_answer():
    import ipywidgets as widgets

    box = ex.answer_widget(lambda t: ex.check_number(t, 42), hint="Six sevens.",
                           solution="42")
    field = _find(box, widgets.Text)
    feedback, extra = [w for w in _walk(box) if isinstance(w, widgets.HTML)]
    field.value = "forty-two"
    _find(box, widgets.Button, "Check").click()
    assert "not a number" in feedback.value and "✘" in feedback.value
    field.value = "42"
    _find(box, widgets.Button, "Check").click()
    assert "Correct" in feedback.value and "✔" in feedback.value
    _find(box, widgets.Button, "Hint").click()
    assert "Six sevens." in extra.value
    _find(box, widgets.Button, "Reveal").click()
    assert "42" in extra.value


def test_choice_and_function_widgets():
    import ipywidgets as widgets

    box = ex.choice_widget(lambda o: ex.check_choice(o, "b", ["a", "b"]), ["a", "b"])
    radio = _find(box, widgets.RadioButtons)
    _find(box, widgets.Button, "Check").click()
    feedback = [w for w in _walk(box) if isinstance(w, widgets.HTML)][0]
    assert "Pick one" in feedback.value
    radio.value = "b"
    _find(box, widgets.Button, "Check").click()
    assert "Correct" in feedback.value

    def stub(a):
        raise NotImplementedError("write me")

    box = ex.function_widget(lambda f: ex.check_function(f, lambda a: a, _inputs), stub)
    _find(box, widgets.Button, "Check").click()
    feedback = [w for w in _walk(box) if isinstance(w, widgets.HTML)][1]
    assert "NotImplementedError" in feedback.value and "write me" in feedback.value

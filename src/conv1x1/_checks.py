"""Argument checks shared by the package's modules.

Each returns the checked value or raises ``ValueError`` with a message that
says what was expected, what was received and, where it helps, how to fix it.
"""

from __future__ import annotations

import numbers

import numpy as np


def integer_at_least(value, name: str, low: int = 1, fix: str = "") -> int:
    """``value`` as an int if it is an integer >= ``low`` (booleans rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(
            f"Expected {name} to be an integer >= {low}; received {value!r}. {fix}".rstrip()
        )
    return int(value)


def positive_int(value, name: str) -> int:
    """``value`` as an int if it is a positive integer (booleans rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Expected {name} to be a positive integer; received {value!r}.")
    return int(value)


def float_array(value, name: str) -> np.ndarray:
    """Convert ``value`` to a floating-point array or raise a helpful error."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged nested lists, for example
        raise ValueError(
            f"Expected {name} to be a numeric array; it could not be converted "
            f"({err}). Pass a numpy array of numbers."
        ) from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise ValueError(
            f"Expected {name} to hold real numbers; received an array of dtype "
            f"{array.dtype}. Convert it with np.asarray({name}, dtype=float)."
        )
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(
            f"Expected {name} to hold real numbers; received complex dtype "
            f"{array.dtype}. Take the real part or convert the data first."
        )
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


# --------------------------------------------------------------------------
# Validators shared by the architecture builders (one module per family).

def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_number(value, name: str, fix: str = "") -> float:
    """``value`` as a float if it is a finite real number > 0 (booleans rejected)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not np.isfinite(float(value)) or not value > 0):
        raise ValueError(
            f"Expected {name} to be a finite number > 0; received {value!r}. {fix}".rstrip())
    return float(value)


def rate(value, name: str = "dropout", fix: str = "") -> float:
    """``value`` as a float if it is a real number in [0, 1) (booleans rejected)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0 <= value < 1):
        raise ValueError(
            f"Expected {name} to be a number in [0, 1); received {value!r}. {fix}".rstrip())
    return float(value)


def stride(value, allowed=(1, 2), name: str = "stride") -> int:
    """``value`` as an int if it is one of ``allowed`` (floats, booleans, arrays rejected)."""
    if not _is_int(value) or int(value) not in allowed:
        options = " or ".join(str(a) for a in allowed)
        raise ValueError(
            f"Expected {name} to be the integer {options}; received {value!r}.")
    return int(value)


def choice(value, options, name: str):
    """``value`` if it is one of ``options`` (compared with ==, strings only if str)."""
    if not any(type(value) is type(o) and value == o for o in options):
        raise ValueError(
            f"Expected {name} to be one of {', '.join(repr(o) for o in options)}; "
            f"received {value!r}.")
    return value


def name_or_none(value, name: str = "name"):
    """``value`` if it is a non-empty string or None."""
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"Expected {name} to be a non-empty string or None; "
                         f"received {value!r}.")
    return value


def prefix(value, name: str = "prefix") -> str:
    """``value`` if it is a string (layer names are built from it)."""
    if not isinstance(value, str):
        raise ValueError(
            f"Expected {name} to be a string that starts every layer name, e.g. "
            f"'block1_'; received {value!r}.")
    return value


def image_input_shape(value, *, channels: int | None = 3, min_size: int = 1,
                      name: str = "input_shape") -> tuple[int, int, int]:
    """``value`` as (height, width, channels) of positive ints.

    Args:
        channels: the channel count required, or None for any.
        min_size: the smallest height and width accepted (a network's total
            stride, for example).
    """
    if (not isinstance(value, (tuple, list)) or len(value) != 3
            or not all(_is_int(d) and d >= 1 for d in value)):
        raise ValueError(
            f"Expected {name} to be (height, width, channels) with positive "
            f"integers; received {value!r}.")
    height, width, depth = (int(d) for d in value)
    if channels is not None and depth != channels:
        raise ValueError(
            f"Expected {name} with {channels} channels; received {depth} in {value!r}.")
    if height < min_size or width < min_size:
        raise ValueError(
            f"Expected {name} at least {min_size}x{min_size} (the network's total "
            f"stride); received {height}x{width}. Use a larger input.")
    return height, width, depth


def stage_table(stages, fields: tuple[str, ...], name: str = "stages") -> tuple[tuple, ...]:
    """A non-empty table of rows, each a tuple of len(fields) positive integers.

    Per-field limits (a stride of 1 or 2, say) are the caller's to check.
    """
    example = "(" + ", ".join(fields) + ")"
    try:
        given = list(stages)           # a generator is read once, here
        rows = tuple(tuple(row) for row in given)
    except TypeError:
        raise ValueError(
            f"Expected {name} to be a sequence of {example} rows; received "
            f"{stages!r}.") from None
    if not rows:
        raise ValueError(f"Expected {name} to have at least one {example} row; "
                         "received none.")
    for i, row in enumerate(rows):
        if isinstance(given[i], (str, bytes)) or len(row) != len(fields) or not all(
                _is_int(v) and v >= 1 for v in row):
            raise ValueError(
                f"Expected every row of {name} to be {example} with positive "
                f"integers; row {i} is {given[i]!r}.")
    return tuple(tuple(int(v) for v in row) for row in rows)


def feature_map(x, name: str = "x") -> tuple:
    """The shape of ``x`` if it is a symbolic 4-D Keras tensor with known channels.

    A numpy array or eager tensor is refused: the blocks build graphs.
    """
    import keras

    shape = tuple(getattr(x, "shape", ()))
    if not keras.backend.is_keras_tensor(x) or len(shape) != 4 or shape[-1] is None:
        raise ValueError(
            f"Expected {name} to be a Keras tensor of shape (batch, height, width, "
            f"channels) with a known channel count; received "
            f"{type(x).__name__} of shape {shape}. Start from "
            "keras.Input(shape=(height, width, channels)).")
    return shape


# --------------------------------------------------------------------------
# Generic checks of flags, numbers and arrays.

def boolean(value, name: str) -> bool:
    """``value`` if it is True or False (a string such as "no" is refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"Expected {name} to be True or False; received {value!r}.")
    return bool(value)


def non_negative_number(value, name: str, fix: str = "") -> float:
    """``value`` as a float if it is a finite real number >= 0 (booleans rejected)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not np.isfinite(float(value)) or not value >= 0):
        raise ValueError(
            f"Expected {name} to be a finite number >= 0; received {value!r}. {fix}".rstrip())
    return float(value)


def finite_array(value, name: str) -> np.ndarray:
    """:func:`float_array` of ``value``, refusing NaN and infinite entries."""
    array = float_array(value, name)
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(
            f"Expected {name} to hold finite numbers; received {bad} NaN or infinite "
            f"value(s) in an array of shape {array.shape}. Replace them first, e.g. "
            f"with np.nan_to_num({name}).")
    return array


# --------------------------------------------------------------------------
# The output activation of a classifier (MobileNet and SqueezeNet builders).

def activation(value, name: str = "activation"):
    """``value`` if Keras reads it as an activation: None, a name or a callable.

    A name Keras does not know ("nope") or any other object is refused here,
    before Keras's own message about "identifiers".
    """
    if value is None or callable(value):
        return value
    if isinstance(value, str) and value:
        import keras

        try:
            keras.activations.get(value)
        except (ValueError, TypeError, AttributeError):
            pass
        else:
            return value
    raise ValueError(
        f"Expected {name} to be the name of a Keras activation (e.g. 'softmax', "
        f"'sigmoid' or 'linear'), a callable, or None for raw scores; "
        f"received {value!r}.")

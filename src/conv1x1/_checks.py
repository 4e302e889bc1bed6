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

"""Setting up TensorFlow for a chapter, explicitly and quietly.

TensorFlow writes start-up lines (CUDA drivers not found, oneDNN, CPU
instructions) to the process's standard error from C++ before its logging is
configured, so no Python setting can silence them once the import has begun.
A learner should not meet a red block of them in the first cell of every
chapter. :func:`quiet_tensorflow` imports TensorFlow with standard error
pointed at the null device for the duration of the import only, and sets
``TF_CPP_MIN_LOG_LEVEL`` to 3 so that later C++ messages below an error (such
as "failed call to cuInit" on a machine without a GPU) are not printed;
a value the learner has set already is kept. Exceptions are untouched. In
a Jupyter kernel ``sys.stderr`` is not descriptor 2, so Python warnings
raised during the import still show there; in a plain Python process they
are hidden with the rest of the import's output.

Checked in a Jupyter kernel by ``tests/test_environment.py``: the first
cell of a chapter shows no output, and later messages to standard error
still appear.

Importing this module changes nothing; calling the function does.

Introduced in the chapter "The structure of a 1x1 convolution".
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["quiet_tensorflow"]


@contextlib.contextmanager
def _stderr_to_devnull():
    """Point file descriptor 2 at the null device, then restore it."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real descriptor 2
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def quiet_tensorflow():
    """Import TensorFlow (and Keras) without its start-up messages; return ``tf``.

    Safe to call more than once; when TensorFlow is already imported it only
    returns the module. Errors raised by the import itself still propagate.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        with _stderr_to_devnull():
            import tensorflow  # noqa: F401
            import keras  # noqa: F401
    import tensorflow as tf

    return tf

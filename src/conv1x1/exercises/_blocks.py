"""Checking a learner's Keras block: build it on a symbolic input, then count it.

The design and debug exercises of the architecture chapters ask for a
function ``my_block(x)`` that takes a Keras tensor and returns one. The
helpers here call it with a time limit, catch whatever it raises, build a
model from it and count its cost with :mod:`conv1x1.cost`. They never raise
on the learner's code: every failure comes back as a message.

Introduced in the SqueezeNet chapter.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass

#: Seconds a learner's function may take to build its block.
TIME_LIMIT_S = 20.0


class _TimeUp(BaseException):
    """Raised inside the learner's code when the time limit is reached.

    A BaseException, so that a learner's ``except Exception`` does not
    swallow it.
    """


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (main thread on POSIX only).

    An outer timer (pytest-timeout's, for example) is restored afterwards
    with the time it had left. Elsewhere the block runs without a limit.
    """
    usable = (hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def interrupt(signum, frame):
        raise _TimeUp()

    previous_handler = signal.signal(signal.SIGALRM, interrupt)
    previous_delay, previous_interval = signal.setitimer(
        signal.ITIMER_REAL, seconds, 0.1)
    start = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay > 0:
            left = previous_delay - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3),
                             previous_interval)


def learner_line(err: BaseException) -> str:
    """' (line N)' of the learner's own code in the traceback, or ''."""
    frames = traceback.extract_tb(err.__traceback__)
    library = (os.sep + "site-packages" + os.sep, os.sep + "conv1x1" + os.sep,
               os.sep + "lib" + os.sep + "python")
    own = [frame for frame in frames
           if not any(part in frame.filename for part in library)]
    return f" (line {own[-1].lineno})" if own else ""


def call_learner(fn, *args, limit: float = TIME_LIMIT_S):
    """``(output, "")`` or ``(None, message)``; never raises (but on Ctrl-C)."""
    if not callable(fn):
        return None, (f"Expected a function; received {type(fn).__name__}. "
                      "Pass the function itself, without calling it.")
    try:
        with _time_limit(limit):
            return fn(*args), ""
    except _TimeUp:
        return None, (f"Your function did not return within {limit:.0f} "
                      "seconds, so the check stopped it. Is there a loop that "
                      "never ends?")
    except KeyboardInterrupt:
        raise
    except SystemExit:
        return None, ("Your function tried to stop Python (SystemExit, from "
                      "sys.exit() or exit()); it must return instead.")
    except BaseException as err:  # the learner's code may raise anything
        return None, (f"Your function raised {type(err).__name__}: {err}"
                      f"{learner_line(err)}.")


@dataclass(frozen=True)
class Built:
    """A learner's block built into a model, with its cost."""

    model: object
    records: tuple
    params: int
    macs: int
    output_shape: tuple


def build_block(fn, input_shape, *extra) -> tuple[Built | None, str]:
    """Call ``fn(keras.Input(input_shape), *extra)`` and count the result.

    Returns:
        ``(Built, "")`` or ``(None, message)`` saying what went wrong.
    """
    import keras

    from conv1x1 import cost

    inputs = keras.Input(shape=tuple(input_shape))
    outputs, failure = call_learner(fn, inputs, *extra)
    if failure:
        return None, failure
    if not isinstance(outputs, keras.KerasTensor):
        return None, ("Expected your function to return a Keras tensor (the "
                      "output of a layer called on x); received "
                      f"{type(outputs).__name__}.")
    try:
        model = keras.Model(inputs, outputs)
        records = tuple(cost.layer_costs(model))
    except Exception as err:
        return None, ("Your block could not be built into a model from x "
                      f"({type(err).__name__}: {err}). Build every layer on x "
                      "or on a layer's output.")
    return Built(model, records, int(model.count_params()),
                 int(sum(r.macs for r in records)),
                 tuple(outputs.shape)), ""

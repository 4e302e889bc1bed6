"""Running a learner's function for a checker: with a time limit, never raising.

A design exercise hands the learner's function a symbolic Keras input and
inspects what comes back. :func:`call_learner` runs the function so that a
loop that never ends is stopped after a time limit, ``sys.exit()`` does not
end the kernel, and an exception comes back as a message naming the line of
the learner's own code.

Introduced in the chapter "Depth: stacking 1x1 convolutions".
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback

__all__ = ["call_learner"]


class _TimeLimit(BaseException):
    """Raised inside the learner's code when the time limit is reached."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (main thread, POSIX only).

    An outer timer (pytest-timeout's, for example) is restored afterwards
    with the time it had left. Elsewhere the block runs without a limit.
    """
    usable = (hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def interrupt(signum, frame):
        raise _TimeLimit()

    previous_handler = signal.signal(signal.SIGALRM, interrupt)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL,
                                                         seconds)
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


def _learner_line(err: BaseException) -> str:
    """' (line N)' of the learner's own code in the traceback, or ''."""
    frames = traceback.extract_tb(err.__traceback__)
    library = (os.sep + "site-packages" + os.sep, os.sep + "conv1x1" + os.sep,
               os.sep + "lib" + os.sep + "python")
    own = [frame for frame in frames
           if not any(part in frame.filename for part in library)]
    return f" (line {own[-1].lineno})" if own else ""


def call_learner(fn, *args, seconds: float = 20.0, returns: str = "a tensor"):
    """Call ``fn(*args)``; return ``(output, None)`` or ``(None, message)``.

    Never raises, except KeyboardInterrupt (the learner pressing stop).

    Args:
        fn: the learner's function.
        *args: its arguments.
        seconds: how long it may run before it is stopped.
        returns: what it should return, for the message after ``sys.exit()``.
    """
    try:
        with _time_limit(seconds):
            return fn(*args), None
    except _TimeLimit:
        return None, (f"Your function did not return within {seconds:g} "
                      "seconds, so the check stopped it. Is there a loop that "
                      "never ends?")
    except KeyboardInterrupt:
        raise
    except SystemExit:
        return None, ("Your function tried to stop Python (SystemExit, from "
                      f"sys.exit() or exit()); it must return {returns} "
                      "instead.")
    except BaseException as err:  # the learner's code may raise anything
        return None, (f"Your function raised {type(err).__name__}: {err}"
                      f"{_learner_line(err)}.")

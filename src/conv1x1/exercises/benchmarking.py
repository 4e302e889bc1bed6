"""Exercises of the benchmarking chapter.

Four questions: why a 1x1 convolution with a long reduction runs at more
GFLOP/s than one with a short reduction (conceptual), the arithmetic
intensity of one 1x1 convolution (arithmetic), a benchmark that times the
first call and takes the mean (debug: the learner fixes the function), and
where MobileNet's last pointwise layer sits under a roofline at batch 1 and
at batch 32 (predict).

The debug checker drives the learner's function with a pretend workload on
a pretend clock: every call of the workload advances the clock by a
duration the checker chose, so the checker knows exactly which calls were
made and how long each took. It accepts any result that is a median of
``repeats`` timed calls made after at least one warm-up call (the lower,
the upper or the middle median when ``repeats`` is even), and names the
usual mistakes: the mean instead of the median, no warm-up, timing the
first call, the minimum, the total.
"""

from __future__ import annotations

import math
import numbers
import statistics

import numpy as np

from conv1x1.exercises._core import (
    Result,
    check_choice,
    check_number,
    run_learner,
    time_limit,
)
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# benchmarking-ex-reduction: two 1x1 convolutions, a short and a long reduction.

REDUCTION_OPTIONS = (
    "B is computed with Winograd's algorithm, which needs fewer "
    "multiplications than the direct sum",
    "each output value of B sums 576 products instead of 64, so B does more "
    "multiply-adds for every value it loads into registers",
    "B's arithmetic intensity is nine times A's, so B is compute bound and A "
    "memory bound",
    "the fixed cost of a call is a smaller share of B's time",
)

#: Arithmetic intensities (FLOPs per byte) of the two layers, per pixel; the
#: kernels (a few kilobytes) are left out.
REDUCTION_INTENSITY = {"A": 2 * 64 * 64 / (4 * (64 + 64)),
                       "B": 2 * 576 * 64 / (4 * (576 + 64))}

#: Multiplications of Winograd's F(2x2, 3x3): (m + r - 1)^2 for m x m outputs
#: of an r x r kernel, against m^2 r^2 for the direct sum.
WINOGRAD_F2_3 = {"winograd": (2 + 3 - 1) ** 2, "direct": 2 * 2 * 3 * 3}

REDUCTION_EXPLANATIONS = {
    REDUCTION_OPTIONS[0]:
        "Winograd's algorithm saves multiplications by sharing them between "
        "the overlapping windows of a kernel larger than 1x1: for a 3x3 "
        f"kernel, F(2x2, 3x3) computes 4 outputs with "
        f"{WINOGRAD_F2_3['winograd']} multiplications instead of "
        f"{WINOGRAD_F2_3['direct']}. The windows of a 1x1 kernel do not "
        "overlap, so there is nothing to share: libraries use it for 3x3 "
        "layers (cuDNN may choose it on a GPU), never for 1x1 layers.",
    REDUCTION_OPTIONS[2]:
        "Compute both with the roofline section's formula: A does "
        "2 x 64 x 64 FLOPs per pixel on 4 x (64 + 64) bytes, "
        f"{REDUCTION_INTENSITY['A']:.0f} FLOPs per byte; B does "
        "2 x 576 x 64 on 4 x (576 + 64) bytes, "
        f"{REDUCTION_INTENSITY['B']:.1f}. B reads nine times as many input "
        "values, so its intensity is less than twice A's, and a factor "
        "below 2 cannot explain a speed several times higher.",
    REDUCTION_OPTIONS[3]:
        "At batch 8 on a 56x56 map, A already does about 100 million "
        "multiply-adds per call; the fixed cost of a compiled call, measured "
        "in this chapter, is a small part of that time and could explain "
        "only that part.",
}

# --------------------------------------------------------------------------
# benchmarking-ex-intensity: arithmetic intensity of one 1x1 convolution.

INTENSITY_SHAPE = dict(height=28, width=28, c_in=512, c_out=512)


def _intensity_parts() -> tuple[int, int]:
    h, w, c_in, c_out = INTENSITY_SHAPE.values()
    flops = 2 * h * w * c_in * c_out
    n_bytes = 4 * (h * w * c_in + h * w * c_out + c_in * c_out)
    return flops, n_bytes


def _intensity() -> float:
    flops, n_bytes = _intensity_parts()
    return flops / n_bytes


def _intensity_mistake(value: float) -> str | None:
    flops, n_bytes = _intensity_parts()
    h, w, c_in, c_out = INTENSITY_SHAPE.values()
    known = {
        flops / 2 / n_bytes: "that counts MACs, not FLOPs: a multiply-"
                             "accumulate is two floating-point operations.",
        flops / (n_bytes / 4): "that divides by the number of values, not "
                               "bytes: a float32 value is 4 bytes.",
        flops / (4 * (h * w * c_in + h * w * c_out)): "that leaves out the "
                                                      "kernel's bytes: its "
                                                      "512 x 512 entries are "
                                                      "read too.",
    }
    for wrong, why in known.items():
        if math.isclose(value, wrong, rel_tol=0.01):
            return f"Not quite: {why}"
    return None


# --------------------------------------------------------------------------
# benchmarking-ex-median: a benchmark that times the first call and takes the mean.

#: Seconds the learner's function may run on one pretend workload.
TIME_LIMIT_S = 10.0

#: The repeats tried, odd and even (an even count has two middle values).
MEDIAN_REPEATS = (5, 6, 7, 8, 9, 4)


class FakeWorkload:
    """A pretend layer on a pretend clock: each call advances the clock.

    The clock stands still between calls, so a timed call lasts exactly its
    duration. The first call is slow (tracing and compiling), and one later
    call is interrupted by the operating system, as in real runs. The
    workload records how often it was called and how often the clock was
    read.

    Args:
        durations: seconds of the first calls; later calls cycle through
            ``durations[1:]``.
    """

    def __init__(self, durations):
        self.durations = [float(d) for d in durations]
        self.now = 0.0
        self.calls = 0
        self.reads = 0
        self.took: list[float] = []

    def duration(self, index: int) -> float:
        """Seconds that call number ``index`` (from 0) lasts."""
        if index < len(self.durations):
            return self.durations[index]
        rest = self.durations[1:] or self.durations
        return rest[(index - 1) % len(rest)]

    def clock(self) -> float:
        self.reads += 1
        return self.now

    def __call__(self):
        seconds = self.duration(self.calls)
        self.now += seconds
        self.took.append(seconds)
        self.calls += 1


def _median_cases(rng, repeats: int):
    """Durations for ``repeats`` timed calls and a few spare calls.

    Every duration is distinct, so the median of one window of calls differs
    from the median of the window one call later, and from the mean.
    """
    count = repeats + 6
    steady = rng.permutation(np.linspace(1.0, 2.0, count - 1)) * 1e-3
    durations = [float(rng.uniform(40, 80)) * 1e-3] + [float(s) for s in steady]
    slow = int(rng.integers(2, repeats))            # an interrupted call
    durations[slow] *= 30
    return durations


def _medians(values) -> tuple[float, ...]:
    """The medians a careful reader accepts: lower, middle and upper."""
    values = sorted(values)
    return (values[(len(values) - 1) // 2], statistics.median(values),
            values[len(values) // 2])


def _close(value: float, targets) -> bool:
    return any(math.isclose(value, t, rel_tol=1e-6, abs_tol=1e-12) for t in targets)


def _median_mistake(value: float, took: list[float], repeats: int) -> str:
    """What a wrong result is, from the calls the workload saw."""
    for start in range(0, len(took) - repeats + 1):
        window = took[start:start + repeats]
        if _close(value, [statistics.fmean(window)]):
            first = " including the slow first call," if start == 0 else ""
            return ("Not quite: that is the mean of the timed calls," + first +
                    " and one interrupted call moves a mean. Take the median "
                    "(statistics.median).")
        if _close(value, [sum(window)]):
            return ("Not quite: that is the total time of the timed calls. "
                    "Time each call on its own and return their median.")
        if start == 0 and _close(value, _medians(window)):
            return ("Not quite: that is the median of calls that include the "
                    "first one, which traces and compiles. Make one warm-up "
                    "call, untimed, before the timed ones.")
        if _close(value, [min(window)]) and start > 0:
            return ("Not quite: that is the fastest call, the minimum. "
                    "Python's timeit recommends it, but this exercise asks "
                    "for the median of the timed calls.")
    if any(_close(value / 1000, _medians(took[s:s + repeats]))
           for s in range(1, len(took) - repeats + 1)):
        return ("Not quite: that is the median in milliseconds; the clock "
                "gives seconds, and so should your function.")
    if took and _close(value, [took[0]]):
        return ("Not quite: that is the time of the first call alone, which "
                "traces and compiles. Time the calls after a warm-up call.")
    return ("Not quite: the result is not the median of any run of timed "
            "calls. Call fn() once, then time `repeats` calls one by one "
            "with clock() before and after each, and return the median.")


def check_median_time(fn) -> Result:
    """Run the learner's ``median_time(fn, repeats, clock)`` on pretend workloads."""
    if not callable(fn):
        return Result(False, "Expected the function median_time itself; "
                             f"received {type(fn).__name__}. Pass the function, "
                             "without calling it.")
    rng = np.random.default_rng(0)
    warmups = set()
    for case, repeats in enumerate(MEDIAN_REPEATS, start=1):
        work = FakeWorkload(_median_cases(rng, repeats))
        got, failure = run_learner(fn, (work, repeats, work.clock),
                                   limit=time_limit(TIME_LIMIT_S),
                                   context=f" with repeats={repeats}",
                                   returns="a number of seconds")
        if failure:
            return Result(False, failure)
        where = f"Case {case} (repeats={repeats}): "
        if got is None:
            return Result(False, where + "your function returned None: is its "
                                         "return statement missing?")
        if (isinstance(got, bool) or not isinstance(got, numbers.Real)
                or not math.isfinite(float(got))):
            return Result(False, where + "expected one number of seconds; your "
                                         f"function returned {type(got).__name__} "
                                         f"{got!r:.60}.")
        got = float(got)
        if work.reads == 0:
            return Result(False, where + "your function never called clock(). "
                                         "Read the time with the clock it is "
                                         "given (the checker's clock is a "
                                         "pretend one).")
        if work.calls == repeats:
            return Result(False, where + _median_mistake(got, work.took, repeats))
        if work.calls < repeats + 1:
            return Result(False, where + f"your function called fn {work.calls} "
                                         f"times; it should make a warm-up call "
                                         f"and then time {repeats} calls.")
        warmup = work.calls - repeats
        if not _close(got, _medians(work.took[warmup:])):
            return Result(False, where + _median_mistake(got, work.took, repeats))
        warmups.add(warmup)
    calls = ", ".join(str(w) for w in sorted(warmups))
    return Result(True, f"Correct: the median of the timed calls after {calls} "
                        f"warm-up call(s), on all {len(MEDIAN_REPEATS)} pretend "
                        "workloads, odd and even repeats.")


# --------------------------------------------------------------------------
# benchmarking-ex-batch: MobileNet's last pointwise layer at batch 1 and 32.

BATCH_SHAPE = dict(height=7, width=7, c_in=1024, c_out=1024)
BATCH_RIDGE = 50          # FLOPs per byte, the question's processor
BATCHES = (1, 32)


def batch_intensity(batch: int) -> float:
    """FLOPs per byte of the question's layer on a batch of ``batch`` images."""
    h, w, c_in, c_out = BATCH_SHAPE.values()
    flops = 2 * batch * h * w * c_in * c_out
    n_bytes = 4 * (batch * h * w * (c_in + c_out) + c_in * c_out)
    return flops / n_bytes


BATCH_OPTIONS = (
    "memory bound at both batch sizes",
    "compute bound at both batch sizes",
    "memory bound at batch 1, compute bound at batch 32",
    "compute bound at batch 1, memory bound at batch 32",
)


def _batch_answer() -> str:
    bound = ["memory" if batch_intensity(b) < BATCH_RIDGE else "compute"
             for b in BATCHES]
    if bound[0] == bound[1]:
        return f"{bound[0]} bound at both batch sizes"
    return f"{bound[0]} bound at batch 1, {bound[1]} bound at batch 32"


BATCH_EXPLANATIONS = {
    BATCH_OPTIONS[0]:
        "At batch 32 the kernel, read once per call, is shared by 32 images: "
        f"the intensity rises to about {batch_intensity(32):.0f} FLOPs per "
        f"byte, far right of a ridge at {BATCH_RIDGE}.",
    BATCH_OPTIONS[1]:
        "At batch 1, the kernel's 1024 x 1024 entries (4 MiB) outweigh the "
        "7 x 7 maps, and each kernel entry is used only 49 times: the "
        f"intensity is about {batch_intensity(1):.0f} FLOPs per byte, left "
        f"of a ridge at {BATCH_RIDGE}.",
    BATCH_OPTIONS[3]:
        "A larger batch never lowers the intensity of a convolution: the "
        "FLOPs grow with the batch, and the bytes grow with it only for the "
        "maps, not for the kernel.",
}

EXERCISES = (
    Exercise(
        label="benchmarking-ex-reduction",
        kind="conceptual",
        widget="choice",
        options=REDUCTION_OPTIONS,
        check=lambda answer: check_choice(answer, REDUCTION_OPTIONS[1],
                                          REDUCTION_OPTIONS,
                                          explanations=REDUCTION_EXPLANATIONS),
        hints=("Count, for one output value of each layer, how many products "
               "are summed; and for one value loaded into the processor, how "
               "many multiply-adds use it.",
               "Before choosing, compute both intensities with the roofline "
               "section's formula: could their ratio explain a speed several "
               "times higher?"),
    ),
    Exercise(
        label="benchmarking-ex-intensity",
        kind="arithmetic",
        check=lambda answer: check_number(answer, _intensity(), rel_tol=0.01,
                                          mistakes=_intensity_mistake),
        hints=("FLOPs are 2 x MACs; a 1x1 convolution costs H W C_in C_out MACs.",
               "Bytes: 4 per float32 value, for the input map, the output map and "
               "the kernel, each read or written once.",
               "2 * 28*28*512*512 / (4 * (28*28*512 * 2 + 512*512))"),
        placeholder="FLOPs per byte, e.g. 12.5",
    ),
    Exercise(
        label="benchmarking-ex-median",
        kind="debug",
        widget="function",
        function_name="median_time",
        check=lambda fn: check_median_time(fn),
        hints=("Two things are wrong: which call should never be timed, and "
               "which statistic does one slow call not move?",
               "Call fn() once before timing; then time each call on its own, "
               "collect the times in a list, and return statistics.median of it."),
    ),
    Exercise(
        label="benchmarking-ex-batch",
        kind="predict",
        widget="choice",
        options=BATCH_OPTIONS,
        check=lambda answer: check_choice(answer, _batch_answer(), BATCH_OPTIONS,
                                          explanations=BATCH_EXPLANATIONS),
        hints=("Compute the intensity at each batch size with the roofline "
               "section's formula; the kernel is read once per call, whatever "
               "the batch.",
               "Compare each intensity with the ridge point: left of it, "
               "memory bound; right of it, compute bound."),
    ),
)

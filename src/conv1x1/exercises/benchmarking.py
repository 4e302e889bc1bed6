"""Exercises of the benchmarking chapter."""

from __future__ import annotations

import statistics

from conv1x1.exercises._core import Result, check_choice, check_function, check_number
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# Why does a 3x3 convolution take only about three times as long as a 1x1?

RATIO_OPTIONS = (
    "time.time() is too coarse to time one call of the 1x1 convolution",
    "the 1x1 convolution moves more bytes per FLOP, so it runs further below "
    "the machine's peak",
    "'same' padding skips most of the 3x3 kernel's multiplications at the border",
    "TensorFlow caches the 3x3 convolution's output between calls",
)
RATIO_EXPLANATIONS = {
    RATIO_OPTIONS[0]: "The careful harness times thousands of calls per repeat, "
                      "so the clock's resolution does not matter; the ratio stays.",
    RATIO_OPTIONS[2]: "Only the outermost ring of pixels loses taps: on a 32 x 32 "
                      "map that is about 4% of the multiplications, not a factor of 3.",
    RATIO_OPTIONS[3]: "A compiled function recomputes its output on every call; "
                      "nothing is cached between calls with the same input.",
}

# --------------------------------------------------------------------------
# Arithmetic intensity of one 1x1 convolution.

INTENSITY_SHAPE = dict(height=28, width=28, c_in=512, c_out=512)


def _intensity() -> float:
    h, w, c_in, c_out = INTENSITY_SHAPE.values()
    flops = 2 * h * w * c_in * c_out
    n_bytes = 4 * (h * w * c_in + h * w * c_out + c_in * c_out)
    return flops / n_bytes


# --------------------------------------------------------------------------
# Find the bug: a benchmark that times the warm-up and takes the mean.

def reference_median_time(fn, repeats, clock):
    """One warm-up call, then ``repeats`` calls timed one by one; the median."""
    fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


class FakeWorkload:
    """A pretend layer on a pretend clock: each call advances the clock.

    The first call is slow (tracing and compiling), and one later call is
    interrupted by the operating system, as real runs are.
    """

    def __init__(self, durations):
        self.durations = list(durations)
        self.now = 0.0
        self.calls = 0

    def clock(self) -> float:
        return self.now

    def __call__(self):
        self.now += self.durations[min(self.calls, len(self.durations) - 1)]
        self.calls += 1


def _median_cases(rng):
    repeats = int(rng.integers(5, 12))
    steady = rng.uniform(1.0, 2.0, size=repeats + 2)
    durations = [float(rng.uniform(40, 80))] + list(steady)
    durations[int(rng.integers(2, repeats))] *= 30   # an interruption
    return repeats, durations


def check_median_time(fn) -> Result:
    """Run the learner's ``median_time`` on fake workloads; compare with the reference."""

    def run(candidate):
        def call(repeats, durations):
            work = FakeWorkload(durations)
            return candidate(work, repeats, work.clock)
        return call

    def make_inputs(rng):
        return _median_cases(rng)

    if not callable(fn):
        return Result(False, "Expected the function median_time itself; received "
                             f"{type(fn).__name__}.")
    return check_function(run(fn), run(reference_median_time), make_inputs, trials=6,
                          rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------
# Which half of a depthwise separable layer has the lower intensity?

HALF_OPTIONS = ("the depthwise 3x3 convolution", "the pointwise 1x1 convolution",
                "both have the same intensity")
HALF_EXPLANATIONS = {
    HALF_OPTIONS[1]: "The pointwise half uses each input value once for every one "
                     "of its C_out outputs: C_out multiply-adds per value read. "
                     "That is a lot of reuse.",
    HALF_OPTIONS[2]: "Count the multiply-adds per value read: 9 for the depthwise "
                     "half (one per tap), C_out for the pointwise half.",
}

EXERCISES = (
    Exercise(
        label="benchmarking-ex-ratio",
        kind="conceptual",
        widget="choice",
        options=RATIO_OPTIONS,
        check=lambda answer: check_choice(answer, RATIO_OPTIONS[1], RATIO_OPTIONS,
                                          explanations=RATIO_EXPLANATIONS),
        hints=("On a batch, the careful harness makes call overhead and clock "
               "resolution negligible. What is left that differs between the "
               "two layers?",
               "Compare their arithmetic intensities, and where each sits under "
               "the roofline."),
    ),
    Exercise(
        label="benchmarking-ex-intensity",
        kind="arithmetic",
        check=lambda answer: check_number(answer, _intensity(), rel_tol=0.01),
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
        check=check_median_time,
        hints=("Two things are wrong: which call should never be timed, and "
               "which statistic does one slow call not move?",
               "Call fn() once before timing; then time each call on its own, "
               "collect the times in a list, and return statistics.median of it."),
    ),
    Exercise(
        label="benchmarking-ex-halves",
        kind="predict",
        widget="choice",
        options=HALF_OPTIONS,
        check=lambda answer: check_choice(answer, HALF_OPTIONS[0], HALF_OPTIONS,
                                          explanations=HALF_EXPLANATIONS),
        hints=("For each half, count the multiply-adds done per value read from "
               "memory.",),
    ),
)

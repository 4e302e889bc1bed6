"""Measuring what a layer costs in time, honestly.

A single eager call of a Keras layer, timed with ``time.time``, measures
Python's and TensorFlow's call overhead as much as the convolution. The
helpers here follow the rules of careful benchmarking:

* warm up first (the first call traces, compiles and allocates);
* time a compiled ``tf.function`` rather than eager calls;
* repeat many times and report the median and the spread, not one number,
  and keep the fastest repeat, the figure :mod:`timeit` recommends, for
  comparisons on a busy machine;
* compare functions timed in turns (:func:`time_interleaved`), so that
  other work on the machine slows them alike;
* force the result to the host (``.numpy()``), so work that a device runs
  asynchronously is inside the timed region;
* choose the number of calls per repeat so that one repeat lasts long enough
  for the clock's resolution not to matter (as :mod:`timeit` does).

Throughput is reported in GFLOP/s with FLOPs = 2 x MACs (one multiply and one
add per multiply-accumulate), from :mod:`conv1x1.cost`. The roofline model
bounds it by the machine's peak compute and by its memory bandwidth times the
operation's arithmetic intensity (FLOPs per byte moved).

Introduced in the benchmarking chapter.
"""

from __future__ import annotations

import math
import statistics
import time
import timeit
from dataclasses import dataclass
from typing import Callable

import numpy as np

from conv1x1._checks import boolean, integer_at_least, positive_number

__all__ = [
    "Timing",
    "time_callable",
    "time_interleaved",
    "compiled",
    "time_layer",
    "time_layers",
    "conv_bytes",
    "arithmetic_intensity",
    "roofline",
    "measure_matmul_peak",
    "measure_bandwidth",
    "set_threads",
]


@dataclass(frozen=True)
class Timing:
    """Seconds per call from ``repeats`` repeats of ``number`` calls each.

    Attributes:
        label: what was timed.
        seconds: one value per repeat: the mean time of one call in it.
        number: calls per repeat.
        flops: floating-point operations of one call (2 x MACs), or None.
    """

    label: str
    seconds: tuple[float, ...]
    number: int
    flops: float | None = None

    @property
    def median(self) -> float:
        """The median time of one call, in seconds."""
        return statistics.median(self.seconds)

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median (0.05 means +-5 % or so)."""
        if len(self.seconds) < 2:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.seconds, n=4, method="inclusive")
        return (q3 - q1) / self.median

    @property
    def best(self) -> float:
        """The fastest repeat's time of one call, in seconds."""
        return min(self.seconds)

    @property
    def gflops(self) -> float | None:
        """Throughput at the median, in GFLOP/s (None without ``flops``)."""
        if self.flops is None:
            return None
        return self.flops / self.median / 1e9

    @property
    def best_gflops(self) -> float | None:
        """Throughput at the fastest repeat, in GFLOP/s (None without ``flops``).

        Other work on the machine can only slow a repeat down, so this is the
        figure to use for a roof, or to compare two measurements on a busy
        machine.
        """
        if self.flops is None:
            return None
        return self.flops / self.best / 1e9

    def __str__(self) -> str:
        text = (f"{self.label}: median {self.median * 1e3:.3f} ms "
                f"(spread {self.spread:.0%}, {len(self.seconds)} x {self.number} calls)")
        if self.flops is not None:
            text += f", {self.gflops:.1f} GFLOP/s"
        return text


def time_callable(fn: Callable[[], object], *, label: str = "", repeats: int = 15,
                  min_time: float = 0.02, warmup: int = 2,
                  flops: float | None = None,
                  clock: Callable[[], float] = time.perf_counter) -> Timing:
    """Time ``fn()`` the careful way: warm-up, calibration, repeats.

    Args:
        fn: a function of no arguments; whatever it returns is discarded.
            It must itself make sure that the work is finished when it
            returns (see :func:`compiled`, which calls ``.numpy()``).
        label: a name for the printout.
        repeats: how many repeats to time (>= 1); the median is reported.
        min_time: seconds one repeat should last at least; the number of
            calls per repeat is chosen so that it does (as ``timeit`` does).
        warmup: calls made before timing (>= 0).
        flops: FLOPs of one call, for :attr:`Timing.gflops`.
        clock: the clock, in seconds (``time.perf_counter``, the clock meant
            for intervals; a test can pass a clock of its own).

    Returns:
        A :class:`Timing`.

    Raises:
        ValueError: if ``fn`` is not callable or an argument is out of range.
    """
    if not callable(fn):
        raise ValueError(f"Expected fn to be a function of no arguments; received "
                         f"{type(fn).__name__}. Wrap a call in a lambda.")
    repeats = integer_at_least(repeats, "repeats", 1)
    warmup = integer_at_least(warmup, "warmup", 0)
    min_time = positive_number(min_time, "min_time", "Use about 0.02 seconds.")
    if flops is not None:
        flops = positive_number(flops, "flops")
    _check_clock(clock)
    timer, number = _calibrated(fn, warmup, min_time, clock)
    seconds = tuple(t / number for t in timer.repeat(repeat=repeats, number=number))
    return Timing(label or getattr(fn, "__name__", "fn"), seconds, number, flops)


def _check_clock(clock) -> None:
    if not callable(clock):
        raise ValueError(f"Expected clock to be a function returning seconds, such as "
                         f"time.perf_counter; received {type(clock).__name__}.")


def _calibrated(fn, warmup: int, min_time: float, clock):
    """Warm ``fn`` up; return its timer and the calls per repeat (as timeit)."""
    for _ in range(warmup):
        fn()
    timer = timeit.Timer(fn, timer=clock)
    number, elapsed = 1, timer.timeit(1)
    while elapsed < min_time:  # calibrate, as timeit.Timer.autorange does
        number = max(number * 2, math.ceil(number * min_time / max(elapsed, 1e-9)))
        elapsed = timer.timeit(number)
    return timer, number


def time_interleaved(fns, *, repeats: int = 15, min_time: float = 0.02,
                     warmup: int = 2, flops=None,
                     clock: Callable[[], float] = time.perf_counter) -> dict:
    """Time several functions in turns, so that they can be compared fairly.

    Each function is warmed up and calibrated as by :func:`time_callable`.
    Then each round times one repeat of every function, one after the other.
    Other work on the machine comes and goes; timed in turns, the functions
    share its effect, where timed one after the other a burst of it could
    slow one function's every repeat. Compare their :attr:`Timing.best`.

    Args:
        fns: a mapping from a label to a function of no arguments.
        flops: None, or a mapping from some of the labels to the FLOPs of
            one call.
        repeats, min_time, warmup, clock: as for :func:`time_callable`.

    Returns:
        A dict from each label to its :class:`Timing`, in the order of ``fns``.

    Raises:
        ValueError: if ``fns`` is not a non-empty mapping of functions, or an
            argument is out of range.
    """
    if (not hasattr(fns, "items") or not fns
            or not all(isinstance(k, str) and callable(f) for k, f in fns.items())):
        raise ValueError("Expected fns to be a non-empty dict from labels to "
                         "functions of no arguments, e.g. {'1x1': run_1x1}; "
                         f"received {fns!r:.80}.")
    repeats = integer_at_least(repeats, "repeats", 1)
    warmup = integer_at_least(warmup, "warmup", 0)
    min_time = positive_number(min_time, "min_time", "Use about 0.02 seconds.")
    flops = {} if flops is None else flops
    if not hasattr(flops, "items") or not set(flops) <= set(fns):
        raise ValueError("Expected flops to be None or a dict from some of the "
                         f"labels of fns to FLOPs; received {flops!r:.80}.")
    flops = {k: positive_number(v, f"flops[{k!r}]") for k, v in flops.items()}
    _check_clock(clock)
    timers = {label: _calibrated(fn, warmup, min_time, clock)
              for label, fn in fns.items()}
    seconds = {label: [] for label in fns}
    for _ in range(repeats):
        for label, (timer, number) in timers.items():
            seconds[label].append(timer.timeit(number) / number)
    return {label: Timing(label, tuple(seconds[label]), timers[label][1],
                          flops.get(label))
            for label in fns}


def compiled(layer_or_fn, x):
    """A function of no arguments that runs ``layer_or_fn(x)`` as a ``tf.function``.

    Each call ends by copying one value of every output to the host (and
    returns those values, one per output, as a numpy array). That value cannot
    exist before the whole output has been computed, so asynchronous work (on
    a GPU, for example) is finished inside the timed call; and copying one
    value costs nothing next to copying a whole output, which on a GPU can
    take longer than the convolution.
    """
    import tensorflow as tf

    if not callable(layer_or_fn):
        raise ValueError("Expected a Keras layer, model or function to compile; "
                         f"received {type(layer_or_fn).__name__}.")

    def first_values(inputs):
        return [tf.reshape(output, [-1])[:1]
                for output in tf.nest.flatten(layer_or_fn(inputs))]

    graph = tf.function(first_values, autograph=False)
    try:
        tensor = tf.convert_to_tensor(x)
        if not (tensor.dtype.is_floating or tensor.dtype.is_integer):
            raise TypeError(tensor.dtype)
    except (TypeError, ValueError):
        dtype = getattr(x, "dtype", None)
        received = type(x).__name__ + ("" if dtype is None else f" of dtype {dtype}")
        raise ValueError("Expected x to be a numeric array, e.g. a float32 numpy "
                         f"array of shape (batch, height, width, channels); "
                         f"received {received}.") from None

    def run():
        return np.concatenate([value.numpy() for value in graph(tensor)])

    return run


def _input_shape(value) -> tuple[int, ...]:
    if (not isinstance(value, (tuple, list)) or not value
            or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                       and d >= 1 for d in value)):
        raise ValueError(f"Expected input_shape to be a tuple of positive integers, "
                         f"e.g. (56, 56, 64); received {value!r}.")
    return tuple(int(d) for d in value)


def time_layer(layer, input_shape, *, batch: int = 1, label: str = "",
               flops: float | None = None, repeats: int = 15, min_time: float = 0.02,
               seed: int = 0) -> Timing:
    """Time a Keras layer on a random float32 batch, compiled and warmed up.

    Args:
        layer: a Keras layer or model.
        input_shape: (height, width, channels) of one input.
        batch: the batch size (>= 1).
        flops: FLOPs of one call on the whole batch, for GFLOP/s.

    Returns:
        A :class:`Timing`.
    """
    batch = integer_at_least(batch, "batch", 1)
    input_shape = _input_shape(input_shape)
    seed = integer_at_least(seed, "seed", 0)
    x = np.random.default_rng(seed).standard_normal(
        (batch, *input_shape)).astype(np.float32)
    return time_callable(compiled(layer, x), label=label or getattr(layer, "name", ""),
                         repeats=repeats, min_time=min_time, flops=flops)


def time_layers(layers, input_shape, *, batch=1, flops=None,
                repeats: int = 15, min_time: float = 0.02,
                seed: int = 0) -> dict:
    """Time several Keras layers in turns (:func:`time_interleaved`), compiled.

    Args:
        layers: a mapping from a label to a Keras layer or model (one layer
            may appear under two labels, with two batch sizes, say).
        input_shape: (height, width, channels) of one input, the same for
            every label, or a mapping from each label to its own.
        batch: the batch size (>= 1), or a mapping from each label to its own.
        flops: None, or a mapping from labels to FLOPs of one call.

    Returns:
        A dict from each label to its :class:`Timing`.
    """
    if not hasattr(layers, "items") or not layers:
        raise ValueError("Expected layers to be a non-empty dict from labels to "
                         f"Keras layers; received {layers!r:.80}.")
    shapes = (input_shape if hasattr(input_shape, "items")
              else {label: input_shape for label in layers})
    batches = batch if hasattr(batch, "items") else {label: batch for label in layers}
    seed = integer_at_least(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    fns = {}
    for label, layer in layers.items():
        shape = _input_shape(shapes.get(label))
        size = integer_at_least(batches.get(label), "batch", 1)
        x = rng.standard_normal((size, *shape)).astype(np.float32)
        fns[label] = compiled(layer, x)
    return time_interleaved(fns, repeats=repeats, min_time=min_time, flops=flops)


def conv_bytes(height: int, width: int, c_in: int, c_out: int, kernel_size: int = 1,
               *, batch: int = 1, stride: int = 1, depthwise: bool = False,
               itemsize: int = 4) -> int:
    """Bytes a convolution must move at least: read input and kernel, write output.

    A lower bound that assumes each value crosses the memory bus once
    ('same' padding, so the output is ceil(H/s) x ceil(W/s)).
    """
    for value, name in ((height, "height"), (width, "width"), (c_in, "c_in"),
                        (c_out, "c_out"), (kernel_size, "kernel_size"), (batch, "batch"),
                        (stride, "stride"), (itemsize, "itemsize")):
        integer_at_least(value, name, 1)
    depthwise = boolean(depthwise, "depthwise")
    out_h, out_w = -(-height // stride), -(-width // stride)
    weights = kernel_size * kernel_size * (c_in if depthwise else c_in * c_out)
    values = batch * (height * width * c_in + out_h * out_w * c_out) + weights
    return values * itemsize


def arithmetic_intensity(flops: float, n_bytes: float) -> float:
    """FLOPs per byte moved."""
    flops = positive_number(flops, "flops")
    n_bytes = positive_number(n_bytes, "n_bytes")
    return flops / n_bytes


def roofline(intensity, peak_gflops: float, bandwidth_gbs: float):
    """Attainable GFLOP/s: min(peak, bandwidth x intensity); works on arrays."""
    peak_gflops = positive_number(peak_gflops, "peak_gflops")
    bandwidth_gbs = positive_number(bandwidth_gbs, "bandwidth_gbs")
    try:
        intensity = np.asarray(intensity, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("Expected intensity to be a number or an array of "
                         f"numbers (FLOPs per byte); received {intensity!r:.60}."
                         ) from None
    if np.any(~np.isfinite(intensity)) or np.any(intensity <= 0):
        raise ValueError("Expected every intensity to be a finite number > 0 "
                         "(FLOPs per byte).")
    result = np.minimum(peak_gflops, bandwidth_gbs * intensity)
    return float(result) if result.ndim == 0 else result


def measure_matmul_peak(n: int = 2048, *, repeats: int = 9,
                        clock: Callable[[], float] = time.perf_counter) -> Timing:
    """TensorFlow's float32 matrix multiply of two n x n matrices (2 n^3 FLOPs).

    At n = 2048 one multiply is 17 GFLOPs, enough that the fixed cost of a
    call is negligible and the library reaches its full speed, on every core
    TensorFlow uses. On NVIDIA GPUs from the Ampere generation on,
    TensorFlow runs float32 matrix multiplies in TF32 by default, and this
    measures that.
    """
    import tensorflow as tf

    n = integer_at_least(n, "n", 16)
    repeats = integer_at_least(repeats, "repeats", 1)
    _check_clock(clock)
    rng = np.random.default_rng(0)
    a = tf.constant(rng.standard_normal((n, n)), dtype=tf.float32)
    b = tf.constant(rng.standard_normal((n, n)), dtype=tf.float32)
    return time_callable(compiled(lambda m: tf.matmul(m, b), a), label=f"matmul {n}",
                         repeats=repeats, flops=2.0 * n**3, clock=clock)


def measure_bandwidth(megabytes: int = 256, *, repeats: int = 9,
                      clock: Callable[[], float] = time.perf_counter
                      ) -> tuple[float, Timing]:
    """Memory bandwidth in GB/s from a large array copy (read once, write once).

    The array is much larger than the processor's caches, so the copy runs at
    the speed of main memory. numpy copies on one thread, and one core
    rarely draws all the bandwidth that all cores together can: the figure
    is likely low next to a peak measured on every core, and a ridge point
    computed from the two too far right. Returns (GB/s at the median, the
    timing).
    """
    megabytes = integer_at_least(megabytes, "megabytes", 8)
    repeats = integer_at_least(repeats, "repeats", 1)
    _check_clock(clock)
    source = np.ones(megabytes * 2**20 // 4, dtype=np.float32)
    target = np.empty_like(source)
    timing = time_callable(lambda: np.copyto(target, source), label="copy",
                           repeats=repeats, clock=clock)
    return 2 * source.nbytes / timing.median / 1e9, timing


def set_threads(threads: int) -> None:
    """Limit TensorFlow to ``threads`` threads per operation and between them.

    It must be called before TensorFlow runs its first operation; later, the
    runtime is fixed and this raises ``ValueError`` saying so.
    """
    import tensorflow as tf

    threads = integer_at_least(threads, "threads", 1)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as err:
        raise ValueError(
            "TensorFlow's thread pools are fixed once it has run an operation "
            f"({err}). Call set_threads first, in a fresh kernel or process."
        ) from None

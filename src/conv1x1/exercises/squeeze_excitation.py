"""Exercises of the chapter "Squeeze-and-excitation: channel attention".

Four questions: the parameters of one SE block as Keras counts them
(arithmetic), a block that squeezes the wrong axis (debug: the learner fixes
the function in the cell above the check), what SE-PRE adds to ResNet-50 as
a share of what the standard placement adds (arithmetic, as a choice), and
per-stage reduction ratios that keep SE in every unit of ResNet-50 within a
parameter budget (design).

The debug checker builds the learner's block on a symbolic input, gives its
weights fixed values (biases zero), and tests what channel attention must
satisfy: one gate per image and channel, the same at every pixel, between 0
and 1, depending on the image, with an SE block's parameters and a ReLU
bottleneck. With the weights fixed, every verdict is certain: it depends on
what the learner's function computes, not on its random initial weights.
A squeeze other than the average (global max pooling, the paper's Table 11
alternative) is accepted, with a note.
"""

from __future__ import annotations

import re

import numpy as np

from conv1x1.exercises._blocks import build_block
from conv1x1.exercises._core import Result, check_choice, check_number, time_limit
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# squeeze-excitation-ex-block-params: one SE block on 2048 channels, r = 16.

BLOCK_CHANNELS, BLOCK_RATIO = 2048, 16
_REDUCED = BLOCK_CHANNELS // BLOCK_RATIO
BLOCK_WEIGHTS = 2 * BLOCK_CHANNELS * _REDUCED
BLOCK_PARAMS = BLOCK_WEIGHTS + _REDUCED + BLOCK_CHANNELS


def _block_params_mistake(value: float) -> str | None:
    """The message for a known mistake, or None."""
    if value != round(value):
        return "Not quite: a parameter count is a whole number; give it exactly."
    if value == BLOCK_WEIGHTS:
        return (f"Not quite: {BLOCK_WEIGHTS:,} counts the two kernels "
                "only. Keras also counts one bias per output of each "
                "fully connected layer.")
    if value == BLOCK_WEIGHTS // 2 or value == BLOCK_WEIGHTS // 2 + _REDUCED:
        return ("Not quite: that is one fully connected layer. The "
                "block has two, C -> C/r and C/r -> C.")
    if value in (7 * 7 * BLOCK_PARAMS, 7 * 7 * BLOCK_WEIGHTS,
                 14 * 14 * BLOCK_PARAMS, 14 * 14 * BLOCK_WEIGHTS):
        return ("Not quite: the map's size does not enter. The fully "
                "connected layers act on the pooled vector.")
    return None


def _check_block_params(answer) -> Result:
    # A count is a whole number: no relative tolerance, so 526464.4 is wrong.
    return check_number(answer, BLOCK_PARAMS, rel_tol=0.0, abs_tol=0.01,
                        mistakes=_block_params_mistake)


# --------------------------------------------------------------------------
# squeeze-excitation-ex-fix: a block that squeezes the wrong axis.

#: Input of the debug check: (height, width, channels), and the ratio passed.
FIX_SHAPE, FIX_RATIO = (5, 6, 16), 4

#: Seconds the learner's function may take to build its block.
TIME_LIMIT_S = 20.0


#: A second ratio the block is built with: its parameters must follow ``ratio``.
FIX_OTHER_RATIO = 2

#: Seed of the fixed weights the check gives the learner's block.
PROBE_SEED = 2018


def _build(fn, ratio=FIX_RATIO):
    """``(model, "")`` from the learner's ``fn(x, ratio)``, or ``(None, why)``."""
    built, failure = build_block(fn, FIX_SHAPE, ratio, limit=time_limit(TIME_LIMIT_S))
    if failure:
        return None, failure
    if built.output_shape != (None, *FIX_SHAPE):
        return None, (f"The block's output has shape {built.output_shape}; an SE "
                      f"block keeps its input's shape {(None, *FIX_SHAPE)}.")
    return built.model, ""


def gates_of(model, x) -> np.ndarray:
    """The factors the block multiplied ``x`` by: ``model(x) / x``."""
    y = np.asarray(model(x, training=False), dtype=np.float64)
    return y / np.asarray(x, dtype=np.float64)


def probe_values(shape, name: str, rng) -> np.ndarray:
    """The fixed value the check gives one trainable weight of the learner's block.

    Kernels get uniform values of variance 1 / fan-in drawn from ``rng`` in
    order, so that a ``Dense`` kernel (C, k) and a 1x1 ``Conv2D`` kernel
    (1, 1, C, k) get the same numbers; biases and batch normalization's
    shifts get zeros, its scales ones.
    """
    shape = tuple(int(d) for d in shape)
    leaf = name.rsplit("/", 1)[-1]
    if len(shape) <= 1:
        return np.full(shape, 1.0 if leaf == "gamma" else 0.0, np.float32)
    fan_in = int(np.prod(shape[:-1]))
    values = rng.uniform(-1.0, 1.0, int(np.prod(shape))) * np.sqrt(3.0 / fan_in)
    return values.reshape(shape).astype(np.float32)


class _FixedWeights:
    """Give a model's trainable weights :func:`probe_values`; restore them on exit.

    The verdict then depends on what the learner's function computes, never
    on its random initial weights or its initializers (a bias that starts at
    one, say). The weights are put back afterwards, in case the learner's
    function reuses layers of their own notebook.
    """

    def __init__(self, model):
        self.variables = list(model.trainable_weights)

    def __enter__(self):
        self.saved = [np.array(v.numpy()) for v in self.variables]
        rng = np.random.default_rng(PROBE_SEED)
        for variable in self.variables:
            name = getattr(variable, "path", None) or variable.name
            variable.assign(probe_values(variable.shape, name, rng))
        return self

    def __exit__(self, *exc):
        for variable, value in zip(self.variables, self.saved):
            variable.assign(value)
        return False


def _maps(rng, n):
    """``n`` random maps of FIX_SHAPE with values away from zero, of both signs."""
    return (rng.uniform(0.5, 1.5, (n, *FIX_SHAPE))
            * rng.choice([-1.0, 1.0], (n, *FIX_SHAPE)))


def _constant_maps(z):
    """Maps equal to ``z`` (n, C) at every pixel: average and max pooling give ``z``."""
    return np.broadcast_to(z[:, None, None, :], (len(z), *FIX_SHAPE)).copy()


def _logits(model, z) -> np.ndarray:
    """The gates' logits, log(s / (1 - s)), on constant maps of ``z``, one row per image."""
    gates = gates_of(model, _constant_maps(z).astype(np.float32))[:, 0, 0, :]
    gates = np.clip(gates, 1e-7, 1 - 1e-7)
    return np.log(gates / (1 - gates))


def excitation_kind(model, z) -> str:
    """What the bottleneck computes from the pooled vector, with the biases at zero.

    On maps that are constant over the pixels, any squeeze (average or max)
    gives ``z`` itself, so the gates' logits are ``g(z)``, the excitation.
    With the biases at zero, SE's ``W2 relu(W1 z)`` is positively
    homogeneous, ``g(2z) = 2 g(z)``, and not odd, ``g(-z) != -g(z)`` (their
    sum is ``W2 |W1 z|``); a linear bottleneck ``W2 W1 z`` is both; a
    squashing one (sigmoid, tanh) neither. The weights are fixed by
    :class:`_FixedWeights`, so the answer is certain, not probable.

    Returns:
        ``"relu"``, ``"linear"`` or ``"other"``.
    """
    logits = _logits(model, z)
    homogeneous = np.allclose(_logits(model, 2 * z), 2 * logits, atol=1e-3)
    odd = np.allclose(_logits(model, -z), -logits, atol=1e-3)
    if homogeneous and odd:
        return "linear"
    return "relu" if homogeneous else "other"


def _squeezes_the_mean(model, x) -> bool:
    """Whether the gates stay the same when each channel's maximum changes but not its mean."""
    moved = x.copy()
    moved[:, 0, 0, :] += 2.0          # a larger maximum ...
    moved[:, 1, 1, :] -= 2.0          # ... and the same mean
    # Read the factors at a pixel that did not move, where x is away from zero.
    before = gates_of(model, x.astype(np.float32))[:, -1, -1, :]
    after = gates_of(model, moved.astype(np.float32))[:, -1, -1, :]
    return bool(np.allclose(before, after, atol=1e-4))


def _check_fix(fn) -> Result:
    from conv1x1.squeeze_excitation import se_params

    model, failure = _build(fn)
    if failure:
        return Result(False, failure)
    try:
        with _FixedWeights(model):
            return _judge_fix(model, fn, se_params)
    except Exception as err:
        return Result(False, f"Running your block failed ({type(err).__name__}: "
                             f"{err}).")


def _judge_fix(model, fn, se_params) -> Result:
    rng = np.random.default_rng(0)
    x = _maps(rng, 4).astype(np.float32)
    gates = gates_of(model, x)
    if not np.all(np.isfinite(gates)):
        return Result(False, "Your block's output contains NaN or infinite values.")
    spread = np.ptp(gates, axis=(1, 2))
    if np.max(spread) > 1e-4:
        return Result(False, "Your block multiplies the pixels of one channel by "
                             f"different factors (they differ by up to "
                             f"{np.max(spread):.3g}): it gates every pixel "
                             "separately. Channel attention has one gate per "
                             "image and channel, computed from that channel's "
                             "values at all H x W pixels: which axes does your "
                             "squeeze average over?")
    per_channel = gates[:, 0, 0, :]
    if np.any(per_channel <= 0) or np.any(per_channel >= 1):
        return Result(False, "Your block's factors are not all between 0 and 1: "
                             "is the sigmoid missing from the last layer?")
    if np.max(np.ptp(per_channel, axis=0)) < 1e-6:
        return Result(False, "Your block multiplies every image by the same "
                             "factors: the gates must be computed from the image.")
    if np.allclose(per_channel.sum(axis=1), 1.0, atol=1e-4):
        return Result(False, "Your gates add up to 1 over the channels: a softmax. "
                             "SE's gates are independent sigmoids, so that several "
                             "channels can be emphasised at once, and all of them "
                             "can stay near 1.")
    params = int(model.count_params())
    expected = se_params(FIX_SHAPE[-1], FIX_RATIO)
    if params != expected:
        return Result(False, f"Your block gates channels, but has {params:,} "
                             f"parameters; an SE block on {FIX_SHAPE[-1]} channels "
                             f"with r = {FIX_RATIO} has {expected:,} (two fully "
                             "connected layers with biases, C -> C/r -> C).")
    other, failure = _build(fn, FIX_OTHER_RATIO)
    if failure:
        return Result(False, failure)
    expected = se_params(FIX_SHAPE[-1], FIX_OTHER_RATIO)
    if int(other.count_params()) != expected:
        return Result(False, f"With ratio={FIX_OTHER_RATIO} your block has "
                             f"{int(other.count_params()):,} parameters instead of "
                             f"{expected:,}: the bottleneck's width must be "
                             "channels // ratio, with the ratio passed in.")
    z = (rng.uniform(0.5, 1.5, (8, FIX_SHAPE[-1]))
         * rng.choice([-1.0, 1.0], (8, FIX_SHAPE[-1])))
    kind = excitation_kind(model, z)
    if kind == "linear":
        return Result(False, "Your gates are a sigmoid of a linear function of "
                             "the pooled vector: the bottleneck has no "
                             "non-linearity. SE puts a ReLU after the first "
                             "fully connected layer.")
    if kind != "relu":
        return Result(False, "Your gates do not follow SE's excitation: with a "
                             "ReLU between the two fully connected layers (and "
                             "their biases at zero, as the check sets them), "
                             "doubling the pooled vector doubles every gate's "
                             "logit, and yours do not. Is the first layer's "
                             "activation a ReLU, and only the last one a "
                             "sigmoid?")
    note = ""
    if not _squeezes_the_mean(model, x):
        note = (" Your squeeze is not the channels' average: global max "
                "pooling, say, which the paper's Table 11 found effective and "
                "slightly less accurate than the average (top-1 error 22.57% "
                "against 22.28%).")
    return Result(True, "Correct: one gate per image and channel, the same at "
                        f"every pixel, between 0 and 1, from a ReLU bottleneck, "
                        f"and {params:,} parameters, as in an SE block." + note)


def reference_fix(x, ratio):
    """The fixed block: average over the pixels, then the two fully connected layers."""
    import keras

    channels = x.shape[-1]
    s = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    s = keras.layers.Dense(channels // ratio, activation="relu")(s)
    s = keras.layers.Dense(channels, activation="sigmoid")(s)
    return keras.layers.Multiply()([x, s])


# --------------------------------------------------------------------------
# squeeze-excitation-ex-pre: SE-PRE against the standard placement in
# ResNet-50.

PRE_OPTIONS = ("about 25%", "about 50%", "about 79%", "100%, the same")


def _check_pre(answer) -> Result:
    return check_choice(answer, PRE_OPTIONS[2], PRE_OPTIONS, explanations={
        PRE_OPTIONS[0]:
            "A quarter is what one projecting unit keeps: its input has half "
            "the channels of its output, and an SE block's parameters go with "
            "the square of its channels. But only the first unit of each stage "
            "projects; the other twelve units keep their shape and cost the "
            "same in either place.",
        PRE_OPTIONS[1]:
            "Halving the channels does not halve an SE block: its two layers "
            "have C * C/r weights each, so half the channels keep a quarter of "
            "them. And only the first unit of each stage sees fewer channels.",
        PRE_OPTIONS[3]:
            "That holds for the units whose input and output have the same "
            "channels. The first unit of every stage receives fewer channels "
            "than it puts out (64 -> 256, 256 -> 512, 512 -> 1024, "
            "1024 -> 2048).",
    })


# --------------------------------------------------------------------------
# squeeze-excitation-ex-budget: one ratio per stage, SE in every unit, within
# a parameter budget.

#: Parameters (Keras's count: weights and biases) SE may add to ResNet-50.
BUDGET = 1_000_000

#: The stages of ResNet-50 that SE sees, by name.
STAGE_NAMES = ("conv2_x", "conv3_x", "conv4_x", "conv5_x")


def parse_ratios(answer) -> tuple[int, ...]:
    """Four whole numbers from ``"(16, 16, 16, 1024)"``, ``"16 16 16 1024"``, a tuple ...

    Raises:
        ValueError: with a message meant for the learner.
    """
    example = "e.g. (8, 8, 8, 8), one ratio per stage from conv2_x to conv5_x"
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        raise ValueError(f"The answer is empty: type four ratios, {example}.")
    if isinstance(answer, (tuple, list)):
        parts = [str(part).strip() for part in answer]
    else:
        text = str(answer).strip()
        if text[:1] in "([" and text[-1:] in ")]":
            text = text[1:-1]
        parts = [part for part in re.split(r"[\s,;]+", text.strip()) if part]
        if len(parts) > 4:   # thousands separators, as in (16, 16, 16, 1,024)
            joined = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
            parts = [part for part in re.split(r"[\s,;]+", joined.strip()) if part]
    for part in parts:
        if not re.fullmatch(r"[0-9]{1,6}", part):
            shown = part if len(part) <= 20 else part[:17] + "..."
            raise ValueError(f"'{shown}' is not a whole number: type four "
                             f"ratios, {example}.")
    if len(parts) != 4:
        raise ValueError(f"Expected four ratios, {example}; received "
                         f"{len(parts)} value{'s' if len(parts) != 1 else ''}.")
    return tuple(int(part) for part in parts)


def budget_added(ratios) -> int:
    """Parameters SE adds to ResNet-50 with one ratio per stage (Keras's count)."""
    from conv1x1.squeeze_excitation import RESNET50_SE_STAGES, se_params

    return sum(blocks * se_params(channels, ratio)
               for (blocks, channels), ratio in zip(RESNET50_SE_STAGES, ratios))


def _check_budget(answer) -> Result:
    from conv1x1.squeeze_excitation import RESNET50_SE_STAGES, se_params

    try:
        ratios = parse_ratios(answer)
    except ValueError as err:
        return Result(False, str(err))
    for name, (_, channels), ratio in zip(STAGE_NAMES, RESNET50_SE_STAGES, ratios):
        if ratio < 1 or ratio > channels or ratio & (ratio - 1):
            return Result(False, f"The ratio of {name} must be a power of two "
                                 f"from 1 to its {channels} channels (so that "
                                 f"C / r is a whole number); received {ratio}.")
    added = budget_added(ratios)
    if added > BUDGET:
        weights = sum(blocks * se_params(channels, ratio, bias=False)
                      for (blocks, channels), ratio in zip(RESNET50_SE_STAGES,
                                                           ratios))
        if weights <= BUDGET:
            return Result(False, f"Over the budget: SE adds {added:,} parameters. "
                                 f"Its kernels alone are {weights:,}, but Keras "
                                 "also counts the biases, C/r + C in every block.")
        shares = [blocks * se_params(channels, ratio) for (blocks, channels), ratio
                  in zip(RESNET50_SE_STAGES, ratios)]
        largest = int(np.argmax(shares))
        return Result(False, f"Over the budget: SE adds {added:,} parameters, "
                             f"{added - BUDGET:,} too many. {STAGE_NAMES[largest]} "
                             f"alone adds {shares[largest]:,}: raise its ratio "
                             "first.")
    for i, ratio in enumerate(ratios):
        if ratio >= 2:
            wider = list(ratios)
            wider[i] = ratio // 2
            if budget_added(wider) <= BUDGET:
                return Result(False, f"Within the budget ({added:,} parameters), "
                                     f"but you could halve the ratio of "
                                     f"{STAGE_NAMES[i]} to {ratio // 2} and still "
                                     f"fit ({budget_added(wider):,}): a wider "
                                     "bottleneck for free. Use the budget.")
    standard = budget_added((16, 16, 16, 16))
    return Result(True, f"Correct: SE in every unit for {added:,} parameters, "
                        f"{added / standard:.0%} of the {standard:,} that r = 16 "
                        "everywhere adds, and no ratio can be halved within the "
                        "budget.")


EXERCISES = (
    Exercise(
        label="squeeze-excitation-ex-block-params",
        kind="arithmetic",
        check=_check_block_params,
        hints=("The block has two fully connected layers: C -> C/r and "
               "C/r -> C. Pooling and the rescaling have no parameters.",
               "Each layer has in * out weights and one bias per output.",
               "2 * 2048 * 128 weights, plus 128 + 2048 biases."),
        placeholder="a whole number",
    ),
    Exercise(
        label="squeeze-excitation-ex-fix",
        kind="debug",
        check=_check_fix,
        widget="function",
        function_name="my_se",
        hints=("Print the shape of s after the squeeze: how many numbers per "
               "image does it keep, and one for what?",
               "x has shape (N, H, W, C). The squeeze must keep one number per "
               "image and channel, the channel's mean over all H x W pixels.",
               "Average over axes 1 and 2, keeping them as size 1 so that the "
               "gates broadcast over the pixels: keras.ops.mean(x, axis=(1, 2), "
               "keepdims=True), or GlobalAveragePooling2D(keepdims=True)."),
    ),
    Exercise(
        label="squeeze-excitation-ex-pre",
        kind="arithmetic",
        check=_check_pre,
        widget="choice",
        options=PRE_OPTIONS,
        hints=("An SE block on C channels has about 2 C^2 / r parameters: "
               "which channels does it see in each placement?",
               "Compare a unit's input and output channels, in the first unit "
               "of a stage and in the others: only the first units change.",
               "conv2_x's first unit receives 64 channels, the other stages' "
               "first units half their output's channels."),
    ),
    Exercise(
        label="squeeze-excitation-ex-budget",
        kind="design",
        check=_check_budget,
        hints=("Work out what SE adds in each stage at r = 16: "
               "N_s (2 C_s^2 / r + C_s / r + C_s). Which stage takes most?",
               "Raising one stage's ratio shrinks only that stage's kernels. "
               "The last stage holds most of the 2.5 million: start there.",
               "At r = 16, conv2_x to conv4_x add under 1,000,000 together; "
               "find the smallest power of two for conv5_x that fits what is "
               "left, then see whether another stage's ratio can be halved."),
        placeholder="four ratios: (r2, r3, r4, r5)",
    ),
)

"""Exercises of the chapter "ResNet: bottlenecks and shortcuts".

Four questions: a downsampling residual block designed under a budget of
multiply-accumulates (design), a block whose shortcut does not match its
branch (debug), the cost of moving a ResNeXt block's stride from its first
1x1 to its grouped 3x3 convolution (arithmetic), and what option A's zero
channels carry (conceptual).

The design and debug checkers build the learner's block on a symbolic input,
with a time limit, and count it with :mod:`conv1x1.cost`.
"""

from __future__ import annotations

import math

import numpy as np

from conv1x1.exercises._blocks import build_block, spatial_layers
from conv1x1.exercises._core import (
    Result,
    check_choice,
    check_number,
    parse_number,
)
from conv1x1.exercises._registry import Exercise


def _has_addition(model) -> bool:
    """Whether the model adds two tensors (an Add layer or keras.ops.add)."""
    operations = getattr(model, "operations", None) or model.layers
    return any(type(op).__name__ == "Add" for op in operations)


def _upstream(tensor) -> list:
    """The operations that ``tensor`` is computed by, back to the model's input."""
    seen, stack, found = set(), [tensor], []
    while stack:
        history = getattr(stack.pop(), "_keras_history", None)
        if history is None:
            continue
        operation = history.operation
        node = operation._inbound_nodes[history.node_index]
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append(operation)
        stack.extend(node.input_tensors)
    return found


def _is_spatial(operation) -> bool:
    return max(getattr(operation, "kernel_size", None) or (1,)) >= 3


def _residual_sums(model) -> list[tuple]:
    """For every addition of two tensors: the two tensors, and the operations
    upstream of each."""
    operations = getattr(model, "operations", None) or model.layers
    sums = []
    for operation in operations:
        if type(operation).__name__ != "Add" or not operation._inbound_nodes:
            continue
        inputs = operation._inbound_nodes[0].input_tensors
        if len(inputs) == 2 and inputs[0] is not inputs[1]:
            sums.append(((inputs[0], _upstream(inputs[0])),
                         (inputs[1], _upstream(inputs[1]))))
    return sums


def _shortcut_and_branch(model, tensors: bool = False):
    """``(shortcut ops, branch ops)`` of the first addition of a shortcut (no
    3x3 upstream) and a branch (a 3x3 upstream), or None. With ``tensors``,
    ``((shortcut tensor, ops), (branch tensor, ops))``."""
    for left, right in _residual_sums(model):
        for shortcut, branch in ((left, right), (right, left)):
            if (not any(map(_is_spatial, shortcut[1]))
                    and any(map(_is_spatial, branch[1]))):
                return (shortcut, branch) if tensors else (shortcut[1],
                                                           branch[1])
    return None


def _pointwise(operation) -> bool:
    """Whether ``operation`` is a 1x1 convolution (any stride)."""
    return (tuple(getattr(operation, "kernel_size", ()) or ()) == (1, 1)
            and hasattr(operation, "filters"))


# --------------------------------------------------------------------------
# resnet-ex-budget: 56x56x256 -> 28x28x512, residual, a 3x3 convolution in
# the branch, at most 200 million MACs. ResNet-50's conv3_block1 (the
# paper's block, projection shortcut) costs 295 million.

BUDGET_INPUT = (56, 56, 256)
BUDGET_OUTPUT = (28, 28, 512)
BUDGET_MACS = 200_000_000


def _check_budget(fn) -> Result:
    built, failure = build_block(fn, BUDGET_INPUT)
    if failure:
        return Result(False, failure)
    if built.output_shape != (None, *BUDGET_OUTPUT):
        return Result(False, f"The output has shape {built.output_shape[1:]}; it "
                             f"must be {BUDGET_OUTPUT}: half the height and "
                             "width, 512 channels.")
    if not _has_addition(built.model):
        return Result(False, "Your block adds nothing: a residual block adds a "
                             "shortcut to its branch (keras.layers.Add).")
    if not spatial_layers(built.model):
        return Result(False, "Your block has no 3x3 convolution, so its branch "
                             "never looks at neighbouring pixels.")
    if _shortcut_and_branch(built.model) is None:
        return Result(False, "Your block's addition is not a residual one: one "
                             "of its inputs must come from x without a 3x3 "
                             "convolution (the shortcut) and the other through "
                             "one (the branch).")
    if built.macs > BUDGET_MACS:
        shortcut_ops = _shortcut_and_branch(built.model)[0]
        names = {getattr(op, "name", None) for op in shortcut_ops
                 if _pointwise(op)}
        on_shortcut = [r for r in built.records if r.name in names and r.macs]
        projection = sum(r.macs for r in on_shortcut)
        extra = (f" The 1x1 projection on your shortcut path "
                 f"({', '.join(r.name for r in on_shortcut)}) alone costs "
                 f"{projection:,}." if projection else "")
        return Result(False, f"Your block costs {built.macs:,} MACs, over the "
                             f"budget of {BUDGET_MACS:,}.{extra} Where does "
                             "each layer run, on the 56x56 map or the 28x28 "
                             "one?")
    return Result(True, f"Correct: {built.macs:,} MACs and {built.params:,} "
                        f"parameters; 3x3 layer(s): "
                        f"{', '.join(spatial_layers(built.model))}.")


# --------------------------------------------------------------------------
# resnet-ex-shortcut: a downsampling basic block that adds x unchanged.

SHORTCUT_CASES = ((16, 16, 32, 64), (8, 8, 16, 16), (9, 7, 8, 24))


def _reads_only_even_pixels(submodel, shape) -> bool:
    """Whether ``submodel``'s output ignores every pixel of its input outside
    the even rows and columns, as a 1x1 convolution with stride 2 does."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, *shape)).astype("float32")
    changed = x.copy()
    unread = np.ones(shape[:2], bool)
    unread[::2, ::2] = False
    changed[:, unread] = rng.normal(size=changed[:, unread].shape)
    return np.allclose(np.asarray(submodel(x)), np.asarray(submodel(changed)),
                       atol=1e-5)


def _depends_on(model, layer, shape) -> bool:
    """Whether changing ``layer``'s kernel changes the model's output."""
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    before = np.asarray(model(x))
    weights = layer.get_weights()
    layer.set_weights([weights[0] + 1.0, *weights[1:]])
    try:
        after = np.asarray(model(x))
    finally:
        layer.set_weights(weights)
    return not np.allclose(before, after)


def _check_shortcut(fn) -> Result:
    for height, width, c_in, filters in SHORTCUT_CASES:
        case = f"on a {height}x{width}x{c_in} input with filters={filters}"
        built, failure = build_block(fn, (height, width, c_in), filters)
        if failure:
            return Result(False, f"{failure} ({case})")
        expected = (None, math.ceil(height / 2), math.ceil(width / 2), filters)
        if built.output_shape != expected:
            return Result(False, f"The output has shape {built.output_shape} "
                                 f"{case}; the block halves the map (stride 2) "
                                 f"and outputs {filters} channels: {expected}.")
        if not _has_addition(built.model):
            return Result(False, "Your block no longer adds a shortcut: without "
                                 "it, it is a plain block. Keep the addition and "
                                 "make the shortcut's shape match instead.")
        paths = _shortcut_and_branch(built.model, tensors=True)
        projections = [op for op in (paths[0][1] if paths else [])
                       if _pointwise(op)]
        weights = sum(r.weights for r in built.records)
        branch = 9 * c_in * filters + 9 * filters * filters
        if weights == branch:
            return Result(False, f"The shapes match {case}, but without a "
                                 "projection: the question asks for a 1x1 "
                                 "convolution on the shortcut (the paper's "
                                 "option B).")
        if weights != branch + c_in * filters:
            return Result(False, f"Your block has {weights:,} kernel weights "
                                 f"{case}; the two 3x3 convolutions and a 1x1 "
                                 f"projection have {branch + c_in * filters:,}. "
                                 "Keep the branch as it is and add only a 1x1 "
                                 "convolution (with stride 2) on the shortcut.")
        if not projections:
            return Result(False, f"The weights add up {case}, but the shortcut is "
                                 "not a 1x1 convolution on x, added to the "
                                 "branch: option B projects x itself, with "
                                 "strides=2, and adds the result.")
        shape = (height, width, c_in)
        if not _depends_on(built.model, projections[0], shape):
            return Result(False, f"Your block's output does not change {case} when "
                                 "the projection's weights do: the projected "
                                 "shortcut must be added as it is.")
        try:
            import keras

            shortcut = keras.Model(built.model.inputs[0], paths[0][0])
            even_only = _reads_only_even_pixels(shortcut, shape)
        except Exception as err:  # an unusual graph: say so, never raise
            return Result(False, f"Your shortcut could not be run on its own "
                                 f"{case} ({type(err).__name__}: {err}).")
        if not even_only:
            return Result(False, f"Your shortcut reads pixels between the even "
                                 f"rows and columns {case}: it mixes "
                                 "neighbours (pooling, or a convolution "
                                 "before the subsampling). Option B's "
                                 "projection is a 1x1 convolution with "
                                 "strides=2, which sees x[:, ::2, ::2] only "
                                 "(the same as slicing x[:, ::2, ::2] and "
                                 "then a 1x1 convolution).")
    return Result(True, "Correct: the right shape and a 1x1 projection of the "
                        "subsampled input in all "
                        f"{len(SHORTCUT_CASES)} cases.")


# --------------------------------------------------------------------------
# resnet-ex-stride: conv4_block1 of ResNeXt-50 (32x4d): 28x28x512 in, a
# first 1x1 to 512 channels, a grouped 3x3 (32 groups) and 14x14x1024 out;
# its stride moved from the first 1x1 to the grouped 3x3. The chapter
# prices the move for ResNet-50's blocks; this block is twice as wide in
# the middle, and its 3x3 is grouped.

STRIDE_BLOCK = {"size": 28, "c_in": 512, "width": 512, "groups": 32}


def _first_1x1_macs(size: int, width: int = STRIDE_BLOCK["width"]) -> int:
    return size * size * STRIDE_BLOCK["c_in"] * width


STRIDE_EXTRA = _first_1x1_macs(28) - _first_1x1_macs(14)
#: The same move in ResNet-50's conv4_block1 (bottleneck width 256).
RESNET_STRIDE_EXTRA = _first_1x1_macs(28, 256) - _first_1x1_macs(14, 256)


def _check_stride(answer) -> Result:
    # The course's one rule (how_to_use): exact, or rounded as typed to at
    # least three significant figures; no tolerance of the exercise's own.
    result = check_number(answer, STRIDE_EXTRA, unit=" more MACs")
    if result.correct:
        return Result(True, f"Correct: {STRIDE_EXTRA:,} more MACs. Only the "
                            "first 1x1 convolution changes: it now runs on the "
                            "28x28 map, four times as many positions; the "
                            "grouped 3x3 convolution's output is 14x14 either "
                            "way. Twice ResNet-50's figure, because the 1x1 "
                            "is twice as wide.")
    try:
        value = parse_number(answer)
    except ValueError:
        return result
    if math.isclose(value, 0, abs_tol=1):
        return Result(False, "Not quite: the parameters do not change, but the "
                             "work does. Which layer now runs on the larger map?")
    if math.isclose(value, _first_1x1_macs(28), rel_tol=0.005):
        return Result(False, "Not quite: that is what the first 1x1 "
                             "convolution costs with the stride in the 3x3. "
                             "How much did it cost before?")
    if math.isclose(value, 3 * STRIDE_EXTRA, rel_tol=0.005):
        return Result(False, "Not quite: that is the difference for the whole "
                             "network, three strided blocks. The question asks "
                             "about conv4_block1 alone.")
    if math.isclose(value, STRIDE_EXTRA / 3, rel_tol=0.005):
        return Result(False, "Not quite: going from 14x14 to 28x28 "
                             "multiplies the positions by four, not two.")
    if math.isclose(value, RESNET_STRIDE_EXTRA, rel_tol=0.005):
        return Result(False, "Not quite: that is ResNet-50's block, whose "
                             "first 1x1 reduces to 256 channels. ResNeXt's "
                             "reduces to 512.")
    if math.isclose(value, STRIDE_EXTRA / STRIDE_BLOCK["groups"],
                    rel_tol=0.005):
        return Result(False, "Not quite: the groups belong to the 3x3 "
                             "convolution. The first 1x1 is an ordinary "
                             "convolution: every output channel reads all "
                             "512 input channels.")
    return Result(False, f"{result.message} Write the first 1x1 "
                         "convolution's MACs for both placements: positions x "
                         "C_in x C_out.")


# --------------------------------------------------------------------------
# resnet-ex-zeros: what the channels that option A pads with zeros receive.

ZEROS_OPTIONS = (
    "Nothing: they stay zero at the block's output",
    "A copy of some of the input's channels",
    "A learned 1x1 projection of the input",
    "Only the residual branch's output: for those channels the block is a "
    "plain block",
)


def _check_zeros(answer) -> Result:
    return check_choice(answer, ZEROS_OPTIONS[3], ZEROS_OPTIONS, explanations={
        ZEROS_OPTIONS[0]:
            "The shortcut is zero there, but the branch's last convolution "
            "writes every one of the block's output channels; the sum is the "
            "branch alone.",
        ZEROS_OPTIONS[1]:
            "Option A pads with zeros, not with copies: the shortcut carries "
            "the input's channels (subsampled) in the first channels and "
            "zeros in the rest.",
        ZEROS_OPTIONS[2]:
            "That is option B's projection. Option A has no parameters at "
            "all.",
    })


EXERCISES = (
    Exercise(
        label="resnet-ex-budget",
        kind="design",
        check=_check_budget,
        widget="function",
        function_name="my_down_block",
        hints=("Build ResNet-50's conv3_block1 and count it with "
               "conv1x1.cost.layer_costs: which layers cost the most?",
               "Two layers can move or go: a 1x1 convolution that runs on the "
               "56x56 map costs four times what it costs on the 28x28 map, "
               "and the 1x1 projection on the shortcut costs 28 x 28 x 256 x "
               "512 MACs.",
               "bottleneck_block(x, 128, 2, shortcut='A', prefix='d_') keeps "
               "the stride in the first 1x1 and pads the shortcut with zeros; "
               "a narrower bottleneck with a projection also fits."),
    ),
    Exercise(
        label="resnet-ex-shortcut",
        kind="debug",
        check=_check_shortcut,
        widget="function",
        function_name="down_block",
        hints=("Run the buggy block on keras.Input(shape=(16, 16, 32)) with "
               "filters=64 and read the error: which two shapes are added?",
               "The branch halves the height and width and changes the "
               "channels; x does neither.",
               "Give the shortcut a 1x1 convolution with filters filters and "
               "strides=2 (and batch normalization), and add that instead of "
               "x."),
    ),
    Exercise(
        label="resnet-ex-stride",
        kind="arithmetic",
        check=_check_stride,
        hints=("Which of the block's convolutions changes the size of the "
               "map it runs on when the stride moves? Does the grouping of "
               "the 3x3 matter for it?",
               "The first 1x1 convolution maps 512 channels to 512. With the "
               "stride in it, it runs at 14 x 14 positions; without, at "
               "28 x 28."),
        placeholder="a number of MACs, e.g. 1.5e6",
    ),
    Exercise(
        label="resnet-ex-zeros",
        kind="conceptual",
        widget="choice",
        options=ZEROS_OPTIONS,
        check=_check_zeros,
        hints=("Write the block's output as relu(F(x) + shortcut(x)) and look "
               "at one of the padded channels.",),
    ),
)

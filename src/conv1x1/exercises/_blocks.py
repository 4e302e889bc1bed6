"""Checking a learner's Keras block: build it on a symbolic input, then count it.

The design and debug exercises of the architecture chapters ask for a
function ``my_block(x)`` that takes a Keras tensor and returns one.
:func:`build_block` calls it on ``keras.Input(input_shape)`` through
:func:`conv1x1.exercises._core.run_learner` (a time limit; any exception,
``sys.exit()`` included, becomes a message naming the learner's own line),
builds a model from it and counts its cost with :mod:`conv1x1.cost`. It
never raises on the learner's code: every failure comes back as a message.

Introduced in the chapter "Depth: stacking 1x1 convolutions".
"""

from __future__ import annotations

from dataclasses import dataclass

from conv1x1.exercises._core import run_learner, time_limit

__all__ = ["TIME_LIMIT_S", "Built", "build_block", "call_learner", "count_nonlinearities",
           "spatial_layers"]

#: Seconds a learner's function may take to build its block, unless the
#: environment says otherwise (:func:`conv1x1.exercises._core.time_limit`).
TIME_LIMIT_S = 20.0


def call_learner(fn, *args, limit: float | None = None):
    """``(output, None)`` or ``(None, message)``: :func:`run_learner` on ``fn(*args)``.

    ``limit`` None: ``time_limit(TIME_LIMIT_S)``, read at each call, the limit
    :func:`build_block` uses unless it is given one.
    """
    if limit is None:
        limit = time_limit(TIME_LIMIT_S)
    return run_learner(fn, args, limit=limit, returns="a Keras tensor")


@dataclass(frozen=True)
class Built:
    """A learner's block built into a model, with its cost."""

    model: object
    records: tuple
    params: int
    macs: int
    output_shape: tuple


def build_block(fn, input_shape, *extra, limit: float | None = None,
                what: str = "block") -> tuple[Built | None, str]:
    """Call ``fn(keras.Input(input_shape), *extra)``, build a model and count it.

    Args:
        fn: the learner's function (anything: what is not a function gets a
            message).
        input_shape: shape of the symbolic input, without the batch axis.
        *extra: further arguments of ``fn``.
        limit: seconds ``fn`` may take (None: :func:`call_learner`'s limit).
        what: what ``fn`` builds ("block", "head", ...), for the messages.

    Returns:
        ``(Built, "")`` or ``(None, message)`` saying what went wrong.
    """
    import keras

    from conv1x1 import cost

    inputs = keras.Input(shape=tuple(input_shape))
    if limit is None:
        outputs, failure = call_learner(fn, inputs, *extra)
    else:
        outputs, failure = call_learner(fn, inputs, *extra, limit=limit)
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
        return None, (f"Your {what} could not be built into a model from x "
                      f"({type(err).__name__}: {err}). Build every layer on x "
                      "or on a layer's output.")
    return Built(model, records, int(model.count_params()),
                 int(sum(r.macs for r in records)),
                 tuple(outputs.shape)), ""


def spatial_layers(model) -> list[str]:
    """Names of the layers of ``model`` with a kernel larger than 1x1."""
    return [layer.name for layer in model.layers
            if max(getattr(layer, "kernel_size", None) or (1,)) >= 3]


#: Operations that are non-linear in themselves, by lower-case class name
#: without underscores: Keras layers (ReLU), the operations that
#: ``keras.ops`` and ``keras.activations`` add to a functional model (Relu,
#: Maximum), and so on.
NONLINEAR_OPERATIONS = frozenset({
    "relu", "relu6", "leakyrelu", "prelu", "elu", "selu", "celu", "gelu",
    "silu", "swish", "mish", "sigmoid", "hardsigmoid", "hardsilu",
    "hardswish", "tanh", "softplus", "softsign", "softmax", "logsoftmax",
    "maximum", "minimum", "abs",
})


def count_nonlinearities(model, kinds=NONLINEAR_OPERATIONS) -> int:
    """How many times ``model`` applies a non-linearity of one of ``kinds``.

    ``kinds`` holds lower-case names without underscores: an operation counts
    when its class has such a name (``ReLU()``, ``keras.ops.relu``) or when
    its ``activation`` has (``Conv2D(..., activation="relu")``); with the
    default, any activation but the linear one counts. Counted over the nodes
    of the model's graph, so that a layer object used after every
    convolution (one ``ReLU()`` called three times) counts once per call,
    and calls outside this model do not count.
    """
    by_depth = getattr(model, "_nodes_by_depth", None) or {}
    operations = [node.operation for nodes in by_depth.values() for node in nodes]
    count = 0
    for operation in operations or model.operations:
        name = type(operation).__name__.lower().replace("_", "")
        activation = getattr(operation, "activation", None)
        if name in kinds:
            count += 1
        elif callable(activation):
            activation_name = getattr(activation, "__name__", "linear")
            count += (activation_name != "linear" if kinds is NONLINEAR_OPERATIONS
                      else activation_name in kinds)
    return count

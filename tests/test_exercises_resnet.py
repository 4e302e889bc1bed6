"""The ResNet chapter's exercises: reference answers pass, typical mistakes
fail with the intended message, malformed answers come back as messages."""

import keras
import pytest
from keras import layers

from conv1x1 import cost
from conv1x1.exercises import check, get
from conv1x1.exercises.resnet import EXERCISES
from conv1x1.resnet import bottleneck_block, resnet


def test_labels_kinds_and_mix():
    kinds = {e.label: e.kind for e in EXERCISES}
    assert kinds == {
        "resnet-ex-budget": "design",
        "resnet-ex-shortcut": "debug",
        "resnet-ex-stride": "arithmetic",
        "resnet-ex-zeros": "conceptual",
    }
    for exercise in EXERCISES:
        assert get(exercise.label) is exercise
        assert exercise.hints


# --------------------------------------------------------------------------
# resnet-ex-budget


def test_budget_reference_answers_pass():
    def option_a(x):
        return bottleneck_block(x, 128, 2, shortcut="A", prefix="d_")

    def narrow_projection(x):
        return bottleneck_block(x, 64, 2, expansion=8, prefix="d_")

    for fn in (option_a, narrow_projection):
        result = check("resnet-ex-budget", fn)
        assert result.correct, result.message


def test_budget_papers_block_is_over_budget_and_says_why():
    def paper(x):
        return bottleneck_block(x, 128, 2, prefix="d_")

    result = check("resnet-ex-budget", paper)
    assert not result.correct
    # ResNet-50's conv3_block1, counted independently of the checker.
    model = resnet(50, include_top=False)
    block = sum(
        r.macs
        for r in cost.layer_costs(model)
        if r.name.startswith("conv3_block1_")
    )
    assert f"{block:,}" in result.message
    assert f"{28 * 28 * 256 * 512:,}" in result.message


def test_budget_message_quotes_the_projection_on_the_shortcut_path():
    """A branch whose first 1x1 costs as much as a projection is not taken
    for one: the message quotes the shortcut's layer alone."""

    def wide_first(x):
        y = layers.Conv2D(512, 1, strides=2, use_bias=False, name="first")(x)
        y = layers.ReLU()(y)
        y = layers.Conv2D(512, 3, padding="same", use_bias=False)(y)
        s = layers.Conv2D(512, 1, strides=2, use_bias=False, name="proj")(x)
        return layers.ReLU()(layers.Add()([s, y]))

    result = check("resnet-ex-budget", wide_first)
    assert not result.correct and "over the budget" in result.message
    assert f"{28 * 28 * 256 * 512:,}" in result.message  # 102,760,448
    assert f"{2 * 28 * 28 * 256 * 512:,}" not in result.message
    assert "(proj)" in result.message and "first" not in result.message

    def no_projection(x):
        y = layers.Conv2D(512, 1, strides=2, use_bias=False)(x)
        y = layers.Conv2D(512, 3, padding="same", use_bias=False)(y)
        s = layers.MaxPooling2D(1, strides=2)(x)
        s = layers.Concatenate()([s, s])
        return layers.Add()([s, y])

    result = check("resnet-ex-budget", no_projection)
    assert not result.correct and "projection" not in result.message


def test_budget_v15_with_zero_padding_is_over_budget():
    def v15(x):
        return bottleneck_block(
            x, 128, 2, stride_at="3x3", shortcut="A", prefix="d_"
        )

    result = check("resnet-ex-budget", v15)
    assert not result.correct and "over the budget" in result.message


def test_budget_rejects_blocks_that_are_not_residual_or_not_spatial():
    def plain(x):
        return bottleneck_block(x, 128, 2, shortcut=None, prefix="d_")

    def pointwise_only(x):
        y = layers.Conv2D(512, 1, strides=2)(x)
        return layers.Add()([y, layers.Conv2D(512, 1, strides=2)(x)])

    def wrong_shape(x):
        return bottleneck_block(x, 64, 2, shortcut="A", prefix="d_")

    assert "adds nothing" in check("resnet-ex-budget", plain).message
    assert "no 3x3" in check("resnet-ex-budget", pointwise_only).message
    assert "(28, 28, 256)" in check("resnet-ex-budget", wrong_shape).message


@pytest.mark.parametrize(
    "answer",
    [
        None,
        42,
        "def f(x): pass",
        lambda x: None,
        lambda x: 1 / 0,
        lambda: None,
    ],
)
def test_budget_malformed_answers_give_messages(answer):
    result = check("resnet-ex-budget", answer)
    assert not result.correct and result.message


# --------------------------------------------------------------------------
# resnet-ex-shortcut


def buggy(x, filters):
    y = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    return layers.ReLU()(layers.Add()([x, y]))


def fixed(x, filters):
    y = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    s = layers.Conv2D(filters, 1, strides=2, use_bias=False)(x)
    s = layers.BatchNormalization()(s)
    return layers.ReLU()(layers.Add()([s, y]))


def test_shortcut_fix_passes_and_bug_fails():
    assert check("resnet-ex-shortcut", fixed).correct
    result = check("resnet-ex-shortcut", buggy)
    assert not result.correct and "raised ValueError" in result.message


def test_shortcut_other_mistakes():
    def no_add(x, filters):
        return layers.Conv2D(filters, 3, strides=2, padding="same")(x)

    def option_a(x, filters):
        from conv1x1.resnet import basic_block

        return basic_block(x, filters, 2, shortcut="A", prefix="a_")

    def unstrided_projection(x, filters):
        y = layers.Conv2D(filters, 3, strides=2, padding="same")(x)
        s = layers.Conv2D(filters, 1)(x)
        return layers.Add()([s, y])

    def three_by_three_projection(x, filters):
        y = layers.Conv2D(filters, 3, strides=2, padding="same")(x)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        s = layers.Conv2D(filters, 3, strides=2, padding="same")(x)
        return layers.Add()([s, y])

    assert "no longer adds" in check("resnet-ex-shortcut", no_add).message
    assert "option B" in check("resnet-ex-shortcut", option_a).message
    assert not check("resnet-ex-shortcut", unstrided_projection).correct
    assert (
        "kernel weights"
        in check("resnet-ex-shortcut", three_by_three_projection).message
    )


def _branch(x, filters):
    y = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
    return layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)


def test_shortcut_checker_wants_a_strided_projection_that_is_added():
    def projection_times_zero(x, filters):
        y = _branch(x, filters)
        s = layers.Conv2D(filters, 1, strides=2, use_bias=False)(x)
        zero = layers.Multiply()([s, layers.Lambda(lambda t: t * 0.0)(s)])
        return layers.Add()([layers.Add()([zero, y]), y * 0.0])

    def average_pooled_then_projected(x, filters):
        y = _branch(x, filters)
        s = layers.AveragePooling2D(2, padding="same")(x)
        s = layers.Conv2D(filters, 1, use_bias=False)(s)
        return layers.Add()([s, y])

    def plus_operator(x, filters):
        s = layers.Conv2D(filters, 1, strides=2, use_bias=False)(x)
        return layers.ReLU()(s + _branch(x, filters))

    result = check("resnet-ex-shortcut", projection_times_zero)
    assert not result.correct and "does not change" in result.message
    result = check("resnet-ex-shortcut", average_pooled_then_projected)
    assert not result.correct and "between the even rows" in result.message
    assert check("resnet-ex-shortcut", plus_operator).correct


def test_shortcut_accepts_every_way_of_writing_the_strided_projection():
    """Subsampling then an unstrided 1x1 computes what the strided 1x1 does."""

    def sliced_then_projected(x, filters):
        s = layers.Conv2D(filters, 1, use_bias=False)(x[:, ::2, ::2, :])
        s = layers.BatchNormalization()(s)
        return layers.ReLU()(layers.Add()([s, _branch(x, filters)]))

    def pooled_then_projected(x, filters):
        s = layers.MaxPooling2D(1, strides=2, padding="same")(x)
        s = layers.Conv2D(filters, 1, use_bias=False)(s)
        return layers.Add()([s, _branch(x, filters)])

    def projected_then_sliced(x, filters):
        s = layers.Conv2D(filters, 1, use_bias=False)(x)
        return layers.Add()([s[:, ::2, ::2, :], _branch(x, filters)])

    for right in (sliced_then_projected, pooled_then_projected,
                  projected_then_sliced):
        result = check("resnet-ex-shortcut", right)
        assert result.correct, (right.__name__, result.message)


def test_budget_checker_wants_a_shortcut_and_a_branch():
    def branch_twice(x):
        y = layers.Conv2D(128, 1, strides=2, activation="relu")(x)
        y = layers.Conv2D(128, 3, padding="same", activation="relu")(y)
        y = layers.Conv2D(512, 1)(y)
        return layers.Add()([y, y])

    result = check("resnet-ex-budget", branch_twice)
    assert "not a residual one" in result.message


@pytest.mark.parametrize("answer", [None, "x", lambda x: x, lambda x, f: None])
def test_shortcut_malformed_answers_give_messages(answer):
    result = check("resnet-ex-shortcut", answer)
    assert not result.correct and result.message


# --------------------------------------------------------------------------
# resnet-ex-stride


def stride_difference(width=512, groups=32, expansion=2):
    """conv4_block1 of ResNeXt-50 (32x4d) built both ways, counted by
    layer_costs; with width=256, groups=1, expansion=4, ResNet-50's."""
    totals = []
    for stride_at in ("1x1", "3x3"):
        inputs = keras.Input(shape=(28, 28, 512))
        block = keras.Model(
            inputs,
            bottleneck_block(
                inputs, width, 2, stride_at=stride_at, groups=groups,
                expansion=expansion, prefix="conv4_block1_"
            ),
        )
        assert tuple(block.output.shape) == (None, 14, 14, 1024)
        totals.append(sum(r.macs for r in cost.layer_costs(block)))
    return totals[1] - totals[0]


def test_stride_answer_is_the_built_difference():
    answer = stride_difference()
    assert answer == (28 * 28 - 14 * 14) * 512 * 512  # 154,140,672
    assert check("resnet-ex-stride", str(answer)).correct
    assert check("resnet-ex-stride", f"{answer / 1e6:.1f}M").correct
    # The number rule: rounded as typed, but to three significant figures.
    assert check("resnet-ex-stride", "154M").correct
    assert not check("resnet-ex-stride", "153.5M").correct   # 0.4% off: no tolerance
    assert not check("resnet-ex-stride", "0.15G").correct
    # ResNet-50's block, which the chapter prices, is a mistake here.
    resnet_answer = stride_difference(256, 1, 4)
    result = check("resnet-ex-stride", f"{resnet_answer:,}")
    assert not result.correct and "ResNet-50's block" in result.message


def test_stride_whole_network_figure_is_three_blocks():
    from conv1x1.resnet import resnet_cost

    stages = tuple(zip((128, 256, 512, 1024), (3, 4, 6, 3)))
    v1, v15 = (resnet_cost(50, stages=stages, expansion=2, groups=32,
                           stride_at=at).macs for at in ("1x1", "3x3"))
    result = check("resnet-ex-stride", str(v15 - v1))
    assert not result.correct and "whole network" in result.message


@pytest.mark.parametrize(
    "answer, words",
    [
        ("0", "work does"),
        ("205,520,896", "How much did it cost before"),
        ("462422016", "whole network"),
        ("51380224", "four"),
        ("4,816,896", "groups belong to the 3x3"),
        ("1e6", "Not quite"),
    ],
)
def test_stride_typical_mistakes(answer, words):
    result = check("resnet-ex-stride", answer)
    assert not result.correct and words in result.message


@pytest.mark.parametrize("answer", ["", "lots", "2*3", None, "nan", "inf"])
def test_stride_malformed_answers(answer):
    result = check("resnet-ex-stride", answer)
    assert not result.correct and result.message


# --------------------------------------------------------------------------
# resnet-ex-zeros


def test_zeros_choice():
    exercise = get("resnet-ex-zeros")
    right = [
        o for o in exercise.options if check("resnet-ex-zeros", o).correct
    ]
    assert right == [exercise.options[3]]
    for option in exercise.options[:3]:
        result = check("resnet-ex-zeros", option)
        assert not result.correct and len(result.message) > len(option) + 20
    assert not check("resnet-ex-zeros", None).correct
    assert not check("resnet-ex-zeros", "something else").correct

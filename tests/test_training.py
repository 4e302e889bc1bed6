"""conv1x1.training: stacks of 1x1 convolutions and reading a layer's output."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conv1x1 import training


def stack_model(widths, c_in=3, **kwargs):
    inputs = keras.Input(shape=(None, None, c_in))
    return keras.Model(inputs, training.pointwise_stack(inputs, widths, **kwargs))


def kernels_and_biases(model, prefix, count):
    return [(model.get_layer(f"{prefix}{i}").kernel.numpy()[0, 0],
             model.get_layer(f"{prefix}{i}").bias.numpy()) for i in range(1, count + 1)]


def test_layers_names_shapes_and_parameter_count():
    model = stack_model([8, 5, 2], c_in=3, prefix="mlp_")
    names = [layer.name for layer in model.layers[1:]]
    assert names == ["mlp_1", "mlp_2", "mlp_3"]
    for layer in model.layers[1:]:
        assert layer.kernel_size == (1, 1)
    # Formula: sum over layers of C_in * C_out + C_out.
    assert model.count_params() == (3 * 8 + 8) + (8 * 5 + 5) + (5 * 2 + 2)
    out = model(np.zeros((2, 7, 4, 3), dtype=np.float32))
    assert tuple(out.shape) == (2, 7, 4, 2)


def test_relu_stack_matches_an_mlp_applied_to_every_pixel():
    keras.utils.set_random_seed(1)
    model = stack_model([6, 4], c_in=3, output_activation=None)
    (w1, b1), (w2, b2) = kernels_and_biases(model, "pointwise_", 2)
    x = np.random.default_rng(0).normal(size=(2, 5, 3, 3)).astype(np.float32)
    # Reference: tf.nn.conv2d for every layer, relu between them.
    hidden = tf.nn.relu(tf.nn.conv2d(x, w1[None, None], 1, "VALID") + b1)
    expected = (tf.nn.conv2d(hidden, w2[None, None], 1, "VALID") + b2).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    assert model.get_layer("pointwise_1").activation is keras.activations.relu
    assert model.get_layer("pointwise_2").activation is keras.activations.linear


def test_default_output_activation_repeats_the_hidden_one():
    model = stack_model([4, 2], activation="sigmoid")
    assert model.get_layer("pointwise_2").activation is keras.activations.sigmoid
    y = model.predict(np.random.default_rng(0).normal(size=(1, 3, 3, 3)), verbose=0)
    assert np.all((y > 0) & (y < 1))


def test_a_linear_stack_is_one_affine_map():
    keras.utils.set_random_seed(2)
    model = stack_model([7, 5, 4], c_in=3, activation=None)
    layers = kernels_and_biases(model, "pointwise_", 3)
    w = layers[0][0] @ layers[1][0] @ layers[2][0]
    b = (layers[0][1] @ layers[1][0] + layers[1][1]) @ layers[2][0] + layers[2][1]
    x = np.random.default_rng(3).normal(size=(3, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ w + b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("widths", [[], [0], [4, -1], [2.5], [True], "16", 8, None])
def test_bad_widths_raise(widths):
    with pytest.raises(ValueError, match="width"):
        training.pointwise_stack(keras.Input(shape=(4, 4, 3)), widths)


def test_bad_input_activation_and_prefix_raise():
    with pytest.raises(ValueError, match="4 dimensions"):
        training.pointwise_stack(keras.Input(shape=(3,)), [2])
    with pytest.raises(ValueError, match="4 dimensions"):
        training.pointwise_stack([1.0, 2.0], [2])
    with pytest.raises(ValueError, match="activation"):
        training.pointwise_stack(keras.Input(shape=(4, 4, 3)), [2], activation="not-one")
    with pytest.raises(ValueError, match="output_activation"):
        training.pointwise_stack(keras.Input(shape=(4, 4, 3)), [2], output_activation=3)
    with pytest.raises(ValueError, match="prefix"):
        training.pointwise_stack(keras.Input(shape=(4, 4, 3)), [2], prefix=None)


def test_layer_output_matches_the_hidden_layer_computed_by_hand():
    keras.utils.set_random_seed(4)
    model = stack_model([6, 1], c_in=2, output_activation="sigmoid")
    w1, b1 = kernels_and_biases(model, "pointwise_", 1)[0]
    x = np.random.default_rng(5).normal(size=(5, 3, 2, 2)).astype(np.float32)
    hidden = training.layer_output(model, "pointwise_1", x, batch_size=2)
    assert hidden.shape == (5, 3, 2, 6)
    np.testing.assert_allclose(hidden, np.maximum(x @ w1 + b1, 0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(training.layer_output(model, "pointwise_2", x),
                               model.predict(x, verbose=0), rtol=1e-6)


def test_layer_output_works_on_a_sequential_model():
    model = keras.Sequential([keras.Input(shape=(4, 4, 3)),
                              keras.layers.Conv2D(2, 1, name="mix"),
                              keras.layers.GlobalAveragePooling2D(name="pool")])
    x = np.random.default_rng(6).normal(size=(3, 4, 4, 3)).astype(np.float32)
    w, b = model.get_layer("mix").get_weights()
    np.testing.assert_allclose(training.layer_output(model, "mix", x), x @ w[0, 0] + b,
                               rtol=1e-5, atol=1e-5)


def test_layer_output_errors():
    model = stack_model([2], prefix="a_")
    with pytest.raises(ValueError, match="no layer named 'b_1'"):
        training.layer_output(model, "b_1", np.zeros((1, 2, 2, 3)))
    with pytest.raises(ValueError, match="keras.Model"):
        training.layer_output(keras.layers.Dense(2), "a_1", np.zeros((1, 2)))
    unbuilt = keras.Sequential([keras.layers.Dense(2, name="d")])
    with pytest.raises(ValueError, match="batch_size"):
        training.layer_output(model, "a_1", np.zeros((1, 2, 2, 3)), batch_size=0)
    with pytest.raises(ValueError, match="at least one input"):
        training.layer_output(model, "a_1", np.zeros((0, 2, 2, 3)))
    with pytest.raises(ValueError, match="no defined input"):
        training.layer_output(unbuilt, "d", np.zeros((1, 2)))


@pytest.mark.parametrize("shape", [(2, 4, 4, 5), (2, 4, 4), (2, 4, 3, 3, 1)])
def test_layer_output_refuses_inputs_the_model_was_not_built_for(shape):
    inputs = keras.Input(shape=(4, None, 3))
    model = keras.Model(inputs, training.pointwise_stack(inputs, [2], prefix="p_"),
                        name="learner_net")
    with pytest.raises(ValueError) as info:
        training.layer_output(model, "p_1", np.zeros(shape, dtype=np.float32))
    message = str(info.value)
    assert message.startswith("Model 'learner_net' expects inputs of shape "
                              "(batch, 4, any, 3); received x of shape")
    assert str(shape) in message

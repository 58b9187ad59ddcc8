"""Keras-style variables: layer.weights / trainable_weights / non_trainable_weights, layer.kernel."""

import numpy as np
import pytest

import tuinet
from tuinet import layers
from tuinet.errors import ShapeError


def _model():
    return tuinet.Sequential([tuinet.Input((3,)), layers.Dense(4, name="d1"), layers.BatchNormalization(name="bn"),
                              layers.Dense(2, name="d2")], seed=0)


def test_weights_are_live_handles_in_keras_order():
    model = _model()
    paths = [v.path for v in model.weights]
    assert paths == ["d1/kernel", "d1/bias", "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance",
                     "d2/kernel", "d2/bias"]
    assert [v.shape for v in model.weights] == [w.shape for w in model.get_weights()]
    kernel = model.layers[0].kernel
    assert kernel.name == "kernel" and kernel.dtype == "float32" and kernel.shape == (3, 4)
    kernel.assign(np.full((3, 4), 0.5))
    assert np.array_equal(model.get_weights()[0], np.full((3, 4), 0.5))
    copy = kernel.numpy()
    copy[...] = 9  # a copy: the model is untouched
    assert model.get_weights()[0][0, 0] == 0.5
    assert np.asarray(kernel).shape == (3, 4)
    with pytest.raises(ShapeError, match="d1/kernel: assign needs a value of shape"):
        kernel.assign(np.zeros(4))


def test_trainable_and_non_trainable_follow_the_flags():
    model = _model()
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2
    model.layers[1].trainable = False
    assert [v.path for v in model.non_trainable_weights] == ["bn/gamma", "bn/beta", "bn/moving_mean",
                                                             "bn/moving_variance"]
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 8
    assert all(not lay.trainable for lay in model.layers)  # Keras: the flag propagates
    model.trainable = True
    assert len(model.trainable_weights) == 6


def test_variables_follow_training():
    model = _model()
    model.compile("sgd", "mse")
    before = model.layers[-1].kernel.numpy()
    handle = model.layers[-1].kernel
    model.fit(np.random.default_rng(0).normal(size=(16, 3)), np.zeros((16, 2)), epochs=1, verbose=0)
    assert not np.array_equal(handle.numpy(), before)
    assert np.array_equal(handle.numpy(), model.layers[-1].get_weights()[0])


def test_missing_attributes_still_raise_attribute_error():
    dense = layers.Dense(2)
    with pytest.raises(AttributeError, match="has no attribute 'kernal'"):
        dense.kernal
    assert not hasattr(dense, "kernel")  # not built yet: no weights


def test_layer_build_takes_keras_signature_and_uses_the_layers_seed():
    dense = layers.Dense(3, kernel_initializer=tuinet.initializers.GlorotUniform(seed=1))
    dense.build((None, 4))  # Keras: the batch axis first, no generator
    assert dense.built and dense.kernel.shape == (4, 3) and dense.input_shape == (4,)
    twin = layers.Dense(3, kernel_initializer=tuinet.initializers.GlorotUniform(seed=1))
    twin.build((None, 4))
    assert np.array_equal(dense.kernel.numpy(), twin.kernel.numpy())
    merge = layers.Concatenate()
    merge.build([(None, 3), (None, 2)])
    assert merge.built and merge.output_shape == (5,)
    lstm_a, lstm_b = layers.LSTM(4, seed=3), layers.LSTM(4, seed=3)
    lstm_a.build((None, 5, 2))
    lstm_b.build((None, 5, 2))
    assert np.array_equal(lstm_a.recurrent_kernel.numpy(), lstm_b.recurrent_kernel.numpy())

"""Core layers: Dense, Activation, Dropout, Flatten, Reshape."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.nn.gradcheck import check_layer
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import activations, initializers, regularizers
from tuinet.nn.layers.core import Activation, Dense, Dropout, Flatten, Reshape


def built(layer, input_shape, seed=0):
    layer.build_for(input_shape, np.random.default_rng(seed))
    return layer


def round_trip(layer):
    cfg = layer.get_config()
    assert json.loads(json.dumps(cfg)) == cfg
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg and not clone.built
    return clone


# -- Dense ----------------------------------------------------------------------------------------

def test_dense_correctness():
    # keras dense_test.py test_dense_correctness: [-1, 2] @ [[1, -2], [3, -4]] = [5, -6].
    layer = built(Dense(2, activation="relu"), (2,))
    layer.set_weights([np.array([[1.0, -2.0], [3.0, -4.0]]), np.array([5.0, -6.0])])
    np.testing.assert_allclose(layer(np.array([[-1.0, 2.0]])), [[10.0, 0.0]])
    layer = built(Dense(2, use_bias=False), (2,))
    layer.set_weights([np.array([[1.0, -2.0], [3.0, -4.0]])])
    assert layer.weight_names == ["kernel"] and "bias" not in layer.params
    np.testing.assert_allclose(layer(np.array([[-1.0, 2.0]])), [[5.0, -6.0]])


def test_dense_weight_shapes_order_and_dtype():
    layer = built(Dense(5), (3,))
    assert layer.weight_names == ["kernel", "bias"]
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 5) and bias.shape == (5,)
    assert kernel.dtype == np.float32 and bias.dtype == np.float32
    np.testing.assert_array_equal(bias, 0.0)
    assert layer.grads["kernel"].shape == (3, 5) and layer.grads["bias"].shape == (5,)
    assert layer.count_params() == 20
    # Glorot uniform: |w| <= sqrt(6 / (fan_in + fan_out)).
    assert np.abs(kernel).max() <= np.sqrt(6 / 8)
    y = layer(np.ones((4, 3), dtype=np.float32))
    assert y.shape == (4, 5) and y.dtype == np.float32


def test_dense_on_3d_input_acts_on_last_axis():
    layer = built(Dense(2), (3, 4))
    assert layer.output_shape == (3, 2)
    x = np.random.default_rng(0).normal(size=(5, 3, 4))
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(layer(x), np.einsum("bti,iu->btu", x, kernel) + bias, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", activations.names())
def test_dense_gradients_every_activation(name):
    check_layer(Dense(3, activation=name), (4, 5))


@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_gradients_3d_input(use_bias):
    check_layer(Dense(3, activation="tanh", use_bias=use_bias), (2, 3, 4))


def test_dense_gradients_without_bias_and_with_regularizers():
    check_layer(Dense(4, use_bias=False), (3, 2))
    check_layer(Dense(4, activation="sigmoid", kernel_regularizer="l2", bias_regularizer="l1"), (3, 2))


def test_dense_regularization_loss_and_grads_follow_l1_l2_formulas():
    layer = built(Dense(2, kernel_regularizer=regularizers.L1L2(l1=0.01, l2=0.02),
                        bias_regularizer=regularizers.L2(0.03)), (2,))
    kernel = np.array([[1.0, -2.0], [0.5, 0.0]])
    bias = np.array([0.25, -4.0])
    layer.set_weights([kernel, bias])
    # l1 * sum|w| + l2 * sum(w^2) (Keras: no 1/2 on L2).
    expected = 0.01 * 3.5 + 0.02 * (1 + 4 + 0.25) + 0.03 * (0.0625 + 16)
    assert layer.regularization_loss() == pytest.approx(expected, rel=1e-6)
    layer(np.ones((3, 2), dtype=np.float32))
    layer.backward(np.ones((3, 2), dtype=np.float32))
    before = {k: v.copy() for k, v in layer.grads.items()}
    layer.add_regularization_grads()
    np.testing.assert_allclose(layer.grads["kernel"] - before["kernel"],
                               0.01 * np.sign(kernel) + 2 * 0.02 * kernel, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.grads["bias"] - before["bias"], 2 * 0.03 * bias, rtol=1e-5, atol=1e-6)


def test_dense_backward_overwrites_grads_and_needs_input_grad_false():
    x = np.random.default_rng(0).normal(size=(4, 3))
    g = np.random.default_rng(1).normal(size=(4, 2))
    layer = built(Dense(2, activation="tanh"), (3,))
    layer(x)
    layer.backward(g)
    first = {k: v.copy() for k, v in layer.grads.items()}
    layer(x)
    grad_in = layer.backward(g)
    for k in first:  # overwritten, not accumulated
        np.testing.assert_allclose(layer.grads[k], first[k], rtol=1e-6)
    assert grad_in.shape == x.shape
    layer.needs_input_grad = False
    layer(x)
    assert layer.backward(g) is None
    np.testing.assert_allclose(layer.grads["kernel"], first["kernel"], rtol=1e-6)


def test_dense_backward_linear_takes_grad_of_preactivation():
    x = np.random.default_rng(0).normal(size=(4, 3))
    g = np.random.default_rng(1).normal(size=(4, 2))
    layer = built(Dense(2, activation="sigmoid"), (3,))
    a = layer(x)
    via_backward = layer.backward(g)
    kernel_grad = layer.grads["kernel"].copy()
    via_linear = layer.backward_linear(g * a * (1 - a))
    np.testing.assert_allclose(via_linear, via_backward, rtol=1e-5)
    np.testing.assert_allclose(layer.grads["kernel"], kernel_grad, rtol=1e-5)


@pytest.mark.parametrize("units", [0, -3, 2.5, "4", True, None])
def test_dense_bad_units(units):
    with pytest.raises(ConfigError, match="Dense: units must be a positive integer") as err:
        Dense(units)
    assert repr(units) in str(err.value)


def test_dense_bad_names_suggest_the_right_one():
    with pytest.raises(ConfigError, match='did you mean "relu"') as err:
        Dense(4, activation="rleu")
    assert "'rleu'" in str(err.value) and isinstance(err.value, ValueError)
    with pytest.raises(ConfigError, match='did you mean "glorot_uniform"'):
        Dense(4, kernel_initializer="glorot_unifrom")
    with pytest.raises(ConfigError, match="regularizer"):
        Dense(4, kernel_regularizer="l3")
    with pytest.raises(ConfigError, match="unexpected argument.*unitz"):
        Dense(4, unitz=3)


def test_dense_needs_known_last_axis():
    with pytest.raises(ShapeError, match="last axis"):
        built(Dense(2), (3, None))


def test_dense_config_round_trip_and_rebuild_same_weights():
    layer = Dense(3, activation=activations.LeakyReLU(0.1), use_bias=False,
                  kernel_initializer=initializers.HeNormal(seed=4), bias_initializer="ones",
                  kernel_regularizer=regularizers.L1L2(0.1, 0.2), bias_regularizer="l2",
                  name="d1", input_shape=(2,))
    clone = round_trip(layer)
    assert clone.activation == activations.LeakyReLU(0.1)
    assert clone.declared_input_shape == (2,) and clone.name == "d1"
    np.testing.assert_array_equal(built(layer, (2,)).get_weights()[0], built(clone, (2,), seed=9).get_weights()[0])
    round_trip(Dense(1))


# -- Activation -----------------------------------------------------------------------------------

def test_activation_layer_forward_backward_and_config():
    layer = Activation("relu")
    np.testing.assert_array_equal(layer(np.array([[-1.0, 0.0, 2.0]])), [[0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(layer.backward(np.array([[5.0, 5.0, 5.0]])), [[0.0, 0.0, 5.0]])
    for name in ("tanh", "softmax", "gelu", "selu"):
        check_layer(Activation(name), (3, 4))
    assert round_trip(Activation("softmax")).activation == activations.Softmax()
    assert round_trip(Activation(activations.GELU(approximate=True))).activation.approximate is True
    with pytest.raises(ConfigError, match='did you mean "sigmoid"'):
        Activation("sigmod")


# -- Dropout --------------------------------------------------------------------------------------

def test_dropout_is_identity_at_inference():
    x = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    layer = built(Dropout(0.5), (5,))
    np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_array_equal(layer.backward(x), x)
    np.testing.assert_array_equal(built(Dropout(0.0), (5,))(x, training=True), x)


def test_dropout_training_zeroes_about_rate_and_scales_the_rest():
    x = np.ones((400, 250), dtype=np.float32)
    layer = built(Dropout(0.3, seed=1), (250,))
    y = layer(x, training=True)
    assert y.dtype == np.float32
    zero = y == 0
    assert abs(zero.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[~zero], 1 / 0.7, rtol=1e-6)
    # The gradient goes through the same mask with the same scale.
    g = np.random.default_rng(2).normal(size=x.shape).astype(np.float32)
    np.testing.assert_allclose(layer.backward(g), g * y, rtol=1e-6)


def test_dropout_seed_determinism():
    x = np.ones((10, 20))
    a = built(Dropout(0.5, seed=7), (20,), seed=1)(x, training=True)
    b = built(Dropout(0.5, seed=7), (20,), seed=2)(x, training=True)
    c = built(Dropout(0.5, seed=8), (20,))(x, training=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Unseeded layers draw from the build rng: same build seed, same masks.
    d = built(Dropout(0.5), (20,), seed=3)(x, training=True)
    e = built(Dropout(0.5), (20,), seed=3)(x, training=True)
    np.testing.assert_array_equal(d, e)


def test_dropout_noise_shape_shares_the_mask():
    x = np.ones((6, 4, 5))
    layer = built(Dropout(0.5, noise_shape=(None, 1, 5), seed=0), (4, 5))
    y = layer(x, training=True)
    assert y.shape == x.shape
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1, :], y.shape))
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1


class _FixedMaskDropout(Dropout):
    """Reseeds before every forward so finite differences see one fixed mask."""

    def forward(self, x, *, training=False):
        self._rng = np.random.default_rng(123)
        return super().forward(x, training=training)


def test_dropout_gradients():
    check_layer(_FixedMaskDropout(0.4), (5, 6), training=True)
    check_layer(_FixedMaskDropout(0.4, noise_shape=(None, 1, 3)), (2, 4, 3), training=True)
    check_layer(Dropout(0.4), (5, 6), training=False)


@pytest.mark.parametrize("rate", [1.5, -0.1, 1.0, "0.5", None])
def test_dropout_bad_rate(rate):
    with pytest.raises(ConfigError, match=r"Dropout: rate must be a number in \[0, 1\)") as err:
        Dropout(rate)
    assert repr(rate) in str(err.value)


def test_dropout_config_round_trip():
    clone = round_trip(Dropout(0.25, noise_shape=(None, 1), seed=3, name="drop"))
    assert clone.rate == 0.25 and clone.noise_shape == (None, 1) and clone.seed == 3
    round_trip(Dropout(0.5))


# -- Flatten and Reshape --------------------------------------------------------------------------

def test_flatten():
    layer = built(Flatten(), (3, 4, 2))
    assert layer.output_shape == (24,)
    x = np.arange(48, dtype=np.float32).reshape(2, 3, 4, 2)
    y = layer(x)
    np.testing.assert_array_equal(y, x.reshape(2, 24))
    np.testing.assert_array_equal(layer.backward(y), x)
    check_layer(Flatten(), (2, 3, 2))
    round_trip(Flatten(name="flat"))


def test_reshape_with_minus_one():
    layer = built(Reshape((3, -1)), (12,))
    assert layer.output_shape == (3, 4)
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    y = layer(x)
    assert y.shape == (2, 3, 4)
    np.testing.assert_array_equal(y[1, 2], [20, 21, 22, 23])
    np.testing.assert_array_equal(layer.backward(y), x)
    assert built(Reshape((2, 2, 3)), (3, 4)).output_shape == (2, 2, 3)
    check_layer(Reshape((-1, 2)), (2, 3, 2))
    clone = round_trip(Reshape([3, -1]))
    assert clone.target_shape == (3, -1)


@pytest.mark.parametrize("target", [(-1, -1), (0, 3), (2, -2), (), "abc", 5, (2.0, 3)])
def test_reshape_bad_target_shape(target):
    with pytest.raises(ConfigError, match="Reshape: target_shape"):
        Reshape(target)


@pytest.mark.parametrize("target", [(5, -1), (5, 5)])
def test_reshape_incompatible_with_input(target):
    with pytest.raises(ShapeError, match="cannot reshape"):
        built(Reshape(target, name="r"), (12,))

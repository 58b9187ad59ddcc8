"""BatchNormalization and LayerNormalization: Keras 3 formulas, gradients, config, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.nn.gradcheck import check_layer
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import regularizers
from tuinet.nn.layers.normalization import BatchNormalization, LayerNormalization


def built(layer, input_shape, seed=0):
    layer.build_for(input_shape, np.random.default_rng(seed))
    return layer


# -- BatchNormalization -------------------------------------------------------------------------

def test_batchnorm_weights_in_keras_order():
    bn = built(BatchNormalization(), (3,))
    assert bn.weight_names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert set(bn.params) == {"gamma", "beta"} and set(bn.grads) == {"gamma", "beta"}
    assert set(bn.state) == {"moving_mean", "moving_variance"}
    gamma, beta, mm, mv = bn.get_weights()
    np.testing.assert_array_equal(gamma, np.ones(3))
    np.testing.assert_array_equal(beta, np.zeros(3))
    np.testing.assert_array_equal(mm, np.zeros(3))
    np.testing.assert_array_equal(mv, np.ones(3))
    assert all(w.dtype == np.float32 for w in bn.get_weights())
    assert bn.count_params() == 12 and bn.count_trainable() == 6


@pytest.mark.parametrize("kwargs, names", [
    ({"center": False}, ["gamma", "moving_mean", "moving_variance"]),
    ({"scale": False}, ["beta", "moving_mean", "moving_variance"]),
    ({"center": False, "scale": False}, ["moving_mean", "moving_variance"]),
])
def test_batchnorm_center_scale_flags_drop_weights(kwargs, names):
    assert built(BatchNormalization(**kwargs), (3,)).weight_names == names


def test_batchnorm_axis_picks_feature_axis_of_4d_input():
    assert built(BatchNormalization(), (4, 5, 3)).params["gamma"].shape == (3,)
    assert built(BatchNormalization(axis=1), (4, 5, 3)).params["gamma"].shape == (4,)
    assert built(BatchNormalization(axis=-2), (4, 5, 3)).params["gamma"].shape == (5,)


def _bn_reference(x, gamma, beta, mean, var, eps):
    """Keras's `gamma * (x - mean) / sqrt(var + eps) + beta`, one scalar at a time."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = gamma[j] * (x[i, j] - mean[j]) / math.sqrt(var[j] + eps) + beta[j]
    return out


def test_batchnorm_training_forward_by_hand_and_moving_update():
    x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])
    bn = built(BatchNormalization(), (2,))
    gamma, beta = [2.0, 0.5], [1.0, -1.0]
    bn.set_weights([np.array(gamma), np.array(beta), np.zeros(2), np.ones(2)])
    # Column means 3 and 6; biased variances (4 + 0 + 4) / 3 and (16 + 0 + 16) / 3.
    mean, var = [3.0, 6.0], [8.0 / 3.0, 32.0 / 3.0]
    y = bn(x.astype(np.float32), training=True)
    np.testing.assert_allclose(y, _bn_reference(x, gamma, beta, mean, var, 0.001), rtol=1e-5, atol=1e-6)
    # moving = moving * 0.99 + batch_stat * 0.01, with the biased batch variance (Keras 3 ops.moments).
    np.testing.assert_allclose(bn.state["moving_mean"], [0.03, 0.06], rtol=1e-5)
    np.testing.assert_allclose(bn.state["moving_variance"],
                               [0.99 + 0.01 * 8.0 / 3.0, 0.99 + 0.01 * 32.0 / 3.0], rtol=1e-5)


def test_batchnorm_inference_uses_moving_statistics_and_leaves_them_alone():
    x = np.array([[1.0, 2.0], [3.0, 6.0], [-5.0, 0.5]])
    bn = built(BatchNormalization(epsilon=0.01), (2,))
    gamma, beta, mm, mv = [1.5, -0.5], [0.2, 0.3], [0.5, -1.0], [4.0, 0.25]
    bn.set_weights([np.array(w) for w in (gamma, beta, mm, mv)])
    y = bn(x.astype(np.float32), training=False)
    np.testing.assert_allclose(y, _bn_reference(x, gamma, beta, mm, mv, 0.01), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(bn.state["moving_mean"], np.float32(mm))
    np.testing.assert_array_equal(bn.state["moving_variance"], np.float32(mv))


def test_batchnorm_moving_update_does_not_change_training_output():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=(16, 5))
    bn = built(BatchNormalization(momentum=0.9), (5,))
    y1 = bn(x, training=True)
    mm1 = bn.state["moving_mean"].copy()
    y2 = bn(x, training=True)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(bn.state["moving_mean"], mm1)
    # After two updates from zero: mean * (1 - 0.9**2).
    np.testing.assert_allclose(bn.state["moving_mean"], x.mean(axis=0) * (1 - 0.9 ** 2), rtol=1e-5)


def test_batchnorm_moving_statistics_converge_to_data_statistics():
    rng = np.random.default_rng(2)
    bn = built(BatchNormalization(momentum=0.8), (3,))
    for _ in range(100):
        bn(rng.normal(5.0, 10.0, size=(256, 3)).astype(np.float32), training=True)
    np.testing.assert_allclose(bn.state["moving_mean"], 5.0, atol=1.5)
    np.testing.assert_allclose(np.sqrt(bn.state["moving_variance"]), 10.0, rtol=0.1)
    # As in Keras's correctness test: undoing beta/gamma leaves a standardized output.
    out = bn(rng.normal(5.0, 10.0, size=(2000, 3)).astype(np.float32), training=False)
    assert abs(out.mean()) < 0.2 and abs(out.std() - 1.0) < 0.2


def test_batchnorm_frozen_layer_runs_in_inference_mode():
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    bn = built(BatchNormalization(trainable=False), (2,))
    y = bn(x, training=True)
    np.testing.assert_allclose(y, x / math.sqrt(1.001), rtol=1e-6)
    np.testing.assert_array_equal(bn.state["moving_mean"], [0.0, 0.0])


def test_batchnorm_4d_training_normalizes_each_channel():
    x = np.random.default_rng(3).normal(2.0, 3.0, size=(4, 5, 5, 3)).astype(np.float32)
    y = built(BatchNormalization(epsilon=1e-6), (5, 5, 3))(x, training=True)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), 1.0, rtol=1e-4)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kwargs, shape", [
    ({}, (6, 4)),
    ({}, (3, 2, 3, 4)),
    ({"axis": 1}, (3, 4, 2, 3)),
    ({"center": False}, (5, 3)),
    ({"scale": False}, (5, 3)),
])
def test_batchnorm_gradients(training, kwargs, shape):
    bn = built(BatchNormalization(dtype="float64", **kwargs), shape[1:])
    # Non-trivial moving statistics so that the inference-mode check means something.
    rng = np.random.default_rng(5)
    c = bn.state["moving_mean"].shape
    bn.state["moving_mean"][...] = rng.normal(size=c)
    bn.state["moving_variance"][...] = rng.uniform(0.5, 2.0, size=c)
    check_layer(bn, shape, training=training)


def test_batchnorm_needs_input_grad_false_returns_none_but_fills_grads():
    x = np.random.default_rng(0).normal(size=(8, 3))
    g = np.random.default_rng(1).normal(size=(8, 3))
    for training in (True, False):
        bn = built(BatchNormalization(), (3,))
        bn.forward(x, training=training)
        ref = {k: v.copy() for k, v in (bn.backward(g), bn.grads)[1].items()}
        bn.needs_input_grad = False
        bn.forward(x, training=training)
        assert bn.backward(g) is None
        for k in ref:
            np.testing.assert_allclose(bn.grads[k], ref[k], rtol=1e-6)
        # dbeta is the sum of the incoming gradient in both modes.
        np.testing.assert_allclose(bn.grads["beta"], g.sum(axis=0), rtol=1e-5)


def test_batchnorm_keeps_float32():
    x = np.random.default_rng(0).normal(size=(8, 4, 4, 2)).astype(np.float32)
    bn = built(BatchNormalization(), (4, 4, 2))
    for training in (True, False):
        y = bn.forward(x, training=training)
        assert y.dtype == np.float32
        assert bn.backward(np.ones_like(y)).dtype == np.float32
        assert all(v.dtype == np.float32 for v in (*bn.params.values(), *bn.grads.values(), *bn.state.values()))


def test_batchnorm_regularizers():
    bn = built(BatchNormalization(gamma_regularizer="l2", beta_regularizer=regularizers.L1(0.5)), (3,))
    bn.set_weights([np.array([1.0, 2.0, -3.0]), np.array([0.5, -1.0, 0.0]), np.zeros(3), np.ones(3)])
    assert bn.regularization_loss() == pytest.approx(0.01 * 14.0 + 0.5 * 1.5)


def test_batchnorm_config_round_trip():
    bn = BatchNormalization(axis=1, momentum=0.9, epsilon=1e-4, center=False, scale=True,
                            gamma_initializer="glorot_uniform", moving_variance_initializer="zeros",
                            gamma_regularizer=regularizers.L2(0.1), name="bn1")
    cfg = bn.get_config()
    json.dumps(cfg)
    assert cfg["axis"] == 1 and cfg["momentum"] == 0.9 and cfg["epsilon"] == 1e-4 and cfg["center"] is False
    clone = BatchNormalization.from_config(cfg)
    assert clone.get_config() == cfg and not clone.built
    assert BatchNormalization.from_config(BatchNormalization().get_config()).get_config() == \
        BatchNormalization().get_config()


@pytest.mark.parametrize("kwargs, words", [
    ({"momentum": 1.5}, ["momentum", "1.5"]),
    ({"momentum": "high"}, ["momentum", "'high'"]),
    ({"epsilon": 0}, ["epsilon", "0"]),
    ({"epsilon": -1e-3}, ["epsilon", "-0.001"]),
    ({"axis": "last"}, ["axis", "'last'"]),
    ({"axis": 1.0}, ["axis", "1.0"]),
    ({"center": "yes"}, ["center", "'yes'"]),
    ({"gamma_initializer": "onez"}, ["onez", '"ones"']),
    ({"beta_regularizer": "l3"}, ["l3"]),
])
def test_batchnorm_bad_arguments(kwargs, words):
    with pytest.raises(ConfigError) as err:
        BatchNormalization(**kwargs)
    for w in words:
        assert w in str(err.value)


@pytest.mark.parametrize("axis", [0, 2, -3])
def test_batchnorm_axis_out_of_range_is_shape_error(axis):
    with pytest.raises(ShapeError, match=f"axis={axis}"):
        built(BatchNormalization(axis=axis, name="bn"), (4,))


def test_batchnorm_wrong_input_shape():
    bn = built(BatchNormalization(name="bn"), (4,))
    with pytest.raises(ShapeError, match="bn"):
        bn(np.zeros((2, 5)))


# -- LayerNormalization -------------------------------------------------------------------------

def test_layernorm_forward_by_hand():
    x = [[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 6.0]]
    gamma, beta = [1.0, 2.0, 0.5, -1.0], [0.0, 0.1, 0.2, 0.3]
    ln = built(LayerNormalization(), (4,))
    ln.set_weights([np.array(gamma), np.array(beta)])
    y = ln(np.array(x, dtype=np.float32))
    expected = []
    for row in x:
        mean = sum(row) / 4
        var = sum((v - mean) ** 2 for v in row) / 4  # biased, as in Keras
        expected.append([g * (v - mean) / math.sqrt(var + 0.001) + b for v, g, b in zip(row, gamma, beta)])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert y.dtype == np.float32


def test_layernorm_each_sample_is_independent_of_the_batch():
    x = np.random.default_rng(0).normal(size=(5, 3, 4))
    ln = built(LayerNormalization(axis=[1, 2]), (3, 4))
    np.testing.assert_allclose(ln(x)[2:3], ln(x[2:3]), rtol=1e-12)
    y = ln(x)
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(1, 2)), 1.0, rtol=1e-2)


def test_layernorm_weight_shapes_follow_axis():
    assert built(LayerNormalization(), (3, 4)).params["gamma"].shape == (4,)
    assert built(LayerNormalization(axis=1), (3, 4)).params["beta"].shape == (3,)
    assert built(LayerNormalization(axis=[1, 2]), (3, 4)).params["gamma"].shape == (3, 4)
    assert built(LayerNormalization(axis=[-2, -1]), (3, 4)).params["gamma"].shape == (3, 4)
    assert built(LayerNormalization(axis=[1, 2, 3]), (20, 30, 40)).params["beta"].shape == (20, 30, 40)
    assert built(LayerNormalization(), (3,)).weight_names == ["gamma", "beta"]
    assert built(LayerNormalization(center=False), (3,)).weight_names == ["gamma"]
    assert built(LayerNormalization(scale=False), (3,)).weight_names == ["beta"]
    assert built(LayerNormalization(rms_scaling=True, center=True, scale=False), (3,)).weight_names == ["gamma"]


def test_layernorm_rms_scaling_by_hand():
    # Keras 3: x * gamma / sqrt(var(x) + epsilon), without centring x and without beta.
    x = [[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]]
    gamma = [2.0, 1.0, -1.0]
    ln = built(LayerNormalization(rms_scaling=True, epsilon=0.01), (3,))
    ln.set_weights([np.array(gamma)])
    expected = []
    for row in x:
        mean = sum(row) / 3
        var = sum((v - mean) ** 2 for v in row) / 3
        expected.append([v * g / math.sqrt(var + 0.01) for v, g in zip(row, gamma)])
    np.testing.assert_allclose(ln(np.array(x)), expected, rtol=1e-12)


@pytest.mark.parametrize("kwargs, shape", [
    ({}, (3, 5)),
    ({}, (3, 2, 5)),
    ({"axis": 1}, (3, 5, 2)),
    ({"axis": [1, 2]}, (3, 2, 5)),
    ({"axis": [2, 1]}, (3, 2, 5)),
    ({"axis": [1, 2, 3]}, (2, 3, 2, 2)),
    ({"center": False}, (4, 5)),
    ({"scale": False}, (4, 5)),
    ({"center": False, "scale": False}, (4, 5)),
    ({"rms_scaling": True}, (4, 5)),
    ({"rms_scaling": True, "axis": [1, 2]}, (2, 3, 4)),
])
def test_layernorm_gradients(kwargs, shape):
    check_layer(LayerNormalization(**kwargs), shape)


def test_layernorm_needs_input_grad_false_and_float32():
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    ln = built(LayerNormalization(), (4,))
    ln.needs_input_grad = False
    y = ln(x, training=True)
    assert y.dtype == np.float32
    assert ln.backward(np.ones_like(y)) is None
    np.testing.assert_allclose(ln.grads["beta"], np.full(4, 6.0))
    assert ln.grads["gamma"].dtype == np.float32


def test_layernorm_config_round_trip():
    for ln in (LayerNormalization(), LayerNormalization(axis=[1, 2], epsilon=1e-5, center=False,
                                                          rms_scaling=True, gamma_initializer="zeros",
                                                          gamma_regularizer="l1", name="ln")):
        cfg = ln.get_config()
        json.dumps(cfg)
        clone = LayerNormalization.from_config(cfg)
        assert clone.get_config() == cfg
    assert cfg["axis"] == [1, 2] and cfg["rms_scaling"] is True


@pytest.mark.parametrize("kwargs, words", [
    ({"axis": "x"}, ["axis", "'x'"]),
    ({"axis": []}, ["axis"]),
    ({"axis": [1, "b"]}, ["axis", "'b'"]),
    ({"epsilon": -1.0}, ["epsilon", "-1.0"]),
    ({"scale": None}, ["scale", "None"]),
    ({"beta_initializer": "zeroes"}, ["zeroes", '"zeros"']),
])
def test_layernorm_bad_arguments(kwargs, words):
    with pytest.raises(ConfigError) as err:
        LayerNormalization(**kwargs)
    for w in words:
        assert w in str(err.value)


def test_layernorm_bad_axes_for_the_input():
    with pytest.raises(ShapeError, match="axis=3"):
        built(LayerNormalization(axis=3), (4, 2))
    with pytest.raises(ShapeError, match="axis=0"):
        built(LayerNormalization(axis=0), (4, 2))
    with pytest.raises(ConfigError, match="twice"):
        built(LayerNormalization(axis=[1, -2]), (4, 2))
    ln = built(LayerNormalization(name="ln"), (4,))
    with pytest.raises(ShapeError, match="ln"):
        ln(np.zeros((2, 3)))

"""Activations: values from the Keras 3 definitions, derivatives, names, aliases, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from tuinet.errors import ConfigError
from tuinet.nn import activations

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _gelu_tanh(x):
    return 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


# Scalar reference definitions written from keras/src/activations/activations.py docstrings.
REFERENCE = {
    "linear": lambda x: x,
    "relu": lambda x: max(x, 0.0),
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)),
    "tanh": math.tanh,
    "leaky_relu": lambda x: x if x >= 0 else 0.2 * x,
    "elu": lambda x: x if x > 0 else math.exp(x) - 1,
    "selu": lambda x: SELU_SCALE * (x if x > 0 else SELU_ALPHA * (math.exp(x) - 1)),
    "gelu": lambda x: 0.5 * x * (1 + math.erf(x / math.sqrt(2))),
    "silu": lambda x: x / (1 + math.exp(-x)),
    "softplus": lambda x: math.log(math.exp(x) + 1),
    "softsign": lambda x: x / (abs(x) + 1),
    "hard_sigmoid": lambda x: min(max(x + 3, 0.0), 6.0) / 6,
    "relu6": lambda x: min(max(x, 0.0), 6.0),
    "exponential": math.exp,
}
POINTS = [-7.0, -3.5, -1.0, -0.2, 0.0, 0.3, 1.0, 2.5, 4.0]


def test_every_registered_activation_has_a_reference():
    assert set(activations.names()) == set(REFERENCE) | {"softmax"}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_values_match_keras_definitions(name):
    f = activations.get(name)
    expected = [REFERENCE[name](x) for x in POINTS]
    np.testing.assert_allclose(f(np.array(POINTS)), expected, rtol=1e-12, atol=1e-15)
    y32 = f(np.array(POINTS, dtype=np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, expected, rtol=2e-6, atol=1e-7)


def test_hand_picked_values():
    get = activations.get
    x = np.array([-5.0, -3.0, 0.0, 1.5, 3.0, 7.0])
    np.testing.assert_allclose(get("hard_sigmoid")(x), [0.0, 0.0, 0.5, 0.75, 1.0, 1.0])
    np.testing.assert_allclose(get("relu6")(x), [0.0, 0.0, 0.0, 1.5, 3.0, 6.0])
    np.testing.assert_allclose(get("leaky_relu")(x), [-1.0, -0.6, 0.0, 1.5, 3.0, 7.0])
    np.testing.assert_allclose(get("softsign")(np.array([1.0, -3.0])), [0.5, -0.75])
    np.testing.assert_allclose(get("selu")(np.array([1.0])), [1.0507009873554805])
    np.testing.assert_allclose(get("gelu")(np.array([1.0, -1.0])), [0.8413447460685429, -0.15865525393145707])
    np.testing.assert_allclose(activations.GELU(approximate=True)(np.array([1.0, -2.0])),
                               [_gelu_tanh(1.0), _gelu_tanh(-2.0)], rtol=1e-12)
    np.testing.assert_allclose(activations.ELU(alpha=2.0)(np.array([-1.0])), [2 * (math.exp(-1) - 1)])
    np.testing.assert_allclose(activations.LeakyReLU(0.1)(np.array([-3.0])), [-0.3])


def test_large_inputs_are_stable():
    x = np.array([-1000.0, 1000.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(activations.get("sigmoid")(x), [0.0, 1.0])
        np.testing.assert_array_equal(activations.get("softplus")(x), [0.0, 1000.0])
        np.testing.assert_array_equal(activations.get("tanh")(x), [-1.0, 1.0])
        np.testing.assert_array_equal(activations.get("silu")(x), [-0.0, 1000.0])
        np.testing.assert_array_equal(activations.get("elu")(x), [-1.0, 1000.0])


def test_softmax_rows_sum_to_one_and_match_exp_ratio():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-1.0, 5.0, 0.5]])
    a = activations.get("softmax")(z)
    e = np.exp([[1.0, 2.0, 3.0]])[0]
    np.testing.assert_allclose(a[0], e / e.sum(), rtol=1e-12)
    np.testing.assert_allclose(a[1], [1 / 3] * 3)
    np.testing.assert_allclose(a.sum(axis=-1), 1.0, rtol=1e-12)


def test_softmax_stable_for_large_logits():
    big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = activations.get("softmax")(big)
    assert a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_allclose(a[0], activations.get("softmax")(np.array([0.0, 1.0, 2.0])), rtol=1e-6)
    np.testing.assert_allclose(a.sum(axis=-1), 1.0, rtol=1e-6)


def _central(f, z, g, h=1e-6):
    out = np.empty_like(z)
    for i in range(z.size):
        zp, zm = z.copy(), z.copy()
        zp.flat[i] += h
        zm.flat[i] -= h
        out.flat[i] = (np.sum(f(zp) * g) - np.sum(f(zm) * g)) / (2 * h)
    return out


def _central_elementwise(f, z, g, h=1e-6):
    return (f(z + h) - f(z - h)) / (2 * h) * g


# Points away from the kinks (0 for relu family, +-3 for hard_sigmoid, 6 for relu6).
GRAD_POINTS = np.array([[-4.1, -2.2, -0.7, -0.05, 0.04], [0.6, 1.3, 2.7, 3.4, 6.5]])


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_derivatives_match_central_differences(name):
    f = activations.get(name)
    g = np.random.default_rng(0).normal(size=GRAD_POINTS.shape)
    numeric = _central_elementwise(f, GRAD_POINTS, g)
    a = f(GRAD_POINTS)
    np.testing.assert_allclose(f.backward(GRAD_POINTS, a, g), numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(f.gradient(GRAD_POINTS) * g, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("act", [activations.GELU(approximate=True), activations.LeakyReLU(0.05),
                                 activations.ELU(alpha=0.5)])
def test_configured_derivatives(act):
    g = np.random.default_rng(1).normal(size=GRAD_POINTS.shape)
    numeric = _central_elementwise(act, GRAD_POINTS, g)
    np.testing.assert_allclose(act.backward(GRAD_POINTS, act(GRAD_POINTS), g), numeric, rtol=1e-6, atol=1e-8)


def test_softmax_backward_is_the_jacobian_vector_product():
    f = activations.get("softmax")
    z = np.random.default_rng(2).normal(size=(3, 4))
    g = np.random.default_rng(3).normal(size=(3, 4))
    np.testing.assert_allclose(f.backward(z, f(z), g), _central(f, z, g), rtol=1e-6, atol=1e-9)
    with pytest.raises(ConfigError, match="softmax"):
        f.gradient(z)


def test_names_aliases_and_instances():
    assert isinstance(activations.get("swish"), activations.SiLU)
    assert isinstance(activations.get("none"), activations.Linear)
    assert isinstance(activations.get(None), activations.Linear)
    assert isinstance(activations.get("ReLU"), activations.ReLU)
    assert isinstance(activations.get("leakyrelu"), activations.LeakyReLU)
    act = activations.GELU(approximate=True)
    assert activations.get(act) is act
    assert activations.get({"name": "leaky_relu", "config": {"negative_slope": 0.1}}) == activations.LeakyReLU(0.1)


@pytest.mark.parametrize("act", [activations.ReLU(), activations.Softmax(), activations.LeakyReLU(0.3),
                                 activations.ELU(alpha=0.5), activations.GELU(approximate=True)])
def test_serialize_round_trip(act):
    spec = activations.serialize(act)
    assert activations.get(spec) == act
    if act.get_config() == type(act)().get_config():
        assert spec == act.name


@pytest.mark.parametrize("bad, suggestion", [("rleu", "relu"), ("sigmod", "sigmoid"), ("gleu", "gelu"),
                                             ("softmx", "softmax"), ("swsh", "swish")])
def test_unknown_names_suggest_the_closest(bad, suggestion):
    with pytest.raises(ConfigError) as err:
        activations.get(bad)
    msg = str(err.value)
    assert f'did you mean "{suggestion}"' in msg and repr(bad) in msg and "relu6" in msg
    assert isinstance(err.value, ValueError)


def test_unknown_without_close_match_and_non_string():
    with pytest.raises(ConfigError, match="unknown activation 'zzzzzz'; choose from"):
        activations.get("zzzzzz")
    with pytest.raises(ConfigError, match="activation must be a name"):
        activations.get(3)

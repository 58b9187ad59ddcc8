"""Initializers: shapes, dtypes, Keras 3 statistics, orthogonality, fans, seeds, names."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuinet.errors import ConfigError
from tuinet.nn import backend, initializers

TRUNC = 0.87962566103423978  # std of a unit normal truncated at +-2


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("name", initializers.names())
@pytest.mark.parametrize("shape", [(4, 3), (3, 3, 2, 5)])
def test_shapes_and_dtypes(name, shape):
    init = initializers.get(name)
    w = init(shape, rng())
    assert w.shape == shape and w.dtype == np.float32 == backend.floatx()
    assert init(shape, rng(), np.float64).dtype == np.float64
    assert np.isfinite(w).all()


def test_constant_family():
    np.testing.assert_array_equal(initializers.get("zeros")((2, 3), rng()), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.get("ones")((4,), rng()), np.ones(4))
    np.testing.assert_array_equal(initializers.Constant(0.5)((2, 2), rng()), np.full((2, 2), 0.5))
    assert isinstance(initializers.get("zero"), initializers.Zeros)
    assert isinstance(initializers.get("one"), initializers.Ones)
    assert isinstance(initializers.get("uniform"), initializers.RandomUniform)
    assert isinstance(initializers.get("normal"), initializers.RandomNormal)
    assert isinstance(initializers.get("Glorot_Uniform"), initializers.GlorotUniform)


@pytest.mark.parametrize("shape, fans", [
    ((), (1, 1)),
    ((7,), (7, 7)),
    ((3, 5), (3, 5)),
    ((3, 3, 4, 8), (36, 72)),        # Conv2D kernel: receptive field 9
    ((2, 3, 3, 4, 8), (72, 144)),    # Conv3D kernel: receptive field 18
    ((5, 4, 8), (20, 40)),           # Conv1D kernel
])
def test_compute_fans(shape, fans):
    assert initializers.compute_fans(shape) == fans


def test_glorot_uniform_limit_and_variance():
    w = initializers.get("glorot_uniform")((300, 200), rng(1), np.float64)
    limit = math.sqrt(6 / 500)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert w.var() == pytest.approx(2 / 500, rel=0.03)
    assert abs(w.mean()) < 0.002


def test_glorot_normal_std():
    w = initializers.get("glorot_normal")((300, 200), rng(2), np.float64)
    std = math.sqrt(2 / 500)
    assert w.std() == pytest.approx(std, rel=0.03)
    assert np.abs(w).max() <= 2 * std / TRUNC


@pytest.mark.parametrize("name, scale", [("he_normal", 2.0), ("lecun_normal", 1.0)])
def test_fan_in_truncated_normals(name, scale):
    w = initializers.get(name)((400, 300), rng(3), np.float64)
    std = math.sqrt(scale / 400)  # Keras divides the stddev by 0.8796 so that this is the real std
    assert w.std() == pytest.approx(std, rel=0.03)
    limit = 2 * std / TRUNC
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.97 * limit


@pytest.mark.parametrize("name, scale", [("he_uniform", 2.0), ("lecun_uniform", 1.0)])
def test_fan_in_uniforms(name, scale):
    w = initializers.get(name)((400, 300), rng(4), np.float64)
    limit = math.sqrt(3 * scale / 400)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit


def test_conv_kernel_uses_receptive_field():
    w = initializers.get("he_normal")((3, 3, 16, 32), rng(5), np.float64)
    assert w.std() == pytest.approx(math.sqrt(2 / 144), rel=0.05)


def test_truncated_normal_stays_within_two_stddev():
    w = initializers.TruncatedNormal(mean=1.0, stddev=0.5)((200, 200), rng(6), np.float64)
    assert w.min() >= 0.0 and w.max() <= 2.0
    assert w.mean() == pytest.approx(1.0, abs=0.01)
    assert w.std() == pytest.approx(0.5 * TRUNC, rel=0.02)
    w = initializers.get("truncated_normal")((100, 100), rng(7))
    assert np.abs(w).max() <= 0.1


def test_random_normal_and_uniform_defaults():
    n = initializers.get("random_normal")((300, 300), rng(8), np.float64)
    assert n.std() == pytest.approx(0.05, rel=0.02) and abs(n.mean()) < 0.001
    u = initializers.get("random_uniform")((300, 300), rng(9), np.float64)
    assert u.min() >= -0.05 and u.max() <= 0.05 and u.max() > 0.0499


def test_variance_scaling_modes_and_distributions():
    shape = (200, 800)
    for mode, n in (("fan_in", 200), ("fan_out", 800), ("fan_avg", 500)):
        w = initializers.VarianceScaling(3.0, mode, "untruncated_normal")(shape, rng(10), np.float64)
        assert w.std() == pytest.approx(math.sqrt(3.0 / n), rel=0.02)
    # Keras lower-cases the distribution and reads "normal" as "truncated_normal".
    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"
    assert initializers.VarianceScaling(distribution="Uniform").distribution == "uniform"


@pytest.mark.parametrize("kwargs, word", [({"scale": 0}, "scale"), ({"scale": -1.0}, "scale"),
                                          ({"scale": "big"}, "scale"), ({"mode": "fan_x"}, "mode"),
                                          ({"distribution": "poisson"}, "distribution")])
def test_variance_scaling_bad_arguments(kwargs, word):
    with pytest.raises(ConfigError, match=f"VarianceScaling: {word}"):
        initializers.VarianceScaling(**kwargs)


@pytest.mark.parametrize("shape", [(6, 6), (8, 3), (3, 3, 4, 8)])
def test_orthogonal_square_and_tall(shape):
    q = initializers.Orthogonal()(shape, rng(11), np.float64).reshape(-1, shape[-1])
    np.testing.assert_allclose(q.T @ q, np.eye(shape[-1]), atol=1e-12)


def test_orthogonal_wide_and_gain():
    q = initializers.get("orthogonal")((3, 8), rng(12), np.float64)
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-12)
    q = initializers.Orthogonal(gain=2.0)((5, 5), rng(13), np.float64)
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(5), atol=1e-12)
    q32 = initializers.Orthogonal()((4, 4), rng(14))
    assert q32.dtype == np.float32
    np.testing.assert_allclose(q32.T @ q32, np.eye(4), atol=1e-6)
    with pytest.raises(ConfigError, match="rank >= 2"):
        initializers.Orthogonal()((5,), rng())


@pytest.mark.parametrize("name", ["random_normal", "random_uniform", "truncated_normal", "glorot_uniform",
                                  "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
                                  "lecun_uniform", "orthogonal", "variance_scaling"])
def test_seed_determinism(name):
    cls = initializers.INITIALIZERS[name]
    a = cls(seed=3)((5, 4), rng(0))
    b = cls(seed=3)((5, 4), rng(1))  # the seed wins over the generator passed in
    c = cls(seed=4)((5, 4), rng(0))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Unseeded: everything comes from the generator.
    np.testing.assert_array_equal(cls()((5, 4), rng(7)), cls()((5, 4), rng(7)))
    assert not np.array_equal(cls()((5, 4), rng(7)), cls()((5, 4), rng(8)))


@pytest.mark.parametrize("init", [initializers.GlorotUniform(seed=3), initializers.Constant(0.25),
                                  initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=1),
                                  initializers.Orthogonal(gain=0.5), initializers.HeNormal()])
def test_serialize_round_trip(init):
    spec = initializers.serialize(init)
    clone = initializers.get(spec)
    assert type(clone) is type(init) and clone.get_config() == init.get_config()
    np.testing.assert_array_equal(clone((3, 3), rng(2)), init((3, 3), rng(2)))


def test_unknown_names():
    with pytest.raises(ConfigError, match='did you mean "glorot_uniform"') as err:
        initializers.get("glorot_unifrom")
    assert "'glorot_unifrom'" in str(err.value) and "he_normal" in str(err.value)
    with pytest.raises(ConfigError, match="initializer must be a name"):
        initializers.get(5)

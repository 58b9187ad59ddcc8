"""Generators: shapes, dtypes, balance, seeds, noise, ranges and the Playground's geometry."""

from __future__ import annotations

import numpy as np
import pytest

from tuinet import data
from tuinet.errors import ConfigError

TWO_D = ["circle", "xor", "gauss", "spiral", "moons", "plane", "multi_gauss"]
CLASSIFIERS = ["circle", "xor", "gauss", "spiral", "moons"]


@pytest.mark.parametrize("name", TWO_D)
def test_two_d_shapes_and_dtypes(name):
    ds = data.GENERATORS[name](samples=101, noise=0.1, seed=3)
    assert ds.x.shape == (101, 2) and ds.x.dtype == np.float32
    assert ds.feature_names == ["x1", "x2"] and ds.input_shape == (2,) and ds.n == 101
    assert ds.source == f"generator:{name}" and ds.description
    if name in CLASSIFIERS:
        assert ds.task == "classification" and ds.y.dtype == np.int64 and ds.y.shape == (101,)
        assert set(np.unique(ds.y)) == {0, 1} and ds.num_classes == 2 and ds.class_names == ["0", "1"]
    else:
        assert ds.task == "regression" and ds.y.dtype == np.float32 and ds.y.shape == (101,)
        assert ds.num_classes is None and ds.class_names is None
    assert np.isfinite(ds.x).all() and np.isfinite(ds.y).all()


@pytest.mark.parametrize("name", TWO_D + ["sine"])
def test_seeded_repeatable_and_seed_matters(name):
    gen = data.GENERATORS[name]
    a, b, c = gen(noise=0.2, seed=5), gen(noise=0.2, seed=5), gen(noise=0.2, seed=6)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize("name", TWO_D + ["sine"])
def test_noise_changes_points_or_labels(name):
    gen = data.GENERATORS[name]
    clean, noisy = gen(noise=0.0, seed=1), gen(noise=0.3, seed=1)
    assert not (np.array_equal(clean.x, noisy.x) and np.array_equal(clean.y, noisy.y))


@pytest.mark.parametrize("name", ["gauss", "spiral", "moons", "circle"])
def test_exact_balance_without_label_noise(name):
    ds = data.GENERATORS[name](samples=301, noise=0.0, seed=0)
    counts = np.bincount(ds.y, minlength=2)
    assert counts.sum() == 301 and abs(counts[0] - counts[1]) <= 1


def test_xor_roughly_balanced_and_quadrant_labels():
    ds = data.xor(samples=2000, seed=0)
    assert 0.45 < ds.y.mean() < 0.55
    np.testing.assert_array_equal(ds.y, (ds.x[:, 0] * ds.x[:, 1] >= 0).astype(np.int64))
    assert np.abs(ds.x).min() >= 0.3 - 1e-6 and np.abs(ds.x).max() <= 5.3 + 1e-5


def test_circle_geometry():
    ds = data.circle(samples=1000, seed=0)
    r = np.hypot(ds.x[:, 0], ds.x[:, 1])
    assert (r[ds.y == 1] <= 2.5 + 1e-5).all()
    assert ((r[ds.y == 0] >= 3.5 - 1e-5) & (r[ds.y == 0] <= 5 + 1e-5)).all()
    noisy = data.circle(samples=1000, noise=0.5, seed=0)
    r = np.hypot(noisy.x[:, 0], noisy.x[:, 1])
    assert (noisy.y[r > 3.5] == 1).any()  # label noise flips some outer points


def test_gauss_centres_and_spread_grow_with_noise():
    ds = data.gauss(samples=4000, seed=0)
    np.testing.assert_allclose(ds.x[ds.y == 1].mean(axis=0), [2, 2], atol=0.1)
    np.testing.assert_allclose(ds.x[ds.y == 0].mean(axis=0), [-2, -2], atol=0.1)
    np.testing.assert_allclose(ds.x[ds.y == 1].var(axis=0), [0.5, 0.5], rtol=0.1)
    wide = data.gauss(samples=4000, noise=0.5, seed=0)
    np.testing.assert_allclose(wide.x[wide.y == 1].var(axis=0), [4, 4], rtol=0.1)


def test_spiral_arms_are_point_symmetric_and_reach_radius_five():
    ds = data.spiral(samples=400, seed=0)
    assert 0 < ds.y.mean() < 1
    r = np.hypot(ds.x[:, 0], ds.x[:, 1])
    assert r.max() <= 5 + 1e-5 and r.max() > 4.9
    # the class-0 arm is the class-1 arm turned by pi: each mirrored point lies on the other arm
    arm1, arm0 = ds.x[ds.y == 1], ds.x[ds.y == 0]
    dist = np.linalg.norm(-arm1[:, None, :] - arm0[None, :, :], axis=2).min(axis=1)
    assert dist.max() < 1e-5
    # nearby points mostly share a label (the arms are separable, not interleaved noise)
    d = np.linalg.norm(ds.x[:, None] - ds.x[None], axis=2) + np.eye(len(ds.x)) * 1e9
    assert (ds.y[d.argmin(axis=1)] == ds.y).mean() > 0.95


def test_moons_shape():
    ds = data.moons(samples=200, seed=0)
    upper, lower = ds.x[ds.y == 0], ds.x[ds.y == 1]
    assert upper[:, 1].mean() > lower[:, 1].mean()
    assert np.abs(ds.x[:, 0]).max() <= 3.75 + 1e-5 and np.abs(ds.x[:, 1]).max() <= 1.875 + 1e-5


def test_regression_values():
    plane = data.plane(samples=500, seed=0)
    np.testing.assert_allclose(plane.y, plane.x.sum(axis=1) / 10, atol=1e-6)
    assert np.abs(plane.x).max() <= 6
    gauss = data.multi_gauss(samples=500, seed=0)
    assert gauss.y.min() >= -1 and gauss.y.max() <= 1 and (gauss.y > 0.5).any() and (gauss.y < -0.5).any()
    # the bump centred on (0, 2.5) is negative, the one on (4, 2.5) positive
    x = data.multi_gauss(samples=5000, seed=1)
    near = lambda cx, cy: np.hypot(x.x[:, 0] - cx, x.x[:, 1] - cy) < 0.5
    assert (x.y[near(0, 2.5)] < 0).all() and (x.y[near(4, 2.5)] > 0).all()


def test_sine_windows_continue_the_wave():
    ds = data.sine(samples=50, steps=12, seed=0)
    assert ds.x.shape == (50, 12, 1) and ds.y.shape == (50,) and ds.x.dtype == ds.y.dtype == np.float32
    assert ds.task == "regression" and ds.feature_names == ["value"] and ds.input_shape == (12, 1)
    assert np.abs(ds.x).max() <= 1.5 and np.abs(ds.y).max() <= 1.5
    # a noiseless sine obeys s[t+1] = 2 cos(w) s[t] - s[t-1]; solve for cos(w) from the window and extrapolate
    s = ds.x[:, :, 0].astype(np.float64)
    two_cos = (s[:, 2] + s[:, 0]) / np.where(np.abs(s[:, 1]) > 0.1, s[:, 1], np.nan)
    ok = np.isfinite(two_cos)
    predicted = two_cos[ok] * s[ok, -1] - s[ok, -2]
    np.testing.assert_allclose(predicted, ds.y[ok], atol=1e-4)


@pytest.mark.parametrize("kwargs", [{"samples": 0}, {"samples": 2.5}, {"samples": True}, {"noise": -0.1},
                                    {"noise": 2}, {"noise": "high"}, {"seed": "abc"}])
def test_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        data.spiral(**kwargs)


def test_sine_bad_steps():
    with pytest.raises(ConfigError, match="steps"):
        data.sine(steps=0)


def test_lookup_with_aliases():
    assert data.get_generator("regression_plane") is data.plane
    assert data.get_generator("regression_gauss") is data.multi_gauss
    assert data.get_generator("Multi-Gauss") is data.multi_gauss
    assert data.get_generator("nope") is None
    assert set(data.GENERATORS) == {"circle", "xor", "gauss", "spiral", "moons", "plane", "multi_gauss", "sine",
                                    "side_effects"}

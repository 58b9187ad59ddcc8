"""Scalers and one-hot encoding."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tuinet import data
from tuinet.errors import ConfigError, DataError, NotBuiltError, ShapeError


def train_and_other():
    rng = np.random.default_rng(0)
    train = rng.normal([5.0, -3.0, 100.0], [2.0, 0.5, 30.0], size=(200, 3))
    other = rng.normal([0.0, 0.0, 0.0], [1.0, 1.0, 1.0], size=(50, 3))
    return train, other


def test_standard_scaler_uses_training_statistics():
    train, other = train_and_other()
    scaler = data.StandardScaler().fit(train)
    z = scaler.transform(train)
    assert z.dtype == np.float32 and z.shape == train.shape
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-5)
    expected = (other - train.mean(axis=0)) / train.std(axis=0)
    np.testing.assert_allclose(scaler.transform(other), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scaler.mean_, train.mean(axis=0))


def test_minmax_scaler_uses_training_range():
    train, other = train_and_other()
    scaler = data.MinMaxScaler().fit(train)
    z = scaler.transform(train)
    np.testing.assert_allclose(z.min(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(z.max(axis=0), 1, atol=1e-6)
    lo, hi = train.min(axis=0), train.max(axis=0)
    np.testing.assert_allclose(scaler.transform(other), (other - lo) / (hi - lo), rtol=1e-5, atol=1e-5)
    wide = data.MinMaxScaler(feature_range=(-1, 1)).fit(train).transform(train)
    np.testing.assert_allclose([wide.min(), wide.max()], [-1, 1], atol=1e-6)


@pytest.mark.parametrize("cls", [data.StandardScaler, data.MinMaxScaler])
def test_inverse_round_trip_and_constant_column(cls):
    train, _ = train_and_other()
    train[:, 1] = 7.0
    scaler = cls()
    z = scaler.fit_transform(train)
    assert np.isfinite(z).all()
    expected_constant = 0.0
    np.testing.assert_allclose(z[:, 1], expected_constant)
    np.testing.assert_allclose(scaler.inverse_transform(z), train, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("cls", [data.StandardScaler, data.MinMaxScaler])
def test_per_channel_for_sequences_and_images(cls):
    rng = np.random.default_rng(1)
    seq = rng.normal([1.0, 50.0], [1.0, 10.0], size=(30, 12, 2))
    scaler = cls().fit(seq)
    assert np.asarray(scaler.get_config()["offset"]).shape == (2,)
    out = scaler.transform(seq)
    assert out.shape == seq.shape and out.dtype == np.float32
    flat = out.reshape(-1, 2)
    if cls is data.StandardScaler:
        np.testing.assert_allclose(flat.mean(axis=0), 0, atol=1e-5)
    else:
        np.testing.assert_allclose([flat.min(axis=0), flat.max(axis=0)], [[0, 0], [1, 1]], atol=1e-6)
    images = rng.uniform(0, 16, size=(10, 8, 8, 1))
    np.testing.assert_allclose(cls().fit(images).inverse_transform(cls().fit(images).transform(images)), images,
                               atol=1e-4)


@pytest.mark.parametrize("cls", [data.StandardScaler, data.MinMaxScaler])
def test_config_round_trip(cls):
    train, other = train_and_other()
    scaler = cls().fit(train)
    config = json.loads(json.dumps(scaler.get_config()))
    again = cls.from_config(config)
    np.testing.assert_array_equal(again.transform(other), scaler.transform(other))
    assert type(data.scaler_from_config(config)) is cls
    unfitted = cls.from_config(cls().get_config())
    assert not unfitted.fitted


def test_errors():
    with pytest.raises(NotBuiltError, match="not fitted"):
        data.StandardScaler().transform(np.ones((2, 2)))
    scaler = data.StandardScaler().fit(np.ones((3, 2)))
    with pytest.raises(ShapeError, match="fitted on 2 features"):
        scaler.transform(np.ones((3, 3)))
    with pytest.raises(ConfigError):
        data.MinMaxScaler(feature_range=(1, 0))
    with pytest.raises(DataError):
        data.StandardScaler().fit(np.ones((0, 2)))


def test_get_scaler():
    assert isinstance(data.get_scaler("standard"), data.StandardScaler)
    assert isinstance(data.get_scaler("MinMax"), data.MinMaxScaler)
    assert data.get_scaler("none") is None and data.get_scaler(None) is None
    s = data.StandardScaler()
    assert data.get_scaler(s) is s
    with pytest.raises(ConfigError, match='did you mean "standard"'):
        data.get_scaler("standrd")


def test_one_hot():
    out = data.one_hot(np.array([2, 0, 1]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert data.one_hot([1, 1], num_classes=4).shape == (2, 4)
    np.testing.assert_array_equal(data.one_hot(np.array([[1.0], [0.0]])), [[0, 1], [1, 0]])
    with pytest.raises(DataError, match="class id 3 is outside 0..2"):
        data.one_hot([0, 3], num_classes=3)
    with pytest.raises(DataError, match="class id -1"):
        data.one_hot([0, -1])
    with pytest.raises(DataError, match="integer class ids"):
        data.one_hot([0.5, 1.0])

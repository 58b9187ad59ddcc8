"""Splits and k-fold: sizes, disjointness, stratification, seeds (with hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuinet import data
from tuinet.errors import ConfigError, DataError

RATIOS = st.sampled_from([(0.7, 0.15, 0.15), (0.8, 0.2, 0.0), (0.6, 0.0, 0.4), (0.5, 0.25, 0.25), (1.0, 0.0, 0.0),
                          (0.34, 0.33, 0.33), (0.9, 0.05, 0.05)])
LABELS = st.lists(st.integers(0, 4), min_size=8, max_size=300).map(lambda v: np.array(v, dtype=np.int64))


def check_partition(parts: data.Split, n: int) -> None:
    joined = np.concatenate([parts.train, parts.val, parts.test])
    assert np.array_equal(np.sort(joined), np.arange(n))  # each sample exactly once
    for idx in (parts.train, parts.val, parts.test):
        assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)


@settings(max_examples=60, deadline=None)
@given(y=LABELS, ratios=RATIOS, seed=st.integers(0, 2**31))
def test_stratified_split_properties(y, ratios, seed):
    parts = data.split(y, ratios, seed=seed)
    n = len(y)
    check_partition(parts, n)
    assert sum(parts.sizes().values()) == n and parts.stratified
    counts = parts.class_counts(y, 5)
    total = np.bincount(y, minlength=5)
    for name, ratio in zip(("train", "val", "test"), ratios):
        assert np.all(np.abs(counts[name] - total * ratio) <= 1 + 1e-9), (name, counts[name], total * ratio)
        # the overall sizes follow the ratios as closely as an unstratified split
        assert abs(parts.sizes()[name] - n * ratio) < 1
    again = data.split(y, ratios, seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip((parts.train, parts.val, parts.test),
                                                     (again.train, again.val, again.test)))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(5, 400), ratios=RATIOS, seed=st.integers(0, 2**31))
def test_plain_split_properties(n, ratios, seed):
    y = np.linspace(0, 1, n).astype(np.float32)  # float targets are never stratified
    parts = data.split(y, ratios, seed=seed)
    check_partition(parts, n)
    assert not parts.stratified
    for name, ratio in zip(("train", "val", "test"), ratios):
        assert abs(parts.sizes()[name] - n * ratio) < 1


def test_another_seed_gives_another_split():
    y = np.arange(200) % 3
    a, b = data.split(y, seed=1), data.split(y, seed=2)
    assert not np.array_equal(a.train, b.train)
    assert a.sizes() == b.sizes()


def test_stratify_off_and_metadata():
    y = np.array([0] * 90 + [1] * 10)
    parts = data.split(y, (0.5, 0.5, 0.0), seed=0, stratify=False)
    assert not parts.stratified and parts.ratios == (0.5, 0.5, 0.0) and parts.seed == 0
    strat = data.split(y, (0.5, 0.5, 0.0), seed=0)
    assert strat.class_counts(y, 2)["val"].tolist() == [45, 5]
    assert data.split(y, (0.8, 0.2)).sizes() == {"train": 80, "val": 20, "test": 0}


def test_assignment():
    y = np.arange(20) % 2
    parts = data.split(y, (0.5, 0.25, 0.25), seed=3)
    a = parts.assignment(20)
    assert a.dtype == np.int8 and a.shape == (20,)
    assert set(np.flatnonzero(a == 0)) == set(parts.train.tolist())
    assert set(np.flatnonzero(a == 1)) == set(parts.val.tolist())
    assert set(np.flatnonzero(a == 2)) == set(parts.test.tolist())
    with pytest.raises(DataError):
        parts.assignment(10)


@pytest.mark.parametrize("ratios, match", [
    ((0.7, 0.2, 0.2), "add up to 1"), ((0.0, 0.5, 0.5), "training share"), ((1.2, -0.1, -0.1), "from 0 to 1"),
    ((0.5,), "2 or 3 numbers"), ("abc", "2 or 3 numbers"),
])
def test_bad_ratios(ratios, match):
    with pytest.raises(DataError, match=match):
        data.split(np.zeros(10, np.int64), ratios)


def test_ratio_tolerance_and_empty_training_split():
    data.split(np.zeros(10, np.int64), (0.7, 0.15, 0.1500000001))
    with pytest.raises(DataError, match="training split would be empty"):
        data.split(np.zeros(0, np.int64))
    with pytest.raises(DataError, match="training split would be empty"):
        data.split(np.zeros(1, np.int64), (0.01, 0.99, 0.0))


@settings(max_examples=30, deadline=None)
@given(y=LABELS, k=st.integers(2, 8), seed=st.integers(0, 1000), stratify=st.booleans())
def test_kfold_covers_every_sample_once(y, k, seed, stratify):
    folds = data.kfold(y, k, seed=seed, stratify=stratify)
    n = len(y)
    assert len(folds) == k
    val = np.concatenate([v for _, v in folds])
    assert np.array_equal(np.sort(val), np.arange(n))
    sizes = [len(v) for _, v in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, v in folds:
        assert np.array_equal(np.sort(np.concatenate([train, v])), np.arange(n))
        assert np.all(np.diff(train) > 0) and np.all(np.diff(v) > 0)
    if stratify:
        per_class = np.array([np.bincount(y[v], minlength=5) for _, v in folds])
        assert (per_class.max(axis=0) - per_class.min(axis=0) <= 1).all()


def test_kfold_errors_and_seed():
    y = np.arange(10) % 2
    assert [v.tolist() for _, v in data.kfold(y, 3, seed=1)] == [v.tolist() for _, v in data.kfold(y, 3, seed=1)]
    with pytest.raises(ConfigError):
        data.kfold(y, 1)
    with pytest.raises(DataError, match="11 folds need at least 11 samples"):
        data.kfold(y, 11)

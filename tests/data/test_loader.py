"""`load`: generators, shipped sets and files through one entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tuinet import data
from tuinet.errors import ConfigError, DataError


def test_generators_with_options():
    ds = data.load("spiral", samples=120, noise=0.2, seed=4)
    np.testing.assert_array_equal(ds.x, data.spiral(120, 0.2, 4).x)
    assert data.load("regression_plane").task == "regression" and data.load("regression_plane").n == 500
    assert data.load("regression_gauss").source == "generator:multi_gauss"
    assert data.load("sine", samples=10, steps=5).x.shape == (10, 5, 1)
    assert data.load("circle").n == 500 and data.load("sine").n == 1000
    with pytest.raises(ConfigError, match="generator 'spiral': unknown option 'steps'"):
        data.load("spiral", steps=3)
    with pytest.raises(ConfigError, match="noise"):
        data.load("xor", noise=5)


def test_shipped_sets():
    assert data.load("iris").n == 150
    assert data.load("breast-cancer").name == "breast_cancer"
    assert data.load("digits", as_images=True).x.shape == (1797, 8, 8, 1)
    with pytest.raises(DataError, match="data set 'iris': samples apply only to generated data"):
        data.load("iris", samples=10)
    with pytest.raises(DataError, match="samples and noise apply only"):
        data.load("wine", samples=10, noise=0.1)
    with pytest.raises(ConfigError, match="unknown option 'target'"):
        data.load("iris", target=0)


def test_files_relative_to_base_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "presets" / "data"
    folder.mkdir(parents=True)
    (folder / "points.csv").write_text("a,b,label\n1,2,x\n3,4,y\n")
    ds = data.load("data/points.csv", base_dir=tmp_path / "presets", target="label")
    assert ds.class_names == ["x", "y"] and Path(ds.source) == folder / "points.csv"
    assert data.load(str(folder / "points.csv")).n == 2  # absolute paths ignore base_dir
    assert data.load(folder / "points.csv", base_dir="/elsewhere").n == 2  # PathLike
    with pytest.raises(DataError, match=r"presets/data/points.csv: samples apply only to generated data"):
        data.load("data/points.csv", base_dir="presets", samples=5)
    with pytest.raises(DataError) as info:
        data.load("data/missing.csv", base_dir=tmp_path / "presets")
    assert str(info.value).startswith("data/missing.csv: file not found (looked for ")
    assert str(folder / "missing.csv") in str(info.value)


def test_errors_from_files_name_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bad.csv").write_text("a,y\n1,0\nten,1\n")
    with pytest.raises(DataError, match=r'^bad.csv: line 3, column "a": expected a number, got "ten"$'):
        data.load("bad.csv")


def test_unknown_names():
    with pytest.raises(DataError) as info:
        data.load("spirals")
    msg = str(info.value)
    assert msg.startswith("unknown data source 'spirals' (did you mean \"spiral\"?); expected a generator (circle, ")
    assert "iris" in msg and ".csv" in msg
    with pytest.raises(DataError, match='did you mean "iris"'):
        data.load("irsi")
    with pytest.raises(DataError, match="unknown data source 'zzz'; expected"):
        data.load("zzz")
    with pytest.raises(ConfigError):
        data.load("")

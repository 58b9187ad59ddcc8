"""NPZ/NPY loading and `load_file` dispatch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tuinet import data
from tuinet.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def message(func, *args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        func(*args, **kwargs)
    return str(info.value)


def test_npz_classification_and_regression():
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    np.savez("cls.npz", x=x, y=np.array([0, 1, 2, 0, 1, 2]))
    ds = data.load_npz("cls.npz")
    assert ds.task == "classification" and ds.x.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.class_names == ["0", "1", "2"] and ds.feature_names == ["x1", "x2"] and ds.name == "cls"
    np.savez("reg.npz", x=x, y=np.linspace(0, 1, 6))
    ds = data.load_npz("reg.npz")
    assert ds.task == "regression" and ds.y.dtype == np.float32
    np.savez("multi.npz", x=x, y=np.ones((6, 3)) * 0.5)
    assert data.load_npz("multi.npz").y.shape == (6, 3)
    assert data.load_npz("cls.npz", task="regression").task == "regression"


def test_npz_one_hot_text_labels_and_names():
    x = np.zeros((4, 3), np.float32)
    np.savez("oh.npz", x=x, y=np.eye(3)[[0, 2, 1, 2]])
    ds = data.load_npz("oh.npz")
    assert ds.task == "classification" and ds.y.tolist() == [0, 2, 1, 2] and ds.num_classes == 3
    np.savez("txt.npz", x=x, y=np.array(["dog", "cat", "dog", "emu"]))
    ds = data.load_npz("txt.npz")
    assert ds.class_names == ["cat", "dog", "emu"] and ds.y.tolist() == [1, 0, 1, 2]
    np.savez("named.npz", x=x, y=np.array([0, 1, 1, 0]), feature_names=np.array(["a", "b", "c"]),
             class_names=np.array(["no", "yes", "maybe"]))
    ds = data.load_npz("named.npz")
    assert ds.feature_names == ["a", "b", "c"] and ds.class_names == ["no", "yes", "maybe"] and ds.num_classes == 3


def test_npz_shapes():
    np.savez("img.npz", x=np.zeros((5, 4, 4, 3)), y=np.arange(5) % 2)
    ds = data.load_npz("img.npz")
    assert ds.image_shape == (4, 4, 3) and ds.input_shape == (4, 4, 3) and len(ds.feature_names) == 3
    np.savez("seq.npz", x=np.zeros((5, 7, 2)), y=np.zeros(5) + 0.5)
    seq = data.load_npz("seq.npz")
    assert seq.input_shape == (7, 2) and seq.image_shape is None
    np.savez("flat.npz", x=np.arange(5.0), y=np.arange(5.0) * 0.5)
    assert data.load_npz("flat.npz").x.shape == (5, 1)


def test_npz_errors():
    np.savez("noy.npz", x=np.zeros((3, 2)), labels=np.zeros(3))
    assert message(data.load_npz, "noy.npz") == \
        'noy.npz: no array named "y"; expected arrays "x" and "y", found "x", "labels"'
    np.savez("objects.npz", x=np.zeros((2, 2)), y=np.array([{"a": 1}, None], dtype=object))
    assert "holds Python objects (pickled data)" in message(data.load_npz, "objects.npz")
    Path("junk.npz").write_bytes(b"not a zip file at all")
    assert message(data.load_npz, "junk.npz").startswith("junk.npz: not a valid .npz file")
    x = np.zeros((4, 2))
    x[2, 1] = np.nan
    np.savez("nan.npz", x=x, y=np.zeros(4))
    assert message(data.load_npz, "nan.npz") == \
        'nan.npz: array "x", sample 2, feature 1: expected a finite number, got nan'
    np.savez("len.npz", x=np.zeros((4, 2)), y=np.zeros(3))
    assert message(data.load_npz, "len.npz") == \
        'len.npz: array "x" has 4 samples but array "y" has 3; expected the same number'
    np.savez("str.npz", x=np.array([["a", "b"]]), y=np.zeros(1))
    assert message(data.load_npz, "str.npz") == ('str.npz: array "x": expected an array of numbers with one row '
                                                 "per sample, got dtype <U1")
    np.savez("frac.npz", x=np.zeros((2, 1)), y=np.array([0.5, 1.0]))
    assert message(data.load_npz, "frac.npz", task="classification") == \
        'frac.npz: array "y", sample 0: expected an integer class label (task is classification), got "0.5"'
    assert message(data.load_npz, "missing.npz") == "missing.npz: file not found"


def test_npy_pair_and_table():
    np.save("x.npy", np.ones((4, 3)))
    np.save("y.npy", np.array([1, 0, 1, 0]))
    ds = data.load_npy("x.npy", "y.npy")
    assert ds.x.shape == (4, 3) and ds.task == "classification"
    np.save("table.npy", np.c_[np.ones((4, 2)), [0.5, 1.5, 2.5, 3.5]])
    ds = data.load_npy("table.npy")
    assert ds.x.shape == (4, 2) and ds.task == "regression" and ds.y.tolist() == [0.5, 1.5, 2.5, 3.5]
    assert data.load_file("x.npy", path_y="y.npy").n == 4
    np.save("vector.npy", np.ones(4))
    assert "expected a 2-D table whose last column is the target" in message(data.load_npy, "vector.npy")
    np.savez("arch.npz", x=np.ones(2), y=np.ones(2))
    assert "is an .npz archive" in message(data.load_npy, "arch.npz")
    np.save("obj.npy", np.array([None, 1], dtype=object))
    assert "holds Python objects" in message(data.load_npy, "obj.npy")


def test_load_file_dispatch():
    Path("a.csv").write_text("a,y\n1,0\n2,1\n")
    assert data.load_file("a.csv").x.shape == (2, 1)
    Path("a.json").write_text("{}")
    assert message(data.load_file, "a.json") == \
        'a.json: unsupported file type (".json"); expected one of .csv, .tsv, .csv.gz, .tsv.gz, .npz, .npy'
    assert message(data.load_file, "gone.csv") == "gone.csv: file not found"
    assert "no suffix" in message(data.load_file, "README")
    with pytest.raises(ConfigError, match="option 'target' does not apply to .npz files"):
        np.savez("b.npz", x=np.ones(2), y=np.ones(2))
        data.load_file("b.npz", target=0)
    with pytest.raises(ConfigError, match='did you mean "delimiter"'):
        data.load_file("a.csv", delimeter=";")

"""The Dataset container."""

from __future__ import annotations

import numpy as np
import pytest

from tuinet import data
from tuinet.errors import ConfigError, DataError


def test_properties_and_subset():
    ds = data.load_dataset("iris")
    part = ds.subset(np.array([0, 50, 100]))
    assert part.n == 3 and part.y.tolist() == [0, 1, 2] and part.num_classes == 3
    assert part.feature_names == ds.feature_names and part.feature_names is not ds.feature_names
    assert part.source == ds.source and part.name == ds.name
    masked = ds.subset(ds.y == 2)
    assert masked.n == 50 and masked.num_classes == 3  # class names keep every class
    assert "iris" in repr(ds) and "(150, 4)" in repr(ds)


def test_validation():
    with pytest.raises(DataError, match="x has 3 samples but y has 2"):
        data.Dataset("bad", np.zeros((3, 2), np.float32), np.zeros(2, np.int64), "classification", ["a", "b"])
    with pytest.raises(ConfigError, match="unknown task"):
        data.Dataset("bad", np.zeros((2, 2), np.float32), np.zeros(2), "clustering", ["a", "b"])


def test_num_classes_without_names():
    ds = data.Dataset("t", np.zeros((3, 1), np.float32), np.array([0, 3, 1]), "classification", ["a"])
    assert ds.num_classes == 4 and ds.input_shape == (1,)
    reg = data.Dataset("r", np.zeros((3, 4, 2), np.float32), np.zeros(3, np.float32), "regression", ["a", "b"])
    assert reg.num_classes is None and reg.input_shape == (4, 2)


def test_public_api():
    names = ["Dataset", "circle", "xor", "gauss", "spiral", "moons", "plane", "multi_gauss", "sine", "GENERATORS",
             "load_dataset", "DATASETS", "load_csv", "load_npy", "load_npz", "load_file", "load", "Split", "split",
             "kfold", "StandardScaler", "MinMaxScaler", "get_scaler", "one_hot"]
    for name in names:
        assert hasattr(data, name), name
        assert name in data.__all__


def test_data_does_not_load_the_ui():
    import subprocess
    import sys

    code = "import sys, tuinet.data; assert 'textual' not in sys.modules and 'click' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

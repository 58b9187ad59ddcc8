"""Shipped data sets: shapes, classes, names, no network, caching and the package files."""

from __future__ import annotations

import socket
from importlib import resources

import numpy as np
import pytest

from tuinet import data
from tuinet.data import shipped
from tuinet.errors import ConfigError, DataError


@pytest.mark.parametrize("name, shape, counts", [
    ("iris", (150, 4), [50, 50, 50]),
    ("wine", (178, 13), [59, 71, 48]),
    ("breast_cancer", (569, 30), [212, 357]),
    ("digits", (1797, 64), None),
])
def test_shapes_and_classes(name, shape, counts):
    ds = data.load_dataset(name)
    assert ds.x.shape == shape and ds.x.dtype == np.float32 and ds.y.dtype == np.int64 and ds.y.shape == shape[:1]
    assert ds.task == "classification" and len(ds.feature_names) == shape[1]
    assert len(set(ds.feature_names)) == shape[1]
    assert ds.num_classes == len(ds.class_names) and ds.source == f"builtin:{name}" and ds.description
    assert np.isfinite(ds.x).all()
    if counts is not None:
        assert np.bincount(ds.y).tolist() == counts


def test_names_and_values():
    iris = data.load_dataset("iris")
    assert iris.class_names == ["setosa", "versicolor", "virginica"]
    assert iris.feature_names[0] == "sepal length (cm)"
    np.testing.assert_allclose(iris.x[0], [5.1, 3.5, 1.4, 0.2])
    assert data.load_dataset("breast_cancer").class_names == ["malignant", "benign"]
    assert data.load_dataset("breast_cancer").feature_names[20] == "worst radius"
    assert data.load_dataset("wine").feature_names[-1] == "proline"


def test_digits():
    ds = data.load_dataset("digits")
    assert ds.image_shape == (8, 8) and ds.num_classes == 10 and ds.class_names == [str(d) for d in range(10)]
    assert ds.x.min() == 0 and ds.x.max() == 16 and (ds.x == np.round(ds.x)).all()
    assert np.bincount(ds.y).min() >= 170
    images = data.load_dataset("digits", as_images=True)
    assert images.x.shape == (1797, 8, 8, 1) and images.image_shape == (8, 8, 1) and images.input_shape == (8, 8, 1)
    np.testing.assert_array_equal(images.x.reshape(1797, 64), ds.x)
    with pytest.raises(ConfigError, match="not made of images"):
        data.load_dataset("iris", as_images=True)


def test_aliases_and_unknown():
    assert data.load_dataset("breast-cancer").name == "breast_cancer"
    assert data.load_dataset("Wine").name == "wine"
    with pytest.raises(DataError, match=r'unknown data set .irsi. \(did you mean "iris"\?\); choose from'):
        data.load_dataset("irsi")
    assert set(data.DATASETS) == {"iris", "wine", "breast_cancer", "digits"}
    assert all(isinstance(v, str) and v for v in data.DATASETS.values())


def test_loads_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("tried to use the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    shipped._parse.cache_clear()
    for name in data.DATASETS:
        assert data.load_dataset(name).n > 0


def test_cached_but_returned_as_copies():
    a = data.load_dataset("iris")
    a.x[:] = 0
    a.y[:] = 0
    b = data.load_dataset("iris")
    assert b.x.max() > 0 and b.y.max() == 2
    assert shipped._parse.cache_info().currsize >= 1


def test_files_live_in_the_package():
    folder = resources.files("tuinet.data").joinpath("datasets")
    names = {p.name for p in folder.iterdir()}
    assert {"iris.csv.gz", "wine_data.csv.gz", "breast_cancer.csv.gz", "digits.csv.gz", "README.md"} <= names
    readme = folder.joinpath("README.md").read_text()
    for doi in ("10.24432/C56C76", "10.24432/C5PC7J", "10.24432/C5DW2B", "10.24432/C50P49"):
        assert doi in readme
    assert "CC BY 4.0" in readme and "BSD 3-Clause" in readme

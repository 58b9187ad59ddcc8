"""tuinet.datasets reads Keras's download cache (never the network) and refuses pickled data."""

import gzip

import numpy as np
import pytest

import tuinet
from tuinet.errors import DataError


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    return tmp_path / "datasets"


def test_mnist_from_the_keras_cache(keras_home):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), "y_train": np.arange(5, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8), "y_test": np.arange(2, dtype=np.uint8)}
    np.savez(keras_home / "mnist.npz", **arrays)
    (x_train, y_train), (x_test, y_test) = tuinet.datasets.mnist.load_data()
    assert np.array_equal(x_train, arrays["x_train"]) and np.array_equal(y_test, arrays["y_test"])
    assert x_train.dtype == np.uint8 and x_test.shape == (2, 28, 28)


def test_fashion_mnist_idx_files(keras_home):
    folder = keras_home / "fashion-mnist"
    folder.mkdir()
    labels, images = np.array([3, 1], np.uint8), np.arange(2 * 784, dtype=np.uint32).astype(np.uint8)
    for split in ("train", "t10k"):
        with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(b"\0" * 8 + labels.tobytes())
        with gzip.open(folder / f"{split}-images-idx3-ubyte.gz", "wb") as f:
            f.write(b"\0" * 16 + images.tobytes())
    (x_train, y_train), _ = tuinet.datasets.fashion_mnist.load_data()
    assert x_train.shape == (2, 28, 28) and list(y_train) == [3, 1]


def test_boston_housing_splits_as_keras(keras_home):
    x, y = np.arange(50, dtype=float).reshape(25, 2), np.arange(25, dtype=float)
    np.savez(keras_home / "boston_housing.npz", x=x, y=y)
    (x_train, y_train), (x_test, y_test) = tuinet.datasets.boston_housing.load_data(test_split=0.2, seed=113)
    indices = np.arange(25)
    np.random.RandomState(113).shuffle(indices)
    assert np.array_equal(y_train, y[indices][:20]) and np.array_equal(x_test, x[indices][20:])


def test_missing_files_and_pickled_sets_are_one_line(keras_home):
    with pytest.raises(DataError) as exc:
        tuinet.datasets.mnist.load_data()
    text = str(exc.value)
    assert "\n" not in text and "mnist.npz is not there" in text and "downloads nothing" in text
    with pytest.raises(DataError, match="pickled Python objects, which tuinet never loads"):
        tuinet.datasets.imdb.load_data(num_words=10000)
    np.savez(keras_home / "mnist.npz", x_train=np.array([[1, 2]], dtype=object), y_train=np.zeros(1),
             x_test=np.zeros(1), y_test=np.zeros(1))
    with pytest.raises(DataError, match="pickled"):
        tuinet.datasets.mnist.load_data()

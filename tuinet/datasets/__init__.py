"""`keras.datasets`, read from Keras's own download cache: tuinet downloads nothing.

    (x_train, y_train), (x_test, y_test) = tuinet.datasets.mnist.load_data()

Keras keeps what `keras.datasets.*.load_data()` once downloaded in `~/.keras/datasets` (or
`$KERAS_HOME/datasets`); tuinet reads the same files, checked as any data file (numeric arrays
only, sizes within the memory budget). When a file is not there, the error names it and how
to get it. MNIST, Fashion-MNIST, Boston housing and California housing are read; CIFAR, IMDB and
Reuters are stored by Keras as pickled Python objects, which tuinet never loads, so they are
refused in one line. The shipped data sets (digits, iris, wine, breast cancer) are in
`tuinet.data`.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from tuinet.errors import DataError

__all__ = ["mnist", "fashion_mnist", "boston_housing", "california_housing", "cifar10", "cifar100", "imdb",
           "reuters", "cache_dir"]

_IDX_LIMIT = 200 * 2**20  # a Fashion-MNIST member inflates to ~47 MB; refuse anything far larger


def cache_dir() -> Path:
    """Where Keras keeps downloaded data sets: `$KERAS_HOME/datasets`, else `~/.keras/datasets`."""
    home = os.environ.get("KERAS_HOME")
    return Path(home) / "datasets" if home else Path.home() / ".keras" / "datasets"


def _cached(name: str, fname: str, keras_call: str) -> Path:
    path = Path(fname)
    if not path.is_absolute():
        path = cache_dir() / fname
    if not path.is_file():
        raise DataError(f"{name}: {path} is not there; tuinet downloads nothing: run {keras_call} once with Keras "
                        "(it caches the file there), or use tuinet.data's shipped data sets (digits, iris...)")
    return path


def _npz(path: Path, keys: tuple[str, ...]) -> dict:
    from tuinet.data.files import _np_load

    archive = _np_load(path, str(path), ".npz")
    if isinstance(archive, np.ndarray):
        raise DataError(f"{path}: holds a single array; expected an .npz archive with {', '.join(keys)}")
    with archive:
        missing = [k for k in keys if k not in archive.files]
        if missing:
            raise DataError(f"{path}: no array named {missing[0]!r}; expected {', '.join(keys)}")
        try:
            return {k: archive[k] for k in keys}
        except ValueError:
            raise DataError(f"{path}: holds Python objects (pickled data), which tuinet never loads") from None


def _mnist_load(path: str = "mnist.npz"):
    """MNIST digits, as `keras.datasets.mnist.load_data`: `(x_train, y_train), (x_test, y_test)`,
    uint8 images `(n, 28, 28)` and labels `(n,)`."""
    f = _npz(_cached("mnist", path, "keras.datasets.mnist.load_data()"), ("x_train", "y_train", "x_test", "y_test"))
    return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _idx(path: Path, offset: int) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read(_IDX_LIMIT + 1)
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read as gzip ({exc})") from None
    if len(data) > _IDX_LIMIT or len(data) < offset:
        raise DataError(f"{path}: not a Fashion-MNIST file (size {len(data)} bytes)")
    return np.frombuffer(data, np.uint8, offset=offset)


def _fashion_load():
    """Fashion-MNIST, as `keras.datasets.fashion_mnist.load_data`."""
    folder = "fashion-mnist"
    parts = {}
    for key, fname, offset in (("y_train", "train-labels-idx1-ubyte.gz", 8), ("x_train", "train-images-idx3-ubyte.gz", 16),
                               ("y_test", "t10k-labels-idx1-ubyte.gz", 8), ("x_test", "t10k-images-idx3-ubyte.gz", 16)):
        parts[key] = _idx(_cached("fashion_mnist", f"{folder}/{fname}", "keras.datasets.fashion_mnist.load_data()"),
                          offset)
    for key in ("x_train", "x_test"):
        y = parts["y" + key[1:]]
        if parts[key].size != len(y) * 784:
            raise DataError(f"fashion_mnist: {key} holds {parts[key].size} bytes; expected {len(y)} images of 28x28")
        parts[key] = parts[key].reshape(len(y), 28, 28)
    return (parts["x_train"], parts["y_train"]), (parts["x_test"], parts["y_test"])


def _split(x, y, test_split: float, seed: int, name: str):
    if not 0 <= test_split < 1:
        raise DataError(f"{name}: test_split must be in [0, 1), got {test_split!r}")
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)  # Keras's order, for the same split
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))


def _boston_load(path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113):
    """Boston housing prices, as `keras.datasets.boston_housing.load_data`."""
    f = _npz(_cached("boston_housing", path, "keras.datasets.boston_housing.load_data()"), ("x", "y"))
    return _split(f["x"], f["y"], test_split, seed, "boston_housing")


def _california_load(version: str = "large", path: str = "california_housing.npz", test_split: float = 0.2,
                     seed: int = 113):
    """California housing prices, as `keras.datasets.california_housing.load_data` ("small": 600 rows)."""
    if version not in ("large", "small"):
        raise DataError(f"california_housing: version must be 'large' or 'small', got {version!r}")
    f = _npz(_cached("california_housing", path, "keras.datasets.california_housing.load_data()"), ("x", "y"))
    x, y = f["x"], f["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    return _split(x, y, test_split, seed, "california_housing")


def _pickled(name: str):
    def load_data(*args, **kwargs):
        raise DataError(f"{name}: Keras stores this data set as pickled Python objects, which tuinet never loads; "
                        "use tuinet.data's shipped data sets, or convert it once to an .npz of numeric arrays")
    return SimpleNamespace(load_data=load_data)


mnist = SimpleNamespace(load_data=_mnist_load)
fashion_mnist = SimpleNamespace(load_data=_fashion_load)
boston_housing = SimpleNamespace(load_data=_boston_load)
california_housing = SimpleNamespace(load_data=_california_load)
cifar10 = _pickled("cifar10")
cifar100 = _pickled("cifar100")
imdb = _pickled("imdb")
reuters = _pickled("reuters")

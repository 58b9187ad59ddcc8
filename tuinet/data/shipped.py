"""Small real data sets that ship inside the package (no network needed).

The gzipped CSV files under `datasets/` come from scikit-learn (BSD-3-Clause); the data sets
themselves are from the UCI Machine Learning Repository (CC BY 4.0). `datasets/README.md`
gives their sources and citations. Parsed arrays are cached for the life of the process and
every call returns fresh copies.
"""

from __future__ import annotations

import functools
import gzip
import io
from dataclasses import dataclass
from importlib import resources

import numpy as np

from tuinet.data.dataset import Dataset
from tuinet.errors import ConfigError, DataError, did_you_mean

_BREAST = ["radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
           "concave points", "symmetry", "fractal dimension"]


@dataclass(frozen=True)
class _Spec:
    file: str
    title: str
    summary: str
    description: str
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...] | None = None  # None: read from the file's first line
    image_shape: tuple[int, ...] | None = None
    header: bool = True


_SPECS: dict[str, _Spec] = {
    "iris": _Spec(
        file="iris.csv.gz",
        title="Iris plants",
        summary="iris: 150 flowers, 4 measurements, 3 species (50 each)",
        description=("Fisher's iris data (1936): sepal and petal length and width in cm of 150 iris "
                     "flowers, 50 of each species (setosa, versicolor, virginica). Setosa is linearly "
                     "separable from the other two, which overlap. Source: UCI Machine Learning "
                     "Repository (CC BY 4.0), via scikit-learn."),
        feature_names=("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"),
    ),
    "wine": _Spec(
        file="wine_data.csv.gz",
        title="Wine recognition",
        summary="wine: 178 wines, 13 chemical measurements, 3 cultivars",
        description=("Chemical analysis of 178 wines grown in the same region of Italy by three "
                     "cultivators (59, 71 and 48 wines): 13 constituents such as alcohol, flavanoids "
                     "and proline. The features have very different scales, so scaling matters. "
                     "Source: Forina et al., UCI Machine Learning Repository (CC BY 4.0), via scikit-learn."),
        feature_names=("alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
                       "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
                       "od280/od315_of_diluted_wines", "proline"),
    ),
    "breast_cancer": _Spec(
        file="breast_cancer.csv.gz",
        title="Breast cancer Wisconsin (diagnostic)",
        summary="breast_cancer: 569 tumours, 30 cell-nucleus features, malignant (212) or benign (357)",
        description=("Breast Cancer Wisconsin (Diagnostic): 30 features of the cell nuclei in a digitized "
                     "image of a fine needle aspirate of a breast mass (mean, standard error and worst "
                     "value of 10 measurements), for 212 malignant and 357 benign tumours. Source: "
                     "Wolberg, Street and Mangasarian, UCI Machine Learning Repository (CC BY 4.0), "
                     "via scikit-learn."),
        feature_names=tuple([f"mean {f}" for f in _BREAST] + [f"{f} error" for f in _BREAST]
                            + [f"worst {f}" for f in _BREAST]),
    ),
    "digits": _Spec(
        file="digits.csv.gz",
        title="Optical recognition of handwritten digits",
        summary="digits: 1797 handwritten digits, 8x8 pixels (0..16), 10 classes",
        description=("1797 handwritten digits as 8x8 images whose pixels count the ink in 4x4 blocks of "
                     "a 32x32 bitmap (0..16). x is flat (n, 64); image_shape is (8, 8). Source: "
                     "E. Alpaydin and C. Kaynak, UCI Machine Learning Repository (CC BY 4.0), via scikit-learn."),
        feature_names=tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8)),
        class_names=tuple(str(d) for d in range(10)),
        image_shape=(8, 8),
        header=False,
    ),
}

DATASET_ALIASES: dict[str, str] = {"breast-cancer": "breast_cancer", "wine_data": "wine", "mnist8": "digits"}

DATASETS: dict[str, str] = {name: spec.summary for name, spec in _SPECS.items()}
"""Name -> one-line description of every shipped data set, for listings."""


def dataset_key(name: str) -> str | None:
    """The canonical name of a shipped data set (aliases and case folded), or None."""
    key = str(name).strip().lower()
    key = DATASET_ALIASES.get(key, key).replace("-", "_").replace(" ", "_")
    key = DATASET_ALIASES.get(key, key)
    return key if key in _SPECS else None


@functools.lru_cache(maxsize=None)
def _parse(key: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read and parse one gz file once per process: `(x, y, class_names)`."""
    spec = _SPECS[key]
    raw = resources.files("tuinet.data").joinpath("datasets", spec.file).read_bytes()
    text = gzip.decompress(raw).decode("ascii")
    lines = text.splitlines()
    if spec.header:
        head = lines[0].split(",")
        n_samples, n_features, class_names = int(head[0]), int(head[1]), tuple(head[2:])
        lines = lines[1:]
    else:
        class_names = spec.class_names
        n_samples, n_features = len(lines), len(spec.feature_names)
    table = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=",", dtype=np.float64, ndmin=2)
    if table.shape != (n_samples, n_features + 1):  # pragma: no cover - the files ship with the package
        raise DataError(f"builtin data set {key}: expected {n_samples} rows of {n_features + 1} values, "
                        f"got {table.shape}")
    x = table[:, :-1].astype(np.float32)
    y = table[:, -1].astype(np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y, tuple(class_names)


def load_dataset(name: str, *, as_images: bool = False) -> Dataset:
    """Load a data set that ships with tuinet: "iris", "wine", "breast_cancer" or "digits".

    Args:
        name: One of `DATASETS` (aliases such as "breast-cancer" work too).
        as_images: Image data sets only (digits): return `x` as `(n, h, w, 1)` instead of flat,
            with `image_shape` `(h, w, 1)` and a single feature (channel) name.

    Returns:
        A classification Dataset with `x` float32 `(n, features)` and `y` int64 `(n,)`.

    Raises:
        DataError: for an unknown name (with the valid names and a suggestion).
    """
    key = dataset_key(name)
    if key is None:
        choices = sorted(DATASETS) + sorted(DATASET_ALIASES)
        raise DataError(f"unknown data set {name!r}{did_you_mean(name, choices)}; "
                        f"choose from {', '.join(sorted(DATASETS))}")
    spec = _SPECS[key]
    x, y, class_names = _parse(key)
    x, image_shape, feature_names = x.copy(), spec.image_shape, list(spec.feature_names)
    if as_images:
        if image_shape is None:
            raise ConfigError(f"as_images: data set {key!r} is not made of images")
        x = x.reshape((len(x), *image_shape, 1))
        image_shape, feature_names = (*image_shape, 1), ["ink"]  # one channel
    return Dataset(name=key, x=x, y=y.copy(), task="classification", feature_names=feature_names,
                   class_names=list(class_names), description=spec.description, image_shape=image_shape,
                   source=f"builtin:{key}")

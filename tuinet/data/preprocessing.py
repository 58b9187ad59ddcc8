"""Feature scaling and one-hot encoding.

Scalers follow scikit-learn's `fit` / `transform` / `inverse_transform`. Statistics are taken per
entry of the last axis over every other axis, so `(n, features)` tables scale per feature and
`(n, steps, features)` sequences or `(n, h, w, c)` images scale per channel. Fit them on the
training split only and reuse them for validation, test and new data.
"""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError, DataError, NotBuiltError, ShapeError, unknown_name


class Scaler:
    """Base class: subclasses fill `_fit_stats` and the shift/scale pair used by `transform`."""

    name = "scaler"

    def __init__(self) -> None:
        self.offset_: np.ndarray | None = None  # subtracted first
        self.scale_: np.ndarray | None = None  # then divided by

    # -- API ---------------------------------------------------------------------------------
    def fit(self, x: np.ndarray) -> Scaler:
        """Learn the statistics of `x` `(n, ..., features)`; returns `self`."""
        x = self._as_float(x, fitting=True)
        self._fit_stats(x, tuple(range(x.ndim - 1)))
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scale `x` `(n, ..., features)` with the fitted statistics; float32 of the same shape."""
        x = self._as_float(x)
        return ((x - self.offset_) / self.scale_).astype(np.float32) + self._shift()

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        """`fit(x)` then `transform(x)`."""
        return self.fit(x).transform(x)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        """Undo `transform`: back to the original units, float32 of the same shape."""
        x = self._as_float(x)
        return ((x - self._shift()) * self.scale_ + self.offset_).astype(np.float32)

    @property
    def fitted(self) -> bool:
        """Whether `fit` has run (or the statistics came from a config)."""
        return self.offset_ is not None

    def get_config(self) -> dict[str, object]:
        """A JSON-friendly dict with the constructor arguments and the fitted statistics."""
        return {"name": self.name, **self._args(),
                "offset": None if self.offset_ is None else self.offset_.tolist(),
                "scale": None if self.scale_ is None else self.scale_.tolist()}

    @classmethod
    def from_config(cls, config: dict[str, object]) -> Scaler:
        """Rebuild a scaler, fitted statistics included, from `get_config()`."""
        config = dict(config)
        config.pop("name", None)
        offset, scale = config.pop("offset", None), config.pop("scale", None)
        scaler = cls(**config)
        if (offset is None) != (scale is None):
            raise ConfigError(f"{cls.__name__} config: expected both offset and scale, or neither")
        if offset is not None:
            scaler.offset_ = np.asarray(offset, dtype=np.float64)
            scaler.scale_ = np.asarray(scale, dtype=np.float64)
        return scaler

    def __repr__(self) -> str:
        state = f"{self.offset_.size} features" if self.fitted else "not fitted"
        args = ", ".join(f"{k}={v!r}" for k, v in self._args().items())
        return f"{type(self).__name__}({args}{', ' if args else ''}{state})"

    # -- helpers -----------------------------------------------------------------------------
    def _args(self) -> dict[str, object]:
        return {}

    def _shift(self) -> np.float32:
        return np.float32(0.0)

    def _fit_stats(self, x: np.ndarray, axes: tuple[int, ...]) -> None:  # pragma: no cover
        raise NotImplementedError

    def _as_float(self, x, *, fitting: bool = False) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise DataError(f"{type(self).__name__}: expected numbers, got dtype {x.dtype}")
        if x.ndim == 0:
            raise ShapeError(f"{type(self).__name__}: expected an array (n, ..., features), got a scalar")
        x = x.astype(np.float64)
        if fitting:
            if x.size == 0:
                raise DataError(f"{type(self).__name__}: cannot fit on an empty array of shape {x.shape}")
            return x
        if not self.fitted:
            raise NotBuiltError(f"{type(self).__name__} is not fitted; call fit(x_train) first")
        if x.shape[-1] != self.offset_.shape[-1]:
            raise ShapeError(f"{type(self).__name__}: fitted on {self.offset_.shape[-1]} features (last axis), "
                             f"got an array of shape {x.shape}")
        return x


class StandardScaler(Scaler):
    """Scale each feature to zero mean and unit variance: `(x - mean) / std`.

    A constant feature (std 0) is only centred (its std is taken as 1).
    """

    name = "standard"

    def _fit_stats(self, x, axes):
        self.offset_ = x.mean(axis=axes)
        std = x.std(axis=axes)
        self.scale_ = np.where(std > 0, std, 1.0)

    @property
    def mean_(self) -> np.ndarray | None:
        """Per-feature mean seen by `fit`."""
        return self.offset_

    @property
    def std_(self) -> np.ndarray | None:
        """Per-feature standard deviation seen by `fit` (1 for constant features)."""
        return self.scale_


class MinMaxScaler(Scaler):
    """Scale each feature linearly so that its training range maps onto `feature_range`.

    A constant feature (range 0) maps to the lower end of `feature_range`.

    Args:
        feature_range: `(low, high)` with `low < high`.
    """

    name = "minmax"

    def __init__(self, feature_range: tuple[float, float] = (0, 1)) -> None:
        super().__init__()
        try:
            low, high = (float(v) for v in feature_range)
        except (TypeError, ValueError):
            raise ConfigError(f"feature_range: expected two numbers (low, high), got {feature_range!r}") from None
        if not low < high:
            raise ConfigError(f"feature_range: expected low < high, got {feature_range!r}")
        self.feature_range = (low, high)

    def _args(self):
        return {"feature_range": list(self.feature_range)}

    def _fit_stats(self, x, axes):
        low, high = self.feature_range
        data_min, data_max = x.min(axis=axes), x.max(axis=axes)
        span = data_max - data_min
        self.offset_ = data_min
        self.scale_ = np.where(span > 0, span, 1.0) / (high - low)

    def _shift(self):
        return np.float32(self.feature_range[0])

    @property
    def data_min_(self) -> np.ndarray | None:
        """Per-feature minimum seen by `fit`."""
        return self.offset_


SCALERS: dict[str, type[Scaler]] = {"standard": StandardScaler, "minmax": MinMaxScaler}
_SCALER_ALIASES = {"standardize": "standard", "zscore": "standard", "min_max": "minmax", "normalize": "minmax"}


def get_scaler(name: str | Scaler | None) -> Scaler | None:
    """A new scaler by name: "standard", "minmax", or "none" (returns None). Instances pass through."""
    if name is None or isinstance(name, Scaler):
        return name
    if not isinstance(name, str):
        raise ConfigError(f"scaler: expected a name such as \"standard\", got {name!r}")
    key = name.strip().lower().replace("-", "_")
    key = _SCALER_ALIASES.get(key, key)
    if key in ("none", ""):
        return None
    if key not in SCALERS:
        raise unknown_name("scaler", name, [*SCALERS, "none"])
    return SCALERS[key]()


def scaler_from_config(config: dict[str, object]) -> Scaler:
    """Rebuild any scaler from its `get_config()` (which records its name)."""
    name = config.get("name")
    if name not in SCALERS:
        raise unknown_name("scaler", name, SCALERS)
    return SCALERS[name].from_config(config)


def one_hot(y: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode class ids.

    Args:
        y: Class ids `(n,)` (or `(n, 1)`), integers from 0.
        num_classes: Width of the encoding; `max(y) + 1` when None.

    Returns:
        float32 `(n, num_classes)` with a single 1 per row.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ShapeError(f"one_hot: expected class ids of shape (n,), got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            raise DataError("one_hot: expected integer class ids, got fractional or non-finite values")
    elif y.dtype.kind not in "iub":
        raise DataError(f"one_hot: expected integer class ids, got dtype {y.dtype}")
    ids = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(ids.max()) + 1 if len(ids) else 0
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 0:
        raise ConfigError(f"num_classes: expected a non-negative integer, got {num_classes!r}")
    if len(ids) and (ids.min() < 0 or ids.max() >= num_classes):
        bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
        raise DataError(f"one_hot: class id {bad} is outside 0..{num_classes - 1}")
    out = np.zeros((len(ids), int(num_classes)), dtype=np.float32)
    out[np.arange(len(ids)), ids] = 1.0
    return out

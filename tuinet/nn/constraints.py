"""Weight constraints MaxNorm, MinMaxNorm, NonNeg and UnitNorm with Keras 3's formulas.

A constraint projects a weight after every optimizer step (`w[...] = constraint(w)`, see
`Layer.add_weight(..., constraint=...)`), as `keras.constraints` does. The norm constraints
rescale each slice along `axis` by `desired / (epsilon + norm)`, epsilon being Keras's `1e-7`,
so a weight already inside the bounds still shrinks by that tiny factor, exactly as in Keras.
The weight keeps its dtype: a float32 kernel stays float32.
"""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError, unknown_name
from tuinet.nn import backend


def _number(cls: str, label: str, v, *, low: float = 0.0) -> float | int:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not low <= v < float("inf"):
        raise ConfigError(f"{cls}: {label} must be a number >= {low:g}, got {v!r}")
    return int(v) if isinstance(v, (int, np.integer)) else float(v)


def _axis(cls: str, axis):
    """An int or a list of ints (Keras's `axis`), JSON-friendly."""
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        return int(axis)
    if isinstance(axis, (list, tuple)) and axis and all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
        return [int(a) for a in axis]
    raise ConfigError(f"{cls}: axis must be an int or a list of ints such as [0, 1, 2], got {axis!r}")


def _weight(w) -> np.ndarray:
    w = np.asarray(w)
    return w if np.issubdtype(w.dtype, np.floating) else w.astype(backend.floatx())


class Constraint:
    """Base class: a stateless callable `w -> projected w` (the identity here).

    Subclass it and override `__call__` (and `get_config` when `__init__` takes arguments).
    """

    name = "constraint"

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Constraint:
        return cls(**config)

    def _norms(self, w: np.ndarray) -> np.ndarray:
        axis = self.axis if isinstance(self.axis, int) else tuple(self.axis)
        if w.ndim == 0:
            raise ConfigError(f"{type(self).__name__}: cannot take norms of a scalar weight")
        return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescale each slice along `axis` to a norm of at most `max_value`.

    Args:
        max_value: Largest norm of the incoming weights of each unit.
        axis: Axis (or list of axes) the norms are taken over: 0 for a Dense kernel
            `(input_dim, units)`, `[0, 1, 2]` for a Conv2D kernel `(rows, cols, in, filters)`.
    """

    name = "max_norm"

    def __init__(self, max_value: float = 2, axis: int | list[int] = 0) -> None:
        self.max_value = _number("MaxNorm", "max_value", max_value)
        self.axis = _axis("MaxNorm", axis)

    def __call__(self, w):
        w = _weight(w)
        norms = self._norms(w)
        desired = np.clip(norms, 0, self.max_value)
        return (w * (desired / (backend.epsilon() + norms))).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Set negative weights to zero."""

    name = "non_neg"

    def __call__(self, w):
        w = _weight(w)
        return np.maximum(w, 0).astype(w.dtype, copy=False)


class UnitNorm(Constraint):
    """Rescale each slice along `axis` to unit norm.

    Args:
        axis: Axis (or list of axes) the norms are taken over (see `MaxNorm`).
    """

    name = "unit_norm"

    def __init__(self, axis: int | list[int] = 0) -> None:
        self.axis = _axis("UnitNorm", axis)

    def __call__(self, w):
        w = _weight(w)
        return (w / (backend.epsilon() + self._norms(w))).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move each slice's norm towards `[min_value, max_value]`.

    The new norm is `rate * clip(norm, min_value, max_value) + (1 - rate) * norm`: `rate=1`
    enforces the bounds at once, a smaller rate approaches them step by step.

    Args:
        min_value: Smallest norm of the incoming weights of each unit.
        max_value: Largest norm of the incoming weights of each unit.
        rate: How far each step moves the norm into the bounds, in `[0, 1]`.
        axis: Axis (or list of axes) the norms are taken over (see `MaxNorm`).
    """

    name = "min_max_norm"

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0,
                 axis: int | list[int] = 0) -> None:
        self.min_value = _number("MinMaxNorm", "min_value", min_value)
        self.max_value = _number("MinMaxNorm", "max_value", max_value)
        if self.max_value < self.min_value:
            raise ConfigError(f"MinMaxNorm: max_value ({max_value!r}) must be >= min_value ({min_value!r})")
        self.rate = _number("MinMaxNorm", "rate", rate)
        if self.rate > 1:
            raise ConfigError(f"MinMaxNorm: rate must be in [0, 1], got {rate!r}")
        self.axis = _axis("MinMaxNorm", axis)

    def __call__(self, w):
        w = _weight(w)
        norms = self._norms(w)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return (w * (desired / (backend.epsilon() + norms))).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


CONSTRAINTS: dict[str, type[Constraint]] = {
    "max_norm": MaxNorm, "maxnorm": MaxNorm,
    "min_max_norm": MinMaxNorm, "minmaxnorm": MinMaxNorm,
    "non_neg": NonNeg, "nonneg": NonNeg,
    "unit_norm": UnitNorm, "unitnorm": UnitNorm,
}
"""Names Keras accepts (`"max_norm"`, `"MaxNorm"`...), looked up in lower case."""

max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm  # keras's aliases


def _lookup(name) -> type[Constraint]:
    if not isinstance(name, str) or name.lower() not in CONSTRAINTS:
        raise unknown_name("constraint", name, ["max_norm", "min_max_norm", "non_neg", "unit_norm"])
    return CONSTRAINTS[name.lower()]


def get(spec) -> Constraint | None:
    """A constraint from None, a name ("max_norm", "MaxNorm"), an instance, a Constraint class
    or a `{"class_name", "config"}` dict (Keras's form; `"name"` works in place of `"class_name"`)."""
    if spec is None or isinstance(spec, Constraint):
        return spec
    if isinstance(spec, type) and issubclass(spec, Constraint):
        return spec()
    if isinstance(spec, dict):
        config = spec.get("config") or {}
        if not isinstance(config, dict):
            raise ConfigError(f"constraint config must be a dict, got {config!r}")
        cls = _lookup(spec.get("class_name", spec.get("name")))
        try:
            return cls.from_config(dict(config))
        except TypeError as exc:
            raise ConfigError(f"{cls.__name__}: bad config {config!r} ({exc})") from None
    return _lookup(spec)()


def serialize(constraint: Constraint | None) -> dict | None:
    """`{"class_name": "MaxNorm", "config": {...}}`, or None."""
    if constraint is None:
        return None
    return {"class_name": type(constraint).__name__, "config": constraint.get_config()}


def deserialize(config) -> Constraint | None:
    return get(config)

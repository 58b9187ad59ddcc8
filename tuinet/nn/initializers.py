"""Weight initializers by their Keras names, with Keras 3 defaults.

An initializer is called as `init(shape, rng, dtype)` and returns a new array. Randomness only
comes from the `np.random.Generator` passed in, so a seeded model is repeatable bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from tuinet.errors import ConfigError, unknown_name
from tuinet.nn import backend


def compute_fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """Keras's fan-in / fan-out: conv kernels `(..., in, out)` count the receptive field."""
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    name = "initializer"

    def __call__(self, shape, rng: np.random.Generator, dtype=None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


class Zeros(Initializer):
    name = "zeros"

    def __call__(self, shape, rng, dtype=None):
        return np.zeros(shape, dtype=dtype or backend.floatx())


class Ones(Initializer):
    name = "ones"

    def __call__(self, shape, rng, dtype=None):
        return np.ones(shape, dtype=dtype or backend.floatx())


class Constant(Initializer):
    name = "constant"

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def __call__(self, shape, rng, dtype=None):
        return np.full(shape, self.value, dtype=dtype or backend.floatx())

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    name = "random_normal"

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def __call__(self, shape, rng, dtype=None):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        return rng.normal(self.mean, self.stddev, size=shape).astype(dtype or backend.floatx())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    name = "random_uniform"

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        self.minval, self.maxval, self.seed = float(minval), float(maxval), seed

    def __call__(self, shape, rng, dtype=None):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        return rng.uniform(self.minval, self.maxval, size=shape).astype(dtype or backend.floatx())

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_normal(rng: np.random.Generator, stddev: float, shape) -> np.ndarray:
    """Normal samples redrawn until they lie within two standard deviations."""
    out = rng.normal(0.0, stddev, size=shape)
    bad = np.abs(out) > 2 * stddev
    while bad.any():
        out[bad] = rng.normal(0.0, stddev, size=int(bad.sum()))
        bad = np.abs(out) > 2 * stddev
    return out


class TruncatedNormal(Initializer):
    name = "truncated_normal"

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def __call__(self, shape, rng, dtype=None):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        return (self.mean + _truncated_normal(rng, self.stddev, shape)).astype(dtype or backend.floatx())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: the base of the Glorot, He and LeCun families."""

    name = "variance_scaling"

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None) -> None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)) or not scale > 0:
            raise ConfigError(f"VarianceScaling: scale must be a positive number, got {scale!r}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ConfigError(f"VarianceScaling: mode must be fan_in, fan_out or fan_avg, got {mode!r}")
        # Keras lower-cases the distribution and reads "normal" as "truncated_normal".
        distribution = distribution.lower() if isinstance(distribution, str) else distribution
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ConfigError("VarianceScaling: distribution must be truncated_normal, untruncated_normal "
                              f"or uniform, got {distribution!r}")
        self.scale, self.mode, self.distribution, self.seed = float(scale), mode, distribution, seed

    def __call__(self, shape, rng, dtype=None):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        fan_in, fan_out = compute_fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            out = _truncated_normal(rng, math.sqrt(scale) / 0.87962566103423978, shape)
        elif self.distribution == "untruncated_normal":
            out = rng.normal(0.0, math.sqrt(scale), size=shape)
        else:
            limit = math.sqrt(3.0 * scale)
            out = rng.uniform(-limit, limit, size=shape)
        return out.astype(dtype or backend.floatx())

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


def _family(name_: str, scale: float, mode: str, distribution: str):
    class _Init(VarianceScaling):
        name = name_

        def __init__(self, seed: int | None = None) -> None:
            super().__init__(scale, mode, distribution, seed)

        def get_config(self):
            return {"seed": self.seed}

    _Init.__name__ = _Init.__qualname__ = "".join(p.capitalize() for p in name_.split("_"))
    return _Init


GlorotUniform = _family("glorot_uniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _family("glorot_normal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _family("he_normal", 2.0, "fan_in", "truncated_normal")
HeUniform = _family("he_uniform", 2.0, "fan_in", "uniform")
LecunNormal = _family("lecun_normal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _family("lecun_uniform", 1.0, "fan_in", "uniform")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal matrix, times `gain`."""

    name = "orthogonal"

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        self.gain, self.seed = float(gain), seed

    def __call__(self, shape, rng, dtype=None):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        if len(shape) < 2:
            raise ConfigError(f"orthogonal initializer needs a shape of rank >= 2, got {tuple(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype or backend.floatx())

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


INITIALIZERS: dict[str, type[Initializer]] = {
    cls.name: cls
    for cls in (Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
                GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal)
}
ALIASES = {"uniform": "random_uniform", "normal": "random_normal", "zero": "zeros", "one": "ones"}


def names() -> list[str]:
    return sorted(INITIALIZERS)


def get(spec) -> Initializer:
    """An initializer from a Keras name, an instance or a `{"name", "config"}` dict."""
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, dict):
        return get(spec.get("name")).__class__(**spec.get("config", {}))
    if not isinstance(spec, str):
        raise ConfigError(f"initializer must be a name such as 'glorot_uniform', got {spec!r}")
    key = ALIASES.get(spec.lower(), spec.lower())
    if key not in INITIALIZERS:
        raise unknown_name("initializer", spec, INITIALIZERS)
    return INITIALIZERS[key]()


def serialize(init: Initializer) -> str | dict:
    cfg = init.get_config()
    if cfg == type(init)().get_config():
        return init.name
    return {"name": init.name, "config": cfg}

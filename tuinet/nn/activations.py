"""Activation functions by their Keras names.

An activation maps pre-activations `z` to outputs `a = f(z)`. `gradient(z)` is the
elementwise derivative; `backward(z, a, grad_a)` returns `dL/dz` and is what layers call, so
that softmax (whose Jacobian is not diagonal) fits the same interface.
"""

from __future__ import annotations

import math

import numpy as np

from tuinet.errors import ConfigError, unknown_name

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_erf_exact = np.frompyfunc(math.erf, 1, 1)


def _erfc_nonneg(a: np.ndarray) -> np.ndarray:
    """erfc(a) for a >= 0, vectorised (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7)."""
    t = 1.0 / (1.0 + 0.5 * a)
    poly = (-1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (
        0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
    return t * np.exp(-a * a + poly)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Phi(z) = (1 + erf(z / sqrt 2)) / 2: exact (math.erf) in float64, else a vectorised fit
    accurate to float32 in relative terms, also in the far tails."""
    if z.dtype == np.float64:
        return 0.5 * (1.0 + _erf_exact(z / math.sqrt(2)).astype(np.float64))
    u = z.astype(np.float64) / math.sqrt(2)
    half = 0.5 * _erfc_nonneg(np.abs(u))
    return np.where(u < 0, half, 1.0 - half).astype(z.dtype, copy=False)


class Activation:
    """Base class: subclasses set `name` and implement `__call__` and `gradient`."""

    name = "activation"

    def __call__(self, z: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def gradient(self, z: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        """Return `dL/dz` given the cached input `z`, output `a` and `dL/da`."""
        return grad_a * self.gradient(z)

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(self.name)


class Linear(Activation):
    name = "linear"

    def __call__(self, z):
        return z

    def gradient(self, z):
        return np.ones_like(z)

    def backward(self, z, a, grad_a):
        return grad_a


class ReLU(Activation):
    name = "relu"

    def __call__(self, z):
        return np.maximum(z, 0, dtype=z.dtype)

    def gradient(self, z):
        return (z > 0).astype(z.dtype)

    def backward(self, z, a, grad_a):
        return np.multiply(grad_a, z > 0)  # far faster than np.where on random masks


class Sigmoid(Activation):
    name = "sigmoid"

    def __call__(self, z):
        # 0.5 * (1 + tanh(z / 2)) equals 1 / (1 + exp(-z)) and never overflows.
        s = np.tanh(z * 0.5)
        s *= 0.5
        s += 0.5
        return s

    def gradient(self, z):
        s = self(z)
        return s * (1 - s)

    def backward(self, z, a, grad_a):
        return grad_a * a * (1 - a)


class Tanh(Activation):
    name = "tanh"

    def __call__(self, z):
        return np.tanh(z)

    def gradient(self, z):
        return 1 - np.tanh(z) ** 2

    def backward(self, z, a, grad_a):
        return grad_a * (1 - a * a)


class Softmax(Activation):
    """Softmax over the last axis."""

    name = "softmax"

    def __call__(self, z):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        e /= e.sum(axis=-1, keepdims=True)
        return e

    def gradient(self, z):
        raise ConfigError("softmax has no elementwise derivative; use backward(z, a, grad_a)")

    def backward(self, z, a, grad_a):
        return a * (grad_a - (grad_a * a).sum(axis=-1, keepdims=True))


class LeakyReLU(Activation):
    """`x` for `x >= 0`, `negative_slope * x` otherwise (Keras's function default 0.2)."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.2) -> None:
        self.negative_slope = float(negative_slope)

    def __call__(self, z):
        return np.where(z >= 0, z, self.negative_slope * z).astype(z.dtype, copy=False)

    def gradient(self, z):
        return np.where(z >= 0, 1.0, self.negative_slope).astype(z.dtype, copy=False)

    def get_config(self):
        return {"negative_slope": self.negative_slope}


class ELU(Activation):
    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = float(alpha)

    def __call__(self, z):
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0))).astype(z.dtype, copy=False)

    def gradient(self, z):
        return np.where(z > 0, 1.0, self.alpha * np.exp(np.minimum(z, 0))).astype(z.dtype, copy=False)

    def get_config(self):
        return {"alpha": self.alpha}


class SELU(Activation):
    name = "selu"

    def __call__(self, z):
        return (_SELU_SCALE * np.where(z > 0, z, _SELU_ALPHA * np.expm1(np.minimum(z, 0)))).astype(z.dtype, copy=False)

    def gradient(self, z):
        return (_SELU_SCALE * np.where(z > 0, 1.0, _SELU_ALPHA * np.exp(np.minimum(z, 0)))).astype(z.dtype, copy=False)


class GELU(Activation):
    """Gaussian error linear unit; exact (erf) by default as in Keras 3."""

    name = "gelu"

    def __init__(self, approximate: bool = False) -> None:
        self.approximate = bool(approximate)

    def __call__(self, z):
        if self.approximate:
            c = math.sqrt(2 / math.pi)
            return (0.5 * z * (1 + np.tanh(c * (z + 0.044715 * z ** 3)))).astype(z.dtype, copy=False)
        return (z * _normal_cdf(z)).astype(z.dtype, copy=False)

    def gradient(self, z):
        if self.approximate:
            c = math.sqrt(2 / math.pi)
            t = np.tanh(c * (z + 0.044715 * z ** 3))
            return (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * c * (1 + 3 * 0.044715 * z * z)).astype(z.dtype, copy=False)
        cdf = _normal_cdf(z)
        pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        return (cdf + z * pdf).astype(z.dtype, copy=False)

    def get_config(self):
        return {"approximate": self.approximate}


class SiLU(Activation):
    """`x * sigmoid(x)`, also known as swish."""

    name = "silu"

    def __call__(self, z):
        return z * _SIGMOID(z)

    def gradient(self, z):
        s = _SIGMOID(z)
        return s * (1 + z * (1 - s))


class Softplus(Activation):
    name = "softplus"

    def __call__(self, z):
        return np.logaddexp(0, z).astype(z.dtype, copy=False)

    def gradient(self, z):
        return _SIGMOID(z)


class Softsign(Activation):
    name = "softsign"

    def __call__(self, z):
        return z / (1 + np.abs(z))

    def gradient(self, z):
        return 1 / (1 + np.abs(z)) ** 2


class HardSigmoid(Activation):
    """Keras 3's `relu6(x + 3) / 6`."""

    name = "hard_sigmoid"

    def __call__(self, z):
        return np.clip(z / 6 + 0.5, 0, 1).astype(z.dtype, copy=False)

    def gradient(self, z):
        return ((z > -3) & (z < 3)).astype(z.dtype) / 6


class ReLU6(Activation):
    name = "relu6"

    def __call__(self, z):
        return np.clip(z, 0, 6).astype(z.dtype, copy=False)

    def gradient(self, z):
        return ((z > 0) & (z < 6)).astype(z.dtype)


class Exponential(Activation):
    name = "exponential"

    def __call__(self, z):
        return np.exp(z)

    def gradient(self, z):
        return np.exp(z)

    def backward(self, z, a, grad_a):
        return grad_a * a


_SIGMOID = Sigmoid()

ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (Linear, ReLU, Sigmoid, Tanh, Softmax, LeakyReLU, ELU, SELU, GELU, SiLU, Softplus,
                Softsign, HardSigmoid, ReLU6, Exponential)
}
ALIASES = {"swish": "silu", "none": "linear", "leakyrelu": "leaky_relu"}


def names() -> list[str]:
    """Every activation name, for dropdowns and error messages."""
    return sorted(ACTIVATIONS)


def get(spec: str | Activation | None) -> Activation:
    """Return an activation from a Keras name, an instance or a `{"name", "config"}` dict."""
    if spec is None:
        return Linear()
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, dict):
        return get(spec.get("name")).__class__(**spec.get("config", {}))
    if callable(spec) and getattr(spec, "_activation_name", None):  # tuinet.activations.relu & co.
        return get(spec._activation_name)
    if callable(spec):
        raise ConfigError(f"activation {getattr(spec, '__name__', spec)!r}: a custom activation function needs "
                          "automatic differentiation, which tuinet does not have; use a name such as 'relu' or "
                          "one of tuinet.activations' functions")
    if not isinstance(spec, str):
        raise ConfigError(f"activation must be a name such as 'relu', got {spec!r}")
    key = spec.lower()
    key = ALIASES.get(key, key)
    if key not in ACTIVATIONS:
        raise unknown_name("activation", spec, list(ACTIVATIONS) + ["swish"])
    return ACTIVATIONS[key]()


def serialize(act: Activation) -> str | dict:
    """A name when the activation has default settings, else `{"name", "config"}`."""
    cfg = act.get_config()
    if cfg == type(act)().get_config():
        return act.name
    return {"name": act.name, "config": cfg}


# -- Keras's activation functions (`keras.activations.relu(x)`), also usable as `activation=` --------
def _function(name: str, make):
    def apply(x, *args, **kwargs):
        z = np.asarray(x)
        if z.dtype.kind != "f":
            z = z.astype(np.float32)
        return make(*args, **kwargs)(z)

    apply.__name__ = apply.__qualname__ = name
    apply._activation_name = name
    apply.__doc__ = f"Keras's `activations.{name}`: applies it to an array; as `activation=` it names the {name} activation."
    return apply


def _relu(negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ReLU()

    def f(z):
        out = np.where(z >= threshold, z, negative_slope * (z - threshold))
        return np.minimum(out, max_value) if max_value is not None else out
    return f


def _softmax(axis=-1):
    def f(z):
        e = np.exp(z - z.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)
    return f


relu = _function("relu", _relu)
softmax = _function("softmax", _softmax)
sigmoid = _function("sigmoid", Sigmoid)
tanh = _function("tanh", Tanh)
leaky_relu = _function("leaky_relu", lambda negative_slope=0.2: LeakyReLU(negative_slope))
elu = _function("elu", lambda alpha=1.0: ELU(alpha))
selu = _function("selu", SELU)
gelu = _function("gelu", lambda approximate=False: GELU(approximate))
silu = _function("silu", SiLU)
swish = _function("swish", SiLU)
softplus = _function("softplus", Softplus)
softsign = _function("softsign", Softsign)
hard_sigmoid = _function("hard_sigmoid", HardSigmoid)
relu6 = _function("relu6", ReLU6)
exponential = _function("exponential", Exponential)
linear = _function("linear", Linear)

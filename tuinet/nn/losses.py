"""Loss functions by their Keras names, each with its own gradient.

Contract (the model relies on it):

- `loss(y_true, y_pred) -> float` is Keras's `"sum_over_batch_size"` reduction: the mean of the
  per-sample losses `loss.call(y_true, y_pred)` over every sample (and every time step of a
  sequence output). `gradient` is dL/dy_pred of that mean, with the shape and dtype of `y_pred`;
  `value_and_gradient` shares the work and is what the model calls once per batch.
- Per-sample losses follow Keras: a mean over the last axis for the elementwise losses (mse, mae,
  hinge, binary_crossentropy...), a sum over the class axis for the distribution losses
  (categorical_crossentropy, kl_divergence, cosine_similarity, categorical_hinge).
- `y_true` is compared with `y_pred` after Keras's `squeeze_or_expand_to_same_rank`: labels of
  shape `(N,)` fit outputs `(N, 1)` and the other way round. Shapes that still differ raise
  `ShapeError` with a hint (Keras would sometimes broadcast them silently).
- Where Keras clips (probabilities to `[epsilon, 1 - epsilon]`, `maximum(y, epsilon)`), the
  gradient is the gradient of the clipped function: zero where the clip is active.
- `logits_twin("softmax" | "sigmoid")` gives the twin of a probability cross-entropy that takes the
  pre-activation `z` instead: the model feeds it `z` and gets dL/dz in one step. The twin keeps
  Keras's clip (torch, jax and numpy backends): the same value as the loss on `activation(z)` and,
  by the chain rule, `dL/dz = (p * sum(y * keep) - y * keep) / N`, where `keep` is 0 for an entry
  whose probability was clipped. So a saturated wrong output (p < 1e-7) reports `-log(1e-7)` =
  16.118 and gets no gradient, as in Keras. A loss built with `from_logits=True` has no twin: it
  always takes the stable, unclipped path.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from tuinet.errors import ConfigError, ShapeError, did_you_mean, unknown_name
from tuinet.nn import activations, backend

_LOG2 = math.log(2.0)
_SIGMOID = activations.Sigmoid()


# -- helpers -------------------------------------------------------------------------------------

def _weigh(name: str, values: np.ndarray, g, sample_weight):
    """Per-sample losses (and their gradient) scaled by `sample_weight`, as Keras's
    `reduce_weighted_values`: the reduction still divides by the number of loss values, not by
    the sum of the weights. Weights are one per sample (or per loss value, e.g. per time step)."""
    w = np.asarray(sample_weight, dtype=values.dtype)
    n = values.shape[0] if values.ndim else 1
    if w.ndim == 0:
        w = np.full(n, w, dtype=values.dtype)
    if w.shape != values.shape:
        if w.size != n:
            raise ShapeError(f"{name}: got sample_weight of shape {w.shape} for {n} samples (loss values of "
                             f"shape {values.shape}); give one weight per sample")
        w = w.reshape((n,) + (1,) * (values.ndim - 1))
    if g is not None:
        if g.shape[:w.ndim] == w.shape:
            g = g * w.reshape(w.shape + (1,) * (g.ndim - w.ndim))
        else:  # the gradient of flattened steps (e.g. sparse labels): one weight per row
            g = g * w.reshape((-1,) + (1,) * (g.ndim - 1))
    return values * w, g


def _clipping_twin(twin: Loss) -> Loss:
    """Mark a `from_logits=True` copy as a logits twin that keeps the probability loss's clip."""
    twin.clips_probabilities = True
    return twin


def _fits(a: tuple, b: tuple) -> bool:
    """Equal shapes, where None (an unknown batch size) matches anything."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _fits_up_to_trailing_one(yt: tuple, yp: tuple) -> bool:
    """Keras's squeeze_or_expand_to_same_rank: equal shapes, or equal but for a trailing 1."""
    return _fits(yt, yp) or _fits(yt + (1,), yp) or _fits(yt, yp + (1,))


def _check_bool(loss: str, arg: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{loss}: {arg} must be True or False, got {value!r}")
    return bool(value)


def _check_fraction(loss: str, arg: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not 0 <= value <= 1:
        raise ConfigError(f"{loss}: {arg} must be a number in [0, 1], got {value!r}")
    return float(value)


def _check_axis(loss: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{loss}: axis must be an integer such as -1, got {value!r}")
    return int(value)


def _as_pred(loss: str, y_pred) -> np.ndarray:
    yp = np.asarray(y_pred)
    if yp.dtype.kind != "f":
        yp = yp.astype(backend.floatx())
    if yp.ndim == 0:
        raise ShapeError(f"{loss}: y_pred must have a batch axis, got a scalar")
    if yp.size == 0:
        raise ShapeError(f"{loss}: got an empty batch, y_pred has shape {yp.shape}")
    return yp


class Loss:
    """Base class: subclasses set `name` and implement `_loss`.

    `_loss(yt, yp, grad)` receives aligned arrays (`yp` at least 2-D, `yt` of the same shape and
    dtype for the elementwise losses) and returns `(values, g)`: the per-sample losses and, when
    `grad` is true, the gradient of `mean(values)` with respect to `yp` (else None).
    """

    name = "loss"
    # True only on a logits twin (see `logits_twin`): it takes logits but clips the probabilities
    # they give as the probability loss does.
    clips_probabilities = False

    # -- public API -----------------------------------------------------------------------------
    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        yp = _as_pred(self.name, y_pred)
        yt, ypv = self._align(y_true, yp)
        values, _ = self._loss(yt, ypv, False)
        if sample_weight is not None:
            values, _ = _weigh(self.name, values, None, sample_weight)
        return self._reduce(values, yt)

    def gradient(self, y_true, y_pred) -> np.ndarray:
        return self.value_and_gradient(y_true, y_pred)[1]

    def value_and_gradient(self, y_true, y_pred, sample_weight=None) -> tuple[float, np.ndarray]:
        yp = _as_pred(self.name, y_pred)
        yt, ypv = self._align(y_true, yp)
        values, g = self._loss(yt, ypv, True)
        if sample_weight is not None:
            values, g = _weigh(self.name, values, g, sample_weight)
        return self._reduce(values, yt), g.reshape(yp.shape)

    def call(self, y_true, y_pred) -> np.ndarray:
        """Unreduced per-sample losses, as Keras's `Loss.call` (what metrics average)."""
        yp = _as_pred(self.name, y_pred)
        yt, ypv = self._align(y_true, yp)
        return self._loss(yt, ypv, False)[0]

    def logits_twin(self, activation_name: str) -> Loss | None:
        """This loss fused with the activation: the same value and gradient, taking its input `z`.

        None when this loss cannot fuse with `activation_name`.
        """
        return None

    def check_shapes(self, y_true_shape, y_pred_shape) -> None:
        """Raise ShapeError when labels of `y_true_shape` cannot fit outputs of `y_pred_shape`.

        Both shapes include the batch axis, which may be None.
        """
        yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
        if not yp:
            raise ShapeError(f"{self.name}: y_pred must have a batch axis, got shape {yp}")
        ypv = yp if len(yp) >= 2 else yp + (1,)
        if not _fits_up_to_trailing_one(yt, ypv):
            raise ShapeError(self._mismatch_message(yt, yp))

    def check_labels(self, y_true: np.ndarray, y_pred_shape) -> None:
        """Raise ShapeError for label values this loss cannot take (checked once, before training).

        `y_true` already fits `y_pred_shape` (see `check_shapes`). The default takes any finite
        value; the cross-entropies check their class ids and 0/1 labels.
        """

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, cfg: dict) -> Loss:
        """Rebuild from `get_config()`; also accepts Keras configs (name, reduction, dtype keys)."""
        if not isinstance(cfg, dict):
            raise ConfigError(f"{cls.name}: config must be a dict, got {cfg!r}")
        cfg = dict(cfg)
        cfg.pop("name", None)
        cfg.pop("dtype", None)
        reduction = cfg.pop("reduction", "sum_over_batch_size")
        if reduction not in ("sum_over_batch_size", "mean"):
            raise ConfigError(f"{cls.name}: only reduction 'sum_over_batch_size' is supported, "
                              f"got {reduction!r}")
        allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        for key in cfg:
            if key not in allowed:
                choices = ", ".join(allowed) if allowed else "none"
                raise ConfigError(f"{cls.name}: unknown setting {key!r}{did_you_mean(key, allowed)}; "
                                  f"settings: {choices}")
        return cls(**cfg)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(self.name)

    # -- internals ------------------------------------------------------------------------------
    def _align(self, y_true, yp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Elementwise losses: `y_true` reshaped and cast to `yp`, `yp` viewed as at least 2-D."""
        yt = np.asarray(y_true)
        ypv = yp if yp.ndim >= 2 else yp.reshape(-1, 1)
        if yt.shape != ypv.shape:
            self.check_shapes(yt.shape, yp.shape)
            yt = yt.reshape(ypv.shape)
        return yt.astype(yp.dtype, copy=False), ypv

    def _reduce(self, values: np.ndarray, yt: np.ndarray) -> float:
        return float(values.mean())

    def _loss(self, yt, yp, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    def _mismatch_message(self, yt: tuple, yp: tuple) -> str:
        msg = (f"{self.name}: labels of shape {yt} do not fit outputs of shape {yp}; "
               f"{self.name} compares them element by element, so y_true needs the shape of y_pred")
        if len(yt) >= 1 and yt[0] is not None and yp[0] is not None and yt[0] != yp[0]:
            return msg + f" (y_true has {yt[0]} samples, y_pred has {yp[0]})"
        looks_sparse = len(yt) == len(yp) - 1 or (len(yt) == len(yp) and yt[-1] == 1)
        if looks_sparse and len(yp) >= 2 and yp[-1] not in (None, 1):
            return msg + (". The labels look like class ids: use sparse_categorical_crossentropy "
                          "with a softmax output, or one-hot encode them")
        if len(yt) == len(yp) and len(yp) >= 2:
            return msg + (f" (the last layer has {yp[-1]} units but the labels have {yt[-1]} "
                          "values per sample)")
        return msg


# -- elementwise losses (mean over the last axis) -----------------------------------------------

class MeanSquaredError(Loss):
    """`mean(square(y_true - y_pred), axis=-1)`."""

    name = "mean_squared_error"

    def _loss(self, yt, yp, grad):
        d = yp - yt
        values = (d * d).mean(axis=-1)
        return values, (d * (2.0 / d.size) if grad else None)


class MeanAbsoluteError(Loss):
    """`mean(abs(y_true - y_pred), axis=-1)`; the gradient at a zero error is 0."""

    name = "mean_absolute_error"

    def _loss(self, yt, yp, grad):
        d = yp - yt
        values = np.abs(d).mean(axis=-1)
        return values, (np.sign(d) * (1.0 / d.size) if grad else None)


class MeanAbsolutePercentageError(Loss):
    """`100 * mean(abs((y_true - y_pred) / maximum(abs(y_true), epsilon)), axis=-1)`."""

    name = "mean_absolute_percentage_error"

    def _loss(self, yt, yp, grad):
        denom = np.maximum(np.abs(yt), backend.epsilon())
        d = yp - yt
        values = (np.abs(d) / denom).mean(axis=-1) * 100.0
        return values, (np.sign(d) / denom * (100.0 / d.size) if grad else None)


class MeanSquaredLogarithmicError(Loss):
    """`mean(square(log(maximum(y_pred, eps) + 1) - log(maximum(y_true, eps) + 1)), axis=-1)`."""

    name = "mean_squared_logarithmic_error"

    def _loss(self, yt, yp, grad):
        eps = backend.epsilon()
        ypc = np.maximum(yp, eps)
        d = np.log1p(ypc) - np.log1p(np.maximum(yt, eps))
        values = (d * d).mean(axis=-1)
        if not grad:
            return values, None
        g = d / (ypc + 1.0)
        g *= yp >= eps
        g *= 2.0 / d.size
        return values, g


class RootMeanSquaredError(MeanSquaredError):
    """`sqrt(mean(square(y_true - y_pred)))` over the whole batch.

    Keras 3 has RMSE only as a metric; as a loss tuinet takes the square root of the batch mean
    squared error. The per-sample values (`call`) are the squared errors' means, as for mse.
    The gradient at a zero error is 0.
    """

    name = "root_mean_squared_error"

    def _reduce(self, values, yt):
        return math.sqrt(float(values.mean()))

    def value_and_gradient(self, y_true, y_pred, sample_weight=None):
        yp = _as_pred(self.name, y_pred)
        yt, ypv = self._align(y_true, yp)
        values, g = self._loss(yt, ypv, True)
        if sample_weight is not None:
            values, g = _weigh(self.name, values, g, sample_weight)
        value = self._reduce(values, yt)
        g *= 0.5 / value if value > 0 else 0.0
        return value, g.reshape(yp.shape)


def _hinge_labels(yt: np.ndarray) -> np.ndarray:
    """Keras converts labels that are all 0 or 1 to -1 / 1."""
    if ((yt == 0) | (yt == 1)).all():
        return 2.0 * yt - 1.0
    return yt


class Hinge(Loss):
    """`mean(maximum(1 - y_true * y_pred, 0), axis=-1)`; 0/1 labels become -1/1."""

    name = "hinge"

    def _loss(self, yt, yp, grad):
        yt = _hinge_labels(yt)
        margin = 1.0 - yt * yp
        values = np.maximum(margin, 0.0).mean(axis=-1)
        if not grad:
            return values, None
        g = yt * (margin > 0)
        g *= -1.0 / yp.size
        return values, g


class SquaredHinge(Loss):
    """`mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)`; 0/1 labels become -1/1."""

    name = "squared_hinge"

    def _loss(self, yt, yp, grad):
        yt = _hinge_labels(yt)
        h = np.maximum(1.0 - yt * yp, 0.0)
        values = (h * h).mean(axis=-1)
        return values, (yt * h * (-2.0 / yp.size) if grad else None)


class LogCosh(Loss):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, computed as `x + softplus(-2x) - log(2)`."""

    name = "log_cosh"

    def _loss(self, yt, yp, grad):
        x = yp - yt
        values = (x + np.logaddexp(0.0, -2.0 * x) - _LOG2).mean(axis=-1)
        return values, (np.tanh(x) * (1.0 / x.size) if grad else None)


class Huber(Loss):
    """`0.5 * x**2` for `|x| <= delta`, else `delta * |x| - 0.5 * delta**2`; mean over the last axis.

    Args:
        delta: Where the loss turns from quadratic to linear.
    """

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        if isinstance(delta, bool) or not isinstance(delta, (int, float, np.floating, np.integer)) \
                or not delta > 0:
            raise ConfigError(f"huber: delta must be a positive number, got {delta!r}")
        self.delta = float(delta)

    def _loss(self, yt, yp, grad):
        delta = self.delta
        x = yp - yt
        a = np.abs(x)
        values = np.where(a <= delta, 0.5 * x * x, delta * a - 0.5 * delta * delta).mean(axis=-1)
        return values, (np.clip(x, -delta, delta) * (1.0 / x.size) if grad else None)

    def get_config(self):
        return {"delta": self.delta}


class Poisson(Loss):
    """`mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`."""

    name = "poisson"

    def _loss(self, yt, yp, grad):
        shifted = yp + backend.epsilon()
        values = (yp - yt * np.log(shifted)).mean(axis=-1)
        if not grad:
            return values, None
        g = 1.0 - yt / shifted
        g *= 1.0 / yp.size
        return values, g


class BinaryCrossentropy(Loss):
    """Binary cross-entropy, mean over `axis`.

    With probabilities (`from_logits=False`) Keras clips `y_pred` to `[eps, 1 - eps]`; with
    logits it uses the stable `max(z, 0) - z * y + log1p(exp(-|z|))`.

    Args:
        from_logits: Whether `y_pred` holds logits rather than probabilities.
        label_smoothing: In [0, 1]; labels become `y * (1 - s) + 0.5 * s`.
        axis: The axis the mean is taken over.
    """

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1) -> None:
        self.from_logits = _check_bool(self.name, "from_logits", from_logits)
        self.label_smoothing = _check_fraction(self.name, "label_smoothing", label_smoothing)
        self.axis = _check_axis(self.name, axis)

    def logits_twin(self, activation_name):
        if not self.from_logits and str(activation_name).lower() == "sigmoid":
            return _clipping_twin(BinaryCrossentropy(True, self.label_smoothing, self.axis))
        return None

    def check_labels(self, y_true, y_pred_shape):
        y = np.asarray(y_true)
        if y.size and (y.min() < 0 or y.max() > 1):
            bad = y.min() if y.min() < 0 else y.max()
            hint = ""
            if np.all(y == np.round(y)) and y.min() >= 0:
                classes = int(y.max()) + 1
                hint = (f"; for {classes} classes use sparse_categorical_crossentropy with a {classes}-unit "
                        "softmax output")
            raise ShapeError(f"{self.name}: labels must be 0 or 1 (or probabilities between 0 and 1), "
                             f"got {float(bad):g}{hint}")

    def _mismatch_message(self, yt, yp):
        if len(yp) >= 2 and yp[-1] == 1 and len(yt) == len(yp) and yt[-1] not in (None, 1):
            return (f"binary_crossentropy: labels of shape {yt} do not fit outputs of shape {yp}: "
                    f"the model has one output per sample but the labels have {yt[-1]} values; for "
                    f"one-hot labels use categorical_crossentropy with a {yt[-1]}-unit softmax layer")
        return super()._mismatch_message(yt, yp)

    def _loss(self, yt, yp, grad):
        if self.label_smoothing:
            yt = yt * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        axis = self.axis
        scale = 1.0 / yp.size
        if self.clips_probabilities:  # logits twin: Keras's clipped value, dL/dz = (p - y) * keep
            eps = backend.epsilon()
            # 1 / (1 + exp(-z)) without overflow, exact to the last bit near 0 as well (where
            # 0.5 + 0.5 * tanh(z / 2) is off by up to 60%, enough to move the clip's edge).
            e = np.exp(-np.abs(yp))
            p = np.where(yp >= 0, 1.0, e)
            p /= 1.0 + e
            pc = np.clip(p, eps, 1.0 - eps)
            values = -(yt * np.log(pc) + (1.0 - yt) * np.log1p(-pc)).mean(axis=axis)
            if not grad:
                return values, None
            keep = (p >= eps) & (p <= 1.0 - eps)
            p -= yt
            p *= keep
            p *= scale
            return values, p
        if self.from_logits:
            z = yp
            values = (np.maximum(z, 0.0) - z * yt + np.log1p(np.exp(-np.abs(z)))).mean(axis=axis)
            if not grad:
                return values, None
            g = _SIGMOID(z)
            g -= yt
            g *= scale
            return values, g
        eps = backend.epsilon()
        p = np.clip(yp, eps, 1.0 - eps)
        values = -(yt * np.log(p) + (1.0 - yt) * np.log1p(-p)).mean(axis=axis)
        if not grad:
            return values, None
        g = (p - yt) / (p * (1.0 - p))
        g *= (yp >= eps) & (yp <= 1.0 - eps)
        g *= scale
        return values, g

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}


# -- distribution losses (one value per sample) -------------------------------------------------

class CategoricalCrossentropy(Loss):
    """Cross-entropy between one-hot (or soft) labels and a distribution over the class axis.

    With probabilities Keras first divides `y_pred` by its sum over `axis` and clips it to
    `[eps, 1 - eps]`; with logits it uses a stable log-softmax.

    Args:
        from_logits: Whether `y_pred` holds logits rather than probabilities.
        label_smoothing: In [0, 1]; labels become `y * (1 - s) + s / num_classes`.
        axis: The class axis.
    """

    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1) -> None:
        self.from_logits = _check_bool(self.name, "from_logits", from_logits)
        self.label_smoothing = _check_fraction(self.name, "label_smoothing", label_smoothing)
        self.axis = _check_axis(self.name, axis)

    def logits_twin(self, activation_name):
        if not self.from_logits and self.axis == -1 and str(activation_name).lower() == "softmax":
            return _clipping_twin(CategoricalCrossentropy(True, self.label_smoothing, self.axis))
        return None

    def check_shapes(self, y_true_shape, y_pred_shape):
        yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
        if len(yp) < 2:
            raise ShapeError(f"{self.name}: outputs must have shape (batch, classes), got {yp}")
        if not -len(yp) <= self.axis < len(yp):
            raise ShapeError(f"{self.name}: axis {self.axis} is out of range for outputs of shape {yp}")
        axis = self.axis % len(yp)
        classes = yp[axis]
        if classes == 1:
            raise ShapeError(
                f"{self.name}: outputs of shape {yp} have one unit, but categorical_crossentropy needs "
                "one output per class: for two classes use binary_crossentropy with a 1-unit sigmoid "
                "output, otherwise give the last layer one unit per class")
        if _fits(yt, yp):
            return
        ids = yp[:axis] + yp[axis + 1:]
        if _fits(yt, ids) or _fits(yt, ids + (1,)):
            raise ShapeError(
                f"{self.name}: expects one-hot labels of shape {yp}, got class ids of shape {yt}: "
                "use sparse_categorical_crossentropy, or one-hot encode the labels")
        if len(yt) == len(yp) and _fits(yt[:-1], yp[:-1]) and axis == len(yp) - 1:
            raise ShapeError(
                f"{self.name}: labels of shape {yt} have {yt[-1]} classes but the last layer has "
                f"{yp[-1]} units; give it one unit per class")
        raise ShapeError(f"{self.name}: labels of shape {yt} do not fit outputs of shape {yp}; "
                         f"expected one-hot labels of shape {yp}")

    def _align(self, y_true, yp):
        yt = np.asarray(y_true)
        if yt.shape != yp.shape or yp.ndim < 2 or yp.shape[self.axis] == 1:
            self.check_shapes(yt.shape, yp.shape)
            yt = yt.reshape(yp.shape)
        return yt.astype(yp.dtype, copy=False), yp

    def _loss(self, yt, yp, grad):
        axis = self.axis
        if self.label_smoothing:
            yt = yt * (1.0 - self.label_smoothing) + self.label_smoothing / yp.shape[axis]
        scale = yp.shape[axis] / yp.size
        if self.clips_probabilities:  # logits twin: dL/dz = p * sum(y * keep) - y * keep
            eps = backend.epsilon()
            e = np.exp(yp - yp.max(axis=axis, keepdims=True))
            e /= e.sum(axis=axis, keepdims=True)
            q = e / e.sum(axis=axis, keepdims=True)  # Keras divides the probabilities by their sum
            values = -(yt * np.log(np.clip(q, eps, 1.0 - eps))).sum(axis=axis)
            if not grad:
                return values, None
            kept = yt * ((q >= eps) & (q <= 1.0 - eps))
            e *= kept.sum(axis=axis, keepdims=True)
            e -= kept
            e *= scale
            return values, e
        if self.from_logits:
            shifted = yp - yp.max(axis=axis, keepdims=True)
            e = np.exp(shifted)
            s = e.sum(axis=axis, keepdims=True)
            values = (np.log(s) - shifted)
            values *= yt
            values = values.sum(axis=axis)
            if not grad:
                return values, None
            e /= s
            e *= yt.sum(axis=axis, keepdims=True)
            e -= yt
            e *= scale
            return values, e
        eps = backend.epsilon()
        s = yp.sum(axis=axis, keepdims=True)
        q = yp / s
        qc = np.clip(q, eps, 1.0 - eps)
        values = -(yt * np.log(qc)).sum(axis=axis)
        if not grad:
            return values, None
        u = -yt / qc
        u *= (q >= eps) & (q <= 1.0 - eps)
        g = u - (u * q).sum(axis=axis, keepdims=True)
        g /= s
        g *= scale
        return values, g

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}


class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer class ids as labels.

    Labels of shape `(N,)` or `(N, 1)` (or `(N, T)` / `(N, T, 1)` for outputs `(N, T, C)`) may
    be floats; they are cast to int. Outputs need one unit per class on the last axis.

    Args:
        from_logits: Whether `y_pred` holds logits rather than probabilities.
        ignore_class: A class id whose samples count neither in the loss nor in the mean (Keras
            masks them), or None.
    """

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None) -> None:
        self.from_logits = _check_bool(self.name, "from_logits", from_logits)
        if ignore_class is not None and (isinstance(ignore_class, bool)
                                         or not isinstance(ignore_class, (int, np.integer))):
            raise ConfigError(f"{self.name}: ignore_class must be an integer class id or None, "
                              f"got {ignore_class!r}")
        self.ignore_class = None if ignore_class is None else int(ignore_class)

    def logits_twin(self, activation_name):
        if not self.from_logits and str(activation_name).lower() == "softmax":
            return _clipping_twin(SparseCategoricalCrossentropy(True, self.ignore_class))
        return None

    def check_shapes(self, y_true_shape, y_pred_shape):
        yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
        if len(yp) < 2:
            raise ShapeError(f"{self.name}: outputs must have shape (batch, classes), got {yp}")
        if yp[-1] == 1:
            raise ShapeError(
                f"{self.name}: outputs of shape {yp} have one unit, but sparse_categorical_crossentropy "
                "needs one output per class (a softmax layer with one unit per class); for 0/1 labels "
                "and a single sigmoid output use binary_crossentropy")
        if _fits(yt, yp[:-1]) or _fits(yt, yp[:-1] + (1,)):
            return
        if _fits(yt, yp):
            raise ShapeError(
                f"{self.name}: labels of shape {yt} look one-hot (one value per class); "
                "sparse_categorical_crossentropy expects integer class ids of shape "
                f"{yp[:-1]}: use categorical_crossentropy for one-hot labels")
        raise ShapeError(f"{self.name}: expects integer class ids of shape {yp[:-1]} or "
                         f"{yp[:-1] + (1,)} for outputs of shape {yp}, got labels of shape {yt}")

    def check_labels(self, y_true, y_pred_shape):
        labels = np.asarray(y_true)
        if not labels.size:
            return
        if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
            bad = labels[labels != np.round(labels)].flat[0]
            raise ShapeError(f"{self.name}: labels must be whole class ids 0, 1, 2..., got {float(bad):g}")
        check = labels if self.ignore_class is None else labels[labels != self.ignore_class]
        if not check.size:
            return
        classes = tuple(y_pred_shape)[-1]
        lo, hi = int(check.min()), int(check.max())
        if lo < 0 or (classes is not None and hi >= classes):
            bad = lo if lo < 0 else hi
            raise ShapeError(
                f"{self.name}: label {bad} is out of range for {classes} outputs; class ids must be in "
                f"0..{classes - 1}" + (f", so the last layer needs at least {hi + 1} units" if hi >= classes else "")
                + (" (and ids cannot be negative)" if lo < 0 else ""))

    def _align(self, y_true, yp):
        labels = np.asarray(y_true)
        if labels.shape != yp.shape[:-1] or yp.ndim < 2 or yp.shape[-1] == 1:
            self.check_shapes(labels.shape, yp.shape)
            labels = labels.reshape(yp.shape[:-1])
        if labels.dtype.kind not in "iu":
            labels = labels.astype(np.intp)
        if labels.size:
            classes = yp.shape[-1]
            check = labels if self.ignore_class is None else labels[labels != self.ignore_class]
            if check.size:
                lo, hi = int(check.min()), int(check.max())
                if lo < 0 or hi >= classes:
                    bad = lo if lo < 0 else hi
                    raise ShapeError(
                        f"{self.name}: label {bad} is out of range for {classes} outputs; class ids "
                        f"must be in 0..{classes - 1}, so the last layer needs at least "
                        f"{max(hi + 1, classes)} units" + ("" if lo >= 0 else " (and ids cannot be negative)"))
        return labels, yp

    def _reduce(self, values, labels):
        if self.ignore_class is None:
            return float(values.mean())
        count = int(np.count_nonzero(labels != self.ignore_class))
        return float(values.sum()) / count if count else 0.0

    def _loss(self, labels, yp, grad):
        classes = yp.shape[-1]
        z = yp.reshape(-1, classes)
        lab = labels.reshape(-1)
        rows = np.arange(lab.size)
        valid = None
        count = lab.size
        if self.ignore_class is not None:
            valid = lab != self.ignore_class
            lab = np.where(valid, lab, 0)
            count = int(np.count_nonzero(valid))
        scale = 1.0 / count if count else 0.0
        if self.clips_probabilities:  # logits twin: dL/dz = (p - one_hot) * keep of the label's entry
            eps = backend.epsilon()
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            q = p[rows, lab] / p.sum(axis=1)  # Keras divides the probabilities by their sum
            values = -np.log(np.clip(q, eps, 1.0 - eps))
            g = None
            if grad:
                w = ((q >= eps) & (q <= 1.0 - eps)) * scale
                g = p
                g *= w[:, None]
                g[rows, lab] -= w
        elif self.from_logits:
            m = z.max(axis=1, keepdims=True)
            e = np.exp(z - m)
            s = e.sum(axis=1, keepdims=True)
            values = (np.log(s) + m)[:, 0] - z[rows, lab]
            g = None
            if grad:
                g = e
                g *= scale / s
                g[rows, lab] -= scale
        else:
            eps = backend.epsilon()
            s = z.sum(axis=1)
            q = z[rows, lab] / s
            qc = np.clip(q, eps, 1.0 - eps)
            values = -np.log(qc)
            g = None
            if grad:
                u = ((q >= eps) & (q <= 1.0 - eps)) / (-qc * s)
                u *= scale
                g = np.empty_like(z)
                g[...] = (-u * q)[:, None]
                g[rows, lab] += u
        if valid is not None:
            values = np.where(valid, values, 0.0).astype(yp.dtype, copy=False)
            if g is not None:
                g *= valid[:, None]
        return values.reshape(labels.shape), g

    def get_config(self):
        return {"from_logits": self.from_logits, "ignore_class": self.ignore_class}


class KLDivergence(Loss):
    """`sum(y_true * log(y_true / y_pred), axis=-1)`, both clipped to `[epsilon, 1]`."""

    name = "kl_divergence"

    def _loss(self, yt, yp, grad):
        eps = backend.epsilon()
        ytc = np.clip(yt, eps, 1.0)
        ypc = np.clip(yp, eps, 1.0)
        ratio = ytc / ypc
        values = (ytc * np.log(ratio)).sum(axis=-1)
        if not grad:
            return values, None
        ratio *= (yp >= eps) & (yp <= 1.0)
        ratio *= -yp.shape[-1] / yp.size
        return values, ratio


class CosineSimilarity(Loss):
    """`-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`, norms floored at epsilon.

    Args:
        axis: The axis the similarity is computed over.
    """

    name = "cosine_similarity"

    def __init__(self, axis: int = -1) -> None:
        self.axis = _check_axis(self.name, axis)

    def _loss(self, yt, yp, grad):
        axis, eps = self.axis, backend.epsilon()
        nt = yt / np.maximum(np.sqrt((yt * yt).sum(axis=axis, keepdims=True)), eps)
        r = np.sqrt((yp * yp).sum(axis=axis, keepdims=True))
        rc = np.maximum(r, eps)
        cos = (nt * yp).sum(axis=axis, keepdims=True) / rc
        values = -np.squeeze(cos, axis=axis)
        if not grad:
            return values, None
        g = yp * (cos * (r > eps) / rc)
        g -= nt
        g /= rc
        g *= 1.0 / values.size
        return values, g

    def get_config(self):
        return {"axis": self.axis}


class CategoricalHinge(Loss):
    """`maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` over the last axis."""

    name = "categorical_hinge"

    def _loss(self, yt, yp, grad):
        classes = yp.shape[-1]
        yt2, yp2 = yt.reshape(-1, classes), yp.reshape(-1, classes)
        pos = (yt2 * yp2).sum(axis=1)
        w = (1.0 - yt2) * yp2
        arg = w.argmax(axis=1)
        rows = np.arange(arg.size)
        margin = w[rows, arg] - pos + 1.0
        values = np.maximum(margin, 0.0).reshape(yp.shape[:-1])
        if not grad:
            return values, None
        g = -yt2
        g[rows, arg] += 1.0 - yt2[rows, arg]
        g *= (margin > 0)[:, None]
        g *= 1.0 / arg.size
        return values, g


# -- registry ------------------------------------------------------------------------------------

LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
                MeanSquaredLogarithmicError, RootMeanSquaredError, SquaredHinge, Hinge,
                CategoricalHinge, LogCosh, Huber, CategoricalCrossentropy,
                SparseCategoricalCrossentropy, BinaryCrossentropy, KLDivergence, Poisson,
                CosineSimilarity)
}
ALIASES: dict[str, str] = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "rmse": "root_mean_squared_error",
    "logcosh": "log_cosh",
    "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
    "cosine_proximity": "cosine_similarity",
}
# Keras class names ("CategoricalCrossentropy") are accepted too, case-insensitively.
_CLASS_NAMES = {cls.__name__.lower(): name for name, cls in LOSSES.items()}


def names() -> list[str]:
    """Every loss name, for dropdowns and error messages."""
    return sorted(LOSSES)


def _lookup(spec: str) -> type[Loss]:
    key = spec.lower()
    key = ALIASES.get(key, _CLASS_NAMES.get(key, key))
    if key not in LOSSES:
        raise unknown_name("loss", spec, list(LOSSES) + list(ALIASES))
    return LOSSES[key]


def _custom_loss_message(name: str) -> str:
    return (f"loss {name}: tuinet cannot train with a custom loss function (no automatic differentiation); "
            f"use a built-in loss name such as 'mse' or 'sparse_categorical_crossentropy', a class such as "
            f"tuinet.losses.Huber(), or subclass tuinet.losses.Loss and implement "
            f"_loss(y_true, y_pred, grad) returning the per-sample losses and their gradient")


def get(spec) -> Loss:
    """Return a loss from a Keras name or alias, a Loss (instance or class) or a config dict.

    A dict is `{"name": ..., "config": {...}}` as `serialize` writes it (Keras's
    `{"class_name": ..., "config": ...}` works too).
    """
    if isinstance(spec, type) and issubclass(spec, Loss) and spec is not Loss:
        spec = spec()
    if isinstance(spec, Loss):
        if type(spec)._loss is Loss._loss and type(spec).value_and_gradient is Loss.value_and_gradient:
            raise ConfigError(_custom_loss_message(type(spec).__name__))
        return spec
    if isinstance(spec, dict):
        name = spec.get("name", spec.get("class_name"))
        if not isinstance(name, str):
            raise ConfigError(f"loss dict needs a 'name' such as 'huber', got {spec!r}")
        return _lookup(name).from_config(spec.get("config") or {})
    if isinstance(spec, str):
        return _lookup(spec)()
    if callable(spec) and spec in loss_functions.LOSS_NAMES:  # loss=losses.mean_squared_error
        return _lookup(loss_functions.LOSS_NAMES[spec])()
    if callable(spec):  # a user's function, e.g. written with keras.ops: no gradient to train with
        raise ConfigError(_custom_loss_message(getattr(spec, "__name__", None) or type(spec).__name__))
    raise ConfigError(f"loss must be a name such as 'mse', a Loss or a {{'name', 'config'}} dict, "
                      f"got {spec!r}")


def serialize(loss: Loss) -> str | dict:
    """A name when the loss has default settings, else `{"name", "config"}`."""
    cfg = loss.get_config()
    if cfg == type(loss)().get_config():
        return loss.name
    return {"name": loss.name, "config": cfg}


# Keras's per-sample loss functions (`losses.mean_squared_error(y_true, y_pred)`), at the end
# because they look their classes up here.
from tuinet.nn import loss_functions  # noqa: E402
from tuinet.nn.loss_functions import (binary_crossentropy, categorical_crossentropy,  # noqa: E402,F401
                                      categorical_hinge, cosine_similarity, hinge, huber, kl_divergence,
                                      log_cosh, mean_absolute_error, mean_absolute_percentage_error,
                                      mean_squared_error, mean_squared_logarithmic_error, poisson,
                                      sparse_categorical_crossentropy, squared_hinge)

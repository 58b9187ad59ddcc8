"""Metrics by their Keras names, accumulated over batches.

A metric keeps running totals: `update_state(y_true, y_pred)` adds one batch, `result()` is the
value over every sample seen since `reset_state()`. Batches are weighted by their number of
samples, so two batches of 3 and 5 samples give the same result as one batch of 8. The means,
accuracies, R2Score, the F-scores and the IoUs also take Keras's `sample_weight=` (the metrics
a model compiles get none, as Keras's `compile(metrics=...)`).

`get("accuracy")` picks binary, sparse categorical or categorical accuracy from the shapes of the
labels and outputs exactly as Keras 3's `compile_utils.get_metric` does, and the metric keeps the
name the user wrote ("accuracy" or "acc"), as every string identifier does (`metrics=["mae"]`
logs "mae"). Any loss name works as a metric too: the mean of its per-sample loss.
"""

from __future__ import annotations

import warnings

import numpy as np

from tuinet.errors import ConfigError, ShapeError, unknown_name
from tuinet.nn import loss_functions, losses
from tuinet.nn.loss_functions import (binary_crossentropy, categorical_crossentropy,  # noqa: F401
                                      categorical_hinge, hinge, huber, kl_divergence, log_cosh,
                                      mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                                      mean_squared_logarithmic_error, poisson, sparse_categorical_crossentropy,
                                      squared_hinge)


# -- helpers -------------------------------------------------------------------------------------

def _pair(metric: str, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Keras's squeeze_or_expand_to_same_rank, with `y_pred` viewed as at least 2-D.

    Returns `(y_true, y_pred)` of the same shape, or raises ShapeError naming the metric.
    """
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yp.ndim == 0:
        raise ShapeError(f"{metric}: y_pred must have a batch axis, got a scalar")
    if yp.ndim == 1:
        yp = yp.reshape(-1, 1)
    if yt.shape != yp.shape:
        if yt.size == yp.size and (yt.shape + (1,) == yp.shape or yt.shape == yp.shape + (1,)):
            yt = yt.reshape(yp.shape)
        else:
            raise ShapeError(f"{metric}: labels of shape {yt.shape} do not fit outputs of shape "
                             f"{np.shape(y_pred)}; expected labels of shape {yp.shape}")
    return yt, yp


def _class_ids(metric: str, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Sparse labels `(N,)` / `(N, 1)` for outputs `(N, C)`, as ints of shape `y_pred.shape[:-1]`."""
    labels, yp = np.asarray(y_true), np.asarray(y_pred)
    if yp.ndim < 2:
        raise ShapeError(f"{metric}: outputs must have shape (batch, classes), got {yp.shape}")
    if labels.shape != yp.shape[:-1]:
        if labels.shape == yp.shape[:-1] + (1,):
            labels = labels.reshape(yp.shape[:-1])
        elif labels.shape == yp.shape and yp.shape[-1] > 1:
            raise ShapeError(f"{metric}: labels of shape {labels.shape} look one-hot; {metric} expects "
                             f"class ids of shape {yp.shape[:-1]} (use the categorical variant)")
        else:
            raise ShapeError(f"{metric}: expects class ids of shape {yp.shape[:-1]} for outputs of "
                             f"shape {yp.shape}, got labels of shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        labels = labels.astype(np.intp)
    return labels, yp


def _one_hot_ids(metric: str, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """One-hot labels of the shape of `y_pred`, argmax-ed to class ids."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yp.ndim < 2:
        raise ShapeError(f"{metric}: outputs must have shape (batch, classes), got {yp.shape}")
    if yt.shape != yp.shape:
        if yt.shape in (yp.shape[:-1], yp.shape[:-1] + (1,)) and yp.shape[-1] > 1:
            raise ShapeError(f"{metric}: expects one-hot labels of shape {yp.shape}, got class ids of "
                             f"shape {yt.shape}; use the sparse variant (e.g. sparse_{metric})")
        raise ShapeError(f"{metric}: expects one-hot labels of shape {yp.shape}, got {yt.shape}")
    return yt.argmax(axis=-1), yp


def _in_top_k(labels: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Whether each label's score is among the `k` largest (ties count as in, as in Keras)."""
    classes = y_pred.shape[-1]
    scores = y_pred.reshape(-1, classes)
    flat = labels.reshape(-1)
    target = np.take_along_axis(scores, flat[:, None], axis=1)
    return ((scores > target).sum(axis=1) < k).reshape(labels.shape)


def _same_rank(x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keras's `squeeze_or_expand_to_same_rank`: a trailing axis of size 1 is dropped (or a rank-1
    array gets one) when the ranks differ by exactly one."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1:
            x2 = x2[:, None]
        else:
            x1 = x1[..., 0]
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1:
            x1 = x1[:, None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _samplewise(metric: str, values, sample_weight, reduce) -> tuple[np.ndarray, np.ndarray | None]:
    """Keras's `reduce_to_samplewise_values`: `(values * weights, weights)`, both reduced with
    `reduce` (np.mean or np.sum) to one entry per sample (or to a scalar).

    Weights of lower rank than the values reduce the values' extra axes first; weights of the
    values' rank reduce with them.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        values, weights = _same_rank(values, weights)
        if values.ndim > weights.ndim:
            values = reduce(values, axis=tuple(range(weights.ndim, values.ndim)))
        try:
            weights = np.broadcast_to(weights, values.shape)
        except ValueError:
            if weights.ndim == values.ndim == 1:
                raise ShapeError(f"{metric}: got {weights.size} sample weights for {values.size} samples") from None
            raise ShapeError(f"{metric}: sample_weight of shape {np.shape(sample_weight)} does not fit values of "
                             f"shape {values.shape}") from None
        values = values * weights
        if weights.ndim > 1:
            weights = reduce(weights, axis=tuple(range(1, weights.ndim)))
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)))
    return values, weights


def _check_range(metric: str, labels: np.ndarray, classes: int) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = int(labels.min()) if labels.min() < 0 else int(labels.max())
        raise ShapeError(f"{metric}: label {bad} is out of range for {classes} outputs "
                         f"(class ids must be in 0..{classes - 1})")


# -- per-sample metric functions (Keras's stateless metrics) ------------------------------------

def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> np.ndarray:
    """Per-sample share of outputs on the right side of `threshold` (`y_pred > threshold`)."""
    yt, yp = _pair("binary_accuracy", y_true, y_pred)
    return (yt == (yp > threshold)).mean(axis=-1)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """Whether `argmax(y_pred)` equals `argmax(y_true)` (one-hot labels)."""
    ids, yp = _one_hot_ids("categorical_accuracy", y_true, y_pred)
    return (ids == yp.argmax(axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """Whether `argmax(y_pred)` equals the integer label."""
    labels, yp = _class_ids("sparse_categorical_accuracy", y_true, y_pred)
    return (labels == yp.argmax(axis=-1)).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    """Whether the one-hot label's class is among the `k` highest outputs."""
    ids, yp = _one_hot_ids("top_k_categorical_accuracy", y_true, y_pred)
    return _in_top_k(ids, yp, k).astype(np.float64)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    """Whether the integer label is among the `k` highest outputs."""
    labels, yp = _class_ids("sparse_top_k_categorical_accuracy", y_true, y_pred)
    _check_range("sparse_top_k_categorical_accuracy", labels, yp.shape[-1])
    return _in_top_k(labels, yp, k).astype(np.float64)


# -- base classes --------------------------------------------------------------------------------

class Metric:
    """Base class: a named running statistic.

    Attributes:
        name: What the metric is logged as ("accuracy", "val_" is added by the model).
        direction: "up" when larger is better, "down" otherwise (EarlyStopping's mode="auto").
    """

    default_name = "metric"
    direction = "up"

    def __init__(self, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.name = name or self.default_name
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset_state(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, cfg: dict) -> Metric:
        # Keras configs carry a "dtype" tuinet has no use for (it accumulates in float64).
        return cls(**{k: v for k, v in cfg.items() if k != "dtype"})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Mean(Metric):
    """The weighted mean of the values given to `update_state`.

    The model tracks the loss with it: `update_state(batch_loss, sample_weight=batch_size)`.
    """

    default_name = "mean"
    direction = "down"

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, value, sample_weight=None) -> None:
        """Add `value` (a scalar, or one value per sample) with weight `sample_weight`.

        A scalar counts once (or `sample_weight` times). An array counts once per sample (its
        first axis, extra axes averaged); with one weight per sample, each sample counts its
        weight; with a scalar weight, the array's mean counts that many times; weights of the
        values' shape weigh each entry (all as Keras's `Mean`).
        """
        values, weights = _samplewise(self.name, value, sample_weight, np.mean)
        self.total += float(values.sum())
        if weights is not None:
            self.count += float(weights.sum())
        else:
            self.count += values.shape[0] if values.ndim else 1

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class Sum(Metric):
    """The weighted sum of the values given to `update_state` (Keras's `Sum`).

    `update_state([1, 3, 5, 7])` gives 16; with `sample_weight=[1, 1, 0, 0]`, 4.
    """

    default_name = "sum"

    def reset_state(self) -> None:
        self.total = 0.0

    def update_state(self, values, sample_weight=None) -> None:
        summed, _ = _samplewise(self.name, values, sample_weight, np.sum)
        self.total += float(summed.sum())

    def result(self) -> float:
        return self.total


class MeanMetricWrapper(Mean):
    """The mean over samples of a per-sample function `fn(y_true, y_pred, **kwargs)`.

    Per-sample values with extra axes (sequence outputs) are averaged over those axes first.
    """

    def __init__(self, fn, name: str | None = None, **kwargs) -> None:
        if not callable(fn):
            raise ConfigError(f"MeanMetricWrapper: fn must be callable, got {fn!r}")
        self.fn, self.fn_kwargs = fn, kwargs
        super().__init__(name=name or getattr(fn, "__name__", "metric"))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(self.fn(y_true, y_pred, **self.fn_kwargs), sample_weight)

    def get_config(self) -> dict:
        return {"name": self.name, **self.fn_kwargs}


class LossMetric(Mean):
    """A loss used as a metric: the mean of its per-sample loss over the samples seen.

    Args:
        loss: A loss name, instance or config dict (see `losses.get`).
        name: Defaults to the loss's registry name.
    """

    direction = "down"

    def __init__(self, loss="mean_squared_error", name: str | None = None) -> None:
        self.loss = losses.get(loss)
        super().__init__(name=name or self.loss.name)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        values = self.loss.call(y_true, y_pred)
        if sample_weight is not None:
            ignore = getattr(self.loss, "ignore_class", None)
            if ignore is not None:  # the mask zeroes the weights of ignored entries, as in Keras
                mask = (np.asarray(y_true) != ignore).reshape(values.shape)
                w = np.asarray(sample_weight, dtype=np.float64)
                w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim)) if w.ndim < values.ndim else w
                sample_weight = mask * w
            super().update_state(values, sample_weight)
            return
        # Average over extra axes (time steps) first, so each sample weighs one; entries masked by
        # ignore_class count neither in the total nor in the count, as Keras's masks.
        per_sample = values.size // values.shape[0]
        self.total += float(values.sum()) / per_sample
        self.count += self._valid(values, y_true) / per_sample

    def _valid(self, values, y_true) -> int:
        ignore = getattr(self.loss, "ignore_class", None)
        if ignore is None:
            return values.size
        labels = np.asarray(y_true)
        return int(np.count_nonzero(labels != ignore))

    def get_config(self) -> dict:
        return {"name": self.name, "loss": losses.serialize(self.loss)}


# -- regression ----------------------------------------------------------------------------------

class _FixedLossMetric(LossMetric):
    """A Keras metric class that is the mean of one loss function (`loss_name`), config `{name}`."""

    loss_name = "mean_squared_error"

    def __init__(self, name: str | None = None) -> None:
        super().__init__(self.loss_name, name=name or self.default_name)

    def get_config(self):
        return {"name": self.name}


class MeanSquaredError(_FixedLossMetric):
    """Mean over samples of `mean(square(y_true - y_pred), axis=-1)`."""

    default_name = loss_name = "mean_squared_error"


class MeanAbsoluteError(_FixedLossMetric):
    """Mean over samples of `mean(abs(y_true - y_pred), axis=-1)`."""

    default_name = loss_name = "mean_absolute_error"


class MeanAbsolutePercentageError(_FixedLossMetric):
    """Mean over samples of `100 * mean(abs((y_true - y_pred) / y_true), axis=-1)`."""

    default_name = loss_name = "mean_absolute_percentage_error"


class MeanSquaredLogarithmicError(_FixedLossMetric):
    """Mean over samples of `mean(square(log(y_true + 1) - log(y_pred + 1)), axis=-1)`."""

    default_name = loss_name = "mean_squared_logarithmic_error"


class LogCoshError(_FixedLossMetric):
    """Mean over samples of `mean(log(cosh(y_pred - y_true)), axis=-1)`; logged as "logcosh", as
    in Keras."""

    default_name, loss_name = "logcosh", "log_cosh"


class KLDivergence(_FixedLossMetric):
    """Mean over samples of `sum(y_true * log(y_true / y_pred), axis=-1)` (both clipped to
    `[epsilon, 1]`)."""

    default_name = loss_name = "kl_divergence"


class Poisson(_FixedLossMetric):
    """Mean over samples of `mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`."""

    default_name = loss_name = "poisson"


class Hinge(_FixedLossMetric):
    """Mean over samples of `mean(maximum(1 - y_true * y_pred, 0), axis=-1)` (0/1 labels become
    -1/1)."""

    default_name = loss_name = "hinge"


class SquaredHinge(_FixedLossMetric):
    """Mean over samples of `mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)` (0/1 labels
    become -1/1)."""

    default_name = loss_name = "squared_hinge"


class CategoricalHinge(_FixedLossMetric):
    """Mean over samples of `maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`."""

    default_name = loss_name = "categorical_hinge"


class RootMeanSquaredError(Mean):
    """`sqrt` of the running mean squared error over every sample seen (Keras's metric)."""

    default_name = "root_mean_squared_error"
    direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        yt, yp = _pair(self.name, y_true, y_pred)
        d = yp - yt
        super().update_state(d * d, sample_weight)

    def result(self) -> float:
        return float(np.sqrt(super().result()))


class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity between labels and outputs (positive, unlike the loss).

    Args:
        axis: The axis the similarity is computed over.
    """

    default_name = "cosine_similarity"
    direction = "up"

    def __init__(self, name: str | None = None, axis: int = -1) -> None:
        self.axis = axis
        self._loss = losses.CosineSimilarity(axis=axis)
        super().__init__(self._similarity, name=name or self.default_name)

    def _similarity(self, y_true, y_pred):
        return -self._loss.call(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


class R2Score(Metric):
    """The coefficient of determination `1 - sum((y_true - y_pred)**2) / sum((y_true - mean(y_true))**2)`
    per output column, over every sample seen (Keras's `R2Score`).

    Args:
        class_aggregation: "uniform_average" (the mean over columns), "variance_weighted_average"
            (columns weighted by the variance of their labels) or None (one score per column: an
            array, which `fit` cannot log).
        num_regressors: With p > 0 regressors, the adjusted score `1 - (1 - R2) (n - 1) / (n - p - 1)`,
            where n counts every label entry seen (Keras's choice); it falls back to R2 with a warning
            when `n - 1 <= p`.
    """

    default_name = "r2_score"
    _AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")

    def __init__(self, class_aggregation: str | None = "uniform_average", num_regressors: int = 0,
                 name: str | None = None) -> None:
        metric = name or self.default_name
        if class_aggregation not in self._AGGREGATIONS:
            raise ConfigError(f"{metric}: class_aggregation must be None, 'uniform_average' or "
                              f"'variance_weighted_average', got {class_aggregation!r}")
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, (int, np.integer)) \
                or num_regressors < 0:
            raise ConfigError(f"{metric}: num_regressors must be an integer >= 0, got {num_regressors!r}")
        self.class_aggregation, self.num_regressors = class_aggregation, int(num_regressors)
        self._sum = None  # per-column accumulators, sized by the first batch
        super().__init__(name)

    @property
    def vector_result(self) -> bool:
        """Whether `result()` gives one score per output column (class_aggregation=None)."""
        return self.class_aggregation is None

    vector_hint = ("with class_aggregation=None gives one score per output, which fit cannot log; use "
                   "class_aggregation='uniform_average' or 'variance_weighted_average'")

    def reset_state(self) -> None:
        self.num_samples = 0
        if self._sum is not None:
            for key in ("_sum", "_squared_sum", "_residual", "_count"):
                setattr(self, key, np.zeros_like(self._sum))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        yt, yp = _same_rank(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64))
        if yt.ndim != 2 or yp.ndim != 2:
            raise ShapeError(f"{self.name}: expects 2-D labels and outputs (batch, outputs), got labels of shape "
                             f"{np.shape(y_true)} and outputs of shape {np.shape(y_pred)}")
        if yt.shape != yp.shape:
            raise ShapeError(f"{self.name}: labels of shape {yt.shape} do not fit outputs of shape {yp.shape}")
        if self._sum is None:
            self._sum = np.zeros(yp.shape[-1])
            self.reset_state()
        elif self._sum.shape[0] != yp.shape[-1]:
            raise ShapeError(f"{self.name}: got {yp.shape[-1]} outputs after {self._sum.shape[0]} before")
        w = np.asarray(1.0 if sample_weight is None else sample_weight, dtype=np.float64)
        if w.ndim == 1:
            w = w[:, None]
        try:
            w = np.broadcast_to(w, yt.shape)
        except ValueError:
            raise ShapeError(f"{self.name}: sample_weight of shape {np.shape(sample_weight)} does not fit labels "
                             f"of shape {yt.shape}") from None
        self._sum = self._sum + (yt * w).sum(axis=0)
        self._squared_sum = self._squared_sum + (yt * yt * w).sum(axis=0)
        self._residual = self._residual + ((yt - yp) ** 2 * w).sum(axis=0)
        self._count = self._count + w.sum(axis=0)
        self.num_samples += yt.size

    def result(self):
        if self._sum is None:
            return np.zeros(0) if self.vector_result else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self._sum / self._count
            total = self._squared_sum - self._sum * mean
            raw = 1 - self._residual / total
            raw = np.where(np.isinf(raw), 0.0, raw)
            if self.class_aggregation == "uniform_average":
                score = raw.mean()
            elif self.class_aggregation == "variance_weighted_average":
                score = (total * raw).sum() / total.sum()
            else:
                score = raw
        if self.num_regressors:
            n, p = self.num_samples, self.num_regressors
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. Falling back "
                              "to standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.",
                              stacklevel=2)
            else:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return score if self.vector_result else float(score)

    def get_config(self) -> dict:
        return {"name": self.name, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


# -- accuracy ------------------------------------------------------------------------------------

class _Accuracy(MeanMetricWrapper):
    fn_default = None
    direction = "up"

    def __init__(self, name: str | None = None, **kwargs) -> None:
        super().__init__(type(self).fn_default, name=name or self.default_name, **kwargs)


class Accuracy(_Accuracy):
    """How often `y_pred` equals `y_true` exactly (Keras's `Accuracy` class; the string
    "accuracy" resolves to one of the accuracies below instead)."""

    default_name = "accuracy"

    @staticmethod
    def fn_default(y_true, y_pred):
        yt, yp = _pair("accuracy", y_true, y_pred)
        return (yt == yp).mean(axis=-1)


class BinaryAccuracy(_Accuracy):
    """How often `y_pred > threshold` matches 0/1 labels.

    Args:
        threshold: In (0, 1).
    """

    default_name = "binary_accuracy"
    fn_default = staticmethod(binary_accuracy)

    def __init__(self, name: str | None = None, threshold: float = 0.5) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)) \
                or not 0 < threshold < 1:
            raise ConfigError(f"binary_accuracy: threshold must be a number in (0, 1), got {threshold!r}")
        self.threshold = float(threshold)
        super().__init__(name, threshold=self.threshold)


class CategoricalAccuracy(_Accuracy):
    """How often `argmax(y_pred)` matches one-hot labels."""

    default_name = "categorical_accuracy"
    fn_default = staticmethod(categorical_accuracy)


class SparseCategoricalAccuracy(_Accuracy):
    """How often `argmax(y_pred)` matches integer labels."""

    default_name = "sparse_categorical_accuracy"
    fn_default = staticmethod(sparse_categorical_accuracy)


def _check_k(metric: str, k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"{metric}: k must be a positive integer, got {k!r}")
    return int(k)


class TopKCategoricalAccuracy(_Accuracy):
    """How often the one-hot label's class is among the `k` highest outputs."""

    default_name = "top_k_categorical_accuracy"
    fn_default = staticmethod(top_k_categorical_accuracy)

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        self.k = _check_k(self.default_name, k)
        super().__init__(name, k=self.k)


class SparseTopKCategoricalAccuracy(_Accuracy):
    """How often the integer label is among the `k` highest outputs."""

    default_name = "sparse_top_k_categorical_accuracy"
    fn_default = staticmethod(sparse_top_k_categorical_accuracy)

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        self.k = _check_k(self.default_name, k)
        super().__init__(name, k=self.k)


_ACCURACY_KINDS = {"binary": BinaryAccuracy, "sparse": SparseCategoricalAccuracy,
                   "categorical": CategoricalAccuracy}


def _accuracy_kind(y_true_shape: tuple, y_pred_shape: tuple) -> str:
    """Keras 3's `is_binary_or_sparse_categorical`: binary first, then sparse, else categorical."""
    yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
    if not yt or not yp:
        raise ShapeError(f"accuracy: labels {yt} and outputs {yp} need a batch axis")
    if yp[-1] == 1:
        return "binary"
    if len(yt) < len(yp) or (yt[-1] == 1 and yp[-1] is not None and yp[-1] > 1):
        return "sparse"
    return "categorical"


class AutoAccuracy(Metric):
    """`"accuracy"` before the shapes are known: picks its kind on the first batch, as Keras 3 does
    when it builds the compiled metrics. `resolved` is the metric it picked (None before)."""

    default_name = "accuracy"

    def reset_state(self) -> None:
        if getattr(self, "resolved", None) is None:
            self.resolved = None
        else:
            self.resolved.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if self.resolved is None:
            kind = _accuracy_kind(np.shape(y_true), np.shape(y_pred))
            self.resolved = _ACCURACY_KINDS[kind](name=self.name)
        self.resolved.update_state(y_true, y_pred, sample_weight)

    def result(self) -> float:
        return self.resolved.result() if self.resolved is not None else 0.0


# -- precision and recall -----------------------------------------------------------------------

def _check_thresholds(metric: str, thresholds, default: float | None) -> tuple[object, np.ndarray]:
    """`(as given, as a sorted-free float array)`: None -> `default`, a number, or a list of numbers in [0, 1]."""
    given = thresholds
    values = [default] if thresholds is None else thresholds
    if not isinstance(values, (list, tuple, np.ndarray)):
        values = [values]
    values = list(values)
    if not values and thresholds is not None:
        raise ConfigError(f"{metric}: thresholds must not be empty")
    for t in values:
        if t is None:
            continue
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, float, np.integer, np.floating)) \
                or not 0 <= t <= 1:
            raise ConfigError(f"{metric}: thresholds must be numbers in [0, 1], got {thresholds!r}")
    if isinstance(given, (tuple, np.ndarray)):
        given = [float(t) for t in given]
    elif isinstance(given, list):
        given = [float(t) for t in given]
    elif given is not None:
        given = float(given)
    return given, np.array([-np.inf if t is None else float(t) for t in values])


def _counts_above(thresholds: np.ndarray, yt: np.ndarray, yp: np.ndarray) -> tuple[np.ndarray, ...]:
    """`(tp, fp, tn, fn)` per threshold of the decisions `yp > threshold` against `yt != 0`."""
    order = np.argsort(thresholds, kind="stable")
    actual = (yt != 0).reshape(-1)
    # above[i] = how many (sorted) thresholds lie strictly below prediction i
    above = np.searchsorted(thresholds[order], yp.reshape(-1), side="left")
    n = thresholds.size
    pos = np.bincount(above[actual], minlength=n + 1)
    neg = np.bincount(above[~actual], minlength=n + 1)
    tp_sorted = np.cumsum(pos[::-1])[::-1][1:]  # predictions above sorted threshold j
    fp_sorted = np.cumsum(neg[::-1])[::-1][1:]
    tp, fp = np.empty(n, np.int64), np.empty(n, np.int64)
    tp[order], fp[order] = tp_sorted, fp_sorted
    n_pos = int(np.count_nonzero(actual))
    return tp, fp, actual.size - n_pos - fp, n_pos - tp


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """`num / den`, 0 where `den` is 0 (Keras's divide_no_nan)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


class _ConfusionCounts(Metric):
    """True/false positives and negatives of binary decisions `y_pred > threshold`, summed over
    every output element (Keras's micro-averaged counts, Precision and Recall).

    With one threshold `result()` is a float; with a list of thresholds it is an array with one
    value per threshold, as in Keras (such a metric cannot be logged by `fit`: use it standalone).

    Args:
        thresholds: A threshold or a list of thresholds in [0, 1] (default 0.5, or none when
            `top_k` is set).
        top_k: Only the `top_k` highest outputs of each sample can count as positive.
        class_id: Only this column of the outputs counts.
    """

    def __init__(self, thresholds=None, top_k: int | None = None, class_id: int | None = None,
                 name: str | None = None) -> None:
        metric = name or self.default_name
        self.thresholds, self._thresholds = _check_thresholds(metric, thresholds, None if top_k is not None else 0.5)
        if top_k is not None:
            top_k = _check_k(metric, top_k)
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer))
                                     or class_id < 0):
            raise ConfigError(f"{metric}: class_id must be a non-negative integer, got {class_id!r}")
        self.top_k = top_k
        self.class_id = None if class_id is None else int(class_id)
        super().__init__(name)

    @property
    def vector_result(self) -> bool:
        """Whether `result()` gives one value per threshold rather than a float."""
        return self._thresholds.size > 1

    vector_hint = ("has several thresholds, so it gives one value per threshold, which fit cannot log; "
                   "compile it with one threshold")

    def reset_state(self) -> None:
        zeros = np.zeros(self._thresholds.size, np.int64)
        self._tp, self._fp, self._tn, self._fn = zeros, zeros.copy(), zeros.copy(), zeros.copy()

    def _value(self, counts: np.ndarray):
        return counts.astype(np.float64) if self.vector_result else counts[0].item()

    # Keras's accumulator names, as ints (one threshold) or arrays (several)
    true_positives = property(lambda self: self._value(self._tp))
    false_positives = property(lambda self: self._value(self._fp))
    true_negatives = property(lambda self: self._value(self._tn))
    false_negatives = property(lambda self: self._value(self._fn))

    def update_state(self, y_true, y_pred) -> None:
        yt, yp = _pair(self.name, y_true, y_pred)
        if self.top_k is not None:
            order = np.argsort(-yp, axis=-1, kind="stable")[..., self.top_k:]
            yp = yp.copy()
            np.put_along_axis(yp, order, -np.inf, axis=-1)
        if self.class_id is not None:
            if self.class_id >= yp.shape[-1]:
                raise ShapeError(f"{self.name}: class_id {self.class_id} is out of range for "
                                 f"{yp.shape[-1]} outputs")
            yt, yp = yt[..., self.class_id], yp[..., self.class_id]
        tp, fp, tn, fn = _counts_above(self._thresholds, yt, yp)
        self._tp += tp
        self._fp += fp
        self._tn += tn
        self._fn += fn

    def _result(self, values: np.ndarray):
        return values if self.vector_result else float(values[0])

    def get_config(self) -> dict:
        return {"name": self.name, "thresholds": self.thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class _ConditionCount(_ConfusionCounts):
    """One of the four confusion counts, as Keras's `TruePositives`... (thresholds only)."""

    count = "_tp"

    def __init__(self, thresholds=None, name: str | None = None) -> None:
        super().__init__(thresholds=thresholds, name=name)

    def result(self):
        return self._result(getattr(self, self.count).astype(np.float64))

    def get_config(self) -> dict:
        return {"name": self.name, "thresholds": self.thresholds}


class TruePositives(_ConditionCount):
    """How many outputs above the threshold have a non-zero label, summed over batches."""

    default_name, count = "true_positives", "_tp"


class FalsePositives(_ConditionCount):
    """How many outputs above the threshold have a zero label, summed over batches."""

    default_name, count, direction = "false_positives", "_fp", "down"


class TrueNegatives(_ConditionCount):
    """How many outputs at or below the threshold have a zero label, summed over batches."""

    default_name, count = "true_negatives", "_tn"


class FalseNegatives(_ConditionCount):
    """How many outputs at or below the threshold have a non-zero label, summed over batches."""

    default_name, count, direction = "false_negatives", "_fn", "down"


class Precision(_ConfusionCounts):
    """True positives over predicted positives, accumulated over batches; 0.0 when undefined."""

    default_name = "precision"

    def result(self):
        return self._result(_divide(self._tp, self._tp + self._fp))


class Recall(_ConfusionCounts):
    """True positives over actual positives, accumulated over batches; 0.0 when undefined."""

    default_name = "recall"

    def result(self):
        return self._result(_divide(self._tp, self._tp + self._fn))


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from confusion counts at fixed thresholds
    accumulated over batches (Keras's `AUC`, single-label: every output element is one decision).

    Args:
        num_thresholds: How many thresholds, evenly spaced over [0, 1] (with the ends just outside).
        curve: "ROC" or "PR".
        summation_method: "interpolation" (trapezoids; Davis & Goadrich for PR), "minoring" or
            "majoring" (lower or upper Riemann sums).
        thresholds: Explicit thresholds in [0, 1] instead of `num_thresholds`.
        from_logits: Whether `y_pred` holds logits (a sigmoid is applied first).
    """

    default_name = "auc"
    _CURVES = ("ROC", "PR")
    _SUMS = ("interpolation", "minoring", "majoring")

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str | None = None, thresholds=None, multi_label: bool = False, num_labels=None,
                 label_weights=None, from_logits: bool = False) -> None:
        metric = name or self.default_name
        if str(curve).upper() not in self._CURVES:
            raise ConfigError(f'{metric}: curve must be "ROC" or "PR", got {curve!r}')
        if str(summation_method).lower() not in self._SUMS:
            raise ConfigError(f"{metric}: summation_method must be one of {', '.join(self._SUMS)}, "
                              f"got {summation_method!r}")
        if multi_label or num_labels is not None or label_weights is not None:
            raise ConfigError(f"{metric}: tuinet supports single-label AUC only (multi_label=False, "
                              "no num_labels or label_weights)")
        if not isinstance(from_logits, (bool, np.bool_)):
            raise ConfigError(f"{metric}: from_logits must be True or False, got {from_logits!r}")
        if thresholds is not None:
            given, values = _check_thresholds(metric, list(thresholds) if isinstance(thresholds, (list, tuple))
                                              else thresholds, 0.5)
            self.thresholds = given if isinstance(given, list) else [given]
            inner = sorted(float(t) for t in values)
            num_thresholds = len(inner) + 2
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) \
                    or num_thresholds <= 1:
                raise ConfigError(f"{metric}: num_thresholds must be an integer > 1, got {num_thresholds!r}")
            self.thresholds = None
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        eps = 1e-7  # Keras's backend.epsilon(), fixed: the ends sit just outside [0, 1]
        self._thresholds = np.array([0.0 - eps, *inner, 1.0 + eps])
        self.num_thresholds = int(num_thresholds)
        self.curve, self.summation_method = str(curve).upper(), str(summation_method).lower()
        self.from_logits = bool(from_logits)
        super().__init__(name)

    def reset_state(self) -> None:
        zeros = np.zeros(self._thresholds.size, np.int64)
        self.true_positives, self.false_positives = zeros, zeros.copy()
        self.true_negatives, self.false_negatives = zeros.copy(), zeros.copy()

    def update_state(self, y_true, y_pred) -> None:
        yt, yp = _pair(self.name, y_true, y_pred)
        if self.from_logits:
            yp = 1.0 / (1.0 + np.exp(-np.asarray(yp, dtype=np.float64)))
        tp, fp, tn, fn = _counts_above(self._thresholds, yt, yp)
        self.true_positives = self.true_positives + tp
        self.false_positives = self.false_positives + fp
        self.true_negatives = self.true_negatives + tn
        self.false_negatives = self.false_negatives + fn

    def _interpolate_pr_auc(self) -> float:
        """Davis & Goadrich (2006): precision interpolated along the PR curve between thresholds."""
        tp, fp, fn = (a.astype(np.float64) for a in (self.true_positives, self.false_positives,
                                                       self.false_negatives))
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide(p[:-1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore"):
            log_ratio = np.log(np.where(ratio > 0, ratio, 1.0))
        return float(_divide(slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0)).sum())

    def result(self) -> float:
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _divide(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide(fp, fp + tn), recall
        else:
            x, y = recall, _divide(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(((x[:-1] - x[1:]) * heights).sum())

    def get_config(self) -> dict:
        return {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
                "summation_method": self.summation_method, "thresholds": self.thresholds,
                "from_logits": self.from_logits}


# -- F-scores ------------------------------------------------------------------------------------

_EPSILON = 1e-7  # Keras's backend.epsilon(), fixed


class FBetaScore(Metric):
    """The F-beta score `(1 + beta**2) * precision * recall / (beta**2 * precision + recall)` of
    multi-label (or one-hot) outputs `(batch, classes)`, from counts accumulated over batches
    (Keras's `FBetaScore`).

    Args:
        average: None (one score per class: an array, which `fit` cannot log), "micro" (from the
            counts summed over classes), "macro" (the mean of the class scores) or "weighted" (class
            scores weighted by how many labels each class has).
        beta: Weight of recall against precision, > 0.
        threshold: Outputs above it count as positive; None makes each sample's largest output
            (and any tied with it, unless 0) the positive ones.
    """

    default_name = "fbeta_score"
    _AVERAGES = (None, "micro", "macro", "weighted")

    def __init__(self, average: str | None = None, beta: float = 1.0, threshold: float | None = None,
                 name: str | None = None) -> None:
        metric = name or self.default_name
        if average not in self._AVERAGES:
            raise ConfigError(f"{metric}: average must be None, 'micro', 'macro' or 'weighted', got {average!r}")
        if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)) or not beta > 0:
            raise ConfigError(f"{metric}: beta must be a number > 0, got {beta!r}")
        if threshold is not None and (isinstance(threshold, bool)
                                      or not isinstance(threshold, (int, float, np.integer, np.floating))
                                      or not 0 < threshold <= 1):
            raise ConfigError(f"{metric}: threshold must be None or a number in (0, 1], got {threshold!r}")
        self.average, self.beta = average, float(beta)
        self.threshold = None if threshold is None else float(threshold)
        self._width = None  # the number of classes, from the first batch
        super().__init__(name)

    @property
    def vector_result(self) -> bool:
        """Whether `result()` gives one score per class (average=None)."""
        return self.average is None

    vector_hint = ("with average=None gives one score per class, which fit cannot log; use average='macro', "
                   "'micro' or 'weighted'")

    def reset_state(self) -> None:
        shape = () if self.average == "micro" or self._width is None else (self._width,)
        self.true_positives, self.false_positives = np.zeros(shape), np.zeros(shape)
        self.false_negatives, self.intermediate_weights = np.zeros(shape), np.zeros(shape)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        yt, yp = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
        if yt.ndim != 2 or yp.ndim != 2:
            raise ShapeError(f"{self.name}: expects 2-D one-hot (or multi-hot) labels and outputs (batch, classes), "
                             f"got labels of shape {yt.shape} and outputs of shape {yp.shape}")
        if yt.shape != yp.shape:
            raise ShapeError(f"{self.name}: labels of shape {yt.shape} do not fit outputs of shape {yp.shape}; "
                             "it expects one-hot or multi-hot labels")
        if self._width is None:
            self._width = yp.shape[-1]
            self.reset_state()
        elif yp.shape[-1] != self._width:
            raise ShapeError(f"{self.name}: got {yp.shape[-1]} classes after {self._width} before")
        if self.threshold is None:
            positive = (yp >= yp.max(axis=-1, keepdims=True)) & (np.abs(yp) > 1e-9)
        else:
            positive = yp > self.threshold
        pred = positive.astype(np.float64)
        axis = None if self.average == "micro" else 0
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            w = w.reshape(-1, 1) if w.ndim == 1 else w
            try:
                np.broadcast_shapes(w.shape, yt.shape)
            except ValueError:
                raise ShapeError(f"{self.name}: sample_weight of shape {np.shape(sample_weight)} does not fit "
                                 f"labels of shape {yt.shape}") from None

        def weighted_sum(values):
            return (values if w is None else values * w).sum(axis=axis)

        self.true_positives = self.true_positives + weighted_sum(pred * yt)
        self.false_positives = self.false_positives + weighted_sum(pred * (1 - yt))
        self.false_negatives = self.false_negatives + weighted_sum((1 - pred) * yt)
        self.intermediate_weights = self.intermediate_weights + weighted_sum(yt)

    def result(self):
        if self._width is None and self.average is None:
            return np.zeros(0)
        tp = self.true_positives
        precision = tp / (tp + self.false_positives + _EPSILON)
        recall = tp / (tp + self.false_negatives + _EPSILON)
        b2 = self.beta ** 2
        score = precision * recall / (b2 * precision + recall + _EPSILON) * (1 + b2)
        if self.average == "weighted":
            weights = self.intermediate_weights / (self.intermediate_weights.sum() + _EPSILON)
            return float((score * weights).sum())
        if self.average is not None:
            return float(np.mean(score))
        return score

    def get_config(self) -> dict:
        return {"name": self.name, "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F1 score, `2 * precision * recall / (precision + recall)`: FBetaScore with beta=1.

    Args:
        average: None (one score per class), "micro", "macro" or "weighted" (see FBetaScore).
        threshold: Outputs above it count as positive; None picks each sample's largest output.
    """

    default_name = "f1_score"

    def __init__(self, average: str | None = None, threshold: float | None = None, name: str | None = None) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name)

    def get_config(self) -> dict:
        return {"name": self.name, "average": self.average, "threshold": self.threshold}


# -- intersection over union ---------------------------------------------------------------------

class IoU(Metric):
    """Intersection over union `TP / (TP + FP + FN)` of class ids, averaged over `target_class_ids`,
    from a confusion matrix accumulated over batches (Keras's `IoU`). Every element of the labels
    and outputs is one decision, so it suits segmentation maps.

    As in Keras (whose IoU counts in integers), class ids given as floats are truncated, sample
    weights too, and ids outside `0..num_classes-1` are skipped. Classes absent from both the labels
    and the outputs count neither in the mean nor against it.

    Args:
        num_classes: How many classes there are.
        target_class_ids: The classes whose IoU is averaged.
        ignore_class: A label id whose elements are skipped (e.g. a "void" class).
        sparse_y_true: Whether labels are class ids (True) or one-hot / scores along `axis` (False).
        sparse_y_pred: Whether outputs are class ids (True) or scores along `axis` (False, argmax-ed).
        axis: The class axis of non-sparse labels and outputs.
    """

    default_name = "io_u"

    def __init__(self, num_classes: int, target_class_ids, name: str | None = None, ignore_class: int | None = None,
                 sparse_y_true: bool = True, sparse_y_pred: bool = True, axis: int = -1) -> None:
        metric = name or self.default_name
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ConfigError(f"{metric}: num_classes must be a positive integer, got {num_classes!r}")
        ids = list(target_class_ids) if isinstance(target_class_ids, (list, tuple, range, np.ndarray)) else None
        if not ids or any(isinstance(i, bool) or not isinstance(i, (int, np.integer)) for i in ids):
            raise ConfigError(f"{metric}: target_class_ids must be a non-empty list of class ids, "
                              f"got {target_class_ids!r}")
        if max(ids) >= num_classes or min(ids) < 0:
            bad = max(ids) if max(ids) >= num_classes else min(ids)
            raise ConfigError(f"{metric}: target class id {bad} is out of range, which is [0, {num_classes})")
        if ignore_class is not None and (isinstance(ignore_class, bool)
                                         or not isinstance(ignore_class, (int, np.integer))):
            raise ConfigError(f"{metric}: ignore_class must be None or a class id, got {ignore_class!r}")
        self.num_classes, self.target_class_ids = int(num_classes), [int(i) for i in ids]
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.sparse_y_true, self.sparse_y_pred, self.axis = bool(sparse_y_true), bool(sparse_y_pred), int(axis)
        super().__init__(name)

    def reset_state(self) -> None:
        self.total_cm = np.zeros((self.num_classes, self.num_classes), np.int64)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        yt, yp = np.asarray(y_true), np.asarray(y_pred)
        if not self.sparse_y_true:
            yt = yt.argmax(axis=self.axis)
        if not self.sparse_y_pred:
            yp = yp.argmax(axis=self.axis)
        yt, yp = yt.astype(np.int64).reshape(-1), yp.astype(np.int64).reshape(-1)
        if yt.size != yp.size:
            raise ShapeError(f"{self.name}: labels hold {yt.size} class ids but outputs {yp.size} (labels of shape "
                             f"{np.shape(y_true)}, outputs of shape {np.shape(y_pred)})")
        if sample_weight is None:
            w = np.ones(yt.size, np.int64)
        else:
            w = np.asarray(sample_weight)
            if w.dtype.kind == "f" and (w != np.trunc(w)).any():
                warnings.warn(f"{self.name}: sample weights are truncated to integers, as Keras's IoU metrics "
                              "count in integers; consider using integer weights", UserWarning, stacklevel=2)
            w = w.astype(np.int64).reshape(-1)
            try:
                w = np.broadcast_to(w, yt.shape)
            except ValueError:
                raise ShapeError(f"{self.name}: sample_weight of shape {np.shape(sample_weight)} does not fit "
                                 f"{yt.size} class ids") from None
        keep = (yt >= 0) & (yt < self.num_classes) & (yp >= 0) & (yp < self.num_classes)
        if self.ignore_class is not None:
            keep &= yt != self.ignore_class
        n = self.num_classes
        cm = np.bincount(yt[keep] * n + yp[keep], weights=w[keep], minlength=n * n)
        self.total_cm = self.total_cm + np.rint(cm).astype(np.int64).reshape(n, n)

    def result(self) -> float:
        cm = self.total_cm.astype(np.float64)
        tp = np.diag(cm)
        denominator = (cm.sum(axis=0) + cm.sum(axis=1) - tp)[self.target_class_ids]
        tp = tp[self.target_class_ids]
        valid = denominator > 1e-9
        iou = np.where(valid, tp / (denominator + _EPSILON), 0.0)
        return float(iou.sum() / (valid.sum() + _EPSILON))

    def get_config(self) -> dict:
        return {"name": self.name, "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class MeanIoU(IoU):
    """The mean intersection over union of all `num_classes` classes (Keras's `MeanIoU`), the usual
    segmentation metric: `MeanIoU(num_classes=3, sparse_y_pred=False)` for softmax outputs.

    Args:
        num_classes: How many classes there are.
        ignore_class, sparse_y_true, sparse_y_pred, axis: As for IoU.
    """

    default_name = "mean_io_u"

    def __init__(self, num_classes: int, name: str | None = None, ignore_class: int | None = None,
                 sparse_y_true: bool = True, sparse_y_pred: bool = True, axis: int = -1) -> None:
        ids = list(range(num_classes)) if isinstance(num_classes, (int, np.integer)) \
            and not isinstance(num_classes, bool) else [0]
        super().__init__(num_classes, ids, name=name, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["target_class_ids"]
        return config


def require_scalar(metric: Metric) -> Metric:
    """`metric`, or a ConfigError when its result is an array (fit logs floats only)."""
    if getattr(metric, "vector_result", False):
        hint = getattr(metric, "vector_hint", "gives an array, which fit cannot log")
        raise ConfigError(f"compile: metric {metric.name!r} {hint}")
    return metric


# -- registry ------------------------------------------------------------------------------------

METRICS: dict[str, type[Metric]] = {
    cls.default_name: cls
    for cls in (BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
                SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError,
                MeanAbsolutePercentageError, MeanSquaredLogarithmicError, LogCoshError, KLDivergence, Poisson,
                Hinge, SquaredHinge, CategoricalHinge, R2Score, F1Score, FBetaScore, Sum, CosineSimilarity,
                Precision, Recall, TruePositives, FalsePositives, TrueNegatives, FalseNegatives, AUC)
}
ALIASES: dict[str, str] = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "rmse": "root_mean_squared_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "log_cosh": "logcosh",
    "log_cosh_error": "logcosh",
    "f_beta_score": "fbeta_score",
    "cosine_proximity": "cosine_similarity",
}
# Keras metric classes that need arguments (num_classes), so no bare name makes one.
_NEEDS_ARGUMENTS = (IoU, MeanIoU)
# Keras metric names that are losses under another name.
_LOSS_ALIASES = {"bce": "binary_crossentropy", "log_cosh_error": "log_cosh"}
# Keras's per-sample metric functions, by the name each compiles to.
_FUNCTION_NAMES: dict = {fn: fn.__name__ for fn in (binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
                                                    top_k_categorical_accuracy, sparse_top_k_categorical_accuracy,
                                                    *loss_functions.METRIC_FUNCTIONS)}
_CLASSES = {cls.__name__: cls for cls in (*METRICS.values(), *_NEEDS_ARGUMENTS, Accuracy, AutoAccuracy, Mean,
                                          LossMetric)}


def names() -> list[str]:
    """Every metric name that `compile` can log ("accuracy", the metrics above and every loss), for
    dropdowns: not "f1_score" and "fbeta_score", whose defaults give one score per class, nor "sum"."""
    return sorted({"accuracy", *METRICS, *losses.LOSSES} - {"f1_score", "fbeta_score", "sum"})


def _resolve_accuracy(name: str, y_true_shape, y_pred_shape, loss) -> Metric:
    kind = None
    if y_true_shape is not None and y_pred_shape is not None:
        kind = _accuracy_kind(y_true_shape, y_pred_shape)
    elif y_pred_shape is not None and tuple(y_pred_shape)[-1:] == (1,):
        kind = "binary"
    elif loss is not None:
        # Without the label shape, the loss tells which labels a valid model gets.
        loss = losses.get(loss)
        if isinstance(loss, losses.SparseCategoricalCrossentropy):
            kind = "sparse"
        elif isinstance(loss, losses.CategoricalCrossentropy):
            kind = "categorical"
        elif isinstance(loss, losses.BinaryCrossentropy) and y_pred_shape is not None:
            kind = "categorical"  # labels have the outputs' shape and more than one column
    if kind is None:
        return AutoAccuracy(name=name)
    return _ACCURACY_KINDS[kind](name=name)


def get(spec, *, y_true_shape=None, y_pred_shape=None, loss=None) -> Metric:
    """Return a metric from a Keras name, a Metric (instance or class), a loss or a config dict.

    "accuracy" / "acc" resolve from `y_true_shape` and `y_pred_shape` (batch axis included) as
    in Keras 3; `loss` fills in when a shape is missing, and with neither the metric resolves on
    its first batch. String identifiers keep the user's string as the metric's name.
    """
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, type) and issubclass(spec, Metric) and spec not in (Metric, MeanMetricWrapper):
        return spec()
    if isinstance(spec, losses.Loss):
        return RootMeanSquaredError() if isinstance(spec, losses.RootMeanSquaredError) else LossMetric(spec)
    if isinstance(spec, dict):
        return _from_dict(spec)
    if isinstance(spec, str):
        key = spec.lower()
        if key in ("accuracy", "acc"):
            return _resolve_accuracy(spec, y_true_shape, y_pred_shape, loss)
        key = ALIASES.get(key, key)
        if key in METRICS:
            return METRICS[key](name=spec)
        for cls in _NEEDS_ARGUMENTS:
            if key in (cls.__name__.lower(), cls.default_name, cls.default_name.replace("_u", "u")):
                raise ConfigError(f"metric {spec!r} needs num_classes: use tuinet.metrics.{cls.__name__}"
                                  "(num_classes=...) in compile(metrics=[...])")
        for cls_name, cls in _CLASSES.items():
            if key == cls_name.lower() and cls not in (AutoAccuracy, LossMetric, Mean):
                return cls(name=spec)
        return _loss_metric(spec, _LOSS_ALIASES.get(key, key), {})
    if callable(spec) and spec in _FUNCTION_NAMES:  # metrics=[metrics.mean_absolute_error]
        return get(_FUNCTION_NAMES[spec], y_true_shape=y_true_shape, y_pred_shape=y_pred_shape, loss=loss)
    if callable(spec):
        return MeanMetricWrapper(spec)
    raise ConfigError(f"metric must be a name such as 'accuracy', a Metric or a config dict, got {spec!r}")


def _loss_metric(name: str, loss_name: str, cfg: dict) -> LossMetric:
    """A loss name used as a metric; unknown names are reported as unknown metrics."""
    try:
        losses.get(loss_name)
    except ConfigError:
        raise unknown_name("metric", name, names()) from None
    return LossMetric({"name": loss_name, "config": cfg}, name=name)


def _from_dict(spec: dict) -> Metric:
    cfg = spec.get("config") or {}
    if not isinstance(cfg, dict):
        raise ConfigError(f"metric config must be a dict, got {cfg!r}")
    if "class_name" in spec:
        cls = _CLASSES.get(spec["class_name"])
        if cls is None:
            raise unknown_name("metric class", spec["class_name"], list(_CLASSES))
    else:
        name = spec.get("name")
        if not isinstance(name, str):
            raise ConfigError(f"metric dict needs a 'name' or 'class_name', got {spec!r}")
        key = ALIASES.get(name.lower(), name.lower())
        if key in ("accuracy", "acc"):
            return AutoAccuracy(**{"name": name, **cfg})
        if key not in METRICS:
            return _loss_metric(name, _LOSS_ALIASES.get(key, key), cfg)
        cls = METRICS[key]
        cfg = {"name": name, **cfg}
    try:
        return cls.from_config(cfg)
    except TypeError as exc:
        raise ConfigError(f"metric {cls.__name__}: bad config {cfg!r} ({exc})") from None


def serialize(metric: Metric) -> dict | str:
    """`{"class_name", "config"}`, which `get` turns back into an equal metric (a Keras metric
    function such as `metrics.mean_absolute_error` serializes as its name)."""
    if callable(metric) and metric in _FUNCTION_NAMES:
        return _FUNCTION_NAMES[metric]
    if not isinstance(metric, Metric):
        raise ConfigError(f"cannot save the metric {metric!r}: use a metric name, a Metric or a Keras metric "
                          "function")
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


# -- confusion matrix ----------------------------------------------------------------------------

def _to_class_ids(arr, what: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim >= 2 and a.shape[-1] > 1:
        return a.argmax(axis=-1).reshape(-1)
    a = a.reshape(-1)
    if a.dtype.kind == "b":
        return a.astype(np.int64)
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise ShapeError(f"confusion_matrix: {what} contains NaN or infinite values")
        if (a != np.round(a)).any():  # probabilities of the positive class
            return (a > 0.5).astype(np.int64)
    return a.astype(np.int64)


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: rows are true classes, columns predicted.

    Both arguments may be class ids `(N,)` / `(N, 1)` or one-hot / probability arrays `(N, C)`
    (argmax-ed). A 1-column float array that is not all whole numbers holds probabilities of
    class 1 and is thresholded at 0.5 (`> 0.5`, as binary_accuracy).

    Returns:
        An int64 array of shape `(num_classes, num_classes)`; `num_classes` defaults to the
        largest class seen plus one (at least the width of one-hot inputs).
    """
    t = _to_class_ids(y_true, "y_true")
    p = _to_class_ids(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ShapeError(f"confusion_matrix: y_true has {t.size} samples but y_pred has {p.size}")
    widths = [np.shape(a)[-1] for a in (y_true, y_pred) if np.ndim(a) >= 2 and np.shape(a)[-1] > 1]
    seen = int(max(t.max(initial=0), p.max(initial=0))) + 1
    if num_classes is None:
        n = max([seen, 2 if t.size else 1, *widths])
    else:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ConfigError(f"confusion_matrix: num_classes must be a positive integer, got {num_classes!r}")
        n = int(num_classes)
        if seen > n:
            raise ShapeError(f"confusion_matrix: class id {seen - 1} is out of range for num_classes={n}")
    lowest = min(int(t.min(initial=0)), int(p.min(initial=0)))
    if lowest < 0:
        raise ShapeError(f"confusion_matrix: class ids cannot be negative, got {lowest}")
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n).astype(np.int64)


def precision_recall_per_class(cm) -> tuple[np.ndarray, np.ndarray]:
    """Per-class precision (diagonal over column sums) and recall (over row sums), 0.0 where
    a class was never predicted / never present."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ShapeError(f"precision_recall_per_class: expected a square confusion matrix, got shape {cm.shape}")
    diag = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(diag, predicted, out=np.zeros_like(diag), where=predicted > 0)
    recall = np.divide(diag, actual, out=np.zeros_like(diag), where=actual > 0)
    return precision, recall


def takes_sample_weight(metric) -> bool:
    """Whether `metric.update_state` takes `sample_weight` (the models then pass an output mask)."""
    import inspect

    cached = getattr(type(metric), "_takes_sample_weight", None)
    if cached is None:
        try:
            cached = "sample_weight" in inspect.signature(metric.update_state).parameters
        except (TypeError, ValueError):
            cached = False
        type(metric)._takes_sample_weight = cached
    return cached


class Weighted:
    """One of `compile(weighted_metrics=...)`: the metric, also weighted by the batch's sample
    weights (`sample_weight`, `class_weight`), under its logged name."""

    weighted = True

    def __init__(self, metric, name: str) -> None:
        self.metric, self.name = metric, name

    def reset_state(self) -> None:
        self.metric.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if sample_weight is None or not takes_sample_weight(self.metric):
            self.metric.update_state(y_true, y_pred)
        else:
            self.metric.update_state(y_true, y_pred, sample_weight=sample_weight)

    def result(self):
        return self.metric.result()

    def __getattr__(self, item):
        return getattr(self.__dict__["metric"], item)

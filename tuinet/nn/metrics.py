"""Metrics by their Keras names, accumulated over batches.

A metric keeps running totals: `update_state(y_true, y_pred)` adds one batch, `result()` is the
value over every sample seen since `reset_state()`. Batches are weighted by their number of
samples, so two batches of 3 and 5 samples give the same result as one batch of 8.

`get("accuracy")` picks binary, sparse categorical or categorical accuracy from the shapes of the
labels and outputs exactly as Keras 3's `compile_utils.get_metric` does, and the metric keeps the
name the user wrote ("accuracy" or "acc"), as every string identifier does (`metrics=["mae"]`
logs "mae"). Any loss name works as a metric too: the mean of its per-sample loss.
"""

from __future__ import annotations

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

    def update_state(self, y_true, y_pred) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset_state(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, cfg: dict) -> Metric:
        return cls(**cfg)

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
        first axis); with one weight per sample, each sample counts its weight; with a scalar
        weight, the array's mean counts that many times (as Keras's `Mean`).
        """
        if np.ndim(value) == 0:
            w = 1.0 if sample_weight is None else float(sample_weight)
            self.total += float(value) * w
            self.count += w
            return
        values = np.asarray(value, dtype=np.float64)
        if values.ndim > 1:
            values = values.reshape(values.shape[0], -1).mean(axis=1)
        if sample_weight is None:
            self.total += float(values.sum())
            self.count += values.shape[0]
        elif np.ndim(sample_weight) == 0:
            w = float(sample_weight)
            self.total += float(values.mean()) * w
            self.count += w
        else:
            w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
            if w.shape != values.shape:
                raise ShapeError(f"{self.name}: got {w.size} sample weights for {values.size} samples")
            self.total += float(values @ w)
            self.count += float(w.sum())

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The mean over samples of a per-sample function `fn(y_true, y_pred, **kwargs)`.

    Per-sample values with extra axes (sequence outputs) are averaged over those axes first.
    """

    def __init__(self, fn, name: str | None = None, **kwargs) -> None:
        if not callable(fn):
            raise ConfigError(f"MeanMetricWrapper: fn must be callable, got {fn!r}")
        self.fn, self.fn_kwargs = fn, kwargs
        super().__init__(name=name or getattr(fn, "__name__", "metric"))

    def update_state(self, y_true, y_pred) -> None:
        values = np.asarray(self.fn(y_true, y_pred, **self.fn_kwargs))
        if values.ndim == 0:
            values = values.reshape(1)
        if values.ndim > 1:
            values = values.reshape(values.shape[0], -1).mean(axis=1)
        self.total += float(values.sum())
        self.count += values.shape[0]

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

    def update_state(self, y_true, y_pred) -> None:
        values = self.loss.call(y_true, y_pred)
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

class MeanSquaredError(LossMetric):
    """Mean over samples of `mean(square(y_true - y_pred), axis=-1)`."""

    default_name = "mean_squared_error"

    def __init__(self, name: str | None = None) -> None:
        super().__init__("mean_squared_error", name=name or self.default_name)

    def get_config(self):
        return {"name": self.name}


class MeanAbsoluteError(LossMetric):
    """Mean over samples of `mean(abs(y_true - y_pred), axis=-1)`."""

    default_name = "mean_absolute_error"

    def __init__(self, name: str | None = None) -> None:
        super().__init__("mean_absolute_error", name=name or self.default_name)

    def get_config(self):
        return {"name": self.name}


class RootMeanSquaredError(Mean):
    """`sqrt` of the running mean squared error over every sample seen (Keras's metric)."""

    default_name = "root_mean_squared_error"
    direction = "down"

    def update_state(self, y_true, y_pred) -> None:
        yt, yp = _pair(self.name, y_true, y_pred)
        d = yp - yt
        super().update_state((d * d).reshape(d.shape[0], -1).mean(axis=1))

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

    def update_state(self, y_true, y_pred) -> None:
        if self.resolved is None:
            kind = _accuracy_kind(np.shape(y_true), np.shape(y_pred))
            self.resolved = _ACCURACY_KINDS[kind](name=self.name)
        self.resolved.update_state(y_true, y_pred)

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


# -- registry ------------------------------------------------------------------------------------

METRICS: dict[str, type[Metric]] = {
    cls.default_name: cls
    for cls in (BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
                SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError,
                CosineSimilarity, Precision, Recall, TruePositives, FalsePositives, TrueNegatives,
                FalseNegatives, AUC)
}
ALIASES: dict[str, str] = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "rmse": "root_mean_squared_error",
    "cosine_proximity": "cosine_similarity",
}
# Keras metric names that are losses under another name.
_LOSS_ALIASES = {"bce": "binary_crossentropy", "log_cosh_error": "log_cosh"}
# Keras's per-sample metric functions, by the name each compiles to.
_FUNCTION_NAMES: dict = {fn: fn.__name__ for fn in (binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
                                                    top_k_categorical_accuracy, sparse_top_k_categorical_accuracy,
                                                    *loss_functions.METRIC_FUNCTIONS)}
_CLASSES = {cls.__name__: cls for cls in (*METRICS.values(), Accuracy, AutoAccuracy, Mean, LossMetric)}


def names() -> list[str]:
    """Every metric name ("accuracy", the metrics above and every loss), for dropdowns."""
    return sorted({"accuracy", *METRICS, *losses.LOSSES})


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

"""Keras's loss functions (`keras.losses.mean_squared_error`...): per-sample values, no reduction.

Each function returns the unreduced losses `Loss.call(y_true, y_pred)` of the loss class of the
same name, so `mean_squared_error(y_true, y_pred)` has shape `y_pred.shape[:-1]`, as in Keras.
They are re-exported by `tuinet.losses` (and the Keras subset by `tuinet.metrics`), and
`loss=losses.mean_squared_error` or `metrics=[metrics.mean_absolute_error]` compile to the
matching loss or metric by name (`LOSS_NAMES` maps each function to it).
"""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError


def _per_sample(name: str, y_true, y_pred, **config) -> np.ndarray:
    from tuinet.nn import losses  # lazy: tuinet.nn.losses re-exports this module

    return losses.get({"name": name, "config": config}).call(y_true, y_pred)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """`mean(square(y_true - y_pred), axis=-1)`."""
    return _per_sample("mean_squared_error", y_true, y_pred)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """`mean(abs(y_true - y_pred), axis=-1)`."""
    return _per_sample("mean_absolute_error", y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred) -> np.ndarray:
    """`100 * mean(abs((y_true - y_pred) / maximum(abs(y_true), epsilon)), axis=-1)`."""
    return _per_sample("mean_absolute_percentage_error", y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred) -> np.ndarray:
    """`mean(square(log(y_true + 1) - log(y_pred + 1)), axis=-1)` (values floored at epsilon)."""
    return _per_sample("mean_squared_logarithmic_error", y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis: int = -1) -> np.ndarray:
    """`-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`."""
    return _per_sample("cosine_similarity", y_true, y_pred, axis=axis)


def huber(y_true, y_pred, delta: float = 1.0) -> np.ndarray:
    """Huber loss, quadratic within `delta` and linear beyond; mean over the last axis."""
    return _per_sample("huber", y_true, y_pred, delta=delta)


def log_cosh(y_true, y_pred) -> np.ndarray:
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`."""
    return _per_sample("log_cosh", y_true, y_pred)


def hinge(y_true, y_pred) -> np.ndarray:
    """`mean(maximum(1 - y_true * y_pred, 0), axis=-1)`, 0/1 labels turned into -1/1."""
    return _per_sample("hinge", y_true, y_pred)


def squared_hinge(y_true, y_pred) -> np.ndarray:
    """`mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)`, 0/1 labels turned into -1/1."""
    return _per_sample("squared_hinge", y_true, y_pred)


def categorical_hinge(y_true, y_pred) -> np.ndarray:
    """`maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`."""
    return _per_sample("categorical_hinge", y_true, y_pred)


def kl_divergence(y_true, y_pred) -> np.ndarray:
    """`sum(y_true * log(y_true / y_pred), axis=-1)`, both clipped to `[epsilon, 1]`."""
    return _per_sample("kl_divergence", y_true, y_pred)


def poisson(y_true, y_pred) -> np.ndarray:
    """`mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`."""
    return _per_sample("poisson", y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0,
                        axis: int = -1) -> np.ndarray:
    """Binary cross-entropy, mean over `axis`."""
    return _per_sample("binary_crossentropy", y_true, y_pred, from_logits=from_logits,
                       label_smoothing=label_smoothing, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0,
                             axis: int = -1) -> np.ndarray:
    """Categorical cross-entropy of one-hot labels, summed over the class `axis`."""
    return _per_sample("categorical_crossentropy", y_true, y_pred, from_logits=from_logits,
                       label_smoothing=label_smoothing, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False, ignore_class: int | None = None,
                                    axis: int = -1) -> np.ndarray:
    """Categorical cross-entropy of integer class ids (classes on the last axis only)."""
    if axis != -1:
        raise ConfigError(f"sparse_categorical_crossentropy: only axis=-1 is supported, got {axis!r}")
    return _per_sample("sparse_categorical_crossentropy", y_true, y_pred, from_logits=from_logits,
                       ignore_class=ignore_class)


FUNCTIONS = (mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
             mean_squared_logarithmic_error, cosine_similarity, huber, log_cosh, hinge, squared_hinge,
             categorical_hinge, kl_divergence, poisson, binary_crossentropy, categorical_crossentropy,
             sparse_categorical_crossentropy)
# function -> the loss name it stands for (its own name: each matches a key of losses.LOSSES)
LOSS_NAMES: dict = {fn: fn.__name__ for fn in FUNCTIONS}
# keras.metrics re-exports all of them but cosine_similarity (a metric class there)
METRIC_FUNCTIONS = tuple(fn for fn in FUNCTIONS if fn is not cosine_similarity)

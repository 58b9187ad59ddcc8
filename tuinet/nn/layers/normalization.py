"""Normalization layers: BatchNormalization and LayerNormalization, with Keras 3 semantics.

Axes follow Keras: they index the full input shape, batch axis included, so `axis=-1` is the
features (channels-last) axis and `axis=1` is the first axis after the batch.
"""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import constraints, initializers, regularizers
from tuinet.nn.layers.base import Layer, check_bool as _check_bool


def _check_axis_int(layer: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{layer}: axis must be an integer such as -1, got {value!r}")
    return int(value)


def _check_epsilon(layer: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not value > 0:
        raise ConfigError(f"{layer}: epsilon must be a positive number such as 0.001, got {value!r}")
    return float(value)


def _resolve_axis(layer: str, name, axis: int, input_shape: tuple) -> int:
    """Turn a Keras axis (batch axis included, may be negative) into a positive full-rank index."""
    ndim = len(input_shape) + 1
    a = axis + ndim if axis < 0 else axis
    if not 1 <= a < ndim:
        raise ShapeError(f"{layer} {name!r}: axis={axis} is out of range for inputs of shape "
                         f"(batch, {', '.join(str(d) for d in input_shape)}); expected an axis "
                         f"from 1 to {ndim - 1} or from -{ndim - 1} to -1 (the batch axis 0 cannot "
                         f"be normalized)")
    if input_shape[a - 1] is None:
        raise ShapeError(f"{layer} {name!r}: axis={axis} of the input shape {input_shape} must be known")
    return a


class BatchNormalization(Layer):
    """Normalizes each feature with batch statistics in training, moving statistics at inference.

    Training (`training=True` and the layer is trainable) computes, per feature along `axis`,
    the mean and biased variance over every other axis, returns
    `gamma * (x - mean) / sqrt(var + epsilon) + beta` and updates
    `moving_mean = moving_mean * momentum + mean * (1 - momentum)` (likewise `moving_variance`
    with the same biased batch variance, as Keras 3's `ops.moments` gives). Inference, and a
    frozen (`trainable=False`) layer as in Keras, use the moving statistics instead.

    Args:
        axis: The features axis, counted with the batch axis (`-1`: channels last).
        momentum: Momentum of the moving averages, in `[0, 1]`.
        epsilon: Positive number added to the variance before the square root.
        center: Whether to add the learned offset `beta`.
        scale: Whether to multiply by the learned factor `gamma`.
        beta_initializer: Initializer of `beta`, shape `(features,)`.
        gamma_initializer: Initializer of `gamma`, shape `(features,)`.
        moving_mean_initializer: Initializer of `moving_mean`.
        moving_variance_initializer: Initializer of `moving_variance`.
        beta_regularizer: Penalty on `beta`.
        gamma_regularizer: Penalty on `gamma`.
        beta_constraint: Projection of `beta` after each step.
        gamma_constraint: Projection of `gamma` after each step.

    Weights, in Keras order: `gamma`, `beta` (trainable), `moving_mean`, `moving_variance`.
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 0.001,
                 center: bool = True, scale: bool = True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.axis = _check_axis_int("BatchNormalization", axis)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.floating)) \
                or not 0 <= momentum <= 1:
            raise ConfigError(f"BatchNormalization: momentum must be a number in [0, 1] such as 0.99, "
                              f"got {momentum!r}")
        self.momentum = float(momentum)
        self.epsilon = _check_epsilon("BatchNormalization", epsilon)
        self.center = _check_bool("BatchNormalization", "center", center)
        self.scale = _check_bool("BatchNormalization", "scale", scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)

    def compute_output_shape(self, input_shape):
        _resolve_axis("BatchNormalization", self.name, self.axis, tuple(input_shape))
        return tuple(input_shape)

    def build(self, input_shape, rng):
        a = _resolve_axis("BatchNormalization", self.name, self.axis, tuple(input_shape))
        ndim = len(input_shape) + 1
        self._ax = a
        self._reduce = tuple(i for i in range(ndim) if i != a)
        self._bshape = tuple(input_shape[a - 1] if i == a else 1 for i in range(ndim))
        shape = (input_shape[a - 1],)
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer, rng, regularizer=self.gamma_regularizer,
                            constraint=self.gamma_constraint)
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer, rng, regularizer=self.beta_regularizer,
                            constraint=self.beta_constraint)
        self.add_weight("moving_mean", shape, self.moving_mean_initializer, rng, trainable=False)
        self.add_weight("moving_variance", shape, self.moving_variance_initializer, rng, trainable=False)

    def _check_input(self, x):
        if x.ndim != len(self._bshape) or x.shape[self._ax] != self._bshape[self._ax]:
            raise ShapeError(f"BatchNormalization {self.name!r}: expected inputs of shape "
                             f"(batch, {', '.join(str(d) for d in self.input_shape)}), got {x.shape}")

    def forward(self, x, *, training=False):
        self._check_input(x)
        b = self._bshape
        gamma = self.params["gamma"].reshape(b) if self.scale else None
        self._training = bool(training) and self.trainable
        if self._training:
            mean = x.mean(axis=self._reduce, keepdims=True)
            xhat = x - mean
            y = np.square(xhat)
            var = y.mean(axis=self._reduce, keepdims=True)
            inv = var + self.epsilon
            np.sqrt(inv, out=inv)
            np.reciprocal(inv, out=inv)
            xhat *= inv
            self._xhat, self._inv = xhat, inv
            # y reuses the squares' buffer.
            if gamma is not None:
                np.multiply(xhat, gamma, out=y)
            else:
                y[...] = xhat
            if self.center:
                y += self.params["beta"].reshape(b)
            # Moving averages, in place (the model may hold these arrays as views).
            m = self.momentum
            for key, stat in (("moving_mean", mean), ("moving_variance", var)):
                moving = self.state[key]
                moving *= m
                moving += (1.0 - m) * stat.reshape(-1)
            return y
        # Inference: y = x * (gamma / sqrt(mv + eps)) + (beta - mm * gamma / sqrt(mv + eps)).
        inv = (1.0 / np.sqrt(self.state["moving_variance"] + self.epsilon)).reshape(b)
        self._x, self._inv = x, inv
        mult = inv * gamma if gamma is not None else inv
        shift = -self.state["moving_mean"].reshape(b) * mult
        if self.center:
            shift += self.params["beta"].reshape(b)
        y = x * mult
        y += shift
        return y

    def backward(self, grad_out):
        b = self._bshape
        red = self._reduce
        scale = self.params["gamma"].reshape(b) if self.scale else None
        if self._training:
            xhat, inv = self._xhat, self._inv
            n = xhat.size // xhat.shape[self._ax]
            tmp = grad_out * xhat
            dgamma = tmp.sum(axis=red)
            dbeta = grad_out.sum(axis=red)
            if self.scale:
                self.grads["gamma"][...] = dgamma
            if self.center:
                self.grads["beta"][...] = dbeta
            if not self.needs_input_grad:
                return None
            # dx = gamma * inv * (g - mean(g) - xhat * mean(g * xhat)), reusing tmp's buffer.
            np.multiply(xhat, (dgamma / n).reshape(b), out=tmp)
            np.subtract(grad_out, tmp, out=tmp)
            tmp -= (dbeta / n).reshape(b)
            tmp *= inv * scale if scale is not None else inv
            return tmp
        x, inv = self._x, self._inv
        if self.scale:
            xhat = x - self.state["moving_mean"].reshape(b)
            xhat *= inv
            xhat *= grad_out
            self.grads["gamma"][...] = xhat.sum(axis=red)
        if self.center:
            self.grads["beta"][...] = grad_out.sum(axis=red)
        if not self.needs_input_grad:
            return None
        return grad_out * (inv * scale if scale is not None else inv)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}


class LayerNormalization(Layer):
    """Normalizes each sample over `axis`: `gamma * (x - mean) / sqrt(var + epsilon) + beta`.

    Mean and (biased) variance are taken per sample over the axes in `axis`; `gamma` and `beta`
    span those axes in increasing order (shape `tuple(input_shape[a] for a in sorted(axis))`, as in Keras 3.14+). With
    `rms_scaling=True` it computes Keras 3's `x * gamma / sqrt(var + epsilon)` (no centring,
    no `beta`).

    Args:
        axis: An axis or list of axes, counted with the batch axis (`-1`: the last).
        epsilon: Positive number added to the variance before the square root.
        center: Whether to add the learned offset `beta`.
        scale: Whether to multiply by the learned factor `gamma`.
        rms_scaling: Keras 3's RMS variant; ignores `center` and `scale`.
        beta_initializer: Initializer of `beta`.
        gamma_initializer: Initializer of `gamma`.
        beta_regularizer: Penalty on `beta`.
        gamma_regularizer: Penalty on `gamma`.
        beta_constraint: Projection of `beta` after each step.
        gamma_constraint: Projection of `gamma` after each step.

    Weights, in Keras order: `gamma`, `beta`.
    """

    def __init__(self, axis=-1, epsilon: float = 0.001, center: bool = True, scale: bool = True,
                 rms_scaling: bool = False, beta_initializer="zeros", gamma_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if not axis:
                raise ConfigError("LayerNormalization: axis must be an int or a non-empty list of ints, got []")
            self.axis = [_check_axis_int("LayerNormalization", a) for a in axis]
        else:
            self.axis = _check_axis_int("LayerNormalization", axis)
        self.epsilon = _check_epsilon("LayerNormalization", epsilon)
        self.center = _check_bool("LayerNormalization", "center", center)
        self.scale = _check_bool("LayerNormalization", "scale", scale)
        self.rms_scaling = _check_bool("LayerNormalization", "rms_scaling", rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)

    def _axes(self, input_shape) -> list[int]:
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        resolved = [_resolve_axis("LayerNormalization", self.name, a, tuple(input_shape)) for a in axes]
        if len(set(resolved)) != len(resolved):
            raise ConfigError(f"LayerNormalization {self.name!r}: axis={self.axis} names the same axis twice")
        return resolved

    def compute_output_shape(self, input_shape):
        self._axes(input_shape)
        return tuple(input_shape)

    def build(self, input_shape, rng):
        axes = self._axes(input_shape)
        ndim = len(input_shape) + 1
        # Keras >= 3.14 sorts the axes before shaping gamma/beta (keras-team/keras#22296).
        shape = tuple(input_shape[a - 1] for a in sorted(axes))
        self._norm_axes = tuple(sorted(axes))
        self._other_axes = tuple(i for i in range(ndim) if i not in axes)
        self._bshape = tuple(input_shape[i - 1] if i in axes else 1 for i in range(ndim))
        self._use_gamma = self.scale or self.rms_scaling
        self._use_beta = self.center and not self.rms_scaling
        if self._use_gamma:
            self.add_weight("gamma", shape, self.gamma_initializer, rng, regularizer=self.gamma_regularizer,
                            constraint=self.gamma_constraint)
        if self._use_beta:
            self.add_weight("beta", shape, self.beta_initializer, rng, regularizer=self.beta_regularizer,
                            constraint=self.beta_constraint)

    def forward(self, x, *, training=False):
        if x.ndim != len(self._bshape) or any(x.shape[i] != self._bshape[i] for i in self._norm_axes):
            raise ShapeError(f"LayerNormalization {self.name!r}: expected inputs of shape "
                             f"(batch, {', '.join(str(d) for d in self.input_shape)}), got {x.shape}")
        axes = self._norm_axes
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        y = np.square(xc)
        var = y.mean(axis=axes, keepdims=True)
        var += self.epsilon
        inv = np.sqrt(var, out=var)
        np.reciprocal(inv, out=inv)
        self._inv = inv
        if self.rms_scaling:
            # Keras 3: x * rsqrt(var + eps) * gamma (x itself is not centred).
            self._x, self._xc = x, xc
            np.multiply(x, inv, out=y)
            y *= self.params["gamma"].reshape(self._bshape)
            return y
        xc *= inv
        self._xhat = xc
        if self._use_gamma:
            np.multiply(xc, self.params["gamma"].reshape(self._bshape), out=y)
        else:
            y[...] = xc
        if self._use_beta:
            y += self.params["beta"].reshape(self._bshape)
        return y

    def backward(self, grad_out):
        b, axes, other = self._bshape, self._norm_axes, self._other_axes
        inv = self._inv
        n = int(np.prod([b[i] for i in axes]))
        if self.rms_scaling:
            gamma = self.params["gamma"]
            xs = self._x * inv
            self.grads["gamma"][...] = (grad_out * xs).sum(axis=other).reshape(gamma.shape)
            if not self.needs_input_grad:
                return None
            # y = x * inv * gamma, inv = (var + eps)^-1/2, dvar/dx = 2 (x - mean) / n.
            dxs = grad_out * gamma.reshape(b)
            s = (dxs * self._x).sum(axis=axes, keepdims=True)
            grad_in = dxs * inv
            grad_in -= self._xc * (s * inv ** 3 / n)
            return grad_in
        xhat = self._xhat
        if self._use_beta:
            self.grads["beta"][...] = grad_out.sum(axis=other).reshape(self.grads["beta"].shape)
        if self._use_gamma:
            gamma = self.params["gamma"]
            self.grads["gamma"][...] = (grad_out * xhat).sum(axis=other).reshape(gamma.shape)
            dxhat = grad_out * gamma.reshape(b)
        else:
            dxhat = grad_out.copy()
        if not self.needs_input_grad:
            return None
        # dx = inv * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) over the normalized axes.
        m1 = dxhat.mean(axis=axes, keepdims=True)
        m2 = (dxhat * xhat).mean(axis=axes, keepdims=True)
        dxhat -= m1
        dxhat -= xhat * m2
        dxhat *= inv
        return dxhat

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis) if isinstance(self.axis, list) else self.axis,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "rms_scaling": self.rms_scaling,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}

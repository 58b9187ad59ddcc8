"""Core layers: Dense, Activation, Dropout, Flatten, Reshape."""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import activations, constraints, initializers, regularizers
from tuinet.nn.layers.base import Layer, check_bool, check_positive_int, check_rate, check_seed, prod


class Dense(Layer):
    """Fully connected layer computing `activation(x @ kernel + bias)` over the last axis.

    Args:
        units: Width of the output.
        activation: A registry name such as "relu", or an Activation instance (default linear).
        use_bias: Whether to add `bias`.
        kernel_initializer: Initializer of `kernel`, shape `(in, units)`.
        bias_initializer: Initializer of `bias`, shape `(units,)`.
        kernel_regularizer: Penalty on `kernel` ("l2", `regularizers.L2(0.01)`...).
        bias_regularizer: Penalty on `bias`.
        kernel_constraint: Projection of `kernel` after each step ("max_norm", `constraints.MaxNorm(3)`...).
        bias_constraint: Projection of `bias` after each step.
    """

    supports_masking = True

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("Dense", "units", units)
        self.activation = activations.get(activation)
        self.use_bias = check_bool(type(self).__name__, "use_bias", use_bias)
        self._weight_args(locals(), 'kernel', 'bias')

    def compute_output_shape(self, input_shape):
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ShapeError(f"Dense {self.name!r}: needs inputs with a known last axis, got shape {input_shape}")
        return (*input_shape[:-1], self.units)

    def build(self, input_shape, rng):
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer, rng,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, rng, regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint)

    def forward(self, x, *, training=False):
        if x.ndim > 2:
            self._lead = x.shape[:-1]
            x = x.reshape(-1, x.shape[-1])
        else:
            self._lead = None
        self._x = x
        z = x @ self.params["kernel"]
        if self.use_bias:
            z += self.params["bias"]
        self._z = z
        a = self.activation(z)
        self._a = a
        return a if self._lead is None else a.reshape(*self._lead, self.units)

    def backward(self, grad_out):
        if self._lead is not None:
            grad_out = grad_out.reshape(-1, self.units)
        return self.backward_linear(self.activation.backward(self._z, self._a, grad_out))

    def backward_linear(self, grad_z):
        if self._lead is not None:
            grad_z = grad_z.reshape(-1, self.units)
        np.matmul(self._x.T, grad_z, out=self.grads["kernel"])
        if self.use_bias:
            np.sum(grad_z, axis=0, out=self.grads["bias"])
        if not self.needs_input_grad:
            return None
        grad_in = grad_z @ self.params["kernel"].T
        return grad_in if self._lead is None else grad_in.reshape(*self._lead, grad_in.shape[-1])

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


class Activation(Layer):
    """Applies an activation function: `Activation("softmax")`."""

    def __init__(self, activation, **kwargs) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x, *, training=False):
        self._z = x
        self._a = self.activation(x)
        return self._a

    def backward(self, grad_out):
        return self.activation.backward(self._z, self._a, grad_out)

    def backward_linear(self, grad_z):
        return grad_z

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Sets a fraction `rate` of inputs to 0 during training and scales the rest by `1/(1-rate)`.

    Does nothing at inference. `noise_shape` (with None for "same as input") shares the mask
    along axes of size 1, as in Keras: one entry per input axis, batch first, each None, 1 or
    the input's size (the batch entry None or 1, since the last batch is smaller). One that does
    not broadcast with the input is a `ShapeError` when the model is built, naming the layer.
    """

    supports_masking = True

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.rate = check_rate(kind, "rate", rate)
        if noise_shape is not None and (not isinstance(noise_shape, (tuple, list)) or not all(
                d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0)
                for d in noise_shape)):
            raise ConfigError(f"{kind}: noise_shape must be a tuple of positive ints or None (one per input "
                              f"axis, batch first, such as (None, 1, 8)), got {noise_shape!r}")
        self.noise_shape = None if noise_shape is None else tuple(None if d is None else int(d) for d in noise_shape)
        self.seed = check_seed(kind, "seed", seed)
        self._rng = np.random.default_rng(seed)

    def compute_output_shape(self, input_shape):
        if self.noise_shape is not None:
            full = (None, *input_shape)
            if len(self.noise_shape) != len(full) or not all(
                    n is None or n == 1 or n == d for n, d in zip(self.noise_shape[1:], full[1:])) \
                    or self.noise_shape[0] not in (None, 1):
                raise ShapeError(f"{type(self).__name__} {self.name!r}: noise_shape {self.noise_shape} does not "
                                 "broadcast with "
                                 f"inputs of shape {full}; expected {len(full)} entries, each None, 1 or the "
                                 f"input's size (None or 1 for the batch axis)")
        return tuple(input_shape)

    def build(self, input_shape, rng):
        if self.seed is None:
            self._rng = np.random.default_rng(rng.integers(2**63))
        else:
            self._rng = np.random.default_rng(self.seed)

    def forward(self, x, *, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        shape = x.shape
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(x.shape, self.noise_shape))
        keep = self._rng.random(shape, dtype=np.float64 if x.dtype == np.float64 else np.float32) >= self.rate
        self._mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self._mask

    def backward(self, grad_out):
        return grad_out if self._mask is None else grad_out * self._mask

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape), "seed": self.seed}


class Flatten(Layer):
    """Flattens each sample to one axis: `(batch, 28, 28, 1)` -> `(batch, 784)`."""

    def compute_output_shape(self, input_shape):
        return (prod(input_shape),)

    def forward(self, x, *, training=False):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out):
        return grad_out.reshape(self._shape)


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(target_shape, (tuple, list)) or not target_shape or not all(
            isinstance(d, (int, np.integer)) and (d > 0 or d == -1) for d in target_shape
        ) or list(target_shape).count(-1) > 1:
            raise ConfigError(f"Reshape: target_shape must be a tuple of positive ints with at most one -1, "
                              f"got {target_shape!r}")
        self.target_shape = tuple(int(d) for d in target_shape)

    def compute_output_shape(self, input_shape):
        total = prod(input_shape)
        known = prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if total % known:
                raise ShapeError(f"Reshape {self.name!r}: cannot reshape {input_shape} ({total} values) "
                                 f"to {self.target_shape}")
            return tuple(total // known if d == -1 else d for d in self.target_shape)
        if known != total:
            raise ShapeError(f"Reshape {self.name!r}: cannot reshape {input_shape} ({total} values) "
                             f"to {self.target_shape} ({known} values)")
        return self.target_shape

    def forward(self, x, *, training=False):
        self._shape = x.shape
        return x.reshape(x.shape[0], *self.output_shape)

    def backward(self, grad_out):
        return grad_out.reshape(self._shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}

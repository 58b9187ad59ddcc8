"""Small Keras 3 layers: `Identity`, `Masking`, `UnitNormalization`, `ActivityRegularization`,
`AlphaDropout` and `Lambda`.

Each follows its Keras 3 counterpart (`keras/src/layers/core/identity.py`, `core/masking.py`,
`normalization/unit_normalization.py`, `regularization/activity_regularization.py`,
`regularization/alpha_dropout.py`, `core/lambda_layer.py`), with tuinet's explicit backward pass.
Shapes exclude the batch axis, as everywhere in tuinet.
"""

from __future__ import annotations

import inspect

import numpy as np

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import regularizers
from tuinet.nn.layers.base import Layer
from tuinet.nn.layers.core import Dropout
from tuinet.nn.layers.extra import _number


def _label(layer: Layer) -> str:
    return f"{type(layer).__name__} {layer.name!r}"


# ------------------------------------------------------------------------------------- Identity
class Identity(Layer):
    """Returns its input unchanged (and passes its mask on): a placeholder layer."""

    supports_masking = True

    def forward(self, x, *, training=False):
        return x

    def backward(self, grad_out):
        return grad_out


# -------------------------------------------------------------------------------------- Masking
class Masking(Layer):
    """Masks the time steps whose features all equal `mask_value`.

    On inputs `(batch, timesteps, features)` a step is kept when any feature differs from
    `mask_value`; the output is the input with masked steps set to 0, and the layer hands the
    mask `(batch, timesteps)` to the layers after it (the recurrent layers skip masked steps,
    through Dense and Dropout), as `Embedding(mask_zero=True)` does.

    Args:
        mask_value: The value that marks a padded step.
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mask_value = _number("Masking", "mask_value", mask_value, minimum=None)

    def _keep(self, x: np.ndarray) -> np.ndarray:
        return np.any(np.asarray(x) != self.mask_value, axis=-1)

    def forward(self, x, *, training=False):
        self._kept = self._keep(x)[..., None]
        return np.where(self._kept, x, x.dtype.type(0))

    def backward(self, grad_out):
        return np.where(self._kept, grad_out, grad_out.dtype.type(0))

    def compute_mask(self, x, mask):
        return self._keep(x)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


# ---------------------------------------------------------------------------- UnitNormalization
class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over `axis`: `x / max(||x||, 1e-12)`.

    Keras computes `x * min(rsqrt(sum(x**2)), 1 / epsilon)` with epsilon 1e-12 (`ops.normalize`),
    which is the same thing.

    Args:
        axis: The axis or list of axes normalised together, counted with the batch axis (0)
            as in Keras; -1 is the last axis.
    """

    supports_masking = True
    epsilon = 1e-12

    def __init__(self, axis=-1, **kwargs) -> None:
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
            raise ConfigError(f"UnitNormalization: axis must be an int or a list of ints, got {axis!r}")
        self.axis = [int(a) for a in axes] if isinstance(axis, (list, tuple)) else int(axis)

    def _axes(self) -> tuple[int, ...]:
        return tuple(self.axis) if isinstance(self.axis, list) else (self.axis,)

    def compute_output_shape(self, input_shape):
        rank = len(input_shape) + 1
        for a in self._axes():
            if not -rank <= a < rank:
                raise ShapeError(f"{_label(self)}: axis {self.axis} is out of range for inputs of shape "
                                 f"{(None, *input_shape)}")
        return tuple(input_shape)

    def forward(self, x, *, training=False):
        if x.dtype.kind != "f":
            x = x.astype(self.compute_dtype)
        axes = self._axes()
        norm = np.sqrt(np.sum(np.square(x), axis=axes, keepdims=True))
        self._small = norm < self.epsilon  # the norm was clipped: the output is x / epsilon
        self._inv = 1 / np.maximum(norm, x.dtype.type(self.epsilon))
        self._y = x * self._inv
        return self._y

    def backward(self, grad_out):
        # d(x / n)/dx = (I - y y^T) / n for n = ||x||; the clipped case is (1 / epsilon) I.
        proj = np.sum(grad_out * self._y, axis=self._axes(), keepdims=True)
        proj = np.where(self._small, proj.dtype.type(0), proj)
        return (grad_out - self._y * proj) * self._inv

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis) if isinstance(self.axis, list) else self.axis}


# ----------------------------------------------------------------------- ActivityRegularization
class ActivityRegularization(Layer):
    """The identity, adding `(l1 * sum|x| + l2 * sum(x**2)) / batch_size` to the model's loss.

    As Keras 3's activity regularizers, the penalty is divided by the batch size, and it counts
    in `evaluate` too. The penalty is cached by each `forward`: `regularization_loss()` returns
    it (the model adds it to the loss), and `backward` adds its gradient to `grad_out`. The layer
    lists its penalty in `regularizers` (under "activity") once built, so that the models add
    `regularization_loss()`; `add_regularization_grads` has nothing to add (there is no weight).

    Args:
        l1: L1 factor (>= 0).
        l2: L2 factor (>= 0).
    """

    supports_masking = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.l1 = _number("ActivityRegularization", "l1", l1)
        self.l2 = _number("ActivityRegularization", "l2", l2)
        self.penalty = regularizers.L1L2(self.l1, self.l2)
        self._loss = 0.0
        self._x = None

    def build_for(self, input_shape, rng):
        out = super().build_for(input_shape, rng)  # clears `regularizers`
        self.regularizers["activity"] = self.penalty
        return out

    def forward(self, x, *, training=False):
        self._x = x
        batch = x.shape[0] if x.ndim else 1
        self._loss = self.penalty(x) / batch if batch else 0.0
        return x

    def backward(self, grad_out):
        if not self.needs_input_grad:
            return None
        batch = self._x.shape[0] if self._x.ndim else 1
        if not batch:
            return grad_out
        return grad_out + self.penalty.gradient(self._x) * grad_out.dtype.type(1.0 / batch)

    def regularization_loss(self) -> float:
        """The penalty of the last `forward`'s activations."""
        return float(self._loss)

    def add_regularization_grads(self) -> None:
        """Nothing: the penalty's gradient flows through `backward` (the layer has no weights)."""

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}


# --------------------------------------------------------------------------------- AlphaDropout
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class AlphaDropout(Dropout):
    """Dropout for SELU networks: keeps the mean and variance of its inputs (Keras's formula).

    In training each input is kept with probability `1 - rate` or set to SELU's negative
    saturation value `alpha' = -alpha * scale`, then the result is mapped through `a * x + b`
    with `a = ((1 - rate) * (1 + rate * alpha'**2)) ** -0.5` and `b = -a * alpha' * rate`.
    At inference it is the identity. Seeding follows `Dropout`: `seed`, else a stream drawn from
    the model's generator.

    Args:
        rate: Drop probability, in [0, 1).
        noise_shape: Shape of the keep mask (batch first; None entries take the input's size,
            1 shares the draw along that axis), as in `Dropout`.
        seed: Seed of the layer's own generator.
    """

    supports_masking = True
    _scale = None

    def forward(self, x, *, training=False):
        self._scale = None
        if not training or self.rate == 0:
            return x
        shape = x.shape
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(x.shape, self.noise_shape))
        rate, t = self.rate, x.dtype.type
        keep = self._rng.random(shape, dtype=np.float64 if x.dtype == np.float64 else np.float32) >= rate
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * rate
        kept = keep.astype(x.dtype)
        self._scale = kept * t(a)
        return x * self._scale + (1 - kept) * t(a * alpha_p) + t(b)

    def backward(self, grad_out):
        return grad_out if self._scale is None else grad_out * self._scale


# --------------------------------------------------------------------------------------- Lambda
def _takes(function, arg: str) -> bool:
    """Whether `function` names `arg` among its parameters (Keras checks its positional args)."""
    try:
        return arg in inspect.getfullargspec(function).args
    except TypeError:  # a builtin or ufunc without a signature
        return False


class Lambda(Layer):
    """Wraps a NumPy function as a layer: `Lambda(lambda x: x / 255.0)`.

    tuinet has no automatic differentiation, so no gradient can flow back through a Lambda:
    it works where none is needed, before the first layer with weights (preprocessing such as
    scaling or slicing the input), or in a model used only for inference. Training a model with
    a Lambda after a layer with weights raises a `ConfigError` at the first backward pass. A
    Lambda cannot be saved either (a Python function has no config).

    Args:
        function: Called as `function(x, **arguments)` on the NumPy batch; it also gets
            `mask=` and `training=` when it names those parameters, as in Keras.
        output_shape: The output shape without the batch axis, or a function of the full input
            shape (batch first) returning the full output shape. None: found by running
            `function` on zeros of shape `(1, *input_shape)`.
        mask: None (the output has no mask), a function `mask(inputs, input_mask)` giving the
            output mask, or a fixed boolean array.
        arguments: Keyword arguments for `function`.
    """

    #: No gradient flows through this layer (tuinet has no automatic differentiation): a model
    #: may check this to refuse training a Lambda that sits after a layer with weights.
    passes_gradients = False

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise ConfigError(f"Lambda: function must be a Python callable, got {type(function).__name__} "
                              "(Lambda layers cannot be loaded from a saved config: rebuild them in Python)")
        if output_shape is not None and not callable(output_shape):
            if isinstance(output_shape, (int, np.integer)) and not isinstance(output_shape, bool):
                output_shape = (output_shape,)
            if not isinstance(output_shape, (tuple, list)) or not all(
                    d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0)
                    for d in output_shape):
                raise ConfigError(f"Lambda: output_shape must be a tuple of positive ints (no batch axis) or a "
                                  f"function of the input shape, got {output_shape!r}")
            output_shape = tuple(None if d is None else int(d) for d in output_shape)
        if arguments is not None and not isinstance(arguments, dict):
            raise ConfigError(f"Lambda: arguments must be a dict of keyword arguments, got {arguments!r}")
        self.function = function
        self.output_shape_arg = output_shape
        self.mask = mask
        self.arguments = dict(arguments or {})
        self.supports_masking = mask is not None
        self.consumes_mask = _takes(function, "mask")
        self._takes_training = _takes(function, "training")

    def _call(self, x, *, training=False, mask=None):
        kwargs = dict(self.arguments)
        if self.consumes_mask:
            kwargs["mask"] = mask
        if self._takes_training:
            kwargs["training"] = training
        return self.function(x, **kwargs)

    def _probe(self, input_shape, fill: int) -> tuple:
        shape = (1, *(fill if d is None else d for d in input_shape))
        try:
            out = self._call(np.zeros(shape, dtype=self.compute_dtype))
        except Exception as exc:  # noqa: BLE001 - any failure of user code becomes one clear error
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise ShapeError(f"{_label(self)}: could not infer the output shape by running the function on zeros of "
                             f"shape {shape} ({type(exc).__name__}: {first}); pass output_shape=") from None
        out = np.asarray(out)
        if out.ndim == 0:
            raise ShapeError(f"{_label(self)}: the function returned a scalar for a batch of shape {shape}; it must "
                             "keep the batch axis")
        return out.shape[1:]

    def compute_output_shape(self, input_shape):
        if callable(self.output_shape_arg):
            full = tuple(self.output_shape_arg((None, *input_shape)))
            return tuple(full[1:])
        if self.output_shape_arg is not None:
            return tuple(self.output_shape_arg)
        one = self._probe(input_shape, 1)
        if None not in input_shape:
            return tuple(one)
        two = self._probe(input_shape, 2)  # which output axes follow the unknown input axes
        if len(two) != len(one):
            return tuple(one)
        return tuple(a if a == b else None for a, b in zip(one, two))

    def forward(self, x, *, training=False, mask=None):
        out = np.asarray(self._call(x, training=training, mask=mask))
        if out.dtype.kind == "f" and out.dtype != self.compute_dtype:
            out = out.astype(self.compute_dtype)
        return out

    def compute_mask(self, x, mask):
        if callable(self.mask):
            out = self.mask(x, mask)
            return None if out is None else np.asarray(out, dtype=bool)
        return None if self.mask is None else np.asarray(self.mask, dtype=bool)

    def gradient_error(self) -> ConfigError:
        """The error for a gradient that would have to flow back through this layer."""
        return ConfigError(f"Lambda {self.name!r}: gradients cannot flow through a Lambda layer (tuinet has no "
                           "automatic differentiation); put it before the first layer with weights, or use a "
                           "built-in layer")

    def backward(self, grad_out):
        if not self.needs_input_grad:
            return None
        raise self.gradient_error()

    def get_config(self):
        raise ConfigError(f"Lambda {self.name!r}: Lambda layers cannot be saved (nor cloned by clone_model): a Python "
                          "function has no config; save the weights (save_weights) and rebuild the model in Python, "
                          "or use built-in layers")

    @classmethod
    def from_config(cls, config):
        raise ConfigError("Lambda layers cannot be loaded from a config: a Python function cannot be saved; "
                          "rebuild the model in Python")

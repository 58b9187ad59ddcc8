"""More Keras layers: activation layers, shape layers, noise layers and preprocessing.

Activations: `ReLU`, `LeakyReLU`, `PReLU`, `ELU`, `Softmax`. Shapes: `RepeatVector`, `Permute`,
`ZeroPadding1D`, `ZeroPadding2D`, `Cropping1D`, `Cropping2D`, `UpSampling1D`, `UpSampling2D`.
Noise (active only with `training=True`; `backward` reuses the forward pass's noise):
`GaussianNoise`, `GaussianDropout`, `SpatialDropout1D`, `SpatialDropout2D`. Preprocessing:
`Rescaling`, `Normalization` (with `adapt`).

Like every tuinet layer these are channels-last only, and shapes exclude the batch axis.
"""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import constraints, initializers, regularizers
from tuinet.nn.layers.base import Layer, check_positive_int, check_rate, check_seed, check_tuple
from tuinet.nn.layers.conv import check_data_format


def _number(layer: str, arg: str, value, *, minimum: float | None = 0.0, allow_none: bool = False) -> float | None:
    """A real number (>= `minimum` when given), or None when `allow_none`."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum:g}"
        raise ConfigError(f"{layer}: {arg} must be a number{bound}{' or None' if allow_none else ''}, got {value!r}")
    return float(value)


def _seeded_rng(layer, rng: np.random.Generator) -> np.random.Generator:
    """The layer's own stream, as Dropout makes it: from `seed`, else drawn from the model's `rng`."""
    return np.random.default_rng(layer.seed if layer.seed is not None else rng.integers(2**63))


def _float_dtype(x: np.ndarray):
    return np.float64 if x.dtype == np.float64 else np.float32


# ------------------------------------------------------------------------------------ activations
class ReLU(Layer):
    """Rectified linear unit with Keras's options.

    `f(x) = clip(x if x > threshold else 0, 0, max_value) - negative_slope * relu(threshold - x)`:
    `max_value` where `x >= max_value`, `x` where `threshold <= x < max_value`, and
    `negative_slope * (x - threshold)` below the threshold.

    Args:
        max_value: Upper bound of the output (>= 0), or None for no bound.
        negative_slope: Slope below the threshold (>= 0).
        threshold: Where the unit starts passing its input (>= 0).
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_value = _number("ReLU", "max_value", max_value, allow_none=True)
        self.negative_slope = _number("ReLU", "negative_slope", negative_slope)
        self.threshold = _number("ReLU", "threshold", threshold)

    def forward(self, x, *, training=False):
        t = x.dtype.type
        above = x > self.threshold
        pos = np.where(above, x, t(0))
        pass_mask = above
        if self.max_value is not None:
            pass_mask = above & (pos >= 0) & (pos <= self.max_value)
            pos = np.clip(pos, t(0), t(self.max_value))
        self._slope = None
        if self.negative_slope:
            below = x < self.threshold
            pos = pos - t(self.negative_slope) * np.where(below, t(self.threshold) - x, t(0))
            self._slope = below
        self._pass = pass_mask
        return pos

    def backward(self, grad_out):
        grad_in = grad_out * self._pass
        if self._slope is not None:
            grad_in = grad_in + grad_out * (self._slope * grad_out.dtype.type(self.negative_slope))
        return grad_in

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Layer):
    """`x` for `x >= 0`, `negative_slope * x` below.

    Args:
        negative_slope: Slope for negative inputs (>= 0; Keras's default 0.3).
    """

    def __init__(self, negative_slope=0.3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.negative_slope = _number("LeakyReLU", "negative_slope", negative_slope)

    def forward(self, x, *, training=False):
        self._neg = x < 0
        return np.where(self._neg, x * x.dtype.type(self.negative_slope), x)

    def backward(self, grad_out):
        return np.where(self._neg, grad_out * grad_out.dtype.type(self.negative_slope), grad_out)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Leaky ReLU with a learned slope: `x` for `x > 0`, `alpha * x` below.

    Args:
        alpha_initializer: Initializer of `alpha` (default zeros, so it starts as a ReLU).
        alpha_regularizer: Penalty on `alpha`.
        alpha_constraint: Projection of `alpha` after each step ("non_neg"...).
        shared_axes: Axes (1-based, the batch axis being 0) along which `alpha` is shared, such
            as `[1, 2]` for one slope per channel of an image. `alpha` has shape `input_shape`
            with these axes set to 1.
    """

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is not None:
            axes = [shared_axes] if isinstance(shared_axes, (int, np.integer)) else shared_axes
            if not isinstance(axes, (list, tuple)) or not all(
                    isinstance(a, (int, np.integer)) and not isinstance(a, bool) and a >= 1 for a in axes):
                raise ConfigError(f"PReLU: shared_axes must be None or a list of axes >= 1 (the batch axis is 0), "
                                  f"got {shared_axes!r}")
            shared_axes = [int(a) for a in axes]
        self.shared_axes = shared_axes

    def compute_output_shape(self, input_shape):
        for a in self.shared_axes or ():
            if a > len(input_shape):
                raise ShapeError(f"PReLU {self.name!r}: shared axis {a} is out of range for inputs of shape "
                                 f"{(None, *input_shape)}")
        return tuple(input_shape)

    def build(self, input_shape, rng):
        shape = [1 if i + 1 in (self.shared_axes or ()) else d for i, d in enumerate(input_shape)]
        self.add_weight("alpha", tuple(shape), self.alpha_initializer, rng, regularizer=self.alpha_regularizer,
                        constraint=self.alpha_constraint)

    def forward(self, x, *, training=False):
        self._x = x
        self._neg = x < 0
        return np.where(self._neg, x * self.params["alpha"], x)

    def backward(self, grad_out):
        alpha = self.params["alpha"]
        g_alpha = np.where(self._neg, grad_out * self._x, 0)
        lead = g_alpha.ndim - alpha.ndim
        axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(alpha.shape) if d == 1)
        self.grads["alpha"][...] = g_alpha.sum(axis=axes, keepdims=True).reshape(alpha.shape)
        if not self.needs_input_grad:
            return None
        return np.where(self._neg, grad_out * alpha, grad_out)

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint),
                "shared_axes": None if self.shared_axes is None else list(self.shared_axes)}


class ELU(Layer):
    """Exponential linear unit: `x` for `x > 0`, `alpha * (exp(x) - 1)` below.

    Args:
        alpha: Scale of the negative part.
    """

    def __init__(self, alpha=1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.alpha = _number("ELU", "alpha", alpha, minimum=None)

    def forward(self, x, *, training=False):
        self._pos = x > 0
        self._e = np.exp(np.minimum(x, 0))
        return np.where(self._pos, x, x.dtype.type(self.alpha) * (self._e - 1))

    def backward(self, grad_out):
        return np.where(self._pos, grad_out, grad_out * (grad_out.dtype.type(self.alpha) * self._e))

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax over `axis` (an int or a list of ints; negative counts from the end, 0 is the batch).

    Args:
        axis: The axis (or axes) normalised to sum to 1.
    """

    def __init__(self, axis=-1, **kwargs) -> None:
        super().__init__(**kwargs)
        axes = [axis] if isinstance(axis, (int, np.integer)) else axis
        if isinstance(axis, bool) or not isinstance(axes, (list, tuple)) or not axes or not all(
                isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
            raise ConfigError(f"Softmax: axis must be an int or a list of ints, got {axis!r}")
        self.axis = int(axis) if isinstance(axis, (int, np.integer)) else [int(a) for a in axes]

    def _axes(self, ndim: int) -> tuple[int, ...]:
        axes = [self.axis] if isinstance(self.axis, int) else self.axis
        return tuple(a % ndim for a in axes)

    def compute_output_shape(self, input_shape):
        ndim = len(input_shape) + 1
        axes = [self.axis] if isinstance(self.axis, int) else self.axis
        if any(not -ndim <= a < ndim for a in axes) or 0 in self._axes(ndim):
            raise ShapeError(f"Softmax {self.name!r}: axis {self.axis} is out of range (or the batch axis) for "
                             f"inputs of shape {(None, *input_shape)}")
        return tuple(input_shape)

    def forward(self, x, *, training=False):
        axes = self._axes(x.ndim)
        e = np.exp(x - np.max(x, axis=axes, keepdims=True))
        self._y = e / np.sum(e, axis=axes, keepdims=True)
        return self._y

    def backward(self, grad_out):
        y = self._y
        return y * (grad_out - np.sum(grad_out * y, axis=self._axes(y.ndim), keepdims=True))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


# ------------------------------------------------------------------------------------------ shapes
class RepeatVector(Layer):
    """Repeats a `(batch, features)` input `n` times: `(batch, n, features)`.

    Args:
        n: Number of repetitions.
    """

    def __init__(self, n, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n = check_positive_int("RepeatVector", "n", n)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ShapeError(f"RepeatVector {self.name!r}: needs inputs of shape (batch, features), got "
                             f"{(None, *input_shape)}")
        return (self.n, input_shape[0])

    def forward(self, x, *, training=False):
        return np.repeat(x[:, None, :], self.n, axis=1)

    def backward(self, grad_out):
        return grad_out.sum(axis=1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Permute(Layer):
    """Permutes the non-batch axes: `Permute((2, 1))` swaps the first two (1-based, as in Keras).

    Args:
        dims: A permutation of `1..ndim` (the batch axis is not counted).
    """

    def __init__(self, dims, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(dims, (list, tuple)) or not all(isinstance(d, (int, np.integer)) for d in dims) \
                or sorted(int(d) for d in dims) != list(range(1, len(dims) + 1)):
            raise ConfigError(f"Permute: dims must be a permutation of 1..n (the non-batch axes, 1-based) such as "
                              f"(2, 1), got {dims!r}")
        self.dims = tuple(int(d) for d in dims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != len(self.dims):
            raise ShapeError(f"Permute {self.name!r}: dims {self.dims} need inputs with {len(self.dims)} non-batch "
                             f"axes, got shape {(None, *input_shape)}")
        return tuple(input_shape[d - 1] for d in self.dims)

    def forward(self, x, *, training=False):
        return np.transpose(x, (0, *self.dims))

    def backward(self, grad_out):
        return np.transpose(grad_out, np.argsort((0, *self.dims)))

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


def _pair(layer: str, arg: str, value) -> tuple[int, int]:
    """An int or a pair of non-negative ints -> `(before, after)`."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in value):
        raise ConfigError(f"{layer}: {arg} must be a non-negative int or a tuple of 2 such ints, got {value!r}")
    return int(value[0]), int(value[1])


def _pairs2d(layer: str, arg: str, value) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras's 2D padding/cropping: an int, `(rows, cols)`, or `((top, bottom), (left, right))`."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ConfigError(f"{layer}: {arg} must be an int, a tuple of 2 ints or a tuple of 2 tuples of 2 ints, "
                          f"got {value!r}")
    try:
        return _pair(layer, arg, value[0]), _pair(layer, arg, value[1])
    except ConfigError:
        raise ConfigError(f"{layer}: {arg} must be an int, a tuple of 2 ints or a tuple of 2 tuples of 2 "
                          f"non-negative ints, got {value!r}") from None


class ZeroPadding1D(Layer):
    """Pads the time axis of `(batch, steps, channels)` with zeros.

    Args:
        padding: An int (both ends) or `(before, after)`.
        data_format: Only "channels_last" (or None).
    """

    def __init__(self, padding=1, data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.padding = _pair("ZeroPadding1D", "padding", padding)
        self.data_format = check_data_format("ZeroPadding1D", data_format)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ShapeError(f"ZeroPadding1D {self.name!r}: needs inputs of shape (batch, steps, channels), got "
                             f"{(None, *input_shape)}")
        n = input_shape[0]
        return (None if n is None else n + sum(self.padding), input_shape[1])

    def forward(self, x, *, training=False):
        return np.pad(x, ((0, 0), self.padding, (0, 0)))

    def backward(self, grad_out):
        a, b = self.padding
        return grad_out[:, a:grad_out.shape[1] - b]

    def get_config(self):
        return {**super().get_config(), "padding": list(self.padding), "data_format": self.data_format}


class ZeroPadding2D(Layer):
    """Pads the rows and columns of `(batch, rows, cols, channels)` with zeros.

    Args:
        padding: An int, `(rows, cols)` (symmetric), or `((top, bottom), (left, right))`.
        data_format: Only "channels_last" (or None).
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.padding = _pairs2d("ZeroPadding2D", "padding", padding)
        self.data_format = check_data_format("ZeroPadding2D", data_format)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(f"ZeroPadding2D {self.name!r}: needs inputs of shape (batch, rows, cols, channels), "
                             f"got {(None, *input_shape)}")
        return (*(None if d is None else d + sum(p) for d, p in zip(input_shape[:2], self.padding)), input_shape[2])

    def forward(self, x, *, training=False):
        return np.pad(x, ((0, 0), *self.padding, (0, 0)))

    def backward(self, grad_out):
        (t, b), (l, r) = self.padding
        return grad_out[:, t:grad_out.shape[1] - b, l:grad_out.shape[2] - r]

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding], "data_format": self.data_format}


class Cropping1D(Layer):
    """Crops the time axis of `(batch, steps, channels)`.

    Args:
        cropping: An int (both ends) or `(before, after)`.
    """

    def __init__(self, cropping=(1, 1), **kwargs) -> None:
        super().__init__(**kwargs)
        self.cropping = _pair("Cropping1D", "cropping", cropping)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ShapeError(f"Cropping1D {self.name!r}: needs inputs of shape (batch, steps, channels), got "
                             f"{(None, *input_shape)}")
        n = input_shape[0]
        if n is not None and n - sum(self.cropping) <= 0:
            raise ShapeError(f"Cropping1D {self.name!r}: cropping {self.cropping} leaves nothing of {n} steps")
        return (None if n is None else n - sum(self.cropping), input_shape[1])

    def forward(self, x, *, training=False):
        self._shape = x.shape
        a, b = self.cropping
        return x[:, a:x.shape[1] - b]

    def backward(self, grad_out):
        return np.pad(grad_out, ((0, 0), self.cropping, (0, 0)))

    def get_config(self):
        return {**super().get_config(), "cropping": list(self.cropping)}


class Cropping2D(Layer):
    """Crops the rows and columns of `(batch, rows, cols, channels)`.

    Args:
        cropping: An int, `(rows, cols)` (symmetric), or `((top, bottom), (left, right))`.
        data_format: Only "channels_last" (or None).
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cropping = _pairs2d("Cropping2D", "cropping", cropping)
        self.data_format = check_data_format("Cropping2D", data_format)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(f"Cropping2D {self.name!r}: needs inputs of shape (batch, rows, cols, channels), "
                             f"got {(None, *input_shape)}")
        out = []
        for d, c in zip(input_shape[:2], self.cropping):
            if d is not None and d - sum(c) <= 0:
                raise ShapeError(f"Cropping2D {self.name!r}: cropping {self.cropping} leaves nothing of inputs of "
                                 f"shape {(None, *input_shape)}")
            out.append(None if d is None else d - sum(c))
        return (*out, input_shape[2])

    def forward(self, x, *, training=False):
        (t, b), (l, r) = self.cropping
        return x[:, t:x.shape[1] - b, l:x.shape[2] - r]

    def backward(self, grad_out):
        return np.pad(grad_out, ((0, 0), *self.cropping, (0, 0)))

    def get_config(self):
        return {**super().get_config(), "cropping": [list(c) for c in self.cropping],
                "data_format": self.data_format}


class UpSampling1D(Layer):
    """Repeats each time step `size` times: `(batch, steps, c)` -> `(batch, steps * size, c)`.

    Args:
        size: Repetitions of each step.
    """

    def __init__(self, size=2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.size = check_positive_int("UpSampling1D", "size", size)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ShapeError(f"UpSampling1D {self.name!r}: needs inputs of shape (batch, steps, channels), got "
                             f"{(None, *input_shape)}")
        return (None if input_shape[0] is None else input_shape[0] * self.size, input_shape[1])

    def forward(self, x, *, training=False):
        return np.repeat(x, self.size, axis=1)

    def backward(self, grad_out):
        n, steps, c = grad_out.shape
        return grad_out.reshape(n, steps // self.size, self.size, c).sum(axis=2)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def _bilinear_matrix(length: int, scale: int, dtype) -> np.ndarray:
    """The `(length * scale, length)` matrix of a bilinear resize along one axis, as Keras's
    `ops.image.resize` (half-pixel centres: source = (i + 0.5) / scale - 0.5, clamped to the edges)."""
    out = np.zeros((length * scale, length), dtype=dtype)
    src = (np.arange(length * scale) + 0.5) / scale - 0.5
    src = np.clip(src, 0, None)
    lo = np.minimum(np.floor(src).astype(np.int64), length - 1)
    hi = np.minimum(lo + 1, length - 1)
    frac = (src - lo).astype(dtype)
    rows = np.arange(length * scale)
    np.add.at(out, (rows, lo), 1 - frac)
    np.add.at(out, (rows, hi), frac)
    return out


class UpSampling2D(Layer):
    """Repeats rows and columns: `(batch, h, w, c)` -> `(batch, h * size[0], w * size[1], c)`.

    Args:
        size: An int or `(rows, cols)` repetitions.
        data_format: Only "channels_last" (or None).
        interpolation: "nearest" (repeat) or "bilinear" (Keras's resize: half-pixel centres,
            edges clamped, no antialiasing); the others are refused.
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs) -> None:
        super().__init__(**kwargs)
        self.size = check_tuple("UpSampling2D", "size", size, 2)
        self.data_format = check_data_format("UpSampling2D", data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise ConfigError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.interpolation = interpolation

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(f"UpSampling2D {self.name!r}: needs inputs of shape (batch, rows, cols, channels), "
                             f"got {(None, *input_shape)}")
        return (*(None if d is None else d * s for d, s in zip(input_shape[:2], self.size)), input_shape[2])

    def forward(self, x, *, training=False):
        if self.interpolation == "bilinear":
            rows, cols = _bilinear_matrix(x.shape[1], self.size[0], x.dtype), _bilinear_matrix(x.shape[2], self.size[1],
                                                                                               x.dtype)
            self._matrices = (rows, cols)
            return np.einsum("ij,njkc,lk->nilc", rows, x, cols, optimize=True)
        return np.repeat(np.repeat(x, self.size[0], axis=1), self.size[1], axis=2)

    def backward(self, grad_out):
        if self.interpolation == "bilinear":
            rows, cols = self._matrices
            return np.einsum("ij,nilc,lk->njkc", rows, grad_out, cols, optimize=True)
        n, h, w, c = grad_out.shape
        (a, b) = self.size
        return grad_out.reshape(n, h // a, a, w // b, b, c).sum(axis=(2, 4))

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}


# ------------------------------------------------------------------------------------------- noise
class _RandomInTraining(Layer):
    """Base of the layers that draw noise in training (the identity at inference): the seed, the
    layer's own generator (seeded from the model's when `seed` is None), the multiplicative mask
    that backward reuses, and the config of `rate` (or `stddev`) and `seed`."""

    amount = "rate"  # the constructor argument that sizes the noise

    def __init__(self, amount, seed=None, **kwargs) -> None:
        super().__init__(**kwargs)
        check = _number if self.amount == "stddev" else check_rate
        setattr(self, self.amount, check(type(self).__name__, self.amount, amount))
        self.seed = check_seed(type(self).__name__, "seed", seed)
        self._rng = np.random.default_rng(seed)
        self._mask = None

    def build(self, input_shape, rng):
        self._rng = _seeded_rng(self, rng)

    def backward(self, grad_out):
        return grad_out if self._mask is None else grad_out * self._mask

    def get_config(self):
        return {**super().get_config(), self.amount: getattr(self, self.amount), "seed": self.seed}


class GaussianNoise(_RandomInTraining):
    """Adds `N(0, stddev**2)` noise in training; the identity at inference.

    Args:
        stddev: Standard deviation of the noise (>= 0).
        seed: Seed of the layer's own generator (None: drawn from the model's seed).
    """

    amount = "stddev"

    def __init__(self, stddev, seed=None, **kwargs) -> None:
        super().__init__(stddev, seed, **kwargs)

    def forward(self, x, *, training=False):
        if not training or self.stddev == 0:
            return x
        return x + self._rng.standard_normal(x.shape, dtype=_float_dtype(x)) * x.dtype.type(self.stddev)


class GaussianDropout(_RandomInTraining):
    """Multiplies by `N(1, rate / (1 - rate))` noise in training; the identity at inference.

    Args:
        rate: Drop probability of the equivalent Dropout, in [0, 1).
        seed: Seed of the layer's own generator (None: drawn from the model's seed).
    """

    def __init__(self, rate, seed=None, **kwargs) -> None:
        super().__init__(rate, seed, **kwargs)

    def forward(self, x, *, training=False):
        self._mask = None
        if not training or self.rate == 0:
            return x
        stddev = np.sqrt(self.rate / (1.0 - self.rate))
        self._mask = self._rng.standard_normal(x.shape, dtype=_float_dtype(x)) * x.dtype.type(stddev) + 1
        return x * self._mask


class _SpatialDropout(_RandomInTraining):
    """Drops whole channels (one draw per sample and channel) and scales the rest by `1/(1-rate)`."""

    rank = 1

    def __init__(self, rate, seed=None, **kwargs) -> None:
        super().__init__(rate, seed, **kwargs)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != self.rank + 1:
            axes = "steps" if self.rank == 1 else "rows, cols"
            raise ShapeError(f"{type(self).__name__} {self.name!r}: needs inputs of shape (batch, {axes}, channels), "
                             f"got {(None, *input_shape)}")
        return tuple(input_shape)

    def forward(self, x, *, training=False):
        self._mask = None
        if not training or self.rate == 0:
            return x
        shape = (x.shape[0], *([1] * self.rank), x.shape[-1])
        keep = self._rng.random(shape, dtype=_float_dtype(x)) >= self.rate
        self._mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self._mask


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of `(batch, steps, channels)` in training.

    Args:
        rate: Fraction of channels dropped, in [0, 1).
        seed: Seed of the layer's own generator (None: drawn from the model's seed).
    """

    rank = 1


class SpatialDropout2D(_SpatialDropout):
    """Drops whole channels of `(batch, rows, cols, channels)` in training.

    Args:
        rate: Fraction of channels dropped, in [0, 1).
        data_format: Only "channels_last" (or None).
        seed: Seed of the layer's own generator (None: drawn from the model's seed).
    """

    rank = 2

    def __init__(self, rate, data_format=None, seed=None, **kwargs) -> None:
        super().__init__(rate, seed, **kwargs)
        self.data_format = check_data_format("SpatialDropout2D", data_format)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


# ----------------------------------------------------------------------------------- preprocessing
def _scalar_or_list(layer: str, arg: str, value):
    """A number, or a (nested) list of numbers broadcast against the input (per channel...)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or isinstance(value, (str, bool)) or not np.all(np.isfinite(arr)):
        raise ConfigError(f"{layer}: {arg} must be a number or a list of numbers, got {value!r}")
    return arr.tolist()


class Rescaling(Layer):
    """Computes `x * scale + offset` (for example `Rescaling(1 / 255)` for 8-bit images).

    Args:
        scale: A number, or a list broadcast against the input (one per channel).
        offset: A number or a list, likewise.
    """

    def __init__(self, scale, offset=0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale = _scalar_or_list("Rescaling", "scale", scale)
        self.offset = _scalar_or_list("Rescaling", "offset", offset)

    def compute_output_shape(self, input_shape):
        known = tuple(1 if d is None else d for d in input_shape)
        try:
            shape = np.broadcast_shapes(known, np.shape(self.scale), np.shape(self.offset))
        except ValueError:
            shape = None
        if shape != known:
            raise ShapeError(f"Rescaling {self.name!r}: scale {np.shape(self.scale)} / offset "
                             f"{np.shape(self.offset)} do not broadcast with inputs of shape {(None, *input_shape)}")
        return tuple(input_shape)

    def forward(self, x, *, training=False):
        dt = x.dtype if x.dtype.kind == "f" else self.compute_dtype
        return np.asarray(x, dt) * np.asarray(self.scale, dt) + np.asarray(self.offset, dt)

    def backward(self, grad_out):
        return grad_out * np.asarray(self.scale, grad_out.dtype)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """Feature-wise standardisation, `(x - mean) / max(sqrt(variance), 1e-7)`, as in Keras.

    Either pass `mean` and `variance`, or call `adapt(data)` to compute them (the population
    mean and variance over every axis but `axis`). Adapted statistics are the non-trainable
    weights `mean`, `variance` and `count` (Keras's layout; like Keras 3, `adapt` leaves `count`
    at 0). With `mean`/`variance` given the layer has no weights, as in Keras.

    Args:
        axis: The axis (or axes; batch axis 0, negative from the end) that keep their own
            statistics; None for one mean and variance over everything.
        mean: Fixed mean (a number or a list matching the kept axes), or None.
        variance: Fixed variance, given together with `mean`.
        invert: Undo the normalisation instead: `x * max(sqrt(variance), 1e-7) + mean`.
    """

    EPSILON = 1e-7
    """Keras's `backend.epsilon()`: the floor of `sqrt(variance)`."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs) -> None:
        super().__init__(**kwargs)
        if axis is None:
            axes = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axes = (int(axis),)
        elif isinstance(axis, (list, tuple)) and all(
                isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
            axes = tuple(int(a) for a in axis)
        else:
            raise ConfigError(f"Normalization: axis must be an int, a list of ints or None, got {axis!r}")
        self.axis = axes
        if (mean is None) != (variance is None):
            raise ConfigError("Normalization: give both mean and variance, or neither (and call adapt)")
        if mean is not None:
            mean = _scalar_or_list("Normalization", "mean", mean)
            variance = _scalar_or_list("Normalization", "variance", variance)
            if np.shape(mean) != np.shape(variance):
                raise ConfigError(f"Normalization: mean and variance must have the same shape, got "
                                  f"{np.shape(mean)} and {np.shape(variance)}")
            if np.ndim(mean) > len(axes):
                raise ConfigError(f"Normalization: mean has more axes ({np.ndim(mean)}) than axis {list(axes)}")
            if np.any(np.asarray(variance) < 0):
                raise ConfigError("Normalization: variance must be >= 0")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self._adapted: tuple[np.ndarray, np.ndarray] | None = None

    def _layout(self, input_shape):
        """(kept axes of the full shape, statistics shape, broadcast shape)."""
        full = (None, *input_shape)
        ndim = len(full)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ShapeError(f"Normalization {self.name!r}: axis {list(self.axis)} is out of range for inputs of "
                             f"shape {full}")
        keep = tuple(sorted(a % ndim for a in self.axis))
        if any(full[d] is None for d in keep):
            raise ShapeError(f"Normalization {self.name!r}: the kept axes {list(self.axis)} must have a known size "
                             f"(not the batch axis), inputs have shape {full}")
        stats = tuple(full[d] for d in keep)
        bcast = tuple(full[d] if d in keep else 1 for d in range(ndim))
        return keep, stats, bcast

    def compute_output_shape(self, input_shape):
        keep, stats, bcast = self._layout(input_shape)
        if self.input_mean is not None:
            m = np.shape(self.input_mean)
            if m and tuple(stats[len(stats) - len(m):]) != m:
                raise ShapeError(f"Normalization {self.name!r}: mean of shape {m} does not fit the kept axes "
                                 f"{stats} of inputs of shape {(None, *input_shape)}")
        return tuple(input_shape)

    def build(self, input_shape, rng):
        self._keep, stats, self._bcast = self._layout(input_shape)
        if self.input_mean is None:
            mean = self.add_weight("mean", stats, "zeros", rng, trainable=False)
            var = self.add_weight("variance", stats, "ones", rng, trainable=False)
            self.add_weight("count", (), "zeros", rng, trainable=False)
            if self._adapted is not None and self._adapted[0].shape == stats and "_dry_run" not in self.__dict__:
                mean[...], var[...] = self._adapted

    def adapt(self, data) -> None:
        """Set `mean` and `variance` from `data` (an array with the batch axis first, or an iterable of
        such batches): the population statistics over every axis but `axis`."""
        if isinstance(data, np.ndarray):
            data = data.astype(np.float64, copy=False)
        else:  # as in Keras, any other iterable is a sequence of batches
            batches = [np.asarray(b, dtype=np.float64) for b in data]
            if not batches:
                raise ShapeError(f"Normalization {self.name!r}: adapt() got no batches")
            data = np.concatenate(batches)
        if self.input_mean is not None:
            raise ConfigError(f"Normalization {self.name!r}: adapt() needs a layer built without mean/variance")
        if data.ndim < 1 or data.shape[0] == 0:
            raise ShapeError(f"Normalization {self.name!r}: adapt() needs a non-empty batch, got shape {data.shape}")
        if not self.built:
            self.build_for(data.shape[1:], np.random.default_rng(0))
        keep, stats, _ = self._layout(self.input_shape)
        if tuple(data.shape[d] for d in keep) != stats:
            raise ShapeError(f"Normalization {self.name!r}: built for inputs {(None, *self.input_shape)}, adapt() "
                             f"got data of shape {data.shape}")
        reduce = tuple(d for d in range(data.ndim) if d not in keep)
        mean, var = np.mean(data, axis=reduce), np.var(data, axis=reduce)
        self._adapted = (mean, var)
        self.state["mean"][...] = mean
        self.state["variance"][...] = var

    def _stats(self, dtype):
        """(mean, max(sqrt(variance), epsilon)), shaped to broadcast against the input."""
        if self.input_mean is not None:
            mean, var = np.asarray(self.input_mean, dtype), np.asarray(self.input_variance, dtype)
            if mean.ndim:  # Keras aligns given statistics with the trailing kept axes
                shape = [1] * len(self._bcast)
                for i in range(1, mean.ndim + 1):
                    shape[self._keep[-i]] = mean.shape[-i]
                mean, var = mean.reshape(shape), var.reshape(shape)
        else:
            mean = self.state["mean"].reshape(self._bcast).astype(dtype, copy=False)
            var = self.state["variance"].reshape(self._bcast).astype(dtype, copy=False)
        return mean, np.maximum(np.sqrt(var), dtype.type(self.EPSILON))

    def forward(self, x, *, training=False):
        dt = x.dtype if x.dtype.kind == "f" else self.compute_dtype
        x = np.asarray(x, dt)
        mean, self._scale = self._stats(np.dtype(dt))
        return x * self._scale + mean if self.invert else (x - mean) / self._scale

    def backward(self, grad_out):
        return grad_out * self._scale if self.invert else grad_out / self._scale

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": self.input_mean, "variance": self.input_variance}

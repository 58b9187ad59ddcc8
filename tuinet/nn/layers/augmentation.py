"""Keras 3 image augmentation layers: random flips, contrast, translations, rotations and zooms.

`RandomFlip`, `RandomContrast`, `RandomTranslation`, `RandomRotation`, `RandomZoom` transform
channels-last image batches `(batch, height, width, channels)` with a fresh random draw per image,
in training only; at inference (`training=False`) they return their input, as Keras does.

For a fixed draw every augmentation is (piecewise) linear in the image, so `backward` is exact:
flips flip the gradient back, contrast applies its derivative (clipping included), and the
geometric layers scatter-add the gradient through the bilinear (or nearest) weights of the
forward sampling, its adjoint. `backward` reuses the draw of the last `forward`.

`affine_transform` is Keras's `keras.ops.image.affine_transform` (channels-last): each output
pixel `(y, x)` reads the input at `x' = a0 x + a1 y + a2`, `y' = b0 x + b1 y + b2` (divided by
`c0 x + c1 y + 1`), with Keras's fill modes "reflect" (`d c b a | a b c d | d c b a`), "wrap"
(`a b c d | a b c d`), "nearest" (`a a a a | a b c d | d d d d`) and "constant" (`fill_value`).

Each layer follows Keras's conventions for `factor`: a number `f` means `[-f, f]` (for
`RandomContrast`, `[0, f]`), a pair `(lower, upper)` the range itself; translations are fractions
of the image size, rotations fractions of a full turn, and zooms `1 + factor` (a factor above
0 zooms out). The layers draw from their own generator, seeded by `seed` or by the model's seed.
"""

from __future__ import annotations

import math

import numpy as np

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn.layers.base import Layer, check_choice, check_seed
from tuinet.nn.layers.conv import check_data_format

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


# ------------------------------------------------------------------------------------- sampling
def _fix_index(index: np.ndarray, size: int, fill_mode: str) -> np.ndarray:
    """Map integer source indices outside `[0, size)` back inside, as Keras's index fixers do."""
    if fill_mode in ("constant", "nearest"):  # "constant" masks the out-of-range taps separately
        return np.clip(index, 0, size - 1)
    if fill_mode == "wrap":
        return index % size
    # "reflect": half-sample symmetric, through the triangle wave of Keras's `_reflect_index_fixer`.
    s = 2 * size
    return (np.abs((2 * index + 1 + s) % (2 * s) - s) - 1) // 2


class AffineSampler:
    """The sampling plan of one `affine_transform` call, kept for the backward pass.

    The output is `sum_k weight[k] * x[index[k]] + offset`: one tap per pixel for "nearest"
    interpolation, four for "bilinear"; `offset` holds the `fill_value` share of taps that fall
    outside the image with `fill_mode="constant"`.

    Args:
        transforms: `(batch, 8)` rows `[a0, a1, a2, b0, b1, b2, c0, c1]`, output to input.
        shape: `(batch, height, width)` of the images.
        interpolation: "nearest" or "bilinear".
        fill_mode: "reflect", "wrap", "constant" or "nearest".
        fill_value: The value outside the image for "constant".
    """

    def __init__(self, transforms: np.ndarray, shape: tuple[int, int, int], interpolation: str = "bilinear",
                 fill_mode: str = "constant", fill_value: float = 0.0) -> None:
        batch, height, width = shape
        t = np.asarray(transforms, dtype=np.float64).reshape(batch, 8)[:, :, None, None]
        ys, xs = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
        k = t[:, 6] * xs + t[:, 7] * ys + 1.0
        src_x = (t[:, 0] * xs + t[:, 1] * ys + t[:, 2]) / k
        src_y = (t[:, 3] * xs + t[:, 4] * ys + t[:, 5]) / k
        if interpolation == "nearest":
            taps_y = [(np.round(src_y), 1.0)]
            taps_x = [(np.round(src_x), 1.0)]
        else:
            fy, fx = np.floor(src_y), np.floor(src_x)
            wy, wx = src_y - fy, src_x - fx
            taps_y = [(fy, 1.0 - wy), (fy + 1.0, wy)]
            taps_x = [(fx, 1.0 - wx), (fx + 1.0, wx)]
        base = (np.arange(batch) * (height * width))[:, None, None]
        self.shape = (batch, height, width)
        self.index: list[np.ndarray] = []
        self.weight: list[np.ndarray] = []
        self.offset: np.ndarray | None = None
        for iy, wy in taps_y:
            iy = iy.astype(np.int64)
            for ix, wx in taps_x:
                ix = ix.astype(np.int64)
                w = np.broadcast_to(np.asarray(wy * wx, dtype=np.float64), src_x.shape)
                if fill_mode == "constant":
                    inside = (iy >= 0) & (iy < height) & (ix >= 0) & (ix < width)
                    if fill_value != 0.0 and not inside.all():
                        share = np.where(inside, 0.0, w) * fill_value
                        self.offset = share if self.offset is None else self.offset + share
                    w = np.where(inside, w, 0.0)
                flat = base + _fix_index(iy, height, fill_mode) * width + _fix_index(ix, width, fill_mode)
                self.index.append(flat.reshape(-1))
                self.weight.append(np.ascontiguousarray(w).reshape(-1))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Sample `x` of shape `(batch, height, width, channels)` through the plan."""
        channels = x.shape[-1]
        flat = x.reshape(-1, channels)
        out = np.zeros_like(flat)
        for index, weight in zip(self.index, self.weight):
            out += weight.astype(x.dtype)[:, None] * flat[index]
        if self.offset is not None:
            out += self.offset.reshape(-1).astype(x.dtype)[:, None]
        return out.reshape(x.shape)

    def adjoint(self, grad_out: np.ndarray) -> np.ndarray:
        """The transpose of `apply` (without the constant): scatter-adds `grad_out` onto the taps."""
        channels = grad_out.shape[-1]
        size = grad_out.size
        g = grad_out.reshape(-1, channels)
        cols = np.arange(channels)
        index = np.concatenate([(i[:, None] * channels + cols).reshape(-1) for i in self.index])
        values = np.concatenate([(w.astype(grad_out.dtype)[:, None] * g).reshape(-1) for w in self.weight])
        return np.bincount(index, weights=values, minlength=size).astype(grad_out.dtype).reshape(grad_out.shape)


def affine_transform(images, transform, interpolation: str = "bilinear", fill_mode: str = "constant",
                     fill_value: float = 0.0) -> np.ndarray:
    """Keras's `ops.image.affine_transform` for channels-last images, in NumPy.

    Args:
        images: `(batch, height, width, channels)` or one `(height, width, channels)` image.
        transform: `[a0, a1, a2, b0, b1, b2, c0, c1]` or one such row per image, mapping each
            output pixel `(x, y)` to the input point `((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)`
            with `k = c0 x + c1 y + 1`.
        interpolation: "nearest" or "bilinear".
        fill_mode: "reflect", "wrap", "constant" or "nearest": how points outside the input read.
        fill_value: The value outside the input with `fill_mode="constant"`.
    """
    interpolation = check_choice("affine_transform", "interpolation", interpolation, INTERPOLATIONS)
    fill_mode = check_choice("affine_transform", "fill_mode", fill_mode, FILL_MODES)
    images = np.asarray(images)
    if images.dtype.kind != "f":
        images = images.astype(np.float32)
    single = images.ndim == 3
    if single:
        images = images[None]
    if images.ndim != 4:
        raise ShapeError(f"affine_transform: images must be (batch, height, width, channels) or "
                         f"(height, width, channels), got shape {images.shape}")
    transform = np.asarray(transform, dtype=np.float64)
    if transform.ndim == 1:
        transform = transform[None]
    if transform.ndim != 2 or transform.shape[1] != 8 or transform.shape[0] not in (1, images.shape[0]):
        raise ShapeError(f"affine_transform: transform must be (8,) or ({images.shape[0]}, 8), "
                         f"got shape {transform.shape}")
    transform = np.broadcast_to(transform, (images.shape[0], 8))
    out = AffineSampler(transform, images.shape[:3], interpolation, fill_mode, float(fill_value)).apply(images)
    return out[0] if single else out


def translation_matrix(translations: np.ndarray) -> np.ndarray:
    """`(batch, 8)` transforms shifting each image by `(dx, dy)` pixels (rows of `translations`)."""
    t = np.asarray(translations, dtype=np.float64).reshape(-1, 2)
    m = np.zeros((len(t), 8))
    m[:, 0] = m[:, 4] = 1.0
    m[:, 2], m[:, 5] = -t[:, 0], -t[:, 1]
    return m


def rotation_matrix(angles: np.ndarray, height: int, width: int) -> np.ndarray:
    """`(batch, 8)` transforms rotating each image by `angles` degrees about its centre (Keras's)."""
    theta = np.asarray(angles, dtype=np.float64).reshape(-1) * (math.pi / 180.0)
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    cos, sin = np.cos(theta), np.sin(theta)
    m = np.zeros((len(theta), 8))
    m[:, 0], m[:, 1], m[:, 2] = cos, -sin, cx - cx * cos + cy * sin
    m[:, 3], m[:, 4], m[:, 5] = sin, cos, cy - cx * sin - cy * cos
    return m


def zoom_matrix(zooms: np.ndarray, height: int, width: int) -> np.ndarray:
    """`(batch, 8)` transforms scaling each image about its centre; rows of `zooms` are
    `(width_zoom, height_zoom)`, where a zoom above 1 shows more of the image (zooms out)."""
    z = np.asarray(zooms, dtype=np.float64).reshape(-1, 2)
    m = np.zeros((len(z), 8))
    m[:, 0], m[:, 2] = z[:, 0], (width - 1) / 2.0 * (1.0 - z[:, 0])
    m[:, 4], m[:, 5] = z[:, 1], (height - 1) / 2.0 * (1.0 - z[:, 1])
    return m


# ------------------------------------------------------------------------------------- helpers
def _is_number(value) -> bool:
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating)) \
        and bool(np.isfinite(value))


def _factor(layer: str, arg: str, value, low: float, high: float, *, open_low: bool = False,
            symmetric: bool = True) -> tuple[float, float]:
    """Keras's factor: a number `f` means `[-|f|, |f|]` (or `[0, f]` when not `symmetric`), a
    pair `(lower, upper)` itself (sorted); every number must lie in `[low, high]`."""
    bound = f"{'(' if open_low else '['}{low:g}, {high:g}]"

    def ok(v):
        return _is_number(v) and (v > low if open_low else v >= low) and v <= high
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(ok(v) for v in value):
            raise ConfigError(f"{layer}: {arg} must be a number or a pair of numbers in {bound}, got {value!r}")
        lower, upper = sorted(float(v) for v in value)
        return lower, upper
    if not ok(value):
        raise ConfigError(f"{layer}: {arg} must be a number or a pair of numbers in {bound}, got {value!r}")
    f = abs(float(value))
    return (-f, f) if symmetric else (0.0, f)


def _plain(value):
    """A factor argument as JSON-friendly values (tuples become lists)."""
    return [float(v) for v in value] if isinstance(value, (list, tuple)) else float(value)


def _image_shape(layer: Layer, input_shape: tuple) -> tuple:
    if len(input_shape) != 3:
        raise ShapeError(f"{type(layer).__name__} {layer.name!r} expects images of shape (batch, height, width, "
                         f"channels) (channels last), got inputs of shape {(None, *input_shape)}")
    return tuple(input_shape)


class _Augmentation(Layer):
    """Shared plumbing: channels-last image batches, the layer's own generator, identity at inference."""

    def _init_common(self, seed, data_format) -> None:
        self.seed = check_seed(type(self).__name__, "seed", seed)
        self.data_format = check_data_format(type(self).__name__, data_format)
        self._rng = np.random.default_rng(self.seed)
        self._cache = None  # the last training draw, for `backward`

    def compute_output_shape(self, input_shape):
        return _image_shape(self, input_shape)

    def build(self, input_shape, rng):
        self._rng = np.random.default_rng(self.seed if self.seed is not None else rng.integers(2**63))

    def _images(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind != "f":
            x = x.astype(self.compute_dtype)
        if x.ndim != 4:
            raise ShapeError(f"{type(self).__name__} {self.name!r} expects a batch of images (batch, height, width, "
                             f"channels), got shape {x.shape}")
        return x

    def forward(self, x, *, training=False):
        x = self._images(x)
        self._cache = None
        if not training:
            return x
        return self.transform_images(x, self.get_random_transformation(x.shape))

    def backward(self, grad_out):
        if not self.needs_input_grad:
            return None
        return grad_out if self._cache is None else self._backward(grad_out)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}


# -------------------------------------------------------------------------------------- layers
class RandomFlip(_Augmentation):
    """Flips each image of a training batch with probability 1/2; the identity at inference.

    As in Keras, "horizontal_and_vertical" makes one draw per image and flips both ways or
    neither (a half turn).

    Args:
        mode: "horizontal" (left-right), "vertical" (top-bottom) or "horizontal_and_vertical".
        seed: Seed of the layer's own generator (None: drawn from the model's seed).
        data_format: Only "channels_last" (or None).
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mode = check_choice("RandomFlip", "mode", mode, FLIP_MODES)
        self._init_common(seed, data_format)

    def get_random_transformation(self, shape: tuple) -> np.ndarray:
        """One flag per image: flip it or not."""
        return self._rng.uniform(size=shape[0]) <= 0.5

    def _flip(self, x: np.ndarray, flips: np.ndarray) -> np.ndarray:
        axes = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (1, 2)}[self.mode]
        return np.where(np.asarray(flips, bool).reshape(-1, 1, 1, 1), np.flip(x, axes), x)

    def transform_images(self, x: np.ndarray, flips: np.ndarray) -> np.ndarray:
        """Flip the images whose flag in `flips` (one per image) is set."""
        self._cache = np.asarray(flips, bool).reshape(-1)
        return self._flip(self._images(x), self._cache)

    def _backward(self, grad_out):
        return self._flip(grad_out, self._cache)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class RandomContrast(_Augmentation):
    """Scales each image's deviation from its per-channel mean by a random factor, in training.

    Computes `clip((x - mean) * c + mean, *value_range)` with `mean` the mean over height and width
    of each image and channel and `c` drawn uniformly from `[1 - lower, 1 + upper]` per image
    (Keras 3's behaviour: `factor=f` means `c` in `[1, 1 + f]`). The identity at inference.

    Args:
        factor: A number in [0, 1], or a pair `(lower, upper)` of numbers in [0, 1].
        value_range: `(low, high)`: the range of the pixel values; outputs are clipped to it.
        seed: Seed of the layer's own generator (None: drawn from the model's seed).
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factor = _factor("RandomContrast", "factor", factor, 0.0, 1.0, symmetric=False)
        if not isinstance(value_range, (list, tuple)) or len(value_range) != 2 \
                or not all(_is_number(v) for v in value_range) or value_range[0] > value_range[1]:
            raise ConfigError(f"RandomContrast: value_range must be a pair (low, high) of numbers with low <= high, "
                              f"got {value_range!r}")
        self.value_range = tuple(v.item() if isinstance(v, np.generic) else v for v in value_range)
        self._init_common(seed, data_format)

    def get_random_transformation(self, shape: tuple) -> np.ndarray:
        """One contrast factor per image."""
        return self._rng.uniform(1.0 - self.factor[0], 1.0 + self.factor[1], size=shape[0])

    def transform_images(self, x: np.ndarray, factors: np.ndarray) -> np.ndarray:
        """Apply the contrast factors `factors` (one per image)."""
        x = self._images(x)
        c = np.asarray(factors, dtype=x.dtype).reshape(-1, 1, 1, 1)
        mean = x.mean(axis=(1, 2), keepdims=True)
        z = (x - mean) * c + mean
        low, high = self.value_range
        self._cache = (c, (z >= low) & (z <= high))
        return np.clip(z, low, high)

    def _backward(self, grad_out):
        c, inside = self._cache
        g = np.where(inside, grad_out, 0)
        return g * c + g.mean(axis=(1, 2), keepdims=True) * (1 - c)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class _AffineAugmentation(_Augmentation):
    """A random affine transform per image, sampled by `affine_transform`'s plan."""

    def _init_sampling(self, fill_mode, interpolation, fill_value) -> None:
        name = type(self).__name__
        self.fill_mode = check_choice(name, "fill_mode", fill_mode, FILL_MODES)
        self.interpolation = check_choice(name, "interpolation", interpolation, INTERPOLATIONS)
        if not _is_number(fill_value):
            raise ConfigError(f"{name}: fill_value must be a number, got {fill_value!r}")
        self.fill_value = float(fill_value)

    def transform_images(self, x: np.ndarray, transforms: np.ndarray) -> np.ndarray:
        """Apply `(batch, 8)` affine transforms (see `affine_transform`) to the images `x`."""
        x = self._images(x)
        self._cache = AffineSampler(transforms, x.shape[:3], self.interpolation, self.fill_mode, self.fill_value)
        return self._cache.apply(x)

    def _backward(self, grad_out):
        return self._cache.adjoint(grad_out)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


class RandomTranslation(_AffineAugmentation):
    """Shifts each image of a training batch by a random offset; the identity at inference.

    Args:
        height_factor: A fraction of the height: a number `f` in [-1, 1] for a shift drawn from
            `[-f, f] * height`, or a pair `(lower, upper)`; positive shifts move the image down.
        width_factor: Likewise for the width; positive shifts move the image right.
        fill_mode: "reflect", "wrap", "constant" or "nearest": what fills the uncovered pixels.
        interpolation: "bilinear" or "nearest".
        seed: Seed of the layer's own generator (None: drawn from the model's seed).
        fill_value: The fill for `fill_mode="constant"`.
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.height_range = _factor("RandomTranslation", "height_factor", height_factor, -1.0, 1.0)
        self.width_range = _factor("RandomTranslation", "width_factor", width_factor, -1.0, 1.0)
        self.height_factor, self.width_factor = _plain(height_factor), _plain(width_factor)
        self._init_sampling(fill_mode, interpolation, fill_value)
        self._init_common(seed, data_format)

    def get_random_transformation(self, shape: tuple) -> np.ndarray:
        """`(batch, 8)` transforms for random shifts of images of `shape`."""
        batch, height, width = shape[:3]
        dy = self._rng.uniform(*self.height_range, size=batch) * height
        dx = self._rng.uniform(*self.width_range, size=batch) * width
        return translation_matrix(np.stack([dx, dy], axis=1))

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class RandomRotation(_AffineAugmentation):
    """Rotates each image of a training batch by a random angle about its centre; the identity
    at inference.

    Args:
        factor: A fraction of a full turn: a number `f` in [-1, 1] for an angle drawn from
            `[-f, f] * 360` degrees, or a pair `(lower, upper)`; positive angles turn counter-clockwise.
        fill_mode: "reflect", "wrap", "constant" or "nearest": what fills the uncovered pixels.
        interpolation: "bilinear" or "nearest".
        seed: Seed of the layer's own generator (None: drawn from the model's seed).
        fill_value: The fill for `fill_mode="constant"`.
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factor = _factor("RandomRotation", "factor", factor, -1.0, 1.0)
        self._init_sampling(fill_mode, interpolation, fill_value)
        self._init_common(seed, data_format)

    def get_random_transformation(self, shape: tuple) -> np.ndarray:
        """`(batch, 8)` transforms for random rotations of images of `shape`."""
        batch, height, width = shape[:3]
        angles = self._rng.uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, size=batch)
        return rotation_matrix(angles, height, width)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


class RandomZoom(_AffineAugmentation):
    """Zooms each image of a training batch in or out about its centre; the identity at inference.

    Args:
        height_factor: A number `f` in (-1, 1] for a vertical zoom `1 + u` with `u` drawn from
            `[-f, f]`, or a pair `(lower, upper)`; a positive `u` zooms out, a negative one in.
        width_factor: Likewise for the horizontal zoom; None keeps the aspect ratio (the
            vertical zoom is used for both).
        fill_mode: "reflect", "wrap", "constant" or "nearest": what fills the uncovered pixels.
        interpolation: "bilinear" or "nearest".
        seed: Seed of the layer's own generator (None: drawn from the model's seed).
        fill_value: The fill for `fill_mode="constant"`.
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.height_range = _factor("RandomZoom", "height_factor", height_factor, -1.0, 1.0, open_low=True)
        self.width_range = None if width_factor is None else _factor(
            "RandomZoom", "width_factor", width_factor, -1.0, 1.0, open_low=True)
        self.height_factor = _plain(height_factor)
        self.width_factor = None if width_factor is None else _plain(width_factor)
        self._init_sampling(fill_mode, interpolation, fill_value)
        self._init_common(seed, data_format)

    def get_random_transformation(self, shape: tuple) -> np.ndarray:
        """`(batch, 8)` transforms for random zooms of images of `shape`."""
        batch, height, width = shape[:3]
        hz = self._rng.uniform(1.0 + self.height_range[0], 1.0 + self.height_range[1], size=batch)
        wz = hz if self.width_range is None else self._rng.uniform(
            1.0 + self.width_range[0], 1.0 + self.width_range[1], size=batch)
        return zoom_matrix(np.stack([wz, hz], axis=1), height, width)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}

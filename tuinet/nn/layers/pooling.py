"""Pooling layers, channels-last, with Keras 3 arguments: max and average pooling over windows
(1-D and 2-D) and their global versions.

Windowed pooling views the (padded) input as `(batch, out_h, pool_h, out_w, pool_w, channels)`
without copying and reduces it in two vectorised stages: along each window row, then across
rows. Max pooling keeps a mask per stage of where the first maximum sits, so ties go to the
first position in row-major order (as in TensorFlow and PyTorch), and its backward pass routes
each gradient to that one position by multiplying with the masks, writing through the same
kind of strided view of the input gradient: no per-element fancy indexing. "same" padding
follows TensorFlow: max pooling ignores the padding, average pooling divides by the number of
real (non-pad) elements in each window.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn.layers.base import Layer, check_bool, check_choice, check_tuple
from tuinet.nn.layers.conv import check_data_format, padded_input, same_padding, scratch, window


def _stage_max(views, out, bufs):
    """Elementwise max of same-shaped `views` into `out`, and one mask per view marking where it
    holds the first maximum. `bufs(key, dtype)` hands out work arrays of that shape."""
    np.maximum(views[0], views[1], out=out)
    gt = np.greater(views[1], views[0], out=bufs("mask1", np.bool_))
    if len(views) == 2:
        return out, [np.logical_not(gt, out=bufs("mask0", np.bool_)), gt]
    dtype = np.uint8 if len(views) <= 255 else np.int32
    idx = bufs("idx", dtype)
    idx[...] = gt
    step = bufs("step", dtype)
    for j in range(2, len(views)):
        # Indices only grow, so "the last strictly greater one" is a running maximum of j * gt.
        np.greater(views[j], out, out=gt)
        np.maximum(idx, np.multiply(gt, j, out=step, dtype=dtype), out=idx)
        np.maximum(out, views[j], out=out)
    return out, [np.equal(idx, j, out=bufs(f"mask{j}", np.bool_)) for j in range(len(views))]


def _stage_sum(views, out):
    """Elementwise sum of same-shaped `views` into `out`."""
    np.add(views[0], views[1], out=out)
    for v in views[2:]:
        out += v
    return out


def _stage_back(grad, masks, dests) -> None:
    """Route `grad` to `dests[j]` where `masks[j]` is set (zeros elsewhere): `_stage_max`'s backward."""
    for mask, dest in zip(masks, dests):
        np.multiply(grad, mask, out=dest)


def _pool_counts(size: int, pool: int, stride: int, out: int, pad_before: int) -> np.ndarray:
    """Number of real (non-pad) positions in each window along one axis."""
    start = np.arange(out) * stride - pad_before
    return np.minimum(start + pool, size) - np.maximum(start, 0)


class _Pooling(Layer):
    """Shared windowed pooling; see `MaxPooling2D` and friends."""

    rank = 2
    mode = "max"
    _spatial = "(height, width, channels)"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        cls, r = type(self).__name__, self.rank
        self.pool_size = check_tuple(cls, "pool_size", pool_size, r)
        self.strides = self.pool_size if strides is None else check_tuple(cls, "strides", strides, r)
        self.padding = check_choice(cls, "padding", padding, ("valid", "same"))
        self.data_format = check_data_format(cls, data_format)

    def _label(self) -> str:
        return f"{type(self).__name__} {(self.name or self.default_name())!r}"

    def _bufs(self, stage: str, shape: tuple):
        """Work arrays of `shape` for one reduction stage, cached on the layer."""
        return lambda key, dtype: scratch(self, f"{stage}_{key}", shape, dtype)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 1:
            raise ShapeError(f"{self._label()} expects inputs of shape {self._spatial}, got {input_shape}")
        out = []
        for axis, (size, p, s) in enumerate(zip(input_shape[:-1], self.pool_size, self.strides)):
            if size is None:
                out.append(None)
            elif self.padding == "valid":
                if size < p:
                    raise ShapeError(f"{self._label()}: input of shape {input_shape} is too small for pool_size "
                                     f"{self.pool_size} with padding 'valid': spatial axis {axis} has "
                                     f"{size} < {p}; use a smaller pool or padding='same'")
                out.append((size - p) // s + 1)
            else:
                out.append(-(-size // s))
        return (*out, input_shape[-1])

    def _geometry(self, h: int, w: int):
        if self.rank == 1:
            (p,), (s,) = self.pool_size, self.strides
            ph, pw, sh, sw = 1, p, 1, s
        else:
            (ph, pw), (sh, sw) = self.pool_size, self.strides
        if self.padding == "valid":
            if h < ph or w < pw:
                raise ShapeError(f"{self._label()}: input of spatial size {(h, w)[2 - self.rank:]} is too small "
                                 f"for pool_size {self.pool_size} with padding 'valid'")
            pads = ((0, 0), (0, 0))
        else:
            pads = (same_padding(h, ph, sh), same_padding(w, pw, sw))
        oh = (h + sum(pads[0]) - ph) // sh + 1
        ow = (w + sum(pads[1]) - pw) // sw + 1
        return (ph, pw), (sh, sw), pads, (oh, ow)

    def forward(self, x, *, training=False):
        if x.ndim != self.rank + 2:
            raise ShapeError(f"{self._label()} expects inputs of shape (batch, {self._spatial[1:-1]}), "
                             f"got {x.shape}")
        if x.dtype.kind != "f":
            x = x.astype(self.compute_dtype)
        x4 = x[:, None] if self.rank == 1 else x
        n, h, w, c = x4.shape
        (ph, pw), (sh, sw), pads, (oh, ow) = geo = self._geometry(h, w)
        self._geo, self._in_shape4, self._dtype = geo, x4.shape, x.dtype
        padded = pads != ((0, 0), (0, 0))
        if self.mode == "average":
            if padded:
                ch = _pool_counts(h, ph, sh, oh, pads[0][0])
                cw = _pool_counts(w, pw, sw, ow, pads[1][0])
                self._scale = (1.0 / np.multiply.outer(ch, cw)).astype(x.dtype)[None, :, :, None]
            else:
                self._scale = 1.0 / (ph * pw)
        xp = padded_input(self, x4, pads, -np.inf if self.mode == "max" else 0) if padded else x4
        self._xp_shape = xp.shape
        s0, s1, s2, s3 = xp.strides
        # Every window at once: r[n, y, i, x, j, c] = xp[n, y * sh + i, x * sw + j, c].
        r = as_strided(xp, (n, oh, ph, ow, pw, c), (s0, s1 * sh, s1, s2 * sw, s2, s3), writeable=False)
        # Reduce along each window row (over j) first, then across rows (over i): with a strict
        # ">" in each stage, ties go to the first maximum in row-major order.
        views_w = [r[:, :, :, :, j] for j in range(pw)]
        if pw == 1:
            rows = views_w[0]
        else:
            # With one window row (1-D pooling) stage one gives the output: a fresh array.
            rows = np.empty(views_w[0].shape, x.dtype) if ph == 1 \
                else scratch(self, "rows", views_w[0].shape, x.dtype)
            if self.mode == "max":
                rows, self._masks_w = _stage_max(views_w, rows, self._bufs("w", rows.shape))
            else:
                rows = _stage_sum(views_w, rows)
        if ph == 1:
            out = rows[:, :, 0]
        else:
            views_h = [rows[:, :, i] for i in range(ph)]
            out = np.empty(views_h[0].shape, x.dtype)
            if self.mode == "max":
                out, self._masks_h = _stage_max(views_h, out, self._bufs("h", out.shape))
            else:
                out = _stage_sum(views_h, out)
        if np.may_share_memory(out, xp):  # a 1x1 pool: `out` is still a view of the input
            out = out.copy()
        if self.mode == "average":
            out *= self._scale
        return out[:, 0] if self.rank == 1 else out

    def backward(self, grad_out):
        (ph, pw), (sh, sw), pads, (oh, ow) = self._geo
        g = grad_out[:, None] if self.rank == 1 else grad_out
        n, c = g.shape[0], g.shape[-1]
        _, h, w, _ = self._in_shape4
        disjoint = sh >= ph and sw >= pw
        padded = pads != ((0, 0), (0, 0))
        if padded:  # the padded gradient never leaves the layer: reuse it
            dxp = scratch(self, "grad_padded", self._xp_shape, self._dtype)
            dxp.fill(0)
        elif sh == ph and sw == pw and h == oh * ph and w == ow * pw:  # windows tile the input
            dxp = np.empty(self._xp_shape, dtype=self._dtype)
        else:
            dxp = np.zeros(self._xp_shape, dtype=self._dtype)
        shape6 = (n, oh, ph, ow, pw, c)
        if disjoint:  # each input pixel is in at most one window: write through a view of dxp
            s0, s1, s2, s3 = dxp.strides
            dest = as_strided(dxp, shape6, (s0, s1 * sh, s1, s2 * sw, s2, s3))
        else:
            dest = scratch(self, "grad_windows", shape6, self._dtype)
        if self.mode == "max":
            if ph == 1:
                rows = g[:, :, None]
            else:
                rows = scratch(self, "grad_rows", (n, oh, ph, ow, c), self._dtype)
                _stage_back(g, self._masks_h, [rows[:, :, i] for i in range(ph)])
            if pw == 1:
                dest[:, :, :, :, 0] = rows
            else:
                _stage_back(rows, self._masks_w, [dest[:, :, :, :, j] for j in range(pw)])
        else:
            dest[...] = (g * self._scale)[:, :, None, :, None, :]
        if not disjoint:  # overlapping windows: add each offset's share
            for i in range(ph):
                for j in range(pw):
                    view = window(dxp, i, j, (oh, ow), (sh, sw))
                    view += dest[:, :, i, :, j]
        if padded:
            (pt, _), (pl, _) = pads
            dxp = dxp[:, pt:pt + h, pl:pl + w, :].copy()
        return dxp[:, 0] if self.rank == 1 else dxp

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "padding": self.padding,
                "strides": list(self.strides), "data_format": self.data_format}


_POOL_ARGS = """
    Args:
        pool_size: Window size{shape}.
        strides: Step between windows; None (default) means `pool_size`.
        padding: "valid" (no padding) or "same" (TensorFlow's: output `ceil(size / stride)`,
            the odd pad after){extra}.
        data_format: Only "channels_last" (or None) is supported.
"""


class MaxPooling1D(_Pooling):
    """Maximum over windows of steps: `(batch, steps, channels)` -> `(batch, new_steps, channels)`.

    The gradient of each window goes to its maximum (the first one on ties).
    """

    rank, mode, _spatial = 1, "max", "(steps, channels)"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling2D(_Pooling):
    """Maximum over `pool_size` windows: `(batch, h, w, channels)` -> `(batch, new_h, new_w, channels)`.

    The gradient of each window goes to its maximum (the first one, row-major, on ties).
    """

    rank, mode = 2, "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling):
    """Mean over windows of steps: `(batch, steps, channels)` -> `(batch, new_steps, channels)`."""

    rank, mode, _spatial = 1, "average", "(steps, channels)"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(_Pooling):
    """Mean over `pool_size` windows: `(batch, h, w, channels)` -> `(batch, new_h, new_w, channels)`."""

    rank, mode = 2, "average"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


MaxPooling1D.__doc__ += _POOL_ARGS.format(shape=", an int or a tuple of 1 int", extra="")
MaxPooling2D.__doc__ += _POOL_ARGS.format(shape=", an int or a tuple `(ph, pw)`", extra="")
AveragePooling1D.__doc__ += _POOL_ARGS.format(shape=", an int or a tuple of 1 int",
                                              extra="; windows are averaged over their real elements only")
AveragePooling2D.__doc__ += _POOL_ARGS.format(shape=", an int or a tuple `(ph, pw)`",
                                              extra="; windows are averaged over their real elements only")


class _GlobalPooling(Layer):
    """Shared global pooling over every spatial axis."""

    rank = 2
    mode = "max"
    _spatial = "(height, width, channels)"

    def __init__(self, data_format=None, keepdims: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format = check_data_format(type(self).__name__, data_format)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise ConfigError(f"{type(self).__name__}: keepdims must be True or False, got {keepdims!r}")
        self.keepdims = check_bool(type(self).__name__, "keepdims", keepdims)

    def _label(self) -> str:
        return f"{type(self).__name__} {(self.name or self.default_name())!r}"

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 1:
            raise ShapeError(f"{self._label()} expects inputs of shape {self._spatial}, got {input_shape}")
        return (*(1,) * self.rank, input_shape[-1]) if self.keepdims else (input_shape[-1],)

    def forward(self, x, *, training=False):
        if x.ndim != self.rank + 2:
            raise ShapeError(f"{self._label()} expects inputs of shape (batch, {self._spatial[1:-1]}), "
                             f"got {x.shape}")
        if x.dtype.kind != "f":
            x = x.astype(self.compute_dtype)
        self._shape = x.shape
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        if self.mode == "max":
            self._arg = np.argmax(flat, axis=1)
            out = np.take_along_axis(flat, self._arg[:, None, :], axis=1)[:, 0]
        else:
            out = flat.mean(axis=1, dtype=x.dtype)
        return out.reshape(x.shape[0], *(1,) * self.rank, x.shape[-1]) if self.keepdims else out

    def backward(self, grad_out):
        n, c = self._shape[0], self._shape[-1]
        g = grad_out.reshape(n, 1, c)
        if self.mode == "max":
            dx = np.zeros((n, int(np.prod(self._shape[1:-1])), c), dtype=grad_out.dtype)
            np.put_along_axis(dx, self._arg[:, None, :], g, axis=1)
            return dx.reshape(self._shape)
        spatial = int(np.prod(self._shape[1:-1]))
        dx = np.empty((n, spatial, c), dtype=grad_out.dtype)
        np.multiply(g, 1.0 / spatial, out=dx)
        return dx.reshape(self._shape)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling):
    """Maximum over steps: `(batch, steps, channels)` -> `(batch, channels)` (or `(batch, 1, channels)`
    with `keepdims=True`). The gradient goes to the first maximum.

    Args:
        data_format: Only "channels_last" (or None) is supported.
        keepdims: Keep the pooled axis with size 1.
    """

    rank, mode, _spatial = 1, "max", "(steps, channels)"


class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over height and width: `(batch, h, w, channels)` -> `(batch, channels)` (or
    `(batch, 1, 1, channels)` with `keepdims=True`). The gradient goes to the first maximum.

    Args:
        data_format: Only "channels_last" (or None) is supported.
        keepdims: Keep the pooled axes with size 1.
    """

    rank, mode = 2, "max"


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over steps: `(batch, steps, channels)` -> `(batch, channels)` (or `(batch, 1, channels)`
    with `keepdims=True`).

    Args:
        data_format: Only "channels_last" (or None) is supported.
        keepdims: Keep the pooled axis with size 1.
    """

    rank, mode, _spatial = 1, "average", "(steps, channels)"
    consumes_mask = True  # Keras: with a mask (Embedding(mask_zero=True)), the mean of the kept steps

    def forward(self, x, *, training=False, mask=None):
        self._weights = None
        if mask is None or mask.all():
            return super().forward(x, training=training)
        if mask.shape != x.shape[:2]:
            raise ShapeError(f"{self._label()} expects a mask of shape {x.shape[:2]} (batch, steps), got {mask.shape}")
        if x.dtype.kind != "f":
            x = x.astype(self.compute_dtype)
        self._shape = x.shape
        kept = mask.astype(x.dtype)
        count = kept.sum(axis=1, keepdims=True)
        # A row with every step masked gives 0 here (Keras divides 0 by 0 and gives NaN).
        self._weights = (kept / np.maximum(count, 1))[..., None]
        out = (x * self._weights).sum(axis=1)
        return out[:, None, :] if self.keepdims else out

    def backward(self, grad_out):
        if self._weights is None:
            return super().backward(grad_out)
        n, c = self._shape[0], self._shape[-1]
        return grad_out.reshape(n, 1, c) * self._weights


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width: `(batch, h, w, channels)` -> `(batch, channels)` (or
    `(batch, 1, 1, channels)` with `keepdims=True`).

    Args:
        data_format: Only "channels_last" (or None) is supported.
        keepdims: Keep the pooled axes with size 1.
    """

    rank, mode = 2, "average"

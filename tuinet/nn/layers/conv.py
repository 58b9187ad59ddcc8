"""Convolution layers: Conv1D and Conv2D, channels-last, with Keras 3 arguments and weight layouts.

Both layers run through one 2-D engine (a 1-D input `(batch, steps, channels)` is a 2-D input
of height 1). The forward pass is im2col plus one matrix product: the patch matrix has shape
`(batch * out_h * out_w, kh * kw * cin)` with its columns in the kernel's `(kh, kw, cin)`
order, so the kernel `(kh, kw, cin, filters)` reshapes to `(kh * kw * cin, filters)` without
a copy (the bias rides along as one extra row, against a column of ones). The input gradient
is col2im: per kernel offset (`kh * kw` of them), one small matrix product and one strided add
into the padded input gradient. Work arrays that never leave a layer are kept between calls.
"""

from __future__ import annotations


import numpy as np
from numpy.lib.stride_tricks import as_strided

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import activations, constraints, initializers, regularizers
from tuinet.nn.layers.base import Layer, check_bool, check_choice, check_positive_int, check_tuple


def check_data_format(layer: str, data_format) -> str:
    """Accept Keras's `data_format` argument; only "channels_last" is implemented."""
    fmt = data_format.lower() if isinstance(data_format, str) else data_format
    if fmt is None or fmt == "channels_last":
        return "channels_last"
    if fmt == "channels_first":
        raise ConfigError(f"{layer}: data_format 'channels_first' is not supported; tuinet layers are "
                          f"channels-last, so pass data_format='channels_last' (or None)")
    raise ConfigError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")


def same_padding(size: int, k_eff: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of one axis: `(before, after)` with the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return total // 2, total - total // 2


def scratch(layer, key: str, shape: tuple, dtype, init=None) -> np.ndarray:
    """A work array cached on `layer` under `key`, reused while its shape and dtype hold.

    For arrays that never leave the layer (patch matrices, masks, padded inputs): reusing them
    spares the allocator and the page faults of fresh multi-megabyte arrays every step. The
    array is uninitialised, except that `init(array)` runs when a new one is made.
    """
    cache = layer.__dict__.setdefault("_scratch", {})
    buf = cache.get(key)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = cache[key] = np.empty(shape, dtype=dtype)
        if init is not None:
            init(buf)
    return buf


def padded_input(layer, x: np.ndarray, pads, fill) -> np.ndarray:
    """`x` `(N, H, W, C)` padded by `pads` `((top, bottom), (left, right))` with `fill`.

    The result is a work array of `layer` (dtype `layer._dtype`): later calls rewrite only its
    interior, so its border keeps `fill`.
    """
    (pt, pb), (pl, pr) = pads
    n, h, w, c = x.shape
    buf = scratch(layer, "padded", (n, h + pt + pb, w + pl + pr, c), layer._dtype, init=lambda a: a.fill(fill))
    buf[:, pt:pt + h, pl:pl + w, :] = x
    return buf


def window(x: np.ndarray, i: int, j: int, out_hw, strides) -> np.ndarray:
    """View of `x` `(N, H, W, C)` at the kernel offset `(i, j)`: shape `(N, out_h, out_w, C)`."""
    (oh, ow), (sh, sw) = out_hw, strides
    return x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]


class _Conv(Layer):
    """Shared N-D (N = 1 or 2) convolution; see `Conv1D` and `Conv2D`."""

    rank = 2
    _spatial = "(height, width, channels)"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs) -> None:
        super().__init__(**kwargs)
        cls, r = type(self).__name__, self.rank
        self.filters = check_positive_int(cls, "filters", filters)
        self.kernel_size = check_tuple(cls, "kernel_size", kernel_size, r)
        self.strides = check_tuple(cls, "strides", strides, r)
        self.padding = check_choice(cls, "padding", padding, ("valid", "same", "causal") if r == 1
                                    else ("valid", "same"))
        self.data_format = check_data_format(cls, data_format)
        self.dilation_rate = check_tuple(cls, "dilation_rate", dilation_rate, r)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(f"{cls}: strides > 1 is not supported together with dilation_rate > 1 "
                              f"(as in Keras), got strides={self.strides} and dilation_rate={self.dilation_rate}")
        if groups != 1:
            raise ConfigError(f"{cls}: groups must be 1 (grouped convolution is not supported), got {groups!r}")
        self.groups = 1
        self.activation = activations.get(activation)
        self.use_bias = check_bool(type(self).__name__, "use_bias", use_bias)
        self._weight_args(locals(), 'kernel', 'bias')

    def _label(self) -> str:
        return f"{type(self).__name__} {(self.name or self.default_name())!r}"

    # -- shapes -----------------------------------------------------------------------------
    def _check_input_shape(self, input_shape) -> None:
        if len(input_shape) != self.rank + 1:
            raise ShapeError(f"{self._label()} expects inputs of shape {self._spatial}, got {tuple(input_shape)}")
        if input_shape[-1] is None:
            raise ShapeError(f"{self._label()} needs a known number of input channels, got shape "
                             f"{tuple(input_shape)}")

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self._check_input_shape(input_shape)
        out = []
        for axis, (size, k, s, d) in enumerate(zip(input_shape[:-1], self.kernel_size, self.strides,
                                                   self.dilation_rate)):
            if size is None:
                out.append(None)
            elif self.padding == "valid":
                k_eff = d * (k - 1) + 1
                if size < k_eff:
                    raise ShapeError(
                        f"{self._label()}: input of shape {input_shape} is too small for kernel_size "
                        f"{self.kernel_size}" + (f" with dilation_rate {self.dilation_rate}" if d > 1 else "")
                        + f" and padding 'valid': spatial axis {axis} has {size} < {k_eff}; use a smaller "
                        f"kernel or padding='same'")
                out.append((size - k_eff) // s + 1)
            else:
                out.append(-(-size // s))
        return (*out, self.filters)

    def build(self, input_shape, rng):
        self.add_weight("kernel", (*self.kernel_size, input_shape[-1], self.filters), self.kernel_initializer,
                        rng, regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    # -- helpers on the 2-D view --------------------------------------------------------------
    def _geometry(self, h: int, w: int):
        """Kernel, strides, dilation, pads and output size of a `(N, h, w, C)` input, 2-D form."""
        if self.rank == 1:
            (k,), (s,), (d,) = self.kernel_size, self.strides, self.dilation_rate
            kh, kw, sh, sw, dh, dw = 1, k, 1, s, 1, d
        else:
            (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        keh, kew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        if self.padding == "valid":
            pads = ((0, 0), (0, 0))
        elif self.padding == "causal":
            pads = ((0, 0), (kew - 1, 0))
        else:
            pads = (same_padding(h, keh, sh), same_padding(w, kew, sw))
        hp, wp = h + sum(pads[0]), w + sum(pads[1])
        if hp < keh or wp < kew:
            raise ShapeError(f"{self._label()}: input of spatial size {(h, w)[2 - self.rank:]} is too small "
                             f"for kernel_size {self.kernel_size} with padding 'valid'")
        return (kh, kw), (sh, sw), (dh, dw), pads, ((hp - keh) // sh + 1, (wp - kew) // sw + 1)

    def _im2col(self, xp: np.ndarray, oh: int, ow: int) -> np.ndarray:
        """Patch matrix of the padded input `xp`, in a buffer reused while the shapes stay put.

        Many channels: `(N * oh * ow, K)` rows of patches (K = kh * kw * C, the kernel's order),
        filled by one strided copy whose `(kw, C)` runs are contiguous. Few channels (a first
        layer on grayscale or RGB images): the transposed `(K, N * oh * ow)`, filled one kernel
        offset at a time with long contiguous runs, which is several times faster there. With
        a bias, one extra column (row) of ones folds the bias into the matrix product.
        """
        (kh, kw), (sh, sw), (dh, dw) = self._k2, self._s2, self._d2
        n, _, _, c = xp.shape
        m, k, e = n * oh * ow, kh * kw * c, int(self.use_bias)
        self._transposed = transposed = c < 8
        shape = (k + e, m) if transposed else (m, k + e)

        def ones(a):  # the bias's column (row) of ones: the copies below never touch it
            if e:
                a[k if transposed else (slice(None), k)] = 1

        buf = scratch(self, "cols", shape, self._dtype, init=ones)
        if transposed:
            for i in range(kh):
                for j in range(kw):
                    dest = buf[(i * kw + j) * c:(i * kw + j + 1) * c].reshape(c, n, oh, ow)
                    np.copyto(dest, window(xp, i * dh, j * dw, (oh, ow), (sh, sw)).transpose(3, 0, 1, 2))
        else:
            isz = buf.itemsize
            row = (k + e) * isz
            dest = as_strided(buf, (n, oh, ow, kh, kw, c),
                              (row * oh * ow, row * ow, row, kw * c * isz, c * isz, isz))
            s0, s1, s2, s3 = xp.strides
            np.copyto(dest, as_strided(xp, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3),
                                       writeable=False))
        return buf

    def _weight_matrix(self) -> np.ndarray:
        """The kernel as a `(K, filters)` matrix, with the bias as an extra last row if used."""
        kmat = self.params["kernel"].reshape(-1, self.filters)
        if not self.use_bias:
            return kmat
        buf = scratch(self, "wmat", (kmat.shape[0] + 1, self.filters), kmat.dtype)
        buf[:-1] = kmat
        buf[-1] = self.params["bias"]
        return buf

    # -- passes -----------------------------------------------------------------------------
    def forward(self, x, *, training=False):
        kernel = self.params["kernel"]
        if x.ndim != self.rank + 2 or x.shape[-1] != kernel.shape[-2]:
            raise ShapeError(f"{self._label()} expects inputs of shape (batch, {self._spatial[1:-1]}) with "
                             f"{kernel.shape[-2]} channels, got {x.shape}")
        self._dtype = kernel.dtype
        x4 = x[:, None] if self.rank == 1 else x
        n, h, w, c = x4.shape
        self._k2, self._s2, self._d2, self._pads, (oh, ow) = self._geometry(h, w)
        self._in_shape4, self._out3 = x4.shape, (n, oh, ow)
        padded = self._pads != ((0, 0), (0, 0))
        xp = padded_input(self, x4, self._pads, 0) if padded else x4
        self._xp_shape = xp.shape
        self._cols = cols = self._im2col(xp, oh, ow)
        # z stays inside the layer unless the activation is linear (returns z itself): only
        # then does it need a fresh array each call.
        linear = isinstance(self.activation, activations.Linear)
        z = np.empty((n * oh * ow, self.filters), self._dtype) if linear \
            else scratch(self, "z", (n * oh * ow, self.filters), self._dtype)
        np.matmul(cols.T if self._transposed else cols, self._weight_matrix(), out=z)
        z = z.reshape((n, ow, self.filters) if self.rank == 1 else (n, oh, ow, self.filters))
        self._z = z
        self._a = a = self.activation(z)
        if a is z and not linear:  # an activation that hands z back: stop reusing that buffer
            self._scratch.pop("z")
        return a

    def backward(self, grad_out):
        return self.backward_linear(self.activation.backward(self._z, self._a, grad_out))

    def backward_linear(self, grad_z):
        n, oh, ow = self._out3
        f = self.filters
        g = grad_z.reshape(n * oh * ow, f)
        if g.dtype != self._dtype:
            g = g.astype(self._dtype)
        cols = self._cols if self._transposed else self._cols.T
        gk = self.grads["kernel"]
        if self.use_bias:  # one product gives the kernel and the bias gradients
            dw = np.matmul(cols, g, out=scratch(self, "dw", (cols.shape[0], f), self._dtype))
            gk[...] = dw[:-1].reshape(gk.shape)
            self.grads["bias"][...] = dw[-1]
        elif gk.flags.c_contiguous:
            np.matmul(cols, g, out=gk.reshape(-1, f))
        else:  # pragma: no cover - the model keeps grads contiguous
            gk[...] = (cols @ g).reshape(gk.shape)
        if not self.needs_input_grad:
            return None
        (kh, kw), (sh, sw), (dh, dw_) = self._k2, self._s2, self._d2
        c = self._in_shape4[-1]
        k4 = self.params["kernel"].reshape(kh, kw, c, f)
        # col2im, one kernel offset at a time: g @ kernel[i, j].T is a contiguous
        # `(N, oh, ow, C)` slab, so each add runs along whole rows (faster than slicing the
        # full `(M, kh * kw * C)` patch gradient, whose slabs are strided).
        slab = scratch(self, "slab", (n * oh * ow, c), self._dtype)
        slab4 = slab.reshape(n, oh, ow, c)
        padded = self._pads != ((0, 0), (0, 0))
        if padded:  # the padded gradient never leaves the layer: reuse it
            dxp = scratch(self, "dxpad", self._xp_shape, self._dtype)
            dxp.fill(0)
        else:
            dxp = np.zeros(self._xp_shape, dtype=self._dtype)
        for i in range(kh):
            for j in range(kw):
                np.matmul(g, k4[i, j].T, out=slab)
                view = window(dxp, i * dh, j * dw_, (oh, ow), (sh, sw))
                np.add(view, slab4, out=view)
        if padded:
            (pt, _), (pl, _) = self._pads
            _, h, w, _ = self._in_shape4
            dxp = dxp[:, pt:pt + h, pl:pl + w, :].copy()
        return dxp[:, 0] if self.rank == 1 else dxp

    # -- config -----------------------------------------------------------------------------
    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


class Conv1D(_Conv):
    """1-D convolution (cross-correlation) over steps: `activation(conv(x, kernel) + bias)`.

    Input `(batch, steps, channels)`, output `(batch, new_steps, filters)`.

    Args:
        filters: Number of output channels.
        kernel_size: Window length, an int or a tuple of 1 int.
        strides: Step between windows.
        padding: "valid" (no padding), "same" (TensorFlow's: output `ceil(steps / strides)`,
            odd padding at the end) or "causal" (`dilation_rate * (kernel_size - 1)` zeros at
            the start, so output `t` never sees inputs after `t`).
        data_format: Only "channels_last" (or None) is supported.
        dilation_rate: Spacing between kernel taps; > 1 needs `strides=1` (as in Keras).
        groups: Must be 1.
        activation: A registry name such as "relu", or an Activation instance (default linear).
        use_bias: Whether to add `bias`.
        kernel_initializer: Initializer of `kernel`, shape `(kernel_size, channels, filters)`.
        bias_initializer: Initializer of `bias`, shape `(filters,)`.
        kernel_regularizer: Penalty on `kernel`.
        bias_regularizer: Penalty on `bias`.
        kernel_constraint: Projection of `kernel` after each step (`constraints.MaxNorm(2, axis=[0, 1, 2])`...).
        bias_constraint: Projection of `bias` after each step.
    """

    rank = 1
    _spatial = "(steps, channels)"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs) -> None:
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


class Conv2D(_Conv):
    """2-D convolution (cross-correlation) over images: `activation(conv(x, kernel) + bias)`.

    Input `(batch, height, width, channels)`, output `(batch, new_height, new_width, filters)`.

    Args:
        filters: Number of output channels.
        kernel_size: Window size, an int or a tuple `(kh, kw)`.
        strides: Step between windows, an int or a tuple of 2 ints.
        padding: "valid" (no padding) or "same" (TensorFlow's: output `ceil(size / stride)`,
            total padding `max((out - 1) * stride + kernel - size, 0)`, the odd pixel after).
        data_format: Only "channels_last" (or None) is supported.
        dilation_rate: Spacing between kernel taps; > 1 needs `strides=1` (as in Keras).
        groups: Must be 1.
        activation: A registry name such as "relu", or an Activation instance (default linear).
        use_bias: Whether to add `bias`.
        kernel_initializer: Initializer of `kernel`, shape `(kh, kw, channels, filters)`.
        bias_initializer: Initializer of `bias`, shape `(filters,)`.
        kernel_regularizer: Penalty on `kernel`.
        bias_regularizer: Penalty on `bias`.
        kernel_constraint: Projection of `kernel` after each step (`constraints.MaxNorm(2, axis=[0, 1, 2])`...).
        bias_constraint: Projection of `bias` after each step.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs) -> None:
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)

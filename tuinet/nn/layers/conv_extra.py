"""More convolution layers, channels-last, with Keras 3 arguments and weight layouts.

- `DepthwiseConv2D`: each input channel convolved with its own `depth_multiplier` filters;
  output channel `c * depth_multiplier + m` comes from input channel `c` (Keras/TensorFlow
  order), kernel `depthwise_kernel` `(kh, kw, channels, depth_multiplier)`.
- `SeparableConv2D`: a depthwise convolution (no bias) followed by a 1x1 convolution,
  weights `depthwise_kernel`, `pointwise_kernel` `(1, 1, channels * depth_multiplier, filters)`
  and `bias` `(filters,)`.
- `Conv2DTranspose` and `Conv1DTranspose`: the transpose of a convolution, kernel
  `(kh, kw, filters, channels)` as in Keras. The forward pass is a convolution's input gradient
  (a scatter-add of `x @ kernel[i, j].T` per kernel offset into a "full" output, then a crop),
  and the backward pass is a convolution's forward (strided windows of the output gradient).
  Output lengths and paddings follow Keras's formulas (`_get_output_shape_given_tf_padding`
  and `_convert_conv_transpose_padding_args_from_keras_to_jax` in
  `keras/src/backend/common/backend_utils.py`).

All work per kernel offset (`kh * kw` vectorised steps), never per pixel; a 1-D input
`(batch, steps, channels)` runs as a 2-D input of height 1, as in `conv.py`.
"""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import activations, constraints, initializers, regularizers
from tuinet.nn.layers.base import Layer, check_bool, check_choice, check_positive_int, check_tuple
from tuinet.nn.layers.conv import check_data_format, padded_input, same_padding, scratch, window


def conv_output_length(size, k: int, s: int, d: int, padding: str) -> int | None:
    """Output length of a convolution along one axis ("valid" or "same"), None if unknown."""
    if size is None:
        return None
    if padding == "valid":
        return (size - (d * (k - 1) + 1)) // s + 1
    return -(-size // s)


def deconv_output_length(size, k: int, s: int, d: int, padding: str, output_padding: int | None) -> int | None:
    """Keras's transposed-convolution output length along one axis, None if unknown."""
    if size is None:
        return None
    k_eff = d * (k - 1) + 1
    if padding == "valid":
        op = max(k_eff, s) - k_eff if output_padding is None else output_padding
        return (size - 1) * s + k_eff + op
    if output_padding is None:
        return size * s
    return (size - 1) * s + k_eff % 2 + output_padding


def deconv_crop(k: int, s: int, d: int, padding: str, output_padding: int | None) -> int:
    """How many leading positions of the "full" transposed output `((size - 1) * s + k_eff)` are cut.

    Keras (JAX form) pads the stride-dilated input by `left_pad` and correlates it with the
    flipped kernel; that equals the full scatter-add output shifted by `k_eff - 1 - left_pad`.
    """
    k_eff = d * (k - 1) + 1
    if padding == "valid":
        return 0
    pad_len = s + k_eff - 2 if output_padding is None else k_eff + k_eff % 2 - 2 + output_padding
    left = min(pad_len // 2 + pad_len % 2, k_eff - 1)
    return k_eff - 1 - left


class _Spatial(Layer):
    """Shared argument checks and the 1-D-as-2-D view of the layers here."""

    rank = 2
    _spatial = "(height, width, channels)"

    def _label(self) -> str:
        return f"{type(self).__name__} {(self.name or self.default_name())!r}"

    def _common_args(self, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias):
        cls, r = type(self).__name__, self.rank
        self.kernel_size = check_tuple(cls, "kernel_size", kernel_size, r)
        self.strides = check_tuple(cls, "strides", strides, r)
        self.padding = check_choice(cls, "padding", padding, ("valid", "same"))
        self.data_format = check_data_format(cls, data_format)
        self.dilation_rate = check_tuple(cls, "dilation_rate", dilation_rate, r)
        self.activation = activations.get(activation)
        self.use_bias = check_bool(cls, "use_bias", use_bias)

    def _check_input_shape(self, input_shape) -> None:
        if len(input_shape) != self.rank + 1:
            raise ShapeError(f"{self._label()} expects inputs of shape {self._spatial}, got {tuple(input_shape)}")
        if input_shape[-1] is None:
            raise ShapeError(f"{self._label()} needs a known number of input channels, got shape "
                             f"{tuple(input_shape)}")

    def _check_x(self, x, channels: int) -> np.ndarray:
        if x.ndim != self.rank + 2 or x.shape[-1] != channels:
            raise ShapeError(f"{self._label()} expects inputs of shape (batch, {self._spatial[1:-1]}) with "
                             f"{channels} channels, got {x.shape}")
        return x[:, None] if self.rank == 1 else x

    def _geom2(self):
        """Kernel, strides and dilation in 2-D form (height 1 for a 1-D layer)."""
        if self.rank == 1:
            return (1, *self.kernel_size), (1, *self.strides), (1, *self.dilation_rate)
        return self.kernel_size, self.strides, self.dilation_rate

    def _finish(self, z: np.ndarray) -> np.ndarray:
        """Apply the activation to the 4-D pre-activation `z`, caching both for `backward`."""
        z = z[:, 0] if self.rank == 1 else z
        self._z = z
        self._a = self.activation(z)
        return self._a

    def backward(self, grad_out):
        return self.backward_linear(self.activation.backward(self._z, self._a, grad_out))

    def _base_config(self) -> dict:
        return {**super().get_config(), "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate)}


# -- depthwise and separable ------------------------------------------------------------------
class _DepthwiseBase(_Spatial):
    """The depthwise step shared by `DepthwiseConv2D` and `SeparableConv2D`."""

    def _check_depth_multiplier(self, depth_multiplier) -> int:
        return check_positive_int(type(self).__name__, "depth_multiplier", depth_multiplier)

    def _spatial_out(self, input_shape) -> list:
        input_shape = tuple(input_shape)
        self._check_input_shape(input_shape)
        out = []
        for axis, (size, k, s, d) in enumerate(zip(input_shape[:-1], self.kernel_size, self.strides,
                                                   self.dilation_rate)):
            if size is not None and self.padding == "valid" and size < d * (k - 1) + 1:
                raise ShapeError(f"{self._label()}: input of shape {input_shape} is too small for kernel_size "
                                 f"{self.kernel_size} and padding 'valid': spatial axis {axis} has {size} < "
                                 f"{d * (k - 1) + 1}; use a smaller kernel or padding='same'")
            out.append(conv_output_length(size, k, s, d, self.padding))
        return out

    def _depthwise_forward(self, x4: np.ndarray) -> np.ndarray:
        """`(N, oh, ow, C * M)` depthwise convolution of `x4` `(N, H, W, C)` (no bias)."""
        kernel = self.params["depthwise_kernel"]
        (kh, kw), (sh, sw), (dh, dw) = self._geom2()
        n, h, w, c = x4.shape
        m = kernel.shape[-1]
        self._dtype = kernel.dtype
        if self.padding == "same":
            pads = (same_padding(h, dh * (kh - 1) + 1, sh), same_padding(w, dw * (kw - 1) + 1, sw))
        else:
            pads = ((0, 0), (0, 0))
        padded = pads != ((0, 0), (0, 0))
        xp = padded_input(self, x4, pads, 0) if padded else x4
        oh = (xp.shape[1] - dh * (kh - 1) - 1) // sh + 1
        ow = (xp.shape[2] - dw * (kw - 1) - 1) // sw + 1
        if oh < 1 or ow < 1:
            raise ShapeError(f"{self._label()}: input of spatial size {(h, w)[2 - self.rank:]} is too small "
                             f"for kernel_size {self.kernel_size} with padding 'valid'")
        self._xp, self._pads, self._in_shape4, self._out_hw = xp, pads, x4.shape, (oh, ow)
        k4 = kernel.reshape(kh, kw, c, m)
        out = np.zeros((n, oh, ow, c, m), dtype=kernel.dtype)
        for i in range(kh):
            for j in range(kw):
                out += window(xp, i * dh, j * dw, (oh, ow), (sh, sw))[..., None] * k4[i, j]
        return out.reshape(n, oh, ow, c * m)

    def _depthwise_backward(self, g4: np.ndarray) -> np.ndarray | None:
        """Fill `grads["depthwise_kernel"]` from dL/d(depthwise output) `g4`; return dL/dx."""
        kernel = self.params["depthwise_kernel"]
        (kh, kw), (sh, sw), (dh, dw) = self._geom2()
        n, h, w, c = self._in_shape4
        oh, ow = self._out_hw
        m = kernel.shape[-1]
        g5 = g4.reshape(n, oh, ow, c, m)
        k4 = kernel.reshape(kh, kw, c, m)
        gk = self.grads["depthwise_kernel"].reshape(kh, kw, c, m)
        xp = self._xp
        for i in range(kh):
            for j in range(kw):
                gk[i, j] = np.einsum("nhwc,nhwcm->cm", window(xp, i * dh, j * dw, (oh, ow), (sh, sw)), g5)
        if not self.needs_input_grad:
            return None
        dxp = np.zeros(xp.shape, dtype=kernel.dtype)
        for i in range(kh):
            for j in range(kw):
                view = window(dxp, i * dh, j * dw, (oh, ow), (sh, sw))
                view += np.einsum("nhwcm,cm->nhwc", g5, k4[i, j])
        (pt, _), (pl, _) = self._pads
        dx = dxp[:, pt:pt + h, pl:pl + w, :]
        return dx[:, 0] if self.rank == 1 else dx


class DepthwiseConv2D(_DepthwiseBase):
    """Depthwise 2-D convolution: each input channel convolved with its own filters.

    Input `(batch, height, width, channels)`, output `(batch, new_height, new_width,
    channels * depth_multiplier)`; output channel `c * depth_multiplier + m` is input channel
    `c` convolved with `depthwise_kernel[:, :, c, m]`.

    Args:
        kernel_size: Window size, an int or a tuple `(kh, kw)`.
        strides: Step between windows, an int or a tuple of 2 ints.
        padding: "valid" or "same" (TensorFlow's, as in `Conv2D`).
        depth_multiplier: Output channels per input channel.
        data_format: Only "channels_last" (or None) is supported.
        dilation_rate: Spacing between kernel taps.
        activation: A registry name such as "relu", or an Activation instance (default linear).
        use_bias: Whether to add `bias`, shape `(channels * depth_multiplier,)`.
        depthwise_initializer: Initializer of `depthwise_kernel`, shape `(kh, kw, channels, depth_multiplier)`.
        bias_initializer: Initializer of `bias`.
        depthwise_regularizer: Penalty on `depthwise_kernel`.
        bias_regularizer: Penalty on `bias`.
        depthwise_constraint: Projection of `depthwise_kernel` after each step.
        bias_constraint: Projection of `bias` after each step.
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 bias_constraint=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._common_args(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias)
        self.depth_multiplier = self._check_depth_multiplier(depth_multiplier)
        self._weight_args(locals(), 'depthwise', 'bias')

    def compute_output_shape(self, input_shape):
        return (*self._spatial_out(input_shape), input_shape[-1] * self.depth_multiplier)

    def build(self, input_shape, rng):
        c = input_shape[-1]
        self.add_weight("depthwise_kernel", (*self.kernel_size, c, self.depth_multiplier),
                        self.depthwise_initializer, rng, regularizer=self.depthwise_regularizer,
                        constraint=self.depthwise_constraint)
        if self.use_bias:
            self.add_weight("bias", (c * self.depth_multiplier,), self.bias_initializer, rng,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def forward(self, x, *, training=False):
        x4 = self._check_x(x, self.params["depthwise_kernel"].shape[-2])
        z = self._depthwise_forward(x4)
        if self.use_bias:
            z += self.params["bias"]
        return self._finish(z)

    def backward_linear(self, grad_z):
        g4 = grad_z[:, None] if self.rank == 1 else grad_z
        g4 = g4.astype(self.params["depthwise_kernel"].dtype, copy=False)
        if self.use_bias:
            self.grads["bias"][...] = g4.sum(axis=(0, 1, 2))
        return self._depthwise_backward(g4)

    def get_config(self):
        return {**self._base_config(), "depth_multiplier": self.depth_multiplier,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


class SeparableConv2D(_DepthwiseBase):
    """Depthwise-separable 2-D convolution: a depthwise convolution, then a 1x1 convolution.

    `activation(pointwise(depthwise(x)) + bias)`. Input `(batch, height, width, channels)`,
    output `(batch, new_height, new_width, filters)`.

    Args:
        filters: Number of output channels.
        kernel_size: Depthwise window size, an int or a tuple `(kh, kw)`.
        strides: Step between windows, an int or a tuple of 2 ints.
        padding: "valid" or "same" (TensorFlow's, as in `Conv2D`).
        data_format: Only "channels_last" (or None) is supported.
        dilation_rate: Spacing between depthwise kernel taps.
        depth_multiplier: Depthwise output channels per input channel.
        activation: A registry name such as "relu", or an Activation instance (default linear).
        use_bias: Whether to add `bias`, shape `(filters,)`.
        depthwise_initializer: Initializer of `depthwise_kernel`, shape `(kh, kw, channels, depth_multiplier)`.
        pointwise_initializer: Initializer of `pointwise_kernel`, shape `(1, 1, channels * depth_multiplier, filters)`.
        bias_initializer: Initializer of `bias`.
        depthwise_regularizer: Penalty on `depthwise_kernel`.
        pointwise_regularizer: Penalty on `pointwise_kernel`.
        bias_regularizer: Penalty on `bias`.
        depthwise_constraint: Projection of `depthwise_kernel` after each step.
        pointwise_constraint: Projection of `pointwise_kernel` after each step.
        bias_constraint: Projection of `bias` after each step.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.filters = check_positive_int(type(self).__name__, "filters", filters)
        self._common_args(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias)
        self.depth_multiplier = self._check_depth_multiplier(depth_multiplier)
        self._weight_args(locals(), 'depthwise', 'pointwise', 'bias')

    def compute_output_shape(self, input_shape):
        return (*self._spatial_out(input_shape), self.filters)

    def build(self, input_shape, rng):
        c = input_shape[-1]
        self.add_weight("depthwise_kernel", (*self.kernel_size, c, self.depth_multiplier),
                        self.depthwise_initializer, rng, regularizer=self.depthwise_regularizer,
                        constraint=self.depthwise_constraint)
        self.add_weight("pointwise_kernel", (*(1,) * self.rank, c * self.depth_multiplier, self.filters),
                        self.pointwise_initializer, rng, regularizer=self.pointwise_regularizer,
                        constraint=self.pointwise_constraint)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng, regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint)

    def forward(self, x, *, training=False):
        x4 = self._check_x(x, self.params["depthwise_kernel"].shape[-2])
        d = self._depthwise_forward(x4)
        self._d = d
        p = self.params["pointwise_kernel"].reshape(-1, self.filters)
        z = (d.reshape(-1, d.shape[-1]) @ p).reshape(*d.shape[:-1], self.filters)
        if self.use_bias:
            z += self.params["bias"]
        return self._finish(z)

    def backward_linear(self, grad_z):
        dtype = self.params["depthwise_kernel"].dtype
        g4 = (grad_z[:, None] if self.rank == 1 else grad_z).astype(dtype, copy=False)
        f, d = self.filters, self._d
        g2 = g4.reshape(-1, f)
        self.grads["pointwise_kernel"][...] = (d.reshape(-1, d.shape[-1]).T @ g2).reshape(
            self.grads["pointwise_kernel"].shape)
        if self.use_bias:
            self.grads["bias"][...] = g2.sum(axis=0)
        gd = (g2 @ self.params["pointwise_kernel"].reshape(-1, f).T).reshape(d.shape)
        return self._depthwise_backward(gd)

    def get_config(self):
        return {**self._base_config(), "filters": self.filters, "depth_multiplier": self.depth_multiplier,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
                "pointwise_constraint": constraints.serialize(self.pointwise_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


# -- transposed convolutions ------------------------------------------------------------------
class _ConvTranspose(_Spatial):
    """Shared N-D (N = 1 or 2) transposed convolution; see `Conv1DTranspose` and `Conv2DTranspose`."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs) -> None:
        super().__init__(**kwargs)
        cls, r = type(self).__name__, self.rank
        self.filters = check_positive_int(cls, "filters", filters)
        self._common_args(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias)
        if output_padding is None:
            self.output_padding = None
        else:
            op = (output_padding,) * r if isinstance(output_padding, (int, np.integer)) else output_padding
            if (not isinstance(op, (tuple, list)) or len(op) != r
                    or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in op)):
                raise ConfigError(f"{cls}: output_padding must be None, a non-negative int or a tuple of {r} "
                                  f"non-negative ints, got {output_padding!r}")
            self.output_padding = tuple(int(v) for v in op)
            for axis, (o, s) in enumerate(zip(self.output_padding, self.strides)):
                if o >= s:
                    raise ConfigError(f"{cls}: output_padding must be strictly less than strides on every axis "
                                      f"(as in Keras); axis {axis} has output_padding {o} and strides {s}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(f"{cls}: strides > 1 is not supported together with dilation_rate > 1 "
                              f"(as in Keras), got strides={self.strides} and dilation_rate={self.dilation_rate}")
        self._weight_args(locals(), 'kernel', 'bias')

    def _ops(self):
        return self.output_padding or (None,) * self.rank

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self._check_input_shape(input_shape)
        out = [deconv_output_length(size, k, s, d, self.padding, op) for size, k, s, d, op in
               zip(input_shape[:-1], self.kernel_size, self.strides, self.dilation_rate, self._ops())]
        return (*out, self.filters)

    def build(self, input_shape, rng):
        self.add_weight("kernel", (*self.kernel_size, self.filters, input_shape[-1]), self.kernel_initializer,
                        rng, regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng, regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint)

    def _plan(self, h: int, w: int):
        """Output size, crop offsets and "full" buffer size of a `(N, h, w, C)` input, 2-D form."""
        (kh, kw), (sh, sw), (dh, dw) = self._geom2()
        ops = (None, *self._ops()) if self.rank == 1 else self._ops()  # height 1: k = s = d = 1, no growth
        oh = deconv_output_length(h, kh, sh, dh, self.padding, ops[0])
        ow = deconv_output_length(w, kw, sw, dw, self.padding, ops[1])
        ch = deconv_crop(kh, sh, dh, self.padding, ops[0])
        cw = deconv_crop(kw, sw, dw, self.padding, ops[1])
        full = (max((h - 1) * sh + dh * (kh - 1) + 1, ch + oh), max((w - 1) * sw + dw * (kw - 1) + 1, cw + ow))
        return (oh, ow), (ch, cw), full

    def forward(self, x, *, training=False):
        kernel = self.params["kernel"]
        x4 = self._check_x(x, kernel.shape[-1]).astype(kernel.dtype, copy=False)
        (kh, kw), (sh, sw), (dh, dw) = self._geom2()
        n, h, w, c = x4.shape
        f = self.filters
        (oh, ow), (ch, cw), (fh, fw) = self._plan(h, w)
        self._x4, self._geom = x4, ((oh, ow), (ch, cw), (fh, fw))
        k4 = kernel.reshape(kh, kw, f, c)
        full = scratch(self, "full", (n, fh, fw, f), kernel.dtype)
        full.fill(0)
        x2 = x4.reshape(-1, c)
        slab = scratch(self, "slab", (n * h * w, f), kernel.dtype)
        slab4 = slab.reshape(n, h, w, f)
        for i in range(kh):
            for j in range(kw):
                np.matmul(x2, k4[i, j].T, out=slab)
                view = window(full, i * dh, j * dw, (h, w), (sh, sw))
                view += slab4
        z = full[:, ch:ch + oh, cw:cw + ow, :].copy()
        if self.use_bias:
            z += self.params["bias"]
        return self._finish(z)

    def backward_linear(self, grad_z):
        kernel = self.params["kernel"]
        g4 = (grad_z[:, None] if self.rank == 1 else grad_z).astype(kernel.dtype, copy=False)
        (kh, kw), (sh, sw), (dh, dw) = self._geom2()
        n, h, w, c = self._x4.shape
        f = self.filters
        (oh, ow), (ch, cw), (fh, fw) = self._geom
        if self.use_bias:
            self.grads["bias"][...] = g4.sum(axis=(0, 1, 2))
        gfull = scratch(self, "gfull", (n, fh, fw, f), kernel.dtype)
        gfull.fill(0)
        gfull[:, ch:ch + oh, cw:cw + ow, :] = g4
        k4 = kernel.reshape(kh, kw, f, c)
        gk = self.grads["kernel"].reshape(kh, kw, f, c)
        x2 = self._x4.reshape(-1, c)
        want_dx = self.needs_input_grad
        dx = np.zeros((n * h * w, c), dtype=kernel.dtype) if want_dx else None
        for i in range(kh):
            for j in range(kw):
                gw = window(gfull, i * dh, j * dw, (h, w), (sh, sw)).reshape(-1, f)
                gk[i, j] = gw.T @ x2
                if want_dx:
                    dx += gw @ k4[i, j]
        if not want_dx:
            return None
        dx = dx.reshape(n, h, w, c)
        return dx[:, 0] if self.rank == 1 else dx

    def get_config(self):
        return {**self._base_config(), "filters": self.filters,
                "output_padding": None if self.output_padding is None else list(self.output_padding),
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


class Conv1DTranspose(_ConvTranspose):
    """1-D transposed convolution ("deconvolution"), the transpose of `Conv1D`.

    Input `(batch, steps, channels)`, output `(batch, new_steps, filters)` with Keras's
    lengths: "valid" `(steps - 1) * strides + k_eff + output_padding` (output_padding
    defaulting to `max(k_eff, strides) - k_eff`), "same" `steps * strides` (or
    `(steps - 1) * strides + k_eff % 2 + output_padding`), `k_eff = dilation_rate * (kernel_size - 1) + 1`.

    Args:
        filters: Number of output channels.
        kernel_size: Window length, an int or a tuple of 1 int.
        strides: Upsampling step, an int or a tuple of 1 int.
        padding: "valid" or "same".
        output_padding: None, or extra length at the end (< strides).
        data_format: Only "channels_last" (or None) is supported.
        dilation_rate: Spacing between kernel taps; > 1 needs `strides=1` (as in Keras).
        activation: A registry name such as "relu", or an Activation instance (default linear).
        use_bias: Whether to add `bias`.
        kernel_initializer: Initializer of `kernel`, shape `(kernel_size, filters, channels)`.
        bias_initializer: Initializer of `bias`, shape `(filters,)`.
        kernel_regularizer: Penalty on `kernel`.
        bias_regularizer: Penalty on `bias`.
        kernel_constraint: Projection of `kernel` after each step.
        bias_constraint: Projection of `bias` after each step.
    """

    rank = 1
    _spatial = "(steps, channels)"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs) -> None:
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv2DTranspose(_ConvTranspose):
    """2-D transposed convolution ("deconvolution"), the transpose of `Conv2D`.

    Input `(batch, height, width, channels)`, output `(batch, new_height, new_width, filters)`,
    each spatial size as in `Conv1DTranspose`.

    Args:
        filters: Number of output channels.
        kernel_size: Window size, an int or a tuple `(kh, kw)`.
        strides: Upsampling step, an int or a tuple of 2 ints.
        padding: "valid" or "same".
        output_padding: None, or extra size at the end of each axis (each < its stride).
        data_format: Only "channels_last" (or None) is supported.
        dilation_rate: Spacing between kernel taps; > 1 needs `strides=1` (as in Keras).
        activation: A registry name such as "relu", or an Activation instance (default linear).
        use_bias: Whether to add `bias`.
        kernel_initializer: Initializer of `kernel`, shape `(kh, kw, filters, channels)`.
        bias_initializer: Initializer of `bias`, shape `(filters,)`.
        kernel_regularizer: Penalty on `kernel`.
        bias_regularizer: Penalty on `bias`.
        kernel_constraint: Projection of `kernel` after each step.
        bias_constraint: Projection of `bias` after each step.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs) -> None:
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, kernel_constraint, bias_constraint, **kwargs)

"""Export a built model to ONNX: `model.export(path, format="onnx")` and `tuinet export`.

The graph is made with `onnx.helper` and checked with `onnx.checker`; onnxruntime runs it.
Tensors keep Keras's channels-last layout between layers: a convolution or a pooling layer
transposes to ONNX's channels-first layout and back around its own node, so a Flatten after a
convolution keeps Keras's element order (onnxruntime folds the transposes that cancel out).
The graph computes in float32, with a dynamic batch axis; inference only (Dropout, noise and
the Random* augmentation layers are the identity). Inputs and outputs are named after the
model's (`model.input_names`/`output_names`, or the Input and the last layer of a Sequential).
MultiHeadAttention and Attention become MatMul/Softmax nodes (causal and sliding-window masks
are computed from each run's lengths); a recurrent layer whose `initial_state` comes from other
tensors (an encoder's `return_state` outputs) gets them as its node's `initial_h`/`initial_c`.

Anything the exporter cannot express is refused with one `ConfigError` line naming the layer.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tuinet.errors import ConfigError, NotBuiltError, TuinetError

DEFAULT_OPSET = 17
"""The ONNX opset written unless another (17 or later) is asked for."""

MIN_OPSET = 17


def _import_onnx():
    """`onnx` (with its `helper`, `numpy_helper` and `checker`), or a one-line `ConfigError`
    naming the extra that installs it."""
    try:
        import onnx
    except ImportError:
        raise ConfigError('ONNX export needs the onnx package: pip install "tuinet[onnx]"') from None
    return onnx


class _Refused(ConfigError):
    pass


def _refuse(layer, why: str) -> _Refused:
    name = getattr(layer, "name", None) or type(layer).__name__
    return _Refused(f"ONNX export: layer {name!r} ({type(layer).__name__}): {why}")


class _Graph:
    """The nodes and initializers of the ONNX graph under construction."""

    def __init__(self, onnx, opset: int) -> None:
        self.onnx, self.helper, self.opset = onnx, onnx.helper, opset
        from onnx import numpy_helper

        self.numpy_helper = numpy_helper
        self.nodes: list = []
        self.inits: list = []
        self._names: set[str] = set()
        self._consts: dict = {}

    def name(self, base: str) -> str:
        base = base or "t"
        name, i = base, 0
        while name in self._names:
            i += 1
            name = f"{base}_{i}"
        self._names.add(name)
        return name

    def const(self, value, base: str = "const", dtype=np.float32, key=None) -> str:
        """An initializer holding `value` (float32 unless `dtype`), shared when `key` repeats."""
        if key is not None and key in self._consts:
            return self._consts[key]
        arr = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        name = self.name(base)
        self.inits.append(self.numpy_helper.from_array(arr, name))
        if key is not None:
            self._consts[key] = name
        return name

    def scalar_int(self, value: int) -> str:
        """A 0-d int64 initializer (`const` writes at least one axis), shared per value."""
        key = ("i64 scalar", int(value))
        if key not in self._consts:
            name = self.name(f"i64_{int(value)}")
            self.inits.append(self.numpy_helper.from_array(np.array(int(value), dtype=np.int64), name))
            self._consts[key] = name
        return self._consts[key]

    def ints(self, values, base: str = "shape") -> str:
        values = [int(v) for v in values]
        return self.const(values, base, np.int64, key=("i64", tuple(values)))

    def op(self, op_type: str, inputs, base: str = "", n_out: int = 1, **attrs):
        outs = [self.name(f"{base or op_type.lower()}_out") for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, name=self.name(base or op_type), **attrs))
        return outs[0] if n_out == 1 else outs

    # -- helpers whose form changed between opsets ----------------------------------------------
    def reduce(self, op_type: str, x: str, axes, keepdims: bool = True, base: str = "") -> str:
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes, "axes")], base, keepdims=int(keepdims))
        return self.op(op_type, [x], base, axes=axes, keepdims=int(keepdims))

    def unsqueeze(self, x: str, axes, base: str = "") -> str:
        return self.op("Unsqueeze", [x, self.ints(axes, "axes")], base)

    def squeeze(self, x: str, axes, base: str = "") -> str:
        return self.op("Squeeze", [x, self.ints(axes, "axes")], base)

    def transpose(self, x: str, perm, base: str = "") -> str:
        return self.op("Transpose", [x], base, perm=[int(p) for p in perm])

    def reshape(self, x: str, shape, base: str = "") -> str:
        return self.op("Reshape", [x, self.ints(shape)], base)

    def slice(self, x: str, starts, ends, axes, steps=None, base: str = "") -> str:
        ins = [x, self.ints(starts, "starts"), self.ints(ends, "ends"), self.ints(axes, "axes")]
        if steps is not None:
            ins.append(self.ints(steps, "steps"))
        return self.op("Slice", ins, base)

    def reverse_time(self, x: str, base: str = "") -> str:
        """`x[:, ::-1]`."""
        return self.slice(x, [-1], [-(2 ** 63)], [1], [-1], base)


# -- activations ---------------------------------------------------------------------------------
_RNN_ACTS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softsign": "Softsign", "softplus": "Softplus"}


def _activation(g: _Graph, act, x: str, layer, base: str) -> str:
    """`act(x)` as ONNX nodes (tuinet's formulas, Keras 3's)."""
    from tuinet.nn import activations as A

    if act is None or isinstance(act, A.Linear):
        return x
    kind = type(act)
    simple = {A.ReLU: "Relu", A.Sigmoid: "Sigmoid", A.Tanh: "Tanh", A.Softplus: "Softplus",
              A.Softsign: "Softsign", A.Exponential: "Exp"}
    if kind in simple:
        return g.op(simple[kind], [x], base)
    if kind is A.Softmax:
        return g.op("Softmax", [x], base, axis=-1)
    if kind is A.LeakyReLU:
        return g.op("LeakyRelu", [x], base, alpha=float(act.negative_slope))
    if kind is A.ELU:
        return g.op("Elu", [x], base, alpha=float(act.alpha))
    if kind is A.SELU:
        from tuinet.nn.activations import _SELU_ALPHA, _SELU_SCALE

        return g.op("Selu", [x], base, alpha=float(_SELU_ALPHA), gamma=float(_SELU_SCALE))
    if kind is A.HardSigmoid:
        return g.op("HardSigmoid", [x], base, alpha=1.0 / 6.0, beta=0.5)
    if kind is A.ReLU6:
        return g.op("Clip", [x, g.const(0.0, "zero", key=("f", 0.0)), g.const(6.0, "six", key=("f", 6.0))], base)
    if kind is A.SiLU:
        return g.op("Mul", [x, g.op("Sigmoid", [x], base)], base)
    if kind is A.GELU:
        half = g.const(0.5, "half", key=("f", 0.5))
        one = g.const(1.0, "one", key=("f", 1.0))
        if act.approximate:
            cube = g.op("Mul", [g.op("Mul", [x, x], base), x], base)
            inner = g.op("Add", [x, g.op("Mul", [cube, g.const(0.044715, "gelu_c", key=("f", 0.044715))], base)], base)
            t = g.op("Tanh", [g.op("Mul", [inner, g.const(math.sqrt(2 / math.pi), "gelu_k",
                                                        key=("f", "sqrt2/pi"))], base)], base)
        else:
            t = g.op("Erf", [g.op("Div", [x, g.const(math.sqrt(2), "sqrt2", key=("f", "sqrt2"))], base)], base)
        return g.op("Mul", [g.op("Mul", [x, half], base), g.op("Add", [t, one], base)], base)
    raise _refuse(layer, f"activation {getattr(act, 'name', kind.__name__)!r} has no ONNX form here")


def _rnn_activation(act, layer) -> tuple[str, float | None, float | None]:
    """The name (and alpha, beta) of `act` among the activations ONNX's RNN, GRU and LSTM take."""
    from tuinet.nn import activations as A

    if act.name in _RNN_ACTS and type(act) is type(A.get(act.name)):
        return _RNN_ACTS[act.name], None, None
    if isinstance(act, A.Linear):
        return "Affine", 1.0, 0.0
    if isinstance(act, A.HardSigmoid):
        return "HardSigmoid", 1.0 / 6.0, 0.5
    raise _refuse(layer, f"activation {act.name!r} inside a recurrent cell has no ONNX form "
                         "(use tanh, sigmoid, relu, softsign, softplus, hard_sigmoid or linear)")


# -- the exporter --------------------------------------------------------------------------------
class _Exporter:
    def __init__(self, g: _Graph) -> None:
        self.g = g
        self.int_names: set[str] = set()  # graph inputs holding integers (ids for an Embedding)

    # every layer: (layer, [input names], [input shapes without batch], [masked]) -> [output names]
    def emit(self, layer, xs: list[str], shapes: list[tuple], masked: list[bool],
             states: list[str] | None = None) -> tuple[list[str], bool]:
        """ONNX nodes for one call of `layer`; returns its outputs and whether output 0 carries a mask.
        `states` are the tensors of a recurrent call's `initial_state` (`[h]`, LSTM `[h, c]`)."""
        from tuinet.nn.model import Sequential

        if isinstance(layer, Sequential):
            return self.model(layer, xs, shapes, masked)
        kind = type(layer).__name__
        fn = getattr(self, f"_{kind}", None)
        if fn is None:
            raise _refuse(layer, "this layer type is not supported by the ONNX exporter")
        if masked[0] and getattr(layer, "consumes_mask", False):
            raise _refuse(layer, "a mask (from Embedding(mask_zero=True) or Masking) reaching a recurrent layer "
                                 "cannot be exported; use mask_zero=False or leave out the Masking layer")
        if kind != "Embedding":
            xs = [self.float_input(x) for x in xs]
        if states:
            outs = fn(layer, xs[0], tuple(shapes[0]), states=[self.float_input(s) for s in states])
        else:
            outs = fn(layer, *((xs, shapes) if layer.multi_input else (xs[0], tuple(shapes[0]))))
        outs = outs if isinstance(outs, list) else [outs]
        if kind in ("Embedding", "Masking"):
            out_masked = bool(getattr(layer, "mask_zero", True))
        else:
            out_masked = bool(masked[0] and getattr(layer, "supports_masking", False)
                              and not layer.multi_input)
        return outs, out_masked

    def float_input(self, x: str) -> str:
        if x in self.int_names:
            return self.g.op("Cast", [x], "cast", to=self.g.onnx.TensorProto.FLOAT)
        return x

    # -- models -------------------------------------------------------------------------------
    def model(self, model, xs, shapes, masked):
        from tuinet.nn.functional import Functional

        if not isinstance(model, Functional):
            x, shape, m = xs[0], tuple(shapes[0]), masked[0]
            for layer in model.layers:
                (x, *_), m = self.emit(layer, [x], [shape], [m])
                shape = tuple(layer.compute_output_shape(shape))
            return [x], m
        values: dict[int, tuple[str, tuple, bool]] = {}
        for t, x, shape, m in zip(model._inputs, xs, shapes, masked):
            values[id(t)] = (x, tuple(shape), m)
        for node in model._nodes:
            if not node.inputs:
                continue
            n_main = len(node.inputs) - getattr(node, "state_inputs", 0)
            ins = [values[id(t)] for t in node.inputs[:n_main]]
            states = [values[id(t)][0] for t in node.inputs[n_main:]]
            outs, m = self.emit(node.layer, [v[0] for v in ins], [v[1] for v in ins], [v[2] for v in ins], states)
            if len(outs) < len(node.outputs):
                raise _refuse(node.layer, f"expected {len(node.outputs)} outputs")
            for t, name in zip(node.outputs, outs):
                values[id(t)] = (name, tuple(t.shape[1:]), m if t.index == 0 else False)
        return [values[id(t)][0] for t in model._outputs], False

    # -- core -----------------------------------------------------------------------------------
    def w(self, layer, key: str, transform=None, tag: str = "") -> str:
        """The weight `key` of `layer` (optionally transformed) as a float32 initializer, made once."""
        arr = layer.weight(key)
        value = arr if transform is None else transform(np.asarray(arr))
        return self.g.const(value, f"{layer.name}/{key}{tag}", key=("w", id(layer), key, tag))

    def _Dense(self, layer, x, shape):
        y = self.g.op("MatMul", [x, self.w(layer, "kernel")], layer.name)
        if layer.use_bias:
            y = self.g.op("Add", [y, self.w(layer, "bias")], layer.name)
        return _activation(self.g, layer.activation, y, layer, layer.name)

    def _Activation(self, layer, x, shape):
        return _activation(self.g, layer.activation, x, layer, layer.name)

    def _identity(self, layer, x, shape):
        return x

    _Dropout = _GaussianNoise = _GaussianDropout = _SpatialDropout1D = _SpatialDropout2D = _identity
    _RandomFlip = _RandomContrast = _RandomTranslation = _RandomRotation = _RandomZoom = _identity
    _Identity = _ActivityRegularization = _AlphaDropout = _identity

    def _Masking(self, layer, x, shape):
        g, n = self.g, layer.name
        differs = g.op("Cast", [g.op("Not", [g.op("Equal", [x, g.const(layer.mask_value, f"{n}/mask_value")], n)], n)],
                       n, to=g.onnx.TensorProto.FLOAT)
        keep = g.op("Greater", [g.reduce("ReduceMax", differs, [-1], True, n), g.const(0.0, "zero", key=("f", 0.0))], n)
        return g.op("Where", [keep, x, g.const(0.0, "zero", key=("f", 0.0))], n)

    def _UnitNormalization(self, layer, x, shape):
        g, n = self.g, layer.name
        norm = g.op("Sqrt", [g.reduce("ReduceSum", g.op("Mul", [x, x], n), list(layer._axes()), True, n)], n)
        inv = g.op("Reciprocal", [g.op("Max", [norm, g.const(layer.epsilon, f"{n}/epsilon")], n)], n)
        return g.op("Mul", [x, inv], n)

    def _Flatten(self, layer, x, shape):
        return self.g.reshape(x, [0, -1], layer.name)

    def _Reshape(self, layer, x, shape):
        return self.g.reshape(x, [0, *layer.target_shape], layer.name)

    # -- normalization --------------------------------------------------------------------------
    def _BatchNormalization(self, layer, x, shape):
        g, n = self.g, layer.name
        ndim = len(shape) + 1
        a = layer.axis + ndim if layer.axis < 0 else layer.axis
        c = shape[a - 1]
        gamma = self.w(layer, "gamma") if layer.scale else g.const(np.ones(c), f"{n}/gamma")
        beta = self.w(layer, "beta") if layer.center else g.const(np.zeros(c), f"{n}/beta")
        mean, var = self.w(layer, "moving_mean"), self.w(layer, "moving_variance")
        if a == 1:
            return g.op("BatchNormalization", [x, gamma, beta, mean, var], n, epsilon=float(layer.epsilon))
        perm = [0, a, *(i for i in range(1, ndim) if i != a)]
        back = list(np.argsort(perm))
        y = g.op("BatchNormalization", [g.transpose(x, perm, n), gamma, beta, mean, var], n,
                 epsilon=float(layer.epsilon))
        return g.transpose(y, back, n)

    def _LayerNormalization(self, layer, x, shape):
        g, n = self.g, layer.name
        ndim = len(shape) + 1
        axes = layer.axis if isinstance(layer.axis, list) else [layer.axis]
        axes = sorted(a + ndim if a < 0 else a for a in axes)
        bshape = [shape[i - 1] if i in axes else 1 for i in range(ndim)]
        mean = g.reduce("ReduceMean", x, axes, True, n)
        xc = g.op("Sub", [x, mean], n)
        var = g.reduce("ReduceMean", g.op("Mul", [xc, xc], n), axes, True, n)
        inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [var, g.const(layer.epsilon, f"{n}/epsilon")], n)], n)], n)
        if layer.rms_scaling:
            y = g.op("Mul", [x, inv], n)
            return g.op("Mul", [y, self.w(layer, "gamma", lambda v: v.reshape(bshape), "_b")], n)
        y = g.op("Mul", [xc, inv], n)
        if layer.scale:
            y = g.op("Mul", [y, self.w(layer, "gamma", lambda v: v.reshape(bshape), "_b")], n)
        if layer.center:
            y = g.op("Add", [y, self.w(layer, "beta", lambda v: v.reshape(bshape), "_b")], n)
        return y

    def _Normalization(self, layer, x, shape):
        g, n = self.g, layer.name
        mean, scale = layer._stats(np.dtype(np.float32))
        m, s = g.const(mean, f"{n}/mean"), g.const(scale, f"{n}/scale")
        if layer.invert:
            return g.op("Add", [g.op("Mul", [x, s], n), m], n)
        return g.op("Div", [g.op("Sub", [x, m], n), s], n)

    def _Rescaling(self, layer, x, shape):
        g, n = self.g, layer.name
        y = g.op("Mul", [x, g.const(layer.scale, f"{n}/scale")], n)
        return g.op("Add", [y, g.const(layer.offset, f"{n}/offset")], n)

    # -- activation layers --------------------------------------------------------------------
    def _ReLU(self, layer, x, shape):
        g, n = self.g, layer.name
        thr, slope, top = float(layer.threshold), float(layer.negative_slope), layer.max_value
        zero = g.const(0.0, "zero", key=("f", 0.0))
        if thr == 0 and slope == 0:
            y = g.op("Relu", [x], n)
            return y if top is None else g.op("Clip", [y, zero, g.const(top, f"{n}/max_value")], n)
        t = g.const(thr, f"{n}/threshold")
        y = g.op("Where", [g.op("Greater", [x, t], n), x, zero], n)
        if top is not None:
            y = g.op("Clip", [y, zero, g.const(top, f"{n}/max_value")], n)
        if slope:
            below = g.op("Where", [g.op("Less", [x, t], n), g.op("Sub", [t, x], n), zero], n)
            y = g.op("Sub", [y, g.op("Mul", [below, g.const(slope, f"{n}/negative_slope")], n)], n)
        return y

    def _LeakyReLU(self, layer, x, shape):
        return self.g.op("LeakyRelu", [x], layer.name, alpha=float(layer.negative_slope))

    def _PReLU(self, layer, x, shape):
        return self.g.op("PRelu", [x, self.w(layer, "alpha")], layer.name)

    def _ELU(self, layer, x, shape):
        return self.g.op("Elu", [x], layer.name, alpha=float(layer.alpha))

    def _Softmax(self, layer, x, shape):
        g, n = self.g, layer.name
        ndim = len(shape) + 1
        axes = sorted({(a + ndim) % ndim for a in ([layer.axis] if isinstance(layer.axis, int) else layer.axis)})
        if len(axes) == 1:
            return g.op("Softmax", [x], n, axis=axes[0])
        e = g.op("Exp", [g.op("Sub", [x, g.reduce("ReduceMax", x, axes, True, n)], n)], n)
        return g.op("Div", [e, g.reduce("ReduceSum", e, axes, True, n)], n)

    # -- shapes ---------------------------------------------------------------------------------
    def _RepeatVector(self, layer, x, shape):
        g = self.g
        return g.op("Tile", [g.unsqueeze(x, [1], layer.name), g.ints([1, layer.n, 1], "repeats")], layer.name)

    def _Permute(self, layer, x, shape):
        return self.g.transpose(x, [0, *layer.dims], layer.name)

    def _pad(self, layer, x, before_after):
        ndim = len(before_after) + 2
        pads = [0] * (2 * ndim)
        for i, (a, b) in enumerate(before_after):
            pads[1 + i], pads[ndim + 1 + i] = a, b
        return self.g.op("Pad", [x, self.g.ints(pads, "pads")], layer.name, mode="constant")

    def _ZeroPadding1D(self, layer, x, shape):
        return self._pad(layer, x, [layer.padding])

    def _ZeroPadding2D(self, layer, x, shape):
        return self._pad(layer, x, list(layer.padding))

    def _crop(self, layer, x, pairs):
        big = 2 ** 62
        return self.g.slice(x, [a for a, _ in pairs], [-b if b else big for _, b in pairs],
                            list(range(1, len(pairs) + 1)), None, layer.name)

    def _Cropping1D(self, layer, x, shape):
        return self._crop(layer, x, [layer.cropping])

    def _Cropping2D(self, layer, x, shape):
        return self._crop(layer, x, list(layer.cropping))

    def _upsample(self, layer, x, sizes):
        g = self.g
        scales = g.const([1.0, *map(float, sizes), 1.0], f"{layer.name}/scales")
        if getattr(layer, "interpolation", "nearest") == "bilinear":  # Keras's resize: half-pixel centres
            return g.op("Resize", [x, "", scales], layer.name, mode="linear",
                        coordinate_transformation_mode="half_pixel")
        return g.op("Resize", [x, "", scales], layer.name, mode="nearest",
                    coordinate_transformation_mode="asymmetric", nearest_mode="floor")

    def _UpSampling1D(self, layer, x, shape):
        return self._upsample(layer, x, [layer.size])

    def _UpSampling2D(self, layer, x, shape):
        return self._upsample(layer, x, layer.size)

    # -- embedding ------------------------------------------------------------------------------
    def _Embedding(self, layer, x, shape):
        g = self.g
        ids = g.op("Cast", [x], layer.name, to=g.onnx.TensorProto.INT64)
        return g.op("Gather", [self.w(layer, "embeddings"), ids], layer.name, axis=0)

    # -- convolution and pooling ---------------------------------------------------------------
    @staticmethod
    def _to_first(rank: int):
        return [0, rank + 1, *range(1, rank + 1)]

    @staticmethod
    def _to_last(rank: int):
        return [0, *range(2, rank + 2), 1]

    def _conv_pads(self, layer, shape, kernel, strides, dilations, padding) -> dict:
        from tuinet.nn.layers.conv import same_padding

        rank = len(kernel)
        if padding == "valid":
            return {"pads": [0] * (2 * rank)}
        if padding == "causal":
            return {"pads": [dilations[0] * (kernel[0] - 1), 0]}
        spatial = shape[:rank]
        if any(s is None for s in spatial):
            return {"auto_pad": "SAME_UPPER"}
        pairs = [same_padding(s, d * (k - 1) + 1, st) for s, k, st, d in zip(spatial, kernel, strides, dilations)]
        return {"pads": [a for a, _ in pairs] + [b for _, b in pairs]}

    def _conv(self, layer, x, shape, weight: str, w_fn, bias: str | None, group: int = 1, dilations=None,
              tag: str = "", padding=None):
        g, n, rank = self.g, layer.name, len(layer.kernel_size)
        dil = list(dilations or layer.dilation_rate)
        attrs = self._conv_pads(layer, shape, layer.kernel_size, layer.strides, dil, padding or layer.padding)
        ins = [g.transpose(x, self._to_first(rank), n), self.w(layer, weight, w_fn, tag)]
        if bias is not None:
            ins.append(self.w(layer, bias))
        y = g.op("Conv", ins, n, kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
                 dilations=dil, group=group, **attrs)
        return g.transpose(y, self._to_last(rank), n)

    def _Conv1D(self, layer, x, shape):
        y = self._conv(layer, x, shape, "kernel", lambda k: k.transpose(2, 1, 0), "bias" if layer.use_bias else None,
                       tag="_oik")
        return _activation(self.g, layer.activation, y, layer, layer.name)

    def _Conv2D(self, layer, x, shape):
        y = self._conv(layer, x, shape, "kernel", lambda k: k.transpose(3, 2, 0, 1),
                       "bias" if layer.use_bias else None, tag="_oihw")
        return _activation(self.g, layer.activation, y, layer, layer.name)

    def _depthwise(self, layer, x, shape, bias):
        c = shape[-1]

        def oihw(k):  # (kh, kw, c, m) -> (c * m, 1, kh, kw); output channel c * m + j from input c
            kh, kw = k.shape[:2]
            return k.reshape(kh, kw, -1).transpose(2, 0, 1)[:, None]

        return self._conv(layer, x, shape, "depthwise_kernel", oihw, bias, group=c, tag="_oihw")

    def _DepthwiseConv2D(self, layer, x, shape):
        y = self._depthwise(layer, x, shape, "bias" if layer.use_bias else None)
        return _activation(self.g, layer.activation, y, layer, layer.name)

    def _SeparableConv2D(self, layer, x, shape):
        g, n = self.g, layer.name
        d = self._depthwise(layer, x, shape, None)
        y = g.op("MatMul", [d, self.w(layer, "pointwise_kernel", lambda k: k.reshape(-1, k.shape[-1]), "_mat")], n)
        if layer.use_bias:
            y = g.op("Add", [y, self.w(layer, "bias")], n)
        return _activation(g, layer.activation, y, layer, n)

    def _conv_transpose(self, layer, x, shape):
        from tuinet.nn.layers.conv_extra import deconv_crop, deconv_output_length

        g, n, rank = self.g, layer.name, layer.rank
        if any(s is None for s in shape[:rank]):
            raise _refuse(layer, "needs known spatial sizes")
        ks, ss, ds = layer.kernel_size, layer.strides, layer.dilation_rate
        ops = layer._ops()
        starts, ends, extra = [], [], []
        for size, k, s, d, op in zip(shape[:rank], ks, ss, ds, ops):
            out = deconv_output_length(size, k, s, d, layer.padding, op)
            crop = deconv_crop(k, s, d, layer.padding, op)
            native = (size - 1) * s + d * (k - 1) + 1
            starts.append(crop)
            ends.append(crop + out)
            extra.append(max(crop + out - native, 0))
        perm_w = (rank + 1, rank, *range(rank))  # (k..., f, c) -> (c, f, k...)
        y = g.op("ConvTranspose", [g.transpose(x, self._to_first(rank), n),
                                   self.w(layer, "kernel", lambda k: k.transpose(perm_w), "_iohw")], n,
                 kernel_shape=list(ks), strides=list(ss), dilations=list(ds))
        if any(extra):
            pads = [0] * (2 * (rank + 2))
            for i, e in enumerate(extra):
                pads[rank + 2 + 2 + i] = e
            y = g.op("Pad", [y, g.ints(pads, "pads")], n, mode="constant")
        y = g.slice(y, starts, ends, list(range(2, rank + 2)), None, n)
        y = g.transpose(y, self._to_last(rank), n)
        if layer.use_bias:
            y = g.op("Add", [y, self.w(layer, "bias")], n)
        return _activation(g, layer.activation, y, layer, n)

    _Conv1DTranspose = _Conv2DTranspose = _conv_transpose

    def _pool(self, layer, x, shape):
        from tuinet.nn.layers.conv import same_padding

        g, n = self.g, layer.name
        rank = len(layer.pool_size)
        attrs = {"kernel_shape": list(layer.pool_size), "strides": list(layer.strides)}
        if layer.padding == "same":
            if any(s is None for s in shape[:rank]):
                attrs["auto_pad"] = "SAME_UPPER"
            else:
                pairs = [same_padding(s, p, st) for s, p, st in zip(shape[:rank], layer.pool_size, layer.strides)]
                attrs["pads"] = [a for a, _ in pairs] + [b for _, b in pairs]
        op = "MaxPool" if layer.mode == "max" else "AveragePool"
        y = g.op(op, [g.transpose(x, self._to_first(rank), n)], n, **attrs)
        return g.transpose(y, self._to_last(rank), n)

    _MaxPooling1D = _MaxPooling2D = _AveragePooling1D = _AveragePooling2D = _pool

    def _global_pool(self, layer, x, shape):
        op = "ReduceMax" if "Max" in type(layer).__name__ else "ReduceMean"
        return self.g.reduce(op, x, list(range(1, layer.rank + 1)), layer.keepdims, layer.name)

    _GlobalMaxPooling1D = _GlobalMaxPooling2D = _GlobalAveragePooling1D = _GlobalAveragePooling2D = _global_pool

    # -- recurrent ------------------------------------------------------------------------------
    def _recurrent(self, layer, x, shape, states=None):
        """ONNX's RNN, GRU or LSTM node; `states` (`[h]`, LSTM `[h, c]`, each `(batch, units)`) become
        its `initial_h` (and `initial_c`), `(num_directions=1, batch, units)`. With `go_backwards`
        the input is reversed before the node, so the initial state starts the reversed scan, as in Keras."""
        g, n, u = self.g, layer.name, layer.units
        kind = type(layer).__name__
        if shape[-1] is None:
            raise _refuse(layer, "needs a known number of features")
        xt = g.reverse_time(x, n) if layer.go_backwards else x
        xt = g.transpose(xt, [1, 0, 2], n)  # ONNX's (steps, batch, features)
        if kind == "LSTM":
            order = np.concatenate([np.arange(0, u), np.arange(3 * u, 4 * u), np.arange(u, 2 * u),
                                    np.arange(2 * u, 3 * u)])  # Keras i, f, c, o -> ONNX i, o, f, c
            acts = [layer.recurrent_activation, layer.activation, layer.activation]
        elif kind == "GRU":
            order = np.arange(3 * u)  # Keras and ONNX both z, r, h
            acts = [layer.recurrent_activation, layer.activation]
        else:
            order = np.arange(u)
            acts = [layer.activation]
        w = self.w(layer, "kernel", lambda k: k[:, order].T[None], "_onnx")
        r = self.w(layer, "recurrent_kernel", lambda k: k[:, order].T[None], "_onnx")
        ins = [xt, w, r]
        if layer.use_bias:
            if kind == "GRU" and layer.reset_after:
                b = self.w(layer, "bias", lambda v: v.reshape(1, -1), "_onnx")
            else:
                b = self.w(layer, "bias", lambda v: np.concatenate([v[order], np.zeros_like(v)])[None], "_onnx")
            ins.append(b)
        if states:  # then B (empty without a bias), no sequence_lens, initial_h (, initial_c)
            ins += [""] * (5 - len(ins)) + [g.unsqueeze(s, [0], n) for s in states]
        names, alphas, betas = [], [], []
        for act in acts:
            name, a, b = _rnn_activation(act, layer)
            names.append(name)
            if a is not None:
                alphas.append(a)
                betas.append(b)
        attrs = {"hidden_size": u, "activations": names}
        if alphas:  # onnxruntime hands them out in order to the activations that take them
            attrs["activation_alpha"], attrs["activation_beta"] = alphas, betas
        if kind == "GRU":
            attrs["linear_before_reset"] = int(layer.reset_after)
        op = {"LSTM": "LSTM", "GRU": "GRU"}.get(kind, "RNN")
        n_out = 3 if kind == "LSTM" else 2
        outs = g.op(op, ins, n, n_out=n_out, **attrs)
        y, yh = outs[0], outs[1]
        if layer.return_sequences:
            out = g.transpose(g.squeeze(y, [1], n), [1, 0, 2], n)  # (steps, 1, batch, u) -> (batch, steps, u)
        else:
            out = g.squeeze(yh, [0], n)
        if not layer.return_state:
            return out
        states = [g.squeeze(yh, [0], n)]
        if kind == "LSTM":
            states.append(g.squeeze(outs[2], [0], n))
        return [out, *states]

    _SimpleRNN = _LSTM = _GRU = _recurrent

    def _Bidirectional(self, layer, x, shape):
        g, n = self.g, layer.name
        layer._sync()  # the inner layers' weights are the wrapper's (possibly re-homed) arrays
        f = self.emit(layer.forward_layer, [x], [shape], [False])[0][0]
        b = self.emit(layer.backward_layer, [x], [shape], [False])[0][0]
        if layer.return_sequences:
            b = g.reverse_time(b, n)
        mode = layer.merge_mode
        if mode == "concat":
            return g.op("Concat", [f, b], n, axis=-1)
        if mode == "sum":
            return g.op("Add", [f, b], n)
        if mode == "mul":
            return g.op("Mul", [f, b], n)
        return g.op("Div", [g.op("Add", [f, b], n), g.const(2.0, "two", key=("f", 2.0))], n)

    def _TimeDistributed(self, layer, x, shape):
        g, n = self.g, layer.name
        inner = tuple(shape[1:])
        out = tuple(layer.layer.compute_output_shape(inner))
        if any(d is None for d in (*inner, *out)):
            raise _refuse(layer, "needs known sizes after the time axis")
        layer._sync()
        flat = g.reshape(x, [-1, *inner], n)
        (y, *_), _ = self.emit(layer.layer, [flat], [inner], [False])
        lead = g.slice(g.op("Shape", [x], n), [0], [2], [0], None, n)
        return g.op("Reshape", [y, g.op("Concat", [lead, g.ints(out)], n, axis=0)], n)

    # -- attention ------------------------------------------------------------------------------
    def _positions(self, x: str, base: str) -> str:
        """`arange(T)` (int64) for the time axis of `x` `(batch, T, features)`, known or not."""
        g = self.g
        steps = g.squeeze(g.op("Shape", [x], base, start=1, end=2), [0], base)
        return g.op("Range", [g.scalar_int(0), steps, g.scalar_int(1)], base)

    def _attention_mask(self, query: str, value: str, causal: bool, window, base: str) -> str | None:
        """The boolean `(T_q, T_v)` mask of causal attention (`j <= i`) and of a sliding window
        (`|i - j| < window`), or None when neither applies; it broadcasts over batch and heads."""
        g = self.g
        if not causal and window is None:
            return None
        rows = g.unsqueeze(self._positions(query, base), [1], base)
        cols = g.unsqueeze(self._positions(value, base), [0], base)
        mask = g.op("GreaterOrEqual", [rows, cols], base) if causal else None
        if window is not None:
            gap = g.op("Abs", [g.op("Sub", [rows, cols], base)], base)
            band = g.op("Less", [gap, g.const(window, f"{base}/sliding_window", np.int64)], base)
            mask = band if mask is None else g.op("And", [mask, band], base)
        return mask

    def _MultiHeadAttention(self, layer, xs, shapes):
        from tuinet.nn.layers.attention import _LARGE_NEGATIVE

        g, n = self.g, layer.name
        query, value = xs[0], xs[1]
        key = xs[2] if len(xs) == 3 else value
        heads, kd, vd = layer.num_heads, layer.key_dim, layer.value_dim

        def project(x: str, prefix: str, dim: int) -> str:  # (batch, T, d) -> (batch, T, heads, dim)
            y = g.op("MatMul", [x, self.w(layer, f"{prefix}/kernel", lambda k: k.reshape(k.shape[0], -1), "_mat")], n)
            if layer.use_bias:
                y = g.op("Add", [y, self.w(layer, f"{prefix}/bias", lambda b: b.reshape(-1), "_flat")], n)
            return g.reshape(y, [0, 0, heads, dim], n)

        scale = g.const(1.0 / math.sqrt(kd), f"{n}/scale")
        q = g.op("Mul", [g.transpose(project(query, "query", kd), [0, 2, 1, 3], n), scale], n)  # (b, h, T_q, kd)
        k = g.transpose(project(key, "key", kd), [0, 2, 3, 1], n)                                # (b, h, kd, T_v)
        v = g.transpose(project(value, "value", vd), [0, 2, 1, 3], n)                            # (b, h, T_v, vd)
        scores = g.op("MatMul", [q, k], n)                                                       # (b, h, T_q, T_v)
        mask = self._attention_mask(query, value, layer._causal, layer.sliding_window, n)
        if mask is not None:  # masked scores become -1e9, and their softmax weights 0 (Keras's Softmax(mask))
            scores = g.op("Where", [mask, scores, g.const(_LARGE_NEGATIVE, "large_negative",
                                                          key=("f", _LARGE_NEGATIVE))], n)
        probs = g.op("Softmax", [scores], n, axis=-1)
        if mask is not None:
            probs = g.op("Where", [mask, probs, g.const(0.0, "zero", key=("f", 0.0))], n)
        o = g.transpose(g.op("MatMul", [probs, v], n), [0, 2, 1, 3], n)                         # (b, T_q, h, vd)
        if layer.use_gate:
            o = g.op("Mul", [o, g.op("Sigmoid", [project(query, "gate", vd)], n)], n)
        out_dims = tuple(layer.weight("attention_output/kernel").shape[2:])
        y = g.op("MatMul", [g.reshape(o, [0, 0, heads * vd], n),
                            self.w(layer, "attention_output/kernel", lambda k: k.reshape(heads * vd, -1), "_mat")], n)
        if layer.use_bias:
            y = g.op("Add", [y, self.w(layer, "attention_output/bias", lambda b: b.reshape(-1), "_flat")], n)
        return y if len(out_dims) == 1 else g.reshape(y, [0, 0, *out_dims], n)

    def _Attention(self, layer, xs, shapes):
        g, n = self.g, layer.name
        query, value = xs[0], xs[1]
        key = xs[2] if len(xs) == 3 else value
        if layer.score_mode == "dot":
            scores = g.op("MatMul", [query, g.transpose(key, [0, 2, 1], n)], n)
            if layer.use_scale:
                scores = g.op("Mul", [scores, self.w(layer, "scale")], n)
        else:  # concat_score_weight * sum(tanh(scale * (query_i + key_j)))
            total = g.op("Add", [g.unsqueeze(query, [2], n), g.unsqueeze(key, [1], n)], n)
            if layer.use_scale:
                total = g.op("Mul", [self.w(layer, "scale"), total], n)
            summed = g.reduce("ReduceSum", g.op("Tanh", [total], n), [-1], False, n)
            scores = g.op("Mul", [self.w(layer, "concat_score_weight"), summed], n)
        mask = self._attention_mask(query, key, layer._causal, None, n)
        if mask is not None:  # Attention lowers masked scores by 1e9
            lowered = g.op("Sub", [scores, g.const(1e9, "large", key=("f", 1e9))], n)
            scores = g.op("Where", [mask, scores, lowered], n)
        return g.op("MatMul", [g.op("Softmax", [scores], n, axis=-1), value], n)

    # -- merges ---------------------------------------------------------------------------------
    def _aligned(self, layer, xs, shapes):
        ndim = max(len(s) for s in shapes) + 1
        return [x if len(s) + 1 == ndim else self.g.unsqueeze(x, list(range(1, ndim - len(s))), layer.name)
                for x, s in zip(xs, shapes)]

    def _chain(self, op, layer, xs, shapes):
        xs = self._aligned(layer, xs, shapes)
        y = xs[0]
        for x in xs[1:]:
            y = self.g.op(op, [y, x], layer.name)
        return y

    def _Add(self, layer, xs, shapes):
        return self._chain("Add", layer, xs, shapes)

    def _Subtract(self, layer, xs, shapes):
        return self._chain("Sub", layer, xs, shapes)

    def _Multiply(self, layer, xs, shapes):
        return self._chain("Mul", layer, xs, shapes)

    def _Average(self, layer, xs, shapes):
        y = self._chain("Add", layer, xs, shapes)
        return self.g.op("Div", [y, self.g.const(float(len(xs)), f"{layer.name}/count")], layer.name)

    def _Maximum(self, layer, xs, shapes):
        return self.g.op("Max", self._aligned(layer, xs, shapes), layer.name)

    def _Minimum(self, layer, xs, shapes):
        return self.g.op("Min", self._aligned(layer, xs, shapes), layer.name)

    def _Concatenate(self, layer, xs, shapes):
        rank = len(shapes[0]) + 1
        axis = layer.axis + rank if layer.axis < 0 else layer.axis
        return self.g.op("Concat", xs, layer.name, axis=axis)

    def _Dot(self, layer, xs, shapes):
        from tuinet.nn import backend

        g, n = self.g, layer.name
        s1, s2 = (tuple(s) for s in shapes)
        if any(d is None for d in (*s1, *s2)):
            raise _refuse(layer, "needs known input sizes")
        a1, a2 = layer._resolve_axes([s1, s2])
        x1, x2 = xs
        if layer.normalize:
            eps = g.const(backend.epsilon(), "epsilon_1e7", key=("f", "eps"))
            one = g.const(1.0, "one", key=("f", 1.0))
            normed = []
            for x, a in ((x1, a1), (x2, a2)):
                norm = g.op("Sqrt", [g.reduce("ReduceSum", g.op("Mul", [x, x], n), [a], True, n)], n)
                normed.append(g.op("Mul", [x, g.op("Div", [one, g.op("Max", [norm, eps], n)], n)], n))
            x1, x2 = normed
        r1, r2 = len(s1) + 1, len(s2) + 1
        p1 = [i for i in range(r1) if i != a1] + [a1]  # (batch, *rest1, k)
        p2 = [0, a2] + [i for i in range(1, r2) if i != a2]  # (batch, k, *rest2)
        rest1 = [s1[i - 1] for i in p1[1:-1]]
        rest2 = [s2[i - 1] for i in p2[2:]]
        k = s1[a1 - 1]
        m1 = g.reshape(g.transpose(x1, p1, n), [-1, math.prod(rest1), k], n)
        m2 = g.reshape(g.transpose(x2, p2, n), [-1, k, math.prod(rest2)], n)
        out = [*rest1, *rest2] or [1]
        return g.reshape(g.op("MatMul", [m1, m2], n), [-1, *out], n)


def build_onnx(model, opset: int = DEFAULT_OPSET):
    """The `onnx.ModelProto` of a built tuinet model (checked with `onnx.checker`)."""
    onnx = _import_onnx()
    from onnx import TensorProto, helper

    from tuinet.nn.functional import Functional
    from tuinet.nn.model import Sequential

    if not isinstance(model, Sequential):
        raise ConfigError(f"ONNX export: expected a tuinet model, got {type(model).__name__}")
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or \
            not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ConfigError(f"ONNX export: opset must be an integer from {MIN_OPSET} to "
                          f"{onnx.defs.onnx_opset_version()}, got {opset!r}")
    if not model.built:
        raise NotBuiltError(f"ONNX export: model {model.name!r} is not built yet; build it or fit it first")
    g = _Graph(onnx, int(opset))
    ex = _Exporter(g)
    if isinstance(model, Functional):
        tensors = model._inputs
        in_names, out_names = model.input_names, model.output_names
        in_shapes = [tuple(t.shape) for t in tensors]
        in_types = [helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)) if t.dtype.startswith(("int", "uint"))
                    else TensorProto.FLOAT for t in tensors]
        out_shapes = [tuple(t.shape) for t in model._outputs]
    else:
        in_names = [model._input_name or "input_layer"]
        out_names = [model.layers[-1].name]
        declared = getattr(model, "_input_dtype", None)
        if declared is not None and declared.startswith(("int", "uint")):
            in_type = helper.np_dtype_to_tensor_dtype(np.dtype(declared))
        elif type(model.layers[0]).__name__ == "Embedding":  # ids: integers, as callers feed them
            in_type = TensorProto.INT64
        else:
            in_type = TensorProto.FLOAT
        in_shapes, in_types = [tuple(model.input_shape)], [in_type]
        out_shapes = [tuple(model.output_shape)]
    for name in in_names:
        g._names.add(name)
    for name in out_names:
        g._names.add(name)
    for name, t in zip(in_names, in_types):
        if t != TensorProto.FLOAT:
            ex.int_names.add(name)
    outs, _ = ex.model(model, list(in_names), [s[1:] for s in in_shapes], [False] * len(in_names))
    for internal, name in zip(outs, out_names):
        g.nodes.append(helper.make_node("Identity", [internal], [name], name=g.name(f"{name}/output")))

    def value_info(name, elem, shape):  # unknown lengths get their own names: an encoder's and a decoder's differ
        return helper.make_tensor_value_info(name, elem, ["batch" if i == 0 else f"{name}_axis{i}" if d is None
                                                          else int(d) for i, d in enumerate(shape)])

    graph = helper.make_graph(g.nodes, model.name or "tuinet",
                              [value_info(nm, t, s) for nm, t, s in zip(in_names, in_types, in_shapes)],
                              [value_info(nm, TensorProto.FLOAT, s) for nm, s in zip(out_names, out_shapes)],
                              initializer=g.inits)
    opsets = [helper.make_opsetid("", int(opset))]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="tuinet")
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    from tuinet.__about__ import __version__

    proto.producer_version = __version__
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:  # pragma: no cover - a bug in the exporter
        raise ConfigError(f"ONNX export: the graph failed onnx.checker: {str(exc).splitlines()[0]}") from None
    return proto


def export_onnx(model, path, opset: int = DEFAULT_OPSET) -> Path:
    """Write `model` as an ONNX file at `path` (atomically); returns the path written."""
    from tuinet.atomic import atomic_write
    from tuinet.errors import ModelFileError

    proto = build_onnx(model, opset)
    data = proto.SerializeToString()

    def error(exc: OSError) -> TuinetError:
        return ModelFileError(f"{path}: cannot write the ONNX file ({exc.strerror or exc})")

    return atomic_write(path, lambda f: f.write(data), error=error)


def export_model(model, filepath, format: str = "onnx", *, verbose: bool = True, input_signature=None,
                 opset: int = DEFAULT_OPSET, **kwargs) -> Path:
    """`model.export(filepath, format="onnx", ...)`, checking Keras's arguments; returns the path written."""
    if format != "onnx":
        raise ConfigError(f"export: format must be \"onnx\" (the only export format tuinet has), got {format!r}")
    if input_signature is not None:
        raise ConfigError("export: input_signature is not supported; the ONNX file takes the model's own inputs "
                          "with a dynamic batch axis")
    if kwargs:
        raise ConfigError(f"export: unexpected argument(s) {', '.join(sorted(kwargs))}")
    path = export_onnx(model, filepath, opset)
    if verbose:
        print(f"Saved ONNX model (opset {opset}) to {path}")
    return path

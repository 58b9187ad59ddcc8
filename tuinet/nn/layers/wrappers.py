"""Layers that wrap other layers: `TimeDistributed` and `Bidirectional`, as in Keras 3.

A wrapper owns its inner layers' weights: after `build` the wrapper's `params`, `grads`,
`state`, `regularizers` and `constraints` hold the inner layers' arrays under prefixed keys (Bidirectional:
`"forward_lstm/kernel"`, ..., `"backward_lstm/kernel"`, ...; TimeDistributed: the inner
layer's own names), in Keras's `get_weights` order. The model may re-home `params[k]` and
`grads[k]` into its flat buffers, so the wrapper points its inner layers at its own arrays
again before every pass (`_sync`).
"""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn.layers.base import Layer, check_choice


def _check_layer(cls: str, arg: str, layer) -> Layer:
    """A layer instance; a serialized spec `{"class_name": ..., "config": ...}` is rebuilt first."""
    from tuinet.nn.layers.input_layer import InputLayer

    if isinstance(layer, dict):
        layer = _inner_from_config(cls, arg, layer)
    if not isinstance(layer, Layer) or isinstance(layer, InputLayer):
        raise ConfigError(f"{cls}: {arg} must be a layer instance such as layers.LSTM(8), got {layer!r}")
    return layer


def _inner_from_config(cls: str, arg: str, spec) -> Layer:
    from tuinet.nn.layers import deserialize

    if isinstance(spec, Layer):
        return spec
    if not isinstance(spec, dict):
        raise ConfigError(f"{cls}: {arg} must be a layer config {{'class_name': ..., 'config': ...}}, got {spec!r}")
    return deserialize(spec)


class _Wrapper(Layer):
    """Shared machinery: adopting the inner layers' weights and pointing them back at ours."""

    def _children(self) -> list[tuple[str, Layer]]:  # pragma: no cover - abstract
        """`(key prefix, layer)` of each inner layer, in weight order."""
        raise NotImplementedError

    def _child_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def weight_specs(self, input_shape):
        input_shape = tuple(input_shape)
        self.compute_output_shape(input_shape)
        child = self._child_shape(input_shape)
        return [(prefix + n, shape, t) for prefix, lay in self._children() for n, shape, t in lay.weight_specs(child)]

    def build(self, input_shape, rng):
        child = self._child_shape(input_shape)
        self._links = []
        for prefix, lay in self._children():
            if lay.dtype is None and self.dtype is not None:
                lay.dtype = self.dtype
            lay.build_for(child, rng)
            for k in lay.weight_names:
                key = prefix + k
                if key in self.params or key in self.state:
                    raise ConfigError(f"{type(self).__name__} {self.name!r}: two inner weights are named {key!r}; "
                                      f"give the inner layers different names")
                if k in lay.params:
                    self.params[key], self.grads[key] = lay.params[k], lay.grads[k]
                    self._links.append((lay, k, key))
                else:
                    self.state[key] = lay.state[k]
                if k in lay.regularizers:
                    self.regularizers[key] = lay.regularizers[k]
                if k in lay.__dict__.get("constraints", {}):
                    self.constraints[key] = lay.constraints[k]
                self._weight_names.append(key)

    def _sync(self) -> None:
        """Point the inner layers at the (possibly re-homed) arrays in our `params`/`grads`."""
        for lay, k, key in self._links:
            lay.params[k] = self.params[key]
            lay.grads[k] = self.grads[key]
        for _, lay in self._children():
            lay.needs_input_grad = self.needs_input_grad

    @property
    def _rng(self):
        """The inner layers' random generator (dropout masks), so the model saves and restores it."""
        for _, lay in self._children():
            rng = getattr(lay, "_rng", None)
            if isinstance(rng, np.random.Generator):
                return rng
        return None


class TimeDistributed(_Wrapper):
    """Apply `layer` to every time step: `(batch, time, ...)` is run as `(batch * time, ...)`.

    The weights are the inner layer's, shared by every step (`get_weights` returns the inner
    layer's). A layer that computes batch statistics (BatchNormalization in training) sees
    all `batch * time` samples at once, where Keras runs it once per time step.

    Args:
        layer: The layer applied to each time step, e.g. `Dense(8)` or `Conv2D(4, 3)`.
    """

    def __init__(self, layer, **kwargs) -> None:
        super().__init__(**kwargs)
        self.layer = _check_layer("TimeDistributed", "layer", layer)

    def _children(self):
        return [("", self.layer)]

    def _child_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ShapeError(f"TimeDistributed {self.name!r} expects inputs of shape (batch, time, ...) with at "
                             f"least 3 axes, got input shape (None, {', '.join(map(str, input_shape))})")
        return tuple(input_shape[1:])

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (input_shape[0], *self.layer.compute_output_shape(self._child_shape(input_shape)))

    def forward(self, x, *, training=False):
        self._sync()
        x = np.asarray(x)
        if x.ndim < 3:
            raise ShapeError(f"TimeDistributed {self.name!r} expects inputs of shape (batch, time, ...), "
                             f"got {x.shape}")
        self._lead = x.shape[:2]
        self._in_shape = x.shape
        y = self.layer.forward(x.reshape(-1, *x.shape[2:]), training=training)
        return y.reshape(*self._lead, *y.shape[1:])

    def backward(self, grad_out):
        self._sync()
        grad_out = np.asarray(grad_out)
        g = self.layer.backward(grad_out.reshape(-1, *grad_out.shape[2:]))
        return None if g is None else g.reshape(self._in_shape)

    # Activation fusion: the model hands dL/dz of the inner layer's activation straight through.
    @property
    def activation(self):
        if type(self.layer).backward_linear is Layer.backward_linear:
            return None
        return getattr(self.layer, "activation", None)

    @property
    def _z(self):
        return self.layer._z

    def backward_linear(self, grad_z):
        self._sync()
        grad_z = np.asarray(grad_z)
        g = self.layer.backward_linear(grad_z.reshape(-1, *grad_z.shape[2:]))
        return None if g is None else g.reshape(self._in_shape)

    def get_config(self):
        from tuinet.nn.layers import serialize

        return {**super().get_config(), "layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config):
        cfg = dict(config)
        cfg["layer"] = _inner_from_config("TimeDistributed", "layer", cfg.get("layer"))
        return super().from_config(cfg)


MERGE_MODES = ("concat", "sum", "mul", "ave")


class Bidirectional(_Wrapper):
    """Run a recurrent layer forwards and a copy of it backwards, and merge their outputs.

    The forward layer is a fresh copy of `layer` named `"forward_<name>"`; the backward layer
    is `backward_layer`, or a copy of `layer` with `go_backwards=True` named
    `"backward_<name>"`. With `return_sequences` the backward outputs are put back in time
    order before merging. `get_weights` returns the forward layer's weights, then the
    backward layer's.

    Args:
        layer: A `SimpleRNN`, `LSTM` or `GRU` (any layer with `go_backwards` and
            `return_sequences`).
        merge_mode: "concat" (default), "sum", "mul" or "ave". Keras's None (a list of two
            outputs) is refused: a tuinet layer returns one array.
        weights: Initial weights, forward layer's first half, backward layer's second half.
        backward_layer: The layer that reads the sequence backwards; it must have
            `go_backwards` opposite to `layer` and the same `return_sequences`.
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs) -> None:
        from tuinet.nn.layers import deserialize, serialize

        layer = _check_layer("Bidirectional", "layer", layer)
        if backward_layer is not None:
            backward_layer = _check_layer("Bidirectional", "backward_layer", backward_layer)
        if merge_mode is None:
            raise ConfigError("Bidirectional: merge_mode=None (two outputs as a list) is not supported: a tuinet "
                              "layer returns one array; choose concat, sum, mul or ave")
        self.merge_mode = check_choice("Bidirectional", "merge_mode", merge_mode, MERGE_MODES)
        super().__init__(**kwargs)
        for lay, arg in ((layer, "layer"), (backward_layer, "backward_layer")):
            if lay is not None and not all(hasattr(lay, a) for a in ("go_backwards", "return_sequences")):
                raise ConfigError(f"Bidirectional: {arg} must be a recurrent layer (SimpleRNN, LSTM, GRU) with "
                                  f"go_backwards and return_sequences, got {type(lay).__name__}")
        base = layer.name or layer.default_name()
        spec = serialize(layer)
        spec["config"]["name"] = "forward_" + base.removeprefix("forward_")
        self.forward_layer = deserialize(spec)
        if backward_layer is None:
            spec = serialize(layer)
            spec["config"]["go_backwards"] = True
            spec["config"]["name"] = "backward_" + base.removeprefix("backward_")
            self.backward_layer = deserialize(spec)
        else:
            if backward_layer.name is None:
                backward_layer.name = "backward_" + backward_layer.default_name()
            self.backward_layer = backward_layer
        f, b = self.forward_layer, self.backward_layer
        if f.go_backwards == b.go_backwards:
            raise ConfigError(f"Bidirectional: the forward and backward layers must have different go_backwards, "
                              f"got {f.go_backwards} for both")
        for a in ("return_sequences", "return_state", "stateful"):
            if getattr(f, a, None) != getattr(b, a, None):
                raise ConfigError(f"Bidirectional: the forward and backward layers must have the same {a}, got "
                                  f"{getattr(f, a, None)} (forward) and {getattr(b, a, None)} (backward)")
        if f.return_state:
            raise ConfigError("Bidirectional: return_state needs the functional API (keras.Model(inputs, outputs)), "
                              "which tuinet does not have yet")
        if f.name == b.name:
            raise ConfigError(f"Bidirectional: the forward and backward layers need different names, both are "
                              f"{f.name!r}")
        self.return_sequences = bool(f.return_sequences)
        self._initial_weights = None
        if weights is not None and len(weights) > 0:
            self._initial_weights = [np.asarray(w) for w in weights]

    def _children(self):
        return [(f"{self.forward_layer.name}/", self.forward_layer),
                (f"{self.backward_layer.name}/", self.backward_layer)]

    def compute_output_shape(self, input_shape):
        fs = tuple(self.forward_layer.compute_output_shape(input_shape))
        bs = tuple(self.backward_layer.compute_output_shape(input_shape))
        if self.merge_mode == "concat":
            if fs[:-1] != bs[:-1]:
                raise ShapeError(f"Bidirectional {self.name!r}: forward output {fs} and backward output {bs} "
                                 f"cannot be concatenated")
            return (*fs[:-1], fs[-1] + bs[-1])
        if fs != bs:
            raise ShapeError(f"Bidirectional {self.name!r}: merge_mode={self.merge_mode!r} needs equal forward and "
                             f"backward output shapes, got {fs} and {bs}")
        return fs

    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        f, b = self.forward_layer, self.backward_layer
        if isinstance(f.__dict__.get("_rng"), np.random.Generator) and isinstance(b.__dict__.get("_rng"), np.random.Generator):
            b._rng = f._rng  # one generator for both directions, saved and restored by the model
        if self._initial_weights is not None:
            w = self._initial_weights
            n = len(w) // 2
            f.set_weights(w[:n])
            b.set_weights(w[n:])
            self._initial_weights = None

    consumes_mask = True

    def compute_mask(self, x, mask):
        return mask if self.return_sequences else None

    def forward(self, x, *, training=False, mask=None):
        self._sync()
        inner = {"mask": mask} if mask is not None else {}
        yf = self.forward_layer.forward(x, training=training, **inner)
        yb = self.backward_layer.forward(x, training=training, **inner)
        if self.return_sequences:
            yb = yb[:, ::-1]
        mode = self.merge_mode
        if mode == "mul":
            self._yf, self._yb = yf, yb
        self._units = yf.shape[-1]
        if mode == "concat":
            out = np.concatenate([yf, yb], axis=-1)
        elif mode == "sum":
            out = yf + yb
        elif mode == "ave":
            out = (yf + yb) / yf.dtype.type(2)
        else:
            out = yf * yb
        # Keras's Bidirectional returns zeros at masked steps of a sequence (zero_output_for_mask)
        self._zero = None
        if mask is not None and self.return_sequences:
            self._zero = np.asarray(mask, dtype=bool)[..., None]
            out = np.where(self._zero, out, out.dtype.type(0))
        return out

    def backward(self, grad_out):
        self._sync()
        g = np.asarray(grad_out)
        if getattr(self, "_zero", None) is not None:
            g = np.where(self._zero, g, g.dtype.type(0))
        mode = self.merge_mode
        if mode == "concat":
            gf, gb = g[..., :self._units], g[..., self._units:]
        elif mode == "sum":
            gf = gb = g
        elif mode == "ave":
            gf = gb = g / g.dtype.type(2)
        else:
            gf, gb = g * self._yb, g * self._yf
        if self.return_sequences:
            gb = gb[:, ::-1]
        df = self.forward_layer.backward(np.ascontiguousarray(gf))
        db = self.backward_layer.backward(np.ascontiguousarray(gb))
        if df is None or db is None:
            return None
        df += db
        return df

    def get_config(self):
        from tuinet.nn.layers import serialize

        return {**super().get_config(), "merge_mode": self.merge_mode, "layer": serialize(self.forward_layer),
                "backward_layer": serialize(self.backward_layer)}

    @classmethod
    def from_config(cls, config):
        cfg = dict(config)
        cfg["layer"] = _inner_from_config("Bidirectional", "layer", cfg.get("layer"))
        if cfg.get("backward_layer") is not None:
            cfg["backward_layer"] = _inner_from_config("Bidirectional", "backward_layer", cfg["backward_layer"])
        return super().from_config(cfg)

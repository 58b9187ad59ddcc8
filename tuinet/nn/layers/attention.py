"""Keras 3's attention layers: `MultiHeadAttention` and `Attention` (Luong-style).

Both take a list of tensors, `[query, value]` or `[query, value, key]` (the key defaults to
the value), each of shape `(batch, time, features)`; query and value may have different
lengths. They set `multi_input`, so `build` and `compute_output_shape` get a list of shapes
(each without the batch axis), `forward` a list of arrays, and `backward` returns one
gradient per input (the value's includes the key's part when no key was given).

Masks, as in Keras: a boolean `attention_mask` `(batch, T_q, T_v)` (MultiHeadAttention) or
`mask=[query_mask, value_mask]` (Attention) in a direct call, and `use_causal_mask=True`,
which lets position `i` attend to positions `j <= i` only. Keras's implicit masks (from
`Embedding(mask_zero=True)`) do not reach these layers in tuinet's graphs.

In a functional graph, `mha(query, value)` / `mha(query, value, key=k)` records a node with
inputs `[query, value(, key)]`. `use_causal_mask=True` there is stored on the layer (it then
applies to every call of that layer), while `attention_mask` tensors and
`return_attention_scores=True` are refused in graphs: call the layer on arrays for those.
"""

from __future__ import annotations

import math

import numpy as np

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import constraints, initializers, regularizers
from tuinet.nn.layers.base import Layer, check_bool, check_choice, check_positive_int, check_rate, check_seed

_LARGE_NEGATIVE = -1e9  # Keras's `_large_negative_number` for float32/float64 scores


def _fmt(shapes) -> str:
    return ", ".join(str((None, *s)) for s in shapes)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _causal_mask(t_q: int, t_v: int) -> np.ndarray:
    """Keras's `_compute_causal_mask`: `(T_q, T_v)`, True where key position <= query position."""
    return np.arange(t_q)[:, None] >= np.arange(t_v)[None, :]


class _AttentionBase(Layer):
    """Shared plumbing: the input list, dropout on the attention weights, the call helpers."""

    multi_input = True

    def _init_dropout(self, dropout, seed) -> None:
        name = type(self).__name__
        self.dropout = check_rate(name, "dropout", dropout)
        self.seed = check_seed(name, "seed", seed)
        self._rng = np.random.default_rng(self.seed)
        self._causal = False

    def _seed_dropout(self, rng: np.random.Generator) -> None:
        """Seeded like tuinet's `Dropout`: from `seed`, or from the model's generator."""
        self._rng = np.random.default_rng(self.seed if self.seed is not None else rng.integers(2**63))

    def _check_shapes(self, shapes) -> list[tuple]:
        name = type(self).__name__
        if not isinstance(shapes, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in shapes):
            raise ShapeError(f"{name}: expects a list of input shapes [query, value] or [query, value, key], "
                             f"got {shapes!r}")
        if len(shapes) not in (2, 3):
            raise ShapeError(f"{name}: expects 2 or 3 inputs ([query, value] or [query, value, key]), "
                             f"got {len(shapes)}")
        shapes = [tuple(s) for s in shapes]
        if any(len(s) != 2 for s in shapes):
            raise ShapeError(f"{name}: inputs must have shape (batch, time, features), got {_fmt(shapes)}")
        value, key = shapes[1], shapes[2] if len(shapes) == 3 else shapes[1]
        if value[0] is not None and key[0] is not None and value[0] != key[0]:
            raise ShapeError(f"{name}: value and key must have the same length, got {_fmt([value, key])}")
        return shapes

    def _arrays(self, xs) -> list[np.ndarray]:
        name = type(self).__name__
        if not isinstance(xs, (list, tuple)):
            raise ShapeError(f"{name}: expects a list of inputs [query, value] or [query, value, key], "
                             f"got {type(xs).__name__}")
        dtype = self.compute_dtype
        xs = [np.asarray(x, dtype=dtype) for x in xs]
        if any(x.ndim != 3 for x in xs):
            raise ShapeError(f"{name}: inputs must have shape (batch, time, features), got "
                             f"{', '.join(str(x.shape) for x in xs)}")
        self._check_shapes([x.shape[1:] for x in xs])
        if len({x.shape[0] for x in xs}) > 1:
            raise ShapeError(f"{name}: inputs must have the same batch size, got "
                             f"{', '.join(str(x.shape[0]) for x in xs)}")
        self.compute_output_shape([x.shape[1:] for x in xs])
        return xs

    def _drop(self, weights: np.ndarray, training: bool) -> np.ndarray | None:
        """The dropout multiplier of the attention weights (None: no dropout this pass)."""
        if not training or self.dropout == 0:
            return None
        keep = self._rng.random(weights.shape, dtype=weights.dtype) >= self.dropout
        return keep.astype(weights.dtype) * weights.dtype.type(1.0 / (1.0 - self.dropout))

    def _symbolic(self, inputs, training, use_causal_mask, refused: dict) -> object:
        from tuinet.nn import functional

        name = type(self).__name__
        for arg, value in refused.items():
            if value is not None and value is not False:
                raise ConfigError(f"{name} {self.name!r}: {arg} is not supported in a functional graph; "
                                  f"call the layer on arrays for it")
        if check_bool(name, "use_causal_mask", use_causal_mask):
            self._causal = True  # from now on the flag belongs to the layer: every call is causal
        return functional.symbolic_call(self, inputs, training=training)

    def _eager(self, xs, training, **kw):
        self.check_passes()
        xs = [np.asarray(a) for a in xs]
        if not self.built:
            self.build_for([a.shape[1:] for a in xs], np.random.default_rng())
        return self.forward(xs, training=bool(training), **kw)


# =============================================================================== MultiHeadAttention
class MultiHeadAttention(_AttentionBase):
    """Multi-head scaled dot-product attention ("Attention is all you need"), as Keras 3's.

    The query, key and value are projected to `num_heads` heads (`(batch, T, heads, key_dim)`,
    `key_dim`, `value_dim`), each head attends with `softmax(Q K^T / sqrt(key_dim))` over the
    key axis (masked positions are set to -1e9 before the softmax and to 0 after it, as Keras's
    `Softmax(mask=...)` does), the dropped-out weights average the values, and the heads are
    projected to `output_shape` (default: the query's feature size).

    Weights, in Keras's `get_weights()` order and layout (names are Keras's variable paths
    without the layer's name): `query/kernel` `(d_q, heads, key_dim)`, `query/bias`
    `(heads, key_dim)`, `key/kernel` `(d_k, heads, key_dim)`, `key/bias`, (with `use_gate`:
    `gate/kernel` `(d_q, heads, value_dim)`, `gate/bias`), `value/kernel`
    `(d_v, heads, value_dim)`, `value/bias` `(heads, value_dim)`, `attention_output/kernel`
    `(heads, value_dim, *output_shape)`, `attention_output/bias` `output_shape`.

    Call: `mha(query, value, key=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)`; the scores are `(batch, heads, T_q, T_v)`, the
    softmax before dropout. A fully masked query row gets all-zero weights (Keras's
    explicit-softmax path; Keras's fused `dot_product_attention` path averages the values instead).

    Args:
        num_heads: Number of attention heads.
        key_dim: Size of each head for query and key (the scores are scaled by `1/sqrt(key_dim)`).
        value_dim: Size of each head for value (default `key_dim`).
        dropout: Dropout rate on the attention weights, in training only.
        use_bias: Whether the four projections add biases.
        output_shape: Feature shape of the output (an int or a tuple); default the query's features.
        attention_axes: None (attention over the time axis); 1 or (1,) mean the same for
            `(batch, time, features)` inputs. Other axes are refused.
        sliding_window: None, or a positive int: query `i` attends only to keys `j` with
            `|i - j| < sliding_window`.
        use_gate: Multiply each head's output by `sigmoid(query @ gate/kernel + gate/bias)`.
        flash_attention: Accepted for Keras compatibility; it changes nothing here.
        kernel_initializer, bias_initializer: Initializers of the projections' kernels and biases.
        kernel_regularizer, bias_regularizer: Penalties on them.
        activity_regularizer: Only None (not supported).
        kernel_constraint, bias_constraint: Projections after each optimizer step.
        seed: Seed of the dropout masks.
    """

    positional_inputs = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 use_gate=False, seed=None, **kwargs) -> None:
        super().__init__(**kwargs)
        name = "MultiHeadAttention"
        self.num_heads = check_positive_int(name, "num_heads", num_heads)
        self.key_dim = check_positive_int(name, "key_dim", key_dim)
        self.value_dim = self.key_dim if value_dim is None else check_positive_int(name, "value_dim", value_dim)
        self._init_dropout(dropout, seed)
        self.use_bias = check_bool(name, "use_bias", use_bias)
        self.use_gate = check_bool(name, "use_gate", use_gate)
        if output_shape is None or output_shape == [] or output_shape == ():
            out = None
        elif isinstance(output_shape, (int, np.integer)) and not isinstance(output_shape, bool):
            out = (check_positive_int(name, "output_shape", output_shape),)
        elif isinstance(output_shape, (list, tuple)):
            out = tuple(check_positive_int(name, "output_shape", d) for d in output_shape)
        else:
            raise ConfigError(f"{name}: output_shape must be an int, a tuple of ints or None, got {output_shape!r}")
        self._out_dims = out  # Keras's `output_shape` argument (tuinet's `output_shape` is the layer's)
        if isinstance(attention_axes, (int, np.integer)) and not isinstance(attention_axes, bool):
            attention_axes = (int(attention_axes),)
        if attention_axes is not None and (not isinstance(attention_axes, (list, tuple))
                                           or tuple(attention_axes) not in ((1,), (-2,))):
            raise ConfigError(f"{name}: only attention_axes=None (attention over the time axis) is supported, "
                              f"got {attention_axes!r}")
        self.attention_axes = None if attention_axes is None else tuple(int(a) for a in attention_axes)
        self.sliding_window = None if sliding_window is None else check_positive_int(name, "sliding_window",
                                                                                     sliding_window)
        if flash_attention not in (None, True, False):
            raise ConfigError(f"{name}: flash_attention must be true, false or None, got {flash_attention!r}")
        if activity_regularizer is not None:
            raise ConfigError(f"{name}: activity_regularizer is not supported (use an ActivityRegularization "
                              f"layer after it), got {activity_regularizer!r}")
        self._weight_args(locals(), 'kernel', 'bias')

    # -- shapes and weights ----------------------------------------------------------------
    def compute_output_shape(self, input_shapes):
        shapes = self._check_shapes(input_shapes)
        query = shapes[0]
        return (query[0], *(self._out_dims or (query[1],)))

    def _projection(self, prefix: str, d_in, dims: tuple, rng) -> None:
        self.add_weight(f"{prefix}/kernel", (d_in, *dims), self.kernel_initializer, rng,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.add_weight(f"{prefix}/bias", dims, self.bias_initializer, rng,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def build(self, input_shape, rng):
        shapes = self._check_shapes(input_shape)
        query, value = shapes[0], shapes[1]
        key = shapes[2] if len(shapes) == 3 else value
        if any(s[-1] is None for s in (query, value, key)):
            raise ShapeError(f"MultiHeadAttention {self.name!r}: needs inputs with known feature sizes, "
                             f"got {_fmt(shapes)}")
        heads = self.num_heads
        self._projection("query", query[-1], (heads, self.key_dim), rng)
        self._projection("key", key[-1], (heads, self.key_dim), rng)
        if self.use_gate:
            self._projection("gate", query[-1], (heads, self.value_dim), rng)
        self._projection("value", value[-1], (heads, self.value_dim), rng)
        out = self._out_dims or (query[-1],)
        self.add_weight("attention_output/kernel", (heads, self.value_dim, *out), self.kernel_initializer, rng,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.add_weight("attention_output/bias", out, self.bias_initializer, rng,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self._seed_dropout(rng)

    # -- calls -----------------------------------------------------------------------------
    def __call__(self, query, value=None, key=None, attention_mask=None, return_attention_scores=False,
                 training=None, use_causal_mask=False, **kwargs):
        """Keras's `mha(query, value, key=None, attention_mask=None, return_attention_scores=False,
        training=None, use_causal_mask=False)`; a list `[query, value(, key)]` works too."""
        from tuinet.nn import functional

        if kwargs:
            raise ConfigError(f"MultiHeadAttention {self.name!r}: unexpected call argument(s) "
                              f"{', '.join(sorted(kwargs))}")
        if isinstance(query, (list, tuple)) and value is None:  # [query, value(, key)], as a graph node holds it
            inputs = list(query) + ([] if key is None else [key])
        elif value is None:
            raise ConfigError(f"MultiHeadAttention {self.name!r}: needs a value: mha(query, value)")
        else:
            inputs = [query, value] + ([] if key is None else [key])
        if functional.is_symbolic(inputs):
            return self._symbolic(inputs, training, use_causal_mask,
                                  {"attention_mask": attention_mask,
                                   "return_attention_scores": return_attention_scores})
        out = self._eager(inputs, training, attention_mask=attention_mask,
                          use_causal_mask=check_bool("MultiHeadAttention", "use_causal_mask", use_causal_mask))
        return (out, self._probs.copy()) if return_attention_scores else out

    def _mask(self, attention_mask, causal: bool, b: int, t_q: int, t_v: int) -> np.ndarray | None:
        """The combined boolean mask, broadcastable to the scores `(batch, heads, T_q, T_v)`."""
        mask = None
        if attention_mask is not None:
            mask = np.asarray(attention_mask).astype(bool)  # Keras casts to bool: nonzero attends
            if mask.ndim == 2:
                mask = mask[None]
            if mask.ndim != 3 or not all(m in (1, n) for m, n in zip(mask.shape, (b, t_q, t_v))):
                raise ShapeError(f"MultiHeadAttention {self.name!r}: attention_mask must have shape "
                                 f"(batch, T_q, T_v) = {(b, t_q, t_v)}, got {np.shape(attention_mask)}")
            mask = mask[:, None]
        extra = None
        if causal:
            extra = _causal_mask(t_q, t_v)
        if self.sliding_window is not None:
            band = np.abs(np.arange(t_q)[:, None] - np.arange(t_v)[None, :]) < self.sliding_window
            extra = band if extra is None else extra & band
        if extra is not None:
            mask = extra[None, None] if mask is None else mask & extra
        return mask

    @staticmethod
    def _project(x: np.ndarray, kernel: np.ndarray, bias) -> np.ndarray:
        """`einsum("btd,dnh->btnh", x, kernel) + bias`."""
        b, t, d = x.shape
        y = (x.reshape(b * t, d) @ kernel.reshape(d, -1)).reshape(b, t, *kernel.shape[1:])
        return y if bias is None else y + bias

    def forward(self, xs, *, training=False, attention_mask=None, use_causal_mask=False):
        xs = self._arrays(xs)
        query, value = xs[0], xs[1]
        key = xs[2] if len(xs) == 3 else value
        self._xs, self._n = (query, value, key), len(xs)
        p = self.params
        bias = (lambda k: p[k]) if self.use_bias else (lambda k: None)
        q = self._project(query, p["query/kernel"], bias("query/bias"))
        k = self._project(key, p["key/kernel"], bias("key/bias"))
        v = self._project(value, p["value/kernel"], bias("value/bias"))
        scale = q.dtype.type(1.0 / math.sqrt(self.key_dim))
        qh = np.transpose(q, (0, 2, 1, 3)) * scale        # (batch, heads, T_q, key_dim)
        kh = np.transpose(k, (0, 2, 1, 3))                # (batch, heads, T_v, key_dim)
        vh = np.transpose(v, (0, 2, 1, 3))                # (batch, heads, T_v, value_dim)
        scores = qh @ np.swapaxes(kh, -1, -2)             # (batch, heads, T_q, T_v)
        b, t_q, t_v = query.shape[0], query.shape[1], value.shape[1]
        mask = self._mask(attention_mask, self._causal or bool(use_causal_mask), b, t_q, t_v)
        if mask is not None:
            scores = np.where(mask, scores, scores.dtype.type(_LARGE_NEGATIVE))
        soft = _softmax(scores)
        probs = soft if mask is None else np.where(mask, soft, soft.dtype.type(0))
        drop = self._drop(probs, training)
        used = probs if drop is None else probs * drop
        heads = used @ vh                                 # (batch, heads, T_q, value_dim)
        o = np.transpose(heads, (0, 2, 1, 3))             # (batch, T_q, heads, value_dim)
        self._gate = None
        if self.use_gate:
            gate = 1.0 / (1.0 + np.exp(-self._project(query, p["gate/kernel"], bias("gate/bias"))))
            self._gate, self._o_raw = gate, o
            o = o * gate
        kernel = p["attention_output/kernel"]
        out_dims = kernel.shape[2:]
        y = o.reshape(b * t_q, -1) @ kernel.reshape(-1, math.prod(out_dims))
        if self.use_bias:
            y = y + p["attention_output/bias"].reshape(-1)
        self._qh, self._kh, self._vh, self._o = qh, kh, vh, o
        self._soft, self._probs, self._dropmask, self._used, self._mask_ = soft, probs, drop, used, mask
        return y.reshape(b, t_q, *out_dims)

    def _project_back(self, prefix: str, x: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """Fill `prefix`'s gradients from dL/d(projection) `(batch, T, heads, dim)`; returns dL/dx."""
        b, t, d = x.shape
        g2 = grad.reshape(b * t, -1)
        self.grads[f"{prefix}/kernel"][...] = (x.reshape(b * t, d).T @ g2).reshape(self.grads[f"{prefix}/kernel"].shape)
        if self.use_bias:
            self.grads[f"{prefix}/bias"][...] = grad.sum(axis=(0, 1))
        if not self.needs_input_grad:
            return None
        return (g2 @ self.params[f"{prefix}/kernel"].reshape(d, -1).T).reshape(b, t, d)

    def backward(self, grad_out):
        query, value, key = self._xs
        b, t_q = query.shape[:2]
        kernel = self.params["attention_output/kernel"]
        g = np.asarray(grad_out, dtype=self._o.dtype).reshape(b * t_q, -1)
        self.grads["attention_output/kernel"][...] = (self._o.reshape(b * t_q, -1).T @ g).reshape(kernel.shape)
        if self.use_bias:
            self.grads["attention_output/bias"][...] = g.sum(axis=0).reshape(self.grads["attention_output/bias"].shape)
        d_o = (g @ kernel.reshape(-1, g.shape[1]).T).reshape(self._o.shape)  # (batch, T_q, heads, value_dim)
        grad_query = None
        if self.use_gate:
            gate = self._gate
            d_gate = d_o * self._o_raw * gate * (1 - gate)
            grad_query = self._project_back("gate", query, d_gate)
            d_o = d_o * gate
        d_heads = np.transpose(d_o, (0, 2, 1, 3))          # (batch, heads, T_q, value_dim)
        d_vh = np.swapaxes(self._used, -1, -2) @ d_heads   # (batch, heads, T_v, value_dim)
        d_probs = d_heads @ np.swapaxes(self._vh, -1, -2)  # (batch, heads, T_q, T_v)
        if self._dropmask is not None:
            d_probs = d_probs * self._dropmask
        if self._mask_ is not None:
            d_probs = np.where(self._mask_, d_probs, d_probs.dtype.type(0))
        soft = self._soft
        d_scores = soft * (d_probs - np.sum(d_probs * soft, axis=-1, keepdims=True))
        if self._mask_ is not None:
            d_scores = np.where(self._mask_, d_scores, d_scores.dtype.type(0))
        scale = d_scores.dtype.type(1.0 / math.sqrt(self.key_dim))
        d_qh = (d_scores @ self._kh) * scale
        d_kh = np.swapaxes(d_scores, -1, -2) @ self._qh
        tr = (0, 2, 1, 3)
        gq = self._project_back("query", query, np.transpose(d_qh, tr))
        gk = self._project_back("key", key, np.transpose(d_kh, tr))
        gv = self._project_back("value", value, np.transpose(d_vh, tr))
        if not self.needs_input_grad:
            return [None] * self._n
        if grad_query is not None:
            gq = gq + grad_query
        if self._n == 2:
            return [gq, gv + gk]
        return [gq, gv, gk]

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "use_gate": self.use_gate,
                "output_shape": None if self._out_dims is None else list(self._out_dims),
                "attention_axes": None if self.attention_axes is None else list(self.attention_axes),
                "sliding_window": self.sliding_window,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": None,
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "seed": self.seed}


# ======================================================================================== Attention
class Attention(_AttentionBase):
    """Dot-product (Luong-style) attention, as Keras 3's `layers.Attention`.

    `scores = query @ key^T` ("dot"; times `scale` with `use_scale`) or
    `concat_score_weight * sum(tanh(scale * (query_i + key_j)))` ("concat"), masked positions
    lowered by 1e9, `softmax` over the key axis, dropout in training, then `weights @ value`.
    The output is `(batch, T_q, value features)`; query and key need the same feature size.

    Call: `attention([query, value(, key)], mask=None, training=None,
    return_attention_scores=False, use_causal_mask=False)` with `mask=[query_mask, value_mask]`
    (boolean `(batch, T_q)` and `(batch, T_v)`, either may be None): masked values get no weight
    and masked query rows output 0.

    Args:
        use_scale: Learn a scalar `scale` (initialized to 1) multiplying the scores.
        score_mode: "dot" or "concat" (the latter has a scalar `concat_score_weight`).
        dropout: Dropout rate on the attention weights, in training only.
        seed: Seed of the dropout masks.
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.use_scale = check_bool("Attention", "use_scale", use_scale)
        self.score_mode = check_choice("Attention", "score_mode", score_mode, ("dot", "concat"))
        self._init_dropout(dropout, seed)

    def compute_output_shape(self, input_shapes):
        shapes = self._check_shapes(input_shapes)
        query, value = shapes[0], shapes[1]
        key = shapes[2] if len(shapes) == 3 else value
        if query[1] is not None and key[1] is not None and query[1] != key[1]:
            raise ShapeError(f"Attention: query and key must have the same feature size, got {_fmt([query, key])}")
        return (query[0], value[1])

    def build(self, input_shape, rng):
        self.compute_output_shape(input_shape)
        if self.use_scale:
            self.add_weight("scale", (), "ones", rng)
        if self.score_mode == "concat":
            self.add_weight("concat_score_weight", (), "ones", rng)
        self._seed_dropout(rng)

    def __call__(self, inputs, mask=None, training=None, return_attention_scores=False, use_causal_mask=False,
                 **kwargs):
        """Keras's `attention([query, value(, key)], mask=None, training=None,
        return_attention_scores=False, use_causal_mask=False)`."""
        from tuinet.nn import functional

        if kwargs:
            raise ConfigError(f"Attention {self.name!r}: unexpected call argument(s) {', '.join(sorted(kwargs))}")
        if not isinstance(inputs, (list, tuple)):
            raise ConfigError(f"Attention {self.name!r}: call it on a list [query, value] or [query, value, key]")
        if functional.is_symbolic(inputs):
            return self._symbolic(list(inputs), training, use_causal_mask,
                                  {"mask": mask, "return_attention_scores": return_attention_scores})
        out = self._eager(list(inputs), training, mask=mask,
                          use_causal_mask=check_bool("Attention", "use_causal_mask", use_causal_mask))
        return (out, self._attn.copy()) if return_attention_scores else out

    def forward(self, xs, *, training=False, mask=None, use_causal_mask=False):
        xs = self._arrays(xs)
        query, value = xs[0], xs[1]
        key = xs[2] if len(xs) == 3 else value
        self._xs, self._n = (query, value, key), len(xs)
        t = query.dtype.type
        scale = self.params["scale"] if self.use_scale else t(1)
        if self.score_mode == "dot":
            raw = query @ np.swapaxes(key, -1, -2)
            scores = raw * scale
            self._raw = raw
        else:
            total = query[:, :, None, :] + key[:, None, :, :]  # (batch, T_q, T_v, features)
            tanh = np.tanh(scale * total)
            summed = tanh.sum(axis=-1)
            scores = self.params["concat_score_weight"] * summed
            self._total, self._tanh, self._summed = total, tanh, summed
        q_mask = v_mask = None
        if mask is not None:
            if not isinstance(mask, (list, tuple)) or len(mask) not in (2, 3):
                raise ConfigError(f"Attention {self.name!r}: mask must be a list [query_mask, value_mask]")
            q_mask, v_mask = (None if m is None else np.asarray(m).astype(bool) for m in mask[:2])
        score_mask = None if v_mask is None else v_mask[:, None, :]
        if self._causal or use_causal_mask:
            causal = _causal_mask(query.shape[1], key.shape[1])[None]
            score_mask = causal if score_mask is None else score_mask & causal
        if score_mask is not None:
            scores = np.where(score_mask, scores, scores - t(1e9))
        weights = _softmax(scores)
        drop = self._drop(weights, training)
        used = weights if drop is None else weights * drop
        out = used @ value
        if q_mask is not None:
            out = np.where(q_mask[:, :, None], out, t(0))
        self._attn, self._dropmask, self._used, self._q_mask = weights, drop, used, q_mask
        return out

    def backward(self, grad_out):
        query, value, key = self._xs
        g = np.asarray(grad_out, dtype=self._attn.dtype)
        if self._q_mask is not None:
            g = np.where(self._q_mask[:, :, None], g, g.dtype.type(0))
        d_value = np.swapaxes(self._used, -1, -2) @ g
        d_weights = g @ np.swapaxes(value, -1, -2)
        if self._dropmask is not None:
            d_weights = d_weights * self._dropmask
        w = self._attn
        d_scores = w * (d_weights - np.sum(d_weights * w, axis=-1, keepdims=True))
        t = d_scores.dtype.type
        if self.score_mode == "dot":
            if self.use_scale:
                self.grads["scale"][...] = np.sum(d_scores * self._raw)
                d_scores = d_scores * self.params["scale"]
            d_query = d_scores @ key
            d_key = np.swapaxes(d_scores, -1, -2) @ query
        else:
            weight = self.params["concat_score_weight"]
            self.grads["concat_score_weight"][...] = np.sum(d_scores * self._summed)
            d_inner = (d_scores * weight)[..., None] * (t(1) - self._tanh ** 2)  # d/d(scale * total)
            if self.use_scale:
                self.grads["scale"][...] = np.sum(d_inner * self._total)
                d_inner = d_inner * self.params["scale"]
            d_query = d_inner.sum(axis=2)
            d_key = d_inner.sum(axis=1)
        if not self.needs_input_grad:
            return [None] * self._n
        if self._n == 2:
            return [d_query, d_value + d_key]
        return [d_query, d_value, d_key]

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}

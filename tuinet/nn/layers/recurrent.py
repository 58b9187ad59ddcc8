"""Recurrent layers: SimpleRNN, LSTM and GRU with Keras 3's cell formulas and weight layouts.

Inputs are `(batch, timesteps, features)`; the initial state is zeros unless `initial_state`
is given (`[h]`, or `[h, c]` for LSTM, each `(batch, units)`, as in Keras's encoder-decoder
recipe). `backward_with_states` takes gradients of the returned final states too and gives
back those of the initial states. Internally the sequence
is kept time-major, `x @ kernel` is computed for every step in one matmul, the Python loop
runs over time steps only, and backpropagation through time accumulates the kernel and
recurrent-kernel gradients in one matmul each after the loop.

Dropout follows Keras: one mask per sequence (shared by every time step), drawn in training
only. LSTM and GRU use a single input mask for all gates unless `recurrent_dropout > 0`, in
which case every gate gets its own input and recurrent mask (Keras's `implementation=1`).
"""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import activations, constraints, initializers, regularizers
from tuinet.nn.layers.base import Layer, check_bool, check_positive_int, check_rate, check_seed


# -- masked projections ---------------------------------------------------------------------
# `w` holds `g` column blocks (the gates). Block k sees `a * mask[k]`; a mask of length 1 is
# shared by every block, and None means no dropout. `a` is `(..., batch, d)`, `mask` is
# `(g or 1, batch, d)`, `w` is `(d, g * n)`.

def _bcast(mask: np.ndarray, ndim: int) -> np.ndarray:
    """View `(g, batch, d)` as `(g, 1, ..., batch, d)` with `ndim` axes in all."""
    return mask.reshape(mask.shape[0], *(1,) * (ndim - 3), *mask.shape[1:])


def _proj(a: np.ndarray, w: np.ndarray, mask, out: np.ndarray) -> np.ndarray:
    """`out = a @ w`, each gate block of `w` applied to its own masked copy of `a`."""
    if mask is None:
        return np.matmul(a, w, out=out)
    if len(mask) == 1:
        return np.matmul(a * mask[0], w, out=out)
    g, d = len(mask), w.shape[0]
    n = w.shape[1] // g
    am = (a[None] * _bcast(mask, a.ndim + 1)).reshape(g, -1, d)
    r = np.matmul(am, w.reshape(d, g, n).transpose(1, 0, 2))  # (g, N, n)
    out[...] = r.transpose(1, 0, 2).reshape(out.shape)
    return out


def _proj_t(dy: np.ndarray, w: np.ndarray, mask, out: np.ndarray | None = None) -> np.ndarray:
    """Gradient of `_proj` with respect to `a`, given `dy = dL/d(a @ w)`."""
    if mask is None:
        return np.matmul(dy, w.T, out=out)
    if len(mask) == 1:
        r = np.matmul(dy, w.T, out=out)
        r *= mask[0]
        return r
    g, d = len(mask), w.shape[0]
    n = w.shape[1] // g
    lead = dy.shape[:-1]
    dyg = dy.reshape(-1, g, n).transpose(1, 0, 2)  # (g, N, n)
    r = np.matmul(dyg, w.reshape(d, g, n).transpose(1, 2, 0)).reshape(g, *lead, d)
    r *= _bcast(mask, len(lead) + 2)
    if out is None:
        return r.sum(axis=0)
    return np.sum(r, axis=0, out=out)


def _proj_w(a: np.ndarray, dy: np.ndarray, mask, out: np.ndarray) -> None:
    """Gradient of `_proj` with respect to `w`, summed over every leading axis, into `out`."""
    d = a.shape[-1]
    if mask is None:
        am = a.reshape(-1, d)
    elif len(mask) == 1:
        am = (a * mask[0]).reshape(-1, d)
    else:
        g = len(mask)
        n = dy.shape[-1] // g
        am = (a[None] * _bcast(mask, a.ndim + 1)).reshape(g, -1, d)
        dyg = dy.reshape(-1, g, n).transpose(1, 0, 2)
        r = np.matmul(am.transpose(0, 2, 1), dyg)  # (g, d, n)
        out[...] = r.transpose(1, 0, 2).reshape(d, g * n)
        return
    dy = dy.reshape(-1, dy.shape[-1])
    if out.flags.c_contiguous:
        np.matmul(am.T, dy, out=out)
    else:
        out[...] = am.T @ dy


def _colsum(a: np.ndarray, out: np.ndarray) -> None:
    """`out = a.sum(axis=(0, ..., -2))` as one BLAS product with ones (4x faster than sum)."""
    a = a.reshape(-1, a.shape[-1])
    np.matmul(np.ones(a.shape[0], dtype=a.dtype), a, out=out)


def _dropout_mask(rng: np.random.Generator, rate: float, shape: tuple, dtype) -> np.ndarray:
    """Keras's dropout of ones: 0 with probability `rate`, else `1 / (1 - rate)`."""
    keep = rng.random(shape, dtype=np.float32) >= rate
    return keep.astype(dtype) * np.asarray(1.0 / (1.0 - rate), dtype=dtype)


class _ForgetBias(initializers.Initializer):
    """LSTM bias with `unit_forget_bias`: `[init(units), ones(units), init(2 * units)]`."""

    name = "forget_bias"

    def __init__(self, base: initializers.Initializer, units: int) -> None:
        self.base, self.units = base, units

    def __call__(self, shape, rng, dtype=None):
        u = self.units
        return np.concatenate([self.base((u,), rng, dtype), np.ones((u,), dtype=dtype),
                               self.base((2 * u,), rng, dtype)])


class _Recurrent(Layer):
    """Shared machinery of the recurrent layers: arguments, shapes, masks, time-major passes.

    Subclasses set `_gates` (column blocks of the kernels) and `_n_states`, and implement
    `_scan(x)`, which takes time-major inputs `(timesteps, batch, features)` and returns the
    state history `(timesteps + 1, batch, units)` (row 0 is the initial state: `self._init`,
    or zeros when it is None), and `_scan_backward(g, seq, linear, dfinal, want_init)`, which
    takes dL/d(output) (time-major when `seq`) and dL/d(final states) (`dfinal`, a list with
    one array per state, or None), fills `grads` and returns `(dx, dinit)`: dL/dx time-major
    (None when `needs_input_grad` is False) and, when `want_init`, the list dL/d(initial states)
    (else None).
    """

    _gates = 1
    _n_states = 1

    def __init__(self, units: int, activation="tanh", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.units = check_positive_int(cls, "units", units)
        self.activation = activations.get(activation)
        self.use_bias = check_bool(type(self).__name__, "use_bias", use_bias)
        self._weight_args(locals(), 'kernel', 'recurrent', 'bias')
        self.dropout = check_rate(cls, "dropout", dropout)
        self.recurrent_dropout = check_rate(cls, "recurrent_dropout", recurrent_dropout)
        self.seed = check_seed(cls, "seed", seed)
        if stateful:
            raise ConfigError(f"{cls}: stateful=True is not supported (every batch starts from a zero "
                              f"state), got stateful={stateful!r}; expected False")
        self.return_sequences = check_bool(type(self).__name__, "return_sequences", return_sequences)
        self.return_state = check_bool(type(self).__name__, "return_state", return_state)
        self._states: list[np.ndarray] = []
        self.go_backwards = check_bool(type(self).__name__, "go_backwards", go_backwards)
        self.stateful = False
        self.unroll = check_bool(type(self).__name__, "unroll", unroll)  # accepted for Keras compatibility; the loop is the same
        self._rng = np.random.default_rng(self.seed)
        self._ws: dict[str, np.ndarray] = {}
        self._xmask = self._hmask = None
        self._init: list[np.ndarray] | None = None
        self._keep: np.ndarray | None = None

    # -- building ---------------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 2:
            raise ShapeError(f"{type(self).__name__} {self.name!r} expects inputs of shape "
                             f"(timesteps, features), got {input_shape}")
        if input_shape[-1] is None:
            raise ShapeError(f"{type(self).__name__} {self.name!r} needs a known number of features, "
                             f"got input shape {input_shape}")
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def build(self, input_shape, rng):
        n = self._gates * self.units
        self.add_weight("kernel", (input_shape[-1], n), self.kernel_initializer, rng,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.add_weight("recurrent_kernel", (self.units, n), self.recurrent_initializer, rng,
                        regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        if self.use_bias:
            self.add_weight("bias", self._bias_shape(), self._bias_init(), rng,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self._rng = np.random.default_rng(self.seed if self.seed is not None else rng.integers(2**63))
        self._ws = {}

    def _bias_shape(self) -> tuple:
        return (self._gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    @property
    def _fast(self) -> bool:
        """True for the default tanh (and sigmoid) activations, which have an inlined path."""
        return type(self.activation) is activations.Tanh

    def _mask_gates(self) -> int:
        return 1

    def _buf(self, name: str, shape: tuple, dtype) -> np.ndarray:
        """A reusable scratch array (never handed out of the layer)."""
        b = self._ws.get(name)
        if b is None or b.shape != shape or b.dtype != dtype:
            b = self._ws[name] = np.empty(shape, dtype=dtype)
        return b

    # -- passes -----------------------------------------------------------------------------
    consumes_mask = True

    def compute_mask(self, x, mask):
        return mask if self.return_sequences else None

    def _initial_states(self, initial_state, batch: int, dtype, label: str) -> list[np.ndarray] | None:
        """Validate `initial_state` (None, one array, or a list of `_n_states` arrays)."""
        if initial_state is None:
            return None
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        n, want = self._n_states, (batch, self.units)
        arrays = [np.asarray(s) for s in states]
        if len(arrays) != n or any(a.shape != want for a in arrays):
            names = "[h, c]" if n == 2 else "[h]"
            got = ", ".join(str(a.shape) for a in arrays) or "nothing"
            raise ShapeError(f"{label} expects initial_state {names}: {n} array{'s' if n > 1 else ''} of shape "
                             f"(batch, units) = {want}, got {len(arrays)} of shape {got}")
        return [np.ascontiguousarray(a, dtype=dtype) for a in arrays]

    def forward(self, x, *, training=False, mask=None, initial_state=None):
        kernel = self.params["kernel"]
        x = np.asarray(x)
        label = f"{type(self).__name__} {self.name!r}"
        if x.ndim != 3:
            raise ShapeError(f"{label} expects inputs of shape (batch, timesteps, features), got {x.shape}")
        if x.shape[2] != kernel.shape[0]:
            raise ShapeError(f"{label} was built for {kernel.shape[0]} features, got inputs of shape {x.shape}")
        if x.shape[1] == 0:
            raise ShapeError(f"{label} needs at least one time step, got inputs of shape {x.shape}")
        dtype = kernel.dtype
        xt = x.transpose(1, 0, 2)
        if self.go_backwards:
            xt = xt[::-1]
        xt = np.ascontiguousarray(xt, dtype=dtype)
        batch = x.shape[0]
        self._init = self._initial_states(initial_state, batch, dtype, label)
        self._keep = None
        self._xmask = self._hmask = None
        if training and (self.dropout > 0 or self.recurrent_dropout > 0):
            g = self._mask_gates()
            if self.dropout > 0:
                self._xmask = _dropout_mask(self._rng, self.dropout, (g, batch, x.shape[2]), dtype)
            if self.recurrent_dropout > 0:
                self._hmask = _dropout_mask(self._rng, self.recurrent_dropout, (g, batch, self.units), dtype)
        self._x = xt
        self._mb = self._mf = None
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != x.shape[:2]:
                raise ShapeError(f"{label} expects a mask of shape {x.shape[:2]} (batch, timesteps), "
                                 f"got {mask.shape}")
            if not mask.all():
                mt = mask.T[::-1] if self.go_backwards else mask.T
                self._mb = np.ascontiguousarray(~mt)[..., None]  # True where the state is carried over
                self._mf = mt[..., None].astype(dtype)
        h = self._scan(xt)
        # Copies: the state history is scratch space reused by the next call.
        self._states = self._final_states(h) if self.return_state else []
        if self._init is not None and self._mb is not None:
            # Keras's outputs start from zeros, not from the initial state: until a row's first
            # kept step its outputs are 0 while its state is the initial state carried over.
            lead = np.logical_and.accumulate(self._mb[..., 0], axis=0)
            if lead.any():
                self._keep = (~lead)[..., None].astype(dtype)
                if self.return_sequences:
                    return np.ascontiguousarray((h[1:] * self._keep).transpose(1, 0, 2))
                return h[-1] * self._keep[-1]
        return h[1:].transpose(1, 0, 2).copy() if self.return_sequences else h[-1].copy()

    def _final_states(self, h: np.ndarray) -> list[np.ndarray]:
        """The states after the last (kept) step, as Keras's `return_state`: `[h]`."""
        return [h[-1].copy()]

    def __call__(self, x, *, training: bool | None = None, mask=None, **kwargs):
        """Run the layer on a batch (building it first if needed). With `return_state=True` it
        returns Keras's list `[output, *final_states]` (LSTM: `[output, h, c]`, GRU and
        SimpleRNN: `[output, h]`, each state `(batch, units)`); `mask` is `(batch, timesteps)`;
        `initial_state=[h]` (LSTM: `[h, c]`) starts the scan from those states."""
        from tuinet.nn import functional

        if functional.is_symbolic(x):
            return functional.symbolic_call(self, x, training=training, mask=mask, **kwargs)
        initial_state = kwargs.pop("initial_state", None)
        if kwargs:
            raise ConfigError(f"{type(self).__name__}: unexpected call argument(s) {', '.join(sorted(kwargs))}")
        self.check_passes()
        x = np.asarray(x)
        if not self.built:
            self.build_for(x.shape[1:], np.random.default_rng())
        out = self.forward(x, training=bool(training), mask=mask, initial_state=initial_state)
        return [out, *self._states] if self.return_state else out

    def backward(self, grad_out):
        return self._backward(grad_out, linear=False)[0]

    def backward_with_states(self, grad_out, state_grads):
        """Backward pass given dL/d(output) and dL/d(final states), for outputs feeding states on.

        Args:
            grad_out: dL/d(output), in the output's shape, or None when only the states are used.
            state_grads: One entry per final state (`[dh]`, LSTM `[dh, dc]`, as `return_state`
                returns them), each `(batch, units)` or None for zero.

        Returns:
            `(grad_in, initial_state_grads)`: dL/dx (None when `needs_input_grad` is False) and
            the list of dL/d(initial state), one per state, or None when the forward pass was
            given no `initial_state`. Fills `grads` like `backward`.
        """
        label = f"{type(self).__name__} {self.name!r}"
        dtype = self.params["kernel"].dtype
        steps, batch = self._x.shape[:2]
        want = (batch, self.units)
        grads = list(state_grads) if isinstance(state_grads, (list, tuple)) else [state_grads]
        if len(grads) != self._n_states:
            raise ShapeError(f"{label} has {self._n_states} state(s), got {len(grads)} state gradient(s)")
        dfinal = []
        for s in grads:
            if s is None:
                dfinal.append(np.zeros(want, dtype=dtype))
                continue
            s = np.asarray(s)
            if s.shape != want:
                raise ShapeError(f"{label} expects state gradients of shape {want}, got {s.shape}")
            dfinal.append(np.array(s, dtype=dtype))
        if grad_out is not None:
            out_shape = (batch, steps, self.units) if self.return_sequences else want
            if np.shape(grad_out) != out_shape:
                raise ShapeError(f"{label} expects an output gradient of shape {out_shape}, "
                                 f"got {np.shape(grad_out)}")
        return self._backward(grad_out, False, dfinal, self._init is not None)

    def _backward(self, grad_out, linear: bool, dfinal=None, want_init: bool = False):
        dtype = self.params["kernel"].dtype
        seq = self.return_sequences
        if grad_out is None:
            steps, batch = self._x.shape[:2]
            g = np.zeros((steps, batch, self.units) if seq else (batch, self.units), dtype=dtype)
        else:
            grad_out = np.asarray(grad_out).astype(dtype, copy=False)
            g = grad_out.transpose(1, 0, 2) if seq else grad_out
        if self._keep is not None:
            g = g * (self._keep if seq else self._keep[-1])
        dx, dinit = self._scan_backward(g, seq, linear, dfinal, want_init)
        if dx is not None:
            if self.go_backwards:
                dx = dx[::-1]
            dx = dx.transpose(1, 0, 2).copy()
        return dx, dinit

    def _start(self, h: np.ndarray, k: int = 0) -> None:
        """Row 0 of a state history: initial state `k`, or zeros."""
        if self._init is None:
            h[0] = 0
        else:
            h[0] = self._init[k]

    def _carry(self, new: np.ndarray, old: np.ndarray, t: int) -> None:
        """At masked steps the state is carried over: `new = old` where the mask is False."""
        if self._mb is not None:
            np.copyto(new, old, where=self._mb[t])

    def _split(self, dh: np.ndarray, t: int):
        """`(dh * mask, dh * (1 - mask))`: the step's share of dL/dh_t and the carried share."""
        if self._mf is None:
            return dh, None
        m = self._mf[t]
        return dh * m, dh - dh * m

    def _step_grad(self, g, seq: bool, t: int, last: int, dnext, out) -> np.ndarray:
        """dL/dh_t: the output gradient of step `t` (if any) plus the recurrent one."""
        if seq:
            gt = g[t]
        elif t == last:
            gt = g
        else:
            return dnext
        if dnext is None:
            return gt
        return np.add(gt, dnext, out=out)

    def _input_grads(self, dxw: np.ndarray) -> np.ndarray | None:
        """Kernel gradient from the pre-activation gradients of all steps, then dL/dx."""
        _proj_w(self._x, dxw, self._xmask, self.grads["kernel"])
        if not self.needs_input_grad:
            return None
        return _proj_t(dxw, self.params["kernel"], self._xmask)

    # -- config -----------------------------------------------------------------------------
    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll}


class SimpleRNN(_Recurrent):
    """Fully connected RNN: `h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)`.

    Args:
        units: Width of the state and of the output.
        activation: Activation of the state (default "tanh").
        use_bias: Whether to add `bias`.
        kernel_initializer: Initializer of `kernel`, shape `(features, units)`.
        recurrent_initializer: Initializer of `recurrent_kernel`, shape `(units, units)`.
        bias_initializer: Initializer of `bias`, shape `(units,)`.
        kernel_regularizer: Penalty on `kernel`.
        recurrent_regularizer: Penalty on `recurrent_kernel`.
        bias_regularizer: Penalty on `bias`.
        kernel_constraint: Projection of `kernel` after each step.
        recurrent_constraint: Projection of `recurrent_kernel` after each step.
        bias_constraint: Projection of `bias` after each step.
        dropout: Fraction of the input features dropped (one mask per sequence, training only).
        recurrent_dropout: Fraction of the state units dropped before `recurrent_kernel`.
        return_sequences: Return every step `(batch, timesteps, units)` instead of the last
            output `(batch, units)`.
        return_state: Calling the layer directly returns `[output, *final_states]`; a
            Sequential model refuses it (it needs the functional API).
        go_backwards: Process the sequence in reverse; with `return_sequences` the outputs
            come in processing order (the reversed sequence), as in Keras.
        stateful: Only False is supported.
        unroll: Accepted for Keras compatibility; has no effect.
        seed: Seed of the dropout masks.
    """

    def __init__(self, units: int, activation="tanh", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, unroll: bool = False, seed: int | None = None, **kwargs) -> None:
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                         return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)

    def _scan(self, x):
        steps, batch, _ = x.shape
        u, dt = self.units, x.dtype
        U = self.params["recurrent_kernel"]
        hm, fast = self._hmask, self._fast
        xw = _proj(x, self.params["kernel"], self._xmask, self._buf("xw", (steps, batch, u), dt))
        if self.use_bias:
            xw += self.params["bias"]
        h = self._h = self._buf("h", (steps + 1, batch, u), dt)
        self._start(h)
        z = self._zt = None if fast else self._buf("z", (steps, batch, u), dt)
        for t in range(steps):
            if fast:
                hn = h[t + 1]
                _proj(h[t], U, hm, hn)
                hn += xw[t]
                np.tanh(hn, out=hn)
            else:
                _proj(h[t], U, hm, z[t])
                z[t] += xw[t]
                h[t + 1] = self.activation(z[t])
            self._carry(h[t + 1], h[t], t)
        # The pre-activation of the output, in its layout, for a model fusing sigmoid/softmax
        # with the loss (tanh, the inlined case, never fuses).
        self._z = None if fast else (z.transpose(1, 0, 2) if self.return_sequences else z[-1])
        return h

    def backward_linear(self, grad_z):
        """Backward pass given dL/dz of the output step(s), for a fused activation + loss."""
        if self._mb is not None:
            raise ConfigError(f"SimpleRNN {self.name!r}: a masked sequence cannot end in a SimpleRNN with "
                              f"a sigmoid or softmax activation; add a Dense layer after it")
        return self._backward(grad_z, linear=True)[0]

    def _scan_backward(self, g, seq, linear, dfinal=None, want_init=False):
        h, z, act = self._h, self._zt, self.activation
        steps, batch, u = h.shape[0] - 1, h.shape[1], self.units
        dt = h.dtype
        U, hm, fast = self.params["recurrent_kernel"], self._hmask, self._fast
        dz_all = self._buf("dz", (steps, batch, u), dt)
        if fast:
            d = self._buf("d", (steps, batch, u), dt)
            np.multiply(h[1:], h[1:], out=d)
            np.subtract(1, d, out=d)
        dh_buf, dnext_buf = self._buf("dh", (batch, u), dt), self._buf("dnext", (batch, u), dt)
        dnext = None if dfinal is None else dfinal[0]
        for t in range(steps - 1, -1, -1):
            dz = dz_all[t]
            if linear:
                gt = g[t] if seq else (g if t == steps - 1 else None)
                if dnext is None:
                    dz[...] = gt
                else:
                    if fast:
                        np.multiply(dnext, d[t], out=dz)
                    else:
                        dz[...] = act.backward(z[t], h[t + 1], dnext)
                    if gt is not None:
                        dz += gt
                carry = None
            else:
                dh, carry = self._split(self._step_grad(g, seq, t, steps - 1, dnext, dh_buf), t)
                if fast:
                    np.multiply(dh, d[t], out=dz)
                else:
                    dz[...] = act.backward(z[t], h[t + 1], dh)
            if t > 0 or want_init:
                dnext = _proj_t(dz, U, hm, out=dnext_buf)
                if carry is not None:
                    dnext += carry
        _proj_w(h[:-1], dz_all, hm, self.grads["recurrent_kernel"])
        if self.use_bias:
            _colsum(dz_all, self.grads["bias"])
        return self._input_grads(dz_all), ([dnext.copy()] if want_init else None)


class LSTM(_Recurrent):
    """Long short-term memory layer (Hochreiter 1997) with Keras's gate order i, f, c, o.

    Each step computes `z = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias`, split into four
    blocks of `units`: `i = recurrent_activation(z_i)`, `f = recurrent_activation(z_f)`,
    `c_t = f * c_{t-1} + i * activation(z_c)`, `o = recurrent_activation(z_o)`,
    `h_t = o * activation(c_t)`.

    Args:
        units: Width of the state and of the output.
        activation: Activation of the candidate and of the cell state (default "tanh").
        recurrent_activation: Activation of the gates (default "sigmoid").
        use_bias: Whether to add `bias`.
        kernel_initializer: Initializer of `kernel`, shape `(features, 4 * units)`.
        recurrent_initializer: Initializer of `recurrent_kernel`, shape `(units, 4 * units)`.
        bias_initializer: Initializer of `bias`, shape `(4 * units,)`.
        unit_forget_bias: Initialize the forget-gate slice of `bias` to ones.
        kernel_regularizer: Penalty on `kernel`.
        recurrent_regularizer: Penalty on `recurrent_kernel`.
        bias_regularizer: Penalty on `bias`.
        kernel_constraint: Projection of `kernel` after each step.
        recurrent_constraint: Projection of `recurrent_kernel` after each step.
        bias_constraint: Projection of `bias` after each step.
        dropout: Fraction of the input features dropped (one mask per sequence, training only).
        recurrent_dropout: Fraction of the state units dropped before `recurrent_kernel`; when
            positive every gate draws its own masks, as in Keras.
        seed: Seed of the dropout masks.
        return_sequences: Return every step `(batch, timesteps, units)` instead of the last
            output `(batch, units)`.
        return_state: Calling the layer directly returns `[output, *final_states]`; a
            Sequential model refuses it (it needs the functional API).
        go_backwards: Process the sequence in reverse; with `return_sequences` the outputs
            come in processing order (the reversed sequence), as in Keras.
        stateful: Only False is supported.
        unroll: Accepted for Keras compatibility; has no effect.
    """

    _gates = 4
    _n_states = 2

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias: bool = True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, **kwargs) -> None:
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                         return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = check_bool(type(self).__name__, "unit_forget_bias", unit_forget_bias)

    def _bias_init(self):
        return _ForgetBias(self.bias_initializer, self.units) if self.unit_forget_bias else self.bias_initializer

    @property
    def _fast(self):
        return type(self.activation) is activations.Tanh and type(self.recurrent_activation) is activations.Sigmoid

    def _mask_gates(self):
        return 4 if self.recurrent_dropout > 0 else 1

    def _consts(self, dtype):
        """Column vectors of the fast path: sigmoid(z) = 0.5 * tanh(0.5 * z) + 0.5 on i, f, o."""
        key = ("consts", np.dtype(dtype))
        c = self._ws.get(key)
        if c is None or c[0].shape[0] != 4 * self.units:
            u = self.units
            half = np.full(u, 0.5, dtype=dtype)
            one, zero = np.ones(u, dtype=dtype), np.zeros(u, dtype=dtype)
            scale = np.concatenate([half, half, one, half])
            c = self._ws[key] = (scale, scale, np.concatenate([half, half, zero, half]))
        return c

    def _scan(self, x):
        steps, batch, _ = x.shape
        u, dt = self.units, x.dtype
        K, U = self.params["kernel"], self.params["recurrent_kernel"]
        hm, fast = self._hmask, self._fast
        act, ract = self.activation, self.recurrent_activation
        xw = self._buf("xw", (steps, batch, 4 * u), dt)
        if fast:
            scale, alpha, beta = self._consts(dt)
            _proj(x, K * scale, self._xmask, xw)
            if self.use_bias:
                xw += self.params["bias"] * scale
            U = U * scale
        else:
            _proj(x, K, self._xmask, xw)
            if self.use_bias:
                xw += self.params["bias"]
        h = self._h = self._buf("h", (steps + 1, batch, u), dt)
        c = self._c = self._buf("c", (steps + 1, batch, u), dt)
        a_all = self._a = self._buf("a", (steps, batch, 4 * u), dt)
        tc = self._tc = self._buf("tc", (steps, batch, u), dt)
        z_all = self._z = None if fast else self._buf("z", (steps, batch, 4 * u), dt)
        tmp = self._buf("tmp", (batch, u), dt)
        self._start(h, 0)
        self._start(c, 1)
        for t in range(steps):
            a = a_all[t]
            if fast:
                _proj(h[t], U, hm, a)
                a += xw[t]
                np.tanh(a, out=a)
                a *= alpha
                a += beta
            else:
                z = z_all[t]
                _proj(h[t], U, hm, z)
                z += xw[t]
                a[:, :u] = ract(z[:, :u])
                a[:, u:2 * u] = ract(z[:, u:2 * u])
                a[:, 2 * u:3 * u] = act(z[:, 2 * u:3 * u])
                a[:, 3 * u:] = ract(z[:, 3 * u:])
            ct = c[t + 1]
            np.multiply(a[:, u:2 * u], c[t], out=ct)
            np.multiply(a[:, :u], a[:, 2 * u:3 * u], out=tmp)
            ct += tmp
            if fast:
                np.tanh(ct, out=tc[t])
            else:
                tc[t] = act(ct)
            np.multiply(a[:, 3 * u:], tc[t], out=h[t + 1])
            self._carry(ct, c[t], t)
            self._carry(h[t + 1], h[t], t)
        return h

    def _final_states(self, h):
        return [h[-1].copy(), self._c[-1].copy()]

    def _scan_backward(self, g, seq, linear, dfinal=None, want_init=False):
        h, c, a_all, tc, z_all = self._h, self._c, self._a, self._tc, self._z
        steps, batch, u = tc.shape
        dt = h.dtype
        U, hm, fast = self.params["recurrent_kernel"], self._hmask, self._fast
        act, ract = self.activation, self.recurrent_activation
        dz_all = self._buf("dz", (steps, batch, 4 * u), dt)
        if fast:
            # Gate derivatives in three uniform passes: with a = alpha * tanh + beta (alpha = 0.5,
            # beta = 0.5 on the sigmoid gates, 1 and 0 on c~), f' = alpha^2 - (a - beta)^2.
            _, alpha, beta = self._consts(dt)
            d = self._buf("d", (steps, batch, 4 * u), dt)
            np.subtract(a_all, beta, out=d)
            np.multiply(d, d, out=d)
            np.subtract(alpha * alpha, d, out=d)
            od = self._buf("od", (steps, batch, u), dt)  # o * tanh'(c)
            np.multiply(tc, tc, out=od)
            np.subtract(1, od, out=od)
            od *= a_all[..., 3 * u:]
        dc = self._buf("dc", (batch, u), dt)
        dc[...] = 0 if dfinal is None else dfinal[1]
        tmp = self._buf("tmp", (batch, u), dt)
        dh_buf, dnext_buf = self._buf("dh", (batch, u), dt), self._buf("dnext", (batch, u), dt)
        dnext = None if dfinal is None else dfinal[0]
        for t in range(steps - 1, -1, -1):
            dh, carry = self._split(self._step_grad(g, seq, t, steps - 1, dnext, dh_buf), t)
            dc, carry_c = self._split(dc, t)
            dz, a = dz_all[t], a_all[t]
            np.multiply(dh, tc[t], out=dz[:, 3 * u:])
            if fast:
                np.multiply(dh, od[t], out=tmp)
                dc += tmp
            else:
                np.multiply(dh, a[:, 3 * u:], out=tmp)
                dc += act.backward(c[t + 1], tc[t], tmp)
            np.multiply(dc, a[:, 2 * u:3 * u], out=dz[:, :u])
            np.multiply(dc, c[t], out=dz[:, u:2 * u])
            np.multiply(dc, a[:, :u], out=dz[:, 2 * u:3 * u])
            dc *= a[:, u:2 * u]
            if carry_c is not None:
                dc += carry_c
            if fast:
                dz *= d[t]
            else:
                z = z_all[t]
                for k, fn in enumerate((ract, ract, act, ract)):
                    s = slice(k * u, (k + 1) * u)
                    dz[:, s] = fn.backward(z[:, s], a[:, s], dz[:, s])
            if t > 0 or want_init:
                dnext = _proj_t(dz, U, hm, out=dnext_buf)
                if carry is not None:
                    dnext += carry
        _proj_w(h[:-1], dz_all, hm, self.grads["recurrent_kernel"])
        if self.use_bias:
            _colsum(dz_all, self.grads["bias"])
        return self._input_grads(dz_all), ([dnext.copy(), dc.copy()] if want_init else None)

    def get_config(self):
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


class GRU(_Recurrent):
    """Gated recurrent unit (Cho et al. 2014) with Keras's gate order z, r, h.

    With `reset_after=True` (default, cuDNN-compatible) `bias` is `(2, 3 * units)`: row 0 is
    added to `x_t @ kernel`, row 1 to `h_{t-1} @ recurrent_kernel`, and the candidate is
    `hh = activation(x_h + r * (h_{t-1} @ U_h + b_rec_h))`. With `reset_after=False`, `bias`
    is `(3 * units,)` and `hh = activation(x_h + (r * h_{t-1}) @ U_h)`. In both,
    `z = recurrent_activation(x_z + h_{t-1} @ U_z)` (likewise r) and
    `h_t = z * h_{t-1} + (1 - z) * hh`.

    Args:
        units: Width of the state and of the output.
        activation: Activation of the candidate state (default "tanh").
        recurrent_activation: Activation of the update and reset gates (default "sigmoid").
        use_bias: Whether to add `bias`.
        kernel_initializer: Initializer of `kernel`, shape `(features, 3 * units)`.
        recurrent_initializer: Initializer of `recurrent_kernel`, shape `(units, 3 * units)`.
        bias_initializer: Initializer of `bias`.
        kernel_regularizer: Penalty on `kernel`.
        recurrent_regularizer: Penalty on `recurrent_kernel`.
        bias_regularizer: Penalty on `bias`.
        kernel_constraint: Projection of `kernel` after each step.
        recurrent_constraint: Projection of `recurrent_kernel` after each step.
        bias_constraint: Projection of `bias` after each step.
        dropout: Fraction of the input features dropped (one mask per sequence, training only).
        recurrent_dropout: Fraction of the state units dropped before `recurrent_kernel`; when
            positive every gate draws its own masks, as in Keras.
        seed: Seed of the dropout masks.
        return_sequences: Return every step `(batch, timesteps, units)` instead of the last
            output `(batch, units)`.
        return_state: Calling the layer directly returns `[output, *final_states]`; a
            Sequential model refuses it (it needs the functional API).
        go_backwards: Process the sequence in reverse; with `return_sequences` the outputs
            come in processing order (the reversed sequence), as in Keras.
        stateful: Only False is supported.
        unroll: Accepted for Keras compatibility; has no effect.
        reset_after: Apply the reset gate after the recurrent matmul (see above).
    """

    _gates = 3

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 reset_after: bool = True, **kwargs) -> None:
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                         return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = check_bool(type(self).__name__, "reset_after", reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    @property
    def _fast(self):
        return type(self.activation) is activations.Tanh and type(self.recurrent_activation) is activations.Sigmoid

    def _mask_gates(self):
        return 3 if self.recurrent_dropout > 0 else 1

    def _scan(self, x):
        steps, batch, _ = x.shape
        u, dt = self.units, x.dtype
        K, U = self.params["kernel"], self.params["recurrent_kernel"]
        hm, fast, after = self._hmask, self._fast, self.reset_after
        act, ract = self.activation, self.recurrent_activation
        # The fast path computes sigmoid(v) as 0.5 * tanh(0.5 * v) + 0.5; the 0.5 is folded
        # into the z and r columns of the weights.
        scale = None
        if fast:
            scale = np.ones(3 * u, dtype=dt)
            scale[:2 * u] = 0.5
        xw = self._buf("xw", (steps, batch, 3 * u), dt)
        _proj(x, K * scale if fast else K, self._xmask, xw)
        brec_h = None
        if self.use_bias:
            b = self.params["bias"]
            if after:
                bx = b[0].copy()
                bx[:2 * u] += b[1, :2 * u]  # the recurrent z, r biases add like the input ones
                brec_h = b[1, 2 * u:]
            else:
                bx = b
            xw += bx * scale if fast else bx
        h = self._h = self._buf("h", (steps + 1, batch, u), dt)
        a_all = self._a = self._buf("a", (steps, batch, 3 * u), dt)
        z_all = self._z = None if fast else self._buf("z", (steps, batch, 3 * u), dt)
        self._start(h)
        if after:
            rec_all = self._rec = self._buf("rec", (steps, batch, 3 * u), dt)
            Ur = U * scale if fast else U
        else:
            rh_all = self._rh = self._buf("rh", (steps, batch, u), dt)
            Uzr = U[:, :2 * u] * 0.5 if fast else np.ascontiguousarray(U[:, :2 * u])
            Uh = np.ascontiguousarray(U[:, 2 * u:])
            mzr, mh = (None, None) if hm is None else (hm[:2], hm[2:])
            zr_in = self._buf("zr_in", (batch, 2 * u), dt)
        for t in range(steps):
            ht, a, xwt = h[t], a_all[t], xw[t]
            if after:
                rec = rec_all[t]
                _proj(ht, Ur, hm, rec)
                if brec_h is not None:
                    rec[:, 2 * u:] += brec_h
                zr = rec[:, :2 * u]
            else:
                zr = _proj(ht, Uzr, mzr, zr_in)
            if fast:
                azr = a[:, :2 * u]
                np.add(zr, xwt[:, :2 * u], out=azr)
                np.tanh(azr, out=azr)
                azr *= 0.5
                azr += 0.5
            else:
                zt = z_all[t]
                np.add(zr, xwt[:, :2 * u], out=zt[:, :2 * u])
                a[:, :u] = ract(zt[:, :u])
                a[:, u:2 * u] = ract(zt[:, u:2 * u])
            r, hh = a[:, u:2 * u], a[:, 2 * u:]
            pre = hh if fast else z_all[t][:, 2 * u:]
            if after:
                np.multiply(r, rec[:, 2 * u:], out=pre)
            else:
                np.multiply(r, ht, out=rh_all[t])
                _proj(rh_all[t], Uh, mh, pre)
            pre += xwt[:, 2 * u:]
            if fast:
                np.tanh(hh, out=hh)
            else:
                hh[...] = act(pre)
            hn = h[t + 1]
            np.subtract(ht, hh, out=hn)
            hn *= a[:, :u]
            hn += hh
            self._carry(hn, ht, t)
        return h

    def _scan_backward(self, g, seq, linear, dfinal=None, want_init=False):
        h, a_all, z_all = self._h, self._a, self._z
        steps, batch = a_all.shape[:2]
        u, dt = self.units, h.dtype
        U, hm, fast, after = self.params["recurrent_kernel"], self._hmask, self._fast, self.reset_after
        act, ract = self.activation, self.recurrent_activation
        zg, rg, hh = a_all[..., :u], a_all[..., u:2 * u], a_all[..., 2 * u:]
        h_minus_hh = self._buf("hmhh", (steps, batch, u), dt)  # dL/dz = dh * (h_{t-1} - hh)
        np.subtract(h[:-1], hh, out=h_minus_hh)
        w = self._buf("w", (steps, batch, u), dt)  # fast: (1 - z) * tanh'(hh); else 1 - z
        np.subtract(1, zg, out=w)
        if fast:
            t2 = self._buf("t2", (steps, batch, u), dt)
            np.multiply(hh, hh, out=t2)
            np.subtract(1, t2, out=t2)
            w *= t2
            dzr = self._buf("dzr", (steps, batch, 2 * u), dt)  # sigmoid' of z and r
            np.multiply(a_all[..., :2 * u], a_all[..., :2 * u], out=dzr)
            np.subtract(a_all[..., :2 * u], dzr, out=dzr)
        dxw_all = self._buf("dxw", (steps, batch, 3 * u), dt)
        if after:
            rec_all = self._rec
            drec_all = self._buf("drec", (steps, batch, 3 * u), dt)
        else:
            rh_all = self._rh
            Uzr, Uh = U[:, :2 * u], U[:, 2 * u:]
            mzr, mh = (None, None) if hm is None else (hm[:2], hm[2:])
        tmp, tmp2 = self._buf("tmp", (batch, u), dt), self._buf("tmp2", (batch, u), dt)
        dh_buf = self._buf("dh", (batch, u), dt)
        nexts = (self._buf("dn0", (batch, u), dt), self._buf("dn1", (batch, u), dt))
        dnext = None if dfinal is None else dfinal[0]
        for t in range(steps - 1, -1, -1):
            dh, carry = self._split(self._step_grad(g, seq, t, steps - 1, dnext, dh_buf), t)
            dx = dxw_all[t]
            dhh = dx[:, 2 * u:]
            if fast:
                np.multiply(dh, w[t], out=dhh)
            else:
                np.multiply(dh, w[t], out=tmp)
                dhh[...] = act.backward(z_all[t][:, 2 * u:], hh[t], tmp)
            if after:
                dr = drec_all[t]
                np.multiply(dh, h_minus_hh[t], out=dr[:, :u])
                np.multiply(dhh, rec_all[t][:, 2 * u:], out=dr[:, u:2 * u])
                dzr_t = dr[:, :2 * u]
            else:
                np.multiply(dh, h_minus_hh[t], out=dx[:, :u])
                d_rh = _proj_t(dhh, Uh, mh, out=tmp2)
                np.multiply(d_rh, h[t], out=dx[:, u:2 * u])
                dzr_t = dx[:, :2 * u]
            if fast:
                dzr_t *= dzr[t]
            else:
                zt = z_all[t]
                dzr_t[:, :u] = ract.backward(zt[:, :u], zg[t], dzr_t[:, :u])
                dzr_t[:, u:] = ract.backward(zt[:, u:2 * u], rg[t], dzr_t[:, u:])
            if after:
                np.multiply(dhh, rg[t], out=dr[:, 2 * u:])
            if t == 0 and not want_init:
                break
            nxt = nexts[0] if dh is not nexts[0] else nexts[1]
            np.multiply(dh, zg[t], out=nxt)
            if after:
                nxt += _proj_t(dr, U, hm, out=tmp)
            else:
                np.multiply(d_rh, rg[t], out=tmp)
                nxt += tmp
                nxt += _proj_t(dzr_t, Uzr, mzr, out=tmp)
            if carry is not None:
                nxt += carry
            dnext = nxt
        rk = self.grads["recurrent_kernel"]
        if after:
            dxw_all[..., :2 * u] = drec_all[..., :2 * u]
            _proj_w(h[:-1], drec_all, hm, rk)
        else:
            _proj_w(h[:-1], dxw_all[..., :2 * u], mzr, rk[:, :2 * u])
            _proj_w(rh_all, dxw_all[..., 2 * u:], mh, rk[:, 2 * u:])
        if self.use_bias:
            gb = self.grads["bias"]
            _colsum(dxw_all, gb[0] if after else gb)
            if after:
                _colsum(drec_all, gb[1])
        return self._input_grads(dxw_all), ([dnext.copy()] if want_init else None)

    def get_config(self):
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}

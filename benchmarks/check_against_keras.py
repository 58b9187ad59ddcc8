#!/usr/bin/env python
"""Check tuinet against real Keras 3, weight for weight.

For every case the script builds the tuinet layer (or model, loss, metric, optimizer), builds
the Keras 3 equivalent, copies tuinet's `get_weights()` into Keras's `set_weights()`, runs both on
the same random float32 data and prints the largest absolute difference with PASS/FAIL against a
float32 tolerance (`|a - b| <= rtol * max(1, max|keras|)` with rtol = 1e-5 unless a row says
otherwise).

Sections: activations, layers (forward; and, on the torch backend, the gradients of the
inputs and of every weight through `backward`), models (predict, summary), losses (value; and
gradient on torch), metrics (two batches), schedules, optimizers (several steps on the same
gradients through Keras's own `optimizer.apply_gradients`) and, on the torch backend, a few
epochs of `fit` side by side, and the merge layers (forward, output shape, and on torch the
gradient of every input), and the small layers (`small_layers`: Identity, Masking and its mask
through an LSTM in predict and fit, UnitNormalization, ActivityRegularization's penalty in fit,
AlphaDropout at inference), and `tensorboard`: the event files of tuinet's TensorBoard callback
against Keras's for the same fit (needs TensorFlow and TensorBoard importable; skipped
otherwise), and `attention`: MultiHeadAttention and Attention (outputs, attention scores, and on
torch the gradient of every input and weight, masks included).

It is not a test of the suite: Keras is not a dependency of tuinet. Install it in a separate
environment (the numpy backend of Keras 3 imports jax, so the torch backend is the one that
works without jax or tensorflow):

    python3 -m venv /tmp/kvenv
    /tmp/kvenv/bin/pip install keras numpy scipy torch==2.13.0
    /tmp/kvenv/bin/pip install -e .
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /tmp/kvenv/bin/python benchmarks/check_against_keras.py

Options: `--backend torch|numpy|jax|tensorflow` (default: $KERAS_BACKEND, else torch when it
imports, else numpy), `--only WORD` (run the sections whose name contains WORD; repeatable),
`--verbose` (print every row, not only the failures, as they run).

Row statuses: PASS/FAIL (a comparison), ERROR (the case raised: counts as a failure), SKIP
(not comparable, or not supported by tuinet) and NOTE (informational: where the torch backend
of Keras itself departs from Keras's own formula, the row above it compares tuinet with that
formula instead: average pooling with asymmetric "same" padding, keras-team/keras#18452, and
LayerNormalization over a non-trailing axis, which the torch backend sends to F.layer_norm).

Exit status: 0 when every row passes or when Keras cannot be imported (with a message saying
so), 1 when a row fails. Last run: Keras 3.15.1 on torch 2.13.0 (CPU), about 900 rows in ~6 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import re
import sys
import time
import traceback
import warnings

import numpy as np

RTOL = 1e-5

# Filled in by main() once Keras imports.
keras = None
torch = None
BACKEND = None


# ---------------------------------------------------------------------------------------- report
class Report:
    def __init__(self, verbose: bool) -> None:
        self.rows: list[tuple] = []  # (section, case, max|diff|, max|diff| / scale, status, note)
        self.verbose = verbose
        self.section = ""

    def _add(self, case, diff, rel, status, note=""):
        row = (self.section, case, diff, rel, status, note)
        self.rows.append(row)
        if self.verbose or status in ("FAIL", "ERROR"):
            print(self._fmt(row), flush=True)

    @staticmethod
    def _fmt(row) -> str:
        section, case, diff, rel, status, note = row
        d = "" if diff is None else f"{diff:.3g}"
        r = "" if rel is None else f"{rel:.2g}"
        line = f"  {status:<5} {section:<11} {case:<66} {d:>9} {r:>8}"
        return line + (f"  {note}" if note else "")

    def check(self, case, got, ref, *, rtol=RTOL, floor=1.0, note=""):
        """Compare tuinet's `got` with Keras's `ref` (arrays or scalars)."""
        a = np.asarray(got, dtype=np.float64)
        b = np.asarray(ref, dtype=np.float64)
        if a.shape != b.shape:
            if a.size == b.size and a.size == 1:
                a, b = a.reshape(()), b.reshape(())
            else:
                self._add(case, None, None, "FAIL", f"shape tuinet {a.shape} != keras {b.shape} {note}".strip())
                return False
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        if (nan_a != nan_b).any():
            self._add(case, math.inf, None, "FAIL", f"NaN in one only (tuinet {nan_a.sum()}, keras {nan_b.sum()})")
            return False
        inf_mismatch = np.isinf(a) | np.isinf(b)
        if (a[inf_mismatch] != b[inf_mismatch]).any():
            self._add(case, math.inf, None, "FAIL", "infinite values differ")
            return False
        fin = ~(nan_a | inf_mismatch)
        diff = float(np.max(np.abs(a[fin] - b[fin]))) if fin.any() else 0.0
        scale = max(floor, float(np.max(np.abs(b[fin]))) if fin.any() else 0.0)
        ok = diff <= rtol * scale
        if rtol != RTOL:
            note = f"(rtol {rtol:g}) {note}".strip()
        self._add(case, diff, diff / scale, "PASS" if ok else "FAIL", note)
        return ok

    def equal(self, case, got, ref, note=""):
        ok = got == ref
        self._add(case, None, None, "PASS" if ok else "FAIL",
                  note if ok else f"tuinet {got!r} != keras {ref!r} {note}".strip())
        return ok

    def skip(self, case, why):
        self._add(case, None, None, "SKIP", why)

    def error(self, case, exc):
        msg = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        self._add(case, None, None, "ERROR", msg[:300])
        if self.verbose:
            traceback.print_exc()

    def run(self, case, fn, *args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a row
            self.error(case, exc)

    def summary(self) -> int:
        print()
        print(f"{'':2}{'status':<5} {'section':<11} {'case':<66} {'max|diff|':>9} {'relative':>8}")
        for row in self.rows:
            print(self._fmt(row))
        counts = {s: sum(r[4] == s for r in self.rows) for s in ("PASS", "FAIL", "ERROR", "SKIP", "NOTE")}
        print()
        print("Totals: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return 1 if counts["FAIL"] or counts["ERROR"] else 0


# ---------------------------------------------------------------------------------------- helpers
def to_np(t):
    if t is None:
        return None
    if torch is not None and isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(keras.ops.convert_to_numpy(t))


def randomize_weights(layer_or_model, rng, names=None):
    """Give every weight a random value (variances positive) so no zero bias hides a bug."""
    ws = layer_or_model.get_weights()
    if names is None:
        names = [n for lay in _layers_of(layer_or_model) for n in lay.weight_names]
    out = []
    for n, w in zip(names, ws):
        if "variance" in n:
            out.append(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype))
        else:
            out.append((rng.normal(0, 0.5, w.shape)).astype(w.dtype))
    layer_or_model.set_weights(out)


def _layers_of(obj):
    return obj.layers if hasattr(obj, "layers") and not hasattr(obj, "weight_names") else [obj]


def grad_of(var):
    """The gradient torch accumulated in a Keras variable (torch backend)."""
    v = var.value
    return None if v.grad is None else v.grad.detach().cpu().numpy()


# ---------------------------------------------------------------------------------------- sections
def section_activations(rep, rng):
    import tuinet
    z = np.concatenate([rng.normal(0, 3, size=(6, 7)), np.linspace(-30, 30, 42).reshape(6, 7)]).astype("float32")
    for name in tuinet.activations.names():
        def case(name=name):
            act = tuinet.activations.get(name)
            ref = keras.activations.get(name)(z)
            rep.check(f"{name}(z) z in [-30, 30]", act(z), to_np(ref), floor=1.0)
            if BACKEND == "torch":
                zt = torch.tensor(z, requires_grad=True)
                g = rng.normal(size=z.shape).astype("float32")
                out = keras.activations.get(name)(zt)
                (out * torch.tensor(g)).sum().backward()
                a = act(z)
                mine = act.backward(z, a, g)
                rep.check(f"{name} backward", mine, to_np(zt.grad), floor=1.0)
        rep.run(name, case)


def layer_case(rep, label, make_t, make_k, x, *, training=False, rng, grads=True, rtol=RTOL,
               randomize=True, after=None, ref=None, ref_note="", convert=None):
    """Forward (and on torch, backward) of one layer in tuinet and Keras with the same weights.

    `ref(k, xk, training)`, when given, computes Keras's result another way (a Keras formula for a
    case where the torch backend of Keras itself is off); the Keras layer's own output is then
    shown as a NOTE row. `convert(weights)` maps tuinet's weights to Keras's layout.
    """
    def run():
        t = make_t()
        t.build_for(x.shape[1:], np.random.default_rng(0))
        if randomize:
            randomize_weights(t, rng, t.weight_names)
        k = make_k()
        k.build(x.shape)
        k_shapes = [tuple(w.shape) for w in k.get_weights()]
        t_shapes = [tuple(w.shape) for w in t.get_weights()]
        if k_shapes != t_shapes and convert is None:
            rep._add(f"{label}  weight shapes", None, None, "FAIL",
                     f"tuinet {t_shapes} != keras {k_shapes}")
            return
        weights = t.get_weights()
        k.set_weights(convert(weights) if convert is not None else weights)
        y_t = t.forward(x, training=training)
        use_grad = grads and BACKEND == "torch"
        is_float = x.dtype.kind == "f"
        xk = torch.tensor(x, requires_grad=is_float) if use_grad else x
        if ref is not None and BACKEND == "torch":
            y_k = ref(k, xk, training)
            rep.check(f"{label}", y_t, to_np(y_k), rtol=rtol, note=ref_note)
            try:
                own = to_np(k(x, training=training))
                d = float(np.max(np.abs(own - y_t))) if own.shape == y_t.shape else math.inf
                if d > rtol * max(1.0, float(np.max(np.abs(own)))):
                    rep._add(f"{label}  [keras torch-backend layer itself]", d, None, "NOTE",
                             "Keras torch-backend artefact (see the row above), not a tuinet difference")
            except Exception as exc:  # noqa: BLE001
                rep._add(f"{label}  [keras torch-backend layer itself]", None, None, "NOTE",
                         f"raises {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
        else:
            y_k = k(xk, training=training)
            rep.check(f"{label}", y_t, to_np(y_k), rtol=rtol)
        if after is not None:
            after(t, k)
        if use_grad:
            G = rng.normal(size=y_t.shape).astype("float32")
            dx = t.backward(G)
            (y_k * torch.tensor(G)).sum().backward()
            if is_float and dx is not None:
                rep.check(f"{label}  grad dx", dx, to_np(xk.grad), rtol=rtol * 2)
            t_names = [n for n in t.weight_names if n in t.params]
            for n, v in zip(t_names, k.trainable_weights):
                g_k = grad_of(v)
                if convert is not None and g_k is not None:
                    g_k = g_k.reshape(t.grads[n].shape)
                rep.check(f"{label}  grad {n}", t.grads[n], g_k, rtol=rtol * 2)
    rep.run(label, run)


def _same_pads(size, k, s):
    out = -(-size // s)
    total = max(0, (out - 1) * s + k - size)
    return total // 2, total - total // 2


def avg_pool_same_reference(k, xk, training):
    """Keras's average pooling with 'same' padding as its numpy/jax/tensorflow backends compute it:
    the window sum over the zero-padded input divided by the number of real (unpadded) entries
    (keras/src/backend/numpy/nn.py average_pool). Written in torch so autograd gives dx."""
    F = torch.nn.functional
    rank = xk.ndim - 2
    pool, strides = tuple(k.pool_size), tuple(k.strides)
    xc = xk.movedim(-1, 1)  # channels first
    pads = []
    for i in reversed(range(rank)):
        pads += list(_same_pads(xc.shape[2 + i], pool[i], strides[i]))
    xp = F.pad(xc, pads)
    ones = F.pad(torch.ones_like(xc[:1, :1]), pads)
    pool_fn = F.avg_pool1d if rank == 1 else F.avg_pool2d
    total = pool_fn(xp, pool, strides) * math.prod(pool)
    count = pool_fn(ones, pool, strides) * math.prod(pool)
    return (total / count).movedim(1, -1)


def _avg_same_ref(kind, pad, pool, strides, spatial):
    """layer_case arguments for average pooling with asymmetric 'same' padding on the torch backend."""
    if kind != "Average" or pad != "same" or BACKEND != "torch":
        return {}
    r = len(spatial)
    pool = (pool,) * r if isinstance(pool, int) else tuple(pool)
    strides = pool if strides is None else ((strides,) * r if isinstance(strides, int) else tuple(strides))
    if not any(sum(_same_pads(n, p, s)) % 2 for n, p, s in zip(spatial, pool, strides)):
        return {}
    return {"ref": avg_pool_same_reference,
            "ref_note": "asymmetric 'same' padding: vs the numpy/jax-backend formula (the torch backend pads "
                        "by edge replication)"}


def layer_norm_reference(k, xk, training):
    """Keras's generic layer-normalization branch (keras/src/ops/nn.py `_layer_normalization`, the
    `moments` path every backend but torch takes), through keras.ops."""
    ops = keras.ops
    axes = sorted(a % xk.ndim for a in k.axis)
    bshape = [xk.shape[i] if i in axes else 1 for i in range(xk.ndim)]
    mean, var = ops.moments(xk, axes=axes, keepdims=True)
    inv = ops.rsqrt(var + k.epsilon)
    if k.gamma is not None:
        inv = inv * ops.reshape(k.gamma.value, bshape)
    res = -mean * inv
    if k.beta is not None:
        res = res + ops.reshape(k.beta.value, bshape)
    return xk * inv + res


def section_layers(rep, rng):
    import tuinet
    L, KL = tuinet.layers, keras.layers
    f32 = lambda *s: rng.normal(size=s).astype("float32")  # noqa: E731

    # Dense with every activation
    x = f32(8, 5)
    for act in tuinet.activations.names():
        layer_case(rep, f"Dense(4, activation={act!r})", lambda a=act: L.Dense(4, activation=a),
                   lambda a=act: KL.Dense(4, activation=a), x, rng=rng)
    layer_case(rep, "Dense(3, use_bias=False) on (8, 6, 5)", lambda: L.Dense(3, use_bias=False),
               lambda: KL.Dense(3, use_bias=False), f32(8, 6, 5), rng=rng)
    layer_case(rep, "Activation('softmax') on (4, 3, 6)", lambda: L.Activation("softmax"),
               lambda: KL.Activation("softmax"), f32(4, 3, 6), rng=rng)

    # Conv1D
    x1 = f32(3, 11, 4)
    for pad in ("valid", "same", "causal"):
        for s in (1, 2):
            for ks in (3, 2):
                kw = dict(filters=5, kernel_size=ks, strides=s, padding=pad)
                if pad == "causal" and s > 1:
                    continue
                layer_case(rep, f"Conv1D(5, {ks}, strides={s}, padding={pad!r})", lambda kw=kw: L.Conv1D(**kw),
                           lambda kw=kw: KL.Conv1D(**kw), x1, rng=rng)
    layer_case(rep, "Conv1D(5, 3, dilation_rate=2, padding='same', relu)",
               lambda: L.Conv1D(5, 3, dilation_rate=2, padding="same", activation="relu"),
               lambda: KL.Conv1D(5, 3, dilation_rate=2, padding="same", activation="relu"), x1, rng=rng)

    # Conv2D
    x2 = f32(2, 9, 8, 3)
    for pad in ("valid", "same"):
        for s in (1, 2):
            for ks in (3, (2, 3)):
                kw = dict(filters=4, kernel_size=ks, strides=s, padding=pad)
                layer_case(rep, f"Conv2D(4, {ks}, strides={s}, padding={pad!r})", lambda kw=kw: L.Conv2D(**kw),
                           lambda kw=kw: KL.Conv2D(**kw), x2, rng=rng)
    layer_case(rep, "Conv2D(4, 3, strides=(2, 1), same, tanh)",
               lambda: L.Conv2D(4, 3, strides=(2, 1), padding="same", activation="tanh"),
               lambda: KL.Conv2D(4, 3, strides=(2, 1), padding="same", activation="tanh"), x2, rng=rng)
    layer_case(rep, "Conv2D(4, 3, dilation_rate=2, same, no bias)",
               lambda: L.Conv2D(4, 3, dilation_rate=2, padding="same", use_bias=False),
               lambda: KL.Conv2D(4, 3, dilation_rate=2, padding="same", use_bias=False), x2, rng=rng)
    rep.skip("Conv1D/Conv2D/pooling data_format='channels_first'",
             "tuinet is channels-last only (raises ConfigError, documented)")

    # DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, Conv1DTranspose (tuinet/nn/layers/conv_extra.py)
    for kw in (dict(kernel_size=3), dict(kernel_size=(2, 3), strides=2, padding="same", depth_multiplier=2),
               dict(kernel_size=3, padding="same", dilation_rate=2, activation="relu", use_bias=False),
               dict(kernel_size=2, strides=(2, 1), depth_multiplier=3)):
        args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
        layer_case(rep, f"DepthwiseConv2D({args})", lambda kw=kw: L.DepthwiseConv2D(**kw),
                   lambda kw=kw: KL.DepthwiseConv2D(**kw), x2, rng=rng)
    for kw in (dict(filters=4, kernel_size=3), dict(filters=5, kernel_size=(3, 2), strides=2, padding="same",
                                                    depth_multiplier=2, activation="tanh"),
               dict(filters=2, kernel_size=3, padding="same", dilation_rate=2, use_bias=False)):
        args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
        layer_case(rep, f"SeparableConv2D({args})", lambda kw=kw: L.SeparableConv2D(**kw),
                   lambda kw=kw: KL.SeparableConv2D(**kw), x2, rng=rng)
    x2t = f32(2, 4, 5, 3)
    for kw in (dict(filters=4, kernel_size=3), dict(filters=4, kernel_size=3, strides=2),
               dict(filters=4, kernel_size=(2, 3), strides=2, padding="same"),
               dict(filters=4, kernel_size=3, strides=2, padding="same"),
               dict(filters=2, kernel_size=2, strides=3), dict(filters=2, kernel_size=4, strides=(2, 3), padding="same"),
               dict(filters=3, kernel_size=3, strides=2, output_padding=1),
               dict(filters=3, kernel_size=(3, 4), strides=(2, 3), padding="same", output_padding=(1, 2)),
               dict(filters=3, kernel_size=3, dilation_rate=2, padding="same", activation="relu", use_bias=False)):
        args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
        layer_case(rep, f"Conv2DTranspose({args})", lambda kw=kw: L.Conv2DTranspose(**kw),
                   lambda kw=kw: KL.Conv2DTranspose(**kw), x2t, rng=rng)
    for kw in (dict(filters=5, kernel_size=3), dict(filters=5, kernel_size=3, strides=2, padding="same"),
               dict(filters=5, kernel_size=4, strides=2, padding="same"),
               dict(filters=3, kernel_size=2, strides=3, output_padding=2),
               dict(filters=3, kernel_size=3, dilation_rate=2, activation="tanh")):
        args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
        layer_case(rep, f"Conv1DTranspose({args})", lambda kw=kw: L.Conv1DTranspose(**kw),
                   lambda kw=kw: KL.Conv1DTranspose(**kw), x1, rng=rng)

    # Pooling
    x1p, x2p = f32(3, 11, 4), f32(2, 9, 8, 3)
    for kind in ("Max", "Average"):
        for pad in ("valid", "same"):
            for ps, st in ((2, None), (3, 2), (3, 1), (2, 1)):
                name1 = f"{kind}Pooling1D"
                kw = dict(pool_size=ps, strides=st, padding=pad)
                layer_case(rep, f"{name1}({ps}, strides={st}, padding={pad!r})",
                           lambda n=name1, kw=kw: getattr(L, n)(**kw), lambda n=name1, kw=kw: getattr(KL, n)(**kw),
                           x1p, rng=rng, **_avg_same_ref(kind, pad, ps, st, x1p.shape[1:-1]))
            x10 = f32(3, 10, 4)
            kw = dict(pool_size=3, strides=2, padding=pad)
            layer_case(rep, f"{name1}(3, strides=2, padding={pad!r}) on length 10",
                       lambda n=name1, kw=kw: getattr(L, n)(**kw), lambda n=name1, kw=kw: getattr(KL, n)(**kw),
                       x10, rng=rng, **_avg_same_ref(kind, pad, 3, 2, x10.shape[1:-1]))
            for ps, st in ((2, None), (3, 2), ((2, 3), (1, 2)), (3, 1)):
                name2 = f"{kind}Pooling2D"
                kw = dict(pool_size=ps, strides=st, padding=pad)
                layer_case(rep, f"{name2}({ps}, strides={st}, padding={pad!r})",
                           lambda n=name2, kw=kw: getattr(L, n)(**kw), lambda n=name2, kw=kw: getattr(KL, n)(**kw),
                           x2p, rng=rng, **_avg_same_ref(kind, pad, ps, st, x2p.shape[1:-1]))
    for kind in ("Average", "Max"):
        for r, xx in (("1D", x1p), ("2D", x2p)):
            name = f"Global{kind}Pooling{r}"
            for keep in (False, True):
                layer_case(rep, f"{name}(keepdims={keep})", lambda n=name, k=keep: getattr(L, n)(keepdims=k),
                           lambda n=name, k=keep: getattr(KL, n)(keepdims=k), xx, rng=rng)

    # BatchNormalization
    def bn_state(t, k):
        rep.check("    ... moving_mean/variance after the call", np.concatenate([w.ravel() for w in t.get_weights()]),
                  np.concatenate([np.ravel(w) for w in k.get_weights()]))
    for shape, axis in (((16, 5), -1), ((4, 5, 6, 3), -1), ((4, 3, 5, 6), 1)):
        for training in (False, True):
            for extra in ({}, {"center": False, "scale": False, "momentum": 0.9, "epsilon": 1e-2}):
                kw = dict(axis=axis, **extra)
                layer_case(rep, f"BatchNormalization({kw}) on {shape} training={training}",
                           lambda kw=kw: L.BatchNormalization(**kw), lambda kw=kw: KL.BatchNormalization(**kw),
                           f32(*shape) * 2 + 1, training=training, rng=rng, after=bn_state if training else None)

    # LayerNormalization
    for shape, kw in (((8, 6), {}), ((4, 5, 6), {}), ((4, 5, 6), {"axis": [1, 2]}), ((4, 5, 6), {"axis": [-2, -1]}),
                      ((4, 5, 6), {"axis": [2, 1]}), ((4, 5, 6), {"axis": 1}), ((4, 3, 5, 6), {"axis": [1, 3]}),
                      ((4, 5, 6), {"center": False, "scale": False}), ((4, 5, 6), {"center": False}),
                      ((4, 5, 6), {"rms_scaling": True}), ((8, 6), {"epsilon": 0.1})):
        ref = note = None
        axes = kw.get("axis", -1)
        axes = [axes] if isinstance(axes, int) else axes
        pos = sorted(a % len(shape) for a in axes)
        contiguous = pos == list(range(pos[0], pos[0] + len(pos)))
        if BACKEND == "torch" and contiguous and pos[-1] != len(shape) - 1 and not kw.get("rms_scaling"):
            ref, note = layer_norm_reference, ("non-trailing axis: vs Keras's generic formula via keras.ops "
                                               "(the torch backend calls F.layer_norm, which needs trailing axes)")
        layer_case(rep, f"LayerNormalization({kw}) on {shape}", lambda kw=kw: L.LayerNormalization(**kw),
                   lambda kw=kw: KL.LayerNormalization(**kw), f32(*shape) * 2 + 1, rng=rng, ref=ref,
                   ref_note=note or "")
    layer_case(rep, "LayerNormalization({'axis': [2, 1]}) on (4, 5, 6), weights reshaped to Keras's (5, 6)",
               lambda: L.LayerNormalization(axis=[2, 1]), lambda: KL.LayerNormalization(axis=[2, 1]),
               f32(4, 5, 6) * 2 + 1, rng=rng, convert=lambda ws: [w.reshape(5, 6) for w in ws])

    # Recurrent
    xr = f32(4, 7, 5)
    for cls in ("SimpleRNN", "LSTM", "GRU"):
        variants = [{}]
        if cls == "GRU":
            variants = [{"reset_after": True}, {"reset_after": False}]
        for v in variants:
            for rs in (False, True):
                for gb in (False, True):
                    kw = dict(units=6, return_sequences=rs, go_backwards=gb, **v)
                    kk = dict(kw)
                    paths = [("", {})]
                    if cls in ("LSTM", "GRU"):
                        paths = [("", {}), (" [keras use_cudnn=False]", {"use_cudnn": False})]
                    for tag, ex in paths:
                        layer_case(rep, f"{cls}({kw}){tag}", lambda c=cls, kw=kw: getattr(L, c)(**kw),
                                   lambda c=cls, kk=kk, ex=ex: getattr(KL, c)(**kk, **ex), xr, rng=rng, rtol=2e-5)
    for cls, kw in (("SimpleRNN", {"units": 6, "activation": "relu", "use_bias": False}),
                    ("LSTM", {"units": 6, "activation": "relu", "recurrent_activation": "hard_sigmoid"}),
                    ("LSTM", {"units": 6, "use_bias": False, "return_sequences": True}),
                    ("GRU", {"units": 6, "activation": "softsign", "recurrent_activation": "hard_sigmoid"}),
                    ("GRU", {"units": 6, "reset_after": False, "activation": "relu", "return_sequences": True}),
                    ("LSTM", {"units": 6, "dropout": 0.4, "recurrent_dropout": 0.3}),
                    ("GRU", {"units": 6, "dropout": 0.4, "recurrent_dropout": 0.3})):
        layer_case(rep, f"{cls}({kw})", lambda c=cls, kw=kw: getattr(L, c)(**kw),
                   lambda c=cls, kw=kw: getattr(KL, c)(**kw), xr, rng=rng, rtol=2e-5)

    # Wrappers (tuinet/nn/layers/wrappers.py): Bidirectional and TimeDistributed
    for cls in ("SimpleRNN", "LSTM", "GRU"):
        for mode in ("concat", "sum", "mul", "ave"):
            for rs in (False, True):
                kw = dict(units=6, return_sequences=rs)
                layer_case(rep, f"Bidirectional({cls}({kw}), merge_mode={mode!r})",
                           lambda c=cls, kw=kw, m=mode: L.Bidirectional(getattr(L, c)(**kw), merge_mode=m),
                           lambda c=cls, kw=kw, m=mode: KL.Bidirectional(getattr(KL, c)(**kw), merge_mode=m),
                           xr, rng=rng, rtol=2e-5)
    layer_case(rep, "Bidirectional(LSTM(6, seq), backward_layer=GRU(6, seq, go_backwards))",
               lambda: L.Bidirectional(L.LSTM(6, return_sequences=True),
                                       backward_layer=L.GRU(6, return_sequences=True, go_backwards=True)),
               lambda: KL.Bidirectional(KL.LSTM(6, return_sequences=True),
                                        backward_layer=KL.GRU(6, return_sequences=True, go_backwards=True)),
               xr, rng=rng, rtol=2e-5)
    for label, make_t, make_k, xx in (
            ("TimeDistributed(Dense(4, relu)) on (4, 7, 5)", lambda: L.TimeDistributed(L.Dense(4, activation="relu")),
             lambda: KL.TimeDistributed(KL.Dense(4, activation="relu")), xr),
            ("TimeDistributed(Dense(3, softmax)) on (3, 4, 5, 6)",
             lambda: L.TimeDistributed(L.Dense(3, activation="softmax")),
             lambda: KL.TimeDistributed(KL.Dense(3, activation="softmax")), f32(3, 4, 5, 6)),
            ("TimeDistributed(Conv2D(4, 3, same)) on (2, 3, 6, 5, 2)",
             lambda: L.TimeDistributed(L.Conv2D(4, 3, padding="same")),
             lambda: KL.TimeDistributed(KL.Conv2D(4, 3, padding="same")), f32(2, 3, 6, 5, 2)),
            ("TimeDistributed(Flatten()) on (2, 3, 4, 5)", lambda: L.TimeDistributed(L.Flatten()),
             lambda: KL.TimeDistributed(KL.Flatten()), f32(2, 3, 4, 5)),
            ("TimeDistributed(LSTM(5)) on (2, 3, 4, 5)", lambda: L.TimeDistributed(L.LSTM(5)),
             lambda: KL.TimeDistributed(KL.LSTM(5)), f32(2, 3, 4, 5))):
        layer_case(rep, label, make_t, make_k, xx, rng=rng, rtol=2e-5)

    # A few edges
    layer_case(rep, "Conv1D(5, 3, padding='causal', dilation_rate=2)",
               lambda: L.Conv1D(5, 3, padding="causal", dilation_rate=2),
               lambda: KL.Conv1D(5, 3, padding="causal", dilation_rate=2), x1, rng=rng)
    layer_case(rep, "MaxPooling2D(3, strides=2, same) on a 2x2 image", lambda: L.MaxPooling2D(3, 2, padding="same"),
               lambda: KL.MaxPooling2D(3, 2, padding="same"), f32(2, 2, 2, 3), rng=rng)
    layer_case(rep, "Conv2D(3, 5, same) on a 2x3 image", lambda: L.Conv2D(3, 5, padding="same"),
               lambda: KL.Conv2D(3, 5, padding="same"), f32(2, 2, 3, 2), rng=rng)
    layer_case(rep, "Dense(4, softmax) on (3, 5, 6)", lambda: L.Dense(4, activation="softmax"),
               lambda: KL.Dense(4, activation="softmax"), f32(3, 5, 6), rng=rng)
    layer_case(rep, "GRU(6, reset_after=False, use_bias=False)", lambda: L.GRU(6, reset_after=False, use_bias=False),
               lambda: KL.GRU(6, reset_after=False, use_bias=False), xr, rng=rng, rtol=2e-5)
    layer_case(rep, "LSTM(6) on a single time step", lambda: L.LSTM(6), lambda: KL.LSTM(6), f32(4, 1, 5), rng=rng)
    layer_case(rep, "BatchNormalization() training on a batch of 1", lambda: L.BatchNormalization(),
               lambda: KL.BatchNormalization(), f32(1, 5), training=True, rng=rng)

    # Embedding, Dropout, Flatten, Reshape
    ids = rng.integers(0, 10, size=(4, 7))
    layer_case(rep, "Embedding(10, 3) on int ids (4, 7)", lambda: L.Embedding(10, 3), lambda: KL.Embedding(10, 3),
               ids, rng=rng)
    layer_case(rep, "Embedding(10, 3) on float ids (4, 7)", lambda: L.Embedding(10, 3), lambda: KL.Embedding(10, 3),
               ids.astype("float32"), rng=rng)
    layer_case(rep, "Dropout(0.5) at inference", lambda: L.Dropout(0.5), lambda: KL.Dropout(0.5), f32(6, 5), rng=rng)
    layer_case(rep, "Flatten() on (2, 3, 4, 5)", lambda: L.Flatten(), lambda: KL.Flatten(), f32(2, 3, 4, 5), rng=rng)
    layer_case(rep, "Reshape((4, -1)) on (2, 3, 4, 5)", lambda: L.Reshape((4, -1)), lambda: KL.Reshape((4, -1)),
               f32(2, 3, 4, 5), rng=rng)

    # Activation, shape, noise and preprocessing layers (tuinet/nn/layers/extra.py)
    xa, xs, xi = f32(6, 5) * 2, f32(3, 7, 4), f32(2, 5, 6, 3)
    for label, kw, xx in (("ReLU()", {}, xa), ("ReLU(max_value=1.0)", {"max_value": 1.0}, xa),
                          ("ReLU(max_value=6.0)", {"max_value": 6.0}, xa * 4),
                          ("ReLU(negative_slope=0.1)", {"negative_slope": 0.1}, xa),
                          ("ReLU(max_value=1.5, negative_slope=0.2, threshold=0.5)",
                           {"max_value": 1.5, "negative_slope": 0.2, "threshold": 0.5}, xa),
                          ("ReLU(threshold=0.5)", {"threshold": 0.5}, xs)):
        layer_case(rep, label, lambda kw=kw: L.ReLU(**kw), lambda kw=kw: KL.ReLU(**kw), xx, rng=rng)
    for label, make_t, make_k, xx in (
            ("LeakyReLU()", lambda: L.LeakyReLU(), lambda: KL.LeakyReLU(), xa),
            ("LeakyReLU(0.05) on (3, 7, 4)", lambda: L.LeakyReLU(0.05), lambda: KL.LeakyReLU(0.05), xs),
            ("ELU()", lambda: L.ELU(), lambda: KL.ELU(), xa),
            ("ELU(alpha=0.5) on (3, 7, 4)", lambda: L.ELU(alpha=0.5), lambda: KL.ELU(alpha=0.5), xs),
            ("Softmax()", lambda: L.Softmax(), lambda: KL.Softmax(), xa),
            ("Softmax(axis=1) on (3, 7, 4)", lambda: L.Softmax(axis=1), lambda: KL.Softmax(axis=1), xs),
            ("Softmax(axis=[1, 2]) on (3, 7, 4)", lambda: L.Softmax(axis=[1, 2]), lambda: KL.Softmax(axis=(1, 2)), xs),
            ("PReLU()", lambda: L.PReLU(), lambda: KL.PReLU(), xa),
            ("PReLU() on (3, 7, 4)", lambda: L.PReLU(), lambda: KL.PReLU(), xs),
            ("PReLU(shared_axes=[1, 2]) on (2, 5, 6, 3)", lambda: L.PReLU(shared_axes=[1, 2]),
             lambda: KL.PReLU(shared_axes=[1, 2]), xi),
            ("PReLU(shared_axes=3) on (2, 5, 6, 3)", lambda: L.PReLU(shared_axes=3), lambda: KL.PReLU(shared_axes=3),
             xi),
            ("RepeatVector(3)", lambda: L.RepeatVector(3), lambda: KL.RepeatVector(3), xa),
            ("Permute((2, 1)) on (3, 7, 4)", lambda: L.Permute((2, 1)), lambda: KL.Permute((2, 1)), xs),
            ("Permute((3, 1, 2)) on (2, 5, 6, 3)", lambda: L.Permute((3, 1, 2)), lambda: KL.Permute((3, 1, 2)), xi),
            ("ZeroPadding1D()", lambda: L.ZeroPadding1D(), lambda: KL.ZeroPadding1D(), xs),
            ("ZeroPadding1D((2, 0))", lambda: L.ZeroPadding1D((2, 0)), lambda: KL.ZeroPadding1D((2, 0)), xs),
            ("ZeroPadding2D()", lambda: L.ZeroPadding2D(), lambda: KL.ZeroPadding2D(), xi),
            ("ZeroPadding2D((1, 2))", lambda: L.ZeroPadding2D((1, 2)), lambda: KL.ZeroPadding2D((1, 2)), xi),
            ("ZeroPadding2D(((0, 1), (2, 3)))", lambda: L.ZeroPadding2D(((0, 1), (2, 3))),
             lambda: KL.ZeroPadding2D(((0, 1), (2, 3))), xi),
            ("Cropping1D()", lambda: L.Cropping1D(), lambda: KL.Cropping1D(), xs),
            ("Cropping1D((0, 3))", lambda: L.Cropping1D((0, 3)), lambda: KL.Cropping1D((0, 3)), xs),
            ("Cropping2D()", lambda: L.Cropping2D(), lambda: KL.Cropping2D(), xi),
            ("Cropping2D(1)", lambda: L.Cropping2D(1), lambda: KL.Cropping2D(1), xi),
            ("Cropping2D(((1, 0), (2, 1)))", lambda: L.Cropping2D(((1, 0), (2, 1))),
             lambda: KL.Cropping2D(((1, 0), (2, 1))), xi),
            ("UpSampling1D()", lambda: L.UpSampling1D(), lambda: KL.UpSampling1D(), xs),
            ("UpSampling1D(3)", lambda: L.UpSampling1D(3), lambda: KL.UpSampling1D(3), xs),
            ("UpSampling2D()", lambda: L.UpSampling2D(), lambda: KL.UpSampling2D(), xi),
            ("UpSampling2D((1, 3))", lambda: L.UpSampling2D((1, 3)), lambda: KL.UpSampling2D((1, 3)), xi),
            ("UpSampling2D((2, 3), bilinear)", lambda: L.UpSampling2D((2, 3), interpolation="bilinear"),
             lambda: KL.UpSampling2D((2, 3), interpolation="bilinear"), xi),
            ("GaussianNoise(0.5) at inference", lambda: L.GaussianNoise(0.5), lambda: KL.GaussianNoise(0.5), xa),
            ("GaussianDropout(0.3) at inference", lambda: L.GaussianDropout(0.3), lambda: KL.GaussianDropout(0.3), xa),
            ("SpatialDropout1D(0.5) at inference", lambda: L.SpatialDropout1D(0.5), lambda: KL.SpatialDropout1D(0.5),
             xs),
            ("SpatialDropout2D(0.5) at inference", lambda: L.SpatialDropout2D(0.5), lambda: KL.SpatialDropout2D(0.5),
             xi),
            ("Rescaling(1/255, offset=-1)", lambda: L.Rescaling(1 / 255, offset=-1.0),
             lambda: KL.Rescaling(1 / 255, offset=-1.0), xa * 100),
            ("Rescaling([1, 2, 3], offset=[0, 1, 2]) on (2, 5, 6, 3)",
             lambda: L.Rescaling([1.0, 2.0, 3.0], offset=[0.0, 1.0, 2.0]),
             lambda: KL.Rescaling([1.0, 2.0, 3.0], offset=[0.0, 1.0, 2.0]), xi),
            ("Normalization(mean=[1, 2, 3], variance=[4, 1, 0.25]) on (2, 5, 6, 3)",
             lambda: L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25]),
             lambda: KL.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25]), xi),
            ("Normalization(mean=2, variance=9, invert=True)",
             lambda: L.Normalization(mean=2.0, variance=9.0, invert=True),
             lambda: KL.Normalization(mean=2.0, variance=9.0, invert=True), xa)):
        layer_case(rep, label, make_t, make_k, xx, rng=rng)
    rep.skip("GaussianNoise/GaussianDropout/SpatialDropout1D/2D training=True",
             "random noise: not comparable draw for draw (tests check the statistics and the shared mask)")

    def normalization_adapt(kw, data):
        def run():
            t, k = L.Normalization(**kw), KL.Normalization(**kw)
            t.adapt(data)
            k.adapt(data)
            t_w, k_w = t.get_weights(), [np.asarray(to_np(w)) for w in k.get_weights()]
            if [w.shape for w in t_w] != [w.shape for w in k_w]:
                rep._add(f"Normalization({kw}).adapt  weight shapes", None, None, "FAIL",
                         f"tuinet {[w.shape for w in t_w]} != keras {[w.shape for w in k_w]}")
                return
            rep.check(f"Normalization({kw}).adapt  mean/variance/count",
                      np.concatenate([w.ravel().astype("float64") for w in t_w]),
                      np.concatenate([w.ravel().astype("float64") for w in k_w]))
            probe = f32(*data.shape) * 3 + 1
            rep.check(f"Normalization({kw}).adapt  forward", t(probe), to_np(k(probe)))
        rep.run(f"Normalization({kw}).adapt", run)
    for kw, data in (({}, f32(40, 5) * 3 + 2), ({"axis": None}, f32(10, 4, 3) * 3 + 2),
                     ({"axis": 1}, f32(10, 4, 3) * 3 + 2), ({"axis": [1, 2]}, f32(10, 4, 3) * 3 + 2),
                     ({"invert": True}, f32(10, 4, 3) * 3 + 2)):
        normalization_adapt(kw, data)

    # Image augmentation (tuinet/nn/layers/augmentation.py). Random draws are not comparable draw for
    # draw, so: inference (the identity), factor 0 in training, Keras's own random draw replayed
    # through tuinet's `transform_images` (forward, and the input gradient on torch), and
    # keras.ops.image.affine_transform itself for every fill mode and interpolation.
    from tuinet.nn.layers import augmentation as aug
    ximg = f32(3, 7, 9, 2)
    for label, make_t, make_k in (
            ("RandomFlip()", lambda: L.RandomFlip(), lambda: KL.RandomFlip()),
            ("RandomContrast(0.5)", lambda: L.RandomContrast(0.5), lambda: KL.RandomContrast(0.5)),
            ("RandomTranslation(0.2, 0.3)", lambda: L.RandomTranslation(0.2, 0.3),
             lambda: KL.RandomTranslation(0.2, 0.3)),
            ("RandomRotation(0.2)", lambda: L.RandomRotation(0.2), lambda: KL.RandomRotation(0.2)),
            ("RandomZoom(0.2)", lambda: L.RandomZoom(0.2), lambda: KL.RandomZoom(0.2))):
        layer_case(rep, f"{label} at inference", make_t, make_k, ximg, rng=rng)
    for label, make_t, make_k in (
            ("RandomContrast(0.0, value_range=(-10, 10))", lambda: L.RandomContrast(0.0, value_range=(-10, 10)),
             lambda: KL.RandomContrast(0.0, value_range=(-10, 10))),
            ("RandomTranslation(0.0, 0.0)", lambda: L.RandomTranslation(0.0, 0.0),
             lambda: KL.RandomTranslation(0.0, 0.0)),
            ("RandomRotation(0.0)", lambda: L.RandomRotation(0.0), lambda: KL.RandomRotation(0.0)),
            ("RandomZoom(0.0)", lambda: L.RandomZoom(0.0), lambda: KL.RandomZoom(0.0))):
        layer_case(rep, f"{label} training=True (factor 0: identity)", make_t, make_k, ximg, training=True, rng=rng)

    def replay(label, make_t, make_k, to_tuinet, x=ximg):
        """Keras draws a transformation; both libraries apply it (tuinet's converted by `to_tuinet`)."""
        def run():
            t, k = make_t(), make_k()
            t.build_for(x.shape[1:], np.random.default_rng(0))
            draw = k.get_random_transformation(x, training=True)
            y_t = t.transform_images(x, to_tuinet({key: to_np(v) if key != "input_shape" else v
                                                   for key, v in draw.items()}))
            use_grad = BACKEND == "torch"
            xk = torch.tensor(x, requires_grad=True) if use_grad else x
            y_k = k.transform_images(xk, draw, training=True)
            rep.check(label, y_t, to_np(y_k))
            if use_grad:
                G = rng.normal(size=y_t.shape).astype("float32")
                dx = t.backward(G)
                (y_k * torch.tensor(G)).sum().backward()
                rep.check(f"{label}  grad dx", dx, to_np(xk.grad), rtol=RTOL * 2)
        rep.run(label, run)
    for mode in ("horizontal", "vertical", "horizontal_and_vertical"):
        replay(f"RandomFlip({mode!r}) on Keras's draw", lambda m=mode: L.RandomFlip(m),
               lambda m=mode: KL.RandomFlip(m, seed=3), lambda d: d["flips"].reshape(-1))
    replay("RandomContrast((0.3, 0.6), value_range=(-1, 1)) on Keras's draw",
           lambda: L.RandomContrast((0.3, 0.6), value_range=(-1, 1)),
           lambda: KL.RandomContrast((0.3, 0.6), value_range=(-1, 1), seed=3), lambda d: d["contrast_factor"])
    for fill in ("reflect", "wrap", "constant", "nearest"):
        for interp in ("bilinear", "nearest"):
            kw = dict(fill_mode=fill, interpolation=interp, fill_value=0.5)
            replay(f"RandomTranslation(0.3, (-0.4, 0.2), {fill}, {interp}) on Keras's draw",
                   lambda kw=kw: L.RandomTranslation(0.3, (-0.4, 0.2), **kw),
                   lambda kw=kw: KL.RandomTranslation(0.3, (-0.4, 0.2), seed=3, **kw),
                   lambda d: aug.translation_matrix(d["translations"]))
            replay(f"RandomRotation(0.3, {fill}, {interp}) on Keras's draw",
                   lambda kw=kw: L.RandomRotation(0.3, **kw), lambda kw=kw: KL.RandomRotation(0.3, seed=3, **kw),
                   lambda d, x=ximg: aug.rotation_matrix(d["angle"], x.shape[1], x.shape[2]))
            replay(f"RandomZoom((-0.4, 0.3), (-0.2, 0.5), {fill}, {interp}) on Keras's draw",
                   lambda kw=kw: L.RandomZoom((-0.4, 0.3), (-0.2, 0.5), **kw),
                   lambda kw=kw: KL.RandomZoom((-0.4, 0.3), (-0.2, 0.5), seed=3, **kw),
                   lambda d, x=ximg: aug.zoom_matrix(np.concatenate([d["width_zoom"], d["height_zoom"]], axis=1),
                                                     x.shape[1], x.shape[2]))

    def ops_affine(fill, interp):
        def run():
            T = np.concatenate([aug.rotation_matrix([37.0], 7, 9), aug.zoom_matrix([[1.3, 0.7]], 7, 9),
                                aug.translation_matrix([[2.3, -1.7]])]).astype("float32")
            T[:, [2, 5]] += 0.0137  # off the integer grid, away from nearest-rounding ties
            rep.check(f"ops.image.affine_transform({fill}, {interp}, fill_value=0.5)",
                      aug.affine_transform(ximg, T, interp, fill, 0.5),
                      to_np(keras.ops.image.affine_transform(ximg, T, interp, fill, 0.5)))
        rep.run(f"ops.image.affine_transform({fill}, {interp})", run)
    for fill in ("reflect", "wrap", "constant", "nearest"):
        for interp in ("bilinear", "nearest"):
            ops_affine(fill, interp)
    rep.skip("RandomFlip/Contrast/Translation/Rotation/Zoom on unbatched (h, w, c) images",
             "tuinet layers take batches; a single image is x[None]")


# ---------------------------------------------------------------------------------------- models
def _kreg(r):
    return None if r is None else keras.regularizers.L1L2(l1=r.l1, l2=r.l2)


def _kcon(c):
    return getattr(keras.constraints, type(c).__name__)(**c.get_config())


def _ctor_args(t):
    regs = {k: _kreg(getattr(t, k)) for k in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                                                 "beta_regularizer", "gamma_regularizer", "embeddings_regularizer")
            if getattr(t, k, None) is not None}
    cons = {k: _kcon(getattr(t, k)) for k in ("kernel_constraint", "recurrent_constraint", "bias_constraint",
                                                 "beta_constraint", "gamma_constraint", "embeddings_constraint")
            if getattr(t, k, None) is not None}
    return {**_ctor_args_plain(t), **regs, **cons}


def _ctor_args_plain(t):
    name = type(t).__name__
    if name == "Dense":
        return {"units": t.units, "activation": t.activation.name, "use_bias": t.use_bias}
    if name in ("Conv1D", "Conv2D"):
        return {"filters": t.filters, "kernel_size": t.kernel_size, "strides": t.strides, "padding": t.padding,
                "dilation_rate": t.dilation_rate, "activation": t.activation.name, "use_bias": t.use_bias,
                "data_format": t.data_format}
    if "Pooling" in name and "Global" not in name:
        return {"pool_size": t.pool_size, "strides": t.strides, "padding": t.padding, "data_format": t.data_format}
    if "Global" in name:
        return {"data_format": t.data_format, "keepdims": t.keepdims}
    if name == "BatchNormalization":
        return {"axis": t.axis, "momentum": t.momentum, "epsilon": t.epsilon, "center": t.center, "scale": t.scale}
    if name == "LayerNormalization":
        return {"axis": t.axis, "epsilon": t.epsilon}
    if name == "Dropout":
        return {"rate": t.rate}
    if name in ("Flatten",):
        return {}
    if name == "Reshape":
        return {"target_shape": t.target_shape}
    if name == "Activation":
        return {"activation": t.activation.name}
    if name == "Embedding":
        return {"input_dim": t.input_dim, "output_dim": t.output_dim}
    if name in ("SimpleRNN", "LSTM", "GRU"):
        d = {"units": t.units, "activation": t.activation.name, "return_sequences": t.return_sequences,
             "go_backwards": t.go_backwards, "use_bias": t.use_bias}
        if name != "SimpleRNN":
            d["recurrent_activation"] = t.recurrent_activation.name
        if name == "GRU":
            d["reset_after"] = t.reset_after
        return d
    raise KeyError(name)


def keras_twin(t_model):
    """A keras.Sequential with the same layers, names, shapes and weights as the tuinet model."""
    km = keras.Sequential([keras.Input(shape=t_model.input_shape[1:], name="input")] +
                          [getattr(keras.layers, type(lay).__name__)(**_ctor_args(lay), name=lay.name)
                           for lay in t_model.layers], name=t_model.name)
    km.set_weights(t_model.get_weights())
    return km


def parse_summary(text):
    rows, totals = [], {}
    for line in text.splitlines():
        line = line.rstrip()
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if len(cells) == 3:
                if rows and cells[0] and not cells[1] and not cells[2]:
                    # Keras (rich) wraps a long "name (Type)" onto a second line: join it back.
                    prev = rows.pop()
                    cells = [f"{prev[0]} {cells[0]}", prev[1], prev[2]]
                rows.append(tuple(cells))
        m = re.match(r"\s*(Total|Trainable|Non-trainable) params:\s*([\d,]+)\s*\(([^)]*)\)", line)
        if m:
            totals[m.group(1)] = (m.group(2), m.group(3))
    return rows, totals


def keras_summary_text(km):
    lines = []
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "200"  # rich crops the table to the terminal width (80 without a terminal)
    try:
        km.summary(print_fn=lambda s, *a, **k: lines.append(s))
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return "\n".join(lines)


def model_zoo(rng):
    import tuinet
    L = tuinet.layers
    return {
        "mlp": (lambda: tuinet.Sequential([L.Dense(16, input_shape=(6,), activation="relu"),
                                           L.Dense(8, activation="tanh"), L.Dense(3, activation="softmax")],
                                          name="mlp", seed=1), (6,)),
        "cnn": (lambda: tuinet.Sequential([
            L.Input((12, 10, 2)), L.Conv2D(6, 3, padding="same", activation="relu"), L.BatchNormalization(),
            L.MaxPooling2D(2), L.Conv2D(8, (2, 3), strides=2, activation="elu"), L.AveragePooling2D(2, padding="same"),
            L.Flatten(), L.Dropout(0.3), L.Dense(10, activation="relu"), L.Dense(4, activation="softmax")],
            name="cnn", seed=2), (12, 10, 2)),
        "cnn1d_gap": (lambda: tuinet.Sequential([
            L.Input((20, 3)), L.Conv1D(6, 5, activation="relu"), L.MaxPooling1D(2),
            L.Conv1D(8, 3, padding="same"), L.GlobalAveragePooling1D(), L.Dense(1, activation="sigmoid")],
            name="cnn1d", seed=3), (20, 3)),
        "lstm": (lambda: tuinet.Sequential([
            L.Input((9, 4)), L.LSTM(12, return_sequences=True), L.LayerNormalization(),
            L.GRU(8), L.Dense(3, activation="softmax")], name="lstm_model", seed=4), (9, 4)),
        "embed_rnn": (lambda: tuinet.Sequential([
            L.Input((7,)), L.Embedding(30, 6), L.SimpleRNN(5, return_sequences=True),
            L.GlobalMaxPooling1D(), L.Dense(2, activation="softmax")], name="embed_rnn", seed=5), (7,)),
    }


def section_models(rep, rng):
    for key, (make, shape) in model_zoo(rng).items():
        def case(key=key, make=make, shape=shape):
            tm = make()
            randomize_weights(tm, rng)
            km = keras_twin(tm)
            if key == "embed_rnn":
                x = rng.integers(0, 30, size=(10, *shape))
            else:
                x = rng.normal(size=(10, *shape)).astype("float32")
            rep.check(f"{key}: predict(x, batch_size=4)", tm.predict(x, batch_size=4, verbose=0),
                      km.predict(x, batch_size=4, verbose=0), rtol=2e-5)
            rep.equal(f"{key}: count_params()", tm.count_params(), km.count_params())
            t_rows, t_tot = parse_summary(tm.summary_text())
            k_rows, k_tot = parse_summary(keras_summary_text(km))
            rep.equal(f"{key}: summary rows (name (type), output shape, params)", t_rows, k_rows)
            rep.equal(f"{key}: summary totals (count and size)", t_tot, k_tot)
            rep.equal(f"{key}: output_shape", tuple(tm.output_shape), tuple(km.output_shape))
        rep.run(key, case)


# ---------------------------------------------------------------------------------------- losses
def _onehot(rng, n, c):
    return np.eye(c, dtype="float32")[rng.integers(0, c, size=n)]


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype("float32")


def loss_inputs(name, rng, shape=(8, 5)):
    """(y_true, y_pred) in the domain each loss expects."""
    c = shape[-1]
    normal = lambda *s: rng.normal(size=s).astype("float32")  # noqa: E731
    if name in ("binary_crossentropy",):
        yt = rng.integers(0, 2, size=shape).astype("float32")
        yp = rng.uniform(0.01, 0.99, size=shape).astype("float32")
        yp.flat[:3] = [0.0, 1.0, 1e-9]  # the clip at epsilon
        return yt, yp
    if name in ("categorical_crossentropy", "categorical_hinge"):
        yt = np.eye(c, dtype="float32")[rng.integers(0, c, size=shape[:-1])]
        return yt, _softmax(normal(*shape))
    if name == "sparse_categorical_crossentropy":
        return rng.integers(0, c, size=shape[:-1]), _softmax(normal(*shape))
    if name == "kl_divergence":
        return _softmax(normal(*shape)), _softmax(normal(*shape))
    if name in ("hinge", "squared_hinge"):
        return rng.choice([-1.0, 1.0], size=shape).astype("float32"), normal(*shape)
    if name in ("mean_squared_logarithmic_error", "poisson"):
        return rng.uniform(0, 3, size=shape).astype("float32"), rng.uniform(0.05, 3, size=shape).astype("float32")
    if name == "mean_absolute_percentage_error":
        yt = normal(*shape)
        yt.flat[0] = 0.0  # Keras divides by max(|y_true|, epsilon)
        return yt, normal(*shape)
    return normal(*shape), normal(*shape) * 2


def loss_case(rep, label, t_loss, k_loss, yt, yp, *, rtol=RTOL, grad=True):
    def run():
        val_t = t_loss(yt, yp)
        use_grad = grad and BACKEND == "torch"
        if use_grad:
            ypk = torch.tensor(yp, requires_grad=True)
            ytk = torch.tensor(yt)
        else:
            ypk, ytk = yp, yt
        val_k = k_loss(ytk, ypk)
        rep.check(label, val_t, to_np(val_k), rtol=rtol)
        if use_grad:
            val_k.backward()
            g_t = t_loss.gradient(yt, yp)
            g_k = to_np(ypk.grad)
            rep.check(f"{label}  gradient", g_t, g_k, rtol=rtol, floor=float(np.abs(g_k).max()) or 1e-6)
    rep.run(label, run)


def section_losses(rep, rng):
    import tuinet
    TL, KLo = tuinet.losses, keras.losses
    for name in TL.names():
        yt, yp = loss_inputs(name, rng)
        # 1) by name: Keras's function reduced by the mean vs tuinet's loss
        try:
            fn = KLo.get(name)
        except Exception:  # noqa: BLE001
            fn = None
        if fn is None:
            if name == "root_mean_squared_error":
                loss_case(rep, f"{name}  (no Keras loss; vs sqrt(keras MeanSquaredError))",
                          TL.get(name), lambda a, b: keras.ops.sqrt(KLo.MeanSquaredError()(a, b)), yt, yp)
            else:
                rep.skip(name, "Keras 3 has no loss of this name")
            continue
        loss_case(rep, f"{name}  mean(keras.losses.get(name)(yt, yp))", TL.get(name),
                  lambda a, b, fn=fn: keras.ops.mean(fn(a, b)), yt, yp)
        # 2) the class with its default reduction
        cls_name = type(TL.get(name)).__name__
        kcls = getattr(KLo, cls_name, None)
        if kcls is not None:
            loss_case(rep, f"{cls_name}()", TL.get(cls_name), kcls(), yt, yp, grad=False)

    # Variants
    z = rng.normal(size=(8, 5)).astype("float32") * 3
    oh = _onehot(rng, 8, 5)
    ids = rng.integers(0, 5, size=8)
    b01 = rng.integers(0, 2, size=(8, 5)).astype("float32")
    variants = [
        ("BinaryCrossentropy(from_logits=True)", dict(from_logits=True), b01, z),
        ("BinaryCrossentropy(from_logits=True, label_smoothing=0.2)", dict(from_logits=True, label_smoothing=0.2),
         b01, z),
        ("BinaryCrossentropy(label_smoothing=0.1)", dict(label_smoothing=0.1), b01, _softmax(z)),
        ("BinaryCrossentropy() y (8,) vs p (8, 1)", {}, b01[:, 0], 1 / (1 + np.exp(-z[:, :1]))),
        ("BinaryCrossentropy() y (8, 1) vs p (8,)", {}, b01[:, :1], (1 / (1 + np.exp(-z[:, 0]))).astype("float32")),
        ("CategoricalCrossentropy(from_logits=True)", dict(from_logits=True), oh, z),
        ("CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)", dict(from_logits=True, label_smoothing=0.1),
         oh, z),
        ("CategoricalCrossentropy(label_smoothing=0.2)", dict(label_smoothing=0.2), oh, _softmax(z)),
        ("CategoricalCrossentropy() unnormalised y_pred", {}, oh, np.abs(z) + 0.1),
        ("CategoricalCrossentropy() soft labels", {}, _softmax(z[::-1].copy()), _softmax(z)),
        ("CategoricalCrossentropy(axis=1) on (4, 5, 3)", dict(axis=1),
         np.eye(5, dtype="float32")[rng.integers(0, 5, (4, 3))].transpose(0, 2, 1).copy(),
         _softmax(rng.normal(size=(4, 3, 5))).transpose(0, 2, 1).copy()),
        ("CategoricalCrossentropy(from_logits=True) on (4, 6, 5) sequences", dict(from_logits=True),
         np.eye(5, dtype="float32")[rng.integers(0, 5, (4, 6))], rng.normal(size=(4, 6, 5)).astype("float32")),
        ("SparseCategoricalCrossentropy(from_logits=True)", dict(from_logits=True), ids, z),
        ("SparseCategoricalCrossentropy() labels (8, 1)", {}, ids[:, None], _softmax(z)),
        ("SparseCategoricalCrossentropy() float labels", {}, ids.astype("float32"), _softmax(z)),
        ("SparseCategoricalCrossentropy(from_logits=True) on (4, 6, 5) sequences", dict(from_logits=True),
         rng.integers(0, 5, (4, 6)), rng.normal(size=(4, 6, 5)).astype("float32")),
        ("SparseCategoricalCrossentropy(ignore_class=0, from_logits=True)", dict(ignore_class=0, from_logits=True),
         ids, z),
        ("SparseCategoricalCrossentropy(ignore_class=-1) sequences", dict(ignore_class=-1),
         np.where(rng.random((4, 6)) < 0.3, -1, rng.integers(0, 5, (4, 6))), _softmax(rng.normal(size=(4, 6, 5)))),
        ("Huber(delta=0.5)", dict(delta=0.5), z, z[::-1].copy()),
        ("Huber(delta=2.0)", dict(delta=2.0), z, z[::-1].copy() * 2),
        ("CosineSimilarity(axis=0)", dict(axis=0), z, z[::-1].copy()),
        ("Hinge() with 0/1 labels", {}, b01, z),
        ("SquaredHinge() with 0/1 labels", {}, b01, z),
        ("MeanSquaredError() on (4, 6, 3) sequences", {}, rng.normal(size=(4, 6, 3)).astype("float32"),
         rng.normal(size=(4, 6, 3)).astype("float32")),
        ("MeanAbsoluteError() y (8,) vs p (8, 1)", {}, z[:, 0], z[:, 1:2]),
        ("KLDivergence() with zeros in y_true", {}, oh, _softmax(z)),
        ("Poisson() with y_pred near 0", {}, np.abs(z), np.where(z > 0, 1e-9, 0.5).astype("float32")),
        ("MeanSquaredLogarithmicError() negative y_pred", {}, np.abs(z), z),
    ]
    for label, kw, yt, yp in variants:
        cls = label.split("(")[0]
        loss_case(rep, label, getattr(TL, cls)(**kw), getattr(KLo, cls)(**kw), np.asarray(yt),
                  np.asarray(yp, dtype="float32"))


# ---------------------------------------------------------------------------------------- metrics
def section_metrics(rep, rng):
    import tuinet
    TM, KM = tuinet.metrics, keras.metrics
    n, c = 12, 5

    def batches(kind):
        out = []
        for _ in range(2):
            z = rng.normal(size=(n, c)).astype("float32")
            if kind == "binary":
                out.append((rng.integers(0, 2, size=(n, 1)).astype("float32"),
                            rng.uniform(size=(n, 1)).astype("float32")))
            elif kind == "binary_multi":
                out.append((rng.integers(0, 2, size=(n, c)).astype("float32"),
                            rng.uniform(size=(n, c)).astype("float32")))
            elif kind == "categorical":
                out.append((_onehot(rng, n, c), _softmax(z)))
            elif kind == "sparse":
                out.append((rng.integers(0, c, size=n), _softmax(z)))
            elif kind == "sparse_col":
                out.append((rng.integers(0, c, size=(n, 1)), _softmax(z)))
            elif kind == "regression":
                out.append((z, z + rng.normal(size=z.shape).astype("float32")))
            elif kind == "exact":
                a = rng.integers(0, 3, size=(n, 2)).astype("float32")
                out.append((a, np.where(rng.random(a.shape) < 0.3, a + 1, a)))
            elif kind == "ties_binary":  # outputs exactly at the thresholds 0.5 / 0.25
                out.append((rng.integers(0, 2, size=(n, c)).astype("float32"),
                            rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=(n, c)).astype("float32")))
            elif kind == "ties_sparse":  # tied scores around the label's
                out.append((rng.integers(0, c, size=n), rng.choice([0.1, 0.2, 0.3], size=(n, c)).astype("float32")))
            elif kind == "binary_flat":  # labels (n,) for outputs (n, 1)
                out.append((rng.integers(0, 2, size=n), rng.uniform(size=(n, 1)).astype("float32")))
            elif kind == "seq_sparse":
                out.append((rng.integers(0, c, size=(4, 6)), _softmax(rng.normal(size=(4, 6, c)))))
        return out

    cases = [
        ("BinaryAccuracy()", lambda: TM.BinaryAccuracy(), lambda: KM.BinaryAccuracy(), "binary"),
        ("BinaryAccuracy(threshold=0.7) (n, 5)", lambda: TM.BinaryAccuracy(threshold=0.7),
         lambda: KM.BinaryAccuracy(threshold=0.7), "binary_multi"),
        ("CategoricalAccuracy()", lambda: TM.CategoricalAccuracy(), lambda: KM.CategoricalAccuracy(), "categorical"),
        ("SparseCategoricalAccuracy() labels (n,)", lambda: TM.SparseCategoricalAccuracy(),
         lambda: KM.SparseCategoricalAccuracy(), "sparse"),
        ("SparseCategoricalAccuracy() labels (n, 1)", lambda: TM.SparseCategoricalAccuracy(),
         lambda: KM.SparseCategoricalAccuracy(), "sparse_col"),
        ("SparseCategoricalAccuracy() sequences", lambda: TM.SparseCategoricalAccuracy(),
         lambda: KM.SparseCategoricalAccuracy(), "seq_sparse"),
        ("TopKCategoricalAccuracy(k=2)", lambda: TM.TopKCategoricalAccuracy(k=2),
         lambda: KM.TopKCategoricalAccuracy(k=2), "categorical"),
        ("SparseTopKCategoricalAccuracy(k=3)", lambda: TM.SparseTopKCategoricalAccuracy(k=3),
         lambda: KM.SparseTopKCategoricalAccuracy(k=3), "sparse"),
        ("SparseTopKCategoricalAccuracy(k=2) labels (n, 1)", lambda: TM.SparseTopKCategoricalAccuracy(k=2),
         lambda: KM.SparseTopKCategoricalAccuracy(k=2), "sparse_col"),
        ("Accuracy() (exact match)", lambda: TM.Accuracy(), lambda: KM.Accuracy(), "exact"),
        ("Precision()", lambda: TM.Precision(), lambda: KM.Precision(), "binary_multi"),
        ("Precision(thresholds=0.3)", lambda: TM.Precision(thresholds=0.3), lambda: KM.Precision(thresholds=0.3),
         "binary_multi"),
        ("Precision(top_k=2)", lambda: TM.Precision(top_k=2), lambda: KM.Precision(top_k=2), "binary_multi"),
        ("Precision(class_id=1)", lambda: TM.Precision(class_id=1), lambda: KM.Precision(class_id=1), "binary_multi"),
        ("Recall()", lambda: TM.Recall(), lambda: KM.Recall(), "binary_multi"),
        ("Recall(thresholds=0.7)", lambda: TM.Recall(thresholds=0.7), lambda: KM.Recall(thresholds=0.7),
         "binary_multi"),
        ("Recall(top_k=1) one-hot", lambda: TM.Recall(top_k=1), lambda: KM.Recall(top_k=1), "categorical"),
        ("Recall(class_id=2)", lambda: TM.Recall(class_id=2), lambda: KM.Recall(class_id=2), "binary_multi"),
        ("RootMeanSquaredError()", lambda: TM.RootMeanSquaredError(), lambda: KM.RootMeanSquaredError(),
         "regression"),
        ("MeanSquaredError()", lambda: TM.MeanSquaredError(), lambda: KM.MeanSquaredError(), "regression"),
        ("MeanAbsoluteError()", lambda: TM.MeanAbsoluteError(), lambda: KM.MeanAbsoluteError(), "regression"),
        ("CosineSimilarity()", lambda: TM.CosineSimilarity(), lambda: KM.CosineSimilarity(), "regression"),
        ("BinaryAccuracy() outputs exactly 0.5", lambda: TM.BinaryAccuracy(), lambda: KM.BinaryAccuracy(),
         "ties_binary"),
        ("BinaryAccuracy() int labels (n,) vs outputs (n, 1)", lambda: TM.BinaryAccuracy(),
         lambda: KM.BinaryAccuracy(), "binary_flat"),
        ("Precision() outputs exactly 0.5", lambda: TM.Precision(), lambda: KM.Precision(), "ties_binary"),
        ("Recall(thresholds=0.25) outputs exactly 0.25", lambda: TM.Recall(thresholds=0.25),
         lambda: KM.Recall(thresholds=0.25), "ties_binary"),
        ("SparseTopKCategoricalAccuracy(k=2) tied scores", lambda: TM.SparseTopKCategoricalAccuracy(k=2),
         lambda: KM.SparseTopKCategoricalAccuracy(k=2), "ties_sparse"),
        ("get('binary_crossentropy')", lambda: TM.get("binary_crossentropy"), lambda: KM.BinaryCrossentropy(),
         "binary_multi"),
        ("get('categorical_crossentropy')", lambda: TM.get("categorical_crossentropy"),
         lambda: KM.CategoricalCrossentropy(), "categorical"),
        ("get('sparse_categorical_crossentropy')", lambda: TM.get("sparse_categorical_crossentropy"),
         lambda: KM.SparseCategoricalCrossentropy(), "sparse"),
        ("get('kl_divergence')", lambda: TM.get("kl_divergence"), lambda: KM.KLDivergence(), "categorical"),
        ("get('hinge')", lambda: TM.get("hinge"), lambda: KM.Hinge(), "regression"),
        ("get('log_cosh')", lambda: TM.get("log_cosh"), lambda: KM.LogCoshError(), "regression"),
        ("get('mape')", lambda: TM.get("mape"), lambda: KM.MeanAbsolutePercentageError(), "regression"),
    ]
    for label, mt, mk, kind in cases:
        def run(label=label, mt=mt, mk=mk, kind=kind):
            t, k = mt(), mk()
            data = batches(kind)
            res_t, res_k = [], []
            for yt, yp in data:
                t.update_state(yt, yp)
                k.update_state(yt, yp)
                res_t.append(t.result())
                res_k.append(float(to_np(k.result())))
            rep.check(f"{label}  after batch 1, 2", res_t, res_k)
            t.reset_state(), k.reset_state()
            t.update_state(*data[1]), k.update_state(*data[1])
            rep.check(f"{label}  after reset_state + batch 2", t.result(), float(to_np(k.result())))
        rep.run(label, run)


def section_more_metrics(rep, rng):
    """The Keras 3 metric classes added after the first set: regression and probabilistic means,
    R2Score, F1Score / FBetaScore, Sum, IoU / MeanIoU; two batches, then a reset, with and without
    sample weights, plus the config keys Keras writes and the names `metrics.get` knows."""
    import tuinet
    TM, KM = tuinet.metrics, keras.metrics
    n, c = 12, 4

    def data(kind):
        z = rng.normal(size=(n, c)).astype("float32")
        if kind == "regression":
            return z, z + 0.5 * rng.normal(size=z.shape).astype("float32")
        if kind == "positive":  # poisson, msle: counts and rates
            return (rng.integers(0, 4, size=(n, c)).astype("float32"),
                    rng.uniform(0.1, 3, size=(n, c)).astype("float32"))
        if kind == "probs":
            return _softmax(rng.normal(size=(n, c))), _softmax(z)
        if kind == "signs":  # hinge with 0/1 labels (Keras turns them into -1/1)
            return rng.integers(0, 2, size=(n, c)).astype("float32"), z
        if kind == "onehot":
            return _onehot(rng, n, c), _softmax(z)
        if kind == "multilabel":
            return rng.integers(0, 2, size=(n, c)).astype("float32"), rng.uniform(size=(n, c)).astype("float32")
        if kind == "r2_column":  # labels (n,) for outputs (n, 1)
            t = rng.normal(size=n).astype("float32")
            return t, (t + rng.normal(size=n).astype("float32"))[:, None]
        if kind == "ids":  # class ids, some outside 0..c-1 (skipped)
            return rng.integers(-1, c + 1, size=(n, 3)), rng.integers(0, c, size=(n, 3)).astype("float32")
        if kind == "seg":  # segmentation: labels (n, 3, 3, 1), softmax maps (n, 3, 3, c)
            return rng.integers(0, c, size=(n, 3, 3, 1)), _softmax(rng.normal(size=(n, 3, 3, c)))
        if kind == "seg_onehot":
            return (np.eye(c, dtype="float32")[rng.integers(0, c, size=(n, 3, 3))],
                    _softmax(rng.normal(size=(n, 3, 3, c))))
        raise ValueError(kind)

    W_SAMPLE, W_FULL, W_INT = "per sample", "per entry", "ints per entry"
    cases = [
        ("R2Score()", lambda: TM.R2Score(), lambda: KM.R2Score(), "regression", [None, W_SAMPLE, W_FULL]),
        ("R2Score(class_aggregation='variance_weighted_average')",
         lambda: TM.R2Score(class_aggregation="variance_weighted_average"),
         lambda: KM.R2Score(class_aggregation="variance_weighted_average"), "regression", [None, W_SAMPLE]),
        ("R2Score(class_aggregation=None)", lambda: TM.R2Score(class_aggregation=None),
         lambda: KM.R2Score(class_aggregation=None), "regression", [None, W_FULL]),
        ("R2Score(num_regressors=3)", lambda: TM.R2Score(num_regressors=3), lambda: KM.R2Score(num_regressors=3),
         "regression", [None, W_SAMPLE]),
        ("R2Score() labels (n,) outputs (n, 1)", lambda: TM.R2Score(), lambda: KM.R2Score(), "r2_column",
         [None, W_SAMPLE]),
        ("F1Score() (per class)", lambda: TM.F1Score(), lambda: KM.F1Score(), "onehot", [None, W_SAMPLE]),
        ("F1Score(average='macro')", lambda: TM.F1Score(average="macro"), lambda: KM.F1Score(average="macro"),
         "onehot", [None, W_SAMPLE]),
        ("F1Score(average='micro', threshold=0.5)", lambda: TM.F1Score(average="micro", threshold=0.5),
         lambda: KM.F1Score(average="micro", threshold=0.5), "multilabel", [None, W_SAMPLE]),
        ("F1Score(average='weighted', threshold=0.4)", lambda: TM.F1Score(average="weighted", threshold=0.4),
         lambda: KM.F1Score(average="weighted", threshold=0.4), "multilabel", [None, W_SAMPLE]),
        ("FBetaScore(beta=2.0) (per class)", lambda: TM.FBetaScore(beta=2.0), lambda: KM.FBetaScore(beta=2.0),
         "multilabel", [None, W_SAMPLE]),
        ("FBetaScore(average='macro', beta=0.5, threshold=0.6)",
         lambda: TM.FBetaScore(average="macro", beta=0.5, threshold=0.6),
         lambda: KM.FBetaScore(average="macro", beta=0.5, threshold=0.6), "multilabel", [None]),
        ("KLDivergence()", lambda: TM.KLDivergence(), lambda: KM.KLDivergence(), "probs", [None, W_SAMPLE]),
        ("LogCoshError()", lambda: TM.LogCoshError(), lambda: KM.LogCoshError(), "regression", [None, W_SAMPLE]),
        ("Poisson()", lambda: TM.Poisson(), lambda: KM.Poisson(), "positive", [None, W_SAMPLE]),
        ("Hinge() 0/1 labels", lambda: TM.Hinge(), lambda: KM.Hinge(), "signs", [None, W_SAMPLE]),
        ("SquaredHinge() 0/1 labels", lambda: TM.SquaredHinge(), lambda: KM.SquaredHinge(), "signs",
         [None, W_SAMPLE]),
        ("CategoricalHinge()", lambda: TM.CategoricalHinge(), lambda: KM.CategoricalHinge(), "onehot",
         [None, W_SAMPLE]),
        ("MeanAbsolutePercentageError()", lambda: TM.MeanAbsolutePercentageError(),
         lambda: KM.MeanAbsolutePercentageError(), "regression", [None, W_SAMPLE]),
        ("MeanSquaredLogarithmicError()", lambda: TM.MeanSquaredLogarithmicError(),
         lambda: KM.MeanSquaredLogarithmicError(), "positive", [None, W_SAMPLE]),
        ("CosineSimilarity()", lambda: TM.CosineSimilarity(), lambda: KM.CosineSimilarity(), "regression",
         [W_SAMPLE]),
        ("MeanSquaredError()", lambda: TM.MeanSquaredError(), lambda: KM.MeanSquaredError(), "regression",
         [W_SAMPLE]),
        ("BinaryAccuracy()", lambda: TM.BinaryAccuracy(), lambda: KM.BinaryAccuracy(), "multilabel", [W_SAMPLE]),
        ("IoU(4, target_class_ids=[0, 2]) ids, out of range skipped", lambda: TM.IoU(4, [0, 2]),
         lambda: KM.IoU(4, [0, 2]), "ids", [None, W_INT]),
        ("IoU(4, [1, 3], ignore_class=0)", lambda: TM.IoU(4, [1, 3], ignore_class=0),
         lambda: KM.IoU(4, [1, 3], ignore_class=0), "ids", [None]),
        ("MeanIoU(4, sparse_y_pred=False) segmentation", lambda: TM.MeanIoU(4, sparse_y_pred=False),
         lambda: KM.MeanIoU(4, sparse_y_pred=False), "seg", [None, W_INT]),
        ("MeanIoU(4, sparse_y_true=False, sparse_y_pred=False)",
         lambda: TM.MeanIoU(4, sparse_y_true=False, sparse_y_pred=False),
         lambda: KM.MeanIoU(4, sparse_y_true=False, sparse_y_pred=False), "seg_onehot", [None]),
    ]

    def result_k(k):
        return np.asarray(to_np(k.result()), dtype=np.float64)

    for label, mt, mk, kind, weightings in cases:
        for weighting in weightings:
            def run(label=label, mt=mt, mk=mk, kind=kind, weighting=weighting):
                t, k = mt(), mk()
                batches = [data(kind) for _ in range(2)]
                if weighting == W_SAMPLE:
                    sws = [rng.uniform(0, 2, size=len(yt)).astype("float32") for yt, _ in batches]
                elif weighting == W_FULL:
                    sws = [rng.uniform(0, 2, size=np.shape(yt)).astype("float32") for yt, _ in batches]
                elif weighting == W_INT:
                    sws = [rng.integers(0, 3, size=np.shape(yt)) for yt, _ in batches]
                else:
                    sws = [None, None]
                res_t, res_k = [], []
                for (yt, yp), sw in zip(batches, sws):
                    t.update_state(yt, yp, sample_weight=sw)
                    k.update_state(yt, yp, sample_weight=sw)
                    res_t.append(np.asarray(t.result(), dtype=np.float64))
                    res_k.append(result_k(k))
                tag = "" if weighting is None else f", weights {weighting}"
                rep.check(f"{label}{tag}  after batch 1, 2", np.stack(res_t), np.stack(res_k))
                t.reset_state(), k.reset_state()
                t.update_state(*batches[1], sample_weight=sws[1]), k.update_state(*batches[1], sample_weight=sws[1])
                rep.check(f"{label}{tag}  after reset_state + batch 2", t.result(), result_k(k))
            rep.run(label, run)

    def reducing_case(name, label):
        t, k = getattr(TM, name)(), getattr(KM, name)()
        for values, sw in [(rng.normal(size=(5, 3)), None), (rng.normal(size=6), rng.uniform(size=6)),
                           (rng.normal(size=(4, 2)), rng.uniform(size=(4, 2))), (rng.normal(size=3), 2.0)]:
            t.update_state(values, sample_weight=sw)
            k.update_state(values.astype("float32"), sample_weight=sw)
        rep.check(label, t.result(), result_k(k))
    rep.run("Sum()", reducing_case, "Sum", "Sum() four batches, with and without weights")
    rep.run("Mean()", reducing_case, "Mean", "Mean() four batches, weights per sample, per entry, scalar")

    def configs():
        for t, k in [(TM.R2Score(class_aggregation=None, num_regressors=2),
                      KM.R2Score(class_aggregation=None, num_regressors=2)),
                     (TM.F1Score(average="macro", threshold=0.3), KM.F1Score(average="macro", threshold=0.3)),
                     (TM.FBetaScore(beta=2.0), KM.FBetaScore(beta=2.0)), (TM.LogCoshError(), KM.LogCoshError()),
                     (TM.KLDivergence(), KM.KLDivergence()), (TM.Poisson(), KM.Poisson()), (TM.Hinge(), KM.Hinge()),
                     (TM.SquaredHinge(), KM.SquaredHinge()), (TM.CategoricalHinge(), KM.CategoricalHinge()),
                     (TM.Sum(), KM.Sum()),  # Keras numbers unnamed IoUs (io_u_3): name them
                     (TM.IoU(3, [0, 2], ignore_class=1, name="iou"), KM.IoU(3, [0, 2], ignore_class=1, name="iou")),
                     (TM.MeanIoU(3, sparse_y_pred=False, name="miou"), KM.MeanIoU(3, sparse_y_pred=False,
                                                                                 name="miou"))]:
            kc = {key: v for key, v in k.get_config().items() if key != "dtype"}
            name = type(t).__name__
            rep.equal(f"{name} get_config() == Keras's (less dtype)", t.get_config(), kc)
            again = TM.get({"class_name": type(k).__name__, "config": k.get_config()})
            rep.equal(f"{name} from Keras's config (with its dtype)", again.get_config(), kc)
    rep.run("configs", configs)

    def names():
        for name in ("r2_score", "kl_divergence", "log_cosh_error", "poisson", "hinge", "squared_hinge",
                     "categorical_hinge", "sum", "mape", "msle", "f1_score", "f_beta_score", "R2Score",
                     "LogCoshError", "F1Score"):
            k = KM.get(name)
            try:
                t = TM.get(name)
            except Exception as exc:  # noqa: BLE001 - reported as a mismatch
                rep.equal(f"get({name!r}) class", f"error {exc}", type(k).__name__)
                continue
            rep.equal(f"get({name!r}) class", type(t).__name__, type(k).__name__)
    rep.run("names", names)


# ---------------------------------------------------------------------------------------- schedules
def section_schedules(rep, rng):
    import tuinet
    TS, KS = tuinet.schedules, keras.optimizers.schedules
    cases = [
        ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5)),
        ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5, staircase=True)),
        ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5)),
        ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5, staircase=True)),
        ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=10, end_learning_rate=0.01, power=2.0)),
        ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=4, end_learning_rate=0.01, power=1.0,
                                 cycle=True)),
        ("PiecewiseConstantDecay", dict(boundaries=[3, 7], values=[0.1, 0.05, 0.01])),
        ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=10, alpha=0.1)),
        ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=10, warmup_target=0.2, warmup_steps=4)),
        ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=4, t_mul=2.0, m_mul=0.5,
                                     alpha=0.05)),
    ]
    steps = list(range(0, 25))
    for cls, kw in cases:
        label = f"{cls}({', '.join(f'{k}={v}' for k, v in kw.items() if k != 'initial_learning_rate')})"

        def run(cls=cls, kw=kw, label=label):
            t, k = getattr(TS, cls)(**kw), getattr(KS, cls)(**kw)
            rep.check(f"{label} at steps 0..24", [t(s) for s in steps], [float(to_np(k(s))) for s in steps])
        rep.run(label, run)


# ---------------------------------------------------------------------------------------- optimizers
def section_optimizers(rep, rng):
    import tuinet
    TO, KO = tuinet.optimizers, keras.optimizers
    cases = [
        ("SGD", dict(learning_rate=0.1)),
        ("SGD", dict(learning_rate=0.1, momentum=0.9)),
        ("SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
        ("SGD", dict(learning_rate=0.1, momentum=0.5, weight_decay=0.01)),
        ("Adam", dict(learning_rate=0.05)),
        ("Adam", dict(learning_rate=0.05, amsgrad=True)),
        ("Adam", dict(learning_rate=0.05, beta_1=0.5, beta_2=0.9, epsilon=1e-3)),
        ("Adam", dict(learning_rate=0.05, clipnorm=0.5)),
        ("Adam", dict(learning_rate=0.05, clipvalue=0.3)),
        ("Adam", dict(learning_rate=0.05, global_clipnorm=1.0)),
        ("AdamW", dict(learning_rate=0.05)),
        ("AdamW", dict(learning_rate=0.05, weight_decay=0.1, amsgrad=True)),
        ("Adagrad", dict(learning_rate=0.1)),
        ("Adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.5, epsilon=1e-3)),
        ("Adadelta", dict(learning_rate=1.0)),
        ("Adadelta", dict(learning_rate=0.5, rho=0.8, epsilon=1e-4)),
        ("RMSprop", dict(learning_rate=0.01)),
        ("RMSprop", dict(learning_rate=0.01, centered=True)),
        ("RMSprop", dict(learning_rate=0.01, momentum=0.9)),
        ("RMSprop", dict(learning_rate=0.01, momentum=0.9, centered=True, rho=0.8)),
        ("Nadam", dict(learning_rate=0.05)),
        ("Nadam", dict(learning_rate=0.05, beta_1=0.8, weight_decay=0.05)),
        ("Adamax", dict(learning_rate=0.05)),
        ("Adamax", dict(learning_rate=0.05, beta_1=0.5, clipnorm=0.2)),
        ("SGD", dict(learning_rate="ExponentialDecay", momentum=0.9)),
        ("Adam", dict(learning_rate="CosineDecay")),
    ]
    shapes = {"kernel": (4, 3), "bias": (3,), "big": (6, 5)}
    steps = 6
    for cls, kw in cases:
        label = f"{cls}({', '.join(f'{k}={v}' for k, v in kw.items())})"

        def run(cls=cls, kw=kw, label=label):
            kw_t, kw_k = dict(kw), dict(kw)
            if kw.get("learning_rate") == "ExponentialDecay":
                kw_t["learning_rate"] = tuinet.schedules.ExponentialDecay(0.1, 2, 0.5)
                kw_k["learning_rate"] = KO.schedules.ExponentialDecay(0.1, 2, 0.5)
            elif kw.get("learning_rate") == "CosineDecay":
                kw_t["learning_rate"] = tuinet.schedules.CosineDecay(0.05, 5)
                kw_k["learning_rate"] = KO.schedules.CosineDecay(0.05, 5)
            opt_t, opt_k = getattr(TO, cls)(**kw_t), getattr(KO, cls)(**kw_k)
            p0 = {k: rng.normal(size=s).astype("float32") for k, s in shapes.items()}
            params_t = {k: v.copy() for k, v in p0.items()}
            vars_k = [keras.Variable(p0[k].copy(), name=k) for k in shapes]
            traj_t, traj_k = [], []
            for step in range(steps):
                g = {k: (rng.normal(size=s) * (3.0 if step % 2 else 0.2)).astype("float32") for k, s in shapes.items()}
                if step == 3:
                    g["bias"][:] = 0.0  # zero gradients (e.g. dead units) must not break anything
                opt_t.apply_gradients(params_t, {k: v.copy() for k, v in g.items()})
                opt_k.apply_gradients([(keras.ops.convert_to_tensor(g[k]), v) for k, v in zip(shapes, vars_k)])
                traj_t.append(np.concatenate([params_t[k].ravel() for k in shapes]))
                traj_k.append(np.concatenate([to_np(v.value).ravel() for v in vars_k]))
            rep.check(f"{label}  params after each of {steps} steps", np.stack(traj_t), np.stack(traj_k))
            rep.equal(f"{label}  iterations", opt_t.iterations, int(to_np(opt_k.iterations)))
        rep.run(label, run)


# ---------------------------------------------------------------------------------------- training
def section_training(rep, rng):
    """Keras fit (torch backend) against tuinet fit from the same weights, same batches."""
    if BACKEND not in ("torch", "jax", "tensorflow"):
        rep.skip("fit", f"the {BACKEND} backend cannot train")
        return
    import tuinet
    L = tuinet.layers
    cases = [
        ("mlp + sgd(momentum) + sparse_cce + accuracy", lambda: tuinet.Sequential([
            L.Dense(16, input_shape=(6,), activation="relu"), L.Dense(8, activation="tanh"),
            L.Dense(3, activation="softmax")], seed=1),
         lambda: tuinet.optimizers.SGD(0.05, momentum=0.9), lambda: keras.optimizers.SGD(0.05, momentum=0.9),
         "sparse_categorical_crossentropy", ["accuracy"], "sparse3"),
        ("mlp + adam + bce + accuracy/precision/recall", lambda: tuinet.Sequential([
            L.Dense(8, input_shape=(6,), activation="selu"), L.Dense(1, activation="sigmoid")], seed=2),
         lambda: tuinet.optimizers.Adam(0.01), lambda: keras.optimizers.Adam(0.01),
         "binary_crossentropy", ["accuracy", "precision", "recall"], "binary"),
        ("cnn + bn + rmsprop + cce", lambda: tuinet.Sequential([
            L.Input((8, 8, 2)), L.Conv2D(4, 3, padding="same", activation="relu"), L.BatchNormalization(),
            L.MaxPooling2D(2), L.Flatten(), L.Dense(3, activation="softmax")], seed=3),
         lambda: tuinet.optimizers.RMSprop(0.005), lambda: keras.optimizers.RMSprop(0.005),
         "categorical_crossentropy", ["accuracy"], "onehot3"),
        ("lstm + adamw + mse + rmse", lambda: tuinet.Sequential([
            L.Input((6, 3)), L.LSTM(5), L.Dense(2)], seed=4),
         lambda: tuinet.optimizers.AdamW(0.01), lambda: keras.optimizers.AdamW(0.01),
         "mse", ["mae", "root_mean_squared_error"], "regression2"),
        ("gru + nadam(clipnorm) + huber", lambda: tuinet.Sequential([
            L.Input((6, 3)), L.GRU(5, return_sequences=True), L.GlobalAveragePooling1D(), L.Dense(2)], seed=5),
         lambda: tuinet.optimizers.Nadam(0.01, clipnorm=0.5), lambda: keras.optimizers.Nadam(0.01, clipnorm=0.5),
         "huber", ["mae"], "regression2"),
        ("mlp + L1L2/L2 regularizers + adagrad + mse", lambda: tuinet.Sequential([
            L.Dense(8, input_shape=(6,), activation="softplus", kernel_regularizer=tuinet.regularizers.L1L2(0.01, 0.02),
                    bias_regularizer=tuinet.regularizers.L2(0.05)), L.Dense(2)], seed=6),
         lambda: tuinet.optimizers.Adagrad(0.05), lambda: keras.optimizers.Adagrad(0.05),
         "mse", ["mse"], "regression2"),
        ("seq: lstm(return_sequences) + Dense on 3-D + sparse_cce + accuracy", lambda: tuinet.Sequential([
            L.Input((6, 3)), L.LSTM(5, return_sequences=True), L.Dense(4, activation="softmax")], seed=7),
         lambda: tuinet.optimizers.Adam(0.01), lambda: keras.optimizers.Adam(0.01),
         "sparse_categorical_crossentropy", ["accuracy"], "seq_sparse4"),
        ("embedding + gap + sgd(nesterov) + binary accuracy on labels (n,)", lambda: tuinet.Sequential([
            L.Input((7,)), L.Embedding(20, 4), L.GlobalAveragePooling1D(), L.Dense(1, activation="sigmoid")],
            seed=8),
         lambda: tuinet.optimizers.SGD(0.5, momentum=0.5, nesterov=True),
         lambda: keras.optimizers.SGD(0.5, momentum=0.5, nesterov=True),
         "binary_crossentropy", ["accuracy"], "ids20"),
    ]
    for label, make, opt_t, opt_k, loss, metrics, kind in cases:
        def run(label=label, make=make, opt_t=opt_t, opt_k=opt_k, loss=loss, metrics=metrics, kind=kind):
            tm = make()
            randomize_weights(tm, rng)
            km = keras_twin(tm)
            n = 48
            x = rng.normal(size=(n, *tm.input_shape[1:])).astype("float32")
            if kind == "ids20":
                x = rng.integers(0, 20, size=(n, 7))
                y = (x[:, 0] > 9).astype("float32")
            elif kind == "sparse3":
                y = rng.integers(0, 3, size=n)
            elif kind == "binary":
                y = rng.integers(0, 2, size=(n, 1)).astype("float32")
            elif kind == "onehot3":
                y = _onehot(rng, n, 3)
            elif kind == "seq_sparse4":
                y = rng.integers(0, 4, size=(n, 6))
            else:
                y = rng.normal(size=(n, 2)).astype("float32")
            tm.compile(optimizer=opt_t(), loss=loss, metrics=list(metrics))
            km.compile(optimizer=opt_k(), loss=loss, metrics=list(metrics))
            # validation_split=0.25: 36 training samples in batches of 16, 16, 4; 12 for validation.
            ht = tm.fit(x, y, batch_size=16, epochs=3, shuffle=False, validation_split=0.25, verbose=0).history
            hk = km.fit(x, y, batch_size=16, epochs=3, shuffle=False, validation_split=0.25, verbose=0).history
            rep.check(f"{label}: weights after 3 epochs", np.concatenate([w.ravel() for w in tm.get_weights()]),
                      np.concatenate([w.ravel() for w in km.get_weights()]), rtol=1e-4)
            for key in hk:
                if key in ht:
                    rep.check(f"{label}: history[{key!r}]", ht[key], hk[key], rtol=1e-4)
                else:
                    rep.equal(f"{label}: history key {key!r}", sorted(ht), sorted(hk))
            ev_t = tm.evaluate(x, y, batch_size=10, verbose=0, return_dict=True)
            ev_k = km.evaluate(x, y, batch_size=10, verbose=0, return_dict=True)
            rep.equal(f"{label}: evaluate keys", sorted(ev_t), sorted(ev_k))
            common = sorted(set(ev_t) & set(ev_k))
            rep.check(f"{label}: evaluate(batch_size=10) {common}", [ev_t[k] for k in common],
                      [ev_k[k] for k in common], rtol=1e-4)
        rep.run(label, run)


def merge_case(rep, label, make_t, make_k, xs, *, rtol=RTOL):
    """`layer_case` for a merge layer: a list of inputs, one input gradient each (no weights).

    Also compares the output shape with Keras's `compute_output_shape` (batch axis unknown).
    """
    def run():
        t = make_t()
        t.build_for([x.shape[1:] for x in xs], np.random.default_rng(0))
        k = make_k()
        shape_k = k.compute_output_shape([(None, *x.shape[1:]) for x in xs])
        rep.equal(f"{label}  output shape", (None, *t.output_shape), tuple(shape_k))
        y_t = t.forward(xs)
        use_grad = BACKEND == "torch"
        xk = [torch.tensor(x, requires_grad=True) for x in xs] if use_grad else xs
        y_k = k(xk)
        rep.check(label, y_t, to_np(y_k), rtol=rtol)
        if use_grad:
            G = rng_g.normal(size=y_t.shape).astype("float32")
            dxs = t.backward(G)
            (y_k * torch.tensor(G)).sum().backward()
            for i, (dx, x) in enumerate(zip(dxs, xk)):
                rep.check(f"{label}  grad dx{i}", dx, to_np(x.grad), rtol=rtol * 2)
    rng_g = np.random.default_rng(len(label))
    rep.run(label, run)


def section_merge(rep, rng):
    import tuinet
    L, KL = tuinet.layers, keras.layers
    f32 = lambda *s: rng.normal(size=s).astype("float32")  # noqa: E731
    sets = {  # broadcasting as Keras allows: size-1 axes, and lower ranks (new axes after the batch)
        "(8, 5) x2": [f32(8, 5), f32(8, 5)],
        "(4, 3, 5) x3": [f32(4, 3, 5), f32(4, 3, 5), f32(4, 3, 5)],
        "(4, 3, 5)+(4, 1, 5)": [f32(4, 3, 5), f32(4, 1, 5)],
        "(4, 1, 5)+(4, 3, 1)": [f32(4, 1, 5), f32(4, 3, 1)],
        "(4, 5)+(4, 3, 5)": [f32(4, 5), f32(4, 3, 5)],
        "(4, 3, 5)+(4, 1)+(4, 5)": [f32(4, 3, 5), f32(4, 1), f32(4, 5)],
    }
    for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        for desc, xs in sets.items():
            if name == "Subtract" and len(xs) != 2:
                continue
            merge_case(rep, f"{name}() on {desc}", getattr(L, name), getattr(KL, name), xs)
    for axis, xs in ((-1, [f32(6, 3), f32(6, 4), f32(6, 1)]), (1, [f32(6, 3), f32(6, 2)]),
                     (-1, [f32(3, 4, 2), f32(3, 4, 5)]), (1, [f32(3, 2, 5), f32(3, 4, 5)]),
                     (-2, [f32(3, 2, 5), f32(3, 4, 5)]), (2, [f32(2, 3, 2, 4), f32(2, 3, 1, 4)])):
        shapes = " + ".join(str(x.shape) for x in xs)
        merge_case(rep, f"Concatenate(axis={axis}) on {shapes}", lambda a=axis: L.Concatenate(axis=a),
                   lambda a=axis: KL.Concatenate(axis=a), xs)
    dots = [(1, [f32(8, 5), f32(8, 5)]), (-1, [f32(8, 5), f32(8, 5)]), (-1, [f32(4, 3, 5), f32(4, 6, 5)]),
            ((1, 2), [f32(4, 3, 5), f32(4, 6, 3)]), ((2, 1), [f32(4, 3, 5), f32(4, 5, 6)]),
            ((-1, -2), [f32(4, 3, 5), f32(4, 5, 6)]), ((1, 1), [f32(4, 3), f32(4, 3, 6)]),
            ((2, 1), [f32(4, 6, 3), f32(4, 3)]), ((3, 1), [f32(2, 2, 3, 4), f32(2, 4, 5)]),
            ((1, 2), [f32(2, 4, 3), f32(2, 2, 4, 5)])]
    for axes, xs in dots:
        shapes = " . ".join(str(x.shape) for x in xs)
        for norm in (False, True):
            merge_case(rep, f"Dot(axes={axes}, normalize={norm}) on {shapes}",
                       lambda a=axes, n=norm: L.Dot(axes=a, normalize=n),
                       lambda a=axes, n=norm: KL.Dot(axes=a, normalize=n), xs)
    if importlib.util.find_spec("tuinet.nn.functional") is None:
        rep.skip("layers.add/subtract/.../concatenate/dot helpers", "Layer.__call__ needs tuinet.nn.functional")
        return
    for fn, kw in (("add", {}), ("subtract", {}), ("multiply", {}), ("average", {}), ("maximum", {}),
                   ("minimum", {}), ("concatenate", {"axis": 1}), ("dot", {"axes": 1, "normalize": True})):
        def helper(fn=fn, kw=kw):
            xs = [f32(5, 4), f32(5, 4)]
            rep.check(f"layers.{fn}([a, b]{''.join(f', {k}={v}' for k, v in kw.items())})",
                      getattr(L, fn)(xs, **kw), to_np(getattr(KL, fn)(xs, **kw)))
        rep.run(f"layers.{fn}", helper)


def section_initializers(rep, rng):
    rep.skip("initializers (glorot/he/lecun/orthogonal...)",
             "not comparable value for value: tuinet and Keras draw from different RNGs")
    rep.skip("Dropout / recurrent dropout in training", "random masks from different RNGs")
    rep.skip("recurrent stateful=True", "not supported by tuinet (raises ConfigError)")


# ---------------------------------------------------------------------------------------- keras files
def _keras_file_zoo():
    import tuinet
    L = tuinet.layers
    zoo = {key: make for key, (make, _) in model_zoo(None).items()}
    zoo.update({
        "wrappers": lambda: tuinet.Sequential([
            L.Input((6, 3)), L.TimeDistributed(L.Dense(4)), L.Bidirectional(L.LSTM(3, return_sequences=True)),
            L.Bidirectional(L.GRU(2), merge_mode="sum"), L.PReLU(), L.Dense(2)], name="wrappers", seed=6),
        "conv_extra": lambda: tuinet.Sequential([
            L.Input((8, 8, 2)), L.DepthwiseConv2D(3, padding="same"), L.SeparableConv2D(3, 3),
            L.Conv2DTranspose(2, 2, strides=2), L.GlobalAveragePooling2D(), L.Dense(1, kernel_regularizer="l2")],
            name="conv_extra", seed=7),
        "norm": lambda: tuinet.Sequential([
            L.Input((5,)), L.Normalization(mean=[0.5] * 5, variance=[2.0] * 5), L.Dense(4, activation="gelu"),
            L.BatchNormalization(center=False), L.Dense(2)], name="norm", seed=8),
    })
    return zoo


def section_keras_files(rep, rng):
    """tuinet writes .keras / .weights.h5 files that Keras opens, and reads those Keras writes:
    predictions, compile settings and one training step after the optimizer state crossed over."""
    import tempfile

    import tuinet
    tmp = tempfile.mkdtemp(prefix="tuinet-keras-files-")
    shapes = {"mlp": (6,), "cnn": (12, 10, 2), "cnn1d_gap": (20, 3), "lstm": (9, 4), "embed_rnn": (7,),
              "wrappers": (6, 3), "conv_extra": (8, 8, 2), "norm": (5,)}
    for key, make in _keras_file_zoo().items():
        def case(key=key, make=make):
            tm = make()
            randomize_weights(tm, rng)
            path = os.path.join(tmp, f"{key}.keras")
            tm.save(path)
            km = keras.models.load_model(path)
            x = (rng.integers(0, 30, size=(6, *shapes[key])) if key == "embed_rnn"
                 else rng.normal(size=(6, *shapes[key])).astype("float32"))
            rep.check(f"tuinet -> keras {key}.keras: predict", km.predict(x, verbose=0), tm.predict(x, verbose=0),
                      rtol=2e-5)
            wpath = os.path.join(tmp, f"{key}.weights.h5")
            km2 = keras.models.load_model(path)
            for w in km2.weights:
                w.assign(np.zeros(w.shape, dtype=w.dtype))
            tm.save_weights(wpath)
            km2.load_weights(wpath)
            rep.check(f"tuinet -> keras {key}.weights.h5: predict", km2.predict(x, verbose=0),
                      tm.predict(x, verbose=0), rtol=2e-5)
            kpath = os.path.join(tmp, f"{key}_k.keras")
            km.save(kpath)
            back = tuinet.load_model(kpath)
            rep.check(f"keras -> tuinet {key}.keras (re-saved by Keras): predict", back.predict(x, verbose=0),
                      km.predict(x, verbose=0), rtol=2e-5)
        rep.run(f"{key}.keras", case)

    def functional_case():
        from tuinet.nn.functional import Functional
        L = tuinet.layers
        inp = tuinet.Input((5,))
        a = L.Dense(4, activation="relu")(inp)
        b = L.Dense(4, activation="tanh")(inp)
        out = L.Dense(2)(L.BatchNormalization()(L.Add()([a, b]) if hasattr(L, "Add") else a))
        tm = Functional(inp, out)
        tm.compile(optimizer="adam", loss="mse")
        x = rng.normal(size=(8, 5)).astype("float32")
        tm.fit(x, rng.normal(size=(8, 2)), epochs=2, batch_size=4, verbose=0)
        path = os.path.join(tmp, "functional.keras")
        tm.save(path)
        km = keras.models.load_model(path)
        rep.check("tuinet -> keras functional.keras: predict", km.predict(x, verbose=0), tm.predict(x, verbose=0),
                  rtol=2e-5)
        kpath = os.path.join(tmp, "functional_k.keras")
        km.save(kpath)
        back = tuinet.load_model(kpath)
        rep.check("keras -> tuinet functional.keras (re-saved by Keras): predict", back.predict(x, verbose=0),
                  km.predict(x, verbose=0), rtol=2e-5)
        rep.equal("keras -> tuinet functional.keras: optimizer iterations", back.optimizer.iterations,
                  int(to_np(km.optimizer.iterations)))
    rep.run("functional.keras", functional_case)

    def attention_graph(lib, Inp, Model):
        """Cross-attention with a key (causal, gated), self-attention with an output shape, and
        Attention (concat, scaled, causal): the same graph in tuinet and in Keras."""
        L = lib.layers
        q, v, k = Inp((5, 4), name="q"), Inp((6, 3), name="v"), Inp((6, 2), name="k")
        a = L.MultiHeadAttention(2, 3, use_gate=True, name="cross")(q, v, key=k, use_causal_mask=True)
        b = L.MultiHeadAttention(2, 2, value_dim=3, output_shape=6, use_bias=False, name="self_mha")(q, q)
        c = L.Attention(use_scale=True, score_mode="concat", name="att")([q, v, L.Dense(4, name="kp")(v)],
                                                                         use_causal_mask=True)
        return Model([q, v, k], L.Dense(2, name="out")(L.Concatenate(name="cat")([a, b, c])))

    def encoder_decoder(lib, Inp, Model, cell):
        L = lib.layers
        enc, dec = Inp((None, 3), name="enc"), Inp((None, 2), name="dec")
        _, *states = getattr(L, cell)(4, return_state=True, name="encoder")(enc)
        seq = getattr(L, cell)(4, return_sequences=True, name="decoder")(dec, initial_state=states)
        return Model([enc, dec], L.Dense(3, name="head")(seq))

    graphs = {"mha": (attention_graph, lambda: [rng.normal(size=(6, 5, 4)), rng.normal(size=(6, 6, 3)),
                                                rng.normal(size=(6, 6, 2))])}
    for cell in ("LSTM", "GRU", "SimpleRNN"):
        graphs[f"seq2seq_{cell.lower()}"] = (
            lambda lib, Inp, Model, cell=cell: encoder_decoder(lib, Inp, Model, cell),
            lambda: [rng.normal(size=(6, 7, 3)), rng.normal(size=(6, 4, 2))])
    for key, (graph, inputs) in graphs.items():
        def graph_round_trip(src, dst, key=key, graph=graph, inputs=inputs):
            """A graph model built in `src` ("tuinet" or "keras"), saved as .keras and .weights.h5,
            opened by `dst`: the same predictions."""
            build = {"tuinet": lambda: graph(tuinet, tuinet.Input, tuinet.Model),
                     "keras": lambda: graph(keras, keras.Input, keras.Model)}
            load = {"tuinet": tuinet.load_model, "keras": keras.models.load_model}
            sm = build[src]()
            if src == "tuinet":
                randomize_weights(sm, rng)
            else:
                sm.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in sm.get_weights()])
            xs = [x.astype("float32") for x in inputs()]
            prefix = "" if src == "tuinet" else "k_"
            path = os.path.join(tmp, f"{prefix}{key}.keras")
            sm.save(path)
            rep.check(f"{src} -> {dst} {key}.keras: predict", load[dst](path).predict(xs, verbose=0),
                      sm.predict(xs, verbose=0), rtol=2e-5)
            wpath = os.path.join(tmp, f"{prefix}{key}.weights.h5")
            sm.save_weights(wpath)
            dm = build[dst]()
            dm.load_weights(wpath)
            rep.check(f"{src} -> {dst} {key}.weights.h5: predict", dm.predict(xs, verbose=0),
                      sm.predict(xs, verbose=0), rtol=2e-5)
        rep.run(f"tuinet -> keras {key}.keras", graph_round_trip, "tuinet", "keras")
        rep.run(f"keras -> tuinet {key}.keras", graph_round_trip, "keras", "tuinet")

    optimizers = {
        "sgd_momentum": lambda m: m.SGD(0.05, momentum=0.9, nesterov=True),
        "adam": lambda m: m.Adam(0.01),
        "adam_amsgrad": lambda m: m.Adam(0.01, amsgrad=True),
        "adamw": lambda m: m.AdamW(0.01, weight_decay=0.01),
        "rmsprop_centered": lambda m: m.RMSprop(0.01, momentum=0.5, centered=True),
        "adagrad": lambda m: m.Adagrad(0.1),
        "adadelta": lambda m: m.Adadelta(1.0),
        "adamax": lambda m: m.Adamax(0.01),
        "nadam": lambda m: m.Nadam(0.01),
    }
    x = rng.normal(size=(16, 4)).astype("float32")
    y = rng.normal(size=(16, 2)).astype("float32")

    def weights_after_step(model):
        model.train_on_batch(x, y)
        return [np.asarray(to_np(w)) for w in model.get_weights()]

    for key, make_opt in optimizers.items():
        def t_to_k(key=key, make_opt=make_opt):
            L = tuinet.layers
            tm = tuinet.Sequential([L.Input((4,)), L.Dense(5, activation="tanh"), L.BatchNormalization(),
                                    L.Dense(2)], seed=3)
            tm.compile(optimizer=make_opt(tuinet.optimizers), loss="mse", metrics=["mae"])
            tm.fit(x, y, batch_size=4, epochs=2, verbose=0)
            path = os.path.join(tmp, f"opt_{key}.keras")
            tm.save(path)
            km = keras.models.load_model(path)
            rep.equal(f"tuinet -> keras {key}: optimizer class", type(km.optimizer).__name__.lower().replace(
                "torch", ""), type(tm.optimizer).__name__.lower())
            rep.equal(f"tuinet -> keras {key}: iterations", int(to_np(km.optimizer.iterations)),
                      tm.optimizer.iterations)
            rep.check(f"tuinet -> keras {key}: weights after one more step", np.concatenate(
                [w.ravel() for w in weights_after_step(km)]), np.concatenate(
                [w.ravel() for w in weights_after_step(tm)]), rtol=2e-5)

        def k_to_t(key=key, make_opt=make_opt):
            kl = keras.layers
            km = keras.Sequential([keras.Input((4,)), kl.Dense(5, activation="tanh"), kl.BatchNormalization(),
                                   kl.Dense(2)])
            km.compile(optimizer=make_opt(keras.optimizers), loss="mse", metrics=["mae"])
            km.fit(x, y, batch_size=4, epochs=2, verbose=0)
            path = os.path.join(tmp, f"kopt_{key}.keras")
            km.save(path)
            tm = tuinet.load_model(path)
            rep.equal(f"keras -> tuinet {key}: iterations", tm.optimizer.iterations,
                      int(to_np(km.optimizer.iterations)))
            rep.check(f"keras -> tuinet {key}: weights after one more step", np.concatenate(
                [w.ravel() for w in weights_after_step(tm)]), np.concatenate(
                [w.ravel() for w in weights_after_step(km)]), rtol=2e-5)
        rep.run(f"tuinet -> keras {key}", t_to_k)
        rep.run(f"keras -> tuinet {key}", k_to_t)


def section_functional(rep, rng):
    """Functional models (several inputs and outputs, shared layers, merges, nested and frozen
    models) trained with the same weights and batches in Keras and tuinet: layer order, summary
    connections, per-epoch logs, evaluate's list and the final weights."""
    if BACKEND not in ("torch", "jax", "tensorflow"):
        rep.skip("functional", f"the {BACKEND} backend cannot train")
        return
    import tuinet

    def two_heads(L, Inp, Model):
        a = Inp((4,), name="a")
        b = Inp((3,), name="b")
        shared = L.Dense(5, activation="tanh", name="shared")
        x = shared(a)
        y = L.Dense(4, name="pb")(b)
        y2 = shared(L.Dense(4, name="pad")(L.Concatenate(name="cat0")([y, b])))
        m = L.Add(name="add")([x, y2])
        c = L.Concatenate(name="cat")([L.Multiply(name="mul")([m, x]), b])
        return Model([a, b], [L.Dense(1, name="reg")(c), L.Dense(3, activation="softmax", name="cls")(c)])

    def dict_io(L, Inp, Model):
        t = Inp((None,), name="title", dtype="int32")
        g = Inp((5,), name="tags")
        e = L.GlobalAveragePooling1D(name="gap")(L.Embedding(30, 6, name="emb")(t))
        h = L.concatenate([e, g], name="joined")
        h = L.Dense(8, activation="relu", name="hidden")(h)
        return Model({"title": t, "tags": g}, {"priority": L.Dense(1, name="priority")(h),
                                               "department": L.Dense(4, name="department")(h)})

    def frozen_base(L, Inp, Model, Seq):
        base = Seq([Inp((6,)), L.Dense(8, activation="relu", name="b1"), L.BatchNormalization(name="bn"),
                    L.Dense(5, activation="relu", name="b2")], name="base")
        base.trainable = False
        inp = Inp((6,), name="inp")
        h = base(inp, training=False)
        h = L.Dropout(0.0, name="drop")(h)
        return Model(inp, L.Dense(3, activation="softmax", name="head")(h))

    def residual(L, Inp, Model):
        inp = Inp((6, 6, 2), name="img")
        x = L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp)
        y = L.Conv2D(4, 3, padding="same", name="c2")(x)
        z = L.add([x, y], name="res")
        z = L.GlobalAveragePooling2D(name="gap")(z)
        v = L.Dot(axes=1, normalize=True, name="cos")([z, L.Dense(4, name="proj")(z)])
        return Model(inp, L.Dense(2, activation="softmax", name="out")(L.Concatenate(name="cat")([z, v])))

    n = 40
    cases = [
        ("two inputs, two outputs, shared Dense, Add/Multiply/Concatenate, loss_weights", two_heads,
         dict(loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.5], metrics=[["mae"], ["accuracy"]]),
         lambda: [rng.normal(size=(n, 4)).astype("float32"), rng.normal(size=(n, 3)).astype("float32")],
         lambda: [rng.normal(size=(n, 1)).astype("float32"), rng.integers(0, 3, n)]),
        ("dict inputs/outputs, int ids, Embedding, from_logits losses by output name", dict_io,
         dict(loss={"priority": "binary_crossentropy_logits", "department": "categorical_crossentropy_logits"},
              loss_weights={"priority": 1.0, "department": 0.2}),
         lambda: {"title": rng.integers(0, 30, (n, 7)), "tags": rng.integers(0, 2, (n, 5)).astype("float32")},
         lambda: {"priority": rng.random((n, 1)).astype("float32"),
                  "department": np.eye(4, dtype="float32")[rng.integers(0, 4, n)]}),
        ("frozen Sequential base (BatchNormalization) called with training=False", frozen_base,
         dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
         lambda: rng.normal(size=(n, 6)).astype("float32"), lambda: rng.integers(0, 3, n)),
        ("residual Conv2D + add + Dot(normalize=True)", residual,
         dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
         lambda: rng.normal(size=(n, 6, 6, 2)).astype("float32"), lambda: rng.integers(0, 2, n)),
    ]

    def losses_for(spec, mod):
        def one(name):
            if name == "binary_crossentropy_logits":
                return mod.losses.BinaryCrossentropy(from_logits=True)
            if name == "categorical_crossentropy_logits":
                return mod.losses.CategoricalCrossentropy(from_logits=True)
            return name
        if isinstance(spec, dict):
            return {k: one(v) for k, v in spec.items()}
        if isinstance(spec, list):
            return [one(v) for v in spec]
        return one(spec)

    for label, make, compile_args, make_x, make_y in cases:
        def run(label=label, make=make, compile_args=compile_args, make_x=make_x, make_y=make_y):
            if make is frozen_base:
                km = make(keras.layers, keras.Input, keras.Model, keras.Sequential)
                tm = make(tuinet.layers, tuinet.Input, tuinet.Model, tuinet.Sequential)
            else:
                km = make(keras.layers, keras.Input, keras.Model)
                tm = make(tuinet.layers, tuinet.Input, tuinet.Model)
            rep.equal(f"{label}: model.layers order", [lay.name for lay in tm.layers], [lay.name for lay in km.layers])
            weights = [rng.normal(0, 0.4, v.shape).astype("float32") for v in km.weights]
            weights = [np.abs(w) + 0.5 if "variance" in v.path else w for w, v in zip(weights, km.weights)]
            km.set_weights(weights)
            tm.set_weights(weights)
            args = dict(compile_args)
            km.compile(keras.optimizers.SGD(0.05, momentum=0.5), **{**args, "loss": losses_for(args["loss"], keras)})
            tm.compile(tuinet.optimizers.SGD(0.05, momentum=0.5), **{**args, "loss": losses_for(args["loss"], tuinet)})
            x, y = make_x(), make_y()
            hk = km.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
            ht = tm.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
            rep.equal(f"{label}: history keys", sorted(ht), sorted(hk))
            for key in sorted(set(hk) & set(ht)):
                rep.check(f"{label}: fit {key}", ht[key], hk[key], rtol=1e-4)
            for i, (wt, wk) in enumerate(zip(tm.get_weights(), km.get_weights())):
                rep.check(f"{label}: weight {i} after fit", wt, wk, rtol=1e-4)
            ek = km.evaluate(x, y, verbose=0, batch_size=16)
            et = tm.evaluate(x, y, verbose=0, batch_size=16)
            rep.check(f"{label}: evaluate list", et, ek, rtol=1e-4)
            pk, pt = km.predict(x, verbose=0), tm.predict(x, verbose=0)
            if isinstance(pk, dict):
                for key in pk:
                    rep.check(f"{label}: predict[{key}]", pt[key], pk[key], rtol=1e-4)
            elif isinstance(pk, list):
                for i, (a, b) in enumerate(zip(pt, pk)):
                    rep.check(f"{label}: predict[{i}]", a, b, rtol=1e-4)
            else:
                rep.check(f"{label}: predict", pt, pk, rtol=1e-4)
        rep.run(label, run)


def section_small_layers(rep, rng):
    """Identity, Masking (and its mask through an LSTM, in predict and in fit), UnitNormalization,
    ActivityRegularization (its penalty in the loss of a short fit) and AlphaDropout at inference."""
    import tuinet
    L, KL = tuinet.layers, keras.layers
    f32 = lambda *s: rng.normal(size=s).astype("float32")  # noqa: E731

    def padded(lengths, steps=6, features=3, value=0.0):
        x = f32(len(lengths), steps, features)
        for i, n in enumerate(lengths):
            x[i, n:] = value
        return x

    layer_case(rep, "Identity() on (4, 3, 5)", lambda: L.Identity(), lambda: KL.Identity(), f32(4, 3, 5), rng=rng)
    layer_case(rep, "Masking() on (3, 6, 3) padded after 6, 2, 4 steps", lambda: L.Masking(),
               lambda: KL.Masking(), padded([6, 2, 4]), rng=rng)
    layer_case(rep, "Masking(mask_value=0.5) on (3, 6, 3)", lambda: L.Masking(mask_value=0.5),
               lambda: KL.Masking(mask_value=0.5), padded([3, 6, 1], value=0.5), rng=rng)

    def mask_through_lstm(return_sequences):
        x = padded([6, 2, 4, 1])
        tm = tuinet.Sequential([L.Input((6, 3)), L.Masking(), L.LSTM(5, return_sequences=return_sequences)], seed=1)
        randomize_weights(tm, rng)
        km = keras.Sequential([keras.Input((6, 3)), KL.Masking(), KL.LSTM(5, return_sequences=return_sequences)])
        km.set_weights(tm.get_weights())
        rep.check(f"Masking -> LSTM(5, return_sequences={return_sequences}) predict", tm.predict(x, verbose=0),
                  to_np(km.predict(x, verbose=0)))
    for seq in (False, True):
        rep.run(f"Masking -> LSTM seq={seq}", mask_through_lstm, seq)

    def masked_fit():
        n = 48
        x = padded(list(rng.integers(1, 7, size=n)))
        y = f32(n, 6, 2)
        tm = tuinet.Sequential([L.Input((6, 3)), L.Masking(), L.LSTM(4, return_sequences=True), L.Dense(2)], seed=2)
        randomize_weights(tm, rng)
        km = keras.Sequential([keras.Input((6, 3)), KL.Masking(), KL.LSTM(4, return_sequences=True), KL.Dense(2)])
        km.set_weights(tm.get_weights())
        tm.compile(optimizer=tuinet.optimizers.SGD(0.1), loss="mse")
        km.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        ht = tm.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
        hk = km.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
        label = "Masking -> LSTM(seq) -> Dense, mse, 3 epochs (masked steps out of the loss)"
        rep.check(f"{label}: history['loss']", ht["loss"], hk["loss"], rtol=1e-4)
        rep.check(f"{label}: weights", np.concatenate([w.ravel() for w in tm.get_weights()]),
                  np.concatenate([w.ravel() for w in km.get_weights()]), rtol=1e-4)
    if BACKEND in ("torch", "jax", "tensorflow"):
        rep.run("Masking fit", masked_fit)

    layer_case(rep, "UnitNormalization() on (4, 6)", lambda: L.UnitNormalization(), lambda: KL.UnitNormalization(),
               f32(4, 6), rng=rng)
    layer_case(rep, "UnitNormalization(axis=[1, 2]) on (3, 4, 5)", lambda: L.UnitNormalization(axis=[1, 2]),
               lambda: KL.UnitNormalization(axis=[1, 2]), f32(3, 4, 5), rng=rng)
    layer_case(rep, "UnitNormalization(axis=1) on (3, 4, 5)", lambda: L.UnitNormalization(axis=1),
               lambda: KL.UnitNormalization(axis=1), f32(3, 4, 5), rng=rng)
    xz = f32(3, 4)
    xz[1] = 0.0
    layer_case(rep, "UnitNormalization() with an all-zero row (norm clipped at 1e-12)",
               lambda: L.UnitNormalization(), lambda: KL.UnitNormalization(), xz, rng=rng, grads=False)
    rep._add("UnitNormalization() all-zero row  grad dx", None, None, "NOTE",
             "Keras (torch) gives NaN there (rsqrt(0) = inf times 0); tuinet gives grad / 1e-12, the clipped branch")

    layer_case(rep, "ActivityRegularization(l1=0.01, l2=0.02) forward", lambda: L.ActivityRegularization(0.01, 0.02),
               lambda: KL.ActivityRegularization(0.01, 0.02), f32(4, 5), rng=rng, grads=False)

    def activity_fit(l1, l2, where):
        n = 48
        x, y = f32(n, 6), f32(n, 2)

        def stack(Lm, first):
            act = Lm.ActivityRegularization(l1=l1, l2=l2)
            body = [Lm.Dense(8, activation="tanh"), act, Lm.Dense(2)] if where == "middle" else \
                [act, Lm.Dense(8, activation="tanh"), Lm.Dense(2)]
            return [first, *body]
        tm = tuinet.Sequential(stack(L, L.Input((6,))), seed=3)
        randomize_weights(tm, rng)
        km = keras.Sequential(stack(KL, keras.Input((6,))))
        km.set_weights(tm.get_weights())
        tm.compile(optimizer=tuinet.optimizers.SGD(0.05), loss="mse")
        km.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        label = f"ActivityRegularization(l1={l1}, l2={l2}) {where}, mse + sgd, 3 epochs"
        ev_t = tm.evaluate(x, y, batch_size=10, verbose=0)
        ev_k = km.evaluate(x, y, batch_size=10, verbose=0)
        rep.check(f"{label}: evaluate before fit (penalty / batch size)", ev_t, ev_k, rtol=1e-5)
        ht = tm.fit(x, y, batch_size=16, epochs=3, shuffle=False, validation_split=0.25, verbose=0).history
        hk = km.fit(x, y, batch_size=16, epochs=3, shuffle=False, validation_split=0.25, verbose=0).history
        for key in ("loss", "val_loss"):
            rep.check(f"{label}: history[{key!r}]", ht[key], hk[key], rtol=1e-4)
        rep.check(f"{label}: weights", np.concatenate([w.ravel() for w in tm.get_weights()]),
                  np.concatenate([w.ravel() for w in km.get_weights()]), rtol=1e-4)
    if BACKEND in ("torch", "jax", "tensorflow"):
        for l1, l2, where in ((0.01, 0.02, "middle"), (0.0, 0.1, "middle"), (0.05, 0.0, "first")):
            rep.run(f"ActivityRegularization fit {l1} {l2} {where}", activity_fit, l1, l2, where)

    layer_case(rep, "AlphaDropout(0.3) at inference", lambda: L.AlphaDropout(0.3), lambda: KL.AlphaDropout(0.3),
               f32(4, 5), rng=rng)
    layer_case(rep, "AlphaDropout(0.5, noise_shape=(None, 1, 5)) at inference",
               lambda: L.AlphaDropout(0.5, noise_shape=(None, 1, 5)),
               lambda: KL.AlphaDropout(0.5, noise_shape=(None, 1, 5)), f32(4, 3, 5), rng=rng)

    def alpha_stats():
        x = rng.normal(size=(400, 500)).astype("float32")
        y_t = L.AlphaDropout(0.3, seed=1)(x, training=True)
        y_k = to_np(KL.AlphaDropout(0.3, seed=1)(x, training=True))
        rep.check("AlphaDropout(0.3) in training: mean, variance, dropped fraction",
                  [y_t.mean(), y_t.var(), np.mean(y_t == y_t.min())], [y_k.mean(), y_k.var(), np.mean(y_k == y_k.min())],
                  rtol=2e-2, note="statistics of 200k draws (different generators)")
    rep.run("AlphaDropout stats", alpha_stats)
    rep.skip("Lambda", "wraps a Python function: Keras runs backend ops, tuinet NumPy; nothing to compare")


def section_constraints(rep, rng):
    """Keras fit (torch backend) against tuinet fit with weight constraints (MaxNorm, MinMaxNorm,
    NonNeg, UnitNorm) on Dense, Conv2D, BatchNormalization and LSTM: same weights, same batches,
    plain SGD with a learning rate high enough that every constraint binds."""
    if BACKEND not in ("torch", "jax", "tensorflow"):
        rep.skip("constraints", f"the {BACKEND} backend cannot train")
        return
    import tuinet
    L, C = tuinet.layers, tuinet.constraints
    cases = [
        ("Dense(MaxNorm(1), NonNeg bias) -> Dense(UnitNorm) + sgd(0.5) + mse", lambda: tuinet.Sequential([
            L.Input((6,)), L.Dense(8, activation="tanh", kernel_constraint=C.MaxNorm(1.0), bias_constraint="non_neg"),
            L.Dense(2, kernel_constraint=C.UnitNorm())], seed=11), 0.5, (2,)),
        ("Conv2D(MaxNorm(0.5, [0,1,2]), NonNeg bias) -> BN(NonNeg gamma) -> Dense(MinMaxNorm(0.2, 0.8, 0.7)) + sgd(0.3)",
         lambda: tuinet.Sequential([
             L.Input((6, 6, 2)), L.Conv2D(3, 3, activation="relu", kernel_constraint=C.MaxNorm(0.5, axis=[0, 1, 2]),
                                         bias_constraint=C.NonNeg()),
             L.BatchNormalization(gamma_constraint="non_neg", beta_constraint=C.MaxNorm(0.1)), L.Flatten(),
             L.Dense(2, kernel_constraint=C.MinMaxNorm(0.2, 0.8, rate=0.7))], seed=12), 0.3, (2,)),
        ("LSTM(MaxNorm(1), UnitNorm recurrent, NonNeg bias) -> Dense(MaxNorm(0.5, axis=1)) + sgd(0.5)",
         lambda: tuinet.Sequential([
             L.Input((5, 3)), L.LSTM(4, kernel_constraint=C.MaxNorm(1.0), recurrent_constraint="unit_norm",
                                     bias_constraint="non_neg"),
             L.Dense(2, kernel_constraint=C.MaxNorm(0.5, axis=1))], seed=13), 0.5, (2,)),
    ]
    for label, make, lr, out in cases:
        def run(label=label, make=make, lr=lr, out=out):
            tm = make()
            randomize_weights(tm, rng)
            km = keras_twin(tm)
            n = 48
            x = rng.normal(size=(n, *tm.input_shape[1:])).astype("float32")
            y = (rng.normal(size=(n, *out)) * 3).astype("float32")
            tm.compile(optimizer=tuinet.optimizers.SGD(lr), loss="mse")
            km.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
            ht = tm.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
            hk = km.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
            rep.check(f"{label}: weights after 3 epochs", np.concatenate([w.ravel() for w in tm.get_weights()]),
                      np.concatenate([w.ravel() for w in km.get_weights()]), rtol=1e-4)
            rep.check(f"{label}: history['loss']", ht["loss"], hk["loss"], rtol=1e-4)
        rep.run(label, run)


def _read_event_dir(folder):
    """{tag: [(step, ndarray), ...]} of every event file in `folder`, through TensorBoard's own
    reader (`plugin_event_accumulator`, which turns `simple_value` scalars into tensors as the
    TensorBoard server does), and the file names."""
    from tensorboard.backend.event_processing import plugin_event_accumulator
    from tensorboard.util import tensor_util

    acc = plugin_event_accumulator.EventAccumulator(folder, size_guidance={"tensors": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["tensors"]:
        out[tag] = [(ev.step, tensor_util.make_ndarray(ev.tensor_proto)) for ev in acc.Tensors(tag)]
    return out, sorted(os.listdir(folder))


def section_tensorboard(rep, rng):
    """tuinet.callbacks.TensorBoard against keras.callbacks.TensorBoard for the same fit: the same
    folders, file names, tags, steps and values, read back with TensorBoard's event reader.

    Keras's callback writes through `tf.summary`, so this section needs TensorFlow and
    TensorBoard importable beside Keras (e.g. `pip install --target /tmp/tfpkgs --no-deps
    tensorflow-cpu ...` and `PYTHONPATH=/tmp/tfpkgs`); it is skipped otherwise."""
    if BACKEND not in ("torch", "jax", "tensorflow"):
        rep.skip("tensorboard", f"the {BACKEND} backend cannot train")
        return
    for mod in ("tensorboard", "tensorflow"):
        if importlib.util.find_spec(mod) is None:
            rep.skip("tensorboard", f"{mod} is not importable: Keras's TensorBoard callback needs tf.summary")
            return
    import shutil
    import tempfile

    import tuinet
    from tensorboard.backend.event_processing import event_accumulator

    L = tuinet.layers
    root = tempfile.mkdtemp(prefix="tb-check-")
    pattern = re.compile(r"^events\.out\.tfevents\.\d+\.[^/]+\.\d+\.\d+\.v2$")
    try:
        for update_freq in ("epoch", "batch", 2, 3):
            def run(update_freq=update_freq):
                label = f"update_freq={update_freq!r}"
                tm = tuinet.Sequential([L.Dense(8, input_shape=(5,), activation="tanh"),
                                        L.Dense(3, activation="softmax")], seed=21)
                randomize_weights(tm, rng)
                km = keras_twin(tm)
                x = rng.normal(size=(40, 5)).astype("float32")
                y = rng.integers(0, 3, size=40)
                tm.compile(optimizer=tuinet.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                           metrics=["accuracy"])
                km.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                           metrics=["accuracy"])
                dt, dk = os.path.join(root, f"t-{update_freq}"), os.path.join(root, f"k-{update_freq}")
                # 30 training samples in batches of 8, 8, 8, 6 (4 steps an epoch); 10 for validation.
                kw = dict(batch_size=8, epochs=3, shuffle=False, validation_split=0.25, verbose=0)
                ht = tm.fit(x, y, callbacks=[tuinet.callbacks.TensorBoard(dt, histogram_freq=1,
                                                                          update_freq=update_freq)], **kw).history
                km.fit(x, y, callbacks=[keras.callbacks.TensorBoard(dk, histogram_freq=1, update_freq=update_freq)],
                       **kw)
                rep.equal(f"{label}: folders", sorted(os.listdir(dt)), sorted(os.listdir(dk)))
                for sub in sorted(os.listdir(dk)):
                    got, files_t = _read_event_dir(os.path.join(dt, sub))
                    ref, files_k = _read_event_dir(os.path.join(dk, sub))
                    rep.equal(f"{label}: {sub}/ one file named events.out.tfevents.<time>.<host>.<pid>.<n>.v2",
                              [bool(pattern.match(f)) for f in files_t], [bool(pattern.match(f)) for f in files_k])
                    tags = sorted(ref)
                    # With 4 steps an epoch, update_freq=3 ends no epoch on a recorded batch: Keras 3 then
                    # drops the epoch summaries (tf.summary.record_if); update_freq=2 keeps them all.
                    if update_freq == 3:
                        rep.skip(f"{label}: {sub}/ epoch, evaluation and histogram tags",
                                 "Keras 3 writes them only when an epoch's last batch number is a multiple of "
                                 "update_freq; tuinet always writes them")
                        tags = [t for t in tags if t.startswith("batch_") or t == "keras"]
                        rep.equal(f"{label}: {sub}/ tuinet has Keras's tags", sorted(set(tags) - set(got)), [])
                    else:
                        rep.equal(f"{label}: {sub}/ tags", sorted(got), tags)
                    for tag in tags:
                        if tag not in got:
                            continue
                        steps_t, steps_k = [s for s, _ in got[tag]], [s for s, _ in ref[tag]]
                        rep.equal(f"{label}: {sub}/{tag} steps", steps_t, steps_k)
                        if tag == "keras" or steps_t != steps_k:
                            continue  # the model JSON: tuinet's config, not Keras's
                        if tag.endswith("/histogram"):
                            a = np.stack([v for _, v in got[tag]])
                            b = np.stack([v for _, v in ref[tag]])
                            rep.check(f"{label}: {sub}/{tag} bucket edges", a[..., :2], b[..., :2])
                            rep.check(f"{label}: {sub}/{tag} bucket counts", a[..., 2], b[..., 2], rtol=0)
                        else:
                            rep.check(f"{label}: {sub}/{tag} values", [float(v) for _, v in got[tag]],
                                      [float(v) for _, v in ref[tag]])
                # tuinet's own files against its history, through the classic reader (simple_value scalars).
                acc = event_accumulator.EventAccumulator(os.path.join(dt, "train"))
                acc.Reload()
                for key in ("loss", "accuracy"):
                    rep.check(f"{label}: train/epoch_{key} (Scalars) == history[{key!r}]",
                              [e.value for e in acc.Scalars(f"epoch_{key}")], np.float32(ht[key]), rtol=0)
            rep.run(f"update_freq={update_freq!r}", run)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def attention_case(rep, label, make_t, make_k, xs, *, t_kw=None, k_kw=None, listed=False, scores=False,
                   rtol=RTOL):
    """MultiHeadAttention / Attention in tuinet and Keras with the same weights: the weight paths
    and shapes, the output (and with `scores` the attention scores), and on torch the gradient of
    every input and every weight. `t_kw` goes to tuinet's `forward`, `k_kw` to Keras's call;
    `listed` calls Keras with a list (`Attention`), else as `mha(query, value, key=...)`."""
    t_kw, k_kw = t_kw or {}, k_kw or {}

    def k_call(k, inputs, **extra):
        if listed:
            return k(list(inputs), **k_kw, **extra)
        return k(inputs[0], inputs[1], key=inputs[2] if len(inputs) == 3 else None, **k_kw, **extra)

    def run():
        t = make_t()
        t.build_for([x.shape[1:] for x in xs], np.random.default_rng(0))
        randomize_weights(t, rng_w, t.weight_names)
        k = make_k()
        k_call(k, xs)  # builds it
        paths = [w.path.split("/", 1)[1] for w in k.weights]
        rep.equal(f"{label}  weight names", t.weight_names, paths)
        rep.equal(f"{label}  weight shapes", [tuple(w.shape) for w in t.get_weights()],
                  [tuple(w.shape) for w in k.get_weights()])
        k.set_weights(t.get_weights())
        y_t = t.forward(xs, **t_kw)
        rep.equal(f"{label}  output shape", (None, *t.output_shape), (None, *y_t.shape[1:]))
        use_grad = BACKEND == "torch"
        xk = [torch.tensor(x, requires_grad=True) for x in xs] if use_grad else xs
        if scores:
            y_k, s_k = k_call(k, xk, return_attention_scores=True)
            s_t = t._probs if hasattr(t, "_probs") else t._attn
            rep.check(f"{label}  attention scores", s_t, to_np(s_k), rtol=rtol)
        else:
            y_k = k_call(k, xk)
        rep.check(label, y_t, to_np(y_k), rtol=rtol)
        if use_grad:
            G = rng_g.normal(size=y_t.shape).astype("float32")
            dxs = t.backward(G)
            (y_k * torch.tensor(G)).sum().backward()
            for i, (dx, x) in enumerate(zip(dxs, xk)):
                rep.check(f"{label}  grad d{('query', 'value', 'key')[i]}", dx, to_np(x.grad), rtol=rtol * 2)
            for n, v in zip(t.weight_names, k.weights):
                rep.check(f"{label}  grad {n}", t.grads[n], grad_of(v), rtol=rtol * 2)
    rng_w = np.random.default_rng(len(label) + 1)
    rng_g = np.random.default_rng(len(label))
    rep.run(label, run)


def section_attention(rep, rng):
    """MultiHeadAttention (self- and cross-attention, a key, causal and explicit masks, no bias, the
    gate, a sliding window, output_shape, dropout at inference) and Attention (dot/concat, with and
    without scale, a key, causal, [query_mask, value_mask]) against Keras with the same weights."""
    import tuinet
    L, KL = tuinet.layers, keras.layers
    f32 = lambda *s: rng.normal(size=s).astype("float32")  # noqa: E731
    x = f32(4, 5, 8)
    mha = [
        ("self-attention (4, 5, 8) x2", dict(num_heads=2, key_dim=3), [x, x.copy()], {}, False),
        ("cross (3, 4, 6) <- (3, 7, 5), value_dim=4", dict(num_heads=3, key_dim=2, value_dim=4),
         [f32(3, 4, 6), f32(3, 7, 5)], {}, False),
        ("cross, output_shape=(2, 3)", dict(num_heads=2, key_dim=3, output_shape=(2, 3)),
         [f32(3, 4, 6), f32(3, 7, 5)], {}, False),
        ("key given (3, 4, 6), (3, 7, 5), (3, 7, 9)", dict(num_heads=2, key_dim=4),
         [f32(3, 4, 6), f32(3, 7, 5), f32(3, 7, 9)], {}, False),
        ("use_bias=False", dict(num_heads=2, key_dim=3, use_bias=False), [f32(3, 4, 6), f32(3, 5, 6)], {}, False),
        ("self, use_causal_mask", dict(num_heads=2, key_dim=3), [x, x.copy()], {"use_causal_mask": True}, False),
        ("cross T_q=5 > T_v=3, use_causal_mask", dict(num_heads=2, key_dim=3), [f32(3, 5, 4), f32(3, 3, 4)],
         {"use_causal_mask": True}, False),
        ("scores returned", dict(num_heads=2, key_dim=3), [f32(3, 4, 6), f32(3, 6, 5)], {}, True),
        ("dropout=0.3 at inference", dict(num_heads=2, key_dim=3, dropout=0.3, seed=1),
         [f32(3, 4, 6), f32(3, 6, 5)], {}, False),
        ("use_gate=True", dict(num_heads=2, key_dim=3, use_gate=True), [f32(3, 4, 6), f32(3, 6, 5)], {}, False),
        ("sliding_window=2, causal", dict(num_heads=2, key_dim=3, sliding_window=2), [x, x.copy()],
         {"use_causal_mask": True}, False),
    ]
    mask = rng.random((3, 4, 6)) > 0.4
    mask[:, :, 0] = True  # every query row keeps a key (Keras's fused path averages fully masked rows)
    mha.append(("attention_mask (3, 4, 6)", dict(num_heads=2, key_dim=3), [f32(3, 4, 5), f32(3, 6, 5)],
                {"attention_mask": mask}, False))
    mha.append(("attention_mask and use_causal_mask", dict(num_heads=2, key_dim=3), [f32(3, 4, 5), f32(3, 6, 5)],
                {"attention_mask": mask, "use_causal_mask": True}, False))
    full = mask.copy()
    full[1, 2] = False
    mha.append(("attention_mask with a fully masked row, scores", dict(num_heads=2, key_dim=3),
                [f32(3, 4, 5), f32(3, 6, 5)], {"attention_mask": full}, True))
    for label, kw, xs, call, scores in mha:
        attention_case(rep, f"MHA {label}", lambda kw=kw: L.MultiHeadAttention(**kw),
                       lambda kw=kw: KL.MultiHeadAttention(**kw), xs, t_kw=call, k_kw=call, scores=scores)
    q, v, k = f32(3, 4, 6), f32(3, 5, 6), f32(3, 5, 6)
    q_mask = np.array([[1, 1, 0, 1], [1, 1, 1, 1], [0, 1, 1, 1]], bool)
    v_mask = np.array([[1, 0, 1, 1, 1], [1, 1, 1, 1, 0], [1, 1, 0, 0, 1]], bool)
    for mode in ("dot", "concat"):
        for use_scale in (False, True):
            kw = dict(score_mode=mode, use_scale=use_scale)
            name = f"Attention({mode}, use_scale={use_scale})"
            for desc, xs, call, scores in (("[q, v]", [q, v.copy()], {}, True), ("[q, v, k]", [q, v, k], {}, False),
                                           ("causal", [q, v], {"use_causal_mask": True}, False),
                                           ("mask=[q_mask, v_mask]", [q, v], {"mask": [q_mask, v_mask]}, False)):
                attention_case(rep, f"{name} {desc}", lambda kw=kw: L.Attention(**kw), lambda kw=kw: KL.Attention(**kw),
                               xs, t_kw=call, k_kw=call, listed=True, scores=scores)


def section_masking(rep, rng):
    """Masks from Embedding(mask_zero=True) through recurrent layers (and Bidirectional), trained
    with the same weights and batches in Keras and tuinet; return_state's states."""
    if BACKEND not in ("torch", "jax", "tensorflow"):
        rep.skip("masking", f"the {BACKEND} backend cannot train")
        return
    import tuinet

    def models(L, Inp, Seq, rnn):
        return Seq([Inp((9,), dtype="int32"), L.Embedding(30, 5, mask_zero=True), rnn(L), L.Dense(2, activation="softmax")])

    cases = [("LSTM", lambda L: L.LSTM(4)), ("GRU", lambda L: L.GRU(4)), ("SimpleRNN seq + GAP", None),
             ("Bidirectional(LSTM)", lambda L: L.Bidirectional(L.LSTM(3))), ("LSTM seq output", "seq")]
    ids = rng.integers(1, 30, (24, 9))
    for row, cut in enumerate(rng.integers(0, 8, 24)):
        ids[row, :cut] = 0  # leading padding, as pad_sequences makes
    y = rng.integers(0, 2, 24)
    for label, rnn in cases:
        def run(label=label, rnn=rnn):
            if rnn == "seq":  # a masked sequence output: the loss and the metrics count the kept steps
                def build(L, Inp, Seq):
                    return Seq([Inp((9,), dtype="int32"), L.Embedding(30, 5, mask_zero=True),
                                L.LSTM(4, return_sequences=True), L.Dense(2, activation="softmax")])
                km, tm = build(keras.layers, keras.Input, keras.Sequential), build(tuinet.layers, tuinet.Input,
                                                                                   tuinet.Sequential)
            elif rnn is None:
                def build(L, Inp, Seq):
                    return Seq([Inp((9,), dtype="int32"), L.Embedding(30, 5, mask_zero=True),
                                L.SimpleRNN(4, return_sequences=True), L.GlobalAveragePooling1D(),
                                L.Dense(2, activation="softmax")])
                km, tm = build(keras.layers, keras.Input, keras.Sequential), build(tuinet.layers, tuinet.Input,
                                                                                   tuinet.Sequential)
            else:
                km = models(keras.layers, keras.Input, keras.Sequential, rnn)
                tm = models(tuinet.layers, tuinet.Input, tuinet.Sequential, rnn)
            weights = [rng.normal(0, 0.4, w.shape).astype("float32") for w in km.get_weights()]
            km.set_weights(weights)
            tm.set_weights(weights)
            rep.check(f"masked {label}: predict", tm.predict(ids, verbose=0), km.predict(ids, verbose=0), rtol=1e-5)
            km.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
            tm.compile(tuinet.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
            targets = np.repeat(y[:, None], 9, axis=1) if rnn == "seq" else y
            hk = km.fit(ids, targets, epochs=2, batch_size=8, shuffle=False, verbose=0).history
            ht = tm.fit(ids, targets, epochs=2, batch_size=8, shuffle=False, verbose=0).history
            for key in ("loss", "accuracy"):
                rep.check(f"masked {label}: fit {key}", ht[key], hk[key], rtol=1e-4)
            for i, (wt, wk) in enumerate(zip(tm.get_weights(), km.get_weights())):
                rep.check(f"masked {label}: weight {i} after fit", wt, wk, rtol=1e-4)
        rep.run(label, run)

    def states():
        x = rng.normal(size=(4, 6, 3)).astype("float32")
        for name in ("LSTM", "GRU", "SimpleRNN"):
            kl = getattr(keras.layers, name)(5, return_state=True, return_sequences=True)
            tl = getattr(tuinet.layers, name)(5, return_state=True, return_sequences=True)
            kout = kl(x)
            tl.build((None, 6, 3))
            tl.set_weights([np.asarray(w) for w in kl.get_weights()])
            tout = tl(x)
            for i, (a, b) in enumerate(zip(tout, kout)):
                rep.check(f"{name} return_state output {i}", a, to_np(b), rtol=1e-5)
    rep.run("return_state", states)


def section_seq2seq(rep, rng):
    """Keras's encoder-decoder recipe: an encoder's return_state states start a decoder through
    initial_state; fit with the same weights and batches in Keras and tuinet."""
    if BACKEND not in ("torch", "jax", "tensorflow"):
        rep.skip("seq2seq", f"the {BACKEND} backend cannot train")
        return
    import tuinet

    def build(L, Inp, Model, cell):
        enc_in, dec_in = Inp((None, 5), name="enc"), Inp((None, 6), name="dec")
        _, *states = getattr(L, cell)(8, return_state=True, name="encoder")(enc_in)
        dec = getattr(L, cell)(8, return_sequences=True, name="decoder")(dec_in, initial_state=states)
        return Model([enc_in, dec_in], L.Dense(6, activation="softmax", name="out")(dec))

    xe = rng.normal(size=(16, 7, 5)).astype("float32")
    xd = rng.normal(size=(16, 4, 6)).astype("float32")
    y = rng.integers(0, 6, (16, 4))
    for cell in ("LSTM", "GRU", "SimpleRNN"):
        def run(cell=cell):
            km = build(keras.layers, keras.Input, keras.Model, cell)
            tm = build(tuinet.layers, tuinet.Input, tuinet.Model, cell)
            weights = [rng.normal(0, 0.4, v.shape).astype("float32") for v in km.weights]
            km.set_weights(weights)
            tm.set_weights(weights)
            km.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
            tm.compile(tuinet.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
            hk = km.fit([xe, xd], y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
            ht = tm.fit([xe, xd], y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
            for key in ("loss", "accuracy"):
                rep.check(f"{cell} encoder-decoder: fit {key}", ht[key], hk[key], rtol=1e-4)
            for i, (wt, wk) in enumerate(zip(tm.get_weights(), km.get_weights())):
                rep.check(f"{cell} encoder-decoder: weight {i} after fit", wt, wk, rtol=1e-4)
        rep.run(f"{cell} encoder-decoder", run)


def section_weighted_metrics(rep, rng):
    """compile(weighted_metrics=...): the metrics weighted by sample_weight and class_weight, and
    their names (weighted_<name> next to a plain metric of the same name), against Keras."""
    if BACKEND not in ("torch", "jax", "tensorflow"):
        rep.skip("weighted_metrics", f"the {BACKEND} backend cannot train")
        return
    import tuinet

    x = rng.normal(size=(40, 3)).astype("float32")
    y = rng.integers(0, 3, 40)
    sw = rng.uniform(size=40).astype("float32")

    def run(label, compile_kw, fit_kw, eval_kw):
        km = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="softmax")])
        tm = tuinet.Sequential([tuinet.Input((3,)), tuinet.layers.Dense(3, activation="softmax")])
        weights = [rng.normal(0, 0.5, w.shape).astype("float32") for w in km.get_weights()]
        km.set_weights(weights)
        tm.set_weights(weights)
        km.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", **compile_kw)
        tm.compile(tuinet.optimizers.SGD(0.1), "sparse_categorical_crossentropy", **compile_kw)
        hk = km.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, **fit_kw).history
        ht = tm.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, **fit_kw).history
        rep.equal(f"{label}: history keys", sorted(ht), sorted(hk))
        for key in sorted(set(hk) & set(ht)):
            rep.check(f"{label}: fit {key}", ht[key], hk[key], rtol=1e-4)
        ek = km.evaluate(x, y, verbose=0, return_dict=True, **eval_kw)
        et = tm.evaluate(x, y, verbose=0, return_dict=True, **eval_kw)
        rep.equal(f"{label}: evaluate keys", sorted(et), sorted(ek))
        for key in sorted(set(ek) & set(et)):
            rep.check(f"{label}: evaluate {key}", et[key], ek[key], rtol=1e-4)

    rep.run("accuracy and weighted accuracy, sample_weight", run, "accuracy + weighted accuracy, sample_weight",
            {"metrics": ["accuracy"], "weighted_metrics": ["accuracy"]}, {"sample_weight": sw}, {"sample_weight": sw})
    rep.run("weighted accuracy alone, class_weight", run, "weighted accuracy alone, class_weight",
            {"weighted_metrics": ["accuracy"]}, {"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}}, {})

    def two_outputs():
        def build(L, Inp, Model):
            a = Inp((3,))
            return Model(a, [L.Dense(3, activation="softmax", name="c1")(a), L.Dense(1, name="r")(a)])

        km, tm = build(keras.layers, keras.Input, keras.Model), build(tuinet.layers, tuinet.Input, tuinet.Model)
        weights = [rng.normal(0, 0.5, v.shape).astype("float32") for v in km.weights]
        km.set_weights(weights)
        tm.set_weights(weights)
        kw = {"metrics": [["accuracy"], ["mae"]], "weighted_metrics": [["accuracy"], ["mae"]]}
        km.compile(keras.optimizers.SGD(0.1), ["sparse_categorical_crossentropy", "mse"], **kw)
        tm.compile(tuinet.optimizers.SGD(0.1), ["sparse_categorical_crossentropy", "mse"], **kw)
        y2 = rng.normal(size=(40, 1)).astype("float32")
        hk = km.fit(x, [y, y2], sample_weight=sw, epochs=2, batch_size=8, shuffle=False, verbose=0).history
        ht = tm.fit(x, [y, y2], sample_weight=sw, epochs=2, batch_size=8, shuffle=False, verbose=0).history
        rep.equal("two outputs: history keys", sorted(ht), sorted(hk))
        for key in sorted(set(hk) & set(ht)):
            rep.check(f"two outputs: fit {key}", ht[key], hk[key], rtol=1e-4)
    rep.run("two outputs, weighted metrics per output", two_outputs)


def section_keras_compile(rep, rng):
    """A functional model compiled per output (dict losses, loss weights, metrics, weighted
    metrics) saved as .keras by tuinet, loaded and evaluated by Keras, saved by Keras and loaded
    back by tuinet: the same evaluate dict everywhere."""
    import os
    import tempfile

    import tuinet

    import importlib.util

    if importlib.util.find_spec("h5py") is None:
        rep.skip("keras_compile", "h5py is not installed")
        return

    def run():
        a = tuinet.Input((3,), name="a")
        model = tuinet.Model(a, {"p": tuinet.layers.Dense(1, name="p")(a),
                                 "d": tuinet.layers.Dense(2, activation="softmax", name="d")(a)})
        model.compile("adam", loss={"p": "mse", "d": "sparse_categorical_crossentropy"},
                      loss_weights={"p": 1.0, "d": 0.2}, metrics={"d": ["accuracy"]},
                      weighted_metrics={"d": ["accuracy"]})
        x = rng.normal(size=(16, 3)).astype("float32")
        y = {"p": rng.normal(size=(16, 1)).astype("float32"), "d": rng.integers(0, 2, 16)}
        sw = rng.uniform(size=16).astype("float32")
        model.fit(x, y, verbose=0)
        with tempfile.TemporaryDirectory() as folder:
            mine, theirs = os.path.join(folder, "t.keras"), os.path.join(folder, "k.keras")
            model.save(mine)
            km = keras.models.load_model(mine)
            expected = model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
            got = km.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
            rep.equal("keras loads tuinet's per-output compile: evaluate keys", sorted(got), sorted(expected))
            for key in sorted(set(got) & set(expected)):
                rep.check(f"keras evaluates tuinet's file: {key}", expected[key], got[key], rtol=1e-5)
            km.save(theirs)
            back = tuinet.load_model(theirs).evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
            for key in sorted(set(back) & set(expected)):
                rep.check(f"tuinet evaluates keras's re-save: {key}", back[key], expected[key], rtol=1e-5)
    rep.run("per-output compile settings in .keras", run)


def section_text(rep, rng):
    """TextVectorization, StringLookup, IntegerLookup and CategoryEncoding on NumPy data: vocabularies
    (order included) and outputs. Keras's lookup layers need TensorFlow: skipped when it does not import."""
    import tuinet
    L, KL = tuinet.layers, keras.layers
    if importlib.util.find_spec("tensorflow") is None:
        rep.skip("text layers", "TensorFlow is not importable (Keras's lookup layers need it)")
        return
    texts = ["The cat sat on the mat.", "The dog ate my homework!", "A cat, a dog; and a bird?",
             "Dogs & cats -- living together...", "  extra   spaces\there\n", "Émile's CAFÉ (naïve) costs $5.00",
             "nbsp\xa0split\u2003em", "b a c b a c", ""]
    words = np.array(["red", "green", "blue", "red", "pink", "blue", "red", "teal", "green"]).reshape(3, 3)

    def kvocab(layer):
        return [v if isinstance(v, (str, int)) else (str(v) if isinstance(v, np.str_) else int(v))
                for v in layer.get_vocabulary()]

    def text_case(label, kwargs, data=texts, adapt=True):
        t, k = L.TextVectorization(**kwargs), KL.TextVectorization(**kwargs)
        if adapt:
            t.adapt(data), k.adapt(data)
        rep.equal(f"TextVectorization({label}) vocabulary", t.get_vocabulary(), kvocab(k))
        rep.check(f"TextVectorization({label}) output", t(data), to_np(k(data)))

    for label, kwargs in [("int, length 6", dict(output_sequence_length=6)), ("int", {}),
                          ("max_tokens=8 multi_hot", dict(max_tokens=8, output_mode="multi_hot")),
                          ("count", dict(output_mode="count")), ("tf_idf", dict(output_mode="tf_idf")),
                          ("tf_idf pad_to_max_tokens", dict(output_mode="tf_idf", max_tokens=40, pad_to_max_tokens=True)),
                          ("ngrams=2", dict(ngrams=2)), ("ngrams=(1, 3) max_tokens=12", dict(ngrams=(1, 3), max_tokens=12)),
                          ("standardize=None", dict(standardize=None)), ("lower", dict(standardize="lower")),
                          ("strip_punctuation", dict(standardize="strip_punctuation")),
                          ("split=character length 8", dict(split="character", output_sequence_length=8)),
                          ("split=None", dict(split=None))]:
        rep.run(f"TextVectorization({label})", text_case, label, kwargs)
    rep.run("TextVectorization(vocabulary, tf_idf)", text_case, "vocabulary, tf_idf",
            dict(vocabulary=["the", "cat", "dog"], idf_weights=[0.5, 1.0, 2.0], output_mode="tf_idf"), adapt=False)

    def lookup_case(label, t_cls, k_cls, kwargs, data, call, adapt=True):
        t, k = t_cls(**kwargs), k_cls(**kwargs)
        if adapt:
            t.adapt(data), k.adapt(data)
        rep.equal(f"{label} vocabulary", t.get_vocabulary(), kvocab(k))
        rep.check(f"{label} output", t(call), to_np(k(call)))

    ints = rng.integers(0, 12, size=(6, 4))
    for label, kwargs in [("", {}), ("max_tokens=3", dict(max_tokens=3)), ("one_hot", dict(output_mode="one_hot")),
                          ("multi_hot", dict(output_mode="multi_hot")), ("count", dict(output_mode="count")),
                          ("tf_idf", dict(output_mode="tf_idf"))]:
        call = words[:, :1] if kwargs.get("output_mode") == "one_hot" else words
        rep.run(f"StringLookup({label})", lookup_case, f"StringLookup({label})", L.StringLookup, KL.StringLookup,
                kwargs, words, call)
        rep.run(f"IntegerLookup({label})", lookup_case, f"IntegerLookup({label})", L.IntegerLookup,
                KL.IntegerLookup, kwargs, ints, ints[:, :1] if "one_hot" in label else ints)
    rep.run("IntegerLookup(num_oov_indices=3)", lookup_case, "IntegerLookup(num_oov_indices=3, mask_token=0)",
            L.IntegerLookup, KL.IntegerLookup, dict(num_oov_indices=3, mask_token=0, vocabulary=[3, 5, 7]), None,
            ints, adapt=False)

    def invert_case():
        t = L.StringLookup(vocabulary=["a", "b", "c"], invert=True, mask_token="")
        k = KL.StringLookup(vocabulary=["a", "b", "c"], invert=True, mask_token="")
        ids = np.array([0, 1, 2, 3, 4, 9])
        rep.equal("StringLookup(invert=True, mask_token='') tokens", t(ids).tolist(), [str(v) for v in k(ids)])
        t = L.IntegerLookup(vocabulary=[12, 36, 42], invert=True)
        k = KL.IntegerLookup(vocabulary=[12, 36, 42], invert=True)
        rep.check("IntegerLookup(invert=True) values", t(ids), to_np(k(ids)))
    rep.run("invert", invert_case)

    ids = rng.integers(0, 6, size=(5, 3))
    for mode in ("one_hot", "multi_hot", "count"):
        rep.run(f"CategoryEncoding({mode})", lambda m=mode: rep.check(
            f"CategoryEncoding(6, {m!r}) on (5, 3) ids", L.CategoryEncoding(6, output_mode=m)(ids),
            to_np(KL.CategoryEncoding(6, output_mode=m)(ids))))


SECTIONS = {
    "initializers": section_initializers,
    "activations": section_activations,
    "layers": section_layers,
    "models": section_models,
    "losses": section_losses,
    "metrics": section_metrics,
    "more_metrics": section_more_metrics,
    "schedules": section_schedules,
    "optimizers": section_optimizers,
    "fit": section_training,
    "merge": section_merge,
    "keras_files": section_keras_files,
    "functional": section_functional,
    "masking": section_masking,
    "seq2seq": section_seq2seq,
    "weighted_metrics": section_weighted_metrics,
    "keras_compile": section_keras_compile,
    "small_layers": section_small_layers,
    "constraints": section_constraints,
    "tensorboard": section_tensorboard,
    "attention": section_attention,
    "text": section_text,
}


# ---------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    global keras, torch, BACKEND
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default=None)
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    backend = args.backend or os.environ.get("KERAS_BACKEND")
    if not backend:
        backend = "torch" if importlib.util.find_spec("torch") is not None else "numpy"
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import keras as keras_mod  # noqa: F401 - lazy: keras is not a tuinet dependency
        keras = keras_mod
    except Exception as exc:  # noqa: BLE001 - ImportError, or a backend that fails to import
        print(f"Keras 3 is not importable here with KERAS_BACKEND={backend} ({type(exc).__name__}: {exc}).\n"
              "Nothing to compare. Install it in a separate environment, e.g.:\n"
              "  python3 -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install keras numpy scipy torch==2.13.0 "
              "&& /tmp/kvenv/bin/pip install -e .\n"
              "  /tmp/kvenv/bin/python benchmarks/check_against_keras.py\n"
              "(Keras 3's numpy backend imports jax; the torch backend needs only torch.)")
        return 0
    if not keras.__version__.startswith("3."):
        print(f"Keras {keras.__version__} is not Keras 3; nothing to compare.")
        return 0
    BACKEND = keras.backend.backend()
    if BACKEND == "torch":
        import torch as torch_mod
        torch = torch_mod
        torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    import tuinet
    tuinet.backend.set_floatx("float32")
    keras.utils.set_random_seed(0)
    print(f"tuinet {tuinet.__version__} vs Keras {keras.__version__} (backend {BACKEND}"
          + (f", torch {torch.__version__}" if torch is not None else "") + f", numpy {np.__version__})")
    print(f"PASS when max|tuinet - keras| <= rtol * scale, scale = max(1, max|keras|) (gradients: max|keras|), "
          f"rtol {RTOL:g} unless the row says otherwise; 'relative' is max|diff| / scale")
    rep = Report(args.verbose)
    t0 = time.perf_counter()
    for name, fn in SECTIONS.items():
        if args.only and not any(w in name for w in args.only):
            continue
        rep.section = name
        print(f"-- {name}", flush=True)
        rng = np.random.default_rng(sum(map(ord, name)))
        try:
            fn(rep, rng)
        except Exception as exc:  # noqa: BLE001
            rep.error(f"{name} (section)", exc)
    status = rep.summary()
    print(f"({time.perf_counter() - t0:.1f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())

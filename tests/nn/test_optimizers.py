"""Optimizers against Keras 3's formulas.

`KerasRef` below is an independent, deliberately plain transcription of Keras 3's
`BaseOptimizer._backend_apply_gradients` (clip, weight decay, update_step per variable,
iteration += 1) and of each optimizer's `update_step`, working per variable in float64. The
tuinet optimizer gets the same variables concatenated in one flat vector (with `segments`),
as the model passes them, and must follow the reference step for step.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tuinet.errors import ConfigError
from tuinet.nn import optimizers, schedules
from tuinet.nn.optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Nadam, RMSprop


# --------------------------------------------------------------------------- the reference
class KerasRef:
    """Keras 3 optimizer semantics on a list of float64 variables (one array each)."""

    def __init__(self, kind, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, **kw):
        self.kind, self.lr, self.kw = kind, learning_rate, kw
        self.weight_decay, self.clipnorm, self.clipvalue = weight_decay, clipnorm, clipvalue
        self.global_clipnorm = global_clipnorm
        self.iterations = 0
        self.state = None
        self.u_product = 1.0

    def current_lr(self):
        return self.lr(self.iterations) if callable(self.lr) else self.lr

    def clip(self, grads):
        if self.clipnorm:
            out = []
            for g in grads:
                l2 = math.sqrt(float(np.sum(g * g)))
                out.append(g * self.clipnorm / max(l2, self.clipnorm))
            return out
        if self.global_clipnorm:
            norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
            scale = self.global_clipnorm * min(1.0 / norm, 1.0 / self.global_clipnorm)
            return [g * scale for g in grads]
        if self.clipvalue:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def step(self, variables, grads):
        k = self.kw
        if self.state is None:
            init = k.get("initial_accumulator_value", 0.0) if self.kind == "adagrad" else 0.0
            self.state = [{name: np.full_like(v, init) for name in ("a", "b", "c")} for v in variables]
        grads = self.clip([np.array(g, dtype=np.float64) for g in grads])
        lr = self.current_lr()
        if self.weight_decay is not None:
            for v in variables:
                v[...] = v - v * self.weight_decay * lr
        if self.kind == "nadam":  # Keras's Nadam._backend_update_step, once per step
            self.u_product = self.u_product * k["beta_1"] * (1.0 - 0.5 * 0.96 ** (self.iterations + 1))
        for v, g, s in zip(variables, grads, self.state):
            getattr(self, "update_" + self.kind)(v, g, s, lr)
        self.iterations += 1

    def update_sgd(self, v, g, s, lr):
        mom = self.kw.get("momentum", 0.0)
        if mom != 0:
            s["a"] = mom * s["a"] - g * lr
            if self.kw.get("nesterov"):
                v += mom * s["a"] - g * lr
            else:
                v += s["a"]
        else:
            v -= g * lr

    def update_adam(self, v, g, s, lr):
        b1, b2, eps = self.kw["beta_1"], self.kw["beta_2"], self.kw["epsilon"]
        t = self.iterations + 1
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        s["a"] += (g - s["a"]) * (1 - b1)
        s["b"] += (g * g - s["b"]) * (1 - b2)
        vel = s["b"]
        if self.kw.get("amsgrad"):
            s["c"] = np.maximum(s["c"], s["b"])
            vel = s["c"]
        v -= (s["a"] * alpha) / (np.sqrt(vel) + eps)

    update_adamw = update_adam

    def update_adagrad(self, v, g, s, lr):
        s["a"] += g * g
        v -= lr * g / np.sqrt(s["a"] + self.kw["epsilon"])

    def update_adadelta(self, v, g, s, lr):
        rho, eps = self.kw["rho"], self.kw["epsilon"]
        s["a"] = rho * s["a"] + (1 - rho) * g * g
        delta = -(np.sqrt(s["b"] + eps) * g) / np.sqrt(s["a"] + eps)
        s["b"] = rho * s["b"] + (1 - rho) * delta * delta
        v += lr * delta

    def update_rmsprop(self, v, g, s, lr):
        rho, eps, mom = self.kw["rho"], self.kw["epsilon"], self.kw.get("momentum", 0.0)
        s["a"] = rho * s["a"] + (1 - rho) * g * g
        if self.kw.get("centered"):
            s["c"] = rho * s["c"] + (1 - rho) * g
            denominator = s["a"] - s["c"] ** 2 + eps
        else:
            denominator = s["a"] + eps
        increment = lr * g / np.sqrt(denominator)
        if mom > 0:
            s["b"] = mom * s["b"] + increment
            v -= s["b"]
        else:
            v -= increment

    def update_nadam(self, v, g, s, lr):
        b1, b2, eps = self.kw["beta_1"], self.kw["beta_2"], self.kw["epsilon"]
        local_step, next_step = self.iterations + 1, self.iterations + 2
        u_t = b1 * (1.0 - 0.5 * 0.96 ** local_step)
        u_t_1 = b1 * (1.0 - 0.5 * 0.96 ** next_step)
        u_product_t = self.u_product
        u_product_t_1 = u_product_t * u_t_1
        s["a"] += (g - s["a"]) * (1 - b1)
        s["b"] += (g * g - s["b"]) * (1 - b2)
        m_hat = u_t_1 * s["a"] / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product_t)
        v_hat = s["b"] / (1 - b2 ** local_step)
        v -= m_hat * lr / (np.sqrt(v_hat) + eps)

    def update_adamax(self, v, g, s, lr):
        b1, b2, eps = self.kw["beta_1"], self.kw["beta_2"], self.kw["epsilon"]
        t = self.iterations + 1
        s["a"] += (g - s["a"]) * (1 - b1)
        s["b"] = np.maximum(b2 * s["b"], np.abs(g))
        v -= lr * s["a"] / ((1 - b1 ** t) * (s["b"] + eps))


ADAM_DEFAULTS = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}

# (case id, tuinet class, constructor kwargs, reference kind, reference kwargs)
CASES = [
    ("sgd", SGD, {"learning_rate": 0.1}, "sgd", {}),
    ("sgd-momentum", SGD, {"learning_rate": 0.1, "momentum": 0.9}, "sgd", {"momentum": 0.9}),
    ("sgd-nesterov", SGD, {"learning_rate": 0.1, "momentum": 0.8, "nesterov": True}, "sgd",
     {"momentum": 0.8, "nesterov": True}),
    ("adam", Adam, {"learning_rate": 0.05}, "adam", ADAM_DEFAULTS),
    ("adam-eps-big", Adam, {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.9, "epsilon": 0.5}, "adam",
     {"beta_1": 0.8, "beta_2": 0.9, "epsilon": 0.5}),
    ("adam-amsgrad", Adam, {"learning_rate": 0.05, "amsgrad": True}, "adam", {**ADAM_DEFAULTS, "amsgrad": True}),
    ("adamw", AdamW, {"learning_rate": 0.05}, "adamw", {**ADAM_DEFAULTS}),
    ("adamw-amsgrad-wd", AdamW, {"learning_rate": 0.05, "weight_decay": 0.3, "amsgrad": True}, "adamw",
     {**ADAM_DEFAULTS, "amsgrad": True}),
    ("adagrad", Adagrad, {"learning_rate": 0.1}, "adagrad", {"initial_accumulator_value": 0.1, "epsilon": 1e-7}),
    ("adagrad-eps-big", Adagrad, {"learning_rate": 0.1, "initial_accumulator_value": 0.0, "epsilon": 0.5},
     "adagrad", {"initial_accumulator_value": 0.0, "epsilon": 0.5}),
    ("adadelta", Adadelta, {"learning_rate": 1.0}, "adadelta", {"rho": 0.95, "epsilon": 1e-7}),
    ("adadelta-eps-big", Adadelta, {"learning_rate": 0.5, "rho": 0.7, "epsilon": 0.1}, "adadelta",
     {"rho": 0.7, "epsilon": 0.1}),
    ("rmsprop", RMSprop, {"learning_rate": 0.01}, "rmsprop", {"rho": 0.9, "epsilon": 1e-7}),
    ("rmsprop-momentum", RMSprop, {"learning_rate": 0.01, "momentum": 0.7}, "rmsprop",
     {"rho": 0.9, "epsilon": 1e-7, "momentum": 0.7}),
    ("rmsprop-centered", RMSprop, {"learning_rate": 0.01, "centered": True, "epsilon": 0.01}, "rmsprop",
     {"rho": 0.9, "epsilon": 0.01, "centered": True}),
    ("rmsprop-centered-momentum", RMSprop, {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5, "centered": True},
     "rmsprop", {"rho": 0.8, "epsilon": 1e-7, "momentum": 0.5, "centered": True}),
    ("nadam", Nadam, {"learning_rate": 0.05}, "nadam", ADAM_DEFAULTS),
    ("nadam-eps-big", Nadam, {"learning_rate": 0.05, "beta_1": 0.7, "beta_2": 0.95, "epsilon": 0.3}, "nadam",
     {"beta_1": 0.7, "beta_2": 0.95, "epsilon": 0.3}),
    ("adamax", Adamax, {"learning_rate": 0.05}, "adamax", ADAM_DEFAULTS),
    ("adamax-eps-big", Adamax, {"learning_rate": 0.05, "beta_2": 0.5, "epsilon": 0.4}, "adamax",
     {"beta_1": 0.9, "beta_2": 0.5, "epsilon": 0.4}),
]
CASE_IDS = [c[0] for c in CASES]

# Options from the base class, exercised on top of an optimizer (weight decay, the clips).
BASE_OPTIONS = [
    ("weight_decay", {"weight_decay": 0.2}),
    ("clipnorm", {"clipnorm": 0.9}),
    ("global_clipnorm", {"global_clipnorm": 1.3}),
    ("clipvalue", {"clipvalue": 0.25}),
]

SHAPES = [(3, 2), (2,), (4,)]


def _variables(rng):
    return [rng.normal(size=s) for s in SHAPES]


def _grad_sequence(rng, steps=6):
    # Mixed scales, so that clipping binds for some variables and steps but not others.
    return [[rng.normal(size=s) * scale for s, scale in zip(SHAPES, (0.3, 2.0, 0.6))] for _ in range(steps)]


def _flat(arrays):
    return np.concatenate([a.ravel() for a in arrays])


SEGMENTS = np.cumsum([0] + [math.prod(s) for s in SHAPES[:-1]])


def _run_against_reference(cls, kwargs, kind, ref_kwargs, *, dtype=np.float64, rtol=1e-12, atol=1e-14,
                           multi_key=False, steps=6, seed=0):
    rng = np.random.default_rng(seed)
    variables = _variables(rng)
    grads_seq = _grad_sequence(rng, steps)
    opt = cls(**kwargs)
    ref_args = {k: v for k, v in kwargs.items() if k not in ("learning_rate", "beta_1", "beta_2", "epsilon",
                                                             "amsgrad", "momentum", "nesterov", "rho",
                                                             "centered", "initial_accumulator_value")}
    if kind == "adamw":
        ref_args.setdefault("weight_decay", 0.004)
    ref = KerasRef(kind, kwargs["learning_rate"], **ref_args, **ref_kwargs)
    ref_vars = [v.copy() for v in variables]
    if multi_key:
        params = {f"v{i}": v.astype(dtype) for i, v in enumerate(variables)}
    else:
        params = {"all": _flat(variables).astype(dtype)}
    for grads in grads_seq:
        ref.step(ref_vars, grads)
        if multi_key:
            opt.apply_gradients(params, {f"v{i}": g.astype(dtype) for i, g in enumerate(grads)})
            got = _flat([params[f"v{i}"] for i in range(len(SHAPES))])
        else:
            opt.apply_gradients(params, {"all": _flat(grads).astype(dtype)}, {"all": SEGMENTS})
            got = params["all"]
        assert got.dtype == dtype
        np.testing.assert_allclose(got, _flat(ref_vars), rtol=rtol, atol=atol)
    assert opt.iterations == steps
    return opt


# --------------------------------------------------------------------------- against the reference
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_keras_reference_flat_with_segments(case):
    _, cls, kwargs, kind, ref_kwargs = case
    _run_against_reference(cls, kwargs, kind, ref_kwargs)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_keras_reference_one_key_per_variable(case):
    _, cls, kwargs, kind, ref_kwargs = case
    _run_against_reference(cls, kwargs, kind, ref_kwargs, multi_key=True, seed=1)


@pytest.mark.parametrize("option", BASE_OPTIONS, ids=[o[0] for o in BASE_OPTIONS])
@pytest.mark.parametrize("case", [c for c in CASES if c[0] in ("sgd-momentum", "adam", "adamw", "rmsprop-centered",
                                                              "nadam", "adagrad", "adadelta", "adamax")],
                         ids=lambda c: c[0])
def test_base_options_match_keras_reference(case, option):
    _, cls, kwargs, kind, ref_kwargs = case
    _, extra = option
    kwargs = {**kwargs, **extra}
    _run_against_reference(cls, kwargs, kind, ref_kwargs)
    _run_against_reference(cls, kwargs, kind, ref_kwargs, multi_key=True, seed=2)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_float32_stays_float32_and_tracks_reference(case):
    _, cls, kwargs, kind, ref_kwargs = case
    opt = _run_against_reference(cls, {**kwargs, "clipnorm": 1.0}, kind, ref_kwargs, dtype=np.float32,
                                 rtol=2e-4, atol=2e-5)
    for name, arr in opt.get_state().items():
        if "/" in name:
            assert arr.dtype == np.float32, name


def test_clipnorm_segments_dot_and_reduceat_paths():
    rng = np.random.default_rng(3)
    sizes = [5000, 300, 20000]
    grads = [rng.normal(size=n) * s for n, s in zip(sizes, (0.01, 1.0, 0.02))]
    seg = np.cumsum([0] + sizes[:-1])
    opt = SGD(learning_rate=1.0, clipnorm=1.5)
    p = {"w": np.zeros(sum(sizes))}
    opt.apply_gradients(p, {"w": _flat(grads)}, {"w": seg})
    assert opt._segments["w"][3] is True  # few big variables: the BLAS-dot branch
    expected = [g * 1.5 / max(np.linalg.norm(g), 1.5) for g in grads]
    np.testing.assert_allclose(-p["w"], _flat(expected), rtol=1e-12)
    # Many small variables take the reduceat branch.
    opt = SGD(learning_rate=1.0, clipnorm=0.5)
    g = rng.normal(size=12)
    p = {"w": np.zeros(12)}
    opt.apply_gradients(p, {"w": g.copy()}, {"w": np.array([0, 3, 4, 8])})
    assert opt._segments["w"][3] is False
    parts = np.split(g, [3, 4, 8])
    np.testing.assert_allclose(-p["w"], _flat([x * 0.5 / max(np.linalg.norm(x), 0.5) for x in parts]), rtol=1e-12)


# --------------------------------------------------------------------------- hand-computed steps
def _one(opt, p0, gs):
    p = {"x": np.array([p0], dtype=np.float64)}
    out = []
    for g in gs:
        opt.apply_gradients(p, {"x": np.array([g], dtype=np.float64)})
        out.append(float(p["x"][0]))
    return out


def test_sgd_by_hand():
    assert _one(SGD(0.1), 1.0, [2.0]) == pytest.approx([0.8])
    # m = 0.9*0 - 0.1*2 = -0.2 -> p = 0.8; m = 0.9*(-0.2) - 0.2 = -0.38 -> p = 0.42
    assert _one(SGD(0.1, momentum=0.9), 1.0, [2.0, 2.0]) == pytest.approx([0.8, 0.42])
    # nesterov: p += 0.9*m - 0.2: 1 - 0.18 - 0.2 = 0.62; m = -0.38: 0.62 - 0.342 - 0.2 = 0.078
    assert _one(SGD(0.1, momentum=0.9, nesterov=True), 1.0, [2.0, 2.0]) == pytest.approx([0.62, 0.078])


def test_adam_by_hand():
    # m = 0.2, v = 0.004, alpha = 0.1*sqrt(0.001)/0.1 = 0.0316228, step = alpha*m/(sqrt(v)+1e-7)
    #   = 0.00632456 / 0.06324565 = 0.09999984 -> p = 0.90000016
    assert _one(Adam(0.1), 1.0, [2.0]) == pytest.approx([0.9000001581], abs=1e-10)
    # Epsilon is outside the square root: with epsilon=1, step = 0.00632456 / 1.06324555 = 0.00594834
    assert _one(Adam(0.1, epsilon=1.0), 1.0, [2.0]) == pytest.approx([1 - 0.0059483], abs=1e-7)
    # amsgrad: second step with g=0: v = 0.999*0.004 = 0.003996 < v_hat = 0.004 -> uses 0.004.
    # m = 0.18, alpha = 0.1*sqrt(1-0.998001)/(1-0.81) = 0.0235317, step = 0.0235317*0.18/0.0632457 = 0.0669722
    # (plain Adam would divide by sqrt(0.003996) = 0.0632139 and step 0.0670057)
    out = _one(Adam(0.1, amsgrad=True), 1.0, [2.0, 0.0])
    assert out[1] == pytest.approx(0.9000001581 - 0.0669722, abs=1e-6)
    assert _one(Adam(0.1), 1.0, [2.0, 0.0])[1] == pytest.approx(0.9000001581 - 0.0670057, abs=1e-6)


def test_adamw_by_hand():
    # decay first: 1 - 1*0.004*0.1 = 0.9996, then the Adam step 0.09999984 -> 0.89960016
    assert _one(AdamW(0.1), 1.0, [2.0]) == pytest.approx([0.8996001581], abs=1e-10)
    # weight decay with a zero gradient on SGD: 1 - 1*0.5*0.1 = 0.95
    assert _one(SGD(0.1, weight_decay=0.5), 1.0, [0.0]) == pytest.approx([0.95])


def test_adagrad_by_hand():
    # acc = 0.1 + 4 = 4.1, p = 1 - 0.1*2/sqrt(4.1 + 1e-7) = 1 - 0.2/2.0248457 = 0.9012270
    assert _one(Adagrad(0.1), 1.0, [2.0]) == pytest.approx([0.90122704], abs=1e-8)
    # epsilon inside the sqrt: sqrt(0 + 4 + 5) = 3 -> p = 1 - 0.2/3
    assert _one(Adagrad(0.1, initial_accumulator_value=0.0, epsilon=5.0), 1.0, [2.0]) == pytest.approx([1 - 0.2 / 3])


def test_adadelta_by_hand():
    # E[g2] = 0.05*4 = 0.2; delta = -sqrt(0 + 1e-7)/sqrt(0.2 + 1e-7)*2 = -1.4142132e-3; p = 1 + delta
    assert _one(Adadelta(1.0), 1.0, [2.0]) == pytest.approx([1 - 1.4142132e-3], abs=1e-9)
    # eps = 0.25, rho = 0.5: E[g2] = 2, delta = -sqrt(0.25)/sqrt(2.25)*2 = -2/3; E[d2] = 0.5*4/9 = 2/9
    # step 2 (g = 2): E[g2] = 1 + 2 = 3, delta = -sqrt(2/9 + 1/4)/sqrt(3.25)*2 = -0.6871843/1.8027756*2 = -0.7623625
    out = _one(Adadelta(1.0, rho=0.5, epsilon=0.25), 0.0, [2.0, 2.0])
    assert out == pytest.approx([-2 / 3, -2 / 3 - 0.7623625], abs=1e-7)


def test_rmsprop_by_hand():
    # Keras's docstring example: lr=0.1, var=10, grad=var -> 9.683772
    assert _one(RMSprop(0.1), 10.0, [10.0]) == pytest.approx([9.683772], abs=1e-6)
    # centered: v = 0.4, mg = 0.2, step = 0.1*2/sqrt(0.4 - 0.04 + 1e-7) = 0.3333333
    assert _one(RMSprop(0.1, centered=True), 1.0, [2.0]) == pytest.approx([0.6666667], abs=1e-7)
    # momentum 0.5: inc1 = 0.2/sqrt(0.4) = 0.3162277, mom = 0.3162277 -> p = 0.6837723;
    # v = 0.76, inc2 = 0.2/sqrt(0.76) = 0.2294157, mom = 0.1581139 + 0.2294157 = 0.3875296 -> p = 0.2962427
    assert _one(RMSprop(0.1, momentum=0.5), 1.0, [2.0, 2.0]) == pytest.approx([0.6837723, 0.2962427], abs=1e-6)


def test_nadam_by_hand():
    # u1 = 0.9*(1 - 0.5*0.96) = 0.468, u2 = 0.9*(1 - 0.5*0.9216) = 0.48528, u_product = 0.468
    # m = 0.2, v = 0.004; m_hat = 0.48528*0.2/(1 - 0.468*0.48528) + 0.532*2/0.532 = 0.1255758 + 2
    # v_hat = 0.004/0.001 = 4; p = 1 - 0.1*2.1255758/(2 + 1e-7) = 0.8937212
    opt = Nadam(0.1)
    assert _one(opt, 1.0, [2.0]) == pytest.approx([0.8937212], abs=1e-7)
    assert opt.get_state()["u_product"] == pytest.approx(0.468)


def test_adamax_by_hand():
    # m = 0.2, u = max(0, 2) = 2, p = 1 - 0.1*0.2/((1 - 0.9)*(2 + 1e-7)) = 0.900000005
    assert _one(Adamax(0.1), 1.0, [2.0]) == pytest.approx([0.900000005], abs=1e-10)
    # second step g = -1: m = 0.2 + (-1 - 0.2)*0.1 = 0.08, u = max(0.999*2, 1) = 1.998
    # p = 0.9 - 0.1*0.08/((1 - 0.81)*1.998) = 0.9 - 0.008/0.37962 = 0.9 - 0.0210737
    assert _one(Adamax(0.1), 1.0, [2.0, -1.0])[1] == pytest.approx(0.900000005 - 0.0210737, abs=1e-7)


def test_clipping_by_hand():
    # clipnorm: [3, 4] has norm 5 -> [0.6, 0.8]; a gradient below the norm is left alone
    p = {"w": np.zeros(2), "b": np.zeros(1)}
    SGD(1.0, clipnorm=1.0).apply_gradients(p, {"w": np.array([3.0, 4.0]), "b": np.array([0.5])})
    assert p["w"].tolist() == pytest.approx([-0.6, -0.8]) and p["b"].tolist() == pytest.approx([-0.5])
    # clipnorm per segment of a flat vector: [3, 4 | 0.3, 0.4] -> [0.6, 0.8 | 0.3, 0.4]
    p = {"all": np.zeros(4)}
    g = {"all": np.array([3.0, 4.0, 0.3, 0.4])}
    SGD(1.0, clipnorm=1.0).apply_gradients(p, g, {"all": np.array([0, 2])})
    assert (-p["all"]).tolist() == pytest.approx([0.6, 0.8, 0.3, 0.4])
    assert g["all"].tolist() == pytest.approx([0.6, 0.8, 0.3, 0.4])  # clipped in place
    # global_clipnorm over both keys: norm of [3] and [4] is 5 -> [0.6], [0.8]
    p = {"a": np.zeros(1), "b": np.zeros(1)}
    SGD(1.0, global_clipnorm=1.0).apply_gradients(p, {"a": np.array([3.0]), "b": np.array([4.0])})
    assert (p["a"][0], p["b"][0]) == pytest.approx((-0.6, -0.8))
    # the same with clipnorm clips each key to norm 1 separately
    p = {"a": np.zeros(1), "b": np.zeros(1)}
    SGD(1.0, clipnorm=1.0).apply_gradients(p, {"a": np.array([3.0]), "b": np.array([4.0])})
    assert (p["a"][0], p["b"][0]) == pytest.approx((-1.0, -1.0))
    # clipvalue is elementwise
    p = {"w": np.zeros(3)}
    SGD(1.0, clipvalue=0.5).apply_gradients(p, {"w": np.array([3.0, -4.0, 0.2])})
    assert (-p["w"]).tolist() == pytest.approx([0.5, -0.5, 0.2])


def test_clipping_non_finite_gradients_gives_nan_like_keras():
    p = {"a": np.zeros(2), "b": np.zeros(1)}
    SGD(1.0, global_clipnorm=1.0).apply_gradients(p, {"a": np.array([np.inf, 1.0]), "b": np.array([1.0])})
    assert np.isnan(p["a"]).all() and np.isnan(p["b"]).all()
    p = {"a": np.zeros(2)}
    SGD(1.0, clipnorm=1.0).apply_gradients(p, {"a": np.array([np.nan, 1.0])}, {"a": np.array([0])})
    assert np.isnan(p["a"]).all()


def test_zero_gradient_is_not_clipped_to_nan():
    for kw in ({"clipnorm": 1.0}, {"global_clipnorm": 1.0}):
        p = {"a": np.ones(3)}
        SGD(1.0, **kw).apply_gradients(p, {"a": np.zeros(3)}, {"a": np.array([0, 1])})
        assert p["a"].tolist() == [1.0, 1.0, 1.0]


# --------------------------------------------------------------------------- learning rate
def test_schedule_is_evaluated_at_iterations_before_increment():
    sched = schedules.PiecewiseConstantDecay([1], [1.0, 0.1])
    opt = SGD(sched)
    assert opt.learning_rate == 1.0
    p = {"x": np.zeros(1)}
    for _ in range(3):
        opt.apply_gradients(p, {"x": np.ones(1)})
    # steps 0 and 1 use 1.0 (step <= 1), step 2 uses 0.1
    assert p["x"][0] == pytest.approx(-2.1)
    assert opt.learning_rate == pytest.approx(0.1)


def test_schedule_drives_weight_decay_and_adam_like_keras():
    sched = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    _run_against_reference(AdamW, {"learning_rate": sched, "weight_decay": 0.5}, "adamw", ADAM_DEFAULTS)


def test_learning_rate_assignment_takes_effect_next_step():
    opt = SGD(0.1)
    p = {"x": np.zeros(1)}
    opt.apply_gradients(p, {"x": np.ones(1)})
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5
    opt.apply_gradients(p, {"x": np.ones(1)})
    assert p["x"][0] == pytest.approx(-0.6)
    opt.learning_rate = schedules.ExponentialDecay(1.0, 1, 0.5)
    assert opt.learning_rate == pytest.approx(0.25)  # evaluated at iterations = 2
    opt.learning_rate = 2  # ints are accepted and stored as floats
    assert opt.learning_rate == 2.0 and isinstance(opt.learning_rate, float)
    with pytest.raises(ConfigError, match=r"SGD: learning_rate .*-1"):
        opt.learning_rate = -1.0


# --------------------------------------------------------------------------- state
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_state_round_trip_gives_identical_steps(case):
    _, cls, kwargs, _, _ = case
    rng = np.random.default_rng(5)
    grads = [rng.normal(size=9).astype(np.float32) for _ in range(6)]
    p = {"all": rng.normal(size=9).astype(np.float32)}
    a = cls(**kwargs, clipnorm=0.7)
    for g in grads[:3]:
        a.apply_gradients(p, {"all": g.copy()}, {"all": np.array([0, 4])})
    state = a.get_state()
    assert int(state["iterations"]) == 3
    p_b = {"all": p["all"].copy()}
    b = cls.from_config(a.get_config())
    b.set_state(state)
    for g in grads[3:]:
        a.apply_gradients(p, {"all": g.copy()}, {"all": np.array([0, 4])})
        b.apply_gradients(p_b, {"all": g.copy()}, {"all": np.array([0, 4])})
    np.testing.assert_array_equal(p["all"], p_b["all"])
    for key, value in a.get_state().items():
        np.testing.assert_array_equal(value, b.get_state()[key])
    # get_state returns copies: stepping again does not change a saved state
    before = {k: v.copy() for k, v in state.items()}
    a.apply_gradients(p, {"all": grads[0].copy()})
    for key in state:
        np.testing.assert_array_equal(state[key], before[key])
    # restoring into an already-built optimizer rewinds it
    a.set_state(state)
    assert a.iterations == 3


def test_state_names_follow_keras_slots():
    p = {"dense/kernel": np.zeros(2)}
    g = {"dense/kernel": np.ones(2)}
    expected = {
        SGD(momentum=0.5): {"dense/kernel/momentum"},
        SGD(): set(),
        Adam(amsgrad=True): {"dense/kernel/momentum", "dense/kernel/velocity", "dense/kernel/velocity_hat"},
        Adagrad(): {"dense/kernel/accumulator"},
        Adadelta(): {"dense/kernel/accumulated_grad", "dense/kernel/accumulated_delta_var"},
        RMSprop(momentum=0.1, centered=True): {"dense/kernel/velocity", "dense/kernel/momentum",
                                                "dense/kernel/average_gradient"},
        Nadam(): {"dense/kernel/momentum", "dense/kernel/velocity", "u_product"},
        Adamax(): {"dense/kernel/momentum", "dense/kernel/norm"},
    }
    for opt, names in expected.items():
        opt.apply_gradients(p, g)
        assert set(opt.get_state()) == names | {"iterations"}, opt
    assert Adagrad().get_state() == {"iterations": 0}
    acc = Adagrad(initial_accumulator_value=0.1)
    acc.apply_gradients({"w": np.zeros(2)}, {"w": np.zeros(2)})
    assert acc.get_state()["w/accumulator"].tolist() == pytest.approx([0.1, 0.1])


def test_set_state_errors_name_the_slot():
    opt = Adam()
    opt.apply_gradients({"w": np.zeros(3)}, {"w": np.ones(3)})
    state = opt.get_state()
    bad = {**state, "w/velocity": np.zeros(4)}
    with pytest.raises(ConfigError, match=r"w/velocity.*\(4,\).*\(3,\)"):
        opt.set_state(bad)
    with pytest.raises(ConfigError, match=r"unknown optimizer slot 'w/accumulator'"):
        opt.set_state({**state, "w/accumulator": np.zeros(3)})
    with pytest.raises(ConfigError, match="iterations"):
        opt.set_state({k: v for k, v in state.items() if k != "iterations"})
    with pytest.raises(ConfigError, match=r"w/velocity"):
        opt.set_state({k: v for k, v in state.items() if k != "w/velocity"})
    with pytest.raises(ConfigError, match="u_product"):
        Nadam().set_state({"iterations": np.array(0)})
    # a fresh optimizer takes the state, then checks it against the parameter on the first step
    fresh = Adam()
    fresh.set_state(state)
    with pytest.raises(ConfigError, match=r"w/momentum.*\(3,\).*\(5,\)"):
        fresh.apply_gradients({"w": np.zeros(5)}, {"w": np.ones(5)})


def test_parameter_shape_change_is_reported():
    opt = Adam()
    opt.apply_gradients({"w": np.zeros(3)}, {"w": np.ones(3)})
    with pytest.raises(ConfigError, match=r"w/momentum"):
        opt.apply_gradients({"w": np.zeros(4)}, {"w": np.ones(4)})
    with pytest.raises(ConfigError, match=r"gradient 'w' has shape \(2,\)"):
        Adam().apply_gradients({"w": np.zeros(3)}, {"w": np.ones(2)})
    with pytest.raises(ConfigError, match=r"segments\['w'\]"):
        SGD(clipnorm=1.0).apply_gradients({"w": np.zeros(3)}, {"w": np.ones(3)}, {"w": np.array([1, 2])})


def test_empty_and_none_gradients_are_skipped():
    opt = Adam()
    opt.apply_gradients({}, {})
    assert opt.iterations == 0
    p = {"a": np.ones(2), "b": np.ones(2)}
    opt.apply_gradients(p, {"a": np.ones(2), "b": None})
    assert opt.iterations == 1 and p["b"].tolist() == [1.0, 1.0] and p["a"][0] < 1.0


def test_reset_forgets_state():
    opt = Nadam()
    opt.apply_gradients({"w": np.zeros(2)}, {"w": np.ones(2)})
    opt.reset()
    assert opt.get_state() == {"iterations": 0, "u_product": 1.0}


# --------------------------------------------------------------------------- config and registry
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_config_round_trip(case):
    _, cls, kwargs, _, _ = case
    opt = cls(**kwargs, clipvalue=0.3)
    cfg = opt.get_config()
    json.dumps(cfg)
    again = cls.from_config(cfg)
    assert type(again) is cls and again.get_config() == cfg
    via = optimizers.get(json.loads(json.dumps(optimizers.serialize(opt))))
    assert type(via) is cls and via.get_config() == cfg


def test_config_defaults_match_keras():
    assert {k: v for k, v in SGD().get_config().items()} == {
        "name": "sgd", "learning_rate": 0.01, "weight_decay": None, "clipnorm": None, "global_clipnorm": None,
        "clipvalue": None, "momentum": 0.0, "nesterov": False}
    assert Adam().get_config() | {} == {
        "name": "adam", "learning_rate": 0.001, "weight_decay": None, "clipnorm": None, "global_clipnorm": None,
        "clipvalue": None, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}
    assert AdamW().weight_decay == 0.004 and AdamW().learning_rate == 0.001
    assert Adagrad().initial_accumulator_value == 0.1 and Adagrad().epsilon == 1e-7
    assert Adadelta().rho == 0.95 and Adadelta().learning_rate == 0.001
    r = RMSprop()
    assert (r.learning_rate, r.rho, r.momentum, r.epsilon, r.centered) == (0.001, 0.9, 0.0, 1e-7, False)
    for cls in (Nadam, Adamax):
        o = cls()
        assert (o.learning_rate, o.beta_1, o.beta_2, o.epsilon) == (0.001, 0.9, 0.999, 1e-7)


def test_schedule_serialises_inside_optimizer_config():
    sched = schedules.CosineDecay(0.1, 100, alpha=0.1)
    opt = Adam(sched)
    cfg = opt.get_config()
    assert cfg["learning_rate"] == {"class_name": "CosineDecay", "config": sched.get_config()}
    again = optimizers.get(json.loads(json.dumps(optimizers.serialize(opt))))
    assert again._learning_rate == sched


def test_get_accepts_names_instances_and_keras_dicts():
    assert type(optimizers.get("adam")) is Adam
    assert type(optimizers.get("Adam")) is Adam
    assert type(optimizers.get("SGD")) is SGD
    assert type(optimizers.get("RMSprop")) is RMSprop
    opt = Nadam()
    assert optimizers.get(opt) is opt
    keras_cfg = {"module": "keras.optimizers", "class_name": "Adam", "registered_name": None,
                 "config": {"name": "adam", "learning_rate": 0.002, "weight_decay": None, "clipnorm": None,
                            "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                            "ema_overwrite_frequency": None, "loss_scale_factor": None,
                            "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999,
                            "epsilon": 1e-07, "amsgrad": False}}
    got = optimizers.get(keras_cfg)
    assert type(got) is Adam and got.learning_rate == 0.002
    keras_sched = {"module": "keras.optimizers.schedules", "class_name": "ExponentialDecay", "registered_name": None,
                   "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5,
                              "staircase": False, "name": "ExponentialDecay"}}
    got = optimizers.get({"class_name": "SGD", "config": {"learning_rate": keras_sched, "momentum": 0.9}})
    assert got.learning_rate == 0.1 and got.momentum == 0.9
    with pytest.raises(ConfigError, match="use_ema"):
        optimizers.get({"class_name": "Adam", "config": {"use_ema": True}})
    assert optimizers.names() == sorted(["sgd", "adam", "adamw", "adagrad", "adadelta", "rmsprop", "nadam", "adamax"])
    assert set(optimizers.OPTIMIZERS) == set(optimizers.names())
    with pytest.raises(ConfigError, match=r"unknown optimizer 'rmsprob' \(did you mean \"rmsprop\"\?\)"):
        optimizers.get("rmsprob")
    with pytest.raises(ConfigError, match="unknown optimizer"):
        optimizers.get(None)
    with pytest.raises(ConfigError, match="Adam: bad config"):
        Adam.from_config({"momentum": 0.9})


def test_custom_name_is_kept_but_registry_name_serialises():
    opt = Adam(name="my_adam")
    assert opt.name == "my_adam"
    assert optimizers.serialize(opt)["name"] == "adam"
    again = optimizers.get(optimizers.serialize(opt))
    assert type(again) is Adam and again.name == "my_adam"


# --------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("make, pattern", [
    (lambda: SGD(learning_rate=-0.1), r"SGD: learning_rate must be a float >= 0 .*got -0\.1"),
    (lambda: Adam(learning_rate="fast"), r"Adam: learning_rate .*'fast'"),
    (lambda: Adam(learning_rate=float("nan")), r"Adam: learning_rate .*nan"),
    (lambda: SGD(momentum=1.5), r"SGD: momentum must be a float in \[0, 1\], got 1\.5"),
    (lambda: SGD(momentum=-0.1), r"SGD: momentum must be a float in \[0, 1\], got -0\.1"),
    (lambda: RMSprop(momentum=2.0), r"RMSprop: momentum must be a float in \[0, 1\], got 2\.0"),
    (lambda: RMSprop(rho=1.1), r"RMSprop: rho .*\[0, 1\], got 1\.1"),
    (lambda: Adam(beta_1=1.0), r"Adam: beta_1 must be a float in \[0, 1\), got 1\.0"),
    (lambda: Nadam(beta_2=-0.5), r"Nadam: beta_2 .*-0\.5"),
    (lambda: Adam(epsilon=-1e-7), r"Adam: epsilon must be >= 0, got -1e-07"),
    (lambda: Adagrad(initial_accumulator_value=-1), r"Adagrad: initial_accumulator_value must be >= 0"),
    (lambda: Adadelta(rho=2), r"Adadelta: rho"),
    (lambda: SGD(nesterov="yes"), r"SGD: nesterov must be True or False, got 'yes'"),
    (lambda: Adam(amsgrad=1), r"Adam: amsgrad must be True or False"),
    (lambda: SGD(clipnorm=-1.0), r"SGD: clipnorm must be >= 0, got -1\.0"),
    (lambda: SGD(clipnorm=1.0, clipvalue=1.0), r"SGD: only one of clipnorm, clipvalue and global_clipnorm"),
    (lambda: AdamW(weight_decay=None), r"AdamW: weight_decay must be a float >= 0, got None"),
    (lambda: SGD(weight_decay=-0.1), r"SGD: weight_decay must be >= 0, got -0\.1"),
    (lambda: Adam(name=3), r"Adam: name must be a string"),
])
def test_bad_arguments_raise_config_error(make, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make()


def test_bad_argument_error_is_also_a_value_error():
    with pytest.raises(ValueError):
        SGD(momentum=3.0)


# --------------------------------------------------------------------------- convergence
CONVERGE = [
    (SGD, {"learning_rate": 0.1}),
    (SGD, {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    (Adam, {"learning_rate": 0.05}),
    (Adam, {"learning_rate": 0.05, "amsgrad": True}),
    (AdamW, {"learning_rate": 0.05, "weight_decay": 0.0}),
    (Adagrad, {"learning_rate": 0.5}),
    (Adadelta, {"learning_rate": 1.0, "epsilon": 1e-3}),
    (RMSprop, {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    (RMSprop, {"learning_rate": 0.01}),
    (Nadam, {"learning_rate": 0.05}),
    (Adamax, {"learning_rate": 0.1}),
]


@pytest.mark.parametrize("cls, kwargs", CONVERGE, ids=lambda x: x.__name__ if isinstance(x, type) else "")
def test_converges_on_a_quadratic(cls, kwargs):
    a = np.array([1.0, 2.0, 0.5, 3.0], dtype=np.float32)
    target = np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32)
    p = {"x": np.zeros(4, dtype=np.float32)}
    opt = cls(**kwargs)
    loss0 = float(0.5 * np.sum(a * (p["x"] - target) ** 2))
    for _ in range(1500):
        opt.apply_gradients(p, {"x": a * (p["x"] - target)})
    loss = float(0.5 * np.sum(a * (p["x"] - target) ** 2))
    assert loss < 1e-3 * loss0, (cls.__name__, loss)
    assert p["x"].dtype == np.float32


def test_clipnorm_segments_on_a_non_contiguous_gradient():
    base = np.zeros((4, 2))
    base[:, 0] = [3.0, 4.0, 0.3, 0.4]
    g = base[:, 0]  # a strided view
    p = {"w": np.zeros(4)}
    SGD(1.0, clipnorm=1.0).apply_gradients(p, {"w": g}, {"w": np.array([0, 2])})
    assert (-p["w"]).tolist() == pytest.approx([0.6, 0.8, 0.3, 0.4])

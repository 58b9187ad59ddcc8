"""Optimizers with Keras 3's names, defaults and update formulas.

The model calls `apply_gradients(params, grads, segments)` once per batch, usually with one
flat vector holding every trainable parameter, so each step is written for speed: the scalars
that depend on the iteration (bias corrections, the scheduled learning rate) are Python floats
computed once per step, and the arrays are updated in place with `out=` ufuncs on state and
scratch buffers allocated once per key. Python floats never upcast float32 arrays (NEP 50).

The order of a step is Keras's: clip the gradients (`clipnorm` per variable, `global_clipnorm`
over all of them, or `clipvalue` elementwise), then decay the weights (`p -= p * weight_decay *
lr`), then apply the optimizer's own update, then increment `iterations`. A learning-rate
schedule is evaluated at `iterations` before the increment, so the first step uses `schedule(0)`.

Slot names follow Keras (`momentum`, `velocity`, `velocity_hat`, `accumulator`, ...); `get_state`
returns them as `"<key>/<slot>"` arrays beside `"iterations"` (and Nadam's `"u_product"`).
"""

from __future__ import annotations

import math

import numpy as np

from tuinet.errors import ConfigError, unknown_name
from tuinet.nn import schedules as _schedules
from tuinet.nn import schedules  # noqa: F401 - keras.optimizers.schedules.ExponentialDecay(...)
from tuinet.nn.backend import float32_problem
from tuinet.nn.schedules import LearningRateSchedule

# Keras config keys that tuinet does not implement; accepted by from_config at their no-op values.
_KERAS_ONLY_DEFAULTS = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                        "loss_scale_factor": None, "gradient_accumulation_steps": None}


class Optimizer:
    """Base class: holds the learning rate, clipping, weight decay, iteration count and slots.

    Subclasses set `name` (the registry key), `_n_scratch` (scratch buffers per key) and
    implement `_slot_specs()`, `_coefficients(lr, t)` and `_update(p, g, slots, tmp, tmp2, c)`.

    Args:
        learning_rate: A float >= 0 that float32 can hold (at most ~3.4e38; a positive rate
            must not round to 0), or a `LearningRateSchedule`.
        weight_decay: If set, each step first does `p -= p * weight_decay * lr`.
        clipnorm: If set, each variable's gradient is scaled so that its L2 norm is at most this.
        clipvalue: If set, gradients are clipped elementwise to `[-clipvalue, clipvalue]`.
        global_clipnorm: If set, all gradients are scaled together so that their joint L2
            norm is at most this. At most one of the three clipping arguments may be set.
        name: Instance name; defaults to the registry name.
    """

    name = "optimizer"
    _n_scratch = 1
    # True when no slot can become NaN or infinite while the weights stay finite, given finite
    # slots and a gradient whose squares are all finite (the model refuses any other): slots
    # that are running averages of `g` or `g**2`, or whose overflow reaches the weights in the
    # same step. The model then skips checking the slots after each step. Accumulators that
    # only grow (Adagrad, Adadelta) must leave it False.
    bounded_slots = False

    def __init__(self, learning_rate=0.001, *, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None) -> None:
        self.weight_decay = self._nonneg("weight_decay", weight_decay, allow_none=True)
        self.clipnorm = self._nonneg("clipnorm", clipnorm, allow_none=True)
        self.clipvalue = self._nonneg("clipvalue", clipvalue, allow_none=True)
        self.global_clipnorm = self._nonneg("global_clipnorm", global_clipnorm, allow_none=True)
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ConfigError(
                f"{type(self).__name__}: only one of clipnorm, clipvalue and global_clipnorm can be set, got "
                f"clipnorm={clipnorm!r}, clipvalue={clipvalue!r}, global_clipnorm={global_clipnorm!r}")
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"{type(self).__name__}: name must be a string, got {name!r}")
        if name is not None:
            self.name = name
        self.learning_rate = learning_rate
        self.iterations = 0
        self._slots: dict[str, dict[str, np.ndarray]] = {}
        self._entries: dict[str, tuple] = {}   # key -> (shape, slot arrays in order, tmp, tmp2)
        self._segments: dict[str, tuple] = {}  # key -> (segments object, starts, bounds, use_dot)
        # Every slot of a key lives in one block: key -> (that block, flat; its undo buffer).
        self._blocks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._layout = 0        # bumped whenever slots are created or replaced
        self._snapshot = (-1,)  # (layout, slots, entries, blocks, block pairs) as `save_step` saw them
        self._saved_iterations: int | None = None  # kept by `save_step` for `undo_step`
        self._saved_scalars: dict = {}
        self._has_scalars = type(self)._scalar_state is not Optimizer._scalar_state

    # ----------------------------------------------------------------- validation helpers
    def _number(self, arg: str, value, *, allow_none: bool = False) -> float | None:
        if value is None and allow_none:
            return None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value):
            raise ConfigError(f"{type(self).__name__}: {arg} must be a finite float, got {value!r}")
        return float(value)

    def _nonneg(self, arg: str, value, *, allow_none: bool = False) -> float | None:
        value = self._number(arg, value, allow_none=allow_none)
        if value is not None and value < 0:
            raise ConfigError(f"{type(self).__name__}: {arg} must be >= 0, got {value!r}")
        return value

    def _unit(self, arg: str, value, *, closed: bool = True) -> float:
        """A float in [0, 1] (or [0, 1) when `closed` is False)."""
        value = self._number(arg, value)
        if value < 0 or value > 1 or (not closed and value == 1):
            interval = "[0, 1]" if closed else "[0, 1)"
            raise ConfigError(f"{type(self).__name__}: {arg} must be a float in {interval}, got {value!r}")
        return value

    def _bool(self, arg: str, value) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigError(f"{type(self).__name__}: {arg} must be True or False, got {value!r}")
        return bool(value)

    # ----------------------------------------------------------------- learning rate
    @property
    def learning_rate(self) -> float:
        """The learning rate the next step will use (a schedule evaluated at `iterations`)."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self.iterations))
        return lr

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, LearningRateSchedule):
            self._learning_rate = value
            return
        if isinstance(value, dict):
            self._learning_rate = _schedules.get(value)
            return
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value) or value < 0:
            raise ConfigError(
                f"{type(self).__name__}: learning_rate must be a float >= 0 or a LearningRateSchedule, got {value!r}")
        problem = float32_problem(value)
        if problem:
            raise ConfigError(f"{type(self).__name__}: learning_rate {problem}")
        self._learning_rate = float(value)

    # ----------------------------------------------------------------- subclass hooks
    def _slot_specs(self) -> tuple[tuple[str, float], ...]:
        """(slot name, initial value) for each slot this configuration keeps per key."""
        return ()

    def _coefficients(self, lr: float, t: int) -> tuple:
        """Per-step scalars for `_update`, from the learning rate and `t = iterations + 1`."""
        return (lr,)

    def _update(self, p, g, s, tmp, tmp2, c) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _scalar_state(self) -> dict[str, float]:
        """Per-step scalars kept across steps (Nadam's u_product), for get/set_state."""
        return {}

    def _set_scalar_state(self, values: dict[str, float]) -> None:
        pass

    # ----------------------------------------------------------------- the step
    def apply_gradients(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
                        segments: dict[str, np.ndarray] | None = None) -> None:
        """Update every `params[k]` in place from `grads[k]`; count one iteration.

        `grads` may be modified in place by clipping. `segments[k]`, when given, holds the start
        offsets of the variables concatenated in the flat `params[k]`, for per-variable clipnorm.
        Keys whose gradient is None are skipped; with no gradient at all nothing happens (Keras).
        """
        keys = [k for k, g in grads.items() if g is not None]
        if not keys:
            return
        lr = self._learning_rate
        if not isinstance(lr, float):
            lr = float(lr(self.iterations))
        t = self.iterations + 1
        c = self._coefficients(lr, t)
        # Keras's `p -= p * wd * lr`, kept as a subtraction: folding it into one `p *= 1 - wd*lr`
        # would round the factor to float32 and bias the decay by up to ~1% at typical settings.
        decay = self.weight_decay * lr if self.weight_decay else None
        clipnorm = self.clipnorm if self.clipnorm else None
        clipvalue = self.clipvalue if self.clipvalue else None
        global_scale = self._global_scale(grads, keys) if self.global_clipnorm else None
        entries = self._entries
        update = self._update
        for k in keys:
            g = grads[k]
            try:
                p = params[k]
            except KeyError:
                raise ConfigError(f"{type(self).__name__}: gradient {k!r} has no matching parameter") from None
            e = entries.get(k)
            if e is None or e[0] != p.shape:
                e = self._entry(k, p)
            if g.shape != p.shape:
                raise ConfigError(
                    f"{type(self).__name__}: gradient {k!r} has shape {g.shape}, parameter has shape {p.shape}")
            if clipnorm is not None:
                self._clip_by_norm(k, g, e[2], clipnorm, segments)
            elif global_scale is not None:
                g *= global_scale
            elif clipvalue is not None:
                np.clip(g, -clipvalue, clipvalue, out=g)
            if decay is not None:
                tmp = e[2]
                np.multiply(p, decay, out=tmp)
                p -= tmp
            update(p, g, e[1], e[2], e[3], c)
        self.iterations = t

    def _entry(self, key: str, p: np.ndarray) -> tuple:
        """Create (or check restored) slots and scratch buffers for `key`.

        The slots of a key are rows of one block, so that `save_step` copies and `slots_finite`
        checks each key's whole state with one NumPy call.
        """
        specs = self._slot_specs()
        slots = self._slots.get(key)
        if slots is not None:
            for name, _ in specs:
                arr = slots[name]
                if arr.shape != p.shape:
                    raise ConfigError(
                        f"{type(self).__name__}: optimizer slot {key}/{name} has shape {arr.shape} but the "
                        f"parameter has shape {p.shape}; the model changed: use a new optimizer")
        block = np.empty((len(specs), p.size), dtype=p.dtype)
        for i, (name, init) in enumerate(specs):
            block[i] = init if slots is None else slots[name].reshape(-1)
        self._slots[key] = {name: block[i].reshape(p.shape) for i, (name, _) in enumerate(specs)}
        if specs:
            self._blocks[key] = (block.reshape(-1), np.empty(block.size, dtype=block.dtype))
        else:
            self._blocks.pop(key, None)
        self._layout += 1
        tmp = np.empty_like(p)
        tmp2 = np.empty_like(p) if self._n_scratch >= 2 else None
        entry = (p.shape, tuple(self._slots[key][name] for name, _ in specs), tmp, tmp2)
        self._entries[key] = entry
        return entry

    # ----------------------------------------------------------------- clipping
    def _global_scale(self, grads, keys) -> float | None:
        """Keras's `clip_by_global_norm` factor, or None when no scaling is needed."""
        total = 0.0
        for k in keys:
            g = grads[k]
            total += float(np.vdot(g, g))
        norm = math.sqrt(total)
        if not math.isfinite(norm):
            return math.nan  # Keras turns every gradient into NaN when the norm is not finite.
        if norm <= self.global_clipnorm:
            return None
        return self.global_clipnorm / norm

    def _clip_by_norm(self, key, g, tmp, clipnorm, segments) -> None:
        """Scale each variable's gradient by `clipnorm / max(norm, clipnorm)` (Keras `_clip_by_norm`)."""
        seg = None if segments is None else segments.get(key)
        if seg is None:
            norm = math.sqrt(float(np.vdot(g, g)))
            if not norm <= clipnorm:  # also NaN
                g *= clipnorm / max(norm, clipnorm) if norm == norm else math.nan
            return
        cached = self._segments.get(key)
        if cached is None or cached[0] is not seg:
            cached = self._segment_bounds(key, seg, g.size)
        _, starts, bounds, use_dot = cached
        flat = g.reshape(-1)
        if use_dot:  # few big variables: one BLAS dot each beats a full-size square + reduceat
            norms = np.sqrt([float(np.vdot(flat[a:b], flat[a:b])) for a, b in bounds])
        else:
            sq = tmp.reshape(-1)
            np.multiply(flat, flat, out=sq)
            norms = np.sqrt(np.add.reduceat(sq, starts), dtype=np.float64)
        over = np.flatnonzero(~(norms <= clipnorm))  # NaN norms too: they make the gradient NaN
        if over.size:
            scales = clipnorm / np.maximum(norms[over], clipnorm)
            for i, s in zip(over.tolist(), scales.tolist()):
                a, b = bounds[i]
                flat[a:b] *= s
            if not np.shares_memory(flat, g):  # reshape had to copy a non-contiguous gradient
                g[...] = flat.reshape(g.shape)

    def _segment_bounds(self, key, seg, size) -> tuple:
        starts = np.asarray(seg)
        if starts.ndim != 1 or starts.size == 0 or not np.issubdtype(starts.dtype, np.integer):
            raise ConfigError(f"{type(self).__name__}: segments[{key!r}] must be a non-empty 1-D int array, got {seg!r}")
        ends = np.append(starts[1:], size)
        if starts[0] != 0 or np.any(ends <= starts) or ends[-1] != size:
            raise ConfigError(
                f"{type(self).__name__}: segments[{key!r}] must be increasing start offsets from 0 below {size}, "
                f"got {starts.tolist()}")
        bounds = list(zip(starts.tolist(), ends.tolist()))
        use_dot = len(bounds) * 6000 < 15000 + size
        cached = (seg, starts.astype(np.intp), bounds, use_dot)
        self._segments[key] = cached
        return cached

    # ----------------------------------------------------------------- undo
    def save_step(self) -> None:
        """Remember the slots, `iterations` and per-step scalars, so that `undo_step` can take
        back the next step exactly. Costs one copy of each key's slot block, into a buffer
        allocated with it."""
        snapshot = self._snapshot
        if snapshot[0] != self._layout:
            snapshot = self._snapshot = (self._layout, {k: dict(v) for k, v in self._slots.items()},
                                         dict(self._entries), dict(self._blocks), list(self._blocks.values()))
        for flat, backup in snapshot[4]:
            backup[...] = flat
        self._saved_iterations = self.iterations
        if self._has_scalars:
            self._saved_scalars = self._scalar_state()

    def undo_step(self) -> None:
        """Put back what the last `save_step` remembered: the step since then never happened."""
        if self._saved_iterations is None:
            raise ConfigError(f"{type(self).__name__}: undo_step without save_step")
        layout, slots, entries, blocks, pairs = self._snapshot
        for flat, backup in pairs:
            flat[...] = backup
        if layout != self._layout:  # the step created slots: forget them again
            self._slots = {k: dict(v) for k, v in slots.items()}
            self._entries, self._blocks, self._layout = dict(entries), dict(blocks), layout
        self.iterations, self._saved_iterations = self._saved_iterations, None
        if self._has_scalars:
            self._set_scalar_state(self._saved_scalars)

    def slots_finite(self) -> bool:
        """Whether every slot value is finite (one dot product per key, exact on overflow)."""
        total = 0.0
        for flat, _ in self._blocks.values():
            total += float(flat.dot(flat))
        return math.isfinite(total) or all(bool(np.isfinite(flat).all()) for flat, _ in self._blocks.values())

    def non_finite_slot(self) -> str | None:
        """The name of the first slot (`velocity`) holding a NaN or infinity, or None."""
        for slots in self._slots.values():
            for name, arr in slots.items():
                if not np.isfinite(arr).all():
                    return name
        return None

    # ----------------------------------------------------------------- state
    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of every slot as `"<key>/<slot>"`, plus `"iterations"` and per-step scalars."""
        state = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for name, value in self._scalar_state().items():
            state[name] = np.array(value, dtype=np.float64)
        for key, slots in self._slots.items():
            for name, arr in slots.items():
                state[f"{key}/{name}"] = arr.copy()
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what `get_state` returned, exactly; the next step continues from it."""
        owner = type(self).__name__
        if "iterations" not in state:
            raise ConfigError(f"{owner}: optimizer state has no 'iterations' entry")
        it = np.asarray(state["iterations"])
        if it.shape != () or it.dtype.kind not in "iuf" or it != int(it) or it < 0:
            raise ConfigError(f"{owner}: optimizer state 'iterations' must be an integer >= 0, got {state['iterations']!r}")
        scalar_names = set(self._scalar_state())
        scalars = {}
        for name in scalar_names:
            if name not in state:
                raise ConfigError(f"{owner}: optimizer state has no {name!r} entry")
            value = np.asarray(state[name])
            if value.shape != ():
                raise ConfigError(f"{owner}: optimizer state {name!r} must be a scalar, got shape {value.shape}")
            scalars[name] = float(value)
        expected = {name for name, _ in self._slot_specs()}
        new_slots: dict[str, dict[str, np.ndarray]] = {}
        for full, value in state.items():
            if full == "iterations" or full in scalar_names:
                continue
            key, sep, name = full.rpartition("/")
            if not sep or name not in expected:
                raise ConfigError(
                    f"{owner}: unknown optimizer slot {full!r}; this configuration keeps "
                    f"{', '.join(sorted(expected)) or 'no slots'} per parameter")
            arr = np.asarray(value)
            old = self._slots.get(key, {}).get(name)
            if old is not None and old.shape != arr.shape:
                raise ConfigError(
                    f"{owner}: optimizer slot {full!r} has shape {arr.shape}, expected {old.shape}")
            new_slots.setdefault(key, {})[name] = np.array(arr, dtype=arr.dtype if old is None else old.dtype)
        for key, slots in new_slots.items():
            missing = expected - set(slots)
            if missing:
                raise ConfigError(f"{owner}: optimizer state lacks slot {key}/{sorted(missing)[0]}")
            shapes = {arr.shape for arr in slots.values()}
            if len(shapes) > 1:
                raise ConfigError(f"{owner}: optimizer slots of {key!r} disagree in shape: {sorted(shapes)}")
        self._slots = new_slots
        self._entries, self._blocks = {}, {}
        self._layout += 1
        self.iterations = int(it)
        self._set_scalar_state(scalars)

    def reset(self) -> None:
        """Forget all slots and start again at iteration 0 (keeps the configuration)."""
        self._slots, self._entries, self._segments, self._blocks = {}, {}, {}, {}
        self._layout += 1
        self.iterations = 0
        self._set_scalar_state({k: 1.0 for k in self._scalar_state()})

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        lr = self._learning_rate
        return {
            "name": self.name,
            "learning_rate": _schedules.serialize(lr) if isinstance(lr, LearningRateSchedule) else lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }

    @classmethod
    def from_config(cls, config: dict) -> "Optimizer":
        """Rebuild from `get_config()` output; Keras configs load too when they use no
        feature tuinet lacks (EMA, loss scaling, gradient accumulation)."""
        config = dict(config)
        extras = {key: config.pop(key) for key in _KERAS_ONLY_DEFAULTS if key in config}
        if not extras.get("use_ema"):
            extras.pop("ema_momentum", None)  # ignored by Keras too when EMA is off
        for key, value in extras.items():
            if value != _KERAS_ONLY_DEFAULTS[key]:
                raise ConfigError(f"{cls.__name__}: {key}={value!r} is not supported by tuinet")
        config.pop("is_legacy_optimizer", None)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.get(config["learning_rate"])
        try:
            return cls(**config)
        except TypeError as exc:
            raise ConfigError(f"{cls.__name__}: bad config {config!r} ({exc})") from None

    def __repr__(self) -> str:
        cfg = self.get_config()
        cfg.pop("name")
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if v is not None)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum.

    Without momentum: `p -= lr * g`. With momentum, Keras keeps the learning rate inside the
    velocity: `m = momentum * m - lr * g`, then `p += m`, or with Nesterov
    `p += momentum * m - lr * g`.
    """

    name = "sgd"
    bounded_slots = True

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, *, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None) -> None:
        self.momentum = self._unit("momentum", momentum)
        self.nesterov = self._bool("nesterov", nesterov)
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name)

    def _slot_specs(self):
        return (("momentum", 0.0),) if self.momentum != 0 else ()

    def _coefficients(self, lr, t):
        return (lr, self.momentum)

    def _update(self, p, g, s, tmp, tmp2, c):
        lr, mom = c
        np.multiply(g, lr, out=tmp)
        if not s:
            p -= tmp
            return
        m = s[0]
        m *= mom
        m -= tmp
        if self.nesterov:
            p -= tmp
            np.multiply(m, mom, out=tmp)
            p += tmp
        else:
            p += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with Keras's epsilon outside the square root and bias correction folded in the step.

    `m += (g - m) * (1 - beta_1)`, `v += (g**2 - v) * (1 - beta_2)`,
    `alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`, `p -= alpha * m / (sqrt(v) + epsilon)`;
    with `amsgrad`, `v_hat = max(v_hat, v)` replaces `v` in the step.
    """

    name = "adam"
    bounded_slots = True

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, *,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None) -> None:
        self.beta_1 = self._unit("beta_1", beta_1, closed=False)
        self.beta_2 = self._unit("beta_2", beta_2, closed=False)
        self.epsilon = self._nonneg("epsilon", epsilon)
        self.amsgrad = self._bool("amsgrad", amsgrad)
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name)

    def _slot_specs(self):
        specs = (("momentum", 0.0), ("velocity", 0.0))
        return specs + (("velocity_hat", 0.0),) if self.amsgrad else specs

    def _coefficients(self, lr, t):
        b1, b2 = self.beta_1, self.beta_2
        alpha = lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        return (1.0 - b1, 1.0 - b2, alpha, self.epsilon)

    def _update(self, p, g, s, tmp, tmp2, c):
        c1, c2, alpha, eps = c
        m, v = s[0], s[1]
        np.subtract(g, m, out=tmp)
        tmp *= c1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= c2
        v += tmp
        if self.amsgrad:
            np.maximum(s[2], v, out=s[2])
            v = s[2]
        np.sqrt(v, out=tmp)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= alpha
        p -= tmp

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay: each step first does `p -= p * weight_decay * lr`."""

    name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, *, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None) -> None:
        if weight_decay is None:
            raise ConfigError("AdamW: weight_decay must be a float >= 0, got None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name)


class Adagrad(Optimizer):
    """`acc += g**2`, `p -= lr * g / sqrt(acc + epsilon)`; `acc` starts at `initial_accumulator_value`."""

    name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, *, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None) -> None:
        self.initial_accumulator_value = self._nonneg("initial_accumulator_value", initial_accumulator_value)
        self.epsilon = self._nonneg("epsilon", epsilon)
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name)

    def _slot_specs(self):
        return (("accumulator", self.initial_accumulator_value),)

    def _coefficients(self, lr, t):
        return (lr, self.epsilon)

    def _update(self, p, g, s, tmp, tmp2, c):
        lr, eps = c
        acc = s[0]
        np.multiply(g, g, out=tmp)
        acc += tmp
        np.add(acc, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        p -= tmp

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """`E[g2] = rho E[g2] + (1-rho) g**2`, `d = -sqrt(E[d2] + eps) / sqrt(E[g2] + eps) * g`,
    `E[d2] = rho E[d2] + (1-rho) d**2`, `p += lr * d`.
    """

    name = "adadelta"
    _n_scratch = 2

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, *, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None) -> None:
        self.rho = self._unit("rho", rho)
        self.epsilon = self._nonneg("epsilon", epsilon)
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name)

    def _slot_specs(self):
        return (("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0))

    def _coefficients(self, lr, t):
        return (lr, self.rho, 1.0 - self.rho, self.epsilon)

    def _update(self, p, g, s, tmp, tmp2, c):
        lr, rho, one_minus_rho, eps = c
        acc_g, acc_d = s
        np.multiply(g, g, out=tmp)
        tmp *= one_minus_rho
        acc_g *= rho
        acc_g += tmp
        # tmp = -delta = sqrt((acc_d + eps) / (acc_g + eps)) * g
        np.add(acc_d, eps, out=tmp)
        np.add(acc_g, eps, out=tmp2)
        tmp /= tmp2
        np.sqrt(tmp, out=tmp)
        tmp *= g
        np.multiply(tmp, tmp, out=tmp2)
        tmp2 *= one_minus_rho
        acc_d *= rho
        acc_d += tmp2
        tmp *= lr
        p -= tmp

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """`v = rho v + (1-rho) g**2`; step `lr * g / sqrt(v + epsilon)` (centered: `v - mg**2 + eps`
    with `mg = rho mg + (1-rho) g`); with momentum `mom = momentum * mom + step`, `p -= mom`.
    """

    name = "rmsprop"
    bounded_slots = True

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, *,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None) -> None:
        self.rho = self._unit("rho", rho)
        self.momentum = self._unit("momentum", momentum)
        self.epsilon = self._nonneg("epsilon", epsilon)
        self.centered = self._bool("centered", centered)
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name)

    def _slot_specs(self):
        specs = (("velocity", 0.0),)
        if self.momentum > 0:
            specs += (("momentum", 0.0),)
        if self.centered:
            specs += (("average_gradient", 0.0),)
        return specs

    def _coefficients(self, lr, t):
        return (lr, self.rho, 1.0 - self.rho, self.epsilon)

    def _update(self, p, g, s, tmp, tmp2, c):
        lr, rho, one_minus_rho, eps = c
        v = s[0]
        np.multiply(g, g, out=tmp)
        tmp *= one_minus_rho
        v *= rho
        v += tmp
        if self.centered:
            avg = s[-1]
            np.multiply(g, one_minus_rho, out=tmp)
            avg *= rho
            avg += tmp
            np.multiply(avg, avg, out=tmp)
            np.subtract(v, tmp, out=tmp)
            tmp += eps
        else:
            np.add(v, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        if self.momentum > 0:
            mom = s[1]
            mom *= self.momentum
            mom += tmp
            p -= mom
        else:
            p -= tmp

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat), Keras's momentum-schedule form.

    With `u_t = beta_1 * (1 - 0.5 * 0.96**t)` and `u_product` the running product of the `u_t`
    (updated once per step): `m_hat = u_{t+1} m / (1 - u_product * u_{t+1}) + (1 - u_t) g /
    (1 - u_product)`, `v_hat = v / (1 - beta_2**t)`, `p -= lr * m_hat / (sqrt(v_hat) + epsilon)`.
    """

    name = "nadam"
    bounded_slots = True
    _n_scratch = 2

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, *, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None) -> None:
        self.beta_1 = self._unit("beta_1", beta_1, closed=False)
        self.beta_2 = self._unit("beta_2", beta_2, closed=False)
        self.epsilon = self._nonneg("epsilon", epsilon)
        self.u_product = 1.0
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name)

    def _slot_specs(self):
        return (("momentum", 0.0), ("velocity", 0.0))

    def _scalar_state(self):
        return {"u_product": self.u_product}

    def _set_scalar_state(self, values):
        self.u_product = values.get("u_product", 1.0)

    def _coefficients(self, lr, t):
        b1, b2 = self.beta_1, self.beta_2
        u_t = b1 * (1.0 - 0.5 * 0.96 ** t)
        u_t1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        self.u_product *= u_t  # once per step, before the per-key updates (Keras's _backend_update_step)
        u_prod = self.u_product
        u_prod_1 = u_prod * u_t1
        return (1.0 - b1, 1.0 - b2,
                lr * u_t1 / (1.0 - u_prod_1),      # coefficient of m in lr * m_hat
                lr * (1.0 - u_t) / (1.0 - u_prod),  # coefficient of g in lr * m_hat
                1.0 / math.sqrt(1.0 - b2 ** t),     # sqrt(v_hat) = sqrt(v) * this
                self.epsilon)

    def _update(self, p, g, s, tmp, tmp2, c):
        c1, c2, cm, cg, vscale, eps = c
        m, v = s
        np.subtract(g, m, out=tmp)
        tmp *= c1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= c2
        v += tmp
        np.multiply(m, cm, out=tmp)
        np.multiply(g, cg, out=tmp2)
        tmp += tmp2
        np.sqrt(v, out=tmp2)
        tmp2 *= vscale
        tmp2 += eps
        tmp /= tmp2
        p -= tmp

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adamax(Optimizer):
    """`m += (g - m) (1 - beta_1)`, `u = max(beta_2 u, |g|)`,
    `p -= lr * m / ((1 - beta_1**t) (u + epsilon))`.
    """

    name = "adamax"
    bounded_slots = True

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, *, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None) -> None:
        self.beta_1 = self._unit("beta_1", beta_1, closed=False)
        self.beta_2 = self._unit("beta_2", beta_2)
        self.epsilon = self._nonneg("epsilon", epsilon)
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name)

    def _slot_specs(self):
        return (("momentum", 0.0), ("norm", 0.0))

    def _coefficients(self, lr, t):
        return (1.0 - self.beta_1, self.beta_2, lr / (1.0 - self.beta_1 ** t), self.epsilon)

    def _update(self, p, g, s, tmp, tmp2, c):
        c1, b2, step, eps = c
        m, u = s
        np.subtract(g, m, out=tmp)
        tmp *= c1
        m += tmp
        u *= b2
        np.abs(g, out=tmp)
        np.maximum(u, tmp, out=u)
        np.add(u, eps, out=tmp)
        np.divide(m, tmp, out=tmp)
        tmp *= step
        p -= tmp

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Adam, AdamW, Adagrad, Adadelta, RMSprop, Nadam, Adamax)
}


def names() -> list[str]:
    """Every optimizer registry name, for dropdowns and error messages."""
    return sorted(OPTIMIZERS)


def get(spec) -> Optimizer:
    """An optimizer from a name (`"adam"`, `"Adam"`), an instance, or a dict
    `{"class_name" or "name": ..., "config": {...}}` (Keras's serialized form included)."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, dict):
        cls_name = spec.get("class_name", spec.get("name"))
        cls = _lookup(cls_name)
        config = spec.get("config", {})
        if not isinstance(config, dict):
            raise ConfigError(f"{cls.__name__}: config must be a dict, got {config!r}")
        return cls.from_config(config)
    return _lookup(spec)()


def _lookup(name) -> type[Optimizer]:
    if not isinstance(name, str) or name.lower() not in OPTIMIZERS:
        raise unknown_name("optimizer", name, OPTIMIZERS)
    return OPTIMIZERS[name.lower()]


def serialize(opt: Optimizer) -> dict:
    """`{"name": <registry name>, "config": opt.get_config()}`, the form `get` reads back."""
    return {"name": type(opt).name, "config": opt.get_config()}


deserialize = get

"""Learning-rate schedules with Keras 3's names, arguments and formulas.

A schedule maps the optimizer step (the number of updates applied so far, starting at 0) to a
learning rate. Optimizers call it once per update with their `iterations` before the increment,
as Keras does, so the first update uses `schedule(0)`. Values are Python floats computed in
double precision (Keras computes them in the dtype of `initial_learning_rate`).

Configs are JSON-friendly; `serialize` gives `{"class_name": ..., "config": {...}}` and `get`
accepts that form, Keras's own (with `module` / `registered_name`), or an instance.
"""

from __future__ import annotations

import bisect
import math
import re

from tuinet.errors import ConfigError, unknown_name
from tuinet.nn.backend import float32_problem


class LearningRateSchedule:
    """Base class: subclasses implement `__call__(step) -> float` and `get_config()`."""

    def __call__(self, step) -> float:  # pragma: no cover - abstract
        raise NotImplementedError(f"learning rate schedule {type(self).__name__!r} must override __call__(step)")

    def get_config(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError(f"learning rate schedule {type(self).__name__!r} must override get_config()")

    @classmethod
    def from_config(cls, config: dict) -> "LearningRateSchedule":
        try:
            return cls(**config)
        except TypeError as exc:
            raise ConfigError(f"{cls.__name__}: bad config {config!r} ({exc})") from None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(type(self).__name__)


def _number(owner: str, arg: str, value, *, positive: bool = False, allow_none: bool = False,
            rate: bool = False) -> float | None:
    """Check that `value` is a finite real number (> 0 if `positive`, >= 0 otherwise); a
    learning rate (`rate`) must also have a float32 counterpart (at most ~3.4e38)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{owner}: {arg} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{owner}: {arg} must be > 0, got {value!r}")
    if not positive and value < 0:
        raise ConfigError(f"{owner}: {arg} must be >= 0, got {value!r}")
    problem = float32_problem(value) if rate else None
    if problem:
        raise ConfigError(f"{owner}: {arg} {problem}")
    return value


def _step(step) -> float:
    return float(step)


def _init_step_decay(sched, initial_learning_rate, decay_steps, decay_rate, staircase, name) -> None:
    """The arguments ExponentialDecay and InverseTimeDecay share, validated."""
    owner = type(sched).__name__
    sched.initial_learning_rate = _number(owner, "initial_learning_rate", initial_learning_rate, rate=True)
    sched.decay_steps = _number(owner, "decay_steps", decay_steps, positive=True)
    sched.decay_rate = _number(owner, "decay_rate", decay_rate)
    sched.staircase = bool(staircase)
    sched.name = name


def _progress(sched, step) -> float:
    """`step / decay_steps`, floored with `staircase`."""
    p = _step(step) / sched.decay_steps
    return math.floor(p) if sched.staircase else p


def _step_decay_config(sched) -> dict:
    return {"initial_learning_rate": sched.initial_learning_rate, "decay_steps": sched.decay_steps,
            "decay_rate": sched.decay_rate, "staircase": sched.staircase, "name": sched.name}


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`.

    With `staircase=True` the exponent is `floor(step / decay_steps)`.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay") -> None:
        _init_step_decay(self, initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step) -> float:
        return float(self.initial_learning_rate * self.decay_rate ** _progress(self, step))

    def get_config(self) -> dict:
        return _step_decay_config(self)


class InverseTimeDecay(LearningRateSchedule):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)` (floored with `staircase`)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay") -> None:
        _init_step_decay(self, initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step) -> float:
        return float(self.initial_learning_rate / (1.0 + self.decay_rate * _progress(self, step)))

    def get_config(self) -> dict:
        return _step_decay_config(self)


class PolynomialDecay(LearningRateSchedule):
    """`(initial - end) * (1 - step / decay_steps) ** power + end`, step capped at `decay_steps`.

    With `cycle=True`, `decay_steps` is instead stretched to the first multiple of itself that
    is >= `step` (1x at step 0).
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001,
                 power: float = 1.0, cycle: bool = False, name: str = "PolynomialDecay") -> None:
        owner = type(self).__name__
        self.initial_learning_rate = _number(owner, "initial_learning_rate", initial_learning_rate, rate=True)
        self.decay_steps = _number(owner, "decay_steps", decay_steps, positive=True)
        self.end_learning_rate = _number(owner, "end_learning_rate", end_learning_rate, rate=True)
        self.power = _number(owner, "power", power)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step) -> float:
        step = _step(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return float((self.initial_learning_rate - self.end_learning_rate) * (1.0 - p) ** self.power
                     + self.end_learning_rate)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[i]` while
    `boundaries[i-1] < step <= boundaries[i]`, and `values[-1]` after the last boundary.
    """

    def __init__(self, boundaries, values, name: str = "PiecewiseConstant") -> None:
        owner = type(self).__name__
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ConfigError(
                f"{owner}: boundaries must have one element fewer than values, got "
                f"boundaries={boundaries} (length {len(boundaries)}) and values={values} (length {len(values)})")
        for i, b in enumerate(boundaries):
            _number(owner, f"boundaries[{i}]", b)
        for i, v in enumerate(values):
            _number(owner, f"values[{i}]", v, rate=True)
        if any(b1 >= b2 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ConfigError(f"{owner}: boundaries must be strictly increasing, got {boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step) -> float:
        return float(self.values[bisect.bisect_left(self.boundaries, _step(step))])

    def get_config(self) -> dict:
        return {"boundaries": list(self.boundaries), "values": list(self.values), "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from the start rate to `alpha` times it over `decay_steps`, after an
    optional linear warmup from `initial_learning_rate` to `warmup_target` over `warmup_steps`.

    Without warmup: `initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) /
    decay_steps)) + alpha)`. With `warmup_target`, steps below `warmup_steps` give
    `initial + (warmup_target - initial) * step / warmup_steps`, later steps the cosine decay of
    `warmup_target` at `step - warmup_steps`. Argument order is Keras's (`name` before warmup).
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None, warmup_steps: int = 0) -> None:
        owner = type(self).__name__
        self.initial_learning_rate = _number(owner, "initial_learning_rate", initial_learning_rate, rate=True)
        self.decay_steps = _number(owner, "decay_steps", decay_steps, positive=True)
        self.alpha = _number(owner, "alpha", alpha)
        self.name = name
        self.warmup_target = _number(owner, "warmup_target", warmup_target, allow_none=True, rate=True)
        self.warmup_steps = _number(owner, "warmup_steps", warmup_steps)

    def _decay(self, step: float, decay_from: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return decay_from * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step) -> float:
        step = _step(step)
        if self.warmup_target is None:
            return float(self._decay(min(step, self.decay_steps), self.initial_learning_rate))
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return float(delta * (step / self.warmup_steps) + self.initial_learning_rate)
        return float(self._decay(step - self.warmup_steps, self.warmup_target))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """SGDR: cosine decay from `initial_learning_rate` to `alpha` times it over
    `first_decay_steps`, then restarts, each period `t_mul` times longer and `m_mul` times higher.
    """

    def __init__(self, initial_learning_rate: float, first_decay_steps: int, t_mul: float = 2.0,
                 m_mul: float = 1.0, alpha: float = 0.0, name: str = "SGDRDecay") -> None:
        owner = type(self).__name__
        self.initial_learning_rate = _number(owner, "initial_learning_rate", initial_learning_rate, rate=True)
        self.first_decay_steps = _number(owner, "first_decay_steps", first_decay_steps, positive=True)
        self.t_mul = _number(owner, "t_mul", t_mul, positive=True)
        self.m_mul = _number(owner, "m_mul", m_mul)
        self.alpha = _number(owner, "alpha", alpha)
        self.name = name

    def __call__(self, step) -> float:
        fraction = _step(step) / self.first_decay_steps
        t_mul = float(self.t_mul)
        if t_mul == 1.0:
            i_restart = math.floor(fraction)
            fraction -= i_restart
        else:
            i_restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            sum_r = (1.0 - t_mul ** i_restart) / (1.0 - t_mul)
            fraction = (fraction - sum_r) / t_mul ** i_restart
        cosine = 0.5 * self.m_mul ** i_restart * (1.0 + math.cos(math.pi * fraction))
        return float(self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


SCHEDULES: dict[str, type[LearningRateSchedule]] = {
    cls.__name__: cls
    for cls in (ExponentialDecay, InverseTimeDecay, PolynomialDecay, PiecewiseConstantDecay, CosineDecay,
                CosineDecayRestarts)
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_LOOKUP = {**{k.lower(): v for k, v in SCHEDULES.items()}, **{_snake(k): v for k, v in SCHEDULES.items()}}


def names() -> list[str]:
    """Every schedule class name."""
    return sorted(SCHEDULES)


def get(spec) -> LearningRateSchedule:
    """A schedule from an instance or a `{"class_name" (or "name"), "config"}` dict.

    Class names match case-insensitively and in snake case (`"exponential_decay"`).
    """
    if isinstance(spec, LearningRateSchedule):
        return spec
    if not isinstance(spec, dict):
        raise ConfigError(
            f"learning rate schedule must be a LearningRateSchedule or a {{'class_name', 'config'}} dict, got {spec!r}")
    cls_name = spec.get("class_name", spec.get("name"))
    if not isinstance(cls_name, str) or cls_name.lower() not in _LOOKUP:
        raise unknown_name("learning rate schedule", cls_name, SCHEDULES)
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ConfigError(f"{cls_name}: config must be a dict, got {config!r}")
    return _LOOKUP[cls_name.lower()].from_config(dict(config))


def serialize(schedule: LearningRateSchedule) -> dict:
    """`{"class_name": ..., "config": {...}}`, the form `get` reads back."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


deserialize = get

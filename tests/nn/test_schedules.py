"""Learning-rate schedules against hand-computed values of Keras 3's formulas."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tuinet.errors import ConfigError
from tuinet.nn import schedules
from tuinet.nn.schedules import (CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay,
                                 LearningRateSchedule, PiecewiseConstantDecay, PolynomialDecay)


def test_exponential_decay():
    s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert s(0) == pytest.approx(0.1)
    assert s(5) == pytest.approx(0.1 * 0.5 ** 0.5)  # 0.0707107
    assert s(10) == pytest.approx(0.05)
    assert s(15) == pytest.approx(0.1 * 0.5 ** 1.5)
    stair = ExponentialDecay(0.1, 10, 0.5, staircase=True)
    assert [stair(k) for k in (0, 9, 10, 15, 19, 20)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.025])
    assert isinstance(s(np.int64(3)), float)


def test_inverse_time_decay():
    s = InverseTimeDecay(0.1, decay_steps=1.0, decay_rate=0.5)
    assert [s(k) for k in (0, 1, 2)] == pytest.approx([0.1, 0.1 / 1.5, 0.05])
    stair = InverseTimeDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True)
    assert [stair(k) for k in (1, 2, 3, 4)] == pytest.approx([0.1, 0.1 / 1.5, 0.1 / 1.5, 0.05])


def test_polynomial_decay():
    s = PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01)
    assert s(0) == pytest.approx(0.1)
    assert s(5) == pytest.approx(0.055)  # 0.09 * 0.5 + 0.01
    assert s(10) == pytest.approx(0.01)
    assert s(20) == pytest.approx(0.01)  # held at the end
    assert PolynomialDecay(0.1, 10, 0.01, power=2.0)(5) == pytest.approx(0.0325)  # 0.09 * 0.25 + 0.01
    cyc = PolynomialDecay(0.1, 10, 0.01, cycle=True)
    assert cyc(0) == pytest.approx(0.1)
    assert cyc(15) == pytest.approx(0.0325)  # decay_steps -> 20: 0.09 * (1 - 0.75) + 0.01
    assert cyc(20) == pytest.approx(0.01)
    assert PolynomialDecay(0.1, 10).end_learning_rate == 0.0001


def test_piecewise_constant_decay():
    s = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [s(k) for k in (0, 10, 11, 20, 21, 1000)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    assert PiecewiseConstantDecay([], [0.3])(5) == 0.3


def test_cosine_decay():
    s = CosineDecay(0.1, decay_steps=100)
    assert [s(k) for k in (0, 50, 100, 200)] == pytest.approx([0.1, 0.05, 0.0, 0.0], abs=1e-15)
    assert s(25) == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi / 4)))  # 0.0853553
    a = CosineDecay(0.1, 100, alpha=0.1)
    assert a(50) == pytest.approx(0.055)  # 0.1 * (0.9 * 0.5 + 0.1)
    assert a(100) == pytest.approx(0.01)
    assert a(500) == pytest.approx(0.01)


def test_cosine_decay_with_warmup():
    s = CosineDecay(0.0, decay_steps=100, warmup_target=0.1, warmup_steps=10)
    assert s(0) == 0.0
    assert s(5) == pytest.approx(0.05)
    assert s(10) == pytest.approx(0.1)  # end of warmup: start of the decay from warmup_target
    assert s(60) == pytest.approx(0.05)  # 50 of 100 decay steps
    assert s(110) == pytest.approx(0.0, abs=1e-15)
    assert s(500) == pytest.approx(0.0, abs=1e-15)
    # a warmup target without warmup steps decays from the target at once
    assert CosineDecay(0.5, 100, warmup_target=0.1)(0) == pytest.approx(0.1)
    # Keras's argument order: name comes before warmup_target
    assert CosineDecay(0.1, 10, 0.0, "cd", 0.2, 5).get_config()["warmup_target"] == 0.2


def test_cosine_decay_restarts():
    s = CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=2.0, m_mul=0.5)
    assert s(0) == pytest.approx(1.0)
    assert s(5) == pytest.approx(0.5)
    assert s(10) == pytest.approx(0.5)  # first restart at m_mul = 0.5
    assert s(20) == pytest.approx(0.25)  # halfway through the 20-step second period
    assert s(30) == pytest.approx(0.25)  # second restart at 0.5 ** 2
    flat = CosineDecayRestarts(1.0, 10, t_mul=1.0, alpha=0.2)
    assert flat(15) == pytest.approx(0.6)  # 0.8 * 0.5 + 0.2
    assert flat(10) == pytest.approx(1.0)


ALL = [
    ExponentialDecay(0.1, 10, 0.5, staircase=True),
    InverseTimeDecay(0.2, 5, 0.3),
    PolynomialDecay(0.1, 10, 0.01, power=2.0, cycle=True),
    PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
    CosineDecay(0.0, 100, alpha=0.1, warmup_target=0.1, warmup_steps=10),
    CosineDecayRestarts(1.0, 10, t_mul=1.5, m_mul=0.8, alpha=0.05),
]


@pytest.mark.parametrize("sched", ALL, ids=lambda s: type(s).__name__)
def test_config_round_trip(sched):
    cfg = sched.get_config()
    again = type(sched).from_config(cfg)
    assert again == sched and again.get_config() == cfg
    via = schedules.get(json.loads(json.dumps(schedules.serialize(sched))))
    assert type(via) is type(sched) and via.get_config() == cfg
    assert [via(k) for k in range(0, 60, 7)] == [sched(k) for k in range(0, 60, 7)]


def test_get_reads_keras_serialized_form_and_snake_case():
    keras_cfg = {"module": "keras.optimizers.schedules", "class_name": "PolynomialDecay", "registered_name": None,
                 "config": {"cycle": False, "decay_steps": 10000, "end_learning_rate": 0.01,
                            "initial_learning_rate": 0.1, "name": None, "power": 0.5}}
    s = schedules.get(keras_cfg)
    assert isinstance(s, PolynomialDecay) and s(10000) == pytest.approx(0.01)
    assert isinstance(schedules.get({"name": "cosine_decay", "config": {"initial_learning_rate": 0.1,
                                                                        "decay_steps": 5}}), CosineDecay)
    inst = ALL[0]
    assert schedules.get(inst) is inst
    assert set(schedules.names()) == set(schedules.SCHEDULES)


@pytest.mark.parametrize("make, pattern", [
    (lambda: ExponentialDecay(0.1, 0, 0.5), r"ExponentialDecay: decay_steps must be > 0, got 0"),
    (lambda: InverseTimeDecay(0.1, -1, 0.5), r"InverseTimeDecay: decay_steps must be > 0, got -1"),
    (lambda: PolynomialDecay(0.1, 0), r"PolynomialDecay: decay_steps must be > 0"),
    (lambda: CosineDecay(0.1, 0), r"CosineDecay: decay_steps must be > 0"),
    (lambda: CosineDecayRestarts(0.1, 0), r"CosineDecayRestarts: first_decay_steps must be > 0"),
    (lambda: ExponentialDecay(-0.1, 10, 0.5), r"ExponentialDecay: initial_learning_rate must be >= 0, got -0\.1"),
    (lambda: ExponentialDecay("a", 10, 0.5), r"initial_learning_rate must be a finite number, got 'a'"),
    (lambda: PiecewiseConstantDecay([10, 20], [1.0, 0.5]), r"boundaries must have one element fewer than values"),
    (lambda: PiecewiseConstantDecay([20, 10], [1.0, 0.5, 0.1]), r"strictly increasing, got \[20, 10\]"),
    (lambda: schedules.get({"class_name": "ExpDecay", "config": {}}),
     r"unknown learning rate schedule 'ExpDecay'"),
    (lambda: schedules.get(0.1), r"learning rate schedule must be"),
    (lambda: schedules.get({"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1}}),
     r"ExponentialDecay: bad config"),
])
def test_bad_arguments_raise_config_error(make, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make()


def test_custom_schedule_subclass_works_in_an_optimizer():
    from tuinet.nn.optimizers import SGD

    class Halving(LearningRateSchedule):
        def __call__(self, step):
            return 1.0 / 2 ** step

        def get_config(self):
            return {}

    opt = SGD(Halving())
    p = {"x": np.zeros(1)}
    for _ in range(3):
        opt.apply_gradients(p, {"x": np.ones(1)})
    assert p["x"][0] == pytest.approx(-1.75)
    assert opt.learning_rate == pytest.approx(0.125)

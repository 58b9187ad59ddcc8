"""`fit_diagnosis`: synthetic histories with known answers, and real short preset runs."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from tuinet.app.diagnosis import (
    ACCURACY_CEILING,
    UNDERFIT_MIN_EPOCHS,
    Diagnosis,
    fit_diagnosis,
)
from tuinet.presets import ModelSpec, load_preset
from tuinet.session import TrainingSession


def overfit_history(best: int = 8, rise: int = 6) -> dict[str, list[float]]:
    """Training loss falls all along; validation falls to its lowest at 1-based epoch `best`, then climbs."""
    n = best + rise
    loss = [1.0 * 0.85**i for i in range(n)]
    val = [1.0 - 0.08 * i for i in range(best)] + [1.0 - 0.08 * (best - 1) + 0.05 * k for k in range(1, rise + 1)]
    return {"loss": loss, "val_loss": val}


def run_preset(name: str, **changes) -> dict[str, list[float]]:
    experiment = load_preset(name)
    if changes:
        experiment = experiment.replace(**changes)
    session = TrainingSession(experiment)
    session.run()
    return session.history


# ---------------------------------------------------------------------- synthetic
def test_overfitting_names_the_epoch_of_the_best_val_loss():
    history = overfit_history(best=8, rise=6)
    assert int(np.argmin(history["val_loss"])) + 1 == 8
    d = fit_diagnosis(history)
    assert isinstance(d, Diagnosis)
    assert d.kind == "overfitting"
    assert d.since_epoch == 8
    assert "epoch 8" in d.message
    for hint in ("dropout", "L2", "more data"):
        assert hint in d.message


def test_overfitting_needs_patience_epochs_above_the_best():
    # best level 0.5; tolerance max(10 % of 0.5, 5 % of the first 1.0) = 0.05: 0.52 is within it
    val = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.5, 0.52, 0.56, 0.6, 0.65, 0.7]
    loss = [1.0 * 0.8**i for i in range(len(val))]
    kinds = {n: fit_diagnosis({"loss": loss[:n], "val_loss": val[:n]}, patience=3).kind for n in range(4, 14)}
    # epochs 10, 11, 12 (1-based) are the first three in a row above 0.55
    assert [n for n, kind in kinds.items() if kind == "overfitting"] == [12, 13]
    d = fit_diagnosis({"loss": loss, "val_loss": val}, patience=3)
    assert d.since_epoch == 6  # the first epoch at the lowest validation loss


def test_a_rise_within_the_tolerance_is_not_overfitting():
    loss = [1.0 * 0.8**i for i in range(20)]
    val = [1.0 - 0.05 * i for i in range(10)] + [0.55 + 0.004 * k for k in range(1, 11)]  # +0.04 <= 10 % of 0.55
    d = fit_diagnosis({"loss": loss, "val_loss": val})
    assert d is not None and d.kind == "ok" and d.since_epoch is None


def test_val_rising_while_training_loss_is_flat_is_not_overfitting():
    rng = np.random.default_rng(0)
    loss = [1.0, 0.6] + list(0.45 + 0.05 * rng.standard_normal(28))  # noisy plateau (dropout, L2)
    val = [0.9, 0.6, 0.5] + [0.5 + 0.02 * k for k in range(1, 28)]
    d = fit_diagnosis({"loss": loss, "val_loss": val})
    assert d is not None and d.kind != "overfitting"


def test_underfitting_when_both_losses_stay_high_and_flat():
    n = 20
    loss = [0.70, 0.69] + [0.685] * (n - 2)
    val = [0.71, 0.70] + [0.70] * (n - 2)
    acc = [0.5] * n
    d = fit_diagnosis({"loss": loss, "accuracy": acc, "val_loss": val, "val_accuracy": acc})
    assert d is not None and d.kind == "underfitting"
    assert d.since_epoch == 2  # the last epoch that beat the best before it by 1 % or more
    for hint in ("bigger network", "more epochs", "higher learning rate"):
        assert hint in d.message
    assert "50%" in d.message  # the training accuracy


def test_underfitting_is_not_judged_before_enough_epochs():
    flat = {"loss": [0.7] * UNDERFIT_MIN_EPOCHS, "val_loss": [0.7] * UNDERFIT_MIN_EPOCHS}
    short = {k: v[:-1] for k, v in flat.items()}
    assert fit_diagnosis(short).kind == "ok"
    assert fit_diagnosis(flat).kind == "underfitting"


def test_high_train_accuracy_or_a_still_falling_loss_is_not_underfitting():
    n = 20
    flat = {"loss": [0.5] * n, "val_loss": [0.5] * n}
    assert fit_diagnosis({**flat, "accuracy": [ACCURACY_CEILING] * n}).kind == "ok"
    assert fit_diagnosis({**flat, "accuracy": [ACCURACY_CEILING - 0.01] * n}).kind == "underfitting"
    slow = {"loss": [0.7 * 0.985**i for i in range(n)], "val_loss": [0.7 * 0.985**i for i in range(n)]}
    assert fit_diagnosis(slow).kind == "ok"  # 1.5 % per epoch is still learning
    learned = {"loss": [1.0] + [0.4] * (n - 1), "val_loss": [1.0] + [0.45] * (n - 1)}
    assert fit_diagnosis(learned).kind == "ok"  # flat, but below half of where it started


def test_ok_for_a_healthy_run():
    history = {"loss": [1.0 * 0.8**i for i in range(15)], "val_loss": [1.1 * 0.82**i for i in range(15)]}
    d = fit_diagnosis(history)
    assert d == Diagnosis("ok", d.message, None)
    assert "15 epochs" in d.message


def test_none_when_too_short_or_without_validation():
    history = overfit_history()
    assert fit_diagnosis({k: v[:5] for k, v in history.items()}, patience=5) is None
    assert fit_diagnosis({k: v[:6] for k, v in history.items()}, patience=5) is not None
    assert fit_diagnosis({"loss": history["loss"]}) is None
    assert fit_diagnosis({"loss": history["loss"], "val_loss": []}) is None
    assert fit_diagnosis({}) is None


def test_diverging():
    d = fit_diagnosis({"loss": [1.0, 0.5, math.nan], "val_loss": [1.0, 0.6, 0.7]})
    assert d is not None and d.kind == "diverging" and d.since_epoch == 3 and "learning rate" in d.message
    climbing = [1.0, 0.5, 0.4, 1.2, 1.5, 2.0, 3.0, 5.0]
    d = fit_diagnosis({"loss": climbing, "val_loss": climbing}, patience=5)
    assert d is not None and d.kind == "diverging" and d.since_epoch == 3
    with pytest.raises(ValueError):
        fit_diagnosis({"loss": [1.0], "val_loss": [1.0]}, patience=0)


# ---------------------------------------------------------------------- real runs
def test_the_overfitting_preset_is_diagnosed_as_overfitting():
    history = run_preset("overfitting")
    d = fit_diagnosis(history)
    assert d is not None and d.kind == "overfitting"
    assert d.since_epoch == int(np.argmin(history["val_loss"])) + 1
    assert f"epoch {d.since_epoch}" in d.message


@pytest.mark.parametrize("name", ["overfitting-regularized", "iris"])
def test_regularized_and_iris_runs_are_not_overfitting(name):
    history = run_preset(name)
    d = fit_diagnosis(history)
    assert d is not None and d.kind == "ok", d
    # nor at any epoch along the way (the app diagnoses after every epoch)
    kinds = {getattr(fit_diagnosis({k: v[:n] for k, v in history.items()}), "kind", None)
             for n in range(1, len(history["loss"]) + 1)}
    assert "overfitting" not in kinds


def test_a_linear_model_on_the_spiral_is_underfitting():
    experiment = load_preset("spiral")
    history = run_preset("spiral", model=ModelSpec(layers=({"type": "Dense", "units": 2, "activation": "softmax"},),
                                                   seed=0),
                         train=dataclasses.replace(experiment.train, epochs=30))
    d = fit_diagnosis(history)
    assert d is not None and d.kind == "underfitting"
    assert max(history["accuracy"][-5:]) < ACCURACY_CEILING


def test_a_long_run_is_diagnosed_like_a_short_one():
    # The app diagnoses while training: a run of 100,000 epochs (minutes of a small problem)
    # goes through the same rules; the epochs named are those of the long history.
    n = 100_000
    best = 60_000
    loss = list(np.linspace(1.0, 0.01, n))
    val = [1.0 - 0.5 * i / (best - 1) for i in range(best)] + [0.51 + 0.3 * k / (n - best) for k in range(n - best)]
    d = fit_diagnosis({"loss": loss, "val_loss": val})
    assert d.kind == "overfitting" and d.since_epoch == best
    flat = {"loss": [2.0] * n, "val_loss": [2.1] * n, "accuracy": [0.3] * n}
    d = fit_diagnosis(flat)
    assert d.kind == "underfitting" and d.since_epoch == 1 and "after 100000 epochs" in d.message
    flat["loss"][n // 2] = float("nan")  # a NaN in the middle: ignored by the trend rules
    assert fit_diagnosis(flat).kind == "underfitting"


def test_a_thinned_history_names_real_epochs():
    """A long run's history keeps every k-th epoch: the messages name the epochs, not the entries."""
    from tuinet.run import EpochHistory

    h = EpochHistory(max_points=64)
    for e in range(1, 1001):  # val lowest near epoch 500, then rising while training falls
        h.append({"loss": 1.0 / e, "val_loss": 0.5 + ((e - 500) / 500.0) ** 2})
    assert h.stride > 1
    d = fit_diagnosis(h)
    assert d is not None and d.kind == "overfitting"
    assert abs(d.since_epoch - 500) <= h.stride, d
    assert f"epoch {d.since_epoch}" in d.message

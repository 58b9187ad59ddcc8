"""`prepare(experiment)`: an experiment's data as the model sees it, split and scaled.

Loads the data the experiment's `[data]` table names, splits it (stratified for
classification, seeded), fits the scaler on the training split only and applies it to every
split, and shapes the targets for the loss (one-hot rows for categorical losses; the scaled
inputs themselves for an autoencoder). The training session, `tuinet evaluate` and the app's
training process all prepare data through here, so they see the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuinet import memory
from tuinet.data.loader import load
from tuinet.data.preprocessing import get_scaler, one_hot
from tuinet.data.splitting import split

ONE_HOT_LOSSES = ("CategoricalCrossentropy", "CategoricalHinge", "KLDivergence")
"""Loss classes that take one-hot targets (the rest take class ids)."""


@dataclass
class Prepared:
    """The data as the model sees it."""

    dataset: object
    split: object
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    scaler: object = None


def wants_one_hot(loss_name: str) -> bool:
    """True when the loss named `loss_name` takes one-hot targets."""
    from tuinet.nn import losses

    return type(losses.get(loss_name)).__name__ in ONE_HOT_LOSSES


def prepare(experiment) -> Prepared:
    """Load, split and scale the data of `experiment` (a `tuinet.presets.Experiment`).

    Raises the data loader's errors (a `TuinetError` naming the file, field or value), and a
    `PresetError` before loading anything when the data or the model cannot fit in memory.
    """
    memory.check_experiment(experiment)
    spec = experiment.data
    autoencoder = spec.target == "input"
    options = {}
    for key in ("target", "header", "delimiter"):
        value = getattr(spec, key)
        if value is not None and not (key == "header" and value == "auto") and not autoencoder:
            options[key] = value
    if spec.steps is not None:
        options["steps"] = spec.steps
    if spec.task != "auto":
        options["task"] = spec.task
    ds = load(spec.source, samples=spec.samples, noise=spec.noise, seed=spec.seed,
              base_dir=experiment.base_dir, **options)
    parts = split(ds.y, spec.split, seed=spec.seed, stratify=ds.task == "classification")
    x, y = ds.x, ds.y
    scaler = get_scaler(spec.scaling)
    x_train = x[parts.train]
    if scaler is not None:
        scaler.fit(x_train)
        x_train = scaler.transform(x_train)
    tf = (lambda a: scaler.transform(a)) if scaler is not None else (lambda a: a)
    x_val, x_test = tf(x[parts.val]), tf(x[parts.test])
    if autoencoder:  # reconstruct the (scaled) inputs
        return Prepared(dataset=ds, split=parts, x_train=x_train, y_train=x_train.copy(), x_val=x_val,
                        y_val=x_val.copy(), x_test=x_test, y_test=x_test.copy(), scaler=scaler)
    y_all = y
    if ds.task == "classification" and wants_one_hot(experiment.train.loss):
        y_all = one_hot(y, ds.num_classes)
    return Prepared(dataset=ds, split=parts, x_train=x_train, y_train=y_all[parts.train], x_val=x_val,
                    y_val=y_all[parts.val], x_test=x_test, y_test=y_all[parts.test], scaler=scaler)

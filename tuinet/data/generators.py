"""Synthetic data sets: the TensorFlow Playground's 2-D problems, two moons and sine sequences.

The 2-D generators follow the Playground's `src/dataset.ts` (Apache-2.0, Google): the same shapes,
scales and noise. Points lie in about `[-6, 6]` on both axes, and `noise` means what the Playground's
slider means divided by 100 (its 0..50 % is `noise` 0..0.5 here). The Playground's labels -1 and +1
become class ids 0 and 1. Unlike the Playground the samples come out shuffled (seeded), so a Keras
style `validation_split`, which takes the last samples, still sees both classes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from tuinet.data.dataset import Dataset
from tuinet.errors import ConfigError

XY = ["x1", "x2"]
BINARY = ["0", "1"]


def _check(samples, noise, seed, *, minimum: int = 1) -> tuple[int, float, np.random.Generator]:
    """Validate the common arguments and return them with the seeded generator."""
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < minimum:
        raise ConfigError(f"samples: expected an integer >= {minimum}, got {samples!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.number)) or not 0 <= noise <= 1:
        raise ConfigError(f"noise: expected a number from 0 to 1 (the Playground's 0-50 % is 0-0.5), got {noise!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ConfigError(f"seed: expected a non-negative integer or None, got {seed!r}")
    return int(samples), float(noise), np.random.default_rng(seed)


def _halves(samples: int) -> tuple[int, int]:
    """Sizes of the two classes: the first gets the extra sample when `samples` is odd."""
    return samples - samples // 2, samples // 2


def _finish(name: str, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, task: str,
            description: str) -> Dataset:
    """Shuffle the samples and wrap them in a Dataset."""
    order = rng.permutation(len(x))
    x = np.asarray(x, dtype=np.float32)[order]
    y = np.asarray(y)[order]
    y = y.astype(np.int64) if task == "classification" else y.astype(np.float32)
    return Dataset(name=name, x=x, y=y, task=task, feature_names=list(XY),
                   class_names=list(BINARY) if task == "classification" else None,
                   description=description, source=f"generator:{name}")


def _noise_offsets(rng: np.random.Generator, n: int, noise: float, scale: float) -> np.ndarray:
    """The Playground's label noise: a uniform shift in `[-scale, scale] * noise` per axis, `(n, 2)`."""
    return rng.uniform(-scale, scale, size=(n, 2)) * noise


def circle(samples: int = 500, noise: float = 0.0, seed: int | None = 0) -> Dataset:
    """A disc of class 1 inside a ring of class 0 (the Playground's "circle").

    Class 1 points have a radius up to 2.5, class 0 points a radius from 3.5 to 5. With noise a
    point keeps its place but takes the label of a randomly shifted copy of itself.

    Returns:
        Dataset with `x` float32 `(samples, 2)` and `y` int64 `(samples,)`.
    """
    samples, noise, rng = _check(samples, noise, seed)
    radius = 5.0
    n_in, n_out = _halves(samples)
    r = np.concatenate([rng.uniform(0, radius * 0.5, n_in), rng.uniform(radius * 0.7, radius, n_out)])
    angle = rng.uniform(0, 2 * math.pi, samples)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    shifted = x + _noise_offsets(rng, samples, noise, radius)
    y = (np.hypot(shifted[:, 0], shifted[:, 1]) < radius * 0.5).astype(np.int64)
    return _finish("circle", x, y, rng, task="classification",
                   description="Two classes: a disc (class 1) inside a ring (class 0); not linearly separable.")


def xor(samples: int = 500, noise: float = 0.0, seed: int | None = 0) -> Dataset:
    """The four quadrants: class 1 where `x1 * x2 >= 0`, class 0 elsewhere (the Playground's "XOR").

    Coordinates are uniform in `[-5, 5]`, pushed 0.3 away from the axes. Labels come from a point
    shifted by up to `5 * noise` per axis, so noise blurs the quadrant borders.

    Returns:
        Dataset with `x` float32 `(samples, 2)` and `y` int64 `(samples,)`.
    """
    samples, noise, rng = _check(samples, noise, seed)
    x = rng.uniform(-5, 5, size=(samples, 2))
    x += np.where(x > 0, 0.3, -0.3)
    shifted = x + _noise_offsets(rng, samples, noise, 5.0)
    y = (shifted[:, 0] * shifted[:, 1] >= 0).astype(np.int64)
    return _finish("xor", x, y, rng, task="classification",
                   description="Exclusive or: opposite quadrants share a class; needs a hidden layer.")


def gauss(samples: int = 500, noise: float = 0.0, seed: int | None = 0) -> Dataset:
    """Two Gaussian blobs centred on (2, 2) (class 1) and (-2, -2) (class 0) (the Playground's "Gaussian").

    The variance grows linearly with the noise, from 0.5 at noise 0 to 4 at noise 0.5.

    Returns:
        Dataset with `x` float32 `(samples, 2)` and `y` int64 `(samples,)`.
    """
    samples, noise, rng = _check(samples, noise, seed)
    std = math.sqrt(0.5 + noise * 7.0)
    n_pos, n_neg = _halves(samples)
    x = np.concatenate([rng.normal(2.0, std, size=(n_pos, 2)), rng.normal(-2.0, std, size=(n_neg, 2))])
    y = np.concatenate([np.ones(n_pos), np.zeros(n_neg)])
    return _finish("gauss", x, y, rng, task="classification",
                   description="Two Gaussian blobs; linearly separable unless the noise is high.")


def spiral(samples: int = 500, noise: float = 0.0, seed: int | None = 0) -> Dataset:
    """Two interleaved spiral arms of 1.75 turns out to radius 5 (the Playground's "spiral").

    Noise moves each point by up to `noise` per axis (uniform).

    Returns:
        Dataset with `x` float32 `(samples, 2)` and `y` int64 `(samples,)`.
    """
    samples, noise, rng = _check(samples, noise, seed)
    arms = []
    for delta, count in zip((0.0, math.pi), _halves(samples)):
        frac = np.arange(count) / max(count, 1)
        r = frac * 5.0
        t = 1.75 * frac * 2 * math.pi + delta
        arms.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + rng.uniform(-1, 1, size=(count, 2)) * noise)
    n_pos, n_neg = _halves(samples)
    x = np.concatenate(arms)
    y = np.concatenate([np.ones(n_pos), np.zeros(n_neg)])
    return _finish("spiral", x, y, rng, task="classification",
                   description="Two interleaved spirals; the hardest Playground problem.")


def moons(samples: int = 500, noise: float = 0.0, seed: int | None = 0) -> Dataset:
    """Two interleaving half circles, as scikit-learn's `make_moons`, scaled to the Playground's view.

    The upper moon (class 0) and the lower one (class 1) are drawn as in `make_moons`, then
    centred and scaled by 2.5, so that x1 spans about `[-3.75, 3.75]`. Noise is Gaussian with a
    standard deviation of `noise` in `make_moons` units (so `2.5 * noise` here).

    Returns:
        Dataset with `x` float32 `(samples, 2)` and `y` int64 `(samples,)`.
    """
    samples, noise, rng = _check(samples, noise, seed)
    n_out, n_in = _halves(samples)
    outer = np.linspace(0, math.pi, n_out)
    inner = np.linspace(0, math.pi, n_in)
    x = np.concatenate([np.stack([np.cos(outer), np.sin(outer)], axis=1),
                        np.stack([1 - np.cos(inner), 1 - np.sin(inner) - 0.5], axis=1)])
    x += rng.normal(0.0, 1.0, size=x.shape) * noise
    x = (x - [0.5, 0.25]) * 2.5
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    return _finish("moons", x, y, rng, task="classification",
                   description="Two interleaving half circles (scikit-learn's make_moons, scaled).")


def plane(samples: int = 500, noise: float = 0.0, seed: int | None = 0) -> Dataset:
    """Regression on a tilted plane: `y = (x1 + x2) / 10` (the Playground's "regression plane").

    Inputs are uniform in `[-6, 6]`; the target is read at the point shifted by up to `6 * noise`
    per axis, so it lies in `[-1.2, 1.2]` without noise.

    Returns:
        Dataset with `x` float32 `(samples, 2)` and `y` float32 `(samples,)`.
    """
    samples, noise, rng = _check(samples, noise, seed)
    x = rng.uniform(-6, 6, size=(samples, 2))
    shifted = x + _noise_offsets(rng, samples, noise, 6.0)
    y = shifted.sum(axis=1) / 10.0
    return _finish("plane", x, y, rng, task="regression",
                   description="Regression: the target is a linear function of the two inputs.")


_GAUSSIANS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])


def multi_gauss(samples: int = 500, noise: float = 0.0, seed: int | None = 0) -> Dataset:
    """Regression on six bumps of alternating sign (the Playground's "regression multi-gauss").

    Each bump falls linearly from +-1 at its centre to 0 at distance 2; the target is the bump
    with the largest magnitude, read at the point shifted by up to `6 * noise` per axis.

    Returns:
        Dataset with `x` float32 `(samples, 2)` and `y` float32 `(samples,)` in `[-1, 1]`.
    """
    samples, noise, rng = _check(samples, noise, seed)
    x = rng.uniform(-6, 6, size=(samples, 2))
    shifted = x + _noise_offsets(rng, samples, noise, 6.0)
    dist = np.hypot(shifted[:, None, 0] - _GAUSSIANS[:, 0], shifted[:, None, 1] - _GAUSSIANS[:, 1])
    values = _GAUSSIANS[:, 2] * np.clip(1.0 - dist / 2.0, 0.0, 1.0)
    y = values[np.arange(samples), np.abs(values).argmax(axis=1)]
    return _finish("multi_gauss", x, y, rng, task="regression",
                   description="Regression: six Gaussian-like bumps of alternating sign.")


def sine(samples: int = 1000, steps: int = 20, noise: float = 0.0, seed: int | None = 0) -> Dataset:
    """Windows of sine waves; the target is the value after the window.

    Each sample is its own wave `a * sin(2 pi f t + phase)` with amplitude `a` in `[0.5, 1.5]`,
    frequency `f` in `[0.02, 0.15]` cycles per step and a random phase. Gaussian noise with a
    standard deviation of `noise` is added to every observed value, the target included.

    Args:
        samples: Number of windows.
        steps: Length of each window.
        noise: Standard deviation of the observation noise.
        seed: Seed of the random generator.

    Returns:
        Dataset with `x` float32 `(samples, steps, 1)` and `y` float32 `(samples,)`.
    """
    samples, noise, rng = _check(samples, noise, seed)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"steps: expected an integer >= 1, got {steps!r}")
    amplitude = rng.uniform(0.5, 1.5, size=(samples, 1))
    freq = rng.uniform(0.02, 0.15, size=(samples, 1))
    phase = rng.uniform(0, 2 * math.pi, size=(samples, 1))
    t = np.arange(steps + 1)
    series = amplitude * np.sin(2 * math.pi * freq * t + phase)
    series += rng.normal(0.0, 1.0, size=series.shape) * noise
    return Dataset(name="sine", x=series[:, :steps, None].astype(np.float32), y=series[:, steps].astype(np.float32),
                   task="regression", feature_names=["value"],
                   description="Sequences: predict the next value of a sine wave from the previous ones.",
                   source="generator:sine")


def side_effects(samples: int = 2100, noise: float = 0.05, seed: int | None = 0) -> Dataset:
    """The drug-trial data of the beginner Keras tutorial (deeplizard): age -> side effects.

    Half the patients are 13 to 64 years old, half 65 to 100 (integer ages). A fraction
    `1 - noise` of the older patients had side effects (class 1) and the same fraction of the
    younger did not (class 0); with the default `noise=0.05` that is the tutorial's 95 %.

    Returns:
        Dataset with `x` float32 `(samples, 1)` (age in years) and class ids `(samples,)`.
    """
    samples, noise, rng = _check(samples, noise, seed, minimum=2)
    young, old = _halves(samples)
    ages = np.concatenate([rng.integers(13, 65, size=young), rng.integers(65, 101, size=old)])
    labels = np.concatenate([np.zeros(young, np.int64), np.ones(old, np.int64)])
    flip = np.concatenate([rng.permutation(young) < round(noise * young), rng.permutation(old) < round(noise * old)])
    labels[flip] = 1 - labels[flip]
    ds = _finish("side_effects", ages[:, None], labels, rng, task="classification",
                 description="Drug trial: patients aged 13-100; 95% of those 65 and over had side effects.")
    ds.feature_names = ["age"]
    ds.class_names = ["no side effects", "side effects"]
    return ds


GENERATORS: dict[str, Callable[..., Dataset]] = {
    "circle": circle,
    "xor": xor,
    "gauss": gauss,
    "spiral": spiral,
    "moons": moons,
    "plane": plane,
    "multi_gauss": multi_gauss,
    "sine": sine,
    "side_effects": side_effects,
}

GENERATOR_ALIASES: dict[str, str] = {
    "regression_plane": "plane",
    "regression_gauss": "multi_gauss",
    "regression_multi_gauss": "multi_gauss",
    "gaussian": "gauss",
    "two_moons": "moons",
}


def canonical(name: str) -> str:
    """Lower-case a name and turn "-" and " " into "_", so "Multi-Gauss" finds "multi_gauss"."""
    return str(name).strip().lower().replace("-", "_").replace(" ", "_")


def get_generator(name: str) -> Callable[..., Dataset] | None:
    """The generator called `name` (or one of its aliases), or None."""
    key = canonical(name)
    return GENERATORS.get(GENERATOR_ALIASES.get(key, key))

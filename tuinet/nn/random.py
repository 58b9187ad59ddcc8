"""Seeding: one place that turns a user's seed into independent, repeatable streams."""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError

_GLOBAL: np.random.SeedSequence | None = None


def check_seed(seed, where: str = "seed") -> int | None:
    """`seed` as an int (None stays None), or a `ConfigError`: NumPy takes only integers >= 0."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"{where}: expected a non-negative integer, got {seed!r}")
    return int(seed)


def set_random_seed(seed: int | None) -> None:
    """Make every model created afterwards without its own seed repeatable (Keras's utility).

    Successive models still differ from one another, as in Keras, but the sequence repeats.
    """
    global _GLOBAL
    seed = check_seed(seed)
    _GLOBAL = None if seed is None else np.random.SeedSequence(int(seed))
    np.random.seed(None if seed is None else int(seed) % 2**32)


def resolve_seed(seed: int | None) -> int:
    """The seed a model keeps: the user's, else the next from the global seed, else fresh entropy."""
    if seed is not None:
        return check_seed(seed)
    if _GLOBAL is not None:
        return int(_GLOBAL.spawn(1)[0].generate_state(1, np.uint64)[0] >> 1)
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)


def model_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent generators (weight init; shuffling and dropout) for a model's seed."""
    init_seq, fit_seq = np.random.SeedSequence(int(seed)).spawn(2)
    return np.random.default_rng(init_seq), np.random.default_rng(fit_seq)

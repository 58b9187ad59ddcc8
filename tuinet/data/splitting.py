"""Train/validation/test splits and k-fold cross-validation, seeded and (optionally) stratified."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tuinet.errors import ConfigError, DataError

SPLIT_NAMES = ("train", "val", "test")


@dataclass(eq=False)
class Split:
    """Which samples of a data set go to training, validation and test.

    Attributes:
        train: Sorted int64 indexes of the training samples.
        val: Sorted int64 indexes of the validation samples (may be empty).
        test: Sorted int64 indexes of the test samples (may be empty).
        ratios: The requested `(train, val, test)` shares.
        seed: The seed that drew the split.
        stratified: Whether each class was split in the ratios (only for class ids).
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    ratios: tuple[float, float, float]
    seed: int | None
    stratified: bool

    def sizes(self) -> dict[str, int]:
        """Number of samples per split: `{"train": ..., "val": ..., "test": ...}`."""
        return {name: int(len(idx)) for name, idx in self._parts()}

    def class_counts(self, y: np.ndarray, num_classes: int) -> dict[str, np.ndarray]:
        """Samples of each class per split.

        Args:
            y: Class ids of the whole data set, `(n,)`.
            num_classes: Length of each count vector.

        Returns:
            `{"train": counts, "val": counts, "test": counts}`, each int64 `(num_classes,)`.
        """
        y = np.asarray(y).astype(np.int64, copy=False)
        return {name: np.bincount(y[idx], minlength=num_classes).astype(np.int64) for name, idx in self._parts()}

    def assignment(self, n: int) -> np.ndarray:
        """The split of every sample as int8 `(n,)`: 0 train, 1 val, 2 test (for the split viewer)."""
        top = max((int(idx.max()) for _, idx in self._parts() if len(idx)), default=-1)
        if top >= n:
            raise DataError(f"split: holds sample index {top}, but the data set has {n} samples")
        out = np.zeros(n, dtype=np.int8)
        out[self.val] = 1
        out[self.test] = 2
        return out

    def _parts(self):
        return zip(SPLIT_NAMES, (self.train, self.val, self.test))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes().items())
        return f"Split({sizes}, ratios={self.ratios}, seed={self.seed}, stratified={self.stratified})"


def _check_ratios(ratios) -> np.ndarray:
    try:
        values = [float(r) for r in ratios]
    except (TypeError, ValueError):
        raise DataError(f"split ratios: expected 2 or 3 numbers (train, val[, test]), got {ratios!r}") from None
    if len(values) == 2:
        values.append(0.0)
    if len(values) != 3:
        raise DataError(f"split ratios: expected 2 or 3 numbers (train, val[, test]), got {len(values)}")
    r = np.array(values)
    if not np.isfinite(r).all() or (r < 0).any():
        raise DataError(f"split ratios: expected shares from 0 to 1, got {tuple(values)}")
    if abs(r.sum() - 1.0) > 1e-6:
        raise DataError(f"split ratios: expected shares that add up to 1, got {tuple(values)} (sum {r.sum():g})")
    if r[0] <= 0:
        raise DataError(f"split ratios: the training share must be above 0, got {tuple(values)}")
    return r / r.sum()


def _largest_remainder(total: int, ratios: np.ndarray) -> np.ndarray:
    """Integer sizes adding up to `total`, each the floor or ceiling of `total * ratio`."""
    exact = total * ratios
    sizes = np.floor(exact + 1e-9).astype(np.int64)
    short = total - int(sizes.sum())
    order = np.argsort(-(exact - sizes), kind="stable")
    sizes[order[:short]] += 1
    return sizes


def _stratified_sizes(counts: np.ndarray, ratios: np.ndarray) -> np.ndarray:
    """Per class and split sizes `(classes, 3)`, each within one sample of `count * ratio`.

    Every class first gets the floor of its shares; the samples left over go one per split to the
    splits furthest below their overall target, so the totals also follow the ratios closely.
    """
    exact = counts[:, None] * ratios[None, :]
    sizes = np.floor(exact + 1e-9).astype(np.int64)
    frac = exact - sizes
    deficit = _largest_remainder(int(counts.sum()), ratios) - sizes.sum(axis=0)
    leftover = counts - sizes.sum(axis=1)
    for c in np.argsort(-leftover, kind="stable"):
        # at most one extra sample per split keeps every share within one sample of its ratio
        order = sorted(range(len(ratios)), key=lambda s: (deficit[s] <= 0, -deficit[s], -frac[c, s], s))
        for s in order[: leftover[c]]:
            sizes[c, s] += 1
            deficit[s] -= 1
    return sizes


def _is_class_ids(y: np.ndarray) -> bool:
    return y.ndim == 1 and y.dtype.kind in "iub"


def _seed(seed) -> int | None:
    if seed is not None and (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise ConfigError(f"seed: expected a non-negative integer or None, got {seed!r}")
    return seed


def split(y: np.ndarray, ratios: Sequence[float] = (0.7, 0.15, 0.15), *, seed: int | None = 0,
          stratify: bool = True) -> Split:
    """Split the samples into training, validation and test sets.

    Args:
        y: Targets `(n, ...)`; with int class ids `(n,)` the split can be stratified.
        ratios: Shares `(train, val, test)` adding up to 1 (within 1e-6); val or test may be 0.
            Two numbers mean `(train, val)` and no test set.
        seed: Seed of the shuffle; the same seed gives the same split.
        stratify: Split each class in the ratios, so every split has the class balance of the
            whole (each class's share within one sample of its ratio). Ignored for float targets.

    Returns:
        The Split; every sample is in exactly one of its index arrays.

    Raises:
        DataError: for ratios that do not add up to 1, or a training split that would be empty.
    """
    y = np.asarray(y)
    r = _check_ratios(ratios)
    n = len(y)
    rng = np.random.default_rng(_seed(seed))
    stratified = bool(stratify) and _is_class_ids(y)
    if stratified:
        classes, inverse = np.unique(y, return_inverse=True)
        inverse = inverse.reshape(-1)
        sizes = _stratified_sizes(np.bincount(inverse, minlength=len(classes)), r)
        parts: list[list[np.ndarray]] = [[], [], []]
        for c in range(len(classes)):
            members = rng.permutation(np.flatnonzero(inverse == c))
            bounds = np.cumsum(sizes[c])
            for s, chunk in enumerate(np.split(members, bounds[:-1])):
                parts[s].append(chunk)
        train, val, test = (np.sort(np.concatenate(p)) if p else np.empty(0, np.int64) for p in parts)
    else:
        sizes = _largest_remainder(n, r)
        order = rng.permutation(n)
        train, val, test = (np.sort(chunk) for chunk in np.split(order, np.cumsum(sizes)[:-1]))
    if len(train) == 0:
        raise DataError(f"split: the training split would be empty ({n} samples, ratios "
                        f"{tuple(float(v) for v in r)}); expected more samples or a larger training share")
    return Split(train=train.astype(np.int64), val=val.astype(np.int64), test=test.astype(np.int64),
                 ratios=tuple(float(v) for v in r), seed=seed, stratified=stratified)


def kfold(y: np.ndarray, k: int = 5, *, seed: int | None = 0,
          stratify: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """Indexes for k-fold cross-validation: every sample is validation data in exactly one fold.

    Args:
        y: Targets `(n, ...)`; with int class ids `(n,)` the folds can be stratified.
        k: Number of folds, from 2 to n.
        seed: Seed of the shuffle.
        stratify: Deal each class out evenly over the folds (class ids only).

    Returns:
        A list of `k` pairs `(train_idx, val_idx)` of sorted int64 indexes; fold sizes differ by at most one.
    """
    y = np.asarray(y)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(f"k: expected an integer >= 2, got {k!r}")
    n = len(y)
    if k > n:
        raise DataError(f"kfold: {k} folds need at least {k} samples, got {n}")
    rng = np.random.default_rng(_seed(seed))
    if stratify and _is_class_ids(y):
        _, inverse = np.unique(y, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.concatenate([rng.permutation(np.flatnonzero(inverse == c)) for c in range(inverse.max() + 1)])
    else:
        order = rng.permutation(n)
    fold = np.empty(n, dtype=np.int64)
    fold[order] = np.arange(n) % k
    everyone = np.arange(n, dtype=np.int64)
    return [(everyone[fold != f], everyone[fold == f]) for f in range(k)]

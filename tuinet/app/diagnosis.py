"""`fit_diagnosis`: read a Keras-style history and say whether the network over- or underfits.

NumPy over the history's lists; the app shows the message under the loss plot, and nothing here
touches the model or the session. Epoch numbers in messages and in `Diagnosis.since_epoch`
are 1-based, as Keras prints them ("Epoch 3/150"), while `EpochEnded.epoch` is 0-based.

The rules, checked in this order (n: epochs in the history; `loss` is the training loss):

1. No `val_loss` (or an empty one): None, there is nothing to compare with.
2. Diverging at once when the last training or validation loss is NaN or infinite.
3. Fewer than `patience + 1` epochs: None, too early to judge.
4. Diverging: each of the last `patience` training losses is above both the first epoch's
   loss and `DIVERGE_FACTOR` times the lowest training loss so far (it climbed back past
   where it started). `since_epoch`: the epoch of the lowest training loss.
5. Overfitting: the validation loss has been above its best level by more than a tolerance
   for the last `patience` epochs in a row, while the training loss kept falling.
   - The best level is the lowest mean of three neighbouring epochs (one lucky epoch does not
     set the bar); the tolerance is `max(VAL_REL_TOL * level, VAL_START_TOL * val_loss[0])`:
     10 % of that level, or 5 % of the first epoch's validation loss when the level is tiny
     (noise around a near-zero loss is not a rise).
   - "Kept falling": a least-squares line through the training losses from the epoch of the
     best validation loss to the last one drops by `TRAIN_FALL` (20 %) or more (a noisy but
     flat training loss, as with dropout and L2, is not falling).
   `since_epoch`: the epoch of the lowest validation loss, the one EarlyStopping would restore.
6. Underfitting, from `max(UNDERFIT_MIN_EPOCHS, patience + 1)` epochs on: the training loss is
   flat and high, and so is the validation loss:
   - flat: the lowest training loss of the last `patience` epochs is less than `FLAT_TOL`
     (1 %) below the lowest one before them;
   - high: that lowest recent training loss is still at least `HIGH_FRACTION` (50 %) of the
     first epoch's training loss, and the lowest recent validation loss is at least
     `HIGH_FRACTION` of the first epoch's validation loss (relative to the start, because
     losses have no common scale: cross-entropy starts near ln(classes), MSE anywhere);
   - for classification with an accuracy metric in the history, the best training accuracy
     of the last `patience` epochs is also below `ACCURACY_CEILING` (0.9): a network that
     fits its training data that well is not underfitting, however its loss looks.
   `since_epoch`: the last epoch whose training loss beat the best before it by `FLAT_TOL`
   or more (where the plateau began; 1 when it never improved).
7. Otherwise "ok", with `since_epoch` None.

The relative thresholds assume losses >= 0, as all of Keras's are but cosine_similarity; with a
negative loss only the divergence rules can fire.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tuinet.app.arrays import as_floats as _floats

__all__ = [
    "ACCURACY_CEILING",
    "ACCURACY_KEYS",
    "DIVERGE_FACTOR",
    "Diagnosis",
    "FLAT_TOL",
    "HIGH_FRACTION",
    "TRAIN_FALL",
    "UNDERFIT_MIN_EPOCHS",
    "VAL_REL_TOL",
    "VAL_START_TOL",
    "fit_diagnosis",
]

VAL_REL_TOL = 0.10
"""The validation loss counts as risen when above its best level by 10 % of that level ..."""
VAL_START_TOL = 0.05
"""... or by 5 % of its first value, whichever is larger (so noise around a near-zero best is not a rise)."""
TRAIN_FALL = 0.20
"""The training loss "kept falling" when its trend since the best validation epoch dropped by 20 %."""
UNDERFIT_MIN_EPOCHS = 10
"""Underfitting is not judged before this many epochs."""
FLAT_TOL = 0.01
"""The training loss is flat when the last `patience` epochs improved on the best before them by less than 1 %."""
HIGH_FRACTION = 0.5
"""A loss is high while it is at least half of its first epoch's value."""
ACCURACY_CEILING = 0.9
"""A training accuracy at or above this means the network fits its training data: no underfitting."""
DIVERGE_FACTOR = 2.0
"""Diverging: the training loss stays above its start and above twice its lowest value."""
ACCURACY_KEYS = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")
"""History keys read as the training accuracy, first found wins."""

Kind = Literal["overfitting", "underfitting", "diverging", "ok"]


@dataclass(frozen=True)
class Diagnosis:
    """What the loss curves say about the fit.

    Attributes:
        kind: "overfitting", "underfitting", "diverging" or "ok".
        message: One or two sentences for the user, with a suggestion what to try.
        since_epoch: 1-based epoch where the trouble began (see the module docstring), or None.
    """

    kind: Kind
    message: str
    since_epoch: int | None


def fit_diagnosis(history: Mapping[str, Sequence[float]], *, patience: int = 5,
                  epochs: Sequence[int] | None = None) -> Diagnosis | None:
    """Diagnose over- or underfitting from a Keras-style history (the rules are in the module docstring).

    Args:
        history: Per-epoch values by key, as `History.history` or `TrainingSession.history`:
            at least "loss" and "val_loss"; an accuracy key is used when present.
        patience: Epochs a trend must last before it counts (>= 1).
        epochs: The 1-based epoch of each entry when the history is thinned (a long run's
            `EpochHistory.epochs`; by default the history's own `epochs`, else 1, 2, ...): the
            epochs the messages name. Trends are then judged over entries, not epochs.

    Returns:
        A `Diagnosis`, or None when there is no validation loss or too few epochs to judge.
    """
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be a positive integer, got {patience!r}")
    loss = _floats(history.get("loss", ()))
    val = _floats(history.get("val_loss", ()))
    n = min(len(loss), len(val))
    if n == 0:
        return None
    loss, val = loss[:n], val[:n]
    if epochs is None:
        epochs = getattr(history, "epochs", None)
    if epochs is not None and len(epochs) >= n:
        kept = [int(e) for e in epochs[:n]]
        ep = kept.__getitem__
    else:
        def ep(i: int) -> int:
            return i + 1
    if not (math.isfinite(loss[-1]) and math.isfinite(val[-1])):
        which = "training" if not math.isfinite(loss[-1]) else "validation"
        value = float(loss[-1] if which == "training" else val[-1])
        return Diagnosis("diverging", f"Diverging: the {which} loss is {_num(value)} at epoch {ep(n - 1)}. "
                         "Lower the learning rate, or clip gradients (clipnorm).", ep(n - 1))
    if n < patience + 1:
        return None
    return (_diverging(loss, patience, ep) or _overfitting(loss, val, patience, ep)
            or _underfitting(loss, val, _accuracy(history, n), patience, ep)
            or Diagnosis("ok", _ok_message(loss, val, n), None))


# ---------------------------------------------------------------------- the rules
# Every rule reads whole histories as float arrays (NaN for what is not a number): the app
# diagnoses a run of 100,000 epochs in milliseconds, on the thread that draws the screen.
def _diverging(loss: np.ndarray, patience: int, ep=lambda i: i + 1) -> Diagnosis | None:
    finite = np.isfinite(loss)
    if not finite.any():
        return None
    lowest = float(loss[finite].min())
    limit = max(float(loss[0]), DIVERGE_FACTOR * lowest)
    if not bool(np.all(loss[-patience:] > limit)):
        return None
    turned = ep(int(np.flatnonzero(loss == lowest)[0]))
    return Diagnosis("diverging",
                     f"Diverging: the training loss was lowest at epoch {turned} ({_num(lowest)}) and has been "
                     f"climbing for {patience}+ epochs (now {_num(loss[-1])}, above where it started). "
                     "Lower the learning rate, or clip gradients (clipnorm).", turned)


def _overfitting(loss: np.ndarray, val: np.ndarray, patience: int, ep=lambda i: i + 1) -> Diagnosis | None:
    finite = np.isfinite(val)
    if not finite.any() or not finite[0]:
        return None
    best_i = int(np.argmin(np.where(finite, val, np.inf)))  # the first epoch at the lowest finite value
    best = float(val[best_i])
    means = _centred_mean(val)
    level = float(means[np.isfinite(means)].min())
    tolerance = max(VAL_REL_TOL * abs(level), VAL_START_TOL * abs(float(val[0])))
    above = val > level + tolerance  # a NaN is not above: it ends the run too
    rising = len(above) if above.all() else int(np.argmin(above[::-1]))
    if rising < patience:
        return None
    xs = np.flatnonzero(np.isfinite(loss[best_i:])) + best_i
    if len(xs) < 2:
        return None
    then, now = _line_ends(xs, loss[xs])
    if not (then > 0 and now < (1.0 - TRAIN_FALL) * then):
        return None
    epoch = ep(best_i)
    last = len(val) - 1
    rising = ep(last) - ep(last - rising) if rising <= last else ep(last)  # in epochs
    return Diagnosis("overfitting",
                     f"Overfitting: the validation loss was lowest at epoch {epoch} ({_num(best)}) and has been "
                     f"higher for the last {rising} epochs (now {_num(val[-1])}), while the training loss kept "
                     f"falling ({_num(loss[best_i])} → {_num(loss[-1])}). Try dropout, L2 regularization or more "
                     f"data; the model of epoch {epoch} generalised best (EarlyStopping with "
                     "restore_best_weights keeps it).", epoch)


def _centred_mean(values: np.ndarray) -> np.ndarray:
    """Mean of each value and its two neighbours (one at the ends); NaN where none is finite."""
    finite = np.isfinite(values)
    v = np.where(finite, values, 0.0)
    total, count = v.copy(), finite.astype(float)
    total[1:] = v[:-1] + v[1:]  # left neighbour + self, added in the order the window reads
    count[1:] += finite[:-1]
    total[:-1] += v[1:]
    count[:-1] += finite[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _line_ends(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
    """The least-squares line through the points (epoch, loss), evaluated at the first and last epoch."""
    xs = xs.astype(float)
    mx, my = float(xs.mean()), float(ys.mean())
    sxx = float(((xs - mx) ** 2).sum())
    slope = float(((xs - mx) * (ys - my)).sum()) / sxx if sxx else 0.0
    return my + slope * (xs[0] - mx), my + slope * (xs[-1] - mx)


def _underfitting(loss: np.ndarray, val: np.ndarray, accuracy: np.ndarray | None,
                  patience: int, ep=lambda i: i + 1) -> Diagnosis | None:
    n = len(loss)
    if n < max(UNDERFIT_MIN_EPOCHS, patience + 1):
        return None
    if not (math.isfinite(loss[0]) and math.isfinite(val[0])) or loss[0] <= 0 or val[0] <= 0:
        return None
    before, recent, recent_val = _finite(loss[:-patience]), _finite(loss[-patience:]), _finite(val[-patience:])
    if not (len(before) and len(recent) and len(recent_val)):
        return None
    best_before, best_recent = float(before.min()), float(recent.min())
    if best_recent < (1.0 - FLAT_TOL) * best_before:
        return None  # still improving
    if best_recent < HIGH_FRACTION * loss[0] or recent_val.min() < HIGH_FRACTION * val[0]:
        return None  # learned a good part already
    accuracy_note = ""
    if accuracy is not None:
        recent_acc = _finite(accuracy[-patience:])
        if len(recent_acc) and recent_acc.max() >= ACCURACY_CEILING:
            return None
        if len(recent_acc):
            accuracy_note = f", training accuracy only {float(recent_acc.max()):.0%}"
    since = ep(_plateau_start(loss) - 1)
    share = best_recent / float(loss[0])
    return Diagnosis("underfitting",
                     f"Underfitting: after {ep(n - 1)} epochs the training loss is still {_num(loss[-1])} ({share:.0%} of "
                     f"epoch 1's) and has barely moved since epoch {since} (under 1% better over the last "
                     f"{patience} epochs{accuracy_note}). Try a bigger network (more units or layers), more "
                     "epochs, or a higher learning rate.", since)


def _plateau_start(loss: np.ndarray) -> int:
    """1-based epoch of the last training loss that beat the best before it by `FLAT_TOL` or more."""
    finite = np.isfinite(loss)
    best = np.minimum.accumulate(np.where(finite, loss, np.inf))
    best_before = np.concatenate(([np.inf], best[:-1]))  # the best of the epochs before each one
    with np.errstate(invalid="ignore"):
        beat = finite & ((loss < (1.0 - FLAT_TOL) * best_before) | (best_before == np.inf))
    hits = np.flatnonzero(beat)
    return int(hits[-1]) + 1 if len(hits) else 1


def _ok_message(loss: np.ndarray, val: np.ndarray, n: int) -> str:
    return (f"No sign of over- or underfitting after {n} epochs (loss {_num(loss[-1])}, "
            f"val_loss {_num(val[-1])}).")


# ---------------------------------------------------------------------- helpers
def _accuracy(history: Mapping[str, Sequence[float]], n: int) -> np.ndarray | None:
    for key in ACCURACY_KEYS:
        values = history.get(key)
        if values is not None and len(values):
            return _floats(values)[:n]
    return None


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _num(value: float) -> str:
    return f"{float(value):.4g}"

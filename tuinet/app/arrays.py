"""Float arrays that follow append-only lists, for the screens' per-epoch work on long runs.

A small problem trains hundreds of epochs a second, so a run left open for ten minutes has a
history of 100,000+ epochs per key. The screens draw it and diagnose it several times a
second on the thread that also answers key presses; converting every list to an array each
time cost O(run length) per redraw. A `ListMirror` copies only what was appended since it
last looked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


class ListMirror:
    """An array view of an append-only list of numbers, kept up to date incrementally.

    `view(values)` returns `values` as a float array (non-numbers as NaN). When `values` is the
    list seen last time, only the new items and the last one seen are converted (a thinned
    `EpochHistory` replaces its newest entry in place); a different list object, or a shorter
    one (a reset), is converted whole.
    """

    __slots__ = ("_data", "_n", "_source")

    def __init__(self) -> None:
        self._data = np.empty(64)
        self._n = 0
        self._source: object = None

    def __len__(self) -> int:
        return self._n

    def view(self, values: Sequence[float]) -> np.ndarray:
        m = len(values)
        if values is not self._source or m < self._n:
            self._source, self._n = values, 0
        if m:
            start = max(self._n - 1, 0)
            new = as_floats(values[start:m])
            if m > self._data.size:
                grown = np.empty(max(2 * self._data.size, m + m // 2))
                grown[:start] = self._data[:start]
                self._data = grown
            self._data[start:m] = new
            self._n = m
        return self._data[:self._n]


class HistoryMirror:
    """`ListMirror`s for every key of a Keras-style history (`{"loss": [...], ...}`)."""

    def __init__(self) -> None:
        self._mirrors: dict[str, ListMirror] = {}

    def arrays(self, history: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
        """The history as {key: float array}, each brought up to date with its list."""
        for key in [k for k in self._mirrors if k not in history]:
            del self._mirrors[key]
        return {key: self._mirrors.setdefault(key, ListMirror()).view(values) for key, values in history.items()}


def as_floats(values: Sequence[float]) -> np.ndarray:
    """`values` as floats; what is not a number becomes NaN."""
    try:
        return np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        out = []
        for v in values:
            try:
                out.append(float(v))
            except (TypeError, ValueError):
                out.append(float("nan"))
        return np.asarray(out, dtype=float)

"""`Dataset`: the arrays of one data set plus what the app needs to show them."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tuinet.errors import ConfigError, DataError

TASKS = ("classification", "regression")


@dataclass(eq=False)
class Dataset:
    """Samples and targets of one data set, with names for display.

    Attributes:
        name: Short name shown in titles, such as "spiral" or "iris".
        x: Inputs, float32: `(n, features)`, `(n, steps, features)` or `(n, h, w, channels)`.
        y: Targets. Classification: int64 class ids `(n,)`; regression: float32 `(n,)` or `(n, k)`.
        task: "classification" or "regression".
        feature_names: One name per entry of the last axis of `x` (features or channels).
        class_names: Classification only: display names indexed by class id.
        description: A few sentences about the data and where it comes from.
        image_shape: Set when each sample is an image, e.g. `(8, 8)` for digits whose `x` stays
            flat `(n, 64)`, or `(h, w, c)` for `x` already `(n, h, w, c)`.
        source: Where it came from: "generator:spiral", "builtin:iris" or a file path.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    task: str
    feature_names: list[str]
    class_names: list[str] | None = None
    description: str = ""
    image_shape: tuple[int, ...] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")
        if len(self.x) != len(self.y):
            raise DataError(f"{self.name}: x has {len(self.x)} samples but y has {len(self.y)}")

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(len(self.x))

    @property
    def num_classes(self) -> int | None:
        """Number of classes for classification (from `class_names`), None for regression."""
        if self.task != "classification":
            return None
        if self.class_names is not None:
            return len(self.class_names)
        return int(self.y.max()) + 1 if len(self.y) else 0

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, `x.shape[1:]`, as a first layer's `input_shape` wants it."""
        return tuple(int(d) for d in self.x.shape[1:])

    def subset(self, idx) -> Dataset:
        """A new Dataset with the samples at `idx` (an index array or a boolean mask of length `n`)."""
        return replace(self, x=self.x[idx], y=self.y[idx], feature_names=list(self.feature_names),
                       class_names=None if self.class_names is None else list(self.class_names))

    def __repr__(self) -> str:
        classes = f", num_classes={self.num_classes}" if self.task == "classification" else ""
        return (f"Dataset(name={self.name!r}, task={self.task!r}, x={self.x.shape} {self.x.dtype}, "
                f"y={self.y.shape} {self.y.dtype}{classes}, source={self.source!r})")

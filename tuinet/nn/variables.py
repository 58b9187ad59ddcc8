"""Keras-style variables: `layer.weights`, `layer.kernel`, `model.trainable_weights`.

A `Variable` is a live handle on one weight of a layer (not a copy): `.numpy()` returns a copy
of its current value, `.assign(value)` writes into it in place, and `np.asarray(v)` reads it,
as with a Keras 3 variable.

    for v in model.trainable_weights:
        print(v.path, v.shape)            # dense/kernel (2, 16)
    model.layers[0].bias.assign(np.zeros(16))
"""

from __future__ import annotations

import numpy as np

from tuinet.errors import ShapeError


class Variable:
    """One weight of a layer, looked up by name each time (so it follows the model's buffers)."""

    __slots__ = ("_layer", "_key")

    def __init__(self, layer, key: str) -> None:
        self._layer = layer
        self._key = key

    @property
    def value(self) -> np.ndarray:
        """The weight's array itself (writes go into the model)."""
        return self._layer.weight(self._key)

    @property
    def name(self) -> str:
        return self._key

    @property
    def path(self) -> str:
        return f"{self._layer.name}/{self._key}"

    @property
    def shape(self) -> tuple:
        return tuple(self.value.shape)

    @property
    def dtype(self) -> str:
        return self.value.dtype.name

    @property
    def ndim(self) -> int:
        return self.value.ndim

    @property
    def trainable(self) -> bool:
        return self._key in self._layer.params and bool(self._layer.trainable)

    def numpy(self) -> np.ndarray:
        return self.value.copy()

    def assign(self, value) -> "Variable":
        target = self.value
        value = np.asarray(value)
        if value.shape != target.shape:
            raise ShapeError(f"{self.path}: assign needs a value of shape {target.shape}, got {value.shape}")
        target[...] = value
        return self

    def assign_add(self, value) -> "Variable":
        return self.assign(self.value + np.asarray(value))

    def assign_sub(self, value) -> "Variable":
        return self.assign(self.value - np.asarray(value))

    def __array__(self, dtype=None, copy=None):
        value = self.value
        return value.astype(dtype) if dtype is not None else value.copy()

    def __len__(self) -> int:
        return len(self.value)

    def __getitem__(self, item):
        return self.value[item].copy()

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"


def layer_variables(layer, which: str = "all") -> list[Variable]:
    """The variables of a layer (or a model, nested models opened up) in Keras order:
    `which` is "all", "trainable" or "non_trainable"."""
    from tuinet.nn.model import Sequential

    if isinstance(layer, Sequential):
        found = []
        for lay, trainable in layer._leaves():
            for var in layer_variables(lay, "all"):
                is_trainable = var._key in lay.params and trainable
                if which == "all" or (which == "trainable") == is_trainable:
                    found.append(var)
        return found
    found = []
    for key in layer.weight_names:
        is_trainable = key in layer.params and bool(layer.trainable)
        if which == "all" or (which == "trainable") == is_trainable:
            found.append(Variable(layer, key))
    return found


class HasVariables:
    """Keras's variable lists for layers and models: `weights`, `trainable_weights`,
    `non_trainable_weights` (and their `*_variables` names)."""

    @property
    def weights(self) -> list:
        """Every weight as a Keras-style `Variable` (live handles: `.numpy()`, `.assign()`), in Keras order."""
        return layer_variables(self)

    @property
    def trainable_weights(self) -> list:
        return layer_variables(self, "trainable")

    @property
    def non_trainable_weights(self) -> list:
        return layer_variables(self, "non_trainable")

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

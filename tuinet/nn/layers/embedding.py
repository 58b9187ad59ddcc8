"""Embedding: a trainable lookup table from integer ids to dense vectors."""

from __future__ import annotations

import warnings

import numpy as np

from tuinet.errors import ShapeError
from tuinet.nn import constraints, initializers, regularizers
from tuinet.nn.layers.base import Layer, check_bool, check_positive_int


class Embedding(Layer):
    """Turns non-negative integer ids into rows of `embeddings`: `[[4], [20]] -> [[e_4], [e_20]]`.

    Inputs of shape `(batch, ...)` hold ids in `[0, input_dim)`; integer arrays are used as
    they are, float arrays (as a model feeds data) must hold whole numbers. The output is
    `(batch, ..., output_dim)`. The ids get no gradient, so `backward` returns None.

    Args:
        input_dim: Vocabulary size: the largest id plus one.
        output_dim: Width of each embedding vector.
        embeddings_initializer: Initializer of `embeddings`, shape `(input_dim, output_dim)`
            (Keras's default "uniform": uniform in [-0.05, 0.05]).
        embeddings_regularizer: Penalty on `embeddings`.
        embeddings_constraint: Projection of `embeddings` after each step.
        mask_zero: Treat id 0 as padding: the layer outputs a mask `ids != 0` that the recurrent
            layers after it (through Dense and Dropout) use to skip padded time steps, as in Keras.
    """

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero: bool = False,
                 **kwargs) -> None:
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Embedding: argument `input_length` is deprecated (as in Keras 3); just remove it.",
                          stacklevel=2)
        super().__init__(**kwargs)
        self.input_dim = check_positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = check_positive_int("Embedding", "output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = check_bool("Embedding", "mask_zero", mask_zero)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def build(self, input_shape, rng):
        self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer, rng,
                        regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint)

    def _ids(self, x) -> np.ndarray:
        """Validated integer ids of `x`, as `np.intp`."""
        x = np.asarray(x)
        label = f"Embedding {self.name!r}"
        if x.dtype.kind in "iu":
            ids = x.astype(np.intp, copy=False)
        elif x.dtype.kind in "fb":
            with np.errstate(invalid="ignore"):
                ids = x.astype(np.intp)
            if x.dtype.kind == "f" and not np.array_equal(ids, x):
                bad = x.reshape(-1)[np.flatnonzero(ids.reshape(-1) != x.reshape(-1))[0]].item()
                raise ShapeError(f"{label} expects integer ids in [0, {self.input_dim}), got the "
                                 f"non-integer value {bad!r}")
        else:
            raise ShapeError(f"{label} expects integer ids in [0, {self.input_dim}), got an array of "
                             f"dtype {x.dtype}")
        if ids.size:
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0 or hi >= self.input_dim:
                bad = lo if lo < 0 else hi
                raise ShapeError(f"{label}: id {bad} is out of range; valid ids are 0 to {self.input_dim - 1} "
                                 f"(input_dim={self.input_dim})")
        return ids

    def forward(self, x, *, training=False):
        ids = self._ids(x)
        self._flat_ids = ids.reshape(-1)
        return np.take(self.params["embeddings"], ids, axis=0)

    def compute_mask(self, x, mask):
        if not self.mask_zero:
            return None
        return np.asarray(x) != 0

    def backward(self, grad_out):
        grad = self.grads["embeddings"]
        d = self.output_dim
        g = np.asarray(grad_out, dtype=grad.dtype).reshape(-1, d)
        grad[...] = 0
        if grad.flags.c_contiguous:
            # Unbuffered scatter-add on flat indices: repeated ids accumulate.
            flat = (self._flat_ids[:, None] * d + np.arange(d)).reshape(-1)
            np.add.at(grad.reshape(-1), flat, g.reshape(-1))
        else:  # pragma: no cover - the model keeps gradients contiguous
            np.add.at(grad, self._flat_ids, g)
        return None

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
                "mask_zero": self.mask_zero}

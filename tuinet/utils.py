"""Keras's array utilities (`keras.utils`): one-hot labels, padded sequences and the global seed.

    from tuinet.utils import pad_sequences, to_categorical
    y = to_categorical([0, 2, 1])                   # (3, 3) float64 one-hot rows
    x = pad_sequences([[1], [2, 3]], maxlen=3)     # [[0, 0, 1], [0, 2, 3]] as int32

Both follow `keras.utils` value for value; where Keras would fail deep inside NumPy (a label out
of range, an unknown `padding`) tuinet raises `ConfigError` (a `ValueError`) naming the argument.
"""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError
from tuinet.nn.batches import PyDataset, Sequence
from tuinet.nn.random import set_random_seed
from tuinet.plot_model import plot_model

__all__ = ["to_categorical", "pad_sequences", "set_random_seed", "normalize", "PyDataset", "Sequence",
           "plot_model"]

_SIDES = ("pre", "post")


def to_categorical(x, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer class ids, as `keras.utils.to_categorical`.

    Args:
        x: Class ids of any shape; a trailing axis of size 1 is dropped first, so `(N, 1)`
            labels give `(N, num_classes)`.
        num_classes: The width of the one-hot axis; None (or 0) means `max(x) + 1`.

    Returns:
        A float64 array of shape `x.shape + (num_classes,)` with the class axis last.
    """
    ids = np.array(x, dtype="int64")
    shape = ids.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = tuple(shape[:-1])
    ids = ids.reshape(-1)
    if not num_classes:
        if ids.size == 0:
            raise ConfigError("to_categorical: cannot infer num_classes from empty labels; pass num_classes")
        num_classes = int(ids.max()) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 0:
        raise ConfigError(f"to_categorical: num_classes must be a positive integer, got {num_classes!r}")
    num_classes = int(num_classes)
    if ids.size and (ids.max() >= num_classes or ids.min() < -num_classes):
        bad = int(ids.max()) if ids.max() >= num_classes else int(ids.min())
        raise ConfigError(f"to_categorical: class id {bad} is out of range for num_classes={num_classes} "
                          f"(ids must be 0..{num_classes - 1})")
    categorical = np.zeros((ids.shape[0], num_classes))
    categorical[np.arange(ids.shape[0]), ids] = 1
    return categorical.reshape(shape + (num_classes,))


def pad_sequences(sequences, maxlen: int | None = None, dtype="int32", padding: str = "pre",
                  truncating: str = "pre", value=0.0) -> np.ndarray:
    """Pad (and cut) sequences to one length, as `keras.utils.pad_sequences`.

    Args:
        sequences: A list of sequences (lists or arrays; each step may itself be an array).
        maxlen: The output length; None means the longest sequence.
        dtype: The output dtype (`object` for variable-length strings).
        padding: "pre" or "post": where the `value` padding goes.
        truncating: "pre" or "post": which end of a longer sequence is cut off.
        value: The padding value.

    Returns:
        An array of shape `(len(sequences), maxlen) + step_shape`.
    """
    if padding not in _SIDES:
        raise ConfigError(f'pad_sequences: padding must be "pre" or "post", got {padding!r}')
    if truncating not in _SIDES:
        raise ConfigError(f'pad_sequences: truncating must be "pre" or "post", got {truncating!r}')
    if not hasattr(sequences, "__len__"):
        raise ConfigError("pad_sequences: `sequences` must be a list of sequences")
    lengths, sample_shape, found = [], (), False
    for seq in sequences:
        try:
            lengths.append(len(seq))
        except TypeError:
            raise ConfigError(f"pad_sequences: `sequences` must be a list of sequences; found {seq!r}") from None
        if not found and len(seq):
            sample_shape, found = np.asarray(seq).shape[1:], True
    if maxlen is None:
        maxlen = max(lengths, default=0)
    if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ConfigError(f"pad_sequences: maxlen must be a non-negative integer or None, got {maxlen!r}")
    maxlen = int(maxlen)
    is_text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_text:
        raise ConfigError(f"pad_sequences: dtype {dtype} cannot hold the string value {value!r}; "
                          "use dtype=object for variable-length strings")
    out = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return out
    for idx, seq in enumerate(sequences):
        if not len(seq):
            continue
        kept = np.asarray(seq[-maxlen:] if truncating == "pre" else seq[:maxlen], dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ConfigError(f"pad_sequences: steps of sequence {idx} have shape {kept.shape[1:]}, "
                              f"expected {sample_shape} like the first non-empty sequence")
        if padding == "post":
            out[idx, :len(kept)] = kept
        else:
            out[idx, -len(kept):] = kept
    return out


def normalize(x, axis: int = -1, order: int = 2) -> np.ndarray:
    """Scale `x` to unit norm along `axis`, as `keras.utils.normalize` (rows of zeros stay zeros)."""
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ConfigError(f"normalize: order must be a positive integer (2 for the L2 norm), got {order!r}")
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ConfigError(f"normalize: x must be numeric, got dtype {arr.dtype}")
    norm = np.atleast_1d(np.linalg.norm(arr, order, axis))
    norm[norm == 0] = 1
    return arr / np.expand_dims(norm, axis)

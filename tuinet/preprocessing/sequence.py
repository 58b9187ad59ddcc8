"""`keras.preprocessing.sequence`: `pad_sequences` (the same function as `tuinet.utils.pad_sequences`)."""

from tuinet.utils import pad_sequences

__all__ = ["pad_sequences"]

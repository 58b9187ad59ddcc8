"""The array module and default float type, chosen in one place.

Every layer does its math through `xp` (NumPy today) so that CuPy can stand in for it on a
GPU box without touching the layers. `floatx()` is the dtype new weights and inputs get:
float32 by default, float64 on request (the gradient checks use it).
"""

from __future__ import annotations

import numpy as np

from tuinet.errors import ConfigError

xp = np

_FLOATX = np.dtype("float32")


def floatx() -> np.dtype:
    """The default float dtype of weights and activations."""
    return _FLOATX


def set_floatx(dtype: str | np.dtype) -> None:
    """Set the default float dtype: "float32" or "float64"."""
    global _FLOATX
    d = np.dtype(dtype)
    if d not in (np.dtype("float32"), np.dtype("float64")):
        raise ConfigError(f"floatx must be 'float32' or 'float64', got {dtype!r}")
    _FLOATX = d


def epsilon() -> float:
    """Keras's fuzz factor `1e-7`, used by losses and metrics."""
    return 1e-7


def to_array(x, dtype=None) -> np.ndarray:
    """Convert input data to a contiguous array of `dtype` (default: floatx)."""
    return np.ascontiguousarray(x, dtype=dtype or _FLOATX)

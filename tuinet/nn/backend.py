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


_F32 = np.finfo(np.float32)


def float32_problem(value: float) -> str | None:
    """Why the number `value` has no float32 counterpart, or None when it has one.

    A learning rate above float32's largest value (~3.4e38) becomes infinite in a float32
    update, and a positive one below half the smallest subnormal (~1.4e-45) becomes 0. The
    answer reads like `1e+300 cannot be represented in float32 (max 3.4e+38)`.
    """
    value = float(value)
    if abs(value) > float(_F32.max):
        with np.errstate(over="ignore"):
            if np.isinf(np.float32(value)):
                return f"{value!r} cannot be represented in float32 (max {float(_F32.max):.2g})"
    elif value != 0 and np.float32(value) == 0:
        return (f"{value!r} cannot be represented in float32 (it rounds to 0; the smallest positive "
                f"float32 is {float(_F32.smallest_subnormal):.2g})")
    return None


def to_array(x, dtype=None) -> np.ndarray:
    """Convert input data to a contiguous array of `dtype` (default: floatx)."""
    return np.ascontiguousarray(x, dtype=dtype or _FLOATX)


def image_data_format() -> str:
    """Keras's image layout: tuinet's convolutions are always channels-last."""
    return "channels_last"


def set_image_data_format(data_format: str) -> None:
    if data_format != "channels_last":
        raise ConfigError(f"image_data_format: tuinet computes channels_last only, got {data_format!r}")


def backend() -> str:
    """The name of the engine, as `keras.backend.backend()`: tuinet computes with NumPy."""
    return "numpy"


def clear_session(free_memory: bool = True) -> None:
    """Keras's `clear_session`: the automatic layer names start again ("dense", then "dense_1"...)."""
    from tuinet.nn import functional

    functional.reset_names()

"""`Input(shape=...)`: the Keras 3 way to declare a Sequential model's input shape."""

from __future__ import annotations

from tuinet.errors import ConfigError


class InputLayer:
    """Declares the shape of one sample; `Sequential([Input((28, 28, 1)), ...])` consumes it.

    It holds no weights and does no computation; the model records its shape and drops it.
    """

    def __init__(self, shape=None, *, batch_size=None, dtype=None, name=None, input_shape=None) -> None:
        shape = shape if shape is not None else input_shape
        if isinstance(shape, int):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not shape or not all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in shape
        ):
            raise ConfigError(f"Input: shape must be a tuple of positive ints such as (2,) or (28, 28, 1), got {shape!r}")
        self.shape = tuple(shape)
        self.name = name
        self.dtype = dtype

    def get_config(self) -> dict:
        return {"shape": list(self.shape), "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, name=None, **kwargs) -> InputLayer:  # noqa: N802 - Keras name
    """Keras's `keras.Input(shape=(...))` for Sequential models."""
    return InputLayer(shape, batch_size=batch_size, dtype=dtype, name=name, **kwargs)

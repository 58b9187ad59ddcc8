"""`keras.config`: the global settings Keras programs read or set.

    tuinet.config.set_floatx("float64")     # weights and activations in float64
    tuinet.config.image_data_format()       # "channels_last" (the only layout tuinet has)
"""

from __future__ import annotations

from tuinet.nn.backend import (backend, epsilon, floatx, image_data_format, set_floatx,  # noqa: F401
                               set_image_data_format)

__all__ = ["backend", "epsilon", "floatx", "set_floatx", "image_data_format", "set_image_data_format",
           "enable_unsafe_deserialization", "disable_interactive_logging", "enable_interactive_logging",
           "is_interactive_logging_enabled"]

_INTERACTIVE = [True]


def enable_unsafe_deserialization() -> None:
    """Accepted for Keras compatibility: tuinet never deserializes code (no pickle, no lambdas)."""


def disable_interactive_logging() -> None:
    """Keras's switch for `fit`'s progress bars; tuinet's `verbose=` argument decides them."""
    _INTERACTIVE[0] = False


def enable_interactive_logging() -> None:
    _INTERACTIVE[0] = True


def is_interactive_logging_enabled() -> bool:
    return _INTERACTIVE[0]

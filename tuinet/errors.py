"""One exception family for everything a user can get wrong.

The CLI and the app catch `TuinetError` and show its message on one line; anything else is
a bug in tuinet. Each subclass also derives from the built-in exception a Python user would
expect (`ValueError`, `OSError`...), so `except ValueError` keeps working.
"""

from __future__ import annotations

import difflib


class TuinetError(Exception):
    """Base class of every error tuinet raises on purpose."""


class ConfigError(TuinetError, ValueError):
    """A wrong argument, name or setting (unknown activation, negative units...)."""


class ShapeError(TuinetError, ValueError):
    """Data or layers whose shapes do not fit together."""


class NotBuiltError(TuinetError, RuntimeError):
    """A model used before it knows its input shape or before `compile`."""


class ModelFileError(TuinetError, OSError):
    """A model file that is missing, truncated, foreign or tampered with."""


class DataError(TuinetError, ValueError):
    """A data file or data option that cannot be used (text in a numeric column, ragged row...)."""


class PresetError(TuinetError, ValueError):
    """A preset file that is missing, not valid TOML, or has a wrong field.

    The message reads like `spiral.toml: model.layers[2].units: expected a positive integer, got "sixteen"`.
    """


class DivergenceError(TuinetError, ArithmeticError):
    """The loss became NaN or infinite during training."""

    def __init__(self, message: str, *, epoch: int | None = None, batch: int | None = None,
                 loss: float | None = None) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.loss = epoch, batch, loss


def did_you_mean(value: str, choices) -> str:
    """Return ' (did you mean "x"?)' when `value` is close to one of `choices`, else ''."""
    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(str(value).lower(), list(lowered), n=1, cutoff=0.6)
    return f' (did you mean "{lowered[close[0]]}"?)' if close else ""


def unknown_name(kind: str, value: object, choices) -> ConfigError:
    """Build the error for a registry name that does not exist."""
    return ConfigError(
        f"unknown {kind} {value!r}{did_you_mean(str(value), choices)}; choose from {', '.join(sorted(choices))}"
    )

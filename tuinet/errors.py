"""One exception family for everything a user can get wrong.

The CLI and the app catch `TuinetError` and show its message on one line; anything else is
a bug in tuinet. Each subclass also derives from the built-in exception a Python user would
expect (`ValueError`, `OSError`...), so `except ValueError` keeps working.
"""

from __future__ import annotations

import difflib
import re


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


_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    code = ord(ch)
    return _SHORT.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def safe_text(value: object, limit: int | None = 80) -> str:
    """`value` as text that is safe to echo in a one-line message or on screen.

    Control characters (C0, DEL, C1), the line and paragraph separators U+2028/U+2029 and the
    bidirectional marks and overrides (U+200E/F, U+061C, U+202A-U+202E, U+2066-U+2069) become
    escapes such as `\\x1b`, `\\n` or `\\u202e`, so a preset title, a column name or a class
    name read from a file can neither break the line, move the cursor, retitle the terminal nor
    reorder what follows it; a lone surrogate (from JSON's "\\ud800") becomes `\\ud800` instead
    of failing to print. Text longer than `limit` characters (after escaping) is cut and
    ends with "…"; `limit=None` keeps it whole.
    """
    text = _UNSAFE.sub(lambda m: _escape(m.group()), str(value))
    if limit is not None and len(text) > limit:
        cut = text[: max(limit - 1, 0)]
        tail = cut.rfind("\\", max(len(cut) - 6, 0))
        if tail >= 0 and re.fullmatch(r"\\(x[0-9a-f]{0,1}|u[0-9a-f]{0,3}|)", cut[tail:]):
            cut = cut[:tail]  # never end on half an escape
        text = cut + "…"
    return text

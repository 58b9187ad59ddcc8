"""Paths the user types: `~` and `~user` expanded, and refused in one line when unusable.

Every path a user gives (a preset file, a preset's data source, `--out`, a model or data file
for `predict`) goes through `user_path`, so `~alice/runs/iris.tuinet` works everywhere, and an
unknown user, a NUL character or a name longer than the file system allows is a one-line
`TuinetError` instead of a traceback from deep inside `open`.
"""

from __future__ import annotations

import os
from pathlib import Path

from tuinet.errors import ConfigError, TuinetError, safe_text

NAME_MAX = 255
"""Fallback for the longest file name in bytes, when the system does not say (`PC_NAME_MAX`)."""

PATH_MAX = 4096
"""Fallback for the longest path in bytes, when the system does not say (`PC_PATH_MAX`)."""


def _limit(name: str, fallback: int) -> int:
    try:
        value = os.pathconf("/", name)
    except (AttributeError, OSError, ValueError):
        return fallback
    return value if value and value > 0 else fallback


def user_path(text: str | os.PathLike, *, what: str = "path",
              error: type[TuinetError] = ConfigError) -> Path:
    """`text` as a `Path`, with `~` and `~user` expanded.

    Args:
        text: The path as the user gave it.
        what: How the message names it ("--out", "data.source"...); messages read like
            `--out ~bob/m.tuinet: unknown user "bob" in "~"; expected ~ or ~name of a user ...`.
        error: The `TuinetError` subclass to raise (`PresetError` for a preset's fields...).

    Raises:
        error: for an unknown `~user` (or `~` without a home folder), a NUL character, a file
            name longer than NAME_MAX bytes or a path longer than PATH_MAX bytes.
    """
    raw = os.fspath(text)
    shown = safe_text(raw, limit=60)
    if "\x00" in raw:
        raise error(f"{what} {shown}: a path cannot contain a NUL character")
    expanded = os.path.expanduser(raw) if raw.startswith("~") else raw
    if expanded.startswith("~"):
        user = expanded[1:].split("/", 1)[0].split(os.sep, 1)[0]
        if user:
            raise error(f'{what} {shown}: unknown user "{safe_text(user, limit=40)}" in "~"; expected ~ '
                        f"or ~name of a user on this system")
        raise error(f"{what} {shown}: there is no home folder (HOME is not set) to expand ~ to")
    encoded = os.fsencode(expanded)
    name_max = _limit("PC_NAME_MAX", NAME_MAX)
    for part in encoded.split(os.fsencode(os.sep)):
        if len(part) > name_max:
            raise error(f"{what} {shown}: path too long: the name {safe_text(os.fsdecode(part), limit=30)} is "
                        f"{len(part)} bytes; file names can have at most {name_max}")
    path_max = _limit("PC_PATH_MAX", PATH_MAX)
    if len(encoded) >= path_max:
        raise error(f"{what} {shown}: path too long: {len(encoded)} bytes; paths can have at most "
                    f"{path_max - 1}")
    return Path(expanded)

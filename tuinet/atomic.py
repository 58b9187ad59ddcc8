"""Atomic file writes: a temporary file beside the target, then one rename over it.

Every writer in tuinet (model files, presets, `tuinet predict -o`) goes through `atomic_write`,
so all of them promise the same things:

- A reader sees the old file or the new one, never half of one; a failure leaves no
  temporary file behind.
- Permissions: a new file gets `0o666 & ~umask`, as `open()` would give it (not the `0o600`
  of `tempfile.mkstemp`); a file that is replaced keeps its permission bits (not its owner,
  nor set-user-ID, set-group-ID or sticky bits).
- A symbolic link is followed: the file it points to is replaced and the link stays a link
  (writing a plain file in place of the link would silently cut it).
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux's
    `/proc/self/status`); elsewhere by setting and restoring it under a lock."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # racy against other threads creating files, hence the last resort
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def resolved_target(path) -> Path:
    """`path`, or the file a symbolic link at `path` points to (through every link)."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def atomic_write(path, write: Callable[[IO], None], *, encoding: str | None = None,
                 error: Callable[[OSError], Exception] | None = None, sweep: bool = False) -> Path:
    """Write a file through `write(f)`, atomically; returns the path of the file written.

    Args:
        path: The target. A symbolic link is followed: its target is replaced, the link stays.
        write: Fills the open temporary file (binary, or text when `encoding` is given).
        encoding: Text mode with this encoding (and `newline=""`, as `csv` wants).
        error: Turns an `OSError` (missing or read-only folder, full disk...) into the
            exception to raise, e.g. a one-line `ModelFileError`; the `OSError` itself when None.
        sweep: Remove first the temporary files (`.<name>.*.tmp`) that a killed write left.

    The temporary file is `.<name>.<random>.tmp` in the target's folder. It gets the mode of
    the file it replaces, or `0o666 & ~umask` for a new file; it is flushed and fsynced, then
    renamed over the target.
    """
    target = resolved_target(path)
    folder = target.parent if str(target.parent) else Path(".")
    if sweep:
        import glob

        for stale in folder.glob(f".{glob.escape(target.name)}.*.tmp"):
            try:
                stale.unlink()
            except OSError:
                pass
    tmp = None
    try:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode) & 0o777  # never carry set-user-ID bits over
        except OSError:
            mode = 0o666 & ~current_umask()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w" if encoding else "wb", encoding=encoding, newline="" if encoding else None) as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = None
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError) and error is not None:
            raise error(exc) from None
        raise
    return target

"""Model files: one `.npz` archive, no pickle anywhere, written atomically.

Layout of the archive:
- `tuinet.json`: a uint8 array holding UTF-8 JSON: format name and version, the tuinet
  version, the architecture (`Sequential.get_config()`), the compile settings, and for every
  array its name, shape, dtype and SHA-256, so truncation and tampering are caught.
- `w_0000`, `w_0001`, ...: the weights in `get_weights()` order.
- `o_0000`, ...: the optimizer state (slots and iteration count), when saved.

`np.load(..., allow_pickle=False)` reads it; a missing, truncated, foreign or modified file
raises `ModelFileError` naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from tuinet.__about__ import __version__
from tuinet.errors import ModelFileError, TuinetError

FORMAT = "tuinet.model"
FORMAT_VERSION = 1
HEADER = "tuinet.json"


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _entry(name: str, a: np.ndarray) -> dict:
    return {"name": name, "shape": list(a.shape), "dtype": a.dtype.str, "sha256": _digest(a)}


def atomic_write_npz(path, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` to `path` via a temporary file in the same folder and a rename.

    Raises `ModelFileError` (never a bare `OSError`) naming the path when it cannot be written:
    a missing or read-only folder, a folder in the way, a full disk. No temporary file is left
    behind, and those a killed save left (`.<name>.*.tmp`) are removed by the next save.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ModelFileError(f"cannot save to {str(path)!r}: folder {str(folder)!r} does not exist")
    if path.is_dir():
        raise ModelFileError(f"cannot save to {str(path)!r}: it is a folder")
    for stale in folder.glob(f".{glob_escape(path.name)}.*.tmp"):  # from a save that was killed
        try:
            stale.unlink()
        except OSError:
            pass
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise ModelFileError(f"cannot save to {str(path)!r}: {exc.strerror or exc}") from None
        raise


def glob_escape(name: str) -> str:
    """`name` with the glob wildcards escaped."""
    import glob

    return glob.escape(name)


def _header_array(header: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)


def save_model(model, path, *, include_optimizer: bool = True) -> None:
    """Save `model` (architecture, weights, compile settings, optimizer state) to `path`.

    `model.metadata` (a JSON-friendly dict, e.g. the scaler and class names the app or
    `tuinet train` used) is stored too and comes back on load.
    """
    model._require_built("save")
    weights = model.get_weights()
    names = [f"{layer.name}/{w}" for layer in model.layers for w in layer.weight_names]
    arrays = {f"w_{i:04d}": w for i, w in enumerate(weights)}
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "tuinet_version": __version__,
              "model": model.get_config(), "compile": model.compile_config(),
              "weights": [_entry(n, w) for n, w in zip(names, weights)], "optimizer": None,
              "metadata": getattr(model, "metadata", None) or {}}
    try:
        json.dumps(header)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"cannot save to {str(path)!r}: model.metadata is not JSON-friendly ({exc})") from None
    if include_optimizer and model.optimizer is not None:
        state = model.optimizer.get_state()
        keys = sorted(state)
        header["optimizer"] = [_entry(k, np.asarray(state[k])) for k in keys]
        arrays.update({f"o_{i:04d}": np.asarray(state[k]) for i, k in enumerate(keys)})
    arrays[HEADER] = _header_array(header)
    atomic_write_npz(path, arrays)


def save_weights(model, path) -> None:
    """Save only the weights (with their names and checksums)."""
    model._require_built("save_weights")
    weights = model.get_weights()
    names = [f"{layer.name}/{w}" for layer in model.layers for w in layer.weight_names]
    header = {"format": FORMAT + ".weights", "format_version": FORMAT_VERSION, "tuinet_version": __version__,
              "weights": [_entry(n, w) for n, w in zip(names, weights)]}
    arrays = {f"w_{i:04d}": w for i, w in enumerate(weights)}
    arrays[HEADER] = _header_array(header)
    atomic_write_npz(path, arrays)


def _read(path, expected_format: str) -> tuple[dict, dict]:
    """Open and verify an archive; returns (header, arrays) or raises ModelFileError."""
    p = Path(path)
    label = str(path)
    if not p.exists():
        raise ModelFileError(f"{label}: file not found")
    if p.is_dir():
        raise ModelFileError(f"{label}: is a folder, not a model file")
    try:
        with p.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelFileError(f"{label}: cannot read the file ({exc})") from None
    if magic != b"PK\x03\x04":
        raise ModelFileError(f"{label}: not a tuinet model file (expected an .npz archive saved by model.save"
                             f"{', the file is empty' if not magic else ''})")
    try:
        with np.load(p, allow_pickle=False) as archive:
            if HEADER not in archive.files:
                raise ModelFileError(f"{label}: not a tuinet model file (an .npz archive without a {HEADER} header)")
            raw = archive[HEADER]
            try:
                header = json.loads(raw.tobytes().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ModelFileError(f"{label}: the {HEADER} header is corrupted ({exc})") from None
            arrays = {k: archive[k] for k in archive.files if k != HEADER}
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{label}: not a valid tuinet model file: the archive is truncated or damaged ({exc})") \
            from None
    except ValueError as exc:
        raise ModelFileError(f"{label}: not a tuinet model file ({exc})") from None
    except OSError as exc:
        raise ModelFileError(f"{label}: cannot read the file ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != expected_format:
        found = header.get("format") if isinstance(header, dict) else None
        raise ModelFileError(f"{label}: expected a {expected_format!r} file, found format {found!r}")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(f"{label}: written in format version {version!r}; this tuinet "
                             f"({__version__}) reads version {FORMAT_VERSION} and older. Upgrade tuinet.")
    return header, arrays


def _verified(label: str, header_entries, arrays: dict, prefix: str) -> list[tuple[str, np.ndarray]]:
    if not isinstance(header_entries, list):
        raise ModelFileError(f"{label}: the header's array list is missing or corrupted")
    out = []
    for i, meta in enumerate(header_entries):
        key = f"{prefix}_{i:04d}"
        try:
            name, shape, dtype, digest = meta["name"], tuple(meta["shape"]), meta["dtype"], meta["sha256"]
        except (KeyError, TypeError):
            raise ModelFileError(f"{label}: the header entry for array {i} is corrupted") from None
        if key not in arrays:
            raise ModelFileError(f"{label}: array {name!r} is missing from the file")
        a = arrays[key]
        if a.shape != shape or a.dtype.str != dtype:
            raise ModelFileError(f"{label}: array {name!r} has shape {a.shape} and dtype {a.dtype}, "
                                 f"the header says {shape} and {np.dtype(dtype)}")
        if _digest(a) != digest:
            raise ModelFileError(f"{label}: array {name!r} fails its checksum: the file was modified or corrupted")
        out.append((name, a))
    return out


def load_model(path, *, compile: bool = True):
    """Load a model saved with `model.save(path)`; compiled, with its optimizer state, if it was."""
    from tuinet.nn import losses, optimizers
    from tuinet.nn.model import Sequential

    label = str(path)
    header, arrays = _read(path, FORMAT)
    weights = _verified(label, header.get("weights"), arrays, "w")
    try:
        model = Sequential.from_config(header["model"])
        if not model.built:
            raise ModelFileError(f"{label}: the saved architecture has no input shape")
        model.set_weights([a for _, a in weights])
        model.metadata = header.get("metadata") or {}
        comp = header.get("compile")
        if compile and comp:
            model.compile(optimizer=optimizers.get(comp["optimizer"]), loss=losses.get(comp["loss"]),
                          metrics=comp.get("metrics") or [])
            if header.get("optimizer"):
                state = dict(_verified(label, header["optimizer"], arrays, "o"))
                model.optimizer.set_state(state)
    except ModelFileError:
        raise
    except TuinetError as exc:
        raise ModelFileError(f"{label}: the saved model cannot be rebuilt: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{label}: the saved model description is corrupted ({type(exc).__name__}: {exc})") \
            from None
    return model


def load_weights(model, path) -> None:
    """Load weights saved with `save_weights` (or `save`) into a model of the same architecture."""
    label = str(path)
    try:
        header, arrays = _read(path, FORMAT + ".weights")
    except ModelFileError as exc:
        if "found format 'tuinet.model'" not in str(exc):
            raise
        header, arrays = _read(path, FORMAT)
    weights = _verified(label, header.get("weights"), arrays, "w")
    try:
        model.set_weights([a for _, a in weights])
    except TuinetError as exc:
        raise ModelFileError(f"{label}: the weights do not fit this model: {exc}") from None

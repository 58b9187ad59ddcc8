"""Model files: one `.npz` archive, no pickle anywhere, written atomically, read defensively.

Layout of the archive (a zip file, as `np.savez` writes it; members stored or deflated):
- `tuinet.json.npy`: a uint8 array holding UTF-8 JSON: format name and version, the tuinet
  version, the architecture (`Sequential.get_config()`), the compile settings, `metadata`, and
  for every array its name, shape, dtype and SHA-256, so truncation and tampering are caught.
  Since format version 2 it also holds `header_sha256`, the SHA-256 of the header's canonical
  JSON (sorted keys, no spaces, ASCII) without that field, so an edited header is caught too.
  Version 1 files (no header digest) still load.
- `w_0000.npy`, `w_0001.npy`, ...: the weights in `get_weights()` order.
- `o_0000.npy`, ...: the optimizer state (slots and iteration count), when saved.

Loading accepts only what it understands, and checks it before it allocates anything: a
regular file (never a FIFO, a device or a folder: those would block or never end), a zip
whose members are exactly the ones the header names, stored or deflated, not encrypted; each
member's declared size, and the `.npy` header's shape and dtype (float16/32/64 little-endian
for weights; also an integer iteration count for the optimizer; never object or structured
dtypes), against the member and against a memory budget; the header JSON's size, nesting
depth and the type of every field; the layer classes against the registry; the metadata
(scaler kind and statistics, class names, the run to resume) against the model. Anything
wrong raises one `ModelFileError`, one line naming the file and what is wrong, with values
from the file escaped (`tuinet.errors.safe_text`).

The memory budget: by default all members together may inflate to at most
`min(MAX_EXPANSION * file size + BUDGET_SLACK, MAX_MODEL_BYTES)` bytes: 64 times the file
plus 1 MiB, and never more than 2 GiB. A budget the user sets replaces both limits (a
trusted file that deflates more than 64 times, or a model over 2 GiB): the environment
variable `TUINET_MAX_MODEL_BYTES` (a number of bytes, or with a K, M, G or T suffix: "8G"),
or the `max_bytes` argument of `load_model` / `load_weights`, which wins over the variable.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import stat
import struct
import zipfile
import warnings
import zlib
from pathlib import Path

import numpy as np

from tuinet.__about__ import __version__
from tuinet.atomic import atomic_write
from tuinet.errors import ModelFileError, TuinetError, safe_text

FORMAT = "tuinet.model"
FORMAT_VERSION = 2
HEADER = "tuinet.json"

MAX_MODEL_BYTES = 2 * 1024 ** 3
"""Default absolute cap, in bytes, on what a model file may inflate to (see the module docstring)."""
MAX_BYTES_ENV = "TUINET_MAX_MODEL_BYTES"
"""The environment variable that replaces `MAX_MODEL_BYTES`."""
MAX_EXPANSION = 64
"""How many times its own size a file may inflate to (deflate packs zeros a thousandfold)."""
BUDGET_SLACK = 1024 ** 2
"""Bytes allowed on top of `MAX_EXPANSION` times the file size (small files, small headers)."""
MAX_HEADER_BYTES = 16 * 1024 ** 2
"""Largest header JSON, in bytes."""
MAX_JSON_DEPTH = 64
"""Deepest nesting of lists and objects in the header JSON."""
MAX_ARRAYS = 65_535
"""Most arrays (weights plus optimizer state) one file may hold."""
MAX_DIRECTORY_BYTES = 8 * 1024 ** 2
"""Largest zip central directory (the member list) that is read at all."""
MAX_NDIM = 32
"""Most axes an array may have."""

WEIGHT_DTYPES = frozenset({"<f2", "<f4", "<f8"})
"""dtypes a weight may have in a file (NumPy's `dtype.str`)."""
OPTIMIZER_DTYPES = WEIGHT_DTYPES
"""dtypes of optimizer slots and per-step scalars."""
ITERATION_DTYPES = frozenset({"<i4", "<i8", "<u4", "<u8"})
"""dtypes of the optimizer's `iterations` count (`get_state` writes int64)."""
SCALER_KINDS = {"StandardScaler": ("standard", ()), "MinMaxScaler": ("minmax", ("feature_range",))}
"""`metadata["scaler_kind"]` -> (its `scaler["name"]`, its extra arguments): the scalers of
`tuinet.data.preprocessing`, repeated here because the engine does not import the data layer."""
TASKS = ("classification", "regression")
MAX_RUN_POINTS = 4096
"""Most per-epoch entries a saved run history may hold (`tuinet.run.HISTORY_POINTS`)."""
MAX_RUN_SERIES = 256
"""Most metrics (loss, accuracy, val_loss...) a saved run history may hold."""
RANDOM_STATE_KEYS = {"bit_generator", "state", "has_uint32", "uinteger"}
"""The fields of a NumPy PCG64 generator's state (`Generator.bit_generator.state`)."""

_MEMBER = re.compile(r"(tuinet\.json|[wo]_\d{4,5})\.npy")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_UNSAFE_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# zip general-purpose flags tuinet refuses: encrypted (bit 0), compressed patch data (5),
# strong encryption (6), encrypted central directory (13).
_REFUSED_FLAGS = 0x0001 | 0x0020 | 0x0040 | 0x2000
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_NPY_MAGIC = b"\x93NUMPY"
_NPY_MAX_HEADER = 4096

_MODEL_KEYS = {"format", "format_version", "tuinet_version", "header_sha256", "model", "compile", "weights",
               "optimizer", "metadata"}
_WEIGHTS_KEYS = {"format", "format_version", "tuinet_version", "header_sha256", "weights"}
_ENTRY_KEYS = {"name", "shape", "dtype", "sha256"}


def _shown(value, limit: int | None = 60) -> str:
    """`value` escaped for a one-line message (lone surrogates too), cut at `limit` characters."""
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return safe_text(text, limit=limit)


def _label(path) -> str:
    try:
        raw = os.fsdecode(path)
    except TypeError:
        raw = str(path)
    return _shown(raw, limit=None)


def _digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    try:
        data = memoryview(a).cast("B")  # no copy of a large array
    except (ValueError, TypeError):  # dtypes the buffer protocol lacks (datetime)
        data = a.tobytes()
    return hashlib.sha256(data).hexdigest()


def _entry(name: str, a: np.ndarray) -> dict:
    return {"name": name, "shape": list(a.shape), "dtype": a.dtype.str, "sha256": _digest(a)}


def _header_digest(header: dict) -> str:
    body = {k: v for k, v in header.items() if k != "header_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


# ---------------------------------------------------------------------- writing
def atomic_write_npz(path, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` to `path` via a temporary file in the same folder and a rename.

    Raises `ModelFileError` (never a bare `OSError`) naming the path when it cannot be written:
    a missing or read-only folder, a folder in the way, a full disk. No temporary file is left
    behind, and those a killed save left (`.<name>.*.tmp`) are removed by the next save.

    Permissions follow the umask: a new file gets `0o666 & ~umask` (0o644 under the usual
    0o022), and a file that is overwritten keeps its mode. A symbolic link at `path` is
    followed: the file it points to gets the new content and the link stays a link (as
    `--out` on a link promises). See `tuinet.atomic.atomic_write`.
    """
    shown = str(path)
    target = Path(os.path.realpath(path)) if Path(path).is_symlink() else Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ModelFileError(f"cannot save to {shown!r}: folder {str(folder)!r} does not exist")
    if target.is_dir():
        raise ModelFileError(f"cannot save to {shown!r}: it is a folder")
    atomic_write(path, lambda f: np.savez(f, **arrays), sweep=True,
                 error=lambda exc: ModelFileError(f"cannot save to {shown!r}: {exc.strerror or exc}"))


def _header_array(header: dict) -> np.ndarray:
    header = {**header, "header_sha256": _header_digest(header)}
    return np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)


def _little(a) -> np.ndarray:
    """`a` little-endian, as files always are (a no-op on little-endian machines)."""
    a = np.asarray(a)
    return a.astype(a.dtype.newbyteorder("<")) if a.dtype.str[0] == ">" else a


def _weight_entries(model) -> tuple[list[np.ndarray], list[dict]]:
    weights = [_little(w) for w in model.get_weights()]
    names = [f"{layer.name}/{w}" for layer in model.layers for w in layer.weight_names]
    return weights, [_entry(n, w) for n, w in zip(names, weights)]


def _writable(path, header: dict, expected: str) -> dict:
    """`header` as the reader will see it (JSON's lists and string keys, so the digest computed
    now is the one computed on load); what we write must load: it passes the reader's checks."""
    try:
        header = json.loads(json.dumps(header))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"cannot save to {str(path)!r}: model.metadata is not JSON-friendly "
                             f"({_shown(exc, 200)})") from None
    try:
        _check_header("", {**header, "header_sha256": "0" * 64}, expected, digest=False)
    except ModelFileError as exc:
        raise ModelFileError(f"cannot save to {str(path)!r}{exc}") from None
    return header


def _keras_kind(path, *, model: bool) -> bool:
    """Whether `path` names a Keras file: `.keras` for a model, `.weights.h5` / `.h5` for weights.
    A Keras 2 `.h5` model file is refused with one line."""
    try:
        name = os.fsdecode(path).lower()
    except TypeError:
        return False
    if model and name.endswith(".h5"):
        raise ModelFileError(f"{_label(path)}: legacy Keras 2 .h5 model files are not supported; save and load "
                             "models as .keras (Keras 3) or in tuinet's format")
    return name.endswith(".keras") if model else name.endswith(".h5")


def _h5py_missing(path, what: str) -> bool:
    """True (after one warning) when h5py, which Keras files need, is not installed: the caller then
    writes tuinet's own format under the name asked for, so that a finished run is never lost to a
    missing extra; tuinet reads that file back whatever its name."""
    import importlib

    try:
        importlib.import_module("h5py")
        return False
    except ImportError:
        pass
    warnings.warn(f"tuinet: h5py is not installed, so {_label(path)} holds the {what} in tuinet's format, which only "
                  'tuinet reads; pip install "tuinet[keras]" to write a file Keras opens', UserWarning, stacklevel=3)
    return True


def _holds_tuinet_format(path) -> bool:
    """Whether a file named like a Keras file is in fact tuinet's own archive (see `_h5py_missing`)."""
    try:
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                return False
        with zipfile.ZipFile(path) as zf:
            return HEADER + ".npy" in zf.namelist() or HEADER in zf.namelist()
    except (OSError, ValueError, zipfile.BadZipFile, TypeError):
        return False


def save_model(model, path, *, include_optimizer: bool = True) -> None:
    """Save `model` (architecture, weights, compile settings, optimizer state) to `path`.

    `model.metadata` (a JSON-friendly dict, e.g. the scaler and class names the app or
    `tuinet train` used) is stored too and comes back on load.
    A name ending in `.keras` writes a Keras 3 file instead (`tuinet.nn.keras_format`).
    """
    if _keras_kind(path, model=True) and not _h5py_missing(path, "model"):
        from tuinet.nn.keras_format import save_keras

        return save_keras(model, path, include_optimizer=include_optimizer)
    model._require_built("save")
    weights, entries = _weight_entries(model)
    arrays = {f"w_{i:04d}": w for i, w in enumerate(weights)}
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "tuinet_version": __version__,
              "model": _model_config(model), "compile": model.compile_config(),
              "weights": entries, "optimizer": None,
              "metadata": getattr(model, "metadata", None) or {}}
    if include_optimizer and model.optimizer is not None:
        state = model.optimizer.get_state()
        keys = sorted(state)
        state = {k: _little(state[k]) for k in keys}
        header["optimizer"] = [_entry(k, state[k]) for k in keys]
        arrays.update({f"o_{i:04d}": state[k] for i, k in enumerate(keys)})
    header = _writable(path, header, FORMAT)
    try:
        _check_metadata_fits("", header["metadata"], model)
    except ModelFileError as exc:
        raise ModelFileError(f"cannot save to {str(path)!r}{exc}") from None
    arrays[HEADER] = _header_array(header)
    atomic_write_npz(path, arrays)


def _model_config(model) -> dict:
    """The architecture as the header stores it: a Sequential model's config as is (format 1's
    layout), a functional model's as `{"class_name": "Functional", "config": ...}`."""
    from tuinet.nn.functional import Functional

    if isinstance(model, Functional):
        return {"class_name": "Functional", "config": model.get_config()}
    return model.get_config()


def save_weights(model, path) -> None:
    """Save only the weights (with their names and checksums); a `.weights.h5` name writes
    Keras 3's HDF5 layout instead (`tuinet.nn.keras_format`)."""
    if _keras_kind(path, model=False) and not _h5py_missing(path, "weights"):
        from tuinet.nn.keras_format import save_weights_h5

        return save_weights_h5(model, path)
    model._require_built("save_weights")
    weights, entries = _weight_entries(model)
    header = {"format": FORMAT + ".weights", "format_version": FORMAT_VERSION, "tuinet_version": __version__,
              "weights": entries}
    header = _writable(path, header, FORMAT + ".weights")
    arrays = {f"w_{i:04d}": w for i, w in enumerate(weights)}
    arrays[HEADER] = _header_array(header)
    atomic_write_npz(path, arrays)


# ---------------------------------------------------------------------- budget
def _parse_size(text: str) -> int | None:
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgGtT]?)i?[bB]?\s*", text)
    if not match:
        return None
    return int(match.group(1)) * 1024 ** " kmgt".index(match.group(2).lower() or " ")


def user_budget(label: str = "", max_bytes: int | None = None) -> int | None:
    """The budget the user set, in bytes: `max_bytes`, else `$TUINET_MAX_MODEL_BYTES`; None if neither."""
    if max_bytes is not None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
            raise ModelFileError(f"{label}: max_bytes must be a positive number of bytes, got {_shown(max_bytes)}")
        return max_bytes
    raw = os.environ.get(MAX_BYTES_ENV)
    if raw is None or not raw.strip():
        return None
    value = _parse_size(raw)
    if not value:
        raise ModelFileError(f"{label}: cannot load: {MAX_BYTES_ENV}={_shown(raw, 30)} is not a size in bytes "
                             f"(e.g. 4294967296 or 4G)")
    return value


def _budget(size: int, chosen: int | None) -> tuple[int, str]:
    """(budget in bytes, how it was set) for a file of `size` bytes."""
    if chosen is not None:
        return chosen, f"set by max_bytes or {MAX_BYTES_ENV}"
    return (min(MAX_EXPANSION * size + BUDGET_SLACK, MAX_MODEL_BYTES),
            f"{MAX_EXPANSION} times the file's {size:,} bytes, at most {MAX_MODEL_BYTES:,}; if the file is "
            f"trusted, set {MAX_BYTES_ENV}")


# ---------------------------------------------------------------------- reading
class _Archive:
    """An opened, checked model file: its header and its arrays, keyed by member name (`w_0000`)."""

    def __init__(self, label: str, header: dict, arrays: dict[str, np.ndarray]) -> None:
        self.label, self.header, self.arrays = label, header, arrays


def _open_regular(path, label: str):
    """Open `path` for reading if it is a regular file; never blocks on a FIFO."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ModelFileError(f"{label}: file not found") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ModelFileError(f"{label}: cannot read the file ({_shown(getattr(exc, 'strerror', None) or exc)})") \
            from None
    if stat.S_ISDIR(st.st_mode):
        raise ModelFileError(f"{label}: is a folder, not a model file")
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(f"{label}: is not a regular file (a {_file_kind(st.st_mode)}); "
                             "give the path of a model file saved by model.save")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ModelFileError(f"{label}: cannot read the file ({_shown(exc.strerror or exc)})") from None
    try:
        st = os.fstat(fd)  # the path may have been swapped for a FIFO since the stat above
        if not stat.S_ISREG(st.st_mode):
            raise ModelFileError(f"{label}: is not a regular file (a {_file_kind(st.st_mode)}); "
                                 "give the path of a model file saved by model.save")
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "named pipe"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def _damaged(label: str, exc) -> ModelFileError:
    return ModelFileError(f"{label}: not a valid tuinet model file: the archive is truncated or damaged "
                          f"({_shown(exc, 120)})")


def _check_directory(f, label: str) -> None:
    """Refuse a central directory too large to read (millions of members) before zipfile reads it."""
    end = getattr(zipfile, "_EndRecData", None)
    if end is None:  # pragma: no cover - a future Python without it: zipfile's own limits apply
        return
    try:
        record = end(f)
    except (OSError, struct.error, ValueError) as exc:
        raise _damaged(label, exc) from None
    if not record:
        raise _damaged(label, "no zip directory at the end of the file")
    if record[5] > MAX_DIRECTORY_BYTES or record[4] > MAX_ARRAYS + 1:
        raise ModelFileError(f"{label}: not a tuinet model file: the archive lists {record[4]} members in "
                             f"{record[5]} bytes; a model file has at most {MAX_ARRAYS + 1}")


def _check_member(f, size: int, label: str, info: zipfile.ZipInfo) -> None:
    """Compression, encryption and sizes of one member, central and local headers both."""
    name = _shown(info.filename)
    if info.flag_bits & _REFUSED_FLAGS:
        raise ModelFileError(f"{label}: member {name!r} is encrypted or uses an unsupported zip feature "
                             f"(flags {info.flag_bits:#06x}); model files are never encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelFileError(f"{label}: member {name!r} uses compression method {info.compress_type}; "
                             "model files are stored or deflated")
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise _damaged(label, f"member {info.filename!r} is stored with {info.compress_size} bytes but declares "
                              f"{info.file_size}")
    if info.header_offset < 0 or info.header_offset + _LOCAL_HEADER.size > size:
        raise _damaged(label, f"member {info.filename!r} starts outside the file")
    f.seek(info.header_offset)
    local = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
    if local[0] != b"PK\x03\x04":
        raise _damaged(label, f"member {info.filename!r} has no local header")
    if local[3] & _REFUSED_FLAGS:
        raise ModelFileError(f"{label}: member {name!r} is encrypted or uses an unsupported zip feature "
                             f"(local flags {local[3]:#06x}); model files are never encrypted")
    if local[4] != info.compress_type:
        raise _damaged(label, f"member {info.filename!r}: its local and central headers disagree on compression")
    data_end = info.header_offset + _LOCAL_HEADER.size + local[10] + local[11] + info.compress_size
    if data_end > size:
        raise _damaged(label, f"member {info.filename!r} ends after the end of the file")


def _npy_preamble(fp, label: str, member: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, preamble length) of a `.npy` stream, allocating nothing large."""
    magic = fp.read(8)
    if len(magic) != 8 or magic[:6] != _NPY_MAGIC or (magic[6], magic[7]) not in ((1, 0), (2, 0)):
        raise _damaged(label, f"member {member!r} is not a .npy array of version 1.0 or 2.0")
    fmt = "<H" if magic[6] == 1 else "<I"
    raw_len = fp.read(struct.calcsize(fmt))
    if len(raw_len) != struct.calcsize(fmt):
        raise _damaged(label, f"member {member!r}: its .npy header is cut short")
    (hlen,) = struct.unpack(fmt, raw_len)
    if hlen > _NPY_MAX_HEADER:
        raise ModelFileError(f"{label}: member {member!r} has a .npy header of {hlen} bytes; at most "
                             f"{_NPY_MAX_HEADER} are read")
    text = fp.read(hlen)
    if len(text) != hlen:
        raise _damaged(label, f"member {member!r}: its .npy header is cut short")
    reader = np.lib.format.read_array_header_1_0 if magic[6] == 1 else np.lib.format.read_array_header_2_0
    try:
        shape, fortran, dtype = reader(io.BytesIO(raw_len + text), max_header_size=_NPY_MAX_HEADER)
    except Exception as exc:  # ValueError, SyntaxError, RecursionError, MemoryError from literal_eval
        raise ModelFileError(f"{label}: member {member!r} has a damaged .npy header "
                             f"({type(exc).__name__}: {_shown(exc, 80)})") from None
    if not isinstance(shape, tuple) or len(shape) > MAX_NDIM or any(
            not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in shape):
        raise ModelFileError(f"{label}: member {member!r} declares the shape {_shown(shape)}")
    return shape, bool(fortran), dtype, 8 + len(raw_len) + hlen


def _read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, shape, dtype_str: str) -> np.ndarray:
    """Read one member whose `.npy` header must say `shape` and `dtype_str`, size-checked first."""
    member = info.filename
    with zf.open(info) as fp:
        got_shape, fortran, dtype, pre = _npy_preamble(fp, label, member)
        if dtype.str != dtype_str or dtype.hasobject or dtype.names is not None or dtype.subdtype is not None:
            raise ModelFileError(f"{label}: member {member!r} holds dtype {_shown(dtype.str)}, the header says "
                                 f"{_shown(dtype_str)}")
        if got_shape != tuple(shape):
            raise ModelFileError(f"{label}: member {member!r} has shape {_shown(got_shape)}, the header says "
                                 f"{_shown(tuple(shape))}")
        nbytes = math.prod(got_shape) * dtype.itemsize
        if pre + nbytes != info.file_size:
            raise ModelFileError(f"{label}: member {member!r} declares {info.file_size} bytes, but its shape "
                                 f"{got_shape} of {dtype.name} needs {pre + nbytes}")
        out = np.empty(math.prod(got_shape), dtype=dtype)
        view = memoryview(out).cast("B")
        filled = 0
        while filled < nbytes:
            n = fp.readinto(view[filled:filled + (1 << 24)])
            if not n:
                raise _damaged(label, f"member {member!r} is cut short")
            filled += n
        if fp.read(1):
            raise _damaged(label, f"member {member!r} is longer than its shape")
    return out.reshape(got_shape, order="F" if fortran else "C")


def _json_depth(raw: bytes) -> int:
    """Deepest nesting of `[` and `{` outside strings; computed without recursion."""
    bare = np.frombuffer(_JSON_STRING.sub(b"", raw), dtype=np.uint8)
    marks = np.flatnonzero((bare == 0x5B) | (bare == 0x7B) | (bare == 0x5D) | (bare == 0x7D))
    if not len(marks):
        return 0
    steps = np.where((bare[marks] == 0x5B) | (bare[marks] == 0x7B), 1, -1)
    return int(np.cumsum(steps).max())


def _parse_header(label: str, raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{label}: the {HEADER} header is corrupted ({_shown(exc, 120)})") from None
    depth = _json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise ModelFileError(f"{label}: the {HEADER} header nests {depth} levels deep; at most {MAX_JSON_DEPTH}")
    try:
        header = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, an int of 5000 digits
        raise ModelFileError(f"{label}: the {HEADER} header is corrupted ({_shown(exc, 120)})") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{label}: the {HEADER} header is corrupted (expected a JSON object, got "
                             f"{type(header).__name__})")
    return header


def open_zip(f, label: str, not_zip: str, damaged) -> zipfile.ZipFile:
    """The zip archive in the open file `f`, its central directory checked first; `not_zip`
    starts the message when the file is no zip ("... (expected ..." : the reason closes it) and
    `damaged(label, exc)` makes the error for a truncated or corrupted one."""
    try:
        magic = f.read(4)
    except OSError as exc:
        raise ModelFileError(f"{label}: cannot read the file ({_shown(exc.strerror or exc)})") from None
    if magic != b"PK\x03\x04":
        raise ModelFileError(f"{label}: {not_zip}{', the file is empty' if not magic else ''})")
    try:
        _check_directory(f, label)
        return zipfile.ZipFile(f)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, struct.error) as exc:
        raise damaged(label, exc) from None


def _open_archive(path, expected: str, *, max_bytes: int | None = None, also: str | None = None) -> _Archive:
    """Open and verify a model file; every check happens before any array is read."""
    label = _label(path)
    chosen = user_budget(label, max_bytes)
    f, size = _open_regular(path, label)
    with f:
        zf = open_zip(f, label, "not a tuinet model file (expected an .npz archive saved by model.save", _damaged)
        with zf:
            try:
                return _read_members(f, size, zf, label, expected, also, chosen)
            except ModelFileError:
                raise
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error, struct.error) as exc:  # a bad CRC...
                raise _damaged(label, exc) from None


def _read_members(f, size: int, zf: zipfile.ZipFile, label: str, expected: str, also, chosen) -> _Archive:
    infos = zf.infolist()
    names = [info.filename for info in infos]
    if HEADER + ".npy" not in names:
        raise ModelFileError(f"{label}: not a tuinet model file (an .npz archive without a {HEADER} header)")
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ModelFileError(f"{label}: the archive holds member {_shown(twice)!r} twice")
    for info in infos:
        if not _MEMBER.fullmatch(info.filename):
            raise ModelFileError(f"{label}: unexpected member {_shown(info.filename)!r} in the archive "
                                 "(a model file holds tuinet.json.npy, w_NNNN.npy and o_NNNN.npy only)")
        _check_member(f, size, label, info)
    budget, how = _budget(size, chosen)
    total = sum(info.file_size for info in infos)
    if total > budget:
        big = max(infos, key=lambda i: i.file_size)
        raise ModelFileError(f"{label}: the archive inflates to {total:,} bytes (member {big.filename!r}: "
                             f"{big.file_size:,}), over the budget of {budget:,} bytes ({how})")
    info = zf.getinfo(HEADER + ".npy")
    if info.file_size > MAX_HEADER_BYTES + _NPY_MAX_HEADER + 16:
        raise ModelFileError(f"{label}: the {HEADER} header is {info.file_size:,} bytes; at most "
                             f"{MAX_HEADER_BYTES:,}")
    with zf.open(info) as fp:
        shape, _, dtype, pre = _npy_preamble(fp, label, info.filename)
    if dtype.str != "|u1" or len(shape) != 1 or shape[0] > MAX_HEADER_BYTES:
        raise ModelFileError(f"{label}: the {HEADER} header is not a byte array of at most {MAX_HEADER_BYTES:,} "
                             f"bytes (dtype {_shown(dtype.str)}, shape {_shown(shape)})")
    raw = _read_array(zf, info, label, shape, "|u1").tobytes()
    header = _parse_header(label, raw)
    _check_header(label, header, expected, also=also)
    sections = [("w", header["weights"])]
    if header.get("optimizer"):
        sections.append(("o", header["optimizer"]))
    wanted = {HEADER + ".npy"} | {f"{p}_{i:04d}.npy" for p, entries in sections for i in range(len(entries))}
    extra = sorted(set(names) - wanted)
    if extra:
        raise ModelFileError(f"{label}: unexpected member {_shown(extra[0])!r} in the archive: the header does "
                             "not name it")
    for p, entries in sections:
        for i, meta in enumerate(entries):
            if f"{p}_{i:04d}.npy" not in names:
                raise ModelFileError(f"{label}: array {_shown(meta['name'])!r} is missing from the file")
    # Every member's .npy header against the JSON header before any array is read.
    for p, entries in sections:
        for i, meta in enumerate(entries):
            info = zf.getinfo(f"{p}_{i:04d}.npy")
            with zf.open(info) as fp:
                shape, _, dtype, pre = _npy_preamble(fp, label, info.filename)
            if dtype.str != meta["dtype"] or shape != tuple(meta["shape"]):
                raise ModelFileError(f"{label}: array {_shown(meta['name'])!r} has shape {_shown(shape)} and dtype "
                                     f"{_shown(dtype.str)}, the header says {tuple(meta['shape'])} and "
                                     f"{meta['dtype']}")
            if pre + math.prod(shape) * dtype.itemsize != info.file_size:
                raise ModelFileError(f"{label}: member {info.filename!r} declares {info.file_size:,} bytes, but "
                                     f"its shape {shape} of {dtype.name} needs "
                                     f"{pre + math.prod(shape) * dtype.itemsize:,}")
    arrays = {}
    for p, entries in sections:
        for i, meta in enumerate(entries):
            key = f"{p}_{i:04d}"
            a = _read_array(zf, zf.getinfo(key + ".npy"), label, meta["shape"], meta["dtype"])
            if _digest(a) != meta["sha256"]:
                raise ModelFileError(f"{label}: array {_shown(meta['name'])!r} fails its checksum: the file was "
                                     "modified or corrupted")
            arrays[key] = a
    return _Archive(label, header, arrays)


# ---------------------------------------------------------------------- header checks
def _where(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return _shown(out, 80)


def _bad(label: str, path: tuple, what: str, value=None, *, show: bool = True) -> ModelFileError:
    got = f", got {_describe(value)}" if show else ""
    return ModelFileError(f"{label}: the {HEADER} header is corrupted: {_where(path)}: expected {what}{got}")


def _describe(value) -> str:
    if isinstance(value, (dict, list)):
        return f"a {'JSON object' if isinstance(value, dict) else 'list'} of {len(value)}"
    if isinstance(value, str):
        return f'"{_shown(value, 40)}"'
    return _shown(json.dumps(value) if value is None or isinstance(value, (bool, int, float)) else value, 40)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(label, path, value, *, allow_none: bool = False, limit: int = 1000) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, str):
        raise _bad(label, path, "a string" + (" or null" if allow_none else ""), value)
    if _UNSAFE_TEXT.search(value):
        raise _bad(label, path, "printable text (no control characters)", value)
    if len(value) > limit:
        raise _bad(label, path, f"at most {limit} characters", value)


def _check_strings(label: str, value, path: tuple) -> None:
    """Every string (keys too) under `value` is printable text; iterative, the depth is bounded."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            _text(label, where, item, limit=100_000)
        elif isinstance(item, dict):
            for k, v in item.items():
                _text(label, (*where, "<key>"), k, limit=1000)
                stack.append((v, (*where, k)))
        elif isinstance(item, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(item))


def _check_entries(label: str, entries, section: str, *, optimizer: bool) -> None:
    if not isinstance(entries, list):
        raise _bad(label, (section,), "a list of arrays", entries)
    if len(entries) > MAX_ARRAYS:
        raise _bad(label, (section,), f"at most {MAX_ARRAYS} arrays", entries)
    seen = set()
    for i, meta in enumerate(entries):
        where = (section, i)
        if not isinstance(meta, dict) or set(meta) != _ENTRY_KEYS:
            raise _bad(label, where, "an object with name, shape, dtype and sha256",
                       sorted(meta) if isinstance(meta, dict) else meta)
        _text(label, (*where, "name"), meta["name"])
        if meta["name"] in seen:
            raise _bad(label, (*where, "name"), "a name not used before", meta["name"])
        seen.add(meta["name"])
        shape = meta["shape"]
        if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(_is_int(d) and d >= 0 for d in shape):
            raise _bad(label, (*where, "shape"), f"a list of at most {MAX_NDIM} non-negative integers", shape)
        dtype = meta["dtype"]
        allowed = WEIGHT_DTYPES if not optimizer else (
            ITERATION_DTYPES if meta["name"] == "iterations" else OPTIMIZER_DTYPES)
        if not isinstance(dtype, str) or dtype not in allowed:
            raise _bad(label, (*where, "dtype"), f"one of {', '.join(sorted(allowed))}", dtype)
        if optimizer and meta["name"] == "iterations" and shape:
            raise _bad(label, (*where, "shape"), "[] (a scalar)", shape)
        if not isinstance(meta["sha256"], str) or not _HEX64.fullmatch(meta["sha256"]):
            raise _bad(label, (*where, "sha256"), "64 hexadecimal digits", meta["sha256"])


def _check_header(label: str, header: dict, expected: str, *, also: str | None = None, digest: bool = True) -> None:
    """Types of every field; the header digest (format 2); raises ModelFileError."""
    fmt = header.get("format")
    if fmt != expected and (also is None or fmt != also):
        raise ModelFileError(f"{label}: expected a {expected!r} file, found format "
                             f"{_describe(fmt) if fmt is not None else 'None'}")
    expected = fmt
    version = header.get("format_version")
    if not _is_int(version) or version > FORMAT_VERSION:
        raise ModelFileError(f"{label}: written in format version {_describe(version)}; this tuinet "
                             f"({__version__}) reads version {FORMAT_VERSION} and older. Upgrade tuinet.")
    if version < 1:
        raise _bad(label, ("format_version",), f"1 to {FORMAT_VERSION}", version)
    allowed = _MODEL_KEYS if expected == FORMAT else _WEIGHTS_KEYS
    unknown = sorted(set(header) - allowed)
    if unknown:
        raise ModelFileError(f"{label}: the {HEADER} header is corrupted: unexpected field {_shown(unknown[0])!r}")
    if version >= 2:
        stored = header.get("header_sha256")
        if not isinstance(stored, str) or not _HEX64.fullmatch(stored):
            raise _bad(label, ("header_sha256",), "64 hexadecimal digits", stored)
        if digest and stored != _header_digest(header):
            raise ModelFileError(f"{label}: the {HEADER} header fails its checksum: the file was modified or "
                                 "corrupted")
    elif "header_sha256" in header:
        raise _bad(label, ("header_sha256",), "no header digest in a version 1 file", show=False)
    _text(label, ("tuinet_version",), header.get("tuinet_version"), limit=100)
    _check_entries(label, header.get("weights"), "weights", optimizer=False)
    if expected != FORMAT:
        return
    for key in ("model", "compile"):
        if key not in header:
            raise _bad(label, (key,), "a field", show=False)
    model = header["model"]
    if not isinstance(model, dict):
        raise _bad(label, ("model",), "a JSON object", model)
    _check_model_config(label, model)
    comp = header["compile"]
    if comp is not None:
        graph = model.get("class_name") == "Functional"
        keys = {"optimizer", "loss", "metrics", "weighted_metrics"} | ({"loss_weights"} if graph else set())
        if not isinstance(comp, dict) or not {"optimizer", "loss"} <= set(comp) <= keys:
            raise _bad(label, ("compile",), "null or an object with optimizer, loss and metrics", comp)
        if not isinstance(comp["optimizer"], (str, dict)):
            raise _bad(label, ("compile", "optimizer"), "a name or an object", comp["optimizer"])
        loss = comp["loss"]
        if not (isinstance(loss, (str, dict)) or graph and isinstance(loss, list)
                and all(item is None or isinstance(item, (str, dict)) for item in loss)):
            raise _bad(label, ("compile", "loss"), "a name or an object (a list of them for a functional model)", loss)
        metrics = comp.get("metrics")
        if graph:
            _check_nested_specs(label, ("compile", "metrics"), metrics)
            _check_nested_specs(label, ("compile", "weighted_metrics"), comp.get("weighted_metrics"))
            _check_nested_specs(label, ("compile", "loss_weights"), comp.get("loss_weights"), numbers=True)
        else:
            for key in ("metrics", "weighted_metrics"):
                value = comp.get(key)
                if value is not None and (not isinstance(value, list) or not all(isinstance(m, (str, dict))
                                                                                  for m in value)):
                    raise _bad(label, ("compile", key), "a list of names or objects", value)
        _check_strings(label, comp, ("compile",))
    opt = header.get("optimizer")
    if opt is not None:
        _check_entries(label, opt, "optimizer", optimizer=True)
        if opt and comp is None:
            raise _bad(label, ("optimizer",), "null in a model saved without compile settings", opt)
    meta = header.get("metadata", {})
    if not isinstance(meta, dict):
        raise _bad(label, ("metadata",), "a JSON object", meta)
    _check_metadata_types(label, meta)


def _check_nested_specs(label: str, where: tuple, value, numbers: bool = False, depth: int = 0) -> None:
    """A functional model's per-output compile values: null, names, objects (numbers for
    loss_weights), in lists or dicts by output name, at most three levels deep."""
    leaf = (int, float) if numbers else (str,)
    if value is None or isinstance(value, leaf) and not isinstance(value, bool):
        return
    if depth < 3 and isinstance(value, list):
        for i, item in enumerate(value):
            _check_nested_specs(label, (*where, i), item, numbers, depth + 1)
        return
    if depth < 3 and isinstance(value, dict):
        if not numbers and "class_name" in value:
            return
        for key, item in value.items():
            _check_nested_specs(label, (*where, key), item, numbers, depth + 1)
        return
    raise _bad(label, where, "numbers per output" if numbers else "metric names or objects per output", value)


def _check_functional_config(label: str, outer: dict) -> None:
    """A functional model's architecture: Keras's layout (layers with inbound_nodes, input_layers,
    output_layers), every layer class known; how the calls connect is checked when rebuilt."""
    from tuinet.nn.layers import LAYERS

    if set(outer) != {"class_name", "config"} or not isinstance(outer["config"], dict):
        raise _bad(label, ("model",), "an object with class_name and config", outer)
    model = outer["config"]
    allowed = {"name", "trainable", "seed", "layers", "input_layers", "output_layers", "single_input",
               "single_output"}
    unknown = sorted(set(model) - allowed)
    if unknown:
        raise _bad(label, ("model", "config"), "the fields of a functional model", f"field {unknown[0]}")
    _check_strings(label, model, ("model", "config"))
    _text(label, ("model", "config", "name"), model.get("name", "functional"), limit=200)
    seed = model.get("seed")
    if seed is not None and not (_is_int(seed) and 0 <= seed < 2 ** 128):
        raise _bad(label, ("model", "config", "seed"), "null or an integer from 0 to 2**128", seed)
    layers = model.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _bad(label, ("model", "config", "layers"), "a non-empty list of layers", layers)
    for i, spec in enumerate(layers):
        where = ("model", "config", "layers", i)
        if not isinstance(spec, dict) or set(spec) != {"class_name", "config", "name", "inbound_nodes"}:
            raise _bad(label, where, "an object with class_name, config, name and inbound_nodes", spec)
        cls = spec["class_name"]
        if not isinstance(cls, str):
            raise _bad(label, (*where, "class_name"), "a layer class name", cls)
        if cls not in LAYERS and cls not in ("InputLayer", "Sequential", "Functional"):
            raise ModelFileError(f"{label}: layer {i} has the unknown layer class {_describe(cls)}; this tuinet "
                                 f"knows {', '.join(sorted(LAYERS))}")
        if not isinstance(spec["config"], dict):
            raise _bad(label, (*where, "config"), "a JSON object", spec["config"])
        if cls in ("Sequential", "Functional"):  # a model used as a layer
            _check_model_config(label, {"class_name": cls, "config": spec["config"]} if cls == "Functional"
                                else spec["config"])
        _text(label, (*where, "name"), spec["name"], limit=200)
        if not isinstance(spec["inbound_nodes"], list):
            raise _bad(label, (*where, "inbound_nodes"), "a list", spec["inbound_nodes"])
        dtype = spec["config"].get("dtype")
        if dtype is not None and dtype not in ("float16", "float32", "float64", "int8", "int16", "int32", "int64",
                                               "uint8", "uint16", "uint32", "uint64"):
            raise _bad(label, (*where, "config", "dtype"), "null, a float or an integer type", dtype)
    for key in ("input_layers", "output_layers"):
        if not isinstance(model.get(key), (list, dict)) or not model[key]:
            raise _bad(label, ("model", "config", key), "a non-empty list of [layer, node, index]", model.get(key))


def _check_model_config(label: str, model: dict) -> None:
    from tuinet.nn.layers import LAYERS

    if model.get("class_name") == "Functional":
        _check_functional_config(label, model)
        return
    allowed = {"name", "seed", "layers", "input_shape", "trainable", "input_dtype"}
    unknown = sorted(set(model) - allowed)
    if unknown:
        raise _bad(label, ("model",), "the fields name, seed, layers, input_shape, trainable and input_dtype",
                   f"field {unknown[0]}")
    if model.get("input_dtype") not in (None, "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
                                        "uint16", "uint32", "uint64"):
        raise _bad(label, ("model", "input_dtype"), "null, a float or an integer type", model["input_dtype"])
    if not isinstance(model.get("trainable", True), bool):
        raise _bad(label, ("model", "trainable"), "true or false", model["trainable"])
    _check_strings(label, model, ("model",))
    _text(label, ("model", "name"), model.get("name", "sequential"), limit=200)
    seed = model.get("seed")
    if seed is not None and not (_is_int(seed) and 0 <= seed < 2 ** 128):
        raise _bad(label, ("model", "seed"), "null or an integer from 0 to 2**128", seed)
    shape = model.get("input_shape")
    if shape is not None and (not isinstance(shape, list) or not shape or len(shape) > MAX_NDIM
                              or not all(_is_int(d) and d > 0 for d in shape)):
        raise _bad(label, ("model", "input_shape"), "null or a list of positive integers", shape)
    layers = model.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _bad(label, ("model", "layers"), "a non-empty list of layers", layers)
    for i, spec in enumerate(layers):
        where = ("model", "layers", i)
        if not isinstance(spec, dict) or set(spec) != {"class_name", "config"}:
            raise _bad(label, where, "an object with class_name and config", spec)
        cls = spec["class_name"]
        if not isinstance(cls, str):
            raise _bad(label, (*where, "class_name"), "a layer class name", cls)
        if cls not in LAYERS and cls not in ("Sequential", "Functional"):
            raise ModelFileError(f"{label}: layer {i} has the unknown layer class {_describe(cls)}; this tuinet "
                                 f"knows {', '.join(sorted(LAYERS))}")
        cfg = spec["config"]
        if not isinstance(cfg, dict):
            raise _bad(label, (*where, "config"), "a JSON object", cfg)
        if cls in ("Sequential", "Functional"):  # a model used as a layer
            _check_model_config(label, spec if cls == "Functional" else cfg)
            continue
        if "name" in cfg:
            _text(label, (*where, "config", "name"), cfg["name"], limit=200)
        if cfg.get("dtype") is not None and cfg["dtype"] not in ("float16", "float32", "float64"):
            raise _bad(label, (*where, "config", "dtype"), "null, float32 or float64", cfg["dtype"])


def _check_metadata_types(label: str, meta: dict) -> None:
    """The fields tuinet itself reads (`tuinet predict`, `tuinet evaluate`); others are the user's."""
    for key in ("preset", "dataset"):
        _text(label, ("metadata", key), meta.get(key), allow_none=True, limit=1000)
    task = meta.get("task")
    if task is not None and (not isinstance(task, str) or task not in TASKS):
        raise _bad(label, ("metadata", "task"), f"null or one of {', '.join(TASKS)}", task)
    for key in ("feature_names", "class_names"):
        names = meta.get(key)
        if names is None:
            continue
        if not isinstance(names, list) or len(names) > MAX_ARRAYS:
            raise _bad(label, ("metadata", key), f"null or a list of at most {MAX_ARRAYS} names", names)
        for i, name in enumerate(names):
            _text(label, ("metadata", key, i), name, limit=1000)
    if meta.get("run") is not None:
        _check_run(label, meta["run"])
    kind, scaler = meta.get("scaler_kind"), meta.get("scaler")
    if kind is None and scaler is None:
        return
    if not isinstance(kind, str) or kind not in SCALER_KINDS:
        raise _bad(label, ("metadata", "scaler_kind"), f"null or one of {', '.join(SCALER_KINDS)}", kind)
    name, extra = SCALER_KINDS[kind]
    if not isinstance(scaler, dict) or set(scaler) != {"name", "offset", "scale", *extra}:
        raise _bad(label, ("metadata", "scaler"), f"an object with name, offset, scale"
                   f"{''.join(', ' + e for e in extra)}", scaler)
    if scaler["name"] != name:
        raise _bad(label, ("metadata", "scaler", "name"), f'"{name}" for a {kind}', scaler["name"])
    for key in ("offset", "scale"):
        values = scaler[key]
        if not isinstance(values, list) or not values or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            raise _bad(label, ("metadata", "scaler", key), "a non-empty list of finite numbers", values)
    if len(scaler["offset"]) != len(scaler["scale"]):
        raise _bad(label, ("metadata", "scaler", "scale"), f"{len(scaler['offset'])} numbers, as many as offset",
                   scaler["scale"])
    if any(v == 0 for v in scaler["scale"]):
        raise _bad(label, ("metadata", "scaler", "scale"), "non-zero numbers", scaler["scale"])
    if "feature_range" in extra:
        low_high = scaler["feature_range"]
        if not (isinstance(low_high, list) and len(low_high) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in low_high)
                and low_high[0] < low_high[1]):
            raise _bad(label, ("metadata", "scaler", "feature_range"), "[low, high] with low < high", low_high)


def _number_or_null(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))


def _check_run(label: str, run) -> None:
    """`metadata["run"]`, what `tuinet train --resume` and the app continue from (see
    `tuinet.session.TrainingSession.run_record`): epochs done, the per-epoch history and the
    state of the training randomness."""
    where = ("metadata", "run")
    if not isinstance(run, dict) or set(run) != {"epochs_done", "history", "random"}:
        raise _bad(label, where, "null or an object with epochs_done, history and random", run)
    done = run["epochs_done"]
    if not _is_int(done) or not 0 <= done < 2 ** 53:
        raise _bad(label, (*where, "epochs_done"), "a non-negative integer", done)
    history = run["history"]
    if not isinstance(history, dict) or set(history) != {"count", "stride", "epochs", "values"}:
        raise _bad(label, (*where, "history"), "an object with count, stride, epochs and values", history)
    count, stride, epochs, values = (history[k] for k in ("count", "stride", "epochs", "values"))
    if not _is_int(count) or not 0 <= count <= done:
        raise _bad(label, (*where, "history", "count"), f"an integer from 0 to epochs_done ({done})", count)
    if not _is_int(stride) or not 1 <= stride <= 2 ** 53:
        raise _bad(label, (*where, "history", "stride"), "a positive integer", stride)
    if not isinstance(epochs, list) or len(epochs) > MAX_RUN_POINTS or not all(
            _is_int(e) and 0 < e <= count for e in epochs) or any(a >= b for a, b in zip(epochs, epochs[1:])):
        raise _bad(label, (*where, "history", "epochs"), f"at most {MAX_RUN_POINTS} increasing epochs from 1 to "
                   f"count ({count})", epochs)
    if not isinstance(values, dict) or len(values) > MAX_RUN_SERIES:
        raise _bad(label, (*where, "history", "values"), f"an object of at most {MAX_RUN_SERIES} metrics", values)
    for key, series in values.items():
        _text(label, (*where, "history", "values", "<key>"), key, limit=200)
        if not isinstance(series, list) or len(series) != len(epochs) or not all(map(_number_or_null, series)):
            raise _bad(label, (*where, "history", "values", key), f"{len(epochs)} finite numbers or nulls, "
                       "one per epoch", series)
    random = run["random"]
    if not isinstance(random, dict) or set(random) != {"shuffle", "layers"}:
        raise _bad(label, (*where, "random"), "an object with shuffle and layers", random)
    _check_random_state(label, (*where, "random", "shuffle"), random["shuffle"])
    layers = random["layers"]
    if not isinstance(layers, list) or len(layers) > MAX_ARRAYS:
        raise _bad(label, (*where, "random", "layers"), f"a list of at most {MAX_ARRAYS} states", layers)
    for i, state in enumerate(layers):
        _check_random_state(label, (*where, "random", "layers", i), state)


def _check_random_state(label: str, where: tuple, state) -> None:
    """null, or the state of a NumPy PCG64 generator (the one `np.random.default_rng` makes)."""
    if state is None:
        return
    if not isinstance(state, dict) or set(state) != RANDOM_STATE_KEYS or state["bit_generator"] != "PCG64":
        raise _bad(label, where, 'null or a PCG64 generator state ({"bit_generator": "PCG64", "state": ..., '
                   '"has_uint32": ..., "uinteger": ...})', state)
    inner = state["state"]
    if not isinstance(inner, dict) or set(inner) != {"state", "inc"} or not all(
            _is_int(v) and 0 <= v < 2 ** 128 for v in inner.values()):
        raise _bad(label, (*where, "state"), "an object with state and inc, integers from 0 to 2**128", inner)
    if state["has_uint32"] not in (0, 1) or not _is_int(state["has_uint32"]):
        raise _bad(label, (*where, "has_uint32"), "0 or 1", state["has_uint32"])
    if not _is_int(state["uinteger"]) or not 0 <= state["uinteger"] < 2 ** 32:
        raise _bad(label, (*where, "uinteger"), "an integer from 0 to 2**32", state["uinteger"])


def _check_metadata_fits(label: str, meta: dict, model) -> None:
    """Metadata against the rebuilt model: one scaler statistic per input feature; no class names
    for regression. (Class names may be fewer or more than the outputs: `tuinet predict` shows
    the class id where there is no name.)"""
    scaler = meta.get("scaler")
    features = model.input_shape[-1]
    if scaler is not None and len(scaler["offset"]) != features:
        raise _bad(label, ("metadata", "scaler", "offset"), f"{features} numbers, one per input feature of the "
                   "model", scaler["offset"])
    names = meta.get("class_names")
    if names is not None and meta.get("task") == "regression":
        raise _bad(label, ("metadata", "class_names"), "null for a regression model", names)
    run = meta.get("run")
    if run is not None and len(run["random"]["layers"]) != len(model.layers):
        raise _bad(label, ("metadata", "run", "random", "layers"), f"{len(model.layers)} states, one per layer of "
                   "the model", run["random"]["layers"])


# ---------------------------------------------------------------------- rebuilding
def _rebuild(label: str, config: dict, elements: int):
    """The model of `config`, built; its layers may create at most `elements` weight values in
    all (what the file holds), checked before they allocate, so a crafted architecture (a Dense
    layer of a billion units in a 2 KB file) cannot take more memory than the file allows."""
    from tuinet.nn.layers import Input, deserialize
    from tuinet.nn.model import Sequential

    if config.get("class_name") == "Functional":
        return _rebuild_functional(label, config["config"], elements)
    layers = [deserialize(spec) for spec in config["layers"]]
    shape = config.get("input_shape")
    shape = tuple(shape) if shape is not None else layers[0].declared_input_shape
    if shape is None:
        raise ModelFileError(f"{label}: the saved architecture has no input shape")

    def too_many(layer, name, dims) -> ModelFileError:
        return ModelFileError(f"{label}: the saved architecture needs more weights than the file holds "
                              f"(layer {_shown(layer.name)!r}, weight {_shown(name)!r}, shape {_shown(tuple(dims))})")

    guards = []
    if all(hasattr(layer, "weight_specs") for layer in layers):  # shapes without allocating
        left = elements
        for layer in layers:
            for name, dims, _ in layer.weight_specs(shape):
                left -= math.prod(dims)
                if left < 0:
                    raise too_many(layer, name, dims)
            shape = tuple(layer.compute_output_shape(shape))
    else:  # count each weight as the layer asks for it, before it is made
        left = [elements]

        def guarded(layer):
            original = layer.add_weight

            def add_weight(name, dims, *args, **kwargs):
                left[0] -= math.prod(int(d) for d in dims)
                if left[0] < 0:
                    raise too_many(layer, name, dims)
                return original(name, dims, *args, **kwargs)

            return add_weight

        for layer in layers:
            layer.add_weight = guarded(layer)
            guards.append(layer)
    try:
        first = [Input(tuple(config["input_shape"]))] if config.get("input_shape") is not None else []
        model = Sequential([*first, *layers], name=config.get("name", "sequential"), seed=config.get("seed"))
        if config.get("input_dtype") is not None:
            model._input_dtype = config["input_dtype"]
        if config.get("trainable") is False:
            model._trainable = False
        if not model.built:
            model.build()
    finally:
        for layer in guards:
            layer.__dict__.pop("add_weight", None)
    return model


def _rebuild_functional(label: str, config: dict, elements: int):
    """A functional model from its config; its layers may create only the weights the file holds,
    counted from their shapes (`Layer.weight_specs`) before any is made."""
    from tuinet.nn.functional import Functional

    left = [elements]

    def before_build(layer, shape) -> None:
        for name, dims, _ in layer.weight_specs(shape):
            left[0] -= math.prod(dims)
            if left[0] < 0:
                raise ModelFileError(f"{label}: the saved architecture needs more weights than the file holds "
                                     f"(layer {_shown(layer.name)!r}, weight {_shown(name)!r}, shape "
                                     f"{_shown(tuple(dims))})")

    return Functional.from_config(config, before_build=before_build)


def _check_optimizer_state(label: str, model, state: dict) -> None:
    """Slots name the model's parameter groups and have their shapes and dtypes."""
    flat = getattr(model, "_flat_params", None) or {}
    for full, value in state.items():
        key, sep, _ = full.rpartition("/")
        if not sep:
            if value.shape != ():
                raise ModelFileError(f"{label}: optimizer entry {_shown(full)!r} must be a scalar, it has shape "
                                     f"{value.shape}")
            continue
        target = flat.get(key)
        if target is None:
            raise ModelFileError(f"{label}: optimizer slot {_shown(full)!r} belongs to no parameters of the model")
        if value.shape != target.shape or value.dtype != target.dtype:
            raise ModelFileError(f"{label}: optimizer slot {_shown(full)!r} has shape {value.shape} and dtype "
                                 f"{value.dtype}; the model's parameters have {target.shape} and {target.dtype}")


def _net(label: str, exc: BaseException, what: str) -> ModelFileError:
    """The last line of defence: an unexpected error while rebuilding, as one ModelFileError."""
    if isinstance(exc, TuinetError):
        return ModelFileError(f"{label}: {what}: {_shown(exc, 300)}")
    if isinstance(exc, MemoryError):
        return ModelFileError(f"{label}: {what}: not enough memory")
    return ModelFileError(f"{label}: the saved model description is corrupted ({type(exc).__name__}: "
                          f"{_shown(exc, 200)})")


def load_model(path, *, compile: bool = True, max_bytes: int | None = None):
    """Load a model saved with `model.save(path)`; compiled, with its optimizer state, if it was.

    Args:
        path: The model file.
        compile: Compile the model with the saved settings (and restore the optimizer state).
        max_bytes: Cap on what the file may inflate to, in bytes; see the module docstring
            (`TUINET_MAX_MODEL_BYTES`, default `MAX_MODEL_BYTES`).

    Raises:
        ModelFileError: one line naming the file, for anything missing, damaged, foreign,
            tampered with, too large, or not a regular file.

    A name ending in `.keras` is read as a Keras 3 file (`tuinet.nn.keras_format`).
    """
    if _keras_kind(path, model=True) and not _holds_tuinet_format(path):
        from tuinet.nn.keras_format import load_keras

        return load_keras(path, compile=compile, max_bytes=max_bytes)
    label = _label(path)
    try:
        archive = _open_archive(path, FORMAT, max_bytes=max_bytes)
        return _build_model(archive, compile)
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure of a crafted file is a ModelFileError
        raise _net(label, exc, "the saved model cannot be rebuilt") from None


def _build_model(archive: _Archive, compile: bool):
    from tuinet.nn import losses, optimizers

    label, header, arrays = archive.label, archive.header, archive.arrays
    entries = header["weights"]
    weights = [arrays[f"w_{i:04d}"] for i in range(len(entries))]
    model = _rebuild(label, header["model"], sum(a.size for a in weights))
    if not model.built:
        raise ModelFileError(f"{label}: the saved architecture has no input shape")
    names = [f"{layer.name}/{w}" for layer in model.layers for w in layer.weight_names]
    if names != [e["name"] for e in entries]:
        raise ModelFileError(f"{label}: the saved weights ({len(entries)}) do not match the architecture's "
                             f"({len(names)}): the file was modified or corrupted")
    model.set_weights(weights)
    meta = header.get("metadata") or {}
    _check_metadata_fits(label, meta, model)
    model.metadata = meta
    comp = header.get("compile")
    if compile and comp:
        if isinstance(comp["loss"], list):  # a functional model: one loss per output
            model.compile(optimizer=optimizers.get(comp["optimizer"]), loss=comp["loss"],
                          loss_weights=comp.get("loss_weights"), metrics=comp.get("metrics"),
                          weighted_metrics=comp.get("weighted_metrics"))
        elif comp.get("loss_weights") is not None:
            model.compile(optimizer=optimizers.get(comp["optimizer"]), loss=losses.get(comp["loss"]),
                          loss_weights=comp["loss_weights"], metrics=comp.get("metrics"),
                          weighted_metrics=comp.get("weighted_metrics"))
        else:
            model.compile(optimizer=optimizers.get(comp["optimizer"]), loss=losses.get(comp["loss"]),
                          metrics=comp.get("metrics") or [], weighted_metrics=comp.get("weighted_metrics"))
        if header.get("optimizer"):
            state = {e["name"]: arrays[f"o_{i:04d}"] for i, e in enumerate(header["optimizer"])}
            _check_optimizer_state(label, model, state)
            model.optimizer.set_state(state)
    return model


def load_weights(model, path, *, max_bytes: int | None = None) -> None:
    """Load weights saved with `save_weights` (or `save`) into a model of the same architecture;
    a `.weights.h5` / `.h5` name is read as Keras 3's HDF5 layout (`tuinet.nn.keras_format`)."""
    if _keras_kind(path, model=False) and not _holds_tuinet_format(path):
        from tuinet.nn.keras_format import load_weights_h5

        return load_weights_h5(model, path, max_bytes=max_bytes)
    label = _label(path)
    try:
        archive = _open_archive(path, FORMAT + ".weights", also=FORMAT, max_bytes=max_bytes)
        weights = [archive.arrays[f"w_{i:04d}"] for i in range(len(archive.header["weights"]))]
        model.set_weights(weights)
    except ModelFileError:
        raise
    except TuinetError as exc:
        raise ModelFileError(f"{label}: the weights do not fit this model: {_shown(exc, 300)}") from None
    except Exception as exc:  # noqa: BLE001
        raise _net(label, exc, "the weights cannot be loaded") from None

"""Loading the user's own data: CSV/TSV (optionally gzipped), NPY and NPZ files.

Every problem a file can have is reported as a `DataError` that names the file, the line and the
column and says what was expected, for example
`data/patients.csv: line 14, column "age": expected a number, got "sixty"`.
"""

from __future__ import annotations

import csv
import gzip
import inspect
import io
import itertools
import math
import os
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tuinet.data.dataset import Dataset
from tuinet.errors import ConfigError, DataError, did_you_mean, safe_text
from tuinet.paths import user_path

MISSING = frozenset({"", "na", "n/a", "nan", "-nan", "null", "none", "?"})
"""Cell texts (compared lower-cased, stripped) that mean "no value"."""

MAX_AUTO_CLASSES = 50
"""An integer target with at most this many distinct values is read as class labels."""

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".npz", ".npy")

_TASKS = ("auto", "classification", "regression")


# ----------------------------------------------------------------------------- helpers


def display_path(path: str | os.PathLike) -> str:
    """The path as messages show it: relative to the working directory when it lies below it."""
    path = Path(path)
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def _quote(text: str, limit: int = 40) -> str:
    return f'"{safe_text(text, limit)}"'


def _got(cell: str) -> str:
    """Describe a bad cell for "expected ..., got <this>"."""
    stripped = cell.strip()
    if not stripped:
        return "an empty cell"
    if stripped.lower() in MISSING:
        return f"a missing value {_quote(stripped)}"
    return _quote(stripped)


def _is_number(cell: str) -> bool:
    if cell.strip().lower() in MISSING:
        return False
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_task(task: str) -> str:
    if task not in _TASKS:
        raise ConfigError(f"task: expected one of {', '.join(_TASKS)}, got {task!r}{did_you_mean(task, _TASKS)}")
    return task


def _check_exists(path: Path, display: str) -> None:
    if not path.exists():
        raise DataError(f"{display}: file not found")
    if path.is_dir():
        raise DataError(f"{display}: is a folder; expected a data file ({', '.join(SUPPORTED_SUFFIXES)})")


def _encode_target(numeric: np.ndarray | None, texts: Sequence[str] | None, task: str,
                   where: Callable[[int], str]) -> tuple[np.ndarray, str, list[str] | None]:
    """Turn a target column into `(y, task, class_names)`.

    Args:
        numeric: The values as float64 `(n,)` when every one is a finite number, else None.
        texts: The values as text `(n,)`, required when `numeric` is None.
        task: "auto", "classification" or "regression".
        where: Builds the location of sample `i` for messages ("data.csv: line 3, column 5").
    """
    def show(i: int) -> str:
        return _got(texts[i]) if texts is not None else _quote(f"{numeric[i]:g}")

    if numeric is None:
        if task == "regression":
            bad = next(i for i, t in enumerate(texts) if not _is_number(t))
            raise DataError(f"{where(bad)}: expected a number (task is regression), got {show(bad)}")
        names, ids = np.unique(np.asarray(texts, dtype=str), return_inverse=True)
        return ids.reshape(-1).astype(np.int64), "classification", [safe_text(v, limit=None) for v in names]
    integral = numeric == np.round(numeric)
    values, ids = np.unique(numeric, return_inverse=True)
    looks_like_classes = bool(integral.all()) and len(values) <= MAX_AUTO_CLASSES
    if task == "regression" or (task == "auto" and not looks_like_classes):
        with np.errstate(over="ignore"):
            as_float32 = numeric.astype(np.float32)
        if not np.isfinite(as_float32).all():
            bad = int(np.argmin(np.isfinite(as_float32)))
            raise DataError(f"{where(bad)}: expected a number within float32 range, got {show(bad)}")
        return as_float32, "regression", None
    if task == "classification" and not integral.all():
        bad = int(np.argmin(integral))
        raise DataError(f"{where(bad)}: expected an integer class label (task is classification), got {show(bad)}")
    return ids.reshape(-1).astype(np.int64), "classification", [str(int(v)) for v in values]


# ----------------------------------------------------------------------------- CSV


def _open_text(path: Path):
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _detect_header(rows: list[list[str]]) -> bool:
    """Guess whether the first row names the columns.

    A column is numeric when its cells on the next rows (up to 50) are numbers or missing, with at
    least one number. The first row is a header when none of its cells in numeric columns is a
    number and at least one of them holds text. Without numeric columns (or with a single row), it
    is a header when every cell of it is text.
    """
    first, sample = rows[0], rows[1:51]
    numeric = []
    for j in range(len(first)):
        cells = [row[j] for row in sample if j < len(row) and row[j].strip().lower() not in MISSING]
        if cells and all(_is_number(c) for c in cells):
            numeric.append(j)
    if not numeric:
        return all(c.strip().lower() not in MISSING and not _is_number(c) for c in first)
    heads = [first[j] for j in numeric]
    return not any(_is_number(c) for c in heads) and any(c.strip().lower() not in MISSING for c in heads)


def _resolve_target(target: int | str, names: list[str] | None, width: int, display: str) -> int:
    if isinstance(target, bool) or not isinstance(target, (int, np.integer, str)):
        raise ConfigError(f"target: expected a column name or index, got {target!r}")
    if isinstance(target, str):
        if names is None:
            raise DataError(f'{display}: line 1: target column "{target}" needs a header row, and the file has '
                            f"none; pass the target as a column index (0 to {width - 1}, or -1 for the last)")
        if target not in names:
            hint = did_you_mean(target, names) or did_you_mean(target.lower(), [n.lower() for n in names])
            raise DataError(f'{display}: line 1: no column named "{target}"{hint}; '
                            f"the columns are {', '.join(_quote(n) for n in names)}")
        if names.count(target) > 1:
            raise DataError(f'{display}: line 1: {names.count(target)} columns are named "{target}"; '
                            f"pass the target as a column index instead")
        return names.index(target)
    if not -width <= target < width:
        raise DataError(f"{display}: line 1: target column index {target} does not exist; the file has {width} "
                        f"columns (indexes 0 to {width - 1}, or -{width} to -1 from the end)")
    return int(target) % width


def load_csv(path: str | os.PathLike, *, target: int | str = -1, header: bool | str = "auto",
             delimiter: str = ",", task: str = "auto") -> Dataset:
    """Load a table of numbers (plus a target column) from a CSV file.

    Fields may be quoted; blank lines are skipped; a `.gz` suffix is decompressed on the fly.

    Args:
        path: The file.
        target: The target column, by name (needs a header) or index (negative counts from the end).
        header: True, False, or "auto": the first line is a header when its cells in the numeric
            columns are all text.
        delimiter: One character separating the cells ("\\t" for TSV).
        task: "auto", "classification" or "regression". Auto: a text target gives classes (in
            sorted order, names kept); integers with at most 50 distinct values give classes;
            anything else is a regression target.

    Returns:
        Dataset with `x` float32 `(rows, features)`, and `y` int64 class ids or float32 values `(rows,)`.

    Raises:
        DataError: for a missing or empty file, a ragged row, a non-numeric or missing feature
            cell, a missing target column or a target that cannot serve the task; the message
            names the file, the line and the column.
        ConfigError: for bad arguments.
    """
    task = _check_task(task)
    path = Path(path)
    display = display_path(path)
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ConfigError(f"delimiter: expected one character, got {delimiter!r}")
    if header not in (True, False, "auto"):
        raise ConfigError(f'header: expected true, false or "auto", got {header!r}')
    if isinstance(target, bool) or not isinstance(target, (int, np.integer, str)):
        raise ConfigError(f"target: expected a column name or index, got {target!r}")
    _check_exists(path, display)
    from tuinet.data import csv_stream  # the chunked float32 reader (it imports this module)

    return csv_stream.load_csv(path, target=target, header=header, delimiter=delimiter, task=task)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in SUPPORTED_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


# ----------------------------------------------------------------------------- NPY / NPZ


NPZ_MEMBERS = ("x", "y", "feature_names", "class_names")
"""The arrays `load_npz` reads from an archive (others are never loaded)."""


def npy_header(handle) -> tuple[tuple[int, ...], np.dtype] | None:
    """The shape and dtype an `.npy` stream's header declares, read without the data (None when
    the header is not valid: `np.load` then says why)."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read(handle)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError):
        return None
    return tuple(int(d) for d in shape), np.dtype(dtype)


def _declared(path: Path) -> list[tuple[str, tuple[int, ...], np.dtype, int]]:
    """`(array, shape, dtype, bytes)` of each array an `.npy` file or an `.npz` archive declares
    (an archive member counts with the larger of its header's size and the zip's own size)."""
    found = []
    with open(path, "rb") as handle:
        magic = handle.read(6)
        handle.seek(0)
        if magic.startswith(b"\x93NUMPY"):
            header = npy_header(handle)
            if header is not None:
                found.append(("the array", *header, math.prod(header[0]) * header[1].itemsize))
            return found
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if name not in NPZ_MEMBERS:
                    continue
                with archive.open(info) as member:
                    header = npy_header(member)
                if header is not None:
                    size = max(info.file_size, math.prod(header[0]) * header[1].itemsize)
                    found.append((f'array "{name}"', *header, size))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError):
        return found  # np.load reports a broken archive in its own words
    return found


def _check_declared_size(path: Path, display: str) -> None:
    """Refuse an `.npy`/`.npz` file whose arrays cannot fit in memory, from their headers alone
    (a file of a few bytes may declare terabytes); each array is counted with its float32 copy."""
    from tuinet import memory

    found = _declared(path)
    if not found:
        return
    need = sum(size + math.prod(shape) * 4 for _, shape, _, size in found)
    budget = memory.budget()
    if budget.allows(need):
        return
    what, shape, dtype, size = max(found, key=lambda item: item[3])
    more = f", {memory.format_bytes(need)} in all" if len(found) > 1 else ""
    raise DataError(f"{display}: {what} of shape {shape} ({dtype}) needs about "
                    f"{memory.format_bytes(size + math.prod(shape) * 4)} to load{more} ({budget.describe()}); "
                    f"use a smaller file")


def peek_shape(path: str | os.PathLike, *, target=-1, delimiter: str | None = None, **_options):
    """`(samples, sample_shape)` of the data a file holds, read from its header (`.npy`, `.npz`)
    or its first line (CSV: the number of feature columns; samples None). Loads no data.

    Raises:
        DataError, OSError: for a file that cannot be read.
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix in (".npy", ".npz"):
        for what, shape, _, _ in _declared(path):
            if what in ("the array", 'array "x"'):
                if suffix == ".npy":  # a table whose last column is the target
                    return (shape[0], (shape[1] - 1,)) if len(shape) == 2 and shape[1] > 1 else (None, None)
                return (shape[0] if shape else None), (tuple(shape[1:]) or (1,))
        return None, None
    delimiter = delimiter or ("\t" if suffix.startswith(".tsv") else ",")
    with _open_text(path) as handle:
        lines = iter(lambda: handle.readline(1 << 20), "")  # no more than 1 MB a line: only a peek
        for row in csv.reader(itertools.islice(lines, 1000), delimiter=delimiter):
            if row and (len(row) > 1 or row[0].strip()):
                width = len(row) - (1 if len(row) > 1 and not row[-1].strip() else 0)
                return None, ((width - 1,) if width > 1 else None)
    return None, None


def resolve_path(source: str | os.PathLike, base_dir: str | os.PathLike | None = None) -> Path:
    """A data source's path: `~` expanded, a relative path taken from `base_dir` (the preset's folder)."""
    path = Path(source).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


def _np_load(path: Path, display: str, kind: str):
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if not (magic.startswith(b"\x93NUMPY") or magic.startswith(b"PK\x03\x04") or magic.startswith(b"PK\x05\x06")):
        what = "Python pickle data, which tuinet never loads" if magic[:1] == b"\x80" else "not in NumPy format"
        raise DataError(f"{display}: not a valid {kind} file ({what}); expected a file written by "
                        f"{'np.save' if kind == '.npy' else 'np.savez'}")
    _check_declared_size(path, display)
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"{display}: holds Python objects (pickled data), which tuinet never loads; "
                            f"expected plain numeric arrays") from None
        raise DataError(f"{display}: not a valid {kind} file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{display}: not a valid {kind} file ({exc})") from None


def _arrays_to_dataset(x: np.ndarray, y: np.ndarray, *, display: str, name: str, source: str, task: str,
                       x_label: str, y_label: str, feature_names=None, class_names=None) -> Dataset:
    """Validate a pair of arrays and wrap them in a Dataset."""
    if x.ndim == 0 or x.dtype.kind not in "biuf":
        what = "a scalar" if x.ndim == 0 else f"dtype {x.dtype}"
        raise DataError(f"{display}: {x_label}: expected an array of numbers with one row per sample, got {what}")
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim == 0 or y.ndim > 2:
        raise DataError(f"{display}: {y_label}: expected one target per sample, shape (n,) or (n, k), "
                        f"got shape {y.shape}")
    if len(x) != len(y):
        raise DataError(f"{display}: {x_label} has {len(x)} samples but {y_label} has {len(y)}; "
                        f"expected the same number")
    if len(x) == 0:
        raise DataError(f"{display}: {x_label}: expected at least one sample, got none")
    with np.errstate(over="ignore", invalid="ignore"):
        x32 = x.astype(np.float32)
    if not np.isfinite(x32).all():
        pos = tuple(int(v) for v in np.argwhere(~np.isfinite(x32))[0])
        at = f"feature {pos[1]}" if len(pos) == 2 else f"position {pos[1:]}"
        raise DataError(f"{display}: {x_label}, sample {pos[0]}, {at}: expected a finite number, "
                        f"got {float(x[pos]):g}")
    if y.dtype.kind not in "biufUS":
        raise DataError(f"{display}: {y_label}: expected numbers or text labels, got dtype {y.dtype}")
    task = _check_task(task)

    def where(i: int) -> str:
        return f"{display}: {y_label}, sample {i}"

    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        if y.dtype.kind in "US":
            raise DataError(f"{display}: {y_label}: expected one text label per sample, got shape {y.shape}")
        one_hot = bool(np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all())
        if task == "classification" or (task == "auto" and one_hot):
            if not one_hot:
                raise DataError(f"{display}: {y_label}: expected one-hot rows (task is classification), "
                                f"got shape {y.shape} with other values")
            names = class_names if class_names is not None else [str(c) for c in range(y.shape[1])]
            return Dataset(name=name, x=x32, y=y.argmax(axis=1).astype(np.int64), task="classification",
                           feature_names=_feature_names(feature_names, x32, display), class_names=list(names),
                           description=f"{display}: {len(x)} samples of shape {x.shape[1:]}", source=source)
        y32 = y.astype(np.float32)
        if not np.isfinite(y32).all():
            i = int(np.argwhere(~np.isfinite(y32))[0][0])
            raise DataError(f"{where(i)}: expected finite target values, got {y[i].tolist()}")
        return Dataset(name=name, x=x32, y=y32, task="regression",
                       feature_names=_feature_names(feature_names, x32, display),
                       description=f"{display}: {len(x)} samples of shape {x.shape[1:]}", source=source)
    if y.dtype.kind in "US":
        texts = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in y.tolist()]
        texts = [t.strip() for t in texts]
        for i, text in enumerate(texts):
            if text.lower() in MISSING:
                raise DataError(f"{where(i)}: expected a target value, got {_got(text)}")
        numeric = None
        if all(_is_number(t) for t in texts):
            numeric = np.array([float(t) for t in texts])
    else:
        texts, numeric = None, y.astype(np.float64)
        if not np.isfinite(numeric).all():
            i = int(np.argmin(np.isfinite(numeric)))
            raise DataError(f"{where(i)}: expected a finite target value, got {float(y[i]):g}")
    y_out, task, names = _encode_target(numeric, texts, task, where)
    if task == "classification" and class_names is not None:
        if len(class_names) < len(names):
            raise DataError(f'{display}: array "class_names" has {len(class_names)} names but the target has '
                            f"{len(names)} classes")
        if numeric is not None and texts is None and (numeric >= 0).all():
            y_out = y.astype(np.int64)  # the ids index class_names directly
            if y_out.max() >= len(class_names):
                raise DataError(f'{display}: array "class_names" has {len(class_names)} names but {y_label} '
                                f"holds class id {int(y_out.max())}")
            names = list(class_names)
    image_shape = tuple(int(d) for d in x32.shape[1:]) if x32.ndim == 4 else None
    return Dataset(name=name, x=x32, y=y_out, task=task, feature_names=_feature_names(feature_names, x32, display),
                   class_names=names, description=f"{display}: {len(x)} samples of shape {x.shape[1:]}",
                   image_shape=image_shape, source=source)


def _feature_names(given, x: np.ndarray, display: str) -> list[str]:
    width = x.shape[-1]
    if given is None:
        return [f"x{j + 1}" for j in range(width)]
    if len(given) != width:
        raise DataError(f'{display}: array "feature_names" has {len(given)} names; expected {width}, one per '
                        f"entry of the last axis of x")
    return list(given)


def _text_list(array: np.ndarray) -> list[str]:
    """Names stored in an archive, control characters escaped (they are shown on screen)."""
    return [safe_text(v.decode("utf-8", "replace") if isinstance(v, bytes) else v, limit=None)
            for v in np.ravel(array).tolist()]


def load_npz(path: str | os.PathLike, *, task: str = "auto") -> Dataset:
    """Load arrays "x" and "y" from an `.npz` archive (as written by `np.savez(path, x=x, y=y)`).

    Optional text arrays "feature_names" (one per entry of the last axis of x) and "class_names"
    (indexed by class id) are used when present. Pickled objects are never loaded.

    Args:
        path: The archive.
        task: "auto", "classification" or "regression", as for `load_csv`; a one-hot `y` `(n, k)`
            becomes class ids.

    Returns:
        Dataset with `x` float32 of the stored shape (`(n,)` becomes `(n, 1)`); 4-D `x` is taken
        as images `(n, h, w, c)`.
    """
    path = Path(path)
    display = display_path(path)
    _check_task(task)
    _check_exists(path, display)
    archive = _np_load(path, display, ".npz")
    if isinstance(archive, np.ndarray):
        raise DataError(f"{display}: holds a single array (an .npy file); expected an .npz archive with "
                        f'arrays "x" and "y"')
    with archive:
        found = list(archive.files)
        missing = [k for k in ("x", "y") if k not in found]
        if missing:
            raise DataError(f"{display}: no array named {' or '.join(_quote(m) for m in missing)}; expected "
                            f'arrays "x" and "y", found {", ".join(_quote(f) for f in found) or "no arrays"}')
        arrays = {}
        for key in ("x", "y", "feature_names", "class_names"):
            if key in found:
                try:
                    arrays[key] = archive[key]
                except ValueError:
                    raise DataError(f'{display}: array "{key}" holds Python objects (pickled data), which tuinet '
                                    f"never loads; expected plain numeric or text arrays") from None
                except (OSError, EOFError, zipfile.BadZipFile) as exc:
                    raise DataError(f'{display}: array "{key}" cannot be read ({exc})') from None
    feature_names = _text_list(arrays["feature_names"]) if "feature_names" in arrays else None
    class_names = _text_list(arrays["class_names"]) if "class_names" in arrays else None
    return _arrays_to_dataset(arrays["x"], arrays["y"], display=display, name=_stem(path), source=str(path),
                              task=task, x_label='array "x"', y_label='array "y"',
                              feature_names=feature_names, class_names=class_names)


def load_npy(path_x: str | os.PathLike, path_y: str | os.PathLike | None = None, *, task: str = "auto") -> Dataset:
    """Load inputs and targets from `.npy` files.

    Args:
        path_x: The inputs `(n, ...)`; without `path_y`, a 2-D table whose last column is the target.
        path_y: The targets `(n,)` or `(n, k)`.
        task: "auto", "classification" or "regression", as for `load_csv`.

    Returns:
        Dataset with `x` float32 and `y` as for `load_npz`.
    """
    path_x = Path(path_x)
    display = display_path(path_x)
    _check_task(task)
    _check_exists(path_x, display)
    x = _np_load(path_x, display, ".npy")
    if not isinstance(x, np.ndarray):
        x.close()
        raise DataError(f"{display}: is an .npz archive; expected a single array (use load_npz for archives)")
    if path_y is None:
        if x.ndim != 2 or x.shape[1] < 2:
            raise DataError(f"{display}: expected a 2-D table whose last column is the target (or a second "
                            f"file with the targets), got shape {x.shape}")
        return _arrays_to_dataset(x[:, :-1], x[:, -1], display=display, name=_stem(path_x), source=str(path_x),
                                  task=task, x_label="columns 0 to -2", y_label="last column")
    path_y = Path(path_y)
    display_y = display_path(path_y)
    _check_exists(path_y, display_y)
    y = _np_load(path_y, display_y, ".npy")
    if not isinstance(y, np.ndarray):
        y.close()
        raise DataError(f"{display_y}: is an .npz archive; expected a single array of targets")
    return _arrays_to_dataset(x, y, display=f"{display} + {display_y}", name=_stem(path_x), source=str(path_x),
                              task=task, x_label=display, y_label=display_y)


# ----------------------------------------------------------------------------- dispatch


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def load_file(path: str | os.PathLike, **options) -> Dataset:
    """Load a data file, choosing the reader by its suffix.

    `.csv` and `.csv.gz` go to `load_csv`, `.tsv` and `.tsv.gz` to `load_csv` with a tab delimiter,
    `.npz` to `load_npz`, `.npy` to `load_npy` (option `path_y` for a second file of targets).

    Args:
        path: The file.
        **options: Keyword arguments of the chosen reader (`target`, `header`, `task`...).

    Raises:
        DataError: for a missing file or an unsupported suffix.
        ConfigError: for an option the reader does not take.
    """
    path = user_path(path, what="data file", error=DataError)  # ~ and ~user expanded
    display = display_path(path)
    suffix = _suffix(path)
    readers: dict[str, Callable[..., Dataset]] = {".csv": load_csv, ".csv.gz": load_csv, ".tsv": load_csv,
                                                  ".tsv.gz": load_csv, ".npz": load_npz, ".npy": load_npy}
    if suffix not in readers:
        got = f'"{suffix}"' if suffix else "no suffix"
        raise DataError(f"{display}: unsupported file type ({got}); expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    _check_exists(path, display)
    reader = readers[suffix]
    if suffix.startswith(".tsv"):
        options.setdefault("delimiter", "\t")
    accepted = [p.name for p in inspect.signature(reader).parameters.values()
                if p.kind == p.KEYWORD_ONLY or (p.kind == p.POSITIONAL_OR_KEYWORD and p.name == "path_y")]
    for key in options:
        if key not in accepted:
            raise ConfigError(f"{display}: option {key!r} does not apply to {suffix} files"
                              f"{did_you_mean(key, accepted)}; options: {', '.join(accepted)}")
    return reader(path, **options)

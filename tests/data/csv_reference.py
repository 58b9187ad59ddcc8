"""The CSV reading path `tuinet predict` had before it streamed (`read_table` + `parse_numbers`,
which read every row into lists of strings, then converted the whole table): the reference that
the streaming reader (`tuinet.data.csv_stream.load_features`) and `load_csv` are compared with.
Kept verbatim apart from names and imports."""

from __future__ import annotations

import csv
import gzip
import math
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuinet.data.files import (MISSING, _check_exists, _detect_header, _got, _is_number, _open_text, _quote,
                               _resolve_target, display_path)
from tuinet.errors import ConfigError, DataError, safe_text


class RowError(Exception):
    """What `tuinet predict` said about a row of the wrong width (a `UserError` there)."""


def _read_rows(path: Path, display: str, delimiter: str) -> tuple[list[list[str]], list[int]]:
    """All non-blank rows and the 1-based line on which each starts."""
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            previous = 0
            for row in reader:
                if row and (len(row) > 1 or row[0].strip()):
                    rows.append(row)
                    lines.append(previous + 1)
                previous = reader.line_num
    except UnicodeDecodeError as exc:
        raise DataError(f"{display}: line {_first_undecodable_line(path)}: not UTF-8 text "
                        f"(byte {exc.object[exc.start:exc.start + 1]!r}); expected a text file of values") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(f"{display}: not a valid gzip file ({exc})") from None
    except csv.Error as exc:
        raise DataError(f"{display}: line {reader.line_num}: {exc}") from None
    return rows, lines


def _first_undecodable_line(path: Path) -> int:
    """The 1-based line of the first byte that is not UTF-8 (the decoder only knows its chunk)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return raw.count(b"\n", 0, exc.start) + 1
    return 1  # pragma: no cover - only called after a decoding error


@dataclass
class Table:
    """The cells of a CSV file as `read_table` found them.

    Attributes:
        path: The file.
        display: How messages name it (`display_path`).
        rows: The non-blank data rows (the header left out), cells as text.
        lines: The 1-based line on which each row starts.
        names: The header's column names (control characters escaped), or None without a header.
        width: The number of cells of the first line (the header's, when there is one).
        header_guessed: Whether the header was "auto" and the first line was taken as data.
    """

    path: Path
    display: str
    rows: list[list[str]]
    lines: list[int]
    names: list[str] | None
    width: int
    header_guessed: bool = False

    def column(self, j: int) -> str:
        """`column "age"` with a header, else `column 3` (1-based)."""
        return f'column "{self.names[j]}"' if self.names is not None and j < len(self.names) else f"column {j + 1}"

    def where(self, i: int, j: int) -> str:
        """`data.csv: line 14, column "age"`: where cell `j` of row `i` is."""
        return f"{self.display}: line {self.lines[i]}, {self.column(j)}"

    def target_index(self, target: int | str) -> int:
        """The index of a target column given by name (needs a header) or index (negative from the end)."""
        return _resolve_target(target, self.names, self.width, self.display)


def read_table(path: str | os.PathLike, *, header: bool | str = "auto", delimiter: str = ",") -> Table:
    """Read the cells of a CSV file (UTF-8, optionally gzipped) and find its header.

    The reading half of `load_csv`, shared with `tuinet predict` so that both report a bad file
    in the same words. Rows are not checked for width.

    Raises:
        DataError: for a missing, empty, non-UTF-8 or malformed file, or a header without rows.
        ConfigError: for a bad `header` or `delimiter`.
    """
    path = Path(path)
    display = display_path(path)
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ConfigError(f"delimiter: expected one character, got {delimiter!r}")
    if header not in (True, False, "auto"):
        raise ConfigError(f'header: expected true, false or "auto", got {header!r}')
    _check_exists(path, display)
    rows, lines = _read_rows(path, display, delimiter)
    if not rows:
        raise DataError(f"{display}: the file is empty; expected rows of values separated by {delimiter!r}")

    # A trailing delimiter on every line leaves an empty last column: drop it.
    if len(rows[0]) > 1 and all(len(r) == len(rows[0]) and not r[-1].strip() for r in rows):
        rows = [r[:-1] for r in rows]

    has_header = _detect_header(rows) if header == "auto" else bool(header)
    width = len(rows[0])
    names = None
    if has_header:
        names = [safe_text(c.strip(), limit=None) or f"column {j + 1}" for j, c in enumerate(rows[0])]
        rows, lines = rows[1:], lines[1:]
        if not rows:
            raise DataError(f"{display}: line 1 is a header and no data rows follow; expected rows of values")
    return Table(path=path, display=display, rows=rows, lines=lines, names=names, width=width,
                 header_guessed=header == "auto" and not has_header)


def parse_numbers(table: Table, columns: Sequence[int]) -> np.ndarray:
    """The cells of `columns` (indexes into each row) as float32 `(rows, len(columns))`.

    Raises:
        DataError: naming the line and the column of the first cell that is not a number, is
            missing, is NaN or infinite, or lies outside float32's range.
    """
    rows, where = table.rows, table.where
    x = np.empty((len(rows), len(columns)), dtype=np.float64)
    for k, j in enumerate(columns):
        try:
            x[:, k] = np.fromiter((float(row[j]) for row in rows), dtype=np.float64, count=len(rows))
        except (ValueError, IndexError):
            i, j = next((i, j) for i, row in enumerate(rows) for j in columns
                        if j >= len(row) or not _is_number(row[j]))
            if j >= len(rows[i]):
                raise DataError(f"{where(i, j)}: missing; expected {table.width} cells, got {len(rows[i])}") from None
            hint = "; if line 1 is a header, pass header=True" if i == 0 and table.header_guessed else ""
            raise DataError(f"{where(i, j)}: expected a number, got {_got(rows[i][j])}{hint}") from None
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
    if not np.isfinite(x32).all():
        i, k = (int(v) for v in np.argwhere(~np.isfinite(x32))[0])
        cell = rows[i][columns[k]]
        if math.isfinite(float(cell)):
            raise DataError(f"{where(i, columns[k])}: expected a number within float32 range, "
                            f"got {_quote(cell.strip())}")
        what = "a number" if cell.strip().lower() in MISSING else "a finite number"
        raise DataError(f"{where(i, columns[k])}: expected {what}, got {_got(cell)}")
    return x32


def read_features(path, expected: int, target) -> tuple:
    """`tuinet predict`'s reading of DATA.csv: the feature columns as float32 `(rows, expected)`
    and the header's names; `DataError` for a bad file or cell, `RowError` for a row of the
    wrong width (after every cell was checked)."""
    table = read_table(path)
    columns = list(range(table.width))
    if target is not None:
        columns.remove(table.target_index(int(target) if str(target).lstrip("-").isdigit() else target))
    # A label column left in is text: say so before counting the columns.
    short = min((len(row) for row in table.rows), default=table.width)
    x = parse_numbers(table, [j for j in columns if j < short])
    extra = table.width - len(columns)
    for row, line in zip(table.rows, table.lines):
        if len(row) - extra != expected:
            raise RowError(f"{table.display}: line {line}: expected {expected} values (the model's inputs)"
                           + (" and the target column" if extra else "")
                           + f", got {len(row) - extra}" + ("" if extra else "; use --target to drop a label column"))
    return x, table.names


def predict_output(model, x) -> tuple[str, str]:
    """What `tuinet predict` printed for inputs `x` before it streamed its output, and the text of
    the CSV file it wrote with -o (every row formatted into one list first)."""
    import io

    from tuinet import data

    meta = getattr(model, "metadata", {}) or {}
    if meta.get("scaler"):
        cls = getattr(data, meta.get("scaler_kind") or "", None)
        if cls is not None:
            x = cls.from_config(meta["scaler"]).transform(x)
    out = model.predict(x, verbose=0)
    meta = model.metadata or {}
    names = meta.get("class_names")
    lines = []
    if meta.get("task") == "classification" or (out.ndim == 2 and out.shape[1] > 1):
        if out.shape[1] == 1:
            ids = (out[:, 0] > 0.5).astype(int)
            conf = np.where(ids == 1, out[:, 0], 1 - out[:, 0])
        else:
            ids, conf = out.argmax(1), out.max(1)
        header = ["prediction", "probability"]
        for i, c in zip(ids, conf):
            lines.append([names[i] if names and i < len(names) else str(int(i)), f"{c:.6f}"])
    else:
        header = [f"y{j}" for j in range(out.reshape(len(out), -1).shape[1])]
        lines = [[f"{v:.6g}" for v in row] for row in out.reshape(len(out), -1)]
    printed = ",".join(header) + "\n" + "".join(",".join(safe_text(c, limit=None) for c in row) + "\n"
                                                for row in lines)
    written = io.StringIO(newline="")
    w = csv.writer(written)
    w.writerow(header)
    w.writerows(lines)
    return printed, written.getvalue()

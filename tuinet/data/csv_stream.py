"""`load_csv`'s reader: a CSV file parsed in chunks of rows straight into float32, in bounded memory.

Reading every row into lists of strings first and converting them to float64 afterwards took
about twelve times the file's size; here the cells go from each chunk of rows straight into
one float32 array (sized from the file's length after the first chunk, grown in place if that
was too little, trimmed at the end), and the target column is kept as float64 values plus
small integer codes of its distinct texts. A 200 MB file now peaks well under its own size
(`benchmarks/bench_csv_memory.py`).

Every message is the one `files.load_csv` gave when it held the whole file: the errors are
found in the same order (empty file, header without rows, ragged row, target column, first bad
feature cell in reading order, target values), so the first chunk cannot decide alone what a
later row may change: a trailing delimiter is only dropped when every line has one, and the
first line's role (header or data) is settled when the file ends.

The memory budget (`tuinet.memory`) is checked twice: after the first chunk, from the file's
length (a `.gz` file's trailer declares its decompressed size), and while reading, whenever the
arrays grow (a gzip trailer only holds the size modulo 4 GB).

`load_features` is the same reader without a target (`tuinet predict`'s inputs: feature columns
only, a label column left out by name or index), with the messages `tuinet predict` gave when it
read the whole table (`tests/data/csv_reference.py`).
"""

from __future__ import annotations

import bisect
import codecs
import csv
import gzip
import itertools
import math
import operator
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuinet import memory
from tuinet.data import files
from tuinet.errors import ConfigError, DataError, safe_text

CHUNK_ROWS = 8192
"""Rows parsed at a time."""

HEAD_ROWS = 51
"""The first chunk holds at least this many rows: the header guess looks at the first line and 50 more."""

MAX_CODES = 1 << 16
"""A target column keeps codes of its distinct texts up to this many (class labels); beyond it
(a numeric target of distinct values) only the numbers are kept."""

_NAN = float("nan")


def text_size(path: Path) -> int:
    """Bytes of text in `path`: its size, or for a `.gz` file the size its trailer declares
    (ISIZE, the decompressed size modulo 2**32)."""
    size = path.stat().st_size
    if path.name.lower().endswith(".gz") and size >= 18:
        with open(path, "rb") as handle:
            handle.seek(-4, os.SEEK_END)
            return int.from_bytes(handle.read(4), "little")
    return size


def first_undecodable_line(path: Path) -> int:
    """The 1-based line of the first byte that is not UTF-8, read in blocks (the file may be large)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines = 0
    with opener(path, "rb") as handle:
        while True:
            block = handle.read(1 << 20)
            pending = decoder.getstate()[0]
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                return newlines + (pending + block).count(b"\n", 0, exc.start) + 1
            if not block:
                return newlines + 1  # pragma: no cover - only called after a decoding error
            newlines += block.count(b"\n")


class _Rows:
    """The non-blank rows of a CSV file in chunks, with the line each starts on.

    Lines are kept sparsely: `(row, line - row)` whenever that offset changes (a blank line,
    a field spanning lines), so row `r` starts on line `r + offset`.
    """

    def __init__(self, path: Path, display: str, delimiter: str, max_line: int) -> None:
        self.path, self.display, self.delimiter, self.max_line = path, display, delimiter, max_line
        self.count = 0          # rows so far
        self.chars = 0          # characters read so far
        self._starts: list[int] = []
        self._offsets: list[int] = []

    def line(self, r: int) -> int:
        """The 1-based line on which row `r` starts."""
        k = bisect.bisect_right(self._starts, r) - 1
        return r + self._offsets[k]

    def _lines(self, handle):
        limit = self.max_line
        while True:
            line = handle.readline(limit + 1)
            if not line:
                return
            if len(line) > limit and not line.endswith(("\n", "\r")):
                raise DataError(f"{self.display}: line {self._line_no + 1}: a line of more than "
                                f"{memory.format_bytes(limit)} of text; expected rows of values")
            self.chars += len(line)
            yield line

    def chunks(self, size: int | None = None):
        """Lists of up to `size` rows (lists of cells; `CHUNK_ROWS` by default)."""
        size = size or CHUNK_ROWS
        path, display = self.path, self.display
        starts, offsets = self._starts, self._offsets
        reader = None
        self._line_no = 0
        try:
            with files._open_text(path) as handle:
                reader = csv.reader(self._lines(handle), delimiter=self.delimiter)
                previous, offset, chunk, r = 0, None, [], 0
                for row in reader:
                    if row and (len(row) > 1 or row[0].strip()):
                        if previous + 1 - r != offset:
                            offset = previous + 1 - r
                            starts.append(r)
                            offsets.append(offset)
                        r += 1
                        chunk.append(row)
                        if len(chunk) >= size and r > HEAD_ROWS:  # the first chunk holds the header guess's rows
                            self.count = r
                            yield chunk
                            chunk = []
                    previous = self._line_no = reader.line_num
                self.count = r
                if chunk:
                    yield chunk
        except UnicodeDecodeError as exc:
            raise DataError(f"{display}: line {first_undecodable_line(path)}: not UTF-8 text "
                            f"(byte {exc.object[exc.start:exc.start + 1]!r}); expected a text file of values") from None
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise DataError(f"{display}: not a valid gzip file ({exc})") from None
        except csv.Error as exc:
            raise DataError(f"{display}: line {reader.line_num if reader else 1}: {exc}") from None


def _grow(a: np.ndarray, rows: int) -> np.ndarray:
    """`a` with room for `rows` rows, resized in place (realloc: no copy of the data on Linux)."""
    a.resize((rows, *a.shape[1:]), refcheck=False)
    return a


class _Target:
    """One candidate target column: its values as float64, codes of its distinct texts (while
    there are at most `MAX_CODES`), and its first missing, non-numeric and non-finite cells as
    `(row, stripped text)`."""

    def __init__(self, index: int, capacity: int) -> None:
        self.index = index
        self.values = np.empty(capacity, np.float64)
        self.codes: np.ndarray | None = np.empty(capacity, np.int32)
        self.texts: dict[str, int] | None = {}       # stripped text -> code
        self._code_values: list[float] = []           # code -> float (NaN when not a number)
        self._code_flags: list[int] = []              # code -> 1 missing | 2 not a number
        self.missing: tuple[int, str] | None = None
        self.invalid: tuple[int, str] | None = None
        self.nonfinite: tuple[int, str] | None = None

    def grow(self, rows: int) -> None:
        _grow(self.values, rows)
        if self.codes is not None:
            _grow(self.codes, rows)

    @property
    def nbytes_per_row(self) -> int:
        return 8 + (4 if self.codes is not None else 0)

    @staticmethod
    def _parse(text: str) -> tuple[float, int]:
        flags = 1 if text.lower() in files.MISSING else 0
        try:
            return float(text), flags
        except ValueError:
            return _NAN, flags | 2

    def add(self, r0: int, cells: list[str]) -> None:
        """The cells (raw texts) of rows `r0, r0 + 1, ...`."""
        texts = [c.strip() for c in cells]
        n = len(texts)
        if self.texts is not None:
            table = self.texts
            before = len(table)
            codes = np.fromiter((table.setdefault(t, len(table)) for t in texts), np.int32, count=n)
            for text in itertools.islice(table, before, None):
                value, flag = self._parse(text)
                self._code_values.append(value)
                self._code_flags.append(flag)
            values = np.asarray(self._code_values)[codes]
            flags = np.asarray(self._code_flags, np.int8)[codes]
            self.codes[r0:r0 + n] = codes
            if len(table) > MAX_CODES:  # a numeric column of distinct values: keep the numbers only
                self.texts, self.codes, self._code_values, self._code_flags = None, None, [], []
        else:
            try:
                values = np.fromiter(map(float, texts), np.float64, count=n)
                flags = np.zeros(n, np.int8)
                for i in np.flatnonzero(~np.isfinite(values)).tolist():
                    flags[i] = self._parse(texts[i])[1]
            except ValueError:
                parsed = [self._parse(t) for t in texts]
                values = np.fromiter((v for v, _ in parsed), np.float64, count=n)
                flags = np.fromiter((f for _, f in parsed), np.int8, count=n)
        self.values[r0:r0 + n] = values
        if flags.any() or not np.isfinite(values).all():
            with np.errstate(invalid="ignore"):
                kinds = (("missing", (flags & 1) > 0), ("invalid", (flags & 2) > 0),
                         ("nonfinite", ((flags & 2) == 0) & ~np.isfinite(values)))
            for attr, mask in kinds:
                if getattr(self, attr) is None and mask.any():
                    i = int(np.argmax(mask))
                    setattr(self, attr, (r0 + i, texts[i]))

    def put(self, r: int, cell: str) -> None:
        """The cell of row `r` alone, ahead of every row added (the first line, once it is data)."""
        text = cell.strip()
        value, flag = self._parse(text)
        self.values[r] = value
        if self.texts is not None:
            code = self.texts.setdefault(text, len(self.texts))
            if code == len(self._code_values):
                self._code_values.append(value)
                self._code_flags.append(flag)
            self.codes[r] = code
        for attr, hit in (("missing", flag & 1), ("invalid", flag & 2),
                          ("nonfinite", not flag & 2 and not math.isfinite(value))):
            if hit:
                setattr(self, attr, (r, text))


class _Features:
    """First bad cells of the columns parsed into the float32 buffer, per column:
    `invalid[j]` (float() failed somewhere), `bad[j]` (first cell that is not a number: missing
    or invalid) and `nonfinite[j]` (first NaN, infinite or out-of-float32-range value)."""

    def __init__(self, width: int) -> None:
        self.invalid = [False] * width
        self.bad: list[tuple[int, str] | None] = [None] * width
        self.nonfinite: list[tuple[int, str] | None] = [None] * width

    def note(self, j: int, r: int, cell: str, value: float, invalid: bool) -> None:
        """Note cell `j` of row `r` (rows of one chunk may come out of order)."""
        if invalid:
            self.invalid[j] = True
        bad = self.bad[j]
        if (bad is None or r < bad[0]) and (invalid or cell.strip().lower() in files.MISSING):
            self.bad[j] = (r, cell)
        found = self.nonfinite[j]
        if (found is None or r < found[0]) and not invalid:
            with np.errstate(over="ignore"):
                if not np.isfinite(np.float32(value)):
                    self.nonfinite[j] = (r, cell)


def _parse_cell(cell: str) -> tuple[float, bool]:
    try:
        return float(cell), False
    except ValueError:
        return _NAN, True


def _parse_block(rows: list[list[str]], columns: list[int], out: np.ndarray, r0: int, feats: _Features,
                 at: list[int] | None = None) -> None:
    """Cells `columns` of `rows` as float32 into `out` `(len(rows), len(columns))`, noting bad cells.

    `rows[i]` is row `r0 + i`, or row `at[i]` when given (increasing)."""
    n, k = len(rows), len(columns)
    if k == 0 or n == 0:
        return
    where = at if at is not None else range(r0, r0 + n)
    get = operator.itemgetter(*columns)
    cells = map(get, rows) if k > 1 else ((get(row),) for row in rows)
    try:
        with np.errstate(over="ignore"):
            out[...] = np.fromiter(map(float, itertools.chain.from_iterable(cells)), np.float32,
                                   count=n * k).reshape(n, k)
    except ValueError:
        block = np.empty((n, k), np.float64)
        for i, row in enumerate(rows):
            for c, j in enumerate(columns):
                value, invalid = _parse_cell(row[j])
                block[i, c] = value
                if invalid:
                    feats.note(j, where[i], row[j], value, True)
        with np.errstate(over="ignore", invalid="ignore"):
            out[...] = block
    finite = np.isfinite(out)
    if finite.all():
        return
    for c in np.flatnonzero(~finite.all(axis=0)).tolist():
        j = columns[c]
        for i in np.flatnonzero(~finite[:, c]).tolist():
            bad, found = feats.bad[j], feats.nonfinite[j]
            if bad is not None and found is not None and bad[0] <= where[i] and found[0] <= where[i]:
                break  # both already point at this row or earlier
            value, invalid = _parse_cell(rows[i][j])
            if not invalid:  # invalid cells were noted while parsing
                feats.note(j, where[i], rows[i][j], value, False)


class _Buffer:
    """The float32 rows `(capacity, width)` and the target columns, grown together in place."""

    def __init__(self, capacity: int, width: int, candidates, budget: memory.Budget, display: str) -> None:
        self.x = np.empty((capacity, width), np.float32)  # untouched pages cost nothing until written
        self.targets = {t: _Target(t, capacity) for t in candidates}
        self.budget, self.display = budget, display

    @staticmethod
    def row_bytes(width: int, candidates: int) -> int:
        """Bytes a row takes: float32 cells, and float64 values plus int32 codes per target column."""
        return width * 4 + candidates * 12

    def nbytes(self, capacity: int) -> int:
        return capacity * (self.x.shape[1] * 4 + sum(t.nbytes_per_row for t in self.targets.values()))

    def reserve(self, rows: int, stream: _Rows) -> None:
        if rows <= len(self.x):
            return
        capacity = max(rows, int(len(self.x) * 1.25) + CHUNK_ROWS)
        if not self.budget.allows(self.nbytes(capacity)):
            raise DataError(f"{self.display}: line {stream.line(rows - 1)}: the {stream.count:,} rows read so far "
                            f"already need about {memory.format_bytes(self.nbytes(rows))} and the file goes on "
                            f"({self.budget.describe()}); use a smaller file")
        _grow(self.x, capacity)
        for acc in self.targets.values():
            acc.grow(capacity)


def _compact(x: np.ndarray, start: int, count: int, columns: list[int]) -> np.ndarray:
    """Rows `start:start + count`, `columns` of `x`, moved to the front of its own memory as a
    contiguous `(count, len(columns))` array, the rest given back (no second copy of the data)."""
    k = len(columns)
    flat = x.reshape(-1)
    step = max(1, (1 << 22) // max(1, x.shape[1]))
    for a in range(0, count, step):
        b = min(count, a + step)
        block = x[start + a:start + b][:, columns]  # a copy: the writes below never reach later rows
        flat[a * k:b * k] = block.reshape(-1)
    del flat, block
    x.resize((count, k), refcheck=False)
    return x


def _raise_bad_cell(states: dict, where, hint: bool) -> None:
    """Raise the `DataError` of the first bad feature cell, as the whole-table parse found it:
    with a cell that is no number anywhere, the first (in reading order) that is missing or no
    number; else the first NaN, infinite or out-of-float32-range one.

    Args:
        states: Feature column -> (invalid anywhere, first bad cell, first non-finite cell), the
            cells as `(row, raw text)`.
        where: `where(row, column)` -> "data.csv: line 3, column "b"".
        hint: Add "if line 1 is a header, pass header=True" to a bad cell on row 0.
    """
    if any(s[0] for s in states.values()):
        r, j = min((s[1][0], j) for j, s in states.items() if s[1] is not None)
        cell = states[j][1][1]
        more = "; if line 1 is a header, pass header=True" if r == 0 and hint else ""
        raise DataError(f"{where(r, j)}: expected a number, got {files._got(cell)}{more}")
    found = [(s[2][0], j) for j, s in states.items() if s[2] is not None]
    if found:
        r, j = min(found)
        cell = states[j][2][1]
        if math.isfinite(float(cell)):
            raise DataError(f"{where(r, j)}: expected a number within float32 range, got {files._quote(cell.strip())}")
        what = "a number" if cell.strip().lower() in files.MISSING else "a finite number"
        raise DataError(f"{where(r, j)}: expected {what}, got {files._got(cell)}")


def load_csv(path: Path, *, target, header, delimiter: str, task: str):
    """`files.load_csv` on a checked path and checked arguments; see there."""
    from tuinet.data.dataset import Dataset

    display = files.display_path(path)
    budget, text_bytes, stream, chunks, first_chunk = _open_rows(path, display, delimiter)

    # -- the first line and the header, as far as the first rows can tell ------------------------
    row0 = first_chunk[0]
    w0 = len(row0)
    head = first_chunk[:HEAD_ROWS]
    trim = w0 > 1 and _trailing_blank(head, w0)  # may change later

    def header_of(rows) -> bool:
        return files._detect_header(rows) if header == "auto" else bool(header)

    def names_of(cells):
        return [safe_text(c.strip(), limit=None) or f"column {j + 1}" for j, c in enumerate(cells)]

    header_full = header_of(head)
    names_full = names_of(row0) if header_full else None
    header_trim = header_of([row[:-1] for row in head]) if trim else False
    names_trim = names_of(row0[:-1]) if trim and header_trim else None

    def resolve(names, width):
        try:
            return files._resolve_target(target, names, width, display), None
        except DataError as exc:
            return None, exc

    t_full, error_full = resolve(names_full, w0)
    t_trim, error_trim = resolve(names_trim, w0 - 1) if trim else (None, None)
    candidates = sorted({t for t in (t_full, t_trim) if t is not None})

    # -- the buffers, sized from the first chunk -------------------------------------------------
    estimated = max(len(first_chunk), int(text_bytes * len(first_chunk) / max(1, stream.chars) * 1.02) + 16)
    need = estimated * _Buffer.row_bytes(w0, len(candidates))
    if not budget.allows(need):
        declared = " (as its gzip trailer says)" if path.name.lower().endswith(".gz") else ""
        raise DataError(f"{display}: {memory.format_bytes(text_bytes)} of text{declared}, about {estimated:,} "
                        f"rows of {w0} values, need about {memory.format_bytes(need)} ({budget.describe()}); "
                        f"use a smaller file")
    buffer = _Buffer(estimated, w0, candidates, budget, display)
    feats = _Features(w0)
    state = {"last_blank": trim, "columns": None}

    def columns_now() -> list[int]:
        return [j for j in range(w0) if j not in buffer.targets and not (state["last_blank"] and j == w0 - 1)]

    state["columns"] = columns_now()

    def take(rows: list[list[str]], r0: int) -> None:
        """Rows `r0, r0 + 1, ...` (never row 0) into the buffers."""
        for i, row in enumerate(rows):
            if len(row) != w0:  # a ragged row: the file has no trailing delimiter to drop, so...
                names = names_full
                source = "the header" if header_full else f"line {stream.line(0)}"
                line = stream.line(r0 + i)
                if len(row) < w0:
                    col = f'column "{names[len(row)]}"' if names is not None else f"column {len(row) + 1}"
                    raise DataError(f"{display}: line {line}, {col}: missing; expected {w0} cells as on {source}, "
                                    f"got {len(row)}")
                raise DataError(f"{display}: line {line}: expected {w0} cells as on {source}, got {len(row)}")
        if state["last_blank"]:
            k = next((i for i, row in enumerate(rows) if row[-1].strip()), None)
            if k is not None:  # a last cell with text: the trailing "delimiter" was a column after all
                take(rows[:k], r0)
                state["last_blank"] = False
                state["columns"] = columns_now()
                j = w0 - 1
                if j not in buffer.targets and r0 + k > 1:
                    buffer.x[1:r0 + k, j] = np.nan
                    feats.note(j, 1, state["row1_last"], _NAN, True)
                take(rows[k:], r0 + k)
                return
            if "row1_last" not in state and rows:
                state["row1_last"] = rows[0][-1]
        n = len(rows)
        if not n:
            return
        buffer.reserve(r0 + n, stream)
        columns = state["columns"]
        dest = buffer.x[r0:r0 + n]
        if columns == list(range(len(columns))):
            _parse_block(rows, columns, dest[:, :len(columns)], r0, feats)
        else:
            block = np.empty((n, len(columns)), np.float32)
            _parse_block(rows, columns, block, r0, feats)
            dest[:, columns] = block
        for t, acc in buffer.targets.items():
            acc.add(r0, [row[t] for row in rows])

    take(first_chunk[1:], 1)
    for chunk in chunks:
        take(chunk, stream.count - len(chunk))
    total = stream.count
    trim = state["last_blank"]

    # -- settle the first line, the target and the features --------------------------------------
    has_header = header_trim if trim else header_full
    names = names_trim if trim else names_full
    width = w0 - 1 if trim else w0
    first = 1 if has_header else 0
    n = total - first
    if n == 0:
        raise DataError(f"{display}: line 1 is a header and no data rows follow; expected rows of values")

    def column(j: int) -> str:
        return f'column "{names[j]}"' if names is not None else f"column {j + 1}"

    def where(r: int, j: int) -> str:
        return f"{display}: line {stream.line(r)}, {column(j)}"

    t, problem = (t_trim, error_trim) if trim else (t_full, error_full)
    if problem is not None:
        raise problem
    features = [j for j in range(width) if j != t]
    if not features:
        raise DataError(f"{display}: line {stream.line(first)}: only the target {column(t)} is there; "
                        f"expected at least one feature column besides it")
    acc = buffer.targets[t]
    cells0 = row0[:width]
    if not has_header:  # the first line is data: its cells come first in reading order
        for j in features:
            if j in buffer.targets:
                buffer.targets[j].put(0, cells0[j])
                continue
            value, invalid = _parse_cell(cells0[j])
            with np.errstate(over="ignore"):
                buffer.x[0, j] = value
            if invalid:
                feats.invalid[j] = True
            if invalid or cells0[j].strip().lower() in files.MISSING:
                feats.bad[j] = (0, cells0[j])
            if not invalid and not np.isfinite(buffer.x[0, j]):
                feats.nonfinite[j] = (0, cells0[j])
        acc.put(0, cells0[t])

    def feature_state(j: int):
        """(invalid anywhere, first bad cell, first non-finite cell) of feature column `j`."""
        if j in buffer.targets:  # a candidate target that turned out a feature
            other = buffer.targets[j]
            bads = [c for c in (other.missing, other.invalid) if c is not None and c[0] >= first]
            nonfinite = _first_nonfinite32(other, first, total, stream)
            return other.invalid is not None and other.invalid[0] >= first, min(bads, default=None), nonfinite
        return feats.invalid[j], feats.bad[j], feats.nonfinite[j]

    states = {j: feature_state(j) for j in features}
    _raise_bad_cell(states, where, hint=header == "auto" and not has_header)

    # -- the target ----------------------------------------------------------------------------
    if acc.missing is not None:
        raise DataError(f"{where(acc.missing[0], t)}: expected a target value, got {files._got(acc.missing[1])}")
    texts = _Texts(acc, first, stream)
    if acc.invalid is None:
        numeric = acc.values[first:total]
        if acc.nonfinite is not None:
            raise DataError(f"{where(acc.nonfinite[0], t)}: expected a finite target value, "
                            f"got {files._got(acc.nonfinite[1])}")
        y, task, class_names = files._encode_target(numeric, texts, task, lambda i: where(first + i, t))
    elif task == "regression":
        r, cell = acc.invalid
        raise DataError(f"{where(r, t)}: expected a number (task is regression), got {files._got(cell)}")
    else:
        codes, table = texts.codes()
        names_sorted = sorted(table)  # np.unique's order: by code point
        rank = np.empty(len(table), np.int64)
        rank[[table[name] for name in names_sorted]] = np.arange(len(names_sorted))
        y, task = rank[codes], "classification"
        class_names = [safe_text(v, limit=None) for v in names_sorted]
    del acc, texts

    for j in features:
        if j in buffer.targets:  # a candidate target that turned out a feature: its numbers, as float32
            buffer.x[first:total, j] = buffer.targets[j].values[first:total]
    buffer.targets.clear()
    x = _compact(buffer.x, first, n, features)
    buffer.x = None
    feature_names = [names[j] for j in features] if names is not None else [f"column {j + 1}" for j in features]
    target_name = names[t] if names is not None else f"column {t + 1}"
    return Dataset(name=files._stem(path), x=x, y=y, task=task, feature_names=feature_names,
                   class_names=class_names,
                   description=(f"{display}: {n} rows, {len(features)} features, target {target_name!r} ({task})"),
                   source=str(path))


def _first_nonfinite32(acc: _Target, first: int, total: int, stream: _Rows) -> tuple[int, str] | None:
    """The first value of a candidate target column that float32 cannot hold (it is a feature)."""
    with np.errstate(over="ignore"):
        bad = ~np.isfinite(acc.values[first:total].astype(np.float32))
    if not bad.any():
        return None
    r = first + int(np.argmax(bad))
    return r, _Texts(acc, 0, stream).raw(r)


class _Texts:
    """The (stripped) texts of the target column by data row, for messages and class names:
    decoded from the codes, or read again from the file when the column had too many distinct
    texts to keep codes."""

    def __init__(self, acc: _Target, first: int, stream: _Rows) -> None:
        self.acc, self.first, self.stream, self.index = acc, first, stream, acc.index

    def raw(self, r: int) -> str:
        acc = self.acc
        if acc.codes is not None:
            if not hasattr(self, "_names"):
                self._names = list(acc.texts)
            return self._names[int(acc.codes[r])]
        for found_r, cell in self._cells():
            if found_r == r:
                return cell.strip()
        raise IndexError(r)  # pragma: no cover

    def __getitem__(self, i: int) -> str:
        return self.raw(self.first + int(i))

    def _cells(self):
        stream = _Rows(self.stream.path, self.stream.display, self.stream.delimiter, self.stream.max_line)
        r = 0
        for chunk in stream.chunks():
            for row in chunk:
                yield r, row[self.index]
                r += 1

    def codes(self) -> tuple[np.ndarray, dict[str, int]]:
        """Codes of the data rows and the text -> code table (read again when not kept)."""
        acc = self.acc
        if acc.codes is not None:
            return acc.codes[self.first:self.stream.count], acc.texts
        table: dict[str, int] = {}
        codes = np.empty(self.stream.count - self.first, np.int64)
        for r, cell in self._cells():
            if r >= self.first:
                codes[r - self.first] = table.setdefault(cell.strip(), len(table))
        return codes, table


# ----------------------------------------------------------------------------- features only


@dataclass
class Features:
    """What `load_features` read.

    Attributes:
        x: The feature columns as float32 `(rows, columns)`; None when a row has the wrong width.
        names: The header's column names (control characters escaped), or None without a header.
        display: How messages name the file.
        mismatch: `(line, cells)` of the first data row that does not hold the cells asked for
            (after a trailing delimiter on every line is dropped), or None.
    """

    x: np.ndarray | None
    names: list[str] | None
    display: str
    mismatch: tuple[int, int] | None = None


class _Restart(Exception):
    """Every line of the first chunk ended in an empty cell (a trailing delimiter to drop), a later
    one did not: the file is read again as it is."""


def load_features(path, *, features: int, target: int | str | None = None, delimiter: str = ",") -> Features:
    """The feature columns of a CSV file of inputs (`tuinet predict`), parsed in chunks straight
    into float32 in bounded memory, checked under the same memory budget as `load_csv`.

    The header is guessed as `load_csv` guesses it (`header="auto"`) and a trailing delimiter on
    every line is dropped. Each data row should hold `features` cells, plus the target column when
    `target` (a name, or an index, negative from the end) names one to leave out; the columns kept
    are those of the first line (the header's, when there is one) that every row has.

    The result and each message are what reading the whole table into lists of strings and
    converting it afterwards gave (`tests/data/csv_reference.py`): the file's own problems (not
    UTF-8, malformed, empty, a header without rows), then the target column, then the first bad
    feature cell in reading order (text, missing, NaN, infinite, beyond float32); only then a row of
    the wrong width, which is returned (`Features.mismatch`) for the caller to word.

    Raises:
        DataError: naming the file, and the line and column of a bad cell.
        ConfigError: for a bad `delimiter` or `target`.
    """
    path = Path(path)
    display = files.display_path(path)
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ConfigError(f"delimiter: expected one character, got {delimiter!r}")
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, np.integer, str))):
        raise ConfigError(f"target: expected a column name or index, got {target!r}")
    files._check_exists(path, display)
    try:
        return _load_features(path, display, features, target, delimiter, trim=None)
    except _Restart:
        pass  # out of the handler first: the first read's buffer goes with its traceback
    return _load_features(path, display, features, target, delimiter, trim=False)


def _open_rows(path: Path, display: str, delimiter: str):
    """(budget, text size, row stream, its chunk iterator, the first chunk) of a CSV file;
    `DataError` when it has no rows."""
    budget = memory.budget()
    text_bytes = text_size(path)
    stream = _Rows(path, display, delimiter, max_line=max(1 << 20, budget.limit // 32))
    chunks = stream.chunks()
    first = next(chunks, None)
    if not first:
        raise DataError(f"{display}: the file is empty; expected rows of values separated by {delimiter!r}")
    return budget, text_bytes, stream, chunks, first


def _trailing_blank(rows: list[list[str]], w0: int) -> bool:
    return all(len(row) == w0 and not row[-1].strip() for row in rows)


def _load_features(path: Path, display: str, features: int, target, delimiter: str, trim: bool | None) -> Features:
    budget, text_bytes, stream, chunks, chunk = _open_rows(path, display, delimiter)

    # -- the first line, the header and the columns: settled by the first chunk, unless every line
    #    of it ends in an empty cell and a later line does not (then `_Restart`)
    row0 = chunk[0]
    w0 = len(row0)
    watch = trim is None and w0 > 1 and _trailing_blank(chunk, w0)  # a trailing delimiter so far
    trim = watch
    cut = 1 if trim else 0
    head = chunk[:HEAD_ROWS]
    has_header = files._detect_header([row[:-1] for row in head] if trim else head)
    width = w0 - cut
    names = ([safe_text(c.strip(), limit=None) or f"column {j + 1}" for j, c in enumerate(row0[:width])]
             if has_header else None)
    t, problem = None, None
    if target is not None:
        try:
            t = files._resolve_target(target, names, width, display)
        except DataError as exc:  # raised once the whole file has been read, as before
            problem = exc
    size = features + (0 if target is None else 1)   # the cells a row should hold
    columns = [j for j in range(width) if j != t]   # the feature columns, of those every row has
    kept = [j for j in columns if j < size]         # ... when every row holds `size` cells
    first = 1 if has_header else 0

    estimated = max(len(chunk), int(text_bytes * len(chunk) / max(1, stream.chars) * 1.02) + 16)
    need = estimated * _Buffer.row_bytes(len(kept), 0)
    if problem is None and not budget.allows(need):
        declared = " (as its gzip trailer says)" if path.name.lower().endswith(".gz") else ""
        raise DataError(f"{display}: {memory.format_bytes(text_bytes)} of text{declared}, about {estimated:,} "
                        f"rows of {len(kept)} values, need about {memory.format_bytes(need)} "
                        f"({budget.describe()}); use a smaller file")
    buffer = _Buffer(estimated if problem is None else 0, len(kept), [], budget, display)  # by row, the header's too
    feats = _Features(width)
    # the fewest cells a data row holds; the first row of another width; whether the file is refused
    # already (a row of another width, or a cell that is no number in a kept column: the buffer is
    # no longer filled and the rows are only checked)
    state = {"shortest": None, "mismatch": None, "refused": False}

    def take(rows: list[list[str]], r0: int) -> None:
        """Rows `r0, r0 + 1, ...` (data rows) into the buffer, or once the file is refused, only checked."""
        n = len(rows)
        if not n:
            return
        if state["mismatch"] is None and all(len(row) - cut == size for row in rows):
            state["shortest"] = size
            if not state["refused"]:
                buffer.reserve(r0 + n, stream)
                _parse_block(rows, kept, buffer.x[r0:r0 + n], r0, feats)
                state["refused"] = any(feats.invalid[j] for j in kept)
                return
            widths = {size: list(range(n))}
        else:
            widths = {}
            for i, row in enumerate(rows):
                widths.setdefault(len(row) - cut, []).append(i)
            if state["mismatch"] is None:
                i = next(i for i, row in enumerate(rows) if len(row) - cut != size)
                state["mismatch"] = (r0 + i, len(rows[i]) - cut)
                state["refused"] = True
            state["shortest"] = min(widths) if state["shortest"] is None else min(state["shortest"], min(widths))
        # A column with a cell that is no number (in an earlier chunk) has its first bad cell: its
        # later cells change no message (`_raise_bad_cell` reports the first bad cell then).
        done = [feats.invalid[j] for j in range(width)]
        for cells, index in widths.items():
            present = [j for j in columns if j < cells and not done[j]]
            group, at = (rows, None) if len(index) == n else ([rows[i] for i in index], [r0 + i for i in index])
            _parse_block(group, present, np.empty((len(group), len(present)), np.float32), r0, feats, at=at)

    if problem is None:
        take(chunk[first:], first)
    for chunk in chunks:
        if watch and not _trailing_blank(chunk, w0):
            chunks.close()
            raise _Restart
        if problem is None:
            take(chunk, stream.count - len(chunk))
    total = stream.count
    if total == first:
        raise DataError(f"{display}: line 1 is a header and no data rows follow; expected rows of values")
    if problem is not None:
        raise problem

    def where(r: int, j: int) -> str:
        column = f'column "{names[j]}"' if names is not None else f"column {j + 1}"
        return f"{display}: line {stream.line(r)}, {column}"

    parsed = [j for j in columns if j < state["shortest"]]
    _raise_bad_cell({j: (feats.invalid[j], feats.bad[j], feats.nonfinite[j]) for j in parsed}, where,
                    hint=not has_header)
    if state["mismatch"] is not None:
        r, cells = state["mismatch"]
        buffer.x = None
        return Features(x=None, names=names, display=display, mismatch=(stream.line(r), cells))
    n = total - first
    x = _compact(buffer.x, first, n, list(range(len(kept)))) if first else _grow(buffer.x, n)
    buffer.x = None
    return Features(x=x, names=names, display=display)

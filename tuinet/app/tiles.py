"""Layer parameters as tiles, and where the tiles go in a pane (NumPy only, no Textual).

The weight heatmap draws a `TileSet`: a grid of equal 2-D tiles cut from one parameter.

- `kernel_tiles(w, name)` cuts any parameter the way a person reads it: a Conv2D kernel
  `(kh, kw, cin, cout)` is one `kh x kw` tile per (input channel, filter) pair, a Conv1D kernel
  one `k x cin` tile per filter, an LSTM / GRU kernel one tile per gate (i f c o / z r h), a
  Dense kernel or anything else a single tile (a matrix).
- `fit_tiles(...)` lays the tiles out in a pane of `width` columns by `lines` lines. A pixel
  is half a line tall and one column wide (the heatmap draws with half blocks), so it is
  about square; each value gets `scale x scale` pixels, the largest integer scale at which
  the whole picture fits (`MAX_SCALE` at most). A single row of tiles (16 filters of one
  channel, 4 gates) is wrapped into the grid shape that allows the largest scale (16 filters
  as 4x4 tiles in a wide pane), with a label over each tile when that costs at most a quarter
  of the scale; a grid of channels x filters keeps its rows and columns (or swaps them,
  whichever fits larger), with channel labels to the left and filter labels on top. Tiles are
  one pixel apart. Only when even one pixel per value does not fit are values averaged, in
  blocks that stay inside their tile. A channels x filters grid that does not fit at one
  pixel per value is shown one input channel at a time instead (`channel`).
- `compose_tiles(...)` builds the picture: an array of colour codes per pixel, vectorised.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = [
    "ALL_CHANNELS",
    "MAX_SCALE",
    "TileLayout",
    "TileSet",
    "block_means",
    "compose_tiles",
    "fit_tiles",
    "kernel_tiles",
]

MAX_SCALE = 16
"""The largest magnification: pixels per value along each axis."""
ALL_CHANNELS = -1
"""`fit_tiles(channel=ALL_CHANNELS)`: every row of tiles at once, averaged within tiles if need be."""
LABEL_COST = 0.75
"""Labels over tiles are drawn when the scale with them is at least this share of the scale without."""

_GATES = {"lstm": "ifco", "gru": "zrh"}  # Keras gate order in the kernel's columns
_TYPES = {  # normalised layer class or default-name stem -> canonical kind
    "dense": "dense", "conv1d": "conv1d", "conv2d": "conv2d", "lstm": "lstm", "gru": "gru",
    "simplernn": "simple_rnn", "embedding": "embedding", "batchnormalization": "batch_normalization",
    "layernormalization": "layer_normalization",
}
_TYPE_NAMES = {
    "dense": "Dense", "conv1d": "Conv1D", "conv2d": "Conv2D", "lstm": "LSTM", "gru": "GRU",
    "simple_rnn": "SimpleRNN", "embedding": "Embedding", "batch_normalization": "BatchNormalization",
    "layer_normalization": "LayerNormalization",
}


# ---------------------------------------------------------------------- tile sets
@dataclass(frozen=True, eq=False)
class TileSet:
    """A parameter cut into a grid of equal tiles.

    Attributes:
        values: `(rows, cols, th, tw)` floats: tile (r, c) is `values[r, c]`.
        index: The same shape, ints: the flat index of each value in the parameter.
        shape: The parameter's shape.
        note: One line about the axes.
        row_name: What a row of tiles is ("input channel"); "" for a single row.
        col_name: What a tile in a row is ("filter", "gate"); "" for a single tile.
        row_labels: Short labels of the rows of tiles ("c0", "c1", ...).
        col_labels: Short labels of the tiles in a row ("f0", ... or "i", "f", "c", "o").
    """

    values: np.ndarray
    index: np.ndarray
    shape: tuple[int, ...]
    note: str = ""
    row_name: str = ""
    col_name: str = ""
    row_labels: tuple[str, ...] = ()
    col_labels: tuple[str, ...] = ()

    @classmethod
    def single(cls, matrix, *, shape: tuple[int, ...] | None = None, note: str = "") -> TileSet:
        """One tile: a 2-D matrix as it is (1-D: one row; more axes: `(-1, last)`)."""
        m = np.asarray(matrix, dtype=float)
        m = m.reshape(1, -1) if m.ndim < 2 else m.reshape(-1, m.shape[-1]) if m.ndim > 2 else m
        index = np.arange(m.size).reshape(m.shape)
        return cls(m[None, None], index[None, None], tuple(shape) if shape is not None else m.shape, note)

    @property
    def rows(self) -> int:
        return self.values.shape[0]

    @property
    def cols(self) -> int:
        return self.values.shape[1]

    @property
    def tile_shape(self) -> tuple[int, int]:
        return self.values.shape[2], self.values.shape[3]

    @property
    def grid_shape(self) -> tuple[int, int, int, int]:
        """`(rows, cols, th, tw)`: what a layout depends on."""
        return self.values.shape  # type: ignore[return-value]

    def position(self, r: int, c: int, i: int, j: int) -> tuple[int, ...]:
        """The index in the parameter of value (i, j) of tile (r, c)."""
        flat = int(self.index[r, c, i, j])
        return tuple(int(k) for k in np.unravel_index(flat, self.shape)) if self.shape else ()

    def tile_name(self, r: int, c: int) -> str:
        """"filter 3, input channel 2", "gate f", or "" for a single tile."""
        parts = []
        if self.col_name and self.cols > 1:
            label = self.col_labels[c] if self.col_name == "gate" else str(c)
            parts.append(f"{self.col_name} {label}")
        if self.row_name and self.rows > 1:
            parts.append(f"{self.row_name} {r}")
        return ", ".join(parts)

    def same_as(self, other: TileSet | None) -> bool:
        """Equal values (NaN equal to NaN), layout and labels."""
        return (other is not None and self.values.shape == other.values.shape and self.shape == other.shape
                and (self.note, self.row_name, self.col_name, self.row_labels, self.col_labels)
                == (other.note, other.row_name, other.col_name, other.row_labels, other.col_labels)
                and np.array_equal(self.index, other.index)
                and np.array_equal(self.values, other.values, equal_nan=True))


def _layer_kind(name: str, layer_type: str | None) -> str | None:
    """The canonical layer kind from a class name, or from a default layer name ("lstm_2/kernel")."""
    if layer_type:
        return _TYPES.get(re.sub(r"[^a-z0-9]", "", layer_type.lower()))
    layer = name.rsplit("/", 1)[0] if "/" in name else ""
    stem = re.sub(r"_\d+$", "", layer.lower())
    return _TYPES.get(re.sub(r"[^a-z0-9]", "", stem))


def _tiles(values: np.ndarray, index: np.ndarray, shape: tuple[int, ...], note: str, *, row_name: str = "",
           col_name: str = "", row_labels=(), col_labels=()) -> TileSet:
    return TileSet(np.ascontiguousarray(values, dtype=float), np.ascontiguousarray(index), shape, note,
                   row_name, col_name, tuple(row_labels), tuple(col_labels))


def kernel_tiles(w, name: str, *, layer_type: str | None = None) -> TileSet:
    """A layer parameter as tiles for a heatmap, with a line describing the axes.

    `name` is the snapshot key ("conv2d_1/kernel"); the layer kind comes from `layer_type`
    (a class name such as "LSTM") or else from a default layer name ("lstm", "gru_2", ...).

    - Conv2D kernel `(kh, kw, cin, cout)`: a `cin x cout` grid of `kh x kw` tiles (rows:
      input channels, columns: filters). A 1x1 kernel: the `(cin, cout)` matrix.
    - Conv1D kernel `(k, cin, cout)`: one `k x cin` tile (taps x input channels) per filter.
      Kernel size 1: the `(cin, cout)` matrix.
    - LSTM / GRU kernel `(in, g*units)`, recurrent kernel `(units, g*units)` and bias: one
      tile per gate (LSTM i f c o, GRU z r h), `(rows, units)` each.
    - Dense kernel `(in, out)`, Embedding `(vocab, dim)`, any other matrix: one tile.
      Vectors: one row. More axes: `(prod(leading axes), last axis)`.
    """
    a = np.asarray(w, dtype=float)
    shape = tuple(int(n) for n in a.shape)
    kind = _layer_kind(name, layer_type)
    param = name.rsplit("/", 1)[-1]
    label = _TYPE_NAMES.get(kind or "", "")
    prefix = f"{label} {param}: " if label else ""
    index = np.arange(a.size).reshape(shape)

    if a.ndim == 0:
        return TileSet.single(a, shape=shape, note=f"{prefix}a scalar")

    gates = _GATES.get(kind or "")
    if gates and param in ("kernel", "recurrent_kernel", "bias"):
        g = len(gates)
        m = a.reshape(1, -1) if a.ndim == 1 else a.reshape(-1, shape[-1])
        im = index.reshape(m.shape)
        if m.shape[1] % g == 0 and m.shape[1] > 0:
            units = m.shape[1] // g
            rows = m.shape[0]
            split = m.reshape(rows, g, units).transpose(1, 0, 2)[None]
            split_index = im.reshape(rows, g, units).transpose(1, 0, 2)[None]
            names = " ".join(gates)
            if param == "bias":
                what = "; rows: input bias, recurrent bias" if rows == 2 and kind == "gru" else ""
                note = f"{prefix}one tile per gate ({names}), {units} units each{what}"
            else:
                what = "inputs" if param == "kernel" else "units (previous state)"
                note = f"{prefix}one tile per gate ({names}); rows: {rows} {what}, columns: {units} units"
            return _tiles(split, split_index, shape, note, col_name="gate", col_labels=tuple(gates))

    if a.ndim == 1:
        return TileSet.single(a, shape=shape, note=f"{prefix}one row of {shape[0]} values")

    if a.ndim == 2:
        rows, cols = shape
        if kind == "embedding":
            note = f"{prefix}rows: {rows} tokens, columns: {cols} dimensions"
        elif param in ("kernel", "recurrent_kernel"):
            what = "units (previous state)" if param == "recurrent_kernel" else "inputs"
            note = f"{prefix}rows: {rows} {what}, columns: {cols} units"
        else:
            note = f"{prefix}{rows} rows x {cols} columns"
        return TileSet.single(a, shape=shape, note=note)

    if a.ndim == 3:
        k, cin, cout = shape
        label = label or "Conv1D"
        if k == 1:
            return _tiles(a.reshape(cin, cout)[None, None], index.reshape(cin, cout)[None, None], shape,
                          f"{label} {param}: size 1; rows: {cin} input channels, columns: {cout} filters")
        return _tiles(a.transpose(2, 0, 1)[None], index.transpose(2, 0, 1)[None], shape,
                      f"{label} {param}: one {k}x{cin} tile (taps x input channels) per filter, {cout} filters",
                      col_name="filter", col_labels=[f"f{f}" for f in range(cout)])

    if a.ndim == 4:
        kh, kw, cin, cout = shape
        label = label or "Conv2D"
        if kh * kw == 1:
            return _tiles(a.reshape(cin, cout)[None, None], index.reshape(cin, cout)[None, None], shape,
                          f"{label} {param}: 1x1; rows: {cin} input channels, columns: {cout} filters")
        return _tiles(a.transpose(2, 3, 0, 1), index.transpose(2, 3, 0, 1), shape,
                      f"{label} {param}: {kh}x{kw} tiles, {cin} input channel{'s' * (cin != 1)} x {cout} filters",
                      row_name="input channel", col_name="filter",
                      row_labels=[f"c{c}" for c in range(cin)], col_labels=[f"f{f}" for f in range(cout)])

    flat = a.reshape(-1, shape[-1])
    return _tiles(flat[None, None], index.reshape(flat.shape)[None, None], shape,
                  f"{prefix}{shape} as {flat.shape[0]} rows x {shape[-1]} columns")


# ---------------------------------------------------------------------- layout
class TileLayout(NamedTuple):
    """Where a `TileSet`'s tiles go: a grid of tiles on screen, in pixels (1 column x half a line).

    A tile in slot (gr, gc) of the screen grid has its top-left pixel at column
    `margin + gc * pitch` and pixel row `2 * header + gr * band + label_px`; its value block
    (bi, bj) `scale` pixels further per step.
    """

    channel: int | None
    """The row of tiles shown alone (wrapped into the grid), or None: every row (a grid of
    the TileSet's rows and columns; also a TileSet with one row)."""
    wrapped: bool
    """The tiles of one row are wrapped into `grid` (else the grid is the TileSet's own)."""
    transposed: bool
    """The screen grid's rows are the TileSet's columns (a grid that fits larger that way)."""
    grid: tuple[int, int]
    """(rows, columns) of tile slots on screen."""
    count: int
    """Tiles drawn (a wrapped grid's last row may have empty slots)."""
    steps: tuple[int, int]
    """Values averaged per drawn value, down and across, within a tile ((1, 1): every value)."""
    scale: int
    """Pixels per drawn value along each axis."""
    tile: tuple[int, int]
    """(down, across) drawn values per tile."""
    labels: str
    """"tiles": a label line over each row of tiles; "axes": row labels left, column labels on top; "": none."""
    margin: int
    """Columns left of the tiles (the row labels)."""
    header: int
    """Lines above the tiles (the column labels)."""
    band: int
    """Pixel rows from one row of tiles to the next."""
    pitch: int
    """Columns from one column of tiles to the next."""
    size: tuple[int, int]
    """(pixel rows, columns) of the whole picture, labels included."""

    @property
    def label_px(self) -> int:
        return 2 if self.labels == "tiles" else 0

    @property
    def lines(self) -> int:
        """Lines the picture takes."""
        return -(-self.size[0] // 2)

    def slot(self, r: int, c: int) -> tuple[int, int] | None:
        """The screen slot (gr, gc) of tile (r, c), or None when it is not drawn."""
        if self.wrapped:
            if self.channel is not None and r != self.channel:
                return None
            n = c
            return (n // self.grid[1], n % self.grid[1])
        return (c, r) if self.transposed else (r, c)

    def tile_at(self, gr: int, gc: int) -> tuple[int, int] | None:
        """The tile (r, c) in screen slot (gr, gc), or None for an empty slot or one off the grid."""
        if not (0 <= gr < self.grid[0] and 0 <= gc < self.grid[1]):
            return None
        if self.wrapped:
            n = gr * self.grid[1] + gc
            return None if n >= self.count else (self.channel or 0, n)
        return (gc, gr) if self.transposed else (gr, gc)

    def origin(self, gr: int, gc: int) -> tuple[int, int]:
        """(pixel row, column) of the top-left pixel of the tile in slot (gr, gc)."""
        return 2 * self.header + gr * self.band + self.label_px, self.margin + gc * self.pitch

    def locate(self, py: int, px: int) -> tuple[int, int, int, int] | None:
        """(gr, gc, bi, bj): the slot and drawn value at pixel (py, px), or None (a gap, a label)."""
        y, x = py - 2 * self.header, px - self.margin
        if y < 0 or x < 0:
            return None
        gr, gc = y // self.band, x // self.pitch
        y, x = y - gr * self.band - self.label_px, x - gc * self.pitch
        th, tw = self.tile
        if not (0 <= y < th * self.scale and 0 <= x < tw * self.scale) or self.tile_at(gr, gc) is None:
            return None
        return gr, gc, y // self.scale, x // self.scale


def _label_width(labels: tuple[str, ...] | list[str]) -> int:
    return max((len(text) for text in labels), default=0)


def _fit(count_y: int, count_x: int, th: int, tw: int, width: int, height_px: int, *, labels: str,
         margin: int = 0, header: int = 0, max_scale: int = MAX_SCALE,
         scale: int | None = None) -> tuple[tuple[int, int], int] | None:
    """((row_step, col_step), scale) for a `count_y x count_x` grid of `th x tw` tiles one pixel
    apart in `width` columns by `height_px` pixel rows: the largest scale at steps (1, 1), else
    the smallest steps at scale 1; None when not even one value per tile fits. `scale` fixes it
    (the picture may then overflow)."""
    if scale is not None:
        return (1, 1), scale
    room_x = width - margin - (count_x - 1)  # columns for the tiles themselves
    if labels == "tiles":
        room_y = 2 * (height_px // 2 // count_y - 1)  # pixel rows per tile within its band
    else:
        room_y = (height_px - 2 * header - (count_y - 1)) // count_y
    room_x //= count_x
    if room_x < 1 or room_y < 1:
        return None
    s = min(room_x // tw, room_y // th, max_scale)
    if s >= 1:
        return (1, 1), s
    return (-(-th // room_y), -(-tw // room_x)), 1


def _layout(channel: int | None, wrapped: bool, transposed: bool, grid: tuple[int, int], count: int,
            steps: tuple[int, int], scale: int, th: int, tw: int, labels: str, margin: int,
            header: int) -> TileLayout:
    rows, cols = grid
    tile = (-(-th // steps[0]), -(-tw // steps[1]))
    if labels == "tiles":
        band = 2 + 2 * (-(-tile[0] * scale // 2))
        height = rows * band
    else:
        band = tile[0] * scale + 1
        height = 2 * header + rows * band - 1
    pitch = tile[1] * scale + 1
    return TileLayout(channel, wrapped, transposed, grid, count, steps, scale, tile, labels, margin, header,
                      band, pitch, (height, margin + cols * pitch - 1))


def _density(layout: TileLayout) -> float:
    """Pixels per value, along one axis (a scale, or below 1 for averaged values)."""
    return layout.scale / math.sqrt(layout.steps[0] * layout.steps[1])


def _wrap(count: int, th: int, tw: int, width: int, lines: int, channel: int | None, labels_ok: bool,
          max_scale: int, zoom: bool) -> TileLayout | None:
    """The best grid for `count` tiles of one row, wrapped."""
    best: tuple[tuple, TileLayout] | None = None
    if zoom:  # one pixel per value: as many tiles across as fit, the rest below
        labels = "tiles" if labels_ok else ""
        cols = max(1, min(count, (width + 1) // (tw + 1)))
        return _layout(channel, True, False, (-(-count // cols), cols), count, (1, 1), 1, th, tw, labels, 0, 0)
    for labels in (("tiles", "") if labels_ok else ("",)):
        found: tuple[tuple, TileLayout] | None = None
        for cols in range(1, count + 1):
            rows = -(-count // cols)
            if cols > 1 and -(-count // (cols - 1)) == rows:
                continue  # the same rows with fewer columns: fewer empty slots
            fit = _fit(rows, cols, th, tw, width, 2 * lines, labels=labels, max_scale=max_scale)
            if fit is None:
                continue
            layout = _layout(channel, True, False, (rows, cols), count, fit[0], fit[1], th, tw, labels, 0, 0)
            # the most pixels per value, then the fewest empty slots, then the most room used
            key = (_density(layout), -(rows * cols - count), layout.size[0] * layout.size[1])
            if found is None or key > found[0]:
                found = (key, layout)
        if found is None:
            continue
        if best is None:
            best = found
        elif _density(found[1]) > _density(best[1]):
            best = found if _density(best[1]) < LABEL_COST * _density(found[1]) else best
    return None if best is None else best[1]


def _grid(tiles_shape: tuple[int, int, int, int], width: int, lines: int, row_labels, col_labels,
          max_scale: int, zoom: bool) -> TileLayout | None:
    """The best layout of a rows x cols grid of tiles, as it is or transposed (ALL_CHANNELS)."""
    rows, cols, th, tw = tiles_shape
    best: dict[str, tuple[tuple, TileLayout]] = {}
    for labels in ("axes", ""):
        for transposed in (False, True):
            grid = (cols, rows) if transposed else (rows, cols)
            left = col_labels if transposed else row_labels
            margin, header = (_label_width(left) + 1, 1) if labels == "axes" else (0, 0)
            fit = _fit(*grid, th, tw, width, 2 * lines, labels=labels, margin=margin, header=header,
                       max_scale=max_scale, scale=1 if zoom else None)
            if fit is None:
                continue
            layout = _layout(None, False, transposed, grid, rows * cols, fit[0], fit[1], th, tw, labels, margin,
                             header)
            # zoomed: the least overflow; else the most pixels per value; then channels down the side
            overflow = max(0, layout.size[0] - 2 * lines) + max(0, layout.size[1] - width)
            key = (-overflow, _density(layout), not transposed)
            if labels not in best or key > best[labels][0]:
                best[labels] = (key, layout)
    if "axes" in best and ("" not in best or zoom
                           or _density(best["axes"][1]) >= LABEL_COST * _density(best[""][1])):
        return best["axes"][1]
    return best[""][1] if "" in best else None


def fit_tiles(tiles: TileSet | tuple[int, int, int, int], width: int, lines: int, *, channel: int | None = None,
              zoom: bool = False, max_scale: int = MAX_SCALE, row_labels=None, col_labels=None) -> TileLayout | None:
    """Where the tiles of `tiles` (a TileSet, or its `grid_shape`) go in `width` x `lines` cells.

    `channel` picks what is drawn of a TileSet with several rows of tiles: None (auto): every
    row as a grid when that fits at one pixel per value, else the first row alone; a row
    number: that row alone, its tiles wrapped; `ALL_CHANNELS`: every row as a grid, values
    averaged within tiles when one pixel each does not fit. `zoom`: one pixel per value
    (scale 1, never averaged), every row; the picture may be larger than the pane. None when
    not even one value per tile fits.
    """
    if isinstance(tiles, TileSet):
        shape = tiles.grid_shape
        row_labels = tiles.row_labels if row_labels is None else row_labels
        col_labels = tiles.col_labels if col_labels is None else col_labels
    else:
        shape = tuple(int(n) for n in tiles)  # type: ignore[assignment]
    rows, cols, th, tw = shape
    row_labels = tuple(row_labels or (str(r) for r in range(rows)))
    col_labels = tuple(col_labels or (str(c) for c in range(cols)))
    width, lines = max(0, width), max(0, lines)
    if rows == 1 and cols == 1:
        fit = _fit(1, 1, th, tw, width, 2 * lines, labels="", max_scale=max_scale, scale=1 if zoom else None)
        return None if fit is None else _layout(None, False, False, (1, 1), 1, fit[0], fit[1], th, tw, "", 0, 0)
    labels_ok = all(label for label in col_labels)
    if rows == 1:
        return _wrap(cols, th, tw, width, lines, None, labels_ok, max_scale, zoom)
    if zoom or channel == ALL_CHANNELS:
        return _grid(shape, width, lines, row_labels, col_labels, max_scale, zoom)
    if channel is None:
        layout = _grid(shape, width, lines, row_labels, col_labels, max_scale, zoom)
        if layout is not None and layout.steps == (1, 1):
            return layout
        channel = 0
    channel = min(max(int(channel), 0), rows - 1)
    return _wrap(cols, th, tw, width, lines, channel, labels_ok, max_scale, zoom)


# ---------------------------------------------------------------------- the picture
def block_means(values: np.ndarray, steps: tuple[int, int]) -> np.ndarray:
    """Means of `steps` blocks over the last two axes (partial blocks at the ends; NaN left out
    of a mean, a block of only NaN stays NaN, +-inf kept)."""
    rs, cs = steps
    if (rs, cs) == (1, 1):
        return values
    *lead, th, tw = values.shape
    oh, ow = -(-th // rs), -(-tw // cs)
    padded = np.full((*lead, oh * rs, ow * cs), np.nan)
    padded[..., :th, :tw] = values
    blocks = padded.reshape(*lead, oh, rs, ow, cs)
    present = ~np.isnan(blocks)
    with np.errstate(invalid="ignore", divide="ignore"):
        sums = np.where(present, blocks, 0.0).sum(axis=(-3, -1))
        counts = present.sum(axis=(-3, -1))
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def shown_tiles(tiles: TileSet, layout: TileLayout) -> np.ndarray:
    """The drawn values `(grid rows, grid cols, down, across)` in screen slot order (averaged
    within tiles by `layout.steps`); NaN in empty slots."""
    values = tiles.values
    if layout.wrapped:
        row = values[layout.channel or 0]
        rows, cols = layout.grid
        values = np.full((rows * cols, *row.shape[1:]), np.nan)
        values[: row.shape[0]] = row
        values = values.reshape(rows, cols, *row.shape[1:])
    elif layout.transposed:
        values = values.transpose(1, 0, 2, 3)
    return block_means(values, layout.steps)


def compose_tiles(codes: np.ndarray, layout: TileLayout, blank: int) -> np.ndarray:
    """The picture of `layout` as colour codes per pixel `(pixel rows, columns)`.

    `codes` holds one code per drawn value, `(grid rows, grid cols, down, across)` in screen
    slot order (`shown_tiles`); gaps, labels and empty slots get `blank`.
    """
    rows, cols, th, tw = codes.shape
    s = layout.scale
    big = codes if s == 1 else np.repeat(np.repeat(codes, s, axis=2), s, axis=3)
    top = layout.label_px
    cells = np.full((rows, cols, layout.band, layout.pitch), blank, dtype=codes.dtype)
    cells[:, :, top:top + th * s, :tw * s] = big
    if layout.wrapped and layout.count < rows * cols:
        cells.reshape(rows * cols, layout.band, layout.pitch)[layout.count:] = blank
    picture = cells.transpose(0, 2, 1, 3).reshape(rows * layout.band, cols * layout.pitch)
    height, width = layout.size
    out = np.full((height, width), blank, dtype=codes.dtype)
    body = picture[: height - 2 * layout.header, : width - layout.margin]
    out[2 * layout.header:, layout.margin:] = body
    return out


def tile_labels(tiles: TileSet, layout: TileLayout) -> list[tuple[int, int, str]]:
    """(line, column, text) of the labels of `layout`: over each tile, or along the axes.

    A label that does not fit its tile (plus the gap) loses its letter ("f12" -> "12"), then
    goes; column labels on top skip a column where they would touch the previous one.
    """
    out: list[tuple[int, int, str]] = []
    if layout.labels == "tiles":
        room = layout.pitch
        for n in range(layout.count):
            gr, gc = divmod(n, layout.grid[1])
            r, c = layout.tile_at(gr, gc) or (0, n)
            text = tiles.col_labels[c] if c < len(tiles.col_labels) else str(c)
            if len(text) > room:
                text = text.lstrip("abcdefghijklmnopqrstuvwxyz")
            if text and len(text) <= room:
                out.append((gr * layout.band // 2, layout.margin + gc * layout.pitch, text))
    elif layout.labels == "axes":
        left = tiles.col_labels if layout.transposed else tiles.row_labels
        top = tiles.row_labels if layout.transposed else tiles.col_labels
        end = -1
        for gc in range(layout.grid[1]):
            text = top[gc] if gc < len(top) else str(gc)
            x = layout.margin + gc * layout.pitch
            if len(text) > layout.pitch:
                text = text.lstrip("abcdefghijklmnopqrstuvwxyz")
            if x > end:
                out.append((0, x, text))
                end = x + len(text)
        th_px = layout.tile[0] * layout.scale
        for gr in range(layout.grid[0]):
            text = left[gr] if gr < len(left) else str(gr)
            y_px = 2 * layout.header + gr * layout.band + (th_px - 1) // 2
            out.append((y_px // 2, layout.margin - 1 - len(text), text))
    return out

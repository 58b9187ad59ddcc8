"""Weight heatmaps: `WeightHeatmap`, the `LayerWeightsView` around it, and `GradientNormPlot`.

The widgets get plain arrays through public methods, never the model or the session.

Drawing: `WeightHeatmap` draws two matrix rows per line with the upper half block "▀"
(foreground: the upper value's colour, background: the lower one's), in `render_line`. Values
are quantised to 17 levels of the diverging map (8 orange for negative, white, 8 blue for positive) on a "nice" colour
range (`nice_limit` of the 99th percentile of |values|), so a value that drifts within its
level keeps its colour and the legend reads "-0.5 … 0 … +0.5".

Size and cost: on a truecolor terminal every change of colour costs about 40 bytes, so the
cells' worst case (every value a different colour from its neighbours, `grid_bytes`) is held
under `max_bytes` (`DEFAULT_MAX_BYTES`, 8 000). A small matrix is magnified (each value `s`
columns by `s` half-lines, square on screen) as far as that allows; a big one is shrunk by
block means (`fit_grid`) and the heading says so ("(784, 256) shown 32x11, 25x24 per cell");
`z` swaps the whole view for a 1:1 window that follows the cursor. A full redraw of a 100x30
heatmap is under 12 KB whatever the matrix. The lines are built once per change (vectorised
colour mapping, one segment per run of equal colours) and kept; `render_line` only hands them
out. After a data change only the lines that differ are refreshed, each only as far as its
content reaches (not the blank space to its right), at most once per `min_interval` seconds
(a one-shot timer, as in `plots.py`); identical data does nothing.

NO_COLOR-safe: the legend gives the colour range as text, the cursor line gives the selected
value and its (row, column) as text, and the cursor cell is marked by a glyph ("+", or "^" /
"v" for the upper / lower half of a line) while the heatmap has focus.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import ClassVar, NamedTuple

import numpy as np
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Horizontal
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Select, Static

from tuinet.app.colormap import diverging, downsample_2d, layout_kernel, nice_limit, symmetric_limit
from tuinet.app.widgets.plots import DEFAULT_MIN_INTERVAL, SeriesPlot, downsample
from tuinet.run import layer_grad_norms  # noqa: F401 - re-exported: the weights view plots them

__all__ = [
    "DEFAULT_MAX_BYTES",
    "KINDS",
    "GradientNormPlot",
    "LayerWeightsView",
    "WeightHeatmap",
    "fit_grid",
    "grid_bytes",
    "layer_grad_norms",
    "quantize",
    "zoom_window",
]

KINDS = ("weights", "grads", "updates")
KIND_LABELS = {"weights": "weights", "grads": "gradients", "updates": "updates"}
LEVELS = 8  # colour levels on each side of zero: 2 * LEVELS + 1 colours in all
NAN_INDEX = 2 * LEVELS + 1
BLANK_INDEX = 2 * LEVELS + 2  # no value: the widget's background
_CODES = BLANK_INDEX + 1
_CURSOR_CODE = -1
DEFAULT_MAX_BYTES = 8_000
"""Worst-case bytes of the heatmap cells per redraw (`grid_bytes`): about 185 two-colour cells."""
MIXED_RUN_BYTES = 40  # a run of "▀" in two truecolor colours: ESC[38;2;r;g;b;48;2;r;g;bm ... ESC[0m
PLAIN_RUN_BYTES = 23  # a run of spaces on one colour: ESC[48;2;r;g;bm ... ESC[0m
MAX_SCALE = 8  # the largest magnification of a small matrix
HALF_BLOCK = "▀"
_PALETTE_RGB = diverging((np.arange(2 * LEVELS + 1) - LEVELS) / LEVELS, 1.0)
_NAN_RGB = tuple(int(v) for v in diverging(np.nan, 1.0))


# ---------------------------------------------------------------------- pure helpers
def grid_bytes(shown_rows: int, shown_cols: int, scale: int = 1) -> int:
    """Worst-case terminal bytes of a heatmap of `shown_rows x shown_cols` values drawn `scale` times.

    Every value is assumed to differ in colour from its neighbours, so each line holds one run
    per value: a line whose two half-lines show different values is a run of `scale` "▀" (3
    bytes each) in two colours, one whose half-lines show the same value a run of `scale`
    spaces on one colour.
    """
    half_lines = shown_rows * scale
    lines = np.arange(-(-half_lines // 2))
    upper, lower = (2 * lines) // scale, (2 * lines + 1) // scale
    mixed = int(np.count_nonzero((upper != lower) | (2 * lines + 1 >= half_lines)))
    plain = lines.size - mixed
    return shown_cols * (mixed * (MIXED_RUN_BYTES + 3 * scale) + plain * (PLAIN_RUN_BYTES + scale))


def fit_grid(shape: tuple[int, int], max_rows: int, max_cols: int,
             max_bytes: int = DEFAULT_MAX_BYTES, max_scale: int = MAX_SCALE) -> tuple[int, int, int]:
    """How to draw a `shape` matrix in `max_rows` half-lines by `max_cols` columns.

    Returns `(row_step, col_step, scale)`: the matrix is shrunk by block means of
    `row_step x col_step` (to `ceil(rows/row_step) x ceil(cols/col_step)` values), then each
    value drawn `scale` columns wide and `scale` half-lines tall (square on screen). The
    worst-case cost `grid_bytes(...)` stays within `max_bytes`. A matrix that fits is
    magnified as much as that allows (up to `max_scale`); one that does not is shrunk by the
    steps that keep the most values, with a mild preference for square blocks (score: values
    shown times the fourth root of the blocks' short/long side ratio), so a (784, 10) kernel
    keeps its 10 columns.
    """
    rows, cols = int(shape[0]), int(shape[1])
    max_rows, max_cols = max(1, max_rows), max(1, max_cols)
    if rows == 0 or cols == 0:
        return 1, 1, 1
    if rows <= max_rows and cols <= max_cols and grid_bytes(rows, cols) <= max_bytes:
        scale = 1
        while (scale < max_scale and rows * (scale + 1) <= max_rows and cols * (scale + 1) <= max_cols
               and grid_bytes(rows, cols, scale + 1) <= max_bytes):
            scale += 1
        return 1, 1, scale
    cell_budget = max(1, max_bytes // (MIXED_RUN_BYTES + 3))  # two values per cell at scale 1
    best: tuple[float, int, int] | None = None
    tried: set[int] = set()
    for target in range(min(cols, max_cols), 0, -1):  # at most max_cols candidate column steps
        col_step = -(-cols // target)
        shown_cols = -(-cols // col_step)
        if col_step in tried:
            continue
        tried.add(col_step)
        row_cap = min(max_rows, 2 * (cell_budget // shown_cols))
        if row_cap < 1:
            continue
        row_step = -(-rows // row_cap)
        shown_rows = -(-rows // row_step)
        score = shown_rows * shown_cols * (min(row_step, col_step) / max(row_step, col_step)) ** 0.25
        if best is None or score > best[0]:
            best = (score, row_step, col_step)
    if best is None:  # not one column fits the budget: everything in one block
        return rows, cols, 1
    return best[1], best[2], 1


def zoom_window(shape: tuple[int, int], max_rows: int, max_cols: int,
                max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[int, int]:
    """(rows, columns) of a 1:1 window on a `shape` matrix within `max_rows` half-lines by
    `max_cols` columns and `max_bytes` (`grid_bytes` at scale 1): about square on screen,
    wider or taller when the matrix is narrow or flat.
    """
    rows, cols = int(shape[0]), int(shape[1])
    max_rows, max_cols = max(1, max_rows), max(1, max_cols)
    cells = max(1, max_bytes // (MIXED_RUN_BYTES + 3))
    side = max(1, math.isqrt(2 * cells))
    window_rows = max(1, min(rows, max_rows, side))
    window_cols = max(1, min(cols, max_cols, cells // -(-window_rows // 2)))
    window_rows = max(1, min(rows, max_rows, 2 * (cells // window_cols)))
    return window_rows, window_cols


def quantize(values: np.ndarray, vmax: float, levels: int = LEVELS) -> np.ndarray:
    """Colour level indices of `values`: 0 (<= -vmax) .. `levels` (0) .. 2*levels (>= +vmax).

    NaN gets `2*levels + 1`. With `vmax <= 0` every finite value is level `levels` (zero).
    """
    v = np.asarray(values, dtype=float)
    nan = np.isnan(v)
    if vmax > 0:
        with np.errstate(invalid="ignore"):
            t = np.clip(np.where(nan, 0.0, v) / vmax, -1.0, 1.0)
        idx = np.rint(t * levels).astype(np.int64) + levels
    else:
        idx = np.full(v.shape, levels, dtype=np.int64)
    idx[nan] = 2 * levels + 1
    return idx


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _fmt_shape(shape: tuple) -> str:
    return "(" + ", ".join(str(int(n)) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _rich(rgb) -> RichColor:
    return RichColor.from_rgb(int(rgb[0]), int(rgb[1]), int(rgb[2]))


def _contrast(rgb) -> RichColor:
    """Black on light colours, white on dark ones (by Rec. 601 luma)."""
    luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return RichColor.from_rgb(0, 0, 0) if luma > 140 else RichColor.from_rgb(255, 255, 255)


_COLOURS: list[RichColor] = [_rich(rgb) for rgb in _PALETTE_RGB] + [_rich(_NAN_RGB)]
_CONTRAST: list[RichColor] = [_contrast(rgb) for rgb in _PALETTE_RGB] + [_contrast(_NAN_RGB)]


# ---------------------------------------------------------------------- WeightHeatmap
class _Geometry(NamedTuple):
    """How the last draw laid the matrix out."""

    row_step: int  # block size (1: not shrunk)
    col_step: int
    scale: int  # columns and half-lines per value
    rows: int  # values drawn
    cols: int
    top: int  # first line of the grid
    row0: int  # matrix position of the first value drawn (a zoom window's origin)
    col0: int
    zoomed: bool  # a 1:1 window of a matrix too big to draw whole


class WeightHeatmap(Widget, can_focus=True):
    """A matrix as a heatmap on a diverging colour map, with a legend and a cursor.

    Lines from the top: the title with the true shape (and how it was shrunk), the note (when
    there is room), the heatmap, the legend (colour ramp and range as text), the cursor line
    (the selected value and its position as text). Arrow keys move the cursor when focused; a
    click selects a value. A matrix too big to draw value by value is shown shrunk by block
    means; `z` switches to a 1:1 window that follows the cursor (and back).
    """

    ALLOW_SELECT = False

    BINDINGS: ClassVar = [
        Binding("z", "toggle_zoom", "Zoom", id="heatmap.zoom",
                tooltip="Switch between the whole matrix (block means) and a 1:1 window around the cursor"),
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("pageup", "move(-10, 0)", "Up 10", show=False),
        Binding("pagedown", "move(10, 0)", "Down 10", show=False),
        Binding("home", "home", "First value", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "weight-heatmap--title",
        "weight-heatmap--text",
        "weight-heatmap--cursor",
    }

    DEFAULT_CSS = """
    WeightHeatmap {
        width: 1fr;
        height: 1fr;
        min-height: 4;
        background: $surface;
        color: $foreground;
    }
    WeightHeatmap > .weight-heatmap--title {
        text-style: bold;
    }
    WeightHeatmap > .weight-heatmap--text {
        color: $text-muted;
    }
    WeightHeatmap > .weight-heatmap--cursor {
        color: $foreground;
    }
    WeightHeatmap:focus > .weight-heatmap--cursor {
        color: $accent;
        text-style: bold;
    }
    """

    cursor: reactive[tuple[int, int]] = reactive((0, 0), init=False)
    """The selected value as (row, column) of the matrix (the first of its block when shrunk)."""

    zoomed: reactive[bool] = reactive(False, init=False)
    """Show a 1:1 window around the cursor instead of the whole matrix shrunk (big matrices only)."""

    class CursorMoved(Message):
        """The cursor selected another value."""

        def __init__(self, heatmap: WeightHeatmap, row: int, col: int, value: float) -> None:
            super().__init__()
            self.heatmap = heatmap
            self.row = row
            self.col = col
            self.value = value
            """The value shown there (the block mean when the matrix is shrunk)."""

        @property
        def control(self) -> WeightHeatmap:
            return self.heatmap

    def __init__(self, *, min_interval: float = DEFAULT_MIN_INTERVAL, max_bytes: int = DEFAULT_MAX_BYTES,
                 name: str | None = None, id: str | None = None,  # noqa: A002
                 classes: str | None = None, disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.min_interval = float(min_interval)
        """Seconds between two data-driven redraws (0: redraw on every change)."""
        self.max_bytes = int(max_bytes)
        """Worst-case bytes of the heatmap cells per redraw; see `fit_grid` and `grid_bytes`."""
        self.build_count = 0
        """How many times the lines were built (data, cursor, focus, size or theme changed)."""
        self.matrix: np.ndarray | None = None
        """A float copy of the matrix shown, or None."""
        self.title = ""
        """The first words of the heading ("dense/kernel · weights")."""
        self.kind = "weights"
        """"weights", "grads" or "updates", named in the legend."""
        self.shape: tuple[int, ...] | None = None
        """The parameter's true shape when the matrix is a layout of it."""
        self.note = ""
        """A line about the axes, shown under the heading when there is room."""
        self.message = "no weights yet"
        """The text shown while there is no matrix."""
        self.vmax = 0.0
        """The colour range of the last draw: -vmax and +vmax get the ends of the map."""
        self._version = 0
        self._strips: list[Strip] | None = None
        self._strips_key: tuple | None = None
        self._extents: list[int] = []  # per line: cells from the left edge to the end of its content
        self._geometry: _Geometry | None = None
        self._display: tuple | None = None  # (key, matrix drawn, vmax, colour indices)
        self._full_vmax: tuple[int, float] | None = None  # (version, vmax of the whole matrix)
        self._origin = (0, 0)  # the zoom window's top-left value
        self._fit_cache: dict[tuple, tuple[int, int, int]] = {}
        self._style_cache: dict[int, tuple[str, Style]] = {}
        self._style_base: Style | None = None
        self._dirty = False
        self._last_draw = -math.inf
        self._pending: Timer | None = None

    # -- rendering ---------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        key = self._key()
        if self._strips is None or self._strips_key != key:
            self._strips, self._strips_key = self._build(), key
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width, self.rich_style)

    def on_resize(self, event: events.Resize) -> None:
        self._strips = None

    def on_focus(self) -> None:
        self._redraw()

    def on_blur(self) -> None:
        self._redraw()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        g = self._geometry
        if offset is None or g is None or self.matrix is None:
            return
        line = offset.y - g.top
        if not (0 <= line < -(-g.rows * g.scale // 2) and 0 <= offset.x < g.cols * g.scale):
            return
        col = offset.x // g.scale
        upper, lower = (2 * line) // g.scale, (2 * line + 1) // g.scale
        at = (g.row0 + upper * g.row_step, g.col0 + col * g.col_step)
        # a line holds two values: the first click takes the upper one, a second the lower one
        row = lower if self.cursor == at and lower < g.rows else upper
        self.cursor = (g.row0 + row * g.row_step, g.col0 + col * g.col_step)

    def validate_cursor(self, cursor: tuple[int, int]) -> tuple[int, int]:
        if self.matrix is None or self.matrix.size == 0:
            return (0, 0)
        rows, cols = self.matrix.shape
        return (min(max(int(cursor[0]), 0), rows - 1), min(max(int(cursor[1]), 0), cols - 1))

    def watch_cursor(self, cursor: tuple[int, int]) -> None:
        self._redraw()
        if self.matrix is not None and self.matrix.size:
            self.post_message(self.CursorMoved(self, cursor[0], cursor[1], self.cursor_value))

    def watch_zoomed(self) -> None:
        self._redraw()

    # -- actions -----------------------------------------------------------------------------
    def action_move(self, drow: int, dcol: int) -> None:
        """Move the cursor by whole values drawn (blocks when the matrix is shrunk)."""
        rs, cs = self._steps()
        row, col = self.cursor
        self.cursor = ((row // rs + drow) * rs, (col // cs + dcol) * cs)

    def action_home(self) -> None:
        self.cursor = (0, 0)

    def action_toggle_zoom(self) -> None:
        self.zoomed = not self.zoomed

    # -- public ------------------------------------------------------------------------------
    def show(self, matrix: np.ndarray, *, title: str = "", kind: str = "weights", shape: tuple | None = None,
             note: str = "") -> None:
        """Show `matrix` (kept as a float copy); a no-op when it and the labels are what is shown.

        `kind` ("weights", "grads" or "updates") names the data in the legend; all use the
        diverging map. `shape` is the true shape of the parameter (when `matrix` is a layout
        of it), `note` a line about the axes. A 1-D matrix is one row; more axes are flattened
        to `(-1, last)`. Redraws at most once per `min_interval`, and only the lines that changed.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        m = np.asarray(matrix, dtype=float)
        if m.ndim < 2:
            m = m.reshape(1, -1)
        elif m.ndim > 2:
            m = m.reshape(-1, m.shape[-1])
        shape = tuple(int(n) for n in shape) if shape is not None else None
        if (self.matrix is not None and (title, kind, shape, note) == (self.title, self.kind, self.shape, self.note)
                and m.shape == self.matrix.shape and np.array_equal(m, self.matrix, equal_nan=True)):
            return
        self.matrix = m.copy()
        self.title, self.kind, self.shape, self.note = title, kind, shape, note
        self._version += 1
        self.set_reactive(WeightHeatmap.cursor, self.validate_cursor(self.cursor))
        self._changed()

    def clear(self, message: str = "no weights yet", *, title: str | None = None) -> None:
        """Show no matrix, only `message` (and `title` when given, else the current title)."""
        title = self.title if title is None else title
        if self.matrix is None and (message, title) == (self.message, self.title):
            return
        self.matrix = None
        self.message, self.title = message, title
        self._version += 1
        self._changed()

    @property
    def cursor_value(self) -> float:
        """The value under the cursor as drawn (the block mean when shrunk); NaN without a matrix."""
        if self.matrix is None or self.matrix.size == 0:
            return math.nan
        (r0, r1), (c0, c1) = self._cursor_block()
        block = self.matrix[r0:r1, c0:c1]
        if block.size == 1:
            return float(block[0, 0])
        present = block[~np.isnan(block)]
        with np.errstate(invalid="ignore", over="ignore"):
            return float(present.mean()) if present.size else math.nan

    @property
    def shown_shape(self) -> tuple[int, int]:
        """(rows, columns) of values drawn by the last draw; (0, 0) before it."""
        return (0, 0) if self._geometry is None else (self._geometry.rows, self._geometry.cols)

    @property
    def steps(self) -> tuple[int, int]:
        """The block size `(row_step, col_step)` of the last draw ((1, 1): value by value)."""
        return self._steps()

    @property
    def scale(self) -> int:
        """How many columns (and half-lines) each value takes in the last draw."""
        return 1 if self._geometry is None else self._geometry.scale

    def text_lines(self) -> list[str]:
        """The characters of every line as drawn (for tests and screen readers)."""
        self.render_line(0)
        return [strip.text for strip in self._strips or []]

    # -- private: throttling -----------------------------------------------------------------
    def _changed(self) -> None:
        """The data changed: redraw now, or once at the end of the current `min_interval`."""
        self._dirty = True
        if not self.is_mounted or self._pending is not None:
            return
        wait = self._last_draw + self.min_interval - time.monotonic()
        if wait <= 0:
            self._redraw()
        else:
            self._pending = self.set_timer(wait, self._flush, name="heatmap-redraw")

    def _flush(self) -> None:
        self._pending = None
        if self._dirty:
            self._redraw()

    def _redraw(self) -> None:
        """Rebuild the lines and refresh only what differs from the screen.

        A changed line is refreshed from its start to the end of its content (old or new,
        whichever is longer), so the blank space right of a heatmap is not sent again.
        """
        self._dirty = False
        self._last_draw = time.monotonic()
        if not self.is_mounted or self.size.area == 0:
            self._strips = None
            self.refresh()
            return
        old, old_key, old_extents = self._strips, self._strips_key, self._extents
        key = self._key()
        new = self._build()
        self._strips, self._strips_key = new, key
        if old is None or old_key != key or len(old) != len(new):
            self.refresh()
            return
        changed = [Region(0, y, max(old_extents[y], self._extents[y]), 1)
                   for y, (a, b) in enumerate(zip(old, new)) if a != b]
        if changed:
            self.refresh(*changed)

    # -- private: drawing --------------------------------------------------------------------
    def _key(self) -> tuple:
        return (self.size, self.has_focus, self.rich_style)

    def _steps(self) -> tuple[int, int]:
        return (1, 1) if self._geometry is None else (self._geometry.row_step, self._geometry.col_step)

    def _cursor_block(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """The matrix rows and columns (start, stop) of the value under the cursor."""
        rs, cs = self._steps()
        rows, cols = self.matrix.shape
        r0, c0 = self.cursor[0] // rs * rs, self.cursor[1] // cs * cs
        return (r0, min(r0 + rs, rows)), (c0, min(c0 + cs, cols))

    def _styles(self) -> tuple[Style, Style, Style, Style]:
        base = self.rich_style
        title = base + self.get_component_rich_style("weight-heatmap--title", partial=True)
        text = base + self.get_component_rich_style("weight-heatmap--text", partial=True)
        cursor = base + self.get_component_rich_style("weight-heatmap--cursor", partial=True)
        return base, title, text, cursor

    def _text_line(self, parts: list[tuple[str, Style]], width: int, base: Style) -> tuple[Strip, int]:
        segments = [Segment(text, style) for text, style in parts if text]
        strip = Strip(segments)
        return strip.adjust_cell_length(width, Style(bgcolor=base.bgcolor)), min(width, strip.cell_length)

    def _layout(self, top: int, grid_lines: int, width: int) -> _Geometry:
        """Where the values go: shrunk or magnified to fit (`fit_grid`), or a 1:1 zoom window."""
        m = self.matrix
        rows, cols = m.shape
        max_rows = 2 * grid_lines
        fit_key = (m.shape, max_rows, width, self.max_bytes)
        if fit_key not in self._fit_cache:
            if len(self._fit_cache) > 64:
                self._fit_cache.clear()
            self._fit_cache[fit_key] = fit_grid(m.shape, max_rows, width, self.max_bytes)
        rs, cs, s = self._fit_cache[fit_key]
        if not self.zoomed or (rs, cs) == (1, 1):
            return _Geometry(rs, cs, s, -(-rows // rs), -(-cols // cs), top, 0, 0, False)
        wr, wc = zoom_window((rows, cols), max_rows, width, self.max_bytes)
        row, col = self.cursor
        r0 = min(max(self._origin[0], row - wr + 1), row, rows - wr)
        c0 = min(max(self._origin[1], col - wc + 1), col, cols - wc)
        self._origin = (r0, c0)
        return _Geometry(1, 1, 1, wr, wc, top, r0, c0, True)

    def _build(self) -> list[Strip]:
        """Every line of the widget (their content extents go to `self._extents`)."""
        self.build_count += 1
        width, height = self.size
        if width <= 0 or height <= 0:
            self._extents = []
            return []
        base, title_style, text_style, cursor_style = self._styles()
        space = Style(bgcolor=base.bgcolor)  # blank cells: no foreground, a shorter escape sequence
        blank = (Strip.blank(width, space), 0)
        heading = [(self.title, title_style)]
        m = self.matrix
        lines: list[tuple[Strip, int]]
        if m is None or m.size == 0:
            self._geometry = None
            lines = [blank] * height
            lines[0] = self._text_line(heading, width, base)
            message = self.message if m is None else f"empty matrix {_fmt_shape(self.shape or m.shape)}"
            lines[min(height - 1, max(1, height // 2))] = self._text_line([(message, text_style)], width, base)
            return self._finish(lines)

        note_line = bool(self.note) and height >= 8
        top = 1 + note_line
        grid_lines = height - top - 2
        if grid_lines < 1:
            self._geometry = None
            lines = [blank] * height
            lines[0] = self._text_line([*heading, ("  too small to draw", text_style)], width, base)
            return self._finish(lines)

        g = self._layout(top, grid_lines, width)
        self._geometry = g
        disp, vmax, idx = self._display_data(g)
        self.vmax = vmax

        # heading: title, true shape, layout, shrinking or zoom window
        shape = self.shape or m.shape
        info = f"  {_fmt_shape(shape)}"
        if tuple(shape) != m.shape:
            info += f" as {m.shape[0]}x{m.shape[1]}"
        if g.zoomed:
            info += (f" zoom 1:1 rows {g.row0}-{g.row0 + g.rows - 1}, cols {g.col0}-{g.col0 + g.cols - 1}"
                     "  z: whole")
        elif (g.row_step, g.col_step) != (1, 1):
            info += f" shown {g.rows}x{g.cols}, {g.row_step}x{g.col_step} per cell  z: zoom"
        lines = [self._text_line([*heading, (info, text_style)], width, base)]
        if note_line:
            lines.append(self._text_line([(self.note, text_style)], width, base))

        # the grid: value indices magnified by `scale`, two half-lines per line
        s = g.scale
        grid = np.repeat(np.repeat(idx, s, axis=0), s, axis=1) if s > 1 else idx
        if grid.shape[0] % 2:
            grid = np.vstack([grid, np.full((1, grid.shape[1]), BLANK_INDEX, dtype=grid.dtype)])
        codes = grid[0::2] * _CODES + grid[1::2]
        cursor_cell = self._cursor_cell(g, idx) if self.has_focus else None
        cell_styles = self._cell_styles(base)
        extent = codes.shape[1]
        pad = width - extent
        for y in range(grid_lines):
            if y >= codes.shape[0]:
                lines.append(blank)
                continue
            row = codes[y]
            if cursor_cell is not None and cursor_cell[0] == y:
                row = row.copy()
                row[cursor_cell[1]] = _CURSOR_CODE
            cuts = np.flatnonzero(row[1:] != row[:-1]) + 1
            starts = np.concatenate(([0], cuts))
            ends = np.concatenate((cuts, [row.size]))
            segments = []
            for start, end, code in zip(starts.tolist(), ends.tolist(), row[starts].tolist()):
                if code == _CURSOR_CODE:
                    segments.append(Segment(cursor_cell[2], cursor_cell[3]))
                else:
                    char, style = cell_styles[code]
                    segments.append(Segment(char * (end - start), style))
            if pad > 0:
                segments.append(Segment(" " * pad, space))
            lines.append((Strip(segments, width), extent))

        lines.append(self._legend(width, base, text_style, disp, vmax))
        lines.append(self._cursor_line(width, base, cursor_style))
        return self._finish(lines[:height])

    def _finish(self, lines: list[tuple[Strip, int]]) -> list[Strip]:
        self._extents = [extent for _, extent in lines]
        return [strip for strip, _ in lines]

    def _display_data(self, g: _Geometry) -> tuple[np.ndarray, float, np.ndarray]:
        """The values drawn, their colour range and colour indices; cached per data and layout.

        Shrunk: the block means, on their own colour range. Zoomed: the window, on the range
        of the whole matrix (so colours mean the same as the window moves).
        """
        key = (self._version, g.row_step, g.col_step, g.row0, g.col0, g.rows, g.cols, g.zoomed)
        if self._display is None or self._display[0] != key:
            m = self.matrix
            if g.zoomed:
                disp = m[g.row0:g.row0 + g.rows, g.col0:g.col0 + g.cols]
                if self._full_vmax is None or self._full_vmax[0] != self._version:
                    self._full_vmax = (self._version, nice_limit(symmetric_limit(m)))
                vmax = self._full_vmax[1]
            else:
                disp = downsample_2d(m, g.rows, g.cols)[0] if (g.row_step, g.col_step) != (1, 1) else m
                vmax = nice_limit(symmetric_limit(disp))
            self._display = (key, disp, vmax, quantize(disp, vmax))
        return self._display[1], self._display[2], self._display[3]

    def _cell_styles(self, base: Style) -> dict[int, tuple[str, Style]]:
        """(character, style) of every cell code `upper * _CODES + lower`; cached per base style."""
        if self._style_base != base:
            self._style_base = base
            self._style_cache = {}
            bg = base.bgcolor
            for upper in range(_CODES):
                for lower in range(_CODES):
                    code = upper * _CODES + lower
                    if upper == BLANK_INDEX:
                        self._style_cache[code] = (" ", Style(bgcolor=bg))
                    elif upper == lower:
                        self._style_cache[code] = (" ", Style(bgcolor=_COLOURS[upper]))
                    else:
                        under = bg if lower == BLANK_INDEX else _COLOURS[lower]
                        self._style_cache[code] = (HALF_BLOCK, Style(color=_COLOURS[upper], bgcolor=under))
        return self._style_cache

    def _cursor_cell(self, g: _Geometry, idx: np.ndarray) -> tuple[int, int, str, Style] | None:
        """(line, column, glyph, style) of the cursor mark in the grid, or None when not drawn."""
        vrow = (self.cursor[0] - g.row0) // g.row_step
        vcol = (self.cursor[1] - g.col0) // g.col_step
        if not (0 <= vrow < idx.shape[0] and 0 <= vcol < idx.shape[1]):
            return None
        s = g.scale
        half = vrow * s + (s - 1) // 2
        line, column = half // 2, vcol * s + (s - 1) // 2
        both = vrow * s <= 2 * line and 2 * line + 1 <= vrow * s + s - 1  # the whole cell is this value
        glyph = "+" if both else ("^" if half % 2 == 0 else "v")
        colour = int(idx[vrow, vcol])
        return line, column, glyph, Style(color=_CONTRAST[colour], bgcolor=_COLOURS[colour], bold=True)

    def _legend(self, width: int, base: Style, text_style: Style, disp: np.ndarray,
                vmax: float) -> tuple[Strip, int]:
        segments = [Segment(" ", Style(bgcolor=colour)) for colour in _COLOURS[:2 * LEVELS + 1]]
        segments.append(Segment(f" -{_fmt(vmax)} … 0 … +{_fmt(vmax)}" if vmax > 0 else " all 0", base))
        segments.append(Segment(f"  {KIND_LABELS[self.kind]}", text_style))
        if np.isnan(disp).any():
            segments.append(Segment("  ", base))
            segments.append(Segment(" ", Style(bgcolor=_COLOURS[NAN_INDEX])))
            segments.append(Segment(" NaN/gap", text_style))
        finite = disp[np.isfinite(disp)]
        if finite.size and vmax > 0:
            segments.append(Segment(f"  min {_fmt(float(finite.min()))} max {_fmt(float(finite.max()))}",
                                    text_style))
        strip = Strip(segments)
        return strip.adjust_cell_length(width, Style(bgcolor=base.bgcolor)), min(width, strip.cell_length)

    def _cursor_line(self, width: int, base: Style, cursor_style: Style) -> tuple[Strip, int]:
        value = self.cursor_value
        shown = "NaN" if math.isnan(value) else f"{value:+.4g}"
        (r0, r1), (c0, c1) = self._cursor_block()
        if (r1 - r0, c1 - c0) == (1, 1):
            text = f"▸ ({r0}, {c0}) = {shown}"
        else:
            text = f"▸ rows {r0}-{r1 - 1}, cols {c0}-{c1 - 1}: mean {shown}"
        parts = [(text, cursor_style)]
        if self.has_focus:
            parts.append(("  arrows move", base))
        return self._text_line(parts, width, base)


# ---------------------------------------------------------------------- LayerWeightsView
class LayerWeightsView(Widget):
    """A layer selector, a weights / gradients / updates switch (`w`) and a `WeightHeatmap`.

    Fed from `WeightSnapshot`s through `update_snapshot`; keeps the selected "layer/param"
    while it exists and starts on the first kernel.
    """

    BINDINGS: ClassVar = [
        Binding("w", "cycle_kind", "Weights/grads", id="weights.cycle-kind",
                tooltip="Show weights, then gradients, then the last updates"),
        Binding("left_square_bracket", "step_param(-1)", "Prev param", key_display="[", show=False,
                id="weights.prev-param", tooltip="Show the previous layer parameter"),
        Binding("right_square_bracket", "step_param(1)", "Next param", key_display="]", show=False,
                id="weights.next-param", tooltip="Show the next layer parameter"),
    ]

    DEFAULT_CSS = """
    LayerWeightsView {
        width: 1fr;
        height: 1fr;
        layout: vertical;
    }
    LayerWeightsView > #weights-bar {
        height: auto;
    }
    LayerWeightsView #weights-select {
        width: 1fr;
    }
    LayerWeightsView #weights-kind {
        width: auto;
        padding: 1 1 0 1;
    }
    """

    kind: reactive[str] = reactive("weights", init=False)
    """What the heatmap shows: "weights", "grads" or "updates"."""

    WAITING: ClassVar[str] = "waiting for the first weight snapshot"

    def __init__(self, *, min_interval: float = DEFAULT_MIN_INTERVAL, name: str | None = None,
                 id: str | None = None, classes: str | None = None,  # noqa: A002
                 disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.heatmap = WeightHeatmap(min_interval=min_interval, id="weights-heatmap")
        self.layer_select: Select[str] = Select([], prompt="layer/param", allow_blank=True, id="weights-select")
        self.kind_label = Static("", id="weights-kind")
        self.weights: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.updates: dict[str, np.ndarray] = {}
        self.layer_types: dict[str, str] = {}
        self._keys: tuple[str, ...] = ()
        self._selected: str | None = None
        self._ready = False  # mounted: the selector can take options

    def compose(self) -> ComposeResult:
        with Horizontal(id="weights-bar"):
            yield self.layer_select
            yield self.kind_label
        yield self.heatmap

    def on_mount(self) -> None:
        self._ready = True
        self.kind_label.update(self._kind_text(self.kind))
        self._keys = ()  # the selector is empty until now: fill it
        self._sync(tuple(self.weights))

    def watch_kind(self, kind: str) -> None:
        if self._ready:
            self.kind_label.update(self._kind_text(kind))
            self._show()

    def validate_kind(self, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        return kind

    @on(Select.Changed, "#weights-select")
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str) and event.value != self._selected:
            self._selected = event.value
            self._show()

    # -- actions -----------------------------------------------------------------------------
    def action_cycle_kind(self) -> None:
        self.kind = KINDS[(KINDS.index(self.kind) + 1) % len(KINDS)]

    def action_step_param(self, step: int) -> None:
        if not self._keys:
            return
        index = self._keys.index(self._selected) if self._selected in self._keys else -step
        self.select_param(self._keys[(index + step) % len(self._keys)])

    # -- public ------------------------------------------------------------------------------
    @property
    def selected(self) -> str | None:
        """The "layer/param" key shown, or None before the first snapshot."""
        return self._selected

    @property
    def keys(self) -> tuple[str, ...]:
        """The "layer/param" keys to choose from, in snapshot order."""
        return self._keys

    def update_snapshot(self, weights: dict, grads: dict, updates: dict, *,
                        layer_types: Mapping[str, str] | None = None) -> None:
        """Take the arrays of a `WeightSnapshot` (keys "layer/param").

        The selection stays while its key is in `weights`; otherwise the first kernel (or the
        first key) is selected. `layer_types` maps layer names to class names ("lstm_enc" ->
        "LSTM") for layers whose names do not say their type; default names ("lstm_1") do.
        """
        self.weights, self.grads, self.updates = dict(weights), dict(grads), dict(updates)
        if layer_types is not None:
            self.layer_types = dict(layer_types)
        keys = tuple(self.weights)
        if self._selected not in keys:
            self._selected = self._first_kernel(keys)
        self._sync(keys)

    def select_param(self, key: str) -> None:
        """Show the parameter `key` ("layer/param"); a KeyError for a key not in the snapshot."""
        if key not in self.weights:
            raise KeyError(f"no parameter {key!r}; choose from {list(self.weights)}")
        self._selected = key
        self._sync(self._keys)

    def reset(self) -> None:
        """Forget the snapshot (after the model was rebuilt)."""
        self.weights, self.grads, self.updates = {}, {}, {}
        self._selected = None
        self._sync(())

    # -- private -----------------------------------------------------------------------------
    @staticmethod
    def _first_kernel(keys: tuple[str, ...]) -> str | None:
        for key in keys:
            if key.rsplit("/", 1)[-1] in ("kernel", "embeddings"):
                return key
        return keys[0] if keys else None

    @staticmethod
    def _kind_text(kind: str) -> Text:
        """"w: [weights] gradients updates", the current kind bracketed and bold (NO_COLOR-safe)."""
        text = Text("w:", no_wrap=True)
        for k in KINDS:
            text.append(" ")
            text.append(f"[{KIND_LABELS[k]}]" if k == kind else KIND_LABELS[k], style="bold" if k == kind else "dim")
        return text

    def _sync(self, keys: tuple[str, ...]) -> None:
        """Bring the selector's options and value and the heatmap up to date (once mounted)."""
        if not self._ready:
            return
        if keys != self._keys:
            self._keys = keys
            self.layer_select.set_options([(key, key) for key in keys])
        if self._selected is not None and self.layer_select.value != self._selected:
            with self.layer_select.prevent(Select.Changed):
                self.layer_select.value = self._selected
        self._show()

    def _show(self) -> None:
        key = self._selected
        if key is None:
            self.heatmap.clear(self.WAITING, title="")
            return
        source = {"weights": self.weights, "grads": self.grads, "updates": self.updates}[self.kind]
        if key not in source:
            self.heatmap.clear(title=f"{key} · {KIND_LABELS[self.kind]}", message={
                "weights": f"{key} has no weights",
                "grads": "no gradients yet: take a training step",
                "updates": "no updates yet: they show from the second snapshot on",
            }[self.kind])
            return
        layer = key.rsplit("/", 1)[0]
        w = np.asarray(source[key])
        matrix, note = layout_kernel(w, key, layer_type=self.layer_types.get(layer))
        self.heatmap.show(matrix, title=f"{key} · {KIND_LABELS[self.kind]}", kind=self.kind, shape=w.shape,
                          note=note)


# ---------------------------------------------------------------------- GradientNormPlot
class GradientNormPlot(SeriesPlot):
    """The L2 norm of each layer's gradients against epochs, on a log y axis by default.

    One line per layer, told apart by marker as well as colour (NO_COLOR-safe), so vanishing
    (falling towards 1e-8) and exploding (rising by decades) gradients show at a glance.
    Redraws are throttled like the other plots (`min_interval`).
    """

    BASE_TITLE = "gradient L2 norm per layer"
    MARKERS: ClassVar[tuple[str, ...]] = ("braille", "dot", "+", "x", "o", "*", "#", "%")
    MAX_POINTS: ClassVar[int] = 20_000
    """Points kept per layer; older ones are dropped (the plot shows at most 2 per column)."""

    def __init__(self, *, log_scale: bool = True, min_interval: float = DEFAULT_MIN_INTERVAL,
                 name: str | None = None, id: str | None = None,  # noqa: A002
                 classes: str | None = None, disabled: bool = False) -> None:
        super().__init__(min_interval=min_interval, name=name, id=id, classes=classes, disabled=disabled)
        self.set_reactive(SeriesPlot.log_scale, bool(log_scale))
        self.steps: list[float] = []
        """The x of every point (epochs), oldest first."""
        self.norms: dict[str, list[float]] = {}
        """Per layer, one norm per step (NaN where the layer had none)."""

    @property
    def placeholder(self) -> str | None:
        if not self.steps:
            return "waiting for gradients"
        if not any(self._drawable(v) for values in self.norms.values() for v in values):
            return self._unplottable()
        return None

    def add(self, step: float, norms: Mapping[str, float]) -> None:
        """Record the norms at `step` (in epochs, e.g. `epoch + batch / steps_per_epoch`).

        A step at or before the last one drops the points from there on first (a reset or a
        repeated snapshot); the same step with the same norms is a no-op.
        """
        x = float(step)
        values = {layer: float(v) for layer, v in norms.items()}
        if self.steps and x <= self.steps[-1]:
            if x == self.steps[-1] and all(
                    _same_float(self.norms.get(layer, [math.nan])[-1], v) for layer, v in values.items()) \
                    and all(math.isnan(series[-1]) for layer, series in self.norms.items() if layer not in values):
                return
            keep = int(np.searchsorted(np.asarray(self.steps), x, side="left"))
            del self.steps[keep:]
            for series in self.norms.values():
                del series[keep:]
        n = len(self.steps)
        for layer in values:
            if layer not in self.norms:
                self.norms[layer] = [math.nan] * n
        self.steps.append(x)
        for layer, series in self.norms.items():
            series.append(values.get(layer, math.nan))
        if len(self.steps) > self.MAX_POINTS:
            drop = len(self.steps) - self.MAX_POINTS
            del self.steps[:drop]
            for series in self.norms.values():
                del series[:drop]
        self._changed()

    def add_grads(self, step: float, grads: Mapping[str, np.ndarray]) -> None:
        """`add(step, layer_grad_norms(grads))`."""
        self.add(step, layer_grad_norms(grads))

    def clear(self) -> None:
        """Forget all points."""
        if not self.steps and not self.norms:
            return
        self.steps, self.norms = [], {}
        self._changed()

    def _draw(self, palette: dict[str, tuple[int, int, int]]) -> int:
        colours = self._colours()
        longest = 0
        drawn: list[float] = []
        for i, (layer, series) in enumerate(self.norms.items()):
            xs, ys = downsample(series, max(2, 2 * self.size.width), self.steps)
            xs, ys = self._points(xs, ys)
            drawn.extend(xs)
            longest = max(longest, self._series(xs, ys, label=layer, marker=self.MARKERS[i % len(self.MARKERS)],
                                                color=colours[i % len(colours)]))
        if drawn and min(drawn) == max(drawn):
            self.plt.xlim(drawn[0] - 0.5, drawn[0] + 0.5)
        self.plt.xlabel("epoch")
        return longest

    def _colours(self) -> list[tuple[int, int, int]]:
        variables = self.app.theme_variables
        out = []
        for name, fallback in (("primary", "#0178D4"), ("accent", "#FFA62B"), ("secondary", "#004578"),
                               ("success", "#4EBF71"), ("warning", "#FFA62B"), ("error", "#BA3C5B")):
            try:
                out.append(Color.parse(variables.get(name) or fallback).rgb)
            except Exception:  # a theme variable that is not a plain colour
                out.append(Color.parse(fallback).rgb)
        return out


def _same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))

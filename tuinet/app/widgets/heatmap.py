"""Weight heatmaps: `WeightHeatmap`, the `LayerWeightsView` around it, and `GradientNormPlot`.

The widgets get plain arrays through public methods, never the model or the session.

Drawing: a parameter is cut into tiles (`tuinet.app.tiles.kernel_tiles`: conv kernels one
tile per channel and filter, recurrent kernels one per gate, a Dense kernel one tile) and the
tiles are laid out to fill the pane (`fit_tiles`): every value gets `scale x scale` pixels, the
largest integer scale at which the whole picture fits, one pixel being one column by half a
line (the picture is drawn with the upper half block "▀" on the shared `Canvas`, so pixels are
about square). Tiles sit one pixel apart, labelled (filters, channels, gates) when there is
room. Only when even one pixel per value does not fit are values averaged, in blocks inside
their tile (the heading says "shown 64x10, means of 2x1"). A conv kernel with many input
channels whose channels x filters grid does not fit at one pixel per value shows one input
channel at a time: `c` steps through the channels (and "all", averaged). `z` switches to one
pixel per value (1:1), every channel, with a window that follows the cursor (arrows pan).

Values are quantised to 17 levels of the diverging map (8 orange for negative, white, 8 blue
for positive) on a "nice" colour range (`nice_limit` of the 99th percentile of |values|), so a
value that drifts within its level keeps its colour and the legend reads "-0.5 … 0 … +0.5".
In a 256-colour terminal the levels are drawn in `DIVERGING_256`'s palette steps (4 oranges,
white, 4 blues), in a 16-colour one in `DIVERGING_16`'s (`terminal_depth`).

Cost: the picture is built vectorised (tiles repeated, padded and reshaped into one array of
colour codes, then half-block cells) and the lines once per change; `render_line` only hands
them out. After a data change only the parts of lines that differ are refreshed, at most once
per `min_interval` seconds (`ThrottledRedraw`); identical data does nothing.

NO_COLOR-safe: the legend gives the colour range as text, the cursor line gives the selected
value, its tile and its index in the parameter as text, and the cursor cell is marked by a
glyph ("+", or "^" / "v" for the upper / lower half of a line) while the heatmap has focus.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import ClassVar

import numpy as np
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Select, Static

from tuinet.app.canvas import Canvas, pack_rgb, rgb_of, terminal_depth
from tuinet.app.colormap import diverging, nice_limit, symmetric_limit
from tuinet.app.tiles import (
    ALL_CHANNELS,
    TileLayout,
    TileSet,
    compose_tiles,
    fit_tiles,
    kernel_tiles,
    shown_tiles,
    tile_labels,
)
from tuinet.app.widgets.fields import ViewSelect
from tuinet.app.widgets.plots import SeriesPlot, downsample
from tuinet.app.widgets.throttle import DEFAULT_MIN_INTERVAL, ThrottledRedraw
from tuinet.run import layer_grad_norms  # noqa: F401 - re-exported: the weights view plots them

__all__ = [
    "KINDS",
    "GradientNormPlot",
    "LayerWeightsView",
    "WeightHeatmap",
    "layer_grad_norms",
    "linear_ticks",
    "log_ticks",
    "quantize",
    "tick_labels",
]

KINDS = ("weights", "grads", "updates")
KIND_LABELS = {"weights": "weights", "grads": "gradients", "updates": "updates"}
LEVELS = 8  # colour levels on each side of zero: 2 * LEVELS + 1 colours in all
NAN_INDEX = 2 * LEVELS + 1
BLANK_INDEX = 2 * LEVELS + 2  # no value: the widget's background
NOTE_MIN_HEIGHT = 16  # the line about the axes shows from this height on (a short pane keeps it for the picture)


@lru_cache(maxsize=None)
def _codes(depth: str = "truecolor") -> tuple[list[tuple[int, int, int]], np.ndarray]:
    """RGB of each colour code (the `2 * LEVELS + 1` levels, then NaN) at `depth`, and packed."""
    levels = diverging((np.arange(2 * LEVELS + 1) - LEVELS) / LEVELS, 1.0, depth)
    rgb = [tuple(int(v) for v in c) for c in levels] + [tuple(int(v) for v in diverging(np.nan, 1.0, depth))]
    return rgb, np.array([pack_rgb(c) for c in rgb], dtype=np.int64)


# ---------------------------------------------------------------------- pure helpers
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


def _contrast(rgb) -> tuple[int, int, int]:
    """Black on light colours, white on dark ones (by Rec. 601 luma)."""
    luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (0, 0, 0) if luma > 140 else (255, 255, 255)


def _block_mean(block: np.ndarray) -> float:
    if block.size == 1:
        return float(block.flat[0])
    present = block[~np.isnan(block)]
    with np.errstate(invalid="ignore", over="ignore"):
        return float(present.mean()) if present.size else math.nan


# ---------------------------------------------------------------------- WeightHeatmap
BYTES_PER_CELL = 42
"""What a half-block cell of two colours costs on the wire in truecolour (measured: a full
redraw of digits-mlp's 64x64 kernel, 2,048 cells, is about 87 KB), for `byte_budget`."""


class WeightHeatmap(ThrottledRedraw, Widget, can_focus=True):
    """A parameter as a heatmap of tiles on a diverging colour map, with a legend and a cursor.

    Lines from the top: the heading (title, true shape, how it is drawn), the note (when
    there is room), the picture, the legend (colour ramp and range as text), the cursor line
    (the selected value, its tile and its index as text). Arrow keys move the cursor when
    focused (across tiles as they are laid out); a click selects a value. `z` switches
    between the picture that fills the pane and one pixel per value (1:1, every channel; the
    window follows the cursor); `c` steps through the input channels of a conv kernel.
    """

    ALLOW_SELECT = False

    BINDINGS: ClassVar = [
        Binding("z", "toggle_zoom", "Zoom 1:1", id="heatmap.zoom",
                tooltip="Switch between the picture that fills the pane and one pixel per value (arrows pan)"),
        Binding("c", "cycle_channel", "Channel", id="heatmap.channel",
                tooltip="Show the next input channel of a conv kernel (then all channels)"),
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

    TIMER_NAME = "heatmap-redraw"

    cursor: reactive[tuple[int, int]] = reactive((0, 0), init=False)
    """The selected value as (row, column) of the tiles side by side: tile (r, c)'s value
    (i, j) is `(r * th + i, c * tw + j)`; for a single tile, the matrix's (row, column). When
    values are averaged, the first of its block."""

    zoomed: reactive[bool] = reactive(False, init=False)
    """One pixel per value (1:1), every channel, in a window that follows the cursor."""

    channel: reactive[int | None] = reactive(None, init=False)
    """The input channel shown alone (a row of tiles), `ALL_CHANNELS` for every channel, or
    None: every channel when they fit at one pixel per value, else the first."""

    class CursorMoved(Message):
        """The cursor selected another value."""

        def __init__(self, heatmap: WeightHeatmap, row: int, col: int, value: float) -> None:
            super().__init__()
            self.heatmap = heatmap
            self.row = row
            self.col = col
            self.value = value
            """The value shown there (the block mean when values are averaged)."""

        @property
        def control(self) -> WeightHeatmap:
            return self.heatmap

    def __init__(self, *, min_interval: float = DEFAULT_MIN_INTERVAL, name: str | None = None,
                 id: str | None = None, classes: str | None = None,  # noqa: A002
                 disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.min_interval = float(min_interval)
        """Seconds between two data-driven redraws (0: redraw on every change)."""
        self.build_count = 0
        """How many times the lines were built (data, cursor, focus, size or theme changed)."""
        self.tiles: TileSet | None = None
        """The tiles shown, or None."""
        self.matrix: np.ndarray | None = None
        """A float copy of the parameter (or matrix) shown, or None."""
        self.title = ""
        """The first words of the heading ("dense/kernel · weights")."""
        self.kind = "weights"
        """"weights", "grads" or "updates", named in the legend."""
        self.shape: tuple[int, ...] | None = None
        """The parameter's true shape."""
        self.note = ""
        """A line about the axes, shown under the heading when there is room."""
        self.message = "no weights yet"
        """The text shown while there is no matrix."""
        self.vmax = 0.0
        """The colour range of the last draw: -vmax and +vmax get the ends of the map."""
        self.tile_layout: TileLayout | None = None
        """Where the tiles went in the last draw (None: nothing drawn)."""
        self._version = 0
        self._gen = 0  # bumps on every change of what is drawn
        self._canvas: Canvas | None = None
        self._canvas_key: tuple | None = None
        self._layout_cache: dict[tuple, TileLayout | None] = {}
        self._picture: tuple | None = None  # (key, codes, labels, vmax, drawn values)
        self._full_vmax: tuple[int, float] | None = None  # (version, vmax of every value)
        self._origin = (0, 0)  # the window's top-left (line, column) in the picture
        self._top = 0  # the picture's first line in the widget

    # -- rendering ---------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        canvas = self._ensure_canvas()
        if canvas is None or not 0 <= y < canvas.height:
            return Strip.blank(self.size.width, self.rich_style)
        return canvas.strips()[y]

    def on_resize(self, event: events.Resize) -> None:
        self._canvas = None

    def on_focus(self) -> None:
        self._redraw()

    def on_blur(self) -> None:
        self._redraw()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        g, tiles = self.tile_layout, self.tiles
        if offset is None or g is None or tiles is None:
            return
        line = offset.y - self._top
        if not 0 <= line < self.size.height - self._top - 2:
            return
        y, x = line + self._origin[0], offset.x + self._origin[1]
        upper, lower = g.locate(2 * y, x), g.locate(2 * y + 1, x)
        picks = [self._lattice(g, hit) for hit in (upper, lower) if hit is not None]
        if not picks:
            return
        # a line holds two pixels: the first click takes the upper value, a second the lower one
        self.cursor = picks[-1] if len(picks) == 2 and self.cursor == picks[0] else picks[0]

    def validate_cursor(self, cursor: tuple[int, int]) -> tuple[int, int]:
        if self.tiles is None or self.tiles.values.size == 0:
            return (0, 0)
        rows, cols, th, tw = self.tiles.grid_shape
        return (min(max(int(cursor[0]), 0), rows * th - 1), min(max(int(cursor[1]), 0), cols * tw - 1))

    def watch_cursor(self, cursor: tuple[int, int]) -> None:
        self._redraw()
        if self.tiles is not None and self.tiles.values.size:
            self.post_message(self.CursorMoved(self, cursor[0], cursor[1], self.cursor_value))

    def watch_zoomed(self) -> None:
        self._redraw()

    def watch_channel(self) -> None:
        self._redraw()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cycle_channel":
            return self.tiles is not None and self.tiles.rows > 1
        return True

    # -- actions -----------------------------------------------------------------------------
    def action_move(self, drow: int, dcol: int) -> None:
        """Move the cursor by whole values drawn, across tiles as they are laid out."""
        g, tiles = self.tile_layout, self.tiles
        if tiles is None:
            return
        if g is None:
            self.cursor = (self.cursor[0] + drow, self.cursor[1] + dcol)
            return
        r, c, i, j = self._cursor_tile()
        slot = g.slot(r, c)
        if slot is None:  # another channel: start from the same tile of the one shown
            r = g.channel or 0
            slot = g.slot(r, c) or (0, 0)
        (rs, cs), (th, tw) = g.steps, g.tile
        y = min(max(slot[0] * th + i // rs + drow, 0), g.grid[0] * th - 1)
        x = min(max(slot[1] * tw + j // cs + dcol, 0), g.grid[1] * tw - 1)
        (gr, bi), (gc, bj) = divmod(y, th), divmod(x, tw)
        if g.tile_at(gr, gc) is None:  # an empty slot at the end of a wrapped grid: the last tile
            gr, gc = divmod(g.count - 1, g.grid[1])
        self.cursor = self._lattice(g, (gr, gc, bi, bj))

    def action_home(self) -> None:
        g = self.tile_layout
        if g is not None and g.wrapped and g.channel:
            self.cursor = (g.channel * self.tiles.tile_shape[0], 0)  # type: ignore[union-attr]
        else:
            self.cursor = (0, 0)

    def action_toggle_zoom(self) -> None:
        self.zoomed = not self.zoomed

    def action_cycle_channel(self) -> None:
        """Show the next input channel alone; after the last, every channel (then the first)."""
        tiles = self.tiles
        if tiles is None or tiles.rows < 2:
            return
        g = self.tile_layout
        shown = g.channel if g is not None and g.wrapped else ALL_CHANNELS
        nxt = 0 if shown == ALL_CHANNELS else (shown + 1 if shown + 1 < tiles.rows else ALL_CHANNELS)
        self.zoomed = False
        self.channel = nxt
        if nxt != ALL_CHANNELS:
            _, c, i, j = self._cursor_tile()
            th, tw = tiles.tile_shape
            self.cursor = (nxt * th + i, c * tw + j)

    # -- public ------------------------------------------------------------------------------
    def show(self, matrix: np.ndarray, *, title: str = "", kind: str = "weights", shape: tuple | None = None,
             note: str = "") -> None:
        """Show `matrix` as one tile (kept as a float copy); see `show_tiles`.

        A 1-D matrix is one row; more axes are flattened to `(-1, last)`. `shape` is the true
        shape of the parameter (when `matrix` is a layout of it), `note` a line about the axes.
        """
        m = np.asarray(matrix, dtype=float)
        self._show(TileSet.single(m, note=note), m, title=title, kind=kind,
                   shape=tuple(int(n) for n in shape) if shape is not None else None)

    def show_tiles(self, tiles: TileSet, *, title: str = "", kind: str = "weights",
                   param: np.ndarray | None = None) -> None:
        """Show `tiles` (from `kernel_tiles`); a no-op when they and the labels are what is shown.

        `kind` ("weights", "grads" or "updates") names the data in the legend; all use the
        diverging map. `param` is the parameter itself (kept in `matrix`). Redraws at most
        once per `min_interval`, and only the parts of lines that changed.
        """
        self._show(tiles, param if param is not None else tiles.values, title=title, kind=kind, shape=tiles.shape)

    def clear(self, message: str = "no weights yet", *, title: str | None = None) -> None:
        """Show no matrix, only `message` (and `title` when given, else the current title)."""
        title = self.title if title is None else title
        if self.tiles is None and (message, title) == (self.message, self.title):
            return
        had_channels = self.tiles is not None and self.tiles.rows > 1
        self.tiles = self.matrix = None
        self.message, self.title = message, title
        self._version += 1
        if had_channels:
            self.refresh_bindings()
        self._changed()

    @property
    def cursor_value(self) -> float:
        """The value under the cursor as drawn (the block mean when averaged); NaN without one."""
        tiles = self.tiles
        if tiles is None or tiles.values.size == 0:
            return math.nan
        r, c, i, j = self._cursor_tile()
        rs, cs = self.steps
        return _block_mean(tiles.values[r, c, i:i + rs, j:j + cs])

    @property
    def shown_shape(self) -> tuple[int, int]:
        """(rows, columns) of values drawn by the last draw, tiles side by side; (0, 0) before it."""
        g = self.tile_layout
        return (0, 0) if g is None else (g.grid[0] * g.tile[0], g.grid[1] * g.tile[1])

    @property
    def steps(self) -> tuple[int, int]:
        """The block of values averaged per drawn value in the last draw ((1, 1): value by value)."""
        return (1, 1) if self.tile_layout is None else self.tile_layout.steps

    @property
    def scale(self) -> int:
        """Pixels (columns, half-lines) per drawn value in the last draw."""
        return 1 if self.tile_layout is None else self.tile_layout.scale

    def text_lines(self) -> list[str]:
        """The characters of every line as drawn (for tests and screen readers)."""
        canvas = self._ensure_canvas()
        return [] if canvas is None else [canvas.row_text(y) for y in range(canvas.height)]

    def coloured_cells(self) -> int:
        """Cells of the picture in the last draw that show a value's colour (not the background)."""
        canvas = self._ensure_canvas()
        if canvas is None:
            return 0
        if self.tile_layout is None:
            return 0
        bg = pack_rgb(self._colours()[1])
        rows = slice(self._top, canvas.height - 2)
        coloured = (canvas.bg[rows] != bg) | ((canvas.chars[rows] == "▀") & (canvas.fg[rows] != bg))
        return int(np.count_nonzero(coloured))

    # -- private: data -----------------------------------------------------------------------
    def _show(self, tiles: TileSet, param, *, title: str, kind: str, shape: tuple | None) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if (self.tiles is not None and (title, kind, shape) == (self.title, self.kind, self.shape)
                and tiles.same_as(self.tiles)):
            return
        old = self.tiles
        if old is None or old.grid_shape[:2] != tiles.grid_shape[:2]:
            self.set_reactive(WeightHeatmap.channel, None)  # another parameter: its own channels
        self.tiles = tiles
        self.matrix = np.array(param, dtype=float)
        self.title, self.kind, self.shape, self.note = title, kind, shape, tiles.note
        self._version += 1
        self.set_reactive(WeightHeatmap.cursor, self.validate_cursor(self.cursor))
        if (old is not None and old.rows > 1) != (tiles.rows > 1):
            self.refresh_bindings()  # `c` comes or goes
        self._changed()

    def _cursor_tile(self) -> tuple[int, int, int, int]:
        """(r, c, i, j) of the cursor: its tile and its value there (the first of its block)."""
        th, tw = self.tiles.tile_shape  # type: ignore[union-attr]
        (r, i), (c, j) = divmod(self.cursor[0], th), divmod(self.cursor[1], tw)
        rs, cs = self.steps
        return r, c, i // rs * rs, j // cs * cs

    def _lattice(self, g: TileLayout, hit: tuple[int, int, int, int]) -> tuple[int, int]:
        """The cursor of drawn value (bi, bj) in slot (gr, gc)."""
        gr, gc, bi, bj = hit
        r, c = g.tile_at(gr, gc) or (0, 0)
        th, tw = self.tiles.tile_shape  # type: ignore[union-attr]
        return r * th + min(bi * g.steps[0], th - 1), c * tw + min(bj * g.steps[1], tw - 1)

    # -- private: drawing --------------------------------------------------------------------
    def _draw_now(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        """Build the lines anew and refresh only the parts that differ from the screen."""
        self._dirty = False
        self._gen += 1
        if not self.is_mounted or self.size.area == 0:
            self._canvas = None
            self.refresh()
            return
        old = self._canvas
        canvas = self._ensure_canvas()
        regions = None if canvas is None else canvas.changed_regions(old)
        if regions is None:
            self.refresh()
            self._draw_bytes = self.size.area * BYTES_PER_CELL
        elif regions:
            self.refresh(*regions)
            self._draw_bytes = sum(r.area for r in regions) * BYTES_PER_CELL

    def _colours(self) -> tuple[tuple, tuple, tuple, tuple, bool]:
        """(text, background, muted text, cursor text, cursor bold) from the component styles."""
        base = self.rich_style
        fg, bg = rgb_of(base.color, (224, 224, 224)), rgb_of(base.bgcolor, (0, 0, 0))
        muted = rgb_of(self.get_component_rich_style("weight-heatmap--text").color, fg)
        cursor_style = self.get_component_rich_style("weight-heatmap--cursor")
        return fg, bg, muted, rgb_of(cursor_style.color, fg), bool(cursor_style.bold)

    def _ensure_canvas(self) -> Canvas | None:
        width, height = self.size
        if width <= 0 or height <= 0:
            return None
        colours = self._colours()
        depth = terminal_depth(self)
        key = (width, height, colours, depth, self.has_focus, self._gen, self._version)
        if self._canvas is None or key != self._canvas_key:
            self._canvas, self._canvas_key = self._build(width, height, colours, depth), key
        return self._canvas

    def _fit(self, width: int, lines: int) -> TileLayout | None:
        key = (self.tiles.grid_shape, width, lines, self.channel, self.zoomed,  # type: ignore[union-attr]
               self.tiles.row_labels, self.tiles.col_labels)  # type: ignore[union-attr]
        if key not in self._layout_cache:
            if len(self._layout_cache) > 64:
                self._layout_cache.clear()
            self._layout_cache[key] = fit_tiles(self.tiles, width, lines, channel=self.channel,  # type: ignore[arg-type]
                                                zoom=self.zoomed)
        return self._layout_cache[key]

    def _build(self, width: int, height: int, colours: tuple, depth: str = "truecolor") -> Canvas:
        """Every line of the widget, on a canvas, in the colours of a `depth` terminal."""
        self.build_count += 1
        fg, bg, muted, cursor_fg, cursor_bold = colours
        canvas = Canvas(width, height, fg, bg)
        tiles = self.tiles
        if tiles is None or tiles.values.size == 0:
            self.tile_layout = None
            canvas.text(0, 0, self.title, fg, bold=True)
            shape = self.shape or (tiles.shape if tiles is not None else ())
            message = self.message if tiles is None else f"empty matrix {_fmt_shape(shape)}"
            canvas.text(0, min(height - 1, max(1, height // 2)), message, muted)
            return canvas

        note_line = bool(self.note) and height >= NOTE_MIN_HEIGHT
        top = self._top = 1 + note_line
        lines = height - top - 2
        g = self._fit(width, lines) if lines >= 1 else None
        self.tile_layout = g
        x = canvas.text(0, 0, self.title, fg, bold=True)
        if g is None:
            why = "  too small to draw" if lines < 1 else "  too many tiles for this pane"
            hint = "" if lines < 1 else ("; c: one channel, z: 1:1" if tiles.rows > 1 else "; z: 1:1")
            canvas.text(x, 0, f"  {_fmt_shape(self.shape or tiles.shape)}{why}{hint}", muted)
            return canvas
        codes, labels, vmax, drawn = self._picture_for(g)
        self.vmax = vmax

        # the picture, or the window on it that holds the cursor
        cursor = self._cursor_pixel(g)
        oy, ox = self._window(g, lines, width, cursor)
        window = codes[2 * oy:2 * (oy + lines), ox:ox + width]
        code_rgb, code_packed = _codes(depth)
        lut = np.append(code_packed, pack_rgb(bg))
        canvas.image(0, top, lut[window])
        for line, column, text in labels:
            if 0 <= line - oy < lines:
                canvas.text(column - ox, top + line - oy, text, muted)
        if cursor is not None and self.has_focus:
            py, px, glyph, code = cursor
            y, x_cell = top + py // 2 - oy, px - ox
            if top <= y < top + lines and 0 <= x_cell < width:
                canvas.text(x_cell, y, glyph, _contrast(code_rgb[code]), code_rgb[code], bold=True)

        canvas.text(x, 0, self._heading(g, tiles), muted)
        if note_line:
            canvas.text(0, 1, self.note, muted)
        self._legend(canvas, height - 2, drawn, vmax, fg, muted, code_rgb)
        self._cursor_line(canvas, height - 1, cursor_fg, cursor_bold, muted)
        return canvas

    def _heading(self, g: TileLayout, tiles: TileSet) -> str:
        rows, cols, th, tw = tiles.grid_shape
        shape = self.shape or tiles.shape
        info = f"  {_fmt_shape(shape)}"
        if tiles.rows > 1:
            if g.wrapped:
                info += f"  {tiles.row_name} {g.channel} of {rows}"
            else:
                info += f"  all {rows} {tiles.row_name}s"
        if (rows, cols) == (1, 1) and tuple(shape) != (th, tw):
            info += f" as {th}x{tw}"
        if g.steps != (1, 1):
            info += f"  shown {g.grid[0] * g.tile[0]}x{g.grid[1] * g.tile[1]}, means of {g.steps[0]}x{g.steps[1]}"
        elif g.scale > 1:
            info += f"  scale {g.scale}"
        if self.zoomed:
            info += "  1:1, arrows pan  z: fit"
        elif g.steps != (1, 1) or g.wrapped and tiles.rows > 1:
            info += "  z: 1:1"
        if tiles.rows > 1 and not self.zoomed:
            info += "  c: channel"
        return info

    def _picture_for(self, g: TileLayout) -> tuple[np.ndarray, list, float, np.ndarray]:
        """(colour codes per pixel, labels, vmax, values drawn); cached per data and layout.

        Averaged values get their own colour range; otherwise the range is that of every
        value (so colours mean the same from channel to channel and in the 1:1 window).
        """
        key = (self._version, g)
        if self._picture is None or self._picture[0] != key:
            tiles = self.tiles
            drawn = shown_tiles(tiles, g)  # type: ignore[arg-type]
            if g.steps != (1, 1):
                vmax = nice_limit(symmetric_limit(drawn))
            else:
                if self._full_vmax is None or self._full_vmax[0] != self._version:
                    self._full_vmax = (self._version, nice_limit(symmetric_limit(tiles.values)))  # type: ignore[union-attr]
                vmax = self._full_vmax[1]
            codes = compose_tiles(quantize(drawn, vmax), g, BLANK_INDEX)
            if g.wrapped:
                drawn = drawn.reshape(-1, *drawn.shape[2:])[: g.count]
            self._picture = (key, codes, tile_labels(tiles, g), vmax, drawn)  # type: ignore[arg-type]
        return self._picture[1], self._picture[2], self._picture[3], self._picture[4]

    def _cursor_pixel(self, g: TileLayout) -> tuple[int, int, str, int] | None:
        """(pixel row, column, glyph, colour code) of the cursor mark, or None when not drawn."""
        r, c, i, j = self._cursor_tile()
        slot = g.slot(r, c)
        if slot is None:
            return None
        bi, bj = i // g.steps[0], j // g.steps[1]
        y0, x0 = g.origin(*slot)
        s = g.scale
        top = y0 + bi * s
        py, px = top + (s - 1) // 2, x0 + bj * s + (s - 1) // 2
        line = py // 2
        both = top <= 2 * line and 2 * line + 1 <= top + s - 1  # the whole cell is this value
        glyph = "+" if both else ("^" if py % 2 == 0 else "v")
        value = _block_mean(self.tiles.values[r, c, i:i + g.steps[0], j:j + g.steps[1]])  # type: ignore[union-attr]
        return py, px, glyph, int(quantize(np.array([value]), self.vmax)[0])

    def _window(self, g: TileLayout, lines: int, width: int,
                cursor: tuple[int, int, str, int] | None) -> tuple[int, int]:
        """(line, column) of the picture at the top-left of the pane: (0, 0) when it fits,
        else moved as little as needed to keep the cursor in view."""
        oy, ox = self._origin
        if cursor is not None:
            line, column = cursor[0] // 2, cursor[1]
            oy = min(max(oy, line - lines + 1), line)
            ox = min(max(ox, column - width + 1), column)
        oy = min(max(oy, 0), max(0, g.lines - lines))
        ox = min(max(ox, 0), max(0, g.size[1] - width))
        self._origin = (oy, ox)
        return oy, ox

    def _legend(self, canvas: Canvas, y: int, drawn: np.ndarray, vmax: float, fg: tuple, muted: tuple,
                code_rgb: list[tuple[int, int, int]]) -> None:
        x = 0
        for rgb in code_rgb[: 2 * LEVELS + 1]:
            x = canvas.text(x, y, " ", bg=rgb)
        x = canvas.text(x, y, f" -{_fmt(vmax)} … 0 … +{_fmt(vmax)}" if vmax > 0 else " all 0", fg)
        x = canvas.text(x, y, f"  {KIND_LABELS[self.kind]}", muted)
        if np.isnan(drawn).any():
            x = canvas.text(x, y, "  ")
            x = canvas.text(x, y, " ", bg=code_rgb[NAN_INDEX])
            x = canvas.text(x, y, " NaN/gap", muted)
        finite = drawn[np.isfinite(drawn)]
        if finite.size and vmax > 0:
            canvas.text(x, y, f"  min {_fmt(float(finite.min()))} max {_fmt(float(finite.max()))}", muted)

    def _cursor_line(self, canvas: Canvas, y: int, colour: tuple, bold: bool, muted: tuple) -> None:
        tiles = self.tiles
        value = self.cursor_value
        shown = "NaN" if math.isnan(value) else f"{value:+.4g}"
        r, c, i, j = self._cursor_tile()
        rs, cs = self.steps
        th, tw = tiles.tile_shape  # type: ignore[union-attr]
        name = tiles.tile_name(r, c)  # type: ignore[union-attr]
        where = f"{name}: " if name else ""
        if (rs, cs) == (1, 1):
            index = tiles.position(r, c, i, j)  # type: ignore[union-attr]
            text = f"▸ {where}{_fmt_shape(index) if len(index) != 1 else f'({index[0]})'} = {shown}"
        else:
            i1, j1 = min(i + rs, th), min(j + cs, tw)
            text = f"▸ {where}rows {i}-{i1 - 1}, cols {j}-{j1 - 1}: mean {shown}"
        x = canvas.text(0, y, text, colour, bold=bold)
        if self.has_focus:
            canvas.text(x, y, "  arrows move", muted)


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
        self.layer_select: Select[str] = ViewSelect([], prompt="layer/param", allow_blank=True, id="weights-select")
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
        if self.screen.focused is self.layer_select:
            self.heatmap.focus()  # picked: the arrows move over the new kernel, space plays again

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
        tiles = kernel_tiles(w, key, layer_type=self.layer_types.get(layer))
        self.heatmap.show_tiles(tiles, title=f"{key} · {KIND_LABELS[self.kind]}", kind=self.kind, param=w)


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
        values: list[float] = []
        for i, (layer, series) in enumerate(self.norms.items()):
            xs, ys = downsample(series, max(2, 2 * self.size.width), self.steps)
            xs, ys = self._points(xs, ys)
            drawn.extend(xs)
            values.extend(ys)
            longest = max(longest, self._series(xs, ys, label=layer, marker=self.MARKERS[i % len(self.MARKERS)],
                                                color=colours[i % len(colours)]))
        if drawn and min(drawn) == max(drawn):
            self.plt.xlim(drawn[0] - 0.5, drawn[0] + 0.5)
        elif drawn and max(drawn) - min(drawn) >= 2:
            self._set_int_xticks(math.floor(min(drawn)), math.ceil(max(drawn)))
        if values:
            max_ticks = max(2, (self.size.height - 5) // 2)
            lo, hi = min(values), max(values)
            ticks = log_ticks(lo, hi, max_ticks) if self.log_scale else linear_ticks(lo, hi, max_ticks)
            self.plt.yticks(ticks, tick_labels(ticks))
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


# ---------------------------------------------------------------------- axis ticks
_MANTISSAS = ((1,), (1, 3), (1, 2, 5), (1, 2, 3, 5), (1, 1.5, 2, 3, 5, 7))  # ticks per decade, sparse to dense


def log_ticks(lo: float, hi: float, max_ticks: int = 6) -> list[float]:
    """Ticks of a log axis over [lo, hi] (both > 0): powers of ten (every n-th when there are
    more than `max_ticks`), with 3, or 2 and 5, ... between them as far as `max_ticks` allows,
    and linear steps (`linear_ticks`) when not even two of those lie inside."""
    if not (lo > 0 and hi > 0 and math.isfinite(lo) and math.isfinite(hi)):
        return []
    lo, hi = min(lo, hi), max(lo, hi)
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    chosen: list[float] = []
    for mantissas in _MANTISSAS:
        ticks = [float(f"{m * 10.0 ** k:.12g}") for k in range(first, last + 1) for m in mantissas]
        ticks = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
        if not chosen:
            chosen = ticks
        elif len(ticks) <= max_ticks:
            chosen = ticks
        else:
            break
    if len(chosen) > max_ticks:
        chosen = chosen[:: -(-len(chosen) // max_ticks)]
    return chosen if len(chosen) >= 2 else linear_ticks(lo, hi, max_ticks)


def linear_ticks(lo: float, hi: float, max_ticks: int = 6) -> list[float]:
    """Ticks of a linear axis over [lo, hi]: multiples of a 1-2-5 step, at most `max_ticks`."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    lo, hi = min(lo, hi), max(lo, hi)
    if lo == hi:
        return [lo]
    raw = (hi - lo) / max(1, max_ticks - 1)
    scale = 10.0 ** math.floor(math.log10(raw))
    step = next(m * scale for m in (1, 2, 5, 10) if m * scale >= raw * (1 - 1e-9))
    start = math.ceil(lo / step - 1e-9)
    ticks = [float(f"{k * step:.12g}") for k in range(start, int(math.floor(hi / step + 1e-9)) + 1)]
    return ticks or [lo]


def tick_labels(ticks: list[float]) -> list[str]:
    """Short labels that tell the ticks apart: "0.001", "2.5", "300", "1e-8", "2.5e+5" -> "2.5e5"."""
    for digits in range(2, 10):
        labels = [_short(t, digits) for t in ticks]
        if len(set(labels)) == len(labels):
            return labels
    return [_short(t, 10) for t in ticks]


def _short(value: float, digits: int) -> str:
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return np.format_float_positional(value, precision=digits, unique=True, fractional=False, trim="-")
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"

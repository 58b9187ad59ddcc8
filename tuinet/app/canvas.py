"""A character canvas for half-block pictures: the weight heatmaps and the decision boundary draw on it.

A `Canvas` is a grid of cells, each a glyph with a packed foreground and background colour
(`pack_rgb`: one int per colour) and a bold flag, held in NumPy arrays. Pictures go on it as
pixels, two per cell (`half_block_cells`, `Canvas.image`): the upper half block "▀" shows the
top pixel as its foreground and the bottom one as its background, so a pixel is about square
on a terminal. Text goes on it with `Canvas.text`.

`Canvas.strips()` turns it into one `Strip` per row, vectorised over the whole canvas: cells
of equal colours join into one segment (a space takes the foreground of a glyph beside it on
the same background, `run_foregrounds`), since every segment costs a full escape sequence on
the wire. `Canvas.changed_regions(old)` says which parts of a row differ from the canvas on
screen, so a widget refreshes only those.

`terminal_depth(widget)` says how many colours the widget's terminal shows ("truecolor", "256"
or "16", as Textual detected it), for widgets that pick their palette by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip

from tuinet.app.colormap import colour_depth

__all__ = [
    "HALF_BLOCK",
    "SPAN_GAP",
    "Canvas",
    "half_block_cells",
    "pack_rgb",
    "rgb_of",
    "run_foregrounds",
    "terminal_depth",
    "unpack_rgb",
]

RGB = tuple[int, int, int]

HALF_BLOCK = "▀"  # upper half block: foreground = top pixel, background = bottom pixel
SPAN_GAP = 12  # unchanged cells worth skipping in a partial repaint (a cursor move and a style cost ~30 bytes)


def pack_rgb(rgb: np.ndarray | Sequence[int]) -> np.ndarray | int:
    """`r << 16 | g << 8 | b`: one int64 per colour (an (..., 3) array gives (...))."""
    a = np.asarray(rgb, dtype=np.int64)
    packed = (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]
    return int(packed) if packed.ndim == 0 else packed


def unpack_rgb(packed: int) -> RGB:
    """The (r, g, b) of a `pack_rgb` value."""
    return ((packed >> 16) & 255, (packed >> 8) & 255, packed & 255)


def rgb_of(color: RichColor | None, fallback: RGB) -> RGB:
    """The truecolor (r, g, b) of a Rich colour, or `fallback` for None (or one without RGB)."""
    if color is None:
        return fallback
    try:
        return tuple(color.get_truecolor())  # type: ignore[return-value]
    except Exception:
        return fallback


def terminal_depth(widget) -> str:
    """The colour depth of `widget`'s terminal: `colour_depth` of its app's console, which
    Textual set up from `COLORTERM`, `TERM` and `TEXTUAL_COLOR_SYSTEM`.

    "truecolor" under `NO_COLOR` (Textual's monochrome filter greys the truecolour picture,
    as it always did) and for a widget that is not in an app.
    """
    try:
        app = widget.app
    except RuntimeError:  # NoActiveAppError: not in an app, so no terminal
        return "truecolor"
    return "truecolor" if app.no_color else colour_depth(app.console.color_system)


def _packed(colour: RGB | int) -> int:
    return int(colour) if isinstance(colour, (int, np.integer)) else pack_rgb(colour)


def run_foregrounds(chars: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Foregrounds of rows of cells (`(W,)` or `(H, W)`) with those of spaces chosen so
    that runs join.

    A space shows only its background, so its foreground is free: it takes the foreground
    of the next glyph on the same background in its row (else the previous one, else its
    background: a background-only style). "   ●   " on one colour is then one segment, not
    three; each segment costs a full escape sequence on the wire.
    """
    one_row = np.ndim(chars) == 1
    chars, fg, bg = np.atleast_2d(chars), np.atleast_2d(fg), np.atleast_2d(bg)
    height, width = chars.shape
    if not width:
        return fg[0] if one_row else fg
    idx = np.broadcast_to(np.arange(width), (height, width))
    glyph = chars != " "
    run = np.zeros((height, width), dtype=np.int64)
    run[:, 1:] = np.cumsum(bg[:, 1:] != bg[:, :-1], axis=1)
    nxt = np.minimum.accumulate(np.where(glyph, idx, width)[:, ::-1], axis=1)[:, ::-1]
    prv = np.maximum.accumulate(np.where(glyph, idx, -1), axis=1)
    nxt_c, prv_c = np.minimum(nxt, width - 1), np.maximum(prv, 0)
    nxt_ok = (nxt < width) & (np.take_along_axis(run, nxt_c, axis=1) == run)
    prv_ok = (prv >= 0) & (np.take_along_axis(run, prv_c, axis=1) == run)
    filled = np.where(nxt_ok, np.take_along_axis(fg, nxt_c, axis=1),
                      np.where(prv_ok, np.take_along_axis(fg, prv_c, axis=1), bg))
    out = np.where(glyph, fg, filled)
    return out[0] if one_row else out


def half_block_cells(pixels: np.ndarray, split: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Characters, foreground and background (packed) of the cells showing `pixels`.

    `pixels` is `(2R, C, 3)` RGB or `(2R, C)` packed colours. Each character row shows two
    pixel rows: "▀" with the top pixel as foreground and the bottom one as background where
    they differ, else a space on their colour. With a `split` mask (R, C), only the cells it
    marks are split; the others show their top pixel's colour alone (a space costs a third
    of a "▀" on the wire).
    """
    if pixels.ndim == 3:
        top, bottom = pack_rgb(pixels[0::2]), pack_rgb(pixels[1::2])
    else:
        top, bottom = pixels[0::2], pixels[1::2]
    halves = top != bottom
    if split is not None:
        halves &= split
    chars = np.where(halves, HALF_BLOCK, " ")
    return chars, top, np.where(halves, bottom, top)


class Canvas:
    """A character grid: a glyph, packed foreground / background colours and a bold flag per cell.

    `strips()` turns it into one `Strip` per row, joining neighbouring cells of equal
    colours into one segment (spaces join any glyph on their background, see
    `run_foregrounds`); a run of spaces alone gets a background-only style.
    """

    _styles: ClassVar[dict[tuple[int, int, bool], Style]] = {}

    def __init__(self, width: int, height: int, fg: RGB, bg: RGB) -> None:
        self.width, self.height = width, height
        self.chars = np.full((height, width), " ", dtype="<U1")
        self.fg = np.full((height, width), pack_rgb(bg), dtype=np.int64)
        self.bg = np.full((height, width), pack_rgb(bg), dtype=np.int64)
        self.bold = np.zeros((height, width), dtype=bool)
        self.text_fg = pack_rgb(fg)
        self.background = pack_rgb(bg)
        self._strips: list[Strip] | None = None

    def text(self, x: int, y: int, text: str, fg: RGB | int | None = None, bg: RGB | int | None = None,
             *, bold: bool = False) -> int:
        """Write `text` from cell (x, y), clipped to the canvas; returns the x after it."""
        if not 0 <= y < self.height or x >= self.width:
            return x + len(text)
        chars = list(text)[: max(0, self.width - x)]
        if x < 0:
            chars, x = chars[-x:], 0
        end = x + len(chars)
        if chars:
            self.chars[y, x:end] = chars
            self.fg[y, x:end] = self.text_fg if fg is None else _packed(fg)
            if bg is not None:
                self.bg[y, x:end] = _packed(bg)
            if bold:
                self.bold[y, x:end] = True
        return end

    def image(self, x: int, y: int, pixels: np.ndarray, split: np.ndarray | None = None) -> None:
        """Paint `pixels` (`(2R, C)` packed or `(2R, C, 3)` RGB; an odd last row is padded with
        the background) with its top-left pixel in cell (x, y), clipped to the canvas."""
        if pixels.shape[0] % 2:
            pad = np.empty((1, *pixels.shape[1:]), dtype=pixels.dtype)
            pad[...] = self.background if pixels.ndim == 2 else unpack_rgb(self.background)
            pixels = np.concatenate([pixels, pad])
        chars, top, bottom = half_block_cells(pixels, split)
        rows, cols = chars.shape
        r0, c0 = max(0, -y), max(0, -x)
        r1, c1 = min(rows, self.height - y), min(cols, self.width - x)
        if r1 <= r0 or c1 <= c0:
            return
        cells = (slice(y + r0, y + r1), slice(x + c0, x + c1))
        self.chars[cells] = chars[r0:r1, c0:c1]
        self.fg[cells] = top[r0:r1, c0:c1]
        self.bg[cells] = bottom[r0:r1, c0:c1]

    def row_text(self, y: int) -> str:
        return "".join(self.chars[y])

    def strip(self, y: int) -> Strip:
        """Row `y` as a strip (see `strips`)."""
        return self.strips()[y]

    def strips(self) -> list[Strip]:
        """Every row as a strip, built once (vectorised over the whole canvas)."""
        if self._strips is not None:
            return self._strips
        height, width = self.height, self.width
        if not width or not height:
            self._strips = [Strip.blank(width) for _ in range(height)]
            return self._strips
        fg = run_foregrounds(self.chars, self.fg, self.bg)
        key = (fg << 25) | (self.bg << 1) | self.bold
        starts_mask = np.ones((height, width), dtype=bool)
        starts_mask[:, 1:] = key[:, 1:] != key[:, :-1]
        flat = np.flatnonzero(starts_mask)
        rows, starts = np.divmod(flat, width)
        last = np.r_[rows[1:] != rows[:-1], True]
        ends = np.where(last, width, np.r_[starts[1:], 0])
        run_fg, run_bg = fg.ravel()[flat].tolist(), self.bg.ravel()[flat].tolist()
        run_bold = self.bold.ravel()[flat].tolist()
        texts = ["".join(row) for row in self.chars.tolist()]
        style = self._style
        segments: list[list[Segment]] = [[] for _ in range(height)]
        for r, s, e, f, b, bold in zip(rows.tolist(), starts.tolist(), ends.tolist(), run_fg, run_bg, run_bold):
            segments[r].append(Segment(texts[r][s:e], style(f, b, bold)))
        self._strips = [Strip(row, width) for row in segments]
        return self._strips

    def changed_regions(self, other: Canvas | None, gap: int = SPAN_GAP) -> list[Region] | None:
        """The parts that differ from `other`, one-row regions spanning the changed cells
        (split where more than `gap` unchanged cells lie between two changes); None when the
        sizes differ (everything changed)."""
        if other is None or (other.width, other.height) != (self.width, self.height):
            return None
        diff = ((self.chars != other.chars) | (self.fg != other.fg) | (self.bg != other.bg)
                | (self.bold != other.bold))
        rows, cols = np.divmod(np.flatnonzero(diff), self.width)
        if not rows.size:
            return []
        new = np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] - cols[:-1] > gap + 1)]
        first = np.flatnonzero(new)
        last = np.r_[first[1:] - 1, rows.size - 1]
        return [Region(int(cols[a]), int(rows[a]), int(cols[b] - cols[a] + 1), 1) for a, b in zip(first, last)]

    @classmethod
    def _style(cls, fg: int, bg: int, bold: bool = False) -> Style:
        style = cls._styles.get((fg, bg, bold))
        if style is None:
            bgcolor = RichColor.from_rgb(*unpack_rgb(bg))
            if fg == bg and not bold:
                style = Style(bgcolor=bgcolor)
            else:
                style = Style(color=RichColor.from_rgb(*unpack_rgb(fg)), bgcolor=bgcolor, bold=bold or None)
            if len(cls._styles) > 4096:
                cls._styles.clear()
            cls._styles[(fg, bg, bold)] = style
        return style

"""Live training plots: loss and the main metric per epoch, and the smoothed per-batch loss.

The plots get plain numbers through public methods, never the model or the session.

Cost: every setter compares the new data with the data drawn and does nothing when it is
the same, so an idle plot never redraws. A change redraws at once, unless the plot redrew
less than `min_interval` seconds ago: then one redraw of the newest data is deferred to the
end of that interval (`ThrottledRedraw`: a one-shot timer, armed only by a change; nothing
polls), and data-driven redraws of all plots take turns app-wide (`redraw_slot`). A 60x15
plot costs about 3 KB of terminal output per redraw, so one redraw a second per plot keeps
the app well under 25 KB/s however fast the session emits events. The figure itself is
built in `render()`, so a resize or a theme change redraws from the stored data with the
right width and colours.

NO_COLOR-safe: the series differ by marker and label, never by colour alone: train is a
braille line, val a line of `•`; the raw batch losses a faint cloud of `·`, the smoothed
curve a bold braille line. Colours come from the app theme (`$primary`, `$accent`,
`$surface`).

The epoch plots can also show up to `MAX_GHOSTS` earlier runs ("ghosts") as faint lines,
each with its own marker (`GHOST_MARKERS`: `∘`, `˙`, `×`) and label, and a replay cursor: a
vertical line `│` at the replayed epoch, named in the title ("loss (replay epoch 50)").
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar, Literal

import numpy as np
from rich.align import Align
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.color import Color
from textual.events import Resize
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual_plotext import PlotextPlot

from tuinet.app.arrays import ListMirror
from tuinet.app.widgets.throttle import DEFAULT_MIN_INTERVAL, ThrottledRedraw

__all__ = [
    "BatchLossPlot",
    "LossPlot",
    "MetricPlot",
    "SeriesPlot",
    "TrainingPlots",
    "downsample",
    "main_metric",
    "smooth",
]

TRAIN_MARKER = "braille"  # a thin line
VAL_MARKER = "dot"  # "•": a different shape, so train and val differ without colour
RAW_MARKER = "·"  # per-batch losses: a faint cloud of middle dots (scatter, no joining lines)
SMOOTH_MARKER = "braille"  # the smoothed curve: a joined braille line, bold
GHOST_MARKERS = ("∘", "˙", "×")  # earlier runs, newest first: none is a live run's marker
MAX_GHOSTS = len(GHOST_MARKERS)  # earlier runs shown at most (the newest ones)
_GLYPHS = {"braille": "⢕", "dot": "•", "hd": "▞", "fhd": "🬗", "sd": "█"}  # legend glyph of a marker
MIN_PLOT_SIZE = (16, 5)  # below this a plotext figure is unreadable: show the placeholder
LEGEND_MIN_HEIGHT = 12  # shorter plots name their series in the title instead of a legend box
VALUE_RANGE = (1e-150, 1e150)  # |y| beyond the top is not drawn, below the bottom is drawn as 0:
# plotext's tick arithmetic overflows near the ends of the float range (e.g. 1e308, 1e-320)
_NOT_METRICS = frozenset({"loss", "learning_rate", "lr"})


# ---------------------------------------------------------------------- pure helpers
def smooth(values: Sequence[float], weight: float = 0.6) -> list[float]:
    """TensorBoard's debiased exponential moving average of `values`.

    `last = weight * last + (1 - weight) * value`, divided by `1 - weight ** n` (n: finite
    values seen so far) so the start is not pulled towards zero. Non-finite values do not
    enter the average: their output carries the last smoothed value (NaN before the first
    finite one). A constant series comes back unchanged, as in TensorBoard.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight!r}")
    floats = [float(v) for v in values]
    finite = [v for v in floats if math.isfinite(v)]
    constant = bool(finite) and all(v == finite[0] for v in finite)
    out: list[float] = []
    last = 0.0
    count = 0
    carried = math.nan
    for value in floats:
        if math.isfinite(value):
            if constant:
                carried = value
            elif count == 0:  # debiased, the first value is itself (exactly, not to rounding)
                last = (1.0 - weight) * value
                count = 1
                carried = value
            else:
                last = last * weight + (1.0 - weight) * value
                count += 1
                carried = last / (1.0 - weight**count)
        out.append(carried)
    return out


def downsample(values: Sequence[float], max_points: int,
               x: Sequence[float] | None = None) -> tuple[list[float], list[float]]:
    """At most `max_points` (x, y) pairs: the means of consecutive, near-equal buckets.

    `x` defaults to the indices 0..n-1. Non-finite values are ignored; a bucket without any
    finite value is dropped. With `len(values) <= max_points` only the non-finite points go.
    Bucket sizes differ by at most one, so the size-weighted mean of the result equals the
    mean of the finite inputs.
    """
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points!r}")
    y = np.asarray(values, dtype=float).ravel()
    n = y.size
    xs = np.arange(n, dtype=float) if x is None else np.asarray(x, dtype=float).ravel()
    if xs.size != n:
        raise ValueError(f"x has {xs.size} values for {n} y values")
    finite = np.isfinite(y)
    if n <= max_points:
        return xs[finite].tolist(), y[finite].tolist()
    starts = np.linspace(0, n, max_points + 1).round().astype(int)[:-1]
    counts = np.add.reduceat(finite.astype(np.int64), starts)
    y_sums = np.add.reduceat(np.where(finite, y, 0.0), starts)
    x_sums = np.add.reduceat(np.where(finite, xs, 0.0), starts)
    keep = counts > 0
    return (x_sums[keep] / counts[keep]).tolist(), (y_sums[keep] / counts[keep]).tolist()


def main_metric(keys: Iterable[str]) -> str | None:
    """The first key that is a training metric: not "loss", the learning rate, `val_*` or `test_*`."""
    for key in keys:
        if key not in _NOT_METRICS and not key.startswith(("val_", "test_")):
            return key
    return None


def _int_ticks(first: int, last: int, max_ticks: int) -> list[int]:
    """Integer ticks from `first` to `last` on a 1-2-5 step, at most about `max_ticks` of them."""
    if last <= first:
        return [first]
    max_ticks = max(2, max_ticks)
    step = scale = 1
    while (last - first) // step + 1 > max_ticks:
        step = next((m * scale for m in (1, 2, 5) if (last - first) // (m * scale) + 1 <= max_ticks), 10 * scale)
        scale *= 10
    if step == 1:
        return list(range(first, last + 1))
    multiples = list(range(-(-first // step) * step, last + 1, step))
    if not multiples or multiples[0] - first > step / 2:
        multiples.insert(0, first)
    return multiples


class _MatrixFigure:
    """A plotext character matrix as Rich segments: one segment per run of equal colours."""

    _styles: ClassVar[dict[tuple, Style]] = {}

    def __init__(self, lines: list[list[Segment]]) -> None:
        self.lines = lines

    @classmethod
    def from_matrix(cls, matrix) -> "_MatrixFigure":
        lines = []
        for row in reversed(range(matrix.rows)):
            markers, fgs, styles, bgs = matrix.marker[row], matrix.fullground[row], matrix.style[row], matrix.background[row]
            segments: list[Segment] = []
            start, key = 0, None
            for col in range(len(markers)):
                here = (fgs[col], styles[col], bgs[col])
                if here != key:
                    if key is not None:
                        segments.append(Segment("".join(markers[start:col]), cls._style(key)))
                    start, key = col, here
            if key is not None:
                segments.append(Segment("".join(markers[start:]), cls._style(key)))
            lines.append(segments)
        return cls(lines)

    @classmethod
    def _style(cls, key: tuple) -> Style:
        style = cls._styles.get(key)
        if style is None:
            from plotext import _utility

            text = Text.from_ansi(_utility.colors_to_ansi(*key) + "x")
            style = text.get_style_at_offset(_CONSOLE, 0) if text.spans else Style()
            cls._styles[key] = style
        return style

    def __rich_console__(self, console, options):
        new_line = Segment.line()
        for line in self.lines:
            yield from line
            yield new_line


_CONSOLE = Console()

REDRAW_SPACING = 0.08  # seconds between two data-driven plot redraws, app-wide


def redraw_slot(app, earliest: float) -> float:
    """Book the first redraw time at or after `earliest` (time.monotonic) that keeps data-driven
    plot redraws `REDRAW_SPACING` apart and clear of the last key press (`app.input_quiet_until`)."""
    start = max(earliest, getattr(app, "_redraw_slot", -math.inf), getattr(app, "input_quiet_until", -math.inf))
    app._redraw_slot = start + getattr(app, "redraw_spacing", REDRAW_SPACING)
    return start


def _join_runs(strip: Strip) -> Strip:
    """The strip with its mouse-offset meta dropped and touching segments of equal style joined."""
    segments = [
        Segment(text, style.clear_meta_and_links() if style is not None else None, control)
        for text, style, control in strip
    ]
    return Strip(Segment.simplify(segments), strip.cell_length)


def _tame(value: float) -> float:
    """`value`, or 0.0 when it is too close to zero for plotext's tick arithmetic."""
    return 0.0 if abs(value) < VALUE_RANGE[0] else value


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _same(a: Sequence[float], b: Sequence[float]) -> bool:
    """Equal series, NaN equal to NaN."""
    if len(a) != len(b):
        return False
    if a == b:
        return True
    return bool(np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True))


def _epochs_of(history: Mapping[str, Sequence[float]], n: int) -> list[int]:
    """The 1-based epoch of each of the `n` entries of `history`: its `epochs` when it has
    them (a thinned `tuinet.run.EpochHistory`), else 1..n."""
    epochs = getattr(history, "epochs", None)
    if epochs is not None and len(epochs) >= n:
        return [int(e) for e in list(epochs)[:n]]
    return list(range(1, n + 1))


class GhostHistory(dict):
    """An earlier run's history as tuples of floats (keys in their order), with `epochs`."""

    epochs: tuple[int, ...] = ()


Ghost = tuple[str, GhostHistory]  # (label, Keras-style history as float tuples)


def _ghost(label: object, history: Mapping[str, Sequence[float]]) -> Ghost:
    """One earlier run: its label and its history as tuples of floats (keys in their order)."""
    series = GhostHistory()
    for key, values in history.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
            continue  # not a per-epoch series
        series[str(key)] = tuple(_as_float(v) for v in values)
    series.epochs = tuple(_epochs_of(history, max((len(v) for v in series.values()), default=0)))
    return str(label), series


def _same_ghosts(a: Sequence[Ghost], b: Sequence[Ghost]) -> bool:
    """Equal ghost lists: the same labels, keys, epochs and series (NaN equal to NaN)."""
    return len(a) == len(b) and all(
        label_a == label_b and history_a.keys() == history_b.keys() and history_a.epochs == history_b.epochs
        and all(_same(history_a[key], history_b[key]) for key in history_a)
        for (label_a, history_a), (label_b, history_b) in zip(a, b)
    )


# ---------------------------------------------------------------------- widgets
class SeriesPlot(ThrottledRedraw, PlotextPlot):
    """Base of the training plots: a titled figure, a log-scale switch and redraw bookkeeping.

    Subclasses keep their data in plain attributes, call `_changed()` when a setter really
    changed it (`ThrottledRedraw`), and plot it in `_draw()`. `render()` builds the figure
    from that data, or shows `placeholder` (a line of text) when there is nothing to draw.
    """

    DEFAULT_CSS = """
    SeriesPlot {
        width: 1fr;
        height: 1fr;
        min-width: 16;
        min-height: 5;
    }
    """

    ALLOW_SELECT = False

    BASE_TITLE: ClassVar[str] = ""

    WAIT_WHEN_HIDDEN = True  # a hidden tab is drawn when shown (on_show), in its turn
    TIMER_NAME = "plot-redraw"

    log_scale: reactive[bool] = reactive(False)
    """Draw the y axis on a log10 scale; values <= 0 are left out. The title shows "(log)"."""

    def __init__(self, *, min_interval: float = DEFAULT_MIN_INTERVAL, name: str | None = None,
                 id: str | None = None, classes: str | None = None,  # noqa: A002
                 disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.min_interval = float(min_interval)
        """Seconds between two data-driven redraws (0: redraw on every change)."""
        self.draw_count = 0
        """How many times `render()` ran (figure or placeholder)."""
        self.drawn_points = 0
        """Points of the longest series in the last figure drawn (0 for a placeholder)."""
        self.drawn_labels: list[str] = []
        """Labels of the series in the last figure drawn, in drawing order (empty for a placeholder)."""
        self._title_legend: list[str] = []
        self._figure: tuple | None = None  # ((size, scale, theme), the last renderable)
        self._strips: tuple | None = None  # ((that key, crop), the last lines)
        self._reuse = False  # hidden and shown again, no new data drawn since: reuse the above

    def render(self) -> RenderResult:
        # A tab shown again (hidden widgets have no size, so Textual renders them anew) gets
        # the figure it last had at this size at once; newer data follows in its redraw turn.
        key = self._figure_key()
        if self._reuse and self._figure is not None and key == self._figure[0]:
            return self._figure[1]
        figure = self._render_figure()
        self._figure = (key, figure)
        return figure

    def _plotext_figure(self) -> RenderResult:
        """`PlotextPlot.render()` without the round trip through ANSI text.

        plotext builds a character matrix, writes it out as one string of escape sequences,
        and textual-plotext parses that back into a `Text`: for a 120x18 figure the string
        and the parse cost more than the plot itself. Here the matrix becomes segments
        directly, one per run of equal colours. Should plotext's internals ever differ, the
        ordinary path is taken.
        """
        width, height = self.size
        plot = self._plot
        plot.plotsize(width, height)
        plot._set_size(width, height)  # as PlotextPlot.render does (textual-plotext issue 5)
        plot.theme(self._get_plotext_theme_name(self.app.theme))
        try:
            plot._set_sizes()
            plot._build_matrix()
            self._fit_title(plot.monitor)
            return _MatrixFigure.from_matrix(plot.monitor.matrix)
        except (AttributeError, IndexError, TypeError, ValueError):  # pragma: no cover - another plotext
            return Text.from_ansi(plot.build())

    def _fit_title(self, monitor) -> None:
        """Put a shortened title on a figure whose title plotext left out for being too long.

        plotext draws a title only when it fits on the canvas, whole. The series named in the
        title (short plots) are then left out from the last one on, and the name itself is cut
        with "…" as a last resort: the title, and a "replay" note in it, never just vanish.
        """
        matrix = monitor.matrix
        if matrix.rows < 2:
            return
        top, frame = "".join(matrix.marker[matrix.rows - 1]), "".join(matrix.marker[matrix.rows - 2])
        if top.strip() or "┌" not in frame or "┐" not in frame:
            return  # drawn (or a layout this does not know)
        start, end = frame.index("┌") + 1, frame.index("┐")
        center = start + (end - start) // 2
        fits = [n for n in range(len(top), 0, -1) if center - n // 2 >= 0 and center - n // 2 + n <= len(top)]
        if not fits:
            return
        room = fits[0]
        title = self.plot_title if len(self.plot_title) <= room else self.plot_title[: room - 1] + "…"
        for entry in self._title_legend:
            if len(title) + 3 + len(entry) > room:
                break
            title += "   " + entry
        matrix.add_horizontal_string(center, matrix.rows - 1, title, monitor.ticks_color, monitor.ticks_style,
                                     alignment="center")

    def _figure_key(self) -> tuple:
        return (self.size, self.log_scale, self.app.theme)  # the palette follows the theme

    def on_hide(self) -> None:
        self._reuse = True

    def redraw(self) -> None:
        """Draw the current data now (no throttle, no reuse of the last figure)."""
        self._reuse = False
        self.refresh()

    def _render_figure(self) -> RenderResult:
        self.draw_count += 1
        self._dirty = False
        self._last_draw = time.monotonic()
        message = self.placeholder
        width, height = self.size
        if message is None and (width < MIN_PLOT_SIZE[0] or height < MIN_PLOT_SIZE[1]):
            message = "too small to plot"
        if message is None:
            plt = self.plt
            plt.clear_figure()
            if self.log_scale:
                plt.yscale("log")
            self._title_legend = []
            self.drawn_labels = []
            try:
                self.drawn_points = self._draw(self._palette())
                plt.title("   ".join([self.plot_title, *self._title_legend]))
                return self._plotext_figure()
            except Exception as error:  # a plotting glitch must not take the app down
                self.log.error(f"{type(self).__name__} could not draw: {error!r}")
                message = "could not draw these values"
        self.drawn_points = 0
        self.drawn_labels = []
        text = Text(self.plot_title, style="bold", justify="center")
        text.append("\n")
        text.append(message, style="dim")
        return Align.center(text, vertical="middle")

    def render_lines(self, crop: Region) -> list[Strip]:
        # plotext starts a new run for every tick label and gap, and Textual tags each run with
        # its mouse offset; a plot needs neither, and each run costs a full escape sequence on
        # the wire, so runs of equal style are joined (about a third fewer bytes per redraw).
        key = (self._figure_key(), crop)
        if self._reuse and self._strips is not None and self._strips[0] == key:
            return list(self._strips[1])
        strips = [_join_runs(strip) for strip in super().render_lines(crop)]
        self._strips = (key, strips)
        return strips

    # -- public ------------------------------------------------------------------------------
    @property
    def plot_title(self) -> str:
        """The title drawn on top: the series name, plus notes such as "(log)" on a log scale."""
        notes = ["log"] if self.log_scale else []
        notes += self._title_notes()
        return f"{self._title()} ({', '.join(notes)})" if notes else self._title()

    @property
    def placeholder(self) -> str | None:
        """The message shown instead of a figure, or None when there is something to draw."""
        return None

    def clear(self) -> None:
        """Forget all data."""
        raise NotImplementedError

    # -- for subclasses ----------------------------------------------------------------------
    def _title(self) -> str:
        return self.BASE_TITLE

    def _title_notes(self) -> list[str]:
        """Notes after the title, in its parentheses after "log" (e.g. "replay epoch 50")."""
        return []

    def _draw(self, palette: dict[str, tuple[int, int, int]]) -> int:
        """Plot the stored data on `self.plt`; return the number of points of the longest series."""
        raise NotImplementedError

    def _next_draw(self, now: float) -> float:
        """Data-driven redraws also take turns with every other plot of the app (`redraw_slot`):
        building a figure takes the UI 10-30 ms, and three of them in one frame would hold a
        key press back for a tenth of a second."""
        due = self._last_draw + self.min_interval
        return redraw_slot(self.app, max(due, now)) if self.min_interval > 0 else due

    def _draw_now(self) -> None:
        self.redraw()

    def on_show(self) -> None:
        if self._dirty:
            self._changed()

    def _redraw_now(self) -> None:
        """The view changed on user input (a cursor moved, a layer toggled): redraw at once.

        Unlike `_changed()` this waits neither for `min_interval` nor for a redraw slot; a
        hidden plot is redrawn when shown (`on_show`).
        """
        self._dirty = True
        if not self.is_mounted or (self.min_interval > 0 and not self.is_on_screen):
            return
        self.redraw()

    def _series(self, xs: Sequence[float], ys: Sequence[float], *, label: str, marker: str,
                color: tuple[int, int, int], joined: bool = True, style: str | None = None) -> int:
        """Add one series to the figure, named in a legend box (in the title when the plot is short)."""
        if not xs:
            return 0
        self.drawn_labels.append(label)
        legend = self.size.height >= LEGEND_MIN_HEIGHT
        draw = self.plt.plot if joined else self.plt.scatter
        draw(list(xs), list(ys), marker=marker, color=color, style=style, label=label if legend else None)
        if not legend:
            self._title_legend.append(f"{_GLYPHS.get(marker, marker)} {label}")
        return len(xs)

    def _drawable(self, value: float) -> bool:
        """Finite, within `VALUE_RANGE`, and positive on a log scale."""
        value = _tame(value)
        return math.isfinite(value) and abs(value) <= VALUE_RANGE[1] and (value > 0.0 or not self.log_scale)

    def _points(self, xs: Iterable[float], ys: Iterable[float]) -> tuple[list[float], list[float]]:
        """The drawable (x, y) pairs, as two lists."""
        kept = [(x, _tame(y)) for x, y in zip(xs, ys) if self._drawable(y)]
        return [x for x, _ in kept], [y for _, y in kept]

    def _unplottable(self) -> str:
        return "no positive values for a log scale" if self.log_scale else "no drawable values (NaN, inf, huge)"

    def _palette(self) -> dict[str, tuple[int, int, int]]:
        """Series colours from the theme: train `$primary`, val `$accent`, faint: primary on `$surface`."""
        variables = self.app.theme_variables

        def color(name: str, fallback: str) -> Color:
            try:
                return Color.parse(variables.get(name) or fallback)
            except Exception:  # a theme variable that is not a plain colour
                return Color.parse(fallback)

        primary = color("primary", "#0178D4")
        accent = color("accent", "#FFA62B")
        surface = color("surface", "#1E1E1E")
        return {"train": primary.rgb, "val": accent.rgb, "faint": primary.blend(surface, 0.5).rgb,
                "ghost_train": primary.blend(surface, 0.6).rgb, "ghost_val": accent.blend(surface, 0.6).rgb,
                "cursor": color("foreground", "#E0E0E0").rgb}

    def _set_int_xticks(self, first: int, last: int) -> None:
        ticks = _int_ticks(first, last, max(2, (self.size.width - 8) // 6))
        self.plt.xticks(ticks, [str(t) for t in ticks])


class _EpochPlot(SeriesPlot):
    """A training series and its validation twin, one value per epoch, against epoch 1, 2, ...

    Behind them up to `MAX_GHOSTS` earlier runs ("ghosts", `set_ghosts`) as faint lines, one
    per run: its validation values when it has them, else its training values, each run with
    its own marker from `GHOST_MARKERS` (the newest `∘`) and its label in the legend. A replay
    cursor (`set_cursor`) is a vertical line at the replayed epoch, named in the title.
    """

    WAITING: ClassVar[str] = "waiting for the first epoch"

    show_ghosts: reactive[bool] = reactive(True, repaint=False, init=False)
    """Draw the ghosts (earlier runs); hidden ones stay stored."""

    def __init__(self, *, min_interval: float = DEFAULT_MIN_INTERVAL, name: str | None = None,
                 id: str | None = None, classes: str | None = None,  # noqa: A002
                 disabled: bool = False) -> None:
        super().__init__(min_interval=min_interval, name=name, id=id, classes=classes, disabled=disabled)
        self.train_values: list[float] = []
        """One training value per epoch (NaN where an epoch had none)."""
        self.val_values: list[float] = []
        """One validation value per epoch (NaN where missing), or empty without validation."""
        self.epochs: list[int] = []
        """The 1-based epoch (the x) of each value, increasing."""
        self._arrays = (ListMirror(), ListMirror(), ListMirror())  # the two lists as arrays, for drawing long runs
        self.ghosts: tuple[Ghost, ...] = ()
        """Earlier runs, oldest first: (label, history with float tuples) pairs, at most `MAX_GHOSTS`."""
        self.cursor: int | None = None
        """Epochs completed at the replayed frame (drawn as a vertical line at x = cursor), or None."""

    def watch_show_ghosts(self) -> None:
        if self.ghosts:
            self._redraw_now()

    # -- public ------------------------------------------------------------------------------
    @property
    def placeholder(self) -> str | None:
        ghosts = self._ghost_series()
        if not self.train_values and not ghosts:
            return self.WAITING
        if any(self._drawable(v) for v in itertools.chain(self.train_values, self.val_values)):
            return None
        if any(self._drawable(v) for _, _, _, values, _ in ghosts for v in values):
            return None  # the live run has nothing to draw (yet): the ghosts alone
        return self._unplottable() if self.train_values else self.WAITING

    def set_ghosts(self, ghosts: Sequence[tuple[str, Mapping[str, Sequence[float]]]]) -> None:
        """Show these earlier runs, oldest first, as faint lines (the `MAX_GHOSTS` newest).

        Each is a (label, Keras-style history) pair, e.g. `("lr 0.03", {"loss": [...],
        "val_loss": [...]})`; the label names it in the legend. A no-op when they are the
        ones drawn. The ghosts stay when the live data is cleared.
        """
        kept = tuple(_ghost(label, history) for label, history in list(ghosts)[-MAX_GHOSTS:])
        if _same_ghosts(kept, self.ghosts):
            return
        shown = bool(self._ghost_series())
        self.ghosts = kept
        if shown or self._ghost_series():
            self._changed()

    def set_cursor(self, epoch: int | None) -> None:
        """Mark the replayed frame: `epoch` epochs completed (0: the initial weights), or None.

        A vertical line at x = `epoch` (where the live series has its epoch-`epoch` value) and
        "replay epoch N" in the title. A changed cursor redraws at once (it follows a key);
        the same cursor again does nothing.
        """
        if self._move_cursor(epoch):
            self._redraw_now()

    def add_epoch(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Record the logs of the finished 0-based `epoch` (drawn at x = epoch + 1).

        An epoch at or below the last one recorded replaces the tail (a reset restarts at 0).
        A skipped epoch is no gap to fill: each value is drawn at its own epoch, so a thinned
        history (`tuinet.run.EpochHistory`) stays as short on the plot as it is.
        """
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch!r}")
        train_key, val_key = self._keys(logs)
        if train_key is None:
            return
        x = epoch + 1
        has_val = val_key in logs
        if (not self.epochs or x > self.epochs[-1]) and has_val == bool(self.val_values or not self.epochs):
            # the next epoch (the usual case): append in place, O(1) however long the run
            self.epochs.append(x)
            self.train_values.append(_as_float(logs.get(train_key)))
            if has_val:
                self.val_values.append(_as_float(logs.get(val_key)))
            self._changed()
            return
        keep = bisect.bisect_left(self.epochs, x)
        xs = self.epochs[:keep] + [x]
        train = self.train_values[:keep] + [_as_float(logs.get(train_key))]
        val: list[float] = []
        if self.val_values[:keep] or has_val:
            val = self.val_values[:keep] + [math.nan] * (keep - len(self.val_values[:keep]))
            val.append(_as_float(logs.get(val_key)))
        self._replace(train, val, epochs=xs)

    def set_history(self, history: Mapping[str, Sequence[float]]) -> None:
        """Replace everything with a Keras-style history (`{"loss": [...], "val_loss": [...]}`).

        Entry i is drawn at epoch `history.epochs[i]` when the history has `epochs` (a
        thinned `EpochHistory`), else at epoch i + 1.
        """
        relabelled = self._choose_keys(history)
        train_key, val_key = self._keys(history)
        train = [_as_float(v) for v in history.get(train_key, ())] if train_key else []
        val = [_as_float(v) for v in history.get(val_key, ())] if val_key else []
        n = max(len(train), len(val))
        train += [math.nan] * (n - len(train))
        if val:
            val += [math.nan] * (n - len(val))
        self._replace(train, val, force=relabelled, epochs=_epochs_of(history, n))

    def clear(self) -> None:
        """Forget the live data; the ghosts and the cursor stay."""
        self._replace([], [], force=self._choose_keys(None), epochs=[])

    # -- private -----------------------------------------------------------------------------
    def _keys(self, logs: Mapping[str, object]) -> tuple[str | None, str]:
        """The (train, val) log keys drawn; train None when there is nothing to draw."""
        raise NotImplementedError

    def _choose_keys(self, history: Mapping[str, object] | None) -> bool:
        """Hook for `set_history` (a history) and `clear` (None); True when the title changed."""
        return False

    def _ghost_keys(self, history: Mapping[str, object]) -> tuple[str | None, str]:
        """The (train, val) keys of a ghost's history drawn; train None when it has nothing to draw."""
        return self._keys(history)

    def _move_cursor(self, epoch: int | None) -> bool:
        """Store the cursor without drawing; True when it changed (the plot is then dirty)."""
        if epoch is not None:
            epoch = int(epoch)
            if epoch < 0:
                raise ValueError(f"cursor epoch must be >= 0, got {epoch!r}")
        if epoch == self.cursor:
            return False
        self.cursor = epoch
        self._dirty = True
        return True

    def _ghost_series(self) -> list[tuple[str, str, Sequence[int], Sequence[float], bool]]:
        """(label, marker, epochs, values, values are val) of each shown ghost with values, oldest first."""
        if not self.show_ghosts:
            return []
        series = []
        for age, (label, history) in enumerate(reversed(self.ghosts)):
            train_key, val_key = self._ghost_keys(history)
            if train_key is None:
                continue
            values: Sequence[float] = history.get(val_key, ())
            is_val = any(math.isfinite(v) for v in values)
            if not is_val:
                values = history.get(train_key, ())
            if values:
                series.append((label, GHOST_MARKERS[age], history.epochs[:len(values)], values, is_val))
        return series[::-1]

    def _title_notes(self) -> list[str]:
        return [] if self.cursor is None else [f"replay epoch {self.cursor}"]

    def _figure_key(self) -> tuple:
        return (*super()._figure_key(), self.cursor, self.show_ghosts)

    def _epoch_points(self, values: Sequence[float], epochs: Sequence[int],
                      array: ListMirror | None = None,
                      x_array: ListMirror | None = None) -> tuple[list[float], list[float]]:
        """The drawable points of a per-epoch series (value i at x = epochs[i]), downsampled when long."""
        limit = 2 * max(self.size.width, 20)
        if len(values) > limit:
            # thousands of epochs: bucket means, two per column, keep drawing O(width)
            ys = values if array is None else array.view(values)
            xs = epochs if x_array is None else x_array.view(epochs)
            return self._points(*downsample(ys, limit, x=xs))
        return self._points(epochs, values)

    def _replace(self, train: list[float], val: list[float], *, force: bool = False,
                 epochs: list[int] | None = None) -> None:
        if epochs is None:
            epochs = list(range(1, len(train) + 1))
        if (not force and _same(train, self.train_values) and _same(val, self.val_values)
                and epochs == self.epochs):
            return
        self.epochs = epochs
        self.train_values = train
        self.val_values = val
        self._changed()

    def _draw(self, palette: dict[str, tuple[int, int, int]]) -> int:
        longest = 0
        first, last = 1, self.epochs[-1] if self.epochs else 0
        for label, marker, epochs, values, is_val in self._ghost_series():  # first: the live run draws on top
            xs, ys = self._epoch_points(values, epochs)
            colour = palette["ghost_val" if is_val else "ghost_train"]
            longest = max(longest, self._series(xs, ys, label=label, marker=marker, color=colour))
            last = max(last, epochs[-1] if epochs else 0)
        ghost_entries, self._title_legend = self._title_legend[::-1], []  # named after the live run, newest first
        for values, array, label, marker, colour in (
            (self.train_values, self._arrays[0], "train", TRAIN_MARKER, palette["train"]),
            (self.val_values, self._arrays[1], "val", VAL_MARKER, palette["val"]),
        ):
            xs, ys = self._epoch_points(values, self.epochs, array, self._arrays[2])
            longest = max(longest, self._series(xs, ys, label=label, marker=marker, color=colour))
        self._title_legend += ghost_entries
        cursor = self.cursor
        if cursor is not None:
            # drawn under the series like a grid line, `│` whatever the colours; plotext widens
            # the x range to take it in (x = 0: the initial weights, left of epoch 1)
            self.plt.vline(cursor, palette["cursor"])
            first, last = min(first, cursor), max(last, cursor)
        self._set_int_xticks(first, last)
        if first == last:
            self.plt.xlim(first - 0.5, last + 0.5)
        elif cursor is not None and cursor in (first, last):
            # a column of room between the cursor and the frame, so it does not read as the axis
            pad = (last - first) / max(self.size.width - 12, 8)
            self.plt.xlim(first - pad if cursor == first else None, last + pad if cursor == last else None)
        return longest


class LossPlot(_EpochPlot):
    """Training and validation loss per epoch: "train" a braille line, "val" a line of `•`."""

    BASE_TITLE = "loss"

    @property
    def train_losses(self) -> list[float]:
        """The per-epoch training losses (the `loss` log; NaN for a missing epoch)."""
        return self.train_values

    @property
    def val_losses(self) -> list[float]:
        """The per-epoch validation losses (`val_loss`), empty without validation."""
        return self.val_values

    def _keys(self, logs: Mapping[str, object]) -> tuple[str | None, str]:
        return "loss", "val_loss"


class MetricPlot(_EpochPlot):
    """The main metric per epoch (the first non-loss log, e.g. "accuracy" or "mae") and its val_ twin.

    The metric is picked from the first logs or history seen; an empty history with keys
    (`{"loss": [], "accuracy": []}`) declares it before training starts, one without a metric
    (`{"loss": []}`) declares there is none. Without a metric the plot says so in words.
    """

    NO_METRIC: ClassVar[str] = "no metric: add one in the hyperparameters"

    def __init__(self, *, min_interval: float = DEFAULT_MIN_INTERVAL, name: str | None = None,
                 id: str | None = None, classes: str | None = None,  # noqa: A002
                 disabled: bool = False) -> None:
        super().__init__(min_interval=min_interval, name=name, id=id, classes=classes, disabled=disabled)
        self.metric: str | None = None
        """The metric drawn, e.g. "accuracy"; None before it is known, or without one."""
        self.metric_known = False
        """False until logs or a history said which metric there is (or that there is none)."""

    @property
    def placeholder(self) -> str | None:
        if self.metric is None:
            if self.metric_known:
                return self.NO_METRIC
            if not self._ghost_series():
                return self.WAITING
        return super().placeholder

    def _title(self) -> str:
        if self.metric is None and not self.metric_known and self.show_ghosts:
            return self._ghost_metric() or "metric"
        return self.metric or "metric"

    def _ghost_metric(self) -> str | None:
        """The metric the ghosts are drawn with: the live one once known, else the newest ghost's."""
        if self.metric_known:
            return self.metric
        return next((m for m in (main_metric(history) for _, history in reversed(self.ghosts)) if m), None)

    def _ghost_keys(self, history: Mapping[str, object]) -> tuple[str | None, str]:
        metric = self._ghost_metric()
        return (metric, f"val_{metric}") if metric else (None, "")

    def _keys(self, logs: Mapping[str, object]) -> tuple[str | None, str]:
        if not self.metric_known:
            self._choose_keys(logs)
        return (self.metric, f"val_{self.metric}") if self.metric else (None, "")

    def _choose_keys(self, history: Mapping[str, object] | None) -> bool:
        metric = None if history is None else main_metric(history)
        known = history is not None
        changed = (metric, known) != (self.metric, self.metric_known)
        self.metric, self.metric_known = metric, known
        return changed


class BatchLossPlot(SeriesPlot):
    """The per-batch losses as a faint cloud of `·` under their `smooth()`ed curve in bold.

    At draw time the losses are downsampled to at most two points per column (bucket means)
    and the smoothing runs over those, so a redraw costs the same for 100 or 100 000 batches
    and the curve is equally smooth at any history length.
    """

    BASE_TITLE = "batch loss"

    def __init__(self, *, weight: float = 0.6, min_interval: float = DEFAULT_MIN_INTERVAL,
                 name: str | None = None, id: str | None = None,  # noqa: A002
                 classes: str | None = None, disabled: bool = False) -> None:
        super().__init__(min_interval=min_interval, name=name, id=id, classes=classes, disabled=disabled)
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"smoothing weight must be in [0, 1), got {weight!r}")
        self.weight = weight
        """The smoothing weight handed to `smooth()`."""
        self.losses: tuple[float, ...] = ()
        """The per-batch losses of the last `set_losses`, oldest first."""
        self.steps_per_epoch: int | None = None
        """Batches per epoch; when set, the x axis counts epochs instead of batches."""
        self.end_step: int | None = None
        """Global 1-based step of the last loss (None: the losses start at step 1)."""

    @property
    def placeholder(self) -> str | None:
        if not self.losses:
            return "waiting for the first batch"
        if not any(self._drawable(v) for v in self.losses):
            return self._unplottable()
        return None

    def set_losses(self, losses: Sequence[float], steps_per_epoch: int | None = None, *,
                   end_step: int | None = None) -> None:
        """Show these per-batch losses (oldest first); a no-op when they are the ones drawn.

        `end_step` is the global 1-based step of the last loss, for a history that no longer
        starts at step 1 (the session keeps only its most recent batches).
        """
        data = tuple(_as_float(v) for v in losses)
        spe = int(steps_per_epoch) if steps_per_epoch else None
        end = int(end_step) if end_step is not None else None
        if spe == self.steps_per_epoch and end == self.end_step and _same(data, self.losses):
            return
        self.losses, self.steps_per_epoch, self.end_step = data, spe, end
        self._changed()

    def clear(self) -> None:
        self.set_losses((), self.steps_per_epoch)

    def _title(self) -> str:
        return f"{self.BASE_TITLE} by epoch" if self.steps_per_epoch else f"{self.BASE_TITLE} by batch"

    def _draw(self, palette: dict[str, tuple[int, int, int]]) -> int:
        n = len(self.losses)
        first = 1 if self.end_step is None else self.end_step - n + 1
        x = np.arange(first, first + n, dtype=float)
        if self.steps_per_epoch:
            x /= self.steps_per_epoch
        bucket_x, bucket_y = downsample(self.losses, max(2, 2 * self.size.width), x)
        raw_x, raw_y = self._points(bucket_x, bucket_y)
        smooth_x, smooth_y = self._points(bucket_x, smooth(bucket_y, self.weight))
        self._series(raw_x, raw_y, label="batch", marker=RAW_MARKER, color=palette["faint"], joined=False)
        self._series(smooth_x, smooth_y, label="smoothed", marker=SMOOTH_MARKER, color=palette["train"],
                     style="bold")
        xs = raw_x or smooth_x
        ys = raw_y or smooth_y
        if not self.log_scale and ys and min(ys) >= 0 and max(ys) > 0:
            self.plt.ylim(0, max(ys) * 1.05)  # a loss near 0 does not pull the axis below 0
        if min(xs) == max(xs):
            self.plt.xlim(xs[0] - 0.5, xs[0] + 0.5)
        elif not self.steps_per_epoch:
            self._set_int_xticks(first, first + n - 1)
        elif x[-1] - x[0] >= 2:
            self._set_int_xticks(max(0, math.floor(x[0])), math.ceil(x[-1]))
        return max(len(raw_x), len(smooth_x))


class TrainingPlots(Widget):
    """Loss and metric per epoch side by side (stacked when narrow), the batch loss below.

    Forwards plain data to its three plots. With `layout="auto"` loss and metric sit side by
    side from `WIDE_MIN_WIDTH` columns on and are stacked below that; `"wide"` and `"narrow"`
    fix the arrangement.
    """

    DEFAULT_CSS = """
    TrainingPlots {
        layout: grid;
        grid-size: 2 2;
        grid-columns: 1fr 1fr;
        grid-rows: 1fr 1fr;
        width: 1fr;
        height: 1fr;
    }
    TrainingPlots > BatchLossPlot {
        column-span: 2;
    }
    TrainingPlots.-narrow {
        grid-size: 1 3;
        grid-columns: 1fr;
        grid-rows: 1fr 1fr 1fr;
    }
    TrainingPlots.-narrow > BatchLossPlot {
        column-span: 1;
    }
    """

    WIDE_MIN_WIDTH: ClassVar[int] = 72
    """With `layout="auto"`, loss and metric sit side by side from this width on."""

    arrangement: reactive[Literal["auto", "wide", "narrow"]] = reactive("auto")
    """"wide" (side by side), "narrow" (stacked) or "auto" (by the widget's width)."""

    log_scale: reactive[bool] = reactive(False, init=False)
    """Log y axis on every plot (each title then shows "(log)")."""

    show_ghosts: reactive[bool] = reactive(True, init=False)
    """Draw the earlier runs (`set_ghosts`) behind the live one in the loss and metric plots."""

    def __init__(self, *, layout: Literal["auto", "wide", "narrow"] = "auto",
                 min_interval: float = DEFAULT_MIN_INTERVAL, name: str | None = None,
                 id: str | None = None, classes: str | None = None,  # noqa: A002
                 disabled: bool = False) -> None:
        if layout not in ("auto", "wide", "narrow"):
            raise ValueError(f'layout must be "auto", "wide" or "narrow", got {layout!r}')
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.loss_plot = LossPlot(min_interval=min_interval, id="loss-plot")
        self.metric_plot = MetricPlot(min_interval=min_interval, id="metric-plot")
        self.batch_plot = BatchLossPlot(min_interval=min_interval, id="batch-loss-plot")
        self.set_reactive(TrainingPlots.arrangement, layout)
        self.set_class(layout == "narrow", "-narrow")

    def compose(self) -> ComposeResult:
        yield self.loss_plot
        yield self.metric_plot
        yield self.batch_plot

    def on_resize(self, event: Resize) -> None:
        self._arrange(event.size.width)

    def watch_arrangement(self) -> None:
        self._arrange(self.size.width)

    def watch_log_scale(self, log_scale: bool) -> None:
        # Every plot takes the scale at once; they redraw a frame apart, the loss first: the key
        # shows its effect in one plot's time, not three (about 10 ms each while training).
        for plot in self._plots:
            plot.set_reactive(SeriesPlot.log_scale, log_scale)
        self._redraw_in_turn(list(self._plots))

    def watch_show_ghosts(self, show: bool) -> None:
        changed = [plot for plot in self._epoch_plots if plot.show_ghosts != show and plot.ghosts]
        for plot in self._epoch_plots:
            plot.set_reactive(_EpochPlot.show_ghosts, show)
        for plot in changed:
            plot._dirty = True
        self._redraw_in_turn(changed)

    def _redraw_in_turn(self, plots: list[SeriesPlot]) -> None:
        if plots and self.is_mounted:
            plots[0].redraw()
            if len(plots) > 1:
                self.call_after_refresh(self._redraw_in_turn, plots[1:])

    # -- public ------------------------------------------------------------------------------
    @property
    def narrow(self) -> bool:
        """True while loss and metric are stacked."""
        return self.has_class("-narrow")

    @property
    def min_interval(self) -> float:
        """Seconds between two data-driven redraws of each plot (0: redraw on every change)."""
        return self.loss_plot.min_interval

    @min_interval.setter
    def min_interval(self, seconds: float) -> None:
        for plot in self._plots:
            plot.min_interval = float(seconds)

    @property
    def ghosts(self) -> tuple[Ghost, ...]:
        """The earlier runs drawn behind the live one, oldest first (see `set_ghosts`)."""
        return self.loss_plot.ghosts

    @property
    def cursor(self) -> int | None:
        """The replay cursor: epochs completed at the replayed frame, or None (see `set_cursor`)."""
        return self.loss_plot.cursor

    def add_epoch(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Record one finished epoch (0-based, as in `EpochEnded`)."""
        self.loss_plot.add_epoch(epoch, logs)
        self.metric_plot.add_epoch(epoch, logs)

    def set_history(self, history: Mapping[str, Sequence[float]], batch_losses: Sequence[float] = (),
                    steps_per_epoch: int | None = None, *, end_step: int | None = None) -> None:
        """Replace everything: a Keras-style per-epoch history and the recent per-batch losses."""
        self.loss_plot.set_history(history)
        self.metric_plot.set_history(history)
        self.batch_plot.set_losses(batch_losses, steps_per_epoch, end_step=end_step)

    def set_epoch_history(self, history: Mapping[str, Sequence[float]]) -> None:
        """Replace the per-epoch curves only (the batch losses stay)."""
        self.loss_plot.set_history(history)
        self.metric_plot.set_history(history)

    def set_batch_losses(self, losses: Sequence[float], steps_per_epoch: int | None = None, *,
                         end_step: int | None = None) -> None:
        """Show these per-batch losses; a no-op when they are the ones drawn."""
        self.batch_plot.set_losses(losses, steps_per_epoch, end_step=end_step)

    def set_ghosts(self, ghosts: Sequence[tuple[str, Mapping[str, Sequence[float]]]]) -> None:
        """Show earlier runs as faint lines behind the live one in the loss and metric plots.

        `ghosts` are (label, Keras-style history) pairs, oldest first, e.g.
        `[("lr 0.03", {"loss": [...], "val_loss": [...], "accuracy": [...]})]`; of more than
        `MAX_GHOSTS` the newest are kept. Each plot draws one line per run: its validation
        values when it has them, else its training values. A no-op when they are the ones
        drawn; `()` removes them. The batch-loss plot shows no ghosts.
        """
        ghosts = list(ghosts)[-MAX_GHOSTS:]
        for plot in self._epoch_plots:
            plot.set_ghosts(ghosts)

    def toggle_ghosts(self) -> bool:
        """Show or hide the ghosts (they stay stored); return the new state."""
        self.show_ghosts = not self.show_ghosts
        return self.show_ghosts

    def set_cursor(self, epoch: int | None) -> None:
        """Mark the replayed frame in the loss and metric plots, or remove the mark (None).

        `epoch` is the number of epochs completed at that frame (0: the initial weights):
        a vertical line at x = `epoch`, and "replay epoch N" in each title. A changed cursor
        redraws at once, the loss plot first and the metric plot a frame later; the same
        cursor again does nothing.
        """
        changed = [plot for plot in self._epoch_plots if plot._move_cursor(epoch)]
        self._redraw_in_turn([plot for plot in changed if plot.is_on_screen or plot.min_interval <= 0])

    def reset(self) -> None:
        """Forget all data (the log-scale setting, the ghosts and the cursor stay)."""
        for plot in self._plots:
            plot.clear()

    def toggle_log_scale(self) -> bool:
        """Flip the log y axis on every plot; return the new state."""
        self.log_scale = not self.log_scale
        return self.log_scale

    # -- private -----------------------------------------------------------------------------
    @property
    def _plots(self) -> tuple[SeriesPlot, ...]:
        return (self.loss_plot, self.metric_plot, self.batch_plot)

    @property
    def _epoch_plots(self) -> tuple[_EpochPlot, ...]:
        return (self.loss_plot, self.metric_plot)

    def _arrange(self, width: int) -> None:
        narrow = width < self.WIDE_MIN_WIDTH if self.arrangement == "auto" else self.arrangement == "narrow"
        self.set_class(narrow, "-narrow")

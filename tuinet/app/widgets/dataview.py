"""`DataSplitView`: what the network learns from, split into train, validation and test.

The view shows, for one `Dataset` and its `Split`:

- the sizes of the three splits, as counts and percentages;
- the class balance per split: one row per class, one bar per split whose length is the
  class's share of that split (so a stratified split shows three equal bars), with counts;
  for regression the target's mean, std, min and max per split;
- for 2-D inputs a scatter of every sample, glyphed and coloured by split (`•` train,
  `○` val, `×` test); for images (`dataset.image_shape`) a grid of sample images drawn with
  half blocks in grey levels, a few per class, with their labels;
- per-feature statistics (min, mean, std, max on the training split; scaled mean and std
  too when the scaled inputs are given), the first `MAX_FEATURES` features;
- a "train/val/test" and a seed field: Enter posts `DataSplitView.ResplitRequested` after
  checking them, or shows what is wrong under the fields. The screen applies it between runs
  and calls `show()` with the new split;
- for generated data (`show(..., data_spec=)` with a generator source) the Playground's data
  knobs as well: the data set (the 2-D generators of the same task), the noise (in the
  Playground's 0-50 % for the 2-D generators), the number of samples and a "regenerate"
  button (a new random seed); the request then carries the source, samples and noise too.
  Escape in a field gives the keys back to the screen.

It gets plain arrays, never the model or the session, and only `show()` changes what it
draws (nothing in it depends on training), so it redraws on a new data set or split, a
resize or a theme change, never while training runs. `show()` with the data already shown
does nothing.

NO_COLOR-safe: splits differ by glyph (`•` `○` `×` in the scatter, `█` `▓` `▒` in the bars)
and by column header, never by colour alone; without colour the images are drawn with the
shade glyphs ` ░▒▓█`, one cell per pixel.
"""

from __future__ import annotations

import functools
import math
import random
import re
from collections.abc import Mapping, Sequence

import numpy as np
from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static

from tuinet.app.widgets.fields import ViewSelect
from tuinet.data.splitting import SPLIT_NAMES, Split

__all__ = [
    "BAR_GLYPHS",
    "ClassBalanceChart",
    "DataSplitView",
    "MAX_FEATURES",
    "SPLIT_GLYPHS",
    "SampleImages",
    "SplitScatter",
    "class_balance",
    "feature_stats",
    "image_lines",
    "parse_noise",
    "parse_samples",
    "parse_seed",
    "parse_split_ratios",
    "playground_sources",
    "sample_indices",
    "scatter_grid",
    "split_counts_text",
]

SPLIT_GLYPHS = ("•", "○", "×")
"""Scatter glyph of a train, val and test sample (index = `Split.assignment` code)."""
BAR_GLYPHS = ("█", "▓", "▒")
"""Bar fill of the train, val and test columns of the class balance."""
SPLIT_LABELS = ("train", "val", "test")
MAX_FEATURES = 12
"""Features listed in the statistics table; a note counts the rest."""
SHADES = " ░▒▓█"
"""Grey levels of an image without colour, darkest first."""
RATIO_TOLERANCE = 1e-6
"""Split shares must add up to 1 within this (as `tuinet.data.split` requires)."""
NOISE_MAX_PERCENT = 50
"""The Playground's noise slider goes from 0 to 50 %."""
SAMPLES_RANGE = (10, 100_000)
"""Samples a generator may be asked for in the view (enough to split, few enough to stay quick)."""
SEED_MAX = 2**31 - 1
""""Regenerate" draws a seed from 0 to this."""

_SPLIT_CSS = """
{cls} > .split--train {{ color: $primary; }}
{cls} > .split--val {{ color: $accent; }}
{cls} > .split--test {{ color: $success; }}
{cls} > .split--dim {{ color: $text-muted; }}
"""
_SPLIT_COMPONENTS = {"split--train", "split--val", "split--test", "split--dim"}


# ---------------------------------------------------------------------- pure helpers
def class_balance(y: np.ndarray, split: Split, num_classes: int) -> dict[str, np.ndarray]:
    """Samples of each class in each split.

    Args:
        y: Class ids of the whole data set `(n,)`.
        split: The split (index arrays into `y`).
        num_classes: Length of each count vector.

    Returns:
        `{"train": counts, "val": counts, "test": counts}`, int64 `(num_classes,)` each.

    Raises:
        ValueError: for a class id outside `0 .. num_classes - 1`.
    """
    ids = np.asarray(y).reshape(-1).astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise ValueError(f"class ids must be in 0..{num_classes - 1}, got {int(ids.min())}..{int(ids.max())}")
    parts = (split.train, split.val, split.test)
    return {name: np.bincount(ids[np.asarray(idx, dtype=np.int64)], minlength=num_classes).astype(np.int64)
            for name, idx in zip(SPLIT_NAMES, parts)}


def split_counts_text(split: Split | Mapping[str, int]) -> str:
    """"train 60 (60.0%) · val 20 (20.0%) · test 20 (20.0%) · 100 samples" for a split or its sizes."""
    sizes = split.sizes() if isinstance(split, Split) else {k: int(split.get(k, 0)) for k in SPLIT_NAMES}
    total = sum(sizes.values())
    parts = [f"{name} {sizes[name]} ({sizes[name] / total:.1%})" if total else f"{name} 0" for name in SPLIT_NAMES]
    return " · ".join([*parts, f"{total} samples"])


def feature_stats(x: np.ndarray) -> dict[str, np.ndarray]:
    """Min, mean, std (population, as numpy's default) and max of each feature, in float64.

    Args:
        x: Samples `(n, features)`, or `(n, ..., features)` (every position of a sequence or an
            image counts as a sample of its feature or channel).

    Returns:
        `{"min": ..., "mean": ..., "std": ..., "max": ...}`, each `(features,)`; NaN for no samples.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    flat = a.reshape(-1, a.shape[-1])
    if flat.shape[0] == 0:
        nan = np.full(flat.shape[1], np.nan)
        return {"min": nan.copy(), "mean": nan.copy(), "std": nan.copy(), "max": nan.copy()}
    return {"min": flat.min(axis=0), "mean": flat.mean(axis=0), "std": flat.std(axis=0), "max": flat.max(axis=0)}


def parse_split_ratios(text: str) -> tuple[float, float, float]:
    """"0.7/0.15/0.15" -> `(0.7, 0.15, 0.15)`; "0.8/0.2" means no test split.

    Numbers may be separated by "/", "," or spaces. They must be >= 0, add up to 1 (within
    `RATIO_TOLERANCE`) and leave the training split a share above 0.

    Raises:
        ValueError: with a message that says what was expected.
    """
    raw = text.strip()
    parts = [p for p in re.split(r"[/,\s]+", raw) if p]
    example = "such as 0.7/0.15/0.15"
    if len(parts) not in (2, 3):
        raise ValueError(f"split: expected train/val/test shares {example}, got {raw!r}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"split: expected numbers {example}, got {raw!r}") from None
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise ValueError(f"split: expected shares from 0 to 1 {example}, got {raw!r}")
    if len(values) == 2:
        values.append(0.0)
    total = sum(values)
    if abs(total - 1.0) > RATIO_TOLERANCE:
        raise ValueError(f"split: the shares must add up to 1, these add up to {total:g}")
    if values[0] <= 0:
        raise ValueError("split: the training share must be above 0")
    return values[0], values[1], values[2]


def parse_seed(text: str) -> int:
    """A seed: a whole number >= 0.

    Raises:
        ValueError: with a message that says what was expected.
    """
    raw = text.strip()
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"seed: expected a whole number >= 0 such as 0, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"seed: expected a whole number >= 0 such as 0, got {raw!r}")
    return value


def parse_noise(text: str, *, percent: bool = True) -> float:
    """The noise as the generator takes it, from what the noise field says.

    Args:
        text: The field: a percentage from 0 to `NOISE_MAX_PERCENT` ("10" is noise 0.1), as the
            Playground shows it, or with `percent=False` the generator's own value from 0 to 1
            (the sine generator's standard deviation, the share of side_effects' flipped labels).

    Raises:
        ValueError: with a message that says what was expected.
    """
    raw = text.strip().removesuffix("%").strip()
    if percent:
        expected = f"a number from 0 to {NOISE_MAX_PERCENT} (%) such as 10"
        low, high, scale = 0.0, float(NOISE_MAX_PERCENT), 100.0
    else:
        expected, low, high, scale = "a number from 0 to 1 such as 0.05", 0.0, 1.0, 1.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"noise: expected {expected}, got {text.strip()!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"noise: expected {expected}, got {text.strip()!r}")
    return value / scale


def parse_samples(text: str) -> int:
    """The number of samples to generate: a whole number in `SAMPLES_RANGE`.

    Raises:
        ValueError: with a message that says what was expected.
    """
    raw = text.strip().replace("_", "")
    low, high = SAMPLES_RANGE
    expected = f"a whole number from {low} to {high:,} such as 500".replace(",", " ")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"samples: expected {expected}, got {text.strip()!r}") from None
    if not low <= value <= high:
        raise ValueError(f"samples: expected {expected}, got {text.strip()!r}")
    return value


@functools.cache
def playground_sources() -> dict[str, str]:
    """The generators of 2-D points (the Playground's family and moons), each with its task.

    Found by asking each generator of `tuinet.data.GENERATORS` for a few samples, so a new
    2-D generator shows up in the view's data set picker by itself.

    Returns:
        `{"circle": "classification", ..., "plane": "regression", ...}` in registry order.
    """
    from tuinet.data.generators import GENERATORS

    out = {}
    for name, generate in GENERATORS.items():
        try:
            ds = generate(samples=10, seed=0)
        except Exception:  # noqa: BLE001 - a generator that cannot make 10 samples is not offered
            continue
        if ds.x.ndim == 2 and ds.x.shape[1] == 2:
            out[name] = ds.task
    return out


def _generator_name(source: str) -> str | None:
    """The registry name of a generator source ("regression_plane" -> "plane"), or None."""
    from tuinet.data.generators import get_generator

    generate = get_generator(source)
    return None if generate is None else generate.__name__


def _number_text(value: float) -> str:
    """12.5 -> "12.5", 35.00000000000001 -> "35": a value as a field shows it."""
    text = repr(round(float(value), 9))
    return text[:-2] if text.endswith(".0") else text


def scatter_grid(points: np.ndarray, assignment: np.ndarray, cols: int, rows: int,
                 bounds: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Which split shows in each cell of a `rows` x `cols` scatter.

    Column 0 is the smallest x, row 0 the largest y (the top). Where samples of several splits
    share a cell, the rarer split wins (test over val over train), so held-out samples stay
    visible among the training ones.

    Args:
        points: `(n, 2)` coordinates.
        assignment: `(n,)` split codes, 0 train, 1 val, 2 test (`Split.assignment`).
        cols, rows: Grid size (>= 1 each).
        bounds: `(x_min, x_max, y_min, y_max)`; default: the points' own range.

    Returns:
        int8 `(rows, cols)`: -1 for an empty cell, else the split code shown there.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    codes = np.asarray(assignment).reshape(-1).astype(np.int8)
    if len(codes) != len(pts):
        raise ValueError(f"{len(pts)} points but {len(codes)} split codes")
    cols, rows = max(1, int(cols)), max(1, int(rows))
    grid = np.full((rows, cols), -1, dtype=np.int8)
    keep = np.isfinite(pts).all(axis=1)
    pts, codes = pts[keep], codes[keep]
    if not len(pts):
        return grid
    x0, x1, y0, y1 = bounds if bounds is not None else _bounds(pts)
    col = _cells(pts[:, 0], x0, x1, cols)
    row = rows - 1 - _cells(pts[:, 1], y0, y1, rows)
    np.maximum.at(grid, (row, col), codes)
    return grid


def sample_indices(y: np.ndarray, candidates: np.ndarray, num_classes: int, per_class: int) -> list[int]:
    """The first `per_class` of `candidates` (sample indexes, in order) of each class, class by class."""
    ids = np.asarray(y).reshape(-1)
    out: list[int] = []
    cand = np.asarray(candidates, dtype=np.int64)
    for c in range(num_classes):
        members = cand[ids[cand] == c][:per_class]
        out.extend(int(i) for i in members)
    return out


def image_lines(image: np.ndarray, *, scale: int = 1, no_color: bool = False) -> list[Text]:
    """One image as lines of text: grey levels (or RGB) in `[0, 1]`, `(h, w)` or `(h, w, 3)`.

    With colour two pixel rows share a line: `▀` in the upper pixel's colour on the lower
    pixel's colour. Without colour each pixel is a shade glyph from `SHADES`, one line per
    pixel row. `scale` repeats every pixel that many times in both directions.
    """
    img = np.clip(np.nan_to_num(np.asarray(image, dtype=np.float64)), 0.0, 1.0)
    if scale > 1:
        img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
    h, w = img.shape[:2]
    lines: list[Text] = []
    if no_color:
        grey = img.mean(axis=2) if img.ndim == 3 else img
        levels = np.minimum((grey * len(SHADES)).astype(int), len(SHADES) - 1)
        return [Text("".join(SHADES[v] for v in row)) for row in levels]
    for top in range(0, h, 2):
        line = Text()
        for c in range(w):
            upper = _rich_rgb(img[top, c])
            lower = _rich_rgb(img[top + 1, c]) if top + 1 < h else None
            line.append("▀", style=Style(color=upper, bgcolor=lower))
        lines.append(line)
    return lines


def _rich_rgb(value) -> str:
    v = np.atleast_1d(value)
    r, g, b = (v if v.size == 3 else np.repeat(v[:1], 3)) * 255.0
    return f"rgb({int(round(r))},{int(round(g))},{int(round(b))})"


def _bounds(pts: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    return float(x0), float(x1), float(y0), float(y1)


def _cells(values: np.ndarray, low: float, high: float, n: int) -> np.ndarray:
    span = high - low
    if not span > 0:
        return np.full(len(values), n // 2, dtype=np.int64)
    return np.clip(np.floor((values - low) / span * n).astype(np.int64), 0, n - 1)


def _fmt(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.4g}"


def _snap(value: float) -> float:
    """Scaled statistics are O(1): rounding noise such as 4.7e-10 shows as 0."""
    return 0.0 if abs(value) < 1e-6 else value


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _split_styles(widget: Widget) -> list[Style]:
    return [widget.get_component_rich_style(f"split--{name}", partial=True) for name in SPLIT_NAMES]


# ---------------------------------------------------------------------- parts
class ClassBalanceChart(Widget):
    """Class counts per split as bars (one row per class, one column per split), or for a
    regression target its mean, std, min and max per split."""

    DEFAULT_CSS = """
    ClassBalanceChart { width: 1fr; height: auto; }
    """ + _SPLIT_CSS.format(cls="ClassBalanceChart")

    COMPONENT_CLASSES = _SPLIT_COMPONENTS

    ALLOW_SELECT = False

    def __init__(self, *, name: str | None = None, id: str | None = None,  # noqa: A002
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.counts: dict[str, np.ndarray] | None = None
        """Class counts per split, or None for regression (then `targets` is set)."""
        self.class_names: list[str] = []
        self.targets: dict[str, dict[str, float]] | None = None
        """Regression: `{"train": {"mean":, "std":, "min":, "max":}, ...}`."""

    def set_counts(self, counts: dict[str, np.ndarray], class_names: Sequence[str]) -> None:
        """Show these class counts per split."""
        self.counts = {k: np.asarray(v, dtype=np.int64).copy() for k, v in counts.items()}
        self.class_names = [str(n) for n in class_names]
        self.targets = None
        self.refresh(layout=True)

    def set_targets(self, targets: dict[str, dict[str, float]]) -> None:
        """Show a regression target's statistics per split."""
        self.counts, self.class_names, self.targets = None, [], {k: dict(v) for k, v in targets.items()}
        self.refresh(layout=True)

    def render(self) -> RenderResult:
        return Text("\n").join(self._lines(self.size.width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width))

    def _lines(self, width: int) -> list[Text]:
        styles = _split_styles(self)
        dim = self.get_component_rich_style("split--dim", partial=True)
        if self.targets is not None:
            return self._target_lines(styles, dim)
        if self.counts is None:
            return [Text("no data", style=dim)]
        names = self.class_names
        sizes = {k: int(self.counts[k].sum()) for k in SPLIT_NAMES}
        label_w = min(max(5, *(len(n) for n in names)), 14)
        count_w = max(len(str(max(sizes.values()))), 3)
        col_w = max(count_w + 3, (max(width, 30) - label_w) // 3)
        bar_w = col_w - count_w - 2
        shares = {k: self.counts[k] / sizes[k] if sizes[k] else np.zeros(len(names)) for k in SPLIT_NAMES}
        top = max(float(max(s.max(initial=0.0) for s in shares.values())), 1e-12)
        header = Text("class".ljust(label_w), style="bold")
        for s, key in enumerate(SPLIT_NAMES):
            header.append(" ")
            header.append(f"{BAR_GLYPHS[s]} {SPLIT_LABELS[s]}".ljust(col_w - 1), style=styles[s] + Style(bold=True))
        lines = [header]
        for c, cname in enumerate(names):
            line = Text(_cut(cname, label_w).ljust(label_w))
            for s, key in enumerate(SPLIT_NAMES):
                line.append(" ")
                if not sizes[key]:
                    line.append("–".ljust(col_w - 1), style=dim)
                    continue
                count = int(self.counts[key][c])
                n = int(round(shares[key][c] / top * bar_w))
                n = max(n, 1) if count else 0
                line.append(BAR_GLYPHS[s] * n, style=styles[s])
                line.append(" " * (bar_w - n + 1))
                line.append(str(count).rjust(count_w))
            lines.append(line)
        total = Text("total".ljust(label_w), style=dim)
        for s, key in enumerate(SPLIT_NAMES):
            total.append(" ")
            total.append(str(sizes[key]).rjust(col_w - 1), style=dim)
        lines.append(total)
        return lines

    def _target_lines(self, styles: list[Style], dim: Style) -> list[Text]:
        assert self.targets is not None
        header = Text("target".ljust(8), style="bold")
        for s, key in enumerate(SPLIT_NAMES):
            header.append(SPLIT_LABELS[s].rjust(11), style=styles[s] + Style(bold=True))
        lines = [header]
        for stat in ("mean", "std", "min", "max"):
            line = Text(stat.ljust(8), style=dim)
            for key in SPLIT_NAMES:
                line.append(_fmt(self.targets.get(key, {}).get(stat, math.nan)).rjust(11))
            lines.append(line)
        return lines


class SplitScatter(Widget):
    """All samples of 2-D data on a character grid, glyphed and coloured by split, with a legend."""

    DEFAULT_CSS = """
    SplitScatter { width: 1fr; height: 20; }
    """ + _SPLIT_CSS.format(cls="SplitScatter")

    COMPONENT_CLASSES = _SPLIT_COMPONENTS

    ALLOW_SELECT = False

    def __init__(self, *, name: str | None = None, id: str | None = None,  # noqa: A002
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.points: np.ndarray | None = None
        """`(n, 2)` coordinates drawn, or None."""
        self.assignment: np.ndarray | None = None
        """`(n,)` split codes of the points."""
        self.axis_names: tuple[str, str] = ("x1", "x2")
        self.grid: np.ndarray | None = None
        """The last grid drawn (`scatter_grid`), rows x cols."""

    def set_points(self, points: np.ndarray, assignment: np.ndarray, axis_names: Sequence[str] = ("x1", "x2")) -> None:
        """Draw these points, `assignment` giving each one's split code (0 train, 1 val, 2 test)."""
        self.points = np.asarray(points, dtype=np.float64).reshape(-1, 2).copy()
        self.assignment = np.asarray(assignment).reshape(-1).astype(np.int8).copy()
        names = [str(n) for n in axis_names][:2]
        self.axis_names = (names + ["x1", "x2"][len(names):])[:2]  # type: ignore[assignment]
        self.refresh()

    def grid_size(self, width: int, height: int) -> tuple[int, int]:
        """`(cols, rows)` of the grid inside a widget of this size: a frame and two lines of text
        around it, about twice as many columns as rows per unit of data (cells are tall)."""
        rows = max(1, height - 4)
        cols_max = max(1, width - 2)
        if self.points is None or not len(self.points):
            return cols_max, rows
        finite = self.points[np.isfinite(self.points).all(axis=1)]
        if not len(finite):
            return cols_max, rows
        x0, x1, y0, y1 = _bounds(finite)
        xr, yr = x1 - x0, y1 - y0
        aspect = xr / yr if xr > 0 and yr > 0 else 1.0
        return max(8, min(cols_max, int(round(2 * rows * aspect)))), rows

    def render(self) -> RenderResult:
        dim = self.get_component_rich_style("split--dim", partial=True)
        if self.points is None or self.assignment is None:
            return Text("no 2-D data", style=dim)
        styles = _split_styles(self)
        cols, rows = self.grid_size(*self.size)
        finite = self.points[np.isfinite(self.points).all(axis=1)]
        bounds = _bounds(finite) if len(finite) else (0.0, 1.0, 0.0, 1.0)
        self.grid = scatter_grid(self.points, self.assignment, cols, rows, bounds)
        counts = np.bincount(self.assignment.astype(np.int64), minlength=3)
        legend = Text()
        for s in range(3):
            if s:
                legend.append("   ")
            legend.append(SPLIT_GLYPHS[s], style=styles[s] + Style(bold=True))
            legend.append(f" {SPLIT_LABELS[s]} {int(counts[s])}")
        lines = [legend, Text("┌" + "─" * cols + "┐", style=dim)]
        for r in range(rows):
            line = Text("│", style=dim)
            row = self.grid[r]
            c = 0
            while c < cols:  # runs of one code share one segment
                code = int(row[c])
                end = c + 1
                while end < cols and row[end] == code:
                    end += 1
                if code < 0:
                    line.append(" " * (end - c))
                else:
                    line.append(SPLIT_GLYPHS[code] * (end - c), style=styles[code])
                c = end
            line.append("│", style=dim)
            lines.append(line)
        lines.append(Text("└" + "─" * cols + "┘", style=dim))
        x0, x1, y0, y1 = bounds
        lines.append(Text(f"→ {self.axis_names[0]} {_fmt(x0)} … {_fmt(x1)}   "
                          f"↑ {self.axis_names[1]} {_fmt(y0)} … {_fmt(y1)}", style=dim))
        return Text("\n").join(lines)


class SampleImages(Widget):
    """A grid of sample images with their labels, drawn with half blocks in grey levels."""

    DEFAULT_CSS = """
    SampleImages { width: 1fr; height: auto; }
    SampleImages > .split--dim { color: $text-muted; }
    """

    COMPONENT_CLASSES = {"split--dim"}

    ALLOW_SELECT = False

    MAX_TILE_ROWS = 3
    """Images are drawn twice as large while all of them still fit in this many rows of tiles."""

    def __init__(self, *, name: str | None = None, id: str | None = None,  # noqa: A002
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.images: np.ndarray | None = None
        """`(m, h, w)` grey or `(m, h, w, 3)` RGB images in `[0, 1]`, or None."""
        self.labels: list[str] = []
        """One label per image."""

    def set_images(self, images: np.ndarray, labels: Sequence[str]) -> None:
        """Show these images (values in `[0, 1]`) with one label each."""
        imgs = np.asarray(images, dtype=np.float64)
        if imgs.ndim not in (3, 4) or (imgs.ndim == 4 and imgs.shape[-1] != 3):
            raise ValueError(f"expected images (m, h, w) or (m, h, w, 3), got shape {imgs.shape}")
        if len(labels) != len(imgs):
            raise ValueError(f"{len(imgs)} images but {len(labels)} labels")
        self.images, self.labels = imgs.copy(), [str(v) for v in labels]
        self.refresh(layout=True)

    def layout_for(self, width: int) -> tuple[int, int]:
        """`(scale, tiles per row)` for this width."""
        if self.images is None or not len(self.images):
            return 1, 1
        w = self.images.shape[2]
        m = len(self.images)

        def per_row(scale: int) -> int:
            return max(1, (max(width, 1) + 1) // (w * scale + 1))

        scale = 2 if w <= 16 and math.ceil(m / per_row(2)) <= self.MAX_TILE_ROWS else 1
        return scale, per_row(scale)

    def render(self) -> RenderResult:
        return Text("\n").join(self._lines(self.size.width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width))

    def _lines(self, width: int) -> list[Text]:
        dim = self.get_component_rich_style("split--dim", partial=True)
        if self.images is None or not len(self.images):
            return [Text("no images", style=dim)]
        no_color = self.app.no_color if self.is_attached else False
        scale, per_row = self.layout_for(width)
        tiles = [image_lines(img, scale=scale, no_color=no_color) for img in self.images]
        tile_w = self.images.shape[2] * scale
        lines: list[Text] = []
        for start in range(0, len(tiles), per_row):
            group = tiles[start:start + per_row]
            labels = self.labels[start:start + per_row]
            for r in range(len(group[0])):
                line = Text()
                for i, tile in enumerate(group):
                    if i:
                        line.append(" ")
                    line.append_text(tile[r])
                lines.append(line)
            caption = Text()
            for i, label in enumerate(labels):
                if i:
                    caption.append(" ")
                caption.append(_cut(label, tile_w).center(tile_w), style=Style(bold=True))
            lines.append(caption)
        return lines


# ---------------------------------------------------------------------- the view
class DataSplitView(Widget):
    """Sizes, class balance, samples and feature statistics of the train/val/test split.

    Feed it with `show(dataset, split, x_scaled=..., data_spec=...)`. Enter in a field posts
    `ResplitRequested` once every field is valid; for generated data so do a new data set in
    the picker and the "regenerate" button (with a new random seed).
    """

    BINDINGS = [Binding("escape", "leave_field", "Leave field", show=False)]

    DEFAULT_CSS = """
    DataSplitView {
        width: 1fr;
        height: 1fr;
        layout: vertical;
    }
    DataSplitView #split-controls, DataSplitView #data-knobs { height: 1; }
    DataSplitView #split-controls Label, DataSplitView #data-knobs Label { width: auto; padding: 0 1 0 0; }
    DataSplitView #split-ratios { width: 20; margin-right: 2; }
    DataSplitView #split-seed { width: 12; margin-right: 2; }
    DataSplitView #data-knobs { display: none; }
    DataSplitView.-generated #data-knobs { display: block; }
    DataSplitView #data-source { width: 18; margin-right: 2; }
    DataSplitView #data-source-label, DataSplitView #data-source { display: none; }
    DataSplitView.-picker #data-source-label, DataSplitView.-picker #data-source { display: block; }
    DataSplitView #data-noise { width: 7; }
    DataSplitView #data-noise-unit { margin-right: 1; }
    DataSplitView #data-samples { width: 8; margin-right: 2; }
    DataSplitView #data-regenerate { width: auto; min-width: 14; }
    DataSplitView #split-hint { width: 1fr; color: $text-muted; }
    DataSplitView #split-error { height: auto; color: $error; display: none; }
    DataSplitView #split-error.-shown { display: block; }
    DataSplitView #split-body { height: 1fr; }
    DataSplitView .split-heading { height: 1; margin-top: 1; text-style: bold; }
    DataSplitView #split-sizes { height: auto; }
    DataSplitView #split-features { height: auto; }
    """

    class ResplitRequested(Message):
        """The user asks for a new split: shares `(train, val, test)` adding up to 1, and a seed;
        for generated data also the generator, the number of samples and the noise (all three
        None for other data: they stay as they are)."""

        def __init__(self, ratios: tuple[float, float, float], seed: int,
                     view: DataSplitView | None = None, *, source: str | None = None,
                     samples: int | None = None, noise: float | None = None) -> None:
            super().__init__()
            self.ratios = ratios
            """`(train, val, test)` shares, each >= 0, adding up to 1, train above 0."""
            self.seed = seed
            """The seed of the new split, and of the generated data (>= 0)."""
            self.view = view
            """The view that asked."""
            self.source = source
            """Generated data: the generator (as `DataSpec.source`), else None."""
            self.samples = samples
            """Generated data: the number of samples (None: the generator's default), else None."""
            self.noise = noise
            """Generated data: the noise as the generator takes it (0.1 is the Playground's 10 %), else None."""

        @property
        def generated(self) -> bool:
            """Whether the request is for generated data (source, samples and noise set)."""
            return self.source is not None

        @property
        def control(self) -> DataSplitView | None:
            return self.view

    def __init__(self, *, samples_per_class: int = 2, name: str | None = None, id: str | None = None,  # noqa: A002
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        if samples_per_class < 1:
            raise ValueError(f"samples_per_class must be >= 1, got {samples_per_class!r}")
        self.border_title = "data"  # shown where app.tcss gives the pane a border
        self.samples_per_class = samples_per_class
        """Sample images shown per class."""
        self.dataset = None
        """The `Dataset` shown, or None."""
        self.split: Split | None = None
        """The `Split` shown, or None."""
        self.x_scaled: np.ndarray | None = None
        """The scaled inputs of all samples, when given."""
        self.balance: dict[str, np.ndarray] | None = None
        """Class counts per split (`class_balance`), None for regression or before `show()`."""
        self.stats: dict[str, np.ndarray] | None = None
        """`feature_stats` of the training split (raw inputs)."""
        self.scaled_stats: dict[str, np.ndarray] | None = None
        """`feature_stats` of the scaled training split, when `x_scaled` was given."""
        self.data_spec = None
        """The `DataSpec` the data came from, when given to `show()`."""
        self.error = ""
        """The message under the split fields ("" when they are fine)."""
        self._shown_knobs: dict[str, str] = {}  # what the knob fields said when filled
        self.show_count = 0
        """How many times `show()` changed what is shown."""
        self._composed = False

    def compose(self) -> ComposeResult:
        sources = list(playground_sources())
        with Horizontal(id="data-knobs"):
            yield Label("data", id="data-source-label")
            yield ViewSelect([(n, n) for n in sources], value=sources[0], allow_blank=False, compact=True,
                         id="data-source")
            yield Label("noise")
            yield Input("", placeholder="0-50", id="data-noise", compact=True, select_on_focus=False)
            yield Label("%", id="data-noise-unit")
            yield Label("samples")
            yield Input("", placeholder="500", id="data-samples", compact=True, select_on_focus=False)
            yield Button("↻ regenerate", id="data-regenerate", compact=True,
                         tooltip="New data with a random seed")
        with Horizontal(id="split-controls"):
            yield Label("split", classes="split-label")
            yield Input("", placeholder="train/val/test", id="split-ratios", compact=True, select_on_focus=False)
            yield Label("seed", classes="split-label")
            yield Input("", placeholder="e.g. 0", id="split-seed", compact=True, select_on_focus=False)
            yield Static("⏎ resplit", id="split-hint", markup=False)
        yield Static("", id="split-error", markup=False)
        with VerticalScroll(id="split-body"):
            yield Static("no data yet", id="split-sizes", markup=False)
            yield Static("class balance", id="split-balance-heading", classes="split-heading", markup=False)
            yield ClassBalanceChart(id="split-balance")
            yield Static("samples", id="split-samples-heading", classes="split-heading", markup=False)
            yield SplitScatter(id="split-scatter")
            yield SampleImages(id="split-images")
            yield Static("features (training split)", id="split-features-heading", classes="split-heading",
                         markup=False)
            yield Static("", id="split-features")

    def on_mount(self) -> None:
        self._composed = True  # `is_mounted` turns True only after this handler
        self._fill()

    # -- public ------------------------------------------------------------------------------
    def show(self, dataset, split: Split, *, x_scaled: np.ndarray | None = None, data_spec=None) -> None:
        """Show a data set and its split; a no-op when this very data, split and spec are shown.

        Args:
            dataset: A `tuinet.data.Dataset` (raw inputs, targets, names, `image_shape`).
            split: Its `Split` (for a session: `prepared.split`).
            x_scaled: The inputs of all samples in data-set order as the model sees them (scaled),
                e.g. `prepared.scaler.transform(dataset.x)`; when given, the scatter uses them
                (so it lines up with the decision boundary) and the feature table adds their
                mean and std on the training split.
            data_spec: The `tuinet.presets.DataSpec` the data came from (`experiment.data`):
                for a generator it fills the data knobs (data set, noise, samples) and shows them.

        Raises:
            ValueError: for a split or scaled inputs that do not fit the data set.
        """
        n = len(dataset.x)
        split.assignment(n)  # raises when the split holds an index beyond the data
        if x_scaled is not None:
            x_scaled = np.asarray(x_scaled)
            if len(x_scaled) != n:
                raise ValueError(f"x_scaled has {len(x_scaled)} samples, the data set {n}")
        if (dataset is self.dataset and self.split is not None and _same_split(split, self.split)
                and _same_array(x_scaled, self.x_scaled) and data_spec == self.data_spec):
            return
        self.dataset, self.split, self.x_scaled, self.data_spec = dataset, split, x_scaled, data_spec
        train = np.asarray(split.train, dtype=np.int64)
        if dataset.task == "classification":
            self.balance = class_balance(dataset.y, split, int(dataset.num_classes or 0))
        else:
            self.balance = None
        self.stats = feature_stats(np.asarray(dataset.x)[train])
        self.scaled_stats = None if x_scaled is None else feature_stats(x_scaled[train])
        self.show_count += 1
        self._fill()

    @property
    def generated(self) -> bool:
        """Whether the data shown comes from a generator (then the data knobs show)."""
        return self.data_spec is not None and _generator_name(self.data_spec.source) is not None

    @property
    def sizes_text(self) -> str:
        """The sizes line, as `split_counts_text` gives it ("" before `show()`)."""
        return "" if self.split is None else split_counts_text(self.split)

    def regenerate(self) -> None:
        """New data: a random seed in the seed field, then the request (as the button does)."""
        seed = self.query_one("#split-seed", Input)
        with self.prevent(Input.Changed):
            seed.value = str(random.randint(0, SEED_MAX))
        self.submit()

    def submit(self) -> None:
        """Check every field; post `ResplitRequested`, or show what is wrong under the fields."""
        errors: list[str] = []

        def read(parse, selector: str, **kwargs):
            try:
                return parse(self.query_one(selector, Input).value, **kwargs)
            except ValueError as exc:
                errors.append(str(exc))
                return None

        knobs: dict = {}
        if self.generated:
            knobs = {"source": self._chosen_source(),
                     "noise": self._unless_unchanged("noise", read(parse_noise, "#data-noise",
                                                                   percent=self._noise_in_percent())),
                     "samples": self._unless_unchanged("samples", read(parse_samples, "#data-samples"))}
        ratios = read(parse_split_ratios, "#split-ratios")
        seed = read(parse_seed, "#split-seed")
        self._set_error("; ".join(errors))
        if errors or ratios is None or seed is None:
            return
        what = f"{_ratios_text(ratios)}, seed {seed}"
        if knobs:
            what = f"{knobs['source']}, " + what
        self.query_one("#split-hint", Static).update(f"↻ asked for {what}")
        self.post_message(self.ResplitRequested(ratios, seed, self, **knobs))

    # -- events ------------------------------------------------------------------------------
    @on(Input.Submitted, "#split-ratios, #split-seed, #data-noise, #data-samples")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    @on(Input.Changed, "#split-ratios, #split-seed, #data-noise, #data-samples")
    def _edited(self, event: Input.Changed) -> None:
        event.stop()

    @on(Select.Changed, "#data-source")
    def _source_picked(self, event: Select.Changed) -> None:
        event.stop()
        if self.generated and event.value != self._shown_knobs.get("source"):
            self.submit()  # as the Playground does: another data set at once

    @on(Button.Pressed, "#data-regenerate")
    def _regenerate_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.regenerate()

    def action_leave_field(self) -> None:
        """Escape: leave the field, so that the screen's keys work again."""
        focused = self.screen.focused
        if focused is not None and focused is not self and self in focused.ancestors:
            self.screen.set_focus(None)

    # -- private -----------------------------------------------------------------------------
    def _noise_in_percent(self) -> bool:
        """The 2-D generators take the Playground's noise (its % / 100); sine and side_effects their own."""
        spec = self.data_spec
        return spec is not None and _generator_name(spec.source) in playground_sources()

    def _chosen_source(self) -> str:
        """The picked generator; the spec's own spelling when it is still the one shown."""
        assert self.data_spec is not None
        if not self._noise_in_percent():
            return self.data_spec.source
        picked = self.query_one("#data-source", Select).value
        if not isinstance(picked, str) or picked == self._shown_knobs.get("source"):
            return self.data_spec.source
        return picked

    def _unless_unchanged(self, key: str, value):
        """The spec's own value when its field still says what it was filled with (so that an
        untouched field changes nothing: a default stays None, 0.35 stays 0.35)."""
        if value is None or self.data_spec is None:
            return value
        field = "#data-noise" if key == "noise" else "#data-samples"
        if self.query_one(field, Input).value.strip() == self._shown_knobs.get(key):
            return getattr(self.data_spec, key)
        return value

    def _fill_knobs(self) -> None:
        """The data set, noise and samples fields from the spec (shown for generated data only)."""
        generated = self.generated
        self.set_class(generated, "-generated")
        in_percent = self._noise_in_percent()
        self.set_class(generated and in_percent, "-picker")
        self.query_one("#split-hint", Static).update("⏎ apply" if generated else "⏎ resplit")
        if not generated:
            self._shown_knobs = {}
            return
        spec, ds = self.data_spec, self.dataset
        assert spec is not None and ds is not None
        name = _generator_name(spec.source)
        noise = float(spec.noise or 0.0)
        knobs = {"source": name or "", "noise": _number_text(noise * 100 if in_percent else noise),
                 "samples": str(spec.samples if spec.samples is not None else len(ds.x))}
        with self.prevent(Input.Changed, Select.Changed):
            if in_percent:
                task = playground_sources()[name]
                select = self.query_one("#data-source", Select)
                select.set_options([(n, n) for n, t in playground_sources().items() if t == task])
                select.value = name
            self.query_one("#data-noise", Input).value = knobs["noise"]
            self.query_one("#data-noise", Input).placeholder = "0-50" if in_percent else "0-1"
            self.query_one("#data-samples", Input).value = knobs["samples"]
        self.query_one("#data-noise-unit", Label).update("%" if in_percent else "")
        self._shown_knobs = knobs

    def _set_error(self, message: str) -> None:
        self.error = message
        if not self._composed:
            return
        box = self.query_one("#split-error", Static)
        box.update(f"✗ {message}" if message else "")
        box.set_class(bool(message), "-shown")

    def _fill(self) -> None:
        """Hand the stored data to the parts."""
        if not self._composed or self.dataset is None or self.split is None:
            return
        ds, split = self.dataset, self.split
        with self.prevent(Input.Changed):
            self.query_one("#split-ratios", Input).value = _ratios_text(split.ratios)
            self.query_one("#split-seed", Input).value = "" if split.seed is None else str(split.seed)
        self._set_error("")
        self._fill_knobs()
        details = "stratified" if split.stratified else "not stratified"
        seed = "" if split.seed is None else f", seed {split.seed}"
        self.query_one("#split-sizes", Static).update(
            f"{ds.name} ({ds.task}), {details} split{seed}\n{split_counts_text(split)}")
        chart = self.query_one("#split-balance", ClassBalanceChart)
        heading = self.query_one("#split-balance-heading", Static)
        if self.balance is not None:
            heading.update("class balance (bar: share of the split)")
            chart.set_counts(self.balance, _class_names(ds))
        else:
            heading.update("target per split")
            chart.set_targets(_target_stats(ds.y, split))
        self._fill_samples()
        self._fill_features()

    def _fill_samples(self) -> None:
        ds, split = self.dataset, self.split
        assert ds is not None and split is not None
        scatter = self.query_one("#split-scatter", SplitScatter)
        images = self.query_one("#split-images", SampleImages)
        heading = self.query_one("#split-samples-heading", Static)
        x = np.asarray(ds.x)
        two_d = x.ndim == 2 and x.shape[1] == 2
        image_shape = tuple(ds.image_shape) if ds.image_shape else None
        scatter.display = two_d
        images.display = image_shape is not None and not two_d
        heading.display = scatter.display or images.display
        if two_d:
            points = self.x_scaled if self.x_scaled is not None and self.x_scaled.shape == x.shape else x
            scaled = points is self.x_scaled
            heading.update("samples by split" + (" (scaled, as the model sees them)" if scaled else ""))
            scatter.set_points(points, split.assignment(len(x)), list(ds.feature_names)[:2] or ("x1", "x2"))
        elif image_shape is not None:
            heading.update(f"sample images from the training split ({self.samples_per_class} per class)"
                           if ds.task == "classification" else "sample images from the training split")
            picks, labels = self._image_picks()
            images.set_images(_as_images(x[picks], image_shape, x), labels)

    def _image_picks(self) -> tuple[list[int], list[str]]:
        ds, split = self.dataset, self.split
        assert ds is not None and split is not None
        train = np.asarray(split.train, dtype=np.int64)
        if ds.task == "classification":
            k = int(ds.num_classes or 0)
            picks = sample_indices(ds.y, train, k, self.samples_per_class)
            names = _class_names(ds)
            return picks, [names[int(ds.y[i])] for i in picks]
        picks = [int(i) for i in train[: 2 * self.samples_per_class * 5]]
        y = np.asarray(ds.y)
        labels = [_fmt(float(y[i])) if y.ndim == 1 else "" for i in picks]
        return picks, labels

    def _fill_features(self) -> None:
        ds = self.dataset
        assert ds is not None and self.stats is not None
        stats, scaled = self.stats, self.scaled_stats
        names = list(ds.feature_names)
        count = len(stats["mean"])
        names = (names + [f"x{i + 1}" for i in range(len(names), count)])[:count]
        table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold", show_edge=False)
        table.add_column("feature", no_wrap=True, overflow="ellipsis", max_width=18)
        for head in ("min", "mean", "std", "max"):
            table.add_column(head, justify="right", no_wrap=True)
        if scaled is not None:
            table.add_column("scaled mean", justify="right", no_wrap=True)
            table.add_column("scaled std", justify="right", no_wrap=True)
        for i in range(min(count, MAX_FEATURES)):
            row = [names[i], *(_fmt(float(stats[key][i])) for key in ("min", "mean", "std", "max"))]
            if scaled is not None and i < len(scaled["mean"]):
                row += [_fmt(_snap(float(scaled["mean"][i]))), _fmt(_snap(float(scaled["std"][i])))]
            elif scaled is not None:
                row += ["–", "–"]
            table.add_row(*row)
        parts: list = [table]
        if count > MAX_FEATURES:
            parts.append(Text(f"+{count - MAX_FEATURES} more features ({count} in all)", style="dim"))
        self.query_one("#split-features", Static).update(Group(*parts))


def _same_split(a: Split, b: Split) -> bool:
    return a is b or all(np.array_equal(x, y) for x, y in ((a.train, b.train), (a.val, b.val), (a.test, b.test)))


def _same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return a is b or (a.shape == b.shape and np.array_equal(a, b, equal_nan=True))


def _ratios_text(ratios: Sequence[float]) -> str:
    return "/".join(f"{float(r):g}" for r in ratios)


def _class_names(ds) -> list[str]:
    k = int(ds.num_classes or 0)
    names = [str(n) for n in (ds.class_names or [])]
    return (names + [str(i) for i in range(len(names), k)])[:k]


def _target_stats(y: np.ndarray, split: Split) -> dict[str, dict[str, float]]:
    values = np.asarray(y, dtype=np.float64)
    out = {}
    for key, idx in zip(SPLIT_NAMES, (split.train, split.val, split.test)):
        part = values[np.asarray(idx, dtype=np.int64)]
        if part.size:
            out[key] = {"mean": float(part.mean()), "std": float(part.std()), "min": float(part.min()),
                        "max": float(part.max())}
        else:
            out[key] = {}
    return out


def _as_images(x: np.ndarray, image_shape: tuple[int, ...], all_x: np.ndarray) -> np.ndarray:
    """Samples as `(m, h, w)` grey or `(m, h, w, 3)` RGB in `[0, 1]`, scaled by the data set's range."""
    lo, hi = float(np.nanmin(all_x)), float(np.nanmax(all_x))
    span = hi - lo if hi > lo else 1.0
    imgs = (np.asarray(x, dtype=np.float64).reshape((len(x), *image_shape)) - lo) / span
    if imgs.ndim == 4:
        channels = imgs.shape[-1]
        if channels == 1:
            imgs = imgs[..., 0]
        elif channels != 3:
            imgs = imgs.mean(axis=-1)
    return imgs

"""The "see inside" views of a 2-D problem: the decision boundary and the per-neuron maps.

`DecisionBoundary` paints what the model predicts over the plane of the two input features
(the TensorFlow Playground's output heatmap) with the data points on top; `NeuronMaps` paints
what each neuron of the first hidden layers responds to over the same plane (the Playground's
node thumbnails). Both get plain data through public methods: the model's config once, the
data once, then the weights of each `WeightSnapshot`. Each keeps an `InferenceTwin` (a private
`Sequential` rebuilt from the config) and predicts with it, never with the live model.

Cost: `update_snapshot` ignores weights equal to the last ones, and recomputes at most once
per `min_interval` seconds (`ThrottledRedraw`: the newest weights wait in a one-shot timer;
nothing polls). A recompute is one `predict` over the whole pixel grid (vectorised), then the
cells (a `tuinet.app.canvas.Canvas`, shared with the weight heatmap) are compared with those
on screen and only the character rows that changed are refreshed. Field
colours are quantised into `FIELD_SHADES` steps per side, a cell is split into two half
blocks only where the boundary runs between its pixels (elsewhere it is a space on one
shade), and equal neighbours are joined into one run, with spaces taking any glyph's
colour. A full redraw of a 100x40 boundary with 500 points costs 10-15 KB; once the model
has learned, a recompute repaints a few KB. A widget that is not on screen (another tab)
only takes the weights, and predicts and paints when it is shown again.

NO_COLOR-safe: classes differ by glyph (● ▲ ■ ◆ ★ ▼), test points are hollow (○ △ □ ...),
and without colour the field is drawn as textures (" ", "░", "▒", ... per class; a ramp
for values), each named in the legend line.

Colour depth: in a 256- or 16-colour terminal (`terminal_depth`) the field, the points and
the legend take their colours from the palette (`tuinet.app.boundary.depth_colors`): one
tone per class that keeps its hue, where the model is fairly sure, and point colours that
stand out on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
from textual.binding import Binding
from textual.events import Resize
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from tuinet.app.boundary import (
    FIELD_SHADES,
    FIELD_STRENGTH,
    Field,
    InferenceTwin,
    class_color,
    class_glyph,
    class_labels,
    diverging_colors,
    feature_count,
    field_colors,
    field_values,
    finite_range,
    fit_aspect,
    grid,
    is_supported,
    place_points,
    plane_extent,
    point_colors,
    value_position,
)
from tuinet.app.canvas import (  # re-exported: Canvas and its helpers were defined here first
    Canvas,
    half_block_cells,
    pack_rgb,
    rgb_of,
    run_foregrounds,
    terminal_depth,
    unpack_rgb,
)
from tuinet.app.widgets.throttle import DEFAULT_MIN_INTERVAL, ThrottledRedraw
from tuinet.errors import TuinetError

__all__ = [
    "Canvas",
    "DecisionBoundary",
    "NeuronMaps",
    "half_block_cells",
    "is_supported",
    "pack_rgb",
    "predict_step",
    "run_foregrounds",
    "unpack_rgb",
    "unsupported_message",
]

RGB = tuple[int, int, int]

MIN_SIZE = (10, 3)  # below this the views say they are too small
NO_COLOR_TEXTURES = (" ", "░", "▒", "▓", ":", "=", "+", "#")  # the field by class, without colour
NO_COLOR_RAMP = (" ", "░", "▒", "▓", "█")  # regression values, low to high, without colour
NEGATIVE_RAMP = ("-", "=", "≡")  # neuron maps without colour: |a| small to large, a < 0
POSITIVE_RAMP = ("░", "▒", "▓")  # ... and a > 0
LEGEND_MAX_LINES = 3  # the boundary's legend wraps onto at most this many lines
PREDICT_BUDGET = 80_000_000  # multiply-adds per recompute (~10-20 ms); a bigger model predicts at coarser blocks
PREDICT_CHUNK = 1024  # grid rows per forward pass: small BLAS calls stay single-threaded and cache-sized
NEURON_SHADES = 3  # shades per side of a neuron map (fewer than the field: many small maps)


# ---------------------------------------------------------------------- pure helpers
def config_input_shape(config: dict) -> tuple | None:
    """The sample shape a model's `get_config()` declares: a Sequential's `input_shape`, or the one
    InputLayer of a functional model; None when it declares none (or several inputs)."""
    if config.get("input_shape"):
        return tuple(config["input_shape"])
    inputs = [spec for spec in config.get("layers") or [] if isinstance(spec, dict)
              and spec.get("class_name") == "InputLayer"]
    if len(inputs) == 1:
        shape = (inputs[0].get("config") or {}).get("batch_shape")
        return tuple(shape[1:]) if shape else None
    return None


def unsupported_message(input_shape: Sequence[int | None] | None) -> str:
    """The placeholder of a model that is not 2-D."""
    n = feature_count(input_shape)
    return f"the decision boundary needs exactly 2 input features; this model has {'?' if n is None else n}"


def _same_weights(a: Mapping[str, np.ndarray] | None, b: Mapping[str, np.ndarray] | None) -> bool:
    if a is b:
        return True
    if a is None or b is None or a.keys() != b.keys():
        return False
    return all(np.array_equal(a[k], b[k]) for k in a)


def predict_step(pixels: int, cost_per_sample: int, budget: int = PREDICT_BUDGET) -> int:
    """The block size (in pixels, along each axis) at which predicting over `pixels` with a
    model costing `cost_per_sample` multiply-adds stays within `budget`: 1 for the small
    models of 2-D problems, 2-3 for a 128x128 MLP on a large terminal."""
    work = pixels * max(1, cost_per_sample)
    return 1 if work <= budget else math.ceil(math.sqrt(work / budget))


def _ramp_index(amount: np.ndarray, levels: int) -> np.ndarray:
    """`amount` in [0, 1] to 0..levels-1 (equal bins)."""
    return np.clip((np.nan_to_num(amount) * levels).astype(np.intp), 0, levels - 1)


# ---------------------------------------------------------------------- shared base
class _PlaneView(ThrottledRedraw, Widget):
    """Bookkeeping shared by both views: the twin, the data, the throttle, the canvas.

    New weights mark the view dirty (`ThrottledRedraw`); a draw takes the newest weights into
    the twin and repaints.
    """

    ALLOW_SELECT = False

    TIMER_NAME = "boundary-recompute"

    TEXT_COMPONENT: ClassVar[str] = ""
    """The component class whose colour the labels and the legend use."""

    def __init__(self, *, min_interval: float = DEFAULT_MIN_INTERVAL, name: str | None = None,
                 id: str | None = None, classes: str | None = None,  # noqa: A002
                 disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.min_interval = float(min_interval)
        """Seconds between two snapshot-driven recomputes (0: on every new snapshot)."""
        self.compute_count = 0
        """How many times the twin predicted over the grid."""
        self.paint_count = 0
        """How many times the cells were painted."""
        self.input_shape: tuple | None = None
        """Sample shape of the model (from its config), None before `set_model`."""
        self.weights_error: str | None = None
        """Why the last snapshot could not be used (another architecture), else None."""
        self._twin: InferenceTwin | None = None
        self._model_message: str | None = "waiting for a model"
        self._x_points = np.empty((0, 2))
        self._latest: Mapping[str, np.ndarray] | None = None
        self._applied = False
        self._dirty = False
        self._gen = 0  # bumps on every change of what is drawn
        self._field_gen = 0  # bumps on every change of what is computed
        self._computed_key: tuple | None = None
        self._canvas: Canvas | None = None
        self._canvas_key: tuple | None = None
        self._colour_key: tuple | None = None
        self._colour_value: tuple[RGB, RGB, RGB] = ((224, 224, 224), (0, 0, 0), (134, 134, 134))

    def render_line(self, y: int) -> Strip:
        canvas = self._ensure_canvas()
        if canvas is None or not 0 <= y < canvas.height:
            return Strip.blank(self.size.width)
        return canvas.strips()[y]

    def on_resize(self, event: Resize) -> None:
        self._update_view()

    # -- public ------------------------------------------------------------------------------
    @property
    def placeholder(self) -> str | None:
        """The message shown instead of the view, or None."""
        return self._model_message

    @property
    def canvas(self) -> Canvas | None:
        """The cells on screen (after the last paint), for inspection."""
        return self._canvas

    def update_snapshot(self, weights: Mapping[str, np.ndarray]) -> bool:
        """Show the model with these weights (`WeightSnapshot.weights`); a no-op when they are
        the ones shown. Recomputes now, or once at the end of the current `min_interval`.

        Returns True when the weights were new.
        """
        if _same_weights(weights, self._latest):
            return False
        self._latest = weights
        self._changed()
        return True

    def clear_weights(self) -> None:
        """Forget the weights (the field goes neutral until the next snapshot)."""
        self._latest = None
        self._applied = False
        self._dirty = False
        self._field_gen += 1
        self._update_view()

    # -- for subclasses ----------------------------------------------------------------------
    def _set_twin(self, model_config: dict | None, input_shape: Sequence[int] | None = None) -> None:
        """Rebuild the twin for `model_config`; sets the placeholder when it cannot be drawn."""
        self._twin, self._applied, self.weights_error = None, False, None
        self._field_gen += 1
        if model_config is None:
            self.input_shape, self._model_message = None, "waiting for a model"
            return
        shape = config_input_shape(model_config) or input_shape
        self.input_shape = tuple(shape) if shape is not None else None
        if not is_supported(self.input_shape):
            self._model_message = self._unsupported(self.input_shape)
            return
        try:
            self._twin = InferenceTwin(model_config, input_shape=self.input_shape)
        except TuinetError as error:
            self._model_message = f"cannot rebuild the model: {error}"
            return
        self._model_message = None
        if self._latest is not None:
            self._dirty = True

    def _unsupported(self, input_shape: Sequence[int | None] | None) -> str:
        return unsupported_message(input_shape)

    def _compute_key(self, width: int, height: int) -> tuple:
        """What the grid depends on, besides the weights and the data."""
        return (width, height)

    def _compute(self, width: int, height: int) -> None:
        """Predict over the grid for a `width` x `height` view (only when there are weights)."""

    def _paint(self, canvas: Canvas) -> None:
        """Draw the view onto `canvas` (sized like the widget, filled with the background)."""

    def _extent(self, cols: int, rows: int) -> tuple[float, float, float, float]:
        """The plane shown on a `cols` x `rows` pixel grid: the data with a margin, square pixels."""
        return fit_aspect(plane_extent(self._x_points), cols, rows)

    def _colours(self) -> tuple[RGB, RGB, RGB]:
        """(text, background, muted text) colours from the text component's style (which
        Textual caches until the styles change, so this is cheap per line)."""
        style = self.get_component_rich_style(self.TEXT_COMPONENT) if self.TEXT_COMPONENT else self.rich_style
        key = (style.color, style.bgcolor)
        if key != self._colour_key:
            bg = rgb_of(style.bgcolor, (0, 0, 0))
            fg = rgb_of(style.color, (224, 224, 224))
            muted = tuple(int(round(b + (f - b) * 0.6)) for f, b in zip(fg, bg))
            self._colour_key, self._colour_value = key, (fg, bg, muted)  # type: ignore[assignment]
        return self._colour_value

    @property
    def _has_weights(self) -> bool:
        return self._twin is not None and self._applied

    # -- private -----------------------------------------------------------------------------
    def _draw_now(self) -> None:
        """Copy the newest weights into the twin and update what is shown."""
        if self._take_latest():
            self._update_view()

    def _take_latest(self) -> bool:
        """Copy the newest weights into the twin (or note why they do not fit); False when
        there is no twin or no weights to take."""
        self._dirty = False
        if self._twin is None or self._latest is None:
            return False
        try:
            self._twin.set_weights(self._latest)
        except (TuinetError, KeyError) as error:
            self.weights_error, self._applied = f"the weights do not fit this model ({error})", False
        else:
            self.weights_error, self._applied = None, True
        self._field_gen += 1
        return True

    def _update_view(self) -> None:
        """Something changed: repaint now if on screen and refresh the rows that changed."""
        self._gen += 1
        if not self.is_mounted:
            return
        if not self.region.area:  # not on screen (another tab): paint when shown
            self.refresh()
            return
        old = self._canvas
        canvas = self._ensure_canvas()
        if canvas is None:
            return
        regions = canvas.changed_regions(old)
        if regions is None:
            self.refresh()
        elif regions:
            self.refresh(*regions)

    def _ensure_canvas(self) -> Canvas | None:
        """The canvas for the current size, colours and data, painted if anything changed."""
        width, height = self.size
        if width <= 0 or height <= 0:
            return None
        colours = self._colours()
        key = (width, height, colours, self.app.no_color, terminal_depth(self), self._gen)
        if key == self._canvas_key and self._canvas is not None:
            return self._canvas
        if self._dirty and self._pending is None:  # weights that came before the model or the mount
            self._take_latest()
        canvas = Canvas(width, height, colours[0], colours[1])
        message = self.placeholder
        if message is None and (width < MIN_SIZE[0] or height < MIN_SIZE[1]):
            message = "too small"
        if message is not None:
            self._paint_message(canvas, message, colours[2])
        else:
            compute_key = (*self._compute_key(width, height), self._field_gen)
            if compute_key != self._computed_key:
                self._computed_key = compute_key
                if self._has_weights:
                    self._compute(width, height)
                    self.compute_count += 1
            self._paint(canvas)
        self.paint_count += 1
        self._canvas, self._canvas_key = canvas, key
        return canvas

    @staticmethod
    def _paint_message(canvas: Canvas, message: str, colour: RGB) -> None:
        words, lines, line = message.split(), [], ""
        for word in words:  # wrap to the width
            if line and len(line) + 1 + len(word) > canvas.width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
        top = max(0, (canvas.height - len(lines)) // 2)
        for i, text in enumerate(lines[: canvas.height]):
            canvas.text(max(0, (canvas.width - len(text)) // 2), top + i, text, fg=colour)


# ---------------------------------------------------------------------- the boundary
class DecisionBoundary(_PlaneView):
    """What the model predicts over the plane of its two inputs, with the data on top.

    The field: two classes on a diverging orange (class 0) / blue (class 1) map around
    P = 0.5, more classes in their palette colours blended toward the background by
    confidence, regression on a value map whose range the legend gives. Two pixel rows per
    character row (upper-half blocks). Points: one character cell each, a glyph per class,
    filled for training points and hollow for test points, in the class colour on the
    field's colour. The legend takes the last line (up to `LEGEND_MAX_LINES` when narrow):
    classes with their glyphs, the train / test glyphs, and what the field's colours mean
    (P(class 1) from 0 to 1, or the regression range). Bindings (when focused): `t` test
    points (hidden at first, as in the Playground), `p` all points.
    """

    BINDINGS: ClassVar = [
        Binding("t", "toggle_test", "Test points", id="boundary.toggle-test",
                tooltip="Show or hide the test points (hollow glyphs)"),
        Binding("p", "toggle_points", "Points", id="boundary.toggle-points",
                tooltip="Show or hide all data points"),
    ]

    DEFAULT_CSS = """
    DecisionBoundary {
        width: 1fr;
        height: 1fr;
        min-width: 10;
        min-height: 3;
    }
    DecisionBoundary > .decision-boundary--legend {
        color: $foreground;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"decision-boundary--legend"}
    TEXT_COMPONENT = "decision-boundary--legend"

    can_focus = True

    show_points: reactive[bool] = reactive(True, init=False)
    """Draw the data points (training points, and test points when `show_test`)."""

    show_test: reactive[bool] = reactive(False, init=False)
    """Draw the test points too (hollow glyphs); off by default, as in the Playground."""

    def __init__(self, *, min_interval: float = DEFAULT_MIN_INTERVAL, show_test: bool = False,
                 name: str | None = None, id: str | None = None,  # noqa: A002
                 classes: str | None = None, disabled: bool = False) -> None:
        super().__init__(min_interval=min_interval, name=name, id=id, classes=classes, disabled=disabled)
        self.set_reactive(DecisionBoundary.show_test, bool(show_test))
        self.data_task = "classification"
        """"classification" or "regression" (from the data set)."""
        self.num_classes: int | None = None
        """Classes of the data (None: from the model's output width)."""
        self.class_names: list[str] | None = None
        """Display names by class id (None: "0", "1", ...)."""
        self.predict_budget = PREDICT_BUDGET
        """Multiply-adds one recompute may cost; above it the field is predicted at coarser blocks."""
        self.resolution_step = 1
        """Pixels per predicted value along each axis in the last recompute (more than 1 for a
        model too big to evaluate at every pixel within `PREDICT_BUDGET`)."""
        self.shades = FIELD_SHADES
        """Colour steps per side of the field (more: smoother, and more bytes per redraw)."""
        self.field: Field | None = None
        """The field of the last recompute, shaped (pixel rows, columns)."""
        self.extent: tuple[float, float, float, float] | None = None
        """The plane of the last recompute: (xmin, xmax, ymin, ymax)."""
        self._logits = False
        self._train = (np.empty((0, 2)), np.empty(0))
        self._test = (np.empty((0, 2)), np.empty(0))
        self._value_range: tuple[float, float] = (-1.0, 1.0)

    def watch_show_points(self) -> None:
        self._update_view()

    def watch_show_test(self) -> None:
        self._update_view()

    # -- public ------------------------------------------------------------------------------
    def set_model(self, model_config: dict, task: str = "classification", num_classes: int | None = None,
                  class_names: Sequence[str] | None = None) -> None:
        """Use this model (`Sequential.get_config()`) for `task` from now on.

        Call it again after the architecture changes; the next `update_snapshot` fills the
        new twin. A model whose input is not exactly 2 features shows a placeholder.
        """
        self.data_task = task
        self.class_names = list(class_names) if class_names is not None else None
        self.num_classes = num_classes if num_classes is not None else (
            len(self.class_names) if self.class_names else None)
        self._set_twin(model_config)
        self._logits = self._twin is not None and self._twin.output_activation == "linear"
        self.field = None
        self._update_view()

    def set_data(self, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray | None = None,
                 y_test: np.ndarray | None = None) -> None:
        """The points to draw (scaled, as the model sees them) and the plane they span.

        `y` may be class ids, one-hot rows or, for regression, values. Non-2-D inputs are
        kept out (the placeholder already says why).
        """
        def points(x, y):
            x = np.asarray(x if x is not None else np.empty((0, 2)), dtype=float)
            if x.ndim != 2 or x.shape[1] != 2:
                return np.empty((0, 2)), np.empty(0)
            y = np.asarray(y) if y is not None else np.zeros(len(x))
            return x, y

        self._train, self._test = points(x_train, y_train), points(x_test, y_test)
        self._x_points = np.concatenate([self._train[0], self._test[0]])
        targets = [self._target_values(y) for _, y in (self._train, self._test)]
        self._value_range = finite_range(*targets)
        self._field_gen += 1
        self._update_view()

    def toggle_test(self) -> bool:
        """Show or hide the test points; returns the new state."""
        self.show_test = not self.show_test
        return self.show_test

    def toggle_points(self) -> bool:
        """Show or hide all points; returns the new state."""
        self.show_points = not self.show_points
        return self.show_points

    def action_toggle_test(self) -> None:
        self.toggle_test()

    def action_toggle_points(self) -> None:
        self.toggle_points()

    @property
    def field_rows(self) -> int:
        """Character rows of the field: the widget's height less the legend's lines."""
        width, height = self.size
        return max(0, height - len(self._legend_lines(width, height)))

    def legend_text(self) -> str:
        """The legend as plain text, its lines joined by newlines."""
        canvas = self._ensure_canvas()
        if canvas is None or self.placeholder is not None:
            return ""
        rows = range(self.field_rows, canvas.height)
        return "\n".join(canvas.row_text(y).rstrip() for y in rows)

    def value_range(self) -> tuple[float, float]:
        """The range of the regression colour map (the targets' range)."""
        return self._value_range

    # -- private -----------------------------------------------------------------------------
    def _target_values(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        return y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y

    def _kind(self) -> str:
        """What `field_values` will make of this model's outputs."""
        if self.data_task != "classification":
            return "regression"
        units = self._twin.output_units if self._twin is not None else 2
        k = self.num_classes if self.num_classes is not None else (2 if units == 1 else units)
        return "binary" if units == 1 or (k <= 2 and units == 2) else "multiclass"

    def _compute_key(self, width: int, height: int) -> tuple:
        return (width, self._rows_for(width, height))

    def _rows_for(self, width: int, height: int) -> int:
        return max(1, height - len(self._legend_lines(width, height)))

    def _compute(self, width: int, height: int) -> None:
        twin = self._twin
        assert twin is not None
        prows = 2 * self._rows_for(width, height)
        self.extent = extent = self._extent(width, prows)
        step = self.resolution_step = predict_step(width * prows, twin.cost_per_sample, self.predict_budget)
        if step == 1:
            pred = twin.predict(grid(extent, width, prows), batch_size=PREDICT_CHUNK)
            self.field = field_values(pred, self.data_task, self.num_classes, shape=(prows, width),
                                      logits=self._logits)
            return
        # a big model: predict at the centres of step x step blocks, then repeat each value
        cols, rows = -(-width // step), -(-prows // step)
        xmin, xmax, ymin, ymax = extent
        block = (xmin, xmin + cols * step * (xmax - xmin) / width, ymax - rows * step * (ymax - ymin) / prows, ymax)
        pred = twin.predict(grid(block, cols, rows), batch_size=PREDICT_CHUNK)
        coarse = field_values(pred, self.data_task, self.num_classes, shape=(rows, cols), logits=self._logits)

        def upsample(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.repeat(np.repeat(a, step, axis=0), step, axis=1)[:prows, :width]

        self.field = coarse._replace(value=upsample(coarse.value), label=upsample(coarse.label))

    def _paint(self, canvas: Canvas) -> None:
        width = canvas.width
        legend = self._legend_lines(width, canvas.height)
        rows = canvas.height - len(legend)
        fg, bg, muted = self._colours()
        no_color = self.app.no_color
        depth = terminal_depth(self)
        field = self.field if self._has_weights else None
        if field is None or field.value.shape != (2 * rows, width):
            field = None
            self.extent = self._extent(width, 2 * rows)
        extent = self.extent
        pixels = None
        if field is not None:
            if no_color:
                canvas.chars[:rows] = self._textures(field)[0::2]
            else:
                pixels = field_colors(field, bg, value_range=self._value_range if field.kind == "regression" else None,
                                      shades=self.shades, depth=depth)
                chars, top, bottom = half_block_cells(pixels, self._split(field))
                canvas.chars[:rows], canvas.fg[:rows], canvas.bg[:rows] = chars, top, bottom
        if self.show_points:
            sets = [(self._train, False)] + ([(self._test, True)] if self.show_test else [])
            for (x, y), test in sets:
                if not len(x):
                    continue
                place = place_points(x, extent, width, rows)
                glyphs, colours = self._point_style(y, test, depth, bg)
                canvas.chars[place.row, place.col] = glyphs
                if no_color:
                    canvas.fg[place.row, place.col] = pack_rgb(fg)
                    continue
                canvas.fg[place.row, place.col] = pack_rgb(colours)
                if pixels is not None:
                    canvas.bg[place.row, place.col] = pack_rgb(pixels[place.pixel_row, place.col])
        for i, line in enumerate(legend):
            x = 0
            for text, colour in line:
                x = canvas.text(x, rows + i, text, muted if colour == "muted" else (fg if colour is None else colour))

    def _split(self, field: Field) -> np.ndarray:
        """Cells drawn as two half blocks: where the top and bottom pixel fall on different
        sides of the boundary (another class; for regression another side of 0 or more than
        one shade apart). Elsewhere a cell shows one shade, which halves the bytes a shaded
        field costs while the boundary itself keeps both pixel rows."""
        if field.kind != "regression":
            return field.label[0::2] != field.label[1::2]
        lo, hi = self._value_range
        level = np.rint(value_position(field.value, lo, hi) * self.shades)
        return np.abs(level[0::2] - level[1::2]) > 1

    def _point_style(self, y: np.ndarray, test: bool, depth: str = "truecolor",
                     bg: RGB = (0, 0, 0)) -> tuple[np.ndarray, np.ndarray]:
        """Glyphs and colours of points with targets `y`, for a `depth` terminal and a field on `bg`."""
        field_bg = {} if depth == "truecolor" else {"background": bg, "depth": depth}
        if self.data_task == "classification":
            labels = class_labels(y)
            table = np.array([class_glyph(i, test) for i in range(int(labels.max(initial=0)) + 1)], dtype="<U1")
            return table[np.maximum(labels, 0)], point_colors(labels, "classification", **field_bg)
        values = self._target_values(y)
        glyph = class_glyph(0, test)
        return np.full(len(values), glyph), point_colors(values, "regression", value_range=self._value_range,
                                                          shades=self.shades, **field_bg)

    def _textures(self, field: Field) -> np.ndarray:
        """The field as characters, for a terminal without colour."""
        if field.kind == "regression":
            lo, hi = self._value_range
            idx = _ramp_index((field.value - lo) / (hi - lo), len(NO_COLOR_RAMP))
            return np.asarray(NO_COLOR_RAMP)[idx]
        return np.asarray(NO_COLOR_TEXTURES)[field.label % len(NO_COLOR_TEXTURES)]

    def _class_name(self, i: int) -> str:
        if self.class_names is not None and 0 <= i < len(self.class_names):
            return str(self.class_names[i])
        return str(i)

    def _legend_items(self) -> list[tuple[str, list[tuple[str, object]]]]:
        """The legend as (separator before it, pieces of (text, colour)) items.

        A colour is an RGB tuple, None (the text colour) or "muted". Items wrap as words do.
        """
        no_color = self.app.no_color if self.is_attached else False
        depth = terminal_depth(self)
        bg = self._colours()[1] if depth != "truecolor" else (0, 0, 0)
        orange, blue = class_color(0, depth, bg), class_color(1, depth, bg)
        kind = self._kind()
        items: list[tuple[str, list[tuple[str, object]]]] = []
        if kind == "regression":
            items.append(("", [("value", "muted")]))
        else:
            units = self._twin.output_units if self._twin is not None else 2
            k = max(2, self.num_classes or (units if units > 1 else 2))
            for i in range(k):
                items.append(("  " if i else "", [(class_glyph(i), None if no_color else class_color(i, depth, bg)),
                                                  (f" {self._class_name(i)}", None)]))
        if not self.show_points:
            items.append((" │ ", [("points hidden (p)", "muted")]))
        else:
            items.append((" │ ", [(f"{class_glyph(0)} train", None)]))
            items.append((" ", [(f"{class_glyph(0, test=True)} test", None if self.show_test else "muted")]
                          + ([] if self.show_test else [(" hidden (t)", "muted")])))
        if not self._has_weights:
            note = self.weights_error or ("waiting for weights" if self._twin is not None else "")
            if note:
                items.append((" │ ", [(note, "muted")]))
            return items
        if kind == "regression":
            lo, hi = self._value_range
            if no_color:
                items.append((" │ ", [(f"field {lo:.3g} '{NO_COLOR_RAMP[0]}' {''.join(NO_COLOR_RAMP[1:])} {hi:.3g}",
                                       None)]))
            else:
                low = [(f"{lo:.3g}", orange if lo < 0 < hi else None)]
                middle = [(" … 0", "muted")] if lo < 0 < hi else []
                items.append((" │ ", [("field ", None), *low, *middle, (" … ", "muted"), (f"{hi:.3g}", blue)]))
        elif no_color:
            k = max(self.num_classes or 2, 2)
            textures = " ".join(f"'{NO_COLOR_TEXTURES[i]}' {self._class_name(i)}"
                                for i in range(min(k, len(NO_COLOR_TEXTURES))))
            items.append((" │ ", [(f"field {textures}", None)]))
        elif kind == "binary":
            items.append((" │ ", [(f"field P({self._class_name(1)}) ", None), ("0", orange),
                                  (" … .5 … ", "muted"), ("1", blue)]))
        else:
            items.append((" │ ", [("field: class, shade = confidence", None)]))
        return items

    def _legend_lines(self, width: int, height: int) -> list[list[tuple[str, object]]]:
        """The legend items wrapped to `width`, on at most `LEGEND_MAX_LINES` lines (fewer
        on a short widget: the field keeps at least as many rows as the legend)."""
        max_lines = max(1, min(LEGEND_MAX_LINES, height // 2))
        lines: list[list[tuple[str, object]]] = [[]]
        used = 0
        for sep, pieces in self._legend_items():
            size = sum(len(text) for text, _ in pieces)
            if lines[-1] and used + len(sep) + size > width and len(lines) < max_lines:
                lines.append([])
                used = 0
            if lines[-1] and sep:
                lines[-1].append((sep, "muted"))
                used += len(sep)
            lines[-1].extend(pieces)
            used += size
        return lines


# ---------------------------------------------------------------------- the neuron maps
class NeuronMaps(_PlaneView):
    """What each neuron of the first hidden layers outputs over the plane, one small map each.

    Like the Playground's node thumbnails: a map per neuron of the first `max_layers`
    hidden layers (layers with units before the output layer), `map_size` characters each
    (two pixel rows per character row), labelled "layer/unit", wrapped into rows under a
    header per layer. Each map is scaled to its own largest |activation| and drawn on a
    diverging map, orange < 0 < blue (a ReLU neuron goes from the background to blue; a
    dead one stays blank). Without colour, "-=≡" mark negative and "░▒▓" positive outputs.
    Neurons that do not fit are counted in a last line.
    """

    DEFAULT_CSS = """
    NeuronMaps {
        width: 1fr;
        height: 1fr;
        min-width: 10;
        min-height: 3;
    }
    NeuronMaps > .neuron-maps--label {
        color: $foreground;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"neuron-maps--label"}
    TEXT_COMPONENT = "neuron-maps--label"

    def __init__(self, *, map_size: tuple[int, int] = (12, 6), max_layers: int = 2,
                 min_interval: float = DEFAULT_MIN_INTERVAL, name: str | None = None,
                 id: str | None = None, classes: str | None = None,  # noqa: A002
                 disabled: bool = False) -> None:
        super().__init__(min_interval=min_interval, name=name, id=id, classes=classes, disabled=disabled)
        if map_size[0] < 2 or map_size[1] < 1:
            raise ValueError(f"map_size must be at least (2, 1) characters, got {map_size!r}")
        self.map_size = (int(map_size[0]), int(map_size[1]))
        """(columns, rows) of one neuron's map, in characters."""
        self.max_layers = int(max_layers)
        """How many hidden layers to show (the first ones)."""
        self.activations: list[np.ndarray] = []
        """Per layer, `(units, pixel rows, columns)` outputs of the last recompute."""
        self.layer_names: list[str] = []
        """Names of the layers shown."""
        self.shown_maps = 0
        """How many maps fit on screen in the last paint."""

    # -- public ------------------------------------------------------------------------------
    def set_model(self, model_config: dict, task: str | None = None, num_classes: int | None = None,
                  class_names: Sequence[str] | None = None) -> None:
        """Use this model (`Sequential.get_config()`); the other arguments are accepted so that
        both views take the same call, and ignored."""
        self._set_twin(model_config)
        self.layer_names = self._twin.hidden_layer_names(self.max_layers) if self._twin else []
        if self._twin is not None and not self.layer_names:
            self._model_message = "this model has no hidden layer: nothing between the inputs and the output"
        self.activations = []
        self._update_view()

    def set_data(self, x_train: np.ndarray, y_train: np.ndarray | None = None, x_test: np.ndarray | None = None,
                 y_test: np.ndarray | None = None) -> None:
        """The points whose plane the maps cover (targets are not used)."""
        xs = [np.asarray(x, dtype=float) for x in (x_train, x_test) if x is not None]
        xs = [x for x in xs if x.ndim == 2 and x.shape[1] == 2]
        self._x_points = np.concatenate(xs) if xs else np.empty((0, 2))
        self._field_gen += 1
        self._update_view()

    # -- private -----------------------------------------------------------------------------
    def _unsupported(self, input_shape: Sequence[int | None] | None) -> str:
        n = feature_count(input_shape)
        return f"the neuron maps need exactly 2 input features; this model has {'?' if n is None else n}"

    def _compute(self, width: int, height: int) -> None:
        cols, prows = self.map_size[0], 2 * self.map_size[1]
        points = grid(self._extent(cols, prows), cols, prows)
        outs = self._twin.hidden_activations(points, self.max_layers)  # type: ignore[union-attr]
        self.activations = [out.T.reshape(-1, prows, cols) for out in outs]

    def _paint(self, canvas: Canvas) -> None:
        fg, bg, muted = self._colours()
        no_color = self.app.no_color
        depth = terminal_depth(self)
        width, height = canvas.width, canvas.height
        map_w, map_h = self.map_size
        per_row = max(1, (width + 1) // (map_w + 1))
        y, shown, total = 0, 0, 0
        units = [self._twin.model.get_layer(n).units for n in self.layer_names] if self._twin else []
        acts = self.activations if self._has_weights else [None] * len(self.layer_names)
        legend_y = height - 1
        for name, n_units, act in zip(self.layer_names, units, acts):
            total += n_units
            if y >= legend_y:
                continue
            canvas.text(0, y, f"{name} · {n_units} units", fg)
            y += 1
            for start in range(0, n_units, per_row):
                if y + 1 + map_h > legend_y:
                    break
                for j, unit in enumerate(range(start, min(n_units, start + per_row))):
                    x = j * (map_w + 1)
                    label = f"{name}/{unit}"
                    if len(label) > map_w:  # keep the distinctive tail: "…e_1/3"
                        label = "…" + label[len(label) - map_w + 1:]
                    canvas.text(x, y, label, muted)
                    if act is not None:
                        self._paint_map(canvas, x, y + 1, act[unit], bg, no_color, depth)
                    shown += 1
                y += 1 + map_h
        self.shown_maps = shown
        if self.weights_error or not self._has_weights:
            note = self.weights_error or "waiting for weights"
        elif shown < total:
            note = f"{total - shown} more neurons do not fit; each map scaled to its own max |a|"
        else:
            note = "each map scaled to its own max |a|"
        x = 0
        if no_color:
            x = canvas.text(x, legend_y, f"{''.join(NEGATIVE_RAMP)} < 0 < {''.join(POSITIVE_RAMP)} │ ", muted)
        else:
            x = canvas.text(x, legend_y, "−", class_color(0, depth, bg))
            x = canvas.text(x, legend_y, " < 0 < ", muted)
            x = canvas.text(x, legend_y, "+", class_color(1, depth, bg))
            x = canvas.text(x, legend_y, " │ ", muted)
        canvas.text(x, legend_y, note, muted)

    def _paint_map(self, canvas: Canvas, x: int, y: int, act: np.ndarray, bg: RGB, no_color: bool,
                   depth: str = "truecolor") -> None:
        """One neuron's map at cell (x, y): `act` is (pixel rows, columns)."""
        act = np.nan_to_num(act, nan=0.0, posinf=0.0, neginf=0.0)  # a diverged model: blank, not a crash
        top = np.abs(act).max() if act.size else 0.0
        signed = act / top if top > 0 else np.zeros_like(act)
        rows = min(act.shape[0] // 2, canvas.height - y)
        cols = min(act.shape[1], canvas.width - x)
        if rows <= 0 or cols <= 0:
            return
        if no_color:
            s = signed[0:2 * rows:2, :cols]
            level = np.clip(np.rint(np.abs(s) * 3), 0, 3).astype(np.intp)
            chars = np.where(level == 0, " ", np.where(s < 0, np.asarray(("",) + NEGATIVE_RAMP)[level],
                                                       np.asarray(("",) + POSITIVE_RAMP)[level]))
            canvas.chars[y:y + rows, x:x + cols] = chars
            return
        pixels = diverging_colors(signed[: 2 * rows, :cols], bg, shades=NEURON_SHADES, strength=FIELD_STRENGTH + 0.2,
                                  depth=depth)
        sign = np.sign(np.rint(signed[: 2 * rows, :cols] * NEURON_SHADES))
        chars, top_fg, bottom = half_block_cells(pixels, sign[0::2] != sign[1::2])
        canvas.chars[y:y + rows, x:x + cols] = chars
        canvas.fg[y:y + rows, x:x + cols] = top_fg
        canvas.bg[y:y + rows, x:x + cols] = bottom

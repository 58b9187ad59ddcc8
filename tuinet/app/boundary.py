"""The math behind the decision-boundary view: an inference twin, the plane, the field, the colours.

Everything here is plain NumPy, free of Textual, and unit-tested on its own. The widgets in
`tuinet.app.widgets.boundary` draw what these functions compute.

- `InferenceTwin` is a private copy of the model (rebuilt from its config) whose weights are
  set from a `WeightSnapshot`; the boundary is drawn from its predictions, never from the live
  model that trains in another thread.
- The plane: `plane_extent` covers the data with a margin, `fit_aspect` widens it so a
  half-block "pixel" is square, `grid` gives the pixel centres (row 0 at the top, `ymax`),
  `place_points` puts data points into character cells (each character row holds two pixel
  rows, drawn with upper-half blocks).
- The field: `field_values` turns predictions into a `Field` (P(class 1) for two classes,
  class and confidence for more, the value for regression) and `field_colors` into RGB, after
  the TensorFlow Playground: orange for class 0 / negative, blue for class 1 / positive,
  blended toward the background by certainty and quantised into a few shades (the
  Playground uses 30 over [-1, 1]; a terminal pays per colour change, so fewer here).
- Colour depth: a 256- or 16-colour terminal cannot show those blends (Rich would send the
  nearest palette entries: mustard, teal, navy, maroon). There every colour function takes
  `depth=` and draws `depth_colors`: per class one field tone from the palette that keeps
  the class's hue, shown where the model is fairly sure (`SURE`; the background elsewhere),
  and a point colour from the same hue that stands out on that tone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Literal, NamedTuple

import numpy as np

from tuinet.app.colormap import ansi_pair, cielab, fit_hue, palette_rgb
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn.functional import Functional, model_from_config

__all__ = [
    "BLUE",
    "CLASS_COLORS",
    "FIELD_SHADES",
    "FIELD_STRENGTH",
    "NEUTRAL",
    "ORANGE",
    "POINT_CONTRAST",
    "SURE",
    "Field",
    "InferenceTwin",
    "Placement",
    "class_color",
    "class_glyph",
    "class_labels",
    "depth_colors",
    "diverging_colors",
    "feature_count",
    "field_colors",
    "field_values",
    "finite_range",
    "fit_aspect",
    "grid",
    "is_supported",
    "place_points",
    "plane_extent",
    "point_colors",
    "value_position",
]

RGB = tuple[int, int, int]
Extent = tuple[float, float, float, float]

ORANGE: RGB = (245, 147, 34)
"""The Playground's class 0 / negative colour (#f59322)."""
BLUE: RGB = (8, 119, 189)
"""The Playground's class 1 / positive colour (#0877bd)."""
NEUTRAL: RGB = (232, 234, 235)
"""The Playground's midpoint (#e8eaeb); the widgets use their own background instead."""
CLASS_COLORS: tuple[RGB, ...] = (
    ORANGE, BLUE, (44, 160, 44), (214, 39, 40), (148, 103, 189), (23, 190, 207), (227, 119, 194), (188, 189, 34),
)
"""Categorical palette: classes 0 and 1 as in the Playground, then Tableau-like hues (cycled)."""
FIELD_SHADES = 4
"""Shades per side of the field map (plus the neutral midpoint)."""
FIELD_STRENGTH = 0.55
"""How far the most certain field colour goes from the background toward the class colour
(the Playground draws its heatmap at alpha 160/255), so full-colour points stand out on it."""
SURE = 0.5
"""Below truecolour, the field shows its tone where the quantised certainty (`|2P - 1|`, or
the confidence above chance) is at least this, and the background elsewhere: the palette has
no dark oranges for fainter shades, and a neutral band reads as "not sure"."""
POINT_CONTRAST = 20.0
"""Below truecolour, the least CIELAB lightness difference between a point's colour and the
field tone of its class (a blue glyph on a teal field, 16 apart, was hard to see)."""

TRAIN_GLYPHS = ("●", "▲", "■", "◆", "★", "▼")
"""Filled glyphs of training points by class; classes past these get capital letters."""
TEST_GLYPHS = ("○", "△", "□", "◇", "☆", "▽")
"""Hollow twins of `TRAIN_GLYPHS` for test points; past these, small letters."""


# ---------------------------------------------------------------------- the inference twin
def feature_count(input_shape: Sequence[int | None] | None) -> int | None:
    """Number of input features of one sample (the product of the shape), None when unknown."""
    if input_shape is None:
        return None
    shape = tuple(input_shape)
    if shape and shape[0] is None:
        shape = shape[1:]
    if any(d is None for d in shape):
        return None
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


def is_supported(input_shape: Sequence[int | None] | None) -> bool:
    """True when a model with inputs of `input_shape` can be drawn on a plane: exactly `(2,)`.

    A leading batch axis (`(None, 2)`) is allowed; `(2, 1)`, `(4,)` or an image are not.
    """
    if input_shape is None:
        return False
    shape = tuple(input_shape)
    if len(shape) == 2 and shape[0] is None:
        shape = shape[1:]
    return shape == (2,)


class InferenceTwin:
    """A private copy of a model, for predictions while the real one trains elsewhere.

    Built once from the model's config; `set_weights` copies a snapshot into it. It runs
    in the UI thread only and shares no array with the training model.

    Args:
        model_config: `get_config()` of the model (Sequential or functional) (layer names included).
        input_shape: Sample shape, for a config saved before the model was built.

    Raises:
        ConfigError, ShapeError: The config cannot be rebuilt (or built for `input_shape`).
    """

    def __init__(self, model_config: dict, input_shape: Sequence[int] | None = None) -> None:
        self.model = model_from_config(model_config)
        if not self.model.built:
            if input_shape is None:
                raise ConfigError("the model config has no input shape; pass input_shape=(...)")
            self.model.build(tuple(input_shape))
        self._order = [(layer, name, f"{layer.name}/{name}") for layer in self.model.layers
                       for name in layer.weight_names]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input sample, without the batch axis."""
        return tuple(self.model.input_shape[1:])

    @property
    def output_units(self) -> int:
        """Size of the last axis of the output."""
        return int(self.model.output_shape[-1])

    @property
    def output_activation(self) -> str:
        """Name of the last activation applied to the output ("linear" when there is none)."""
        for layer in reversed(self.model.layers):
            act = getattr(layer, "activation", None)
            if act is not None:
                return act.name
            if layer.weight_names:  # a weighted layer without an activation (BatchNorm...): linear
                return "linear"
        return "linear"

    @property
    def cost_per_sample(self) -> int:
        """About how many multiply-adds one prediction costs (the number of weights)."""
        return int(self.model.count_params())

    @property
    def weight_keys(self) -> list[str]:
        """The "layer/param" keys the twin expects, in Keras order."""
        return [key for _, _, key in self._order]

    def set_weights(self, snapshot_weights: Mapping[str, np.ndarray]) -> None:
        """Copy a snapshot's weights (`"layer/param" -> array`) into the twin.

        Keys are matched by layer and weight name. When the names differ (a model rebuilt
        with new auto-names) but the arrays line up one to one in Keras order with the same
        shapes, they are taken in order.

        Raises:
            ShapeError: The snapshot is for another architecture; the twin is left unchanged.
        """
        if all(key in snapshot_weights for _, _, key in self._order):
            arrays = [np.asarray(snapshot_weights[key]) for _, _, key in self._order]
        else:
            arrays = [np.asarray(v) for v in snapshot_weights.values()]
            missing = [key for _, _, key in self._order if key not in snapshot_weights]
            if len(arrays) != len(self._order):
                raise ShapeError(f"the snapshot has {len(arrays)} weight arrays, the model {len(self._order)} "
                                 f"(missing {', '.join(missing[:3])})")
        for (layer, name, key), array in zip(self._order, arrays):
            if array.shape != layer.weight(name).shape:
                raise ShapeError(f"weight {key!r} has shape {layer.weight(name).shape}, the snapshot {array.shape}")
        for (layer, name, _), array in zip(self._order, arrays):
            layer.weight(name)[...] = array

    def predict(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """The model's outputs for `x` (inference mode), in one pass unless `batch_size` is given.

        Equal to `model.predict(x, batch_size=...)` of the model the weights came from, bit for
        bit with the same batch size and to float rounding with another (BLAS kernels sum in
        an order that can depend on the batch size).
        """
        if batch_size is not None:
            return self.model.predict(x, batch_size=batch_size, verbose=0)
        x = self.model._check_x(x, "predict")
        out = self.model._forward(x, False)
        return (out[0] if isinstance(out, list) else out).copy()

    def hidden_layer_names(self, max_layers: int = 2) -> list[str]:
        """Names of the first `max_layers` hidden layers with units (the output layer excluded)."""
        return [self.model.layers[i].name for i in self._hidden_indices()[:max_layers]]

    def hidden_activations(self, x: np.ndarray, max_layers: int = 2) -> list[np.ndarray]:
        """What each neuron of the first `max_layers` hidden layers outputs for each row of `x`.

        A hidden layer is one with `units` (Dense, SimpleRNN...) before the last such layer.
        Its neurons' output is taken after the shape-keeping layers that directly follow it
        (Activation, Dropout, BatchNormalization...), i.e. what the next layer with units
        sees, as in the Playground. Returns one `(n, units)` array per layer, in order.
        """
        hidden = self._hidden_indices()[:max_layers]
        if not hidden:
            return []
        if isinstance(self.model, Functional):  # a graph: the hidden layers' outputs, through a sub-model
            taps = self.__dict__.get("_taps")
            if taps is None:
                taps = self._taps = Functional(self.model.inputs, [self.model.layers[i].output for i in hidden])
            xs = taps._check_x(x, "hidden_activations")
            return [out.reshape(out.shape[0], -1).copy() for out in taps._forward(xs, False)]
        x = self.model._check_x(x, "hidden_activations")
        layers = self.model.layers
        taps: dict[int, int] = {}  # index of the last layer of a hidden group -> output slot
        for slot, i in enumerate(hidden):
            j = i
            while (j + 1 < len(layers) and getattr(layers[j + 1], "units", None) is None
                   and tuple(layers[j + 1].output_shape) == tuple(layers[i].output_shape)):
                j += 1
            taps[j] = slot
        outputs: list[np.ndarray | None] = [None] * len(hidden)
        for j, layer in enumerate(layers[:max(taps) + 1]):
            x = layer.forward(x, training=False)
            if j in taps:
                outputs[taps[j]] = x.reshape(x.shape[0], -1).copy()
        return [out for out in outputs if out is not None]

    def _hidden_indices(self) -> list[int]:
        with_units = [i for i, layer in enumerate(self.model.layers) if getattr(layer, "units", None) is not None]
        return with_units[:-1]


# ---------------------------------------------------------------------- the plane
def plane_extent(x: np.ndarray, margin: float = 0.1) -> Extent:
    """`(xmin, xmax, ymin, ymax)` covering every finite point of `x` (n, 2), widened by `margin`.

    Each axis grows by `margin` times its span on both sides; a degenerate axis (one value)
    gets +-0.5 around it, and no points at all give (-1, 1, -1, 1).
    """
    pts = np.asarray(x, dtype=float).reshape(-1, 2) if np.size(x) else np.empty((0, 2))
    pts = pts[np.isfinite(pts).all(axis=1)]
    if not len(pts):
        return (-1.0, 1.0, -1.0, 1.0)
    out: list[float] = []
    for axis in (0, 1):
        lo, hi = float(pts[:, axis].min()), float(pts[:, axis].max())
        pad = (hi - lo) * margin if hi > lo else 0.5
        out += [lo - pad, hi + pad]
    return (out[0], out[1], out[2], out[3])


def fit_aspect(extent: Extent, cols: int, rows: int) -> Extent:
    """`extent` widened along one axis so that a `cols` x `rows` grid has square cells.

    The centre stays; nothing is cut off. With half-block pixels (about as wide as tall)
    pass the pixel rows, so circles stay round.
    """
    xmin, xmax, ymin, ymax = extent
    if cols < 1 or rows < 1:
        return extent
    width, height = xmax - xmin, ymax - ymin
    if width / cols > height / rows:
        half = width / cols * rows / 2
        mid = (ymin + ymax) / 2
        return (xmin, xmax, mid - half, mid + half)
    half = height / rows * cols / 2
    mid = (xmin + xmax) / 2
    return (mid - half, mid + half, ymin, ymax)


def grid(extent: Extent, cols: int, rows: int) -> np.ndarray:
    """Centres of a `cols` x `rows` grid over `extent`, shape `(rows * cols, 2)`, row-major.

    Row 0 is the top of the plane (`y` near `ymax`), column 0 its left (`x` near `xmin`):
    reshaping a per-point result to `(rows, cols)` gives the picture as drawn.
    """
    xmin, xmax, ymin, ymax = extent
    xs = xmin + (np.arange(cols) + 0.5) * ((xmax - xmin) / cols)
    ys = ymax - (np.arange(rows) + 0.5) * ((ymax - ymin) / rows)
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()])


class Placement(NamedTuple):
    """Where points land: character column, character row, and half (0 top, 1 bottom pixel)."""

    col: np.ndarray
    row: np.ndarray
    half: np.ndarray

    @property
    def pixel_row(self) -> np.ndarray:
        return 2 * self.row + self.half


def place_points(x: np.ndarray, extent: Extent, cols: int, rows: int) -> Placement:
    """The character cell of each point of `x` (n, 2) on a `cols` x `rows` character field.

    The field has `2 * rows` pixel rows (two per character row, upper-half blocks), with
    the same geometry as `grid(extent, cols, 2 * rows)`: a point lands in the pixel whose
    cell contains it. Points outside `extent` are clamped to the border; non-finite
    coordinates go to the centre of the extent.
    """
    xmin, xmax, ymin, ymax = extent
    pts = np.asarray(x, dtype=float).reshape(-1, 2)
    pts = np.where(np.isfinite(pts), pts, [(xmin + xmax) / 2, (ymin + ymax) / 2])
    col = np.floor((pts[:, 0] - xmin) / (xmax - xmin) * cols)
    prow = np.floor((ymax - pts[:, 1]) / (ymax - ymin) * (2 * rows))
    col = np.clip(col, 0, cols - 1).astype(np.intp)
    prow = np.clip(prow, 0, 2 * rows - 1).astype(np.intp)
    return Placement(col, prow // 2, prow % 2)


# ---------------------------------------------------------------------- field values
class Field(NamedTuple):
    """What the model says at each grid point, shaped like the picture `(rows, cols)`.

    - `kind == "binary"` (two classes, one sigmoid or two softmax outputs): `value` is
      P(class 1) in [0, 1]; `label` is 1 where it is >= 0.5, else 0.
    - `kind == "multiclass"`: `label` is the argmax class id, `value` its probability
      (the confidence, in [1/k, 1]).
    - `kind == "regression"`: `value` is the (first) output; `label` is None.
    """

    kind: Literal["binary", "multiclass", "regression"]
    value: np.ndarray
    label: np.ndarray | None
    num_classes: int | None = None


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def field_values(pred: np.ndarray, task: str, num_classes: int | None = None, *,
                 shape: tuple[int, int] | None = None, logits: bool = False) -> Field:
    """Turn model outputs over a grid into a `Field` (see there for what each kind holds).

    Args:
        pred: Outputs, `(n, k)` (or `(rows, cols, k)`; a 1-D `(n,)` is one output).
        task: "classification" or "regression" (any other task is drawn as regression).
        num_classes: Classes of the data; with None it is read from the output width.
        shape: `(rows, cols)` of the picture; default `pred.shape[:-1]` (flat `(n,)`).
        logits: The outputs are logits (a linear last layer): a sigmoid (one output) or a
            softmax is applied first.
    """
    p = np.asarray(pred, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    out_shape = tuple(shape) if shape is not None else p.shape[:-1]
    p = p.reshape(-1, p.shape[-1])
    if int(np.prod(out_shape)) != p.shape[0]:
        raise ShapeError(f"field_values: {p.shape[0]} predictions do not fill a {out_shape} grid")
    units = p.shape[-1]
    if task != "classification":
        return Field("regression", p[:, 0].reshape(out_shape), None)
    k = num_classes if num_classes is not None else (2 if units == 1 else units)
    if units == 1:
        prob1 = 1.0 / (1.0 + np.exp(-np.clip(p[:, 0], -500, 500))) if logits else p[:, 0]
        prob1 = np.clip(np.nan_to_num(prob1, nan=0.5), 0.0, 1.0)
        return Field("binary", prob1.reshape(out_shape), (prob1 >= 0.5).astype(np.intp).reshape(out_shape), 2)
    probs = _softmax(p) if logits else p
    probs = np.nan_to_num(probs, nan=0.0)
    if k <= 2 and units == 2:
        prob1 = np.clip(probs[:, 1], 0.0, 1.0)
        return Field("binary", prob1.reshape(out_shape), (prob1 >= 0.5).astype(np.intp).reshape(out_shape), 2)
    label = probs.argmax(axis=-1)
    conf = np.clip(probs.max(axis=-1), 0.0, 1.0)
    return Field("multiclass", conf.reshape(out_shape), label.reshape(out_shape), max(k, units))


def finite_range(*arrays: np.ndarray | None) -> tuple[float, float]:
    """`(lo, hi)` over the finite values of `arrays`; a single value v gives (v - 1, v + 1)."""
    finite = [a[np.isfinite(a)] for a in (np.asarray(x, dtype=float).ravel() for x in arrays if x is not None)]
    finite = [a for a in finite if a.size]
    if not finite:
        return (-1.0, 1.0)
    lo, hi = min(float(a.min()) for a in finite), max(float(a.max()) for a in finite)
    return (lo, hi) if hi > lo else (lo - 1.0, hi + 1.0)


# ---------------------------------------------------------------------- colours
def class_color(label: int, depth: str = "truecolor", background: RGB = NEUTRAL) -> RGB:
    """The colour of class `label` (the palette repeats after 8; glyphs still differ): its
    point and legend colour on `background` at `depth` (`depth_colors`)."""
    colour = CLASS_COLORS[int(label) % len(CLASS_COLORS)]
    return colour if depth == "truecolor" else depth_colors(colour, background, depth)[1]


def _is_dark(rgb: RGB) -> bool:
    return float(cielab(rgb)[0]) < 50.0


@lru_cache(maxsize=256)
def depth_colors(colour: RGB, background: RGB, depth: str, strength: float = FIELD_STRENGTH) -> tuple[RGB, RGB]:
    """(field tone, point colour) of `colour` over `background` in a `depth` terminal.

    - "truecolor": the blend `strength` of the way from the background to `colour`, and
      `colour` itself.
    - "256": the tone is the palette colour nearest to that blend that keeps `colour`'s hue
      (`fit_hue`: on a dark background orange is (175, 95, 0), blue (0, 95, 175)); the point
      colour is the one nearest to `colour` whose lightness is at least `POINT_CONTRAST` from
      the tone's ((255, 175, 95) and (95, 175, 255) there).
    - "16": the ANSI pair of the hue (`ansi_pair`; orange is yellow, blue's points bright
      cyan): on a dark background its first is the tone and its second the point, on a
      light background the other way round.
    """
    colour = tuple(int(v) for v in colour)
    background = tuple(int(v) for v in background)
    blend = _blend(background, np.asarray([colour]), np.asarray([strength]))[0]
    if depth == "16":
        area, glyph = ansi_pair(colour)
        tone, point = (area, glyph) if _is_dark(background) else (glyph, area)
        return tuple(int(v) for v in palette_rgb(tone, "16")), tuple(int(v) for v in palette_rgb(point, "16"))
    if depth == "256":
        tone = fit_hue(blend, hue=colour)
        return tone, fit_hue(colour, away_from=tone, min_contrast=POINT_CONTRAST)
    return tuple(int(v) for v in blend), colour  # type: ignore[return-value]


def class_glyph(label: int, test: bool = False) -> str:
    """The point glyph of class `label`: filled for training points, hollow for test points.

    Classes 0-5: ● ▲ ■ ◆ ★ ▼ (test: ○ △ □ ◇ ☆ ▽); later classes: "G", "H", ... (test:
    "g", "h", ...), so every class keeps its own shape without colour.
    """
    label = int(label)
    glyphs = TEST_GLYPHS if test else TRAIN_GLYPHS
    if 0 <= label < len(glyphs):
        return glyphs[label]
    letter = chr(ord("A") + label % 26)
    return letter.lower() if test else letter


def class_labels(y: np.ndarray | None) -> np.ndarray:
    """Integer class ids from labels `(n,)`, one-hot / probabilities `(n, k)` or a `(n, 1)` column."""
    if y is None:
        return np.empty(0, dtype=np.intp)
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] > 1:
        return arr.argmax(axis=1).astype(np.intp)
    arr = arr.reshape(len(arr), -1)[:, 0] if arr.ndim > 1 else arr
    return np.rint(np.nan_to_num(arr.astype(float))).astype(np.intp)


def _blend(background: RGB, targets: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """`background + (targets - background) * amount`, rounded to uint8; `amount` broadcasts."""
    bg = np.asarray(background, dtype=np.float64)
    out = bg + (np.asarray(targets, dtype=np.float64) - bg) * np.asarray(amount, dtype=np.float64)[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _quantise(amount: np.ndarray, shades: int) -> np.ndarray:
    """`amount` in [0, 1] rounded to `shades` steps (0 stays 0: an undecided cell is neutral)."""
    return np.rint(np.clip(amount, 0.0, 1.0) * shades) / shades if shades > 0 else np.clip(amount, 0.0, 1.0)


def _toned(sure: np.ndarray, tones: np.ndarray, background: RGB) -> np.ndarray:
    """`tones` (`(..., 3)`) where `sure`, else the background, as uint8."""
    return np.where(sure[..., None], tones, np.asarray(background, dtype=np.uint8)).astype(np.uint8)


def diverging_colors(signed: np.ndarray, background: RGB = NEUTRAL, *, shades: int = FIELD_SHADES,
                     strength: float = 1.0, negative: RGB = ORANGE, positive: RGB = BLUE,
                     depth: str = "truecolor") -> np.ndarray:
    """Colours for values in [-1, 1]: `negative` < 0 < `positive`, the background at 0.

    |value| is quantised to `shades` steps and scaled by `strength` (1: the full colour at
    +-1). NaN is drawn as 0. Returns uint8 of shape `signed.shape + (3,)`. Below truecolour
    (`depth` "256" or "16") each side has one tone (`depth_colors` at `strength`), drawn where
    the quantised |value| is at least `SURE`.
    """
    s = np.nan_to_num(np.asarray(signed, dtype=np.float64), nan=0.0)
    if depth != "truecolor":
        tones = np.asarray([depth_colors(negative, background, depth, strength)[0],
                            depth_colors(positive, background, depth, strength)[0]], dtype=np.uint8)
        return _toned(_quantise(np.abs(s), shades) >= SURE, tones[(s > 0).astype(np.intp)], background)
    targets = np.where((s < 0)[..., None], np.asarray(negative, float), np.asarray(positive, float))
    return _blend(background, targets, _quantise(np.abs(s), shades) * strength)


def value_position(value: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Regression values on the colour axis of `field_colors`: in [-1, 1], value / max(|lo|,
    |hi|), when the range `(lo, hi)` spans 0; else in [0, 1] from `lo` (the background) to
    `hi` (blue). Clamped; NaN stays NaN."""
    v = np.asarray(value, dtype=np.float64)
    if lo < 0.0 < hi:
        return np.clip(v / max(-lo, hi), -1.0, 1.0)
    return np.clip((v - lo) / (hi - lo), 0.0, 1.0)


def field_colors(field: Field, background: RGB = NEUTRAL, *, value_range: tuple[float, float] | None = None,
                 shades: int = FIELD_SHADES, strength: float = FIELD_STRENGTH, depth: str = "truecolor") -> np.ndarray:
    """RGB colours of a `Field`, uint8 of shape `(rows, cols, 3)`.

    - binary: diverging around P = 0.5, orange (class 0) to blue (class 1), the background
      at 0.5; `|2P - 1|` is quantised to `shades` steps and scaled by `strength`.
    - multiclass: the class's palette colour (`class_color`), blended from the background
      by the confidence above chance, `(conf - 1/k) / (1 - 1/k)`, quantised the same way.
    - regression: over `value_range` (default: the field's own range). A range around 0
      is diverging, orange < 0 < blue, symmetric by the larger end; a range on one side of
      0 is sequential, the background at the low end to blue at the high end.

    Below truecolour (`depth` "256" or "16") each class or side has one tone from the
    terminal's palette (`depth_colors`), drawn where the quantised certainty is at least
    `SURE`; elsewhere the background.
    """
    if field.kind == "binary":
        return diverging_colors(2.0 * field.value - 1.0, background, shades=shades, strength=strength, depth=depth)
    if field.kind == "multiclass":
        k = max(int(field.num_classes or 0), int(field.label.max()) + 1 if field.label.size else 1, 2)
        amount = (np.nan_to_num(field.value, nan=0.0) - 1.0 / k) / (1.0 - 1.0 / k)
        if depth != "truecolor":
            tones = np.asarray([depth_colors(class_color(i), background, depth, strength)[0] for i in range(k)],
                               dtype=np.uint8)
            return _toned(_quantise(amount, shades) >= SURE, tones[field.label], background)
        palette = np.asarray([class_color(i) for i in range(k)], dtype=np.float64)
        return _blend(background, palette[field.label], _quantise(amount, shades) * strength)
    lo, hi = value_range if value_range is not None else finite_range(field.value)
    return diverging_colors(value_position(field.value, lo, hi), background, shades=shades, strength=strength,
                            depth=depth)


def point_colors(labels_or_values: np.ndarray, kind: str, *, value_range: tuple[float, float] | None = None,
                 background: RGB = NEUTRAL, shades: int = FIELD_SHADES, depth: str = "truecolor") -> np.ndarray:
    """Full-strength colours of data points, uint8 `(n, 3)`: the class colour, or for
    regression the target value on the field's map at full strength, quantised to `shades`
    steps per side (0: not quantised).

    Below truecolour (`depth` "256" or "16"; `background` is then the field's): the point
    colours of `depth_colors`, which stand out on the field's tones; a regression point
    takes its side's (orange < 0 < blue), or `NEUTRAL` where its value quantises to 0.
    """
    values = np.asarray(labels_or_values)
    if kind == "regression":
        lo, hi = value_range if value_range is not None else finite_range(values)
        position = value_position(values.astype(float), lo, hi)
        if depth == "truecolor":
            return diverging_colors(position, background, shades=shades)
        s = np.nan_to_num(position, nan=0.0)
        sides = np.asarray([class_color(0, depth, background), class_color(1, depth, background)], dtype=np.uint8)
        return _toned(_quantise(np.abs(s), shades) > 0, sides[(s > 0).astype(np.intp)], NEUTRAL)
    palette = np.asarray([class_color(i, depth, background) for i in range(len(CLASS_COLORS))], dtype=np.uint8)
    return palette[np.asarray(values, dtype=np.intp) % len(CLASS_COLORS)]

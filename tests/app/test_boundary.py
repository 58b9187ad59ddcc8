"""The decision boundary: the plane, the inference twin, the field, and the two widgets."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from rich.console import Console
from rich.control import Control
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tuinet.app.boundary import (
    BLUE,
    FIELD_STRENGTH,
    ORANGE,
    InferenceTwin,
    class_glyph,
    class_labels,
    diverging_colors,
    field_colors,
    field_values,
    finite_range,
    fit_aspect,
    grid,
    is_supported,
    place_points,
    plane_extent,
)
from tuinet.app.widgets.boundary import (
    Canvas,
    DecisionBoundary,
    NeuronMaps,
    half_block_cells,
    pack_rgb,
    predict_step,
    unpack_rgb,
)
from tuinet.data import generators
from tuinet.errors import ShapeError
from tuinet.nn import layers
from tuinet.nn.model import Sequential

TRUECOLOR = Console(color_system="truecolor", force_terminal=True)


# ---------------------------------------------------------------------- helpers
class BoundaryApp(App):
    """Mounts one widget, filling the screen."""

    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def snapshot_of(model: Sequential) -> dict[str, np.ndarray]:
    """What `WeightSnapshot.weights` holds: "layer/param" -> a copy."""
    return {f"{layer.name}/{name}": layer.weight(name).copy() for layer in model.layers for name in layer.weight_names}


def split_model() -> Sequential:
    """Dense(2, softmax): P(class 1) = sigmoid(8 * x1), so class 1 wins right of x1 = 0."""
    model = Sequential([layers.Dense(2, activation="softmax", input_shape=(2,))], seed=0)
    model.set_weights([np.array([[-4.0, 4.0], [0.0, 0.0]], dtype=np.float32), np.zeros(2, dtype=np.float32)])
    return model


def cells(widget: Widget) -> list[list[tuple[str, tuple | None, tuple | None]]]:
    """(character, foreground RGB, background RGB) of every cell, as the screen gets them."""
    rows = []
    for strip in widget.render_lines(Region(0, 0, *widget.size)):
        row = []
        for segment in strip:
            style = segment.style
            fg = tuple(style.color.triplet) if style and style.color and style.color.triplet else None
            bg = tuple(style.bgcolor.triplet) if style and style.bgcolor and style.bgcolor.triplet else None
            row.extend((ch, fg, bg) for ch in segment.text)
        rows.append(row)
    return rows


def text_of(widget: Widget) -> str:
    return "\n".join("".join(ch for ch, _, _ in row) for row in cells(widget))


def redraw_bytes(app: App, widget: Widget) -> int:
    """Bytes a full redraw of `widget` writes to a truecolor terminal (as in test_plots)."""
    strips = app.screen._compositor.render_strips()
    region = widget.region
    total = 0
    for y in range(region.y, region.bottom):
        strip = Strip(list(strips[y].crop(region.x, region.right)))
        total += len(Control.move_to(region.x, y).segment.text) + len(strip.render(TRUECOLOR).encode())
    return total


def region_bytes(widget: DecisionBoundary, regions: list[Region]) -> int:
    """Bytes the compositor writes to repaint `regions` of the widget."""
    total = 0
    for r in regions:
        for y in range(r.y, r.bottom):
            strip = widget.canvas.strip(y).crop(r.x, r.right)
            total += len(Control.move_to(r.x, y).segment.text) + len(strip.render(TRUECOLOR).encode())
    return total


def count_refreshes(widget: Widget) -> list[tuple]:
    calls: list[tuple] = []
    original = widget.refresh

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    widget.refresh = counting  # type: ignore[method-assign]
    return calls


def corners() -> np.ndarray:
    return np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])


# ---------------------------------------------------------------------- the plane
def test_grid_rows_start_at_the_top_and_columns_at_the_left():
    g = grid((0.0, 4.0, 0.0, 2.0), cols=4, rows=2)
    assert g.shape == (8, 2)
    np.testing.assert_allclose(g[0], [0.5, 1.5])  # top-left: small x, large y
    np.testing.assert_allclose(g[3], [3.5, 1.5])  # top-right
    np.testing.assert_allclose(g[-1], [3.5, 0.5])  # bottom-right
    pic = g[:, 1].reshape(2, 4)
    assert (pic[0] > pic[1]).all()  # row 0 is ymax's side


def test_plane_extent_covers_every_point_with_the_margin():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 2)) * [3.0, 0.5] + [1.0, -2.0]
    xmin, xmax, ymin, ymax = plane_extent(x, margin=0.1)
    sx, sy = np.ptp(x[:, 0]), np.ptp(x[:, 1])
    assert xmin == pytest.approx(x[:, 0].min() - 0.1 * sx) and xmax == pytest.approx(x[:, 0].max() + 0.1 * sx)
    assert ymin == pytest.approx(x[:, 1].min() - 0.1 * sy) and ymax == pytest.approx(x[:, 1].max() + 0.1 * sy)
    assert plane_extent(np.array([[2.0, 5.0], [2.0, 5.0]])) == (1.5, 2.5, 4.5, 5.5)  # one point: +-0.5
    assert plane_extent(np.empty((0, 2))) == (-1.0, 1.0, -1.0, 1.0)
    assert plane_extent(np.array([[0.0, 0.0], [1.0, np.nan], [1.0, 1.0]]), margin=0.0) == (0.0, 1.0, 0.0, 1.0)
    # widened for square pixels, never cut
    wide = fit_aspect((0.0, 4.0, 0.0, 1.0), cols=10, rows=10)
    assert wide == (0.0, 4.0, -1.5, 2.5)
    tall = fit_aspect((0.0, 1.0, 0.0, 4.0), cols=20, rows=10)
    assert tall == (-3.5, 4.5, 0.0, 4.0)


def test_place_points_maps_corners_and_half_rows():
    extent = (0.0, 10.0, 0.0, 4.0)  # 10 columns, 2 character rows = 4 pixel rows of height 1
    x = np.array([[0.01, 3.99], [9.99, 0.01], [0.01, 0.01], [9.99, 3.99], [5.5, 2.5], [5.5, 1.5],
                  [-5.0, 9.0], [50.0, -9.0], [np.nan, 1.0]])
    p = place_points(x, extent, cols=10, rows=2)
    assert p.col.tolist() == [0, 9, 0, 9, 5, 5, 0, 9, 5]
    assert p.row.tolist() == [0, 1, 1, 0, 0, 1, 0, 1, 1]  # outside: clamped; NaN x: the centre column
    assert p.half.tolist() == [0, 1, 1, 0, 1, 0, 0, 1, 1]
    assert p.pixel_row.tolist() == [0, 3, 3, 0, 1, 2, 0, 3, 3]
    # every pixel centre lands in its own pixel: the same geometry as grid(..., 2 * rows)
    centres = grid(extent, 10, 4)
    q = place_points(centres, extent, 10, 2)
    np.testing.assert_array_equal(q.pixel_row * 10 + q.col, np.arange(40))


def test_is_supported_only_for_two_features():
    assert is_supported((2,)) and is_supported((None, 2)) and is_supported([2])
    assert not any(is_supported(s) for s in [(4,), (2, 1), (8, 8, 1), (1,), None, (None, 3)])


# ---------------------------------------------------------------------- the twin
def trained_moons_model(epochs: int = 3) -> tuple[Sequential, np.ndarray, np.ndarray]:
    ds = generators.moons(200, noise=0.1, seed=1)
    model = Sequential([layers.Dense(8, activation="tanh", input_shape=(2,)), layers.Dense(8, activation="relu"),
                        layers.Dense(2, activation="softmax")], seed=4)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(ds.x, ds.y, epochs=epochs, batch_size=32, verbose=0)
    return model, ds.x, ds.y


def test_twin_predicts_what_the_model_predicts_on_the_same_grid():
    model, x, _ = trained_moons_model()
    twin = InferenceTwin(model.get_config())
    twin.set_weights(snapshot_of(model))
    g = grid(fit_aspect(plane_extent(x), 60, 40), 60, 40)
    # the drawn boundary agrees with model.predict on the same grid
    np.testing.assert_allclose(twin.predict(g), model.predict(g, verbose=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(twin.predict(g), model.predict(g, batch_size=len(g), verbose=0))
    np.testing.assert_array_equal(twin.predict(g, batch_size=32), model.predict(g, verbose=0))
    # the twin shares nothing with the model: more training leaves it as it was
    before = twin.predict(g)
    model.fit(x, (x[:, 0] > 0).astype(int), epochs=2, verbose=0)
    np.testing.assert_array_equal(twin.predict(g), before)
    assert not np.array_equal(model.predict(g, verbose=0), before)


def test_twin_rejects_another_architecture_and_takes_renamed_layers_in_order():
    model, _, _ = trained_moons_model(epochs=1)
    twin = InferenceTwin(model.get_config())
    g = grid((-1.0, 1.0, -1.0, 1.0), 5, 5)
    twin.set_weights(snapshot_of(model))
    before = twin.predict(g)
    other = Sequential([layers.Dense(3, input_shape=(2,)), layers.Dense(2)], seed=0)
    with pytest.raises(ShapeError):
        twin.set_weights(snapshot_of(other))
    np.testing.assert_array_equal(twin.predict(g), before)  # left unchanged
    renamed = {f"other_{i}/{key.split('/')[1]}": value for i, (key, value) in enumerate(snapshot_of(model).items())}
    twin.set_weights(renamed)
    np.testing.assert_array_equal(twin.predict(g), before)
    assert twin.weight_keys == list(snapshot_of(model))
    assert twin.output_units == 2 and twin.output_activation == "softmax"


def test_hidden_activations_are_the_neuron_outputs_of_the_first_hidden_layers():
    model = Sequential([layers.Dense(4, activation="tanh", input_shape=(2,)), layers.Dense(3),
                        layers.Activation("relu"), layers.Dropout(0.5), layers.Dense(3), layers.Dense(2)], seed=2)
    twin = InferenceTwin(model.get_config())
    twin.set_weights(snapshot_of(model))
    x = grid((-2.0, 2.0, -2.0, 2.0), 7, 5).astype(np.float32)
    (k1, b1), (k2, b2) = model.layers[0].get_weights(), model.layers[1].get_weights()
    h1 = np.tanh(x @ k1 + b1)
    h2 = np.maximum(h1 @ k2 + b2, 0.0)  # after the Activation that follows, Dropout off
    outs = twin.hidden_activations(x, max_layers=2)
    assert [o.shape for o in outs] == [(35, 4), (35, 3)]
    np.testing.assert_allclose(outs[0], h1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[1], h2, rtol=1e-5, atol=1e-6)
    assert twin.hidden_layer_names(2) == [model.layers[0].name, model.layers[1].name]
    assert len(twin.hidden_activations(x, max_layers=5)) == 3  # the output layer is not hidden
    assert InferenceTwin(split_model().get_config()).hidden_activations(x) == []


# ---------------------------------------------------------------------- field values and colours
def test_binary_field_of_a_hand_made_model_splits_left_and_right():
    twin = InferenceTwin(split_model().get_config())
    twin.set_weights(snapshot_of(split_model()))
    extent = (-1.0, 1.0, -1.0, 1.0)
    field = field_values(twin.predict(grid(extent, 8, 4)), "classification", 2, shape=(4, 8))
    assert field.kind == "binary" and field.value.shape == (4, 8)
    assert (field.value[:, :4] < 0.5).all() and (field.value[:, 4:] > 0.5).all()
    assert (field.label[:, :4] == 0).all() and (field.label[:, 4:] == 1).all()
    np.testing.assert_allclose(field.value[0], 1 / (1 + np.exp(-8 * grid(extent, 8, 4)[:8, 0])), rtol=1e-5)
    bg = (20, 20, 20)
    colours = field_colors(field, bg)
    assert colours.shape == (4, 8, 3) and colours.dtype == np.uint8
    left, right = colours[:, 0].astype(int), colours[:, -1].astype(int)
    assert (left[:, 0] > left[:, 2]).all() and (right[:, 2] > right[:, 0]).all()  # orange | blue
    np.testing.assert_array_equal(colours[0, 0], np.rint(np.add(bg, np.subtract(ORANGE, bg) * FIELD_STRENGTH)))
    np.testing.assert_array_equal(colours[0, -1], np.rint(np.add(bg, np.subtract(BLUE, bg) * FIELD_STRENGTH)))
    assert len({tuple(c) for c in colours.reshape(-1, 3)}) <= 2 * 6 + 1  # quantised shades
    # P = 0.5 exactly is the background; one sigmoid output and logits give the same field
    assert (field_colors(field_values(np.full((3, 1), 0.5), "classification", 2), bg) == bg).all()
    sig = field_values(np.array([0.0, 2.0, -2.0]), "classification", 2, logits=True)
    np.testing.assert_allclose(sig.value, [0.5, 1 / (1 + np.exp(-2)), 1 / (1 + np.exp(2))])


def test_multiclass_field_is_argmax_and_confidence():
    probs = np.array([[0.8, 0.1, 0.1], [1 / 3, 1 / 3, 1 / 3], [0.0, 0.0, 1.0], [0.2, 0.7, 0.1]])
    field = field_values(probs, "classification", 3, shape=(2, 2))
    assert field.kind == "multiclass"
    np.testing.assert_array_equal(field.label, [[0, 0], [2, 1]])
    np.testing.assert_allclose(field.value, [[0.8, 1 / 3], [1.0, 0.7]])
    bg = (0, 0, 0)
    colours = field_colors(field, bg, shades=0)
    np.testing.assert_array_equal(colours[0, 1], bg)  # chance: the background
    np.testing.assert_array_equal(colours[1, 0], np.rint(np.multiply((44, 160, 44), FIELD_STRENGTH)))  # class 2, sure
    assert colours[0, 0, 0] > colours[0, 0, 2]  # class 0 is orange
    logits = field_values(np.log(probs[[0, 2, 3, 3]] + 1e-12), "classification", 3, logits=True)
    np.testing.assert_array_equal(logits.label, [0, 2, 1, 1])


def test_regression_field_is_the_value_on_a_diverging_or_sequential_map():
    model = Sequential([layers.Dense(1, input_shape=(2,))], seed=0)
    model.set_weights([np.array([[1.0], [0.0]], dtype=np.float32), np.zeros(1, dtype=np.float32)])
    twin = InferenceTwin(model.get_config())
    twin.set_weights(snapshot_of(model))
    g = grid((-2.0, 2.0, -1.0, 1.0), 4, 2)
    field = field_values(twin.predict(g), "regression", None, shape=(2, 4))
    assert field.kind == "regression" and field.label is None
    np.testing.assert_allclose(field.value, g[:, 0].reshape(2, 4))  # y = x1
    bg = (10, 10, 10)
    colours = field_colors(field, bg, value_range=(-1.5, 1.5), shades=0, strength=1.0)
    np.testing.assert_array_equal(colours[0, 0], ORANGE)  # -1.5: the low end
    np.testing.assert_array_equal(colours[0, 3], BLUE)
    mid = field_colors(field_values(np.zeros(2), "regression"), bg, value_range=(-1.0, 1.0))
    assert (mid == bg).all()  # 0 is the background
    seq = field_colors(field, bg, value_range=(-1.5, 3.0), shades=0, strength=1.0)  # still around 0: diverging
    assert seq[0, 0, 0] > seq[0, 0, 2]
    seq = field_colors(field, bg, value_range=(-1.5, -1.0), shades=0, strength=1.0)  # one side: sequential
    np.testing.assert_array_equal(seq[0, 0], bg)
    np.testing.assert_array_equal(seq[0, 1], BLUE)  # -0.5 is above the top: clamped to blue
    assert finite_range(np.array([1.0, np.nan, 3.0]), None) == (1.0, 3.0)
    assert finite_range(np.array([2.0])) == (1.0, 3.0)


def test_glyphs_differ_by_class_and_split():
    train = [class_glyph(i) for i in range(8)]
    test = [class_glyph(i, test=True) for i in range(8)]
    assert len(set(train)) == 8 and len(set(test)) == 8 and not set(train) & set(test)
    assert train[:3] == ["●", "▲", "■"] and test[:3] == ["○", "△", "□"]
    assert train[6:] == ["G", "H"] and test[6:] == ["g", "h"]
    np.testing.assert_array_equal(class_labels(np.array([[0, 1, 0], [1, 0, 0]])), [1, 0])
    np.testing.assert_array_equal(class_labels(np.array([[1.0], [0.0]])), [1, 0])


def test_cells_join_runs_and_spaces_take_any_glyph_colour():
    def canvas_with(*glyphs: tuple[int, str, tuple]) -> Canvas:
        canvas = Canvas(9, 2, fg=(200, 200, 200), bg=(0, 0, 0))
        canvas.bg[0] = pack_rgb((50, 50, 50))
        canvas.bg[0, 8] = pack_rgb((1, 2, 3))
        for x, glyph, colour in glyphs:
            canvas.text(x, 0, glyph, colour)
        return canvas

    strip = canvas_with((4, "●", ORANGE)).strip(0)
    assert [segment.text for segment in strip] == ["    ●   ", " "]  # one escape sequence, not three
    assert strip._segments[0].style.color.triplet == ORANGE
    assert strip._segments[1].style.color is None  # spaces alone: a background-only style
    strips = canvas_with((4, "●", ORANGE), (6, "▲", BLUE)).strips()
    assert [segment.text for segment in strips[0]] == ["    ●", " ▲ ", " "]
    assert [segment.text for segment in strips[1]] == [" " * 9] and strips[1].cell_length == 9
    pixels = np.array([[[1, 1, 1], [5, 5, 5]], [[1, 1, 1], [6, 6, 6]]], dtype=np.uint8)  # 2 pixel rows, 2 cols
    chars, fg, bg = half_block_cells(pixels)
    assert chars.tolist() == [[" ", "▀"]]
    assert unpack_rgb(int(fg[0, 1])) == (5, 5, 5) and unpack_rgb(int(bg[0, 1])) == (6, 6, 6)
    chars, fg, bg = half_block_cells(pixels, split=np.array([[False, False]]))
    assert chars.tolist() == [[" ", " "]] and unpack_rgb(int(bg[0, 1])) == (5, 5, 5)  # the top pixel


# ---------------------------------------------------------------------- the widget
async def test_boundary_draws_field_colours_and_points_where_they_belong():
    widget = DecisionBoundary(min_interval=0, show_test=True)
    model = split_model()
    x_train = np.vstack([corners(), [[0.5, 0.0]]])
    y_train = np.array([0, 1, 0, 1, 1])
    x_test, y_test = np.array([[-0.5, 0.5]]), np.array([0])
    async with BoundaryApp(widget).run_test(size=(40, 12)) as pilot:
        widget.set_model(model.get_config(), "classification", 2, ["left", "right"])
        widget.set_data(x_train, y_train, x_test, y_test)
        widget.update_snapshot(snapshot_of(model))
        await pilot.pause()
        rows = widget.field_rows
        assert rows == 12 - len(widget.legend_text().splitlines()) >= 9
        assert widget.field.value.shape == (2 * rows, 40)
        shown = cells(widget)
        extent = widget.extent
        train_at = place_points(x_train, extent, 40, rows)
        test_at = place_points(x_test, extent, 40, rows)
        glyph = {0: "●", 1: "▲"}
        for r, c, label in zip(train_at.row, train_at.col, y_train):
            assert shown[r][c][0] == glyph[label]
            assert shown[r][c][1] == (ORANGE if label == 0 else BLUE)
        r, c = test_at.row[0], test_at.col[0]
        assert shown[r][c][0] == "○" and shown[r][c][1] == ORANGE
        # the cell behind a point keeps the field colour of the pixel the point is in
        bg = widget.background_colors[1].rgb
        pixels = field_colors(widget.field, bg)
        assert shown[r][c][2] == tuple(pixels[test_at.pixel_row[0], c])
        # every other cell shows the field: "▀" top/bottom pixels, or a space on the top pixel
        points = {(int(r), int(c)) for r, c in zip(train_at.row, train_at.col)} | {(int(r), int(c))}
        for row in range(rows):
            for col in range(40):
                if (row, col) in points:
                    continue
                ch, fg, back = shown[row][col]
                top, bottom = tuple(pixels[2 * row, col]), tuple(pixels[2 * row + 1, col])
                if ch == "▀":
                    assert (fg, back) == (top, bottom)
                else:
                    assert ch == " " and back == top
        # left of x1 = 0 is orange, right of it blue
        left, right = shown[5][2][2], shown[5][37][2]
        assert left[0] > left[2] and right[2] > right[0]
        legend = widget.legend_text()
        assert legend.splitlines() == [line.rstrip() for line in text_of(widget).splitlines()[rows:]]
        legend = " ".join(legend.splitlines())  # wrapped on a narrow widget
        assert "● left" in legend and "▲ right" in legend and "● train" in legend and "○ test" in legend
        assert "field P(right) 0 … .5 … 1" in legend


async def test_placeholder_for_inputs_that_are_not_two_features():
    widget = DecisionBoundary(min_interval=0)
    maps = NeuronMaps(min_interval=0)
    iris = Sequential([layers.Dense(8, activation="relu", input_shape=(4,)), layers.Dense(3, activation="softmax")])
    image = Sequential([layers.Flatten(input_shape=(8, 8, 1)), layers.Dense(10, activation="softmax")])
    async with BoundaryApp(widget).run_test(size=(100, 10)) as pilot:
        assert "waiting for a model" in text_of(widget)
        widget.set_model(iris.get_config(), "classification", 3, None)
        widget.set_data(np.zeros((5, 4)), np.zeros(5))
        assert widget.update_snapshot(snapshot_of(iris)) is True  # kept, never drawn
        await pilot.pause()
        assert "the decision boundary needs exactly 2 input features; this model has 4" in text_of(widget)
        assert widget.compute_count == 0
        widget.set_model(image.get_config(), "classification", 10, None)
        await pilot.pause()
        assert "this model has 64" in text_of(widget)
        widget.set_model(split_model().get_config(), "classification", 2, None)  # back to 2-D
        widget.set_data(corners(), np.array([0, 1, 0, 1]))
        widget.update_snapshot(snapshot_of(split_model()))
        await pilot.pause()
        assert widget.placeholder is None and widget.compute_count == 1
    async with BoundaryApp(maps).run_test(size=(100, 10)) as pilot:
        maps.set_model(iris.get_config())
        await pilot.pause()
        assert "the neuron maps need exactly 2 input features; this model has 4" in text_of(maps)
        maps.set_model(split_model().get_config())
        await pilot.pause()
        assert "this model has no hidden layer" in text_of(maps)


async def test_t_and_p_toggle_test_points_and_all_points():
    widget = DecisionBoundary(min_interval=0)
    model = split_model()
    async with BoundaryApp(widget).run_test(size=(40, 12)) as pilot:
        widget.set_model(model.get_config(), "classification", 2, None)
        widget.set_data(corners(), np.array([0, 1, 0, 1]), np.array([[0.5, 0.5]]), np.array([1]))
        widget.update_snapshot(snapshot_of(model))
        widget.focus()
        await pilot.pause()
        field_text = "\n".join(text_of(widget).splitlines()[: widget.field_rows])
        assert not widget.show_test and "△" not in field_text and field_text.count("●") == 2
        assert "○ test hidden (t)" in widget.legend_text()
        await pilot.press("t")
        field_text = "\n".join(text_of(widget).splitlines()[: widget.field_rows])
        assert widget.show_test and field_text.count("△") == 1
        assert "hidden" not in widget.legend_text()
        await pilot.press("p")
        field_text = "\n".join(text_of(widget).splitlines()[: widget.field_rows])
        assert not widget.show_points and not set("●▲○△") & set(field_text)
        assert "points hidden (p)" in widget.legend_text()
        await pilot.press("p")
        assert widget.show_points and "△" in text_of(widget)
        assert widget.compute_count == 1  # toggles repaint, they do not predict again


async def test_an_identical_snapshot_neither_recomputes_nor_refreshes():
    widget = DecisionBoundary(min_interval=0)
    model, x, y = trained_moons_model(epochs=1)
    async with BoundaryApp(widget).run_test(size=(60, 20)) as pilot:
        widget.set_model(model.get_config(), "classification", 2, None)
        widget.set_data(x, y)
        weights = snapshot_of(model)
        assert widget.update_snapshot(weights) is True
        await pilot.pause()
        computes, paints = widget.compute_count, widget.paint_count
        refreshes = count_refreshes(widget)
        assert widget.update_snapshot(weights) is False
        assert widget.update_snapshot({k: v.copy() for k, v in weights.items()}) is False  # equal values
        await pilot.pause()
        assert (widget.compute_count, widget.paint_count, refreshes) == (computes, paints, [])
        # a small change recomputes once and refreshes only what changed
        model.fit(x, y, epochs=1, verbose=0)
        assert widget.update_snapshot(snapshot_of(model)) is True
        await pilot.pause()
        assert widget.compute_count == computes + 1
        assert len(refreshes) == 1 and refreshes[0]  # with regions: a partial repaint
        assert all(isinstance(r, Region) for r in refreshes[0])


async def test_snapshots_within_min_interval_are_coalesced():
    widget = DecisionBoundary(min_interval=0.3)
    model, x, y = trained_moons_model(epochs=1)
    async with BoundaryApp(widget).run_test(size=(40, 12)) as pilot:
        widget.set_model(model.get_config(), "classification", 2, None)
        widget.set_data(x, y)
        await pilot.pause()
        base = widget.compute_count
        widget.update_snapshot(snapshot_of(model))
        await pilot.pause()
        assert widget.compute_count == base + 1  # the first one at once
        snapshots = []
        for _ in range(4):
            model.train_on_batch(x[:32], y[:32])
            snapshots.append(snapshot_of(model))
            widget.update_snapshot(snapshots[-1])
        await pilot.pause()
        assert widget.compute_count == base + 1  # the next ones wait ...
        await asyncio.sleep(0.4)
        await pilot.pause()
        assert widget.compute_count == base + 2  # ... for one recompute, of the newest
        twin = InferenceTwin(model.get_config())
        twin.set_weights(snapshots[-1])
        rows = widget.field_rows
        g = grid(widget.extent, 40, 2 * rows)
        expected = field_values(twin.predict(g), "classification", 2, shape=(2 * rows, 40))
        np.testing.assert_array_equal(widget.field.value, expected.value)
        await asyncio.sleep(0.35)
        assert widget.compute_count == base + 2  # and nothing after it


async def test_regression_and_multiclass_legends_name_the_range_and_classes():
    reg = DecisionBoundary(min_interval=0)
    model = Sequential([layers.Dense(1, input_shape=(2,))], seed=0)
    async with BoundaryApp(reg).run_test(size=(80, 10)) as pilot:
        reg.set_model(model.get_config(), "regression", None, None)
        reg.set_data(corners(), np.array([[-2.0], [0.5], [1.0], [3.0]]))
        assert "waiting for weights" in reg.legend_text()
        reg.update_snapshot(snapshot_of(model))
        await pilot.pause()
        assert reg.field.kind == "regression" and reg.value_range() == (-2.0, 3.0)
        legend = reg.legend_text()
        assert legend.startswith("value │ ● train") and "field -2 … 0 … 3" in legend
        assert reg.canvas.chars[0].tolist().count("●") >= 1  # points drawn as ● in the target's colour
    multi = DecisionBoundary(min_interval=0)
    three = Sequential([layers.Dense(3, activation="softmax", input_shape=(2,))], seed=0)
    async with BoundaryApp(multi).run_test(size=(80, 10)) as pilot:
        multi.set_model(three.get_config(), "classification", 3, ["a", "b", "c"])
        multi.set_data(corners(), np.array([0, 1, 2, 2]))
        multi.update_snapshot(snapshot_of(three))
        await pilot.pause()
        assert multi.field.kind == "multiclass"
        legend = multi.legend_text()
        assert "● a  ▲ b  ■ c" in legend and "field: class, shade = confidence" in legend


async def test_without_colour_the_field_is_textured_and_named(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    widget = DecisionBoundary(min_interval=0)
    model = split_model()
    app = BoundaryApp(widget)
    async with app.run_test(size=(40, 12)) as pilot:
        assert app.no_color
        widget.set_model(model.get_config(), "classification", 2, ["no", "yes"])
        widget.set_data(corners(), np.array([0, 1, 0, 1]))
        widget.update_snapshot(snapshot_of(model))
        await pilot.pause()
        rows = text_of(widget).splitlines()[: widget.field_rows]
        assert rows[4][1] == " " and rows[4][-2] == "░"  # class 0 blank, class 1 shaded
        assert "field ' ' no '░' yes" in widget.legend_text()
        assert "●" in "".join(rows) and "▲" in "".join(rows)


async def test_weights_of_another_model_are_reported_not_raised():
    widget = DecisionBoundary(min_interval=0)
    async with BoundaryApp(widget).run_test(size=(60, 8)) as pilot:
        widget.set_model(split_model().get_config(), "classification", 2, None)
        widget.set_data(corners(), np.array([0, 1, 0, 1]))
        other = Sequential([layers.Dense(3, input_shape=(2,)), layers.Dense(2)], seed=0)
        widget.update_snapshot(snapshot_of(other))
        await pilot.pause()
        assert widget.weights_error is not None and widget.compute_count == 0
        assert "the weights do not fit this model" in widget.legend_text()


async def test_a_full_redraw_at_100x40_stays_under_20_kb():
    ds = generators.moons(500, noise=0.1, seed=0)
    order = np.random.default_rng(0).permutation(500)
    train, test = order[:350], order[350:]
    model = Sequential([layers.Dense(16, activation="relu", input_shape=(2,)), layers.Dense(16, activation="relu"),
                        layers.Dense(2, activation="softmax")], seed=1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    widget = DecisionBoundary(min_interval=0, show_test=True)
    app = BoundaryApp(widget)
    async with app.run_test(size=(100, 40)) as pilot:
        widget.set_model(model.get_config(), "classification", 2, None)
        widget.set_data(ds.x[train], ds.y[train], ds.x[test], ds.y[test])
        sizes = []
        for epochs in (1, 60):
            model.fit(ds.x[train], ds.y[train], epochs=epochs, verbose=0)
            old = widget.canvas
            widget.update_snapshot(snapshot_of(model))
            regions = widget.canvas.changed_regions(old)
            await pilot.pause()
            sizes.append((redraw_bytes(app, widget), region_bytes(widget, regions)))
        assert sum(ch in "●▲○△" for ch in text_of(widget)) > 300
        for full, partial in sizes:
            assert 3_000 < full < 20_000  # measured 9.6 and 14.3 KB
            assert partial <= full
        # once it has learned, one more epoch moves the boundary a little: a fraction of a full redraw
        model.fit(ds.x[train], ds.y[train], epochs=1, verbose=0)
        old = widget.canvas
        widget.update_snapshot(snapshot_of(model))
        later = region_bytes(widget, widget.canvas.changed_regions(old))
        assert later < sizes[-1][0] / 2  # measured 3.7 KB


async def test_a_widget_off_screen_takes_weights_but_predicts_when_shown():
    widget = DecisionBoundary(min_interval=0)
    model = split_model()
    async with BoundaryApp(widget).run_test(size=(40, 12)) as pilot:
        widget.set_model(model.get_config(), "classification", 2, None)
        widget.set_data(corners(), np.array([0, 1, 0, 1]))
        widget.display = False
        await pilot.pause()
        widget.update_snapshot(snapshot_of(model))
        await pilot.pause()
        assert widget.compute_count == 0
        widget.display = True
        await pilot.pause()
        assert widget.compute_count == 1 and widget.field is not None
        assert widget.field.value.shape == (2 * widget.field_rows, 40)


async def test_resize_recomputes_and_the_field_fades_into_the_theme_background():
    widget = DecisionBoundary(min_interval=0)
    model = split_model()
    app = BoundaryApp(widget)
    async with app.run_test(size=(60, 14)) as pilot:
        widget.set_model(model.get_config(), "classification", 2, None)
        widget.set_data(corners(), np.array([0, 1, 0, 1]))
        widget.update_snapshot(snapshot_of(model))
        await pilot.pause()
        assert widget.field.value.shape == (2 * widget.field_rows, 60)
        computes = widget.compute_count
        await pilot.resize_terminal(80, 20)
        await pilot.pause()
        assert widget.compute_count == computes + 1
        assert widget.field.value.shape == (2 * widget.field_rows, 80)
        for theme in ("textual-light", "textual-dark"):
            app.theme = theme
            await pilot.pause()
            bg = widget.background_colors[1].rgb
            undecided = field_colors(field_values(np.array([[0.5, 0.5]]), "classification", 2), bg)
            assert tuple(undecided[0]) == bg  # P = 0.5 is the background of the theme
            shown = cells(widget)
            assert shown[2][2][2] == tuple(field_colors(widget.field, bg)[4, 2])  # repainted in its colours
        assert widget.compute_count == computes + 1  # a theme change repaints, it does not predict


async def test_a_big_model_is_predicted_at_coarser_blocks():
    assert predict_step(10_000, 100, budget=1_000_000) == 1
    assert predict_step(10_000, 400, budget=1_000_000) == 2
    assert predict_step(15_040, 17_000, budget=80_000_000) == 2
    model = Sequential([layers.Dense(32, activation="tanh", input_shape=(2,)), layers.Dense(2, activation="softmax")],
                       seed=3)
    widget = DecisionBoundary(min_interval=0)
    widget.predict_budget = 40 * 10 * 162  # a 40x10 grid of this model: about a quarter of the pixels
    async with BoundaryApp(widget).run_test(size=(40, 12)) as pilot:
        widget.set_model(model.get_config(), "classification", 2, None)
        widget.set_data(corners(), np.array([0, 1, 0, 1]))
        widget.update_snapshot(snapshot_of(model))
        await pilot.pause()
        prows = 2 * widget.field_rows
        assert widget.resolution_step == 2 and widget.field.value.shape == (prows, 40)
        value = widget.field.value
        np.testing.assert_array_equal(value[0::2], value[1::2])  # each 2x2 block holds one prediction
        np.testing.assert_array_equal(value[:, 0::2], value[:, 1::2])
        # ... the model's at the block's centre
        xmin, xmax, ymin, ymax = widget.extent
        centre = [[xmin + (xmax - xmin) / 40, ymax - (ymax - ymin) / prows]]  # one pixel in: the 2x2 centre
        np.testing.assert_allclose(value[0, 0], model.predict(np.array(centre), verbose=0)[0, 1], rtol=1e-6)
        assert widget.compute_count == 1


# ---------------------------------------------------------------------- the neuron maps
async def test_neuron_maps_show_each_hidden_neuron_scaled_to_itself():
    model = Sequential([layers.Dense(3, activation="tanh", input_shape=(2,)), layers.Dense(2, activation="relu"),
                        layers.Dense(1, activation="sigmoid")], seed=5)
    maps = NeuronMaps(map_size=(10, 3), min_interval=0)
    async with BoundaryApp(maps).run_test(size=(60, 20)) as pilot:
        maps.set_model(model.get_config())
        maps.set_data(corners() * 2)
        assert "waiting for weights" in text_of(maps)
        maps.update_snapshot(snapshot_of(model))
        await pilot.pause()
        shown = text_of(maps)
        names = [layer.name for layer in model.layers[:2]]
        for label in [f"{names[0]}/0", f"{names[0]}/1", f"{names[0]}/2", f"{names[1]}/0", f"{names[1]}/1"]:
            assert label in shown
        assert f"{names[0]} · 3 units" in shown and maps.shown_maps == 5
        assert [a.shape for a in maps.activations] == [(3, 6, 10), (2, 6, 10)]
        # neuron names[0]/1 sits in the second slot of the first row of maps, under its label
        act = maps.activations[0][1]
        expected = diverging_colors(act / np.abs(act).max(), maps.background_colors[1].rgb, shades=3,
                                    strength=FIELD_STRENGTH + 0.2)
        rows = cells(maps)
        for r in range(3):
            for c in range(10):
                ch, fg, bg = rows[2 + r][11 + c]
                top, bottom = tuple(expected[2 * r, c]), tuple(expected[2 * r + 1, c])
                assert (fg, bg) == (top, bottom) if ch == "▀" else bg == top
        assert "each map scaled to its own max |a|" in shown


async def test_neuron_maps_count_what_does_not_fit():
    model = Sequential([layers.Dense(40, activation="relu", input_shape=(2,)), layers.Dense(1)], seed=0)
    maps = NeuronMaps(min_interval=0)
    async with BoundaryApp(maps).run_test(size=(80, 16)) as pilot:
        maps.set_model(model.get_config())
        maps.set_data(corners())
        maps.update_snapshot(snapshot_of(model))
        await pilot.pause()
        assert 0 < maps.shown_maps < 40
        assert f"{40 - maps.shown_maps} more neurons do not fit" in text_of(maps)

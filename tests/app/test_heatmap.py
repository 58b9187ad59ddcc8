"""Weight heatmaps: drawing, cursor, zoom, channels, redraw economy, the layer view, the
gradient-norm plot, and how much of the weights view the kernels fill in the real app (the
tile layout itself is tested in test_tiles.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rich.color import Color as RichColor
from rich.console import Console
from rich.control import Control
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Footer, Select

from tuinet.app.colormap import diverging
from tuinet.app.tiles import ALL_CHANNELS, kernel_tiles
from tuinet.app.widgets.heatmap import (
    GradientNormPlot,
    LayerWeightsView,
    WeightHeatmap,
    layer_grad_norms,
    linear_ticks,
    log_ticks,
    quantize,
    tick_labels,
)

TRUECOLOR = Console(color_system="truecolor", force_terminal=True)


class OneWidgetApp(App):
    """Mounts one widget, filling the screen (a footer below when asked)."""

    def __init__(self, widget: Widget, footer: bool = False) -> None:
        super().__init__()
        self.widget = widget
        self.footer = footer

    def compose(self) -> ComposeResult:
        yield self.widget
        if self.footer:
            yield Footer()


def strip_bytes(strip: Strip) -> int:
    return len(strip.render(TRUECOLOR).encode())


def redraw_bytes(app: App, widget: Widget) -> int:
    """Bytes a full redraw of `widget` writes to a truecolor terminal (as Textual's updates do:
    a cursor move per line, then each segment's SGR escape, text and reset)."""
    strips = app.screen._compositor.render_strips()
    region = widget.region
    total = 0
    for y in range(region.y, region.bottom):
        strip = Strip(list(strips[y].crop(region.x, region.right)))
        total += len(Control.move_to(region.x, y).segment.text) + strip_bytes(strip)
    return total


def region_bytes(app: App, widget: Widget, regions: list[Region]) -> int:
    """Bytes to repaint `regions` (widget content coordinates) of `widget`."""
    strips = app.screen._compositor.render_strips()
    origin = widget.content_region.offset
    total = 0
    for region in regions:
        for y in range(region.y, region.bottom):
            x0, y0 = origin.x + region.x, origin.y + y
            strip = Strip(list(strips[y0].crop(x0, x0 + region.width)))
            total += len(Control.move_to(x0, y0).segment.text) + strip_bytes(strip)
    return total


def record_refreshes(widget: Widget) -> list[tuple[Region, ...]]:
    """Wrap `widget.refresh`; each call appends its regions (empty: the whole widget)."""
    calls: list[tuple[Region, ...]] = []
    original = widget.refresh

    def recording(*regions, **kwargs):
        calls.append(regions)
        return original(*regions, **kwargs)

    widget.refresh = recording  # type: ignore[method-assign]
    return calls


def rgb(color: RichColor | None) -> tuple[int, int, int]:
    assert color is not None
    triplet = color.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


def level_rgb(value: float, vmax: float) -> tuple[int, int, int]:
    """The colour the heatmap gives `value` (quantised to its level of the diverging map)."""
    level = quantize(np.array([value]), vmax)[0] - 8
    return tuple(int(c) for c in diverging(level / 8, 1.0))


# ---------------------------------------------------------------------- pure helpers
def test_quantize_levels_and_nan():
    idx = quantize(np.array([-2.0, -1.0, -0.5, 0.0, 0.06, 0.5, 1.0, np.nan]), 1.0)
    assert idx.tolist() == [0, 0, 4, 8, 8, 12, 16, 17]
    assert quantize(np.array([3.0, np.nan]), 0.0).tolist() == [8, 17]


def test_layer_grad_norms_by_hand():
    grads = {
        "dense/kernel": np.array([[3.0, 4.0]]),
        "dense/bias": np.array([12.0]),
        "dense_1/kernel": np.array([[1.0], [0.0]]),
        "lstm/kernel": np.array([np.inf]),
    }
    norms = layer_grad_norms(grads)
    assert list(norms) == ["dense", "dense_1", "lstm"]
    assert norms["dense"] == pytest.approx(13.0)  # sqrt(9 + 16 + 144)
    assert norms["dense_1"] == 1.0
    assert norms["lstm"] == math.inf
    assert layer_grad_norms({}) == {}


# ---------------------------------------------------------------------- WeightHeatmap drawing
async def test_two_by_two_matrix_draws_upper_as_fg_and_lower_as_bg():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap)
    async with app.run_test(size=(30, 4)) as pilot:  # heading, one grid line, legend, cursor line
        matrix = np.array([[-1.0, 1.0], [0.5, 0.0]])
        heatmap.show(matrix, title="t")
        app.screen.set_focus(None)  # no cursor mark
        await pilot.pause()
        assert heatmap.scale == 1 and heatmap.vmax == 1.0
        strip = heatmap.render_line(1)
        cells = [(segment.text, segment.style) for segment in strip if segment.text.strip() or segment.text == " "]
        first, second = cells[0], cells[1]
        assert first[0] == second[0] == "▀"
        assert rgb(first[1].color) == (179, 88, 6) == level_rgb(-1.0, 1.0)  # upper left: the orange end
        assert rgb(first[1].bgcolor) == level_rgb(0.5, 1.0)  # lower left
        assert rgb(second[1].color) == (33, 102, 172)  # upper right: the blue end
        assert rgb(second[1].bgcolor) == (247, 247, 247)  # lower right: zero is white
        assert strip.cell_length == 30


async def test_magnified_cells_are_plain_colour_runs():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap)
    async with app.run_test(size=(40, 12)) as pilot:
        heatmap.show(np.array([[-1.0, 1.0], [1.0, -1.0]]))
        await pilot.pause()
        s = heatmap.scale
        assert s == 9  # the largest that fits: 2 values in 9 lines (18 pixel rows)
        strip = heatmap.render_line(1)
        segments = [segment for segment in strip if segment.style and segment.style.bgcolor]
        assert segments[0].text == " " * s and rgb(segments[0].style.bgcolor) == (179, 88, 6)  # -1: orange
        assert segments[1].text == " " * s and rgb(segments[1].style.bgcolor) == (33, 102, 172)  # +1: blue
        assert len(list(heatmap.render_line(1))) == 3  # two runs and the blank rest


async def test_legend_shows_range_kind_and_extremes():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap)
    async with app.run_test(size=(80, 10)) as pilot:
        heatmap.show(np.linspace(-0.38, 0.42, 12).reshape(3, 4), title="dense/kernel · gradients", kind="grads")
        await pilot.pause()
        lines = heatmap.text_lines()
        legend = lines[-2]
        assert "-0.5 … 0 … +0.5" in legend  # nice_limit of the 99th percentile of |values|
        assert "gradients" in legend and "min -0.38 max 0.42" in legend
        assert lines[0].startswith("dense/kernel · gradients  (3, 4)")


async def test_cursor_moves_with_arrows_and_shows_value_and_position():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap)
    seen = []
    async with app.run_test(size=(60, 12), message_hook=seen.append) as pilot:
        matrix = np.arange(12, dtype=float).reshape(3, 4) / 10 - 0.5
        heatmap.show(matrix)
        await pilot.pause()
        assert heatmap.text_lines()[-1].startswith("▸ (0, 0) = -0.5")
        heatmap.focus()
        await pilot.press("right", "right", "down")
        assert heatmap.cursor == (1, 2)
        assert heatmap.text_lines()[-1].startswith("▸ (1, 2) = +0.1")
        moved = [m for m in seen if isinstance(m, WeightHeatmap.CursorMoved)]
        assert moved and (moved[-1].row, moved[-1].col) == (1, 2) and moved[-1].value == pytest.approx(0.1)
        await pilot.press("down", "down", "down", "right", "right", "right")  # clamped at the edges
        assert heatmap.cursor == (2, 3)
        grid = "\n".join(heatmap.text_lines()[1:-2])
        assert sum(grid.count(mark) for mark in "+^v") == 1  # the cursor is marked in the grid
        await pilot.press("home")
        assert heatmap.cursor == (0, 0)


async def test_click_selects_a_value():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap)
    async with app.run_test(size=(30, 4)) as pilot:  # scale 1: cell (x, 1) holds rows 0 and 1
        heatmap.show(np.arange(8, dtype=float).reshape(2, 4))
        await pilot.pause()
        await pilot.click(WeightHeatmap, offset=(2, 1))
        assert heatmap.cursor == (0, 2)
        await pilot.click(WeightHeatmap, offset=(2, 1))  # again: the lower half
        assert heatmap.cursor == (1, 2)
        assert heatmap.text_lines()[-1].startswith("▸ (1, 2) = +6")


async def test_big_matrix_is_shrunk_with_true_shape_in_heading():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap)
    async with app.run_test(size=(100, 30)) as pilot:
        rng = np.random.default_rng(0)
        matrix = rng.normal(size=(784, 256))
        heatmap.show(matrix, title="dense/kernel")
        await pilot.pause()
        rows, cols = heatmap.shown_shape
        rs, cs = heatmap.steps
        assert rs > 1 and cs > 1 and rows == -(-784 // rs) and cols == -(-256 // cs)
        heading = heatmap.text_lines()[0]
        assert f"dense/kernel  (784, 256)  shown {rows}x{cols}, means of {rs}x{cs}" in heading
        assert rows <= 2 * 27 and cols <= 100 and (rows > 27 or cols > 50)  # fills the pane
        cursor_line = heatmap.text_lines()[-1]
        assert cursor_line.startswith(f"▸ rows 0-{rs - 1}, cols 0-{cs - 1}: mean ")
        assert heatmap.cursor_value == pytest.approx(matrix[:rs, :cs].mean())
        heatmap.focus()
        await pilot.press("down")
        assert heatmap.cursor == (rs, 0)  # moves by whole blocks


async def test_layout_shape_and_note_in_heading():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap)
    async with app.run_test(size=(80, 16)) as pilot:
        heatmap.show(np.zeros((7, 15)), title="conv2d/kernel", shape=(3, 3, 2, 4), note="Conv2D kernel: 3x3 tiles")
        await pilot.pause()
        lines = heatmap.text_lines()
        assert lines[0].startswith("conv2d/kernel  (3, 3, 2, 4) as 7x15")
        assert lines[1].startswith("Conv2D kernel: 3x3 tiles")
        assert "all 0" in lines[-2]


async def test_nan_values_are_named_in_legend_and_cursor():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap)
    async with app.run_test(size=(60, 8)) as pilot:
        heatmap.show(np.array([[np.nan, 1.0], [2.0, 3.0]]))
        await pilot.pause()
        assert "NaN/gap" in heatmap.text_lines()[-2]
        assert heatmap.text_lines()[-1].startswith("▸ (0, 0) = NaN")


async def test_zoom_shows_one_pixel_per_value_in_a_window_that_follows_the_cursor():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap, footer=True)
    async with app.run_test(size=(100, 30)) as pilot:
        matrix = np.arange(784 * 256, dtype=float).reshape(784, 256)
        heatmap.show(matrix)
        heatmap.focus()
        await pilot.pause()
        assert heatmap.steps != (1, 1)
        assert "z" in {binding.key for (_, binding, _, _) in app.screen.active_bindings.values() if binding.show}
        await pilot.press("z")
        assert heatmap.zoomed and heatmap.steps == (1, 1) and heatmap.scale == 1
        assert "1:1, arrows pan" in heatmap.text_lines()[0]
        lines = len(heatmap.text_lines()) - 3  # heading, legend, cursor line
        assert heatmap._origin == (0, 0)
        await pilot.press(*["pagedown"] * 6, "down", "down", "right")  # rows 0-53 are in view (2 a line)
        assert heatmap.cursor == (62, 1)
        assert heatmap._origin == (62 // 2 - lines + 1, 0)  # the window moved as little as needed
        assert heatmap.text_lines()[-1].startswith(f"▸ (62, 1) = +{matrix[62, 1]:.4g}")
        await pilot.press("z")
        assert not heatmap.zoomed and heatmap.steps != (1, 1)


async def test_c_steps_through_the_input_channels_of_a_conv_kernel():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap, footer=True)
    kernel = np.random.default_rng(0).normal(size=(3, 3, 16, 32))
    async with app.run_test(size=(106, 42)) as pilot:
        heatmap.show_tiles(kernel_tiles(kernel, "conv2d_1/kernel"), title="conv2d_1/kernel", param=kernel)
        heatmap.focus()
        await pilot.pause()
        g = heatmap.tile_layout
        assert g.wrapped and g.channel == 0 and g.grid == (4, 8) and g.scale == 4  # 16x32 tiles do not fit 1:1
        assert "input channel 0 of 16" in heatmap.text_lines()[0]
        shown = {binding.key for (_, binding, _, _) in app.screen.active_bindings.values() if binding.show}
        assert {"z", "c"} <= shown
        assert heatmap.text_lines()[-1].startswith(f"▸ filter 0, input channel 0: (0, 0, 0, 0) = {kernel[0, 0, 0, 0]:+.4g}")
        await pilot.press("right", "right", "right", "down")  # across the tile border into filter 1
        assert heatmap.text_lines()[-1].startswith(f"▸ filter 1, input channel 0: (1, 0, 0, 1) = {kernel[1, 0, 0, 1]:+.4g}")
        await pilot.press("c")
        assert heatmap.tile_layout.channel == 1 and "input channel 1 of 16" in heatmap.text_lines()[0]
        assert heatmap.text_lines()[-1].startswith("▸ filter 1, input channel 1: (1, 0, 1, 1)")
        for _ in range(14):
            await pilot.press("c")
        assert heatmap.tile_layout.channel == 15
        await pilot.press("c")  # after the last channel: all of them, averaged within tiles
        g = heatmap.tile_layout
        assert heatmap.channel == ALL_CHANNELS and not g.wrapped and g.steps != (1, 1)
        assert g.grid in ((16, 32), (32, 16)) and "all 16 input channels" in heatmap.text_lines()[0]
        await pilot.press("c")
        assert heatmap.tile_layout.channel == 0


async def test_a_kernel_without_channels_has_no_channel_key():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap, footer=True)
    async with app.run_test(size=(80, 20)) as pilot:
        heatmap.show_tiles(kernel_tiles(np.ones((3, 3, 1, 4)), "conv2d/kernel"))
        heatmap.focus()
        await pilot.pause()
        shown = {binding.key for (_, binding, _, _) in app.screen.active_bindings.values() if binding.show}
        assert "z" in shown and "c" not in shown
        assert [text for text in heatmap.text_lines()[1:-2] if "f3" in text]  # a label over each filter


async def test_clear_shows_the_message():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap)
    async with app.run_test(size=(60, 8)) as pilot:
        heatmap.show(np.ones((2, 2)))
        await pilot.pause()
        heatmap.clear("no gradients yet", title="dense/kernel · gradients")
        await pilot.pause()
        text = "\n".join(heatmap.text_lines())
        assert "no gradients yet" in text and text.startswith("dense/kernel · gradients")
        assert heatmap.matrix is None and math.isnan(heatmap.cursor_value)


# ---------------------------------------------------------------------- redraw economy
async def test_identical_data_does_not_refresh():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap)
    async with app.run_test(size=(60, 12)) as pilot:
        matrix = np.random.default_rng(1).normal(size=(6, 6))
        heatmap.show(matrix, title="a")
        await pilot.pause()
        calls = record_refreshes(heatmap)
        builds = heatmap.build_count
        heatmap.show(matrix.copy(), title="a")
        heatmap.show(matrix.tolist(), title="a")
        await pilot.pause()
        assert calls == [] and heatmap.build_count == builds
        heatmap.show(matrix, title="b")  # a new title is a change
        await pilot.pause()
        assert len(calls) == 1 and heatmap.build_count > builds


async def test_a_changed_value_refreshes_only_its_line_up_to_the_grid_edge():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap)
    async with app.run_test(size=(100, 30)) as pilot:
        matrix = np.linspace(-1, 1, 64).reshape(8, 8)
        heatmap.show(matrix)
        await pilot.pause()
        calls = record_refreshes(heatmap)
        changed = matrix.copy()
        changed[3, 5] = -changed[3, 5]  # inside the range: legend and extremes stay
        heatmap.show(changed)
        await pilot.pause()
        assert len(calls) == 1 and len(calls[0]) >= 1
        s = heatmap.scale
        grid_width = 8 * s
        for region in calls[0]:
            assert region.height == 1 and region.width <= grid_width
        assert len(calls[0]) <= (s + 1) // 2 + 1  # the lines of that one value row


async def test_changes_within_min_interval_are_drawn_once_later():
    heatmap = WeightHeatmap(min_interval=0.3)
    app = OneWidgetApp(heatmap)
    async with app.run_test(size=(60, 12)) as pilot:
        heatmap.show(np.ones((2, 2)))
        await pilot.pause()
        builds = heatmap.build_count
        heatmap.show(np.full((2, 2), 2.0))
        heatmap.show(np.full((2, 2), -3.0))
        await pilot.pause()
        assert heatmap.build_count == builds  # throttled: nothing yet
        await pilot.pause(0.4)
        assert heatmap.build_count == builds + 1  # one redraw of the newest data
        assert "-3" in heatmap.text_lines()[-1]


async def test_data_driven_redraw_sends_only_what_changed():
    heatmap = WeightHeatmap(min_interval=0)
    app = OneWidgetApp(heatmap)
    async with app.run_test(size=(100, 40)) as pilot:
        rng = np.random.default_rng(0)
        matrix = rng.normal(size=(64, 64))
        heatmap.show(matrix, title="dense/kernel")
        await pilot.pause()
        calls = record_refreshes(heatmap)
        changed = matrix.copy()
        changed[:8] = rng.normal(size=(8, 64))  # the first eight rows change: four lines at one pixel per value
        heatmap.show(changed, title="dense/kernel")
        await pilot.pause()
        assert heatmap.scale == 1 and heatmap.steps == (1, 1)
        assert len(calls) == 1 and calls[0]
        assert {region.y for region in calls[0]} <= {1, 2, 3, 4, 38, 39}  # those lines, the legend, the cursor line
        sent = region_bytes(app, heatmap, list(calls[0]))
        assert sent < redraw_bytes(app, heatmap) / 3


# ---------------------------------------------------------------------- LayerWeightsView
def make_snapshot(scale: float = 1.0):
    rng = np.random.default_rng(0)
    weights = {
        "dense/kernel": rng.normal(size=(2, 8)) * scale,
        "dense/bias": np.zeros(8),
        "conv2d/kernel": rng.normal(size=(3, 3, 2, 4)) * scale,
        "lstm/kernel": rng.normal(size=(3, 16)) * scale,
    }
    grads = {key: value * 0.01 + 0.001 for key, value in weights.items()}
    updates = {key: value * -0.001 for key, value in weights.items()}
    return weights, grads, updates


async def test_layer_view_picks_the_first_kernel_and_switches_layer():
    view = LayerWeightsView(min_interval=0)
    app = OneWidgetApp(view)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "waiting for the first weight snapshot" in "\n".join(view.heatmap.text_lines())
        weights, grads, updates = make_snapshot()
        view.update_snapshot(weights, grads, updates)
        await pilot.pause()
        assert view.selected == "dense/kernel" and view.layer_select.value == "dense/kernel"
        np.testing.assert_array_equal(view.heatmap.matrix, weights["dense/kernel"])
        assert view.heatmap.text_lines()[0].startswith("dense/kernel · weights  (2, 8)")

        view.layer_select.value = "conv2d/kernel"  # as a user picking from the list
        await pilot.pause()
        assert view.selected == "conv2d/kernel"
        assert view.heatmap.tiles.grid_shape == (2, 4, 3, 3) and view.heatmap.shape == (3, 3, 2, 4)
        np.testing.assert_array_equal(view.heatmap.matrix, weights["conv2d/kernel"])
        assert "3x3 tiles" in view.heatmap.note

        view.select_param("lstm/kernel")
        await pilot.pause()
        assert view.heatmap.tiles.grid_shape == (1, 4, 3, 4) and "i f c o" in view.heatmap.note
        view.update_snapshot(*make_snapshot(2.0))  # the key persists: the selection stays
        await pilot.pause()
        assert view.selected == "lstm/kernel"
        np.testing.assert_allclose(view.heatmap.matrix[:, :4], 2.0 * weights["lstm/kernel"][:, :4])

        fewer = {key: value for key, value in weights.items() if key != "lstm/kernel"}
        view.update_snapshot(fewer, {}, {})  # it went away: back to the first kernel
        await pilot.pause()
        assert view.selected == "dense/kernel" and view.keys == tuple(fewer)
        with pytest.raises(KeyError):
            view.select_param("lstm/kernel")


async def test_layer_view_takes_a_snapshot_before_it_is_mounted():
    view = LayerWeightsView(min_interval=0)
    view.update_snapshot(*make_snapshot())
    view.select_param("conv2d/kernel")
    view.kind = "grads"
    app = OneWidgetApp(view)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert view.layer_select.value == "conv2d/kernel"
        assert view.heatmap.text_lines()[0].startswith("conv2d/kernel · gradients  (3, 3, 2, 4)  all 2 input channels")


async def test_w_cycles_weights_gradients_updates():
    view = LayerWeightsView(min_interval=0)
    app = OneWidgetApp(view, footer=True)
    async with app.run_test(size=(100, 30)) as pilot:
        weights, grads, updates = make_snapshot()
        view.update_snapshot(weights, grads, {})
        view.heatmap.focus()
        await pilot.pause()
        assert "weights" in str(view.kind_label.render())
        await pilot.press("w")
        assert view.kind == "grads" and view.heatmap.kind == "grads"
        np.testing.assert_array_equal(view.heatmap.matrix, grads["dense/kernel"])
        assert view.heatmap.text_lines()[0].startswith("dense/kernel · gradients")
        assert "[gradients]" in str(view.kind_label.render())
        await pilot.press("w")
        assert view.kind == "updates"
        assert view.heatmap.matrix is None  # the first snapshot has no updates yet
        assert "no updates yet" in "\n".join(view.heatmap.text_lines())
        view.update_snapshot(weights, grads, updates)
        await pilot.pause()
        np.testing.assert_array_equal(view.heatmap.matrix, updates["dense/kernel"])
        await pilot.press("w")
        assert view.kind == "weights"
        footer_keys = {binding.key for (_, binding, enabled, _) in app.screen.active_bindings.values()
                       if binding.show}
        assert "w" in footer_keys


async def test_brackets_step_through_parameters():
    view = LayerWeightsView(min_interval=0)
    app = OneWidgetApp(view)
    async with app.run_test(size=(100, 30)) as pilot:
        view.update_snapshot(*make_snapshot())
        view.heatmap.focus()
        await pilot.pause()
        await pilot.press("right_square_bracket")
        assert view.selected == "dense/bias"
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert view.selected == "lstm/kernel"  # wraps around
        assert view.layer_select.value == "lstm/kernel"
        view.reset()
        await pilot.pause()
        assert view.selected is None and view.layer_select.value == Select.NULL


# ---------------------------------------------------------------------- GradientNormPlot
async def test_gradient_norm_plot_series_log_scale_and_reset():
    plot = GradientNormPlot(min_interval=0)
    app = OneWidgetApp(plot)
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        assert plot.log_scale and plot.placeholder == "waiting for gradients"
        for i in range(30):
            plot.add(i / 10, {"dense": 10 ** (-i / 5), "dense_1": 1.0 + i})
        plot.add_grads(3.0, {"dense/kernel": np.array([3.0, 4.0]), "lstm/kernel": np.array([1.0])})
        await pilot.pause()
        assert plot.norms["dense"][-1] == 5.0 and math.isnan(plot.norms["dense_1"][-1])
        assert len(plot.norms["lstm"]) == 31 and all(math.isnan(v) for v in plot.norms["lstm"][:-1])
        text = "\n".join("".join(s.text for s in line) for line in plot.render_lines(Region(0, 0, *plot.size)))
        assert "gradient L2 norm per layer (log)" in text
        assert "dense" in text and "dense_1" in text and "lstm" in text and "epoch" in text
        assert plot.drawn_points == 31

        draws = plot.draw_count
        plot.add(3.0, {"dense": 5.0, "lstm": 1.0})  # the same step and norms again: nothing to do
        await pilot.pause()
        assert plot.draw_count == draws and len(plot.steps) == 31

        plot.add(0.5, {"dense": 2.0})  # back in time (a reset): the later points go
        assert plot.steps == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5] and plot.norms["dense"][-1] == 2.0
        plot.clear()
        await pilot.pause()
        assert plot.steps == [] and plot.placeholder == "waiting for gradients"


def test_log_ticks_are_decades_or_steps_between_them():
    assert log_ticks(2e-6, 30, 7) == [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0]
    assert log_ticks(1e-12, 1e3, 6) == [1e-12, 1e-9, 1e-6, 1e-3, 1.0, 1e3]  # every third decade
    assert log_ticks(0.9, 250, 6) == [1.0, 3.0, 10.0, 30.0, 100.0]
    assert log_ticks(1e-9, 3e-8, 5) == [1e-9, 2e-9, 5e-9, 1e-8, 2e-8]
    assert log_ticks(1e-9, 3e-8, 7) == [1e-9, 2e-9, 3e-9, 5e-9, 1e-8, 2e-8, 3e-8]
    assert log_ticks(0.106, 0.782, 7) == [0.15, 0.2, 0.3, 0.5, 0.7]
    assert log_ticks(3.2, 4.1, 7) == [3.2, 3.4, 3.6, 3.8, 4.0]  # no 1-2-3-5 step inside: linear steps
    assert log_ticks(0.0, 1.0) == [] and log_ticks(0.5, 0.5) == [0.5]


def test_tick_labels_are_short_and_distinct():
    assert tick_labels([1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0, 1e3, 2.5e5]) == [
        "1e-5", "1e-4", "0.001", "0.01", "0.1", "1", "10", "1000", "2.5e5"]
    assert tick_labels(linear_ticks(1.0001, 1.0009, 6)) == ["1.0002", "1.0004", "1.0006", "1.0008"]
    assert tick_labels(linear_ticks(1e-9, 3e-8, 6)) == ["1e-8", "2e-8", "3e-8"]


@pytest.mark.parametrize("log_scale", [True, False])
@pytest.mark.parametrize("scale", [1e-9, 1e-3, 1.0, 1e4])
async def test_gradient_norm_axis_labels_are_readable(log_scale, scale):
    plot = GradientNormPlot(min_interval=0, log_scale=log_scale)
    app = OneWidgetApp(plot)
    async with app.run_test(size=(54, 20)) as pilot:
        for i in range(30):
            plot.add(i / 10, {"conv2d": scale * (1 + i), "dense": scale * 3})
        await pilot.pause()
        lines = ["".join(s.text for s in line) for line in plot.render_lines(Region(0, 0, *plot.size))]
        labels = [line.split("┤")[0].strip() for line in lines if "┤" in line]
        assert len(labels) >= 2 and all(0 < len(label) <= 6 for label in labels), labels
        assert len(set(labels)) == len(labels)
        values = [float(label) for label in labels]
        assert all(scale <= v <= 30 * scale * (1 + 1e-9) for v in values)
        x_axis = lines[-2].split()
        assert x_axis == ["0", "1", "2"]  # whole epochs


# ---------------------------------------------------------------------- in the app
def coloured_cells_in_strips(heatmap: WeightHeatmap) -> int:
    """Cells of the picture lines (under the heading and note, above the legend) drawn in a
    colour other than the widget's background: a coloured background, or "▀" in a colour."""
    background = heatmap.rich_style.bgcolor
    count = 0
    for y in range(heatmap._top, heatmap.size.height - 2):
        for segment in heatmap.render_line(y):
            style = segment.style
            if style is None:
                continue
            if style.bgcolor is not None and style.bgcolor != background:
                count += len(segment.text)
            elif style.color is not None and style.color != background:
                count += segment.text.count("▀")
    return count


async def test_kernels_fill_the_weights_view_at_160x48(make_test_app):
    from tests.app.conftest import wait_until

    for preset, keys in (("digits-cnn", ("conv2d/kernel", "conv2d_1/kernel")), ("digits-mlp", ("dense/kernel",))):
        app = make_test_app(preset)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            await pilot.press("2")
            view = app.screen.query_one(LayerWeightsView)
            await wait_until(pilot, lambda: view.keys, what="the first weight snapshot")
            view.heatmap.min_interval = 0
            for key in keys:
                view.select_param(key)
                await pilot.pause()
                cells = coloured_cells_in_strips(view.heatmap)
                assert cells == view.heatmap.coloured_cells()
                assert cells >= 1_000, f"{preset} {key}: {cells} coloured cells"  # 1920, 2304, 2048
                assert view.heatmap.steps == (1, 1)  # every weight its own pixels

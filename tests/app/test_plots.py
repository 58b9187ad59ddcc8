"""The live plots: smoothing, downsampling, series bookkeeping, log scale, redraw cost."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from rich.console import Console
from rich.control import Control
from textual.app import App, ComposeResult
from textual.color import Color
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tuinet.app.widgets.plots import (
    BatchLossPlot,
    LossPlot,
    MetricPlot,
    SeriesPlot,
    TrainingPlots,
    downsample,
    main_metric,
    smooth,
)

CLASSIFICATION = [
    {"loss": 0.9, "accuracy": 0.55, "val_loss": 1.0, "val_accuracy": 0.5},
    {"loss": 0.6, "accuracy": 0.70, "val_loss": 0.7, "val_accuracy": 0.65},
    {"loss": 0.4, "accuracy": 0.85, "val_loss": 0.5, "val_accuracy": 0.80},
]


class PlotApp(App):
    """Mounts one widget, filling the screen."""

    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def text_of(widget: Widget) -> str:
    """The characters the widget shows, line by line."""
    lines = widget.render_lines(Region(0, 0, *widget.size))
    return "\n".join("".join(segment.text for segment in strip) for strip in lines)


TRUECOLOR = Console(color_system="truecolor", force_terminal=True)


def redraw_bytes(app: App, widget: Widget) -> int:
    """Bytes a full redraw of `widget` writes to a truecolor terminal.

    The same sequences Textual's `ChopsUpdate.render_segments` emits for a dirty region:
    a cursor move per line, then each segment's SGR escape, text and reset.
    """
    strips = app.screen._compositor.render_strips()
    region = widget.region
    total = 0
    for y in range(region.y, region.bottom):
        strip = Strip(list(strips[y].crop(region.x, region.right)))
        total += len(Control.move_to(region.x, y).segment.text) + len(strip.render(TRUECOLOR).encode())
    return total


def count_refreshes(widget: Widget) -> list[int]:
    """Wrap `widget.refresh`; the returned list grows by one per call."""
    calls: list[int] = []
    original = widget.refresh

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    widget.refresh = counting  # type: ignore[method-assign]
    return calls


# ---------------------------------------------------------------------- pure helpers
def test_smooth_matches_hand_computed_debiased_ema():
    out = smooth([1.0, 2.0, 3.0], weight=0.6)
    # n=1: 0.4*1 / (1-0.6) = 1; n=2: (0.6*0.4 + 0.4*2) / (1-0.36); n=3: (0.6*1.04 + 0.4*3) / (1-0.216)
    assert out == pytest.approx([1.0, 1.04 / 0.64, 1.824 / 0.784])
    assert out[0] == 1.0
    assert smooth([5.0, 1.0], weight=0.0) == [5.0, 1.0]
    assert smooth([2.0, 2.0, 2.0]) == [2.0, 2.0, 2.0]
    assert smooth([]) == []


def test_smooth_carries_the_last_value_over_non_finite_points():
    out = smooth([1.0, math.nan, 2.0, math.inf, -math.inf], weight=0.6)
    assert out[:2] == [1.0, 1.0]
    assert out[2] == pytest.approx(1.04 / 0.64)  # the NaN did not count as a step
    assert out[3] == out[4] == out[2]
    lead = smooth([math.nan, 3.0, 1.0])
    assert math.isnan(lead[0]) and lead[1] == 3.0
    with pytest.raises(ValueError):
        smooth([1.0], weight=1.0)


def test_downsample_bounds_the_points_and_keeps_the_mean():
    rng = np.random.default_rng(0)
    values = rng.normal(1.0, 0.3, 12_000)
    xs, ys = downsample(values, 120)
    assert len(xs) == len(ys) == 120
    assert np.mean(ys) == pytest.approx(values.mean(), rel=1e-12)  # equal buckets of 100
    assert xs[0] == pytest.approx(49.5) and xs[-1] == pytest.approx(11_949.5)
    # uneven bucket sizes: the mean is still kept within a hair
    xs, ys = downsample(values[:10_007], 120)
    assert len(ys) <= 120 and np.mean(ys) == pytest.approx(values[:10_007].mean(), rel=1e-3)
    # short input: untouched except non-finite points
    assert downsample([1.0, math.nan, 3.0], 10) == ([0.0, 2.0], [1.0, 3.0])


def test_main_metric_skips_loss_learning_rate_and_val():
    assert main_metric(["loss", "accuracy", "val_loss", "val_accuracy"]) == "accuracy"
    assert main_metric(["learning_rate", "loss", "val_loss", "val_mae", "mae", "mse"]) == "mae"
    assert main_metric(["loss", "val_loss"]) is None


# ---------------------------------------------------------------------- epoch plots
async def test_add_epoch_stores_the_series():
    plot = LossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 15)) as pilot:
        plot.add_epoch(0, CLASSIFICATION[0])
        plot.add_epoch(1, CLASSIFICATION[1])
        await pilot.pause()
        assert plot.train_losses == [0.9, 0.6]
        assert plot.val_losses == [1.0, 0.7]
        assert plot.placeholder is None and plot.drawn_points == 2
        shown = text_of(plot)
        assert "loss" in shown and "train" in shown and "val" in shown
        # epoch 0 again (a reset) restarts the series; a skipped epoch is drawn at its own x
        # (no NaN filling: a thinned history stays as short on the plot as it is)
        plot.add_epoch(0, {"loss": 2.0})
        assert plot.train_losses == [2.0] and plot.val_losses == []
        plot.add_epoch(2, {"loss": 1.0})
        assert plot.train_losses == [2.0, 1.0] and plot.epochs == [1, 3]


async def test_set_history_replaces_everything():
    plot = LossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 15)) as pilot:
        for epoch, logs in enumerate(CLASSIFICATION):
            plot.add_epoch(epoch, logs)
        plot.set_history({"loss": [3.0, 2.0], "accuracy": [0.1, 0.2]})
        await pilot.pause()
        assert plot.train_losses == [3.0, 2.0] and plot.val_losses == []
        assert "2" in text_of(plot).splitlines()[-1]  # x ticks are epochs 1..2
        plot.clear()
        await pilot.pause()
        assert plot.train_losses == [] and "waiting for the first epoch" in text_of(plot)


async def test_metric_plot_picks_the_main_metric_or_says_there_is_none():
    plot = MetricPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 15)) as pilot:
        for epoch, logs in enumerate(CLASSIFICATION[:2]):
            plot.add_epoch(epoch, logs)
        await pilot.pause()
        assert plot.metric == "accuracy"
        assert plot.train_values == [0.55, 0.70] and plot.val_values == [0.5, 0.65]
        assert plot.plot_title == "accuracy" and "accuracy" in text_of(plot)

        plot.set_history({"loss": [0.5, 0.4], "learning_rate": [0.01, 0.01], "mae": [0.3, 0.2],
                          "val_loss": [0.6, 0.5], "val_mae": [0.35, 0.25]})
        assert plot.metric == "mae" and plot.train_values == [0.3, 0.2] and plot.val_values == [0.35, 0.25]

        plot.set_history({"loss": [0.5], "val_loss": [0.6]})
        await pilot.pause()
        assert plot.metric is None
        assert plot.placeholder == MetricPlot.NO_METRIC
        assert "no metric: add one in the hyperparameters" in text_of(plot)
        plot.add_epoch(1, {"loss": 0.4, "val_loss": 0.5})  # still none: nothing to record
        assert plot.train_values == []

        plot.clear()  # forgets the metric: the next logs choose again
        plot.add_epoch(0, {"loss": 1.0, "mae": 0.9})
        assert plot.metric == "mae" and plot.train_values == [0.9] and plot.val_values == []


async def test_log_scale_toggle_flips_state_and_titles():
    plots = TrainingPlots(min_interval=0)
    async with PlotApp(plots).run_test(size=(120, 40)) as pilot:
        for epoch, logs in enumerate(CLASSIFICATION):
            plots.add_epoch(epoch, logs)
        plots.set_batch_losses([1.0, 0.8, 0.0, -1.0, 0.5], steps_per_epoch=2)  # <= 0: left out on log
        await pilot.pause()
        assert plots.toggle_log_scale() is True
        assert all(plot.log_scale for plot in (plots.loss_plot, plots.metric_plot, plots.batch_plot))
        await pilot.pause()
        assert "(log)" in text_of(plots.loss_plot)  # the first plot at once, the others a frame apart
        await pilot.pause()
        await pilot.pause()
        for plot in (plots.loss_plot, plots.metric_plot, plots.batch_plot):
            assert plot.log_scale is True
            assert plot.plot_title.endswith("(log)")
            assert plot.plot_title in text_of(plot)
        positive_smoothed = sum(v > 0 for v in smooth([1.0, 0.8, 0.0, -1.0, 0.5]))
        assert plots.batch_plot.drawn_points == max(3, positive_smoothed)  # the raw cloud keeps 3 of 5
        assert plots.toggle_log_scale() is False
        for _ in range(3):
            await pilot.pause()
        assert "(log)" not in text_of(plots.loss_plot) + text_of(plots.batch_plot)
        assert plots.batch_plot.drawn_points == 5


async def test_log_scale_with_nothing_positive_shows_a_placeholder():
    plot = LossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 15)) as pilot:
        plot.set_history({"loss": [0.0, -1.0]})
        plot.log_scale = True
        await pilot.pause()
        assert "no positive values for a log scale" in text_of(plot)


# ---------------------------------------------------------------------- batch plot
async def test_batch_plot_downsamples_to_two_points_per_column():
    plot = BatchLossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 15)) as pilot:
        rng = np.random.default_rng(1)
        losses = 1.0 / np.arange(1, 10_001) + rng.normal(0, 0.01, 10_000)
        plot.set_losses(losses.tolist(), steps_per_epoch=100)
        await pilot.pause()
        assert 0 < plot.drawn_points <= 2 * plot.size.width
        assert plot.plot_title == "batch loss by epoch"
        assert "100" in text_of(plot).splitlines()[-1]  # 10 000 batches = 100 epochs on the x axis
        assert len(plot.losses) == 10_000


async def test_unchanged_data_does_not_refresh():
    plot = BatchLossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 15)) as pilot:
        await pilot.pause()
        refreshes = count_refreshes(plot)
        draws = plot.draw_count
        plot.set_losses([1.0, 0.5, math.nan], steps_per_epoch=3)
        await pilot.pause()
        assert len(refreshes) == 1 and plot.draw_count == draws + 1
        plot.set_losses([1.0, 0.5, math.nan], steps_per_epoch=3)  # equal, NaN included
        plot.set_losses((1.0, 0.5, float("nan")), 3)
        await pilot.pause()
        assert len(refreshes) == 1 and plot.draw_count == draws + 1
        plot.set_losses([1.0, 0.5, 0.4], steps_per_epoch=3)
        await pilot.pause()
        assert len(refreshes) == 2 and plot.draw_count == draws + 2

    loss = LossPlot(min_interval=0)
    async with PlotApp(loss).run_test(size=(60, 15)) as pilot:
        loss.set_history({"loss": [1.0, 0.5], "val_loss": [1.1, math.nan]})
        await pilot.pause()
        refreshes = count_refreshes(loss)
        loss.set_history({"loss": [1.0, 0.5], "val_loss": [1.1, math.nan]})
        await pilot.pause()
        assert refreshes == []


async def test_changes_within_min_interval_are_coalesced_into_one_redraw():
    plot = BatchLossPlot(min_interval=0.3)
    async with PlotApp(plot).run_test(size=(60, 15)) as pilot:
        await asyncio.sleep(0.35)  # let the mount-time draw age past the interval
        refreshes = count_refreshes(plot)
        draws = plot.draw_count
        plot.set_losses([1.0])
        await pilot.pause()
        assert len(refreshes) == 1 and plot.draw_count == draws + 1  # the first change draws at once
        for n in range(2, 7):
            plot.set_losses([1.0 / k for k in range(1, n + 1)])
        await pilot.pause()
        assert len(refreshes) == 1 and plot.drawn_points == 1  # the next ones wait ...
        await asyncio.sleep(0.4)
        await pilot.pause()
        assert len(refreshes) == 2 and plot.draw_count == draws + 2  # ... for one redraw
        assert plot.drawn_points == 6  # of the newest data
        await asyncio.sleep(0.35)
        assert len(refreshes) == 2  # and nothing after it


async def test_nan_and_inf_losses_render_without_crashing(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    plots = TrainingPlots(min_interval=0)
    app = PlotApp(plots)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        plots.add_epoch(0, {"loss": 1.0, "accuracy": 0.5, "val_loss": math.nan, "val_accuracy": 0.4})
        plots.add_epoch(1, {"loss": math.inf, "accuracy": math.nan, "val_loss": 2.0, "val_accuracy": -math.inf})
        plots.add_epoch(2, {"loss": 0.5, "accuracy": 0.7, "val_loss": 0.9, "val_accuracy": 0.6})
        plots.set_batch_losses([1.0, math.nan, math.inf, 0.5, -math.inf, 0.25] * 50, steps_per_epoch=100)
        await pilot.pause()
        for plot in (plots.loss_plot, plots.metric_plot, plots.batch_plot):
            assert plot.placeholder is None and plot.drawn_points > 0
        shown = text_of(plots.loss_plot)
        # without colour, train and val still differ: braille line vs "•" dots, and labels
        assert "•" in shown and any("\u2800" < ch <= "\u28ff" for ch in shown)
        assert "train" in shown and "val" in shown
        plots.loss_plot.set_history({"loss": [math.nan, math.inf]})
        await pilot.pause()
        assert "no drawable values (NaN, inf, huge)" in text_of(plots.loss_plot)
        plots.toggle_log_scale()
        await pilot.pause()
        assert plots.batch_plot.drawn_points > 0


async def test_extreme_values_are_tamed_and_a_plotting_error_is_contained(monkeypatch):
    plot = LossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 15)) as pilot:
        # plotext's tick arithmetic overflows on these; 1e308 is left out, 1e-320 drawn as 0
        plot.set_history({"loss": [1e308, 1e-320, 0.5], "val_loss": [-1e308, 0.7, 0.6]})
        await pilot.pause()
        assert plot.placeholder is None and plot.drawn_points == 2
        shown = text_of(plot)
        assert "0.00┤" in shown and "0.70┤" in shown and "e+308" not in shown

        def broken_build():
            raise ZeroDivisionError("plotext bug")

        monkeypatch.setattr(plot.plt, "build", broken_build)
        monkeypatch.setattr(plot.plt, "_build_matrix", broken_build)
        plot.add_epoch(3, {"loss": 0.4})
        await pilot.pause()
        assert "could not draw these values" in text_of(plot)


# ---------------------------------------------------------------------- the container
async def test_training_plots_side_by_side_when_wide_stacked_when_narrow():
    wide = TrainingPlots(min_interval=0)
    async with PlotApp(wide).run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert not wide.narrow
        assert wide.loss_plot.region.y == wide.metric_plot.region.y
        assert wide.batch_plot.region.width == 160
    narrow = TrainingPlots(min_interval=0)
    async with PlotApp(narrow).run_test(size=(60, 40)) as pilot:
        await pilot.pause()
        assert narrow.narrow
        assert narrow.loss_plot.region.bottom <= narrow.metric_plot.region.y < narrow.batch_plot.region.y
        narrow.arrangement = "wide"
        await pilot.pause()
        assert not narrow.narrow and narrow.loss_plot.region.y == narrow.metric_plot.region.y


async def test_training_plots_forwards_and_resets():
    plots = TrainingPlots(min_interval=0)
    async with PlotApp(plots).run_test(size=(80, 24)) as pilot:
        plots.set_history({"loss": [1.0, 0.5], "accuracy": [0.5, 0.8], "val_loss": [1.2, 0.7],
                           "val_accuracy": [0.4, 0.7]}, batch_losses=[1.0, 0.9, 0.7], steps_per_epoch=2,
                          end_step=4)
        plots.add_epoch(2, {"loss": 0.25, "accuracy": 0.9, "val_loss": 0.5, "val_accuracy": 0.8})
        await pilot.pause()
        assert plots.loss_plot.train_losses == [1.0, 0.5, 0.25]
        assert plots.metric_plot.val_values == [0.4, 0.7, 0.8]
        assert plots.batch_plot.losses == (1.0, 0.9, 0.7) and plots.batch_plot.end_step == 4
        plots.toggle_log_scale()
        plots.reset()
        await pilot.pause()
        assert plots.loss_plot.train_losses == [] and plots.batch_plot.losses == ()
        assert plots.metric_plot.metric is None
        assert plots.log_scale and plots.loss_plot.log_scale  # reset keeps the scale
        assert "waiting for the first batch" in text_of(plots.batch_plot)
        plots.min_interval = 0.5
        assert [plot.min_interval for plot in plots.walk_children(SeriesPlot)] == [0.5, 0.5, 0.5]


async def test_one_redraw_of_a_60x15_loss_plot_costs_under_4_kb():
    plot = LossPlot(min_interval=0)
    app = PlotApp(plot)
    async with app.run_test(size=(60, 15)) as pilot:
        for epoch in range(20):
            plot.add_epoch(epoch, {"loss": 1 / (1 + 0.3 * epoch), "val_loss": 1.1 / (1 + 0.25 * epoch)})
        await pilot.pause()
        assert plot.size == (60, 15) and plot.drawn_points == 20
        # measured 3.2 KB; without the run joining in render_lines it was 4.7 KB
        assert 1_500 < redraw_bytes(app, plot) < 4_000


async def test_series_colours_follow_the_theme():
    plot = LossPlot(min_interval=0)
    app = PlotApp(plot)

    def line_colours() -> set[tuple[int, int, int]]:
        colours = set()
        for strip in plot.render_lines(Region(0, 0, *plot.size)):
            for segment in strip:
                if segment.style and segment.style.color and any("\u2800" < ch <= "\u28ff" for ch in segment.text):
                    colours.add(tuple(segment.style.color.triplet))
        return colours

    async with app.run_test(size=(60, 15)) as pilot:
        plot.set_history({"loss": [1.0, 0.5, 0.25]})
        await pilot.pause()
        for theme in ("textual-dark", "textual-light"):
            app.theme = theme
            await pilot.pause()
            primary = Color.parse(app.theme_variables["primary"])
            assert line_colours() == {primary.rgb}


# ---------------------------------------------------------------------- redraws take turns
class TwoTabApp(App):
    """Three plots on one tab and nothing on the other, like the main screen at 80x24."""

    def compose(self) -> ComposeResult:
        from textual.widgets import Static, TabbedContent, TabPane

        with TabbedContent():
            with TabPane("Plots", id="plots"):
                yield LossPlot(min_interval=0.2, id="a")
                yield LossPlot(min_interval=0.2, id="b")
                yield LossPlot(min_interval=0.2, id="c")
            with TabPane("Other", id="other"):
                yield Static("other tab")


def test_redraw_slots_are_spaced_and_wait_for_a_key_press():
    from tuinet.app.widgets.plots import REDRAW_SPACING, redraw_slot

    class FakeApp:
        input_quiet_until = -1.0

    app = FakeApp()
    assert redraw_slot(app, 10.0) == 10.0
    assert redraw_slot(app, 10.0) == pytest.approx(10.0 + REDRAW_SPACING)  # the next one waits its turn
    assert redraw_slot(app, 20.0) == 20.0  # a later one needs no wait
    app.input_quiet_until = 30.5
    assert redraw_slot(app, 30.0) == 30.5  # nothing redraws just after a key press


async def test_plots_changed_together_redraw_one_after_another():
    from tuinet.app.widgets.plots import REDRAW_SPACING

    app = TwoTabApp()
    async with app.run_test(size=(80, 40)) as pilot:
        plots = [app.query_one(f"#{i}", LossPlot) for i in "abc"]
        await asyncio.sleep(0.3)
        drawn: dict[str, float] = {}
        for plot in plots:
            original = plot._render_figure

            def timed(plot=plot, original=original):
                drawn[plot.id] = asyncio.get_running_loop().time()
                return original()

            plot._render_figure = timed
        for plot in plots:
            plot.add_epoch(0, CLASSIFICATION[0])
        await asyncio.sleep(3 * REDRAW_SPACING + 0.2)
        await pilot.pause()
        assert sorted(drawn) == ["a", "b", "c"]
        times = sorted(drawn.values())
        assert all(b - a >= REDRAW_SPACING * 0.9 for a, b in zip(times, times[1:]))


async def test_a_hidden_plot_keeps_its_figure_until_shown_then_redraws_in_turn():
    app = TwoTabApp()
    async with app.run_test(size=(80, 40)) as pilot:
        plot = app.query_one("#a", LossPlot)
        plot.add_epoch(0, CLASSIFICATION[0])
        await asyncio.sleep(0.3)
        await pilot.pause()
        first = text_of(plot)
        draws = plot.draw_count
        app.query_one("TabbedContent").active = "other"
        await pilot.pause()
        plot.add_epoch(1, CLASSIFICATION[1])
        plot.add_epoch(2, CLASSIFICATION[2])
        await asyncio.sleep(0.4)
        await pilot.pause()
        assert plot.draw_count == draws  # nothing drawn while hidden
        app.input_quiet_until = asyncio.get_running_loop().time() + 10  # as if a key was just pressed
        app.query_one("TabbedContent").active = "plots"
        await pilot.pause()
        await pilot.pause()
        assert plot.draw_count == draws and text_of(plot) == first  # shown at once as it was
        app.input_quiet_until = -1.0
        plot.redraw()
        await pilot.pause()
        assert plot.draw_count == draws + 1 and plot.train_losses == [0.9, 0.6, 0.4]
        assert text_of(plot) != first


async def test_the_direct_figure_matches_plotexts_own_ansi_output():
    """The matrix-to-segments shortcut draws exactly what plotext's escape sequences say."""
    from rich.text import Text

    plot = LossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 15)) as pilot:
        for epoch, logs in enumerate(CLASSIFICATION):
            plot.add_epoch(epoch, logs)
        await pilot.pause()
        plot.plt.clear_figure()
        plot._draw(plot._palette())
        direct = plot._plotext_figure()
        ansi = Text.from_ansi(plot.plt.build())

        def cells(renderable) -> list[tuple[str, object]]:
            out = []
            for line in TRUECOLOR.render_lines(renderable, TRUECOLOR.options.update_width(60), pad=False):
                for segment in line:
                    out.extend((ch, segment.style) for ch in segment.text)
                out.append(("\n", None))
            while out and out[-1] == ("\n", None):  # plotext's text ends with a newline; no line follows it
                out.pop()
            return out

        assert cells(direct) == cells(ansi)
        assert any(style is not None and style.color is not None for _, style in cells(direct))


async def test_a_thinned_history_is_drawn_at_its_epochs():
    from tuinet.run import EpochHistory

    h = EpochHistory(max_points=32)
    for e in range(1000):
        h.append({"loss": 1.0 / (e + 1), "val_loss": 2.0 / (e + 1)})
    plot = LossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(80, 20)) as pilot:
        plot.set_history(h)
        await pilot.pause()
        assert plot.epochs == h.epochs and len(plot.train_losses) <= 32
        assert plot.epochs[-1] == 1000 and "1000" in text_of(plot)  # the x axis reaches the last epoch
        plot.add_epoch(1000, {"loss": 0.5, "val_loss": 0.6})
        assert plot.epochs[-1] == 1001 and len(plot.train_losses) == len(h.epochs) + 1

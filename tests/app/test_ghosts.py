"""Ghost runs (earlier runs as faint lines) and the replay cursor on the epoch plots."""

from __future__ import annotations

import math

import pytest
from textual.color import Color

from tests.app.test_plots import PlotApp, text_of
from tuinet.app.widgets.plots import GHOST_MARKERS, MAX_GHOSTS, LossPlot, MetricPlot, TrainingPlots

LIVE = {"loss": [1.0, 0.7, 0.5, 0.4, 0.35], "val_loss": [1.1, 0.8, 0.6, 0.5, 0.45],
        "accuracy": [0.5, 0.6, 0.7, 0.75, 0.8], "val_accuracy": [0.45, 0.55, 0.65, 0.7, 0.72]}


def run(n: int, scale: float = 1.0, *, val: bool = True) -> dict[str, list[float]]:
    """A Keras-style history of `n` epochs; with `val`, validation values too."""
    history = {"loss": [scale * 2 / (2 + i) for i in range(n)], "accuracy": [i / n for i in range(n)]}
    if val:
        history["val_loss"] = [scale * 3 / (2 + i) for i in range(n)]
        history["val_accuracy"] = [i / (n + 1) for i in range(n)]
    return history


def signals(plot) -> dict[str, tuple[list[float], list[float], str, tuple]]:
    """label -> (x, y, marker, colour) of each labelled series in the last plotext figure."""
    monitor = plot.plt.monitor
    return {label: (list(monitor.x[i]), list(monitor.y[i]), monitor.marker[i][0], monitor.color[i][0])
            for i, label in enumerate(monitor.label) if label}


def cursor_columns(plot) -> list[int]:
    """Columns where the x axis is crossed by a vertical line (`┴`)."""
    axis = next(line for line in text_of(plot).splitlines() if "└" in line)
    return [col for col, ch in enumerate(axis) if ch == "┴"]


# ---------------------------------------------------------------------- ghosts
async def test_ghosts_draw_one_faint_labelled_series_each_behind_the_live_run():
    plot = LossPlot(min_interval=0)
    app = PlotApp(plot)
    async with app.run_test(size=(60, 16)) as pilot:
        plot.set_history(LIVE)
        plot.set_ghosts([("lr 0.03", run(8, val=False)), ("+Dense 8", run(6))])
        await pilot.pause()
        assert plot.drawn_labels == ["lr 0.03", "+Dense 8", "train", "val"]  # ghosts first, under the live run
        drawn = signals(plot)
        # a ghost draws its validation values when it has them, else its training values, at x = epoch + 1
        assert drawn["+Dense 8"][:2] == (list(range(1, 7)), run(6)["val_loss"])
        assert drawn["lr 0.03"][:2] == (list(range(1, 9)), run(8)["loss"])
        # the newest ghost gets the first marker; none is a live marker
        assert drawn["+Dense 8"][2] == GHOST_MARKERS[0] and drawn["lr 0.03"][2] == GHOST_MARKERS[1]
        assert {drawn["train"][2], drawn["val"][2]}.isdisjoint(GHOST_MARKERS)
        # faint: the theme's accent (val) or primary (train) halfway into the surface
        variables = app.theme_variables
        surface = Color.parse(variables["surface"])
        assert drawn["+Dense 8"][3] == Color.parse(variables["accent"]).blend(surface, 0.6).rgb
        assert drawn["lr 0.03"][3] == Color.parse(variables["primary"]).blend(surface, 0.6).rgb
        shown = text_of(plot)
        assert "lr 0.03" in shown and "+Dense 8" in shown  # in the legend box
        assert GHOST_MARKERS[0] in shown and GHOST_MARKERS[1] in shown


async def test_training_plots_keep_the_three_newest_ghosts_and_skip_the_batch_plot():
    plots = TrainingPlots(min_interval=0)
    async with PlotApp(plots).run_test(size=(120, 40)) as pilot:
        plots.set_history(LIVE, batch_losses=[1.0, 0.8, 0.6], steps_per_epoch=1)
        plots.set_ghosts([(f"run {i}", run(4 + i)) for i in range(5)])
        await pilot.pause()
        assert MAX_GHOSTS == 3
        assert [label for label, _ in plots.ghosts] == ["run 2", "run 3", "run 4"]
        assert plots.loss_plot.drawn_labels == ["run 2", "run 3", "run 4", "train", "val"]
        assert plots.metric_plot.drawn_labels == ["run 2", "run 3", "run 4", "train", "val"]
        assert signals(plots.metric_plot)["run 4"][1] == run(8)["val_accuracy"]
        assert plots.batch_plot.drawn_labels == ["batch", "smoothed"]
        markers = {signals(plots.loss_plot)[f"run {i}"][2] for i in (2, 3, 4)}
        assert markers == set(GHOST_MARKERS)


async def test_toggling_hides_the_ghosts_and_redraws_each_plot_once():
    plots = TrainingPlots(min_interval=0)
    async with PlotApp(plots).run_test(size=(120, 40)) as pilot:
        plots.set_history(LIVE)
        plots.set_ghosts([("old", run(5))])
        await pilot.pause()
        draws = plots.loss_plot.draw_count, plots.metric_plot.draw_count
        assert plots.toggle_ghosts() is False
        await pilot.pause()
        await pilot.pause()
        assert (plots.loss_plot.draw_count, plots.metric_plot.draw_count) == (draws[0] + 1, draws[1] + 1)
        assert plots.loss_plot.drawn_labels == ["train", "val"] and "old" not in text_of(plots.loss_plot)
        assert [label for label, _ in plots.ghosts] == ["old"]  # hidden, not forgotten
        assert plots.toggle_ghosts() is True
        await pilot.pause()
        await pilot.pause()
        assert plots.metric_plot.drawn_labels == ["old", "train", "val"]


async def test_a_ghost_longer_than_the_live_run_widens_the_x_axis():
    plot = LossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 16)) as pilot:
        plot.set_history(LIVE)
        await pilot.pause()
        assert "40" not in text_of(plot).splitlines()[-1]
        plot.set_ghosts([("long", run(40))])
        await pilot.pause()
        assert plot.drawn_points == 40
        assert "40" in text_of(plot).splitlines()[-1]  # the x ticks reach the ghost's last epoch
        assert max(signals(plot)["long"][0]) == 40


async def test_long_ghosts_are_downsampled_like_the_live_series():
    plot = LossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 16)) as pilot:
        plot.set_history(LIVE)
        plot.set_ghosts([("long", run(12_000, val=False))])
        await pilot.pause()
        assert 0 < plot.drawn_points <= 2 * plot.size.width
        assert "12000" in text_of(plot).splitlines()[-1]


async def test_ghosts_show_before_the_first_live_epoch_and_in_the_metric_plot():
    plots = TrainingPlots(min_interval=0)
    async with PlotApp(plots).run_test(size=(120, 40)) as pilot:
        plots.set_history(LIVE)
        plots.set_ghosts([("before", LIVE)])
        plots.reset()  # a new run: the metric is not known yet, the ghosts stay
        await pilot.pause()
        for plot in plots.loss_plot, plots.metric_plot:
            assert plot.placeholder is None and plot.drawn_labels == ["before"]
        assert plots.metric_plot.plot_title == "accuracy"  # the ghost's metric until the live one is known
        assert signals(plots.metric_plot)["before"][1] == LIVE["val_accuracy"]
        plots.toggle_ghosts()
        await pilot.pause()
        await pilot.pause()
        assert "waiting for the first epoch" in text_of(plots.loss_plot)
        assert "waiting for the first epoch" in text_of(plots.metric_plot)

    metric = MetricPlot(min_interval=0)
    async with PlotApp(metric).run_test(size=(60, 16)) as pilot:
        metric.set_history({"loss": []})  # a run without a metric: nothing to compare with
        metric.set_ghosts([("before", LIVE)])
        await pilot.pause()
        assert metric.placeholder == MetricPlot.NO_METRIC


async def test_unchanged_ghosts_and_cursor_do_not_redraw():
    plots = TrainingPlots(min_interval=0)
    async with PlotApp(plots).run_test(size=(120, 40)) as pilot:
        plots.set_history(LIVE)
        plots.toggle_ghosts()  # no ghosts: nothing to redraw
        plots.toggle_ghosts()
        await pilot.pause()
        loss, metric = plots.loss_plot, plots.metric_plot
        draws = loss.draw_count, metric.draw_count
        plots.set_ghosts([])
        plots.set_cursor(None)
        await pilot.pause()
        assert (loss.draw_count, metric.draw_count) == draws
        ghost = {"loss": [1.0, math.nan], "val_loss": [math.nan, math.nan]}
        plots.set_ghosts([("a", ghost)])
        plots.set_cursor(2)
        await pilot.pause()
        await pilot.pause()
        draws = loss.draw_count, metric.draw_count
        plots.set_ghosts([("a", {"loss": (1.0, float("nan")), "val_loss": [float("nan")] * 2})])  # equal, NaN too
        plots.set_cursor(2)
        await pilot.pause()
        await pilot.pause()
        assert (loss.draw_count, metric.draw_count) == draws
        plots.set_ghosts([("b", ghost)])  # a new label is a change
        await pilot.pause()
        assert loss.draw_count == draws[0] + 1
        plots.show_ghosts = False
        await pilot.pause()
        await pilot.pause()
        draws = loss.draw_count, metric.draw_count
        plots.set_ghosts([("c", ghost)])  # hidden ghosts: stored, nothing drawn changes
        await pilot.pause()
        assert (loss.draw_count, metric.draw_count) == draws and plots.ghosts[0][0] == "c"


async def test_no_color_keeps_ghosts_and_the_cursor_apart_by_glyph(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    plot = LossPlot(min_interval=0)
    app = PlotApp(plot)
    async with app.run_test(size=(80, 20)) as pilot:
        assert app.no_color
        plot.set_history({"loss": [1.0, 0.8, 0.6, 0.5, 0.45, 0.42]})
        plot.set_ghosts([("a", {"loss": [3.0, 2.8, 2.6, 2.4]}), ("b", {"loss": [2.0, 1.9, 1.8]}),
                         ("c", {"loss": [1.5, 1.45, 1.4, 1.35]})])
        plot.set_cursor(3)
        await pilot.pause()
        shown = text_of(plot)
        for marker in GHOST_MARKERS:
            assert shown.count(marker) > 2  # more than its two in the legend box
        assert any("\u2800" < ch <= "\u28ff" for ch in shown)  # the live train line: braille
        assert len(set(GHOST_MARKERS) | {"•", "·", "│"}) == len(GHOST_MARKERS) + 3
        assert cursor_columns(plot)


# ---------------------------------------------------------------------- replay cursor
async def test_cursor_draws_a_vertical_line_at_its_epoch_and_names_it_in_the_title():
    plot = LossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 16)) as pilot:
        plot.set_history({"loss": [1 / (1 + i) for i in range(10)]})
        await pilot.pause()
        assert cursor_columns(plot) == []
        plot.set_cursor(4)
        await pilot.pause()
        assert plot.plot_title == "loss (replay epoch 4)" and "loss (replay epoch 4)" in text_of(plot)
        lines = text_of(plot).splitlines()
        [col] = cursor_columns(plot)
        assert lines[-1][col] == "4"  # right above the x tick label "4"
        assert sum(line[col] == "│" for line in lines[1:-2]) >= len(lines) // 2  # a line, not a dot
        plot.set_cursor(None)
        await pilot.pause()
        assert plot.plot_title == "loss" and cursor_columns(plot) == []
        plot.log_scale = True
        plot.set_cursor(10)
        await pilot.pause()
        assert plot.plot_title == "loss (log, replay epoch 10)"


async def test_cursor_at_zero_widens_the_axis_and_stays_off_the_frame():
    plot = LossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 16)) as pilot:
        plot.set_history({"loss": [1 / (1 + i) for i in range(10)]})
        plot.set_cursor(0)
        await pilot.pause()
        lines = text_of(plot).splitlines()
        [col] = cursor_columns(plot)
        axis = next(line for line in lines if "└" in line)
        assert lines[-1][col] == "0"
        assert col > axis.index("└") + 1  # a column of room: not mistaken for the y axis
        plot.set_history({"loss": [0.5]})  # one epoch and the cursor at it
        plot.set_cursor(1)
        await pilot.pause()
        assert len(cursor_columns(plot)) == 1 and plot.placeholder is None
    with pytest.raises(ValueError):
        plot.set_cursor(-1)


async def test_cursor_redraws_at_once_despite_the_redraw_interval():
    plots = TrainingPlots(min_interval=30)
    async with PlotApp(plots).run_test(size=(120, 40)) as pilot:
        plots.set_history(LIVE)
        await pilot.pause()
        plots.add_epoch(5, {"loss": 0.3, "val_loss": 0.4, "accuracy": 0.85, "val_accuracy": 0.75})
        await pilot.pause()  # data waits for the end of the 30 s interval ...
        draws = plots.loss_plot.draw_count, plots.metric_plot.draw_count
        plots.set_cursor(3)  # ... a cursor moved by a key does not
        assert plots.cursor == 3
        await pilot.pause()
        assert plots.loss_plot.draw_count == draws[0] + 1 and "replay epoch 3" in text_of(plots.loss_plot)
        await pilot.pause()
        await pilot.pause()
        assert plots.metric_plot.draw_count == draws[1] + 1  # a frame after the loss plot
        assert plots.metric_plot.plot_title == "accuracy (replay epoch 3)"
        assert plots.loss_plot.train_losses[-1] == 0.3 and plots.loss_plot.drawn_points == 6  # newest data too


async def test_a_short_plot_names_ghosts_in_the_title_while_they_fit_and_keeps_the_replay_note():
    plot = LossPlot(min_interval=0)
    async with PlotApp(plot).run_test(size=(60, 10)) as pilot:
        plot.set_history(LIVE)
        plot.set_ghosts([("lr 0.03", run(5)), ("+Dense 8", run(5))])
        plot.set_cursor(2)
        await pilot.pause()
        title = text_of(plot).splitlines()[0].strip()
        # too long for one line: the live series first, the newest ghost next, the rest left out
        assert title.startswith("loss (replay epoch 2)   ⢕ train   • val   ∘ +Dense 8")
        assert "lr 0.03" not in title
    narrow = LossPlot(min_interval=0)
    async with PlotApp(narrow).run_test(size=(24, 8)) as pilot:
        narrow.set_history(LIVE)
        narrow.set_cursor(5)
        await pilot.pause()
        title = text_of(narrow).splitlines()[0].strip()
        assert title.startswith("loss (replay") and "train" not in title

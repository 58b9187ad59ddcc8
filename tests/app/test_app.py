"""The whole app driven with keys: training controls, editing, presets, files, dialogs, layouts.

Each test runs `make_app(..., show_timing=False)` on a tiny preset and checks real state: the
session's counters and weights, the widgets' contents and the messages posted (captured
with `message_hook`). Training runs in a thread worker; tests wait for it with
`app.workers.wait_for_complete()` or poll with `wait_until`, never with fixed sleeps.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
import time

import numpy as np
import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable, Input, Label, Markdown, OptionList, Static

import tuinet
from tuinet import session as s
from tuinet.app.screens.dialogs import HelpScreen, PathPrompt, PresetPicker
from tuinet.app.screens.layer_editor import LayerEditor
from tuinet.app.screens.main import MainScreen
from tuinet.app.widgets.architecture import ArchitecturePane
from tuinet.app.widgets.hyperparams import HyperParamsPane
from tuinet.app.widgets.plots import TrainingPlots
from tuinet.app.widgets.status import EpochLog, StatusBar
from tuinet.app.widgets.tabs import TabBar
from tuinet.presets import list_presets, load_preset

from .conftest import events, notifications, settle, started, static_text, status_text, unthrottle, wait_until

LONG = 100_000  # epochs of a run that only ends when the test pauses or quits it


def weights_equal(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def log_text(app) -> str:
    return "\n".join(app.screen.query_one(EpochLog).lines)


async def retype(pilot, text: str) -> None:
    """Clear the focused Input and type `text`."""
    await pilot.press("end", "ctrl+u", *text)


async def pause_training(pilot) -> None:
    """Pause a run with space and wait for the worker to return."""
    await pilot.press("space")
    await settle(pilot)
    assert pilot.app.session.state == "paused"


# ---------------------------------------------------------------------- training controls
async def test_space_plays_to_the_end(make_test_app):
    app = make_test_app("xor", epochs=3)
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await started(pilot)
        assert isinstance(app.screen, MainScreen) and app.session.epoch == 0
        assert "■ ready" in status_text(app)
        await pilot.press("space")
        await settle(pilot)
        session = app.session
        assert session.epoch == 3 and session.state == "finished"
        finished = events(app, s.EpochEnded)
        assert [e.epoch for e in finished] == [0, 1, 2]
        assert all(e.epochs == 3 for e in finished)
        assert [e.state for e in events(app, s.StateChanged)] == ["running", "finished"]
        assert len(events(app, s.Finished)) == 1
        text = status_text(app)
        assert "✔ finished" in text and "epoch 3/3" in text and "batch 0/35" in text
        assert "samples/s" not in text and "elapsed" not in text  # show_timing=False
        plots = app.screen.query_one(TrainingPlots)
        assert plots.loss_plot.train_losses == session.history["loss"]
        assert plots.metric_plot.val_values == session.history["val_accuracy"]
        assert len(plots.batch_plot.losses) == 3 * 35
        lines = log_text(app)
        assert "Epoch 1/3" in lines and "Epoch 3/3" in lines and "accuracy:" in lines
        # space once finished trains nothing and says why
        await pilot.press("space")
        await settle(pilot)
        assert session.epoch == 3
        assert any("Training is finished" in n.message for n in notifications(seen))


async def test_a_pause_shows_at_once_though_the_batch_takes_a_while(make_test_app, monkeypatch):
    from tuinet.session import TrainingSession

    original = TrainingSession._one_batch
    in_batch = threading.Event()

    def slow_batch(self, *, force_event: bool) -> bool:
        in_batch.set()
        time.sleep(0.4)  # a big model's batch
        return original(self, force_event=force_event)

    monkeypatch.setattr(TrainingSession, "_one_batch", slow_batch)
    app = make_test_app("xor", epochs=LONG)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("space")
        await wait_until(pilot, lambda: app.session.state == "running" and in_batch.is_set(), what="a batch")
        await wait_until(pilot, lambda: "▶ running" in status_text(app), what="the running state")
        await pilot.press("space")
        assert "⏸ pausing after this batch" in status_text(app)  # before the batch has ended
        await settle(pilot)
        assert app.session.state == "paused" and "⏸ paused" in status_text(app)
        assert "pausing" not in status_text(app)


async def test_space_pauses_a_running_session(make_test_app, paced):
    app = make_test_app("xor", epochs=LONG, refresh_hz=8)
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await pilot.pause()
        await pilot.press("space")
        await wait_until(pilot, lambda: events(app, s.BatchEnded), what="the first BatchProgress")
        await wait_until(pilot, lambda: "▶ running" in status_text(app), what="the running state")
        await pause_training(pilot)
        session = app.session
        position = (session.epoch, session.batch)
        losses = len(session.batch_loss_history())
        await pilot.pause(0.2)
        assert (session.epoch, session.batch) == position
        assert len(session.batch_loss_history()) == losses
        assert not any(w.is_running for w in app.workers)
        assert "⏸ paused" in status_text(app)
        assert [e.state for e in events(app, s.StateChanged)] == ["running", "paused"]
        # space again resumes from where it stopped
        await pilot.press("space")
        await wait_until(pilot, lambda: session.epoch * 35 + session.batch > position[0] * 35 + position[1],
                         what="training to resume")
        await pause_training(pilot)


async def test_n_steps_one_batch_and_shift_n_one_epoch(make_test_app):
    app = make_test_app("xor", epochs=5)
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await started(pilot)
        session = app.session
        before = session.model.get_weights()
        await pilot.press("n")
        await settle(pilot)
        assert (session.epoch, session.batch) == (0, 1)
        assert session.state == "paused"
        assert not weights_equal(before, session.model.get_weights())
        assert len(session.batch_loss_history()) == 1
        progress = events(app, s.BatchEnded)
        assert [(e.epoch, e.batch, e.steps) for e in progress] == [(0, 1, 35)]
        assert "⏸ paused" in status_text(app) and "epoch 1/5  batch 1/35" in status_text(app)
        await pilot.press("N")  # to the end of this epoch
        await settle(pilot)
        assert (session.epoch, session.batch) == (1, 0)
        assert [e.epoch for e in events(app, s.EpochEnded)] == [0]
        await pilot.press("N")  # one whole epoch
        await settle(pilot)
        assert (session.epoch, session.batch) == (2, 0)
        assert len(session.batch_loss_history()) == 2 * 35
        assert [e.epoch for e in events(app, s.EpochEnded)] == [0, 1]
        assert session.state == "paused" and "epoch 2/5  batch 0/35" in status_text(app)
        assert app.screen.query_one(TrainingPlots).loss_plot.train_losses == session.history["loss"]
        # f: the next refresh rate, handed to the session's event throttle
        assert app.refresh_hz == 2.0
        await pilot.press("f")
        assert app.refresh_hz == 5.0 and session.batch_event_interval == pytest.approx(1 / 5)
        assert session.snapshot_interval == pytest.approx(1 / 5)


async def test_reset_restores_the_initial_weights_and_clears_the_plots(make_test_app):
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        session = app.session
        initial = session.model.get_weights()
        await pilot.press("space")
        await settle(pilot)
        assert session.epoch == 2 and not weights_equal(initial, session.model.get_weights())
        plots = app.screen.query_one(TrainingPlots)
        assert len(plots.loss_plot.train_losses) == 2 and plots.batch_plot.losses
        await pilot.press("r")
        await settle(pilot)
        assert weights_equal(initial, session.model.get_weights())
        assert (session.epoch, session.batch, session.state) == (0, 0, "ready")
        assert session.history == {} and session.batch_loss_history() == []
        assert plots.loss_plot.train_losses == [] and plots.metric_plot.train_values == []
        assert plots.batch_plot.losses == ()
        assert "■ ready" in status_text(app) and "epoch 0/2  batch 0/35" in status_text(app)
        assert "│" not in status_text(app)  # the "finished" note went with the run
        # the same seed gives the same run again
        await pilot.press("space")
        await settle(pilot)
        assert session.epoch == 2


# ---------------------------------------------------------------------- architecture edits
async def open_model_tab(pilot) -> DataTable:
    app = pilot.app
    app.screen.active_tab = "architecture"
    await pilot.pause()
    table = app.screen.query_one("#arch-table", DataTable)
    table.focus()
    await pilot.pause()
    return table


async def test_edit_a_layer_and_apply_rebuilds_the_model(make_test_app):
    app = make_test_app("xor", epochs=3)
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await started(pilot)
        session = app.session
        assert session.model.count_params() == 114
        await open_model_tab(pilot)
        await pilot.press("e")  # the first row is highlighted
        await pilot.pause()
        assert isinstance(app.screen, LayerEditor)
        assert app.screen.focused.id == "arg-units"
        await retype(pilot, "16")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        pane = app.screen.query_one(ArchitecturePane)
        assert pane.dirty and pane.layer_specs[0]["units"] == 16
        assert "● edited" in static_text(pane.query_one("#arch-state", Static))
        assert session.model.count_params() == 114  # nothing applied yet
        await pilot.press("ctrl+a")
        await settle(pilot)
        # 2*16+16 + 16*8+8 + 8*2+2 = 48 + 136 + 18
        assert session.model.count_params() == 202
        assert session.experiment.model.layers[0] == {"type": "Dense", "units": 16, "activation": "tanh"}
        assert session.experiment.model.layers[1:] == load_preset("xor").model.layers[1:]
        assert not pane.dirty
        assert "Total params: 202" in static_text(pane.query_one("#arch-totals", Static))
        assert "as applied" in static_text(pane.query_one("#arch-state", Static))
        table = pane.query_one("#arch-table", DataTable)
        assert [str(c) for c in table.get_row_at(0)] == ["1", "Dense 16 tanh", "(None, 16)", "48"]
        ready = events(app, s.SessionReady)
        assert ready and ready[-1].params == 202
        # and it trains
        await pilot.press("space")
        await settle(pilot)
        assert session.epoch == 3 and session.state == "finished"


async def test_an_invalid_layer_edit_changes_nothing(make_test_app):
    app = make_test_app("xor", epochs=3)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        session = app.session
        weights = session.model.get_weights()
        await open_model_tab(pilot)
        await pilot.press("enter")  # enter edits too
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, LayerEditor)
        error = editor.query_one("#err-units", Static)
        for units, complaint in (("0", "units"), ("abc", "'abc'")):
            await retype(pilot, units)
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is editor  # refused: the dialog stays open
            assert error.has_class("-shown") and static_text(error).startswith("✗ units")
            assert complaint in static_text(error)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        pane = app.screen.query_one(ArchitecturePane)
        assert not pane.dirty and pane.layer_specs == load_preset("xor").model.layers
        await pilot.press("ctrl+a")  # nothing to apply
        await settle(pilot)
        assert "nothing to apply" in static_text(pane.query_one("#arch-note", Static))
        assert session.model.count_params() == 114
        assert weights_equal(weights, session.model.get_weights())
        assert session.experiment.model.layers == load_preset("xor").model.layers
        assert session.state == "ready"


# ---------------------------------------------------------------------- hyperparameters
async def test_learning_rate_enter_applies_live_while_training(make_test_app, paced):
    app = make_test_app("xor", epochs=LONG, refresh_hz=8)
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await pilot.pause()  # plots left throttled: fewer redraws while the run goes on
        session = app.session
        await pilot.press("space")
        await wait_until(pilot, lambda: events(app, s.BatchEnded), what="the first BatchProgress")
        assert all(e.learning_rate == pytest.approx(0.03) for e in events(app, s.BatchEnded))
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert app.screen.active_tab == "hyperparams"
        rate = app.screen.query_one("#hp-learning-rate", Input)
        rate.focus()
        rate.value = "0.005"  # typed (each key waits for an idle CPU, which a run does not leave)
        await pilot.press("enter")
        before = len(events(app, s.BatchEnded))
        await wait_until(pilot, lambda: any(e.learning_rate == pytest.approx(0.005)
                                            for e in events(app, s.BatchEnded)[before:]),
                         what="a BatchProgress with the new learning rate")
        await wait_until(pilot, lambda: len(events(app, s.BatchEnded)) >= before + 3, what="more batches")
        assert session.state == "running"  # no rebuild, no pause
        later = [e.learning_rate for e in events(app, s.BatchEnded)[before:]]
        first_new = next(i for i, lr in enumerate(later) if lr == pytest.approx(0.005))
        assert all(lr == pytest.approx(0.005) for lr in later[first_new:])
        assert first_new <= 1  # at most one event was already on its way
        assert float(session.model.optimizer.learning_rate) == pytest.approx(0.005)
        assert session.experiment.train.learning_rate == 0.005
        assert "lr 0.005" in status_text(app)
        app.screen.set_focus(None)  # away from the Input: space is a key again
        await pause_training(pilot)


async def test_batch_size_change_is_applied_with_a_rebuild(make_test_app):
    app = make_test_app("xor", epochs=3)
    seen: list = []
    async with app.run_test(size=(160, 48), message_hook=seen.append) as pilot:
        await started(pilot)
        session = app.session
        await pilot.press("n")
        await settle(pilot)
        assert session.steps_per_epoch == 35 and session.batch == 1
        hyper = app.screen.query_one(HyperParamsPane)
        hyper.query_one("#hp-batch-size", Input).focus()
        await pilot.pause()
        await retype(pilot, "50")
        await pilot.pause()
        assert hyper.dirty
        await pilot.press("ctrl+a")
        await settle(pilot)
        assert session.experiment.train.batch_size == 50
        assert session.steps_per_epoch == 7  # 350 training samples
        assert (session.epoch, session.batch, session.state) == (0, 0, "ready")
        assert not hyper.dirty
        assert "batch 0/7" in status_text(app)
        assert app.screen.query_one(TrainingPlots).batch_plot.losses == ()
        assert events(app, s.SessionReady)[-1].steps_per_epoch == 7
        app.screen.query_one(DataTable).focus()
        await pilot.press("N")
        await settle(pilot)
        assert (session.epoch, session.batch) == (1, 0)
        assert len(session.batch_loss_history()) == 7


# ---------------------------------------------------------------------- presets
async def test_preset_picker_opens_iris(make_test_app):
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("space")
        await settle(pilot)
        old = app.session
        assert old.epoch == 2
        assert app.screen.query_one(TrainingPlots).loss_plot.train_losses
        await pilot.press("o")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, PresetPicker)
        options = picker.query_one(OptionList)
        names = list(list_presets())
        assert options.highlighted == names.index("xor")  # starts on the current preset
        await pilot.press("home", *["down"] * names.index("iris"), "enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert app.session is not old and app.session.experiment.name == "iris"
        assert app.sub_title.startswith("Iris flowers  ·  [1 train]")
        assert (app.session.epoch, app.session.batch) == (0, 0)
        plots = app.screen.query_one(TrainingPlots)
        assert plots.loss_plot.train_losses == [] and plots.batch_plot.losses == ()
        assert plots.metric_plot.metric == "accuracy"
        pane = app.screen.query_one(ArchitecturePane)
        assert pane.layer_specs == load_preset("iris").model.layers
        assert "epoch 0/60  batch 0/12" in status_text(app)  # 90 samples in batches of 8
        assert "iris" in log_text(app)
        # escape in the picker changes nothing
        await pilot.press("o")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.session.experiment.name == "iris"


# ---------------------------------------------------------------------- files
async def test_save_and_load_a_model(make_test_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # short relative paths: each typed key costs a pilot round trip
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("space")
        await settle(pilot)
        trained = app.session.model.get_weights()
        await pilot.press("ctrl+s")
        await pilot.pause()
        prompt = app.screen
        assert isinstance(prompt, PathPrompt)
        assert prompt.query_one(Input).value == "xor.tuinet"  # the preset's name by default
        await retype(pilot, "m1.tuinet")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert "Model saved to m1.tuinet" in log_text(app)
    assert [p.name for p in tmp_path.iterdir()] == ["m1.tuinet"]
    loaded = tuinet.load_model(tmp_path / "m1.tuinet")
    assert weights_equal(trained, loaded.get_weights())
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "Dense", "Dense"]

    fresh = make_test_app("xor", epochs=4)
    async with fresh.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        seeded = fresh.session.model.get_weights()
        assert not weights_equal(trained, seeded)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert isinstance(fresh.screen, PathPrompt)
        await retype(pilot, "m1.tuinet")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(fresh.screen, MainScreen)
        assert weights_equal(trained, fresh.session.model.get_weights())
        assert "Model loaded from m1.tuinet" in log_text(fresh)
        assert (fresh.session.epoch, fresh.session.batch) == (2, 0)  # the saved run goes on (tests/test_resume.py)
        assert "epoch 2/4" in status_text(fresh)
        # the loaded model trains on
        await pilot.press("n")
        await settle(pilot)
        assert (fresh.session.epoch, fresh.session.batch) == (2, 1)
        assert not weights_equal(trained, fresh.session.model.get_weights())
        # r re-initialises from the seed (as the help says), not back to the file
        await pilot.press("r")
        await settle(pilot)
        assert weights_equal(seeded, fresh.session.model.get_weights())


async def test_bad_paths_show_an_inline_error(make_test_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_test_app("xor", epochs=2)
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await started(pilot)
        weights = app.session.model.get_weights()

        def error_text(prompt) -> str:
            return str(prompt.query_one("#path-error", Label).render())

        await pilot.press("ctrl+l")
        await pilot.pause()
        prompt = app.screen
        prompt.query_one(Input).value = "gone.tuinet"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is prompt
        assert error_text(prompt) == "Error: gone.tuinet: file not found"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert weights_equal(weights, app.session.model.get_weights())

        await pilot.press("ctrl+s")
        await pilot.pause()
        prompt = app.screen
        prompt.query_one(Input).value = "no/m.tuinet"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is prompt
        assert error_text(prompt) == "Error: folder 'no' does not exist"
        prompt.query_one(Input).value = "  "
        await pilot.press("enter")
        await pilot.pause()
        assert error_text(prompt) == "Error: give a file path"
        await pilot.press("escape")
        await pilot.pause()
        assert list(tmp_path.iterdir()) == []

        # a file that is not a model passes the prompt; the load fails with a notification
        (tmp_path / "junk.tuinet").write_text("not a model")
        await pilot.press("ctrl+l")
        await pilot.pause()
        app.screen.query_one(Input).value = "junk.tuinet"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        failures = [n for n in notifications(seen) if n.title == "Load failed"]
        assert failures and "junk.tuinet" in failures[0].message
        assert weights_equal(weights, app.session.model.get_weights())
        assert app.session.state == "ready"


# ---------------------------------------------------------------------- help, palette
async def test_help_opens_and_escape_closes(make_test_app):
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        source = app.screen.query_one(Markdown).source
        assert "play / pause training" in source and "`ctrl+p` | command palette" in source
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def palette_search(pilot, query: str, wanted: str) -> int:
    """Type `query` into the open command palette; the index of the hit containing `wanted`."""
    palette = pilot.app.screen
    assert isinstance(palette, CommandPalette)
    palette.query_one(Input).value = query
    results = palette.query_one(OptionList)

    def index() -> int | None:
        return next((i for i, option in enumerate(results.options) if wanted in str(option.prompt)), None)

    await wait_until(pilot, lambda: index() is not None, what=f"{wanted!r} among the hits for {query!r}")
    return index()


async def test_command_palette_lists_actions_and_presets(make_test_app):
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await palette_search(pilot, "play", "Play / pause training  (space)")
        await palette_search(pilot, "reset", "Reset weights  (r)")
        found = await palette_search(pilot, "preset: iris", "Open preset: iris")
        # running the command opens the preset
        app.screen.query_one(OptionList).highlighted = found
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert app.session.experiment.name == "iris"


# ---------------------------------------------------------------------- divergence
async def test_divergence_is_reported_and_the_weights_stay_finite(make_test_app):
    exp = load_preset("plane-regression")
    exp = exp.replace(train=dataclasses.replace(exp.train, optimizer="sgd", optimizer_args={}, learning_rate=1e6))
    app = make_test_app(exp, epochs=5)
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await started(pilot)
        await pilot.press("space")
        await settle(pilot)
        session = app.session
        assert session.state == "diverged" and session.epoch == 0
        diverged = events(app, s.Diverged)
        assert len(diverged) == 1
        event = diverged[0]
        assert event.epoch == 0 and event.batch == session.batch + 1
        assert f"epoch 1, batch {event.batch}" in event.message
        assert "lower learning rate" in event.message
        text = status_text(app)
        assert "✖ diverged" in text and "lower the learning rate" in text
        assert f"✖ training diverged at epoch 1, batch {event.batch}" in log_text(app)
        notes = [n for n in notifications(seen) if n.title == "Training diverged"]
        assert notes and f"batch {event.batch}" in notes[0].message
        assert all(np.isfinite(w).all() for w in session.model.get_weights())
        assert all(math.isfinite(v) for v in session.batch_loss_history())
        # a lower learning rate (enter: live), r to start again from the seed, space: it trains
        app.screen.active_tab = "hyperparams"
        await pilot.pause()
        rate = app.screen.query_one("#hp-learning-rate", Input)
        rate.focus()
        rate.value = "0.01"
        await pilot.press("enter")
        await pilot.pause()
        assert session.experiment.train.learning_rate == 0.01
        app.screen.active_tab = "plots"
        app.screen.set_focus(None)
        await pilot.press("r")
        await settle(pilot)
        assert session.state == "ready" and "diverged" not in status_text(app)
        await pilot.press("space")
        await settle(pilot)
        assert session.state == "finished" and session.epoch == 5
        assert all(math.isfinite(v) for v in session.history["loss"])


# ---------------------------------------------------------------------- quit
def training_frames() -> list[str]:
    """Threads now inside `TrainingSession.run` (the worker's thread itself is a pooled one)."""
    from tuinet import session as session_module

    busy = []
    for thread_id, frame in sys._current_frames().items():
        while frame is not None:
            if frame.f_code.co_filename == session_module.__file__ and frame.f_code.co_name == "run":
                busy.append(thread_id)
                break
            frame = frame.f_back
    return busy


async def test_quit_during_training_stops_the_worker(make_test_app):
    app = make_test_app("xor", epochs=LONG, refresh_hz=8)
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await pilot.pause()
        await pilot.press("space")
        await wait_until(pilot, lambda: events(app, s.BatchEnded), what="the first BatchProgress")
        session = app.session
        assert session.state == "running" and training_frames()
        pressed = time.monotonic()
        await pilot.press("q")
    exited = time.monotonic()
    assert exited - pressed < 5.0  # the press itself waits for an idle CPU, up to a second a wait
    deadline = exited + 0.5
    while training_frames() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert training_frames() == []
    assert session.state == "stopped" and session.epoch < LONG
    assert app.return_code == 0


# ---------------------------------------------------------------------- layouts
async def test_the_tab_bar_holds_the_focus_so_a_hidden_pane_takes_no_keys(make_test_app):
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        screen = app.screen
        bar = screen.query_one(TabBar)
        assert app.focused is bar and screen.active_tab == "plots"
        layers = app.session.experiment.model.layers
        await pilot.press("a", "x")  # the architecture pane's keys, its pane hidden: nothing happens
        await pilot.pause()
        assert app.screen is screen and app.session.experiment.model.layers == layers
        assert not screen.query_one(ArchitecturePane).dirty
        # left/right on the focused bar switch tabs too, wrapping around
        await pilot.press("left")
        await pilot.pause()
        assert screen.active_tab == "log" and screen.query_one(EpochLog).region.area > 0
        await pilot.press("right", "right")
        await pilot.pause()
        assert screen.active_tab == "architecture" and bar.active == "architecture"
        assert screen.query_one(ArchitecturePane).region.area > 0
        # the focus in a pane that is switched away goes back to the bar (not to nothing)
        screen.query_one("#arch-table", DataTable).focus()
        await pilot.pause()
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.active_tab == "hyperparams" and app.focused is bar
        # the bar says which tab is shown: labels in order, the active one styled apart
        text = bar.render()
        assert text.plain.splitlines()[0] == " Plots  Model  Training  Log "
        active = text.plain.index(" Training ")
        styles = {str(span.style) for span in text.spans if span.start <= active < span.end}
        plots = {str(span.style) for span in text.spans if span.start <= 0 < span.end}
        assert styles and plots and styles != plots


async def test_brackets_switch_tabs_and_the_layout_follows_the_terminal_size(make_test_app):
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        screen = app.screen
        # 80x24: tabs, and [ ] switch them
        assert screen.layout_kind == "narrow" and screen.active_tab == "plots"
        visited = []
        for _ in range(4):
            await pilot.press("right_square_bracket")
            visited.append(screen.active_tab)
            await pilot.pause()
            # the pane shown is the one named, and only it
            shown = [w.id for w in (screen.query_one(TrainingPlots), screen.query_one(ArchitecturePane),
                                    screen.query_one(HyperParamsPane), screen.query_one(EpochLog))
                     if w.region.area > 0]
            assert shown == [visited[-1]]
            assert screen.query_one(TabBar).active == visited[-1]
        assert visited == ["architecture", "hyperparams", "log", "plots"]
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert screen.active_tab == "log" and screen.query_one(EpochLog).region.area > 0
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.active_tab == "plots" and screen.query_one(TrainingPlots).region.area > 0
        # a click on a label opens its tab
        bar = screen.query_one(TabBar)
        await pilot.click(TabBar, offset=(bar._spans()[2][1] + 1, 0))
        await pilot.pause()
        assert screen.active_tab == "hyperparams" and screen.query_one(HyperParamsPane).region.area > 0
        screen.active_tab = "plots"
        with pytest.raises(ValueError, match="no tab 'nope'"):
            screen.active_tab = "nope"
        await pilot.pause()

        # too small: a message instead of the panes
        too_small = screen.query_one("#too-small", Static)
        assert too_small.region.area == 0
        await pilot.resize_terminal(70, 20)
        await pilot.pause()
        assert screen.has_class("-too-small")
        assert "Terminal too small: 70x20" in static_text(too_small) and "80x24" in static_text(too_small)
        assert too_small.region.area > 0
        assert screen.query_one(StatusBar).region.area == 0 and screen.query_one(TabBar).region.area == 0
        assert screen.query_one("#body").region.area == 0
        await pilot.press("space", "n", "N", "r")  # nothing trains or resets unseen
        await pilot.pause()
        assert app.session.state == "ready" and (app.session.epoch, app.session.batch) == (0, 0)
        assert not any(w.is_running for w in app.workers)
        await pilot.press("3")  # the other views say so too
        await pilot.pause()
        inside = app.screen
        assert inside is not screen and inside.has_class("-too-small")
        assert "Terminal too small: 70x20" in static_text(inside.query_one("#too-small", Static))
        await pilot.press("1")
        await pilot.pause()
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not screen.has_class("-too-small") and too_small.region.area == 0
        assert screen.query_one(TabBar).region.area > 0 and screen.query_one(TrainingPlots).region.area > 0

        await pilot.press("space", "g")  # train, and a log scale on the plots
        await settle(pilot)
        history = dict(app.session.history)
        batch_losses = app.session.batch_loss_history()
        note = screen.query_one(StatusBar).message
        assert note.startswith("finished")
        lines = list(screen.query_one(EpochLog).lines)

        # 160x48: side by side, no tabs, every pane on screen, refilled from the session
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        await pilot.pause()
        assert screen.layout_kind == "wide"
        assert not screen.query(TabBar) and screen.active_tab is None
        plots = screen.query_one(TrainingPlots)
        assert plots.loss_plot.train_losses == history["loss"]
        assert plots.metric_plot.val_values == history["val_accuracy"]
        assert list(plots.batch_plot.losses) == batch_losses
        for widget in (plots, screen.query_one(ArchitecturePane), screen.query_one(HyperParamsPane),
                       screen.query_one(EpochLog)):
            assert widget.region.area > 0
        # what only the old widgets held came along: the log, the status note, the log scale
        assert list(screen.query_one(EpochLog).lines) == lines and "Epoch 2/2" in lines[-2]
        assert "✔ finished" in status_text(app) and "epoch 2/2" in status_text(app)
        assert screen.query_one(StatusBar).message == note
        assert plots.log_scale and plots.loss_plot.log_scale
        assert screen.query_one(ArchitecturePane).layer_specs == app.session.experiment.model.layers
        assert screen.check_action("next_tab", ()) is False  # no tabs: the keys are not offered
        await pilot.press("right_square_bracket")
        assert isinstance(app.screen, MainScreen) and screen.layout_kind == "wide"

        # back to 80x24: tabs again, plots refilled
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.pause()
        unthrottle(app)
        await pilot.pause()
        assert screen.layout_kind == "narrow"
        assert screen.active_tab == "plots" and app.focused is screen.query_one(TabBar)
        plots = screen.query_one(TrainingPlots)
        assert plots.loss_plot.train_losses == history["loss"]
        assert list(plots.batch_plot.losses) == batch_losses
        assert plots.loss_plot.drawn_points == 2


async def test_no_color_still_shows_the_state_as_text(make_test_app, paced, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_test_app("xor", epochs=LONG, refresh_hz=8)
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await pilot.pause()
        assert app.no_color
        await pilot.press("space")
        await wait_until(pilot, lambda: "▶ running" in status_text(app), what="the running state")
        await wait_until(pilot, lambda: events(app, s.BatchEnded), what="the first BatchProgress")
        await pause_training(pilot)
        assert "⏸ paused" in status_text(app)
        status = app.screen.query_one(StatusBar)
        line = "".join(segment.text for segment in status.render_lines(status.region.reset_offset)[0])
        assert "⏸ paused" in line


async def test_the_app_opens_on_the_view_asked_for(make_test_app):
    from tuinet.app.screens.inside import BoundaryScreen

    app = make_test_app("circle", epochs=2, view="boundary")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, BoundaryScreen) and app.current_mode == "boundary"
        assert "[3 boundary]" in app.sub_title
        await pilot.press("1")
        assert app.current_mode == "train"


async def test_unapplied_edits_survive_a_layout_change(make_test_app):
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        screen = app.screen
        assert screen.layout_kind == "narrow"
        arch = screen.query_one(ArchitecturePane)
        arch.action_remove_layer()  # the first hidden layer
        await pilot.pause()
        edited = arch.layer_specs
        assert arch.dirty and len(edited) == len(app.session.experiment.model.layers) - 1
        hyper = screen.query_one(HyperParamsPane)
        hyper.query_one("#hp-learning-rate", Input).value = "0.123"
        hyper.query_one("#hp-batch-size", Input).value = "many"  # invalid, kept as typed
        await pilot.pause()
        assert hyper.dirty
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        await pilot.pause()
        assert screen.layout_kind == "wide"
        arch, hyper = screen.query_one(ArchitecturePane), screen.query_one(HyperParamsPane)
        assert arch.dirty and arch.layer_specs == edited
        assert hyper.dirty and hyper.edits()["learning_rate"] == "0.123" and hyper.edits()["batch_size"] == "many"
        assert "batch_size" in hyper.errors
        assert app.session.experiment.model.layers != edited  # still not applied



async def test_the_log_follows_training_without_relayouts(make_test_app):
    from textual.screen import Screen

    app = make_test_app("xor", epochs=LONG, refresh_hz=8, training="process")
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        log = app.screen.query_one(EpochLog)
        await pilot.press("space")
        await wait_until(pilot, lambda: log.line_count > log.size.height + 5, timeout=30, what="a full log")
        await pilot.pause(0.3)
        layouts = []
        original = Screen._refresh_layout

        def counting(screen, *args, **kwargs):
            layouts.append(1)
            return original(screen, *args, **kwargs)

        Screen._refresh_layout = counting
        try:
            lines = log.line_count
            await pilot.pause(1.0)
            assert log.line_count > lines + 5  # lines were written, eight times a second ...
            # ... and the screen was not laid out again for them (one layout is allowed: a line
            # that gets a digit wider, "Epoch 1000/", widens the log's scroll area)
            assert len(layouts) <= 1, layouts
        finally:
            Screen._refresh_layout = original
        await pause_training(pilot)
        await pilot.pause(0.3)
        # the newest line is the last one shown (wrapped to the pane: its metrics follow it),
        # and the scrollbar knows the log's length
        newest = next(i for i in range(len(log.lines) - 1, -1, -1) if log.lines[i].startswith("Epoch"))
        assert log.lines[newest].startswith(f"Epoch {app.session.epoch}/")
        assert all(line.startswith("  ") for line in log.lines[newest + 1:])
        assert log.scroll_y == log.max_scroll_y > 0
        assert log.vertical_scrollbar.window_virtual_size == log.virtual_size.height == log.line_count

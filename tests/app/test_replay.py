"""Watching it learn in the real app: the pace, the timeline (`,` `.` replay), a branch from a
past frame (`enter`), ghost runs (`G`), and the frame rate's SSH default."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from tests.app.conftest import events, settle, started, status_text, untrottle_all, wait_until
from tuinet import session as s
from tuinet.app.frames import LOCAL_REFRESH, SSH_REFRESH, default_refresh
from tuinet.app.boundary import InferenceTwin, grid
from tuinet.app.widgets.boundary import DecisionBoundary
from tuinet.app.widgets.confusion import ConfusionMatrixView
from tuinet.app.widgets.heatmap import WeightHeatmap
from tuinet.app.widgets.plots import TrainingPlots
from tuinet.nn.metrics import confusion_matrix
from tuinet.presets import load_preset


def test_the_frame_rate_defaults_to_10_locally_and_2_over_ssh():
    assert default_refresh({}) == LOCAL_REFRESH == 10.0
    assert default_refresh({"SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"}) == SSH_REFRESH == 2.0
    assert default_refresh({"SSH_TTY": "/dev/pts/3"}) == SSH_REFRESH


async def test_pace_keys_step_the_pace_and_the_status_line_shows_it(make_test_app):
    app = make_test_app("xor", epochs=60, pace=None)  # the preset's default: about 15 s a run
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        assert app.pace == 5.0 and "pace 5 ep/s" in status_text(app)
        await pilot.press("greater_than_sign")
        assert app.pace == 10.0 and app.session.pace == 10.0 and "pace 10 ep/s" in status_text(app)
        for _ in range(8):
            await pilot.press("greater_than_sign")
        assert math.isinf(app.pace) and "pace max" in status_text(app)
        await pilot.press("less_than_sign")
        assert app.pace == 200.0 and "pace 200 ep/s" in status_text(app)


async def test_a_paced_run_takes_its_time_and_a_faster_pace_applies_mid_run(make_test_app):
    app = make_test_app("xor", epochs=8, pace=5.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        start = time.monotonic()
        await pilot.press("space")
        await wait_until(pilot, lambda: app.session.epoch >= 2, what="two epochs")
        assert app.session.state == "running" and app.session.epoch < 5  # capped: not all 8 at once
        await pilot.press("greater_than_sign", "greater_than_sign", "greater_than_sign")  # 50 ep/s
        await settle(pilot)
        assert app.session.finished
        assert time.monotonic() - start < 8 / 5.0  # the rest ran at the faster pace


async def test_replay_steps_back_through_frames_in_every_view(make_test_app):
    app = make_test_app("circle", epochs=12)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("space")
        await settle(pilot)
        timeline = app.live_run.timeline
        assert timeline.epochs == list(range(13))  # the first frame, one per epoch, the last
        for _ in range(4):
            await pilot.press("comma")
        assert app.replay_epoch == 8
        assert "replay epoch 8/12" in status_text(app)
        plots = app.screen.query_one(TrainingPlots)
        assert plots.cursor == 8
        # the boundary shows frame 8: what the model with that frame's weights predicts
        await pilot.press("3")
        await pilot.pause()
        untrottle_all(app)
        boundary = app.screen.query_one(DecisionBoundary)
        boundary.refresh()
        await pilot.pause(0.2)
        frame = app.replay_frame
        assert frame.epoch == 8 and "replay epoch 8/12" in status_text(app)
        twin = InferenceTwin(app.session.model.get_config(), input_shape=(2,))
        twin.set_weights(frame.weights)
        rows, cols = boundary.field.value.shape
        expected = twin.predict(grid(boundary.extent, cols, rows))[:, 1].reshape(rows, cols)
        np.testing.assert_allclose(boundary.field.value, expected, atol=1e-5)
        live = app.session.model.predict(grid(boundary.extent, cols, rows), verbose=0)[:, 1].reshape(rows, cols)
        assert not np.allclose(boundary.field.value, live, atol=1e-3)  # not the live model
        # the weights view shows that frame's kernel
        await pilot.press("2")
        await pilot.pause()
        untrottle_all(app)
        await pilot.pause(0.1)
        heatmap = app.screen.query_one(WeightHeatmap)
        np.testing.assert_allclose(heatmap.matrix, frame.weights["dense/kernel"], rtol=1e-6)
        # the confusion matrix of that frame
        await pilot.press("4")
        await pilot.pause()
        p = app.session.prepared
        expected_cm = confusion_matrix(p.y_val, twin.predict(p.x_val), num_classes=2)
        np.testing.assert_array_equal(app.screen.query_one(ConfusionMatrixView).matrix, expected_cm)
        # forward again, then space goes back to live
        await pilot.press("full_stop", "full_stop")
        assert app.replay_epoch == 10
        await pilot.press("space")
        assert app.replay_epoch is None and "replay" not in status_text(app)
        assert not app.session.state == "running"  # space left the replay; it did not start training


async def test_scrubbing_works_while_the_run_goes_on(make_test_app):
    app = make_test_app("xor", epochs=2000, pace=20.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.live_run.epoch >= 10, what="ten epochs")
        await pilot.press("comma", "comma", "comma")
        replayed = app.replay_epoch
        assert replayed is not None and replayed < app.live_run.epoch
        await wait_until(pilot, lambda: app.live_run.epoch >= replayed + 10, what="ten more epochs")
        assert app.replay_epoch == replayed and app.session.state == "running"
        assert f"replay epoch {replayed}/" in status_text(app)
        await pilot.press("end")
        assert app.replay_epoch is None
        await pilot.press("space")  # pause
        await settle(pilot)
        assert app.session.state == "paused"


async def test_enter_branches_from_the_replayed_frame_and_the_old_run_stays_as_a_ghost(make_test_app):
    app = make_test_app("xor", epochs=10)
    seen: list = []
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await started(pilot)
        await pilot.press("space")
        await settle(pilot)
        full = list(app.session.history["loss"])
        for _ in range(5):
            await pilot.press("comma")
        assert app.replay_epoch == 5
        frame = app.replay_frame
        await pilot.press("enter")
        await settle(pilot)
        session = app.session
        assert app.replay_epoch is None
        assert session.epoch == 5 and session.state == "paused"
        assert session.history["loss"] == full[:5]
        for layer in session.model.layers:
            for name in layer.weight_names:
                np.testing.assert_array_equal(layer.weight(name), frame.weights[f"{layer.name}/{name}"])
        assert [g.history["loss"] for g in app.ghosts] == [full]
        plots = app.screen.query_one(TrainingPlots)
        assert [label for label, _ in plots.ghosts] == ["before resuming at 5"]
        ready = events(app, s.SessionReady)
        assert ready[-1].start_epoch == 5
        from tuinet.app.widgets.status import EpochLog

        log = list(app.screen.query_one(EpochLog).lines)
        assert sum("resumed from epoch 5 —" in line for line in log) == 1  # each view hears of it once
        # train on to the end from there
        await pilot.press("space")
        await settle(pilot)
        assert session.finished and len(session.history["loss"]) == 10
        assert session.history["loss"][:5] == full[:5]


async def test_after_a_divergence_comma_and_enter_save_the_run(make_test_app):
    exp = load_preset("plane-regression")
    exp = exp.replace(train=dataclasses.replace(exp.train, optimizer="sgd", optimizer_args={}, learning_rate=0.01))
    app = make_test_app(exp, epochs=8)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("N", "N", "N")  # three good epochs
        await settle(pilot)
        app.session.set_learning_rate(1e6)
        await pilot.press("space")
        await settle(pilot)
        assert app.session.state == "diverged"
        assert ", goes back" in status_text(app) and "enter resumes" in status_text(app)
        await pilot.press("comma")
        frame = app.replay_frame
        assert frame is not None and all(np.isfinite(w).all() for w in frame.weights.values())
        app.session.set_learning_rate(0.01)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("space")
        await settle(pilot)
        assert app.session.finished
        assert all(np.isfinite(w).all() for w in app.session.model.get_weights())


async def test_ghost_runs_after_reset_and_apply_toggle_with_G(make_test_app):
    app = make_test_app("xor", epochs=3)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("space")
        await settle(pilot)
        first = list(app.session.history["loss"])
        await pilot.press("r")
        await settle(pilot)
        assert [g.history["loss"] for g in app.ghosts] == [first]
        plots = app.screen.query_one(TrainingPlots)
        assert len(plots.ghosts) == 1
        # a changed learning rate names the ghost by what differed
        exp = app.session.experiment
        await pilot.press("space")
        await settle(pilot)
        app.screen._apply_experiment(exp.replace(train=dataclasses.replace(exp.train, learning_rate=0.001)))
        await settle(pilot)
        assert len(app.ghosts) == 2 and app.ghosts[-1].label == f"lr {exp.train.learning_rate:g}"
        assert [label for label, _ in plots.ghosts][-1] == f"lr {exp.train.learning_rate:g}"
        await pilot.press("G")
        assert not app.show_ghosts and plots.ghosts == ()
        await pilot.press("G")
        assert app.show_ghosts and len(plots.ghosts) == 2
        # the finished note and the data view's fit readout compare with the last run
        await pilot.press("space")
        await settle(pilot)
        assert "last run" in status_text(app)
        await pilot.press("4")
        await pilot.pause()
        readout = str(app.screen.query_one("#diagnosis").render())
        last = app.ghosts[-1].history["val_loss"][-1]
        assert f"last run {last:.4g}" in readout and f"val loss {app.live_run.history['val_loss'][-1]:.4g}" in readout


async def test_the_timeline_stays_within_its_frame_budget_on_a_long_run(make_test_app):
    app = make_test_app("xor", epochs=700)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("space")
        await settle(pilot)
        timeline = app.live_run.timeline
        assert len(timeline) <= timeline.max_frames
        epochs = timeline.epochs
        assert epochs[0] == 0 and epochs[-1] == 700
        assert timeline.stride == 4 and epochs[:-1] == list(range(0, 700, 4))[:len(epochs) - 1]


async def test_save_as_preset_with_S_writes_the_experiment_and_the_pace(make_test_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_test_app("xor", epochs=7, pace=20.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("S")
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: (tmp_path / "xor.toml").exists(), what="the preset file")
    saved = load_preset(tmp_path / "xor.toml")
    assert saved.train.epochs == 7 and saved.app.pace == 20.0 and saved.model == app.experiment.model


async def test_enter_resumes_from_a_replay_whatever_has_the_focus_but_a_text_field(make_test_app):
    from textual.widgets import DataTable, Input

    from tuinet.app.screens.layer_editor import LayerEditor

    app = make_test_app("xor", epochs=6)
    async with app.run_test(size=(160, 48)) as pilot:  # side by side: the model table has the focus
        await started(pilot)
        await pilot.press("space")
        await settle(pilot)
        assert isinstance(app.focused, DataTable)
        await pilot.press("enter")  # not replaying: enter is the table's (edit the layer)
        await pilot.pause()
        assert isinstance(app.screen, LayerEditor)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("comma", "comma")
        assert app.replay_epoch == 4
        field = app.screen.query(Input).first()
        field.focus()
        await pilot.press("enter")  # a text field keeps its enter
        await pilot.pause()
        assert app.replay_epoch == 4 and app.session.epoch == 6
        app.screen.query_one(DataTable).focus()
        await pilot.press("enter")  # in a replay, enter resumes from there
        await settle(pilot)
        assert not isinstance(app.screen, LayerEditor)
        assert app.replay_epoch is None and app.session.epoch == 4

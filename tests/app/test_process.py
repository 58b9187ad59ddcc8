"""The app as `tuinet` runs it: training in a child process (`training="process"`).

test_app.py drives every control with the threaded session (quicker to start, patchable);
these tests drive the main ones through the process session and check what the user sees
and that no training process outlives the app.
"""

from __future__ import annotations

import time

import numpy as np

from tuinet import session as s
from tuinet.app.screens.inside import WeightsScreen
from tuinet.app.widgets.heatmap import WeightHeatmap
from tuinet.app.widgets.plots import TrainingPlots
from tuinet.remote import ProcessSession

from .conftest import events, settle, started, status_text, wait_until

LONG = 100_000


async def test_play_to_the_end_in_a_child_process(make_test_app):
    app = make_test_app("xor", epochs=3, training="process")
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await started(pilot)
        session = app.session
        assert isinstance(session, ProcessSession) and session._process.poll() is None
        await pilot.press("space")
        await wait_until(pilot, lambda: events(app, s.Finished), what="the run to finish")
        await settle(pilot)
        assert session.epoch == 3 and session.state == "finished"
        assert [e.epoch for e in events(app, s.EpochEnded)] == [0, 1, 2]
        assert [e.state for e in events(app, s.StateChanged)] == ["running", "finished"]
        assert "✔ finished" in status_text(app) and "epoch 3/3" in status_text(app)
        plots = app.screen.query_one(TrainingPlots)
        assert plots.loss_plot.train_losses == session.history["loss"]
        assert len(plots.batch_plot.losses) == 3 * session.steps_per_epoch
    assert session._process.poll() is not None  # the child ended with the app


async def test_pause_step_and_reset_in_a_child_process(make_test_app):
    app = make_test_app("xor", epochs=LONG, refresh_hz=8, training="process")
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await started(pilot)
        session = app.session
        initial = {k: v.copy() for k, v in session.snapshot().weights.items()}
        await pilot.press("space")
        await wait_until(pilot, lambda: "▶ running" in status_text(app), what="the running state")
        await wait_until(pilot, lambda: session.epoch >= 2, what="two epochs")
        await pilot.press("space")
        await settle(pilot)
        assert session.state == "paused" and "⏸ paused" in status_text(app)
        position = (session.epoch, session.batch)
        await pilot.pause(0.2)
        assert (session.epoch, session.batch) == position
        await pilot.press("n")
        await settle(pilot)
        steps = session.steps_per_epoch
        assert session.epoch * steps + session.batch == position[0] * steps + position[1] + 1
        await pilot.press("r")
        await wait_until(pilot, lambda: session.epoch == 0 and session.batch == 0 and session.history == {},
                         what="the reset")
        await wait_until(pilot, lambda: all(np.array_equal(initial[k], v)
                                            for k, v in session.snapshot().weights.items()),
                         what="the initial weights")
        await wait_until(pilot, lambda: "■ ready" in status_text(app), what="the ready state")


async def test_the_weights_view_shows_the_child_weights_before_training(make_test_app):
    app = make_test_app("xor", epochs=3, training="process")
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("2")
        await pilot.pause()
        assert isinstance(app.screen, WeightsScreen)
        heatmap = app.screen.query_one(WeightHeatmap)
        initial = app.session.snapshot().weights["dense/kernel"]
        np.testing.assert_array_equal(heatmap.matrix, initial)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.session.state == "finished", what="the run to finish")
        await settle(pilot)
        await pilot.pause(0.6)  # the view's redraw throttle
        final = app.session.snapshot().weights["dense/kernel"]
        assert not np.array_equal(final, initial)
        np.testing.assert_allclose(heatmap.matrix, final, rtol=1e-6)


async def test_quit_during_training_ends_the_child_within_half_a_second(make_test_app):
    app = make_test_app("xor", epochs=LONG, refresh_hz=8, training="process")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.session.epoch >= 1, what="an epoch")
        child = app.session._process
        pressed = time.monotonic()
        await pilot.press("q")
    deadline = pressed + 0.5
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert child.poll() is not None, "the training process outlived the app"
    assert app.return_code == 0



async def test_an_inside_view_repaints_the_status_line_at_the_refresh_rate_not_per_epoch(make_test_app):
    from tuinet.app.widgets.status import StatusBar

    app = make_test_app("spiral", epochs=LONG, refresh_hz=2, training="process", view="weights")
    seen: list = []
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await started(pilot)
        status = app.screen.query_one(StatusBar)
        shown: list[int] = []
        app.screen.watch(status, "epoch", lambda value: shown.append(value), init=False)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.session.epoch >= 5, what="some epochs")
        shown.clear()
        epochs_before = len(events(app, s.EpochEnded))
        await pilot.pause(3.0)
        epochs = len(events(app, s.EpochEnded)) - epochs_before
        assert epochs >= 30, f"spiral should finish many epochs a second, got {epochs} in 3 s"
        # the epoch count comes from the epoch-end throttle and from the (throttled) batch
        # progress, each about twice a second: never once per epoch
        assert 1 <= len(shown) <= 15 and len(shown) <= epochs / 2, (len(shown), epochs)
        await pilot.press("space")
        await settle(pilot)
        await pilot.pause(0.1)
        assert status.epoch == app.session.epoch  # the last count is shown once paused

"""The "see inside" views (keys 2-4) inside the real app, and the over/underfitting readout."""

from __future__ import annotations

import numpy as np

from tests.app.conftest import notifications, settle, started, status_text, untrottle_all
from tuinet.app.boundary import grid
from tuinet.app.screens.inside import BoundaryScreen, DataScreen, WeightsScreen
from tuinet.app.screens.main import MainScreen
from tuinet.app.widgets.boundary import DecisionBoundary
from tuinet.app.widgets.confusion import ConfusionMatrixView
from tuinet.app.widgets.dataview import DataSplitView
from tuinet.app.widgets.heatmap import LayerWeightsView, WeightHeatmap
from tuinet.app.widgets.status import EpochLog


async def test_number_keys_switch_views_and_the_subtitle_names_them(make_test_app):
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        for key, kind, name in (("2", WeightsScreen, "weights"), ("3", BoundaryScreen, "boundary"),
                                ("4", DataScreen, "data"), ("1", MainScreen, "train")):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, kind)
            assert f"[{key} {name}]" in app.sub_title
        await pilot.press("2")
        await pilot.press("space")  # training keys work in every view
        await settle(pilot)
        assert app.session.finished
        assert "finished" in status_text(app)


async def test_weights_view_follows_training_and_toggles_kind(make_test_app):
    app = make_test_app("xor", epochs=3)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("2")
        await pilot.pause()
        untrottle_all(app)
        view = app.screen.query_one(LayerWeightsView)
        assert view.selected == "dense/kernel"
        await pilot.press("space")
        await settle(pilot)
        await pilot.pause(0.1)
        heatmap = app.screen.query_one(WeightHeatmap)
        np.testing.assert_allclose(heatmap.matrix if hasattr(heatmap, "matrix") else heatmap._matrix,
                                   app.session.model.layers[0].get_weights()[0], rtol=1e-6)
        assert "(2, 8)" in " ".join(heatmap.text_lines())
        await pilot.press("w")
        await pilot.pause()
        assert view.kind == "grads"


async def test_boundary_view_draws_what_the_model_predicts(make_test_app):
    app = make_test_app("circle", epochs=3)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("space")
        await settle(pilot)
        await pilot.press("3")
        await pilot.pause()
        untrottle_all(app)
        boundary = app.screen.query_one(DecisionBoundary)
        boundary.refresh()
        await pilot.pause(0.2)
        assert boundary.field is not None and boundary.extent is not None
        rows, cols = boundary.field.value.shape
        points = grid(boundary.extent, cols, rows)
        pred = app.session.model.predict(points, verbose=0)[:, 1].reshape(boundary.field.value.shape)
        np.testing.assert_allclose(boundary.field.value, pred, atol=1e-5)
        assert "field P(1)" in boundary.legend_text()


async def test_every_view_shows_the_last_speed_and_the_same_note(make_test_app):
    from tuinet.app.widgets.status import StatusBar

    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("space")
        await settle(pilot)
        speed = app.samples_per_second
        assert speed > 0 and app.screen.query_one(StatusBar).samples_per_second == speed
        note = app.status_message
        assert note.startswith("finished — test accuracy")
        for key in ("3", "4", "2", "1"):  # the first visit to 3 and 4 builds them after the run
            await pilot.press(key)
            await pilot.pause()
            status = app.screen.query_one(StatusBar)
            assert status.samples_per_second == speed and status.message == note, key
            assert note[:20] in str(status.render())
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("r")  # a new model, from another view: no speed yet, and the note goes everywhere
        await settle(pilot)
        assert app.samples_per_second == 0 and app.screen.query_one(StatusBar).samples_per_second == 0
        assert app.status_message == ""
        for key in ("1", "2", "3", "4"):  # every view's status line follows the app's note
            await pilot.press(key)
            await pilot.pause()
            assert app.screen.query_one(StatusBar).message == "", key


async def test_data_view_shows_the_split_and_the_confusion_matrix(make_test_app):
    app = make_test_app("iris", epochs=3)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("space")
        await settle(pilot)
        await pilot.press("4")
        await pilot.pause()
        untrottle_all(app)
        split = app.session.prepared.split
        view = app.screen.query_one(DataSplitView)
        assert view.split is split
        assert f"train {len(split.train)}" in view.sizes_text and f"test {len(split.test)}" in view.sizes_text
        confusion = app.screen.query_one(ConfusionMatrixView)
        assert confusion.matrix is not None and int(confusion.matrix.sum()) == len(split.val)
        p = app.session.prepared
        pred = app.session.model.predict(p.x_val, verbose=0).argmax(1)
        assert int(np.trace(confusion.matrix)) == int(np.sum(pred == p.y_val))


async def test_the_data_view_takes_the_newest_matrix_of_epochs_that_arrive_together(make_test_app):
    # Epochs that end in a row are drawn in one frame; the matrix (computed at most once a
    # second) may ride on any of them, not only the last.
    import dataclasses

    from tuinet import session as s

    app = make_test_app("iris", epochs=3)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("4")
        await pilot.pause()
        untrottle_all(app)
        matrix = np.array([[5, 0, 0], [0, 4, 1], [0, 0, 5]])
        older = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
        events = [s.EpochEnded(epoch=i, epochs=3, logs={"loss": 1.0, "val_loss": 1.0}, seconds=0.1, line="")
                  for i in range(3)]
        events[0] = dataclasses.replace(events[0], confusion=older)
        events[1] = dataclasses.replace(events[1], confusion=matrix)
        for event in events:
            app._dispatch(event, app.session)  # as the session's sink delivers them
        await pilot.pause()
        await pilot.pause(2 / app.refresh_hz)  # a tick of the frame clock
        confusion = app.screen.query_one(ConfusionMatrixView)
        assert confusion.matrix is not None and confusion.matrix.tolist() == matrix.tolist()


async def test_resplit_from_the_data_view_rebuilds_the_session(make_test_app):
    app = make_test_app("iris", epochs=2)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("4")
        await pilot.pause()
        view = app.screen.query_one(DataSplitView)
        view.post_message(DataSplitView.ResplitRequested((0.8, 0.1, 0.1), 7))
        await pilot.pause()
        await pilot.pause()
        assert app.session.experiment.data.split == (0.8, 0.1, 0.1)
        assert app.session.experiment.data.seed == 7
        assert len(app.session.prepared.x_train) == 120


async def test_overfitting_is_said_where_the_user_looks(make_test_app):
    app = make_test_app("overfitting", epochs=60)
    seen = []
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await started(pilot)
        await pilot.press("space")
        await settle(pilot)
        assert any(n.title == "Overfitting" for n in notifications(seen))
        log = "\n".join(app.screen.query_one(EpochLog).lines)
        assert "⚠ Overfitting" in log and "⚠ Overfitting: Overfitting" not in log and "dropout" in log.lower()


async def test_a_slow_start_is_not_called_underfitting_during_the_first_third_of_a_run(make_test_app):
    app = make_test_app("spiral", epochs=200)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        screen = app.screen
        run = app.live_run
        flat = {"loss": [0.69] * 30, "val_loss": [0.69] * 30, "accuracy": [0.5] * 30, "val_accuracy": [0.5] * 30}
        from tuinet.run import EpochHistory

        run.history, run.state = EpochHistory(flat), "running"  # a plateau: 30 of 200 epochs, still at chance
        screen._readout(force=True)
        assert "underfitting" not in app.status_message
        run.state = "finished"  # the run is over and never left the plateau: that is news
        screen._readout(force=True)
        assert app.status_message == "underfitting: see the log or view 4"

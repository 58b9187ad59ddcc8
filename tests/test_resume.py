"""Resuming a saved run (issue 12, part 6): `tuinet train PRESET --resume MODEL`, the session's
`load_weights_from`, and ctrl+l in the app continue from the saved epoch, with the saved
optimizer state, history and randomness, bit for bit against a run that never stopped."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tuinet
from tests.app.conftest import events, make_test_app, settle, started, status_text, wait_until  # noqa: F401 - a fixture
from tests.nn.test_model_files import header_of, members, pack, with_header
from tests.test_cli import assert_user_error, json_lines, run
from tuinet import session as s
from tuinet.errors import ModelFileError, TuinetError
from tuinet.nn.serialization import MAX_RUN_POINTS
from tuinet.presets import load_preset
from tuinet.run import HISTORY_POINTS, EpochHistory

DROPOUT = """\
title = "Iris with dropout"

[data]
source = "iris"
seed = 0
split = [0.6, 0.2, 0.2]
scaling = "standard"

[model]
seed = 0
layers = [
  { type = "Dense", units = 16, activation = "relu" },
  { type = "Dropout", rate = 0.3 },
  { type = "Dense", units = %d, activation = "softmax" },
]

[train]
optimizer = "adam"
learning_rate = 0.01
loss = "sparse_categorical_crossentropy"
metrics = ["accuracy"]
batch_size = 8
epochs = 6
"""


def iris(epochs: int):
    return load_preset("iris").with_overrides(seed=0, epochs=epochs)


def dropout_preset(tmp_path, outputs: int = 3):
    path = tmp_path / f"dropout{outputs}.toml"
    path.write_text(DROPOUT % outputs)
    return path


def same_weights(a, b) -> bool:
    return len(a) == len(b) and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b))


def same_history(a, b) -> bool:
    """Equal lists of floats, NaN equal to NaN."""
    return dict(a).keys() == dict(b).keys() and all(
        np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True) for k in a)


def optimizer_state(model) -> dict:
    return model.optimizer.get_state()


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def uninterrupted(exp) -> s.TrainingSession:
    session = s.TrainingSession(exp)
    assert session.run()
    return session


# ---------------------------------------------------------------------- the command
def test_resume_continues_epochs_and_optimizer_state_bit_for_bit(tmp_path):
    full, half, resumed = tmp_path / "full.tuinet", tmp_path / "half.tuinet", tmp_path / "resumed.tuinet"
    straight = run("train", "iris", "--epochs", "6", "--seed", "0", "--json", "--out", full)
    assert straight.exit_code == 0, straight.output
    assert run("train", "iris", "--epochs", "3", "--seed", "0", "--out", half).exit_code == 0
    again = run("train", "iris", "--epochs", "6", "--seed", "0", "--json", "--resume", half, "--out", resumed)
    assert again.exit_code == 0, again.output

    def epochs(result) -> list[dict]:
        return [{k: v for k, v in line.items() if k != "seconds"} for line in json_lines(result.stdout)]

    assert [line.get("epoch") for line in epochs(again)] == [4, 5, 6, None]
    assert epochs(again) == epochs(straight)[3:]  # the same numbers, test split included
    a, b = tuinet.load_model(full), tuinet.load_model(resumed)
    assert same_weights(a.get_weights(), b.get_weights())
    assert same_state(optimizer_state(a), optimizer_state(b))
    assert int(optimizer_state(b)["iterations"]) == 6 * 12
    assert a.metadata["run"] == b.metadata["run"]  # epochs done, history, randomness
    assert b.metadata["run"]["epochs_done"] == 6 and b.metadata["run"]["history"]["epochs"] == [1, 2, 3, 4, 5, 6]


def test_resume_prints_the_later_epochs(tmp_path):
    half = tmp_path / "m.tuinet"
    assert run("train", "iris", "--epochs", "3", "--out", half).exit_code == 0
    result = run("train", "iris", "--epochs", "6", "--resume", half)
    assert result.exit_code == 0, result.output
    headers = [line for line in result.stdout.splitlines() if line.startswith("Epoch ")]
    assert headers == ["Epoch 4/6", "Epoch 5/6", "Epoch 6/6"]
    assert result.stdout.startswith("Epoch 4/6\n") and "Test (30 samples)" in result.stdout
    assert "Model saved" not in result.stdout  # --resume alone saves nothing
    assert tuinet.load_model(half).metadata["run"]["epochs_done"] == 3


def test_a_model_that_does_not_fit_the_preset_is_one_line(tmp_path):
    model = tmp_path / "m.tuinet"
    assert run("train", "iris", "--epochs", "1", "--out", model).exit_code == 0
    assert_user_error(run("train", "moons", "--resume", model),
                      f"{model}: the model takes inputs of shape (4,), the preset's data (moons) has (2,)")
    assert_user_error(run("train", "plane-regression", "--resume", model), f"{model}: the model takes inputs")
    four = tmp_path / "four.tuinet"  # iris inputs, four outputs
    assert run("train", dropout_preset(tmp_path, 4), "--epochs", "1", "--out", four).exit_code == 0
    assert_user_error(run("train", "iris", "--resume", four),
                      f"{four}: the model gives outputs of shape (4,), the preset's data (iris, 3 classes) needs (3,)")
    assert_user_error(run("train", "iris", "--resume", tmp_path / "gone.tuinet"), "gone.tuinet: file not found")


def test_a_model_with_the_epochs_done_already_is_one_line(tmp_path):
    model = tmp_path / "m.tuinet"
    assert run("train", "iris", "--epochs", "3", "--out", model).exit_code == 0
    for epochs in ("3", "2"):
        assert_user_error(run("train", "iris", "--epochs", epochs, "--resume", model),
                          f"{model} already has 3 epochs, and {epochs} were asked for; ask for more with "
                          "--epochs N (N > 3)")


def test_resume_a_file_the_app_saved_mid_run(tmp_path):
    """The session saves between epochs (the app's ctrl+s while paused): the command goes on
    from there, and ends where a run that never paused ends."""
    session = s.TrainingSession(iris(5))
    session.run(until_epoch=2)
    assert session.state == "paused"
    saved = tmp_path / "app.tuinet"
    session.save_model(saved).result()
    out = tmp_path / "out.tuinet"
    result = run("train", "iris", "--epochs", "5", "--seed", "0", "--resume", saved, "--out", out)
    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines() if line.startswith("Epoch ")] == \
        ["Epoch 3/5", "Epoch 4/5", "Epoch 5/5"]
    straight = uninterrupted(iris(5))
    assert same_weights(straight.model.get_weights(), tuinet.load_model(out).get_weights())


def test_a_model_file_without_a_run_starts_at_epoch_one(tmp_path):
    """A model saved by `model.save` (the library) has no run: its weights and optimizer go on,
    the epochs count from 1."""
    session = uninterrupted(iris(2))
    plain = tmp_path / "plain.tuinet"
    session.model.metadata = {}
    session.model.save(plain)
    result = run("train", "iris", "--epochs", "2", "--resume", plain)
    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines() if line.startswith("Epoch ")] == ["Epoch 1/2", "Epoch 2/2"]


def test_the_help_documents_resume():
    result = run("train", "--help")
    assert "--resume MODEL" in result.stdout and "optimizer state" in result.stdout


# ---------------------------------------------------------------------- the session
def test_the_session_resumes_dropout_and_shuffling_bit_for_bit(tmp_path):
    preset = dropout_preset(tmp_path)
    exp = load_preset(preset)
    straight = uninterrupted(exp)
    first = s.TrainingSession(exp)
    first.run(until_epoch=3)
    path = tmp_path / "three.tuinet"
    first.save_model(path).result()
    seen: list = []
    second = s.TrainingSession(exp, sink=seen.append)
    second.load_weights_from(path).result()
    assert (second.epoch, second.batch, second.state) == (3, 0, "paused")
    ready = [e for e in seen if isinstance(e, s.SessionReady)]
    assert len(ready) == 1 and ready[0].resumed and ready[0].start_epoch == 3
    assert ready[0].history.epochs == [1, 2, 3] and same_history(ready[0].history, first.history)
    assert second.run()
    assert [e.epoch for e in seen if isinstance(e, s.EpochEnded)] == [3, 4, 5]
    assert same_weights(straight.model.get_weights(), second.model.get_weights())
    assert same_state(optimizer_state(straight.model), optimizer_state(second.model))
    assert same_history(straight.history, second.history) and second.history.epochs == [1, 2, 3, 4, 5, 6]
    assert straight.test_results == second.test_results
    assert straight.model.random_state() == second.model.random_state()


def test_loading_a_finished_run_shows_it_finished(tmp_path):
    path = tmp_path / "six.tuinet"
    uninterrupted(iris(6)).save_model(path).result()
    seen: list = []
    session = s.TrainingSession(iris(6), sink=seen.append)
    session.load_weights_from(path).result()
    assert session.state == "finished" and session.finished and session.epoch == 6
    assert session.run() is False and not [e for e in seen if isinstance(e, s.EpochEnded)]


def test_a_file_that_does_not_fit_changes_nothing(tmp_path):
    path = tmp_path / "iris.tuinet"
    uninterrupted(iris(1)).save_model(path).result()
    session = s.TrainingSession(load_preset("moons").with_overrides(seed=0, epochs=2))
    session.run_epoch()
    before, history = session.model.get_weights(), session.history.copy()
    with pytest.raises(ModelFileError, match=r"iris.tuinet: the model takes inputs of shape \(4,\)"):
        session.load_weights_from(path).result()
    assert same_weights(before, session.model.get_weights()) and session.epoch == 1
    assert same_history(history, session.history)


def test_the_history_round_trips_through_json_with_nan():
    history = EpochHistory()
    for i in range(5):
        history.append({"loss": 1.0 / (i + 1), **({"val_loss": float("nan")} if i == 2 else {"val_loss": 0.5})})
    record = json.loads(json.dumps(history.to_record(), allow_nan=False))  # strict JSON: NaN is null
    assert record["values"]["val_loss"][2] is None
    back = EpochHistory.from_record(record)
    assert back.epochs == history.epochs and back.count == 5 and same_history(back, history)
    assert HISTORY_POINTS == MAX_RUN_POINTS  # what the session keeps is what a file may hold


# ---------------------------------------------------------------------- the file's run record
@pytest.fixture(scope="module")
def resumable(tmp_path_factory):
    path = tmp_path_factory.mktemp("resume") / "m.tuinet"
    session = s.TrainingSession(iris(2))
    session.run()
    session.save_model(path).result()
    return path.read_bytes()


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda run: run.pop("random"), "metadata.run: expected null or an object with epochs_done"),
    (lambda run: run.update(epochs_done=-1), "metadata.run.epochs_done: expected a non-negative integer"),
    (lambda run: run["history"].update(count=3), "metadata.run.history.count: expected an integer from 0"),
    (lambda run: run["history"].update(epochs=[2, 1]), "metadata.run.history.epochs: expected at most 4096"),
    (lambda run: run["history"]["values"]["loss"].pop(), "metadata.run.history.values.loss: expected 2 finite"),
    (lambda run: run["history"]["values"].update(loss=["x", 1.0]), "metadata.run.history.values.loss"),
    (lambda run: run["random"]["shuffle"].update(bit_generator="MT19937"), "metadata.run.random.shuffle"),
    (lambda run: run["random"]["shuffle"]["state"].update(inc=-1), "metadata.run.random.shuffle.state"),
    (lambda run: run["random"]["layers"].append(None), "metadata.run.random.layers: expected 2 states"),
])
def test_a_damaged_run_record_is_refused(resumable, tmp_path, edit, fragment):
    items = members(resumable)
    header = header_of(items)
    edit(header["metadata"]["run"])
    path = tmp_path / "edited.tuinet"
    path.write_bytes(pack(with_header(items, header)))  # re-signed: only the validator can catch it
    with pytest.raises(ModelFileError) as info:
        tuinet.load_model(path)
    message = str(info.value)
    assert fragment in message and "\n" not in message


# ---------------------------------------------------------------------- the app (ctrl+l)
@pytest.mark.parametrize("training", ["thread", "process"])
async def test_the_app_continues_a_loaded_run(make_test_app, tmp_path, training):
    path = tmp_path / "three.tuinet"
    first = s.TrainingSession(iris(6))
    first.run(until_epoch=3)
    first.save_model(path).result()
    straight = uninterrupted(iris(6))

    app = make_test_app("iris", epochs=6, training=training)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        session = app.session
        notes: list = []
        app.notify = lambda message, **kw: notes.append(message)
        app.when_done(session.load_weights_from(str(path)), app._loaded)
        await wait_until(pilot, lambda: notes, what="the load")
        assert notes[-1] == f"Model loaded from {path}: 3 of 6 epochs done"
        await wait_until(pilot, lambda: "epoch 3/6" in status_text(app), what="epoch 3/6")
        await settle(pilot)
        assert "⏸ paused" in status_text(app)
        run_ = app.live_run
        assert run_.start_epoch == 3 and run_.resumed and run_.epoch == 3
        plots = app.screen.query_one("TrainingPlots")
        assert plots.loss_plot.train_losses == first.history["loss"]  # the saved epochs, drawn
        assert run_.timeline.epochs == [3]  # the frames start afresh with the loaded model
        await pilot.press("space")
        await wait_until(pilot, lambda: events(app, s.Finished), what="the run to finish")
        await settle(pilot)
        assert [e.epoch for e in events(app, s.EpochEnded)] == [3, 4, 5]
        assert "✔ finished" in status_text(app) and "epoch 6/6" in status_text(app)
        assert plots.loss_plot.train_losses == straight.history["loss"]
        weights = session.snapshot().weights
        for layer in straight.model.layers:
            for name in layer.weight_names:
                np.testing.assert_array_equal(weights[f"{layer.name}/{name}"], layer.weight(name))


async def test_the_app_shows_a_loaded_finished_run_finished(make_test_app, tmp_path):
    path = tmp_path / "six.tuinet"
    uninterrupted(iris(6)).save_model(path).result()
    app = make_test_app("iris", epochs=6)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        notes: list = []
        app.notify = lambda message, **kw: notes.append(message)
        app.when_done(app.session.load_weights_from(str(path)), app._loaded)
        await wait_until(pilot, lambda: "✔ finished" in status_text(app), what="the finished state")
        assert "epoch 6/6" in status_text(app) and len(app.live_run.history["loss"]) == 6
        loaded = (f"Model loaded from {path}: 6 of 6 epochs done (finished: raise the epochs in the training "
                  "settings to train on)")
        await wait_until(pilot, lambda: loaded in notes, what="the note")
        await pilot.press("space")
        await pilot.pause()
        assert any("Training is finished" in str(n) for n in notes) and app.run_state == "finished"


async def test_the_app_refuses_a_model_for_other_data(make_test_app, tmp_path):
    path = tmp_path / "iris.tuinet"
    uninterrupted(iris(1)).save_model(path).result()
    app = make_test_app("moons", epochs=3)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        seen: list = []
        app.notify = lambda message, **kw: seen.append((kw.get("title", ""), message))
        app.when_done(app.session.load_weights_from(str(path)), app._loaded)
        await wait_until(pilot, lambda: seen, what="a message")
        assert seen[-1] == ("Load failed", f"{path}: the model takes inputs of shape (4,), the preset's data "
                                           "(moons) has (2,)")
        assert app.live_run.epoch == 0 and app.session.experiment.name == "moons"


def test_errors_are_tuinet_errors():
    assert issubclass(ModelFileError, TuinetError)

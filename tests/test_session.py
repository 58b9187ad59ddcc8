"""TrainingSession: stepping, pausing, resetting and live changes, from one thread and from two."""

from __future__ import annotations

import dataclasses
import math
import threading
import time

import numpy as np
import pytest

from tuinet import session as s
from tuinet.errors import TuinetError
from tuinet.presets import load_preset, parse_preset

XOR = load_preset("xor")


def make(exp=XOR, **kw):
    events = []
    session = s.TrainingSession(exp, sink=events.append, **kw)
    return session, events


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_step_batch_advances_exactly_one_batch():
    session, events = make()
    before = session.model.get_weights()
    assert session.step_batch()
    assert session.epoch == 0 and session.batch == 1
    batches = of(events, s.BatchEnded)
    assert len(batches) == 1 and batches[0].batch == 1 and batches[0].epoch == 0
    assert batches[0].steps == session.steps_per_epoch == math.ceil(350 / 10)
    assert any(not np.array_equal(a, b) for a, b in zip(before, session.model.get_weights()))
    assert session.state == "paused"


def test_last_step_of_an_epoch_ends_it():
    session, events = make()
    for _ in range(session.steps_per_epoch):
        session.step_batch()
    ended = of(events, s.EpochEnded)
    assert len(ended) == 1 and ended[0].epoch == 0
    assert set(ended[0].logs) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert ended[0].line.startswith(f"{session.steps_per_epoch}/{session.steps_per_epoch} - ")
    assert session.epoch == 1 and session.batch == 0


def test_run_epoch_then_run_to_the_end():
    session, events = make(XOR.with_overrides(epochs=3))
    assert session.run_epoch()
    assert session.epoch == 1 and session.state == "paused"
    assert session.run()
    assert session.finished and session.state == "finished"
    finished = of(events, s.Finished)
    assert len(finished) == 1 and set(finished[0].test) == {"test_loss", "test_accuracy"}
    assert [e.epoch for e in of(events, s.EpochEnded)] == [0, 1, 2]
    assert len(session.history["loss"]) == 3
    assert not session.run() and not session.step_batch()  # nothing left to do
    states = [e.state for e in of(events, s.StateChanged)]
    assert states[-1] == "finished" and "running" in states


def test_results_match_the_history_and_test_split():
    session, _ = make(XOR.with_overrides(epochs=2))
    session.run()
    r = session.results()
    assert r["train_loss"] == session.history["loss"][-1]
    assert r["val_accuracy"] == session.history["val_accuracy"][-1]
    p = session.prepared
    pred = session.model.predict(p.x_test, verbose=0).argmax(1)
    assert r["test_accuracy"] == pytest.approx(np.mean(pred == p.y_test))


def test_pause_from_another_thread_stops_after_the_current_batch_and_resume_continues():
    session, events = make(XOR.with_overrides(epochs=10_000))
    worker = threading.Thread(target=session.run)
    worker.start()
    deadline = time.time() + 5
    while not of(events, s.BatchEnded) and time.time() < deadline:
        time.sleep(0.005)
    t0 = time.perf_counter()
    session.pause()
    worker.join(timeout=2)
    assert not worker.is_alive() and time.perf_counter() - t0 < 0.5
    assert session.state == "paused"
    done = session.epoch * session.steps_per_epoch + session.batch
    assert done > 0
    session.step_batch()
    assert session.epoch * session.steps_per_epoch + session.batch == done + 1
    worker = threading.Thread(target=session.run)
    worker.start()
    time.sleep(0.05)
    session.stop()
    worker.join(timeout=2)
    assert not worker.is_alive() and session.state == "stopped"
    assert session.epoch * session.steps_per_epoch + session.batch > done + 1


def test_reset_restores_the_initial_weights_and_clears_history():
    session, events = make()
    initial = session.model.get_weights()
    session.run_epoch()
    session.reset()
    for a, b in zip(initial, session.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert session.epoch == 0 and session.batch == 0 and session.history == {}
    assert session.model.optimizer.iterations == 0
    assert isinstance(events[-1], s.WeightSnapshot) and of(events, s.SessionReady)


def test_same_preset_same_weights_after_training():
    a, _ = make(XOR.with_overrides(epochs=2))
    b, _ = make(XOR.with_overrides(epochs=2))
    a.run()
    b.run()
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        assert wa.tobytes() == wb.tobytes()


def test_learning_rate_changes_mid_run_take_effect_at_the_next_batch():
    session, events = make(XOR.with_overrides(epochs=10_000), batch_event_interval=0.0)
    worker = threading.Thread(target=session.run)
    worker.start()
    while len(of(events, s.BatchEnded)) < 3:
        time.sleep(0.002)
    session.set_learning_rate(0.5)
    time.sleep(0.1)
    session.stop()
    worker.join(timeout=2)
    lrs = [e.learning_rate for e in of(events, s.BatchEnded)]
    assert lrs[0] == pytest.approx(0.03) and lrs[-1] == pytest.approx(0.5)
    with pytest.raises(TuinetError, match="positive number"):
        session.set_learning_rate(-1)


def test_apply_a_new_architecture_rebuilds_and_a_bad_one_changes_nothing():
    session, events = make()
    session.run_epoch()
    wider = XOR.replace(model=dataclasses.replace(XOR.model, layers=(
        {"type": "Dense", "units": 32, "activation": "relu"}, {"type": "Dense", "units": 2, "activation": "softmax"})))
    session.apply(wider)
    assert session.model.count_params() == 2 * 32 + 32 + 32 * 2 + 2
    assert session.epoch == 0 and "32" in of(events, s.SessionReady)[-1].summary
    bad = XOR.replace(model=dataclasses.replace(XOR.model, layers=({"type": "Conv2D", "filters": 4, "kernel_size": 3},)))
    with pytest.raises(TuinetError, match="does not fit the data"):
        session.apply(bad)
    assert session.model.count_params() == 2 * 32 + 32 + 32 * 2 + 2
    assert session.experiment is wider
    session.step_batch()  # still trains


def test_divergence_pauses_with_a_message_and_keeps_finite_weights():
    # A regression: with a softmax output the clipped cross-entropy (as Keras's) stops a huge
    # learning rate at saturation instead of letting it diverge.
    exp = load_preset("plane-regression")
    exp = exp.replace(train=dataclasses.replace(exp.train, learning_rate=1e9, optimizer="sgd", optimizer_args={}))
    session, events = make(exp)
    session.run()
    assert session.state == "diverged"
    d = of(events, s.Diverged)
    assert len(d) == 1 and "lower learning rate" in d[0].message and f"batch {d[0].batch}" in d[0].message
    assert all(np.isfinite(w).all() for w in session.model.get_weights())
    assert session.last_message == d[0].message


def test_snapshots_are_copies_and_rate_limited():
    session, events = make(XOR.with_overrides(epochs=3), snapshot_interval=math.inf)
    session.run()
    snaps = of(events, s.WeightSnapshot)
    assert len(snaps) == 1  # only the final one: the interval never elapsed
    snap = session.snapshot()
    assert set(snap.weights) == {"dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias", "dense_2/kernel",
                                 "dense_2/bias"}
    snap.weights["dense/kernel"][...] = 123.0
    assert not np.any(session.model.layers[0].get_weights()[0] == 123.0)
    assert dataclasses.is_dataclass(snap)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.epoch = 5


def test_snapshot_reports_gradients_and_update_sizes():
    session, _ = make()
    session.step_batch()
    first = session.snapshot()
    session.step_batch()
    second = session.snapshot()
    key = "dense/kernel"
    np.testing.assert_allclose(second.updates[key], second.weights[key] - first.weights[key])
    assert second.grads[key].shape == second.weights[key].shape and np.any(second.grads[key] != 0)


def test_memory_stays_bounded_over_many_batches():
    session, events = make(XOR.with_overrides(epochs=200), batch_event_interval=math.inf,
                           snapshot_interval=math.inf)
    events.clear()
    session.sink = lambda e: None
    session.run()
    assert len(session.batch_losses) == min(200 * session.steps_per_epoch, s.BATCH_HISTORY)
    assert len(session.history["loss"]) == 200


def test_one_hot_targets_for_categorical_crossentropy():
    exp = load_preset("iris")
    exp = exp.replace(train=dataclasses.replace(exp.train, loss="categorical_crossentropy"))
    session, _ = make(exp)
    assert session.prepared.y_train.shape == (len(session.prepared.x_train), 3)
    session.run_epoch()


def test_autoencoder_targets_are_the_scaled_inputs():
    session, _ = make(load_preset("autoencoder"))
    p = session.prepared
    np.testing.assert_array_equal(p.y_train, p.x_train)
    assert p.x_train.min() >= 0 and p.x_train.max() <= 1


def test_scaling_is_fitted_on_the_training_split_only():
    session, _ = make(load_preset("wine"))
    p = session.prepared
    np.testing.assert_allclose(p.x_train.mean(0), 0, atol=1e-5)
    assert not np.allclose(p.x_test.mean(0), 0, atol=1e-3)


def test_a_model_that_does_not_fit_the_data_is_a_clear_error(tmp_path):
    text = """
[data]
source = "iris"
[model]
layers = [ { type = "Conv2D", filters = 4, kernel_size = 3 } ]
[train]
loss = "sparse_categorical_crossentropy"
"""
    exp = parse_preset(text, label="bad.toml")
    with pytest.raises(TuinetError, match=r"bad.toml: the model does not fit the data \(iris, inputs \(4,\)\)"):
        s.TrainingSession(exp)


def test_session_runs_from_a_worker_thread_while_the_caller_reads_snapshots():
    session, events = make(XOR.with_overrides(epochs=20), snapshot_interval=0.0)
    worker = threading.Thread(target=session.run)
    worker.start()
    seen = 0
    while worker.is_alive():
        snap = session.last_snapshot
        if snap is not None:
            assert all(np.isfinite(v).all() for v in snap.weights.values())
            seen += 1
        time.sleep(0.001)
    worker.join()
    assert session.state == "finished" and seen > 0


def test_confusion_matrix_each_epoch_matches_the_validation_predictions():
    session, events = make(load_preset("iris").with_overrides(epochs=2), track_confusion=True)
    session.run()
    cms = [e.confusion for e in of(events, s.EpochEnded)]
    assert len(cms) == 2 and all(cm is not None and cm.shape == (3, 3) for cm in cms)
    p = session.prepared
    pred = session.model.predict(p.x_val, verbose=0).argmax(1)
    expected = np.zeros((3, 3), dtype=np.int64)
    np.add.at(expected, (p.y_val.astype(int), pred), 1)
    np.testing.assert_array_equal(cms[-1], expected)
    assert session.confusion_split()[0] == "validation"
    reg, reg_events = make(load_preset("plane-regression").with_overrides(epochs=1), track_confusion=True)
    reg.run()
    assert of(reg_events, s.EpochEnded)[0].confusion is None

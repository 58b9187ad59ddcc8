"""`ProcessSession` (training in a child process) against the threaded `TrainingSession`.

The app runs the process session; these tests hold it to the threaded one's behaviour: the
same events in the same order, the same history, losses and weights bit for bit, and every
control (pause, step, reset, apply, live learning rate, save, load) with the same effect.
Plus what only a process can do wrong: a child that dies, and a child left behind.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from tuinet import session as s
from tuinet.errors import ConfigError, ModelFileError, TuinetError
from tuinet.presets import load_preset
from tuinet.remote import ProcessSession


def xor(epochs: int = 3, **overrides):
    return load_preset("xor").with_overrides(seed=0, epochs=epochs, **overrides)


class Recorder:
    """A thread-safe sink that can wait for an event."""

    def __init__(self) -> None:
        self.events: list = []
        self.cond = threading.Condition()

    def __call__(self, event) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, predicate, timeout: float = 20.0, what: str = "an event"):
        with self.cond:
            if not self.cond.wait_for(lambda: any(predicate(e) for e in self.events), timeout):
                raise AssertionError(f"timed out waiting for {what}; got {[type(e).__name__ for e in self.events]}")
            return next(e for e in self.events if predicate(e))

    def of(self, kind) -> list:
        with self.cond:
            return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def remote():
    made: list[ProcessSession] = []

    def factory(experiment, **kwargs) -> tuple[ProcessSession, Recorder]:
        rec = Recorder()
        session = ProcessSession(experiment, sink=rec, **kwargs)
        made.append(session)
        return session, rec

    yield factory
    for session in made:
        session.close()
        assert session._process.poll() is not None, "a training process was left behind"


def snapshot_weights(session) -> dict:
    return {k: v.copy() for k, v in session.snapshot().weights.items()}


def test_a_run_matches_the_threaded_session_bit_for_bit(remote):
    exp = xor(epochs=4)
    ps, rec = remote(exp, track_confusion=True)
    local_events: list = []
    ts = s.TrainingSession(exp, sink=local_events.append, track_confusion=True)
    assert ps.run() is True and ts.run() is True
    assert ps.state == ts.state == "finished"
    assert (ps.epoch, ps.batch, ps.finished) == (ts.epoch, ts.batch, True)
    assert ps.history == ts.history
    assert ps.batch_loss_history() == ts.batch_loss_history()
    assert len(ps.batch_loss_history()) == 4 * ts.steps_per_epoch
    assert ps.results() == ts.results() and ps.test_results == ts.test_results
    for key, value in ts.last_snapshot.weights.items():
        np.testing.assert_array_equal(ps.last_snapshot.weights[key], value)
    # the same kinds of event in the same order (batch events are time-throttled: drop them)
    kinds = [type(e).__name__ for e in rec.events if not isinstance(e, (s.BatchEnded, s.WeightSnapshot))]
    local = [type(e).__name__ for e in local_events if not isinstance(e, (s.BatchEnded, s.WeightSnapshot))]
    assert kinds == local
    remote_epochs = rec.of(s.EpochEnded)
    local_epochs = [e for e in local_events if isinstance(e, s.EpochEnded)]
    assert [e.logs for e in remote_epochs] == [e.logs for e in local_epochs]
    np.testing.assert_array_equal(remote_epochs[-1].confusion, local_epochs[-1].confusion)
    assert rec.of(s.Finished)[0].test == ts.test_results


def test_step_batch_and_run_epoch_advance_exactly(remote):
    ps, rec = remote(xor(epochs=5))
    steps = ps.steps_per_epoch
    assert ps.step_batch() is True
    assert (ps.epoch, ps.batch, ps.state) == (0, 1, "paused")
    assert len(ps.batch_loss_history()) == 1
    assert ps.run_epoch() is True
    assert (ps.epoch, ps.batch) == (1, 0)
    assert len(ps.batch_loss_history()) == steps
    assert [e.epoch for e in rec.of(s.EpochEnded)] == [0]
    assert ps.last_snapshot.epoch == 1 and ps.last_snapshot.batch == 0


def test_pause_stops_a_long_run_and_run_resumes(remote):
    ps, rec = remote(xor(epochs=100_000))
    result: list = []
    worker = threading.Thread(target=lambda: result.append(ps.run()))
    worker.start()
    rec.wait_for(lambda e: isinstance(e, s.EpochEnded) and e.epoch >= 2, what="three epochs")
    ps.pause()
    worker.join(10)
    assert not worker.is_alive() and result == [False]
    assert ps.state == "paused"
    position = (ps.epoch, ps.batch)
    time.sleep(0.2)
    assert (ps.epoch, ps.batch) == position  # nothing trains while paused
    assert ps.step_batch() is True
    expected = (position[0], position[1] + 1) if position[1] + 1 < ps.steps_per_epoch else (position[0] + 1, 0)
    assert (ps.epoch, ps.batch) == expected


def test_a_pause_sent_right_after_run_cancels_it(remote):
    ps, rec = remote(xor(epochs=100_000))
    ps._send("run", None)
    ps.pause()
    assert ps.step_batch() is True  # answered after the cancelled run
    assert (ps.epoch, ps.batch) == (0, 1)


def test_reset_restores_the_initial_weights(remote):
    ps, rec = remote(xor(epochs=3))
    initial = snapshot_weights(ps)
    ps.run()
    assert any(not np.array_equal(initial[k], v) for k, v in ps.last_snapshot.weights.items())
    ps.reset()
    rec.wait_for(lambda e: isinstance(e, s.SessionReady), what="SessionReady after reset")
    rec.wait_for(lambda e: isinstance(e, s.WeightSnapshot) and e.epoch == 0 and e.batch == 0
                 and all(np.array_equal(initial[k], v) for k, v in e.weights.items()), what="the initial weights")
    assert ps.state == "ready" and (ps.epoch, ps.batch) == (0, 0)
    assert ps.history == {} and ps.batch_loss_history() == [] and ps.test_results == {}


def test_apply_validates_at_once_and_rebuilds_the_child(remote):
    exp = xor(epochs=2)
    ps, rec = remote(exp)
    bad_layers = list(exp.model.layers)
    bad_layers[0] = {**bad_layers[0], "units": 0}
    with pytest.raises(TuinetError):
        ps.apply(exp.replace(model=dataclasses.replace(exp.model, layers=tuple(bad_layers))))
    assert ps.experiment is exp  # nothing changed
    wide = list(exp.model.layers)
    wide[0] = {**wide[0], "units": 12}
    new = exp.replace(model=dataclasses.replace(exp.model, layers=tuple(wide)))
    ps.apply(new)
    assert ps.experiment == new
    ready = rec.wait_for(lambda e: isinstance(e, s.SessionReady), what="SessionReady after apply")
    assert ready.params == ps.model.count_params()
    kernel = next(k for k in ps.model.layers[0].weight_names if k == "kernel")
    assert ps.model.layers[0].weight(kernel).shape[1] == 12
    assert ps.run() is True
    first = f"{ps.model.layers[0].name}/kernel"
    assert ps.last_snapshot.weights[first].shape[1] == 12  # the child trained the new model


def test_live_learning_rate_and_replace_experiment_reach_the_child(remote):
    exp = xor(epochs=100_000)
    ps, rec = remote(exp)
    ps.set_learning_rate(0.5)
    with pytest.raises(ConfigError):
        ps.set_learning_rate(-1)
    ps.step_batch()
    assert rec.of(s.BatchEnded)[-1].learning_rate == pytest.approx(0.5)
    ps.replace_experiment(exp.replace(train=dataclasses.replace(exp.train, learning_rate=0.25)))
    ps.reset()
    rec.wait_for(lambda e: isinstance(e, s.SessionReady), what="SessionReady")
    ps.step_batch()
    assert rec.of(s.BatchEnded)[-1].learning_rate == pytest.approx(0.25)


def test_save_and_load_go_through_the_child(remote, tmp_path):
    ps, rec = remote(xor(epochs=2))
    ps.run()
    trained = snapshot_weights(ps)
    path = tmp_path / "xor.tuinet"
    assert ps.save_model(path).result(10) == str(path)
    ps.reset()
    rec.wait_for(lambda e: isinstance(e, s.SessionReady))
    assert ps.load_weights_from(path).result(10) == str(path)
    for key, value in trained.items():
        np.testing.assert_array_equal(ps.last_snapshot.weights[key], value)
    bad = tmp_path / "broken.tuinet"
    bad.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="broken.tuinet"):
        ps.load_weights_from(bad).result(10)
    with pytest.raises(ModelFileError, match="does not exist"):
        ps.save_model(tmp_path / "missing" / "x.tuinet").result(10)


def test_divergence_is_reported_like_the_threaded_session(remote):
    exp = load_preset("plane-regression").with_overrides(seed=0, epochs=5)
    exp = exp.replace(train=dataclasses.replace(exp.train, optimizer="sgd", optimizer_args={}, learning_rate=1e6))
    ps, rec = remote(exp)
    assert ps.run() is False
    assert ps.state == "diverged"
    diverged = rec.of(s.Diverged)
    assert len(diverged) == 1 and "loss" in diverged[0].message
    assert ps.last_message == diverged[0].message
    assert all(np.isfinite(v).all() for v in ps.last_snapshot.weights.values())


def test_a_child_that_dies_is_reported_and_reset_starts_a_new_one(remote):
    ps, rec = remote(xor(epochs=100_000))
    first = ps._process
    first.kill()
    failed = rec.wait_for(lambda e: isinstance(e, s.Failed), what="Failed")
    assert "ended unexpectedly" in failed.message
    assert ps.state == "failed"
    assert ps.run() is False  # no answer will come: returns instead of hanging
    ps.reset()
    assert ps._process is not first and ps.state == "ready"
    assert ps.step_batch() is True and (ps.epoch, ps.batch) == (0, 1)


def test_close_ends_the_child_even_while_it_trains(remote):
    ps, rec = remote(xor(epochs=100_000))
    worker = threading.Thread(target=ps.run)
    worker.start()
    rec.wait_for(lambda e: isinstance(e, s.EpochEnded), what="an epoch")
    started = time.perf_counter()
    ps.close()
    assert time.perf_counter() - started < 0.5
    assert ps._process.poll() is not None
    worker.join(2)
    assert not worker.is_alive()


def test_a_script_without_a_main_guard_is_not_run_twice(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        from tuinet.presets import load_preset
        from tuinet.remote import ProcessSession
        print("script body", flush=True)
        ps = ProcessSession(load_preset("xor").with_overrides(epochs=1, seed=0))
        print("ran", ps.run(), ps.epoch)
        ps.close()
    """))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": root})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["script body", "ran True 1"]


# ---------------------------------------------------------------------- the child's outbox
class FakeConn:
    def __init__(self) -> None:
        self.sent: list = []
        self.times: list = []

    def send(self, message) -> None:
        self.sent.append(message)
        self.times.append(time.monotonic())


def test_routine_events_leave_together_in_order_within_the_interval():
    from tuinet.remote import _Outbox

    conn = FakeConn()
    box = _Outbox(conn, interval=0.05)
    start = time.monotonic()
    for i in range(5):
        box.event(("epoch", i), routine=True)
    assert conn.sent == []  # waiting for their batch
    deadline = time.monotonic() + 2
    while not conn.sent and time.monotonic() < deadline:
        time.sleep(0.005)
    assert conn.sent == [("events", [("epoch", i) for i in range(5)])]
    assert 0.04 <= conn.times[0] - start < 1.0


def test_anything_else_goes_at_once_after_what_waits():
    from tuinet.remote import _Outbox

    conn = FakeConn()
    box = _Outbox(conn, interval=10.0)  # routine events would wait ten seconds
    box.event(("epoch", 0), routine=True)
    box.event(("epoch", 1), routine=True)
    box.event(("state", "paused"), routine=False)
    assert conn.sent == [("events", [("epoch", 0), ("epoch", 1), ("state", "paused")])]
    box.event(("epoch", 2), routine=True)
    box.send(("done", 7, True))  # a reply: the epoch before it goes first
    assert conn.sent[1:] == [("events", [("epoch", 2)]), ("done", 7, True)]
    box.send(("future", 8, True, None))  # nothing waits: the reply alone
    assert conn.sent[3:] == [("future", 8, True, None)]


def test_an_event_that_cannot_be_sent_is_reported_not_dropped_silently():
    from tuinet.remote import _Outbox

    class Picky(FakeConn):
        def send(self, message) -> None:
            if message[0] == "events":
                raise TypeError("cannot pickle this event")
            super().send(message)

    conn = Picky()
    box = _Outbox(conn, interval=0.01)
    box.event(("epoch", 0), routine=True)
    deadline = time.monotonic() + 2
    while not conn.sent and time.monotonic() < deadline:
        time.sleep(0.005)
    assert conn.sent and conn.sent[0][0] == "fatal" and "cannot pickle this event" in conn.sent[0][1]


# ---------------------------------------------------------------------- pace, frames and branch in the child
def test_the_child_records_frames_and_resumes_from_one(remote):
    ps, rec = remote(xor(6), frames=True)
    assert ps.run()
    timeline = ps.run_history.timeline
    assert timeline.epochs == list(range(7))
    full = list(ps.history["loss"])
    frame = timeline.frames[3]
    assert frame.optimizer is not None  # a small model: the optimizer state travels with each frame
    ps.restore(frame)
    rec.wait_for(lambda e: isinstance(e, s.SessionReady) and e.start_epoch == 3, what="the branch")
    assert ps.epoch == 3 and ps.history["loss"] == full[:3]
    assert ps.run()
    assert ps.epoch == 6 and ps.history["loss"][:3] == full[:3]
    # the threaded session branched the same way gives the same weights, bit for bit
    ts = s.TrainingSession(xor(6), frames=True)
    ts.run()
    ts.restore(frame)
    ts.run()
    for key, value in ps.last_snapshot.weights.items():
        np.testing.assert_array_equal(value, ts.last_snapshot.weights[key])


def test_the_pace_reaches_the_child_and_changes_at_once(remote):
    ps, rec = remote(xor(40), pace=5.0)
    worker = threading.Thread(target=ps.run)
    started = time.perf_counter()
    worker.start()
    rec.wait_for(lambda e: isinstance(e, s.EpochEnded) and e.epoch >= 1, what="two epochs")
    assert time.perf_counter() - started > 0.15  # capped at 5 epochs a second
    ps.set_pace(float("inf"))
    worker.join(20)
    assert not worker.is_alive() and ps.finished
    assert time.perf_counter() - started < 40 / 5.0  # the rest ran at full speed


def test_a_bad_edit_raises_in_the_parent_and_changes_nothing(remote):
    ps, _ = remote(xor(2))
    before = ps.experiment
    bad = before.replace(model=dataclasses.replace(before.model, layers=({"type": "Conv2D", "filters": 2,
                                                                           "kernel_size": 3},)))
    with pytest.raises(TuinetError):
        ps.apply(bad)
    assert ps.experiment is before and ps.model.count_params() > 0

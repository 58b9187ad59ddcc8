"""The timeline's budget and the fold of a run's events (`tuinet.run`), and the session's side of
them: the pace (a fake clock), the frames it sends, and a branch from a frame."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tuinet import session as s
from tuinet.errors import ConfigError
from tuinet.presets import load_preset
from tuinet.run import MAX_FRAMES, EpochHistory, RunHistory, Timeline, describe_change, frame_plan, frame_stride


@dataclasses.dataclass(frozen=True)
class _Frame:
    epoch: int
    weights: dict = dataclasses.field(default_factory=dict)
    grads: dict = dataclasses.field(default_factory=dict)
    updates: dict = dataclasses.field(default_factory=dict)
    optimizer: dict | None = None


# ---------------------------------------------------------------------- the timeline's budget
@settings(max_examples=60, deadline=None)
@given(epochs=st.integers(0, 5000), budget=st.integers(2, 300))
def test_the_timeline_thins_evenly_and_keeps_the_first_and_last(epochs, budget):
    timeline = Timeline(budget)
    for e in range(epochs + 1):
        timeline.add(_Frame(e))
    kept = timeline.epochs
    assert len(kept) <= budget
    assert kept[0] == 0 and kept[-1] == epochs
    stride = timeline.stride
    assert all(e % stride == 0 for e in kept[:-1])             # every k-th epoch...
    assert kept[:-1] == list(range(0, epochs + 1, stride))[:len(kept) - 1] or kept == list(range(0, epochs + 1, stride))
    assert stride == frame_stride(epochs, budget)                # ...the k the session computes too
    if epochs >= budget:
        assert len(kept) > budget // 2                           # thinned, not emptied


def test_the_session_and_the_timeline_agree_on_which_epochs_are_frames():
    sent = [e for e in range(2001) if e % frame_stride(e) == 0]
    timeline = Timeline()
    for e in sent:
        timeline.add(_Frame(e))
    assert len(timeline) <= MAX_FRAMES
    assert timeline.epochs == list(range(0, 2001, timeline.stride)) + ([2000] if 2000 % timeline.stride else [])


def test_truncate_drops_the_future_and_the_nearest_frame_is_found():
    timeline = Timeline(8)
    for e in range(40):
        timeline.add(_Frame(e))
    timeline.truncate(20)
    assert max(timeline.epochs) <= 20
    assert timeline.nearest(13).epoch in timeline.epochs
    assert abs(timeline.nearest(13).epoch - 13) == min(abs(e - 13) for e in timeline.epochs)
    timeline.add(_Frame(21))
    assert timeline.epochs[-1] == 21


def test_frame_plan_drops_extras_before_frames():
    assert frame_plan(1000, 1000, 2000) == (MAX_FRAMES, True, True)
    frames, grads, opt = frame_plan(100_000, 100_000, 200_000, budget=60_000_000)
    assert frames == MAX_FRAMES and grads and not opt
    frames, grads, opt = frame_plan(10_000_000, 10_000_000, 20_000_000, budget=48 * 2**20)
    assert (grads, opt) == (False, False) and 2 <= frames < MAX_FRAMES


# ---------------------------------------------------------------------- the pace, with a fake clock
class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.now += seconds
        self.slept += seconds
        return False


def _session(preset="xor", epochs=20, **kwargs):
    exp = load_preset(preset).with_overrides(seed=0, epochs=epochs)
    return s.TrainingSession(exp, **kwargs)


@pytest.mark.parametrize("pace", [1.0, 5.0, 20.0])
def test_the_pace_caps_epochs_per_second_on_the_clock(pace):
    clock = FakeClock()
    session = _session(epochs=20, pace=pace, clock=clock, sleep=clock.sleep)
    assert session.run()
    # the first epoch starts at once, each later one waits for its turn (19 waits of 1/pace);
    # a long epoch also spreads its own batches over its 1/pace
    assert 19 / pace - 1e-9 <= clock.now <= 20 / pace


def test_no_pace_by_default_headless_and_fit_never_wait():
    clock = FakeClock()
    session = _session(epochs=5, clock=clock, sleep=clock.sleep)
    assert session.pace == math.inf and session.run()
    assert clock.slept == 0.0


def test_a_new_pace_takes_effect_mid_run():
    clock = FakeClock()
    session = _session(epochs=20, pace=2.0, clock=clock, sleep=clock.sleep)
    assert session.run(until_epoch=5)   # 5 epochs of 0.5 s (xor's epochs are long: spread over batches)
    assert 2.0 <= clock.now <= 2.5
    first = clock.now
    session.set_pace(10.0)
    assert session.run()                # 15 more epochs of 0.1 s
    assert 1.4 <= clock.now - first <= 1.5


def test_a_long_epoch_waits_between_batches_not_all_at_the_end():
    clock = FakeClock()
    waits: list[float] = []

    def sleep(seconds):
        waits.append(seconds)
        return clock.sleep(seconds)

    session = _session("xor", epochs=3, pace=1.0, clock=clock, sleep=sleep)
    steps = session.steps_per_epoch
    assert session.run()
    assert 2.0 <= clock.now <= 3.0
    assert len(waits) > 3 * (steps - 2)  # spread over the batches of each epoch
    assert max(waits) < 1.0 / steps * 2 + s.PACE_MIN_WAIT


def test_a_slow_run_never_races_to_catch_up():
    clock = FakeClock()

    class Slow(s.TrainingSession):
        def _one_batch(self, *, force_event):
            clock.now += 0.1  # an epoch of xor takes seconds on this clock: far slower than the pace
            return super()._one_batch(force_event=force_event)

    exp = load_preset("xor").with_overrides(seed=0, epochs=3)
    session = Slow(exp, pace=20.0, clock=clock, sleep=clock.sleep)
    assert session.run()
    assert clock.slept < 0.1


def test_pause_ends_a_paced_wait_at_once():
    import threading
    import time

    session = _session(epochs=50, pace=1.0)
    thread = threading.Thread(target=session.run)
    thread.start()
    time.sleep(0.3)
    started = time.perf_counter()
    session.pause()
    thread.join(2)
    assert not thread.is_alive() and time.perf_counter() - started < 0.5
    assert session.state == "paused" and session.epoch < 3


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "fast", True])
def test_a_bad_pace_is_refused(bad):
    with pytest.raises(ConfigError, match="pace"):
        s.checked_pace(bad)


def test_default_pace_makes_the_playground_presets_last_10_to_30_seconds():
    for name in ("spiral", "xor", "circle", "gauss", "moons", "plane-regression", "sine-regression"):
        exp = load_preset(name)
        seconds = exp.train.epochs / s.default_pace(exp)
        assert 10 <= seconds <= 30, (name, seconds)


def test_step_pace_walks_the_steps_to_max_and_back():
    pace, seen = 1.0, [1.0]
    while math.isfinite(pace):
        pace = s.step_pace(pace, 1)
        seen.append(pace)
    assert seen == list(s.PACE_STEPS)
    assert s.step_pace(math.inf, -1) == 200.0 and s.step_pace(1.0, -1) == 1.0
    assert s.pace_label(math.inf) == "pace max" and s.pace_label(20.0) == "pace 20 ep/s"


# ---------------------------------------------------------------------- frames and the fold
def _recorded(preset="xor", epochs=12):
    events = []
    session = _session(preset, epochs=epochs, frames=True, sink=events.append)
    run = RunHistory()
    run.apply(session.ready_event())
    run.apply(dataclasses.replace(session.snapshot(), frame=True))
    session.run()
    for event in events:
        run.apply(event)
    return session, run, events


def test_the_fold_of_the_events_equals_the_session():
    session, run, _ = _recorded()
    assert run.history == session.history
    assert run.batch_loss_history() == session.batch_loss_history()
    assert run.epoch == session.epoch and run.state == session.state == "finished"
    assert run.test_results == session.test_results
    assert run.timeline.epochs == list(range(13))
    last = run.timeline.frames[-1]
    for layer in session.model.layers:
        for name in layer.weight_names:
            np.testing.assert_array_equal(last.weights[f"{layer.name}/{name}"], layer.weight(name))
    assert last.optimizer is not None and last.optimizer["iterations"] == session.model.optimizer.iterations


def test_a_branch_resumes_from_the_frames_weights_and_optimizer_exactly():
    session, run, events = _recorded(epochs=12)
    frame = next(f for f in run.timeline.frames if f.epoch == 5)
    # the reference: a fresh session trained to epoch 5 and on to 12
    reference = _session(epochs=12)
    reference.run(until_epoch=5)
    for layer in reference.model.layers:
        for name in layer.weight_names:
            np.testing.assert_array_equal(frame.weights[f"{layer.name}/{name}"], layer.weight(name))
    events.clear()
    session.restore(frame)
    assert session.epoch == 5 and session.state == "paused"
    assert session.history["loss"] == run.history["loss"][:5]
    ready = [e for e in events if isinstance(e, s.SessionReady)]
    assert ready and ready[-1].start_epoch == 5 and ready[-1].history["loss"] == run.history["loss"][:5]
    assert session.model.optimizer.iterations == 5 * session.steps_per_epoch
    session.run()
    assert session.epoch == 12 and len(session.history["loss"]) == 12


def test_a_frame_of_another_model_is_refused_and_changes_nothing():
    session, run, _ = _recorded(epochs=3)
    before = session.model.get_weights()
    frame = run.timeline.frames[1]
    bad = dataclasses.replace(frame, weights={k: np.zeros((3, 3)) for k in frame.weights})
    with pytest.raises(ConfigError, match="does not fit"):
        session.restore(bad)
    for a, b in zip(before, session.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_without_frames_the_session_sends_none():
    events = []
    session = _session(epochs=5, sink=events.append)
    session.run()
    assert not any(getattr(e, "frame", False) for e in events)


def test_describe_change_names_what_the_old_run_had():
    exp = load_preset("spiral")
    lr = exp.replace(train=dataclasses.replace(exp.train, learning_rate=0.03))
    assert describe_change(lr, exp) == "lr 0.03"
    more = exp.replace(model=dataclasses.replace(exp.model, layers=exp.model.layers + ({"type": "Dense", "units": 8},)))
    assert describe_change(more, exp) == "+Dense 8"
    assert describe_change(exp, exp) == ""


# ---------------------------------------------------------------------- EpochHistory


def test_epoch_history_keeps_every_epoch_up_to_its_cap():
    h = EpochHistory(max_points=8)
    for e in range(8):
        h.append({"loss": float(e), "val_loss": 10.0 + e})
    assert h.epochs == list(range(1, 9)) and h["loss"] == [float(e) for e in range(8)]
    assert h.count == 8 and h.stride == 1 and dict(h).keys() == {"loss", "val_loss"}


@given(st.integers(1, 3000), st.integers(4, 64))
@settings(max_examples=60, deadline=None)
def test_epoch_history_is_bounded_even_and_keeps_first_and_newest(n, cap):
    h = EpochHistory(max_points=cap)
    for e in range(n):
        h.append({"loss": float(e + 1)})
    assert len(h.epochs) <= cap and len(h["loss"]) == len(h.epochs)
    assert h.epochs[0] == 1 and h.epochs[-1] == n and h.count == n
    assert h["loss"] == [float(e) for e in h.epochs]  # each value is its epoch's
    inner = h.epochs[1:-1]
    assert all(e % h.stride == 0 for e in inner)  # evenly thinned
    assert h.epochs == sorted(set(h.epochs))
    if n > cap:
        assert len(h.epochs) >= cap // 2 - 1  # thinning halves, never empties


def test_epoch_history_truncate_copy_and_missing_keys():
    h = EpochHistory(max_points=16)
    for e in range(100):
        h.append({"loss": float(e + 1)} if e < 50 else {"loss": float(e + 1), "val_loss": -1.0})
    assert math.isnan(h["val_loss"][0]) and h["val_loss"][-1] == -1.0
    c = h.copy()
    h.truncate(40)
    assert h.count == 40 and h.epochs[-1] <= 40 and all(e <= 40 for e in h.epochs)
    assert c.count == 100 and c.epochs[-1] == 100  # the copy is independent
    h.append({"loss": 41.0})
    assert h.count == 41 and h.epochs[-1] == 41 and h["loss"][-1] == 41.0
    # rebuilt from a thinned copy (a SessionReady), the epochs and the stride come along
    again = EpochHistory(c)
    assert again.epochs == c.epochs and again["loss"] == c["loss"] and again.stride == c.stride


def test_run_history_of_a_long_run_stays_bounded():
    from tuinet.run import HISTORY_POINTS

    run = RunHistory()
    run.apply(s.SessionReady(name="x", epochs=10**6, steps_per_epoch=1, sizes={}, summary="", params=0))
    for e in range(3 * HISTORY_POINTS):
        run.apply(s.EpochEnded(epoch=e, epochs=10**6, logs={"loss": 1.0 / (e + 1)}, seconds=0.0, line=""))
    assert run.epochs_done == 3 * HISTORY_POINTS and run.epoch == 3 * HISTORY_POINTS
    assert len(run.history["loss"]) <= HISTORY_POINTS and len(run.lines) <= 2000
    assert run.history.epochs[-1] == 3 * HISTORY_POINTS

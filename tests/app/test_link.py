"""The link monitor (tuinet/app/link.py): fewer frames when the terminal does not drain them.

`LinkPolicy` is fed made-up samples (and a small simulation of an app writing frames into a
link that drains so many characters a second); `LinkMonitor` is driven with a fake app and
driver and a hand-moved clock; one pilot test runs it in a Textual app whose frames go through
Textual's real writer thread into a file that drains slowly.
"""

from __future__ import annotations

import queue
import time

import pytest
from textual.app import App
from textual.drivers._writer_thread import WriterThread

from tests.app.conftest import wait_until
from tuinet.app import link
from tuinet.app.link import RATES, LinkMonitor, LinkPolicy, describe, step_down, step_up

STEP = 0.25  # seconds between two samples, as the monitor takes them


def simulate(policy: LinkPolicy, *, link_rate: float, frame: int, seconds: float, start: float = 0.0,
             step: float = STEP) -> tuple[list[float], list[float], float]:
    """An app writing `frame` characters per frame at `policy.rate` frames/s into a link that
    drains `link_rate` characters/s; the policy sees a sample every `step` s and sets the rate.
    Returns (rate after each sample, characters queued at each sample, the time at the end)."""
    t, queued, written, due = start, 0.0, 0, 0.0
    policy.observe(t, 0, 0, 0.0)
    rates, backlog = [], []
    while t < start + seconds - 1e-9:
        t += step
        due += policy.rate * step
        frames = int(due)
        due -= frames
        written += frames * frame
        queued = max(0.0, queued + frames * frame - link_rate * step)
        policy.observe(t, int(queued), written, 0.0)
        rates.append(policy.rate)
        backlog.append(queued)
    return rates, backlog, t


def distinct(rates: list[float]) -> list[float]:
    out = []
    for r in rates:
        if not out or out[-1] != r:
            out.append(r)
    return out


# ---------------------------------------------------------------------- the policy
def test_ladder_steps():
    assert step_down(10.0) == 5.0 and step_down(3.0) == 2.0 and step_down(1.0) == 0.5
    assert step_down(RATES[-1]) == RATES[-1] == 1 / 16
    assert step_up(0.125, 10.0) == 0.25 and step_up(2.0, 3.0) == 3.0 and step_up(10.0, 10.0) == 10.0
    assert describe(2.0) == "2 frames/s" and describe(0.25) == "a frame every 4 s"


def test_a_link_that_keeps_up_changes_nothing():
    policy = LinkPolicy(10.0, now=0.0)
    rates, backlog, _ = simulate(policy, link_rate=1e6, frame=3000, seconds=60)
    assert set(rates) == {10.0} and max(backlog) == 0
    # a frame caught in flight at every sample is not a backlog: the writer took the previous one
    policy = LinkPolicy(10.0, now=0.0)
    for i in range(200):
        assert policy.observe(i * STEP, 3000, 3000 * i, 0.0) is None
    assert policy.rate == 10.0


def test_backed_up_steps_down_to_the_floor():
    """A link that drains nothing (no drain rate to aim at): two rates down at each sample at
    which the queue has grown (DOWN_FAST s apart at least)."""
    policy = LinkPolicy(10.0, now=0.0)
    changes = []
    for i in range(1, 60):
        now = i * STEP
        written = 1000 * i  # all of it still queued
        new = policy.observe(now, written, written, 0.0)
        if new is not None:
            changes.append((now, new))
    assert [r for _, r in changes] == [2.0, 0.5, 0.125, RATES[-1]]
    times = [t for t, _ in changes]
    assert all(b - a >= link.DOWN_FAST - 1e-9 for a, b in zip(times, times[1:]))
    assert policy.rate == RATES[-1]


def test_blocked_writes_count_as_backed_up():
    policy = LinkPolicy(5.0, now=0.0)
    changes = [policy.observe(i * STEP, 0, 1000 * i, 0.1 * i) for i in range(1, 10)]
    assert policy.backed and any(r is not None and r < 5.0 for r in changes)


def test_slow_link_settles_under_its_drain_rate_and_the_backlog_empties():
    """10 frames/s of 3,000 characters into 8,000 characters/s: the rate drops to one that fits
    (at most 2), the queue drains and stays short; later probes go back down at once."""
    policy = LinkPolicy(10.0, now=0.0)
    rates, backlog, _ = simulate(policy, link_rate=8000, frame=3000, seconds=240)
    assert max(rates) <= 10.0
    settled = rates[int(8 / STEP):]
    assert max(settled[: int(50 / STEP)]) <= 2.0  # within the drain rate's memory: no probe above it
    assert min(settled) >= 0.5                     # and not lower than needed
    assert 8000 * 0.9 > policy.link_rate > 8000 * 0.5 or policy.link_rate == pytest.approx(8000, rel=0.1)
    assert backlog[int(10 / STEP)] < 3000           # the first backlog has drained
    # after the memory runs out it probes higher, fails, and comes back within a few seconds:
    # the queue never holds more than a few seconds of the link
    assert max(backlog[int(10 / STEP):]) < 4 * 8000
    assert policy.up_hold > link.UP_HOLD            # a failed probe makes the next one wait longer


def test_drained_link_climbs_back_to_the_ceiling_and_never_above():
    policy = LinkPolicy(10.0, now=0.0)
    for i in range(1, 60):  # a dead link: down to the floor
        policy.observe(i * STEP, 1000 * i, 1000 * i, 0.0)
    assert policy.rate == RATES[-1]
    # the link is back and fast (what was queued went at once); the app writes a little
    t0, written = 60 * STEP, 60_000
    seen = []
    for i in range(1, int(200 / STEP)):
        written += 500
        policy.observe(t0 + i * STEP, 0, written, 0.0)
        seen.append(policy.rate)
    assert distinct(seen) == sorted(r for r in RATES if r <= 10.0)
    assert max(seen) == 10.0 == policy.ceiling


def test_the_users_ceiling_is_the_most_and_is_taken_at_once():
    policy = LinkPolicy(10.0, now=0.0)
    assert policy.set_ceiling(5.0, now=1.0) == 5.0 and policy.rate == 5.0
    rates, _, t = simulate(policy, link_rate=1e6, frame=1000, seconds=60, start=1.0)
    assert max(rates) == 5.0
    for i in range(1, 20):  # backed up: below the ceiling
        policy.observe(t + i * STEP, 1000 * i, 10**6 + 1000 * i, 0.0)
    assert policy.rate < 5.0
    assert policy.set_ceiling(20.0, now=t + 6) == 20.0  # the user asks for more: at once
    assert policy.set_ceiling(0.01) == policy.floor      # never below the floor


def test_nothing_written_no_probe_up():
    """Paused (nothing drawn): no evidence that more frames would fit, so no step up."""
    policy = LinkPolicy(10.0, now=0.0)
    for i in range(1, 12):
        policy.observe(i * STEP, 1000 * i, 1000 * i, 0.0)
    low = policy.rate
    for i in range(12, 400):
        policy.observe(i * STEP, 0, 11_000, 0.0)
    # at most one step on what was written before the pause, then nothing
    assert low < policy.rate == step_up(low, 10.0) < 10.0


# ---------------------------------------------------------------------- the monitor, faked
class FakeTimer:
    def __init__(self, callback):
        self.callback, self.stopped = callback, False

    def stop(self):
        self.stopped = True


class FakeWriter:
    def __init__(self):
        self._queue = queue.Queue(30)


class FakeDriver:
    """Writes go to a queue that the test drains (a writer thread stuck on a slow terminal)."""

    def __init__(self):
        self._writer_thread = FakeWriter()

    def write(self, data: str) -> None:
        self._writer_thread._queue.put(data)

    def drain(self) -> int:
        n = 0
        while not self._writer_thread._queue.empty():
            n += len(self._writer_thread._queue.get())
        return n


class FakeApp:
    is_headless = False

    def __init__(self, hz: float = 10.0, driver=None):
        self.refresh_hz = hz
        self._driver = FakeDriver() if driver is None else driver
        self.timers: list[FakeTimer] = []
        self.notes: list[str] = []
        self.soon: list = []  # call_later callbacks

    def call_later(self, callback, *args):
        self.soon.append(callback)
        return True

    def set_refresh_rate(self, hz: float) -> None:
        self.refresh_hz = hz

    def set_interval(self, interval, callback, name=None):
        self.timers.append(FakeTimer(callback))
        return self.timers[-1]

    def notify(self, text, **kwargs):
        self.notes.append(text)


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def run_frames(app: FakeApp, monitor: LinkMonitor, clock: Clock, seconds: float, *, frame: int = 2000,
               drain: bool = False) -> list[float]:
    """The app writes a frame per 1/refresh_hz s; the monitor samples every STEP s."""
    rates, due = [], 0.0
    for _ in range(int(seconds / STEP)):
        clock.t += STEP
        due += app.refresh_hz * STEP
        while due >= 1:
            app._driver.write("x" * frame)
            due -= 1
            if drain:
                app._driver.drain()
        monitor._tick()
        rates.append(app.refresh_hz)
    return rates


def test_monitor_lowers_the_rate_while_writes_queue_and_restores_it():
    app, clock = FakeApp(10.0), Clock()
    monitor = LinkMonitor(app, clock=clock)
    assert monitor.start() and monitor.active
    assert "write" in vars(app._driver)  # the hook: an instance attribute over the class's write
    rates = run_frames(app, monitor, clock, 4.0)  # nothing drains: 10 writes/s pile up
    assert rates[-1] < 10.0 and monitor.limited and monitor.ceiling == 10.0
    # what the app wrote, and what went to the terminal (a reset first: the compactor does not
    # know the terminal's state yet)
    assert monitor.written == 14000 and monitor.writes == 7
    assert monitor.answers.written == sum(len(x) for x in list(app._driver._writer_thread._queue.queue)) == 14004
    assert len(app.notes) == 1 and "not keeping up" in app.notes[0]
    assert app.soon and app.soon[0] == monitor._tick  # writes piling up asked for a sample at once
    app._driver.drain()
    rates = run_frames(app, monitor, clock, 200.0, drain=True)
    assert max(rates) == 10.0 == app.refresh_hz and not monitor.limited
    assert len(app.notes) == 1  # said once
    monitor.stop()
    assert "write" not in vars(app._driver) and app.timers[0].stopped and not monitor.active


def test_monitor_takes_the_users_rate_as_the_ceiling():
    app, clock = FakeApp(10.0), Clock()
    monitor = LinkMonitor(app, clock=clock, notify=False)
    monitor.start()
    app.set_refresh_rate(5.0)  # `f`, through the app
    rates = run_frames(app, monitor, clock, 30.0, drain=True)
    assert monitor.ceiling == 5.0 and set(rates) == {5.0}
    monitor.ceiling = 2.0  # an app that knows the monitor sets the ceiling
    assert app.refresh_hz == 2.0
    rates = run_frames(app, monitor, clock, 30.0, drain=True)
    assert set(rates) == {2.0}


def test_monitor_fails_safe_without_the_hooks():
    class SlotDriver:  # no instance attributes: write cannot be wrapped
        __slots__ = ()

        def write(self, data):
            pass

    for app in (FakeApp(driver=SlotDriver()), FakeApp()):
        if not isinstance(app._driver, SlotDriver):
            app._driver = None  # no driver at all
        monitor = LinkMonitor(app)
        assert monitor.start() is False and not monitor.active and app.timers == []
        monitor.ceiling = 5.0  # still sets the rate
        assert app.refresh_hz == 5.0
        monitor.stop()
    headless = FakeApp()
    headless.is_headless = True
    assert LinkMonitor(headless).start() is False and "write" not in vars(headless._driver)
    # a driver without Textual's writer thread: only blocked writes are seen; it still runs
    bare = FakeApp()
    del bare._driver._writer_thread
    monitor = LinkMonitor(bare)
    assert monitor.start() and monitor.queued() == 0
    monitor.stop()


# ---------------------------------------------------------------------- in a Textual app
class SlowFile:
    """A terminal that takes `rate` characters a second (the writer thread blocks in write)."""

    def __init__(self, rate: float):
        self.rate, self.fast = rate, False

    def write(self, text: str) -> None:
        if not self.fast:
            time.sleep(len(text) / self.rate)

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return 1


class PipeDriver:
    """Writes through Textual's own writer thread, as the Linux driver does."""

    def __init__(self, file):
        self._writer_thread = WriterThread(file)
        self._writer_thread.start()

    def write(self, data: str) -> None:
        self._writer_thread.write(data)


class FramesApp(App):
    """Draws a frame of FRAME characters every 1/refresh_hz s through the slow driver (a headless
    Textual app writes nothing itself)."""

    FRAME = 2000

    def __init__(self, file):
        super().__init__()
        self.refresh_hz = 10.0
        self.file = file
        self.longest_write = 0.0

    def set_refresh_rate(self, hz: float) -> None:
        self.refresh_hz = hz

    def on_mount(self) -> None:
        self.driver = PipeDriver(self.file)
        self.monitor = LinkMonitor(self, driver=self.driver, headless=True, interval=0.05, notify=False)
        assert self.monitor.start()
        self.last_frame = -1.0
        self.set_interval(0.02, self.frame)

    def frame(self) -> None:
        if time.monotonic() - self.last_frame < 1 / self.refresh_hz:
            return
        self.last_frame = t = time.monotonic()
        self.driver.write("x" * self.FRAME)
        self.longest_write = max(self.longest_write, time.monotonic() - t)

    def on_unmount(self) -> None:
        self.monitor.stop()
        self.file.fast = True
        self.driver._writer_thread.stop()


async def test_pilot_slow_terminal_through_textuals_writer_thread(monkeypatch):
    """20,000 characters/s of frames into a terminal that takes 5,000: the rate drops to one that
    fits before the writer's queue fills (the UI never blocks); when the terminal is fast again
    the rate climbs back to the ceiling."""
    for name, value in (("DOWN_HOLD", 0.2), ("UP_HOLD", 0.2), ("LINK_MEMORY", 0.6), ("OUTPUT_WINDOW", 1.0)):
        monkeypatch.setattr(link, name, value)
    app = FramesApp(SlowFile(5000))
    async with app.run_test() as pilot:
        rates = []
        for _ in range(20):
            await pilot.pause(0.1)
            rates.append(app.refresh_hz)
        assert max(rates[5:]) <= 5.0 and min(rates) <= 2.0  # down at once; probes up are brief
        assert app.longest_write < 0.05  # never blocked: the queue did not fill
        assert app.monitor.queued() <= 3 * app.FRAME
        app.file.fast = True
        deadline = time.monotonic() + 6
        while app.refresh_hz < 10.0 and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert app.refresh_hz == 10.0


async def test_tuinet_app_starts_and_stops_its_monitor(make_test_app):
    """The app makes its monitor on mount (a headless test app: inactive, nothing hooked)."""
    app = make_test_app("xor", epochs=1)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.link_monitor, LinkMonitor)
        assert not app.link_monitor.active and app.link_monitor.ceiling == app.refresh_hz
    assert not app.link_monitor.active


# ---------------------------------------------------------------------- the terminal's answers
def test_answers_count_what_is_still_on_its_way():
    answers = link.Answers(0.0)
    assert not answers.working and answers.behind(0.0) == 0.0 and not answers.hold(0.0)
    answers.sent(1000)
    answers.probe(0.0)
    answers.sent(500)
    answers.probe(0.1)
    assert answers.unanswered() == 1500 and answers.behind(0.5) == 0.5
    answers.answer(0.3)  # the terminal has read the first frame
    assert answers.working and answers.unanswered() == 500 and answers.behind(0.5) == pytest.approx(0.4)
    answers.answer(0.35)
    assert answers.unanswered() == 0 and answers.behind(1.0) == 0.0
    assert answers.answers == 2 and not answers.given_up(100.0)


def link_answers(period: float, frame: int = 800, rate: float = 8000.0, rtt: float = 0.02,
                 frames: int = 40) -> link.Answers:
    """Frames of `frame` characters every `period` s into a link of `rate` characters/s and a
    round trip of `rtt` s; each answer comes back once the terminal has read its frame."""
    answers = link.Answers(0.0)
    read_until, events = 0.0, []
    for i in range(frames):
        sent = i * period
        read_until = max(sent + rtt / 2, read_until) + frame / rate
        events += [(sent, "frame"), (read_until + rtt / 2, "answer")]
    for t, what in sorted(events):
        if what == "frame":
            answers.sent(frame)
            answers.probe(t)
        else:
            answers.answer(t)
    return answers


def test_answers_measure_the_link_only_while_it_is_busy():
    """Frames that reach the terminal before it has read the previous ones: the link was busy
    all the time in between, and carried what was acknowledged meanwhile."""
    busy = link_answers(0.05)  # 16,000 characters/s into 8,000
    assert busy.drain_rate() == pytest.approx(8000, rel=0.01)
    # a link that keeps up tells nothing, even with a round trip longer than the frame period
    assert link_answers(1.0).drain_rate() is None
    far = link_answers(0.1, rate=1e7, rtt=0.3)
    assert far.drain_rate() is None and far.rtt == pytest.approx(0.3, abs=0.01)


def test_hold_waits_for_the_last_frames_but_not_for_lost_answers():
    answers = link.Answers(0.0)
    answers.sent(100)
    answers.probe(0.0)
    answers.answer(0.02)  # a round trip of 20 ms
    answers.sent(4000)
    answers.probe(1.0)
    assert not answers.hold(1.0 + 0.02 + link.HOLD_SLACK - 0.01)  # within a round trip and the slack
    assert answers.hold(1.5)
    assert not answers.hold(1.0 + 0.02 + link.MAX_HOLD + 0.1)  # that long: the answer was lost
    answers.expire(2.0)
    assert answers.unanswered() == 0
    silent = link.Answers(0.0)
    silent.probe(0.0)
    assert not silent.given_up(link.NO_ANSWER - 1) and silent.given_up(link.NO_ANSWER + 1)


class AnsweringDriver(FakeDriver):
    """A driver with Textual's flush and process_message: the test plays the terminal."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def flush(self):
        pass

    def process_message(self, message):
        self.messages.append(message)

    def answer(self, n: int = 1):
        from textual import events

        for _ in range(n):
            self.process_message(events.CursorPosition(0, 0))

    def sent(self) -> str:
        out = []
        while not self._writer_thread._queue.empty():
            out.append(self._writer_thread._queue.get())
        return "".join(out)


def test_monitor_asks_after_every_frame_and_takes_the_answers():
    from textual import events

    driver = AnsweringDriver()
    app, clock = FakeApp(10.0, driver=driver), Clock()
    monitor = LinkMonitor(app, clock=clock)
    assert monitor.start() and monitor.asking
    driver.write("\x1b[1;1Hframe")
    driver.flush()
    assert driver.sent().endswith(link.PROBE) and monitor.answers.unanswered() > 0
    driver.answer()
    assert monitor.answered and monitor.answers.unanswered() == 0
    assert driver.messages == []  # the answer never reached the app
    other = events.Key("a", "a")
    driver.process_message(other)
    assert driver.messages == [other]  # everything else does
    monitor.stop()
    assert "flush" not in vars(driver) and "process_message" not in vars(driver)


def test_monitor_paces_a_slow_link_newest_cells_first():
    """A link measured slow: writes wait in the pacer and go out a window at a time as the
    answers come; a newer frame replaces what still waits; the named rows go first."""
    driver = AnsweringDriver()
    app, clock = FakeApp(10.0, driver=driver), Clock()
    monitor = LinkMonitor(app, clock=clock, first_rows=lambda: (3,))
    monitor.start()
    monitor._set_pacing(True)

    def frame(text: str) -> str:
        return "".join(f"\x1b[{row};1H{text}{row}" + " " * 500 for row in (1, 2, 3)) + "\x1b[1;1H"

    driver.write(frame("old"))
    driver.flush()
    first = driver.sent()
    # one row (the named one), then a query
    assert first.startswith("\x1b[3;1H") and "old3" in first and "old1" not in first and first.endswith(link.PROBE)
    assert not monitor.hold()  # the frame clock draws on: the pacer keeps the newest cells
    driver.write(frame("new"))  # before the link took the rest: rows 1 and 2 of "old" are dropped
    assert monitor.pacer.dropped > 0
    for _ in range(5):
        driver.answer()
    rest = driver.sent()
    assert "old1" not in rest and "old2" not in rest and "new1" in rest and "new2" in rest
    assert not monitor.pacer.pending and not monitor.hold()
    monitor._set_pacing(False)  # back to writing straight through
    driver.write("\x1b[1;1Hdirect")
    assert "direct" in driver.sent()
    monitor.stop()


async def test_views_built_in_the_background_are_the_ones_shown(make_test_app):
    """After start the other views are built while nothing else happens; switching to one shows
    that screen (not a second one), styled and drawn."""
    app = make_test_app("spiral", epochs=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        app._prewarm_views(headless=True)
        def styled() -> bool:  # built, and styled as Textual styles a screen on its first switch
            stacks = app._screen_stacks
            return set(stacks) == set(app.MODE_KEYS) and all(
                stack[0]._css_update_count == app._css_update_count for m, stack in stacks.items() if m != "train")

        await wait_until(pilot, styled, what="the views built in the background")
        built = {mode: stack[0] for mode, stack in app._screen_stacks.items()}
        for key, mode in (("2", "weights"), ("3", "boundary"), ("4", "data"), ("1", "train")):
            await pilot.press(key)
            await pilot.pause(0.2)
            assert app.current_mode == mode and app.screen is built[mode]
            assert f"[{key} {mode}]" in app.sub_title
        await pilot.press("space")
        await pilot.pause(0.3)
        await pilot.press("3")  # the boundary view draws the live run
        await pilot.pause(0.5)
        assert app.screen is built["boundary"] and app.screen.query("BoundaryView") is not None


def test_monitor_drops_waiting_rows_on_a_resize_and_hurries_a_keys_answer():
    from textual import events
    from textual.geometry import Size

    driver = AnsweringDriver()
    app, clock = FakeApp(10.0, driver=driver), Clock()
    monitor = LinkMonitor(app, clock=clock)
    monitor.start()
    monitor._set_pacing(True)
    driver.write("".join(f"\x1b[{row};1Hrow{row}" + " " * 500 for row in range(1, 6)))
    assert monitor.pacer.pending > 0
    resize = events.Resize(Size(80, 24), Size(80, 24))
    driver.process_message(resize)
    assert monitor.pacer.pending == 0 and driver.messages == [resize]  # dropped; the app still hears of it
    key = events.Key("g", "g")
    driver.process_message(key)
    driver.write("\x1b[3;1Hthe answer to g" + " " * 500 + "\x1b[4;1H" + "x" * 100)
    assert all(p.urgent for line in monitor.pacer._epochs[0].rows.values() for p in line)
    monitor.stop()


def test_pacing_writes_256_colours_and_repaints_in_true_colours_after():
    driver = AnsweringDriver()
    app, clock = FakeApp(10.0, driver=driver), Clock()
    app.refreshes = 0
    app.refresh = lambda: setattr(app, "refreshes", app.refreshes + 1)
    app.call_later = lambda callback, *args: callback(*args)
    monitor = LinkMonitor(app, clock=clock)
    monitor.start()
    monitor._set_pacing(True)
    driver.write("\x1b[1;1H\x1b[38;2;30;30;30;48;2;1;120;212mx\x1b[0m")
    sent = driver.sent()
    assert "38;5;234" in sent and "48;5;" in sent and ";2;" not in sent
    monitor._set_pacing(False)
    assert app.refreshes == 1  # the true colours again
    driver.write("\x1b[1;1H\x1b[38;2;30;30;30mx\x1b[0m")
    assert "38;2;30;30;30" in driver.sent()
    monitor.stop()
    assert app.refreshes == 1

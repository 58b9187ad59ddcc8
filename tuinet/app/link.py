"""Fit the app's output to the link: the terminal says what it has drawn, the app sends what
the link can take, newest first, and draws fewer frames instead of queueing them.

Textual hands every frame to a writer thread, which writes it into the terminal: a pty, and
over SSH sshd's window (up to 2 MB) and the network. None of those buffers can be observed, so
on a slow link frames pile up in them, seconds of them, and the answer to a key waits behind
them all. Three parts keep the screen current instead:

1. **The terminal's answers** (`Answers`). After every frame (the driver's `flush`) the
   monitor writes `PROBE`, the cursor position query that every terminal answers once it has
   read everything before it, in order. The answers (Textual parses them into
   `events.CursorPosition` on its input thread) are taken before they reach the app. So the
   monitor knows exactly how much is still on its way, how long the terminal takes, and, while
   frames queue, how fast the link drains. A terminal that never answers (NO_ANSWER s) is not
   asked again; the writer thread's queue is then all that is watched, as before.
2. **The pacer** (`tuinet.app.wire.Pacer`), once the answers show a slow link (busy for
   LINK_WINDOW s, slower than FAST_LINK): Textual's writes wait in the app, split into the rows
   they paint, and go out a window at a time (what the link carries in WINDOW_TIME s and a
   round trip) as the answers come. Rows a newer frame rewrites are dropped, the header and
   the status line go first, then what a key press changed (URGENT_TIME s after it), then
   the rows that have waited longest. Everything goes through `tuinet.app.wire.Compactor`,
   which writes the same cells with fewer SGR bytes (about a third fewer on a typical frame),
   and while pacing writes 24-bit colours as the nearest of the 256 (a third fewer again; the
   screen is repainted in its true colours when the link is fast again).
3. **The frame rate** (`app.set_refresh_rate`, never above the user's choice, `ceiling`: `f`,
   `--refresh`). While pacing: fewer frames while more than BACKLOG_TIME s of the link waits in
   the pacer, more once it has stayed empty. Otherwise `LinkPolicy` (a pure class fed samples,
   tested without a terminal) steps the rate down while writes are late (unanswered past a
   round trip, or waiting in the writer's queue, or blocking) and back up once the link keeps
   up. And while the terminal has not drawn the last frames yet, the next waits (`hold`).

The ceiling: the monitor reads `app.refresh_hz` when it starts. When the user picks a rate
(`f`, which calls `app.set_refresh_rate`), the monitor notices that the rate is not the one it
set and takes it as the new ceiling. An app that knows about the monitor sets
`monitor.ceiling` instead, so that `f` cycles from the user's rate rather than from the
lowered one.

What it hooks: the driver's `write`, `flush` and `process_message` (instance attributes over
the class's methods) and reads the driver's `_writer_thread._queue`. These are parts of
Textual, the last private: if they are missing or change shape, `start()` returns False (or
runs without the missing part) and the app runs as before. The cost on a fast local terminal:
the compaction of each write (about 0.15 microseconds a character) and a 4-character query
per frame.

`TUINET_LINK_MONITOR=off` in the environment turns it all off (to compare, or if it
misjudges); `TUINET_LINK_LOG=FILE` writes every sample and decision to FILE.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque

from tuinet.app.wire import Compactor, Pacer, by_rows

RATES = (30.0, 20.0, 10.0, 5.0, 2.0, 1.0, 0.5, 0.25, 0.125, 0.0625)
"""Frame rates the monitor steps through (frames per second); below 1 a frame is skipped more
and more often. The user's ceiling need not be one of them."""

DISABLE_VAR = "TUINET_LINK_MONITOR"  # "off": no monitor (the frame rate stays the user's)
LOG_VAR = "TUINET_LINK_LOG"          # a file: one line per sample (for tuning; benchmarks/bench_app.py)
SAMPLE_INTERVAL = 0.25  # seconds between two samples
URGENT_QUEUE = 3        # writes waiting when the app writes another: sample now, not at the next tick
DOWN_HOLD = 1.0         # seconds after a change before the next step down (the change takes effect)
DOWN_FAST = 0.2         # ... while the queue still grows and no drain rate is known yet
UP_HOLD = 4.0           # seconds the link must keep up before a step up (doubles after a failed probe)
UP_HOLD_MAX = 60.0
FAILED_PROBE = 10.0     # a step down this soon after a step up: the probe failed
LINK_MEMORY = 60.0      # seconds a measured drain rate is trusted (the link may get better)
TARGET_SHARE = 0.6      # output aimed at after a step down, as a share of the measured drain rate
PROBE_SHARE = 0.7       # a step up only if the output it predicts stays under this share
FIT_SHARE = 0.85        # backed up and output above this share of the drain rate: the rate does not fit
LINK_WINDOW = 1.0       # seconds backed up (in the last LINK_MEMORY s) before their drain rate is trusted
OUTPUT_WINDOW = 5.0     # seconds the output rate is measured over (two frames if longer; from the last change)
BLOCKED = 0.02          # seconds blocked in writes between two samples that count as backed up
SLOW_WRITE = 0.01       # a write that takes longer was blocked (the writer's queue was full)


LEAVING = "\x1b[?1049l"  # the app leaves the alternate screen: it is exiting (or suspending)
EXIT_WAIT = 1.0    # seconds the app waits at most, when it exits, for the answers on their way
PROBE = "\x1b[6n"  # DSR 6: every terminal answers with the cursor position (ESC [ row ; col R)
HOLD_SLACK = 0.12  # seconds a frame may stay unanswered (beyond the link's round trip) before the next waits
MAX_HOLD = 3.0     # seconds the frame clock waits for an answer at most, unless the link is known to need longer
LOST_AFTER = 20.0  # an answer this late is taken as lost (a query the terminal never saw)
NO_ANSWER = 10.0   # no answer at all this long after the first query: the terminal does not answer
MAX_PROBES = 256   # queries waiting for their answers, at most (older ones count as lost)
FAST_LINK = 1e6    # characters/s: a link this fast needs no pacing
MIN_WINDOW = 256   # characters on their way to the terminal while pacing, at least
WINDOW_TIME = 0.03 # ... and what the link carries in this many seconds (and a round trip)
BACKLOG_TIME = 1.0  # seconds of the link waiting in the pacer above which it draws fewer frames
PACED_FLOOR = 1.0   # frames per second while pacing, at least (the status line moves)
URGENT_TIME = 0.3  # seconds after a key press (or a click) whose writes go before the frames' rows
PACED_LOST = 3.0   # seconds after which a query sent while pacing counts as lost (a window takes ~0.1 s)


class Answers:
    """What the terminal has drawn, from its answers to a query written after every frame.

    The app writes `PROBE` after each frame; the terminal answers each query once it has read
    everything written before it, in order. So at any time `unanswered()` characters (the
    frames since the last answered query) are still on their way, somewhere between the app
    and the screen: in Textual's writer queue, the kernel's pty buffer, sshd's window, the
    network. That is what the writer queue alone cannot see, and it is exact over any link.

    `sent(n)` and `probe(now)` are called on the UI thread, `answer(now)` on the driver's
    input thread (deque appends and pops are atomic). Times are `time.perf_counter()` seconds.
    """

    def __init__(self, now: float | None = None) -> None:
        self.written = 0          # characters written (queries included)
        self.acked = 0            # characters the terminal has read (up to the last answered query)
        self.answers = 0          # answers so far
        self.first_probe: float | None = None
        self.rtt = math.inf       # the shortest time to an answer seen (a round trip, and a small frame)
        self.last_answer = -math.inf
        self._probes: deque[tuple[int, float, bool]] = deque()  # (written after the query, when, busy)
        self._drain: deque[tuple[float, float, int]] = deque()  # (when, seconds busy, chars) of busy spells

    @property
    def working(self) -> bool:
        """The terminal answers (one answer is proof)."""
        return self.answers > 0

    def given_up(self, now: float) -> bool:
        """Queries have gone unanswered for NO_ANSWER s and none was ever answered."""
        return not self.answers and self.first_probe is not None and now - self.first_probe > NO_ANSWER

    def sent(self, n: int) -> None:
        self.written += n

    def probe(self, now: float, busy: bool = False) -> None:
        """A query was just written (after what `written` counts); `busy`: more was waiting to
        be sent (the link is what holds it back: the time to its answer measures the link)."""
        if self.first_probe is None:
            self.first_probe = now
        probes = self._probes
        if len(probes) >= MAX_PROBES:
            self._lose(probes.popleft())
        probes.append((self.written, now, busy))

    def _lose(self, probe: tuple) -> None:
        self.acked = max(self.acked, probe[0])

    def answer(self, now: float) -> None:
        """The terminal answered the oldest query: it has read everything written before it."""
        probes = self._probes
        try:
            offset, sent, busy = probes.popleft()
        except IndexError:
            return  # an answer to someone else's query
        while probes and now - probes[0][1] > LOST_AFTER:  # older than any real backlog: lost
            self._lose(probes.popleft())
        previous, self.acked = self.acked, max(self.acked, offset)
        rtt = self.rtt if self.rtt < math.inf else 0.0
        self.rtt = min(self.rtt, now - sent)  # the shortest answer: a round trip (and a small frame)
        if sent < self.last_answer - rtt or (busy and sent - self.last_answer < 0.005):
            # it reached the terminal before the terminal had read the previous frame (or the
            # pacer sent it the moment the previous answer came, with more waiting): the link
            # was busy all the time since the previous answer
            drain = self._drain
            drain.append((now, now - self.last_answer, self.acked - previous))
            while drain and now - drain[0][0] > LINK_MEMORY:
                drain.popleft()
        self.last_answer = now
        self.answers += 1

    def expire(self, before: float) -> None:
        """Take the queries written before `before` as answered (their answers were lost)."""
        probes = self._probes
        while probes and probes[0][1] < before:
            self._lose(probes.popleft())

    def unanswered(self) -> int:
        """Characters written and not yet known to have reached the terminal."""
        return max(0, self.written - self.acked)

    def late(self, now: float) -> int:
        """Characters written longer than a round trip (and HOLD_SLACK) ago and not yet answered
        for: on a link that keeps up, none, however long its round trip."""
        rtt = self.rtt if self.rtt < math.inf else 0.0
        before = now - rtt - HOLD_SLACK
        acked = self.acked
        offset = acked
        for written, sent, _ in list(self._probes):  # a copy in one C call (the input thread answers)
            if sent > before:
                break
            offset = written
        return max(0, offset - acked)

    def behind(self, now: float) -> float:
        """Seconds since the oldest query the terminal has not answered yet (0: none waiting)."""
        try:
            return max(0.0, now - self._probes[0][1])
        except IndexError:
            return 0.0

    def drain_rate(self) -> float | None:
        """Characters per second the link carried while it was busy (the last LINK_MEMORY s),
        once it has been busy LINK_WINDOW s; None before."""
        drain = list(self._drain)  # one C call: the input thread cannot change it meanwhile
        seconds = sum(d[1] for d in drain)
        if seconds < LINK_WINDOW:
            return None
        return sum(d[2] for d in drain) / seconds

    def hold(self, now: float) -> bool:
        """True while the next frame should wait: the last ones are still on their way (for
        longer than a round trip and HOLD_SLACK), but not for more than MAX_HOLD s."""
        if not self.answers:
            return False
        rtt = self.rtt if self.rtt < math.inf else 0.0
        behind = self.behind(now)
        if behind <= rtt + HOLD_SLACK:
            return False
        rate = self.drain_rate()
        # longer than the link needs to carry what is on its way: an answer was lost
        limit = MAX_HOLD if rate is None else max(MAX_HOLD, 1.0 + 2 * self.unanswered() / rate)
        return behind < rtt + limit


def step_down(rate: float, floor: float = RATES[-1]) -> float:
    """The next rate of `RATES` below `rate` (not below `floor`)."""
    return max(floor, next((r for r in RATES if r < rate - 1e-9), floor))


def step_up(rate: float, ceiling: float) -> float:
    """The next rate of `RATES` above `rate`, capped at `ceiling`."""
    return min(ceiling, next((r for r in reversed(RATES) if r > rate + 1e-9), ceiling))


class LinkPolicy:
    """The monitor's decisions from samples, without a terminal.

    `observe(now, queued, written, blocked)` takes one sample: `queued` characters waiting for
    the terminal now, `written` characters the app has written so far (a counter) and `blocked`
    seconds it has spent blocked in writes so far (a counter). It returns the new rate when the
    rate should change, else None; `rate` is always in [floor, ceiling].

    Backed up: the writer did not even drain what was queued at the previous sample (a terminal
    that keeps up takes a frame within microseconds), or the app was blocked in writes since
    the last sample. While backed up, the writer drains as fast as the link does: that is the
    measured `link_rate` (chars/s, over the backed-up samples of the last LINK_MEMORY s, once
    they add up to LINK_WINDOW s). The
    output rate is measured over the last OUTPUT_WINDOW s (two frames if longer) at the
    current rate.

    Step down: before a drain rate is measured, two rates at every sample (DOWN_FAST s apart
    at least) at which the queue has grown; once it is measured, when the output at the current rate
    does not fit (above FIT_SHARE of the drain rate), DOWN_HOLD s after the last change (the
    change takes effect), and then several steps at once if the excess is big (to
    TARGET_SHARE of the drain rate, if output scaled with the rate). Blocked writes (the
    queue is full) step down DOWN_FAST s apart.

    Step up one rate: after UP_HOLD s with nothing queued, when the app wrote something at
    this rate (there is evidence) and the output the next rate predicts stays under
    PROBE_SHARE of a drain rate measured in the last LINK_MEMORY s. A step down soon after a
    step up doubles UP_HOLD (up to UP_HOLD_MAX).
    """

    def __init__(self, ceiling: float, *, floor: float = RATES[-1], now: float | None = None) -> None:
        self.floor = float(floor)
        self._ceiling = max(self.floor, float(ceiling))
        self.rate = self._ceiling
        self.link_rate: float | None = None  # chars/s the link drained while backed up
        self.link_measured = -math.inf       # when
        self.up_hold = UP_HOLD
        self.backed = False                  # backed up at the last sample
        self._last: tuple[float, int, int, float] | None = None  # the previous sample
        self._recent: deque[tuple[float, int]] = deque()  # (time, written) of recent samples
        self._busy: deque[tuple[float, float, int]] = deque()  # (time, seconds, chars drained) backed up
        now = time.monotonic() if now is None else now
        self._changed = now                  # when the rate last changed
        self._queued_at_change = 0
        self._last_up = -math.inf
        self._fine_since = now               # since when nothing has been queued

    # -- the user's choice ------------------------------------------------------------------
    @property
    def ceiling(self) -> float:
        return self._ceiling

    def set_ceiling(self, ceiling: float, now: float | None = None) -> float:
        """The user chose `ceiling` frames/s: take it at once (the monitor lowers it again if the
        link still does not keep up). Returns the new rate."""
        now = time.monotonic() if now is None else now
        self._ceiling = max(self.floor, float(ceiling))
        self._set(self._ceiling, now)
        self.up_hold = UP_HOLD
        return self.rate

    # -- samples ----------------------------------------------------------------------------
    def _set(self, rate: float, now: float) -> None:
        self.rate = rate
        self._changed = now
        self._recent.clear()
        if self._last is not None:
            self._recent.append((now, self._last[2]))
            self._queued_at_change = self._last[1]

    def output(self, now: float) -> float:
        """Characters per second written at the current rate (over the last OUTPUT_WINDOW s, or
        two frames if that is longer)."""
        if not self._recent or now - self._recent[0][0] <= 0:
            return 0.0
        return (self._last[2] - self._recent[0][1]) / (now - self._recent[0][0])

    def observe(self, now: float, queued: int, written: int, blocked: float) -> float | None:
        last = self._last
        if last is not None and now - last[0] <= 0:
            return None
        self._last = (now, queued, written, blocked)
        recent = self._recent
        recent.append((now, written))
        window = max(OUTPUT_WINDOW, 2 / self.rate)
        while len(recent) > 2 and now - recent[1][0] >= window:
            recent.popleft()
        if last is None:
            return None
        dt = now - last[0]
        blocked_now = blocked - last[3] > BLOCKED
        drained = (written - last[2]) - (queued - last[1])  # what the writer took since the last sample
        stuck = last[1] > 0 and drained < last[1]            # not even what was waiting then
        backed = stuck or blocked_now
        self.backed = backed
        if backed:
            # the writer was busy all along: it drained as fast as the link. Summed over the
            # backed-up samples of the last LINK_MEMORY s (LINK_WINDOW s of them at least), so
            # that the write in progress (out of the queue, not yet through) is a small error
            self._fine_since = now
            busy = self._busy
            busy.append((now, dt, max(0, drained)))
            while busy and now - busy[0][0] > LINK_MEMORY:
                busy.popleft()
            seconds, total = sum(b[1] for b in busy), sum(b[2] for b in busy)
            if seconds >= LINK_WINDOW and total > 0:
                self.link_rate = total / seconds
                self.link_measured = now
        since_change = now - self._changed
        output = self.output(now)
        if backed:
            if self.rate <= self.floor:
                return None
            link = self.link_rate
            if link:
                if since_change < (DOWN_FAST if blocked_now else DOWN_HOLD) or output <= FIT_SHARE * link:
                    return None  # the output fits: what is queued drains
            elif since_change < DOWN_FAST or not (blocked_now or queued > last[1]):
                return None  # not growing since the last sample: wait for a measured drain rate
            new = step_down(self.rate, self.floor)
            if not link:
                new = step_down(new, self.floor)  # no measure yet: two rates at a time (a burst)
            elif output > 0:
                target = self.rate * TARGET_SHARE * link / output
                new = min(new, max(self.floor, next((r for r in RATES if r <= target), self.floor)))
            if now - self._last_up < FAILED_PROBE:
                self.up_hold = min(UP_HOLD_MAX, self.up_hold * 2)
            self._set(new, now)
            return new
        if self.rate >= self._ceiling or now - self._fine_since < self.up_hold:
            return None
        if since_change < self.up_hold or output <= 0:
            return None  # nothing written at this rate yet: no evidence that more would fit
        new = step_up(self.rate, self._ceiling)
        if self.link_rate and now - self.link_measured < LINK_MEMORY:
            if output * new / self.rate > PROBE_SHARE * self.link_rate:
                return None
        if now - self._last_up > UP_HOLD_MAX:
            self.up_hold = UP_HOLD
        self._last_up = now
        self._set(new, now)
        return new


class LinkMonitor:
    """Watch how fast the terminal drains the app's output and set the frame rate to match.

        monitor = LinkMonitor(app)   # app: has refresh_hz and set_refresh_rate(hz)
        monitor.start()              # in on_mount; False: no hooks here, nothing is done
        monitor.ceiling = 5.0        # the user's choice (f): the most it may draw
        monitor.stop()               # in on_unmount

    `driver`: the object whose `write` to watch (default: `app._driver`); `headless`: run in a
    headless app too (tests). `on_change(rate, monitor)` is called on the UI thread after each
    change the monitor makes. `notify`: say so once (a toast) the first time it lowers the rate.
    `clock`: seconds, monotonic (tests pass their own).
    """

    def __init__(self, app, *, driver=None, headless: bool = False, interval: float = SAMPLE_INTERVAL,
                 on_change=None, notify: bool = True, clock=time.monotonic, first_rows=None,
                 compact: bool = True) -> None:
        self.app = app
        self.first_rows = first_rows  # () -> the terminal rows (1-based) to send first on a slow link
        self._compact = compact
        self.compactor: Compactor | None = None  # fewer SGR bytes (tuinet/app/wire.py)
        self._driver = driver
        self._headless = headless
        self.interval = interval
        self.on_change = on_change
        self._notify = notify
        self.clock = clock
        self.policy: LinkPolicy | None = None
        self.written = 0      # characters the app wrote
        self.writes = 0       # in so many writes (a frame is one, or a few)
        self.blocked = 0.0    # seconds it spent blocked in writes
        self._queue = None
        self._timer = None
        self._hooked = None   # the driver whose write is wrapped
        self._applied: float | None = None  # the rate the monitor set last
        self._log = None
        self._urgent = False  # a sample is on its way
        self.answers: Answers | None = None  # the terminal's answers to the queries after each frame
        self.asking = False   # queries are written (the driver has the hooks for them)
        self.pacer: Pacer | None = None  # holds the writes while pacing (tuinet/app/wire.py)
        self.pacing = False   # the link is slow: writes go through the pacer
        self.pacings = 0      # times pacing started
        self._lock = threading.Lock()
        self._send = None
        self.urgent_until = -math.inf  # writes until then answer a key press (they go first)
        self._paced_calm = math.inf    # since when the pacer has held (nearly) nothing

    # -- the user's choice ------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.policy is not None

    @property
    def ceiling(self) -> float:
        """The most frames per second the monitor allows (the user's choice)."""
        return self.policy.ceiling if self.policy is not None else float(self.app.refresh_hz)

    @ceiling.setter
    def ceiling(self, hz: float) -> None:
        if self.policy is None:
            self.app.set_refresh_rate(hz)
            return
        self._apply(self.policy.set_ceiling(hz, self.clock()), notify=False)

    @property
    def limited(self) -> bool:
        """True while the monitor holds the rate below the ceiling."""
        return self.policy is not None and self.policy.rate < self.policy.ceiling

    # -- hooks ------------------------------------------------------------------------------
    def start(self) -> bool:
        """Install the hooks and the sampling timer; False (and nothing done) where the driver is
        not there or not as expected."""
        if self.policy is not None:
            return True
        if os.environ.get(DISABLE_VAR, "").strip().lower() in ("0", "off", "no", "false"):
            return False
        try:
            driver = self._driver if self._driver is not None else getattr(self.app, "_driver", None)
            if driver is None or (getattr(self.app, "is_headless", False) and not self._headless):
                return False
            original = driver.write
            if not callable(original):
                return False
            queue = getattr(getattr(driver, "_writer_thread", None), "_queue", None)
            if queue is not None and not (callable(getattr(queue, "qsize", None)) and hasattr(queue, "queue")):
                queue = None
            monitor, clock = self, time.perf_counter
            qsize = queue.qsize if queue is not None else None
            answers = self.answers = Answers(clock())
            self.compactor = Compactor() if self._compact else None
            lock = self._lock

            def send(data, _write=original):  # to Textual's writer thread (under the lock)
                t = clock()
                try:
                    _write(data)
                finally:
                    elapsed = clock() - t
                    answers.written += len(data)
                    if elapsed > SLOW_WRITE:
                        monitor.blocked += elapsed

            self._send = send
            self.pacer = Pacer(send, self.compactor)

            def write(data):
                if not data:
                    return
                monitor.written += len(data)
                monitor.writes += 1
                with lock:
                    if monitor.pacing and LEAVING in data:
                        # the app is leaving the terminal (its alternate screen): everything
                        # goes now, in order, whatever the link (nothing may stay behind; no
                        # query, its answer would come to whatever reads the terminal next)
                        asking, monitor.asking = monitor.asking, False
                        monitor._pace(False, repaint=False)
                        monitor.asking = asking
                    if monitor.pacing:
                        now = clock()
                        monitor.pacer.add(data, now, urgent=now < monitor.urgent_until)
                        monitor._pump()
                        if monitor._log is not None:
                            trace = monitor.pacer.trace
                            monitor._log.write(f"{clock():.3f} write {len(data)} pending {monitor.pacer.pending} "
                                               f"barriers {len(monitor.pacer._epochs) - 1} "
                                               f"urgent {int(now < monitor.urgent_until)} sent {trace}\n")
                            monitor.pacer.trace = []
                    else:
                        compactor = monitor.compactor
                        if compactor is not None:
                            try:
                                if monitor.first_rows is not None and monitor.slow:
                                    data = by_rows(data, monitor.first_rows())
                                data = compactor.compact(data)
                            except Exception:  # fail safe: Textual's bytes from now on, from no style
                                monitor.compactor = monitor.pacer.compactor = None
                                data = "\x1b[0m" + data
                        send(data)
                if qsize is not None and not monitor._urgent and qsize() >= URGENT_QUEUE:
                    monitor._urgent = True  # the writer is stuck: look now (after this frame)
                    try:
                        monitor.app.call_later(monitor._tick)
                    except Exception:
                        pass  # the next tick will do

            driver.write = write
            self._hooked, self._original = driver, original
            self._hook_answers(driver, write)
            self._queue = queue
            self.policy = LinkPolicy(float(self.app.refresh_hz), now=self.clock())
            self._applied = float(self.app.refresh_hz)
            log = os.environ.get(LOG_VAR)
            if log:
                self._log = open(log, "a", buffering=1, encoding="utf-8")
            self._timer = self.app.set_interval(self.interval, self._tick, name="link-monitor")
        except Exception:  # fail safe: whatever Textual looks like, the app runs as before
            self.stop()
            return False
        return True

    def _hook_answers(self, driver, write) -> None:
        """Write `PROBE` after every frame (the driver's `flush`) and take the terminal's answers
        (`events.CursorPosition`, on the driver's input thread) before they reach the app. Not
        for an inline driver, which asks for the cursor position itself."""
        from textual import events

        flush = getattr(driver, "flush", None)
        process = getattr(driver, "process_message", None)
        if getattr(driver, "is_inline", False) or not callable(flush) or not callable(process):
            return
        answers, clock, lock = self.answers, time.perf_counter, self._lock
        position = events.CursorPosition
        pressed = (events.Key, events.MouseDown, events.MouseUp, events.MouseScrollDown,
                   events.MouseScrollUp, events.Paste)
        resize = events.Resize

        def flush_and_probe(_flush=flush):
            if self.asking and not self.pacing:
                with lock:
                    self._send(PROBE)
                    answers.probe(clock())
            _flush()

        def process_message(message, _process=process):
            if isinstance(message, position) and (self.asking or self.waiting()):
                with lock:
                    answers.answer(clock())
                    if self.pacing:
                        self._pump()  # the link has room again: the next part
                return
            if isinstance(message, pressed):
                self.urgent_until = clock() + URGENT_TIME  # what the app writes now answers the user
            elif isinstance(message, resize) and self.pacing:
                with lock:
                    self.pacer.resized()  # laid out for the old size; Textual repaints it all
            _process(message)

        driver.flush = flush_and_probe
        driver.process_message = process_message
        self.asking = True

    def window(self) -> int:
        """Characters allowed on their way to the terminal while pacing: what the link carries in
        a round trip and WINDOW_TIME s (MIN_WINDOW at least)."""
        answers = self.answers
        rate = answers.drain_rate() if answers is not None else None
        if not rate:
            return MIN_WINDOW
        rtt = answers.rtt if answers.rtt < math.inf else 0.0
        return max(MIN_WINDOW, int(rate * (rtt + WINDOW_TIME)))

    def _pump(self) -> None:
        """Send the next part of what the pacer holds, if the link has room (under the lock)."""
        pacer, answers = self.pacer, self.answers
        if not pacer.pending:
            return
        room = self.window() - answers.unanswered()
        if room <= 0:
            return
        if pacer.pump(room, self.first_rows() if self.first_rows is not None else ()):
            self._send(PROBE)
            answers.probe(time.perf_counter(), busy=pacer.pending > 0)

    def _paced_rate(self, now: float) -> float | None:
        """While pacing: fewer frames while more than BACKLOG_TIME s of the link waits in the
        pacer (the rows on screen would fall that far behind), more once it has stayed nearly
        empty for UP_HOLD s; between PACED_FLOOR and the user's ceiling."""
        policy = self.policy
        link = self.answers.drain_rate() or MIN_WINDOW / WINDOW_TIME
        pending = self.pacer.pending
        since = now - policy._changed
        if pending <= link * BACKLOG_TIME / 4:
            self._paced_calm = min(self._paced_calm, now)
        else:
            self._paced_calm = math.inf
        new = None
        if pending > link * BACKLOG_TIME and since >= DOWN_HOLD and policy.rate > PACED_FLOOR:
            new = step_down(policy.rate, PACED_FLOOR)
        elif now - self._paced_calm >= UP_HOLD and since >= UP_HOLD and policy.rate < policy.ceiling:
            new = step_up(policy.rate, policy.ceiling)
        if new is not None:
            policy._set(new, now)
        return new

    def _set_pacing(self, on: bool, repaint: bool = True) -> None:
        with self._lock:
            self._pace(on, repaint)

    def _pace(self, on: bool, repaint: bool = True) -> None:
        """Pacing on or off (the caller holds the lock). Off: what the pacer holds goes now (a
        query after it while the app is still asking) and, with `repaint`, the app repaints in
        its true colours."""
        if on == self.pacing:
            return
        self.pacing = on
        if self.compactor is not None:
            self.compactor.eight_bit = on  # a third fewer bytes; approximate colours
        if on:
            self.pacer.forget_shown()  # written straight through until now
            self.pacings += 1
            return
        if self.pacer.drain() and self.asking:
            self._send(PROBE)
            self.answers.probe(time.perf_counter())
        if repaint and self.compactor is not None and self.policy is not None:
            try:  # the true colours again, everywhere (cells keep what was drawn last)
                self.app.call_later(self.app.refresh)
            except Exception:
                pass

    def stop_asking(self) -> float:
        """Write no more queries (the app is about to exit; the answers still on their way are
        still taken). Returns the seconds worth waiting for them: a round trip and what is
        unanswered at the link's rate, at most EXIT_WAIT."""
        with self._lock:
            self.asking = False
            self._pace(False, repaint=False)
            answers = self.answers
            if answers is None or not answers.working:
                return 0.0
            rate = answers.drain_rate() or MIN_WINDOW / WINDOW_TIME
            rtt = answers.rtt if answers.rtt < math.inf else 0.1
            return min(EXIT_WAIT, 2 * rtt + answers.unanswered() / rate + 0.05)

    def waiting(self) -> int:
        """Queries written and not answered yet."""
        answers = self.answers
        return 0 if answers is None else len(answers._probes)

    @property
    def slow(self) -> bool:
        """The link has been too slow for the frames lately: the rows in `first_rows` go first."""
        policy = self.policy
        return policy is not None and (policy.rate < policy.ceiling or (
            policy.link_rate is not None and self.clock() - policy.link_measured < LINK_MEMORY))

    @property
    def answered(self) -> bool:
        """The terminal answers the queries: the frame clock waits for them (`hold`)."""
        return self.asking and self.answers is not None and self.answers.working

    def hold(self) -> bool:
        """True while the frame clock should not draw: the last frames have not reached the
        terminal yet (they are still queued somewhere on the link, or in the pacer)."""
        answers = self.answers
        if not self.asking or answers is None:
            return False
        if self.pacing:  # the pacer keeps the newest cells: draw, the link takes what it can
            return False
        return answers.hold(time.perf_counter())

    def stop(self) -> None:
        """Send what the pacer holds, then remove the hooks (the driver's own write again) and
        the timer."""
        try:
            self.asking = False  # no query now: the app no longer reads the answers
            self._set_pacing(False, repaint=False)  # (the app is going)
        except Exception:
            pass
        if self._timer is not None:
            try:
                self._timer.stop()
            except Exception:
                pass
            self._timer = None
        if self._hooked is not None:
            for name in ("write", "flush", "process_message"):
                try:
                    if name in vars(self._hooked):
                        delattr(self._hooked, name)
                except Exception:
                    pass
            self._hooked = None
        self.policy = None
        self.asking = False
        self._queue = None
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- sampling ---------------------------------------------------------------------------
    def queued(self) -> int:
        """Characters waiting in the writer thread's queue."""
        queue = self._queue
        if queue is None or not queue.qsize():
            return 0
        try:
            return sum(len(item) for item in list(queue.queue) if item)
        except Exception:  # a queue of another shape: count writes as frames of unknown size
            return queue.qsize()

    def _tick(self) -> None:
        self._urgent = False
        policy = self.policy
        if policy is None:
            return
        try:
            now = self.clock()
            current = float(self.app.refresh_hz)
            if self._applied is not None and abs(current - self._applied) > 1e-9:
                # someone else set the rate (the user's `f`): the new ceiling
                self._applied = policy.set_ceiling(current, now)
            answers = self.answers
            if self.asking and answers.given_up(time.perf_counter()):
                self.asking = False  # this terminal does not answer: the writer's queue alone
            if self.answered:
                t = time.perf_counter()
                rate = answers.drain_rate()
                pace = rate is not None and rate < FAST_LINK
                if pace != self.pacing:
                    self._set_pacing(pace)
                if self.pacing:
                    with self._lock:
                        if answers.behind(t) > PACED_LOST:
                            answers.expire(t - PACED_LOST)  # answers lost: do not wait for them
                        self._pump()
                queued = answers.late(t)  # on its way anywhere: queue, pty, sshd, network
            else:
                queued = self.queued()
            if self.pacing:  # the pacer's backlog sets the rate
                new = self._paced_rate(now)
            else:
                new = policy.observe(now, queued, self.written, self.blocked)
            if self._log is not None:
                link = policy.link_rate
                self._log.write(f"{now:.3f} rate {policy.rate:g} queued {queued} written {self.written} "
                                f"writes {self.writes} "
                                f"blocked {self.blocked:.3f} backed {int(policy.backed)} output "
                                f"{policy.output(now):.0f} link {link and round(link)}"
                                f"{self._answers_log()}"
                                f"{' -> %g' % new if new is not None else ''}\n")
            if new is not None:
                self._apply(new)
        except Exception:
            self.stop()  # fail safe

    def _answers_log(self) -> str:
        answers = self.answers
        if not self.asking or answers is None:
            return ""
        now = time.perf_counter()
        with self._lock:
            oldest = self.pacer.oldest()
        return (f" pacing {int(self.pacing)} pending {self.pacer.pending} dropped {self.pacer.dropped}"
                f" waited {0 if oldest is None else now - oldest:.3f}"
                f" sent {self.pacer.sent} window {self.window()}"
                f" answers {answers.answers} unanswered {answers.unanswered()} late {answers.late(now)}"
                f" behind {answers.behind(now):.3f} rtt {answers.rtt:.3f} hold {int(answers.hold(now))}")

    def _apply(self, rate: float, notify: bool = True) -> None:
        lower = self._applied is not None and rate < self._applied
        self._applied = rate
        self.app.set_refresh_rate(rate)
        if not notify:
            return
        if lower and self._notify:
            self._notify = False
            self.app.notify(f"The terminal is not keeping up: {describe(rate)} for now "
                            "(more again when it catches up; f sets the most)", timeout=6)
        if self.on_change is not None:
            self.on_change(rate, self)


def describe(rate: float) -> str:
    """"2 frames/s", or "a frame every 4 s" below one."""
    return f"{rate:g} frames/s" if rate >= 1 else f"a frame every {1 / rate:g} s"

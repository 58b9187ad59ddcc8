"""Fixtures and helpers for the app-level tests (pilots and snapshots).

`make_test_app(...)` is `make_app(..., show_timing=False)`: nothing on screen depends on the
clock. `unthrottle(app)` sets the plots' redraw throttle to 0 (call it after mount and after
a layout switch, which builds new plots), so a change is drawn at once instead of up to a
second later. `wait_until(pilot, condition)` polls with short pilot pauses, for things that
happen in the training thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from textual.app import App
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tuinet.app import messages as m
from tuinet.app.app import TuinetApp, make_app
from tuinet.app.widgets.plots import SeriesPlot, TrainingPlots
from tuinet.app.widgets.status import StatusBar
from tuinet.session import TrainingSession

BATCH_PACE = 0.01  # seconds the `paced` fixture adds after each batch


@pytest.fixture
def make_test_app() -> Callable[..., TuinetApp]:
    """A factory: `make_test_app("xor", seed=0, epochs=3)`; timing hidden, autostart off, training
    in a thread (tests/app/test_process.py covers `training="process"`, what `tuinet` runs)."""

    def factory(preset="xor", **kwargs) -> TuinetApp:
        kwargs.setdefault("show_timing", False)
        kwargs.setdefault("seed", 0)
        kwargs.setdefault("training", "thread")
        kwargs.setdefault("pace", float("inf"))  # as fast as it goes (tests/app/test_replay.py covers the pace)
        return make_app(preset, **kwargs)

    return factory


@pytest.fixture
def paced(monkeypatch) -> None:
    """Training that leaves the CPU idle most of the time (a short sleep after each batch).

    Pilot key presses and pauses wait until the process is idle (`textual._wait.wait_for_idle`,
    at most a second each): with a CPU-bound training thread every key would take that long.
    Paced, a long run still makes steady progress (about 100 batches a second) while keys are
    handled at once. The training code itself is unchanged.
    """
    original = TrainingSession._one_batch

    def one_batch(self, *, force_event: bool) -> bool:
        result = original(self, force_event=force_event)
        time.sleep(BATCH_PACE)
        return result

    monkeypatch.setattr(TrainingSession, "_one_batch", one_batch)


def unthrottle(app: App) -> None:
    """No redraw throttle on any plot of the current screen; every pending change drawn now."""
    for plots in app.screen.query(TrainingPlots):
        plots.min_interval = 0
    for plot in app.screen.query(SeriesPlot):
        plot.min_interval = 0
        plot.redraw()


def no_cursor_blink(app: App) -> None:
    """Steady cursors in every Input of the current screen (as posting's snapshot tests do)."""
    for widget in app.screen.query(Input):
        widget.cursor_blink = False


async def started(pilot: Pilot) -> None:
    """Wait for the main screen, then take the plots' throttle off."""
    await pilot.pause()
    unthrottle(pilot.app)
    await pilot.pause()


async def settle(pilot: Pilot) -> None:
    """Let every training worker finish, then process the events it posted."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def wait_until(pilot: Pilot, condition: Callable[[], object], timeout: float = 10.0,
                     what: str = "condition") -> None:
    """Pause in short steps until `condition()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.01)


def status_text(app: App) -> str:
    return str(app.screen.query_one(StatusBar).render())


def static_text(widget: Static) -> str:
    return str(widget.render())


def notifications(seen: list) -> list[Notification]:
    """The notifications (toasts) posted, in order, whether or not they have timed out since."""
    return [message.notification for message in seen if isinstance(message, Notify)]


def events(seen: list, kind: type[m.SessionMessage]) -> list:
    """The distinct session events of one message kind in `seen`, in order.

    A session event reaches the hook several times (posted to the app and to each listening
    screen): the event object is the same, so count it once. An `EpochFinished` carries the
    epochs that ended in a row (`events`): each counts.
    """
    out, ids = [], set()
    for message in seen:
        if not isinstance(message, kind):
            continue
        for event in getattr(message, "events", (message.event,)):
            if id(event) not in ids:
                ids.add(id(event))
                out.append(event)
    return out

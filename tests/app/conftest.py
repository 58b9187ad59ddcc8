"""Fixtures and helpers for the app-level tests (pilots and snapshots).

`make_test_app(...)` is `make_app(..., show_timing=False)`: nothing on screen depends on the
clock. `unthrottle(app)` sets the plots' redraw throttle to 0 (call it after mount and after
a layout switch, which builds new plots), so a change is drawn at once instead of up to a
second later. `wait_until(pilot, condition)` polls with short pilot pauses, for things that
happen in the training thread. Every app draws for a truecolour terminal (`truecolor_terminal`,
autouse), whatever the runner's `TERM`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import textual.constants
from textual.app import App
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tuinet.app.app import TuinetApp, make_app
from tuinet.app.widgets.plots import SeriesPlot, TrainingPlots
from tuinet.app.widgets.status import StatusBar
from tuinet.session import TrainingSession

BATCH_PACE = 0.01  # seconds the `paced` fixture adds after each batch


@pytest.fixture(autouse=True)
def truecolor_terminal(monkeypatch) -> None:
    """Apps draw for a truecolour terminal whatever `TERM` and `COLORTERM` the test runner has
    (Textual reads them into `console.color_system`, and the boundary and heatmaps pick their
    colours by it); tests/app/test_colour_depth.py sets other depths itself."""
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "truecolor")


@pytest.fixture
def make_test_app() -> Callable[..., TuinetApp]:
    """A factory: `make_test_app("xor", seed=0, epochs=3)`; timing hidden, autostart off, training
    in a thread (tests/app/test_process.py covers `training="process"`, what `tuinet` runs)."""

    def factory(preset="xor", **kwargs) -> TuinetApp:
        kwargs.setdefault("show_timing", False)
        kwargs.setdefault("seed", 0)
        kwargs.setdefault("training", "thread")
        kwargs.setdefault("pace", float("inf"))  # as fast as it goes (tests/app/test_replay.py covers the pace)
        return recording(make_app(preset, **kwargs))

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


def untrottle_all(app: App) -> None:
    """`unthrottle`, and no redraw throttle on the views' heatmaps, boundary, neuron maps and confusion matrix."""
    from tuinet.app.widgets.boundary import DecisionBoundary, NeuronMaps
    from tuinet.app.widgets.confusion import ConfusionMatrixView
    from tuinet.app.widgets.heatmap import GradientNormPlot, WeightHeatmap

    unthrottle(app)
    for kind in (WeightHeatmap, DecisionBoundary, NeuronMaps, ConfusionMatrixView, GradientNormPlot):
        for widget in app.screen.query(kind):
            widget.min_interval = 0


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


def recording(app: TuinetApp) -> TuinetApp:
    """`app`, keeping every session event it folds into its live run in `app.folded` (in order):
    the tests' window on the event flow (the app itself keeps only the folded state)."""
    app.folded = []
    fold = app._fold

    def recorded(event) -> None:
        app.folded.append(event)
        fold(event)

    app._fold = recorded
    return app


def events(app: TuinetApp, kind: type) -> list:
    """The session events of one kind (`tuinet.session.EpochEnded`, ...) the app has folded, in order."""
    return [event for event in app.folded if isinstance(event, kind)]

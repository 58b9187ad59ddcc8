"""`TuinetApp`: the Textual app, and `make_app`, the one factory the CLI and the tests use."""

from __future__ import annotations

import time
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding

from tuinet.app import messages as m
from tuinet.app.commands import TuinetCommands
from tuinet.errors import TuinetError
from tuinet.presets import Experiment, load_preset
from tuinet.session import TrainingSession

REFRESH_RATES = (1.0, 2.0, 4.0, 8.0)  # UI updates per second while training
MIN_SIZE = (80, 24)


class TuinetApp(App):
    """Train a network and watch it learn.

    The `TrainingSession` lives here (shared by every screen); it runs in a thread worker and
    its events arrive as messages, which the app forwards to the screens listening.
    """

    TITLE = "tuinet"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {TuinetCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit_app", "Quit", id="quit", tooltip="Stop training and quit"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Keys and tips"),
    ]

    def __init__(self, experiment: Experiment, *, refresh_hz: float = 4.0, autostart: bool = False,
                 show_timing: bool = True) -> None:
        super().__init__()
        self.show_timing = show_timing  # False for snapshots and screenshots: no clocks or speeds on screen
        self.experiment = experiment
        self.refresh_hz = float(refresh_hz)
        self.autostart = autostart
        self.session: TrainingSession | None = None
        self.listeners: list = []
        self.run_started: float | None = None
        self.run_elapsed = 0.0
        self.sub_title = experiment.title or experiment.name

    # -- session ------------------------------------------------------------------------------
    def start_session(self, experiment: Experiment) -> TrainingSession:
        """Create the session for `experiment` (replacing any current one, which is stopped)."""
        old = self.session
        if old is not None:
            old.stop()
        session = TrainingSession(experiment, batch_event_interval=1 / self.refresh_hz,
                                  snapshot_interval=max(0.5, 2 / self.refresh_hz))
        session.sink = lambda event, s=session: self._dispatch(event, s)
        self.session, self.experiment = session, experiment
        self.run_elapsed, self.run_started = 0.0, None
        self.sub_title = experiment.title or experiment.name
        return session

    def _dispatch(self, event, session) -> None:
        """The session's sink: wrap the event and post it to the app and every listening screen."""
        self.post_message(m.wrap(event, session))
        for target in list(self.listeners):
            target.post_message(m.wrap(event, session))

    def on_session_state_changed(self, message: m.SessionStateChanged) -> None:
        if message.session is not self.session:
            return
        now = time.perf_counter()
        if message.event.state == "running":
            self.run_started = now
        elif self.run_started is not None:
            self.run_elapsed += now - self.run_started
            self.run_started = None

    def elapsed(self) -> float:
        extra = time.perf_counter() - self.run_started if self.run_started is not None else 0.0
        return self.run_elapsed + extra

    @property
    def running(self) -> bool:
        return self.session is not None and self.session.state == "running"

    def train(self, mode: str = "run") -> None:
        """Start training in the worker: "run" to the end, one "epoch" or one "batch"."""
        if self.session is None:
            return
        self._train_worker(self.session, mode)

    @work(thread=True, exclusive=False, group="training", exit_on_error=False)
    def _train_worker(self, session: TrainingSession, mode: str) -> None:
        if mode == "batch":
            session.step_batch()
        elif mode == "epoch":
            session.run_epoch()
        else:
            session.run()

    def set_refresh_rate(self, hz: float) -> None:
        self.refresh_hz = hz
        if self.session is not None:
            self.session.batch_event_interval = 1 / hz
            self.session.snapshot_interval = max(0.5, 2 / hz)

    def on_future_done(self, message: m.FutureDone) -> None:
        message.callback(message.future)

    def when_done(self, future, callback) -> None:
        """Run `callback(future)` on the UI thread once the future is done (now or later)."""
        future.add_done_callback(lambda f: self.post_message(m.FutureDone(f, callback)))

    # -- app lifecycle ------------------------------------------------------------------------
    def on_mount(self) -> None:
        from tuinet.app.screens.main import MainScreen

        if self.session is None:
            self.start_session(self.experiment)
        self.push_screen(MainScreen())
        if self.autostart:
            self.train("run")

    def action_quit_app(self) -> None:
        """Stop training after the current batch and quit; the worker ends on its own."""
        if self.session is not None:
            self.session.stop()
        self.exit()

    def action_help(self) -> None:
        from tuinet.app.screens.dialogs import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def open_preset(self, name_or_path: str) -> None:
        """Switch to another preset: stop the current run and start a fresh session."""
        try:
            experiment = load_preset(name_or_path)
            self.start_session(experiment)
        except TuinetError as exc:
            self.notify(str(exc), title="Cannot open preset", severity="error", timeout=10)
            return
        for target in list(self.listeners):
            target.post_message(m.SessionReadyMsg(self.session.ready_event(), self.session))
        self.notify(f"Opened preset {experiment.name}", timeout=3)


def make_app(preset: str | Path | Experiment = "spiral", *, seed: int | None = None, epochs: int | None = None,
             refresh_hz: float = 4.0, autostart: bool = False, show_timing: bool = True) -> TuinetApp:
    """The one factory for the CLI and the tests: a preset name/path (or Experiment) and overrides.

    `show_timing=False` hides everything that depends on the clock (samples/s, elapsed and
    remaining time, ms/step), so that snapshot tests and screenshots are repeatable.
    """
    experiment = preset if isinstance(preset, Experiment) else load_preset(preset)
    experiment = experiment.with_overrides(seed=seed, epochs=epochs)
    app = TuinetApp(experiment, refresh_hz=refresh_hz, autostart=autostart, show_timing=show_timing)
    app.start_session(experiment)
    return app


def run_app(experiment: Experiment, *, refresh_hz: float = 4.0, autostart: bool = False) -> None:
    """Run the app in this terminal (the CLI's entry point)."""
    app = TuinetApp(experiment, refresh_hz=refresh_hz, autostart=autostart)
    app.start_session(experiment)
    app.run()

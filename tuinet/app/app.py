"""`TuinetApp`: the Textual app, and `make_app`, the one factory the CLI and the tests use."""

from __future__ import annotations

import dataclasses
import gc
import math
import os
import threading
import time
from pathlib import Path

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.reactive import var

from tuinet.app import _strip_cycles, messages as m
from tuinet.app.commands import TuinetCommands
from tuinet.app.frames import REFRESH_RATES, default_refresh, heavy_period
from tuinet.errors import TuinetError, safe_text
from tuinet.presets import Experiment, load_preset
from tuinet.run import RunHistory, describe_change
from tuinet import session as s_
from tuinet.session import TrainingSession, default_pace, step_pace

_strip_cycles.install()  # no reference cycles through Textual's line caches (see the module)

MAX_GHOSTS = 3        # earlier runs drawn faintly on the plots
MIN_SIZE = (80, 24)
COMPACT_SIZE = (100, 30)  # below: one-line toasts (`TuinetApp.compact`)
SMALL_SIZE_ACTIONS = {"quit_app", "help", "command_palette", "mode"}  # what works below MIN_SIZE


def mark_too_small(screen) -> None:
    """Below `MIN_SIZE`, give `screen` the -too-small class (its CSS hides the panes) and put
    the message in its `#too-small` Static."""
    from textual.widgets import Static

    small = screen.app.too_small
    screen.set_class(small, "-too-small")
    if small:
        width, height = screen.app.size
        screen.query_one("#too-small", Static).update(
            f"Terminal too small: {width}x{height}.\ntuinet needs at least {MIN_SIZE[0]}x{MIN_SIZE[1]}: "
            "enlarge the window or reduce the font size.\nTraining keys wait until it fits; q quits.")


KEY_QUIET = 0.15  # seconds after a key press during which plots do not redraw for new data


def _screen(module: str, name: str):
    """Import a mode's screen class lazily and make one (keeps `tuinet --help` light)."""
    import importlib

    return getattr(importlib.import_module(f"tuinet.app.screens.{module}"), name)()


PREWARM_AFTER = 1.5  # seconds after mount before the other views are built in the background
PREWARM_GAP = 0.4    # seconds between two of them


class TuinetApp(App):
    """Train a network and watch it learn.

    The `TrainingSession` lives here (shared by every screen); it runs in a thread worker and
    its events arrive as messages, which the app forwards to the screens listening.
    """

    TITLE = "tuinet"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {TuinetCommands}
    ENABLE_COMMAND_PALETTE = True
    MODES = {
        "train": lambda: _screen("main", "MainScreen"),
        "weights": lambda: _screen("inside", "WeightsScreen"),
        "boundary": lambda: _screen("inside", "BoundaryScreen"),
        "data": lambda: _screen("inside", "DataScreen"),
    }
    DEFAULT_MODE = "train"
    MODE_KEYS = ("train", "weights", "boundary", "data")
    BINDINGS = [
        Binding("space", "toggle_run", "Play", id="play", tooltip="Start or pause training"),
        Binding("n", "step_batch", "Batch", id="step-batch", tooltip="Train exactly one batch"),
        Binding("N", "step_epoch", "Epoch", id="step-epoch", tooltip="Train to the end of this epoch"),
        Binding("r", "reset", "Reset", id="reset", tooltip="Re-initialise the weights from the seed"),
        Binding("o", "open_preset", "Preset", id="open-preset", tooltip="Open another preset"),
        Binding("S", "save_preset", "Save preset", id="save-preset", show=False,
                tooltip="Save the experiment (data, model, training, pace) as a preset file"),
        Binding("ctrl+s", "save_model", "Save", id="save", show=False, tooltip="Save the model to a file"),
        Binding("ctrl+l", "load_model", "Load", id="load", show=False, tooltip="Load a saved model"),
        # The footer shows one entry per pair ("<> Pace", ",. Replay"): room is short at 80x24.
        Binding("less_than_sign", "pace(-1)", "Pace", id="slower", key_display="<>",
                tooltip="Slower: fewer epochs per second (> faster)"),
        Binding("greater_than_sign", "pace(1)", "Faster", id="faster", key_display=">", show=False,
                tooltip="Faster: more epochs per second, up to max"),
        Binding("comma", "scrub(-1)", "Replay", id="scrub-back", key_display=",.",
                tooltip="Replay: one frame back in time (. forward; hold to scan)"),
        Binding("full_stop", "scrub(1)", "Forward", id="scrub-forward", key_display=".", show=False,
                tooltip="Replay: one frame forward in time"),
        # In a replay, enter and end are the timeline's whatever has the focus (the model table
        # binds enter to its layer editor), except a text field: see check_action.
        Binding("end", "live", "Live", id="live", show=False, priority=True,
                tooltip="Leave the replay: back to the live run"),
        Binding("enter", "branch", "Resume here", id="branch", priority=True,
                tooltip="Resume training from the replayed epoch"),
        Binding("G", "toggle_ghosts", "Ghosts", id="ghosts", show=False,
                tooltip="Show or hide earlier runs on the plots"),
        Binding("f", "cycle_refresh", "Refresh rate", id="refresh", show=False,
                tooltip="Frames per second: fewer for slow links"),
        Binding("1", "mode('train')", "Train", id="mode-train", show=False, tooltip="Train and watch"),
        Binding("2", "mode('weights')", "Weights", id="mode-weights", show=False, tooltip="Weight heatmaps"),
        Binding("3", "mode('boundary')", "Boundary", id="mode-boundary", show=False, tooltip="Decision boundary"),
        Binding("4", "mode('data')", "Data", id="mode-data", show=False, tooltip="Data split and confusion"),
        Binding("q", "quit_app", "Quit", id="quit", tooltip="Stop training and quit"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Keys and tips"),
    ]

    run_state: var[str] = var("ready", init=False)
    """The live run's state: ready, running, paused, finished, stopped, diverged or failed."""
    run_generation: var[int] = var(0, init=False)
    """Bumps when a new run starts (a reset, an apply, a load, a branch, another preset):
    every view refills from `live_run`."""
    frame: var[int] = var(0, init=False)
    """The frame clock: bumps at most `refresh_hz` times a second while the live run changes;
    the view on screen draws what changed since its last frame."""
    failures: var[int] = var(0, init=False)
    """Bumps on every failure the session reports (its message is `live_run.message`)."""
    status_message: var[str] = var("", init=False)
    """The note after the numbers on every view's status line (a divergence, the result...)."""
    pace: var[float] = var(math.inf, init=False)
    """Epochs per second the session trains at, at most (inf: max)."""
    pausing: var[bool] = var(False, init=False)
    """A pause was asked for and the session is finishing its batch."""
    refresh_hz: var[float] = var(2.0, init=False)
    """Frames per second while training (`f`, `--refresh`): the frame clock's rate."""
    note: var[str] = var("", init=False, always_update=True)
    """The newest line for the epoch log (saves, loads, a branch); the train view writes it."""
    replay_epoch: var[int | None] = var(None, init=False)
    """The epoch (epochs completed) of the frame being replayed; None: live."""
    show_ghosts: var[bool] = var(True, init=False)
    """Draw the earlier runs on the plots (`G`)."""
    ghosts_version: var[int] = var(0, init=False)
    """Bumps whenever the ghost runs change (screens watch it to redraw them)."""

    def __init__(self, experiment: Experiment, *, refresh_hz: float | None = None, autostart: bool = False,
                 show_timing: bool = True, training: str = "process", view: str = "train",
                 pace: float | None = None) -> None:
        super().__init__()
        if view not in self.MODE_KEYS:
            raise ValueError(f"view: expected one of {', '.join(self.MODE_KEYS)}, got {view!r}")
        self.initial_view = view
        if training not in ("process", "thread"):
            raise ValueError(f'training: expected "process" or "thread", got {training!r}')
        self.training = training  # where the session trains: a child process, or a thread of this one
        self.show_timing = show_timing  # False for snapshots and screenshots: no clocks or speeds on screen
        self.experiment = experiment
        self.set_reactive(TuinetApp.refresh_hz, float(refresh_hz if refresh_hz is not None else default_refresh()))
        self.autostart = autostart
        self.session: TrainingSession | None = None
        self._events: list = []               # session events waiting for the UI thread
        self._events_lock = threading.Lock()
        self._wake_pending = False
        self.run_started: float | None = None
        self.run_elapsed = 0.0
        self.live_run = RunHistory()               # the live run, folded from the session's events
        self.ghosts: list[RunHistory] = []    # earlier runs (after a reset, an apply, a branch), oldest first
        self.set_reactive(TuinetApp.pace, pace if pace is not None else default_pace(experiment))
        self._frame_due = False                # the live run changed since the last frame
        self._frame_timer = None
        self.link_monitor = None               # started on mount (tuinet.app.link)
        self.input_quiet_until = -1.0  # plots put off data-driven redraws until then after a key press
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # No sliding tab underlines or fades: each animation frame is a repaint that costs the
            # UI time and an SSH link bytes, for nothing a user of this app needs.
            self.animation_level = "none"
        self._update_subtitle()

    async def on_event(self, event) -> None:
        if isinstance(event, events.Key):
            # What a key changes is drawn first; plot redraws wait a moment (see plots.redraw_slot).
            self.input_quiet_until = time.monotonic() + KEY_QUIET
        await super().on_event(event)

    # -- session ------------------------------------------------------------------------------
    def start_session(self, experiment: Experiment) -> TrainingSession:
        """Create the session for `experiment` (replacing any current one, which is stopped)."""
        old = self.session
        cls, extra = TrainingSession, {}
        if self.training == "process":
            from tuinet.remote import ProcessSession as cls

            # started after the first frame (on_mount), or by the first command
            extra = {"start": self.is_running}
        if old is not None and experiment.name != old.experiment.name:
            self.set_reactive(TuinetApp.pace, default_pace(experiment))  # another preset: its own pace
        holder = []
        session = cls(experiment, sink=lambda event: self._dispatch(event, holder[0]),
                      batch_event_interval=1 / self.refresh_hz, snapshot_interval=heavy_period(self.refresh_hz),
                      track_confusion=True, pace=self.pace, frames=True, **extra)
        holder.append(session)
        if old is not None:
            old.close(timeout=0.3)
        self.session, self.experiment = session, experiment
        self.run_elapsed, self.run_started = 0.0, None
        self.live_run = RunHistory()
        self.ghosts = []
        self.live_run.apply(session.ready_event())
        first = session.last_snapshot or session.snapshot(timeout=0.02)
        if first is not None:  # the initial weights: the timeline's first frame
            self.live_run.apply(dataclasses.replace(first, frame=True))
        self.replay_epoch = None
        if self.is_running:  # a preset opened in the app: every view starts over
            self.ghosts_version += 1
            self.status_message = ""
            self.run_state = session.state
            self.run_generation += 1
        else:
            self.set_reactive(TuinetApp.run_state, session.state)
        self._update_subtitle()
        return session

    # -- the live run and the earlier ones --------------------------------------------------
    @property
    def last_confusion(self):
        """(matrix, 1-based epoch) of the live run's newest confusion matrix, or None."""
        return self.live_run.confusion

    @property
    def grad_norms(self):
        """(step, {layer: norm}) of the live run."""
        return self.live_run.grad_norms

    @property
    def samples_per_second(self) -> float:
        """The last training speed reported (for views shown later)."""
        return self.live_run.samples_per_second

    def _fold(self, event) -> None:
        """Fold a current-session event into the live run; a new run (reset, apply, branch)
        turns the old one into a ghost first."""
        if isinstance(event, s_.SessionReady):
            old = self.live_run
            branch = event.start_epoch and not event.resumed  # the same run, from one of its frames
            if old.epochs_done > (event.start_epoch if branch else 0):
                ghost = RunHistory(name=old.name, experiment=old.experiment, epochs=old.epochs,
                                   history=old.ghost_history(), test_results=dict(old.test_results))
                change = describe_change(old.experiment, event.experiment)
                if branch:
                    ghost.label = change or f"before resuming at {event.start_epoch}"
                else:
                    ghost.label = change or f"run {len(self.ghosts) + 1}"
                self.ghosts = (self.ghosts + [ghost])[-MAX_GHOSTS:]
                self.ghosts_version += 1
            if self.replay_epoch is not None and not branch:
                self.replay_epoch = None
        self.live_run.apply(event)

    def previous_run(self) -> RunHistory | None:
        """The newest ghost, for comparisons ("val loss 0.08, last run 0.12")."""
        return self.ghosts[-1] if self.ghosts else None

    def versus_last_run(self) -> str:
        """"val loss 0.08, last run 0.12": the live run's final loss (validation when there is
        one) against the previous run's; empty without a previous run or the values."""
        previous = self.previous_run()
        if previous is None:
            return ""
        key = "val_loss" if "val_loss" in self.live_run.history else "loss"
        now, before = self.live_run.final_value(key), previous.final_value(key)
        if now is None or before is None:
            return ""
        return f"{key.replace('_', ' ')} {now:.4g}, last run {before:.4g}"

    def action_toggle_ghosts(self) -> None:
        self.show_ghosts = not self.show_ghosts
        if not self.ghosts:
            self.notify("No earlier runs yet: they appear after a reset, an apply or a resume", timeout=3)

    # -- pace ---------------------------------------------------------------------------------
    def watch_pace(self, pace: float) -> None:
        if self.session is not None:
            self.session.set_pace(pace)  # at once, also mid-run

    def action_pace(self, direction: int) -> None:
        self.pace = step_pace(self.pace, direction)

    # -- replay -------------------------------------------------------------------------------
    @property
    def replay_frame(self):
        """The frame being replayed (a `WeightSnapshot`), or None when live."""
        if self.replay_epoch is None:
            return None
        return self.live_run.timeline.nearest(self.replay_epoch)

    def previous_frame(self, frame):
        """The frame before `frame` in the live run's timeline (for updates), or None."""
        frames = self.live_run.timeline.frames
        for before, this in zip(frames, frames[1:]):
            if this is frame:
                return before
        return None

    def action_scrub(self, step: int) -> None:
        """`,` one frame back, `.` one forward (from live, `,` goes to the frame before the newest)."""
        frames = self.live_run.timeline.epochs
        if not frames:
            self.notify("Nothing recorded yet: train first, then scrub back with ,", timeout=3)
            return
        if self.replay_epoch is None:
            if step > 0:
                return  # already live
            index = len(frames) - 1 if frames[-1] < self.live_run.epoch else len(frames) - 2
        else:
            index = self.live_run.timeline.index_of(self.replay_epoch) + step
            if index >= len(frames) or (index == len(frames) - 1 and frames[-1] >= self.live_run.epoch
                                        and self.session.state == "running"):
                self.replay_epoch = None  # past the newest frame of a running run: live again
                return
        index = max(0, min(index, len(frames) - 1))
        self.replay_epoch = frames[index]

    def action_live(self) -> None:
        if self.replay_epoch is not None:
            self.replay_epoch = None

    def action_branch(self) -> None:
        """Resume training from the replayed frame (weights, and optimizer state when recorded)."""
        frame = self.replay_frame
        if frame is None:
            self.notify("Scrub back with , first: enter resumes from the replayed epoch", timeout=4)
            return
        if self.session.state == "running":
            self.session.pause()
        try:
            self.session.restore(frame)
        except TuinetError as exc:
            self.notify(str(exc), title="Cannot resume", severity="error", timeout=10)
            return
        how = "its optimizer state" if frame.optimizer else "a fresh optimizer"
        self.replay_epoch = None
        self._note(f"Resumed from epoch {frame.epoch} with {how}; the abandoned run stays as a ghost")
        self.notify(f"Resumed from epoch {frame.epoch}: space trains on", timeout=3)  # the log says more

    def check_action(self, action: str, parameters) -> bool | None:
        """Below the minimum size nothing can be seen, so nothing trains or changes unseen:
        only quit, help, the palette and the view keys work (the footer shows just those).
        `enter` resumes only from a replayed frame (elsewhere it belongs to the focused widget)."""
        if self.too_small and action not in SMALL_SIZE_ACTIONS:
            return False
        if action in ("branch", "live"):
            if self.replay_epoch is None or self._typing():
                return False  # the key goes on to the focused widget
        return True

    def _typing(self) -> bool:
        """A dialog is open or a text field has the focus: its keys are its own."""
        from textual.screen import ModalScreen
        from textual.widgets import Input, Select, TextArea

        if isinstance(self.screen, ModalScreen):
            return True
        focused = self.focused
        return isinstance(focused, (Input, TextArea)) or (isinstance(focused, Select) and focused.expanded)

    def watch_replay_epoch(self) -> None:
        self.refresh_bindings()

    def _dispatch(self, event, session) -> None:
        """The session's sink (any thread): queue the event and wake the app at most once.

        Posting to the UI from the training thread costs the training thread time, and small
        problems produce hundreds of events a second: so events wait in a list and one
        `EventsPending` message at a time wakes the app, which drains them all.
        """
        with self._events_lock:
            self._events.append((event, session))
            if self._wake_pending:
                return
            self._wake_pending = True
        self.post_message(m.EventsPending())

    def on_events_pending(self, message: m.EventsPending) -> None:
        """Drain the queued events: fold each into the live run, in order, and tell the views
        of what cannot wait (a new run, a new state, a failure) at once; the rest they draw at
        the next tick of the frame clock."""
        with self._events_lock:
            events_, self._events = self._events, []
            self._wake_pending = False
        for event, session in events_:
            if session is not self.session:
                continue  # a replaced session's last words
            self._fold(event)
            if isinstance(event, s_.SessionReady):
                self._draw_frame()  # what the old run had left to show
                if not event.start_epoch or event.resumed:  # a new model: the last run's note and time are stale
                    self.run_elapsed = 0.0
                    self.run_started = time.perf_counter() if self.run_started is not None else None
                self.status_message = ""
                self.run_generation += 1
            elif isinstance(event, s_.StateChanged):
                self._draw_frame()  # a paused or finished run shows its last epochs at once
                self._state_changed(event.state)
            elif isinstance(event, s_.Failed):
                self.failures += 1
            else:
                self._frame_due = True

    def _state_changed(self, state: str) -> None:
        now = time.perf_counter()
        if state == "running":
            self.run_started = now
            self.status_message = ""
        elif self.run_started is not None:
            self.run_elapsed += now - self.run_started
            self.run_started = None
        self.pausing = False
        self.run_state = state

    # -- the frame clock ------------------------------------------------------------------------
    def _start_frame_clock(self) -> None:
        if self._frame_timer is not None:
            self._frame_timer.stop()
        self._frame_timer = self.set_interval(1 / self.refresh_hz, self._tick, name="frame-clock")

    def _tick(self) -> None:
        if self._frame_due and not (self.link_monitor is not None and self.link_monitor.hold()):
            self._draw_frame()  # (held while the last frames are still on their way to the terminal)

    def _draw_frame(self) -> None:
        """One frame: the view on screen draws what changed in the live run since its last one."""
        self._frame_due = False
        self.frame += 1

    @property
    def replay_label(self) -> str:
        return "" if self.replay_epoch is None else f"replay epoch {self.replay_epoch}/{self.live_run.epoch}"

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
        """Frames per second while training: the frame clock, and how often the session sends
        its progress and weights (the views watch `refresh_hz` for their own redraws)."""
        self.refresh_hz = hz

    @property
    def redraw_spacing(self) -> float:
        """Seconds between two plot redraws, app-wide: the three epoch plots share a frame's time,
        so that each redraws at the frame rate without two building a figure in one frame."""
        from tuinet.app.widgets.plots import REDRAW_SPACING

        return min(REDRAW_SPACING, 1 / (3 * self.refresh_hz))

    def watch_refresh_hz(self, hz: float) -> None:
        if self.session is not None:
            self.session.batch_event_interval = 1 / hz
            self.session.snapshot_interval = heavy_period(hz)
        if self._frame_timer is not None:
            self._start_frame_clock()

    def on_future_done(self, message: m.FutureDone) -> None:
        message.callback(message.future)

    def when_done(self, future, callback) -> None:
        """Run `callback(future)` on the UI thread once the future is done (now or later)."""
        future.add_done_callback(lambda f: self.post_message(m.FutureDone(f, callback)))

    # -- app lifecycle ------------------------------------------------------------------------
    def _update_subtitle(self) -> None:
        """The preset, then the four views with their keys; the current one in brackets."""
        try:
            current = self.current_mode
        except Exception:  # before the app runs
            current = self.DEFAULT_MODE
        views = "  ".join(f"[{i} {name}]" if name == current else f"{i} {name}"
                          for i, name in enumerate(self.MODE_KEYS, start=1))
        # the view names always fit: the preset's title gives way (the header's icon takes 8
        # columns and the clock's space 1, "tuinet — " and "  ·  " 14 more)
        room = max(8, min(60, self.size.width - len(views) - 24)) if self.size.width else 60
        self.sub_title = f"{safe_text(self.experiment.title or self.experiment.name, limit=room)}  ·  {views}"

    def on_mount(self) -> None:
        if self.session is None:
            self.start_session(self.experiment)
        if self.initial_view != self.DEFAULT_MODE:
            self.switch_mode(self.initial_view)
        self._update_subtitle()
        self._start_frame_clock()
        from tuinet.app.link import LinkMonitor

        # fewer frames when the terminal does not drain them; on a slow link the header (which
        # view) and the status line (where the run is) go first
        self.link_monitor = LinkMonitor(self, first_rows=lambda: (1, self.size.height - 1))
        self.link_monitor.start()
        # Everything built so far lives as long as the app: keep it out of the collector's
        # full passes, whose 50-80 ms pauses were the slowest key presses.
        self.call_after_refresh(gc.freeze)
        self.call_after_refresh(self.session.start)  # the training process, once the first frame is out
        self.set_timer(PREWARM_AFTER, self._prewarm_views)
        if self.autostart:
            self.call_after_refresh(self.train, "run")

    def _prewarm_views(self, headless: bool = False) -> None:
        """Build the views not shown yet in the background, one at a time after the first paint,
        so that the first switch to one is as quick as the later ones: Textual builds a view's
        screen on its first switch and then re-reads all the CSS (about 250 of the 350 ms a
        first switch took, against 100 ms later). The screen is built and styled as a suspended
        one; switching to it resumes it. Uses Textual's private mode stacks: if they are not as
        expected, nothing is done (the first switch is just slower)."""
        try:
            stacks, modes = self._screen_stacks, self._modes
            todo = [m for m in self.MODE_KEYS if m != self.current_mode and m not in stacks and m in modes]
            if not todo or (self.is_headless and not headless) or not self.is_running:
                return
            mode = todo[0]
            screen, _ = self._get_screen(modes[mode]())
            self._load_screen_css(screen)
            stacks[mode] = [screen]

            def styled() -> None:
                if screen.is_mounted:
                    self.stylesheet.update(screen)
                    screen._css_update_count = self._css_update_count
                if len(todo) > 1:
                    self.set_timer(PREWARM_GAP, lambda: self._prewarm_views(headless))

            screen.call_after_refresh(styled)
        except Exception:
            pass

    @property
    def too_small(self) -> bool:
        """Below `MIN_SIZE`: the screens show a message instead of their panes."""
        width, height = self.size
        return width < MIN_SIZE[0] or height < MIN_SIZE[1]


    @property
    def compact(self) -> bool:
        """A small terminal (under 100x30): notes are one-line toasts, so they cover little."""
        width, height = self.size
        return width < COMPACT_SIZE[0] or height < COMPACT_SIZE[1]

    def on_resize(self, event) -> None:
        self.set_class(self.compact, "-compact")
        self._update_subtitle()
        self.refresh_bindings()

    def action_mode(self, mode: str) -> None:
        if mode not in self.MODES or mode == self.current_mode:
            return
        self.switch_mode(mode)
        self._update_subtitle()

    # -- training controls (every screen) -----------------------------------------------------
    def _finished_hint(self) -> bool:
        if self.session.finished:
            self.notify("Training is finished: press r to reset, or raise the epochs in the training settings",
                        timeout=5)
            return True
        return False

    def action_toggle_run(self) -> None:
        if self.replay_epoch is not None:
            self.replay_epoch = None  # space leaves the replay first
            return
        if self.session.state == "running":
            self._pause()
        elif not self._finished_hint():
            self.train("run")

    def action_step_batch(self) -> None:
        if self.session.state == "running":
            self._pause()
        elif not self._finished_hint():
            self.train("batch")

    def action_step_epoch(self) -> None:
        if self.session.state == "running":
            self._pause()
        elif not self._finished_hint():
            self.train("epoch")

    def _pause(self) -> None:
        """Ask the session to pause, and say so at once: it stops after the batch it is in,
        which on a big model can take a while."""
        self.session.pause()
        self.pausing = self.run_state == "running"  # the session's "paused" (or "finished") ends it

    def action_reset(self) -> None:
        self.session.pause()
        self.session.reset()
        self.run_elapsed, self.run_started = 0.0, None
        self.notify("Weights reset from the seed", timeout=3)

    def action_open_preset(self) -> None:
        from tuinet.app.screens.dialogs import PresetPicker

        def chosen(name: str | None) -> None:
            if name:
                self.open_preset(name)

        self.push_screen(PresetPicker(self.session.experiment.name), chosen)

    def _note(self, text: str) -> None:
        self.note = text

    def action_save_model(self) -> None:
        from tuinet.app.screens.dialogs import PathPrompt

        def chosen(path: str | None) -> None:
            if path:
                self.when_done(self.session.save_model(path), self._saved)

        self.push_screen(PathPrompt("Save the model to", f"{self.session.experiment.name}.tuinet"), chosen)

    def _saved(self, future) -> None:
        try:
            path = future.result()
        except (TuinetError, OSError) as exc:
            self.notify(str(exc), title="Save failed", severity="error", timeout=10)
            return
        self._note(f"Model saved to {path}")
        self.notify(f"Model saved to {path}", timeout=4)

    def export_onnx(self) -> None:
        """Palette command: write `<preset name>.onnx` where "Save model" suggests its file (the
        working folder). The session saves the model to a scratch file between batches (it may
        live in a child process); this process loads that file and exports it."""
        import tempfile

        folder = tempfile.mkdtemp(prefix="tuinet-export-")
        scratch = os.path.join(folder, "model.tuinet")
        target = f"{self.session.experiment.name}.onnx"
        self.when_done(self.session.save_model(scratch), lambda f: self._exported(f, folder, scratch, target))

    def _exported(self, future, folder: str, scratch: str, target: str) -> None:
        import shutil

        try:
            future.result()
            from tuinet.nn.onnx_export import export_onnx
            from tuinet.nn.serialization import load_model

            path = export_onnx(load_model(scratch), target)
        except (TuinetError, OSError) as exc:
            self.notify(safe_text(exc, limit=None), title="ONNX export failed", severity="error", timeout=10)
            return
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self._note(f"Model exported to {path}")
        self.notify(f"Model exported to {path}", timeout=4)

    def action_load_model(self) -> None:
        from tuinet.app.screens.dialogs import PathPrompt

        def chosen(path: str | None) -> None:
            if path:
                self.session.pause()
                self.when_done(self.session.load_weights_from(path), self._loaded)

        self.push_screen(PathPrompt("Load a model from", f"{self.session.experiment.name}.tuinet",
                                    must_exist=True), chosen)

    def _loaded(self, future) -> None:
        try:
            path = future.result()
        except (TuinetError, OSError) as exc:
            self.notify(str(exc), title="Load failed", severity="error", timeout=10)
            return
        except Exception as exc:  # noqa: BLE001 - a file the loader let through must not end the app
            self.notify(f"{type(exc).__name__}: {exc}", title="Load failed (a tuinet bug: please report it)",
                        severity="error", timeout=15)
            return
        done, epochs = self.session.epoch, self.session.epochs
        text = f"Model loaded from {path}" + (f": {done} of {epochs} epochs done" if done else "")
        if done >= epochs:
            text += " (finished: raise the epochs in the training settings to train on)"
        self._note(text)
        self.notify(text, timeout=4)

    def action_save_preset(self) -> None:
        from tuinet.app.screens.dialogs import save_preset_action

        save_preset_action(self)

    def action_cycle_refresh(self) -> None:
        rates = REFRESH_RATES
        monitor = self.link_monitor
        chosen = monitor.ceiling if monitor is not None else self.refresh_hz  # not a rate the link forced
        nxt = rates[(rates.index(chosen) + 1) % len(rates)] if chosen in rates else rates[0]
        if monitor is not None:
            monitor.ceiling = nxt  # the user's choice: the link monitor stays at or below it
        else:
            self.set_refresh_rate(nxt)
        self.notify(f"Refresh rate: {nxt:g} frames per second", timeout=3)

    def action_quit_app(self) -> None:
        """Stop training after the current batch and quit; the worker ends on its own."""
        if self.session is not None:
            self.session.stop()
        self.exit()

    def exit(self, *args, **kwargs) -> None:
        """Exit, once the terminal has answered the link monitor's last queries (at most a
        second): an answer that came after the app stopped reading would land in the shell as
        text (`^[[1;1R`)."""
        monitor = self.link_monitor
        if monitor is None or not monitor.asking:
            super().exit(*args, **kwargs)
            return
        deadline = time.monotonic() + monitor.stop_asking()

        def done() -> None:
            if monitor.waiting() and time.monotonic() < deadline:
                self.set_timer(0.02, done)
            else:
                App.exit(self, *args, **kwargs)

        done()

    def on_unmount(self) -> None:
        """End a training process with the app (it would also end on its own when the pipe closes)."""
        if self.link_monitor is not None:
            self.link_monitor.stop()
        if self.session is not None:
            self.session.close(timeout=0.3)

    def action_help(self) -> None:
        from tuinet.app.screens.dialogs import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Textual's `notify`, never read as markup and with control characters escaped; in a
        small terminal (`compact`) a toast of two lines at most, title included (an error three),
        for a few seconds.

        Messages carry file names, preset titles and column names, which must show as written
        (`[bold]` stays text) and must not move the cursor or retitle the terminal (ESC is shown
        as `\\x1b`); line breaks in the message itself are kept.
        """
        text = "\n".join(safe_text(line, limit=300) for line in str(message).split("\n"))
        if self.compact:
            # two lines with the title (an error three), a few seconds: the whole message is in the log or the status line
            lines = (3 if severity == "error" else 2) - (1 if title else 0)
            width = max(20, min(self.size.width // 2, 60) - 3) * lines
            first = text.split("\n")[0]
            text = first if len(first) <= width else first[: width - 1].rstrip() + "…"
            timeout = min(timeout if timeout is not None else 4.0, 4.0 if severity != "error" else 6.0)
        super().notify(text, title=safe_text(title), severity=severity, timeout=timeout, markup=False)

    def open_preset(self, name_or_path: str) -> None:
        """Switch to another preset: stop the current run and start a fresh session."""
        try:
            experiment = load_preset(name_or_path)
            self.start_session(experiment)
        except TuinetError as exc:
            self.notify(str(exc), title="Cannot open preset", severity="error", timeout=10)
            return
        self.notify(f"Opened preset {experiment.name}", timeout=3)


def make_app(preset: str | Path | Experiment = "spiral", *, seed: int | None = None, epochs: int | None = None,
             refresh_hz: float | None = 2.0, autostart: bool = False, show_timing: bool = True,
             training: str = "process", view: str = "train", pace: float | None = None) -> TuinetApp:
    """The one factory for the CLI and the tests: a preset name/path (or Experiment) and overrides.

    `training="process"` (the default, what `tuinet` runs) trains in a child process, so the UI
    and training never compete for one interpreter; `"thread"` trains in a thread of this
    process (the tests' default: quicker to start, and training code can be patched).

    `show_timing=False` hides everything that depends on the clock (samples/s, elapsed and
    remaining time, ms/step), so that snapshot tests and screenshots are repeatable.
    """
    experiment = preset if isinstance(preset, Experiment) else load_preset(preset)
    experiment = experiment.with_overrides(seed=seed, epochs=epochs)
    app = TuinetApp(experiment, refresh_hz=refresh_hz, autostart=autostart, show_timing=show_timing,
                    training=training, view=view, pace=pace)
    app.start_session(experiment)
    return app


def run_app(experiment: Experiment, *, refresh_hz: float | None = None, autostart: bool = False,
            view: str = "train", pace: float | None = None) -> None:
    """Run the app in this terminal (the CLI's entry point)."""
    app = TuinetApp(experiment, refresh_hz=refresh_hz, autostart=autostart, view=view, pace=pace)
    app.start_session(experiment)
    app.run()

"""`MainScreen`: train and watch — architecture, hyperparameters, live plots, status and log.

Wide terminals (>= 150x40) get the panes side by side; smaller ones get tabs. Below 80x24 a
"terminal too small" message replaces the screen. The screen reads the session only through
its events and a few cheap, thread-safe accessors, and never waits on a training step.
"""

from __future__ import annotations

import dataclasses
import math
import time

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Header, Static

from tuinet.app import messages as m
from tuinet.app.arrays import HistoryMirror
from tuinet.app.widgets.architecture import ArchitecturePane
from tuinet.app.widgets.hyperparams import HyperParamsPane
from tuinet.app.widgets.plots import TrainingPlots
from tuinet.app.widgets.status import EpochLog, StatusBar
from tuinet.app.widgets.tabs import TabBar
from tuinet.errors import TuinetError

WIDE = (150, 40)
TABS = (("plots", "Plots"), ("architecture", "Model"), ("hyperparams", "Training"), ("log", "Log"))
"""The narrow layout's tabs: (id of the pane widget, label), in `]` order."""


def current_l2(layers: tuple[dict, ...]) -> float | None:
    """The common L2 factor on the kernels, if every regularized kernel shares one."""
    values = set()
    for spec in layers:
        reg = spec.get("kernel_regularizer")
        if isinstance(reg, dict) and reg.get("name") in ("l2", "L2"):
            values.add(float((reg.get("config") or {}).get("l2", 0.01)))
        elif reg in ("l2", "L2"):
            values.add(0.01)
    return values.pop() if len(values) == 1 else None


def with_l2(layers: tuple[dict, ...], l2: float) -> tuple[dict, ...]:
    """Layer specs with an L2 penalty of `l2` on every kernel (0 removes it)."""
    out = []
    for spec in layers:
        spec = dict(spec)
        if spec["type"] in ("Dense", "Conv1D", "Conv2D", "SimpleRNN", "LSTM", "GRU"):
            if l2 > 0:
                spec["kernel_regularizer"] = {"name": "l2", "config": {"l2": l2}}
            else:
                spec.pop("kernel_regularizer", None)
        out.append(spec)
    return tuple(out)


class MainScreen(Screen):
    """Train and watch."""

    BINDINGS = [
        Binding("ctrl+a", "apply", "Apply", id="apply", tooltip="Apply edits: rebuild the model"),
        Binding("right_square_bracket", "next_tab", "Tab", id="next-tab", key_display="]",
                tooltip="Next tab (narrow terminals)"),
        Binding("left_square_bracket", "prev_tab", "Previous tab", id="prev-tab", key_display="[", show=False,
                tooltip="Previous tab (narrow terminals)"),
        Binding("g", "toggle_log", "Log scale", id="log-scale", show=False, tooltip="Log scale on the plots"),
    ]

    DEFAULT_CSS = """
    MainScreen #body { height: 1fr; }
    MainScreen #side { width: 58; }
    MainScreen #side ArchitecturePane { height: 1fr; border: round $primary-muted; }
    MainScreen #side HyperParamsPane { border: round $primary-muted; }
    MainScreen #side HyperParamsPane { height: auto; max-height: 60%; }
    MainScreen #main TrainingPlots { height: 2fr; }
    MainScreen #main EpochLog { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.layout_kind = "wide"
        self._pending_epochs = []
        self._history = HistoryMirror()  # the session's history as arrays, for the diagnosis

    # -- layout -------------------------------------------------------------------------------
    def _kind(self) -> str:
        w, h = self.app.size
        return "wide" if w >= WIDE[0] and h >= WIDE[1] else "narrow"

    def compose(self) -> ComposeResult:
        self.layout_kind = self._kind()
        self._tab_bar = self._switcher = None
        yield Header(show_clock=False, icon="◉")
        if self.layout_kind == "wide":
            with Horizontal(id="body", classes="view-body"):
                with Vertical(id="side"):
                    yield ArchitecturePane(id="architecture")
                    yield HyperParamsPane(id="hyperparams")
                with Vertical(id="main"):
                    yield TrainingPlots(id="plots")
                    yield EpochLog(id="log")
        else:
            # One widget for the tab bar and the panes straight in a ContentSwitcher: a key press
            # repaints the bar and the new pane, with no wrappers to restyle or paint behind it.
            self._tab_bar = TabBar(TABS, id="tabs", classes="view-body")
            self._switcher = ContentSwitcher(id="body", initial=TABS[0][0], classes="view-body")
            yield self._tab_bar
            with self._switcher:
                yield TrainingPlots(id="plots")
                yield ArchitecturePane(id="architecture")
                yield HyperParamsPane(id="hyperparams")
                yield EpochLog(id="log")
        yield Static("", id="too-small")  # app.mark_too_small writes the message
        yield StatusBar(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.app.listeners.append(self)
        self._check_size()
        self.fill_from_session()
        self.watch(self.app, "replay_epoch", self._replay_changed, init=False)
        self.watch(self.app, "ghosts_version", self._ghosts_changed, init=False)
        self.watch(self.app, "show_ghosts", self._ghosts_changed, init=False)

    def _replay_changed(self, epoch: int | None = None) -> None:
        """The plots mark the replayed epoch with a vertical cursor."""
        self.query_one(TrainingPlots).set_cursor(self.app.replay_epoch)

    def _ghosts_changed(self, _=None) -> None:
        app = self.app
        ghosts = [(g.label, g.history) for g in app.ghosts] if app.show_ghosts else []
        self.query_one(TrainingPlots).set_ghosts(ghosts)

    def on_unmount(self) -> None:
        if self in self.app.listeners:
            self.app.listeners.remove(self)

    async def on_resize(self, event) -> None:
        self._check_size()
        if self._kind() != self.layout_kind:
            # The session refills the panes and plots; what only the widgets hold is carried over.
            log_lines = list(self.query_one(EpochLog).lines)
            log_scale = self.query_one(TrainingPlots).log_scale
            arch = self.query_one(ArchitecturePane)
            layers = arch.edits() if arch.dirty else None  # unapplied edits survive the new layout
            hyper = self.query_one(HyperParamsPane)
            form = hyper.edits() if hyper.dirty else None
            await self.recompose()
            self.fill_from_session()
            self.query_one(EpochLog).write_lines(log_lines)
            self.query_one(TrainingPlots).log_scale = log_scale
            if layers is not None:
                self.query_one(ArchitecturePane).restore_edits(layers)
            if form is not None:
                self.query_one(HyperParamsPane).restore_edits(form)
            if self._tab_bar is not None and self.focused is None:
                self._tab_bar.focus()  # as at start: the bar has the focus, so ←/→ switch tabs

    def _check_size(self) -> None:
        from tuinet.app.app import mark_too_small

        mark_too_small(self)

    # -- filling from the session -------------------------------------------------------------
    @property
    def session(self):
        return self.app.session

    def fill_from_session(self) -> None:
        """(Re)load every widget from the session's current state (after mount, recompose, reset)."""
        session = self.session
        if session is None:
            return
        exp = session.experiment
        self.query_one(ArchitecturePane).load(exp.model.layers, tuple(session.prepared.x_train.shape[1:]))
        self.query_one(HyperParamsPane).load(exp.train, l2=current_l2(exp.model.layers))
        plots = self.query_one(TrainingPlots)
        run = self.app.live_run
        history = dict(run.history) or {k: [] for k in self._expected_keys(exp)}
        plots.set_history(history, run.batch_loss_history(), session.steps_per_epoch,
                          end_step=run.epoch * session.steps_per_epoch + run.batch)
        self._ghosts_changed()
        self._replay_changed()
        status = self.query_one(StatusBar)
        status.show_session(session, elapsed=self.app.elapsed(), show_timing=self.app.show_timing)
        self.app._update_subtitle()

    @staticmethod
    def _expected_keys(exp) -> list[str]:
        """History keys before the first epoch, so the plots know the metric up front."""
        keys = ["loss", *exp.train.metrics]
        return keys + [f"val_{k}" for k in keys] if exp.data.split[1] > 0 else keys

    # -- session messages ---------------------------------------------------------------------
    def _current(self, message: m.SessionMessage) -> bool:
        return message.session is None or message.session is self.session

    @on(m.BatchProgress)
    def _batch(self, message: m.BatchProgress) -> None:
        if not self._current(message):
            return
        e = message.event
        status = self.query_one(StatusBar)
        with self.app.batch_update():
            status.epoch, status.batch, status.steps = e.epoch, e.batch, e.steps
            status.samples_per_second = e.samples_per_second
            status.learning_rate = e.learning_rate
            status.elapsed = self.app.elapsed()
            self.query_one(TrainingPlots).set_batch_losses(self.app.live_run.batch_loss_history(), e.steps,
                                                           end_step=e.epoch * e.steps + e.batch)

    @on(m.EpochFinished)
    def _epoch(self, message: m.EpochFinished) -> None:
        """Queue the epoch; the screen is updated at most `refresh_hz` times a second.

        Small problems finish dozens of epochs a second: drawing each one would cost the
        training thread its throughput and the terminal its bandwidth.
        """
        if not self._current(message):
            return
        self._pending_epochs.extend(message.events)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.set_timer(1 / self.app.refresh_hz, self._flush_epochs)

    _pending_epochs: list
    _flush_scheduled = False

    def _flush_epochs(self) -> None:
        from tuinet.nn.callbacks import format_logs

        self._flush_scheduled = False
        pending, self._pending_epochs = self._pending_epochs, []
        if not pending:
            return
        plots = self.query_one(TrainingPlots)
        lines = []
        for e in pending:
            plots.add_epoch(e.epoch, e.logs)
            line = e.line if self.app.show_timing else format_logs(e.logs)
            lines.append(f"Epoch {e.epoch + 1}/{e.epochs}  {line}")
        self.query_one(EpochLog).write_lines(lines)
        status = self.query_one(StatusBar)
        last = pending[-1]
        status.epoch, status.batch = last.epoch + 1, 0
        self._readout(force=self.session.state != "running")

    _diagnosis_kind: str | None = None
    _diagnosis_at = -math.inf
    DIAGNOSIS_INTERVAL = 2.0  # seconds between two diagnoses while running (each reads the whole history)

    def _readout(self, force: bool = True) -> None:
        """Say where the user looks when the run starts to over- or underfit (once per change)."""
        from tuinet.app.diagnosis import fit_diagnosis

        now = time.monotonic()
        if not force and now - self._diagnosis_at < self.DIAGNOSIS_INTERVAL:
            return
        self._diagnosis_at = now

        d = fit_diagnosis(self._history.arrays(self.app.live_run.history))  # O(new epochs), however long the run
        kind = d.kind if d is not None and d.kind in ("overfitting", "underfitting") else None
        if kind == self._diagnosis_kind:
            return
        self._diagnosis_kind = kind
        if kind is None:
            return
        self.app.status_message = f"{kind}: see the log or view 4"
        self.query_one(EpochLog).note(f"⚠ {kind}: {d.message}")
        self.notify(d.message, title=kind.capitalize(), severity="warning", timeout=10)

    @on(m.SessionStateChanged)
    def _state(self, message: m.SessionStateChanged) -> None:
        if not self._current(message):
            return
        if message.event.state != "running":
            self._flush_epochs()  # a paused or finished run shows its last epochs and batches at once
            run = self.app.live_run
            self.query_one(TrainingPlots).set_batch_losses(
                run.batch_loss_history(), run.steps_per_epoch,
                end_step=run.epoch * run.steps_per_epoch + run.batch)
            status = self.query_one(StatusBar)
            status.epoch, status.batch = run.epoch, run.batch
        self.query_one(StatusBar).state = message.event.state
        self.query_one(StatusBar).elapsed = self.app.elapsed()
        if message.event.state == "running":
            self.app.status_message = ""

    @on(m.SessionReadyMsg)
    def _ready(self, message: m.SessionReadyMsg) -> None:
        if not self._current(message):
            return
        self._diagnosis_kind = None
        # A new model (reset, apply, load, preset): the last run's note, speed and time are stale.
        self.app.run_elapsed = 0.0
        self.app.status_message = ""
        self.fill_from_session()  # the speed too: the app has set it back to 0
        e = message.event
        if e.start_epoch:
            self.query_one(EpochLog).note(f"— resumed from epoch {e.start_epoch} —")
        else:
            self.query_one(EpochLog).note(f"— {e.name}: {e.params:,} parameters, "
                                          f"{e.sizes['train']} training samples —")

    @on(m.TrainingDiverged)
    def _diverged(self, message: m.TrainingDiverged) -> None:
        if not self._current(message):
            return
        text = message.event.message
        self.app.status_message = "diverged: , goes back, enter resumes there (lower the learning rate first), r resets"
        self.query_one(EpochLog).note(f"✖ {text}")
        self.query_one(EpochLog).note("  , steps back through the recorded epochs; enter resumes from the one shown "
                                      "(say, after lowering the learning rate); r resets")
        self.notify(f"{text}\n, goes back in time, enter resumes from there, r resets",
                    title="Training diverged", severity="error", timeout=15)

    @on(m.TrainingFinished)
    def _finished(self, message: m.TrainingFinished) -> None:
        if not self._current(message):
            return
        self._flush_epochs()
        from tuinet.nn.callbacks import format_logs

        test = {k[len("test_"):]: v for k, v in sorted(message.event.test.items())}
        if test:
            self.query_one(EpochLog).note(f"Test: {format_logs(test)}")
        exp = self.session.experiment
        problems = exp.expect.check(self.session.results()) if exp.expect.targets else []
        note = "finished" + (f" — test {format_logs(test)}" if test else "")
        previous = self.app.previous_run()
        if previous is not None:
            key = "val_loss" if "val_loss" in self.app.live_run.history else "loss"
            now, before = self.app.live_run.final_value(key), previous.final_value(key)
            if now is not None and before is not None:
                note += f" — {key.replace('_', ' ')} {now:.4g}, last run {before:.4g}"
        if exp.expect.targets:
            note += " — expectation met" if not problems else f" — expectation NOT met ({'; '.join(problems)})"
        self.app.status_message = note
        self.notify(note, title="Training finished", timeout=6)

    @on(m.TrainingFailed)
    def _failed(self, message: m.TrainingFailed) -> None:
        if not self._current(message):
            return
        self.query_one(EpochLog).note(f"✖ {message.event.message}")
        self.app.status_message = message.event.message
        self.notify(message.event.message, title="Error", severity="error", timeout=15)

    # -- requests from the panes --------------------------------------------------------------
    @on(m.ApplyArchitecture)
    def _apply_architecture(self, message: m.ApplyArchitecture) -> None:
        exp = self.session.experiment
        self._apply_experiment(exp.replace(model=dataclasses.replace(exp.model, layers=tuple(message.layers))))

    @on(m.ApplyHyperparameters)
    def _apply_hyperparameters(self, message: m.ApplyHyperparameters) -> None:
        session = self.session
        exp = session.experiment
        if message.live:
            try:
                session.set_learning_rate(message.train.learning_rate)
            except TuinetError as exc:
                self.notify(str(exc), severity="error")
                return
            session.replace_experiment(exp.replace(train=dataclasses.replace(
                exp.train, learning_rate=message.train.learning_rate)))
            self.query_one(StatusBar).learning_rate = message.train.learning_rate
            self.notify(f"Learning rate {message.train.learning_rate:g} from the next batch", timeout=3)
            return
        layers = exp.model.layers if message.l2 is None else with_l2(exp.model.layers, message.l2)
        self._apply_experiment(exp.replace(train=message.train, model=dataclasses.replace(exp.model, layers=layers)))

    def _apply_experiment(self, experiment) -> None:
        session = self.session
        was_running = session.state == "running"
        if was_running:
            session.pause()
        try:
            session.apply(experiment)
        except TuinetError as exc:
            self.notify(str(exc), title="Cannot apply", severity="error", timeout=12)
            self.query_one(EpochLog).note(f"✖ {exc}")
            return
        if not was_running:
            self.notify("Model rebuilt and re-initialised", timeout=3)

    # -- actions ------------------------------------------------------------------------------
    def action_apply(self) -> None:
        arch = self.query_one(ArchitecturePane)
        hyper = self.query_one(HyperParamsPane)
        if not arch.dirty and not hyper.dirty:
            self.notify("Nothing to apply: edit the model or the training settings first", timeout=4)
            return
        if arch.dirty and arch.error is not None:
            self.notify(f"Cannot apply: {arch.error}", title="Model does not build", severity="error", timeout=8)
            return
        exp = self.session.experiment
        layers = arch.layer_specs if arch.dirty else exp.model.layers
        train = hyper.train if hyper.dirty else exp.train
        l2 = getattr(hyper, "l2", None) if hyper.dirty else None
        if l2 is not None:
            layers = with_l2(layers, l2)
        self._apply_experiment(exp.replace(model=dataclasses.replace(exp.model, layers=tuple(layers)), train=train))

    def check_action(self, action: str, parameters) -> bool | None:
        if self.app.too_small:
            return False  # nothing to see: no edits applied or tabs switched unseen
        if action in ("next_tab", "prev_tab") and self.layout_kind == "wide":
            return False  # no tabs side by side: hide the binding
        return True

    _tab_bar: TabBar | None = None
    _switcher: ContentSwitcher | None = None

    @property
    def active_tab(self) -> str | None:
        """The id of the pane shown in the narrow layout (see `TABS`); None side by side."""
        return self._tab_bar.active if self.layout_kind == "narrow" and self._tab_bar is not None else None

    @active_tab.setter
    def active_tab(self, tab: str) -> None:
        if self.active_tab is None:
            raise ValueError("no tabs side by side: the panes are all shown")
        self._tab_bar.active = tab  # validated: an unknown id raises ValueError
        self._switcher.current = tab
        focused = self.focused
        if focused is not None and focused is not self._tab_bar:
            pane = self._switcher.get_child_by_id(tab)
            if pane not in focused.ancestors_with_self:
                self._tab_bar.focus()  # the focus was in the pane now hidden: back to the bar, not lost

    def _switch_tab(self, step: int) -> None:
        # A key press should cost as little as possible: the bar and the switcher are kept
        # from compose (no walk of the DOM), and only they and the new pane repaint.
        if self.active_tab is not None:
            self.active_tab = self._tab_bar.step(step)

    @on(TabBar.Selected)
    def _tab_clicked(self, message: TabBar.Selected) -> None:
        self.active_tab = message.tab

    def action_next_tab(self) -> None:
        self._switch_tab(1)

    def action_prev_tab(self) -> None:
        self._switch_tab(-1)

    def action_toggle_log(self) -> None:
        plots = self.query_one(TrainingPlots)
        on_ = plots.toggle_log_scale()
        if plots.region.area == 0:  # another tab: say so (on screen, the titles say "(log)")
            self.notify(f"Log scale {'on' if on_ else 'off'} on the plots", timeout=2)

    def note(self, text: str) -> None:
        """A line in the epoch log (saves, loads, presets)."""
        self.query_one(EpochLog).note(text)

"""`MainScreen`: train and watch — architecture, hyperparameters, live plots, status and log.

Wide terminals (>= 150x40) get the panes side by side; smaller ones get tabs. Below 80x24 a
"terminal too small" message replaces the screen. The screen reads the session only through
its events and a few cheap, thread-safe accessors, and never waits on a training step.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher

from tuinet.app import messages as m
from tuinet.app.arrays import HistoryMirror
from tuinet.app.widgets.architecture import ArchitecturePane
from tuinet.app.widgets.hyperparams import HyperParamsPane
from tuinet.app.widgets.plots import TrainingPlots
from tuinet.app.widgets.status import EpochLog
from tuinet.app.frames import heavy_period
from tuinet.app.screens.base import ViewScreen
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


class MainScreen(ViewScreen):
    """Train and watch."""

    BINDINGS = [
        Binding("ctrl+a", "apply", "Apply", id="apply", tooltip="Apply edits: rebuild the model"),
        Binding("right_square_bracket", "next_tab", "Tab", id="next-tab", key_display="]",
                tooltip="Next tab (narrow terminals)"),
        Binding("left_square_bracket", "prev_tab", "Previous tab", id="prev-tab", key_display="[", show=False,
                tooltip="Previous tab (narrow terminals)"),
        Binding("g", "toggle_log", "Log scale", id="log-scale", show=False, tooltip="Log scale on the plots"),
        # the model pane's keys, wherever the focus is while the pane shows (its table binds them too)
        Binding("a", "layer('add_layer')", "Add layer", id="layer-add", tooltip="Add a layer after the selected one"),
        Binding("e", "layer('edit_layer')", "Edit layer", id="layer-edit", show=False, tooltip="Edit the selected layer"),
        Binding("x", "layer('remove_layer')", "Remove layer", id="layer-remove", show=False,
                tooltip="Remove the selected layer"),
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
        self._history = HistoryMirror()  # the session's history as arrays, for the diagnosis

    # -- layout -------------------------------------------------------------------------------
    def _kind(self) -> str:
        w, h = self.app.size
        return "wide" if w >= WIDE[0] and h >= WIDE[1] else "narrow"

    def compose(self) -> ComposeResult:
        self.layout_kind = self._kind()
        self._tab_bar = self._switcher = None
        yield from self.compose_chrome_top()
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
        yield from self.compose_chrome_bottom()

    def on_mount(self) -> None:
        # (Textual calls ViewScreen.on_mount too: the frame clock, new runs, the replay, the rate)
        for name, callback in (("run_state", self._state), ("failures", self._failed), ("note", self.note),
                               ("ghosts_version", self._ghosts_changed), ("show_ghosts", self._ghosts_changed)):
            self.watch_app(name, callback)

    def refill(self) -> None:
        self.fill_from_session()

    def show_replay(self) -> None:
        self._replay_changed()

    def new_run(self) -> None:
        self._new_run()

    def frame_rate_changed(self, hz: float) -> None:
        plots = self.query_one(TrainingPlots)
        plots.min_interval = heavy_period(hz)
        if hz < 5:  # over SSH the per-batch curve, the least telling, redraws half as often
            plots.batch_plot.min_interval = 2 * heavy_period(hz)

    def _replay_changed(self, epoch: int | None = None) -> None:
        """The plots mark the replayed epoch with a vertical cursor."""
        self.query_one(TrainingPlots).set_cursor(self.app.replay_epoch)

    def _ghosts_changed(self, _=None) -> None:
        app = self.app
        ghosts = [(g.label, g.history) for g in app.ghosts] if app.show_ghosts else []
        self.query_one(TrainingPlots).set_ghosts(ghosts)

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
            self._recomposing = True  # the frame clock and the app's state wait for the new panes
            try:
                await self.recompose()
            finally:
                self._recomposing = False
            self.fill_from_session()
            self.frame_rate_changed(self.app.refresh_hz)
            self.query_one(EpochLog).write_lines(log_lines)
            self.query_one(TrainingPlots).log_scale = log_scale
            if layers is not None:
                self.query_one(ArchitecturePane).restore_edits(layers)
            if form is not None:
                self.query_one(HyperParamsPane).restore_edits(form)
            if self._tab_bar is not None and self.focused is None:
                self._tab_bar.focus()  # as at start: the bar has the focus, so ←/→ switch tabs

    # -- filling from the session -------------------------------------------------------------
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
        history = run.history if len(run.history) else {k: [] for k in self._expected_keys(exp)}
        plots.set_history(history, run.batch_loss_history(), session.steps_per_epoch,
                          end_step=run.epoch * session.steps_per_epoch + run.batch)
        self._drawn_epochs, self._drawn_version = run.history.count, run.history.version
        self._ghosts_changed()
        self._replay_changed()
        self.app._update_subtitle()

    @staticmethod
    def _expected_keys(exp) -> list[str]:
        """History keys before the first epoch, so the plots know the metric up front."""
        keys = ["loss", *exp.train.metrics]
        return keys + [f"val_{k}" for k in keys] if exp.data.split[1] > 0 else keys

    # -- session messages ---------------------------------------------------------------------
    _drawn_epochs = 0  # epochs of the live run already on the plots and in the log
    _drawn_version = 0  # the live history's version then (it changes when thinned or truncated)

    def draw_frame(self) -> None:
        """A tick of the app's frame clock: draw the epochs and batches the live run has
        gained since the last frame (plots, log, fit readout)."""
        from tuinet.nn.callbacks import format_logs

        run = self.app.live_run
        history = run.history
        done = history.count
        plots = self.query_one(TrainingPlots)
        if history.version != self._drawn_version or len(plots.loss_plot.epochs) > 2 * history.max_points:
            # the history was thinned (a long run) or cut (a branch): draw what it keeps now
            plots.set_epoch_history(history)
            self._drawn_version = history.version
        if done > self._drawn_epochs:
            drawn = self._drawn_epochs
            epochs = history.epochs
            first = len(epochs)
            while first > 0 and epochs[first - 1] > drawn:
                first -= 1
            for i in range(first, len(epochs)):
                plots.add_epoch(epochs[i] - 1, {k: v[i] for k, v in history.items()})
            # the Keras lines of the new epochs (the newest of them: the log keeps no more)
            start = max(drawn, done - EpochLog.MAX_LINES)
            new = []
            for epoch, epochs_, line, logs in list(itertools.islice(reversed(run.lines), done - start))[::-1]:
                if epoch >= start:
                    text = line if self.app.show_timing and line else format_logs(logs)
                    new.append(f"Epoch {epoch + 1}/{epochs_}  {text}")
            self._drawn_epochs = done
            self.query_one(EpochLog).write_lines(new)
            self._readout(force=run.state != "running")
        plots.set_batch_losses(run.batch_loss_history(), run.steps_per_epoch,
                               end_step=run.epoch * run.steps_per_epoch + run.batch)

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

        run = self.app.live_run
        d = fit_diagnosis(self._history.arrays(run.history), epochs=getattr(run.history, "epochs", None))  # O(new epochs), however long the run
        kind = d.kind if d is not None and d.kind in ("overfitting", "underfitting") else None
        if kind == "underfitting" and run.state == "running" and run.epochs_done * 3 < run.epochs:
            # Many runs sit on a plateau before they learn (the spiral does for 50 of its 200
            # epochs): while the first third of the run goes on, a slow start is not a verdict.
            kind = self._diagnosis_kind if self._diagnosis_kind == "underfitting" else None
        if kind == self._diagnosis_kind:
            return
        was, self._diagnosis_kind = self._diagnosis_kind, kind
        if kind is None:
            if was is not None and self.app.status_message == f"{was}: see the log or view 4":
                self.app.status_message = ""  # it learns after all: the warning no longer holds
                self.query_one(EpochLog).note(f"✔ no longer {was}: {d.message if d is not None else ''}".rstrip(": "))
            return
        self.app.status_message = f"{kind}: see the log or view 4"
        self.query_one(EpochLog).note(f"⚠ {d.message}")  # the message starts with the verdict
        # a short toast: the whole message is in the log and the data view, not over the plots
        self.notify("see the log or view 4", title=kind.capitalize(), severity="warning", timeout=5)

    def _state(self, state: str) -> None:
        """The live run's state changed: say what a user must know (diverged, finished)."""
        if state == "diverged":
            self._diverged()
        elif state == "finished":
            self._finished()

    def _new_run(self, _=None) -> None:
        """A reset, an applied edit, a load, a branch or another preset."""
        run = self.app.live_run
        self._diagnosis_kind = None
        self.fill_from_session()
        if run.resumed:
            self.query_one(EpochLog).note(f"— {run.name}: {run.params:,} parameters, {run.start_epoch} of "
                                          f"{run.epochs} epochs done —")
        elif run.start_epoch:
            self.query_one(EpochLog).note(f"— resumed from epoch {run.start_epoch} —")
        else:
            self.query_one(EpochLog).note(f"— {run.name}: {run.params:,} parameters, "
                                          f"{run.sizes.get('train', 0)} training samples —")

    def _diverged(self) -> None:
        text = self.app.live_run.message
        self.app.status_message = "diverged: , goes back, enter resumes there (lower the learning rate first), r resets"
        self.query_one(EpochLog).note(f"✖ {text}")
        self.query_one(EpochLog).note("  , steps back through the recorded epochs; enter resumes from the one shown "
                                      "(say, after lowering the learning rate); r resets")
        self.notify(f"{text}\n, goes back in time, enter resumes from there, r resets",
                    title="Training diverged", severity="error", timeout=15)

    def _finished(self) -> None:
        from tuinet.nn.callbacks import format_logs

        run = self.app.live_run
        test = {k[len("test_"):]: v for k, v in sorted(run.test_results.items())}
        if test:
            self.query_one(EpochLog).note(f"Test: {format_logs(test)}")
        exp = self.session.experiment
        problems = exp.expect.check(self.session.results()) if exp.expect.targets else []
        note = "finished" + (f" — test {format_logs(test)}" if test else "")
        versus = self.app.versus_last_run()
        if versus:
            note += f" — {versus}"
        if exp.expect.targets:
            note += " — expectation met" if not problems else f" — expectation NOT met ({'; '.join(problems)})"
        self.app.status_message = note
        self.notify(note, title="Training finished", timeout=6)

    def _failed(self, _=None) -> None:
        message = self.app.live_run.message
        self.query_one(EpochLog).note(f"✖ {message}")
        self.app.status_message = message
        self.notify(message, title="Error", severity="error", timeout=15)

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
            self.notify(f"Learning rate {message.train.learning_rate:g} from the next batch", timeout=3)
            self.leave_field()
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
        self.leave_field()  # applied: the keys go back to the view
        if was_running:
            self.notify("Applied: the model was rebuilt and the run starts over; space plays", timeout=4)
        else:
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
        if action == "layer":
            # the model pane's keys work whenever it is on screen, not only once its table has the focus
            return self.layout_kind == "wide" or self.active_tab == "architecture"
        return super().check_action(action, parameters)

    def action_layer(self, name: str) -> None:
        """The model pane's `a`, `e`, `x` from anywhere on the screen (when the pane shows)."""
        getattr(self.query_one(ArchitecturePane), f"action_{name}")()

    def home_focus(self):
        return self._tab_bar if self.layout_kind == "narrow" else None

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

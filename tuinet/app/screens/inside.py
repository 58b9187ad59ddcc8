"""The "see inside" screens: weights (heatmaps and gradient norms), decision boundary, data.

Each is an app mode (keys 1-4 switch modes). They share `SessionScreen`, which registers for the
session's messages, keeps the status line current and refills everything from the session when
the screen is (re)shown, so a screen that was hidden while training catches up at once.
"""

from __future__ import annotations

import dataclasses

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from tuinet.app.frames import heavy_period
from tuinet.app.screens.base import ViewScreen


HEATMAP_SSH_BYTES = 20_000
"""Bytes a second the weight heatmap may write at SSH frame rates (half of the view's 40 KB/s)."""


class FixedStatic(Static):
    """A `Static` whose size the CSS fixes: a new text repaints it without laying out the screen
    (`Static.update` asks for a layout, a full-screen repaint, at every update)."""

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):
        height = self.styles.height
        fixed = not (height is not None and height.is_auto)  # a narrow layout sizes it by its text
        return super().refresh(*regions, repaint=repaint, layout=layout and not fixed, recompose=recompose)


class SessionScreen(ViewScreen):
    """Base of the "see inside" views: refill when shown again, so a view that was hidden
    while training catches up at once."""

    def __init__(self, *args, **kwargs) -> None:
        from tuinet.app.arrays import HistoryMirror

        super().__init__(*args, **kwargs)
        self._history = HistoryMirror()  # the live run's history as arrays, for the diagnosis

    def on_screen_resume(self) -> None:
        self._check_size()
        self.refill()

    def shown_snapshot(self):
        """The weights to draw: the replayed frame, else the newest snapshot of the live run."""
        frame = self.app.replay_frame
        if frame is not None:
            return frame
        snap = self.run.last_snapshot or self.session.last_snapshot
        return snap if snap is not None else self.session.snapshot(timeout=0.02)

    def new_run(self) -> None:
        self.session_replaced()
        self.refill()

    def draw_frame_hidden(self) -> bool:
        return False  # a view shown again refills from the live run (on_screen_resume)

    def session_replaced(self) -> None:
        """Hook: a reset, an applied edit or another preset; clear what belongs to the old run."""


class WeightsScreen(SessionScreen):
    """Any layer's weights, gradients or last updates as a heatmap; gradient norms over time."""

    AUTO_FOCUS = "WeightHeatmap"  # arrows move its cursor; space still plays (a focused Select would eat it)

    DEFAULT_CSS = """
    WeightsScreen #weights-body { height: 1fr; }
    WeightsScreen LayerWeightsView { width: 2fr; height: 1fr; }
    WeightsScreen GradientNormPlot { width: 1fr; height: 1fr; min-width: 30; }
    WeightsScreen.-narrow #weights-body { layout: vertical; }
    WeightsScreen.-narrow LayerWeightsView { width: 1fr; height: 2fr; }
    WeightsScreen.-narrow GradientNormPlot { width: 1fr; height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        from tuinet.app.widgets.heatmap import GradientNormPlot, LayerWeightsView

        yield from self.compose_chrome_top()
        with Horizontal(id="weights-body", classes="view-body"):
            yield LayerWeightsView(id="weights-view")
            yield GradientNormPlot(id="grad-norms")
        yield from self.compose_chrome_bottom()

    def on_resize(self, event) -> None:
        self._check_size()
        self.set_class(self.app.size.width < 120, "-narrow")

    def _layer_types(self) -> dict[str, str]:
        return {layer.name: type(layer).__name__ for layer in self.session.model.layers}

    def refill(self) -> None:
        from tuinet.app.widgets.heatmap import GradientNormPlot, LayerWeightsView

        super().refill()
        self.set_class(self.app.size.width < 120, "-narrow")
        snap = self.shown_snapshot()
        view = self.query_one(LayerWeightsView)
        if snap is not None:
            updates = snap.updates
            if self.replaying:  # a frame's update: the change since the frame before it
                before = self.app.previous_frame(snap)
                updates = {k: w - before.weights[k] for k, w in snap.weights.items()
                           if before is not None and k in before.weights and before.weights[k].shape == w.shape}
            view.update_snapshot(snap.weights, snap.grads, updates, layer_types=self._layer_types())
        plot = self.query_one(GradientNormPlot)
        plot.clear()
        norms = list(self.run.grad_norms)  # the whole run so far
        for step, values in norms:
            plot.add(step, values)
        self._drawn = (snap, norms[-1][0] if norms else None)

    _drawn: tuple = (None, None)  # (the snapshot shown, the newest gradient-norm step drawn)

    def draw_frame(self) -> None:
        from tuinet.app.widgets.heatmap import GradientNormPlot, LayerWeightsView

        run = self.run
        snap = run.last_snapshot
        shown, newest = self._drawn
        if snap is not None and snap is not shown and not self.replaying:
            self.query_one(LayerWeightsView).update_snapshot(snap.weights, snap.grads, snap.updates,
                                                              layer_types=self._layer_types())
            shown = snap
        norms = run.grad_norms
        if norms and (newest is None or norms[-1][0] > newest):
            new = []
            for step, values in reversed(norms):  # only what came since the last frame
                if newest is not None and step <= newest:
                    break
                new.append((step, values))
            plot = self.query_one(GradientNormPlot)
            for step, values in reversed(new):
                plot.add(step, values)
            newest = norms[-1][0]
        self._drawn = (shown, newest)

    def session_replaced(self) -> None:
        from tuinet.app.widgets.heatmap import GradientNormPlot, LayerWeightsView

        self.query_one(LayerWeightsView).reset()
        self.query_one(GradientNormPlot).clear()

    def frame_rate_changed(self, hz: float) -> None:
        from tuinet.app.widgets.heatmap import LayerWeightsView

        heatmap = self.query_one(LayerWeightsView).heatmap
        heatmap.min_interval = heavy_period(hz)
        # at SSH rates a big kernel redraws less often, within the view's share of the link
        heatmap.byte_budget = HEATMAP_SSH_BYTES if hz < 5 else None


class DataScreen(SessionScreen):
    """The data split, the confusion matrix and the over/underfitting readout."""

    AUTO_FOCUS = ""  # keep the footer's keys live: nothing typed into the re-split fields by accident

    BINDINGS = [
        Binding("pagedown", "scroll_body(1, True)", "Scroll", key_display="PgDn", show=False,
                tooltip="Scroll the view down (a small terminal stacks its parts)"),
        Binding("pageup", "scroll_body(-1, True)", "Scroll up", key_display="PgUp", show=False,
                tooltip="Scroll the view up"),
        Binding("down", "scroll_body(2)", "Down", show=False),
        Binding("up", "scroll_body(-2)", "Up", show=False),
    ]

    def action_scroll_body(self, lines: int, page: bool = False) -> None:
        body = self.query_one("#data-body")
        step = max(1, body.size.height - 2) if page else 1
        body.scroll_relative(y=lines * step, animate=False)

    DEFAULT_CSS = """
    DataScreen #data-body { height: 1fr; }
    DataScreen DataSplitView { width: 1fr; height: 1fr; }
    DataScreen #data-right { width: 76; height: 1fr; }
    DataScreen ConfusionMatrixView { height: 1fr; }
    DataScreen #diagnosis { height: 7; border: round $primary-muted; padding: 0 1; }
    DataScreen.-narrow #data-body { layout: vertical; overflow-y: auto; }
    DataScreen.-narrow #data-right { width: 1fr; height: auto; }
    DataScreen.-narrow DataSplitView { height: auto; }
    DataScreen.-narrow DataSplitView #split-body { height: auto; }
    DataScreen.-narrow ConfusionMatrixView { height: auto; }
    DataScreen.-narrow #diagnosis { height: auto; }
    """

    def compose(self) -> ComposeResult:
        from tuinet.app.widgets.confusion import ConfusionMatrixView
        from tuinet.app.widgets.dataview import DataSplitView

        yield from self.compose_chrome_top()
        with Horizontal(id="data-body", classes="view-body"):
            yield DataSplitView(id="split-view")
            with Vertical(id="data-right"):
                yield ConfusionMatrixView(id="confusion")
                yield FixedStatic("Fit: after a few epochs with validation data, tuinet says here whether the "
                                  "model over- or underfits.", id="diagnosis")
        yield from self.compose_chrome_bottom()

    def on_resize(self, event) -> None:
        self.set_class(self.app.size.width < 150, "-narrow")

    def refill(self) -> None:
        from tuinet.app.widgets.confusion import ConfusionMatrixView
        from tuinet.app.widgets.dataview import DataSplitView

        super().refill()
        self.set_class(self.app.size.width < 150, "-narrow")
        session = self.session
        p = session.prepared
        ds = p.dataset
        x_scaled = p.scaler.transform(ds.x) if p.scaler is not None else None
        self.query_one(DataSplitView).show(ds, p.split, x_scaled=x_scaled, data_spec=session.experiment.data)
        confusion = self.query_one(ConfusionMatrixView)
        replayed = self._replayed_confusion()
        if replayed is not None:
            cm, epoch = replayed
            confusion.show(cm, ds.class_names, split_name=session.confusion_split()[0], epoch=epoch)
        elif self.run.confusion is None:
            confusion.clear(task=ds.task if session.experiment.data.target != "input" else "regression")
        else:
            self._confusion_shown = self.run.confusion
            cm, epoch = self.run.confusion
            confusion.show(cm, ds.class_names, split_name=session.confusion_split()[0], epoch=epoch)
        self._diagnose()

    _last_diagnosis = -1.0
    _confusion_cache: tuple | None = None  # (frame, matrix) of the last replayed frame

    def _replayed_confusion(self):
        """(matrix, epoch) of the replayed frame, computed from its weights; None when live or
        for a task without classes."""
        from tuinet.app.boundary import InferenceTwin
        from tuinet.nn.metrics import confusion_matrix

        frame = self.app.replay_frame
        session = self.session
        ds = session.prepared.dataset
        if frame is None or ds.task != "classification" or session.experiment.data.target == "input":
            return None
        if self._confusion_cache is not None and self._confusion_cache[0] is frame:
            return self._confusion_cache[1], frame.epoch
        try:
            twin = InferenceTwin(session.model.get_config(), input_shape=session.prepared.x_train.shape[1:])
            twin.set_weights(frame.weights)
            _, x, y = session.confusion_split()
            cm = confusion_matrix(y, twin.predict(x), num_classes=ds.num_classes)
        except Exception:  # noqa: BLE001 - a frame of another model: show the live matrix
            return None
        self._confusion_cache = (frame, cm)
        return cm, frame.epoch

    def _diagnose(self, *, throttle: bool = False) -> None:
        import time

        from tuinet.app.diagnosis import fit_diagnosis

        now = time.monotonic()
        if throttle and now - self._last_diagnosis < 1.0 and self.session.state == "running":
            return  # at most once a second while epochs fly by
        self._last_diagnosis = now

        d = fit_diagnosis(self._history.arrays(self.run.history), epochs=getattr(self.run.history, "epochs", None))  # O(new epochs), however long the run
        text = "Fit: not enough epochs with validation data yet." if d is None else f"Fit: {d.message}"
        versus = self.app.versus_last_run()
        self.query_one("#diagnosis", Static).update(f"{text} ({versus})" if versus else text)

    _confusion_shown = None  # the live run's (matrix, epoch) on screen

    def draw_frame(self) -> None:
        from tuinet.app.widgets.confusion import ConfusionMatrixView

        confusion = self.run.confusion  # the newest matrix (computed at most once a second)
        if confusion is not None and confusion is not self._confusion_shown and not self.replaying:
            self._confusion_shown = confusion
            cm, epoch = confusion
            self.query_one(ConfusionMatrixView).show(cm, self.session.prepared.dataset.class_names,
                                                     split_name=self.session.confusion_split()[0], epoch=epoch)
        self._diagnose(throttle=True)


    def on_data_split_view_resplit_requested(self, message) -> None:
        """Apply a new split (and for generated data new samples, noise or data set) between runs;
        the session's ready event then refills the view with the new data."""
        session = self.session
        exp = session.experiment
        changes: dict = {"split": tuple(message.ratios), "seed": message.seed}
        if message.source is not None:
            changes.update(source=message.source, samples=message.samples, noise=message.noise)
        new = exp.replace(data=dataclasses.replace(exp.data, **changes))
        if session.state == "running":
            session.pause()
        try:
            session.apply(new)
        except Exception as exc:  # a TuinetError from the new data or split (e.g. a class too small)
            title = "Cannot change the data" if "source" in changes else "Cannot re-split"
            self.notify(str(exc), title=title, severity="error", timeout=10)
            return
        split = f"split {'/'.join(f'{r:g}' for r in message.ratios)}, seed {message.seed}"
        if "source" in changes:
            from tuinet.app.widgets.dataview import playground_sources

            d = new.data
            samples = f", {d.samples} samples" if d.samples is not None else ""
            noise = d.noise or 0.0
            noise_text = f"{noise * 100:g} %" if d.source in playground_sources() else f"{noise:g}"
            self.notify(f"New data: {d.source}{samples}, noise {noise_text}, {split}; "
                        "the model was re-initialised", timeout=5)
        else:
            self.notify(f"Data re-split: {split}; the model was re-initialised", timeout=5)


class BoundaryScreen(SessionScreen):
    """The model's output over the input plane with the data on top, and per-neuron maps."""

    BINDINGS = [
        ("t", "toggle_test", "Test points"),
        ("p", "toggle_points", "Points"),
    ]
    DEFAULT_CSS = """
    BoundaryScreen #boundary-body { height: 1fr; }
    BoundaryScreen DecisionBoundary { width: 3fr; height: 1fr; }
    BoundaryScreen NeuronMaps { width: 2fr; height: 1fr; border-left: vkey $primary-muted; }
    BoundaryScreen.-narrow NeuronMaps { display: none; }
    """

    def compose(self) -> ComposeResult:
        from tuinet.app.widgets.boundary import DecisionBoundary, NeuronMaps

        yield from self.compose_chrome_top()
        with Horizontal(id="boundary-body", classes="view-body"):
            yield DecisionBoundary(id="boundary")
            yield NeuronMaps(id="neurons", min_interval=2.0)
        yield from self.compose_chrome_bottom()

    def on_resize(self, event) -> None:
        self._check_size()
        self.set_class(self.app.size.width < 120, "-narrow")

    def session_replaced(self) -> None:
        self._model_key = None

    _model_key = None

    def refill(self) -> None:
        from tuinet.app.widgets.boundary import DecisionBoundary, NeuronMaps

        super().refill()
        self.set_class(self.app.size.width < 120, "-narrow")
        session = self.session
        p, ds = session.prepared, session.prepared.dataset
        key = (id(session), id(session.model))
        if key != self._model_key:
            self._model_key = key
            config = session.model.get_config()
            for widget in (self.query_one(DecisionBoundary), self.query_one(NeuronMaps)):
                widget.set_model(config, ds.task if session.experiment.data.target != "input" else "regression",
                                 ds.num_classes, ds.class_names)
                widget.set_data(p.x_train, p.y_train, p.x_test, p.y_test)
        snap = self.shown_snapshot()  # never waits on a running training step
        if snap is not None:
            self.query_one(DecisionBoundary).update_snapshot(snap.weights)
            self.query_one(NeuronMaps).update_snapshot(snap.weights)

    def draw_frame(self) -> None:
        from tuinet.app.widgets.boundary import DecisionBoundary, NeuronMaps

        if (id(self.session), id(self.session.model)) != self._model_key:
            self.refill()
            return
        snap = self.run.last_snapshot
        if self.replaying or snap is None:
            return
        self.query_one(DecisionBoundary).update_snapshot(snap.weights)  # a no-op for the weights shown
        self.query_one(NeuronMaps).update_snapshot(snap.weights)

    def frame_rate_changed(self, hz: float) -> None:
        from tuinet.app.widgets.boundary import DecisionBoundary, NeuronMaps

        self.query_one(DecisionBoundary).min_interval = heavy_period(hz)
        self.query_one(NeuronMaps).min_interval = max(heavy_period(hz), 2.0 if hz < 5 else 0.0)

    def action_toggle_test(self) -> None:
        from tuinet.app.widgets.boundary import DecisionBoundary

        shown = self.query_one(DecisionBoundary).toggle_test()
        self.notify(f"Test points {'shown' if shown else 'hidden'}", timeout=2)

    def action_toggle_points(self) -> None:
        from tuinet.app.widgets.boundary import DecisionBoundary

        shown = self.query_one(DecisionBoundary).toggle_points()
        self.notify(f"Data points {'shown' if shown else 'hidden'}", timeout=2)

"""`HyperParamsPane`: the training settings (optimizer, learning rate, loss, batch size, epochs,
L2, metrics) as a small form.

The pane edits a copy of the experiment's `TrainSpec` and posts `ApplyHyperparameters`:
pressing Enter in the learning-rate field applies the new rate live (from the next batch);
every other change waits for Apply (ctrl+a or the button), which rebuilds the model.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static

from tuinet.app.messages import ApplyHyperparameters
from tuinet.app.widgets.fields import ViewSelect
from tuinet.errors import did_you_mean
from tuinet.presets import TrainSpec

# field key -> (label, widget id)
FIELDS: dict[str, tuple[str, str]] = {
    "optimizer": ("optimizer", "hp-optimizer"),
    "learning_rate": ("learning rate", "hp-learning-rate"),
    "loss": ("loss", "hp-loss"),
    "batch_size": ("batch size", "hp-batch-size"),
    "epochs": ("epochs", "hp-epochs"),
    "l2": ("L2 on kernels", "hp-l2"),
    "metrics": ("metrics", "hp-metrics"),
}
_INPUTS = ("learning_rate", "batch_size", "epochs", "l2", "metrics")


class FieldError(ValueError):
    """A field's text that is not a value the field accepts; the message names what was expected."""


# ---------------------------------------------------------------------------- parsers
def _optimizer_names() -> list[str]:
    from tuinet.nn import optimizers

    return optimizers.names()


def _loss_names() -> list[str]:
    from tuinet.nn import losses

    return losses.names()


def canonical_loss(name: str) -> str:
    """The registry name of a loss given by alias or class name ("mse" -> "mean_squared_error")."""
    from tuinet.nn import losses

    try:
        return type(losses.get(name)).name
    except Exception:  # noqa: BLE001 - an unknown name shows as it is
        return name


def parse_positive_float(text: str, label: str, example: str = "0.001") -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise FieldError(f"{label}: expected a positive number such as {example}, got {text.strip()!r}")
    return value


def parse_positive_int(text: str, label: str, example: str = "32") -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise FieldError(f"{label}: expected a positive integer such as {example}, got {text.strip()!r}") from None
    if value <= 0:
        raise FieldError(f"{label}: expected a positive integer such as {example}, got {text.strip()!r}")
    return value


def parse_l2(text: str) -> float | None:
    """Empty: None (leave the layers' regularizers alone); a number >= 0: the L2 factor."""
    t = text.strip()
    if not t:
        return None
    try:
        value = float(t)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise FieldError(f"L2: expected a number >= 0 such as 0.01 (0 removes it, empty leaves it), got {t!r}")
    return value


def parse_metrics(text: str) -> tuple[str, ...]:
    """Comma-separated metric names, each checked against `tuinet.nn.metrics` (plus "acc")."""
    from tuinet.nn import metrics

    names = tuple(part.strip() for part in text.split(",") if part.strip())
    for name in names:
        if name.lower() in ("accuracy", "acc"):
            continue
        try:
            metrics.get(name)
        except Exception:  # noqa: BLE001 - any unknown name is reported the same way
            hint = did_you_mean(name, [*metrics.names(), "acc"])
            more = "" if hint else "; e.g. accuracy, mae, precision, recall"
            raise FieldError(f"metrics: unknown metric {name!r}{hint}{more}") from None
    return names


def _fmt_float(value: float) -> str:
    return f"{value:g}"


class HyperParamsPane(Widget):
    """Training settings; Enter in the learning rate applies it live, the rest waits for Apply."""

    BINDINGS = [
        Binding("ctrl+a", "apply", "Apply training", priority=True, id="hyperparams.apply",
                tooltip="Apply the training settings (rebuilds the model; a learning rate alone applies live)"),
        Binding("ctrl+r", "revert", "Revert training", show=False, id="hyperparams.revert",
                tooltip="Throw the edits away: back to the applied settings"),
    ]

    DEFAULT_CSS = """
    HyperParamsPane { height: auto; layout: vertical; }
    HyperParamsPane #hp-state { height: auto; color: $text-muted; }
    HyperParamsPane.-dirty #hp-state { color: $warning; text-style: bold; }
    HyperParamsPane #hp-fields { height: auto; }
    HyperParamsPane .hp-row { height: 1; }
    HyperParamsPane .hp-label { width: 15; height: 1; }
    HyperParamsPane .hp-row Input, HyperParamsPane .hp-row Select { width: 1fr; }
    HyperParamsPane .hp-error { height: auto; color: $error; padding-left: 15; display: none; }
    HyperParamsPane .hp-error.-shown { display: block; }
    HyperParamsPane #hp-buttons { height: 1; margin-top: 1; }
    HyperParamsPane #hp-buttons Button { margin-right: 1; width: auto; min-width: 0; padding: 0 1; }
    HyperParamsPane #hp-note { height: auto; color: $text-muted; }
    """

    class Edited(Message):
        """The form changed: `dirty` says whether it differs from what was applied."""

        def __init__(self, pane: "HyperParamsPane", dirty: bool) -> None:
            super().__init__()
            self.pane = pane
            self.dirty = dirty

        @property
        def control(self) -> "HyperParamsPane":
            return self.pane

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.border_title = "training"  # shown where app.tcss gives the pane a border
        self._base = TrainSpec()
        self._base_l2: float | None = None
        self._errors: dict[str, str] = {}
        self._note = ""

    # -- compose ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="hp-state", markup=False)
        with VerticalScroll(id="hp-fields"):
            for key, (label, wid) in FIELDS.items():
                with Horizontal(classes="hp-row", id=f"{wid}-row"):
                    yield Label(Text(label), classes="hp-label")
                    yield self._widget_for(key, wid)
                yield Static("", classes="hp-error", id=f"{wid}-error", markup=False)
        with Horizontal(id="hp-buttons"):
            yield Button("Apply", id="hp-apply", variant="primary", compact=True,
                         tooltip="Apply the training settings (ctrl+a)")
            yield Button("Revert", id="hp-revert", compact=True, tooltip="Back to the applied settings (ctrl+r)")
        yield Static("", id="hp-note", markup=False)

    def _widget_for(self, key: str, wid: str) -> Widget:
        if key == "optimizer":
            return ViewSelect([(n, n) for n in _optimizer_names()], allow_blank=False, compact=True, id=wid)
        if key == "loss":
            return ViewSelect([(n, n) for n in _loss_names()], allow_blank=False, compact=True, id=wid)
        placeholders = {"learning_rate": "positive number, e.g. 0.001", "batch_size": "positive integer",
                        "epochs": "positive integer", "l2": "empty: leave as is · 0: none · e.g. 0.01",
                        "metrics": "comma-separated, e.g. accuracy, mae"}
        return Input("", placeholder=placeholders[key], compact=True, id=wid, select_on_focus=False)

    def on_mount(self) -> None:
        self._fill()

    # -- public -------------------------------------------------------------------------------
    def load(self, train: TrainSpec, *, l2: float | None = None) -> None:
        """Show the applied training settings (and the kernels' common L2 factor, if any); clears `dirty`."""
        self._base = train
        self._base_l2 = l2
        self._note = ""
        self._fill()

    @property
    def train(self) -> TrainSpec:
        """The edited settings as a `TrainSpec`; invalid fields keep their applied values."""
        values, _ = self._read()
        return self._spec_from(values)

    @property
    def l2(self) -> float | None:
        """The edited L2 factor when it differs from the loaded one, else None (leave the layers alone)."""
        values, _ = self._read()
        value = values.get("l2")
        return None if value is None or value == self._base_l2 else value

    @property
    def dirty(self) -> bool:
        """Whether the form differs from the settings last loaded or applied."""
        values, errors = self._read()
        return bool(errors) or self._differs(values)

    @property
    def errors(self) -> dict[str, str]:
        """Current validation errors by field key ("learning_rate", ...)."""
        return dict(self._read()[1])

    def edits(self) -> dict[str, Any]:
        """The form as typed (raw field texts and choices, invalid ones too), for `restore_edits`."""
        out: dict[str, Any] = {}
        for key, (_, widget_id) in FIELDS.items():
            for widget in self.query(f"#{widget_id}"):
                out[key] = widget.value
        return out

    def restore_edits(self, edits: dict[str, Any]) -> None:
        """Put back what `edits()` returned (after the layout rebuilt the pane); validates again."""
        if not self.is_mounted:
            return
        for key, value in edits.items():
            if key in FIELDS:
                for widget in self.query(f"#{FIELDS[key][1]}"):
                    widget.value = value
        self._show_errors(self._read()[1])
        self._update_state()

    # -- actions ------------------------------------------------------------------------------
    def action_apply(self) -> None:
        """Post `ApplyHyperparameters` with the edited settings, unless a field is invalid."""
        values, errors = self._read()
        self._show_errors(errors)
        if errors:
            names = ", ".join(FIELDS[k][0] for k in FIELDS if k in errors)
            self._set_note(f"✗ not applied: fix {names}")
            return
        if not self._differs(values):
            self._set_note("nothing to apply: the settings are as applied")
            return
        new = self._spec_from(values)
        l2 = self.l2
        live = l2 is None and dataclasses.replace(new, learning_rate=self._base.learning_rate) == self._base
        self._base = new
        if l2 is not None:
            self._base_l2 = l2
        self.post_message(ApplyHyperparameters(new, live=live, l2=l2))
        self._set_note("learning rate applied from the next batch" if live else "applied: the model is rebuilt")

    def action_revert(self) -> None:
        """Throw away the edits."""
        self._note = "edits reverted"
        self._fill()

    # -- events -------------------------------------------------------------------------------
    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self, event: Message) -> None:
        event.stop()
        self._note = ""
        self._update_state()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        values, errors = self._read()
        self._show_errors(errors)
        if event.input.id != FIELDS["learning_rate"][1]:
            if not errors and self._differs(values):
                self._set_note("ctrl+a applies the edits")
            return
        if "learning_rate" in errors:
            self._set_note("✗ learning rate not applied")
            return
        lr = values["learning_rate"]
        if lr == self._base.learning_rate:
            self._set_note("learning rate unchanged")
            return
        self._base = dataclasses.replace(self._base, learning_rate=lr)
        self.post_message(ApplyHyperparameters(self._base, live=True))
        self._set_note(f"learning rate {_fmt_float(lr)} applies from the next batch")

    @on(Button.Pressed, "#hp-apply")
    def _apply_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_apply()

    @on(Button.Pressed, "#hp-revert")
    def _revert_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_revert()

    # -- private ------------------------------------------------------------------------------
    def _fill(self) -> None:
        """Put the applied values into the widgets."""
        if not self.is_mounted:
            return
        base = self._base
        with self.prevent(Input.Changed, Select.Changed):
            self._set_select("optimizer", base.optimizer.lower())
            self._set_select("loss", canonical_loss(base.loss))
            self._set_texts(base)
        self._show_errors({})
        self._update_state()

    def _set_texts(self, base: TrainSpec) -> None:
        texts = {"learning_rate": _fmt_float(base.learning_rate), "batch_size": str(base.batch_size),
                 "epochs": str(base.epochs), "l2": "" if self._base_l2 is None else _fmt_float(self._base_l2),
                 "metrics": ", ".join(base.metrics)}
        for key, text in texts.items():
            self.query_one(f"#{FIELDS[key][1]}", Input).value = text

    def _set_select(self, key: str, value: str) -> None:
        select = self.query_one(f"#{FIELDS[key][1]}", Select)
        names = _optimizer_names() if key == "optimizer" else _loss_names()
        if value not in names:  # a name the registry does not list: offer it as it is
            select.set_options([(n, n) for n in [value, *names]])
        select.value = value

    def _read(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Parsed values and errors by field key, from the widgets (or the applied values)."""
        if not self.is_mounted:
            base = self._base
            return ({"optimizer": base.optimizer, "learning_rate": base.learning_rate, "loss": base.loss,
                     "batch_size": base.batch_size, "epochs": base.epochs, "l2": self._base_l2,
                     "metrics": tuple(base.metrics)}, {})
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        optimizer = self.query_one(f"#{FIELDS['optimizer'][1]}", Select).value
        values["optimizer"] = optimizer if isinstance(optimizer, str) else self._base.optimizer
        loss = self.query_one(f"#{FIELDS['loss'][1]}", Select).value
        loss = loss if isinstance(loss, str) else self._base.loss
        values["loss"] = self._base.loss if loss == canonical_loss(self._base.loss) else loss
        parsers = {"learning_rate": lambda t: parse_positive_float(t, "learning rate"),
                   "batch_size": lambda t: parse_positive_int(t, "batch size", "32"),
                   "epochs": lambda t: parse_positive_int(t, "epochs", "100"),
                   "l2": parse_l2, "metrics": parse_metrics}
        for key, parse in parsers.items():
            text = self.query_one(f"#{FIELDS[key][1]}", Input).value
            try:
                values[key] = parse(text)
            except FieldError as exc:
                errors[key] = str(exc)
        return values, errors

    def _spec_from(self, values: dict[str, Any]) -> TrainSpec:
        base = self._base
        changes = {k: values[k] for k in ("optimizer", "learning_rate", "loss", "batch_size", "epochs", "metrics")
                   if k in values}
        if changes.get("optimizer", base.optimizer) != base.optimizer:
            changes["optimizer_args"] = {}  # the old optimizer's extra arguments may not fit the new one
        return dataclasses.replace(base, **changes)

    def _differs(self, values: dict[str, Any]) -> bool:
        base = self._base
        current = {"optimizer": base.optimizer, "learning_rate": base.learning_rate, "loss": base.loss,
                   "batch_size": base.batch_size, "epochs": base.epochs, "metrics": tuple(base.metrics)}
        if any(k in values and values[k] != v for k, v in current.items()):
            return True
        return values.get("l2") is not None and values["l2"] != self._base_l2

    def _show_errors(self, errors: dict[str, str]) -> None:
        self._errors = dict(errors)
        if not self.is_mounted:
            return
        for key, (_, wid) in FIELDS.items():
            box = self.query_one(f"#{wid}-error", Static)
            message = errors.get(key, "")
            box.update(f"✗ {message}" if message else "")
            box.set_class(bool(message), "-shown")

    def _set_note(self, text: str) -> None:
        self._note = text
        self._update_state()

    def _update_state(self) -> None:
        if not self.is_mounted:
            return
        values, errors = self._read()
        # Errors show for fields that were shown before (Enter/Apply) or are invalid now as typed.
        self._show_errors(errors)
        dirty = bool(errors) or self._differs(values)
        if errors:
            state = "● edited — fix the fields marked ✗"
        elif dirty:
            state = "● edited — ctrl+a to apply (enter in learning rate applies it live)"
        else:
            state = "as applied · enter in learning rate applies it live"
        self.query_one("#hp-state", Static).update(state)
        self.query_one("#hp-note", Static).update(self._note)
        self.set_class(dirty, "-dirty")
        self.post_message(self.Edited(self, dirty))

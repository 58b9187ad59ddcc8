"""Modal screens that edit one layer spec: `LayerPicker` chooses a type, `LayerEditor` its arguments.

A layer spec is the plain dict a preset holds (`{"type": "Dense", "units": 16, "activation":
"relu"}`). The editor shows one field per constructor argument of the layer type, read from
its signature, validates on submit by constructing a throwaway layer, and returns the new
spec with only the non-default arguments kept. Neither screen ever touches a live model.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, Static, Switch
from textual.widgets.option_list import Option

from tuinet.errors import TuinetError
from tuinet.nn import activations, initializers
from tuinet.nn import layers as layers_module
from tuinet.nn.model import _fmt_shape
from tuinet.layerspec import (HIDDEN_ARGS, NEW_LAYER_DEFAULTS, _EMPTY, _l2_factor, describe_layer, format_value,
                              layer_params, layer_summary, make_layer, new_layer_spec)

__all__ = ["LayerEditor", "LayerPicker", "ParseError", "parse_literal", "describe_shape", "NOT_PICKED",
           # kept here for older imports; they live in tuinet.layerspec
           "HIDDEN_ARGS", "NEW_LAYER_DEFAULTS", "describe_layer", "format_value", "layer_params", "layer_summary",
           "new_layer_spec"]

NOT_PICKED = frozenset({"Bidirectional", "TimeDistributed", "Lambda", "TextVectorization", "StringLookup",
                        "IntegerLookup"})
"""Layer types the picker does not offer: they wrap another layer, which the editor's one-level
form cannot edit (they work in presets and in Python), or, for Lambda, a Python function, which
no form can enter (it works in Python only). Nor does it offer the merge layers
(`multi_input`), which take several tensors and so belong to functional models, not stacks."""

PADDINGS = ("valid", "same")
_SHAPE_ARGS = frozenset({"target_shape", "noise_shape"})  # a bare int means a 1-tuple here
_STRING_ARGS = frozenset({"data_format"})  # free-text arguments whose default is None


class _Keep:
    """Select value standing for "the spec's original value" (one the dropdown cannot list)."""

    def __repr__(self) -> str:
        return "<keep>"


KEEP = _Keep()


class ParseError(ValueError):
    """Text in a field that is not a value the field accepts."""


# ---------------------------------------------------------------------------- plain helpers
def parse_literal(text: str, *, allow_str: bool = False) -> Any:
    """A field's text as a Python value: `16`, `0.5`, `1e-3`, `3,3`, `(3, 3)`, `[2, 2]`, `none`.

    Args:
        text: What the user typed.
        allow_str: Return other text unchanged instead of raising `ParseError`.

    Raises:
        ParseError: Empty text, or text that is none of the above (unless `allow_str`).
    """
    t = text.strip()
    if not t:
        raise ParseError("expected a value")
    low = t.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    bracketed = t[0] in "([" and t[-1] in ")]"
    if bracketed or "," in t:
        inner = t[1:-1] if bracketed else t
        parts = [p.strip() for p in inner.split(",")]
        if parts and parts[-1] == "":
            parts.pop()
        try:
            if not parts or any(not p for p in parts):
                raise ParseError
            return tuple(_number(p) for p in parts)
        except ParseError:
            if allow_str:
                return t
            raise ParseError(f"expected a tuple of numbers such as 3,3 or (3, 3), got {t!r}") from None
    try:
        return _number(t)
    except ParseError:
        if allow_str:
            return t
        raise ParseError(f"expected a number, a tuple such as 3,3, or none; got {t!r}") from None


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ParseError(text) from None
    if not math.isfinite(value):
        raise ParseError(text)
    return value


def describe_shape(shape: tuple | None) -> str:
    """Keras's `(None, 16)`; "?" when unknown."""
    return "?" if shape is None else _fmt_shape((None, *shape))


def _canonical_activation(value: Any) -> Any:
    if value is None:
        return "linear"
    if isinstance(value, str):
        key = value.lower()
        key = activations.ALIASES.get(key, key)
        return key if key in activations.ACTIVATIONS else KEEP
    return KEEP


def _canonical_initializer(value: Any) -> Any:
    if isinstance(value, str):
        key = value.lower()
        key = initializers.ALIASES.get(key, key)
        return key if key in initializers.INITIALIZERS else KEEP
    return KEEP


# ---------------------------------------------------------------------------- fields
@dataclass
class _Field:
    """How one constructor argument is edited."""

    name: str
    kind: str  # "bool" | "activation" | "initializer" | "padding" | "regularizer" | "value"
    default: Any  # inspect.Parameter.empty when required
    original: Any  # the spec's value, or `_EMPTY` when the spec leaves it out

    @property
    def required(self) -> bool:
        return self.default is _EMPTY

    @property
    def start(self) -> Any:
        """The value the field starts with."""
        return self.original if self.original is not _EMPTY else (None if self.required else self.default)


def _field_kind(p: inspect.Parameter) -> str:
    name = p.name
    if name == "activation" or name.endswith("_activation"):
        return "activation"
    if name.endswith("_initializer"):
        return "initializer"
    if name.endswith("_regularizer"):
        return "regularizer"
    if name == "padding":
        return "padding"
    if isinstance(p.default, bool):
        return "bool"
    return "value"


def _same(field: _Field, value: Any) -> bool:
    """Whether `value` equals the argument's default (so the spec can leave it out)."""
    if field.required:
        return False
    default = field.default
    if field.kind == "activation":
        return _canonical_activation(value) == _canonical_activation(default) is not KEEP
    if field.kind == "initializer":
        return _canonical_initializer(value) == _canonical_initializer(default) is not KEEP
    return _equal(value, default)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(value: Any, default: Any) -> bool:
    """Equality as a layer sees it: `0` is `0.0`, `[3, 3]` is `(3, 3)`, `1` is `(1, 1)` for strides."""
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(default, list):
        default = tuple(default)
    if _is_number(value) and _is_number(default):
        return value == default
    if isinstance(default, tuple) and _is_number(value):
        return all(_is_number(d) and d == value for d in default)
    if isinstance(value, tuple) and isinstance(default, tuple):
        return len(value) == len(default) and all(_equal(v, d) for v, d in zip(value, default))
    return type(value) is type(default) and value == default


class LayerEditor(ModalScreen[dict | None]):
    """Edit the arguments of one layer; dismisses with the new spec dict, or None on Escape.

    Fields come from the layer type's constructor signature: a `Select` for activations,
    initializers and padding, a `Switch` for booleans, an `Input` for everything else (numbers,
    tuples such as `3,3`, `none`) and for regularizers (an L2 factor, or empty for none).
    Errors are shown under the field they concern, and the dialog stays open.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="layer-editor.cancel", tooltip="Close without changing the layer"),
        Binding("ctrl+s", "submit", "OK", id="layer-editor.ok", tooltip="Check the values and use them"),
    ]

    DEFAULT_CSS = """
    LayerEditor { align: center middle; }
    LayerEditor > #editor-dialog {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    LayerEditor #editor-title { text-style: bold; height: auto; }
    LayerEditor #editor-fields { height: auto; max-height: 70vh; }
    LayerEditor .field { height: 1; }
    LayerEditor .field-label { width: 24; height: 1; color: $text-muted; }
    LayerEditor .field Input, LayerEditor .field Select { width: 1fr; }
    LayerEditor .field Switch, LayerEditor .field Switch:focus {
        border: none; height: 1; padding: 0; width: auto; background-tint: $foreground 0%;
    }
    LayerEditor .field Switch:focus { text-style: reverse; }
    LayerEditor .switch-state { width: auto; height: 1; padding: 0 1; }
    LayerEditor .field-error { height: auto; color: $error; padding-left: 24; display: none; }
    LayerEditor .field-error.-shown { display: block; }
    LayerEditor #editor-error { height: auto; color: $error; display: none; }
    LayerEditor #editor-error.-shown { display: block; }
    LayerEditor #editor-buttons { height: 1; margin-top: 1; }
    LayerEditor #editor-buttons Button { margin-right: 2; width: auto; min-width: 8; padding: 0 2; }
    LayerEditor #editor-help { height: 1; color: $text-muted; }
    """

    def __init__(self, spec: dict, input_shape: tuple | None = None, *, index: int | None = None,
                 new: bool = False, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        """Args:
            spec: The layer spec to edit (`{"type": "Dense", "units": 16, ...}`).
            input_shape: The sample shape the layer will receive (no batch axis), for the title.
            index: The layer's 0-based position in the model, for the title.
            new: Whether the layer is being added (changes the title).
        """
        super().__init__(name=name, id=id, classes=classes)
        self.layer_class = layers_module.get(spec["type"])
        self.spec = dict(spec)
        self.input_shape = input_shape
        self.index = index
        self.new = new
        self.fields = [_Field(p.name, _field_kind(p), p.default, self.spec.get(p.name, _EMPTY))
                       for p in layer_params(self.layer_class)]

    # -- compose ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        kind = self.layer_class.__name__
        where = f"layer {self.index + 1}: " if self.index is not None else ""
        verb = "Add" if self.new else "Edit"
        with Vertical(id="editor-dialog"):
            yield Static(Text(f"{verb} {where}{kind} · input {describe_shape(self.input_shape)}"), id="editor-title")
            with VerticalScroll(id="editor-fields"):
                if not self.fields:
                    yield Static(Text(f"{kind} takes no arguments: OK adds it as it is."), classes="field-note")
                for f in self.fields:
                    with Horizontal(classes="field", id=f"row-{f.name}"):
                        yield Label(Text(f.name + ("*" if f.required else "")), classes="field-label")
                        yield self._widget_for(f)
                        if f.kind == "bool":
                            yield Label(format_value(bool(f.start)), classes="switch-state", id=f"state-{f.name}")
                    yield Static("", classes="field-error", id=f"err-{f.name}", markup=False)
            yield Static("", id="editor-error", markup=False)
            with Horizontal(id="editor-buttons"):
                yield Button("OK", variant="primary", id="editor-ok", compact=True)
                yield Button("Cancel", id="editor-cancel", compact=True)
            yield Static(Text("enter or ctrl+s: OK · esc: cancel · * required"), id="editor-help")

    def _widget_for(self, f: _Field):
        wid = f"arg-{f.name}"
        start = f.start
        if f.kind == "bool":
            return Switch(value=bool(start), id=wid)
        if f.kind in ("activation", "initializer", "padding"):
            if f.kind == "activation":
                names, value = activations.names(), _canonical_activation(start)
            elif f.kind == "initializer":
                names, value = initializers.names(), _canonical_initializer(start)
            else:
                names = list(PADDINGS)
                value = start.lower() if isinstance(start, str) and start.lower() in PADDINGS else KEEP
            options: list[tuple[str, Any]] = [(n, n) for n in names]
            if value is KEEP:
                options.insert(0, (f"(as given) {format_value(start)}", KEEP))
            return Select(options, value=value, allow_blank=False, compact=True, id=wid)
        if f.kind == "regularizer":
            return Input(self._regularizer_text(start), placeholder="L2 factor such as 0.01; empty: none",
                         compact=True, id=wid, select_on_focus=False)
        text = "" if (f.required and start is None) else format_value(start)
        return Input(text, placeholder="number, tuple such as 3,3, or none", compact=True, id=wid,
                     select_on_focus=False)

    @staticmethod
    def _regularizer_text(value: Any) -> str:
        if value is None:
            return ""
        factor = _l2_factor(value)
        if factor is not None:
            return format_value(factor)
        return format_value(value) if not isinstance(value, dict) else f"{value.get('name')} {value.get('config')}"

    def on_mount(self) -> None:
        first = next(iter(self.query("#editor-fields Input, #editor-fields Select, #editor-fields Switch")), None)
        (first or self.query_one("#editor-ok", Button)).focus()

    # -- events -------------------------------------------------------------------------------
    @on(Switch.Changed)
    def _switch_changed(self, event: Switch.Changed) -> None:
        name = (event.switch.id or "").removeprefix("arg-")
        for label in self.query(f"#state-{name}"):
            label.update(format_value(event.value))

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    @on(Button.Pressed, "#editor-ok")
    def _ok_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_submit()

    @on(Button.Pressed, "#editor-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    # -- actions ------------------------------------------------------------------------------
    def action_cancel(self) -> None:
        """Close without a result."""
        self.dismiss(None)

    def action_submit(self) -> None:
        """Validate every field; dismiss with the new spec, or show the errors and stay open."""
        spec, errors, general = self.result()
        self._show_errors(errors, general)
        if spec is not None:
            self.dismiss(spec)

    # -- public -------------------------------------------------------------------------------
    def result(self) -> tuple[dict | None, dict[str, str], str]:
        """The spec the fields describe, or None with errors by argument name and a general error."""
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for f in self.fields:
            try:
                values[f.name] = self._read(f)
            except ParseError as exc:
                errors[f.name] = f"{f.name}: {exc}"
        if errors:
            return None, errors, ""
        cls = self.layer_class
        args = {k: v for k, v in self.spec.items() if k != "type" and k in HIDDEN_ARGS
                and k not in values}  # name, input_shape... pass through untouched
        for f in self.fields:
            if not _same(f, values[f.name]):
                args[f.name] = values[f.name]
        try:
            make_layer({"type": cls.__name__, **args})
        except (TuinetError, TypeError) as exc:
            text = str(exc)
            prefix = f"{cls.__name__}: "
            detail = text[len(prefix):] if text.startswith(prefix) else text
            arg = next((f.name for f in self.fields
                        if f" {f.name} " in f" {detail} " or f"{f.name}:" in detail or f" {f.name}=" in detail
                        or detail.startswith(f"{f.name} ") or f"'{f.name}'" in detail), None)
            if arg is not None:
                if not detail.startswith(arg):
                    detail = f"{arg}: {detail}"
                elif not detail.startswith(f"{arg}:"):
                    detail = f"{arg}:{detail[len(arg):]}"
                return None, {arg: detail}, ""
            return None, {}, f"{cls.__name__}: {detail}"
        return {"type": cls.__name__, **args}, {}, ""

    # -- private ------------------------------------------------------------------------------
    def _read(self, f: _Field) -> Any:
        widget = self.query_one(f"#arg-{f.name}")
        if f.kind == "bool":
            return bool(widget.value)
        if f.kind in ("activation", "initializer", "padding"):
            value = widget.value
            return f.start if value is KEEP else value
        text = widget.value.strip()
        if f.kind == "regularizer":
            if f.original is not _EMPTY and text == self._regularizer_text(f.original).strip():
                return f.original
            if not text or text.lower() in ("none", "0", "0.0"):
                return None
            try:
                factor = _number(text)
            except ParseError:
                raise ParseError(f"expected an L2 factor such as 0.01 (empty for none), got {text!r}") from None
            if factor < 0:
                raise ParseError(f"expected an L2 factor >= 0, got {text!r}")
            return {"name": "l2", "config": {"l2": float(factor)}}
        if f.original is not _EMPTY and text == format_value(f.original):
            return f.original
        if not text:
            if f.required:
                raise ParseError("required; expected a value")
            return f.default
        allow_str = isinstance(f.default, str) or f.name in _STRING_ARGS or f.name.endswith("_constraint")  # "max_norm"
        value = parse_literal(text, allow_str=allow_str)
        if f.name in _SHAPE_ARGS and isinstance(value, int) and not isinstance(value, bool):
            value = (value,)
        return value

    def _show_errors(self, errors: dict[str, str], general: str) -> None:
        for f in self.fields:
            box = self.query_one(f"#err-{f.name}", Static)
            message = errors.get(f.name, "")
            box.update(f"✗ {message}" if message else "")
            box.set_class(bool(message), "-shown")
        box = self.query_one("#editor-error", Static)
        box.update(f"✗ {general}" if general else "")
        box.set_class(bool(general), "-shown")
        if errors:
            first = next(f for f in self.fields if f.name in errors)
            widget = self.query_one(f"#arg-{first.name}")
            widget.focus()
            self.query_one("#editor-fields", VerticalScroll).scroll_to_widget(
                self.query_one(f"#err-{first.name}"), animate=False)


class LayerPicker(ModalScreen[str | None]):
    """Choose a layer type to add; dismisses with its name ("Dense"), or None on Escape."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="layer-picker.cancel", tooltip="Close without adding a layer"),
    ]

    DEFAULT_CSS = """
    LayerPicker { align: center middle; }
    LayerPicker > #picker-dialog {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    LayerPicker #picker-title { text-style: bold; height: auto; }
    LayerPicker OptionList { height: auto; max-height: 80vh; text-wrap: nowrap; text-overflow: ellipsis; }
    LayerPicker #picker-help { height: 1; color: $text-muted; }
    LayerPicker OptionList:nocolor > .option-list--option-highlighted { text-style: bold reverse; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)

    def compose(self) -> ComposeResult:
        width = max(len(n) for n in layers_module.LAYERS) + 2
        options = []
        for type_name, cls in layers_module.LAYERS.items():
            if type_name in NOT_PICKED or getattr(cls, "multi_input", False):
                continue
            prompt = Text(no_wrap=True, overflow="ellipsis")
            prompt.append(type_name.ljust(width), style="bold")
            prompt.append(layer_summary(cls))
            options.append(Option(prompt, id=type_name))
        with Vertical(id="picker-dialog"):
            yield Static(Text("Add a layer after the cursor: choose its type"), id="picker-title")
            yield OptionList(*options, id="layer-types", compact=True)
            yield Static(Text("↑/↓ move · enter: choose · esc: cancel"), id="picker-help")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Close without choosing."""
        self.dismiss(None)

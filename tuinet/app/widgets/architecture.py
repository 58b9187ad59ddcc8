"""`ArchitecturePane`: the model's layers as a table, editable with the keyboard.

The pane holds plain layer specs (dicts with a "type" key). After every edit it builds a
throwaway `Sequential` on the data's sample shape to show Keras's output shapes and parameter
counts; it never touches the live model. Apply posts `ApplyArchitecture` with the edited
specs, and the screen answers with `load()` once the session has rebuilt the model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, DataTable, Static

from tuinet.app.messages import ApplyArchitecture
from tuinet.app.screens.layer_editor import LayerEditor, LayerPicker, describe_layer, describe_shape, new_layer_spec


@dataclass
class StackReport:
    """What building a stack of layer specs on an input shape gives, layer by layer.

    `shapes[i]` / `params[i]` are None where unknown (at and after the failing layer).
    """

    shapes: list[tuple | None] = field(default_factory=list)
    params: list[int | None] = field(default_factory=list)
    error: str | None = None
    error_index: int | None = None
    total: int | None = None
    trainable: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _detail(text: str, kind: str, name: str) -> str:
    """A layer's error without the model's and the layer's own prefixes."""
    text = re.sub(r"^layer '.*?' \(\w+\) cannot take input of shape \(.*?\): ", "", text)
    for prefix in (f"{kind} {name!r}: ", f"{kind} {name!r} ", f"{kind}: ", f"{name!r}: "):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def analyse_stack(specs: tuple[dict, ...] | list[dict], input_shape: tuple[int, ...] | None) -> StackReport:
    """Check `specs` as a throwaway `Sequential` on `input_shape` and report shapes and params.

    No weight is allocated (see `Layer.weight_specs`): the report costs the same for 8 units
    as for 100 million.

    Never raises for a bad stack: the first layer that cannot be built or cannot take its
    input is named in `error` ("layer 3 (Conv2D): expects inputs of shape ...").
    """
    from tuinet import layerspec
    from tuinet.nn import layers as layers_module
    from tuinet.nn.model import Sequential

    if layerspec.is_graph(specs):
        return analyse_graph(specs, input_shape)
    n = len(specs)
    report = StackReport(shapes=[None] * n, params=[None] * n)
    model = Sequential(seed=0)
    built = []
    for i, spec in enumerate(specs):
        kind = str(spec.get("type", "?"))
        try:
            cls = layers_module.get(kind)
            own = {p for p in ("input_dim",) if cls.__name__ == "Embedding"}
            args = {k: v for k, v in spec.items()
                    if k != "type" and k != "input_shape" and (k != "input_dim" or k in own)}
            layer = layerspec.make_layer({"type": cls.__name__, **args})
            model.add(layer)
        except Exception as exc:  # noqa: BLE001 - any bad spec is reported, never raised
            text = str(exc)
            report.error = f"layer {i + 1} ({kind}): {_detail(text, kind, '')}"
            report.error_index = i
            return report
        built.append(layer)
    if input_shape is None:
        report.error = "the input shape is not known yet: load data first"
        return report
    if not built:
        report.error = "the model has no layers"
        return report
    # Shapes and counts only: `weight_specs` runs each build without allocating, so a layer of
    # 100 million units previews at once instead of freezing the keys while its weights fill.
    shape, trainable = tuple(input_shape), 0
    for i, lay in enumerate(built):
        try:
            weights = lay.weight_specs(shape)
            shape = tuple(lay.compute_output_shape(shape))
        except Exception as exc:  # noqa: BLE001 - any failing layer is reported, never raised
            report.error = f"layer {i + 1} ({type(lay).__name__}): {_detail(str(exc), type(lay).__name__, lay.name)}"
            report.error_index = i
            return report
        report.shapes[i] = shape
        report.params[i] = sum(math.prod(s) for _, s, _ in weights)
        trainable += sum(math.prod(s) for _, s, train in weights if train) if lay.trainable else 0
    report.total = sum(p for p in report.params if p is not None)
    report.trainable = trainable
    return report


def analyse_graph(specs, input_shape: tuple[int, ...] | None) -> StackReport:
    """`analyse_stack` for the graph form (specs with `inputs`): each layer is called on symbolic
    tensors, which gives its output shape; its parameters come from `weight_specs`. Nothing is
    allocated and nothing is raised."""
    from tuinet import layerspec
    from tuinet.nn.functional import Input

    n = len(specs)
    report = StackReport(shapes=[None] * n, params=[None] * n)
    if input_shape is None:
        report.error = "the input shape is not known yet: load data first"
        return report
    tensors = {"input": Input(tuple(input_shape), name="input")}
    previous = tensors["input"]
    trainable = 0
    for i, spec in enumerate(specs):
        kind = str(spec.get("type", "?"))
        try:
            layer = layerspec.make_layer(spec)
            names = spec.get("inputs")
            args = previous if names is None else [tensors[name] for name in names]
            if names is not None and not getattr(layer, "multi_input", False):
                args = args[0]
            previous = layer(args)
            shapes = [tuple(t.shape[1:]) for t in (args if isinstance(args, list) else [args])]
            weights = layer.weight_specs(shapes if getattr(layer, "multi_input", False) else shapes[0])
        except Exception as exc:  # noqa: BLE001 - any failing layer is reported, never raised
            report.error = f"layer {i + 1} ({kind}): {_detail(str(exc), kind, str(spec.get('name', '')))}"
            report.error_index = i
            return report
        if spec.get("name"):
            tensors[spec["name"]] = previous
        report.shapes[i] = tuple(previous.shape[1:])
        report.params[i] = sum(math.prod(s) for _, s, _ in weights)
        trainable += sum(math.prod(s) for _, s, train in weights if train) if layer.trainable else 0
    report.total = sum(p for p in report.params if p is not None)
    report.trainable = trainable
    return report


GRAPH_READ_ONLY = ("this model is a graph (its layers name their inputs): the pane shows it read-only; edit the "
                   "preset file, or build it in Python")


class ArchitecturePane(Widget):
    """The model's layers with output shapes and parameter counts; add, edit, move and remove them.

    Edits stay in the pane (marked "● edited") until Apply posts `ApplyArchitecture`.
    """

    BINDINGS = [
        Binding("a", "add_layer", "Add layer", id="architecture.add",
                tooltip="Add a layer after the highlighted one"),
        Binding("e,enter", "edit_layer", "Edit layer", key_display="e", id="architecture.edit",
                tooltip="Edit the highlighted layer's arguments"),
        Binding("x,delete", "remove_layer", "Remove layer", key_display="x", id="architecture.remove",
                tooltip="Remove the highlighted layer"),
        Binding("ctrl+up,K", "move_up", "Move up", show=False, id="architecture.up",
                tooltip="Move the highlighted layer up"),
        Binding("ctrl+down,J", "move_down", "Move down", show=False, id="architecture.down",
                tooltip="Move the highlighted layer down"),
        Binding("ctrl+a", "apply", "Apply model", id="architecture.apply",
                tooltip="Rebuild the model with the edited layers (re-initialises the weights)"),
        Binding("ctrl+r", "revert", "Revert model", show=False, id="architecture.revert",
                tooltip="Throw the edits away: back to the applied layers"),
    ]

    DEFAULT_CSS = """
    ArchitecturePane { height: 1fr; min-height: 8; layout: vertical; }
    ArchitecturePane #arch-state { height: 1; color: $text-muted; }
    ArchitecturePane.-dirty #arch-state { color: $warning; text-style: bold; }
    ArchitecturePane #arch-table { height: 1fr; min-height: 3; }
    ArchitecturePane #arch-table:nocolor > .datatable--cursor { text-style: bold reverse; }
    ArchitecturePane #arch-totals { height: 1; }
    ArchitecturePane #arch-error { height: auto; color: $error; display: none; }
    ArchitecturePane #arch-error.-shown { display: block; }
    ArchitecturePane #arch-note { height: auto; color: $text-muted; display: none; }
    ArchitecturePane #arch-note.-shown { display: block; }
    ArchitecturePane #arch-note.-refused { color: $warning; }
    ArchitecturePane #arch-buttons { height: 1; }
    ArchitecturePane #arch-buttons Button { margin-right: 1; width: auto; min-width: 0; padding: 0 1; }
    """

    class Edited(Message):
        """The edited layers changed (an edit, or `load`)."""

        def __init__(self, pane: "ArchitecturePane", layers: tuple[dict, ...], dirty: bool,
                     error: str | None) -> None:
            super().__init__()
            self.pane = pane
            self.layers = layers
            self.dirty = dirty
            self.error = error

        @property
        def control(self) -> "ArchitecturePane":
            return self.pane

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.border_title = "model"  # shown where app.tcss gives the pane a border
        self._specs: list[dict] = []
        self._loaded: tuple[dict, ...] = ()
        self._input_shape: tuple[int, ...] | None = None
        self._report = StackReport()
        self._note = ""
        self._note_refused = False

    # -- compose ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="arch-state", markup=False)
        table: DataTable = DataTable(id="arch-table", cursor_type="row", zebra_stripes=True)
        table.add_column("#", key="index")
        table.add_column("layer", key="layer")
        table.add_column("output shape", key="shape")
        table.add_column("params", key="params")
        yield table
        yield Static("", id="arch-totals", markup=False)
        yield Static("", id="arch-error", markup=False)
        yield Static("", id="arch-note", markup=False)
        with Horizontal(id="arch-buttons"):
            yield Button("Add", id="arch-add", compact=True, tooltip="Add a layer (a)")
            yield Button("Edit", id="arch-edit", compact=True, tooltip="Edit the layer (e)")
            yield Button("Remove", id="arch-remove", compact=True, tooltip="Remove the layer (x)")
            yield Button("Apply (rebuild)", id="arch-apply", variant="primary", compact=True,
                         tooltip="Rebuild the model with these layers (ctrl+a)")

    def on_mount(self) -> None:
        self._refresh_view()
        self._set_buttons()

    # -- public -------------------------------------------------------------------------------
    def load(self, layers: tuple[dict, ...], input_shape: tuple[int, ...]) -> None:
        """Show the model's layer specs, as applied, on the data's sample shape; clears `dirty`."""
        self._loaded = tuple(dict(spec) for spec in layers)
        self._specs = [dict(spec) for spec in layers]
        self._input_shape = tuple(input_shape) if input_shape is not None else None
        self._note = ""
        self._recompute(cursor=0)
        self._set_buttons()

    def _set_buttons(self) -> None:
        """A graph is shown read-only: its edit buttons are disabled (the keys say why)."""
        if not self.is_mounted:
            return
        from tuinet import layerspec

        graph = layerspec.is_graph(self._specs)
        for name in ("add", "edit", "remove", "apply"):
            for button in self.query(f"#arch-{name}"):
                button.disabled = graph

    def edits(self) -> tuple[tuple[dict, ...], int]:
        """The edited layers and the cursor, for `restore_edits` (after a layout change)."""
        return self.layer_specs, self.cursor

    def restore_edits(self, edits: tuple[tuple[dict, ...], int]) -> None:
        """Put back unapplied edits on top of the loaded layers (`dirty` again when they differ)."""
        specs, cursor = edits
        self._specs = [dict(spec) for spec in specs]
        self._recompute(cursor=cursor)
        self._set_buttons()

    @property
    def layer_specs(self) -> tuple[dict, ...]:
        """The edited layer specs (copies).

        Not called `layers`: `Widget.layers` is Textual's tuple of CSS layer names, which the
        compositor reads on every layout.
        """
        return tuple(dict(spec) for spec in self._specs)

    @property
    def dirty(self) -> bool:
        """Whether the edited layers differ from the ones last loaded."""
        return tuple(self._specs) != self._loaded

    @property
    def error(self) -> str | None:
        """Why the edited layers cannot be built on the input shape, or None."""
        return self._report.error

    @property
    def report(self) -> StackReport:
        """Shapes and parameter counts of the edited layers."""
        return self._report

    @property
    def cursor(self) -> int:
        """The highlighted layer's 0-based index."""
        if not self.is_mounted or not self._specs:
            return 0
        return min(max(self.query_one("#arch-table", DataTable).cursor_row, 0), len(self._specs) - 1)

    # -- actions ------------------------------------------------------------------------------
    def _graph_refused(self) -> bool:
        """Refuse an edit of a graph (with the note saying why): the pane edits stacks only."""
        from tuinet import layerspec

        if layerspec.is_graph(self._specs):
            self._set_note(GRAPH_READ_ONLY, refused=True)
            return True
        return False

    def action_add_layer(self) -> None:
        """Choose a type, then edit the new layer; it goes after the highlighted one."""
        if self._graph_refused():
            return
        position = self.cursor + 1 if self._specs else 0

        def chosen(type_name: str | None) -> None:
            if type_name is None:
                return
            spec = new_layer_spec(type_name)
            self.app.push_screen(LayerEditor(spec, self._shape_before(position), index=position, new=True),
                                 lambda result: self._insert(position, result))

        self.app.push_screen(LayerPicker(), chosen)

    def action_edit_layer(self) -> None:
        """Open the editor on the highlighted layer."""
        if self._graph_refused():
            return
        if not self._specs:
            self._set_note("no layer to edit: press a to add one", refused=True)
            return
        i = self.cursor
        self.app.push_screen(LayerEditor(self._specs[i], self._shape_before(i), index=i),
                             lambda result: self._replace(i, result))

    def action_remove_layer(self) -> None:
        """Remove the highlighted layer (never the last one left)."""
        if self._graph_refused():
            return
        if len(self._specs) <= 1:
            self._set_note("cannot remove the last layer: a model needs at least one (edit it instead)",
                           refused=True)
            return
        i = self.cursor
        gone = self._specs.pop(i)
        self._note = f"removed layer {i + 1} ({describe_layer(gone)})"
        self._note_refused = False
        self._recompute(cursor=min(i, len(self._specs) - 1))

    def action_move_up(self) -> None:
        """Swap the highlighted layer with the one above."""
        self._move(-1)

    def action_move_down(self) -> None:
        """Swap the highlighted layer with the one below."""
        self._move(+1)

    def action_apply(self) -> None:
        """Post `ApplyArchitecture` with the edited layers, if they build on the input shape."""
        if self._report.error is not None:
            self._set_note(f"cannot apply: {self._report.error}", refused=True)
            return
        if not self.dirty:
            self._set_note("nothing to apply: the layers are as applied (r resets the weights)", refused=True)
            return
        self._set_note("applying: the model is rebuilt with new weights", refused=False)
        self.post_message(ApplyArchitecture(self.layer_specs))

    def action_revert(self) -> None:
        """Throw the edits away: back to the layers last loaded."""
        if not self.dirty:
            self._set_note("nothing to revert", refused=True)
            return
        self._specs = [dict(spec) for spec in self._loaded]
        self._note, self._note_refused = "edits reverted", False
        self._recompute(cursor=self.cursor)

    # -- events -------------------------------------------------------------------------------
    @on(DataTable.RowSelected, "#arch-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit_layer()

    @on(Button.Pressed)
    def _button(self, event: Button.Pressed) -> None:
        actions = {"arch-add": self.action_add_layer, "arch-edit": self.action_edit_layer,
                   "arch-remove": self.action_remove_layer, "arch-apply": self.action_apply}
        action = actions.get(event.button.id or "")
        if action is not None:
            event.stop()
            action()

    # -- private ------------------------------------------------------------------------------
    def _shape_before(self, i: int) -> tuple | None:
        if i == 0:
            return self._input_shape
        if i - 1 < len(self._report.shapes):
            return self._report.shapes[i - 1]
        return None

    def _insert(self, position: int, spec: dict | None) -> None:
        if spec is None:
            return
        self._specs.insert(position, spec)
        self._note = f"added layer {position + 1} ({describe_layer(spec)})"
        self._note_refused = False
        self._recompute(cursor=position)

    def _replace(self, i: int, spec: dict | None) -> None:
        if spec is None or spec == self._specs[i]:
            return
        self._specs[i] = spec
        self._note = f"edited layer {i + 1} ({describe_layer(spec)})"
        self._note_refused = False
        self._recompute(cursor=i)

    def _move(self, step: int) -> None:
        if self._graph_refused():
            return
        i = self.cursor
        j = i + step
        if not self._specs or not 0 <= j < len(self._specs):
            self._set_note(f"layer {i + 1} is already {'first' if step < 0 else 'last'}", refused=True)
            return
        self._specs[i], self._specs[j] = self._specs[j], self._specs[i]
        self._note = f"moved layer {i + 1} ({describe_layer(self._specs[j])}) to position {j + 1}"
        self._note_refused = False
        self._recompute(cursor=j)

    def _set_note(self, text: str, *, refused: bool) -> None:
        self._note, self._note_refused = text, refused
        if self.is_mounted:
            self._refresh_notes()

    def _recompute(self, *, cursor: int | None = None) -> None:
        self._report = analyse_stack(self._specs, self._input_shape)
        self._refresh_view(cursor=cursor)
        self.post_message(self.Edited(self, self.layer_specs, self.dirty, self._report.error))

    def _refresh_view(self, *, cursor: int | None = None) -> None:
        if not self.is_mounted:
            return
        report = self._report
        table = self.query_one("#arch-table", DataTable)
        keep = table.cursor_row if cursor is None else cursor
        table.clear()
        graph = any(spec.get("inputs") is not None for spec in self._specs)
        for i, spec in enumerate(self._specs):
            failed = report.error_index == i
            label = ("✗ " if failed else "") + describe_layer(spec)
            if graph:  # name: layer ← its inputs (the previous layer's output when unnamed)
                label = (f"{spec['name']}: " if spec.get("name") else "") + label
                if spec.get("inputs") is not None:
                    label += " ← " + ", ".join(spec["inputs"])
            shape = describe_shape(report.shapes[i] if i < len(report.shapes) else None)
            params = report.params[i] if i < len(report.params) else None
            table.add_row(Text(str(i + 1), justify="right"), Text(label), Text(shape),
                          Text("?" if params is None else f"{params:,}", justify="right"), key=str(i))
        if self._specs:
            table.move_cursor(row=min(max(keep, 0), len(self._specs) - 1), animate=False)
        if report.total is not None:
            totals = (f"Total params: {report.total:,} · trainable: {report.trainable:,}"
                      f" · non-trainable: {report.total - report.trainable:,}")
        else:
            totals = "Total params: ? (the model does not build)"
        self.query_one("#arch-totals", Static).update(totals)
        self.set_class(self.dirty, "-dirty")
        self.set_class(report.error is not None, "-invalid")
        self._refresh_notes()

    def _refresh_notes(self) -> None:
        report = self._report
        shape = describe_shape(self._input_shape)
        n = len(self._specs)
        if self.dirty and report.error is not None:
            state = f"● edited — cannot apply until fixed · input {shape}"
        elif self.dirty:
            state = f"● edited — ctrl+a to apply · input {shape}"
        else:
            state = f"as applied · input {shape} · {n} layer{'s' if n != 1 else ''}"
        self.query_one("#arch-state", Static).update(state)
        error = self.query_one("#arch-error", Static)
        error.update(f"✗ {report.error}" if report.error else "")
        error.set_class(report.error is not None, "-shown")
        note = self.query_one("#arch-note", Static)
        note.update((("! " if self._note_refused else "") + self._note) if self._note else "")
        note.set_class(bool(self._note), "-shown")
        note.set_class(self._note_refused, "-refused")

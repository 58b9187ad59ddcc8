"""ArchitecturePane and the layer editor, driven with keys in a harness app that mounts only the pane."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input, Select, Static, Switch

from tuinet.app.messages import ApplyArchitecture
from tuinet.app.screens.layer_editor import (LayerEditor, LayerPicker, ParseError, describe_layer, format_value,
                                             layer_params, parse_literal)
from tuinet.app.widgets.architecture import ArchitecturePane, analyse_stack
from tuinet.nn import layers as layers_module

SPECS = (
    {"type": "Dense", "units": 8, "activation": "relu"},
    {"type": "Dense", "units": 8, "activation": "relu"},
    {"type": "Dense", "units": 2, "activation": "softmax"},
)
CONV2D_INDEX = list(layers_module.LAYERS).index("Conv2D")


class Harness(App):
    def __init__(self, specs=SPECS, input_shape=(2,)) -> None:
        super().__init__()
        self.specs, self.input_shape = specs, input_shape
        self.seen: list = []

    def compose(self) -> ComposeResult:
        yield ArchitecturePane(id="arch")

    def on_mount(self) -> None:
        self.query_one(ArchitecturePane).load(self.specs, self.input_shape)
        self.query_one("#arch-table", DataTable).focus()

    def on_apply_architecture(self, message: ApplyArchitecture) -> None:
        self.seen.append(message)


def rows(app: App) -> list[list[str]]:
    table = app.query_one("#arch-table", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def text_of(app: App, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def replace_text(pilot, text: str) -> None:
    """Clear the focused Input and type `text`."""
    await pilot.press("end", "ctrl+u", *text)


async def test_load_shows_layers_shapes_and_params():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = app.query_one(ArchitecturePane)
        assert rows(app) == [["1", "Dense 8 relu", "(None, 8)", "24"],
                             ["2", "Dense 8 relu", "(None, 8)", "72"],
                             ["3", "Dense 2 softmax", "(None, 2)", "18"]]
        assert "Total params: 114" in text_of(app, "#arch-totals")
        assert "trainable: 114" in text_of(app, "#arch-totals")
        assert not pane.dirty
        assert "edited" not in text_of(app, "#arch-state")
        assert pane.layer_specs == SPECS


async def test_add_dense_through_picker_and_editor():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, LayerPicker)
        await pilot.press("enter")  # Dense is the first type
        await pilot.pause()
        assert isinstance(app.screen, LayerEditor)
        assert app.screen.query_one("#arg-units", Input).value == "16"
        await pilot.press("ctrl+s")
        await pilot.pause()
        pane = app.query_one(ArchitecturePane)
        table = rows(app)
        assert len(table) == 4
        assert table[1] == ["2", "Dense 16 relu", "(None, 16)", "144"]  # after the cursor (row 1)
        assert table[2] == ["3", "Dense 8 relu", "(None, 8)", "136"]
        assert pane.dirty
        assert "● edited" in text_of(app, "#arch-state") and "ctrl+a" in text_of(app, "#arch-state")
        assert pane.layer_specs[1] == {"type": "Dense", "units": 16, "activation": "relu"}


async def test_cancelling_the_picker_or_the_editor_adds_nothing():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("a", "escape")
        await pilot.pause()
        await pilot.press("a", "enter")
        await pilot.pause()
        assert isinstance(app.screen, LayerEditor)
        await pilot.press("escape")
        await pilot.pause()
        assert len(rows(app)) == 3
        assert not app.query_one(ArchitecturePane).dirty


async def test_add_a_layer_without_arguments():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("a", *["down"] * list(layers_module.LAYERS).index("Flatten"), "enter")
        await pilot.pause()
        assert "takes no arguments" in str(app.screen.query_one(".field-note", Static).render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert rows(app)[1] == ["2", "Flatten", "(None, 8)", "0"]
        assert app.query_one(ArchitecturePane).layer_specs[1] == {"type": "Flatten"}


async def test_edit_units_updates_shapes_and_params():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, LayerEditor)
        assert editor.focused is editor.query_one("#arg-units", Input)
        await replace_text(pilot, "4")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, LayerEditor)
        table = rows(app)
        assert table[0] == ["1", "Dense 4 relu", "(None, 4)", "12"]
        assert table[1] == ["2", "Dense 8 relu", "(None, 8)", "40"]
        assert app.query_one(ArchitecturePane).layer_specs[0] == {"type": "Dense", "units": 4, "activation": "relu"}
        assert app.query_one(ArchitecturePane).dirty


async def test_enter_on_the_table_opens_the_editor_too():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, LayerEditor)
        assert app.screen.index == 1


async def test_invalid_edit_shows_error_and_changes_nothing():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen
        for typed, expected in (("abc", "units: expected a number"),
                                ("0", "units: must be a positive integer, got 0")):
            await replace_text(pilot, typed)
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is editor, "the editor stays open on an error"
            error = str(editor.query_one("#err-units", Static).render())
            assert expected in error and error.startswith("✗")
            assert editor.query_one("#err-units").display
        await pilot.press("escape")
        await pilot.pause()
        pane = app.query_one(ArchitecturePane)
        assert pane.layer_specs == SPECS and not pane.dirty
        assert rows(app)[0] == ["1", "Dense 8 relu", "(None, 8)", "24"]


async def test_conv2d_on_flat_input_shows_shape_error_and_apply_refuses():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*["down"] * CONV2D_INDEX, "enter")
        await pilot.pause()
        assert isinstance(app.screen, LayerEditor) and app.screen.layer_class.__name__ == "Conv2D"
        await pilot.press("ctrl+s")
        await pilot.pause()
        pane = app.query_one(ArchitecturePane)
        assert pane.error == "layer 2 (Conv2D): expects inputs of shape (height, width, channels), got (8,)"
        assert pane.error in text_of(app, "#arch-error")
        table = rows(app)
        assert table[0] == ["1", "Dense 8 relu", "(None, 8)", "24"]  # the last valid shape is kept
        assert table[1][1].startswith("✗ Conv2D") and table[1][2:] == ["?", "?"]
        assert table[2][2:] == ["?", "?"] and table[3][2:] == ["?", "?"]
        assert "cannot apply" in text_of(app, "#arch-state")
        await pilot.press("ctrl+a")
        await pilot.pause()
        assert app.seen == []
        assert "cannot apply" in text_of(app, "#arch-note")
        await pilot.click("#arch-apply")
        await pilot.pause()
        assert app.seen == []
        # Removing the bad layer makes the model whole again.
        await pilot.press("x")
        await pilot.pause()
        assert pane.error is None and len(rows(app)) == 3


async def test_move_down_and_up_reorders():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = app.query_one(ArchitecturePane)
        await pilot.press("down", "ctrl+down")
        await pilot.pause()
        assert [s["units"] for s in pane.layer_specs] == [8, 2, 8]
        assert pane.cursor == 2 and pane.dirty
        assert rows(app)[1][2] == "(None, 2)"
        await pilot.press("K")  # follows the moved layer: back up
        await pilot.pause()
        assert [s["units"] for s in pane.layer_specs] == [8, 8, 2]
        assert not pane.dirty
        await pilot.press("J", "J")
        await pilot.pause()
        assert "already last" in text_of(app, "#arch-note")
        await pilot.press("ctrl+up")
        await pilot.pause()
        assert pane.cursor == 1


async def test_remove_refuses_the_last_layer():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = app.query_one(ArchitecturePane)
        await pilot.press("x")
        await pilot.pause()
        assert [s["units"] for s in pane.layer_specs] == [8, 2]
        assert rows(app)[0] == ["1", "Dense 8 relu", "(None, 8)", "24"]
        assert "removed layer 1" in text_of(app, "#arch-note")
        await pilot.press("delete")
        await pilot.pause()
        assert pane.layer_specs == ({"type": "Dense", "units": 2, "activation": "softmax"},)
        await pilot.press("x")
        await pilot.pause()
        assert len(pane.layer_specs) == 1
        assert "cannot remove the last layer" in text_of(app, "#arch-note")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert pane.layer_specs == SPECS and not pane.dirty and len(rows(app)) == 3


async def test_apply_posts_the_edited_specs_and_load_clears_dirty():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = app.query_one(ArchitecturePane)
        await pilot.press("ctrl+a")  # nothing edited: nothing to rebuild
        await pilot.pause()
        assert app.seen == [] and "nothing to apply" in text_of(app, "#arch-note")
        await pilot.press("x", "ctrl+a")
        await pilot.pause()
        assert len(app.seen) == 1
        assert app.seen[0].layers == SPECS[1:]
        pane.load(app.seen[0].layers, (2,))
        await pilot.pause()
        assert not pane.dirty and "edited" not in text_of(app, "#arch-state")
        await pilot.press("x")
        await pilot.click("#arch-apply")
        await pilot.pause()
        assert len(app.seen) == 2 and app.seen[1].layers == SPECS[2:]


async def test_editor_widgets_and_result_keep_only_non_defaults():
    spec = {"type": "Dense", "units": 8, "activation": "relu",
            "kernel_regularizer": {"name": "l2", "config": {"l2": 0.01}}}
    app = Harness(specs=(spec,))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, LayerEditor)
        assert editor.query_one("#arg-activation", Select).value == "relu"
        assert editor.query_one("#arg-kernel_initializer", Select).value == "glorot_uniform"
        assert isinstance(editor.query_one("#arg-use_bias"), Switch)
        assert editor.query_one("#arg-kernel_regularizer", Input).value == "0.01"
        assert {w.id for w in editor.query("Input, Select, Switch")} >= {"arg-units", "arg-bias_regularizer"}
        assert not editor.query("#arg-name, #arg-trainable, #arg-input_shape, #arg-dtype")
        editor.query_one("#arg-use_bias", Switch).focus()
        await pilot.press("space")
        await pilot.pause()
        assert "false" in str(editor.query_one("#state-use_bias").render())  # shown in text, not colour only
        editor.query_one("#arg-kernel_regularizer", Input).focus()
        await replace_text(pilot, "0.5")
        editor.query_one("#arg-activation", Select).value = "linear"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.query_one(ArchitecturePane).layer_specs == (
            {"type": "Dense", "units": 8, "use_bias": False,
             "kernel_regularizer": {"name": "l2", "config": {"l2": 0.5}}},)
        assert rows(app)[0][3] == "16"  # no bias: 2 * 8 kernel weights only


async def test_editor_bad_regularizer_and_tuple_fields():
    app = Harness(specs=({"type": "Conv2D", "filters": 4, "kernel_size": [3, 3]}, {"type": "Flatten"}),
                  input_shape=(8, 8, 1))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert rows(app)[0][2:] == ["(None, 6, 6, 4)", "40"]
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen
        assert editor.query_one("#arg-kernel_size", Input).value == "(3, 3)"
        editor.query_one("#arg-kernel_regularizer", Input).focus()
        await replace_text(pilot, "lots")
        await pilot.press("enter")
        await pilot.pause()
        assert "kernel_regularizer: expected an L2 factor" in str(editor.query_one("#err-kernel_regularizer",
                                                                                      Static).render())
        await replace_text(pilot, "")
        editor.query_one("#arg-kernel_size", Input).focus()
        await replace_text(pilot, "5,5")
        editor.query_one("#arg-strides", Input).focus()
        await replace_text(pilot, "1")  # the same as the default (1, 1): left out of the spec
        editor.query_one("#arg-padding", Select).value = "same"
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, LayerEditor)
        assert app.query_one(ArchitecturePane).layer_specs[0] == {"type": "Conv2D", "filters": 4,
                                                                  "kernel_size": (5, 5), "padding": "same"}
        assert rows(app)[0][2:] == ["(None, 8, 8, 4)", "104"]
        assert rows(app)[1][2:] == ["(None, 256)", "0"]


async def test_fits_in_a_78x18_tab():
    app = Harness()
    async with app.run_test(size=(78, 18)) as pilot:
        await pilot.pause()
        await pilot.press("a", "enter", "ctrl+s")  # 4 layers
        await pilot.pause()
        screen = app.screen.region
        for selector in ("#arch-state", "#arch-table", "#arch-totals", "#arch-note", "#arch-apply", "#arch-add"):
            widget = app.query_one(selector)
            assert widget.region.area > 0 and screen.contains_region(widget.region), selector
        assert app.query_one("#arch-table").region.height >= 6  # header + 4 rows + slack
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen
        for selector in ("#editor-title", "#arg-units", "#editor-ok", "#editor-cancel"):
            widget = editor.query_one(selector)
            assert widget.region.area > 0 and screen.contains_region(widget.region), selector


async def test_long_editor_scrolls_at_80x24():
    app = Harness(specs=({"type": "LSTM", "units": 4},), input_shape=(5, 3))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen
        screen = editor.region
        for selector in ("#editor-title", "#arg-units", "#editor-ok", "#editor-help"):
            assert screen.contains_region(editor.query_one(selector).region), selector
        assert len(editor.query(".field")) == len(layer_params(layers_module.LSTM))


def test_analyse_stack_reports_errors_without_raising():
    report = analyse_stack([{"type": "Dense", "units": 16}, {"type": "Reshape", "target_shape": (3, 3)}], (2,))
    assert report.shapes[0] == (16,) and report.shapes[1] is None
    assert report.error.startswith("layer 2 (Reshape): cannot reshape")
    report = analyse_stack([{"type": "Dense", "units": 0}], (2,))
    assert report.error == "layer 1 (Dense): units must be a positive integer, got 0"
    report = analyse_stack([{"type": "Embedding", "input_dim": 10, "output_dim": 4}, {"type": "Flatten"}], (5,))
    assert report.ok and report.shapes == [(5, 4), (20,)] and report.total == 40


def test_literal_parser_and_descriptions():
    assert parse_literal("3,3") == (3, 3) and parse_literal("(3, 3)") == (3, 3) and parse_literal("[2]") == (2,)
    assert parse_literal("none") is None and parse_literal("0.5") == 0.5 and parse_literal("-1") == -1
    assert parse_literal(format_value((16,))) == (16,)
    with pytest.raises(ParseError):
        parse_literal("abc")
    with pytest.raises(ParseError):
        parse_literal("3,x")
    assert parse_literal("channels_last", allow_str=True) == "channels_last"
    assert describe_layer({"type": "Conv2D", "filters": 8, "kernel_size": [3, 3], "padding": "same",
                           "activation": "relu"}) == "Conv2D 8 3x3 same relu"
    assert describe_layer({"type": "LSTM", "units": 4, "return_sequences": True}) == "LSTM 4 seq"
    assert describe_layer({"type": "Embedding", "input_dim": 100, "output_dim": 8}) == "Embedding 100→8"
    assert [p.name for p in layer_params(layers_module.Embedding)][:2] == ["input_dim", "output_dim"]
    assert describe_layer({"type": "MaxPooling2D"}) == "MaxPooling2D 2x2"
    assert "input_shape" not in [p.name for p in layer_params(layers_module.Dense)]


@pytest.mark.parametrize("type_name", sorted(layers_module.LAYERS))
def test_every_layer_the_picker_offers_can_be_added(type_name):
    """A freshly added layer of any type gets values for its required arguments."""
    from tuinet.app.screens.layer_editor import NOT_PICKED, new_layer_spec

    spec = new_layer_spec(type_name)
    if type_name in ("Input", "InputLayer") or type_name in NOT_PICKED \
            or layers_module.get(type_name).multi_input:  # merge layers: functional models only
        return
    layer = layers_module.get(spec["type"])(**{k: v for k, v in spec.items() if k != "type"})
    assert type(layer).__name__ == type_name

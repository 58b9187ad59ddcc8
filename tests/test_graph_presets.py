"""The graph form of a preset's model (layers that name their `inputs`): parsing and its errors,
the functional model it builds, the TOML writer, a loaded functional model's specs, and the
app's architecture pane showing it read-only (issue 13, part 9)."""

from __future__ import annotations

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

import tuinet
from tuinet import layerspec
from tuinet.app.boundary import InferenceTwin
from tuinet.app.widgets.architecture import GRAPH_READ_ONLY, ArchitecturePane, analyse_stack
from tuinet.errors import PresetError
from tuinet.nn.functional import Functional
from tuinet.presets import load_preset, parse_preset, preset_toml

GRAPH = (
    {"type": "Dense", "units": 8, "activation": "tanh", "name": "h1"},
    {"type": "Dense", "units": 8, "activation": "tanh", "name": "h2"},
    {"type": "Add", "name": "skip", "inputs": ["h1", "h2"]},
    {"type": "Concatenate", "name": "both", "inputs": ["skip", "input"]},
    {"type": "Dense", "units": 2, "activation": "softmax"},
)


def _preset(layers: str) -> str:
    return f'[data]\nsource = "xor"\nsamples = 64\n[model]\nlayers = [{layers}]\n[train]\nepochs = 2\n'


def test_the_shipped_graph_preset_builds_a_functional_model_and_round_trips():
    exp = load_preset("spiral-skip")
    assert exp.model.is_graph
    model = exp.build_model((2,))
    assert isinstance(model, Functional)
    assert [lay.name for lay in model.layers] == ["input", "h1", "h2", "skip1", "h3", "skip2", "with_input", "output"]
    assert model.output_shape == (None, 2)
    again = parse_preset(preset_toml(exp), label="again.toml")
    assert again.model == exp.model


@pytest.mark.parametrize("layers, message", [
    ('{ type = "Add" }', 'model.layers[0].inputs: missing; an Add layer merges several tensors'),
    ('{ type = "Dense", units = 2, inputs = ["nope"] }', "'nope' is not the name of an earlier layer"),
    ('{ type = "Dense", units = 2, inputs = ["input", "input"] }', "one name (a Dense layer takes one tensor)"),
    ('{ type = "Add", inputs = ["input"] }', "at least two names (an Add layer merges tensors)"),
    ('{ type = "Dense", units = 2, name = "input" }', "'input' is the data"),
    ('{ type = "Dense", units = 2, name = "a" }, { type = "Dense", units = 2, name = "a" }',
     "model.layers[1].name: 'a' is taken by an earlier layer"),
    ('{ type = "Dense", units = 2, inputs = 3 }', "model.layers[0].inputs: expected a list of layer names"),
    ('{ type = "Dense", units = 2, inputs = ["later"] }, { type = "Dense", units = 2, name = "later" }',
     "'later' is not the name of an earlier layer"),
])
def test_graph_mistakes_are_one_line_naming_the_field(layers, message):
    with pytest.raises(PresetError) as exc:
        parse_preset(_preset(layers), label="p.toml")
    text = str(exc.value)
    assert "\n" not in text and text.startswith("p.toml: model.layers[") and message in text


def test_a_graph_preset_trains_headless_and_meets_its_promise():
    from tuinet.session import TrainingSession

    session = TrainingSession(load_preset("spiral-skip"))
    assert isinstance(session.model, Functional)
    assert session.run()
    assert session.test_results["test_accuracy"] >= 0.9


def test_specs_of_a_loaded_functional_model_rebuild_it():
    a = tuinet.Input((3,))
    h = tuinet.layers.Dense(4, activation="relu", name="hid")(a)
    out = tuinet.layers.Dense(2, name="out")(tuinet.layers.Concatenate(name="cat")([h, a]))
    model = tuinet.Model(a, out)
    specs = layerspec.specs_of_model(model)
    assert [s.get("inputs") for s in specs] == [["input"], ["hid", "input"], ["cat"]]
    rebuilt = layerspec.make_model(specs, (3,), seed=0)
    rebuilt.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    assert np.array_equal(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))
    shared = tuinet.layers.Dense(3)
    twice = tuinet.Model(a, shared(shared(a)))
    with pytest.raises(tuinet.ConfigError, match="calls layer .* more than once"):
        layerspec.specs_of_model(twice)


def test_the_inference_twin_of_a_graph_predicts_and_taps_hidden_layers():
    model = layerspec.make_model(GRAPH, (2,), seed=1)
    twin = InferenceTwin(model.get_config(), input_shape=(2,))
    twin.set_weights({f"{lay.name}/{k}": lay.weight(k) for lay in model.layers for k in lay.weight_names})
    x = np.random.default_rng(1).normal(size=(7, 2)).astype("float32")
    assert np.allclose(twin.predict(x), model.predict(x, verbose=0), atol=1e-6)
    assert twin.hidden_layer_names() == ["h1", "h2"]
    h1, h2 = twin.hidden_activations(x)
    assert h1.shape == (7, 8) and np.allclose(h1, np.tanh(x @ model.layers[1].weight("kernel")
                                                        + model.layers[1].weight("bias")), atol=1e-5)


def test_analyse_graph_reports_shapes_params_and_the_failing_layer():
    report = analyse_stack(GRAPH, (2,))
    assert report.ok and report.shapes == [(8,), (8,), (8,), (10,), (2,)]
    assert report.params == [24, 72, 0, 0, 22] and report.total == 118
    bad = list(GRAPH)
    bad[3] = {"type": "Add", "name": "both", "inputs": ["skip", "input"]}  # (8,) + (2,) cannot add
    report = analyse_stack(bad, (2,))
    assert report.error_index == 3 and report.error.startswith("layer 4 (Add):")


class Harness(App):
    def compose(self) -> ComposeResult:
        yield ArchitecturePane(id="arch")

    def on_mount(self) -> None:
        self.query_one(ArchitecturePane).load(GRAPH, (2,))
        self.query_one("#arch-table", DataTable).focus()


async def test_the_architecture_pane_shows_a_graph_read_only():
    app = Harness()
    async with app.run_test(size=(110, 30)) as pilot:
        await pilot.pause()
        table = app.query_one("#arch-table", DataTable)
        labels = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        assert labels[2] == "skip: Add ← h1, h2" and labels[3] == "both: Concatenate ← skip, input"
        for key in ("a", "e", "x"):
            await pilot.press(key)
            await pilot.pause()
            note = str(app.query_one("#arch-note", Static).render())
            assert GRAPH_READ_ONLY in note.replace("\n", " ") or note.startswith("! this model is a graph")
        assert app.query_one(ArchitecturePane).layer_specs == GRAPH
        assert all(app.query_one(f"#arch-{name}").disabled for name in ("add", "edit", "remove", "apply"))

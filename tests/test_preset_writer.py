"""Writing presets: `preset_toml` gives text that parses back to the same experiment (every shipped
preset, and edited ones), `save_preset` writes it atomically, and the `[app]` section."""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuinet.errors import PresetError, TuinetError
from tuinet.presets import (
    AppSpec,
    Experiment,
    list_presets,
    load_preset,
    parse_preset,
    preset_toml,
    save_preset,
    toml_string,
    toml_value,
)


def reparsed(exp: Experiment) -> Experiment:
    """`exp` written and read back, in the same file and under the same label."""
    return parse_preset(preset_toml(exp), label=exp.label, path=exp.path)


def same_but_place(a: Experiment, b: Experiment) -> bool:
    """Equal apart from where they were read from."""
    return a.replace(path=None, label="") == b.replace(path=None, label="")


# ---------------------------------------------------------------------- TOML values
@pytest.mark.parametrize("value", [
    "plain", 'say "hi"', "back\\slash", "tab\tnew\nline\r\f\b", "bell\x07 del\x7f", "ünïcødé ✓ 🙂", "",
])
def test_strings_are_escaped_so_that_tomllib_reads_them_back(value):
    assert tomllib.loads(f"v = {toml_string(value)}")["v"] == value


@given(st.text())
def test_any_text_round_trips(value):
    assert tomllib.loads(f"v = {toml_string(value)}")["v"] == value


@pytest.mark.parametrize("value", [0.01, 1e-05, 2.5e-12, 1e20, 123456789.125, -0.0, 5.0, 0.1 + 0.2, -3.75e300])
def test_floats_keep_every_bit_exponents_included(value):
    text = toml_value(value)
    back = tomllib.loads(f"v = {text}")["v"]
    assert isinstance(back, float) and back == value and math.copysign(1, back) == math.copysign(1, value)


@given(st.floats(allow_nan=False))
def test_any_float_round_trips(value):
    assert tomllib.loads(f"v = {toml_value(value)}")["v"] == value


def test_nested_values():
    value = {"type": "Dense", "units": 3, "use_bias": False, "input_shape": (2,),
             "kernel_regularizer": {"name": "l2", "config": {"l2": 0.01}}, "odd key": [1, [2.5, "x"], {}]}
    text = toml_value(value)
    assert text.startswith('{ type = "Dense", units = 3, use_bias = false, input_shape = [2], '
                           'kernel_regularizer = { name = "l2", config = { l2 = 0.01 } }')
    back = tomllib.loads(f"v = {text}")["v"]
    assert back == {**value, "input_shape": [2]}
    with pytest.raises(PresetError, match=r"model.layers\[0\].units: None \(NoneType\) cannot be written"):
        toml_value(None, "model.layers[0].units")


# ---------------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", sorted(list_presets()))
def test_every_shipped_preset_round_trips(name):
    exp = load_preset(name)
    assert reparsed(exp) == exp
    # a second trip writes the very same text
    assert preset_toml(reparsed(exp)) == preset_toml(exp)


def test_the_text_has_every_section_and_inline_layers():
    exp = load_preset("overfitting-regularized").replace(app=AppSpec(pace=12.5))
    doc = tomllib.loads(preset_toml(exp))
    assert set(doc) == {"name", "title", "description", "data", "model", "train", "expect", "app"}
    assert doc["model"]["layers"][0]["kernel_regularizer"] == {"name": "l2", "config": {"l2": 0.01}}
    assert doc["app"] == {"pace": 12.5}
    assert "[app]" not in preset_toml(exp.replace(app=AppSpec()))
    assert 'pace = "max"' in preset_toml(exp.replace(app=AppSpec(pace=math.inf)))


def test_optimizer_arguments_and_edited_strings_round_trip():
    exp = load_preset("xor")
    edited = exp.replace(
        title='A "quoted" title', description="two lines\nand a \\ backslash",
        train=dataclasses.replace(exp.train, optimizer="sgd", optimizer_args={"momentum": 0.9, "nesterov": True},
                                  metrics=("accuracy", "mse"), shuffle=False),
        data=dataclasses.replace(exp.data, split=(0.8, 0.2, 0.0), scaling="minmax"))
    assert reparsed(edited) == edited


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(samples=st.integers(1, 100_000), noise=st.floats(0, 1), seed=st.integers(0, 2**63 - 1),
       split=st.sampled_from([(0.7, 0.15, 0.15), (0.8, 0.2, 0.0), (0.6, 0.2, 0.2), (1.0, 0.0, 0.0),
                              (0.5, 0.25, 0.25), (0.9, 0.05, 0.05)]),
       lr=st.floats(1e-9, 10, allow_nan=False, allow_infinity=False),
       units=st.lists(st.integers(1, 512), min_size=3, max_size=3),
       pace=st.one_of(st.none(), st.just(math.inf), st.floats(1e-3, 1e6)))
def test_edited_experiments_round_trip(samples, noise, seed, split, lr, units, pace):
    exp = load_preset("spiral")
    layers = tuple({**spec, "units": u} for spec, u in zip(exp.model.layers, [*units, 2]))
    edited = exp.replace(
        data=dataclasses.replace(exp.data, samples=samples, noise=noise, seed=seed, split=split),
        train=dataclasses.replace(exp.train, learning_rate=lr),
        model=dataclasses.replace(exp.model, layers=layers, seed=seed),
        app=AppSpec(pace=pace))
    assert reparsed(edited) == edited


# ---------------------------------------------------------------------- [app]
def with_app(table: str) -> str:
    return load_preset("spiral").path.read_text(encoding="utf-8") + "\n[app]\n" + table


@pytest.mark.parametrize("table, pace", [("pace = 20", 20.0), ("pace = 0.5", 0.5), ('pace = "max"', math.inf),
                                         ('pace = "MAX"', math.inf), ("", None)])
def test_app_pace(table, pace):
    exp = parse_preset(with_app(table), label="spiral.toml")
    assert exp.app == AppSpec(pace=pace)
    # the CLI's overrides and replace keep it
    assert exp.with_overrides(epochs=3, seed=1).app == exp.app
    assert exp.replace(title="x").app == exp.app


def test_app_defaults_to_no_pace():
    assert load_preset("spiral").app == AppSpec() and AppSpec().pace is None


@pytest.mark.parametrize("table, message", [
    ("pace = 0", 'spiral.toml: app.pace: expected a positive number or "max", got 0'),
    ("pace = -2.5", 'spiral.toml: app.pace: expected a positive number or "max", got -2.5'),
    ('pace = "fast"', 'spiral.toml: app.pace: expected a positive number or "max", got "fast"'),
    ("pace = true", 'spiral.toml: app.pace: expected a positive number or "max", got true'),
    ("pace = inf", 'spiral.toml: app.pace: expected a positive number or "max", got inf'),
    ("pase = 3", "spiral.toml: app.pase: unknown field (did you mean \"pace\"?); expected one of pace"),
])
def test_app_errors(table, message):
    with pytest.raises(PresetError) as info:
        parse_preset(with_app(table), label="spiral.toml")
    assert str(info.value) == message


def test_app_must_be_a_table():
    text = load_preset("spiral").path.read_text(encoding="utf-8").replace("[data]", 'app = 3\n\n[data]', 1)
    with pytest.raises(PresetError, match=r"spiral.toml: \[app\]: expected a table, got 3"):
        parse_preset(text, label="spiral.toml")


# ---------------------------------------------------------------------- save_preset
def test_save_preset_writes_a_file_that_loads_to_the_same_experiment(tmp_path):
    exp = load_preset("moons").replace(app=AppSpec(pace=7.0))
    written = save_preset(exp, tmp_path / "moons.toml")
    assert written == tmp_path / "moons.toml"
    back = load_preset(written)
    assert same_but_place(back, exp) and back.path == written and back.label == "moons.toml"
    assert os.listdir(tmp_path) == ["moons.toml"]  # no temporary file left


def test_save_as_another_name_names_the_preset_after_its_file(tmp_path):
    exp = load_preset("xor")
    back = load_preset(save_preset(exp, tmp_path / "my-xor.toml"))
    assert back.name == "my-xor" and same_but_place(back.replace(name="xor"), exp)


def test_save_preset_replaces_an_existing_file(tmp_path):
    target = tmp_path / "p.toml"
    target.write_text("old", encoding="utf-8")
    save_preset(load_preset("xor"), target)
    assert load_preset(target).data.source == "xor" and sorted(os.listdir(tmp_path)) == ["p.toml"]


def test_save_preset_errors_are_one_line(tmp_path):
    exp = load_preset("xor")
    for path, words in [(tmp_path / "nowhere" / "p.toml", "does not exist"), (tmp_path, "it is a folder")]:
        with pytest.raises(PresetError) as info:
            save_preset(exp, path)
        assert words in str(info.value) and "\n" not in str(info.value)
        assert isinstance(info.value, TuinetError)


def test_a_failed_replace_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "p.toml"
    target.write_text("old", encoding="utf-8")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PresetError, match=r"p.toml: cannot save the preset \(Permission denied\)"):
        save_preset(load_preset("xor"), target)
    assert os.listdir(tmp_path) == ["p.toml"] and target.read_text(encoding="utf-8") == "old"


def test_save_preset_refuses_what_it_cannot_write(tmp_path):
    exp = load_preset("xor")
    odd = exp.replace(model=dataclasses.replace(exp.model, layers=({"type": "Dense", "units": object()},)))
    with pytest.raises(PresetError, match=r"model.layers\[0\].units: .* cannot be written to a preset"):
        save_preset(odd, tmp_path / "odd.toml")
    assert os.listdir(tmp_path) == []


def test_a_none_argument_is_left_out():
    exp = load_preset("xor")
    layers = ({**exp.model.layers[0], "activation": None}, *exp.model.layers[1:])
    back = reparsed(exp.replace(model=dataclasses.replace(exp.model, layers=layers)))
    assert "activation" not in back.model.layers[0]


# ---------------------------------------------------------------------- data files
def csv_preset(folder: Path, source: str) -> Path:
    text = load_preset("xor").path.read_text(encoding="utf-8")
    text = text.replace('source = "xor"', f"source = {toml_string(source)}")
    text = "\n".join(line for line in text.splitlines() if not line.startswith(("samples", "noise")))
    path = folder / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def data_tree(tmp_path) -> Path:
    (tmp_path / "proj" / "data").mkdir(parents=True)
    (tmp_path / "proj" / "data" / "points.csv").write_text("a,b,label\n0,0,0\n1,1,1\n", encoding="utf-8")
    (tmp_path / "proj" / "presets").mkdir()
    (tmp_path / "proj" / "other" / "deeper").mkdir(parents=True)
    return tmp_path


def test_a_relative_data_path_still_resolves_from_the_new_folder(data_tree):
    exp = load_preset(csv_preset(data_tree / "proj" / "presets", "../data/points.csv"))
    assert exp.data.source == "../data/points.csv"
    # same folder: as written
    same = load_preset(save_preset(exp, data_tree / "proj" / "presets" / "copy.toml"))
    assert same.data.source == "../data/points.csv"
    # another folder: rewritten relative to it
    moved = load_preset(save_preset(exp, data_tree / "proj" / "other" / "deeper" / "copy.toml"))
    assert moved.data.source == "../../data/points.csv"
    assert (moved.base_dir / moved.data.source).resolve() == (data_tree / "proj" / "data" / "points.csv").resolve()
    # into the data folder itself
    inside = load_preset(save_preset(exp, data_tree / "proj" / "data" / "copy.toml"))
    assert inside.data.source == "points.csv"


def test_an_absolute_data_path_stays_absolute(data_tree):
    absolute = str((data_tree / "proj" / "data" / "points.csv").resolve())
    exp = load_preset(csv_preset(data_tree / "proj" / "presets", absolute))
    moved = load_preset(save_preset(exp, data_tree / "proj" / "other" / "copy.toml"))
    assert moved.data.source == absolute


def test_a_data_path_with_no_common_folder_becomes_absolute(data_tree, monkeypatch):
    exp = load_preset(csv_preset(data_tree / "proj" / "presets", "../data/points.csv"))
    import tuinet.presets as presets_module

    real = os.path.commonpath
    monkeypatch.setattr(presets_module.os.path, "commonpath", lambda paths: os.sep if len(paths) == 2 else real(paths))
    moved = load_preset(save_preset(exp, data_tree / "proj" / "other" / "copy.toml"))
    assert moved.data.source == str((data_tree / "proj" / "data" / "points.csv").resolve())

"""The Playground's data knobs in the data view (data set, noise, samples, regenerate), and the
presets in the app: the picker opens any preset file, "save as preset" writes one."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.widgets import Button, Input, OptionList, Select, Static

from tests.app.conftest import notifications, started
from tuinet import data
from tuinet.app.screens.dialogs import PresetPicker, SavePresetPrompt, folder_presets, save_preset_action
from tuinet.app.screens.inside import DataScreen
from tuinet.app.screens.main import MainScreen
from tuinet.app.widgets.dataview import (
    DataSplitView,
    parse_noise,
    parse_samples,
    playground_sources,
)
from tuinet.presets import AppSpec, DataSpec, list_presets, load_preset, save_preset

KNOBS = ("#data-source", "#data-noise", "#data-samples", "#data-regenerate", "#split-ratios", "#split-seed")


async def open_data_view(pilot) -> DataSplitView:
    await started(pilot)
    await pilot.press("4")
    await pilot.pause()
    assert isinstance(pilot.app.screen, DataScreen)
    return pilot.app.screen.query_one(DataSplitView)


async def submit(pilot, view: DataSplitView, **fields: str) -> None:
    """Type into the fields (`noise="20"`, `samples="300"`, `ratios=`, `seed=`), then enter."""
    last = None
    for key, text in fields.items():
        field = view.query_one(f"#data-{key}" if key in ("noise", "samples") else f"#split-{key}", Input)
        field.value = text
        last = field
    assert last is not None
    last.focus()
    await pilot.press("enter")
    await pilot.pause()
    await pilot.pause()


def error_text(view: DataSplitView) -> str:
    box = view.query_one("#split-error", Static)
    return str(box.render()) if box.display else ""


# ---------------------------------------------------------------------- parsing
def test_parse_noise_in_the_playgrounds_percent_or_the_generators_own_terms():
    assert parse_noise("10") == 0.1 and parse_noise(" 35 % ") == 0.35 and parse_noise("0") == 0.0
    assert parse_noise("50") == 0.5 and parse_noise("12.5") == 0.125
    assert parse_noise("0.05", percent=False) == 0.05
    for bad in ("60", "-5", "x", "", "nan", "inf"):
        with pytest.raises(ValueError, match=r"^noise: expected a number from 0 to 50 \(%\) such as 10, got"):
            parse_noise(bad)
    with pytest.raises(ValueError, match="noise: expected a number from 0 to 1"):
        parse_noise("2", percent=False)


def test_parse_samples():
    assert parse_samples(" 500 ") == 500 and parse_samples("10_000") == 10000
    for bad in ("5", "0", "-10", "1e3", "abc", "", "200000"):
        with pytest.raises(ValueError, match=r"^samples: expected a whole number from 10 to 100 000 such as 500"):
            parse_samples(bad)


def test_the_picker_offers_the_2d_generators_by_task():
    sources = playground_sources()
    assert {k for k, v in sources.items() if v == "classification"} == {"circle", "xor", "gauss", "spiral", "moons"}
    assert {k for k, v in sources.items() if v == "regression"} == {"plane", "multi_gauss"}
    assert "sine" not in sources and "side_effects" not in sources


# ---------------------------------------------------------------------- the view alone
class Harness(App):
    def __init__(self, view: DataSplitView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        yield self.view


def requests(seen: list) -> list[DataSplitView.ResplitRequested]:
    return list({id(m): m for m in seen if isinstance(m, DataSplitView.ResplitRequested)}.values())


async def test_untouched_knobs_ask_for_the_data_as_it_is():
    spec = DataSpec(source="Regression-Plane", noise=0.35, seed=3)  # an alias, the default samples
    ds = data.load(spec.source, noise=spec.noise, seed=spec.seed)
    split = data.split(ds.y, spec.split, seed=spec.seed, stratify=False)
    view = DataSplitView()
    seen: list = []
    async with Harness(view).run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view.show(ds, split, data_spec=spec)
        await pilot.pause()
        assert view.generated and view.has_class("-generated") and view.has_class("-picker")
        assert view.query_one("#data-source", Select).value == "plane"
        assert view.query_one("#data-noise", Input).value == "35"
        assert view.query_one("#data-samples", Input).value == "500"  # the generator's default
        select = view.query_one("#data-source", Select)
        assert [value for _, value in select._options if isinstance(value, str)] == ["plane", "multi_gauss"]
        await submit(pilot, view, seed="3")
        (sent,) = requests(seen)
        assert (sent.source, sent.samples, sent.noise, sent.seed) == ("Regression-Plane", None, 0.35, 3)
        assert sent.generated
        # edited: the new values
        await submit(pilot, view, noise="10", samples="200")
        sent = requests(seen)[-1]
        assert (sent.source, sent.samples, sent.noise) == ("Regression-Plane", 200, 0.1)


async def test_sine_noise_is_the_generators_own_and_there_is_no_picker():
    spec = DataSpec(source="sine", samples=40, noise=0.05, steps=10)
    ds = data.load("sine", samples=40, noise=0.05, steps=10)
    split = data.split(ds.y, spec.split, seed=0, stratify=False)
    view = DataSplitView()
    seen: list = []
    async with Harness(view).run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view.show(ds, split, data_spec=spec)
        await pilot.pause()
        assert view.has_class("-generated") and not view.has_class("-picker")
        assert not view.query_one("#data-source").display
        assert view.query_one("#data-noise", Input).value == "0.05"
        await submit(pilot, view, noise="0.2")
        sent = requests(seen)[-1]
        assert (sent.source, sent.samples, sent.noise) == ("sine", 40, 0.2)
        await submit(pilot, view, noise="20")
        assert "noise: expected a number from 0 to 1" in error_text(view)


# ---------------------------------------------------------------------- in the app
async def test_noise_samples_and_data_set_regenerate_the_data(make_test_app):
    app = make_test_app("spiral", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_data_view(pilot)
        session = app.session
        assert view.has_class("-generated") and view.query_one("#data-knobs").display
        assert view.query_one("#data-source", Select).value == "spiral"
        assert view.query_one("#data-noise", Input).value == "0"
        assert view.query_one("#data-samples", Input).value == "600"
        assert "600 samples" in view.sizes_text
        x_before = session.prepared.dataset.x.copy()

        await submit(pilot, view, noise="20")
        assert app.session.experiment.data.noise == 0.2
        assert not np.array_equal(app.session.prepared.dataset.x, x_before)  # new points
        assert view.dataset is app.session.prepared.dataset  # shown at once
        assert view.query_one("#data-noise", Input).value == "20"

        await submit(pilot, view, samples="300")
        assert app.session.experiment.data.samples == 300 and len(app.session.prepared.dataset.x) == 300
        assert "300 samples" in view.sizes_text and view.query_one("#data-samples", Input).value == "300"
        assert len(view.split.train) == len(app.session.prepared.x_train) == 210

        view.query_one("#data-source", Select).value = "circle"  # picking applies at once
        await pilot.pause()
        await pilot.pause()
        d = app.session.experiment.data
        assert (d.source, d.samples, d.noise) == ("circle", 300, 0.2)
        assert view.dataset.name == "circle" and view.query_one("#data-source", Select).value == "circle"
        assert app.session.prepared.dataset.source == "generator:circle"


async def test_invalid_knobs_say_why_and_change_nothing(make_test_app):
    app = make_test_app("moons", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_data_view(pilot)
        experiment, prepared = app.session.experiment, app.session.prepared
        assert view.query_one("#data-noise", Input).value == "10"  # moons.toml: noise = 0.1
        for fields, words in [({"noise": "60"}, "noise: expected a number from 0 to 50"),
                              ({"noise": "lots"}, "noise: expected"),
                              ({"noise": "10", "samples": "5"}, "samples: expected a whole number from 10"),
                              ({"samples": "many"}, "samples: expected"),
                              ({"samples": "500", "ratios": "0.5/0.6/0.1"}, "split: the shares must add up to 1")]:
            await submit(pilot, view, **fields)
            assert words in view.error and "✗" in error_text(view)
            assert app.session.experiment is experiment and app.session.prepared is prepared
        # two mistakes at once: both named
        await submit(pilot, view, noise="99", samples="1", ratios="0.7/0.15/0.15")
        assert view.error.startswith("noise: ") and "; samples: " in view.error
        # fixed: applied, and the error goes
        await submit(pilot, view, noise="5", samples="400")
        assert view.error == "" and not view.query_one("#split-error").display
        assert (app.session.experiment.data.noise, app.session.experiment.data.samples) == (0.05, 400)


async def test_regenerate_draws_a_new_seed_and_shows_it(make_test_app):
    app = make_test_app("xor", epochs=2)
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = await open_data_view(pilot)
        x_before = app.session.prepared.dataset.x.copy()
        view.query_one("#data-regenerate", Button).press()
        await pilot.pause()
        await pilot.pause()
        seed = app.session.experiment.data.seed
        assert view.query_one("#split-seed", Input).value == str(seed) and seed != 0
        assert not np.array_equal(app.session.prepared.dataset.x, x_before)
        assert any(n.message.startswith("New data: xor, 500 samples, noise 0 %") for n in notifications(seen))


async def test_a_shipped_data_set_shows_only_split_and_seed(make_test_app):
    app = make_test_app("iris", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_data_view(pilot)
        assert not view.generated and not view.has_class("-generated")
        assert not view.query_one("#data-knobs").display
        assert view.query_one("#split-ratios").display and view.query_one("#split-seed").display
        await submit(pilot, view, ratios="0.8/0.1/0.1", seed="7")
        d = app.session.experiment.data
        assert (d.source, d.split, d.seed, d.samples, d.noise) == ("iris", (0.8, 0.1, 0.1), 7, None, None)


async def test_the_knobs_fit_80x24_and_escape_gives_the_keys_back(make_test_app):
    app = make_test_app("spiral", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_data_view(pilot)
        for selector in KNOBS:
            region = view.query_one(selector).region
            assert region.height >= 1 and region.x >= 0 and region.right <= 80, (selector, region)
        assert app.focused is None  # nothing focused: the footer's keys work
        noise = view.query_one("#data-noise", Input)
        noise.focus()
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is None
        view.query_one("#data-source", Select).focus()
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is None
        await pilot.press("1")  # a screen key works again
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


# ---------------------------------------------------------------------- the preset picker
def write_preset(folder: Path, name: str, source: str = "moons") -> Path:
    exp = load_preset(source)
    return save_preset(exp.replace(title=f"My {name}"), folder / f"{name}.toml")


def test_folder_presets_lists_preset_files_only(tmp_path):
    write_preset(tmp_path, "b")
    write_preset(tmp_path, "a")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    (tmp_path / "broken.toml").write_text("[data]\nsource = \n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    assert [p.name for p in folder_presets(tmp_path)] == ["a.toml", "b.toml", "broken.toml"]


async def test_the_picker_lists_and_opens_a_preset_file_of_the_folder(make_test_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mine = write_preset(tmp_path, "mine")
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("o")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, PresetPicker)
        options = picker.query_one(OptionList)
        shipped = len(list_presets())
        assert options.option_count == shipped + 1  # the shipped ones, then the file
        option = options.get_option_at_index(shipped)
        assert option.id == str(mine) and "mine.toml" in str(option.prompt) and "file" in str(option.prompt)
        options.highlighted = shipped
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert not isinstance(app.screen, PresetPicker)
        assert app.session.experiment.path == mine and app.session.experiment.title == "My mine"


async def test_the_picker_opens_a_typed_path_and_says_why_not(make_test_app, tmp_path):
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    good = write_preset(elsewhere, "good", "gauss")
    bad = elsewhere / "bad.toml"
    bad.write_text(good.read_text(encoding="utf-8").replace("units = 2", 'units = "two"'), encoding="utf-8")
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        chosen: list = []
        picker = PresetPicker("xor", folder=tmp_path)  # no preset files there: no separator either
        await app.push_screen(picker, chosen.append)
        await pilot.pause()
        assert picker.query_one(OptionList).option_count == len(list_presets())
        field = picker.query_one("#preset-path", Input)
        for text, words in [(str(tmp_path / "missing.toml"), "missing.toml: preset file not found"),
                            (str(bad), "bad.toml: model.layers[1].units: expected"),
                            ("", "type the path of a preset file")]:
            field.value = text
            field.focus()
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is picker and chosen == []
            shown = str(picker.query_one("#preset-error", Static).render())
            assert words in picker.error and words in shown
        field.value = str(good)
        await pilot.press("enter")
        await pilot.pause()
        assert chosen == [str(good)]


async def test_a_broken_file_in_the_list_shows_its_error_in_the_dialog(make_test_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.toml").write_text('[data]\nsource = "nothing"\n[model]\n[train]\n', encoding="utf-8")
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("o")
        await pilot.pause()
        picker = app.screen
        options = picker.query_one(OptionList)
        options.highlighted = options.option_count - 1
        assert "cannot be opened" in str(options.get_option_at_index(options.option_count - 1).prompt)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is picker and "broken.toml: data.source: expected" in picker.error
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.session.experiment.name == "xor"


# ---------------------------------------------------------------------- save as preset
async def save_via_prompt(pilot, name: str) -> None:
    prompt = pilot.app.screen
    assert isinstance(prompt, SavePresetPrompt)
    field = prompt.query_one(Input)
    field.value = name
    await pilot.press("enter")
    await pilot.pause()


@pytest.mark.parametrize("pace", [None, 5.0, math.inf])
async def test_save_as_preset_writes_what_load_preset_opens(make_test_app, tmp_path, monkeypatch, pace):
    monkeypatch.chdir(tmp_path)
    app = make_test_app("spiral", epochs=2)
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = await open_data_view(pilot)
        await submit(pilot, view, noise="15", samples="200")  # an edited experiment
        if pace is not None:
            app.pace = pace
        written = getattr(app, "pace", None)  # the app's own pace when not set here
        save_preset_action(app)
        await pilot.pause()
        assert app.screen.query_one(Input).value == "spiral.toml"  # the preset's name, this folder
        await save_via_prompt(pilot, "edited")  # ".toml" added
        assert not isinstance(app.screen, SavePresetPrompt)
        assert any(n.message == "Preset saved to edited.toml" for n in notifications(seen))
        experiment = app.session.experiment
    back = load_preset(tmp_path / "edited.toml")
    assert back.app == AppSpec(pace=written)
    assert back.replace(name="spiral", path=None, label="", app=AppSpec()) == experiment.replace(path=None, label="")
    assert (back.data.noise, back.data.samples) == (0.15, 200)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edited.toml"]


async def test_save_as_preset_asks_before_replacing_and_reports_errors(make_test_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "xor.toml").write_text("old", encoding="utf-8")
    app = make_test_app("xor", epochs=2)
    seen: list = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await started(pilot)
        save_preset_action(app)
        await pilot.pause()
        prompt = app.screen
        await pilot.press("enter")  # xor.toml exists: asks first
        await pilot.pause()
        assert app.screen is prompt and "exists: enter again to replace it" in str(
            prompt.query_one("#path-error").render())
        assert (tmp_path / "xor.toml").read_text(encoding="utf-8") == "old"
        await pilot.press("enter")
        await pilot.pause()
        assert load_preset(tmp_path / "xor.toml").data.source == "xor"
        # a folder that does not exist: said in the prompt
        save_preset_action(app)
        await pilot.pause()
        await save_via_prompt(pilot, "nowhere/x.toml")
        assert isinstance(app.screen, SavePresetPrompt) and "does not exist" in str(
            app.screen.query_one("#path-error").render())
        await pilot.press("escape")
        await pilot.pause()
        # a write that fails: an error notification with the one-line message
        import tuinet.presets as presets_module

        def refuse(experiment, path):
            raise presets_module.PresetError(f"{path}: cannot save the preset (Permission denied)")

        monkeypatch.setattr(presets_module, "save_preset", refuse)
        save_preset_action(app)
        await pilot.pause()
        await save_via_prompt(pilot, "y.toml")
        errors = [n for n in notifications(seen) if n.severity == "error"]
        assert errors and errors[-1].message == "y.toml: cannot save the preset (Permission denied)"

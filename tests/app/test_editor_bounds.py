"""Absurd values in the layer editor preview at once, allocating nothing; text from a preset file
(its title) shows escaped in the header and in toasts, never as markup or terminal codes."""

from __future__ import annotations

import re
import time
import tracemalloc

import numpy as np

from tuinet.app.screens.layer_editor import LayerEditor
from tuinet.app.widgets.architecture import analyse_stack
from tuinet.nn import layers
from tuinet.presets import load_preset

from .conftest import notifications
from .test_architecture import Harness, replace_text, rows

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


async def test_units_100_million_preview_at_once():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, LayerEditor)
        await replace_text(pilot, "100000000")
        start = time.perf_counter()
        await pilot.press("enter")
        await pilot.pause()
        elapsed = time.perf_counter() - start
        assert not isinstance(app.screen, LayerEditor)
        table = rows(app)
        assert table[0] == ["1", "Dense 100000000 relu", "(None, 100000000)", "300,000,000"]
        assert table[1] == ["2", "Dense 8 relu", "(None, 8)", "800,000,008"]
        assert elapsed < 0.5, f"the preview took {elapsed:.2f}s"
        start = time.perf_counter()  # and the keys still answer at once
        await pilot.press("down")
        await pilot.pause()
        assert time.perf_counter() - start < 0.5


def test_preview_allocates_no_weights():
    specs = [{"type": "Dense", "units": 10**12}, {"type": "Dense", "units": 3}]  # 8 TB of float64: unallocatable
    tracemalloc.start()
    try:
        report = analyse_stack(specs, (2,))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.ok and report.shapes == [(10**12,), (3,)]
    assert report.params == [3 * 10**12, 3 * 10**12 + 3] and report.trainable == report.total
    assert peak < 5 * 2**20


def test_layers_count_params_for_a_shape_without_building():
    cases = [(layers.Dense(4), (3,), 16), (layers.LSTM(2), (5, 3), 4 * (3 * 2 + 2 * 2 + 2)),
             (layers.GRU(2), (5, 3), 3 * (3 * 2 + 2 * 2) + 2 * 3 * 2),
             (layers.Conv2D(4, 3), (8, 8, 2), 3 * 3 * 2 * 4 + 4), (layers.BatchNormalization(), (5,), 20),
             (layers.Embedding(10, 4), (7,), 40), (layers.Dropout(0.5), (3,), 0)]
    for layer, shape, expected in cases:
        assert layer.count_params(shape) == expected, type(layer).__name__
        assert not layer.built and layer.params == {}
        specs = layer.weight_specs(shape)
        layer.build_for(shape, np.random.default_rng(0))
        assert layer.count_params() == expected
        assert [(n, s) for n, s, _ in specs] == [(n, layer.weight(n).shape) for n in layer.weight_names]
    bn = layers.BatchNormalization()
    assert [t for _, _, t in bn.weight_specs((5,))] == [True, True, False, False]


async def test_preset_title_shows_escaped(make_test_app, tmp_path):
    text = load_preset("xor").path.read_text()
    path = tmp_path / "evil.toml"
    path.write_text('title = "x\\u001b]0;pwned\\u0007 [bold]B[/] \\u202e"\n' + text.split("\n", 1)[1])
    assert load_preset(path).title == "x\x1b]0;pwned\x07 [bold]B[/] \u202e"
    seen: list = []
    app = make_test_app(path)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await pilot.pause()
        assert app.sub_title.startswith("x\\x1b]0;pwned\\x07 [bold]B[/] \\u202e")
        assert not CONTROL.search(app.sub_title)
        app.notify("bad column \x1b[2J[/oops] in [bold]x.csv", title="t\x07")
        await pilot.pause()
        toast = notifications(seen)[-1]
        assert toast.message == "bad column \\x1b[2J[/oops] in [bold]x.csv" and toast.title == "t\\x07"
        assert not toast.markup

"""The split viewer: counts that agree with the Split, scatter glyphs, image samples, feature
statistics, and the resplit fields."""

from __future__ import annotations

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget

from tuinet import data
from tuinet.data import Dataset, Split
from tuinet.app.widgets.dataview import (
    BAR_GLYPHS,
    MAX_FEATURES,
    SHADES,
    SPLIT_GLYPHS,
    ClassBalanceChart,
    DataSplitView,
    SampleImages,
    SplitScatter,
    class_balance,
    feature_stats,
    image_lines,
    parse_seed,
    parse_split_ratios,
    sample_indices,
    scatter_grid,
    split_counts_text,
)


class Harness(App):
    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def strips_of(widget: Widget):
    return widget.render_lines(Region(0, 0, *widget.size))


def text_of(widget: Widget) -> list[str]:
    return ["".join(segment.text for segment in strip).rstrip() for strip in strips_of(widget)]


def static_text(view: DataSplitView, selector: str) -> str:
    return "\n".join(text_of(view.query_one(selector)))


def tiny_2d() -> tuple[Dataset, Split]:
    """Five points on the corners and centre of the unit square."""
    x = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], dtype=np.float32)
    y = np.array([0, 1, 0, 1, 0])
    ds = Dataset(name="tiny", x=x, y=y, task="classification", feature_names=["a", "b"],
                 class_names=["red", "blue"])
    split = Split(train=np.array([0, 3, 4]), val=np.array([1]), test=np.array([2]), ratios=(0.6, 0.2, 0.2),
                  seed=0, stratified=False)
    return ds, split


# ---------------------------------------------------------------------- pure
def test_class_balance_agrees_with_the_split():
    ds = data.load("iris")
    split = data.split(ds.y, (0.6, 0.2, 0.2), seed=4)
    balance = class_balance(ds.y, split, 3)
    expected = split.class_counts(ds.y, 3)
    for name in ("train", "val", "test"):
        assert balance[name].tolist() == expected[name].tolist()
        idx = getattr(split, name)
        assert balance[name].tolist() == [int(np.sum(ds.y[idx] == c)) for c in range(3)]
        assert int(balance[name].sum()) == split.sizes()[name]
    with pytest.raises(ValueError):
        class_balance(ds.y, split, 2)


def test_split_counts_text():
    ds, split = tiny_2d()
    assert split_counts_text(split) == "train 3 (60.0%) · val 1 (20.0%) · test 1 (20.0%) · 5 samples"
    assert split_counts_text({"train": 8, "val": 2}) == "train 8 (80.0%) · val 2 (20.0%) · test 0 (0.0%) · 10 samples"


def test_parse_split_ratios_and_seed():
    assert parse_split_ratios("0.7/0.15/0.15") == (0.7, 0.15, 0.15)
    assert parse_split_ratios(" 0.6, 0.2, 0.2 ") == (0.6, 0.2, 0.2)
    assert parse_split_ratios("0.8/0.2") == (0.8, 0.2, 0.0)
    for bad, words in [("0.5/0.3/0.3", "add up to 1"), ("0/0.5/0.5", "training share"), ("a/b/c", "numbers"),
                       ("1", "train/val/test"), ("0.5/-0.1/0.6", "from 0 to 1"), ("", "train/val/test")]:
        with pytest.raises(ValueError, match=words):
            parse_split_ratios(bad)
    assert parse_seed(" 42 ") == 42
    for bad in ("-1", "x", "1.5", ""):
        with pytest.raises(ValueError, match="seed"):
            parse_seed(bad)


def test_scatter_grid_places_each_point_and_lets_rare_splits_win():
    ds, split = tiny_2d()
    grid = scatter_grid(ds.x, split.assignment(5), cols=4, rows=3)
    expected = np.full((3, 4), -1)
    expected[2, 0] = 0  # (0, 0) train: bottom left
    expected[0, 3] = 1  # (1, 1) val: top right
    expected[2, 3] = 2  # (1, 0) test: bottom right
    expected[0, 0] = 0  # (0, 1) train: top left
    expected[1, 2] = 0  # (0.5, 0.5) train: middle
    assert grid.tolist() == expected.tolist()
    # a test sample in a train cell shows as test
    x = np.vstack([ds.x, [[0.0, 0.0]]])
    codes = np.append(split.assignment(5), 2)
    assert scatter_grid(x, codes, 4, 3)[2, 0] == 2


def test_feature_stats_match_numpy_on_the_training_split():
    ds = data.load("wine")
    split = data.split(ds.y, (0.7, 0.15, 0.15), seed=1)
    stats = feature_stats(ds.x[split.train])
    train = ds.x[split.train].astype(np.float64)
    np.testing.assert_allclose(stats["mean"], train.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats["std"], train.std(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(stats["min"], train.min(axis=0))
    np.testing.assert_array_equal(stats["max"], train.max(axis=0))
    seq = np.arange(24, dtype=np.float32).reshape(2, 4, 3)  # (n, steps, features)
    assert feature_stats(seq)["mean"].tolist() == [10.5, 11.5, 12.5]


def test_sample_indices_take_the_first_of_each_class():
    y = np.array([1, 0, 1, 2, 0, 1, 0, 2])
    assert sample_indices(y, np.array([0, 1, 2, 3, 4, 5, 6]), 3, 2) == [1, 4, 0, 2, 3]


def test_image_lines_use_half_blocks_or_shades():
    image = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    lines = image_lines(image)
    assert [line.plain for line in lines] == ["▀▀", "▀▀"]  # 3 rows -> 2 lines
    first = lines[0].spans
    assert str(first[0].style.color.triplet.hex) == "#000000" and str(first[0].style.bgcolor.triplet.hex) == "#ffffff"
    assert lines[1].spans[0].style.bgcolor is None  # no row below the last one
    assert [line.plain for line in image_lines(image, no_color=True)] == [" █", "█ ", "▒▒"]
    assert [line.plain for line in image_lines(image, scale=2)] == ["▀▀▀▀"] * 3


# ---------------------------------------------------------------------- widget
async def test_view_counts_agree_with_the_split():
    ds = data.load("iris")
    split = data.split(ds.y, (0.6, 0.2, 0.2), seed=2)
    view = DataSplitView()
    async with Harness(view).run_test(size=(90, 60)) as pilot:
        view.show(ds, split)
        await pilot.pause()
        assert split_counts_text(split) in static_text(view, "#split-sizes")
        chart = view.query_one("#split-balance", ClassBalanceChart)
        lines = text_of(chart)
        counts = split.class_counts(ds.y, 3)
        assert "train" in lines[0] and "val" in lines[0] and "test" in lines[0]
        for c, cname in enumerate(ds.class_names):
            row = next(line for line in lines if line.startswith(cname))
            numbers = [int(tok) for tok in row.split() if tok.isdigit()]
            assert numbers == [int(counts[s][c]) for s in ("train", "val", "test")]
            assert BAR_GLYPHS[0] in row and BAR_GLYPHS[1] in row and BAR_GLYPHS[2] in row
        total = next(line for line in lines if line.startswith("total"))
        assert [int(tok) for tok in total.split()[1:]] == [len(split.train), len(split.val), len(split.test)]
        assert not view.query_one("#split-scatter").display and not view.query_one("#split-images").display
        # showing the same data again changes nothing
        shown = view.show_count
        view.show(ds, split)
        assert view.show_count == shown


async def test_scatter_glyphs_sit_where_the_points_are():
    ds, split = tiny_2d()
    view = DataSplitView()
    async with Harness(view).run_test(size=(60, 50)) as pilot:
        view.show(ds, split)
        await pilot.pause()
        scatter = view.query_one("#split-scatter", SplitScatter)
        assert scatter.display
        lines = text_of(scatter)
        assert lines[0].split() == [SPLIT_GLYPHS[0], "train", "3", SPLIT_GLYPHS[1], "val", "1",
                                    SPLIT_GLYPHS[2], "test", "1"]
        cols, rows = scatter.grid_size(*scatter.size)
        grid = scatter_grid(ds.x, split.assignment(5), cols, rows)
        assert scatter.grid.tolist() == grid.tolist()
        body = [line.ljust(cols + 2) for line in lines[2:2 + rows]]  # inside the frame
        for r in range(rows):
            for c in range(cols):
                code = grid[r, c]
                assert body[r][c + 1] == (" " if code < 0 else SPLIT_GLYPHS[code])
        assert body[0][1] == SPLIT_GLYPHS[0] and body[0][cols] == SPLIT_GLYPHS[1]  # top: (0, 1), (1, 1)
        assert body[-1][1] == SPLIT_GLYPHS[0] and body[-1][cols] == SPLIT_GLYPHS[2]  # bottom: (0, 0), (1, 0)
        assert "a 0 … 1" in lines[-1] and "b 0 … 1" in lines[-1]


async def test_digits_show_an_image_grid_with_labels():
    ds = data.load("digits")
    split = data.split(ds.y, (0.7, 0.15, 0.15), seed=0)
    view = DataSplitView(samples_per_class=2)
    async with Harness(view).run_test(size=(100, 60)) as pilot:
        view.show(ds, split)
        await pilot.pause()
        images = view.query_one("#split-images", SampleImages)
        assert images.display and not view.query_one("#split-scatter").display
        assert len(images.labels) == 20 and images.labels == [str(c) for c in range(10) for _ in range(2)]
        strips = strips_of(images)
        cells = [seg for strip in strips for seg in strip if "▀" in seg.text]
        assert cells, "no half-block cells"
        greys = {seg.style.color.triplet for seg in cells} | {seg.style.bgcolor.triplet for seg in cells}
        assert len(greys) > 5  # grey levels, not one flat colour
        captions = [line for line in text_of(images) if line.strip() and "▀" not in line]
        assert " ".join(captions).split() == images.labels
        # the images are the training split's first two of each class
        train = set(split.train.tolist())
        picks = sample_indices(ds.y, split.train, 10, 2)
        assert set(picks) <= train and [int(ds.y[i]) for i in picks] == [c for c in range(10) for _ in range(2)]
        # features: 12 rows and a note on the rest
        table = static_text(view, "#split-features")
        assert f"+{64 - MAX_FEATURES} more features (64 in all)" in table
        assert "pixel_1_3" in table and "pixel_1_4" not in table


async def test_no_color_images_use_shade_glyphs(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    ds = data.load("digits")
    split = data.split(ds.y, (0.7, 0.15, 0.15), seed=0)
    view = DataSplitView(samples_per_class=1)
    app = Harness(view)
    async with app.run_test(size=(100, 60)) as pilot:
        assert app.no_color
        view.show(ds, split)
        await pilot.pause()
        shown = "".join(text_of(view.query_one("#split-images")))
        assert "▀" not in shown and "█" in shown and any(ch in shown for ch in SHADES[1:4])


async def test_feature_table_numbers_agree_with_numpy():
    ds = data.load("iris")
    split = data.split(ds.y, (0.6, 0.2, 0.2), seed=0)
    scaler = data.get_scaler("standard").fit(ds.x[split.train])
    view = DataSplitView()
    async with Harness(view).run_test(size=(100, 60)) as pilot:
        view.show(ds, split, x_scaled=scaler.transform(ds.x))
        await pilot.pause()
        table = static_text(view, "#split-features").splitlines()
        train = ds.x[split.train].astype(np.float64)
        for i, fname in enumerate(ds.feature_names):
            row = next(line for line in table if line.startswith(fname))
            values = row[len(fname):].split()
            expected = [train[:, i].min(), train[:, i].mean(), train[:, i].std(), train[:, i].max()]
            assert [float(v) for v in values[:4]] == pytest.approx(expected, rel=1e-3)
            assert [float(v) for v in values[4:]] == pytest.approx([0.0, 1.0], abs=1e-3)  # scaled on train
        np.testing.assert_allclose(view.stats["mean"], train.mean(axis=0), rtol=1e-12)


async def test_regression_shows_target_statistics():
    ds = data.load("plane", samples=60, noise=0.1, seed=0)
    split = data.split(ds.y, (0.5, 0.25, 0.25), seed=0, stratify=False)
    view = DataSplitView()
    async with Harness(view).run_test(size=(90, 60)) as pilot:
        view.show(ds, split)
        await pilot.pause()
        assert view.balance is None
        lines = text_of(view.query_one("#split-balance"))
        mean_row = next(line for line in lines if line.startswith("mean"))
        expected = [float(np.mean(ds.y[getattr(split, s)])) for s in ("train", "val", "test")]
        assert [float(v) for v in mean_row.split()[1:]] == pytest.approx(expected, rel=1e-3, abs=1e-3)
        assert view.query_one("#split-scatter").display  # plane is 2-D


async def test_resplit_fields_validate_and_post_the_request():
    ds, split = tiny_2d()
    view = DataSplitView()
    seen: list = []
    app = Harness(view)
    async with app.run_test(size=(80, 40), message_hook=seen.append) as pilot:
        view.show(ds, split)
        await pilot.pause()
        ratios = view.query_one("#split-ratios")
        seed = view.query_one("#split-seed")
        assert ratios.value == "0.6/0.2/0.2" and seed.value == "0"

        def requests():  # the hook sees a message once per node it bubbles through
            found = {id(m): m for m in seen if isinstance(m, DataSplitView.ResplitRequested)}
            return list(found.values())

        ratios.value = "0.5/0.3/0.3"
        ratios.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert requests() == []
        assert "add up to 1" in view.error
        error_box = view.query_one("#split-error")
        assert error_box.display and "✗" in static_text(view, "#split-error")

        ratios.value = "0.7/0.15/0.15"
        seed.value = "x"
        seed.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert requests() == [] and "seed" in view.error

        seed.value = "7"
        await pilot.press("enter")
        await pilot.pause()
        sent = requests()
        assert len(sent) == 1
        assert sent[0].ratios == (0.7, 0.15, 0.15) and sent[0].seed == 7 and sent[0].control is view
        assert view.error == "" and not error_box.display


async def test_show_before_mount_and_sequence_data():
    ds = data.load("sine", samples=40, noise=0.1, seed=0)  # (n, steps, 1): no scatter, no images
    split = data.split(ds.y, (0.75, 0.25), seed=3, stratify=False)
    view = DataSplitView()
    view.show(ds, split)  # before the view is mounted
    async with Harness(view).run_test(size=(80, 40)) as pilot:
        await pilot.pause()
        assert static_text(view, "#split-sizes").splitlines()[1] == split_counts_text(split)
        assert view.query_one("#split-ratios").value == "0.75/0.25/0"
        assert view.query_one("#split-seed").value == "3"
        assert not view.query_one("#split-scatter").display and not view.query_one("#split-images").display
        row = next(line for line in static_text(view, "#split-features").splitlines() if line.startswith("value"))
        assert float(row.split()[2]) == pytest.approx(float(ds.x[split.train].astype(np.float64).mean()), rel=1e-3)
        with pytest.raises(ValueError):
            view.show(ds, split, x_scaled=np.zeros((3, 20, 1)))

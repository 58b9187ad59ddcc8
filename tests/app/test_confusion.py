"""The confusion matrix: counts, precision and recall by hand, shading, width, placeholders, redraws."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget

from tuinet.app.widgets.confusion import (
    REGRESSION,
    WAITING,
    ConfusionMatrixView,
    confusion_summary,
    format_confusion,
    row_shares,
)
from tuinet.nn.metrics import confusion_matrix

# true classes down, predicted across
CM3 = np.array([[5, 1, 0],
                [2, 7, 1],
                [0, 0, 4]])
NAMES3 = ["setosa", "versicolor", "virginica"]
# by hand: precision = diagonal / column sums (7, 8, 5); recall = diagonal / row sums (6, 10, 4)
PRECISION3 = [5 / 7, 7 / 8, 4 / 5]
RECALL3 = [5 / 6, 7 / 10, 4 / 4]


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


def cell_segments(widget: Widget, line: int) -> list[Segment]:
    """The numbers of one line, each as a segment with the style of its first digit."""
    chars = [(ch, seg.style) for seg in strips_of(widget)[line] for ch in seg.text]
    out, i = [], 0
    while i < len(chars):
        if chars[i][0].isdigit():
            j = i
            while j < len(chars) and chars[j][0].isdigit():
                j += 1
            out.append(Segment("".join(ch for ch, _ in chars[i:j]), chars[i][1] or Style()))
            i = j
        else:
            i += 1
    return out


def table_rows(lines: list[str], names: list[str]) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in lines if line.split() and line.split()[0] in names}


# ---------------------------------------------------------------------- pure
def test_summary_precision_recall_and_accuracy_by_hand():
    s = confusion_summary(CM3)
    assert s.total == 20 and s.correct == 16 and s.accuracy == pytest.approx(0.8)
    assert s.precision == pytest.approx(PRECISION3)
    assert s.recall == pytest.approx(RECALL3)
    assert s.predicted.tolist() == [7, 8, 5] and s.actual.tolist() == [6, 10, 4]
    shares = row_shares(CM3)
    assert shares[1].tolist() == pytest.approx([0.2, 0.7, 0.1])
    assert np.allclose(shares.sum(axis=1), 1.0)


def test_the_text_shows_counts_precision_recall_and_accuracy():
    text = format_confusion(CM3, NAMES3, epoch=3).plain
    lines = text.splitlines()
    assert lines[0] == "validation · epoch 3 · accuracy 80.0% (16/20)"
    header = lines[2].split()
    assert header == [*NAMES3, "recall"]
    rows = table_rows(lines, NAMES3 + ["precision"])
    for i, name in enumerate(NAMES3):
        assert [int(v) for v in rows[name][:3]] == CM3[i].tolist()
        assert rows[name][3] == f"{RECALL3[i]:.2f}"
    assert rows["precision"] == [f"{p:.2f}" for p in PRECISION3]
    assert rows["precision"] == ["0.71", "0.88", "0.80"]


def test_from_the_metrics_helper_and_absent_classes():
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 0])
    cm = confusion_matrix(y_true, y_pred, 4)
    lines = format_confusion(cm, ["a", "b", "c", "d"], split_name="test").plain.splitlines()
    assert lines[0].startswith("test · accuracy 50.0% (3/6)")
    rows = table_rows(lines, ["a", "b", "c", "d", "precision"])
    assert rows["c"] == ["1", "0", "0", "0", "0.00"]  # present, never right
    assert rows["d"] == ["0", "0", "0", "0", "–"]  # never present: no recall
    assert rows["precision"] == ["0.33", "0.67", "–", "–"]  # c and d never predicted


def test_ten_classes_fit_in_70_columns():
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 40, (10, 10))
    cm[np.diag_indices(10)] += 900  # four-digit counts
    for names in ([str(i) for i in range(10)],
                  ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]):
        lines = format_confusion(cm, names, width=70, epoch=12).plain.splitlines()
        assert max(len(line) for line in lines[1:]) <= 70
        assert len(lines) == 14  # title, legend, header, 10 rows, precision
        digits = [line.split() for line in lines[3:13]]
        assert [[int(v) for v in row[-11:-1]] for row in digits] == cm.tolist()
    # long names: ids head the columns and each row says which name an id is
    lines = format_confusion(cm, ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                  "ship", "truck"], width=70).plain.splitlines()
    assert lines[2].split() == [*map(str, range(10)), "recall"]
    assert lines[4].startswith("1 automobile")


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        format_confusion(np.ones((2, 3), dtype=int))
    with pytest.raises(ValueError):
        format_confusion(CM3, ["a", "b"])
    with pytest.raises(ValueError):
        confusion_summary(np.array([[1, -1], [0, 2]]))


# ---------------------------------------------------------------------- widget
async def test_widget_shows_counts_and_highlights_the_diagonal():
    view = ConfusionMatrixView(min_interval=0)
    async with Harness(view).run_test(size=(70, 12)) as pilot:
        assert text_of(view)[0].strip() == WAITING
        view.show(CM3, NAMES3, epoch=2)
        await pilot.pause()
        lines = text_of(view)
        assert lines[0] == "validation · epoch 2 · accuracy 80.0% (16/20)"
        assert [int(v) for v in table_rows(lines, NAMES3)["versicolor"][:3]] == [2, 7, 1]
        # row of versicolor (line 4): cells 2 (error), 7 (diagonal), 1 (error)
        cells = cell_segments(view, 4)[:3]  # then the recall 0.70
        assert [seg.text for seg in cells] == ["2", "7", "1"]
        diagonal, error = cells[1].style, cells[0].style
        assert diagonal.bold and not error.bold
        assert diagonal.bgcolor is not None and error.bgcolor is not None
        d_r, d_g, d_b = diagonal.bgcolor.get_truecolor()
        e_r, e_g, e_b = error.bgcolor.get_truecolor()
        assert d_g > d_r and e_r > e_g  # success hue vs error hue
        # shading by row share: the whole row (virginica 4/4) is a stronger green than 5 of 6 (setosa)
        part = cell_segments(view, 3)[0].style.bgcolor.get_truecolor()
        whole = cell_segments(view, 5)[2].style.bgcolor.get_truecolor()
        assert whole[1] > part[1]
        # and an error of 2 in 10 is a stronger red than 1 in 10
        assert cells[0].style.bgcolor.get_truecolor()[0] > cells[2].style.bgcolor.get_truecolor()[0]
        assert view.summary.accuracy == pytest.approx(0.8)


async def test_no_color_marks_the_diagonal_in_reverse(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    view = ConfusionMatrixView(min_interval=0)
    app = Harness(view)
    async with app.run_test(size=(70, 12)) as pilot:
        assert app.no_color
        view.show(CM3, NAMES3)
        await pilot.pause()
        cells = cell_segments(view, 4)
        assert cells[1].style.reverse and cells[1].style.bold
        assert not cells[0].style.reverse and not cells[2].style.reverse


async def test_placeholders_for_regression_and_before_the_first_epoch():
    view = ConfusionMatrixView(min_interval=0)
    async with Harness(view).run_test(size=(70, 12)) as pilot:
        assert view.placeholder == WAITING
        view.clear(task="regression")
        await pilot.pause()
        assert text_of(view)[0].strip() == REGRESSION
        view.show(CM3, NAMES3)
        await pilot.pause()
        assert view.placeholder is None and "recall" in text_of(view)[2]
        view.clear()
        await pilot.pause()
        assert text_of(view)[0].strip() == WAITING
        with pytest.raises(ValueError):
            view.clear(task="clustering")


async def test_ten_classes_fit_the_widget_at_70_columns():
    rng = np.random.default_rng(1)
    cm = rng.integers(0, 30, (10, 10))
    cm[np.diag_indices(10)] += 250
    view = ConfusionMatrixView(min_interval=0)
    async with Harness(view).run_test(size=(70, 20)) as pilot:
        view.show(cm, [str(i) for i in range(10)], epoch=1)
        await pilot.pause()
        assert view.size.height == 14
        lines = text_of(view)
        assert lines[2].split()[-1] == "recall"
        assert all(len(line) <= 70 for line in lines)
        assert [int(v) for v in lines[12].split()[1:11]] == cm[9].tolist()
        assert len(lines[13].split()) == 11  # "precision" and ten values


async def test_redraws_only_on_change_and_at_most_once_per_interval():
    view = ConfusionMatrixView(min_interval=0.3)
    async with Harness(view).run_test(size=(70, 12)) as pilot:
        view.show(CM3, NAMES3, epoch=1)
        await pilot.pause()
        drawn = view.draw_count
        view.show(CM3.copy(), list(NAMES3), epoch=1)  # the same data: nothing to do
        await pilot.pause()
        assert view.draw_count == drawn
        for epoch in range(2, 6):  # four changes within the interval: one deferred redraw
            view.show(CM3 + epoch, NAMES3, epoch=epoch)
        await pilot.pause()
        assert view.draw_count == drawn
        await asyncio.sleep(0.45)
        await pilot.pause()
        assert view.draw_count == drawn + 1
        assert text_of(view)[0].startswith("validation · epoch 5")

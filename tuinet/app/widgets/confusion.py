"""`ConfusionMatrixView`: true classes down, predicted classes across, counts in the cells.

The view gets a plain count matrix (from `tuinet.nn.metrics.confusion_matrix`) and the class
names; it never sees the model. Each cell shows its count on a background whose strength is
the cell's share of its row (the share of that true class predicted as the column's class):
the diagonal (correct) in the theme's `$success` hue, errors in `$error`. A `recall` column,
a `precision` row (`precision_recall_per_class`) and the overall accuracy go with it.

NO_COLOR-safe: the diagonal is also bold, and without colour it is drawn in reverse video,
so the correct cells stand out without any hue; every number is printed as text.

Cost: `show()` compares the new matrix, names, split and epoch with those drawn and does
nothing when they are the same. A change redraws at once, unless the view redrew less than
`min_interval` seconds ago: then one redraw of the newest data happens at the end of that
interval (`ThrottledRedraw`, a one-shot timer). Ten classes take 14 lines of at most 70 cells.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.color import Color
from textual.geometry import Size
from textual.widget import Widget

from tuinet.app.widgets.throttle import DEFAULT_MIN_INTERVAL, ThrottledRedraw
from tuinet.nn.metrics import precision_recall_per_class

__all__ = [
    "ConfusionMatrixView",
    "ConfusionSummary",
    "confusion_summary",
    "format_confusion",
    "row_shares",
]

MAX_LABEL_WIDTH = 14  # row labels (class names) are cut to this many cells
MAX_CELL_WIDTH = 12  # a cell grows up to this wide when names and room allow
RECALL_HEADER = "recall"
PRECISION_LABEL = "precision"
WAITING = "no confusion matrix yet: it appears after the first epoch"
REGRESSION = "no confusion matrix for regression"

CellStyle = Callable[[float, bool, int], "Style | None"]
"""`(row share, on the diagonal, count) -> rich Style` for one count cell."""


# ---------------------------------------------------------------------- pure helpers
@dataclass(frozen=True)
class ConfusionSummary:
    """Totals of a confusion matrix.

    Attributes:
        total: Samples counted.
        correct: Samples on the diagonal.
        accuracy: `correct / total` (NaN for an empty matrix).
        precision: Per predicted class: diagonal over column sum (0.0 for a class never predicted).
        recall: Per true class: diagonal over row sum (0.0 for a class never present).
        predicted: Column sums: how often each class was predicted.
        actual: Row sums: how often each class occurs.
    """

    total: int
    correct: int
    accuracy: float
    precision: np.ndarray
    recall: np.ndarray
    predicted: np.ndarray
    actual: np.ndarray


def _check_matrix(cm) -> np.ndarray:
    matrix = np.asarray(cm)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"expected a square confusion matrix, got shape {matrix.shape}")
    if matrix.dtype.kind not in "iub":
        if not np.all(np.isfinite(matrix)) or np.any(matrix != np.round(matrix)):
            raise ValueError("expected whole-number counts in the confusion matrix")
        matrix = matrix.astype(np.int64)
    if np.any(matrix < 0):
        raise ValueError("expected counts >= 0 in the confusion matrix")
    return matrix.astype(np.int64, copy=False)


def confusion_summary(cm) -> ConfusionSummary:
    """Accuracy, per-class precision and recall, and the row and column sums of `cm`."""
    matrix = _check_matrix(cm)
    precision, recall = precision_recall_per_class(matrix)
    total = int(matrix.sum())
    correct = int(np.trace(matrix))
    return ConfusionSummary(total=total, correct=correct, accuracy=correct / total if total else math.nan,
                            precision=precision, recall=recall, predicted=matrix.sum(axis=0),
                            actual=matrix.sum(axis=1))


def row_shares(cm) -> np.ndarray:
    """Each count over its row's sum (the share of a true class predicted as each class); 0 in empty rows."""
    matrix = _check_matrix(cm).astype(np.float64)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _ratio(value: float, present: bool) -> str:
    return f"{value:.2f}" if present else "–"


def format_confusion(cm, class_names: Sequence[str] | None = None, *, width: int = 70,
                     split_name: str = "validation", epoch: int | None = None,
                     cell_style: CellStyle | None = None, header_style: Style | str = "bold",
                     dim_style: Style | str = "dim") -> Text:
    """The confusion matrix as text: a title line, a header row, one row per true class, precision.

    The title names the split, the epoch (1-based, as shown) and the accuracy with its counts.
    Columns are the predicted classes, headed by their names when all fit the cell width, and
    by their ids otherwise (the rows then name "id name"). `recall` closes each row and a
    `precision` row closes the table; "–" marks a class never present (recall) or never
    predicted (precision).

    Args:
        cm: Counts `(classes, classes)`, rows true, columns predicted.
        class_names: One name per class; None or empty: the class ids.
        width: Cells available; cells and labels shrink (down to the counts' width) to fit.
        split_name: Which data the counts come from ("validation", "test", ...).
        epoch: 1-based epoch shown in the title, or None.
        cell_style: Style of each count cell from `(row share, diagonal, count)`; None: the
            diagonal is bold, zeros are dim, nothing else is styled.
        header_style: Style of the header row and the row labels.
        dim_style: Style of the legend line and "–" marks.

    Raises:
        ValueError: for a matrix that is not square counts, or names that do not match it.
    """
    matrix = _check_matrix(cm)
    k = matrix.shape[0]
    names = [str(n) for n in class_names] if class_names is not None and len(class_names) else []
    if names and len(names) != k:
        raise ValueError(f"{len(names)} class names for a {k}x{k} confusion matrix")
    if not names:
        names = [str(i) for i in range(k)]
    summary = confusion_summary(matrix)
    shares = row_shares(matrix)

    recall_w = len(RECALL_HEADER) + 1
    min_cell = max(len(str(int(matrix.max()))), 4) + 1  # 4: "1.00" in the precision row
    longest = max(len(n) for n in names)
    label_w = min(max(len(PRECISION_LABEL), longest), MAX_LABEL_WIDTH)
    per_cell = min(MAX_CELL_WIDTH, (width - label_w - recall_w) // k)
    if longest + 1 <= max(min_cell, per_cell):  # the names head their columns
        headers, labels = names, names
        cell_w = max(min_cell, longest + 1)
    else:  # ids head the columns; the rows say which name an id stands for
        headers = [str(i) for i in range(k)]
        labels = [f"{i} {n}" for i, n in enumerate(names)]
        cell_w = max(min_cell, len(headers[-1]) + 1)
        fit = width - k * cell_w - recall_w
        label_w = max(len(PRECISION_LABEL), min(MAX_LABEL_WIDTH, fit, max(len(n) for n in labels)))

    text = Text(no_wrap=True, overflow="crop")
    title = split_name if epoch is None else f"{split_name} · epoch {epoch}"
    if summary.total:
        title += f" · accuracy {summary.accuracy:.1%} ({summary.correct}/{summary.total})"
    else:
        title += " · no samples"
    text.append(title, style=header_style)
    text.append("\n")
    text.append(_cut("rows: true class · columns: predicted · diagonal: correct", width), style=dim_style)
    text.append("\n")

    text.append(" " * label_w, style=header_style)
    for header in headers:
        text.append(_cut(header, cell_w - 1).rjust(cell_w), style=header_style)
    text.append(RECALL_HEADER.rjust(recall_w), style=header_style)
    for i in range(k):
        text.append("\n")
        text.append(_cut(labels[i], label_w).ljust(label_w), style=header_style)
        for j in range(k):
            count = int(matrix[i, j])
            diagonal = i == j
            if cell_style is not None:
                style = cell_style(float(shares[i, j]), diagonal, count)
            elif diagonal:
                style = Style(bold=True)
            else:
                style = dim_style if count == 0 else None
            text.append(" ")
            text.append(str(count).rjust(cell_w - 1), style=style)
        present = bool(summary.actual[i])
        text.append(_ratio(summary.recall[i], present).rjust(recall_w),
                    style=None if present else dim_style)
    text.append("\n")
    text.append(PRECISION_LABEL.ljust(label_w), style=header_style)
    for j in range(k):
        predicted = bool(summary.predicted[j])
        text.append(_ratio(summary.precision[j], predicted).rjust(cell_w), style=None if predicted else dim_style)
    return text


# ---------------------------------------------------------------------- the widget
class ConfusionMatrixView(ThrottledRedraw, Widget):
    """A confusion matrix with row-normalised shading, per-class precision and recall, and accuracy.

    Feed it with `show(cm, class_names, split_name=..., epoch=...)`; `clear()` goes back to a
    placeholder ("after the first epoch", or "for regression" with `task="regression"`).
    """

    DEFAULT_CSS = """
    ConfusionMatrixView {
        width: 1fr;
        height: auto;
        min-height: 3;
    }
    ConfusionMatrixView > .confusion--diagonal {
        color: $success;
    }
    ConfusionMatrixView > .confusion--error {
        color: $error;
    }
    ConfusionMatrixView > .confusion--header {
        text-style: bold;
    }
    ConfusionMatrixView > .confusion--dim {
        color: $text-muted;
    }
    """

    COMPONENT_CLASSES = {"confusion--diagonal", "confusion--error", "confusion--header", "confusion--dim"}
    """Hues of correct and wrong cells (their `color`), the header row and the faint text."""

    ALLOW_SELECT = False

    TIMER_NAME = "confusion-redraw"

    def __init__(self, *, min_interval: float = DEFAULT_MIN_INTERVAL, name: str | None = None,
                 id: str | None = None, classes: str | None = None,  # noqa: A002
                 disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.min_interval = float(min_interval)
        """Seconds between two data-driven redraws (0: redraw on every change)."""
        self.matrix: np.ndarray | None = None
        """The counts shown, or None before the first `show()`."""
        self.class_names: list[str] = []
        """The class names shown (ids when none were given)."""
        self.split_name = "validation"
        """Which split the counts come from."""
        self.epoch: int | None = None
        """The 1-based epoch in the title, or None."""
        self.regression = False
        """True after `clear(task="regression")`: the regression placeholder shows."""
        self.draw_count = 0
        """How many times `render()` ran."""
        self._drawn_height = 1

    def render(self) -> RenderResult:
        self.draw_count += 1
        self._dirty = False
        self._last_draw = time.monotonic()
        self._drawn_height = self.get_content_height(self.size, self.size, self.size.width or 1)
        message = self.placeholder
        if message is not None:
            return Text(message, style=self.get_component_rich_style("confusion--dim"), justify="center",
                        no_wrap=True, overflow="ellipsis")
        assert self.matrix is not None
        return format_confusion(self.matrix, self.class_names, width=max(self.size.width, 1),
                                split_name=self.split_name, epoch=self.epoch, cell_style=self._cell_style(),
                                header_style=self.get_component_rich_style("confusion--header", partial=True),
                                dim_style=self.get_component_rich_style("confusion--dim", partial=True))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # known without rendering: a title, a legend, a header, one row per class and precision
        return 1 if self.matrix is None or self.placeholder else len(self.matrix) + 4

    # -- public ------------------------------------------------------------------------------
    @property
    def placeholder(self) -> str | None:
        """The line shown instead of a matrix, or None when there is one to show."""
        if self.regression:
            return REGRESSION
        if self.matrix is None:
            return WAITING
        return None

    @property
    def summary(self) -> ConfusionSummary | None:
        """Accuracy, precision and recall of the matrix shown (None before the first `show()`)."""
        return None if self.matrix is None else confusion_summary(self.matrix)

    def show(self, cm: np.ndarray, class_names: Sequence[str] | None, *, split_name: str = "validation",
             epoch: int | None = None) -> None:
        """Show these counts (rows true, columns predicted); a no-op when they are the ones drawn.

        Args:
            cm: Square counts, as `tuinet.nn.metrics.confusion_matrix` returns them (copied).
            class_names: One name per class; None or empty for the class ids.
            split_name: Which data the counts come from, shown in the title.
            epoch: 1-based epoch shown in the title (`EpochEnded.epoch + 1`), or None.

        Raises:
            ValueError: for a matrix that is not square counts, or names that do not match it.
        """
        matrix = _check_matrix(cm).copy()
        k = matrix.shape[0]
        names = [str(n) for n in class_names] if class_names is not None and len(class_names) else []
        if names and len(names) != k:
            raise ValueError(f"{len(names)} class names for a {k}x{k} confusion matrix")
        names = names or [str(i) for i in range(k)]
        epoch = None if epoch is None else int(epoch)
        if (not self.regression and self.matrix is not None and np.array_equal(matrix, self.matrix)
                and names == self.class_names and split_name == self.split_name and epoch == self.epoch):
            return
        self.matrix, self.class_names, self.split_name, self.epoch = matrix, names, str(split_name), epoch
        self.regression = False
        self._changed()

    def clear(self, *, task: str = "classification") -> None:
        """Forget the matrix: show the "after the first epoch" placeholder, or for `task="regression"`
        the "no confusion matrix for regression" one."""
        if task not in ("classification", "regression"):
            raise ValueError(f'task must be "classification" or "regression", got {task!r}')
        regression = task == "regression"
        if self.matrix is None and self.regression == regression:
            return
        self.matrix, self.epoch, self.regression = None, None, regression
        self._changed()

    # -- private -----------------------------------------------------------------------------
    def _cell_style(self) -> CellStyle:
        """Backgrounds from the theme: the row share blends the hue into the background."""
        no_color = self.app.no_color
        base = self.background_colors[1]
        if base.a == 0:
            base = Color.parse("#1e1e1e")
        diagonal_hue = self.get_component_styles("confusion--diagonal").color
        error_hue = self.get_component_styles("confusion--error").color
        muted = self.get_component_rich_style("confusion--dim", partial=True)
        cache: dict[tuple[int, bool, bool], Style] = {}

        def style(share: float, diagonal: bool, count: int) -> Style | None:
            if no_color:
                return Style(bold=True, reverse=True) if diagonal else (muted if count == 0 else None)
            if count == 0:
                return Style(bold=True) if diagonal else muted
            level = round(share * 20)  # 21 shades are plenty and keep the cache small
            key = (level, diagonal, True)
            if key not in cache:
                hue = diagonal_hue if diagonal else error_hue
                background = base.blend(hue, 0.15 + 0.7 * level / 20)
                cache[key] = Style(color=background.get_contrast_text(1.0).rich_color,
                                   bgcolor=background.rich_color, bold=diagonal)
            return cache[key]

        return style

    def _draw_now(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        """Repaint; lay out again only when the number of lines changed."""
        height = self.get_content_height(self.size, self.size, self.size.width or 1)
        self.refresh(layout=height != self._drawn_height)
        self._drawn_height = height

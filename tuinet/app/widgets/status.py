"""`StatusBar`: one line of training status, and `EpochLog`: the Keras-style epoch lines."""

from __future__ import annotations

import math

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Log

STATE_LABELS = {
    "ready": "■ ready",
    "running": "▶ running",
    "paused": "⏸ paused",
    "pausing": "⏸ pausing after this batch",  # shown at once on the key; the session says "paused" later
    "finished": "✔ finished",
    "stopped": "■ stopped",
    "diverged": "✖ diverged",
    "failed": "✖ failed",
}


def format_duration(seconds: float | None) -> str:
    """`75.2` -> `1:15`; `None` -> `--`."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "--"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


class StatusBar(Widget):
    """Epoch, batch, throughput, time and learning rate, with the state as text (NO_COLOR-safe)."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    StatusBar.-running { background: $primary-muted; }
    StatusBar.-diverged, StatusBar.-failed { background: $error-muted; }
    """

    state: reactive[str] = reactive("ready")
    """The session state: ready, running, paused, finished, stopped, diverged or failed."""
    epoch: reactive[int] = reactive(0)
    """Epochs completed."""
    epochs: reactive[int] = reactive(0)
    """Epochs planned."""
    batch: reactive[int] = reactive(0)
    """Batches done in the current epoch."""
    steps: reactive[int] = reactive(0)
    """Batches per epoch."""
    samples_per_second: reactive[float] = reactive(0.0)
    """Training throughput of the current epoch."""
    elapsed: reactive[float] = reactive(0.0)
    """Seconds spent training in this run."""
    learning_rate: reactive[float] = reactive(0.0)
    """The learning rate in force."""
    message: reactive[str] = reactive("")
    """A short note after the numbers (the last divergence, a save...)."""
    pace: reactive[str] = reactive("")
    """The training pace, e.g. "pace 20 ep/s" or "pace max" (empty: not shown)."""
    pace_value: float = math.inf  # epochs per second at most, for the time left
    replay: reactive[str] = reactive("")
    """"replay epoch N/M" while a recorded frame is shown instead of the live run."""
    train_samples: int = 0
    show_timing: bool = True  # False: no throughput or times (repeatable snapshots)

    def render(self) -> Text:
        shown_epoch = min(self.epoch + (1 if self.batch else 0), self.epochs) if self.epochs else 0
        remaining = None
        if self.samples_per_second > 0 and self.epochs:
            left_batches = (self.epochs - self.epoch) * self.steps - self.batch
            per_batch = self.train_samples / max(self.steps, 1) / self.samples_per_second
            remaining = max(left_batches, 0) * per_batch
            if math.isfinite(self.pace_value) and self.steps:  # the pace, not the engine, sets the time left
                remaining = max(remaining, (self.epochs - self.epoch - self.batch / self.steps) / self.pace_value)
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.replay:
            text.append(f"◀ {self.replay}", style="bold reverse")
            text.append(f"  {STATE_LABELS.get(self.state, self.state)}  epoch {shown_epoch}/{self.epochs}")
            if self.pace:
                text.append(f"  {self.pace}")
            text.append("  │ , . scrub  enter resume here  space live")
            return text
        text.append(f"{STATE_LABELS.get(self.state, self.state)}", style="bold")
        text.append(f"  epoch {shown_epoch}/{self.epochs}  batch {self.batch}/{self.steps}")
        if self.pace:
            text.append(f"  {self.pace}")
        if self.show_timing:
            text.append(f"  {self.samples_per_second:,.0f} samples/s" if self.samples_per_second
                        else "  - samples/s")
            text.append(f"  elapsed {format_duration(self.elapsed)}")
            if self.state == "running":  # an estimate only while the run goes on (not after a step)
                text.append(f"  left {format_duration(remaining)}")
        text.append(f"  lr {self.learning_rate:.3g}")
        if self.message:
            text.append(f"  │ {self.message}")
        return text

    def on_mount(self) -> None:
        # Every field comes from the app: its live run and its reactives, watched here, so
        # every view's status line says the same and no screen copies numbers into it.
        app = self.app
        if not hasattr(type(app), "run_state"):  # a bare app (widget tests): fields set by hand
            return
        for name in ("run_state", "run_generation", "frame", "pausing", "status_message", "pace",
                     "replay_epoch"):
            self.watch(app, name, self.from_app, init=False)
        self.from_app()

    def from_app(self, _=None) -> None:
        """Take every field from the app: its live run, pace, replay and note."""
        from tuinet.session import pace_label

        app = self.app
        run = app.live_run
        with app.batch_update():
            self.show_timing = app.show_timing
            state = run.state
            self.state = "pausing" if app.pausing and state == "running" else state
            self.epochs, self.epoch, self.steps = run.epochs, run.epoch, run.steps_per_epoch
            self.batch = run.batch
            self.train_samples = int(run.sizes.get("train", 0))
            self.learning_rate = float(run.learning_rate)
            self.samples_per_second = run.samples_per_second
            self.elapsed = app.elapsed()
            self.pace_value = app.pace
            self.pace = pace_label(app.pace)
            self.replay = app.replay_label
            self.message = app.status_message

    def watch_state(self, old: str, new: str) -> None:
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")


def wrap_log_line(line: str, width: int) -> list[str]:
    """`line` cut into lines of at most `width` cells, at the " - " between Keras metrics
    (continuations indented by two spaces), so that no metric is cut off at the pane's edge.

    A piece longer than the width on its own is cut at a space (hard when it has none). `width` < 20 (not laid out yet):
    the line as it is.
    """
    if width < 20 or cell_len(line) <= width:
        return [line]
    out: list[str] = []
    current = ""
    for i, piece in enumerate(line.split(" - ")):
        candidate = piece if i == 0 else f"{current} - {piece}" if current else f"  {piece}"
        if current and cell_len(candidate) > width:
            out.append(current)
            candidate = f"  {piece}"
        current = candidate
        while cell_len(current) > width:  # one metric wider than the pane: cut at a space if it can
            cut = current.rfind(" ", 3, width + 1)
            cut = cut if cut > 2 else width
            out.append(current[:cut].rstrip())
            current = "  " + current[cut:].lstrip()
    if current.strip():
        out.append(current)
    return out


class EpochLog(Log):
    """The Keras-style lines of every epoch, plus notes (divergence, saves, presets)."""

    DEFAULT_CSS = """
    EpochLog {
        height: 1fr;
        min-height: 3;
        border: round $primary-muted;
        border-title-color: $foreground;
    }
    """

    MAX_LINES = 2000
    """Lines kept (the oldest go first)."""

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(max_lines=self.MAX_LINES, highlight=False, name=name, id=id, classes=classes)
        self.border_title = "log"

    _quiet_layout = False

    def write_lines(self, lines, scroll_end: bool | None = None):
        """Textual's `Log.write_lines`, without a layout of the whole screen per write.

        `Log` sets its `virtual_size`, a reactive that asks for a layout: every write would
        reflow and repaint the whole screen (about 20 ms and several KB at 120x40, twice a
        second while training, and more at once when a key press lands on one). The log's own
        size is fixed by the layout (`1fr`), so its content only matters to the layout when a
        scrollbar appears: once the vertical scrollbar shows, a write updates the scrollbar and
        repaints the log alone.
        """
        width = self.scrollable_content_region.width if self.is_mounted else 0
        lines = [piece for line in lines for part in line.splitlines() for piece in wrap_log_line(part, width)]
        # Once full, `Log` drops the oldest lines but repaints only the rows where the new lines
        # were before the drop, so the screen kept showing stale lines (the log "stopped" at
        # epoch 2035 of 2500 and never showed the Test: line): repaint the whole log then.
        pruned = self.max_lines is not None and len(self._lines) + len(lines) > self.max_lines
        self._quiet_layout = self.is_mounted and self.show_vertical_scrollbar
        try:
            super().write_lines(lines, scroll_end)
        finally:
            quiet, self._quiet_layout = self._quiet_layout, False
        if quiet:
            self._scroll_update(self.virtual_size)
        if pruned:
            self.refresh()
        return self

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):
        if layout and self._quiet_layout:
            layout = False
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def add_epoch(self, epoch: int, epochs: int, line: str) -> None:
        self.write_line(f"Epoch {epoch + 1}/{epochs}  {line}")

    def note(self, text: str) -> None:
        self.write_line(text)

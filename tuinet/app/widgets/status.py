"""`StatusBar`: one line of training status, and `EpochLog`: the Keras-style epoch lines."""

from __future__ import annotations

import math

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
            text.append(f"  elapsed {format_duration(self.elapsed)}  left {format_duration(remaining)}")
        text.append(f"  lr {self.learning_rate:.3g}")
        if self.message:
            text.append(f"  │ {self.message}")
        return text

    def show_session(self, session, *, elapsed: float, show_timing: bool = True) -> None:
        """Take every field from a session's current state (after mount, reset or a view switch)."""
        with self.app.batch_update():
            self.show_timing = show_timing
            self.state = session.state
            self.epochs, self.epoch, self.steps = session.epochs, session.epoch, session.steps_per_epoch
            self.batch = session.batch
            self.train_samples = len(session.prepared.x_train)
            self.learning_rate = float(session.model.optimizer.learning_rate)
            self.elapsed = elapsed
            self.samples_per_second = getattr(self.app, "samples_per_second", self.samples_per_second)
            self._from_app()

    def on_mount(self) -> None:
        # One note for every view: the app keeps it and sets it on every registered status line.
        bars = getattr(self.app, "status_bars", None)
        if bars is not None:
            bars.add(self)
            self.message = self.app.status_message
            self._from_app()

    def _from_app(self) -> None:
        """The app-wide fields: pace and replay."""
        from tuinet.session import pace_label

        pace = getattr(self.app, "pace", None)
        self.pace_value = pace if pace is not None else math.inf
        self.pace = pace_label(pace) if pace is not None else ""
        self.replay = getattr(self.app, "replay_label", "")

    def on_unmount(self) -> None:
        bars = getattr(self.app, "status_bars", None)
        if bars is not None:
            bars.discard(self)

    def watch_state(self, old: str, new: str) -> None:
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")


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

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(max_lines=2000, highlight=False, name=name, id=id, classes=classes)
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
        self._quiet_layout = self.is_mounted and self.show_vertical_scrollbar
        try:
            super().write_lines(lines, scroll_end)
        finally:
            quiet, self._quiet_layout = self._quiet_layout, False
        if quiet:
            self._scroll_update(self.virtual_size)
        return self

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):
        if layout and self._quiet_layout:
            layout = False
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def add_epoch(self, epoch: int, epochs: int, line: str) -> None:
        self.write_line(f"Epoch {epoch + 1}/{epochs}  {line}")

    def note(self, text: str) -> None:
        self.write_line(text)

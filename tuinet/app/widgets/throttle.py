"""`ThrottledRedraw`: data-driven redraws at most once per `min_interval` seconds.

Shared by the widgets that redraw when training data arrives: the plots, the weight heatmap,
the decision boundary and neuron maps, the confusion matrix. A widget calls `_changed()` when
its data really changed and implements `_draw_now()`. A change draws at once, unless the
widget drew less than `min_interval` seconds ago: then one draw of the newest data happens at
the end of that interval, in a one-shot timer armed only by a change (nothing polls). Changes
while the timer waits only mark the widget dirty, so a burst of changes costs one draw.
"""

from __future__ import annotations

import math
import time
from typing import ClassVar

from textual.timer import Timer

__all__ = ["DEFAULT_MIN_INTERVAL", "ThrottledRedraw"]

DEFAULT_MIN_INTERVAL = 1.0  # seconds between two data-driven redraws of one widget


class ThrottledRedraw:
    """Mixin for a `Widget`: `_changed()` draws now or once at the end of `min_interval`.

    Subclasses set `self.min_interval` in `__init__` and implement `_draw_now()`; a widget
    that draws in `render()` sets `_dirty = False` and `_last_draw` there too. With
    `WAIT_WHEN_HIDDEN`, a widget that is not on screen (another tab) does not draw; it calls
    `_changed()` again when shown (`on_show`). `_next_draw(now)` may move a draw later (the
    plots take turns app-wide).
    """

    WAIT_WHEN_HIDDEN: ClassVar[bool] = False
    """A hidden widget waits to be shown before it draws (when `min_interval` > 0)."""

    TIMER_NAME: ClassVar[str] = "redraw"

    min_interval: float = DEFAULT_MIN_INTERVAL
    """Seconds between two data-driven redraws (0: redraw on every change)."""
    byte_budget: float | None = None
    """Bytes a second the widget may write (None: no limit): over a slow link a widget whose
    redraws are big (a large heatmap) then waits `_draw_bytes / byte_budget` s between them."""
    _draw_bytes: int = 0  # the widget's estimate of what its last draw wrote
    _dirty: bool = False
    _last_draw: float = -math.inf
    _pending: Timer | None = None

    def _changed(self) -> None:
        """The data changed: draw now, or once at the end of the current `min_interval`."""
        self._dirty = True
        if not self.is_mounted or self._pending is not None:  # type: ignore[attr-defined]
            return
        if not self._may_draw():
            return  # hidden: drawn when shown
        now = time.monotonic()
        wait = self._next_draw(now) - now
        if wait <= 0:
            self._last_draw = now  # a draw is due: later changes wait for the next slot
            self._draw_now()
        else:
            self._pending = self.set_timer(wait, self._flush, name=self.TIMER_NAME)  # type: ignore[attr-defined]

    def _next_draw(self, now: float) -> float:
        """When the next data-driven draw may happen (time.monotonic)."""
        wait = self.min_interval
        if self.byte_budget:
            wait = max(wait, self._draw_bytes / self.byte_budget)
        return self._last_draw + wait

    def _may_draw(self) -> bool:
        return not self.WAIT_WHEN_HIDDEN or self.min_interval <= 0 or self.is_on_screen  # type: ignore[attr-defined]

    def _flush(self) -> None:
        self._pending = None
        if self._dirty and self._may_draw():
            self._last_draw = time.monotonic()
            self._draw_now()

    def _draw_now(self) -> None:
        """Draw the newest data now (and clear `_dirty`)."""
        raise NotImplementedError

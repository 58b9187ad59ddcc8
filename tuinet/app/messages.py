"""Textual messages: requests from the panes, and the wake-ups of the app.

Session events do not travel as messages: the app folds them into its `RunHistory`
(`app.live_run`) and the views watch the app's reactives (`run_state`, `run_generation`,
`frame`, ...), so that one state feeds every view and one frame clock paces them.
"""

from __future__ import annotations

from textual.message import Message


# -- requests from panes to the screen ------------------------------------------------------
class ApplyArchitecture(Message):
    """The user asks to rebuild the model with these layer specs (dicts with a "type" key)."""

    def __init__(self, layers: tuple[dict, ...]) -> None:
        super().__init__()
        self.layers = layers


class ApplyHyperparameters(Message):
    """The user changed training settings; `train` is a `tuinet.presets.TrainSpec`.

    `live` is True when only the learning rate changed, which applies at the next batch
    without a rebuild.
    """

    def __init__(self, train, *, live: bool = False, l2: float | None = None) -> None:
        super().__init__()
        self.train = train
        self.live = live
        self.l2 = l2  # None: leave the layers' regularizers alone; a number: L2 on every kernel (0 removes it)


class EventsPending(Message):
    """The training thread queued session events; the app drains them (one wake-up at a time)."""


class FutureDone(Message):
    """A save or load finished (in the training thread or at once); `callback(future)` runs in the UI."""

    def __init__(self, future, callback) -> None:
        super().__init__()
        self.future = future
        self.callback = callback

"""Textual messages: session events arriving from the training thread, and UI requests.

Session events are wrapped as they come out of `TrainingSession` (the sink calls
`post_message`, which is thread-safe and returns at once). High-rate ones (`BatchProgress`,
`SnapshotReady`) declare `can_replace`, so when the UI falls behind only the newest waits in
the queue.
"""

from __future__ import annotations

from textual.message import Message


class SessionMessage(Message, bubble=False):
    """Base: carries one frozen event from `tuinet.session`. The app posts each event to itself
    and to every listening screen, so a screen's copy does not bubble up to the app again."""

    def __init__(self, event, session=None) -> None:
        super().__init__()
        self.event = event
        self.session = session  # which session sent it: events of a replaced session are ignored


class BatchProgress(SessionMessage):
    """A `BatchEnded` event (throttled by the session)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BatchProgress)


class SnapshotReady(SessionMessage):
    """A `WeightSnapshot` event."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady)


class EpochFinished(SessionMessage):
    """One or more `EpochEnded` events in a row: `events` in order, `event` the last.

    Small problems end hundreds of epochs a second; one message per drain of the queue rather
    than one per epoch keeps the screens' message queues short, so a key press is not kept
    waiting behind them.
    """

    def __init__(self, event, session=None, events: tuple = ()) -> None:
        super().__init__(event, session)
        self.events = tuple(events) or (event,)


class SessionStateChanged(SessionMessage):
    """A `StateChanged` event."""


class SessionReadyMsg(SessionMessage):
    """A `SessionReady` event (after start, reset or apply)."""


class TrainingDiverged(SessionMessage):
    """A `Diverged` event."""


class TrainingFinished(SessionMessage):
    """A `Finished` event."""


class TrainingFailed(SessionMessage):
    """A `Failed` event."""


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


def wrap(event, session=None) -> SessionMessage:
    """The message class for a session event."""
    from tuinet import session as s

    kinds = {s.BatchEnded: BatchProgress, s.WeightSnapshot: SnapshotReady, s.EpochEnded: EpochFinished,
             s.StateChanged: SessionStateChanged, s.SessionReady: SessionReadyMsg, s.Diverged: TrainingDiverged,
             s.Finished: TrainingFinished, s.Failed: TrainingFailed}
    return kinds[type(event)](event, session)

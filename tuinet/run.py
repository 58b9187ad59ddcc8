"""`RunHistory`: one training run as the fold of its session events.

A run is what the screens show: the per-epoch history, the recent per-batch losses, the
counters, the state, the newest weights, the test results, the confusion matrix, the gradient
norms, and a `Timeline` of frames of the model that the user can scrub back through. Every
piece arrives in an event (`tuinet.session`); `RunHistory.apply(event)` folds one in, and
nothing else writes to it. The app keeps one for the live run and one per ghost run (an
earlier run whose curves stay on the plots); `tuinet train` needs none.

The timeline is bounded: at most `max_frames` frames, thinned evenly as the run grows. It
keeps every k-th epoch and doubles k when full, and always keeps the first frame (epoch 0,
the initial weights) and the newest. The session and the timeline follow the same rule
(`frame_stride`), so the session only sends the frames the timeline will keep.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

MAX_FRAMES = 256
"""Frames a timeline keeps at most (fewer when a model is large: see `frame_plan`)."""
FRAME_BYTES = 48 * 2**20
"""What the frames of one run may take in memory, all together."""
BATCH_HISTORY = 4096
"""Per-batch losses kept for the smoothed plot (a ring buffer)."""
LOG_LINES = 2000
"""Keras-style epoch lines kept for the log."""
HISTORY_POINTS = 4096
"""Per-epoch entries an `EpochHistory` keeps at most: every epoch up to this many, then thinned."""


def frame_stride(epochs_done: int, max_frames: int = MAX_FRAMES) -> int:
    """The k of "keep every k-th epoch" once `epochs_done` epochs are recorded.

    The smallest power of two with `epochs_done // k + 1` kept frames (epoch 0 included),
    plus the newest when it is not one of them, within `max_frames`: what a timeline that
    doubles k whenever it is full has reached.
    """
    k = 1
    while epochs_done // k + 1 + (epochs_done % k != 0) > max(max_frames, 2):
        k *= 2
    return k


def frame_plan(weight_bytes: int, grad_bytes: int, optimizer_bytes: int,
               budget: int = FRAME_BYTES) -> tuple[int, bool, bool]:
    """(max_frames, with_grads, with_optimizer) for frames of a model of these sizes.

    Gradients and optimizer state (for an exact branch) are recorded while 256 frames of
    everything fit the budget; a model whose weights alone do not fit gets fewer frames
    (never fewer than 2: the first and the newest).
    """
    for with_grads, with_opt in ((True, True), (True, False), (False, False)):
        size = weight_bytes + (grad_bytes if with_grads else 0) + (optimizer_bytes if with_opt else 0)
        if size * MAX_FRAMES <= budget:
            return MAX_FRAMES, with_grads, with_opt
    return max(2, min(MAX_FRAMES, budget // max(weight_bytes, 1))), False, False


def layer_grad_norms(grads) -> dict[str, float]:
    """The L2 norm of all of each layer's gradients together, keyed by layer name.

    `grads` is keyed "layer/param" (a `WeightSnapshot`'s grads); the layer is everything
    before the last "/". `sqrt(sum of squares)` over every parameter of the layer; a NaN or
    inf gradient gives NaN or inf (that is the news). Layers come in first-seen order.
    """
    squares: dict[str, float] = {}
    for key, grad in grads.items():
        layer = key.rsplit("/", 1)[0]
        g = np.asarray(grad, dtype=np.float64)
        squares[layer] = squares.get(layer, 0.0) + float(np.sum(g * g))
    return {layer: math.sqrt(total) for layer, total in squares.items()}


def _nbytes(arrays) -> int:
    return sum(a.nbytes for a in (arrays or {}).values())


class Timeline:
    """Frames (`WeightSnapshot`s taken at epoch ends) of one run, within `max_frames`.

    `frames` lists the kept frames, oldest first, the newest always last.
    """

    def __init__(self, max_frames: int = MAX_FRAMES) -> None:
        self.max_frames = max(2, int(max_frames))
        self.stride = 1
        self._kept: dict[int, object] = {}  # epoch -> frame, epochs multiple of `stride`
        self._newest = None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def frames(self) -> list:
        frames = [self._kept[e] for e in sorted(self._kept)]
        if self._newest is not None and self._newest.epoch not in self._kept:
            frames.append(self._newest)
        return frames

    @property
    def epochs(self) -> list[int]:
        """The epoch (epochs completed) of each frame, oldest first."""
        return [f.epoch for f in self.frames]

    @property
    def newest(self):
        return self._newest

    def add(self, frame) -> None:
        """Record a frame; thin the kept ones evenly when there are too many."""
        if self._newest is not None and frame.epoch < self._newest.epoch:
            self.truncate(frame.epoch)
        self._newest = frame
        if frame.epoch % self.stride == 0:
            self._kept[frame.epoch] = frame
        while len(self._kept) + (self._newest.epoch % self.stride != 0) > self.max_frames:
            self.stride *= 2
            self._kept = {e: f for e, f in self._kept.items() if e % self.stride == 0}

    def truncate(self, epoch: int) -> None:
        """Forget the frames after `epoch` (a branch from there)."""
        self._kept = {e: f for e, f in self._kept.items() if e <= epoch}
        if self._newest is not None and self._newest.epoch > epoch:
            self._newest = self._kept[max(self._kept)] if self._kept else None
        self.stride = max(1, min(self.stride, frame_stride(epoch, self.max_frames)))

    def nearest(self, epoch: int):
        """The kept frame closest to `epoch` (the earlier one on a tie), or None."""
        frames = self.frames
        if not frames:
            return None
        return min(frames, key=lambda f: (abs(f.epoch - epoch), f.epoch))

    def index_of(self, epoch: int) -> int:
        """The index in `frames` of the frame nearest `epoch` (-1 when there is none)."""
        frame = self.nearest(epoch)
        return -1 if frame is None else self.epochs.index(frame.epoch)

    @property
    def nbytes(self) -> int:
        """Memory the frames' arrays take."""
        total = 0
        for f in self.frames:
            total += _nbytes(f.weights) + _nbytes(f.grads) + _nbytes(f.updates) + _nbytes(f.optimizer)
        return total

    def clear(self) -> None:
        self.stride, self._kept, self._newest = 1, {}, None


class EpochHistory(Mapping):
    """The per-epoch logs of a run (`{"loss": [...], "val_loss": [...]}`), bounded in memory.

    Every epoch is kept until `max_points` are; beyond that the history is thinned as the
    `Timeline` is: it keeps every k-th epoch (k doubles each time it is full), the first and
    always the newest. So a run left training for an hour holds at most `max_points` values per
    key, evenly spread, instead of hundreds of thousands. `epochs` gives the 1-based epoch of
    each kept entry (the x of a plot); `count` the epochs recorded. The value lists of all keys
    stay aligned with `epochs` (NaN where an epoch had no value for a key).

    Thinning and truncating make new lists and bump `version`, so a reader that copied the
    entries knows when to read them again. Replacing the newest entry (an off-stride epoch that
    is no longer the newest) changes the last item in place (`ListMirror` re-reads it).
    """

    def __init__(self, history: Mapping | None = None, epochs=None,
                 max_points: int = HISTORY_POINTS) -> None:
        self.max_points = max(4, int(max_points))
        self.epochs: list[int] = []
        self.count = 0
        self.stride = 1
        self.version = 0
        self._values: dict[str, list[float]] = {}
        if history:
            if epochs is None:
                epochs = getattr(history, "epochs", None)
            series = {str(k): list(v) for k, v in history.items()}
            n = max((len(v) for v in series.values()), default=0)
            xs = list(epochs) if epochs is not None else list(range(1, n + 1))
            for i, e in enumerate(xs[:n]):
                self._append(int(e), {k: v[i] for k, v in series.items() if i < len(v)})
            for k in series:
                self._values.setdefault(k, [math.nan] * len(self.epochs))
            self.stride = max(self.stride, int(getattr(history, "stride", 1)))

    # -- Mapping ---------------------------------------------------------------------------
    def __getitem__(self, key: str) -> list[float]:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"EpochHistory({self.count} epochs, {len(self.epochs)} kept, every {self.stride})"

    # -- writing ---------------------------------------------------------------------------
    def append(self, logs: Mapping[str, float]) -> None:
        """Record the logs of the next epoch (epoch `count + 1`)."""
        self._append(self.count + 1, logs)

    def _append(self, epoch: int, logs: Mapping[str, float]) -> None:
        xs = self.epochs
        replace = len(xs) > 1 and xs[-1] % self.stride != 0  # the newest was kept only for being the newest
        for key in logs:
            if key not in self._values:
                self._values[key] = [math.nan] * len(xs)
        for key, values in self._values.items():
            value = logs.get(key, math.nan)
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = math.nan
            if replace:
                values[-1] = value
            else:
                values.append(value)
        if replace:
            xs[-1] = epoch
        else:
            xs.append(epoch)
        self.count = epoch
        if len(xs) > self.max_points:
            self.stride *= 2
            self._keep([i for i, e in enumerate(xs) if i == 0 or e % self.stride == 0 or i == len(xs) - 1])

    def _keep(self, indices: list[int]) -> None:
        self.epochs = [self.epochs[i] for i in indices]
        self._values = {k: [v[i] for i in indices] for k, v in self._values.items()}
        self.version += 1

    def truncate(self, epochs: int) -> None:
        """Forget the epochs after `epochs` (a branch continues from there)."""
        self._keep([i for i, e in enumerate(self.epochs) if e <= epochs])
        self.count = min(self.count, max(0, int(epochs)))

    def copy(self) -> "EpochHistory":
        out = EpochHistory(max_points=self.max_points)
        out.epochs, out.count, out.stride = list(self.epochs), self.count, self.stride
        out._values = {k: list(v) for k, v in self._values.items()}
        return out

    def last(self, key: str) -> float | None:
        values = self._values.get(key)
        return values[-1] if values else None

    # -- saving with a model ---------------------------------------------------------------
    def to_record(self) -> dict:
        """The history as JSON-friendly lists, for a model file (`from_record` reads it back):
        `{"count": n, "stride": k, "epochs": [...], "values": {key: [...]}}`, NaN and the
        infinities as null (JSON has no such numbers)."""
        return {"count": self.count, "stride": self.stride, "epochs": list(self.epochs),
                "values": {k: [v if math.isfinite(v) else None for v in values]
                           for k, values in self._values.items()}}

    @classmethod
    def from_record(cls, record: Mapping, max_points: int = HISTORY_POINTS) -> "EpochHistory":
        """The history `to_record` wrote, exactly (null comes back as NaN)."""
        out = cls(max_points=max_points)
        out.epochs = [int(e) for e in record["epochs"]]
        out.count, out.stride = int(record["count"]), max(1, int(record["stride"]))
        out._values = {str(k): [math.nan if v is None else float(v) for v in values]
                       for k, values in record["values"].items()}
        while len(out.epochs) > out.max_points:  # a file written with a larger budget
            out.stride *= 2
            xs = out.epochs
            out._keep([i for i, e in enumerate(xs) if i == 0 or e % out.stride == 0 or i == len(xs) - 1])
        return out


@dataclass
class RunHistory:
    """The state of one run, folded from its events. Only `apply` changes it."""

    name: str = ""
    experiment: object = None
    epochs: int = 0
    steps_per_epoch: int = 0
    sizes: dict = field(default_factory=dict)
    summary: str = ""
    params: int = 0
    state: str = "ready"
    epoch: int = 0                 # epochs completed
    batch: int = 0                 # batches done in the current epoch
    batches_done: int = 0          # batches trained in this run (the index of the batch losses)
    history: EpochHistory = field(default_factory=EpochHistory)
    batch_losses: collections.deque = field(default_factory=lambda: collections.deque(maxlen=BATCH_HISTORY))
    last_snapshot: object = None
    test_results: dict = field(default_factory=dict)
    confusion: tuple | None = None          # (matrix, 1-based epoch)
    grad_norms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=2000))
    samples_per_second: float = 0.0
    learning_rate: float = 0.0
    message: str = ""              # the last divergence or failure
    start_epoch: int = 0           # a branch continues from here
    resumed: bool = False          # the first start_epoch epochs were trained before a model file was saved
    timeline: Timeline = field(default_factory=Timeline)
    label: str = ""                # what a ghost of this run is called on the plots
    lines: collections.deque = field(default_factory=lambda: collections.deque(maxlen=LOG_LINES))
    # (0-based epoch, epochs, Keras-style line, logs) of the newest epochs, for the log

    # -- folding --------------------------------------------------------------------------
    def apply(self, event) -> None:
        """Fold one session event into the run."""
        from tuinet import session as s

        handler = {
            s.SessionReady: self._ready, s.BatchEnded: self._batch, s.EpochEnded: self._epoch,
            s.WeightSnapshot: self._snapshot, s.StateChanged: self._state, s.Diverged: self._diverged,
            s.Finished: self._finished, s.Failed: self._failed, s.LearningRateSet: self._learning_rate,
        }.get(type(event))
        if handler is not None:
            handler(event)

    def _ready(self, e) -> None:
        self.name, self.experiment, self.epochs = e.name, e.experiment, e.epochs
        self.steps_per_epoch, self.sizes, self.summary, self.params = e.steps_per_epoch, dict(e.sizes), e.summary, e.params
        self.history = EpochHistory(e.history or {})
        self.lines.clear()
        self.start_epoch = self.epoch = e.start_epoch
        self.batch = 0
        self.batches_done = 0
        self.batch_losses.clear()
        self.test_results, self.confusion = {}, None
        self.grad_norms.clear()
        self.samples_per_second = 0.0
        self.learning_rate = e.learning_rate
        self.message = ""
        self.resumed = bool(getattr(e, "resumed", False))
        if e.start_epoch and not self.resumed:
            self.timeline.truncate(e.start_epoch)
        else:
            self.timeline = Timeline(e.max_frames)
        self.timeline.max_frames = max(2, e.max_frames)

    def _batch(self, e) -> None:
        self.epoch, self.batch = e.epoch, e.batch
        self.samples_per_second = e.samples_per_second
        self.learning_rate = e.learning_rate
        self._losses(e.losses)

    def _losses(self, losses) -> None:
        if losses:
            self.batch_losses.extend(losses)
            self.batches_done += len(losses)

    def _epoch(self, e) -> None:
        self._losses(e.losses)
        self.history.append(e.logs)
        self.epoch, self.batch = e.epoch + 1, 0
        self.lines.append((e.epoch, e.epochs, e.line, e.logs))
        if e.confusion is not None:
            self.confusion = (e.confusion, e.epoch + 1)

    def _snapshot(self, e) -> None:
        self.last_snapshot = e
        if e.frame:
            self.timeline.add(e)
        if e.grads and (e.epoch or e.batch):
            step = e.epoch + e.batch / max(self.steps_per_epoch, 1)
            if not self.grad_norms or step > self.grad_norms[-1][0]:
                self.grad_norms.append((step, layer_grad_norms(e.grads)))

    def _state(self, e) -> None:
        self.state = e.state
        self._losses(e.losses)
        self.epoch, self.batch = e.epoch, e.batch
        if e.message:
            self.message = e.message

    def _diverged(self, e) -> None:
        self.message = e.message

    def _finished(self, e) -> None:
        self.test_results = dict(e.test)

    def _failed(self, e) -> None:
        self.message = e.message

    def _learning_rate(self, e) -> None:
        self.learning_rate = e.learning_rate

    # -- reading ----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.epochs > 0 and self.epoch >= self.epochs

    @property
    def epochs_done(self) -> int:
        return self.history.count

    def batch_loss_history(self) -> list[float]:
        return list(self.batch_losses)

    def frame(self, index: int):
        """The timeline's frame at `index` (negative from the end)."""
        return self.timeline.frames[index]

    def final_value(self, key: str) -> float | None:
        values = self.history.get(key)
        return float(values[-1]) if values else None

    def ghost_history(self) -> EpochHistory:
        """A copy of the per-epoch history, for drawing this run as a ghost."""
        return self.history.copy()


def describe_change(old, new) -> str:
    """A short label of what `old` (an Experiment) had that `new` has not: "lr 0.03", "+Dense 8"...

    Used to name a ghost run on the plots by what made it differ from the run after it.
    """
    if old is None or new is None:
        return "earlier run"
    parts = []
    ot, nt = old.train, new.train
    if ot.learning_rate != nt.learning_rate:
        parts.append(f"lr {ot.learning_rate:g}")
    if ot.optimizer != nt.optimizer:
        parts.append(str(ot.optimizer))
    if ot.batch_size != nt.batch_size:
        parts.append(f"batch {ot.batch_size}")
    if ot.loss != nt.loss:
        parts.append(str(ot.loss))
    if old.model.layers != new.model.layers:
        parts.append(_layers_change(old.model.layers, new.model.layers))
    if old.data != new.data:
        od, nd = old.data, new.data
        if od.source != nd.source:
            parts.append(str(od.source))
        if od.noise != nd.noise:
            parts.append(f"noise {od.noise:g}")
        if od.samples != nd.samples:
            parts.append(f"{od.samples} samples")
        if od.seed != nd.seed:
            parts.append(f"data seed {od.seed}")
        if od.split != nd.split:
            parts.append("split " + "/".join(f"{r:g}" for r in od.split))
    if old.model.seed != new.model.seed:
        parts.append(f"seed {old.model.seed}")
    return ", ".join(p for p in parts if p) or ""


def _layer_brief(spec: dict) -> str:
    from tuinet.layerspec import brief

    return brief(spec)


def _layers_change(old: tuple, new: tuple) -> str:
    """What the old layer list had, relative to the new: "+Dense 8" (a layer the new lacks),
    "-Dropout 0.2" (one the new added), "Dense 16" (a changed layer)."""
    old_b, new_b = [_layer_brief(s) for s in old], [_layer_brief(s) for s in new]
    if len(old) > len(new):
        extra = list(old_b)
        for b in new_b:
            if b in extra:
                extra.remove(b)
        return "+" + ", +".join(extra) if extra else "layers"
    if len(old) < len(new):
        extra = list(new_b)
        for b in old_b:
            if b in extra:
                extra.remove(b)
        return "-" + ", -".join(extra) if extra else "layers"
    changed = [ob for ob, nb, os_, ns in zip(old_b, new_b, old, new) if os_ != ns]
    if changed and all(ob == nb for ob, nb, os_, ns in zip(old_b, new_b, old, new) if os_ != ns):
        # same type and size: the activation (or another argument) changed
        acts = [str(os_.get("activation", "")) for os_, ns in zip(old, new) if os_ != ns]
        return ", ".join(a for a in acts if a) or "layers"
    return ", ".join(changed) or "layers"


__all__ = ["FRAME_BYTES", "MAX_FRAMES", "RunHistory", "Timeline", "describe_change", "frame_plan",
           "frame_stride", "layer_grad_norms"]

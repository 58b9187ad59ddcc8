"""Data that comes in batches: Keras's `PyDataset` (and `Sequence`) and Python generators.

    class Pixels(tuinet.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size
        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)
        def __getitem__(self, i):
            lo = i * self.batch_size
            return self.x[lo:lo + self.batch_size] / 255.0, self.y[lo:lo + self.batch_size]

    model.fit(Pixels(x, y, 32), epochs=5)

`fit`, `evaluate` and `predict` take such a source as `x` (with no `y`): a `PyDataset` gives
`len(ds)` batches per epoch (`ds[i]`, then `ds.on_epoch_end()`), a generator gives batches until
it stops or `steps_per_epoch` batches. A batch is `x`, `(x, y)` or `(x, y, sample_weight)`.
Each batch is checked as `fit` checks arrays; the model is built from the first one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn.model import TrainLoop


class PyDataset:
    """Keras's base class for a dataset served batch by batch: implement `__len__` (batches per
    epoch) and `__getitem__(index)` (one batch, `(x, y)` or `(x, y, sample_weight)`), and
    optionally `on_epoch_end()`. The worker arguments are accepted and ignored (tuinet reads
    batches in the training thread)."""

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self) -> int:  # pragma: no cover - subclasses implement it
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):  # pragma: no cover - subclasses implement it
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def on_epoch_end(self) -> None:
        """Called after each epoch (shuffle your indices here)."""

    @property
    def num_batches(self) -> int:
        return len(self)


Sequence = PyDataset  # Keras 2's name


def is_batch_source(x) -> bool:
    """Whether `x` serves batches (a PyDataset/Sequence-like object or an iterator), rather than
    being the data itself (an array, a list of arrays or a dict of them)."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)) or hasattr(x, "__array__"):
        return False
    if isinstance(x, PyDataset) or isinstance(x, Iterator):
        return True
    return hasattr(x, "__getitem__") and hasattr(x, "__len__")


def _unpack(batch, where: str):
    if isinstance(batch, tuple) and 1 <= len(batch) <= 3:
        x = batch[0]
        y = batch[1] if len(batch) > 1 else None
        sw = batch[2] if len(batch) > 2 else None
        return x, y, sw
    if isinstance(batch, (list, tuple)):
        raise ConfigError(f"{where}: a batch must be x, (x, y) or (x, y, sample_weight), got a "
                          f"{type(batch).__name__} of {len(batch)} items")
    return batch, None, None


class Batches:
    """Batches of one epoch at a time from a source (see the module docstring)."""

    def __init__(self, source, steps: int | None, where: str) -> None:
        self.source = source
        self.where = where
        self.indexable = not isinstance(source, Iterator)
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0):
            raise ConfigError(f"{where}: steps_per_epoch must be a positive integer, got {steps!r}")
        if self.indexable:
            try:
                n = len(source)
            except TypeError as exc:
                raise ConfigError(f"{where}: the dataset's __len__ failed ({exc})") from None
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
                raise ConfigError(f"{where}: the dataset must have at least one batch (len() gave {n!r})")
            self.steps = min(int(n), int(steps)) if steps is not None else int(n)
        else:
            self.steps = int(steps) if steps is not None else None
        self.exhausted = False

    def epoch(self):
        """Yield `(x, y, sample_weight)` for each batch of one epoch."""
        if self.indexable:
            for i in range(self.steps):
                yield _unpack(self.source[i], self.where)
            end = getattr(self.source, "on_epoch_end", None)
            if callable(end):
                end()
            return
        count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(self.source)
            except StopIteration:
                self.exhausted = True
                return
            count += 1
            yield _unpack(batch, self.where)

    def first(self):
        """The first batch, for building the model; an indexable source is not advanced."""
        if self.indexable:
            return _unpack(self.source[0], self.where)
        try:
            batch = next(self.source)
        except StopIteration:
            raise ConfigError(f"{self.where}: the generator gave no batch") from None
        self._pending = _unpack(batch, self.where)
        return self._pending


class BatchLoop(TrainLoop):
    """`TrainLoop` over a batch source: its batches and validation instead of arrays' (the
    step, the running means and the epoch's end are TrainLoop's)."""

    def __init__(self, model, source, *, steps_per_epoch=None, validation_data=None, where: str = "fit",
                 class_weight=None) -> None:
        from tuinet.nn.model import _sample_weights

        self.model = model
        self.batches = Batches(source, steps_per_epoch, where)
        self.where = where
        self.class_weight = class_weight
        self._weights = _sample_weights
        x, y, sw = self.batches.first()
        if y is None:
            raise ConfigError(f"{where}: the batches must carry targets: (x, y) or (x, y, sample_weight)")
        model._checked(x, y, where)  # builds the model and resolves the metrics from the first batch
        if validation_data is not None and not is_batch_source(validation_data):
            validation_data = (*model._validation_arrays(validation_data, where,
                                                         "a dataset, a generator, (x_val, y_val)"), 32)
        self.val = validation_data
        self.steps = self.batches.steps if self.batches.steps is not None else 0
        self.epoch = 0
        self.step = 0
        self.x = None
        self._iter = None
        self._next = None
        self._started = False
        self._pending = getattr(self.batches, "_pending", None)

    def start_epoch(self) -> None:
        self._reset_means()
        self._iter = self.batches.epoch()
        if self._pending is not None:
            first, self._pending = self._pending, None
            rest = self._iter

            def chained():
                yield first
                yield from rest
            self._iter = chained()
        self._next = None
        self.step = 0
        self._started = True

    @property
    def epoch_finished(self) -> bool:
        if not self._started:
            return False
        if self._next is None:
            self._next = next(self._iter, None)
        if self._next is None and self.batches.steps is None and self.step:
            self.steps = max(self.steps, self.step)  # a finite generator: its length is now known
        return self._next is None

    def train_batch(self) -> tuple[float, bool]:
        if not self._started:
            self.start_epoch()
        if self.epoch_finished:
            raise ConfigError(f"{self.where}: the data ran out of batches")
        x, y, sw = self._next
        self._next = None
        model = self.model
        x, y = model._checked(x, y, self.where)
        from tuinet.nn.model import n_rows

        sw = self._weights(y if not isinstance(y, list) else y[0], sw, self.class_weight, self.where)
        return self._step(x, y, sw, n_rows(x))

    def finish_epoch(self, validate: bool = True, callbacks=None) -> dict:
        val_logs = None
        if self.val is not None and validate:
            if is_batch_source(self.val):
                val_logs = evaluate_source(self.model, self.val, callbacks=callbacks,
                                           where=f"{self.where} validation data")
            else:
                xv, yv, swv, batch_size = self.val
                val_logs = self.model._evaluate_arrays(xv, yv, batch_size, swv, callbacks)
        return self._end_epoch(self.logs(), val_logs)


def evaluate_source(model, source, *, steps=None, callbacks=None, where: str = "evaluate") -> dict:
    """Loss and metrics over the batches of `source` (a PyDataset or generator)."""
    from tuinet.nn.model import _sample_weights, n_rows

    batches = Batches(source, steps, where)
    tracker, metrics = None, None
    if callbacks is not None:
        callbacks.call("on_test_begin", {})
    for step, (x, y, sw) in enumerate(batches.epoch()):
        if y is None:
            raise ConfigError(f"{where}: the batches must carry targets: (x, y) or (x, y, sample_weight)")
        x, y = model._checked(x, y, where)
        if tracker is None:
            tracker, metrics = model._eval_loss_tracker, model._eval_metrics
            tracker.reset_state()
            for m in metrics:
                m.reset_state()
        if callbacks is not None:
            callbacks.call("on_test_batch_begin", step, {})
        sw = _sample_weights(y if not isinstance(y, list) else y[0], sw, None, where)
        out = model._forward(x, False)
        loss, _ = model._loss_and_grad(y, out, False, sw)
        tracker.update_state(loss, n_rows(x))
        model._update_metrics(metrics, y, out, sw)
        if callbacks is not None and callbacks.wants("on_test_batch_end"):
            callbacks.call("on_test_batch_end", step, model._logs(tracker, metrics))
    if tracker is None:
        raise ConfigError(f"{where}: the data gave no batch")
    logs = model._logs(tracker, metrics)
    if callbacks is not None:
        callbacks.call("on_test_end", logs)
    return logs


def predict_source(model, source, *, steps=None, where: str = "predict"):
    """Outputs for every batch of `source`, concatenated (a list or dict for several outputs)."""
    batches = Batches(source, steps, where)
    outs = []
    for x, _, _ in batches.epoch():
        x = model._check_x(x, where)
        if not model.built:
            model._input_shape = model._input_shape or tuple(x.shape[1:])
            model.build()
        out = model._forward(x, False)
        outs.append([o.copy() for o in out] if isinstance(out, list) else out.copy())
    if not outs:
        raise ShapeError(f"{where}: the data gave no batch")
    if isinstance(outs[0], list):
        return model._structured([np.concatenate(parts, axis=0) for parts in zip(*outs)])
    return np.concatenate(outs, axis=0)


__all__ = ["PyDataset", "Sequence", "is_batch_source", "BatchLoop", "evaluate_source", "predict_source"]

"""Keras-style training callbacks and the progress display of `fit`.

A callback overrides any of the `on_*` hooks; the model calls them with Keras's arguments
(`epoch`/`batch` index and a `logs` dict of floats). `self.model` is set before training.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time

import numpy as np

from tuinet.errors import ConfigError
from tuinet.nn import backend

_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
          "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
          "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
          "on_predict_batch_begin", "on_predict_batch_end")


class Callback:
    """Base class: every hook does nothing."""

    def __init__(self) -> None:
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)  # Keras: on_batch_begin/end are the training batch's hooks

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...

    def overrides(self, hook: str) -> bool:
        """Whether this callback does something in `hook` (lets the model skip per-batch calls)."""
        alias = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}.get(hook)
        return (getattr(type(self), hook) is not getattr(Callback, hook) or hook in getattr(self, "_lambda_hooks", ())
                or alias is not None and getattr(type(self), alias) is not getattr(Callback, alias))


class CallbackList:
    """Calls a hook on every callback; per-batch hooks only on those that define them."""

    def __init__(self, callbacks, model, params: dict) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(f"callbacks must be tuinet Callback instances, got {cb!r}")
            cb.set_model(model)
            cb.set_params(params)
        self._users = {h: [cb for cb in self.callbacks if cb.overrides(h)] for h in _HOOKS}

    def wants(self, hook: str) -> bool:
        return bool(self._users[hook])

    def call(self, hook: str, *args) -> None:
        for cb in self._users[hook]:
            getattr(cb, hook)(*args)


class History(Callback):
    """Records the epoch logs: `history.history["loss"]` is the list of per-epoch losses."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


def format_logs(logs: dict) -> str:
    """Keras's ` - name: value` pairs (4 decimals, scientific below 1e-3)."""
    parts = []
    for k, v in logs.items():
        if isinstance(v, (int, float, np.floating)):
            v = float(v)
            parts.append(f"{k}: {v:.4f}" if abs(v) > 1e-3 or v == 0 else f"{k}: {v:.4e}")
    return " - ".join(parts)


def format_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def format_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class ProgbarLogger(Callback):
    """The per-epoch display of `fit(verbose=1|2)` and `evaluate`/`predict(verbose=1)`.

    verbose=1 draws Keras's bar (`63/63 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - loss: ...`), redrawn
    in place at most 20 times a second when the stream is a terminal, and printed once at the
    end of the epoch otherwise. verbose=2 prints `Epoch 3/20` and one line per epoch.
    """

    def __init__(self, verbose: int = 1, stream=None) -> None:
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self._last_draw = 0.0

    @property
    def out(self):
        return self.stream or sys.stdout

    @property
    def dynamic(self) -> bool:
        isatty = getattr(self.out, "isatty", None)
        return bool(isatty and isatty()) and "NO_PROGRESS" not in os.environ

    def on_train_begin(self, logs=None):
        self.epochs = self.params.get("epochs", 1)
        self.steps = self.params.get("steps", 0)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._seen = 0
        self._last_draw = 0.0
        self.out.write(f"Epoch {epoch + 1}/{self.epochs}\n")
        self.out.flush()

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self.verbose == 1 and self.dynamic:
            now = time.perf_counter()
            if now - self._last_draw >= 0.05:
                self._last_draw = now
                self._draw(batch + 1, logs or {}, final=False)

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose == 1:
            self._draw(self.steps, logs or {}, final=True)
        else:
            elapsed = time.perf_counter() - self._start
            per = elapsed / max(self.steps, 1)
            self.out.write(f"{self.steps}/{self.steps} - {format_time(elapsed)} - {format_per_step(per)}"
                           f"{' - ' + format_logs(logs) if logs else ''}\n")
        self.out.flush()

    def _draw(self, current: int, logs: dict, *, final: bool) -> None:
        elapsed = time.perf_counter() - self._start
        line = progress_line(current, self.steps, elapsed, logs, final=final, dim=self.dynamic)
        if self.dynamic:
            self.out.write("\r\x1b[K" + line + ("\n" if final else ""))
        elif final:
            self.out.write(line + "\n")
        self.out.flush()


def progress_line(current: int, steps: int, elapsed: float, logs: dict, *, final: bool, dim: bool = False) -> str:
    """Keras's bar line: `12/63 ━━━━━━━━━━━━━━━━━━━━ 1s 4ms/step - loss: 0.6932` (ETA while running)."""
    per = elapsed / max(current, 1)
    width = 20
    full = min(width, int(width * current / max(steps, 1)))
    bar = "━" * full
    if full < width:
        bar += f"\x1b[2m{'━' * (width - full)}\x1b[0m" if dim else "." * (width - full)
    shown = elapsed if final else per * (steps - current)
    n = len(str(steps))
    return (f"{current:>{n}}/{steps} {bar} {format_time(shown)} {format_per_step(per)}"
            f"{' - ' + format_logs(logs) if logs else ''}")


def _auto_mode(monitor: str, mode: str, owner: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.lower()
    return "max" if any(t in name for t in ("acc", "auc", "precision", "recall", "f1")) else "min"


class EarlyStopping(Callback):
    """Stop training when `monitor` has stopped improving for `patience` epochs (Keras 3 logic)."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__()
        if patience < 0:
            raise ConfigError(f"EarlyStopping: patience must be >= 0, got {patience!r}")
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.mode = _auto_mode(monitor, mode, "EarlyStopping")
        self.min_delta = abs(min_delta) * (1 if self.mode == "max" else -1)

    def _better(self, value: float, reference: float) -> bool:
        v = value - self.min_delta
        return v > reference if self.mode == "max" else v < reference

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = -math.inf if self.mode == "max" else math.inf
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None or epoch < self.start_from_epoch:
            if current is None:
                sys.stderr.write(f"EarlyStopping: metric {self.monitor!r} is not in the logs "
                                 f"(available: {', '.join(sorted(logs or {}))})\n")
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._better(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when `monitor` stops improving (Keras 3 logic)."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__()
        if not 0 <= factor < 1:
            raise ConfigError(f"ReduceLROnPlateau: factor must be in [0, 1), got {factor!r}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.mode = _auto_mode(monitor, mode, "ReduceLROnPlateau")
        self.min_delta, self.cooldown, self.min_lr = min_delta, cooldown, min_lr

    def _better(self, a, b):
        return a > b + self.min_delta if self.mode == "max" else a < b - self.min_delta

    def on_train_begin(self, logs=None):
        self.best = -math.inf if self.mode == "max" else math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        opt = self.model.optimizer
        logs["learning_rate"] = float(opt.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(opt.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    opt.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class TerminateOnNaN(Callback):
    """Stop training instead of raising when a step diverges.

    `fit` refuses a step whose loss or gradients are not finite, or that would make a weight or
    a moving statistic non-finite: it puts back the weights, moving statistics and optimizer
    state from before that step and raises `DivergenceError`. With this callback present it
    stops there and returns the history instead, so the model keeps the weights of its last
    finite step either way. As in Keras, a NaN or infinite loss is reported on one line.
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start from `schedule(epoch, lr)`."""

    def __init__(self, schedule, verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise ConfigError(f"LearningRateScheduler: schedule must be callable, got {schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.model.optimizer.learning_rate)
        try:
            new = self.schedule(epoch, lr)
        except TypeError:
            new = self.schedule(epoch)
        if not isinstance(new, (int, float, np.floating)) or not math.isfinite(new):
            raise ConfigError(f"LearningRateScheduler: schedule returned {new!r}; expected a finite float")
        problem = backend.float32_problem(new)
        if problem:
            raise ConfigError(f"LearningRateScheduler: schedule returned learning_rate {problem} at epoch {epoch + 1}")
        self.model.optimizer.learning_rate = float(new)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class CSVLogger(Callback):
    """Append one CSV row per epoch (`epoch` then the sorted log keys) to `filename`."""

    def __init__(self, filename, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self._keys = None
        self._file = None

    def on_train_begin(self, logs=None):
        has_header = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None
        self._has_header = has_header

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self._keys], delimiter=self.sep,
                                          extrasaction="ignore")
            if not self._has_header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self._keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file:
            self._file.close()
            self._file = None


class ModelCheckpoint(Callback):
    """Save the model (or its weights) after each epoch; `filepath` may use `{epoch:02d}` and log keys."""

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", save_freq="epoch",
                 initial_value_threshold: float | None = None) -> None:
        super().__init__()
        if save_freq != "epoch":
            raise ConfigError(f"ModelCheckpoint: only save_freq='epoch' is supported, got {save_freq!r}")
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = _auto_mode(monitor, mode, "ModelCheckpoint")
        self.best = initial_value_threshold if initial_value_threshold is not None else (
            -math.inf if self.mode == "max" else math.inf)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, ValueError, IndexError) as exc:
            raise ConfigError(f"ModelCheckpoint: cannot format filepath {self.filepath!r} with "
                              f"epoch and {sorted(logs)}: {exc}") from None
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                return
            better = current > self.best if self.mode == "max" else current < self.best
            if not better:
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class LambdaCallback(Callback):
    """A callback from plain functions: `LambdaCallback(on_epoch_end=lambda epoch, logs: ...)`."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs) -> None:
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        self._lambda_hooks = []
        for hook, fn in given.items():
            if hook not in _HOOKS:
                raise ConfigError(f"LambdaCallback: unknown hook {hook!r}; choose from {', '.join(_HOOKS)}")
            if fn is not None:
                setattr(self, hook, fn)
                self._lambda_hooks.append(hook)


CALLBACKS = {cls.__name__: cls for cls in (History, ProgbarLogger, EarlyStopping, ReduceLROnPlateau, TerminateOnNaN,
                                           LearningRateScheduler, CSVLogger, ModelCheckpoint, LambdaCallback)}

from tuinet.nn.tensorboard import TensorBoard  # noqa: E402 - it subclasses Callback, defined above

CALLBACKS["TensorBoard"] = TensorBoard

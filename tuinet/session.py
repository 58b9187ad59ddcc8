"""`TrainingSession`: one experiment run step by step, for the app and for `tuinet train` alike.

The session owns the data (loaded, split and scaled), the model and its optimizer. It can step
one batch, run one epoch or run to the end; pause, resume, stop and reset (re-initialise from
the seed); and apply new hyperparameters or a new architecture between steps. It knows nothing
of any UI: it hands immutable events (frozen dataclasses of floats and array copies) to a
`sink` callable, at a bounded rate, and never holds a reference a consumer could mutate.

Threading: one thread runs `run()` / `step_batch()` / `run_epoch()` at a time (a lock makes a
second caller wait). `pause()`, `stop()`, `set_learning_rate()` and `apply()` may be called
from any other thread while training runs: they set a flag or queue a command that the
training thread applies between two batches, so the caller never waits on a step.
"""

from __future__ import annotations

import collections
import itertools
import math
import queue
import threading
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from tuinet import layerspec, memory
from tuinet.data import Prepared, prepare  # noqa: F401 - Prepared re-exported for older imports
from tuinet.errors import ConfigError, DivergenceError, ModelFileError, TuinetError, safe_text
from tuinet.nn import callbacks as callbacks_module
from tuinet.presets import Experiment
from tuinet.run import BATCH_HISTORY, MAX_FRAMES, EpochHistory, frame_plan, frame_stride

PACE_STEPS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, math.inf)
"""The paces `<` and `>` step through, in epochs per second (inf: as fast as it goes)."""
PACE_TARGET_SECONDS = 15.0
"""The default pace makes a run last about this long (the Playground's boundary forms over 10-30 s)."""
PACE_MIN_WAIT = 0.02
"""Within an epoch, the session waits between batches only when it is this far ahead."""


# ---------------------------------------------------------------------- events
@dataclass(frozen=True)
class SessionReady:
    """The experiment is prepared (or re-prepared after reset/apply), or a run continues from
    a recorded frame (`start_epoch` > 0, `history` the epochs before it), or from a model file
    (`resumed`: a new run whose first `start_epoch` epochs were trained before it was saved)."""

    name: str
    epochs: int
    steps_per_epoch: int
    sizes: dict            # {"train": n, "val": n, "test": n}
    summary: str           # the model's summary table
    params: int
    experiment: Experiment | None = None   # the experiment this run trains
    start_epoch: int = 0                   # epochs already done (a branch from a frame)
    history: object = None  # the per-epoch history up to start_epoch (a `run.EpochHistory`)
    max_frames: int = MAX_FRAMES           # the timeline's frame budget for this model
    learning_rate: float = 0.0
    resumed: bool = False                  # loaded from a model file: the timeline starts afresh


@dataclass(frozen=True)
class BatchEnded:
    epoch: int             # 0-based epoch the batch belongs to
    batch: int             # 1-based count of batches done in this epoch
    steps: int             # batches per epoch
    loss: float            # this batch's loss
    logs: dict             # running means of the epoch so far
    samples_per_second: float
    learning_rate: float
    losses: tuple = ()     # every batch loss since the previous event that carried losses


@dataclass(frozen=True)
class EpochEnded:
    epoch: int             # 0-based index of the finished epoch
    epochs: int
    logs: dict             # train and val_ metrics
    seconds: float
    line: str              # Keras-style "63/63 - 0s - 2ms/step - accuracy: ..." line
    confusion: np.ndarray | None = None  # validation (else test) confusion matrix, classification only
    losses: tuple = ()     # every batch loss since the previous event that carried losses


@dataclass(frozen=True)
class WeightSnapshot:
    epoch: int
    batch: int
    weights: dict          # "layer/param" -> array copy
    grads: dict            # "layer/param" -> copy of the last gradient
    updates: dict          # "layer/param" -> size of the last update (new - old)
    frame: bool = False    # taken at an epoch end for the timeline (see `tuinet.run.Timeline`)
    optimizer: dict | None = None  # the optimizer's state with a frame (when the budget allows)


@dataclass(frozen=True)
class Diverged:
    epoch: int
    batch: int
    loss: float
    message: str


@dataclass(frozen=True)
class Finished:
    epoch: int
    logs: dict             # last epoch's logs
    test: dict             # test_ metrics (empty without a test split)


@dataclass(frozen=True)
class StateChanged:
    state: str             # ready | running | paused | finished | stopped | diverged | failed
    epoch: int = 0         # epochs completed
    batch: int = 0         # batches done in the current epoch
    losses: tuple = ()     # every batch loss since the previous event that carried losses
    message: str = ""      # why, for diverged and failed


@dataclass(frozen=True)
class LearningRateSet:
    """A new learning rate is in force from the next batch (set live, between two batches)."""

    learning_rate: float


@dataclass(frozen=True)
class Failed:
    message: str
    details: str = ""


# ---------------------------------------------------------------------- the session
class TrainingSession:
    """Runs one `Experiment`; see the module docstring for the threading rules.

    Args:
        experiment: A validated preset (`tuinet.presets.load_preset(...)`).
        sink: Called with each event; must return quickly (the app posts a message).
        batch_event_interval: Minimum seconds between `BatchEnded` events while running.
        snapshot_interval: Minimum seconds between `WeightSnapshot` events while running.
        pace: Epochs per second at most (`math.inf`: no cap, as `tuinet train` and `fit` run).
            Batches still run at full speed: the session waits between epochs (between
            batches when an epoch is long). The app sets it; see `set_pace`.
        frames: Send a frame (a `WeightSnapshot` with `frame=True`) at the epoch ends a
            `tuinet.run.Timeline` keeps, for the app's replay.
        clock, sleep: The time source and the wait used by the pace (tests pass fakes);
            `sleep(seconds)` may return early (a pause, a new pace).
    """

    def __init__(self, experiment: Experiment, *, sink=None, batch_event_interval: float = 0.1,
                 snapshot_interval: float = 0.5, track_confusion: bool = False, pace: float = math.inf,
                 frames: bool = False, clock=time.perf_counter, sleep=None) -> None:
        self.experiment = experiment
        self.pace = checked_pace(pace)
        self.record_frames = frames
        self._clock = clock
        self._wake = threading.Event()  # set by pause, stop and a new pace: a paced wait ends early
        self._sleep = sleep or self._wake.wait
        self._pace_origin: tuple[float, float] | None = None  # (clock time, position in epochs)
        self.track_confusion = track_confusion  # compute a confusion matrix at epoch ends...
        self.confusion_interval = 1.0            # ...at most once a second (and at the last epoch)
        self._last_confusion_time = -math.inf
        self.sink = sink or (lambda event: None)
        self.batch_event_interval = batch_event_interval
        self.snapshot_interval = snapshot_interval
        self._lock = threading.RLock()
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._pause_requested = threading.Event()
        self._stop_requested = threading.Event()
        self._running = False
        self.state = "ready"
        self.history = EpochHistory()  # bounded: thinned evenly beyond HISTORY_POINTS epochs
        self.batch_losses: collections.deque = collections.deque(maxlen=BATCH_HISTORY)
        self._losses_lock = threading.Lock()  # guards batch_losses against a reader in another thread
        self.last_snapshot: WeightSnapshot | None = None
        self.test_results: dict = {}
        self.last_message = ""   # the last divergence or failure, for a one-line report
        self.prepared = prepare(experiment)
        self._build(experiment)

    # -- preparation ------------------------------------------------------------------------
    def _build(self, exp: Experiment) -> None:
        self.model, self.loop = build_model(exp, self.prepared)
        self._initial_weights = self.model.get_weights()
        self._prev_weights = None   # weights at the last published snapshot
        self._update_base = None    # weights at the one before
        self.history = EpochHistory()
        with self._losses_lock:
            self.batch_losses.clear()
        self.test_results = {}
        self.batches_done = 0       # batches trained since this model was built (the losses' index)
        self._losses_sent = 0       # batches whose loss already went out with an event
        self._frame_sent = -1       # the epoch of the last frame sent
        self._plan_frames()
        self._epoch_start = None
        self._epoch_samples = 0
        self._epoch_waited = 0.0    # seconds of this epoch spent waiting for the pace (not training)
        self._last_batch_event = -math.inf  # time of the last BatchEnded (throttled, across epochs)

    # -- properties -------------------------------------------------------------------------
    @property
    def epochs(self) -> int:
        return self.experiment.train.epochs

    @property
    def epoch(self) -> int:
        """Epochs completed."""
        return self.loop.epoch

    @property
    def batch(self) -> int:
        """Batches completed in the current epoch."""
        return self.loop.step

    @property
    def steps_per_epoch(self) -> int:
        return self.loop.steps

    @property
    def finished(self) -> bool:
        return self.loop.epoch >= self.epochs

    def batch_loss_history(self) -> list[float]:
        """A copy of the recent per-batch losses, safe to call from any thread."""
        with self._losses_lock:
            return list(self.batch_losses)

    def latest_losses(self, n: int) -> list[float]:
        """The last `n` per-batch losses (oldest first), without copying the whole history."""
        with self._losses_lock:
            newest = list(itertools.islice(reversed(self.batch_losses), max(0, n)))
        newest.reverse()
        return newest

    def ready_event(self, *, resumed: bool = False) -> SessionReady:
        p = self.prepared
        return SessionReady(name=self.experiment.name, epochs=self.epochs, steps_per_epoch=self.loop.steps,
                            sizes={"train": len(p.x_train), "val": len(p.x_val), "test": len(p.x_test)},
                            summary=self.model.summary_text(), params=self.model.count_params(),
                            experiment=self.experiment, start_epoch=self.loop.epoch,
                            history=self.history.copy(),
                            max_frames=self.max_frames, learning_rate=float(self.model.optimizer.learning_rate),
                            resumed=resumed)

    def _plan_frames(self) -> None:
        """How many frames the timeline keeps for this model, and what goes into each."""
        self.max_frames, self._frame_grads, self._frame_optimizer = plan_frames(self.model)

    # -- pace ---------------------------------------------------------------------------------
    def set_pace(self, pace: float) -> None:
        """Epochs per second at most (`math.inf`: no cap); takes effect at once, also mid-run."""
        self.pace = checked_pace(pace)
        self._pace_origin = None  # the new pace counts from now
        self._wake.set()

    def _position(self) -> float:
        """Where training is, in epochs (fractional within an epoch)."""
        loop = self.loop
        return loop.epoch + (loop.step / loop.steps if loop._started and loop.steps else 0.0)

    def _wait_for_pace(self) -> bool:
        """Before a batch: wait until the pace allows it. False when a pause or stop came meanwhile.

        The position (epochs, fractional) is due at `origin time + (position - origin) / pace`.
        At an epoch boundary the session waits for any time ahead; within an epoch only when it
        is `PACE_MIN_WAIT` ahead, so short epochs run their batches at full speed, then wait.
        A run that falls behind (epochs slower than the pace) starts counting again from now:
        it never races to catch up.
        """
        while math.isfinite(self.pace):
            now = self._clock()
            position = self._position()
            if self._pace_origin is None:
                self._pace_origin = (now, position)
                return True
            t0, p0 = self._pace_origin
            due = t0 + (position - p0) / self.pace
            ahead = due - now
            boundary = not self.loop._started
            if ahead < -max(0.25, 1.0 / self.pace):
                self._pace_origin = (now, position)
                return True
            if ahead <= 0 or (not boundary and ahead < PACE_MIN_WAIT):
                return True
            self._wake.clear()
            if self._pause_requested.is_set() or self._stop_requested.is_set():
                return False
            started = time.perf_counter()
            self._sleep(ahead)
            if not boundary:  # a wait inside an epoch is not part of its training time
                self._epoch_waited += time.perf_counter() - started
            if self._pause_requested.is_set() or self._stop_requested.is_set():
                return False
        return True

    # -- control from any thread ------------------------------------------------------------
    def start(self) -> None:
        """Nothing to start: training runs in the caller's thread (see `tuinet.remote` for a process)."""

    def close(self, timeout: float = 1.0) -> None:
        """Stop after the current batch (the caller's thread then returns)."""
        self.stop()

    def pause(self) -> None:
        """Stop after the current batch; `run()` returns with state "paused"."""
        self._pause_requested.set()
        self._wake.set()

    def stop(self) -> None:
        """Stop after the current batch for good; `run()` returns with state "stopped"."""
        self._stop_requested.set()
        self._wake.set()

    def set_learning_rate(self, lr: float) -> None:
        """Takes effect at the next batch."""
        lr = checked_learning_rate(lr)

        def set_it() -> None:
            self.model.optimizer.learning_rate = lr
            self._emit(LearningRateSet(lr))

        self._submit(set_it)

    def apply(self, experiment: Experiment) -> None:
        """Switch to an edited experiment (architecture, hyperparameters, data) between steps.

        The model is rebuilt and re-initialised from the seed. A change that does not fit
        (a layer that cannot take its input) raises here when nothing is running, and leaves the
        current model untouched; while running it is reported as a `Failed` event.
        """
        self._submit(lambda: self._apply(experiment))

    def replace_experiment(self, experiment: Experiment) -> None:
        """Record a change that needs no rebuild (a learning rate already set live), so that a
        later reset or apply starts from it."""
        self.experiment = experiment

    def reset(self) -> None:
        """Re-initialise the weights, optimizer and history from the seed."""
        self._submit(lambda: self._apply(self.experiment))

    def _apply(self, experiment: Experiment, *, announce: bool = True) -> None:
        old = (self.experiment, self.prepared, self.model, self.loop)
        try:
            if experiment.data != self.experiment.data or experiment.train.loss != self.experiment.train.loss:
                self.prepared = prepare(experiment)
            self._build(experiment)
        except Exception:
            self.experiment, self.prepared, self.model, self.loop = old
            raise
        self.experiment = experiment
        if announce:
            self._set_state("ready")
            self._emit(self.ready_event())
            self._publish_snapshot()

    def restore(self, frame: WeightSnapshot) -> None:
        """Continue from a recorded frame: its weights (and optimizer state when the frame has
        it, else a fresh optimizer) at its epoch, with the current settings. The history after
        that epoch is dropped; a `SessionReady` with `start_epoch` says so."""
        self._submit(lambda: self._restore(frame))

    def _restore(self, frame: WeightSnapshot) -> None:
        model, loop = self.model, self.loop
        targets = []
        for layer in model.layers:
            for name in layer.weight_names:
                key = f"{layer.name}/{name}"
                w = frame.weights.get(key)
                if w is None or w.shape != layer.weight(name).shape:
                    raise ConfigError(f"the frame of epoch {frame.epoch} does not fit this model "
                                      f"({key}: {'missing' if w is None else tuple(w.shape)}); reset with r")
                targets.append((layer.weight(name), w))
        if not 0 <= frame.epoch <= self.epochs or frame.epoch > loop.epoch:
            raise ConfigError(f"cannot resume from epoch {frame.epoch}: this run has done {loop.epoch} "
                              f"of {self.epochs} epochs")
        for live, w in targets:
            live[...] = w
        optimizer = model.optimizer
        if frame.optimizer:
            optimizer.set_state(frame.optimizer)
        else:
            optimizer.reset()
        loop.epoch, loop.step, loop._started = frame.epoch, 0, False
        self.history.truncate(frame.epoch)
        with self._losses_lock:
            self.batch_losses.clear()
            self.batches_done = self._losses_sent = 0
        self.test_results = {}
        self.last_message = ""
        self._frame_sent = frame.epoch
        self._prev_weights = self._update_base = None
        self._pace_origin = None
        self._set_state("paused" if frame.epoch else "ready")
        self._emit(self.ready_event())
        self._publish_snapshot(frame=True)

    def save_model(self, path) -> "Future":
        """Save the model (with its scaler and class names) between batches; returns a Future.

        While training runs the save happens in the training thread at the next batch boundary,
        so the file always holds the weights of one step; otherwise at once.
        """
        fut: Future = Future()

        def do() -> None:
            try:
                self.model.metadata = self.metadata()
                self.model.save(path)
                fut.set_result(str(path))
            except Exception as exc:  # reported through the future
                fut.set_exception(exc)

        self._submit(do)
        return fut

    def load_weights_from(self, path) -> "Future":
        """Replace the model by a saved one (architecture and weights) that fits this data, and
        continue its run: the epochs done, the per-epoch history, the optimizer state and the
        training randomness that `save_model` wrote (see `_load`)."""
        fut: Future = Future()

        def do() -> None:
            try:
                self._load(path)
                fut.set_result(str(path))
            except Exception as exc:
                fut.set_exception(exc)

        self._submit(do)
        return fut

    def _load(self, path) -> None:
        """Take the model of a file; the checks that can refuse it come before anything changes.

        The weights always; the optimizer state when the file has one for the same optimizer
        (else the optimizer starts afresh); and from `metadata["run"]` (see `run_record`) the
        epochs done, the history and the randomness, so that the run goes on exactly as if it
        had never stopped. A model saved within an epoch goes on at the start of that epoch.
        The current settings (learning rate, batch size, epochs) stay.
        """
        import tuinet
        from tuinet.presets import ModelSpec

        loaded = tuinet.load_model(path)
        label = safe_text(str(path), limit=None)
        self._check_fits(loaded, label)
        run = (loaded.metadata or {}).get("run")
        history = EpochHistory()
        if run is not None:
            try:
                loaded.set_random_state(run["random"])  # the same architecture: if it fits there, it fits here
            except ConfigError as exc:
                raise ModelFileError(f"{label}: {exc}") from None
            history = EpochHistory.from_record(run["history"])
        try:
            specs = list(layerspec.specs_of_model(loaded))
        except ConfigError as exc:
            raise ModelFileError(f"{label}: {exc}") from None
        experiment = self.experiment.replace(model=ModelSpec(layers=tuple(specs), seed=self.experiment.model.seed))
        self._apply(experiment, announce=False)
        try:
            self.model.set_weights(loaded.get_weights())
        except TuinetError as exc:  # not expected (the same architecture): the new model, announced
            self._set_state("ready")
            self._emit(self.ready_event())
            self._publish_snapshot()
            raise ModelFileError(f"{label}: the saved weights do not fit: {exc}") from None
        optimizer = self.model.optimizer
        if loaded.optimizer is not None and type(loaded.optimizer) is type(optimizer):
            try:
                optimizer.set_state(loaded.optimizer.get_state())
            except TuinetError:  # other settings (amsgrad, momentum): other slots
                optimizer.reset()
        if run is not None:
            self.model.set_random_state(loaded.random_state())
            self.loop.epoch = run["epochs_done"]
            self.history = history
        self._initial_weights = self.model.get_weights()
        self.last_message = ""
        self._set_state("finished" if self.finished else "paused" if self.loop.epoch else "ready")
        self._emit(self.ready_event(resumed=True))
        self._publish_snapshot()

    def _check_fits(self, loaded, label: str) -> None:
        """A `ModelFileError` unless `loaded` takes this data's inputs and gives the outputs it needs."""
        ds = self.prepared.dataset
        model_in, data_in = tuple(loaded.input_shape[1:]), tuple(self.prepared.x_train.shape[1:])
        if model_in != data_in:
            raise ModelFileError(f"{label}: the model takes inputs of shape {model_in}, the preset's data "
                                 f"({ds.name}) has {data_in}")
        task = (loaded.metadata or {}).get("task")
        if task and task != ds.task and self.experiment.data.target != "input":
            raise ModelFileError(f"{label}: the model was trained for {task}, the preset's data ({ds.name}) "
                                 f"is {ds.task}")
        model_out, wanted = tuple(loaded.output_shape[1:]), tuple(self.model.output_shape[1:])
        if model_out != wanted:
            classes = f", {ds.num_classes} classes" if ds.task == "classification" and ds.num_classes else ""
            raise ModelFileError(f"{label}: the model gives outputs of shape {model_out}, the preset's data "
                                 f"({ds.name}{classes}) needs {wanted}")

    def metadata(self) -> dict:
        """Facts saved with a model so `tuinet predict` can scale inputs and name classes, and
        the run so far (`run_record`), so that training can resume from the file."""
        return {**model_metadata(self.experiment, self.prepared), "run": self.run_record()}

    def run_record(self) -> dict:
        """The run so far, JSON-friendly (`metadata["run"]` of a saved model): the epochs done,
        the per-epoch history (`EpochHistory.to_record`) and where the training randomness
        stands (`Sequential.random_state`: shuffling and dropout)."""
        return {"epochs_done": self.loop.epoch, "history": self.history.to_record(),
                "random": self.model.random_state()}

    def _submit(self, command) -> None:
        """Run `command` now if no step is in progress, else queue it for the training thread.

        Never blocks: a caller on the UI thread must not wait for a training run to end.
        """
        if self._running or not self._lock.acquire(blocking=False):
            self._commands.put(command)
            return
        try:
            command()
        finally:
            self._lock.release()

    def _drain_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                command()
            except TuinetError as exc:
                self._emit(Failed(str(exc)))

    # -- stepping ---------------------------------------------------------------------------
    def step_batch(self) -> bool:
        """Train exactly one batch (finishing the epoch if it was the last). False once done."""
        with self._lock:
            self._drain_commands()
            if self.finished:
                return False
            result = self._one_batch(force_event=True)
            if self.state not in ("diverged", "finished"):
                self._set_state("paused")
            self._publish_snapshot()
            self._drain_commands()  # edits that arrived during the step
            return result

    def run_epoch(self) -> bool:
        """Train to the end of the current epoch (or stop/pause/divergence)."""
        return self.run(until_epoch=self.epoch + 1)

    def run(self, until_epoch: int | None = None) -> bool:
        """Train until the last epoch (or `until_epoch`), a pause, a stop or a divergence.

        Returns True when it ran to its target. Exceptions other than TuinetError are reported
        as a `Failed` event and re-raised.
        """
        with self._lock:
            self._pause_requested.clear()
            self._stop_requested.clear()
            self._drain_commands()
            if self.finished:
                return False
            self._running = True
            self._pace_origin = None
            self._set_state("running")
            last_snapshot = time.perf_counter()
            try:
                while True:
                    self._drain_commands()
                    target = self.epochs if until_epoch is None else min(until_epoch, self.epochs)
                    if self.epoch >= target:
                        break
                    if self._stop_requested.is_set():
                        self._set_state("stopped")
                        return False
                    if self._pause_requested.is_set():
                        self._set_state("paused")
                        return False
                    if not self._wait_for_pace():
                        self._drain_commands()
                        continue  # the checks above report the pause or stop
                    if not self._one_batch(force_event=False):
                        return False
                    now = time.perf_counter()
                    if now - last_snapshot >= self.snapshot_interval:
                        self._publish_snapshot()
                        last_snapshot = now
            except TuinetError as exc:
                self.last_message = str(exc)
                self._set_state("failed")
                self._emit(Failed(str(exc)))
                return False
            except Exception as exc:
                self.last_message = f"{type(exc).__name__}: {exc}"
                self._set_state("failed")
                self._emit(Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
                raise
            finally:
                self._running = False
                self._drain_commands()
            self._publish_snapshot()
            if not self.finished:
                self._set_state("paused")
            return True

    def _one_batch(self, *, force_event: bool) -> bool:
        loop = self.loop
        if not loop._started:
            loop.start_epoch()
            self._epoch_start = time.perf_counter()
            self._epoch_samples = 0
            self._epoch_waited = 0.0
        before = loop.step
        loss, ok = loop.train_batch()
        if not ok:
            err: DivergenceError = self.model._divergence(loss, loop.epoch, before)
            self.last_message = str(err)
            self._set_state("diverged")
            self._emit(Diverged(epoch=loop.epoch, batch=before + 1, loss=loss, message=str(err)))
            self._publish_snapshot()
            return False
        n = min(loop.batch_size, loop.n - before * loop.batch_size)
        self._epoch_samples += n
        with self._losses_lock:
            self.batch_losses.append(loss)
            self.batches_done += 1
        now = time.perf_counter()
        elapsed = max(now - self._epoch_start - self._epoch_waited, 1e-9)  # the engine's speed, not the pace
        if force_event or now - self._last_batch_event >= self.batch_event_interval:
            self._last_batch_event = now
            self._emit(BatchEnded(epoch=loop.epoch, batch=loop.step, steps=loop.steps, loss=loss, logs=loop.logs(),
                                  samples_per_second=self._epoch_samples / elapsed,
                                  learning_rate=float(self.model.optimizer.learning_rate),
                                  losses=self._take_losses()))
        if loop.epoch_finished:
            self._end_epoch()
        return True

    def _end_epoch(self) -> None:
        loop = self.loop
        epoch = loop.epoch
        seconds = time.perf_counter() - self._epoch_start - self._epoch_waited  # training time, as fit reports it
        logs = loop.finish_epoch()
        self.history.append(logs)
        line = (f"{loop.steps}/{loop.steps} - {callbacks_module.format_time(seconds)} - "
                f"{callbacks_module.format_per_step(seconds / loop.steps)} - {callbacks_module.format_logs(logs)}")
        confusion = None
        now = time.perf_counter()
        if self.track_confusion and (self.finished or now - self._last_confusion_time >= self.confusion_interval):
            confusion = self.confusion_matrix()
            self._last_confusion_time = now
        self._emit(EpochEnded(epoch=epoch, epochs=self.epochs, logs=dict(logs), seconds=seconds, line=line,
                              confusion=confusion, losses=self._take_losses()))
        done = loop.epoch
        if self.record_frames and (self.finished or done % frame_stride(done, self.max_frames) == 0):
            self._publish_snapshot(frame=True)
        if self.finished:
            self.test_results = self.evaluate_test()
            # the results first: whoever hears "finished" can read them
            self._emit(Finished(epoch=epoch, logs=dict(logs), test=dict(self.test_results)))
            self._set_state("finished")

    # -- results ----------------------------------------------------------------------------
    def evaluate_test(self) -> dict:
        """Loss and metrics on the test split, keys prefixed with `test_` (empty without one)."""
        p = self.prepared
        if not len(p.x_test):
            return {}
        logs = self.model._evaluate_arrays(p.x_test, p.y_test, self.experiment.train.batch_size)
        return {f"test_{k}": v for k, v in logs.items()}

    def confusion_split(self) -> tuple[str, np.ndarray, np.ndarray]:
        """The split the confusion matrix is computed on: validation, else test, else training."""
        return confusion_split(self.prepared)

    def confusion_matrix(self) -> np.ndarray | None:
        """Confusion matrix of the current model on `confusion_split()`; None for regression."""
        from tuinet.nn.metrics import confusion_matrix

        ds = self.prepared.dataset
        if ds.task != "classification" or self.experiment.data.target == "input":
            return None
        _, x, y = self.confusion_split()
        out = self.model.predict(x, batch_size=256, verbose=0)
        return confusion_matrix(y, out, num_classes=ds.num_classes)

    def results(self) -> dict:
        """Last epoch's train_/val_ values and the test_ values, for checking `expect`."""
        out = {}
        for k, v in self.history.items():
            out[k if k.startswith("val_") else f"train_{k}"] = v[-1]
        out.update(self.test_results or self.evaluate_test())
        return out

    def snapshot(self, timeout: float | None = None) -> WeightSnapshot | None:
        """A consistent copy of every weight and last gradient, taken between batches.

        `updates` is the change since the snapshot published before the latest one (the last
        published interval), so asking again without training gives the same answer. With a
        `timeout` (seconds) a caller that must not wait on a running training thread gets the
        last published snapshot (possibly None) instead.
        """
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            return self.last_snapshot
        try:
            return self._make_snapshot(self._update_base)
        finally:
            self._lock.release()

    def _make_snapshot(self, base: dict | None) -> WeightSnapshot:
        weights, grads, updates = {}, {}, {}
        base = base or {}
        for layer in self.model.layers:
            for name in layer.weight_names:
                key = f"{layer.name}/{name}"
                w = layer.weight(name).copy()
                weights[key] = w
                if name in layer.grads:
                    grads[key] = layer.grads[name].copy()
                if key in base and base[key].shape == w.shape:
                    updates[key] = w - base[key]
        return WeightSnapshot(epoch=self.loop.epoch, batch=self.loop.step, weights=weights, grads=grads,
                              updates=updates)

    def _publish_snapshot(self, frame: bool = False) -> None:
        """Emit a snapshot whose `updates` are the change since the previous published one.

        A frame for the timeline (`frame=True`, or any snapshot at an epoch boundary not sent
        as a frame yet when frames are recorded) carries the optimizer state when the model's
        frame plan has room for it.
        """
        loop = self.loop
        at_boundary = not loop._started or loop.step == 0
        frame = self.record_frames and (frame or (at_boundary and loop.epoch != self._frame_sent))
        self._update_base = self._prev_weights
        snap = self._make_snapshot(self._update_base)
        if frame:
            self._frame_sent = loop.epoch
            grads = snap.grads if self._frame_grads else {}
            optimizer = self.model.optimizer.get_state() if self._frame_optimizer else None
            snap = WeightSnapshot(epoch=snap.epoch, batch=snap.batch, weights=snap.weights, grads=grads,
                                  updates=snap.updates, frame=True, optimizer=optimizer)
        self.last_snapshot = snap
        self._prev_weights = snap.weights
        self._emit(snap)

    def _take_losses(self) -> tuple:
        """The batch losses not yet sent with an event, oldest first (at most the ring's length)."""
        with self._losses_lock:
            n = min(self.batches_done - self._losses_sent, len(self.batch_losses))
            self._losses_sent = self.batches_done
            newest = tuple(itertools.islice(reversed(self.batch_losses), max(0, n)))
        return newest[::-1]

    # -- plumbing ---------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            loop = getattr(self, "loop", None)
            self._emit(StateChanged(state, epoch=loop.epoch if loop else 0, batch=loop.step if loop else 0,
                                    losses=self._take_losses() if loop else (),
                                    message=self.last_message if state in ("diverged", "failed") else ""))

    def _emit(self, event) -> None:
        self.sink(event)


def confusion_split(prepared: Prepared) -> tuple[str, np.ndarray, np.ndarray]:
    """(name, x, y) of the split a confusion matrix is computed on: validation, else test, else training."""
    p = prepared
    for name, x, y in (("validation", p.x_val, p.y_val), ("test", p.x_test, p.y_test),
                       ("training", p.x_train, p.y_train)):
        if len(x):
            return name, x, y
    return "training", p.x_train, p.y_train  # pragma: no cover - a split always has training data


def model_metadata(experiment: Experiment, prepared: Prepared) -> dict:
    """Facts saved with a model so `tuinet predict` can scale inputs and name classes."""
    p = prepared
    ds = p.dataset
    return {"preset": experiment.name, "task": ds.task, "dataset": ds.name,
            "feature_names": list(ds.feature_names), "class_names": list(ds.class_names or []) or None,
            "scaler": p.scaler.get_config() if p.scaler is not None else None,
            "scaler_kind": type(p.scaler).__name__ if p.scaler is not None else None}


def plan_frames(model) -> tuple[int, bool, bool]:
    """(max_frames, with_grads, with_optimizer) of the timeline for `model` (see `tuinet.run.frame_plan`)."""
    weights = sum(w.nbytes for w in model.get_weights())
    trainable = sum(layer.params[k].nbytes for layer in model.layers for k in layer.params)
    slots = max(1, len(model.optimizer._slot_specs()))
    return frame_plan(weights, trainable, trainable * slots)


def build_model(experiment: Experiment, prepared: Prepared):
    """The compiled model of `experiment`, built for `prepared`'s inputs, and its `TrainLoop`.

    Raises a `TuinetError` that names the preset when the model does not fit the data.
    """
    label = experiment.display_label
    p = prepared
    # Weights, optimizer state and a batch of activations that cannot fit: refused before any is made.
    memory.check_experiment(experiment, input_shape=tuple(p.x_train.shape[1:]), samples=len(p.x_train), loaded=True)
    try:
        model = experiment.build_model(p.x_train.shape[1:])
        model.compile(optimizer=experiment.build_optimizer(), loss=experiment.train.loss,
                      metrics=list(experiment.train.metrics))
        val = (p.x_val, p.y_val) if len(p.x_val) else None
        loop = model.make_train_loop(p.x_train, p.y_train, batch_size=experiment.train.batch_size,
                                     shuffle=experiment.train.shuffle, validation_data=val, where=label)
    except TuinetError as exc:
        raise type(exc)(f"{label}: the model does not fit the data "
                        f"({p.dataset.name}, inputs {tuple(p.x_train.shape[1:])}): {exc}") from None
    return model, loop


def checked_pace(pace) -> float:
    """`pace` (epochs per second, `math.inf` for no cap) as a float, or a `ConfigError`."""
    if isinstance(pace, bool) or not isinstance(pace, (int, float)) or math.isnan(pace) or pace <= 0:
        raise ConfigError(f"pace: expected a positive number of epochs per second (or inf), got {pace!r}")
    return float(pace)


def default_pace(experiment: Experiment) -> float:
    """The pace the app starts at: the preset's `[app] pace`, else the step of `PACE_STEPS`
    that makes the run last closest to `PACE_TARGET_SECONDS` (on a log scale)."""
    app = getattr(experiment, "app", None)
    if app is not None and getattr(app, "pace", None) is not None:
        return float(app.pace)
    epochs = max(1, experiment.train.epochs)
    finite = [p for p in PACE_STEPS if math.isfinite(p)]
    return min(finite, key=lambda p: abs(math.log(epochs / p / PACE_TARGET_SECONDS)))


def step_pace(pace: float, direction: int) -> float:
    """The next step of `PACE_STEPS` above (`direction` 1) or below (-1) `pace`."""
    if direction > 0:
        return next((p for p in PACE_STEPS if p > pace), PACE_STEPS[-1])
    return next((p for p in reversed(PACE_STEPS) if p < pace), PACE_STEPS[0])


def pace_label(pace: float) -> str:
    """"pace 20 ep/s" or "pace max"."""
    return "pace max" if not math.isfinite(pace) else f"pace {pace:g} ep/s"


def checked_learning_rate(lr) -> float:
    """`lr` as a float, or a `ConfigError` unless it is a finite positive number that float32
    can hold (the weights are float32: 1e300 would become infinite in the update)."""
    from tuinet.nn.backend import float32_problem

    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ConfigError(f"learning rate: expected a positive number, got {lr!r}")
    problem = float32_problem(lr)
    if problem:
        raise ConfigError(f"learning_rate {problem}")
    return float(lr)

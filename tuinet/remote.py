"""`ProcessSession`: the app's training session, with the training in a child process.

Why a process: the app's UI (Textual, plotext) and a training thread in one process share one
GIL. Small networks spend most of a step in the interpreter, so every millisecond the UI
draws is a millisecond training waits, and every key press waits for the training thread to
give the GIL back. Measured on two cores with the thread: the app trained at 0.45-0.77 of
headless speed and a key press took 70-88 ms (p95) to show. In a child process training has
an interpreter of its own, and the UI has the other.

`ProcessSession` is a composition, not a kind of `TrainingSession`: a command proxy (each
method sends a command to the child's `TrainingSession`), plus what the parent must answer
at once, without asking the child:
- the run's state, a `tuinet.run.RunHistory` folded from the child's events (state,
  counters, history, batch losses, the newest weights, test results), exactly as the app
  folds them;
- the experiment with its prepared data (`tuinet.data.prepare`) and an untrained model
  built from it (`tuinet.session.build_model`): the screens read the layers, the config and
  the data from these, and an edit is checked here before it is sent, so a mistake raises at
  once and changes nothing.

Protocol (a `multiprocessing` connection over a socket pair; both ends are this module):
  parent -> child   (seq, command, argument)
      "run" until_epoch | "batch" | "epoch"   train on the child's main thread; answered ("done", seq, result)
      "pause" | "stop"                         flags the running loop checks between batches
      "lr" value | "experiment" exp | "intervals" (batch, snapshot) | "apply" exp | "reset"
      "pace" epochs/s | "restore" frame
      "save" path | "load" path                answered ("future", seq, ok, value or exception)
      "close"                                  the child finishes its step and exits
  child -> parent
      ("events", [event, ...])   self-contained session events, in the child's order.
                        Routine events (epoch and batch ends, snapshots) wait up to
                        EVENT_BATCH seconds to travel together; any other event, and any
                        other message, sends what waits first: the order is the child's.
      ("done", seq, result) | ("future", seq, ok, payload) | ("fatal", traceback text)

The child exits when the pipe closes, so a parent that dies leaves nothing behind; it
ignores SIGINT (the terminal's Ctrl+C belongs to the app) and never writes to the terminal.
"""

from __future__ import annotations

import itertools
import math
import os
import pickle
import queue
import signal
import threading
import time
import traceback
from concurrent.futures import Future

from tuinet import session as s
from tuinet.data import prepare
from tuinet.errors import TuinetError
from tuinet.presets import Experiment
from tuinet.run import RunHistory

_TRAINING_COMMANDS = ("run", "batch", "epoch")
EVENT_BATCH = 0.03  # seconds routine events may wait in the child to leave in one message
_GONE = "the training process has ended: open the preset again"


class ProcessSession:
    """The interface of `TrainingSession`, with the training in a child process.

    `run()`, `step_batch()` and `run_epoch()` block their caller (a worker thread) until the
    child has finished, like the threaded session; everything else returns at once. `close()`
    ends the child (the app calls it on quit and when it opens another preset). Every child
    event reaches `sink` in the child's order, from a reader thread, after `run` has folded it.
    """

    def __init__(self, experiment: Experiment, *, sink=None, batch_event_interval: float = 0.1,
                 snapshot_interval: float = 0.5, track_confusion: bool = False, pace: float = math.inf,
                 frames: bool = False, start: bool = True) -> None:
        self.sink = sink or (lambda event: None)
        self.track_confusion = track_confusion
        self.pace = s.checked_pace(pace)
        self.record_frames = frames
        self._intervals = [batch_event_interval, snapshot_interval]
        self._conn = None
        self._process = None
        self._closed = self._closed_by_us = False
        self._seq = itertools.count(1)
        self._send_lock = threading.Lock()
        self._waiting: dict[int, object] = {}   # seq -> threading.Event (with .result) or Future
        self.experiment = self.prepared = self.model = None
        self._set_local(experiment)
        self.run_history = RunHistory()
        self._fold(self.ready_event())
        self._fold(self._initial_snapshot())
        if start:
            self.start()

    # -- what the parent answers by itself --------------------------------------------------
    def _set_local(self, experiment: Experiment) -> None:
        """Take `experiment`: prepare its data (unless only the model or training changed) and
        build its model. Raises (and changes nothing) when the data or the model do not build."""
        same_data = (self.experiment is not None and experiment.data == self.experiment.data
                     and experiment.train.loss == self.experiment.train.loss)
        prepared = self.prepared if same_data else prepare(experiment)
        model, loop = s.build_model(experiment, prepared)
        self.experiment, self.prepared, self.model, self._steps = experiment, prepared, model, loop.steps
        self.max_frames = s.plan_frames(model)[0]

    def _initial_snapshot(self) -> s.WeightSnapshot:
        """The untrained weights (the child builds the same from the same seed): the first frame."""
        weights = {f"{layer.name}/{name}": layer.weight(name).copy()
                   for layer in self.model.layers for name in layer.weight_names}
        return s.WeightSnapshot(epoch=0, batch=0, weights=weights, grads={}, updates={}, frame=self.record_frames)

    def _fold(self, event) -> None:
        self.run_history.apply(event)

    def ready_event(self) -> s.SessionReady:
        p, run = self.prepared, self.run_history
        return s.SessionReady(name=self.experiment.name, epochs=self.epochs, steps_per_epoch=self._steps,
                              sizes={"train": len(p.x_train), "val": len(p.x_val), "test": len(p.x_test)},
                              summary=self.model.summary_text(), params=self.model.count_params(),
                              experiment=self.experiment, start_epoch=run.start_epoch if run else 0,
                              history=run.history.copy() if run else None,
                              max_frames=self.max_frames,
                              learning_rate=float(self.model.optimizer.learning_rate),
                              resumed=run.resumed if run else False)

    run_history: RunHistory | None = None

    @property
    def state(self) -> str:
        return self.run_history.state

    @property
    def epochs(self) -> int:
        return self.experiment.train.epochs

    @property
    def epoch(self) -> int:
        return self.run_history.epoch

    @property
    def batch(self) -> int:
        return self.run_history.batch

    @property
    def steps_per_epoch(self) -> int:
        return self._steps

    @property
    def finished(self) -> bool:
        return self.run_history.epoch >= self.epochs

    @property
    def history(self) -> dict:
        return self.run_history.history

    @property
    def test_results(self) -> dict:
        return self.run_history.test_results

    @property
    def last_snapshot(self):
        return self.run_history.last_snapshot

    @property
    def last_message(self) -> str:
        return self.run_history.message

    def batch_loss_history(self) -> list[float]:
        return self.run_history.batch_loss_history()

    def snapshot(self, timeout: float | None = None):
        """The child's last published snapshot (it publishes after every step and run)."""
        return self.run_history.last_snapshot

    def results(self) -> dict:
        """Last epoch's train_/val_ values and the test_ values, for checking `expect`."""
        out = {k if k.startswith("val_") else f"train_{k}": v[-1] for k, v in self.history.items() if v}
        out.update(self.test_results)
        return out

    def confusion_split(self):
        return s.confusion_split(self.prepared)

    def metadata(self) -> dict:
        return s.model_metadata(self.experiment, self.prepared)

    # -- the child ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the training process (with `start=False` the first command starts it: the app
        lets its first frame paint before a second interpreter competes for the CPU)."""
        with self._send_lock:
            if self._conn is None and not self._closed_by_us:
                self._start_child(self.experiment)

    def _post(self, message) -> None:
        """Send one command, starting the process first if need be (raises OSError if it has gone)."""
        with self._send_lock:
            if self._conn is None:
                self._start_child(self.experiment)
            self._conn.send(message)

    def _start_child(self, experiment: Experiment) -> None:
        """Start `python -c "...; _child_entry(FD)"` on one end of a socket pair.

        A plain interpreter rather than multiprocessing's spawn, which re-runs the parent's
        main script (a user's script without an `if __name__ == "__main__"` guard would start
        itself again); and never fork, since the parent runs threads.
        """
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        fd = child_sock.fileno()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", f"from tuinet.remote import _child_entry; _child_entry({fd})"],
                pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=env, close_fds=True)
        finally:
            child_sock.close()
        self._conn = Connection(parent_sock.detach())
        self._closed = False
        self._conn.send((experiment, tuple(self._intervals), self.track_confusion, self.pace, self.record_frames))
        self._reader = threading.Thread(target=self._read_loop, name="tuinet-session-reader", daemon=True)
        self._reader.start()

    def _send(self, command: str, argument=None) -> int:
        seq = next(self._seq)
        if self._closed:
            raise TuinetError(_GONE)
        try:
            self._post((seq, command, argument))
        except (OSError, EOFError, BrokenPipeError):
            raise TuinetError(_GONE) from None
        return seq

    def _running_child(self) -> bool:
        return self._conn is not None and not self._closed

    def _read_loop(self) -> None:
        conn = self._conn
        try:
            while True:
                message = conn.recv()
                kind = message[0]
                if kind == "events":
                    for event in message[1]:
                        self._on_event(event)
                elif kind == "done":
                    waiter = self._waiting.pop(message[1], None)
                    if waiter is not None:
                        waiter.result = message[2]
                        waiter.set()
                elif kind == "future":
                    fut = self._waiting.pop(message[1], None)
                    if fut is not None:
                        if message[2]:
                            fut.set_result(message[3])
                        else:
                            fut.set_exception(message[3])
                elif kind == "fatal":
                    self._child_failed(f"the training process failed: {message[1].strip().splitlines()[-1]}",
                                       message[1])
                    return
        except (EOFError, OSError):
            if not self._closed:
                code = self._process.poll()
                self._child_failed(f"the training process ended unexpectedly (exit code {code})")
        finally:
            self._closed = True
            for waiter in list(self._waiting.values()):
                if isinstance(waiter, Future):
                    if not waiter.done():
                        waiter.set_exception(TuinetError(_GONE))
                else:
                    waiter.result = False
                    waiter.set()
            self._waiting.clear()

    def _child_failed(self, message: str, details: str = "") -> None:
        self._closed = True  # before anyone hears of it: a reset that follows starts a new child
        if self.state != "failed":
            self._deliver(s.StateChanged("failed", epoch=self.epoch, batch=self.batch, message=message))
        self._deliver(s.Failed(message, details))

    def _on_event(self, event) -> None:
        """One child event: a model rebuilt in the child (a loaded file) is rebuilt here too."""
        if isinstance(event, s.SessionReady) and event.experiment is not None \
                and event.experiment != self.experiment:
            try:
                self._set_local(event.experiment)
            except TuinetError:  # pragma: no cover - the child built it from the same inputs
                pass
        self._deliver(event)

    def _deliver(self, event) -> None:
        self._fold(event)
        self.sink(event)

    def close(self, timeout: float = 1.0) -> None:
        """End the child (after its current batch); kill it if it does not go within `timeout`."""
        if self._conn is None:
            self._closed_by_us = True
            return
        if not self._closed:
            try:
                self._send("close")
            except TuinetError:
                pass
        self._closed = True
        self._closed_by_us = True
        try:
            self._process.wait(timeout)
        except Exception:  # subprocess.TimeoutExpired: it is inside a long step
            self._process.kill()
            self._process.wait(1.0)
        self._conn.close()

    # -- settings -----------------------------------------------------------------------------
    def replace_experiment(self, experiment: Experiment) -> None:
        """Record a change that needs no rebuild (a learning rate already set live)."""
        self.experiment = experiment
        self._send("experiment", experiment)

    @property
    def batch_event_interval(self) -> float:
        return self._intervals[0]

    @batch_event_interval.setter
    def batch_event_interval(self, value: float) -> None:
        self._set_interval(0, value)

    @property
    def snapshot_interval(self) -> float:
        return self._intervals[1]

    @snapshot_interval.setter
    def snapshot_interval(self, value: float) -> None:
        self._set_interval(1, value)

    def _set_interval(self, which: int, value: float) -> None:
        """Keep the value (a child not started yet gets it at start) and tell a running child."""
        self._intervals[which] = value
        if self._running_child():
            self._send("intervals", tuple(self._intervals))

    # -- control ------------------------------------------------------------------------------
    def pause(self) -> None:
        if self._running_child():
            self._send("pause")

    def stop(self) -> None:
        if self._running_child():
            self._send("stop")

    def set_learning_rate(self, lr: float) -> None:
        lr = s.checked_learning_rate(lr)
        self.model.optimizer.learning_rate = lr  # what the status bar reads
        self._send("lr", lr)

    def set_pace(self, pace: float) -> None:
        self.pace = s.checked_pace(pace)
        if self._running_child():
            self._send("pace", self.pace)

    def restore(self, frame) -> None:
        """Continue from a recorded frame, in the child (which checks that the frame fits)."""
        self._send("restore", frame)

    def apply(self, experiment: Experiment) -> None:
        """Check here at once (an edit that does not fit raises and changes nothing), then
        rebuild in the child between two of its steps."""
        self._set_local(experiment)
        if not self._restart_if_gone(experiment):
            self._send("apply", experiment)

    def reset(self) -> None:
        if self._restart_if_gone(self.experiment):
            return
        self._send("reset")

    def _restart_if_gone(self, experiment: Experiment) -> bool:
        """After the child died or its connection broke (not after `close()`), start a fresh one
        from `experiment`."""
        if not self._closed or self._closed_by_us or self._process is None:
            return False
        if self._process.poll() is None:  # its connection is gone: it cannot be told anything more
            self._process.kill()
            self._process.wait(1.0)
        if self._conn is not None:
            self._conn.close()
        self._start_child(experiment)
        self.run_history = RunHistory()
        self._deliver(s.StateChanged("ready"))
        self._deliver(self.ready_event())
        self._deliver(self._initial_snapshot())
        return True

    def save_model(self, path) -> Future:
        return self._future("save", str(path))

    def load_weights_from(self, path) -> Future:
        return self._future("load", str(path))

    def _future(self, command: str, argument) -> Future:
        fut: Future = Future()
        seq = next(self._seq)
        try:
            self._waiting[seq] = fut
            self._post((seq, command, argument))
        except (OSError, EOFError, ValueError):
            self._waiting.pop(seq, None)
            fut.set_exception(TuinetError(_GONE))
        return fut

    # -- training (blocks the calling worker thread until the child is done) -------------------
    def _train(self, command: str, argument=None) -> bool:
        waiter = threading.Event()
        waiter.result = False
        seq = next(self._seq)
        self._waiting[seq] = waiter
        try:
            self._post((seq, command, argument))
        except (OSError, EOFError, ValueError):
            self._waiting.pop(seq, None)
            return False
        while not waiter.wait(0.25):
            if self._closed:  # the reader has ended: no answer will come
                break
        return bool(waiter.result)

    def run(self, until_epoch: int | None = None) -> bool:
        return self._train("run", until_epoch)

    def run_epoch(self) -> bool:
        return self._train("epoch")

    def step_batch(self) -> bool:
        return self._train("batch")


# ------------------------------------------------------------------------------- the child side
def _child_entry(fd: int) -> None:
    """The training process: a `TrainingSession` driven by the parent's commands over `fd`."""
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the app's, not ours
    conn = Connection(fd)
    outbox = _Outbox(conn, on_fatal=lambda: os._exit(1))  # the parent sees the report, then the end
    send = outbox.send

    try:
        experiment, intervals, track_confusion, pace, frames = conn.recv()
        _serve(conn, outbox, experiment, intervals, track_confusion, pace, frames)
    except (EOFError, OSError):
        pass  # the parent has gone
    except BaseException:  # noqa: BLE001 - reported to the parent, then exit
        try:
            send(("fatal", traceback.format_exc()))
        except Exception:
            pass
    finally:
        os._exit(0)  # no atexit handlers, no waiting on the reader thread


class _Outbox:
    """The child's sending end: routine events wait up to `EVENT_BATCH` s to leave together.

    A small problem ends hundreds of epochs a second. One message per epoch cost the parent a
    wake-up of its reader thread, a GIL hand-over and a wake-up of the UI each, and the UI's
    key presses waited behind them. Batched, a few dozen messages a second carry the same
    events in the same order. Anything that is not routine (a state change, the end, a
    failure, a reply) goes at once, after whatever waits.
    """

    def __init__(self, conn, interval: float = EVENT_BATCH, on_fatal=None) -> None:
        self._conn = conn
        self._interval = interval
        self._on_fatal = on_fatal  # called after an event could not be sent (the child exits)
        self._cond = threading.Condition()
        self._waiting: list = []
        self._since = 0.0
        threading.Thread(target=self._flusher, name="tuinet-outbox", daemon=True).start()

    def send(self, message) -> None:
        """Send a message now, after the events that wait."""
        with self._cond:
            self._flush()
            self._conn.send(message)

    def event(self, item, routine: bool) -> None:
        """Queue an event; a routine one may wait a little."""
        with self._cond:
            first = not self._waiting
            if first:
                self._since = time.monotonic()
            self._waiting.append(item)
            if not routine:
                self._flush()
            elif first:
                self._cond.notify()  # the flusher sleeps until this one's time is up (one wake-up per batch)

    def _flush(self) -> None:
        if self._waiting:
            batch, self._waiting = self._waiting, []
            self._conn.send(("events", batch))

    def _flusher(self) -> None:
        try:
            with self._cond:
                while True:
                    while not self._waiting:
                        self._cond.wait()
                    left = self._since + self._interval - time.monotonic()
                    if left > 0:
                        self._cond.wait(left)
                        continue  # flushed meanwhile (then it waits for the next first event), or time is up
                    self._flush()
        except (OSError, EOFError, ValueError):
            pass  # the parent has gone; the main loop sees it too
        except Exception:  # noqa: BLE001 - an event that cannot be sent: say so rather than go quiet
            try:
                self._conn.send(("fatal", traceback.format_exc()))
            except Exception:
                pass
            if self._on_fatal is not None:
                self._on_fatal()


_ROUTINE = (s.EpochEnded, s.BatchEnded, s.WeightSnapshot)


def _serve(conn, outbox: _Outbox, experiment, intervals, track_confusion, pace, frames) -> None:
    send = outbox.send

    def sink(event) -> None:
        outbox.event(event, routine=isinstance(event, _ROUTINE))

    session = s.TrainingSession(experiment, sink=sink, batch_event_interval=intervals[0],
                                snapshot_interval=intervals[1], track_confusion=track_confusion, pace=pace,
                                frames=frames)
    jobs: queue.SimpleQueue = queue.SimpleQueue()
    held: list = []  # training commands read but not yet handed to the main loop
    last_pause = [0]

    def reply_future(seq, fut: Future) -> None:
        def done(f) -> None:
            exc = f.exception()
            if exc is None:
                send(("future", seq, True, f.result()))
                return
            try:
                pickle.loads(pickle.dumps(exc))  # an exception the parent cannot rebuild goes as text
            except Exception:
                exc = TuinetError(str(exc))
            send(("future", seq, False, exc))
        fut.add_done_callback(done)

    def read() -> None:
        try:
            while True:
                seq, command, argument = conn.recv()
                try:
                    if handle(seq, command, argument):
                        break
                except TuinetError as exc:
                    session.last_message = str(exc)
                    session._emit(s.Failed(str(exc)))
                if held and not conn.poll(0):
                    # Training starts once the commands already sent are read: a pause sent
                    # right after a run cancels it rather than stopping it after a batch.
                    for job in held:
                        jobs.put(job)
                    held.clear()
        except (EOFError, OSError):
            pass
        session.stop()
        jobs.put(None)

    def handle(seq, command, argument) -> bool:
        if command in _TRAINING_COMMANDS:
            held.append((seq, command, argument))
        elif command == "pause":
            last_pause[0] = seq
            session.pause()
        elif command == "stop":
            last_pause[0] = seq
            session.stop()
        elif command == "close":
            return True
        elif command == "lr":
            session.set_learning_rate(argument)
        elif command == "experiment":
            session._submit(lambda exp=argument: setattr(session, "experiment", exp))
        elif command == "intervals":
            session.batch_event_interval, session.snapshot_interval = argument
        elif command == "apply":
            session._submit(lambda exp=argument: _apply_reported(session, exp))
        elif command == "reset":
            session.reset()
        elif command == "pace":
            session.set_pace(argument)
        elif command == "restore":
            session.restore(argument)
        elif command == "save":
            reply_future(seq, session.save_model(argument))
        elif command == "load":
            reply_future(seq, session.load_weights_from(argument))
        return False

    reader = threading.Thread(target=read, name="tuinet-commands", daemon=True)
    reader.start()
    while True:
        job = jobs.get()
        if job is None:
            return
        seq, command, argument = job
        result = False
        if last_pause[0] < seq:  # a pause sent after this command cancels it
            try:
                if command == "run":
                    result = session.run(until_epoch=argument)
                elif command == "epoch":
                    result = session.run_epoch()
                else:
                    result = session.step_batch()
            except Exception:  # reported as a Failed event by the session; keep serving
                result = False
        send(("done", seq, result))


def _apply_reported(session: s.TrainingSession, experiment: Experiment) -> None:
    """Apply in the child; the parent validated the same edit, so a failure here is reported."""
    try:
        session._apply(experiment)
    except TuinetError as exc:
        session.last_message = str(exc)
        session._emit(s.Failed(str(exc)))

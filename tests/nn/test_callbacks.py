"""Callbacks with Keras 3's logic."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import tuinet
from tuinet import Sequential, callbacks, layers, optimizers
from tuinet.errors import ConfigError


def model_and_data(lr=0.01, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 2)).astype(np.float32)
    y = (x[:, :1] * 2 - x[:, 1:] > 0).astype(np.float32)
    model = Sequential([layers.Dense(4, input_shape=(2,), activation="tanh"), layers.Dense(1, activation="sigmoid")],
                       seed=seed)
    model.compile(optimizer=optimizers.SGD(learning_rate=lr), loss="binary_crossentropy", metrics=["accuracy"])
    return model, x, y


class Scripted(callbacks.Callback):
    """Overwrites a log value each epoch to drive monitor-based callbacks deterministically."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def test_early_stopping_patience_and_restore_best_weights():
    model, x, y = model_and_data()
    seen = []
    record = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(model.get_weights()))
    script = Scripted("val_loss", [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.0])
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=8, verbose=0, callbacks=[script, record, stop])
    assert len(history.history["loss"]) == 4  # best at epoch 2 (index 1), waits 2 more -> stops after index 3
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1
    for a, b in zip(model.get_weights(), seen[1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_min_delta_and_mode_max():
    model, x, y = model_and_data()
    script = Scripted("val_accuracy", [0.5, 0.505, 0.506, 0.6, 0.6, 0.6])
    stop = callbacks.EarlyStopping(monitor="val_accuracy", min_delta=0.01, patience=1)
    assert stop.mode == "max"
    history = model.fit(x, y, epochs=6, verbose=0, callbacks=[script, stop])
    assert len(history.history["loss"]) == 2


def test_reduce_lr_on_plateau():
    model, x, y = model_and_data(lr=0.1)
    script = Scripted("val_loss", [1.0] * 8)
    reduce = callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_lr=0.02)
    history = model.fit(x, y, epochs=8, verbose=0, callbacks=[script, reduce])
    # Keras logs the rate in force during the epoch, then reduces after `patience` flat epochs.
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.02)


def test_learning_rate_scheduler_sets_lr_each_epoch():
    model, x, y = model_and_data(lr=0.1)
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch > 0 else lr)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    model, x, y = model_and_data()
    path = tmp_path / "log.csv"
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.2, callbacks=[callbacks.CSVLogger(path)])
    rows = list(csv.DictReader(path.open()))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert set(rows[0]) == {"epoch", "accuracy", "loss", "val_accuracy", "val_loss"}


def test_model_checkpoint_best_only(tmp_path):
    model, x, y = model_and_data()
    script = Scripted("val_loss", [1.0, 0.5, 0.7, 0.4])
    pattern = str(tmp_path / "m-{epoch:02d}.tuinet")
    ckpt = callbacks.ModelCheckpoint(pattern, monitor="val_loss", save_best_only=True)
    model.fit(x, y, epochs=4, verbose=0, callbacks=[script, ckpt])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-01.tuinet", "m-02.tuinet", "m-04.tuinet"]
    loaded = tuinet.load_model(tmp_path / "m-04.tuinet")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_lambda_callback_hooks_and_batch_logs():
    model, x, y = model_and_data()
    events = []
    cb = callbacks.LambdaCallback(on_train_begin=lambda logs: events.append("begin"),
                                  on_train_batch_end=lambda b, logs: events.append(("batch", b, sorted(logs))),
                                  on_epoch_end=lambda e, logs: events.append(("epoch", e)),
                                  on_train_end=lambda logs: events.append("end"))
    model.fit(x, y, epochs=1, batch_size=30, verbose=0, callbacks=[cb])
    assert events == ["begin", ("batch", 0, ["accuracy", "loss"]), ("batch", 1, ["accuracy", "loss"]),
                      ("epoch", 0), "end"]
    with pytest.raises(ConfigError, match="unknown hook"):
        callbacks.LambdaCallback(on_everything=print)


def test_stop_training_flag_from_a_callback():
    model, x, y = model_and_data()

    class StopAfterTwo(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[StopAfterTwo()])
    assert len(history.history["loss"]) == 2


def test_non_callback_objects_are_rejected():
    model, x, y = model_and_data()
    with pytest.raises(ConfigError, match="Callback instances"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[print])


def test_on_batch_end_is_keras_alias_of_on_train_batch_end():
    """Keras's guide overrides on_batch_end to record per-batch losses."""
    import numpy as np
    import tuinet

    class LossHistory(tuinet.callbacks.Callback):
        def on_train_begin(self, logs):
            self.per_batch_losses = []

        def on_batch_end(self, batch, logs):
            self.per_batch_losses.append(logs.get("loss"))

    model = tuinet.Sequential([tuinet.Input((3,)), tuinet.layers.Dense(1)], seed=0)
    model.compile("sgd", "mse")
    history = LossHistory()
    model.fit(np.ones((40, 3)), np.zeros((40, 1)), batch_size=8, epochs=2, verbose=0, callbacks=[history])
    assert len(history.per_batch_losses) == 10 and all(isinstance(v, float) for v in history.per_batch_losses)

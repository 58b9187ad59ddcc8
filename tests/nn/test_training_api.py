"""Keras 3 training API of `Sequential`: sample/class weights, initial_epoch, validation_freq,
evaluate/predict callbacks, the callback protocol and ModelCheckpoint.

Expected numbers come from Keras 3.15.1 (torch backend) on the same weights and data.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tuinet import Sequential, callbacks, layers, optimizers
from tuinet.errors import ConfigError, ShapeError

X = np.array([[1., 2.], [0.5, -1.], [-1., 0.], [2., 1.]], dtype="float32")
Y = np.array([[1.], [0.], [2.], [-1.]], dtype="float32")
SW = np.array([1., 2., 0., 0.5], dtype="float32")
K = np.array([[0.5], [-0.25]], dtype="float32")
B = np.array([0.1], dtype="float32")


def _regressor(lr: float = 0.1) -> Sequential:
    model = Sequential([layers.Input((2,)), layers.Dense(1)])
    model.set_weights([K, B])
    model.compile(optimizer=optimizers.SGD(lr), loss="mse")
    return model


def _classifier() -> Sequential:
    model = Sequential([layers.Input((2,)), layers.Dense(3, activation="softmax")])
    model.set_weights([np.array([[0.2, -0.1, 0.3], [0.0, 0.4, -0.2]], "float32"), np.zeros(3, "float32")])
    model.compile(optimizer=optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


XC = np.array([[1., 0.], [0., 1.], [1., 1.], [-1., 0.5]], dtype="float32")
YC = np.array([0, 1, 2, 1])


# -- 1. fit: sample_weight, class_weight, initial_epoch, validation_freq ------------------------

def test_evaluate_sample_weight_divides_by_sample_count_as_keras():
    model = _regressor()
    assert model.evaluate(X, Y, sample_weight=SW, verbose=0, batch_size=4) == pytest.approx(0.8103125, rel=1e-5)
    assert model.evaluate(X, Y, verbose=0, batch_size=4) == pytest.approx(2.5881252, rel=1e-5)


def test_fit_sample_weight_matches_keras():
    model = _regressor()
    history = model.fit(X, Y, sample_weight=SW, batch_size=4, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], [0.8103125, 0.6286144], rtol=1e-5)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel.ravel(), [0.357375, -0.0669375], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bias, [-0.00275], rtol=1e-4, atol=1e-7)


def test_fit_class_weight_matches_keras_through_the_fused_softmax():
    model = _classifier()
    history = model.fit(XC, YC, class_weight={0: 1.0, 1: 3.0, 2: 0.5}, batch_size=2, epochs=2, shuffle=False,
                        verbose=0)
    np.testing.assert_allclose(history.history["loss"], [1.3738337, 0.8000489], rtol=1e-5)
    # Keras's plain `metrics` are not weighted.
    np.testing.assert_allclose(history.history["accuracy"], [0.5, 0.75])
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel, [[0.6303903, -0.7191141, 0.4887239], [-0.4593784, 0.9870979, -0.3277196]],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias, [-0.2242278, 0.6086607, -0.384433], rtol=1e-5, atol=1e-6)


def test_class_weight_with_one_hot_labels_uses_argmax():
    sparse, onehot = _classifier(), _classifier()
    onehot.compile(optimizer=optimizers.SGD(0.5), loss="categorical_crossentropy")
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    a = sparse.fit(XC, YC, class_weight=cw, batch_size=2, epochs=1, shuffle=False, verbose=0)
    b = onehot.fit(XC, np.eye(3)[YC], class_weight=cw, batch_size=2, epochs=1, shuffle=False, verbose=0)
    assert a.history["loss"] == pytest.approx(b.history["loss"], rel=1e-5)


def test_sample_weight_and_class_weight_together_are_refused():
    with pytest.raises(ConfigError, match="class_weight and sample_weight"):
        _classifier().fit(XC, YC, class_weight={0: 2.0}, sample_weight=np.ones(4), verbose=0)


def test_sample_weight_of_the_wrong_length_is_refused():
    with pytest.raises(ShapeError, match="one weight per sample"):
        _regressor().fit(X, Y, sample_weight=np.ones(3), verbose=0)


def test_zero_weights_leave_the_model_unchanged():
    model = _regressor()
    model.fit(X, Y, sample_weight=np.zeros(4), batch_size=2, epochs=2, verbose=0)
    np.testing.assert_allclose(model.get_weights()[0], K)


def test_train_and_test_on_batch_take_sample_weight():
    model = _regressor()
    assert model.test_on_batch(X, Y, sample_weight=SW) == pytest.approx(0.8103125, rel=1e-5)
    assert model.train_on_batch(X, Y, sample_weight=SW) == pytest.approx(0.8103125, rel=1e-5)
    np.testing.assert_allclose(model.get_weights()[0].ravel(), [0.4225, -0.14625], rtol=1e-5)
    np.testing.assert_allclose(model.get_weights()[1], [0.03875], rtol=1e-5)


def test_validation_data_with_sample_weights():
    model = _regressor()
    history = model.fit(X, Y, validation_data=(X, Y, SW), epochs=1, verbose=0, shuffle=False, batch_size=4)
    # validation runs after the step; compare with evaluate on the trained model
    assert history.history["val_loss"][0] == pytest.approx(
        model.evaluate(X, Y, sample_weight=SW, verbose=0), rel=1e-6)


def test_initial_epoch_and_validation_freq_as_keras():
    model = _regressor(0.01)
    history = model.fit(X, Y, validation_data=(X, Y), validation_freq=2, initial_epoch=1, epochs=5, verbose=0)
    assert history.epoch == [1, 2, 3, 4]
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2


def test_validation_freq_list():
    seen = []
    cb = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append("val_loss" in logs))
    _regressor(0.01).fit(X, Y, validation_data=(X, Y), validation_freq=[1, 3], epochs=4, verbose=0, callbacks=[cb])
    assert seen == [True, False, True, False]


def test_initial_epoch_is_shown_in_the_progress_lines(capsys):
    _regressor(0.01).fit(X, Y, initial_epoch=2, epochs=4, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 3/4" in out and "Epoch 4/4" in out and "Epoch 1/4" not in out


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_validation_freq(bad):
    with pytest.raises(ConfigError, match="validation_freq"):
        _regressor().fit(X, Y, validation_freq=bad, verbose=0)


# -- 2. evaluate / predict callbacks ------------------------------------------------------------

class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_test_begin(self, logs=None):
        self.calls.append(("test_begin",))

    def on_test_batch_end(self, batch, logs=None):
        self.calls.append(("test_batch_end", batch, round(logs["loss"], 6)))

    def on_test_end(self, logs=None):
        self.calls.append(("test_end", round(logs["loss"], 6)))

    def on_predict_begin(self, logs=None):
        self.calls.append(("predict_begin",))

    def on_predict_batch_end(self, batch, logs=None):
        self.calls.append(("predict_batch_end", batch, logs["outputs"].shape))

    def on_predict_end(self, logs=None):
        self.calls.append(("predict_end",))


def test_evaluate_callbacks_and_return_dict():
    rec = Recorder()
    logs = _regressor().evaluate(X, Y, batch_size=2, verbose=0, callbacks=[rec], return_dict=True)
    assert logs == {"loss": pytest.approx(2.5881252, rel=1e-5)}
    assert [c[0] for c in rec.calls] == ["test_begin", "test_batch_end", "test_batch_end", "test_end"]
    assert rec.calls[-1][1] == pytest.approx(2.588125, rel=1e-5)
    assert rec.params == {"verbose": 0, "epochs": 1, "steps": 2}


def test_predict_callbacks():
    rec = Recorder()
    out = _regressor().predict(X, batch_size=3, verbose=0, callbacks=[rec])
    assert out.shape == (4, 1)
    assert rec.calls == [("predict_begin",), ("predict_batch_end", 0, (3, 1)), ("predict_batch_end", 1, (1, 1)),
                         ("predict_end",)]


def test_fit_validation_calls_the_test_hooks():
    rec = Recorder()
    _regressor(0.01).fit(X, Y, validation_data=(X, Y), epochs=2, batch_size=4, verbose=0, callbacks=[rec])
    assert [c[0] for c in rec.calls].count("test_end") == 2


# -- 3. callback protocol ----------------------------------------------------------------------

def test_callback_model_params_and_batch_logs():
    seen = {}

    class Probe(callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["model"], seen["params"] = self.model, dict(self.params)

        def on_train_batch_end(self, batch, logs=None):
            seen.setdefault("batches", []).append((batch, sorted(logs)))

    model = _regressor(0.01)
    model.fit(X, Y, batch_size=2, epochs=1, verbose=0, callbacks=[Probe()])
    assert seen["model"] is model
    assert seen["params"] == {"verbose": 0, "epochs": 1, "steps": 2}
    assert seen["batches"] == [(0, ["loss"]), (1, ["loss"])]


def test_stop_training_from_epoch_end_stops_after_that_epoch():
    def stop(epoch, logs):
        if epoch == 1:
            model.stop_training = True

    model = _regressor(0.01)
    history = model.fit(X, Y, epochs=5, verbose=0, callbacks=[callbacks.LambdaCallback(on_epoch_end=stop)])
    assert history.epoch == [0, 1]


def test_stop_training_from_a_batch_ends_the_epoch_there():
    batches = []

    def stop(batch, logs):
        batches.append(batch)
        model.stop_training = True

    model = _regressor(0.01)
    history = model.fit(X, Y, batch_size=1, epochs=3, verbose=0, validation_data=(X, Y),
                        callbacks=[callbacks.LambdaCallback(on_train_batch_end=stop)])
    assert batches == [0] and history.epoch == [0]
    assert len(history.history["val_loss"]) == 1  # Keras still validates the stopped epoch


# -- 4. ModelCheckpoint ------------------------------------------------------------------------

def test_checkpoint_creates_its_folder_and_formats_the_name(tmp_path):
    pattern = os.path.join(tmp_path, "ckpt", "sub", "{epoch:02d}-{val_loss:.2f}.tuinet")
    model = _regressor(0.01)
    history = model.fit(X, Y, validation_data=(X, Y), epochs=2, verbose=0,
                        callbacks=[callbacks.ModelCheckpoint(pattern)])
    names = sorted(os.listdir(tmp_path / "ckpt" / "sub"))
    assert names == [f"{i + 1:02d}-{v:.2f}.tuinet" for i, v in enumerate(history.history["val_loss"])]


def _monitored(key: str, values: list, saved: list):
    """A callback writing `values` into the epoch logs under `key`, and a ModelCheckpoint that
    appends to `saved` the epochs at which its best value changed (it saved)."""
    feed = iter(values)

    class Fake(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs[key] = next(feed)

    class Spy(callbacks.ModelCheckpoint):
        def on_epoch_end(self, epoch, logs=None):
            before = self.best
            super().on_epoch_end(epoch, logs)
            if self.best != before:
                saved.append(epoch)

    return Fake, Spy


def test_checkpoint_save_best_only_and_weights_only(tmp_path):
    path = str(tmp_path / "w" / "best.weights.tuinet")
    saved = []
    Fake, Spy = _monitored("val_loss", [3.0, 1.0, 2.0, 0.5], saved)
    model = _regressor(0.01)
    model.fit(X, Y, epochs=4, verbose=0,
              callbacks=[Fake(), Spy(path, monitor="val_loss", save_best_only=True, save_weights_only=True)])
    assert saved == [0, 1, 3]
    fresh = _regressor(0.01)
    fresh.load_weights(path)
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b)


def test_checkpoint_mode_max(tmp_path):
    saved = []
    Fake, Spy = _monitored("acc", [0.5, 0.4, 0.9], saved)

    _regressor(0.01).fit(X, Y, epochs=3, verbose=0,
                         callbacks=[Fake(), Spy(str(tmp_path / "m.tuinet"), monitor="acc", mode="max",
                                               save_best_only=True)])
    assert saved == [0, 2] and os.path.exists(tmp_path / "m.tuinet")


def test_weighted_metrics_use_the_sample_weights_and_keras_names():
    """compile(weighted_metrics=...): weighted by sample_weight/class_weight; named
    "weighted_<name>" beside a plain metric of that name (as Keras 3); saved and loaded."""
    import tuinet

    rng = np.random.default_rng(0)
    x, y, sw = rng.normal(size=(32, 3)).astype("float32"), rng.integers(0, 2, 32), rng.uniform(size=32)
    model = tuinet.Sequential([tuinet.Input((3,)), tuinet.layers.Dense(2, activation="softmax")], seed=0)
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"], weighted_metrics=["accuracy"])
    logs = model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    hits = model.predict(x, verbose=0).argmax(-1) == y
    assert logs["accuracy"] == pytest.approx(hits.mean())
    assert logs["weighted_accuracy"] == pytest.approx((hits * sw).sum() / sw.sum(), rel=1e-6)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["weighted_accuracy"] == pytest.approx(hits.mean())
    alone = tuinet.Sequential([tuinet.Input((3,)), tuinet.layers.Dense(2, activation="softmax")], seed=0)
    alone.compile("sgd", "sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
    assert sorted(alone.fit(x, y, class_weight={0: 1.0, 1: 3.0}, verbose=0).history) == ["accuracy", "loss"]

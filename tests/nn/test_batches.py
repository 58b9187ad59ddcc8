"""fit / evaluate / predict on data served in batches: Keras's PyDataset (Sequence) and generators."""

import math

import numpy as np
import pytest

import tuinet
from tuinet import ConfigError, layers


class Batches(tuinet.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.ends = 0

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i):
        lo = i * self.batch_size
        return self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]

    def on_epoch_end(self):
        self.ends += 1


def _data(n=70):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


def _model():
    model = tuinet.Sequential([tuinet.Input((4,)), layers.Dense(8, activation="tanh"),
                               layers.Dense(2, activation="softmax")], seed=3)
    model.compile(tuinet.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_pydataset_trains_exactly_like_the_same_batches_as_arrays():
    x, y = _data()
    a, b = _model(), _model()
    ds = Batches(x, y, 16)
    ha = a.fit(ds, epochs=3, verbose=0, validation_data=Batches(x[:20], y[:20], 8))
    hb = b.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0, validation_data=(x[:20], y[:20]))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert np.allclose(ha.history[key], hb.history[key], rtol=1e-6), key
    assert ds.ends == 3  # on_epoch_end after every epoch
    assert all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))
    assert np.allclose(a.evaluate(ds, verbose=0), b.evaluate(x, y, verbose=0, batch_size=16))
    assert np.array_equal(a.predict(ds, verbose=0), a.predict(x, verbose=0))


def test_a_generator_with_steps_per_epoch_and_a_finite_one():
    x, y = _data()

    def forever():
        while True:
            yield x[:16], y[:16]

    model = _model()
    history = model.fit(forever(), steps_per_epoch=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    finite = ((x[i:i + 10], y[i:i + 10]) for i in range(0, 70, 10))
    history = _model().fit(finite, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1
    assert isinstance(model.evaluate(forever(), steps=2, verbose=0), list)
    assert model.predict(((x[i:i + 7],) for i in range(0, 70, 7)), verbose=0).shape == (70, 2)


def test_batch_sources_refuse_conflicting_arguments_in_one_line():
    x, y = _data()
    model = _model()
    for kwargs in ({"y": y}, {"validation_split": 0.2}):
        with pytest.raises(ConfigError) as exc:
            model.fit(Batches(x, y, 16), verbose=0, **kwargs)
        assert "\n" not in str(exc.value) and "batches carry the targets" in str(exc.value)
    with pytest.raises(ConfigError, match="steps_per_epoch and validation_steps apply to a PyDataset"):
        model.fit(x, y, steps_per_epoch=3, verbose=0)
    with pytest.raises(ConfigError, match="batches must carry targets"):
        model.fit(iter([x[:4]]), verbose=0)
    with pytest.raises(ConfigError, match="steps_per_epoch must be a positive integer"):
        model.fit(iter([(x, y)]), steps_per_epoch=0, verbose=0)
    with pytest.raises(ConfigError, match="the generator gave no batch"):
        model.fit(iter([]), verbose=0)

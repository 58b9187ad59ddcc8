"""Masks (issue 13): Embedding(mask_zero=True) and recurrent layers that skip masked steps."""

from __future__ import annotations

import numpy as np
import pytest

from tests.nn.gradcheck import check_layer
from tuinet.nn.layers.core import Dense, Dropout
from tuinet.nn.layers.embedding import Embedding
from tuinet.nn.layers.recurrent import GRU, LSTM, SimpleRNN
from tuinet.nn.model import Sequential

MASK = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=bool)

RNNS = [
    (SimpleRNN, {}), (SimpleRNN, {"activation": "relu"}),
    (LSTM, {}), (LSTM, {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
    (GRU, {}), (GRU, {"reset_after": False}), (GRU, {"activation": "relu"}),
]


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("backwards", [False, True])
@pytest.mark.parametrize("cls,kw", RNNS)
def test_masked_gradients(cls, kw, seq, backwards):
    layer = cls(3, return_sequences=seq, go_backwards=backwards, **kw)
    check_layer(layer, (3, 5, 2), mask=MASK)


@pytest.mark.parametrize("cls,kw", RNNS)
def test_masked_steps_equal_dropped_steps(cls, kw):
    """A sample's masked steps leave the state as if they were absent; outputs repeat."""
    layer = cls(4, return_sequences=True, **kw)
    x = np.random.default_rng(0).normal(size=(3, 5, 2))
    layer.build_for(x.shape[1:], np.random.default_rng(1))
    out = layer.forward(x, mask=MASK)
    for b in range(3):
        kept = np.flatnonzero(MASK[b])
        ref = layer.forward(x[b:b + 1, kept])[0]
        last = np.zeros(4)
        for t in range(5):
            if MASK[b, t]:
                last = ref[list(kept).index(t)]
            np.testing.assert_allclose(out[b, t], last, rtol=1e-5, atol=1e-6)


def test_all_true_mask_is_no_mask():
    layer = LSTM(3, return_sequences=True)
    x = np.random.default_rng(0).normal(size=(2, 4, 2))
    layer.build_for(x.shape[1:], np.random.default_rng(1))
    np.testing.assert_array_equal(layer.forward(x, mask=np.ones((2, 4), bool)), layer.forward(x))


def test_embedding_mask_zero_in_sequential():
    ids = np.array([[3, 5, 0, 0], [2, 0, 0, 0]])
    model = Sequential([Embedding(8, 4, mask_zero=True), Dropout(0.1), GRU(3)], seed=0)
    model.build((None, 4))
    out = model.predict(ids, verbose=0)
    emb, _, gru = model.layers
    trimmed = [gru.forward(emb.forward(ids[:1, :2]))[0], gru.forward(emb.forward(ids[1:, :1]))[0]]
    np.testing.assert_allclose(out, np.stack(trimmed), rtol=1e-5, atol=1e-6)
    assert Embedding(8, 4, mask_zero=True).get_config()["mask_zero"] is True


def test_mask_ends_at_a_reducing_layer_and_passes_dense():
    emb = Embedding(8, 2, mask_zero=True)
    ids = np.array([[1, 0]])
    mask = emb.compute_mask(ids, None)
    np.testing.assert_array_equal(mask, [[True, False]])
    assert Dense(2).compute_mask(None, mask) is mask
    assert LSTM(2).compute_mask(None, mask) is None
    assert LSTM(2, return_sequences=True).compute_mask(None, mask) is mask


def test_masked_model_trains():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 6, size=(16, 6))
    ids[:, 4:] = 0
    y = rng.normal(size=(16, 1))
    model = Sequential([Embedding(6, 4, mask_zero=True), LSTM(4), Dense(1)], seed=0)
    model.compile("adam", "mse")
    hist = model.fit(ids, y, epochs=3, batch_size=8, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))


# ---------------------------------------------------------------------- Bidirectional
@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("seq", [True, False])
def test_bidirectional_masked_gradients(mode, seq):
    from tuinet.nn.layers.wrappers import Bidirectional

    mask = np.array([[True, True, False, True, False], [False, True, True, True, True], [True, False, False, False, False]])
    check_layer(Bidirectional(LSTM(3, return_sequences=seq), merge_mode=mode), (3, 5, 4), mask=mask)


def test_bidirectional_zeroes_masked_steps_and_passes_the_mask_on():
    from tuinet.nn.layers.wrappers import Bidirectional

    ids = np.array([[3, 5, 0, 2, 0, 0], [0, 1, 4, 4, 2, 7]])
    model = Sequential([Embedding(8, 4, mask_zero=True, input_shape=(6,)),
                        Bidirectional(LSTM(3, return_sequences=True)), Dense(2)], seed=0)
    out = model.predict(ids, verbose=0)
    assert out.shape == (2, 6, 2)
    inner = Sequential([Embedding(8, 4, mask_zero=True, input_shape=(6,)),
                        Bidirectional(LSTM(3, return_sequences=True))], seed=0)
    h = inner.predict(ids, verbose=0)
    assert np.all(h[ids == 0] == 0)  # Keras's zero_output_for_mask
    assert np.all(np.abs(h[ids != 0]).sum(axis=-1) > 0)

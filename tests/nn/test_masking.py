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


# ---------------------------------------------------------------------- masked loss
# Keras 3.15.1 (torch backend) multiplies the per-step losses by the output mask and averages over
# the kept steps (`apply_mask`); the numbers below come from it, with the same starting weights.
LOSS_IDS = np.array([[1, 3, 0, 2], [4, 0, 0, 0]])  # mask [[1, 1, 0, 1], [1, 0, 0, 0]]
LOSS_Y = np.linspace(-1, 1, 16).reshape(2, 4, 2).astype("float32")


def _masked_lstm_model(seed=0, units=2, activation=None, loss="mse", rnn=LSTM):
    from tuinet.nn import optimizers

    model = Sequential([Embedding(5, 2, mask_zero=True), rnn(3, return_sequences=True),
                        Dense(units, activation=activation)])
    model.build((None, 4))
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in model.get_weights()])
    model.compile(optimizer=optimizers.SGD(0.1), loss=loss)
    return model


def test_masked_loss_matches_keras():
    model = _masked_lstm_model()
    assert model.evaluate(LOSS_IDS, LOSS_Y, batch_size=2, verbose=0) == pytest.approx(1.0176740884780884, rel=1e-5)
    assert model.evaluate(LOSS_IDS, LOSS_Y, sample_weight=np.array([2.0, 0.5]), batch_size=2,
                          verbose=0) == pytest.approx(1.88548743724823, rel=1e-5)
    assert model.train_on_batch(LOSS_IDS, LOSS_Y) == pytest.approx(1.0176740884780884, rel=1e-5)
    w = model.get_weights()
    np.testing.assert_allclose(w[-1], [-0.37748101353645325, 0.716251790523529], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(w[3], [0.022224342450499535, 0.3395214080810547, 0.5029531717300415,
                                      -0.3101816177368164, 0.9101983904838562, -0.6602007746696472,
                                      -0.3122495710849762, 0.45477256178855896, -0.0023580652195960283,
                                      0.9993202686309814, 0.09120416641235352, -0.31530052423477173],
                               rtol=1e-4, atol=1e-6)


def test_masked_loss_with_sample_weight_matches_keras():
    """Keras needs one weight per step with a mask ([[2]*4, [0.5]*4] here); a per-sample weight
    scales all of that sample's steps, the same thing."""
    for sw in (np.array([2.0, 0.5]), np.repeat([[2.0], [0.5]], 4, axis=1)):
        model = _masked_lstm_model()
        assert model.train_on_batch(LOSS_IDS, LOSS_Y, sample_weight=sw) == pytest.approx(1.88548743724823, rel=1e-5)
        w = model.get_weights()
        np.testing.assert_allclose(w[-1], [-0.39644503593444824, 0.6157175898551941], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(w[-2], [[-0.18443799018859863, -0.5069699883460999],
                                           [-0.6396955251693726, 0.27822864055633545],
                                           [0.2889545261859894, 0.657478392124176]], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(w[0][1:3], [[0.31316402554512024, 0.062163081020116806],
                                               [-0.269595742225647, 0.18303893506526947]], rtol=1e-4, atol=1e-6)


def test_masked_loss_fused_softmax_sparse_crossentropy_matches_keras():
    model = _masked_lstm_model(seed=1, units=3, activation="softmax", loss="sparse_categorical_crossentropy",
                               rnn=GRU)
    y = np.array([[0, 2, 1, 1], [2, 0, 1, 0]])
    assert model.train_on_batch(LOSS_IDS, y) == pytest.approx(1.0689749717712402, rel=1e-5)
    w = model.get_weights()
    np.testing.assert_allclose(w[-1], [-0.8101968765258789, -0.5930695533752441, 0.4321548342704773],
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(w[3], [[-0.536147952079773, 0.4569268822669983, -0.009727328084409237,
                                       -0.6248089075088501, -0.157057985663414, 0.026845451444387436,
                                       0.13389098644256592, -0.4945940375328064, -0.5531197786331177],
                                      [0.09953796118497849, -0.23368152976036072, 0.11805720627307892,
                                       0.3793253004550934, -0.8245019316673279, 0.12698838114738464,
                                       0.6113125681877136, -0.1497155725955963, -0.40526995062828064]],
                               rtol=1e-4, atol=1e-6)


def test_masked_steps_get_no_gradient():
    """Targets at masked steps change neither the loss nor the step; fit agrees with train_on_batch."""
    a, b = _masked_lstm_model(), _masked_lstm_model()
    y2 = LOSS_Y.copy()
    y2[LOSS_IDS == 0] = 100.0
    assert a.train_on_batch(LOSS_IDS, LOSS_Y) == pytest.approx(b.train_on_batch(LOSS_IDS, y2), rel=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    c = _masked_lstm_model()
    hist = c.fit(LOSS_IDS, y2, batch_size=2, epochs=1, shuffle=False, verbose=0)
    assert hist.history["loss"][0] == pytest.approx(1.0176740884780884, rel=1e-5)
    for wa, wc in zip(a.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wa, wc, rtol=1e-5, atol=1e-7)


def test_masked_loss_all_steps_masked_is_zero():
    model = _masked_lstm_model()
    assert model.evaluate(np.zeros((2, 4), int), LOSS_Y, verbose=0) == 0.0


def test_masked_loss_sample_weight_shape_error():
    from tuinet.errors import ShapeError

    model = _masked_lstm_model()
    with pytest.raises(ShapeError, match="output mask of shape"):
        model.train_on_batch(LOSS_IDS, LOSS_Y, sample_weight=np.ones((2, 3)))


def test_global_average_pooling_1d_averages_the_kept_steps():
    """Keras's GlobalAveragePooling1D with a mask: the mean over the unmasked steps only."""
    from tuinet.nn.layers.pooling import GlobalAveragePooling1D

    check_layer(GlobalAveragePooling1D(), (3, 5, 2), mask=MASK)
    x = np.arange(30, dtype=np.float32).reshape(3, 5, 2)
    out = GlobalAveragePooling1D().forward(x, mask=MASK)
    for row in range(3):
        np.testing.assert_allclose(out[row], x[row][MASK[row]].mean(axis=0), rtol=1e-6)
    none_kept = GlobalAveragePooling1D().forward(x, mask=np.zeros((3, 5), bool))
    assert np.array_equal(none_kept, np.zeros((3, 2), np.float32))  # Keras gives NaN here


def test_metrics_of_a_masked_sequence_output_count_the_kept_steps_only():
    """Keras's compiled metrics use the output's mask: accuracy over the kept steps (Keras 3.15
    gives 0.3974 on the data of tests' keras check; here: against a count by hand)."""
    import tuinet

    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, (16, 8))
    for row, cut in enumerate(rng.integers(0, 6, 16)):
        ids[row, :cut] = 0
    y = rng.integers(0, 3, (16, 8))
    model = tuinet.Sequential([tuinet.Input((8,), dtype="int32"), tuinet.layers.Embedding(20, 4, mask_zero=True),
                               tuinet.layers.LSTM(5, return_sequences=True),
                               tuinet.layers.Dense(3, activation="softmax")], seed=0)
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy", "sparse_categorical_crossentropy"])
    logs = model.evaluate(ids, y, verbose=0, return_dict=True, batch_size=16)
    kept = ids != 0
    hits = (model.predict(ids, verbose=0).argmax(-1) == y) & kept
    assert logs["accuracy"] == pytest.approx(hits.sum() / kept.sum(), rel=1e-6)
    assert logs["sparse_categorical_crossentropy"] == pytest.approx(logs["loss"], rel=1e-5)  # masked alike

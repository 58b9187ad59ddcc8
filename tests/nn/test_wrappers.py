"""Wrapper layers: Bidirectional and TimeDistributed (gradients, Keras semantics, configs, files)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.nn.gradcheck import check_layer
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import layers as L
from tuinet.nn.layers import deserialize, serialize
from tuinet.nn.model import Sequential
from tuinet.nn.serialization import load_model

RNNS = ("SimpleRNN", "LSTM", "GRU")
MODES = ("concat", "sum", "mul", "ave")


def built(layer, shape, seed=0):
    layer.build_for(shape, np.random.default_rng(seed))
    return layer


# -- Bidirectional ---------------------------------------------------------------------------
@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seq", [False, True])
def test_bidirectional_gradients(cls, mode, seq):
    check_layer(L.Bidirectional(getattr(L, cls)(3, return_sequences=seq), merge_mode=mode), (2, 4, 3))


def test_bidirectional_gradients_custom_backward_layer():
    layer = L.Bidirectional(L.LSTM(3, return_sequences=True),
                            backward_layer=L.GRU(2, return_sequences=True, go_backwards=True))
    check_layer(layer, (2, 5, 3))
    assert layer.output_shape == (5, 5)


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_bidirectional_is_a_forward_and_a_reversed_layer(seq, mode):
    x = np.random.default_rng(1).normal(size=(3, 6, 4))
    bi = built(L.Bidirectional(L.GRU(5, return_sequences=seq), merge_mode=mode), (6, 4))
    fw = built(L.GRU(5, return_sequences=seq), (6, 4))
    bw = built(L.GRU(5, return_sequences=seq, go_backwards=True), (6, 4))
    w = bi.get_weights()
    fw.set_weights(w[:3])
    bw.set_weights(w[3:])
    yf, yb = fw(x), bw(x)
    if seq:
        yb = yb[:, ::-1]  # back in time order before merging
    ref = {"concat": np.concatenate([yf, yb], -1), "sum": yf + yb, "mul": yf * yb, "ave": (yf + yb) / 2}[mode]
    np.testing.assert_allclose(bi(x), ref, rtol=1e-6, atol=1e-7)
    assert bi.output_shape == ref.shape[1:]


def test_bidirectional_names_weights_and_defaults():
    bi = L.Bidirectional(L.LSTM(4, name="enc"))
    assert bi.merge_mode == "concat" and L.Bidirectional.default_name() == "bidirectional"
    assert bi.forward_layer.name == "forward_enc" and bi.backward_layer.name == "backward_enc"
    assert not bi.forward_layer.go_backwards and bi.backward_layer.go_backwards
    built(bi, (7, 3))
    assert bi.output_shape == (8,)
    assert bi.weight_names == ["forward_enc/kernel", "forward_enc/recurrent_kernel", "forward_enc/bias",
                               "backward_enc/kernel", "backward_enc/recurrent_kernel", "backward_enc/bias"]
    assert [w.shape for w in bi.get_weights()] == [(3, 16), (4, 16), (16,)] * 2
    assert bi.count_params() == 2 * (3 * 16 + 4 * 16 + 16) == bi.count_params((7, 3))
    assert bi.weight_specs((7, 3))[0] == ("forward_enc/kernel", (3, 16), True)
    unnamed = L.Bidirectional(L.SimpleRNN(2))
    assert (unnamed.forward_layer.name, unnamed.backward_layer.name) == ("forward_simple_rnn", "backward_simple_rnn")


def test_bidirectional_initial_weights():
    ref = built(L.Bidirectional(L.SimpleRNN(3)), (5, 2))
    w = [a + 1 for a in ref.get_weights()]
    bi = built(L.Bidirectional(L.SimpleRNN(3), weights=w), (5, 2))
    for a, b in zip(bi.get_weights(), w):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ShapeError):
        built(L.Bidirectional(L.SimpleRNN(3), weights=w[:2] + w[2:4]), (5, 3))


def test_bidirectional_refusals():
    with pytest.raises(ConfigError, match="merge_mode=None") as err:
        L.Bidirectional(L.LSTM(3), merge_mode=None)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="merge_mode"):
        L.Bidirectional(L.LSTM(3), merge_mode="max")
    with pytest.raises(ConfigError, match="go_backwards"):
        L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(3))
    with pytest.raises(ConfigError, match="go_backwards"):
        L.Bidirectional(L.LSTM(3, go_backwards=True))
    with pytest.raises(ConfigError, match="return_sequences"):
        L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(3, go_backwards=True, return_sequences=True))
    with pytest.raises(ConfigError, match="recurrent layer"):
        L.Bidirectional(L.Dense(3))
    with pytest.raises(ConfigError, match="layer instance"):
        L.Bidirectional("lstm")
    with pytest.raises(ShapeError):
        built(L.Bidirectional(L.LSTM(3), merge_mode="sum", backward_layer=L.GRU(2, go_backwards=True)), (4, 2))


def test_bidirectional_config_round_trip():
    bi = L.Bidirectional(L.GRU(3, return_sequences=True, reset_after=False), merge_mode="mul", name="bi")
    cfg = json.loads(json.dumps(bi.get_config()))
    assert cfg["merge_mode"] == "mul" and cfg["name"] == "bi"
    assert cfg["layer"]["class_name"] == "GRU" and cfg["layer"]["config"]["name"] == "forward_gru"
    assert cfg["backward_layer"]["config"]["go_backwards"] is True
    again = deserialize(json.loads(json.dumps(serialize(bi))))
    assert again.get_config() == bi.get_config()
    assert again.forward_layer.name == "forward_gru" and again.backward_layer.name == "backward_gru"
    # Keras's own config shape (a "layer" dict, no backward_layer) also loads
    spec = {"class_name": "Bidirectional", "config": {"merge_mode": "sum", "layer": serialize(L.LSTM(2))}}
    assert deserialize(spec).backward_layer.go_backwards


# -- TimeDistributed -------------------------------------------------------------------------
@pytest.mark.parametrize("make, shape", [
    (lambda: L.Dense(3, activation="tanh"), (2, 4, 5)),
    (lambda: L.Dense(2, activation="softmax"), (2, 3, 4, 5)),
    (lambda: L.Conv2D(2, 3, padding="same"), (2, 3, 5, 4, 2)),
    (lambda: L.Flatten(), (2, 3, 2, 2)),
    (lambda: L.LSTM(3), (2, 3, 4, 2)),
    (lambda: L.LayerNormalization(), (2, 3, 4)),
])
def test_time_distributed_gradients(make, shape):
    check_layer(L.TimeDistributed(make()), shape)


def test_time_distributed_applies_the_layer_to_every_step():
    x = np.random.default_rng(2).normal(size=(3, 4, 6, 6, 2))
    td = built(L.TimeDistributed(L.Conv2D(5, 3)), x.shape[1:])
    assert td.output_shape == (4, 4, 4, 5) and td.weight_names == ["kernel", "bias"]
    y = td(x)
    for t in range(4):
        np.testing.assert_allclose(y[:, t], td.layer.forward(x[:, t]), rtol=1e-6)
    assert L.TimeDistributed.default_name() == "time_distributed"
    with pytest.raises(ShapeError, match="at least 3 axes"):
        built(L.TimeDistributed(L.Dense(2)), (4,))
    with pytest.raises(ConfigError, match="layer instance"):
        L.TimeDistributed(4)


def test_time_distributed_config_round_trip():
    td = L.TimeDistributed(L.Dense(4, activation="relu", name="proj"), name="td")
    cfg = json.loads(json.dumps(td.get_config()))
    assert cfg["layer"] == serialize(td.layer)
    again = deserialize(json.loads(json.dumps(serialize(td))))
    assert again.get_config() == td.get_config() and again.layer.units == 4


# -- in models -------------------------------------------------------------------------------
def tagging_model(seed=0):
    return Sequential([L.Input((6, 3)), L.Bidirectional(L.LSTM(5, return_sequences=True, dropout=0.2)),
                       L.TimeDistributed(L.Dense(4, activation="softmax"))], seed=seed)


def tagging_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6, 3)).astype("float32")
    y = (x.sum(-1) > 0).astype(int) + 2 * (x[..., 0] > 0)
    return x, y


def test_sequential_fit_predict_summary_and_files(tmp_path):
    x, y = tagging_data()
    model = tagging_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert model.predict(x, verbose=0).shape == (32, 6, 4)
    lines = []
    model.summary(print_fn=lines.append)
    joined = "\n".join(lines)
    assert "bidirectional (Bidirectional)" in joined and "(None, 6, 10)" in joined
    assert "time_distributed (TimeDistributed)" in joined
    assert model.count_params() == 2 * (3 * 20 + 5 * 20 + 20) + (10 * 4 + 4)
    path = tmp_path / "tagger.tuinet"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [w.shape for w in loaded.get_weights()] == [w.shape for w in model.get_weights()]
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)  # training continues from the file


def test_fused_softmax_through_time_distributed():
    model = Sequential([L.Input((4, 3)), L.TimeDistributed(L.Dense(3, activation="softmax"))], seed=1)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = np.ones((2, 4, 3)), np.zeros((2, 4), dtype=int)
    model.fit(x, y, epochs=1, verbose=0)
    assert model._fused is not None


def test_training_is_reproducible_with_dropout_inside():
    x, y = tagging_data()
    runs = []
    for _ in range(2):
        model = tagging_model(seed=3)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        runs.append(model.fit(x, y, epochs=2, batch_size=8, verbose=0).history["loss"])
    assert runs[0] == runs[1]

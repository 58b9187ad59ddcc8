"""Weight constraints: Keras 3's formulas and numbers, names, configs, and their use in training."""

from __future__ import annotations

import numpy as np
import pytest

import tuinet
from tuinet import layers as L
from tuinet.errors import ConfigError
from tuinet.nn import constraints
from tuinet.nn.serialization import load_model, save_model

EPS = 1e-7
W = np.array([[0.5, -2.0, 0.1], [1.5, 0.25, -0.3]], dtype=np.float32)

# Keras 3.15 (torch backend) on W, float32: `keras.constraints.X(...)(W)`.
KERAS = {
    "max_norm_1": [[0.3162277340888977, -0.9922778606414795, 0.09999997168779373],
                   [0.9486832022666931, 0.12403473258018494, -0.2999999225139618]],
    "max_norm_2_axis1": [[0.48450157046318054, -1.9380062818527222, 0.09690031409263611],
                         [1.4999998807907104, 0.2499999850988388, -0.29999998211860657]],
    "unit_norm": [[0.3162277340888977, -0.9922778606414795, 0.31622767448425293],
                  [0.9486832022666931, 0.12403473258018494, -0.9486830830574036]],
    "unit_norm_all": [[0.19370970129966736, -0.7748388051986694, 0.03874194249510765],
                      [0.5811291337013245, 0.09685485064983368, -0.11622582376003265]],
    "min_max_half": [[0.40811383724212646, -1.4961389303207397, 0.129056915640831],
                     [1.2243415117263794, 0.18701736629009247, -0.3871707320213318]],
    "non_neg": [[0.5, 0.0, 0.10000000149011612], [1.5, 0.25, 0.0]],
}


def _norms(w, axis=0):
    return np.sqrt(np.sum(np.square(w.astype(np.float64)), axis=axis, keepdims=True))


@pytest.mark.parametrize("make, key", [
    (lambda: constraints.MaxNorm(1.0), "max_norm_1"),
    (lambda: constraints.MaxNorm(2, axis=1), "max_norm_2_axis1"),
    (lambda: constraints.UnitNorm(), "unit_norm"),
    (lambda: constraints.UnitNorm(axis=[0, 1]), "unit_norm_all"),
    (lambda: constraints.MinMaxNorm(0.5, 1.0, rate=0.5), "min_max_half"),
    (lambda: constraints.NonNeg(), "non_neg"),
])
def test_values_match_keras(make, key):
    got = make()(W)
    assert got.dtype == np.float32 and got.shape == W.shape
    np.testing.assert_allclose(got, np.array(KERAS[key], dtype=np.float32), rtol=2e-7, atol=1e-7)


def test_values_match_numpy_formulas_in_float64():
    w = np.random.default_rng(0).normal(size=(4, 5)) * 3
    n0 = _norms(w)
    np.testing.assert_allclose(constraints.MaxNorm(2.0)(w), w * (np.clip(n0, 0, 2.0) / (EPS + n0)))
    np.testing.assert_allclose(constraints.UnitNorm()(w), w / (EPS + n0))
    n1 = _norms(w, 1)
    desired = 0.3 * np.clip(n1, 1.0, 2.5) + 0.7 * n1
    np.testing.assert_allclose(constraints.MinMaxNorm(1.0, 2.5, 0.3, axis=1)(w), w * (desired / (EPS + n1)))
    np.testing.assert_array_equal(constraints.NonNeg()(w), np.maximum(w, 0))
    assert constraints.MaxNorm()(w).dtype == np.float64
    np.testing.assert_array_equal(constraints.Constraint()(w), w)
    k = np.random.default_rng(1).normal(size=(3, 3, 2, 4)).astype(np.float32)  # a Conv2D kernel
    out = constraints.MaxNorm(0.5, axis=[0, 1, 2])(k)
    assert out.dtype == np.float32
    assert (_norms(out, (0, 1, 2)) <= 0.5 + 1e-6).all()


def test_names_instances_dicts_and_configs():
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert isinstance(constraints.get("MaxNorm"), constraints.MaxNorm)
    assert isinstance(constraints.get("min_max_norm"), constraints.MinMaxNorm)
    assert isinstance(constraints.get("MinMaxNorm"), constraints.MinMaxNorm)
    assert isinstance(constraints.get("non_neg"), constraints.NonNeg)
    assert isinstance(constraints.get("NonNeg"), constraints.NonNeg)
    assert isinstance(constraints.get("unit_norm"), constraints.UnitNorm)
    assert isinstance(constraints.get(constraints.UnitNorm), constraints.UnitNorm)
    assert constraints.get(None) is None and constraints.serialize(None) is None
    c = constraints.MaxNorm(3)
    assert constraints.get(c) is c
    assert constraints.max_norm is constraints.MaxNorm and constraints.non_neg is constraints.NonNeg
    # Keras's defaults and config keys
    assert constraints.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert constraints.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}
    assert constraints.UnitNorm().get_config() == {"axis": 0} and constraints.NonNeg().get_config() == {}
    for made in (constraints.MaxNorm(1.5, axis=[0, 1]), constraints.MinMaxNorm(0.1, 2.0, 0.5, 1),
                 constraints.NonNeg(), constraints.UnitNorm(axis=1)):
        spec = constraints.serialize(made)
        assert spec == {"class_name": type(made).__name__, "config": made.get_config()}
        assert constraints.get(spec) == made
        assert type(made).from_config(made.get_config()) == made
    keras_spec = {"module": "keras.constraints", "class_name": "MaxNorm", "config": {"max_value": 2, "axis": 0},
                  "registered_name": None}
    assert constraints.get(keras_spec) == constraints.MaxNorm(2)
    assert tuinet.constraints is constraints


@pytest.mark.parametrize("spec, pattern", [
    ("max_nrom", r"unknown constraint 'max_nrom' \(did you mean \"max_norm\"\?\)"),
    (42, r"unknown constraint 42"),
    ({"class_name": "Radial", "config": {}}, r"unknown constraint 'Radial'"),
    ({"class_name": "MaxNorm", "config": {"max_valeu": 2}}, r"MaxNorm: bad config"),
    ({"class_name": "MaxNorm", "config": [1]}, r"config must be a dict"),
])
def test_get_errors(spec, pattern):
    with pytest.raises(ConfigError, match=pattern):
        constraints.get(spec)


@pytest.mark.parametrize("make, arg", [
    (lambda: constraints.MaxNorm(-1), "max_value"),
    (lambda: constraints.MaxNorm("2"), "max_value"),
    (lambda: constraints.MaxNorm(2, axis=1.5), "axis"),
    (lambda: constraints.UnitNorm(axis=[]), "axis"),
    (lambda: constraints.MinMaxNorm(2.0, 1.0), "max_value"),
    (lambda: constraints.MinMaxNorm(rate=1.5), "rate"),
])
def test_bad_arguments(make, arg):
    with pytest.raises(ConfigError, match=arg):
        make()


def _data(n=32, features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    return x, (x @ rng.normal(size=(features, 3)) * 5).astype(np.float32)


def test_max_norm_and_non_neg_hold_during_training():
    x, y = _data()
    model = tuinet.Sequential([L.Input((4,)), L.Dense(8, kernel_constraint=constraints.MaxNorm(1.0),
                                                      bias_constraint="non_neg"),
                               L.Dense(3, kernel_constraint="non_neg")])
    model.compile(optimizer=tuinet.optimizers.SGD(0.1), loss="mse")
    before = model.get_weights()
    for i in range(4):
        model.train_on_batch(x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8])
        kernel, bias, kernel2, _ = model.get_weights()
        assert (np.linalg.norm(kernel.astype(np.float64), axis=0) <= 1.0 + 1e-6).all()
        assert (bias >= 0).all() and (kernel2 >= 0).all()
        assert kernel.dtype == np.float32
    assert not np.allclose(before[0], model.get_weights()[0])  # it did train
    assert np.linalg.norm(model.get_weights()[0], axis=0).max() > 0.99  # and the constraint bit
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    kernel, bias, kernel2, _ = model.get_weights()
    assert (np.linalg.norm(kernel.astype(np.float64), axis=0) <= 1.0 + 1e-6).all()
    assert (bias >= 0).all() and (kernel2 >= 0).all()


def test_frozen_constrained_layer_is_untouched():
    x, y = _data()
    first = L.Dense(8, kernel_constraint=constraints.UnitNorm())
    model = tuinet.Sequential([L.Input((4,)), first, L.Dense(3)])
    model.build()
    first.set_weights([np.full((4, 8), 3.0, np.float32), np.zeros(8, np.float32)])  # norms far from 1
    first.trainable = False
    model.compile(optimizer=tuinet.optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    np.testing.assert_array_equal(first.get_weights()[0], np.full((4, 8), 3.0, np.float32))


def test_wrapped_layers_keep_their_constraints():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 3)).astype(np.float32)
    y = rng.normal(size=(8, 5, 2)).astype(np.float32) * 5
    model = tuinet.Sequential([L.Input((5, 3)), L.TimeDistributed(L.Dense(4, kernel_constraint=constraints.MaxNorm(0.5))),
                               L.Bidirectional(L.SimpleRNN(3, return_sequences=True, recurrent_constraint="non_neg")),
                               L.Dense(2)])
    model.compile(optimizer=tuinet.optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    td, bi = model.layers[0], model.layers[1]
    assert (np.linalg.norm(td.get_weights()[0].astype(np.float64), axis=0) <= 0.5 + 1e-6).all()
    assert (bi.forward_layer.get_weights()[1] >= 0).all() and (bi.backward_layer.get_weights()[1] >= 0).all()


@pytest.mark.parametrize("make, keys", [
    (lambda: L.Dense(3, kernel_constraint="max_norm", bias_constraint=constraints.NonNeg()),
     ("kernel_constraint", "bias_constraint")),
    (lambda: L.Conv2D(2, 3, kernel_constraint=constraints.MaxNorm(2, axis=[0, 1, 2])), ("kernel_constraint",)),
    (lambda: L.Conv1D(2, 3, bias_constraint="non_neg"), ("bias_constraint",)),
    (lambda: L.Conv2DTranspose(2, 3, kernel_constraint="unit_norm"), ("kernel_constraint",)),
    (lambda: L.DepthwiseConv2D(3, depthwise_constraint="max_norm", bias_constraint="non_neg"),
     ("depthwise_constraint", "bias_constraint")),
    (lambda: L.SeparableConv2D(2, 3, pointwise_constraint="unit_norm"), ("pointwise_constraint",)),
    (lambda: L.Embedding(10, 4, embeddings_constraint="unit_norm"), ("embeddings_constraint",)),
    (lambda: L.BatchNormalization(gamma_constraint="non_neg"), ("gamma_constraint",)),
    (lambda: L.LayerNormalization(beta_constraint="max_norm"), ("beta_constraint",)),
    (lambda: L.LSTM(3, kernel_constraint="max_norm", recurrent_constraint="unit_norm", bias_constraint="non_neg"),
     ("kernel_constraint", "recurrent_constraint", "bias_constraint")),
    (lambda: L.GRU(3, recurrent_constraint=constraints.MinMaxNorm(0.1, 0.9)), ("recurrent_constraint",)),
    (lambda: L.SimpleRNN(3, kernel_constraint="non_neg"), ("kernel_constraint",)),
    (lambda: L.PReLU(alpha_constraint="non_neg"), ("alpha_constraint",)),
])
def test_layer_config_round_trip(make, keys):
    layer = make()
    config = layer.get_config()
    for key in keys:
        assert config[key] == constraints.serialize(getattr(layer, key)) and config[key] is not None
    again = type(layer).from_config(config)
    assert again.get_config() == config
    for key in keys:
        assert getattr(again, key) == getattr(layer, key)


def test_unset_constraints_are_none_in_configs():
    config = L.Dense(3).get_config()
    assert config["kernel_constraint"] is None and config["bias_constraint"] is None
    assert L.LSTM(2).get_config()["recurrent_constraint"] is None


def test_layer_registers_constraint_on_its_weight():
    model = tuinet.Sequential([L.Input((4,)), L.Dense(3, kernel_constraint="max_norm")])
    model.build()
    layer = model.layers[0]
    assert set(layer.constraints) == {"kernel"} and layer.constraints["kernel"] is layer.kernel_constraint


def test_saved_model_keeps_constraints(tmp_path):
    x, y = _data()
    model = tuinet.Sequential([L.Input((4,)), L.Dense(8, kernel_constraint=constraints.MaxNorm(1.0)),
                               L.Dense(3, bias_constraint="non_neg")])
    model.compile(optimizer=tuinet.optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "constrained.tuinet"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.layers[0].kernel_constraint == constraints.MaxNorm(1.0)
    assert loaded.layers[1].bias_constraint == constraints.NonNeg()
    assert loaded.layers[0].constraints["kernel"] == constraints.MaxNorm(1.0)
    loaded.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert (np.linalg.norm(loaded.get_weights()[0].astype(np.float64), axis=0) <= 1.0 + 1e-6).all()
    assert (loaded.get_weights()[3] >= 0).all()

"""Keras utilities and namespaces: `tuinet.utils`, `tuinet.models`, loss/metric functions, model
structure helpers and the threshold metrics. Expected values were computed with Keras 3.15.1."""

from __future__ import annotations

import numpy as np
import pytest

import tuinet
from tuinet import layers
from tuinet.errors import ConfigError
from tuinet.utils import pad_sequences, to_categorical


# -- 1. to_categorical / pad_sequences / set_random_seed ----------------------------------------

@pytest.mark.parametrize("x, num_classes, shape, expected", [
    ([0, 2, 1], None, (3, 3), [[1, 0, 0], [0, 0, 1], [0, 1, 0]]),
    ([[1], [0], [3]], None, (3, 4), [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]),
    ([[0, 1], [2, 0]], 4, (2, 2, 4), [[[1, 0, 0, 0], [0, 1, 0, 0]], [[0, 0, 1, 0], [1, 0, 0, 0]]]),
    (np.array([1, 0]), 3, (2, 3), [[0, 1, 0], [1, 0, 0]]),
    ([-1, 0], 3, (2, 3), [[0, 0, 1], [1, 0, 0]]),
    ([[[1]], [[2]]], None, (2, 1, 3), [[[0, 1, 0]], [[0, 0, 1]]]),
])
def test_to_categorical_matches_keras(x, num_classes, shape, expected):
    out = to_categorical(x, num_classes)
    assert out.dtype == np.float64 and out.shape == shape
    np.testing.assert_array_equal(out, expected)


def test_to_categorical_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match="out of range"):
        to_categorical([0, 3], num_classes=3)


_SEQS = [[1], [2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize("kwargs, dtype, expected", [
    ({}, np.int32, [[0, 0, 0, 1], [0, 0, 2, 3], [4, 5, 6, 7]]),
    ({"maxlen": 2}, np.int32, [[0, 1], [2, 3], [6, 7]]),
    ({"maxlen": 5, "padding": "post"}, np.int32, [[1, 0, 0, 0, 0], [2, 3, 0, 0, 0], [4, 5, 6, 7, 0]]),
    ({"maxlen": 3, "truncating": "post"}, np.int32, [[0, 0, 1], [0, 2, 3], [4, 5, 6]]),
    ({"maxlen": 2, "padding": "post", "truncating": "post", "value": -1}, np.int32, [[1, -1], [2, 3], [4, 5]]),
    ({"dtype": "float32", "value": 0.5}, np.float32,
     [[0.5, 0.5, 0.5, 1.0], [0.5, 0.5, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]),
])
def test_pad_sequences_matches_keras(kwargs, dtype, expected):
    out = pad_sequences(_SEQS, **kwargs)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)


def test_pad_sequences_edge_cases_match_keras():
    np.testing.assert_array_equal(pad_sequences([[], [1, 2]]), [[0, 0], [1, 2]])
    out = pad_sequences([[[1, 2], [3, 4]], [[5, 6]]], maxlen=3)
    assert out.shape == (2, 3, 2)
    np.testing.assert_array_equal(out, [[[0, 0], [1, 2], [3, 4]], [[0, 0], [0, 0], [5, 6]]])
    out = pad_sequences([["a", "bb"], ["c"]], dtype=object, value="<pad>")
    assert out.tolist() == [["a", "bb"], ["<pad>", "c"]]
    np.testing.assert_array_equal(pad_sequences([[1.7, 2.2]]), [[1, 2]])


def test_pad_sequences_errors_and_keras_import_path():
    from tuinet.preprocessing.sequence import pad_sequences as keras_path

    assert keras_path is pad_sequences
    with pytest.raises(ValueError, match="padding"):
        pad_sequences(_SEQS, padding="middle")
    with pytest.raises(ValueError, match="truncating"):
        pad_sequences(_SEQS, truncating="both")
    with pytest.raises(ValueError, match="list of sequences"):
        pad_sequences([1, 2])
    with pytest.raises(ValueError, match="dtype"):
        pad_sequences(_SEQS, value="x")


def test_set_random_seed_repeats_models():
    tuinet.utils.set_random_seed(7)
    a = tuinet.Sequential([layers.Dense(3, input_shape=(2,))]).get_weights()[0]
    tuinet.utils.set_random_seed(7)
    b = tuinet.Sequential([layers.Dense(3, input_shape=(2,))]).get_weights()[0]
    tuinet.utils.set_random_seed(None)
    np.testing.assert_array_equal(a, b)


# -- 2. Keras namespaces: models, optimizers.schedules, loss and metric functions ---------------

def test_keras_namespaces():
    from tuinet import losses, metrics, models, optimizers, schedules

    assert optimizers.schedules is schedules
    assert optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)(10) == pytest.approx(0.05)
    assert models.Sequential is tuinet.Sequential and models.load_model is tuinet.load_model
    assert metrics.mean_absolute_error is losses.mean_absolute_error
    assert not hasattr(metrics, "cosine_similarity") or metrics.cosine_similarity is not losses.cosine_similarity


def _random_pairs():
    rng = np.random.default_rng(3)
    yt = (rng.random((40, 3)) > 0.6).astype("float32")
    yp = rng.random((40, 3)).astype("float32")
    yt2 = (rng.random((25, 1)) > 0.5).astype("float32")
    yp2 = rng.random((25, 1)).astype("float32")
    ytr, ypr = rng.random((4, 3)).astype("float32"), rng.random((4, 3)).astype("float32")
    return yt, yp, yt2, yp2, ytr, ypr


_KERAS_LOSS_VALUES = {  # keras.losses.<name>(ytr, ypr), per sample
    "mean_squared_error": [0.158734, 0.099163, 0.202743, 0.198688],
    "mean_absolute_error": [0.314202, 0.251001, 0.431367, 0.367743],
    "mean_absolute_percentage_error": [64.700615, 93.216728, 63.14661, 123.182747],
    "mean_squared_logarithmic_error": [0.069042, 0.049257, 0.10337, 0.081537],
    "cosine_similarity": [-0.79436, -0.878911, -0.884148, -0.737834],
    "huber": [0.079367, 0.049582, 0.101372, 0.099344],
    "log_cosh": [0.075003, 0.048082, 0.097099, 0.092864],
    "hinge": [0.700751, 0.658303, 0.815866, 0.737331],
    "squared_hinge": [0.593007, 0.522774, 0.678901, 0.546601],
    "poisson": [0.959367, 0.904497, 1.395788, 0.958627],
    "binary_crossentropy": [1.003035, 0.749917, 1.22851, 1.219207],
    "kl_divergence": [1.137522, 0.109597, 2.650898, 0.149537],
}


@pytest.mark.parametrize("name", sorted(_KERAS_LOSS_VALUES))
def test_loss_functions_match_keras(name):
    *_, ytr, ypr = _random_pairs()
    out = getattr(tuinet.losses, name)(ytr, ypr)
    assert out.shape == (4,)
    np.testing.assert_allclose(out, _KERAS_LOSS_VALUES[name], rtol=2e-5, atol=2e-6)


def test_class_loss_functions_match_keras():
    *_, ypr = _random_pairs()
    onehot = np.eye(3, dtype="float32")[[0, 2, 1, 2]]
    probs = ypr / ypr.sum(1, keepdims=True)
    L = tuinet.losses
    cce = [1.851053, 2.05301, 0.66682, 0.664603]
    np.testing.assert_allclose(L.categorical_crossentropy(onehot, probs), cce, rtol=2e-5)
    np.testing.assert_allclose(L.categorical_crossentropy(onehot, probs, label_smoothing=0.1),
                               [1.891383, 1.972, 0.743413, 0.714724], rtol=2e-5)
    np.testing.assert_allclose(L.sparse_categorical_crossentropy(np.array([0, 2, 1, 2]), probs), cce, rtol=2e-5)
    np.testing.assert_allclose(L.categorical_hinge(onehot, probs), [1.677036, 1.360097, 0.910912, 0.737615],
                               rtol=2e-5)
    *_, ytr, _ = _random_pairs()
    np.testing.assert_allclose(L.huber(ytr, ypr, delta=0.1), [0.026779, 0.021363, 0.038137, 0.031774], rtol=2e-5)


def test_functions_compile_as_loss_and_metrics(tmp_path):
    from tuinet import losses, metrics

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 2))
    model = tuinet.Sequential([layers.Dense(2, input_shape=(3,))], seed=1)
    model.compile("sgd", loss=losses.mean_squared_error, metrics=[metrics.mean_absolute_error,
                                                                  metrics.binary_accuracy])
    assert model.loss == losses.MeanSquaredError()
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    assert set(logs) == {"loss", "mean_absolute_error", "binary_accuracy"}
    assert logs["mean_absolute_error"] == pytest.approx(float(losses.mean_absolute_error(y, model.predict(x, verbose=0)).mean()))
    model.save(tmp_path / "m.tuinet")
    again = tuinet.models.load_model(tmp_path / "m.tuinet")
    assert again.evaluate(x, y, return_dict=True, verbose=0) == pytest.approx(logs)


# -- 3. pop / get_layer / to_json / model_from_json ---------------------------------------------

def _mlp():
    return tuinet.Sequential([layers.Dense(4, input_shape=(3,), activation="relu", name="hidden"),
                              layers.Dropout(0.25), layers.Dense(2, activation="softmax")], seed=5)


def test_pop_and_get_layer():
    model = _mlp()
    assert model.get_layer("hidden") is model.get_layer(index=0) is model.layers[0]
    assert model.get_layer(index=-1).name == "dense"
    with pytest.raises(ValueError, match="only a layer name or a layer index"):
        model.get_layer("hidden", 0)
    with pytest.raises(ValueError, match="either a layer name or a layer index"):
        model.get_layer()
    with pytest.raises(ValueError, match="index 3 but the model has only 3 layers"):
        model.get_layer(index=3)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        model.get_layer("nope")
    kernel = model.get_layer("hidden").get_weights()[0].copy()
    popped = model.pop()
    assert popped.name == "dense" and len(model.layers) == 2 and model.output_shape == (None, 4)
    np.testing.assert_array_equal(model.get_layer("hidden").get_weights()[0], kernel)
    model.pop(), model.pop()
    with pytest.raises(ValueError, match="no layers"):
        model.pop()


def test_to_json_round_trip():
    import json

    model = _mlp()
    text = model.to_json(indent=2)
    assert json.loads(text)["class_name"] == "Sequential"
    again = tuinet.models.model_from_json(text)
    assert again.get_config() == model.get_config() and again.built
    assert [lay.name for lay in again.layers] == ["hidden", "dropout", "dense"]
    assert again.output_shape == model.output_shape
    model.set_weights([w + 1.0 for w in model.get_weights()])  # trained weights do not travel
    assert not np.array_equal(again.get_weights()[0], model.get_weights()[0])
    with pytest.raises(ValueError, match="not valid JSON"):
        tuinet.models.model_from_json("{nope")
    with pytest.raises(ValueError, match="Sequential"):
        tuinet.models.model_from_json('{"class_name": "Subclassed", "config": {}}')
    with pytest.raises(ValueError, match="non-empty 'layers' list"):
        tuinet.models.model_from_json('{"class_name": "Functional", "config": {}}')


# -- 4. confusion-count metrics and AUC (Keras 3.15.1 values on the same data) ------------------

_KERAS_COUNTS = {  # two batches: (yt, yp) then the first 10 rows of (yt2, yp2) repeated on 3 columns
    "TruePositives": {None: 35.0, 0.3: 51.0, (0.2, 0.5, 0.8): [55.0, 35.0, 15.0]},
    "FalsePositives": {None: 47.0, 0.3: 65.0, (0.2, 0.5, 0.8): [74.0, 47.0, 23.0]},
    "TrueNegatives": {None: 37.0, 0.3: 19.0, (0.2, 0.5, 0.8): [10.0, 37.0, 61.0]},
    "FalseNegatives": {None: 31.0, 0.3: 15.0, (0.2, 0.5, 0.8): [11.0, 31.0, 51.0]},
}


@pytest.mark.parametrize("cls", sorted(_KERAS_COUNTS))
def test_confusion_counts_match_keras(cls):
    yt, yp, yt2, yp2, *_ = _random_pairs()
    for th, expected in _KERAS_COUNTS[cls].items():
        m = getattr(tuinet.metrics, cls)(thresholds=list(th) if isinstance(th, tuple) else th)
        m.update_state(yt, yp)
        m.update_state(yt2.repeat(3, 1)[:10], yp2.repeat(3, 1)[:10])
        np.testing.assert_allclose(m.result(), expected)
        assert isinstance(m.result(), float) == (not isinstance(th, tuple))
        m.reset_state()
        np.testing.assert_array_equal(m.result(), np.zeros_like(expected))


@pytest.mark.parametrize("cls, expected", [
    ("Precision", {None: 0.359375, 0.7: 0.30303, (0.1, 0.4, 0.9): [0.383929, 0.402597, 0.25]}),
    ("Recall", {None: 0.479167, 0.7: 0.208333, (0.1, 0.4, 0.9): [0.895833, 0.645833, 0.041667]}),
])
def test_precision_recall_thresholds_match_keras(cls, expected):
    yt, yp, *_ = _random_pairs()
    for th, want in expected.items():
        m = getattr(tuinet.metrics, cls)(thresholds=list(th) if isinstance(th, tuple) else th)
        m.update_state(yt, yp)
        np.testing.assert_allclose(m.result(), want, atol=1e-6)


@pytest.mark.parametrize("kwargs, expected", [
    ({}, 0.43911),
    ({"summation_method": "minoring"}, 0.436378),
    ({"summation_method": "majoring"}, 0.441842),
    ({"curve": "PR"}, 0.369781),
    ({"curve": "PR", "summation_method": "minoring"}, 0.358793),
    ({"curve": "PR", "summation_method": "majoring"}, 0.378494),
])
def test_auc_matches_keras(kwargs, expected):
    yt, yp, yt2, yp2, *_ = _random_pairs()
    m = tuinet.metrics.AUC(**kwargs)
    m.update_state(yt, yp)
    m.update_state(yt2, yp2)
    assert m.result() == pytest.approx(expected, abs=2e-6)


def test_auc_options_match_keras():
    yt, yp, *_ = _random_pairs()
    for m, expected, pred in [(tuinet.metrics.AUC(num_thresholds=7), 0.434172, yp),
                              (tuinet.metrics.AUC(thresholds=[0.25, 0.5, 0.75], curve="PR"), 0.349417, yp),
                              (tuinet.metrics.AUC(from_logits=True), 0.4375, (yp - 0.5) * 6)]:
        m.update_state(yt, pred)
        assert m.result() == pytest.approx(expected, abs=2e-6)
    assert tuinet.metrics.AUC().result() == 0.0
    with pytest.raises(ValueError, match="curve"):
        tuinet.metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="num_thresholds"):
        tuinet.metrics.AUC(num_thresholds=1)


def test_threshold_metrics_in_fit_and_by_name():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = (x[:, :1] > 0).astype(float)
    model = tuinet.Sequential([layers.Dense(1, input_shape=(3,), activation="sigmoid")], seed=2)
    model.compile("adam", "binary_crossentropy", metrics=["auc", "true_positives", tuinet.metrics.Precision(0.3)])
    history = model.fit(x, y, epochs=2, verbose=0)
    assert {"auc", "true_positives", "precision"} <= set(history.history)
    again = tuinet.metrics.get(tuinet.metrics.serialize(tuinet.metrics.AUC(curve="PR", num_thresholds=50)))
    assert (again.curve, again.num_thresholds) == ("PR", 50)
    with pytest.raises(ValueError, match="several thresholds"):
        model.compile("adam", "binary_crossentropy", metrics=[tuinet.metrics.Recall(thresholds=[0.2, 0.8])])


def test_engine_modules_import_under_tuinets_top_level_names():
    """As with `keras.layers`: `from tuinet.layers import Dense`, `import tuinet.optimizers.schedules`."""
    import importlib

    from tuinet.layers import Dense, MaxPool2D  # noqa: F401
    from tuinet.optimizers.schedules import ExponentialDecay

    assert importlib.import_module("tuinet.callbacks").EarlyStopping is tuinet.callbacks.EarlyStopping
    assert ExponentialDecay is tuinet.schedules.ExponentialDecay and Dense is tuinet.layers.Dense

"""Metrics: Keras 3 "accuracy" resolution, hand-computed values, accumulation over batches,
precision/recall, the confusion matrix, names, configs and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import losses, metrics


def _one_hot(ids, classes):
    return np.eye(classes)[np.asarray(ids)]


# -- "accuracy" resolution (keras/src/trainers/compile_utils.py get_metric) ----------------------

@pytest.mark.parametrize("y_true_shape,y_pred_shape,cls", [
    ((32, 1), (None, 1), metrics.BinaryAccuracy),                 # binary (N, 1) outputs
    ((32,), (None, 1), metrics.BinaryAccuracy),                   # binary outputs win over rank
    ((32,), (None, 4), metrics.SparseCategoricalAccuracy),        # int labels
    ((32, 1), (None, 4), metrics.SparseCategoricalAccuracy),      # int labels (N, 1)
    ((32, 4), (None, 4), metrics.CategoricalAccuracy),            # one-hot labels
    ((32, 7), (None, 7, 5), metrics.SparseCategoricalAccuracy),   # sequence of ids
    ((32, 7, 5), (None, 7, 5), metrics.CategoricalAccuracy),      # sequence of one-hots
    ((32, 3), (None, 3), metrics.CategoricalAccuracy),            # multi-label: Keras 3 picks categorical
])
@pytest.mark.parametrize("spec", ["accuracy", "acc"])
def test_accuracy_resolution_table(spec, y_true_shape, y_pred_shape, cls):
    m = metrics.get(spec, y_true_shape=y_true_shape, y_pred_shape=y_pred_shape)
    assert type(m) is cls
    assert m.name == spec
    assert m.direction == "up"


def test_accuracy_resolution_from_the_loss_when_shapes_are_missing():
    assert type(metrics.get("accuracy", loss="sparse_categorical_crossentropy")) \
        is metrics.SparseCategoricalAccuracy
    assert type(metrics.get("accuracy", loss=losses.CategoricalCrossentropy())) is metrics.CategoricalAccuracy
    assert type(metrics.get("acc", y_pred_shape=(None, 1), loss="mse")) is metrics.BinaryAccuracy
    assert type(metrics.get("acc", y_pred_shape=(None, 3), loss="binary_crossentropy")) \
        is metrics.CategoricalAccuracy
    # Nothing to go on: resolves on the first batch, from its shapes, like Keras 3.
    m = metrics.get("accuracy", loss="binary_crossentropy")
    assert type(m) is metrics.AutoAccuracy and m.resolved is None and m.result() == 0.0
    m.update_state(np.array([1, 0, 1]), np.array([[0.9], [0.2], [0.4]]))
    assert type(m.resolved) is metrics.BinaryAccuracy and m.resolved.name == "accuracy"
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    assert m.result() == 0.0 and type(m.resolved) is metrics.BinaryAccuracy
    m2 = metrics.get("Accuracy")
    m2.update_state(np.array([2, 0]), np.array([[0.1, 0.2, 0.7], [0.3, 0.6, 0.1]]))
    assert type(m2.resolved) is metrics.SparseCategoricalAccuracy and m2.name == "Accuracy"
    assert m2.result() == 0.5


# -- hand-computed values (examples of the Keras 3 docstrings) -----------------------------------

def test_accuracy_values_by_hand():
    m = metrics.BinaryAccuracy()
    m.update_state(np.array([[1], [1], [0], [0]]), np.array([[0.98], [1], [0], [0.6]]))
    assert m.result() == 0.75
    m = metrics.BinaryAccuracy(threshold=0.99)
    m.update_state(np.array([1, 1, 0, 0]), np.array([[0.98], [1], [0], [0.6]]))
    assert m.result() == 0.75  # 0.98 is now a miss, 0.6 a hit
    m = metrics.CategoricalAccuracy()
    m.update_state(np.array([[0, 0, 1], [0, 1, 0]]), np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
    assert m.result() == 0.5
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(np.array([[2], [1]]), np.array([[0.1, 0.6, 0.3], [0.05, 0.95, 0]]))
    assert m.result() == 0.5
    m = metrics.TopKCategoricalAccuracy(k=1)
    m.update_state(np.array([[0, 0, 1], [0, 1, 0]]), np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
    assert m.result() == 0.5
    m = metrics.SparseTopKCategoricalAccuracy(k=1)
    m.update_state(np.array([2, 1]), np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
    assert m.result() == 0.5
    m = metrics.SparseTopKCategoricalAccuracy(k=2)
    m.update_state(np.array([2, 0]), np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
    assert m.result() == 1.0  # class 2 is second best in row 0, class 0 second best in row 1
    assert metrics.sparse_top_k_categorical_accuracy(np.array([0]), np.array([[0.5, 0.5, 0.1]]), k=1)[0] == 1.0


def test_top_k_default_is_five():
    assert metrics.TopKCategoricalAccuracy().k == 5 and metrics.SparseTopKCategoricalAccuracy().k == 5
    scores = np.arange(7, dtype=float)[None, :]  # class 6 best ... class 0 worst
    assert metrics.sparse_top_k_categorical_accuracy(np.array([2]), scores)[0] == 1.0
    assert metrics.sparse_top_k_categorical_accuracy(np.array([1]), scores)[0] == 0.0


def test_regression_metrics_by_hand():
    y_true, y_pred = np.array([[0, 1], [0, 0]]), np.array([[1, 1], [0, 0]])
    for spec, expected in [("mse", 0.25), ("mae", 0.25), ("rmse", 0.5), ("mean_squared_error", 0.25),
                           ("root_mean_squared_error", 0.5), ("log_cosh", math.log(math.cosh(1)) / 4),
                           ("msle", (math.log(2) - math.log(1 + 1e-7)) ** 2 / 4)]:
        m = metrics.get(spec)
        m.update_state(y_true, y_pred)
        assert m.result() == pytest.approx(expected, rel=1e-6), spec
        assert m.name == spec and m.direction == "down"
    m = metrics.get("cosine_similarity")  # the metric is +cos (Keras's CosineSimilarity metric)
    m.update_state(np.array([[0.0, 1.0], [1.0, 1.0]]), np.array([[1.0, 0.0], [1.0, 1.0]]))
    assert m.result() == pytest.approx(0.5) and m.direction == "up"


def test_rmse_is_sqrt_of_running_mean():
    m = metrics.RootMeanSquaredError()
    m.update_state(np.array([[0.0], [0.0]]), np.array([[3.0], [1.0]]))   # squared errors 9, 1
    m.update_state(np.array([[0.0]]), np.array([[2.0]]))                # squared error 4
    assert m.result() == pytest.approx(math.sqrt((9 + 1 + 4) / 3))
    assert metrics.RootMeanSquaredError().result() == 0.0


def test_loss_metrics_are_mean_per_sample_loss():
    y_true = np.array([[0.0, 1.0], [0.0, 0.0]])
    y_pred = np.array([[0.6, 0.4], [0.4, 0.6]])
    for spec in ("binary_crossentropy", "bce", "hinge", "huber", "kld", "poisson", "squared_hinge"):
        m = metrics.get(spec)
        assert isinstance(m, metrics.LossMetric) and m.name == spec
        m.update_state(y_true, y_pred)
        loss = losses.get(metrics._LOSS_ALIASES.get(spec, spec))
        assert m.result() == pytest.approx(loss(y_true, y_pred), rel=1e-12)
    m = metrics.get("binary_crossentropy")
    m.update_state(y_true, y_pred)
    expected = (-(math.log(0.4) + math.log(0.4)) / 2 - (math.log(0.6) + math.log(0.4)) / 2) / 2
    assert m.result() == pytest.approx(expected)


def test_loss_metric_with_ignore_class_averages_valid_entries():
    loss = losses.SparseCategoricalCrossentropy(ignore_class=0)
    m = metrics.get(loss)
    probs = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]])
    m.update_state(np.array([1, 0, 2]), probs)
    m.update_state(np.array([0]), probs[:1])
    assert m.result() == pytest.approx((-math.log(0.95) - math.log(0.5)) / 2)


# -- accumulation over batches --------------------------------------------------------------------

def _batches(kind, rng, n):
    if kind == "binary":
        return rng.integers(0, 2, size=(n, 1)).astype(np.float32), rng.uniform(size=(n, 1)).astype(np.float32)
    if kind == "sparse":
        return rng.integers(0, 4, size=n), rng.dirichlet(np.ones(4), size=n).astype(np.float32)
    if kind == "onehot":
        return _one_hot(rng.integers(0, 4, size=n), 4), rng.dirichlet(np.ones(4), size=n)
    if kind == "sequence":
        return rng.integers(0, 4, size=(n, 3)), rng.dirichlet(np.ones(4), size=(n, 3))
    return rng.normal(size=(n, 2)), rng.normal(size=(n, 2))


ACCUMULATION = [
    ("accuracy", "binary"), ("accuracy", "sparse"), ("accuracy", "onehot"), ("accuracy", "sequence"),
    ("binary_accuracy", "binary"), ("categorical_accuracy", "onehot"), ("sparse_categorical_accuracy", "sparse"),
    ("top_k_categorical_accuracy", "onehot"), ("sparse_top_k_categorical_accuracy", "sparse"),
    ("precision", "binary"), ("recall", "binary"), ("mae", "real"), ("mse", "real"), ("rmse", "real"),
    ("cosine_similarity", "real"), ("log_cosh", "real"), ("binary_crossentropy", "binary"),
    ("categorical_crossentropy", "onehot"), ("sparse_categorical_crossentropy", "sparse"),
    ("sparse_categorical_crossentropy", "sequence"), ("sparse_categorical_accuracy", "sequence"),
]


@pytest.mark.parametrize("spec,kind", ACCUMULATION, ids=[f"{s}-{k}" for s, k in ACCUMULATION])
def test_two_batches_equal_their_concatenation(spec, kind):
    rng = np.random.default_rng(len(spec) + len(kind))
    (t1, p1), (t2, p2) = _batches(kind, rng, 3), _batches(kind, rng, 5)
    t, p = np.concatenate([t1, t2]), np.concatenate([p1, p2])
    if spec in ("top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"):
        spec = {"name": spec, "config": {"k": 2}}
    split = metrics.get(spec, y_true_shape=t.shape, y_pred_shape=p.shape)
    split.update_state(t1, p1)
    split.update_state(t2, p2)
    whole = metrics.get(spec, y_true_shape=t.shape, y_pred_shape=p.shape)
    whole.update_state(t, p)
    assert isinstance(split.result(), float)
    assert split.result() == pytest.approx(whole.result(), rel=1e-6, abs=1e-12)
    split.reset_state()
    split.update_state(t2, p2)
    fresh = metrics.get(spec, y_true_shape=t.shape, y_pred_shape=p.shape)
    fresh.update_state(t2, p2)
    assert split.result() == fresh.result()


def test_mean_weights_by_sample_count():
    m = metrics.Mean(name="loss")
    m.update_state(2.0, sample_weight=3)
    m.update_state(np.float32(4.0), sample_weight=1)
    assert m.result() == pytest.approx((2 * 3 + 4) / 4) and m.name == "loss"
    m.reset_state()
    assert m.result() == 0.0
    m.update_state([1.0, 3.0, 5.0, 7.0])
    assert m.result() == 4.0
    m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
    assert m.result() == pytest.approx((16 + 4) / 6)
    with pytest.raises(ShapeError, match="sample weights"):
        m.update_state([1.0, 2.0], sample_weight=[1.0, 2.0, 3.0])


# -- precision and recall --------------------------------------------------------------------------

def test_precision_recall_by_hand_over_batches():
    y_true = np.array([0, 1, 1, 1, 0, 0])
    y_pred = np.array([0.6, 0.7, 0.2, 0.9, 0.4, 0.51])
    # predicted positive (> 0.5): indices 0, 1, 3, 5 -> tp = 2 (1, 3), fp = 2 (0, 5); fn = 1 (2).
    p, r = metrics.get("precision"), metrics.get("recall")
    for lo, hi in ((0, 2), (2, 6)):
        p.update_state(y_true[lo:hi, None], y_pred[lo:hi, None])
        r.update_state(y_true[lo:hi], y_pred[lo:hi, None])
    assert p.result() == 2 / 4 and r.result() == 2 / 3
    assert (p.true_positives, p.false_positives, p.false_negatives) == (2, 2, 1)
    p2 = metrics.Precision(thresholds=0.65)  # predicted positive: 0.7, 0.9 -> both right
    p2.update_state(y_true, y_pred)
    assert p2.result() == 1.0
    r2 = metrics.Recall(thresholds=0.65)
    r2.update_state(y_true, y_pred)
    assert r2.result() == 2 / 3


def test_precision_recall_undefined_is_zero():
    p, r = metrics.Precision(), metrics.Recall()
    p.update_state(np.array([1, 1]), np.array([0.1, 0.2]))  # nothing predicted positive
    r.update_state(np.array([0, 0]), np.array([0.9, 0.2]))  # nothing actually positive
    assert p.result() == 0.0 and r.result() == 0.0


def test_precision_class_id_and_top_k():
    y_true = np.array([[0, 1, 0], [1, 0, 0], [0, 1, 0]])
    y_pred = np.array([[0.2, 0.7, 0.6], [0.6, 0.55, 0.1], [0.1, 0.3, 0.6]])
    p = metrics.Precision(class_id=1)  # column 1: predicted 0.7, 0.55 -> tp 1, fp 1
    p.update_state(y_true, y_pred)
    assert p.result() == 0.5
    r = metrics.Recall(class_id=1)  # actual positives rows 0 and 2: found row 0 only
    r.update_state(y_true, y_pred)
    assert r.result() == 0.5
    p1 = metrics.Precision(top_k=1)  # the best class of each row: 1 (right), 0 (right), 2 (wrong)
    p1.update_state(y_true, y_pred)
    assert p1.result() == pytest.approx(2 / 3)


# -- confusion matrix -----------------------------------------------------------------------------

def test_confusion_matrix_by_hand():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    expected = np.array([[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    cm = metrics.confusion_matrix(y_true, y_pred)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, expected)
    # One-hot labels and probability outputs give the same counts.
    probs = np.array([[0.8, 0.1, 0.1], [0.5, 0.3, 0.2], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.1, 0.2, 0.7],
                      [0.3, 0.3, 0.4]])
    np.testing.assert_array_equal(metrics.confusion_matrix(_one_hot(y_true, 3), probs), expected)
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true[:, None].astype(float), probs), expected)
    padded = metrics.confusion_matrix(y_true, y_pred, num_classes=4)
    assert padded.shape == (4, 4) and padded[:3, :3].tolist() == expected.tolist() and padded[3].sum() == 0
    precision, recall = metrics.precision_recall_per_class(cm)
    np.testing.assert_allclose(precision, [2 / 2, 1 / 2, 1 / 2])  # column sums 2, 2, 2
    np.testing.assert_allclose(recall, [2 / 3, 1 / 2, 1 / 1])


def test_confusion_matrix_binary_probabilities():
    y_true = np.array([[1], [0], [1], [0], [1]])
    y_pred = np.array([[0.9], [0.6], [0.3], [0.1], [0.5]])  # > 0.5: 1, 1, 0, 0, 0
    cm = metrics.confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(cm, [[1, 1], [2, 1]])
    precision, recall = metrics.precision_recall_per_class(cm)
    np.testing.assert_allclose(precision, [1 / 3, 1 / 2])
    np.testing.assert_allclose(recall, [1 / 2, 1 / 3])


def test_per_class_scores_of_absent_classes_are_zero():
    precision, recall = metrics.precision_recall_per_class(np.array([[3, 0], [0, 0]]))
    np.testing.assert_array_equal(precision, [1.0, 0.0])
    np.testing.assert_array_equal(recall, [1.0, 0.0])


def test_confusion_matrix_errors():
    with pytest.raises(ShapeError, match="out of range for num_classes=2"):
        metrics.confusion_matrix([0, 2], [0, 1], num_classes=2)
    with pytest.raises(ShapeError, match="3 samples but y_pred has 2"):
        metrics.confusion_matrix([0, 1, 1], [0, 1])
    with pytest.raises(ShapeError, match="negative"):
        metrics.confusion_matrix([0, -1], [0, 1])
    with pytest.raises(ConfigError, match="num_classes"):
        metrics.confusion_matrix([0, 1], [0, 1], num_classes=0)
    with pytest.raises(ShapeError, match="square"):
        metrics.precision_recall_per_class(np.zeros((2, 3)))


# -- names, registry, configs, errors -------------------------------------------------------------

def test_string_identifiers_keep_the_users_name():
    cases = {"mae": metrics.MeanAbsoluteError, "MSE": metrics.MeanSquaredError, "rmse": metrics.RootMeanSquaredError,
             "binary_accuracy": metrics.BinaryAccuracy, "precision": metrics.Precision, "recall": metrics.Recall,
             "top_k_categorical_accuracy": metrics.TopKCategoricalAccuracy,
             "sparse_top_k_categorical_accuracy": metrics.SparseTopKCategoricalAccuracy,
             "categorical_accuracy": metrics.CategoricalAccuracy,
             "sparse_categorical_accuracy": metrics.SparseCategoricalAccuracy,
             "BinaryAccuracy": metrics.BinaryAccuracy, "mean_absolute_error": metrics.MeanAbsoluteError}
    for spec, cls in cases.items():
        m = metrics.get(spec)
        assert type(m) is cls and m.name == spec
    for alias in losses.ALIASES:  # every loss alias works as a metric
        assert metrics.get(alias).name == alias
    m = metrics.get("kullback_leibler_divergence")
    assert isinstance(m.loss, losses.KLDivergence)
    inst = metrics.BinaryAccuracy(name="bin")
    assert metrics.get(inst) is inst
    assert metrics.get(losses.RootMeanSquaredError()).name == "root_mean_squared_error"
    assert {"accuracy", "binary_accuracy", "precision", "recall", "huber", "root_mean_squared_error"} \
        <= set(metrics.names())


def test_unknown_metric_suggests_a_close_match():
    with pytest.raises(ConfigError, match='did you mean "accuracy"') as err:
        metrics.get("acuracy")
    assert "precision" in str(err.value)
    with pytest.raises(ConfigError, match="metric must be"):
        metrics.get(3.5)
    with pytest.raises(ConfigError, match="unknown metric 'prezision'"):
        metrics.get({"name": "prezision", "config": {}})


def test_callable_metric():
    def exact(y_true, y_pred):
        return (np.asarray(y_true) == np.asarray(y_pred)).mean(axis=-1)
    m = metrics.get(exact)
    m.update_state(np.array([[1, 2], [3, 4]]), np.array([[1, 2], [3, 5]]))
    assert m.name == "exact" and m.result() == 0.75


@pytest.mark.parametrize("metric", [
    metrics.BinaryAccuracy(name="acc", threshold=0.7), metrics.CategoricalAccuracy(),
    metrics.SparseCategoricalAccuracy(name="accuracy"), metrics.TopKCategoricalAccuracy(k=3),
    metrics.SparseTopKCategoricalAccuracy(k=2, name="top2"), metrics.MeanAbsoluteError(name="mae"),
    metrics.MeanSquaredError(), metrics.RootMeanSquaredError(name="rmse"),
    metrics.Precision(thresholds=0.3, class_id=1), metrics.Recall(top_k=2), metrics.CosineSimilarity(axis=0),
    metrics.LossMetric({"name": "huber", "config": {"delta": 2.0}}, name="h"), metrics.AutoAccuracy(name="acc"),
    metrics.Mean(name="loss"), metrics.Accuracy(),
], ids=repr)
def test_metric_config_round_trip(metric):
    again = metrics.get(metrics.serialize(metric))
    assert type(again) is type(metric) and again is not metric
    assert again.get_config() == metric.get_config() and again.name == metric.name


def test_config_by_registry_name():
    m = metrics.get({"name": "binary_accuracy", "config": {"threshold": 0.8}})
    assert type(m) is metrics.BinaryAccuracy and m.threshold == 0.8 and m.name == "binary_accuracy"
    m = metrics.get({"name": "binary_crossentropy", "config": {"from_logits": True}})
    assert m.loss == losses.BinaryCrossentropy(from_logits=True)
    assert type(metrics.get({"name": "accuracy"})) is metrics.AutoAccuracy


@pytest.mark.parametrize("make,words", [
    (lambda: metrics.BinaryAccuracy(threshold=1.5), ["binary_accuracy", "threshold", "1.5"]),
    (lambda: metrics.TopKCategoricalAccuracy(k=0), ["top_k_categorical_accuracy", "k", "0"]),
    (lambda: metrics.Precision(thresholds=[0.3, 1.6]), ["precision", "thresholds", "1.6"]),
    (lambda: metrics.Recall(class_id=-1), ["recall", "class_id"]),
    (lambda: metrics.get({"class_name": "Nope"}), ["Nope"]),
    (lambda: metrics.get({"class_name": "BinaryAccuracy", "config": {"treshold": 0.4}}), ["BinaryAccuracy"]),
])
def test_bad_metric_settings(make, words):
    with pytest.raises(ConfigError) as err:
        make()
    for word in words:
        assert word in str(err.value), str(err.value)


@pytest.mark.parametrize("spec,y_true,y_pred,words", [
    ("categorical_accuracy", np.array([0, 1]), np.zeros((2, 3)), ["class ids", "sparse_categorical_accuracy"]),
    ("sparse_categorical_accuracy", np.eye(3)[:2], np.zeros((2, 3)), ["one-hot"]),
    ("binary_accuracy", np.zeros((2, 3)), np.zeros((2, 1)), ["(2, 3)", "(2, 1)"]),
    ("sparse_top_k_categorical_accuracy", np.array([0, 7]), np.zeros((2, 3)), ["label 7", "3 outputs"]),
    ("precision", np.zeros((2, 2)), np.zeros((2, 3)), ["precision", "(2, 2)"]),
    ("mse", np.zeros((2, 2)), np.zeros((2, 3)), ["mean_squared_error", "(2, 3)"]),
])
def test_metric_shape_errors(spec, y_true, y_pred, words):
    m = metrics.get(spec)
    with pytest.raises(ShapeError) as err:
        m.update_state(y_true, y_pred)
    for word in words:
        assert word in str(err.value), str(err.value)

"""The Keras 3 metrics added after the first set: R2Score, F1Score / FBetaScore, the loss-like
means (KLDivergence, LogCoshError, Poisson, the hinges...), Sum, IoU / MeanIoU, and sample weights.

Expected values come from Keras 3.15.1 (torch backend, float32) on the same inputs, e.g.
`KERAS_BACKEND=torch python -c "import keras; m = keras.metrics.R2Score(); ..."`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tuinet
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import layers, metrics


def approx(value):
    return pytest.approx(value, rel=1e-5, abs=1e-6)


# -- R2Score --------------------------------------------------------------------------------------

YT1 = np.array([[1.0, 0.5], [4.0, -1.0], [3.0, 2.0]])
YP1 = np.array([[2.0, 0.0], [4.0, -0.5], [4.0, 1.0]])
YT2 = np.array([[0.0, 1.0], [2.0, 3.0]])
YP2 = np.array([[0.5, 1.5], [1.0, 2.0]])


def test_r2_score_matches_the_keras_docstring():
    m = metrics.R2Score()
    m.update_state(np.array([[1.0], [4.0], [3.0]]), np.array([[2.0], [4.0], [4.0]]))
    assert m.result() == approx(0.57142854)
    assert m.name == "r2_score" and m.direction == "up" and isinstance(m.result(), float)


@pytest.mark.parametrize("kwargs, first, second", [
    ({}, 0.6190476, 0.7134848),
    ({"class_aggregation": "variance_weighted_average"}, 0.6181818, 0.7314095),
    ({"class_aggregation": None}, [0.5714285, 0.6666666], [0.7739726, 0.6529968]),
    ({"num_regressors": 2}, 0.3650793, 0.6316233),
])
def test_r2_score_accumulates_weighted_batches(kwargs, first, second):
    m = metrics.R2Score(**kwargs)
    m.update_state(YT1, YP1)
    assert m.result() == approx(first)
    m.update_state(YT2, YP2, sample_weight=np.array([2.0, 0.5]))
    assert m.result() == approx(second)
    m.reset_state()
    m.update_state(YT1, YP1)
    assert m.result() == approx(first)


def test_r2_score_weights_per_entry_vector_result_and_fallbacks():
    m = metrics.R2Score()
    m.update_state(YT1, YP1, sample_weight=np.array([[1.0, 0.0], [2.0, 1.0], [1.0, 3.0]]))
    assert m.result() == approx(0.5925926)
    vector = metrics.R2Score(class_aggregation=None)
    assert vector.vector_result and not metrics.R2Score().vector_result
    assert vector.result().shape == (0,)  # nothing seen yet
    vector.update_state(YT1, YP1)
    assert isinstance(vector.result(), np.ndarray) and vector.result().shape == (2,)
    adjusted = metrics.R2Score(num_regressors=5)  # 6 label entries: n - 1 <= p falls back, with a warning
    adjusted.update_state(YT1, YP1)
    with pytest.warns(UserWarning, match="Falling back to standard R2"):
        assert adjusted.result() == approx(0.6190476)
    column = metrics.R2Score()  # labels (n,) for outputs (n, 1)
    column.update_state(np.array([1.0, 4.0, 3.0]), np.array([[2.0], [4.0], [4.0]]))
    assert column.result() == approx(0.57142854)
    assert metrics.R2Score().result() == 0.0


def test_r2_score_rejects_bad_arguments_and_shapes():
    with pytest.raises(ConfigError, match="class_aggregation"):
        metrics.R2Score(class_aggregation="mean")
    with pytest.raises(ConfigError, match="num_regressors"):
        metrics.R2Score(num_regressors=-1)
    m = metrics.R2Score()
    with pytest.raises(ShapeError, match="2-D"):
        m.update_state(np.zeros((2, 3, 1, 2)), np.zeros((2, 3, 2)))
    m.update_state(YT1, YP1)
    with pytest.raises(ShapeError, match="3 outputs after 2"):
        m.update_state(np.zeros((2, 3)), np.zeros((2, 3)))


# -- F1Score / FBetaScore -------------------------------------------------------------------------

YT_ONEHOT = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=float)
YP_SCORES = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4], [0.3, 0.4, 0.3], [0.2, 0.6, 0.2], [0.4, 0.4, 0.2]])
SW5 = np.array([1.0, 2.0, 0.5, 1.0, 0.0])


@pytest.mark.parametrize("cls, kwargs, first, both, weighted", [
    (metrics.F1Score, {}, [0.9999998, 0.6666666, 0.0], [1.0, 0.6666666, 0.0], [0.9999998, 0.9230769, 0.0]),
    (metrics.F1Score, {"average": "macro"}, 0.5555555, 0.5555555, 0.6410255),
    (metrics.F1Score, {"average": "micro"}, 0.6666666, 0.7272727, 0.8888888),
    (metrics.F1Score, {"average": "weighted"}, 0.5555555, 0.6666666, 0.8376068),
    (metrics.F1Score, {"average": "macro", "threshold": 0.35}, 0.5555555, 0.5555555, 0.6410255),
    (metrics.FBetaScore, {"beta": 2.0}, [0.9999999, 0.8333332, 0.0], [1.0, 0.8333334, 0.0],
     [0.9999999, 0.9677419, 0.0]),
    (metrics.FBetaScore, {"average": "micro", "beta": 0.5, "threshold": 0.3}, 0.5263157, 0.6060606, 0.6557376),
])
def test_f_scores_match_keras(cls, kwargs, first, both, weighted):
    m = cls(**kwargs)
    m.update_state(YT_ONEHOT[:3], YP_SCORES[:3])
    assert m.result() == approx(first)
    m.update_state(YT_ONEHOT[3:], YP_SCORES[3:])
    assert m.result() == approx(both)
    m.reset_state()
    m.update_state(YT_ONEHOT, YP_SCORES, sample_weight=SW5)
    assert m.result() == approx(weighted)
    assert m.vector_result == (kwargs.get("average") is None)
    assert isinstance(m.result(), np.ndarray if m.vector_result else float)


def test_f_score_names_configs_and_checks():
    assert (metrics.F1Score().name, metrics.FBetaScore().name) == ("f1_score", "fbeta_score")
    assert metrics.F1Score(average="macro", threshold=0.3).get_config() == {
        "name": "f1_score", "average": "macro", "threshold": 0.3}
    assert metrics.FBetaScore(beta=2).get_config() == {"name": "fbeta_score", "average": None, "beta": 2.0,
                                                       "threshold": None}
    with pytest.raises(ConfigError, match="average"):
        metrics.F1Score(average="samples")
    with pytest.raises(ConfigError, match="beta"):
        metrics.FBetaScore(beta=0.0)
    with pytest.raises(ConfigError, match="threshold"):
        metrics.F1Score(threshold=1.5)
    with pytest.raises(ShapeError, match="one-hot"):
        metrics.F1Score().update_state(np.array([0, 1]), np.zeros((2, 3)))
    zeros = metrics.F1Score(average="macro")  # an all-zero row predicts nothing (abs(y) > 1e-9)
    zeros.update_state(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]))
    assert zeros.result() == 0.0


# -- means of per-sample functions ---------------------------------------------------------------

A = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
B = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]])
REG_T = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0]])
REG_P = np.array([[0.5, 1.5, 1.0], [2.0, -1.0, 3.0]])
BITS = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize("cls, name, y_true, y_pred, first, both, weighted", [
    (metrics.KLDivergence, "kl_divergence", A, B, 0.1860981, 0.1292792, 0.0951879),
    (metrics.LogCoshError, "logcosh", REG_T, REG_P, 0.2246699, 0.2569286, 0.2762838),
    (metrics.Poisson, "poisson", REG_T, np.abs(REG_P) + 0.1, 0.8797919, 0.8005387, 0.7529867),
    (metrics.Hinge, "hinge", BITS, REG_P, 0.5, 0.9166667, 1.1666667),
    (metrics.SquaredHinge, "squared_hinge", BITS, REG_P, 0.75, 3.0416667, 4.416667),
    (metrics.CategoricalHinge, "categorical_hinge", np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), B,
     0.7, 0.725, 0.74),
])
def test_loss_like_metrics_match_keras(cls, name, y_true, y_pred, first, both, weighted):
    m = cls()
    assert m.name == name and m.direction == "down" and m.get_config() == {"name": name}
    m.update_state(y_true[:1], y_pred[:1])
    assert m.result() == approx(first)
    m.update_state(y_true[1:], y_pred[1:])
    assert m.result() == approx(both)
    m.reset_state()
    assert m.result() == 0.0
    m.update_state(y_true, y_pred, sample_weight=np.array([0.25, 1.0]))
    assert m.result() == approx(weighted)
    again = metrics.get(metrics.serialize(m))
    assert type(again) is cls and again.get_config() == m.get_config()


def test_log_cosh_error_keras_docstring_with_sample_weight():
    m = metrics.LogCoshError()
    m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    assert m.result() == approx(0.10844523)
    m.reset_state()
    m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
    assert m.result() == approx(0.21689045)


def test_per_sample_metric_functions_exist_and_compile_by_name():
    for fn, cls in [(metrics.kl_divergence, metrics.KLDivergence), (metrics.log_cosh, metrics.LogCoshError),
                    (metrics.poisson, metrics.Poisson), (metrics.hinge, metrics.Hinge),
                    (metrics.squared_hinge, metrics.SquaredHinge),
                    (metrics.categorical_hinge, metrics.CategoricalHinge)]:
        m = metrics.get(fn)
        assert isinstance(m, cls) and m.name == fn.__name__
        assert metrics.serialize(fn) == fn.__name__
    values = metrics.kl_divergence(A, B)
    assert values.shape == (2,) and values.mean() == approx(0.1292792)


# -- Sum and sample weights of Mean / MeanMetricWrapper -------------------------------------------

def test_sum_matches_keras():
    m = metrics.Sum()
    m.update_state([1, 3, 5, 7])
    assert m.result() == 16.0
    m.reset_state()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == 4.0
    m.reset_state()
    m.update_state([1, 3, 5, 7])
    m.update_state(np.array([[1.0, 2.0], [3.0, 4.0]]), sample_weight=[1.0, 0.5])  # rows summed, then weighted
    assert m.result() == approx(22.5)
    assert metrics.get("sum").name == "sum" and metrics.Sum().get_config() == {"name": "sum"}


def test_mean_metric_wrapper_and_accuracy_take_sample_weights():
    m = metrics.BinaryAccuracy()
    m.update_state(np.array([[1], [1], [0], [0]]), np.array([[0.98], [1.0], [0.0], [0.6]]),
                   sample_weight=np.array([1, 0, 0, 1]))
    assert m.result() == approx(0.5)  # Keras's BinaryAccuracy docstring
    m = metrics.MeanSquaredError()
    m.update_state(np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[1.0, 1.0], [0.0, 0.0]]),
                   sample_weight=np.array([1.0, 0.0]))
    assert m.result() == approx(0.5)
    mean = metrics.Mean()
    mean.update_state(np.array([[1.0, 3.0], [5.0, 7.0]]), sample_weight=np.array([[1.0, 0.0], [1.0, 1.0]]))
    assert mean.result() == approx((0.5 + 6.0) / 1.5)  # Keras: both reduced by their mean per sample


# -- IoU / MeanIoU ---------------------------------------------------------------------------------

LT = np.array([0, 0, 1, 1, 2, 3])
LP = np.array([0, 1, 0, 1, 2, 2])


def test_iou_and_mean_iou_match_keras():
    m = metrics.IoU(num_classes=4, target_class_ids=[0, 1])
    m.update_state(LT, LP)
    assert m.result() == approx(0.3333333)
    m.update_state([2, 5, -1], [2, 2, 0])  # ids outside 0..3 are skipped
    assert m.result() == approx(0.3333333)
    mean = metrics.MeanIoU(num_classes=4)
    mean.update_state(LT, LP)
    assert mean.result() == approx(0.2916667)
    mean.update_state(LT, LP, sample_weight=[1, 2, 0, 1, 3, 1])
    assert mean.result() == approx(0.3333333)
    mean.reset_state()
    assert mean.result() == 0.0 and not mean.total_cm.any()
    ignoring = metrics.MeanIoU(num_classes=4, ignore_class=3)
    ignoring.update_state(LT, LP)
    assert ignoring.result() == approx(0.5555555)


def test_mean_iou_of_segmentation_maps():
    labels = np.array([[[0], [1]], [[2], [2]]])                        # (2, 2, 1)
    scores = np.array([[[0.9, 0.05, 0.05], [0.2, 0.3, 0.5]], [[0.1, 0.1, 0.8], [0.3, 0.4, 0.3]]])  # (2, 2, 3)
    m = metrics.MeanIoU(num_classes=3, sparse_y_pred=False)
    m.update_state(labels, scores)
    assert m.result() == approx(0.4444444)
    onehot = metrics.MeanIoU(num_classes=3, sparse_y_true=False, sparse_y_pred=False)
    onehot.update_state(np.eye(3)[labels[..., 0]], scores)
    assert onehot.result() == approx(0.4444444)


def test_iou_configs_names_and_checks():
    iou = metrics.IoU(3, [0, 2], ignore_class=1)
    assert iou.name == "io_u" and iou.direction == "up"
    assert iou.get_config() == {"name": "io_u", "num_classes": 3, "target_class_ids": [0, 2], "ignore_class": 1,
                                "sparse_y_true": True, "sparse_y_pred": True, "axis": -1}
    mean = metrics.MeanIoU(3, sparse_y_pred=False)
    assert mean.get_config() == {"name": "mean_io_u", "num_classes": 3, "ignore_class": None,
                                 "sparse_y_true": True, "sparse_y_pred": False, "axis": -1}
    for m in (iou, mean):
        again = metrics.get(metrics.serialize(m))
        assert type(again) is type(m) and again.get_config() == m.get_config()
    with pytest.raises(ConfigError, match="out of range"):
        metrics.IoU(3, [3])
    with pytest.raises(ConfigError, match="num_classes"):
        metrics.MeanIoU(0)
    for name in ("mean_io_u", "MeanIoU", "iou"):
        with pytest.raises(ConfigError, match="needs num_classes"):
            metrics.get(name)
    with pytest.raises(ShapeError, match="class ids"):
        metrics.MeanIoU(3).update_state(np.zeros(4), np.zeros(5))
    with pytest.warns(UserWarning, match="truncated"):
        metrics.MeanIoU(3).update_state(LT[:3], LP[:3], sample_weight=[0.5, 1.0, 1.0])


# -- names, configs, compile and fit ---------------------------------------------------------------

def test_string_names_resolve_as_in_keras():
    for name, cls in [("r2_score", metrics.R2Score), ("R2Score", metrics.R2Score), ("f1_score", metrics.F1Score),
                      ("fbeta_score", metrics.FBetaScore), ("f_beta_score", metrics.FBetaScore),
                      ("kl_divergence", metrics.KLDivergence), ("log_cosh_error", metrics.LogCoshError),
                      ("logcosh", metrics.LogCoshError), ("poisson", metrics.Poisson), ("hinge", metrics.Hinge),
                      ("squared_hinge", metrics.SquaredHinge), ("categorical_hinge", metrics.CategoricalHinge),
                      ("sum", metrics.Sum), ("mape", metrics.MeanAbsolutePercentageError),
                      ("msle", metrics.MeanSquaredLogarithmicError)]:
        m = metrics.get(name)
        assert type(m) is cls and m.name == name, name
    assert {"r2_score", "kl_divergence", "logcosh", "categorical_hinge"} <= set(metrics.names())
    assert not {"f1_score", "fbeta_score", "sum"} & set(metrics.names())  # not loggable as they stand


def test_keras_configs_with_dtype_load():
    m = metrics.get({"class_name": "F1Score", "config": {"name": "f1", "dtype": "float32", "average": "macro",
                                                         "threshold": None}})
    assert type(m) is metrics.F1Score and m.get_config() == {"name": "f1", "average": "macro", "threshold": None}
    m = metrics.get({"class_name": "R2Score", "config": {"name": "r2_score", "dtype": "float32",
                                                         "class_aggregation": "uniform_average", "num_regressors": 0}})
    assert type(m) is metrics.R2Score


def test_fit_logs_r2_score_and_averaged_f1_score():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    model = tuinet.Sequential([layers.Dense(1, input_shape=(3,))], seed=0)
    model.compile("adam", "mse", metrics=["r2_score", metrics.LogCoshError()])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0).history
    assert {"r2_score", "logcosh", "val_r2_score", "val_logcosh"} <= set(history)
    r2 = metrics.R2Score()
    r2.update_state(y, model.predict(x, verbose=0))
    assert model.evaluate(x, y, batch_size=64, return_dict=True, verbose=0)["r2_score"] == approx(r2.result())

    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)
    onehot = np.eye(3)[labels]
    clf = tuinet.Sequential([layers.Dense(3, input_shape=(3,), activation="softmax")], seed=1)
    clf.compile("adam", "categorical_crossentropy",
                metrics=[metrics.F1Score(average="macro"), metrics.FBetaScore(average="weighted", beta=2.0),
                         metrics.MeanIoU(num_classes=3, sparse_y_true=False, sparse_y_pred=False)])
    logs = clf.fit(x, onehot, epochs=2, batch_size=16, verbose=0).history
    assert {"f1_score", "fbeta_score", "mean_io_u"} <= set(logs)
    assert all(0.0 <= v <= 1.0 for v in logs["f1_score"] + logs["mean_io_u"])


def test_compile_refuses_per_class_results():
    model = tuinet.Sequential([layers.Dense(3, input_shape=(3,), activation="softmax")], seed=0)
    with pytest.raises(ConfigError, match="average='macro'"):
        model.compile("adam", "categorical_crossentropy", metrics=["f1_score"])
    with pytest.raises(ConfigError, match="one score per output"):
        model.compile("adam", "mse", metrics=[metrics.R2Score(class_aggregation=None)])
    with pytest.raises(ConfigError, match="several thresholds"):
        model.compile("adam", "mse", metrics=[metrics.Precision(thresholds=[0.2, 0.8])])
    inputs = tuinet.Input((3,))
    functional = tuinet.Model(inputs, layers.Dense(3, activation="softmax")(inputs))
    with pytest.raises(ConfigError, match="one score per class"):
        functional.compile("adam", "categorical_crossentropy", metrics=[metrics.F1Score()])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        functional.compile("adam", "categorical_crossentropy", metrics=[metrics.F1Score(average="micro")])


def test_rmse_and_auto_accuracy_take_sample_weights():
    rmse = metrics.RootMeanSquaredError()  # Keras's docstring
    rmse.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
    assert rmse.result() == approx(0.70710677)
    acc = metrics.get("accuracy")
    acc.update_state(np.array([[1], [0], [1]]), np.array([[0.9], [0.8], [0.2]]), sample_weight=[2.0, 1.0, 1.0])
    assert acc.result() == approx(0.5)

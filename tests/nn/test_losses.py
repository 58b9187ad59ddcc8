"""Losses: float64 finite-difference gradients of every loss, variant and alias, hand-computed
values from the Keras 3 formulas, the logits twins, shape errors, configs and dtypes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from tests.nn.gradcheck import assert_close, numeric_grad
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import activations, losses

EPS = 1e-7
N, C = 4, 3


def _one_hot(ids, classes=C):
    return np.eye(classes)[np.asarray(ids)]


def _away(x, points, gap=0.05):
    """Move entries of `x` that lie within `gap` of a kink in `points` by 3 * gap."""
    x = x.copy()
    for p in points:
        close = np.abs(x - p) < gap
        x[close] += 3 * gap
    return x


def _data(name: str, rng: np.random.Generator):
    """(y_true, y_pred) in float64, inside each loss's smooth domain (away from kinks and clips)."""
    normal = rng.normal(size=(N, C))
    if name in ("mean_squared_error", "root_mean_squared_error", "log_cosh", "cosine_similarity"):
        return rng.normal(size=(N, C)), normal
    if name == "mean_absolute_error":
        yt = rng.normal(size=(N, C))
        return yt, yt + _away(normal, [0.0])
    if name == "huber":
        yt = rng.normal(size=(N, C))
        return yt, yt + _away(2 * normal, [-1.0, 0.0, 1.0])
    if name == "mean_absolute_percentage_error":
        yt = rng.uniform(0.5, 2.0, size=(N, C)) * rng.choice([-1, 1], size=(N, C))
        return yt, yt + _away(normal, [0.0])
    if name == "mean_squared_logarithmic_error":
        return rng.uniform(0, 3, size=(N, C)), rng.uniform(0.1, 3, size=(N, C))
    if name in ("hinge", "squared_hinge"):
        yt = rng.integers(0, 2, size=(N, C)).astype(float)
        signs = 2 * yt - 1
        return yt, _away(normal * signs, [1.0]) * signs  # margins away from 0
    if name == "categorical_hinge":
        yt = _one_hot(rng.integers(0, C, size=N))
        yp = rng.normal(size=(N, C))
        return yt, yp
    if name in ("categorical_crossentropy", "kl_divergence"):
        yt = _one_hot(rng.integers(0, C, size=N))
        if name == "kl_divergence":
            yt = 0.8 * yt + 0.2 / C
        return yt, rng.uniform(0.1, 0.9, size=(N, C))  # unnormalized on purpose for CCE
    if name == "sparse_categorical_crossentropy":
        return rng.integers(0, C, size=N), rng.uniform(0.1, 0.9, size=(N, C))
    if name == "binary_crossentropy":
        return rng.integers(0, 2, size=(N, C)).astype(float), rng.uniform(0.05, 0.95, size=(N, C))
    if name == "poisson":
        return rng.poisson(2.0, size=(N, C)).astype(float), rng.uniform(0.2, 3, size=(N, C))
    raise AssertionError(name)


def _logits_data(name: str, rng):
    yt, _ = _data(name, rng)
    return yt, 2 * rng.normal(size=(N, C))


def _check_grad(loss: losses.Loss, yt, yp, label: str, rtol=1e-5, atol=1e-7):
    yt, yp = np.array(yt), np.array(yp, dtype=np.float64)
    value, grad = loss.value_and_gradient(yt, yp)
    assert isinstance(value, float)
    assert grad.shape == yp.shape and grad.dtype == np.float64
    np.testing.assert_allclose(loss.gradient(yt, yp), grad, rtol=0, atol=0)
    assert loss(yt, yp) == pytest.approx(value, rel=1e-12)
    idx, num = numeric_grad(lambda: loss(yt, yp), yp)
    assert_close(label, grad.reshape(-1)[idx], num, rtol, atol)


# -- gradients ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_gradient_of_every_loss(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    yt, yp = _data(name, rng)
    _check_grad(losses.get(name), yt, yp, name)


@pytest.mark.parametrize("alias", sorted(losses.ALIASES))
def test_gradient_of_every_alias(alias):
    target = losses.ALIASES[alias]
    rng = np.random.default_rng(len(alias))
    yt, yp = _data(target, rng)
    loss = losses.get(alias)
    assert type(loss) is losses.LOSSES[target]
    _check_grad(loss, yt, yp, alias)


VARIANTS = [
    ("categorical_crossentropy", {"from_logits": True}),
    ("categorical_crossentropy", {"label_smoothing": 0.1}),
    ("categorical_crossentropy", {"from_logits": True, "label_smoothing": 0.2}),
    ("sparse_categorical_crossentropy", {"from_logits": True}),
    ("binary_crossentropy", {"from_logits": True}),
    ("binary_crossentropy", {"label_smoothing": 0.1}),
    ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.3}),
    ("huber", {"delta": 0.5}),
]


@pytest.mark.parametrize("name,cfg", VARIANTS, ids=[f"{n}-{c}" for n, c in VARIANTS])
def test_gradient_of_variants(name, cfg):
    rng = np.random.default_rng(7)
    if cfg.get("from_logits"):
        yt, yp = _logits_data(name, rng)
    elif name == "huber":
        yt = rng.normal(size=(N, C))
        yp = yt + _away(2 * rng.normal(size=(N, C)), [-0.5, 0.0, 0.5])
    else:
        yt, yp = _data(name, rng)
    _check_grad(losses.get({"name": name, "config": cfg}), yt, yp, f"{name} {cfg}")


def test_gradient_hinge_with_minus_one_one_labels():
    rng = np.random.default_rng(3)
    yt = rng.choice([-1.0, 1.0], size=(N, C))
    yp = _away(rng.normal(size=(N, C)) * yt, [1.0]) * yt
    for name in ("hinge", "squared_hinge"):
        _check_grad(losses.get(name), yt, yp, name)


def test_gradient_sparse_shapes_and_ignore_class():
    rng = np.random.default_rng(11)
    # (N, 1) float labels; (N, T) labels for (N, T, C) outputs; ignore_class, with and without logits.
    _check_grad(losses.SparseCategoricalCrossentropy(), rng.integers(0, C, size=(N, 1)).astype(np.float32),
                rng.uniform(0.1, 0.9, size=(N, C)), "scce (N, 1)")
    _check_grad(losses.SparseCategoricalCrossentropy(from_logits=True), rng.integers(0, C, size=(N, 5)),
                rng.normal(size=(N, 5, C)), "scce (N, T)")
    labels = np.array([0, 2, 1, 2, 0])
    for from_logits in (False, True):
        yp = rng.normal(size=(5, C)) if from_logits else rng.uniform(0.1, 0.9, size=(5, C))
        loss = losses.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=2)
        _check_grad(loss, labels, yp, f"scce ignore_class logits={from_logits}")
        assert np.all(loss.gradient(labels, yp)[labels == 2] == 0)


def test_gradient_sequence_outputs_and_rank_one():
    rng = np.random.default_rng(5)
    _check_grad(losses.MeanSquaredError(), rng.normal(size=(N, 5, C)), rng.normal(size=(N, 5, C)), "mse 3-D")
    _check_grad(losses.CategoricalCrossentropy(from_logits=True), _one_hot(rng.integers(0, C, size=(N, 5))),
                rng.normal(size=(N, 5, C)), "cce 3-D")
    # Labels (N,) against outputs (N, 1), and outputs (N,) against labels (N, 1).
    _check_grad(losses.BinaryCrossentropy(), rng.integers(0, 2, size=N), rng.uniform(0.1, 0.9, size=(N, 1)),
                "bce (N,) vs (N, 1)")
    _check_grad(losses.MeanSquaredError(), rng.normal(size=(N, 1)), rng.normal(size=N), "mse (N, 1) vs (N,)")


def test_gradient_categorical_axis_zero():
    rng = np.random.default_rng(9)
    yt = _one_hot(rng.integers(0, C, size=N)).T.copy()  # classes on axis 0
    _check_grad(losses.CategoricalCrossentropy(axis=0), yt, rng.uniform(0.1, 0.9, size=(C, N)), "cce axis 0")
    _check_grad(losses.CategoricalCrossentropy(axis=0, from_logits=True), yt, rng.normal(size=(C, N)),
                "cce axis 0 logits")
    _check_grad(losses.CosineSimilarity(axis=0), rng.normal(size=(C, N)), rng.normal(size=(C, N)), "cos axis 0")


def test_gradient_is_zero_where_keras_clips():
    yt = np.array([[1.0, 0.0, 1.0]])
    yp = np.array([[1.0, 0.0, 0.5]])
    grad = losses.BinaryCrossentropy().gradient(yt, yp)
    assert grad[0, 0] == 0 and grad[0, 1] == 0 and grad[0, 2] != 0
    value = losses.BinaryCrossentropy()(np.array([[1.0]]), np.array([[0.0]]))
    assert value == pytest.approx(-math.log(EPS), rel=1e-6)  # clipped to eps, not infinite
    # mean_squared_logarithmic_error uses maximum(y_pred, eps): flat below eps.
    assert losses.MeanSquaredLogarithmicError().gradient(np.array([[1.0]]), np.array([[-2.0]]))[0, 0] == 0


def test_rmse_gradient_at_zero_error_is_zero():
    y = np.ones((3, 2))
    value, grad = losses.RootMeanSquaredError().value_and_gradient(y, y.copy())
    assert value == 0.0 and np.all(grad == 0)


# -- hand-computed values (formulas from keras/src/losses/losses.py) ------------------------------

Y01 = [[0.0, 1.0], [0.0, 0.0]]
P_HALF = [[0.6, 0.4], [0.4, 0.6]]


@pytest.mark.parametrize("name,cfg,y_true,y_pred,expected", [
    ("mse", {}, Y01, [[1.0, 1.0], [1.0, 0.0]], (1 / 2 + 1 / 2) / 2),
    ("mae", {}, Y01, [[1.0, 1.0], [1.0, 0.0]], 0.5),
    ("mape", {}, [[1.0, 2.0]], [[1.5, 1.0]], 100 * (0.5 / 1 + 1 / 2) / 2),
    ("mape", {}, [[0.0]], [[1.0]], 100 * 1.0 / EPS),
    ("msle", {}, Y01, [[1.0, 1.0], [1.0, 0.0]], (math.log(2) - math.log(1 + EPS)) ** 2 / 2),
    ("rmse", {}, Y01, [[1.0, 1.0], [0.0, 0.0]], math.sqrt(1 / 4)),
    ("hinge", {}, Y01, P_HALF, ((1.6 + 0.6) / 2 + (1.4 + 1.6) / 2) / 2),
    ("hinge", {}, [[-1.0, 1.0]], [[0.5, 2.0]], (1.5 + 0.0) / 2),
    ("squared_hinge", {}, Y01, P_HALF, ((1.6 ** 2 + 0.6 ** 2) / 2 + (1.4 ** 2 + 1.6 ** 2) / 2) / 2),
    ("categorical_hinge", {}, Y01, P_HALF, ((0.6 - 0.4 + 1) + (0.6 - 0 + 1)) / 2),
    ("categorical_hinge", {}, [[0.0, 1.0]], [[0.0, 3.0]], 0.0),
    ("log_cosh", {}, Y01, [[1.0, 1.0], [0.0, 0.0]], math.log(math.cosh(1.0)) / 2 / 2),
    ("huber", {}, Y01, P_HALF, (0.5 * (0.36 + 0.36) / 2 + 0.5 * (0.16 + 0.36) / 2) / 2),
    ("huber", {}, [[0.0]], [[3.0]], 1.0 * 3 - 0.5),
    ("huber", {"delta": 2.0}, [[0.0, 0.0]], [[3.0, 1.0]], ((2 * 3 - 0.5 * 4) + 0.5) / 2),
    ("categorical_crossentropy", {}, [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]],
     (-math.log(0.95) - math.log(0.1)) / 2),
    ("categorical_crossentropy", {}, [[0, 1]], [[1.0, 3.0]], -math.log(0.75)),  # normalized by the sum
    ("categorical_crossentropy", {}, [[1, 0]], [[0.0, 1.0]], -math.log(EPS)),  # clipped
    ("categorical_crossentropy", {"label_smoothing": 0.1}, [[0, 1]], [[0.25, 0.75]],
     -(0.05 * math.log(0.25) + 0.95 * math.log(0.75))),
    ("categorical_crossentropy", {"from_logits": True}, [[0, 1]], [[0.0, math.log(3)]], -math.log(0.75)),
    ("sparse_categorical_crossentropy", {}, [1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]],
     (-math.log(0.95) - math.log(0.1)) / 2),
    ("sparse_categorical_crossentropy", {"from_logits": True}, [[1]], [[0.0, math.log(3)]], -math.log(0.75)),
    ("sparse_categorical_crossentropy", {"ignore_class": 0}, [1, 2, 0],
     [[0.05, 0.95, 0], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]], (-math.log(0.95) - math.log(0.1)) / 2),
    ("binary_crossentropy", {}, Y01, P_HALF,
     (-(math.log(0.4) + math.log(0.4)) / 2 - (math.log(0.6) + math.log(0.4)) / 2) / 2),
    ("binary_crossentropy", {"label_smoothing": 0.2}, [[1.0]], [[0.8]],
     -(0.9 * math.log(0.8) + 0.1 * math.log(0.2))),
    ("binary_crossentropy", {"from_logits": True}, [0, 1, 0, 0], [-18.6, 0.51, 2.94, -12.8],
     (math.log1p(math.exp(-18.6)) + math.log1p(math.exp(-0.51)) + math.log1p(math.exp(2.94))
      + math.log1p(math.exp(-12.8))) / 4),
    ("kl_divergence", {}, [[0.5, 0.5]], [[0.25, 0.75]], 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)),
    ("kl_divergence", {}, [[1.0, 0.0]], [[0.5, 0.5]], math.log(2) + EPS * math.log(EPS / 0.5)),
    ("poisson", {}, [[1.0, 0.0]], [[2.0, 0.5]], ((2 - math.log(2 + EPS)) + 0.5) / 2),
    ("cosine_similarity", {}, [[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]], (0.0 - 1.0) / 2),
    ("cosine_similarity", {}, [[3.0, 4.0]], [[0.0, 0.0]], 0.0),
])
def test_hand_computed_values(name, cfg, y_true, y_pred, expected):
    loss = losses.get({"name": name, "config": cfg})
    value = loss(np.array(y_true), np.array(y_pred, dtype=np.float64))
    assert value == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_keras_docstring_numbers():
    # Rounded values printed in the Keras 3 docstrings.
    bce = losses.BinaryCrossentropy(from_logits=True)
    assert bce(np.array([0, 1, 0, 0]), np.array([-18.6, 0.51, 2.94, -12.8])) == pytest.approx(0.8654, abs=1e-4)
    cce = losses.CategoricalCrossentropy()
    assert cce(np.array([[0, 1, 0], [0, 0, 1]]), np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], np.float32)) \
        == pytest.approx(1.177, abs=1e-3)
    assert losses.get("huber")(np.array(Y01), np.array(P_HALF)) == pytest.approx(0.155, abs=1e-3)
    assert losses.get("log_cosh")(np.array(Y01), np.array([[1.0, 1.0], [0.0, 0.0]])) == pytest.approx(0.108, abs=1e-3)


def test_per_sample_call():
    values = losses.MeanSquaredError().call(np.array(Y01), np.array([[1.0, 1.0], [1.0, 0.0]]))
    np.testing.assert_allclose(values, [0.5, 0.5])
    values = losses.SparseCategoricalCrossentropy(from_logits=True).call(np.zeros((2, 3)), np.zeros((2, 3, 4)))
    assert values.shape == (2, 3)
    np.testing.assert_allclose(values, math.log(4))


def test_sparse_equals_categorical_on_one_hot_labels():
    rng = np.random.default_rng(2)
    ids = rng.integers(0, C, size=(N, 5))
    for from_logits in (False, True):
        yp = rng.normal(size=(N, 5, C)) if from_logits else rng.uniform(0.1, 1, size=(N, 5, C))
        sparse = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        dense = losses.CategoricalCrossentropy(from_logits=from_logits)
        for labels in (ids, ids[..., None].astype(np.float32)):
            v1, g1 = sparse.value_and_gradient(labels, yp)
            v2, g2 = dense.value_and_gradient(_one_hot(ids), yp)
            assert v1 == pytest.approx(v2, rel=1e-12)
            np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-15)


def test_binary_from_logits_is_stable():
    bce = losses.BinaryCrossentropy(from_logits=True)
    value, grad = bce.value_and_gradient(np.array([[1.0], [0.0]]), np.array([[-500.0], [500.0]]))
    assert value == pytest.approx(500.0)
    np.testing.assert_allclose(grad, [[-0.5], [0.5]])
    cce = losses.CategoricalCrossentropy(from_logits=True)
    value, grad = cce.value_and_gradient(np.array([[1.0, 0.0]]), np.array([[0.0, 1000.0]]))
    assert value == pytest.approx(1000.0) and np.isfinite(grad).all()


# -- logits twins ---------------------------------------------------------------------------------

def test_logits_twin_is_returned_only_where_it_fits():
    cce = losses.CategoricalCrossentropy(label_smoothing=0.1)
    assert cce.logits_twin("softmax") == losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    assert cce.logits_twin("Softmax") is not None
    assert cce.logits_twin("sigmoid") is None and cce.logits_twin("linear") is None
    assert losses.CategoricalCrossentropy(axis=0).logits_twin("softmax") is None
    assert losses.CategoricalCrossentropy(from_logits=True).logits_twin("softmax") is None
    scce = losses.SparseCategoricalCrossentropy(ignore_class=3)
    assert scce.logits_twin("softmax") == losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3)
    assert scce.logits_twin("sigmoid") is None
    bce = losses.BinaryCrossentropy(label_smoothing=0.2)
    assert bce.logits_twin("sigmoid") == losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2)
    # Each twin keeps Keras's clip of the probabilities; a from_logits=True loss never clips.
    assert all(twin.clips_probabilities for twin in (cce.logits_twin("softmax"), scce.logits_twin("softmax"),
                                                     bce.logits_twin("sigmoid")))
    assert not losses.BinaryCrossentropy(from_logits=True).clips_probabilities
    assert bce.logits_twin("softmax") is None
    assert losses.BinaryCrossentropy(from_logits=True).logits_twin("sigmoid") is None
    for name in ("mse", "hinge", "kld", "poisson", "cosine_similarity"):
        assert losses.get(name).logits_twin("softmax") is None
        assert losses.get(name).logits_twin("sigmoid") is None


@pytest.mark.parametrize("loss,act,labels", [
    (losses.CategoricalCrossentropy(), "softmax", "one_hot"),
    (losses.CategoricalCrossentropy(label_smoothing=0.1), "softmax", "one_hot"),
    (losses.SparseCategoricalCrossentropy(), "softmax", "ids"),
    (losses.SparseCategoricalCrossentropy(ignore_class=1), "softmax", "ids"),
    (losses.BinaryCrossentropy(), "sigmoid", "binary"),
    (losses.BinaryCrossentropy(label_smoothing=0.2), "sigmoid", "binary"),
], ids=["cce", "cce-smooth", "scce", "scce-ignore", "bce", "bce-smooth"])
def test_logits_twin_matches_chain_rule(loss, act, labels):
    rng = np.random.default_rng(4)
    z = rng.normal(size=(6, C))
    y = {"one_hot": _one_hot(rng.integers(0, C, size=6)), "ids": rng.integers(0, C, size=6),
         "binary": rng.integers(0, 2, size=(6, C)).astype(float)}[labels]
    activation = activations.get(act)
    a = activation(z)
    twin = loss.logits_twin(act)
    value, grad_a = loss.value_and_gradient(y, a)
    twin_value, grad_z = twin.value_and_gradient(y, z)
    assert twin_value == pytest.approx(value, rel=1e-9)
    np.testing.assert_allclose(grad_z, activation.backward(z, a, grad_a), rtol=1e-9, atol=1e-12)


def test_fused_gradient_is_p_minus_y_over_n():
    rng = np.random.default_rng(8)
    z = rng.normal(size=(5, C))
    y = _one_hot(rng.integers(0, C, size=5))
    p = activations.Softmax()(z)
    np.testing.assert_allclose(losses.CategoricalCrossentropy(from_logits=True).gradient(y, z), (p - y) / 5,
                               rtol=1e-12)
    zb = rng.normal(size=(5, 1))
    yb = rng.integers(0, 2, size=(5, 1)).astype(float)
    np.testing.assert_allclose(losses.BinaryCrossentropy(from_logits=True).gradient(yb, zb),
                               (1 / (1 + np.exp(-zb)) - yb) / 5, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(z=hnp.arrays(np.float64, (4, 3), elements=st.floats(-20, 20)), ids=st.lists(st.integers(0, 2), min_size=4,
                                                                               max_size=4))
def test_twin_property_softmax(z, ids):
    p = activations.Softmax()(z)
    loss = losses.SparseCategoricalCrossentropy()
    labels = np.array(ids)
    value, grad_p = loss.value_and_gradient(labels, p)
    twin_value, grad_z = loss.logits_twin("softmax").value_and_gradient(labels, z)
    assert twin_value == pytest.approx(value, rel=1e-7, abs=1e-9)
    np.testing.assert_allclose(grad_z, activations.Softmax().backward(z, p, grad_p), rtol=1e-6, atol=1e-9)


# -- shapes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss,yt,yp,words", [
    ("categorical_crossentropy", (8,), (8, 3), ["sparse_categorical_crossentropy", "(8,)"]),
    ("categorical_crossentropy", (8, 1), (8, 3), ["sparse_categorical_crossentropy"]),
    ("categorical_crossentropy", (8, 4), (8, 3), ["4 classes", "3 units"]),
    ("categorical_crossentropy", (8, 1), (8, 1), ["one output per class", "binary_crossentropy"]),
    ("sparse_categorical_crossentropy", (8,), (8, 1), ["one output per class", "binary_crossentropy"]),
    ("sparse_categorical_crossentropy", (8, 3), (8, 3), ["one-hot", "categorical_crossentropy"]),
    ("sparse_categorical_crossentropy", (8, 2), (8, 3), ["class ids", "(8,)"]),
    ("binary_crossentropy", (8, 3), (8, 1), ["categorical_crossentropy", "3"]),
    ("binary_crossentropy", (8,), (8, 3), ["class ids", "sparse_categorical_crossentropy"]),
    ("mse", (8, 3), (8, 2), ["(8, 3)", "(8, 2)", "2 units"]),
    ("mse", (7, 2), (8, 2), ["7 samples", "8"]),
    ("kld", (8,), (8, 4), ["sparse_categorical_crossentropy"]),
])
def test_shape_errors_are_helpful(loss, yt, yp, words):
    loss = losses.get(loss)
    with pytest.raises(ShapeError) as err:
        loss.check_shapes(yt, yp)
    for word in words:
        assert word in str(err.value), str(err.value)
    assert loss.name in str(err.value)
    rng = np.random.default_rng(0)
    with pytest.raises(ShapeError):  # the same check guards the hot path
        loss.value_and_gradient(rng.integers(0, 1, size=yt), rng.uniform(0.1, 0.9, size=yp))


@pytest.mark.parametrize("loss,yt,yp", [
    ("mse", (None, 2), (None, 2)), ("mse", (None,), (None, 1)), ("mse", (None, 1), (None,)),
    ("binary_crossentropy", (None,), (None, 1)), ("categorical_crossentropy", (None, 3), (None, 3)),
    ("sparse_categorical_crossentropy", (None,), (None, 3)), ("sparse_categorical_crossentropy", (None, 1), (None, 3)),
    ("sparse_categorical_crossentropy", (None, 5), (None, 5, 3)), ("mse", (None, 5), (None, 5, 1)),
])
def test_shapes_that_fit(loss, yt, yp):
    losses.get(loss).check_shapes(yt, yp)


def test_sparse_label_out_of_range():
    loss = losses.SparseCategoricalCrossentropy()
    with pytest.raises(ShapeError, match=r"label 5 is out of range for 3 outputs.*at least 6 units"):
        loss(np.array([0, 5]), np.full((2, 3), 1 / 3))
    with pytest.raises(ShapeError, match="label -1"):
        loss(np.array([0, -1]), np.full((2, 3), 1 / 3))
    # ... unless it is the ignored class.
    assert losses.SparseCategoricalCrossentropy(ignore_class=-1)(np.array([0, -1]), np.full((2, 3), 1 / 3)) \
        == pytest.approx(math.log(3))


def test_empty_or_scalar_outputs_are_shape_errors():
    with pytest.raises(ShapeError, match="empty"):
        losses.get("mse")(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ShapeError, match="batch axis"):
        losses.get("mse")(1.0, 2.0)


# -- dtypes ---------------------------------------------------------------------------------------

DTYPE_CASES = [(name, False) for name in sorted(losses.LOSSES)] + [
    (name, True) for name in ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy")]


@pytest.mark.parametrize("name,from_logits", DTYPE_CASES)
def test_float32_stays_float32(name, from_logits):
    cls = losses.LOSSES[name]
    loss = cls(from_logits=True) if from_logits else cls()
    rng = np.random.default_rng(1)
    yt, yp = _data(name, rng)
    for labels in (yt, yt.astype(np.float32), yt.astype(np.int64) if name.startswith("sparse") else yt):
        value, grad = loss.value_and_gradient(labels, yp.astype(np.float32))
        assert grad.dtype == np.float32 and isinstance(value, float) and math.isfinite(value)
        assert value == pytest.approx(loss(yt, yp), rel=1e-4, abs=1e-5)
        np.testing.assert_allclose(grad, loss.gradient(yt, yp), rtol=1e-3, atol=1e-6)


def test_integer_predictions_become_floatx():
    value, grad = losses.get("mse").value_and_gradient(np.array([[1, 2]]), np.array([[1, 4]]))
    assert value == 2.0 and grad.dtype == np.float32


# -- registry and configs -------------------------------------------------------------------------

def test_registry_names_and_aliases():
    assert losses.names() == sorted(losses.LOSSES)
    assert set(losses.names()) == {
        "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
        "mean_squared_logarithmic_error", "root_mean_squared_error", "squared_hinge", "hinge",
        "categorical_hinge", "log_cosh", "huber", "categorical_crossentropy",
        "sparse_categorical_crossentropy", "binary_crossentropy", "kl_divergence", "poisson", "cosine_similarity"}
    expected = {"mse": losses.MeanSquaredError, "mae": losses.MeanAbsoluteError,
                "mape": losses.MeanAbsolutePercentageError, "msle": losses.MeanSquaredLogarithmicError,
                "rmse": losses.RootMeanSquaredError, "logcosh": losses.LogCosh, "kld": losses.KLDivergence,
                "kullback_leibler_divergence": losses.KLDivergence, "cosine_proximity": losses.CosineSimilarity}
    assert set(losses.ALIASES) == set(expected)
    for alias, cls in expected.items():
        assert type(losses.get(alias)) is cls
        assert type(losses.get(alias.upper())) is cls
    for name, cls in losses.LOSSES.items():
        assert cls.name == name and losses.get(name).name == name
        assert type(losses.get(cls.__name__)) is cls
    loss = losses.Huber(delta=2.0)
    assert losses.get(loss) is loss and type(losses.get(losses.Poisson)) is losses.Poisson


def test_unknown_names_suggest_a_close_match():
    with pytest.raises(ConfigError, match='did you mean "mean_squared_error"') as err:
        losses.get("mean_sqared_error")
    assert "binary_crossentropy" in str(err.value)
    with pytest.raises(ConfigError, match="loss must be a name"):
        losses.get(3)


@pytest.mark.parametrize("loss", [
    losses.Huber(delta=2.5), losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, axis=-1),
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
    losses.BinaryCrossentropy(label_smoothing=0.05), losses.CosineSimilarity(axis=1), losses.MeanSquaredError(),
    losses.RootMeanSquaredError(),
], ids=repr)
def test_config_round_trip(loss):
    spec = losses.serialize(loss)
    again = losses.get(spec)
    assert again == loss and again is not loss
    assert type(loss).from_config(loss.get_config()) == loss
    if loss == type(loss)():
        assert spec == loss.name
    else:
        assert spec == {"name": loss.name, "config": loss.get_config()}


def test_keras_config_keys_and_defaults():
    assert losses.CategoricalCrossentropy().get_config() == {"from_logits": False, "label_smoothing": 0.0, "axis": -1}
    assert losses.SparseCategoricalCrossentropy().get_config() == {"from_logits": False, "ignore_class": None}
    assert losses.BinaryCrossentropy().get_config() == {"from_logits": False, "label_smoothing": 0.0, "axis": -1}
    assert losses.Huber().get_config() == {"delta": 1.0}
    assert losses.CosineSimilarity().get_config() == {"axis": -1}
    # A config written by Keras (with name / reduction / dtype) loads.
    keras_cfg = {"name": "huber_loss", "reduction": "sum_over_batch_size", "dtype": None, "delta": 2.0}
    assert losses.get({"class_name": "Huber", "config": keras_cfg}) == losses.Huber(2.0)


@pytest.mark.parametrize("make,words", [
    (lambda: losses.Huber(delta=-1), ["huber", "delta", "-1"]),
    (lambda: losses.Huber(delta="big"), ["huber", "delta"]),
    (lambda: losses.CategoricalCrossentropy(label_smoothing=1.5), ["label_smoothing", "1.5", "[0, 1]"]),
    (lambda: losses.BinaryCrossentropy(from_logits="yes"), ["from_logits", "True or False"]),
    (lambda: losses.SparseCategoricalCrossentropy(ignore_class=1.5), ["ignore_class", "1.5"]),
    (lambda: losses.CosineSimilarity(axis="last"), ["axis", "'last'"]),
    (lambda: losses.get({"name": "huber", "config": {"deltta": 2}}), ["huber", "deltta", 'did you mean "delta"']),
    (lambda: losses.get({"name": "mse", "config": {"reduction": "sum"}}), ["reduction", "'sum'"]),
    (lambda: losses.get({"config": {}}), ["name"]),
])
def test_bad_settings_raise_config_error(make, words):
    with pytest.raises(ConfigError) as err:
        make()
    for word in words:
        assert word in str(err.value), str(err.value)

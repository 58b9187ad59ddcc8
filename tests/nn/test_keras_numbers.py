"""Numbers that must equal Keras 3 (torch backend) where a final softmax or sigmoid meets a cross-entropy.

Keras clips the probabilities to `[1e-7, 1 - 1e-7]` before the log, and the clip's gradient is zero
where it acts. tuinet fuses the activation with the loss, but keeps that clip: a saturated wrong
output reports `-log(1e-7)` and does not move the weights. The reference figures come from
`keras 3.15.1` with `KERAS_BACKEND=torch`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tuinet import Sequential, layers, optimizers
from tuinet.nn import losses

MINUS_LOG_EPS = 16.1181  # -log(1e-7), Keras's loss for a clipped probability


def _one_dense(units: int, activation: str, kernel, loss) -> Sequential:
    model = Sequential([layers.Dense(units, activation=activation, input_shape=(1,))])
    model.build()
    model.layers[0].set_weights([np.array(kernel, dtype=np.float32), np.zeros(units, dtype=np.float32)])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss=loss)
    return model


@pytest.mark.parametrize("loss,label", [("sparse_categorical_crossentropy", [1]),
                                        ("categorical_crossentropy", [[0.0, 1.0]])])
def test_saturated_softmax_reports_the_clipped_loss_and_stays_put(loss, label):
    """The issue's example: Keras reports 16.1181 and leaves the kernel at [[1, -1]]."""
    model = _one_dense(2, "softmax", [[1.0, -1.0]], loss)
    x, y = np.array([[30.0]]), np.array(label)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(MINUS_LOG_EPS, abs=1e-4)
    assert model.train_on_batch(x, y) == pytest.approx(MINUS_LOG_EPS, abs=1e-4)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], [[1.0, -1.0]])
    np.testing.assert_array_equal(model.layers[0].get_weights()[1], [0.0, 0.0])


def test_saturated_sigmoid_reports_the_clipped_loss_and_stays_put():
    model = _one_dense(1, "sigmoid", [[1.0]], "binary_crossentropy")
    x = np.array([[30.0]])
    # sigmoid(30) is 1 in float32, clipped to 1 - 1e-7 (0.99999988): Keras reports 15.942385.
    assert model.train_on_batch(x, np.array([[0.0]])) == pytest.approx(15.942385, abs=1e-4)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], [[1.0]])
    # sigmoid(-16.2) = 9.2e-8 is below the clip; Keras gives 16.118095 and no gradient (the
    # 0.5 + 0.5 * tanh form would round it up to 1.19e-7, inside the clip).
    twin = losses.BinaryCrossentropy().logits_twin("sigmoid")
    z = np.array([[-10.0], [-15.0], [-16.0], [-16.2], [30.0]], dtype=np.float32)
    y = np.array([[1.0], [1.0], [1.0], [1.0], [1.0]], dtype=np.float32)
    np.testing.assert_allclose(twin.call(y, z).ravel(), [10.000046, 15.0, 16.0, 16.118095, 1.1920929e-07],
                               rtol=1e-5)
    np.testing.assert_allclose(twin.gradient(y, z).ravel() * 5, [-0.9999546, -0.9999997, -1.0, 0.0, 0.0],
                               rtol=1e-5)  # (p - 1) per sample, 0 where clipped


def test_unsaturated_step_is_unchanged():
    """Inside the clip the fused step is Keras's too: dL/dz = p - y."""
    model = _one_dense(2, "softmax", [[1.0, -1.0]], "sparse_categorical_crossentropy")
    x, y = np.array([[0.5]]), np.array([1])
    p = np.exp([0.5, -0.5]) / np.exp([0.5, -0.5]).sum()
    assert model.train_on_batch(x, y) == pytest.approx(-np.log(p[1]), rel=1e-6)
    np.testing.assert_allclose(model.layers[0].get_weights()[0], [[1.0, -1.0]] - 0.1 * 0.5 * (p - [0, 1]),
                               rtol=1e-6)


def test_from_logits_keeps_the_stable_path():
    """With from_logits=True (a linear last layer) nothing clips, as in Keras: 60.0 and a step."""
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    model = _one_dense(2, "linear", [[1.0, -1.0]], loss)
    x, y = np.array([[30.0]]), np.array([1])
    assert model.train_on_batch(x, y) == pytest.approx(60.0, rel=1e-6)
    np.testing.assert_allclose(model.layers[0].get_weights()[0], [[-2.0, 2.0]], rtol=1e-6)
    assert model._fused is None and not loss.clips_probabilities
    bce = losses.BinaryCrossentropy(from_logits=True)
    assert bce(np.array([[1.0]]), np.array([[-500.0]])) == pytest.approx(500.0)


# -- float64 central differences of the fused twins, inside and outside the clip ----------------

def _numeric(f, z, h=1e-6):
    num = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[i] += h
        zm[i] -= h
        num[i] = (f(zp) - f(zm)) / (2 * h)
    return num


@pytest.mark.parametrize("region", ["unclipped", "clipped"])
@pytest.mark.parametrize("loss,act,labels", [
    (losses.CategoricalCrossentropy(), "softmax", "one_hot"),
    (losses.CategoricalCrossentropy(label_smoothing=0.1), "softmax", "one_hot"),
    (losses.SparseCategoricalCrossentropy(), "softmax", "ids"),
    (losses.SparseCategoricalCrossentropy(ignore_class=2), "softmax", "ids"),
    (losses.BinaryCrossentropy(), "sigmoid", "binary"),
    (losses.BinaryCrossentropy(label_smoothing=0.2), "sigmoid", "binary"),
], ids=["cce", "cce-smooth", "scce", "scce-ignore", "bce", "bce-smooth"])
def test_twin_gradient_matches_central_differences(loss, act, labels, region):
    rng = np.random.default_rng(5)
    z = rng.normal(size=(6, 3))
    if region == "clipped":
        z *= 25.0  # most probabilities leave [1e-7, 1 - 1e-7]
    y = {"one_hot": np.eye(3)[rng.integers(0, 3, size=6)], "ids": rng.integers(0, 3, size=6),
         "binary": rng.integers(0, 2, size=(6, 3)).astype(float)}[labels]
    twin = loss.logits_twin(act)
    value, grad = twin.value_and_gradient(y, z)
    np.testing.assert_allclose(grad, _numeric(lambda v: twin(y, v), z), atol=1e-7)
    p = {"softmax": lambda v: np.exp(v - v.max(1, keepdims=True)) / np.exp(v - v.max(1, keepdims=True)).sum(1,
                                                                                                    keepdims=True),
         "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v))}[act]
    assert value == pytest.approx(loss(y, p(z)), rel=1e-9)  # the same value as the probability loss
    if region == "clipped":
        assert value > 1.0 and (grad == 0).any()


# -- the hint for unscaled inputs ---------------------------------------------------------------

def _classifier(first=None) -> Sequential:
    stack = ([first] if first is not None else []) + [layers.Dense(4, activation="relu"),
                                                      layers.Dense(2, activation="softmax")]
    model = Sequential([layers.Input((3,)), *stack], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_unscaled_inputs_give_one_hint_per_fit():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(40, 3)).astype(np.float32)  # raw "pixels"
    y = rng.integers(0, 2, size=40)
    model = _classifier()
    with pytest.warns(UserWarning, match=r"the inputs reach 255; scale them \(x / 255") as seen:
        model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert len([w for w in seen if "scale them" in str(w.message)]) == 1
    with pytest.warns(UserWarning, match="standardize them"):
        model.fit(x - 300.0, y, epochs=1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x / 255.0, y, epochs=1, verbose=0)  # scaled: no hint
        _classifier(layers.Rescaling(1 / 255)).fit(x, y, epochs=1, verbose=0)  # the model scales
        _classifier(layers.Normalization()).fit(x, y, epochs=1, verbose=0)

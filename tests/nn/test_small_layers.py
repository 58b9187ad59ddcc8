"""Identity, Masking, UnitNormalization, ActivityRegularization, AlphaDropout and Lambda
(tuinet/nn/layers/small.py), and Keras's layer aliases."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tuinet
from tests.nn.gradcheck import assert_close, check_layer, numeric_grad, one_line
from tuinet import layers as L
from tuinet.errors import ConfigError, ShapeError
from tuinet.models import model_from_json
from tuinet.nn.layers.small import (ActivityRegularization, AlphaDropout, Identity, Lambda, Masking,
                                    UnitNormalization)
from tuinet.nn.optimizers import SGD

ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


def round_trip(layer):
    cfg = layer.get_config()
    assert json.loads(json.dumps(cfg)) == cfg
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg and not clone.built
    assert type(L.deserialize(json.loads(json.dumps(L.serialize(layer))))) is type(layer)
    return clone


def padded_batch(lengths, timesteps=6, features=3, seed=0, value=0.0):
    """Random sequences padded after `lengths[i]` steps with `value`."""
    x = np.random.default_rng(seed).normal(size=(len(lengths), timesteps, features))
    for i, n in enumerate(lengths):
        x[i, n:] = value
    return x


# ------------------------------------------------------------------------------ registry, aliases
NEW = (Identity, Masking, UnitNormalization, ActivityRegularization, AlphaDropout, Lambda)
ALIASES = {"AvgPool1D": "AveragePooling1D", "AvgPool2D": "AveragePooling2D", "MaxPool1D": "MaxPooling1D",
           "MaxPool2D": "MaxPooling2D", "GlobalAvgPool1D": "GlobalAveragePooling1D",
           "GlobalAvgPool2D": "GlobalAveragePooling2D", "GlobalMaxPool1D": "GlobalMaxPooling1D",
           "GlobalMaxPool2D": "GlobalMaxPooling2D", "Convolution1D": "Conv1D", "Convolution2D": "Conv2D",
           "Convolution1DTranspose": "Conv1DTranspose", "Convolution2DTranspose": "Conv2DTranspose",
           "SeparableConvolution2D": "SeparableConv2D"}


def test_registered_under_keras_names():
    for cls in NEW:
        assert L.LAYERS[cls.__name__] is cls and getattr(tuinet.layers, cls.__name__) is cls
        assert cls.__name__ in L.__all__
    assert [c.default_name() for c in NEW] == ["identity", "masking", "unit_normalization",
                                               "activity_regularization", "alpha_dropout", "lambda"]


def test_keras_aliases_are_the_same_classes_and_not_registry_keys():
    assert tuinet.layers.MaxPool2D is tuinet.layers.MaxPooling2D
    for alias, name in ALIASES.items():
        assert getattr(tuinet.layers, alias) is L.LAYERS[name], alias
        assert alias in L.__all__ and alias not in L.LAYERS
    # A model built with an alias saves the class name.
    model = tuinet.Sequential([L.Input((8, 8, 1)), L.Convolution2D(2, 3), L.MaxPool2D(), L.GlobalAvgPool2D()])
    assert [s["class_name"] for s in model.get_config()["layers"]][-3:] == ["Conv2D", "MaxPooling2D",
                                                                            "GlobalAveragePooling2D"]


@pytest.mark.parametrize("layer", [Identity(), Masking(), Masking(mask_value=-1.5), UnitNormalization(),
                                   UnitNormalization(axis=[1, 2]), ActivityRegularization(l1=0.01, l2=0.02),
                                   AlphaDropout(0.2), AlphaDropout(0.3, noise_shape=(None, 1, 4), seed=5)],
                         ids=lambda la: type(la).__name__)
def test_config_round_trip(layer):
    round_trip(layer)


def test_model_with_the_new_layers_round_trips_through_json(float64):
    model = tuinet.Sequential([L.Input((5, 4)), L.Masking(mask_value=0.0), L.Identity(),
                               L.LSTM(3, return_sequences=True), L.UnitNormalization(),
                               L.ActivityRegularization(l2=0.1), L.AlphaDropout(0.1, seed=1), L.Dense(2)], seed=0)
    clone = model_from_json(model.to_json())
    clone.set_weights(model.get_weights())
    x = padded_batch([5, 3], timesteps=5, features=4)
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-12)


# ------------------------------------------------------------------------------------- Identity
def test_identity_passes_values_gradients_and_the_mask(float64):
    x = np.random.default_rng(0).normal(size=(3, 4))
    layer = Identity()
    assert layer(x) is x
    check_layer(Identity(), (3, 4, 2))
    mask = np.array([[True, False]])
    assert layer.compute_mask(x, mask) is mask
    x = padded_batch([6, 2, 4])
    with_identity = tuinet.Sequential([L.Input((6, 3)), L.Masking(), L.Identity(), L.LSTM(4)], seed=1)
    without = tuinet.Sequential([L.Input((6, 3)), L.Masking(), L.LSTM(4)], seed=1)
    without.set_weights(with_identity.get_weights())
    np.testing.assert_allclose(with_identity.predict(x, verbose=0), without.predict(x, verbose=0), rtol=1e-12)


# -------------------------------------------------------------------------------------- Masking
def test_masking_values_and_mask_match_numpy():
    x = padded_batch([6, 2, 4], value=0.0)
    x[2, 1] = 0.0  # a zero step inside the sequence is masked too (Keras: all features equal mask_value)
    x[0, 0, 0] = 0.0  # one zero feature alone is kept
    layer = Masking()
    keep = np.any(x != 0.0, axis=-1)
    np.testing.assert_array_equal(layer(x), x * keep[..., None])
    np.testing.assert_array_equal(layer.compute_mask(x, None), keep)
    x = padded_batch([3, 6], value=-1.0)
    y = Masking(mask_value=-1.0)(x)
    assert (y[0, 3:] == 0).all() and np.array_equal(y[1], x[1]) and np.array_equal(y[0, :3], x[0, :3])


def test_masking_gradient_is_zero_on_masked_steps_and_matches_finite_differences_elsewhere(float64):
    x = padded_batch([6, 2, 4], value=0.5)
    layer = Masking(mask_value=0.5)
    layer.build_for(x.shape[1:], np.random.default_rng(0))
    r = np.random.default_rng(1).normal(size=x.shape)
    layer.forward(x)
    grad_in = layer.backward(r)
    keep = np.any(x != 0.5, axis=-1)
    assert (grad_in[~keep] == 0).all()
    idx, num = numeric_grad(lambda: float(np.sum(layer.forward(x) * r)), x, max_checks=None)
    kept = np.repeat(keep[..., None], x.shape[-1], axis=-1).reshape(-1)[idx]
    assert_close("Masking d/dx", grad_in.reshape(-1)[idx][kept], num[kept])


@pytest.mark.parametrize("return_sequences", [False, True])
def test_masking_then_lstm_equals_the_unpadded_prefix(float64, return_sequences):
    lengths = [6, 2, 4]
    x = padded_batch(lengths)
    masked = tuinet.Sequential([L.Input((6, 3)), L.Masking(), L.LSTM(4, return_sequences=return_sequences)], seed=2)
    out = masked.predict(x, verbose=0)
    for i, n in enumerate(lengths):
        plain = tuinet.Sequential([L.Input((n, 3)), L.LSTM(4, return_sequences=return_sequences)], seed=2)
        plain.set_weights(masked.get_weights())
        ref = plain.predict(x[i:i + 1, :n], verbose=0)[0]
        got = out[i, :n] if return_sequences else out[i]
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


def test_masking_in_a_functional_model_and_model_gradients(float64):
    inp = tuinet.Input((6, 3))
    out = L.Dense(2)(L.LSTM(4)(L.Masking()(inp)))
    model = tuinet.Model(inp, out)
    x = padded_batch([6, 2, 4])
    seq = tuinet.Sequential([L.Input((6, 3)), L.Masking(), L.LSTM(4), L.Dense(2)])
    seq.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), seq.predict(x, verbose=0), rtol=1e-12)
    check_model_gradients(seq, x, np.random.default_rng(3).normal(size=(3, 2)))


def test_masking_bad_mask_value():
    with pytest.raises(ConfigError, match="Masking: mask_value"):
        Masking(mask_value="pad")


# ---------------------------------------------------------------------------- UnitNormalization
@pytest.mark.parametrize(("axis", "shape"), [(-1, (3, 5)), (-1, (2, 3, 4)), (1, (2, 3, 4)), ([1, 2], (2, 3, 4)),
                                             ([-2, -1], (2, 2, 3, 4))])
def test_unit_normalization_values_and_gradients(float64, axis, shape):
    x = np.random.default_rng(0).normal(size=shape)
    axes = tuple(axis) if isinstance(axis, list) else axis
    ref = x / np.sqrt(np.sum(x ** 2, axis=axes, keepdims=True))
    np.testing.assert_allclose(UnitNormalization(axis=axis)(x), ref, rtol=1e-12)
    check_layer(UnitNormalization(axis=axis), shape)


def test_unit_normalization_clips_tiny_norms_at_keras_epsilon(float64):
    x = np.array([[3.0, 4.0], [0.0, 0.0], [3e-13, 4e-13]])
    layer = UnitNormalization()
    y = layer(x)
    np.testing.assert_allclose(y, [[0.6, 0.8], [0.0, 0.0], [0.3, 0.4]], rtol=1e-12)  # 5e-13 < 1e-12: x / 1e-12
    g = np.array([[1.0, 0.0], [1.0, 2.0], [1.0, 2.0]])
    grad = layer.backward(g)
    np.testing.assert_allclose(grad[0], (g[0] - y[0] * (g[0] @ y[0])) / 5.0, rtol=1e-12)
    np.testing.assert_allclose(grad[1:], g[1:] / 1e-12, rtol=1e-12)


def test_unit_normalization_bad_axis():
    with pytest.raises(ConfigError, match="UnitNormalization: axis"):
        UnitNormalization(axis="last")
    with pytest.raises(ShapeError, match="out of range") as exc:
        tuinet.Sequential([L.Input((4,)), L.UnitNormalization(axis=2)])
    one_line(exc)


# ----------------------------------------------------------------------- ActivityRegularization
def check_model_gradients(model, x, y, *, loss="mse", seed=0):
    """Every trainable weight's gradient (one forward/backward in training mode, regularizers
    included) against central differences of the model's total loss (as in test_functional)."""
    model.compile(optimizer=SGD(0.1), loss=loss)
    x, y = model._checked(x, y, "fit")
    rng = np.random.default_rng(seed)
    leaves = [(layer, k, p) for layer, trainable in model._leaves() if trainable for k, p in layer.params.items()]
    for _, _, p in leaves:
        assert p.dtype == np.float64
        p += rng.normal(scale=0.2, size=p.shape)
    out = model._forward(x, True)
    _, grad = model._loss_and_grad(y, out, True)
    model._backward(grad)
    for layer in model._regularized:
        layer.add_regularization_grads()
    analytic = {(id(layer), k): layer.grads[k].copy() for layer, k, _ in leaves}

    def total() -> float:
        return model._loss_and_grad(y, model._forward(x, True), False)[0]

    for layer, k, p in leaves:
        idx, num = numeric_grad(total, p, max_checks=60, rng=rng)
        assert_close(f"{layer.name}/{k}", analytic[(id(layer), k)].reshape(-1)[idx], num, 1e-6, 1e-9)


def test_activity_regularization_is_the_identity_with_a_penalty_over_the_batch(float64):
    x = np.random.default_rng(0).normal(size=(4, 3, 2))
    layer = ActivityRegularization(l1=0.01, l2=0.02)
    assert layer.regularization_loss() == 0.0
    np.testing.assert_array_equal(layer(x), x)
    penalty = (0.01 * np.abs(x).sum() + 0.02 * np.square(x).sum()) / 4  # Keras 3 divides by the batch size
    assert layer.regularization_loss() == pytest.approx(penalty, rel=1e-12)
    assert list(layer.regularizers) == ["activity"] and not layer.params
    layer.add_regularization_grads()  # nothing to add, no weights touched


def test_activity_regularization_input_gradient_includes_the_penalty(float64):
    x = np.random.default_rng(0).normal(size=(4, 3, 2))
    r = np.random.default_rng(1).normal(size=x.shape)
    layer = ActivityRegularization(l1=0.03, l2=0.05)
    layer.build_for(x.shape[1:], np.random.default_rng(0))

    def loss() -> float:
        return float(np.sum(layer.forward(x) * r)) + layer.regularization_loss()

    layer.forward(x)
    grad_in = layer.backward(r.copy())
    idx, num = numeric_grad(loss, x, max_checks=None)
    assert_close("ActivityRegularization d/dx", grad_in.reshape(-1)[idx], num)


def test_activity_regularization_model_loss_and_gradients(float64):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
    model = tuinet.Sequential([L.Input((4,)), L.Dense(5, activation="tanh"),
                               L.ActivityRegularization(l1=0.02, l2=0.05), L.Dense(2)], seed=1)
    check_model_gradients(model, x, y)
    # The loss that fit and evaluate report includes the penalty of the activations.
    hidden = tuinet.Sequential(model.layers[:1])
    h = hidden.predict(x, verbose=0)
    mse = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    penalty = (0.02 * np.abs(h).sum() + 0.05 * np.square(h).sum()) / len(x)
    assert model.evaluate(x, y, batch_size=6, verbose=0) == pytest.approx(mse + penalty, rel=1e-10)
    assert model._regularized == [model.layers[1]]


def test_activity_regularization_first_in_a_model_and_with_weight_regularizers(float64):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
    model = tuinet.Sequential([L.Input((4,)), L.ActivityRegularization(l2=0.1),
                               L.Dense(3, activation="tanh", kernel_regularizer="l2"),
                               L.ActivityRegularization(l1=0.05), L.Dense(2)], seed=2)
    check_model_gradients(model, x, y)
    model.compile(optimizer=SGD(0.05), loss="mse")
    history = model.fit(x, y, epochs=20, batch_size=6, verbose=0).history["loss"]
    assert history[-1] < history[0]


def test_activity_regularization_bad_factors():
    with pytest.raises(ConfigError, match="ActivityRegularization: l1"):
        ActivityRegularization(l1=-0.1)


# --------------------------------------------------------------------------------- AlphaDropout
def test_alpha_dropout_is_the_identity_at_inference():
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    layer = AlphaDropout(0.5, seed=1)
    assert layer(x) is x
    model = tuinet.Sequential([L.Input((4,)), L.AlphaDropout(0.5, seed=1)])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_alpha_dropout_keras_formula_and_gradient(float64):
    x = np.random.default_rng(0).normal(size=(6, 5))
    layer = AlphaDropout(0.3, seed=4)
    y = layer(x, training=True)
    rate = 0.3
    a = ((1 - rate) * (1 + rate * ALPHA_P ** 2)) ** -0.5
    b = -a * ALPHA_P * rate
    keep = np.random.default_rng(4).random(x.shape) >= rate  # the layer's own stream, drawn as Dropout draws
    np.testing.assert_allclose(y, a * np.where(keep, x, ALPHA_P) + b, rtol=1e-12)
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), a * keep, rtol=1e-12)

    layer = AlphaDropout(0.3, seed=4)
    forward = layer.forward

    def fixed(x, *, training=False):  # one fixed noise draw for every finite-difference evaluation
        layer._rng = np.random.default_rng(7)
        return forward(x, training=training)
    layer.forward = fixed
    check_layer(layer, (4, 3, 5), training=True)


def test_alpha_dropout_keeps_mean_and_variance():
    x = np.random.default_rng(0).normal(size=(400, 500))
    for rate in (0.1, 0.3, 0.5):
        y = AlphaDropout(rate, seed=1)(x, training=True)
        assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.02, (rate, y.mean(), y.var())
        a = ((1 - rate) * (1 + rate * ALPHA_P ** 2)) ** -0.5
        dropped = np.mean(np.isclose(y, a * ALPHA_P - a * ALPHA_P * rate, rtol=0, atol=1e-12))
        assert abs(dropped - rate) < 0.01, (rate, dropped)


def test_alpha_dropout_noise_shape_seed_and_errors():
    x = np.random.default_rng(0).normal(size=(3, 6, 4))
    y = AlphaDropout(0.5, noise_shape=(None, 1, 4), seed=2)(x, training=True)
    a = (0.5 * (1 + 0.5 * ALPHA_P ** 2)) ** -0.5
    dropped = np.isclose(y, a * ALPHA_P * 0.5, rtol=0, atol=1e-6)  # a * alpha' + b, b = -a * alpha' * rate
    assert 0 < dropped.mean() < 1
    assert (dropped == dropped[:, :1]).all()  # one draw per sample and feature, shared over time
    a = AlphaDropout(0.4, seed=3)(x, training=True)
    np.testing.assert_array_equal(a, AlphaDropout(0.4, seed=3)(x, training=True))
    m1 = tuinet.Sequential([L.Input((6, 4)), L.AlphaDropout(0.4)], seed=5)
    m2 = tuinet.Sequential([L.Input((6, 4)), L.AlphaDropout(0.4)], seed=5)
    np.testing.assert_array_equal(m1.layers[0].forward(x, training=True), m2.layers[0].forward(x, training=True))
    assert m1.random_state()["layers"][0] is not None  # its stream is saved with the run, as Dropout's
    for bad in (1.0, -0.1, "half"):
        with pytest.raises(ConfigError, match="AlphaDropout: rate"):
            AlphaDropout(bad)
    with pytest.raises(ConfigError, match="AlphaDropout: seed"):
        AlphaDropout(0.1, seed=-1)
    with pytest.raises(ShapeError, match="noise_shape") as exc:
        tuinet.Sequential([L.Input((6, 4)), L.AlphaDropout(0.1, noise_shape=(None, 2, 4))])
    one_line(exc)


# --------------------------------------------------------------------------------------- Lambda
@pytest.mark.filterwarnings("ignore:tuinet. the inputs reach")  # the scale hint cannot see inside a Lambda
def test_lambda_first_in_a_model_trains():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(32, 4)).astype("float32")
    y = (x.sum(axis=1, keepdims=True) / 255.0 > 2).astype("float32")
    model = tuinet.Sequential([L.Input((4,)), L.Lambda(lambda v: v / 255.0), L.Dense(8, activation="relu"),
                               L.Dense(1, activation="sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=30, batch_size=8, verbose=0).history["loss"]
    assert history[-1] < history[0]
    assert model.layers[0].needs_input_grad is False


def test_lambda_after_a_dense_raises_one_line_error_on_fit():
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    model = tuinet.Sequential([L.Input((3,)), L.Dense(4), L.Lambda(lambda v: v * 2, name="double"), L.Dense(1)])
    assert model.predict(x, verbose=0).shape == (8, 1)  # inference needs no gradient
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ConfigError) as exc:
        model.fit(x, np.zeros((8, 1)), epochs=1, verbose=0)
    assert one_line(exc) == ("Lambda 'double': gradients cannot flow through a Lambda layer (tuinet has no automatic "
                             "differentiation); put it before the first layer with weights, or use a built-in layer")
    assert Lambda.passes_gradients is False and str(model.layers[1].gradient_error()) == str(exc.value)


def test_lambda_output_shapes():
    shape = Lambda(lambda v: v[:, :2]).compute_output_shape((5, 3))
    assert shape == (2, 3)
    assert Lambda(lambda v: v.reshape(len(v), -1)).compute_output_shape((None, 3)) == (None,)
    assert Lambda(lambda v: v * 2).compute_output_shape((None, 3)) == (None, 3)
    assert Lambda(lambda v: v.sum(axis=1)).compute_output_shape((None, 3)) == (3,)
    assert Lambda(lambda v: v, output_shape=(7,)).compute_output_shape((3,)) == (7,)
    assert Lambda(lambda v: v, output_shape=lambda s: (s[0], s[1] * 2)).compute_output_shape((3,)) == (6,)
    model = tuinet.Sequential([L.Input((4,)), L.Lambda(lambda v, k: v[:, :k], arguments={"k": 2}), L.Dense(3)])
    assert model.output_shape == (None, 3) and model.layers[1].params["kernel"].shape == (2, 3)
    with pytest.raises(ShapeError, match="could not infer the output shape") as exc:
        Lambda(lambda v: v.reshape(5, 5)).compute_output_shape((3,))
    assert "output_shape=" in one_line(exc)


def test_lambda_arguments_training_and_mask():
    x = np.arange(6.0).reshape(2, 3)
    seen = {}

    def fn(v, scale, training=None):
        seen["training"] = training
        return v * scale
    layer = Lambda(fn, arguments={"scale": 3.0})
    np.testing.assert_array_equal(layer(x), x * 3)
    assert seen["training"] is False
    layer(x, training=True)
    assert seen["training"] is True
    # Keras: no `mask` argument means the output has no mask (an incoming mask ends here).
    assert Lambda(lambda v: v).compute_mask(x, np.ones((2, 3), bool)) is None
    assert Lambda(lambda v: v).supports_masking is False
    passing = Lambda(lambda v: v, mask=lambda inputs, mask: mask)
    assert passing.supports_masking and passing.compute_mask(x, np.array([True, False])).tolist() == [True, False]
    fixed = Lambda(lambda v: v, mask=np.array([[True, False, True]]))
    assert fixed.compute_mask(x, None).tolist() == [[True, False, True]]


def test_lambda_mask_passes_to_lstm_only_when_asked(float64):
    x = padded_batch([6, 2, 4])
    ref = tuinet.Sequential([L.Input((6, 3)), L.Masking(), L.LSTM(4)], seed=3)
    keep = tuinet.Sequential([L.Input((6, 3)), L.Masking(), L.Lambda(lambda v: v, mask=lambda v, m: m), L.LSTM(4)])
    drop = tuinet.Sequential([L.Input((6, 3)), L.Masking(), L.Lambda(lambda v: v), L.LSTM(4)])
    keep.set_weights(ref.get_weights())
    drop.set_weights(ref.get_weights())
    np.testing.assert_allclose(keep.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-12)
    assert not np.allclose(drop.predict(x, verbose=0), ref.predict(x, verbose=0))
    # A function that names `mask` gets the incoming mask.
    got = {}

    def spy(v, mask=None):
        got["m"] = mask
        return v
    seeing = tuinet.Sequential([L.Input((6, 3)), L.Masking(), L.Lambda(spy)])
    seeing.predict(x, verbose=0)
    np.testing.assert_array_equal(got["m"], np.any(x != 0, axis=-1))


def test_lambda_cannot_be_saved_or_loaded(tmp_path):
    model = tuinet.Sequential([L.Input((3,)), L.Lambda(lambda v: v * 2), L.Dense(1)])
    with pytest.raises(ConfigError, match="Lambda layers cannot be saved") as exc:
        model.get_config()
    one_line(exc)
    with pytest.raises(ConfigError, match="Lambda layers cannot be saved"):
        model.save(tmp_path / "m.tuinet")
    with pytest.raises(ConfigError, match="cannot be loaded") as exc:
        Lambda.from_config({"function": {"class_name": "__lambda__"}})
    one_line(exc)
    with pytest.raises(ConfigError, match="Lambda: function must be a Python callable"):
        Lambda("lambda x: x")
    with pytest.raises(ConfigError, match="Lambda: output_shape"):
        Lambda(lambda v: v, output_shape="big")

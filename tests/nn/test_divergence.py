"""Divergence never destroys a model: a step that would leave anything non-finite is taken back.

The checks cover the three ways a step can go wrong (non-finite loss or gradient, a forward pass
that overflows a moving statistic, an update that overflows a weight), what is restored (weights,
moving statistics, optimizer slots and iteration count), every way in (fit, train_on_batch,
TerminateOnNaN, the training session) and the learning rates refused before training starts.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tuinet
from tuinet import Sequential, layers, optimizers, schedules
from tuinet import session as session_module
from tuinet.errors import ConfigError, DivergenceError, PresetError
from tuinet.presets import load_preset, parse_preset


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)
    return x, y


def dense_model(optimizer, *, batch_norm=False, seed=0, activation="tanh"):
    stack = [layers.Dense(8, activation=activation, input_shape=(3,))]
    if batch_norm:
        stack.append(layers.BatchNormalization())
    stack.append(layers.Dense(1))
    model = Sequential(stack, seed=seed)
    model.compile(optimizer=optimizer, loss="mse")
    return model


def all_finite(model) -> bool:
    return all(np.isfinite(w).all() for w in model.get_weights())


def assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def fit_recording(model, x, y, **kw):
    """Fit and return (the error or None, the weights after the last step that was kept)."""
    kept = [model.get_weights()]
    cb = tuinet.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: kept.append(model.get_weights()))
    try:
        model.fit(x, y, verbose=0, shuffle=False, callbacks=[cb, *kw.pop("callbacks", [])], **kw)
    except DivergenceError as exc:
        return exc, kept[-1]
    return None, kept[-1]


# ---------------------------------------------------------------------- the update overflows a weight
def test_an_update_that_overflows_a_weight_is_taken_back():
    x, y = data()
    # A schedule is the way a learning rate of 1e300 can still reach a step: 1.0, then 1e300.
    lr = schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=1e300, staircase=True)
    model = dense_model(optimizers.SGD(learning_rate=lr))
    err, kept = fit_recording(model, x, y, epochs=2, batch_size=8)
    assert isinstance(err, DivergenceError)
    assert (err.epoch, err.batch) == (0, 1) and math.isfinite(err.loss)
    msg = str(err)
    assert "epoch 1, batch 2" in msg and "the update made dense" in msg and "non-finite" in msg
    assert "learning rate 1e+300 too large?" in msg and "last finite step" in msg
    assert all_finite(model)
    assert_same(model.get_weights(), kept)
    assert model.optimizer.iterations == 1  # the refused step did not count


def test_sgd_with_the_largest_float32_rate_is_refused_not_applied():
    x, y = data()
    model = dense_model(optimizers.SGD(learning_rate=3e38))
    before = model.get_weights()
    with pytest.raises(DivergenceError, match=r"batch 1: the update made dense(_1)?/\w+ non-finite") as info:
        model.fit(x * 100, y, epochs=1, batch_size=8, verbose=0)
    assert info.value.epoch == 0 and info.value.batch == 0
    assert_same(model.get_weights(), before)
    assert model.optimizer.iterations == 0


def test_rmsprop_at_3e38_with_batch_normalization_keeps_finite_weights_and_statistics():
    x, y = data()
    model = dense_model(optimizers.RMSprop(learning_rate=3e38), batch_norm=True)
    err, kept = fit_recording(model, x, y, epochs=3, batch_size=8)
    assert isinstance(err, DivergenceError)
    assert all_finite(model)
    assert_same(model.get_weights(), kept)  # moving_mean / moving_variance included
    bn = model.layers[1]
    assert np.isfinite(bn.state["moving_variance"]).all() and np.isfinite(bn.state["moving_mean"]).all()


# ---------------------------------------------------------------------- the forward pass overflows a statistic
def test_a_forward_pass_that_overflows_the_moving_variance_is_taken_back():
    # Finite activations of ~1e20 square to inf: the batch is normalized to beta (finite loss and
    # gradients) but the moving variance would become inf. Before the fix that went unnoticed.
    x, y = data()
    model = dense_model(optimizers.SGD(learning_rate=1e6), batch_norm=True, activation="linear")
    weights = model.get_weights()
    weights[0] = weights[0] * np.float32(1e20)
    model.set_weights(weights)
    before = model.get_weights()
    with pytest.raises(DivergenceError, match="forward pass made batch_normalization/moving_variance non-finite"):
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert_same(model.get_weights(), before)
    assert model.optimizer.iterations == 0


@pytest.mark.parametrize("seed", range(3))
def test_batch_normalization_with_sgd_1e6_never_ends_with_an_infinite_moving_variance(seed):
    x, y = data(seed=seed)
    model = dense_model(optimizers.SGD(learning_rate=1e6), batch_norm=True, seed=seed)
    err, kept = fit_recording(model, x * 10, y, epochs=5, batch_size=8)
    assert all_finite(model)
    if err is not None:
        assert_same(model.get_weights(), kept)


# ---------------------------------------------------------------------- optimizer state
@pytest.mark.parametrize("name", ["adamax", "nadam", "rmsprop", "sgd"])
def test_a_refused_step_restores_the_optimizer_state(name):
    x, y = data()
    opt = optimizers.get({"name": name, "config": {"learning_rate": 0.01}})
    if name == "sgd":
        opt = optimizers.SGD(learning_rate=0.01, momentum=0.9)
    model = dense_model(opt)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert opt.iterations == 4
    opt.learning_rate = 3e38
    kept = [(opt.get_state(), model.get_weights())]
    cb = tuinet.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: kept.append((opt.get_state(), model.get_weights())))
    with pytest.raises(DivergenceError, match="the update made"):
        model.fit(x * 1e3, y, epochs=3, batch_size=8, verbose=0, callbacks=[cb])
    state, weights = kept[-1]
    after = opt.get_state()
    assert set(after) == set(state)
    for key, value in state.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)
    assert_same(model.get_weights(), weights)
    assert opt.iterations == 4 + len(kept) - 1  # only the steps that were kept count


def test_a_refused_first_step_leaves_no_slots_behind():
    x, y = data()
    opt = optimizers.RMSprop(learning_rate=3e38, momentum=0.5)  # first step: 3e38 * g / sqrt(0.1 g**2) = inf
    model = dense_model(opt)
    with pytest.raises(DivergenceError):
        model.train_on_batch(x * 1e3, y)
    assert opt.iterations == 0 and set(opt.get_state()) == {"iterations"}


def test_an_accumulator_that_overflows_while_the_weights_stay_finite_is_taken_back():
    # Adagrad's accumulator only grows: 2.25e38 after one step, inf after two, while the
    # update g / sqrt(inf) = 0 leaves the weights finite. The slot check catches it.
    x, y = np.ones((1, 1), np.float32), np.full((1, 1), -7.5e18, np.float32)
    model = Sequential([layers.Dense(1, use_bias=False, kernel_initializer="zeros", input_shape=(1,))], seed=0)
    opt = optimizers.Adagrad(learning_rate=1e-30)
    model.compile(optimizer=opt, loss="mse")
    model.train_on_batch(x, y)
    state, weights = opt.get_state(), model.get_weights()
    with pytest.raises(DivergenceError, match=r"optimizer's accumulator non-finite \(gradients too large\?\)"):
        model.train_on_batch(x, y)
    after = opt.get_state()
    assert after["iterations"] == 1
    np.testing.assert_array_equal(after["params_float32/accumulator"], state["params_float32/accumulator"])
    assert_same(model.get_weights(), weights)


# ---------------------------------------------------------------------- train_on_batch, TerminateOnNaN
def test_train_on_batch_raises_and_keeps_the_weights():
    x, y = data()
    model = dense_model(optimizers.SGD(learning_rate=3e38), batch_norm=True)
    before = model.get_weights()
    with pytest.raises(DivergenceError, match=r"diverged at batch 1: the update made .* non-finite"):
        model.train_on_batch(x * 100, y)
    assert_same(model.get_weights(), before)


def test_terminate_on_nan_stops_with_the_last_finite_weights():
    x, y = data()
    lr = schedules.ExponentialDecay(0.01, decay_steps=1, decay_rate=1e300, staircase=True)
    model = dense_model(optimizers.SGD(learning_rate=lr), batch_norm=True)
    err, kept = fit_recording(model, x, y, epochs=3, batch_size=8, callbacks=[tuinet.callbacks.TerminateOnNaN()])
    assert err is None
    assert len(model.history.history["loss"]) == 1
    assert all_finite(model)
    assert_same(model.get_weights(), kept)


# ---------------------------------------------------------------------- learning rates float32 cannot hold
@pytest.mark.parametrize("lr", [1e39, 1e300, 3.5e38, 1e-50])
def test_learning_rates_float32_cannot_hold_are_refused_when_set(lr):
    with pytest.raises(ConfigError, match=r"SGD: learning_rate .* cannot be represented in float32"):
        optimizers.SGD(learning_rate=lr)
    opt = optimizers.Adam()
    with pytest.raises(ConfigError, match="cannot be represented in float32"):
        opt.learning_rate = lr
    assert opt.learning_rate == 0.001
    with pytest.raises(ConfigError, match="initial_learning_rate .* cannot be represented in float32"):
        schedules.ExponentialDecay(lr, 10, 0.5)
    with pytest.raises(ConfigError, match=r"values\[1\] .* cannot be represented in float32"):
        schedules.PiecewiseConstantDecay([10], [0.1, lr])
    with pytest.raises(ConfigError, match="^learning_rate .* cannot be represented in float32"):
        session_module.checked_learning_rate(lr)


def test_the_largest_float32_rates_are_still_accepted():
    for lr in (3e38, 3.4028234e38, 1e-45):
        assert optimizers.SGD(learning_rate=lr).learning_rate == lr
        assert session_module.checked_learning_rate(lr) == lr


def test_the_message_names_the_limit():
    with pytest.raises(ConfigError) as info:
        optimizers.SGD(learning_rate=1e300)
    assert str(info.value) == "SGD: learning_rate 1e+300 cannot be represented in float32 (max 3.4e+38)"


def test_learning_rate_scheduler_returning_1e39_is_refused():
    x, y = data()
    model = dense_model(optimizers.SGD(learning_rate=0.01))
    before = model.get_weights()
    cb = tuinet.callbacks.LearningRateScheduler(lambda epoch, lr: 1e39)
    with pytest.raises(ConfigError, match="LearningRateScheduler: .* cannot be represented in float32"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[cb])
    assert_same(model.get_weights(), before)


def test_presets_refuse_a_learning_rate_float32_cannot_hold():
    xor = load_preset("xor")
    with pytest.raises(PresetError, match=r"--learning-rate: 1e\+39 cannot be represented in float32"):
        xor.with_overrides(learning_rate=1e39)
    text = xor.path.read_text(encoding="utf-8").replace("learning_rate = 0.03", "learning_rate = 1e39")
    with pytest.raises(PresetError, match=r"xor.toml: train.learning_rate: 1e\+39 cannot be represented in float32"):
        parse_preset(text, label="xor.toml")


# ---------------------------------------------------------------------- the training session
def test_a_session_that_diverges_keeps_the_weights_of_its_last_finite_step():
    xor = load_preset("xor")
    exp = xor.replace(train=dataclasses.replace(xor.train, optimizer="rmsprop", optimizer_args={},
                                                learning_rate=3e38))
    events = []
    session = session_module.TrainingSession(exp, sink=events.append)
    kept = session.model.get_weights()
    for _ in range(50):
        if not session.step_batch():
            break
        kept = session.model.get_weights()
    assert session.state == "diverged"
    assert "non-finite" in session.last_message or "loss is" in session.last_message
    assert all_finite(session.model)
    assert_same(session.model.get_weights(), kept)
    with pytest.raises(ConfigError, match="cannot be represented in float32"):
        session.set_learning_rate(1e39)


# ---------------------------------------------------------------------- any huge rate, any optimizer
OPTIMIZERS = sorted(optimizers.OPTIMIZERS) + ["sgd-momentum"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exponent=st.floats(min_value=3.0, max_value=math.log10(3e38)), name=st.sampled_from(OPTIMIZERS),
       batch_norm=st.booleans(), scale=st.sampled_from([1.0, 1e3]), seed=st.integers(0, 3))
def test_after_any_huge_learning_rate_everything_is_finite(exponent, name, batch_norm, scale, seed):
    lr = min(10.0 ** exponent, 3e38)
    if name == "sgd-momentum":
        opt = optimizers.SGD(learning_rate=lr, momentum=0.9)
    else:
        opt = optimizers.get({"name": name, "config": {"learning_rate": lr}})
    x, y = data(seed=seed)
    model = dense_model(opt, batch_norm=batch_norm, seed=seed)
    err, kept = fit_recording(model, x * scale, y, epochs=2, batch_size=8)
    assert all_finite(model)
    assert all(np.isfinite(v).all() for v in opt.get_state().values())
    if err is not None:
        assert_same(model.get_weights(), kept)

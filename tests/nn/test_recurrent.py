"""Recurrent layers: SimpleRNN, LSTM, GRU against per-step references of Keras's cell equations."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.nn.gradcheck import check_layer
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import activations, initializers, regularizers
from tuinet.nn.layers.recurrent import GRU, LSTM, SimpleRNN

# -- plain references, written from the Keras 3 cell code (keras/src/layers/rnn/*.py) ----------

REF_ACT = {
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "softsign": lambda z: z / (1.0 + np.abs(z)),
    "hard_sigmoid": lambda z: np.clip(z / 6.0 + 0.5, 0.0, 1.0),
    "linear": lambda z: z,
}


def steps_of(x, go_backwards):
    t = x.shape[1]
    return range(t - 1, -1, -1) if go_backwards else range(t)


def ref_simple_rnn(x, k, u, b, act="tanh", go_backwards=False, return_sequences=False,
                   x_mask=None, h_mask=None):
    f = REF_ACT[act]
    h = np.zeros((x.shape[0], u.shape[0]))
    outs = []
    for t in steps_of(x, go_backwards):
        xt = x[:, t] if x_mask is None else x[:, t] * x_mask
        hp = h if h_mask is None else h * h_mask
        h = f(xt @ k + (0 if b is None else b) + hp @ u)
        outs.append(h)
    return np.stack(outs, axis=1) if return_sequences else h


def ref_lstm(x, k, u, b, act="tanh", ract="sigmoid", go_backwards=False, return_sequences=False,
             x_masks=None, h_masks=None):
    """Keras LSTMCell; with masks, `implementation=1`: one mask per gate i, f, c, o."""
    f_, g_ = REF_ACT[act], REF_ACT[ract]
    n = u.shape[0]
    h = np.zeros((x.shape[0], n))
    c = np.zeros_like(h)
    outs = []
    for t in steps_of(x, go_backwards):
        z = []
        for gate in range(4):
            cols = slice(gate * n, (gate + 1) * n)
            xt = x[:, t] if x_masks is None else x[:, t] * x_masks[gate]
            hp = h if h_masks is None else h * h_masks[gate]
            z.append(xt @ k[:, cols] + hp @ u[:, cols] + (0 if b is None else b[cols]))
        i, f, o = g_(z[0]), g_(z[1]), g_(z[3])
        c = f * c + i * f_(z[2])
        h = o * f_(c)
        outs.append(h)
    return np.stack(outs, axis=1) if return_sequences else h


def ref_gru(x, k, u, b, act="tanh", ract="sigmoid", go_backwards=False, return_sequences=False,
            reset_after=True, x_masks=None, h_masks=None):
    """Keras GRUCell; with masks, `implementation=1`: one mask per gate z, r, h."""
    f_, g_ = REF_ACT[act], REF_ACT[ract]
    n = u.shape[0]
    kz, kr, kh = k[:, :n], k[:, n:2 * n], k[:, 2 * n:]
    uz, ur, uh = u[:, :n], u[:, n:2 * n], u[:, 2 * n:]
    if b is None:
        bi, br = np.zeros(3 * n), np.zeros(3 * n)
    elif reset_after:
        bi, br = b[0], b[1]
    else:
        bi, br = b, np.zeros(3 * n)
    h = np.zeros((x.shape[0], n))
    outs = []
    for t in steps_of(x, go_backwards):
        xs = [x[:, t] if x_masks is None else x[:, t] * x_masks[j] for j in range(3)]
        hs = [h if h_masks is None else h * h_masks[j] for j in range(3)]
        z = g_(xs[0] @ kz + bi[:n] + hs[0] @ uz + br[:n])
        r = g_(xs[1] @ kr + bi[n:2 * n] + hs[1] @ ur + br[n:2 * n])
        if reset_after:
            hh = f_(xs[2] @ kh + bi[2 * n:] + r * (hs[2] @ uh + br[2 * n:]))
        else:
            hh = f_(xs[2] @ kh + bi[2 * n:] + (r * hs[2]) @ uh)
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, axis=1) if return_sequences else h


# -- helpers ------------------------------------------------------------------------------------

def built(layer, input_shape, seed=0, dtype="float64", jitter=True):
    """Build in `dtype` and move the weights off their initial values (zero biases...)."""
    old = layer.dtype
    layer.dtype = np.dtype(dtype)
    layer.build_for(input_shape, np.random.default_rng(seed))
    layer.dtype = old if old is not None else np.dtype(dtype)
    if jitter:
        rng = np.random.default_rng(seed + 100)
        for v in layer.params.values():
            v += rng.normal(scale=0.3, size=v.shape)
    return layer


def weights(layer):
    w = dict(zip(layer.weight_names, layer.get_weights()))
    return w["kernel"], w["recurrent_kernel"], w.get("bias")


def round_trip(layer):
    cfg = layer.get_config()
    assert json.loads(json.dumps(cfg)) == cfg
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg and not clone.built
    return clone


def with_fixed_masks(layer, seed=7):
    """Redraw the same dropout masks on every forward, so finite differences see one function."""
    forward = layer.forward

    def fwd(x, *, training=False):
        layer._rng = np.random.default_rng(seed)
        return forward(x, training=training)

    layer.forward = fwd
    return layer


X = np.random.default_rng(42).normal(size=(3, 4, 5))


# -- forward values against the references ------------------------------------------------------

@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("back", [False, True])
@pytest.mark.parametrize("act", ["tanh", "softsign"])
def test_simple_rnn_forward_matches_reference(seq, back, act):
    layer = built(SimpleRNN(4, activation=act, return_sequences=seq, go_backwards=back), X.shape[1:])
    k, u, b = weights(layer)
    np.testing.assert_allclose(layer(X), ref_simple_rnn(X, k, u, b, act, back, seq), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("back", [False, True])
@pytest.mark.parametrize("acts", [("tanh", "sigmoid"), ("softsign", "hard_sigmoid")])
def test_lstm_forward_matches_reference(seq, back, acts):
    layer = built(LSTM(4, activation=acts[0], recurrent_activation=acts[1], return_sequences=seq,
                       go_backwards=back), X.shape[1:])
    k, u, b = weights(layer)
    np.testing.assert_allclose(layer(X), ref_lstm(X, k, u, b, *acts, back, seq), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("back", [False, True])
@pytest.mark.parametrize("acts", [("tanh", "sigmoid"), ("softsign", "hard_sigmoid")])
@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_forward_matches_reference(seq, back, acts, reset_after):
    layer = built(GRU(4, activation=acts[0], recurrent_activation=acts[1], return_sequences=seq,
                      go_backwards=back, reset_after=reset_after), X.shape[1:])
    k, u, b = weights(layer)
    expected = ref_gru(X, k, u, b, *acts, back, seq, reset_after=reset_after)
    np.testing.assert_allclose(layer(X), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_no_bias_forward_matches_reference(cls):
    layer = built(cls(3, use_bias=False, return_sequences=True), X.shape[1:])
    k, u, b = weights(layer)
    assert b is None and layer.weight_names == ["kernel", "recurrent_kernel"]
    ref = {SimpleRNN: ref_simple_rnn, LSTM: ref_lstm, GRU: ref_gru}[cls]
    np.testing.assert_allclose(layer(X), ref(X, k, u, None, return_sequences=True), rtol=1e-12, atol=1e-12)


def test_hand_computed_small_cases():
    # SimpleRNN, linear, 1 unit: h1 = 0.5 * 1, h2 = 0.5 * 2 + 1.0 * h1.
    rnn = built(SimpleRNN(1, activation="linear", return_sequences=True), (2, 1), jitter=False)
    rnn.set_weights([[[0.5]], [[1.0]], [0.25]])
    np.testing.assert_allclose(rnn(np.array([[[1.0], [2.0]]])), [[[0.75], [2.0]]])
    # LSTM, 1 unit: only the candidate sees x (kernel column c), no recurrence, zero biases.
    lstm = built(LSTM(1), (2, 1), jitter=False)
    lstm.set_weights([[[0.0, 0.0, 1.0, 0.0]], np.zeros((1, 4)), np.zeros(4)])
    c1 = 0.5 * math.tanh(1.0)
    c2 = 0.5 * c1 + 0.5 * math.tanh(-2.0)
    np.testing.assert_allclose(lstm(np.array([[[1.0], [-2.0]]])), [[0.5 * math.tanh(c2)]], rtol=1e-12)
    # GRU, 1 unit, only the update-gate bias set: z = sigmoid(1), hh = tanh(x), h = (1 - z) * hh.
    gru = built(GRU(1), (1, 1), jitter=False)
    gru.set_weights([[[0.0, 0.0, 1.0]], np.zeros((1, 3)), [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    z = 1 / (1 + math.exp(-1.0))
    np.testing.assert_allclose(gru(np.array([[[0.7]]])), [[(1 - z) * math.tanh(0.7)]], rtol=1e-12)


def test_go_backwards_returns_outputs_in_processing_order():
    layer = built(SimpleRNN(2, return_sequences=True, go_backwards=True), (4, 5))
    fwd = built(SimpleRNN(2, return_sequences=True), (4, 5))
    fwd.set_weights(layer.get_weights())
    np.testing.assert_allclose(layer(X), fwd(X[:, ::-1]), rtol=1e-12)
    last = built(SimpleRNN(2, go_backwards=True), (4, 5))
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(last(X), layer(X)[:, -1], rtol=1e-12)


def test_float32_stays_float32_and_outputs_are_fresh():
    layer = LSTM(3, return_sequences=True)
    layer.build_for((4, 5), np.random.default_rng(0))
    assert layer.params["kernel"].dtype == np.float32
    y1 = layer(X)  # float64 input is cast to the weights' dtype
    assert y1.dtype == np.float32
    keep = y1.copy()
    layer(X[:, :, ::-1] * 2)
    np.testing.assert_array_equal(y1, keep)  # the next call must not overwrite a returned array
    g = layer.backward(np.ones_like(y1))
    assert g.dtype == np.float32 and all(v.dtype == np.float32 for v in layer.grads.values())


# -- gradients ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("back", [False, True])
@pytest.mark.parametrize("act", ["tanh", "softsign", "softmax"])
def test_simple_rnn_gradients(seq, back, act):
    check_layer(SimpleRNN(3, activation=act, return_sequences=seq, go_backwards=back), (2, 3, 4))


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("back", [False, True])
@pytest.mark.parametrize("acts", [("tanh", "sigmoid"), ("softsign", "softplus"), ("softmax", "sigmoid")])
def test_lstm_gradients(seq, back, acts):
    check_layer(LSTM(3, activation=acts[0], recurrent_activation=acts[1], return_sequences=seq,
                     go_backwards=back), (2, 3, 4))


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("back", [False, True])
@pytest.mark.parametrize("acts", [("tanh", "sigmoid"), ("softsign", "softplus")])
def test_gru_gradients(reset_after, seq, back, acts):
    check_layer(GRU(3, activation=acts[0], recurrent_activation=acts[1], return_sequences=seq,
                    go_backwards=back, reset_after=reset_after), (2, 3, 4))


@pytest.mark.parametrize("layer", [SimpleRNN(2, use_bias=False), LSTM(2, use_bias=False, return_sequences=True),
                                   GRU(2, use_bias=False), GRU(2, use_bias=False, reset_after=False)],
                         ids=["simple_rnn", "lstm", "gru", "gru_before"])
def test_gradients_without_bias(layer):
    check_layer(layer, (2, 3, 4))


@pytest.mark.parametrize("make", [lambda: SimpleRNN(3, return_sequences=True), lambda: LSTM(3),
                                  lambda: GRU(3, return_sequences=True), lambda: GRU(3, reset_after=False),
                                  lambda: LSTM(3, activation="softsign")],
                         ids=["simple_rnn", "lstm", "gru", "gru_before", "lstm_generic"])
def test_needs_input_grad_false_returns_none_with_same_weight_grads(make):
    full, first = built(make(), (3, 4)), built(make(), (3, 4))
    first.needs_input_grad = False
    x = X[:, :3, :4]
    y = full(x)
    g = np.random.default_rng(3).normal(size=y.shape)
    assert full.backward(g).shape == x.shape
    first(x)
    assert first.backward(g) is None
    for k in full.grads:
        np.testing.assert_allclose(first.grads[k], full.grads[k], rtol=1e-12)
    check_layer(make(), (2, 3, 4), check_input=False)


def test_backward_overwrites_grads():
    layer = built(LSTM(2), (3, 4))
    x = X[:, :3, :4]
    layer(x)
    layer.backward(np.ones((3, 2)))
    first = {k: v.copy() for k, v in layer.grads.items()}
    layer(x)
    layer.backward(np.ones((3, 2)))
    for k in first:
        np.testing.assert_allclose(layer.grads[k], first[k], rtol=1e-12)


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("act", ["sigmoid", "softmax"])
def test_simple_rnn_backward_linear_matches_backward(seq, act):
    """The model fuses sigmoid/softmax with the loss and hands dL/dz of the output to backward_linear."""
    layer = built(SimpleRNN(3, activation=act, return_sequences=seq), (4, 5))
    y = layer(X)
    assert layer._z.shape == y.shape  # the pre-activation of the output, in its layout
    np.testing.assert_allclose(activations.get(act)(layer._z), y, rtol=1e-12)
    g = np.random.default_rng(5).normal(size=y.shape)
    grad_in = layer.backward(g)
    expected = {k: v.copy() for k, v in layer.grads.items()}
    grad_z = activations.get(act).backward(layer._z, y, g)
    layer(X)
    np.testing.assert_allclose(layer.backward_linear(grad_z), grad_in, rtol=1e-10, atol=1e-12)
    for k in expected:
        np.testing.assert_allclose(layer.grads[k], expected[k], rtol=1e-10, atol=1e-12)


# -- dropout ------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda **kw: SimpleRNN(3, return_sequences=True, **kw),
                                  lambda **kw: LSTM(3, return_sequences=True, **kw),
                                  lambda **kw: GRU(3, return_sequences=True, **kw)],
                         ids=["simple_rnn", "lstm", "gru"])
def test_dropout_only_in_training(make):
    plain = built(make(), (4, 5))
    drop = built(make(dropout=0.5, recurrent_dropout=0.5, seed=1), (4, 5))
    drop.set_weights(plain.get_weights())
    np.testing.assert_allclose(drop(X, training=False), plain(X), rtol=1e-12)
    assert not np.allclose(drop(X, training=True), plain(X))


def test_simple_rnn_dropout_masks_are_shared_over_time():
    layer = built(SimpleRNN(4, dropout=0.4, recurrent_dropout=0.3, return_sequences=True), (4, 5))
    y = layer(X, training=True)
    xm, hm = layer._xmask, layer._hmask
    assert xm.shape == (1, 3, 5) and hm.shape == (1, 3, 4)
    assert set(np.unique(xm)) <= {0.0, 1 / 0.6} and set(np.unique(hm)) <= {0.0, 1 / 0.7}
    k, u, b = weights(layer)
    np.testing.assert_allclose(y, ref_simple_rnn(X, k, u, b, return_sequences=True, x_mask=xm[0], h_mask=hm[0]),
                               rtol=1e-12)


@pytest.mark.parametrize("cls, gates", [(LSTM, 4), (GRU, 3)])
def test_gated_input_dropout_uses_one_mask(cls, gates):
    """Keras `implementation=2` (no recurrent dropout): one input mask shared by every gate."""
    layer = built(cls(3, dropout=0.5, return_sequences=True), (4, 5))
    y = layer(X, training=True)
    assert layer._xmask.shape == (1, 3, 5) and layer._hmask is None
    k, u, b = weights(layer)
    ref = ref_lstm if cls is LSTM else ref_gru
    np.testing.assert_allclose(y, ref(X, k, u, b, return_sequences=True, x_masks=[layer._xmask[0]] * gates),
                               rtol=1e-12)


@pytest.mark.parametrize("cls, gates, kw", [(LSTM, 4, {}), (GRU, 3, {"reset_after": True}),
                                            (GRU, 3, {"reset_after": False})])
def test_gated_recurrent_dropout_uses_one_mask_per_gate(cls, gates, kw):
    """Keras `implementation=1` (recurrent dropout): every gate draws its own masks."""
    layer = built(cls(3, dropout=0.3, recurrent_dropout=0.4, return_sequences=True, **kw), (4, 5))
    y = layer(X, training=True)
    xm, hm = layer._xmask, layer._hmask
    assert xm.shape == (gates, 3, 5) and hm.shape == (gates, 3, 3)
    assert not np.array_equal(hm[0], hm[1])
    k, u, b = weights(layer)
    ref = ref_lstm if cls is LSTM else ref_gru
    np.testing.assert_allclose(y, ref(X, k, u, b, return_sequences=True, x_masks=xm, h_masks=hm, **kw),
                               rtol=1e-12)


def test_dropout_rate_and_seed():
    a = built(LSTM(16, dropout=0.25, recurrent_dropout=0.25, seed=3), (2, 100))
    b = built(LSTM(16, dropout=0.25, recurrent_dropout=0.25, seed=3), (2, 100))
    x = np.random.default_rng(0).normal(size=(200, 2, 100))
    a(x, training=True)
    b(x, training=True)
    np.testing.assert_array_equal(a._xmask, b._xmask)
    assert abs((a._xmask == 0).mean() - 0.25) < 0.02 and abs((a._hmask == 0).mean() - 0.25) < 0.02


@pytest.mark.parametrize("make", [lambda: SimpleRNN(3, dropout=0.3, recurrent_dropout=0.4),
                                  lambda: LSTM(3, dropout=0.3, return_sequences=True),
                                  lambda: LSTM(3, dropout=0.3, recurrent_dropout=0.4),
                                  lambda: LSTM(3, recurrent_dropout=0.4, activation="softsign"),
                                  lambda: GRU(3, dropout=0.3, recurrent_dropout=0.4, return_sequences=True),
                                  lambda: GRU(3, dropout=0.3, recurrent_dropout=0.4, reset_after=False),
                                  lambda: GRU(3, dropout=0.3, reset_after=False)],
                         ids=["simple_rnn", "lstm_in", "lstm_both", "lstm_generic", "gru", "gru_before",
                              "gru_before_in"])
def test_dropout_gradients(make):
    check_layer(with_fixed_masks(make()), (4, 3, 5), training=True)


# -- weights, shapes, errors --------------------------------------------------------------------

@pytest.mark.parametrize("layer, shapes", [
    (SimpleRNN(4), [(5, 4), (4, 4), (4,)]),
    (LSTM(4), [(5, 16), (4, 16), (16,)]),
    (GRU(4), [(5, 12), (4, 12), (2, 12)]),
    (GRU(4, reset_after=False), [(5, 12), (4, 12), (12,)]),
], ids=["simple_rnn", "lstm", "gru", "gru_before"])
def test_weight_shapes_and_order(layer, shapes):
    layer.build_for((7, 5), np.random.default_rng(0))
    assert layer.weight_names == ["kernel", "recurrent_kernel", "bias"]
    assert [w.shape for w in layer.get_weights()] == shapes
    assert layer.count_params() == sum(math.prod(s) for s in shapes)
    rec = layer.params["recurrent_kernel"].astype(np.float64)
    np.testing.assert_allclose(rec @ rec.T, np.eye(4), atol=1e-5)  # orthogonal by default


def test_lstm_forget_bias_initialization():
    layer = LSTM(3)
    layer.build_for((2, 2), np.random.default_rng(0))
    np.testing.assert_array_equal(layer.params["bias"], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    off = LSTM(3, unit_forget_bias=False)
    off.build_for((2, 2), np.random.default_rng(0))
    np.testing.assert_array_equal(off.params["bias"], np.zeros(12))
    const = LSTM(2, bias_initializer=initializers.Constant(0.5))
    const.build_for((2, 2), np.random.default_rng(0))
    np.testing.assert_array_equal(const.params["bias"], [0.5, 0.5, 1, 1, 0.5, 0.5, 0.5, 0.5])


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_output_shapes(cls):
    assert cls(6).compute_output_shape((10, 3)) == (6,)
    assert cls(6, return_sequences=True).compute_output_shape((10, 3)) == (10, 6)
    assert cls(6, return_sequences=True).compute_output_shape((None, 3)) == (None, 6)
    layer = cls(6, return_sequences=True)
    layer.build_for((10, 3), np.random.default_rng(0))
    assert layer(np.zeros((2, 10, 3))).shape == (2, 10, 6)
    assert layer(np.zeros((2, 1, 3))).shape == (2, 1, 6)  # any sequence length


def test_shape_errors():
    layer = LSTM(4, name="lstm")
    with pytest.raises(ShapeError, match=r"LSTM 'lstm' expects inputs of shape \(timesteps, features\), got \(8,\)"):
        layer.build_for((8,), np.random.default_rng(0))
    with pytest.raises(ShapeError, match=r"GRU 'g' .*\(timesteps, features\), got \(2, 3, 4\)"):
        GRU(2, name="g").compute_output_shape((2, 3, 4))
    with pytest.raises(ShapeError, match="known number of features"):
        SimpleRNN(2).compute_output_shape((5, None))
    layer.build_for((3, 5), np.random.default_rng(0))
    with pytest.raises(ShapeError, match=r"LSTM 'lstm' was built for 5 features, got inputs of shape \(2, 3, 4\)"):
        layer(np.zeros((2, 3, 4)))
    with pytest.raises(ShapeError, match=r"LSTM 'lstm' expects inputs of shape \(batch, timesteps, features\)"):
        layer(np.zeros((2, 5)))
    with pytest.raises(ShapeError, match="at least one time step"):
        layer(np.zeros((2, 0, 5)))


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("kwargs, pattern", [
    ({"units": 0}, r"units must be a positive integer, got 0"),
    ({"units": 2.5}, r"units must be a positive integer, got 2.5"),
    ({"units": 2, "dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1.0"),
    ({"units": 2, "recurrent_dropout": -0.1}, r"recurrent_dropout must be a number in \[0, 1\), got -0.1"),
    ({"units": 2, "return_state": "yes"}, r"return_state must be true or false, got 'yes'"),
    ({"units": 2, "stateful": True}, r"stateful=True is not supported.*expected False"),
    ({"units": 2, "seed": "x"}, r"seed must be a non-negative integer or None, got 'x'"),
    ({"units": 2, "activation": "tanhh"}, r"unknown activation 'tanhh' \(did you mean \"tanh\"\?\)"),
    ({"units": 2, "kernel_initializer": "glorot"}, r"unknown initializer 'glorot'"),
    ({"units": 2, "recurrent_regularizer": "l3"}, r"unknown regularizer 'l3'"),
    ({"units": 2, "use_cudnn": True}, r"unexpected argument\(s\) use_cudnn"),
])
def test_config_errors(cls, kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        cls(**kwargs)
    if "units" in pattern or "dropout" in pattern or "supported" in pattern or "seed" in pattern:
        assert str(info.value).startswith(cls.__name__)


# -- config ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", [
    SimpleRNN(3),
    SimpleRNN(5, activation="relu", use_bias=False, kernel_initializer="he_normal",
              recurrent_initializer=initializers.Orthogonal(gain=0.5, seed=1), bias_initializer="ones",
              kernel_regularizer="l2", recurrent_regularizer=regularizers.L1(0.1), bias_regularizer="l1_l2",
              dropout=0.1, recurrent_dropout=0.2, return_sequences=True, go_backwards=True, unroll=True,
              seed=4, name="rnn", input_shape=(7, 2)),
    LSTM(4),
    LSTM(4, activation="softsign", recurrent_activation="hard_sigmoid", unit_forget_bias=False,
         kernel_regularizer=regularizers.L2(0.5), dropout=0.2, seed=9, return_sequences=True, go_backwards=True,
         name="lstm_1", trainable=False, dtype="float64"),
    GRU(2),
    GRU(2, reset_after=False, recurrent_activation=activations.LeakyReLU(0.1), bias_regularizer="l2",
        recurrent_dropout=0.3, return_sequences=True),
], ids=["rnn", "rnn_all", "lstm", "lstm_all", "gru", "gru_all"])
def test_config_round_trip(layer):
    cfg = layer.get_config()
    expected_keys = {"units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
                     "bias_initializer", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                     "dropout", "recurrent_dropout", "seed", "return_sequences", "return_state",
                     "go_backwards", "stateful", "unroll", "name", "trainable"}
    extra = {LSTM: {"recurrent_activation", "unit_forget_bias"}, GRU: {"recurrent_activation", "reset_after"}}
    assert expected_keys | extra.get(type(layer), set()) <= set(cfg)
    clone = round_trip(layer)
    layer.build_for((3, 2), np.random.default_rng(0))
    clone.build_for((3, 2), np.random.default_rng(1))
    clone.set_weights(layer.get_weights())
    x = X[:, :3, :2]
    np.testing.assert_allclose(clone(x), layer(x), rtol=1e-6)
    assert set(clone.regularizers) == set(layer.regularizers)


def test_regularizers_are_registered():
    layer = LSTM(2, kernel_regularizer="l2", recurrent_regularizer="l1", bias_regularizer="l2")
    layer.build_for((3, 2), np.random.default_rng(0))
    assert set(layer.regularizers) == {"kernel", "recurrent_kernel", "bias"}
    w = layer.params["recurrent_kernel"]
    assert math.isclose(layer.regularization_loss(),
                        0.01 * float((layer.params["kernel"] ** 2).sum()) + 0.01 * float(np.abs(w).sum())
                        + 0.01 * float((layer.params["bias"] ** 2).sum()), rel_tol=1e-5)


# -- in a model -----------------------------------------------------------------------------------

def test_lstm_and_fused_simple_rnn_train_in_a_model():
    import tuinet

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 3)).astype(np.float32)
    y = x.mean(axis=(1, 2)).reshape(-1, 1)
    model = tuinet.Sequential([LSTM(8, input_shape=(6, 3)), tuinet.layers.Dense(1)], seed=0)
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit(x, y, batch_size=16, epochs=15, verbose=0).history["loss"]
    assert hist[-1] < 0.5 * hist[0]
    # Sigmoid SimpleRNN last: the model fuses sigmoid with binary cross-entropy.
    labels = (x[:, :, 0].sum(axis=1, keepdims=True) > 0).astype(np.float32)
    clf = tuinet.Sequential([GRU(8, input_shape=(6, 3), return_sequences=True),
                             SimpleRNN(1, activation="sigmoid")], seed=0)
    clf.compile(optimizer=tuinet.optimizers.Adam(0.02), loss="binary_crossentropy")
    hist = clf.fit(x, labels, batch_size=16, epochs=15, verbose=0).history["loss"]
    assert clf._fused is not None
    assert hist[-1] < 0.5 * hist[0]


# ---------------------------------------------------------------------- return_state
# Keras 3.15.1 (torch backend), the layer called directly; weights normal(0, 0.5) from
# default_rng(7) in Keras order, inputs normal from default_rng(3).
RS_X = np.random.default_rng(3).normal(size=(2, 3, 2)).astype("float32")
RS_MASK = np.array([[True, True, False], [True, False, True]])
RS_CASES = [
    (LSTM, {"units": 4}, None, [
        [[-0.11752069741487503, -0.0917041003704071, 0.37788140773773193, 0.3087182939052582],
         [-0.08888129889965057, -0.09308219701051712, 0.1131419986486435, 0.03870980069041252]],
        [[-0.11752069741487503, -0.0917041003704071, 0.37788140773773193, 0.3087182939052582],
         [-0.08888129889965057, -0.09308219701051712, 0.1131419986486435, 0.03870980069041252]],
        [[-0.2982291877269745, -0.156141996383667, 0.7534180283546448, 0.5019142031669617],
         [-0.18595440685749054, -0.21354590356349945, 0.1759766936302185, 0.06391800194978714]]]),
    (GRU, {"units": 3, "return_sequences": True}, None, [
        [[[-0.459017813205719, 0.38703790307044983, 0.24822179973125458],
          [-0.6045218110084534, 0.44518178701400757, 0.36833900213241577],
          [-0.6572713851928711, 0.3291034996509552, 0.4963814914226532]],
         [[-0.4027355909347534, -0.35003939270973206, 0.3084450960159302],
          [0.323021799325943, -0.43693089485168457, 0.31000080704689026],
          [-0.3244580030441284, -0.2826786935329437, 0.3195840120315552]]],
        [[-0.6572713851928711, 0.3291034996509552, 0.4963814914226532],
         [-0.3244580030441284, -0.2826786935329437, 0.3195840120315552]]]),
    (SimpleRNN, {"units": 2, "go_backwards": True}, None, [
        [[0.1313796043395996, 0.8166680932044983], [-0.11215750128030777, -0.697485625743866]],
        [[0.1313796043395996, 0.8166680932044983], [-0.11215750128030777, -0.697485625743866]]]),
    (LSTM, {"units": 2, "return_sequences": True}, RS_MASK, [
        [[[-0.12876500189304352, 0.21236580610275269], [-0.07055670022964478, 0.1634434014558792],
          [-0.07055670022964478, 0.1634434014558792]],
         [[0.06547649949789047, 0.05638410151004791], [0.06547649949789047, 0.05638410151004791],
          [0.013725800439715385, 0.14592909812927246]]],
        [[-0.07055670022964478, 0.1634434014558792], [0.013725800439715385, 0.14592909812927246]],
        [[-0.17255379259586334, 0.34706661105155945], [0.033500298857688904, 0.30574679374694824]]]),
]


@pytest.mark.parametrize("cls,kw,mask,expected", RS_CASES, ids=["lstm", "gru_seq", "rnn_backwards", "lstm_masked"])
def test_return_state_matches_keras(cls, kw, mask, expected):
    layer = cls(return_state=True, **kw)
    layer.build_for((3, 2), np.random.default_rng(0))
    rng = np.random.default_rng(7)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()])
    outs = layer(RS_X, mask=mask)
    assert isinstance(outs, list) and len(outs) == len(expected) == (3 if cls is LSTM else 2)
    for got, want in zip(outs, expected):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-6)
    # the plain output is unchanged by return_state
    plain = cls(**kw)
    plain.build_for((3, 2), np.random.default_rng(0))
    plain.set_weights(layer.get_weights())
    np.testing.assert_array_equal(plain(RS_X, mask=mask), outs[0])


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_return_state_config_round_trip(cls):
    layer = cls(3, return_state=True)
    cfg = layer.get_config()
    assert cfg["return_state"] is True
    clone = round_trip(layer)
    assert clone.return_state is True
    layer.build_for((3, 2), np.random.default_rng(0))
    clone.build_for((3, 2), np.random.default_rng(1))
    clone.set_weights(layer.get_weights())
    for a, b in zip(clone(X[:, :3, :2]), layer(X[:, :3, :2])):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_return_state_refused_in_sequential(cls):
    from tuinet.nn.model import Sequential

    msg = r"return_state needs the functional API \(keras.Model\(inputs, outputs\)\), which tuinet does not have yet"
    with pytest.raises(ConfigError, match=msg) as info:
        Sequential([cls(3, return_state=True)])
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=msg):
        Sequential().add(cls(3, return_state=True))


def test_return_state_refused_in_bidirectional():
    from tuinet.nn.layers.wrappers import Bidirectional

    with pytest.raises(ConfigError, match=r"Bidirectional: return_state needs the functional API"):
        Bidirectional(LSTM(3, return_state=True))

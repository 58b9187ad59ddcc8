"""Recurrent layers with `initial_state`, and backpropagation from their returned final states.

Gradients: float64 central differences of `L = sum(w1 * output) + sum(w2 * h_final)`
(+ `sum(w3 * c_final)` for LSTM) with respect to the inputs, the initial states and every
weight, through `backward_with_states`. Forward numbers: Keras 3 (torch backend) with the
same weights, `initial_state` and mask, computed once and written down here.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.nn.gradcheck import assert_close, numeric_grad, one_line
from tuinet.errors import ShapeError
from tuinet.nn.layers.recurrent import GRU, LSTM, SimpleRNN

LAYERS = {
    "simple_rnn": (SimpleRNN, {}),
    "lstm": (LSTM, {}),
    "gru": (GRU, {}),
    "gru_reset_before": (GRU, {"reset_after": False}),
}

# Row 0: trailing masked steps; row 1: leading ones; row 2: a hole in the middle and one at the end.
MASK = np.array([[True, True, True, False, False],
                 [False, False, True, True, True],
                 [True, False, True, True, False]])


def n_states(layer) -> int:
    return 2 if isinstance(layer, LSTM) else 1


def make_layer(kind, seed=0, **kw):
    cls, extra = LAYERS[kind]
    layer = cls(3, return_state=True, **extra, **kw)
    layer.build_for((5, 4), np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    for v in layer.params.values():  # move the zero biases and the orthogonal kernels off their defaults
        v += rng.normal(scale=0.3, size=v.shape)
    return layer


def check_state_grads(layer, x, init, mask=None, training=False, reseed=False):
    """Compare `backward_with_states` with central differences of the weighted loss."""
    rng = np.random.default_rng(7)
    call = {"mask": mask, "training": training}

    def run():
        if reseed:  # the same dropout masks on every pass
            layer._rng = np.random.default_rng(3)
        return layer(x, initial_state=init, **call)

    outs = run()
    w = [rng.normal(size=o.shape) for o in outs]

    def loss() -> float:
        return float(sum(np.sum(wi * o) for wi, o in zip(w, run())))

    run()
    grad_x, grad_init = layer.backward_with_states(w[0], w[1:])
    analytic = {k: g.copy() for k, g in layer.grads.items()}
    label = f"{type(layer).__name__}(go_backwards={layer.go_backwards}, return_sequences={layer.return_sequences})"
    assert grad_x is not None and grad_x.shape == x.shape
    idx, num = numeric_grad(loss, x, max_checks=None)
    assert_close(f"{label} d/dx", grad_x.reshape(-1)[idx], num)
    if init is None:
        assert grad_init is None
    else:
        assert len(grad_init) == n_states(layer)
        for k, (s, g) in enumerate(zip(init, grad_init)):
            assert g.shape == s.shape
            idx, num = numeric_grad(loss, s, max_checks=None)
            assert_close(f"{label} d/d(initial state {k})", g.reshape(-1)[idx], num)
    for k, p in layer.params.items():
        idx, num = numeric_grad(loss, p, max_checks=None)
        assert_close(f"{label} d/d{k}", analytic[k].reshape(-1)[idx], num)


@pytest.mark.parametrize("with_init", [True, False], ids=["init", "zeros"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_state_gradients(float64, kind, go_backwards, return_sequences, masked, with_init):
    layer = make_layer(kind, go_backwards=go_backwards, return_sequences=return_sequences)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3, 5, 4))
    init = [rng.normal(size=(3, 3)) for _ in range(n_states(layer))] if with_init else None
    check_state_grads(layer, x, init, mask=MASK if masked else None)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_state_gradients_with_dropout(float64, kind):
    # The recurrent dropout mask also multiplies the initial state before `recurrent_kernel`.
    layer = make_layer(kind, dropout=0.3, recurrent_dropout=0.4, return_sequences=True)
    rng = np.random.default_rng(12)
    x = rng.normal(size=(3, 5, 4))
    init = [rng.normal(size=(3, 3)) for _ in range(n_states(layer))]
    check_state_grads(layer, x, init, mask=MASK, training=True, reseed=True)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_backward_unchanged_and_zero_state_grads(float64, kind):
    """`backward` equals `backward_with_states` with zero state gradients; None output grads are zeros."""
    layer = make_layer(kind, return_sequences=True, go_backwards=True)
    rng = np.random.default_rng(13)
    x = rng.normal(size=(3, 5, 4))
    init = [rng.normal(size=(3, 3)) for _ in range(n_states(layer))]
    out = layer(x, initial_state=init, mask=MASK)[0]
    g = rng.normal(size=out.shape)
    dx = layer.backward(g)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    dx2, dinit = layer.backward_with_states(g, [None] * n_states(layer))
    np.testing.assert_allclose(dx2, dx, rtol=1e-12, atol=1e-14)
    for k, v in layer.grads.items():
        np.testing.assert_allclose(v, grads[k], rtol=1e-12, atol=1e-14)
    assert len(dinit) == n_states(layer)
    # Only the states feed the loss: grad_out None means zeros.
    hs = [rng.normal(size=(3, 3)) for _ in range(n_states(layer))]
    dx3, dinit3 = layer.backward_with_states(None, hs)
    dx4, dinit4 = layer.backward_with_states(np.zeros_like(out), hs)
    np.testing.assert_allclose(dx3, dx4)
    for a, b in zip(dinit3, dinit4):
        np.testing.assert_allclose(a, b)
    assert np.abs(dx3).sum() > 0


def test_no_input_grad_still_gives_state_grads(float64):
    layer = make_layer("lstm")
    layer.needs_input_grad = False
    rng = np.random.default_rng(14)
    x = rng.normal(size=(3, 5, 4))
    init = [rng.normal(size=(3, 3)), rng.normal(size=(3, 3))]
    layer(x, initial_state=init)
    dx, dinit = layer.backward_with_states(rng.normal(size=(3, 3)), [rng.normal(size=(3, 3)), None])
    assert dx is None
    assert [d.shape for d in dinit] == [(3, 3), (3, 3)]


def test_direct_call_and_single_array(float64):
    """`layer(x, initial_state=h)` accepts one array for the one-state layers, as Keras does."""
    rng = np.random.default_rng(15)
    x = rng.normal(size=(3, 5, 4))
    h0 = rng.normal(size=(3, 3))
    for kind in ("simple_rnn", "gru"):
        layer = make_layer(kind)
        a = layer(x, initial_state=h0)
        b = layer(x, initial_state=[h0])
        c = layer(x)
        np.testing.assert_array_equal(a[0], b[0])
        assert not np.allclose(a[0], c[0])


def test_fully_masked_row_keeps_initial_state(float64):
    """Keras: a row with every step masked outputs zeros, and its final states are the initial ones."""
    layer = make_layer("lstm")
    rng = np.random.default_rng(16)
    x = rng.normal(size=(2, 5, 4))
    init = [rng.normal(size=(2, 3)), rng.normal(size=(2, 3))]
    mask = np.array([[True, False, True, True, False], [False] * 5])
    out, h, c = layer(x, initial_state=init, mask=mask)
    np.testing.assert_array_equal(out[1], 0)
    np.testing.assert_array_equal(h[1], init[0][1])
    np.testing.assert_array_equal(c[1], init[1][1])
    assert np.abs(out[0]).sum() > 0


@pytest.mark.parametrize("kind, bad", [
    ("lstm", "one"), ("lstm", "three"), ("lstm", "array"), ("simple_rnn", "two"),
    ("gru", "units"), ("gru", "batch"), ("lstm", "rank"),
])
def test_wrong_initial_state_is_a_one_line_shape_error(kind, bad):
    layer = make_layer(kind)
    x = np.zeros((2, 5, 4))
    s = np.zeros((2, 3))
    init = {"one": [s], "three": [s, s, s], "array": s, "two": [s, s], "units": [np.zeros((2, 4))],
            "batch": [np.zeros((3, 3))], "rank": [s, np.zeros(3)]}[bad]
    with pytest.raises(ShapeError) as err:
        layer(x, initial_state=init)
    msg = one_line(err)
    assert type(layer).__name__ in msg and repr(layer.name) in msg
    assert "(2, 3)" in msg


def test_wrong_state_grads_are_shape_errors():
    layer = make_layer("lstm")
    layer(np.zeros((2, 5, 4)), initial_state=[np.zeros((2, 3))] * 2)
    with pytest.raises(ShapeError, match="2 state"):
        layer.backward_with_states(np.zeros((2, 3)), [np.zeros((2, 3))])
    with pytest.raises(ShapeError, match=r"\(2, 3\)"):
        layer.backward_with_states(np.zeros((2, 3)), [np.zeros((2, 4)), None])
    with pytest.raises(ShapeError, match="output gradient"):
        layer.backward_with_states(np.zeros((2, 5, 3)), [None, None])


def test_plain_backward_after_initial_state_matches_gradients(float64):
    """The ordinary `backward` after a forward pass with `initial_state` (states not used)."""
    layer = make_layer("gru", return_sequences=True)
    rng = np.random.default_rng(17)
    x = rng.normal(size=(3, 5, 4))
    init = [rng.normal(size=(3, 3))]
    r = rng.normal(size=(3, 5, 3))

    def loss():
        return float(np.sum(r * layer(x, initial_state=init, mask=MASK)[0]))

    layer(x, initial_state=init, mask=MASK)
    dx = layer.backward(r)
    idx, num = numeric_grad(loss, x, max_checks=None)
    assert_close("GRU d/dx", dx.reshape(-1)[idx], num)


# -- Keras 3 numbers: units 2, features 3, timesteps 4, batch 2, return_sequences and return_state --

X = [[[0.3, -1.04, 0.75], [0.94, -1.95, -1.3], [0.13, -0.32, -0.02], [-0.85, 0.88, 0.78]],
     [[0.07, 1.13, 0.47], [-0.86, 0.37, -0.96], [0.88, -0.05, -0.18], [-0.68, 1.22, -0.15]]]
KERAS_MASK = [[True, True, True, False], [False, False, True, True]]

KERAS = {
    "simple_rnn": {
        "init": [[[-0.43, -0.35], [0.53, 0.37]]],
        "weights": [[[0.21, 0.22], [1.07, -0.2], [-0.26, -0.41]], [[0.31, 0.56], [-0.06, -0.42]], [-0.41, 0.33]],
        False: ([[[-0.943291, 0.199969], [-0.978691, 0.689798], [-0.787449, -0.385907], [-0.787449, -0.385907]],
                 [[0.0, 0.0], [0.0, 0.0], [-0.089559, 0.634433], [0.620471, -0.308344]]],
                [[[-0.787449, -0.385907], [0.620471, -0.308344]]]),
        True: ([[[0.0, 0.0], [-0.681656, 0.324796], [-0.975352, 0.735983], [-0.964121, -0.507094]],
                [[0.732314, 0.138406], [-0.013186, 0.743994], [-0.013186, 0.743994], [-0.013186, 0.743994]]],
               [[[-0.964121, -0.507094], [-0.013186, 0.743994]]]),
    },
    "lstm": {
        "init": [[[0.74, 0.54], [-0.67, 0.23]], [[0.12, 0.22], [0.87, 0.22]]],
        "weights": [[[0.34, 0.03, 0.14, 0.32, -0.73, -0.16, -0.24, -0.32],
                     [-0.14, 0.75, -0.43, 0.48, -0.84, -0.17, 0.08, 0.29],
                     [0.36, 0.4, -0.17, -0.23, 0.43, -0.1, -0.64, -0.57]],
                    [[-0.46, 0.25, 0.07, 0.35, -0.21, 0.08, 0.31, -0.15],
                     [0.23, -0.33, -0.18, -0.19, -0.6, 0.24, -0.23, 0.01]],
                    [0.24, 0.22, 0.33, -0.05, -0.21, -0.04, -0.84, -0.72]],
        False: ([[[0.050719, 0.027494], [0.118418, 0.033222], [0.040221, 0.017489], [0.040221, 0.017489]],
                 [[0.0, 0.0], [0.0, 0.0], [0.006672, 0.011278], [-0.106349, -0.032505]]],
                [[[0.040221, 0.017489], [-0.106349, -0.032505]], [[0.135614, 0.058905], [-0.286445, -0.067259]]]),
        True: ([[[0.0, 0.0], [-0.056024, 0.055188], [-0.020376, 0.035933], [0.069989, 0.008852]],
                [[0.000957, 0.01531], [-0.116051, -0.01795], [-0.116051, -0.01795], [-0.116051, -0.01795]]],
               [[[0.069989, 0.008852], [-0.116051, -0.01795]], [[0.400608, 0.050253], [-0.440549, -0.062781]]]),
    },
    "gru": {
        "init": [[[-1.32, -1.0], [0.4, -0.91]]],
        "weights": [[[-0.19, 0.65, -0.18, 0.37, -0.47, -0.1], [-0.48, -0.17, 0.42, -0.86, 0.22, 0.12],
                     [-0.3, -0.72, 0.04, -0.26, 0.12, 0.01]],
                    [[0.8, -0.12, -0.51, 0.09, 0.11, 0.68], [0.42, 0.18, 0.73, -0.59, -0.32, -0.46]],
                    [[-0.19, -0.69, 0.32, -0.11, -0.74, -0.51], [0.16, 0.42, 1.0, 1.46, 0.21, -0.49]]],
        False: ([[[-0.785028, -0.944315], [-0.846804, -0.935027], [-0.61059, -0.867582], [-0.61059, -0.867582]],
                 [[0.0, 0.0], [0.0, 0.0], [-0.202613, -0.683686], [0.057327, -0.520144]]],
                [[[-0.61059, -0.867582], [0.057327, -0.520144]]]),
        True: ([[[0.0, 0.0], [-0.686895, -0.937834], [-0.790904, -0.927196], [-0.68236, -0.872202]],
                [[0.29572, -0.360751], [-0.229826, -0.465777], [-0.229826, -0.465777], [-0.229826, -0.465777]]],
               [[[-0.68236, -0.872202], [-0.229826, -0.465777]]]),
    },
    "gru_reset_before": {
        "init": [[[-2.13, 0.27], [-0.81, -0.42]]],
        "weights": [[[-0.31, -0.07, 0.53, 0.08, -0.08, -0.52], [-0.84, -0.24, -0.03, 0.88, 0.07, 0.49],
                     [-0.25, -0.59, -0.48, -0.36, 1.06, -0.41]],
                    [[0.42, -0.45, 0.47, 0.19, -0.08, -0.02], [-0.33, 0.22, -0.23, -0.61, -0.64, 0.09]],
                    [0.79, 0.08, -0.06, 0.14, 0.65, 0.11]],
        False: ([[[-0.923471, -0.01094], [-0.899803, -0.114107], [-0.404301, -0.110028], [-0.404301, -0.110028]],
                 [[0.0, 0.0], [0.0, 0.0], [-0.276688, -0.372767], [0.197155, 0.223573]]],
                [[[-0.404301, -0.110028], [0.197155, 0.223573]]]),
        True: ([[[0.0, 0.0], [-0.828966, 0.185986], [-0.817285, 0.05174], [-0.36912, -0.275792]],
                [[0.015066, 0.130587], [0.12796, -0.060362], [0.12796, -0.060362], [0.12796, -0.060362]]],
               [[[-0.36912, -0.275792], [0.12796, -0.060362]]]),
    },
}


@pytest.mark.parametrize("go_backwards", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("kind", list(KERAS))
def test_initial_state_matches_keras(kind, go_backwards):
    """Masked outputs start from zeros while the states start from `initial_state`, as in Keras."""
    cls, extra = LAYERS[kind]
    case = KERAS[kind]
    layer = cls(2, return_sequences=True, return_state=True, go_backwards=go_backwards, **extra)
    layer.build((None, 4, 3))
    layer.set_weights([np.array(w, dtype="float32") for w in case["weights"]])
    init = [np.array(s, dtype="float32") for s in case["init"]]
    out, *states = layer(np.array(X, dtype="float32"), initial_state=init, mask=np.array(KERAS_MASK))
    want_out, want_states = case[go_backwards]
    np.testing.assert_allclose(out, want_out, atol=2e-6)
    assert len(states) == len(want_states)
    for s, w in zip(states, want_states):
        np.testing.assert_allclose(s, w, atol=2e-6)

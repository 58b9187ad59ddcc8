"""Attention layers (tuinet/nn/layers/attention.py): MultiHeadAttention and Attention."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import tuinet
from tests.nn.gradcheck import assert_close, numeric_grad, round_trip
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import layers as L
from tuinet.nn.functional import model_from_config
from tuinet.nn.layers.attention import Attention, MultiHeadAttention


def check_attention(layer, shapes, *, seed=0, training=False, rtol=1e-5, atol=1e-7, **call):
    """Float64 central differences of `sum(forward(xs, **call) * R)` against `backward(R)`, for
    every input and every weight. Dropout masks are redrawn from the same seed each pass."""
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=s) for s in shapes]
    if not layer.built:
        layer.build_for([x.shape[1:] for x in xs], np.random.default_rng(seed + 1))
    for v in layer.params.values():
        v += rng.normal(scale=0.3, size=v.shape)

    def run():
        layer._rng = np.random.default_rng(seed + 2)
        return layer.forward(xs, training=training, **call)

    y = run()
    r = rng.normal(size=y.shape)

    def loss() -> float:
        return float(np.sum(run() * r))

    run()
    grads = layer.backward(r.copy())
    analytic = {k: g.copy() for k, g in layer.grads.items()}
    assert isinstance(grads, list) and len(grads) == len(xs)
    for i, (x, g) in enumerate(zip(xs, grads)):
        assert g.shape == x.shape and g.dtype == np.float64, f"input {i}: grad {g.shape} != {x.shape}"
        idx, num = numeric_grad(loss, x, rng=rng)
        assert_close(f"{type(layer).__name__} d/dx{i}", g.reshape(-1)[idx], num, rtol, atol)
    assert set(analytic) == set(layer.params)
    for k, p in layer.params.items():
        assert analytic[k].shape == p.shape
        idx, num = numeric_grad(loss, p, rng=rng)
        assert_close(f"{type(layer).__name__} d/d{k}", analytic[k].reshape(-1)[idx], num, rtol, atol)
    return xs, y




# ------------------------------------------------------------------------ NumPy reference formulas
def mha_reference(layer, query, value, key=None, mask=None, causal=False):
    """Keras's MultiHeadAttention written with einsum, straight from the weights."""
    key = value if key is None else key
    w = {n: layer.weight(n) for n in layer.weight_names}
    b = (lambda n: w[n]) if layer.use_bias else (lambda n: 0)
    q = np.einsum("btd,dnh->btnh", query, w["query/kernel"]) + b("query/bias")
    k = np.einsum("bsd,dnh->bsnh", key, w["key/kernel"]) + b("key/bias")
    v = np.einsum("bsd,dnh->bsnh", value, w["value/kernel"]) + b("value/bias")
    scores = np.einsum("bsnh,btnh->bnts", k, q / math.sqrt(layer.key_dim))
    full = np.ones(scores.shape, bool)
    if mask is not None:
        full &= np.asarray(mask, bool)[:, None]
    if causal:
        full &= np.tril(np.ones(scores.shape[-2:], bool))
    scores = np.where(full, scores, -1e9)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    probs = np.where(full, e / e.sum(-1, keepdims=True), 0)
    heads = np.einsum("bnts,bsnh->btnh", probs, v)
    if layer.use_gate:
        gate = np.einsum("btd,dnh->btnh", query, w["gate/kernel"]) + b("gate/bias")
        heads = heads / (1 + np.exp(-gate))
    out = np.einsum("btnh,nho->bto", heads, w["attention_output/kernel"].reshape(*heads.shape[2:], -1))
    out = out + (w["attention_output/bias"].reshape(-1) if layer.use_bias else 0)
    return out.reshape(*out.shape[:2], *w["attention_output/kernel"].shape[2:]), probs


def attention_reference(layer, query, value, key=None, causal=False, q_mask=None, v_mask=None):
    key = value if key is None else key
    scale = layer.weight("scale") if layer.use_scale else 1.0
    if layer.score_mode == "dot":
        scores = scale * np.einsum("btd,bsd->bts", query, key)
    else:
        scores = layer.weight("concat_score_weight") * np.tanh(
            scale * (query[:, :, None] + key[:, None])).sum(-1)
    keep = np.ones(scores.shape, bool)
    if v_mask is not None:
        keep &= np.asarray(v_mask, bool)[:, None]
    if causal:
        keep &= np.tril(np.ones(scores.shape[-2:], bool))
    scores = np.where(keep, scores, scores - 1e9)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    weights = e / e.sum(-1, keepdims=True)
    out = weights @ value
    if q_mask is not None:
        out = np.where(np.asarray(q_mask, bool)[..., None], out, 0)
    return out, weights


# ================================================================================ MultiHeadAttention
def test_mha_weights_in_keras_order_and_layout():
    mha = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4)
    mha.build_for([(5, 6), (7, 8), (7, 9)], np.random.default_rng(0))
    assert mha.weight_names == ["query/kernel", "query/bias", "key/kernel", "key/bias", "value/kernel",
                                "value/bias", "attention_output/kernel", "attention_output/bias"]
    assert [w.shape for w in mha.get_weights()] == [(6, 2, 3), (2, 3), (9, 2, 3), (2, 3), (8, 2, 4), (2, 4),
                                                    (2, 4, 6), (6,)]
    assert mha.output_shape == (5, 6)
    assert mha.count_params([(5, 6), (7, 8), (7, 9)]) == mha.count_params()
    assert [v.path for v in mha.weights][:1] == [f"{mha.name}/query/kernel"]
    gated = MultiHeadAttention(2, 3, use_gate=True, use_bias=False, output_shape=(2, 5))
    gated.build_for([(5, 6), (7, 8)], np.random.default_rng(0))
    assert gated.weight_names == ["query/kernel", "key/kernel", "gate/kernel", "value/kernel",
                                  "attention_output/kernel"]
    assert gated.get_weights()[-1].shape == (2, 3, 2, 5) and gated.output_shape == (5, 2, 5)


def test_mha_count_params_matches_keras():
    # keras.layers.MultiHeadAttention(2, 3) on (None, 4, 5) self-attention: 143 parameters.
    assert MultiHeadAttention(2, 3).count_params([(4, 5), (4, 5)]) == 143


@pytest.mark.parametrize("case", [
    dict(kw={}, shapes=[(2, 4, 5), (2, 4, 5)]),                                        # self-attention
    dict(kw=dict(value_dim=3, output_shape=(2, 3)), shapes=[(2, 3, 5), (2, 6, 4)]),    # cross, other lengths
    dict(kw=dict(value_dim=2), shapes=[(2, 3, 5), (2, 4, 4), (2, 4, 6)]),              # key given
    dict(kw=dict(use_bias=False), shapes=[(2, 4, 3), (2, 5, 3)]),
    dict(kw=dict(use_gate=True), shapes=[(2, 4, 3), (2, 5, 3), (2, 5, 2)]),
    dict(kw=dict(sliding_window=2), shapes=[(2, 5, 3), (2, 5, 3)]),
], ids=["self", "cross", "key", "no-bias", "gate", "sliding-window"])
def test_mha_gradients_and_values(float64, case):
    mha = MultiHeadAttention(num_heads=2, key_dim=3, **case["kw"])
    xs, y = check_attention(mha, case["shapes"])
    ref, probs = mha_reference(mha, *xs) if mha.sliding_window is None else (None, None)
    if ref is not None:
        np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
    out, scores = mha(*xs[:2], key=xs[2] if len(xs) == 3 else None, return_attention_scores=True)
    np.testing.assert_allclose(mha(xs[:2], key=xs[2] if len(xs) == 3 else None), y, rtol=1e-12)  # list form
    np.testing.assert_allclose(out, y, rtol=1e-12)
    assert scores.shape == (2, 2, xs[0].shape[1], xs[1].shape[1])
    np.testing.assert_allclose(scores.sum(-1), 1.0)


@pytest.mark.parametrize("t_q,t_v", [(4, 4), (5, 3), (3, 5)])
def test_mha_causal_mask(float64, t_q, t_v):
    mha = MultiHeadAttention(num_heads=2, key_dim=2)
    xs, y = check_attention(mha, [(2, t_q, 3), (2, t_v, 3)], use_causal_mask=True)
    ref, probs = mha_reference(mha, *xs, causal=True)
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
    _, scores = mha(*xs, use_causal_mask=True, return_attention_scores=True)
    assert np.all(scores[..., np.triu_indices(min(t_q, t_v), 1)[0], np.triu_indices(min(t_q, t_v), 1)[1]] == 0)


def test_mha_attention_mask(float64):
    rng = np.random.default_rng(3)
    mask = rng.random((2, 4, 5)) > 0.4
    mask[1, 2] = False  # a fully masked query row: all-zero weights, as Keras's Softmax(mask=...) gives
    mha = MultiHeadAttention(num_heads=2, key_dim=3)
    xs, y = check_attention(mha, [(2, 4, 3), (2, 5, 6)], attention_mask=mask)
    ref, _ = mha_reference(mha, *xs, mask=mask)
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
    _, scores = mha(*xs, attention_mask=mask, return_attention_scores=True)
    assert np.all(scores[1, :, 2] == 0) and np.all(scores[:, :, ~mask[0]][0] == 0)
    # Combined with the causal mask, and a 0/1 integer mask meaning the same.
    both, _ = mha_reference(mha, *xs, mask=mask, causal=True)
    np.testing.assert_allclose(mha(*xs, attention_mask=mask.astype(int), use_causal_mask=True), both, rtol=1e-10)


def test_mha_dropout_only_in_training(float64):
    mha = MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5, seed=4)
    xs, y = check_attention(mha, [(2, 4, 3), (2, 5, 3)], training=True)
    ref, _ = mha_reference(mha, *xs)
    assert not np.allclose(y, ref)
    np.testing.assert_allclose(mha(*xs), ref, rtol=1e-10)           # inference: no dropout
    np.testing.assert_allclose(mha(*xs, training=False), ref, rtol=1e-10)
    a = MultiHeadAttention(2, 3, dropout=0.5, seed=4)
    b = MultiHeadAttention(2, 3, dropout=0.5, seed=4)
    for layer in (a, b):
        layer.build_for([(4, 3), (5, 3)], np.random.default_rng(0))
    np.testing.assert_array_equal(a(*xs, training=True), b(*xs, training=True))  # seeded like Dropout


def test_mha_config_round_trip():
    mha = MultiHeadAttention(num_heads=3, key_dim=4, value_dim=5, dropout=0.1, use_bias=False, output_shape=7,
                             kernel_initializer="he_normal", kernel_regularizer="l2", bias_constraint="non_neg",
                             seed=3, name="mha")
    clone = round_trip(mha)
    cfg = clone.get_config()
    assert {"num_heads", "key_dim", "value_dim", "dropout", "use_bias", "output_shape", "attention_axes",
            "kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
            "activity_regularizer", "kernel_constraint", "bias_constraint", "seed", "use_gate",
            "sliding_window"} <= set(cfg)
    assert cfg["output_shape"] == [7] and cfg["value_dim"] == 5
    # A built Keras layer reports attention_axes [1]; tuinet reads it back.
    keras_cfg = {**cfg, "attention_axes": [1], "dtype": {"module": "keras", "class_name": "DTypePolicy",
                                                         "config": {"name": "float32"}}}
    assert MultiHeadAttention.from_config(keras_cfg).attention_axes == (1,)
    assert L.get("MultiHeadAttention") is MultiHeadAttention and L.LAYERS["Attention"] is Attention


def test_mha_in_a_functional_model(float64):
    x = tuinet.Input((4, 3))
    mha = MultiHeadAttention(num_heads=2, key_dim=2, seed=0)
    y = mha(x, x, use_causal_mask=True)
    model = tuinet.Model(x, L.GlobalAveragePooling1D()(y))
    assert mha.positional_inputs and mha.multi_input and mha._causal
    data = np.random.default_rng(0).normal(size=(8, 4, 3))
    ref, _ = mha_reference(mha, data, data, causal=True)
    np.testing.assert_allclose(model.predict(data, verbose=0), ref.mean(1), rtol=1e-10)
    model.compile("adam", "mse")
    target = np.random.default_rng(1).normal(size=(8, 3))
    hist = model.fit(data, target, epochs=20, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    # Key as a keyword argument: the node's inputs are [query, value, key].
    q, v, k = tuinet.Input((4, 3)), tuinet.Input((6, 2)), tuinet.Input((6, 5))
    out = MultiHeadAttention(2, 3)(q, v, key=k)
    assert out.shape == (None, 4, 3) and len(out.node.inputs) == 3
    rebuilt = model_from_config(json.loads(json.dumps(tuinet.Model([q, v, k], out).get_config())))
    assert type(rebuilt.layers[-1]) is MultiHeadAttention and len(rebuilt.layers[-1].weight_names) == 8


@pytest.mark.parametrize("make,match", [
    (lambda: MultiHeadAttention(0, 3), "num_heads must be a positive integer"),
    (lambda: MultiHeadAttention(2, 3, attention_axes=(2,)), "only attention_axes=None"),
    (lambda: MultiHeadAttention(2, 3, activity_regularizer="l2"), "activity_regularizer is not supported"),
    (lambda: MultiHeadAttention(2, 3, dropout=1.5), "dropout must be a number"),
    (lambda: MultiHeadAttention(2, 3, output_shape="x"), "output_shape must be"),
    (lambda: Attention(score_mode="bahdanau"), "score_mode must be one of"),
    (lambda: Attention(use_scale="yes"), "use_scale must be true or false"),
])
def test_bad_arguments_are_one_line_config_errors(make, match):
    with pytest.raises(ConfigError, match=match) as info:
        make()
    assert "\n" not in str(info.value)


def test_bad_calls_are_one_line_errors():
    mha = MultiHeadAttention(2, 3)
    rng = np.random.default_rng(0)
    cases = [
        (ShapeError, lambda: mha(rng.normal(size=(2, 5)), rng.normal(size=(2, 5)))),
        (ShapeError, lambda: mha(rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5, 3)),
                                 key=rng.normal(size=(2, 6, 3)))),
        (ConfigError, lambda: mha(rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5, 3)), query_mask=None)),
        (ShapeError, lambda: MultiHeadAttention(2, 3)(rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5, 3)),
                                                      attention_mask=np.ones((2, 5, 4), bool))),
        (ConfigError, lambda: Attention()(rng.normal(size=(2, 4, 3)))),
        (ShapeError, lambda: Attention()([rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5, 4))])),
    ]
    for exc, call in cases:
        with pytest.raises(exc) as info:
            call()
        assert "\n" not in str(info.value)
    x, v = tuinet.Input((4, 3)), tuinet.Input((5, 3))
    mask = tuinet.Input((4, 5))
    for call in (lambda: MultiHeadAttention(2, 3)(x, v, attention_mask=mask),
                 lambda: MultiHeadAttention(2, 3)(x, v, return_attention_scores=True),
                 lambda: Attention()([x, v], return_attention_scores=True)):
        with pytest.raises(ConfigError, match="not supported in a functional graph") as info:
            call()
        assert "\n" not in str(info.value)


# ========================================================================================= Attention
@pytest.mark.parametrize("use_scale", [False, True])
@pytest.mark.parametrize("score_mode", ["dot", "concat"])
@pytest.mark.parametrize("with_key", [False, True])
def test_attention_gradients_and_values(float64, use_scale, score_mode, with_key):
    layer = Attention(use_scale=use_scale, score_mode=score_mode)
    shapes = [(2, 3, 4), (2, 5, 6)] + ([(2, 5, 4)] if with_key else [])
    if not with_key:
        shapes[1] = (2, 5, 4)
    xs, y = check_attention(layer, shapes)
    assert layer.weight_names == (["scale"] if use_scale else []) + (
        ["concat_score_weight"] if score_mode == "concat" else [])
    assert all(w.shape == () for w in layer.get_weights())
    ref, weights = attention_reference(layer, *xs)
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
    out, scores = layer(xs, return_attention_scores=True)
    np.testing.assert_allclose(scores, weights, rtol=1e-10)
    assert y.shape == (2, 3, shapes[1][-1])


@pytest.mark.parametrize("score_mode", ["dot", "concat"])
def test_attention_causal_and_masks(float64, score_mode):
    layer = Attention(use_scale=True, score_mode=score_mode)
    xs, y = check_attention(layer, [(2, 4, 3), (2, 4, 3)], use_causal_mask=True)
    ref, _ = attention_reference(layer, *xs, causal=True)
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
    q_mask = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)
    v_mask = np.array([[1, 0, 1, 1], [1, 1, 1, 0]], bool)
    layer2 = Attention(score_mode=score_mode)
    xs, y = check_attention(layer2, [(2, 4, 3), (2, 4, 3)], mask=[q_mask, v_mask])
    ref, _ = attention_reference(layer2, *xs, q_mask=q_mask, v_mask=v_mask)
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
    assert np.all(y[0, 2] == 0)


def test_attention_dropout_and_config(float64):
    layer = Attention(dropout=0.4, seed=2, name="att")
    xs, y = check_attention(layer, [(2, 3, 4), (2, 5, 4)], training=True)
    ref, _ = attention_reference(layer, *xs)
    assert not np.allclose(y, ref)
    np.testing.assert_allclose(layer(xs), ref, rtol=1e-10)
    clone = round_trip(Attention(use_scale=True, score_mode="concat", dropout=0.2, seed=1))
    assert clone.get_config()["score_mode"] == "concat"
    assert {"use_scale", "score_mode", "dropout", "seed"} <= set(clone.get_config())


def test_attention_in_a_functional_model(float64):
    q, v = tuinet.Input((3, 4)), tuinet.Input((5, 4))
    layer = Attention(use_scale=True)
    model = tuinet.Model([q, v], layer([q, v]))
    rng = np.random.default_rng(0)
    data = [rng.normal(size=(6, 3, 4)), rng.normal(size=(6, 5, 4))]
    ref, _ = attention_reference(layer, *data)
    np.testing.assert_allclose(model.predict(data, verbose=0), ref, rtol=1e-10)
    config = model.get_config()
    rebuilt = model_from_config(json.loads(json.dumps(config)))
    assert type(rebuilt.layers[-1]) is Attention


def test_functional_config_keeps_the_causal_flag_and_reads_keras_keywords():
    """tuinet writes use_causal_mask into the node's kwargs; Keras's node layout (args [query,
    value], kwargs key= and use_causal_mask=) loads too."""
    import tuinet
    from tuinet.nn.functional import Functional

    q, v = tuinet.Input((5, 4)), tuinet.Input((6, 4))
    out = tuinet.layers.MultiHeadAttention(2, 3)(q, v, use_causal_mask=True)
    model = tuinet.Model([q, v], out)
    again = Functional.from_config(model.get_config())
    again.set_weights(model.get_weights())
    x = [np.random.default_rng(0).random((2, 5, 4)).astype("float32"),
         np.random.default_rng(1).random((2, 6, 4)).astype("float32")]
    assert np.array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    ref = lambda name: {"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}}  # noqa: E731
    keras_config = {"name": "k", "input_layers": [["q", 0, 0], ["v", 0, 0]], "output_layers": [["mha", 0, 0]],
                    "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [None, 5, 4], "name": "q"},
                                "name": "q", "inbound_nodes": []},
                               {"class_name": "InputLayer", "config": {"batch_shape": [None, 6, 4], "name": "v"},
                                "name": "v", "inbound_nodes": []},
                               {"class_name": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3},
                                "name": "mha", "inbound_nodes": [{"args": [ref("q"), ref("v")],
                                                                  "kwargs": {"key": ref("v"),
                                                                             "use_causal_mask": True}}]}]}
    loaded = Functional.from_config(keras_config)
    assert loaded.layers[-1]._causal and len(loaded._nodes[-1].inputs) == 3

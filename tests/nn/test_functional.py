"""The functional API (tuinet/nn/functional.py): `tuinet.Input`, layer calls on symbolic tensors,
`tuinet.Model(inputs, outputs)` and the `Functional` model it returns.

Gradients of whole graphs (shared layers, merges, several outputs, nested models) are checked
against float64 central differences; training, logs, round trips, feature extraction, transfer
learning and error messages against Keras 3's behaviour.
"""

from __future__ import annotations

import numpy as np
import pytest

import tuinet
from tests.nn.gradcheck import assert_close, numeric_grad, one_line
from tuinet import layers as L
from tuinet.errors import ConfigError, ShapeError
from tuinet.models import model_from_json
from tuinet.nn.functional import Functional, KerasTensor
from tuinet.nn.layers import add, concatenate, maximum, minimum, subtract
from tuinet.nn.optimizers import SGD, Adam


# ---------------------------------------------------------------------------------- gradients
def check_graph_gradients(model, xs, ys, *, loss, loss_weights=None, seed=0, rtol=1e-6, atol=1e-9):
    """Analytic gradients of every trainable weight of `model` (one forward/backward in training
    mode) against central differences of the same total loss."""
    model.compile(optimizer=SGD(0.1), loss=loss, loss_weights=loss_weights)
    x, y = model._checked(xs, ys, "fit")
    rng = np.random.default_rng(seed)
    leaves = [(layer, k, p) for layer, trainable in model._leaves() if trainable for k, p in layer.params.items()]
    assert leaves, "the model has no trainable weights"
    for _, _, p in leaves:  # move biases off zero so that no gradient is trivially 0
        assert p.dtype == np.float64
        p += rng.normal(scale=0.2, size=p.shape)
    out = model._forward(x, True)
    _, grads = model._loss_and_grad(y, out, True)
    model._backward(grads)
    analytic = {(id(layer), k): layer.grads[k].copy() for layer, k, _ in leaves}

    def total() -> float:
        return model._loss_and_grad(y, model._forward(x, True), False)[0]

    for layer, k, p in leaves:
        idx, num = numeric_grad(total, p, max_checks=60, rng=rng)
        a = analytic[(id(layer), k)].reshape(-1)[idx]
        assert np.abs(num).max() > 1e-8, f"{layer.name}/{k}: the loss does not depend on it"
        assert_close(f"{layer.name}/{k}", a, num, rtol, atol)


def keras_graph():
    """Two inputs, a Dense shared by two calls, Add, two Concatenates and two outputs (the graph
    whose layer order was checked against Keras 3.15)."""
    a = tuinet.Input((4,), name="a")
    b = tuinet.Input((3,), name="b")
    shared = L.Dense(5, activation="tanh", name="shared")
    x = shared(a)
    y = L.Dense(4, name="pb")(b)
    y2 = shared(L.Dense(4, name="pad")(L.Concatenate(name="cat0")([y, b])))
    m = L.Add(name="add")([x, y2])
    c = L.Concatenate(name="cat")([m, b])
    o1 = L.Dense(1, name="reg")(c)
    o2 = L.Dense(3, activation="softmax", name="cls")(c)
    return tuinet.Model([a, b], [o1, o2])


def two_input_data(n=6, seed=1):
    rng = np.random.default_rng(seed)
    return ([rng.normal(size=(n, 4)), rng.normal(size=(n, 3))],
            [rng.normal(size=(n, 1)), rng.integers(0, 3, size=n)])


def test_gradients_shared_layer_add_concatenate_two_weighted_outputs(float64):
    model = keras_graph()
    xs, ys = two_input_data()
    check_graph_gradients(model, xs, ys, loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.3])


def test_gradients_of_the_shared_layer_sum_both_calls(float64):
    """The shared Dense's gradient is the sum of its two calls' contributions, not the last one."""
    a = tuinet.Input((3,), name="a")
    shared = L.Dense(3, activation="tanh", name="shared")
    out = L.Dense(1, name="out")(shared(shared(a)))  # the same layer twice in a chain
    model = tuinet.Model(a, out)
    rng = np.random.default_rng(0)
    check_graph_gradients(model, rng.normal(size=(5, 3)), rng.normal(size=(5, 1)), loss="mse")


def test_gradients_multiply_dot_and_operators(float64):
    a = tuinet.Input((4,), name="a")
    b = tuinet.Input((4,), name="b")
    h1 = L.Dense(3, activation="tanh", name="h1")(a)
    h2 = L.Dense(3, activation="sigmoid", name="h2")(b)
    m = L.Multiply(name="mul")([h1, h2])
    d = L.Dot(axes=1, name="dot")([h1, h2])
    ops = (h1 + h2) * h1 - h2  # Add, Multiply and Subtract layers
    mm = maximum([h1, h2]) + minimum([h1, h2]) + subtract([h2, h1]) + add([h1, h2])
    merged = concatenate([m, d, ops, mm, L.Average()([h1, h2])])
    out = L.Dense(2, name="out")(merged)
    model = tuinet.Model([a, b], out)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"Add", "Subtract", "Multiply", "Dot", "Maximum", "Minimum", "Average", "Concatenate"} <= kinds
    rng = np.random.default_rng(2)
    check_graph_gradients(model, [rng.normal(size=(5, 4)), rng.normal(size=(5, 4))], rng.normal(size=(5, 2)),
                          loss="mse")


def test_gradients_of_a_branch_feeding_two_outputs_and_an_intermediate_output(float64):
    """`h` feeds two heads and is an output itself: its gradient sums three paths."""
    a = tuinet.Input((4,), name="a")
    h = L.Dense(3, activation="tanh", name="h")(a)
    o1 = L.Dense(1, name="o1")(h)
    o2 = L.Dense(2, activation="softmax", name="o2")(h)
    model = tuinet.Model(a, [o1, h, o2])
    rng = np.random.default_rng(3)
    ys = [rng.normal(size=(6, 1)), rng.normal(size=(6, 3)), rng.integers(0, 2, size=6)]
    check_graph_gradients(model, rng.normal(size=(6, 4)), ys,
                          loss=["mse", "mse", "sparse_categorical_crossentropy"], loss_weights=[0.7, 2.0, 1.3])


def test_gradients_through_a_nested_sequential(float64):
    inner = tuinet.Sequential([tuinet.Input((4,)), L.Dense(5, activation="tanh", name="in1"),
                               L.Dense(3, name="in2")], name="inner")
    a = tuinet.Input((4,), name="a")
    pre = L.Dense(4, activation="tanh", name="pre")(a)  # trainable weights before the nested model
    z = inner(pre)
    side = L.Dense(3, name="side")(a)
    out = L.Dense(2, activation="softmax", name="out")(L.Concatenate()([z, side]))
    model = tuinet.Model(a, out)
    rng = np.random.default_rng(4)
    check_graph_gradients(model, rng.normal(size=(6, 4)), rng.integers(0, 2, size=6),
                          loss="sparse_categorical_crossentropy")
    names = {layer.name for layer, _ in model._leaves()}
    assert {"in1", "in2", "pre", "side", "out"} <= names


def nested(kind, name, frozen=False):
    """A one-input, one-output model with two Dense layers, Sequential or functional."""
    if kind == "sequential":
        model = tuinet.Sequential([tuinet.Input((4,)), L.Dense(5, activation="tanh"), L.Dense(3, activation="tanh")],
                                  name=name)
    else:
        i = tuinet.Input((4,))
        model = tuinet.Model(i, L.Dense(3, activation="tanh")(L.Dense(5, activation="tanh")(i)), name=name)
    model.trainable = not frozen
    return model


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize("frozen", [False, True])
def test_gradients_flow_through_a_nested_model_frozen_or_not(float64, kind, frozen):
    """A trainable layer below a nested model gets its gradient through it, frozen or not."""
    inner = nested(kind, f"inner_{kind}_{frozen}", frozen)
    a = tuinet.Input((4,), name="a")
    out = L.Dense(1, name="out")(inner(L.Dense(4, activation="tanh", name="pre")(a)))
    model = tuinet.Model(a, out)
    rng = np.random.default_rng(13)
    check_graph_gradients(model, rng.normal(size=(6, 4)), rng.normal(size=(6, 1)), loss="mse")
    trained = {layer.name for layer, t in model._leaves() if t}
    assert {"pre", "out"} <= trained and (len(trained) == 2) == frozen


def test_gradients_through_a_frozen_shared_layer(float64):
    a = tuinet.Input((4,), name="a")
    shared = L.Dense(4, activation="tanh", trainable=False, name="frozen_shared")
    h = L.Dense(4, activation="tanh", name="pre")(a)
    out = L.Dense(1, name="out")(L.Concatenate()([shared(h), shared(shared(h))]))
    model = tuinet.Model(a, out)
    rng = np.random.default_rng(14)
    check_graph_gradients(model, rng.normal(size=(6, 4)), rng.normal(size=(6, 1)), loss="mse")


def test_a_layer_inside_a_nested_model_and_in_the_graph_gets_both_gradients(float64):
    """A Dense that sits in a nested Sequential and is also called directly shares its weights
    between both uses: its gradient is the sum of both (or the graph is refused up front)."""
    dense = L.Dense(4, activation="tanh", name="twice")
    inner = tuinet.Sequential([tuinet.Input((4,)), dense], name="holder")
    a = tuinet.Input((4,), name="a")
    out = L.Dense(1, name="out")(L.Add()([inner(a), dense(a)]))
    try:
        model = tuinet.Model(a, out)
    except ConfigError as exc:
        assert "\n" not in str(exc) and "twice" in str(exc)
        return
    rng = np.random.default_rng(15)
    check_graph_gradients(model, rng.normal(size=(6, 4)), rng.normal(size=(6, 1)), loss="mse")


def test_one_sgd_step_moves_weights_by_lr_times_gradient(float64):
    """`fit` uses the same gradients: one full-batch SGD step changes each weight by -lr * grad."""
    model = keras_graph()
    xs, ys = two_input_data(n=4)
    model.compile(optimizer=SGD(0.1), loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.5])
    x, y = model._checked(xs, ys, "fit")
    before = [w.copy() for w in model.get_weights()]
    out = model._forward(x, True)
    _, grads = model._loss_and_grad(y, out, True)
    model._backward(grads)
    expected = [w - 0.1 * g for w, g in zip(before, [lay.grads[k].copy() for lay, t in model._leaves() if t
                                                       for k in lay.params])]
    model.fit(xs, ys, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for w, e in zip(model.get_weights(), expected):
        np.testing.assert_allclose(w, e, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------- equivalence
def test_functional_chain_equals_sequential():
    seq = tuinet.Sequential([tuinet.Input((3,)), L.Dense(6, activation="relu"), L.Dense(2, activation="softmax")])
    inp = tuinet.Input((3,))
    out = L.Dense(2, activation="softmax")(L.Dense(6, activation="relu")(inp))
    fun = tuinet.Model(inp, out)
    fun.set_weights(seq.get_weights())
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = rng.integers(0, 2, size=20)
    np.testing.assert_array_equal(fun.predict(x, verbose=0), seq.predict(x, verbose=0))
    for m in (seq, fun):
        m.compile(optimizer=SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hs = seq.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history
    hf = fun.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history
    assert set(hf) == set(hs) == {"loss", "accuracy"}
    for k in hs:
        np.testing.assert_allclose(hf[k], hs[k], rtol=1e-6)
    assert hs["loss"][-1] < hs["loss"][0]
    np.testing.assert_allclose(fun.predict(x, verbose=0), seq.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(fun.evaluate(x, y, verbose=0), seq.evaluate(x, y, verbose=0), rtol=1e-6)


# ---------------------------------------------------------------------------------- logs
def reg_cls_model(weight=0.5):
    inp = tuinet.Input((4,), name="x")
    h = L.Dense(8, activation="relu", name="h")(inp)
    reg = L.Dense(1, name="reg")(h)
    cls = L.Dense(3, activation="softmax", name="cls")(h)
    model = tuinet.Model(inp, [reg, cls])
    model.compile(optimizer=Adam(0.01), loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 1.0, "cls": weight}, metrics={"reg": ["mae"], "cls": ["accuracy"]})
    return model


def reg_cls_data(n=37, seed=6):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, [x[:, :1] * 2.0, (x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)]


def test_multi_output_log_names_order_and_weighted_total():
    w = 0.25
    model = reg_cls_model(w)
    x, ys = reg_cls_data()
    keys = {"loss", "reg_loss", "cls_loss", "reg_mae", "cls_accuracy"}
    hist = model.fit(x, ys, epochs=4, batch_size=8, verbose=0, validation_data=(x, ys)).history
    assert set(hist) == keys | {f"val_{k}" for k in keys}
    assert hist["loss"][-1] < hist["loss"][0]
    logs = model.evaluate(x, ys, batch_size=8, verbose=0, return_dict=True)
    assert set(logs) == keys
    values = model.evaluate(x, ys, batch_size=8, verbose=0)
    assert len(values) == 5
    expected = [logs[k] for k in ("loss", "reg_loss", "cls_loss", "cls_accuracy", "reg_mae")]
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    assert abs(logs["loss"] - (logs["reg_loss"] + w * logs["cls_loss"])) < 1e-6
    # and the per-output values are what the outputs' losses and metrics give on predict
    reg, cls = model.predict(x, verbose=0)
    np.testing.assert_allclose(logs["reg_loss"], np.mean((reg - ys[0]) ** 2), rtol=1e-5)
    np.testing.assert_allclose(logs["reg_mae"], np.mean(np.abs(reg - ys[0])), rtol=1e-5)
    np.testing.assert_allclose(logs["cls_accuracy"], np.mean(cls.argmax(1) == ys[1]), rtol=1e-6)
    ce = -np.mean(np.log(np.clip(cls[np.arange(len(x)), ys[1]], 1e-7, 1)))
    np.testing.assert_allclose(logs["cls_loss"], ce, rtol=1e-4)


def test_loss_weights_change_the_total_not_the_per_output_losses():
    x, ys = reg_cls_data()
    m1, m2 = reg_cls_model(1.0), reg_cls_model(3.0)
    m2.set_weights(m1.get_weights())
    a = m1.evaluate(x, ys, verbose=0, return_dict=True)
    b = m2.evaluate(x, ys, verbose=0, return_dict=True)
    assert a["cls_loss"] == pytest.approx(b["cls_loss"]) and a["reg_loss"] == pytest.approx(b["reg_loss"])
    assert b["loss"] == pytest.approx(a["reg_loss"] + 3.0 * a["cls_loss"], rel=1e-6)


def test_shuffling_keeps_the_rows_of_every_input_and_target_together():
    """With shuffle=True, `a - b` is 0 only if both inputs are shuffled alike, and `a` matches its
    target only if the targets follow the same permutation."""
    a = tuinet.Input((3,), name="a")
    b = tuinet.Input((3,), name="b")
    diff = L.Subtract(name="diff")([a, b])
    same = L.Activation("linear", name="same")(a)
    side = L.Dense(1, name="side")(a)
    model = tuinet.Model([a, b], [diff, same, side])
    model.compile(optimizer=SGD(0.05), loss="mse")
    x = np.random.default_rng(16).normal(size=(50, 3)).astype(np.float32)
    hist = model.fit([x, x.copy()], [np.zeros((50, 3)), x, np.zeros((50, 1))], epochs=2, batch_size=7,
                     shuffle=True, validation_split=0.2, verbose=0).history
    for key in ("diff_loss", "same_loss", "val_diff_loss", "val_same_loss"):
        assert hist[key] == [0.0, 0.0], (key, hist[key])
    assert hist["side_loss"][0] > 0 and hist["loss"] == hist["side_loss"]


# ---------------------------------------------------------------------------------- dicts
def test_dict_inputs_and_dict_outputs():
    a = tuinet.Input((2,), name="in_a")
    b = tuinet.Input((3,), name="in_b")
    h = L.Concatenate()([L.Dense(4, activation="tanh")(a), b])
    o1 = L.Dense(1)(h)
    o2 = L.Dense(2, activation="softmax")(h)
    model = tuinet.Model({"a": a, "b": b}, {"y1": o1, "y2": o2})
    assert model.output_names == ["y1", "y2"]
    model.compile(optimizer=Adam(0.02), loss={"y1": "mse", "y2": "sparse_categorical_crossentropy"},
                  metrics={"y2": ["accuracy"]})
    rng = np.random.default_rng(7)
    xa, xb = rng.normal(size=(30, 2)), rng.normal(size=(30, 3))
    y1, y2 = xa[:, :1] + xb[:, :1], (xb[:, 1] > 0).astype(int)
    hist = model.fit({"b": xb, "a": xa}, {"y2": y2, "y1": y1}, epochs=5, batch_size=10, verbose=0).history
    assert set(hist) == {"loss", "y1_loss", "y2_loss", "y2_accuracy"}
    assert hist["loss"][-1] < hist["loss"][0]
    pred = model.predict({"a": xa, "b": xb}, verbose=0)
    assert isinstance(pred, dict) and list(pred) == ["y1", "y2"]
    assert pred["y1"].shape == (30, 1) and pred["y2"].shape == (30, 2)
    swapped = model.predict({"b": xb, "a": xa}, verbose=0)  # matched by key, not by position
    np.testing.assert_array_equal(swapped["y1"], pred["y1"])
    assert isinstance(model.output, dict) and set(model.output) == {"y1", "y2"}


def test_list_inputs_given_as_a_dict_by_input_name():
    model = keras_graph()
    model.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"])
    xs, ys = two_input_data(n=8)
    by_list = model.predict(xs, verbose=0)
    by_name = model.predict({"b": xs[1], "a": xs[0]}, verbose=0)
    assert isinstance(by_list, list) and len(by_list) == 2
    for p, q in zip(by_list, by_name):
        np.testing.assert_array_equal(p, q)
    np.testing.assert_allclose(model.evaluate({"a": xs[0], "b": xs[1]}, {"reg": ys[0], "cls": ys[1]}, verbose=0),
                               model.evaluate(xs, ys, verbose=0))


# ---------------------------------------------------------------------------------- structure
def test_layer_order_matches_keras_and_summary_shows_connections():
    model = keras_graph()
    assert [layer.name for layer in model.layers] == ["b", "pb", "cat0", "a", "pad", "shared", "add", "cat",
                                                      "reg", "cls"]
    text = model.summary_text()
    assert "Connected to" in text
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("│ add (Add)"))
    assert "shared[0][0]," in lines[row] and "shared[1][0]" in lines[row + 1]
    cat0 = next(line for line in lines if line.startswith("│ cat0 (Concatenate)"))
    assert "pb[0][0]," in cat0
    assert "Total params: 109" in text
    printed = []
    model.summary(print_fn=printed.append)
    assert "Connected to" in "\n".join(printed)
    assert [t.name for t in model.inputs] == [model.get_layer("a").output.name, model.get_layer("b").output.name]
    assert model.get_layer("pb").output.shape == (None, 4)
    with pytest.raises(ConfigError) as exc:
        model.get_layer("shared").output  # called twice: which output? (Keras raises too)
    one_line(exc)
    assert model.output_names == ["reg", "cls"]
    assert isinstance(model, tuinet.Model) and isinstance(model, tuinet.Sequential)


def test_keras_tensor_shapes_and_operators():
    x = tuinet.Input((5,), name="x")
    assert isinstance(x, KerasTensor) and x.shape == (None, 5)
    y = L.Dense(3)(x)
    assert y.shape == (None, 3)
    s = y + y
    assert type(s.node.layer).__name__ == "Add" and s.shape == (None, 3)
    assert type((y * y).node.layer).__name__ == "Multiply"
    assert type((y - y).node.layer).__name__ == "Subtract"
    seq = L.LSTM(4, return_sequences=True)(tuinet.Input((7, 2)))
    assert seq.shape == (None, 7, 4)


# ---------------------------------------------------------------------------------- round trips
def test_get_config_json_and_save_round_trips(tmp_path):
    model = keras_graph()
    xs, ys = two_input_data(n=10)
    xs = [x.astype(np.float32) for x in xs]
    expected = model.predict(xs, verbose=0)

    clone = Functional.from_config(model.get_config())
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    clone.set_weights(model.get_weights())
    for p, q in zip(clone.predict(xs, verbose=0), expected):
        np.testing.assert_array_equal(p, q)
    assert clone.get_config() == model.get_config()

    again = model_from_json(model.to_json())
    assert isinstance(again, Functional)
    again.set_weights(model.get_weights())
    for p, q in zip(again.predict(xs, verbose=0), expected):
        np.testing.assert_array_equal(p, q)
    assert len(again.get_layer("shared")._inbound_nodes) >= 2  # still shared after the trip

    model.compile(optimizer=Adam(0.01), loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights=[1.0, 0.5], metrics={"cls": ["accuracy"]})
    model.fit(xs, ys, epochs=2, batch_size=5, verbose=0, shuffle=False)
    path = tmp_path / "graph.tuinet"
    model.save(path)
    loaded = tuinet.load_model(path)
    assert isinstance(loaded, Functional)
    for p, q in zip(loaded.predict(xs, verbose=0), model.predict(xs, verbose=0)):
        np.testing.assert_array_equal(p, q)
    # both keep training the same way (optimizer state, loss weights and metrics came back)
    h1 = model.fit(xs, ys, epochs=2, batch_size=5, verbose=0, shuffle=False).history
    h2 = loaded.fit(xs, ys, epochs=2, batch_size=5, verbose=0, shuffle=False).history
    assert set(h2) == set(h1) == {"loss", "reg_loss", "cls_loss", "cls_accuracy"}
    for k in h1:
        np.testing.assert_allclose(h2[k], h1[k], rtol=1e-6)
    for p, q in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-7)


def test_dict_model_round_trips_keep_the_keys(tmp_path):
    a = tuinet.Input((2,), name="in_a")
    b = tuinet.Input((3,), name="in_b")
    h = L.Concatenate()([a, b])
    model = tuinet.Model({"a": a, "b": b}, {"y1": L.Dense(1)(h), "y2": L.Dense(2)(h)})
    rng = np.random.default_rng(8)
    x = {"a": rng.normal(size=(4, 2)).astype(np.float32), "b": rng.normal(size=(4, 3)).astype(np.float32)}
    want = model.predict(x, verbose=0)
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "d.tuinet")
    for other in (tuinet.load_model(tmp_path / "d.tuinet"), model_from_json(model.to_json())):
        other.set_weights(model.get_weights())
        got = other.predict(x, verbose=0)
        assert isinstance(got, dict) and list(got) == ["y1", "y2"]
        for k in want:
            np.testing.assert_array_equal(got[k], want[k])


# ---------------------------------------------------------------------------------- feature extraction
def test_feature_extractor_from_a_sequential_shares_its_layers():
    seq = tuinet.Sequential([tuinet.Input((4,)), L.Dense(6, activation="relu"), L.Dense(5, activation="tanh"),
                             L.Dense(1)])
    extractor = tuinet.Model(inputs=seq.inputs, outputs=[layer.output for layer in seq.layers])
    rng = np.random.default_rng(9)
    x = rng.normal(size=(12, 4)).astype(np.float32)
    feats = extractor.predict(x, verbose=0)
    assert [f.shape for f in feats] == [(12, 6), (12, 5), (12, 1)]
    np.testing.assert_allclose(feats[-1], seq.predict(x, verbose=0), rtol=1e-6)
    seq.compile(optimizer=SGD(0.1), loss="mse")
    h = seq.fit(x, x[:, :1], epochs=3, verbose=0).history
    assert h["loss"][-1] < h["loss"][0]
    after = extractor.predict(x, verbose=0)
    assert not np.allclose(after[-1], feats[-1])
    np.testing.assert_allclose(after[-1], seq.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(after[0], np.maximum(x @ seq.layers[0].params["kernel"]
                                                    + seq.layers[0].params["bias"], 0), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------- transfer learning
def trained_base(rng):
    base = tuinet.Sequential([tuinet.Input((4,)), L.Dense(8, activation="relu"), L.BatchNormalization(),
                              L.Dense(6, activation="relu")], name="base")
    x = (rng.normal(size=(40, 4)) * 3 + 1).astype(np.float32)
    base.compile(optimizer=Adam(0.01), loss="mse")
    base.fit(x, rng.normal(size=(40, 6)), epochs=2, verbose=0)
    return base, x


def all_weights(model):
    return [v.copy() for layer, _ in model._leaves() for v in (*layer.params.values(), *layer.state.values())]


def weight_keys(model):
    return [(layer, k) for layer, _ in model._leaves() for k in (*layer.params, *layer.state)]


def head_params(n_in, n_out):
    return n_in * n_out + n_out


@pytest.mark.parametrize("style", ["functional", "sequential"])
def test_transfer_learning_freezes_the_base(style):
    rng = np.random.default_rng(10)
    base, x = trained_base(rng)
    y = (x[:, 0] > 1).astype(int)
    base.trainable = False
    assert all(not layer.trainable for layer in base.layers)
    if style == "functional":
        inp = tuinet.Input((4,))
        out = L.Dense(2, activation="softmax", name="head")(base(inp, training=False))
        model = tuinet.Model(inp, out)
    else:
        model = tuinet.Sequential([base, L.Dense(2, activation="softmax", name="head")])
        model.build((None, 4))
    frozen = all_weights(base)
    model.compile(optimizer=Adam(0.05), loss="sparse_categorical_crossentropy")
    text = model.summary_text()
    assert f"Trainable params: {head_params(6, 2):,} " in text, text
    head_before = model.get_layer("head").get_weights()[0].copy()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(all_weights(base), frozen):
        np.testing.assert_array_equal(a, b)  # BatchNormalization's moving mean and variance included
    assert not np.allclose(model.get_layer("head").get_weights()[0], head_before)

    base.trainable = True
    model.compile(optimizer=Adam(0.01), loss="sparse_categorical_crossentropy")
    assert f"Trainable params: {head_params(6, 2):,} " not in model.summary_text()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    bn = base.layers[1]
    changed = {f"{layer.name}/{k}": not np.array_equal(a, b)
               for (layer, k), a, b in zip(weight_keys(base), all_weights(base), frozen)}
    for key, moved in changed.items():
        is_stat = key.startswith(bn.name + "/moving")
        # `base(inp, training=False)` keeps BatchNormalization in inference mode even when unfrozen (the
        # Keras fine-tuning recipe); inside a Sequential it trains again and its statistics move.
        assert moved == (not is_stat or style == "sequential"), (key, changed)


@pytest.mark.parametrize("style", ["functional", "sequential"])
def test_summary_counts_the_trainable_weights_of_a_partly_frozen_base(style):
    """The fine-tuning recipe: unfreeze the base but keep its first layer frozen. Keras's summary
    counts trainable weights layer by layer: 4*8+8 frozen; 8*6+6 and the head's 6*2+2 trainable."""
    base = tuinet.Sequential([tuinet.Input((4,)), L.Dense(8), L.Dense(6)], name="base")
    base.layers[0].trainable = False
    if style == "functional":
        inp = tuinet.Input((4,))
        model = tuinet.Model(inp, L.Dense(2, name="head")(base(inp)))
    else:
        model = tuinet.Sequential([base, L.Dense(2, name="head")])
        model.build((None, 4))
    assert model.count_trainable() == 54 + 14
    text = model.summary_text()
    assert " Total params: 108 " in text
    assert " Trainable params: 68 " in text, text.splitlines()[-2:]
    assert " Non-trainable params: 40 " in text


def test_a_saved_transfer_model_stays_frozen(tmp_path):
    rng = np.random.default_rng(17)
    base, x = trained_base(rng)
    base.trainable = False
    inp = tuinet.Input((4,))
    model = tuinet.Model(inp, L.Dense(2, activation="softmax", name="head")(base(inp, training=False)))
    model.compile(optimizer=Adam(0.05), loss="sparse_categorical_crossentropy")
    model.save(tmp_path / "transfer.tuinet")
    loaded = tuinet.load_model(tmp_path / "transfer.tuinet")
    assert loaded.count_trainable() == model.count_trainable() == head_params(6, 2)
    assert loaded.summary_text().splitlines()[-3:] == model.summary_text().splitlines()[-3:]
    inner = loaded.get_layer("base")
    before = all_weights(inner)
    loaded.fit(x, (x[:, 0] > 1).astype(int), epochs=1, batch_size=8, verbose=0)
    for a, b in zip(all_weights(inner), before):
        np.testing.assert_array_equal(a, b)


def test_frozen_batchnorm_runs_in_inference_mode():
    rng = np.random.default_rng(11)
    base, x = trained_base(rng)
    base.trainable = False
    inp = tuinet.Input((4,))
    out = base(inp)  # no training=False: a frozen BatchNormalization still uses its moving statistics
    model = tuinet.Model(inp, L.Dense(1, name="head")(out))
    feats = tuinet.Model(inp, out)
    model.compile(optimizer=SGD(0.0), loss="mse")
    np.testing.assert_allclose(feats(x[:8], training=True), base.predict(x[:8], verbose=0), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------- errors
def test_symbolic_shape_errors_name_the_layer_and_shapes():
    a = tuinet.Input((3,), name="a")
    b = tuinet.Input((4, 2), name="b")
    with pytest.raises(ShapeError) as exc:
        L.Concatenate(name="joiner")([a, b])
    text = one_line(exc)
    assert "joiner" in text and "(None, 3)" in text and "(None, 4, 2)" in text and "()" not in text
    with pytest.raises(ShapeError) as exc:
        L.Conv2D(4, 3, name="conv")(a)
    text = one_line(exc)
    assert "conv" in text and "(None, 3)" in text and "()" not in text


def test_model_errors_are_one_line():
    a = tuinet.Input((3,), name="a")
    b = tuinet.Input((3,), name="b")
    out = L.Add()([L.Dense(2)(a), L.Dense(2)(b)])
    with pytest.raises(ConfigError) as exc:
        tuinet.Model(a, out)
    assert "'b'" in one_line(exc)
    with pytest.raises(ConfigError) as exc:
        tuinet.Model()
    one_line(exc)
    with pytest.raises(ConfigError) as exc:
        tuinet.models.Model()
    one_line(exc)

    class Custom(tuinet.Model):
        def call(self, x):
            return 3.0  # not a tensor made by layers

    with pytest.raises(ConfigError) as exc:
        Custom().build((None, 3))
    assert "functional" in one_line(exc) or "tensor" in one_line(exc)


def test_data_and_compile_errors_are_one_line():
    model = keras_graph()
    xs, ys = two_input_data(n=4)
    for flat in (["accuracy"], ["mae", "mse", "accuracy"]):  # a flat list that is not one entry per output
        with pytest.raises(ConfigError) as exc:
            model.compile(optimizer="sgd", loss="mse", metrics=flat)
        assert "reg" in one_line(exc)
    # as in Keras 3, a flat list with one entry per output gives one metric to each output
    model.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"], metrics=["mae", "accuracy"])
    assert set(model.evaluate(xs, ys, verbose=0, return_dict=True)) == {"loss", "reg_loss", "cls_loss", "reg_mae",
                                                                        "cls_accuracy"}
    model.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"])
    with pytest.raises(ConfigError) as exc:
        model.fit([xs[0]], ys, verbose=0)
    assert "2 inputs" in one_line(exc)
    with pytest.raises(ConfigError) as exc:
        model.fit([xs[0], xs[1], xs[1]], ys, verbose=0)
    one_line(exc)
    with pytest.raises(ConfigError) as exc:
        model.fit({"a": xs[0], "c": xs[1]}, ys, verbose=0)
    assert "a, c" in one_line(exc)
    with pytest.raises(ConfigError) as exc:
        model.fit(xs, {"reg": ys[0], "nope": ys[1]}, verbose=0)
    one_line(exc)
    with pytest.raises(ConfigError) as exc:
        model.compile(optimizer="sgd", loss={"reg": "mse", "other": "mse"})
    one_line(exc)
    with pytest.raises(ShapeError) as exc:
        model.predict([xs[0], xs[0]], verbose=0)  # b expects 3 features
    one_line(exc)


def test_keras_tensor_has_no_values():
    x = tuinet.Input((3,))
    with pytest.raises(TypeError):
        np.asarray(x)
    with pytest.raises(TypeError):
        bool(x)
    with pytest.raises(TypeError):
        x + np.ones(3)


# ---------------------------------------------------------------------------------- masking
def test_embedding_mask_zero_graph_trains_and_matches_sequential():
    rng = np.random.default_rng(12)
    x = rng.integers(1, 10, size=(24, 6))
    for i, n in enumerate(rng.integers(2, 6, size=24)):
        x[i, n:] = 0  # padded tails
    y = (x[:, 0] > 5).astype(int)

    inp = tuinet.Input(shape=(None,), dtype="int32")
    h = L.Embedding(10, 4, mask_zero=True)(inp)
    h = L.LSTM(5)(h)
    out = L.Dense(2, activation="softmax")(h)
    fun = tuinet.Model(inp, out)
    seq = tuinet.Sequential([tuinet.Input((None,), dtype="int32"), L.Embedding(10, 4, mask_zero=True), L.LSTM(5),
                             L.Dense(2, activation="softmax")])
    seq.build((None, 6))
    seq.set_weights(fun.get_weights())
    p_fun, p_seq = fun.predict(x, verbose=0), seq.predict(x, verbose=0)
    np.testing.assert_allclose(p_fun, p_seq, rtol=1e-6)
    # the mask reaches the LSTM: more padding changes nothing
    longer = np.concatenate([x, np.zeros((24, 3), dtype=x.dtype)], axis=1)
    np.testing.assert_allclose(fun.predict(longer, verbose=0), p_fun, rtol=1e-5, atol=1e-6)
    for m in (fun, seq):
        m.compile(optimizer=Adam(0.02), loss="sparse_categorical_crossentropy")
    hf = fun.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history
    hs = seq.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history
    assert hf["loss"][-1] < hf["loss"][0]
    np.testing.assert_allclose(hf["loss"], hs["loss"], rtol=1e-5)
    np.testing.assert_allclose(fun.predict(x, verbose=0), seq.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


# -------------------------------------------------------------- encoder-decoder: states through the graph
def seq2seq(cell: str, state_output: bool = False):
    """Keras's encoder-decoder recipe: the encoder's return_state states start the decoder."""
    enc_in, dec_in = tuinet.Input((None, 3), name="enc"), tuinet.Input((None, 2), name="dec")
    out, *states = getattr(L, cell)(4, return_state=True, name="encoder")(enc_in)
    dec = getattr(L, cell)(4, return_sequences=True, name="decoder")(dec_in, initial_state=states)
    outputs = [L.Dense(3, name="head")(dec)]
    if state_output:  # an encoder state also feeds a second head: its gradient enters the encoder too
        outputs.append(L.Dense(1, name="side")(states[0]))
    return tuinet.Model([enc_in, dec_in], outputs if state_output else outputs[0])


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
def test_gradients_flow_through_initial_state_and_returned_states(float64, cell):
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(4, 5, 3)), rng.normal(size=(4, 3, 2))]
    check_graph_gradients(seq2seq(cell), xs, rng.normal(size=(4, 3, 3)), loss="mse")
    check_graph_gradients(seq2seq(cell, state_output=True), xs, [rng.normal(size=(4, 3, 3)), rng.normal(size=(4, 1))],
                          loss=["mse", "mse"], loss_weights=[1.0, 0.5])


def test_encoder_decoder_round_trips_and_refuses_bad_states(tmp_path):
    model = seq2seq("LSTM")
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(6, 5, 3)).astype("float32"), rng.normal(size=(6, 3, 2)).astype("float32")]
    model.compile("adam", "mse")
    model.fit(xs, rng.normal(size=(6, 3, 3)), epochs=1, verbose=0)
    model.save(tmp_path / "s2s.tuinet")
    again = tuinet.load_model(tmp_path / "s2s.tuinet")
    assert np.array_equal(again.predict(xs, verbose=0), model.predict(xs, verbose=0))
    assert "encoder[0][1]," in model.summary_text() and "encoder[0][2]" in model.summary_text()
    enc = tuinet.Input((None, 3))
    _, h, c = L.LSTM(4, return_state=True)(enc)
    with pytest.raises(ShapeError) as exc:
        L.LSTM(4)(enc, initial_state=[h])  # an LSTM needs [h, c]
    assert "initial_state must be 2 tensors of shape (None, 4)" in one_line(exc)
    with pytest.raises(ConfigError) as exc:
        L.Dense(4)(enc, initial_state=[h])
    assert "initial_state" in one_line(exc)


def test_weighted_metrics_per_output_named_as_keras_and_saved(tmp_path):
    """Keras 3 names a weighted metric beside a plain one of the same name `<output>_weighted_<name>`."""
    a = tuinet.Input((3,))
    model = tuinet.Model(a, [L.Dense(2, activation="softmax", name="c1")(a), L.Dense(1, name="r")(a)])
    model.compile("sgd", ["sparse_categorical_crossentropy", "mse"], metrics=[["accuracy"], ["mae"]],
                  weighted_metrics=[["accuracy"], ["mae"]])
    rng = np.random.default_rng(0)
    x, y1, y2, sw = rng.normal(size=(16, 3)), rng.integers(0, 2, 16), rng.normal(size=(16, 1)), rng.uniform(size=16)
    history = model.fit(x, [y1, y2], sample_weight=sw, epochs=1, verbose=0).history
    assert sorted(history) == ["c1_accuracy", "c1_loss", "c1_weighted_accuracy", "loss", "r_loss", "r_mae",
                               "r_weighted_mae"]
    logs = model.evaluate(x, [y1, y2], sample_weight=sw, verbose=0, return_dict=True)
    hits = model.predict(x, verbose=0)[0].argmax(-1) == y1
    assert logs["c1_weighted_accuracy"] == pytest.approx((hits * sw).sum() / sw.sum(), rel=1e-6)
    model.save(tmp_path / "w.tuinet")
    again = tuinet.load_model(tmp_path / "w.tuinet")
    assert again.evaluate(x, [y1, y2], sample_weight=sw, verbose=0, return_dict=True) == pytest.approx(logs)

"""Merge layers (tuinet/nn/layers/merge.py): Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate, Dot and their functional helpers."""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest

from tests.nn.gradcheck import assert_close, numeric_grad, round_trip
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import backend
from tuinet.nn import layers as L
from tuinet.nn.layers.merge import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add,
                                    average, concatenate, dot, maximum, minimum, multiply, subtract)


def check_merge(layer, shapes, *, seed=0, xs=None, rtol=1e-5, atol=1e-7, h=1e-6):
    """Float64 central differences of `sum(forward(xs) * R)` against `backward(R)`, for every input.

    `shapes` include the batch axis. Returns the forward output.
    """
    old = backend.floatx()
    backend.set_floatx("float64")
    try:
        rng = np.random.default_rng(seed)
        xs = [rng.normal(size=s) for s in shapes] if xs is None else [np.array(x, dtype=np.float64) for x in xs]
        layer.build_for([x.shape[1:] for x in xs], np.random.default_rng(seed))
        y = layer.forward(xs)
        assert y.shape == (xs[0].shape[0], *layer.output_shape)
        r = rng.normal(size=y.shape)

        def loss() -> float:
            return float(np.sum(layer.forward(xs) * r))

        layer.forward(xs)
        grads = layer.backward(r.copy())
        assert isinstance(grads, list) and len(grads) == len(xs)
        for i, (x, g) in enumerate(zip(xs, grads)):
            assert g.shape == x.shape and g.dtype == np.float64, f"input {i}: grad {g.shape} != {x.shape}"
            idx, num = numeric_grad(loss, x, h=h, rng=rng)
            assert_close(f"{type(layer).__name__} d/dx{i}", g.reshape(-1)[idx], num, rtol, atol)
        return y
    finally:
        backend.set_floatx(old)




def aligned(xs):
    """Keras's `expand_dims(x, 1)` until the ranks match, for the NumPy reference formulas."""
    n = max(x.ndim for x in xs)
    return [x.reshape(x.shape[:1] + (1,) * (n - x.ndim) + x.shape[1:]) for x in xs]


def _prod(xs):
    out = xs[0]
    for x in xs[1:]:
        out = out * x
    return out


# Elementwise layers: factory, NumPy reference on the aligned inputs.
ELEMWISE = {
    "Add": (Add, lambda xs: sum(xs[1:], xs[0])),
    "Subtract": (Subtract, lambda xs: xs[0] - xs[1]),
    "Multiply": (Multiply, _prod),
    "Average": (Average, lambda xs: sum(xs[1:], xs[0]) / len(xs)),
    "Maximum": (Maximum, lambda xs: np.maximum.reduce(np.broadcast_arrays(*xs))),
    "Minimum": (Minimum, lambda xs: np.minimum.reduce(np.broadcast_arrays(*xs))),
}

# Input shapes (batch first) and the expected output shape (no batch axis).
ELEMWISE_SHAPES = [
    ([(3, 4), (3, 4)], (4,)),
    ([(2, 3, 4), (2, 3, 4), (2, 3, 4)], (3, 4)),
    ([(2, 3, 4), (2, 1, 4)], (3, 4)),            # size-1 axis broadcasts
    ([(2, 1, 4), (2, 3, 1)], (3, 4)),            # both broadcast
    ([(2, 4), (2, 3, 4)], (3, 4)),               # lower rank: new axis after the batch
    ([(2, 3, 4), (2, 1)], (3, 4)),               # lower rank and size 1
    ([(2, 5), (2, 5), (2, 1), (2, 3, 5)], (3, 5)),
]


def _elemwise_cases():
    for name, (cls, ref) in ELEMWISE.items():
        for shapes, out in ELEMWISE_SHAPES:
            if cls is Subtract and len(shapes) != 2:
                continue
            yield pytest.param(cls, ref, shapes, out, id=f"{name}-{'-'.join(str(s[1:]) for s in shapes)}")


@pytest.mark.parametrize("cls, ref, shapes, out", list(_elemwise_cases()))
def test_elementwise_forward_gradient_and_shape(cls, ref, shapes, out):
    layer = cls()
    assert layer.compute_output_shape([s[1:] for s in shapes]) == out
    y = check_merge(layer, shapes)
    assert y.shape == (shapes[0][0], *out)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=s) for s in shapes]
    np.testing.assert_allclose(layer.forward(xs), ref(aligned(xs)), rtol=1e-12)


@pytest.mark.parametrize("cls", [Add, Subtract, Multiply, Average, Maximum, Minimum])
def test_elementwise_keeps_float32(cls):
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(2)]
    layer = cls()
    layer.build_for([(3,), (3,)], np.random.default_rng(0))
    y = layer.forward(xs)
    assert y.dtype == np.float32
    grads = layer.backward(np.ones_like(y))
    assert all(g.dtype == np.float32 and g.shape == (4, 3) for g in grads)


def test_values_by_hand():
    a = np.array([[1.0, -2.0, 3.0]])
    b = np.array([[4.0, 5.0, -6.0]])
    c = np.array([[0.5]])
    built = lambda layer, xs: (layer.build_for([x.shape[1:] for x in xs], None), layer.forward(xs))[1]  # noqa: E731
    np.testing.assert_array_equal(built(Add(), [a, b, c]), [[5.5, 3.5, -2.5]])
    np.testing.assert_array_equal(built(Subtract(), [a, b]), [[-3.0, -7.0, 9.0]])
    np.testing.assert_array_equal(built(Multiply(), [a, b, c]), [[2.0, -5.0, -9.0]])
    np.testing.assert_array_equal(built(Average(), [a, b]), [[2.5, 1.5, -1.5]])
    np.testing.assert_array_equal(built(Maximum(), [a, b, c]), [[4.0, 5.0, 3.0]])
    np.testing.assert_array_equal(built(Minimum(), [a, b, c]), [[0.5, -2.0, -6.0]])


@pytest.mark.parametrize("cls, pick", [(Maximum, np.argmax), (Minimum, np.argmin)])
def test_extremum_gradient_goes_to_the_first_input_on_ties(cls, pick):
    a = np.array([[1.0, 2.0, 3.0]])
    b = np.array([[1.0, 5.0, 0.0]])
    c = np.array([[1.0, 2.0, 3.0]])
    layer = cls()
    layer.build_for([(3,)] * 3, None)
    layer.forward([a, b, c])
    ga, gb, gc = layer.backward(np.array([[10.0, 20.0, 30.0]]))
    winner = pick(np.stack([a, b, c]), axis=0)[0]
    for i, g in enumerate((ga, gb, gc)):
        np.testing.assert_array_equal(g[0], np.where(winner == i, [10.0, 20.0, 30.0], 0.0))
    # Column 0 is a three-way tie: all of it goes to the first input.
    assert (ga[0, 0], gb[0, 0], gc[0, 0]) == (10.0, 0.0, 0.0)


def test_multiply_gradient_with_zeros():
    a = np.array([[0.0, 2.0]])
    b = np.array([[3.0, 0.0]])
    layer = Multiply()
    layer.build_for([(2,), (2,)], None)
    layer.forward([a, b])
    ga, gb = layer.backward(np.ones((1, 2)))
    np.testing.assert_array_equal(ga, [[3.0, 0.0]])
    np.testing.assert_array_equal(gb, [[0.0, 2.0]])


# --------------------------------------------------------------------------------------- concatenate
CONCAT_CASES = [
    (-1, [(2, 3), (2, 4)], (7,)),
    (1, [(2, 3), (2, 4), (2, 1)], (8,)),
    (-1, [(2, 3, 4), (2, 3, 2)], (3, 6)),
    (1, [(2, 3, 4), (2, 5, 4)], (8, 4)),
    (-2, [(2, 3, 4), (2, 5, 4)], (8, 4)),
    (2, [(2, 2, 3, 4), (2, 2, 1, 4)], (2, 4, 4)),
    (-1, [(3, 5)], (5,)),  # Keras 3 takes a list of one input
]


@pytest.mark.parametrize("axis, shapes, out", CONCAT_CASES, ids=[f"axis{a}-{len(s[0])}d-{len(s)}in"
                                                                 for a, s, _ in CONCAT_CASES])
def test_concatenate(axis, shapes, out):
    layer = Concatenate(axis=axis)
    assert layer.compute_output_shape([s[1:] for s in shapes]) == out
    y = check_merge(layer, shapes)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=s) for s in shapes]
    np.testing.assert_array_equal(y, np.concatenate(xs, axis=axis))


def test_concatenate_shape_with_unknown_sizes():
    layer = Concatenate()
    assert layer.compute_output_shape([(None, 3), (5, 4)]) == (5, 7)
    assert layer.compute_output_shape([(5, None), (5, 4)]) == (5, None)
    assert Concatenate(axis=1).compute_output_shape([(None, 3), (2, 3)]) == (None, 3)


# ----------------------------------------------------------------------------------------------- dot
def batch_dot_reference(x1, x2, a1, a2, normalize=False):
    """Keras's `batch_dot` by `np.einsum`, one sample at a time."""
    if normalize:
        x1 = x1 / np.maximum(np.sqrt(np.sum(x1 ** 2, axis=a1, keepdims=True)), 1e-7)
        x2 = x2 / np.maximum(np.sqrt(np.sum(x2 ** 2, axis=a2, keepdims=True)), 1e-7)
    out = np.stack([np.tensordot(x1[b], x2[b], axes=(a1 - 1, a2 - 1)) for b in range(x1.shape[0])])
    return out.reshape(out.shape[0], -1) if out.ndim == 1 else out


DOT_CASES = [
    (1, [(4, 3), (4, 3)], (1,)),
    (-1, [(4, 3), (4, 3)], (1,)),
    ((1, 1), [(4, 3), (4, 3)], (1,)),
    (-1, [(2, 3, 5), (2, 4, 5)], (3, 4)),
    ((1, 2), [(2, 3, 5), (2, 10, 3)], (5, 10)),
    ((2, 1), [(2, 3, 5), (2, 5, 4)], (3, 4)),
    ((-1, -2), [(2, 3, 5), (2, 5, 4)], (3, 4)),
    ((1, 1), [(2, 3), (2, 3, 4)], (4,)),
    ((1, 2), [(2, 3), (2, 4, 3)], (4,)),
    ((2, 1), [(2, 4, 3), (2, 3)], (4,)),
    ((3, 1), [(2, 2, 3, 4), (2, 4, 5)], (2, 3, 5)),
    ((1, 2), [(2, 4, 3), (2, 2, 4, 5)], (3, 2, 5)),
]


@pytest.mark.parametrize("normalize", [False, True], ids=["plain", "normalize"])
@pytest.mark.parametrize("axes, shapes, out", DOT_CASES, ids=[f"axes{a}-{s[0][1:]}.{s[1][1:]}"
                                                              for a, s, _ in DOT_CASES])
def test_dot(axes, shapes, out, normalize):
    layer = Dot(axes=axes, normalize=normalize)
    assert layer.compute_output_shape([s[1:] for s in shapes]) == out
    y = check_merge(layer, shapes)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=s) for s in shapes]
    pair = (axes, axes) if isinstance(axes, int) else axes
    a1, a2 = (a % len(s) for a, s in zip(pair, shapes))
    np.testing.assert_allclose(y, batch_dot_reference(*xs, a1, a2, normalize), rtol=1e-12, atol=1e-14)


def test_dot_normalize_is_cosine_similarity_and_keeps_float32():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 6)).astype(np.float32), rng.normal(size=(5, 6)).astype(np.float32)
    layer = Dot(axes=1, normalize=True)
    layer.build_for([(6,), (6,)], None)
    y = layer.forward([a, b])
    assert y.dtype == np.float32 and y.shape == (5, 1)
    cos = np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(y[:, 0], cos, rtol=1e-5)
    assert all(g.dtype == np.float32 for g in layer.backward(np.ones_like(y)))


def test_dot_normalize_of_a_tiny_vector_uses_epsilon():
    """Below epsilon the norm is clipped (Keras 3: `x * min(rsqrt(sum(x**2)), 1/epsilon)`)."""
    x1 = np.array([[2e-8, 0.0], [3.0, 4.0]])
    x2 = np.array([[1.0, 1.0], [1.0, 0.0]])
    layer = Dot(axes=1, normalize=True)
    y = check_merge(layer, None, xs=[x1, x2], h=1e-10)  # a step that stays below the kink
    np.testing.assert_allclose(y[:, 0], [2e-8 / 1e-7 / np.sqrt(2), 0.6])


# ----------------------------------------------------------------------------------- config, registry
ALL_LAYERS = [Add(), Subtract(), Multiply(), Average(), Maximum(), Minimum(), Concatenate(), Concatenate(axis=1),
              Dot(axes=1), Dot(axes=(1, 2), normalize=True), Dot(axes=[-1, -2], name="cos", trainable=False)]


@pytest.mark.parametrize("layer", ALL_LAYERS, ids=lambda la: type(la).__name__)
def test_config_round_trip(layer):
    clone = round_trip(layer)
    assert clone.multi_input and clone.count_params([(3, 3), (3, 3)]) == 0


def test_config_fields():
    assert Concatenate(axis=2).get_config()["axis"] == 2
    cfg = Dot(axes=(1, 2), normalize=True).get_config()
    assert cfg["axes"] == [1, 2] and cfg["normalize"] is True
    assert Dot(axes=-1).get_config()["axes"] == -1
    assert set(Add().get_config()) == {"name", "trainable"}


def test_registry_and_helpers_exported():
    for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot"):
        assert L.LAYERS[name] is getattr(L, name) and name in L.__all__
    for fn in (add, subtract, multiply, average, maximum, minimum, concatenate, dot):
        assert getattr(L, fn.__name__) is fn and fn.__name__ in L.__all__
    assert L.get("concatenate") is Concatenate


def test_functional_helpers_on_arrays(monkeypatch):
    if importlib.util.find_spec("tuinet.nn.functional") is None:
        # `Layer.__call__` asks `tuinet.nn.functional` whether its input is symbolic; until that
        # module exists, a stand-in that says "no" exercises the eager path.
        stub = types.ModuleType("tuinet.nn.functional")
        stub.is_symbolic = lambda x: False
        monkeypatch.setitem(sys.modules, "tuinet.nn.functional", stub)
    rng = np.random.default_rng(3)
    a, b, c = (rng.normal(size=(2, 3)).astype(np.float32) for _ in range(3))
    np.testing.assert_allclose(add([a, b, c]), a + b + c, rtol=1e-6)
    np.testing.assert_allclose(subtract([a, b]), a - b)
    np.testing.assert_allclose(multiply([a, b]), a * b)
    np.testing.assert_allclose(average([a, b]), (a + b) / 2)
    np.testing.assert_allclose(maximum([a, b]), np.maximum(a, b))
    np.testing.assert_allclose(minimum([a, b]), np.minimum(a, b))
    np.testing.assert_allclose(concatenate([a, b], axis=1), np.concatenate([a, b], axis=1))
    np.testing.assert_allclose(dot([a, b], axes=1), np.sum(a * b, axis=1, keepdims=True), rtol=1e-6)
    assert dot([a, b], axes=1, normalize=True).shape == (2, 1)
    assert Add(name="sum")([a, b]).dtype == np.float32


# --------------------------------------------------------------------------------------------- errors
SHAPE_ERRORS = [
    (Add(), [(3,)], r"^Add: expects a list of at least 2 inputs, got 1$"),
    (Subtract(), [(3,), (3,), (3,)], r"^Subtract: expects exactly 2 inputs, got 3$"),
    (Add(), [(3,), (4,)], r"^Add: inputs must have broadcast-compatible shapes, got \(None, 3\) and \(None, 4\)$"),
    (Maximum(), [(2, 3), (3,), (4, 3)],
     r"^Maximum: inputs must have broadcast-compatible shapes, got \(None, 2, 3\), \(None, 3\) and \(None, 4, 3\)$"),
    (Concatenate(), [(3,), (4, 2)],
     r"^Concatenate: inputs must have the same shape except along axis -1, got \(None, 3\) and \(None, 4, 2\)$"),
    (Concatenate(axis=1), [(3, 2), (4, 5)],
     r"^Concatenate: inputs must have the same shape except along axis 1, got \(None, 3, 2\) and \(None, 4, 5\)$"),
    (Concatenate(axis=0), [(3,), (3,)], r"^Concatenate: axis 0 is out of range .*batch axis"),
    (Concatenate(axis=-3), [(3,), (3,)], r"^Concatenate: axis -3 is out of range for inputs of shape \(None, 3\)"),
    (Concatenate(axis=2), [(3,), (3,)], r"^Concatenate: axis 2 is out of range"),
    (Concatenate(), [], r"^Concatenate: expects a list of at least 1 input, got 0$"),
    (Dot(axes=1), [(3,)], r"^Dot: expects exactly 2 inputs, got 1$"),
    (Dot(axes=1), [(3,), (4,)], r"^Dot: the dot axes must have the same size, got 3 \(axis 1 of x1\) and 4 "
                                r"\(axis 1 of x2\) for inputs \(None, 3\) and \(None, 4\)$"),
    (Dot(axes=0), [(3,), (3,)], r"^Dot: axes 0 are out of range .*batch axis"),
    (Dot(axes=(1, 3)), [(3,), (2, 3)], r"^Dot: axes \[1, 3\] are out of range"),
    (Dot(axes=-1), [(), (3,)], r"^Dot: inputs must have rank >= 2 \(batch, ...\), got \(None,\) and \(None, 3\)$"),
]


@pytest.mark.parametrize("layer, shapes, match", SHAPE_ERRORS, ids=[m[2:40] for _, _, m in SHAPE_ERRORS])
def test_shape_errors(layer, shapes, match):
    with pytest.raises(ShapeError, match=match):
        layer.compute_output_shape(shapes)
    with pytest.raises(ShapeError, match=match):
        layer.build_for(shapes, np.random.default_rng(0))
    with pytest.raises(ShapeError, match=match):
        layer.weight_specs(shapes)


def test_forward_checks_the_arrays():
    layer = Add()
    layer.build_for([(3,), (3,)], None)
    with pytest.raises(ShapeError, match=r"^Add: inputs must have the same batch size, got 2, 3$"):
        layer.forward([np.zeros((2, 3)), np.zeros((3, 3))])
    with pytest.raises(ShapeError, match=r"^Add: inputs must have broadcast-compatible shapes"):
        layer.forward([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ShapeError, match=r"^Add: expects a list of input tensors, got ndarray$"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"^Add: inputs need a batch axis"):
        layer.forward([np.float64(1.0), np.zeros((2, 3))])
    cat = Concatenate()
    cat.build_for([(3,), (3,)], None)
    with pytest.raises(ShapeError, match=r"^Concatenate: inputs must have the same shape except along axis -1"):
        cat.forward([np.zeros((2, 3)), np.zeros((2, 4, 3))])
    d = Dot(axes=1)
    d.build_for([(3,), (3,)], None)
    with pytest.raises(ShapeError, match=r"^Dot: the dot axes must have the same size"):
        d.forward([np.zeros((2, 3)), np.zeros((2, 4))])


@pytest.mark.parametrize("make, match", [
    (lambda: Concatenate(axis=1.5), r"^Concatenate: axis must be an integer, got 1.5$"),
    (lambda: Concatenate(axis=True), r"^Concatenate: axis must be an integer, got True$"),
    (lambda: Dot(axes="1"), r"^Dot: axes must be an integer or a pair of integers, got '1'$"),
    (lambda: Dot(axes=(1, 2, 3)), r"^Dot: axes must be an integer or a pair of integers, got \(1, 2, 3\)$"),
    (lambda: Dot(axes=[1, None]), r"^Dot: axes must be an integer or a pair of integers"),
    (lambda: Dot(axes=1, normalize="yes"), r"^Dot: normalize must be true or false, got 'yes'$"),
    (lambda: Add(axis=1), r"^Add: unexpected argument\(s\) axis$"),
])
def test_config_errors(make, match):
    with pytest.raises(ConfigError, match=match):
        make()

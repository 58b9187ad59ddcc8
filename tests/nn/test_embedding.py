"""Embedding: lookup, scatter-add gradient with repeated ids, id validation, config."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.nn.gradcheck import check_layer
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import initializers, regularizers
from tuinet.nn.layers.embedding import Embedding


def built(layer, input_shape, seed=0):
    layer.build_for(input_shape, np.random.default_rng(seed))
    return layer


def test_forward_is_a_row_lookup():
    layer = built(Embedding(6, 3), (4,))
    table = np.arange(18, dtype=np.float32).reshape(6, 3)
    layer.set_weights([table])
    ids = np.array([[0, 5, 5, 2], [1, 0, 3, 4]])
    y = layer(ids)
    assert y.shape == (2, 4, 3) and y.dtype == np.float32
    np.testing.assert_array_equal(y[0, 1], [15, 16, 17])
    np.testing.assert_array_equal(y[1, 3], [12, 13, 14])
    np.testing.assert_array_equal(y, table[ids])
    y[0, 0] = -1  # the output is a copy, not a view of the table
    assert layer.params["embeddings"][0, 0] == 0


def test_any_rank_and_integral_float_ids():
    layer = built(Embedding(10, 2), (2, 3))
    table = layer.get_weights()[0]
    ids = np.random.default_rng(0).integers(0, 10, size=(4, 2, 3))
    np.testing.assert_array_equal(layer(ids), table[ids])
    np.testing.assert_array_equal(layer(ids.astype(np.float32)), table[ids])  # as a model feeds data
    np.testing.assert_array_equal(layer(ids.astype(np.uint8)), table[ids])
    flat = built(Embedding(10, 2), ())
    assert flat(np.array([3, 4])).shape == (2, 2)
    assert Embedding(10, 7).compute_output_shape((5,)) == (5, 7)
    assert Embedding(10, 7).compute_output_shape((2, 3)) == (2, 3, 7)


def test_gradient_accumulates_repeated_ids():
    layer = built(Embedding(5, 2), (3,))
    ids = np.array([[1, 1, 4], [4, 1, 0]])
    layer(ids)
    g = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    assert layer.backward(g) is None  # the ids get no gradient
    expected = np.zeros((5, 2), np.float32)
    for b in range(2):
        for t in range(3):
            expected[ids[b, t]] += g[b, t]
    np.testing.assert_array_equal(layer.grads["embeddings"], expected)
    np.testing.assert_array_equal(expected[1], g[0, 0] + g[0, 1] + g[1, 1])
    # A second backward overwrites instead of accumulating.
    layer(np.array([[2, 2, 2], [2, 2, 2]]))
    layer.backward(np.ones((2, 3, 2), np.float32))
    np.testing.assert_array_equal(layer.grads["embeddings"], [[0, 0], [0, 0], [6, 6], [0, 0], [0, 0]])


@pytest.mark.parametrize("ids", [
    np.array([[0, 3, 3, 3], [3, 7, 0, 0]]),                      # repeats inside and across samples
    np.random.default_rng(1).integers(0, 8, size=(3, 2, 5)),     # rank 3
    np.array([[6, 6], [6, 6]]),                                  # one id only
], ids=["repeats", "rank3", "single_id"])
def test_finite_difference_gradient(ids):
    check_layer(Embedding(8, 3), ids.shape, x=ids)


@pytest.mark.parametrize("bad, shown", [(-1, "-1"), (6, "6"), (100, "100")])
def test_out_of_range_ids(bad, shown):
    layer = built(Embedding(6, 2, name="emb"), (3,))
    with pytest.raises(ShapeError, match=rf"Embedding 'emb': id {shown} is out of range; valid ids are 0 to 5 "
                                         r"\(input_dim=6\)"):
        layer(np.array([[0, bad, 1]]))


def test_non_integer_ids():
    layer = built(Embedding(6, 2, name="emb"), (2,))
    with pytest.raises(ShapeError, match=r"Embedding 'emb' expects integer ids in \[0, 6\), got the non-integer "
                                         r"value 2.5"):
        layer(np.array([[1.0, 2.5]]))
    with pytest.raises(ShapeError, match="non-integer value nan"):
        layer(np.array([[1.0, np.nan]]))
    with pytest.raises(ShapeError, match="dtype <U1"):
        layer(np.array([["a", "b"]]))


@pytest.mark.parametrize("kwargs, pattern", [
    ({"input_dim": 0, "output_dim": 2}, r"Embedding: input_dim must be a positive integer, got 0"),
    ({"input_dim": 5, "output_dim": -3}, r"Embedding: output_dim must be a positive integer, got -3"),
    ({"input_dim": 5, "output_dim": 2, "mask_zero": "yes"},
     r"Embedding: mask_zero must be true or false, got 'yes'"),
    ({"input_dim": 5, "output_dim": 2, "embeddings_initializer": "unifrom"}, r"unknown initializer 'unifrom'"),
    ({"input_dim": 5, "output_dim": 2, "embeddings_constraint": "nonneg_"}, r"unknown constraint 'nonneg_'"),
])
def test_config_errors(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        Embedding(**kwargs)


def test_input_length_is_deprecated_and_ignored():
    with pytest.warns(UserWarning, match="input_length"):
        layer = Embedding(5, 2, input_length=3)
    assert "input_length" not in layer.get_config()


def test_default_initializer_and_weights():
    layer = built(Embedding(1000, 8), (4,))
    assert layer.weight_names == ["embeddings"]
    e = layer.get_weights()[0]
    assert e.shape == (1000, 8) and e.dtype == np.float32
    assert e.min() >= -0.05 and e.max() <= 0.05 and e.std() > 0.02  # Keras's "uniform": U(-0.05, 0.05)


@pytest.mark.parametrize("layer", [
    Embedding(10, 4),
    Embedding(7, 3, embeddings_initializer=initializers.RandomNormal(stddev=0.1, seed=2),
              embeddings_regularizer=regularizers.L2(0.1), name="tok", input_shape=(5,), trainable=False),
], ids=["default", "all"])
def test_config_round_trip(layer):
    cfg = layer.get_config()
    assert {"input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer", "mask_zero"} <= set(cfg)
    assert json.loads(json.dumps(cfg)) == cfg
    clone = Embedding.from_config(cfg)
    assert clone.get_config() == cfg and not clone.built
    built(layer, (5,))
    built(clone, (5,), seed=1)
    clone.set_weights(layer.get_weights())
    ids = np.array([[0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(clone(ids), layer(ids))
    assert set(clone.regularizers) == set(layer.regularizers)


def test_regularizer_is_registered():
    layer = built(Embedding(4, 2, embeddings_regularizer="l2"), (1,))
    assert set(layer.regularizers) == {"embeddings"}
    e = layer.params["embeddings"]
    assert np.isclose(layer.regularization_loss(), 0.01 * float((e.astype(np.float64) ** 2).sum()), rtol=1e-5)

"""Pooling layers: shapes, values and gradients against plain loops (ties included), config, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.nn.gradcheck import check_layer
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn.layers.pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D,
                                      GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                                      MaxPooling1D, MaxPooling2D)


# -- an independent reference: loops over output windows, clipped to the real input ------------
def ref_pool2d(x, grad, pool, strides, padding, mode):
    """Forward values and the input gradient for upstream gradient `grad` (None: forward only).

    "same" windows are clipped to the input (TF ignores the padding in max pooling and averages
    over the real elements only); max pooling's gradient goes to the first maximum, row-major.
    """
    n, h, w, c = x.shape
    (ph, pw), (sh, sw) = pool, strides
    if padding == "same":
        oh, ow = math.ceil(h / sh), math.ceil(w / sw)
        pt = max((oh - 1) * sh + ph - h, 0) // 2
        pl = max((ow - 1) * sw + pw - w, 0) // 2
    else:
        oh, ow, pt, pl = (h - ph) // sh + 1, (w - pw) // sw + 1, 0, 0
    y = np.zeros((n, oh, ow, c))
    dx = np.zeros_like(x, dtype=np.float64)
    for oy in range(oh):
        for ox in range(ow):
            r0, c0 = oy * sh - pt, ox * sw - pl
            r1, c1 = min(r0 + ph, h), min(c0 + pw, w)
            r0, c0 = max(r0, 0), max(c0, 0)
            win = x[:, r0:r1, c0:c1, :].reshape(n, -1, c)
            if mode == "max":
                y[:, oy, ox] = win.max(axis=1)
                if grad is not None:
                    first = win.argmax(axis=1)  # first maximum in row-major order
                    for b in range(n):
                        for ch in range(c):
                            i, j = divmod(int(first[b, ch]), c1 - c0)
                            dx[b, r0 + i, c0 + j, ch] += grad[b, oy, ox, ch]
            else:
                y[:, oy, ox] = win.mean(axis=1)
                if grad is not None:
                    dx[:, r0:r1, c0:c1, :] += grad[:, oy, ox][:, None, None, :] / win.shape[1]
    return y, dx


def built(layer, input_shape):
    layer.build_for(input_shape, np.random.default_rng(0))
    return layer


# -- shapes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("layer, input_shape, expected", [
    (MaxPooling2D(), (28, 28, 1), (14, 14, 1)),
    (MaxPooling2D(), (11, 11, 16), (5, 5, 16)),                                # floor(11 / 2)
    (MaxPooling2D(padding="same"), (7, 7, 3), (4, 4, 3)),                      # ceil(7 / 2)
    (AveragePooling2D(3, strides=2, padding="same"), (7, 7, 2), (4, 4, 2)),
    (AveragePooling2D((2, 3), strides=(1, 2)), (5, 7, 1), (4, 3, 1)),          # (5-2)//1+1, (7-3)//2+1
    (MaxPooling2D(3, strides=1), (5, 6, 2), (3, 4, 2)),
    (MaxPooling1D(), (10, 4), (5, 4)),
    (MaxPooling1D(3), (10, 4), (3, 4)),                                        # strides default 3
    (AveragePooling1D(3, padding="same"), (10, 4), (4, 4)),
    (AveragePooling1D(4, strides=1), (10, 4), (7, 4)),
    (GlobalMaxPooling2D(), (5, 6, 3), (3,)),
    (GlobalAveragePooling2D(keepdims=True), (5, 6, 3), (1, 1, 3)),
    (GlobalAveragePooling1D(), (7, 3), (3,)),
    (GlobalMaxPooling1D(keepdims=True), (7, 3), (1, 3)),
])
def test_output_shape(layer, input_shape, expected):
    assert layer.compute_output_shape(input_shape) == expected
    y = built(layer, input_shape).forward(np.zeros((2, *input_shape), dtype=np.float32))
    assert y.shape == (2, *expected) and y.dtype == np.float32


def test_default_names_follow_keras():
    assert MaxPooling2D.default_name() == "max_pooling2d"
    assert AveragePooling1D.default_name() == "average_pooling1d"
    assert GlobalAveragePooling2D.default_name() == "global_average_pooling2d"


# -- hand-computed values ----------------------------------------------------------------------
def test_max_and_average_2x2_by_hand():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(built(MaxPooling2D(), (4, 4, 1)).forward(x)[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(built(AveragePooling2D(), (4, 4, 1)).forward(x)[0, :, :, 0],
                                  [[2.5, 4.5], [10.5, 12.5]])


def test_average_same_divides_by_real_elements():
    # 3x3 image 1..9, pool 2 stride 2 "same": pad 1 after each axis; windows hold 4, 2, 2, 1 values.
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    y = built(AveragePooling2D(padding="same"), (3, 3, 1)).forward(x)
    np.testing.assert_allclose(y[0, :, :, 0], [[(1 + 2 + 4 + 5) / 4, (3 + 6) / 2], [(7 + 8) / 2, 9]])
    # Max pooling ignores the padding even where every real value is negative.
    neg = -x
    np.testing.assert_array_equal(built(MaxPooling2D(padding="same"), (3, 3, 1)).forward(neg)[0, :, :, 0],
                                  [[-1, -3], [-7, -9]])


def test_max_pool_gradient_goes_to_first_maximum_on_ties():
    layer = built(MaxPooling2D(), (2, 4, 1))
    # Left window all equal -> top-left; right window [[0, 5], [5, 0]] -> (0, 1), first row-major.
    x = np.array([[2, 2, 0, 5], [2, 2, 5, 0]], dtype=np.float32).reshape(1, 2, 4, 1)
    np.testing.assert_array_equal(layer.forward(x)[0, 0, :, 0], [2, 5])
    dx = layer.backward(np.array([3.0, 7.0], dtype=np.float32).reshape(1, 1, 2, 1))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[3, 0, 0, 7], [0, 0, 0, 0]])
    one_d = built(MaxPooling1D(3), (6, 1))
    one_d.forward(np.array([1, 4, 4, 0, 0, 0], dtype=np.float32).reshape(1, 6, 1))
    np.testing.assert_array_equal(one_d.backward(np.ones((1, 2, 1), dtype=np.float32))[0, :, 0],
                                  [0, 1, 0, 1, 0, 0])


# -- forward and backward against the loop reference --------------------------------------------
CASES_2D = [
    dict(),
    dict(pool_size=3),
    dict(pool_size=(2, 3), strides=(1, 2)),
    dict(pool_size=3, strides=2, padding="same"),
    dict(pool_size=2, padding="same"),
    dict(pool_size=3, strides=1, padding="same"),
    dict(pool_size=(3, 2), strides=(3, 3)),  # stride larger than the pool: gaps
    dict(pool_size=(1, 4), strides=(2, 1)),
    dict(pool_size=1),
]


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize("kwargs", CASES_2D)
def test_pool2d_matches_loops_with_ties(cls, kwargs, float64):
    layer = built(cls(**kwargs), (7, 6, 3))
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, size=(2, 7, 6, 3)).astype(np.float64)  # many ties
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    y_ref, dx_ref = ref_pool2d(x, g, layer.pool_size, layer.strides, layer.padding,
                               "max" if cls is MaxPooling2D else "avg")
    np.testing.assert_allclose(y, y_ref, rtol=1e-12)
    np.testing.assert_allclose(layer.backward(g), dx_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [MaxPooling1D, AveragePooling1D])
@pytest.mark.parametrize("kwargs", [dict(), dict(pool_size=3, strides=2, padding="same"),
                                    dict(pool_size=4, strides=1), dict(pool_size=2, padding="same")])
def test_pool1d_matches_loops_with_ties(cls, kwargs, float64):
    layer = built(cls(**kwargs), (9, 2))
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, size=(3, 9, 2)).astype(np.float64)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    y_ref, dx_ref = ref_pool2d(x[:, None], g[:, None], (1, layer.pool_size[0]), (1, layer.strides[0]),
                               layer.padding, "max" if cls is MaxPooling1D else "avg")
    np.testing.assert_allclose(y, y_ref[:, 0], rtol=1e-12)
    np.testing.assert_allclose(layer.backward(g), dx_ref[:, 0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize("kwargs", CASES_2D)
def test_pool2d_gradients(cls, kwargs):
    check_layer(cls(**kwargs), (2, 7, 6, 2))


@pytest.mark.parametrize("cls", [MaxPooling1D, AveragePooling1D])
@pytest.mark.parametrize("kwargs", [dict(), dict(pool_size=3, strides=2, padding="same"),
                                    dict(pool_size=3, strides=1)])
def test_pool1d_gradients(cls, kwargs):
    check_layer(cls(**kwargs), (2, 9, 3))


def test_float32_in_float32_out():
    x = np.random.default_rng(3).normal(size=(2, 6, 6, 4)).astype(np.float32)
    for layer in (MaxPooling2D(padding="same"), AveragePooling2D(3, 2, "same"), GlobalAveragePooling2D()):
        y = built(layer, (6, 6, 4)).forward(x)
        assert y.dtype == np.float32
        assert layer.backward(np.ones_like(y)).dtype == np.float32


def test_batch_size_changes(float64):
    layer = built(MaxPooling2D(3, 2, "same"), (5, 5, 1))
    rng = np.random.default_rng(4)
    for batch in (3, 1, 3):
        x = rng.normal(size=(batch, 5, 5, 1))
        np.testing.assert_allclose(layer.forward(x), ref_pool2d(x, None, (3, 3), (2, 2), "same", "max")[0])


# -- global pooling -------------------------------------------------------------------------------
def test_global_pooling_values_and_ties():
    x = np.array([[[1, 9], [4, 2]], [[4, 0], [3, 9]]], dtype=np.float32).reshape(1, 2, 2, 2)
    gmp = built(GlobalMaxPooling2D(), (2, 2, 2))
    np.testing.assert_array_equal(gmp.forward(x), [[4, 9]])
    dx = gmp.backward(np.array([[1.0, 2.0]], dtype=np.float32))
    # Channel 0: 4 appears at (0, 1) and (1, 0) -> first, (0, 1). Channel 1: 9 at (0, 0) first.
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 1], [0, 0]])
    np.testing.assert_array_equal(dx[0, :, :, 1], [[2, 0], [0, 0]])
    gap = built(GlobalAveragePooling2D(keepdims=True), (2, 2, 2))
    np.testing.assert_allclose(gap.forward(x), [[[[3.0, 5.0]]]])
    np.testing.assert_allclose(gap.backward(np.ones((1, 1, 1, 2), dtype=np.float32)), np.full(x.shape, 0.25))
    seq = np.array([[[1.0], [3.0], [3.0]]], dtype=np.float32)
    gmp1 = built(GlobalMaxPooling1D(), (3, 1))
    np.testing.assert_array_equal(gmp1.forward(seq), [[3.0]])
    np.testing.assert_array_equal(gmp1.backward(np.ones((1, 1), dtype=np.float32))[0, :, 0], [0, 1, 0])
    np.testing.assert_allclose(built(GlobalAveragePooling1D(), (3, 1)).forward(seq), [[7 / 3]])


@pytest.mark.parametrize("layer, input_shape", [
    (GlobalMaxPooling2D(), (2, 4, 3, 2)), (GlobalMaxPooling2D(keepdims=True), (2, 3, 3, 2)),
    (GlobalAveragePooling2D(), (2, 4, 3, 2)), (GlobalAveragePooling2D(keepdims=True), (2, 3, 3, 2)),
    (GlobalMaxPooling1D(), (2, 5, 3)), (GlobalMaxPooling1D(keepdims=True), (2, 5, 3)),
    (GlobalAveragePooling1D(), (2, 5, 3)), (GlobalAveragePooling1D(keepdims=True), (2, 5, 3)),
])
def test_global_pooling_gradients(layer, input_shape):
    check_layer(layer, input_shape)


# -- config and errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("layer, expected", [
    (MaxPooling2D(), dict(pool_size=[2, 2], strides=[2, 2], padding="valid", data_format="channels_last")),
    (AveragePooling2D((3, 2), strides=1, padding="same", name="p"),
     dict(pool_size=[3, 2], strides=[1, 1], padding="same", name="p")),
    (MaxPooling1D(3), dict(pool_size=[3], strides=[3], padding="valid")),
    (AveragePooling1D(strides=1), dict(pool_size=[2], strides=[1])),
    (GlobalAveragePooling2D(keepdims=True), dict(keepdims=True, data_format="channels_last")),
    (GlobalMaxPooling1D(), dict(keepdims=False)),
])
def test_config_round_trip(layer, expected):
    cfg = layer.get_config()
    for key, value in expected.items():
        assert cfg[key] == value
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg


@pytest.mark.parametrize("make, words", [
    (lambda: MaxPooling2D(0), ["MaxPooling2D", "pool_size", "0"]),
    (lambda: MaxPooling2D((2, 2, 2)), ["MaxPooling2D", "pool_size", "(2, 2, 2)", "tuple of 2"]),
    (lambda: AveragePooling2D(2, strides=(1, 0)), ["AveragePooling2D", "strides", "0"]),
    (lambda: AveragePooling2D(padding="full"), ["AveragePooling2D", "padding", "'full'", "valid, same"]),
    (lambda: MaxPooling1D(padding="causal"), ["MaxPooling1D", "padding", "'causal'"]),
    (lambda: AveragePooling1D((2, 2)), ["AveragePooling1D", "pool_size", "tuple of 1"]),
    (lambda: MaxPooling2D(data_format="channels_first"), ["MaxPooling2D", "data_format", "channels_first"]),
    (lambda: GlobalAveragePooling2D(keepdims="yes"), ["GlobalAveragePooling2D", "keepdims", "'yes'"]),
])
def test_bad_arguments(make, words):
    with pytest.raises(ConfigError) as err:
        make()
    for word in words:
        assert word in str(err.value)


def test_shape_errors():
    with pytest.raises(ShapeError, match=r"MaxPooling2D 'max_pooling2d' expects inputs of shape "
                                         r"\(height, width, channels\), got \(784,\)"):
        MaxPooling2D().compute_output_shape((784,))
    with pytest.raises(ShapeError, match=r"MaxPooling2D 'pool'.*too small.*pool_size \(3, 3\)"):
        MaxPooling2D(3, name="pool").build_for((2, 5, 1), np.random.default_rng(0))
    with pytest.raises(ShapeError, match=r"AveragePooling1D .*too small"):
        AveragePooling1D(4).build_for((3, 2), np.random.default_rng(0))
    with pytest.raises(ShapeError, match=r"GlobalAveragePooling1D 'global_average_pooling1d' expects inputs "
                                         r"of shape \(steps, channels\), got \(4, 4, 1\)"):
        GlobalAveragePooling1D().compute_output_shape((4, 4, 1))
    assert MaxPooling2D(3, padding="same").compute_output_shape((2, 5, 1)) == (1, 2, 1)

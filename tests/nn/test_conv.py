"""Conv1D / Conv2D: shapes, forward values against a plain loop reference, gradients, config, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.nn.gradcheck import check_layer
from tuinet.errors import ConfigError, ShapeError, TuinetError
from tuinet.nn import activations, backend, initializers, regularizers
from tuinet.nn.layers.conv import Conv1D, Conv2D


# -- an independent reference: explicit loops over output positions --------------------------
def tf_same_pads(size, k_eff, stride):
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return total // 2, total - total // 2


def ref_conv2d(x, kernel, bias, strides=(1, 1), padding="valid", dilation=(1, 1)):
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    (sh, sw), (dh, dw) = strides, dilation
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if padding == "same":
        (pt, pb), (pl, pr) = tf_same_pads(h, eh, sh), tf_same_pads(w, ew, sw)
    else:
        pt = pb = pl = pr = 0
    xp = np.zeros((n, h + pt + pb, w + pl + pr, c))
    xp[:, pt:pt + h, pl:pl + w] = x
    oh, ow = (xp.shape[1] - eh) // sh + 1, (xp.shape[2] - ew) // sw + 1
    y = np.zeros((n, oh, ow, f))
    for oy in range(oh):
        for ox in range(ow):
            for b in range(n):
                for fi in range(f):
                    acc = 0.0 if bias is None else float(bias[fi])
                    for i in range(kh):
                        for j in range(kw):
                            for ci in range(c):
                                acc += xp[b, oy * sh + i * dh, ox * sw + j * dw, ci] * kernel[i, j, ci, fi]
                    y[b, oy, ox, fi] = acc
    return y


def ref_conv1d(x, kernel, bias, stride=1, padding="valid", dilation=1):
    if padding == "causal":
        x = np.concatenate([np.zeros((x.shape[0], dilation * (kernel.shape[0] - 1), x.shape[2])), x], axis=1)
        padding = "valid"
    y = ref_conv2d(x[:, None], kernel[None], bias, (1, stride), padding, (1, dilation))
    return y[:, 0]


def build(layer, input_shape, seed=0):
    layer.build_for(input_shape, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 10)
    for v in layer.params.values():
        v[...] = rng.normal(size=v.shape)
    return layer


# -- shapes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape, expected", [
    (dict(filters=8, kernel_size=3), (28, 28, 1), (26, 26, 8)),                        # 28 - 3 + 1
    (dict(filters=4, kernel_size=3, strides=2, padding="same"), (7, 7, 2), (4, 4, 4)),  # ceil(7 / 2)
    (dict(filters=4, kernel_size=5, padding="same"), (28, 28, 1), (28, 28, 4)),
    (dict(filters=2, kernel_size=(3, 2), strides=(2, 3)), (10, 8, 3), (4, 3, 2)),      # (10-3)//2+1, (8-2)//3+1
    (dict(filters=2, kernel_size=3, dilation_rate=2), (9, 9, 1), (5, 5, 2)),           # effective kernel 5
    (dict(filters=2, kernel_size=3, strides=2), (8, 8, 1), (3, 3, 2)),                 # (8-3)//2+1
    (dict(filters=2, kernel_size=4, strides=3, padding="same"), (10, 5, 1), (4, 2, 2)),
])
def test_conv2d_output_shape(kwargs, input_shape, expected):
    layer = Conv2D(**kwargs)
    assert layer.compute_output_shape(input_shape) == expected
    assert build(layer, input_shape).forward(np.zeros((2, *input_shape))).shape == (2, *expected)


@pytest.mark.parametrize("kwargs, input_shape, expected", [
    (dict(filters=4, kernel_size=3), (10, 2), (8, 4)),
    (dict(filters=4, kernel_size=3, strides=2, padding="same"), (10, 2), (5, 4)),
    (dict(filters=4, kernel_size=3, padding="causal"), (10, 2), (10, 4)),
    (dict(filters=4, kernel_size=3, strides=3, padding="causal"), (10, 2), (4, 4)),
    (dict(filters=1, kernel_size=2, dilation_rate=3), (10, 1), (7, 1)),
])
def test_conv1d_output_shape(kwargs, input_shape, expected):
    layer = Conv1D(**kwargs)
    assert layer.compute_output_shape(input_shape) == expected
    assert build(layer, input_shape).forward(np.zeros((3, *input_shape))).shape == (3, *expected)


def test_weight_shapes_and_order():
    layer = Conv2D(5, (3, 2), input_shape=(6, 6, 4))
    layer.build_for((6, 6, 4), np.random.default_rng(0))
    assert layer.weight_names == ["kernel", "bias"]
    assert [w.shape for w in layer.get_weights()] == [(3, 2, 4, 5), (5,)]
    assert layer.count_params() == 3 * 2 * 4 * 5 + 5
    conv1 = Conv1D(3, 4, use_bias=False)
    conv1.build_for((9, 2), np.random.default_rng(0))
    assert [w.shape for w in conv1.get_weights()] == [(4, 2, 3)]


def test_default_names_follow_keras():
    assert Conv2D.default_name() == "conv2d"
    assert Conv1D.default_name() == "conv1d"


# -- forward values -----------------------------------------------------------------------------
def test_conv2d_hand_computed():
    # 3x3 image 1..9, 2x2 kernel of ones, bias 0.5: each output is the sum of a 2x2 block + 0.5.
    layer = Conv2D(1, 2, kernel_initializer="ones", bias_initializer=initializers.Constant(0.5))
    layer.build_for((3, 3, 1), np.random.default_rng(0))
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    y = layer.forward(x)
    np.testing.assert_allclose(y[0, :, :, 0], [[12.5, 16.5], [24.5, 28.5]])
    # "same" with stride 2 on 3x3: output 2x2, total pad 1 -> 0 before, 1 after (TF).
    same = Conv2D(1, 2, strides=2, padding="same", kernel_initializer="ones", use_bias=False)
    same.build_for((3, 3, 1), np.random.default_rng(0))
    np.testing.assert_allclose(same.forward(x)[0, :, :, 0], [[1 + 2 + 4 + 5, 3 + 6], [7 + 8, 9]])


@pytest.mark.parametrize("kwargs, input_shape", [
    (dict(filters=3, kernel_size=3), (7, 6, 2)),
    (dict(filters=3, kernel_size=(2, 3), strides=2, padding="same"), (7, 6, 2)),
    (dict(filters=2, kernel_size=(3, 1), strides=(1, 2), padding="same"), (5, 7, 3)),
    (dict(filters=2, kernel_size=3, padding="same", dilation_rate=(2, 1)), (7, 6, 2)),
    (dict(filters=4, kernel_size=2, strides=2, use_bias=False), (6, 6, 9)),  # many channels: row patch layout
    (dict(filters=4, kernel_size=4, strides=3, padding="same"), (10, 5, 8)),
])
def test_conv2d_matches_loops(kwargs, input_shape, float64):
    layer = build(Conv2D(**kwargs), input_shape)
    x = np.random.default_rng(1).normal(size=(2, *input_shape))
    expected = ref_conv2d(x, layer.params["kernel"], layer.params.get("bias"), layer.strides, layer.padding,
                          layer.dilation_rate)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", [
    dict(filters=3, kernel_size=3), dict(filters=3, kernel_size=4, strides=2, padding="same"),
    dict(filters=2, kernel_size=3, padding="causal", dilation_rate=2), dict(filters=2, kernel_size=2, strides=3),
])
def test_conv1d_matches_loops(kwargs, float64):
    layer = build(Conv1D(**kwargs), (9, 2))
    x = np.random.default_rng(2).normal(size=(2, 9, 2))
    expected = ref_conv1d(x, layer.params["kernel"], layer.params.get("bias"), layer.strides[0], layer.padding,
                          layer.dilation_rate[0])
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)


def test_causal_output_ignores_the_future(float64):
    layer = build(Conv1D(2, 3, padding="causal", dilation_rate=2), (8, 1))
    x = np.random.default_rng(3).normal(size=(1, 8, 1))
    y = layer.forward(x)
    x2 = x.copy()
    x2[0, 5:] += 1.0
    np.testing.assert_array_equal(layer.forward(x2)[0, :5], y[0, :5])


def test_activation_applied_after_bias(float64):
    layer = build(Conv2D(2, 2, activation="relu"), (3, 3, 1))
    x = np.random.default_rng(4).normal(size=(2, 3, 3, 1))
    z = ref_conv2d(x, layer.params["kernel"], layer.params["bias"])
    np.testing.assert_allclose(layer.forward(x), np.maximum(z, 0), rtol=1e-12, atol=1e-12)


def test_float32_stays_float32_and_casts_input():
    layer = Conv2D(4, 3, padding="same")
    layer.build_for((5, 5, 2), np.random.default_rng(0))
    assert layer.params["kernel"].dtype == np.float32
    y = layer.forward(np.random.default_rng(0).normal(size=(2, 5, 5, 2)))  # float64 input
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert layer.grads["kernel"].dtype == np.float32


def test_batch_size_changes_reuse_buffers_correctly(float64):
    layer = build(Conv2D(3, 3, padding="same"), (5, 5, 2))
    rng = np.random.default_rng(5)
    for batch in (4, 2, 4, 1):
        x = rng.normal(size=(batch, 5, 5, 2))
        expected = ref_conv2d(x, layer.params["kernel"], layer.params["bias"], padding="same")
        np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)
        assert layer.backward(np.ones((batch, 5, 5, 3))).shape == x.shape


# -- gradients --------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape", [
    (dict(filters=3, kernel_size=3), (2, 6, 5, 2)),
    (dict(filters=3, kernel_size=3, padding="same"), (2, 5, 5, 2)),
    (dict(filters=2, kernel_size=(2, 3), strides=2), (2, 7, 8, 3)),
    (dict(filters=2, kernel_size=(3, 2), strides=2, padding="same"), (2, 7, 6, 2)),
    (dict(filters=2, kernel_size=(1, 3), strides=(2, 1), padding="same", use_bias=False), (2, 5, 6, 2)),
    (dict(filters=3, kernel_size=3, activation="tanh"), (2, 5, 5, 2)),
    (dict(filters=2, kernel_size=2, padding="same", dilation_rate=2), (2, 5, 6, 2)),
    (dict(filters=3, kernel_size=(3, 2), strides=2, padding="same"), (2, 6, 5, 9)),  # row patch layout
    (dict(filters=2, kernel_size=2, use_bias=False, activation="sigmoid"), (2, 4, 4, 8)),
])
def test_conv2d_gradients(kwargs, input_shape):
    check_layer(Conv2D(**kwargs), input_shape)


@pytest.mark.parametrize("kwargs", [
    dict(filters=3, kernel_size=3), dict(filters=3, kernel_size=3, padding="same"),
    dict(filters=2, kernel_size=4, strides=2, padding="same", use_bias=False),
    dict(filters=2, kernel_size=3, strides=2, activation="tanh"),
    dict(filters=2, kernel_size=3, padding="causal", dilation_rate=2),
])
@pytest.mark.parametrize("channels", [2, 8])
def test_conv1d_gradients(kwargs, channels):
    check_layer(Conv1D(**kwargs), (2, 9, channels))


@pytest.mark.parametrize("layer, input_shape", [
    (Conv2D(3, 3, padding="same", activation="tanh"), (2, 5, 5, 1)),
    (Conv2D(2, (2, 3), strides=2, use_bias=False), (2, 6, 7, 9)),
    (Conv1D(2, 3, padding="causal"), (2, 7, 3)),
])
def test_first_layer_skips_input_gradient(layer, input_shape):
    layer.needs_input_grad = False
    check_layer(layer, input_shape, check_input=False)
    old = backend.floatx()
    backend.set_floatx("float64")
    try:
        y = layer.forward(np.ones(input_shape))
        assert layer.backward(np.ones_like(y)) is None
    finally:
        backend.set_floatx(old)


def test_backward_writes_grads_in_place_and_overwrites(float64):
    layer = build(Conv2D(2, 2), (3, 3, 1))
    kernel_grad, bias_grad = layer.grads["kernel"], layer.grads["bias"]
    x = np.random.default_rng(6).normal(size=(2, 3, 3, 1))
    g = np.ones((2, 2, 2, 2))
    layer.forward(x)
    layer.backward(g)
    first = kernel_grad.copy()
    layer.forward(x)
    layer.backward(g)
    assert layer.grads["kernel"] is kernel_grad and layer.grads["bias"] is bias_grad
    np.testing.assert_allclose(kernel_grad, first)  # overwritten, not accumulated
    np.testing.assert_allclose(bias_grad, [8.0, 8.0])  # 2 samples x 2 x 2 positions
    # dL/dkernel[i, j, 0, f] = sum of the inputs each tap sees.
    np.testing.assert_allclose(kernel_grad[0, 0, 0, 0], x[:, :2, :2, 0].sum())


def test_backward_linear_matches_backward(float64):
    layer = build(Conv2D(3, 2, activation="sigmoid"), (4, 4, 2))
    x = np.random.default_rng(7).normal(size=(2, 4, 4, 2))
    g = np.random.default_rng(8).normal(size=(2, 3, 3, 3))
    layer.forward(x)
    via_backward = layer.backward(g)
    grads = layer.grads["kernel"].copy()
    grad_z = layer.activation.backward(layer._z, layer._a, g)
    np.testing.assert_allclose(layer.backward_linear(grad_z), via_backward)
    np.testing.assert_allclose(layer.grads["kernel"], grads)


# -- config -----------------------------------------------------------------------------------
def test_conv2d_config_round_trip():
    layer = Conv2D(6, (3, 2), strides=(2, 1), padding="same", activation="relu", use_bias=False,
                   kernel_initializer="he_normal", bias_initializer=initializers.Constant(0.1),
                   kernel_regularizer=regularizers.L2(0.01), name="c", input_shape=(8, 8, 1))
    cfg = layer.get_config()
    assert cfg["filters"] == 6 and cfg["kernel_size"] == [3, 2] and cfg["strides"] == [2, 1]
    assert cfg["padding"] == "same" and cfg["dilation_rate"] == [1, 1] and cfg["data_format"] == "channels_last"
    assert cfg["activation"] == "relu" and cfg["use_bias"] is False and cfg["groups"] == 1
    assert cfg["kernel_initializer"] == "he_normal" and cfg["name"] == "c" and cfg["input_shape"] == [8, 8, 1]
    clone = Conv2D.from_config(cfg)
    assert clone.get_config() == cfg
    assert clone.activation == activations.get("relu") and clone.kernel_size == (3, 2)


def test_conv1d_config_round_trip_and_defaults():
    cfg = Conv1D(4, 5, padding="causal", dilation_rate=2).get_config()
    assert cfg["kernel_size"] == [5] and cfg["strides"] == [1] and cfg["dilation_rate"] == [2]
    assert cfg["padding"] == "causal" and cfg["activation"] == "linear"
    assert cfg["kernel_initializer"] == "glorot_uniform" and cfg["bias_initializer"] == "zeros"
    assert Conv1D.from_config(cfg).get_config() == cfg


# -- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, kwargs, words", [
    (Conv2D, dict(filters=0, kernel_size=3), ["Conv2D", "filters", "0", "positive integer"]),
    (Conv2D, dict(filters=2.5, kernel_size=3), ["Conv2D", "filters", "2.5"]),
    (Conv2D, dict(filters=4, kernel_size=3, padding="full"), ["Conv2D", "padding", "'full'", "valid, same"]),
    (Conv2D, dict(filters=4, kernel_size=3, padding="causal"), ["Conv2D", "padding", "'causal'"]),
    (Conv2D, dict(filters=4, kernel_size=(3,)), ["Conv2D", "kernel_size", "(3,)", "tuple of 2"]),
    (Conv2D, dict(filters=4, kernel_size=(3, 0)), ["Conv2D", "kernel_size", "0"]),
    (Conv2D, dict(filters=4, kernel_size=3, strides=(1, 2, 3)), ["Conv2D", "strides", "(1, 2, 3)"]),
    (Conv2D, dict(filters=4, kernel_size=3, strides=2, dilation_rate=2), ["Conv2D", "strides", "dilation_rate"]),
    (Conv2D, dict(filters=4, kernel_size=3, data_format="channels_first"), ["Conv2D", "data_format",
                                                                            "channels_first"]),
    (Conv2D, dict(filters=4, kernel_size=3, groups=2), ["Conv2D", "groups", "2"]),
    (Conv1D, dict(filters=-1, kernel_size=3), ["Conv1D", "filters", "-1"]),
    (Conv1D, dict(filters=2, kernel_size=(3, 3)), ["Conv1D", "kernel_size", "tuple of 1"]),
    (Conv1D, dict(filters=2, kernel_size=3, padding="full"), ["Conv1D", "padding", "valid, same, causal"]),
])
def test_bad_arguments(cls, kwargs, words):
    with pytest.raises(ConfigError) as err:
        cls(**kwargs)
    for word in words:
        assert word in str(err.value)


def test_wrong_rank_message():
    with pytest.raises(ShapeError, match=r"Conv2D 'conv2d' expects inputs of shape \(height, width, "
                                         r"channels\), got \(784,\)"):
        Conv2D(8, 3).compute_output_shape((784,))
    with pytest.raises(ShapeError, match=r"Conv1D 'seq' expects inputs of shape \(steps, channels\), "
                                         r"got \(5, 5, 1\)"):
        Conv1D(8, 3, name="seq").build_for((5, 5, 1), np.random.default_rng(0))


@pytest.mark.parametrize("layer, input_shape", [
    (Conv2D(2, 3), (2, 2, 1)),
    (Conv2D(2, (1, 5)), (8, 4, 1)),
    (Conv2D(2, 3, dilation_rate=3), (6, 6, 1)),  # effective kernel 7
    (Conv1D(2, 4), (3, 1)),
])
def test_input_too_small(layer, input_shape):
    with pytest.raises(ShapeError) as err:
        layer.build_for(input_shape, np.random.default_rng(0))
    assert type(layer).__name__ in str(err.value) and "too small" in str(err.value)
    assert isinstance(err.value, TuinetError)


def test_same_padding_accepts_inputs_smaller_than_the_kernel():
    assert Conv2D(2, 5, padding="same").compute_output_shape((2, 3, 1)) == (2, 3, 2)


def test_forward_rejects_wrong_channels():
    layer = Conv2D(2, 3)
    layer.build_for((5, 5, 3), np.random.default_rng(0))
    with pytest.raises(ShapeError, match="3 channels"):
        layer.forward(np.zeros((1, 5, 5, 1), dtype=np.float32))

"""DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, Conv1DTranspose: shapes, hand-checked and
reference forwards, gradients, config round trips, errors, and use inside a model."""

from __future__ import annotations

import numpy as np
import pytest

import tuinet
from tests.nn.gradcheck import check_layer
from tests.nn.test_conv import ref_conv2d
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import backend, initializers, regularizers
from tuinet.nn.layers import LAYERS, deserialize, serialize
from tuinet.nn.layers.conv import Conv1D, Conv2D
from tuinet.nn.layers.conv_extra import Conv1DTranspose, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D


def build(layer, input_shape, seed=0):
    layer.build_for(input_shape, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 10)
    for v in layer.params.values():
        v[...] = rng.normal(size=v.shape)
    return layer


def ref_depthwise(x, kernel, bias, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Channel by channel with the loop reference of test_conv: output channel c * M + m."""
    c, m = kernel.shape[2:]
    cols = [ref_conv2d(x[..., ci:ci + 1], kernel[:, :, ci:ci + 1, mi:mi + 1], None, strides, padding, dilation)
            for ci in range(c) for mi in range(m)]
    y = np.concatenate(cols, axis=-1)
    return y if bias is None else y + bias


# -- registry and names -----------------------------------------------------------------------
def test_registered_with_keras_names_and_default_names():
    for cls, name in ((DepthwiseConv2D, "depthwise_conv2d"), (SeparableConv2D, "separable_conv2d"),
                      (Conv2DTranspose, "conv2d_transpose"), (Conv1DTranspose, "conv1d_transpose")):
        assert LAYERS[cls.__name__] is cls and getattr(tuinet.layers, cls.__name__) is cls
        assert cls.default_name() == name


# -- shapes and weights -----------------------------------------------------------------------
@pytest.mark.parametrize("layer, input_shape, expected", [
    (DepthwiseConv2D(3), (8, 8, 2), (6, 6, 2)),
    (DepthwiseConv2D(3, depth_multiplier=3), (8, 8, 2), (6, 6, 6)),
    (DepthwiseConv2D((2, 3), strides=2, padding="same"), (7, 8, 4), (4, 4, 4)),
    (DepthwiseConv2D(3, dilation_rate=2), (9, 9, 1), (5, 5, 1)),
    (DepthwiseConv2D(3), (None, 8, 2), (None, 6, 2)),
    (SeparableConv2D(5, 3), (8, 8, 2), (6, 6, 5)),
    (SeparableConv2D(5, 3, strides=2, padding="same", depth_multiplier=2), (7, 7, 3), (4, 4, 5)),
    # Keras: valid (in - 1) * s + k_eff + op (op defaults to max(k_eff, s) - k_eff); same in * s
    (Conv2DTranspose(4, 3), (5, 6, 2), (7, 8, 4)),
    (Conv2DTranspose(4, 3, strides=2), (5, 6, 2), (11, 13, 4)),
    (Conv2DTranspose(4, 2, strides=3), (5, 6, 2), (15, 18, 4)),           # max(2, 3) = 3 per input
    (Conv2DTranspose(4, 3, strides=2, padding="same"), (5, 6, 2), (10, 12, 4)),
    (Conv2DTranspose(4, 3, strides=2, output_padding=1), (5, 6, 2), (12, 14, 4)),
    (Conv2DTranspose(4, (3, 4), strides=(2, 3), padding="same", output_padding=(1, 2)), (5, 6, 2),
     (10, 17, 4)),                                                      # (in - 1) * s + k % 2 + op
    (Conv2DTranspose(4, 3, dilation_rate=2), (5, 6, 2), (9, 10, 4)),
    (Conv2DTranspose(4, 3, strides=2), (None, 6, 2), (None, 13, 4)),
    (Conv1DTranspose(3, 3), (7, 2), (9, 3)),
    (Conv1DTranspose(3, 4, strides=2, padding="same"), (7, 2), (14, 3)),
    (Conv1DTranspose(3, 2, strides=3, output_padding=2), (7, 2), (22, 3)),
])
def test_output_shapes(layer, input_shape, expected, float64):
    assert layer.compute_output_shape(input_shape) == expected
    if None not in input_shape:
        build(layer, input_shape)
        assert layer(np.zeros((2, *input_shape))).shape == (2, *expected)


def test_weight_names_shapes_and_order_follow_keras():
    assert DepthwiseConv2D((2, 3), depth_multiplier=2).weight_specs((8, 8, 3)) == [
        ("depthwise_kernel", (2, 3, 3, 2), True), ("bias", (6,), True)]
    assert SeparableConv2D(5, 3, depth_multiplier=2).weight_specs((8, 8, 3)) == [
        ("depthwise_kernel", (3, 3, 3, 2), True), ("pointwise_kernel", (1, 1, 6, 5), True), ("bias", (5,), True)]
    assert SeparableConv2D(5, 3, use_bias=False).weight_specs((8, 8, 3))[-1][0] == "pointwise_kernel"
    assert Conv2DTranspose(4, (2, 3)).weight_specs((5, 5, 3)) == [("kernel", (2, 3, 4, 3), True),
                                                                   ("bias", (4,), True)]
    assert Conv1DTranspose(4, 3, use_bias=False).weight_specs((5, 3)) == [("kernel", (3, 4, 3), True)]
    assert Conv2DTranspose(4, 3).count_params((5, 5, 3)) == 3 * 3 * 4 * 3 + 4


# -- forward: hand-checked cases ---------------------------------------------------------------
def test_depthwise_hand_computed_channel_order(float64):
    layer = build(DepthwiseConv2D(1, depth_multiplier=2), (2, 2, 2))
    layer.set_weights([np.array([[[[1.0, 10.0], [100.0, 1000.0]]]]), np.array([0.0, 0.5, 0.0, 0.0])])
    x = np.zeros((1, 2, 2, 2))
    x[..., 0], x[..., 1] = 1.0, 2.0
    y = layer(x)
    # output channel c * depth_multiplier + m = x[..., c] * kernel[0, 0, c, m] + bias
    np.testing.assert_allclose(y[0, 0, 0], [1.0, 10.5, 200.0, 2000.0])


def test_depthwise_hand_computed_3x3(float64):
    layer = build(DepthwiseConv2D(3, use_bias=False), (3, 3, 1))
    layer.set_weights([np.ones((3, 3, 1, 1))])
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    np.testing.assert_allclose(layer(x).ravel(), [36.0])


def test_separable_is_depthwise_then_pointwise(float64):
    layer = build(SeparableConv2D(2, 1), (1, 1, 2))
    layer.set_weights([np.array([[[[2.0], [3.0]]]]), np.array([[[[1.0, 0.0], [1.0, -1.0]]]]), np.array([0.5, 0.0])])
    x = np.array([[[[1.0, 1.0]]]])
    # depthwise [2, 3]; pointwise [2 + 3, -3]; bias [0.5, 0]
    np.testing.assert_allclose(layer(x).ravel(), [5.5, -3.0])


def test_conv2d_transpose_hand_computed_upsampling(float64):
    layer = build(Conv2DTranspose(1, 2, strides=2, use_bias=False), (2, 3, 1))
    layer.set_weights([np.ones((2, 2, 1, 1))])
    x = np.arange(6.0).reshape(1, 2, 3, 1)
    np.testing.assert_allclose(layer(x)[0, ..., 0], np.kron(x[0, ..., 0], np.ones((2, 2))))


def test_conv1d_transpose_hand_computed_full_convolution(float64):
    layer = build(Conv1DTranspose(1, 2), (3, 1))
    layer.set_weights([np.array([[[1.0]], [[2.0]]]), np.array([0.25])])
    y = layer(np.ones((1, 3, 1)))
    np.testing.assert_allclose(y.ravel(), np.array([1.0, 3.0, 3.0, 2.0]) + 0.25)
    same = build(Conv1DTranspose(1, 3, strides=2, padding="same", use_bias=False), (2, 1))
    same.set_weights([np.array([1.0, 2.0, 3.0]).reshape(3, 1, 1)])
    # full scatter [1, 2, 3 + 10, 20, 30] of x = [1, 10]; Keras keeps 4 positions from offset 0
    np.testing.assert_allclose(same(np.array([1.0, 10.0]).reshape(1, 2, 1)).ravel(), [1.0, 2.0, 13.0, 20.0])


# -- forward: against independent references ------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape", [
    (dict(kernel_size=3), (2, 6, 5, 2)),
    (dict(kernel_size=(2, 3), strides=2, padding="same", depth_multiplier=2), (2, 7, 6, 3)),
    (dict(kernel_size=3, dilation_rate=2, padding="same"), (1, 6, 7, 2)),
    (dict(kernel_size=2, strides=(2, 1), depth_multiplier=3, use_bias=False), (2, 5, 4, 2)),
    (dict(kernel_size=2, strides=2, dilation_rate=2, padding="same"), (1, 7, 6, 2)),  # Keras's layer allows both
])
def test_depthwise_matches_loops(kwargs, input_shape, float64):
    layer = build(DepthwiseConv2D(**kwargs), input_shape[1:])
    x = np.random.default_rng(1).normal(size=input_shape)
    want = ref_depthwise(x, layer.params["depthwise_kernel"], layer.params.get("bias"), layer.strides,
                         layer.padding, layer.dilation_rate)
    np.testing.assert_allclose(layer(x), want, atol=1e-12)


def test_separable_matches_depthwise_then_conv(float64):
    layer = build(SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2, activation="tanh"),
                  (7, 6, 3))
    x = np.random.default_rng(2).normal(size=(2, 7, 6, 3))
    d = ref_depthwise(x, layer.params["depthwise_kernel"], None, (2, 2), "same")
    want = np.tanh(ref_conv2d(d, layer.params["pointwise_kernel"], layer.params["bias"]))
    np.testing.assert_allclose(layer(x), want, atol=1e-12)


@pytest.mark.parametrize("kwargs, input_shape", [
    (dict(filters=3, kernel_size=3), (2, 4, 5, 2)),
    (dict(filters=3, kernel_size=3, strides=2), (2, 4, 5, 2)),
    (dict(filters=2, kernel_size=(2, 3), strides=(3, 2)), (1, 3, 4, 3)),
    (dict(filters=2, kernel_size=3, strides=2, padding="same"), (2, 4, 5, 2)),
    (dict(filters=2, kernel_size=(4, 2), strides=(2, 3), padding="same"), (2, 4, 3, 2)),
    (dict(filters=2, kernel_size=3, strides=2, output_padding=1), (2, 3, 4, 2)),
    (dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"), (1, 5, 4, 2)),
])
def test_conv2d_transpose_is_the_adjoint_of_conv2d(kwargs, input_shape, float64):
    """<convT(x), y> == <x, conv(y)> for the Conv2D with the same kernel (filters and channels swapped)."""
    layer = build(Conv2DTranspose(use_bias=False, **kwargs), input_shape[1:])
    rng = np.random.default_rng(3)
    x = rng.normal(size=input_shape)
    out = layer(x)
    y = rng.normal(size=out.shape)
    conv = Conv2D(input_shape[-1], kwargs["kernel_size"], strides=kwargs.get("strides", 1),
                  padding=kwargs.get("padding", "valid"), dilation_rate=kwargs.get("dilation_rate", 1), use_bias=False)
    build(conv, out.shape[1:])
    conv.set_weights([layer.params["kernel"]])
    cy = conv(y)
    assert cy.shape == x.shape
    np.testing.assert_allclose(np.sum(out * y), np.sum(x * cy), rtol=1e-12)


def test_conv1d_transpose_is_the_adjoint_of_conv1d(float64):
    layer = build(Conv1DTranspose(2, 4, strides=2, padding="same", use_bias=False), (5, 3))
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 5, 3))
    out = layer(x)
    y = rng.normal(size=out.shape)
    conv = build(Conv1D(3, 4, strides=2, padding="same", use_bias=False), out.shape[1:])
    conv.set_weights([layer.params["kernel"]])
    np.testing.assert_allclose(np.sum(out * y), np.sum(x * conv(y)), rtol=1e-12)


def test_float32_stays_float32():
    for layer, shape in ((DepthwiseConv2D(3, padding="same"), (5, 5, 2)), (SeparableConv2D(3, 3), (5, 5, 2)),
                         (Conv2DTranspose(3, 3, strides=2), (4, 4, 2)), (Conv1DTranspose(3, 3), (4, 2))):
        layer.build_for(shape, np.random.default_rng(0))
        y = layer.forward(np.ones((2, *shape), dtype=np.float64))
        assert y.dtype == np.float32
        assert layer.backward(np.ones_like(y)).shape == (2, *shape)


# -- gradients ------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape", [
    (dict(kernel_size=3), (2, 5, 5, 2)),
    (dict(kernel_size=(2, 3), strides=2, padding="same", depth_multiplier=2), (2, 5, 6, 2)),
    (dict(kernel_size=3, dilation_rate=2, padding="same", activation="tanh", use_bias=False), (1, 5, 6, 2)),
    (dict(kernel_size=2, strides=(1, 2), depth_multiplier=3, activation="sigmoid"), (2, 4, 5, 1)),
])
def test_depthwise_gradients(kwargs, input_shape):
    check_layer(DepthwiseConv2D(**kwargs), input_shape)


@pytest.mark.parametrize("kwargs, input_shape", [
    (dict(filters=3, kernel_size=3), (2, 5, 5, 2)),
    (dict(filters=2, kernel_size=(3, 2), strides=2, padding="same", depth_multiplier=2, activation="tanh"),
     (2, 5, 6, 3)),
    (dict(filters=2, kernel_size=2, dilation_rate=2, use_bias=False), (1, 5, 5, 2)),
])
def test_separable_gradients(kwargs, input_shape):
    check_layer(SeparableConv2D(**kwargs), input_shape)


@pytest.mark.parametrize("kwargs, input_shape", [
    (dict(filters=3, kernel_size=3), (2, 3, 4, 2)),
    (dict(filters=2, kernel_size=3, strides=2, activation="tanh"), (2, 3, 3, 2)),
    (dict(filters=2, kernel_size=(2, 3), strides=(3, 2), padding="same"), (2, 3, 4, 2)),
    (dict(filters=2, kernel_size=4, strides=2, padding="same", use_bias=False), (1, 3, 3, 3)),
    (dict(filters=2, kernel_size=(3, 4), strides=(2, 3), padding="same", output_padding=(1, 2)), (2, 3, 3, 2)),
    (dict(filters=2, kernel_size=2, strides=3, output_padding=1), (2, 2, 3, 2)),
    (dict(filters=2, kernel_size=3, dilation_rate=2, padding="same", activation="sigmoid"), (1, 4, 4, 2)),
])
def test_conv2d_transpose_gradients(kwargs, input_shape):
    check_layer(Conv2DTranspose(**kwargs), input_shape)


@pytest.mark.parametrize("kwargs", [
    dict(filters=3, kernel_size=3), dict(filters=2, kernel_size=4, strides=2, padding="same"),
    dict(filters=2, kernel_size=2, strides=3, output_padding=2, activation="tanh"),
    dict(filters=2, kernel_size=3, dilation_rate=2, padding="same", use_bias=False),
])
def test_conv1d_transpose_gradients(kwargs):
    check_layer(Conv1DTranspose(**kwargs), (2, 5, 3))


@pytest.mark.parametrize("layer, input_shape", [
    (DepthwiseConv2D(3, padding="same"), (2, 4, 4, 2)),
    (SeparableConv2D(2, 3), (2, 4, 4, 2)),
    (Conv2DTranspose(2, 3, strides=2), (2, 3, 3, 2)),
    (Conv1DTranspose(2, 3), (2, 4, 2)),
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


def test_backward_writes_grads_in_place(float64):
    for layer, shape in ((DepthwiseConv2D(2), (3, 3, 2)), (SeparableConv2D(2, 2), (3, 3, 2)),
                         (Conv2DTranspose(2, 2, strides=2), (2, 2, 2))):
        build(layer, shape)
        held = dict(layer.grads)
        x = np.random.default_rng(5).normal(size=(2, *shape))
        for _ in range(2):
            y = layer.forward(x)
            layer.backward(np.ones_like(y))
        assert all(layer.grads[k] is v for k, v in held.items())
        np.testing.assert_allclose(layer.grads["bias"], np.ones_like(y).sum(axis=(0, 1, 2)))


# -- config -----------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [
    DepthwiseConv2D((3, 2), strides=2, padding="same", depth_multiplier=2, activation="relu", use_bias=False,
                    depthwise_initializer="he_normal", bias_initializer=initializers.Constant(0.1),
                    depthwise_regularizer=regularizers.L2(0.01), name="dw", input_shape=(8, 8, 3)),
    SeparableConv2D(4, 3, dilation_rate=2, depth_multiplier=3, activation="tanh",
                    pointwise_initializer="he_uniform", pointwise_regularizer=regularizers.L1(0.01)),
    Conv2DTranspose(4, (3, 2), strides=(2, 1), padding="same", output_padding=(1, 0), activation="relu",
                    kernel_initializer="he_normal", kernel_regularizer=regularizers.L2(0.1)),
    Conv1DTranspose(3, 4, strides=2, output_padding=1, use_bias=False),
    Conv1DTranspose(3, 4, dilation_rate=2),
])
def test_config_round_trip(layer):
    cfg = layer.get_config()
    assert cfg["data_format"] == "channels_last"
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    assert deserialize(serialize(layer)).get_config() == cfg


def test_config_defaults_match_keras():
    cfg = DepthwiseConv2D(3).get_config()
    assert cfg["kernel_size"] == [3, 3] and cfg["strides"] == [1, 1] and cfg["dilation_rate"] == [1, 1]
    assert cfg["depth_multiplier"] == 1 and cfg["padding"] == "valid" and cfg["use_bias"] is True
    assert cfg["depthwise_initializer"] == "glorot_uniform" and cfg["bias_initializer"] == "zeros"
    cfg = SeparableConv2D(8, 3).get_config()
    assert cfg["filters"] == 8 and cfg["pointwise_initializer"] == "glorot_uniform"
    cfg = Conv2DTranspose(8, 3).get_config()
    assert cfg["output_padding"] is None and cfg["kernel_initializer"] == "glorot_uniform"
    assert Conv2DTranspose(8, 3, strides=2, output_padding=1).get_config()["output_padding"] == [1, 1]
    assert Conv1DTranspose(8, 3).get_config()["kernel_size"] == [3]


# -- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("make, words", [
    (lambda: DepthwiseConv2D(3, data_format="channels_first"), ["DepthwiseConv2D", "channels_first"]),
    (lambda: SeparableConv2D(4, 3, data_format="channels_first"), ["SeparableConv2D", "channels_first"]),
    (lambda: Conv2DTranspose(4, 3, data_format="channels_first"), ["Conv2DTranspose", "channels_first"]),
    (lambda: Conv1DTranspose(4, 3, data_format="channels_first"), ["Conv1DTranspose", "channels_first"]),
    (lambda: DepthwiseConv2D(3, depth_multiplier=0), ["DepthwiseConv2D", "depth_multiplier", "0"]),
    (lambda: SeparableConv2D(0, 3), ["SeparableConv2D", "filters", "0"]),
    (lambda: DepthwiseConv2D(3, padding="causal"), ["DepthwiseConv2D", "padding", "'causal'"]),
    (lambda: Conv2DTranspose(4, 3, strides=2, output_padding=2), ["Conv2DTranspose", "output_padding",
                                                                    "strictly less than strides"]),
    (lambda: Conv2DTranspose(4, 3, output_padding=(0, 1, 0)), ["Conv2DTranspose", "output_padding", "tuple of 2"]),
    (lambda: Conv1DTranspose(4, 3, output_padding=-1), ["Conv1DTranspose", "output_padding"]),
    (lambda: Conv2DTranspose(4, 3, strides=2, dilation_rate=2), ["Conv2DTranspose", "strides", "dilation_rate"]),
    (lambda: Conv1DTranspose(4, (3, 3)), ["Conv1DTranspose", "kernel_size", "tuple of 1"]),
    (lambda: DepthwiseConv2D(3, depthwise_constraint="non_negative"), ["unknown constraint", "non_neg"]),
])
def test_bad_arguments(make, words):
    with pytest.raises(ConfigError) as err:
        make()
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_shape_errors():
    with pytest.raises(ShapeError, match=r"DepthwiseConv2D 'depthwise_conv2d' expects inputs of shape "
                                         r"\(height, width, channels\)"):
        DepthwiseConv2D(3).compute_output_shape((10, 3))
    with pytest.raises(ShapeError, match="too small"):
        SeparableConv2D(2, 5).compute_output_shape((3, 8, 1))
    with pytest.raises(ShapeError, match=r"\(steps, channels\)"):
        Conv1DTranspose(2, 3).compute_output_shape((4, 4, 1))
    layer = Conv2DTranspose(2, 3)
    layer.build_for((4, 4, 3), np.random.default_rng(0))
    with pytest.raises(ShapeError, match="3 channels"):
        layer.forward(np.zeros((1, 4, 4, 2)))


# -- in a model -------------------------------------------------------------------------------
def test_sequential_fit_predict_summary_save_load(tmp_path):
    layers = tuinet.layers
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 8, 8, 2)).astype("float32")
    y = rng.integers(0, 3, size=32)
    model = tuinet.Sequential([
        layers.Input((8, 8, 2)),
        layers.SeparableConv2D(4, 3, padding="same", activation="relu", depth_multiplier=2),
        layers.DepthwiseConv2D(3, strides=2, activation="relu"),
        layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=4, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    seq = tuinet.Sequential([layers.Input((10, 2)), layers.Conv1DTranspose(3, 3, strides=2, padding="same"),
                             layers.Flatten(), layers.Dense(1)], seed=0)
    seq.compile(optimizer="sgd", loss="mse")
    seq.fit(rng.normal(size=(8, 10, 2)), rng.normal(size=(8, 1)), epochs=1, verbose=0)
    for m, data in ((model, x), (seq, rng.normal(size=(4, 10, 2)))):
        lines = []
        m.summary(print_fn=lines.append)
        text = "\n".join(lines)
        path = tmp_path / f"{id(m)}.keras"
        m.save(path)
        loaded = tuinet.load_model(path)
        np.testing.assert_allclose(loaded.predict(data, verbose=0), m.predict(data, verbose=0), rtol=1e-6)
    assert "SeparableConv2D" in text or "Conv1DTranspose" in text

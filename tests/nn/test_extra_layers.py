"""Activation, shape, noise and preprocessing layers (tuinet/nn/layers/extra.py)."""

from __future__ import annotations


import numpy as np
import pytest

from tests.nn.gradcheck import check_layer, round_trip
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn.layers.extra import (ELU, Cropping1D, Cropping2D, GaussianDropout, GaussianNoise, LeakyReLU,
                                    Normalization, Permute, PReLU, ReLU, RepeatVector, Rescaling, Softmax,
                                    SpatialDropout1D, SpatialDropout2D, UpSampling1D, UpSampling2D, ZeroPadding1D,
                                    ZeroPadding2D)


def built(layer, input_shape, seed=0):
    layer.build_for(input_shape, np.random.default_rng(seed))
    return layer




# Every layer, an input shape (batch first) it takes, the output shape, and whether to grad-check
# in training mode (noise layers: the same seeded noise for every finite-difference evaluation).
CASES = [
    (lambda: ReLU(), (3, 5), (5,)),
    (lambda: ReLU(max_value=0.8, negative_slope=0.1, threshold=0.3), (3, 4, 5), (4, 5)),
    (lambda: ReLU(max_value=6.0), (3, 5), (5,)),
    (lambda: LeakyReLU(), (3, 5), (5,)),
    (lambda: LeakyReLU(negative_slope=0.05), (2, 3, 4), (3, 4)),
    (lambda: PReLU(), (3, 5), (5,)),
    (lambda: PReLU(shared_axes=[1, 2]), (2, 3, 4, 5), (3, 4, 5)),
    (lambda: PReLU(alpha_initializer="ones", alpha_regularizer="l2", shared_axes=2), (2, 3, 4), (3, 4)),
    (lambda: ELU(), (3, 5), (5,)),
    (lambda: ELU(alpha=0.5), (2, 3, 4), (3, 4)),
    (lambda: Softmax(), (3, 5), (5,)),
    (lambda: Softmax(axis=1), (2, 3, 4), (3, 4)),
    (lambda: Softmax(axis=[1, 2]), (2, 3, 4), (3, 4)),
    (lambda: RepeatVector(3), (2, 4), (3, 4)),
    (lambda: Permute((2, 1)), (2, 3, 4), (4, 3)),
    (lambda: Permute((3, 1, 2)), (2, 3, 4, 5), (5, 3, 4)),
    (lambda: ZeroPadding1D(), (2, 4, 3), (6, 3)),
    (lambda: ZeroPadding1D((1, 2)), (2, 4, 3), (7, 3)),
    (lambda: ZeroPadding2D(), (2, 3, 4, 2), (5, 6, 2)),
    (lambda: ZeroPadding2D((1, 2)), (2, 3, 4, 2), (5, 8, 2)),
    (lambda: ZeroPadding2D(((0, 1), (2, 0))), (2, 3, 4, 2), (4, 6, 2)),
    (lambda: Cropping1D(), (2, 5, 3), (3, 3)),
    (lambda: Cropping1D((0, 2)), (2, 5, 3), (3, 3)),
    (lambda: Cropping2D(), (2, 4, 5, 2), (4, 5, 2)),
    (lambda: Cropping2D(1), (2, 4, 5, 2), (2, 3, 2)),
    (lambda: Cropping2D(((1, 0), (0, 2))), (2, 4, 5, 2), (3, 3, 2)),
    (lambda: UpSampling1D(), (2, 3, 4), (6, 4)),
    (lambda: UpSampling1D(3), (2, 3, 4), (9, 4)),
    (lambda: UpSampling2D(), (2, 3, 2, 4), (6, 4, 4)),
    (lambda: UpSampling2D((1, 3)), (2, 3, 2, 4), (3, 6, 4)),
    (lambda: UpSampling2D((2, 3), interpolation="bilinear"), (2, 3, 2, 4), (6, 6, 4)),
    (lambda: GaussianNoise(0.5, seed=3), (3, 5), (5,)),
    (lambda: GaussianDropout(0.3, seed=3), (3, 5), (5,)),
    (lambda: SpatialDropout1D(0.5, seed=3), (3, 4, 6), (4, 6)),
    (lambda: SpatialDropout2D(0.5, seed=3), (3, 2, 4, 6), (2, 4, 6)),
    (lambda: Rescaling(0.5, offset=-1.0), (3, 5), (5,)),
    (lambda: Rescaling([1.0, 2.0, 3.0], offset=[0.0, 1.0, 2.0]), (2, 4, 3), (4, 3)),
    (lambda: Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25]), (2, 4, 3), (4, 3)),
    (lambda: Normalization(mean=2.0, variance=9.0, invert=True), (2, 3), (3,)),
    (lambda: Normalization(axis=None), (2, 3, 4), (3, 4)),
    (lambda: Normalization(axis=[1, 2]), (2, 3, 4), (3, 4)),
]
IDS = [f"{i}-{type(make()).__name__}" for i, (make, _, _) in enumerate(CASES)]
NOISE = (GaussianNoise, GaussianDropout, SpatialDropout1D, SpatialDropout2D)


@pytest.mark.parametrize(("make", "shape", "out"), CASES, ids=IDS)
def test_output_shape_config_round_trip_and_gradients(make, shape, out):
    layer = make()
    assert layer.compute_output_shape(shape[1:]) == out
    clone = round_trip(layer)
    assert clone.compute_output_shape(shape[1:]) == out
    check_layer(layer, shape)  # inference mode
    assert layer(np.zeros(shape)).shape == (shape[0], *out)
    if isinstance(layer, NOISE):
        # Training: backward must reuse the noise of the forward pass. Reseed before every forward
        # so the finite differences see one fixed noise draw.
        layer = make()
        forward = layer.forward

        def fixed(x, *, training=False):
            layer._rng = np.random.default_rng(7)
            return forward(x, training=training)
        layer.forward = fixed
        check_layer(layer, shape, training=True)


@pytest.mark.parametrize(("make", "shape", "out"), CASES, ids=IDS)
def test_weight_specs_match_built_weights(make, shape, out):
    layer = make()
    specs = layer.weight_specs(shape[1:])
    built(layer, shape[1:])
    assert [(n, tuple(w.shape), n in layer.params) for n, w in zip(layer.weight_names, layer.get_weights())] == specs


# -- activations ------------------------------------------------------------------------------------

def test_relu_forward_hand_computed():
    x = np.array([[-2.0, -0.5, 0.0, 0.2, 0.5, 1.0, 7.0]])
    np.testing.assert_allclose(ReLU()(x), [[0, 0, 0, 0.2, 0.5, 1.0, 7.0]])
    np.testing.assert_allclose(ReLU(max_value=6)(x), [[0, 0, 0, 0.2, 0.5, 1.0, 6.0]])
    # Keras: max_value where x >= max_value, x where threshold <= x < max_value, slope * (x - threshold) below.
    np.testing.assert_allclose(ReLU(max_value=0.8, negative_slope=0.1, threshold=0.3)(x),
                               [[-0.23, -0.08, -0.03, -0.01, 0.5, 0.8, 0.8]], atol=1e-12)
    np.testing.assert_allclose(ReLU(negative_slope=0.5)(x), [[-1.0, -0.25, 0, 0.2, 0.5, 1.0, 7.0]])


def test_relu_bad_arguments():
    for kw in ({"max_value": -1}, {"negative_slope": -0.1}, {"threshold": -1}, {"threshold": None},
               {"negative_slope": "x"}):
        with pytest.raises(ConfigError, match="ReLU"):
            ReLU(**kw)


def test_leaky_relu_elu_forward_hand_computed():
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(LeakyReLU()(x), [[-0.6, 0.0, 3.0]])
    np.testing.assert_allclose(LeakyReLU(negative_slope=0.1)(x), [[-0.2, 0.0, 3.0]])
    np.testing.assert_allclose(ELU()(x), [[np.exp(-2.0) - 1, 0.0, 3.0]])
    np.testing.assert_allclose(ELU(alpha=2.0)(x), [[2 * (np.exp(-2.0) - 1), 0.0, 3.0]])
    with pytest.raises(ConfigError, match="negative_slope"):
        LeakyReLU(-1)


def test_prelu_alpha_shape_forward_and_keras_defaults():
    layer = built(PReLU(shared_axes=[1, 2]), (4, 5, 3))
    assert layer.weight_names == ["alpha"] and layer.params["alpha"].shape == (1, 1, 3)
    assert not layer.params["alpha"].any()  # zeros: starts as a ReLU
    layer.set_weights([np.array([[[0.1, 0.2, 0.5]]])])
    x = -np.ones((1, 4, 5, 3))
    np.testing.assert_allclose(layer(x)[0, 0, 0], [-0.1, -0.2, -0.5])
    np.testing.assert_allclose(layer(-x), -x)
    assert built(PReLU(), (4, 5)).params["alpha"].shape == (4, 5)
    assert PReLU().count_params((4, 5)) == 20
    with pytest.raises(ShapeError, match="shared axis 3"):
        built(PReLU(shared_axes=3), (4, 5))
    with pytest.raises(ConfigError, match="constraint"):
        PReLU(alpha_constraint="positive")
    with pytest.raises(ConfigError, match="shared_axes"):
        PReLU(shared_axes=[0])
    assert PReLU.default_name() == "p_re_lu" and LeakyReLU.default_name() == "leaky_re_lu"


def test_softmax_sums_to_one_over_axis():
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    np.testing.assert_allclose(Softmax()(x).sum(axis=-1), 1.0)
    np.testing.assert_allclose(Softmax(axis=1)(x).sum(axis=1), 1.0)
    np.testing.assert_allclose(Softmax(axis=[1, 2])(x).sum(axis=(1, 2)), 1.0)
    np.testing.assert_allclose(Softmax()(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]])
    with pytest.raises(ShapeError, match="axis"):
        built(Softmax(axis=3), (3, 4))
    with pytest.raises(ShapeError, match="axis"):
        built(Softmax(axis=0), (3, 4))
    with pytest.raises(ConfigError, match="axis"):
        Softmax(axis="last")


# -- shapes -----------------------------------------------------------------------------------------

def test_shape_layers_forward_hand_computed():
    x = np.arange(6.0).reshape(1, 3, 2)  # steps [0,1], [2,3], [4,5]
    np.testing.assert_array_equal(RepeatVector(2)(np.array([[1.0, 2.0]])), [[[1, 2], [1, 2]]])
    np.testing.assert_array_equal(Permute((2, 1))(x), [[[0, 2, 4], [1, 3, 5]]])
    np.testing.assert_array_equal(ZeroPadding1D((1, 2))(x), [[[0, 0], [0, 1], [2, 3], [4, 5], [0, 0], [0, 0]]])
    np.testing.assert_array_equal(Cropping1D((1, 1))(x), [[[2, 3]]])
    np.testing.assert_array_equal(UpSampling1D(2)(x), [[[0, 1], [0, 1], [2, 3], [2, 3], [4, 5], [4, 5]]])
    img = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    np.testing.assert_array_equal(ZeroPadding2D(((1, 0), (0, 1)))(img)[0, :, :, 0], [[0, 0, 0], [1, 2, 0], [3, 4, 0]])
    np.testing.assert_array_equal(UpSampling2D((1, 2))(img)[0, :, :, 0], [[1, 1, 2, 2], [3, 3, 4, 4]])
    np.testing.assert_array_equal(Cropping2D(((1, 0), (0, 1)))(img)[0, :, :, 0], [[3]])
    assert ZeroPadding2D(2).padding == ((2, 2), (2, 2)) and ZeroPadding2D((1, 3)).padding == ((1, 1), (3, 3))
    assert Cropping2D((1, 2)).cropping == ((1, 1), (2, 2))


def test_shape_layers_refuse_bad_arguments_and_shapes():
    for make in (lambda: ZeroPadding2D(data_format="channels_first"), lambda: Cropping2D(data_format="channels_first"),
                 lambda: UpSampling2D(data_format="channels_first"),
                 lambda: SpatialDropout2D(0.5, data_format="channels_first")):
        with pytest.raises(ConfigError, match="channels_first"):
            make()
    with pytest.raises(ConfigError, match="'nearest' or 'bilinear'"):
        UpSampling2D(interpolation="bicubic")
    with pytest.raises(ConfigError, match="padding"):
        ZeroPadding1D(-1)
    with pytest.raises(ConfigError, match="padding"):
        ZeroPadding2D(((1, 2), 3, 4))
    with pytest.raises(ConfigError, match="dims"):
        Permute((1, 3))
    with pytest.raises(ConfigError, match="n must"):
        RepeatVector(0)
    with pytest.raises(ShapeError, match="RepeatVector"):
        built(RepeatVector(2), (3, 4))
    with pytest.raises(ShapeError, match="leaves nothing"):
        built(Cropping1D((2, 2)), (4, 3))
    with pytest.raises(ShapeError, match="leaves nothing"):
        built(Cropping2D(((1, 1), (3, 3))), (4, 6, 2))
    with pytest.raises(ShapeError, match="Permute"):
        built(Permute((2, 1)), (2, 3, 4))
    with pytest.raises(ShapeError, match="UpSampling2D"):
        built(UpSampling2D(), (2, 3))


# -- noise ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: GaussianNoise(1.0), lambda: GaussianDropout(0.5),
                                  lambda: SpatialDropout1D(0.5), lambda: SpatialDropout2D(0.5)])
def test_noise_layers_are_identity_at_inference(make):
    layer = make()
    x = np.random.default_rng(0).normal(size=(4, 3, 2) if not isinstance(layer, SpatialDropout2D) else (4, 3, 2, 5))
    built(layer, x.shape[1:])
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)
    assert not np.array_equal(layer(x, training=True), x)


def test_gaussian_noise_and_dropout_statistics_and_seed():
    x = np.ones((2000, 50))
    y = built(GaussianNoise(0.5, seed=1), (50,))(x, training=True)
    assert abs((y - 1).mean()) < 0.01 and abs((y - 1).std() - 0.5) < 0.01
    layer = built(GaussianDropout(0.2, seed=1), (50,))
    y = layer(x, training=True)
    assert abs(y.mean() - 1) < 0.01 and abs(y.std() - np.sqrt(0.2 / 0.8)) < 0.01
    g = layer.backward(np.full_like(x, 2.0))
    np.testing.assert_allclose(g, 2 * y)  # same multiplicative noise in backward
    a = built(GaussianDropout(0.2, seed=5), (50,))(x, training=True)
    b = built(GaussianDropout(0.2, seed=5), (50,))(x, training=True)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(built(GaussianDropout(0.0), (50,))(x, training=True), x)


@pytest.mark.parametrize(("cls", "shape"), [(SpatialDropout1D, (400, 7, 30)), (SpatialDropout2D, (400, 3, 4, 30))])
def test_spatial_dropout_drops_whole_channels(cls, shape):
    layer = built(cls(0.4, seed=2), shape[1:])
    y = layer(np.ones(shape), training=True)
    per_channel = y.reshape(shape[0], -1, shape[-1])
    assert np.all(per_channel == per_channel[:, :1])  # constant over the spatial axes
    assert set(np.unique(per_channel)) <= {0.0, 1 / 0.6}
    assert abs((per_channel[:, 0] == 0).mean() - 0.4) < 0.02
    g = layer.backward(np.ones(shape))
    np.testing.assert_array_equal(g, y)
    with pytest.raises(ShapeError, match=cls.__name__):
        built(cls(0.5), shape[2:])
    with pytest.raises(ConfigError, match="rate"):
        cls(1.0)


# -- preprocessing ----------------------------------------------------------------------------------

def test_rescaling_forward():
    np.testing.assert_allclose(Rescaling(1 / 255)(np.array([[0, 255]], dtype=np.uint8)), [[0.0, 1.0]], atol=1e-7)
    np.testing.assert_allclose(Rescaling(2.0, offset=-1.0)(np.array([[0.0, 0.5, 1.0]])), [[-1.0, 0.0, 1.0]])
    np.testing.assert_allclose(Rescaling([1.0, 10.0])(np.array([[1.0, 1.0]])), [[1.0, 10.0]])
    with pytest.raises(ShapeError, match="Rescaling"):
        built(Rescaling([1.0, 2.0, 3.0]), (2,))
    with pytest.raises(ConfigError, match="scale"):
        Rescaling("big")


def test_normalization_adapt_matches_keras_formula():
    rng = np.random.default_rng(0)
    data = rng.normal(loc=[1.0, -2.0, 5.0], scale=[1.0, 3.0, 0.5], size=(100, 4, 3))
    layer = Normalization()
    layer.adapt(data)
    assert layer.weight_names == ["mean", "variance", "count"] and not layer.params
    mean, var, count = layer.get_weights()
    np.testing.assert_allclose(mean, data.mean(axis=(0, 1)))
    np.testing.assert_allclose(var, data.var(axis=(0, 1)))  # population variance
    assert mean.shape == (3,) and count.shape == () and count == 0  # Keras 3 never updates count
    np.testing.assert_allclose(layer(data), (data - mean) / np.sqrt(var))
    # invert, and the epsilon floor of sqrt(variance)
    inv = Normalization(mean=[1.0, 2.0], variance=[4.0, 0.0], invert=True)
    np.testing.assert_allclose(inv(np.array([[1.0, 1.0]])), [[3.0, 2.0 + 1e-7]])
    fixed = Normalization(mean=[1.0, 2.0], variance=[4.0, 0.0])
    np.testing.assert_allclose(fixed(np.array([[3.0, 2.0 + 1e-7]])), [[1.0, 1.0]])
    assert built(Normalization(mean=1.0, variance=4.0), (2,)).weight_names == []


def test_normalization_axes_and_batches():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(50, 3, 4))
    layer = Normalization(axis=[1, 2])
    layer.adapt([data[:20], data[20:]])  # an iterable of batches, as in Keras
    np.testing.assert_allclose(layer.get_weights()[0], data.mean(axis=0))
    assert layer.get_weights()[0].shape == (3, 4)
    layer = Normalization(axis=None)
    layer.adapt(data)
    np.testing.assert_allclose(layer.get_weights()[0], data.mean())
    np.testing.assert_allclose(layer.get_weights()[1], data.var())
    layer = Normalization(axis=1)
    layer.adapt(data)
    np.testing.assert_allclose(layer.get_weights()[1], data.var(axis=(0, 2)))
    with pytest.raises(ShapeError, match="adapt"):
        layer.adapt(rng.normal(size=(5, 4, 4)))
    with pytest.raises(ShapeError, match="known size"):
        built(Normalization(axis=0), (3,))
    with pytest.raises(ConfigError, match="both"):
        Normalization(mean=1.0)
    with pytest.raises(ConfigError, match="adapt"):
        Normalization(mean=1.0, variance=1.0).adapt(data)


def test_normalization_adapted_before_the_model_keeps_its_statistics():
    import tuinet
    data = np.random.default_rng(2).normal(loc=3.0, scale=2.0, size=(64, 3))
    norm = Normalization()
    norm.adapt(data)
    model = tuinet.Sequential([tuinet.layers.Input((3,)), norm, tuinet.layers.Dense(1)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    np.testing.assert_allclose(model.layers[0].get_weights()[0], data.mean(axis=0))
    out = model.layers[0](data)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-6)  # float32 model


# -- inside models -----------------------------------------------------------------------------------

MODELS = {
    "dense": lambda L: ((6,), [L.Rescaling(0.5), L.ReLU(max_value=3.0), L.Dense(8), L.LeakyReLU(), L.PReLU(),
                               L.GaussianNoise(0.1), L.GaussianDropout(0.2), L.ELU(), L.Dense(3),
                               L.Softmax()]),
    "seq": lambda L: ((6,), [L.Dense(4), L.RepeatVector(5), L.ZeroPadding1D((1, 2)), L.Cropping1D(1),
                             L.UpSampling1D(2), L.SpatialDropout1D(0.3), L.Permute((2, 1)), L.Flatten(), L.Dense(3)]),
    "img": lambda L: ((5, 4, 2), [L.ZeroPadding2D(1), L.Conv2D(3, 3), L.PReLU(shared_axes=[1, 2]),
                                  L.UpSampling2D((2, 1)), L.Cropping2D(((1, 1), (0, 1))), L.SpatialDropout2D(0.2),
                                  L.Flatten(), L.Dense(3)]),
}


@pytest.mark.parametrize("key", sorted(MODELS))
def test_layers_in_a_model_fit_predict_summary_and_save(key, tmp_path):
    import tuinet
    shape, layers = MODELS[key](tuinet.layers)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, *shape))
    y = rng.normal(size=(32, 3))
    norm = tuinet.layers.Normalization()
    norm.adapt(x)
    model = tuinet.Sequential([tuinet.layers.Input(shape), norm, *layers], seed=0)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    pred = model.predict(x, verbose=0)
    assert pred.shape == (32, 3)
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for layer in model.layers:
        assert layer.name in text and type(layer).__name__ in text
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = tuinet.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), pred)
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bilinear_upsampling_matches_keras_resize():
    """Keras 3.15 (torch) `UpSampling2D((2, 2), interpolation="bilinear")` on a 2x3 ramp."""
    img = np.arange(6, dtype=np.float32).reshape(1, 2, 3, 1)
    out = UpSampling2D(interpolation="bilinear")(img)[0, :, :, 0]
    np.testing.assert_allclose(out, [[0.0, 0.25, 0.75, 1.25, 1.75, 2.0],
                                     [0.75, 1.0, 1.5, 2.0, 2.5, 2.75],
                                     [2.25, 2.5, 3.0, 3.5, 4.0, 4.25],
                                     [3.0, 3.25, 3.75, 4.25, 4.75, 5.0]], atol=1e-6)

"""Image augmentation layers: identity at inference, hand-computed transforms, fill modes,
factor ranges, float64 gradient checks of one fixed draw, configs, and a small conv model."""

from __future__ import annotations


import numpy as np
import pytest

import tuinet
from tests.nn.gradcheck import check_layer, round_trip
from tuinet import Sequential
from tuinet.errors import ConfigError, ShapeError
from tuinet.nn import layers as L
from tuinet.nn.layers.augmentation import (RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
                                           affine_transform, rotation_matrix, translation_matrix, zoom_matrix)




def built(layer, input_shape, seed=0):
    layer.build_for(input_shape, np.random.default_rng(seed))
    return layer


CASES = [
    lambda: RandomFlip(seed=1),
    lambda: RandomFlip("horizontal", seed=1),
    lambda: RandomFlip("vertical", seed=1),
    lambda: RandomContrast(0.5, seed=1),
    lambda: RandomContrast((0.2, 0.9), value_range=(-1.0, 1.0), seed=1),  # clipping active
    lambda: RandomTranslation(0.3, (-0.2, 0.4), seed=1),
    lambda: RandomTranslation(0.4, 0.4, fill_mode="constant", fill_value=0.5, seed=1),
    lambda: RandomTranslation(0.4, 0.4, fill_mode="wrap", interpolation="nearest", seed=1),
    lambda: RandomRotation(0.2, seed=1),
    lambda: RandomRotation((-0.5, 0.1), fill_mode="nearest", seed=1),
    lambda: RandomRotation(0.3, fill_mode="constant", interpolation="nearest", seed=1),
    lambda: RandomZoom(0.3, seed=1),
    lambda: RandomZoom((-0.5, -0.2), (0.1, 0.6), fill_mode="constant", fill_value=-1.0, seed=1),
    lambda: RandomZoom(0.4, fill_mode="wrap", seed=1),
]
IDS = [f"{i}-{type(make()).__name__}" for i, make in enumerate(CASES)]
SHAPE = (3, 5, 6, 2)


@pytest.mark.parametrize("make", CASES, ids=IDS)
def test_config_round_trip_identity_at_inference_and_gradients(make):
    layer = make()
    assert layer.compute_output_shape(SHAPE[1:]) == SHAPE[1:]
    round_trip(layer)
    x = np.random.default_rng(0).normal(size=SHAPE)
    built(layer, SHAPE[1:])
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)
    y = layer(x, training=True)
    assert y.shape == SHAPE and not np.array_equal(y, x)
    check_layer(make(), SHAPE)  # inference: the identity
    # Training: one fixed draw for every finite-difference evaluation.
    layer = make()
    forward = layer.forward

    def fixed(x, *, training=False):
        layer._rng = np.random.default_rng(7)
        return forward(x, training=training)
    layer.forward = fixed
    check_layer(layer, SHAPE, training=True)


def test_flip_forced_draws():
    x = np.arange(2 * 2 * 3, dtype=float).reshape(2, 2, 3, 1)
    flips = np.array([True, False])
    h = built(RandomFlip("horizontal"), x.shape[1:]).transform_images(x, flips)
    np.testing.assert_array_equal(h[0, ..., 0], [[2, 1, 0], [5, 4, 3]])
    np.testing.assert_array_equal(h[1], x[1])
    v = built(RandomFlip("vertical"), x.shape[1:]).transform_images(x, flips)
    np.testing.assert_array_equal(v[0, ..., 0], [[3, 4, 5], [0, 1, 2]])
    both = RandomFlip().transform_images(x, flips)  # one draw flips both ways (Keras)
    np.testing.assert_array_equal(both[0, ..., 0], [[5, 4, 3], [2, 1, 0]])
    np.testing.assert_array_equal(both[1], x[1])


def test_flip_draws_both_outcomes_and_seeds_repeat():
    x = np.random.default_rng(0).normal(size=(64, 3, 3, 1))
    a = built(RandomFlip("horizontal", seed=5), x.shape[1:])(x, training=True)
    b = built(RandomFlip("horizontal", seed=5), x.shape[1:])(x, training=True)
    np.testing.assert_array_equal(a, b)
    flipped = np.all(a == x[:, :, ::-1], axis=(1, 2, 3))
    kept = np.all(a == x, axis=(1, 2, 3))
    assert (flipped | kept).all() and 10 < flipped.sum() < 54


def test_contrast_hand_computed_and_clipped():
    x = np.array([0.0, 2.0, 4.0, 10.0]).reshape(1, 2, 2, 1)  # mean 4
    layer = RandomContrast(0.5, value_range=(0, 12))
    np.testing.assert_allclose(layer.transform_images(x, [1.5]).ravel(), [0.0, 1.0, 4.0, 12.0])  # -2 and 13 clip
    g = layer.backward(np.ones_like(x))  # clipped entries pass nothing back
    np.testing.assert_allclose(g.ravel(), [-0.25, 1.25, 1.25, -0.25])  # g * 1.5 + mean(g) * -0.5
    ch = np.stack([x[..., 0], 2 * x[..., 0]], -1)  # each channel keeps its own mean
    np.testing.assert_allclose(RandomContrast(0.5, value_range=(-100, 100)).transform_images(ch, [2.0])[..., 1].ravel(),
                               [-8.0, 0.0, 8.0, 32.0])  # mean 8


def test_contrast_factor_ranges_follow_keras():
    assert RandomContrast(0.5).factor == (0.0, 0.5)  # Keras 3: c in [1, 1 + f]
    assert RandomContrast([0.3, 0.1]).factor == (0.1, 0.3)
    layer = built(RandomContrast((0.2, 0.4), seed=0), (4, 4, 1))
    c = layer.get_random_transformation((1000, 4, 4, 1))
    assert 0.8 <= c.min() < 0.85 and 1.35 < c.max() <= 1.4


def test_factor_zero_is_the_identity_in_training():
    x = np.random.default_rng(1).normal(size=SHAPE)
    for layer in (RandomContrast(0.0, value_range=(-10, 10)), RandomTranslation(0.0, 0.0), RandomRotation(0.0),
                  RandomZoom(0.0), RandomRotation(0.0, interpolation="nearest", fill_mode="constant")):
        np.testing.assert_allclose(built(layer, SHAPE[1:])(x, training=True), x, atol=1e-12)


def test_affine_transform_fill_modes_by_hand():
    row = np.arange(5, dtype=float).reshape(1, 1, 5, 1)
    shift = translation_matrix([[3.0, 0.0]])  # output x reads input x - 3
    expect = {"reflect": [2, 1, 0, 0, 1], "wrap": [2, 3, 4, 0, 1], "nearest": [0, 0, 0, 0, 1],
              "constant": [-1, -1, -1, 0, 1]}
    for mode, want in expect.items():
        got = affine_transform(row, shift, "bilinear", mode, fill_value=-1.0)
        np.testing.assert_allclose(got.ravel(), want, err_msg=mode)
    half = translation_matrix([[0.5, 0.0]])  # x - 0.5: averages of neighbours; nearest rounds half to even
    np.testing.assert_allclose(affine_transform(row, half, "bilinear", "constant").ravel(), [0, 0.5, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(affine_transform(row, half, "nearest", "nearest").ravel(), [0, 0, 2, 2, 4])
    single = affine_transform(row[0], shift[0], fill_mode="wrap")  # unbatched image, one transform
    np.testing.assert_allclose(single.ravel(), expect["wrap"])


def test_transform_matrices():
    img = np.zeros((1, 5, 5, 1))
    img[0, 1, 3, 0] = 1.0  # row 1, column 3
    quarter = affine_transform(img, rotation_matrix([90.0], 5, 5), "nearest", "constant")
    # Output (y, x) reads input (x, 4 - y): a quarter turn counter-clockwise about the centre (2, 2).
    assert quarter[0, 1, 1, 0] == 1.0 and quarter.sum() == 1.0
    zoom_out = affine_transform(img, zoom_matrix([[2.0, 2.0]], 5, 5), "nearest", "constant")
    assert zoom_out[0, 1, 2, 0] == 0.0 and zoom_out[0, 2, 2, 0] == 0.0
    np.testing.assert_allclose(zoom_matrix([[2.0, 0.5]], 5, 3)[0], [2.0, 0, -1.0, 0, 0.5, 1.0, 0, 0])


def test_random_transformations_stay_in_range():
    shape = (500, 10, 20, 1)
    t = built(RandomTranslation((-0.2, 0.1), 0.5, seed=0), shape[1:]).get_random_transformation(shape)
    dx, dy = -t[:, 2], -t[:, 5]  # shifts in pixels
    assert -10 <= dx.min() < -9 and 9 < dx.max() <= 10
    assert -2 <= dy.min() < -1.9 and 0.9 < dy.max() <= 1
    r = built(RandomRotation((0.1, 0.2), seed=0), shape[1:]).get_random_transformation(shape)
    angles = np.degrees(np.arctan2(r[:, 3], r[:, 0]))
    assert 36 - 1e-9 <= angles.min() and angles.max() <= 72 + 1e-9
    z = built(RandomZoom((-0.5, 0.25), seed=0), shape[1:]).get_random_transformation(shape)
    assert (z[:, 0] == z[:, 4]).all() and 0.5 <= z[:, 0].min() and z[:, 0].max() <= 1.25
    z2 = built(RandomZoom(0.1, 0.9, seed=0), shape[1:]).get_random_transformation(shape)
    assert z2[:, 0].max() > 1.5 and z2[:, 4].max() <= 1.1


@pytest.mark.parametrize(("make", "message"), [
    (lambda: RandomFlip("diagonal"), "mode"),
    (lambda: RandomFlip(data_format="channels_first"), "channels_first"),
    (lambda: RandomContrast(1.5), "factor"),
    (lambda: RandomContrast(-0.1), "factor"),
    (lambda: RandomContrast((0.1, 0.2, 0.3)), "factor"),
    (lambda: RandomContrast(0.1, value_range=(1, 0)), "value_range"),
    (lambda: RandomContrast(0.1, seed=-1), "seed"),
    (lambda: RandomTranslation(1.2, 0.1), "height_factor"),
    (lambda: RandomTranslation(0.1, "big"), "width_factor"),
    (lambda: RandomTranslation(0.1, 0.1, fill_mode="mirror"), "fill_mode"),
    (lambda: RandomRotation(0.1, interpolation="bicubic"), "interpolation"),
    (lambda: RandomRotation(0.1, fill_value="x"), "fill_value"),
    (lambda: RandomRotation(0.1, data_format="channels_first"), "channels_first"),
    (lambda: RandomZoom(-1.0), "height_factor"),
    (lambda: RandomZoom(0.1, (0.2, 1.5)), "width_factor"),
])
def test_bad_arguments_raise_one_line_config_errors(make, message):
    with pytest.raises(ConfigError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_non_image_inputs_are_refused():
    with pytest.raises(ShapeError, match="height, width, channels"):
        RandomFlip().compute_output_shape((8, 3))
    with pytest.raises(ShapeError, match="height, width, channels"):
        Sequential([RandomZoom(0.1, input_shape=(8,)), L.Dense(2)]).build()


def test_backward_returns_none_for_a_first_layer():
    layer = built(RandomZoom(0.2, seed=0), SHAPE[1:])
    layer.needs_input_grad = False
    layer(np.ones(SHAPE), training=True)
    assert layer.backward(np.ones(SHAPE)) is None


def test_integer_images_become_floats():
    x = np.arange(2 * 3 * 3 * 1).reshape(2, 3, 3, 1)
    layer = built(RandomRotation(0.1, seed=0), x.shape[1:])
    assert layer(x).dtype == np.float32 and layer(x, training=True).dtype == np.float32


def test_sequential_conv_model_fits_predicts_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(48, 8, 8, 1)).astype(np.float32)
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype(np.int64)
    model = Sequential([
        L.RandomFlip("horizontal", seed=1, input_shape=(8, 8, 1)),
        L.RandomTranslation(0.1, 0.1, seed=2),
        L.RandomRotation(0.05, fill_mode="constant", seed=3),
        L.RandomZoom(0.1, seed=4),
        L.RandomContrast(0.2, value_range=(0, 1), seed=5),
        L.Conv2D(4, 3, activation="relu"),
        L.Flatten(),
        L.Dense(2, activation="softmax"),
    ], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), pred)  # inference is deterministic
    text = model.summary_text()
    for name in ("random_flip", "random_translation", "random_rotation", "random_zoom", "random_contrast"):
        assert name in text
    path = tmp_path / "aug.tuinet"
    model.save(path)
    same = tuinet.load_model(path)
    np.testing.assert_allclose(same.predict(x, verbose=0), pred, rtol=1e-6)
    assert [lay.get_config() for lay in same.layers] == [lay.get_config() for lay in model.layers]

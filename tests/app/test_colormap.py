"""Colour maps, robust limits, block-mean downsampling and kernel layouts (pure NumPy)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tuinet.app.colormap import (
    DIVERGING_ANCHORS,
    NAN_RGB,
    SEQUENTIAL_ANCHORS,
    diverging,
    downsample_2d,
    layout_kernel,
    nice_limit,
    sequential,
    symmetric_limit,
)


def lightness(rgb) -> float:
    """Rec. 601 luma of one colour."""
    r, g, b = (float(v) for v in rgb)
    return 0.299 * r + 0.587 * g + 0.114 * b


# ---------------------------------------------------------------------- diverging
def test_diverging_ends_and_centre():
    colours = diverging([-0.5, 0.0, 0.5], 0.5)
    assert colours.dtype == np.uint8 and colours.shape == (3, 3)
    orange, white, blue = colours.astype(int)
    assert orange.tolist() == DIVERGING_ANCHORS[0].tolist()  # -vmax: the orange end (the Playground's negative)
    assert blue.tolist() == DIVERGING_ANCHORS[-1].tolist()  # +vmax: the blue end (its positive)
    assert orange[0] > orange[2] + 100 and blue[2] > blue[0] + 100
    assert white.min() >= 240 and white.max() - white.min() <= 10  # 0: near-white grey


def test_diverging_is_symmetric_in_lightness_and_monotone_on_each_side():
    t = np.linspace(0, 1, 41)
    pos = diverging(t, 1.0)
    neg = diverging(-t, 1.0)
    light_pos = np.array([lightness(c) for c in pos])
    light_neg = np.array([lightness(c) for c in neg])
    assert np.max(np.abs(light_pos - light_neg)) < 25  # v and -v about as far from white
    assert np.all(np.diff(light_pos) <= 0.5) and np.all(np.diff(light_neg) <= 0.5)  # darker outwards
    assert np.all(pos[1:, 2].astype(int) >= pos[1:, 0]) and np.all(neg[1:, 0].astype(int) >= neg[1:, 2])  # blue +, orange -


def test_diverging_clips_beyond_vmax_and_keeps_shape():
    values = np.array([[-10.0, -1.0], [1.0, np.inf]])
    colours = diverging(values, 1.0)
    assert colours.shape == (2, 2, 3)
    assert colours[0, 0].tolist() == colours[0, 1].tolist() == DIVERGING_ANCHORS[0].tolist()
    assert colours[1, 0].tolist() == colours[1, 1].tolist() == DIVERGING_ANCHORS[-1].tolist()


def test_nan_is_a_grey_no_finite_value_gets():
    colours = diverging([np.nan, 0.0], 1.0)
    assert tuple(colours[0]) == NAN_RGB
    assert NAN_RGB[0] == NAN_RGB[1] == NAN_RGB[2]  # a grey
    every = diverging(np.linspace(-1, 1, 2001), 1.0)
    assert not np.any(np.all(every == np.array(NAN_RGB, dtype=np.uint8), axis=1))
    assert tuple(sequential([np.nan], 1.0)[0]) == NAN_RGB


def test_diverging_with_zero_vmax_maps_by_sign():
    colours = diverging([-3.0, 0.0, 2.0], 0.0)
    assert colours[0].tolist() == DIVERGING_ANCHORS[0].tolist()
    assert colours[1].tolist() == [247, 247, 247]
    assert colours[2].tolist() == DIVERGING_ANCHORS[-1].tolist()


def test_sequential_runs_from_dark_to_bright():
    colours = sequential(np.linspace(0, 2, 21), 2.0)
    assert colours[0].tolist() == SEQUENTIAL_ANCHORS[0].tolist()
    assert colours[-1].tolist() == SEQUENTIAL_ANCHORS[-1].tolist()
    light = [lightness(c) for c in colours]
    assert all(b > a for a, b in zip(light, light[1:]))  # monotone: magnitudes read as brightness
    assert sequential([5.0], 2.0)[0].tolist() == SEQUENTIAL_ANCHORS[-1].tolist()


# ---------------------------------------------------------------------- limits
def test_percentile_limit_ignores_a_single_outlier():
    values = np.concatenate([np.linspace(-0.4, 0.4, 999), [1000.0]])
    limit = symmetric_limit(values)
    assert 0.38 < limit < 0.41
    assert symmetric_limit(values, percentile=100) == 1000.0


def test_limit_of_mostly_zero_and_of_empty_data():
    sparse = np.zeros(1000)
    sparse[3] = -0.2
    assert symmetric_limit(sparse) == pytest.approx(0.2)  # the 99th percentile is 0: use the max
    assert symmetric_limit([np.nan, np.inf]) == 0.0
    assert symmetric_limit(np.zeros((2, 2))) == 0.0


@pytest.mark.parametrize(("limit", "nice"), [
    (0.42, 0.5), (0.5, 0.5), (0.51, 0.7), (1.0, 1.0), (1.01, 1.5), (2.6, 3.0), (7.2, 10.0),
    (0.0031, 0.005), (120.0, 150.0), (0.0, 0.0), (-1.0, 0.0),
])
def test_nice_limit(limit, nice):
    assert nice_limit(limit) == pytest.approx(nice)


# ---------------------------------------------------------------------- downsampling
def test_downsample_by_block_means_and_steps():
    m = np.arange(24, dtype=float).reshape(4, 6)
    out, steps = downsample_2d(m, 2, 3)
    assert steps == (2, 2)
    expected = np.array([[(0 + 1 + 6 + 7) / 4, (2 + 3 + 8 + 9) / 4, (4 + 5 + 10 + 11) / 4],
                         [(12 + 13 + 18 + 19) / 4, (14 + 15 + 20 + 21) / 4, (16 + 17 + 22 + 23) / 4]])
    np.testing.assert_allclose(out, expected)


def test_downsample_partial_blocks_and_nan():
    m = np.array([[1.0, 2.0, 3.0, np.nan, np.nan],
                  [5.0, 6.0, 7.0, np.nan, np.nan],
                  [9.0, 10.0, 11.0, 12.0, 13.0]])
    out, steps = downsample_2d(m, 2, 2)
    assert steps == (2, 3)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out[0, 0], np.mean([1, 2, 3, 5, 6, 7]))
    assert np.isnan(out[0, 1])  # a block of only NaN stays NaN
    np.testing.assert_allclose(out[1], [10.0, 12.5])  # partial last row and column


def test_downsample_keeps_a_matrix_that_fits():
    m = np.arange(6).reshape(2, 3)
    out, steps = downsample_2d(m, 5, 5)
    assert steps == (1, 1) and out.dtype == float
    np.testing.assert_array_equal(out, m)
    out[0, 0] = 99
    assert m[0, 0] == 0  # a copy
    with pytest.raises(ValueError):
        downsample_2d(np.zeros(3), 2, 2)


def test_downsample_keeps_infinities():
    m = np.ones((4, 4))
    m[0, 0] = np.inf
    out, _ = downsample_2d(m, 2, 2)
    assert out[0, 0] == np.inf and out[1, 1] == 1.0


# ---------------------------------------------------------------------- layouts
def test_dense_kernel_embedding_and_vectors():
    kernel = np.arange(6.0).reshape(2, 3)
    matrix, note = layout_kernel(kernel, "dense/kernel")
    np.testing.assert_array_equal(matrix, kernel)
    assert "2 inputs" in note and "3 units" in note
    matrix, note = layout_kernel(np.zeros((10, 4)), "embedding/embeddings")
    assert matrix.shape == (10, 4) and "10 tokens" in note
    for name in ("dense/bias", "batch_normalization/gamma", "batch_normalization_1/moving_variance"):
        matrix, _ = layout_kernel(np.arange(5.0), name)
        assert matrix.shape == (1, 5)
    matrix, _ = layout_kernel(np.float64(3.0), "x/scale")
    assert matrix.shape == (1, 1)


def test_conv2d_kernel_as_a_grid_of_tiles():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 2, 4))
    matrix, note = layout_kernel(w, "conv2d/kernel")
    # one row of tiles per input channel, one column per filter, NaN lines between tiles
    assert matrix.shape == (2 * 4 - 1, 4 * 4 - 1) == (7, 15)
    for cin in range(2):
        for cout in range(4):
            tile = matrix[cin * 4:cin * 4 + 3, cout * 4:cout * 4 + 3]
            np.testing.assert_array_equal(tile, w[:, :, cin, cout])
    assert np.all(np.isnan(matrix[3])) and np.all(np.isnan(matrix[:, [3, 7, 11]]))
    assert np.count_nonzero(np.isnan(matrix)) == 7 * 15 - w.size
    assert "3x3" in note and "2 input channels" in note and "4 filters" in note
    matrix, _ = layout_kernel(np.zeros((1, 1, 5, 6)), "conv2d_3/kernel")
    assert matrix.shape == (5, 6)  # 1x1 convolutions need no tiles


def test_conv1d_kernel_one_tile_per_filter():
    w = np.arange(3 * 2 * 4, dtype=float).reshape(3, 2, 4)
    matrix, note = layout_kernel(w, "conv1d/kernel")
    assert matrix.shape == (3, 4 * 3 - 1)
    for cout in range(4):
        np.testing.assert_array_equal(matrix[:, cout * 3:cout * 3 + 2], w[:, :, cout])
    assert np.all(np.isnan(matrix[:, [2, 5, 8]]))
    assert "4 filters" in note


def test_lstm_kernel_split_into_four_gate_blocks():
    w = np.arange(3 * 16, dtype=float).reshape(3, 16)  # in=3, units=4
    matrix, note = layout_kernel(w, "lstm/kernel")
    assert matrix.shape == (3, 4 * 4 + 3)
    blocks = [matrix[:, i * 5:i * 5 + 4] for i in range(4)]
    for i, block in enumerate(blocks):
        assert block.shape == (3, 4)
        np.testing.assert_array_equal(block, w[:, i * 4:(i + 1) * 4])
    assert np.all(np.isnan(matrix[:, [4, 9, 14]]))
    assert "i f c o" in note
    matrix, _ = layout_kernel(np.zeros((4, 16)), "lstm_2/recurrent_kernel")
    assert matrix.shape == (4, 19)
    matrix, _ = layout_kernel(np.zeros(16), "lstm/bias")
    assert matrix.shape == (1, 19)


def test_gru_kernel_and_two_row_bias_split_by_gate():
    matrix, note = layout_kernel(np.zeros((5, 9)), "gru/kernel")
    assert matrix.shape == (5, 11) and "z r h" in note
    bias = np.arange(18, dtype=float).reshape(2, 9)
    matrix, note = layout_kernel(bias, "gru_1/bias")
    assert matrix.shape == (2, 11)
    np.testing.assert_array_equal(matrix[:, 4:7], bias[:, 3:6])  # the r gate, both rows
    assert "z r h" in note and "recurrent bias" in note


def test_simple_rnn_as_is_and_layer_type_overrides_the_name():
    matrix, _ = layout_kernel(np.zeros((3, 2)), "simple_rnn/kernel")
    assert matrix.shape == (3, 2)
    matrix, note = layout_kernel(np.zeros((3, 16)), "encoder/kernel", layer_type="LSTM")
    assert matrix.shape == (3, 19) and note.startswith("LSTM kernel")
    matrix, _ = layout_kernel(np.zeros((3, 16)), "encoder/kernel")  # unknown name: plain
    assert matrix.shape == (3, 16)


def test_colormap_does_not_import_textual():
    code = "import sys, tuinet.app.colormap; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

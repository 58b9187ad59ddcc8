"""Kernel tiles and their layout (NumPy only): which tiles a parameter is cut into, the grid
shape and scale chosen for a pane, averaging only when one pixel per value does not fit (and
never across tile borders), the picture's pixels, and the shared half-block canvas."""

from __future__ import annotations

import numpy as np
import pytest

from tuinet.app.canvas import HALF_BLOCK, Canvas, pack_rgb
from tuinet.app.tiles import (
    ALL_CHANNELS,
    MAX_SCALE,
    TileSet,
    block_means,
    compose_tiles,
    fit_tiles,
    kernel_tiles,
    shown_tiles,
    tile_labels,
)

BLANK = -1


def fits(layout, width: int, lines: int) -> bool:
    return layout.size[0] <= 2 * lines and layout.size[1] <= width


def best_scale_by_brute_force(count: int, th: int, tw: int, width: int, lines: int, labels: bool) -> int:
    """The largest scale of any rows x cols grid of `count` wrapped tiles one pixel apart."""
    best = 0
    for cols in range(1, count + 1):
        rows = -(-count // cols)
        for s in range(1, MAX_SCALE + 1):
            height = rows * (2 + 2 * -(-th * s // 2)) if labels else rows * (th * s + 1) - 1
            if cols * (tw * s + 1) - 1 <= width and height <= 2 * lines:
                best = max(best, s)
    return best


# ---------------------------------------------------------------------- kernel_tiles
def test_conv2d_kernel_is_a_channels_by_filters_grid_of_kernel_tiles():
    w = np.arange(3 * 3 * 2 * 4, dtype=float).reshape(3, 3, 2, 4)
    tiles = kernel_tiles(w, "conv2d/kernel")
    assert tiles.grid_shape == (2, 4, 3, 3) and tiles.shape == (3, 3, 2, 4)
    np.testing.assert_array_equal(tiles.values[1, 3], w[:, :, 1, 3])
    assert tiles.position(1, 3, 2, 0) == (2, 0, 1, 3)
    assert tiles.tile_name(1, 3) == "filter 3, input channel 1"
    assert tiles.row_labels == ("c0", "c1") and tiles.col_labels == ("f0", "f1", "f2", "f3")
    assert "3x3 tiles" in tiles.note


@pytest.mark.parametrize(("name", "shape", "grid", "index", "position"), [
    ("conv1d/kernel", (5, 3, 4), (1, 4, 5, 3), (0, 2, 4, 1), (4, 1, 2)),  # a 5x3 tile (taps x channels) per filter
    ("lstm/kernel", (3, 16), (1, 4, 3, 4), (0, 2, 1, 3), (1, 11)),  # a tile per gate: i f c o
    ("lstm_1/recurrent_kernel", (4, 16), (1, 4, 4, 4), (0, 1, 3, 0), (3, 4)),
    ("lstm/bias", (16,), (1, 4, 1, 4), (0, 3, 0, 2), (14,)),
    ("gru/bias", (2, 9), (1, 3, 2, 3), (0, 2, 1, 0), (1, 6)),  # z r h, input and recurrent bias
    ("dense/kernel", (64, 10), (1, 1, 64, 10), (0, 0, 5, 7), (5, 7)),
    ("dense/bias", (10,), (1, 1, 1, 10), (0, 0, 0, 7), (7,)),
    ("conv2d/kernel", (1, 1, 5, 6), (1, 1, 5, 6), (0, 0, 4, 5), (0, 0, 4, 5)),  # 1x1: the plain matrix
    ("conv1d/kernel", (1, 5, 6), (1, 1, 5, 6), (0, 0, 2, 3), (0, 2, 3)),
    ("x/scale", (), (1, 1, 1, 1), (0, 0, 0, 0), ()),
    ("thing/w", (2, 3, 4, 5, 6), (1, 1, 120, 6), (0, 0, 119, 5), (1, 2, 3, 4, 5)),
])
def test_kernel_tiles_keep_every_value_and_its_index(name, shape, grid, index, position):
    w = np.random.default_rng(0).normal(size=shape)
    tiles = kernel_tiles(w, name)
    assert tiles.grid_shape == grid and tiles.shape == shape
    assert sorted(tiles.index.ravel().tolist()) == list(range(w.size))  # every value once
    np.testing.assert_array_equal(tiles.values.ravel(), w.ravel()[tiles.index.ravel()])
    assert tiles.position(*index) == position
    assert tiles.values[index] == w[position]


def test_layer_type_names_the_gates_of_a_layer_with_another_name():
    assert kernel_tiles(np.zeros((3, 16)), "encoder/kernel", layer_type="LSTM").col_labels == ("i", "f", "c", "o")
    assert kernel_tiles(np.zeros((3, 16)), "encoder/kernel").grid_shape == (1, 1, 3, 16)


# ---------------------------------------------------------------------- fit_tiles
def test_sixteen_filters_fill_a_wide_pane_as_four_by_four_labelled_tiles():
    layout = fit_tiles((1, 16, 3, 3), 106, 38)  # the weights view at 160x48
    assert layout.grid == (4, 4) and layout.scale == 5 and layout.steps == (1, 1) and layout.labels == "tiles"
    assert fits(layout, 106, 38)
    assert layout.scale == best_scale_by_brute_force(16, 3, 3, 106, 38, labels=True)


@pytest.mark.parametrize(("width", "lines", "grid"), [(200, 6, (1, 16)), (30, 60, (8, 2)), (60, 20, (3, 6))])
def test_the_grid_follows_the_pane_shape(width, lines, grid):
    layout = fit_tiles((1, 16, 3, 3), width, lines)
    assert layout.grid == grid and fits(layout, width, lines)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 16, 32, 64])
@pytest.mark.parametrize(("th", "tw"), [(3, 3), (5, 5), (3, 1), (16, 16), (1, 64)])
@pytest.mark.parametrize(("width", "lines"), [(106, 38), (80, 8), (40, 30), (150, 12)])
def test_wrapped_tiles_get_the_largest_scale_that_fits(count, th, tw, width, lines):
    layout = fit_tiles((1, count, th, tw), width, lines)
    if layout is None:
        assert best_scale_by_brute_force(count, th, tw, width, lines, labels=False) == 0
        return
    assert fits(layout, width, lines)
    if layout.steps != (1, 1):  # averaged only when one pixel per value fits in no grid
        assert best_scale_by_brute_force(count, th, tw, width, lines, labels=False) == 0
        return
    with_labels = best_scale_by_brute_force(count, th, tw, width, lines, labels=True)
    without = best_scale_by_brute_force(count, th, tw, width, lines, labels=False)
    if count == 1:
        assert layout.scale == min(width // tw, 2 * lines // th, MAX_SCALE) and layout.labels == ""
    elif layout.labels == "tiles":
        assert layout.scale == with_labels >= 0.75 * without  # labels cost at most a quarter of the scale
    else:
        assert layout.scale == without and with_labels < 0.75 * without


def test_a_matrix_is_magnified_up_to_max_scale_and_averaged_only_when_it_does_not_fit():
    assert fit_tiles((1, 1, 2, 8), 200, 100).scale == MAX_SCALE
    assert fit_tiles((1, 1, 2, 8), 100, 3).scale == 3  # 2 rows x 3 = 6 pixel rows = 3 lines
    layout = fit_tiles((1, 1, 64, 64), 106, 38)  # digits-mlp's dense kernel at 160x48: one pixel per weight
    assert (layout.steps, layout.scale, layout.size) == ((1, 1), 1, (64, 64))
    layout = fit_tiles((1, 1, 128, 10), 106, 38)  # 128 rows in 76 pixel rows: rows in pairs, columns kept
    assert (layout.steps, layout.scale) == ((2, 1), 1)
    layout = fit_tiles((1, 1, 784, 256), 106, 38)
    assert layout.steps == (11, 3) and fits(layout, 106, 38)  # the smallest blocks that fit


def test_a_channels_by_filters_grid_that_does_not_fit_one_to_one_shows_one_channel():
    layout = fit_tiles((16, 32, 3, 3), 106, 38)  # digits-cnn's conv2d_1 kernel at 160x48
    assert layout.wrapped and layout.channel == 0 and layout.grid == (4, 8) and layout.scale == 4
    assert fit_tiles((16, 32, 3, 3), 106, 38, channel=5).channel == 5
    everything = fit_tiles((16, 32, 3, 3), 106, 38, channel=ALL_CHANNELS)
    assert not everything.wrapped and everything.steps != (1, 1) and fits(everything, 106, 38)
    assert everything.steps[0] <= 3 and everything.steps[1] <= 3  # blocks within a 3x3 tile
    small = fit_tiles((2, 4, 3, 3), 106, 38)  # a grid that fits: every channel, labelled axes
    assert not small.wrapped and small.grid == (2, 4) and small.labels == "axes" and small.scale == 8


def test_zoom_is_one_pixel_per_value_and_may_overflow():
    layout = fit_tiles((16, 32, 3, 3), 106, 38, zoom=True)
    assert (layout.steps, layout.scale) == ((1, 1), 1) and not layout.wrapped
    assert layout.size[1] > 106  # wider than the pane: the heatmap pans
    layout = fit_tiles((1, 1, 784, 256), 106, 38, zoom=True)
    assert (layout.steps, layout.scale, layout.size) == ((1, 1), 1, (784, 256))


def test_labels_go_when_they_cost_more_than_a_quarter_of_the_scale():
    assert fit_tiles((1, 16, 3, 3), 80, 7).labels == ""  # labels would halve the scale (2 -> 1)
    assert fit_tiles((1, 16, 3, 3), 106, 38).labels == "tiles"  # 5 with labels, 6 without


def test_too_small_is_none():
    assert fit_tiles((16, 32, 3, 3), 20, 2, channel=ALL_CHANNELS) is None
    assert fit_tiles((1, 1, 5, 5), 0, 3) is None


# ---------------------------------------------------------------------- averaging and the picture
def test_averaging_never_mixes_tiles():
    tiles = TileSet(np.broadcast_to(np.arange(16 * 32, dtype=float).reshape(16, 32, 1, 1), (16, 32, 3, 3)).copy(),
                    np.zeros((16, 32, 3, 3), dtype=int), (3, 3, 16, 32))
    layout = fit_tiles(tiles, 106, 38, channel=ALL_CHANNELS)
    assert layout.steps != (1, 1)
    drawn = shown_tiles(tiles, layout)
    assert drawn.shape == (*layout.grid, *layout.tile)
    for gr in range(layout.grid[0]):
        for gc in range(layout.grid[1]):
            r, c = layout.tile_at(gr, gc)
            assert np.all(drawn[gr, gc] == r * 32 + c)  # each block holds its own tile's values only


def test_block_means_of_partial_blocks_and_nan():
    values = np.array([[[1.0, 2.0, 3.0], [4.0, np.nan, 6.0], [7.0, 8.0, 9.0]]])
    np.testing.assert_allclose(block_means(values, (2, 2)), [[[7 / 3, 4.5], [7.5, 9.0]]])
    assert np.isnan(block_means(np.full((1, 2, 2), np.nan), (2, 2))).all()


def test_compose_places_tiles_one_pixel_apart_with_labels_over_them():
    tiles = kernel_tiles(np.ones((3, 3, 1, 5)), "conv2d/kernel")
    layout = fit_tiles(tiles, 20, 12)
    assert layout.labels == "tiles" and layout.grid == (2, 3) and layout.scale == 2
    codes = np.full((*layout.grid, *layout.tile), 7)
    picture = compose_tiles(codes, layout, BLANK)
    assert picture.shape == layout.size
    for n in range(layout.count):
        gr, gc = divmod(n, layout.grid[1])
        y, x = layout.origin(gr, gc)
        assert (picture[y:y + 6, x:x + 6] == 7).all()  # the tile: 3x3 values at scale 2
        assert (picture[y:y + 6, x + 6:x + 7] == BLANK).all()  # the gap to its right
        assert (picture[y - 2:y, x:x + 6] == BLANK).all()  # its label line
        assert layout.locate(y + 5, x + 5) == (gr, gc, 2, 2) and layout.locate(y + 5, x + 6) is None
    assert (picture[layout.origin(1, 2)[0]:, layout.origin(1, 2)[1]:] == BLANK).all()  # the empty sixth slot
    assert tile_labels(tiles, layout) == [(0, 0, "f0"), (0, 7, "f1"), (0, 14, "f2"), (4, 0, "f3"), (4, 7, "f4")]


def test_axis_labels_name_channels_and_filters():
    tiles = kernel_tiles(np.ones((3, 3, 2, 4)), "conv2d/kernel")
    layout = fit_tiles(tiles, 60, 12)
    assert layout.labels == "axes" and layout.margin == 3 and layout.header == 1
    labels = tile_labels(tiles, layout)
    assert [text for _, _, text in labels] == ["f0", "f1", "f2", "f3", "c0", "c1"]
    assert all(line == 0 for line, _, text in labels if text.startswith("f"))


# ---------------------------------------------------------------------- the canvas
def test_canvas_image_draws_two_pixels_per_cell_and_joins_runs():
    canvas = Canvas(6, 2, (255, 255, 255), (0, 0, 0))
    red, blue = pack_rgb((255, 0, 0)), pack_rgb((0, 0, 255))
    pixels = np.array([[red, red, blue], [red, blue, blue], [blue, blue, blue]])  # odd: padded with the background
    canvas.image(1, 0, pixels)
    assert canvas.row_text(0) == f"  {HALF_BLOCK}  " + " "
    assert canvas.row_text(1) == f" {HALF_BLOCK * 3}  "
    segments = list(canvas.strip(0))
    # the blue space after "▀" (red on blue) joins it: one escape sequence for both
    assert [segment.text for segment in segments] == [" ", " ", f"{HALF_BLOCK} ", "  "]
    canvas.text(0, 1, "x", bold=True)
    assert canvas.strips() is not None and canvas.bold[1, 0]

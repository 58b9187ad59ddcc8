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
def test_colormap_does_not_import_textual():
    code = "import sys, tuinet.app.colormap; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

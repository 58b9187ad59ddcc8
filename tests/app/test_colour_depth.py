"""Colour depth: the boundary, the neuron maps and the weight heatmaps in 256- and 16-colour terminals.

Rich sends each RGB colour to such a terminal as the nearest palette entry (per channel in the
xterm cube, by lightness on the grey ramp), which turned the boundary's orange into mustard
and its blue into teal, with navy, maroon and black along the edge. The checks here run every
colour drawn through Rich's own downgrade (`rich.color.Color.downgrade`) and look at what the
terminal would show: hues in the orange and blue bands (CIELAB hue; mustard and teal are
outside), a neutral zero, distinct class colours, and points that stand out on the field.
The snapshots of each depth are in tests/app/test_snapshots.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import textual.constants
from rich.color import EIGHT_BIT_PALETTE, STANDARD_PALETTE, Color, ColorSystem

from tuinet.app.boundary import (
    BLUE,
    CLASS_COLORS,
    FIELD_STRENGTH,
    ORANGE,
    POINT_CONTRAST,
    Field,
    class_color,
    depth_colors,
    diverging_colors,
    field_colors,
    point_colors,
)
from tuinet.app.canvas import terminal_depth, unpack_rgb
from tuinet.app.colormap import (
    ANSI_RGB,
    DIVERGING_16,
    DIVERGING_256,
    SHOWABLE_256,
    XTERM_RGB,
    ansi_pair,
    cielab,
    colour_depth,
    diverging,
    fit_hue,
    xterm_index,
)

SYSTEMS = {"256": ColorSystem.EIGHT_BIT, "16": ColorSystem.STANDARD}
DARK_BG = (18, 18, 18)  # the boundary's background in the default theme
BACKGROUNDS = [DARK_BG, (40, 42, 54), (0, 43, 54), (224, 224, 224), (253, 246, 227)]  # dark and light themes


# ---------------------------------------------------------------------- what the terminal shows
def shown(rgb, depth: str) -> tuple[int, tuple[int, int, int]]:
    """(palette index, its RGB) that Rich sends for `rgb` to a `depth` terminal."""
    colour = Color.from_rgb(*(int(v) for v in rgb)).downgrade(SYSTEMS[depth])
    palette = EIGHT_BIT_PALETTE if depth == "256" else STANDARD_PALETTE
    return colour.number, tuple(palette[colour.number])


def lch(rgb) -> tuple[float, float, float]:
    lab = cielab(rgb)
    return float(lab[0]), float(np.hypot(lab[1], lab[2])), float(np.degrees(np.arctan2(lab[2], lab[1])) % 360)


def band(rgb) -> str:
    """"orange", "blue", "neutral" (a grey: CIELAB chroma under 10) or "off" for any other hue.

    Orange is CIELAB hue 50-78 (the Playground's orange 67, ColorBrewer PuOr's 59-73; mustard
    (135, 95, 0) is 80), blue 240-290 (the Playground's 268, RdBu's 239-276; teal (0, 95, 95)
    is 196, navy (0, 0, 95) 301).
    """
    _, chroma, hue = lch(rgb)
    if chroma < 10:
        return "neutral"
    if 50 <= hue <= 78:
        return "orange"
    if 240 <= hue <= 290:
        return "blue"
    return "off"


def off_hue_share(pixels: np.ndarray, depth: str) -> float:
    """Share of `pixels` (..., 3) whose colour, as the terminal shows it, is off the orange
    and blue bands and not a grey."""
    colours, counts = np.unique(pixels.reshape(-1, 3), axis=0, return_counts=True)
    off = [band(shown(c, depth)[1]) == "off" for c in colours]
    return float(counts[off].sum() / counts.sum())


def spiral_field(rows: int = 88, cols: int = 96) -> Field:
    """A two-arm spiral's P(class 1), sharp inside the arms and soft at their edges, as a
    trained model draws it (every shade of the field occurs)."""
    y, x = np.mgrid[1:-1:rows * 1j, -1:1:cols * 1j]
    r, theta = np.hypot(x, y), np.arctan2(y, x)
    logit = 5.0 * np.sin(theta - 3.0 * np.pi * r)
    prob = 1.0 / (1.0 + np.exp(-logit))
    return Field("binary", prob, (prob >= 0.5).astype(np.intp), 2)


# ---------------------------------------------------------------------- the depth
@pytest.mark.parametrize(("system", "depth"), [
    ("truecolor", "truecolor"), ("256", "256"), ("standard", "16"), ("windows", "16"), (None, "truecolor"),
])
def test_colour_depth_follows_textuals_color_system(system, depth):
    assert colour_depth(system) == depth


def test_xterm_index_is_richs_downgrade():
    rng = np.random.default_rng(0)
    colours = np.concatenate([rng.integers(0, 256, (3000, 3)), np.repeat(np.arange(256)[:, None], 3, axis=1),
                              XTERM_RGB[16:].astype(np.int64)])
    mine = xterm_index(colours)
    richs = [shown(c, "256")[0] for c in colours]
    assert mine.tolist() == richs


def test_showable_colours_pass_through_rich_unchanged():
    assert all(shown(XTERM_RGB[i], "256")[0] == i for i in SHOWABLE_256)
    assert all(tuple(XTERM_RGB[i]) == tuple(EIGHT_BIT_PALETTE[i]) for i in range(16, 256))
    assert 94 in SHOWABLE_256 and 102 not in SHOWABLE_256 and 255 not in SHOWABLE_256  # (135,135,135), (238,238,238)
    assert all(shown(c, "16") == (i, tuple(c)) for i, c in enumerate(ANSI_RGB.tolist()))


# ---------------------------------------------------------------------- the heatmap's map
def test_diverging_is_unchanged_in_truecolor():
    values = np.linspace(-1.2, 1.2, 49)
    assert np.array_equal(diverging(values, 1.0), diverging(values, 1.0, "truecolor"))


@pytest.mark.parametrize("depth", ["256", "16"])
def test_diverging_steps_are_palette_colours_with_a_neutral_zero(depth):
    levels = (np.arange(17) - 8) / 8  # the heatmap's 17 levels
    colours = diverging(levels, 1.0, depth)
    for c in colours.tolist() + [diverging(np.nan, 1.0, depth).tolist()]:
        index, rgb = shown(c, depth)
        assert rgb == tuple(c)  # the terminal shows exactly what was drawn
    zero = tuple(colours[8])
    assert band(zero) == "neutral" and lch(zero)[0] > 95  # white
    nan = tuple(diverging(np.nan, 1.0, depth))
    assert band(nan) == "neutral" and nan != zero
    ramp = DIVERGING_256 if depth == "256" else DIVERGING_16
    assert len({tuple(c) for c in colours}) == len(ramp)  # every step is used
    light = [lch(c)[0] for c in colours]
    assert all(a <= b + 1e-9 for a, b in zip(light[:9], light[1:9]))  # lighter toward 0 ...
    assert all(a >= b - 1e-9 for a, b in zip(light[8:], light[9:]))  # ... and darker beyond


def test_diverging_at_256_keeps_orange_and_blue_and_lightness_symmetric():
    colours = diverging((np.arange(17) - 8) / 8, 1.0, "256")
    assert [band(c) for c in colours[:8]] == ["orange"] * 8
    assert [band(c) for c in colours[9:]] == ["blue"] * 8
    light = np.array([lch(c)[0] for c in colours])
    assert np.max(np.abs(light[:8] - light[9:][::-1])) < 10  # v and -v about as far from white
    truecolor = np.array([lch(c)[0] for c in diverging((np.arange(17) - 8) / 8, 1.0)])
    assert np.max(np.abs(light - truecolor)) < 15  # and about as light as in truecolour (4 steps, not 8)


def test_diverging_at_256_was_off_hue_through_richs_downgrade():
    """What the issue saw: near zero cyan-ish and cream, no longer white."""
    levels = (np.arange(17) - 8) / 8
    before = [band(shown(c, "256")[1]) for c in diverging(levels, 1.0)]
    after = [band(shown(c, "256")[1]) for c in diverging(levels, 1.0, "256")]
    assert "off" in before
    assert "off" not in after


def test_diverging_at_16_is_yellow_white_blue():
    colours = diverging(np.array([-1.0, -0.25, 0.0, 0.25, 1.0]), 1.0, "16")
    assert [shown(c, "16")[0] for c in colours] == [3, 11, 15, 14, 4]


# ---------------------------------------------------------------------- hue-keeping palette colours
def test_fit_hue_keeps_orange_out_of_mustard():
    field_orange = (143, 89, 27)  # the field's orange on the dark background, in truecolour
    assert shown(field_orange, "256")[1] == (135, 95, 0)  # Rich: mustard
    assert fit_hue(field_orange) == (175, 95, 0)
    field_blue = (12, 74, 112)
    assert shown(field_blue, "256")[1] == (0, 95, 95)  # Rich: teal
    assert band(fit_hue(field_blue)) == "blue"


def test_fit_hue_contrast_and_hue_source():
    tone = fit_hue((12, 74, 112))
    point = fit_hue(BLUE, away_from=tone, min_contrast=POINT_CONTRAST)
    assert abs(lch(point)[0] - lch(tone)[0]) >= POINT_CONTRAST and band(point) == "blue"
    assert band(fit_hue((60, 60, 60), hue=ORANGE)) == "orange"  # a dark grey, in orange's hue


@pytest.mark.parametrize(("colour", "pair"), [(ORANGE, (3, 11)), (BLUE, (4, 14)), ((44, 160, 44), (2, 10)),
                                              ((214, 39, 40), (1, 9)), ((23, 190, 207), (6, 12)),
                                              ((148, 103, 189), (5, 13)), ((128, 128, 128), (7, 15))])
def test_ansi_pair(colour, pair):
    assert ansi_pair(colour) == pair


# ---------------------------------------------------------------------- class colours
@pytest.mark.parametrize("background", BACKGROUNDS)
@pytest.mark.parametrize("depth", ["256", "16"])
def test_depth_colours_are_shown_as_drawn_and_points_stand_out(depth, background):
    for colour in CLASS_COLORS:
        tone, point = depth_colors(colour, background, depth)
        assert shown(tone, depth)[1] == tone and shown(point, depth)[1] == point
        assert shown(tone, depth)[0] != shown(point, depth)[0]
        if depth == "256":
            assert abs(lch(point)[0] - lch(tone)[0]) >= POINT_CONTRAST
            for c in (tone, point):  # the class's hue, within 24 degrees
                assert abs((lch(c)[2] - lch(colour)[2] + 180) % 360 - 180) <= 24
    if depth == "256":
        assert band(depth_colors(ORANGE, background, depth)[0]) == "orange"
        assert band(depth_colors(BLUE, background, depth)[0]) == "blue"


@pytest.mark.parametrize(("depth", "distinct"), [("256", 8), ("16", 6)])
def test_class_colours_stay_distinct(depth, distinct):
    """All 8 at 256 colours; at 16 the six ANSI hues (classes 6 and 7 repeat 4 and 0 there,
    as every class past 8 does in truecolour: the glyphs still differ)."""
    for background in BACKGROUNDS:
        indices = [shown(class_color(i, depth, background), depth)[0] for i in range(distinct)]
        assert len(set(indices)) == distinct
        tones = [shown(depth_colors(c, background, depth)[0], depth)[0] for c in CLASS_COLORS[:distinct]]
        assert len(set(tones)) == distinct


def test_truecolor_class_colours_are_unchanged():
    assert [class_color(i) for i in range(8)] == list(CLASS_COLORS)
    assert [class_color(i, "truecolor", DARK_BG) for i in range(8)] == list(CLASS_COLORS)
    assert depth_colors(ORANGE, DARK_BG, "truecolor") == (
        tuple(int(v) for v in diverging_colors(np.array([-1.0]), DARK_BG, strength=FIELD_STRENGTH)[0]), ORANGE)


# ---------------------------------------------------------------------- the field
def test_spiral_field_stays_orange_and_blue_at_256_colours():
    field = spiral_field()
    before = off_hue_share(field_colors(field, DARK_BG), "256")
    after = off_hue_share(field_colors(field, DARK_BG, depth="256"), "256")
    assert before > 0.3  # mustard, teal, navy and maroon through Rich's downgrade
    assert after == 0.0
    pixels = field_colors(field, DARK_BG, depth="256")
    bands = {band(shown(c, "256")[1]) for c in np.unique(pixels.reshape(-1, 3), axis=0)}
    assert bands == {"orange", "blue", "neutral"}


@pytest.mark.parametrize("depth", ["256", "16"])
@pytest.mark.parametrize("background", [DARK_BG, (224, 224, 224)])
def test_field_tones_and_the_neutral_band(depth, background):
    field = spiral_field()
    pixels = field_colors(field, background, depth=depth)
    certainty = np.abs(2 * field.value - 1)
    orange, blue = depth_colors(ORANGE, background, depth)[0], depth_colors(BLUE, background, depth)[0]
    sure = np.rint(certainty * 4) / 4 >= 0.5
    assert np.all(pixels[sure & (field.label == 0)] == orange)
    assert np.all(pixels[sure & (field.label == 1)] == blue)
    assert np.all(pixels[~sure] == background)  # unsure: neutral


def test_points_stand_out_on_the_field_behind_them():
    """The blue glyph on the blue field, which was teal on teal (L* 52 on 36)."""
    field = spiral_field()
    before_field = shown(field_colors(field, DARK_BG)[field.label == 1][0], "256")[1]
    before_point = shown(BLUE, "256")[1]
    assert abs(lch(before_point)[0] - lch(before_field)[0]) < POINT_CONTRAST
    for depth in ("256", "16"):
        pixels = field_colors(field, DARK_BG, depth=depth)
        points = point_colors(np.array([0, 1]), "classification", background=DARK_BG, depth=depth)
        for label in (0, 1):
            behind = np.unique(pixels[field.label == label].reshape(-1, 3), axis=0)
            for colour in behind:
                assert abs(lch(points[label])[0] - lch(colour)[0]) >= (POINT_CONTRAST if depth == "256" else 10)


@pytest.mark.parametrize("depth", ["256", "16"])
def test_multiclass_and_regression_fields_draw_palette_colours(depth):
    rng = np.random.default_rng(1)
    label = rng.integers(0, 5, (20, 30))
    conf = rng.uniform(0.2, 1.0, (20, 30))
    for background in (DARK_BG, (224, 224, 224)):
        multi = field_colors(Field("multiclass", conf, label, 5), background, depth=depth)
        value = np.linspace(-3, 5, 600).reshape(20, 30)
        regression = field_colors(Field("regression", value, None), background, depth=depth)
        for pixels in (multi, regression):
            for c in np.unique(pixels.reshape(-1, 3), axis=0):
                if tuple(c) != background:
                    assert shown(c, depth)[1] == tuple(c)
        if depth == "256":
            assert off_hue_share(regression, depth) == 0.0
    points = point_colors(np.array([-3.0, 0.0, 5.0]), "regression", value_range=(-3.0, 5.0), background=DARK_BG,
                          depth=depth)
    if depth == "256":
        assert [band(c) for c in points[::2]] == ["orange", "blue"]
    else:
        assert [shown(c, depth)[0] for c in points[::2]] == [11, 14]  # bright yellow, bright cyan
    assert band(points[1]) == "neutral"


# ---------------------------------------------------------------------- in the app
def test_terminal_depth_follows_the_app_console(monkeypatch):
    from tuinet.app.app import make_app

    class Detached:
        @property
        def app(self):
            raise RuntimeError("no app")

    assert terminal_depth(Detached()) == "truecolor"
    for system, depth in (("256", "256"), ("standard", "16"), ("truecolor", "truecolor")):
        monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", system)
        app = make_app("xor", seed=0, show_timing=False)
        assert terminal_depth(type("W", (), {"app": app})()) == depth
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "256")
    app = make_app("xor", seed=0, show_timing=False)
    assert app.no_color and terminal_depth(type("W", (), {"app": app})()) == "truecolor"  # NO_COLOR as before


@pytest.mark.parametrize(("system", "depth"), [("256", "256"), ("standard", "16")])
async def test_boundary_and_heatmap_draw_only_palette_colours(monkeypatch, system, depth):
    from tuinet.app.app import make_app
    from tuinet.app.widgets.boundary import DecisionBoundary
    from tuinet.app.widgets.heatmap import WeightHeatmap

    from .test_snapshots import run_xor, show

    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", system)
    app = make_app("xor", seed=0, epochs=3, show_timing=False, pace=20)
    async with app.run_test(size=(120, 40)) as pilot:
        await run_xor(pilot)
        await show(pilot, "3")
        boundary = app.screen.query_one(DecisionBoundary)
        assert terminal_depth(boundary) == depth
        bg = boundary._colours()[1]
        canvas = boundary.canvas
        assert canvas is not None and boundary.field is not None
        rows = boundary.field_rows
        drawn = {unpack_rgb(int(c)) for c in np.unique(np.concatenate([canvas.fg[:rows], canvas.bg[:rows]]))}
        chromatic = {c for c in drawn if band(c) != "neutral"}
        assert chromatic  # the field and the points
        assert all(shown(c, depth)[1] == c for c in chromatic)
        assert chromatic <= {depth_colors(c, bg, depth)[i] for c in (ORANGE, BLUE) for i in (0, 1)}
        await show(pilot, "2")
        heatmap = app.screen.query(WeightHeatmap).first()
        cells = heatmap._canvas
        assert cells is not None and heatmap.coloured_cells() > 0
        picture = slice(0, cells.height - 1)  # the last line is the cursor's, in the theme's accent
        drawn = {unpack_rgb(int(c)) for c in np.unique(np.concatenate([cells.fg[picture], cells.bg[picture]]))}
        ramp = {tuple(int(v) for v in c) for c in diverging(np.linspace(-1, 1, 17), 1.0, depth)}
        assert {c for c in drawn if band(c) != "neutral"} <= ramp

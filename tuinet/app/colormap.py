"""Colour maps for the weight heatmaps and the decision boundary (NumPy only, no Textual).

- `diverging(values, vmax)`: signed data, -vmax orange .. 0 white .. +vmax blue, the
  TensorFlow Playground's convention and the decision boundary's (ColorBrewer PuOr's orange
  half and RdBu's blue half, 9 anchors interpolated in RGB); NaN is a mid grey that no finite
  value gets.
- `sequential(values, vmax)`: non-negative data (magnitudes), 0 dark purple .. vmax yellow
  (viridis, 10 anchors interpolated in RGB); NaN the same grey.
- `symmetric_limit` and `nice_limit`: a colour range that one outlier cannot wash out, rounded
  to a short, stable number for the legend.
- Colour depth: `colour_depth` names what the terminal shows ("truecolor", "256" or "16",
  from Textual's `console.color_system`). Below truecolour, Rich sends each RGB colour as the
  nearest palette entry, which turns orange into mustard and blue into teal; so the maps pick
  palette colours themselves: `diverging(..., depth=)` steps through `DIVERGING_256` or
  `DIVERGING_16`, and `fit_hue` finds the palette colour nearest to any colour without
  leaving its hue. Every colour drawn at 256 colours is one that Rich passes through
  unchanged (`SHOWABLE_256`); at 16 it is one of Rich's 16 standard colours (`ANSI_RGB`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ANSI_RGB",
    "DEPTHS",
    "DIVERGING_16",
    "DIVERGING_256",
    "DIVERGING_ANCHORS",
    "NAN_RGB",
    "SEQUENTIAL_ANCHORS",
    "SHOWABLE_256",
    "XTERM_RGB",
    "ansi_pair",
    "cielab",
    "colour_depth",
    "diverging",
    "fit_hue",
    "nice_limit",
    "palette_rgb",
    "sequential",
    "symmetric_limit",
    "xterm_index",
]

# From -vmax (orange) to +vmax (blue), as the Playground colours negative and positive weights
# and as the decision boundary colours class 0 and 1: ColorBrewer PuOr's orange side
# (#b35806 .. #fee0b6), the near-white centre, RdBu's blue side (#d1e5f0 .. #2166ac). The two
# sides step down in lightness alike; the darkest ends of the 11-class maps are left out (on a
# dark terminal they vanish into the background).
DIVERGING_ANCHORS = np.array([
    (179, 88, 6), (224, 130, 20), (253, 184, 99), (254, 224, 182),
    (247, 247, 247),
    (209, 229, 240), (146, 197, 222), (67, 147, 195), (33, 102, 172),
], dtype=float)

# viridis at 10 evenly spaced stops, from 0 to vmax.
SEQUENTIAL_ANCHORS = np.array([
    (68, 1, 84), (72, 40, 120), (62, 73, 137), (49, 104, 142), (38, 130, 142),
    (31, 158, 137), (53, 183, 121), (110, 206, 88), (181, 222, 43), (253, 231, 37),
], dtype=float)

NAN_RGB = (96, 96, 96)
"""The colour of NaN in both maps: a mid grey, darker than the diverging map's white centre."""

_NICE_STEPS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)

# ---------------------------------------------------------------------- colour depth (constants)
DEPTHS = ("truecolor", "256", "16")
"""What a terminal shows: 24-bit colour, the xterm 256-colour palette, or the 16 ANSI colours."""

ANSI_RGB = np.array([
    (0, 0, 0), (170, 0, 0), (0, 170, 0), (170, 85, 0), (0, 0, 170), (170, 0, 170), (0, 170, 170), (170, 170, 170),
    (85, 85, 85), (255, 85, 85), (85, 255, 85), (255, 255, 85), (85, 85, 255), (255, 85, 255), (85, 255, 255),
    (255, 255, 255),
], dtype=np.uint8)
"""The 16 ANSI colours as Rich matches colours against them (its `STANDARD_PALETTE`). A colour
drawn at 16 colours is one of these, so Rich sends exactly that index; the terminal shows its
own version of it (index 3 is orange-brown here, yellow in xterm)."""

_CUBE = (0, 95, 135, 175, 215, 255)
XTERM_RGB = np.array(
    [*ANSI_RGB.tolist(), *((r, g, b) for r in _CUBE for g in _CUBE for b in _CUBE),
     *((v, v, v) for v in range(8, 239, 10))], dtype=np.uint8)
"""The 256-colour palette: the 16 ANSI colours, the 6x6x6 cube (16-231), the grey ramp (232-255)."""

DIVERGING_256 = (130, 172, 215, 223, 231, 153, 75, 32, 25)
"""`diverging` at 256 colours, -1 .. +1: four oranges and four blues from the cube that step
down in lightness alike (CIELAB L* 88 / 85, 78 / 70, 63 / 54, 49 / 40), white at 0."""
DIVERGING_16 = (3, 11, 15, 14, 4)
"""`diverging` at 16 colours: yellow (orange-brown in many palettes), bright yellow, bright
white at 0, bright cyan, blue. Bright cyan, not bright blue, for small positive values: in
most palettes it is as light as bright yellow, while bright blue is nearly as dark as blue."""
NAN_INDEX = {"256": 240, "16": 8}
"""NaN at each reduced depth: a mid grey (`NAN_RGB` is (96, 96, 96))."""
HUE_TOLERANCE = 12.0
"""How far (CIELAB hue, degrees) `fit_hue` may stray from the hue it keeps: orange's nearest
cube entries, mustard (135, 95, 0) and (175, 95, 0), lie 13 and 2 degrees from it."""


def _ramp(t: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """RGB (uint8) at positions `t` in [0, 1] of the piecewise-linear ramp through `anchors`; NaN -> grey."""
    nan = np.isnan(t)
    pos = np.clip(np.where(nan, 0.0, t), 0.0, 1.0) * (len(anchors) - 1)
    low = np.minimum(pos.astype(np.intp), len(anchors) - 2)
    frac = (pos - low)[..., None]
    rgb = anchors[low] * (1.0 - frac) + anchors[low + 1] * frac
    rgb = np.rint(rgb).astype(np.uint8)
    rgb[nan] = NAN_RGB
    return rgb


def diverging(values, vmax: float, depth: str = "truecolor") -> np.ndarray:
    """Colours of signed `values` on an orange-white-blue map centred on zero, as uint8 `(..., 3)`.

    -vmax and below are the orange end, 0 is near-white (247, 247, 247), +vmax and above the
    blue end; in between the anchors are interpolated in RGB. The map is symmetric
    about zero in lightness: v and -v are equally far from white. NaN is `NAN_RGB`; +-inf clip
    to the ends. With `vmax <= 0` every value maps by its sign (zero stays white).

    At `depth` "256" or "16" the map has steps instead: `DIVERGING_256` (4 per side, white 0)
    or `DIVERGING_16` (2 per side, bright white 0); each side's (0, vmax] splits evenly among
    its steps, and NaN is a palette grey (`NAN_INDEX`).
    """
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.sign(v) if not vmax > 0 else np.clip(v / float(vmax), -1.0, 1.0)
    t = np.where(np.isnan(v), np.nan, t)
    if depth == "256":
        return _steps(t, DIVERGING_256, depth)
    if depth == "16":
        return _steps(t, DIVERGING_16, depth)
    return _ramp((t + 1.0) / 2.0, DIVERGING_ANCHORS)


def sequential(values, vmax: float) -> np.ndarray:
    """Colours of non-negative `values` (magnitudes) on viridis, as uint8 `(..., 3)`.

    0 (and below) is dark purple, `vmax` and above bright yellow. NaN is `NAN_RGB`. With
    `vmax <= 0` zero is the dark end and every positive value the bright end.
    """
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (v > 0).astype(float) if not vmax > 0 else v / float(vmax)
    t = np.where(np.isnan(v), np.nan, t)
    return _ramp(t, SEQUENTIAL_ANCHORS)


# ---------------------------------------------------------------------- colour depth
def colour_depth(color_system: str | None) -> str:
    """The depth (one of `DEPTHS`) of a Rich / Textual console's `color_system`.

    Textual detects it as Rich does (`COLORTERM=truecolor` or `24bit`: "truecolor"; else the
    `TERM` suffix: `-256color` "256", anything else "standard"; `TEXTUAL_COLOR_SYSTEM`
    overrides): "256" is "256"; "standard" and "windows" are "16"; "truecolor" and None (no
    terminal: Textual then writes truecolour) are "truecolor".
    """
    if color_system == "256":
        return "256"
    if color_system in ("standard", "windows"):
        return "16"
    return "truecolor"


def xterm_index(rgb) -> np.ndarray:
    """The 256-colour palette index that Rich sends for each RGB colour `(..., 3)`.

    A NumPy twin of `rich.color.Color.downgrade(ColorSystem.EIGHT_BIT)`: a colour with an HLS
    saturation under 0.15 goes to the grey ramp by its lightness (16 black, 232-255, 231
    white); any other to the cube entry nearest on each channel.
    """
    a = np.asarray(rgb, dtype=np.float64)
    n = a / 255.0
    high, low = n.max(axis=-1), n.min(axis=-1)
    light, span = (high + low) / 2.0, high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        sat = np.where(span == 0, 0.0, np.where(light <= 0.5, span / (high + low), span / (2.0 - high - low)))
    grey = np.rint(light * 25.0)
    grey_index = np.where(grey == 0, 16, np.where(grey == 25, 231, 231 + grey))
    six = np.rint(np.where(a < 95, a / 95.0, 1.0 + (a - 95.0) / 40.0))
    cube = 16 + 36 * six[..., 0] + 6 * six[..., 1] + six[..., 2]
    return np.where(sat < 0.15, grey_index, cube).astype(np.intp)


SHOWABLE_256 = np.flatnonzero(xterm_index(XTERM_RGB) == np.arange(256))
"""The palette entries that Rich sends as themselves (all of the cube but its four inner
greys, and the grey ramp up to 246; lighter ramp greys come out one step darker)."""


def palette_rgb(index, depth: str) -> np.ndarray:
    """The RGB (uint8) to draw for palette `index` (int or array) at `depth` ("256" or "16")."""
    return (XTERM_RGB if depth == "256" else ANSI_RGB)[np.asarray(index, dtype=np.intp)]


def cielab(rgb) -> np.ndarray:
    """CIELAB `(..., 3)` (L* 0-100, a*, b*; D65) of sRGB colours `(..., 3)` in 0-255."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = c @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def _lch(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return lab[..., 0], np.hypot(lab[..., 1], lab[..., 2]), np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360


_SHOWABLE_LCH = _lch(cielab(XTERM_RGB[SHOWABLE_256]))


def fit_hue(target, *, hue=None, away_from=None, min_contrast: float = 0.0) -> tuple[int, int, int]:
    """The 256-colour palette entry nearest to `target` (RGB) that keeps the hue of `hue`
    (an RGB colour; default `target` itself).

    Only entries that Rich sends as themselves (`SHOWABLE_256`) and have some colour (CIELAB
    chroma 10 or more) count, within `HUE_TOLERANCE` degrees of the hue (wider only when none
    lies that close). Among those, the nearest in CIELAB with lightness counted double and hue
    thrice, so a dark orange stays a darker orange, not mustard. With `away_from`, only
    entries whose L* differs from that colour's by at least `min_contrast` count (a glyph that
    must stand out on it).
    """
    t_l, t_c, _ = _lch(cielab(target))
    _, _, t_h = _lch(cielab(target if hue is None else hue))
    light, chroma, hues = _SHOWABLE_LCH
    dh = np.abs((hues - t_h + 180.0) % 360.0 - 180.0)
    ok = chroma >= 10.0
    if away_from is not None:
        ok &= np.abs(light - cielab(away_from)[0]) >= min_contrast
    for tolerance in (HUE_TOLERANCE, 2 * HUE_TOLERANCE, 180.0):
        pick = ok & (dh <= tolerance)
        if pick.any():
            break
    chord = 2.0 * np.sqrt(chroma * t_c) * np.sin(np.radians(dh) / 2.0)
    distance = (2.0 * (light - t_l)) ** 2 + (chroma - t_c) ** 2 + (3.0 * chord) ** 2
    index = SHOWABLE_256[int(np.argmin(np.where(pick, distance, np.inf)))]
    r, g, b = (int(v) for v in XTERM_RGB[index])
    return (r, g, b)


_ANSI_HUES = ((70.0, 3, 11), (35.0, 1, 9), (140.0, 2, 10), (200.0, 6, 12), (270.0, 4, 14), (320.0, 5, 13))
"""(CIELAB hue, field index, point index) of the six ANSI hues; orange counts as yellow."""


def ansi_pair(colour) -> tuple[int, int]:
    """Two ANSI indices for `colour`'s hue, one to fill an area and one for glyphs on it (on a
    dark background; the other way round on a light one), as far apart in lightness as most
    palettes allow: orange and olive (3 yellow, 11 bright yellow), red (1, 9), green (2, 10),
    magenta for purple and pink (5, 13), blue (4 blue, 14 bright cyan: bright blue is too
    dark on blue in many palettes) and cyan (6, 12 bright blue); a grey (7, 15)."""
    _, chroma, hue = _lch(cielab(colour))
    if chroma < 10.0:
        return (7, 15)
    gaps = [abs((hue - h + 180.0) % 360.0 - 180.0) for h, _, _ in _ANSI_HUES]
    _, dark, bright = _ANSI_HUES[int(np.argmin(gaps))]
    return (dark, bright)


def _steps(t: np.ndarray, ramp: tuple[int, ...], depth: str) -> np.ndarray:
    """RGB of positions `t` in [-1, 1] (NaN: `NAN_INDEX`) on a palette `ramp` of 2k + 1 indices:
    0 is the centre, each side's (0, 1] splits into k equal steps."""
    k = len(ramp) // 2
    nan = np.isnan(t)
    s = np.where(nan, 0.0, t)
    step = np.clip(np.ceil(np.abs(s) * k - 1e-9), 0, k).astype(np.intp)
    index = np.asarray(ramp, dtype=np.intp)[k + np.sign(s).astype(np.intp) * step]
    return palette_rgb(np.where(nan, NAN_INDEX[depth], index), depth)


def symmetric_limit(values, percentile: float = 99) -> float:
    """A robust colour limit: the `percentile`-th percentile of `|values|` (finite ones only).

    One huge outlier among many ordinary values does not move it. When that percentile is 0
    but some values are not (a mostly zero matrix), the largest magnitude is used instead, so
    the few non-zero values still show. 0.0 for no finite values.
    """
    magnitudes = np.abs(np.asarray(values, dtype=float)).ravel()
    magnitudes = magnitudes[np.isfinite(magnitudes)]
    if magnitudes.size == 0:
        return 0.0
    limit = float(np.percentile(magnitudes, percentile))
    return limit if limit > 0 else float(magnitudes.max())


def nice_limit(limit: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 5, 7 times a power of ten that is >= `limit` (0.0 for <= 0).

    A colour range on these steps reads well in a legend and stays put while the data drifts
    within a step, so the colours of unchanged values do not flicker from one redraw to the next.
    """
    if not limit > 0 or not math.isfinite(limit):
        return 0.0
    exponent = math.floor(math.log10(limit))
    for scale in (exponent, exponent + 1):
        for step in _NICE_STEPS:
            nice = step * 10.0**scale
            if nice >= limit * (1 - 1e-12):
                return float(f"{nice:.12g}")
    return float(10.0 ** (exponent + 1))  # unreachable: 10**(exponent+1) >= limit

"""SVG snapshots of the app after a short seeded run (pytest-textual-snapshot).

Repeatable by construction: a fixed seed and a finished 3-epoch XOR run, `show_timing=False`
(no samples/s, elapsed or ms/step), notifications cleared, plots redrawn unthrottled, steady
cursors. Update with `pytest tests/app/test_snapshots.py --snapshot-update` only after
reading the diff report.

The `..._256_colours` and `..._16_colours` snapshots show a terminal of that depth: the app
detects it (`TEXTUAL_COLOR_SYSTEM`, here `textual.constants.COLOR_SYSTEM`), and a line filter
(`TerminalPalette`) turns every colour into the palette entry Rich sends for it, so the SVG
shows what that terminal shows (the 16 colours as Rich's standard palette has them).
"""

from __future__ import annotations

from functools import lru_cache

import textual.constants
from rich.color import EIGHT_BIT_PALETTE, STANDARD_PALETTE, ColorSystem
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.filter import LineFilter
from textual.pilot import Pilot

from tuinet.app.app import make_app
from tuinet.app.screens.dialogs import HelpScreen

from .conftest import no_cursor_blink, settle, unthrottle


def xor_app():
    return make_app("xor", seed=0, epochs=3, show_timing=False, pace=20)


async def finish_drawing(pilot: Pilot) -> None:
    """Everything on screen final: no toasts, plots drawn from the latest data, no blinking."""
    app = pilot.app
    await settle(pilot)
    app.clear_notifications()
    unthrottle(app)
    no_cursor_blink(app)
    await pilot.pause()


async def run_xor(pilot: Pilot) -> None:
    """Play the 3-epoch run to the end."""
    await pilot.pause()
    await pilot.press("space")
    await finish_drawing(pilot)


def test_main_screen_80x24_after_a_run(snap_compare):
    assert snap_compare(xor_app(), terminal_size=(80, 24), run_before=run_xor)


def test_main_screen_160x48_after_a_run(snap_compare):
    assert snap_compare(xor_app(), terminal_size=(160, 48), run_before=run_xor)


def test_model_tab_80x24(snap_compare):
    async def run_before(pilot: Pilot) -> None:
        await run_xor(pilot)
        pilot.app.screen.active_tab = "architecture"
        await finish_drawing(pilot)

    assert snap_compare(xor_app(), terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare):
    async def run_before(pilot: Pilot) -> None:
        await pilot.pause()
        await pilot.press("question_mark")
        await finish_drawing(pilot)
        assert isinstance(pilot.app.screen, HelpScreen)

    assert snap_compare(xor_app(), terminal_size=(80, 24), run_before=run_before)


def test_terminal_too_small(snap_compare):
    async def run_before(pilot: Pilot) -> None:
        await finish_drawing(pilot)
        assert pilot.app.screen.has_class("-too-small")

    assert snap_compare(xor_app(), terminal_size=(70, 20), run_before=run_before)


async def show_view(pilot: Pilot, key: str) -> None:
    """Run the 3-epoch XOR, switch to a view, draw it unthrottled."""
    await run_xor(pilot)
    await show(pilot, key)


async def show(pilot: Pilot, key: str) -> None:
    """Switch to a view, draw it unthrottled."""
    from tuinet.app.widgets.boundary import DecisionBoundary, NeuronMaps
    from tuinet.app.widgets.confusion import ConfusionMatrixView
    from tuinet.app.widgets.heatmap import GradientNormPlot, WeightHeatmap

    await pilot.press(key)
    await pilot.pause()
    for kind in (WeightHeatmap, DecisionBoundary, NeuronMaps, ConfusionMatrixView, GradientNormPlot):
        for widget in pilot.app.screen.query(kind):
            widget.min_interval = 0
            widget.refresh()
    await finish_drawing(pilot)
    await pilot.pause(0.1)


def test_weights_view_160x48(snap_compare):
    async def run_before(pilot: Pilot) -> None:
        await show_view(pilot, "2")

    assert snap_compare(xor_app(), terminal_size=(160, 48), run_before=run_before)


def test_boundary_view_160x48(snap_compare):
    async def run_before(pilot: Pilot) -> None:
        await show_view(pilot, "3")

    assert snap_compare(xor_app(), terminal_size=(160, 48), run_before=run_before)


def test_data_view_160x48(snap_compare):
    async def run_before(pilot: Pilot) -> None:
        await show_view(pilot, "4")

    assert snap_compare(xor_app(), terminal_size=(160, 48), run_before=run_before)


def test_boundary_view_80x24(snap_compare):
    async def run_before(pilot: Pilot) -> None:
        await show_view(pilot, "3")

    assert snap_compare(xor_app(), terminal_size=(80, 24), run_before=run_before)


# ---------------------------------------------------------------------- colour depths
class TerminalPalette(LineFilter):
    """Every colour as a terminal of `system` shows it: Rich's downgrade to that palette (what
    Textual sends there), back in RGB, so the screenshot has the terminal's colours."""

    def __init__(self, system: ColorSystem) -> None:
        super().__init__()
        self.system = system
        self.palette = EIGHT_BIT_PALETTE if system == ColorSystem.EIGHT_BIT else STANDARD_PALETTE

    def _colour(self, colour: RichColor | None) -> RichColor | None:
        if colour is None or colour.triplet is None:
            return colour
        return RichColor.from_rgb(*self.palette[colour.downgrade(self.system).number])

    @lru_cache(maxsize=1024)  # noqa: B019 - one filter per test app
    def _style(self, style: Style) -> Style:
        return style + Style(color=self._colour(style.color), bgcolor=self._colour(style.bgcolor))

    def apply(self, segments: list[Segment], background) -> list[Segment]:
        return [Segment(text, None if style is None else self._style(style), control)
                for text, style, control in segments]


DEPTHS = {"256": ("256", ColorSystem.EIGHT_BIT), "16": ("standard", ColorSystem.STANDARD)}


def depth_app(monkeypatch, depth: str):
    """`xor_app()` in a terminal of `depth` colours, its screen in that terminal's colours."""
    system, palette = DEPTHS[depth]
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", system)
    app = xor_app()
    filters = app.get_line_filters
    terminal = TerminalPalette(palette)
    app.get_line_filters = lambda: [*filters(), terminal]
    return app


async def show_boundary(pilot: Pilot) -> None:
    await show_view(pilot, "3")


async def show_weights(pilot: Pilot) -> None:
    await show_view(pilot, "2")


def test_boundary_view_160x48_256_colours(snap_compare, monkeypatch):
    assert snap_compare(depth_app(monkeypatch, "256"), terminal_size=(160, 48), run_before=show_boundary)


def test_boundary_view_160x48_16_colours(snap_compare, monkeypatch):
    assert snap_compare(depth_app(monkeypatch, "16"), terminal_size=(160, 48), run_before=show_boundary)


def test_weights_view_160x48_256_colours(snap_compare, monkeypatch):
    assert snap_compare(depth_app(monkeypatch, "256"), terminal_size=(160, 48), run_before=show_weights)


def test_weights_view_160x48_16_colours(snap_compare, monkeypatch):
    assert snap_compare(depth_app(monkeypatch, "16"), terminal_size=(160, 48), run_before=show_weights)

"""SVG snapshots of the app after a short seeded run (pytest-textual-snapshot).

Repeatable by construction: a fixed seed and a finished 3-epoch XOR run, `show_timing=False`
(no samples/s, elapsed or ms/step), notifications cleared, plots redrawn unthrottled, steady
cursors. Update with `pytest tests/app/test_snapshots.py --snapshot-update` only after
reading the diff report.
"""

from __future__ import annotations

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
    from tuinet.app.widgets.boundary import DecisionBoundary, NeuronMaps
    from tuinet.app.widgets.confusion import ConfusionMatrixView
    from tuinet.app.widgets.heatmap import GradientNormPlot, WeightHeatmap

    await run_xor(pilot)
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

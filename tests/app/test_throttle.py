"""`ThrottledRedraw`'s byte budget: big redraws wait longer over a slow link."""

from __future__ import annotations

from tests.app.conftest import wait_until
from tuinet.app.widgets.throttle import ThrottledRedraw


def test_a_byte_budget_spaces_big_redraws():
    w = ThrottledRedraw()
    w.min_interval, w._last_draw = 0.5, 100.0
    w._draw_bytes = 87_000
    assert w._next_draw(100.0) == 100.5  # no budget: the frame rate alone
    w.byte_budget = 20_000
    assert abs(w._next_draw(100.0) - (100.0 + 87_000 / 20_000)) < 1e-9  # 4.35 s for an 87 KB redraw
    w._draw_bytes = 2_000
    assert w._next_draw(100.0) == 100.5  # small redraws keep the frame rate


async def test_the_weights_view_sets_the_budget_at_ssh_rates(make_test_app):
    app = make_test_app("digits-mlp", epochs=2, refresh_hz=2)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await pilot.pause(0.5)
        heatmap = app.screen.query_one("LayerWeightsView").heatmap
        assert heatmap.byte_budget == 20_000
        await pilot.press("n")  # one batch: new weights, a redraw
        await wait_until(pilot, lambda: heatmap._draw_bytes > 0, what="a redraw that counts its bytes")
        app.set_refresh_rate(10)
        await pilot.pause(0.1)
        assert heatmap.byte_budget is None

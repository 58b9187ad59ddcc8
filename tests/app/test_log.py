"""The epoch log follows to the end and never cuts a metric off (issue 12, part 3)."""

from __future__ import annotations

import re

from textual.app import App, ComposeResult

from tests.app.conftest import wait_until
from tuinet.app.widgets.status import EpochLog, wrap_log_line

LINE = "Epoch 12/200  10/10 - 0s - 3ms/step - accuracy: 0.5000 - loss: 0.6931 - val_accuracy: 0.9889 - val_loss: 0.6931"


class LogApp(App):
    def compose(self) -> ComposeResult:
        yield EpochLog()


def screen_text(app: App) -> str:
    return app.export_screenshot().replace("&#160;", " ")


def test_wrap_breaks_between_metrics_and_keeps_every_character():
    for width in (20, 30, 40, 57, 80):
        pieces = wrap_log_line(LINE, width)
        assert all(len(p) <= width for p in pieces)
        assert "".join(p.strip() for p in pieces).replace("-", "").replace(" ", "") == \
            LINE.replace("-", "").replace(" ", "")
        for metric in ("accuracy: 0.5000", "val_accuracy: 0.9889", "val_loss: 0.6931"):
            if width >= len(metric) + 2:
                assert any(metric in p for p in pieces), (width, pieces)  # whole, on one line
    assert wrap_log_line(LINE, 200) == [LINE]
    assert wrap_log_line(LINE, 0) == [LINE]  # not laid out yet


async def test_a_full_log_still_shows_its_newest_lines():
    """Past 2,000 lines Textual's Log dropped old lines but repainted the wrong rows: the screen
    stayed at epoch 2035 of 2500 and never showed the Test: line."""
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        log = app.query_one(EpochLog)
        for start in range(0, 2500, 37):
            log.write_lines([f"Epoch {e + 1}/2500  loss: 0.5" for e in range(start, min(start + 37, 2500))])
            await pilot.pause(0.005)
        log.note("Test: loss: 0.1000")
        await pilot.pause(0.05)
        shown = screen_text(app)
        assert "Test: loss: 0.1000" in shown
        assert re.findall(r"Epoch (\d+)/2500", shown)[-1] == "2500"


async def test_narrow_log_wraps_instead_of_cutting_metrics():
    app = LogApp()
    async with app.run_test(size=(44, 12)) as pilot:
        log = app.query_one(EpochLog)
        log.write_lines([LINE])
        await pilot.pause(0.05)
        shown = screen_text(app)
        for metric in ("accuracy: 0.5000", "val_accuracy: 0.9889", "val_loss: 0.6931"):
            assert metric in shown


async def test_the_app_log_reaches_the_test_line_after_2500_epochs(make_test_app):
    app = make_test_app("xor", epochs=2500)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.live_run.state == "finished", timeout=60, what="the run to finish")
        await wait_until(pilot, lambda: "Test:" in screen_text(app), timeout=10, what="the Test: line on screen")
        assert "Epoch 2500/2500" in screen_text(app)

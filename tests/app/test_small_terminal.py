"""80x24 reaches everything (issue 12, part 4): the footer fits, the data view scrolls, toasts are short."""

from __future__ import annotations

import pytest

from tests.app.conftest import wait_until
from tuinet.app.screens.base import ViewFooter


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 48)])
@pytest.mark.parametrize("view", ["1", "2", "3", "4"])
async def test_the_footer_fits_and_keeps_the_training_keys(make_test_app, size, view):
    app = make_test_app("spiral", epochs=20)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        await pilot.press(view)
        await pilot.pause(0.3)
        footer = app.screen.query_one(ViewFooter)
        keys = list(footer.query("FooterKey"))
        assert sum(ViewFooter._width(k) for k in keys) <= size[0]
        shown = {k.action for k in keys}
        assert {"app.toggle_run", "app.step_batch", "app.step_epoch", "app.reset"} <= shown or \
            {"toggle_run", "step_batch", "step_epoch", "reset"} <= {a.split(".")[-1] for a in shown}


async def test_the_data_view_scrolls_to_the_confusion_matrix_at_80x24(make_test_app):
    from tuinet.app.widgets.confusion import ConfusionMatrixView

    app = make_test_app("iris", epochs=3)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.live_run.state == "finished", timeout=30, what="the run")
        await pilot.press("4")
        await pilot.pause(0.3)
        body = app.screen.query_one("#data-body")
        matrix = app.screen.query_one(ConfusionMatrixView)
        assert matrix.size.height >= 3 + 3  # the heading lines and all three classes' rows, not one row
        for _ in range(20):
            await pilot.press("pagedown")
        await pilot.pause(0.1)
        assert body.scroll_y == body.max_scroll_y > 0
        region = matrix.region
        assert body.region.contains_region(region) or body.region.overlaps(region)
        await pilot.press("space")  # the keys are still the app's
        assert app.screen.query_one("#diagnosis").size.height < 7 or "Fit" in str(app.screen.query_one("#diagnosis").render())


async def test_toasts_are_one_line_in_a_small_terminal(make_test_app):
    long = "A long message that would take several lines in a toast of forty columns, and a title too"
    app = make_test_app("spiral", epochs=20)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        assert app.has_class("-compact")
        app.notify(long + "\nand a second line", title="Something happened", timeout=10)
        await pilot.pause(0.1)
        note = list(app._notifications)[-1]
        assert "\n" not in note.message and len(note.message) <= 37 and note.message.endswith("…")
        assert note.title == "Something happened" and note.timeout <= 4  # two lines at most
    app = make_test_app("spiral", epochs=20)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        assert not app.has_class("-compact")
        app.notify(long, title="Something happened", timeout=10)
        await pilot.pause(0.1)
        note = list(app._notifications)[-1]
        assert note.message == long and note.title == "Something happened" and note.timeout == 10


async def test_the_header_keeps_every_view_name_with_a_long_title(make_test_app):
    app = make_test_app("digits-cnn", epochs=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        from textual.widgets._header import HeaderTitle

        title = app.screen.query_one("ViewHeader").query_one(HeaderTitle)
        header = app.screen.query_one("ViewHeader").format_title().plain
        assert len(header) <= title.size.width, (header, title.size.width)
        for label in ("1 train", "2 weights", "3 boundary", "4 data"):
            assert label in header
        assert "…" in header  # the title gave way

"""No key is ever stuck (issue 12, part 2): fields give the keys back to the view."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Select

from tests.app.conftest import wait_until
from tuinet.app.widgets.plots import TrainingPlots

SIZES = [(160, 48), (80, 24)]


def shown_keys(app) -> set[str]:
    return {k for k, v in app.screen.active_bindings.items() if v.binding.show}


async def open_training_form(app, pilot) -> Input:
    screen = app.screen
    if screen.layout_kind == "narrow":
        screen.active_tab = "hyperparams"
        await pilot.pause(0.05)
    field = screen.query_one("#hp-epochs", Input)
    await pilot.click(field)
    await pilot.pause(0.05)
    assert app.focused is field
    return field


@pytest.mark.parametrize("size", SIZES)
async def test_escape_leaves_a_field_and_space_plays(make_test_app, size):
    app = make_test_app("spiral", epochs=50)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        await open_training_form(app, pilot)
        assert "escape" in shown_keys(app)  # the footer says how to get out
        await pilot.press("backspace", "9")
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert not isinstance(app.focused, Input)
        assert {"space", "n", "N", "r"} <= shown_keys(app) and "escape" not in shown_keys(app)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.run_state in ("running", "finished"), what="space to play")


@pytest.mark.parametrize("size", SIZES)
async def test_applying_the_form_gives_the_keys_back(make_test_app, size):
    app = make_test_app("spiral", epochs=50)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        field = await open_training_form(app, pilot)
        field.value = "60"
        await pilot.press("ctrl+a")
        await pilot.pause(0.2)
        assert app.session.experiment.train.epochs == 60
        assert not isinstance(app.focused, Input)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.run_state in ("running", "finished"), what="space to play")


async def test_a_click_on_a_plot_leaves_the_field(make_test_app):
    app = make_test_app("spiral", epochs=50)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        await open_training_form(app, pilot)
        await pilot.click(app.screen.query_one(TrainingPlots).loss_plot)
        await pilot.pause(0.05)
        assert not isinstance(app.focused, Input)
        await pilot.press("n")  # one batch: the key is the app's again
        await wait_until(pilot, lambda: app.live_run.batches_done >= 1, what="n to train one batch")


async def test_space_does_not_open_a_menu(make_test_app):
    app = make_test_app("spiral", epochs=50)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        select = app.screen.query_one("#hp-optimizer", Select)
        select.focus()
        await pilot.pause(0.05)
        await pilot.press("space")
        await pilot.pause(0.1)
        assert not select.expanded
        await wait_until(pilot, lambda: app.run_state in ("running", "finished"), what="space to play")
        await pilot.press("space")
        await pilot.press("enter")  # enter still opens it
        await pilot.pause(0.1)
        assert select.expanded


async def test_a_in_the_model_tab_adds_a_layer_whatever_has_the_focus(make_test_app):
    app = make_test_app("spiral", epochs=50)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        screen = app.screen
        assert screen.layout_kind == "narrow"
        screen.active_tab = "architecture"
        await pilot.pause(0.05)
        assert not isinstance(app.focused, DataTable)  # the tab bar has the focus, not the table
        assert "a" in shown_keys(app)
        await pilot.press("a")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "LayerPicker", what="the layer picker")
        await pilot.press("escape")
        await pilot.pause(0.1)
        screen.active_tab = "plots"
        await pilot.pause(0.05)
        assert "a" not in shown_keys(app)  # the model pane is hidden: so is its key


@pytest.mark.parametrize("size", SIZES)
async def test_a_click_on_a_view_label_in_the_header_opens_it(make_test_app, size):
    from textual.widgets._header import HeaderTitle

    app = make_test_app("spiral", epochs=20)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        header = app.screen.query_one("ViewHeader")
        for key, mode in ((3, "boundary"), (2, "weights"), (1, "train")):
            header = app.screen.query_one("ViewHeader")
            title = header.query_one(HeaderTitle)
            plain = header.format_title().plain
            start = max(0, (title.size.width - len(plain)) // 2)
            x = start + plain.find(f"{key} {mode}", plain.rfind("·")) + 2
            await pilot.click(title, offset=(x, 0))
            await pilot.pause(0.2)
            assert app.current_mode == mode
            assert header.size.height == 1  # no tall header on a click


async def test_time_left_only_while_running(make_test_app):
    from tuinet.app.widgets.status import StatusBar

    app = make_test_app("spiral", epochs=20, show_timing=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.live_run.batches_done >= 1, what="one batch")
        await pilot.pause(0.2)
        text = str(app.screen.query_one(StatusBar).render())
        assert "elapsed" in text and " left " not in text


async def test_after_picking_a_kernel_space_plays_and_the_menu_stays_shut(make_test_app):
    app = make_test_app("spiral", epochs=50)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("2")
        await pilot.pause(0.3)
        select = app.screen.query_one("#weights-select", Select)
        select.focus()
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert select.expanded
        await pilot.press("down", "enter")  # pick the next kernel
        await pilot.pause(0.2)
        assert not select.expanded and app.focused is not select
        await pilot.press("space")
        await pilot.pause(0.1)
        assert not select.expanded
        await wait_until(pilot, lambda: app.run_state in ("running", "finished"), what="space to play")


async def test_tab_into_a_field_and_escape_out(make_test_app):
    app = make_test_app("spiral", epochs=50)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        for _ in range(12):  # Tab walks the focus chain until it reaches a text field
            await pilot.press("tab")
            await pilot.pause(0.02)
            if isinstance(app.focused, Input):
                break
        assert isinstance(app.focused, Input)
        await pilot.press("r")  # typed into the field, not a reset
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert not isinstance(app.focused, Input)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.live_run.batches_done >= 1, what="n after escape")


async def test_the_footer_recomposes_only_when_its_keys_change(make_test_app):
    """Textual recomposes every footer on each screen switch and focus change; ours only when
    the keys it shows would differ (a view switch cost 100 ms more otherwise)."""
    from textual.widgets._footer import FooterKey

    from tuinet.app.screens.base import ViewFooter

    def footer_keys():
        return list(app.screen.query_one(ViewFooter).query(FooterKey))

    app = make_test_app("spiral", epochs=50)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        before = footer_keys()
        assert before
        await pilot.press("2")
        await pilot.pause(0.1)
        await pilot.press("1")
        await pilot.pause(0.1)
        assert footer_keys() == before and all(a is b for a, b in zip(footer_keys(), before))  # not rebuilt
        await open_training_form(app, pilot)
        await pilot.pause(0.1)
        assert any(k.key == "escape" for k in footer_keys())  # the keys changed: it shows the new ones
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not any(k.key == "escape" for k in footer_keys())

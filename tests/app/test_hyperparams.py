"""HyperParamsPane driven with keys in a harness app that mounts only the pane."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input, Select, Static

from tuinet.app.messages import ApplyHyperparameters
from tuinet.app.widgets.hyperparams import HyperParamsPane
from tuinet.presets import TrainSpec

TRAIN = TrainSpec(optimizer="sgd", optimizer_args={"momentum": 0.9}, learning_rate=0.01, loss="mse",
                  metrics=("mae",), batch_size=16, epochs=50)


class Harness(App):
    def __init__(self, train: TrainSpec = TRAIN, l2: float | None = None) -> None:
        super().__init__()
        self.train, self.l2 = train, l2
        self.seen: list[ApplyHyperparameters] = []

    def compose(self) -> ComposeResult:
        yield HyperParamsPane(id="hyper")

    def on_mount(self) -> None:
        self.query_one(HyperParamsPane).load(self.train, l2=self.l2)

    def on_apply_hyperparameters(self, message: ApplyHyperparameters) -> None:
        self.seen.append(message)


async def retype(pilot, selector: str, text: str) -> None:
    pilot.app.query_one(selector, Input).focus()
    await pilot.press("end", "ctrl+u", *text)


def shown(app: App, selector: str) -> str:
    widget = app.query_one(selector, Static)
    return str(widget.render()) if widget.display else ""


async def test_load_fills_the_form():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = app.query_one(HyperParamsPane)
        assert app.query_one("#hp-optimizer", Select).value == "sgd"
        assert app.query_one("#hp-loss", Select).value == "mean_squared_error"  # the alias, canonical
        assert app.query_one("#hp-learning-rate", Input).value == "0.01"
        assert app.query_one("#hp-batch-size", Input).value == "16"
        assert app.query_one("#hp-metrics", Input).value == "mae"
        assert not pane.dirty and pane.train == TRAIN and pane.l2 is None
        assert "edited" not in shown(app, "#hp-state")


async def test_learning_rate_enter_posts_a_live_message():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await retype(pilot, "#hp-learning-rate", "0.05")
        await pilot.press("enter")
        await pilot.pause()
        assert len(app.seen) == 1
        message = app.seen[0]
        assert message.live is True and message.l2 is None
        assert message.train == TrainSpec(**{**TRAIN.__dict__, "learning_rate": 0.05})
        pane = app.query_one(HyperParamsPane)
        assert not pane.dirty
        await pilot.press("enter")  # unchanged: nothing more
        await pilot.pause()
        assert len(app.seen) == 1


async def test_batch_size_marks_dirty_and_apply_posts_a_rebuild():
    app = Harness(l2=0.01)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = app.query_one(HyperParamsPane)
        await retype(pilot, "#hp-batch-size", "64")
        await pilot.pause()
        assert pane.dirty and pane.train.batch_size == 64
        assert "● edited" in shown(app, "#hp-state") and "ctrl+a" in shown(app, "#hp-state")
        await pilot.press("enter")  # Enter outside the learning rate applies nothing
        await pilot.pause()
        assert app.seen == []
        await pilot.press("ctrl+a")  # Input binds ctrl+a to "home"; the pane's binding has priority
        await pilot.pause()
        assert len(app.seen) == 1
        message = app.seen[0]
        assert message.live is False and message.l2 is None  # L2 untouched: leave the layers alone
        assert message.train.batch_size == 64 and message.train.optimizer_args == {"momentum": 0.9}
        assert not pane.dirty


async def test_apply_button_with_optimizer_loss_l2_and_metrics():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = app.query_one(HyperParamsPane)
        app.query_one("#hp-optimizer", Select).value = "adam"
        app.query_one("#hp-loss", Select).value = "mean_absolute_error"
        await retype(pilot, "#hp-l2", "0.001")
        await retype(pilot, "#hp-metrics", "acc, rmse")
        await retype(pilot, "#hp-epochs", "7")
        await pilot.pause()
        assert pane.dirty
        await pilot.click("#hp-apply")
        await pilot.pause()
        assert len(app.seen) == 1
        message = app.seen[0]
        assert message.live is False and message.l2 == 0.001
        assert message.train == TrainSpec(optimizer="adam", optimizer_args={}, learning_rate=0.01,
                                          loss="mean_absolute_error", metrics=("acc", "rmse"), batch_size=16,
                                          epochs=7)


async def test_invalid_values_show_errors_and_post_nothing():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = app.query_one(HyperParamsPane)
        await retype(pilot, "#hp-learning-rate", "-1")
        await pilot.press("enter")
        await pilot.pause()
        assert app.seen == []
        error = shown(app, "#hp-learning-rate-error")
        assert error.startswith("✗ learning rate: expected a positive number") and "'-1'" in error
        await retype(pilot, "#hp-batch-size", "ten")
        await pilot.press("ctrl+a")
        await pilot.pause()
        assert app.seen == []
        assert "batch size: expected a positive integer" in shown(app, "#hp-batch-size-error")
        assert "not applied" in shown(app, "#hp-note")
        assert pane.train == TRAIN  # only valid values reach the spec
        assert pane.dirty and "fix" in shown(app, "#hp-state")
        await retype(pilot, "#hp-learning-rate", "0.02")
        await retype(pilot, "#hp-batch-size", "8")
        await pilot.pause()
        assert shown(app, "#hp-learning-rate-error") == "" and shown(app, "#hp-batch-size-error") == ""


async def test_unknown_metric_is_rejected_with_a_suggestion():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await retype(pilot, "#hp-metrics", "acuracy")
        await pilot.press("ctrl+a")
        await pilot.pause()
        assert app.seen == []
        error = shown(app, "#hp-metrics-error")
        assert "unknown metric 'acuracy'" in error and 'did you mean "accuracy"' in error
        await retype(pilot, "#hp-l2", "-3")
        await pilot.pause()
        assert "L2: expected a number >= 0" in shown(app, "#hp-l2-error")


async def test_revert_throws_edits_away():
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = app.query_one(HyperParamsPane)
        await retype(pilot, "#hp-epochs", "zero")
        await pilot.click("#hp-revert")
        await pilot.pause()
        assert not pane.dirty and app.query_one("#hp-epochs", Input).value == "50"
        assert shown(app, "#hp-epochs-error") == ""


async def test_fits_in_a_78x18_tab_with_errors_shown():
    app = Harness()
    async with app.run_test(size=(78, 18)) as pilot:
        await pilot.pause()
        await retype(pilot, "#hp-learning-rate", "x")
        await retype(pilot, "#hp-batch-size", "y")
        await pilot.pause()
        screen = app.screen.region
        for selector in ("#hp-state", "#hp-optimizer", "#hp-learning-rate", "#hp-loss", "#hp-batch-size",
                         "#hp-epochs", "#hp-l2", "#hp-metrics", "#hp-learning-rate-error", "#hp-apply"):
            widget = app.query_one(selector)
            assert widget.region.area > 0 and screen.contains_region(widget.region), selector

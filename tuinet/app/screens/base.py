"""`ViewScreen`: what every view (keys 1-4) shares: the chrome, the app's state, the frame clock.

A view reads one state, the app's live run (`app.live_run`, a `tuinet.run.RunHistory` folded
from the session's events), and learns of changes through the app's reactives:
`run_generation` (a new run: refill everything), `frame` (a tick of the frame clock: draw
what changed), `replay_epoch` (a recorded frame to show instead of the live run) and
`refresh_hz` (the frame rate). No view receives the session's events itself.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from tuinet.app.widgets.status import StatusBar


class ViewScreen(Screen):
    """Base of the four views: header, status line, footer and the "too small" message, and
    the hooks the app's state calls (`new_run`, `draw_frame`, `show_replay`, `frame_rate_changed`).

    Below the app's minimum size the body gives way to a "terminal too small" message (the
    app disables the training keys meanwhile).
    """

    def compose_chrome_top(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◉")

    def compose_chrome_bottom(self) -> ComposeResult:
        yield Static("", id="too-small")  # app.mark_too_small writes the message
        yield StatusBar(id="status")
        yield Footer(compact=True)

    @property
    def session(self):
        return self.app.session

    @property
    def run(self):
        """The live run (`tuinet.run.RunHistory`)."""
        return self.app.live_run

    @property
    def replaying(self) -> bool:
        """A recorded frame is shown: the live run's new weights wait until the user goes back to live."""
        return self.app.replay_epoch is not None

    def on_mount(self) -> None:
        app = self.app
        self._check_size()
        self.frame_rate_changed(app.refresh_hz)
        self.refill()
        self.watch(app, "frame", self._frame, init=False)
        self.watch(app, "run_generation", self._run_generation, init=False)
        self.watch(app, "replay_epoch", self._replay, init=False)
        self.watch(app, "refresh_hz", self.frame_rate_changed, init=False)

    def _check_size(self) -> None:
        from tuinet.app.app import mark_too_small

        mark_too_small(self)

    _recomposing = False  # a screen rebuilding its panes takes no state until they are in

    def _frame(self, _=None) -> None:
        if not self._recomposing:
            self.draw_frame()

    def _run_generation(self, _=None) -> None:
        if not self._recomposing:
            self.new_run()

    def _replay(self, _=None) -> None:
        if not self._recomposing:
            self.show_replay()

    # -- hooks ------------------------------------------------------------------------------
    def refill(self) -> None:
        """Load everything from the app's state (after mount, on show, for a new run)."""

    def draw_frame(self) -> None:
        """A tick of the frame clock: draw what the live run gained since the last one."""

    def new_run(self) -> None:
        """A reset, an applied edit, a load, a branch or another preset: start over."""
        self.refill()

    def show_replay(self) -> None:
        """The replayed frame changed (or the user went back to live)."""
        if self.is_current:
            self.refill()

    def frame_rate_changed(self, hz: float) -> None:
        """The frame rate changed: views that move redraw at most `hz` times a second."""

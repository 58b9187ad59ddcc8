"""`ViewScreen`: what every view (keys 1-4) shares: the chrome, the app's state, the frame clock.

A view reads one state, the app's live run (`app.live_run`, a `tuinet.run.RunHistory` folded
from the session's events), and learns of changes through the app's reactives:
`run_generation` (a new run: refill everything), `frame` (a tick of the frame clock: draw
what changed), `replay_epoch` (a recorded frame to show instead of the live run) and
`refresh_hz` (the frame rate). No view receives the session's events itself.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.errors import NoWidget
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, Select, Static, TextArea

from tuinet.app.widgets.status import StatusBar


FIELDS = (Input, TextArea, Select)
"""Widgets that take keys the app would otherwise have (text, or a menu)."""


class ViewScreen(Screen):
    """Base of the four views: header, status line, footer and the "too small" message, and
    the hooks the app's state calls (`new_run`, `draw_frame`, `show_replay`, `frame_rate_changed`).

    Below the app's minimum size the body gives way to a "terminal too small" message (the
    app disables the training keys meanwhile).

    Fields never keep the keys: Escape (shown as "esc Done" while a field has the focus), a
    click on anything that takes no focus, and an applied form send the focus back to the
    view (`home_focus`), where space, n, r, 1-4 and the timeline keys are the app's again.
    """

    BINDINGS = [
        Binding("escape", "leave_field", "Done", key_display="esc", id="leave-field",
                tooltip="Leave the field: the keys go back to the view"),
    ]

    def home_focus(self) -> Widget | None:
        """Where the focus goes when the user leaves a field; None: nothing (every key is the app's)."""
        return None

    def leave_field(self) -> None:
        """Give the keys back to the view: focus `home_focus()` (or nothing)."""
        try:
            home = self.home_focus()
        except NoMatches:
            home = None
        if home is not None and home.focusable:
            home.focus()
        else:
            self.set_focus(None)

    def action_leave_field(self) -> None:
        self.leave_field()

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "leave_field":
            return isinstance(self.focused, FIELDS)  # shown (and bound) only while a field has the keys
        return True

    def on_mouse_down(self, event: events.MouseDown) -> None:
        """A click on what takes no focus (a plot, the log, an empty area) leaves a text field."""
        focused = self.focused
        if not isinstance(focused, FIELDS):
            return
        try:
            widget, _ = self.get_widget_at(event.screen_x, event.screen_y)
        except NoWidget:
            return
        for node in widget.ancestors_with_self:
            if node is self:
                break
            if node is focused or getattr(node, "focusable", False):
                return  # Textual focuses it (or it is the field itself)
        self.leave_field()

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
        self.watch_app("frame", self._frame)
        self.watch_app("run_generation", lambda _: self.new_run())
        self.watch_app("replay_epoch", lambda _: self.show_replay())
        self.watch_app("refresh_hz", self.frame_rate_changed)

    def watch_app(self, name: str, callback) -> None:
        """Call `callback(value)` when the app's `name` changes; while this screen rebuilds its
        panes (a resize across a layout threshold) the call waits until they are in."""
        def call(value=None) -> None:
            if self._recomposing:
                self.call_later(callback, value)
            else:
                callback(value)

        self.watch(self.app, name, call, init=False)

    def _check_size(self) -> None:
        from tuinet.app.app import mark_too_small

        mark_too_small(self)

    _recomposing = False  # set while a screen rebuilds its panes: see watch_app

    def _frame(self, _=None) -> None:
        if self._recomposing:
            return  # refilled once the new panes are in: no frame to catch up
        if self.is_current or self.draw_frame_hidden():
            self.draw_frame()

    def draw_frame_hidden(self) -> bool:
        """Draw frames while another view is shown (the train view keeps its log and fit
        warnings current for every view's status line); the others catch up when shown."""
        return True

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

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


class ViewHeader(Header):
    """The header; a click on a view's label ("2 weights") opens that view (the header never
    grows to three lines on a click, as Textual's does). No clock: its space goes to the title."""

    DEFAULT_CSS = """
    ViewHeader HeaderClockSpace { width: 1; }
    """

    def _on_click(self, event: events.Click) -> None:
        from textual.widgets._header import HeaderTitle

        event.prevent_default()  # not Header's: it toggles a tall header
        try:
            title = self.query_one(HeaderTitle)
        except NoMatches:
            return
        plain = self.format_title().plain
        start = title.region.x + max(0, (title.size.width - len(plain)) // 2)
        x = event.screen_x - start
        views = plain.rfind("·")
        for i, mode in enumerate(self.app.MODE_KEYS, start=1):
            at = plain.find(f"{i} {mode}", views)
            if views >= 0 and at >= 0 and at - 1 <= x <= at + len(f"{i} {mode}"):
                self.app.action_mode(mode)
                return


class ViewFooter(Footer):
    """The footer, fitted to the terminal's width: when the keys do not fit on one line, the
    least needed go first (`DROP_ORDER`: they stay in `?` help and the palette) instead of the
    line being cut in the middle of a word.
    """

    DROP_ORDER = ("command_palette", "open_preset", "apply", "help", "next_tab")
    KEEP = frozenset({"toggle_run", "step_batch", "step_epoch", "reset", "pace(-1)", "scrub(-1)", "quit_app",
                      "leave_field"})  # actions, without their "app." namespace

    @staticmethod
    def _width(item) -> int:
        from textual.widgets._footer import FooterKey

        if isinstance(item, FooterKey):
            return len(item.key_display) + len(item.description) + 2
        return 12

    _composed_for = None  # the keys and the width the footer was last composed for

    def _signature(self) -> tuple:
        active = self.screen.active_bindings
        return self.size.width or self.app.size.width, tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in active.values() if binding.show)

    def bindings_changed(self, screen) -> None:
        """Recompose only when the keys shown would change: Textual recomposes the footer on
        every screen switch and focus change, which cost a view switch about 100 ms (restyling
        two dozen new widgets) for the same keys."""
        if self._bindings_ready and self.is_attached and screen is self.screen and self.children:
            try:
                if self._signature() == self._composed_for:
                    return
            except Exception:  # the screen is going: let Textual decide
                pass
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        from textual.widgets._footer import FooterKey

        if self._bindings_ready:
            self._composed_for = self._signature()
        items = list(super().compose())
        width = self.size.width or self.app.size.width
        total = sum(self._width(i) for i in items)
        for action in self.DROP_ORDER:
            if total <= width:
                break
            for item in items:
                palette = action == "command_palette" and item.has_class("-command-palette")
                if palette or (isinstance(item, FooterKey) and item.action.removeprefix("app.") == action):
                    items.remove(item)
                    total -= self._width(item)
                    break
        # still too wide: the view's own keys go, from the last, before the training keys
        for item in [i for i in reversed(items)
                     if isinstance(i, FooterKey) and i.action.removeprefix("app.") not in self.KEEP]:
            if total <= width:
                break
            items.remove(item)
            total -= self._width(item)
        self.styles.grid_size_columns = max(1, sum(1 for i in items if not i.has_class("-command-palette")))
        yield from items

    _fitted_width = 0

    def on_resize(self, event) -> None:
        if event.size.width != self._fitted_width:
            self._fitted_width = event.size.width
            self.refresh(recompose=True)


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
        yield ViewHeader(show_clock=False, icon="◉")

    def compose_chrome_bottom(self) -> ComposeResult:
        yield Static("", id="too-small")  # app.mark_too_small writes the message
        yield StatusBar(id="status")
        yield ViewFooter(compact=True)

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

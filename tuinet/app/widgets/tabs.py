"""`TabBar`: the narrow layout's tab labels, drawn by one widget.

Textual's `TabbedContent` builds a tab bar from a dozen widgets (a `Tab` per label, their
containers, an animated underline) and wraps every pane in a `TabPane`. A tab switch then
restyles the old and the new `Tab` (a stylesheet pass each), and the compositor repaints the
wrappers behind the pane: about a third of the time from key press to the new tab on screen.
This bar is one widget whose two lines (labels, underline) are text; the panes are the
children of a plain `ContentSwitcher` beside it. Switching repaints the bar and the pane.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


class TabBar(Widget):
    """Labels on one line, a rule under them on the next; the active tab is highlighted.

    `tabs` is a sequence of (id, label). Clicking a label, or left/right while the bar has
    focus, posts `TabBar.Selected`; the owner sets `active`, which repaints the bar alone.
    The bar takes focus first (as Textual's tabs do), so no widget of a hidden pane holds
    the focus and its keys.
    """

    can_focus = True
    BINDINGS = [
        Binding("left", "step(-1)", "Previous tab", show=False),
        Binding("right", "step(1)", "Next tab", show=False),
    ]

    DEFAULT_CSS = """
    TabBar {
        width: 1fr;
        height: 2;
    }
    TabBar > .tab-bar--tab { color: $foreground 50%; }
    TabBar > .tab-bar--active { color: $foreground; text-style: bold; }
    TabBar:focus > .tab-bar--active {
        color: $block-cursor-foreground;
        background: $block-cursor-background;
        text-style: $block-cursor-text-style;
    }
    TabBar > .tab-bar--rule { color: $foreground 15%; }
    TabBar:focus > .tab-bar--rule { color: $foreground 30%; }
    TabBar > .tab-bar--rule-active { color: $block-cursor-background; }
    TabBar:ansi > .tab-bar--tab { text-style: dim; }
    TabBar:ansi > .tab-bar--active { text-style: bold; }
    TabBar:ansi:focus > .tab-bar--active { text-style: bold reverse; }
    """

    COMPONENT_CLASSES = {"tab-bar--tab", "tab-bar--active", "tab-bar--rule", "tab-bar--rule-active"}

    active: reactive[str] = reactive("")
    """The id of the tab shown."""

    class Selected(Message):
        """A label was clicked."""

        def __init__(self, tab_bar: TabBar, tab: str) -> None:
            super().__init__()
            self.tab_bar = tab_bar
            self.tab = tab

    def __init__(self, tabs, *, active: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.tabs: tuple[tuple[str, str], ...] = tuple((str(i), str(label)) for i, label in tabs)
        if not self.tabs:
            raise ValueError("a tab bar needs at least one tab")
        self.set_reactive(TabBar.active, active if active is not None else self.tabs[0][0])

    @property
    def tab_ids(self) -> list[str]:
        return [tab_id for tab_id, _ in self.tabs]

    def validate_active(self, value: str) -> str:
        if value not in self.tab_ids:
            raise ValueError(f"no tab {value!r}; the tabs are {', '.join(self.tab_ids)}")
        return value

    def step(self, step: int) -> str:
        """Move `step` tabs right (negative: left), wrapping around; return the new id."""
        ids = self.tab_ids
        self.active = ids[(ids.index(self.active) + step) % len(ids)]
        return self.active

    def action_step(self, step: int) -> None:
        ids = self.tab_ids
        self.post_message(self.Selected(self, ids[(ids.index(self.active) + step) % len(ids)]))

    def _spans(self) -> list[tuple[str, int, int]]:
        """(id, first column, end column) of each label, one space of padding either side."""
        spans, x = [], 0
        for tab_id, label in self.tabs:
            width = len(label) + 2
            spans.append((tab_id, x, x + width))
            x += width
        return spans

    def render(self) -> Text:
        tab, active = self.get_component_rich_style("tab-bar--tab"), self.get_component_rich_style("tab-bar--active")
        rule, rule_active = (self.get_component_rich_style("tab-bar--rule"),
                             self.get_component_rich_style("tab-bar--rule-active"))
        text = Text(no_wrap=True, overflow="crop", end="")
        for tab_id, label in self.tabs:
            text.append(f" {label} ", style=active if tab_id == self.active else tab)
        text.append("\n")
        spans = self._spans()
        for tab_id, start, end in spans:
            text.append("━" * (end - start), style=rule_active if tab_id == self.active else rule)
        rest = self.size.width - spans[-1][2]
        if rest > 0:
            text.append("━" * rest, style=rule)
        return text

    def on_click(self, event: events.Click) -> None:
        for tab_id, start, end in self._spans():
            if start <= event.x < end:
                event.stop()
                self.post_message(self.Selected(self, tab_id))
                return

"""Form widgets that leave the app its keys."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Select


class ViewSelect(Select, inherit_bindings=False):
    """A `Select` that opens on enter, up or down, not on space: space plays and pauses
    whatever has the focus, unless the user is typing text."""

    BINDINGS = [Binding("enter,down,up", "show_overlay", "Show menu", show=False)]

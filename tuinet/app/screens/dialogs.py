"""Small modal screens: the preset picker, a file-path prompt and the help screen."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Markdown, OptionList
from textual.widgets.option_list import Option


class PresetPicker(ModalScreen[str | None]):
    """Lists the shipped presets with their titles and descriptions; returns the chosen name."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PresetPicker { align: center middle; }
    PresetPicker > Vertical {
        width: 90%; max-width: 110; height: 80%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    PresetPicker OptionList { height: 1fr; }
    PresetPicker .hint { color: $text-muted; }
    """

    def __init__(self, current: str | None = None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        from tuinet.presets import list_presets, load_preset

        options = []
        for name, path in list_presets().items():
            try:
                e = load_preset(path)
                text = f"[b]{name}[/b] — {e.title}\n  [dim]{e.description}[/dim]"
            except Exception as exc:  # a broken preset is listed, not fatal
                text = f"[b]{name}[/b] — [i]cannot be read: {exc}[/i]"
            options.append(Option(text, id=name))
        with Vertical():
            yield Label("Open a preset  (enter: open, escape: cancel)", classes="hint")
            yield OptionList(*options, id="preset-list")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        if self.current is not None:
            try:
                ol.highlighted = ol.get_option_index(self.current)
            except Exception:
                pass
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PathPrompt(ModalScreen[str | None]):
    """Asks for a file path (save or load a model); returns it, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PathPrompt { align: center middle; }
    PathPrompt > Vertical {
        width: 80%; max-width: 90; height: auto;
        border: round $primary; background: $surface; padding: 0 1;
    }
    PathPrompt .error { color: $error; }
    """

    def __init__(self, title: str, default: str = "", *, must_exist: bool = False) -> None:
        super().__init__()
        self.title_text, self.default, self.must_exist = title, default, must_exist

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.title_text}  (enter: ok, escape: cancel)")
            yield Input(value=self.default, id="path-input")
            yield Label("", id="path-error", classes="error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        error = self.query_one("#path-error", Label)
        if not text:
            error.update("Error: give a file path")
            return
        path = Path(text).expanduser()
        if self.must_exist and not path.is_file():
            error.update(f"Error: {text}: file not found")
            return
        if not self.must_exist and not path.resolve().parent.is_dir():
            error.update(f"Error: folder {str(path.parent)!r} does not exist")
            return
        self.dismiss(str(path))

    def action_cancel(self) -> None:
        self.dismiss(None)


HELP = """\
# tuinet — keys

| key | action |
| --- | --- |
| `space` | play / pause training |
| `n` | step one batch |
| `N` (shift+n) | step one epoch |
| `r` | reset the weights (re-initialise from the seed) |
| `ctrl+a` | apply architecture or hyperparameter edits (rebuilds the model) |
| `o` | open a preset |
| `ctrl+s` | save the model |
| `ctrl+l` | load a model |
| `g` | toggle log scale on the plots |
| `f` | change the refresh rate (slow links: fewer updates) |
| `1` `2` `3` `4` | views: train, weights, decision boundary, data |
| `[` / `]` | previous / next tab (terminals under 150x40; also `←`/`→` on the tab bar, or a click) |
| `tab` / `shift+tab` | move the focus |
| `ctrl+p` | command palette |
| `?` | this help |
| `q` | quit (stops training first) |

**Architecture pane:** `a` add a layer, `e` or `enter` edit, `x` remove, `K`/`J` move up/down,
`ctrl+r` revert, `ctrl+a` apply.

**Weights view:** `w` weights / gradients / last update, `z` zoom to 1:1, arrows move the cursor.
**Boundary view:** `t` test points, `p` all points. **Data view:** type split ratios or a seed
and press `enter` to re-split (this re-initialises the model).

**Hyperparameters:** change the learning rate and press `enter`: it takes effect at the next batch,
even while training. Other changes are applied with `ctrl+a` and rebuild the model.

**Over SSH:** tuinet draws only what changed. On a slow link press `f` to lower the refresh rate,
or start with `tuinet --refresh 1`. `NO_COLOR=1` is honoured.
"""


class HelpScreen(ModalScreen[None]):
    """The key bindings and tips."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(HELP)

    def action_close(self) -> None:
        self.dismiss(None)

"""Small modal screens: the preset picker, a file-path prompt, "save as preset" and the help screen."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from tuinet.errors import TuinetError, safe_text
from tuinet.paths import user_path


MAX_PRESET_FILES = 100
"""Preset files of the current folder listed in the picker, at most."""


def folder_presets(folder: Path) -> list[Path]:
    """The `*.toml` files of `folder` that mean to be presets, sorted by name.

    A file with none of the [data], [model] and [train] sections (`pyproject.toml`) is not one,
    and is left out; a file that is not valid TOML, or has such a section but a wrong field,
    is listed (the picker shows why it cannot be opened).
    """
    import tomllib

    out = []
    try:
        candidates = sorted(p for p in folder.glob("*.toml") if p.is_file())
    except OSError:
        return []
    for path in candidates[: MAX_PRESET_FILES * 2]:
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        except tomllib.TOMLDecodeError:
            doc = {"data": None}  # broken, but a preset by its name: listed with its error
        if {"data", "model", "train"} & set(doc):
            out.append(path)
    return out[:MAX_PRESET_FILES]


class PresetPicker(ModalScreen[str | None]):
    """Lists the shipped presets and the preset files of the current folder, and takes a path.

    Returns the chosen shipped preset's name or the chosen file's path (a string for
    `TuinetApp.open_preset`), or None on escape. A file is checked with `load_preset` first:
    one that does not exist or is not a valid preset shows its one-line error in the dialog,
    which stays open.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PresetPicker { align: center middle; }
    PresetPicker > Vertical {
        width: 90%; max-width: 110; height: 80%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    PresetPicker OptionList { height: 1fr; }
    PresetPicker .hint { color: $text-muted; }
    PresetPicker #preset-path-row { height: 1; margin-top: 1; }
    PresetPicker #preset-path-row Label { width: auto; padding: 0 1 0 0; }
    PresetPicker #preset-path { width: 1fr; }
    PresetPicker #preset-error { height: auto; color: $error; }
    """

    def __init__(self, current: str | None = None, *, folder: str | Path | None = None) -> None:
        """
        Args:
            current: The open preset's name, highlighted at first.
            folder: Where to list `*.toml` files (default: the working directory).
        """
        super().__init__()
        self.current = current
        self.folder = Path(folder) if folder is not None else Path.cwd()
        self.error = ""
        """The message under the path field ("" when there is none)."""

    def compose(self) -> ComposeResult:
        from tuinet.presets import list_presets, load_preset

        options: list[Option | None] = []
        for name, path in list_presets().items():
            try:
                e = load_preset(path)
                text = Text.assemble((safe_text(name), "bold"), f" — {safe_text(e.title)}\n  ",
                                     (safe_text(e.description, limit=200), "dim"))
            except Exception as exc:  # a broken preset is listed, not fatal
                text = Text.assemble((safe_text(name), "bold"), (f" — cannot be read: {safe_text(exc, 200)}", "italic"))
            options.append(Option(text, id=name))
        files = folder_presets(self.folder)
        if files:
            options.append(None)  # a separator: shipped presets above, files below
        for path in files:
            options.append(Option(self._file_prompt(path), id=str(path)))
        with Vertical():
            yield Label("Open a preset  (enter: open, tab: type a path, escape: cancel)", classes="hint")
            yield OptionList(*options, id="preset-list")
            with Horizontal(id="preset-path-row"):
                yield Label("path")
                yield Input(placeholder="path/to/preset.toml (enter: open)", id="preset-path", compact=True)
            yield Static("", id="preset-error", markup=False)

    @staticmethod
    def _file_prompt(path: Path) -> Text:
        from tuinet.presets import load_preset

        text = Text.assemble((safe_text(path.name), "bold"), ("  file", "italic"))
        try:
            e = load_preset(path)
        except Exception as exc:  # noqa: BLE001 - listed with its problem, not fatal
            text.append(f" — cannot be opened: {safe_text(exc, 200)}", style="italic")
            return text
        if e.title:
            text.append(f" — {safe_text(e.title)}")
        if e.description:
            text.append(f"\n  {safe_text(e.description, limit=200)}", style="dim")
        return text

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        if self.current is not None:
            try:
                ol.highlighted = ol.get_option_index(self.current)
            except Exception:
                pass
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        choice = event.option.id
        if choice is None:
            return
        from tuinet.presets import list_presets

        if choice in list_presets():
            self.dismiss(choice)
        else:
            self._open_file(choice)

    @on(Input.Submitted, "#preset-path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self._set_error("Error: type the path of a preset file, such as my-spiral.toml")
            return
        self._open_file(text)

    def _open_file(self, text: str) -> None:
        """Dismiss with `text` when `load_preset` opens it, else show why not."""
        from tuinet.errors import TuinetError
        from tuinet.presets import load_preset

        try:
            load_preset(text)
        except TuinetError as exc:
            self._set_error(f"Error: {exc}")
            return
        self.dismiss(text)

    def _set_error(self, message: str) -> None:
        self.error = message
        self.query_one("#preset-error", Static).update(message)

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
            yield Label(f"{self.title_text}  (enter: ok, escape: cancel)", markup=False)
            yield Input(value=self.default, id="path-input")
            yield Label("", id="path-error", classes="error", markup=False)  # echoes what was typed

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        error = self.query_one("#path-error", Label)
        if not text:
            error.update("Error: give a file path")
            return
        try:
            path = user_path(text, what="Error:")
        except TuinetError as exc:
            error.update(safe_text(exc, limit=None))
            return
        if self.must_exist and not path.is_file():
            error.update(f"Error: {safe_text(text)}: file not found")
            return
        if not self.must_exist and not path.resolve().parent.is_dir():
            error.update(f"Error: folder {str(path.parent)!r} does not exist")
            return
        self.dismiss(str(path))

    def action_cancel(self) -> None:
        self.dismiss(None)


class SavePresetPrompt(PathPrompt):
    """Asks where to save the experiment as a preset; returns the path, or None on escape.

    A name without a suffix gets ".toml" (so that it opens as a file, not as a shipped
    preset's name); an existing file is replaced only after a second enter.
    """

    def __init__(self, default: str = "preset.toml") -> None:
        super().__init__("Save the experiment as a preset", default)
        self._confirmed: Path | None = None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        event.prevent_default()  # instead of PathPrompt's
        text = event.value.strip()
        error = self.query_one("#path-error", Label)
        if not text:
            error.update("Error: give a file name such as my-spiral.toml")
            return
        try:
            path = user_path(text, what="Error:")
        except TuinetError as exc:
            error.update(safe_text(exc, limit=None))
            return
        if not path.suffix:
            path = path.with_name(path.name + ".toml")
        if path.is_dir():
            error.update(f"Error: {safe_text(text)}: is a folder; add a file name such as my-spiral.toml")
            return
        if not path.resolve().parent.is_dir():
            error.update(f"Error: folder {str(path.parent)!r} does not exist")
            return
        if path.exists() and self._confirmed != path:
            self._confirmed = path
            error.update(f"{path} exists: enter again to replace it")
            return
        self.dismiss(str(path))


def experiment_to_save(app):
    """The app's experiment as "save as preset" writes it: with the app's pace (`app.pace`,
    epochs per second or `math.inf`) in `experiment.app` when the app has one."""
    import dataclasses
    import math

    experiment = app.session.experiment
    pace = getattr(app, "pace", None)
    if isinstance(pace, (int, float)) and not isinstance(pace, bool) and pace > 0 and not math.isnan(pace):
        experiment = experiment.replace(app=dataclasses.replace(experiment.app, pace=float(pace)))
    return experiment


def save_preset_action(app) -> None:
    """"Save as preset": ask for a path (default `<preset name>.toml` in the working directory),
    write the session's experiment there with the app's pace, and notify where, or why not.

    For a key binding (`S`) and a command palette entry: `lambda: save_preset_action(app)`.
    """
    from tuinet.errors import TuinetError
    from tuinet.presets import save_preset

    def chosen(path: str | None) -> None:
        if not path:
            return
        try:
            written = save_preset(experiment_to_save(app), path)
        except TuinetError as exc:
            app.notify(str(exc), title="Cannot save the preset", severity="error", timeout=10)
            return
        app.notify(f"Preset saved to {written}", timeout=4)

    app.push_screen(SavePresetPrompt(f"{app.session.experiment.name}.toml"), chosen)


HELP = """\
# tuinet — keys

| key | action |
| --- | --- |
| `space` | play / pause training |
| `n` | step one batch |
| `N` (shift+n) | step one epoch |
| `r` | reset the weights (re-initialise from the seed) |
| `<` / `>` | slower / faster: the pace in epochs per second (1 ... 200, max) |
| `,` / `.` | replay: one recorded frame back / forward (hold to scan) |
| `enter` | in a replay: resume training from that epoch |
| `end` | back to the live run (so does `space` in a replay) |
| `G` (shift+g) | show / hide earlier runs (ghosts) on the plots |
| `ctrl+a` | apply architecture or hyperparameter edits (rebuilds the model) |
| `o` | open a preset: a shipped one, a `.toml` file of this folder, or any path |
| `S` (shift+s) | save the experiment (with the pace) as a preset file |
| `ctrl+s` | save the model |
| `ctrl+l` | load a model |
| `g` | toggle log scale on the plots |
| `f` | frames per second (1, 2, 5, 10, 20; slow links: fewer) |
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
and press `enter` to re-split (this re-initialises the model); for generated data also pick the
data set, the noise (0-50 %) and the number of samples, or press *regenerate* for a new seed.
`escape` leaves a field.

**Hyperparameters:** change the learning rate and press `enter`: it takes effect at the next batch,
even while training. Other changes are applied with `ctrl+a` and rebuild the model.

**Watching:** the app trains at a pace you can follow (the status line shows it) and records the
run: after a reset, an apply or a resume, the earlier run stays on the plots as a faint ghost.

**Over SSH:** tuinet draws 2 frames a second (10 locally) and only what changed. On a slow link
it sends what the link can take, the status line and your keys' effects first, and draws fewer
frames by itself; `f` (or `tuinet --refresh 1`) sets the most. `NO_COLOR=1` is honoured.
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

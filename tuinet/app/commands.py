"""The command palette: every training action, and "Open preset: NAME" for each shipped preset."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

ACTIONS = (
    ("Play / pause training", "toggle_run", "space"),
    ("Step one batch", "step_batch", "n"),
    ("Step one epoch", "step_epoch", "N"),
    ("Reset weights", "reset", "r"),
    ("Apply edits (rebuild the model)", "apply", "ctrl+a"),
    ("Open preset…", "open_preset", "o"),
    ("Save as preset…", "save_preset", "S"),
    ("Save model…", "save_model", "ctrl+s"),
    ("Load model…", "load_model", "ctrl+l"),
    ("Toggle log scale", "toggle_log", "g"),
    ("Slower: fewer epochs per second", "pace(-1)", "<"),
    ("Faster: more epochs per second", "pace(1)", ">"),
    ("Replay: one frame back in time", "scrub(-1)", ","),
    ("Replay: one frame forward in time", "scrub(1)", "."),
    ("Resume from this epoch (branch from the replayed frame)", "branch", "enter"),
    ("Back to the live run", "live", "end"),
    ("Show / hide earlier runs (ghosts)", "toggle_ghosts", "G"),
    ("Change refresh rate (frames per second)", "cycle_refresh", "f"),
    ("Help", "help", "?"),
    ("View: train and watch", "mode('train')", "1"),
    ("View: weights and gradients", "mode('weights')", "2"),
    ("View: decision boundary", "mode('boundary')", "3"),
    ("View: data split and confusion matrix", "mode('data')", "4"),
)


class TuinetCommands(Provider):
    """Training actions and presets, searchable by name."""

    def _commands(self):
        screen = self.screen
        for label, action, key in ACTIONS:
            target = screen if action in ("apply", "toggle_log") else self.app
            yield f"{label}  ({key})", partial(target.run_action, action), f"Key: {key}"
        yield "Export model to ONNX", self.app.export_onnx, "Write <preset>.onnx beside the saved models"
        try:
            from tuinet.presets import list_presets

            for name in list_presets():
                yield f"Open preset: {name}", partial(self.app.open_preset, name), "Load this preset"
        except Exception:  # pragma: no cover - presets folder unreadable
            pass

    async def discover(self) -> Hits:
        for label, callback, help_text in self._commands():
            yield DiscoveryHit(label, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, callback, help_text in self._commands():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), callback, help=help_text)

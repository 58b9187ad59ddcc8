"""Deterministic SVG screenshots of the app for the README, made from shipped presets.

    python scripts/screenshots.py                 # writes screenshots/*.svg
    python scripts/screenshots.py --out /tmp/shots --only main-80x24

Each shot opens a preset with `make_app(preset, seed=0, show_timing=False)` in Textual's
headless test driver at a fixed size, plays the preset's full training (space), waits for the
training worker to finish, then makes the screen final: notifications cleared, the plots'
redraw throttle taken off so the last data is drawn, steady cursors, the tab named. Nothing
on screen depends on the clock (show_timing=False hides samples/s, elapsed and ms/step), and a
seeded run is repeatable bit for bit on one machine, and the SVG ids are derived from the
picture (see `stable_ids`), so running the script twice gives identical files (`--check`
does that and compares).

The weights view (2) shows a gradient-norm history sampled from the weight snapshots, which
a running session publishes on a wall-clock interval; so that shot trains epoch by epoch
(the N key, one snapshot at the end of each epoch, none on the clock) instead of with space.
"""

from __future__ import annotations

import argparse
import asyncio
import filecmp
import re
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "screenshots"


@dataclass(frozen=True)
class Shot:
    name: str  # file name without .svg
    preset: str
    size: tuple[int, int]
    tab: str | None = None  # the pane to show in the tabbed (narrow) layout (tuinet.app.screens.main.TABS)
    view: str | None = None  # key of another view after training: "2" weights, "3" boundary, "4" data
    epochs: int | None = None  # None: the preset's own number of epochs
    title: str = "tuinet"
    by_epoch: bool = False  # train with N (one epoch, one snapshot per press) instead of space
    after: str | None = None  # a function of this module run after training: `await after(pilot)`


SHOTS = [
    Shot("main", "spiral", (160, 48), title="tuinet spiral"),
    Shot("main-80x24", "xor", (80, 24), tab="plots", title="tuinet xor"),
    Shot("weights", "digits-cnn", (160, 48), view="2", epochs=4, by_epoch=True,
         title="tuinet digits-cnn: weights"),
    Shot("boundary", "spiral", (160, 48), view="3", title="tuinet spiral: decision boundary"),
    Shot("data", "spiral", (160, 48), view="4", title="tuinet spiral: data"),
    Shot("replay", "spiral", (160, 48), after="branch_and_replay",
         title="tuinet spiral: resumed at epoch 60 with a lower learning rate, replaying epoch 150"),
]


async def _press(pilot, key: str, times: int) -> None:
    for _ in range(times):
        await pilot.press(key)


async def branch_and_replay(pilot) -> None:
    """Back to epoch 60, a lower learning rate, resume (the first run stays as a ghost), train
    to the end, then replay epoch 150."""
    import dataclasses

    app = pilot.app
    await _press(pilot, "comma", 200 - 60)
    exp = app.session.experiment
    app.session.set_learning_rate(0.003)
    app.session.replace_experiment(exp.replace(train=dataclasses.replace(exp.train, learning_rate=0.003)))
    await pilot.press("enter")
    await _final(pilot)
    await pilot.press("space")
    await _final(pilot)
    await _press(pilot, "comma", 50)


def stable_ids(svg: str) -> str:
    """The SVG with Rich's id prefix made a function of what is drawn.

    Rich names the CSS classes and clip paths `terminal-<adler32 of the segments' repr>`, and
    that repr includes Textual's per-run style metadata, so identical pictures can get different
    ids. Here the prefix is the adler32 of the SVG text itself (ids blanked out).
    """
    blank = re.sub(r"terminal-\d+", "terminal", svg)
    return re.sub(r"terminal-\d+", f"terminal-{zlib.adler32(blank.encode('utf-8'))}", svg)


async def _final(pilot) -> None:
    """Everything on screen final: no toasts, plots drawn from the latest data, no blinking."""
    from textual.widgets import Input

    from tuinet.app.widgets.plots import SeriesPlot, TrainingPlots

    app = pilot.app
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()
    app.clear_notifications()
    for plots in app.screen.query(TrainingPlots):
        plots.min_interval = 0
    for plot in app.screen.query(SeriesPlot):
        plot.min_interval = 0
        plot.refresh()
    for field in app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()
    await pilot.pause()


async def take(shot: Shot, out: Path) -> Path:
    from tuinet.app.app import make_app

    # pace max: a paced run would diagnose over/underfitting at clock-dependent epochs
    app = make_app(shot.preset, seed=0, epochs=shot.epochs, show_timing=False, training="thread",
                   pace=float("inf"))
    async with app.run_test(size=shot.size) as pilot:
        await pilot.pause()
        if shot.by_epoch:
            app.session.snapshot_interval = float("inf")  # snapshots at epoch ends only
            while app.session.state != "finished":
                await pilot.press("N")
                await app.workers.wait_for_complete()
                await pilot.pause()
        else:
            await pilot.press("space")
        await _final(pilot)
        state = app.session.state
        if state != "finished":
            raise SystemExit(f"{shot.name}: training ended in state {state!r}, not finished")
        if shot.after is not None:
            await globals()[shot.after](pilot)
            await _final(pilot)
        if shot.view is not None:
            await pilot.press(shot.view)
            await _final(pilot)
        if shot.tab is not None:
            if getattr(app.screen, "active_tab", None) is None:
                raise SystemExit(f"{shot.name}: no tabs at {shot.size[0]}x{shot.size[1]}")
            app.screen.active_tab = shot.tab
            await _final(pilot)
        svg = stable_ids(app.export_screenshot(title=shot.title))
    path = out / f"{shot.name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


async def take_all(shots: list[Shot], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [await take(shot, out) for shot in shots]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the SVG files (screenshots/)")
    parser.add_argument("--only", help="comma-separated shot names: " + ", ".join(s.name for s in SHOTS))
    parser.add_argument("--check", action="store_true",
                        help="also take every shot a second time into a temporary folder and compare")
    args = parser.parse_args()
    # The README shows the app as a truecolour terminal does, whatever TERM this runs under
    # (Textual reads TERM/COLORTERM into its colour system; at 16 colours the ramps change).
    import textual.constants

    textual.constants.COLOR_SYSTEM = "truecolor"
    shots = SHOTS
    if args.only:
        wanted = {n.strip() for n in args.only.split(",") if n.strip()}
        unknown = wanted - {s.name for s in SHOTS}
        if unknown:
            parser.error(f"unknown shot(s) {sorted(unknown)}; choose from {', '.join(s.name for s in SHOTS)}")
        shots = [s for s in SHOTS if s.name in wanted]
    for path in asyncio.run(take_all(shots, args.out)):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            again = asyncio.run(take_all(shots, Path(tmp)))
            different = [p.name for p in again if not filecmp.cmp(p, args.out / p.name, shallow=False)]
        if different:
            print(f"NOT repeatable: {', '.join(different)} differ between two runs", file=sys.stderr)
            sys.exit(1)
        print("repeatable: a second run gave identical files")


if __name__ == "__main__":
    main()

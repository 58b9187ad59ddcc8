"""The `tuinet` command.

`tuinet [PRESET]` opens the app; `tuinet train PRESET` trains headless; `presets`, `summary`,
`predict`, `evaluate` and `export` help around them. Every user error exits with code 2 and one line on
stderr; nothing here imports textual unless the app is opened.
"""

from __future__ import annotations

import json
import math
import signal
import sys
from pathlib import Path

import click

from tuinet.__about__ import __version__
from tuinet.errors import TuinetError, safe_text

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class UserError(click.ClickException):
    """A one-line error, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        # One line, whatever a file name, title or cell held: control characters are escaped.
        click.echo(f"tuinet: error: {safe_text(self.format_message(), limit=None)}", err=True)


def _fail(exc: Exception) -> UserError:
    return UserError(str(exc))


def _path(what: str, path: str) -> str:
    """`path` with `~` and `~user` expanded, or a one-line `UserError` (an unknown user, a path
    too long for the file system)."""
    from tuinet.paths import user_path

    try:
        return str(user_path(path, what=what))
    except TuinetError as exc:
        raise _fail(exc) from None


class PresetFirstGroup(click.Group):
    """`tuinet spiral` means `tuinet open spiral`: an unknown first word is a preset to open."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TuinetError as exc:  # a user error no command caught: still one line, exit 2
            _fail(exc).show()
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("\ntuinet: interrupted", err=True)
            sys.exit(130)

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["open", *args]
        return super().resolve_command(ctx, args)


class PaceType(click.ParamType):
    """A pace: a positive number of epochs per second, or "max"."""

    name = "EPOCHS/S|max"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        text = str(value).strip().lower()
        if text in ("max", "inf"):
            return float("inf")
        try:
            pace = float(text)
        except ValueError:
            pace = float("nan")
        if not pace > 0 or pace != pace:
            self.fail(f"expected a positive number of epochs per second or 'max', got {value!r}", param, ctx)
        return pace


_APP_OPTIONS = [
    click.option("--seed", type=int, help="Override the preset's data and model seeds."),
    click.option("--epochs", type=int, help="Override the preset's number of epochs."),
    click.option("--refresh", type=click.FloatRange(0.5, 30), default=None,
                 help="Frames per second while training (default 10, or 2 over SSH; f changes it)."),
    click.option("--pace", type=PaceType(), default=None, metavar="N|max",
                 help="Epochs per second the app trains at, or 'max' (default: the preset's, else "
                      "one that makes the run last about 15 s; < and > change it)."),
    click.option("--play", is_flag=True, help="Start training as soon as the app opens."),
    click.option("--view", type=click.Choice(["train", "weights", "boundary", "data"]), default=None,
                 help="The view the app opens on (default train; keys 1-4 switch views)."),
]


def _app_options(f):
    for option in reversed(_APP_OPTIONS):
        f = option(f)
    return f


@click.group(cls=PresetFirstGroup, context_settings=CONTEXT, invoke_without_command=True)
@click.version_option(__version__, "-V", "--version", prog_name="tuinet")
@_app_options
@click.pass_context
def main(ctx: click.Context, seed, epochs, refresh, pace, play, view) -> None:
    """Train neural networks in the terminal and watch them learn.

    \b
    Examples:
      tuinet                      open the app on the default preset (spiral)
      tuinet iris --play          open the app on a shipped preset and start training
      tuinet --refresh 1          fewer screen updates, for slow SSH links
      tuinet xor --pace 50        train at 50 epochs per second (< and > change it)
      tuinet circle --view boundary --play   open on the decision boundary, training
      tuinet train spiral         train headless, Keras-style output
      tuinet presets              list the shipped presets
      python -c "import tuinet"   the engine, as a library
    """
    ctx.obj = {"seed": seed, "epochs": epochs, "refresh": refresh, "pace": pace, "play": play, "view": view}
    if ctx.invoked_subcommand is None:
        ctx.invoke(open_app, preset=None)


@main.command("open", hidden=True, context_settings=CONTEXT)
@click.argument("preset", required=False)
@_app_options
@click.pass_context
def open_app(ctx: click.Context, preset: str | None, seed=None, epochs=None, refresh=None, pace=None, play=False,
             view=None) -> None:
    """Open the app on PRESET (a shipped name or a .toml path)."""
    from tuinet.presets import load_preset

    outer = ctx.obj or {}
    seed = seed if seed is not None else outer.get("seed")
    epochs = epochs if epochs is not None else outer.get("epochs")
    refresh = refresh if refresh is not None else outer.get("refresh")
    pace = pace if pace is not None else outer.get("pace")
    play = play or outer.get("play", False)
    view = view or outer.get("view") or "train"
    try:
        experiment = load_preset(preset or "spiral").with_overrides(seed=seed, epochs=epochs)
    except TuinetError as exc:
        raise _fail(exc) from None
    try:
        from tuinet.app import run_app
    except ImportError:
        click.echo(f"tuinet: the interactive app is not built yet; train headless instead: "
                   f"tuinet train {preset or experiment.name}", err=True)
        sys.exit(0)
    run_app(experiment, refresh_hz=refresh, autostart=play, view=view, pace=pace)


# ---------------------------------------------------------------------- train
class _Printer:
    """Turns session events into Keras-style terminal output (or JSON lines)."""

    def __init__(self, *, as_json: bool, dynamic: bool) -> None:
        self.as_json, self.dynamic = as_json, dynamic
        self._epoch_shown = -1
        self._epoch_start = None

    def __call__(self, event) -> None:
        from tuinet import session as s
        from tuinet.nn.callbacks import progress_line

        if isinstance(event, s.BatchEnded):
            if self.as_json:
                return
            self._header(event.epoch)
            if self.dynamic:
                elapsed = self._elapsed()
                line = progress_line(event.batch, event.steps, elapsed, event.logs, final=False, dim=True)
                sys.stdout.write("\r\x1b[K" + line)
                sys.stdout.flush()
        elif isinstance(event, s.EpochEnded):
            if self.as_json:
                print(json.dumps({"event": "epoch", "epoch": event.epoch + 1, "epochs": event.epochs,
                                  **{k: _num(v) for k, v in event.logs.items()}, "seconds": round(event.seconds, 4)}),
                      flush=True)
                return
            self._header(event.epoch)
            if self.dynamic:
                steps = int(event.line.split("/", 1)[0])
                line = progress_line(steps, steps, event.seconds, event.logs, final=True, dim=True)
                sys.stdout.write("\r\x1b[K" + line + "\n")
            else:
                sys.stdout.write(event.line + "\n")
            sys.stdout.flush()

    def _header(self, epoch: int) -> None:
        import time

        if epoch != self._epoch_shown:
            self._epoch_shown = epoch
            self._epoch_start = time.perf_counter()
            sys.stdout.write(f"Epoch {epoch + 1}/{self.epochs}\n")

    def _elapsed(self) -> float:
        import time

        return time.perf_counter() - (self._epoch_start or time.perf_counter())


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else str(v)


def _check_output(option: str, path: str, *, not_the: dict[str, str | None] | None = None) -> str:
    """Refuse, before any work, an output path that cannot be written: a folder, a missing or
    read-only folder, or one of the command's own input files (`not_the`: what -> path).
    Returns the path with `~` expanded."""
    import os

    path = _path(option, path)
    p = Path(path)
    if p.is_dir():
        raise UserError(f"{option} {path}: that is a folder; give a file name, e.g. {str(p / 'model.tuinet')!r}")
    folder = p.resolve().parent
    if not folder.is_dir():
        raise UserError(f"{option} {path}: folder {str(p.parent) or '.'!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: folder {str(folder)!r} is not writable")
    for what, other in (not_the or {}).items():
        if other and p.exists() and Path(other).exists() and os.path.samefile(p, other):
            raise UserError(f"{option} {path}: that is the {what} itself; choose another file")
    return path


def _finite(session) -> bool:
    import numpy as np

    return all(np.isfinite(w).all() for w in session.model.get_weights())


def _save(session, out: str | None) -> tuple[str | None, str | None]:
    """Save to `out`: (the path saved to, None), or when that fails, to a fallback in the current
    folder, else the temp folder: (that path, a one-line note). Non-finite weights are never
    saved (None, the note). Nothing is lost quietly: the caller prints the note and exits 2."""
    import tempfile

    if not out:
        return None, None
    if not _finite(session):
        return None, f"the model's weights are not finite; nothing saved to {out}"
    try:
        session.save_model(out).result()
        return out, None
    except (TuinetError, OSError) as exc:
        problem = str(exc)
    name = Path(out).name or "model.tuinet"
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        fallback = folder / name
        if fallback.resolve() == Path(out).resolve():
            fallback = folder / f"{Path(name).stem}-saved{Path(name).suffix or '.tuinet'}"
        try:
            session.save_model(fallback).result()
        except (TuinetError, OSError):
            continue
        return str(fallback), f"could not save to {out} ({problem}); saved to {fallback} instead"
    return None, f"could not save to {out} ({problem}), nor to the current or the temp folder: nothing saved"


@main.command(context_settings=CONTEXT)
@click.argument("preset")
@click.option("--epochs", type=int, help="Override the preset's number of epochs.")
@click.option("--batch-size", type=int, help="Override the preset's batch size.")
@click.option("--learning-rate", "--lr", type=float, help="Override the preset's learning rate.")
@click.option("--seed", type=int, help="Override the data and model seeds.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), help="Save the trained model to this file.")
@click.option("--resume", "resume", metavar="MODEL", type=click.Path(dir_okay=False),
              help="Continue training a model saved with --out (or from the app) from its last epoch, with "
                   "its optimizer state; --epochs counts them all.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per epoch (for scripts).")
def train(preset: str, epochs, batch_size, learning_rate, seed, out, resume, as_json) -> None:
    """Train PRESET headless and report the test-split metrics.

    PRESET is a shipped preset name (see `tuinet presets`) or a path to a .toml file. Output
    follows Keras: an `Epoch n/N` line and a progress bar per epoch (plain lines when stdout is
    not a terminal). Ctrl-C stops after the current batch, saves to --out if given, and exits
    with code 130.

    --resume MODEL goes on where MODEL's run stopped: after 3 of 6 epochs, `--epochs 6` trains
    epochs 4 to 6, exactly as an uninterrupted run would have (same weights, optimizer state,
    shuffling and history). Add --out to save the result (it may be MODEL itself).

    \b
    Examples:
      tuinet train spiral
      tuinet train iris --epochs 50 --learning-rate 0.01 --out iris.tuinet
      tuinet train iris --epochs 100 --resume iris.tuinet --out iris.tuinet
      tuinet train my-experiment.toml --json > log.jsonl
    """
    from tuinet.presets import load_preset
    from tuinet.session import TrainingSession

    if resume:
        resume = _path("--resume", resume)
    try:
        experiment = load_preset(preset).with_overrides(epochs=epochs, batch_size=batch_size,
                                                        learning_rate=learning_rate, seed=seed)
        if out:
            from tuinet.presets import find_preset

            out = _check_output("--out", out, not_the={"preset file": str(find_preset(preset))})
        printer = _Printer(as_json=as_json, dynamic=sys.stdout.isatty() and not as_json)
        printer.epochs = experiment.train.epochs
        session = TrainingSession(experiment, sink=printer, batch_event_interval=0.05 if printer.dynamic else 1e9,
                                  snapshot_interval=math.inf)
        if resume:
            session.load_weights_from(resume).result()
    except TuinetError as exc:
        raise _fail(exc) from None
    if resume and session.finished:
        raise UserError(f"{resume} already has {session.epoch} epochs, and {session.epochs} were asked for; "
                        f"ask for more with --epochs N (N > {session.epoch})")

    interrupted = {"count": 0}

    def on_sigint(signum, frame):
        interrupted["count"] += 1
        if interrupted["count"] > 1:
            raise KeyboardInterrupt
        session.stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        session.run()
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        click.echo("tuinet: interrupted twice; stopped at once, nothing saved", err=True)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGINT, previous)

    if session.state == "stopped":
        if printer.dynamic:
            sys.stdout.write("\n")
        saved, problem = _save(session, out)
        where = (f"at epoch {session.epoch + 1}, batch {session.batch}" if session.batch
                 else f"after epoch {session.epoch}")
        click.echo(f"tuinet: interrupted {where}{'; model saved to ' + saved if saved else '; nothing saved'}",
                   err=True)
        if problem:
            click.echo(f"tuinet: {problem}", err=True)
        sys.exit(130)
    if session.state == "diverged":
        if printer.dynamic:
            sys.stdout.write("\n")
        if as_json:
            print(json.dumps({"event": "diverged", "epoch": session.epoch + 1, "message": session.last_message}),
                  flush=True)
        saved, problem = _save(session, out)  # only finite weights are ever saved
        msg = session.last_message or "training diverged"
        click.echo(f"tuinet: {msg}{' Last finite model saved to ' + saved + '.' if saved else ''}", err=True)
        if problem:
            click.echo(f"tuinet: {problem}", err=True)
        sys.exit(1)
    if session.state == "failed":  # a TuinetError mid-run (anything else raised): a user error
        click.echo(f"tuinet: error: {safe_text(session.last_message, limit=None)}", err=True)
        sys.exit(2)

    test = session.test_results
    if as_json:
        print(json.dumps({"event": "test", **{k: _num(v) for k, v in test.items()}}), flush=True)
    elif test:
        shown = {k[len("test_"):]: v for k, v in sorted(test.items())}
        from tuinet.nn.callbacks import format_logs

        print(f"Test ({len(session.prepared.x_test)} samples): {format_logs(shown)}")
    problems = experiment.expect.check(session.results()) if experiment.expect.targets else []
    if experiment.expect.targets and not as_json:
        wanted = ", ".join(f"{k} {'<=' if experiment.expect.lower_is_better(k) else '>='} {v:g}"
                           for k, v in experiment.expect.targets.items())
        print(f"Expected: {wanted} — {'met' if not problems else 'NOT met: ' + '; '.join(problems)}")
    saved, problem = _save(session, out)
    if saved and not as_json and not problem:
        print(f"Model saved to {saved}")
    if problem:
        click.echo(f"tuinet: {problem}", err=True)
        sys.exit(2)


# ---------------------------------------------------------------------- helpers around training
def _layer_brief(spec: dict) -> str:
    from tuinet.layerspec import describe_layer

    return describe_layer(spec)


@main.command(context_settings=CONTEXT)
def presets() -> None:
    """List the shipped presets: name, data, model and the result each promises.

    \b
    Example:
      tuinet presets
    """
    from tuinet.presets import list_presets, load_preset

    rows = []
    for name, path in list_presets().items():
        try:
            e = load_preset(path)
        except TuinetError as exc:
            rows.append((name, "?", f"invalid: {exc}", ""))
            continue
        d = e.data
        data = d.source + (f" ({d.samples})" if d.samples else "")
        model = " → ".join(_layer_brief(s) for s in e.model.layers)
        expect = ", ".join(f"{k} {'<=' if e.expect.lower_is_better(k) else '>='} {v:g}"
                           for k, v in e.expect.targets.items())
        rows.append((name, data, model, expect))
    if not rows:
        click.echo("no presets found", err=True)
        return
    heads = ("NAME", "DATA", "MODEL", "EXPECTED")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    widths[2] = min(widths[2], 60)
    click.echo("  ".join(h.ljust(w) for h, w in zip(heads, widths)).rstrip())
    for r in rows:
        model = r[2] if len(r[2]) <= widths[2] else r[2][: widths[2] - 1] + "…"
        click.echo("  ".join(c.ljust(w) for c, w in zip((r[0], r[1], model, r[3]), widths)).rstrip())


@main.command(context_settings=CONTEXT)
@click.argument("preset")
def summary(preset: str) -> None:
    """Show PRESET's data split and model summary without training.

    \b
    Example:
      tuinet summary digits-cnn
    """
    from tuinet.presets import load_preset
    from tuinet.session import TrainingSession

    try:
        session = TrainingSession(load_preset(preset))
    except TuinetError as exc:
        raise _fail(exc) from None
    e, p = session.experiment, session.prepared
    ds = p.dataset
    click.echo(f"{safe_text(e.name)}: {safe_text(e.title or e.description, limit=200)}".rstrip(": "))
    click.echo(f"Data: {ds.name} ({ds.task}), {ds.n} samples, inputs {tuple(ds.x.shape[1:])}"
               + (f", {ds.num_classes} classes" if ds.task == "classification" else ""))
    click.echo(f"Split: train {len(p.x_train)}, validation {len(p.x_val)}, test {len(p.x_test)}"
               f" (scaling: {e.data.scaling})")
    t = e.train
    click.echo(f"Training: {t.optimizer} (learning rate {t.learning_rate:g}), loss {t.loss}, "
               f"batch {t.batch_size}, {t.epochs} epochs")
    click.echo(session.model.summary_text())


def _read_features(path: str, expected: int, target) -> "tuple":
    """The feature columns of a CSV file as float32 `(rows, expected)`, and the header's names.

    Read as training reads CSV files (`tuinet.data.csv_stream`: in chunks, straight into float32,
    under the memory budget), so text, missing, NaN or infinite cells and non-UTF-8 bytes get the
    same one-line message naming the line and the column. A label column left in is text: its
    cells are reported before a row of the wrong width.
    """
    from tuinet.data.csv_stream import load_features

    if target is not None and str(target).lstrip("-").isdigit():
        target = int(target)
    try:
        found = load_features(path, features=expected, target=target)
    except TuinetError as exc:
        raise _fail(exc) from None
    if found.mismatch is not None:
        line, cells = found.mismatch
        extra = 0 if target is None else 1
        raise UserError(f"{found.display}: line {line}: expected {expected} values (the model's inputs)"
                        + (" and the target column" if extra else "")
                        + f", got {cells - extra}" + ("" if extra else "; use --target to drop a label column"))
    return found.x, found.names


def _apply_scaler(model, x):
    from tuinet import data

    meta = getattr(model, "metadata", {}) or {}
    if meta.get("scaler"):
        cls = getattr(data, meta.get("scaler_kind") or "", None)
        if cls is not None:
            return cls.from_config(meta["scaler"]).transform(x)
    return x


@main.command(context_settings=CONTEXT)
@click.argument("model_path", metavar="MODEL")
@click.argument("data_path", metavar="DATA.csv")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write predictions to this CSV file.")
@click.option("--target", help="Name or index of a label column in DATA.csv to leave out.")
def predict(model_path: str, data_path: str, output, target) -> None:
    """Predict with a saved MODEL on the rows of DATA.csv.

    The inputs are scaled as they were in training (the scaler is saved in the model file by
    `tuinet train --out`). Classification prints the class (by name when known) and its
    probability; regression prints the value.

    \b
    Examples:
      tuinet train iris --out iris.tuinet
      tuinet predict iris.tuinet new-flowers.csv -o predictions.csv
    """
    import numpy as np

    import tuinet

    model_path, data_path = _path("MODEL", model_path), _path("DATA.csv", data_path)
    if output:
        output = _check_output("--output", output, not_the={"model file": model_path, "data file": data_path})
    try:
        model = tuinet.load_model(model_path)
    except TuinetError as exc:
        raise _fail(exc) from None
    shape = model.input_shape[1:]
    if len(shape) != 1:
        raise UserError(f"{model_path}: the model takes inputs of shape {shape}; predict reads flat CSV rows only")
    x, _ = _read_features(data_path, shape[0], target)
    if x.shape[1] != shape[0]:
        raise UserError(f"{data_path}: {x.shape[1]} feature columns, the model expects {shape[0]}")
    step = 1 << 16  # rows scaled, and predictions formatted and written, at a time
    for a in range(0, len(x), step):  # scaled in place: no second copy of the inputs
        x[a:a + step] = _apply_scaler(model, x[a:a + step])
    out = model.predict(x, verbose=0)
    del x
    meta = model.metadata or {}
    names = meta.get("class_names")
    classify = meta.get("task") == "classification" or (out.ndim == 2 and out.shape[1] > 1)
    if classify:
        header = ["prediction", "probability"]
    else:
        out = out.reshape(len(out), -1)
        header = [f"y{j}" for j in range(out.shape[1])]

    def blocks(labels):
        """The predictions as rows of cells, `step` rows at a time (never all of them as text)."""
        for a in range(0, len(out), step):
            part = out[a:a + step]
            if not classify:
                yield [[f"{v:.6g}" for v in row] for row in part.tolist()]
                continue
            if part.shape[1] == 1:
                ids = (part[:, 0] > 0.5).astype(int)
                conf = np.where(ids == 1, part[:, 0], 1 - part[:, 0])
            else:
                ids, conf = part.argmax(1), part.max(1)
            yield [[labels[i] if labels and i < len(labels) else str(i), f"{c:.6f}"]
                   for i, c in zip(ids.tolist(), conf.tolist())]

    if output:
        import csv

        from tuinet.atomic import atomic_write

        def write(f) -> None:
            w = csv.writer(f)
            w.writerow(header)
            for rows in blocks(names):
                w.writerows(rows)

        atomic_write(output, write, encoding="utf-8",  # no temporary file left behind (a full disk)
                     error=lambda exc: UserError(f"--output {output}: cannot write the predictions "
                                                 f"({exc.strerror or exc})"))
        click.echo(f"{len(out)} predictions written to {output}")
    else:
        click.echo(",".join(header))
        shown = [safe_text(name, limit=None) for name in names] if names else names  # names from the model file
        for rows in blocks(shown):
            click.echo("".join(",".join(row) + "\n" for row in rows), nl=False)


@main.command(context_settings=CONTEXT)
@click.argument("model_path", metavar="MODEL")
@click.argument("preset")
def evaluate(model_path: str, preset: str) -> None:
    """Evaluate a saved MODEL on the test split of PRESET's data.

    \b
    Example:
      tuinet train wine --out wine.tuinet
      tuinet evaluate wine.tuinet wine
    """
    import tuinet
    from tuinet.nn.callbacks import format_logs
    from tuinet.data import prepare
    from tuinet.presets import load_preset

    model_path = _path("MODEL", model_path)
    try:
        model = tuinet.load_model(model_path)
        experiment = load_preset(preset)
        prepared = prepare(experiment)
    except TuinetError as exc:
        raise _fail(exc) from None
    x, y = (prepared.x_test, prepared.y_test) if len(prepared.x_test) else (prepared.x_val, prepared.y_val)
    which = "test" if len(prepared.x_test) else "validation"
    if not len(x):
        raise UserError(f"{preset}: the preset has no test or validation split to evaluate on")
    ds, meta = prepared.dataset, getattr(model, "metadata", None) or {}
    mismatch = f"{model_path} does not fit preset {experiment.name}"
    model_in, data_in = tuple(model.input_shape[1:]), tuple(x.shape[1:])
    if model_in != data_in:
        raise UserError(f"{mismatch}: the model takes inputs of shape {model_in}, the preset's data "
                        f"({ds.name}) has {data_in}")
    if meta.get("task") and meta["task"] != ds.task:
        raise UserError(f"{mismatch}: the model was trained for {meta['task']}"
                        f"{' on ' + meta['dataset'] if meta.get('dataset') else ''}, the preset's data "
                        f"({ds.name}) is {ds.task}")
    try:
        if not model.compiled:
            model.compile(optimizer="adam", loss=experiment.train.loss, metrics=list(experiment.train.metrics))
        logs = model.evaluate(x, y, verbose=0, return_dict=True)
    except TuinetError as exc:
        raise UserError(f"{mismatch}: {exc}") from None
    click.echo(f"{which} split of {experiment.name} ({len(x)} samples): {format_logs(logs)}")



@main.command("export", context_settings=CONTEXT)
@click.argument("model_path", metavar="MODEL")
@click.argument("out", metavar="OUT.onnx")
@click.option("--opset", type=int, default=17, show_default=True, help="The ONNX opset to write (17 or later).")
def export(model_path: str, out: str, opset: int) -> None:
    """Export a saved MODEL to an ONNX file, for onnxruntime and other runtimes.

    Needs the onnx package: pip install "tuinet[onnx]".

    \b
    Example:
      tuinet train iris --out iris.tuinet
      tuinet export iris.tuinet iris.onnx
    """
    import tuinet
    from tuinet.nn.onnx_export import export_onnx

    model_path = _path("MODEL", model_path)
    out = _check_output("OUT.onnx", out, not_the={"model file": model_path})
    try:
        model = tuinet.load_model(model_path)
        written = export_onnx(model, out, opset)
    except TuinetError as exc:
        raise _fail(exc) from None
    click.echo(f"{model_path} exported to {written} (ONNX opset {opset})")


if __name__ == "__main__":  # pragma: no cover
    main()

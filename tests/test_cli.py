"""The `tuinet` command: Keras-style training output, JSON lines, saved models, predict and
evaluate, one-line user errors (exit code 2), divergence, Ctrl-C, and a light `--help`."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

import tuinet
from tuinet.__about__ import __version__
from tuinet.cli import main
from tuinet.presets import list_presets, load_preset

IRIS_CLASSES = ["setosa", "versicolor", "virginica"]
EPOCH_LINE = re.compile(r"^(\d+)/\1 - \d+s - \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d+\.\d{4} - "
                        r"val_accuracy: \d\.\d{4} - val_loss: \d+\.\d{4}$")
# Four flowers of Fisher's data: two setosa, one virginica, one versicolor.
ROWS = "5.1,3.5,1.4,0.2\n4.9,3.0,1.4,0.2\n6.7,3.0,5.2,2.3\n5.9,3.0,4.2,1.5\n"

DIVERGING = """\
title = "Too fast"
description = "Plain SGD with a huge learning rate on a regression: the loss overflows."

[data]
source = "plane"
samples = 200
seed = 0

[model]
layers = [
  { type = "Dense", units = 8, activation = "tanh" },
  { type = "Dense", units = 1 },
]

[train]
optimizer = "sgd"
learning_rate = 1e6
loss = "mse"
batch_size = 16
epochs = 5
"""


def run(*args: str, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kwargs)


def assert_user_error(result, *fragments: str) -> str:
    """Exit code 2, one line on stderr starting `tuinet: error:`, no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    message = lines[0]
    assert message.startswith("tuinet: error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in message
    return message


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory):
    """A model trained on the full iris preset and saved with --out, and what `train` printed."""
    path = tmp_path_factory.mktemp("model") / "iris.tuinet"
    result = run("train", "iris", "--out", path)
    assert result.exit_code == 0, result.output
    return path, result.stdout


# ---------------------------------------------------------------------- help and listing
def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"tuinet, version {__version__}"
    assert run("-V").stdout == result.stdout


def test_help_shows_examples():
    result = run("--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout and "tuinet train spiral" in result.stdout
    for command in ("train", "presets", "predict", "evaluate", "summary"):
        assert re.search(rf"^\s+{command}\s", result.stdout, re.M)
    train_help = run("train", "--help")
    assert train_help.exit_code == 0 and "Examples:" in train_help.stdout
    assert "tuinet train iris --epochs 50" in train_help.stdout
    for option in ("--epochs", "--batch-size", "--learning-rate", "--seed", "--out", "--json"):
        assert option in train_help.stdout
    assert run("train", "-h").stdout == train_help.stdout


def test_presets_table_lists_every_preset_with_its_promise():
    result = run("presets")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "MODEL", "EXPECTED"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert list(rows) == list(list_presets())
    for name in list_presets():
        exp = load_preset(name)
        for key, bound in exp.expect.targets.items():
            sign = "<=" if exp.expect.lower_is_better(key) else ">="
            assert f"{key} {sign} {bound:g}" in rows[name]
    assert "Dense 16 relu → Dense 3 softmax" in rows["iris"] and "iris" in rows["iris"].split()[1]
    assert "spiral (600)" in rows["spiral"]


def test_summary():
    result = run("summary", "iris")
    assert result.exit_code == 0
    assert "Split: train 90, validation 30, test 30 (scaling: standard)" in result.stdout
    assert "3 classes" in result.stdout and "Dense" in result.stdout


# ---------------------------------------------------------------------- train
def test_train_prints_keras_style_epochs_then_test_and_expectation():
    result = run("train", "iris", "--epochs", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0::2][:3] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    for line in lines[1:6:2]:
        assert EPOCH_LINE.match(line), line
        assert line.startswith("12/12 - ")  # 90 training flowers in batches of 8
    assert re.fullmatch(r"Test \(30 samples\): accuracy: \d\.\d{4} - loss: \d+\.\d{4}", lines[6])
    assert re.fullmatch(r"Expected: test_accuracy >= 0\.9 — (met|NOT met: test_accuracy: \d\.\d{4} < 0\.9)",
                        lines[7])
    assert len(lines) == 8 and result.stderr == ""


def test_train_is_never_paced_even_when_the_preset_names_a_pace(tmp_path):
    import time

    from tuinet.presets import load_preset, preset_toml

    exp = load_preset("xor").with_overrides(epochs=20)
    text = preset_toml(exp) + "\n[app]\npace = 1\n" if "[app]" not in preset_toml(exp) else preset_toml(exp)
    path = tmp_path / "slow.toml"
    path.write_text(text, encoding="utf-8")
    assert load_preset(path).app.pace == 1.0
    started = time.perf_counter()
    result = run("train", str(path))
    assert result.exit_code == 0, result.output
    assert time.perf_counter() - started < 15  # 20 epochs at 1 epoch/s would take 19 s: the app's pace only


def test_train_json_lines():
    result = run("train", "iris", "--epochs", "3", "--json")
    assert result.exit_code == 0, result.output
    events = json_lines(result.stdout)
    assert len(events) == 4
    for i, event in enumerate(events[:3], start=1):
        assert event["event"] == "epoch" and event["epoch"] == i and event["epochs"] == 3
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(event)
        assert 0 <= event["accuracy"] <= 1 and event["loss"] > 0
    assert events[2]["loss"] < events[0]["loss"]
    assert events[3]["event"] == "test" and set(events[3]) == {"event", "test_accuracy", "test_loss"}


def without_timings(stdout: str) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "seconds"} for e in json_lines(stdout)]


def test_overrides_take_effect():
    base = without_timings(run("train", "iris", "--epochs", "2", "--json").stdout)
    again = without_timings(run("train", "iris", "--epochs", "2", "--json").stdout)
    assert base == again  # a seed makes a run repeatable
    seeded = without_timings(run("train", "iris", "--epochs", "2", "--json", "--seed", "5").stdout)
    assert seeded != base and seeded == without_timings(
        run("train", "iris", "--epochs", "2", "--json", "--seed", "5").stdout)
    faster = without_timings(run("train", "iris", "--epochs", "2", "--json", "--learning-rate", "0.1").stdout)
    assert faster[0]["epochs"] == 2 and faster[0]["loss"] != base[0]["loss"]
    assert without_timings(run("train", "iris", "--epochs", "2", "--json", "--lr", "0.1").stdout) == faster
    big = run("train", "iris", "--epochs", "1", "--batch-size", "30")
    assert big.exit_code == 0 and big.stdout.splitlines()[1].startswith("3/3 - ")
    assert [e["epoch"] for e in base[:-1]] == [1, 2]


def test_out_saves_a_model_with_metadata(iris_model):
    path, stdout = iris_model
    assert stdout.splitlines()[-1] == f"Model saved to {path}"
    assert "Epoch 60/60" in stdout
    model = tuinet.load_model(path)
    assert model.input_shape[1:] == (4,)
    meta = model.metadata
    assert meta["class_names"] == IRIS_CLASSES and meta["task"] == "classification" and meta["preset"] == "iris"
    assert meta["scaler_kind"] == "StandardScaler" and meta["scaler"]["name"] == "standard"
    assert meta["feature_names"][0] == "sepal length (cm)"
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_evaluate_prints_the_test_metrics(iris_model):
    path, stdout = iris_model
    result = run("evaluate", path, "iris")
    assert result.exit_code == 0, result.output
    match = re.fullmatch(r"test split of iris \(30 samples\): accuracy: (\d\.\d{4}) - loss: (\d+\.\d{4})",
                         result.stdout.strip())
    assert match
    trained = re.search(r"^Test \(30 samples\): accuracy: (\d\.\d{4}) - loss: (\d+\.\d{4})$", stdout, re.M)
    assert match.group(1) == trained.group(1) and float(match.group(1)) >= 0.9  # the model `train` reported
    assert float(match.group(2)) == pytest.approx(float(trained.group(2)), abs=2e-4)


def test_predict_prints_one_class_per_row(iris_model, tmp_path):
    path, _ = iris_model
    (tmp_path / "rows.csv").write_text(ROWS)
    result = run("predict", path, tmp_path / "rows.csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "prediction,probability" and len(lines) == 5
    names = [line.split(",")[0] for line in lines[1:]]
    assert names == ["setosa", "setosa", "virginica", "versicolor"]
    assert all(0.34 <= float(line.split(",")[1]) <= 1 for line in lines[1:])
    # with a header row, the same predictions
    (tmp_path / "named.csv").write_text("sl,sw,pl,pw\n" + ROWS)
    assert run("predict", path, tmp_path / "named.csv").stdout == result.stdout


def test_predict_writes_a_csv(iris_model, tmp_path):
    path, _ = iris_model
    (tmp_path / "rows.csv").write_text(ROWS)
    out = tmp_path / "out.csv"
    result = run("predict", path, tmp_path / "rows.csv", "-o", out)
    assert result.exit_code == 0 and result.stdout.strip() == f"4 predictions written to {out}"
    lines = out.read_text().splitlines()
    assert lines[0] == "prediction,probability" and [r.split(",")[0] for r in lines[1:]] == [
        "setosa", "setosa", "virginica", "versicolor"]
    assert not list(tmp_path.glob(".predict.*"))  # no temporary file left behind


def test_predict_target_drops_the_label_column(iris_model, tmp_path):
    path, _ = iris_model
    labelled = "sl,sw,pl,pw,species\n" + "".join(
        f"{row},{name}\n" for row, name in zip(ROWS.splitlines(), ["setosa", "setosa", "virginica", "versicolor"]))
    (tmp_path / "labelled.csv").write_text(labelled)
    result = run("predict", path, tmp_path / "labelled.csv", "--target", "species")
    assert result.exit_code == 0, result.output
    assert [line.split(",")[0] for line in result.stdout.splitlines()[1:]] == [
        "setosa", "setosa", "virginica", "versicolor"]
    by_index = run("predict", path, tmp_path / "labelled.csv", "--target", "4")
    assert by_index.exit_code == 0 and by_index.stdout == result.stdout
    assert_user_error(run("predict", path, tmp_path / "labelled.csv"), "labelled.csv", "line 2",
                      'column "species"', 'got "setosa"')


# ---------------------------------------------------------------------- user errors
def test_unknown_preset():
    message = assert_user_error(run("train", "spirl"), 'unknown preset "spirl" (did you mean "spiral"?)',
                                "shipped presets: ")
    for name in list_presets():
        assert name in message


def test_missing_preset_file(tmp_path):
    assert_user_error(run("train", tmp_path / "nothere.toml"), f"{tmp_path / 'nothere.toml'}: preset file not found")


def test_bad_preset_names_file_and_field(tmp_path):
    text = load_preset("spiral").path.read_text().replace("units = 16", 'units = "sixteen"', 1)
    (tmp_path / "bad.toml").write_text(text)
    message = assert_user_error(run("train", tmp_path / "bad.toml"))
    assert message == 'tuinet: error: bad.toml: model.layers[0].units: expected a positive integer, got "sixteen"'


def test_bad_override():
    message = assert_user_error(run("train", "iris", "--epochs", "0"))
    assert message == "tuinet: error: iris.toml: --epochs: expected a positive integer, got 0"
    assert_user_error(run("train", "iris", "--learning-rate", "-1"), "--learning-rate: expected a positive number")
    assert_user_error(run("train", "iris", "--batch-size", "0"), "--batch-size: expected a positive integer")


def test_out_into_a_missing_folder(tmp_path):
    target = tmp_path / "nowhere" / "model.tuinet"
    result = run("train", "iris", "--epochs", "1", "--out", target)
    assert_user_error(result, f"--out {target}: folder", "does not exist")
    assert result.stdout == "" and not target.parent.exists()  # refused before training


def test_missing_model_file(tmp_path):
    assert_user_error(run("evaluate", tmp_path / "none.tuinet", "iris"), "none.tuinet: file not found")
    (tmp_path / "rows.csv").write_text(ROWS)
    assert_user_error(run("predict", tmp_path / "none.tuinet", tmp_path / "rows.csv"), "none.tuinet: file not found")


def test_truncated_and_foreign_model_files(iris_model, tmp_path):
    path, _ = iris_model
    truncated = tmp_path / "cut.tuinet"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert_user_error(run("evaluate", truncated, "iris"), "cut.tuinet: not a valid tuinet model file", "truncated")
    with zipfile.ZipFile(tmp_path / "other.tuinet", "w") as z:
        z.writestr("hello.txt", "not a model")
    assert_user_error(run("evaluate", tmp_path / "other.tuinet", "iris"), "other.tuinet: not a tuinet model file")
    (tmp_path / "notes.tuinet").write_text("name,age\nbob,3\n")
    (tmp_path / "rows.csv").write_text(ROWS)
    assert_user_error(run("predict", tmp_path / "notes.tuinet", tmp_path / "rows.csv"), "notes.tuinet: not a")


def test_predict_csv_with_text_in_a_number_column(iris_model, tmp_path):
    path, _ = iris_model
    (tmp_path / "rows.csv").write_text("5.1,3.5,1.4,0.2\n6.7,abc,5.2,2.3\n")
    message = assert_user_error(run("predict", path, tmp_path / "rows.csv"))
    assert message == f'tuinet: error: {tmp_path / "rows.csv"}: line 2, column 2: expected a number, got "abc"'
    # a first line with numbers in it is data, not a header
    (tmp_path / "first.csv").write_text("5.1,abc,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    assert_user_error(run("predict", path, tmp_path / "first.csv"), "line 1, column 2", 'got "abc"')
    (tmp_path / "named.csv").write_text("sl,sw,pl,pw\n5.1,3.5,1.4,0.2\n6.7,3.0,x,2.3\n")
    assert_user_error(run("predict", path, tmp_path / "named.csv"), 'line 3, column "pl"', 'got "x"')


def test_predict_csv_with_the_wrong_number_of_columns(iris_model, tmp_path):
    path, _ = iris_model
    (tmp_path / "rows.csv").write_text("5.1,3.5,1.4,0.2\n6.7,3.0,5.2\n")
    message = assert_user_error(run("predict", path, tmp_path / "rows.csv"))
    assert message.endswith("rows.csv: line 2: expected 4 values (the model's inputs), got 3; "
                            "use --target to drop a label column")


def test_evaluate_with_an_incompatible_preset(iris_model, tmp_path):
    path, _ = iris_model
    message = assert_user_error(run("evaluate", path, "wine"))
    assert message == (f"tuinet: error: {path} does not fit preset wine: the model takes inputs of shape (4,), "
                       "the preset's data (wine) has (13,)")
    xor = tmp_path / "xor.tuinet"
    assert run("train", "xor", "--epochs", "1", "--out", xor).exit_code == 0
    assert_user_error(run("evaluate", xor, "plane-regression"), f"{xor} does not fit preset plane-regression",
                      "trained for classification", "is regression")


# ---------------------------------------------------------------------- divergence
def test_divergence_is_reported_on_one_line(tmp_path):
    (tmp_path / "fast.toml").write_text(DIVERGING)
    out = tmp_path / "fast.tuinet"
    result = run("train", tmp_path / "fast.toml", "--out", out)
    assert result.exit_code == 1  # a failed run, not a usage error (2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert re.search(r"diverged at epoch 1, batch \d+", lines[0])
    assert "lower learning rate" in lines[0] and str(out) in lines[0]
    model = tuinet.load_model(out)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    quiet = run("train", tmp_path / "fast.toml", "--json")
    assert quiet.exit_code == result.exit_code and "diverged at epoch 1" in quiet.stderr
    events = [json.loads(line) for line in quiet.stdout.splitlines()]
    assert all(e["event"] == "epoch" for e in events[:-1])
    assert events[-1]["event"] == "diverged" and "diverged at epoch 1" in events[-1]["message"]


# ---------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_saves_and_exits_130(tmp_path):
    out = tmp_path / "stopped.tuinet"
    proc = subprocess.Popen([sys.executable, "-m", "tuinet.cli", "train", "digits-cnn", "--epochs", "100000",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        seen = []
        while not any(EPOCH_LINE.match(s.strip()) for s in seen):
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        assert seen[0].strip() == "Epoch 1/100000"
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        code = proc.wait(timeout=10)
        assert code == 130 and time.monotonic() - start < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().strip().splitlines()
    assert len(stderr) == 1, stderr
    where = r"(at epoch \d+, batch \d+|after epoch \d+)"
    assert re.fullmatch(rf"tuinet: interrupted {where}; model saved to {re.escape(str(out))}", stderr[0])
    model = tuinet.load_model(out)
    assert model.metadata["preset"] == "digits-cnn" and len(model.metadata["class_names"]) == 10


# ---------------------------------------------------------------------- a light start
@pytest.mark.parametrize("args", [["--help"], ["train", "--help"]])
def test_help_does_not_import_textual(args):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "tuinet.cli", *args], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "Usage: " in proc.stdout
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    assert "click" in modules and "tuinet.__about__" in modules  # the log is the one we think it is
    assert not {m for m in modules if m == "textual" or m.startswith("textual.")}


# ---------------------------------------------------------------------- tuinet [PRESET] opens the app
def _open(monkeypatch, *args):
    """Run `tuinet [args]` with the app (when it exists) replaced by a recorder; exit code and outcome."""
    opened = []
    try:
        import tuinet.app as app_package
    except ImportError:
        app_package = None
    if app_package is not None and hasattr(app_package, "run_app"):
        monkeypatch.setattr(app_package, "run_app", lambda experiment, *a, **k: opened.append(experiment))
    result = CliRunner().invoke(main, list(args))
    return result, opened


@pytest.mark.parametrize("args, name", [([], "spiral"), (["spiral"], "spiral"), (["iris"], "iris")])
def test_open_app_or_point_to_train(monkeypatch, args, name):
    result, opened = _open(monkeypatch, *args)
    assert result.exit_code == 0, result.output
    if opened:
        assert [e.name for e in opened] == [name]
    else:
        assert result.stderr.strip() == ("tuinet: the interactive app is not built yet; train headless instead: "
                                         f"tuinet train {name}")


def test_open_preset_file(monkeypatch, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(load_preset("xor").path.read_text())
    result, opened = _open(monkeypatch, str(path))
    assert result.exit_code == 0, result.output
    assert [e.path for e in opened] == [path] if opened else str(path) in result.stderr


def test_open_unknown_preset(monkeypatch):
    result, opened = _open(monkeypatch, "spirl")
    assert not opened
    assert_user_error(result, 'unknown preset "spirl" (did you mean "spiral"?)')


@pytest.mark.parametrize("args, expected", [
    (["circle", "--view", "boundary", "--play"],
     {"view": "boundary", "autostart": True, "refresh_hz": None, "pace": None}),
    (["--view", "data", "iris"], {"view": "data", "autostart": False, "refresh_hz": None, "pace": None}),
    (["xor", "--refresh", "1"], {"view": "train", "autostart": False, "refresh_hz": 1.0, "pace": None}),
    (["xor", "--pace", "50"], {"view": "train", "autostart": False, "refresh_hz": None, "pace": 50.0}),
    (["--pace", "max", "spiral"], {"view": "train", "autostart": False, "refresh_hz": None, "pace": float("inf")}),
])
def test_open_passes_view_play_and_refresh_to_the_app(monkeypatch, args, expected):
    import tuinet.app as app_package

    calls = []
    monkeypatch.setattr(app_package, "run_app", lambda experiment, **kwargs: calls.append(kwargs))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert calls == [expected]


def test_open_with_an_unknown_view_says_which_exist(monkeypatch):
    result, opened = _open(monkeypatch, "xor", "--view", "weigths")
    assert not opened and result.exit_code == 2
    assert "'weigths' is not one of 'train', 'weights', 'boundary', 'data'" in result.output


@pytest.mark.parametrize("value", ["0", "-3", "fast", "nan"])
def test_a_bad_pace_is_one_line_naming_the_value(monkeypatch, value):
    import tuinet.app as app_package

    monkeypatch.setattr(app_package, "run_app", lambda experiment, **kwargs: None)
    result = CliRunner().invoke(main, ["xor", "--pace", value])
    assert result.exit_code == 2
    assert "--pace" in result.output and repr(value) in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------------- outputs: nothing lost
def test_out_is_checked_before_training(tmp_path):
    preset = tmp_path / "mine.toml"
    from tuinet.presets import preset_toml

    preset.write_text(preset_toml(load_preset("xor")), encoding="utf-8")
    before = preset.read_bytes()
    for out, words in ((str(tmp_path), "is a directory"), (str(tmp_path / "nope" / "m.tuinet"), "does not exist"),
                       (str(preset), "that is the preset file itself")):
        result = run("train", str(preset), "--out", out)
        assert result.exit_code == 2, result.output
        assert words in result.stderr and "Traceback" not in result.stderr
        assert "Epoch" not in result.stdout  # refused before any training
    assert preset.read_bytes() == before


def test_a_failed_save_after_training_saves_to_a_fallback_and_says_where(tmp_path, monkeypatch):
    from tuinet.errors import ModelFileError
    from tuinet.session import TrainingSession

    monkeypatch.chdir(tmp_path)
    target = tmp_path / "gone" / "model.tuinet"
    target.parent.mkdir()
    original = TrainingSession.save_model

    def save_model(self, path):
        if str(path) == str(target):  # the folder went away while training (or the disk filled)
            from concurrent.futures import Future

            fut = Future()
            fut.set_exception(ModelFileError(f"cannot save to {str(path)!r}: No space left on device"))
            return fut
        return original(self, path)

    monkeypatch.setattr(TrainingSession, "save_model", save_model)
    result = run("train", "xor", "--epochs", "2", "--out", str(target))
    assert result.exit_code == 2, result.output
    fallback = tmp_path / "model.tuinet"
    assert f"could not save to {target}" in result.stderr and f"saved to {fallback} instead" in result.stderr
    assert tuinet.load_model(fallback).count_params() > 0


def test_non_finite_weights_never_overwrite_a_good_file(tmp_path):
    good = tmp_path / "good.tuinet"
    assert run("train", "xor", "--epochs", "1", "--out", str(good)).exit_code == 0
    before = good.read_bytes()
    # A rate float32 cannot hold is refused before training: the file is not touched.
    result = run("train", "xor", "--epochs", "2", "--learning-rate", "1e300", "--out", str(good))
    assert_user_error(result, "--learning-rate: 1e+300 cannot be represented in float32 (max 3.4e+38)")
    assert good.read_bytes() == before
    # The largest rate it can hold diverges; the refused step is taken back, so what is saved is finite.
    result = run("train", "xor", "--epochs", "2", "--learning-rate", "3e38", "--out", str(good))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "diverged at epoch" in lines[0] and "Traceback" not in result.output
    assert f"Last finite model saved to {good}." in lines[0]
    model = tuinet.load_model(good)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_save_refuses_non_finite_weights(tmp_path):
    from types import SimpleNamespace

    from tuinet import cli

    good = tmp_path / "good.tuinet"
    good.write_bytes(b"keep me")
    session = SimpleNamespace(model=SimpleNamespace(get_weights=lambda: [np.array([1.0, np.nan])]))
    saved, problem = cli._save(session, str(good))
    assert saved is None and problem == f"the model's weights are not finite; nothing saved to {good}"
    assert good.read_bytes() == b"keep me"


def test_predict_output_is_checked_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    import os

    model = tmp_path / "iris.tuinet"
    assert run("train", "iris", "--epochs", "1", "--out", str(model)).exit_code == 0
    rows = tmp_path / "rows.csv"
    rows.write_text("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n", encoding="utf-8")
    for out, words in ((str(rows), "that is the data file itself"), (str(model), "that is the model file itself"),
                       (str(tmp_path), "is a directory")):
        result = run("predict", str(model), str(rows), "-o", out)
        assert result.exit_code == 2 and words in result.stderr, result.output
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    result = run("predict", str(model), str(rows), "-o", str(tmp_path / "out.csv"))
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iris.tuinet", "rows.csv"]


def test_model_save_raises_model_file_error_and_clears_stale_temporary_files(tmp_path):
    from tuinet.errors import ModelFileError

    model = tuinet.Sequential([tuinet.layers.Dense(2, input_shape=(2,))])
    model.compile(loss="mse")
    with pytest.raises(ModelFileError, match="it is a folder"):
        model.save(tmp_path)
    stale = tmp_path / ".m.tuinet.abc123.tmp"  # left by a save that was killed
    stale.write_bytes(b"partial")
    model.save(tmp_path / "m.tuinet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tuinet"]

"""`tuinet predict` reads DATA.csv in chunks straight into float32 (`csv_stream.load_features`,
as training reads CSV files) and writes its predictions a block at a time: the same inputs, the
same predictions and the same one-line messages as the whole-table reader it replaced
(`tests/data/csv_reference.py`), in a few times the file's size instead of twelve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import tuinet
from tuinet import cli
from tuinet.data import csv_stream
from tuinet.errors import DataError
from tests.data import csv_reference

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def outcome(read):
    """`("ok", x, names)` or `("error", message)`: what a reader made of a file."""
    try:
        x, names = read()
    except (DataError, csv_reference.RowError) as exc:
        return ("error", str(exc))
    except cli.UserError as exc:
        return ("error", exc.format_message())
    return ("ok", x, names)


def assert_same(path, expected: int, target) -> tuple:
    new = outcome(lambda: cli._read_features(str(path), expected, target))
    old = outcome(lambda: csv_reference.read_features(str(path), expected, target))
    assert new[0] == old[0], (new, old)
    if new[0] == "error":
        assert new[1] == old[1]
    else:
        assert new[1].dtype == np.float32 and new[1].flags.c_contiguous
        np.testing.assert_array_equal(new[1], old[1])
        assert new[1].shape == old[1].shape and new[2] == old[2]
    return new


# ---------------------------------------------------------------------- random tables

NUMBER = st.one_of(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e30, max_value=1e30).map(repr),
                   st.integers(-1000, 1000).map(str), st.floats(-10, 10).map(lambda v: f" {v:.3f} "))
BAD = st.sampled_from(["abc", "", " ", "nan", "NaN", "-nan", "inf", "-Infinity", "1e39", "NA", "?", "null"])


@st.composite
def tables(draw, clean: bool | None = None):
    """`(text, features, target, label column)`: a CSV file of `features` numeric columns, maybe a
    label column, a header, quoting, blank lines, trailing delimiters, repeated rows (past the
    first chunk), and unless `clean`, bad cells, ragged rows and late surprises."""
    features = draw(st.integers(1, 4))
    label = draw(st.sampled_from([None, "text", "number"]))
    at = draw(st.integers(0, features)) if label else None
    clean = draw(st.booleans()) if clean is None else clean
    cell = NUMBER if clean else st.one_of(*[NUMBER] * 12, BAD)
    base = []
    for _ in range(draw(st.integers(1, 12))):
        row = [draw(cell) for _ in range(features)]
        if label:
            row.insert(at, draw(st.sampled_from(["cat", "dog"]) if label == "text" else st.sampled_from(["0", "1"])))
        base.append(row)
    rows = [list(row) for _ in range(draw(st.sampled_from([1, 1, 3, 6]))) for row in base]
    if not clean and draw(st.booleans()):  # a late ragged row or bad cell
        i = draw(st.integers(0, len(rows) - 1))
        change = draw(st.sampled_from(["drop", "add", "bad"]))
        if change == "drop" and len(rows[i]) > 1:
            rows[i].pop()
        elif change == "add":
            rows[i].append("1")
        else:
            rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(BAD)
    names = [f"f{j}" for j in range(features)]
    if label:
        names.insert(at, "label")
    if draw(st.booleans()):
        rows.insert(0, names if clean or draw(st.booleans()) else names[:-1])
    if draw(st.booleans()):
        rows = [[f'"{c}"' if c and draw(st.booleans()) else c for c in row] for row in rows]
    trailing = draw(st.sampled_from(["", "", ",", ",late"]))
    lines = [",".join(row) + ("," if trailing else "") for row in rows]
    if trailing == ",late":  # every line ends in an empty cell... but one late line has a value there
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] += "7"
    if draw(st.booleans()):
        lines = [line + ("\n" if draw(st.booleans()) else "") for line in lines]
    if label is None:
        target = draw(st.sampled_from([None, None, None, None, "label", "0", "-1", "9"]))
    else:
        target = draw(st.sampled_from(["label", "label", str(at), str(at - features - 1), None, "nope"]))
    return "\n".join(lines) + "\n", features, target


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables(), st.sampled_from([3, 8192]), st.sampled_from([0, 0, 0, -1, 1]))
def test_features_are_read_as_the_whole_table_read_them(tmp_path, monkeypatch, table, chunk, off):
    """Any table, read in chunks of any size: the same float32 inputs and names, or the same
    message, as `read_table` + `parse_numbers`."""
    text, features, target = table
    path = tmp_path / "rows.csv"
    path.write_text(text)
    monkeypatch.setattr(csv_stream, "CHUNK_ROWS", chunk)
    found = assert_same(path, max(1, features + off), target)
    event("read" if found[0] == "ok" else found[1].split(": ", 2)[-1][:24])


# ---------------------------------------------------------------------- predictions


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Saved models on 1 to 4 inputs: (regression of 2 outputs, scaled), (sigmoid classifier with
    a class name missing), (softmax of 3 classes, min-max scaled)."""
    folder = tmp_path_factory.mktemp("models")
    rng = np.random.default_rng(0)
    found = {}
    for k in range(1, 5):
        for kind, units, activation, meta in (
                ("regression", 2, None, {"task": "regression", "scaler_kind": "StandardScaler",
                                         "scaler": {"name": "standard", "offset": rng.normal(size=k).tolist(),
                                                    "scale": rng.uniform(0.5, 2, k).tolist()}}),
                ("binary", 1, "sigmoid", {"task": "classification", "class_names": ["no"]}),
                ("classes", 3, "softmax", {"task": "classification", "class_names": ["a", "b, c", "d"],
                                           "scaler_kind": "MinMaxScaler",
                                           "scaler": {"name": "minmax", "offset": rng.normal(size=k).tolist(),
                                                      "scale": rng.uniform(0.5, 2, k).tolist(),
                                                      "feature_range": [0, 1]}})):
            model = tuinet.Sequential([tuinet.layers.Dense(units, input_shape=(k,), activation=activation)])
            model.compile(loss="mse")
            model.metadata = meta
            path = folder / f"{kind}{k}.tuinet"
            model.save(path)
            found[kind, k] = path
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables(clean=True), st.sampled_from(["regression", "binary", "classes"]))
def test_predictions_are_those_of_the_whole_table_path(tmp_path_factory, models, table, kind):
    """Printed and written (-o): the very text the old `tuinet predict` produced."""
    text, features, target = table
    folder = tmp_path_factory.mktemp("predict")
    path = folder / "rows.csv"
    path.write_text(text)
    model_path = models[kind, features]
    old = outcome(lambda: csv_reference.read_features(str(path), features, target))
    args = [model_path, path] + ([] if target is None else ["--target", target])
    printed = run("predict", *args)
    event(old[0])
    if old[0] == "error":
        assert printed.exit_code == 2 and printed.stderr == f"tuinet: error: {old[1]}\n"
        return
    assert printed.exit_code == 0, printed.output
    expected_printed, expected_written = csv_reference.predict_output(tuinet.load_model(model_path), old[1])
    assert printed.stdout == expected_printed
    written = run("predict", *args, "-o", folder / "out.csv")
    assert written.exit_code == 0 and written.stdout == f"{len(old[1])} predictions written to {folder / 'out.csv'}\n"
    assert (folder / "out.csv").read_bytes().decode("utf-8") == expected_written


def test_predictions_of_many_rows_come_in_blocks(tmp_path, models, monkeypatch):
    """More rows than a block (65,536): the same text, printed and written, as all rows at once."""
    x = np.random.default_rng(1).normal(size=(70_000, 2)).astype(np.float32)
    path = tmp_path / "rows.csv"
    path.write_text("".join(f"{a!r},{b!r}\n" for a, b in x.tolist()))
    for kind in ("regression", "classes"):
        model_path = models[kind, 2]
        printed_old, written_old = csv_reference.predict_output(tuinet.load_model(model_path), x)
        assert run("predict", model_path, path).stdout == printed_old
        assert run("predict", model_path, path, "-o", tmp_path / "out.csv").exit_code == 0
        assert (tmp_path / "out.csv").read_bytes().decode("utf-8") == written_old


# ---------------------------------------------------------------------- late surprises, chunk by chunk


CASES = {
    # every line ends in an empty cell for more than a chunk, then one has a value there: read again
    "late-trailing.csv": "".join(f"{i},{i % 7},\n" for i in range(120)) + "5,6,x\n",
    "late-label.csv": "".join(f"{i},{i % 7},\n" for i in range(120)) + "5,6,1\n",
    "trailing.csv": "a,b,\n" + "".join(f"{i},{i % 7},\n" for i in range(120)),
    "late-ragged.csv": "".join(f"{i}.5,{i}\n" for i in range(200)) + "1\n" + "".join(f"{i},{i}\n" for i in range(50)),
    "late-bad.csv": "a,b\n" + "".join(f"{i},{i}\n" for i in range(200)) + "1,oops\n",
    "ragged-then-bad.csv": "1,2,3\n" * 100 + "1,2\n" + "1,nan\n" * 100,
    "wide-then-narrow.csv": "1,2,x\n" * 100 + "1,2\n",
    "label-left-in.csv": "a,b,label\n" + "1,2,cat\n" * 150,
    "blank-lines.csv": "a,b\n\n" + "".join(f"{i}.5,{i % 3}\n\n" for i in range(200)),
    "header-only.csv": "a,b\n",
    "empty.csv": "\n\n",
    "first-line-text.csv": "1,abc\n" + "2,3\n" * 100,
    "wide-header.csv": "a,b,c\n" + "1,2\n" * 100,
    # a text cell first, then a row too narrow to have that column: only the other columns count
    "bad-then-narrow.csv": "1,x\n" + "1,2\n" * 100 + "1\n",
    "bad-then-nan-then-narrow.csv": "1,x\n" + "1,2\n" * 100 + "nan,3\n" + "1\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("chunk", [2, 8192])
def test_late_surprises_are_found_as_before(tmp_path, monkeypatch, name, chunk):
    monkeypatch.setattr(csv_stream, "CHUNK_ROWS", chunk)
    path = tmp_path / name
    path.write_text(CASES[name])
    for expected, target in ((2, None), (2, "-1"), (3, None), (1, "label"), (1, None)):
        assert_same(path, expected, target)


def test_messages_of_the_streaming_reader(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("late-ragged.csv").write_text(CASES["late-ragged.csv"])
    assert outcome(lambda: cli._read_features("late-ragged.csv", 2, None)) == (
        "error", "late-ragged.csv: line 201: expected 2 values (the model's inputs), got 1; use --target to drop a "
                 "label column")
    Path("label.csv").write_text(CASES["label-left-in.csv"])
    assert outcome(lambda: cli._read_features("label.csv", 2, None)) == (
        "error", 'label.csv: line 2, column "label": expected a number, got "cat"')
    kind, x, names = outcome(lambda: cli._read_features("label.csv", 2, "label"))
    assert names == ["a", "b", "label"] and x.tolist() == [[1, 2]] * 150
    Path("late.csv").write_text(CASES["late-trailing.csv"])
    monkeypatch.setattr(csv_stream, "CHUNK_ROWS", 4)
    assert outcome(lambda: cli._read_features("late.csv", 2, None))[1].endswith(
        "late.csv: line 1, column 3: expected a number, got an empty cell; if line 1 is a header, pass header=True")
    assert outcome(lambda: cli._read_features("late.csv", 2, "2"))[1].tolist()[-1] == [5, 6]


def test_predict_input_is_held_to_the_memory_budget(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUINET_MEMORY_LIMIT", "1MB")
    Path("big.csv").write_text("0.5,1.5\n" * 400_000)  # 3.2 MB of text: as much float32
    model = tuinet.Sequential([tuinet.layers.Dense(1, input_shape=(2,))])
    model.compile(loss="mse")
    model.save("m.tuinet")
    result = run("predict", "m.tuinet", "big.csv")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("tuinet: error: big.csv: 3.1 MB of text, about ")
    assert result.stderr.endswith("(TUINET_MEMORY_LIMIT is 1.0 MB); use a smaller file\n")


# ---------------------------------------------------------------------- memory

CHILD = r"""
import json, resource, sys
import tuinet.cli
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
tuinet.cli.main(["predict", sys.argv[1], sys.argv[2], "-o", sys.argv[3]], standalone_mode=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"base": base, "peak": peak}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in kilobytes: Linux")
def test_predict_peaks_at_a_few_times_the_file(tmp_path):
    """A 20 MB file (200,000 rows of 10 values): the whole-table reader peaked at about 10x its
    size over the interpreter's baseline, the streaming one well under 4x."""
    rng = np.random.default_rng(0)
    block = "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in rng.normal(size=(20_000, 10)).tolist())
    path = tmp_path / "rows.csv"
    with open(path, "w") as handle:
        for _ in range(10):
            handle.write(block)
    size = path.stat().st_size
    model = tuinet.Sequential([tuinet.layers.Dense(1, input_shape=(10,))])
    model.compile(loss="mse")
    model.save(tmp_path / "m.tuinet")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "m.tuinet"), str(path),
                           str(tmp_path / "out.csv")], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout.strip().splitlines()[-1])
    assert (tmp_path / "out.csv").read_text().count("\n") == 200_001
    assert r["peak"] - r["base"] < 4 * size, (r, size)

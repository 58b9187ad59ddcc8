"""Every user error exits with code 2 and one line naming the file, field or value and what was
expected; no traceback, no exit 1, and no raw control character from a file reaches the terminal."""

from __future__ import annotations

import copy
import math
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings, strategies as st

from tuinet import data
from tuinet.cli import main
from tuinet.errors import ConfigError, DataError, PresetError, ShapeError, safe_text
from tuinet.nn import layers, losses
from tuinet.nn.model import Sequential
from tuinet.nn.random import set_random_seed
from tuinet.paths import user_path
from tuinet.presets import MAX_DEPTH, parse_preset, toml_key, toml_value

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
NO_USER = "~no-such-user-tuinet"


def run(*args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kwargs)


def one_line(result, *fragments: str) -> str:
    """Exit code 2, exactly one line on stderr, `tuinet: error: ...`, the fragments in it, no
    control characters in it and no traceback anywhere."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    text = result.stderr
    assert text.endswith("\n") and text.count("\n") == 1, text
    line = text[:-1]
    assert line.startswith("tuinet: error: "), line
    assert not CONTROL.search(line), line
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def preset(*, top: str = "", source: str = "xor", data_fields: str = "samples = 60", model: str = "",
           layer_list: str = '{ type = "Dense", units = 2, activation = "softmax" },',
           loss: str = "sparse_categorical_crossentropy", epochs: int = 1) -> str:
    return f"""{top}
[data]
source = "{source}"
{data_fields}

[model]
{model}
layers = [
{layer_list}
]

[train]
loss = "{loss}"
epochs = {epochs}
batch_size = 16
"""


@pytest.fixture
def write(tmp_path):
    def write(text: str, name: str = "p.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return write


@pytest.fixture(scope="module")
def xor_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "xor.tuinet"
    assert run("train", "xor", "--epochs", "1", "--out", path).exit_code == 0
    return path


# ---------------------------------------------------------------------- safe_text
def test_safe_text_escapes_every_control_character():
    assert safe_text("x\x1b]0;pwned\x07") == "x\\x1b]0;pwned\\x07"
    assert safe_text("a\nb\tc\rd") == "a\\nb\\tc\\rd"
    assert safe_text("\x7f\x85\x9b") == "\\x7f\\x85\\x9b"  # DEL and C1 (NEL, CSI)
    assert safe_text("a\u2028b\u2029c") == "a\\u2028b\\u2029c"
    assert safe_text("\u202eevil\u202c \u2066x\u2069") == "\\u202eevil\\u202c \\u2066x\\u2069"
    assert safe_text("[bold]é ✓ 漢字") == "[bold]é ✓ 漢字"  # printable text is left alone
    assert safe_text(3.5) == "3.5"


def test_safe_text_truncates_without_cutting_an_escape():
    assert safe_text("a" * 100) == "a" * 79 + "…" and len(safe_text("a" * 100)) == 80
    assert safe_text("a" * 100, limit=None) == "a" * 100
    for n in range(70, 80):
        text = safe_text("a" * n + "\x1b" * 10)
        assert len(text) <= 80 and text.endswith("…")
        assert re.fullmatch(r"a*(\\x1b)*…", text), text


# ---------------------------------------------------------------------- negative seeds
@pytest.mark.parametrize("args", [("train", "xor", "--seed", "-1"), ("spiral", "--seed", "-1"),
                                  ("--seed", "-1")])
def test_negative_seed_on_the_command_line(args):
    one_line(run(*args), "--seed: expected a non-negative integer, got -1")


@pytest.mark.parametrize("where, kwargs", [("data.seed", {"data_fields": "samples = 60\nseed = -1"}),
                                           ("model.seed", {"model": "seed = -1"})])
def test_negative_seed_in_a_preset(write, where, kwargs):
    one_line(run("train", write(preset(**kwargs))), f"p.toml: {where}: expected a non-negative integer, got -1")


def test_negative_seed_in_the_api():
    with pytest.raises(ConfigError, match="seed: expected a non-negative integer, got -1"):
        Sequential(seed=-1)
    with pytest.raises(ConfigError, match="seed must be a non-negative integer or None, got -3"):
        layers.Dropout(0.5, seed=-3)
    with pytest.raises(ConfigError, match="seed must be a non-negative integer or None"):
        layers.LSTM(4, seed=-1)
    with pytest.raises(ConfigError, match="seed: expected a non-negative integer or None, got -1"):
        data.spiral(samples=10, seed=-1)
    with pytest.raises(ConfigError, match="seed"):
        data.split(np.arange(10), seed=-1)
    with pytest.raises(ConfigError, match="seed: expected a non-negative integer, got -1"):
        set_random_seed(-1)
    assert Sequential(seed=0).seed == 0


# ---------------------------------------------------------------------- layer dtype
@pytest.mark.parametrize("dtype", ["mixed_float16", "float16", "int32", "bogus"])
def test_layer_dtype_in_a_preset(write, dtype):
    text = preset(layer_list=f'{{ type = "Dense", units = 2, activation = "softmax", dtype = "{dtype}" }},')
    one_line(run("train", write(text)), "p.toml: model.layers[0].dtype", f'got "{dtype}"', '"float32", "float64"')


def test_layer_dtype_in_the_api():
    with pytest.raises(ConfigError, match="Dense: dtype must be \"float32\", \"float64\" or None"):
        layers.Dense(4, dtype="mixed_float16")
    assert layers.Dense(4, dtype="float64").compute_dtype == np.float64
    assert layers.Dense(4, dtype=np.float32).dtype == np.float32
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float64"}}
    layer = layers.Dense(4, dtype=policy)
    assert layer.dtype == np.float64 and layer.get_config()["dtype"] == "float64"
    assert layers.Dense(4).dtype is None


# ---------------------------------------------------------------------- Dropout noise_shape
def test_noise_shape_that_does_not_broadcast_in_a_preset(write):
    text = preset(layer_list='{ type = "Dropout", rate = 0.5, noise_shape = [3] },\n'
                             '{ type = "Dense", units = 2, activation = "softmax" },')
    one_line(run("train", write(text)), "p.toml: the model does not fit the data", "Dropout 'dropout'",
             "noise_shape (3,) does not broadcast with inputs of shape (None, 2)")


def test_noise_shape_is_checked_at_build_time():
    with pytest.raises(ShapeError, match=r"Dropout 'drop': noise_shape \(None, 3\) does not broadcast with inputs "
                                         r"of shape \(None, 2\)"):
        Sequential([layers.Dropout(0.5, noise_shape=(None, 3), name="drop")]).build((None, 2))
    with pytest.raises(ShapeError, match="noise_shape"):  # the batch axis: None or 1
        Sequential([layers.Dropout(0.5, noise_shape=(8, 2))]).build((None, 2))
    for good in [(None, 1), (1, 2), (None, None), (None, 2)]:
        Sequential([layers.Dropout(0.5, noise_shape=good)]).build((None, 2))
    for bad in [(0, 1), ("x",), 3]:
        with pytest.raises(ConfigError, match="noise_shape must be a tuple of positive ints or None"):
            layers.Dropout(0.5, noise_shape=bad)


# ---------------------------------------------------------------------- deeply nested TOML
@pytest.mark.parametrize("text", [
    "a = " + "[" * 10_000 + "]" * 10_000,
    "a = " + "{ b = " * 5_000 + "1" + " }" * 5_000,
    "a = " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5),  # parses, but deeper than a preset goes
])
def test_deeply_nested_toml(write, text):
    line = one_line(run("train", write(text + "\n")), "p.toml: ")
    assert "nested" in line and str(MAX_DEPTH) in line


def test_deep_dotted_table_header():
    text = "[" + ".".join(["a"] * 5_000) + "]\nx = 1\n"
    with pytest.raises(PresetError, match="nested|unknown field"):
        parse_preset(text, label="deep.toml")


# ---------------------------------------------------------------------- ~user and over-long paths
def test_home_is_expanded_everywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    rows = "".join(f"{x},{y},{int(x > y)}\n" for x, y in np.random.default_rng(0).random((40, 2)))
    (tmp_path / "pts.csv").write_text("x,y,label\n" + rows)
    (tmp_path / "p.toml").write_text(preset(source="~/pts.csv", data_fields=""))
    result = run("train", "~/p.toml", "--out", "~/m.tuinet")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.tuinet").is_file()
    (tmp_path / "new.csv").write_text("0.1,0.2\n")
    result = run("predict", "~/m.tuinet", "~/new.csv", "-o", "~/out.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.csv").read_text().startswith("prediction,probability")
    assert user_path("~/x") == tmp_path / "x"


@pytest.mark.parametrize("args, fragment", [
    (("train", f"{NO_USER}/p.toml"), f"preset {NO_USER}/p.toml: unknown user"),
    (("train", "xor", "--out", f"{NO_USER}/m.tuinet"), f"--out {NO_USER}/m.tuinet: unknown user"),
    (("summary", f"{NO_USER}/p.toml"), "unknown user"),
])
def test_unknown_user(args, fragment):
    one_line(run(*args), fragment, 'expected ~ or ~name')


def test_unknown_user_in_a_preset_and_in_predict(write, xor_model):
    one_line(run("train", write(preset(source=f"{NO_USER}/d.csv", data_fields=""))),
             f"p.toml: data.source {NO_USER}/d.csv: unknown user")
    one_line(run("predict", xor_model, f"{NO_USER}/d.csv"), "DATA.csv", "unknown user")
    one_line(run("predict", f"{NO_USER}/m.tuinet", "d.csv"), "MODEL", "unknown user")
    with pytest.raises(DataError, match="unknown user"):
        data.load_file(f"{NO_USER}/d.csv")


def test_paths_too_long(tmp_path, xor_model):
    name = "x" * 300
    one_line(run("train", f"{name}.toml"), "path too long", "at most 255")
    one_line(run("train", "xor", "--out", tmp_path / f"{name}.tuinet"), "--out", "path too long")
    one_line(run("predict", xor_model, tmp_path / f"{name}.csv"), "path too long")
    deep = "/".join(["d" * 200] * 30) + "/p.toml"  # every name fits, the whole does not
    one_line(run("train", deep), "path too long", "bytes; paths can have at most")
    with pytest.raises(ConfigError, match="NUL"):
        user_path("a\x00b")


# ---------------------------------------------------------------------- predict reads CSV as training does
@pytest.mark.parametrize("cell, expected", [("nan", 'expected a number, got a missing value "nan"'),
                                            ("inf", 'expected a finite number, got "inf"'),
                                            ("1e39", 'expected a number within float32 range, got "1e39"'),
                                            ("", "expected a number, got an empty cell")])
def test_predict_bad_cells_get_the_training_message(tmp_path, xor_model, cell, expected):
    (tmp_path / "rows.csv").write_text(f"a,b\n0.1,0.2\n0.3,{cell}\n")
    line = one_line(run("predict", xor_model, tmp_path / "rows.csv"), 'line 3, column "b"', expected)
    (tmp_path / "train.csv").write_text(f"a,b,label\n0.1,0.2,0\n0.3,{cell},1\n")
    with pytest.raises(DataError) as training:
        data.load_csv(tmp_path / "train.csv")
    assert str(training.value).split(": line ", 1)[1] in line


def test_predict_non_utf8_and_control_characters(tmp_path, xor_model):
    (tmp_path / "latin.csv").write_bytes(b"a,b\n0.1,0.2\n0.3,caf\xe9\n")
    line = one_line(run("predict", xor_model, tmp_path / "latin.csv"), "latin.csv: line 3: not UTF-8 text")
    with pytest.raises(DataError) as training:
        data.load_csv(tmp_path / "latin.csv")
    assert str(training.value).split(": line ", 1)[1] in line
    (tmp_path / "esc.csv").write_text("a,\x1b]0;pwned\x07\n0.1,0.2\n0.3,\x1b[2Jx\n")
    one_line(run("predict", xor_model, tmp_path / "esc.csv"), 'column "\\x1b]0;pwned\\x07"', 'got "\\x1b[2Jx"')


def test_predict_prints_class_names_escaped(tmp_path):
    names = ("a", "b\x1b[2J")
    rows = "".join(f"{x},{y},{names[int(x > y)]}\n" for x, y in np.random.default_rng(1).random((40, 2)))
    (tmp_path / "pts.csv").write_text("x,y,label\n" + rows)
    (tmp_path / "p.toml").write_text(preset(source="pts.csv", data_fields=""))
    assert data.load_csv(tmp_path / "pts.csv").class_names == ["a", "b\\x1b[2J"]
    assert run("train", tmp_path / "p.toml", "--epochs", "3", "--out", tmp_path / "m.tuinet").exit_code == 0
    (tmp_path / "new.csv").write_text("0.9,0.1\n0.1,0.9\n")
    result = run("predict", tmp_path / "m.tuinet", tmp_path / "new.csv")
    assert result.exit_code == 0 and not CONTROL.search(result.stdout.replace("\n", ""))


# ---------------------------------------------------------------------- errors found before training
@pytest.fixture
def five_classes(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    (tmp_path / "five.csv").write_text("a,b,label\n" + "".join(f"{a},{b},{i % 5}\n" for i, (a, b) in
                                                               enumerate(rng.random((100, 2)))))
    return tmp_path / "five.csv"


@pytest.mark.parametrize("loss, layer_list, fragments", [
    ("sparse_categorical_crossentropy", '{ type = "Dense", units = 3, activation = "softmax" },',
     ["label 4 is out of range for 3 outputs", "needs at least 5 units"]),
    ("binary_crossentropy", '{ type = "Dense", units = 1, activation = "sigmoid" },',
     ["binary_crossentropy: labels must be 0 or 1", "got 4", "5-unit softmax"]),
    ("mse", '{ type = "Dense", units = 3 },', ["mean_squared_error: labels of shape", "outputs of shape"]),
])
def test_data_that_does_not_fit_the_loss_is_refused_before_training(write, five_classes, loss, layer_list,
                                                                     fragments):
    result = run("train", write(preset(source=str(five_classes), data_fields="", loss=loss, layer_list=layer_list)))
    one_line(result, "p.toml: the model does not fit the data (five", *fragments)
    assert "Epoch" not in result.stdout  # refused before the first epoch


def test_fit_checks_labels_before_the_first_step():
    x = np.random.default_rng(0).random((20, 2)).astype("float32")
    model = Sequential([layers.Dense(3, activation="softmax")], seed=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.build((None, 2))
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ShapeError, match="label 7 is out of range for 3 outputs"):
        model.fit(x, np.r_[np.zeros(19), 7], epochs=1, verbose=0)
    with pytest.raises(ShapeError, match="label -1 is out of range"):
        model.fit(x, np.r_[np.zeros(19), -1], epochs=1, verbose=0)
    with pytest.raises(ShapeError, match="whole class ids"):
        model.fit(x, np.r_[np.zeros(19), 1.5], epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    binary = Sequential([layers.Dense(1, activation="sigmoid")], seed=0)
    binary.compile(optimizer="sgd", loss="binary_crossentropy")
    with pytest.raises(ShapeError, match="labels must be 0 or 1"):
        binary.fit(x, np.r_[np.zeros(19), 2], epochs=1, verbose=0)
    binary.fit(x, np.linspace(0, 1, 20), epochs=1, verbose=0)  # soft labels in [0, 1] are fine
    ignoring = Sequential([layers.Dense(3, activation="softmax")], seed=0)
    ignoring.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(ignore_class=-1))
    ignoring.fit(x, np.r_[np.zeros(19), -1], epochs=1, verbose=0)  # the ignored class may be out of range


# ---------------------------------------------------------------------- echoed text is escaped
def test_titles_keys_and_names_are_escaped(write):
    path = write(preset(top='title = "x\\u001b]0;pwned\\u0007 [bold]"'))
    result = run("summary", path)
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first == "p: x\\x1b]0;pwned\\x07 [bold]" and not CONTROL.search(result.stdout.replace("\n", ""))
    one_line(run("train", write(preset(top='"evil\\u001b[2J\\u202e" = 1'))), "evil\\x1b[2J\\u202e: unknown field")
    one_line(run("train", write(preset(layer_list='{ type = "Dense\\u0007", units = 2 },'))),
             'got "Dense\\x07"')
    one_line(run("train", write("x", name="a\x1bb.toml")), "a\\x1bb.toml")


def test_csv_header_with_escape_in_a_training_error(tmp_path, write):
    (tmp_path / "h.csv").write_text("a,\x1b]0;t\x07,label\n0.1,0.2,0\n0.3,oops,1\n")
    one_line(run("train", write(preset(source="h.csv", data_fields=""))),
             'line 3, column "\\x1b]0;t\\x07": expected a number, got "oops"')


# ---------------------------------------------------------------------- any preset: works or one line
OMIT = object()

SCALARS = st.one_of(st.integers(-5, 5), st.integers(-2**63, 2**63 - 1), st.booleans(),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=6), st.sampled_from(["\x1b]0;x\x07", "[bold]", "[/]", "\u202e", "relu", "",
                                                          "~nobody-here/x.csv", "x" * 300 + ".csv"]))
ANYTHING = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
DEEP = st.integers(1, 30).map(lambda n: eval("[" * n + "1" + "]" * n))  # noqa: S307 - nested lists, n deep

# field: (good values, bad values); a preset is drawn from the good ones, then mutated
DATA = {"source": (["xor", "spiral", "iris", "moons"], ["nope", "~nobody-here/x.csv", 3, "x" * 300 + ".csv"]),
        "samples": ([20, 60], [0, -1, "x", 2.5]),
        "noise": ([0.0, 0.2], [2, -0.1, math.nan]),
        "seed": ([0, 3], [-1, -2**63, 1.5]),
        "split": ([[0.7, 0.15, 0.15], [1.0, 0.0, 0.0]], [[0.5, 0.5], [2, -1, 0], [0, 1, 0]]),
        "scaling": (["standard", "none"], ["zscore"])}
MODEL = {"seed": ([0, 1], [-1])}
LAYER = {"type": (["Dense"], ["Dropout", "LSTM", "Conv2D", "Flatten", "BatchNormalization", "Nope", 3]),
         "units": ([2, 3, 8], [0, -1, 2.5, "8"]),
         "activation": (["relu", "softmax", "tanh"], ["nope", 1]),
         "rate": ([], [0.1, 1.5, -1]),
         "noise_shape": ([], [[1, 1], [1, 2], [3], [0], "x"]),
         "dtype": ([], ["float32", "float64", "mixed_float16", "int8", 5]),
         "seed": ([], [0, -1, "1"])}
TRAIN = {"loss": (["sparse_categorical_crossentropy"], ["mse", "binary_crossentropy", "categorical_crossentropy",
                                                       "nope"]),
         "optimizer": (["adam", "sgd", {"name": "sgd", "momentum": 0.9}], ["nope", {"momentum": 1}]),
         "learning_rate": ([0.01, 0.1], [0, -1, math.inf, 1e6]),
         "batch_size": ([8, 32], [0, -4]),
         "epochs": ([1], [0, -1, 1.5]),
         "metrics": ([["accuracy"]], [["mse"], ["nope"], 3])}
BAD = {**DATA, **MODEL, **LAYER, **TRAIN, "title": ([], ["x\x1b]0;pwned\x07", "[bold]", "", 3])}


def _table(draw, fields: dict) -> dict:
    return {k: copy.deepcopy(draw(st.sampled_from(good))) for k, (good, _) in fields.items() if good}


def _places(value, where=()):
    """Every (path) to a table entry or list item in `value`, tables and lists included."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*where, k)
            yield from _places(v, (*where, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield (*where, i)
            yield from _places(v, (*where, i))


@st.composite
def presets(draw) -> dict:
    """A valid preset (small data, small layers), then up to four mutations: a field set to a bad
    value of its own, to anything at all (any type, nesting, control characters), to values
    nested 30 deep, or removed, or an unknown field added anywhere."""
    hidden = draw(st.integers(0, 2))
    layer_list = [{**_table(draw, LAYER), "units": draw(st.sampled_from([2, 3, 8]))} for _ in range(hidden)]
    layer_list.append({"type": "Dense", "units": 2, "activation": "softmax"})
    doc = {"title": "T", "data": _table(draw, DATA), "model": {**_table(draw, MODEL), "layers": layer_list},
           "train": _table(draw, TRAIN)}
    if doc["data"]["source"] == "iris":
        doc["data"].pop("samples"), doc["data"].pop("noise")
        doc["model"]["layers"][-1]["units"] = 3
    for _ in range(draw(st.integers(0, 4))):
        places = sorted(_places(doc), key=repr)
        path = draw(st.sampled_from(places))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        how = draw(st.sampled_from(["bad", "bad", "anything", "deep", "remove", "add"]))
        if how == "bad" and isinstance(path[-1], str) and BAD.get(path[-1], ([], []))[1]:
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(BAD[path[-1]][1])))
        elif how == "remove":
            parent.pop(path[-1])
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=5))] = draw(ANYTHING)
        else:
            parent[path[-1]] = draw(DEEP if how == "deep" else ANYTHING)
    return doc


def _clean(value):
    """Drop OMIT entries, recursively; TOML has no null, so None becomes a string."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not OMIT}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return "None" if value is None else value


def to_toml(doc: dict) -> str:
    doc = _clean(doc)
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for key, table in doc.items():
        if isinstance(table, dict):
            lines += ["", f"[{toml_key(key)}]"] + [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


SIZES = {"units", "samples", "filters", "input_dim", "output_dim", "steps", "kernel_size"}


def small(doc, key=None) -> bool:
    """Whether every size in `doc` is small enough to train on at once: absurd sizes (10**18
    units) are the memory estimate's business, not this test's."""
    if isinstance(doc, dict):
        return all(small(v, k) for k, v in doc.items())
    if isinstance(doc, list):
        return all(small(v, key) for v in doc)
    return key not in SIZES or not isinstance(doc, (int, float)) or isinstance(doc, bool) or not abs(doc) > 1000


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=presets())
def test_any_preset_loads_or_fails_on_one_line(doc):
    try:
        parse_preset(to_toml(doc), label="h.toml")
        event("loads")
    except PresetError as exc:
        message = str(exc)
        assert message.startswith("h.toml: ") and "\n" not in message and not CONTROL.search(message), message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=presets())
def test_any_small_preset_trains_or_exits_2_with_one_line(doc):
    doc = _clean(doc)
    if not small(doc):
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "h.toml"
        path.write_text(to_toml(doc), encoding="utf-8")
        result = run("train", path, "--epochs", "1")
    assert "Traceback" not in result.output
    event(f"exit {result.exit_code}")
    if result.exit_code == 1:  # a run that diverged is a result, not a user error
        assert "diverged" in result.stderr, result.output
    elif result.exit_code != 0:
        one_line(result)

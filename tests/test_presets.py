"""Preset files: every shipped preset reaches its promise, and every mistake reads
`<file>: <field path>: <what was expected>, got <value>` with a suggestion where one fits."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tuinet import data
from tuinet.errors import PresetError
from tuinet.nn import activations, layers, losses, metrics, optimizers
from tuinet.presets import Experiment, find_preset, list_presets, load_preset, parse_preset, presets_dir
from tuinet.session import TrainingSession

REPO = Path(__file__).resolve().parent.parent
REQUIRED = ["xor", "circle", "gauss", "spiral", "moons", "plane-regression", "sine-regression", "iris", "wine",
            "breast-cancer", "digits-mlp", "digits-cnn", "keras-intro", "side-effects", "overfitting",
            "overfitting-regularized", "sequence-lstm", "autoencoder"]

# A complete preset of our own, so that the error tests do not depend on the shipped files.
BASE = """\
title = "Spiral"
description = "Two interleaved arms."

[data]
source = "spiral"
samples = 200
noise = 0.1
seed = 0
split = [0.7, 0.15, 0.15]
scaling = "standard"

[model]
seed = 0
layers = [
  { type = "Dense", units = 16, activation = "tanh" },
  { type = "Dense", units = 16, activation = "tanh" },
  { type = "Dense", units = 2, activation = "softmax" },
]

[train]
optimizer = "adam"
learning_rate = 0.01
loss = "sparse_categorical_crossentropy"
metrics = ["accuracy"]
batch_size = 16
epochs = 5

[expect]
test_accuracy = 0.9
"""

_RUNS: dict[str, TrainingSession] = {}


def trained(name: str, *, full: bool = False) -> TrainingSession:
    """A shipped preset trained once per test run: for `[expect] epochs` (default) or its full epochs."""
    key = f"{name}:{'full' if full else 'expect'}"
    if key not in _RUNS:
        exp = load_preset(name)
        if exp.expect.epochs and not full:
            exp = exp.with_overrides(epochs=exp.expect.epochs)
        session = TrainingSession(exp)
        session.run()
        _RUNS[key] = session
    return _RUNS[key]


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, f"test bug: {old!r} not in the preset text"
    return text.replace(old, new, 1)


def error_of(text: str, label: str = "spiral.toml") -> str:
    with pytest.raises(PresetError) as info:
        parse_preset(text, label=label)
    message = str(info.value)
    assert "\n" not in message
    return message


def choose(names) -> str:
    return "; choose from " + ", ".join(sorted(names))


# ---------------------------------------------------------------------- the shipped presets
def test_list_presets_has_every_required_preset():
    shipped = list_presets()
    assert set(REQUIRED) <= set(shipped)
    assert list(shipped) == sorted(shipped)
    for name, path in shipped.items():
        assert path.name == f"{name}.toml" and path.is_file()


@pytest.mark.parametrize("name", REQUIRED)
def test_preset_has_title_description_and_expectation(name):
    exp = load_preset(name)
    assert isinstance(exp, Experiment) and exp.name == name
    assert exp.title.strip() and len(exp.description.strip()) > 20
    assert exp.expect.targets
    assert all(k.startswith(("test_", "val_", "train_")) for k in exp.expect.targets)
    assert exp.expect.epochs is None or exp.expect.epochs <= exp.train.epochs


@pytest.mark.parametrize("name", sorted(list_presets()))
def test_preset_reaches_its_expectations(name):
    session = trained(name)
    exp = session.experiment
    assert session.state == "finished" and session.epoch == (exp.expect.epochs or exp.train.epochs)
    results = session.results()
    assert exp.expect.check(results) == []
    assert all(np.isfinite(v) for v in results.values())


def test_expect_check_reports_unmet_and_missing_targets():
    exp = parse_preset(BASE + "test_loss = 0.1\n", label="spiral.toml")
    assert exp.expect.check({"test_accuracy": 0.95, "test_loss": 0.05}) == []
    problems = exp.expect.check({"test_accuracy": 0.5, "test_loss": 0.3})
    assert problems == ["test_accuracy: 0.5000 < 0.9", "test_loss: 0.3000 > 0.1"]
    assert exp.expect.check({"test_loss": 0.05}) == ["test_accuracy: not measured (have test_loss)"]


def test_overfitting_signature_and_regularized_twin():
    plain, regular = trained("overfitting", full=True), trained("overfitting-regularized", full=True)
    assert plain.experiment.data == regular.experiment.data  # same data: a fair comparison
    val, loss = np.array(plain.history["val_loss"]), np.array(plain.history["loss"])
    best = int(val.argmin())
    # The classic signature: validation loss turns up while training loss keeps falling.
    assert best < len(val) - 1 and val[-1] > 2 * val.min()
    assert loss[-1] < 0.5 * loss[best]
    p, r = plain.results(), regular.results()
    assert r["test_loss"] < p["test_loss"]
    assert r["val_loss"] - r["train_loss"] < p["val_loss"] - p["train_loss"]
    assert p["train_accuracy"] > r["train_accuracy"]  # the big network memorises its training points


def test_side_effects_matches_the_keras_tutorial():
    exp = load_preset("side-effects")
    session = trained("side-effects")
    ds = session.prepared.dataset
    ages, labels = ds.x[:, 0], ds.y
    assert ds.x.shape == (2100, 1) and ds.task == "classification"
    assert ages.min() == 13 and ages.max() == 100 and np.all(ages == np.round(ages))
    old, young = ages >= 65, ages < 65
    assert abs(labels[old].mean() - 0.95) < 0.02 and abs(labels[young].mean() - 0.05) < 0.02
    assert [(s["type"], s["units"], s["activation"]) for s in exp.model.layers] == [
        ("Dense", 16, "relu"), ("Dense", 32, "relu"), ("Dense", 2, "softmax")]
    assert exp.train.optimizer == "adam" and exp.train.learning_rate == pytest.approx(1e-4)
    assert exp.train.batch_size == 10 and exp.train.epochs == 20 and exp.data.scaling == "minmax"
    assert session.epoch == 20 and session.results()["train_accuracy"] >= 0.9


# ---------------------------------------------------------------------- validation errors
def test_base_preset_is_valid():
    exp = parse_preset(BASE, label="spiral.toml")
    assert exp.name == "preset" and exp.data.samples == 200 and len(exp.model.layers) == 3
    assert exp.train.epochs == 5 and exp.expect.targets == {"test_accuracy": 0.9}


def test_units_not_an_integer():
    text = edit('{ type = "Dense", units = 16, activation = "tanh" },\n  { type = "Dense", units = 16',
                '{ type = "Dense", units = 16, activation = "tanh" },\n  { type = "Dense", units = "sixteen"')
    assert error_of(text) == 'spiral.toml: model.layers[1].units: expected a positive integer, got "sixteen"'
    assert error_of(edit("units = 16", "units = 0")) == \
        "spiral.toml: model.layers[0].units: expected a positive integer, got 0"


def test_misspelt_layer_type():
    assert error_of(edit('type = "Dense"', 'type = "Dnse"')) == (
        'spiral.toml: model.layers[0].type: expected a layer type, got "Dnse" (did you mean "Dense"?)'
        + choose(layers.LAYERS))
    # case does not hide the suggestion
    assert '(did you mean "LSTM"?)' in error_of(edit('type = "Dense"', 'type = "LTSM"'))


def test_misspelt_layer_argument():
    message = error_of(edit('activation = "tanh"', 'activaton = "tanh"'))
    assert message.startswith('spiral.toml: model.layers[0].activaton: not an argument of Dense '
                              '(did you mean "activation"?); expected one of ')
    assert "units" in message.rsplit("expected one of ", 1)[1]


def test_unknown_activation():
    assert error_of(edit('activation = "tanh"', 'activation = "rleu"')) == (
        'spiral.toml: model.layers[0].activation: expected an activation name, got "rleu" (did you mean "relu"?)'
        + choose([*activations.ACTIVATIONS, "swish"]))


def test_unknown_initializer_names_the_argument():
    message = error_of(edit('activation = "tanh" }', 'activation = "tanh", kernel_initializer = "he_normall" }'))
    assert message.startswith('spiral.toml: model.layers[0].kernel_initializer: expected an initializer name, '
                              'got "he_normall" (did you mean "he_normal"?); choose from ')
    message = error_of(edit('activation = "tanh" }', 'kernel_regularizer = { name = "l2", config = { l3 = 1 } } }'))
    assert message.startswith("spiral.toml: model.layers[0].kernel_regularizer: ") and "'l3'" in message


def test_bad_layer_value_from_the_engine():
    text = edit('{ type = "Dense", units = 2', '{ type = "Dropout", rate = 1.5 },\n  { type = "Dense", units = 2')
    assert error_of(text) == "spiral.toml: model.layers[2].rate: expected a number in [0, 1), got 1.5"


def test_unknown_loss_optimizer_metric():
    assert error_of(edit('loss = "sparse_categorical_crossentropy"', 'loss = "mean_squared_eror"')) == (
        'spiral.toml: train.loss: expected a loss name, got "mean_squared_eror" '
        '(did you mean "mean_squared_error"?)' + choose(losses.names()))
    assert '(did you mean "mse"?)' in error_of(edit('loss = "sparse_categorical_crossentropy"', 'loss = "mes"'))
    assert error_of(edit('optimizer = "adam"', 'optimizer = "adamm"')) == (
        'spiral.toml: train.optimizer: expected an optimizer name, got "adamm" (did you mean "adam"?)'
        + choose(optimizers.OPTIMIZERS))
    assert error_of(edit('metrics = ["accuracy"]', 'metrics = ["accuracy", "precison"]')) == (
        'spiral.toml: train.metrics[1]: expected a metric name, got "precison" (did you mean "precision"?)'
        + choose(metrics.names()))


def test_unknown_keys():
    assert error_of("titel = 'x'\n" + BASE) == (
        'spiral.toml: titel: unknown field (did you mean "title"?); '
        "expected one of app, data, description, expect, model, name, title, train")
    assert error_of(edit("split =", "splitt =")).startswith(
        'spiral.toml: data.splitt: unknown field (did you mean "split"?); expected one of delimiter, header, ')
    assert error_of(edit("batch_size = 16", "batchsize = 16")).startswith(
        'spiral.toml: train.batchsize: unknown field (did you mean "batch_size"?); expected one of ')
    assert error_of(edit("[model]\nseed = 0", "[model]\nseed = 0\nlayer = 1")) == (
        'spiral.toml: model.layer: unknown field (did you mean "layers"?); expected one of layers, seed')


@pytest.mark.parametrize("section", ["data", "model", "train"])
def test_missing_section(section):
    start = BASE.index(f"[{section}]")
    end = BASE.index("\n[", start + 1)
    text = BASE[:start] + BASE[end + 1:]
    assert error_of(text) == (f"spiral.toml: [{section}]: missing section; "
                              "a preset needs [data], [model] and [train]")


def test_missing_layers_and_source():
    assert error_of(edit('source = "spiral"\n', "")).startswith("spiral.toml: data.source: missing; expected ")
    start, end = BASE.index("layers = ["), BASE.index("]\n\n[train]")
    assert error_of(BASE[:start] + "layers = []" + BASE[end + 1:]) == (
        "spiral.toml: model.layers: expected a non-empty list of layer tables such as "
        '{ type = "Dense", units = 8, activation = "relu" }, got []')


def test_bad_split():
    assert error_of(edit("split = [0.7, 0.15, 0.15]", "split = [0.7, 0.2, 0.2]")) == (
        "spiral.toml: data.split: expected fractions that sum to 1 with a non-empty training part, "
        "got [0.7, 0.2, 0.2] (sum 1.1)")
    assert error_of(edit("split = [0.7, 0.15, 0.15]", "split = [0.7, 0.3]")) == (
        "spiral.toml: data.split: expected three fractions [train, val, test] such as [0.7, 0.15, 0.15], "
        "got [0.7, 0.3]")
    exp = parse_preset(edit("split = [0.7, 0.15, 0.15]", "split = { train = 0.8, test = 0.2 }"))
    assert exp.data.split == (0.8, 0.0, 0.2)


def test_scaling_not_in_the_list():
    assert error_of(edit('scaling = "standard"', 'scaling = "standart"')) == (
        'spiral.toml: data.scaling: expected one of standard, minmax, none, got "standart" '
        '(did you mean "standard"?)')


def test_toml_syntax_error_names_the_line():
    text = 'title = "x"\n\n[data\nsource = "spiral"\n'
    message = error_of(text)
    assert message.startswith("spiral.toml: line 3, column ") and ": not valid TOML: " in message


def test_unknown_source_suggests_a_name():
    names = sorted(set(data.GENERATORS) | set(data.DATASETS))
    assert error_of(edit('source = "spiral"', 'source = "spirall"')) == (
        'spiral.toml: data.source: expected a generator, a shipped data set or a .csv/.tsv/.npz/.npy file, '
        'got "spirall" (did you mean "spiral"?)' + choose(names))


def test_file_source_is_relative_to_the_preset(tmp_path, monkeypatch):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "points.csv").write_text("a,b,label\n0,1,x\n1,0,y\n0,0,x\n1,1,y\n")
    text = BASE.replace('source = "spiral"\nsamples = 200\nnoise = 0.1\n', 'source = "points.csv"\n')
    (folder / "mine.toml").write_text(text)
    monkeypatch.chdir(tmp_path)  # the CSV is not in the working folder, only beside the preset
    assert load_preset(folder / "mine.toml").data.source == "points.csv"
    (folder / "other.toml").write_text(text.replace("points.csv", "missing.csv"))
    with pytest.raises(PresetError) as info:
        load_preset(folder / "other.toml")
    assert str(info.value) == (f'other.toml: data.source: file "missing.csv" not found (looked for '
                               f"{folder / 'missing.csv'}; a relative path starts from the preset's folder)")


def test_generator_options_on_a_file_or_shipped_set(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    iris = edit('source = "spiral"\nsamples = 200\nnoise = 0.1', 'source = "iris"\nsamples = 200')
    assert error_of(iris) == ('spiral.toml: data.samples: only generators (spiral, xor, sine...) take samples; '
                              '"iris" is a shipped data set')
    on_file = edit('source = "spiral"\nsamples = 200\nnoise = 0.1', 'source = "d.csv"\nnoise = 0.1')
    (tmp_path / "f.toml").write_text(on_file)
    with pytest.raises(PresetError, match=r'^f\.toml: data\.noise: only generators \(spiral, xor, sine\.\.\.\) '
                                          r'take noise; "d\.csv" is a file$'):
        load_preset(tmp_path / "f.toml")
    assert error_of(edit('source = "spiral"', 'source = "spiral"\nheader = true')) == (
        "spiral.toml: data.header: only CSV files take header")


def test_bad_training_numbers():
    assert error_of(edit("learning_rate = 0.01", "learning_rate = -0.01")) == (
        "spiral.toml: train.learning_rate: expected a positive number, got -0.01")
    assert error_of(edit("learning_rate = 0.01", "learning_rate = true")) == (
        "spiral.toml: train.learning_rate: expected a positive number, got true")
    assert error_of(edit("epochs = 5", "epochs = 0")) == (
        "spiral.toml: train.epochs: expected a positive integer, got 0")
    assert error_of(edit("batch_size = 16", 'batch_size = "32"')) == (
        'spiral.toml: train.batch_size: expected a positive integer, got "32"')


def test_optimizer_table():
    exp = parse_preset(edit('optimizer = "adam"', 'optimizer = { name = "sgd", momentum = 0.9 }'))
    assert exp.train.optimizer == "sgd" and exp.train.optimizer_args == {"momentum": 0.9}
    opt = exp.build_optimizer()
    assert type(opt).__name__ == "SGD" and opt.momentum == 0.9 and opt.learning_rate == pytest.approx(0.01)
    message = error_of(edit('optimizer = "adam"', 'optimizer = { name = "sgd", momentun = 0.9 }'))
    assert message.startswith('spiral.toml: train.optimizer.momentun: not an argument of SGD '
                              '(did you mean "momentum"?); expected one of ')
    assert error_of(edit('optimizer = "adam"', 'optimizer = { name = "sgd", momentum = -1 }')) == (
        "spiral.toml: train.optimizer.momentum: expected a float in [0, 1], got -1")


def test_expect_keys():
    assert error_of(edit("test_accuracy = 0.9", "accuracy = 0.9")) == (
        "spiral.toml: expect.accuracy: expected a result name starting with test_, val_ or train_ "
        "(such as test_accuracy or test_loss)")
    assert error_of(edit("test_accuracy = 0.9", 'test_accuracy = "high"')) == (
        'spiral.toml: expect.test_accuracy: expected a number, got "high"')
    exp = parse_preset(edit("test_accuracy = 0.9", "val_loss = 0.5\ntrain_accuracy = 0.8\nepochs = 3"))
    assert exp.expect.targets == {"val_loss": 0.5, "train_accuracy": 0.8} and exp.expect.epochs == 3


# ---------------------------------------------------------------------- the user's own data
def test_users_csv_with_class_names(tmp_path):
    rng = np.random.default_rng(0)
    species = ["setosa", "versicolor", "virginica"]
    lines = ["length,width,species"]
    for i in range(90):
        k = i % 3
        lines.append(f"{2 * k + rng.random():.3f},{k + rng.random():.3f},{species[k]}")
    (tmp_path / "mydata.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "flowers.toml").write_text("""\
title = "My flowers"
description = "Three species from two measurements."

[data]
source = "mydata.csv"
target = "species"
split = [0.6, 0.2, 0.2]

[model]
layers = [
  { type = "Dense", units = 8, activation = "relu" },
  { type = "Dense", units = 3, activation = "softmax" },
]

[train]
learning_rate = 0.05
batch_size = 8
epochs = 30

[expect]
test_accuracy = 0.9
""")
    exp = load_preset(tmp_path / "flowers.toml")
    assert exp.name == "flowers" and exp.data.target == "species" and exp.base_dir == tmp_path
    session = TrainingSession(exp)
    session.run()
    ds = session.prepared.dataset
    assert session.state == "finished"
    assert ds.class_names == species and ds.feature_names == ["length", "width"] and ds.x.shape == (90, 2)
    assert exp.expect.check(session.results()) == []


# ---------------------------------------------------------------------- finding presets
def test_find_preset_by_name_and_by_path(tmp_path, monkeypatch):
    assert find_preset("spiral") == list_presets()["spiral"] == presets_dir() / "spiral.toml"
    (tmp_path / "mine.toml").write_text(BASE)
    assert find_preset(tmp_path / "mine.toml") == tmp_path / "mine.toml"
    monkeypatch.chdir(tmp_path)
    assert find_preset("mine.toml") == Path("mine.toml")
    assert load_preset("mine.toml").name == "mine"
    (tmp_path / "spiral").mkdir()  # a folder named like a preset does not hide the preset
    assert find_preset("spiral") == list_presets()["spiral"]
    with pytest.raises(PresetError, match=r"^nothere\.toml: preset file not found$"):
        find_preset("nothere.toml")
    with pytest.raises(PresetError, match=r"^sub/nothere: preset file not found$"):
        find_preset("sub/nothere")


def test_unknown_preset_lists_the_presets():
    with pytest.raises(PresetError) as info:
        find_preset("spirl")
    message = str(info.value)
    assert message.startswith('unknown preset "spirl" (did you mean "spiral"?); shipped presets: ')
    assert message.endswith(" (or give a path to a .toml file)")
    for name in REQUIRED:
        assert name in message


def test_with_overrides():
    exp = load_preset("iris")
    changed = exp.with_overrides(epochs=3, batch_size=4, learning_rate=0.5, seed=7)
    assert changed.train.epochs == 3 and changed.train.batch_size == 4 and changed.train.learning_rate == 0.5
    assert changed.data.seed == 7 and changed.model.seed == 7
    assert exp.train.epochs == 60 and exp.data.seed == 0  # the original is untouched
    assert exp.with_overrides() == exp
    with pytest.raises(PresetError, match=r"^iris\.toml: --epochs: expected a positive integer, got 0$"):
        exp.with_overrides(epochs=0)
    with pytest.raises(PresetError, match=r"^iris\.toml: --learning-rate: expected a positive number, got -1$"):
        exp.with_overrides(learning_rate=-1)
    with pytest.raises(PresetError, match=r"^iris\.toml: --batch-size: expected a positive integer, got 0$"):
        exp.with_overrides(batch_size=0)


# ---------------------------------------------------------------------- packaging
def test_presets_and_data_ship_in_the_wheel(tmp_path):
    out = tmp_path / "wheel"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "--no-index", "-q", "-w", str(out), str(REPO)], capture_output=True, text=True,
                           timeout=120)
    assert build.returncode == 0, build.stderr
    wheel = next(out.glob("tuinet-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(tmp_path / "site")
    assert "tuinet/presets/spiral.toml" in names and "tuinet/data/datasets/iris.csv.gz" in names
    assert {f"tuinet/presets/{n}.toml" for n in REQUIRED} <= names
    # The unpacked wheel finds its own presets and data, not the checkout's.
    probe = ("import tuinet.presets as p; from tuinet import data; "
             "print(p.presets_dir()); print(len(p.list_presets())); "
             "print(p.load_preset('iris').name, data.load_dataset('iris').x.shape)")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    folder, count, loaded = run.stdout.splitlines()
    assert Path(folder) == tmp_path / "site" / "tuinet" / "presets"
    assert int(count) == len(list_presets()) and loaded == "iris (150, 4)"

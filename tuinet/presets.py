"""Preset files: one TOML file describes a whole experiment (data, model, training).

    name = "spiral"                     # optional; defaults to the file name
    title = "Two-arm spiral"
    description = "Can a small tanh network untangle two interleaved spirals?"

    [data]
    source = "spiral"                   # generator, shipped data set, or a .csv/.npz/.npy path
    samples = 500                       # generators only
    noise = 0.1
    seed = 0
    split = [0.7, 0.15, 0.15]           # train, validation, test
    scaling = "standard"                # standard | minmax | none

    [model]
    seed = 0
    layers = [
      { type = "Dense", units = 16, activation = "tanh" },
      { type = "Dense", units = 2, activation = "softmax" },
    ]

    [train]
    optimizer = "adam"                  # or { name = "sgd", momentum = 0.9 }
    learning_rate = 0.01
    loss = "sparse_categorical_crossentropy"
    metrics = ["accuracy"]
    batch_size = 16
    epochs = 200

    [expect]                            # what the test suite proves the preset reaches
    test_accuracy = 0.95                # metrics: at least; losses/errors: at most
    epochs = 120                        # optional shorter run for the check

    [app]                               # how the app shows it (ignored by `tuinet train`)
    pace = 20                           # epochs per second the app trains at, or "max"

`preset_toml(experiment)` writes an experiment back as such a file and `save_preset` saves it.

Every mistake is reported as a `PresetError` like
`spiral.toml: model.layers[1].units: expected a positive integer, got "sixteen"`.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from tuinet import memory
from tuinet.atomic import atomic_write
from tuinet.errors import ConfigError, PresetError, TuinetError, did_you_mean, safe_text
from tuinet.paths import user_path

SPLIT_DEFAULT = (0.7, 0.15, 0.15)
SCALINGS = ("standard", "minmax", "none")
_TOP = {"name", "title", "description", "data", "model", "train", "expect", "app"}
_DATA = {"source", "samples", "noise", "steps", "seed", "split", "scaling", "target", "header", "delimiter", "task"}
FILE_SUFFIXES = (".csv", ".tsv", ".npz", ".npy", ".gz")
_MODEL = {"seed", "layers"}
_TRAIN = {"optimizer", "learning_rate", "loss", "metrics", "batch_size", "epochs", "shuffle"}
_LAYER_COMMON = {"name", "trainable", "input_shape", "input_dim", "dtype"}
_APP = {"pace"}
PACE_MAX = "max"
"""How a preset spells "as fast as the machine goes" (`AppSpec.pace` = `math.inf`)."""


@dataclass(frozen=True)
class DataSpec:
    source: str
    samples: int | None = None
    noise: float | None = None
    steps: int | None = None
    seed: int = 0
    split: tuple[float, float, float] = SPLIT_DEFAULT
    scaling: str = "standard"
    target: str | int | None = None
    header: bool | str = "auto"
    delimiter: str | None = None
    task: str = "auto"


@dataclass(frozen=True)
class ModelSpec:
    """The layers of a preset's model, as layer specs (`{"type": "Dense", "units": 16, ...}`).

    A stack by default: each layer takes the previous one's output. A spec with `inputs =
    ["name", ...]` takes the outputs of the earlier layers so named (or of `"input"`, the data),
    which makes the model a graph (a functional model: skip connections, merges, branches);
    its output is the last layer's.
    """

    layers: tuple[dict, ...]
    seed: int = 0

    @property
    def is_graph(self) -> bool:
        return any("inputs" in spec for spec in self.layers)


@dataclass(frozen=True)
class TrainSpec:
    optimizer: str = "adam"
    optimizer_args: dict = field(default_factory=dict)
    learning_rate: float = 0.001
    loss: str = "sparse_categorical_crossentropy"
    metrics: tuple[str, ...] = ("accuracy",)
    batch_size: int = 32
    epochs: int = 10
    shuffle: bool = True


@dataclass(frozen=True)
class Expect:
    targets: dict = field(default_factory=dict)  # e.g. {"test_accuracy": 0.95}
    epochs: int | None = None

    @staticmethod
    def lower_is_better(key: str) -> bool:
        k = key.lower()
        return "loss" in k or "error" in k or k.endswith(("mae", "mse", "rmse", "mape", "msle"))

    def check(self, results: dict) -> list[str]:
        """Unmet expectations as messages (empty when all are met)."""
        problems = []
        for key, bound in self.targets.items():
            value = results.get(key)
            if value is None:
                problems.append(f"{key}: not measured (have {', '.join(sorted(results))})")
            elif self.lower_is_better(key) and not value <= bound:
                problems.append(f"{key}: {value:.4f} > {bound}")
            elif not self.lower_is_better(key) and not value >= bound:
                problems.append(f"{key}: {value:.4f} < {bound}")
        return problems


@dataclass(frozen=True)
class AppSpec:
    """How the app shows an experiment; `tuinet train` ignores it.

    Attributes:
        pace: Epochs per second the app trains at: a positive number, `math.inf` for "max"
            (as fast as the machine goes), or None when the preset does not say (the app's default).
    """

    pace: float | None = None


@dataclass(frozen=True)
class Experiment:
    """A validated preset: everything needed to run one experiment."""

    name: str
    data: DataSpec
    model: ModelSpec
    train: TrainSpec
    title: str = ""
    description: str = ""
    expect: Expect = field(default_factory=Expect)
    app: AppSpec = AppSpec()
    path: Path | None = None
    label: str = ""  # how messages name it: the file name

    @property
    def display_label(self) -> str:
        return self.label or (self.path.name if self.path else self.name)

    @property
    def base_dir(self) -> Path | None:
        return self.path.parent if self.path else None

    def replace(self, **changes) -> "Experiment":
        """A copy with some sections or fields changed: `exp.replace(train=exp.train.replace(...))`."""
        return dataclasses.replace(self, **changes)

    def with_overrides(self, *, epochs=None, batch_size=None, learning_rate=None, seed=None) -> "Experiment":
        """The CLI's --epochs/--batch-size/--learning-rate/--seed applied, validated like the file."""
        label = self.display_label
        train, data, model = self.train, self.data, self.model
        if epochs is not None:
            train = dataclasses.replace(train, epochs=_pos_int(label, "--epochs", epochs))
        if batch_size is not None:
            train = dataclasses.replace(train, batch_size=_pos_int(label, "--batch-size", batch_size))
        if learning_rate is not None:
            train = dataclasses.replace(train, learning_rate=_learning_rate(label, "--learning-rate", learning_rate))
        if seed is not None:
            s = _seed(label, "--seed", seed)
            data, model = dataclasses.replace(data, seed=s), dataclasses.replace(model, seed=s)
        return dataclasses.replace(self, train=train, data=data, model=model)

    def build_layers(self) -> list:
        """Fresh layer instances from the spec (validated already), in order."""
        from tuinet import layerspec

        return [layerspec.make_layer(spec) for spec in self.model.layers]

    def build_model(self, input_shape: tuple):
        """The (unbuilt-optimizer, uncompiled) model of the spec for samples of `input_shape`: a
        `Sequential` for a stack, a functional model when some layer names its `inputs`."""
        from tuinet import layerspec

        return layerspec.make_model(self.model.layers, tuple(input_shape), seed=self.model.seed, name=self.name)

    def build_optimizer(self):
        from tuinet.nn import optimizers

        cls = optimizers.OPTIMIZERS[self.train.optimizer]
        return cls(learning_rate=self.train.learning_rate, **self.train.optimizer_args)


# ---------------------------------------------------------------------- value checks
def _fmt(value) -> str:
    """A value as the preset spells it: "text" in double quotes, true/false in lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{safe_text(value)}"' if isinstance(value, str) else safe_text(repr(value))


def _err(label: str, where: str, expected: str, value) -> PresetError:
    return PresetError(f"{label}: {where}: expected {expected}, got {_fmt(value)}")


def _int(label, where, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _err(label, where, "an integer", v)
    return v


def _seed(label, where, v) -> int:
    """A seed: NumPy's generators take only integers >= 0."""
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _err(label, where, "a non-negative integer", v)
    return v


def _pos_int(label, where, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise _err(label, where, "a positive integer", v)
    return v


def _pos_float(label, where, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise _err(label, where, "a positive number", v)
    return float(v)


def _learning_rate(label, where, v) -> float:
    """A positive number that float32 can hold: the weights are float32, so 1e300 would become
    infinite in the very first update."""
    from tuinet.nn.backend import float32_problem

    v = _pos_float(label, where, v)
    problem = float32_problem(v)
    if problem:
        raise PresetError(f"{label}: {where}: {problem}")
    return v


def _nonneg_float(label, where, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise _err(label, where, "a number >= 0", v)
    return float(v)


def _str(label, where, v) -> str:
    if not isinstance(v, str) or not v:
        raise _err(label, where, "a non-empty string", v)
    return v


def _bool(label, where, v) -> bool:
    if not isinstance(v, bool):
        raise _err(label, where, "true or false", v)
    return v


def _table(label, where, v) -> dict:
    if not isinstance(v, dict):
        raise _err(label, where, "a table", v)
    return v


def _suggest(value, choices) -> str:
    """`did_you_mean`, ignoring case on both sides ("LTSM" -> "LSTM"), spelled as in `choices`."""
    by_lower = {str(c).lower(): str(c) for c in choices}
    hint = did_you_mean(str(value).lower(), list(by_lower))
    match = re.fullmatch(r' \(did you mean "(.*)"\?\)', hint)
    return f' (did you mean "{by_lower[match.group(1)]}"?)' if match else ""


def _unknown(label: str, where: str, what: str, value, choices, listed=None) -> PresetError:
    """`spiral.toml: train.loss: expected a loss name, got "mes" (did you mean "mse"?); choose from ...`."""
    listed = sorted(listed if listed is not None else choices, key=str)
    return PresetError(f"{label}: {where}: expected {what}, got {_fmt(value)}{_suggest(value, choices)}; "
                       f"choose from {', '.join(map(str, listed))}")


def _unknown_keys(label: str, where: str, table: dict, allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            prefix = f"{where}." if where else ""
            raise PresetError(f"{label}: {prefix}{safe_text(key, 40)}: unknown field{_suggest(key, allowed)}; "
                              f"expected one of {', '.join(sorted(allowed))}")


def _choice(label, where, v, choices) -> str:
    if not isinstance(v, str) or v.lower() not in choices:
        hint = _suggest(v, choices) if isinstance(v, str) else ""
        raise PresetError(f"{label}: {where}: expected one of {', '.join(choices)}, got {_fmt(v)}{hint}")
    return v.lower()


def _tuplify(args: dict) -> dict:
    """TOML arrays become tuples where layer arguments expect shapes (see `tuinet.layerspec`)."""
    from tuinet.layerspec import tuplify

    return tuplify(args)


# ---------------------------------------------------------------------- sections
def source_kind(source: str) -> str:
    """"generator", "dataset" or "file" (by suffix); "unknown" for a name that is none of them."""
    from tuinet import data
    from tuinet.data.shipped import DATASET_ALIASES

    text = str(source)
    if text.lower().endswith(FILE_SUFFIXES) or "/" in text or "\\" in text:
        return "file"
    if data.get_generator(text) is not None:
        return "generator"
    key = text.lower()
    key = DATASET_ALIASES.get(key, key).replace("-", "_").replace(" ", "_")
    return "dataset" if key in data.DATASETS else "unknown"


def _parse_data(label: str, t: dict, base_dir: Path | None = None) -> DataSpec:
    from tuinet import data

    _unknown_keys(label, "data", t, _DATA)
    if "source" not in t:
        raise PresetError(f"{label}: data.source: missing; expected a generator (spiral, xor...), a data set "
                          "(iris, digits...) or a file path")
    kw: dict = {"source": _str(label, "data.source", t["source"])}
    kind = source_kind(kw["source"])
    if kind == "unknown":
        names = sorted(set(data.GENERATORS) | set(data.DATASETS))
        raise _unknown(label, "data.source", "a generator, a shipped data set or a .csv/.tsv/.npz/.npy file",
                       kw["source"], names)
    if kind == "file":
        path = user_path(kw["source"], what=f"{label}: data.source", error=PresetError)
        if not path.is_absolute() and base_dir is not None:
            path = user_path(base_dir / path, what=f"{label}: data.source", error=PresetError)
        if not path.is_file():
            raise PresetError(f"{label}: data.source: file {_fmt(kw['source'])} not found (looked for {path}"
                              + ("; a relative path starts from the preset's folder)" if base_dir else ")"))
    for key in ("samples", "noise", "steps"):
        if key in t and kind != "generator":
            raise PresetError(f"{label}: data.{key}: only generators (spiral, xor, sine...) take {key}; "
                              f"{_fmt(kw['source'])} is a {'file' if kind == 'file' else 'shipped data set'}")
    for key in ("header", "delimiter"):
        if key in t and kind != "file":
            raise PresetError(f"{label}: data.{key}: only CSV files take {key}")
    if "target" in t and kind != "file" and t["target"] != "input":
        raise PresetError(f"{label}: data.target: only CSV files choose a target column; use target = \"input\" "
                          "for an autoencoder")
    if "samples" in t:
        kw["samples"] = _pos_int(label, "data.samples", t["samples"])
    if "noise" in t:
        kw["noise"] = _nonneg_float(label, "data.noise", t["noise"])
        if kw["noise"] > 1:
            raise _err(label, "data.noise", "a number from 0 to 1", t["noise"])
    if "steps" in t:
        if kw["source"] != "sine":
            raise PresetError(f"{label}: data.steps: only the sine generator takes steps")
        kw["steps"] = _pos_int(label, "data.steps", t["steps"])
    if "seed" in t:
        kw["seed"] = _seed(label, "data.seed", t["seed"])
    if "split" in t:
        s = t["split"]
        if isinstance(s, dict):
            _unknown_keys(label, "data.split", s, {"train", "val", "test"})
            s = [s.get("train", 0.0), s.get("val", 0.0), s.get("test", 0.0)]
        if not isinstance(s, list) or len(s) != 3 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in s):
            raise _err(label, "data.split", "three fractions [train, val, test] such as [0.7, 0.15, 0.15]", t["split"])
        if abs(sum(s) - 1) > 1e-6 or s[0] <= 0:
            raise PresetError(f"{label}: data.split: expected fractions that sum to 1 with a non-empty training "
                              f"part, got {s} (sum {sum(s):g})")
        kw["split"] = tuple(float(v) for v in s)
    if "scaling" in t:
        kw["scaling"] = _choice(label, "data.scaling", t["scaling"], SCALINGS)
    if "target" in t:
        v = t["target"]
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise _err(label, "data.target", "a column name or index", v)
        kw["target"] = v
    if "header" in t:
        kw["header"] = _bool(label, "data.header", t["header"])
    if "delimiter" in t:
        kw["delimiter"] = _str(label, "data.delimiter", t["delimiter"])
    if "task" in t:
        kw["task"] = _choice(label, "data.task", t["task"], ("auto", "classification", "regression"))
    return DataSpec(**kw)


def _layer_args(cls) -> set[str]:
    names = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                    names.add(p.name)
    return names | _LAYER_COMMON


_UNKNOWN_NAME = re.compile(r"unknown ([\w ]+?) ('[^']*'|\"[^\"]*\"|\S+)(?: \(did you mean [^)]*\))?; choose from (.*)$",
                           re.S)


def _culprit(cls, args: dict) -> str | None:
    """The one argument without which `cls(**args)` constructs, when the error does not name it."""
    for key in args:
        try:
            cls(**_tuplify({k: v for k, v in args.items() if k != key}))
        except Exception:  # noqa: BLE001 - any failure means this argument is not the only culprit
            continue
        return key
    return None


def _construct(label: str, where: str, cls, args: dict):
    """`cls(**args)`, its errors rewritten as `<file>: <where>.<arg>: expected ..., got <value>`."""
    try:
        return cls(**_tuplify(args))
    except TypeError as exc:
        arg = _culprit(cls, args)
        loc = f"{where}.{arg}" if arg is not None else f"{where} ({cls.__name__})"
        raise PresetError(f"{label}: {loc}: {exc}") from None
    except TuinetError as exc:
        text = str(exc)
    detail = text.split(": ", 1)[1] if text.startswith(f"{cls.__name__}:") else text
    arg = next((k for k in args if f" {k} " in f" {detail} " or f"{k}:" in detail or f" {k}=" in detail), None)
    if arg is None:
        arg = _culprit(cls, args)
    loc = f"{where}.{arg}" if arg is not None else f"{where} ({cls.__name__})"
    unknown = _UNKNOWN_NAME.search(detail)
    if unknown:
        what = unknown.group(1)
        value = args[arg] if arg is not None else unknown.group(2).strip("'\"")
        choices = [c.strip() for c in unknown.group(3).split(",")]
        raise _unknown(label, loc, f"{'an' if what[0] in 'aeiou' else 'a'} {what} name", value, choices)
    if arg is not None:
        detail = detail[len(arg):].lstrip(" :") if detail.startswith(arg) else detail
        if detail.startswith("must be "):
            detail = "expected " + detail[len("must be "):]
        if ", got " in detail:
            detail = detail.rsplit(", got ", 1)[0] + f", got {_fmt(args[arg])}"
    raise PresetError(f"{label}: {loc}: {detail}")


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _parse_inputs(label: str, i: int, spec: dict, cls, earlier: list[str]) -> list[str] | None:
    """A layer's `inputs` (the graph form): names of earlier layers or "input"; None when absent."""
    where = f"model.layers[{i}].inputs"
    multi = bool(getattr(cls, "multi_input", False))
    if "inputs" not in spec:
        if multi:
            raise PresetError(f"{label}: {where}: missing; {_a(cls.__name__)} layer merges several tensors: name them, "
                              'e.g. inputs = ["input", "dense_1"]')
        return None
    names = spec["inputs"]
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise _err(label, where, 'a list of layer names such as ["input", "hidden"]', spec["inputs"])
    known = ["input", *earlier]
    for name in names:
        if name not in known:
            raise PresetError(f"{label}: {where}: {safe_text(name, 40)!r} is not the name of an earlier layer"
                              f"{_suggest(name, known)}; expected one of {', '.join(known)}")
    if not multi and len(names) != 1:
        raise _err(label, where, f"one name ({_a(cls.__name__)} layer takes one tensor)", names)
    if multi and len(names) < 2:
        raise _err(label, where, f"at least two names ({_a(cls.__name__)} layer merges tensors)", names)
    return names


def _parse_layer(label: str, i: int, spec, earlier: list[str] | None = None) -> dict:
    from tuinet.nn import layers as layers_module

    where = f"model.layers[{i}]"
    spec = _table(label, where, spec)
    spec = dict(spec)
    inputs = spec.pop("inputs", None)
    if "type" not in spec:
        raise PresetError(f"{label}: {where}.type: missing; expected a layer type such as \"Dense\"")
    kind = spec["type"]
    try:
        cls = layers_module.get(kind)
    except ConfigError:
        raise _unknown(label, f"{where}.type", "a layer type", kind, layers_module.LAYERS) from None
    allowed = _layer_args(cls)
    for key in spec:
        if key != "type" and key not in allowed:
            raise PresetError(f"{label}: {where}.{safe_text(key, 40)}: not an argument of {cls.__name__}"
                              f"{_suggest(key, allowed)}; "
                              f"expected one of {', '.join(sorted(allowed))}")
    args = {k: v for k, v in spec.items() if k != "type"}
    _construct(label, where, cls, args)
    names = _parse_inputs(label, i, {} if inputs is None else {"inputs": inputs}, cls, earlier or [])
    return {"type": cls.__name__, **args, **({"inputs": names} if names is not None else {})}


def _parse_model(label: str, t: dict) -> ModelSpec:
    _unknown_keys(label, "model", t, _MODEL)
    layers = t.get("layers")
    if not isinstance(layers, list) or not layers:
        raise PresetError(f"{label}: model.layers: expected a non-empty list of layer tables such as "
                          '{ type = "Dense", units = 8, activation = "relu" }, got '
                          f"{_fmt(layers) if layers is not None else 'nothing'}")
    seed = _seed(label, "model.seed", t["seed"]) if "seed" in t else 0
    parsed: list[dict] = []
    names: list[str] = []
    for i, spec in enumerate(layers):
        layer = _parse_layer(label, i, spec, names)
        name = layer.get("name")
        if name is not None:
            if name in names or name == "input":
                raise PresetError(f"{label}: model.layers[{i}].name: {safe_text(name, 40)!r} is "
                                  f"{'the data' if name == 'input' else 'taken by an earlier layer'}; "
                                  "give each layer its own name")
            names.append(name)
        parsed.append(layer)
    return ModelSpec(layers=tuple(parsed), seed=seed)


def _parse_train(label: str, t: dict) -> TrainSpec:
    from tuinet.nn import losses, metrics, optimizers

    _unknown_keys(label, "train", t, _TRAIN)
    kw: dict = {}
    if "optimizer" in t:
        opt = t["optimizer"]
        args = {}
        if isinstance(opt, dict):
            args = dict(opt)
            name = args.pop("name", None)
            if name is None:
                raise PresetError(f"{label}: train.optimizer.name: missing; expected e.g. "
                                  '{ name = "sgd", momentum = 0.9 }')
        else:
            name = opt
        key = _str(label, "train.optimizer", name).lower()
        if key not in optimizers.OPTIMIZERS:
            raise _unknown(label, "train.optimizer", "an optimizer name", name, optimizers.OPTIMIZERS)
        if "learning_rate" in args:
            raise PresetError(f"{label}: train.optimizer.learning_rate: set train.learning_rate instead")
        cls = optimizers.OPTIMIZERS[key]
        allowed = _layer_args(cls) - _LAYER_COMMON - {"learning_rate", "name"}
        for k in args:
            if k not in allowed:
                raise PresetError(f"{label}: train.optimizer.{safe_text(k, 40)}: not an argument of {cls.__name__}"
                                  f"{_suggest(k, allowed)}; expected one of {', '.join(sorted(allowed))}")
        _construct(label, "train.optimizer", cls, args)
        kw["optimizer"], kw["optimizer_args"] = key, args
    if "learning_rate" in t:
        kw["learning_rate"] = _learning_rate(label, "train.learning_rate", t["learning_rate"])
    if "loss" in t:
        loss = _str(label, "train.loss", t["loss"])
        try:
            losses.get(loss)
        except ConfigError:
            raise _unknown(label, "train.loss", "a loss name", loss, [*losses.names(), *losses.ALIASES],
                           listed=losses.names()) from None
        kw["loss"] = loss
    if "metrics" in t:
        ms = t["metrics"]
        if isinstance(ms, str):
            ms = [ms]
        if not isinstance(ms, list):
            raise _err(label, "train.metrics", 'a list such as ["accuracy"]', ms)
        for j, m in enumerate(ms):
            m = _str(label, f"train.metrics[{j}]", m)
            if m.lower() not in ("accuracy", "acc"):
                try:
                    metrics.get(m)
                except ConfigError:
                    raise _unknown(label, f"train.metrics[{j}]", "a metric name", m,
                                   [*metrics.names(), *metrics.ALIASES], listed=metrics.names()) from None
        kw["metrics"] = tuple(ms)
    if "batch_size" in t:
        kw["batch_size"] = _pos_int(label, "train.batch_size", t["batch_size"])
    if "epochs" in t:
        kw["epochs"] = _pos_int(label, "train.epochs", t["epochs"])
    if "shuffle" in t:
        kw["shuffle"] = _bool(label, "train.shuffle", t["shuffle"])
    return TrainSpec(**kw)


def _parse_expect(label: str, t: dict) -> Expect:
    targets, epochs = {}, None
    for key, v in t.items():
        if key == "epochs":
            epochs = _pos_int(label, "expect.epochs", v)
            continue
        if not key.startswith(("test_", "val_", "train_")):
            raise PresetError(f"{label}: expect.{safe_text(key, 40)}: expected a result name starting with test_, "
                              "val_ or train_ "
                              "(such as test_accuracy or test_loss)")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _err(label, f"expect.{safe_text(key, 40)}", "a number", v)
        targets[key] = float(v)
    return Expect(targets=targets, epochs=epochs)


def _parse_app(label: str, t: dict) -> AppSpec:
    _unknown_keys(label, "app", t, _APP)
    if "pace" not in t:
        return AppSpec()
    v = t["pace"]
    if isinstance(v, str) and v.strip().lower() == PACE_MAX:
        return AppSpec(pace=math.inf)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise _err(label, "app.pace", f'a positive number or "{PACE_MAX}"', v)
    return AppSpec(pace=float(v))


MAX_DEPTH = 16
"""The deepest nesting of arrays and tables a preset may have (a layer's regularizer config is 5)."""


def _check_depth(label: str, doc: dict) -> None:
    """Refuse values nested deeper than `MAX_DEPTH`, before anything recurses into them."""
    stack = [(doc, 0, "")]
    while stack:
        value, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise PresetError(f"{label}: {safe_text(where.lstrip('.'), 60)}: nested {depth} levels deep; "
                              f"expected at most {MAX_DEPTH}")
        if isinstance(value, dict):
            stack.extend((v, depth + 1, f"{where}.{k}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, depth + 1, f"{where}[{i}]") for i, v in enumerate(value))


def parse_preset(text: str, *, label: str = "<preset>", path: Path | None = None) -> Experiment:
    """Validate TOML text into an `Experiment`; `label` names the file in error messages."""
    label = safe_text(label, limit=None)
    try:
        doc = tomllib.loads(text)
    except RecursionError:  # tomllib recurses once per level of nested arrays and tables
        raise PresetError(f"{label}: not valid TOML for a preset: arrays or tables nested too deeply "
                          f"(a preset needs at most {MAX_DEPTH} levels)") from None
    except tomllib.TOMLDecodeError as exc:
        text = str(exc)
        where = re.search(r" \((at line \d+, column \d+|at end of document)\)$", text)
        if where:  # the place first, as a field path would be: "spiral.toml: line 3, column 6: ..."
            text = text[: where.start()]
            raise PresetError(f"{label}: {where.group(1)[3:]}: not valid TOML: {text}") from None
        raise PresetError(f"{label}: not valid TOML: {text}") from None
    _check_depth(label, doc)
    _unknown_keys(label, "", doc, _TOP)
    for section in ("data", "model", "train"):
        if section not in doc:
            raise PresetError(f"{label}: [{section}]: missing section; a preset needs [data], [model] and [train]")
    name = doc.get("name", path.stem if path else "preset")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise _err(label, "description", "a string", description)
    try:
        experiment = Experiment(
            name=_str(label, "name", name),
            title=_str(label, "title", doc["title"]) if "title" in doc else "",
            description=description,
            data=_parse_data(label, _table(label, "[data]", doc["data"]), path.parent if path else None),
            model=_parse_model(label, _table(label, "[model]", doc["model"])),
            train=_parse_train(label, _table(label, "[train]", doc["train"])),
            expect=_parse_expect(label, _table(label, "[expect]", doc.get("expect", {}))),
            app=_parse_app(label, _table(label, "[app]", doc.get("app", {}))),
            path=path,
            label=label,
        )
        memory.check_experiment(experiment)  # sizes that cannot fit in memory: refused before anything is made
        return experiment
    except PresetError as exc:  # keys and values echoed from the file: one line, whatever they hold
        raise PresetError(safe_text(str(exc), limit=None)) from None


# ---------------------------------------------------------------------- writing presets
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(text: str) -> str:
    """`text` as a TOML basic string: in double quotes, with `"`, `\\` and control characters escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    """A key as TOML spells it: bare when it is letters, digits, `_` and `-` only, else quoted."""
    key = str(key)
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_value(value, where: str = "value") -> str:
    """One value in TOML: a string, integer, float, boolean, array or (nested) inline table.

    Args:
        value: The value; tuples are written as arrays, mappings as inline tables
            (`{ name = "l2", config = { l2 = 0.01 } }`), NumPy scalars as numbers.
        where: The field path named in the error.

    Raises:
        PresetError: for a value TOML cannot hold (None, an object).
    """
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)  # "0.01", "1e-05", "100.0": all TOML floats
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v, f"{where}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = ", ".join(f"{toml_key(k)} = {toml_value(v, f'{where}.{k}')}" for k, v in value.items())
        return "{ " + items + " }"
    raise PresetError(f"{where}: {_fmt(value)} ({type(value).__name__}) cannot be written to a preset")


def _source_for(experiment: Experiment, folder: Path | None) -> str:
    """The data source as a file in `folder` must spell it so that it still finds the data.

    A generator or shipped data set is a name; an absolute path stays as it is; a relative path
    (relative to the experiment's folder, or the working directory without one) is kept when the
    folder does not change, else rewritten relative to `folder` (absolute when the two share no
    folder but the root).
    """
    source = experiment.data.source
    if folder is None or source_kind(source) != "file" or Path(source).expanduser().is_absolute():
        return source
    old = (experiment.base_dir or Path.cwd()).resolve()
    new = Path(folder).resolve()
    if old == new:
        return source
    target = (old / source).resolve()
    try:
        common = Path(os.path.commonpath([target, new]))
    except ValueError:  # another drive
        return str(target)
    if common == Path(common.anchor):
        return str(target)
    return Path(os.path.relpath(target, new)).as_posix()


def _section(name: str, fields: dict) -> list[str]:
    lines = ["", f"[{name}]"]
    lines += [f"{toml_key(k)} = {toml_value(v, f'{name}.{k}')}" for k, v in fields.items()]
    return lines


def preset_toml(experiment: Experiment, *, path: str | os.PathLike | None = None) -> str:
    """The experiment as preset text: `parse_preset(preset_toml(exp))` gives back an equal experiment.

    Every section is written in full ([data], [model] with one inline table per layer, [train],
    [expect] when it has targets, [app] when the pace is set), so the file does not depend on
    tuinet's defaults. Comments of the original file are not kept.

    Args:
        experiment: What to write.
        path: Where the text will be saved, if it is: then `name` is left out (the file name
            names the preset) and a data file's path is rewritten to resolve from that folder.

    Raises:
        PresetError: for a layer argument TOML cannot hold.
    """
    exp = experiment
    target = Path(path).expanduser() if path is not None else None
    lines: list[str] = []
    if target is None:
        lines.append(f"name = {toml_string(exp.name)}")
    if exp.title:
        lines.append(f"title = {toml_string(exp.title)}")
    if exp.description:
        lines.append(f"description = {toml_string(exp.description)}")

    d = exp.data
    data: dict = {"source": _source_for(exp, target.parent if target is not None else None)}
    data.update({k: getattr(d, k) for k in ("samples", "noise", "steps") if getattr(d, k) is not None})
    data.update(seed=d.seed, split=list(d.split), scaling=d.scaling)
    if d.target is not None:
        data["target"] = d.target
    if d.header != "auto":
        data["header"] = d.header
    if d.delimiter is not None:
        data["delimiter"] = d.delimiter
    if d.task != "auto":
        data["task"] = d.task
    lines += _section("data", data)

    lines += ["", "[model]", f"seed = {toml_value(exp.model.seed, 'model.seed')}", "layers = ["]
    for i, spec in enumerate(exp.model.layers):
        layer = {"type": spec["type"], **{k: v for k, v in spec.items() if k != "type" and v is not None}}
        lines.append(f"  {toml_value(layer, f'model.layers[{i}]')},")
    lines.append("]")

    t = exp.train
    optimizer = {"name": t.optimizer, **t.optimizer_args} if t.optimizer_args else t.optimizer
    lines += _section("train", {"optimizer": optimizer, "learning_rate": t.learning_rate, "loss": t.loss,
                                "metrics": list(t.metrics), "batch_size": t.batch_size, "epochs": t.epochs,
                                "shuffle": t.shuffle})
    expect = dict(exp.expect.targets)
    if exp.expect.epochs is not None:
        expect["epochs"] = exp.expect.epochs
    if expect:
        lines += _section("expect", expect)
    if exp.app.pace is not None:
        lines += _section("app", {"pace": PACE_MAX if math.isinf(exp.app.pace) else exp.app.pace})
    return "\n".join(lines) + "\n"


def save_preset(experiment: Experiment, path: str | os.PathLike) -> Path:
    """Write the experiment as a preset file, atomically; returns the path written.

    The text goes to a temporary file beside `path`, which then replaces `path` in one step:
    a reader sees the old file or the new one, never half of one, and a failure leaves no
    temporary file behind. The text is validated as `load_preset` will read it before anything
    is written.

    Raises:
        PresetError: one line naming the path, for a folder that does not exist, a path that is
            a folder, a file that cannot be written, or an experiment a preset cannot hold.
    """
    target = user_path(path, what="cannot save the preset:", error=PresetError)
    if target.is_dir():
        raise PresetError(f"{target}: cannot save the preset: it is a folder; give a file name such as "
                          f"{experiment.name}.toml")
    if not target.parent.is_dir():
        raise PresetError(f"{target}: cannot save the preset: folder {str(target.parent)!r} does not exist")
    text = preset_toml(experiment, path=target)
    parse_preset(text, label=target.name, path=target)  # what we write must load
    atomic_write(target, lambda f: f.write(text), encoding="utf-8",
                 error=lambda exc: PresetError(f"{target}: cannot save the preset ({exc.strerror or exc})"))
    return target


# ---------------------------------------------------------------------- finding presets
def presets_dir() -> Path:
    """The shipped presets: inside the installed wheel, else the source checkout's `presets/`."""
    try:
        packaged = resources.files("tuinet") / "presets"
        if packaged.is_dir():
            return Path(str(packaged))
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "presets"


def list_presets() -> dict[str, Path]:
    """Shipped presets by name, sorted."""
    folder = presets_dir()
    return {p.stem: p for p in sorted(folder.glob("*.toml"), key=lambda p: p.stem)} if folder.is_dir() else {}


def find_preset(name_or_path: str | Path) -> Path:
    """A path to an existing preset file, given a shipped preset's name or a path."""
    text = str(name_or_path)
    p = user_path(text, what="preset", error=PresetError)
    if p.suffix == ".toml" or p.is_file() or "/" in text or "\\" in text:
        if p.is_file():
            return p
        raise PresetError(f"{safe_text(text)}: preset file not found" + (" (it is a folder)" if p.is_dir() else ""))
    shipped = list_presets()
    if text in shipped:
        return shipped[text]
    raise PresetError(f"unknown preset {_fmt(text)}{_suggest(text, shipped)}; shipped presets: "
                      f"{', '.join(shipped) or 'none'} (or give a path to a .toml file)")


def load_preset(name_or_path: str | Path) -> Experiment:
    """Read and validate a preset by shipped name or path."""
    path = find_preset(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PresetError(f"{safe_text(path, limit=None)}: cannot read the preset ({safe_text(exc)})") from None
    return parse_preset(text, label=safe_text(path.name), path=path)

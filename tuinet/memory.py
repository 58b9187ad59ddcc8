"""Memory bounds: what a model and its data will need, estimated before anything is allocated.

A preset with `units = 100000000` or `samples = 10000000000` must be refused with one line that
says how much memory it would take, not end in a `MemoryError` or a machine swapping to a halt.
This module answers two questions without allocating anything:

- How much may tuinet use? `budget()`: `BUDGET_FRACTION` (80 %) of the memory the machine has
  available (`MemAvailable` in `/proc/meminfo` on Linux, else the physical memory, else
  `FALLBACK_AVAILABLE`), or exactly `TUINET_MEMORY_LIMIT` when that environment variable is set
  (`4GB`, `512MB`, `1.5GiB` or a number of bytes; the units are binary: 1 GB = 1024**3 bytes).
- How much would this need? `estimate_model(...)` adds, per layer (shapes from
  `compute_output_shape` and `Layer.weight_specs`, which build nothing):

      weights      = trainable parameters x itemsize x (3 + 2 x optimizer slots + scratch)
                     (the weights, their gradients and the copy that undoes a refused step;
                     each optimizer slot and its undo copy; the optimizer's scratch buffers)
                     + non-trainable parameters x itemsize x 2
      activations  = batch_size x values per sample of the layer's output x itemsize x 3
                     (forward cache, output and gradient), plus the im2col patch matrix (x 2)
                     and padded input of convolutions and the per-step caches of recurrent layers

  and `estimate_data(...)` the data: x and y as float32, three times over (loaded, split,
  scaled), or a generator's float64 work arrays when that is more.

`experiment_problem(experiment)` puts the two together for a preset and names the field to
lower; `tuinet.presets` (when a preset is read) and `tuinet.session` / `tuinet.data.prepare`
(before data or weights are made) call it. The engine checks each weight as `add_weight`
creates it and `Sequential.build` checks the whole model first (`check_allocation`).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from tuinet.errors import ConfigError

ENV_VAR = "TUINET_MEMORY_LIMIT"
"""Environment variable that sets the memory budget outright, e.g. `TUINET_MEMORY_LIMIT=4GB`."""

BUDGET_FRACTION = 0.8
"""Share of the available memory tuinet allows itself (the rest is for the OS, the UI, other programs)."""

FALLBACK_AVAILABLE = 8 * 1024**3
"""Available memory assumed when the machine does not say (8 GB)."""

SMALL = 64 * 1024**2
"""Allocations below this size (64 MB) are never checked: the check would cost more than it saves."""

ACTIVATION_COPIES = 3
"""Per layer and batch: the forward cache, the output and the gradient flowing back."""

DATA_COPIES = 3
"""The data as loaded, split and scaled (`tuinet.data.prepare` keeps all three)."""

GENERATED_BYTES_PER_VALUE = {"sine": 24}
"""Peak bytes a generator needs per value it makes (float64 work arrays); measured, with margin."""
GENERATED_BYTES_DEFAULT = 80
"""The same for the 2-D generators (spiral, circle...): about 200 bytes per sample of 3 values at most."""

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)


# ---------------------------------------------------------------------- sizes
def format_bytes(nbytes: float) -> str:
    """A size for messages: `512 B`, `3.2 MB`, `15.6 GB`, `3.2 TB` (binary units, 1 KB = 1024 B)."""
    nbytes = float(nbytes)
    if nbytes < 1024:
        return f"{int(nbytes)} B"
    for unit in ("KB", "MB", "GB", "TB", "PB"):
        nbytes /= 1024
        if nbytes < 1024 or unit == "PB":
            return f"{nbytes:.1f} {unit}" if nbytes < 100 else f"{nbytes:,.0f} {unit}"
    return f"{nbytes:.1f} PB"  # pragma: no cover


def parse_size(text: str, where: str = ENV_VAR) -> int:
    """`"4GB"`, `"512 MB"`, `"1.5GiB"`, `"4g"` or `"1000000"` (bytes) as a number of bytes.

    Raises:
        ConfigError: for anything else, or a size of 0.
    """
    match = _SIZE.match(str(text))
    if not match:
        raise ConfigError(f"{where}: expected a memory size such as 4GB, 512MB or 1.5GiB, got {text!r}")
    nbytes = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if nbytes <= 0:
        raise ConfigError(f"{where}: expected a memory size above 0, got {text!r}")
    return nbytes


# ---------------------------------------------------------------------- the budget
def available_memory() -> int | None:
    """Bytes the machine can give without swapping: Linux's `MemAvailable`, else the physical
    memory (`os.sysconf`), else None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


@dataclass(frozen=True)
class Budget:
    """How many bytes tuinet allows itself, and where that number comes from.

    Attributes:
        limit: The budget in bytes.
        available: The machine's available memory it was derived from (None: unknown or set by `ENV_VAR`).
        source: "env" (`TUINET_MEMORY_LIMIT`), "machine" or "fallback".
    """

    limit: int
    available: int | None = None
    source: str = "machine"

    def allows(self, nbytes: float) -> bool:
        return nbytes <= self.limit

    def describe(self) -> str:
        """Says where the limit comes from, for the end of a message (in its parentheses)."""
        if self.source == "env":
            return f"{ENV_VAR} is {format_bytes(self.limit)}"
        if self.source == "machine":
            return (f"this machine has {format_bytes(self.available)} available, so the limit is "
                    f"{format_bytes(self.limit)}; {ENV_VAR} sets it")
        return f"the limit is {format_bytes(self.limit)}, the machine's free memory being unknown; {ENV_VAR} sets it"


def budget() -> Budget:
    """The memory budget now: `TUINET_MEMORY_LIMIT` when set, else 80 % of the available memory.

    Raises:
        ConfigError: when `TUINET_MEMORY_LIMIT` is set to something that is not a size.
    """
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Budget(limit=parse_size(env), source="env")
    available = available_memory()
    if available is None:
        return Budget(limit=int(FALLBACK_AVAILABLE * BUDGET_FRACTION), available=FALLBACK_AVAILABLE,
                      source="fallback")
    return Budget(limit=int(available * BUDGET_FRACTION), available=available)


def check_allocation(nbytes: float, what: str, error=ConfigError) -> None:
    """Raise `error` naming `what` when `nbytes` is over the budget; sizes under `SMALL` pass at once.

    `what` says what would be allocated, e.g. `Dense 'dense': weight "kernel" of shape (2, 100000000)`.
    """
    if nbytes < SMALL:
        return
    b = budget()
    if not b.allows(nbytes):
        raise error(f"{what} needs about {format_bytes(nbytes)} ({b.describe()}); make it smaller")


# ---------------------------------------------------------------------- the estimate
@dataclass(frozen=True)
class Item:
    """One part of an estimate.

    Attributes:
        kind: "weights", "activations" or "data".
        nbytes: Its size in bytes.
        layer: Index of the layer it belongs to (None for data).
        per_sample: For activations, the bytes of one sample (the rest is the batch size).
        fan_in: For layers, the values of one sample of the layer's input.
    """

    kind: str
    nbytes: int
    layer: int | None = None
    per_sample: int = 0
    fan_in: int = 0


@dataclass(frozen=True)
class Estimate:
    """A sum of `Item`s; `total` is what the run needs, `largest` the item to blame first."""

    items: tuple[Item, ...] = ()

    @property
    def total(self) -> int:
        return sum(item.nbytes for item in self.items)

    @property
    def largest(self) -> Item | None:
        return max(self.items, key=lambda item: item.nbytes, default=None)

    def __add__(self, other: "Estimate") -> "Estimate":
        return Estimate(self.items + other.items)


def optimizer_copies(optimizer="adam") -> int:
    """Float arrays of the size of the trainable weights a training run keeps, for `optimizer`
    (a registry name or an instance): weights, gradients, the undo copy of a refused step, each
    optimizer slot and its undo copy, and the optimizer's scratch buffers. Adam: 3 + 2 x 2 + 1 = 8."""
    from tuinet.nn import optimizers

    opt = optimizers.get(optimizer) if isinstance(optimizer, str) else optimizer
    return 3 + 2 * len(opt._slot_specs()) + int(getattr(opt, "_n_scratch", 1))


def _prod(shape) -> int:
    return math.prod(int(d) for d in shape if d is not None)


def _extra_activations(layer, input_shape: tuple, output_shape: tuple) -> int:
    """Values per sample a layer keeps beyond its output: im2col and padding, recurrent caches."""
    from tuinet.nn.layers.conv import _Conv
    from tuinet.nn.layers.recurrent import _Recurrent

    if isinstance(layer, _Conv):
        channels = int(input_shape[-1])
        patches = _prod(output_shape[:-1]) * (_prod(layer.kernel_size) * channels + 1)
        padded = 1
        for size, k, d in zip(input_shape[:-1], layer.kernel_size, layer.dilation_rate):
            padded *= int(size) + (d * (k - 1) if layer.padding != "valid" else 0)
        return 2 * patches + padded * channels
    if isinstance(layer, _Recurrent):
        steps = int(input_shape[0]) if input_shape[0] is not None else 1
        return 4 * (steps + 1) * layer.units * layer._gates
    return 0


def estimate_layers(layers, input_shape: tuple, *, batch_size: int = 32, optimizer="adam",
                    itemsize: int | None = None) -> tuple[Estimate, tuple | None]:
    """Estimate the weights and one batch of activations of `layers` (unbuilt `Layer`s) on inputs
    of `input_shape` (no batch axis), without building anything.

    Returns:
        `(estimate, output_shape)`. When a layer cannot take its input (a `TuinetError` from
        `compute_output_shape`), the estimate covers the layers before it and the shape is None:
        the model build reports that error in its own words.
    """
    from tuinet.nn import backend

    copies = optimizer_copies(optimizer)
    items: list[Item] = []
    shape: tuple | None = tuple(input_shape)
    for i, layer in enumerate(layers):
        size = itemsize or (layer.dtype or backend.floatx()).itemsize
        try:
            specs = layer.weight_specs(shape)
            out = tuple(layer.compute_output_shape(shape))
        except Exception:  # noqa: BLE001 - the model build reports a layer that cannot take its input
            return Estimate(tuple(items)), None
        trainable = sum(_prod(s) for _, s, t in specs if t) if layer.trainable else 0
        frozen = sum(_prod(s) for _, s, _ in specs) - trainable
        fan_in = _prod(shape)
        items.append(Item("weights", size * (trainable * copies + frozen * 2), i, fan_in=fan_in))
        per_sample = size * (ACTIVATION_COPIES * _prod(out) + _extra_activations(layer, shape, out))
        items.append(Item("activations", per_sample * batch_size, i, per_sample, fan_in))
        shape = out
    return Estimate(tuple(items)), shape


def estimate_data(samples: int, sample_shape: tuple, *, targets: int = 1, generator: str | None = None) -> Estimate:
    """Estimate the data of a run: `samples` inputs of `sample_shape` and `targets` values each
    (1 for class ids or one value, the class count for one-hot rows), as float32.

    `generator` names the generator that makes the data, whose float64 work arrays may need more.
    """
    values = _prod(sample_shape)
    kept = DATA_COPIES * samples * (values + targets) * 4
    if generator is not None:
        per_value = GENERATED_BYTES_PER_VALUE.get(generator, GENERATED_BYTES_DEFAULT)
        kept = max(kept, samples * (values + 1) * per_value)
    return Estimate((Item("data", int(kept)),))


# ---------------------------------------------------------------------- presets
@dataclass(frozen=True)
class DataShape:
    """What the data of an experiment will look like, known without loading it.

    Attributes:
        samples: Number of samples (None: unknown until loaded).
        sample_shape: Shape of one input (None: unknown).
        classes: Number of classes for one-hot targets (None: unknown or regression).
        generator: The generator's name, for generated data.
    """

    samples: int | None = None
    sample_shape: tuple | None = None
    classes: int | None = None
    generator: str | None = None


def data_shape(experiment) -> DataShape:
    """The shape of `experiment`'s data, found without making or loading it: a generator makes
    two samples, a shipped data set is looked up, a file's header (`.npy`, `.npz`) or first
    line (CSV) is read. Unknown parts are None."""
    from tuinet import data
    from tuinet.data import files, shipped
    from tuinet.errors import TuinetError

    spec = experiment.data
    generator = data.get_generator(spec.source)
    if generator is not None:
        name = generator.__name__
        samples = spec.samples or _default(generator, "samples")
        steps = spec.steps if spec.steps is not None else _default(generator, "steps", None)
        kwargs = {"steps": 1} if steps is not None else {}  # a window of one step: the shape follows
        try:
            tiny = generator(samples=2, seed=0, **kwargs)
        except TuinetError:
            return DataShape(samples=samples, generator=name)
        shape = tuple(tiny.x.shape[1:])
        if steps is not None:
            shape = (int(steps), *shape[1:])
        classes = len(tiny.class_names) if tiny.class_names else None
        return DataShape(samples, shape, classes, name)
    key = shipped.dataset_key(spec.source)
    if key is not None:
        found = shipped._SPECS[key]
        return DataShape(sample_shape=(len(found.feature_names),))
    path = files.resolve_path(spec.source, experiment.base_dir)
    try:
        samples, shape = files.peek_shape(path, **_file_options(spec))
    except Exception:  # noqa: BLE001 - only a peek: loading the file reports what is wrong with it
        return DataShape()
    return DataShape(samples=samples, sample_shape=shape)


def _default(func, arg: str, missing=None):
    """The default of `func`'s argument `arg` (`missing` when it has no such argument)."""
    import inspect

    param = inspect.signature(func).parameters.get(arg)
    return missing if param is None else param.default


def _file_options(spec) -> dict:
    options = {}
    if spec.target not in (None, "input"):
        options["target"] = spec.target
    if spec.delimiter is not None:
        options["delimiter"] = spec.delimiter
    return options


_SIZE_ARGS = ("units", "filters", "kernel_size", "dilation_rate", "input_dim", "output_dim")
_NOUNS = {"units": "units", "filters": "filters", "input_dim": "ids", "output_dim": "values per id",
          "samples": "samples", "steps": "steps", "batch_size": "samples per batch"}


def _phrase(arg: str, value) -> str:
    """`100000000 units`, `(900, 900)`: the value that is too large, in words."""
    if isinstance(value, (list, tuple)):
        return f"{tuple(value)}"
    return f"{value} {_NOUNS[arg]}" if arg in _NOUNS else f"{value}"


def _size(value) -> int:
    return _prod(value) if isinstance(value, (list, tuple)) else int(value)


def _layer_culprit(specs, estimate: Estimate, index: int) -> tuple[int, str] | None:
    """(layer index, argument) of the size argument to blame for layer `index`: its own largest
    one, unless its input is larger than that (a Dense after a huge layer, a Flatten): then the
    layer before it, and so on."""
    fan_in = {item.layer: item.fan_in for item in estimate.items if item.layer is not None}
    for i in range(index, -1, -1):
        args = [(a, specs[i][a]) for a in _SIZE_ARGS if a in specs[i]]
        if args:
            arg, value = max(args, key=lambda kv: _size(kv[1]))
            if i == 0 or fan_in.get(i, 0) <= _size(value):
                return i, arg
    return None


def experiment_problem(experiment, *, input_shape: tuple | None = None, samples: int | None = None,
                       loaded: bool = False) -> str | None:
    """Why `experiment` cannot fit in memory, as `<field>: <what> need about <size> of <kind>
    (<budget>); lower it`, or None when its estimate is within `budget()`.

    Args:
        experiment: A `tuinet.presets.Experiment`.
        input_shape, samples: The loaded data's sample shape and sample count (the session
            passes them); by default `data_shape` finds them without loading anything.
        loaded: The data is in memory already (the machine's available memory counts it), so
            only the model is estimated.
    """
    shape = DataShape(samples, input_shape) if loaded else data_shape(experiment)
    estimate = Estimate()
    if not loaded and shape.samples is not None and shape.sample_shape is not None:
        targets = _prod(shape.sample_shape) if experiment.data.target == "input" else (shape.classes or 1)
        estimate += estimate_data(shape.samples, shape.sample_shape, targets=targets, generator=shape.generator)
    specs = experiment.model.layers
    input_shape = shape.sample_shape
    if input_shape is None and specs and specs[0].get("input_shape"):
        input_shape = tuple(specs[0]["input_shape"])
    if input_shape is not None:
        batch = experiment.train.batch_size
        if shape.samples is not None:
            batch = max(1, min(batch, shape.samples))
        try:
            layers, optimizer = experiment.build_layers(), experiment.build_optimizer()
        except Exception:  # noqa: BLE001 - a bad layer or optimizer is reported elsewhere, in its own words
            layers = optimizer = None
        if layers is not None and not experiment.model.is_graph:  # a graph checks its weights when built
            estimate += estimate_layers(layers, input_shape, batch_size=batch, optimizer=optimizer)[0]
    b = budget()
    if b.allows(estimate.total):
        return None
    return _blame(experiment, estimate, b)


def _blame(experiment, estimate: Estimate, b: Budget) -> str:
    """The message for an estimate over the budget: the field behind its largest item."""
    item = estimate.largest
    specs, spec = experiment.model.layers, experiment.data
    kind = item.kind
    if item.kind == "data":
        if spec.steps is not None and (spec.samples is None or spec.steps > spec.samples):
            where, phrase = "data.steps", _phrase("steps", spec.steps)
        elif spec.samples is not None:
            where, phrase = "data.samples", _phrase("samples", spec.samples)
        else:
            where, phrase, kind = "data.source", f"the data of {spec.source!r}", "memory"
    elif item.kind == "activations" and item.per_sample * min(experiment.train.batch_size, 32) <= b.limit:
        # an ordinary batch would fit: the batch size is what is too large
        where = "train.batch_size"
        phrase = _phrase("batch_size", experiment.train.batch_size)
        kind = f"activations in model.layers[{item.layer}]"
    else:
        culprit = _layer_culprit(specs, estimate, item.layer)
        steps = spec.steps if item.kind == "activations" else None
        if steps is not None and (culprit is None or steps > _size(specs[culprit[0]][culprit[1]])):
            where, phrase = "data.steps", _phrase("steps", steps)  # long sequences make the activations
        elif culprit is None:
            where, phrase = f"model.layers[{item.layer}]", f"a {specs[item.layer]['type']} layer"
        else:
            i, arg = culprit
            where, phrase = f"model.layers[{i}].{arg}", _phrase(arg, specs[i][arg])
    plural = " " in phrase and phrase.split(" ", 1)[0].isdigit() and not phrase.startswith("1 ")
    text = f"{where}: {phrase} {'need' if plural else 'needs'} about {format_bytes(item.nbytes)} of {kind}"
    if estimate.total > item.nbytes * 1.05:
        text += f", {format_bytes(estimate.total)} in all"
    return f"{text} ({b.describe()}); lower it"


def check_experiment(experiment, **known) -> None:
    """Raise a `PresetError` naming the preset and the field to lower when `experiment` cannot fit
    in memory; `known` is passed to `experiment_problem` (the loaded data's shapes)."""
    from tuinet.errors import PresetError

    problem = experiment_problem(experiment, **known)
    if problem:
        raise PresetError(f"{experiment.display_label}: {problem}")

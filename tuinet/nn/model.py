"""`Sequential`: a stack of layers with Keras's compile / fit / evaluate / predict.

Training keeps every trainable weight in one flat buffer per dtype (each layer's `params[k]`
is a view into it), so an optimizer step is a handful of NumPy calls however many layers the
model has. A step is kept only if everything stays finite: when the loss or a gradient is not
finite, or the forward pass makes a moving statistic non-finite, or the update makes a weight
(or an optimizer slot) non-finite, the weights, moving statistics and optimizer state are put
back to what they were before the step, and `fit` raises `DivergenceError` naming the epoch,
batch, loss and what was not finite. The model therefore always keeps the weights of its last
finite step.
"""

from __future__ import annotations

import math
import sys
import time
import warnings

import numpy as np

from tuinet import memory
from tuinet.errors import ConfigError, DivergenceError, NotBuiltError, ShapeError
from tuinet.nn import backend, callbacks as callbacks_module, losses as losses_module
from tuinet.nn import metrics as metrics_module, optimizers as optimizers_module
from tuinet.nn.layers.base import Layer
from tuinet.nn.layers.input_layer import InputLayer
from tuinet.nn.random import model_streams, resolve_seed
from tuinet.nn.variables import HasVariables


BUILD_COPIES = 5
"""Arrays of each trainable weight's size that building a model makes: see `Sequential._check_memory`."""


def check_bool_arg(arg: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{arg} must be True or False, got {value!r}")
    return bool(value)


def _fmt_shape(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _shape_matches(expected: tuple, actual: tuple) -> bool:
    return len(expected) == len(actual) and all(e is None or e == a for e, a in zip(expected, actual))


def _finite(arrays) -> bool:
    """Whether every entry of these float arrays is finite: one dot product each (a sum of
    squares is NaN or infinite as soon as an entry is), then entry by entry only when that sum
    is not finite, since large finite values can overflow it too."""
    total = 0.0
    for a in arrays:
        total += float(np.vdot(a, a))
    return math.isfinite(total) or all(bool(np.isfinite(a).all()) for a in arrays)


UNSCALED_INPUT = 10.0
"""`fit` hints at scaling once when some |x| exceeds this (standardized data stays well inside)."""
_SCALING_LAYERS = ("Embedding", "Rescaling", "Normalization", "BatchNormalization", "LayerNormalization",
                   "Lambda")  # a Lambda first is most often `x / 255`: tuinet cannot tell, so it does not hint


def _scale_hint(layers, x: np.ndarray) -> str | None:
    """The hint `fit` gives once when `x` looks unscaled, else None.

    The rule: some |x| exceeds `UNSCALED_INPUT` and no layer up to the first one with weights
    scales its input (Rescaling, Normalization, Batch/LayerNormalization) or takes ids (Embedding).
    Raw pixels (0..255) and raw measurements trip it; standardized or [0, 1] data does not.
    """
    for layer in layers:
        if type(layer).__name__ in _SCALING_LAYERS:
            return None
        if layer.params:
            break
    if not x.size:
        return None
    low, high = float(x.min()), float(x.max())  # two passes, no copy of x
    peak = max(high, -low)
    if not peak > UNSCALED_INPUT:
        return None
    how = "x / 255" if high <= 255 and low >= 0 else "standardize them"
    return (f"tuinet: the inputs reach {peak:g}; scale them ({how}, or a Rescaling or Normalization layer "
            "first): large inputs saturate the units, and saturated units learn slowly")


class _StepGuard:
    """What each training step checks and, when the step is refused, puts back: the flat
    weights (with a buffer each for the copy taken before the update), the flat gradients and
    the non-trainable state arrays (with theirs). One attribute of the model, so that adding it
    does not slow down every other attribute lookup on the model."""

    __slots__ = ("grads", "param_pairs", "state_pairs", "state_floats")

    def __init__(self, flat_params: dict, flat_grads: dict, stateful: list) -> None:
        self.grads = list(flat_grads.values())
        self.param_pairs = [(p, np.empty_like(p)) for p in flat_params.values()]
        self.state_pairs = [(layer.state, k, arr, np.empty_like(arr))
                            for layer in stateful for k, arr in layer.state.items()]
        self.state_floats = [arr for _, _, arr, _ in self.state_pairs if arr.dtype.kind == "f"]


def _sample_weights(y: np.ndarray, sample_weight, class_weight, where: str) -> np.ndarray | None:
    """One weight per sample from `sample_weight` or `class_weight` (Keras's
    `class_weight_to_sample_weights`: one-hot labels by their argmax, class ids rounded). For a
    model with several outputs `y` is their list: the weights are per sample, so the first serves."""
    if isinstance(y, list):
        y = y[0]
    if class_weight is not None:
        if sample_weight is not None:
            raise ConfigError(f"{where}: you cannot give both class_weight and sample_weight")
        if not isinstance(class_weight, dict):
            raise ConfigError(f"{where}: class_weight must be a dict {{class id: weight}}, got {class_weight!r}")
        labels = np.asarray(y)
        if labels.ndim > 1:
            labels = labels.argmax(axis=-1) if labels.shape[-1] != 1 else labels.squeeze(-1)
        if labels.ndim > 1:
            raise ConfigError(f"{where}: class_weight needs one label per sample, got labels of shape {y.shape}")
        labels = np.round(labels).astype(np.int64)
        return np.array([float(class_weight.get(int(c), 1.0)) for c in labels], dtype=np.float32)
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise ConfigError(f"{where}: sample_weight must be numeric, got dtype {w.dtype}")
    if w.ndim == 0 or w.shape[0] != y.shape[0]:
        raise ShapeError(f"{where}: sample_weight needs one weight per sample ({y.shape[0]}), "
                         f"got shape {w.shape}")
    return w.astype(np.float32, copy=False)


def _mask_weights(mask: np.ndarray, sample_weight, where: str = "loss") -> np.ndarray:
    """Keras's `apply_mask` for the "sum_over_batch_size" reduction: kept steps weigh
    `total / kept` and masked ones 0 (no kept step: all 0), so the mean over every loss value is
    the mean over the kept ones. A per-sample weight scales all of that sample's steps (Keras
    needs one weight per step there); a weight per step, shaped as the mask, is used as is."""
    m = mask.astype(np.float32)
    kept = float(m.sum())
    m *= (m.size / kept) if kept else 0.0
    if sample_weight is None:
        return m
    w = np.asarray(sample_weight, dtype=np.float32)
    if w.ndim == m.ndim + 1 and w.shape[-1] == 1:
        w = w.reshape(w.shape[:-1])
    if w.ndim == 1 and w.shape[0] == m.shape[0]:
        w = w.reshape((-1,) + (1,) * (m.ndim - 1))
    elif w.shape != m.shape:
        raise ShapeError(f"{where}: sample_weight of shape {w.shape} does not fit the output mask of shape "
                         f"{m.shape}; give one weight per sample or one per time step")
    return w * m


def check_targets(y, n: int, output_shape: tuple, loss, where: str, what: str = "y") -> np.ndarray:
    """`y` as a float array checked against `n` samples, an output of `output_shape` (no batch
    axis) and `loss` (its shape rules and label ranges); `what` names it in messages."""
    if y is None:
        raise ConfigError(f"{where}: {what} (the targets) is required")
    try:
        arr = np.asarray(y)
    except (ValueError, TypeError) as exc:
        raise ShapeError(f"{where}: {what} cannot be made into an array ({exc})")
    if arr.dtype.kind not in "biuf":
        raise ShapeError(f"{where}: {what} must be numeric, got dtype {arr.dtype}; encode class names as integers "
                         "(tuinet.data does this for CSV files)")
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ShapeError(f"{where}: x has {n} samples but {what} has "
                         f"{arr.shape[0] if arr.ndim else 'no'} samples")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ShapeError(f"{where}: {what} contains NaN or infinite values")
    out_shape = (n, *output_shape)
    if not isinstance(loss, losses_module.SparseCategoricalCrossentropy) and arr.ndim == len(out_shape) - 1 \
            and out_shape[-1] == 1:
        arr = arr.reshape(*arr.shape, 1)
    loss.check_shapes(arr.shape, out_shape)
    loss.check_labels(arr, out_shape)  # a class id out of range fails now, not mid-epoch
    return np.ascontiguousarray(arr, dtype=backend.floatx())


def rows(data, index):
    """`data[index]` for an array, or for each array of a list (a model with several inputs or outputs)."""
    if isinstance(data, list):
        return [a[index] for a in data]
    return data[index]


def n_rows(data) -> int:
    return data[0].shape[0] if isinstance(data, list) else data.shape[0]


def sample_shape(layer) -> tuple:
    """A built layer's output shape without the batch axis (a nested model's too)."""
    if isinstance(layer, Sequential):
        return layer._sample_output_shape()
    return layer.output_shape


SUMMARY_HEADERS = ("Layer (type)", "Output Shape", "Param #", "Connected to")
SUMMARY_WIDTHS = (31, 22, 13, 20)  # the least width of each column


def summary_table(rows) -> list[str]:
    """Keras's summary table: one row per layer of 3 cells (layer, output shape, parameters) or 4
    (and "Connected to"); a cell may be a list of lines (the connections), drawn one under another."""
    n = len(rows[0]) if rows else 3
    cells = [[c if isinstance(c, list) else [c] for c in row] for row in rows]
    w = [max(SUMMARY_WIDTHS[j], *(len(line) + 1 for row in cells for line in row[j])) if cells
         else SUMMARY_WIDTHS[j] for j in range(n)]

    def line(texts, edge="│"):
        parts = [f"{t:>{w[j]}}" if j == 2 else f"{t:<{w[j]}}" for j, t in enumerate(texts)]
        return f"{edge} " + f" {edge} ".join(parts) + f" {edge}"

    out = ["┏" + "┳".join("━" * (c + 2) for c in w) + "┓", line(SUMMARY_HEADERS[:n], "┃"),
           "┡" + "╇".join("━" * (c + 2) for c in w) + "┩"]
    for i, row in enumerate(cells):
        for k in range(max(len(c) for c in row)):
            out.append(line([c[k] if k < len(c) else "" for c in row]))
        if i < len(cells) - 1:
            out.append("├" + "┼".join("─" * (c + 2) for c in w) + "┤")
    out.append("└" + "┴".join("─" * (c + 2) for c in w) + "┘")
    return out


def param_totals(model) -> list[str]:
    """Keras's three summary lines: total, trainable and non-trainable weights with their sizes
    (a layer is trainable when it and every model around it are)."""
    leaves = [(lay, t) for lay, t in model._leaves() if lay.built]
    all_n = sum(int(v.size) for lay, _ in leaves for v in (*lay.params.values(), *lay.state.values()))
    all_b = sum(v.nbytes for lay, _ in leaves for v in (*lay.params.values(), *lay.state.values()))
    trainable = sum(int(v.size) for lay, t in leaves if t for v in lay.params.values())
    t_bytes = sum(v.nbytes for lay, t in leaves if t for v in lay.params.values())
    return [f" Total params: {all_n:,} ({readable_size(all_b)})",
            f" Trainable params: {trainable:,} ({readable_size(t_bytes)})",
            f" Non-trainable params: {all_n - trainable:,} ({readable_size(all_b - t_bytes)})"]


def readable_size(nbytes: float) -> str:
    """Keras's memory size format: `2.51 KB`."""
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.2f} GB"  # pragma: no cover


class Sequential(HasVariables):
    """A linear stack of layers, as `keras.Sequential`.

    Args:
        layers: Layers to add in order; the first may be `Input(shape)` or carry `input_shape`.
        name: The model's name, shown by `summary()`.
        seed: Makes weight initialisation, shuffling and dropout repeatable bit for bit.
    """

    _refusal: str | None = None  # what made the last refused training step non-finite

    # A model is also a layer (Keras): it can sit in another model's stack or graph.
    multi_input = False
    supports_masking = False
    consumes_mask = False
    activation = None
    dtype = None
    regularizers: dict = {}

    def __init__(self, layers=None, name: str = "sequential", *, seed: int | None = None,
                 trainable: bool = True) -> None:
        self.name = name
        self.seed = resolve_seed(seed)
        self._user_seed = seed
        self._layers: list[Layer] = []
        self._input_shape: tuple | None = None
        self._input_name: str | None = None
        self.built = False
        self.optimizer = None
        self.loss = None
        self._metric_specs: list = []
        self._train_metrics: list | None = None
        self._eval_metrics: list | None = None
        self.stop_training = False
        self.history = None
        self._trainable = check_bool_arg("trainable", trainable)
        self._input_grad_base = False
        self._groups: dict = {}
        self.metadata: dict = {}  # JSON-friendly facts saved with the model (scaler, class names...)
        self._init_rng, self._fit_rng = model_streams(self.seed)
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        """As Keras: setting it sets every layer's (and nested model's) `trainable` too; the change
        takes effect at the next `compile`, `fit` or `train_on_batch`."""
        value = check_bool_arg("trainable", value)
        self._trainable = value
        for layer in self._layers:
            layer.trainable = value

    def _leaves(self, frozen: bool = False):
        """`(layer, trainable)` for every layer with weights or state, nested models opened up;
        `trainable` is False when the layer or any model around it is frozen."""
        frozen = frozen or not self._trainable
        for layer in self._layers:
            if isinstance(layer, Sequential):
                yield from layer._leaves(frozen)
            elif not isinstance(layer, InputLayer):
                yield layer, layer.trainable and not frozen

    # -- symbolic inputs and outputs (feature extractors: Model(m.inputs, [l.output ...])) ----
    def _graph(self) -> tuple:
        """The model's stack as a functional graph: `(input tensor, output tensor)`, made on first
        use (and again after the layers change), so that `layer.output` and `model.inputs` work."""
        key = (tuple(id(layer) for layer in self._layers), self._input_shape)
        if getattr(self, "_graph_key", None) != key:
            if self._input_shape is None or not self._layers:
                raise NotBuiltError(f"model {self.name!r} has no input shape yet, so it has no symbolic inputs: "
                                    "start it with Input(shape)")
            for node in getattr(self, "_graph_nodes", []):
                nodes = node.layer.__dict__.get("_inbound_nodes") or []
                if node in nodes:
                    nodes.remove(node)
            tensor = InputLayer(self._input_shape, name=self._input_name,
                                dtype=getattr(self, "_input_dtype", None)).output
            start = tensor
            made = [tensor.node]
            for layer in self._layers:
                tensor = layer(tensor)
                made.append(tensor.node)
            self._graph_key, self._graph_nodes, self._graph_io = key, made, (start, tensor)
        return self._graph_io

    @property
    def inputs(self) -> list:
        return [self._graph()[0]]

    @property
    def outputs(self) -> list:
        return [self._graph()[1]]

    @property
    def input(self):
        return self._graph()[0]

    @property
    def output(self):
        return self._graph()[1]

    # -- a model used as a layer ------------------------------------------------------------
    @classmethod
    def default_name(cls) -> str:
        return "sequential"

    @property
    def params(self) -> dict:
        return {f"{lay.name}/{k}": v for lay, _ in self._leaves() for k, v in lay.params.items()}

    @property
    def state(self) -> dict:
        return {f"{lay.name}/{k}": v for lay, _ in self._leaves() for k, v in lay.state.items()}

    @property
    def weight_names(self) -> list[str]:
        return [f"{lay.name}/{w}" for lay in self._layers for w in lay.weight_names]

    @property
    def needs_input_grad(self) -> bool:
        return self._input_grad_base

    @needs_input_grad.setter
    def needs_input_grad(self, value: bool) -> None:
        self._input_grad_base = bool(value)
        if self.built:
            self._set_input_grads()

    @property
    def declared_input_shape(self) -> tuple | None:
        return self._input_shape

    def check_passes(self) -> None:
        """A model is a valid layer (its layers were checked when added)."""

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def _sample_output_shape(self) -> tuple:
        return tuple(self.output_shape[1:])

    def build_for(self, input_shape: tuple, rng=None) -> tuple:
        """Build for samples of `input_shape` when used as a layer; a built model keeps its weights
        (a pretrained base stays pretrained) and must accept the shape."""
        input_shape = tuple(input_shape)
        if not self.built:
            self._input_shape = self._input_shape or input_shape
            self.build()
        if not _shape_matches(tuple(self.input_shape[1:]), input_shape):
            raise ShapeError(f"model {self.name!r} expects inputs of shape {_fmt_shape(self.input_shape)}, "
                             f"got {_fmt_shape((None, *input_shape))}")
        return self._sample_output_shape()

    def weight_specs(self, input_shape: tuple) -> list:
        if self.built:
            return []
        specs, shape = [], tuple(input_shape)
        for layer in self._layers:
            specs += layer.weight_specs(shape)
            shape = tuple(layer.compute_output_shape(shape))
        return specs

    def forward(self, x, *, training: bool = False, mask=None):
        return self._forward(x, training)

    def backward(self, grad_out):
        """dL/dx of the whole stack given dL/d(output), filling its layers' gradients."""
        layers = self._layers
        stop = 0 if self._input_grad_base else self._backward_stop
        for i in range(len(layers) - 1, stop - 1, -1):
            grad_out = layers[i].backward(grad_out)
        return grad_out if self._input_grad_base else None

    def compute_mask(self, x, mask):
        return None

    def count_trainable(self) -> int:
        return sum(int(v.size) for lay, t in self._leaves() if t for v in lay.params.values())

    def regularization_loss(self) -> float:
        return sum(lay.regularization_loss() for lay, _ in self._leaves())

    def add(self, layer) -> None:
        """Append a layer (or, first, an `Input`)."""
        from tuinet.nn.functional import KerasTensor

        if isinstance(layer, KerasTensor) and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        elif isinstance(layer, KerasTensor):
            raise ConfigError("Sequential.add takes layers; a tensor that a layer returned belongs in a functional "
                              "model: tuinet.Model(inputs, outputs)")
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ConfigError("Input(...) can only be the first entry of a Sequential model")
            self._input_shape = layer.shape
            self._input_name = layer.name
            self._input_dtype = layer.input_dtype  # None (floats) or an integer type for ids
            return
        if not isinstance(layer, (Layer, Sequential)):
            raise ConfigError(f"Sequential.add expects a layer such as layers.Dense(4), got {layer!r}")
        if layer is self:
            raise ConfigError(f"model {self.name!r} cannot contain itself")
        if getattr(layer, "return_state", False) is True:
            raise ConfigError(f"{type(layer).__name__}(return_state=True) in a Sequential model: return_state needs "
                              "the functional API (keras.Model(inputs, outputs)), which tuinet does not have yet")
        if layer.name is None:
            base = layer.default_name()
            taken = {lay.name for lay in self._layers}
            name, i = base, 0
            while name in taken:
                i += 1
                name = f"{base}_{i}"
            layer.name = name
            layer._auto_named = True
        elif any(lay.name == layer.name for lay in self._layers):
            raise ConfigError(f"a layer named {layer.name!r} is already in the model; layer names must be unique")
        if not self._layers and layer.declared_input_shape is not None and self._input_shape is None:
            self._input_shape = layer.declared_input_shape
        self._layers.append(layer)
        self.built = False
        if self._input_shape is not None:
            self.build()

    def pop(self, rebuild: bool = True) -> Layer:
        """Remove and return the last layer; the model rebuilds (keeping the other layers' weights)."""
        if not self._layers:
            raise ConfigError("pop: the model has no layers")
        layer = self._layers.pop()
        self.built = False
        if rebuild and self._input_shape is not None and self._layers:
            self.build()
        return layer

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called `name`, or at position `index` (Input not counted); give exactly one."""
        if index is not None and name is not None:
            raise ConfigError(f"get_layer: provide only a layer name or a layer index, got index={index}, "
                              f"name={name!r}")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise ConfigError(f"get_layer: index must be an integer, got {index!r}")
            if not -len(self._layers) <= index < len(self._layers):
                raise ConfigError(f"get_layer: asked for the layer at index {index} but the model has only "
                                  f"{len(self._layers)} layers")
            return self._layers[index]
        if name is None:
            raise ConfigError("get_layer: provide either a layer name or a layer index")
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ConfigError(f"get_layer: no layer named {name!r}; layers: "
                          f"{', '.join(lay.name for lay in self._layers) or 'none'}")

    @property
    def input_shape(self) -> tuple:
        if self._input_shape is None:
            raise NotBuiltError(f"model {self.name!r} has no input shape yet: give the first layer input_shape=... "
                                "or call fit/build")
        return (None, *self._input_shape)

    @property
    def output_shape(self) -> tuple:
        if not self.built:
            raise NotBuiltError(f"model {self.name!r} is not built yet")
        return (None, *sample_shape(self._layers[-1]))

    def build(self, input_shape=None) -> None:
        """Create the weights for inputs of `input_shape` (with or without the batch axis).

        Layers already built for the same input shape keep their weights.
        """
        if input_shape is not None:
            shape = tuple(input_shape)
            if self._input_shape is not None and len(shape) == len(self._input_shape) + 1:
                shape = shape[1:]
            elif self._input_shape is None and len(shape) >= 2 and shape[0] is None:
                shape = shape[1:]
            self._input_shape = shape
        if self._input_shape is None:
            raise NotBuiltError(f"model {self.name!r} cannot be built without an input shape: give the first layer "
                                "input_shape=(...), start with Input(shape), or call fit on data")
        if not self._layers:
            raise ConfigError(f"model {self.name!r} has no layers")
        if any(isinstance(layer, Layer) and layer.call_only() for layer in self._layers):
            self._trace_custom_layers()
        shape = tuple(self._input_shape)
        self._check_memory(shape)
        for layer in self._layers:
            if isinstance(layer, Sequential) or not (layer.built and layer.input_shape == shape):
                try:
                    layer.build_for(shape, self._init_rng)
                except ShapeError as exc:
                    raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}) cannot take input of shape "
                                     f"{_fmt_shape((None, *shape))}: {exc}") from None
            shape = sample_shape(layer)
        self.built = True
        self._bind_flat()

    def _trace_custom_layers(self) -> None:
        """Replace each Keras-style custom layer (only a `call()`) by the model its call traces to,
        on the shape that reaches it."""
        from tuinet.nn.functional import trace_as_model

        shape = tuple(self._input_shape)
        for i, layer in enumerate(self._layers):
            if isinstance(layer, Layer) and layer.call_only():
                self._layers[i] = trace_as_model(layer, shape)
            try:
                shape = tuple(self._layers[i].compute_output_shape(shape))
            except Exception:  # noqa: BLE001 - the build reports it in its words
                return

    def _check_memory(self, shape: tuple) -> None:
        """Refuse with a `ConfigError` a build whose weights cannot fit in memory, before any is made.

        Each trainable weight is counted `BUILD_COPIES` times (the layer's weight and gradient,
        the model's flat copies of both, the copy that undoes a refused step); shapes come from
        `Layer.weight_specs`, which allocates nothing. See `tuinet.memory` for the budget.
        """
        total, biggest, culprit = 0, -1, None
        for layer, layer_input in self._layer_inputs(shape):
            try:
                specs = layer.weight_specs(layer_input)
            except Exception:  # noqa: BLE001 - the build reports a layer that cannot take its input, in its words
                continue
            itemsize = (layer.dtype or backend.floatx()).itemsize
            nbytes = sum(math.prod(s) * itemsize * (BUILD_COPIES if t else 1) for _, s, t in specs)
            total += nbytes
            if nbytes > biggest:
                biggest, culprit = nbytes, layer
        if total < memory.SMALL:
            return
        budget = memory.budget()
        if not budget.allows(total):
            rest = f", the model {memory.format_bytes(total)} in all" if total > biggest * 1.05 else ""
            raise ConfigError(f"model {self.name!r}: layer {culprit.name!r} ({type(culprit).__name__}) needs about "
                              f"{memory.format_bytes(biggest)} for its weights{rest} ({budget.describe()}); "
                              f"make it smaller")

    def _layer_inputs(self, shape: tuple):
        """`(layer, the sample shape it gets)` along the stack, up to a layer that cannot take its input."""
        for layer in self._layers:
            yield layer, shape
            try:
                shape = tuple(layer.compute_output_shape(shape))
            except Exception:  # noqa: BLE001 - the build reports it, in its words
                return

    def reset_weights(self) -> None:
        """Re-initialise every weight (and the optimizer state) from the model's seed."""
        self._init_rng, self._fit_rng = model_streams(self.seed)
        for layer in self._layers:
            layer.built = False
        self.build()
        if self.optimizer is not None:
            self.optimizer.reset()

    def random_state(self) -> dict:
        """Where the training randomness stands, as JSON-friendly ints: the shuffling stream
        (`"shuffle"`) and each layer's own stream (`"layers"`, one entry per layer: the state of
        a Dropout's or a recurrent layer's generator, else None). `set_random_state` puts it back,
        so that a resumed run shuffles and drops out exactly as an uninterrupted one."""
        def state(rng) -> dict | None:
            return rng.bit_generator.state if isinstance(rng, np.random.Generator) else None

        return {"shuffle": state(self._fit_rng),
                "layers": [state(getattr(layer, "_rng", None)) for layer in self._layers]}

    def set_random_state(self, state: dict) -> None:
        """Restore what `random_state` returned (a `ConfigError` when it does not fit this model)."""
        layers = state.get("layers") or []
        if len(layers) != len(self._layers):
            raise ConfigError(f"model {self.name!r}: random state for {len(layers)} layers, the model has "
                              f"{len(self._layers)}")
        pairs = [(self._fit_rng, state.get("shuffle"))]
        for layer, saved in zip(self._layers, layers):
            rng = getattr(layer, "_rng", None)
            if (saved is None) != (not isinstance(rng, np.random.Generator)):
                raise ConfigError(f"model {self.name!r}: the random state of layer {layer.name!r} does not fit it")
            pairs.append((rng, saved))
        restored = []
        try:
            for rng, saved in pairs:
                if saved is not None:
                    bits = type(rng.bit_generator)()
                    bits.state = saved
                    restored.append((rng, bits))
        except (TypeError, ValueError, KeyError) as exc:
            raise ConfigError(f"model {self.name!r}: a random state that does not fit: {exc}") from None
        for rng, bits in restored:  # all checked: now change them
            rng.bit_generator.state = bits.state

    def _bind_flat(self) -> None:
        """Move every trainable weight and gradient into one flat buffer per dtype."""
        old_sizes = {k: v[0].size for k, v in self._groups.items()}
        groups: dict[str, list] = {}
        leaves = list(self._leaves())
        for layer, trainable in leaves:
            if not trainable:
                continue
            for k, v in layer.params.items():
                groups.setdefault(v.dtype.name, []).append((layer, k))
        self._bound = [(layer, k, dtype) for dtype, entries in groups.items() for layer, k in entries]
        self._bound_key = tuple(t for _, t in leaves)
        self._groups = {}
        for dtype, entries in groups.items():
            total = sum(layer.params[k].size for layer, k in entries)
            flat_p = np.empty(total, dtype=dtype)
            flat_g = np.zeros(total, dtype=dtype)
            starts, o = [], 0
            for layer, k in entries:
                v = layer.params[k]
                n = v.size
                flat_p[o:o + n] = v.reshape(-1)
                layer.params[k] = flat_p[o:o + n].reshape(v.shape)
                layer.grads[k] = flat_g[o:o + n].reshape(v.shape)
                starts.append(o)
                o += n
            self._groups[f"params_{dtype}"] = (flat_p, flat_g, np.asarray(starts, dtype=np.intp))
        if self.optimizer is not None and {k: v[0].size for k, v in self._groups.items()} != old_sizes:
            self.optimizer.reset()  # the architecture changed: old slots no longer fit
        self._flat_params = {k: v[0] for k, v in self._groups.items()}
        self._flat_grads = {k: v[1] for k, v in self._groups.items()}
        self._segments = {k: v[2] for k, v in self._groups.items()}
        self._set_input_grads()
        self._stateful = [layer for layer, _ in leaves if layer.state]
        self._guard = _StepGuard(self._flat_params, self._flat_grads, self._stateful)
        self._regularized = [layer for layer, _ in leaves if layer.regularizers]
        self._constrained = [layer for layer, trainable in leaves if trainable and layer.__dict__.get("constraints")]

    def _rebind_if_stale(self) -> None:
        """Bind the weights again when a `trainable` flag changed since, or when another model
        sharing these layers (a sub-model, a model around this one) bound them to its own buffer."""
        if not self.built:
            return
        leaves = list(self._leaves())
        stale = tuple(t for _, t in leaves) != getattr(self, "_bound_key", None)
        if not stale:
            flats = {k[len("params_"):]: v[0] for k, v in self._groups.items()}
            stale = any(layer.params[k].base is not flats[dtype] for layer, k, dtype in self._bound)
        if stale:
            self._bind_flat()

    def _set_input_grads(self) -> None:
        """Which layers must produce dL/dx: only those with trainable weights somewhere below them."""
        seen = self._input_grad_base
        self._backward_stop = 0 if seen else len(self._layers)
        for i, layer in enumerate(self._layers):
            layer.needs_input_grad = seen
            if layer.params and not seen:
                seen = True
                self._backward_stop = i

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None, **kwargs) -> None:
        """Choose the optimizer, loss and metrics, by Keras name or instance; `weighted_metrics`
        are also weighted by `sample_weight`/`class_weight` (logged as `weighted_<name>` when a
        plain metric has the same name, as Keras)."""
        unsupported = set(kwargs) - {"run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss"}
        if unsupported:
            raise ConfigError(f"compile: unexpected argument(s) {', '.join(sorted(unsupported))}")
        if loss is None:
            raise ConfigError("compile: a loss is required, e.g. loss='mse' or "
                              f"loss='sparse_categorical_crossentropy'; choose from {', '.join(losses_module.names())}")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]
        if not isinstance(metrics, (list, tuple)):
            raise ConfigError(f"compile: metrics must be a list such as ['accuracy'], got {metrics!r}")
        for spec in metrics:  # fail now on unknown names, not at the first fit
            if not (isinstance(spec, str) and spec.lower() in ("accuracy", "acc")):
                metrics_module.require_scalar(metrics_module.get(spec))
        self._metric_specs = list(metrics)
        weighted = [] if weighted_metrics is None else weighted_metrics
        if isinstance(weighted, (str, metrics_module.Metric)):
            weighted = [weighted]
        if not isinstance(weighted, (list, tuple)):
            raise ConfigError(f"compile: weighted_metrics must be a list such as ['accuracy'], got {weighted!r}")
        for spec in weighted:
            if not (isinstance(spec, str) and spec.lower() in ("accuracy", "acc")):
                metrics_module.require_scalar(metrics_module.get(spec))
        self._weighted_specs = list(weighted)
        self._train_metrics = self._eval_metrics = None
        self._fused = None

    @property
    def compiled(self) -> bool:
        return self.optimizer is not None and self.loss is not None

    @property
    def metrics_names(self) -> list[str]:
        names = ["loss"]
        if self._train_metrics is not None:
            names += [m.name for m in self._train_metrics]
        else:
            names += [s if isinstance(s, str) else s.name for s in self._metric_specs]
        return names

    # ------------------------------------------------------------------ data checks
    def _check_x(self, x, where: str) -> np.ndarray:
        if x is None:
            raise ConfigError(f"{where}: x is required")
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as exc:
            raise ShapeError(f"{where}: x cannot be made into an array ({exc}); rows must all have the same length")
        if arr.dtype.kind not in "biuf":
            raise ShapeError(f"{where}: x must be numeric, got an array of dtype {arr.dtype} "
                             "(text or missing values in the data?)")
        if arr.ndim < 1 or arr.shape[0] == 0:
            raise ShapeError(f"{where}: x is empty (shape {arr.shape})")
        if arr.ndim == 1:
            if self._input_shape is not None and len(self._input_shape) == 1 and self._input_shape[0] != 1:
                raise ShapeError(f"{where}: the model expects inputs of shape {_fmt_shape(self.input_shape)}, "
                                 f"got a 1-D array of shape {arr.shape}")
            arr = arr.reshape(-1, 1)
        if self._input_shape is not None and not _shape_matches(self._input_shape, arr.shape[1:]):
            raise ShapeError(f"{where}: the model expects inputs of shape {_fmt_shape(self.input_shape)}, "
                             f"got data of shape {_fmt_shape((None, *arr.shape[1:]))}")
        first = self._layers[0] if self._layers else None
        if arr.dtype.kind in "biu" and first is not None and type(first).__name__ == "Embedding":
            return np.ascontiguousarray(arr)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ShapeError(f"{where}: x contains NaN or infinite values; clean or impute the data first")
        return np.ascontiguousarray(arr, dtype=backend.floatx())

    def _check_y(self, y, x: np.ndarray, where: str) -> np.ndarray:
        return check_targets(y, x.shape[0], sample_shape(self._layers[-1]), self.loss, where)

    def _prepare(self, x: np.ndarray, y: np.ndarray | None = None, where: str = "fit"):
        if not self.compiled:
            raise NotBuiltError(f"{where}: call model.compile(optimizer=..., loss=...) first")
        if self._input_shape is None:
            self._input_shape = tuple(x.shape[1:])
        if not self.built:
            self.build()
        self._rebind_if_stale()
        if self._train_metrics is None and y is not None:
            out_shape = (None, *sample_shape(self._layers[-1]))
            def resolve():
                plain = [metrics_module.get(s, y_true_shape=y.shape, y_pred_shape=out_shape, loss=self.loss)
                         for s in self._metric_specs]
                names = {m.name for m in plain}
                weighted = []
                for spec in getattr(self, "_weighted_specs", []):
                    m = metrics_module.get(spec, y_true_shape=y.shape, y_pred_shape=out_shape, loss=self.loss)
                    weighted.append(metrics_module.Weighted(m, f"weighted_{m.name}" if m.name in names else m.name))
                return plain + weighted
            self._train_metrics, self._eval_metrics = resolve(), resolve()
            self._loss_tracker = metrics_module.Mean(name="loss")
            self._eval_loss_tracker = metrics_module.Mean(name="loss")
        last = self._layers[-1]
        self._fused = None
        act = getattr(last, "activation", None)
        if act is not None and type(last).backward_linear is not Layer.backward_linear:
            self._fused = self.loss.logits_twin(act.name)

    def _checked(self, x, y, where: str) -> tuple[np.ndarray, np.ndarray]:
        """Validate inputs, build/compile-check the model for them, then validate the targets."""
        x = self._check_x(x, where)
        self._prepare(x, y, where)
        return x, self._check_y(y, x, where)

    # ------------------------------------------------------------------ steps
    def _forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        mask = None  # Keras's mask: made by Embedding(mask_zero=True), ended by reducing layers
        for layer in self._layers:
            x_in = x
            if mask is not None and layer.consumes_mask:
                x = layer.forward(x, training=training, mask=mask)
            else:
                x = layer.forward(x, training=training)
            mask = layer.compute_mask(x_in, mask)
        self._output_mask = mask
        return x

    def _loss_and_grad(self, y: np.ndarray, out: np.ndarray, need_grad: bool, sample_weight=None):
        """Loss value (with regularization) and dL/d(out) or, fused, dL/dz of the last layer.

        `sample_weight` scales each sample's loss as Keras does (the mean still divides by the
        number of loss values, not by the sum of the weights). When the output keeps the time
        axis and carries a mask (`_output_mask`), the masked steps weigh 0 and the mean is over
        the kept steps, as Keras's `apply_mask`."""
        mask = getattr(self, "_output_mask", None)
        if mask is not None and out.ndim == mask.ndim + 1 and out.shape[:mask.ndim] == mask.shape:
            sample_weight = _mask_weights(mask, sample_weight)
        sw = {} if sample_weight is None else {"sample_weight": sample_weight}
        if self._fused is not None:
            z = self._layers[-1]._z
            if z.shape != out.shape:
                z = z.reshape(out.shape)
            if need_grad:
                loss, grad = self._fused.value_and_gradient(y, z, **sw)
            else:
                loss, grad = self._fused(y, z, **sw), None
        elif need_grad:
            loss, grad = self.loss.value_and_gradient(y, out, **sw)
        else:
            loss, grad = self.loss(y, out, **sw), None
        loss = float(loss)
        for layer in self._regularized:
            loss += layer.regularization_loss()
        return loss, grad

    def _train_step(self, x: np.ndarray, y: np.ndarray, sample_weight=None):
        """Forward, backward and one optimizer step, kept only if everything stays finite.

        Returns `(loss, outputs, ok)`. The step is refused (ok False) when the loss or a
        gradient is not finite (or the gradient's squares overflow), when the forward pass
        made a moving statistic non-finite, or when the update made a weight or an optimizer
        slot non-finite. A refused step leaves no trace: the weights, the moving statistics
        and the optimizer state (slots, `iterations`) are put back to what they were before
        it, and `_refusal` says what was not finite.
        """
        guard = self._guard
        stateful = guard.state_pairs
        if stateful:
            for state, k, arr, buf in stateful:
                if state[k] is not arr:  # the layer was rebuilt on its own: pair the new arrays
                    self._guard = _StepGuard(self._flat_params, self._flat_grads, self._stateful)
                    return self._train_step(x, y, sample_weight)
                buf[...] = arr
        out = self._forward(x, True)
        loss, grad = self._loss_and_grad(y, out, True, sample_weight)
        self._backward(grad)
        for layer in self._regularized:
            layer.add_regularization_grads()
        # Each check is one dot product per flat array (see `_finite`), the cheapest full pass.
        problem = None
        total = 0.0
        for g in guard.grads:
            total += float(g.dot(g))
        if not math.isfinite(loss):
            problem = f"loss is {loss}"
        elif not math.isfinite(total):
            # Also refused when every entry is finite but their squares overflow: then the
            # optimizers whose slots average squared gradients (`bounded_slots`) stay finite.
            problem = (f"gradients are not finite (loss {loss:.4g})" if not _finite(guard.grads)
                       else f"gradients are too large: their sum of squares overflows (loss {loss:.4g})")
        elif stateful and not _finite(guard.state_floats):
            problem = self._non_finite_state()
        if problem is None:
            pairs = guard.param_pairs
            for p, buf in pairs:
                buf[...] = p
            optimizer = self.optimizer
            optimizer.save_step()
            optimizer.apply_gradients(self._flat_params, self._flat_grads, self._segments)
            for layer in self._constrained:  # Keras: constraints project the weights after the update
                for k, constraint in layer.constraints.items():
                    w = layer.params[k]
                    w[...] = constraint(w)
            total = 0.0
            for p, _ in pairs:
                total += float(p.dot(p))
            if not (math.isfinite(total) or _finite([p for p, _ in pairs])):
                problem, hint = self._non_finite_param(), "learning rate {lr:.3g} too large?"
            elif not optimizer.bounded_slots and not optimizer.slots_finite():
                problem, hint = f"the optimizer's {optimizer.non_finite_slot()}", "gradients too large?"
            if problem is not None:
                for p, buf in pairs:
                    p[...] = buf
                optimizer.undo_step()
                hint = hint.format(lr=float(optimizer.learning_rate))
                problem = f"the update made {problem} non-finite ({hint})"
        if problem is not None:
            for _, _, arr, buf in stateful:
                arr[...] = buf
            self._refusal = problem
            return loss, out, False
        return loss, out, True

    def _backward(self, grad) -> None:
        """Backpropagate dL/d(output) (dL/dz of the last layer when fused) through the layers
        that need it, filling every trainable layer's `grads`."""
        layers = self._layers
        i = len(layers) - 1
        if self._fused is not None:
            grad = layers[i].backward_linear(grad)
            i -= 1
        stop = self._backward_stop
        while i >= stop:
            grad = layers[i].backward(grad)
            i -= 1

    def _non_finite_state(self) -> str | None:
        for layer in self._stateful:
            for k, arr in layer.state.items():
                if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
                    return f"the forward pass made {layer.name}/{k} non-finite"
        return None  # pragma: no cover - only reached when called with finite state

    def _non_finite_param(self) -> str:
        """The name (`dense_1/kernel`) of the first trainable weight that is not finite."""
        for layer, trainable in self._leaves():
            if trainable:
                for k, arr in layer.params.items():
                    if not np.isfinite(arr).all():
                        return f"{layer.name}/{k}"
        return "a weight"  # pragma: no cover - only reached when called with finite weights

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict: bool = False):
        """One optimizer step on one batch; returns the loss (and metrics) of that batch."""
        x, y = self._checked(x, y, "train_on_batch")
        sw = _sample_weights(y, sample_weight, class_weight, "train_on_batch")
        for m in self._train_metrics:
            m.reset_state()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, out, ok = self._train_step(x, y, sw)
        if not ok:
            raise self._divergence(loss, None, 0)
        self._update_metrics(self._train_metrics, y, out, sw)
        return self._result({"loss": loss, **{m.name: m.result() for m in self._train_metrics}}, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict: bool = False):
        x, y = self._checked(x, y, "test_on_batch")
        sw = _sample_weights(y, sample_weight, None, "test_on_batch")
        out = self._forward(x, False)
        loss, _ = self._loss_and_grad(y, out, False, sw)
        for m in self._eval_metrics:
            m.reset_state()
        self._update_metrics(self._eval_metrics, y, out, sw)
        return self._result({"loss": loss, **{m.name: m.result() for m in self._eval_metrics}}, return_dict)

    def predict_on_batch(self, x) -> np.ndarray:
        x = self._check_x(x, "predict_on_batch")
        if not self.built:
            self._input_shape = self._input_shape or tuple(x.shape[1:])
            self.build()
        return self._forward(x, False).copy()

    def _result(self, logs: dict, return_dict: bool):
        if return_dict:
            return logs
        values = [logs["loss"]] + [v for k, v in logs.items() if k != "loss"]
        return values[0] if len(values) == 1 else values

    def _divergence(self, loss: float, epoch: int | None, batch: int) -> DivergenceError:
        """The error for the step `_train_step` just refused (it says what was not finite)."""
        where = f"epoch {epoch + 1}, batch {batch + 1}" if epoch is not None else f"batch {batch + 1}"
        lr = self.optimizer.learning_rate
        what = self._refusal or (f"loss is {loss}" if not math.isfinite(loss)
                                 else f"gradients are not finite (loss {loss:.4g})")
        return DivergenceError(
            f"training diverged at {where}: {what}. That step was not applied: the model keeps the weights "
            f"of the last finite step. Try a lower learning rate (now {float(lr):.4g}) or scale the inputs "
            "(standardize them).",
            epoch=epoch, batch=batch, loss=loss)

    # ------------------------------------------------------------------ fit
    def _validation_arrays(self, validation_data, where: str, forms: str = "a tuple (x_val, y_val)") -> tuple:
        """`validation_data` checked against the model: (x_val, y_val, sample weights or None).
        `forms`: what else the caller takes, for the message."""
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ConfigError(f"{where}: validation_data must be {forms} or (x_val, y_val, sample_weight_val)")
        xv = self._check_x(validation_data[0], f"{where} validation data")
        yv = self._check_y(validation_data[1], xv, f"{where} validation data")
        swv = validation_data[2] if len(validation_data) == 3 else None
        return xv, yv, _sample_weights(yv, swv, None, f"{where} validation data")

    def make_train_loop(self, x, y, *, batch_size: int = 32, shuffle: bool = True, validation_data=None,
                        where: str = "train", sample_weight=None, class_weight=None) -> "TrainLoop":
        """Check the data against the model and return a batch-by-batch `TrainLoop` over it.

        `validation_data` is `(x_val, y_val)` or `(x_val, y_val, sample_weight_val)`."""
        x, y = self._checked(x, y, where)
        sw = _sample_weights(y, sample_weight, class_weight, where)
        val = None if validation_data is None else self._validation_arrays(validation_data, where)
        return TrainLoop(self, x, y, batch_size=batch_size, shuffle=shuffle, validation_data=val, sample_weight=sw)

    def fit(self, x=None, y=None, batch_size: int | None = None, epochs: int = 1, verbose="auto", callbacks=None,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True, class_weight=None,
            sample_weight=None, initial_epoch: int = 0, validation_freq=1, steps_per_epoch=None,
            validation_steps=None, **kwargs):
        """Train for `epochs` epochs; returns a `History` whose `.history` has per-epoch lists.

        As Keras: `sample_weight` (one per sample) or `class_weight` ({class id: weight}) scale each
        sample's loss; the epoch counter starts at `initial_epoch`; validation runs after the epochs
        whose 1-based number is a multiple of `validation_freq` (or is in it, for a list)."""
        if kwargs:
            raise ConfigError(f"fit: unexpected argument(s) {', '.join(sorted(kwargs))}")
        batch_size = 32 if batch_size is None else batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ConfigError(f"fit: batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ConfigError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
        if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
            raise ConfigError(f"fit: validation_split must be a number in [0, 1), got {validation_split!r}")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) or initial_epoch < 0:
            raise ConfigError(f"fit: initial_epoch must be a non-negative integer, got {initial_epoch!r}")
        if isinstance(validation_freq, (list, tuple)):
            validation_freq = list(validation_freq)
        elif isinstance(validation_freq, bool) or not isinstance(validation_freq, (int, np.integer)) \
                or validation_freq < 1:
            raise ConfigError(f"fit: validation_freq must be a positive integer or a list of epochs, "
                              f"got {validation_freq!r}")
        verbose = 1 if verbose == "auto" else int(verbose)
        from tuinet.nn.batches import BatchLoop, is_batch_source

        source = is_batch_source(x)
        if not source and (steps_per_epoch is not None or validation_steps is not None):
            raise ConfigError("fit: steps_per_epoch and validation_steps apply to a PyDataset or a generator; "
                              "with arrays, batch_size sets the steps")
        if source and (y is not None or validation_split or sample_weight is not None):
            raise ConfigError("fit: when x is a PyDataset or a generator, its batches carry the targets and weights: "
                              "leave y, sample_weight and validation_split unset")
        if source:
            loop = BatchLoop(self, x, steps_per_epoch=steps_per_epoch, validation_data=validation_data, where="fit",
                             class_weight=class_weight)
        elif validation_data is None and validation_split:
            xa = self._check_x(x, "fit")
            n = n_rows(xa)
            split = int(n * (1 - validation_split))
            if split == 0 or split == n:
                raise ConfigError(f"fit: validation_split={validation_split} leaves no samples for training or "
                                  f"validation out of {n}")
            ya = self._target_arrays(y)
            if ya is not None and all(a.ndim and a.shape[0] == n for a in (ya if isinstance(ya, list) else [ya])):
                head, tail = slice(None, split), slice(split, None)
                x, y, validation_data = rows(xa, head), rows(ya, head), (rows(xa, tail), rows(ya, tail))
                swa = None if sample_weight is None else np.asarray(sample_weight)
                if swa is not None and swa.ndim and swa.shape[0] == n:
                    sample_weight, validation_data = swa[:split], validation_data + (swa[split:],)
        if not source:
            loop = self.make_train_loop(x, y, batch_size=batch_size, shuffle=shuffle, validation_data=validation_data,
                                        where="fit", sample_weight=sample_weight, class_weight=class_weight)
        loop.epoch = initial_epoch
        hint = self._input_hint(loop.x) if loop.x is not None else None
        if hint is not None:
            warnings.warn(hint, UserWarning, stacklevel=2)
        history = callbacks_module.History()
        cbs = [history]
        if verbose:
            cbs.append(callbacks_module.ProgbarLogger(verbose))
        user = list(callbacks or [])
        terminate_on_nan = any(isinstance(c, callbacks_module.TerminateOnNaN) for c in user)
        cbl = callbacks_module.CallbackList(user + cbs, self,
                                            {"epochs": epochs, "steps": loop.steps, "verbose": verbose})
        want_begin = cbl.wants("on_train_batch_begin")
        want_end = cbl.wants("on_train_batch_end")
        self.stop_training = False
        self.history = history
        cbl.call("on_train_begin", {})
        try:
            for epoch in range(initial_epoch, epochs):
                loop.start_epoch()
                cbl.call("on_epoch_begin", epoch, {})
                diverged = False
                while not loop.epoch_finished:
                    if want_begin:
                        cbl.call("on_train_batch_begin", loop.step, {})
                    loss, ok = loop.train_batch()
                    if not ok:
                        if not terminate_on_nan:
                            raise self._divergence(loss, epoch, loop.step)
                        cbl.call("on_train_batch_end", loop.step, {"loss": loss})
                        self.stop_training = diverged = True
                        break
                    if want_end:
                        cbl.call("on_train_batch_end", loop.step - 1, loop.logs())
                    if self.stop_training:
                        break
                due = (epoch + 1) % validation_freq == 0 if isinstance(validation_freq, (int, np.integer)) \
                    else epoch + 1 in validation_freq
                logs = loop.finish_epoch(validate=due and not diverged, callbacks=cbl)
                cbl.call("on_epoch_end", epoch, logs)
                if self.stop_training:
                    break
        finally:
            cbl.call("on_train_end", {})
        return history

    def _update_metrics(self, metrics, y, out, sample_weight=None) -> None:
        """Feed a batch to `metrics`. When the output keeps a masked time axis, the masked steps
        weigh 0, as Keras's compiled metrics use the output's mask; `weighted_metrics` also get
        the batch's `sample_weight`."""
        mask = getattr(self, "_output_mask", None)
        if mask is not None and not (out.ndim == mask.ndim + 1 and out.shape[:mask.ndim] == mask.shape):
            mask = None
        masked = None if mask is None else mask.astype(np.float32)
        for m in metrics:
            weights = masked
            if sample_weight is not None and getattr(m, "weighted", False):
                w = np.asarray(sample_weight, dtype=np.float32)
                weights = w if masked is None else masked * w.reshape(w.shape + (1,) * (masked.ndim - w.ndim))
            if weights is not None and metrics_module.takes_sample_weight(m):
                m.update_state(y, out, sample_weight=weights)
            else:
                m.update_state(y, out)

    def _target_arrays(self, y):
        """`y` as an array (a list of arrays for several outputs), unchecked, for splitting."""
        return np.asarray(y) if y is not None else None

    def _input_hint(self, x) -> str | None:
        return _scale_hint(self._layers, x)

    @staticmethod
    def _logs(tracker, metrics) -> dict:
        logs = {"loss": tracker.result(), **{m.name: m.result() for m in metrics}}
        return dict(sorted(logs.items()))

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_arrays(self, x: np.ndarray, y: np.ndarray, batch_size: int, sample_weight=None,
                         cbl=None) -> dict:
        """Loss and metrics over `x`, `y`; `cbl` (a `CallbackList`) gets Keras's `on_test_*` calls."""
        tracker, metrics = self._eval_loss_tracker, self._eval_metrics
        tracker.reset_state()
        for m in metrics:
            m.reset_state()
        if cbl is not None:
            cbl.call("on_test_begin", {})
        for step, lo in enumerate(range(0, n_rows(x), batch_size)):
            if cbl is not None:
                cbl.call("on_test_batch_begin", step, {})
            span = slice(lo, lo + batch_size)
            xb, yb = rows(x, span), rows(y, span)
            swb = None if sample_weight is None else sample_weight[span]
            out = self._forward(xb, False)
            loss, _ = self._loss_and_grad(yb, out, False, swb)
            tracker.update_state(loss, n_rows(xb))
            self._update_metrics(metrics, yb, out, swb)
            if cbl is not None and cbl.wants("on_test_batch_end"):
                cbl.call("on_test_batch_end", step, self._logs(tracker, metrics))
        logs = self._logs(tracker, metrics)
        if cbl is not None:
            cbl.call("on_test_end", logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size: int | None = None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict: bool = False, **kwargs):
        """Loss (and metrics) on `x`, `y`: a float, a list `[loss, *metrics]` or a dict. `x` may be
        a PyDataset or a generator of `(x, y)` batches (`steps` of them at most)."""
        if kwargs:
            raise ConfigError(f"evaluate: unexpected argument(s) {', '.join(sorted(kwargs))}")
        batch_size = 32 if batch_size is None else int(batch_size)
        if batch_size <= 0:
            raise ConfigError(f"evaluate: batch_size must be a positive integer, got {batch_size!r}")
        from tuinet.nn.batches import evaluate_source, is_batch_source

        if is_batch_source(x):
            if y is not None or sample_weight is not None:
                raise ConfigError("evaluate: when x is a PyDataset or a generator, its batches carry the targets: "
                                  "leave y and sample_weight unset")
            cbl = callbacks_module.CallbackList(callbacks, self, {"verbose": 0, "epochs": 1, "steps": steps}) \
                if callbacks else None
            logs = evaluate_source(self, x, steps=steps, callbacks=cbl)
            if return_dict:
                return logs
            ordered = [logs[name] for name in self._eval_order()]
            return ordered[0] if len(ordered) == 1 else ordered
        if steps is not None:
            raise ConfigError("evaluate: steps applies to a PyDataset or a generator; with arrays, batch_size sets it")
        x, y = self._checked(x, y, "evaluate")
        sw = _sample_weights(y, sample_weight, None, "evaluate")
        verbose = 1 if verbose == "auto" else int(verbose)
        steps = math.ceil(n_rows(x) / batch_size)
        cbl = None
        if callbacks:
            cbl = callbacks_module.CallbackList(callbacks, self, {"verbose": verbose, "epochs": 1, "steps": steps})
        start = time.perf_counter()
        logs = self._evaluate_arrays(x, y, batch_size, sw, cbl)
        if verbose:
            elapsed = time.perf_counter() - start
            sys.stdout.write(f"{steps}/{steps} - {callbacks_module.format_time(elapsed)} - "
                             f"{callbacks_module.format_per_step(elapsed / steps)} - "
                             f"{callbacks_module.format_logs(logs)}\n")
        if return_dict:
            return logs
        ordered = [logs[name] for name in self._eval_order()]
        return ordered[0] if len(ordered) == 1 else ordered

    def _eval_order(self) -> list[str]:
        """The names of `evaluate`'s list, in Keras's order."""
        return ["loss"] + [m.name for m in self._eval_metrics]

    def predict(self, x, batch_size: int | None = None, verbose="auto", steps=None, callbacks=None,
                **kwargs) -> np.ndarray:
        """Model outputs for `x`, computed in batches of `batch_size` (default 32); `x` may be a
        PyDataset or a generator of batches (`steps` of them at most)."""
        if kwargs:
            raise ConfigError(f"predict: unexpected argument(s) {', '.join(sorted(kwargs))}")
        batch_size = 32 if batch_size is None else int(batch_size)
        if batch_size <= 0:
            raise ConfigError(f"predict: batch_size must be a positive integer, got {batch_size!r}")
        from tuinet.nn.batches import is_batch_source, predict_source

        if is_batch_source(x):
            return predict_source(self, x, steps=steps)
        if steps is not None:
            raise ConfigError("predict: steps applies to a PyDataset or a generator; with arrays, batch_size sets it")
        x = self._check_x(x, "predict")
        if not self.built:
            self._input_shape = self._input_shape or tuple(x.shape[1:])
            self.build()
        cbl = None
        n = n_rows(x)
        if callbacks:
            cbl = callbacks_module.CallbackList(callbacks, self, {"verbose": 0 if verbose == "auto" else int(verbose),
                                                                  "epochs": 1,
                                                                  "steps": math.ceil(n / batch_size)})
            cbl.call("on_predict_begin", {})
        outs = []
        for step, lo in enumerate(range(0, n, batch_size)):
            if cbl is not None:
                cbl.call("on_predict_batch_begin", step, {})
            out = self._forward(rows(x, slice(lo, lo + batch_size)), False)
            outs.append([o.copy() for o in out] if isinstance(out, list) else out.copy())
            if cbl is not None:
                cbl.call("on_predict_batch_end", step, {"outputs": self._structured(outs[-1])})
        if cbl is not None:
            cbl.call("on_predict_end", {})
        if outs and isinstance(outs[0], list):
            return self._structured([np.concatenate(parts, axis=0) for parts in zip(*outs)])
        return np.concatenate(outs, axis=0)

    def _structured(self, outputs):
        """The outputs as the user declared them (one array for a Sequential model)."""
        return outputs

    def __call__(self, x, training: bool | None = None, **kwargs) -> np.ndarray:
        from tuinet.nn import functional

        if functional.is_symbolic(x):
            return functional.symbolic_call(self, x, training=training, **kwargs)
        training = bool(training)
        if kwargs:
            raise ConfigError(f"model {self.name!r}: unexpected call argument(s) {', '.join(sorted(kwargs))}")
        x = self._check_x(x, "call")
        if not self.built:
            self._input_shape = self._input_shape or tuple(x.shape[1:])
            self.build()
        return self._forward(x, training).copy()

    # ------------------------------------------------------------------ weights
    def _require_built(self, where: str) -> None:
        if not self.built:
            if self._input_shape is not None and self._layers:
                self.build()
            else:
                raise NotBuiltError(f"{where}: model {self.name!r} is not built yet; give the first layer "
                                    "input_shape=(...) or call fit first")

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight, layer by layer, each layer's in Keras order."""
        self._require_built("get_weights")
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        self._require_built("set_weights")
        weights = list(weights)
        expected = sum(len(layer.weight_names) for layer in self._layers)
        if len(weights) != expected:
            raise ShapeError(f"set_weights: model {self.name!r} has {expected} weight arrays, got {len(weights)}")
        i = 0
        for layer in self._layers:
            n = len(layer.weight_names)
            layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self) -> int:
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self._layers)

    def summary(self, line_length: int | None = None, positions=None, print_fn=None, expand_nested: bool = False,
                show_trainable: bool = False, layer_range=None) -> None:
        """Print Keras's table: Layer (type), Output Shape, Param #, and the totals. Keras's layout
        arguments (`line_length`, `positions`, `expand_nested`, `show_trainable`, `layer_range`)
        are accepted; the table keeps tuinet's layout."""
        (print_fn or print)(self.summary_text())

    def summary_text(self) -> str:
        if self._input_shape is not None and not self.built and self._layers:
            self.build()
        rows = []
        for layer in self._layers:
            shape = _fmt_shape((None, *sample_shape(layer))) if layer.built else "?"
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append((f"{layer.name} ({getattr(layer, '_shown_class', type(layer).__name__)})", shape, params))
        return "\n".join([f'Model: "{self.name}"', *summary_table(rows), *param_totals(self)])

    # ------------------------------------------------------------------ config / save
    def get_config(self) -> dict:
        from tuinet.nn.layers import serialize as serialize_layer

        cfg = {"name": self.name, "seed": self._user_seed if self._user_seed is not None else self.seed,
               "layers": [serialize_layer(layer) for layer in self._layers]}
        if not self._trainable:
            cfg["trainable"] = False
        if getattr(self, "_input_dtype", None):
            cfg["input_dtype"] = self._input_dtype
        if self._input_shape is not None:
            cfg["input_shape"] = [d for d in self._input_shape]
        return cfg

    @classmethod
    def from_config(cls, config: dict, build: bool = True) -> "Sequential":
        from tuinet.nn.layers import deserialize as deserialize_layer

        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ConfigError("Sequential.from_config: expected a dict with a 'layers' list")
        model = cls(name=config.get("name", "sequential"), seed=config.get("seed"))
        if config.get("input_shape") is not None:
            model._input_shape = tuple(config["input_shape"])
        shape, model._input_shape = model._input_shape, None  # add() builds as soon as the shape is known
        for spec in config["layers"]:
            model.add(deserialize_layer(spec))
        model._input_shape = model._input_shape or shape
        if config.get("trainable") is False:
            model._trainable = False  # the layers keep the flags their own configs carry
        if config.get("input_dtype") is not None:
            from tuinet.nn.layers.input_layer import _INT_DTYPES

            if config["input_dtype"] not in (*_INT_DTYPES, "float32", "float64"):
                raise ConfigError(f"Sequential.from_config: input_dtype must be a float or an integer type, got "
                                  f"{config['input_dtype']!r}")
            model._input_dtype = config["input_dtype"]
        if build and model._input_shape is not None and model._layers:
            model.build()
        return model

    def to_json(self, **kwargs) -> str:
        """The architecture as JSON (no weights), for `tuinet.models.model_from_json`; `kwargs` go
        to `json.dumps` (`indent=2`...)."""
        import json

        return json.dumps({"class_name": "Sequential", "config": self.get_config()}, **kwargs)

    def compile_config(self) -> dict | None:
        if not self.compiled:
            return None
        config = {"optimizer": optimizers_module.serialize(self.optimizer),
                  "loss": losses_module.serialize(self.loss),
                  "metrics": [s if isinstance(s, str) else metrics_module.serialize(s) for s in self._metric_specs]}
        if getattr(self, "_weighted_specs", None):
            config["weighted_metrics"] = [s if isinstance(s, str) else metrics_module.serialize(s)
                                          for s in self._weighted_specs]
        return config

    def save(self, path, *, include_optimizer: bool = True) -> None:
        """Save architecture, weights, compile settings and optimizer state to one file (no pickle)."""
        from tuinet.nn.serialization import save_model

        save_model(self, path, include_optimizer=include_optimizer)

    def export(self, filepath, format: str = "onnx", verbose: bool = True, input_signature=None, **kwargs) -> None:
        """Keras's `export`: write the model for inference as an ONNX file (`format="onnx"`, the only
        one; `opset=N`, 17 or later, in `kwargs`). See `tuinet.nn.onnx_export`."""
        from tuinet.nn.onnx_export import export_model

        export_model(self, filepath, format, verbose=verbose, input_signature=input_signature, **kwargs)

    def save_weights(self, path) -> None:
        from tuinet.nn.serialization import save_weights

        save_weights(self, path)

    def load_weights(self, path) -> None:
        from tuinet.nn.serialization import load_weights

        load_weights(self, path)

    def __repr__(self) -> str:
        return f"<Sequential name={self.name!r} layers={[lay.name for lay in self._layers]}>"


class TrainLoop:
    """Batch-by-batch training on fixed, already checked arrays: the engine of `fit` and of the session.

    `start_epoch()` shuffles; `train_batch()` runs one optimizer step and returns
    `(batch_loss, ok)` (ok is False when the step was refused as non-finite: nothing changed
    and `step` did not advance); `epoch_finished` says when every batch is done;
    `finish_epoch()` returns the epoch's logs (with `val_*` entries when validation data was
    given) and moves to the next epoch. `logs()` gives the running means of the current epoch.
    """

    def __init__(self, model: Sequential, x: np.ndarray, y: np.ndarray, *, batch_size: int = 32,
                 shuffle: bool = True, validation_data=None, sample_weight=None) -> None:
        self.model, self.x, self.y, self.sample_weight = model, x, y, sample_weight
        self.batch_size, self.shuffle, self.val = int(batch_size), shuffle, validation_data
        self.n = n_rows(x)
        self.steps = math.ceil(self.n / self.batch_size)
        self.epoch = 0
        self.step = 0
        self._started = False
        self._order = None

    def start_epoch(self) -> None:
        self._reset_means()
        self._order = self.model._fit_rng.permutation(self.n) if self.shuffle else None
        self.step = 0
        self._started = True

    def _reset_means(self) -> None:
        """A new epoch: the running loss and metrics start over."""
        self.model._loss_tracker.reset_state()
        for m in self.model._train_metrics:
            m.reset_state()

    def _step(self, xb, yb, swb, n: int) -> tuple[float, bool]:
        """One optimizer step on a batch of `n` rows, and the running means (see train_batch)."""
        model = self.model
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, out, ok = model._train_step(xb, yb, swb)
        if not ok:
            return loss, False
        model._loss_tracker.update_state(loss, n)
        model._update_metrics(model._train_metrics, yb, out, swb)
        self.step += 1
        return loss, True

    def _end_epoch(self, logs: dict, val_logs: dict | None) -> dict:
        if val_logs is not None:
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        self.epoch += 1
        self.step = 0
        self._started = False
        return logs

    @property
    def epoch_finished(self) -> bool:
        return self._started and self.step >= self.steps

    def train_batch(self) -> tuple[float, bool]:
        if not self._started:
            self.start_epoch()
        lo = self.step * self.batch_size
        hi = min(self.n, lo + self.batch_size)
        sw = self.sample_weight
        if self._order is not None:
            idx = self._order[lo:hi]
            xb, yb, swb = rows(self.x, idx), rows(self.y, idx), None if sw is None else sw[idx]
        else:
            span = slice(lo, hi)
            xb, yb, swb = rows(self.x, span), rows(self.y, span), None if sw is None else sw[lo:hi]
        return self._step(xb, yb, swb, hi - lo)

    def logs(self) -> dict:
        return self.model._logs(self.model._loss_tracker, self.model._train_metrics)

    def finish_epoch(self, validate: bool = True, callbacks=None) -> dict:
        """The epoch's logs, validated unless `validate` is False; `callbacks` (a `CallbackList`)
        get the `on_test_*` calls of the validation, as in Keras."""
        val_logs = None
        if self.val is not None and validate:
            xv, yv = self.val[0], self.val[1]
            swv = self.val[2] if len(self.val) > 2 else None
            val_logs = self.model._evaluate_arrays(xv, yv, self.batch_size, swv, callbacks)
        return self._end_epoch(self.logs(), val_logs)

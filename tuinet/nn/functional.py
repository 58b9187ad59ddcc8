"""Keras's functional API: symbolic tensors, the graph of layer calls, and `Functional` models.

    inputs = tuinet.Input((4,), name="features")
    x = layers.Dense(16, activation="relu")(inputs)
    y = layers.Dense(16, activation="relu")(x)
    merged = layers.Concatenate()([x, y])
    outputs = layers.Dense(3, activation="softmax")(merged)
    model = tuinet.Model(inputs, outputs)      # a `Functional`: fit, evaluate, predict, save...

Calling a layer on a `KerasTensor` computes no values: it records a `Node` (the layer, the
tensors it was called on, the tensors it returned) and returns new symbolic tensors whose
shapes come from the layer's `compute_output_shape`. `Functional(inputs, outputs)` walks the
nodes back from the outputs, orders them, builds the layers that are not built yet and trains
the graph with the same engine as `Sequential`: one flat buffer of weights, one optimizer step,
the same divergence guard. The backward pass visits the nodes in reverse order and sums the
gradients of a tensor used several times; a layer called several times (a shared layer) runs
each call on a shallow copy of itself (same weights, its own caches and gradients), and the
copies' gradients are summed into the layer's.
"""

from __future__ import annotations

import copy
import itertools
import json
import math

import numpy as np

from tuinet.errors import ConfigError, NotBuiltError, ShapeError
from tuinet.nn import backend, losses as losses_module, metrics as metrics_module, optimizers as optimizers_module
from tuinet.nn.layers.base import Layer
from tuinet.nn.layers.input_layer import InputLayer
from tuinet.nn.model import Sequential, _fmt_shape, _scale_hint, check_targets, param_totals, summary_table

# ---------------------------------------------------------------------------------- naming
_NAME_COUNTS: dict[str, itertools.count] = {}


def reset_names() -> None:
    """Forget the names given so far (`tuinet.backend.clear_session`)."""
    global _TENSOR_IDS
    _NAME_COUNTS.clear()
    _TENSOR_IDS = itertools.count()


def unique_name(base: str) -> str:
    """Keras's session-wide layer names: "dense", then "dense_1", "dense_2"..."""
    n = next(_NAME_COUNTS.setdefault(base, itertools.count()))
    return base if n == 0 else f"{base}_{n}"


# ---------------------------------------------------------------------------------- tensors
class KerasTensor:
    """A symbolic tensor: the shape (batch axis first, None) and dtype of what a layer call
    will produce, and the call (`node`, output `index`) that produces it."""

    __slots__ = ("shape", "dtype", "name", "node", "index")

    def __init__(self, shape: tuple, dtype: str, name: str, node: "Node | None" = None, index: int = 0) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self.node = node
        self.index = index

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def _keras_history(self) -> tuple:
        return (self.node.layer, self.node.layer_index, self.index)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={_fmt_shape(self.shape)}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, *args, **kwargs):
        raise TypeError("a symbolic tensor (from tuinet.Input or a layer called on one) has no values: build a "
                        "model with tuinet.Model(inputs, outputs) and call predict on data")

    def __bool__(self):
        raise TypeError("a symbolic tensor has no truth value")

    def __len__(self):
        raise TypeError("a symbolic tensor has no length: use .shape")

    def __iter__(self):
        raise TypeError("a symbolic tensor cannot be iterated; a layer that returns several tensors "
                        "(return_state=True) returns a list")

    # `x + y`, `x - y`, `x * y` on symbolic tensors: Keras's Add, Subtract and Multiply layers.
    def _merge(self, other, name: str, swap: bool = False):
        from tuinet.nn.layers import merge

        if not isinstance(other, KerasTensor):
            raise TypeError(f"{name}: symbolic tensors combine only with other symbolic tensors here, got "
                            f"{type(other).__name__}; use a layer (Rescaling for a constant factor)")
        pair = [other, self] if swap else [self, other]
        return getattr(merge, name)()(pair)

    def __add__(self, other):
        return self._merge(other, "Add")

    def __radd__(self, other):
        return self._merge(other, "Add", swap=True)

    def __sub__(self, other):
        return self._merge(other, "Subtract")

    def __rsub__(self, other):
        return self._merge(other, "Subtract", swap=True)

    def __mul__(self, other):
        return self._merge(other, "Multiply")

    def __rmul__(self, other):
        return self._merge(other, "Multiply", swap=True)

    __hash__ = object.__hash__


class Node:
    """One call of `layer` on `inputs`, returning `outputs` (all `KerasTensor`s).

    `listed` says whether the layer got a list (a merge layer); `training` is the call's
    `training=` argument (None: follow the model); `state_inputs` counts the `initial_state`
    tensors of a recurrent layer's call, which follow its input in `inputs`."""

    __slots__ = ("layer", "inputs", "outputs", "listed", "training", "layer_index", "state_inputs")

    def __init__(self, layer, inputs: list, listed: bool, training, state_inputs: int = 0) -> None:
        self.layer = layer
        self.inputs = inputs
        self.listed = listed
        self.training = training
        self.state_inputs = state_inputs  # a recurrent call's initial_state tensors: the last inputs
        self.outputs: list[KerasTensor] = []
        nodes = layer.__dict__.setdefault("_inbound_nodes", [])
        self.layer_index = len(nodes)
        nodes.append(self)


_TENSOR_IDS = itertools.count()


def _tensor_name() -> str:
    n = next(_TENSOR_IDS)
    return "keras_tensor" if n == 0 else f"keras_tensor_{n}"


def is_symbolic(x) -> bool:
    """Whether `x` is a `KerasTensor`, or a non-empty list/tuple/dict of them."""
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(t, KerasTensor) for t in x)
    if isinstance(x, dict) and x:
        return all(isinstance(t, KerasTensor) for t in x.values())
    return False


def _batchless(t: KerasTensor) -> tuple:
    return tuple(t.shape[1:])


def _num_states(layer) -> int:
    """How many state tensors a recurrent layer with `return_state=True` returns after its output."""
    if not getattr(layer, "return_state", False):
        return 0
    return 2 if type(layer).__name__ == "LSTM" else 1


def _call_kwargs(layer, training) -> dict:
    import inspect

    try:
        takes = "training" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        takes = False
    return {"training": training} if takes else {}


def _shape_of(x):
    if isinstance(x, (list, tuple)):
        return [_shape_of(t) for t in x]
    return tuple(getattr(x, "shape", np.shape(x)))


def run_custom(layer, x, training):
    """A Keras-style custom layer called on arrays: its own `build`, then `call` on NumPy."""
    layer.keras_build(_shape_of(x))
    try:
        return layer.call(x, **_call_kwargs(layer, training))
    except TypeError as exc:
        raise ConfigError(f"{type(layer).__name__}.call failed on NumPy arrays ({exc}); tuinet runs a custom layer's "
                          "call() on NumPy, or traces it when it composes tuinet layers") from None


def trace_custom(layer, x, *args, training=None, **kwargs):
    """A Keras-style custom layer called on symbolic tensors: its `call()` is run on them, so the
    layers it composes record their calls in the graph (as a traced Model subclass does). A call
    that does anything else (`keras.ops`, TensorFlow, arithmetic on constants) is refused in one line."""
    from tuinet.errors import TuinetError

    name = type(layer).__name__
    if getattr(layer, "name", None) is None:
        layer.name = unique_name(layer.default_name())
    try:
        layer.keras_build(_shape_of(x))
        out = layer.call(x, *args, **{**kwargs, **_call_kwargs(layer, training)})
    except TuinetError as exc:
        raise type(exc)(f"{name}.call: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - whatever call() did that tuinet cannot trace
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ConfigError(f"{name}: a custom layer's call() runs in tuinet when it only composes tuinet layers; this "
                          f"one cannot run on symbolic tensors ({type(exc).__name__}: {first}); give it forward() "
                          "and backward(), or use the built-in layers") from None
    if not is_symbolic(out):
        raise ConfigError(f"{name}: a custom layer's call() must return tensors made by tuinet layers, got "
                          f"{type(out).__name__}")
    return out


def trace_as_model(layer, input_shape: tuple):
    """A Keras-style custom layer in a Sequential model: its call traced into a nested model."""
    source = Input(tuple(input_shape))
    model = Functional(source, trace_custom(layer, source), name=layer.name or layer.default_name())
    model._shown_class = type(layer).__name__  # summaries name the user's class, as Keras's
    return model


def symbolic_call(layer, x, *args, training=None, mask=None, initial_state=None, **kwargs):
    """`layer(x)` on symbolic tensors: check the shapes, record the call, return symbolic outputs."""
    if isinstance(layer, Layer) and layer.call_only():
        return trace_custom(layer, x, *args, training=training, **kwargs)
    kind = type(layer).__name__
    name = getattr(layer, "name", None)
    label = f"{kind} {name!r}" if name else kind
    if getattr(layer, "positional_inputs", False) and not isinstance(x, (list, tuple)):
        # Keras's attention layers take their tensors as arguments: mha(query, value, key=...)
        key = kwargs.pop("key", None)
        x = [x, *args] + ([key] if key is not None else [])
        args = ()
    if args or kwargs:
        bad = ", ".join([*(type(a).__name__ for a in args), *sorted(kwargs)])
        raise ConfigError(f"{label}: unexpected call argument(s) {bad}")
    states = []
    if initial_state is not None:
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if not hasattr(layer, "backward_with_states") or not all(isinstance(t, KerasTensor) for t in states):
            raise ConfigError(f"{label}: initial_state takes the symbolic state tensors of a recurrent layer "
                              "(SimpleRNN, LSTM, GRU), e.g. another layer's return_state outputs")
        units = getattr(layer, "units", None)
        want = 2 if kind == "LSTM" else 1
        if len(states) != want or any(tuple(t.shape[1:]) != (units,) for t in states):
            raise ShapeError(f"{label}: initial_state must be {want} tensor{'s' if want > 1 else ''} of shape "
                             f"(None, {units}), got {', '.join(_fmt_shape(t.shape) for t in states)}")
    if mask is not None:
        raise ConfigError(f"{label}: an explicit mask= is not supported; masks come from "
                          "Embedding(mask_zero=True)")
    if training is not None and not isinstance(training, (bool, np.bool_)):
        raise ConfigError(f"{label}: training must be True, False or None, got {training!r}")
    if isinstance(layer, Layer):
        layer.check_passes()
    multi = bool(getattr(layer, "multi_input", False))
    if isinstance(x, dict):
        raise ConfigError(f"{label}: call a layer on a tensor or a list of tensors, not a dict")
    if multi:
        if not isinstance(x, (list, tuple)):
            raise ConfigError(f"{label}: expects a list of tensors, e.g. {kind}()([a, b])")
        inputs = list(x)
        in_shape = [_batchless(t) for t in inputs]
    else:
        if isinstance(x, (list, tuple)):
            if len(x) != 1:
                raise ConfigError(f"{label} takes one tensor, got a list of {len(x)}")
            x = x[0]
        inputs = [x]
        in_shape = _batchless(x)
    if getattr(layer, "name", None) is None:
        layer.name = unique_name(layer.default_name())
        layer._auto_named = True
    shown = ", ".join(_fmt_shape(t.shape) for t in inputs)
    try:
        out_shape = layer.compute_output_shape(in_shape)
    except (ShapeError, ConfigError) as exc:
        raise ShapeError(f"layer {layer.name!r} ({kind}) cannot take input of shape {shown}: {exc}") from None
    except (TypeError, ValueError, IndexError, ZeroDivisionError) as exc:
        raise ShapeError(f"layer {layer.name!r} ({kind}) cannot take input of shape {shown} "
                         f"({type(exc).__name__}: {exc})") from None
    out_shapes = out_shape if getattr(layer, "multi_output", False) else [out_shape]
    n_states = _num_states(layer)
    units = getattr(layer, "units", None)
    out_shapes = [tuple(s) for s in out_shapes] + [(units,)] * n_states
    node = Node(layer, inputs + states, multi, None if training is None else bool(training), len(states))
    dtype = getattr(layer, "output_dtype", None) or backend.floatx().name
    node.outputs = [KerasTensor((None, *s), dtype, _tensor_name(), node, i) for i, s in enumerate(out_shapes)]
    if len(node.outputs) == 1:
        return node.outputs[0]
    return list(node.outputs)


def model_from_config(config: dict):
    """A Sequential or functional model from its `get_config()` (the functional one has input_layers)."""
    if isinstance(config, dict) and "input_layers" in config:
        return Functional.from_config(config)
    return Sequential.from_config(config)


def _takes_ids(layer) -> bool:
    return type(layer).__name__ == "Embedding"


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, sparse=None, tensor=None,  # noqa: N802
          optional=False, **kwargs) -> KerasTensor:
    """`keras.Input`: a symbolic input tensor of `shape` (one sample, no batch axis).

    Start a functional model with it (`tuinet.Model(inputs, outputs)`), or a Sequential one
    (`Sequential([Input((28, 28, 1)), ...])`). `dtype="int32"` declares integer ids (for Embedding).
    """
    if sparse:
        raise ConfigError("Input: sparse inputs are not supported")
    if tensor is not None:
        raise ConfigError("Input: tensor= is not supported; pass the data to fit or predict")
    layer = InputLayer(shape, batch_size=batch_size, dtype=dtype, name=name, batch_shape=batch_shape, **kwargs)
    return layer.output


# ---------------------------------------------------------------------------------- graph
def _flatten(struct, what: str) -> tuple[list, str, list | None]:
    """A model's `inputs` or `outputs` as a flat list, how they were given ("single", "list",
    "dict") and the dict's keys."""
    if isinstance(struct, KerasTensor):
        return [struct], "single", None
    if isinstance(struct, (list, tuple)) and struct and all(isinstance(t, KerasTensor) for t in struct):
        return list(struct), "list", None
    if isinstance(struct, dict) and struct and all(isinstance(t, KerasTensor) for t in struct.values()):
        keys = sorted(struct, key=str)  # Keras flattens dicts in key order
        return [struct[k] for k in keys], "dict", [str(k) for k in keys]
    raise ConfigError(f"Model: {what} must be a tensor from tuinet.Input(...) or a layer called on one, or a list "
                      f"or dict of them, got {_describe(struct)}")


def _describe(value) -> str:
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of " + ", ".join(sorted({type(v).__name__ for v in value})) if value \
            else f"an empty {type(value).__name__}"
    return type(value).__name__


def _walk(outputs: list[KerasTensor], inputs: list[KerasTensor]) -> tuple[list[Node], list]:
    """The calls that compute `outputs` from `inputs` and the layers they use, in Keras's order
    (`keras.src.ops.function.map_graph`): by depth (the longest path to an output) decreasing,
    ties broken by the order a depth-first walk from the outputs first meets each layer. Every
    call comes after the calls that make its inputs."""
    input_nodes = {id(t.node) for t in inputs}
    finished: set[int] = set()
    in_progress: set[int] = set()
    order: list[Node] = []
    first_seen: dict[int, int] = {}
    for out in outputs:
        stack: list[list] = []

        def push(tensor) -> None:
            node = tensor.node
            if id(node) in finished:
                return
            if id(node) in in_progress:
                raise ConfigError(f"Model: tensor {tensor.name} from layer {node.layer.name!r} is part of a cycle")
            if isinstance(node.layer, InputLayer) and id(node) not in input_nodes:
                raise ConfigError(f"Model: the outputs depend on the input {node.layer.name!r}, which is not among "
                                  "the model's inputs; add it to inputs=[...]")
            first_seen.setdefault(id(node.layer), len(first_seen))
            in_progress.add(id(node))
            stack.append([node, 0])

        push(out)
        while stack:
            top = stack[-1]
            node, i = top
            if i < len(node.inputs):
                top[1] = i + 1
                push(node.inputs[i])
                continue
            stack.pop()
            in_progress.discard(id(node))
            finished.add(id(node))
            order.append(node)
    in_graph = {id(n) for n in order}
    depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    for node in reversed(order):
        d = depth.setdefault(id(node), 0)
        d = max(d, layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = d
        depth[id(node)] = d
        for t in node.inputs:
            parent = t.node
            if id(parent) in in_graph:
                depth[id(parent)] = max(d + 1, depth.get(id(parent), 0))
    for t in inputs:  # an input the outputs do not use still belongs to the model, as in Keras
        if id(t.node) not in in_graph:
            order.append(t.node)
            in_graph.add(id(t.node))
            depth[id(t.node)] = 0
            layer_depth[id(t.node.layer)] = 0
            first_seen[id(t.node.layer)] = -1
    nodes = sorted(order, key=lambda n: -depth[id(n)])  # stable: ties keep the walk's order
    layers: dict[int, object] = {}
    for n in order:
        layers.setdefault(id(n.layer), n.layer)
    ranked = sorted(layers.values(), key=lambda lay: (-layer_depth[id(lay)], first_seen[id(lay)]))
    return nodes, ranked


class _OutputMetric:
    """A metric of one output of a multi-output model: picks its arrays from the lists."""

    def __init__(self, metric, index: int, name: str, model=None) -> None:
        self.metric, self.index, self.name, self.model = metric, index, name, model

    def reset_state(self) -> None:
        self.metric.reset_state()

    @property
    def weighted(self) -> bool:
        return bool(getattr(self.metric, "weighted", False))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """The output's arrays; its mask (a masked time axis) and, for a weighted metric, the
        batch's sample weights weigh them, as Keras's compiled metrics."""
        i = self.index
        masks = getattr(self.model, "_output_masks", None)
        mask = masks[i] if masks else None
        out = y_pred[i]
        weights = None
        if mask is not None and out.ndim == mask.ndim + 1 and out.shape[:mask.ndim] == mask.shape:
            weights = mask.astype(np.float32)
        if sample_weight is not None and self.weighted:
            w = np.asarray(sample_weight, dtype=np.float32)
            weights = w if weights is None else weights * w.reshape(w.shape + (1,) * (weights.ndim - w.ndim))
        if weights is not None and metrics_module.takes_sample_weight(self.metric):
            self.metric.update_state(y_true[i], out, sample_weight=weights)
        else:
            self.metric.update_state(y_true[i], out)

    def result(self):
        return self.metric.result()

    def __getattr__(self, item):
        return getattr(self.__dict__["metric"], item)


class _OutputLoss:
    """`{output}_loss`: the mean of one output's loss over the epoch (unweighted, as Keras logs it)."""

    def __init__(self, model, index: int, name: str) -> None:
        self.model, self.index, self.name = model, index, name
        self.mean = metrics_module.Mean(name=name)

    def reset_state(self) -> None:
        self.mean.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        self.mean.update_state(self.model._output_losses[self.index], y_true[self.index].shape[0])

    def result(self):
        return self.mean.result()


def _by_output(spec, names: list[str], what: str, single_ok: bool):
    """A compile argument (`loss`, `loss_weights`, `metrics`) as one entry per output: a list in
    output order or a dict by output name; one value for every output when `single_ok`."""
    n = len(names)
    if isinstance(spec, dict):
        unknown = sorted(set(map(str, spec)) - set(names))
        if unknown:
            raise ConfigError(f"compile: {what} names the output {unknown[0]!r}; the model's outputs are "
                              f"{', '.join(names)}")
        return [spec.get(name) for name in names]
    if isinstance(spec, (list, tuple)) and not (n == 1 and what == "metrics" and not _nested(spec)):
        if len(spec) != n:
            raise ConfigError(f"compile: {what} has {len(spec)} entries but the model has {n} outputs "
                              f"({', '.join(names)}); give one per output, or a dict by output name")
        return list(spec)
    if n == 1:
        return [spec]
    if not single_ok:
        raise ConfigError(f"compile: with {n} outputs ({', '.join(names)}), give {what} as a list of lists "
                          "(one per output) or a dict by output name")
    return [spec] * n


def _nested(spec) -> bool:
    return any(isinstance(s, (list, tuple, dict)) or s is None for s in spec)


class Functional(Sequential):
    """A model made of any directed acyclic graph of layers: Keras's `Model(inputs, outputs)`.

    Args:
        inputs: A `KerasTensor` from `tuinet.Input`, or a list or dict of them.
        outputs: Tensors computed from `inputs` by calling layers, as one, a list or a dict.
        name: The model's name, shown by `summary()`.
        seed: Makes weight initialisation, shuffling and dropout repeatable bit for bit.

    `fit`, `evaluate` and `predict` take one array per input (a list in the order of `inputs`, or
    a dict by input name) and one target per output; `compile` takes one loss for every output or
    one per output (list or dict by output name), `loss_weights`, and metrics per output.
    """

    def __init__(self, inputs=None, outputs=None, name: str | None = None, *, seed: int | None = None,
                 trainable: bool = True, _before_build=None, **kwargs) -> None:
        if kwargs:
            raise ConfigError(f"Model: unexpected argument(s) {', '.join(sorted(kwargs))}")
        if inputs is None or outputs is None:
            raise ConfigError("Model: give both inputs and outputs, as tuinet.Model(inputs, outputs)")
        super().__init__(name=name or "functional", seed=seed, trainable=trainable)
        self._inputs, self._input_kind, self._input_keys = _flatten(inputs, "inputs")
        self._outputs, self._output_kind, self._output_keys = _flatten(outputs, "outputs")
        for t in self._inputs:
            if not isinstance(t.node.layer, InputLayer):
                raise ConfigError(f"Model: inputs must come from tuinet.Input(...); {t.name} is the output of layer "
                                  f"{t.node.layer.name!r}")
        if len({id(t) for t in self._inputs}) != len(self._inputs):
            raise ConfigError("Model: the same input tensor is listed twice in inputs")
        self._nodes, self._layers = _walk(self._outputs, self._inputs)
        taken: set[str] = set()
        for layer in sorted(self._layers, key=lambda lay: bool(lay.__dict__.get("_auto_named"))):
            if layer.name in taken:
                if not layer.__dict__.get("_auto_named"):
                    raise ConfigError(f"Model: two different layers are both named {layer.name!r}; layer names must "
                                      "be unique")
                base, i = layer.name, 0
                while layer.name in taken:  # a name given automatically by another model: pick a free one
                    i += 1
                    layer.name = f"{base}_{i}"
            taken.add(layer.name)
        self._layer_nodes: dict[int, list[Node]] = {}
        for node in self._nodes:
            self._layer_nodes.setdefault(id(node.layer), []).append(node)
        self._output_names = self._output_keys or self._unique_output_names()
        self._input_names = self._input_keys or [t.node.layer.name for t in self._inputs]
        self._input_shape = _batchless(self._inputs[0])
        self._input_name = self._inputs[0].node.layer.name
        self._losses = None
        self._loss_weights = None
        self._output_losses = [0.0] * len(self._outputs)
        self._fused = [None] * len(self._outputs)
        seen_leaves: dict[int, object] = {}
        for leaf, _ in self._leaves():
            if id(leaf) in seen_leaves:
                raise ConfigError(f"Model: layer {leaf.name!r} is used both inside a nested model and elsewhere in "
                                  "this graph; tuinet shares a layer between calls in one graph, not across models")
            seen_leaves[id(leaf)] = leaf
        for layer in self._layers:
            if isinstance(layer, Sequential) and len(self._layer_nodes[id(layer)]) > 1:
                raise ConfigError(f"Model: the model {layer.name!r} is called {len(self._layer_nodes[id(layer)])} "
                                  "times in this graph; tuinet shares layers, not whole models, between calls")
        self._before_build = _before_build
        self.build()
        self._before_build = None

    def _unique_output_names(self) -> list[str]:
        names = []
        for t in self._outputs:
            base = t.node.layer.name
            name, i = base, 0
            while name in names:
                i += 1
                name = f"{base}_{i}"
            names.append(name)
        return names

    # ------------------------------------------------------------------ structure
    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._outputs)

    @property
    def input(self):
        return self._structure(self._inputs, self._input_kind, self._input_keys)

    @property
    def output(self):
        return self._structure(self._outputs, self._output_kind, self._output_keys)

    @property
    def input_names(self) -> list[str]:
        return list(self._input_names)

    @property
    def output_names(self) -> list[str]:
        return list(self._output_names)

    @staticmethod
    def _structure(items: list, kind: str, keys):
        if kind == "single":
            return items[0]
        if kind == "dict":
            return dict(zip(keys, items))
        return list(items)

    def _structured(self, outputs):
        if not isinstance(outputs, list):
            return outputs
        return self._structure(outputs, self._output_kind, self._output_keys)

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def add(self, layer) -> None:
        raise ConfigError("add: only Sequential models grow layer by layer; build a functional model from "
                          "Input(...) and layer calls")

    def pop(self, rebuild: bool = True):
        raise ConfigError("pop: only Sequential models can remove their last layer; for a functional model, "
                          "make a new Model from the tensors you want, e.g. Model(m.inputs, m.layers[-2].output)")

    # ------------------------------------------------------------------ building
    def build(self, input_shape=None) -> None:
        self._check_memory(None)
        for node in self._nodes:
            layer = node.layer
            if isinstance(layer, InputLayer) or layer.built:
                continue
            shape = [_batchless(t) for t in node.inputs] if node.listed else _batchless(node.inputs[0])
            if getattr(self, "_before_build", None) is not None:
                self._before_build(layer, shape)
            try:
                layer.build_for(shape, self._init_rng)
            except ShapeError as exc:
                raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}) cannot take input of shape "
                                 f"{', '.join(_fmt_shape(t.shape) for t in node.inputs)}: {exc}") from None
        self.built = True
        self._bind_flat()

    def _layer_inputs(self, shape=None):
        """`(layer, the sample shape(s) its first call gets)` for each layer still to build."""
        for node in self._nodes:
            layer = node.layer
            if isinstance(layer, InputLayer) or layer.built or self._layer_nodes[id(layer)][0] is not node:
                continue
            yield layer, [_batchless(t) for t in node.inputs] if node.listed else _batchless(node.inputs[0])

    def reset_weights(self) -> None:
        from tuinet.nn.random import model_streams

        self._init_rng, self._fit_rng = model_streams(self.seed)
        for layer in self._layers:
            if not isinstance(layer, InputLayer):
                layer.built = False
        self.build()
        if self.optimizer is not None:
            self.optimizer.reset()

    def _set_input_grads(self) -> None:
        """Which calls must produce dL/dx: those with trainable weights somewhere upstream; and one
        executor per call (the layer itself, or a shallow copy for each call of a shared layer)."""
        carries: set[int] = {id(t) for t in self._inputs} if self._input_grad_base else set()
        needs: dict[int, bool] = {}
        for node in self._nodes:
            layer = node.layer
            need = any(id(t) in carries for t in node.inputs)
            trainable_here = bool(layer.params) and layer.trainable and self.trainable
            if need or trainable_here:
                carries.update(id(t) for t in node.outputs)
            needs[id(node)] = need
        self._executors = {}
        self._shared = []
        for layer in self._layers:
            nodes = self._layer_nodes[id(layer)]
            if isinstance(layer, InputLayer):
                self._executors[id(nodes[0])] = layer
                continue
            if len(nodes) == 1:
                layer.needs_input_grad = needs[id(nodes[0])]
                self._executors[id(nodes[0])] = layer
                continue
            layer.needs_input_grad = any(needs[id(n)] for n in nodes)
            copies = []
            for node in nodes:
                ex = copy.copy(layer)
                ex.grads = {k: np.zeros_like(v) for k, v in layer.grads.items()}
                ex.needs_input_grad = needs[id(node)]
                self._executors[id(node)] = ex
                copies.append(ex)
            self._shared.append((layer, copies))
        self._backward_stop = 0
        self._fusable = self._fusable_outputs()

    def _fusable_outputs(self) -> list[bool]:
        """Which outputs come straight from a layer with a fusable activation, called once, whose
        output feeds nothing else (then its loss can take the pre-activation `z`)."""
        consumed = {id(t) for node in self._nodes for t in node.inputs}
        result = []
        for t in self._outputs:
            layer = t.node.layer
            ok = (not isinstance(layer, InputLayer) and getattr(layer, "activation", None) is not None
                  and type(layer).backward_linear is not Layer.backward_linear
                  and len(self._layer_nodes[id(layer)]) == 1 and id(t) not in consumed
                  and sum(1 for o in self._outputs if o is t) == 1 and len(t.node.outputs) == 1)
            result.append(ok)
        return result

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs) -> None:
        weighted_metrics = kwargs.pop("weighted_metrics", None)
        unsupported = set(kwargs) - {"run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss"}
        if unsupported:
            raise ConfigError(f"compile: unexpected argument(s) {', '.join(sorted(unsupported))}")
        if loss is None:
            raise ConfigError("compile: a loss is required, e.g. loss='mse' or "
                              f"loss='sparse_categorical_crossentropy'; choose from {', '.join(losses_module.names())}")
        names = self._output_names
        per_loss = _by_output(loss, names, "loss", single_ok=True)
        if all(spec is None for spec in per_loss):
            raise ConfigError("compile: every output has no loss; give at least one")
        losses = [None if spec is None else losses_module.get(spec) for spec in per_loss]
        # evaluate lists the output losses in the order of a loss dict, else in output order (Keras)
        self._loss_order = [str(k) for k in loss] if isinstance(loss, dict) else list(names)
        weights = [1.0] * len(names) if loss_weights is None else _by_output(loss_weights, names, "loss_weights",
                                                                           single_ok=False)
        checked = []
        for name, w in zip(names, weights):
            w = 1.0 if w is None else w
            if isinstance(w, bool) or not isinstance(w, (int, float, np.floating, np.integer)) or not math.isfinite(w):
                raise ConfigError(f"compile: loss_weights for output {name!r} must be a number, got {w!r}")
            checked.append(float(w))
        metric_specs = [[] for _ in names] if metrics is None else _by_output(metrics, names, "metrics",
                                                                            single_ok=False)
        weighted_specs = [[] for _ in names] if weighted_metrics is None else _by_output(
            weighted_metrics, names, "weighted_metrics", single_ok=False)
        per_metrics = []
        for name, specs in zip(names, metric_specs):
            specs = [] if specs is None else [specs] if isinstance(specs, (str, metrics_module.Metric)) else specs
            if not isinstance(specs, (list, tuple)):
                raise ConfigError(f"compile: metrics for output {name!r} must be a list such as ['accuracy'], "
                                  f"got {specs!r}")
            for spec in specs:
                if not (isinstance(spec, str) and spec.lower() in ("accuracy", "acc")):
                    metrics_module.require_scalar(metrics_module.get(spec))
            per_metrics.append(list(specs))
        per_weighted = []
        for name, specs in zip(names, weighted_specs):
            specs = [] if specs is None else [specs] if isinstance(specs, (str, metrics_module.Metric)) else specs
            if not isinstance(specs, (list, tuple)):
                raise ConfigError(f"compile: weighted_metrics for output {name!r} must be a list such as ['accuracy'], "
                                  f"got {specs!r}")
            for spec in specs:
                if not (isinstance(spec, str) and spec.lower() in ("accuracy", "acc")):
                    metrics_module.require_scalar(metrics_module.get(spec))
            per_weighted.append(list(specs))
        self._per_output_weighted = per_weighted
        self.optimizer = optimizers_module.get(optimizer)
        self._losses = losses
        self.loss = next(lo for lo in losses if lo is not None) if len(losses) == 1 else losses
        self._loss_weights = checked
        self._metric_specs = per_metrics[0] if len(names) == 1 else per_metrics
        self._per_output_metrics = per_metrics
        self._compile_args = {"loss": per_loss if len(names) > 1 else per_loss[0], "loss_weights": loss_weights,
                              "metrics": metrics, "weighted_metrics": weighted_metrics}
        self._train_metrics = self._eval_metrics = None

    @property
    def compiled(self) -> bool:
        return self.optimizer is not None and self._losses is not None

    @property
    def metrics_names(self) -> list[str]:
        if self._train_metrics is not None:
            return ["loss"] + [m.name for m in self._train_metrics]
        return ["loss"]

    def _eval_order(self) -> list[str]:
        order = {f"{name}_loss": i for i, name in enumerate(self._loss_order)}
        losses = sorted((m.name for m in self._eval_metrics if isinstance(m, _OutputLoss)),
                        key=lambda name: order.get(name, len(order)))
        rest = sorted(m.name for m in self._eval_metrics if not isinstance(m, _OutputLoss))
        return ["loss"] + losses + rest

    # ------------------------------------------------------------------ data
    def _arrange(self, data, kind: str, names: list[str], what: str, where: str) -> list:
        """Data for the inputs (or targets) as one entry per input (output), in model order."""
        n = len(names)
        if isinstance(data, dict):
            keys = [str(k) for k in data]
            missing = [k for k in names if k not in keys]
            extra = [k for k in keys if k not in names]
            if missing or extra:
                raise ConfigError(f"{where}: {what} is a dict with keys {', '.join(keys) or 'none'}; the model's "
                                  f"{'inputs' if what == 'x' else 'outputs'} are {', '.join(names)}")
            return [data[k] if k in data else next(v for kk, v in data.items() if str(kk) == k) for k in names]
        if isinstance(data, (list, tuple)) and n > 1:
            if len(data) != n:
                raise ConfigError(f"{where}: {what} has {len(data)} entries but the model has {n} "
                                  f"{'inputs' if what == 'x' else 'outputs'} ({', '.join(names)})")
            return list(data)
        if n > 1:
            raise ConfigError(f"{where}: the model has {n} {'inputs' if what == 'x' else 'outputs'} "
                              f"({', '.join(names)}): give {what} as a list or a dict by name")
        if isinstance(data, (list, tuple)) and len(data) == 1 and isinstance(data[0], np.ndarray):
            return [data[0]]
        return [data]

    def _check_x(self, x, where: str) -> list[np.ndarray]:
        if x is None:
            raise ConfigError(f"{where}: x is required")
        parts = self._arrange(x, self._input_kind, self._input_names, "x", where)
        arrays = []
        for t, name, part in zip(self._inputs, self._input_names, parts):
            label = "x" if len(parts) == 1 else f"x[{name!r}]"
            try:
                arr = np.asarray(part)
            except (ValueError, TypeError) as exc:
                raise ShapeError(f"{where}: {label} cannot be made into an array ({exc}); rows must all have the "
                                 "same length")
            if arr.dtype.kind not in "biuf":
                raise ShapeError(f"{where}: {label} must be numeric, got an array of dtype {arr.dtype}")
            if arr.ndim < 1 or arr.shape[0] == 0:
                raise ShapeError(f"{where}: {label} is empty (shape {arr.shape})")
            expected = _batchless(t)
            if arr.ndim == 1 and expected == (1,):
                arr = arr.reshape(-1, 1)
            if len(expected) != arr.ndim - 1 or not all(e is None or e == a for e, a in zip(expected, arr.shape[1:])):
                raise ShapeError(f"{where}: input {name!r} expects data of shape {_fmt_shape(t.shape)}, got "
                                 f"{_fmt_shape((None, *arr.shape[1:]))}")
            if arr.dtype.kind in "biu" and (t.dtype.startswith("int") or self._feeds_ids(t)):
                arrays.append(np.ascontiguousarray(arr))
                continue
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise ShapeError(f"{where}: {label} contains NaN or infinite values; clean or impute the data first")
            arrays.append(np.ascontiguousarray(arr, dtype=t.dtype if t.dtype.startswith("float")
                                               else backend.floatx()))
        counts = {a.shape[0] for a in arrays}
        if len(counts) > 1:
            raise ShapeError(f"{where}: the inputs have different numbers of samples: "
                             + ", ".join(f"{n} {a.shape[0]}" for n, a in zip(self._input_names, arrays)))
        return arrays

    def _feeds_ids(self, tensor) -> bool:
        return any(_takes_ids(node.layer) and node.inputs[0] is tensor for node in self._nodes)

    def _target_arrays(self, y):
        if y is None:
            return None
        parts = self._arrange(y, self._output_kind, self._output_names, "y", "fit")
        return [np.asarray(p) for p in parts]

    def _check_y(self, y, x, where: str) -> list[np.ndarray]:
        if y is None:
            raise ConfigError(f"{where}: y (the targets) is required")
        parts = self._arrange(y, self._output_kind, self._output_names, "y", where)
        n = x[0].shape[0]
        out = []
        for t, name, loss, part in zip(self._outputs, self._output_names, self._losses, parts):
            what = "y" if len(parts) == 1 else f"y[{name!r}]"
            if loss is None:
                arr = np.asarray(part) if part is not None else np.zeros((n, 0), backend.floatx())
                out.append(arr)
                continue
            out.append(check_targets(part, n, _batchless(t), loss, where, what))
        return out

    def _prepare(self, x, y=None, where: str = "fit"):
        if not self.compiled:
            raise NotBuiltError(f"{where}: call model.compile(optimizer=..., loss=...) first")
        self._rebind_if_stale()
        if self._train_metrics is None and y is not None:
            multi = len(self._outputs) > 1
            y = [np.shape(part) for part in self._arrange(y, self._output_kind, self._output_names, "y", where)]

            def resolve():
                made = []
                if multi:
                    made += [_OutputLoss(self, i, f"{name}_loss") for i, name in enumerate(self._output_names)
                             if self._losses[i] is not None]
                weighted = getattr(self, "_per_output_weighted", [[] for _ in self._outputs])
                for i, (t, name, specs) in enumerate(zip(self._outputs, self._output_names, self._per_output_metrics)):
                    plain = set()
                    for spec in specs:
                        metric = metrics_module.get(spec, y_true_shape=y[i], y_pred_shape=t.shape,
                                                    loss=self._losses[i])
                        plain.add(metric.name)
                        made.append(_OutputMetric(metric, i, f"{name}_{metric.name}" if multi else metric.name, self))
                    for spec in weighted[i]:  # Keras: "weighted_<name>" beside a plain metric of that name
                        metric = metrics_module.get(spec, y_true_shape=y[i], y_pred_shape=t.shape,
                                                    loss=self._losses[i])
                        core = f"weighted_{metric.name}" if metric.name in plain else metric.name
                        made.append(_OutputMetric(metrics_module.Weighted(metric, core), i,
                                                  f"{name}_{core}" if multi else core, self))
                return made

            self._train_metrics, self._eval_metrics = resolve(), resolve()
            self._loss_tracker = metrics_module.Mean(name="loss")
            self._eval_loss_tracker = metrics_module.Mean(name="loss")
        self._fused = [None] * len(self._outputs)
        for i, t in enumerate(self._outputs):
            if self._fusable[i] and self._losses[i] is not None:
                self._fused[i] = self._losses[i].logits_twin(t.node.layer.activation.name)

    def _input_hint(self, x) -> str | None:
        if len(x) != 1:
            return None
        return _scale_hint([n.layer for n in self._nodes if n.inputs and n.inputs[0] is self._inputs[0]], x[0])

    # ------------------------------------------------------------------ passes
    def _forward(self, x, training: bool):
        xs = x if isinstance(x, list) else [x]
        values: dict[int, np.ndarray] = {}
        masks: dict[int, np.ndarray | None] = {}
        for t, arr in zip(self._inputs, xs):
            values[id(t)] = arr
            masks[id(t)] = None
        executors = self._executors
        for node in self._nodes:
            if not node.inputs:
                continue
            ex = executors[id(node)]
            train = training if node.training is None else (training and node.training)
            if node.listed:
                args = [values[id(t)] for t in node.inputs]
                out = ex.forward(args, training=train)
                mask = None
            else:
                arg = values[id(node.inputs[0])]
                mask = masks.get(id(node.inputs[0]))
                extra = {"mask": mask} if mask is not None and ex.consumes_mask else {}
                if node.state_inputs:
                    extra["initial_state"] = [values[id(t)] for t in node.inputs[1:]]
                out = ex.forward(arg, training=train, **extra)
                mask = ex.compute_mask(arg, mask)
            if len(node.outputs) > 1:
                outs = [out, *ex._states] if getattr(ex, "return_state", False) else list(out)
            else:
                outs = [out]
            for t, v in zip(node.outputs, outs):
                values[id(t)] = v
                masks[id(t)] = mask if t.index == 0 else None
        self._output_masks = [masks.get(id(t)) for t in self._outputs]
        return [values[id(t)] for t in self._outputs]

    def _loss_and_grad(self, y, out, need_grad: bool, sample_weight=None):
        from tuinet.nn.model import _mask_weights

        total = 0.0
        grads = []
        for i, (loss_fn, weight) in enumerate(zip(self._losses, self._loss_weights)):
            if loss_fn is None:
                grads.append(None)
                self._output_losses[i] = 0.0
                continue
            o, yi = out[i], y[i]
            sw = sample_weight
            mask = self._output_masks[i]
            if mask is not None and o.ndim == mask.ndim + 1 and o.shape[:mask.ndim] == mask.shape:
                sw = _mask_weights(mask, sw)
            kw = {} if sw is None else {"sample_weight": sw}
            fused = self._fused[i]
            if fused is not None:
                z = self._executors[id(self._outputs[i].node)]._z
                if z.shape != o.shape:
                    z = z.reshape(o.shape)
                value, grad = fused.value_and_gradient(yi, z, **kw) if need_grad else (fused(yi, z, **kw), None)
            elif need_grad:
                value, grad = loss_fn.value_and_gradient(yi, o, **kw)
            else:
                value, grad = loss_fn(yi, o, **kw), None
            value = float(value)
            self._output_losses[i] = value
            total += weight * value
            if grad is not None and weight != 1.0:
                grad = grad * weight
            grads.append(grad)
        for layer in self._regularized:
            total += layer.regularization_loss()
        return total, grads

    def _backward(self, grads) -> None:
        for layer, copies in self._shared:
            for ex in copies:
                for g in ex.grads.values():
                    g[...] = 0
        pending: dict[int, np.ndarray] = {}
        fused_at: dict[int, np.ndarray] = {}
        for i, (t, g) in enumerate(zip(self._outputs, grads)):
            if g is None:
                continue
            if self._fused[i] is not None:
                fused_at[id(t.node)] = g
            else:
                self._accumulate(pending, t, g)
        executors = self._executors
        for node in reversed(self._nodes):
            if not node.inputs:
                continue
            ex = executors[id(node)]
            key = id(node)
            if key in fused_at:
                grad_in = ex.backward_linear(fused_at[key])
            else:
                g = pending.pop(id(node.outputs[0]), None)
                extra = [pending.pop(id(t), None) for t in node.outputs[1:]]
                with_states = any(e is not None for e in extra)
                if g is None and not with_states:
                    continue
                if with_states or node.state_inputs:  # a recurrent call that returns or takes states
                    n_states = 2 if type(ex).__name__ == "LSTM" else 1
                    grad_in, state_grads = ex.backward_with_states(g, extra if extra else [None] * n_states)
                    for t, gs in zip(node.inputs[1:], state_grads or []):
                        if gs is not None:
                            self._accumulate(pending, t, gs)
                    if grad_in is not None and ex.needs_input_grad:
                        self._accumulate(pending, node.inputs[0], grad_in)
                    continue
                grad_in = ex.backward(g)
            if grad_in is None or not ex.needs_input_grad:
                continue
            if node.listed:
                for t, gi in zip(node.inputs, grad_in):
                    if gi is not None:
                        self._accumulate(pending, t, gi)
            else:
                self._accumulate(pending, node.inputs[0], grad_in)
        for layer, copies in self._shared:
            for k, g in layer.grads.items():
                g[...] = copies[0].grads[k]
                for ex in copies[1:]:
                    g += ex.grads[k]
        return pending

    def _evaluate_arrays(self, x, y, batch_size: int, sample_weight=None, cbl=None) -> dict:
        """As Sequential's, also for one input and one output given as plain arrays."""
        x = x if isinstance(x, list) else [x]
        y = y if isinstance(y, list) else [y]
        return super()._evaluate_arrays(x, y, batch_size, sample_weight, cbl)

    @staticmethod
    def _accumulate(pending: dict, tensor, grad) -> None:
        key = id(tensor)
        have = pending.get(key)
        pending[key] = grad if have is None else have + grad

    # ------------------------------------------------------------------ train / evaluate
    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict: bool = False):
        if class_weight is not None and len(self._outputs) > 1:
            raise ConfigError("train_on_batch: class_weight is not supported for models with several outputs")
        return super().train_on_batch(x, y, sample_weight, class_weight, return_dict)

    def make_train_loop(self, x, y, *, batch_size: int = 32, shuffle: bool = True, validation_data=None,
                        where: str = "train", sample_weight=None, class_weight=None):
        if class_weight is not None and len(self._outputs) > 1:
            raise ConfigError(f"{where}: class_weight is not supported for models with several outputs; "
                              "use sample_weight")
        return super().make_train_loop(x, y, batch_size=batch_size, shuffle=shuffle, validation_data=validation_data,
                                       where=where, sample_weight=sample_weight, class_weight=class_weight)

    def __call__(self, x, training: bool | None = None, **kwargs):
        if is_symbolic(x):
            return symbolic_call(self, x, training=training, **kwargs)
        if kwargs:
            raise ConfigError(f"model {self.name!r}: unexpected call argument(s) {', '.join(sorted(kwargs))}")
        xs = self._check_x(x, "call")
        return self._structured([o.copy() for o in self._forward(xs, bool(training))])

    # -- a model used as a layer (one input, one output) -------------------------------------
    @classmethod
    def default_name(cls) -> str:
        return "functional"

    def _as_layer(self) -> None:
        if len(self._inputs) != 1 or len(self._outputs) != 1:
            raise ConfigError(f"model {self.name!r} has {len(self._inputs)} inputs and {len(self._outputs)} outputs; "
                              "tuinet nests models with one input and one output")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        self._as_layer()
        if not all(e is None or e == a for e, a in zip(_batchless(self._inputs[0]), input_shape)) \
                or len(input_shape) != len(self._inputs[0].shape) - 1:
            raise ShapeError(f"model {self.name!r} expects inputs of shape {_fmt_shape(self._inputs[0].shape)}")
        return _batchless(self._outputs[0])

    def _sample_output_shape(self) -> tuple:
        return _batchless(self._outputs[0])

    def build_for(self, input_shape: tuple, rng=None) -> tuple:
        return self.compute_output_shape(tuple(input_shape))

    def weight_specs(self, input_shape: tuple) -> list:
        return []

    def forward(self, x, *, training: bool = False, mask=None):
        return self._forward([x], training)[0]

    def backward(self, grad_out):
        pending = self._backward([grad_out])
        return pending.get(id(self._inputs[0])) if self._input_grad_base else None

    def predict_on_batch(self, x):
        xs = self._check_x(x, "predict_on_batch")
        return self._structured([o.copy() for o in self._forward(xs, False)])


    # ------------------------------------------------------------------ summary
    def summary_text(self) -> str:
        rows = []
        for layer in self._layers:
            nodes = self._layer_nodes[id(layer)]
            shapes = [_fmt_shape(t.shape) for n in nodes[:1] for t in n.outputs]
            shape = shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"
            params = f"{layer.count_params():,}" if layer.built or isinstance(layer, InputLayer) else "0 (unbuilt)"
            links = []
            for node in nodes:
                for t in node.inputs:
                    links.append(f"{t.node.layer.name}[{self._node_index(t.node)}][{t.index}]")
            links = [link + ("," if i < len(links) - 1 else "") for i, link in enumerate(links)] or ["-"]
            rows.append((f"{layer.name} ({getattr(layer, '_shown_class', type(layer).__name__)})", shape, params,
                         links))
        if self._sequential_like():  # Keras leaves out "Connected to" for a plain chain
            rows = [row[:3] for row in rows]
        return "\n".join([f'Model: "{self.name}"', *summary_table(rows), *self._totals()])

    def _sequential_like(self) -> bool:
        """Keras's test for printing a graph as a stack: one input, one output, every call takes at
        most one tensor, no layer is called twice and no tensor feeds two calls."""
        if len(self._inputs) != 1 or len(self._outputs) != 1 or len(self._nodes) != len(self._layers):
            return False
        used = [id(t) for node in self._nodes for t in node.inputs]
        return all(len(node.inputs) <= 1 for node in self._nodes) and len(used) == len(set(used))

    def _totals(self) -> list[str]:
        return param_totals(self)

    def _node_index(self, node: Node) -> int:
        """The call's index among the calls of its layer inside this model (Keras's node index)."""
        return self._layer_nodes[id(node.layer)].index(node)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        from tuinet.nn.layers import serialize as serialize_layer

        def tensor(t):
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(t.shape), "dtype": t.dtype,
                               "keras_history": [t.node.layer.name, self._node_index(t.node), t.index]}}

        layers = []
        for layer in self._layers:
            spec = serialize_layer(layer) if not isinstance(layer, InputLayer) else \
                {"class_name": "InputLayer", "config": layer.get_config()}
            nodes = []
            for node in self._layer_nodes[id(layer)]:
                if isinstance(layer, InputLayer):
                    continue
                main = node.inputs[:len(node.inputs) - node.state_inputs]
                args = [tensor(t) for t in main]
                kwargs = {} if node.training is None else {"training": node.training}
                if node.state_inputs:
                    kwargs["initial_state"] = [tensor(t) for t in node.inputs[len(main):]]
                if getattr(layer, "_causal", False):
                    kwargs["use_causal_mask"] = True
                nodes.append({"args": [args] if node.listed else args, "kwargs": kwargs})
            layers.append({**spec, "name": layer.name, "inbound_nodes": nodes})

        def refs(tensors, keys):
            items = [[t.node.layer.name, self._node_index(t.node), t.index] for t in tensors]
            return dict(zip(keys, items)) if keys else items

        return {"name": self.name, "trainable": self.trainable,
                "seed": self._user_seed if self._user_seed is not None else self.seed,
                "layers": layers, "input_layers": refs(self._inputs, self._input_keys),
                "output_layers": refs(self._outputs, self._output_keys),
                "single_input": self._input_kind == "single", "single_output": self._output_kind == "single"}

    @classmethod
    def from_config(cls, config: dict, *, before_build=None) -> "Functional":
        """Rebuild a functional model from `get_config()`'s output (Keras's layout: layers with
        `inbound_nodes`, `input_layers`, `output_layers`). `before_build(layer, input_shape)` runs
        before each layer creates its weights (the model-file loader caps what they may take)."""
        from tuinet.nn.layers import deserialize as deserialize_layer

        if not isinstance(config, dict) or not isinstance(config.get("layers"), list) or not config["layers"]:
            raise ConfigError("Model.from_config: expected a dict with a non-empty 'layers' list")
        created: dict[str, object] = {}
        tensors: dict[tuple, KerasTensor] = {}
        pending = []
        for i, spec in enumerate(config["layers"]):
            if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
                raise ConfigError(f"Model.from_config: layer {i} must be an object with class_name and config")
            name = spec.get("name") or spec["config"].get("name")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"Model.from_config: layer {i} has no name")
            if name in created:
                raise ConfigError(f"Model.from_config: two layers are named {name!r}")
            if spec.get("class_name") == "InputLayer":
                cfg = dict(spec["config"])
                cfg["name"] = name
                layer = InputLayer.from_config(cfg)
                tensors[(name, 0, 0)] = layer.output
            else:
                layer = deserialize_layer({"class_name": spec.get("class_name"), "config": spec["config"]})
                layer.name = name
                nodes = spec.get("inbound_nodes") or []
                if not isinstance(nodes, list):
                    raise ConfigError(f"Model.from_config: layer {name!r}: inbound_nodes must be a list")
                pending.append([layer, list(nodes), 0])
            created[name] = layer

        def resolve(arg):
            if isinstance(arg, list):
                return [resolve(a) for a in arg]
            if not (isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__"):
                raise ConfigError(f"Model.from_config: a layer call argument must be a tensor reference, got "
                                  f"{_describe(arg)}")
            hist = (arg.get("config") or {}).get("keras_history")
            if not (isinstance(hist, list) and len(hist) == 3):
                raise ConfigError("Model.from_config: a tensor reference needs keras_history [layer, node, index]")
            return tensors.get(tuple(hist))

        progress = True
        while pending and progress:
            progress = False
            for entry in pending:
                layer, nodes, done = entry
                while done < len(nodes):
                    node = nodes[done]
                    if not isinstance(node, dict) or not isinstance(node.get("args"), list) or not node["args"]:
                        raise ConfigError(f"Model.from_config: layer {layer.name!r}: a node needs args")
                    args = resolve(node["args"][0]) if len(node["args"]) == 1 else resolve(node["args"])
                    flat = args if isinstance(args, list) else [args]
                    if any(a is None for a in flat):
                        break
                    kwargs = node.get("kwargs") or {}
                    if not isinstance(kwargs, dict) or set(kwargs) - {"training", "mask", "initial_state", "key",
                                                                     "use_causal_mask"}:
                        raise ConfigError(f"Model.from_config: layer {layer.name!r}: unsupported call arguments "
                                          f"{sorted(kwargs) if isinstance(kwargs, dict) else kwargs!r}")
                    call = {}
                    if kwargs.get("initial_state") is not None:
                        states = resolve(kwargs["initial_state"])
                        states = states if isinstance(states, list) else [states]
                        if any(t is None for t in states):
                            break
                        call["initial_state"] = states
                    if kwargs.get("key") is not None:  # Keras writes an attention layer's key as a keyword
                        key = resolve(kwargs["key"])
                        if key is None:
                            break
                        call["key"] = key
                    if kwargs.get("use_causal_mask"):
                        call["use_causal_mask"] = True
                    out = layer(args, training=kwargs.get("training"), **call)
                    outs = out if isinstance(out, list) else [out]
                    for j, t in enumerate(outs):
                        tensors[(layer.name, done, j)] = t
                    done += 1
                    progress = True
                entry[2] = done
            pending = [e for e in pending if e[2] < len(e[1])]
        if pending:
            raise ConfigError(f"Model.from_config: the calls of layer {pending[0][0].name!r} use tensors no layer makes")

        def pick(refs, what):
            if isinstance(refs, dict):
                return {k: pick_one(v, what) for k, v in refs.items()}
            if not isinstance(refs, list) or not refs:
                raise ConfigError(f"Model.from_config: {what} must be a non-empty list")
            if len(refs) == 3 and isinstance(refs[0], str):
                return pick_one(refs, what)
            return [pick_one(r, what) for r in refs]

        def pick_one(ref, what):
            t = tensors.get(tuple(ref)) if isinstance(ref, list) else None
            if t is None:
                raise ConfigError(f"Model.from_config: {what} refers to {ref!r}, which no layer makes")
            return t

        inputs = pick(config.get("input_layers"), "input_layers")
        outputs = pick(config.get("output_layers"), "output_layers")
        if isinstance(inputs, list) and len(inputs) == 1 and config.get("single_input", True):
            inputs = inputs[0]
        if isinstance(outputs, list) and len(outputs) == 1 and config.get("single_output", True):
            outputs = outputs[0]
        return cls(inputs, outputs, name=config.get("name"), seed=config.get("seed"),
                   trainable=config.get("trainable", True), _before_build=before_build)

    def to_json(self, **kwargs) -> str:
        return json.dumps({"class_name": "Functional", "config": self.get_config()}, **kwargs)

    def compile_config(self) -> dict | None:
        if not self.compiled:
            return None
        args = self._compile_args

        def ser_loss(spec):
            if spec is None:
                return None
            return losses_module.serialize(losses_module.get(spec))

        loss = args["loss"]
        loss = [ser_loss(s) for s in loss] if isinstance(loss, list) else ser_loss(loss)

        def ser_metrics(specs):
            if specs is None:
                return None
            if isinstance(specs, dict):
                return {k: ser_metrics(v) for k, v in specs.items()}
            if isinstance(specs, (list, tuple)):
                return [ser_metrics(s) for s in specs]
            return specs if isinstance(specs, str) else metrics_module.serialize(specs)

        return {"optimizer": optimizers_module.serialize(self.optimizer), "loss": loss,
                "loss_weights": args["loss_weights"], "metrics": ser_metrics(args["metrics"]),
                **({"weighted_metrics": ser_metrics(args["weighted_metrics"])}
                   if args.get("weighted_metrics") is not None else {})}

    def __repr__(self) -> str:
        return f"<Functional name={self.name!r} layers={[lay.name for lay in self._layers]}>"


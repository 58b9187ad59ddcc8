"""Layer specs: the one place that turns a layer description into a layer, and a model back into descriptions.

A layer spec is the plain dict a preset holds and the app edits:

    {"type": "Dense", "units": 16, "activation": "relu"}
    {"type": "Add", "name": "skip", "inputs": ["input", "hidden"]}     # the graph form

A list of specs is a stack (each layer takes the previous one's output) unless some spec names
its `inputs` (earlier layers' names, or "input" for the data): then it is a graph, built as a
functional model whose output is the last layer's. The preset loader, the app (architecture
pane, layer editor, runs' legends), the CLI and loading a model file all go through here.
"""

from __future__ import annotations

import inspect
from typing import Any

from tuinet.errors import ConfigError, TuinetError
from tuinet.nn import layers as layers_module
from tuinet.nn.layers.base import Layer

SHAPE_ARGS = ("input_shape", "kernel_size", "strides", "pool_size", "target_shape", "dilation_rate", "noise_shape",
              "size", "padding", "cropping", "dims")
"""Arguments whose TOML arrays mean tuples."""

_NOT_ARGS = ("type", "inputs")


def tuplify(args: dict) -> dict:
    """TOML arrays become tuples where layer arguments expect shapes (nested ones too: ((1, 1), (2, 2)))."""
    def deep(v):
        return tuple(deep(x) for x in v) if isinstance(v, list) else v

    return {k: deep(v) if isinstance(v, list) and k in SHAPE_ARGS else v for k, v in args.items()}


def layer_class(type_name: str):
    """The layer class for a Keras class name ("Dense", "conv2d"...); a `ConfigError` naming the choices."""
    from tuinet.nn import layers as layers_module

    return layers_module.get(type_name)


def layer_args(spec: dict) -> dict:
    """A spec's constructor arguments (without `type` and `inputs`), tuples where shapes are meant."""
    return tuplify({k: v for k, v in spec.items() if k not in _NOT_ARGS})


def make_layer(spec: dict):
    """A fresh, unbuilt layer from a spec."""
    return layer_class(spec["type"])(**layer_args(spec))


def is_graph(specs) -> bool:
    return any("inputs" in spec for spec in specs)


def make_model(specs, input_shape: tuple, *, seed: int | None = None, name: str = "model"):
    """The model of `specs` for samples of `input_shape`, built: a `Sequential` for a stack, a
    functional model for the graph form."""
    from tuinet.nn.functional import Functional, Input
    from tuinet.nn.model import Sequential

    layers = [make_layer(spec) for spec in specs]
    if not is_graph(specs):
        model = Sequential(layers, seed=seed, name=name)
        model.build(tuple(input_shape))
        return model
    source = Input(tuple(input_shape), name="input")
    tensors = {"input": source}
    previous = source
    for spec, layer in zip(specs, layers):
        names = spec.get("inputs")
        if names is None:
            args = previous
        else:
            missing = [n for n in names if n not in tensors]
            if missing:
                raise ConfigError(f"layer {spec.get('name') or spec['type']!r}: inputs {missing[0]!r} is not an earlier "
                                  "layer's name")
            args = [tensors[n] for n in names]
            if not getattr(layer, "multi_input", False):
                args = args[0]
        previous = layer(args)
        if spec.get("name"):
            tensors[spec["name"]] = previous
    return Functional(source, previous, name=name, seed=seed)


_DROPPED = ("name", "trainable", "dtype", "input_shape")


def specs_of_model(model) -> tuple[dict, ...]:
    """The layer specs of a model (a loaded file, say): a stack's layers in order, or the graph
    form of a functional model with one input and one output, each layer called once.

    Raises:
        ConfigError: a model these specs cannot describe (several inputs or outputs, a layer
            called twice, a nested model), in one line.
    """
    from tuinet.nn.functional import Functional
    from tuinet.nn.layers.input_layer import InputLayer
    from tuinet.nn.model import Sequential

    def spec_of(layer, keep_name: bool = False) -> dict:
        if isinstance(layer, Sequential):
            raise ConfigError(f"model {model.name!r} nests the model {layer.name!r}; the app shows layers, not "
                              "nested models")
        cfg = {k: v for k, v in layer.get_config().items() if k not in _DROPPED or (keep_name and k == "name")}
        return {"type": type(layer).__name__, **cfg}

    if not isinstance(model, Functional):
        return tuple(spec_of(layer) for layer in model.layers)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConfigError(f"model {model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                          "the app trains models with one input and one output")
    names: dict[int, str] = {id(model.inputs[0]): "input"}
    specs = []
    for node in model._nodes:
        layer = node.layer
        if isinstance(layer, InputLayer):
            continue
        if len(model._layer_nodes[id(layer)]) > 1:
            raise ConfigError(f"model {model.name!r} calls layer {layer.name!r} more than once; the app's layer specs "
                              "describe each layer once")
        spec = spec_of(layer, keep_name=True)
        spec["inputs"] = [names[id(t)] for t in node.inputs]
        specs.append(spec)
        for t in node.outputs:
            names[id(t)] = layer.name
    if specs and specs[-1]["name"] != model.outputs[0].node.layer.name:
        raise ConfigError(f"model {model.name!r}: its output is not its last layer's")
    return tuple(specs)


# ------------------------------------------------------------------- describing specs (app, CLI, runs)
HIDDEN_ARGS = frozenset({"name", "dtype", "trainable", "input_shape", "input_dim"})
"""Arguments every layer takes through `Layer.__init__`; the editor leaves them alone."""

NEW_LAYER_DEFAULTS: dict[str, dict] = {
    "Dense": {"units": 16, "activation": "relu"},
    "Activation": {"activation": "relu"},
    "Dropout": {"rate": 0.2},
    "Reshape": {"target_shape": (-1,)},
    "Conv1D": {"filters": 8, "kernel_size": 3, "activation": "relu"},
    "Conv2D": {"filters": 8, "kernel_size": (3, 3), "activation": "relu"},
    "SimpleRNN": {"units": 16},
    "LSTM": {"units": 16},
    "GRU": {"units": 16},
    "Embedding": {"input_dim": 100, "output_dim": 8},
    "RepeatVector": {"n": 2},
    "Permute": {"dims": (2, 1)},
    "GaussianNoise": {"stddev": 0.1},
    "GaussianDropout": {"rate": 0.1},
    "SpatialDropout1D": {"rate": 0.2},
    "SpatialDropout2D": {"rate": 0.2},
    "Rescaling": {"scale": 1.0},
    "DepthwiseConv2D": {"kernel_size": (3, 3), "activation": "relu"},
    "SeparableConv2D": {"filters": 8, "kernel_size": (3, 3), "activation": "relu"},
    "Conv1DTranspose": {"filters": 8, "kernel_size": 3, "activation": "relu"},
    "Conv2DTranspose": {"filters": 8, "kernel_size": (3, 3), "activation": "relu"},
    "RandomContrast": {"factor": 0.2},
    "RandomTranslation": {"height_factor": 0.1, "width_factor": 0.1},
    "RandomRotation": {"factor": 0.1},
    "RandomZoom": {"height_factor": 0.1},
    "AlphaDropout": {"rate": 0.1},
    "CategoryEncoding": {"num_tokens": 10},
}
"""Values for the required arguments of a freshly added layer."""

_EMPTY = inspect.Parameter.empty


def format_value(value: Any) -> str:
    """The text a field shows for a value; `parse_literal` reads it back."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        items = ", ".join(format_value(v) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def layer_params(cls: type[Layer]) -> list[inspect.Parameter]:
    """The editable constructor arguments of a layer type, in signature order.

    The arguments every layer inherits from `Layer` (name, dtype, trainable, input_shape,
    input_dim) are left out, but a layer's own argument of the same name (Embedding's
    `input_dim`, its vocabulary size) is kept.
    """
    out: list[inspect.Parameter] = []
    seen: set[str] = set()
    for klass in cls.__mro__:
        if klass is Layer or "__init__" not in vars(klass):
            continue
        for p in inspect.signature(klass.__init__).parameters.values():
            if p.name == "self" or p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                continue
            if p.name in seen or (p.name in HIDDEN_ARGS and p.name != "input_dim"):
                continue
            seen.add(p.name)
            out.append(p)
    return out


def layer_summary(cls: type[Layer]) -> str:
    """The first line of a layer type's docstring, for pickers."""
    doc = inspect.getdoc(cls) or ""
    first = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    return first.replace("`", "")


def new_layer_spec(type_name: str) -> dict:
    """A spec for a freshly added layer of `type_name`: its type plus the required arguments."""
    cls = layers_module.get(type_name)
    return {"type": cls.__name__, **NEW_LAYER_DEFAULTS.get(cls.__name__, {})}


def _short(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "x".join(_short(v) for v in value)
    if isinstance(value, dict):
        return str(value.get("name", "?"))
    return format_value(value)


def describe_layer(spec: dict) -> str:
    """A one-line description of a layer spec: `Dense 16 relu`, `Conv2D 8 3x3 same relu`."""
    kind = spec.get("type", "?")
    try:
        cls = layers_module.get(kind)
    except TuinetError:
        return str(kind)
    parts = [cls.__name__]
    params = {p.name: p for p in layer_params(cls)}
    if cls.__name__ == "Embedding":
        parts.append(f"{_short(spec.get('input_dim', '?'))}→{_short(spec.get('output_dim', '?'))}")
    else:
        for name, p in params.items():
            if p.default is _EMPTY and name != "activation":
                parts.append(_short(spec.get(name, "?")))
    if "pool_size" in params:
        parts.append(_short(spec.get("pool_size", params["pool_size"].default)))
    strides = spec.get("strides")
    if strides is not None and _short(strides).strip("1x") != "":
        parts.append(f"/{_short(strides)}")
    if spec.get("padding") == "same":
        parts.append("same")
    if "activation" in params:
        act = spec.get("activation", params["activation"].default)
        if isinstance(act, str) and act.lower() not in ("linear", "none") and not (
                act.lower() == "tanh" and params["activation"].default == "tanh"):
            parts.append(act.lower())
        elif isinstance(act, dict):
            parts.append(str(act.get("name", "?")))
    if spec.get("return_sequences"):
        parts.append("seq")
    if spec.get("kernel_regularizer") is not None:
        parts.append("+L2" if _l2_factor(spec["kernel_regularizer"]) is not None else "+reg")
    return " ".join(parts)


def _l2_factor(value: Any) -> float | None:
    """The L2 factor of a regularizer spec that is a plain L2 penalty, else None."""
    if isinstance(value, str) and value.lower() == "l2":
        return 0.01
    if isinstance(value, dict) and str(value.get("name", "")).lower() == "l2":
        factor = (value.get("config") or {}).get("l2", 0.01)
        if isinstance(factor, (int, float)) and not isinstance(factor, bool):
            return float(factor)
    return None


__all__ = ["SHAPE_ARGS", "tuplify", "layer_class", "layer_args", "make_layer", "is_graph", "make_model",
           "specs_of_model", "HIDDEN_ARGS", "NEW_LAYER_DEFAULTS", "format_value", "layer_params", "layer_summary",
           "new_layer_spec", "describe_layer", "describe", "brief"]


describe = describe_layer


def brief(spec: dict) -> str:
    """The shortest name of a layer spec, for plot legends: its type and main size (`Dense 8`,
    `Dropout 0.2`)."""
    kind = spec.get("type", "?")
    for key in ("units", "filters", "rate", "output_dim", "pool_size"):
        if key in spec:
            return f"{kind} {spec[key]}"
    return str(kind)

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

from tuinet.errors import ConfigError

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


__all__ = ["SHAPE_ARGS", "tuplify", "layer_class", "layer_args", "make_layer", "is_graph", "make_model",
           "specs_of_model"]

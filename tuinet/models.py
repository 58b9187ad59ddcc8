"""`keras.models`: the model class, loading, saving and the JSON architecture round trip.

    from tuinet.models import Sequential, load_model, model_from_json
    clone = model_from_json(model.to_json())   # same layers and settings, freshly initialised
"""

from __future__ import annotations

import abc
import json

from tuinet.errors import ConfigError
from tuinet.nn.model import Sequential
from tuinet.nn.serialization import load_model

__all__ = ["Model", "Sequential", "load_model", "save_model", "model_from_json", "clone_model"]

SUBCLASS_UNSUPPORTED = ("{name}: a tuinet.Model subclass needs a call() method that composes tuinet layers (or "
                        "super().__init__(inputs, outputs)); otherwise build the model with the functional API "
                        "(x = tuinet.Input(shape); y = layer(x); tuinet.Model(x, y)) or tuinet.Sequential([...])")
STEP_UNSUPPORTED = ("{name}: overriding {method} needs automatic differentiation (GradientTape), which tuinet does not "
                    "have; use compile(loss=...) and fit, with the functional API for custom graphs")
_STEP_METHODS = ("train_step", "test_step", "compute_loss")
_BUILDING = ("fit", "evaluate", "predict", "train_on_batch", "test_on_batch", "predict_on_batch")


class Model(metaclass=abc.ABCMeta):
    """`keras.Model`.

    - `Model(inputs, outputs)` makes a functional model (`tuinet.nn.functional.Functional`).
    - A subclass whose `call(inputs)` composes tuinet layers (assigned in `__init__`) works as in
      Keras: on `build(input_shape)` or the first `fit`/`evaluate`/`predict`, tuinet runs `call` once
      on symbolic inputs of the data's shape and trains the graph that comes out. Anything `call`
      does besides calling layers (TensorFlow ops, `keras.ops`, Python arithmetic on constants)
      cannot be traced and is refused in one line, as is overriding `train_step`.
    - `isinstance(m, tuinet.Model)` holds for every model, Sequential ones included.
    """

    def __new__(cls, *args, **kwargs):
        from tuinet.nn.functional import Functional

        if cls is Model:
            if not args and not kwargs:
                raise ConfigError("tuinet.Model needs inputs and outputs: tuinet.Model(inputs, outputs), with inputs "
                                  "from tuinet.Input(shape) and outputs from layers called on them")
            return Functional(*args, **kwargs)
        for klass in cls.__mro__:
            if klass is Model:
                break
            for method in _STEP_METHODS:
                if method in vars(klass):
                    raise ConfigError(STEP_UNSUPPORTED.format(name=cls.__name__, method=method))
        obj = object.__new__(cls)
        obj.__dict__.update(_graph=None, _compile_args=None, _model_name=_snake_name(cls.__name__))
        return obj

    def __init__(self, *args, name: str | None = None, trainable: bool = True, **kwargs) -> None:
        from tuinet.nn.functional import Functional

        if name is not None:
            self.__dict__["_model_name"] = name
        if args or "inputs" in kwargs or "outputs" in kwargs:  # a subclass of a functional model
            self.__dict__["_graph"] = Functional(*args, name=self.__dict__["_model_name"], trainable=trainable,
                                                 **kwargs)
        elif kwargs:
            raise ConfigError(f"{type(self).__name__}: unexpected argument(s) {', '.join(sorted(kwargs))}")

    # -- tracing ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.__dict__["_model_name"]

    @property
    def built(self) -> bool:
        return self.__dict__.get("_graph") is not None

    def _has_call(self) -> bool:
        return any("call" in vars(klass) for klass in type(self).__mro__ if klass is not Model and klass is not object)

    def build(self, input_shape) -> None:
        """Trace `call` on symbolic inputs of `input_shape` (batch axis first, e.g. `(None, 28, 28, 1)`;
        a list of shapes for several inputs)."""
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
            specs = [(tuple(s)[1:], None) for s in input_shape]
            self._trace(specs, several=True)
        else:
            self._trace([(tuple(input_shape)[1:], None)], several=False)

    def _trace(self, specs, several: bool) -> None:
        from tuinet.errors import TuinetError
        from tuinet.nn.functional import Functional, Input

        if self.__dict__.get("_graph") is not None:
            return
        name = type(self).__name__
        if not self._has_call():
            raise ConfigError(SUBCLASS_UNSUPPORTED.format(name=name))
        inputs = [Input(shape, dtype=dtype) for shape, dtype in specs]
        arg = inputs if several else inputs[0]
        try:
            outputs = self.call(arg)
        except TuinetError as exc:
            raise type(exc)(f"{name}.call: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - whatever call() did that tuinet cannot trace
            raise ConfigError(f"{name}.call cannot run on symbolic tensors ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}); tuinet runs call() methods that only "
                              "compose tuinet layers; for anything else use the functional API") from None
        try:
            graph = Functional(arg, outputs, name=self.name)
        except ConfigError as exc:
            raise ConfigError(f"{name}.call must return tensors made by tuinet layers from its inputs: {exc}") from None
        self.__dict__["_graph"] = graph
        compiled = self.__dict__.get("_compile_args")
        if compiled is not None:
            graph.compile(*compiled[0], **compiled[1])

    def _trace_for(self, x) -> None:
        import numpy as np

        if self.__dict__.get("_graph") is not None:
            return
        if isinstance(x, dict):
            raise ConfigError(f"{type(self).__name__}: give a subclassed model its data as an array or a list of "
                              "arrays (dicts need named inputs: use the functional API)")
        several = isinstance(x, (list, tuple)) and len(x) > 0 and all(hasattr(a, "shape") for a in x)
        arrays = [np.asarray(a) for a in (x if several else [x])]
        specs = []
        for a in arrays:
            if a.ndim < 1:
                raise ConfigError(f"{type(self).__name__}: expected data with a batch axis, got shape {a.shape}")
            specs.append((tuple(a.shape[1:]) or (1,), a.dtype.name if a.dtype.kind in "iu" else None))
        self._trace(specs, several)

    def compile(self, *args, **kwargs) -> None:
        self.__dict__["_compile_args"] = (args, kwargs)
        if self.__dict__.get("_graph") is not None:
            self._graph.compile(*args, **kwargs)

    def __call__(self, x, training=None, **kwargs):
        from tuinet.nn.functional import is_symbolic

        if is_symbolic(x):
            raise ConfigError(f"{type(self).__name__}: a subclassed model cannot be called on symbolic tensors; "
                              "build the outer model with the functional API from its layers")
        self._trace_for(x)
        return self._graph(x, training=training, **kwargs)

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        graph = self.__dict__.get("_graph")
        if graph is None:
            if item in _BUILDING:
                def first_call(x=None, *args, _method=item, **kwargs):
                    self._trace_for(x)
                    return getattr(self.__dict__["_graph"], _method)(x, *args, **kwargs)
                return first_call
            raise AttributeError(f"{type(self).__name__} has no attribute {item!r} before it is built: call "
                                 "build(input_shape), fit, evaluate or predict first")
        return getattr(graph, item)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _snake_name(name: str) -> str:
    import re

    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


Model.register(Sequential)


def _register_functional() -> None:
    from tuinet.nn.functional import Functional

    Model.register(Functional)


_register_functional()


def save_model(model: Sequential, filepath, *, include_optimizer: bool = True) -> None:
    """Save `model` to one file, as `model.save(filepath)`."""
    model.save(filepath, include_optimizer=include_optimizer)


def model_from_json(json_string: str, custom_objects=None) -> Sequential:
    """Rebuild the architecture written by `model.to_json()`; the weights are freshly initialised
    (from the saved model's seed), so load them separately with `load_weights`.

    Args:
        json_string: The JSON text.
        custom_objects: Accepted for Keras compatibility; tuinet has no custom layers, so it must be
            empty or None.
    """
    if custom_objects:
        raise ConfigError("model_from_json: tuinet has no custom objects; custom_objects must be empty")
    if not isinstance(json_string, (str, bytes, bytearray)):
        raise ConfigError(f"model_from_json: expected a JSON string, got {type(json_string).__name__}")
    try:
        spec = json.loads(json_string)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"model_from_json: not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(spec, dict) or spec.get("class_name") not in ("Sequential", "Functional") \
            or not isinstance(spec.get("config"), dict):
        raise ConfigError("model_from_json: expected the JSON of a model "
                          '({"class_name": "Sequential" or "Functional", "config": {...}}), as model.to_json() writes')
    if spec["class_name"] == "Functional":
        from tuinet.nn.functional import Functional

        return Functional.from_config(spec["config"])
    return Sequential.from_config(spec["config"])



def clone_model(model, input_tensors=None, clone_function=None, **kwargs):
    """A new model with the same architecture and new, freshly initialised layers (Keras's
    `clone_model`); copy the weights with `clone.set_weights(model.get_weights())`."""
    from tuinet.nn.functional import Functional

    if input_tensors is not None or clone_function is not None or kwargs:
        raise ConfigError("clone_model: input_tensors, clone_function and the other options are not supported; "
                          "clone_model(model) copies the architecture")
    graph = model.__dict__.get("_graph") if isinstance(model, Model) and not isinstance(model, Sequential) else model
    if graph is None:
        raise ConfigError(f"clone_model: {type(model).__name__} is not built yet; build it or fit it first")
    config = dict(graph.get_config())
    config["seed"] = None  # fresh weights, as Keras
    if isinstance(graph, Functional):
        return Functional.from_config(config)
    if not isinstance(graph, Sequential):
        raise ConfigError(f"clone_model: expected a model, got {type(model).__name__}")
    return Sequential.from_config(config)

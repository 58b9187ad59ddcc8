"""The `Layer` base class: Keras's build/call split with explicit forward and backward passes.

Contract every layer follows (the model, the optimizers and the app rely on it):

- `build(input_shape, rng)` creates weights with `add_weight`; `input_shape` excludes the
  batch axis. Trainable weights live in `params` with a same-keyed, same-shaped `grads`;
  non-trainable state (BatchNormalization's moving statistics) lives in `state`.
  `get_weights()` returns them in Keras's order (the order of the `add_weight` calls).
- After `build`, the model may re-home `params[k]` and `grads[k]` as views into one flat
  buffer, so a layer NEVER rebinds `self.params[k]` or `self.grads[k]`: it updates weights in
  place and writes gradients with `self.grads[k][...] = ...` or `out=self.grads[k]`.
- `forward(x, training)` caches what `backward` needs; `backward(grad_out)` fills `grads`
  (overwriting, not accumulating) and returns `grad_in` = dL/dx, or None when
  `self.needs_input_grad` is False (the first layer: its input is data).
- A layer whose output is `activation(z)` with a cached `z` sets `self.activation` and
  implements `backward_linear(grad_z)`, so the model can fuse softmax/sigmoid with
  cross-entropy and hand it dL/dz directly.
- `get_config()` returns every constructor argument as JSON-friendly values, and
  `type(layer).from_config(cfg)` rebuilds an equal, unbuilt layer.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import re

import numpy as np

from tuinet import memory
from tuinet.errors import ConfigError, NotBuiltError, ShapeError
from tuinet.nn import activations, backend, initializers, regularizers
from tuinet.nn.variables import HasVariables


def _snake(name: str) -> str:
    """Keras's `to_snake_case`: `Conv2D` -> "conv2d", `SimpleRNN` -> "simple_rnn"."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def check_positive_int(layer: str, arg: str, value) -> int:
    """Validate a positive integer argument, naming the layer and the argument on failure."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ConfigError(f"{layer}: {arg} must be a positive integer, got {value!r}")
    return int(value)


def check_tuple(layer: str, arg: str, value, n: int) -> tuple[int, ...]:
    """Accept an int or a length-`n` sequence of positive ints (kernel_size, strides...)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,) * n
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise ConfigError(f"{layer}: {arg} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(check_positive_int(layer, arg, v) for v in value)


def check_choice(layer: str, arg: str, value, choices) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise ConfigError(f"{layer}: {arg} must be one of {', '.join(choices)}, got {value!r}")
    return value.lower()


def check_bool(layer: str, arg: str, value) -> bool:
    """Accept only True/False (a preset's `use_bias = "no"` must not silently mean True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{layer}: {arg} must be true or false, got {value!r}")
    return bool(value)


def check_seed(layer: str, arg: str, value) -> int | None:
    """Accept None or an integer >= 0 (NumPy's generators refuse negative seeds)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"{layer}: {arg} must be a non-negative integer or None, got {value!r}")
    return int(value)


DTYPES = ("float32", "float64")
"""The dtypes a layer may ask for: tuinet computes in float32 or float64 (see `backend.floatx`)."""


def check_dtype(layer: str, value) -> np.dtype | None:
    """A layer's `dtype` argument as a NumPy dtype, None meaning "the backend's floatx".

    Accepts "float32" and "float64" (also as NumPy dtypes, or a Keras `DTypePolicy` config
    naming one). Anything else, Keras's "mixed_float16" included, is refused with a
    `ConfigError`: tuinet has no half precision and no mixed-precision policies.
    """
    if value is None:
        return None
    spec = value
    if isinstance(spec, dict):  # Keras 3: {"class_name": "DTypePolicy", "config": {"name": "float32"}}
        spec = (spec.get("config") or {}).get("name", spec.get("name"))
    try:
        dtype = np.dtype(spec) if spec is not None and not isinstance(spec, bool) else None
    except (TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.name not in DTYPES:
        raise ConfigError(f"{layer}: dtype must be \"float32\", \"float64\" or None (tuinet computes in one "
                          f"float type; mixed precision and float16 are not supported), got {value!r}")
    return dtype


def check_rate(layer: str, arg: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{layer}: {arg} must be a number in [0, 1), got {value!r}")
    return float(value)


class Layer(HasVariables):
    """Base class of every layer.

    Args:
        name: Unique name inside the model; derived from the class name when None.
        input_shape: Shape of one sample (no batch axis), for the first layer of a model.
        trainable: When False the optimizer leaves this layer's weights alone.
        dtype: The float type of the layer's weights and outputs: "float32", "float64", or None
            for `backend.floatx()`. Keras's mixed-precision policies ("mixed_float16",
            "mixed_bfloat16") and half precision are refused with a `ConfigError`, since
            tuinet's NumPy engine computes in float32 or float64 only.
    """

    def __init__(self, *, name: str | None = None, input_shape=None, input_dim: int | None = None,
                 trainable: bool = True, dtype=None, **kwargs) -> None:
        if kwargs:
            bad = ", ".join(sorted(kwargs))
            raise ConfigError(f"{type(self).__name__}: unexpected argument(s) {bad}")
        if input_dim is not None and input_shape is None:
            input_shape = (check_positive_int(type(self).__name__, "input_dim", input_dim),)
        if input_shape is not None:
            if isinstance(input_shape, (int, np.integer)):
                input_shape = (int(input_shape),)
            if not isinstance(input_shape, (tuple, list)) or not all(
                d is None or (isinstance(d, (int, np.integer)) and d > 0) for d in input_shape
            ):
                raise ConfigError(f"{type(self).__name__}: input_shape must be a tuple of positive ints "
                                  f"such as (2,) or (28, 28, 1), got {input_shape!r}")
            input_shape = tuple(None if d is None else int(d) for d in input_shape)
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.name: str | None = name
        self.declared_input_shape: tuple | None = input_shape
        self.trainable = check_bool(type(self).__name__, "trainable", trainable)
        self.dtype = check_dtype(type(self).__name__, dtype)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        self.regularizers: dict[str, regularizers.Regularizer] = {}
        self.constraints: dict = {}  # weight name -> callable projecting it after each optimizer step
        self._weight_names: list[str] = []
        self.built = False
        self.input_shape: tuple | None = None
        self.output_shape: tuple | None = None
        self.needs_input_grad = True

    def _weight_args(self, args: dict, *weights: str) -> None:
        """Keep Keras's per-weight arguments: for each weight name (`"kernel"`, `"bias"`...), its
        `<name>_initializer`, `<name>_regularizer` and `<name>_constraint` from `args` (the
        constructor's `locals()`), each through its module's `get` (which names a bad value)."""
        from tuinet.nn import constraints

        for kind, module in (("initializer", initializers), ("regularizer", regularizers),
                             ("constraint", constraints)):
            for weight in weights:
                name = f"{weight}_{kind}"
                setattr(self, name, module.get(args[name]))

    # -- naming -----------------------------------------------------------------------------
    @classmethod
    def default_name(cls) -> str:
        """Keras's base name for auto-naming: `Dense` -> "dense", `Conv2D` -> "conv2d"."""
        return _snake(cls.__name__)

    # -- building ---------------------------------------------------------------------------
    def __init_subclass__(cls, **kwargs) -> None:
        """Give every layer's `build` Keras's signature too: `layer.build((None, 4))` (the batch
        axis first, no generator) builds it with weights drawn from its own seed, as in Keras,
        while the models keep calling `build(input_shape, rng)`."""
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is None or getattr(build, "_keras_signature", False):
            return
        takes_rng = len(inspect.signature(build).parameters) >= 3

        @functools.wraps(build)
        def keras_build(self, input_shape, rng=None):
            if rng is None:
                return self._keras_build(input_shape)
            return build(self, input_shape, rng) if takes_rng else build(self, input_shape)

        keras_build._keras_signature = True
        cls.build = keras_build

    def _keras_build(self, input_shape) -> None:
        """A user's `layer.build(input_shape)`: the shape has the batch axis first, as in Keras."""
        from tuinet.nn.random import resolve_seed

        def sample(shape):
            shape = tuple(shape)
            return shape[1:] if len(shape) > 1 or (shape and shape[0] is None) else shape

        shape = [sample(s) for s in input_shape] if self.multi_input else sample(input_shape)
        seed = getattr(self, "seed", None)
        seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else resolve_seed(None)
        self.build_for(shape, np.random.default_rng(seed))

    def build(self, input_shape: tuple, rng: np.random.Generator | None = None) -> None:
        """Create the weights for inputs of shape `(batch, *input_shape)`. Default: none.

        Called as Keras does, `layer.build((None, 4))`, it builds the layer (see `_keras_build`)."""
        if rng is None:
            self._keras_build(input_shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Output shape for a given input shape, both without the batch axis."""
        return tuple(input_shape)

    @classmethod
    def call_only(cls) -> bool:
        """A Keras-style custom layer: a `call()` and neither `forward` nor `backward`. Its call is
        run on the arrays when called directly, and traced into the layers it composes in a model
        (`tuinet.nn.functional.trace_custom`)."""
        return callable(getattr(cls, "call", None)) and cls.forward is Layer.forward and cls.backward is Layer.backward

    def keras_build(self, input_shape) -> None:
        """Run a custom layer's own Keras-style `build(input_shape)` (batch axis first) once."""
        if self.__dict__.get("_custom_built"):
            return
        self._custom_built = True
        build = type(self).__dict__.get("build") or next(
            (k.__dict__["build"] for k in type(self).__mro__ if "build" in k.__dict__ and k is not Layer), None)
        build = getattr(build, "__wrapped__", build)
        if build is not None and build is not Layer.build:
            build(self, input_shape)

    def check_passes(self) -> None:
        """Refuse a layer class that lacks its own `forward` or `backward` (a Keras-style custom
        layer with only `call()`): tuinet has no automatic differentiation to derive them."""
        cls = type(self)
        if cls.forward is Layer.forward or cls.backward is Layer.backward:
            raise ConfigError(f"{cls.__name__}: a custom layer needs forward() and backward() in tuinet "
                              f"(no automatic differentiation); use the built-in layers or implement backward")

    def build_for(self, input_shape: tuple, rng: np.random.Generator) -> tuple:
        """Check, build and record shapes; returns the output shape. Called by the model."""
        self.check_passes()
        input_shape = [tuple(s) for s in input_shape] if self.multi_input else tuple(input_shape)
        self.params.clear(), self.grads.clear(), self.state.clear(), self._weight_names.clear()
        self.regularizers.clear()
        self.__dict__.setdefault("constraints", {}).clear()
        self.output_shape = tuple(self.compute_output_shape(input_shape))
        self.input_shape = input_shape
        self.build(input_shape, rng)
        self.built = True
        return self.output_shape

    def weight_specs(self, input_shape: tuple) -> list[tuple[str, tuple[int, ...], bool]]:
        """`(name, shape, trainable)` of each weight `build(input_shape)` would create, in Keras order.

        Allocates nothing and leaves the layer as it is: `build` runs on a shallow copy whose
        `add_weight` only records the shapes, so an editor can show the parameters of a
        100-million-unit layer at once.

        Raises:
            ShapeError: what `compute_output_shape` or `build` raise for inputs they cannot take.
        """
        input_shape = [tuple(s) for s in input_shape] if self.multi_input else tuple(input_shape)
        self.compute_output_shape(input_shape)
        probe = copy.copy(self)
        probe.params, probe.grads, probe.state, probe.regularizers = {}, {}, {}, {}
        probe._weight_names = []
        probe._dry_run = specs = []
        probe.build(input_shape, np.random.default_rng(0))
        return specs

    def add_weight(self, name: str, shape: tuple, initializer, rng: np.random.Generator, *,
                   trainable: bool = True, regularizer=None, constraint=None) -> np.ndarray:
        """Create a weight with `initializer` and register it in Keras order; `constraint` (a
        `tuinet.constraints` object or name) projects it after every optimizer step, as in Keras."""
        dry_run = self.__dict__.get("_dry_run")
        if dry_run is not None:  # `weight_specs`: record the shape, allocate nothing
            dry_run.append((name, tuple(int(d) for d in shape), bool(trainable)))
            return np.broadcast_to(np.zeros((), self.compute_dtype), tuple(shape))
        # The weight, its gradient and the initializer's float64 draw, checked before any is made.
        nbytes = math.prod(int(d) for d in shape) * (self.compute_dtype.itemsize * (1 + trainable) + 8)
        memory.check_allocation(nbytes, f"{type(self).__name__} {(self.name or self.default_name())!r}: "
                                        f"weight {name!r} of shape {tuple(shape)}")
        value = initializers.get(initializer)(tuple(shape), rng, self.compute_dtype)
        value = np.asarray(value, dtype=self.compute_dtype, order="C")  # keeps 0-d weights 0-d
        if trainable:
            self.params[name] = value
            self.grads[name] = np.zeros_like(value)
            reg = regularizers.get(regularizer)
            if reg is not None:
                self.regularizers[name] = reg
            if constraint is not None:
                from tuinet.nn import constraints as constraints_module

                made = constraints_module.get(constraint)
                if made is not None:
                    self.__dict__.setdefault("constraints", {})[name] = made
        else:
            self.state[name] = value
        self._weight_names.append(name)
        return value

    @property
    def compute_dtype(self) -> np.dtype:
        return self.dtype or backend.floatx()

    # -- passes -----------------------------------------------------------------------------
    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:  # pragma: no cover
        raise NotImplementedError

    # -- masks (Keras's `supports_masking` / `compute_mask`) ---------------------------------
    #: True for layers whose output keeps the input's time steps, so an incoming mask passes on.
    supports_masking = False
    #: True for layers whose `forward` takes a `mask=` argument (the recurrent layers).
    consumes_mask = False

    def compute_mask(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
        """The boolean mask `(batch, timesteps)` of this layer's output, given its input's.

        The default passes `mask` on when `supports_masking` and drops it otherwise (a layer
        that reduces the time axis ends the mask), as Keras does.
        """
        return mask if self.supports_masking else None

    #: True for layers that take a list of tensors (the merge layers): `build`, `compute_output_shape`
    #: and `weight_specs` then get a list of shapes, `forward` a list of arrays, and `backward`
    #: returns a list with one gradient (or None) per input.
    multi_input = False

    def __call__(self, x, *args, training: bool | None = None, **kwargs):
        """Run the layer on a batch, building it first from the batch's shape if needed.

        Called on symbolic tensors (`tuinet.Input(...)` and what layers return from them), it
        records the call in the functional graph and returns symbolic outputs instead.
        """
        from tuinet.nn import functional

        if functional.is_symbolic(x):
            return functional.symbolic_call(self, x, *args, training=training, **kwargs)
        if args or kwargs:
            bad = ", ".join([*(repr(type(a).__name__) for a in args), *sorted(kwargs)])
            raise ConfigError(f"{type(self).__name__}: unexpected call argument(s) {bad}")
        training = bool(training)
        if self.call_only():  # a Keras-style custom layer used on arrays: its call, on NumPy
            from tuinet.nn.functional import run_custom

            return run_custom(self, x, training)
        self.check_passes()
        if self.multi_input:
            if not isinstance(x, (list, tuple)) or not x:
                raise ShapeError(f"{type(self).__name__}: expects a list of input tensors, got {type(x).__name__}")
            xs = [np.asarray(a) for a in x]
            if not self.built:
                self.build_for([a.shape[1:] for a in xs], np.random.default_rng())
            return self.forward(xs, training=training)
        x = np.asarray(x)
        if not self.built:
            self.build_for(x.shape[1:], np.random.default_rng())
        return self.forward(x, training=training)

    # -- the functional graph (Keras's `layer.input` / `layer.output`) ------------------------
    def _single_node(self, what: str):
        nodes = self.__dict__.get("_inbound_nodes") or []
        if not nodes:
            raise ConfigError(f"layer {self.name!r} has never been called on a symbolic tensor, so it has no {what}; "
                              "call it on tuinet.Input(...) (or a layer's output) first")
        if len(nodes) > 1:
            raise ConfigError(f"layer {self.name!r} has been called {len(nodes)} times, so it has several {what}s; "
                              "use the tensors each call returned")
        return nodes[0]

    @property
    def input(self):
        """The symbolic tensor(s) this layer was called on (it must have been called once)."""
        node = self._single_node("input")
        return list(node.inputs) if node.listed else node.inputs[0]

    @property
    def output(self):
        """The symbolic tensor(s) this layer's one call returned."""
        node = self._single_node("output")
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    # -- Keras variables: layer.weights (HasVariables), layer.kernel... ------------------------
    def __getattr__(self, item):
        """Keras's attributes for weights (`dense.kernel`, `bn.moving_mean`) as `Variable`s."""
        d = self.__dict__
        if not item.startswith("_") and (item in d.get("params", ()) or item in d.get("state", ())):
            from tuinet.nn.variables import Variable

            return Variable(self, item)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {item!r}")

    # -- weights ----------------------------------------------------------------------------
    @property
    def weight_names(self) -> list[str]:
        return list(self._weight_names)

    def weight(self, name: str) -> np.ndarray:
        return self.params[name] if name in self.params else self.state[name]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights in Keras order (Dense: kernel, bias)."""
        return [self.weight(n).copy() for n in self._weight_names]

    def set_weights(self, weights) -> None:
        """Set the weights from arrays in Keras order, checking count and shapes."""
        if not self.built:
            raise NotBuiltError(f"layer {self.name!r} is not built yet: build the model before set_weights")
        weights = list(weights)
        if len(weights) != len(self._weight_names):
            raise ShapeError(f"layer {self.name!r} expects {len(self._weight_names)} weight arrays "
                             f"({', '.join(self._weight_names) or 'none'}), got {len(weights)}")
        for n, w in zip(self._weight_names, weights):
            w = np.asarray(w)
            target = self.weight(n)
            if w.shape != target.shape:
                raise ShapeError(f"layer {self.name!r}: weight {n!r} has shape {target.shape}, got {w.shape}")
            target[...] = w

    def count_params(self, input_shape: tuple | None = None) -> int:
        """The number of weights; given `input_shape`, the number `build(input_shape)` would create
        (computed from `weight_specs`, allocating nothing)."""
        if input_shape is not None:
            return sum(math.prod(shape) for _, shape, _ in self.weight_specs(input_shape))
        return sum(int(v.size) for v in self.params.values()) + sum(int(v.size) for v in self.state.values())

    def count_trainable(self) -> int:
        return sum(int(v.size) for v in self.params.values()) if self.trainable else 0

    def regularization_loss(self) -> float:
        return sum(reg(self.params[k]) for k, reg in self.regularizers.items())

    def add_regularization_grads(self) -> None:
        """Add each regularizer's gradient to `grads` (after `backward`)."""
        for k, reg in self.regularizers.items():
            self.grads[k] += reg.gradient(self.params[k])

    # -- activation fusion ------------------------------------------------------------------
    activation: activations.Activation | None = None

    def backward_linear(self, grad_z: np.ndarray) -> np.ndarray | None:  # pragma: no cover
        """Backward pass given dL/dz instead of dL/d(activation(z)); layers with an activation."""
        raise NotImplementedError(f"{type(self).__name__} has no fusable activation")

    # -- config -----------------------------------------------------------------------------
    def get_config(self) -> dict:
        cfg: dict = {"name": self.name, "trainable": self.trainable}
        if self.declared_input_shape is not None:
            cfg["input_shape"] = list(self.declared_input_shape)
        if self.dtype is not None:
            cfg["dtype"] = self.dtype.name
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        cfg = dict(config)
        if "input_shape" in cfg and cfg["input_shape"] is not None:
            cfg["input_shape"] = tuple(cfg["input_shape"])
        return cls(**cfg)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def prod(shape) -> int:
    return math.prod(int(d) for d in shape)

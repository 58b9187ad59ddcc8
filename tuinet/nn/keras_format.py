"""Keras 3 files: `.keras` models and `.weights.h5` weights, read and written without pickle.

A `.keras` file is a zip of three members, as Keras 3's `saving_lib` writes it (stored, not
deflated): `metadata.json` (`keras_version`, `date_saved`), `config.json` (the model serialized
as `{"module", "class_name", "config", "registered_name", "build_config", "compile_config"}`,
each layer in the same form, dtypes as `DTypePolicy` dicts, initializers and regularizers as
class dicts) and `model.weights.h5`. The HDF5 file holds one group per saveable object, named
after its class in snake case and made unique by a counter (`layers/dense`, `layers/dense_1`,
never the layer's own name), with the variables in a `vars` subgroup as datasets `"0"`,
`"1"`, ... in the layer's weight order and the object's name as the group's `name`
attribute. Recurrent layers keep theirs under `cell/vars`, `TimeDistributed` under
`layer/...`, `Bidirectional` under `forward_layer/...` and `backward_layer/...`,
`MultiHeadAttention` one projection per group (`query_dense`, `key_dense`, `_gate_dense`,
`value_dense`, `output_dense`, each `vars/0` kernel and `vars/1` bias); the
optimizer's variables are `optimizer/vars`: the iteration count, the learning rate (when it
is not a schedule), then its slots, interleaved per trainable variable as Keras's
`add_optimizer_variables` makes them. A `.weights.h5` file from `model.save_weights` is the
same HDF5 layout on its own.

Reading checks as much as tuinet's own model files (see `tuinet.nn.serialization`), before
anything large is allocated: a regular file; a zip holding exactly those members, stored or
deflated, not encrypted, within the memory budget; `config.json` of bounded size and JSON
depth; every layer class and field translated to tuinet's arguments (a Keras feature tuinet
cannot honour, such as a custom constraint, is refused naming the layer and the field); the HDF5
objects reached only through hard links, every dataset numeric (never object, string or
compound dtypes, so nothing is ever unpickled), without external storage or compression, its
declared size within the budget and its shape and dtype checked against the rebuilt layers
before it is read. Anything wrong raises one `ModelFileError`, one line naming the file.

h5py is an optional dependency (`pip install "tuinet[keras]"`), imported only here and only
when a Keras file is read or written.
"""

from __future__ import annotations

import datetime
import inspect
import io
import json
import math
import struct
import warnings
import zipfile
import zlib

import numpy as np

from tuinet.__about__ import __version__
from tuinet.atomic import atomic_write
from tuinet.errors import ConfigError, ModelFileError, TuinetError
from tuinet.nn import serialization as _ser
from tuinet.nn.serialization import _budget, _check_member, _label, _open_regular, _shown, user_budget

KERAS_VERSION = "3.15.1"
"""The Keras release whose file layout tuinet writes (`metadata.json`'s `keras_version`)."""
CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
MAX_CONFIG_BYTES = _ser.MAX_HEADER_BYTES
MAX_METADATA_BYTES = 64 * 1024
MAX_H5_OBJECTS = 200_000
"""Most groups and datasets one HDF5 file may hold."""
NEEDS_H5PY = 'needs h5py: pip install "tuinet[keras]"'

_RECURRENT = ("SimpleRNN", "LSTM", "GRU")
# MultiHeadAttention's sublayers as Keras saves them: (group, saveable name, tuinet weight prefix);
# the dropout and softmax sublayers hold no variables but Keras writes their groups all the same.
_MHA_CHILDREN = (("query_dense", "query", "query"), ("key_dense", "key", "key"), ("_gate_dense", "gate", "gate"),
                 ("value_dense", "value", "value"), ("output_dense", "attention_output", "attention_output"),
                 ("_dropout_layer", "dropout", None), ("_softmax", "softmax", None))
# Call arguments Keras may write into a node; false or null (their defaults), they change nothing.
_DEFAULT_CALL_ARGS = frozenset({"return_attention_scores", "use_causal_mask", "attention_mask", "query_mask",
                                "value_mask", "key_mask"})
_WRAPPER_CHILDREN = {"TimeDistributed": ("layer",), "Bidirectional": ("forward_layer", "backward_layer")}
# The constraint fields of each Keras layer, written as null where the tuinet config has none.
_CONSTRAINTS = {
    "Dense": ("kernel_constraint", "bias_constraint"),
    "BatchNormalization": ("beta_constraint", "gamma_constraint"),
    "LayerNormalization": ("beta_constraint", "gamma_constraint"),
    "Conv1D": ("kernel_constraint", "bias_constraint"), "Conv2D": ("kernel_constraint", "bias_constraint"),
    "Conv1DTranspose": ("kernel_constraint", "bias_constraint"),
    "Conv2DTranspose": ("kernel_constraint", "bias_constraint"),
    "DepthwiseConv2D": ("depthwise_constraint", "bias_constraint"),
    "SeparableConv2D": ("depthwise_constraint", "pointwise_constraint", "bias_constraint"),
    "SimpleRNN": ("kernel_constraint", "recurrent_constraint", "bias_constraint"),
    "LSTM": ("kernel_constraint", "recurrent_constraint", "bias_constraint"),
    "GRU": ("kernel_constraint", "recurrent_constraint", "bias_constraint"),
    "Embedding": ("embeddings_constraint",),
}
# Keras-only fields whose values change nothing tuinet computes (performance switches, seeds of
# layers tuinet does not seed) or that only matter together with a field refused elsewhere.
_HARMLESS = frozenset({"seed", "use_cudnn", "implementation", "renorm_momentum", "renorm_clipping",
                       "data_format_is_default"})
_NEUTRAL = {"data_format": "channels_last", "synchronized": False, "renorm": False, "zero_output_for_mask": False,
            "sparse": False, "ragged": False, "optional": False, "lora_rank": None, "lora_alpha": None,
            "quantization_config": None, "reduction": "sum_over_batch_size"}
_INPUT_LAYER_KEYS = {"batch_shape", "batch_input_shape", "shape", "input_shape", "dtype", "sparse", "ragged",
                     "name", "optional", "batch_size"}
# Keras optimizer variables after `iterations` and `learning_rate`: blocks of slots, each block
# interleaved per trainable variable (Keras's `add_optimizer_variables`).
_KERAS_LOSS_NAMES = frozenset({
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "squared_hinge", "hinge", "categorical_hinge", "log_cosh", "huber",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy", "kl_divergence",
    "poisson", "cosine_similarity"})


class _Refused(ConfigError):
    """A Keras feature tuinet cannot honour; its message becomes the file's one-line error."""


def _h5py(label: str, what: str):
    try:
        import h5py
    except ImportError:
        raise ModelFileError(f"{label}: {what} {NEEDS_H5PY}") from None
    return h5py


def _snake(name: str) -> str:
    from tuinet.nn.layers.base import _snake as snake

    return snake(name)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


# ====================================================================== tuinet -> Keras config
def _policy(dtype) -> dict:
    from tuinet.nn import backend

    name = np.dtype(dtype).name if dtype is not None else backend.floatx().name
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def _keras_initializer(spec):
    from tuinet.nn import initializers

    init = initializers.get(spec)
    return {"module": "keras.initializers", "class_name": _camel(init.name), "config": init.get_config(),
            "registered_name": None}


def _keras_regularizer(spec):
    from tuinet.nn import regularizers

    reg = regularizers.get(spec)
    if reg is None:
        return None
    cls = {"l1": "L1", "l2": "L2", "l1_l2": "L1L2", "l1l2": "L1L2"}[reg.name]
    return {"module": "keras.regularizers", "class_name": cls, "config": reg.get_config(), "registered_name": None}


def _keras_constraint(spec):
    from tuinet.nn import constraints

    made = constraints.get(spec)
    if made is None:
        return None
    return {"module": "keras.constraints", **constraints.serialize(made), "registered_name": None}


def _keras_layer_config(cls_name: str, config: dict) -> dict:
    """A tuinet layer config (`Layer.get_config()`) in Keras's form."""
    out = {"name": config.get("name"), "trainable": config.get("trainable", True), "dtype": _policy(config.get("dtype"))}
    for key, value in config.items():
        if key in out or key == "input_shape" or key == "input_dim" and cls_name != "Embedding":
            continue
        if key in ("layer", "backward_layer") and isinstance(value, dict):
            value = _keras_layer(value["class_name"], value["config"])
        elif key.endswith("_initializer"):
            value = _keras_initializer(value)
        elif key.endswith("_regularizer"):
            value = _keras_regularizer(value)
        elif key.endswith("_constraint"):
            value = _keras_constraint(value)
        out[key] = value
    for key in _CONSTRAINTS.get(cls_name, ()):
        out.setdefault(key, None)
    return out


def _keras_layer(cls_name: str, config: dict, build_shape=None) -> dict:
    spec = {"module": "keras.layers", "class_name": cls_name, "config": _keras_layer_config(cls_name, config),
            "registered_name": None}
    if build_shape is not None:
        spec["build_config"] = {"input_shape": [None, *build_shape]}
    return spec


def _overrides_build(layer) -> bool:
    from tuinet.nn.layers.base import Layer

    return type(layer).build is not Layer.build


def keras_layers_config(model) -> list[dict]:
    """The model's layers in Keras's form, each with its `build_config` when Keras would write one."""
    from tuinet.nn.layers import serialize

    out = []
    for layer in model.layers:
        spec = serialize(layer)
        shape = layer.input_shape if layer.built and _overrides_build(layer) else None
        out.append(_keras_layer(spec["class_name"], spec["config"], shape))
    return out


def _keras_loss(loss, where: str):
    from tuinet.nn import losses

    spec = losses.serialize(loss)
    if isinstance(spec, str):
        if spec not in _KERAS_LOSS_NAMES:
            raise ModelFileError(f"{where}: the loss {spec!r} has no Keras 3 equivalent; compile with another "
                                 "loss, or save in tuinet's format (.tuinet)")
        return spec
    if loss.name not in _KERAS_LOSS_NAMES:
        raise ModelFileError(f"{where}: the loss {loss.name!r} has no Keras 3 equivalent; compile with another "
                             "loss, or save in tuinet's format (.tuinet)")
    return {"module": "keras.losses", "class_name": type(loss).__name__,
            "config": {"name": loss.name, "reduction": "sum_over_batch_size", **spec["config"]},
            "registered_name": None}


def _keras_metric(spec):
    if isinstance(spec, str):
        return spec
    from tuinet.nn import metrics

    data = metrics.serialize(spec)
    if isinstance(data, str):
        return data
    return {"module": "keras.metrics", "class_name": data["class_name"], "config": data["config"],
            "registered_name": None}


def _keras_optimizer(opt) -> dict:
    from tuinet.nn import schedules
    from tuinet.nn.optimizers import _KERAS_ONLY_DEFAULTS

    config = opt.get_config()
    base = {k: config.pop(k) for k in ("name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm",
                                        "clipvalue")}
    lr = opt._learning_rate
    if isinstance(lr, schedules.LearningRateSchedule):
        data = schedules.serialize(lr)
        base["learning_rate"] = {"module": "keras.optimizers.schedules", "class_name": data["class_name"],
                                 "config": data["config"], "registered_name": None}
    return {"module": "keras.optimizers", "class_name": type(opt).__name__,
            "config": {**base, **_KERAS_ONLY_DEFAULTS, **config}, "registered_name": None}


def _input_layer(config: dict, name: str | None) -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": list(config["batch_shape"]), "dtype": config.get("dtype") or "float32",
                       "sparse": False, "ragged": False, "name": name or "input_layer", "optional": False},
            "registered_name": None}


def _functional_keras_config(model) -> dict:
    """A functional model's config in Keras's form (its `get_config()` is already Keras-shaped,
    but for MultiHeadAttention's calls, which Keras writes with the tensors as arguments)."""
    config = model.get_config()
    built = {lay.name: lay for lay in model.layers}
    layers = []
    for spec in config["layers"]:
        if spec["class_name"] == "InputLayer":
            out = _input_layer(spec["config"], spec["name"])
        else:
            layer = built.get(spec["name"])
            shape = layer.input_shape if layer is not None and layer.built and _overrides_build(layer) and \
                not isinstance(layer.input_shape, list) else None
            out = _keras_layer(spec["class_name"], spec["config"], shape)
            if layer is not None and layer.built and getattr(layer, "multi_input", False) and \
                    spec["class_name"] in ("MultiHeadAttention", "Attention"):
                out["build_config"] = _attention_build_config(spec["class_name"], layer.input_shape)
        nodes = spec["inbound_nodes"]
        if spec["class_name"] == "MultiHeadAttention":
            nodes = [_keras_mha_node(node) for node in nodes]
        layers.append({**out, "name": spec["name"], "inbound_nodes": nodes})
    refs = {}
    for key, single in (("input_layers", "single_input"), ("output_layers", "single_output")):
        value = config[key]
        refs[key] = value[0] if config.get(single) and isinstance(value, list) and len(value) == 1 else value
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": config["name"], "trainable": config.get("trainable", True), "layers": layers, **refs},
            "registered_name": "Functional", "build_config": {"input_shape": None}}


def _attention_build_config(cls_name: str, shapes) -> dict:
    """Keras's `build_config` of an attention layer: MultiHeadAttention records its call's
    shapes by argument name, Attention the list of its inputs' shapes."""
    shapes = [[None, *s] for s in shapes]
    if cls_name == "Attention":
        return {"input_shape": shapes}
    names = ("query_shape", "value_shape", "key_shape")
    return {"shapes_dict": dict(zip(names, shapes))}


def _keras_mha_node(node: dict) -> dict:
    """tuinet records `mha(query, value, key=k)` as one listed argument `[query, value, key]`;
    Keras calls it with the tensors as arguments, the key as a keyword: `args [query, value]`,
    `kwargs {"key": key}`."""
    args = node["args"][0] if len(node["args"]) == 1 and isinstance(node["args"][0], list) else node["args"]
    kwargs = dict(node.get("kwargs") or {})
    if len(args) == 3:
        kwargs["key"] = args[2]
    return {"args": list(args[:2]), "kwargs": kwargs}


def keras_config(model, where: str, *, include_compile: bool = True) -> dict:
    """`config.json` for `model` (Sequential or functional), as Keras 3 writes it."""
    if type(model).__name__ == "Functional":
        out = _functional_keras_config(model)
        if include_compile and model.compiled:
            out["compile_config"] = _compile_config(model, where)
        return out
    shape = list(model._input_shape)
    layers = [{"module": "keras.layers", "class_name": "InputLayer",
               "config": {"batch_shape": [None, *shape], "dtype": _policy(None)["config"]["name"], "sparse": False,
                          "ragged": False, "name": model._input_name or "input_layer", "optional": False},
               "registered_name": None}]
    layers += keras_layers_config(model)
    out = {"module": "keras", "class_name": "Sequential",
           "config": {"name": model.name, "trainable": model.trainable, "dtype": _policy(None), "layers": layers,
                      "build_input_shape": [None, *shape]},
           "registered_name": None, "build_config": {"input_shape": [None, *shape]}}
    if include_compile and model.compiled:
        out["compile_config"] = _compile_config(model, where)
    return out


def _nested(value, leaf):
    """`leaf` applied to every entry of a compile argument given per output (lists, dicts by output
    name), None kept."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [_nested(v, leaf) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _nested(v, leaf) for k, v in value.items()}
    return leaf(value)


def _compile_config(model, where: str) -> dict:
    """Keras's `compile_config`: a functional model's losses, loss weights and metrics per output
    as they were given (lists or dicts by output name), a Sequential model's as one of each."""
    from tuinet.nn import losses

    args = getattr(model, "_compile_args", None)
    if args is not None:  # a functional model
        loss = _nested(args["loss"], lambda spec: _keras_loss(losses.get(spec), where))
        metrics = _nested(args["metrics"], _keras_metric)
        weighted = _nested(args.get("weighted_metrics"), _keras_metric)
        weights = args["loss_weights"]
    else:
        loss = _keras_loss(model.loss, where)
        metrics = [_keras_metric(s) for s in model._metric_specs] or None
        weighted = [_keras_metric(s) for s in getattr(model, "_weighted_specs", [])] or None
        weights = None
    return {"optimizer": _keras_optimizer(model.optimizer), "loss": loss, "loss_weights": weights,
            "metrics": metrics, "weighted_metrics": weighted, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


# ====================================================================== weights: the HDF5 layout
def _nodes(layer, path: str, prefix: str = "", top=None):
    """`(group path, saveable name, [keys of the top layer's weights])` for every object Keras
    saves for `layer`, in Keras's order: the layer itself, then its cell or inner layers."""
    top = top or layer
    cls = type(layer).__name__
    name = layer.name or _snake(cls)
    if cls in _WRAPPER_CHILDREN:
        yield path, name, []
        for attr, (child_prefix, child) in zip(_WRAPPER_CHILDREN[cls], layer._children()):
            yield from _nodes(child, f"{path}/{attr}", prefix + child_prefix, top)
    elif cls in _RECURRENT:
        yield path, name, []
        yield f"{path}/cell", f"{_snake(cls)}_cell", [prefix + k for k in layer.weight_names]
    elif cls == "MultiHeadAttention":  # one EinsumDense per projection: {kernel, bias} under its own group
        yield path, name, []
        for group, child, weights in _MHA_CHILDREN:
            if group == "_gate_dense" and not layer.use_gate:
                continue
            keys = [] if weights is None else [k for k in (f"{weights}/kernel", f"{weights}/bias")
                                               if k in layer.weight_names]
            yield f"{path}/{group}", child, [prefix + k for k in keys]
    else:
        yield path, name, [prefix + k for k in layer.weight_names]


def _layer_paths(model) -> list[tuple[object, str]]:
    used: dict[str, int] = {}
    out = []
    for layer in model.layers:
        base = _snake(type(layer).__name__)
        if base in used:
            used[base] += 1
            name = f"{base}_{used[base]}"
        else:
            used[base] = 0
            name = base
        out.append((layer, f"layers/{name}"))
    return out


def _trainable_entries(model) -> list[tuple[object, str]] | None:
    """(layer, key) of each trainable weight in the order of the model's flat buffer (Keras's
    `trainable_variables` order); None when the weights span several dtypes."""
    groups = getattr(model, "_groups", None) or {}
    if len(groups) > 1:
        return None
    return [(layer, k) for layer in model.layers if layer.trainable and model.trainable
            for k in getattr(layer, "params", {})]


def _slot_blocks(opt) -> list[list[str]]:
    """tuinet's slot names in Keras's variable order: blocks of slots interleaved per variable."""
    specs = [name for name, _ in opt._slot_specs()]
    name = type(opt).__name__
    if name in ("Adam", "AdamW"):
        return [["momentum", "velocity"]] + ([["velocity_hat"]] if "velocity_hat" in specs else [])
    if name == "RMSprop":
        return [[s] for s in specs]
    return [specs] if specs else []


def _optimizer_arrays(model) -> list[np.ndarray] | None:
    """The optimizer's variables as Keras orders them, or None when they cannot be mapped."""
    from tuinet.nn import schedules

    opt = model.optimizer
    entries = _trainable_entries(model)
    if entries is None or type(opt).__name__ not in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta",
                                                     "Adamax", "Nadam"):
        return None
    state = opt.get_state()
    out = [np.array(int(state["iterations"]), dtype=np.int32)]
    if not isinstance(opt._learning_rate, schedules.LearningRateSchedule):
        out.append(np.array(opt._learning_rate, dtype=np.float32))
    dtype_key = next(iter(model._groups), None)
    offsets, o = [], 0
    for layer, k in entries:
        offsets.append((o, layer.params[k].shape, layer.params[k].dtype))
        o += layer.params[k].size
    init = dict(opt._slot_specs())
    for block in _slot_blocks(opt):
        for start, shape, dtype in offsets:
            for slot in block:
                flat = state.get(f"{dtype_key}/{slot}")
                n = math.prod(shape)
                out.append(flat[start:start + n].reshape(shape).copy() if flat is not None
                           else np.full(shape, init.get(slot, 0.0), dtype=dtype))
    if "u_product" in state:
        out.append(np.array(state["u_product"], dtype=np.float32))
    return out


def _write_h5(h5py, model, *, include_optimizer: bool) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        for layer, path in _layer_paths(model):
            for group_path, name, keys in _nodes(layer, path):
                group = f.require_group(group_path).create_group("vars")
                group.attrs["name"] = name
                for i, key in enumerate(keys):
                    value = layer.weight(key)
                    if type(layer).__name__ == "Normalization" and key == "count":
                        value = np.asarray(value).astype(np.int32)  # Keras keeps the count as int32
                    group[str(i)] = _ser._little(value)
        if include_optimizer and model.optimizer is not None:
            arrays = _optimizer_arrays(model)
            if arrays is None:
                warnings.warn(f"tuinet: the state of optimizer {type(model.optimizer).__name__} is not saved in the "
                              "Keras file (weights of several dtypes); training resumes with fresh slots",
                              stacklevel=3)
            else:
                group = f.create_group("optimizer").create_group("vars")
                group.attrs["name"] = model.optimizer.name
                for i, value in enumerate(arrays):
                    group[str(i)] = value
    return buffer.getvalue()


# ====================================================================== writing
def _check_target(path) -> str:
    from pathlib import Path

    shown = str(path)
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ModelFileError(f"cannot save to {shown!r}: folder {str(folder)!r} does not exist")
    if target.is_dir():
        raise ModelFileError(f"cannot save to {shown!r}: it is a folder")
    return shown


def _write_atomic(path, shown: str, write) -> None:
    atomic_write(path, write, sweep=True,
                 error=lambda exc: ModelFileError(f"cannot save to {shown!r}: {exc.strerror or exc}"))


def save_keras(model, path, include_optimizer: bool = True) -> None:
    """Save a Sequential `model` as a Keras 3 `.keras` file (which `keras.models.load_model` opens).

    The compile settings are saved when the model is compiled, and with `include_optimizer`
    the optimizer's variables too (Keras's layout: iterations, learning rate, slots).
    """
    model._require_built("save")
    shown = _check_target(path)
    h5py = _h5py(_label(path), "writing .keras files")
    if type(model).__name__ not in ("Sequential", "Functional"):
        raise ModelFileError(f"cannot save to {shown!r}: only Sequential and functional models can be saved as "
                             ".keras files")
    where = f"cannot save to {shown!r}"
    try:
        config = json.dumps(keras_config(model, where))
    except (TuinetError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{where}: the model has no Keras form ({_shown(exc, 200)})") from None
    metadata = json.dumps({"keras_version": KERAS_VERSION, "date_saved":
                           datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"), "tuinet_version": __version__})
    weights = _write_h5(h5py, model, include_optimizer=include_optimizer)

    def write(f) -> None:
        with zipfile.ZipFile(f, "w") as zf:  # stored, as Keras writes it
            with zf.open(METADATA, "w") as member:
                member.write(metadata.encode())
            with zf.open(CONFIG, "w") as member:
                member.write(config.encode())
            zf.writestr(WEIGHTS, weights)

    _write_atomic(path, shown, write)


def save_weights_h5(model, path) -> None:
    """Save the weights (and the optimizer's variables, as Keras does) to a `.weights.h5` file."""
    model._require_built("save_weights")
    shown = _check_target(path)
    h5py = _h5py(_label(path), "writing .weights.h5 files")
    data = _write_h5(h5py, model, include_optimizer=True)
    _write_atomic(path, shown, lambda f: f.write(data))


# ====================================================================== Keras -> tuinet config
def _accepted(cls) -> set[str]:
    """The keyword arguments `cls(...)` takes, following `**kwargs` up to `Layer`."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params) or klass.__name__ == "Layer":
            break
    names.discard("self")
    return names


def _class_dict(value, where: str) -> tuple[str, dict]:
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
        raise _Refused(f"{where}: expected a Keras object such as {{\"class_name\": ..., \"config\": ...}}, got "
                       f"{_ser._describe(value)}")
    config = value.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise _Refused(f"{where}: its config must be an object, got {_ser._describe(config)}")
    return value["class_name"], config


def _from_dtype(value, where: str):
    if value is None:
        return None
    name = value
    if isinstance(value, dict):
        cls, config = _class_dict(value, where)
        if cls != "DTypePolicy":
            raise _Refused(f"{where}: dtype policy {_shown(cls)!r} is not supported (tuinet computes in float32 "
                           "or float64)")
        name = config.get("name")
    if name == "float32":
        return None
    if name == "float64":
        return "float64"
    raise _Refused(f"{where}: dtype {_shown(name)!r} is not supported (tuinet computes in float32 or float64)")


def _from_initializer(value, where: str):
    from tuinet.nn import initializers

    if value is None or isinstance(value, str):
        return value
    cls, config = _class_dict(value, where)
    name = _snake(cls)
    if name not in initializers.INITIALIZERS:
        raise _Refused(f"{where}: initializer {_shown(cls)!r} is not supported; tuinet has "
                       f"{', '.join(_camel(n) for n in initializers.names())}")
    config = dict(config)
    for key in ("input_axes", "output_axes"):
        if config.get(key, None) is not None:
            raise _Refused(f"{where}: {key}={_shown(config[key])} is not supported")
        config.pop(key, None)
    extra = set(config) - _accepted(initializers.INITIALIZERS[name])
    if extra:
        raise _Refused(f"{where}: {cls} setting {_shown(sorted(extra)[0])!r} is not supported")
    return initializers.serialize(initializers.get({"name": name, "config": config}))


def _from_regularizer(value, where: str):
    from tuinet.nn import regularizers

    if value is None or isinstance(value, str):
        return value
    cls, config = _class_dict(value, where)
    name = {"L1": "l1", "L2": "l2", "L1L2": "l1_l2"}.get(cls)
    if name is None:
        raise _Refused(f"{where}: regularizer {_shown(cls)!r} is not supported; tuinet has L1, L2, L1L2")
    return regularizers.serialize(regularizers.get({"name": name, "config": dict(config)}))


def _from_constraint(value, where: str):
    from tuinet.nn import constraints

    if value is None or isinstance(value, str):
        return value
    cls, config = _class_dict(value, where)
    if cls not in ("MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm") or _custom(value):
        raise _Refused(f"{where}: constraint {_shown(cls)!r} is not supported; tuinet has MaxNorm, MinMaxNorm, "
                       f"NonNeg, UnitNorm")
    return constraints.serialize(constraints.get({"class_name": cls, "config": dict(config)}))


def _custom(value: dict) -> bool:
    registered = value.get("registered_name")
    module = value.get("module")
    return (registered is not None and registered != value.get("class_name")) or (
        isinstance(module, str) and not module.startswith("keras"))


def _from_keras_layer(spec, where: str, parent: str | None = None) -> dict:
    """A Keras layer dict as tuinet's `{"class_name", "config"}`; `parent` names the wrapper
    class around it (Keras's Bidirectional sets `zero_output_for_mask` on its inner layers,
    which tuinet's Bidirectional does itself)."""
    from tuinet.nn.layers import LAYERS

    cls_name, config = _class_dict(spec, where)
    name = config.get("name")
    shown = f"layer {_shown(name)!r} ({_shown(cls_name)})" if isinstance(name, str) else f"layer {_shown(cls_name)}"
    cls = LAYERS.get(cls_name)
    if cls is None or _custom(spec):
        raise _Refused(f"{where}: layer class {_shown(cls_name)!r} is not supported by tuinet; supported: "
                       f"InputLayer, {', '.join(sorted(LAYERS))}")
    accepted = _accepted(cls)
    out: dict = {}
    for key, value in config.items():
        here = f"{shown}: {key}"
        if key == "dtype":
            value = _from_dtype(value, here)
            if value is not None:
                out["dtype"] = value
            continue
        if key in ("layer", "backward_layer") and isinstance(value, dict):
            out[key] = _from_keras_layer(value, here, parent=cls_name)
            continue
        if key == "zero_output_for_mask" and parent == "Bidirectional":
            continue
        if key.endswith("_initializer"):
            value = _from_initializer(value, here)
        elif key.endswith("_regularizer"):
            value = _from_regularizer(value, here)
        elif key.endswith("_constraint"):
            value = _from_constraint(value, here)
        elif key in ("activation", "recurrent_activation") and isinstance(value, dict):
            raise _Refused(f"{here}: only activations given by name are supported")
        if key in accepted:
            out[key] = value
        elif key in _HARMLESS or (key in _NEUTRAL and _NEUTRAL[key] == value) or value is None:
            continue
        else:
            raise _Refused(f"{here}={_shown(json.dumps(value), 40)} is not supported by tuinet")
    return {"class_name": cls_name, "config": out}


def _shape(value, where: str) -> list:
    if not isinstance(value, list) or not 1 <= len(value) <= _ser.MAX_NDIM or not all(
            d is None or (_ser._is_int(d) and 0 < d < 2 ** 40) for d in value):
        raise _Refused(f"{where}: expected a shape such as [null, 4], got {_ser._describe(value)}")
    return value


def _input_shape(spec: dict, where: str) -> list:
    config = spec.get("config") or {}
    for key in set(config) - _INPUT_LAYER_KEYS:
        if config[key] not in (None, False):
            raise _Refused(f"{where}: InputLayer field {_shown(key)!r} is not supported")
    for key in ("sparse", "ragged"):
        if config.get(key):
            raise _Refused(f"{where}: {key} inputs are not supported by tuinet")
    if config.get("batch_shape") is not None:
        return _shape(config["batch_shape"], f"{where}: batch_shape")[1:]
    if config.get("batch_input_shape") is not None:
        return _shape(config["batch_input_shape"], f"{where}: batch_input_shape")[1:]
    if config.get("shape") is not None:
        return _shape(config["shape"], f"{where}: shape")
    raise _Refused(f"{where}: the InputLayer has no shape")


def sequential_config(config: dict) -> dict:
    """A Keras `Sequential` config (the `config` of config.json) as `Sequential.get_config()`."""
    layers = config.get("layers")
    if not isinstance(layers, list):
        raise _Refused("config.json: the Sequential config has no layers list")
    shape = None
    out = []
    for i, spec in enumerate(layers):
        where = f"config.json: layers[{i}]"
        if isinstance(spec, dict) and spec.get("class_name") == "InputLayer":
            if out or shape is not None:
                raise _Refused(f"{where}: an InputLayer can only come first")
            shape = _input_shape(spec, where)
            continue
        if not out and shape is None and isinstance(spec, dict):
            build = spec.get("build_config") or {}
            if isinstance(build, dict) and build.get("input_shape") is not None:
                shape = _shape(build["input_shape"], f"{where}: build_config.input_shape")[1:]
        out.append(_from_keras_layer(spec, where))
    if shape is None and config.get("build_input_shape") is not None:
        shape = _shape(config["build_input_shape"], "config.json: build_input_shape")[1:]
    if not out:
        raise _Refused("config.json: the model has no layers")
    name = config.get("name", "sequential")
    if not isinstance(name, str):
        raise _Refused("config.json: the model's name must be a string")
    result = {"name": name, "seed": None, "layers": out}
    if shape is not None:
        result["input_shape"] = shape
    return result


def functional_config(config: dict) -> dict:
    """A Keras `Functional` config as tuinet's `{"class_name": "Functional", "config": ...}`
    (the layers translated, the graph kept: inbound_nodes, input_layers, output_layers)."""
    layers = config.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _Refused("config.json: the functional config has no layers list")
    out = []
    for i, spec in enumerate(layers):
        where = f"config.json: layers[{i}]"
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(
                spec.get("inbound_nodes"), list):
            raise _Refused(f"{where}: expected a layer with name and inbound_nodes")
        if spec.get("class_name") == "InputLayer":
            cfg = spec.get("config") or {}
            dtype = cfg.get("dtype") if isinstance(cfg.get("dtype"), str) else "float32"
            item = {"class_name": "InputLayer", "config": {"batch_shape": [None, *_input_shape(spec, where)],
                                                          "dtype": dtype, "name": spec["name"]}}
        else:
            item = _from_keras_layer(spec, where)
        nodes = [_from_keras_node(node) for node in spec["inbound_nodes"]]
        out.append({**item, "name": spec["name"], "inbound_nodes": nodes})
    result = {"name": config.get("name", "functional"), "trainable": config.get("trainable", True), "layers": out}
    for key in ("input_layers", "output_layers"):
        refs = config.get(key)
        if isinstance(refs, list) and len(refs) == 3 and isinstance(refs[0], str):
            refs, result["single_" + key.split("_")[0]] = [refs], True
        result[key] = refs
    return {"class_name": "Functional", "config": result}


def _from_keras_node(node):
    """A Keras node without the call arguments Keras writes at their defaults (an attention
    layer's `return_attention_scores=False`, `use_causal_mask=False`, absent masks); the graph
    builder checks the rest (`initial_state`, `key`, `use_causal_mask`, `training`)."""
    if not isinstance(node, dict) or not isinstance(node.get("kwargs"), dict):
        return node
    kwargs = {k: v for k, v in node["kwargs"].items() if not (k in _DEFAULT_CALL_ARGS and (v is None or v is False))}
    return {**node, "kwargs": kwargs}


MODEL_KINDS = {"Sequential": sequential_config, "Functional": functional_config}
"""Keras model class -> the function translating its config to tuinet's."""


def _compile(model, compile_config, label: str) -> None:
    from tuinet.nn import losses, optimizers

    from tuinet.nn import metrics as metrics_module

    if not isinstance(compile_config, dict):
        raise ModelFileError(f"{label}: config.json: compile_config must be an object")

    def plain(spec):  # a Keras object's config as tuinet's {"class_name", "config"}
        if isinstance(spec, dict):
            return {"class_name": spec.get("class_name"), "config": spec.get("config") or {}}
        return spec

    graph = type(model).__name__ == "Functional"
    try:
        opt = compile_config.get("optimizer") or "rmsprop"
        if isinstance(opt, dict):
            if _custom(opt) and opt.get("registered_name") not in (None, opt.get("class_name")):
                raise _Refused(f"optimizer {_shown(opt.get('registered_name'))!r} is a custom object")
            opt = {"class_name": opt.get("class_name"), "config": opt.get("config")}
            lr = (opt["config"] or {}).get("learning_rate") if isinstance(opt["config"], dict) else None
            if isinstance(lr, dict):
                opt["config"] = {**opt["config"], "learning_rate": {"class_name": lr.get("class_name"),
                                                                     "config": lr.get("config") or {}}}
        loss = _nested(compile_config.get("loss"), lambda spec: losses.get(plain(spec)))
        metrics = _nested(compile_config.get("metrics"), lambda spec: metrics_module.get(plain(spec))
                          if isinstance(spec, dict) else spec)
        weighted = _nested(compile_config.get("weighted_metrics"), lambda spec: metrics_module.get(plain(spec))
                           if isinstance(spec, dict) else spec)
        weights = compile_config.get("loss_weights")
        if graph:
            model.compile(optimizer=optimizers.get(opt), loss=loss, loss_weights=weights, metrics=metrics,
                          weighted_metrics=weighted)
        else:
            if weights is not None:
                raise _Refused("compile_config.loss_weights on a Sequential model is not supported")
            if metrics is not None and not isinstance(metrics, list):
                raise _Refused("compile_config.metrics must be a list")
            model.compile(optimizer=optimizers.get(opt), loss=loss, metrics=metrics or [],
                          weighted_metrics=weighted)
    except TuinetError as exc:
        raise ModelFileError(f"{label}: config.json: the compile settings cannot be used ({_shown(exc, 200)}); "
                             "load with compile=False") from None


# ====================================================================== reading HDF5
class _H5:
    """An opened, walked weights file: every dataset's path, shape and dtype, checked."""

    def __init__(self, h5py, f, label: str, budget: int, how: str) -> None:
        self.h5py, self.f, self.label = h5py, f, label
        self.datasets: dict[str, object] = {}
        self.groups: set[str] = set()
        count, total = 0, 0
        stack = [("", f)]
        while stack:
            prefix, group = stack.pop()
            for key in list(group.keys()):
                count += 1
                if count > MAX_H5_OBJECTS:
                    raise ModelFileError(f"{label}: the weights file holds more than {MAX_H5_OBJECTS:,} objects")
                path = f"{prefix}{key}"
                link = group.get(key, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    raise ModelFileError(f"{label}: the weights file links {_shown(path)!r} to another place "
                                         f"({type(link).__name__}); only plain groups and datasets are read")
                obj = group[key]
                if isinstance(obj, h5py.Group):
                    self.groups.add(path)
                    stack.append((path + "/", obj))
                elif isinstance(obj, h5py.Dataset):
                    self._check(path, obj)
                    total += obj.size * obj.dtype.itemsize
                    if total > budget:
                        raise ModelFileError(f"{label}: the weights file declares {total:,} bytes of arrays (dataset "
                                             f"{_shown(path)!r}: shape {obj.shape}), over the budget of {budget:,} "
                                             f"bytes ({how})")
                    self.datasets[path] = obj
                else:
                    raise ModelFileError(f"{label}: the weights file holds {_shown(path)!r}, neither a group nor a "
                                         "dataset")
        self.elements = sum(d.size for d in self.datasets.values())

    def _check(self, path: str, ds) -> None:
        label = self.label
        dtype = ds.dtype
        if dtype.kind not in "fiub" or dtype.names is not None or dtype.subdtype is not None or dtype.itemsize > 8 \
                or dtype.hasobject:
            raise ModelFileError(f"{label}: dataset {_shown(path)!r} holds dtype {_shown(dtype)}; weights are numbers")
        if ds.attrs.get("dtype", None) is not None:
            raise ModelFileError(f"{label}: dataset {_shown(path)!r} is stored as "
                                 f"{_shown(ds.attrs.get('dtype'))}, which tuinet does not read")
        if ds.shape is None or len(ds.shape) > _ser.MAX_NDIM:
            raise ModelFileError(f"{label}: dataset {_shown(path)!r} has no usable shape")
        if ds.is_virtual or ds.external or ds.compression is not None or ds.scaleoffset is not None:
            raise ModelFileError(f"{label}: dataset {_shown(path)!r} uses external, virtual or compressed storage, "
                                 "which Keras never writes")

    def vars(self, group_path: str) -> list[str]:
        """The dataset names in `<group_path>/vars` ([] when the group is absent)."""
        prefix = f"{group_path}/vars/" if group_path else "vars/"
        return sorted((p[len(prefix):] for p in self.datasets if p.startswith(prefix) and "/" not in p[len(prefix):]),
                      key=lambda k: (len(k), k))

    def read(self, path: str, shape: tuple, dtype: np.dtype) -> np.ndarray:
        ds = self.datasets.get(path)
        if ds is None:
            raise ModelFileError(f"{self.label}: the weights file has no dataset {_shown(path)!r}")
        if tuple(ds.shape) != tuple(shape):
            raise ModelFileError(f"{self.label}: dataset {_shown(path)!r} has shape {tuple(ds.shape)}, the layer "
                                 f"needs {tuple(shape)}")
        out = np.empty(ds.shape, dtype=ds.dtype.newbyteorder("="))
        if out.size:
            ds.read_direct(out)
        return out.astype(dtype, copy=False)


def _layer_plan(h5: _H5, model) -> list[tuple[object, str, str, tuple, np.dtype]]:
    """(layer, weight key, dataset path, shape, dtype) of every weight; shapes checked here,
    before any dataset is read."""
    plan = []
    for layer, path in _layer_paths(model):
        for group_path, _, keys in _nodes(layer, path):
            found = h5.vars(group_path)
            if not keys and not found:
                continue
            if found != [str(i) for i in range(len(keys))]:
                raise ModelFileError(f"{h5.label}: layer {_shown(layer.name)!r} ({type(layer).__name__}) has "
                                     f"{len(keys)} weights, the file holds {len(found)} under "
                                     f"{_shown(group_path)!r}/vars")
            for i, key in enumerate(keys):
                ds_path = f"{group_path}/vars/{i}"
                target = layer.weight(key)
                got = tuple(h5.datasets[ds_path].shape)
                if got != target.shape:
                    raise ModelFileError(f"{h5.label}: dataset {_shown(ds_path)!r} has shape {got}, layer "
                                         f"{_shown(layer.name)!r} needs {target.shape} for its weight {key!r}")
                plan.append((layer, key, ds_path, target.shape, target.dtype))
    return plan


def _load_layers(h5: _H5, model) -> None:
    plan = _layer_plan(h5, model)
    values: dict[int, dict[str, np.ndarray]] = {}
    for layer, key, path, shape, dtype in plan:
        values.setdefault(id(layer), {})[key] = h5.read(path, shape, dtype)
    for layer in model.layers:
        if layer.weight_names:
            got = values.get(id(layer), {})
            missing = [k for k in layer.weight_names if k not in got]
            if missing:
                raise ModelFileError(f"{h5.label}: the weights file has no weights for layer {_shown(layer.name)!r}")
            layer.set_weights([got[k] for k in layer.weight_names])


def _load_optimizer(h5: _H5, model) -> None:
    """Restore the optimizer's slots when the file holds them in the layout this model's
    optimizer has; an optimizer Keras never built (no slots) starts afresh."""
    from tuinet.nn import schedules

    opt = model.optimizer
    found = h5.vars("optimizer")
    if opt is None or not found:
        return
    entries = _trainable_entries(model)
    lr_vars = 0 if isinstance(opt._learning_rate, schedules.LearningRateSchedule) else 1
    if found != [str(i) for i in range(len(found))] or entries is None:
        warnings.warn(f"tuinet: {h5.label}: the optimizer's variables are not in a layout tuinet reads; "
                      "training resumes with fresh optimizer slots", stacklevel=4)
        return
    blocks = _slot_blocks(opt)
    scalars = ["u_product"] if "u_product" in opt.get_state() else []
    expected = 1 + lr_vars + sum(len(b) for b in blocks) * len(entries) + len(scalars)
    if len(found) <= 1 + lr_vars:
        return  # Keras had not built its optimizer: no slots yet
    if len(found) != expected:
        warnings.warn(f"tuinet: {h5.label}: the file holds {len(found)} optimizer variables, "
                      f"{type(opt).__name__} here has {expected}; training resumes with fresh optimizer slots",
                      stacklevel=4)
        return
    it = h5.read("optimizer/vars/0", (), np.dtype(np.int64))
    if not 0 <= int(it) < 2 ** 53:
        raise ModelFileError(f"{h5.label}: the optimizer's iteration count {int(it)} is not a count")
    # Shapes first, then the values.
    order, i = [], 1 + lr_vars
    for block in blocks:
        for layer, k in entries:
            for slot in block:
                path = f"optimizer/vars/{i}"
                shape = layer.params[k].shape
                if tuple(h5.datasets[path].shape) != shape:
                    raise ModelFileError(f"{h5.label}: optimizer variable {i} has shape "
                                         f"{tuple(h5.datasets[path].shape)}, the weight {layer.name}/{k} is {shape}")
                order.append((slot, layer, k, path))
                i += 1
    key = next(iter(model._groups))
    dtype = model._flat_params[key].dtype
    state: dict[str, np.ndarray] = {"iterations": np.array(int(it), dtype=np.int64)}
    parts: dict[str, list] = {}
    for slot, layer, k, path in order:
        parts.setdefault(slot, []).append(h5.read(path, layer.params[k].shape, dtype).reshape(-1))
    for slot, chunks in parts.items():
        state[f"{key}/{slot}"] = np.concatenate(chunks) if chunks else np.zeros(0, dtype)
    for name in scalars:
        state[name] = h5.read(f"optimizer/vars/{i}", (), np.dtype(np.float64))
    opt.set_state(state)


def _open_h5(h5py, raw, label: str, budget: int, how: str):
    try:
        f = h5py.File(raw, "r")
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError, ValueError... for a damaged file
        raise ModelFileError(f"{label}: the weights are not a valid HDF5 file ({_shown(exc, 120)})") from None
    try:
        return _H5(h5py, f, label, budget, how)
    except BaseException:
        f.close()
        raise


# ====================================================================== reading .keras
def _parse_json(label: str, raw: bytes, member: str, depth_limit: int = _ser.MAX_JSON_DEPTH):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{label}: {member} is not UTF-8 ({_shown(exc, 120)})") from None
    depth = _ser._json_depth(raw)
    if depth > depth_limit:
        raise ModelFileError(f"{label}: {member} nests {depth} levels deep; at most {depth_limit}")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{label}: {member} is not valid JSON ({_shown(exc, 120)})") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"{label}: {member} must hold a JSON object, got {type(value).__name__}")
    return value


def _damaged(label: str, exc) -> ModelFileError:
    return ModelFileError(f"{label}: not a valid .keras file: the archive is truncated or damaged "
                          f"({_shown(exc, 120)})")


def _read_zip(path, label: str, chosen) -> tuple[dict, bytes, int, str]:
    """(config.json, the weights' bytes, budget, how) of a checked `.keras` zip."""
    f, size = _open_regular(path, label)
    with f:
        zf = _ser.open_zip(f, label, "not a .keras file (expected a zip archive as Keras 3 writes", _damaged)
        with zf:
            try:
                infos = zf.infolist()
                names = [i.filename for i in infos]
                for name in names:
                    if name not in (CONFIG, METADATA, WEIGHTS):
                        hint = " (assets are not supported)" if name.startswith("assets") else ""
                        if name == "model.weights.npz":
                            hint = " (npz weights are not supported; save with the default h5 weights)"
                        raise ModelFileError(f"{label}: unexpected member {_shown(name)!r} in the archive{hint}; a "
                                             f".keras file holds {METADATA}, {CONFIG} and {WEIGHTS}")
                if len(set(names)) != len(names):
                    raise ModelFileError(f"{label}: the archive holds a member twice")
                for required in (CONFIG, WEIGHTS):
                    if required not in names:
                        raise ModelFileError(f"{label}: not a .keras file: the archive has no {required}")
                for info in infos:
                    _check_member(f, size, label, info)
                budget, how = _budget(size, chosen)
                total = sum(i.file_size for i in infos)
                if total > budget:
                    raise ModelFileError(f"{label}: the archive inflates to {total:,} bytes, over the budget of "
                                         f"{budget:,} bytes ({how})")
                limits = {CONFIG: MAX_CONFIG_BYTES, METADATA: MAX_METADATA_BYTES}
                for name, limit in limits.items():
                    if name in names and zf.getinfo(name).file_size > limit:
                        raise ModelFileError(f"{label}: {name} is {zf.getinfo(name).file_size:,} bytes; at most "
                                             f"{limit:,}")
                config = _parse_json(label, zf.read(CONFIG), CONFIG)
                if METADATA in names:
                    _parse_json(label, zf.read(METADATA), METADATA, depth_limit=4)
                weights = zf.read(WEIGHTS)
            except ModelFileError:
                raise
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error, struct.error, ValueError) as exc:
                raise _damaged(label, exc) from None
    return config, weights, budget, how


def load_keras(path, compile: bool = True, max_bytes: int | None = None):
    """Load a `.keras` file written by Keras 3 (or by `save_keras`) as a tuinet model.

    Args:
        path: The `.keras` file.
        compile: Compile with the saved settings and restore the optimizer's variables.
        max_bytes: Cap on what the file may inflate to; see `tuinet.nn.serialization`.

    Raises:
        ModelFileError: one line naming the file: missing, damaged, foreign, too large, or using
            a layer or feature tuinet does not have.
    """
    label = _label(path)
    chosen = user_budget(label, max_bytes)
    config, weights, budget, how = _read_zip(path, label, chosen)
    h5py = _h5py(label, "reading .keras files")
    try:
        kind = config.get("class_name")
        translate = MODEL_KINDS.get(kind)
        if translate is None or _custom(config):
            raise ModelFileError(f"{label}: config.json: model class {_shown(kind)!r} is not supported; tuinet "
                                 f"reads {', '.join(MODEL_KINDS)} models")
        inner = config.get("config")
        if not isinstance(inner, dict):
            raise ModelFileError(f"{label}: config.json: the model's config must be an object")
        try:
            tconfig = translate(inner)
        except _Refused as exc:
            raise ModelFileError(f"{label}: {exc}") from None
        h5 = _open_h5(h5py, io.BytesIO(weights), label, budget, how)
        try:
            model = _ser._rebuild(label, tconfig, h5.elements)
            if not model.built:
                raise ModelFileError(f"{label}: config.json: the model has no input shape")
            _load_layers(h5, model)
            compile_config = config.get("compile_config")
            if compile and compile_config and not (isinstance(compile_config, dict)
                                                   and compile_config.get("loss") is None):
                _compile(model, compile_config, label)
                _load_optimizer(h5, model)
        finally:
            h5.f.close()
        return model
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure of a crafted file is a ModelFileError
        raise _ser._net(label, exc, "the Keras model cannot be rebuilt") from None


def load_weights_h5(model, path, max_bytes: int | None = None) -> None:
    """Load a `.weights.h5` file (Keras 3's `save_weights` layout) into `model`; the optimizer's
    variables too when the model is compiled and the file holds them."""
    label = _label(path)
    chosen = user_budget(label, max_bytes)
    h5py = _h5py(label, "reading .weights.h5 files")
    f, size = _open_regular(path, label)
    with f:
        head = f.read(8)
        if head != b"\x89HDF\r\n\x1a\n":
            raise ModelFileError(f"{label}: not a .weights.h5 file (expected an HDF5 file as Keras 3's "
                                 "save_weights writes)")
        budget, how = _budget(size, chosen)
        f.seek(0)
        try:
            raw = f.read()
        except OSError as exc:
            raise ModelFileError(f"{label}: cannot read the file ({_shown(exc.strerror or exc)})") from None
    try:
        model._require_built("load_weights")
        h5 = _open_h5(h5py, io.BytesIO(raw), label, budget, how)
        try:
            if "layers" not in h5.groups and "_layer_checkpoint_dependencies" in h5.groups:
                raise ModelFileError(f"{label}: a Keras 2 weights file; tuinet reads Keras 3's layout")
            _load_layers(h5, model)
            if model.optimizer is not None:
                _load_optimizer(h5, model)
        finally:
            h5.f.close()
    except ModelFileError:
        raise
    except TuinetError as exc:
        raise ModelFileError(f"{label}: the weights do not fit this model: {_shown(exc, 300)}") from None
    except Exception as exc:  # noqa: BLE001
        raise _ser._net(label, exc, "the weights cannot be loaded") from None

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

__all__ = ["Model", "Sequential", "load_model", "save_model", "model_from_json"]

MODEL_UNSUPPORTED = ("tuinet.Model: the functional API and Model subclasses are not supported yet; "
                     "build the model with tuinet.Sequential([...])")


class Model(metaclass=abc.ABCMeta):
    """`keras.Model`, for `isinstance` checks only: `isinstance(seq, tuinet.Model)` holds for a
    `Sequential`, as in Keras.

    Creating one, as `Model(inputs, outputs)` (the functional API) or through a subclass with a
    `call()` method, raises a one-line `ConfigError` naming `tuinet.Sequential`: tuinet has no
    automatic differentiation to trace an arbitrary `call` graph.
    """

    def __new__(cls, *args, **kwargs):
        raise ConfigError(MODEL_UNSUPPORTED)


Model.register(Sequential)


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
    if not isinstance(spec, dict) or spec.get("class_name") != "Sequential" or not isinstance(spec.get("config"), dict):
        raise ConfigError("model_from_json: expected the JSON of a Sequential model "
                          '({"class_name": "Sequential", "config": {...}}), as model.to_json() writes')
    return Sequential.from_config(spec["config"])


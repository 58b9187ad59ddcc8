"""tuinet: train neural networks in the terminal and watch them learn.

`import tuinet` gives the engine with a Keras-compatible API; it never imports the UI stack
(textual, plotext, click), which loads only when the app or the CLI starts.

    from tuinet import Sequential, layers, optimizers
    model = Sequential([layers.Dense(16, input_shape=(2,), activation="relu"),
                        layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=20, validation_split=0.1)
"""

from tuinet.__about__ import __version__
from tuinet.errors import (ConfigError, DivergenceError, ModelFileError, NotBuiltError, ShapeError,
                           TuinetError)
from tuinet.nn import (activations, backend, callbacks, constraints, initializers, layers, losses, metrics,
                       optimizers, regularizers, schedules)
from tuinet.nn.layers import Input
from tuinet.nn.model import Sequential
from tuinet.nn.random import set_random_seed
from tuinet.nn.serialization import load_model
from tuinet import models, preprocessing, utils  # noqa: E402 - keras.models / preprocessing / utils
from tuinet.models import Model  # noqa: E402 - keras.Model: the functional API and traced subclasses
from tuinet import config, datasets  # noqa: E402 - keras.config, keras.datasets (from Keras's cache)
from tuinet.nn.functional import KerasTensor  # noqa: E402
from tuinet.nn.layers.base import Layer  # noqa: E402 - keras.Layer
from tuinet.nn.losses import Loss  # noqa: E402 - keras.Loss
from tuinet.nn.metrics import Metric  # noqa: E402 - keras.Metric
from tuinet.nn.optimizers import Optimizer  # noqa: E402 - keras.Optimizer
from tuinet.nn.variables import Variable  # noqa: E402 - keras.Variable


def _alias_submodules() -> None:
    """`from tuinet.layers import Dense`, `import tuinet.optimizers.schedules` work as with
    `keras.layers`: the engine's modules are also importable under tuinet's top-level names."""
    import sys

    for name in ("activations", "backend", "callbacks", "constraints", "initializers", "layers", "losses", "metrics",
                 "optimizers", "regularizers", "schedules"):
        sys.modules.setdefault(f"{__name__}.{name}", getattr(sys.modules[__name__], name))
    sys.modules.setdefault(f"{__name__}.optimizers.schedules", schedules)


_alias_submodules()


def version() -> str:
    """`keras.version()`: the version of tuinet."""
    return __version__

__all__ = ["__version__", "TuinetError", "ConfigError", "ShapeError", "NotBuiltError", "ModelFileError",
           "DivergenceError", "activations", "backend", "callbacks", "constraints", "initializers", "layers", "losses", "metrics",
           "optimizers", "regularizers", "schedules", "Input", "Model", "Sequential", "set_random_seed", "load_model", "models", "preprocessing", "utils", "config", "datasets", "KerasTensor", "Layer", "Loss", "Metric",
           "Optimizer", "Variable", "version"]

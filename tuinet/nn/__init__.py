"""The engine: NumPy layers, losses, optimizers and the Sequential model (no UI imports)."""

from tuinet.nn import (activations, backend, callbacks, constraints, initializers, layers, losses, metrics,
                       optimizers, regularizers, schedules)
from tuinet.nn.layers import Input
from tuinet.nn.model import Sequential
from tuinet.nn.random import set_random_seed
from tuinet.nn.serialization import load_model

__all__ = ["activations", "backend", "callbacks", "constraints", "initializers", "layers", "losses", "metrics", "optimizers",
           "regularizers", "schedules", "Input", "Sequential", "set_random_seed", "load_model"]

"""`InputLayer`: where a model's data enters; `tuinet.Input(shape)` returns its symbolic tensor."""

from __future__ import annotations

from tuinet.errors import ConfigError
from tuinet.nn.layers.base import Layer

_INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


class InputLayer(Layer):
    """Declares the shape of one sample (no batch axis). It holds no weights and computes nothing.

    `tuinet.Input(shape)` makes one and returns its output tensor, which starts a functional
    model; a Sequential model takes either (`Sequential([Input((28, 28, 1)), ...])`) and records
    the shape.

    Args:
        shape: The shape of one sample, e.g. `(2,)` or `(28, 28, 1)`; `None` entries allow any
            size (the time axis of variable-length sequences).
        batch_shape: Keras's alternative: the shape with the batch axis first.
        dtype: "float32" (default), "float64", or an integer type for ids fed to Embedding.
    """

    def __init__(self, shape=None, *, batch_size=None, dtype=None, name=None, input_shape=None, batch_shape=None,
                 sparse=None, ragged=None, optional=False, trainable=True) -> None:
        if sparse or ragged:
            raise ConfigError("Input: sparse and ragged inputs are not supported")
        if shape is None and input_shape is not None:
            shape = input_shape
        if shape is None and batch_shape is not None:
            if not isinstance(batch_shape, (tuple, list)) or len(batch_shape) < 2:
                raise ConfigError(f"Input: batch_shape must be a tuple such as (None, 28, 28, 1), got {batch_shape!r}")
            shape = tuple(batch_shape)[1:]
        if isinstance(shape, int):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not shape or not all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in shape
        ):
            raise ConfigError(f"Input: shape must be a tuple of positive ints such as (2,) or (28, 28, 1), got {shape!r}")
        if dtype is not None and not isinstance(dtype, str):
            dtype = getattr(dtype, "name", None) or getattr(dtype, "__name__", None) or str(dtype)
        if dtype is not None and dtype not in (*_INT_DTYPES, "float32", "float64"):
            raise ConfigError(f"Input: dtype must be float32, float64 or an integer type, got {dtype!r}")
        super().__init__(name=name, trainable=trainable)
        self.shape = tuple(shape)
        self.input_dtype = dtype
        self.output_shape = self.shape
        self.input_shape = self.shape
        self.built = True
        self.needs_input_grad = False
        self._tensor = None

    @classmethod
    def default_name(cls) -> str:
        return "input_layer"

    @property
    def output(self):
        """The symbolic tensor this input provides (made on first use)."""
        if self._tensor is None:
            from tuinet.nn import backend
            from tuinet.nn.functional import KerasTensor, Node, unique_name

            if self.name is None:
                self.name = unique_name(self.default_name())
            node = Node(self, [], False, None)
            dtype = self.input_dtype or backend.floatx().name
            node.outputs = [KerasTensor((None, *self.shape), dtype, self.name, node, 0)]
            self._tensor = node.outputs[0]
        return self._tensor

    def forward(self, x, *, training=False):
        return x

    def backward(self, grad_out):
        return grad_out

    def get_config(self) -> dict:
        return {"batch_shape": [None, *self.shape], "dtype": self.input_dtype or "float32", "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> "InputLayer":
        cfg = dict(config)
        for key in ("sparse", "ragged", "optional"):
            cfg.pop(key, None)
        if cfg.get("dtype") == "float32":
            cfg["dtype"] = None
        if cfg.get("batch_shape") is not None:
            cfg["batch_shape"] = tuple(cfg["batch_shape"])
        return cls(**cfg)


def Input(shape=None, batch_size=None, dtype=None, name=None, **kwargs):  # noqa: N802 - Keras name
    """Keras's `keras.Input(shape=(...))`: a symbolic tensor for a functional or Sequential model."""
    from tuinet.nn.functional import Input as functional_input

    return functional_input(shape, batch_size=batch_size, dtype=dtype, name=name, **kwargs)

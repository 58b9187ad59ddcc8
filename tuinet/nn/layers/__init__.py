"""Layers by Keras name, and (de)serialization of layer configs."""

from __future__ import annotations

from tuinet.errors import ConfigError, unknown_name
from tuinet.nn.layers.attention import Attention, MultiHeadAttention
from tuinet.nn.layers.augmentation import RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom
from tuinet.nn.layers.base import Layer
from tuinet.nn.layers.conv import Conv1D, Conv2D
from tuinet.nn.layers.conv_extra import Conv1DTranspose, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from tuinet.nn.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from tuinet.nn.layers.embedding import Embedding
from tuinet.nn.layers.extra import (ELU, Cropping1D, Cropping2D, GaussianDropout, GaussianNoise, LeakyReLU, Normalization,
                                    Permute, PReLU, ReLU, RepeatVector, Rescaling, Softmax, SpatialDropout1D,
                                    SpatialDropout2D, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D)
from tuinet.nn.layers.input_layer import Input, InputLayer
from tuinet.nn.layers.merge import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add,
                                    average, concatenate, dot, maximum, minimum, multiply, subtract)
from tuinet.nn.layers.normalization import BatchNormalization, LayerNormalization
from tuinet.nn.layers.pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D,
                                      GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D,
                                      MaxPooling2D)
from tuinet.nn.layers.recurrent import GRU, LSTM, SimpleRNN
from tuinet.nn.layers.small import ActivityRegularization, AlphaDropout, Identity, Lambda, Masking, UnitNormalization
from tuinet.nn.layers.text import CategoryEncoding, IntegerLookup, StringLookup, TextVectorization
from tuinet.nn.layers.wrappers import Bidirectional, TimeDistributed

LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (Dense, Activation, Dropout, Flatten, Reshape, BatchNormalization, LayerNormalization, Conv1D, Conv2D,
                MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D,
                GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, SimpleRNN, LSTM, GRU, Embedding,
                DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, Conv1DTranspose,
                ReLU, LeakyReLU, PReLU, ELU, Softmax, RepeatVector, Permute, ZeroPadding1D, ZeroPadding2D, Cropping1D,
                Cropping2D, UpSampling1D, UpSampling2D, GaussianNoise, GaussianDropout, SpatialDropout1D,
                SpatialDropout2D, Rescaling, Normalization, TimeDistributed, Bidirectional,
                RandomFlip, RandomContrast, RandomTranslation, RandomRotation, RandomZoom,
                Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot,
                Identity, Masking, UnitNormalization, ActivityRegularization, AlphaDropout, Lambda,
                MultiHeadAttention, Attention, TextVectorization, StringLookup, IntegerLookup, CategoryEncoding)
}


def serialize(layer: Layer) -> dict:
    """`{"class_name": "Dense", "config": {...}}`, JSON-friendly."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(spec: dict) -> Layer:
    """Rebuild an (unbuilt) layer from `serialize`'s output."""
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ConfigError(f"a layer spec must be a dict with 'class_name' and 'config', got {spec!r}")
    if spec["class_name"] in ("Sequential", "Functional"):  # a model used as a layer
        from tuinet.nn.functional import Functional
        from tuinet.nn.model import Sequential

        config = dict(spec.get("config") or {})
        if spec["class_name"] == "Sequential":
            return Sequential.from_config(config, build=False)
        return Functional.from_config(config)
    cls = LAYERS.get(spec["class_name"])
    if cls is None:
        raise unknown_name("layer type", spec["class_name"], LAYERS)
    try:
        return cls.from_config(dict(spec.get("config") or {}))
    except TypeError as exc:
        raise ConfigError(f"{spec['class_name']}: bad config ({exc})") from None


def get(name: str) -> type[Layer]:
    """The layer class for a Keras class name ("Dense", "Conv2D"...), case-insensitive."""
    for key, cls in (*LAYERS.items(), *ALIASES.items()):  # Keras's aliases too: MaxPool2D, Convolution2D...
        if key.lower() == str(name).lower():
            return cls
    raise unknown_name("layer type", name, LAYERS)


__all__ = ["LAYERS", "Layer", "Input", "InputLayer", "serialize", "deserialize", "get", *LAYERS,
           # Keras's functional merge helpers: `layers.add([a, b])` is `Add()([a, b])`.
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]
globals().update(LAYERS)

# Keras's other names for the same classes (`keras.layers.MaxPool2D is keras.layers.MaxPooling2D`). They
# are not LAYERS keys: those are the class names written in files.
ALIASES: dict[str, type[Layer]] = {
    "AvgPool1D": AveragePooling1D, "AvgPool2D": AveragePooling2D, "MaxPool1D": MaxPooling1D, "MaxPool2D": MaxPooling2D,
    "GlobalAvgPool1D": GlobalAveragePooling1D, "GlobalAvgPool2D": GlobalAveragePooling2D,
    "GlobalMaxPool1D": GlobalMaxPooling1D, "GlobalMaxPool2D": GlobalMaxPooling2D,
    "Convolution1D": Conv1D, "Convolution2D": Conv2D, "Convolution1DTranspose": Conv1DTranspose,
    "Convolution2DTranspose": Conv2DTranspose, "SeparableConvolution2D": SeparableConv2D,
}
globals().update(ALIASES)
__all__ += list(ALIASES)

"""Keras 3's text and categorical preprocessing layers: `TextVectorization`, `StringLookup`,
`IntegerLookup` and `CategoryEncoding`.

Each follows its Keras 3 counterpart (`keras/src/layers/preprocessing/text_vectorization.py`,
`string_lookup.py`, `integer_lookup.py`, `index_lookup.py`, `category_encoding.py`), computed
with NumPy and plain Python instead of TensorFlow's string ops:

- `adapt` orders the vocabulary as Keras does: by count, most frequent first, ties broken by
  the token itself from high to low (Keras's `np.lexsort((tokens, counts))[::-1]`).
- Standardization is TensorFlow's: `lower` lowercases ASCII letters only (`tf.strings.lower`),
  punctuation is Keras's regex, and `split="whitespace"` splits on ASCII whitespace only.
- tf-idf weights are `log(1 + documents / (1 + document_count))`, the OOV slot taking their mean.

tuinet's models take numeric arrays, so `TextVectorization` and `StringLookup` work on the data
before the model (`x = vectorizer(texts)`), and refuse to be a model layer. `IntegerLookup` and
`CategoryEncoding` are numeric: inside a model their inputs are ids, so no gradient flows back
through them (like `Lambda`, they refuse a backward pass that would need one).

Differences from Keras: `multi_hot` and `count` outputs are float32 (Keras returns int64 for the
lookup layers while declaring floatx in its symbolic output spec), `sparse=True`, `ragged=True`,
callable `standardize`/`split` and `StringLookup(num_oov_indices > 1)` (FarmHash buckets) are
refused, and an adapted vocabulary is written into `get_config()` so a config round trip keeps it.
"""

from __future__ import annotations

import collections
import math
import re

import numpy as np

from tuinet.errors import ConfigError, DataError, ShapeError
from tuinet.nn.layers.base import Layer

#: Keras's punctuation regex (`TextVectorization`, standardize="...strip_punctuation").
PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")  # TensorFlow's string split: ASCII whitespace only
_OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_MODEL_HINT = "use it on the data before the model: x = vectorizer(texts)"


def _label(layer: Layer) -> str:
    return f"{type(layer).__name__} {layer.name!r}" if layer.name else type(layer).__name__


def _output_mode(layer: str, value, choices=_OUTPUT_MODES) -> str:
    value = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(value, value)
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{layer}: output_mode must be one of {', '.join(choices)}, got {value!r}")
    return value


def _refuse(layer: str, **flags) -> None:
    for arg, value in flags.items():
        if value:
            raise ConfigError(f"{layer}: {arg}=True is not supported in tuinet (its layers return dense NumPy "
                              f"arrays); leave {arg}=False")


def _strings(x, layer: str) -> np.ndarray:
    """`x` (a str, a list or a NumPy array of str or bytes) as an object array of Python str."""
    arr = np.asarray(x, dtype=object) if isinstance(x, (list, tuple)) else np.asarray(x)
    if arr.dtype.kind == "U":
        return arr.astype(object)
    if arr.dtype.kind == "S":
        return np.char.decode(arr, "utf-8").astype(object)
    if arr.dtype.kind == "O":
        out = np.empty(arr.shape, dtype=object)
        for i, v in np.ndenumerate(arr):
            if isinstance(v, bytes):
                v = v.decode("utf-8")
            if not isinstance(v, str):
                raise DataError(f"{layer}: expects strings, got a {type(v).__name__} ({v!r})")
            out[i] = v
        return out
    raise DataError(f"{layer}: expects strings (a list or NumPy array of str), got an array of {arr.dtype}")


def _ints(x, layer: str) -> np.ndarray:
    """`x` as an int64 array: integer arrays, or floats holding whole numbers (a model's ids)."""
    arr = np.asarray(x)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise DataError(f"{layer}: expects integer ids, got an array of {arr.dtype}"
                    + (" with non-integer values" if arr.dtype.kind == "f" else ""))


def _rows(arr: np.ndarray) -> list:
    """A dense token array as per-document rows (Keras's `update_state`: rank 0 and 1 are one row)."""
    if arr.ndim <= 1:
        return [list(arr.reshape(-1))]
    return [list(r) for r in arr.reshape(arr.shape[0], -1)]


def encode(ids, output_mode: str, depth: int, *, dtype=np.float32, count_weights=None) -> np.ndarray:
    """Keras's `encode_categorical_inputs`: ids to one_hot / multi_hot / count vectors of `depth`.

    `ids` is a dense int array or a list of 1-D rows (ragged). Dense inputs of rank 0 or 1 are
    one sample for multi_hot and count; one_hot adds an axis (dropping a trailing axis of 1).
    Ids outside `[0, depth)` add nothing (the lookup layers' mask token).
    """
    if isinstance(ids, list):  # ragged rows
        out = np.zeros((len(ids), depth), dtype=dtype)
        if not ids:
            return out
        lengths = [len(r) for r in ids]
        flat = np.concatenate([np.asarray(r, dtype=np.int64).reshape(-1) for r in ids]) if sum(lengths) else \
            np.zeros(0, np.int64)
        rows = np.repeat(np.arange(len(ids)), lengths)
        weights = None if count_weights is None else np.concatenate(
            [np.asarray(w, dtype=dtype).reshape(-1) for w in count_weights])
        return _scatter(out, rows, flat, output_mode, weights)
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim == 0:
        ids = ids[None]
        if count_weights is not None:
            count_weights = np.asarray(count_weights).reshape(1)
    if output_mode == "one_hot":
        if ids.ndim > 1 and ids.shape[-1] == 1:
            ids = ids[..., 0]
        return (ids[..., None] == np.arange(depth)).astype(dtype)
    lead = ids.shape[:-1]
    flat_ids = ids.reshape(-1, ids.shape[-1])
    out = np.zeros((flat_ids.shape[0], depth), dtype=dtype)
    rows = np.repeat(np.arange(flat_ids.shape[0]), flat_ids.shape[1])
    weights = None if count_weights is None else np.asarray(count_weights, dtype=dtype).reshape(-1)
    return _scatter(out, rows, flat_ids.reshape(-1), output_mode, weights).reshape(*lead, depth)


def _scatter(out, rows, ids, output_mode, weights):
    keep = (ids >= 0) & (ids < out.shape[1])
    rows, ids = rows[keep], ids[keep]
    if output_mode == "multi_hot":
        out[rows, ids] = 1
    else:  # count (tf_idf counts first)
        np.add.at(out, (rows, ids), 1 if weights is None else weights[keep])
    return out


# ------------------------------------------------------------------------------------ IndexLookup
class _IndexLookup(Layer):
    """Keras's `IndexLookup`, the engine of StringLookup, IntegerLookup and TextVectorization."""

    _strings = True

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 **kwargs) -> None:
        kind = type(self).__name__
        kwargs.pop("vocabulary_size", None)  # Keras writes it in configs; it follows from the vocabulary
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        salt = kwargs.pop("salt", None)
        oov_method = kwargs.pop("oov_method", "floormod")
        super().__init__(**kwargs)
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, np.integer))
                                       or max_tokens <= 1):
            raise ConfigError(f"{kind}: max_tokens must be None or an integer greater than 1, got {max_tokens!r}")
        if pad_to_max_tokens and max_tokens is None:
            raise ConfigError(f"{kind}: pad_to_max_tokens=True needs max_tokens")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, (int, np.integer)) \
                or num_oov_indices < 0:
            raise ConfigError(f"{kind}: num_oov_indices must be an integer >= 0, got {num_oov_indices!r}")
        if oov_method not in ("floormod", "farmhash") or (oov_method == "farmhash" or salt is not None):
            if oov_method not in ("floormod", "farmhash"):
                raise ConfigError(f"{kind}: oov_method must be 'floormod' or 'farmhash', got {oov_method!r}")
            raise ConfigError(f"{kind}: FarmHash OOV buckets (oov_method='farmhash', salt) are not supported in "
                              "tuinet; leave oov_method='floormod' and salt=None")
        if self._strings and num_oov_indices > 1:
            raise ConfigError(f"{kind}: num_oov_indices > 1 hashes strings with FarmHash, which tuinet does not "
                              f"implement; use num_oov_indices=1 (or 0), got {num_oov_indices}")
        output_mode = _output_mode(kind, output_mode)
        if invert and output_mode != "int":
            raise ConfigError(f"{kind}: invert=True needs output_mode='int', got {output_mode!r}")
        _refuse(kind, sparse=sparse)
        if idf_weights is not None and output_mode != "tf_idf":
            raise ConfigError(f"{kind}: idf_weights may only be set when output_mode='tf_idf'")
        if output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None:
            raise ConfigError(f"{kind}: with a vocabulary and output_mode='tf_idf', pass idf_weights too")
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.invert = bool(invert)
        self.output_mode = output_mode
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.sparse = False
        self.input_vocabulary = None if isinstance(vocabulary, str) else _listify(vocabulary)
        self.input_idf_weights = _listify(idf_weights)
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._tokens: list = []  # the vocabulary, special tokens excluded
        self._index: dict = {}
        self._idf: np.ndarray | None = None
        self._frozen_vocab_size: int | None = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # -- indices (Keras's `_oov_start_index`, `_token_start_index`) --------------------------
    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    def _tokens_of(self, x) -> np.ndarray:
        return _strings(x, _label(self)) if self._strings else _ints(x, _label(self))

    def _token(self, value):
        return value if self._strings else int(value)

    # -- vocabulary -------------------------------------------------------------------------
    def vocabulary_size(self) -> int:
        """The size of the vocabulary, mask and OOV indices included."""
        return len(self._tokens) + self._token_start()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary: a term's index in the list is its id (mask and OOV tokens first)."""
        vocab = [self.oov_token] * self._token_start() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        return vocab if include_special_tokens else vocab[self._token_start():]

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Set the vocabulary (and, for tf_idf, the idf weights) directly instead of by `adapt`.

        Args:
            vocabulary: A list or 1-D array of terms, with or without the special tokens at the
                front (mask, then OOV), or the path of a text file with one term per line.
            idf_weights: One weight per vocabulary entry; required for output_mode="tf_idf" only.
        """
        kind = _label(self)
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ConfigError(f"{kind}: idf_weights must be set when output_mode='tf_idf'")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ConfigError(f"{kind}: idf_weights may only be set when output_mode='tf_idf'")
        if isinstance(vocabulary, str):
            if self.output_mode == "tf_idf":
                raise ConfigError(f"{kind}: output_mode='tf_idf' cannot load a vocabulary from a file")
            try:
                with open(vocabulary, encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except OSError as exc:
                raise ConfigError(f"{kind}: cannot read the vocabulary file {vocabulary!r} ({exc.strerror})") from None
            vocabulary = lines if self._strings else [int(v) for v in lines]
        vocab = [self._token(v) for v in self._tokens_of(np.asarray(list(vocabulary), dtype=object)
                                                          if self._strings else list(vocabulary)).reshape(-1)]
        if not vocab:
            raise ConfigError(f"{kind}: cannot set an empty vocabulary")
        start = self._token_start()
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        found_special = vocab[:start] == special
        tokens = vocab[start:] if found_special else vocab
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if repeated:
            raise ConfigError(f"{kind}: the vocabulary repeats {repeated[:5]!r}; each term must appear once")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ConfigError(f"{kind}: the mask token {self.mask_token!r} is in the vocabulary; leave it out, or put "
                              f"the special tokens first in this order: {special!r}")
        if self.oov_token is not None and self.invert and self.oov_token in tokens:
            raise ConfigError(f"{kind}: the OOV token {self.oov_token!r} is in the vocabulary; leave it out, or put "
                              f"the special tokens first in this order: {special!r}")
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ConfigError(f"{kind}: the vocabulary has {start + len(tokens)} entries (special tokens included), "
                              f"more than max_tokens={self.max_tokens}")
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            weights = np.asarray(idf_weights, dtype=np.float64)
            if weights.ndim != 1 or len(weights) != len(vocab):
                raise ConfigError(f"{kind}: idf_weights must be a 1-D list as long as the vocabulary "
                                  f"({len(vocab)}), got shape {weights.shape}")
            front = 0 if found_special else start
            front_value = 0.0 if found_special else float(np.average(weights))
            back = self.max_tokens - front - len(weights) if self.pad_to_max_tokens else 0
            self._idf = np.pad(weights, (front, back), constant_values=(front_value, 0.0)).astype(np.float32)

    def _set_tokens(self, tokens: list) -> None:
        self._tokens = list(tokens)
        start = self._token_start()
        self._index = {t: start + i for i, t in enumerate(self._tokens)}
        self._frozen_vocab_size = self.vocabulary_size()

    # -- adapt ------------------------------------------------------------------------------
    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learn the vocabulary from `data` (a list or NumPy array, or an iterable of such batches).

        Terms are ordered by count, most frequent first, ties from the highest term to the
        lowest, as in Keras; `max_tokens` keeps the most frequent. For tf_idf the document
        frequencies are learned too (a document is one row, one string for rank-1 data).
        """
        if self._has_input_vocabulary:
            raise ConfigError(f"{_label(self)}: cannot adapt after setting a static vocabulary with the vocabulary "
                              "argument")
        rows: list = []
        if isinstance(data, (list, tuple, np.ndarray, str, bytes)):
            batches = [data]
        elif hasattr(data, "__iter__"):
            batches = [b for i, b in enumerate(data) if steps is None or i < steps]
        else:
            raise DataError(f"{_label(self)}: adapt expects a list or NumPy array, got {type(data).__name__}")
        for batch in batches:
            rows.extend(self._adapt_rows(batch))
        self._learn(rows)

    def _adapt_rows(self, batch) -> list:
        arr = self._tokens_of(batch)
        if arr.ndim == 1:
            arr = arr[:, None]
        return _rows(arr)

    def _learn(self, rows: list) -> None:
        counts: collections.Counter = collections.Counter()
        for row in rows:
            counts.update(self._token(t) for t in row)
        if not counts:
            return
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        if self.max_tokens:
            ranked = ranked[:self.max_tokens - self._token_start()]
        self._set_tokens([t for t, _ in ranked])
        if self.output_mode == "tf_idf":
            docs: collections.Counter = collections.Counter()
            for row in rows:
                docs.update({self._token(t) for t in row})
            n = len(rows)
            idf = np.array([math.log(1 + n / (1 + docs[t])) for t in self._tokens], dtype=np.float64)
            idf = idf.astype(np.float32)
            idf = np.pad(idf, (self._token_start(), 0), constant_values=np.mean(idf) if len(idf) else 0.0)
            if self.pad_to_max_tokens:
                idf = np.pad(idf, (0, self.max_tokens - len(idf)))
            self._idf = idf.astype(np.float32)

    # -- lookup -----------------------------------------------------------------------------
    def _check_ready(self) -> None:
        if self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is None:
            raise ConfigError(f"{_label(self)}: with output_mode={self.output_mode!r} set the vocabulary first "
                              "(the vocabulary argument, or adapt(data))")
        if self.output_mode == "tf_idf" and self._idf is None:
            raise ConfigError(f"{_label(self)}: output_mode='tf_idf' needs idf weights: adapt the layer, or pass "
                              "vocabulary and idf_weights")

    def _lookup(self, tokens: np.ndarray) -> np.ndarray:
        """Ids of a token array (Keras's `_lookup_dense`), mask and OOV handled."""
        flat = tokens.reshape(-1)
        default = -1 if self.num_oov_indices != 1 else self._oov_start()
        ids = np.fromiter((self._index.get(self._token(t), default) for t in flat), dtype=np.int64, count=flat.size)
        if self.mask_token is not None:
            mask_value = 0 if self.output_mode == "int" else np.iinfo(np.int64).max
            ids[np.array([self._token(t) == self.mask_token for t in flat], dtype=bool)] = mask_value
        missing = ids == -1
        if missing.any():
            if self.num_oov_indices == 0:
                shown = [self._token(t) for t in flat[missing][:5]]
                raise DataError(f"{_label(self)}: with num_oov_indices=0 every input must be in the vocabulary; found "
                                f"{shown!r}; consider num_oov_indices=1")
            ids[missing] = np.mod(flat[missing].astype(np.int64), self.num_oov_indices) + self._oov_start()
        return ids.reshape(tokens.shape)

    def _invert(self, ids: np.ndarray) -> np.ndarray:
        vocab = self.get_vocabulary()
        start = self._token_start()
        size = len(vocab)
        out = np.empty(ids.shape, dtype=object)
        for i, v in np.ndenumerate(ids):
            v = int(v)
            if self.mask_token is not None and v == 0:
                out[i] = self.mask_token
            else:
                out[i] = vocab[v] if start <= v < size else self.oov_token
        return out.astype(str) if self._strings else out.astype(np.int64)

    def _depth(self) -> int:
        return self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size

    def _encode_ids(self, ids, float_dtype=np.float32) -> np.ndarray:
        if self.output_mode == "int":
            return ids
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        out = encode(ids, mode, self._depth(), dtype=float_dtype)
        if self.output_mode == "tf_idf":
            out = out * self._idf.astype(float_dtype)
        return out

    def _apply(self, x, float_dtype=np.float32) -> np.ndarray:
        """The layer on NumPy data: ids (int64) for "int", float vectors otherwise; tokens when inverted."""
        self._check_ready()
        if self.invert:
            return self._invert(_ints(x, _label(self)))
        return self._encode_ids(self._lookup(self._tokens_of(x)), float_dtype)

    # -- calling ----------------------------------------------------------------------------
    def _model_error(self) -> ConfigError:
        return ConfigError(f"{_label(self)} works on strings, and tuinet's models take numeric arrays: {_MODEL_HINT}")

    def __call__(self, x, *args, training=None, **kwargs):
        from tuinet.nn import functional

        if functional.is_symbolic(x) and self._strings:
            raise self._model_error()
        if functional.is_symbolic(x) or args or kwargs:
            return super().__call__(x, *args, training=training, **kwargs)
        return self._apply(x)

    def compute_output_shape(self, input_shape):
        if self._strings:
            raise self._model_error()
        if self.invert:
            return tuple(input_shape)
        self._check_ready()
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self._depth()
        if not input_shape:  # a batch of scalars: one sample each
            return (depth,)
        if self.output_mode == "one_hot" and input_shape[-1] != 1:
            return (*input_shape, depth)
        return (*tuple(input_shape)[:-1], depth)

    def build_for(self, input_shape, rng):
        if self._strings:
            raise self._model_error()
        return super().build_for(input_shape, rng)

    def forward(self, x, *, training=False):
        """Inside a model (IntegerLookup): the ids or vectors as the model's float type."""
        if self._strings:
            raise self._model_error()
        x = np.asarray(x)
        if x.ndim == 1 and self.output_mode != "int":
            x = x[:, None]  # a batch of scalars: one sample each, as compute_output_shape says
        return np.asarray(self._apply(x, float_dtype=self.compute_dtype), dtype=self.compute_dtype)

    def backward(self, grad_out):
        if not self.needs_input_grad:
            return None
        raise ConfigError(f"{_label(self)}: no gradient flows through a lookup layer (its inputs are ids); put it "
                          "first, right after the Input")

    def get_config(self) -> dict:
        vocabulary, idf = self.input_vocabulary, self.input_idf_weights
        if vocabulary is None and self._tokens:  # adapted: keep the learned vocabulary in the config
            vocabulary = list(self._tokens)
            if self._idf is not None:
                start = self._token_start()
                idf = [float(v) for v in self._idf[start:start + len(self._tokens)]]
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token, "mask_token": self.mask_token,
                "output_mode": self.output_mode, "sparse": False, "pad_to_max_tokens": self.pad_to_max_tokens,
                "idf_weights": idf, "vocabulary": vocabulary, "vocabulary_size": self._frozen_vocab_size}


def _listify(x):
    if x is None or isinstance(x, str):
        return x
    return np.asarray(x).tolist() if isinstance(x, np.ndarray) else list(x)


class StringLookup(_IndexLookup):
    """Maps strings to integer ids from a vocabulary (Keras's `StringLookup`).

    Index 0 is the mask token when `mask_token` is set (output_mode "int"), then come the
    `num_oov_indices` OOV slots ("[UNK]"), then the vocabulary, learned by `adapt(data)` or given.
    It works on data before the model: tuinet's models take numeric arrays.

    Args:
        max_tokens: Cap on the vocabulary size, special tokens included; None for no cap.
        num_oov_indices: 1 (every unknown string gets the "[UNK]" id) or 0 (unknown strings are
            an error). Keras's hashed buckets for more than one need FarmHash and are refused.
        mask_token: The token that means padding (id 0), or None.
        oov_token: The token `invert=True` returns for an unknown id.
        vocabulary: A list of strings, or a file with one per line.
        idf_weights: With output_mode="tf_idf" and a vocabulary: one weight per term.
        invert: Map ids back to strings.
        output_mode: "int", "one_hot", "multi_hot", "count" or "tf_idf".
        pad_to_max_tokens: Make the vector outputs `max_tokens` wide.
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, **kwargs) -> None:
        if encoding not in ("utf-8", "utf8", "UTF-8"):
            raise ConfigError(f"StringLookup: only encoding='utf-8' is supported, got {encoding!r}")
        self.encoding = "utf-8"
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                         output_mode, pad_to_max_tokens, sparse, name=name, **kwargs)

    def get_config(self):
        return {**super().get_config(), "encoding": self.encoding}


class IntegerLookup(_IndexLookup):
    """Maps integers to contiguous ids from a vocabulary (Keras's `IntegerLookup`).

    As `StringLookup` for int64 tokens; `oov_token` defaults to -1 and, with
    `num_oov_indices > 1`, an unknown value `v` gets the OOV slot `v mod num_oov_indices`
    (Keras's "floormod"). It is numeric, so it may be a model's first layer.
    """

    _strings = False

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, name=None, **kwargs) -> None:
        if vocabulary_dtype != "int64":
            raise ConfigError(f"IntegerLookup: only vocabulary_dtype='int64' is supported, got {vocabulary_dtype!r}")
        for arg, value in (("mask_token", mask_token), ("oov_token", oov_token)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ConfigError(f"IntegerLookup: {arg} must be an integer or None, got {value!r}")
        super().__init__(max_tokens, num_oov_indices, None if mask_token is None else int(mask_token),
                         None if oov_token is None else int(oov_token), vocabulary, idf_weights, invert,
                         output_mode, pad_to_max_tokens, sparse, name=name, **kwargs)

    def get_config(self):
        return {**super().get_config(), "vocabulary_dtype": "int64", "oov_method": "floormod", "salt": None}


# ------------------------------------------------------------------------------ TextVectorization
class TextVectorization(_IndexLookup):
    """Turns strings into token ids or vectors (Keras's `TextVectorization`), on data before the model.

    Each string is standardized, split into tokens, optionally joined into ngrams, then looked
    up in a vocabulary learned by `adapt(texts)` ("" is id 0 for padding, "[UNK]" id 1):

        vectorizer = TextVectorization(max_tokens=1000, output_sequence_length=10)
        vectorizer.adapt(train_texts)
        x = vectorizer(train_texts)  # (n, 10) int64, for Embedding -> ... -> fit

    Args:
        max_tokens: Cap on the vocabulary size, "" and "[UNK]" included.
        standardize: None, "lower", "strip_punctuation" or "lower_and_strip_punctuation"
            (ASCII lowercasing and Keras's punctuation regex, as TensorFlow computes them).
        split: None (each string is one token), "whitespace" or "character".
        ngrams: None, n (ngrams of 1..n tokens) or a tuple of widths, joined with " ".
        output_mode: "int" (ids padded with 0), "multi_hot", "count" or "tf_idf" (float32).
        output_sequence_length: With "int": pad or truncate every row to this length; None pads
            to the longest row of the batch.
        pad_to_max_tokens: Make the vector outputs `max_tokens` wide.
        vocabulary: A list of terms (or a file with one per line) instead of `adapt`.
        idf_weights: With output_mode="tf_idf" and a vocabulary: one weight per term.
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, **kwargs) -> None:
        kind = "TextVectorization"
        _refuse(kind, sparse=sparse, ragged=ragged)
        for arg, value, choices in (("standardize", standardize,
                                     ("lower_and_strip_punctuation", "lower", "strip_punctuation")),
                                    ("split", split, ("whitespace", "character"))):
            if callable(value):
                raise ConfigError(f"{kind}: a callable {arg} is not supported in tuinet; apply it to the strings "
                                  f"first and pass {arg}=None, or use one of {', '.join(choices)}")
            if value is not None and value not in choices:
                raise ConfigError(f"{kind}: {arg} must be None or one of {', '.join(choices)}, got {value!r}")
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool) and ngrams > 0) or (
                isinstance(ngrams, tuple) and ngrams and all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                                                             for n in ngrams))):
            raise ConfigError(f"{kind}: ngrams must be None, a positive integer or a tuple of them, got {ngrams!r}")
        output_mode = _output_mode(kind, output_mode)
        if output_mode == "int":
            if output_sequence_length is not None and (isinstance(output_sequence_length, bool) or not isinstance(
                    output_sequence_length, (int, np.integer)) or output_sequence_length < 0):
                raise ConfigError(f"{kind}: output_sequence_length must be None or an integer >= 0, got "
                                  f"{output_sequence_length!r}")
        elif output_sequence_length is not None:
            raise ConfigError(f"{kind}: output_sequence_length may only be set when output_mode='int', got "
                              f"output_mode={output_mode!r}")
        if encoding not in ("utf-8", "utf8", "UTF-8"):
            raise ConfigError(f"{kind}: only encoding='utf-8' is supported, got {encoding!r}")
        self.standardize = standardize
        self.split = split
        self.ngrams = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self.output_sequence_length = None if output_sequence_length is None else int(output_sequence_length)
        self.ragged = False
        self.encoding = "utf-8"
        super().__init__(max_tokens=max_tokens, num_oov_indices=1, mask_token="", oov_token="[UNK]",
                         vocabulary=vocabulary, idf_weights=idf_weights, output_mode=output_mode,
                         pad_to_max_tokens=pad_to_max_tokens, name=name, **kwargs)

    # -- preprocessing (Keras's `_preprocess`) -----------------------------------------------
    def _standardize(self, text: str) -> str:
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.translate(_ASCII_LOWER)
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = PUNCTUATION.sub("", text)
        return text

    def _split_text(self, text: str) -> list:
        if self.split == "whitespace":
            return [t for t in _WHITESPACE.split(text) if t]
        return list(text)

    def _ngram(self, tokens: list) -> list:
        if self._ngrams is None:
            return tokens
        return [" ".join(tokens[i:i + n]) for n in self._ngrams for i in range(len(tokens) - n + 1)]

    def _preprocess(self, x):
        """Tokens, as a list of rows (one per string when splitting) or a dense object array
        (split=None: one token per string; a scalar string split: its 1-D tokens)."""
        arr = _strings(x, _label(self))
        flat = [self._standardize(s) for s in arr.reshape(-1)]
        if self.split is None:
            dense = np.empty(arr.shape, dtype=object)
            dense.reshape(-1)[:] = flat
            if self._ngrams is None:
                return dense
            if dense.ndim == 0:
                raise ShapeError(f"{_label(self)}: ngrams with split=None need at least a rank-1 input")
            rows = [self._ngram(list(r)) for r in dense.reshape(-1, dense.shape[-1])]
            out = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=object)
            for i, r in enumerate(rows):
                out[i, :] = r
            return out.reshape(*dense.shape[:-1], out.shape[1])
        if arr.ndim > 1:
            if arr.shape[-1] != 1 or arr.ndim > 2:
                raise ShapeError(f"{_label(self)}: to split strings the input must be a list of strings, or have "
                                 f"shape (n, 1); got shape {arr.shape}")
            arr = arr[..., 0]
        rows = [self._ngram(self._split_text(s)) for s in flat]
        if arr.ndim == 0:
            dense = np.empty(len(rows[0]), dtype=object)
            dense[:] = rows[0]
            return dense
        return rows

    def _adapt_rows(self, batch) -> list:
        arr = _strings(batch, _label(self))
        tokens = self._preprocess(arr[:, None] if arr.ndim == 1 else arr)
        return _rows(tokens) if isinstance(tokens, np.ndarray) else tokens

    def _apply(self, x, float_dtype=np.float32) -> np.ndarray:
        self._check_ready()
        tokens = self._preprocess(x)
        if isinstance(tokens, np.ndarray):  # dense: one id per token, the tokens' shape
            ids = self._lookup(tokens)
            if self.output_mode != "int":
                return self._encode_ids(ids, float_dtype)
            if self.output_sequence_length is not None and ids.ndim:
                length = self.output_sequence_length
                ids = ids[..., :length]
                ids = np.pad(ids, [(0, 0)] * (ids.ndim - 1) + [(0, length - ids.shape[-1])])
            return ids
        ids = []
        for row in tokens:
            dense = np.empty(len(row), dtype=object)
            dense[:] = row
            ids.append(self._lookup(dense))
        if self.output_mode != "int":
            return self._encode_ids(ids, float_dtype)
        length = self.output_sequence_length
        if length is None:
            length = max((len(r) for r in ids), default=0)
        out = np.zeros((len(ids), length), dtype=np.int64)
        for i, row in enumerate(ids):
            row = row[:length]
            out[i, :len(row)] = row
        return out

    def get_config(self) -> dict:
        base = super().get_config()
        for key in ("invert", "num_oov_indices", "oov_token", "mask_token"):
            base.pop(key)
        return {**base, "standardize": self.standardize, "split": self.split,
                "ngrams": list(self.ngrams) if isinstance(self.ngrams, tuple) else self.ngrams,
                "output_sequence_length": self.output_sequence_length, "ragged": False, "encoding": self.encoding}


# ------------------------------------------------------------------------------ CategoryEncoding
class CategoryEncoding(Layer):
    """Encodes integer ids as one-hot, multi-hot or count vectors of `num_tokens` (Keras's layer).

    A numeric layer: as a model's first layer it turns id features into vectors. Its inputs are
    ids, so no gradient flows back through it: a CategoryEncoding after a layer with weights
    raises a `ConfigError` at the first backward pass (as `Lambda` does).

    Args:
        num_tokens: The number of ids; inputs must lie in `[0, num_tokens)`.
        output_mode: "one_hot" (one vector per id; a trailing axis of 1 is dropped),
            "multi_hot" (one vector per sample, 1 where an id occurs) or "count" (how often).
        sparse: Must stay False (tuinet returns dense arrays).
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs) -> None:
        super().__init__(**kwargs)
        if num_tokens is None:
            raise ConfigError("CategoryEncoding: num_tokens must be set (if the number of ids is not known "
                              "beforehand, use IntegerLookup)")
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, (int, np.integer)) or num_tokens < 1:
            raise ConfigError(f"CategoryEncoding: num_tokens must be an integer >= 1, got {num_tokens!r}")
        self.num_tokens = int(num_tokens)
        self.output_mode = _output_mode("CategoryEncoding", output_mode, ("one_hot", "multi_hot", "count"))
        _refuse("CategoryEncoding", sparse=sparse)

    def _encode(self, x, dtype, count_weights=None) -> np.ndarray:
        ids = _ints(x, _label(self))
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_tokens):
            bad = ids[(ids < 0) | (ids >= self.num_tokens)][:5].tolist()
            raise DataError(f"{_label(self)}: ids must lie in [0, {self.num_tokens}), found {bad}")
        if count_weights is not None:
            if self.output_mode != "count":
                raise ConfigError(f"{_label(self)}: count_weights is only used with output_mode='count'")
            count_weights = np.asarray(count_weights)
            if count_weights.shape != ids.shape:
                raise ShapeError(f"{_label(self)}: count_weights must have the ids' shape {ids.shape}, got "
                                 f"{count_weights.shape}")
        return encode(ids, self.output_mode, self.num_tokens, dtype=dtype, count_weights=count_weights)

    def __call__(self, x, *args, training=None, count_weights=None, **kwargs):
        from tuinet.nn import functional

        if functional.is_symbolic(x) or args or kwargs:
            return super().__call__(x, *args, training=training, **kwargs)
        return self._encode(x, self.compute_dtype, count_weights)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if not input_shape:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and input_shape[-1] != 1:
            return (*input_shape, self.num_tokens)
        return (*input_shape[:-1], self.num_tokens)

    def forward(self, x, *, training=False):
        x = np.asarray(x)
        return self._encode(x[:, None] if x.ndim == 1 else x, self.compute_dtype)

    def backward(self, grad_out):
        if not self.needs_input_grad:
            return None
        raise ConfigError(f"{_label(self)}: no gradient flows through CategoryEncoding (its inputs are ids); put it "
                          "first, right after the Input")

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode,
                "sparse": False}

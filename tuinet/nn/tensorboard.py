"""TensorBoard event files without TensorFlow: `TensorBoard` callback and its writer.

An event file is a sequence of TFRecords, each framing one serialized `Event` protobuf:

    uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)

(little-endian; CRC32C is the Castagnoli polynomial, masked as `((crc >> 15) | (crc << 17)) +
0xa282ead8`). The protobuf messages are encoded by hand here, only the fields TensorBoard reads:

    Event    { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
    Summary  { repeated Value value = 1; }
    Value    { string tag = 1; float simple_value = 2; TensorProto tensor = 8; SummaryMetadata metadata = 9; }
    SummaryMetadata { PluginData plugin_data = 1; }   PluginData { string plugin_name = 1; bytes content = 2; }
    TensorProto { DataType dtype = 1; TensorShapeProto tensor_shape = 2; bytes tensor_content = 4;
                  repeated bytes string_val = 8; }    TensorShapeProto { repeated Dim dim = 2; }  Dim { int64 size = 1; }

Scalars are written as `simple_value` (TensorBoard's scalar dashboard reads them directly);
weight histograms and the model's JSON are written as tensors with the plugin metadata that
Keras 3 (through `tf.summary`) gives them, so TensorBoard shows them as Keras's would.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import time

import numpy as np

from tuinet.errors import ConfigError
from tuinet.nn.callbacks import Callback  # callbacks.py imports this module at its end

__all__ = ["TensorBoard", "EventFileWriter", "crc32c", "masked_crc32c", "tfrecord", "encode_event",
           "scalar_value", "histogram_value", "text_tensor_value"]


# ------------------------------------------------------------------------------------ CRC32C
def _crc32c_table() -> list[int]:
    poly = 0x82F63B78  # Castagnoli, reflected
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """The CRC32C (Castagnoli) checksum of `data`; `crc32c(b"123456789") == 0xE3069283`."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: the CRC rotated right by 15 bits plus 0xa282ead8 (mod 2**32)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC of the length, the data, masked CRC of the data."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


# ------------------------------------------------------------------------------------ protobuf
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        bits = n & 0x7F
        n >>= 7
        if n:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field_varint(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _field_bytes(field: int, value: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(value)) + value


def _field_double(field: int, value: float) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<d", value)


def _field_float(field: int, value: float) -> bytes:
    return _varint(field << 3 | 5) + struct.pack("<f", value)


_DT_FLOAT, _DT_DOUBLE, _DT_STRING = 1, 2, 7


def _metadata(plugin_name: str, content: bytes = b"") -> bytes:
    plugin = _field_bytes(1, plugin_name.encode()) + (_field_bytes(2, content) if content else b"")
    return _field_bytes(1, plugin)


def _shape(dims) -> bytes:
    return b"".join(_field_bytes(2, _field_varint(1, int(d))) for d in dims)


def scalar_value(tag: str, value: float) -> bytes:
    """A `Summary.Value` with `simple_value` (a float32 scalar, as TensorBoard shows it)."""
    return _field_bytes(1, tag.encode()) + _field_float(2, float(value))


def histogram_value(tag: str, values, bucket_count: int = 30) -> bytes:
    """A `Summary.Value` holding TensorBoard's `[k, 3]` float64 histogram (left, right, count),
    bucketed as `tf.summary.histogram` does: `bucket_count` equal buckets from min to max, each
    closed on the left, the maximum in the last one; a single distinct value fills the last
    bucket with left = right = that value; no data gives `bucket_count` rows of zeros."""
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    if data.size == 0:
        table = np.zeros((bucket_count, 3))
    else:
        lo, hi = float(data.min()), float(data.max())
        if hi == lo:
            counts = np.zeros(bucket_count)
            counts[-1] = data.size
            table = np.stack([np.full(bucket_count, hi), np.full(bucket_count, hi), counts], axis=1)
        else:
            width = (hi - lo) / bucket_count
            index = np.minimum(np.floor((data - lo) / width).astype(np.int64), bucket_count - 1)
            counts = np.bincount(index, minlength=bucket_count).astype(np.float64)
            edges = np.linspace(lo, hi, bucket_count + 1)
            edges[-1] = hi
            table = np.stack([edges[:-1], edges[1:], counts], axis=1)
    tensor = (_field_varint(1, _DT_DOUBLE) + _field_bytes(2, _shape(table.shape))
              + _field_bytes(4, table.astype("<f8").tobytes()))
    return _field_bytes(1, tag.encode()) + _field_bytes(8, tensor) + _field_bytes(9, _metadata("histograms"))


def text_tensor_value(tag: str, text: str, plugin_name: str, content: bytes = b"") -> bytes:
    """A `Summary.Value` holding a scalar string tensor for `plugin_name` (the model's JSON for
    TensorBoard's graph dashboard, as Keras writes it under the tag "keras")."""
    tensor = _field_varint(1, _DT_STRING) + _field_bytes(2, b"") + _field_bytes(8, text.encode())
    return _field_bytes(1, tag.encode()) + _field_bytes(8, tensor) + _field_bytes(9, _metadata(plugin_name, content))


def encode_event(wall_time: float, step: int = 0, *, file_version: str | None = None,
                 values: list[bytes] | None = None) -> bytes:
    """A serialized `Event`: a file-version header (`file_version="brain.Event:2"`) or a summary
    of already encoded `Summary.Value` messages (see `scalar_value`, `histogram_value`)."""
    out = _field_double(1, wall_time)
    if step:
        out += _field_varint(2, int(step))
    if file_version is not None:
        out += _field_bytes(3, file_version.encode())
    if values:
        out += _field_bytes(5, b"".join(_field_bytes(1, v) for v in values))
    return out


# ------------------------------------------------------------------------------------ writer
_FILE_IDS = itertools.count()


class EventFileWriter:
    """Appends events to `logdir/events.out.tfevents.<time>.<host>.<pid>.<n>.v2`.

    The folder and the file are created on the first write; the file starts with the
    `brain.Event:2` header. Records are buffered until `flush()` (the callback flushes once an
    epoch, so TensorBoard follows a live run) and `close()`.
    """

    def __init__(self, logdir) -> None:
        self.logdir = os.fspath(logdir)
        self.path: str | None = None
        self._file = None

    def _open(self) -> None:
        try:
            os.makedirs(self.logdir, exist_ok=True)
            now = time.time()
            name = f"events.out.tfevents.{int(now)}.{socket.gethostname()}.{os.getpid()}.{next(_FILE_IDS)}.v2"
            self.path = os.path.join(self.logdir, name)
            self._file = open(self.path, "ab")
        except OSError as exc:
            raise ConfigError(f"TensorBoard: cannot write event files in {self.logdir!r}: "
                              f"{exc.strerror or exc}") from None
        self._file.write(tfrecord(encode_event(float(int(now)), file_version="brain.Event:2")))

    def add_values(self, step: int, values: list[bytes]) -> None:
        """Write one event at `step` carrying the encoded `Summary.Value`s."""
        if self._file is None:
            self._open()
        self._file.write(tfrecord(encode_event(time.time(), step, values=values)))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.add_values(step, [scalar_value(tag, value)])

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# ------------------------------------------------------------------------------------ callback
class TensorBoard(Callback):
    """Write TensorBoard event files of the training, as `keras.callbacks.TensorBoard` does.

    No TensorFlow or protobuf is needed: the files are written by `EventFileWriter`. Run
    `tensorboard --logdir LOG_DIR` to watch them (the files are flushed after every epoch).

    Written, with Keras 3's folders, tags and steps:
        - `log_dir/train/`: `epoch_<name>` for each training log (`epoch_loss`,
          `epoch_accuracy`...) and `epoch_learning_rate`, at step = epoch index;
          `epoch_steps_per_second` with `write_steps_per_second`.
        - `log_dir/validation/`: `epoch_<name>` for each `val_<name>` log (the prefix dropped),
          at step = epoch index; and `evaluation_<name>_vs_iterations` at step = the optimizer's
          `iterations` after each validation (or `evaluate(callbacks=[...])`).
        - with `update_freq="batch"` or an integer N: `batch_<name>` (the running epoch averages
          that `fit` reports) in `train/` every N-th batch, counted over the whole fit from 1.
        - with `histogram_freq=N`: a 30-bucket histogram of every weight every N epochs
          (`<model>/<layer>/<weight>/histogram`).
        - with `write_graph=True`: the model's JSON under the tag "keras" for the graph dashboard.

    Args:
        log_dir: The folder of the logs (`train/` and `validation/` go under it).
        histogram_freq: Write weight histograms every this many epochs (0: never).
        write_graph: Write the model's JSON (TensorBoard's "conceptual graph").
        write_images: Accepted and ignored (Keras draws weights as images; tuinet does not).
        write_steps_per_second: Also log training steps per second (epoch and batch level).
        update_freq: "epoch", "batch" (= 1) or an integer number of batches.
        profile_batch: Accepted; must be 0 (there is no profiler to run).
        embeddings_freq, embeddings_metadata: Accepted and ignored (no embedding projector files).

    Differences from Keras: with an integer `update_freq` above 1, Keras 3 also drops the epoch
    summaries of every epoch whose last batch number is not a multiple of it (a side effect of
    `tf.summary.record_if`); tuinet always writes them. Scalars are written as `simple_value`
    (Keras writes float tensors); TensorBoard shows both the same way.
    """

    def __init__(self, log_dir="logs", histogram_freq: int = 0, write_graph: bool = True, write_images: bool = False,
                 write_steps_per_second: bool = False, update_freq="epoch", profile_batch=0, embeddings_freq: int = 0,
                 embeddings_metadata=None) -> None:
        super().__init__()
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, (int, np.integer))
                                       or update_freq < 1):
            raise ConfigError(f'TensorBoard: update_freq must be "epoch", "batch" or a positive integer, '
                              f"got {update_freq!r}")
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, (int, np.integer)) or histogram_freq < 0:
            raise ConfigError(f"TensorBoard: histogram_freq must be a non-negative integer, got {histogram_freq!r}")
        if profile_batch not in (0, None, (0, 0), [0, 0], "0", "0,0"):
            raise ConfigError(f"TensorBoard: profiling is not available in tuinet; got profile_batch={profile_batch!r} "
                              "(must be 0)")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph, self.write_images = write_graph, write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq if update_freq == "epoch" else int(update_freq)
        self.embeddings_freq, self.embeddings_metadata = embeddings_freq, embeddings_metadata
        self._writers: dict[str, EventFileWriter] = {}
        self._global_train_batch = 0
        self._graph_pending = False

    # -------------------------------------------------------------- writers
    def set_model(self, model) -> None:
        self._close_writers()
        super().set_model(model)
        self._writers = {}
        self._graph_pending = bool(self.write_graph)

    def _writer(self, which: str) -> EventFileWriter:
        if which not in self._writers:
            self._writers[which] = EventFileWriter(os.path.join(self.log_dir, which))
        return self._writers[which]

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()

    def _write_graph(self) -> None:
        self._graph_pending = False
        try:
            text = self.model.to_json()
        except Exception:  # noqa: BLE001 - as Keras: a model that cannot be serialized is skipped
            return
        self._writer("train").add_values(0, [text_tensor_value("keras", text, "graph_keras_model", b"1")])

    # -------------------------------------------------------------- hooks
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        if self._graph_pending:
            self._write_graph()

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._epoch_start_iterations = self._iterations()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        step, values = self._global_train_batch, []
        if self.write_steps_per_second:
            values.append(scalar_value("batch_steps_per_second",
                                       1.0 / max(time.perf_counter() - self._batch_start, 1e-9)))
        values += [scalar_value(f"batch_{k}", v) for k, v in (logs or {}).items() if _is_number(v)]
        self._writer("train").add_values(step, values)

    def on_test_end(self, logs=None):
        opt = getattr(self.model, "optimizer", None)
        if opt is None or not hasattr(opt, "iterations") or not logs:
            return
        values = [scalar_value(f"evaluation_{k}_vs_iterations", v) for k, v in logs.items() if _is_number(v)]
        if values:
            self._writer("validation").add_values(int(opt.iterations), values)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_") and _is_number(v)}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_") and _is_number(v)}
        if logs:
            opt = getattr(self.model, "optimizer", None)
            if opt is not None and "learning_rate" not in train:
                try:
                    train["learning_rate"] = float(opt.learning_rate)
                except (TypeError, ValueError, AttributeError):
                    pass
            if self.write_steps_per_second:
                elapsed = max(time.perf_counter() - self._epoch_start, 1e-9)
                train["steps_per_second"] = (self._iterations() - self._epoch_start_iterations) / elapsed
        if train:
            self._writer("train").add_values(epoch, [scalar_value(f"epoch_{k}", v) for k, v in train.items()])
        if val:
            self._writer("validation").add_values(epoch, [scalar_value(f"epoch_{k}", v) for k, v in val.items()])
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for writer in self._writers.values():
            writer.flush()

    # -------------------------------------------------------------- helpers
    def _iterations(self) -> int:
        opt = getattr(self.model, "optimizer", None)
        return int(getattr(opt, "iterations", 0) or 0)

    def _log_weights(self, epoch: int) -> None:
        model = self.model
        prefix = getattr(model, "name", "model")
        values = []
        for layer in getattr(model, "layers", []):
            names = getattr(layer, "weight_names", None)
            if not names:
                continue
            for name, weight in zip(names, layer.get_weights()):
                values.append(histogram_value(f"{prefix}/{layer.name}/{name}/histogram", weight))
        if values:
            self._writer("train").add_values(epoch, values)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

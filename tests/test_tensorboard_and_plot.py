"""TensorBoard event files (decoded here by hand) and plot_model's PNG, SVG and DOT output."""

from __future__ import annotations

import os
import re
import struct
import zlib

import numpy as np
import pytest

import tuinet
from tuinet.errors import ConfigError
from tuinet.nn import tensorboard as tb
from tuinet.utils import plot_model

L = tuinet.layers


# ------------------------------------------------------------------ a minimal event-file reader
def _crc32c_bitwise(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    crc = _crc32c_bitwise(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _fields(buf: bytes) -> list[tuple[int, object]]:
    """(field number, value) pairs of a protobuf message: ints, bytes, or (wire, raw) for fixed."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 1:
            v, i = struct.unpack("<d", buf[i:i + 8])[0], i + 8
        elif wire == 5:
            v, i = struct.unpack("<f", buf[i:i + 4])[0], i + 4
        elif wire == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.append((field, v))
    return out


def _records(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        header = data[i:i + 8]
        (n,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[i + 8:i + 12])[0] == _masked(header)
        body = data[i + 12:i + 12 + n]
        assert struct.unpack("<I", data[i + 12 + n:i + 16 + n])[0] == _masked(body)
        out.append(body)
        i += 16 + n
    assert i == len(data)
    return out


def _events(path) -> list[dict]:
    """Each event as {"wall_time", "step", "file_version", "values": [(tag, simple_value or None)]}."""
    out = []
    for rec in _records(open(path, "rb").read()):
        ev = {"step": 0, "values": []}
        for field, v in _fields(rec):
            if field == 1:
                ev["wall_time"] = v
            elif field == 2:
                ev["step"] = v
            elif field == 3:
                ev["file_version"] = v.decode()
            elif field == 5:
                for f2, value in _fields(v):
                    assert f2 == 1
                    parts = dict(_fields(value))
                    ev["values"].append((parts[1].decode(), parts.get(2)))
        out.append(ev)
    return out


def _scalars(folder) -> dict[str, list[tuple[int, float]]]:
    files = os.listdir(folder)
    assert len(files) == 1 and re.fullmatch(r"events\.out\.tfevents\.\d+\.[^/]+\.\d+\.\d+\.v2", files[0]), files
    events = _events(os.path.join(folder, files[0]))
    assert events[0]["file_version"] == "brain.Event:2"
    out: dict[str, list] = {}
    for ev in events[1:]:
        for tag, value in ev["values"]:
            out.setdefault(tag, []).append((ev["step"], value))
    return out


# ------------------------------------------------------------------ the encoder
def test_crc32c_known_value():
    assert tb.crc32c(b"123456789") == 0xE3069283
    assert tb.crc32c(b"") == 0
    assert tb.crc32c(b"tuinet" * 50) == _crc32c_bitwise(b"tuinet" * 50)


def test_tfrecord_framing_and_event_encoding(tmp_path):
    payload = tb.encode_event(1234.5, 7, values=[tb.scalar_value("epoch_loss", 0.25),
                                                 tb.scalar_value("epoch_accuracy", 0.75)])
    rec = tb.tfrecord(payload)
    assert len(rec) == len(payload) + 16
    assert struct.unpack("<Q", rec[:8])[0] == len(payload)
    assert struct.unpack("<I", rec[8:12])[0] == _masked(rec[:8])
    assert struct.unpack("<I", rec[-4:])[0] == _masked(payload)
    path = tmp_path / "events"
    path.write_bytes(tb.tfrecord(tb.encode_event(1000.0, file_version="brain.Event:2")) + rec)
    events = _events(path)
    assert events[0] == {"step": 0, "values": [], "wall_time": 1000.0, "file_version": "brain.Event:2"}
    assert events[1]["wall_time"] == 1234.5 and events[1]["step"] == 7
    assert events[1]["values"] == [("epoch_loss", 0.25), ("epoch_accuracy", 0.75)]


def test_large_step_and_histogram_value():
    fields = dict(_fields(tb.encode_event(1.0, 2**40)))
    assert fields[2] == 2**40
    value = dict(_fields(tb.histogram_value("w/histogram", np.array([0.0, 1.0, 1.0, 3.0]), bucket_count=3)))
    tensor = dict(_fields(value[8]))
    assert tensor[1] == 2  # DT_DOUBLE
    table = np.frombuffer(tensor[4], dtype="<f8").reshape(3, 3)
    np.testing.assert_allclose(table, [[0, 1, 1], [1, 2, 2], [2, 3, 1]])
    plugin = dict(_fields(dict(_fields(value[9]))[1]))
    assert plugin[1] == b"histograms"


def _fit(tmp_path, **kw):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = rng.integers(0, 3, size=40)
    model = tuinet.Sequential([L.Dense(6, input_shape=(4,), activation="relu"), L.Dense(3, activation="softmax")],
                              seed=1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    cb = tuinet.callbacks.TensorBoard(tmp_path / "logs", **kw)
    history = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.25, verbose=0, callbacks=[cb])
    return model, history.history


def test_callback_in_fit_writes_train_and_validation(tmp_path):
    model, hist = _fit(tmp_path, histogram_freq=1)
    assert sorted(os.listdir(tmp_path / "logs")) == ["train", "validation"]
    train = _scalars(tmp_path / "logs" / "train")
    val = _scalars(tmp_path / "logs" / "validation")
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"} <= set(train)
    assert not any(t.startswith("batch_") for t in train)
    for key in ("loss", "accuracy"):
        assert train[f"epoch_{key}"] == [(e, float(np.float32(v))) for e, v in enumerate(hist[key])]
        assert val[f"epoch_{key}"] == [(e, float(np.float32(v))) for e, v in enumerate(hist[f"val_{key}"])]
    assert [s for s, _ in val["evaluation_loss_vs_iterations"]] == [4, 8, 12]  # 30 samples / 8 = 4 steps
    assert [v for _, v in train["epoch_learning_rate"]] == [pytest.approx(0.001)] * 3
    hist_tags = [t for t in train if t.endswith("/histogram")]
    assert sorted(hist_tags) == sorted(f"{model.name}/{layer.name}/{w}/histogram"
                                       for layer in model.layers for w in ("kernel", "bias"))
    assert train["keras"][0][0] == 0  # the model JSON, step 0


def test_update_freq_batch_and_int(tmp_path):
    _, hist = _fit(tmp_path, update_freq="batch")
    train = _scalars(tmp_path / "logs" / "train")
    assert [s for s, _ in train["batch_loss"]] == list(range(1, 13))
    assert train["batch_loss"][3][1] == pytest.approx(hist["loss"][0], rel=1e-6)  # the epoch's running mean
    _, _ = _fit(tmp_path / "n", update_freq=5)
    train = _scalars(tmp_path / "n" / "logs" / "train")
    assert [s for s, _ in train["batch_accuracy"]] == [5, 10]
    assert [s for s, _ in train["epoch_loss"]] == [0, 1, 2]


def test_callback_argument_checks(tmp_path):
    with pytest.raises(ConfigError, match="update_freq"):
        tuinet.callbacks.TensorBoard(tmp_path, update_freq="sometimes")
    with pytest.raises(ConfigError, match="profil"):
        tuinet.callbacks.TensorBoard(tmp_path, profile_batch=(2, 4))
    tuinet.callbacks.TensorBoard(tmp_path, write_images=True, embeddings_freq=1, write_steps_per_second=True)


# ------------------------------------------------------------------ plot_model
def _cnn():
    return tuinet.Sequential([L.Input((16, 16, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
                              L.Flatten(), L.Dense(10, activation="softmax")])


def _two_inputs():
    a, b = L.Input((8,), name="features"), L.Input((4,), name="extra")
    x = L.Dense(16, activation="relu", name="wide")(a)
    y = L.Dense(8, name="narrow")(b)
    z = L.Concatenate(name="join")([x, y])
    return tuinet.Model([a, b], L.Dense(1, activation="sigmoid", name="out")(z))


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, i = [], 8
    while i < len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        kind, body = data[i + 4:i + 8], data[i + 8:i + 8 + n]
        assert struct.unpack(">I", data[i + 8 + n:i + 12 + n])[0] == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.append((kind, body))
        i += 12 + n
    return chunks


def _check_png(path) -> tuple[int, int, np.ndarray]:
    chunks = _png_chunks(path.read_bytes())
    assert [k for k, _ in chunks][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == height * (1 + 3 * width)
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, 1 + 3 * width)
    assert (rows[:, 0] == 0).all()
    return width, height, rows[:, 1:].reshape(height, width, 3)


@pytest.mark.parametrize("make", [_cnn, _two_inputs])
@pytest.mark.parametrize("rankdir", ["TB", "LR"])
def test_png_is_valid(tmp_path, make, rankdir):
    path = tmp_path / "model.png"
    assert plot_model(make(), str(path), show_shapes=True, show_layer_names=True, rankdir=rankdir) is None
    width, height, px = _check_png(path)
    assert 50 < width <= tb_max() and 50 < height <= tb_max()
    assert (px[0, 0] == 255).all()  # white background
    assert (px == 0).all(axis=2).any()  # dark header and text
    if rankdir == "TB":
        assert height > width / 3
    else:
        assert width > height


def tb_max() -> int:
    from tuinet.plot_model import MAX_SIDE
    return MAX_SIDE


def test_svg_and_dot_name_every_layer_and_edge(tmp_path):
    model = _two_inputs()
    plot_model(model, tmp_path / "m.svg", show_shapes=True)
    plot_model(model, tmp_path / "m.dot", show_shapes=True, show_layer_names=True)
    plot_model(model, tmp_path / "m.gv")
    svg = (tmp_path / "m.svg").read_text()
    dot = (tmp_path / "m.dot").read_text()
    edges = [("features", "wide"), ("extra", "narrow"), ("wide", "join"), ("narrow", "join"), ("join", "out")]
    names = [layer.name for layer in model.layers]
    for name in names:
        assert f'id="{name}"' in svg and f'"{name}" [label=' in dot
    assert svg.count('class="edge"') == len(edges) and dot.count(" -> ") == len(edges)
    for a, b in edges:
        assert f'data-from="{a}" data-to="{b}"' in svg
        assert f'"{a}" -> "{b}";' in dot
    assert "Output shape: (None, 16)" in svg and "Input shape: [(None, 16), (None, 8)]" in svg
    assert "out (Dense)" in dot and "digraph" in (tmp_path / "m.gv").read_text()


def test_sequential_chain_edges_and_options(tmp_path):
    plot_model(_cnn(), tmp_path / "c.dot", show_dtype=True, show_trainable=True, show_layer_activations=True)
    dot = (tmp_path / "c.dot").read_text()
    assert dot.count(" -> ") == 3
    assert "Activation: relu" in dot and "Output dtype: float32" in dot and "Trainable" in dot


def test_bad_extension_and_arguments(tmp_path):
    with pytest.raises(ConfigError) as err:
        plot_model(_cnn(), tmp_path / "model.jpg")
    message = str(err.value)
    assert "\n" not in message and ".png" in message and ".svg" in message and ".dot" in message
    with pytest.raises(ConfigError, match="rankdir"):
        plot_model(_cnn(), tmp_path / "m.png", rankdir="BT")
    with pytest.raises(ConfigError, match="unexpected"):
        plot_model(_cnn(), tmp_path / "m.png", colour=True)
    assert not list(tmp_path.iterdir())


def test_huge_model_png_stays_bounded(tmp_path):
    model = tuinet.Sequential([L.Input((4,))] + [L.Dense(4) for _ in range(400)])
    path = tmp_path / "deep.png"
    plot_model(model, path, show_shapes=True)
    width, height, _ = _check_png(path)
    assert width <= tb_max() and height <= tb_max()
    wide_in = [L.Input((2,), name=f"in_{i}") for i in range(300)]
    wide = tuinet.Model(wide_in, L.Concatenate()(wide_in))
    plot_model(wide, tmp_path / "wide.png")
    width, height, _ = _check_png(tmp_path / "wide.png")
    assert width <= tb_max() and height <= tb_max()
    plot_model(model, tmp_path / "deep.svg")
    assert (tmp_path / "deep.svg").read_text().count('class="layer"') == 400

"""Crafted model files: the loader accepts only what it understands, and says what is wrong.

Every crafted file is built here from a real saved model (no binaries in the repository):
extra, missing and duplicated members, deflated members, encryption flags, zip bombs,
.npy headers with huge shapes or foreign dtypes, deep or mistyped header JSON, unknown layer
classes, hostile names, bad metadata, FIFOs, devices and folders. Each must raise a
`ModelFileError` that names the file on one line without control characters. Hypothesis then
mutates valid files at random: a load either works (and the model predicts) or raises
`ModelFileError`, never anything else.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import resource
import stat
import struct
import sys
import threading
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tuinet
from tuinet import Sequential, layers
from tuinet.errors import ModelFileError
from tuinet.nn.serialization import _header_digest

HEADER = "tuinet.json.npy"
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
METADATA = {"preset": "toy", "task": "classification", "dataset": "toy", "feature_names": ["a", "b", "c"],
            "class_names": ["red", "green", "blue"],
            "scaler": {"name": "standard", "offset": [0.5, 0.0, -1.0], "scale": [2.0, 1.0, 0.5]},
            "scaler_kind": "StandardScaler"}


# ---------------------------------------------------------------------- building files
def small_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = rng.integers(0, 3, size=32)
    model = Sequential([layers.Dense(4, input_shape=(3,), activation="relu"), layers.Dense(3, activation="softmax")],
                       seed=1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.metadata = json.loads(json.dumps(METADATA))
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(path, bytes) of a valid, compiled model file with optimizer state and metadata."""
    path = tmp_path_factory.mktemp("valid") / "good.tuinet"
    small_model().save(path)
    return path, path.read_bytes()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("crafted")


def members(raw: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def npy(array) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def array_of(data: bytes) -> np.ndarray:
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def header_of(items) -> dict:
    return json.loads(array_of(dict(items)[HEADER]).tobytes())


def header_member(header: dict, *, resign: bool = True) -> bytes:
    version = header.get("format_version")
    if resign and not (isinstance(version, int) and version < 2):
        header = {**header, "header_sha256": _header_digest(header)}
    return npy(np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))


def with_header(items, header: dict, *, resign: bool = True) -> list[tuple[str, bytes]]:
    data = header_member(header, resign=resign)
    return [(n, data if n == HEADER else d) for n, d in items]


def pack(items, compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in items:
            zf.writestr(name, data)
    return buf.getvalue()


def raw_zip(entries) -> bytes:
    """A zip written by hand: entries of (name, payload, method, crc, size, local flags, central flags)."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, payload, method, crc, size, lflags, cflags in entries:
        offset = out.tell()
        fname = name.encode()
        out.write(struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, lflags, method, 0, 0x21, crc, len(payload),
                              size, len(fname), 0) + fname + payload)
        central.write(struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, cflags, method, 0, 0x21, crc,
                                  len(payload), size, len(fname), 0, 0, 0, 0, 0, offset) + fname)
    cd = central.getvalue()
    n = len(entries)
    return out.getvalue() + cd + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(cd), out.tell(), 0)


def stored(name: str, data: bytes, *, lflags: int = 0, cflags: int = 0, method: int = 0):
    return name, data, method, zlib.crc32(data), len(data), lflags, cflags


def deflated(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def write(workdir, name: str, raw: bytes):
    path = workdir / name
    path.write_bytes(raw)
    return path


def refused(path, *fragments, **kwargs) -> str:
    """The load raises one ModelFileError, one printable line naming the file, with `fragments`."""
    with pytest.raises(ModelFileError) as info:
        tuinet.load_model(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and not CONTROL.search(message), message
    assert os.path.basename(str(path)) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def works(model) -> None:
    shape = tuple(d or 1 for d in model.input_shape[1:])
    out = model.predict(np.zeros((2, *shape), np.float32), verbose=0)
    assert out.shape[0] == 2


# ---------------------------------------------------------------------- the zip container
def test_a_deflated_copy_loads_the_same_model(saved, workdir):
    path, raw = saved
    copy = write(workdir, "deflated.tuinet", pack(members(raw), zipfile.ZIP_DEFLATED))
    x = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_array_equal(tuinet.load_model(copy).predict(x, verbose=0),
                                  tuinet.load_model(path).predict(x, verbose=0))


def test_members_the_header_does_not_name_are_refused(saved, workdir):
    items = members(saved[1])
    refused(write(workdir, "extra.tuinet", pack([*items, ("w_0099.npy", npy(np.zeros(3, np.float32)))])),
            "unexpected member 'w_0099.npy'")
    refused(write(workdir, "stranger.tuinet", pack([*items, ("notes.txt", b"hello")])), "unexpected member 'notes.txt'")
    refused(write(workdir, "missing.tuinet", pack([(n, d) for n, d in items if n != "w_0001.npy"])),
            "'dense/bias' is missing")
    with pytest.warns(UserWarning):  # zipfile: "Duplicate name"
        twice = pack([*items, items[1]])
    refused(write(workdir, "twice.tuinet", twice), "twice")


@pytest.mark.parametrize("where", ["local", "central", "both"])
def test_encrypted_members_are_refused(saved, workdir, where):
    entries = []
    for name, data in members(saved[1]):
        flag = 1 if name == "w_0000.npy" else 0
        entries.append(stored(name, data, lflags=flag if where != "central" else 0,
                              cflags=flag if where != "local" else 0))
    refused(write(workdir, f"encrypted-{where}.tuinet", raw_zip(entries)), "w_0000.npy", "encrypted")


def test_other_compression_methods_are_refused(saved, workdir):
    entries = [stored(n, d, method=12 if n == "w_0000.npy" else 0) for n, d in members(saved[1])]  # bzip2
    refused(write(workdir, "bzip2.tuinet", raw_zip(entries)), "compression method 12")


def bomb_member(nbytes: int) -> tuple:
    """`w_0000.npy`: a float32 array of `nbytes` zero bytes, truly deflated, built chunk by chunk."""
    head = npy(np.zeros(0, np.float32)).replace(b"(0,)", f"({nbytes // 4},)".encode())
    head = head[:8] + struct.pack("<H", len(head) - 10) + head[10:]
    chunk = 1_000_000
    assert nbytes % chunk == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    zeros = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)  # byte-aligned: repeatable as is
    payload = first + zeros * (nbytes // chunk) + b"\x03\x00"  # the final, empty block
    return "w_0000.npy", payload, 8, 0, len(head) + nbytes, 0, 0


def test_a_zip_bomb_is_refused_before_anything_is_inflated(saved, workdir):
    items = members(saved[1])
    entries = [bomb_member(4_000_000_000) if n == "w_0000.npy" else stored(n, d) for n, d in items]
    path = write(workdir, "bomb.tuinet", raw_zip(entries))
    assert path.stat().st_size < 8_000_000  # 4 GB of zeros in a few MB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused(path, "over the budget", "TUINET_MAX_MODEL_BYTES")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown * (1 if sys.platform == "darwin" else 1024) < 64 * 1024 ** 2


def test_the_bomb_stream_really_inflates():
    name, payload, method, crc, size, *flags = bomb_member(3_000_000)
    out = zlib.decompressobj(-15).decompress(payload)
    assert len(out) == size and out.endswith(bytes(1000)) and out.startswith(b"\x93NUMPY")


def test_the_budget_setting_lets_a_trusted_deflated_file_load(workdir, monkeypatch):
    model = Sequential([layers.Dense(1024, input_shape=(1024,))], seed=0)
    model.set_weights([np.zeros((1024, 1024), np.float32), np.zeros(1024, np.float32)])  # 4 MiB of zeros
    plain = workdir / "zeros-stored.tuinet"
    model.save(plain)
    path = write(workdir, "zeros.tuinet", pack(members(plain.read_bytes()), zipfile.ZIP_DEFLATED))
    assert path.stat().st_size * 64 + 1024 ** 2 < 4 * 1024 ** 2  # deflates far better than 64 times
    monkeypatch.delenv("TUINET_MAX_MODEL_BYTES", raising=False)
    refused(path, "over the budget", "64 times")
    refused(path, "over the budget", "set by max_bytes", max_bytes=1024 ** 2)
    works(tuinet.load_model(path, max_bytes=8 * 1024 ** 2))
    monkeypatch.setenv("TUINET_MAX_MODEL_BYTES", "8M")
    works(tuinet.load_model(path))
    monkeypatch.setenv("TUINET_MAX_MODEL_BYTES", "lots")
    refused(path, "TUINET_MAX_MODEL_BYTES=lots is not a size")


def test_member_sizes_that_lie_are_refused(saved, workdir):
    entries = []
    for name, data in members(saved[1]):
        entry = list(stored(name, data))
        if name == "w_0000.npy":
            entry[4] -= 4  # declares one float less than it holds
        entries.append(tuple(entry))
    refused(write(workdir, "lying.tuinet", raw_zip(entries)))


def test_a_member_directory_of_millions_is_refused_unread(saved, workdir):
    raw = saved[1]
    end = raw.rindex(b"PK\x05\x06")
    patched = raw[:end + 8] + struct.pack("<2H2L", 0xFFFF, 0xFFFF, 10 ** 9, 0) + raw[end + 20:]
    refused(write(workdir, "directory.tuinet", patched))


# ---------------------------------------------------------------------- .npy headers
def npy_raw(header: str, data: bytes = b"") -> bytes:
    """A version 1.0 .npy stream with this header text, as a crafted file would hold it."""
    text = header.encode("latin1") + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


def test_npy_headers_with_huge_shapes_or_foreign_dtypes_are_refused(saved, workdir):
    items = members(saved[1])
    header = header_of(items)
    kernel = array_of(dict(items)["w_0000.npy"])

    def crafted(member: bytes, json_header=None) -> bytes:
        return pack(with_header([(n, member if n == "w_0000.npy" else d) for n, d in items], json_header or header))

    huge = npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 4), }", kernel.tobytes())
    refused(write(workdir, "huge.tuinet", crafted(huge)), "dense/kernel", "has shape")
    agreeing = replaced(header, ("weights", 0, "shape"), [10 ** 12, 4])  # the JSON header agrees: sizes do not
    refused(write(workdir, "huge2.tuinet", crafted(huge, agreeing)), "needs")
    objects = npy_raw("{'descr': '|O', 'fortran_order': False, 'shape': (3, 4), }", bytes(96))
    refused(write(workdir, "object.tuinet", crafted(objects)), "dtype")
    refused(write(workdir, "object2.tuinet", crafted(objects, replaced(header, ("weights", 0, "dtype"), "|O"))),
            "weights[0].dtype")
    structured = npy_raw("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3, 4), }", kernel.tobytes())
    refused(write(workdir, "structured.tuinet", crafted(structured)), "dtype")
    nested = npy_raw("{'descr': " + "[" * 1500 + "]" * 1500 + ", 'fortran_order': False, 'shape': (3, 4), }")
    refused(write(workdir, "nested-npy.tuinet", crafted(nested)), "w_0000.npy")
    negative = npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 4), }", kernel.tobytes())
    refused(write(workdir, "negative.tuinet", crafted(negative)), "w_0000.npy")
    long_header = npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }" + " " * 60000)
    refused(write(workdir, "long-npy.tuinet", crafted(long_header)), "w_0000.npy")
    fortran = npy(np.asfortranarray(kernel))  # a Fortran-ordered copy holds the same weights
    model = tuinet.load_model(write(workdir, "fortran.tuinet", crafted(fortran)))
    np.testing.assert_array_equal(model.get_weights()[0], kernel)


@pytest.mark.parametrize("dtype", [">f4", "<c8", "<i4", "|b1", "<U3", "|V4", "<M8[s]"])
def test_weights_of_other_dtypes_are_refused_even_when_the_header_agrees(saved, workdir, dtype):
    items = members(saved[1])
    header = header_of(items)
    kernel = array_of(dict(items)["w_0000.npy"]).astype(np.dtype(dtype)) if dtype[1] != "U" else \
        np.full((3, 4), "abc")
    header["weights"][0].update(dtype=kernel.dtype.str, sha256=hashlib.sha256(kernel.tobytes()).hexdigest())
    crafted = with_header([(n, npy(kernel) if n == "w_0000.npy" else d) for n, d in items], header)
    refused(write(workdir, f"dtype-{dtype[1:3]}.tuinet", pack(crafted)), "weights[0].dtype")


def test_an_edited_header_fails_its_checksum(saved, workdir):
    items = members(saved[1])
    header = header_of(items)
    header["weights"][0]["dtype"] = "<f8"
    refused(write(workdir, "edited.tuinet", pack(with_header(items, header, resign=False))), "fails its checksum")
    header = header_of(items)
    header["model"]["layers"][0]["config"]["activation"] = "tanh"  # no array changes: only the digest tells
    refused(write(workdir, "edited2.tuinet", pack(with_header(items, header, resign=False))), "fails its checksum")


# ---------------------------------------------------------------------- the header JSON
def test_a_deeply_nested_header_is_refused_without_recursion(saved, workdir):
    items = members(saved[1])
    text = json.dumps(header_of(items))
    deep = text[:-1] + ', "junk": ' + "[" * 100_000 + "]" * 100_000 + "}"
    data = npy(np.frombuffer(deep.encode(), dtype=np.uint8))
    refused(write(workdir, "deep.tuinet", pack([(n, data if n == HEADER else d) for n, d in items])),
            "nests 100001 levels deep")


def test_a_header_that_is_not_json_or_not_an_object_is_refused(saved, workdir):
    items = members(saved[1])
    for i, text in enumerate([b"\xff\xfe", b"{nope", b"[1, 2]", b"1" * 5000, b'"text"']):
        data = npy(np.frombuffer(text, dtype=np.uint8))
        refused(write(workdir, f"json-{i}.tuinet", pack([(n, data if n == HEADER else d) for n, d in items])),
                "tuinet.json header")
    data = npy(np.zeros((2, 2), np.uint8))
    refused(write(workdir, "json-2d.tuinet", pack([(n, data if n == HEADER else d) for n, d in items])),
            "not a byte array")


WRONG_FIELDS = [
    (("format",), 5), (("format",), "keras"), (("format_version",), "2"), (("format_version",), 2.0),
    (("format_version",), True), (("format_version",), 0), (("tuinet_version",), 3), (("tuinet_version",), None),
    (("model",), []), (("model",), None), (("compile",), "adam"), (("compile",), {"optimizer": "adam"}),
    (("compile", "metrics"), "accuracy"), (("compile", "loss"), 3), (("weights",), {}), (("weights",), None),
    (("weights", 0), "w"), (("weights", 0, "name"), 5), (("weights", 0, "shape"), "3x4"),
    (("weights", 0, "shape"), [3, -4]), (("weights", 0, "shape"), [3, 4.0]), (("weights", 0, "shape"), [3, True]),
    (("weights", 0, "dtype"), 4), (("weights", 0, "dtype"), "float32"), (("weights", 0, "sha256"), "zz"),
    (("weights", 0, "sha256"), None), (("optimizer",), 5), (("optimizer",), {}), (("optimizer", 0, "dtype"), "|O"),
    (("optimizer", 0, "shape"), None), (("metadata",), []), (("metadata",), "x"),
    (("metadata", "class_names"), "abc"), (("metadata", "class_names"), [1, 2, 3]),
    (("metadata", "class_names"), ["red", "\x1b]0;pwned\x07", "blue"]), (("metadata", "task"), "clustering"),
    (("metadata", "feature_names"), {"a": 1}), (("metadata", "preset"), ["x"]),
    (("metadata", "scaler_kind"), "load_csv"), (("metadata", "scaler_kind"), "MinMaxScaler"),
    (("metadata", "scaler"), "standard"), (("metadata", "scaler", "name"), "minmax"),
    (("metadata", "scaler", "offset"), [0.0, 1.0]), (("metadata", "scaler", "offset"), "0"),
    (("metadata", "scaler", "scale"), [1.0, 0.0, 1.0]), (("metadata", "scaler", "scale"), [1.0, float("nan"), 1.0]),
    (("metadata", "scaler", "extra"), 1), (("model", "layers"), []), (("model", "layers"), {}),
    (("model", "layers", 0), "Dense"), (("model", "layers", 0, "config"), []),
    (("model", "layers", 0, "config", "units"), "4"), (("model", "layers", 0, "config", "units"), 10 ** 9),
    (("model", "layers", 0, "config", "units"), -1), (("model", "layers", 0, "config", "activation"), "nope"),
    (("model", "layers", 0, "config", "dtype"), "object"), (("model", "layers", 0, "config", "name"), "a\nb"),
    (("model", "input_shape"), [10 ** 6]), (("model", "layers", 0, "config", "bogus"), 1),
    (("model", "seed"), -1), (("model", "seed"), "seed"), (("model", "name"), {"x": 1}),
    (("model", "input_shape"), [0]), (("model", "extra"), 1), (("extra",), 1), (("header_sha256",), "0" * 64),
    (("compile", "optimizer"), {"class_name": "Nope", "config": {}}), (("compile", "loss"), "nope"),
]


def replaced(header, where, value):
    header = json.loads(json.dumps(header))
    node = header
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    return header


@pytest.mark.parametrize("where,value", WRONG_FIELDS, ids=[".".join(map(str, w)) + "=" + repr(v)[:20]
                                                           for w, v in WRONG_FIELDS])
def test_every_field_of_the_wrong_type_or_value_is_refused(saved, workdir, where, value):
    items = members(saved[1])
    crafted = with_header(items, replaced(header_of(items), where, value), resign=where != ("header_sha256",))
    refused(write(workdir, "field.tuinet", pack(crafted)))


def test_unknown_and_hostile_layer_classes_are_named_safely(saved, workdir):
    items = members(saved[1])
    header = replaced(header_of(items), ("model", "layers", 0, "class_name"), "Transformer")
    refused(write(workdir, "unknown.tuinet", pack(with_header(items, header))), 'unknown layer class "Transformer"')
    header = replaced(header_of(items), ("model", "layers", 0, "class_name"), "\x1b]0;pwned\x07" + "A" * 500)
    message = refused(write(workdir, "hostile.tuinet", pack(with_header(items, header))), "\\x1b]0;pwned\\x07")
    assert len(message) < 1000


def test_a_hostile_class_name_never_reaches_the_terminal(saved, workdir):
    items = members(saved[1])
    header = replaced(header_of(items), ("metadata", "class_names", 1), "\x1b]0;pwned\x07")
    message = refused(write(workdir, "pwned.tuinet", pack(with_header(items, header))), "class_names[1]")
    assert "\\x1b]0;pwned\\x07" in message


def test_optimizer_state_that_does_not_fit_the_model_is_refused(saved, workdir):
    items = members(saved[1])
    header = header_of(items)
    names = [e["name"] for e in header["optimizer"]]
    slot = next(i for i, n in enumerate(names) if "/" in n)
    header["optimizer"][slot]["name"] = "params_float64/" + names[slot].rsplit("/", 1)[1]
    refused(write(workdir, "slots.tuinet", pack(with_header(items, header))), "belongs to no parameters")


# ---------------------------------------------------------------------- not regular files
def test_a_fifo_is_refused_without_blocking(workdir):
    fifo = workdir / "pipe.tuinet"
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(fifo)
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(pytest.raises(ModelFileError, tuinet.load_model, fifo)),
                              daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # unblock the reader before failing
        with open(fifo, "wb"):
            pass
        pytest.fail("load_model blocked on a FIFO")
    message = str(outcome[0].value)
    assert "pipe.tuinet: is not a regular file (a named pipe)" in message
    with pytest.raises(ModelFileError, match="not a regular file"):
        Sequential([layers.Dense(1, input_shape=(1,))]).load_weights(fifo)


def test_devices_and_folders_are_refused(workdir):
    if os.path.exists("/dev/zero"):
        refused("/dev/zero", "not a regular file (a character device)")
    refused(workdir, "is a folder")
    refused(workdir / "absent.tuinet", "file not found")


def test_cli_predict_on_a_fifo_exits_2_with_one_line(workdir):
    from tuinet.cli import main

    fifo = workdir / "cli-pipe.tuinet"
    os.mkfifo(fifo)
    rows = workdir / "rows.csv"
    rows.write_text("1,2,3\n")
    result = CliRunner().invoke(main, ["predict", str(fifo), str(rows)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cli-pipe.tuinet: is not a regular file" in lines[0]


# ---------------------------------------------------------------------- older files
def test_version_1_files_still_load(saved, workdir):
    items = members(saved[1])
    header = header_of(items)
    del header["header_sha256"]
    header["format_version"] = 1
    path = write(workdir, "v1.tuinet", pack(with_header(items, header)))
    model = tuinet.load_model(path)
    works(model)
    assert model.metadata == METADATA and model.optimizer.iterations == 2
    del header["metadata"]  # the first files had no metadata
    model = tuinet.load_model(write(workdir, "v1-bare.tuinet", pack(with_header(items, header))))
    assert model.metadata == {}
    header["header_sha256"] = "0" * 64  # a digest is no part of version 1
    refused(write(workdir, "v1-digest.tuinet", pack(with_header(items, header))), "header_sha256")


def test_save_refuses_what_load_would_refuse(tmp_path):
    model = small_model()
    model.metadata = {**METADATA, "class_names": ["a\x1bb"]}
    with pytest.raises(ModelFileError, match="cannot save to .*class_names"):
        model.save(tmp_path / "m.tuinet")
    model.metadata = {**METADATA, "scaler": {**METADATA["scaler"], "offset": [0.0], "scale": [1.0]}}
    with pytest.raises(ModelFileError, match="one per input feature"):
        model.save(tmp_path / "m.tuinet")
    assert list(tmp_path.iterdir()) == []
    model.metadata = {**METADATA, "notes": "free text\nof the user's own"}
    model.save(tmp_path / "m.tuinet")
    assert tuinet.load_model(tmp_path / "m.tuinet").metadata["notes"].endswith("own")


def test_metadata_with_int_keys_round_trips_through_the_header_digest(tmp_path):
    model = small_model()
    model.metadata = {**METADATA, "notes": {2: "two", 10: "ten"}, "pair": (1, 2)}
    model.save(tmp_path / "m.tuinet")
    assert tuinet.load_model(tmp_path / "m.tuinet").metadata["notes"] == {"2": "two", "10": "ten"}


# ---------------------------------------------------------------------- permissions and links
@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_files_follow_the_umask(tmp_path, umask, mode):
    model = small_model()
    old = os.umask(umask)
    try:
        model.save(tmp_path / "m.tuinet")
        model.save_weights(tmp_path / "w.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.tuinet").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "w.npz").stat().st_mode) == mode


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_an_overwritten_file_keeps_its_mode(tmp_path):
    model = small_model()
    path = tmp_path / "m.tuinet"
    model.save(path)
    os.chmod(path, 0o640)
    model.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_saving_through_a_symlink_replaces_its_target(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    target = real / "m.tuinet"
    target.write_bytes(b"old")
    link = tmp_path / "link.tuinet"
    link.symlink_to(target)
    model = small_model()
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert tuinet.load_model(target).get_config() == model.get_config()
    assert sorted(p.name for p in real.iterdir()) == ["m.tuinet"] and sorted(
        p.name for p in tmp_path.iterdir()) == ["link.tuinet", "real"]


def test_atomic_write_serves_presets_and_csv_alike(tmp_path):
    from tuinet.atomic import atomic_write

    path = tmp_path / "a.txt"
    atomic_write(path, lambda f: f.write("héllo\n"), encoding="utf-8")
    assert path.read_bytes() == "héllo\n".encode()
    with pytest.raises(RuntimeError):
        atomic_write(path, lambda f: (_ for _ in ()).throw(RuntimeError("boom")))
    assert path.read_text(encoding="utf-8") == "héllo\n" and sorted(os.listdir(tmp_path)) == ["a.txt"]
    with pytest.raises(ValueError, match="cannot write"):
        atomic_write(tmp_path / "no" / "b.txt", lambda f: None, error=lambda exc: ValueError(f"cannot write: {exc}"))


# ---------------------------------------------------------------------- random mutations
def load_outcome(path) -> None:
    """Loading either works (and the model predicts) or raises ModelFileError; nothing else."""
    try:
        model = tuinet.load_model(path)
    except ModelFileError as exc:
        message = str(exc)
        assert "\n" not in message and not CONTROL.search(message), message
        return
    works(model)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=12)
    | st.sampled_from(["<f4", "<f8", "|O", "Dense", "relu", "StandardScaler", "standard", "adam", "mse"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8)


def paths_in(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths_in(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths_in(v, (*prefix, i))


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=True)


@FUZZ
@given(data=st.data())
def test_random_header_fields_never_escape_as_other_errors(saved, workdir, data):
    items = members(saved[1])
    header = header_of(items)
    where = data.draw(st.sampled_from([p for p in paths_in(header) if p]))
    header = replaced(header, where, data.draw(json_values))
    crafted = with_header(items, header, resign=data.draw(st.booleans()))
    load_outcome(write(workdir, "fuzz-header.tuinet", pack(crafted)))


@FUZZ
@given(data=st.data())
def test_random_member_edits_never_escape_as_other_errors(saved, workdir, data):
    items = members(saved[1])
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(items) - 1))
        action = data.draw(st.sampled_from(["drop", "duplicate", "rename", "swap"]))
        if action == "drop" and len(items) > 1:
            items.pop(i)
        elif action == "duplicate":
            items.append(items[i])
        elif action == "rename":
            items[i] = (data.draw(st.sampled_from(["w_0000.npy", "o_0000.npy", "w_0009.npy", "x.npy", HEADER])),
                        items[i][1])
        else:
            j = data.draw(st.integers(0, len(items) - 1))
            items[i], items[j] = (items[i][0], items[j][1]), (items[j][0], items[i][1])
    compression = data.draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    with warnings.catch_warnings():  # zipfile: "Duplicate name"
        warnings.simplefilter("ignore")
        raw = pack(items, compression)
    load_outcome(write(workdir, "fuzz-members.tuinet", raw))


@FUZZ
@given(data=st.data())
def test_random_byte_flips_never_escape_as_other_errors(saved, workdir, data):
    raw = bytearray(saved[1])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    load_outcome(write(workdir, "fuzz-bytes.tuinet", bytes(raw)))


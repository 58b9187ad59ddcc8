"""Model files: exact round trips, resumable training, and clear errors for bad files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import tuinet
from tuinet import Sequential, layers, optimizers
from tuinet.errors import ModelFileError


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    return x, y


def trained_model():
    x, y = data()
    model = Sequential([layers.Dense(8, input_shape=(4,), activation="relu"), layers.BatchNormalization(),
                        layers.Dropout(0.1), layers.Dense(3, activation="softmax")], seed=5)
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01, amsgrad=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model, x, y


def test_round_trip_restores_predictions_exactly(tmp_path):
    model, x, y = trained_model()
    path = tmp_path / "model.tuinet"
    model.save(path)
    same = tuinet.load_model(path)
    np.testing.assert_array_equal(same.predict(x, verbose=0), model.predict(x, verbose=0))
    assert same.get_config() == model.get_config()
    assert same.compile_config() == model.compile_config()
    assert same.optimizer.iterations == model.optimizer.iterations
    assert same.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_training_resumes_with_the_same_optimizer_state(tmp_path):
    model, x, y = trained_model()
    path = tmp_path / "model.tuinet"
    model.save(path)
    same = tuinet.load_model(path)
    # The same batch sequence from here on: shuffle=False, no dropout randomness difference (reseed both).
    for m in (model, same):
        m.layers[2]._rng = np.random.default_rng(0)
        m.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), same.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_file_is_an_npz_without_pickles(tmp_path):
    model, _, _ = trained_model()
    path = tmp_path / "m.tuinet"
    model.save(path)
    with np.load(path, allow_pickle=False) as archive:
        header = json.loads(archive["tuinet.json"].tobytes())
        assert header["format"] == "tuinet.model" and header["format_version"] == 2
        for k in archive.files:
            assert archive[k].dtype != object


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    model, _, _ = trained_model()
    path = tmp_path / "m.tuinet"
    model.save(path)
    model.save(path)  # overwrite
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tuinet"]


def test_missing_truncated_foreign_and_tampered_files_raise_clear_errors(tmp_path):
    model, _, _ = trained_model()
    good = tmp_path / "m.tuinet"
    model.save(good)
    raw = good.read_bytes()

    with pytest.raises(ModelFileError, match="nope.tuinet: file not found"):
        tuinet.load_model(tmp_path / "nope.tuinet")

    truncated = tmp_path / "truncated.tuinet"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="truncated.tuinet"):
        tuinet.load_model(truncated)

    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="notes.txt"):
        tuinet.load_model(text)

    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(ModelFileError, match="foreign.npz: not a tuinet model file"):
        tuinet.load_model(foreign)

    # Tamper: change one weight value but keep shapes, then re-pack.
    tampered = tmp_path / "tampered.tuinet"
    with np.load(good, allow_pickle=False) as archive:
        arrays = {k: archive[k].copy() for k in archive.files}
    arrays["w_0000"][0, 0] += 1.0
    with open(tampered, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ModelFileError, match="dense/kernel.*checksum"):
        tuinet.load_model(tampered)

    newer = tmp_path / "newer.tuinet"
    header = json.loads(arrays["tuinet.json"].tobytes())
    header["format_version"] = 99
    arrays["w_0000"][0, 0] -= 1.0
    arrays["tuinet.json"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(newer, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ModelFileError, match="version 99"):
        tuinet.load_model(newer)


def test_load_error_is_an_oserror_and_a_tuinet_error(tmp_path):
    with pytest.raises(OSError):
        tuinet.load_model(tmp_path / "missing")
    with pytest.raises(tuinet.TuinetError):
        tuinet.load_model(tmp_path / "missing")


def test_save_weights_and_load_weights(tmp_path):
    model, x, _ = trained_model()
    path = tmp_path / "w.npz"
    model.save_weights(path)
    clone = Sequential.from_config(model.get_config())
    clone.load_weights(path)
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    other = Sequential([layers.Dense(2, input_shape=(4,))])
    with pytest.raises(ModelFileError, match="do not fit this model"):
        other.load_weights(path)


def test_uncompiled_model_round_trip(tmp_path):
    model = Sequential([layers.Conv1D(3, 2, input_shape=(6, 2)), layers.GlobalAveragePooling1D(), layers.Dense(1)],
                       seed=1)
    path = tmp_path / "u.tuinet"
    model.save(path)
    same = tuinet.load_model(path)
    assert not same.compiled
    x = np.random.default_rng(0).normal(size=(4, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(same.predict(x, verbose=0), model.predict(x, verbose=0))


def test_saving_into_a_missing_folder_is_a_clear_error(tmp_path):
    model, _, _ = trained_model()
    with pytest.raises(ModelFileError, match="does not exist"):
        model.save(tmp_path / "no" / "such" / "m.tuinet")


def test_archive_with_a_damaged_member_is_reported(tmp_path):
    model, _, _ = trained_model()
    good = tmp_path / "m.tuinet"
    model.save(good)
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("w_0000.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    raw[start] ^= 0xFF
    bad = tmp_path / "flipped.tuinet"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="flipped.tuinet"):
        tuinet.load_model(bad)

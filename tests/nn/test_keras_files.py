"""Keras 3 files: `.keras` models and `.weights.h5` weights (tuinet.nn.keras_format).

The fixtures under `tests/fixtures/keras/` were written by real Keras 3 (see
`scripts/make_keras_fixtures.py`), with Keras's `predict` outputs beside them. That Keras opens
the files tuinet writes is checked by `benchmarks/check_against_keras.py --only keras_files`,
since Keras is not a test dependency.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tuinet
from tuinet import layers as L
from tuinet.errors import ModelFileError

h5py = pytest.importorskip("h5py")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "keras"
MODELS = ("mlp", "cnn", "text", "adam", "functional")


@pytest.fixture(scope="module")
def expected():
    with np.load(FIXTURES / "predictions.npz") as data:
        return {k: data[k] for k in data.files}


def _one_line(exc: pytest.ExceptionInfo, path) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message
    return message


# ---------------------------------------------------------------------- files Keras wrote
@pytest.mark.parametrize("name", MODELS)
def test_keras_files_load_and_predict_as_keras(name, expected):
    model = tuinet.load_model(FIXTURES / f"{name}.keras")
    got = model.predict(expected[f"x_{name}"], verbose=0)
    np.testing.assert_allclose(got, expected[f"y_{name}"], atol=1e-5, rtol=0)


def test_compiled_keras_file_restores_optimizer_and_loss():
    model = tuinet.load_model(FIXTURES / "adam.keras")
    assert type(model.optimizer).__name__ == "Adam"
    assert model.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)
    assert model.loss.name == "mean_squared_error"
    assert model.optimizer.iterations == 6  # 2 epochs of 3 batches
    state = model.optimizer.get_state()
    assert {k.rpartition("/")[2] for k in state if "/" in k} == {"momentum", "velocity"}
    assert model.layers[0].regularizers  # the L2 kernel regularizer came along
    sgd = tuinet.load_model(FIXTURES / "mlp.keras")
    assert type(sgd.optimizer).__name__ == "SGD" and sgd.optimizer.momentum == pytest.approx(0.9)


def test_compile_false_skips_the_compile_settings():
    model = tuinet.load_model(FIXTURES / "adam.keras", compile=False)
    assert not model.compiled


def test_weights_h5_from_keras_loads(expected):
    model = tuinet.load_model(FIXTURES / "mlp.keras", compile=False)
    model.reset_weights()
    model.load_weights(FIXTURES / "mlp.weights.h5")
    np.testing.assert_allclose(model.predict(expected["x_mlp"], verbose=0), expected["y_mlp"], atol=1e-5, rtol=0)


def test_loaded_keras_model_keeps_training():
    model = tuinet.load_model(FIXTURES / "adam.keras")
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    history = model.fit(x, x.sum(axis=1, keepdims=True), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


# ---------------------------------------------------------------------- files tuinet writes
def _models():
    return {
        "mlp": (lambda: tuinet.Sequential([L.Input((4,)), L.Dense(8, activation="relu"), L.Dropout(0.2),
                                           L.BatchNormalization(), L.Dense(3, activation="softmax")], seed=1), (4,)),
        "cnn": (lambda: tuinet.Sequential([L.Input((6, 6, 2)), L.Conv2D(3, 3, padding="same"), L.MaxPooling2D(),
                                           L.Flatten(), L.Dense(2)], seed=2), (6, 6, 2)),
        "rnn": (lambda: tuinet.Sequential([L.Input((5, 3)), L.LSTM(4, return_sequences=True),
                                           L.Bidirectional(L.GRU(2)), L.Dense(1)], seed=3), (5, 3)),
        "wrapped": (lambda: tuinet.Sequential([L.Input((5, 3)), L.TimeDistributed(L.Dense(2)), L.SimpleRNN(3),
                                               L.Dense(1, kernel_regularizer="l2")], seed=4), (5, 3)),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_tuinet_keras_files_round_trip(tmp_path, name):
    make, shape = _models()[name]
    model = make()
    x = np.random.default_rng(1).normal(size=(4, *shape)).astype("float32")
    path = tmp_path / f"{name}.keras"
    model.save(path)
    back = tuinet.load_model(path)
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(lay).__name__ for lay in back.layers] == [type(lay).__name__ for lay in model.layers]
    weights = tmp_path / f"{name}.weights.h5"
    model.save_weights(weights)
    other = make()
    other.reset_weights()
    other.load_weights(weights)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_written_file_has_keras_layout(tmp_path):
    model = _models()["mlp"][0]()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
        config = json.loads(zf.read("config.json"))
        meta = json.loads(zf.read("metadata.json"))
        raw = zf.read("model.weights.h5")
    assert meta["keras_version"].startswith("3.")
    assert config["class_name"] == "Sequential" and config["module"] == "keras"
    first, dense = config["config"]["layers"][:2]
    assert first["class_name"] == "InputLayer" and first["config"]["batch_shape"] == [None, 4]
    assert dense["module"] == "keras.layers" and dense["registered_name"] is None
    assert dense["build_config"] == {"input_shape": [None, 4]}
    assert dense["config"]["dtype"]["class_name"] == "DTypePolicy"
    assert dense["config"]["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    assert config["compile_config"]["loss"] == "sparse_categorical_crossentropy"
    with h5py.File(io.BytesIO(raw), "r") as f:
        assert f["layers/dense/vars"].attrs["name"] == "dense"
        assert f["layers/dense/vars/0"].shape == (4, 8)
        assert f["layers/dense_1/vars/0"].shape == (8, 3)
        assert len(f["layers/batch_normalization/vars"]) == 4
        assert "optimizer/vars/0" in f  # iterations, learning rate, then the slots
        assert len(f["optimizer/vars"]) == 2 + 2 * 6


# ---------------------------------------------------------------------- attention and encoder-decoders
def _attention_model():
    q, v, k = L.Input((5, 4), name="q"), L.Input((6, 3), name="v"), L.Input((6, 2), name="k")
    a = L.MultiHeadAttention(2, 3, use_gate=True, name="cross")(q, v, key=k, use_causal_mask=True)
    b = L.MultiHeadAttention(2, 2, value_dim=3, output_shape=6, use_bias=False, name="self_mha")(q, q)
    c = L.Attention(use_scale=True, score_mode="concat", name="att")([q, L.Dense(4, name="vp")(v)],
                                                                     use_causal_mask=True)
    return tuinet.Model([q, v, k], L.Dense(2, name="out")(L.Concatenate(name="cat")([a, b, c])))


def _seq2seq(cell: str):
    """Keras's encoder-decoder recipe: the encoder's return_state states start the decoder."""
    enc, dec = L.Input((None, 3), name="enc"), L.Input((None, 2), name="dec")
    _, *states = getattr(L, cell)(4, return_state=True, name="encoder")(enc)
    seq = getattr(L, cell)(4, return_sequences=True, name="decoder")(dec, initial_state=states)
    return tuinet.Model([enc, dec], L.Dense(3, name="head")(seq))


GRAPHS = {"attention": (_attention_model, [(5, 4), (6, 3), (6, 2)]),
          **{f"seq2seq_{cell.lower()}": (lambda cell=cell: _seq2seq(cell), [(7, 3), (4, 2)])
             for cell in ("LSTM", "GRU", "SimpleRNN")}}


def _randomized(make):
    model = make()
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


@pytest.mark.parametrize("name", list(GRAPHS))
def test_attention_and_encoder_decoder_round_trip(tmp_path, name):
    make, shapes = GRAPHS[name]
    model = _randomized(make)
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(4, *s)).astype("float32") for s in shapes]
    path = tmp_path / f"{name}.keras"
    model.save(path)
    back = tuinet.load_model(path)
    np.testing.assert_array_equal(back.predict(xs, verbose=0), model.predict(xs, verbose=0))
    assert [type(lay).__name__ for lay in back.layers] == [type(lay).__name__ for lay in model.layers]
    assert [lay.weight_names for lay in back.layers] == [lay.weight_names for lay in model.layers]
    back.save(tmp_path / "again.keras")  # what tuinet read, it writes again the same way
    with zipfile.ZipFile(path) as first, zipfile.ZipFile(tmp_path / "again.keras") as second:
        assert json.loads(first.read("config.json")) == json.loads(second.read("config.json"))
    weights = tmp_path / f"{name}.weights.h5"
    model.save_weights(weights)
    other = make()
    other.load_weights(weights)
    np.testing.assert_array_equal(other.predict(xs, verbose=0), model.predict(xs, verbose=0))


def _layers_by_name(path) -> tuple[dict, bytes]:
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
        raw = zf.read("model.weights.h5")
    return {spec["name"]: spec for spec in config["config"]["layers"]}, raw


def test_attention_layers_have_keras_layout(tmp_path):
    _attention_model().save(tmp_path / "att.keras")
    layers, raw = _layers_by_name(tmp_path / "att.keras")
    cross = layers["cross"]
    (node,) = cross["inbound_nodes"]  # Keras's call: mha(query, value, key=key, use_causal_mask=True)
    assert [a["config"]["keras_history"] for a in node["args"]] == [["q", 0, 0], ["v", 0, 0]]
    assert node["kwargs"]["key"]["config"]["keras_history"] == ["k", 0, 0]
    assert node["kwargs"]["use_causal_mask"] is True
    assert cross["build_config"] == {"shapes_dict": {"query_shape": [None, 5, 4], "value_shape": [None, 6, 3],
                                                     "key_shape": [None, 6, 2]}}
    assert len(layers["self_mha"]["inbound_nodes"][0]["args"]) == 2
    assert "key" not in layers["self_mha"]["inbound_nodes"][0]["kwargs"]
    (att_node,) = layers["att"]["inbound_nodes"]  # Attention takes one list, as in Keras
    assert len(att_node["args"]) == 1 and len(att_node["args"][0]) == 2
    assert att_node["kwargs"] == {"use_causal_mask": True}
    assert layers["att"]["build_config"] == {"input_shape": [[None, 5, 4], [None, 6, 4]]}
    with h5py.File(io.BytesIO(raw), "r") as f:
        mha = f["layers/multi_head_attention"]
        assert mha["vars"].attrs["name"] == "cross" and len(mha["vars"]) == 0
        for group, name, kernel in (("query_dense", "query", (4, 2, 3)), ("key_dense", "key", (2, 2, 3)),
                                    ("_gate_dense", "gate", (4, 2, 3)), ("value_dense", "value", (3, 2, 3)),
                                    ("output_dense", "attention_output", (2, 3, 4))):
            assert mha[f"{group}/vars"].attrs["name"] == name
            assert mha[f"{group}/vars/0"].shape == kernel and len(mha[f"{group}/vars"]) == 2
        assert len(mha["_softmax/vars"]) == 0 and len(mha["_dropout_layer/vars"]) == 0
        plain = f["layers/multi_head_attention_1"]  # use_bias=False: kernels only, no gate
        assert list(plain["query_dense/vars"]) == ["0"] and "_gate_dense" not in plain
        assert plain["output_dense/vars/0"].shape == (2, 3, 6)
        assert [f[f"layers/attention/vars/{i}"].shape for i in range(2)] == [(), ()]  # scale, concat_score_weight


def test_initial_state_node_has_keras_layout(tmp_path):
    _seq2seq("LSTM").save(tmp_path / "s2s.keras")
    layers, _ = _layers_by_name(tmp_path / "s2s.keras")
    (node,) = layers["decoder"]["inbound_nodes"]
    assert [a["config"]["keras_history"] for a in node["args"]] == [["dec", 0, 0]]
    assert [t["config"]["keras_history"] for t in node["kwargs"]["initial_state"]] == [["encoder", 0, 1],
                                                                                        ["encoder", 0, 2]]


def test_keras_call_arguments_at_their_defaults_are_ignored(tmp_path):
    """Keras writes `mha(q, q, return_attention_scores=False, use_causal_mask=False, training=False)`
    as those kwargs; they load as the plain call. `return_attention_scores=True` is refused."""
    model = _randomized(_attention_model)
    model.save(tmp_path / "att.keras")

    def keras_kwargs(extra):
        def change(members):
            config = json.loads(members["config.json"])
            spec = next(s for s in config["config"]["layers"] if s["name"] == "self_mha")
            spec["inbound_nodes"][0]["kwargs"].update(extra)
            members["config.json"] = json.dumps(config).encode()
            return members
        return change

    path = _rezip(tmp_path / "att.keras", tmp_path / "defaults.keras", keras_kwargs(
        {"return_attention_scores": False, "use_causal_mask": False, "attention_mask": None, "training": False}))
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(3, *s)).astype("float32") for s in GRAPHS["attention"][1]]
    np.testing.assert_array_equal(tuinet.load_model(path).predict(xs, verbose=0), model.predict(xs, verbose=0))
    path = _rezip(tmp_path / "att.keras", tmp_path / "scores.keras", keras_kwargs({"return_attention_scores": True}))
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(path)
    assert "return_attention_scores" in _one_line(exc, path)


def test_keras_loss_without_keras_equivalent_is_refused(tmp_path):
    model = _models()["mlp"][0]()
    model.compile(optimizer="adam", loss="root_mean_squared_error")
    with pytest.raises(ModelFileError, match="no Keras 3 equivalent"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_other_names_keep_tuinet_format(tmp_path):
    model = _models()["mlp"][0]()
    model.save(tmp_path / "m.tuinet")
    with zipfile.ZipFile(tmp_path / "m.tuinet") as zf:
        assert "tuinet.json.npy" in zf.namelist()


def test_legacy_h5_model_file_is_refused(tmp_path):
    model = _models()["mlp"][0]()
    with pytest.raises(ModelFileError, match="legacy Keras 2 .h5"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ModelFileError, match="legacy Keras 2 .h5"):
        tuinet.load_model(tmp_path / "m.h5")


# ---------------------------------------------------------------------- hostile files
def _rezip(src: Path, dst: Path, change) -> Path:
    with zipfile.ZipFile(src) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members = change(members)
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def _with_h5(members: dict, edit) -> dict:
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "a") as f:
        edit(f)
    members["model.weights.h5"] = buffer.getvalue()
    return members


def test_truncated_zip(tmp_path):
    path = tmp_path / "cut.keras"
    path.write_bytes((FIXTURES / "mlp.keras").read_bytes()[:5000])
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(path)
    assert "truncated or damaged" in _one_line(exc, path)


def test_wrong_member_names(tmp_path):
    def rename(members):
        members["weights.bin"] = members.pop("model.weights.h5")
        return members

    path = _rezip(FIXTURES / "mlp.keras", tmp_path / "names.keras", rename)
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(path)
    assert "unexpected member 'weights.bin'" in _one_line(exc, path)


def test_missing_member(tmp_path):
    path = _rezip(FIXTURES / "mlp.keras", tmp_path / "nocfg.keras",
                  lambda m: {k: v for k, v in m.items() if k != "config.json"})
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(path)
    assert "no config.json" in _one_line(exc, path)


def test_unknown_layer_class(tmp_path):
    def swap(members):
        config = json.loads(members["config.json"])
        config["config"]["layers"][1]["class_name"] = "ConvLSTM2D"
        members["config.json"] = json.dumps(config).encode()
        return members

    path = _rezip(FIXTURES / "mlp.keras", tmp_path / "unknown.keras", swap)
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(path)
    message = _one_line(exc, path)
    assert "'ConvLSTM2D' is not supported" in message and "Dense" in message


def _with_kernel_constraint(tmp_path, constraint: dict):
    def constrain(members):
        config = json.loads(members["config.json"])
        config["config"]["layers"][1]["config"]["kernel_constraint"] = constraint
        members["config.json"] = json.dumps(config).encode()
        return members

    return _rezip(FIXTURES / "mlp.keras", tmp_path / "constraint.keras", constrain)


def test_keras_constraint_loads_and_saves_back(tmp_path):
    path = _with_kernel_constraint(tmp_path, {"module": "keras.constraints", "class_name": "MaxNorm",
                                              "config": {"max_value": 2, "axis": 0}, "registered_name": None})
    model = tuinet.load_model(path)
    assert model.layers[0].kernel_constraint == tuinet.constraints.MaxNorm(2, axis=0)
    assert model.layers[0].constraints["kernel"] is model.layers[0].kernel_constraint
    model.save(tmp_path / "again.keras")
    with zipfile.ZipFile(tmp_path / "again.keras") as z:
        written = json.loads(z.read("config.json"))["config"]["layers"][1]["config"]
    assert written["kernel_constraint"] == {"module": "keras.constraints", "class_name": "MaxNorm",
                                            "config": {"max_value": 2, "axis": 0}, "registered_name": None}
    assert written["bias_constraint"] is None
    assert tuinet.load_model(tmp_path / "again.keras").layers[0].kernel_constraint.max_value == 2


def test_unknown_constraint_is_refused_naming_layer_and_field(tmp_path):
    path = _with_kernel_constraint(tmp_path, {"module": "keras.constraints", "class_name": "RadialConstraint",
                                              "config": {}})
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(path)
    message = _one_line(exc, path)
    assert "layer 'dense'" in message and "kernel_constraint" in message and "RadialConstraint" in message


def test_dataset_with_wrong_shape(tmp_path):
    def reshape(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((5, 8), dtype="float32")

    path = _rezip(FIXTURES / "mlp.keras", tmp_path / "shape.keras", lambda m: _with_h5(m, reshape))
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(path)
    assert "has shape (5, 8)" in _one_line(exc, path)


def test_huge_declared_shape(tmp_path):
    def huge(f):
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", shape=(100_000, 100_000), dtype="float32")  # never written

    path = _rezip(FIXTURES / "mlp.keras", tmp_path / "huge.keras", lambda m: _with_h5(m, huge))
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(path)
    assert "over the budget" in _one_line(exc, path)


@pytest.mark.parametrize("data", [np.array([b"not", b"numbers"]), np.array([(1, 2.0)], dtype="i4,f4")])
def test_non_numeric_dataset(tmp_path, data):
    def strings(f):
        del f["layers/dense/vars/1"]
        f["layers/dense/vars/1"] = data

    path = _rezip(FIXTURES / "mlp.keras", tmp_path / "text.keras", lambda m: _with_h5(m, strings))
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(path)
    assert "weights are numbers" in _one_line(exc, path)


def test_external_link_is_refused(tmp_path):
    def link(f):
        f["layers/dense/vars/extra"] = h5py.ExternalLink("/etc/passwd", "/x")

    path = _rezip(FIXTURES / "mlp.keras", tmp_path / "link.keras", lambda m: _with_h5(m, link))
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(path)
    assert "ExternalLink" in _one_line(exc, path)


def test_folder_named_keras(tmp_path):
    path = tmp_path / "x.keras"
    path.mkdir()
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(path)
    assert "is a folder" in _one_line(exc, path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "plain.keras"
    path.write_text("hello")
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(path)
    assert "not a .keras file" in _one_line(exc, path)


def test_weights_h5_hostile(tmp_path):
    model = tuinet.load_model(FIXTURES / "mlp.keras", compile=False)
    bad = tmp_path / "bad.weights.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ModelFileError) as exc:
        model.load_weights(bad)
    assert "not a valid HDF5 file" in _one_line(exc, bad)
    other = tuinet.Sequential([L.Input((4,)), L.Dense(3)])
    with pytest.raises(ModelFileError) as exc:
        other.load_weights(FIXTURES / "mlp.weights.h5")
    _one_line(exc, FIXTURES / "mlp.weights.h5")


def test_missing_h5py_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ModelFileError) as exc:
        tuinet.load_model(FIXTURES / "cnn.keras")
    assert 'pip install "tuinet[keras]"' in _one_line(exc, FIXTURES / "cnn.keras")
    model = _models()["mlp"][0]()
    with pytest.warns(UserWarning, match=r'h5py is not installed.*pip install "tuinet\[keras\]"'):
        model.save(tmp_path / "m.keras")  # the run is not lost: tuinet's format under that name
    assert tuinet.load_model(tmp_path / "m.keras").count_params() == model.count_params()


def test_a_multi_output_model_compiled_per_output_round_trips_as_keras(tmp_path):
    """Losses, loss weights, metrics and weighted metrics given per output (dicts by output name)
    are written as Keras's compile_config and read back: the reloaded model evaluates the same."""
    a = tuinet.Input((3,), name="a")
    model = tuinet.Model(a, {"p": tuinet.layers.Dense(1, name="p")(a),
                             "d": tuinet.layers.Dense(2, activation="softmax", name="d")(a)})
    model.compile("adam", loss={"p": "mse", "d": "sparse_categorical_crossentropy"},
                  loss_weights={"p": 1.0, "d": 0.2}, metrics={"d": ["accuracy"]}, weighted_metrics={"d": ["accuracy"]})
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)), {"p": rng.normal(size=(8, 1)), "d": rng.integers(0, 2, 8)}
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "m.keras")
    config = json.loads(zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))["compile_config"]
    assert config["loss_weights"] == {"p": 1.0, "d": 0.2} and config["weighted_metrics"] == {"d": ["accuracy"]}
    again = tuinet.load_model(tmp_path / "m.keras")
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    assert again.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(expected, rel=1e-6)

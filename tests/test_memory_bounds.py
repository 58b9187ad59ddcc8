"""Memory bounds on user input: sizes that cannot fit are refused in one line with an estimate,
before anything is allocated (presets, the engine, data files), and CSV files load into float32
in bounded memory with the same results as before."""

from __future__ import annotations

import gzip
import io
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuinet import data, memory
from tuinet.data import csv_stream, files
from tuinet.errors import ConfigError, DataError, PresetError
from tuinet.nn import layers, optimizers
from tuinet.nn.model import Sequential
from tuinet.presets import parse_preset
from tuinet.session import TrainingSession, build_model
from tests.data import csv_reference

SPIRAL = """\
[data]
source = "spiral"
samples = 200
seed = 0

[model]
seed = 0
layers = [
  { type = "Dense", units = 8, activation = "tanh" },
  { type = "Dense", units = 2, activation = "softmax" },
]

[train]
optimizer = "adam"
batch_size = 16
epochs = 1
"""

SINE = """\
[data]
source = "sine"
samples = 200
steps = 10

[model]
layers = [{ type = "LSTM", units = 8 }, { type = "Dense", units = 1 }]

[train]
loss = "mse"
metrics = []
epochs = 1
"""

EMBEDDING = """\
[data]
source = "sine"
samples = 100
steps = 5

[model]
layers = [
  { type = "Embedding", input_dim = 10000000000, output_dim = 8 },
  { type = "Flatten" },
  { type = "Dense", units = 1 },
]

[train]
loss = "mse"
metrics = []
"""

CNN = """\
[data]
source = "digits"

[model]
layers = [
  { type = "Reshape", target_shape = [8, 8, 1] },
  { type = "Conv2D", filters = 16, kernel_size = 3, padding = "same" },
  { type = "Flatten" },
  { type = "Dense", units = 10, activation = "softmax" },
]

[train]
batch_size = 32
"""


@pytest.fixture
def budget_of(monkeypatch):
    """Set `TUINET_MEMORY_LIMIT` for one test."""

    def set_limit(text: str) -> None:
        monkeypatch.setenv(memory.ENV_VAR, text)

    monkeypatch.delenv(memory.ENV_VAR, raising=False)
    return set_limit


def refused(text: str, label: str = "big.toml") -> str:
    """The one-line `PresetError` for preset `text`, checked to come at once, allocating nothing."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(PresetError) as info:
            parse_preset(text, label=label)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert time.perf_counter() - start < 5
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MB traced"
    assert "\n" not in message and message.startswith(f"{label}: ")
    assert "need" in message and "lower it" in message and memory.ENV_VAR in message
    return message


# ----------------------------------------------------------------------------- sizes and the budget


@pytest.mark.parametrize("text, nbytes", [
    ("4GB", 4 * 2**30), ("4 gb", 4 * 2**30), ("4G", 4 * 2**30), ("1.5GiB", int(1.5 * 2**30)), ("512MB", 512 * 2**20),
    ("64k", 64 * 1024), ("1000000", 1000000), ("2TB", 2 * 2**40), ("  8 MiB ", 8 * 2**20),
])
def test_parse_size(text, nbytes):
    assert memory.parse_size(text) == nbytes


@pytest.mark.parametrize("text", ["lots", "", "-4GB", "4XB", "0", "0.0001B", "GB"])
def test_parse_size_refuses_what_is_not_a_size(text):
    with pytest.raises(ConfigError, match=memory.ENV_VAR):
        memory.parse_size(text)


@pytest.mark.parametrize("nbytes, text", [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"), (3.2 * 2**40, "3.2 TB"),
    (15.6 * 2**30, "15.6 GB"), (507 * 2**30, "507 GB"), (2**60, "1,024 PB"),
])
def test_format_bytes(nbytes, text):
    assert memory.format_bytes(nbytes) == text


def test_budget_is_a_fraction_of_the_available_memory(budget_of, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 10 * 2**30)
    b = memory.budget()
    assert b.limit == int(10 * 2**30 * memory.BUDGET_FRACTION) and b.source == "machine"
    assert b.describe() == ("this machine has 10.0 GB available, so the limit is 8.0 GB; "
                            "TUINET_MEMORY_LIMIT sets it")


def test_budget_falls_back_when_the_machine_does_not_say(budget_of, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    b = memory.budget()
    assert b.limit == int(memory.FALLBACK_AVAILABLE * memory.BUDGET_FRACTION) and b.source == "fallback"
    assert "TUINET_MEMORY_LIMIT sets it" in b.describe()


def test_budget_env_var_wins(budget_of):
    budget_of("4GB")
    b = memory.budget()
    assert (b.limit, b.source, b.describe()) == (4 * 2**30, "env", "TUINET_MEMORY_LIMIT is 4.0 GB")
    budget_of("lots")
    with pytest.raises(ConfigError, match="TUINET_MEMORY_LIMIT: expected a memory size such as 4GB"):
        memory.budget()


def test_available_memory_reads_the_machine():
    available = memory.available_memory()
    assert available is None or available > 2**20


def test_optimizer_copies():
    assert memory.optimizer_copies("adam") == 8    # weights, grads, undo; 2 slots and their undo; 1 scratch
    assert memory.optimizer_copies("sgd") == 4
    assert memory.optimizer_copies(optimizers.Adadelta()) == 9


# ----------------------------------------------------------------------------- presets


def test_huge_units_are_refused_with_an_estimate(budget_of):
    text = SPIRAL.replace("units = 8,", "units = 1000000000,")
    message = refused(text, "spiral.toml")
    assert message.startswith("spiral.toml: model.layers[0].units: 1000000000 units need about ")
    assert " GB of activations, " in message and " in all (" in message  # a batch of 16 outputs of 10**9


def test_the_later_of_two_layers_is_blamed_when_it_is_the_big_one(budget_of):
    text = SPIRAL.replace("units = 2,", "units = 3000000000,").replace("units = 8,", "units = 20,")
    assert refused(text).startswith("big.toml: model.layers[1].units: 3000000000 units need about ")


def test_the_layer_that_makes_the_next_one_big_is_blamed(budget_of):
    # Dense(100000000) then Dense(2): the second kernel (10**8 x 2) is the larger, the first is the cause
    text = SPIRAL.replace("units = 8,", "units = 100000000,").replace("units = 2,", "units = 64,")
    assert refused(text).startswith("big.toml: model.layers[0].units: 100000000 units need about ")


def test_huge_sample_counts_are_refused(budget_of):
    message = refused(SPIRAL.replace("samples = 200", "samples = 10000000000"))
    assert message.startswith("big.toml: data.samples: 10000000000 samples need about ")
    assert "TB of data" in message


def test_long_sequences_are_refused(budget_of):
    message = refused(SINE.replace("steps = 10", "steps = 1000000000"))
    assert message.startswith("big.toml: data.steps: 1000000000 steps need about ")


def test_huge_embedding_tables_are_refused(budget_of):
    message = refused(EMBEDDING)
    assert message.startswith("big.toml: model.layers[0].input_dim: 10000000000 ids need about ")
    assert "of weights" in message


def test_huge_conv_filters_are_refused(budget_of):
    message = refused(CNN.replace("filters = 16", "filters = 100000000"))
    assert message.startswith("big.toml: model.layers[1].filters: 100000000 filters need about ")


def test_huge_dilation_is_refused(budget_of):
    message = refused(CNN.replace("kernel_size = 3,", "kernel_size = 3, dilation_rate = 100000,"))
    assert message.startswith("big.toml: model.layers[1].dilation_rate: 100000 needs about ")
    assert "of activations" in message


def test_a_huge_batch_is_blamed_on_the_batch_size(budget_of):
    budget_of("2GB")
    text = CNN.replace("batch_size = 32", "batch_size = 1000000").replace("filters = 16", "filters = 4096")
    text = text.replace('source = "digits"', 'source = "spiral"\nsamples = 1000000').replace(
        'target_shape = [8, 8, 1]', 'target_shape = [2, 1, 1]')
    message = refused(text)
    assert message.startswith("big.toml: train.batch_size: 1000000 samples per batch need about ")
    assert "of activations in model.layers[1]" in message


def test_the_budget_env_var_decides(budget_of):
    assert parse_preset(SPIRAL, label="s.toml").name == "preset"
    budget_of("1KB")
    message = refused(SPIRAL, "s.toml")
    assert message.endswith("(TUINET_MEMORY_LIMIT is 1.0 KB); lower it")
    budget_of("nonsense")
    with pytest.raises(ConfigError, match="TUINET_MEMORY_LIMIT"):
        parse_preset(SPIRAL, label="s.toml")


def test_shipped_presets_fit(budget_of):
    from tuinet.presets import list_presets, load_preset

    for name in list_presets():
        load_preset(name)  # raises when its estimate were over the budget


def test_session_refuses_before_building(budget_of, monkeypatch):
    experiment = parse_preset(SPIRAL, label="s.toml")
    budget_of("4KB")  # the data is tiny, but the model's estimate no longer fits

    def no_build(*args, **kwargs):  # pragma: no cover - the check must come first
        raise AssertionError("the model was built")

    from tuinet.data import prepared as prepared_module

    monkeypatch.setattr(Sequential, "build", no_build)
    with pytest.raises(PresetError, match=r"^s\.toml: .*TUINET_MEMORY_LIMIT is 4\.0 KB"):
        prepared_module.prepare(experiment)  # refused before loading
    monkeypatch.delenv(memory.ENV_VAR)
    prepared = prepared_module.prepare(experiment)
    budget_of("1KB")
    with pytest.raises(PresetError, match=r"^s\.toml: model\.layers\[\d\]\.units: .* of (weights|activations)"):
        build_model(experiment, prepared)


def test_session_with_a_normal_preset_still_trains(budget_of):
    session = TrainingSession(parse_preset(SPIRAL, label="s.toml"))
    session.run()
    assert session.finished


# ----------------------------------------------------------------------------- the engine


def test_engine_refuses_a_huge_dense_layer_at_once():
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as info:
            Sequential([layers.Dense(100_000_000_000, input_shape=(2,))])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith("model 'sequential': layer 'dense' (Dense) needs about ")
    assert "TB for its weights" in message and "make it smaller" in message and peak < 2**20


def test_engine_refuses_a_huge_weight_in_add_weight(budget_of):
    budget_of("100MB")
    layer = layers.Dense(100_000_000)
    with pytest.raises(ConfigError, match=r"^Dense 'dense': weight 'kernel' of shape \(2, 100000000\) needs about "
                                          r"3\.0 GB \(TUINET_MEMORY_LIMIT is 100 MB\); make it smaller$"):
        layer(np.zeros((1, 2), np.float32))


def test_engine_build_respects_the_env_var(budget_of):
    budget_of("100MB")
    model = Sequential([layers.Dense(16, input_shape=(2,)), layers.Dense(1)])  # small models never notice
    assert model.count_params() == 65
    with pytest.raises(ConfigError, match=r"layer 'dense_2' \(Dense\) needs about .* \(TUINET_MEMORY_LIMIT is"):
        model.add(layers.Dense(10_000_000))


FLAT = st.sampled_from(["dense", "dropout", "batchnorm", "layernorm", "activation"])
SEQ = st.sampled_from(["conv1d", "simple_rnn", "lstm", "gru", "dense", "pool1d"])
IMAGE = st.sampled_from(["conv2d", "pool2d", "batchnorm"])


def _make(kind: str, units: int):
    return {"dense": lambda: layers.Dense(units, activation="relu"), "dropout": lambda: layers.Dropout(0.2),
            "batchnorm": lambda: layers.BatchNormalization(), "layernorm": lambda: layers.LayerNormalization(),
            "activation": lambda: layers.Activation("tanh"),
            "conv1d": lambda: layers.Conv1D(units, 2, padding="same"),
            "simple_rnn": lambda: layers.SimpleRNN(units, return_sequences=True),
            "lstm": lambda: layers.LSTM(units, return_sequences=True),
            "gru": lambda: layers.GRU(units, return_sequences=True),
            "pool1d": lambda: layers.MaxPooling1D(1),
            "conv2d": lambda: layers.Conv2D(units, 2, padding="same"),
            "pool2d": lambda: layers.MaxPooling2D(1)}[kind]()


@st.composite
def stacks(draw):
    """A small random model and its sample shape."""
    family = draw(st.sampled_from(["flat", "seq", "image", "embedding"]))
    units = st.integers(1, 9)
    if family == "flat":
        shape = (draw(units),)
        body = [_make(k, draw(units)) for k in draw(st.lists(FLAT, max_size=4))]
    elif family == "seq":
        shape = (draw(st.integers(1, 5)), draw(units))
        body = [_make(k, draw(units)) for k in draw(st.lists(SEQ, max_size=3))] + [layers.Flatten()]
    elif family == "image":
        shape = (draw(st.integers(2, 5)), draw(st.integers(2, 5)), draw(st.integers(1, 3)))
        body = [_make(k, draw(units)) for k in draw(st.lists(IMAGE, max_size=3))] + [layers.GlobalAveragePooling2D()]
    else:
        shape = (draw(st.integers(1, 5)),)
        body = [layers.Embedding(draw(st.integers(2, 20)), draw(units)), layers.Flatten()]
    return shape, body + [layers.Dense(draw(st.integers(1, 3)))], draw(st.sampled_from(list(optimizers.OPTIMIZERS)))


def _owned_bytes(*roots) -> int:
    """Bytes of the NumPy arrays reachable from `roots` through tuinet objects, dicts, lists and
    tuples, each memory block counted once (views count as their base)."""
    seen, bases, total, stack = set(), set(), 0, list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            base = obj
            while isinstance(base.base, np.ndarray):
                base = base.base
            if id(base) not in bases:
                bases.add(id(base))
                total += base.nbytes
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set)):
            stack.extend(obj)
        elif type(obj).__module__.startswith("tuinet") and hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())
    return total


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_the_estimate_covers_what_training_allocates(case):
    """The estimate, made without building anything, is never below what a model holds: its
    parameters (and gradients) once built, and every array it and its optimizer keep after a
    training step (weights, gradients, undo copies, optimizer slots, scratch, caches of a batch)."""
    shape, stack, optimizer = case
    batch = 4
    estimate, out_shape = memory.estimate_layers(stack, shape, batch_size=batch, optimizer=optimizer)
    weights = sum(item.nbytes for item in estimate.items if item.kind == "weights")
    model = Sequential(stack, seed=0)
    model.build(shape)
    assert out_shape == model.output_shape[1:]
    params = sum(a.nbytes for lay in stack for d in (lay.params, lay.grads, lay.state) for a in d.values())
    assert params <= weights
    assert model.count_params() * 4 <= weights
    model.compile(optimizer=optimizer, loss="mse")
    rng = np.random.default_rng(0)
    emb = next((lay for lay in stack if isinstance(lay, layers.Embedding)), None)
    x = rng.integers(0, emb.input_dim, (batch, *shape)) if emb else rng.normal(size=(batch, *shape))
    y = rng.normal(size=(batch, *out_shape))
    model.train_on_batch(x.astype(np.float32), y.astype(np.float32))
    held = _owned_bytes(model, model.optimizer) - x.astype(np.float32).nbytes
    assert held <= estimate.total + 4096  # a few fixed-size arrays (metrics, counters)


# ----------------------------------------------------------------------------- data files


def _npy_header(shape, dtype="<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _quick(call, match: str) -> str:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DataError, match=match) as info:
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 5 and peak < 16 * 2**20
    assert "\n" not in str(info.value)
    return str(info.value)


def test_npy_header_declaring_a_huge_array(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("x.npy").write_bytes(_npy_header((10**12, 10)))  # 80 TB declared in a 128-byte file
    message = _quick(lambda: data.load_file("x.npy"), r"^x\.npy: the array of shape \(1000000000000, 10\) \(float64\) "
                                                      r"needs about .* TB to load \(.*\); use a smaller file$")
    assert "TUINET_MEMORY_LIMIT" in message
    assert files.peek_shape("x.npy") == (10**12, (9,))


def test_npz_member_declaring_a_huge_array(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with zipfile.ZipFile("d.npz", "w") as archive:
        archive.writestr("x.npy", _npy_header((10**11, 28, 28)))
        archive.writestr("y.npy", _npy_header((10**11,), "<i8"))
    _quick(lambda: data.load_file("d.npz"), r'^d\.npz: array "x" of shape \(100000000000, 28, 28\) \(float64\) needs '
                                            r"about .* to load, .* in all \(")
    assert files.peek_shape("d.npz") == (10**11, (28, 28))


def test_npz_member_that_inflates_past_the_budget(tmp_path, monkeypatch, budget_of):
    monkeypatch.chdir(tmp_path)
    budget_of("8MB")
    rows = 2_000_000  # 16 MB of zeros that deflate to a few kilobytes
    with zipfile.ZipFile("bomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w") as member:
            member.write(_npy_header((rows, 1)))
            block = bytes(1 << 20)
            for _ in range(rows * 8 // len(block)):
                member.write(block)
        archive.writestr("y.npy", _npy_header((rows,), "|i1") + bytes(rows))
    assert Path("bomb.npz").stat().st_size < 200_000
    pattern = r'^bomb\.npz: array "x" of shape \(2000000, 1\) \(float64\) needs about 22\.9 MB to load, .* in all '
    _quick(lambda: data.load_file("bomb.npz"), pattern + r"\(TUINET_MEMORY_LIMIT is 8\.0 MB\); use a smaller file$")


def test_small_npy_and_npz_still_load(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("t.npy", np.arange(12, dtype=np.float64).reshape(4, 3))
    assert data.load_file("t.npy").x.shape == (4, 2)
    np.savez("d.npz", x=np.ones((5, 2)), y=np.arange(5) % 2)
    assert data.load_file("d.npz").x.shape == (5, 2)


def _gzip_lines(path: str, line: bytes, count: int) -> None:
    with gzip.open(path, "wb", compresslevel=1) as handle:
        block = line * 65536
        for _ in range(count // 65536):
            handle.write(block)


def test_csv_gz_bomb_is_refused_from_its_declared_size(tmp_path, monkeypatch, budget_of):
    monkeypatch.chdir(tmp_path)
    budget_of("1MB")
    _gzip_lines("bomb.csv.gz", b"0,0\n", 65536 * 64)  # 16 MB of text, about 50 KB on disk
    assert Path("bomb.csv.gz").stat().st_size < 200_000
    message = _quick(lambda: data.load_file("bomb.csv.gz"), r"^bomb\.csv\.gz: 16\.0 MB of text \(as its gzip trailer "
                                                            r"says\), about [\d,]+ rows of 2 values, need about ")
    assert message.endswith("(TUINET_MEMORY_LIMIT is 1.0 MB); use a smaller file")


def test_csv_gz_with_a_lying_trailer_is_stopped_while_reading(tmp_path, monkeypatch, budget_of):
    monkeypatch.chdir(tmp_path)
    budget_of("1MB")
    _gzip_lines("liar.csv.gz", b"0,0\n", 65536 * 64)
    raw = bytearray(Path("liar.csv.gz").read_bytes())
    raw[-4:] = (1000).to_bytes(4, "little")  # ISIZE says 1000 bytes (it is mod 2**32 anyway)
    Path("liar.csv.gz").write_bytes(bytes(raw))
    pattern = r"^liar\.csv\.gz: line \d+: the [\d,]+ rows read so far already need about .* and the file goes on "
    _quick(lambda: data.load_file("liar.csv.gz"), pattern + r"\(TUINET_MEMORY_LIMIT is 1\.0 MB\); use a smaller file$")


def test_a_line_too_long_for_the_budget(tmp_path, monkeypatch, budget_of):
    monkeypatch.chdir(tmp_path)
    budget_of("8MB")  # lines are capped at the larger of 1 MB and a 32nd of the budget
    Path("wide.csv").write_text("a,b\n1,2\n" + "1," * 600_000 + "2\n")
    _quick(lambda: data.load_file("wide.csv"), r"^wide\.csv: line 3: a line of more than 1\.0 MB of text")


# ----------------------------------------------------------------------------- CSV into float32


def _reference(path, **options):
    """The float64-then-float32 parse of the whole table (`read_table` + `parse_numbers`, kept in
    `tests/data/csv_reference.py`): what `load_csv` returned before it read in chunks."""
    table = csv_reference.read_table(path)
    t = table.target_index(options.get("target", -1))
    return (csv_reference.parse_numbers(table, [j for j in range(table.width) if j != t]),
            [row[t].strip() for row in table.rows])


FIXTURES = [
    ("flowers.csv", "length,width,species\n1.5,2,versicolor\n3,4.25,setosa\n5,6,virginica\n7,8,setosa\n"),
    ("plain.csv", "0.5,1,2\n1.5,2,0\n2.5,3,1\n"),
    ("tidy.csv", "\ufeffa, b ,y,\r\n\r\n 1 , 2 , cat ,\r\n3,4,dog,\r\n\r\n"),
    ("q.csv", '"age, in years","weight",label\n"31","70.5","Iris, setosa"\n40,"80","b ""quoted"""\n'),
    ("r.csv", "x,price\n1,10.5\n2,11\n3,12.25\n"),
    ("tiny.csv", "a,y\n1e-45,0\n3.4e38,1\n0.1,0\n16777217,1\n"),
]


@pytest.mark.parametrize("name, text", FIXTURES)
def test_csv_values_are_the_same_float32_as_before(tmp_path, monkeypatch, name, text):
    monkeypatch.chdir(tmp_path)
    Path(name).write_text(text, newline="")
    ds = data.load_csv(name, target=-1)
    x, targets = _reference(name)
    assert ds.x.dtype == np.float32 and ds.x.flags.c_contiguous and ds.x.flags.owndata
    np.testing.assert_array_equal(ds.x, x)
    assert len(targets) == len(ds.y)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.floats(width=64, allow_nan=False, allow_infinity=False, min_value=-3e38, max_value=3e38),
                         min_size=3, max_size=3), min_size=1, max_size=80),
       st.integers(1, 5))
def test_csv_float32_matches_the_float64_path(tmp_path_factory, table, chunk):
    """Any finite numbers, in chunks of any size: the same float32 as parsing as float64 and casting."""
    folder = tmp_path_factory.mktemp("csv")
    path = folder / "f.csv"
    path.write_text("a,b,y\n" + "".join(f"{a!r},{b!r},{y!r}\n" for a, b, y in table))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_stream, "CHUNK_ROWS", chunk)
        ds = data.load_csv(path, task="regression")
    x, targets = _reference(path)
    np.testing.assert_array_equal(ds.x, x)
    np.testing.assert_array_equal(ds.y, np.array([float(t) for t in targets]).astype(np.float32))


def test_csv_chunk_boundaries_change_nothing(tmp_path, monkeypatch):
    """Late surprises: a last cell with text after many trailing delimiters, a text label after
    many numeric ones (codes given up and read again), a bad cell in the last chunk."""
    monkeypatch.chdir(tmp_path)
    rows = [f"{i},{i % 7}," for i in range(300)]
    cases = {
        "trail.csv": "\n".join(rows[:250] + [rows[250] + "x"] + rows[251:]) + "\n",  # then the 3rd column is data
        "labels.csv": "a,y\n" + "\n".join(f"{i},{i * 3}" for i in range(200)) + "\n200,cat\n",
        "late.csv": "a,b,y\n" + "\n".join(f"{i},{i},{i % 2}" for i in range(200)) + "\n1,oops,0\n",
        "blank.csv": "a,y\n" + "\n\n".join(f"{i}.5,{i % 3}" for i in range(200)) + "\n",
    }
    results = {}
    for chunk, codes in ((8192, 1 << 16), (3, 4)):
        monkeypatch.setattr(csv_stream, "CHUNK_ROWS", chunk)
        monkeypatch.setattr(csv_stream, "MAX_CODES", codes)
        for name, text in cases.items():
            Path(name).write_text(text)
            try:
                ds = data.load_csv(name)
                got = (ds.x.tolist(), ds.y.tolist(), ds.task, ds.class_names, ds.feature_names)
            except DataError as exc:
                got = str(exc)
            results.setdefault(name, []).append(got)
    for name, (a, b) in results.items():
        assert a == b, name
    assert results["trail.csv"][0] == 'trail.csv: line 1, column 3: expected a target value, got an empty cell'
    assert results["labels.csv"][0][2:4] == ("classification", sorted([str(i * 3) for i in range(200)] + ["cat"]))
    assert results["late.csv"][0] == 'late.csv: line 202, column "b": expected a number, got "oops"'
    assert results["blank.csv"][0][0][-1] == [199.5]

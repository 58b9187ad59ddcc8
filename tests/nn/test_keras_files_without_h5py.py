"""Without the h5py extra, a `.keras` / `.weights.h5` name still saves (in tuinet's format, with one
warning naming the extra) and loads back: a finished run is never lost to a missing extra."""

import sys

import numpy as np
import pytest

import tuinet
from tuinet import layers


@pytest.fixture
def no_h5py(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # `import h5py` raises ImportError


def test_keras_names_fall_back_to_tuinet_format(no_h5py, tmp_path):
    model = tuinet.Sequential([tuinet.Input((3,)), layers.Dense(2)], seed=0)
    model.compile("adam", "mse")
    x = np.ones((4, 3), "float32")
    path = tmp_path / "model.keras"
    with pytest.warns(UserWarning, match=r'h5py is not installed.*pip install "tuinet\[keras\]"'):
        model.save(path)
    again = tuinet.load_model(path)
    assert np.array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    weights = tmp_path / "w.weights.h5"
    with pytest.warns(UserWarning, match="h5py is not installed"):
        model.save_weights(weights)
    other = tuinet.Sequential([tuinet.Input((3,)), layers.Dense(2)], seed=1)
    other.load_weights(weights)
    assert np.array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_reading_a_real_keras_file_without_h5py_names_the_extra(no_h5py):
    from pathlib import Path

    fixture = Path(__file__).parent.parent / "fixtures" / "keras" / "mlp.keras"
    with pytest.raises(tuinet.ModelFileError) as exc:
        tuinet.load_model(fixture)
    assert 'pip install "tuinet[keras]"' in str(exc.value) and "\n" not in str(exc.value)

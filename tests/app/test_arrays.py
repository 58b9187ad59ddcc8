"""`ListMirror` and `HistoryMirror`: arrays that follow append-only lists, converting only what is new."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tuinet.app.arrays import HistoryMirror, ListMirror, as_floats


def test_a_mirror_converts_only_what_was_appended():
    values = [1.0, 2.0]
    mirror = ListMirror()
    first = mirror.view(values)
    assert first.tolist() == [1.0, 2.0]
    values.extend([3.0] * 200)  # past the first buffer: it grows
    assert mirror.view(values).tolist() == values
    values[0] = 99.0  # an append-only list is never changed in place: the mirror keeps what it read
    assert mirror.view(values)[0] == 1.0
    assert first.tolist() == [1.0, 2.0]  # a view handed out earlier is left as it was


def test_a_new_or_shorter_list_is_read_whole():
    mirror = ListMirror()
    mirror.view([1.0, 2.0, 3.0])
    assert mirror.view([5.0]).tolist() == [5.0]  # a reset: shorter
    assert mirror.view([7.0, 8.0]).tolist() == [7.0, 8.0]  # another list object
    assert len(mirror) == 2


def test_what_is_not_a_number_becomes_nan():
    assert np.isnan(as_floats([1.0, None, "x", float("inf")])[1:3]).all()
    assert as_floats(["2.5", 1])[0] == 2.5
    mirror = ListMirror()
    out = mirror.view([1.0, "oops", 3.0])
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == 3.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=40), min_size=1, max_size=8))
def test_growing_in_steps_equals_reading_at_once(chunks):
    values: list[float] = []
    mirror = ListMirror()
    for chunk in chunks:
        values.extend(chunk)
        np.testing.assert_array_equal(mirror.view(values), np.asarray(values, dtype=float))


def test_a_history_mirror_follows_keys_and_resets():
    history = {"loss": [1.0, 0.5], "val_loss": [1.1]}
    mirror = HistoryMirror()
    arrays = mirror.arrays(history)
    assert set(arrays) == {"loss", "val_loss"} and arrays["loss"].tolist() == [1.0, 0.5]
    history["loss"].append(0.25)
    history["accuracy"] = [0.5, 0.6, 0.7]
    arrays = mirror.arrays(history)
    assert arrays["loss"].tolist() == [1.0, 0.5, 0.25] and arrays["accuracy"].tolist() == [0.5, 0.6, 0.7]
    reset = mirror.arrays({"loss": [3.0]})  # a new run: new lists, keys gone with them
    assert list(reset) == ["loss"] and reset["loss"].tolist() == [3.0]
    assert mirror.arrays({}) == {}

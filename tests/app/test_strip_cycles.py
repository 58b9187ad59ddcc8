"""`tuinet.app._strip_cycles`: Textual's strips no longer cache themselves, and nothing else changes."""

from __future__ import annotations

import gc

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from tuinet.app import _strip_cycles

from .conftest import started

_strip_cycles.install()

STYLES = [None, Style(bold=True), Style(color="red"), Style(bgcolor="blue", italic=True)]
segments = st.lists(st.tuples(st.text(alphabet="ab █─é", min_size=1, max_size=6), st.sampled_from(STYLES)),
                    max_size=6)


def make(parts) -> Strip:
    return Strip([Segment(text, style) for text, style in parts])


def same(a, b) -> bool:
    return list(a) == list(b) and a.cell_length == b.cell_length


@settings(max_examples=300, deadline=None)
@given(segments, st.integers(-3, 30), st.integers(-3, 30), st.sampled_from(STYLES))
def test_crop_extend_gives_what_textual_gives(parts, start, end, style):
    original = Strip.crop_extend.__wrapped__
    assert same(make(parts).crop_extend(start, end, style), original(make(parts), start, end, style))


@settings(max_examples=300, deadline=None)
@given(segments, st.lists(st.integers(0, 30), max_size=5))
def test_divide_gives_what_textual_gives(parts, cuts):
    cuts = sorted(set(cuts))
    original = Strip.divide.__wrapped__
    ours, theirs = make(parts).divide(iter(cuts)), original(make(parts), cuts)  # any iterable of cuts
    assert len(ours) == len(theirs) and all(same(a, b) for a, b in zip(ours, theirs))


def garbage_strips(work) -> int:
    """How many strips `work()` leaves for the cyclic collector (not freed by reference counts)."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        work()
        gc.collect()
        return sum(isinstance(obj, Strip) for obj in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_whole_width_crops_and_divides_leave_no_cycles():
    def work() -> None:
        for i in range(50):
            strip = make([("abc", None), ("de", STYLES[1])])
            strip.crop_extend(0, strip.cell_length, None)
            strip.divide([strip.cell_length])
            strip.crop_extend(1, 4, None)  # a real crop, cached in the strip: no cycle either

    assert garbage_strips(work) == 0
    # Textual's own methods, for comparison: each whole-width result is a cycle
    strip = make([("abc", None)])

    def textual() -> None:
        s = make([("abc", None)])
        Strip.crop_extend.__wrapped__(s, 0, s.cell_length, None)

    assert garbage_strips(textual) >= 1
    assert strip.crop_extend(0, 3, None) is strip and strip.divide([3]) == [strip]


async def test_the_app_leaves_no_strips_for_the_collector(make_test_app):
    app = make_test_app("xor", epochs=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("space")
        await pilot.app.workers.wait_for_complete()
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(8):  # every tab twice, each a repaint of the new pane
                await pilot.press("right_square_bracket")
                await pilot.pause()
            gc.collect()
            strips = sum(isinstance(obj, Strip) for obj in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        assert strips == 0

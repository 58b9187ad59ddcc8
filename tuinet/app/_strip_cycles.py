"""Keep Textual's `Strip` from caching itself: a fix for a garbage-collector pause.

Textual's `Strip` memoises `crop_extend()` and `divide()` in caches held by the strip. When
the result is the strip itself (a crop to the whole width, a divide with the one cut at the
end, which is most lines of most frames), the strip ends up in its own cache: a reference
cycle. Such a strip is not freed when the screen lets go of it but waits for the cyclic
collector, together with its seven caches and its segments. Measured in the app at 120x40
(Textual 8.2): about 3,500 objects of cyclic garbage a second while idle; every 3-4 s a
full collection then stopped the UI for 10-35 ms, the slowest key presses of the benchmark.

`install()` wraps the two methods so that these identity results are returned without being
cached. The wrappers change nothing else: every other call goes to Textual's own method
(tests/app/test_strip_cycles.py checks equal results and no cycles). If a later Textual
renames what the wrappers rely on, `install()` leaves Textual as it is.
"""

from __future__ import annotations

_installed = False


def install() -> bool:
    """Wrap `Strip.crop_extend` and `Strip.divide` (once). True when the wrappers are in place."""
    global _installed
    if _installed:
        return True
    try:
        from textual.strip import Strip
    except ImportError:  # pragma: no cover - Textual without strips
        return False
    crop_extend, divide = getattr(Strip, "crop_extend", None), getattr(Strip, "divide", None)
    if crop_extend is None or divide is None or not hasattr(Strip, "cell_length"):
        return False

    def crop_extend_no_cycle(self, start: int, end: int, style=None):
        # extend_cell_length(end) is `self` when end <= cell_length, and crop(start, end) of
        # that is `self` when start <= 0 and end >= cell_length: the result is `self` exactly here.
        if start <= 0 and end == self.cell_length:
            return self
        return crop_extend(self, start, end, style)

    def divide_no_cycle(self, cuts):
        cuts = list(cuts)
        length = self.cell_length
        if [cut for cut in cuts if cut <= length] == [length]:
            return [self]
        return divide(self, cuts)

    crop_extend_no_cycle.__doc__, divide_no_cycle.__doc__ = crop_extend.__doc__, divide.__doc__
    crop_extend_no_cycle.__wrapped__, divide_no_cycle.__wrapped__ = crop_extend, divide
    Strip.crop_extend, Strip.divide = crop_extend_no_cycle, divide_no_cycle
    _installed = True
    return True

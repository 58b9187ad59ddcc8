"""What the app writes to a slow terminal (tuinet/app/wire.py): fewer bytes and another order,
never another screen.

Every check paints the original bytes and the re-encoded ones on a small terminal model written
here (its own SGR rules, independent of wire.py's) and compares the cells. The frames are
rendered by Textual's own compositor updates (`LayoutUpdate`, `ChopsUpdate`) from strips of
Rich segments, so the input has the exact shape Textual writes.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.geometry import Region
from textual.strip import Strip

from tuinet.app.wire import RESET, Compactor, Pacer, apply_sgr, by_rows, parse_frame, transition

COLS, ROWS = 24, 8


# ---------------------------------------------------------------------- a terminal model
class Term:
    """Cells of (character, attributes); SGR kept as a dict (its own rules, not wire.py's)."""

    FLAG_ON = {1: "bold", 2: "dim", 3: "italic", 4: "underline", 5: "blink", 7: "reverse", 8: "conceal",
               9: "strike", 21: "underline2", 53: "overline"}
    FLAG_OFF = {22: ("bold", "dim"), 23: ("italic",), 24: ("underline", "underline2"), 25: ("blink",),
                27: ("reverse",), 28: ("conceal",), 29: ("strike",), 55: ("overline",)}

    def __init__(self, cols: int = COLS, rows: int = ROWS) -> None:
        self.cols, self.rows = cols, rows
        self.attrs: dict = {}
        self.cells = [[(" ", ()) for _ in range(cols)] for _ in range(rows)]
        self.x = self.y = 0

    def sgr(self, params: str) -> None:
        codes = [int(c) if c else 0 for c in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.attrs = {}
            elif c in self.FLAG_ON:
                self.attrs[self.FLAG_ON[c]] = True
            elif c in self.FLAG_OFF:
                for name in self.FLAG_OFF[c]:
                    self.attrs.pop(name, None)
            elif 30 <= c <= 37 or 90 <= c <= 97:
                self.attrs["fg"] = (c,)
            elif 40 <= c <= 47 or 100 <= c <= 107:
                self.attrs["bg"] = (c,)
            elif c in (39, 49):
                self.attrs.pop("fg" if c == 39 else "bg", None)
            elif c in (38, 48):
                n = 3 if codes[i + 1] == 5 else 5
                self.attrs["fg" if c == 38 else "bg"] = tuple(codes[i:i + n])
                i += n - 1
            else:
                raise AssertionError(f"the model does not know SGR {c}")
            i += 1

    def feed(self, text: str) -> Term:
        token = re.compile(r"\x1b\[([0-9;]*)m|\x1b\[(\d+);(\d+)H|\x1b\[2J|\x1b\[\?[0-9;]*[hl]|\x1b\[6n|[\r\n]")
        pos = 0
        for m in token.finditer(text + "\x1b[6n"):
            for ch in text[pos:m.start()]:
                if self.x < self.cols:
                    self.cells[self.y][self.x] = (ch, tuple(sorted(self.attrs.items())))
                self.x += 1
            pos = m.end()
            tok = m.group(0)
            if m.group(1) is not None:
                self.sgr(m.group(1))
            elif m.group(2) is not None:
                self.y, self.x = min(self.rows, int(m.group(2))) - 1, min(self.cols, int(m.group(3))) - 1
            elif tok == "\x1b[2J":
                blank = (" ", tuple(sorted((k, v) for k, v in self.attrs.items() if k == "bg")))
                self.cells = [[blank] * self.cols for _ in range(self.rows)]
            elif tok == "\r":
                self.x = 0
            elif tok == "\n":
                self.y = min(self.rows - 1, self.y + 1)
        return self

    def screen(self) -> list:
        return [list(row) for row in self.cells]


def painted(text: str) -> list:
    return Term().feed(text).screen()


# ---------------------------------------------------------------------- Textual's frames
COLOURS = ["red", "green", "#1e1e1e", "#e0e0e0", "color(208)", "bright_blue", "default", "#0178d4"]
styles = st.builds(
    lambda fg, bg, bold, dim, italic, underline, reverse, strike: Style(
        color=fg, bgcolor=bg, bold=bold, dim=dim, italic=italic, underline=underline,
        reverse=reverse, strike=strike),
    st.sampled_from(COLOURS + [None]), st.sampled_from(COLOURS + [None]),
    *[st.sampled_from([None, True, False])] * 6)
segments = st.lists(st.tuples(st.text("ab⠿─ █xyz", min_size=1, max_size=4), st.one_of(st.none(), styles)),
                    min_size=1, max_size=5)


def strip_of(parts, width: int) -> Strip:
    segs = [Segment(text, style) for text, style in parts]
    return Strip(segs).crop_extend(0, width, None)


@st.composite
def layout_updates(draw):
    """A full-width update of some rows (a view switch, a widget's repaint)."""
    top = draw(st.integers(0, ROWS - 2))
    height = draw(st.integers(1, ROWS - top))
    strips = [strip_of(draw(segments), COLS) for _ in range(height)]
    return layout(strips, top)


@st.composite
def chops_updates(draw):
    """Some rows, each with one or two chops (widgets side by side)."""
    rows = sorted(draw(st.sets(st.integers(0, ROWS - 1), min_size=1, max_size=ROWS)))
    chops, spans, ends = [{} for _ in range(ROWS)], [], [[] for _ in range(ROWS)]
    for y in rows:
        cut = draw(st.integers(1, COLS - 1))
        pieces = [(0, cut), (cut, COLS)] if draw(st.booleans()) else [(draw(st.integers(0, COLS - 2)), COLS)]
        for x0, x1 in pieces:
            chops[y][x0] = strip_of(draw(segments), x1 - x0)
            ends[y].append(x1)
        spans.append((y, 0, COLS))
    return ChopsUpdate(chops, spans, ends).render_segments(_console())


_CONSOLE = None
_CONSOLES: dict = {}


def render_in(color_system: str, update) -> str:
    """`update` (a compositor update) as Textual writes it for a terminal of `color_system`."""
    from rich.console import Console

    console = _CONSOLES.setdefault(color_system, Console(color_system=color_system, force_terminal=True,
                                                         width=COLS))
    return update.render_segments(console)


def layout(strips: list[Strip], top: int = 0) -> str:
    """Textual's bytes for full-width rows from `top` (0-based)."""
    return LayoutUpdate([[s] for s in strips], Region(0, top, COLS, len(strips))).render_segments(_console())


def _console():
    global _CONSOLE
    if _CONSOLE is None:
        from rich.console import Console

        _CONSOLE = Console(color_system="truecolor", force_terminal=True, width=COLS)
    return _CONSOLE


def with_cursor(update: str, draw) -> str:
    return update + f"\x1b[{draw(st.integers(1, ROWS))};{draw(st.integers(1, COLS))}H"


frames = st.one_of(layout_updates(), chops_updates())


# ---------------------------------------------------------------------- the graphic state
states = st.builds(lambda flags, fg, bg: (frozenset(flags), fg, bg, None),
                   st.sets(st.sampled_from([1, 2, 3, 4, 5, 7, 8, 9, 21, 53])),
                   st.sampled_from([None, "31", "92", "38;5;208", "38;2;1;2;3"]),
                   st.sampled_from([None, "44", "107", "48;5;17", "48;2;30;30;30"]))


@given(states, states)
def test_a_transition_leads_from_any_state_to_any_other(have, want):
    seq = transition(have, want)
    if have == want:
        assert seq == ""
        return
    assert seq.startswith("\x1b[") and seq.endswith("m")
    assert apply_sgr(have, seq[2:-1]) == want
    full = "\x1b[0;" + ";".join([*map(str, sorted(want[0])), *(c for c in want[1:3] if c)]) + "m"
    assert len(seq) <= max(len(full), 4)  # never longer than starting over


def test_sgr_codes_known_and_unknown():
    state = apply_sgr(RESET, "1;2;38;2;1;2;3;48;5;17")
    assert state == (frozenset({1, 2}), "38;2;1;2;3", "48;5;17", None)
    assert apply_sgr(state, "22") == (frozenset(), "38;2;1;2;3", "48;5;17", None)
    assert apply_sgr(state, "39;49") == (frozenset({1, 2}), None, None, None)
    assert apply_sgr(state, "") == RESET
    # a flag an off code also takes is set again: 22 turns off bold and dim, dim stays
    assert apply_sgr((frozenset({1, 2}), None, None, None), transition((frozenset({1, 2}), None, None, None),
                                                                       (frozenset({2}), None, None, None))[2:-1]) \
        == (frozenset({2}), None, None, None)


# ---------------------------------------------------------------------- compaction
@settings(max_examples=150, deadline=None)
@given(st.lists(frames, min_size=1, max_size=4), st.data())
def test_compaction_paints_the_same_screen_in_fewer_bytes(writes, data):
    writes = [with_cursor(w, data.draw) for w in writes]
    compactor = Compactor()
    out = [compactor.compact(w) for w in writes]
    for i in range(1, len(writes) + 1):  # after every write, not only at the end
        assert painted("".join(out[:i])) == painted("".join(writes[:i]))
    assert sum(map(len, out)) <= sum(map(len, writes)) + 4  # one reset at most, first
    assert compactor.have == RESET  # every write ends where Textual's ends: no style


def fresh(style):
    """A new `Style` like `style`: a style (and a strip) keeps its first rendering, whatever the
    colour system of the next."""
    return style and Style(color=style.color, bgcolor=style.bgcolor, bold=style.bold, dim=style.dim,
                           italic=style.italic, underline=style.underline, reverse=style.reverse,
                           strike=style.strike)


def fresh_update(rows) -> LayoutUpdate:
    return LayoutUpdate([[strip_of([(t, fresh(s)) for t, s in p], COLS)] for p in rows], Region(0, 0, COLS, ROWS))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(segments, min_size=ROWS, max_size=ROWS), min_size=1, max_size=3),
       st.sampled_from(["256", "standard"]))
def test_compaction_at_256_and_16_colours(frames_, color_system):
    """Textual writes `38;5;n` and the 16 standard colours on terminals without truecolor."""
    writes = [render_in(color_system, fresh_update(rows)) for rows in frames_]
    assert not any("38;2;" in w or "48;2;" in w for w in writes)
    compactor = Compactor()
    out = [compactor.compact(w) for w in writes]
    assert painted("".join(out)) == painted("".join(writes))
    assert sum(map(len, out)) <= sum(map(len, writes)) + 4


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(segments, min_size=ROWS, max_size=ROWS), min_size=1, max_size=3))
def test_eight_bit_compaction_paints_what_a_256_colour_terminal_gets(frames_):
    """On a slow link 24-bit colours go as the nearest of the 256: the very cells Rich (and so
    Textual) draws for a 256-colour terminal, in fewer bytes."""
    def update(rows):
        return fresh_update(rows)

    compactor = Compactor()
    compactor.eight_bit = True
    out = [compactor.compact(render_in("truecolor", update(rows))) for rows in frames_]
    assert painted("".join(out)) == painted("".join(render_in("256", update(rows)) for rows in frames_))


def test_compaction_of_a_plot_row_saves_nearly_half():
    """Runs of one colour on one background, as a plot or a heatmap row: Textual repeats the
    background and a reset on every run."""
    dark = Style(bgcolor="#1e1e1e")
    parts = [("⠿", Style(color=c) + dark) for c in ("#0178d4", "#4ebf71", "#0178d4", "#e0e0e0")] * 5
    update = layout([strip_of(parts, COLS)] * 4)
    out = Compactor().compact(update)
    assert painted(out) == painted(update)
    assert len(out) < 0.6 * len(update)  # 54 %: every cell changes colour here


def test_writes_it_does_not_understand_pass_through_unchanged():
    compactor = Compactor()
    odd = "\x1b[1;1H\x1b[4:3mcurly\x1b[0m"  # a colon sub-parameter
    assert compactor.compact(odd) == odd
    assert compactor.have is None  # the state is unknown: the next write starts with a reset
    assert compactor.compact("\x1b[2;1H\x1b[31mx\x1b[0m").startswith("\x1b[2;1H\x1b[0m\x1b[31mx")


def test_erasing_takes_the_background_it_asked_for():
    """An erase paints with the current background: the state is brought up to date first."""
    text = "\x1b[44m\x1b[2J\x1b[0m\x1b[1;1Hx"
    compactor = Compactor()
    assert painted(compactor.compact(text)) == painted(text)
    assert painted(text)[3][3] == (" ", (("bg", (44,)),))


# ---------------------------------------------------------------------- rows first
@settings(max_examples=100, deadline=None)
@given(frames, st.lists(st.integers(1, ROWS), max_size=3, unique=True), st.data())
def test_rows_named_first_come_first_and_the_screen_is_the_same(update, first, data):
    update = with_cursor(update, data.draw)
    out = by_rows(update, first)
    assert painted(out) == painted(update)
    moves = [int(m.group(1)) for m in re.finditer(r"\x1b\[(\d+);\d+H", out)][:-1]  # the cursor last
    rows = list(dict.fromkeys(moves))  # in the order they first come
    named = [r for r in first if r in rows]
    assert rows[:len(named)] == named or out == update


# ---------------------------------------------------------------------- the pacer
def test_parse_frame_reads_textuals_pieces():
    update = layout([strip_of([("ab", Style(color="red"))], COLS)] * 2, 3)
    side, pieces, cursor = parse_frame("\x1b[?2026h" + update + "\x1b[5;7H\x1b[?25l")
    assert side == ["\x1b[?25l"]  # the sync marker is dropped; the cursor's visibility goes at once
    assert [(row, col, width) for row, col, width, _ in pieces] == [(4, 1, COLS), (5, 1, COLS)]
    assert cursor == "\x1b[5;7H"
    assert parse_frame("plain text first") is None and parse_frame("\x1b[1;1Hx\x1b[2J") is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.one_of(frames, st.just("\x1b[2J")), st.floats(0, 1), st.integers(0, 400)),
                min_size=1, max_size=6),
       st.lists(st.integers(1, ROWS), max_size=2, unique=True), st.data())
def test_the_pacer_ends_on_the_screen_textual_drew(writes, first, data):
    """Writes arrive at random times and the link takes random amounts between them: whatever
    was dropped, split or reordered, once everything is sent the screen is the one the writes
    draw."""
    sent = []
    pacer = Pacer(sent.append, Compactor())
    pacer.piece_limit = data.draw(st.sampled_from([20, 60, 10_000]))  # long pieces go in parts
    original, now = [], 0.0
    for text, dt, budget in writes:
        if original and data.draw(st.booleans()):  # Textual repaints what did not change, too
            text = data.draw(st.sampled_from(original))
        elif text != "\x1b[2J":
            text = with_cursor(text, data.draw)
        original.append(text)
        now += dt
        pacer.add(text, now)
        pacer.pump(budget, first)
    pacer.drain()
    assert pacer.pending == 0
    assert painted("".join(sent)) == painted("".join(original))


def test_newer_cells_replace_waiting_ones_and_named_rows_go_first():
    sent = []
    pacer = Pacer(sent.append)

    def frame(text: str) -> str:
        return layout([strip_of([(text, None)], COLS)] * ROWS)

    pacer.add(frame("old"), 0.0)
    waiting = pacer.pending
    pacer.add(frame("new"), 1.0)  # the same rows, all of them: the old frame is never sent
    assert pacer.dropped == waiting and pacer.pending == waiting
    pacer.pump(1, first=(ROWS, 1))
    assert sent[0].startswith(f"\x1b[{ROWS};1H") and "new" in sent[0]  # the status row first
    pacer.pump(1, first=(ROWS, 1))
    assert sent[1].startswith("\x1b[1;1H")
    pacer.drain()
    assert "old" not in "".join(sent) and painted("".join(sent)) == painted(frame("new"))


def test_a_key_press_goes_before_the_rest_of_an_older_frame():
    sent = []
    pacer = Pacer(sent.append)
    rows = [strip_of([("frame", None)], COLS)] * ROWS
    pacer.add(layout(rows), 0.0)
    pacer.pump(1)  # the link takes a row
    key = layout([strip_of([("KEY", None)], COLS)], 6)
    pacer.add(key, 2.0, urgent=True)  # the answer to a key press goes before the older rows
    pacer.pump(1)
    assert "KEY" in sent[-1]


def test_rows_that_change_every_frame_do_not_starve_the_others():
    """Frames keep rewriting rows 1-2 while the link takes one row per frame: every row of the
    first frame still goes out, oldest first, and rows 1-2 carry their newest cells."""
    sent = []
    pacer = Pacer(sent.append)
    pacer.add(layout([strip_of([("first", None)], COLS)] * ROWS), 0.0)
    for i in range(1, 2 * ROWS):
        pacer.pump(1)
        pacer.add(layout([strip_of([(f"f{i}", None)], COLS)] * 2), i * 0.1)
    pacer.drain()
    shown = Term().feed("".join(sent)).screen()
    assert "".join(c for c, _ in shown[ROWS - 1]).startswith("first")  # the last row went out
    assert "".join(c for c, _ in shown[0]).startswith(f"f{2 * ROWS - 1}")  # the newest cells


def test_cells_the_terminal_shows_already_are_not_sent_again():
    sent = []
    pacer = Pacer(sent.append)
    rows = [strip_of([(f"row {i}", Style(color="red"))], COLS) for i in range(ROWS)]
    pacer.add(layout(rows), 0.0)
    pacer.drain()
    assert len(sent) == ROWS
    rows[3] = strip_of([("changed", Style(color="red"))], COLS)
    pacer.add(layout(rows), 1.0)  # a widget repainted whole: one row differs
    pacer.drain()
    assert len(sent) == ROWS + 1 and "changed" in sent[ROWS]  # that row only
    assert painted("".join(sent)) == painted(layout(rows))
    pacer.add("\x1b[2J", 2.0)  # anything else written: what the terminal shows is not known
    pacer.add(layout(rows), 3.0)
    pacer.drain()
    assert sum("row 1" in s for s in sent) == 2


def test_long_pieces_go_in_parts_cut_where_no_style_is_set():
    from tuinet.app.wire import split_piece

    parts_ = [("ab", Style(color="red", bgcolor="#1e1e1e")), ("cd", Style(color="green"))] * 4
    body = layout([strip_of(parts_, COLS)], 2)
    parts = split_piece(3, 1, body, 30)
    assert len(parts) > 2 and all(len(text) <= 60 for _, _, text in parts)
    assert [col for col, _, _ in parts] == [1] + [1 + sum(w for _, w, _ in parts[:i]) for i in range(1, len(parts))]
    assert sum(w for _, w, _ in parts) == COLS
    assert painted("".join(text for _, _, text in parts)) == painted(body)
    assert split_piece(3, 1, body, 10_000) == [(1, COLS, body)]


def test_a_resize_drops_the_rows_laid_out_for_the_old_size():
    sent = []
    pacer = Pacer(sent.append)
    pacer.add(layout([strip_of([("old", None)], COLS)] * ROWS), 0.0)
    pacer.add("\x1b[?1000h\x1b[2J", 0.1)  # a write of another kind waits behind them
    pacer.add(layout([strip_of([("after", None)], COLS)]), 0.2)
    pacer.resized()
    assert pacer.pending == len("\x1b[?1000h\x1b[2J")
    pacer.drain()
    assert sent == ["\x1b[?1000h\x1b[2J"]


def test_a_barrier_waits_for_what_came_before():
    sent = []
    pacer = Pacer(sent.append)
    pacer.add(layout([strip_of([("a", None)], COLS)]), 0.0)
    pacer.add("\x1b[2J", 0.1)  # not a frame: everything before it goes first, then it
    pacer.add(layout([strip_of([("b", None)], COLS)], 1), 0.2)
    pacer.drain()
    assert [("a" in s, s == "\x1b[2J", "b" in s) for s in sent] == [(True, False, False), (False, True, False),
                                                                   (False, False, True)]

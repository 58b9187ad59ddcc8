"""What the app writes to a slow terminal: the same screen in fewer bytes, the lines that matter first.

Textual writes every styled run of a frame as a complete SGR sequence (`ESC [ 38;2;r;g;b;48;2;r;g;b m`)
followed by a reset (`ESC [ 0 m`): on the weights view at 120x40 three quarters of the bytes are
those sequences, most of them repeating the state the terminal is already in. Over a link of a
few KB/s that is the difference between a view switch arriving in two seconds or in five.

`Compactor.compact(text)` re-encodes a write: it keeps track of the graphic state the original
bytes ask for and of the state the terminal is in, and writes only the changes, just before the
text that needs them (and before anything that erases or scrolls, which paints with the
background). Everything else passes through unchanged and in order. At the end of every write
the terminal is back in the state the original left it in, so writes from elsewhere (Textual's
driver at exit) see what they expect. A write it does not understand (an SGR code outside the
standard set, colon sub-parameters) passes through unchanged, and the state is taken as unknown
until the next full reset.

A frame of Textual's is a sequence of pieces, each a cursor move to (row, column) and styled
text that ends with a reset: every piece paints the same cells whatever was written before it,
so pieces of different rows may go in any order. Two things build on that:

- `by_rows(text, first)` reorders one write so that the rows in `first` (the header, the status
  line) come first; the pieces of one row keep their order, the write's head (before the first
  move) stays first and its tail (the final cursor move) last. Used while the link is slow and
  the terminal does not answer queries (tuinet/app/link.py).
- `Pacer` holds the writes and sends them as the link takes them: newer pieces replace waiting
  ones, parts the terminal shows already are not sent again, and the rows go in the order that
  matters (see the class).

A write of another shape passes through unchanged and in order.
"""

from __future__ import annotations

import math
import re
import time

# one token: an SGR (group 1: its parameters), a cursor move to row;col (groups 2, 3), another
# CSI sequence (group 4: the whole; group 5: its final byte), an OSC string, a lone ESC pair, a
# control character; text between tokens is left alone
TOKEN = re.compile(
    r"\x1b\[([0-9;]*)m"
    r"|\x1b\[(\d+);(\d+)H"
    r"|(\x1b\[[0-9;:?<=>!]*[ -/]*([@-~]))"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[@-_]"
    r"|[\x00-\x1f\x7f]"
)
MOVES = frozenset("ABCDEFGHfdn")  # CSI finals that move the cursor or ask something: no painting
SAFE_CONTROLS = frozenset("\r\x07")  # control characters that paint nothing (a newline may scroll)

FLAGS = {1, 2, 3, 4, 5, 6, 7, 8, 9, 21, 51, 52, 53}
OFF = {22: (1, 2), 23: (3,), 24: (4, 21), 25: (5, 6), 27: (7,), 28: (8,), 29: (9,), 54: (51, 52), 55: (53,)}
OFF_CODE = {flag: code for code, flags in OFF.items() for flag in flags}

RESET = (frozenset(), None, None, None)  # (flags, foreground, background, underline colour)


class Unknown(ValueError):
    """An SGR sequence outside what `apply_sgr` knows."""


def apply_sgr(state: tuple, params: str) -> tuple:
    """The graphic state after `ESC [ params m`."""
    flags, fg, bg, ul = state
    codes = params.split(";") if params else ["0"]
    n = len(codes)
    i = 0
    flags = set(flags)
    while i < n:
        raw = codes[i]
        code = int(raw) if raw else 0
        if code == 0:
            flags.clear()
            fg = bg = ul = None
        elif code in FLAGS:
            flags.add(code)
        elif code in OFF:
            flags.difference_update(OFF[code])
        elif 30 <= code <= 37 or 90 <= code <= 97:
            fg = raw
        elif 40 <= code <= 47 or 100 <= code <= 107:
            bg = raw
        elif code == 39:
            fg = None
        elif code == 49:
            bg = None
        elif code == 59:
            ul = None
        elif code in (38, 48, 58):
            kind = codes[i + 1] if i + 1 < n else ""
            width = 3 if kind == "5" else 5 if kind == "2" else 0
            if not width or i + width > n or not all(c.isdigit() for c in codes[i + 1:i + width]):
                raise Unknown(params)
            colour = ";".join(codes[i:i + width])
            i += width - 1
            if code == 38:
                fg = colour
            elif code == 48:
                bg = colour
            else:
                ul = colour
        else:
            raise Unknown(params)
        i += 1
    return frozenset(flags), fg, bg, ul


def transition(have: tuple, want: tuple) -> str:
    """The shortest SGR sequence (of two ways) that takes the terminal from `have` to `want`."""
    if want == have:
        return ""
    if want == RESET:
        return "\x1b[0m"
    flags, fg, bg, ul = want
    # from scratch: a reset, then everything `want` has
    full = ["0", *map(str, sorted(flags))]
    full += [c for c in (fg, bg, ul) if c is not None]
    # or the differences: turn off what goes (an off code may take a flag that stays: set it again)
    gone = have[0] - flags
    offs = sorted({OFF_CODE[f] for f in gone})
    taken = {f for code in offs for f in OFF[code]}
    ons = sorted((flags - have[0]) | (flags & taken))
    diff = [*map(str, offs), *map(str, ons)]
    for mine, theirs, default in ((fg, have[1], "39"), (bg, have[2], "49"), (ul, have[3], "59")):
        if mine != theirs:
            diff.append(mine if mine is not None else default)
    codes = diff if len(";".join(diff)) <= len(";".join(full)) else full
    return "\x1b[" + ";".join(codes) + "m"


_EIGHT_BIT: dict[str, str] = {}


def to_eight_bit(state: tuple) -> tuple:
    """`state` with its 24-bit colours as the nearest of the 256 (Rich's downgrade)."""
    flags, fg, bg, ul = state
    if not any(c is not None and c[3:5] == "2;" for c in (fg, bg, ul)):
        return state
    return flags, *(_eight_bit(c) if c is not None and c[3:5] == "2;" else c for c in (fg, bg, ul))


def _eight_bit(colour: str) -> str:
    """"38;2;r;g;b" as "38;5;n" (the same for 48 and 58)."""
    known = _EIGHT_BIT.get(colour)
    if known is None:
        from rich.color import Color, ColorSystem

        kind, _, r, g, b = colour.split(";")
        number = Color.from_rgb(int(r), int(g), int(b)).downgrade(ColorSystem.EIGHT_BIT).number
        known = _EIGHT_BIT[colour] = f"{kind};5;{number}"
    return known


class Compactor:
    """Re-encodes writes with as few SGR bytes as the terminal needs (module docstring).

    One per terminal: it remembers the state the terminal is in between writes. `chars_in` and
    `chars_out` count characters before and after.

    `eight_bit`: write 24-bit colours as the nearest of the 256 (`38;5;n`, Rich's own
    downgrade, as Textual draws on a 256-colour terminal): about a third fewer bytes for a
    colourful frame. For a slow link only: the colours are approximations.
    """

    def __init__(self) -> None:
        self.want = RESET   # what the original bytes have asked for so far
        self.have = None    # what the terminal is in; None: unknown (a reset comes first)
        self.chars_in = 0
        self.chars_out = 0
        self.eight_bit = False

    def compact(self, text: str) -> str:
        self.chars_in += len(text)
        try:
            out = self._compact(text)
        except Unknown:
            # pass the write through as it is: the terminal ends in whatever it asks for,
            # which this class no longer knows (the next write starts with a reset)
            self.have = None
            self.want = RESET
            out = text
        self.chars_out += len(out)
        return out

    def _compact(self, text: str) -> str:
        want, have = self.want, self.have
        out: list[str] = []
        append = out.append
        pos = 0
        for m in TOKEN.finditer(text):
            start = m.start()
            if start > pos:  # text: paint it in the state it asks for
                if have != want:
                    append(self._to(have, want))
                    have = want
                append(text[pos:start])
            pos = m.end()
            params = m.group(1)
            if params is not None:
                want = apply_sgr(want, params)
                if self.eight_bit:
                    want = to_eight_bit(want)
                continue
            token = m.group(0)
            if m.group(2) is not None:
                append(token)  # a move: paints nothing
                continue
            if m.group(4) is not None:
                if m.group(5) == "m":
                    raise Unknown(token)  # an SGR with sub-parameters
                if m.group(5) not in MOVES and not token.startswith("\x1b[?"):
                    if have != want:  # it may erase or scroll with the background
                        append(self._to(have, want))
                        have = want
                append(token)
                continue
            if token.startswith("\x1b]") or token in SAFE_CONTROLS:
                append(token)
                continue
            if have != want:  # a newline (it may scroll) or another control
                append(self._to(have, want))
                have = want
            append(token)
        if pos < len(text):
            if have != want:
                append(self._to(have, want))
                have = want
            append(text[pos:])
        if have != want:
            append(self._to(have, want))
            have = want
        self.want, self.have = want, have
        return "".join(out)

    @staticmethod
    def _to(have, want) -> str:
        if have is None:
            return "\x1b[0m" + (transition(RESET, want) if want != RESET else "")
        return transition(have, want)


MOVE = re.compile(r"\x1b\[(\d+);(\d+)H")
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def ends_in(state: tuple, text: str) -> tuple:
    """The graphic state after the SGR sequences of `text`, from `state`."""
    for m in SGR.finditer(text):
        state = apply_sgr(state, m.group(1))
    return state
PLAIN = re.compile(r"(?:[^\x1b\x00-\x1f]|\x1b\[[0-9;]*m|\n|\r)*")  # styled text and line breaks


def by_rows(text: str, first) -> str:
    """`text` with the pieces of the rows in `first` (1-based terminal rows) moved to the front,
    in the order `first` names them; unchanged when it is not a frame of pieces."""
    moves = list(MOVE.finditer(text))
    if len(moves) < 2:
        return text
    rows: dict[int, list[str]] = {}
    order: list[int] = []
    head = text[:moves[0].start()]
    try:
        if ends_in(RESET, head) != RESET:
            return text
        for here, after in zip(moves, moves[1:]):
            body = text[here.end():after.start()]
            # styled text only, and back to no style at its end: a piece starts where the
            # previous one left the terminal, so any order paints the same
            if PLAIN.fullmatch(body) is None or ends_in(RESET, body) != RESET:
                return text
            row = int(here.group(1))
            if row not in rows:
                rows[row] = []
                order.append(row)
            rows[row].append(here.group(0) + body.rstrip("\r\n"))  # the moves make the line breaks redundant
    except Unknown:
        return text
    tail = text[moves[-1].start():]
    wanted = [r for r in first if r in rows]
    if not wanted or order[:len(wanted)] == wanted:
        return text
    rest = [r for r in order if r not in wanted]
    return head + "".join("".join(rows[r]) for r in wanted + rest) + tail


# ------------------------------------------------------------------------------- the pacer
SIDE_MODES = frozenset({"25", "12", "1000", "1002", "1003", "1004", "1005", "1006", "1015", "1016", "2004"})
"""Private modes (`ESC [ ? n h/l`) that touch no cell: cursor visibility and blink, the mouse,
focus events, bracketed paste. They may go before cells written earlier."""
PIECE_LIMIT = 240  # characters: the pacer sends longer pieces in parts (a row of braille is ~1,500)
FIRST_EVERY = 0.25  # seconds: the rows named first go before the others this often at most
SYNC_MODE = "2026"  # synchronized output: meaningless once a frame is sent in parts (dropped)
PRIVATE = re.compile(r"\x1b\[\?([0-9;]+)([hl])")


class _Piece:
    __slots__ = ("col", "end", "text", "since", "urgent")

    def __init__(self, col: int, end: int, text: str, since: float, urgent: bool = False) -> None:
        self.col, self.end, self.text, self.since, self.urgent = col, end, text, since, urgent


class _Epoch:
    """Pieces by row, the cursor's last move, then the write that ends the epoch (a barrier:
    everything before it must reach the terminal first)."""

    __slots__ = ("rows", "cursor", "barrier", "chars")

    def __init__(self) -> None:
        self.rows: dict[int, list[_Piece]] = {}
        self.cursor: str | None = None
        self.barrier: str | None = None
        self.chars = 0


def cell_width(styled: str) -> int:
    from rich.cells import cell_len

    return cell_len(SGR.sub("", styled))


def parse_frame(text: str):
    """Textual's write as (side sequences, pieces as (row, col, width, text), cursor move), or
    None when it is of another shape (it then goes as it is, in order)."""
    side: list[str] = []
    pieces: list[tuple[int, int, int, str]] = []
    cursor = None
    current = None  # [row, col, start of the piece in text]
    pos = 0

    def close(end: int) -> bool:
        nonlocal cursor
        row, col, start = current
        body = text[start:end]
        move_end = text.index("H", start) + 1
        styled = body[move_end - start:].rstrip("\r\n")
        if not styled:
            cursor = text[start:move_end]
            return True
        if PLAIN.fullmatch(styled) is None or "\n" in styled or "\r" in styled:
            return False
        if ends_in(RESET, styled) != RESET:
            return False
        pieces.append((row, col, cell_width(styled), text[start:move_end] + styled))
        return True

    try:
        for m in TOKEN.finditer(text):
            start = m.start()
            if start > pos and current is None:
                return None  # text with no move before it: it depends on where the cursor is
            pos = m.end()
            if m.group(1) is not None:
                if current is None and m.group(1) not in ("", "0"):
                    return None
                continue
            token = m.group(0)
            if m.group(2) is not None:
                if current is not None and not close(start):
                    return None
                current = [int(m.group(2)), int(m.group(3)), start]
                continue
            if token in ("\r", "\n") and current is not None:
                continue
            private = PRIVATE.fullmatch(token)
            if private is not None and all(mode in SIDE_MODES or mode == SYNC_MODE
                                           for mode in private.group(1).split(";")):
                if current is not None and not close(start):
                    return None
                current = None
                modes = [mode for mode in private.group(1).split(";") if mode != SYNC_MODE]
                if modes:
                    side.append(f"\x1b[?{';'.join(modes)}{private.group(2)}")
                continue
            if token.startswith("\x1b]") and current is None:
                side.append(token)  # a title: touches no cell
                continue
            return None
        if pos < len(text) and current is None:
            return None
        if current is not None and not close(len(text)):
            return None
    except Unknown:
        return None
    return side, pieces, cursor


RESET_SGR = re.compile(r"\x1b\[0?m")


def split_piece(row: int, col: int, body: str, limit: int) -> list[tuple[int, int, str]]:
    """A piece (`body`: a move to row;col and styled text) as parts of about `limit` characters
    or less, each with its own move: (column, width, text). Cut only right after a reset, where
    no style is set, so that every part paints alone what it painted within the whole. Small
    parts keep a key's answer from waiting behind a long row already on its way."""
    move_end = body.index("H") + 1
    styled = body[move_end:]
    if len(body) <= limit:
        return [(col, cell_width(styled), body)]
    parts, start, at = [], 0, col
    for m in RESET_SGR.finditer(styled):
        end = m.end()
        if end - start >= limit - 12 and end < len(styled):
            chunk = styled[start:end]
            width = cell_width(chunk)
            parts.append((at, width, f"\x1b[{row};{at}H{chunk}"))
            at += width
            start = end
    chunk = styled[start:]
    parts.append((at, cell_width(chunk), f"\x1b[{row};{at}H{chunk}" if parts else body))
    return parts


class Pacer:
    """Holds Textual's writes and sends them as the link takes them, newest cells winning.

        pacer = Pacer(send)              # send(text): to the terminal (Textual's writer)
        pacer.add(text, now, urgent)     # a write of Textual's; urgent: the answer to a key
        pacer.pump(budget, first)        # send up to `budget` characters (at least one piece),
                                         # the rows in `first` first; returns what it sent

    A write is split into its pieces (a row, a column range, the styled text). A piece replaces
    the waiting pieces of its row that it covers (their cells would be overwritten anyway), so
    what waits is at most a screen, and the link carries the newest state of every cell.

    The order: the rows of `first` (the header, the status line; each at most every
    FIRST_EVERY s, so that they do not take the whole link); then the rows an urgent write
    changed (the answer to a key press), the shortest first (text before pictures: the most
    rows brought up to date per byte); then the other rows, the one that
    has waited longest first (a row keeps its place when newer cells replace its waiting ones,
    so rows that change every frame cannot starve the others). A row's pieces go in order. A
    part that would paint exactly what the pacer last sent to the same cells is not sent again
    (Textual repaints a whole widget when some of its rows changed). A
    write of another shape is a barrier: sent after everything before it. The cursor's last
    move goes once a screen's pieces are all out. Every piece is self-contained (a move,
    styled text, no style at the end), so rows may go in any order. Not thread-safe: the
    caller holds a lock.
    """

    def __init__(self, send, compactor: Compactor | None = None) -> None:
        self._send = send
        self.compactor = compactor
        self._epochs: list[_Epoch] = [_Epoch()]
        self.pending = 0       # characters waiting (as Textual wrote them)
        self.dropped = 0       # characters never sent: newer cells replaced them
        self.sent = 0          # characters sent (after compaction)
        self.trace = None      # a list: (row, urgent, characters) of every row sent (for tuning)
        self._first_sent: dict[int, float] = {}  # when each row of `first` last went first
        self.piece_limit = PIECE_LIMIT  # characters: longer pieces go in parts (see split_piece)
        self._shown: dict[int, dict[tuple[int, int], str]] = {}  # row: (col, end): the part sent there last

    def oldest(self) -> float | None:
        """When the longest-waiting piece was written (None: nothing waits)."""
        times = [line[0].since for epoch in self._epochs for line in epoch.rows.values() if line]
        return min(times) if times else None

    def forget_shown(self) -> None:
        """Someone else wrote to the terminal: what it shows is no longer known."""
        self._shown.clear()

    def resized(self) -> None:
        """The terminal changed size: the rows waiting were laid out for the old one (a row
        wider than the new width would wrap into the next) and Textual repaints everything.
        They are dropped; the writes of other kinds (barriers) still go, in order."""
        for epoch in self._epochs:
            for line in epoch.rows.values():
                for p in line:
                    self.dropped += len(p.text)
                    self.pending -= len(p.text)
                    epoch.chars -= len(p.text)
            epoch.rows.clear()
            epoch.cursor = None
        self._shown.clear()

    def add(self, text: str, now: float, urgent: bool = False) -> None:
        parsed = parse_frame(text)
        epoch = self._epochs[-1]
        if parsed is None:
            epoch.barrier = text
            epoch.chars += len(text)
            self.pending += len(text)
            self._epochs.append(_Epoch())
            return
        side, pieces, cursor = parsed
        for s in side:
            self._out(s)
        for row, col, width, body in pieces:
            line = epoch.rows.get(row)
            since, hurry = now, urgent
            if line is None:
                line = epoch.rows[row] = []
            else:
                keep = []
                for p in line:
                    if col <= p.col and p.end <= col + width:  # covered: its cells are overwritten
                        if not urgent:  # (an answer to a key goes in the order of the writes)
                            since = min(since, p.since)
                        hurry = hurry or p.urgent
                        epoch.chars -= len(p.text)
                        self.pending -= len(p.text)
                        self.dropped += len(p.text)
                    else:
                        keep.append(p)
                line[:] = keep
            shown = self._shown.get(row) if len(self._epochs) == 1 else None
            for part_col, part_width, part in split_piece(row, col, body, self.piece_limit):
                end = part_col + part_width
                if shown is not None and shown.get((part_col, end)) == part and not any(
                        p.col < end and part_col < p.end for p in line):
                    self.dropped += len(part)  # the terminal shows just this there already
                    continue
                line.append(_Piece(part_col, end, part, since, hurry))
                epoch.chars += len(part)
                self.pending += len(part)
            if not line:
                del epoch.rows[row]
        if cursor is not None:
            epoch.cursor = cursor

    def _next_row(self, rows: dict, first, now: float) -> int:
        for r in first:  # the named rows, FIRST_EVERY s apart at most (the link is for all
            # rows), at once when they answer a key
            if r in rows and (now - self._first_sent.get(r, -math.inf) >= FIRST_EVERY
                              or any(p.urgent for p in rows[r])):
                self._first_sent[r] = now
                return r
        urgent = [r for r, line in rows.items() if any(p.urgent for p in line)]
        if urgent:
            return min(urgent, key=lambda r: (sum(len(p.text) for p in rows[r]), r))
        return min(rows, key=lambda r: (rows[r][0].since, r))

    def _out(self, text: str) -> int:
        if self.compactor is not None:
            text = self.compactor.compact(text)
        self._send(text)
        self.sent += len(text)
        return len(text)

    def pump(self, budget: int, first=(), now: float | None = None) -> int:
        """Send pieces while `budget` characters last (one at least, when anything waits);
        `now`: for how often the rows of `first` go first (default: `time.monotonic()`)."""
        now = time.monotonic() if now is None else now
        sent = 0
        epochs = self._epochs
        while epochs:
            epoch = epochs[0]
            rows = epoch.rows
            while rows:
                if sent and sent >= budget:
                    return sent
                row = self._next_row(rows, first, now)
                if self.trace is not None:
                    self.trace.append((row, any(p.urgent for p in rows[row]), sum(len(p.text) for p in rows[row])))
                line = rows[row]
                piece = line.pop(0)
                if not line:
                    del rows[row]
                epoch.chars -= len(piece.text)
                self.pending -= len(piece.text)
                sent += self._out(piece.text)
                shown = self._shown.setdefault(row, {})
                for key in [k for k in shown if k[0] < piece.end and piece.col < k[1]]:
                    del shown[key]
                shown[(piece.col, piece.end)] = piece.text
            if epoch.cursor is not None:
                sent += self._out(epoch.cursor)
                epoch.cursor = None
            if epoch.barrier is None:
                return sent  # the open epoch: empty now
            if sent and sent >= budget:
                return sent
            self.pending -= len(epoch.barrier)
            sent += self._out(epoch.barrier)
            self._shown.clear()  # it may have changed any cell
            epochs.pop(0)
        return sent  # pragma: no cover - the last epoch is always open

    def drain(self) -> int:
        """Send everything that waits."""
        return self.pump(1 << 62)

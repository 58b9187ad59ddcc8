"""`plot_model`: draw a model's graph as PNG, SVG or Graphviz DOT, with no imaging library.

    from tuinet.utils import plot_model
    plot_model(model, "model.png", show_shapes=True)       # or "model.svg", "model.dot"

The layout is Keras's: one box per layer (a black header with "name (Type)" or "Type", then
optional rows for the activation, the input/output shapes, the dtype and whether it trains),
arrows from each layer to the layers that use its output, in ranks by depth from top to bottom
(`rankdir="TB"`) or left to right (`"LR"`). An edge that skips ranks bends through the ranks
between (a Sugiyama-style dummy point a rank), and each rank is ordered by the mean position of
its parents to keep crossings few.

PNG files are drawn here: a NumPy canvas, a built-in 5x7 bitmap font, and the PNG chunks
written with `zlib` and `struct`. A PNG never exceeds `MAX_SIDE` pixels a side: a big model is
drawn with the smallest font, then cut after the ranks that fit, with a note saying how many
layers were left out. SVG and DOT hold the whole graph.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tuinet.atomic import atomic_write
from tuinet.errors import ConfigError

__all__ = ["plot_model", "model_graph", "png_bytes", "MAX_SIDE"]

MAX_SIDE = 8000
_FORMATS = (".png", ".svg", ".dot", ".gv")

# ------------------------------------------------------------------------------ font
# The classic 5x7 ASCII font, characters 32..126; five column bytes a glyph, bit 0 at the top.
_FONT_HEX = (
    "0000000000 00005f0000 0007000700 147f147f14 242a7f2a12 2313086462 3649552250 0005030000"
    " 001c224100 0041221c00 082a1c2a08 08083e0808 0050300000 0808080808 0060600000 2010080402"
    " 3e5149453e 00427f4000 4261514946 2141454b31 1814127f10 2745454539 3c4a494930 0171090503"
    " 3649494936 064949291e 0036360000 0056360000 0008142241 1414141414 4122140800 0201510906"
    " 324979413e 7e1111117e 7f49494936 3e41414122 7f4141221c 7f49494941 7f09090101 3e41415132"
    " 7f0808087f 00417f4100 2040413f01 7f08142241 7f40404040 7f0204027f 7f0408107f 3e4141413e"
    " 7f09090906 3e4151215e 7f09192946 4649494931 01017f0101 3f4040403f 1f2040201f 7f2018207f"
    " 6314081463 0304780403 6151494543 007f414100 0204081020 0041417f00 0402010204 4040404040"
    " 0001020400 2054545478 7f48444438 3844444420 384444487f 3854545418 087e090102 081454543c"
    " 7f08040478 00447d4000 2040443d00 007f102844 00417f4000 7c04180478 7c08040478 3844444438"
    " 7c14141408 081414187c 7c08040408 4854545420 043f444020 3c4040207c 1c2040201c 3c4030403c"
    " 4428102844 0c5050503c 4464544c44 0008364100 00007f0000 0041360800 0804081008"
)


# Letters with descenders use an eighth row below the baseline.
_DESCENDERS = {"g": "18a4a4a47c", "j": "4080847d00", "p": "fc24242418", "q": "18242418fc", "y": "1ca0a0a07c",
               ",": "0080600000", ";": "0080680000"}


def _glyphs() -> dict[str, np.ndarray]:
    out = {}
    for code, hexcols in enumerate(_FONT_HEX.split(), start=32):
        cols = bytes.fromhex(_DESCENDERS.get(chr(code), hexcols))
        out[chr(code)] = np.array([[(c >> row) & 1 for c in cols] for row in range(8)], dtype=bool)
    return out


_GLYPHS = _glyphs()
_CELL_W, _CELL_H = 6, 10         # font units: 5x7 glyph (+1 descender row) and spacing
_PAD_X, _PAD_Y = 5, 4            # font units inside a cell
_GAP_RANK, _GAP_NODE = 22, 12    # font units between ranks and between boxes of a rank
_MARGIN = 10

_INK = (33, 37, 41)
_HEADER_BG = (0, 0, 0)
_WHITE = (255, 255, 255)
_EDGE = (52, 58, 64)
_GREEN = (34, 139, 34)
_RED = (178, 34, 34)
_NOTE = (108, 117, 125)


# ------------------------------------------------------------------------------ graph
@dataclass
class _Cell:
    text: str
    bg: tuple = _WHITE
    fg: tuple = _INK
    bold: bool = False


@dataclass
class _Box:
    key: str                      # unique node id (the layer's name)
    layer: object
    rows: list = field(default_factory=list)   # list of lists of _Cell
    rank: int = 0
    order: float = 0.0
    x: int = 0
    y: int = 0
    w: int = 0
    h: int = 0
    dummy: bool = False


def _fmt_shape(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return "[" + ", ".join(_fmt_shape(s) for s in shape) + "]"
    dims = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


def _activation_name(layer) -> str | None:
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    name = getattr(act, "name", None) or getattr(act, "__name__", None)
    return str(name) if name else type(act).__name__.lower()


def _has_weights(layer) -> bool:
    try:
        return bool(layer.count_params())
    except Exception:  # noqa: BLE001 - an unbuilt layer: no weights to show
        return False


def model_graph(model) -> tuple[list[tuple], list[tuple[str, str]]]:
    """The model as `(nodes, edges)`: nodes `(key, layer, input_shape, output_shape, dtype)`
    in topological order, edges `(producer key, consumer key)`; one node a layer (a shared
    layer once), a nested model as one node, a Sequential model as a chain."""
    from tuinet.nn import backend
    from tuinet.nn.model import Sequential, sample_shape

    nodes, edges = [], []
    if hasattr(model, "_nodes"):  # functional
        seen: dict[int, str] = {}
        for node in model._nodes:
            layer = node.layer
            if id(layer) in seen:
                key = seen[id(layer)]
            else:
                key = layer.name
                seen[id(layer)] = key
                ins = [t.shape for t in node.inputs]
                outs = [t.shape for t in node.outputs]
                nodes.append((key, layer, None if not ins else ins[0] if len(ins) == 1 else ins,
                              outs[0] if len(outs) == 1 else outs,
                              node.outputs[0].dtype if node.outputs else None))
            for t in node.inputs:
                if t.node is not None and id(t.node.layer) in seen:
                    edge = (seen[id(t.node.layer)], key)
                    if edge not in edges:
                        edges.append(edge)
        return nodes, edges
    if isinstance(model, Sequential):
        if model._input_shape is not None and not model.built and model.layers:
            model.build()
        previous = tuple(model._input_shape) if model._input_shape is not None else None
        last = None
        for layer in model.layers:
            out = tuple(sample_shape(layer)) if getattr(layer, "built", False) else None
            nodes.append((layer.name, layer, None if previous is None else (None, *previous),
                          None if out is None else (None, *out), backend.floatx()))
            if last is not None:
                edges.append((last, layer.name))
            last, previous = layer.name, out
        return nodes, edges
    if hasattr(model, "name"):  # a bare layer
        return [(model.name, model, None, None, None)], []
    raise ConfigError(f"plot_model: expected a tuinet model or layer, got {type(model).__name__}")


def _boxes(model, *, show_shapes, show_dtype, show_layer_names, show_layer_activations,
           show_trainable) -> tuple[list[_Box], list[tuple[str, str]]]:
    nodes, edges = model_graph(model)
    boxes = []
    for key, layer, in_shape, out_shape, dtype in nodes:
        kind = type(layer).__name__
        box = _Box(key, layer)
        box.rows.append([_Cell(f"{layer.name} ({kind})" if show_layer_names else kind, _HEADER_BG, _WHITE, True)])
        act = _activation_name(layer) if show_layer_activations else None
        if act:
            box.rows.append([_Cell(f"Activation: {act}")])
        cells = []
        if show_shapes:
            if kind != "InputLayer":
                cells.append(_Cell(f"Input shape: {_fmt_shape(in_shape)}"))
            cells.append(_Cell(f"Output shape: {_fmt_shape(out_shape)}"))
        if show_dtype:
            cells.append(_Cell(f"Output dtype: {dtype or '?'}"))
        if show_trainable and _has_weights(layer):
            trainable = getattr(layer, "trainable", True)
            cells.append(_Cell("Trainable" if trainable else "Non-trainable", _GREEN if trainable else _RED,
                               _WHITE, True))
        if cells:
            box.rows.append(cells)
        boxes.append(box)
    return boxes, edges


# ------------------------------------------------------------------------------ layout
def _measure(box: _Box, s: int) -> None:
    """Box size in pixels at font scale `s`; each row as tall as one text line."""
    widths = [sum((len(c.text) * _CELL_W + 2 * _PAD_X) for c in row) for row in box.rows]
    box.w = max(widths) * s
    box.h = len(box.rows) * (_CELL_H + 2 * _PAD_Y) * s


def _layout(boxes: list[_Box], edges, s: int, rankdir: str):
    """Ranks, dummy points for long edges, order in each rank, then pixel positions.
    Returns (all boxes incl. dummies, polylines [(src, [points], dst)], width, height)."""
    index = {b.key: b for b in boxes}
    parents: dict[str, list[str]] = {b.key: [] for b in boxes}
    for a, b in edges:
        parents[b].append(a)
    for b in boxes:  # boxes come in topological order
        b.rank = max((index[p].rank + 1 for p in parents[b.key]), default=0)
        _measure(b, s)
    # dummies: an edge over several ranks passes through one zero-size point a rank
    chains = []
    allb = list(boxes)
    for a, b in edges:
        chain = [index[a]]
        for r in range(index[a].rank + 1, index[b].rank):
            d = _Box(f"{a}->{b}@{r}", None, rank=r, dummy=True)
            allb.append(d)
            chain.append(d)
        chain.append(index[b])
        chains.append(chain)
    nranks = max((b.rank for b in allb), default=-1) + 1
    ranks: list[list[_Box]] = [[] for _ in range(nranks)]
    for i, b in enumerate(allb):
        b.order = i
        ranks[b.rank].append(b)
    ups: dict[int, list[_Box]] = {}
    for chain in chains:
        for lo, hi in zip(chain, chain[1:]):
            ups.setdefault(id(hi), []).append(lo)
    for rank in ranks[1:]:  # one barycentre sweep downwards
        for b in rank:
            ps = ups.get(id(b))
            if ps:
                b.order = sum(p.order for p in ps) / len(ps) + b.order * 1e-6
        rank.sort(key=lambda b: b.order)
        for i, b in enumerate(rank):
            b.order = i
    # positions: along = the rank axis (y for TB, x for LR), across = within a rank
    horizontal = rankdir == "LR"
    gap_rank, gap_node, margin = _GAP_RANK * s, _GAP_NODE * s, _MARGIN * s
    extents = []
    for rank in ranks:
        across = sum((b.h if horizontal else b.w) for b in rank) + gap_node * max(len(rank) - 1, 0)
        along = max(((b.w if horizontal else b.h) for b in rank), default=0)
        extents.append((across, along))
    total_across = max((e[0] for e in extents), default=0)
    pos_along = margin
    for rank, (across, along) in zip(ranks, extents):
        c = margin + (total_across - across) // 2
        for b in rank:
            if b.dummy:  # an edge passing through: it spans the rank
                if horizontal:
                    b.w = along
                else:
                    b.h = along
            size_across = b.h if horizontal else b.w
            size_along = b.w if horizontal else b.h
            off = pos_along + (along - size_along) // 2
            if horizontal:
                b.x, b.y = off, c
            else:
                b.x, b.y = c, off
            c += size_across + gap_node
        pos_along += along + gap_rank
    along_total = pos_along - gap_rank + margin if ranks else 2 * margin
    width, height = (along_total, total_across + 2 * margin) if horizontal else (total_across + 2 * margin,
                                                                                  along_total)
    # ports: the k edges leaving (entering) a box spread over its side, ordered by where the
    # other end lies, so that edges into one box neither overlap nor cross at its door
    def across(b: _Box) -> float:
        return b.y + b.h / 2 if horizontal else b.x + b.w / 2

    ports: dict[tuple[int, str], list] = {}
    for ci, chain in enumerate(chains):
        for si, (lo, hi) in enumerate(zip(chain, chain[1:])):
            ports.setdefault((id(lo), "out"), []).append((across(hi), ci, si))
            ports.setdefault((id(hi), "in"), []).append((across(lo), ci, si))
    offset: dict[tuple[int, int, str], float] = {}
    for (bid, side), items in ports.items():
        items.sort()
        for k, (_, ci, si) in enumerate(items):
            offset[(ci, si, side)] = (k + 1) / (len(items) + 1)
    lines = []
    for ci, chain in enumerate(chains):
        pts = []
        for si, (lo, hi) in enumerate(zip(chain, chain[1:])):
            fo, fi = offset[(ci, si, "out")], offset[(ci, si, "in")]
            if horizontal:
                start = (lo.x + lo.w, int(lo.y + lo.h * fo))
                end = (hi.x, int(hi.y + hi.h * fi))
            else:
                start = (int(lo.x + lo.w * fo), lo.y + lo.h)
                end = (int(hi.x + hi.w * fi), hi.y)
            if not pts or pts[-1] != start:
                pts.append(start)
            pts.append(end)
        lines.append((chain[0].key, pts, chain[-1].key))
    return allb, lines, max(width, 1), max(height, 1), ranks


def _cells_geometry(box: _Box, s: int):
    """[(x, y, w, h, cell)] for every cell of a box, the cells of a row stretched to its width."""
    out = []
    row_h = (_CELL_H + 2 * _PAD_Y) * s
    for r, row in enumerate(box.rows):
        natural = [(len(c.text) * _CELL_W + 2 * _PAD_X) * s for c in row]
        extra = box.w - sum(natural)
        x = box.x
        for i, (c, w) in enumerate(zip(row, natural)):
            w += extra // len(row) + (1 if i < extra % len(row) else 0)
            out.append((x, box.y + r * row_h, w, row_h, c))
            x += w
    return out


# ------------------------------------------------------------------------------ PNG
class _Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.px = np.full((height, width, 3), 255, dtype=np.uint8)

    def rect(self, x, y, w, h, color) -> None:
        self.px[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)] = color

    def frame(self, x, y, w, h, color, t=1) -> None:
        self.rect(x, y, w, t, color)
        self.rect(x, y + h - t, w, t, color)
        self.rect(x, y, t, h, color)
        self.rect(x + w - t, y, t, h, color)

    def line(self, x0, y0, x1, y1, color, t=2) -> None:
        n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        xs = np.rint(np.linspace(x0, x1, n)).astype(int) - t // 2
        ys = np.rint(np.linspace(y0, y1, n)).astype(int) - t // 2
        hgt, wid = self.px.shape[:2]
        for dx in range(t):
            for dy in range(t):
                xx, yy = xs + dx, ys + dy
                ok = (xx >= 0) & (xx < wid) & (yy >= 0) & (yy < hgt)
                self.px[yy[ok], xx[ok]] = color

    def triangle(self, pts, color) -> None:
        (ax, ay), (bx, by), (cx, cy) = pts
        x0, x1 = int(min(ax, bx, cx)), int(max(ax, bx, cx)) + 1
        y0, y1 = int(min(ay, by, cy)), int(max(ay, by, cy)) + 1
        yy, xx = np.mgrid[y0:y1, x0:x1] + 0.5

        def side(px, py, qx, qy):
            return (qx - px) * (yy - py) - (qy - py) * (xx - px)

        s1, s2, s3 = side(ax, ay, bx, by), side(bx, by, cx, cy), side(cx, cy, ax, ay)
        inside = ((s1 >= 0) & (s2 >= 0) & (s3 >= 0)) | ((s1 <= 0) & (s2 <= 0) & (s3 <= 0))
        sub = self.px[y0:y1, x0:x1]
        sub[inside[:sub.shape[0], :sub.shape[1]]] = color

    def text(self, x, y, text, color, s=1, bold=False) -> None:
        for i, ch in enumerate(text):
            glyph = _GLYPHS.get(ch, _GLYPHS["?"])
            big = np.kron(glyph, np.ones((s, s), dtype=bool))
            gx, gy = x + i * _CELL_W * s, y
            for b in range(2 if bold else 1):
                sub = self.px[gy:gy + big.shape[0], gx + b:gx + b + big.shape[1]]
                sub[big[:sub.shape[0], :sub.shape[1]]] = color


def png_bytes(pixels: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of an `(height, width, 3)` uint8 array: signature, IHDR, IDAT, IEND."""
    height, width = pixels.shape[:2]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = np.zeros((height, width * 3 + 1), dtype=np.uint8)  # filter byte 0 (None) per row
    raw[:, 1:] = pixels.reshape(height, width * 3)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9)) + chunk(b"IEND", b""))


def _arrow(points, s, horizontal):
    """The points of the line without its last stretch's tip, and the arrowhead triangle."""
    (x1, y1) = points[-1]
    head = 5 * s
    half = 3 * s
    if horizontal:
        tri = [(x1, y1), (x1 - head, y1 - half), (x1 - head, y1 + half)]
        end = (x1 - head + 1, y1)
    else:
        tri = [(x1, y1), (x1 - half, y1 - head), (x1 + half, y1 - head)]
        end = (x1, y1 - head + 1)
    return points[:-1] + [end], tri


def _curve(points, horizontal):
    """Turn each straight stretch between ranks into a right-angled elbow (down, across, down)."""
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if horizontal and y0 != y1:
            mid = (x0 + x1) // 2
            out += [(mid, y0), (mid, y1)]
        elif not horizontal and x0 != x1:
            mid = (y0 + y1) // 2
            out += [(x0, mid), (x1, mid)]
        out.append((x1, y1))
    return out


def _render_png(boxes, lines, width, height, s, horizontal, note) -> bytes:
    note_h = (_CELL_H * s + 2 * _MARGIN * s) if note else 0
    canvas = _Canvas(max(width, (len(note) * _CELL_W + 2 * _MARGIN) * s if note else 1), height + note_h)
    for _, pts, _ in lines:
        pts = _curve(pts, horizontal)
        body, tri = _arrow(pts, s, horizontal)
        for (x0, y0), (x1, y1) in zip(body, body[1:]):
            canvas.line(x0, y0, x1, y1, _EDGE, t=max(2, s))
        canvas.triangle(tri, _EDGE)
    for box in boxes:
        if box.dummy:
            continue
        for x, y, w, h, cell in _cells_geometry(box, s):
            canvas.rect(x, y, w, h, cell.bg)
            canvas.frame(x, y, w, h, _INK, max(1, s // 2))
            tx = x + (w - len(cell.text) * _CELL_W * s) // 2
            canvas.text(tx, y + (_PAD_Y + 1) * s, cell.text, cell.fg, s, cell.bold and s > 1)
        canvas.frame(box.x, box.y, box.w, box.h, _INK, max(1, s // 2) + 1)
    if note:
        canvas.text(_MARGIN * s, height + _MARGIN * s, note, _NOTE, s)
    return png_bytes(canvas.px)


# ------------------------------------------------------------------------------ SVG / DOT
def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _hex(color) -> str:
    return "#%02x%02x%02x" % color


def _render_svg(boxes, lines, width, height, s, horizontal, title) -> str:
    font = _CELL_H * s - 2 * s
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" '
           f'font-size="{font}">',
           f"<title>{_esc(title)}</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
           f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{_hex(_EDGE)}"/></marker></defs>',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    for src, pts, dst in lines:
        pts = _curve(pts, horizontal)
        path = " ".join(f"{x},{y}" for x, y in pts)
        out.append(f'<polyline class="edge" data-from="{_esc(src)}" data-to="{_esc(dst)}" points="{path}" '
                   f'fill="none" stroke="{_hex(_EDGE)}" stroke-width="{max(2, s)}" marker-end="url(#arrow)"/>')
    for box in boxes:
        if box.dummy:
            continue
        out.append(f'<g class="layer" id="{_esc(box.key)}"><title>{_esc(box.key)}</title>')
        for x, y, w, h, cell in _cells_geometry(box, s):
            out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{_hex(cell.bg)}" '
                       f'stroke="{_hex(_INK)}" stroke-width="1"/>')
            weight = ' font-weight="bold"' if cell.bold else ""
            out.append(f'<text x="{x + w / 2:g}" y="{y + h / 2:g}" text-anchor="middle" dominant-baseline="central" '
                       f'fill="{_hex(cell.fg)}"{weight}>{_esc(cell.text)}</text>')
        out.append(f'<rect x="{box.x}" y="{box.y}" width="{box.w}" height="{box.h}" fill="none" '
                   f'stroke="{_hex(_INK)}" stroke-width="2"/></g>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _render_dot(boxes, edges, rankdir, dpi, title) -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    out = [f"digraph {q(title)} {{", f"  graph [rankdir={rankdir}, dpi={int(dpi)}, splines=ortho, concentrate=true];",
           '  node [shape=record, fontname="Helvetica"];', "  edge [penwidth=2];"]
    for box in boxes:
        rows = [" | ".join(c.text for c in row) for row in box.rows]
        label = "{" + " | ".join(("{" + r + "}") if len(row) > 1 else r for r, row in zip(rows, box.rows)) + "}"
        label = label.replace("<", "\\<").replace(">", "\\>")
        out.append(f"  {q(box.key)} [label={q(label)}];")
    for a, b in edges:
        out.append(f"  {q(a)} -> {q(b)};")
    out.append("}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------ entry point
def _fit_png(boxes, edges, s, rankdir):
    """Layout at the largest font scale <= `s` that fits MAX_SIDE; otherwise the first ranks
    that fit at scale 1 and a note. Returns (boxes, lines, width, height, scale, note)."""
    for scale in sorted({s, 1}, reverse=True):
        allb, lines, w, h, ranks = _layout(boxes, edges, scale, rankdir)
        if w <= MAX_SIDE and h <= MAX_SIDE:
            return allb, lines, w, h, scale, ""
    # too big even at scale 1: keep ranks (and boxes in a rank) while they fit
    horizontal = rankdir == "LR"
    limit = MAX_SIDE - 2 * _MARGIN - (_CELL_H + 2 * _MARGIN) - 8
    keep, along = set(), _MARGIN
    for rank in ranks:
        size = max(((b.w if horizontal else b.h) for b in rank), default=0)
        if along + size > limit:
            break
        across = _MARGIN
        for b in rank:
            across += (b.h if horizontal else b.w) + _GAP_NODE
            if across > limit:
                break
            if not b.dummy:
                keep.add(b.key)
        along += size + _GAP_RANK
    kept = [b for b in boxes if b.key in keep]
    kept_edges = [(a, b) for a, b in edges if a in keep and b in keep]
    allb, lines, w, h, _ = _layout(kept, kept_edges, 1, rankdir)
    note = (f"... {len(boxes) - len(kept)} more of {len(boxes)} layers not shown "
            f"(the image is capped at {MAX_SIDE} px a side; plot to .svg for the whole graph)")
    return allb, lines, min(w, MAX_SIDE), min(h, MAX_SIDE - (_CELL_H + 2 * _MARGIN)), 1, note


def plot_model(model, to_file: str = "model.png", show_shapes: bool = False, show_dtype: bool = False,
               show_layer_names: bool = False, rankdir: str = "TB", expand_nested: bool = False, dpi: int = 200,
               show_layer_activations: bool = False, show_trainable: bool = False, **kwargs) -> None:
    """Draw `model`'s graph to `to_file`, as `keras.utils.plot_model` (without pydot or Graphviz).

    Args:
        model: A Sequential or functional model (a nested model is one box), or a layer.
        to_file: The output; its extension picks the format: `.png`, `.svg`, or `.dot`/`.gv`
            (Graphviz source). Written atomically.
        show_shapes: Add the input and output shapes of each layer.
        show_dtype: Add each layer's output dtype.
        show_layer_names: Head each box with "name (Type)" instead of "Type".
        rankdir: "TB" (top to bottom) or "LR" (left to right).
        expand_nested: Accepted; nested models are drawn as one box.
        dpi: Sets the font scale of the PNG (200: twice the 5x7 font) and the DOT's `dpi`.
        show_layer_activations: Add the activation of layers that have one.
        show_trainable: Add a green "Trainable" or red "Non-trainable" cell to layers with weights.
        **kwargs: Keras's `layer_range` is refused as in Keras 3; anything else is an error.

    Returns:
        None (Keras returns an IPython `Image` in a notebook; tuinet only writes the file).
    """
    if kwargs.pop("layer_range", None) is not None:
        raise ConfigError("plot_model: layer_range is no longer supported (as in Keras 3)")
    if kwargs:
        raise ConfigError(f"plot_model: unexpected argument(s) {', '.join(sorted(kwargs))}")
    if rankdir not in ("TB", "LR"):
        raise ConfigError(f'plot_model: rankdir must be "TB" or "LR", got {rankdir!r}')
    path = Path(to_file)
    ext = path.suffix.lower()
    if ext not in _FORMATS:
        raise ConfigError(f"plot_model: cannot write {path.name!r}: supported extensions are "
                          f"{', '.join(_FORMATS)}")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or dpi <= 0:
        raise ConfigError(f"plot_model: dpi must be a positive number, got {dpi!r}")
    boxes, edges = _boxes(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                          show_layer_activations=show_layer_activations, show_trainable=show_trainable)
    scale = max(1, min(4, round(dpi / 100)))
    title = getattr(model, "name", "model")
    horizontal = rankdir == "LR"

    def error(exc: OSError) -> Exception:
        return ConfigError(f"plot_model: cannot write {str(path)!r}: {exc.strerror or exc}")

    if ext == ".png":
        allb, lines, w, h, s, note = _fit_png(boxes, edges, scale, rankdir)
        data = _render_png(allb, lines, w, h, s, horizontal, note)
        atomic_write(path, lambda f: f.write(data), error=error)
    elif ext == ".svg":
        allb, lines, w, h, _ = _layout(boxes, edges, scale, rankdir)
        text = _render_svg(allb, lines, w, h, scale, horizontal, title)
        atomic_write(path, lambda f: f.write(text), encoding="utf-8", error=error)
    else:
        text = _render_dot(boxes, edges, rankdir, dpi, title)
        atomic_write(path, lambda f: f.write(text), encoding="utf-8", error=error)
    return None

"""PDF reports (with a text layer) into the document model.

pdfplumber characters and ruling lines → ``TextBlock`` per paragraph and ``Grid`` per table fragment,
every block and cell with its page and bbox. Pure: no I/O besides the bytes given, no prefect.

Per page:

1. **Characters.** ``page.chars`` without whitespace and without white / light-grey text (hidden text,
   watermarks), deduplicated by the rule of ``page.dedupe_chars()`` (same text/font/size within 1 pt:
   fake bold drawn twice becomes one character) in O(n log n) instead of its quadratic re-sort.
   ``(cid:N)`` glyphs become U+FFFD so they can never parse as numbers. Text is kept raw (no NFKC).
2. **Rules.** Visible strokes only: stroked lines, stroked rectangles and thin filled rectangles. Filled
   areas (white text backgrounds as WPS draws them, coloured header shading) are not rules; diagonals
   are ignored.
3. **Ruled tables (lattice).** Rules are snapped and joined and grouped into connected components; a
   component with two or more columns becomes a grid of elementary cells between its rule positions,
   and elementary cells not separated by a rule are one ``Cell`` with rowspan/colspan (a merged label
   never repeats). A page frame or a title box (one cell, or one column) is not a table. A character
   belongs to the cell holding its centre; the lines of a cell are joined into one text (CJK without
   spaces). Empty cells in label columns are dropped; empty cells in value columns are kept (blanks).
4. **Unruled tables** (three-line tables, no rules at all): a run of lines with wide gaps and numbers
   becomes a ``Grid``. Rows are anchored on the lines with numbers; a wrapped label line joins the
   value row it belongs to (within a line pitch, the line above running to the edge of its column);
   text cells get columns ``0..L-1`` and values ``L + k``, ``k`` the x-cluster of the value, so header
   text never claims a value column. Clusters come from the values plus single-column headers (and
   the previous page's fragment), so blank cells of wide tables are filled in as empty cells. If a row
   puts two values in one cluster the grid is ``positional=False`` with the cells in order.
5. **Text.** Remaining characters form visual lines; page numbers (``- 3 -``, ``第3页``…) in the top or
   bottom margin are dropped. Wrapped lines of a paragraph (a line running to the right margin followed
   by one starting at the left margin, not a heading) are joined into one block, also over a page
   break, so that section headings are the only short blocks and an intro listing every section title
   cannot pass for a heading; a title wrapped over centred lines is one block too.

Across pages: lines recurring in the margins of half the pages (running headers) are dropped. A ruled
table continuing on the next page (last block of page p, first block of page p+1, same left and right
edges) gets one column system for all its fragments (the union of their rule positions), and a header
repeated on the continuation is dropped. A row cut by the page break stays two rows: the fragment on
the second page is a text-only row (label piece, empty value cells) for the mapper to join. Pages
without text (or a page-size image with a stamped page number) are ``needs_ocr`` problems.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import itertools
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.utils import PDFDocEncoding

from nianbao.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedPdfError,
    NeedsOcrError,
    PageLimitError,
    UnreadableFontError,
)
from nianbao.grammar import heading_section
from nianbao.model import Block, Cell, Document, Grid, Origin, ReaderProblem, TextBlock
from nianbao.normalize import normalize_label, parse_value

__all__ = ["read_pdf"]

T = TypeVar("T")

_CID = re.compile(r"^\(cid:\d+\)$")
_PAGE_CHROME = re.compile(
    r"^(?:[-—–－_~·]*\s*\d{1,4}\s*[-—–－_~·]*"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4}|(?:page|Page|PAGE)\s*\d{1,4}(?:\s*of\s*\d{1,4})?)$"
)
_MARGIN = 0.12  # page-number lines are looked for in the top / bottom 12 % of the page
_SNAP = 2.5  # rules closer than this (pt) are the same rule (a double border is one)
_JOIN = 3.0  # collinear rule pieces with gaps up to this are one rule
_TOUCH = 3.0  # a horizontal and a vertical rule this close touch
_THIN = 3.0  # a filled rectangle at most this thick is a rule
_MIN_RULE = 2.0
_SCAN_SHARE = 0.5  # images covering half the page ...
_SCAN_MAX_CHARS = 40  # ... with fewer characters than this (a stamped page number): a scan
_UNREADABLE_SHARE = 0.10  # pages with more (cid:N) glyphs than this share are not read at all


# --------------------------------------------------------------------------------------------
# Characters
# --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Ch:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def h(self) -> float:
        return max(self.bottom - self.top, 0.1)


def _cluster(items: Sequence[T], key: Callable[[T], float], tol: float) -> list[list[T]]:
    """Chain clustering: sorted by key, a new cluster starts where the gap to the previous exceeds tol."""
    out: list[list[T]] = []
    last = 0.0
    for it in sorted(items, key=key):
        v = key(it)
        if out and v - last <= tol:
            out[-1].append(it)
        else:
            out.append([it])
        last = v
    return out


def _dedupe(chars: list[dict[str, Any]], tol: float = 1.0) -> list[dict[str, Any]]:
    """Remove overprinted duplicates (fake bold): the rule of ``pdfplumber``'s ``dedupe_chars(tolerance=1)``
    (same upright/text/fontname/size, doctop and x0 within ``tol``: keep the first), in O(n log n)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, c in enumerate(chars):
        groups.setdefault((c.get("upright"), c["text"], c.get("fontname"), c.get("size")), []).append(i)
    keep: list[int] = []
    for idxs in groups.values():
        if len(idxs) == 1:
            keep.append(idxs[0])
            continue
        for ycl in _cluster(idxs, lambda i: float(chars[i]["doctop"]), tol):
            for xcl in _cluster(ycl, lambda i: float(chars[i]["x0"]), tol):
                keep.append(min(xcl, key=lambda i: (chars[i]["doctop"], chars[i]["x0"], i)))
    if len(keep) == len(chars):
        return chars
    keep.sort()
    return [chars[i] for i in keep]


def _is_cjk(ch: str) -> bool:
    o = ord(ch[0]) if ch else 0
    return (0x2E80 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF or 0x3000 <= o <= 0x303F
            or 0x20000 <= o <= 0x2FA1F or o in (0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2026, 0xFFFD))


def _join_chars(chars: Sequence[_Ch]) -> str:
    """Text of one visual line (chars sorted by x): CJK runs without spaces, a space for real gaps."""
    parts: list[str] = []
    prev: _Ch | None = None
    for c in chars:
        if prev is not None:
            gap = c.x0 - prev.x1
            size = min(c.size, prev.size) or 10.0
            if gap >= size or (gap > 0.2 * size and not _is_cjk(prev.text[-1]) and not _is_cjk(c.text[0])):
                parts.append(" ")
        parts.append(c.text)
        prev = c
    return "".join(parts)


def _join_lines(lines: Iterable[str]) -> str:
    """Wrapped lines of one cell into one text: no separator at CJK boundaries, else a space."""
    out = ""
    for ln in lines:
        if not ln:
            continue
        if out and not (_is_cjk(out[-1]) or _is_cjk(ln[0])):
            out += " "
        out += ln
    return out


def _group_lines(chars: Sequence[_Ch]) -> list[list[_Ch]]:
    """Group characters into visual lines (top to bottom), each sorted left to right."""
    lines: list[list[_Ch]] = []
    ref = 0.0
    tol = 0.0
    for c in sorted(chars, key=lambda c: c.cy):
        if lines and c.cy - ref <= tol:
            lines[-1].append(c)
            continue
        lines.append([c])
        ref = c.cy
        tol = 0.45 * c.h
    for ln in lines:
        ln.sort(key=lambda c: c.x0)
    return lines


def _bbox(chars: Iterable[_Ch]) -> tuple[float, float, float, float]:
    cs = list(chars)
    return (round(min(c.x0 for c in cs), 2), round(min(c.top for c in cs), 2),
            round(max(c.x1 for c in cs), 2), round(max(c.bottom for c in cs), 2))


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Rule:
    pos: float  # y of a horizontal rule, x of a vertical one
    a: float  # x0 / top
    b: float  # x1 / bottom


def _visible(color: Any) -> bool:
    """False for white (or no) paint; True for anything else, including patterns and unknown values."""
    if color is None:
        return True
    if isinstance(color, (int, float)):
        return float(color) < 0.95
    if isinstance(color, (tuple, list)):
        vals = [v for v in color if isinstance(v, (int, float))]
        if not vals:
            return True
        if len(vals) == 4:  # CMYK: white is all zero
            return max(vals) > 0.05
        return min(vals) < 0.95
    return True


def _page_rules(page: Any) -> tuple[list[_Rule], list[_Rule]]:
    """Visible horizontal and vertical rule segments of a page (top-down coordinates)."""
    hs: list[_Rule] = []
    vs: list[_Rule] = []

    def seg(x0: float, y0: float, x1: float, y1: float) -> None:
        if abs(y1 - y0) <= 1.0 and abs(x1 - x0) >= _MIN_RULE:
            hs.append(_Rule((y0 + y1) / 2, min(x0, x1), max(x0, x1)))
        elif abs(x1 - x0) <= 1.0 and abs(y1 - y0) >= _MIN_RULE:
            vs.append(_Rule((x0 + x1) / 2, min(y0, y1), max(y0, y1)))

    def thin_box(o: dict[str, Any]) -> None:
        x0, x1, top, bottom = float(o["x0"]), float(o["x1"]), float(o["top"]), float(o["bottom"])
        if bottom - top <= _THIN and x1 - x0 > bottom - top:
            seg(x0, (top + bottom) / 2, x1, (top + bottom) / 2)
        elif x1 - x0 <= _THIN and bottom - top > x1 - x0:
            seg((x0 + x1) / 2, top, (x0 + x1) / 2, bottom)

    def path_segments(o: dict[str, Any]) -> None:
        pts = o.get("pts") or []
        path = o.get("path")
        if path:
            start: tuple[float, float] | None = None
            cur: tuple[float, float] | None = None
            for cmd in path:
                op = cmd[0]
                if op == "m":
                    cur = start = (float(cmd[1][0]), float(cmd[1][1]))
                elif op == "l" and cur is not None:
                    nxt = (float(cmd[1][0]), float(cmd[1][1]))
                    seg(cur[0], cur[1], nxt[0], nxt[1])
                    cur = nxt
                elif op == "h" and cur is not None and start is not None:
                    seg(cur[0], cur[1], start[0], start[1])
                    cur = start
                elif op in ("c", "v", "y") and len(cmd) > 1:
                    cur = (float(cmd[-1][0]), float(cmd[-1][1]))
        else:
            for p, q in itertools.pairwise(pts):
                seg(float(p[0]), float(p[1]), float(q[0]), float(q[1]))

    for o in page.lines:
        if o.get("stroke", True) and _visible(o.get("stroking_color")):
            path_segments(o)
    for o in page.rects:
        if o.get("stroke") and _visible(o.get("stroking_color")):
            x0, x1, top, bottom = float(o["x0"]), float(o["x1"]), float(o["top"]), float(o["bottom"])
            if bottom - top <= _THIN or x1 - x0 <= _THIN:
                thin_box(o)
            else:
                seg(x0, top, x1, top)
                seg(x0, bottom, x1, bottom)
                seg(x0, top, x0, bottom)
                seg(x1, top, x1, bottom)
        elif o.get("fill") and _visible(o.get("non_stroking_color")):
            thin_box(o)
    for o in page.curves:
        if o.get("stroke") and _visible(o.get("stroking_color")):
            path_segments(o)
        elif o.get("fill") and _visible(o.get("non_stroking_color")):
            thin_box(o)
    return _merge_rules(hs), _merge_rules(vs)


def _merge_rules(rules: list[_Rule]) -> list[_Rule]:
    """Snap rules at nearly the same position together and join collinear pieces."""
    out: list[_Rule] = []
    for group in _cluster(rules, lambda r: r.pos, _SNAP):
        pos = statistics.fmean(r.pos for r in group)
        cur: _Rule | None = None
        for r in sorted(group, key=lambda r: r.a):
            if cur is not None and r.a <= cur.b + _JOIN:
                cur.b = max(cur.b, r.b)
            else:
                cur = _Rule(pos, r.a, r.b)
                out.append(cur)
    return out


# --------------------------------------------------------------------------------------------
# Ruled tables
# --------------------------------------------------------------------------------------------

@dataclass
class _LCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    bbox: tuple[float, float, float, float]
    chars: list[_Ch] = field(default_factory=list)


@dataclass
class _Lattice:
    xs: list[float]
    ys: list[float]
    cells: list[_LCell]
    where: list[list[int]]  # elementary (row, col) -> index into cells

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.xs[0], self.ys[0], self.xs[-1], self.ys[-1])

    def locate(self, x: float, y: float) -> _LCell | None:
        if not (self.xs[0] <= x <= self.xs[-1] and self.ys[0] <= y <= self.ys[-1]):
            return None
        j = min(max(bisect.bisect_right(self.xs, x) - 1, 0), len(self.xs) - 2)
        i = min(max(bisect.bisect_right(self.ys, y) - 1, 0), len(self.ys) - 2)
        return self.cells[self.where[i][j]]


class _UF:
    def __init__(self, n: int) -> None:
        self.p = list(range(n))

    def find(self, a: int) -> int:
        while self.p[a] != a:
            self.p[a] = self.p[self.p[a]]
            a = self.p[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)


def _covers(rules: list[_Rule], pos: float, a: float, b: float) -> bool:
    """True if rules at ``pos`` cover at least half of the span [a, b]."""
    need = (b - a) * 0.5
    got = 0.0
    for r in rules:
        if abs(r.pos - pos) <= _SNAP:
            got += max(0.0, min(r.b, b) - max(r.a, a))
    return got >= need


def _positions(values: Iterable[float]) -> list[float]:
    return [statistics.fmean(g) for g in _cluster(list(values), lambda v: v, _SNAP)]


def _lattices(hs: list[_Rule], vs: list[_Rule]) -> list[_Lattice]:
    """Ruled tables: connected rule components with at least two columns of cells."""
    if len(hs) < 2 or len(vs) < 2:
        return []
    n = len(hs) + len(vs)
    uf = _UF(n)
    vs_sorted = sorted(range(len(vs)), key=lambda k: vs[k].pos)
    vpos = [vs[k].pos for k in vs_sorted]
    for i, h in enumerate(hs):
        lo = bisect.bisect_left(vpos, h.a - _TOUCH)
        hi = bisect.bisect_right(vpos, h.b + _TOUCH)
        for k in vs_sorted[lo:hi]:
            v = vs[k]
            if v.a - _TOUCH <= h.pos <= v.b + _TOUCH:
                uf.union(i, len(hs) + k)
    comps: dict[int, tuple[list[_Rule], list[_Rule]]] = {}
    for i, h in enumerate(hs):
        comps.setdefault(uf.find(i), ([], []))[0].append(h)
    for k, v in enumerate(vs):
        comps.setdefault(uf.find(len(hs) + k), ([], []))[1].append(v)
    out: list[_Lattice] = []
    for chs, cvs in comps.values():
        if len(chs) < 2 or len(cvs) < 2:
            continue
        lat = _build_lattice(chs, cvs)
        if lat is not None:
            out.append(lat)
    out.sort(key=lambda t: (t.ys[0], t.xs[0]))
    return out


def _build_lattice(hs: list[_Rule], vs: list[_Rule]) -> _Lattice | None:
    left, right = min(h.a for h in hs), max(h.b for h in hs)
    top, bottom = min(v.a for v in vs), max(v.b for v in vs)
    # A vertical rule that starts or ends where no horizontal rule meets it marks a row boundary whose
    # rule is missing (e.g. under a header repeated on a new page): it divides the whole table.
    hs = list(hs)
    for v in vs:
        for y in (v.a, v.b):
            if top + _SNAP < y < bottom - _SNAP and not any(
                    abs(h.pos - y) <= _TOUCH and h.a - _TOUCH <= v.pos <= h.b + _TOUCH for h in hs):
                hs.append(_Rule(y, left, right))
    xs = _positions([v.pos for v in vs] + [left, right])
    ys = _positions([h.pos for h in hs] + [top, bottom])
    xs = [x for x in xs if left - _SNAP <= x <= right + _SNAP]
    ys = [y for y in ys if top - _SNAP <= y <= bottom + _SNAP]
    nr, nc = len(ys) - 1, len(xs) - 1
    if nr < 1 or nc < 2:
        return None
    uf = _UF(nr * nc)
    for i in range(nr):
        for j in range(nc - 1):  # vertical boundary between (i, j) and (i, j + 1)
            if not _covers(vs, xs[j + 1], ys[i], ys[i + 1]):
                uf.union(i * nc + j, i * nc + j + 1)
    for i in range(nr - 1):
        for j in range(nc):  # horizontal boundary between (i, j) and (i + 1, j)
            if not _covers(hs, ys[i + 1], xs[j], xs[j + 1]):
                uf.union(i * nc + j, (i + 1) * nc + j)
    groups: dict[int, list[tuple[int, int]]] = {}
    for i in range(nr):
        for j in range(nc):
            groups.setdefault(uf.find(i * nc + j), []).append((i, j))
    cells: list[_LCell] = []
    where = [[0] * nc for _ in range(nr)]
    for members in groups.values():
        r0, r1 = min(m[0] for m in members), max(m[0] for m in members)
        c0, c1 = min(m[1] for m in members), max(m[1] for m in members)
        if (r1 - r0 + 1) * (c1 - c0 + 1) == len(members):
            parts = [(r0, c0, r1 - r0 + 1, c1 - c0 + 1)]
        else:  # not a rectangle (a dangling rule): keep the elementary cells
            parts = [(i, j, 1, 1) for i, j in members]
        for r, c, rs, cs in parts:
            for i in range(r, r + rs):
                for j in range(c, c + cs):
                    where[i][j] = len(cells)
            cells.append(_LCell(r, c, rs, cs, (round(xs[c], 2), round(ys[r], 2), round(xs[c + cs], 2),
                                                round(ys[r + rs], 2))))
    # A frame, a title box or a one-column ruled list is not a table.
    if len(cells) < 2 or not any(len({where[i][j] for j in range(nc)}) >= 2 for i in range(nr)):
        return None
    return _Lattice(xs, ys, cells, where)


def _cell_text(chars: list[_Ch]) -> str:
    return _join_lines(_join_chars(ln) for ln in _group_lines(chars))


def _lattice_grid(lat: _Lattice, page_no: int) -> Grid:
    cells = [Cell(_cell_text(c.chars), c.row, c.col, c.rowspan, c.colspan, Origin(page=page_no, bbox=c.bbox))
             for c in sorted(lat.cells, key=lambda c: (c.row, c.col))]
    return Grid(cells=_drop_label_blanks(cells), origin=Origin(page=page_no, bbox=_round4(lat.bbox)),
                positional=True)


def _round4(b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    return (round(b[0], 2), round(b[1], 2), round(b[2], 2), round(b[3], 2))


def _is_value(text: str) -> bool:
    return parse_value(text).kind in ("number", "not_applicable")


def _drop_label_blanks(cells: list[Cell]) -> list[Cell]:
    """Drop empty cells in label columns (columns where rows with values print text): they are empty
    label slots (e.g. a (六) row whose third label column is empty), not blank values."""
    value_rows = {r for c in cells if c.text.strip() and _is_value(c.text) for r in range(c.row, c.row + c.rowspan)}
    label_cols = {k for c in cells if c.text.strip() and not _is_value(c.text)
                  and any(r in value_rows for r in range(c.row, c.row + c.rowspan))
                  for k in range(c.col, c.col + c.colspan)}
    return [c for c in cells if c.text.strip() or not all(k in label_cols for k in range(c.col, c.col + c.colspan))]


# --------------------------------------------------------------------------------------------
# Text lines and unruled tables
# --------------------------------------------------------------------------------------------

@dataclass
class _Seg:
    chars: list[_Ch]
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    value: bool


@dataclass
class _Line:
    chars: list[_Ch]
    segs: list[_Seg]
    text: str
    top: float
    bottom: float
    size: float

    @property
    def cy(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def x0(self) -> float:
        return self.segs[0].x0

    @property
    def x1(self) -> float:
        return self.segs[-1].x1


def _make_line(chars: list[_Ch]) -> _Line:
    size = statistics.median(c.size for c in chars) or 10.0
    segs: list[list[_Ch]] = [[chars[0]]]
    for c in chars[1:]:
        prev = segs[-1][-1]
        if c.x0 - prev.x1 >= max(0.6 * min(c.size, prev.size), 3.0):
            segs.append([c])
        else:
            segs[-1].append(c)
    out = []
    for s in segs:
        t = _join_chars(s)
        b = _bbox(s)
        out.append(_Seg(s, t, b[0], b[2], b[1], b[3], _is_value(t)))
    b = _bbox(chars)
    return _Line(chars, out, _join_chars(chars), b[1], b[3], size)


def _is_chrome(line: _Line, height: float) -> bool:
    in_margin = line.bottom < height * _MARGIN or line.top > height * (1 - _MARGIN)
    return in_margin and bool(_PAGE_CHROME.match(line.text.strip()))


@dataclass
class _Region:
    lines: list[_Line]


def _table_like(line: _Line) -> bool:
    return len(line.segs) >= 2


def _first_value_x(line: _Line) -> float | None:
    return next((s.x0 for s in line.segs if s.value), None) if len(line.segs) >= 2 else None


def _short_filler(line: _Line, max_len: int = 16) -> bool:
    t = line.text.strip()
    return len(t) <= max_len and not t.endswith(("。", "；", ";")) and heading_section(t) is None


def _regions(lines: list[_Line]) -> list[_Region]:
    """Runs of table-like lines (several cells, numbers) among prose lines."""
    out: list[_Region] = []
    i, n = 0, len(lines)
    while i < n:
        if not _table_like(lines[i]):
            i += 1
            continue
        run = [lines[i]]
        j = i + 1
        pending: list[_Line] = []
        val_x = _first_value_x(lines[i])
        while j < n:
            ln = lines[j]
            gap = ln.top - (pending[-1] if pending else run[-1]).bottom
            if gap > 3.0 * max(ln.size, run[-1].size):
                break
            if _table_like(ln):
                run.extend(pending)
                pending = []
                run.append(ln)
                x = _first_value_x(ln)
                if x is not None:
                    val_x = x if val_x is None else min(val_x, x)
            elif len(pending) < 6 and (_short_filler(ln) or (
                    val_x is not None and ln.x1 <= val_x + 1.0 and _short_filler(ln, 60))):
                pending.append(ln)  # a wrapped label or a group label: kept if the table goes on
            else:
                break
            j += 1
        # The wrapped end of the last row's label may follow the last table-like line.
        while (pending and val_x is not None and pending[0].x1 <= val_x + 1.0
               and pending[0].top - run[-1].bottom <= pending[0].size):
            run.append(pending.pop(0))
        value_lines = [ln for ln in run if any(s.value for s in ln.segs)]
        if len(value_lines) >= 2 or any(sum(s.value for s in ln.segs) >= (4 if len(run) < 3 else 3)
                                        for ln in value_lines):
            out.append(_Region(run))
            i = j - len(pending)
        else:
            i += 1
    return out


def _x_groups(segs: list[_Seg]) -> list[list[_Seg]]:
    """Group text segments whose x ranges overlap (the lines of one label cell)."""
    groups: list[list[_Seg]] = []
    right = -1e9
    for s in sorted(segs, key=lambda s: s.x0):
        if groups and s.x0 < right - 1.0:
            groups[-1].append(s)
            right = max(right, s.x1)
        else:
            groups.append([s])
            right = s.x1
    return groups


def _cy(sg: _Seg) -> float:
    return (sg.top + sg.bottom) / 2


def _overlaps(a: _Seg, b: _Seg) -> bool:
    return a.x0 < b.x1 - 1.0 and b.x0 < a.x1 - 1.0


def _region_grid(reg: _Region, page_no: int, known_cols: Sequence[float] = ()) -> tuple[Grid, list[float]]:
    """Grid of an unruled table, and the x centres of its value columns (``known_cols``: those of the
    fragment on the previous page, when this one continues it)."""
    lines = reg.lines
    value_lines = [ln for ln in lines if any(s.value for s in ln.segs)]
    first_val_x = min(s.x0 for ln in value_lines for s in ln.segs if s.value)
    size = statistics.median(ln.size for ln in lines)
    label_segs = [s for ln in lines for s in ln.segs if not s.value and s.x1 <= first_val_x + 1.0]

    def full(upper: list[_Seg], lower: list[_Seg]) -> bool:
        """The upper line runs to the right edge of its label column above ``lower``: ``lower`` may be
        its wrapped continuation (a short label such as 行政处罚 is not continued by 行政强制)."""
        rel = [u for u in upper if any(_overlaps(u, w) for w in lower)]
        if not rel:
            return False
        right = max(t.x1 for t in label_segs if any(_overlaps(t, u) for u in rel))
        return max(u.x1 for u in rel) >= right - 1.5 * size

    # Rows: one per value line. A text piece in the label area joins the nearest value row when it is
    # a wrapped part of that row's label (within a line pitch, the piece above running to the edge of
    # its column); any other piece stays in a row of its own (its line).
    rows: list[tuple[float, list[_Seg], list[_Seg]]] = []  # (y, text segs, value segs)
    for ln in value_lines:
        first_value = next(k for k, sg in enumerate(ln.segs) if sg.value)
        rows.append((ln.cy, list(ln.segs[:first_value]), list(ln.segs[first_value:])))
    centers = [r[0] for r in rows]
    free = [sg for ln in lines if not any(t.value for t in ln.segs) for sg in ln.segs if sg.x1 <= first_val_x + 1.0]
    step = 1.45 * size
    claims: dict[int, tuple[float, int, _Seg]] = {}  # id(seg) -> (distance, row, seg)

    def claim(sg: _Seg, dist: float, k: int) -> None:
        old = claims.get(id(sg))
        if old is None or (dist, abs(centers[k] - _cy(sg))) < (old[0], abs(centers[old[1]] - _cy(sg))):
            claims[id(sg)] = (dist, k, sg)

    for k, (cy, own, _) in enumerate(rows):
        lo = centers[k - 1] if k > 0 else -1e9
        hi = centers[k + 1] if k + 1 < len(centers) else 1e9
        chain = list(own)
        for sg in sorted((sg for sg in free if lo < _cy(sg) < cy), key=lambda sg: -_cy(sg)):
            lower = [t for t in chain if _overlaps(t, sg)]
            ref = min((_cy(t) for t in lower), default=cy)
            if ref - _cy(sg) <= step and (not lower or full([sg], [t for t in lower if _cy(t) == ref])):
                chain.append(sg)
                claim(sg, ref - _cy(sg), k)
        for sg in sorted((sg for sg in free if cy <= _cy(sg) < hi), key=_cy):
            upper = [t for t in chain if _overlaps(t, sg)]
            ref = max((_cy(t) for t in upper), default=cy)
            if _cy(sg) - ref <= step and (not upper or full([t for t in upper if _cy(t) == ref], [sg])):
                chain.append(sg)
                claim(sg, _cy(sg) - ref, k)
    for _, k, sg in claims.values():
        rows[k][1].append(sg)
    taken = set(claims)
    others: list[tuple[float, list[_Seg], list[_Seg]]] = []
    for ln in lines:
        if any(sg.value for sg in ln.segs):
            continue
        rest = [sg for sg in ln.segs if id(sg) not in taken]
        if rest:
            others.append((ln.cy, rest, []))
    all_rows = sorted(rows + others, key=lambda r: r[0])
    # Value columns: cluster the value positions (centre, left or right edge, whichever is tightest).
    vsegs = [sg for _, _, vals in all_rows for sg in vals]
    tol = max(2.0, 0.35 * size)
    anchors: list[Callable[[_Seg], float]] = [lambda sg: (sg.x0 + sg.x1) / 2, lambda sg: sg.x1, lambda sg: sg.x0]
    best_k, best_clusters = 0, _cluster(vsegs, anchors[0], tol)
    for k, fn in enumerate(anchors[1:], 1):
        cl = _cluster(vsegs, fn, tol)
        if len(cl) < len(best_clusters):
            best_k, best_clusters = k, cl
    clusters = best_clusters
    heads: list[_Seg] = []
    if best_k == 0:
        # Centred values: column headers above the first value row that span one column only (and the
        # columns of the fragment on the previous page) mark columns that are blank in every row.
        accepted = [statistics.fmean(anchors[0](sg) for sg in cl) for cl in clusters] + list(known_cols)
        heads = [_Seg([], "", x, x, 0.0, 0.0, False) for x in known_cols]
        label_right = max((sg.x1 for _, texts, vals in all_rows if vals for sg in texts), default=-1e9)
        cand = sorted((sg for y, texts, vals in all_rows if not vals and y < centers[0] for sg in texts
                       if sg.x0 >= label_right - 1.0), key=lambda sg: sg.x1 - sg.x0)
        for sg in cand:
            mid = (sg.x0 + sg.x1) / 2
            if not any(sg.x0 < x < sg.x1 and abs(x - mid) > tol for x in accepted):
                heads.append(sg)
                accepted.append(mid)
        if heads:
            clusters = _cluster(vsegs + heads, anchors[0], tol)
    headed = {k for k, cl in enumerate(clusters) if any(not sg.value for sg in cl)}
    cluster_of = {id(sg): k for k, cl in enumerate(clusters) for sg in cl}
    col_x = {k: (min(sg.x0 for sg in cl), max(sg.x1 for sg in cl)) for k, cl in enumerate(clusters)}
    n_cols = len(clusters)
    positional = True
    for _, _, vals in all_rows:
        ks = [cluster_of[id(sg)] for sg in vals]
        if any(b <= a for a, b in itertools.pairwise(ks)):
            positional = False
    offset = max(max((len(_x_groups(t)) for _, t, _ in all_rows), default=0), 1)
    cells: list[Cell] = []
    for r, (_, texts, vals) in enumerate(all_rows):
        for c, grp in enumerate(_x_groups(texts)):
            grp.sort(key=lambda sg: (sg.top, sg.x0))
            chars = [ch for sg in grp for ch in sg.chars]
            cells.append(Cell(_join_lines(sg.text for sg in grp), r, c, origin=Origin(page=page_no, bbox=_bbox(chars))))
        if not positional:
            for k, sg in enumerate(vals):
                cells.append(Cell(sg.text, r, offset + k, origin=Origin(page=page_no, bbox=_bbox(sg.chars))))
            continue
        ks = [cluster_of[id(sg)] for sg in vals]
        for sg, k in zip(vals, ks):
            cells.append(Cell(sg.text, r, offset + k, origin=Origin(page=page_no, bbox=_bbox(sg.chars))))
        if n_cols >= 5 and vals and len(vals) < n_cols and (2 * len(vals) >= n_cols or len(headed) == n_cols):
            # A near-full row of a wide table (or one whose every column has a header): the columns it
            # lacks are printed blank.
            top = min(sg.top for sg in vals)
            bottom = max(sg.bottom for sg in vals)
            for k in sorted(set(range(n_cols)) - set(ks)):
                cells.append(Cell("", r, offset + k, origin=Origin(
                    page=page_no, bbox=(round(col_x[k][0], 2), top, round(col_x[k][1], 2), bottom))))
    cells.sort(key=lambda c: (c.row, c.col))
    all_chars = [ch for ln in lines for ch in ln.chars]
    col_centers = [statistics.fmean(anchors[0](sg) for sg in cl) for cl in clusters] if best_k == 0 else []
    return Grid(cells=cells, origin=Origin(page=page_no, bbox=_bbox(all_chars)), positional=positional), col_centers


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------

@dataclass
class _Para:
    """Consecutive visual lines of one paragraph (or of a multi-line centred title); a paragraph running
    on to the next page keeps the page, line number and bbox of its first page."""

    lines: list[_Line]
    page: int
    line_no: int
    n_first_page: int = 0  # lines on the first page, once the paragraph has run on to the next
    last_page: int = 0

    def block(self) -> TextBlock:
        first = self.lines[:self.n_first_page or len(self.lines)]
        return TextBlock(_join_lines(ln.text for ln in self.lines),
                         Origin(page=self.page, line=self.line_no, bbox=_bbox(c for ln in first for c in ln.chars)))


@dataclass(frozen=True)
class _Metrics:
    left: float
    right: float
    body: float


def _metrics(lines: list[_Line]) -> _Metrics:
    if not lines:
        return _Metrics(0.0, 0.0, 10.0)
    body = statistics.median(ln.size for ln in lines)
    long = [ln for ln in lines if len(ln.chars) >= 8 and abs(ln.size - body) <= 1.0] or lines
    return _Metrics(min(ln.x0 for ln in long), statistics.median(ln.x1 for ln in long), body)


_HEADING_START = re.compile(r"^\s*(?:[（(]\s*)?(?:[一二三四五六七八九十]+|\d{1,2})\s*[、.．）)]")


def _opens(prev: _Line, m: _Metrics) -> bool:
    """The line runs to the right margin: the paragraph may go on."""
    return prev.x1 >= m.right - 2.0 * prev.size


def _continues(cur: _Line, m: _Metrics) -> bool:
    """The line starts at the left margin and is not a heading: it may continue a paragraph."""
    return cur.x0 <= m.left + 0.6 * cur.size and not (
        _HEADING_START.match(cur.text) and heading_section(cur.text) is not None)


def _joins(prev: _Line, cur: _Line, m: _Metrics) -> bool:
    gap = cur.top - prev.bottom
    if not (-0.3 * cur.size <= gap <= 1.0 * max(cur.size, prev.size)) or abs(prev.size - cur.size) > 0.6:
        return False
    if _opens(prev, m) and _continues(cur, m):
        return True
    # A title wrapped over centred lines (larger than the body text).
    return (cur.size >= 1.15 * m.body and abs((prev.x0 + prev.x1) / 2 - (cur.x0 + cur.x1) / 2) <= 0.6 * cur.size
            and cur.x0 > m.left + cur.size)


@dataclass
class _PageOut:
    page_no: int
    blocks: list[tuple[float, Grid | _Line]]  # in reading order; prose still as visual lines
    lattices: dict[int, _Lattice]  # id(grid) -> lattice it came from
    problems: list[ReaderProblem]
    text: bool  # the page had a usable text layer
    height: float = 842.0
    carry: list[float] = field(default_factory=list)  # value columns of an unruled table ending the page


_DEVICE_SPACES = ("DeviceGray", "DeviceRGB", "DeviceCMYK", "CalGray", "CalRGB")


def _faint(c: dict[str, Any]) -> bool:
    """White or light-grey text (hidden text, watermarks) in a device colour space."""
    ncs = str(c.get("ncs") or "")
    if not any(d in ncs for d in _DEVICE_SPACES):
        return False
    col = c.get("non_stroking_color")
    vals = [float(v) for v in col if isinstance(v, (int, float))] if isinstance(col, (tuple, list)) else (
        [float(col)] if isinstance(col, (int, float)) else [])
    if not vals:
        return False
    if "CMYK" in ncs or len(vals) == 4:
        return max(vals) <= 0.2
    return min(vals) >= 0.8


def _read_page(page: Any, page_no: int, carry: Sequence[float] = ()) -> _PageOut:
    """Read one page; ``carry``: value-column centres of an unruled table ending the previous page."""
    raw = [c for c in page.chars if c["text"].strip() and not _faint(c)]
    problems: list[ReaderProblem] = []
    area = float(page.width) * float(page.height)
    scanned = sum(max(0.0, float(i["x1"]) - float(i["x0"])) * max(0.0, float(i["bottom"]) - float(i["top"]))
                  for i in page.images) >= _SCAN_SHARE * area if page.images else False
    if not raw or (scanned and len(raw) < _SCAN_MAX_CHARS):
        if raw or page.images or page.curves or page.rects:
            what = "no text layer" if not raw else f"a page-size image and only {len(raw)} characters of text"
            problems.append(ReaderProblem("needs_ocr", f"page {page_no} has {what} (a scan?)", page_no))
        return _PageOut(page_no, [], {}, problems, False, float(page.height))
    raw = _dedupe(raw)
    n_cid = sum(1 for c in raw if _CID.match(c["text"]))
    if n_cid:
        if n_cid > _UNREADABLE_SHARE * len(raw):
            problems.append(ReaderProblem(
                "unreadable_font", f"page {page_no}: {n_cid} of {len(raw)} glyphs have no Unicode mapping "
                "((cid:N)); the page is not read", page_no))
            return _PageOut(page_no, [], {}, problems, False, float(page.height))
        problems.append(ReaderProblem(
            "unreadable_font", f"page {page_no}: {n_cid} glyphs have no Unicode mapping ((cid:N)); "
            "they read as U+FFFD", page_no))
    chars = [_Ch("\ufffd" if _CID.match(c["text"]) else c["text"], float(c["x0"]), float(c["x1"]),
                 float(c["top"]), float(c["bottom"]), float(c.get("size") or 0.0) or 10.0) for c in raw]
    hs, vs = _page_rules(page)
    return layout_page(chars, hs, vs, page_no, float(page.height), problems, carry)


def layout_page(chars: list[_Ch], hs: list[_Rule], vs: list[_Rule], page_no: int, height: float,
                problems: list[ReaderProblem], carry: Sequence[float] = ()) -> _PageOut:
    """Given a page's characters and merged rules (points, top-down), return its tables and lines in
    reading order. Shared with the OCR reader, which makes characters and rules from an image."""
    lats = _lattices(hs, vs)
    rest: list[_Ch] = []
    for c in chars:
        cx, cy = c.cx, c.cy
        for lat in lats:
            cell = lat.locate(cx, cy)
            if cell is not None:
                cell.chars.append(c)
                break
        else:
            rest.append(c)
    items: list[tuple[float, Grid | _Line]] = []
    lat_of: dict[int, _Lattice] = {}
    for lat in lats:
        if not any(c.chars for c in lat.cells):
            continue
        g = _lattice_grid(lat, page_no)
        lat_of[id(g)] = lat
        items.append((lat.ys[0], g))
    lines = [_make_line(ln) for ln in _group_lines(rest)]
    lines = [ln for ln in lines if not _is_chrome(ln, height)]
    used: set[int] = set()
    last_cols: list[float] = []
    first_top = min((t for t, _ in items), default=1e9)
    for reg in _regions(lines):
        top = reg.lines[0].top
        continues = top < first_top and not any(ln.top < top for ln in lines)
        g, last_cols = _region_grid(reg, page_no, carry if continues else ())
        items.append((top, g))
        used.update(id(ln) for ln in reg.lines)
    prose = [ln for ln in lines if id(ln) not in used]
    items.extend((ln.top, ln) for ln in prose)
    items.sort(key=lambda it: it[0])
    po = _PageOut(page_no, items, lat_of, problems, True, height)
    if items and isinstance(items[-1][1], Grid) and id(items[-1][1]) not in lat_of:
        po.carry = last_cols
    return po


def _drop_running_lines(pages: list[_PageOut]) -> None:
    """Drop running headers and footers: lines in the top or bottom margin whose text (digits aside)
    recurs on at least half of the pages with text (and on two or more)."""
    def key(ln: _Line) -> str:
        return re.sub(r"\d+", "#", normalize_label(ln.text))

    def in_margin(ln: _Line, po: _PageOut) -> bool:
        return ln.bottom < po.height * _MARGIN or ln.top > po.height * (1 - _MARGIN)

    seen: dict[str, set[int]] = {}
    for po in pages:
        for _, b in po.blocks:
            if isinstance(b, _Line) and in_margin(b, po):
                seen.setdefault(key(b), set()).add(po.page_no)
    n = sum(po.text for po in pages)
    running = {k for k, pgs in seen.items() if k and len(pgs) >= 2 and 2 * len(pgs) >= n}
    if running:
        for po in pages:
            po.blocks = [(t, b) for t, b in po.blocks
                         if not (isinstance(b, _Line) and in_margin(b, po) and key(b) in running)]


def _blocks(pages: list[_PageOut]) -> list[Block]:
    """The document's blocks: grids as they are, visual lines joined into paragraphs (a paragraph may
    run on to the next page). Margins and body size are measured on the whole document."""
    m = _metrics([b for po in pages for _, b in po.blocks if isinstance(b, _Line)])
    out: list[Grid | _Para] = []
    for po in pages:
        line_no = 0
        for i, (_, b) in enumerate(po.blocks):
            if isinstance(b, Grid):
                out.append(b)
                continue
            line_no += 1
            last = out[-1] if out else None
            same_page = isinstance(last, _Para) and last.last_page == po.page_no and _joins(last.lines[-1], b, m)
            next_page = (isinstance(last, _Para) and i == 0 and last.page == po.page_no - 1 and not last.n_first_page
                         and _opens(last.lines[-1], m) and _continues(b, m)
                         and abs(last.lines[-1].size - b.size) <= 0.6)
            if isinstance(last, _Para) and (same_page or next_page):
                if last.last_page != po.page_no:
                    last.n_first_page = len(last.lines)
                    last.last_page = po.page_no
                last.lines.append(b)
            else:
                out.append(_Para([b], po.page_no, line_no, last_page=po.page_no))
    return [b.block() if isinstance(b, _Para) else b for b in out]


# --------------------------------------------------------------------------------------------
# Tables across pages
# --------------------------------------------------------------------------------------------

def _row_signature(grid: Grid, row: int) -> tuple[tuple[int, int, str], ...]:
    return tuple(sorted((c.col, c.colspan, normalize_label(c.text)) for c in grid.cells if c.row == row))


def _header_rows(grid: Grid) -> int:
    """Number of leading rows without any value."""
    first = min((c.row for c in grid.cells if c.text.strip() and _is_value(c.text)), default=grid.n_rows)
    return first


def _ruled_grid(po: _PageOut, k: int) -> tuple[Grid, _Lattice] | None:
    """The ruled grid at block ``k`` of a page (0 first, -1 last), if that block is one."""
    if not po.blocks:
        return None
    b = po.blocks[k][1]
    if isinstance(b, Grid) and id(b) in po.lattices:
        return b, po.lattices[id(b)]
    return None


def _link_continuations(pages: list[_PageOut]) -> None:
    """Give a ruled table continued over pages one column system and drop repeated headers.

    A table continues when it is the last block of a page and a ruled table with the same left and
    right edges is the first block of the next page.
    """
    chains: list[list[tuple[Grid, _Lattice]]] = []
    for a, b in itertools.pairwise(pages):
        last, first = _ruled_grid(a, -1), _ruled_grid(b, 0)
        if last is None or first is None:
            continue
        if abs(last[1].xs[0] - first[1].xs[0]) > _JOIN or abs(last[1].xs[-1] - first[1].xs[-1]) > _JOIN:
            continue
        if not chains or chains[-1][-1][0] is not last[0]:
            chains.append([last])
        chains[-1].append(first)
    for chain in chains:
        xs = _positions(x for _, lat in chain for x in lat.xs)

        def col_of(x: float, xs: list[float] = xs) -> int:
            return min(range(len(xs)), key=lambda m: abs(xs[m] - x))

        for g, lat in chain:
            new = []
            for c in g.cells:
                c0, c1 = col_of(lat.xs[c.col]), col_of(lat.xs[c.col + c.colspan])
                new.append(Cell(c.text, c.row, c0, c.rowspan, max(c1 - c0, 1), c.origin))
            g.cells = new
        head = chain[0][0]
        head_sigs = [_row_signature(head, r) for r in range(_header_rows(head))]
        for g, _ in chain[1:]:
            k = 0
            while (k < len(head_sigs) and k < g.n_rows and _row_signature(g, k) == head_sigs[k]
                   and any(sig[2] for sig in head_sigs[k])):
                k += 1
            if k and k < g.n_rows and not any(c.row < k < c.row + c.rowspan for c in g.cells):
                g.cells = [Cell(c.text, c.row - k, c.col, c.rowspan, c.colspan, c.origin)
                           for c in g.cells if c.row >= k]


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

_PDFDOC_BYTES: dict[str, int] = {}
for _i, _c in enumerate(PDFDocEncoding):
    _PDFDOC_BYTES.setdefault(_c, _i)


def _meta_text(v: Any) -> str | None:
    """A document-info string; UTF-16LE with a BOM (WPS writes it, pdfminer reads it as PDFDocEncoding)
    is decoded."""
    if not isinstance(v, str) or not v.strip():
        return None
    s = v
    if s.startswith(("\u00ff\u00fe", "\u00fe\u00ff")):
        try:
            s = bytes(_PDFDOC_BYTES[c] for c in s).decode("utf-16")
        except (KeyError, UnicodeDecodeError):
            return None
    s = s.strip("\x00").strip()
    return s or None


def _open(data: bytes, source: str, password: str | None) -> Any:
    try:
        return pdfplumber.open(io.BytesIO(data), password=password or "")
    except Exception as exc:  # pdfplumber wraps pdfminer errors in PdfminerException
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
        if isinstance(inner, (PDFPasswordIncorrect, PDFEncryptionError)) or isinstance(
                exc, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise EncryptedPdfError("the PDF is encrypted" + (" and the password is wrong" if password else ""),
                                    source=source) from exc
        raise CorruptFileError(f"the PDF cannot be parsed ({type(inner).__name__}: {inner})", source=source) from exc


def read_pdf(data: bytes, source: str = "", *, max_pages: int = 500, password: str | None = None) -> Document:
    """Given the bytes of a PDF, return its document model (text lines and table grids, page by page).

    Raises ``EmptyFileError``, ``CorruptFileError`` (truncated, not a PDF), ``EncryptedPdfError``,
    ``PageLimitError`` (more than ``max_pages``), ``NeedsOcrError`` (no page has a text layer) and
    ``UnreadableFontError`` (every page with text has unmapped ``(cid:N)`` glyphs). Single unreadable
    pages are reported as ``ReaderProblem`` (``needs_ocr`` / ``unreadable_font``) and yield no blocks.
    """
    if not data:
        raise EmptyFileError("the PDF is empty (0 bytes)", source=source)
    if b"%PDF-" not in data[:1024]:
        raise CorruptFileError("not a PDF (no %PDF- header)", source=source)
    pdf = _open(data, source, password)
    try:
        try:
            pages = pdf.pages
        except Exception as exc:
            inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
            raise CorruptFileError(f"the PDF's page tree cannot be read ({type(inner).__name__})",
                                   source=source) from exc
        n_pages = len(pages)
        if n_pages == 0:
            raise CorruptFileError("the PDF has no pages (truncated?)", source=source)
        if n_pages > max_pages:
            raise PageLimitError(f"the PDF has {n_pages} pages, more than max_pages={max_pages}", source=source)
        outs: list[_PageOut] = []
        problems: list[ReaderProblem] = []
        for page in pages:
            try:
                po = _read_page(page, page.page_number, outs[-1].carry if outs else ())
            except Exception as exc:  # a damaged content stream: the page is lost, the rest is kept
                problem = ReaderProblem("corrupt_page", f"page {page.page_number} cannot be read "
                                        f"({type(exc).__name__}: {exc})", page.page_number)
                po = _PageOut(page.page_number, [], {}, [problem], False)
            finally:
                page.close()
            outs.append(po)
            problems.extend(po.problems)
        title = _meta_text(pdf.metadata.get("Title"))
    finally:
        with contextlib.suppress(Exception):
            pdf.close()
    if not any(po.text for po in outs):
        codes = {p.code for p in problems}
        if "corrupt_page" in codes and not codes - {"corrupt_page"}:
            raise CorruptFileError("no page of the PDF can be read", source=source)
        if "unreadable_font" in codes:
            raise UnreadableFontError("no page has text with a usable Unicode mapping", source=source,
                                      page=next(p.page for p in problems if p.code == "unreadable_font"))
        raise NeedsOcrError("no page of the PDF has a text layer", source=source)
    return assemble(outs, title, problems, n_pages)


def assemble(outs: list[_PageOut], title: str | None, problems: list[ReaderProblem], n_pages: int,
             ocr: bool = False) -> Document:
    """Given the laid-out pages, drop running lines, join tables over pages and return the document."""
    _drop_running_lines(outs)
    _link_continuations(outs)
    blocks = _blocks(outs)
    return Document(blocks=blocks, source_format="pdf", title_hint=title, problems=problems, page_count=n_pages,
                    ocr=ocr)

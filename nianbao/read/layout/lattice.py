"""Ruling lines and ruled tables (lattices).

Rules are snapped and joined (``merge_rules``) and grouped into connected components
(``find_lattices``); a component with two or more columns becomes a grid of elementary cells between
its rule positions, and elementary cells not separated by a rule are one cell with rowspan/colspan (a
merged label never repeats). A page frame or a title box (one cell, or one column) is not a table. A
character belongs to the cell holding its centre; the lines of a cell are joined into one text.
Empty cells in label columns are dropped; empty cells in value columns are kept (blanks).
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

from nianbao.model import Cell, Grid, Origin
from nianbao.normalize import parse_value
from nianbao.read.layout.chars import Char, cluster, group_lines, join_chars, join_lines

__all__ = ["JOIN", "SNAP", "TOUCH", "Lattice", "LatticeCell", "Rule", "find_lattices", "is_value", "lattice_grid",
           "merge_rules", "snap_positions"]

SNAP = 2.5  # rules closer than this (pt) are the same rule (a double border is one)
JOIN = 3.0  # collinear rule pieces with gaps up to this are one rule
TOUCH = 3.0  # a horizontal and a vertical rule this close touch


@dataclass(slots=True)
class Rule:
    """A ruling line: its position across (y of a horizontal rule, x of a vertical one) and its extent
    along it (from ``a`` to ``b``), in points, top-down."""

    pos: float  # y of a horizontal rule, x of a vertical one
    a: float  # x0 / top
    b: float  # x1 / bottom



def merge_rules(rules: list[Rule]) -> list[Rule]:
    """Snap rules at nearly the same position together and join collinear pieces."""
    out: list[Rule] = []
    for group in cluster(rules, lambda r: r.pos, SNAP):
        pos = statistics.fmean(r.pos for r in group)
        cur: Rule | None = None
        for r in sorted(group, key=lambda r: r.a):
            if cur is not None and r.a <= cur.b + JOIN:
                cur.b = max(cur.b, r.b)
            else:
                cur = Rule(pos, r.a, r.b)
                out.append(cur)
    return out


# --------------------------------------------------------------------------------------------
# Ruled tables
# --------------------------------------------------------------------------------------------

@dataclass
class LatticeCell:
    """A cell of a ruled table: grid position and spans, bbox (points) and the characters it holds."""

    row: int
    col: int
    rowspan: int
    colspan: int
    bbox: tuple[float, float, float, float]
    chars: list[Char] = field(default_factory=list)


@dataclass
class Lattice:
    """A ruled table: the rule positions (``xs`` left to right, ``ys`` top to bottom), its cells and, per
    elementary (row, col), the index of the cell covering it."""

    xs: list[float]
    ys: list[float]
    cells: list[LatticeCell]
    where: list[list[int]]  # elementary (row, col) -> index into cells

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.xs[0], self.ys[0], self.xs[-1], self.ys[-1])

    def locate(self, x: float, y: float) -> LatticeCell | None:
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


def _covers(rules: list[Rule], pos: float, a: float, b: float) -> bool:
    """True if rules at ``pos`` cover at least half of the span [a, b]."""
    need = (b - a) * 0.5
    got = 0.0
    for r in rules:
        if abs(r.pos - pos) <= SNAP:
            got += max(0.0, min(r.b, b) - max(r.a, a))
    return got >= need


def snap_positions(values: Iterable[float]) -> list[float]:
    """Positions closer than ``SNAP`` are one: the mean of each chain cluster, in order."""
    return [statistics.fmean(g) for g in cluster(list(values), lambda v: v, SNAP)]


def find_lattices(hs: list[Rule], vs: list[Rule]) -> list[Lattice]:
    """Ruled tables: connected rule components with at least two columns of cells."""
    if len(hs) < 2 or len(vs) < 2:
        return []
    n = len(hs) + len(vs)
    uf = _UF(n)
    vs_sorted = sorted(range(len(vs)), key=lambda k: vs[k].pos)
    vpos = [vs[k].pos for k in vs_sorted]
    for i, h in enumerate(hs):
        lo = bisect.bisect_left(vpos, h.a - TOUCH)
        hi = bisect.bisect_right(vpos, h.b + TOUCH)
        for k in vs_sorted[lo:hi]:
            v = vs[k]
            if v.a - TOUCH <= h.pos <= v.b + TOUCH:
                uf.union(i, len(hs) + k)
    comps: dict[int, tuple[list[Rule], list[Rule]]] = {}
    for i, h in enumerate(hs):
        comps.setdefault(uf.find(i), ([], []))[0].append(h)
    for k, v in enumerate(vs):
        comps.setdefault(uf.find(len(hs) + k), ([], []))[1].append(v)
    out: list[Lattice] = []
    for chs, cvs in comps.values():
        if len(chs) < 2 or len(cvs) < 2:
            continue
        lat = _build_lattice(chs, cvs)
        if lat is not None:
            out.append(lat)
    out.sort(key=lambda t: (t.ys[0], t.xs[0]))
    return out


def _build_lattice(hs: list[Rule], vs: list[Rule]) -> Lattice | None:
    left, right = min(h.a for h in hs), max(h.b for h in hs)
    top, bottom = min(v.a for v in vs), max(v.b for v in vs)
    # A vertical rule that starts or ends where no horizontal rule meets it marks a row boundary whose
    # rule is missing (e.g. under a header repeated on a new page): it divides the whole table.
    hs = list(hs)
    for v in vs:
        for y in (v.a, v.b):
            if top + SNAP < y < bottom - SNAP and not any(
                    abs(h.pos - y) <= TOUCH and h.a - TOUCH <= v.pos <= h.b + TOUCH for h in hs):
                hs.append(Rule(y, left, right))
    xs = snap_positions([v.pos for v in vs] + [left, right])
    ys = snap_positions([h.pos for h in hs] + [top, bottom])
    xs = [x for x in xs if left - SNAP <= x <= right + SNAP]
    ys = [y for y in ys if top - SNAP <= y <= bottom + SNAP]
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
    cells: list[LatticeCell] = []
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
            cells.append(LatticeCell(r, c, rs, cs, (round(xs[c], 2), round(ys[r], 2), round(xs[c + cs], 2),
                                                round(ys[r + rs], 2))))
    # A frame, a title box or a one-column ruled list is not a table.
    if len(cells) < 2 or not any(len({where[i][j] for j in range(nc)}) >= 2 for i in range(nr)):
        return None
    return Lattice(xs, ys, cells, where)


def _cell_text(chars: list[Char]) -> str:
    return join_lines(join_chars(ln) for ln in group_lines(chars))


def lattice_grid(lat: Lattice, page_no: int) -> Grid:
    """The ``Grid`` of a ruled table whose cells hold their characters (empty label slots dropped)."""
    cells = [Cell(_cell_text(c.chars), c.row, c.col, c.rowspan, c.colspan, Origin(page=page_no, bbox=c.bbox))
             for c in sorted(lat.cells, key=lambda c: (c.row, c.col))]
    return Grid(cells=_drop_label_blanks(cells), origin=Origin(page=page_no, bbox=_round_bbox(lat.bbox)),
                positional=True)


def _round_bbox(b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    return (round(b[0], 2), round(b[1], 2), round(b[2], 2), round(b[3], 2))


def is_value(text: str) -> bool:
    """True for a printed number or a not-applicable mark: what a value cell holds."""
    return parse_value(text).kind in ("number", "not_applicable")


def _drop_label_blanks(cells: list[Cell]) -> list[Cell]:
    """Drop empty cells in label columns (columns where rows with values print text): they are empty
    label slots (e.g. a (六) row whose third label column is empty), not blank values."""
    value_rows = {r for c in cells if c.text.strip() and is_value(c.text) for r in range(c.row, c.row + c.rowspan)}
    label_cols = {k for c in cells if c.text.strip() and not is_value(c.text)
                  and any(r in value_rows for r in range(c.row, c.row + c.rowspan))
                  for k in range(c.col, c.col + c.colspan)}
    return [c for c in cells if c.text.strip() or not all(k in label_cols for k in range(c.col, c.col + c.colspan))]



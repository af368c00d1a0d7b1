"""Visual lines and unruled tables (three-line tables, no rules at all).

A run of lines with wide gaps and numbers becomes a ``Grid`` (``table_regions``, ``region_grid``).
Rows are anchored on the lines with numbers; a wrapped label line joins the value row it belongs to
(within a line pitch, the line above running to the edge of its column); text cells get columns
``0..L-1`` and values ``L + k``, ``k`` the x-cluster of the value, so header text never claims a value
column. Clusters come from the values plus single-column headers (and the previous page's fragment),
so blank cells of wide tables are filled in as empty cells. If a row puts two values in one cluster the
grid is ``positional=False`` with the cells in order.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nianbao.grammar import is_page_number, section_of
from nianbao.model import Cell, Grid, Origin
from nianbao.read.layout.chars import Char, bbox_of, cluster, join_chars, join_lines
from nianbao.read.layout.lattice import is_value

__all__ = ["MARGIN", "Line", "Region", "Segment", "is_page_chrome", "make_line", "region_grid", "table_regions"]

MARGIN = 0.12  # page-number lines are looked for in the top / bottom 12 % of the page


@dataclass
class Segment:
    """A run of characters of one visual line without a wide gap: one cell's text on that line."""

    chars: list[Char]
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    value: bool


@dataclass
class Line:
    """A visual line: its characters (left to right), segments, text, vertical extent and font size."""

    chars: list[Char]
    segs: list[Segment]
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


def make_line(chars: list[Char]) -> Line:
    """The ``Line`` of characters grouped into one visual line (sorted left to right)."""
    size = statistics.median(c.size for c in chars) or 10.0
    segs: list[list[Char]] = [[chars[0]]]
    for c in chars[1:]:
        prev = segs[-1][-1]
        if c.x0 - prev.x1 >= max(0.6 * min(c.size, prev.size), 3.0):
            segs.append([c])
        else:
            segs[-1].append(c)
    out = []
    for s in segs:
        t = join_chars(s)
        b = bbox_of(s)
        out.append(Segment(s, t, b[0], b[2], b[1], b[3], is_value(t)))
    b = bbox_of(chars)
    return Line(chars, out, join_chars(chars), b[1], b[3], size)


def is_page_chrome(line: Line, height: float) -> bool:
    """True for a page number (``- 3 -``, ``第3页``, ``3/10``…) in the top or bottom margin."""
    in_margin = line.bottom < height * MARGIN or line.top > height * (1 - MARGIN)
    return in_margin and is_page_number(line.text, in_margin=True)


@dataclass
class Region:
    """Consecutive lines that form an unruled table."""

    lines: list[Line]


def _table_like(line: Line) -> bool:
    return len(line.segs) >= 2


def _first_value_x(line: Line) -> float | None:
    return next((s.x0 for s in line.segs if s.value), None) if len(line.segs) >= 2 else None


def _short_filler(line: Line, max_len: int = 16) -> bool:
    t = line.text.strip()
    return len(t) <= max_len and not t.endswith(("。", "；", ";")) and section_of(t) is None


def table_regions(lines: list[Line]) -> list[Region]:
    """Runs of table-like lines (several cells, numbers) among prose lines."""
    out: list[Region] = []
    i, n = 0, len(lines)
    while i < n:
        if not _table_like(lines[i]):
            i += 1
            continue
        run = [lines[i]]
        j = i + 1
        pending: list[Line] = []
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
            out.append(Region(run))
            i = j - len(pending)
        else:
            i += 1
    return out


def _x_groups(segs: list[Segment]) -> list[list[Segment]]:
    """Group text segments whose x ranges overlap (the lines of one label cell)."""
    groups: list[list[Segment]] = []
    right = -1e9
    for s in sorted(segs, key=lambda s: s.x0):
        if groups and s.x0 < right - 1.0:
            groups[-1].append(s)
            right = max(right, s.x1)
        else:
            groups.append([s])
            right = s.x1
    return groups


def _cy(sg: Segment) -> float:
    return (sg.top + sg.bottom) / 2


def _overlaps(a: Segment, b: Segment) -> bool:
    return a.x0 < b.x1 - 1.0 and b.x0 < a.x1 - 1.0


def region_grid(reg: Region, page_no: int, known_cols: Sequence[float] = ()) -> tuple[Grid, list[float]]:
    """Grid of an unruled table, and the x centres of its value columns (``known_cols``: those of the
    fragment on the previous page, when this one continues it)."""
    lines = reg.lines
    value_lines = [ln for ln in lines if any(s.value for s in ln.segs)]
    first_val_x = min(s.x0 for ln in value_lines for s in ln.segs if s.value)
    size = statistics.median(ln.size for ln in lines)
    label_segs = [s for ln in lines for s in ln.segs if not s.value and s.x1 <= first_val_x + 1.0]

    def full(upper: list[Segment], lower: list[Segment]) -> bool:
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
    rows: list[tuple[float, list[Segment], list[Segment]]] = []  # (y, text segs, value segs)
    for ln in value_lines:
        first_value = next(k for k, sg in enumerate(ln.segs) if sg.value)
        rows.append((ln.cy, list(ln.segs[:first_value]), list(ln.segs[first_value:])))
    centers = [r[0] for r in rows]
    free = [sg for ln in lines if not any(t.value for t in ln.segs) for sg in ln.segs if sg.x1 <= first_val_x + 1.0]
    step = 1.45 * size
    claims: dict[int, tuple[float, int, Segment]] = {}  # id(seg) -> (distance, row, seg)

    def claim(sg: Segment, dist: float, k: int) -> None:
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
    others: list[tuple[float, list[Segment], list[Segment]]] = []
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
    anchors: list[Callable[[Segment], float]] = [lambda sg: (sg.x0 + sg.x1) / 2, lambda sg: sg.x1, lambda sg: sg.x0]
    best_k, best_clusters = 0, cluster(vsegs, anchors[0], tol)
    for k, fn in enumerate(anchors[1:], 1):
        cl = cluster(vsegs, fn, tol)
        if len(cl) < len(best_clusters):
            best_k, best_clusters = k, cl
    clusters = best_clusters
    heads: list[Segment] = []
    if best_k == 0:
        # Centred values: column headers above the first value row that span one column only (and the
        # columns of the fragment on the previous page) mark columns that are blank in every row.
        accepted = [statistics.fmean(anchors[0](sg) for sg in cl) for cl in clusters] + list(known_cols)
        heads = [Segment([], "", x, x, 0.0, 0.0, False) for x in known_cols]
        label_right = max((sg.x1 for _, texts, vals in all_rows if vals for sg in texts), default=-1e9)
        cand = sorted((sg for y, texts, vals in all_rows if not vals and y < centers[0] for sg in texts
                       if sg.x0 >= label_right - 1.0), key=lambda sg: sg.x1 - sg.x0)
        for sg in cand:
            mid = (sg.x0 + sg.x1) / 2
            if not any(sg.x0 < x < sg.x1 and abs(x - mid) > tol for x in accepted):
                heads.append(sg)
                accepted.append(mid)
        if heads:
            clusters = cluster(vsegs + heads, anchors[0], tol)
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
            cells.append(Cell(join_lines(sg.text for sg in grp), r, c, origin=Origin(page=page_no, bbox=bbox_of(chars))))
        if not positional:
            for k, sg in enumerate(vals):
                cells.append(Cell(sg.text, r, offset + k, origin=Origin(page=page_no, bbox=bbox_of(sg.chars))))
            continue
        ks = [cluster_of[id(sg)] for sg in vals]
        for sg, k in zip(vals, ks):
            cells.append(Cell(sg.text, r, offset + k, origin=Origin(page=page_no, bbox=bbox_of(sg.chars))))
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
    return Grid(cells=cells, origin=Origin(page=page_no, bbox=bbox_of(all_chars)), positional=positional), col_centers



"""Pages into a document: running lines dropped, tables joined over pages, lines into paragraphs.

Lines recurring in the margins of half the pages (running headers) are dropped. A ruled table
continuing on the next page (last block of page p, first block of page p+1, same left and right edges)
gets one column system for all its fragments (the union of their rule positions), and a header repeated
on the continuation is dropped. A row cut by the page break stays two rows: the fragment on the second
page is a text-only row (label piece, empty value cells) for the mapper to join. Wrapped lines of a
paragraph (a line running to the right margin followed by one starting at the left margin, not a
heading) are joined into one block, also over a page break, so that section headings are the only short
blocks and an intro listing every section title cannot pass for a heading; a title wrapped over centred
lines is one block too.
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass

from nianbao.grammar import section_of, starts_numbered
from nianbao.model import Block, Cell, Document, Grid, Origin, ReaderProblem, TextBlock
from nianbao.normalize import normalize_label
from nianbao.read.layout.chars import bbox_of, join_lines
from nianbao.read.layout.lattice import JOIN, Lattice, is_value, snap_positions
from nianbao.read.layout.lines import MARGIN, Line
from nianbao.read.layout.page import PageLayout

__all__ = ["assemble"]


@dataclass
class _Para:
    """Consecutive visual lines of one paragraph (or of a multi-line centred title); a paragraph running
    on to the next page keeps the page, line number and bbox of its first page."""

    lines: list[Line]
    page: int
    line_no: int
    n_first_page: int = 0  # lines on the first page, once the paragraph has run on to the next
    last_page: int = 0

    def block(self) -> TextBlock:
        first = self.lines[:self.n_first_page or len(self.lines)]
        return TextBlock(join_lines(ln.text for ln in self.lines),
                         Origin(page=self.page, line=self.line_no, bbox=bbox_of(c for ln in first for c in ln.chars)))


@dataclass(frozen=True)
class _Metrics:
    left: float
    right: float
    body: float


def _metrics(lines: list[Line]) -> _Metrics:
    if not lines:
        return _Metrics(0.0, 0.0, 10.0)
    body = statistics.median(ln.size for ln in lines)
    long = [ln for ln in lines if len(ln.chars) >= 8 and abs(ln.size - body) <= 1.0] or lines
    return _Metrics(min(ln.x0 for ln in long), statistics.median(ln.x1 for ln in long), body)


def _opens(prev: Line, m: _Metrics) -> bool:
    """The line runs to the right margin: the paragraph may go on."""
    return prev.x1 >= m.right - 2.0 * prev.size


def _continues(cur: Line, m: _Metrics) -> bool:
    """The line starts at the left margin and is not a heading: it may continue a paragraph."""
    return cur.x0 <= m.left + 0.6 * cur.size and not (
        starts_numbered(cur.text) and section_of(cur.text) is not None)


def _joins(prev: Line, cur: Line, m: _Metrics) -> bool:
    gap = cur.top - prev.bottom
    if not (-0.3 * cur.size <= gap <= 1.0 * max(cur.size, prev.size)) or abs(prev.size - cur.size) > 0.6:
        return False
    if _opens(prev, m) and _continues(cur, m):
        return True
    # A title wrapped over centred lines (larger than the body text).
    return (cur.size >= 1.15 * m.body and abs((prev.x0 + prev.x1) / 2 - (cur.x0 + cur.x1) / 2) <= 0.6 * cur.size
            and cur.x0 > m.left + cur.size)

def _drop_running_lines(pages: list[PageLayout]) -> None:
    """Drop running headers and footers: lines in the top or bottom margin whose text (digits aside)
    recurs on at least half of the pages with text (and on two or more)."""
    def key(ln: Line) -> str:
        return re.sub(r"\d+", "#", normalize_label(ln.text))

    def in_margin(ln: Line, po: PageLayout) -> bool:
        return ln.bottom < po.height * MARGIN or ln.top > po.height * (1 - MARGIN)

    seen: dict[str, set[int]] = {}
    for po in pages:
        for _, b in po.blocks:
            if isinstance(b, Line) and in_margin(b, po):
                seen.setdefault(key(b), set()).add(po.page_no)
    n = sum(po.text for po in pages)
    running = {k for k, pgs in seen.items() if k and len(pgs) >= 2 and 2 * len(pgs) >= n}
    if running:
        for po in pages:
            po.blocks = [(t, b) for t, b in po.blocks
                         if not (isinstance(b, Line) and in_margin(b, po) and key(b) in running)]


def _blocks(pages: list[PageLayout]) -> list[Block]:
    """The document's blocks: grids as they are, visual lines joined into paragraphs (a paragraph may
    run on to the next page). Margins and body size are measured on the whole document."""
    m = _metrics([b for po in pages for _, b in po.blocks if isinstance(b, Line)])
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
    first = min((c.row for c in grid.cells if c.text.strip() and is_value(c.text)), default=grid.n_rows)
    return first


def _ruled_grid(po: PageLayout, k: int) -> tuple[Grid, Lattice] | None:
    """The ruled grid at block ``k`` of a page (0 first, -1 last), if that block is one."""
    if not po.blocks:
        return None
    b = po.blocks[k][1]
    if isinstance(b, Grid) and id(b) in po.lattices:
        return b, po.lattices[id(b)]
    return None


def _link_continuations(pages: list[PageLayout]) -> None:
    """Give a ruled table continued over pages one column system and drop repeated headers.

    A table continues when it is the last block of a page and a ruled table with the same left and
    right edges is the first block of the next page.
    """
    chains: list[list[tuple[Grid, Lattice]]] = []
    for a, b in itertools.pairwise(pages):
        last, first = _ruled_grid(a, -1), _ruled_grid(b, 0)
        if last is None or first is None:
            continue
        if abs(last[1].xs[0] - first[1].xs[0]) > JOIN or abs(last[1].xs[-1] - first[1].xs[-1]) > JOIN:
            continue
        if not chains or chains[-1][-1][0] is not last[0]:
            chains.append([last])
        chains[-1].append(first)
    for chain in chains:
        xs = snap_positions(x for _, lat in chain for x in lat.xs)

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



def assemble(outs: list[PageLayout], title: str | None, problems: list[ReaderProblem], n_pages: int,
             ocr: bool = False) -> Document:
    """Given the laid-out pages, drop running lines, join tables over pages and return the document."""
    _drop_running_lines(outs)
    _link_continuations(outs)
    blocks = _blocks(outs)
    return Document(blocks=blocks, source_format="pdf", title_hint=title, problems=problems, page_count=n_pages,
                    ocr=ocr)

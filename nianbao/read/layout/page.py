"""One page: characters and rules in, tables and visual lines in reading order out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from nianbao.model import Grid, ReaderProblem
from nianbao.read.layout.chars import Char, group_lines
from nianbao.read.layout.lattice import Lattice, Rule, find_lattices, lattice_grid
from nianbao.read.layout.lines import Line, is_page_chrome, make_line, region_grid, table_regions

__all__ = ["PageLayout", "layout_page"]


@dataclass
class PageLayout:
    """One laid-out page: its tables and visual lines in reading order, the lattice each ruled grid came
    from, the problems met, whether it had usable text, its height and (``carry``) the value columns of
    an unruled table ending the page. ``assemble`` turns a list of them into a ``Document``."""

    page_no: int
    blocks: list[tuple[float, Grid | Line]]  # in reading order; prose still as visual lines
    lattices: dict[int, Lattice]  # id(grid) -> lattice it came from
    problems: list[ReaderProblem]
    text: bool  # the page had a usable text layer
    height: float = 842.0
    carry: list[float] = field(default_factory=list)  # value columns of an unruled table ending the page




def layout_page(chars: list[Char], hs: list[Rule], vs: list[Rule], page_no: int, height: float,
                problems: list[ReaderProblem], carry: Sequence[float] = ()) -> PageLayout:
    """Given a page's characters and merged rules (points, top-down), return its tables and lines in
    reading order. Shared with the OCR reader, which makes characters and rules from an image."""
    lats = find_lattices(hs, vs)
    rest: list[Char] = []
    for c in chars:
        cx, cy = c.cx, c.cy
        for lat in lats:
            cell = lat.locate(cx, cy)
            if cell is not None:
                cell.chars.append(c)
                break
        else:
            rest.append(c)
    items: list[tuple[float, Grid | Line]] = []
    lat_of: dict[int, Lattice] = {}
    for lat in lats:
        if not any(c.chars for c in lat.cells):
            continue
        g = lattice_grid(lat, page_no)
        lat_of[id(g)] = lat
        items.append((lat.ys[0], g))
    lines = [make_line(ln) for ln in group_lines(rest)]
    lines = [ln for ln in lines if not is_page_chrome(ln, height)]
    used: set[int] = set()
    last_cols: list[float] = []
    first_top = min((t for t, _ in items), default=1e9)
    for reg in table_regions(lines):
        top = reg.lines[0].top
        continues = top < first_top and not any(ln.top < top for ln in lines)
        g, last_cols = region_grid(reg, page_no, carry if continues else ())
        items.append((top, g))
        used.update(id(ln) for ln in reg.lines)
    prose = [ln for ln in lines if id(ln) not in used]
    items.extend((ln.top, ln) for ln in prose)
    items.sort(key=lambda it: it[0])
    po = PageLayout(page_no, items, lat_of, problems, True, height)
    if items and isinstance(items[-1][1], Grid) and id(items[-1][1]) not in lat_of:
        po.carry = last_cols
    return po


"""Segmentation into the six template sections, and the location of the three tables.

1. Headings merged into prose (``一、总体情况2021年，…``, ``…保障。二、主动公开政府信息情况第二十条…``) are
   cut out of their text block first (``nianbao.grammar.split_glued``), so every heading is a block.
2. Every block that ``nianbao.grammar.section_of`` calls a heading is a CANDIDATE for its section.
3. Sections are chosen in order 1…6, each after the one before. Sections 2, 3 and 4 hold the tables:
   their heading is the LAST candidate before their table's anchor (a table title, column header or row
   label of the template), so a sub-heading such as ``（二）主动公开情况`` inside section 1 never takes the
   table away from the real heading, and a reworded heading still finds its table.
4. Tables are located by content when their section has none (``table_grids``, ``table_text``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nianbao.chrome import FOOTER_LINE
from nianbao.grammar import section_of, split_glued
from nianbao.model import Block, Document, Grid, TextBlock
from nianbao.normalize import nfkc
from nianbao.segment.meta import ReportMeta, extract_meta
from nianbao.template import SECTIONS, Section

__all__ = ["ReportMeta", "SectionSpan", "extract_meta", "section_blocks", "section_grids", "section_text", "segment",
           "split_glued_blocks", "table_grids", "table_text"]

# Anchor phrases of each table (NFKC, no spaces): column headers and titles printed in the table itself.
TABLE_ANCHORS: dict[int, re.Pattern[str]] = {
    2: re.compile(r"第二十条第\(一\)项|本年制发件数|本年新制作数量|现行有效件数|对外公开总数量"),
    3: re.compile(r"申请人情况|本列数据的勾稽关系|本年新收政府信息公开申请数量|法人或其他组织"),
    4: re.compile(r"结果维持|未经复议直接起诉|复议后起诉"),
}
TABLE_SECTION = {"proactive_disclosure": 2, "applications": 3, "reviews_litigation": 4}


@dataclass(frozen=True)
class SectionSpan:
    """A section found in a document: blocks [start, end) after its heading block ``heading``."""

    section: Section
    heading: int
    start: int
    end: int
    heading_text: str


def split_glued_blocks(doc: Document) -> None:
    """Cut headings merged into prose out of their text blocks, in place (origins kept)."""
    out: list[Block] = []
    changed = False
    for b in doc.blocks:
        if isinstance(b, TextBlock):
            parts = split_glued(b.text)
            if len(parts) > 1:
                out += [TextBlock(p, b.origin) for p in parts]
                changed = True
                continue
        out.append(b)
    if changed:
        doc.blocks = out


def _squashed(block: Block) -> str:
    text = "".join(c.text for c in block.cells) if isinstance(block, Grid) else block.text
    return re.sub(r"\s+", "", nfkc(text))


def _anchors(doc: Document) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {2: [], 3: [], 4: []}
    for i, b in enumerate(doc.blocks):
        t = _squashed(b)
        for sec, pat in TABLE_ANCHORS.items():
            if pat.search(t):
                found[sec].append(i)
    return found


def segment(doc: Document) -> list[SectionSpan]:
    """Given a document, return the sections found, in order, disjoint, each starting after its heading.

    Glued headings are split out of their blocks first (``doc.blocks`` is replaced)."""
    split_glued_blocks(doc)
    cands: dict[int, list[int]] = {s: [] for s in range(1, 7)}
    for i, block in enumerate(doc.blocks):
        if isinstance(block, TextBlock):
            sec = section_of(block.text)
            if sec is not None:
                cands[sec].append(i)
    anchors = _anchors(doc)
    found: list[tuple[int, int]] = []  # (section number, block index)
    prev = -1
    for sec in range(1, 7):
        after = [i for i in cands[sec] if i > prev]
        if not after:
            continue
        pick = after[0]
        if sec in anchors:
            anchor = next((a for a in anchors[sec] if a > after[0]), None)
            if anchor is not None:
                before = [i for i in after if i < anchor]
                pick = before[-1] if before else after[0]
        found.append((sec, pick))
        prev = pick
    end_of_report = _end_of_report(doc, found[-1][1] if found else 0)
    spans: list[SectionSpan] = []
    for k, (sec, i) in enumerate(found):
        end = found[k + 1][1] if k + 1 < len(found) else end_of_report
        head = doc.blocks[i]
        text = head.text if isinstance(head, TextBlock) else ""
        spans.append(SectionSpan(SECTIONS[sec - 1], i, i + 1, max(i + 1, end), text))
    return spans


def _end_of_report(doc: Document, after: int) -> int:
    """Return the index of the first block of site chrome after block ``after`` (or the end)."""
    for i in range(after + 1, len(doc.blocks)):
        b = doc.blocks[i]
        if isinstance(b, TextBlock) and FOOTER_LINE.search(b.text):
            return i
    return len(doc.blocks)


def section_blocks(doc: Document, span: SectionSpan) -> list[Block]:
    return doc.blocks[span.start:span.end]


def section_text(doc: Document, span: SectionSpan) -> str:
    """Given a section span, return its prose (text blocks joined by newlines)."""
    return "\n".join(b.text for b in section_blocks(doc, span) if isinstance(b, TextBlock))


def section_grids(doc: Document, span: SectionSpan) -> list[Grid]:
    return [b for b in section_blocks(doc, span) if isinstance(b, Grid)]


def _table_of_grid(grid: Grid) -> int | None:
    t = _squashed(grid)
    hits = [sec for sec, pat in TABLE_ANCHORS.items() if pat.search(t)]
    return hits[0] if len(hits) == 1 else None


def table_grids(doc: Document, spans: list[SectionSpan], table: str) -> list[Grid]:
    """Given a segmented document and a table key, return the grids of that table.

    The grids of the table's section; when the section is missing or holds no grid, the grids anywhere
    in the report whose anchors name this table and no other (a table under an unrecognised heading)."""
    number = TABLE_SECTION[table]
    span = next((s for s in spans if s.section.number == number), None)
    if span is not None:
        grids = section_grids(doc, span)
        if grids:
            return grids
    claimed = {id(g) for s in spans if s.section.number in (2, 3, 4) for g in section_grids(doc, s)}
    return [b for b in doc.blocks if isinstance(b, Grid) and id(b) not in claimed and _table_of_grid(b) == number]


def table_text(doc: Document, spans: list[SectionSpan], table: str) -> str | None:
    """Given a segmented document and a table key, return the text in which that table's tokens are printed:
    the prose of its section, or when the section was not found, the text from the table's anchor to the
    next section heading or table anchor."""
    number = TABLE_SECTION[table]
    span = next((s for s in spans if s.section.number == number), None)
    if span is not None:
        return section_text(doc, span)
    anchors = _anchors(doc)
    if not anchors[number]:
        return None
    start = anchors[number][0]
    stops = [s.heading for s in spans if s.heading > start]
    stops += [a for sec, idx in anchors.items() if sec != number for a in idx if a > start]
    end = min(stops, default=len(doc.blocks))
    return "\n".join(b.text for b in doc.blocks[start:end] if isinstance(b, TextBlock))

"""Segmentation into the six template sections, and report metadata.

Headings are matched on whole, short lines, keywords first and numbering second, so the
intro paragraph that lists every section title is never taken for a heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nianbao.grammar import CHROME, heading_section
from nianbao.model import Block, Document, Grid, TextBlock
from nianbao.normalize import nfkc
from nianbao.template import SECTIONS, Section


@dataclass(frozen=True)
class SectionSpan:
    """A section found in a document: blocks [start, end) after its heading block ``heading``."""

    section: Section
    heading: int
    start: int
    end: int
    heading_text: str


def segment(doc: Document) -> list[SectionSpan]:
    """Given a document, return the sections found, in order, disjoint, each starting after its heading."""
    found: list[tuple[int, int, str]] = []  # (section number, block index, text)
    last = 0
    for i, block in enumerate(doc.blocks):
        if not isinstance(block, TextBlock):
            continue
        sec = heading_section(block.text)
        if sec is None or sec <= last:
            continue
        found.append((sec, i, block.text))
        last = sec
    end_of_report = _end_of_report(doc, found[-1][1] if found else 0)
    spans: list[SectionSpan] = []
    for k, (sec, i, text) in enumerate(found):
        end = found[k + 1][1] if k + 1 < len(found) else end_of_report
        spans.append(SectionSpan(SECTIONS[sec - 1], i, i + 1, max(i + 1, end), text))
    return spans


def _end_of_report(doc: Document, after: int) -> int:
    """Return the index of the first block of site chrome after block ``after`` (or the end)."""
    for i in range(after + 1, len(doc.blocks)):
        b = doc.blocks[i]
        if isinstance(b, TextBlock) and CHROME.search(b.text):
            return i
    return len(doc.blocks)


def section_blocks(doc: Document, span: SectionSpan) -> list[Block]:
    return doc.blocks[span.start:span.end]


def section_text(doc: Document, span: SectionSpan) -> str:
    """Given a section span, return its prose (text blocks joined by newlines)."""
    return "\n".join(b.text for b in section_blocks(doc, span) if isinstance(b, TextBlock))


def section_grids(doc: Document, span: SectionSpan) -> list[Grid]:
    return [b for b in section_blocks(doc, span) if isinstance(b, Grid)]


# --- metadata ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportMeta:
    title: str | None
    agency: str | None
    report_year: int | None
    published: str | None  # ISO date where printed


_TITLE = re.compile(r"政府信息公开.{0,8}(?:年度报告|年报|工作报告)")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
_DATE = re.compile(r"((?:19|20)\d{2})\s*[年\-./]\s*(\d{1,2})\s*[月\-./]\s*(\d{1,2})\s*日?")
_AGENCY_SUFFIX = re.compile(
    r"(人民政府|政府|办公厅|办公室|委员会|管委会|管理委员会|局|厅|委|办|署|院|中心|街道办事处|街道|镇|乡|区|县|市)$")


def _agency_from_title(title: str) -> str | None:
    t = re.sub(r"\s+", "", nfkc(title))
    t = re.sub(r"^标题[:：]", "", t)
    t = re.sub(r"^[\d]{4}年度?", "", t)
    m = re.match(r"^(.*?)(?:\d{4}年度?)?(?:关于)?(?:政府信息公开|政务公开)", t)
    if not m:
        return None
    agency = re.sub(r"\d{4}年度?$", "", m.group(1)).strip("《》\"“”")
    return agency or None


def extract_meta(doc: Document, spans: list[SectionSpan]) -> ReportMeta:
    """Given a document and its sections, return title, agency, report year and publication date."""
    first_heading = spans[0].heading if spans else len(doc.blocks)
    title = None
    for b in doc.blocks[:max(first_heading, 1)]:
        if isinstance(b, TextBlock) and len(b.text) <= 80 and _TITLE.search(re.sub(r"\s+", "", b.text)):
            title = re.sub(r"^标题[:：]\s*", "", b.text.strip())
            break
    if title is None and doc.title_hint and _TITLE.search(doc.title_hint):
        title = doc.title_hint
    year: int | None = None
    if title:
        m = _YEAR.search(re.sub(r"\s+", "", nfkc(title)))
        if m:
            year = int(m.group(1))
    intro = " ".join(b.text for b in doc.blocks[:first_heading + 3] if isinstance(b, TextBlock))
    if year is None:
        m = re.search(r"((?:19|20)\d{2})\s*年\s*1\s*月\s*1\s*日", intro)
        if m:
            year = int(m.group(1))
    if year is None:
        counts: dict[int, int] = {}
        for m in _YEAR.finditer(intro):
            counts[int(m.group(1))] = counts.get(int(m.group(1)), 0) + 1
        if counts:
            year = max(counts, key=lambda y: counts[y])
    agency = _agency_from_title(title) if title else None
    signature, published = _signature(doc, spans)
    if signature and (agency is None or agency in signature):
        agency = signature
    if published is None:
        for hint in (doc.date_hint,):
            if hint:
                m = _DATE.search(hint)
                if m:
                    published = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
        for b in doc.blocks[:first_heading]:
            if published is None and isinstance(b, TextBlock) and re.search(r"发布(日期|时间)", b.text):
                m = _DATE.search(b.text)
                if m:
                    published = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    return ReportMeta(title=title, agency=agency, report_year=year, published=published)


def _signature(doc: Document, spans: list[SectionSpan]) -> tuple[str | None, str | None]:
    """Return (signing body, ISO date) from the short lines at the end of the last section."""
    if not spans:
        return None, None
    last = spans[-1]
    tail = [b for b in doc.blocks[last.start:last.end] if isinstance(b, TextBlock)][-4:]
    agency = date = None
    for b in tail:
        t = re.sub(r"\s+", "", nfkc(b.text))
        m = _DATE.fullmatch(t)
        if m:
            date = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
        elif len(t) <= 30 and _AGENCY_SUFFIX.search(t) and not re.search(r"[，。；：,;:]", t):
            agency = t
    return agency, date

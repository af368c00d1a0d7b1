"""Report metadata (title, agency, year, publication date) from the document's own title and text.

Site chrome is never metadata: crawler header lines (``栏目:``, ``发布日期:``, ``浏览次数:``, ``来源:``),
breadcrumbs (``首页 > 政务公开 > …``) and Markdown markup (``#``, ``**``) are stripped or skipped before a
title is looked for. A ``标题:`` line written by a crawler copies the page title: it is used only when the
document prints no title of its own. The year comes from the title, else from the statistics period in
the intro (``YYYY年1月1日``), else from the year the intro names most; otherwise it stays unknown (the
pipeline then tries the file name and folder, and records ``year_not_found`` when they name none either).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nianbao.chrome import is_chrome_line
from nianbao.model import Document, TextBlock
from nianbao.normalize import nfkc

if TYPE_CHECKING:
    from nianbao.segment import SectionSpan


@dataclass(frozen=True)
class ReportMeta:
    title: str | None
    agency: str | None
    report_year: int | None
    published: str | None  # ISO date where printed


_TITLE = re.compile(r"政府信息公开.{0,8}(?:年度报告|年报|工作报告)")
_TITLE_PREFIX = re.compile(r"^(.{0,40}?政府信息公开.{0,10}?(?:年度报告|年报|工作报告))")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
_DATE = re.compile(r"((?:19|20)\d{2})\s*[年\-./]\s*(\d{1,2})\s*[月\-./]\s*(\d{1,2})\s*日?")
_AGENCY_SUFFIX = re.compile(
    r"(人民政府|政府|办公厅|办公室|委员会|管委会|管理委员会|局|厅|委|办|署|院|中心|街道办事处|街道|镇|乡|区|县|市)$")
_MARKUP = re.compile(r"^\s*(?:#{1,6}\s*|>\s*|[*+-]\s+)|\*\*|__|`")


def clean_line(text: str) -> str:
    """Given a text block, return it without Markdown markup (leading #, >, list bullets, emphasis)."""
    return _MARKUP.sub("", text).strip()


def _iso(m: re.Match[str]) -> str:
    return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"


def _agency_from_title(title: str) -> str | None:
    t = re.sub(r"\s+", "", nfkc(clean_line(title)))
    t = re.sub(r"^标题[:：]", "", t)
    t = re.sub(r"^\d{4}年度?", "", t)
    m = re.match(r"^(.*?)(?:\d{4}年度?)?(?:关于)?(?:政府信息公开|政务公开)", t)
    if not m:
        return None
    agency = re.sub(r"\d{4}年度?$", "", m.group(1)).strip("《》\"“”")
    return agency or None


def _find_title(doc: Document, first_heading: int) -> str | None:
    for b in doc.blocks[:max(first_heading, 1)]:
        if not isinstance(b, TextBlock) or is_chrome_line(b.text):
            continue
        text = clean_line(b.text)
        squashed = re.sub(r"\s+", "", text)
        if len(squashed) <= 80 and _TITLE.search(squashed):
            return text
        m = _TITLE_PREFIX.match(squashed)  # a title glued to the intro in a one-line dump
        if m and _YEAR.search(m.group(1)):
            return m.group(1)
    return None


def extract_meta(doc: Document, spans: list[SectionSpan]) -> ReportMeta:
    """Given a document and its sections, return title, agency, report year and publication date."""
    first_heading = spans[0].heading if spans else len(doc.blocks)
    title = _find_title(doc, first_heading)
    if title is None and doc.title_hint and _TITLE.search(doc.title_hint):
        title = clean_line(doc.title_hint)
    year: int | None = None
    if title:
        m = _YEAR.search(re.sub(r"\s+", "", nfkc(title)))
        if m:
            year = int(m.group(1))
    intro = " ".join(b.text for b in doc.blocks[:first_heading + 3]
                     if isinstance(b, TextBlock) and not is_chrome_line(b.text))
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
        m = _DATE.search(doc.date_hint) if doc.date_hint else None
        if m:
            published = _iso(m)
        for b in doc.blocks[:first_heading]:
            if published is None and isinstance(b, TextBlock) and re.search(r"发布(日期|时间)", b.text):
                m = _DATE.search(b.text)
                if m:
                    published = _iso(m)
    return ReportMeta(title=title, agency=agency, report_year=year, published=published)


def _signature(doc: Document, spans: list[SectionSpan]) -> tuple[str | None, str | None]:
    """Return (signing body, ISO date) from the short lines at the end of the last section."""
    if not spans:
        return None, None
    last = spans[-1]
    tail = [b for b in doc.blocks[last.start:last.end] if isinstance(b, TextBlock)][-4:]
    agency = date = None
    for b in tail:
        t = re.sub(r"\s+", "", nfkc(clean_line(b.text)))
        m = _DATE.fullmatch(t)
        if m:
            date = _iso(m)
        elif len(t) <= 30 and _AGENCY_SUFFIX.search(t) and not re.search(r"[，。；：,;:|>]", t):
            agency = t
    return agency, date


def year_from_path(path: str) -> int | None:
    """Given a file path or URI, return the report year its file name or folder names (YYYY or YYYY年度),
    the file name first; None when none or several different years are named at the same level."""
    parts = [p for p in re.split(r"[\\/]", path.split("?")[0]) if p]
    for part in reversed(parts[-2:]):  # the file name, then its own folder: never a path further up
        years = {int(y) for y in re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", nfkc(part))}
        if len(years) == 1:
            return years.pop()
        if len(years) > 1:
            return None
    return None

"""Report metadata of an OCR'd report: the year and the agency must not rest on one misread token.

* **Title.** The title of a scan is often read as two or three lines (the wrap of a centred title); it is
  found in the leading text blocks joined together (``…YYYY年(度)政府信息公开…报告``).
* **Year.** Kept only when the reading is consistent: the title's year equals the statistics period's
  (``自YYYY年1月1日``) where that is printed, and the year is named at least once more in the text (or,
  without a year in the title, the text names it at least twice and nothing contradicts it). Otherwise
  the year is cleared with an ``ocr_year_unconfirmed`` warning (run the report with ``--year``).
* **Claimed year.** When the file name or its folder names a year (``nianbao.segment.meta.year_from_path``)
  and OCR's year differs, the report is held back: ``failed`` / ``year_mismatch`` with a message naming both years, so
  a misread cannot send it to another year's partition.
* **Agency.** From the title, cleaned of everything but CJK characters and brackets; never left empty
  without an ``ocr_agency_missing`` warning.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from nianbao.model import Document, TextBlock
from nianbao.normalize import nfkc
from nianbao.results import Problem
from nianbao.segment.meta import year_from_path

if TYPE_CHECKING:
    from nianbao.results import ReportResult

__all__ = ["check_ocr_meta"]

_TITLE = re.compile(r"^(.{0,60}?)((?:19|20)\d{2})?年?度?(?:关于)?(?:政府信息公开|政务公开).{0,8}?(?:年度报告|年报|工作报告)")
_YEAR = re.compile(r"((?:19|20)\d{2})年")
_PERIOD = re.compile(r"((?:19|20)\d{2})年1月1日")
_NOT_AGENCY = re.compile(r"[^\u4e00-\u9fff（）()]")


def _texts(doc: Document) -> list[str]:
    return [re.sub(r"\s+", "", nfkc(b.text)) for b in doc.blocks if isinstance(b, TextBlock)]


def _title(texts: list[str]) -> tuple[str | None, int | None, int]:
    """(agency part, year, number of leading blocks) of the title found in the first blocks."""
    for n in range(1, min(4, len(texts)) + 1):
        m = _TITLE.match("".join(texts[:n]))
        if m:
            head, year = m.group(1), int(m.group(2)) if m.group(2) else None
            lead = re.match(r"((?:19|20)\d{2})年度?", head)  # 2023年某某局政府信息公开工作年度报告
            if lead:
                head, year = head[lead.end():], year or int(lead.group(1))
            return _NOT_AGENCY.sub("", head) or None, year, n
    return None, None, 0


def check_ocr_meta(doc: Document, result: ReportResult) -> list[Problem]:
    """Given a report read (partly) by OCR, settle its year and agency as described above (changing
    ``result.report_year`` / ``agency`` / ``status`` / ``error``) and return the problems found."""
    texts = _texts(doc)
    agency, title_year, n_title = _title(texts)
    body = "".join(texts[n_title:])
    counts = Counter(int(y) for y in _YEAR.findall(body))
    periods = {int(y) for y in _PERIOD.findall(body)}
    problems: list[Problem] = []
    year: int | None
    if title_year is not None:
        year = title_year if (not periods or periods == {title_year}) and counts[title_year] >= 1 else None
    else:
        best = counts.most_common(1)
        year = best[0][0] if best and best[0][1] >= 2 and (not periods or periods == {best[0][0]}) else None
    if year is None and (title_year is not None or counts):
        seen = sorted({*([title_year] if title_year else []), *counts})
        problems.append(Problem(
            "ocr_year_unconfirmed", "warning", None,
            f"the report year read by OCR is not consistent (title {title_year}, text names {seen}, statistics "
            "period " + (str(sorted(periods)) if periods else "not found") + "), so it is not used; run this "
            "report in a batch of its year (--year) to publish it", actual=str(title_year or "")))
    result.report_year = year
    if agency:
        result.agency = agency
    elif result.agency and _NOT_AGENCY.search(result.agency):
        result.agency = _NOT_AGENCY.sub("", result.agency) or None
    if not result.agency:
        problems.append(Problem("ocr_agency_missing", "warning", None,
                                "the agency could not be read from the title of the OCR'd report; fill it in by "
                                "hand (or give it in a manifest)"))
    named = year_from_path(result.source_uri)
    claimed = {named} if named is not None else set()
    if year is not None and claimed and year not in claimed:
        result.status, result.error = "failed", "year_mismatch"
        result.error_message = (f"OCR read the report year as {year} but the file's name or folder says "
                                f"{', '.join(map(str, sorted(claimed)))}; the report is held back. Check the scan "
                                "and run it with --year")
        problems.append(Problem("year_mismatch", "error", None, result.error_message,
                                expected=",".join(map(str, sorted(claimed))), actual=str(year)))
    return problems

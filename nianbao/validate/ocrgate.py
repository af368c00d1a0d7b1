"""The correctness gate for tables read by OCR: publish a table's numbers only when the identities vouch
for every one of them.

OCR misreads digits (3↔8, 1↔7, a lost 0) and nothing in a single cell shows it. The identities
(勾稽关系, ``nianbao.validate.identities``) are the only independent check, so an OCR'd table is published only if

* the template has identities for it: ``applications`` and ``reviews_litigation``. ``proactive_disclosure``
  has none (its columns are independent counts), so it is **never** published from OCR;
* the table has no error of its own (a row left out or unmapped, a failed identity, a value count) and no
  doubt about its row labels (rows mapped by position, a duplicate or unknown row: two rows exchanged
  keep every identity balanced);
* every cell is a number, a blank or "/" (no text where a number belongs), none was recovered by an
  identity (that would make its own row balance by construction);
* every equation of the table can be evaluated (all its cells present, its total printed) and balances;
* every cell of the table appears in at least one such equation.

Otherwise none of the table's cells is published and an ``ocr_unverified`` warning says so. A published
OCR cell has ``derivation = "ocr"``. Digits are never corrected. A report read by OCR always carries a
``read_by_ocr`` warning.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from nianbao.extract.mapping import TableResult
from nianbao.model import Document, TextBlock
from nianbao.normalize import nfkc
from nianbao.results import CellValue, Problem
from nianbao.validate.identities import Equation, Key, equations

if TYPE_CHECKING:
    from nianbao.results import ReportResult

CHECKED_TABLES = ("applications", "reviews_litigation")  # tables the identities cover cell by cell
# Warnings that a row's label was not read as printed. The identities cannot catch two rows exchanged
# (the column sums stay the same), so an OCR'd table with any of these is withheld.
_MAPPING_DOUBTS = frozenset({"rows_mapped_by_position", "row_not_in_template", "duplicate_row", "rows_missing"})


def read_by_ocr_issue() -> Problem:
    """Return the report-level issue every OCR'd report carries."""
    return Problem("read_by_ocr", "warning", None,
                   "the PDF has no text layer; it was read by OCR (tesseract chi_sim). Only tables whose every "
                   "number is confirmed by the template identities are published (derivation=ocr); check the "
                   "others against the scan by hand")


def _why_unverified(table: str, cells: list[CellValue], problems: list[Problem], eqs: list[Equation]
                    ) -> str | None:
    """Given one table's OCR'd cells, return why they cannot be published, or None when they can."""
    if table not in CHECKED_TABLES:
        return "the template has no identities for this table, so an OCR misreading could not be detected"
    errors = [p for p in problems if p.table == table and (p.severity == "error" or p.check in _MAPPING_DOUBTS)]
    if errors:
        return f"{len(errors)} problem(s) in the table ({', '.join(sorted({p.check for p in errors}))})"
    if any(c.kind == "text" for c in cells):
        return "text was read where a number belongs"
    if any(c.derivation != "printed" for c in cells):
        return "a cell was recovered by an identity rather than read"
    keyed: dict[Key, CellValue] = {(c.table, c.key1, c.key2): c for c in cells}
    covered: set[Key] = set()
    for eq in eqs:
        keys = (*eq.parts, *eq.total)
        if any(k not in keyed for k in keys):
            return f"cells missing for the identity {eq.description}"
        if all(keyed[k].kind == "blank" for k in eq.total):
            return f"the total of the identity {eq.description} was not read"
        covered.update(keys)
    if not eqs or any(k not in covered for k in keyed):
        return "some cells are not covered by any identity"
    return None  # balance itself: a failed identity is an error problem of the table, checked above


def gate_ocr(tables: list[TableResult], cells: list[CellValue], problems: list[Problem]
             ) -> tuple[list[CellValue], list[Problem]]:
    """Given the validated cells and problems of a report read by OCR, return the cells that may be
    published (marked ``derivation="ocr"``) and the problems plus one ``ocr_unverified`` warning per
    withheld table and the report-level ``read_by_ocr`` warning."""
    apps = next((t for t in tables if t.table == "applications"), None)
    eqs = equations(apps.version if apps is not None else None)
    out_cells: list[CellValue] = []
    out_problems = [*problems, read_by_ocr_issue()]
    for table in dict.fromkeys(c.table for c in cells):
        tcells = [c for c in cells if c.table == table]
        why = _why_unverified(table, tcells, problems, [e for e in eqs if e.table == table])
        if why is None:
            out_cells.extend(replace(c, derivation="ocr") for c in tcells)
            continue
        page = next((c.origin.page for c in tcells if c.origin.page is not None), None)
        out_problems.append(Problem(
            "ocr_unverified", "warning", table,
            f"{len(tcells)} value(s) of this table were read by OCR and not published: {why}. "
            "Check them against the scan by hand", actual=str(len(tcells)), page=page))
    return out_cells, out_problems


def confirm_ocr_year(doc: Document, result: ReportResult) -> list[Problem]:
    """Given a report read by OCR, keep its detected year only when the text names it at least twice
    (``YYYY年``): one misread digit in the title must not send a report to another year's partition.
    Otherwise clear the year and return an ``ocr_year_unconfirmed`` warning."""
    year = result.report_year
    if year is None:
        return []
    text = re.sub(r"\s+", "", nfkc(" ".join(b.text for b in doc.blocks if isinstance(b, TextBlock))))
    if len(re.findall(rf"{year}年", text)) >= 2:
        return []
    result.report_year = None
    return [Problem("ocr_year_unconfirmed", "warning", None,
                    f"the report year {year} was read by OCR only once in the text, so it is not used; run this "
                    "report in a batch of its year (--year) to publish it", actual=str(year))]

"""The per-report sequencer: bytes → document → sections → tables → identities → result.

``process_bytes`` never raises for a bad input: every failure becomes a ``failed`` result
with an error code and message, so a batch always goes on.
"""

from __future__ import annotations

import codecs
import hashlib
import time

from nianbao.errors import (
    EmptyFileError,
    FileTooLargeError,
    NianbaoError,
    NotAReportError,
    out_of_memory,
)
from nianbao.extract.mapping import TableResult, map_applications, map_proactive, map_reviews
from nianbao.model import Document
from nianbao.read import read_document, sniff_format
from nianbao.results import CellValue, Problem, ReportResult, SectionOut, Status
from nianbao.segment import ReportMeta, SectionSpan, extract_meta, section_text, segment, table_grids, table_text
from nianbao.segment.meta import year_from_path
from nianbao.template import APPLICANTS
from nianbao.validate.identities import Key, check_non_negative, equations, evaluate, recover_row
from nianbao.validate.ocrgate import CELL_CODES


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sections_out(doc: Document, spans: list[SectionSpan]) -> list[SectionOut]:
    out = []
    for s in spans:
        head = doc.blocks[s.heading]
        out.append(SectionOut(s.section.number, s.section.key, s.heading_text, section_text(doc, s),
                              s.start, s.end, head.origin.page))
    return out


def extract_tables(doc: Document, spans: list[SectionSpan]) -> list[TableResult]:
    """Given a segmented document, return the three mapped tables (grids of each table's section, else the
    grids whose anchors name the table)."""
    tables = [
        map_proactive(table_grids(doc, spans, "proactive_disclosure")),
        map_applications(table_grids(doc, spans, "applications")),
        map_reviews(table_grids(doc, spans, "reviews_litigation")),
    ]
    # No table grid: a text dump whose cells are separated by spaces or run together. Rebuild the rows from
    # the token stream (nianbao.recover.runtogether); rows whose tokens are ambiguous are withheld and flagged.
    from nianbao.recover import runtogether

    recoverers = {"proactive_disclosure": runtogether.recover_proactive,
                  "applications": runtogether.recover_applications,
                  "reviews_litigation": runtogether.recover_reviews}
    for i, t in enumerate(tables):
        if t.cells or not any(p.check == "table_missing" for p in t.problems):
            continue
        text = table_text(doc, spans, t.table)
        recovered = recoverers[t.table](text) if text else None
        if recovered is None:
            continue
        if recovered.cells:
            tables[i] = recovered
        else:  # nothing could be placed: keep the table missing, with the reason why
            t.problems.extend(recovered.problems)
    return tables


def validate_report(tables: list[TableResult]) -> tuple[list[CellValue], list[Problem]]:
    """Given mapped tables, recover rows the identities fix uniquely, then evaluate every identity."""
    cells = [c for t in tables for c in t.cells]
    problems = [p for t in tables for p in t.problems]
    apps = next(t for t in tables if t.table == "applications")
    eqs = equations(apps.version)
    keyed: dict[Key, CellValue] = {(c.table, c.key1, c.key2): c for c in cells}
    columns = tuple(c.key for c in APPLICANTS)
    for key1, row in apps.left_out:
        recovered = recover_row("applications", key1, row, columns, keyed, eqs)
        if recovered is None:
            continue
        for c in recovered:
            keyed[(c.table, c.key1, c.key2)] = c
        cells.extend(recovered)
        n_rec = sum(c.derivation == "identity" for c in recovered)
        problems = [p for p in problems if not (p.check == "row_value_count" and p.key1 == key1)]
        problems.append(Problem(
            "cell_recovered_by_identity", "warning", "applications",
            f"row {key1} printed {len(row.value_cells)} of 7 values; the identities leave exactly one complete row, "
            f"published with {n_rec} cell(s) marked derivation=identity", key1=key1,
            expected="7", actual=str(len(row.value_cells))))
    problems.extend(evaluate(keyed, eqs))
    problems.extend(check_non_negative(cells))
    return cells, problems


def _status(result: ReportResult, doc: Document) -> Status:
    structural = {"table_missing", "unmapped_rows", "row_value_count", "unknown_template", "duplicate_row",
                  "section_missing", "rows_missing", "split_ambiguous", "split_impossible",
                  "dump_row_ambiguous"}
    if any(p.check in structural and p.severity == "error" for p in result.problems) or doc.problems or any(
            p.check == "ocr_unverified" or p.check in CELL_CODES for p in result.problems):  # OCR values withheld
        return "partial"
    return "ok"


def _year_from_path(result: ReportResult) -> Problem:
    """Given a result whose document names no (usable) year, take the year from its file name or folder and
    return the note saying so, or the warning that no year is known (none is ever assumed)."""
    result.report_year = year_from_path(result.source_uri)
    if result.report_year is not None:
        return Problem("year_from_path", "info", None, f"the document prints no report year; {result.report_year} is "
                       "taken from its file name or folder", actual=str(result.report_year))
    return Problem("year_not_found", "warning", None, "no report year in the document (title, statistics period, "
                   "intro), its file name or its folder; none is assumed: run it with --year YEAR")


def segment_report(doc: Document, result: ReportResult) -> list[SectionSpan]:
    """Given a read document, find its sections and fill the result's metadata and sections."""
    spans = segment(doc)
    meta: ReportMeta = extract_meta(doc, spans)
    result.title, result.agency, result.report_year, result.published = (
        meta.title, meta.agency, meta.report_year, meta.published)
    if doc.ocr:
        from nianbao.validate.ocrmeta import check_ocr_meta

        # A year read by OCR counts only when title and text agree (and the file name or folder does not
        # contradict it); otherwise the file name or folder decides. The agency is taken from the title.
        result.problems.extend(check_ocr_meta(doc, result))
    if result.report_year is None:
        result.problems.append(_year_from_path(result))
    result.page_count = doc.page_count
    result.sections = _sections_out(doc, spans)
    return spans


def finish_report(doc: Document, spans: list[SectionSpan], tables: list[TableResult], result: ReportResult
                  ) -> ReportResult:
    """Given the mapped tables, validate them and set the result's cells, problems, templates and status."""
    if not any(t.cells for t in tables):
        with_text = sum(1 for s in spans if section_text(doc, s).strip())
        if with_text < 2:
            # No table and (almost) no section prose: a notice or index page that merely names the sections.
            raise NotAReportError("no template table and fewer than two sections with text found",
                                  source=result.source_uri)
    early = list(result.problems)  # metadata checks of segment_report
    cells, problems = validate_report(tables)
    if doc.ocr:
        from nianbao.validate.ocrgate import gate_ocr

        cells, problems = gate_ocr(tables, cells, problems, doc)
    found = {s.section.number for s in spans}
    for sec in range(1, 7):
        if sec not in found:
            problems.insert(0, Problem("section_missing", "warning" if sec in (1, 5, 6) else "error", None,
                                       f"section {sec} heading not found", key1=str(sec)))
    for rp in doc.problems:
        problems.append(Problem(rp.code, "error", None, rp.message, page=rp.page))
    result.table_templates = {t.table: t.version for t in tables}
    result.template = result.table_templates.get("proactive_disclosure") or result.table_templates.get("applications")
    result.cells = cells
    result.problems = early + problems
    # Numbers stated in the prose vs the tables: warnings only, the status is about extraction.
    from nianbao.validate.textchecks import check_text_vs_table

    result.problems.extend(check_text_vs_table(result))
    if result.error == "year_mismatch":  # an OCR'd year that the file's name or folder contradicts: held back
        result.status, result.cells, result.sections = "failed", [], []
        return result
    result.status = _status(result, doc)
    return result


def process_document(doc: Document, result: ReportResult) -> ReportResult:
    """Given a read document and a result carrying its identity, fill in sections, tables and checks."""
    spans = segment_report(doc, result)
    return finish_report(doc, spans, extract_tables(doc, spans), result)


def fail(result: ReportResult, exc: Exception) -> ReportResult:
    """Record an exception on a result: typed errors keep their code, anything else is an internal error."""
    if isinstance(exc, NianbaoError):
        result.error, result.error_message = exc.code, str(exc)
    else:
        result.error = "internal_error"
        result.error_message = (f"{type(exc).__name__}: {exc} (report {result.source_uri}); "
                                "please file a bug with this file")
    result.status = "failed"
    result.cells, result.sections = [], []
    return result


def open_report(data: bytes, source_uri: str, *, max_file_bytes: int = 200 * 1024 * 1024, max_pages: int = 500,
                ocr: bool = True, pdf_text_source: str | None = None) -> tuple[ReportResult, Document | None]:
    """Given bytes, return a fresh result and the document read from them (None, with the result failed,
    when the bytes cannot be read)."""
    result = ReportResult(report_id=sha256_hex(data), source_uri=source_uri, source_format=None,
                          source_bytes=len(data))
    try:
        if not data.removeprefix(codecs.BOM_UTF8).strip():
            raise EmptyFileError("the file is empty", source=source_uri)
        if len(data) > max_file_bytes:
            raise FileTooLargeError(f"{len(data)} bytes exceed the limit of {max_file_bytes}", source=source_uri)
        fmt = sniff_format(data, source_uri)
        result.source_format = fmt
        return result, read_document(data, source_uri, fmt, max_pages=max_pages, ocr=ocr,
                                     pdf_text_source=pdf_text_source)
    except Exception as exc:
        if out_of_memory(exc):  # the parsing process's memory cap, not a bad input: recorded as memory_limit
            raise MemoryError(str(exc)) from exc
        return fail(result, exc), None


def process_bytes(data: bytes, source_uri: str, *, max_file_bytes: int = 200 * 1024 * 1024,
                  max_pages: int = 500, ocr: bool = True, pdf_text_source: str | None = None) -> ReportResult:
    """Given the bytes of one input and where they came from, return its result; never raises for bad input.
    ``ocr``: read scanned pages and pictures of tables by OCR (setting ``ocr``); ``pdf_text_source``: the
    library that reads a PDF's pages (setting ``pdf_text_source``; None: the PDF reader's default)."""
    started = time.perf_counter()
    result, doc = open_report(data, source_uri, max_file_bytes=max_file_bytes, max_pages=max_pages, ocr=ocr,
                              pdf_text_source=pdf_text_source)
    if doc is not None:
        try:
            process_document(doc, result)
        except Exception as exc:
            if out_of_memory(exc):  # as above
                raise MemoryError(str(exc)) from exc
            fail(result, exc)
    result.seconds = time.perf_counter() - started
    return result

"""The per-report sequencer: bytes → document → sections → tables → identities → result.

``process_bytes`` never raises for a bad input: every failure becomes a ``failed`` result
with an error code and message, so a batch always goes on.
"""

from __future__ import annotations

import codecs
import hashlib
import time
import zipfile
from io import BytesIO
from pathlib import Path

from nianbao.errors import (
    EmptyFileError,
    FileTooLargeError,
    NeedsOcrError,
    NianbaoError,
    NotAReportError,
    UnsupportedFormatError,
)
from nianbao.extract.mapping import TableResult, map_applications, map_proactive, map_reviews
from nianbao.model import Document, Grid, SourceFormat
from nianbao.results import CellValue, Problem, ReportResult, SectionOut, Status
from nianbao.segment import ReportMeta, SectionSpan, extract_meta, section_grids, section_text, segment
from nianbao.template import APPLICANTS
from nianbao.validate.identities import Key, check_non_negative, equations, evaluate, recover_row
from nianbao.validate.ocrgate import CELL_CODES


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff_format(data: bytes, name: str = "") -> SourceFormat:
    """Given the first bytes of a file (and its name as a hint only), return its format."""
    head = data[:2048]
    if head.startswith(b"%PDF") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(BytesIO(data)) as z:
                if "word/document.xml" in z.namelist():
                    return "docx"
        except zipfile.BadZipFile:
            pass
        raise UnsupportedFormatError("a ZIP archive that is not a DOCX document", source=name)
    if head.startswith((b"\xd0\xcf\x11\xe0", b"{\\rtf")):
        return "doc"
    lowered = head.lower()
    if any(tag in lowered for tag in (b"<html", b"<!doctype html", b"<body", b"<table", b"<meta", b"<div", b"<p>")):
        return "html"
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnsupportedFormatError("binary content of an unknown type", source=name)
    return "text"


def read_document(data: bytes, source: str, fmt: SourceFormat, *, max_pages: int = 500, ocr: bool = True
                  ) -> Document:
    """Given bytes and their sniffed format, return the document model (readers imported lazily). A PDF
    page that shows an image instead of text, and a picture on a page with text, is read by OCR when ``ocr``
    is on (``nianbao.read.ocr``)."""
    if fmt == "text":
        from nianbao.read.text import read_text
        return read_text(data, source)
    if fmt == "html":
        from nianbao.read.html import read_html
        return read_html(data, source)
    if fmt == "pdf":
        from nianbao.read.ocr import INSTALL_HINT, ocr_missing, read_pdf_ocr
        from nianbao.read.pdf import read_pdf

        missing = ocr_missing() if ocr else "OCR is switched off (setting `ocr`)"
        if missing is None:
            return read_pdf_ocr(data, source, max_pages=max_pages)
        try:
            return read_pdf(data, source, max_pages=max_pages)
        except NeedsOcrError as exc:
            raise NeedsOcrError(f"no page of the PDF has a text layer and {missing}; to read scanned reports "
                                f"{'turn it on' if not ocr else 'install OCR'} (OCR needs: {INSTALL_HINT})",
                                source=source) from exc
    if fmt == "docx":
        from nianbao.read.docx import read_docx
        return read_docx(data, source)
    if "EncryptedPackage".encode("utf-16-le") in data[:1 << 20]:
        from nianbao.errors import EncryptedDocumentError

        raise EncryptedDocumentError("a password-protected Office document", source=source)
    from nianbao.read.legacy import read_legacy
    suffix = ".rtf" if data.startswith(b"{\\rtf") else (Path(source).suffix.lower() or ".doc")
    return read_legacy(data, suffix, source)


def _sections_out(doc: Document, spans: list[SectionSpan]) -> list[SectionOut]:
    out = []
    for s in spans:
        head = doc.blocks[s.heading]
        out.append(SectionOut(s.section.number, s.section.key, s.heading_text, section_text(doc, s),
                              s.start, s.end, head.origin.page))
    return out


def _grids_for(doc: Document, spans: dict[int, SectionSpan], number: int) -> list[Grid]:
    span = spans.get(number)
    return section_grids(doc, span) if span else []


def extract_tables(doc: Document, spans: list[SectionSpan]) -> list[TableResult]:
    """Given a segmented document, return the three mapped tables."""
    by_no = {s.section.number: s for s in spans}
    tables = [
        map_proactive(_grids_for(doc, by_no, 2)),
        map_applications(_grids_for(doc, by_no, 3)),
        map_reviews(_grids_for(doc, by_no, 4)),
    ]
    # A section with prose but no table grid: a crawler dump whose cells ran together. Recover only
    # what the identities make unique (nianbao.recover.runtogether); otherwise the table stays missing.
    from nianbao.recover import runtogether

    recoverers = {"proactive_disclosure": (2, runtogether.recover_proactive),
                  "applications": (3, runtogether.recover_applications),
                  "reviews_litigation": (4, runtogether.recover_reviews)}
    for i, t in enumerate(tables):
        number, recover = recoverers[t.table]
        if not t.cells and any(p.check == "table_missing" for p in t.problems) and number in by_no:
            recovered = recover(section_text(doc, by_no[number]))
            if recovered is not None and recovered.cells:
                tables[i] = recovered
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
                  "section_missing", "rows_missing", "split_ambiguous", "split_impossible"}
    if any(p.check in structural and p.severity == "error" for p in result.problems) or doc.problems or any(
            p.check == "ocr_unverified" or p.check in CELL_CODES for p in result.problems):  # OCR values withheld
        return "partial"
    return "ok"


def segment_report(doc: Document, result: ReportResult) -> list[SectionSpan]:
    """Given a read document, find its sections and fill the result's metadata and sections."""
    spans = segment(doc)
    meta: ReportMeta = extract_meta(doc, spans)
    result.title, result.agency, result.report_year, result.published = (
        meta.title, meta.agency, meta.report_year, meta.published)
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
    cells, problems = validate_report(tables)
    if doc.ocr:
        from nianbao.validate.ocrgate import gate_ocr
        from nianbao.validate.ocrmeta import check_ocr_meta

        cells, problems = gate_ocr(tables, cells, problems, doc)
        problems.extend(check_ocr_meta(doc, result))
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
    result.problems = problems
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
                ocr: bool = True) -> tuple[ReportResult, Document | None]:
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
        return result, read_document(data, source_uri, fmt, max_pages=max_pages, ocr=ocr)
    except Exception as exc:
        return fail(result, exc), None


def process_bytes(data: bytes, source_uri: str, *, max_file_bytes: int = 200 * 1024 * 1024,
                  max_pages: int = 500, ocr: bool = True) -> ReportResult:
    """Given the bytes of one input and where they came from, return its result; never raises for bad input.
    ``ocr``: read scanned (image-only) PDFs with tesseract (setting ``ocr``)."""
    started = time.perf_counter()
    result, doc = open_report(data, source_uri, max_file_bytes=max_file_bytes, max_pages=max_pages, ocr=ocr)
    if doc is not None:
        try:
            process_document(doc, result)
        except Exception as exc:
            fail(result, exc)
    result.seconds = time.perf_counter() - started
    return result

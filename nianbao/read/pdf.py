"""PDF reports (with a text layer) into the document model.

A PDF library reads each page's glyphs and painted paths into a ``PageContent``
(``nianbao.read.pdfpage``: scans, fake bold, unmapped glyphs and ruling lines are handled there, the
same for every library); the layout engine (``nianbao.read.layout``) turns the pages into a
``TextBlock`` per paragraph and a ``Grid`` per table fragment, every block and cell with its page and
bbox. Pure: no I/O besides the bytes given, no prefect.

Two sources of glyphs and paths (argument ``text_source``, setting ``pdf_text_source``):

- ``"pdfplumber"``: pdfplumber's ``page.chars`` / ``lines`` / ``rects`` / ``curves`` / ``images``
  (pdfminer interprets the content streams in Python: about 85 % of the reader's time).
- ``"pdfium"``: pypdfium2's text page and page objects (``nianbao.read.pdfium``), the same glyph boxes
  and paths computed in C. pdfplumber (pdfminer's object layer only, no content stream) still opens
  the file in both cases: the encryption and corruption errors, the page tree and page count, the
  title and the font descriptors are the same whichever source reads the pages.

Text is kept raw (no NFKC); white and light-grey text (hidden text, watermarks) is left out.
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import TYPE_CHECKING, Any, Literal

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.utils import PDFDocEncoding

from nianbao.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedPdfError,
    NeedsOcrError,
    PageLimitError,
    UnreadableFontError,
)
from nianbao.model import Document, ReaderProblem
from nianbao.read.layout import PageLayout, assemble
from nianbao.read.pdfpage import Glyph, OcrHook, OcrRequest, PageContent, lay_out

if TYPE_CHECKING:
    from nianbao.read.pdfium import PdfiumPages

__all__ = ["DEFAULT_TEXT_SOURCE", "TEXT_SOURCES", "OcrHook", "OcrRequest", "TextSource", "read_pdf", "text_source"]

TextSource = Literal["pdfplumber", "pdfium"]
TEXT_SOURCES: tuple[TextSource, ...] = ("pdfplumber", "pdfium")
# pdfium publishes exactly what pdfplumber does on every test and benchmark PDF (tests/test_pdf_sources.py)
# in about a third of the time (bench/report.md); the setting pdf_text_source chooses pdfplumber instead.
DEFAULT_TEXT_SOURCE: TextSource = "pdfium"


def text_source(name: str | None) -> TextSource:
    """Given a source name (setting ``pdf_text_source``; None: ``DEFAULT_TEXT_SOURCE``), return it as a
    ``TextSource``; raise ``ValueError`` naming the valid ones otherwise."""
    if name is None:
        return DEFAULT_TEXT_SOURCE
    for s in TEXT_SOURCES:
        if s == name:
            return s
    raise ValueError(f"pdf_text_source must be one of {', '.join(TEXT_SOURCES)}, not {name!r}")

_CID = re.compile(r"^\(cid:\d+\)$")
_DEVICE_SPACES = ("DeviceGray", "DeviceRGB", "DeviceCMYK", "CalGray", "CalRGB")


# --------------------------------------------------------------------------------------------
# Glyphs and paths from pdfplumber
# --------------------------------------------------------------------------------------------

def _faint(c: dict[str, Any]) -> bool:
    """White or light-grey text (hidden text, watermarks) in a device colour space."""
    ncs = str(c.get("ncs") or "")
    if not any(d in ncs for d in _DEVICE_SPACES):
        return False
    col = c.get("non_stroking_color")
    vals = [float(v) for v in col if isinstance(v, (int, float))] if isinstance(col, (tuple, list)) else (
        [float(col)] if isinstance(col, (int, float)) else [])
    if not vals:
        return False
    if "CMYK" in ncs or len(vals) == 4:
        return max(vals) <= 0.2
    return min(vals) >= 0.8


def _plumber_content(page: Any) -> PageContent:
    """A pdfplumber page as ``PageContent``."""
    glyphs = [Glyph(c["text"], float(c["x0"]), float(c["x1"]), float(c["top"]), float(c["bottom"]),
                    float(c["doctop"]), float(c.get("size") or 0.0), c.get("fontname"), c.get("upright"),
                    bool(_CID.match(c["text"])))
              for c in page.chars if c["text"].strip() and not _faint(c)]
    images = [(float(i["x0"]), float(i["top"]), float(i["x1"]), float(i["bottom"])) for i in page.images]
    pixels = [float(i["srcsize"][0]) if i.get("srcsize") else None for i in page.images]
    return PageContent(float(page.width), float(page.height), glyphs, page.lines, page.rects, page.curves, images,
                       pixels)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

_PDFDOC_BYTES: dict[str, int] = {}
for _i, _c in enumerate(PDFDocEncoding):
    _PDFDOC_BYTES.setdefault(_c, _i)


def _meta_text(v: Any) -> str | None:
    """A document-info string; UTF-16LE with a BOM (WPS writes it, pdfminer reads it as PDFDocEncoding)
    is decoded."""
    if not isinstance(v, str) or not v.strip():
        return None
    s = v
    if s.startswith(("\u00ff\u00fe", "\u00fe\u00ff")):
        try:
            s = bytes(_PDFDOC_BYTES[c] for c in s).decode("utf-16")
        except (KeyError, UnicodeDecodeError):
            return None
    s = s.strip("\x00").strip()
    return s or None


def _open(data: bytes, source: str, password: str | None) -> Any:
    try:
        return pdfplumber.open(io.BytesIO(data), password=password or "")
    except Exception as exc:  # pdfplumber wraps pdfminer errors in PdfminerException
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
        if isinstance(inner, (PDFPasswordIncorrect, PDFEncryptionError)) or isinstance(
                exc, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise EncryptedPdfError("the PDF is encrypted" + (" and the password is wrong" if password else ""),
                                    source=source) from exc
        raise CorruptFileError(f"the PDF cannot be parsed ({type(inner).__name__}: {inner})", source=source) from exc


def _reraise_memory_error(exc: BaseException) -> None:
    """Running out of memory (the isolation child's cap) is not a damaged page: let it through, also when
    pdfplumber wrapped pdfminer's MemoryError in its own exception, so the report is recorded as
    ``memory_limit`` and not as ``corrupt``."""
    seen: BaseException | None = exc
    for _ in range(8):  # a short chain; never loop on a cyclic context
        if seen is None:
            return
        if isinstance(seen, MemoryError):
            raise seen
        wrapped = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = wrapped or seen.__cause__ or seen.__context__


def read_pdf(data: bytes, source: str = "", *, max_pages: int = 500, password: str | None = None,
             text_source: TextSource = DEFAULT_TEXT_SOURCE, ocr: OcrHook | None = None) -> Document:
    """Given the bytes of a PDF, return its document model (text lines and table grids, page by page),
    the pages read by ``text_source`` (``"pdfplumber"`` or ``"pdfium"``; the same document either way).

    Raises ``EmptyFileError``, ``CorruptFileError`` (truncated, not a PDF), ``EncryptedPdfError``,
    ``PageLimitError`` (more than ``max_pages``), ``NeedsOcrError`` (no page has a text layer) and
    ``UnreadableFontError`` (every page with text has unmapped ``(cid:N)`` glyphs). Single unreadable
    pages are reported as ``ReaderProblem`` (``needs_ocr`` / ``unreadable_font``) and yield no blocks.
    ``ocr``: the OCR reader's hook (``nianbao.read.ocr.read_pdf_ocr``) for scanned pages and pictures.
    """
    if not data:
        raise EmptyFileError("the PDF is empty (0 bytes)", source=source)
    if b"%PDF-" not in data[:1024]:
        raise CorruptFileError("not a PDF (no %PDF- header)", source=source)
    pdf = _open(data, source, password)
    pdfium: PdfiumPages | None = None
    try:
        try:
            pages = pdf.pages
        except Exception as exc:
            _reraise_memory_error(exc)
            inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
            raise CorruptFileError(f"the PDF's page tree cannot be read ({type(inner).__name__})",
                                   source=source) from exc
        n_pages = len(pages)
        if n_pages == 0:
            raise CorruptFileError("the PDF has no pages (truncated?)", source=source)
        if n_pages > max_pages:
            raise PageLimitError(f"the PDF has {n_pages} pages, more than max_pages={max_pages}", source=source)
        if text_source == "pdfium":
            from nianbao.read.pdfium import PdfiumPages

            pdfium = PdfiumPages(data, password, pages)
            if not pdfium.ok:  # pdfium cannot open it or counts other pages: pdfplumber reads it
                pdfium.close()
                pdfium = None
        outs: list[PageLayout] = []
        problems: list[ReaderProblem] = []
        for k, page in enumerate(pages):
            try:
                content = pdfium.content(k) if pdfium is not None else _plumber_content(page)
                po = lay_out(content, page.page_number, outs[-1].carry if outs else (), ocr)
            except Exception as exc:  # a damaged content stream: the page is lost, the rest is kept
                _reraise_memory_error(exc)
                problem = ReaderProblem("corrupt_page", f"page {page.page_number} cannot be read "
                                        f"({type(exc).__name__}: {exc})", page.page_number)
                po = PageLayout(page.page_number, [], {}, [problem], False)
            finally:
                page.close()
            outs.append(po)
            problems.extend(po.problems)
        title = _meta_text(pdf.metadata.get("Title"))
    finally:
        if pdfium is not None:
            pdfium.close()
        with contextlib.suppress(Exception):
            pdf.close()
    if not any(po.text for po in outs):
        codes = {p.code for p in problems}
        if "corrupt_page" in codes and not codes - {"corrupt_page"}:
            raise CorruptFileError("no page of the PDF can be read", source=source)
        if "unreadable_font" in codes:
            raise UnreadableFontError("no page has text with a usable Unicode mapping", source=source,
                                      page=next(p.page for p in problems if p.code == "unreadable_font"))
        raise NeedsOcrError("no page of the PDF has a text layer", source=source)
    return assemble(outs, title, problems, n_pages)



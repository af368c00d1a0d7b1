"""Readers: each turns the bytes of one input format into the document model.

This module holds the ONE list of supported formats (``FORMATS``: format -> file suffixes) and the one
sniffer (``sniff_format``): a folder walk, the cache and the pipeline all ask here. The format is decided
from the bytes; the file name is only a hint (``.md`` / ``.markdown`` for Markdown, whose bytes are plain
text). ``read_document`` dispatches to the readers, imported lazily.
"""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Final

from nianbao.errors import NeedsOcrError, UnsupportedFormatError
from nianbao.model import Document, SourceFormat

FORMATS: Final[dict[SourceFormat, tuple[str, ...]]] = {
    "pdf": (".pdf",),
    "docx": (".docx",),
    "doc": (".doc", ".wps", ".rtf"),
    "html": (".html", ".htm", ".shtml", ".xhtml"),
    "markdown": (".md", ".markdown"),
    "text": (".txt",),
}
SUFFIXES: Final[frozenset[str]] = frozenset(s for suffixes in FORMATS.values() for s in suffixes)
_HTML_DOC = (b"<html", b"<!doctype html", b"<body")
_HTML_TAGS = (b"<table", b"<meta", b"<div", b"<p>")
# Markdown structure: an ATX heading, or the delimiter row of a pipe table.
_MD_HEADING = re.compile(rb"^#{1,6}[ \t]+\S", re.MULTILINE)
_MD_TABLE_RULE = re.compile(rb"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)+\|?[ \t]*$", re.MULTILINE)


def looks_like_markdown(head: bytes) -> bool:
    """Given the first bytes of a text file, True when it has Markdown structure (two ``#`` headings, or a
    heading and a pipe-table delimiter row, or two delimiter rows)."""
    headings = len(_MD_HEADING.findall(head))
    rules = len(_MD_TABLE_RULE.findall(head))
    return headings >= 2 or (headings >= 1 and rules >= 1) or rules >= 2


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
    if any(tag in lowered for tag in _HTML_DOC):
        return "html"
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        if any(tag in lowered for tag in _HTML_TAGS):
            return "html"
        raise UnsupportedFormatError("binary content of an unknown type", source=name)
    suffix = Path(name.split("?")[0]).suffix.lower()
    if suffix in FORMATS["markdown"] or looks_like_markdown(data[:8192]):
        return "markdown"  # Markdown may embed <table>: decided before the HTML tag test
    if any(tag in lowered for tag in _HTML_TAGS):
        return "html"
    return "text"


def read_document(data: bytes, source: str, fmt: SourceFormat, *, max_pages: int = 500, ocr: bool = True
                  ) -> Document:
    """Given bytes and their sniffed format, return the document model (readers imported lazily). A PDF
    page that shows an image instead of text, and a picture on a page with text, is read by OCR when ``ocr``
    is on (``nianbao.read.ocr``)."""
    if fmt == "text":
        from nianbao.read.text import read_text
        return read_text(data, source)
    if fmt == "markdown":
        from nianbao.read.markdown import read_markdown
        return read_markdown(data, source)
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


# Formats sniffing recognises by their own magic bytes (as opposed to "text", which any bytes without a
# NUL are): a file found under a data or image name (.json, .png) is read only when it is one of these.
MAGIC_FORMATS: Final[frozenset[str]] = frozenset({"pdf", "docx"})

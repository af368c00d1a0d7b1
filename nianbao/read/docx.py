"""DOCX (Office Open XML) into the document model.

The package is opened with python-docx, but the body is read from its XML directly: body
paragraphs (``w:p``) and tables (``w:tbl``) in document order. Paragraphs become one
``TextBlock`` each (empty ones are skipped; ``Origin.line`` is the 1-based ordinal of the
paragraph among all body paragraphs, empty ones included). Tables become a positional ``Grid``
where a merged cell is ONE ``Cell`` with its colspan (``w:gridSpan``, legacy ``w:hMerge``) and
rowspan (``w:vMerge`` restart/continue): python-docx's ``row.cells`` repeats a merged cell at
every grid position it covers (extraction-notes trap 11), so it is not used. Cell text is the
text of the cell's paragraphs joined without separator, stripped; nested tables are flattened
into the text of their cell. Headers, footers, footnotes, comments and deleted (tracked) text
are ignored.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Imported at module level: importing ``docx`` registers its part classes, which must be complete before
# any thread opens a package (a lazy import here raced in threaded batches).
from docx.package import Package

from nianbao.errors import CorruptFileError, EmptyFileError, EncryptedDocumentError, FileTooLargeError
from nianbao.model import Block, Cell, Document, Grid, Origin, ReaderProblem, TextBlock

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _q(tag: str) -> str:
    return f"{{{_W}}}{tag}"


_P, _TBL, _TR, _TC, _SDT, _SDT_CONTENT, _CUSTOM_XML = (
    _q("p"), _q("tbl"), _q("tr"), _q("tc"), _q("sdt"), _q("sdtContent"), _q("customXml"))
_T, _TAB, _BR, _CR, _NB_HYPHEN, _PTAB = _q("t"), _q("tab"), _q("br"), _q("cr"), _q("noBreakHyphen"), _q("ptab")
_TXBX, _ALT_CHUNK = _q("txbxContent"), _q("altChunk")
_TCPR, _TRPR, _GRID_SPAN, _VMERGE, _HMERGE = _q("tcPr"), _q("trPr"), _q("gridSpan"), _q("vMerge"), _q("hMerge")
_GRID_BEFORE, _GRID_AFTER = _q("gridBefore"), _q("gridAfter")
_VAL = _q("val")
# Content that is not printed text of the paragraph: tracked deletions, paragraph/run properties
# (which hold tracked-change history), field instructions, and the fallback copy of alternate content.
_SKIP = {_q("del"), _q("moveFrom"), _q("pPr"), _q("rPr"), _q("instrText"), _q("delText"), _q("delInstrText"),
         f"{{{_MC}}}Fallback"}

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
_WML_MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
    "application/vnd.ms-word.document.macroEnabled.main+xml",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
}


def read_docx(data: bytes, source: str = "") -> Document:
    """Given the bytes of a .docx file, return its body as a Document (source_format "docx").

    Raises ``EmptyFileError`` for empty input and ``CorruptFileError`` when the bytes are not a
    readable DOCX (not a zip, no main document part, an encrypted Office file, a legacy OLE .doc).
    """
    body = _open_body(data, source)
    reader = _BodyReader()
    reader.read_container(body)
    return Document(blocks=reader.blocks, source_format="docx", problems=reader.problems)


MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 100


def _check_unpacked_size(data: bytes, source: str) -> None:
    """Refuse a zip bomb from its directory alone, before anything is decompressed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptFileError(f"not a readable DOCX ({exc})", source=source) from exc
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED_BYTES:
        raise FileTooLargeError(f"the DOCX unpacks to {total} bytes (limit {MAX_UNPACKED_BYTES})", source=source)
    for i in infos:
        if i.file_size > 10 * 1024 * 1024 and i.file_size > MAX_RATIO * max(1, i.compress_size):
            raise FileTooLargeError(f"DOCX member {i.filename} expands {i.file_size // max(1, i.compress_size)}:1 "
                                    f"to {i.file_size} bytes: refused as a zip bomb", source=source)


def _open_body(data: bytes, source: str) -> Any:
    if not data:
        raise EmptyFileError("empty DOCX file", source=source)
    if data.startswith(OLE_MAGIC):
        if ENCRYPTED_STREAM in data:
            raise EncryptedDocumentError("encrypted Office document (password-protected DOCX)", source=source)
        raise CorruptFileError("an OLE compound file (legacy .doc/.wps), not a DOCX: read it as .doc",
                               source=source)
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise CorruptFileError("not a DOCX: the file is not a zip archive", source=source)
    _check_unpacked_size(data, source)
    try:
        package = Package.open(io.BytesIO(data))
        part = package.main_document_part
    except Exception as exc:  # python-docx raises KeyError/ValueError/zip errors/XML errors here
        raise CorruptFileError(f"not a readable DOCX ({type(exc).__name__}: {exc})", source=source) from exc
    if part.content_type not in _WML_MAIN_TYPES:
        raise CorruptFileError(f"not a Word document (main part is {part.content_type})", source=source)
    try:
        element = part.element
    except Exception as exc:
        raise CorruptFileError(f"word/document.xml is not readable ({type(exc).__name__}: {exc})",
                               source=source) from exc
    body = element.find(_q("body"))
    if body is None:
        raise CorruptFileError("word/document.xml has no body", source=source)
    return body


def _text_parts(el: Any, out: list[str], boxes: list[Any] | None) -> None:
    """Append the printed text under ``el`` to ``out``; text-box contents go to ``boxes`` (or are dropped)."""
    for child in el:
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIP:
            continue
        if tag == _T:
            out.append(child.text or "")
        elif tag in (_TAB, _PTAB):
            out.append("\t")
        elif tag in (_BR, _CR):
            if child.get(_q("type")) in (None, "textWrapping"):
                out.append("\n")
        elif tag == _NB_HYPHEN:
            out.append("-")
        elif tag == _TXBX:
            if boxes is not None:
                boxes.append(child)
        else:
            _text_parts(child, out, boxes)


def _paragraph_text(p: Any, boxes: list[Any] | None = None) -> str:
    out: list[str] = []
    _text_parts(p, out, boxes)
    return "".join(out)


def _children(container: Any) -> Iterator[Any]:
    """Yield the block-level children (w:p, w:tbl, w:tc …) of a container, unwrapping content controls."""
    for child in container:
        if child.tag in (_SDT, _CUSTOM_XML):
            inner = child.find(_SDT_CONTENT) if child.tag == _SDT else child
            if inner is not None:
                yield from _children(inner)
        else:
            yield child


def _flat_text(container: Any) -> str:
    """Text of every paragraph under a container (cell, nested table, text box), joined without separator."""
    parts: list[str] = []
    for child in _children(container):
        if child.tag == _P:
            boxes: list[Any] = []
            parts.append(_paragraph_text(child, boxes).replace("\n", ""))
            parts.extend(_flat_text(b) for b in boxes)
        elif child.tag == _TBL:
            for tr in _children(child):
                if tr.tag == _TR:
                    for tc in _children(tr):
                        if tc.tag == _TC:
                            parts.append(_flat_text(tc))
    return "".join(parts)


def _int_val(el: Any, default: int) -> int:
    if el is None:
        return default
    try:
        return max(int(el.get(_VAL, default)), 0)
    except ValueError:
        return default


@dataclass
class _OpenCell:
    text: str
    row: int
    col: int
    rowspan: int
    colspan: int


def read_table(tbl: Any) -> Grid:
    """Given a ``w:tbl`` element, return its Grid with merged cells as single cells."""
    cells: list[_OpenCell] = []
    # Top cell of each vertical merge still open, by starting grid column.
    open_v: dict[int, _OpenCell] = {}
    r = 0
    for tr in _children(tbl):
        if tr.tag != _TR:
            continue
        tr_pr = tr.find(_TRPR)
        if tr_pr is not None and tr_pr.find(_q("del")) is not None:
            continue  # a row deleted with tracked changes is not printed
        col = _int_val(tr_pr.find(_GRID_BEFORE), 0) if tr_pr is not None else 0
        row_cells: list[_OpenCell] = []
        still_open: dict[int, _OpenCell] = {}
        for tc in _children(tr):
            if tc.tag != _TC:
                continue
            tc_pr = tc.find(_TCPR)
            span = max(_int_val(tc_pr.find(_GRID_SPAN), 1), 1) if tc_pr is not None else 1
            vmerge = tc_pr.find(_VMERGE) if tc_pr is not None else None
            hmerge = tc_pr.find(_HMERGE) if tc_pr is not None else None
            text = _flat_text(tc).strip()
            if hmerge is not None and hmerge.get(_VAL) != "restart" and row_cells \
                    and row_cells[-1].col + row_cells[-1].colspan == col:
                prev = row_cells[-1]  # legacy horizontal merge: widen the cell on the left
                prev.colspan += span
                prev.text += text
                col += span
                continue
            if vmerge is not None and vmerge.get(_VAL, "continue") == "continue":
                top = open_v.get(col)
                if top is not None and top.row + top.rowspan == r and top.colspan == span:
                    top.rowspan += 1
                    top.text += text
                    still_open[col] = top
                    col += span
                    continue
            cell = _OpenCell(text, r, col, 1, span)
            cells.append(cell)
            row_cells.append(cell)
            if vmerge is not None:
                still_open[col] = cell
            col += span
        open_v = still_open
        r += 1
    return Grid(cells=[Cell(c.text, c.row, c.col, c.rowspan, c.colspan) for c in cells], positional=True)


class _BodyReader:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.problems: list[ReaderProblem] = []
        self.paragraphs = 0

    def read_container(self, container: Any) -> None:
        for child in _children(container):
            if child.tag == _P:
                self.paragraphs += 1
                ordinal = self.paragraphs
                boxes: list[Any] = []
                text = _paragraph_text(child, boxes).strip()
                if text:
                    self.blocks.append(TextBlock(text, Origin(line=ordinal)))
                for box in boxes:  # text boxes anchored in the paragraph, after it
                    self.read_container(box)
            elif child.tag == _TBL:
                grid = read_table(child)
                if grid.cells:
                    self.blocks.append(grid)
            elif child.tag == _ALT_CHUNK and not self.problems:
                self.problems.append(ReaderProblem(
                    "docx_alt_chunk", "the DOCX embeds content as an altChunk (imported HTML/RTF), which is not "
                    "read; open and re-save the file in Word or LibreOffice to inline it"))

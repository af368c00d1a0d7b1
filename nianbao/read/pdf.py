"""PDF reports (with a text layer) into the document model.

pdfplumber (pdfminer) gives the characters and drawn shapes of each page; the layout engine
(``nianbao.read.layout``) turns them into a ``TextBlock`` per paragraph and a ``Grid`` per table fragment,
every block and cell with its page and bbox. Pure: no I/O besides the bytes given, no prefect.

Per page, what this reader gives the engine:

1. **Characters.** ``page.chars`` without whitespace and without white / light-grey text (hidden text,
   watermarks), deduplicated by the rule of ``page.dedupe_chars()`` (same text/font/size within 1 pt:
   fake bold drawn twice becomes one character) in O(n log n) instead of its quadratic re-sort.
   ``(cid:N)`` glyphs become U+FFFD so they can never parse as numbers. Text is kept raw (no NFKC).
2. **Rules.** Visible strokes only: stroked lines, stroked rectangles and thin filled rectangles. Filled
   areas (white text backgrounds as WPS draws them, coloured header shading) are not rules; diagonals
   are ignored.

The engine then finds ruled tables (lattices), unruled tables and text lines, and assembles the pages
(running headers, tables continued over pages, paragraphs): see ``nianbao.read.layout``. Pages without
text (or a page-size image with a stamped page number) are ``needs_ocr`` problems.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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
from nianbao.read.layout import Char, PageLayout, Rule, assemble, cluster, layout_page, merge_rules

__all__ = ["OcrHook", "OcrRequest", "read_pdf"]

_CID = re.compile(r"^\(cid:\d+\)$")
_THIN = 3.0  # a filled rectangle at most this thick is a rule
_MIN_RULE = 2.0
_SCAN_SHARE = 0.5  # images covering half the page ...
_SCAN_MAX_CHARS = 40  # ... with fewer characters than this (a stamped page number): a scan
_PICTURE_SHARE = 0.05  # with an OCR hook, an image covering this share of a page is read (a pasted table)


@dataclass
class OcrRequest:
    """A page (or the pictures on it) to be read by OCR: what the text layer gave (characters outside the
    regions, rules) and the regions to read (bboxes in points; the whole page for a scan)."""

    page_no: int
    width: float
    height: float
    chars: list[Char]
    hs: list[Rule]
    vs: list[Rule]
    regions: list[tuple[float, float, float, float]]
    carry: Sequence[float]
    problems: list[ReaderProblem]
    dpi: float | None = None  # resolution of the largest image in the regions (pixels per inch), if known


# Reads the regions of a page by OCR and lays the page out (``nianbao.read.ocr``); None: no OCR.
OcrHook = Callable[[OcrRequest], PageLayout]


def _image_dpi(page: Any) -> float | None:
    """Pixels per inch of the page's largest image (its own resolution, as placed on the page)."""
    best = max(page.images, key=lambda i: float(i["x1"]) - float(i["x0"]), default=None)
    if best is None or not best.get("srcsize") or float(best["x1"]) - float(best["x0"]) <= 0:
        return None
    return float(best["srcsize"][0]) / (float(best["x1"]) - float(best["x0"])) * 72.0


def _pictures(page: Any, area: float, raw: list[dict[str, Any]]) -> list[tuple[float, float, float, float]]:
    """Bboxes (clipped to the page) of the images covering at least ``_PICTURE_SHARE`` of it with (almost)
    no text drawn over them: a background or letterhead image under the text is not a picture to read."""
    w, h = float(page.width), float(page.height)
    out = []
    for i in page.images:
        x0, top = max(0.0, float(i["x0"])), max(0.0, float(i["top"]))
        x1, bottom = min(w, float(i["x1"])), min(h, float(i["bottom"]))
        over = sum(1 for c in raw if x0 <= (float(c["x0"]) + float(c["x1"])) / 2 <= x1
                   and top <= (float(c["top"]) + float(c["bottom"])) / 2 <= bottom)
        if (x1 - x0) * (bottom - top) >= _PICTURE_SHARE * area and over < 5:
            out.append((x0, top, x1, bottom))
    return out
_UNREADABLE_SHARE = 0.10  # pages with more (cid:N) glyphs than this share are not read at all


# --------------------------------------------------------------------------------------------
# Characters and rules from pdfplumber
# --------------------------------------------------------------------------------------------

def _dedupe(chars: list[dict[str, Any]], tol: float = 1.0) -> list[dict[str, Any]]:
    """Remove overprinted duplicates (fake bold): the rule of ``pdfplumber``'s ``dedupe_chars(tolerance=1)``
    (same upright/text/fontname/size, doctop and x0 within ``tol``: keep the first), in O(n log n)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, c in enumerate(chars):
        groups.setdefault((c.get("upright"), c["text"], c.get("fontname"), c.get("size")), []).append(i)
    keep: list[int] = []
    for idxs in groups.values():
        if len(idxs) == 1:
            keep.append(idxs[0])
            continue
        for ycl in cluster(idxs, lambda i: float(chars[i]["doctop"]), tol):
            for xcl in cluster(ycl, lambda i: float(chars[i]["x0"]), tol):
                keep.append(min(xcl, key=lambda i: (chars[i]["doctop"], chars[i]["x0"], i)))
    if len(keep) == len(chars):
        return chars
    keep.sort()
    return [chars[i] for i in keep]




def _visible(color: Any) -> bool:
    """False for white (or no) paint; True for anything else, including patterns and unknown values."""
    if color is None:
        return True
    if isinstance(color, (int, float)):
        return float(color) < 0.95
    if isinstance(color, (tuple, list)):
        vals = [v for v in color if isinstance(v, (int, float))]
        if not vals:
            return True
        if len(vals) == 4:  # CMYK: white is all zero
            return max(vals) > 0.05
        return min(vals) < 0.95
    return True


def _page_rules(page: Any) -> tuple[list[Rule], list[Rule]]:
    """Visible horizontal and vertical rule segments of a page (top-down coordinates)."""
    hs: list[Rule] = []
    vs: list[Rule] = []

    def seg(x0: float, y0: float, x1: float, y1: float) -> None:
        if abs(y1 - y0) <= 1.0 and abs(x1 - x0) >= _MIN_RULE:
            hs.append(Rule((y0 + y1) / 2, min(x0, x1), max(x0, x1)))
        elif abs(x1 - x0) <= 1.0 and abs(y1 - y0) >= _MIN_RULE:
            vs.append(Rule((x0 + x1) / 2, min(y0, y1), max(y0, y1)))

    def thin_box(o: dict[str, Any]) -> None:
        x0, x1, top, bottom = float(o["x0"]), float(o["x1"]), float(o["top"]), float(o["bottom"])
        if bottom - top <= _THIN and x1 - x0 > bottom - top:
            seg(x0, (top + bottom) / 2, x1, (top + bottom) / 2)
        elif x1 - x0 <= _THIN and bottom - top > x1 - x0:
            seg((x0 + x1) / 2, top, (x0 + x1) / 2, bottom)

    def path_segments(o: dict[str, Any]) -> None:
        pts = o.get("pts") or []
        path = o.get("path")
        if path:
            start: tuple[float, float] | None = None
            cur: tuple[float, float] | None = None
            for cmd in path:
                op = cmd[0]
                if op == "m":
                    cur = start = (float(cmd[1][0]), float(cmd[1][1]))
                elif op == "l" and cur is not None:
                    nxt = (float(cmd[1][0]), float(cmd[1][1]))
                    seg(cur[0], cur[1], nxt[0], nxt[1])
                    cur = nxt
                elif op == "h" and cur is not None and start is not None:
                    seg(cur[0], cur[1], start[0], start[1])
                    cur = start
                elif op in ("c", "v", "y") and len(cmd) > 1:
                    cur = (float(cmd[-1][0]), float(cmd[-1][1]))
        else:
            for p, q in itertools.pairwise(pts):
                seg(float(p[0]), float(p[1]), float(q[0]), float(q[1]))

    for o in page.lines:
        if o.get("stroke", True) and _visible(o.get("stroking_color")):
            path_segments(o)
    for o in page.rects:
        if o.get("stroke") and _visible(o.get("stroking_color")):
            x0, x1, top, bottom = float(o["x0"]), float(o["x1"]), float(o["top"]), float(o["bottom"])
            if bottom - top <= _THIN or x1 - x0 <= _THIN:
                thin_box(o)
            else:
                seg(x0, top, x1, top)
                seg(x0, bottom, x1, bottom)
                seg(x0, top, x0, bottom)
                seg(x1, top, x1, bottom)
        elif o.get("fill") and _visible(o.get("non_stroking_color")):
            thin_box(o)
    for o in page.curves:
        if o.get("stroke") and _visible(o.get("stroking_color")):
            path_segments(o)
        elif o.get("fill") and _visible(o.get("non_stroking_color")):
            thin_box(o)
    return merge_rules(hs), merge_rules(vs)




_DEVICE_SPACES = ("DeviceGray", "DeviceRGB", "DeviceCMYK", "CalGray", "CalRGB")


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


def _read_page(page: Any, page_no: int, carry: Sequence[float] = (), ocr: OcrHook | None = None) -> PageLayout:
    """Read one page; ``carry``: value-column centres of an unruled table ending the previous page.
    With ``ocr``, a page without usable text that shows an image is read whole by OCR, and the pictures
    on a page with text are read by OCR into the same page."""
    raw = [c for c in page.chars if c["text"].strip() and not _faint(c)]
    problems: list[ReaderProblem] = []
    w, h = float(page.width), float(page.height)
    area = w * h
    scanned = sum(max(0.0, float(i["x1"]) - float(i["x0"])) * max(0.0, float(i["bottom"]) - float(i["top"]))
                  for i in page.images) >= _SCAN_SHARE * area if page.images else False
    pictures = _pictures(page, area, raw) if ocr is not None else []
    if ocr is not None and (page.images or page.curves or page.rects) and (
            not raw or (len(raw) < _SCAN_MAX_CHARS and (scanned or pictures))):
        return ocr(OcrRequest(page_no, w, h, [], [], [], [(0.0, 0.0, w, h)], carry, problems, _image_dpi(page)))
    if not raw or (scanned and len(raw) < _SCAN_MAX_CHARS):
        if raw or page.images or page.curves or page.rects:
            what = "no text layer" if not raw else f"a page-size image and only {len(raw)} characters of text"
            problems.append(ReaderProblem("needs_ocr", f"page {page_no} has {what} (a scan?)", page_no))
        return PageLayout(page_no, [], {}, problems, False, float(page.height))
    raw = _dedupe(raw)
    n_cid = sum(1 for c in raw if _CID.match(c["text"]))
    if n_cid:
        if n_cid > _UNREADABLE_SHARE * len(raw):
            problems.append(ReaderProblem(
                "unreadable_font", f"page {page_no}: {n_cid} of {len(raw)} glyphs have no Unicode mapping "
                "((cid:N)); the page is not read", page_no))
            return PageLayout(page_no, [], {}, problems, False, float(page.height))
        problems.append(ReaderProblem(
            "unreadable_font", f"page {page_no}: {n_cid} glyphs have no Unicode mapping ((cid:N)); "
            "they read as U+FFFD", page_no))
    chars = [Char("\ufffd" if _CID.match(c["text"]) else c["text"], float(c["x0"]), float(c["x1"]),
                 float(c["top"]), float(c["bottom"]), float(c.get("size") or 0.0) or 10.0) for c in raw]
    hs, vs = _page_rules(page)
    if pictures and ocr is not None:
        outside = [c for c in chars if not any(b[0] <= c.cx <= b[2] and b[1] <= c.cy <= b[3] for b in pictures)]
        return ocr(OcrRequest(page_no, w, h, outside, hs, vs, pictures, carry, problems, _image_dpi(page)))
    return layout_page(chars, hs, vs, page_no, float(page.height), problems, carry)




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
             ocr: OcrHook | None = None) -> Document:
    """Given the bytes of a PDF, return its document model (text lines and table grids, page by page).

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
        outs: list[PageLayout] = []
        problems: list[ReaderProblem] = []
        for page in pages:
            try:
                po = _read_page(page, page.page_number, outs[-1].carry if outs else (), ocr)
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



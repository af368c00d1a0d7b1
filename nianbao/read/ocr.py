"""Page images (scanned pages, pictures of tables) into the document model by OCR.

Per image (a whole scanned page, or the picture of a table on a page with text):

1. **Clean and straighten** (``ocr_pixels``): grey from the red channel (seals fade), specks of
   one or two pixels removed, the skew angle from the horizontal projection of text lines and rules, turned back.
2. **Rules**: straight runs of ink found by morphology (one-pixel gaps in them filled first: salt noise),
   converted to points and merged exactly as the PDF reader merges drawn rules; ruled tables (lattices) come
   from the layout engine. A lattice smaller than 48 pt both ways is the strokes of a big character, not a
   table: its pieces are dropped (``page_rules``).
3. **Text**: RapidOCR detects and reads every text line (``ocr_engines``). A line whose box crosses a
   column rule of a table (two cells read as one line) is cut at the rule and each piece read again, so
   no character is placed in the wrong cell. A line's box is divided evenly over its characters.
4. **Value cells**: every table cell whose text is a number, a "/" or nothing gets its readings
   (``OcrRead``): RapidOCR's, tesseract's (digits only, one run per page for all cells), its ink count,
   and where the two engines differ a RapidOCR re-read of the crop at 1.6x and tesseract's second tries
   (``retry``: after a median filter and with rule remnants removed, then also enlarged 3x and binarised). tesseract
   reads the crops before despeckling, so the two readings do not share a preprocessing mistake. For a
   non-zero number, whether the pixels show a minus sign before it (``ocr_pixels.minus_sign``). A cell that looks empty but
   holds ink is read from its crop. The gate (``nianbao.validate.ocrgate``) publishes a number only on agreement.
5. **Layout**: the characters and rules go through the layout engine the PDF reader uses (``nianbao.read.layout``:
   ``layout_page``, ``assemble``), so segmentation and mapping see the same model as for a PDF with text; pages and bboxes
   are in PDF points. The document is marked ``ocr=True``.

Pure: no prefect; the only side effects are the tesseract child process and its temporary files.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nianbao.model import Document, Grid, OcrRead, Origin, ReaderProblem
from nianbao.normalize import parse_value, strip_spaces
from nianbao.read import ocr_engines as eng
from nianbao.read import ocr_pixels as px
from nianbao.read.layout import (
    SNAP,
    Char,
    Lattice,
    LatticeCell,
    PageLayout,
    Rule,
    find_lattices,
    layout_page,
    merge_rules,
)
from nianbao.read.ocr_labels import snap_labels
from nianbao.read.pdf import DEFAULT_TEXT_SOURCE, OcrRequest, TextSource, read_pdf

__all__ = ["DPI", "INSTALL_HINT", "OcrImage", "ocr_image", "ocr_missing", "page_rules", "read_pdf_ocr"]

DPI = 200.0  # RapidOCR reads body text (10.5 pt = 29 px here) well; more only costs time
INSTALL_HINT = "bash scripts/setup.sh (installs rapidocr and onnxruntime from requirements.lock)"
_MIN_H_PT = 20.0  # a horizontal rule piece is at least this long (longer than any character stroke)
_MIN_V_PT = 12.0  # vertical: longer than the strokes of body-size characters
_MIN_INK = 25  # ink pixels that make an empty-looking cell worth reading (noise left after despeckling is less)
_INSET_PT = 2.5  # a cell's crop stays this far inside its rules (blurred rules are thick)
_RESCALE = 1.6
_MAX_DPI = 300.0
_MIN_TABLE_PT = 48.0  # a lattice smaller than this both ways is a big character's strokes (a table is far larger)


def ocr_missing() -> str | None:
    """Return None when the primary OCR engine can run, else what is missing."""
    return eng.engine_missing()


@dataclass
class OcrImage:
    """What OCR made of one image: characters and rules in page points, cell readings, skew found."""

    chars: list[Char]
    hs: list[Rule]
    vs: list[Rule]
    reads: list[OcrRead]
    angle: float


def _crop(grey: px.Grey, box: tuple[float, float, float, float]) -> px.Grey:
    h, w = grey.shape
    x0, y0, x1, y1 = (round(v) for v in box)
    return grey[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]


def _pad(img: px.Grey, scale: float = 1.0, border: int = 6) -> px.Grey:
    import cv2

    if scale != 1.0:
        img = np.asarray(cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
    return np.asarray(cv2.copyMakeBorder(img, border, border, border, border, cv2.BORDER_CONSTANT, value=255),
                      dtype=np.uint8)


def _split(line: eng.TextLine, lats: Sequence[Lattice], k: float
           ) -> list[tuple[tuple[float, float, float, float], str | None]]:
    """Given a text line (pixels) and the page's lattices (points; ``k`` px per pt), return its pieces:
    the line itself (text known) or, when it crosses column rules of a table, one box per cell it
    covers (text None: to be read again)."""
    x0, y0, x1, y1 = line.box
    cy = (y0 + y1) / 2 / k
    for lat in lats:
        if not (lat.ys[0] <= cy <= lat.ys[-1]):
            continue
        mids = [(a + b) / 2 for a, b in zip(lat.xs, lat.xs[1:])]
        walls = [lat.xs[j + 1] for j in range(len(mids) - 1)  # a rule between two different cells at this height
                 if lat.locate(mids[j], cy) is not lat.locate(mids[j + 1], cy)]
        cuts = [x * k for x in walls if x0 + 0.3 * (y1 - y0) < x * k < x1 - 0.3 * (y1 - y0)]
        if not cuts:
            break
        edges = [x0, *cuts, x1]
        return [((a, y0, b, y1), None) for a, b in itertools.pairwise(edges) if b - a > 0.3 * (y1 - y0)]
    return [(line.box, line.text)]


def _body_height(boxes: list[tuple[float, float, float, float]]) -> float | None:
    """The median height (pixels) of the detected boxes of longer lines: the body text's."""
    heights = sorted(b[3] - b[1] for b in boxes)
    return heights[len(heights) // 2] if heights else None


def _chars(box: tuple[float, float, float, float], text: str, k: float, dx: float, dy: float,
           body: float | None = None) -> list[Char]:
    """Characters of one read piece, its box divided evenly, in points (offset by the image's origin).
    Detected boxes of body lines differ in height by a few pixels; the layout joins the lines of a
    paragraph only when their font sizes agree, so a box within a quarter of the body height gets the
    body size."""
    text = "".join(text.split())
    if not text:
        return []
    x0, y0, x1, y1 = (v / k for v in box)
    step = (x1 - x0) / len(text)
    h = box[3] - box[1]
    if body is not None and abs(h - body) <= 0.25 * body:
        h = body
    size = max(h / k * 0.85, 1.0)
    return [Char(ch, dx + x0 + i * step, dx + x0 + (i + 1) * step, dy + y0, dy + y1, size)
            for i, ch in enumerate(text)]


def _cell_text(chars: list[Char]) -> str:
    """The text of a cell's characters, line by line (enough to tell a number, "/" or nothing)."""
    return "".join(c.text for c in sorted(chars, key=lambda c: (round(c.cy / max(c.h, 1.0)), c.cx)))


def _value_like(text: str) -> bool:
    return parse_value(text).kind in ("number", "not_applicable", "blank")


def ocr_image(img: px.Grey, page_no: int, *, dpi: float = DPI, origin: tuple[float, float] = (0.0, 0.0)
              ) -> OcrImage:
    """Given a page image or the picture of a table (RGB or grey, ``dpi`` pixels per inch) placed at
    ``origin`` (x0, top in points) on page ``page_no``, return its characters, rules and cell readings."""
    k = dpi / 72.0
    dx, dy = origin
    plain = px.unseal(img)  # tesseract reads the cells from this: no despeckling, an independent view
    grey = px.despeckle(plain)
    angle = px.skew_angle(grey)
    grey, plain = px.rotate(grey, angle), px.rotate(plain, angle)
    hpx, vpx = px.find_rules(grey, dpi, _MIN_H_PT, _MIN_V_PT)
    hs, vs, lats = page_rules(hpx, vpx, k, (dx, dy))
    local = [Lattice([x - dx for x in lat.xs], [y - dy for y in lat.ys], lat.cells, lat.where) for lat in lats]
    # Table rules erased: a rule next to a character is read as one (丨, 【, E); lines merged over erased
    # column rules are cut apart again by _split.
    boxes = [tuple(v * k for v in (lat.xs[0], lat.ys[0], lat.xs[-1], lat.ys[-1])) for lat in local]
    grey = px.erase_rules(grey, [*hpx, *vpx], hpx, boxes)
    pieces = [p for line in eng.read_lines(grey) for p in _split(line, local, k)]
    again = [i for i, (_, t) in enumerate(pieces) if t is None]
    for i, text in zip(again, eng.recognise([_pad(_crop(grey, pieces[i][0])) for i in again])):
        pieces[i] = (pieces[i][0], text)
    body = _body_height([box for box, text in pieces if len(text or "") >= 4])
    chars = [c for box, text in pieces for c in _chars(box, text or "", k, dx, dy, body)]
    reads = _read_cells(grey, plain, lats, chars, page_no, k, dx, dy, dpi)
    return OcrImage(chars, hs, vs, reads, angle)


def page_rules(hpx: list[px.PixelRule], vpx: list[px.PixelRule], k: float, origin: tuple[float, float] = (0.0, 0.0)
               ) -> tuple[list[Rule], list[Rule], list[Lattice]]:
    """Given the horizontal and vertical rule pieces of an image (pixels, ``k`` px per pt, the image's top
    left at ``origin`` on the page), return its merged rules in page points and the lattices they form.
    The strokes of one big character (a title at 20 pt and more) can form a tiny lattice; no table is that
    small (under ``_MIN_TABLE_PT`` both ways), so its pieces are dropped: a title's characters taken into a
    table would be lost to the title."""
    dx, dy = origin

    def rules(hpx: list[px.PixelRule], vpx: list[px.PixelRule]) -> tuple[list[Rule], list[Rule], list[Lattice]]:
        hs = merge_rules([Rule(r.pos / k + dy, r.a / k + dx, r.b / k + dx) for r in hpx])
        vs = merge_rules([Rule(r.pos / k + dx, r.a / k + dy, r.b / k + dy) for r in vpx])
        return hs, vs, find_lattices(hs, vs)

    hs, vs, lats = rules(hpx, vpx)
    tiny = [lat.bbox for lat in lats if lat.xs[-1] - lat.xs[0] < _MIN_TABLE_PT and lat.ys[-1] - lat.ys[0] < _MIN_TABLE_PT]
    if not tiny:
        return hs, vs, lats
    return rules([r for r in hpx if not _inside((r.a / k + dx, r.pos / k + dy, r.b / k + dx, r.pos / k + dy), tiny)],
                 [r for r in vpx if not _inside((r.pos / k + dx, r.a / k + dy, r.pos / k + dx, r.b / k + dy), tiny)])


def _inside(box: tuple[float, float, float, float], boxes: list[tuple[float, float, float, float]]) -> bool:
    return any(b[0] - SNAP <= box[0] and box[2] <= b[2] + SNAP and b[1] - SNAP <= box[1] and box[3] <= b[3] + SNAP
               for b in boxes)


def _read_cells(grey: px.Grey, plain: px.Grey, lats: Sequence[Lattice], chars: list[Char], page_no: int, k: float,
                dx: float, dy: float, dpi: float) -> list[OcrRead]:
    """Readings of every value-like cell of the page's tables; characters read from the crops of inked
    cells that the line reader left empty are appended to ``chars``."""
    in_cell: dict[int, list[Char]] = {}
    for c in chars:
        for lat in lats:
            cell = lat.locate(c.cx, c.cy)
            if cell is not None:
                in_cell.setdefault(id(cell), []).append(c)
                break
    cells: list[tuple[LatticeCell, px.Grey, str, int]] = []
    plains: list[px.Grey] = []
    for lat in lats:
        for cell in lat.cells:
            x0, top, x1, bottom = cell.bbox
            box = ((x0 - dx + _INSET_PT) * k, (top - dy + _INSET_PT) * k,
                   (x1 - dx - _INSET_PT) * k, (bottom - dy - _INSET_PT) * k)
            if box[2] - box[0] < 4 or box[3] - box[1] < 4:
                continue
            crop = _crop(grey, box)
            text = _cell_text(in_cell.get(id(cell), []))
            # A value cell spanning rows means a row rule was not found: its number belongs to one of the
            # rows only, so it gets no reading (and is not published on agreement).
            if _value_like(text) and cell.rowspan == 1:
                cells.append((cell, crop, text, px.ink(crop)))
                plains.append(_crop(plain, box))
    empty_inked = [i for i, (_, _, text, n) in enumerate(cells) if not strip_spaces(text) and n >= _MIN_INK]
    for i, text in zip(empty_inked, eng.recognise([_pad(cells[i][1]) for i in empty_inked])):
        cell, crop, _, n = cells[i]
        text = strip_spaces(text)
        if text and _value_like(text):
            x0, top, x1, bottom = cell.bbox
            w = min(len(text) * 0.6 * (bottom - top), x1 - x0 - 2 * _INSET_PT)
            cx, cy = (x0 + x1) / 2, (top + bottom) / 2
            box = ((cx - w / 2 - dx) * k, (cy - 0.3 * (bottom - top) - dy) * k,
                   (cx + w / 2 - dx) * k, (cy + 0.3 * (bottom - top) - dy) * k)
            chars.extend(_chars(box, text, k, dx, dy))  # a lone value: its size does not matter
            cells[i] = (cell, crop, text, n)
    inked = [i for i, (_, _, text, n) in enumerate(cells) if strip_spaces(text) or n >= _MIN_INK]
    second = eng.tesseract_cells([_pad(plains[i], border=4) for i in inked], dpi)
    seconds: dict[int, str | None] = {i: (second[j] if second is not None else None) for j, i in enumerate(inked)}
    differ = [i for i in inked if seconds[i] is None or strip_spaces(seconds[i] or "") != strip_spaces(cells[i][2])]
    rescaled = dict(zip(differ, eng.recognise([_pad(cells[i][1], _RESCALE, 10) for i in differ])))
    retries = _retry([plains[i] for i in differ], [strip_spaces(cells[i][2]) for i in differ], dpi) if second else []
    retry = dict(zip(differ, retries))
    return [OcrRead(page_no, cell.bbox, strip_spaces(text), seconds.get(i, ""), rescaled.get(i), n, retry.get(i),
                    px.minus_sign(crop) if _nonzero(text) else None)
            for i, (cell, crop, text, n) in enumerate(cells)]


def _nonzero(text: str) -> bool:
    pv = parse_value(text)
    return pv.kind == "number" and bool(pv.value)


# tesseract's second tries at the cells it read differently from RapidOCR: its misses are mostly a lone digit
# dropped, a rule remnant read as 1, or salt noise read as marks, which these cleanings remove.
# (median filter, enlargement, binarise). The enlarged try is median-filtered too: without it, salt specks
# enlarged 3x are read as marks ("10", "-", "." for 0) and a "/" was once read as nothing (agreeing with a
# RapidOCR that missed it); on 932 cells of salt, seal and mixed scans it agreed with a right RapidOCR
# reading on 868 cells (817 unfiltered at 2x) and with no wrong one.
_RETRIES = ((True, 1.0, False), (True, 3.0, True))


def _retry(plains: list[px.Grey], primaries: list[str], dpi: float) -> list[str | None]:
    """Given the un-despeckled crops of cells the engines read differently and RapidOCR's readings, return
    tesseract's reading of each after the cleanings of ``_RETRIES`` in turn: the first equal to RapidOCR's,
    else the last (None when tesseract did not run)."""
    out: list[str | None] = [None] * len(plains)
    todo = list(range(len(plains)))
    for median, scale, binarize in _RETRIES:
        if not todo:
            break
        reads = eng.tesseract_cells([_pad(px.clean_cell(plains[i], median=median, scale=scale, binarize=binarize),
                                          border=4) for i in todo], dpi * scale)
        if reads is None:
            break
        for i, text in zip(todo, reads):
            out[i] = strip_spaces(text)
        todo = [i for i in todo if out[i] != primaries[i]]
    return out


# --------------------------------------------------------------------------------------------
# PDFs: scanned pages and pictures of tables, page by page
# --------------------------------------------------------------------------------------------

class _PageReader:
    """The PDF reader's OCR hook: renders the requested regions of a page with pdfium (opened once per
    document), reads them and lays the page out with the text layer's characters and rules."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._doc: Any = None
        self.reads: list[OcrRead] = []
        self.regions: list[tuple[int, tuple[float, float, float, float]]] = []

    def __call__(self, req: OcrRequest) -> PageLayout:
        import pypdfium2 as pdfium

        if self._doc is None:
            self._doc = pdfium.PdfDocument(self._data)
        chars, hs, vs = list(req.chars), list(req.hs), list(req.vs)
        page = self._doc[req.page_no - 1]
        # An image shrunk onto the page (a phone scan with margins) is rendered at its own resolution.
        dpi = min(max(DPI, req.dpi or DPI), _MAX_DPI)
        try:
            for x0, top, x1, bottom in req.regions:
                crop = (x0, req.height - bottom, req.width - x1, top)  # pdfium: cut from left, bottom, right, top
                img = np.asarray(page.render(scale=dpi / 72.0, crop=crop).to_pil().convert("RGB"), dtype=np.uint8)
                res = ocr_image(img, req.page_no, dpi=dpi, origin=(x0, top))
                chars.extend(res.chars)
                hs.extend(res.hs)
                vs.extend(res.vs)
                self.reads.extend(res.reads)
                self.regions.append((req.page_no, (x0, top, x1, bottom)))
        finally:
            page.close()
        if not chars:
            req.problems.append(ReaderProblem("ocr_empty_page", f"page {req.page_no}: OCR found no text",
                                              req.page_no))
            return PageLayout(req.page_no, [], {}, req.problems, False, req.height)
        return layout_page(chars, merge_rules(hs), merge_rules(vs), req.page_no, req.height, req.problems,
                           req.carry)

    def close(self) -> None:
        if self._doc is not None:
            self._doc.close()


def read_pdf_ocr(data: bytes, source: str = "", *, max_pages: int = 500,
                 text_source: TextSource = DEFAULT_TEXT_SOURCE) -> Document:
    """Given the bytes of a PDF, return its document model with every page that shows an image instead of
    text (a scan) and every picture on a page with text (a pasted table) read by OCR. The document is
    ``ocr=True`` when anything was, with the cell readings and the OCR'd regions for the gate. Raises
    what ``read_pdf`` raises (``NeedsOcrError`` when OCR found no text on any page either)."""
    reader = _PageReader(data)
    try:
        doc = read_pdf(data, source, max_pages=max_pages, ocr=reader, text_source=text_source)
    finally:
        reader.close()
    if reader.regions:
        doc.ocr, doc.ocr_reads, doc.ocr_regions = True, reader.reads, reader.regions
        snap_labels([b for b in doc.blocks if isinstance(b, Grid) and _in_regions(b.origin, reader.regions)])
    return doc


def _in_regions(origin: Origin, regions: list[tuple[int, tuple[float, float, float, float]]]) -> bool:
    if origin.page is None or origin.bbox is None:
        return False
    cx, cy = (origin.bbox[0] + origin.bbox[2]) / 2, (origin.bbox[1] + origin.bbox[3]) / 2
    return any(p == origin.page and b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for p, b in regions)

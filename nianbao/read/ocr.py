"""Scanned (image-only) PDF reports into the document model by OCR (tesseract, ``chi_sim``).

Per page:

1. **Render** the page with pypdfium2 at ``DPI`` (grey) and binarise it.
2. **Rules.** Runs of dark pixels at least ``_MIN_H_PT`` long (horizontal) or ``_MIN_V_PT`` (vertical)
   are rule pieces; they are converted to points and merged exactly as the PDF reader merges drawn
   rules (``nianbao.read.layout.merge_rules``). Pieces that form a ruled table (a lattice,
   ``find_lattices``) are erased from the image, so tesseract sees text only; pieces outside a table
   (strokes of large title characters) stay.
3. **Words.** ``tesseract -l chi_sim --psm 4 tsv`` gives every word with its pixel box. A word's box
   is divided evenly over its characters (tesseract gives no per-character boxes in TSV), each character
   sized by the height of its line.
4. **Layout.** The characters and rules go through the layout engine the PDF reader uses
   (``nianbao.read.layout``: ``layout_page`` for lattice cells, unruled tables and lines, ``assemble``
   for the document), so segmentation and template mapping see the same model as for a PDF with a text
   layer; pages and bboxes are in PDF points. The document is marked ``ocr=True``: the pipeline publishes its numbers only where the
   identities vouch for them (``nianbao.validate.ocrgate``).

Pure: the only side effects are temporary files and the ``tesseract`` child process; no prefect.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from nianbao.errors import CorruptFileError, NeedsOcrError, PageLimitError
from nianbao.model import Document, ReaderProblem
from nianbao.read.layout import (
    SNAP,
    TOUCH,
    Char,
    LatticeCell,
    PageLayout,
    Rule,
    assemble,
    find_lattices,
    layout_page,
    merge_rules,
)

__all__ = ["DPI", "INSTALL_HINT", "ocr_missing", "read_scanned_pdf"]

DPI = 300
_PSM = "4"  # one column of text of variable sizes: keeps table rows as lines (6 drops more lone digits)
INSTALL_HINT = "apt-get install tesseract-ocr tesseract-ocr-chi-sim"
_PT = 72.0 / DPI  # points per pixel
_DARK = 160  # grey level below which a pixel is ink
_MIN_H_PT = 20.0  # a horizontal rule piece is at least this long (longer than any character stroke)
_MIN_V_PT = 12.0  # vertical: longer than the strokes of body-size characters
_HALO = 2  # pixel lines erased on each side of a table rule
_LANG = "chi_sim"
_MIN_INK = 12  # ink pixels that make an empty-looking cell worth a second look (specks are fewer)
_TIMEOUT_S = 300.0  # per page; a page that takes longer is reported, not waited for


def ocr_missing() -> str | None:
    """Return None when the ``tesseract`` program with ``chi_sim`` data can be run, else what is missing."""
    exe = shutil.which("tesseract")
    if exe is None:
        return "the tesseract program is not installed"
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"tesseract cannot be run ({type(exc).__name__}: {exc})"
    if _LANG not in (out.stdout + out.stderr).split():
        return f"tesseract has no {_LANG} (simplified Chinese) language data"
    return None


# --------------------------------------------------------------------------------------------
# Rules from pixels
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Run:
    line: int  # pixel row (horizontal run) or column (vertical run)
    a: int
    b: int  # exclusive


def _runs(img: Image.Image, min_px: int) -> list[_Run]:
    """Given a binarised image (ink 0, paper 255), return the runs of ink along each row of at least
    ``min_px`` pixels (a regular expression over the row's bytes keeps this in C)."""
    w, h = img.size
    buf = img.tobytes()
    pat = re.compile(b"\x00{%d,}" % min_px)
    return [_Run(y, m.start(), m.end()) for y in range(h) for m in pat.finditer(buf, y * w, (y + 1) * w)]


def _to_rules(runs: list[_Run], width: int) -> list[Rule]:
    return [Rule((r.line + 0.5) * _PT, (r.a - r.line * width) * _PT, (r.b - r.line * width) * _PT)
            for r in runs]


def _inside(r: _Run, width: int, box: tuple[float, float, float, float], horizontal: bool) -> bool:
    """True if a run lies on a lattice (box in points: x0, top, x1, bottom), within the rule snap."""
    x0, top, x1, bottom = box
    pos = (r.line + 0.5) * _PT
    a, b = (r.a - r.line * width) * _PT, (r.b - r.line * width) * _PT
    m = SNAP + TOUCH
    if horizontal:
        return top - m <= pos <= bottom + m and a >= x0 - m and b <= x1 + m
    return x0 - m <= pos <= x1 + m and a >= top - m and b <= bottom + m


def _erase(buf: bytearray, r: _Run, width: int, n_lines: int) -> None:
    """Paint a rule run white, with ``_HALO`` pixel lines on each side: the ragged edge of a scanned
    rule would otherwise reach tesseract as stray commas and quotes."""
    for d in range(-_HALO, _HALO + 1):
        if 0 <= r.line + d < n_lines:
            off = d * width
            buf[r.a + off:r.b + off] = b"\xff" * (r.b - r.a)


def _page_rules(bw: Image.Image) -> tuple[list[Rule], list[Rule], Image.Image]:
    """Given a binarised page, return its horizontal and vertical rules (points) and the image with the
    rules of ruled tables erased."""
    w, h = bw.size
    hruns = _runs(bw, round(_MIN_H_PT / _PT))
    tr = bw.transpose(Image.Transpose.TRANSPOSE)
    vruns = _runs(tr, round(_MIN_V_PT / _PT))
    hs = merge_rules(_to_rules(hruns, w))
    vs = merge_rules(_to_rules(vruns, h))
    boxes = [lat.bbox for lat in find_lattices(hs, vs)]
    if not boxes:
        return hs, vs, bw
    page = bytearray(bw.tobytes())
    for r in hruns:
        if any(_inside(r, w, box, True) for box in boxes):
            _erase(page, r, w, h)
    erased = Image.frombytes("L", (w, h), bytes(page))
    cols = bytearray(erased.transpose(Image.Transpose.TRANSPOSE).tobytes())
    for r in vruns:
        if any(_inside(r, h, box, False) for box in boxes):
            _erase(cols, r, h, w)
    erased = Image.frombytes("L", (h, w), bytes(cols)).transpose(Image.Transpose.TRANSPOSE)
    return hs, vs, erased


# --------------------------------------------------------------------------------------------
# Words from tesseract
# --------------------------------------------------------------------------------------------

def _tesseract_tsv(png: Path, *options: str) -> str:
    """Given a page image file and tesseract options, return tesseract's TSV (one row per word)."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")  # one page at a time per worker; threads only add overhead
    try:
        out = subprocess.run(["tesseract", str(png), "stdout", "--dpi", str(DPI), *options, "tsv"],
                             capture_output=True, text=True, timeout=_TIMEOUT_S, env=env, check=False)
    except FileNotFoundError as exc:
        raise NeedsOcrError(f"the tesseract program is not installed; install it: {INSTALL_HINT}") from exc
    if out.returncode != 0:
        raise RuntimeError(f"tesseract failed (exit {out.returncode}): {out.stderr.strip()[:300]}")
    return out.stdout


def _chars(tsv: str) -> list[Char]:
    """Given tesseract TSV, return one character per recognised glyph, in points, each word's box split
    evenly over its characters and sized by its line's height."""
    words: list[tuple[tuple[int, int, int, int], str, int, int, int, int]] = []
    line_h: dict[tuple[int, int, int, int], int] = {}
    for row in tsv.splitlines()[1:]:
        f = row.split("\t")
        if len(f) < 12:
            continue
        level, key = f[0], (int(f[1]), int(f[2]), int(f[3]), int(f[4]))
        left, top, width, height = (int(v) for v in f[6:10])
        if level == "4":
            line_h[key] = height
        elif level == "5" and f[11].strip():
            words.append((key, "".join(f[11].split()), left, top, width, height))
    out: list[Char] = []
    for key, text, left, top, width, height in words:
        size = min(line_h.get(key, height), 2 * height) * _PT
        step = width / len(text)
        for i, ch in enumerate(text):
            x0 = left + i * step
            out.append(Char(ch, x0 * _PT, (x0 + step) * _PT, top * _PT, (top + height) * _PT, size))
    return out


def _ink(img: Image.Image) -> int:
    """Number of ink pixels of a binarised image."""
    return img.histogram()[0]


def _read_empty_cells(clean: Image.Image, chars: list[Char], hs: list[Rule], vs: list[Rule],
                      tmp: Path, page_no: int) -> list[Char]:
    """Given the first pass's characters, return characters read in ruled-table cells that pass left empty
    although they hold ink. tesseract's page layout drops lone digits in wide, sparse rows; so the inked
    empty cells are cut out, stacked one per line in a second image and read in one more run, each line
    mapped back to its cell. Cells the first pass read are never changed."""
    lats = find_lattices(hs, vs)
    read: set[int] = set()
    for c in chars:
        for lat in lats:
            cell = lat.locate(c.cx, c.cy)
            if cell is not None:
                read.add(id(cell))
                break
    inset = _HALO + 3
    crops: list[tuple[Image.Image, LatticeCell]] = []
    for lat in lats:
        for cell in lat.cells:
            if id(cell) in read:
                continue
            x0, top, x1, bottom = (round(v / _PT) for v in cell.bbox)
            if x1 - x0 <= 2 * inset or bottom - top <= 2 * inset:
                continue
            crop = clean.crop((x0 + inset, top + inset, x1 - inset, bottom - inset))
            if _ink(crop) >= _MIN_INK:
                crops.append((crop, cell))
    if not crops:
        return []
    gap = 40
    width = max(c.size[0] for c, _ in crops) + 2 * gap
    height = sum(c.size[1] + gap for c, _ in crops) + gap
    mosaic = Image.new("L", (width, height), 255)
    slots: list[tuple[int, int, LatticeCell]] = []  # (y0, y1) in the mosaic, the cell
    y = gap
    for crop, cell in crops:
        mosaic.paste(crop, (gap, y))
        slots.append((y, y + crop.size[1], cell))
        y += crop.size[1] + gap
    png = tmp / f"cells-{page_no}.png"
    mosaic.save(png)
    out: list[Char] = []
    # A digit-friendly pass: in a value cell the first pass left empty, a round glyph is 0, not O or 〇.
    for c in _chars(_tesseract_tsv(png, "-l", _LANG, "--psm", "6", "-c", "tessedit_char_whitelist=0123456789/-.")):
        cy = c.cy / _PT
        slot = next((s for s in slots if s[0] <= cy <= s[1]), None)
        if slot is None:
            continue
        y0, _, cell = slot
        dx = cell.bbox[0] + (inset - gap) * _PT
        dy = cell.bbox[1] + (inset - y0) * _PT
        out.append(Char(c.text, c.x0 + dx, c.x1 + dx, c.top + dy, c.bottom + dy, c.size))
    return out


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

def _read_page(img: Image.Image, page_no: int, height_pt: float, tmp: Path,
               carry: list[float]) -> PageLayout:
    bw = img.convert("L").point(lambda v: 0 if v < _DARK else 255)
    hs, vs, clean = _page_rules(bw)
    png = tmp / f"page-{page_no}.png"
    clean.save(png)
    chars = _chars(_tesseract_tsv(png, "-l", _LANG, "--psm", _PSM))
    chars.extend(_read_empty_cells(clean, chars, hs, vs, tmp, page_no))
    problems: list[ReaderProblem] = []
    if not chars:
        problems.append(ReaderProblem("ocr_empty_page", f"page {page_no}: OCR found no text", page_no))
        return PageLayout(page_no, [], {}, problems, False, height_pt)
    return layout_page(chars, hs, vs, page_no, height_pt, problems, carry)


def read_scanned_pdf(data: bytes, source: str = "", *, max_pages: int = 500) -> Document:
    """Given the bytes of a PDF whose pages are images, return its document model read by OCR
    (``ocr=True``). Raises ``NeedsOcrError`` with the install command when tesseract or its ``chi_sim``
    data is missing, ``CorruptFileError`` when pdfium cannot open the file."""
    missing = ocr_missing()
    if missing is not None:
        raise NeedsOcrError(f"no page of the PDF has a text layer and {missing}; to read scanned reports "
                            f"install OCR: {INSTALL_HINT}", source=source)
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise CorruptFileError(f"the PDF cannot be rendered for OCR ({exc})", source=source) from exc
    try:
        n_pages = len(doc)
        if n_pages > max_pages:
            raise PageLimitError(f"the PDF has {n_pages} pages, more than max_pages={max_pages}", source=source)
        outs: list[PageLayout] = []
        with tempfile.TemporaryDirectory(prefix="nianbao-ocr-") as tmpdir:
            for i in range(n_pages):
                page = doc[i]
                try:
                    height = float(page.get_height())
                    img = page.render(scale=DPI / 72.0, grayscale=True).to_pil()
                finally:
                    page.close()
                outs.append(_read_page(img, i + 1, height, Path(tmpdir), outs[-1].carry if outs else []))
    finally:
        doc.close()
    problems = [p for po in outs for p in po.problems]
    if not any(po.text for po in outs):
        raise NeedsOcrError("no page of the PDF has a text layer and OCR found no text on any page",
                            source=source)
    return assemble(outs, None, problems, n_pages, ocr=True)

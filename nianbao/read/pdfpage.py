"""A PDF page as a PDF library gives it, and the steps from there to the layout engine that do not depend
on which library read it (pdfplumber or pdfium: ``nianbao.read.pdf`` chooses).

A source fills a ``PageContent``: the page's glyphs (whitespace and white / light-grey text already
left out: hidden text, watermarks) and its painted paths classified the way pdfminer classifies them
(``lines``: one straight segment; ``rects``: an axis-aligned closed rectangle; ``curves``: any other
path), each a dict with ``x0``/``x1``/``top``/``bottom``, ``pts``, ``path`` (``("m", (x, y))``,
``("l", (x, y))``, ``("c", p1, p2, p3)``, ``("h",)``), ``stroke``, ``fill``, ``stroking_color``,
``non_stroking_color``; coordinates in points, top-down. ``lay_out`` then:

1. **Scans.** A page without text (or with a page-size image and only a stamped page number) is a
   ``needs_ocr`` problem and yields nothing.
2. **Characters.** Overprinted duplicates are removed by the rule of pdfplumber's ``dedupe_chars()``
   (same text/font/size within 1 pt: fake bold drawn twice becomes one character) in O(n log n)
   instead of its quadratic re-sort. Glyphs without a Unicode mapping become U+FFFD so they can never
   parse as numbers; a page where they are more than 10 % is ``unreadable_font`` and not read.
3. **Rules.** Visible strokes only: stroked lines, stroked rectangles and thin filled rectangles.
   Filled areas (white text backgrounds as WPS draws them, coloured header shading) are not rules;
   diagonals are ignored.

The layout engine (``nianbao.read.layout``) does the rest.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nianbao.model import ReaderProblem
from nianbao.read.layout import Char, PageLayout, Rule, cluster, layout_page, merge_rules

__all__ = ["Glyph", "OcrHook", "OcrRequest", "PageContent", "lay_out", "visible"]

_THIN = 3.0  # a filled rectangle at most this thick is a rule
_MIN_RULE = 2.0
_SCAN_SHARE = 0.5  # images covering half the page ...
_SCAN_MAX_CHARS = 40  # ... with fewer characters than this (a stamped page number): a scan
_UNREADABLE_SHARE = 0.10  # pages with more glyphs without a Unicode mapping than this share are not read
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


@dataclass(slots=True)
class Glyph:
    """One glyph as the library gives it: text (raw), box (points, top-down; ``doctop`` is ``top`` plus the
    height of the pages before, as pdfplumber counts it), font size, font name, upright or not, and
    whether the font has no Unicode mapping for it (pdfminer's ``(cid:N)``)."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    doctop: float
    size: float
    font: str
    upright: bool
    unmapped: bool = False


@dataclass
class PageContent:
    """What a PDF library read from one page (see the module docstring for the shape of the paths)."""

    width: float
    height: float
    glyphs: list[Glyph]
    lines: Sequence[dict[str, Any]] = ()
    rects: Sequence[dict[str, Any]] = ()
    curves: Sequence[dict[str, Any]] = ()
    images: list[tuple[float, float, float, float]] = field(default_factory=list)  # x0, top, x1, bottom
    image_pixels: list[float | None] = field(default_factory=list)  # per image: its width in pixels, if known

    def image_dpi(self) -> float | None:
        """Pixels per inch of the page's largest image (its own resolution, as placed on the page)."""
        if not self.images:
            return None
        k = max(range(len(self.images)), key=lambda i: self.images[i][2] - self.images[i][0])
        px = self.image_pixels[k] if k < len(self.image_pixels) else None
        w = self.images[k][2] - self.images[k][0]
        return None if not px or w <= 0 else px / w * 72.0

    def pictures(self) -> list[tuple[float, float, float, float]]:
        """Bboxes (clipped to the page) of the images covering at least ``_PICTURE_SHARE`` of it with (almost)
        no text drawn over them: a background or letterhead image under the text is not a picture to read."""
        w, h = self.width, self.height
        out = []
        for ix0, itop, ix1, ibottom in self.images:
            x0, top, x1, bottom = max(0.0, ix0), max(0.0, itop), min(w, ix1), min(h, ibottom)
            over = sum(1 for c in self.glyphs if x0 <= (c.x0 + c.x1) / 2 <= x1 and top <= (c.top + c.bottom) / 2 <= bottom)
            if (x1 - x0) * (bottom - top) >= _PICTURE_SHARE * w * h and over < 5:
                out.append((x0, top, x1, bottom))
        return out


def _dedupe(chars: list[Glyph], tol: float = 1.0) -> list[Glyph]:
    """Remove overprinted duplicates (fake bold): the rule of ``pdfplumber``'s ``dedupe_chars(tolerance=1)``
    (same upright/text/fontname/size, doctop and x0 within ``tol``: keep the first), in O(n log n)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, c in enumerate(chars):
        key = (c.upright, c.text, c.font, c.size)
        g = groups.get(key)
        if g is None:
            groups[key] = [i]
        else:
            g.append(i)
    if len(groups) == len(chars):  # no two glyphs alike: nothing to merge
        return chars
    dt = [c.doctop for c in chars]
    keep: list[int] = []
    for idxs in groups.values():
        if len(idxs) == 1:
            keep.append(idxs[0])
            continue
        # chains of doctop within tol (as ``cluster``); a glyph alone in its chain is kept as it is
        order = sorted(idxs, key=dt.__getitem__)
        start = 0
        for k in range(1, len(order) + 1):
            if k < len(order) and dt[order[k]] - dt[order[k - 1]] <= tol:
                continue
            if k - start == 1:
                keep.append(order[start])
            else:
                for xcl in cluster(order[start:k], lambda i: chars[i].x0, tol):
                    keep.append(xcl[0] if len(xcl) == 1 else min(xcl, key=lambda i: (dt[i], chars[i].x0, i)))
            start = k
    if len(keep) == len(chars):
        return chars
    keep.sort()
    return [chars[i] for i in keep]


def visible(color: Any) -> bool:
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


def _page_rules(page: PageContent) -> tuple[list[Rule], list[Rule]]:
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
        if o.get("stroke", True) and visible(o.get("stroking_color")):
            path_segments(o)
    for o in page.rects:
        if o.get("stroke") and visible(o.get("stroking_color")):
            x0, x1, top, bottom = float(o["x0"]), float(o["x1"]), float(o["top"]), float(o["bottom"])
            if bottom - top <= _THIN or x1 - x0 <= _THIN:
                thin_box(o)
            else:
                seg(x0, top, x1, top)
                seg(x0, bottom, x1, bottom)
                seg(x0, top, x0, bottom)
                seg(x1, top, x1, bottom)
        elif o.get("fill") and visible(o.get("non_stroking_color")):
            thin_box(o)
    for o in page.curves:
        if o.get("stroke") and visible(o.get("stroking_color")):
            path_segments(o)
        elif o.get("fill") and visible(o.get("non_stroking_color")):
            thin_box(o)
    return merge_rules(hs), merge_rules(vs)


def lay_out(page: PageContent, page_no: int, carry: Sequence[float] = (), ocr: OcrHook | None = None
            ) -> PageLayout:
    """Given what a library read from a page, return the laid-out page (``carry``: value-column centres
    of an unruled table ending the previous page). With ``ocr``, a page without usable text that shows an
    image is read whole by OCR, and the pictures on a page with text are read by OCR into the same page."""
    raw = page.glyphs
    problems: list[ReaderProblem] = []
    w, h = page.width, page.height
    area = w * h
    scanned = sum(max(0.0, x1 - x0) * max(0.0, bottom - top) for x0, top, x1, bottom in page.images
                  ) >= _SCAN_SHARE * area if page.images else False
    pictures = page.pictures() if ocr is not None else []
    if ocr is not None and (page.images or page.curves or page.rects) and (
            not raw or (len(raw) < _SCAN_MAX_CHARS and (scanned or pictures))):
        return ocr(OcrRequest(page_no, w, h, [], [], [], [(0.0, 0.0, w, h)], carry, problems, page.image_dpi()))
    if not raw or (scanned and len(raw) < _SCAN_MAX_CHARS):
        if raw or page.images or page.curves or page.rects:
            what = "no text layer" if not raw else f"a page-size image and only {len(raw)} characters of text"
            problems.append(ReaderProblem("needs_ocr", f"page {page_no} has {what} (a scan?)", page_no))
        return PageLayout(page_no, [], {}, problems, False, page.height)
    raw = _dedupe(raw)
    n_cid = sum(1 for c in raw if c.unmapped)
    if n_cid:
        if n_cid > _UNREADABLE_SHARE * len(raw):
            problems.append(ReaderProblem(
                "unreadable_font", f"page {page_no}: {n_cid} of {len(raw)} glyphs have no Unicode mapping "
                "((cid:N)); the page is not read", page_no))
            return PageLayout(page_no, [], {}, problems, False, page.height)
        problems.append(ReaderProblem(
            "unreadable_font", f"page {page_no}: {n_cid} glyphs have no Unicode mapping ((cid:N)); "
            "they read as U+FFFD", page_no))
    chars = [Char("\ufffd" if c.unmapped else c.text, c.x0, c.x1, c.top, c.bottom, c.size or 10.0) for c in raw]
    hs, vs = _page_rules(page)
    if pictures and ocr is not None:
        outside = [c for c in chars if not any(b[0] <= c.cx <= b[2] and b[1] <= c.cy <= b[3] for b in pictures)]
        return ocr(OcrRequest(page_no, w, h, outside, hs, vs, pictures, carry, problems, page.image_dpi()))
    return layout_page(chars, hs, vs, page_no, page.height, problems, carry)

"""pdfium (pypdfium2) as the PDF reader's source of glyphs and painted paths (``text_source="pdfium"``).

pdfium parses the page content in C; pdfminer (under pdfplumber) interprets it in Python, which was
about 85 % of the reader's time. This module gives the layout engine the same ``PageContent`` as
pdfplumber would, computed the way pdfminer computes it:

- **Glyphs** from the text page: one per character (pdfium's own generated spaces and line breaks belong
  to no text object and are left out, as are whitespace characters, as with pdfminer). The box is
  pdfminer's: from the character's origin and matrix, its advance width, the font size and the descent.
- **Paths** from the page objects (also inside form XObjects), each split into subpaths and classified as
  pdfminer classifies them (``lines``, ``rects``, ``curves``), with the stroke and fill flags and colours.
  Coordinates are snapped to the shortest decimal that gives pdfium's single-precision value (pdfium
  keeps coordinates as 32-bit floats, pdfminer as doubles parsed from the same decimal text), so rule
  positions and the rounded cell bboxes built on them come out as with pdfminer.
- **Images**: the boxes of image objects (for the scan test).

Where pdfium lacks something, and what is used instead:

- **Font metrics as written.** pdfium truncates a font's widths (``W`` / ``Widths``) and descriptor
  values to integers and replaces a descriptor's zero Ascent/Descent by the font file's metrics
  (LibreOffice writes zeros: every box would move by about 0.13 em; reportlab writes fractional widths:
  glyphs would drift by up to 0.001 em each along a text object). ``font_metrics`` reads the font
  dictionaries with pdfminer's object layer (no content stream), the descent always and, only for a font
  whose widths have fractions, the width of each character through its Unicode map; the drift this
  undoes is tracked per text object.
- **Opening the file.** pdfium silently repairs files pdfminer rejects (a truncated file would read as a
  whole report), so pdfplumber still opens every PDF (encryption and corruption errors, page tree, page
  count, title, mediabox and rotation) and pdfium reads only the pages; if pdfium cannot open the file or
  counts other pages, pdfplumber reads that file.
- **Text colour space.** pdfium gives text colour as RGB only; white / light-grey text is left out when
  every component is at least 0.8 (pdfminer's rule on gray and RGB text; on CMYK and spot colours the
  two can disagree near the threshold).
- Not handled (as with pdfminer's own limits in this reader): Type 3 fonts use pdfium's metrics; vertical
  writing and horizontal scaling (``Tz``) are not corrected.
"""

from __future__ import annotations

import ctypes
import functools
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as raw

from nianbao.read.pdfpage import Glyph, PageContent

__all__ = ["FontMetrics", "PdfiumPages", "font_metrics"]

_Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: _Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_SUBSET = re.compile(r"^[A-Z]{6}\+")
_FAINT = 0.8  # pdfminer's light-grey threshold (gray and RGB)


def _fn(f: Any, restype: Any, *argtypes: Any) -> Callable[..., Any]:
    """The same pdfium function with plain ``c_void_p`` handles: ints in and out, no pointer objects
    made per call (the per-character calls are most of this module's time)."""
    address = ctypes.cast(f, ctypes.c_void_p).value
    assert address is not None
    return ctypes.CFUNCTYPE(restype, *argtypes)(address)


_P, _I, _D = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_double)
_get_unicode = _fn(raw.FPDFText_GetUnicode, ctypes.c_uint, _P, _I)
_get_text_object = _fn(raw.FPDFText_GetTextObject, _P, _P, _I)
_get_origin = _fn(raw.FPDFText_GetCharOrigin, _I, _P, _I, _D, _D)
_map_error = _fn(raw.FPDFText_HasUnicodeMapError, _I, _P, _I)
_count_chars = _fn(raw.FPDFText_CountChars, _I, _P)
_F, _U = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_uint)
_get_font = _fn(raw.FPDFTextObj_GetFont, _P, _P)
_get_font_size = _fn(raw.FPDFTextObj_GetFontSize, _I, _P, _F)
_get_fill = _fn(raw.FPDFPageObj_GetFillColor, _I, _P, _U, _U, _U, _U)
_get_char_matrix = _fn(raw.FPDFText_GetMatrix, _I, _P, _I, ctypes.POINTER(raw.FS_MATRIX))
_get_base_font_name = _fn(raw.FPDFFont_GetBaseFontName, ctypes.c_size_t, _P, ctypes.c_char_p, ctypes.c_size_t)
_get_descent = _fn(raw.FPDFFont_GetDescent, _I, _P, ctypes.c_float, _F)
_get_glyph_width = _fn(raw.FPDFFont_GetGlyphWidth, _I, _P, ctypes.c_uint32, ctypes.c_float, _F)


@functools.lru_cache(maxsize=1 << 16)
def _snap(v: float) -> float:
    """The shortest decimal that rounds to the same 32-bit float: the number as the PDF wrote it."""
    f32 = struct.unpack("f", struct.pack("f", v))[0]
    for p in range(1, 10):
        s = float(f"{v:.{p}g}")
        if struct.unpack("f", struct.pack("f", s))[0] == f32:
            return s
    return v


def _mul(m: _Matrix, n: _Matrix) -> _Matrix:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2, e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2)


def _apply(m: _Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return (a * x + c * y + e, b * x + d * y + f)


def _obj_matrix(obj: Any) -> _Matrix:
    fm = raw.FS_MATRIX()
    raw.FPDFPageObj_GetMatrix(obj, fm)
    return (_snap(fm.a), _snap(fm.b), _snap(fm.c), _snap(fm.d), _snap(fm.e), _snap(fm.f))


_RGBA = tuple(ctypes.c_uint() for _ in range(4))


def _color(getter: Any, obj: Any) -> tuple[float, ...] | None:
    r, g, b, a = _RGBA
    if not getter(obj, r, g, b, a):
        return None
    return (r.value / 255, g.value / 255, b.value / 255)


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) else 0.0


@dataclass
class FontMetrics:
    """What pdfminer knows of a font and pdfium does not give: the descent (per unit of font size, from
    the descriptor as written) and the advance widths per Unicode character (per unit of font size, as
    written in ``W`` / ``Widths``, fractions kept)."""

    descent: float
    widths: dict[int, float]


def _fractional(v: Any) -> bool:
    """True if a width array (``Widths``, or ``W`` with its nested arrays) holds a non-integer."""
    from pdfminer.pdftypes import resolve1

    v = resolve1(v)
    if isinstance(v, list):
        return any(_fractional(x) for x in v)
    return isinstance(v, float) and not v.is_integer()


def _font_metrics(rsrc: Any, objid: int | None, spec: Any) -> tuple[str, FontMetrics | None]:
    """One font dictionary: its name (subset tag removed) and pdfminer's metrics, or None where pdfium's
    are the same (integer widths; a descent pdfium reads alike is still given, it costs nothing)."""
    from pdfminer.fontmetrics import FONT_METRICS
    from pdfminer.pdftypes import resolve1

    name = resolve1(spec.get("BaseFont"))
    name = str(getattr(name, "name", name))
    subtype = getattr(resolve1(spec.get("Subtype")), "name", None)
    if subtype == "Type3":  # glyph space from FontMatrix: pdfium's metrics are used
        return _SUBSET.sub("", name), None
    dfont = spec
    if subtype == "Type0":
        kids = resolve1(spec.get("DescendantFonts")) or []
        dfont = resolve1(kids[0]) if kids else {}
    descriptor = resolve1(dfont.get("FontDescriptor")) if isinstance(dfont, dict) else None
    if isinstance(descriptor, dict):
        d = _num(resolve1(descriptor.get("Descent", 0)))
    elif subtype != "Type0" and name in FONT_METRICS:
        d = _num(FONT_METRICS[name][0].get("Descent", 0))
    else:
        d = 0.0
    widths: dict[int, float | None] = {}
    if isinstance(dfont, dict) and _fractional(dfont.get("W" if subtype == "Type0" else "Widths")):
        font = rsrc.get_font(objid, spec)  # the character map is needed only here
        for cid in list(font.widths):
            try:
                ch = font.to_unichr(cid)
            except Exception:  # no Unicode for this code: pdfium has none either
                continue
            if len(ch) == 1:
                w = float(font.char_width(cid))
                widths[ord(ch)] = w if widths.get(ord(ch), w) == w else None
    return _SUBSET.sub("", name), FontMetrics(-abs(d) * 0.001, {u: w for u, w in widths.items() if w is not None})


def font_metrics(page: Any, cache: dict[Any, tuple[str, FontMetrics | None]] | None = None
                 ) -> dict[str, FontMetrics]:
    """Given a pdfplumber page, return per font name (subset tag removed) pdfminer's metrics of the fonts
    in the page's resources (from the font dictionaries; no content stream is read). Fonts of one name
    that disagree on the descent are left out; a character whose width they disagree on is left out.
    ``cache`` (per document) keeps each font dictionary's metrics across pages."""
    from pdfminer.pdftypes import PDFObjRef, resolve1

    cache = {} if cache is None else cache
    got: dict[str, list[FontMetrics]] = {}
    try:
        fonts = resolve1(resolve1(page.page_obj.resources).get("Font")) or {}
        items = list(fonts.items())
    except Exception:  # a damaged resource dictionary: pdfium's own metrics are used
        return {}
    for _, ref in items:
        key = ref.objid if isinstance(ref, PDFObjRef) else id(ref)
        if key not in cache:
            try:
                spec = resolve1(ref)
                cache[key] = _font_metrics(page.pdf.rsrcmgr, key if isinstance(ref, PDFObjRef) else None, spec)
            except Exception:  # a font pdfminer cannot load: pdfium's own metrics are used
                cache[key] = ("", None)
        name, fm = cache[key]
        if fm is not None:
            got.setdefault(name, []).append(fm)
    out: dict[str, FontMetrics] = {}
    for name, fms in got.items():
        if len({fm.descent for fm in fms}) != 1:
            continue
        widths: dict[int, float] = {}
        clash: set[int] = set()
        for fm in fms:
            for u, w in fm.widths.items():
                if widths.setdefault(u, w) != w:
                    clash.add(u)
        out[name] = FontMetrics(fms[0].descent, {u: w for u, w in widths.items() if u not in clash})
    return out


class _Paths:
    """Painted paths of a page, classified as pdfminer classifies them, in pdfplumber's coordinates."""

    def __init__(self, to_page: Callable[[float, float], tuple[float, float]]) -> None:
        self.to_page = to_page
        self.lines: list[dict[str, Any]] = []
        self.rects: list[dict[str, Any]] = []
        self.curves: list[dict[str, Any]] = []

    def add(self, obj: Any, m: _Matrix) -> None:
        fill_mode, stroke = ctypes.c_int(), ctypes.c_int()
        raw.FPDFPath_GetDrawMode(obj, fill_mode, stroke)
        scol = _color(raw.FPDFPageObj_GetStrokeColor, obj)
        ncol = _color(raw.FPDFPageObj_GetFillColor, obj)
        x, y = ctypes.c_float(), ctypes.c_float()
        path: list[tuple[Any, ...]] = []
        bez: list[tuple[float, float]] = []
        for k in range(raw.FPDFPath_CountSegments(obj)):
            s = raw.FPDFPath_GetPathSegment(obj, k)
            raw.FPDFPathSegment_GetPoint(s, x, y)
            kind = raw.FPDFPathSegment_GetType(s)
            pt = self.to_page(*_apply(m, _snap(x.value), _snap(y.value)))
            if kind == raw.FPDF_SEGMENT_BEZIERTO:
                bez.append(pt)
                if len(bez) < 3:
                    continue
                path.append(("c", *bez))
                bez = []
            else:
                path.append(("m" if kind == raw.FPDF_SEGMENT_MOVETO else "l", pt))
            if raw.FPDFPathSegment_GetClose(s):
                path.append(("h",))
        self._paint(path, bool(stroke.value), fill_mode.value != 0, scol, ncol)

    def _paint(self, path: list[tuple[Any, ...]], stroke: bool, fill: bool, scol: Any, ncol: Any) -> None:
        """pdfminer's ``paint_path``: one shape per subpath; a redundant closing ``l`` dropped."""
        shape = "".join(p[0] for p in path)
        if shape[:1] != "m":
            return
        if shape.count("m") > 1:
            for sub in re.finditer(r"m[^m]+", shape):
                self._paint(path[sub.start():sub.end()], stroke, fill, scol, ncol)
            return
        pts = [p[-1] if p[0] != "h" else path[0][-1] for p in path]
        if len(shape) > 3 and shape[-2:] == "lh" and pts[-2] == pts[0]:
            shape = shape[:-2] + "h"
            pts.pop()
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        o = {"x0": min(xs), "x1": max(xs), "top": min(ys), "bottom": max(ys), "pts": pts, "path": path,
             "stroke": stroke, "fill": fill, "stroking_color": scol, "non_stroking_color": ncol}
        if shape in ("mlh", "ml"):
            self.lines.append(o)
        elif shape in ("mlllh", "mllll"):
            (x0, y0), (x1, y1), (x2, y2), (x3, y3), _ = pts
            square = (x0 == x1 and y1 == y2 and x2 == x3 and y3 == y0) or (y0 == y1 and x1 == x2 and y2 == y3
                                                                          and x3 == x0)
            (self.rects if pts[0] == pts[4] and square else self.curves).append(o)
        else:
            self.curves.append(o)


def _objects(parent: Any, form: bool, m: _Matrix) -> Iterator[tuple[Any, int, _Matrix]]:
    """Every page object with its type and its matrix to page space (form XObjects entered)."""
    n = raw.FPDFFormObj_CountObjects(parent) if form else raw.FPDFPage_CountObjects(parent)
    for k in range(n):
        obj = raw.FPDFFormObj_GetObject(parent, k) if form else raw.FPDFPage_GetObject(parent, k)
        kind = raw.FPDFPageObj_GetType(obj)
        if kind == raw.FPDF_PAGEOBJ_FORM:
            yield from _objects(obj, True, _mul(_obj_matrix(obj), m))
        elif kind in (raw.FPDF_PAGEOBJ_PATH, raw.FPDF_PAGEOBJ_IMAGE):
            yield obj, kind, _mul(_obj_matrix(obj), m)


def _page_text(tp: Any, n: int) -> str | None:
    """The text page's characters in one call, when each is one UTF-16 unit (else None: one call each)."""
    buf = (ctypes.c_ushort * (n + 1))()
    got = raw.FPDFText_GetText(tp, 0, n, buf)
    text = bytes(buf)[:max(got - 1, 0) * 2].decode("utf-16-le", "surrogatepass")
    return text if len(text) == n and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text) else None


class _Font:
    """A pdfium font of the page with pdfminer's metrics where known (``metrics``, by name)."""

    def __init__(self, font: int, metrics: dict[str, FontMetrics]) -> None:
        self.font = font
        name = ctypes.create_string_buffer(256)
        n = _get_base_font_name(font, name, 256)
        fname = name.raw[:max(n - 1, 0)].decode("utf-8", "replace")
        self.key = f"{fname}@{font}"  # one font dictionary (subsets apart)
        known = metrics.get(fname)
        if known is not None:
            self.descent, self.widths = known.descent, known.widths
        else:
            desc = ctypes.c_float()
            _get_descent(font, 1000.0, ctypes.byref(desc))
            self.descent, self.widths = -abs(desc.value) * 0.001, {}
        # per character: (advance per unit of font size, pdfminer's minus pdfium's, a glyph to keep)
        self.chars: dict[int, tuple[float, float, bool]] = {}
        self._w = ctypes.c_float()

    def char(self, u: int) -> tuple[float, float, bool]:
        """Given a character, return its advance per unit of font size (pdfminer's, from the widths as
        written; else pdfium's integer font units), how much more than pdfium's advance that is (pdfium
        moved the next glyph by its own), and whether it is a glyph (not whitespace)."""
        _get_glyph_width(self.font, u, 1000.0, ctypes.byref(self._w))
        wpu_int = round(self._w.value) * 0.001
        wpu = self.widths.get(u, wpu_int)
        got = self.chars[u] = (wpu, wpu - wpu_int if wpu != wpu_int else 0.0, u != 32 and bool(chr(u).strip()))
        return got


class _Out:
    """Output buffers of the per text object calls (one set per page: no state shared between threads)."""

    def __init__(self) -> None:
        self.fill = tuple(ctypes.c_uint() for _ in range(4))
        self.fill_refs = tuple(ctypes.byref(v) for v in self.fill)
        self.size = ctypes.c_float()
        self.size_ref = ctypes.byref(self.size)
        self.matrix = raw.FS_MATRIX()
        self.matrix_ref = ctypes.byref(self.matrix)


class _TextObject:
    """Per text object: its font, size and the parts of pdfminer's glyph box that do not depend on the
    glyph (``lo_x`` ...: the matrix applied to the descent and ascent), whether it is faint (left out), and
    how far pdfium's integer widths have moved its glyphs so far (``drift``, text space)."""

    __slots__ = ("a", "b", "c", "d", "drift", "faint", "font", "hi_x", "hi_y", "lo_x", "lo_y", "size", "upright")

    def __init__(self, obj: int, tp: int, i: int, ctm: _Matrix, fonts: dict[int, _Font],
                 metrics: dict[str, FontMetrics], buf: _Out) -> None:
        fkey = _get_font(obj) or 0
        font = fonts.get(fkey)
        if font is None:
            font = fonts[fkey] = _Font(fkey, metrics)
        self.font = font
        _get_font_size(obj, buf.size_ref)
        self.size = fs = float(buf.size.value)
        lo = font.descent * fs  # pdfminer's descent in text space
        hi = lo + fs
        red, green, blue, _ = buf.fill
        self.faint = bool(_get_fill(obj, *buf.fill_refs)) and min(red.value, green.value, blue.value) / 255 >= _FAINT
        _get_char_matrix(tp, i, buf.matrix_ref)
        fm = buf.matrix
        a, b, c, d = self.a, self.b, self.c, self.d = (float(fm.a), float(fm.b), float(fm.c), float(fm.d))
        # the corners of pdfminer's box before the origin is added: (0, lo) and (width, hi) through the matrix
        self.lo_x, self.lo_y = a * 0.0 + c * lo, b * 0.0 + d * lo
        self.hi_x, self.hi_y = c * hi, d * hi
        # pdfminer's upright test is on the matrix including the page's ctm
        ca, cb, cc, cd, _, _ = ctm
        ma, mb, mc, md = a * ca + b * cc, a * cb + b * cd, c * ca + d * cc, c * cb + d * cd
        self.upright = ma * md > 0 and mb * mc <= 0
        self.drift = 0.0


class PdfiumPages:
    """The pages of one PDF read by pdfium; ``plumber_pages`` (pdfplumber's, of the same bytes) give the
    page geometry and font descriptors. ``ok`` is False when pdfium cannot open the file or counts other
    pages (the reader then uses pdfplumber)."""

    def __init__(self, data: bytes, password: str | None, plumber_pages: list[Any]) -> None:
        self.plumber_pages = plumber_pages
        self.fonts: dict[Any, tuple[str, FontMetrics | None]] = {}  # font dictionary -> pdfminer's metrics
        try:
            self.doc: pdfium.PdfDocument | None = pdfium.PdfDocument(data, password=password or None)
        except pdfium.PdfiumError:
            self.doc = None
        self.ok = self.doc is not None and len(self.doc) == len(plumber_pages)

    def close(self) -> None:
        if self.doc is not None:
            self.doc.close()
            self.doc = None

    def content(self, k: int) -> PageContent:
        """What pdfium reads from page ``k`` (0-based), in pdfplumber's coordinates."""
        assert self.doc is not None
        pp = self.plumber_pages[k]
        po = pp.page_obj
        x0, y0, x1, y1 = (float(v) for v in po.mediabox)
        ctm: _Matrix = {90: (0, -1, 1, 0, -y0, x1), 180: (-1, 0, 0, -1, x1, y1),
                        270: (0, 1, -1, 0, y1, -x0)}.get(po.rotate, (1, 0, 0, 1, -x0, -y0))
        height, width = float(pp.height), float(pp.width)
        mb_x0, mb_top = pp.mediabox[0], pp.mediabox[1]
        doctop0 = pp.initial_doctop

        def to_page(x: float, y: float) -> tuple[float, float]:  # pdfplumber's point2coord after the ctm
            px, py = _apply(ctm, x, y)
            return (mb_x0 + px, mb_top + height - py)

        page = self.doc[k]
        try:
            paths = _Paths(to_page)
            images: list[tuple[float, float, float, float]] = []
            pixels: list[float | None] = []
            pw, ph = ctypes.c_uint(), ctypes.c_uint()
            for obj, kind, m in _objects(page.raw, False, _IDENTITY):
                if kind == raw.FPDF_PAGEOBJ_PATH:
                    paths.add(obj, m)
                else:  # an image: the unit square through its matrix
                    corners = [to_page(*_apply(m, u, v)) for u, v in ((0, 0), (1, 0), (0, 1), (1, 1))]
                    images.append((min(p[0] for p in corners), min(p[1] for p in corners),
                                   max(p[0] for p in corners), max(p[1] for p in corners)))
                    ok = raw.FPDFImageObj_GetImagePixelSize(obj, pw, ph)
                    pixels.append(float(pw.value) if ok and pw.value else None)
            glyphs = self._glyphs(page, ctm, height, mb_x0, mb_top, doctop0, font_metrics(pp, self.fonts))
        finally:
            page.close()
        return PageContent(width, height, glyphs, paths.lines, paths.rects, paths.curves, images, pixels)

    @staticmethod
    def _glyphs(page: Any, ctm: _Matrix, height: float, mb_x0: float, mb_top: float, doctop0: float,
                metrics: dict[str, FontMetrics]) -> list[Glyph]:
        tp = raw.FPDFText_LoadPage(page.raw)
        if not tp:
            raise RuntimeError("pdfium cannot read the page's text")
        out: list[Glyph] = []
        append = out.append
        try:
            tpv = ctypes.cast(tp, ctypes.c_void_p).value or 0
            ox, oy = ctypes.c_double(), ctypes.c_double()
            pox, poy = ctypes.byref(ox), ctypes.byref(oy)
            objs: dict[int, _TextObject] = {}
            fonts: dict[int, _Font] = {}
            buf = _Out()
            plain = ctm[:4] == (1, 0, 0, 1)
            n = _count_chars(tpv)
            text = _page_text(tp, n)
            tx, ty = ctm[4], ctm[5]
            get_obj, get_origin, map_error, get_unicode = _get_text_object, _get_origin, _map_error, _get_unicode
            for i in range(n):
                obj = get_obj(tpv, i)
                if not obj:  # pdfium's own space or line break
                    continue
                t = objs.get(obj)
                if t is None:
                    t = objs[obj] = _TextObject(obj, tpv, i, ctm, fonts, metrics, buf)
                if t.faint:  # none of its glyphs is kept (its drift moves only its own glyphs)
                    continue
                u = ord(text[i]) if text is not None else get_unicode(tpv, i)
                f = t.font
                got = f.chars.get(u)
                wpu, dw, keep = got if got is not None else f.char(u)
                drift = t.drift
                if dw:  # pdfium advanced the next glyph by the integer width
                    t.drift = drift + dw * t.size
                if not keep:
                    continue
                get_origin(tpv, i, pox, poy)
                a, b = t.a, t.b
                w = wpu * t.size
                e, g = ox.value + a * drift, oy.value + b * drift
                ax, ay = t.lo_x + e, t.lo_y + g  # pdfminer's box: two corners
                bx, by = a * w + t.hi_x + e, b * w + t.hi_y + g
                if plain:
                    ax, ay, bx, by = ax + tx, ay + ty, bx + tx, by + ty
                else:
                    ax, ay = _apply(ctm, ax, ay)
                    bx, by = _apply(ctm, bx, by)
                if bx < ax:
                    ax, bx = bx, ax
                if by < ay:
                    ay, by = by, ay
                top = (height - by) + mb_top
                append(Glyph(chr(u), ax + mb_x0, bx + mb_x0, top, (height - ay) + mb_top, doctop0 + top, by - ay,
                             f.key, t.upright, map_error(tpv, i) == 1))
        finally:
            raw.FPDFText_ClosePage(tp)
        return out

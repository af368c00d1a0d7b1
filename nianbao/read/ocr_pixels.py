"""Pixel work for OCR: a clean grey page from a scan, its skew, its ruling lines, cell crops.

* **Grey from the red channel.** Official seals are red; in the red channel they are nearly white while
  black print stays black, so a seal over the text or a table does not hide it.
* **Denoise.** Dark specks of one or two pixels (salt noise) become paper; strokes, even one pixel thin,
  and decimal points stay.
* **Deskew.** The angle that makes the horizontal projection of the ink sharpest (text lines and table
  rules both are horizontal when the page is straight), searched within ``MAX_SKEW`` degrees on a
  reduced copy, then refined; the page is turned back by it.
* **Rules.** Adaptive threshold (works on blurred and unevenly lit scans), then a morphological opening
  with a long thin kernel keeps only straight runs longer than any character stroke; a short closing
  joins pieces broken by noise or JPEG. Before the opening, gaps of one pixel along the rule's direction
  are filled: a white speck of salt noise on a one-pixel rule would otherwise cut it into pieces shorter
  than the kernel, which the opening drops (a missing rule merges two rows; the end of a broken vertical
  rule reads as a row boundary). Each connected piece is one rule (position, start, end in pixels).

Pure functions over numpy arrays (opencv-python-headless, installed with rapidocr); no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_SKEW",
    "PixelRule",
    "clean_cell",
    "clean_page",
    "despeckle",
    "erase_rules",
    "find_rules",
    "ink",
    "minus_sign",
    "rotate",
    "skew_angle",
    "unseal",
]

Grey = npt.NDArray[np.uint8]

MAX_SKEW = 4.0  # degrees: scanners and phone captures of a page lying on a table stay within this
_MIN_TURN = 0.15  # degrees: below this the search cannot tell the angle from 0, and turning blurs thin strokes
_DARK = 150  # grey level below which a pixel is ink for the skew search
_INK = 215  # ... and for ink counts: print under a seal is about 185 after clean_page


_PAPER = 210  # red channel at or above this is paper (a red seal on paper is about 230 there)
_LEVELS = np.clip(np.arange(256, dtype=np.float64) * 255.0 / _PAPER, 0, 255).astype(np.uint8)


_SPECK = 2  # dark blobs of at most this many pixels are noise (a decimal point at 9 pt and 200 dpi is more)


def unseal(rgb: Grey) -> Grey:
    """Given an RGB (or grey) page image, return it grey without red seals: in the red channel a seal on
    paper is nearly white (set to white by a levels curve) while print under a seal stays darker."""
    grey = rgb[:, :, 0] if rgb.ndim == 3 else rgb
    return np.asarray(cv2.LUT(np.ascontiguousarray(grey), _LEVELS), dtype=np.uint8)


def despeckle(grey: Grey) -> Grey:
    """Remove salt noise: dark blobs of at most ``_SPECK`` pixels become paper. (A median filter would also
    remove the one-pixel strokes of 一 and 三 in small print.)"""
    mask = (grey < _DARK).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    small = stats[:, cv2.CC_STAT_AREA] <= _SPECK
    small[0] = False
    out = grey.copy()
    out[small[labels]] = 255
    return out


def clean_page(rgb: Grey) -> Grey:
    """``despeckle(unseal(rgb))``: the page the primary engine reads."""
    return despeckle(unseal(rgb))


def _profile_score(bw: Grey, angle: float) -> float:
    h, w = bw.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rot = cv2.warpAffine(bw, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    prof = rot.sum(axis=1, dtype=np.float64)
    return float(np.dot(prof, prof))


def skew_angle(grey: Grey) -> float:
    """Return the angle (degrees, counter-clockwise positive as ``rotate`` takes it) that straightens the
    page: the one maximising the sum of squared ink counts per pixel row, first in 0.25 degree steps on a
    copy about 1000 px wide, then in 0.05 degree steps around the best."""
    scale = min(1.0, 1000.0 / grey.shape[1])
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    bw = (small < _DARK).astype(np.uint8)
    if int(bw.sum()) < 50:
        return 0.0
    coarse = np.arange(-MAX_SKEW, MAX_SKEW + 1e-9, 0.25)
    best = max(coarse, key=lambda a: _profile_score(bw, float(a)))
    fine = np.arange(best - 0.25, best + 0.25 + 1e-9, 0.05)
    return round(float(max(fine, key=lambda a: _profile_score(bw, float(a)))), 2)


def rotate(grey: Grey, angle: float) -> Grey:
    """Turn a grey image by ``angle`` degrees about its centre (white fill, same size)."""
    if abs(angle) < _MIN_TURN:
        return grey
    h, w = grey.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return np.asarray(cv2.warpAffine(grey, m, (w, h), flags=cv2.INTER_CUBIC, borderValue=255), dtype=np.uint8)


@dataclass(frozen=True)
class PixelRule:
    pos: float  # y of a horizontal rule, x of a vertical one (pixels)
    a: float  # start along the rule
    b: float  # end
    thick: float


def _pieces(mask: Grey, horizontal: bool, min_len: int, max_thick: int) -> list[PixelRule]:
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out: list[PixelRule] = []
    for i in range(1, n):
        x, y, w, h = (int(v) for v in stats[i, :4])
        length, thick = (w, h) if horizontal else (h, w)
        if length < min_len or thick > max_thick:
            continue
        pos = y + h / 2 if horizontal else x + w / 2
        a, b = (x, x + w) if horizontal else (y, y + h)
        out.append(PixelRule(pos, float(a), float(b), float(thick)))
    return out


def find_rules(grey: Grey, dpi: float, min_h_pt: float, min_v_pt: float) -> tuple[list[PixelRule], list[PixelRule]]:
    """Given a straightened grey page, return its horizontal and vertical rule pieces (pixels): straight
    ink runs at least ``min_h_pt`` / ``min_v_pt`` long and at most 1/40 inch thick (plus blur)."""
    k = dpi / 72.0
    bw = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV,
                               max(15, int(dpi / 8) | 1), 12)
    min_h, min_v = max(8, round(min_h_pt * k)), max(8, round(min_v_pt * k))
    max_thick = max(4, round(dpi / 25))
    # one-pixel gaps along the direction filled first (a 2-pixel kernel bridges no wider gap). Known cost:
    # strokes of neighbouring bold characters set 1 px apart can be joined into a run taken for a rule
    # (and erased): measured on fake-bold pictures of tables, bench/report.md
    h_bw = cv2.morphologyEx(bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (2, 1)))
    v_bw = cv2.morphologyEx(bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 2)))
    h_mask = cv2.morphologyEx(h_bw, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (min_h, 1)))
    h_mask = cv2.morphologyEx(h_mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 1)))
    v_mask = cv2.morphologyEx(v_bw, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, min_v)))
    v_mask = cv2.morphologyEx(v_mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 9)))
    return (_pieces(np.asarray(h_mask, dtype=np.uint8), True, min_h, max_thick),
            _pieces(np.asarray(v_mask, dtype=np.uint8), False, min_v, max_thick))


def erase_rules(grey: Grey, rules: list[PixelRule], horizontal: list[PixelRule],
                boxes: list[tuple[float, ...]]) -> Grey:
    """Return a copy of the page with the rule pieces lying inside the given boxes (tables, pixels)
    painted white, two pixels beyond their thickness on each side."""
    out = grey.copy()
    h_ids = {id(r) for r in horizontal}
    for r in rules:
        pad = r.thick / 2 + 2
        if id(r) in h_ids:
            x0, x1, y0, y1 = r.a, r.b, r.pos - pad, r.pos + pad
        else:
            x0, x1, y0, y1 = r.pos - pad, r.pos + pad, r.a, r.b
        if any(b[0] - 6 <= x0 and x1 <= b[2] + 6 and b[1] - 6 <= y0 and y1 <= b[3] + 6 for b in boxes):
            out[max(0, int(y0)):int(y1) + 1, max(0, int(x0)):int(x1) + 1] = 255
    return out


def ink(grey: Grey) -> int:
    """Number of ink pixels of a grey image (crop)."""
    return int(np.count_nonzero(grey < _INK))


def clean_cell(crop: Grey, *, median: bool, scale: float = 1.0, binarize: bool = False) -> Grey:
    """Given the crop of one value cell (not despeckled), return it prepared for another reading: salt noise
    removed by a 3x3 median (``median``; a different cleaning than ``despeckle``, so the two readings do not
    share its mistakes), every ink blob touching the crop's edge (the remnant of a rule) painted white,
    enlarged by ``scale`` and, with ``binarize``, black and white by Otsu's threshold."""
    out = np.asarray(cv2.medianBlur(crop, 3), dtype=np.uint8) if median else crop.copy()
    _, bw = cv2.threshold(out, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(bw, connectivity=8)
    h, w = out.shape
    x, y, cw, ch = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    edge = (x == 0) | (y == 0) | (x + cw >= w) | (y + ch >= h)
    edge[0] = False
    out[edge[labels]] = 255
    if scale != 1.0:
        out = np.asarray(cv2.resize(out, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
    if binarize:
        out = np.asarray(cv2.threshold(out, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1], dtype=np.uint8)
    return np.ascontiguousarray(out, dtype=np.uint8)


def minus_sign(crop: Grey) -> bool | None:
    """Given the (despeckled, rules erased) crop of a cell holding a number, return whether a minus sign is
    printed before it: True when the only mark left of the digits is a short flat stroke at mid-height,
    False when nothing lies left of the digits and the first digit's left edge is tall (a minus touching it
    would make that edge a thin stroke), None when it cannot be told (any other mark, a thin left edge)."""
    _, bw = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(bw, connectivity=8)
    h, w = crop.shape
    every = [(i, *(int(v) for v in stats[i, :4])) for i in range(1, n) if stats[i, 4] > _SPECK]
    blobs = [b for b in every if b[1] > 0 and b[2] > 0 and b[1] + b[3] < w and b[2] + b[4] < h]
    if not blobs:
        return None
    tall = max(b[4] for b in blobs)
    digits = [b for b in blobs if b[4] >= 0.6 * tall]
    first = min(digits, key=lambda b: b[1])
    top, bottom = min(b[2] for b in digits), max(b[2] + b[4] for b in digits)
    if any(b not in blobs and b[1] + b[3] / 2 < first[1] and b[2] < bottom and b[2] + b[4] > top for b in every):
        return None  # a mark cut by the crop's edge before the digits, at their height: it may be a minus
    left = [b for b in blobs if b[4] < 0.6 * tall and b[1] + b[3] / 2 < first[1]]
    if not left:
        i, x, y, _, bh = first
        edge = labels[y:y + bh, x:x + max(1, round(0.2 * tall))] == i
        rows = np.flatnonzero(edge.any(axis=1))
        return False if rows.size and rows[-1] - rows[0] + 1 >= 0.5 * tall else None
    if len(left) != 1:
        return None
    _, x, y, mw, mh = left[0]
    mid = (y + mh / 2 - top) / max(1, bottom - top)
    flat = mh <= 0.3 * tall and mw > mh and mw >= 0.2 * tall  # blur makes a thin stroke about as tall as wide
    return True if flat and 0.3 <= mid <= 0.75 and x + mw <= first[1] + 1 else None

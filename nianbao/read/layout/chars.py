"""Characters and visual lines: the unit of the layout engine and how characters join into text.

A ``Char`` is one glyph with its box in PDF points, top-down (y grows downwards), whatever produced it
(a PDF text layer or OCR). Text is kept raw (no NFKC): CJK runs are joined without spaces, a space is
put only where the gap between two glyphs is a real one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Char", "bbox_of", "cluster", "group_lines", "is_cjk", "join_chars", "join_lines"]

T = TypeVar("T")


@dataclass(slots=True)
class Char:
    """One glyph: its text (usually one character), box (x0, x1, top, bottom; points, top-down) and font
    size (points)."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def h(self) -> float:
        return max(self.bottom - self.top, 0.1)


def cluster(items: Sequence[T], key: Callable[[T], float], tol: float) -> list[list[T]]:
    """Chain clustering: sorted by key, a new cluster starts where the gap to the previous exceeds tol."""
    out: list[list[T]] = []
    last = 0.0
    for it in sorted(items, key=key):
        v = key(it)
        if out and v - last <= tol:
            out[-1].append(it)
        else:
            out.append([it])
        last = v
    return out


def is_cjk(ch: str) -> bool:
    o = ord(ch[0]) if ch else 0
    return (0x2E80 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF or 0x3000 <= o <= 0x303F
            or 0x20000 <= o <= 0x2FA1F or o in (0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2026, 0xFFFD))


def join_chars(chars: Sequence[Char]) -> str:
    """Text of one visual line (chars sorted by x): CJK runs without spaces, a space for real gaps."""
    parts: list[str] = []
    prev: Char | None = None
    for c in chars:
        if prev is not None:
            gap = c.x0 - prev.x1
            size = min(c.size, prev.size) or 10.0
            if gap >= size or (gap > 0.2 * size and not is_cjk(prev.text[-1]) and not is_cjk(c.text[0])):
                parts.append(" ")
        parts.append(c.text)
        prev = c
    return "".join(parts)


def join_lines(lines: Iterable[str]) -> str:
    """Wrapped lines of one cell into one text: no separator at CJK boundaries, else a space."""
    out = ""
    for ln in lines:
        if not ln:
            continue
        if out and not (is_cjk(out[-1]) or is_cjk(ln[0])):
            out += " "
        out += ln
    return out


def group_lines(chars: Sequence[Char]) -> list[list[Char]]:
    """Group characters into visual lines (top to bottom), each sorted left to right."""
    lines: list[list[Char]] = []
    ref = 0.0
    tol = 0.0
    for c in sorted(chars, key=lambda c: c.cy):
        if lines and c.cy - ref <= tol:
            lines[-1].append(c)
            continue
        lines.append([c])
        ref = c.cy
        tol = 0.45 * c.h
    for ln in lines:
        ln.sort(key=lambda c: c.x0)
    return lines


def bbox_of(chars: Iterable[Char]) -> tuple[float, float, float, float]:
    cs = list(chars)
    return (round(min(c.x0 for c in cs), 2), round(min(c.top for c in cs), 2),
            round(max(c.x1 for c in cs), 2), round(max(c.bottom for c in cs), 2))


"""Inline SVG charts and the exact value formatting of the quality report (no script, no CDN).

Every number drawn carries ``data-metric`` / ``data-value`` so a test can compare the page with a query.
"""

from __future__ import annotations

import html
import math
from decimal import Decimal
from typing import Any

SERIES: tuple[tuple[str, str, str], ...] = (
    ("new_received", "本年新收 new_received (total)", "#2563eb"),
    ("total_handled", "办理结果总计 total_handled (total)", "#16a34a"),
    ("carried_forward", "结转下年度 carried_forward (total)", "#9333ea"),
    ("administrative_review", "行政复议 administrative_review (total)", "#ea580c"),
    ("litigation", "行政诉讼 litigation (direct + after review)", "#dc2626"),
)

def canon(v: Any) -> str:
    """The exact, canonical text of a value (what ``data-value`` holds)."""
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return str(int(v)) if v == v.to_integral_value() else format(v.normalize(), "f")
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def esc(s: Any) -> str:
    return html.escape(canon(s), quote=True)


def num_cell(metric: str, v: Any) -> str:
    shown = canon(v) if v is not None else "–"
    return f'<td class="n" data-metric="{esc(metric)}" data-value="{esc(v)}">{html.escape(shown)}</td>'


def _fnum(v: Any) -> float:
    try:
        return float(v) if v is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def bar_chart(items: list[tuple[str, Any, str]], title: str, metric_prefix: str, *, width: int = 760) -> str:
    """Horizontal bar chart as inline SVG: items are (label, value, colour)."""
    label_w, value_w, row_h, top = 300, 70, 26, 30
    bar_w = width - label_w - value_w - 20
    height = top + row_h * max(len(items), 1) + 10
    top_v = max((_fnum(v) for _, v, _ in items), default=0.0) or 1.0
    parts = [f'<svg class="chart" role="img" aria-label="{esc(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="0" y="18" class="ct">{esc(title)}</text>']
    if not items:
        parts.append(f'<text x="{label_w}" y="{top + 17}" class="muted">none</text>')
    for i, (label, value, colour) in enumerate(items):
        y = top + i * row_h
        w = max(1.0, bar_w * _fnum(value) / top_v) if _fnum(value) > 0 else 0.0
        short = label if len(label) <= 46 else label[:45] + "…"
        parts.append(
            f'<g><title>{esc(label)}: {esc(value)}</title>'
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" class="lbl">{esc(short)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" rx="2" fill="{colour}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" class="val" data-metric="{esc(metric_prefix + label)}" '
            f'data-value="{esc(value)}">{esc(value)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def nice_ceiling(v: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k that is >= v (1 for v <= 0)."""
    if v <= 0:
        return 1.0
    k = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * k >= v:
            return float(m * k)
    return float(10 * k)  # pragma: no cover


def line_chart(years: list[dict[str, Any]], *, width: int = 760, height: int = 300) -> str:
    """Year-over-year totals as inline SVG lines, one per series."""
    left, right, top, bottom = 60, 20, 30, 40
    pw, ph = width - left - right, height - top - bottom
    xs = [int(r["report_year"]) for r in years]
    top_v = nice_ceiling(max((_fnum(r[k]) for r in years for k, _, _ in SERIES), default=0.0))
    parts = [f'<svg class="chart" role="img" aria-label="year-over-year totals" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             '<text x="0" y="18" class="ct">Year-over-year totals (sum over the year\'s reports)</text>']

    def px(i: int) -> float:
        return left + (pw * i / (len(xs) - 1) if len(xs) > 1 else pw / 2)

    def py(v: float) -> float:
        return top + ph - ph * v / top_v

    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = top + ph - ph * frac
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
                     f'{canon(Decimal(str(top_v * frac)))}</text>')
    for i, x in enumerate(xs):
        parts.append(f'<text x="{px(i):.1f}" y="{top + ph + 18}" text-anchor="middle" class="axis">{x}</text>')
    for key, label, colour in SERIES:
        pts = [(px(i), py(_fnum(r[key]))) for i, r in enumerate(years) if r[key] is not None]
        if len(pts) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                         f'points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>')
        for (a, b), r in zip(pts, [r for r in years if r[key] is not None], strict=True):
            parts.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{colour}">'
                         f'<title>{esc(label)} {r["report_year"]}: {esc(r[key])}</title></circle>')
    lx = left
    for _key, label, colour in SERIES:
        short = label.split(" ")[0]
        parts.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{height - 5}" class="axis">{esc(short)}</text>')
        lx += 14 + 13 * len(short) + 16
    parts.append("</svg>")
    return "".join(parts)



__all__ = ["SERIES", "bar_chart", "canon", "esc", "line_chart", "nice_ceiling", "num_cell"]

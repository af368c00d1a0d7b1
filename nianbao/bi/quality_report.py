"""The batch quality report: ``<out>/quality_report.html``, one static, self-contained page.

Every number on the page is computed with DuckDB over the published Parquet outputs, through the
same views as the catalog (``nianbao.bi.catalog.create_views`` on an in-memory connection), and is
printed in an element carrying ``data-metric`` (what it is) and ``data-value`` (the exact value),
so a test can compare the rendered page with its own query. Charts are inline SVG; the page loads
nothing (a Content-Security-Policy forbids it) and its one small script only records that it ran
(``data-rendered`` on ``<body>``) and any error (``data-errors`` on ``<html>``).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from nianbao import PARSER_VERSION
from nianbao.bi.catalog import create_views
from nianbao.fsio import atomic_write

REPORT_FILE = "quality_report.html"
TOP_BODIES = 15
SERIES: tuple[tuple[str, str, str], ...] = (
    ("new_received", "本年新收 new_received (total)", "#2563eb"),
    ("total_handled", "办理结果总计 total_handled (total)", "#16a34a"),
    ("carried_forward", "结转下年度 carried_forward (total)", "#9333ea"),
    ("administrative_review", "行政复议 administrative_review (total)", "#ea580c"),
    ("litigation", "行政诉讼 litigation (direct + after review)", "#dc2626"),
)
STATUS_COLORS = {"ok": "#16a34a", "partial": "#d97706", "failed": "#dc2626"}

# The queries behind the page (run against the catalog views).
QUERIES: dict[str, str] = {
    "totals": """SELECT count(*) AS reports, count(DISTINCT body_key) AS bodies, count(DISTINCT report_year) AS years,
  coalesce(sum(n_failed_checks), 0) AS failed_checks FROM report_summary""",
    "status": "SELECT status, count(*) AS n FROM reports GROUP BY status ORDER BY n DESC, status",
    "format": """SELECT coalesce(source_format, 'unknown') AS source_format, count(*) AS n FROM reports
GROUP BY 1 ORDER BY n DESC, 1""",
    "checks": """SELECT "check", origin, count(*) AS n FROM all_issues WHERE severity IN ('error', 'warning')
GROUP BY "check", origin ORDER BY n DESC, "check\"""",
    "bodies": f"""SELECT coalesce(body_key, '(no agency) ' || left(report_id, 12)) AS body,
  coalesce(arg_max(agency, report_year), '') AS agency, count(*) AS reports,
  string_agg(DISTINCT CAST(report_year AS VARCHAR), ', ' ORDER BY CAST(report_year AS VARCHAR)) AS years,
  sum(n_failed_checks) AS failed_checks, sum(n_crossyear_issues) AS crossyear
FROM report_summary GROUP BY 1 HAVING sum(n_failed_checks) > 0
ORDER BY failed_checks DESC, body LIMIT {TOP_BODIES}""",
    "years": """SELECT report_year, count(*) AS reports,
  count(*) FILTER (WHERE status = 'ok') AS ok, count(*) FILTER (WHERE status = 'partial') AS partial,
  count(*) FILTER (WHERE status = 'failed') AS failed,
  sum(new_received_total) AS new_received, sum(total_handled_total) AS total_handled,
  sum(carried_forward_total) AS carried_forward, sum(administrative_review_total) AS administrative_review,
  sum(coalesce(litigation_direct_total, 0) + coalesce(litigation_after_review_total, 0))
    FILTER (WHERE litigation_direct_total IS NOT NULL OR litigation_after_review_total IS NOT NULL) AS litigation,
  sum(n_failed_checks) AS failed_checks
FROM report_summary GROUP BY report_year ORDER BY report_year""",
    "missing": """SELECT body_key, agency, report_year FROM agency_years
WHERE NOT has_report AND report_year > first_year
ORDER BY report_year DESC, body_key LIMIT 200""",
}


@dataclass
class QualityData:
    """What the page shows: one list of row dicts per query."""

    out_dir: str
    generated: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def collect(out_dir: Path | str) -> QualityData:
    """Run every query of the page over the published outputs under ``out_dir``."""
    out = Path(out_dir).resolve()
    con = duckdb.connect()
    try:
        create_views(con, out)
        rows: dict[str, list[dict[str, Any]]] = {}
        for key, sql in QUERIES.items():
            rel = con.sql(sql)
            cols = rel.columns
            rows[key] = [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]
    finally:
        con.close()
    return QualityData(str(out), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), rows)


# --- rendering -------------------------------------------------------------------------------

def canon(v: Any) -> str:
    """The exact, canonical text of a value (what ``data-value`` holds)."""
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return str(int(v)) if v == v.to_integral_value() else format(v.normalize(), "f")
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def _e(s: Any) -> str:
    return html.escape(canon(s), quote=True)


def _num(metric: str, v: Any) -> str:
    shown = canon(v) if v is not None else "–"
    return f'<td class="n" data-metric="{_e(metric)}" data-value="{_e(v)}">{html.escape(shown)}</td>'


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
    parts = [f'<svg class="chart" role="img" aria-label="{_e(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="0" y="18" class="ct">{_e(title)}</text>']
    if not items:
        parts.append(f'<text x="{label_w}" y="{top + 17}" class="muted">none</text>')
    for i, (label, value, colour) in enumerate(items):
        y = top + i * row_h
        w = max(1.0, bar_w * _fnum(value) / top_v) if _fnum(value) > 0 else 0.0
        short = label if len(label) <= 46 else label[:45] + "…"
        parts.append(
            f'<g><title>{_e(label)}: {_e(value)}</title>'
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" class="lbl">{_e(short)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" rx="2" fill="{colour}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" class="val" data-metric="{_e(metric_prefix + label)}" '
            f'data-value="{_e(value)}">{_e(value)}</text></g>')
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
                         f'<title>{_e(label)} {r["report_year"]}: {_e(r[key])}</title></circle>')
    lx = left
    for _key, label, colour in SERIES:
        short = label.split(" ")[0]
        parts.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{height - 5}" class="axis">{_e(short)}</text>')
        lx += 14 + 13 * len(short) + 16
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",sans-serif;margin:24px;color:#111;
  max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#666;fill:#666;font-size:12px}.ct{font-size:14px;font-weight:600;fill:#111}
.lbl{font-size:12px;fill:#222}.val{font-size:12px;fill:#111}.axis{font-size:11px;fill:#444}
.grid{stroke:#e5e7eb;stroke-width:1}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f3f4f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card .n{font-size:22px;font-weight:600}.row{display:flex;gap:24px;flex-wrap:wrap}
"""

_SCRIPT = """(function(){var errs=[];window.addEventListener('error',function(e){errs.push(String(e.message));
document.documentElement.setAttribute('data-errors',errs.join(' | '));});
document.addEventListener('DOMContentLoaded',function(){var n=document.querySelectorAll('svg.chart').length;
document.body.setAttribute('data-rendered',String(n));});})();"""


def _table(head: list[str], rows: list[str]) -> str:
    return ("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def render(data: QualityData) -> str:
    """Given the collected numbers, return the HTML page."""
    r = data.rows
    tot = r["totals"][0] if r["totals"] else {"reports": 0, "bodies": 0, "years": 0, "failed_checks": 0}
    cards = "".join(
        f'<div class="card"><div class="muted">{html.escape(label)}</div>'
        f'<div class="n" data-metric="totals:{key}" data-value="{_e(tot[key])}">{_e(tot[key])}</div></div>'
        for key, label in (("reports", "reports"), ("bodies", "bodies (agency keys)"), ("years", "years"),
                           ("failed_checks", "failed checks (error + warning rows)")))
    status_items = [(str(x["status"]), x["n"], STATUS_COLORS.get(str(x["status"]), "#6b7280")) for x in r["status"]]
    format_items = [(str(x["source_format"]), x["n"], "#0891b2") for x in r["format"]]
    check_items = [(f'{x["check"]} [{x["origin"]}]', x["n"], "#7c3aed" if x["origin"] == "crossyear" else "#db2777")
                   for x in r["checks"]]
    body_items = [(str(x["body"]), x["failed_checks"], "#b91c1c") for x in r["bodies"]]
    body_rows = [
        "<tr>" + f'<td>{_e(x["body"])}</td><td>{_e(x["agency"])}</td><td>{_e(x["years"])}</td>'
        + _num(f'bodies:{x["body"]}:reports', x["reports"]) + _num(f'bodies:{x["body"]}:failed_checks',
                                                                   x["failed_checks"])
        + _num(f'bodies:{x["body"]}:crossyear', x["crossyear"]) + "</tr>" for x in r["bodies"]]
    year_cols = ["reports", "ok", "partial", "failed", "new_received", "total_handled", "carried_forward",
                 "administrative_review", "litigation", "failed_checks"]
    year_rows = ["<tr>" + f'<td>{_e(x["report_year"])}</td>'
                 + "".join(_num(f'years:{x["report_year"]}:{c}', x[c]) for c in year_cols) + "</tr>"
                 for x in r["years"]]
    missing_rows = [f'<tr><td>{_e(x["report_year"])}</td><td>{_e(x["body_key"])}</td><td>{_e(x["agency"])}</td></tr>'
                    for x in r["missing"]]
    check_rows = ["<tr>" + f'<td>{_e(x["check"])}</td><td>{_e(x["origin"])}</td>'
                  + _num(f'checks:{x["check"]}:{x["origin"]}', x["n"]) + "</tr>" for x in r["checks"]]
    parts = [
        "<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>nianbao quality report</title>", f"<style>{_CSS}</style>", f"<script>{_SCRIPT}</script>",
        "</head><body>",
        "<h1>nianbao quality report · 政府信息公开工作年度报告</h1>",
        f'<div class="muted">outputs: {_e(data.out_dir)} · generated {_e(data.generated)} · {_e(PARSER_VERSION)} · '
        "numbers computed with DuckDB over the published Parquet (the catalog views)</div>",
        f'<h2>Overview</h2><div class="cards">{cards}</div>',
        '<h2>Reports per status and format</h2><div class="row">',
        bar_chart(status_items, "reports per status", "status:", width=520),
        bar_chart(format_items, "reports per source format", "format:", width=520), "</div>",
        "<h2>Failed checks by type</h2>",
        '<div class="muted">rows of validation_issues (origin report) and crossyear_issues (origin crossyear) '
        "with severity error or warning</div>",
        bar_chart(check_items, "failed checks by type", "checkbar:"),
        _table(["check", "origin", "rows"], check_rows),
        f"<h2>Bodies with most problems (top {TOP_BODIES})</h2>",
        bar_chart(body_items, "failed checks per body", "bodybar:"),
        _table(["body key", "agency as printed", "years", "reports", "failed checks", "of which cross-year"],
               body_rows),
        "<h2>Year over year</h2>", line_chart(r["years"]) if r["years"] else '<div class="muted">no data</div>',
        _table(["year", *year_cols], year_rows),
        "<h2>Bodies without a report in a published year</h2>",
        '<div class="muted">a body (agency key) that published for an earlier year and nothing for this one '
        "(catalog view agency_years)</div>",
        _table(["year", "body key", "agency"], missing_rows) if missing_rows else '<div class="muted">none</div>',
        "</body></html>",
    ]
    return "\n".join(parts)


def write_quality_report(out_dir: Path | str) -> Path:
    """Compute the numbers and write ``<out>/quality_report.html`` atomically; return its path."""
    out = Path(out_dir).resolve()
    page = render(collect(out))
    return atomic_write(out / REPORT_FILE, page)


__all__ = ["QUERIES", "REPORT_FILE", "QualityData", "canon", "collect", "render", "write_quality_report"]

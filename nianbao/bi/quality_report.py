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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from nianbao import PARSER_VERSION
from nianbao.bi.catalog import create_views, query_config
from nianbao.bi.charts import bar_chart, canon, esc, line_chart, num_cell
from nianbao.bi.problem_page import FILTER_SCRIPT, problem_charts, render_problems
from nianbao.bi.problems import Problems, collect_problems
from nianbao.fsio import atomic_write

REPORT_FILE = "quality_report.html"
TOP_BODIES = 15
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
    problems: Problems = field(default_factory=Problems)


# DuckDB's buffers for the page's queries (``query_config``: past this its operators spill to disk).
QUERY_MEMORY = "512MB"


def collect(out_dir: Path | str) -> QualityData:
    """Run every query of the page over the published outputs under ``out_dir``."""
    out = Path(out_dir).resolve()
    con = duckdb.connect(config=query_config(out, QUERY_MEMORY))
    try:
        create_views(con, out)
        rows: dict[str, list[dict[str, Any]]] = {}
        for key, sql in QUERIES.items():
            rel = con.sql(sql)
            cols = rel.columns
            rows[key] = [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]
        problems = collect_problems(con)
    finally:
        con.close()
    return QualityData(str(out), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), rows, problems)


# --- rendering -------------------------------------------------------------------------------
_CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",sans-serif;margin:24px;color:#111;
  max-width:1400px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#666;fill:#666;font-size:12px}.ct{font-size:14px;font-weight:600;fill:#111}
.lbl{font-size:12px;fill:#222}.val{font-size:12px;fill:#111}.axis{font-size:11px;fill:#444}
.grid{stroke:#e5e7eb;stroke-width:1}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f3f4f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card .n{font-size:22px;font-weight:600}.row{display:flex;gap:24px;flex-wrap:wrap}
.filters{position:sticky;top:0;background:#fff;padding:8px 0;border-bottom:1px solid #ddd;display:flex;gap:14px;
  flex-wrap:wrap;z-index:1}.filters select{max-width:260px}
.scroll{overflow-x:auto;max-width:100%}table.ft{font-size:12px}td.code{white-space:nowrap}
td.act{color:#1e3a8a;font-size:12px;min-width:180px}tr[hidden]{display:none}
"""

_SCRIPT = """(function(){var errs=[];window.addEventListener('error',function(e){errs.push(String(e.message));
document.documentElement.setAttribute('data-errors',errs.join(' | '));});
document.addEventListener('DOMContentLoaded',function(){var n=document.querySelectorAll('svg.chart').length;
document.body.setAttribute('data-rendered',String(n));});})();
""" + FILTER_SCRIPT


def _table(head: list[str], rows: list[str]) -> str:
    return ("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def render(data: QualityData) -> str:
    """Given the collected numbers, return the HTML page."""
    r = data.rows
    tot = r["totals"][0] if r["totals"] else {"reports": 0, "bodies": 0, "years": 0, "failed_checks": 0}
    cards = "".join(
        f'<div class="card"><div class="muted">{html.escape(label)}</div>'
        f'<div class="n" data-metric="totals:{key}" data-value="{esc(tot[key])}">{esc(tot[key])}</div></div>'
        for key, label in (("reports", "reports"), ("bodies", "bodies (agency keys)"), ("years", "years"),
                           ("failed_checks", "failed checks (error + warning rows)")))
    status_items = [(str(x["status"]), x["n"], STATUS_COLORS.get(str(x["status"]), "#6b7280")) for x in r["status"]]
    format_items = [(str(x["source_format"]), x["n"], "#0891b2") for x in r["format"]]
    check_items = [(f'{x["check"]} [{x["origin"]}]', x["n"], "#7c3aed" if x["origin"] == "crossyear" else "#db2777")
                   for x in r["checks"]]
    body_items = [(str(x["body"]), x["failed_checks"], "#b91c1c") for x in r["bodies"]]
    body_rows = [
        "<tr>" + f'<td>{esc(x["body"])}</td><td>{esc(x["agency"])}</td><td>{esc(x["years"])}</td>'
        + num_cell(f'bodies:{x["body"]}:reports', x["reports"]) + num_cell(f'bodies:{x["body"]}:failed_checks',
                                                                   x["failed_checks"])
        + num_cell(f'bodies:{x["body"]}:crossyear', x["crossyear"]) + "</tr>" for x in r["bodies"]]
    year_cols = ["reports", "ok", "partial", "failed", "new_received", "total_handled", "carried_forward",
                 "administrative_review", "litigation", "failed_checks"]
    year_rows = ["<tr>" + f'<td>{esc(x["report_year"])}</td>'
                 + "".join(num_cell(f'years:{x["report_year"]}:{c}', x[c]) for c in year_cols) + "</tr>"
                 for x in r["years"]]
    missing_rows = [f'<tr><td>{esc(x["report_year"])}</td><td>{esc(x["body_key"])}</td><td>{esc(x["agency"])}</td></tr>'
                    for x in r["missing"]]
    check_rows = ["<tr>" + f'<td>{esc(x["check"])}</td><td>{esc(x["origin"])}</td>'
                  + num_cell(f'checks:{x["check"]}:{x["origin"]}', x["n"]) + "</tr>" for x in r["checks"]]
    parts = [
        "<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>nianbao quality report</title>", f"<style>{_CSS}</style>", f"<script>{_SCRIPT}</script>",
        "</head><body>",
        "<h1>nianbao quality report · 政府信息公开工作年度报告</h1>",
        f'<div class="muted">outputs: {esc(data.out_dir)} · generated {esc(data.generated)} · {esc(PARSER_VERSION)} · '
        "numbers computed with DuckDB over the published Parquet (the catalog views)</div>",
        f'<h2>Overview</h2><div class="cards">{cards}</div>',
        "<h2>Problems by code, and cells published by format</h2>", problem_charts(data.problems),
        render_problems(data.problems),
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

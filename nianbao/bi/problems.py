"""The actionable part of the quality report: every report and every problem, where it is and what to do.

For each report: its file name, agency, year and status; for each problem: its code with the meaning and
the action from the registry (``nianbao.codes``), the table, row and column, the page and bounding box
where known (from the issue, else from the cell it names), the expected and actual values of a failed
identity, and a link that opens the source file (``file://`` absolute path, ``#page=N`` for a PDF).
Recoveries (cells restored by an identity) and withheld values (OCR tables not published) are listed
apart from the problems, and information-only notes apart again. Every row carries ``data-code``,
``data-agency``, ``data-year`` and ``data-status`` for the page's filters (``FILTER_SCRIPT``).

Each section lists at most ``MAX_ROWS`` rows (the page must open in a browser for a national batch);
the full lists are the catalog views ``all_issues`` and ``reports``.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from nianbao.bi.charts import bar_chart, canon, esc
from nianbao.codes import Code, lookup
from nianbao.template import TABLES, TemplateVersion

MAX_ROWS = 2000
CELL_TABLES: tuple[tuple[str, str, str], ...] = (
    ("applications", "row", "applicant"), ("proactive_disclosure", "category", "metric"),
    ("reviews_litigation", "proceeding", "outcome"))
GROUP_COLORS = {"failure": "#7f1d1d", "problem": "#db2777", "recovery": "#0d9488", "withheld": "#d97706",
                "note": "#6b7280"}
FILTERS = ("code", "agency", "year", "status")


def _cells_sql() -> str:
    return "\nUNION ALL\n".join(
        f'SELECT report_id, report_year, \'{t}\' AS table_name, "{k1}" AS key1, "{k2}" AS key2, value, raw, '
        f"derivation, template, page, x0, top, x1, bottom FROM {t}" for t, k1, k2 in CELL_TABLES)


QUERIES: dict[str, str] = {
    "reports": """SELECT report_id, report_year, source_uri, source_format, agency, status, error, error_message,
  template, template_applications FROM reports ORDER BY report_year, agency NULLS LAST, source_uri""",
    # The cells an issue points at, found by a semi join that holds only the issues' keys (joining every
    # cell of every report to the issues would hold all the cells at once).
    "issues": f"""WITH keys AS (SELECT DISTINCT report_id, report_year, table_name, key1, key2 FROM all_issues
  WHERE table_name IS NOT NULL AND key1 IS NOT NULL AND key2 IS NOT NULL),
cells AS (SELECT c.* FROM ({_cells_sql()}) c SEMI JOIN keys k ON c.report_id = k.report_id
  AND c.report_year = k.report_year AND c.table_name = k.table_name AND c.key1 = k.key1 AND c.key2 = k.key2)
SELECT i.report_id, i.report_year, i.origin, i."check", i.severity, i.table_name, i.key1, i.key2, i.expected,
  i.actual, i.message, coalesce(i.page, c.page) AS page, c.x0, c.top, c.x1, c.bottom, i.related_report_id
FROM all_issues i LEFT JOIN cells c ON c.report_id = i.report_id AND c.report_year = i.report_year
  AND c.table_name = i.table_name AND c.key1 = i.key1 AND c.key2 = i.key2
ORDER BY i.report_year, i.report_id, i.origin DESC, i."check", i.table_name NULLS FIRST, i.key1 NULLS FIRST,
  i.key2 NULLS FIRST""",
    "recovered": f"""SELECT * FROM ({_cells_sql()}) WHERE derivation IN ('identity', 'split_by_identity')
ORDER BY report_year, report_id, table_name, key1, key2 LIMIT {MAX_ROWS}""",
    "recovered_counts": f"""SELECT report_id, report_year, count(*) AS n FROM ({_cells_sql()})
WHERE derivation IN ('identity', 'split_by_identity') GROUP BY ALL""",
    "published": f"""SELECT report_id, report_year, table_name, count(*) AS n, min(template) AS template
FROM ({_cells_sql()}) GROUP BY ALL""",
}


@dataclass
class Problems:
    """The rows behind the per-report sections, already joined to their report and registry entry."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)  # issues and failures, with "entry" (Code|None)
    recovered: list[dict[str, Any]] = field(default_factory=list)  # the first MAX_ROWS (a batch may have millions)
    recovered_by_report: dict[tuple[str, int], int] = field(default_factory=dict)
    recall: list[dict[str, Any]] = field(default_factory=list)  # source_format, published, expected, share


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    rel = con.sql(sql)
    return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


def expected_cells(table: str, version: str | None) -> int:
    """Cells of a table in the template (version unknown: the 2021 one)."""
    v: TemplateVersion = "2019" if version == "2019" else "2021"
    return len(TABLES[(table, v)].cell_keys())


def _recall(reports: list[dict[str, Any]], published: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Share of the template's cells published, per source format; a failed report publishes none of its own."""
    got = {(p["report_id"], p["report_year"], p["table_name"]): p for p in published}
    acc: dict[str, list[int]] = {}
    for r in reports:
        fmt = r["source_format"] or "unknown"
        pub = exp = 0
        for table, _, _ in CELL_TABLES:
            p = got.get((r["report_id"], r["report_year"], table))
            version = (p and p["template"]) or (table == "applications" and r["template_applications"]) or r["template"]
            n_exp = expected_cells(table, version)
            exp += n_exp
            pub += min(int(p["n"]), n_exp) if p else 0
        a = acc.setdefault(fmt, [0, 0])
        a[0] += pub
        a[1] += exp
    return [{"source_format": f, "published": p, "expected": e,
             "share": (Decimal(p) / Decimal(e)).quantize(Decimal("0.0001")) if e else Decimal(0)}
            for f, (p, e) in sorted(acc.items())]


def collect_problems(con: duckdb.DuckDBPyConnection) -> Problems:
    """Run the queries over the catalog views on ``con``; attach each report and registry entry."""
    reports = _rows(con, QUERIES["reports"])
    by_key = {(r["report_id"], r["report_year"]): r for r in reports}
    issues = []
    for r in reports:  # a failed report's error code is a problem of its own
        if r["error"]:
            issues.append({"report_id": r["report_id"], "report_year": r["report_year"], "origin": "report",
                           "check": r["error"], "severity": "failed", "message": r["error_message"] or "",
                           "entry": lookup(r["error"], "error"), "report": r})
    for i in _rows(con, QUERIES["issues"]):
        i["entry"] = lookup(i["check"])
        i["report"] = by_key.get((i["report_id"], i["report_year"]), {})
        issues.append(i)
    recovered = _rows(con, QUERIES["recovered"])
    for c in recovered:
        c["report"] = by_key.get((c["report_id"], c["report_year"]), {})
    counts = {(r["report_id"], r["report_year"]): int(r["n"]) for r in _rows(con, QUERIES["recovered_counts"])}
    return Problems(reports, issues, recovered, counts, _recall(reports, _rows(con, QUERIES["published"])))


def group_of(issue: dict[str, Any]) -> str:
    """problem, failure, recovery, withheld or note; an unregistered code counts as a problem."""
    entry: Code | None = issue.get("entry")
    return entry.group if entry is not None else "problem"


def source_href(uri: str | None, fmt: str | None, page: int | None, base: Path | None = None) -> str | None:
    """A link that opens the source (at the page, for a PDF): the URL itself, or the ``file://`` URI of a
    local file that exists (a relative path is taken from ``base``, default the current directory)."""
    if not uri:
        return None
    if uri.startswith(("http://", "https://")):
        href = uri
    elif "://" in uri and not uri.startswith("file://"):
        return None  # an object store: no browser can open it
    else:
        path = Path(uri.removeprefix("file://"))
        path = path if path.is_absolute() else (base or Path.cwd()) / path
        if not path.is_file():
            return None
        href = path.resolve().as_uri()
    return f"{href}#page={page}" if page and fmt == "pdf" else href


def _file(report: dict[str, Any], page: int | None = None) -> str:
    uri = report.get("source_uri") or ""
    name = uri.rstrip("/").rsplit("/", 1)[-1] or "(unknown)"
    href = source_href(uri, report.get("source_format"), page)
    label = esc(name) + (f" p.{page}" if page else "")
    if href is None:
        return f'<td title="{esc(uri)}">{label}</td>'
    return f'<td><a class="src" href="{esc(href)}" title="{esc(uri)}">{label}</a></td>'


def _attrs(report: dict[str, Any], codes: list[str]) -> str:
    vals = {"code": " ".join(sorted(set(codes))), "agency": report.get("agency") or "(no agency)",
            "year": canon(report.get("report_year")), "status": report.get("status") or ""}
    return " ".join(f'data-{k}="{esc(vals[k])}"' for k in FILTERS)


def _bbox(i: dict[str, Any]) -> str:
    if i.get("x0") is None:
        return ""
    return ", ".join(f"{float(i[k]):.1f}" for k in ("x0", "top", "x1", "bottom"))


def _td(v: Any) -> str:
    return f"<td>{esc(v)}</td>"


def _issue_row(i: dict[str, Any]) -> str:
    r, entry = i["report"], i["entry"]
    meaning = entry.meaning if entry else "not in the code registry (nianbao/codes.py): please report it"
    action = entry.action if entry else ""
    page = i.get("page")
    return (f'<tr class="fr" data-group="{esc(group_of(i))}" {_attrs(r, [i["check"]])}>'
            + _file(r, page) + _td(r.get("agency")) + _td(i["report_year"]) + _td(r.get("status"))
            + f'<td class="code" title="{esc(meaning)}"><code>{esc(i["check"])}</code></td>' + _td(i["severity"])
            + _td(i.get("table_name")) + _td(i.get("key1")) + _td(i.get("key2"))
            + f'<td class="n">{esc(i.get("expected"))}</td><td class="n">{esc(i.get("actual"))}</td>'
            + _td(page) + _td(_bbox(i)) + _td(i.get("message")) + f'<td class="act">{esc(action)}</td></tr>')


ISSUE_HEAD = ["file (opens the source)", "agency", "year", "status", "code", "severity", "table", "row", "column",
              "expected", "actual", "page", "bbox (pt)", "message", "what to do"]


def _section(title: str, key: str, note: str, head: list[str], items: list[Any],
             row: Callable[[Any], str], total: int | None = None) -> str:
    rows = items  # only the first MAX_ROWS are rendered: a national batch has far more
    shown = [row(x) for x in rows[:MAX_ROWS]]
    n = len(rows) if total is None else total  # ``items`` may already be only the first MAX_ROWS of ``total``
    more = (f'<div class="muted">first {MAX_ROWS} of {n} rows shown; all of them are in the catalog '
            "(views all_issues, reports)</div>" if n > MAX_ROWS else "")
    if not rows:
        return f'<h2>{html.escape(title)}</h2><div class="muted" id="{key}-none">none</div>'
    return (f'<h2>{html.escape(title)} (<span data-count-of="{key}">{len(shown)}</span> shown of '
            f'<span data-metric="rows:{key}" data-value="{n}">{n}</span>)</h2>'
            f'<div class="muted">{html.escape(note)}</div>{more}<div class="scroll"><table id="{key}" class="ft">'
            "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(shown) + "</tbody></table></div>")


def _filters(p: Problems) -> str:
    values: dict[str, set[str]] = {k: set() for k in FILTERS}
    for r in p.reports:
        values["agency"].add(r["agency"] or "(no agency)")
        values["year"].add(canon(r["report_year"]))
        values["status"].add(r["status"])
    values["code"] = {i["check"] for i in p.issues}
    out = ['<div class="filters" id="filters">']
    for k in FILTERS:
        opts = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in sorted(values[k]))
        out.append(f'<label>{k} <select id="f-{k}" data-filter="{k}"><option value="">all</option>{opts}'
                   "</select></label>")
    out.append('<button type="button" id="f-reset">show all</button></div>')
    return "".join(out)


def render_problems(p: Problems) -> str:
    """The filters and the per-report sections (reports, problems, recoveries, withheld, notes, codes)."""
    codes_of: dict[tuple[str, int], list[str]] = {}
    for i in p.issues:
        codes_of.setdefault((i["report_id"], i["report_year"]), []).append(i["check"])
    groups = Counter((i["report_id"], i["report_year"], group_of(i)) for i in p.issues)
    n_rec = p.recovered_by_report
    def report_row(r: dict[str, Any]) -> str:
        k = (r["report_id"], r["report_year"])
        return (f'<tr class="fr" {_attrs(r, codes_of.get(k, []))}>' + _file(r) + _td(r["agency"])
                + _td(r["report_year"]) + _td(r["status"]) + _td(r["error"]) + _td(r["source_format"])
                + "".join(f'<td class="n">{groups[(*k, g)]}</td>' for g in ("failure", "problem", "withheld", "note"))
                + f'<td class="n">{groups[(*k, "recovery")]} / {n_rec.get(k, 0)}</td></tr>')

    def recovered_row(c: dict[str, Any]) -> str:
        return (f'<tr class="fr" data-group="recovery" '
                f'{_attrs(c["report"], codes_of.get((c["report_id"], c["report_year"]), []))}>'
                + _file(c["report"], c.get("page")) + _td(c["report"].get("agency")) + _td(c["report_year"])
                + _td(c["table_name"]) + _td(c["key1"]) + _td(c["key2"]) + f'<td class="n">{esc(c["value"])}</td>'
                + _td(c["raw"]) + _td(c["derivation"]) + _td(c.get("page")) + _td(_bbox(c)) + "</tr>")

    by_group: dict[str, list[dict[str, Any]]] = {}
    for i in p.issues:
        by_group.setdefault(group_of(i), []).append(i)
    return "\n".join([
        _filters(p),
        _section("Reports", "reports", "every input of the published years, with its problems by kind", [
            "file (opens the source)", "agency", "year", "status", "error", "format", "failures", "problems",
            "withheld", "notes", "recoveries / recovered cells"], p.reports, report_row),
        _section("Problems to look at", "problems",
                 "failed reports, failed identities and structural problems: the values may be wrong or missing",
                 ISSUE_HEAD, by_group.get("failure", []) + by_group.get("problem", []), _issue_row),
        _section("Recoveries", "recoveries",
                 "cells restored by the identities and published, flagged with their derivation (not errors)",
                 ISSUE_HEAD, by_group.get("recovery", []), _issue_row),
        _section("Recovered cells", "recovered", "each published cell whose value was restored by an identity",
                 ["file (opens the source)", "agency", "year", "table", "row", "column", "value", "printed",
                  "derivation", "page", "bbox (pt)"], p.recovered, recovered_row, sum(p.recovered_by_report.values())),
        _section("Withheld", "withheld", "values read but not published (OCR the identities cannot vouch for, "
                 "rows of a text dump whose columns are unknown): key them in from the source",
                 ISSUE_HEAD, by_group.get("withheld", []), _issue_row),
        _section("Notes", "notes", "information only", ISSUE_HEAD, by_group.get("note", []), _issue_row),
        _codes_table(p),
    ])


def _codes_table(p: Problems) -> str:
    count = Counter(i["check"] for i in p.issues)
    rows = []
    for code, n in sorted(count.items(), key=lambda kv: (-kv[1], kv[0])):
        e = next(i["entry"] for i in p.issues if i["check"] == code)
        rows.append(f"<tr><td><code>{esc(code)}</code></td>" + _td(e.group if e else "unregistered")
                    + _td(", ".join(e.severities) if e else "") + f'<td class="n">{n}</td>'
                    + _td(e.meaning if e else "") + _td(e.action if e else "") + "</tr>")
    if not rows:
        return ""
    return ('<h2>Codes on this page</h2><div class="muted">from the code registry (docs/checks.md)</div><table>'
            "<thead><tr><th>code</th><th>kind</th><th>severity</th><th>rows</th><th>meaning</th><th>what to do</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def problem_charts(p: Problems) -> str:
    """Problems by code (coloured by kind) and the share of template cells published per source format."""
    count = Counter((i["check"], group_of(i)) for i in p.issues)
    items = [(f"{c} [{g}]", n, GROUP_COLORS.get(g, "#6b7280"))
             for (c, g), n in sorted(count.items(), key=lambda kv: (-kv[1], kv[0]))]
    recall = [(str(x["source_format"]), x["share"] * 100, "#0891b2") for x in p.recall]
    return (bar_chart(items, "problems by code [kind]", "codebar:")
            + '<div class="muted">share of the template\'s cells published, per source format (a failed report '
            "publishes none; cells left out or withheld are missing): "
            + ", ".join(f'<span data-metric="recall:{esc(x["source_format"])}" data-value="{esc(x["share"])}">'
                        f'{esc(x["source_format"])} {esc(x["published"])} / {esc(x["expected"])}</span>'
                        for x in p.recall) + "</div>"
            + bar_chart(recall, "cells published, % of the template, by format", "recallbar:"))


FILTER_SCRIPT = """function nbFilter(){var want={};document.querySelectorAll('select[data-filter]').forEach(function(s){
want[s.getAttribute('data-filter')]=s.value;});var shown={};
document.querySelectorAll('tr.fr').forEach(function(tr){var ok=true;for(var k in want){if(!want[k])continue;
var v=tr.getAttribute('data-'+k)||'';if(k==='code'){if((' '+v+' ').indexOf(' '+want[k]+' ')<0)ok=false;}
else if(v!==want[k])ok=false;}tr.hidden=!ok;var t=tr.closest('table').id;shown[t]=(shown[t]||0)+(ok?1:0);});
document.querySelectorAll('[data-count-of]').forEach(function(e){e.textContent=String(shown[e.getAttribute(
'data-count-of')]||0);});}
document.addEventListener('DOMContentLoaded',function(){document.querySelectorAll('select[data-filter]').forEach(
function(s){s.addEventListener('change',nbFilter);});var b=document.getElementById('f-reset');if(b){
b.addEventListener('click',function(){document.querySelectorAll('select[data-filter]').forEach(function(s){
s.value='';});nbFilter();});}nbFilter();});"""

__all__ = ["FILTER_SCRIPT", "MAX_ROWS", "QUERIES", "Problems", "collect_problems", "expected_cells", "group_of",
           "problem_charts", "render_problems", "source_href"]

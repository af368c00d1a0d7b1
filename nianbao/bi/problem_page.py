"""The actionable part of the quality report, rendered: every report and every problem, where it is and what to do.

For each report: its file name, agency, year and status; for each problem: its code with the meaning and
the action from the registry (``nianbao.codes``), the table, row and column, the page and bounding box
where known (from the issue, else from the cell it names), the expected and actual values of a failed
identity, and a link that opens the source file (``file://`` absolute path, ``#page=N`` for a PDF).
Recoveries (cells restored by an identity) and withheld values (OCR tables not published) are listed
apart from the problems, and information-only notes apart again. Every row carries ``data-code``,
``data-agency``, ``data-year`` and ``data-status`` for the page's filters (``FILTER_SCRIPT``).

Each section lists at most ``Problems.limit`` rows (``nianbao.bi.problems.MAX_ROWS``; the data and the order
are ``nianbao.bi.problems``'s), with the section's total; the full lists are the catalog views ``all_issues``
and ``reports``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nianbao.bi.charts import bar_chart, canon, esc
from nianbao.bi.problems import Problems, group_of
from nianbao.codes import Code, lookup

GROUP_COLORS = {"failure": "#7f1d1d", "problem": "#db2777", "recovery": "#0d9488", "withheld": "#d97706",
                "note": "#6b7280"}
FILTERS = ("code", "agency", "year", "status")
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


def _values(report: dict[str, Any], codes: list[str]) -> dict[str, str]:
    return {"code": " ".join(sorted(set(codes))), "agency": report.get("agency") or "(no agency)",
            "year": canon(report.get("report_year")), "status": report.get("status") or ""}


def _attrs(report: dict[str, Any], codes: list[str]) -> str:
    vals = _values(report, codes)
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
             row: Callable[[Any], str], total: int, limit: int) -> str:
    """``items``: the section's first ``limit`` rows (a national batch has far more); ``total``: all of them."""
    shown = [row(x) for x in items[:limit]]
    more = (f'<div class="muted">first {limit} of {total} rows shown; all of them are in the catalog '
            "(views all_issues, reports)</div>" if total > limit else "")
    if not items:
        return f'<h2>{html.escape(title)}</h2><div class="muted" id="{key}-none">none</div>'
    return (f'<h2>{html.escape(title)} (<span data-count-of="{key}">{len(shown)}</span> shown of '
            f'<span data-metric="rows:{key}" data-value="{total}">{total}</span>)</h2>'
            f'<div class="muted">{html.escape(note)}</div>{more}<div class="scroll"><table id="{key}" class="ft">'
            "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(shown) + "</tbody></table></div>")


def _filters(p: Problems) -> str:
    """The drop-downs: the values of the rows on the page only (a filter acts on the rendered rows; at national
    scale a list of every agency or code of the output would have 100,000 options and match no row shown)."""
    values: dict[str, set[str]] = {k: set() for k in FILTERS}
    rendered = ([(r, p.codes_of.get((r["report_id"], r["report_year"]), [])) for r in p.reports[:p.limit]]
                + [(i["report"], [i["check"]]) for i in p.issues]
                + [(c["report"], p.codes_of.get((c["report_id"], c["report_year"]), [])) for c in p.recovered[:p.limit]])
    for report, codes in rendered:
        values["code"].update(codes)
        if report:  # an issue whose report is not in the output has no agency, year or status to filter by
            v = _values(report, codes)
            for k in ("agency", "year", "status"):
                if v[k]:
                    values[k].add(v[k])
    out = ['<div class="filters" id="filters">']
    for k in FILTERS:
        opts = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in sorted(values[k]))
        out.append(f'<label>{k} <select id="f-{k}" data-filter="{k}"><option value="">all</option>{opts}'
                   "</select></label>")
    out.append('<button type="button" id="f-reset">show all</button></div>')
    return "".join(out)


def render_problems(p: Problems) -> str:
    """The filters and the per-report sections (reports, problems, recoveries, withheld, notes, codes)."""
    codes_of, groups, n_rec = p.codes_of, p.groups_of, p.recovered_by_report

    def report_row(r: dict[str, Any]) -> str:
        k = (r["report_id"], r["report_year"])
        return (f'<tr class="fr" {_attrs(r, codes_of.get(k, []))}>' + _file(r) + _td(r["agency"])
                + _td(r["report_year"]) + _td(r["status"]) + _td(r["error"]) + _td(r["source_format"])
                + "".join(f'<td class="n">{groups.get((*k, g), 0)}</td>'
                          for g in ("failure", "problem", "withheld", "note"))
                + f'<td class="n">{groups.get((*k, "recovery"), 0)} / {n_rec.get(k, 0)}</td></tr>')

    def recovered_row(c: dict[str, Any]) -> str:
        return (f'<tr class="fr" data-group="recovery" '
                f'{_attrs(c["report"], codes_of.get((c["report_id"], c["report_year"]), []))}>'
                + _file(c["report"], c.get("page")) + _td(c["report"].get("agency")) + _td(c["report_year"])
                + _td(c["table_name"]) + _td(c["key1"]) + _td(c["key2"]) + f'<td class="n">{esc(c["value"])}</td>'
                + _td(c["raw"]) + _td(c["derivation"]) + _td(c.get("page")) + _td(_bbox(c)) + "</tr>")

    def issues(key: str, title: str, note: str) -> str:
        return _section(title, key, note, ISSUE_HEAD, p.sections.get(key, []), _issue_row, p.totals.get(key, 0),
                        p.limit)

    return "\n".join([
        _filters(p),
        _section("Reports", "reports", "every input of the published years, with its problems by kind", [
            "file (opens the source)", "agency", "year", "status", "error", "format", "failures", "problems",
            "withheld", "notes", "recoveries / recovered cells"], p.reports, report_row, p.n_reports, p.limit),
        issues("problems", "Problems to look at",
               "failed reports, failed identities and structural problems: the values may be wrong or missing"),
        issues("recoveries", "Recoveries",
               "cells restored by the identities and published, flagged with their derivation (not errors)"),
        _section("Recovered cells", "recovered", "each published cell whose value was restored by an identity",
                 ["file (opens the source)", "agency", "year", "table", "row", "column", "value", "printed",
                  "derivation", "page", "bbox (pt)"], p.recovered, recovered_row, p.totals.get("recovered", 0),
                 p.limit),
        issues("withheld", "Withheld", "values read but not published (OCR the identities cannot vouch for, "
               "rows of a text dump whose columns are unknown): key them in from the source"),
        issues("notes", "Notes", "information only"),
        _codes_table(p),
    ])


def _codes_table(p: Problems) -> str:
    """Every code of the output with its rows (a code emitted both as a report's error and as a check is
    described by its error entry, as the failed reports come first)."""
    count: dict[str, int] = {}
    as_error: set[str] = set()
    for c in p.code_counts:
        count[c["check"]] = count.get(c["check"], 0) + int(c["n"])
        if c["src"] == 0:
            as_error.add(c["check"])
    rows = []
    for code, n in sorted(count.items(), key=lambda kv: (-kv[1], kv[0])):
        e: Code | None = lookup(code, "error") if code in as_error else lookup(code)
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
    count: dict[tuple[str, str], int] = {}
    for c in p.code_counts:
        count[(c["check"], c["grp"])] = count.get((c["check"], c["grp"]), 0) + int(c["n"])
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

__all__ = ["FILTER_SCRIPT", "GROUP_COLORS", "problem_charts", "render_problems", "source_href"]

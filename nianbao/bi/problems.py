"""The data behind the actionable part of the quality report: the rows of each per-report section and the
counts of the charts, queried from the catalog views (rendered by ``nianbao.bi.problem_page``).

Sections: the reports; the problems to look at (failed reports, then the problems); the recoveries; the
withheld values; the notes; the recovered cells. A failed report's error code is a row of group "failure"
of its own. Each section holds at most ``MAX_ROWS`` rows (the page must open in a browser for a national
batch; the full lists are the catalog views ``all_issues`` and ``reports``), taken by ``ORDER BY ... LIMIT``
in DuckDB, with its total counted there too: the memory held here does not grow with the reports or the
issues. The counts by code and kind, the per-report counts of the shown reports and the share of the
template's cells published per source format are SQL aggregates. The group (kind) of a code comes from the
registry (``nianbao.codes.lookup``), looked up here for the few distinct codes and handed to DuckDB as a
small temporary table.

Order of each section (the first ``MAX_ROWS`` rows shown are the first ones in it): reports by year, agency
(no agency last), source URI; issue rows by kind (failure before problem in "Problems to look at"), failed
reports first in the reports' order, then the issues by year, report, origin (report before crossyear),
check, table, row and column (no table/row/column first); recovered cells by year, report, table, row, column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

from nianbao.codes import Code, lookup
from nianbao.template import TABLES, TemplateVersion

MAX_ROWS = 2000
CELL_TABLES: tuple[tuple[str, str, str], ...] = (
    ("applications", "row", "applicant"), ("proactive_disclosure", "category", "metric"),
    ("reviews_litigation", "proceeding", "outcome"))
# The issue sections: (key, the groups (kinds) they list).
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("problems", ("failure", "problem")), ("recoveries", ("recovery",)), ("withheld", ("withheld",)),
    ("notes", ("note",)))
RECOVERED = "derivation IN ('identity', 'split_by_identity')"
REPORT_COLS = ("report_id, report_year, source_uri, source_format, agency, status, error, error_message, template, "
               "template_applications")
REPORT_ORDER = "report_year, agency NULLS LAST, source_uri, report_id"
_GROUPS = "nb_code_group"  # temporary table: (kind, code, grp) of every code in the output
_SHOWN = "nb_shown_report"  # temporary table: the keys of the reports the page shows


def _cells_sql() -> str:
    return "\nUNION ALL\n".join(
        f'SELECT report_id, report_year, \'{t}\' AS table_name, "{k1}" AS key1, "{k2}" AS key2, value, raw, '
        f"derivation, template, page, x0, top, x1, bottom FROM {t}" for t, k1, k2 in CELL_TABLES)


# Every issue row of the page: each failed report's error (src 0), then every issue (src 1), with its group.
ITEMS = f"""SELECT 0 AS src, r.report_id, r.report_year, 'report' AS origin, r.error AS "check",
  'failed' AS severity, CAST(NULL AS VARCHAR) AS table_name, CAST(NULL AS VARCHAR) AS key1,
  CAST(NULL AS VARCHAR) AS key2, CAST(NULL AS VARCHAR) AS expected, CAST(NULL AS VARCHAR) AS actual,
  coalesce(r.error_message, '') AS message, CAST(NULL AS INTEGER) AS page, CAST(NULL AS VARCHAR) AS related_report_id,
  r.agency AS o_agency, r.source_uri AS o_uri, coalesce(g.grp, 'problem') AS grp
FROM reports r LEFT JOIN {_GROUPS} g ON g.kind = 'error' AND g.code = r.error
WHERE r.error IS NOT NULL AND r.error <> ''
UNION ALL
SELECT 1, i.report_id, i.report_year, i.origin, i."check", i.severity, i.table_name, i.key1, i.key2, i.expected,
  i.actual, i.message, i.page, i.related_report_id, NULL, NULL, coalesce(g.grp, 'problem')
FROM all_issues i LEFT JOIN {_GROUPS} g ON g.kind = 'check' AND g.code = i."check\""""
ITEM_ORDER = """CASE grp WHEN 'failure' THEN 0 ELSE 1 END, src, report_year, o_agency NULLS LAST, o_uri, report_id,
  origin DESC, "check", table_name NULLS FIRST, key1 NULLS FIRST, key2 NULLS FIRST, message, expected, actual, page,
  related_report_id"""


def section_sql(groups: tuple[str, ...], limit: int) -> str:
    """The first ``limit`` issue rows of ``groups`` in order, with their report and the page and bounding box of
    the cell they name (a semi join on the shown rows' keys: never every cell of every report)."""
    grp = ", ".join(f"'{g}'" for g in groups)
    return f"""WITH items AS ({ITEMS}),
top AS (SELECT * FROM items WHERE grp IN ({grp}) ORDER BY {ITEM_ORDER} LIMIT {int(limit)}),
ranked AS (SELECT *, row_number() OVER (ORDER BY {ITEM_ORDER}) AS rn FROM top),
keys AS (SELECT DISTINCT report_id, report_year, table_name, key1, key2 FROM ranked
  WHERE table_name IS NOT NULL AND key1 IS NOT NULL AND key2 IS NOT NULL),
cells AS (SELECT c.* FROM ({_cells_sql()}) c SEMI JOIN keys k ON c.report_id = k.report_id
  AND c.report_year = k.report_year AND c.table_name = k.table_name AND c.key1 = k.key1 AND c.key2 = k.key2)
SELECT i.src, i.report_id, i.report_year, i.origin, i."check", i.severity, i.table_name, i.key1, i.key2, i.expected,
  i.actual, i.message, coalesce(i.page, c.page) AS page, c.x0, c.top, c.x1, c.bottom, i.related_report_id, i.grp,
  r.report_id IS NOT NULL AS has_report, r.source_uri, r.source_format, r.agency, r.status
FROM ranked i LEFT JOIN cells c ON c.report_id = i.report_id AND c.report_year = i.report_year
  AND c.table_name = i.table_name AND c.key1 = i.key1 AND c.key2 = i.key2
LEFT JOIN reports r ON r.report_id = i.report_id AND r.report_year = i.report_year
ORDER BY i.rn"""


QUERIES: dict[str, str] = {
    "codes": """SELECT DISTINCT 'check' AS kind, "check" AS code FROM all_issues WHERE "check" IS NOT NULL
UNION SELECT DISTINCT 'error', error FROM reports WHERE error IS NOT NULL AND error <> ''""",
    "reports": f"SELECT {REPORT_COLS} FROM reports ORDER BY {REPORT_ORDER} LIMIT {{limit}}",
    "n_reports": "SELECT count(*) FROM reports",
    "recovered": f"""SELECT * FROM ({_cells_sql()}) WHERE {RECOVERED}
ORDER BY report_year, report_id, table_name, key1, key2 LIMIT {{limit}}""",
    "n_recovered": f"SELECT count(*) FROM ({_cells_sql()}) WHERE {RECOVERED}",
    # Counts by code, source (0: a failed report's error code, 1: an issue) and group: charts, codes, totals.
    "code_counts": f'SELECT "check", src, grp, count(*) AS n FROM ({ITEMS}) GROUP BY ALL ORDER BY ALL',
    # Only for the reports on the page: their report rows, their codes and groups, their recovered cells.
    "shown_reports": f"SELECT {REPORT_COLS} FROM reports SEMI JOIN {_SHOWN} USING (report_id, report_year)",
    "shown_codes": f"""SELECT report_id, report_year, "check", grp, count(*) AS n
FROM ({ITEMS}) SEMI JOIN {_SHOWN} USING (report_id, report_year) GROUP BY ALL""",
    "shown_recovered": f"""SELECT report_id, report_year, count(*) AS n FROM ({_cells_sql()})
SEMI JOIN {_SHOWN} USING (report_id, report_year) WHERE {RECOVERED} GROUP BY ALL""",
}


def expected_cells(table: str, version: str | None) -> int:
    """Cells of a table in the template (version unknown: the 2021 one)."""
    v: TemplateVersion = "2019" if version == "2019" else "2021"
    return len(TABLES[(table, v)].cell_keys())


def recall_sql() -> str:
    """Published and expected template cells per source format over every report: a table's template version is
    the published cells' (``min(template)``), else the report's applications template (applications), else the
    report's; a failed report publishes none of its own; a table counts at most its expected cells."""
    exp = ", ".join(f"('{t}', '{v}', {expected_cells(t, v)})" for t, _, _ in CELL_TABLES for v in ("2019", "2021"))
    tabs = ", ".join(f"('{t}')" for t, _, _ in CELL_TABLES)
    return f"""WITH exp(table_name, version, n) AS (VALUES {exp}), tabs(table_name) AS (VALUES {tabs}),
pub AS (SELECT report_id, report_year, table_name, count(*) AS n, min(template) AS template
  FROM ({_cells_sql()}) GROUP BY ALL),
per AS (SELECT coalesce(nullif(r.source_format, ''), 'unknown') AS fmt, t.table_name, coalesce(p.n, 0) AS n,
  CASE WHEN coalesce(CASE WHEN nullif(p.template, '') IS NOT NULL THEN p.template
    WHEN t.table_name = 'applications' AND nullif(r.template_applications, '') IS NOT NULL
      THEN r.template_applications ELSE r.template END, '') = '2019' THEN '2019' ELSE '2021' END AS version
  FROM reports r CROSS JOIN tabs t LEFT JOIN pub p ON p.report_id = r.report_id AND p.report_year = r.report_year
    AND p.table_name = t.table_name)
SELECT fmt, sum(least(per.n, e.n)) AS published, sum(e.n) AS expected
FROM per JOIN exp e USING (table_name, version) GROUP BY fmt"""


@dataclass
class Problems:
    """What the per-report sections show: each section's first ``limit`` rows and its total, the counts by code
    and kind, and per shown report its codes, its rows by kind and its recovered cells."""

    limit: int = MAX_ROWS
    reports: list[dict[str, Any]] = field(default_factory=list)  # the first ``limit`` reports
    n_reports: int = 0
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # key -> rows with "entry", "report"
    totals: dict[str, int] = field(default_factory=dict)  # section key (and "recovered") -> its total
    recovered: list[dict[str, Any]] = field(default_factory=list)  # the first ``limit`` recovered cells
    code_counts: list[dict[str, Any]] = field(default_factory=list)  # check, src, grp, n (whole output)
    codes_of: dict[tuple[str, int], list[str]] = field(default_factory=dict)  # shown reports: distinct codes
    groups_of: dict[tuple[str, int, str], int] = field(default_factory=dict)  # shown reports: rows per group
    recovered_by_report: dict[tuple[str, int], int] = field(default_factory=dict)  # shown reports
    recall: list[dict[str, Any]] = field(default_factory=list)  # source_format, published, expected, share

    @property
    def issues(self) -> list[dict[str, Any]]:
        """Every issue row held (each section's shown rows)."""
        return [i for key, _ in SECTIONS for i in self.sections.get(key, [])]


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    rel = con.sql(sql)
    return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = con.sql(sql).fetchall()
    return int(rows[0][0]) if rows else 0


def group_of(issue: dict[str, Any]) -> str:
    """problem, failure, recovery, withheld or note; an unregistered code counts as a problem."""
    entry: Code | None = issue.get("entry")
    return entry.group if entry is not None else "problem"


def _recall(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    acc = {str(r["fmt"]): (int(r["published"]), int(r["expected"])) for r in _rows(con, recall_sql())}
    return [{"source_format": f, "published": p, "expected": e,
             "share": (Decimal(p) / Decimal(e)).quantize(Decimal("0.0001")) if e else Decimal(0)}
            for f, (p, e) in sorted(acc.items())]


def _report_of(row: dict[str, Any]) -> dict[str, Any]:
    if not row.pop("has_report"):
        return {}
    return {"report_id": row["report_id"], "report_year": row["report_year"], "source_uri": row.pop("source_uri"),
            "source_format": row.pop("source_format"), "agency": row.pop("agency"), "status": row.pop("status")}


def collect_problems(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> Problems:
    """Run the queries over the catalog views on ``con`` (``limit`` rows per section, default ``MAX_ROWS``)."""
    n = MAX_ROWS if limit is None else limit
    codes = con.sql(QUERIES["codes"]).fetchall()
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_GROUPS} (kind VARCHAR, code VARCHAR, grp VARCHAR)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_SHOWN} (report_id VARCHAR, report_year INTEGER)")
    try:
        groups = [(k, c, e.group) for k, c in codes if (e := lookup(c, "error" if k == "error" else "check"))]
        if groups:
            con.executemany(f"INSERT INTO {_GROUPS} VALUES (?, ?, ?)", groups)
        p = Problems(limit=n, reports=_rows(con, QUERIES["reports"].format(limit=n)),
                     n_reports=_count(con, QUERIES["n_reports"]),
                     recovered=_rows(con, QUERIES["recovered"].format(limit=n)),
                     code_counts=_rows(con, QUERIES["code_counts"]), recall=_recall(con))
        p.totals = {key: sum(int(c["n"]) for c in p.code_counts if c["grp"] in gs) for key, gs in SECTIONS}
        p.totals["recovered"] = _count(con, QUERIES["n_recovered"])
        shown = sorted({(r["report_id"], r["report_year"]) for r in p.reports + p.recovered})
        if shown:
            con.execute(f"INSERT INTO {_SHOWN} SELECT unnest(?::VARCHAR[]), unnest(?::INTEGER[])",
                        [[k[0] for k in shown], [k[1] for k in shown]])
        by_key = {(r["report_id"], r["report_year"]): r for r in _rows(con, QUERIES["shown_reports"])}
        for c in p.recovered:
            c["report"] = by_key.get((c["report_id"], c["report_year"]), {})
        for row in _rows(con, QUERIES["shown_codes"]):
            k = (row["report_id"], row["report_year"])
            p.codes_of.setdefault(k, []).append(row["check"])
            p.groups_of[(*k, row["grp"])] = p.groups_of.get((*k, row["grp"]), 0) + int(row["n"])
        p.recovered_by_report = {(r["report_id"], r["report_year"]): int(r["n"])
                                 for r in _rows(con, QUERIES["shown_recovered"])}
        for key, gs in SECTIONS:
            rows = _rows(con, section_sql(gs, n))
            for i in rows:
                i["report"] = _report_of(i)
                i["entry"] = lookup(i["check"], "error" if i["src"] == 0 else "check")
            p.sections[key] = rows
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_GROUPS}")
        con.execute(f"DROP TABLE IF EXISTS {_SHOWN}")
    return p


__all__ = ["CELL_TABLES", "MAX_ROWS", "QUERIES", "SECTIONS", "Problems", "collect_problems", "expected_cells",
           "group_of", "recall_sql", "section_sql"]

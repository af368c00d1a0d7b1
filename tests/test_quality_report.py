"""The quality report: its numbers equal an independent DuckDB query over the Parquet outputs, and it renders
in headless Chromium without errors (needs the Debian package ``chromium``, installed by scripts/setup.sh; fails where it is missing)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import polars as pl
import pytest
from test_crossyear import planted_batch, process, publish_planted, publish_results

from nianbao.bi import post_publish, problems
from nianbao.bi.catalog import create_views
from nianbao.bi.quality_report import REPORT_FILE, canon, write_quality_report
from nianbao.codes import lookup
from nianbao.publish.parquet import read_dataset
from nianbao.results import Problem


class _Metrics(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict[str, str] = {}
        self.attrs_of: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "data-metric" in a:
            key = a["data-metric"]
            assert self.metrics.get(key, a["data-value"]) == a["data-value"], key  # repeated metrics agree
            self.metrics[key] = a["data-value"]
        self.attrs_of.setdefault(tag, a)


def metrics_of(html: str) -> _Metrics:
    p = _Metrics()
    p.feed(html)
    return p


def expected_metrics(out: Path) -> dict[str, str]:
    """The page's numbers, recomputed here with plain SQL over the Parquet files (not the catalog views)."""
    root = out.resolve()
    con = duckdb.connect()

    def ds(name: str) -> str:
        return f"read_parquet('{root}/{name}/*/*.parquet', hive_partitioning = true, union_by_name = true)"
    con.execute(f"CREATE VIEW r AS SELECT * FROM {ds('reports')}")
    con.execute(f"CREATE VIEW a AS SELECT * FROM {ds('applications')}")
    con.execute(f"CREATE VIEW rl AS SELECT * FROM {ds('reviews_litigation')}")
    con.execute(f"""CREATE VIEW iss AS
        SELECT report_id, "check", 'report' AS origin FROM {ds('validation_issues')}
        WHERE severity IN ('error', 'warning')
        UNION ALL SELECT report_id, "check", 'crossyear' FROM read_parquet('{root}/crossyear_issues/*.parquet')
        WHERE severity IN ('error', 'warning')""")
    con.execute(f"CREATE VIEW k AS SELECT * FROM read_parquet('{root}/agency_keys/*.parquet')")
    m: dict[str, str] = {}
    for status, n in con.sql("SELECT status, count(*) FROM r GROUP BY 1").fetchall():
        m[f"status:{status}"] = canon(n)
    for fmt, n in con.sql("SELECT coalesce(source_format, 'unknown'), count(*) FROM r GROUP BY 1").fetchall():
        m[f"format:{fmt}"] = canon(n)
    for check, origin, n in con.sql('SELECT "check", origin, count(*) FROM iss GROUP BY 1, 2').fetchall():
        m[f"checks:{check}:{origin}"] = canon(n)
    n_reports, n_years = con.sql("SELECT count(*), count(DISTINCT report_year) FROM r").fetchall()[0]
    m["totals:reports"], m["totals:years"] = canon(n_reports), canon(n_years)
    m["totals:failed_checks"] = canon(con.sql("SELECT count(*) FROM iss").fetchall()[0][0])
    m["totals:bodies"] = canon(con.sql("SELECT count(DISTINCT body_key) FROM k").fetchall()[0][0])

    def total(view: str, k1: str, v1: str, k2: str) -> str:
        return (f"(SELECT sum(value) FROM {view} x WHERE x.report_year = y.report_year AND x.{k1} = '{v1}' "
                f"AND x.{k2} = 'total' AND x.value_kind = 'number')")
    for row in con.sql(f"""SELECT y.report_year, count(*) AS reports,
            count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status = 'partial'),
            count(*) FILTER (WHERE status = 'failed'),
            {total('a', '"row"', 'new_received', 'applicant')}, {total('a', '"row"', 'total_handled', 'applicant')},
            {total('a', '"row"', 'carried_forward', 'applicant')},
            {total('rl', 'proceeding', 'administrative_review', 'outcome')},
            (SELECT sum(value) FROM rl x WHERE x.report_year = y.report_year AND x.outcome = 'total'
               AND x.proceeding LIKE 'litigation_%' AND x.value_kind = 'number'),
            (SELECT count(*) FROM iss JOIN r r2 USING (report_id) WHERE r2.report_year = y.report_year)
        FROM r y GROUP BY y.report_year""").fetchall():
        year = row[0]
        for key, v in zip(("reports", "ok", "partial", "failed", "new_received", "total_handled", "carried_forward",
                           "administrative_review", "litigation", "failed_checks"), row[1:], strict=True):
            m[f"years:{year}:{key}"] = canon(v if v is not None else None)
    for body, n, cy in con.sql("""SELECT k.body_key, count(iss.report_id),
            count(iss.report_id) FILTER (WHERE iss.origin = 'crossyear')
        FROM k JOIN iss USING (report_id) WHERE k.body_key IS NOT NULL GROUP BY 1""").fetchall():
        m[f"bodies:{body}:failed_checks"] = canon(n)
        m[f"bodies:{body}:crossyear"] = canon(cy)
    con.close()
    return m


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quality")
    publish_planted(out)
    post_publish(out)
    return out


def test_numbers_equal_an_independent_duckdb_query(out: Path) -> None:
    page = metrics_of((out / REPORT_FILE).read_text(encoding="utf-8")).metrics
    want = expected_metrics(out)
    compared = {k for k in want if not k.startswith("years:") or k in page}
    assert compared == set(want)
    for k in sorted(want):
        assert page.get(k) == want[k], (k, page.get(k), want[k])
    # The planted batch: 13 reports over four years, 5 cross-year breaks and 4 text warnings.
    assert page["totals:reports"] == "13" and page["totals:years"] == "4"
    assert page["checks:crossyear_carried_forward:crossyear"] == "4"
    assert page["checks:crossyear_in_force:crossyear"] == "1"
    assert page["bodies:宝清县七星泡镇:failed_checks"] == "3"
    planted = planted_batch()
    want_2023 = sum(sum(b.new) for years in planted.bodies.values() for b in years if b.year == 2023)
    assert Decimal(page["years:2023:new_received"]) == want_2023 == 15 + 10 + 4  # A, C, F


def test_page_is_self_contained(out: Path) -> None:
    html = (out / REPORT_FILE).read_text(encoding="utf-8")
    assert "Content-Security-Policy" in html
    for bad in ("http://", "https://", "<link", "src=", "@import", "url("):
        assert bad not in html.replace('xmlns="http://www.w3.org/2000/svg"', ""), bad
    assert html.count("<svg") >= 5


def test_empty_output_renders(tmp_path: Path) -> None:
    page = write_quality_report(tmp_path).read_text(encoding="utf-8")
    assert metrics_of(page).metrics["totals:reports"] == "0"


def _chromium() -> str | None:
    for cand in (os.environ.get("NIANBAO_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if cand and shutil.which(cand):
            return shutil.which(cand)
    return None


CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--enable-logging=stderr", "--v=0", "--window-size=1200,2600"]


def test_renders_in_headless_chromium_without_errors(out: Path, tmp_path: Path) -> None:
    chrome = _chromium()
    if chrome is None:
        pytest.fail("chromium is not installed: run scripts/setup.sh (Debian: apt-get install -y chromium)")
    url = (out / REPORT_FILE).resolve().as_uri()
    shot = tmp_path / "quality_report.png"
    base = [chrome, *CHROME_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [ln for ln in dom.stderr.splitlines() if ":CONSOLE" in ln]
    assert console == [], console
    parsed = metrics_of(dom.stdout)
    assert "data-errors" not in parsed.attrs_of["html"]
    n_svg = dom.stdout.count('<svg class="chart"')
    assert parsed.attrs_of["body"].get("data-rendered") == str(n_svg) and n_svg >= 5  # the script ran to the end
    assert parsed.metrics == metrics_of((out / REPORT_FILE).read_text(encoding="utf-8")).metrics
    for k, v in expected_metrics(out).items():
        assert parsed.metrics[k] == v, k
    pic = subprocess.run([*base, f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120)
    assert pic.returncode == 0, pic.stderr[-2000:]
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("NIANBAO_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


# --- long lists: each section holds and shows its first MAX_ROWS rows, with the true totals ------------------

LIMIT = 3
CELL_TABLES = {"applications": ("row", "applicant"), "proactive_disclosure": ("category", "metric"),
               "reviews_litigation": ("proceeding", "outcome")}


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The planted batch with more rows of every kind than ``LIMIT``: every fifth report failed (its error code is
    a failure row), the others with a problem, a recovery (its cell published as recovered), a withheld value and a
    note each; three source formats."""
    out = tmp_path_factory.mktemp("crowded")
    results, _ = process(planted_batch())
    for n, r in enumerate(sorted(results, key=lambda r: r.report_id)):
        r.source_format = ("text", "html", "pdf")[n % 3]
        if n % 5 == 4:
            r.status, r.error, r.error_message, r.cells, r.problems = "failed", "encrypted", "a password", [], []
            continue
        app = [c for c in r.cells if c.table == "applications" and c.value is not None]
        pro = next(c for c in r.cells if c.table == "proactive_disclosure")
        r.cells = [dataclasses.replace(c, derivation="identity") if c in app[:2] else c for c in r.cells]
        r.problems += [
            Problem("applications_row_total", "error", "applications", "does not balance", app[0].key1, "total",
                    "10", "9"),
            Problem("cell_recovered_by_identity", "warning", "applications", "restored", app[0].key1, app[0].key2),
            Problem("dump_row_empty", "warning", "proactive_disclosure", "row left out", pro.key1, pro.key2),
            Problem("year_from_path", "info", None, "year taken from the path")]
        r.status = "partial"
    publish_results(out, results)
    post_publish(out)
    return out


def _truth(out: Path) -> dict[str, pl.DataFrame]:
    """Every report, issue row (failures included, with its group) and recovered cell, read with polars."""
    reports = read_dataset(out, "reports")
    issues = pl.concat([read_dataset(out, "validation_issues").select(
        "report_id", "report_year", "check", "table_name", "key1", "key2", "message").with_columns(
        origin=pl.lit("report")), pl.read_parquet(out / "crossyear_issues" / "*.parquet").select(
        "report_id", "report_year", "check", "table_name", "key1", "key2", "message").with_columns(
        origin=pl.lit("crossyear"))], how="vertical_relaxed")
    issues = issues.with_columns(src=pl.lit(1), group=pl.col("check").map_elements(
        lambda c: (e.group if (e := lookup(c)) else "problem"), return_dtype=pl.String))
    failures = reports.filter(pl.col("error").is_not_null()).select(
        "report_id", "report_year", "error", "agency", "source_uri").rename({"error": "check"}).with_columns(
        src=pl.lit(0), group=pl.col("check").map_elements(
            lambda c: (e.group if (e := lookup(c, "error")) else "problem"), return_dtype=pl.String))
    cells = pl.concat([read_dataset(out, t).select("report_id", "report_year", pl.col(k1).alias("key1"),
                                                   pl.col(k2).alias("key2"), "derivation", "template")
                       .with_columns(table_name=pl.lit(t)) for t, (k1, k2) in CELL_TABLES.items()],
                      how="vertical_relaxed")
    return {"reports": reports, "issues": issues, "failures": failures, "cells": cells}


def _first_issue_rows(t: dict[str, pl.DataFrame], groups: tuple[str, ...]) -> list[tuple]:
    """(code, file, table, row, column) of a section's first LIMIT rows in the documented order."""
    name = {r["report_id"]: r["source_uri"].rsplit("/", 1)[-1] for r in t["reports"].iter_rows(named=True)}
    rows: list[tuple] = []
    for g in groups:  # failure before problem; a failed report's error before the issues, in the reports' order
        f = t["failures"].filter(pl.col("group") == g).sort("report_year", "agency", "source_uri", "report_id",
                                                            nulls_last=[False, True, False, False])
        rows += [(r["check"], name[r["report_id"]], "", "", "") for r in f.iter_rows(named=True)]
        i = t["issues"].filter(pl.col("group") == g).sort(
            "report_year", "report_id", "origin", "check", "table_name", "key1", "key2", "message",
            descending=[False, False, True, False, False, False, False, False])
        rows += [(r["check"], name.get(r["report_id"], ""), r["table_name"] or "", r["key1"] or "", r["key2"] or "")
                 for r in i.iter_rows(named=True)]
    return rows[:LIMIT]


def test_long_sections_show_the_first_rows_in_order_with_the_true_totals(
        crowded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_quality_browser import _Rows

    monkeypatch.setattr(problems, "MAX_ROWS", LIMIT)
    page = write_quality_report(crowded).read_text(encoding="utf-8")
    parsed = _Rows()
    parsed.feed(page)
    metrics = metrics_of(page).metrics
    t = _truth(crowded)
    everything = pl.concat([t["issues"].select("group"), t["failures"].select("group")])
    want_totals = {"reports": t["reports"].height,
                   "recovered": t["cells"].filter(pl.col("derivation").is_in(["identity", "split_by_identity"])).height,
                   **{key: everything.filter(pl.col("group").is_in(gs)).height for key, gs in problems.SECTIONS}}
    for key, n in want_totals.items():
        assert n > LIMIT, key  # every section is longer than the page shows
        assert len(parsed.tables[key]) == LIMIT, key
        assert metrics[f"rows:{key}"] == str(n) and f"first {LIMIT} of {n} rows shown" in page, key
    # The shown rows are the first ones in the documented order.
    names = [r["source_uri"].rsplit("/", 1)[-1] for r in t["reports"].sort(
        "report_year", "agency", "source_uri", "report_id", nulls_last=[False, True, False, False]).iter_rows(named=True)]
    assert [r["cells"][0] for r in parsed.tables["reports"]] == names[:LIMIT]
    for key, gs in problems.SECTIONS:
        got = [(c[4], c[0].rsplit(" p.", 1)[0], c[6], c[7], c[8]) for c in (r["cells"] for r in parsed.tables[key])]
        assert got == _first_issue_rows(t, gs), key
    assert parsed.tables["problems"][0]["cells"][4] == "encrypted"  # the failed reports come first
    rec = t["cells"].filter(pl.col("derivation").is_in(["identity", "split_by_identity"])).sort(
        "report_year", "report_id", "table_name", "key1", "key2").head(LIMIT)
    assert [(r["cells"][3], r["cells"][4], r["cells"][5]) for r in parsed.tables["recovered"]] == [
        (r["table_name"], r["key1"], r["key2"]) for r in rec.iter_rows(named=True)]
    # Counts by code cover the whole output, not the rows shown.
    codes = {c: int(n) for c, n in re.findall(r'<tr><td><code>([^<]+)</code></td>(?:<td>[^<]*</td>){2}'
                                              r'<td class="n">(\d+)</td>', page.split("Codes on this page")[1])}
    assert codes["year_from_path"] == t["issues"].filter(pl.col("check") == "year_from_path").height > LIMIT
    assert codes["encrypted"] == t["failures"].height > 0
    # Recall per format: a Python computation over every report (a failed report publishes none of its cells).
    short = set()
    for fmt in ("text", "html", "pdf"):
        pub = exp = 0
        for r in t["reports"].filter(pl.col("source_format") == fmt).iter_rows(named=True):
            for table in CELL_TABLES:
                cells = t["cells"].filter((pl.col("report_id") == r["report_id"]) & (pl.col("table_name") == table))
                version = (cells["template"].drop_nulls().min() if cells.height else None) or (
                    r["template_applications"] if table == "applications" else None) or r["template"]
                n = problems.expected_cells(table, version)
                exp, pub = exp + n, pub + min(cells.height, n)
        share = (Decimal(pub) / Decimal(exp)).quantize(Decimal("0.0001"))
        assert metrics[f"recall:{fmt}"] == canon(share) and f"{fmt} {pub} / {exp}" in page, fmt
        if pub < exp:
            short.add(fmt)
    assert short == {"text", "html"}  # the formats of the failed reports, which publish none of their cells


def test_the_rows_held_in_python_are_bounded_by_the_limit(crowded: Path) -> None:
    """The memory check: with a limit of 3 on an output of 13 reports and 60 issue rows, every list collected holds
    at most the limit (per-report figures: only for the reports shown), never the whole output."""
    con = duckdb.connect()
    create_views(con, crowded)
    full = problems.collect_problems(con, limit=1000)
    small = problems.collect_problems(con, limit=LIMIT)
    con.close()
    assert full.n_reports == small.n_reports == len(full.reports) > 4 * LIMIT
    assert len(full.issues) == sum(full.totals[k] for k, _ in problems.SECTIONS) > 15 * LIMIT
    assert len(small.reports) == len(small.recovered) == LIMIT
    assert all(len(small.sections[k]) == LIMIT for k, _ in problems.SECTIONS) and len(small.issues) == 4 * LIMIT
    shown = {(r["report_id"], r["report_year"]) for r in small.reports + small.recovered}
    assert len(shown) <= 2 * LIMIT
    assert set(small.codes_of) <= shown and set(small.recovered_by_report) <= shown
    assert {k[:2] for k in small.groups_of} <= shown
    assert small.totals == full.totals and small.recall == full.recall and small.code_counts == full.code_counts

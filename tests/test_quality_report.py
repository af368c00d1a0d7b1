"""The quality report: its numbers equal an independent DuckDB query over the Parquet outputs, and it renders
in headless Chromium without errors (needs the Debian package ``chromium``, installed by scripts/setup.sh; fails where it is missing)."""

from __future__ import annotations

import os
import shutil
import subprocess
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from test_crossyear import planted_batch, publish_planted

from nianbao.bi import post_publish
from nianbao.bi.quality_report import REPORT_FILE, canon, write_quality_report


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

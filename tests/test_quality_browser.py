"""The quality report can be acted on: every problem of a real batch is on the page with its code, meaning and
action from the registry, its table/row/column, page, bounding box, expected and actual values and a link to the
source; recoveries and withheld values are apart from errors; and in a real headless browser (Playwright driving
the system Chromium) the page loads without console errors or requests, the filters show exactly the rows they
should, and every link opens a file that exists."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb
import polars as pl
import pytest
from conftest import CORPUS, FIXTURES

from nianbao.batch.plan import assign_years, drop_duplicates
from nianbao.bi import post_publish
from nianbao.bi.catalog import CATALOG_FILE
from nianbao.bi.problems import expected_cells
from nianbao.bi.quality_report import REPORT_FILE
from nianbao.codes import lookup
from nianbao.pipeline import process_bytes
from nianbao.publish.parquet import Lineage, build_frames, read_dataset, validate_frames, write_partitions

# A batch of every format through the whole pipeline, then a real browser: an end-to-end test.
pytestmark = pytest.mark.slow

# A batch with every kind of row: failed identities in a PDF (page and bbox), run-together digits split by the
# identities (recovery), a lost cell restored (recovery), a scan whose tables are withheld, an encrypted file
# (failure), text, HTML and PDF reports over four years, and a duplicate input (note).
BATCH = [*sorted(CORPUS.glob("*.txt")), CORPUS / "real-hongze-2023.pdf", CORPUS / "real-shanghai-office-2019.html",
         FIXTURES / "text" / "identity-broken-row-total.txt", FIXTURES / "text" / "lost-cell-recovered.txt",
         FIXTURES / "generated" / "gen-003-rl-cid-grid-2019.pdf",
         FIXTURES / "scanned" / "scan-gen-024-rl-emb-grid-2021.pdf", FIXTURES / "bad" / "encrypted-user-password.pdf"]
ISSUE_SECTIONS = ("problems", "recoveries", "withheld", "notes")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def publish_batch(out: Path, files: list[Path], batch_year: dict[Path, int] | None = None) -> None:
    """Process and publish ``files`` the way the annual flow does (each report under its own year, or in a batch of
    the year ``batch_year`` gives for its file), then the after-publish step (cross-year checks, catalog, quality
    report). A report held back (no year) is not published, as in the flow."""
    groups: dict[int | None, list[Path]] = {}
    for f in files:
        groups.setdefault((batch_year or {}).get(f), []).append(f)
    results: list = []
    year_of: dict[str, int] = {}
    for year, group in groups.items():
        rs = drop_duplicates([process_bytes(f.read_bytes(), str(f)) for f in group])
        year_of.update(assign_years(rs, year).year_of)
        results += rs
    for year in sorted(set(year_of.values())):
        rs = [r for r in results if year_of.get(r.report_id) == year]
        lin = Lineage(f"qr-{year}", None)
        frames = validate_frames(build_frames(rs, {r.report_id: year for r in rs}, lin), lin, rs[0].parser_version)
        write_partitions(frames, out, [year], f"qr-{year}")
    post_publish(out)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("qr") / "out"
    # An unreadable file has no year, and the scan's year read by OCR is not trusted: each is run in a batch of a
    # year, as an operator would (a failed report is recorded in its batch's year).
    publish_batch(out, BATCH, {FIXTURES / "bad" / "encrypted-user-password.pdf": 2022,
                               FIXTURES / "scanned" / "scan-gen-024-rl-emb-grid-2021.pdf": 2021})
    return out


class _Rows(HTMLParser):
    """Every <tr> of each table with an id: its attributes, cell texts, cell titles and link hrefs."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[dict]] = {}
        self.links: list[str] = []
        self._table: str | None = None
        self._row: dict | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = a.get("id")
        elif tag == "tr" and self._table:
            self._row = {"attrs": a, "cells": [], "titles": [], "hrefs": []}
        elif tag == "td" and self._row is not None:
            self._cell = []
            self._row["titles"].append(a.get("title", ""))
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
            if self._row is not None:
                self._row["hrefs"].append(a["href"])

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row["cells"].append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            if self._row["cells"]:
                self.tables.setdefault(self._table, []).append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None


def page_rows(out: Path) -> _Rows:
    p = _Rows()
    p.feed((out / REPORT_FILE).read_text(encoding="utf-8"))
    return p


def _file_name(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


def expected_issue_rows(out: Path) -> Counter:
    """(section, code, file, table, row, column, expected, actual, page) of every issue and failure, from plain SQL
    over the Parquet files (not the page's own queries)."""
    con = duckdb.connect()
    root = out.resolve()
    rep = f"read_parquet('{root}/reports/*/*.parquet', hive_partitioning = true)"
    vi = f"read_parquet('{root}/validation_issues/*/*.parquet', hive_partitioning = true)"
    cy = f"read_parquet('{root}/crossyear_issues/*.parquet')"
    rows = con.sql(f"""
        SELECT i."check", r.source_uri, i.table_name, i.key1, i.key2, i.expected, i.actual, i.page
        FROM (SELECT report_id, report_year, "check", table_name, key1, key2, expected, actual, page FROM {vi}
              UNION ALL SELECT report_id, report_year, "check", table_name, key1, key2, expected, actual, page FROM {cy}) i
        JOIN {rep} r ON r.report_id = i.report_id AND r.report_year = i.report_year
        UNION ALL SELECT error, source_uri, NULL, NULL, NULL, NULL, NULL, NULL FROM {rep} WHERE error IS NOT NULL
    """).fetchall()
    con.close()
    sections = {"problem": "problems", "failure": "problems", "recovery": "recoveries", "withheld": "withheld",
                "note": "notes"}
    out_rows: Counter = Counter()
    for check, uri, table, k1, k2, exp, act, page in rows:
        entry = lookup(check) or lookup(check, "error")
        assert entry is not None, check
        out_rows[(sections[entry.group], check, _file_name(uri), table or "", k1 or "", k2 or "", exp or "",
                  act or "", "" if page is None else str(page))] += 1
    return out_rows


def test_every_problem_is_on_the_page_where_it_belongs(out: Path) -> None:
    rows = page_rows(out).tables
    got: Counter = Counter()
    for section in ISSUE_SECTIONS:
        for row in rows.get(section, []):
            c = row["cells"]
            # file, agency, year, status, code, severity, table, row, column, expected, actual, page, bbox, ...
            name = c[0].rsplit(" p.", 1)[0]
            got[(section, c[4], name, c[6], c[7], c[8], c[9], c[10], c[11])] += 1
    want = expected_issue_rows(out)
    assert got == want
    kinds = {k[0] for k in want}
    assert kinds == set(ISSUE_SECTIONS)  # the batch has problems, recoveries, withheld values and notes
    # Recoveries and withheld values are never listed among the problems.
    assert not any(k[1] in ("cell_recovered_by_identity", "cells_split_by_identity", "ocr_unverified")
                   for k in want if k[0] == "problems")
    for row in rows["problems"]:  # meaning (tooltip) and action from the registry (a failed report's: its error)
        entry = lookup(row["cells"][4], "error") if row["cells"][5] == "failed" else lookup(row["cells"][4])
        assert entry is not None and row["titles"][4] == entry.meaning and row["cells"][-1] == entry.action


def test_failed_identities_in_a_pdf_carry_page_bbox_and_a_link_to_that_page(out: Path) -> None:
    rows = [r for r in page_rows(out).tables["problems"] if r["cells"][0].startswith("gen-003-rl-cid-grid-2019.pdf")]
    identities = [r for r in rows if r["cells"][4] == "applications_row_total"]
    assert identities, [r["cells"][4] for r in rows]
    for r in identities:
        page, bbox = r["cells"][11], r["cells"][12]
        assert page.isdigit() and len(bbox.split(", ")) == 4
        assert r["hrefs"] and r["hrefs"][0].endswith(f"#page={page}")
        assert r["cells"][9] and r["cells"][10] and r["cells"][9] != r["cells"][10]  # expected vs printed
    # The bbox is the published cell's (the cell the identity names).
    reports = read_dataset(out, "reports")
    rid = reports.filter(pl.col("source_uri").str.ends_with("gen-003-rl-cid-grid-2019.pdf"))["report_id"].item()
    apps = read_dataset(out, "applications")
    r = identities[0]
    cell = apps.filter((pl.col("report_id") == rid) & (pl.col("row") == r["cells"][7])
                       & (pl.col("applicant") == r["cells"][8]))
    boxes = {", ".join(f"{v:.1f}" for v in (x0, t, x1, b)) for x0, t, x1, b in
             cell.select("x0", "top", "x1", "bottom").iter_rows()}
    assert r["cells"][12] in boxes


def test_recovered_cells_are_listed(out: Path) -> None:
    rows = page_rows(out).tables["recovered"]
    derived = sum(read_dataset(out, t).filter(pl.col("derivation").is_in(["identity", "split_by_identity"])).height
                  for t in ("applications", "proactive_disclosure", "reviews_litigation"))
    assert len(rows) == derived > 0
    assert {r["cells"][8] for r in rows} == {"identity", "split_by_identity"}


def test_share_of_template_cells_published_by_format(out: Path) -> None:
    page = (out / REPORT_FILE).read_text(encoding="utf-8")
    reports = read_dataset(out, "reports")
    for fmt in ("text", "html", "pdf"):
        ids = reports.filter(pl.col("source_format") == fmt)
        pub = exp = 0
        for r in ids.iter_rows(named=True):
            for t in ("applications", "proactive_disclosure", "reviews_litigation"):
                cells = read_dataset(out, t).filter(pl.col("report_id") == r["report_id"])
                tv = cells["template"].drop_nulls().min() if cells.height else None
                version = tv or (r["template_applications"] if t == "applications" else None) or r["template"]
                n = expected_cells(t, version)
                exp += n
                pub += min(cells.height, n)
        share = f"{pub / exp:.4f}".rstrip("0").rstrip(".")
        assert f'data-metric="recall:{fmt}" data-value="{share}"' in page, (fmt, share)


# --- in a real browser --------------------------------------------------------------------------------------

def _browser() -> str | None:
    for cand in (os.environ.get("NIANBAO_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser",
                 "google-chrome"):
        if cand and shutil.which(cand):
            return shutil.which(cand)
    return None


def _db_count(out: Path, where: str) -> int:
    con = duckdb.connect(str(out / CATALOG_FILE), read_only=True)
    try:
        return int(con.sql(f"SELECT count(*) FROM all_issues i JOIN reports r USING (report_id, report_year) "
                           f"WHERE {where}").fetchall()[0][0])
    finally:
        con.close()


def test_in_chromium_the_page_loads_clean_filters_work_and_links_open_files(out: Path) -> None:
    chrome = _browser()
    if chrome is None:
        pytest.skip("no Chromium found (Debian package chromium, installed by scripts/setup.sh; or NIANBAO_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chrome, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            console: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            url = (out / REPORT_FILE).resolve().as_uri()
            page.goto(url, wait_until="load")
            assert console == []
            assert requests == [url]  # nothing loaded from anywhere: no CDN, no font, no image
            assert page.locator("svg.chart").count() >= 6
            assert page.get_attribute("html", "data-errors") is None

            def visible(table: str) -> list[dict[str, str | None]]:
                rows = page.locator(f"#{table} tr.fr:visible")
                return [{k: rows.nth(i).get_attribute(f"data-{k}") for k in ("code", "agency", "year", "status")}
                        for i in range(rows.count())]

            n_problems = len(visible("problems"))
            assert n_problems == page.locator("#problems tr.fr").count() > 0
            # By code: exactly the issues of that code (problems table) and the reports that have it.
            page.select_option("#f-code", "applications_row_total")
            got = visible("problems")
            assert got and {g["code"] for g in got} == {"applications_row_total"}
            assert len(got) == _db_count(out, "\"check\" = 'applications_row_total'")
            assert {g["agency"] for g in visible("reports")} == {g["agency"] for g in got}
            assert page.text_content('[data-count-of="problems"]') == str(len(got))
            # Code and year together.
            year = got[0]["year"]
            page.select_option("#f-year", year)
            both = visible("problems")
            assert both and all(g["year"] == year and g["code"] == "applications_row_total" for g in both)
            assert len(both) == _db_count(out, f"\"check\" = 'applications_row_total' AND i.report_year = {year}")
            # By status alone: exactly the failed reports (the encrypted file, the scan held back).
            page.click("#f-reset")
            assert len(visible("problems")) == n_problems
            page.select_option("#f-status", "failed")
            failed = visible("reports")
            assert len(failed) == read_dataset(out, "reports").filter(pl.col("status") == "failed").height == 2
            assert {"encrypted", "year_mismatch"} <= {c for f in failed for c in (f["code"] or "").split()}
            # By agency: every visible row is that agency's, in every section.
            page.click("#f-reset")
            agency = page.locator("#f-agency option").nth(1).get_attribute("value")
            page.select_option("#f-agency", agency)
            for table in ("reports", *ISSUE_SECTIONS, "recovered"):
                assert all(g["agency"] == agency for g in visible(table)), table
            assert visible("reports")
            # Links: every source link opens a file that exists; PDF links jump to the page.
            hrefs = page.eval_on_selector_all("a.src", "els => els.map(e => e.href)")
            assert console == []
        finally:
            browser.close()
    assert hrefs
    for href in hrefs:
        parts = urlsplit(href)
        assert parts.scheme == "file" and Path(unquote(parts.path)).is_file(), href
    assert any("#page=" in h for h in hrefs)


def test_long_lists_are_cut_with_a_note_and_the_full_count(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nianbao.bi import problem_page, problems
    from nianbao.bi.catalog import create_views

    con = duckdb.connect()
    create_views(con, out)
    monkeypatch.setattr(problems, "MAX_ROWS", 3)
    data = problems.collect_problems(con)
    con.close()
    p = _Rows()
    page = problem_page.render_problems(data)
    p.feed(page)
    total = sum(n for (section, *_), n in expected_issue_rows(out).items() if section == "problems")
    assert total > 3 and len(p.tables["problems"]) == 3 == len(data.sections["problems"])
    assert f'data-metric="rows:problems" data-value="{total}"' in page and f"first 3 of {total} rows shown" in page

"""docs/bi.md works as written: its three questions (read from the doc, so doc and test cannot drift) answered on a
published and then MOVED output, by DuckDB 2.x and the 1.4 engine BI drivers bundle, equal the same figures computed
from the Parquet files with polars; its notebook snippet runs on the moved catalog."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import CORPUS, FIXTURES, ROOT
from test_catalog import duck1_python
from test_quality_browser import publish_batch

from nianbao.bi.catalog import CATALOG_FILE
from nianbao.publish.parquet import read_dataset
from nianbao.template import IDENTITIES

DOC = ROOT / "docs" / "bi.md"
QUESTIONS = ("applications_by_region_and_year", "identity_failure_rate_by_agency", "year_over_year_change")
# Failed identities (PDF and text) across four years of reports.
FILES = [*sorted(CORPUS.glob("*.txt")), CORPUS / "real-hongze-2023.pdf", CORPUS / "real-shanghai-office-2019.html",
         FIXTURES / "text" / "identity-broken-row-total.txt", FIXTURES / "generated" / "gen-003-rl-cid-grid-2019.pdf",
         FIXTURES / "generated" / "gen-026-lo-pdf-2019.pdf"]
REGION = re.compile(r"^(.+?(?:自治区|自治州|自治县|自治旗|省|市|州|盟|县|区|旗))")


def doc_questions() -> dict[str, str]:
    """The SQL block after each ``<!-- question: NAME -->`` marker of docs/bi.md."""
    text = DOC.read_text(encoding="utf-8")
    return {m.group(1): m.group(2).strip() for m in
            re.finditer(r"<!-- question: (\w+) -->\s*```sql\n(.*?)```", text, re.S)}


def doc_notebook() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### A notebook"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def moved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("bidoc")
    publish_batch(base / "published", FILES)
    target = base / "share" / "nianbao-copy"
    target.parent.mkdir()
    shutil.move(base / "published", target)
    return target


def _query(catalog: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def _frames(out: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    reports = read_dataset(out, "reports").filter(pl.col("status") != "failed")
    keys = pl.read_parquet(out / "agency_keys" / "agency_keys.parquet").select("report_id", "report_year", "body_key")
    apps = (read_dataset(out, "applications")
            .filter((pl.col("row") == "new_received") & (pl.col("applicant") == "total")
                    & (pl.col("value_kind") == "number"))
            .select("report_id", "report_year", pl.col("value").alias("new_received")))
    live = reports.select("report_id", "report_year", "agency").join(keys, on=["report_id", "report_year"], how="left")
    return live.join(apps, on=["report_id", "report_year"], how="left"), reports, apps


def _d(v: object) -> Decimal | None:
    return None if v is None else Decimal(str(v))


def test_the_doc_has_the_three_questions() -> None:
    assert set(doc_questions()) == set(QUESTIONS)


def test_applications_by_region_and_year(moved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(moved.parent.parent)  # not the output folder: the catalog finds its own files
    got = _query(moved / CATALOG_FILE, doc_questions()["applications_by_region_and_year"])
    live, _, _ = _frames(moved)
    want: dict[tuple[str, int], list] = {}
    for r in live.filter(pl.col("body_key").is_not_null()).iter_rows(named=True):
        m = REGION.match(r["body_key"])
        acc = want.setdefault((m.group(1) if m else "", r["report_year"]), [0, 0, None])
        acc[0] += 1
        if r["new_received"] is not None:
            acc[1] += 1
            acc[2] = (acc[2] or 0) + r["new_received"]
    assert {(g[0] or "", g[1]): (g[2], g[3], _d(g[4])) for g in got} == {
        k: (v[0], v[1], _d(v[2])) for k, v in want.items()}
    assert len({k[1] for k in want}) >= 3 and len({k[0] for k in want}) >= 5  # several regions and years


def test_identity_failure_rate_by_agency(moved: Path) -> None:
    got = _query(moved / CATALOG_FILE, doc_questions()["identity_failure_rate_by_agency"])
    live, _, _ = _frames(moved)
    checks = {i.check for i in IDENTITIES}
    failed = set(read_dataset(moved, "validation_issues").filter(pl.col("check").is_in(sorted(checks)))
                 .select("report_id", "report_year").iter_rows())
    want: dict[str | None, list[int]] = {}
    for r in live.iter_rows(named=True):
        acc = want.setdefault(r["body_key"], [0, 0])
        acc[0] += 1
        acc[1] += (r["report_id"], r["report_year"]) in failed
    assert {g[0]: (g[2], g[3], g[4]) for g in got} == {k: (n, f, round(f / n, 4)) for k, (n, f) in want.items()}
    assert any(g[3] > 0 for g in got) and any(g[3] == 0 for g in got)  # the batch has failures and clean bodies
    assert got == sorted(got, key=lambda g: (-g[4], g[0] or ""))


def test_year_over_year_change(moved: Path) -> None:
    got = _query(moved / CATALOG_FILE, doc_questions()["year_over_year_change"])
    live, _, _ = _frames(moved)
    per = live.group_by("report_year").agg(pl.len().alias("n"), pl.col("new_received").sum()).sort("report_year")
    prev = None
    want = []
    for year, n, total in per.iter_rows():
        change = None if prev is None else total - prev
        pct = None if prev is None or prev == 0 else round(float(100 * change / prev), 1)
        want.append((year, n, _d(total), _d(change), pct))
        prev = total
    assert [(g[0], g[1], _d(g[2]), _d(g[3]), g[4]) for g in got] == want
    assert len(want) >= 3 and want[1][3] is not None


def test_the_questions_give_the_same_answers_in_the_duckdb_14_engine(moved: Path) -> None:
    queries = [doc_questions()[q] for q in QUESTIONS]
    script = ("import duckdb, json, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
              "print(json.dumps([[[str(v) for v in r] for r in con.sql(q).fetchall()] for q in json.loads(sys.argv[2])], "
              "ensure_ascii=False))")
    done = subprocess.run([duck1_python(), "-c", script, str(moved / CATALOG_FILE), json.dumps(queries)],
                          capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stderr[-2000:]
    want = [[[str(v) for v in r] for r in _query(moved / CATALOG_FILE, q)] for q in queries]
    assert json.loads(done.stdout) == want


def test_the_notebook_snippet_runs_on_the_moved_catalog(moved: Path) -> None:
    code = doc_notebook().replace("/mnt/share/nianbao-2023", str(moved))
    scope: dict = {}
    exec(compile(code, "docs/bi.md notebook", "exec"), scope)  # the documented snippet itself
    live, _, _ = _frames(moved)
    want = live.group_by("report_year").agg(pl.col("new_received").sum()).sort("report_year")
    assert [(y, _d(v)) for y, v in scope["by_year"].iter_rows()] == [(y, _d(v)) for y, v in want.iter_rows()]
    assert len(scope["issues"]) == _query(moved / CATALOG_FILE,
                                          "SELECT count(*) FROM all_issues WHERE severity = 'error'")[0][0]

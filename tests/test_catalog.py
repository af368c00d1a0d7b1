"""The DuckDB catalog: views over every dataset, readable by DuckDB 2.x and a 1.x-era engine; the example
SQL of docs/bi.md runs; polars and pyarrow read the same outputs.

The 1.x engine lives in its own venv (DuckDB 1.4, the oldest storage version the catalog promises):
``$NIANBAO_DUCK1_PYTHON`` if set, else /work/duck1venv or ~/.cache/nianbao/duck1venv, created on first
use with uv (or pip) from the package index.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as pads
import pytest
from conftest import ROOT
from test_crossyear import publish_planted

from nianbao.bi import post_publish
from nianbao.bi.catalog import CATALOG_FILE, DERIVED_VIEWS, VIEW_DATASETS, write_catalog
from nianbao.bi.crossyear import AGENCY_DATASET, CROSSYEAR_DATASET
from nianbao.publish.parquet import read_dataset
from schemas import DATASET_NAMES

DUCK1_SPEC = "duckdb>=1.4,<1.5"
ALL_VIEWS = (*VIEW_DATASETS, *(n for n, _ in DERIVED_VIEWS))


def doc_sql() -> list[str]:
    """The ```sql blocks of docs/bi.md."""
    text = (ROOT / "docs" / "bi.md").read_text(encoding="utf-8")
    return [m.group(1).strip() for m in re.finditer(r"```sql\n(.*?)```", text, re.S)]


def duck1_python() -> str:
    """Return a Python that has DuckDB 1.4.x, creating a venv for it if needed (fail if that is impossible)."""
    env = os.environ.get("NIANBAO_DUCK1_PYTHON")
    if env:
        return env
    home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nianbao" / "duck1venv"
    for venv in (ROOT / ".venv-duck1", Path("/work/duck1venv"), home):  # scripts/setup.sh makes the first
        py = venv / "bin" / "python"
        if py.exists() and subprocess.run([str(py), "-c", "import duckdb, sys; "
                                           "sys.exit(0 if duckdb.__version__.startswith('1.') else 1)"],
                                          capture_output=True).returncode == 0:
            return str(py)
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / "duck1venv.lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # xdist workers: create once
        py = home / "bin" / "python"
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, capture_output=True)
        uv = Path(sys.executable).parent / "uv"
        cmd = ([str(uv), "pip", "install", "--python", str(py), DUCK1_SPEC] if uv.exists()
               else [str(py), "-m", "pip", "install", "-q", DUCK1_SPEC])
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "UV_SYSTEM_CERTS": "1"})
        if done.returncode != 0:
            msg = f"could not install {DUCK1_SPEC} into {home}: {done.stderr[-500:]}"
            pytest.fail(msg)
    return str(py)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[list[str]]:
    return [[str(v) for v in r] for r in con.sql(sql).fetchall()]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalog")
    publish_planted(out)
    result = post_publish(out)
    assert Path(result["catalog"]) == out.resolve() / CATALOG_FILE
    return out


def test_catalog_has_every_view_and_consistent_counts(out: Path) -> None:
    con = duckdb.connect(str(out / CATALOG_FILE), read_only=True)
    names = {r[0] for r in con.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert set(ALL_VIEWS) <= names
    for name in DATASET_NAMES:
        assert con.sql(f'SELECT count(*) FROM "{name}"').fetchall()[0][0] == read_dataset(out, name).height
    n_reports = con.sql("SELECT count(*) FROM reports").fetchall()[0][0]
    assert n_reports == 13
    assert con.sql("SELECT count(*), count(DISTINCT report_id) FROM report_summary").fetchall()[0] == (13, 13)
    # applications_wide: one row per report and row; 25 rows per 2021 table, 23 per 2019 table.
    wide = con.sql("SELECT template, count(*) FROM applications_wide GROUP BY 1 ORDER BY 1").fetchall()
    assert wide == [("2019", 23), ("2021", 25 * 12)]
    # The wide values are the long values.
    diff = con.sql("""SELECT count(*) FROM applications a JOIN applications_wide w USING (report_id, "row")
                      WHERE a.applicant = 'natural_person' AND a.value IS DISTINCT FROM w.natural_person""")
    assert diff.fetchall()[0][0] == 0
    # Views name their files relative to the catalog's folder (never the absolute output path), one-level globs.
    sqls = [r[0] for r in con.sql("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall()]
    globs = [p for s in sqls for p in re.findall(r"read_parquet\(\(regexp_replace\(CASE .*? END, .*?, 'g'\) \|\| '([^']+)'\)", s)]
    assert len(globs) == len(VIEW_DATASETS) and all(g.startswith("/") and "**" not in g for g in globs)
    assert not any(str(out.resolve()) in s for s in sqls)
    con.close()


def test_report_summary_and_agency_years(out: Path) -> None:
    con = duckdb.connect(str(out / CATALOG_FILE), read_only=True)
    s = {(r[0], r[1]): r[2:] for r in con.sql(
        "SELECT body_key, report_year, new_received_total, carried_over_total, n_crossyear_issues, n_failed_checks, "
        "n_warnings, status FROM report_summary").fetchall()}
    assert s[("宝清县七星泡镇", 2022)][2] == 3  # 2 carried-over columns + 1 in_force
    assert s[("临江市桦树镇", 2023)][2] == 2
    assert s[("友谊县新镇乡", 2023)][4] == 4  # the four text-vs-table warnings
    assert s[("友谊县新镇乡", 2023)][0] == 10
    assert all(v[5] == "ok" for v in s.values())
    years = con.sql("SELECT body_key, report_year, has_report, link_statuses FROM agency_years "
                    "ORDER BY 1, 2").fetchall()
    by = {(b, y): (h, ls) for b, y, h, ls in years}
    assert by[("临江市桦树镇", 2022)] == (True, "linked_suffix")  # 桦树镇 (2022) linked to 临江市桦树镇
    assert by[("柳河镇", 2021)] == (True, "ambiguous")
    assert by[("宝清县七星泡镇", 2023)][0] is False
    assert len(years) == len({b for b, _ in by}) * 4  # every body x every year 2020-2023
    con.close()


def test_example_sql_in_docs_runs(out: Path) -> None:
    blocks = doc_sql()
    assert len(blocks) >= 6
    con = duckdb.connect(str(out / CATALOG_FILE), read_only=True)
    for sql in blocks:
        assert con.sql(sql).fetchall(), f"no rows on the planted batch:\n{sql}"
    missing = next(b for b in blocks if "NOT has_report" in b)
    assert {r[0] for r in con.sql(missing).fetchall()} == {"宝清县七星泡镇", "通河县柳河镇", "柳河镇"}
    breaks = next(b for b in blocks if "FROM crossyear_issues" in b)
    assert len(con.sql(breaks).fetchall()) == 5
    con.close()


def test_duckdb_1x_engine_reads_catalog_and_parquet(out: Path) -> None:
    py = duck1_python()
    script = r"""
import duckdb, json, sys
cat, queries = sys.argv[1], json.loads(sys.argv[2])
con = duckdb.connect(cat, read_only=True)
res = {"version": duckdb.__version__, "rows": [[[str(v) for v in r] for r in con.sql(q).fetchall()] for q in queries]}
print(json.dumps(res, ensure_ascii=False))
"""
    queries = [f'SELECT count(*) FROM "{v}"' for v in ALL_VIEWS]
    queries += ["SELECT * FROM report_summary ORDER BY report_id", "SELECT * FROM agency_years ORDER BY 1, 3",
                "SELECT * FROM applications_wide ORDER BY report_id, row_no", *doc_sql(),
                f"SELECT count(*) FROM read_parquet('{out.resolve()}/applications/*/*.parquet', "
                "hive_partitioning = true)"]
    done = subprocess.run([py, "-c", script, str(out / CATALOG_FILE), json.dumps(queries)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    assert got["version"].startswith("1.")
    con = duckdb.connect(str(out / CATALOG_FILE), read_only=True)
    want = [_rows(con, q) for q in queries]
    con.close()
    assert got["rows"] == want


def test_polars_and_pyarrow_read_the_outputs(out: Path) -> None:
    con = duckdb.connect(str(out / CATALOG_FILE), read_only=True)
    for name in DATASET_NAMES:
        n = con.sql(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
        lf = pl.scan_parquet(str(out / name / "*" / "*.parquet"), hive_partitioning=True)
        assert lf.select(pl.len()).collect().item() == n
        table = pads.dataset(out / name, format="parquet", partitioning="hive").to_table()
        assert table.num_rows == n
    for name in (CROSSYEAR_DATASET, AGENCY_DATASET):
        n = con.sql(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
        assert pl.read_parquet(out / name / f"{name}.parquet").height == n
        assert pads.dataset(out / name, format="parquet").to_table().num_rows == n
    con.close()


def test_catalog_over_an_empty_output_has_typed_empty_views(tmp_path: Path) -> None:
    path = write_catalog(tmp_path)
    con = duckdb.connect(str(path), read_only=True)
    for v in ALL_VIEWS:
        assert con.sql(f'SELECT count(*) FROM "{v}"').fetchall()[0][0] == 0
    types = dict(con.sql("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'applications'")
                 .fetchall())
    assert types["value"] == "DECIMAL(38,18)" and types["report_year"] == "INTEGER"
    con.close()


def test_catalog_is_rebuilt_atomically_and_leaves_no_temp(out: Path, tmp_path: Path) -> None:
    before = (out / CATALOG_FILE).stat().st_ino
    reader = duckdb.connect(str(out / CATALOG_FILE), read_only=True)  # an open reader does not block the swap
    write_catalog(out)
    assert reader.sql("SELECT count(*) FROM reports").fetchall()[0][0] == 13
    reader.close()
    assert (out / CATALOG_FILE).stat().st_ino != before
    assert not [p for p in out.iterdir() if p.name.endswith((".tmp", ".wal"))]

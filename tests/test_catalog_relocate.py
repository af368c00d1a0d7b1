"""The DuckDB catalog is relocatable: a moved output folder is read where it now is, a copy reads its own files,
by DuckDB 2.x and the 1.4 engine BI drivers bundle; ``nianbao catalog OUT`` rebuilds it; an object-store output
gets a local catalog whose views read the ``s3://`` files (through the store's client: no DuckDB extension)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import polars as pl
import pytest
from test_catalog import ALL_VIEWS, duck1_python
from test_crossyear import publish_planted
from test_objectstore import bucket, s3_endpoint  # noqa: F401  (fixtures: a moto S3 server, a new bucket)

from flows.cli import main as cli_main
from nianbao.bi import post_publish
from nianbao.bi.catalog import CATALOG_FILE, connect_catalog
from nianbao.publish.parquet import read_dataset
from schemas import DATASET_NAMES

COUNTS = [f'SELECT count(*) FROM "{v}"' for v in ALL_VIEWS]
CONTENT = ["SELECT report_id, agency, status FROM reports ORDER BY report_id",
           "SELECT * FROM report_summary ORDER BY report_id",
           "SELECT body_key, report_year, has_report FROM agency_years ORDER BY 1, 2"]
DUCK_SCRIPT = r"""
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
print(json.dumps({"version": duckdb.__version__,
                  "rows": [[[str(v) for v in r] for r in con.sql(q).fetchall()] for q in json.loads(sys.argv[2])]},
                 ensure_ascii=False))
"""


def _answers(catalog: Path, queries: list[str]) -> list[list[list[str]]]:
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        return [[[str(v) for v in r] for r in con.sql(q).fetchall()] for q in queries]
    finally:
        con.close()


def _answers_in(python: str, catalog: Path, queries: list[str], cwd: Path) -> dict:
    done = subprocess.run([python, "-c", DUCK_SCRIPT, str(catalog), json.dumps(queries)], capture_output=True,
                          text=True, timeout=300, cwd=cwd)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture()
def published(tmp_path: Path) -> Path:
    out = tmp_path / "site" / "out"
    publish_planted(out)
    post_publish(out)
    return out


def test_a_moved_output_folder_is_read_where_it_now_is(published: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    queries = COUNTS + CONTENT
    before = _answers(published / CATALOG_FILE, queries)
    assert before[ALL_VIEWS.index("reports")] == [["13"]]  # rows of the first query: one row, one value
    moved = tmp_path / "elsewhere" / "renamed"
    moved.parent.mkdir()
    shutil.move(published, moved)
    assert not published.exists()
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the old nor the new folder: only the catalog's own location counts
    assert _answers(moved / CATALOG_FILE, queries) == before
    # The DuckDB 1.4 engine of the BI drivers, in another process and directory, reads the moved copy too.
    got = _answers_in(duck1_python(), moved / CATALOG_FILE, queries, cwd=Path("/"))
    assert got["version"].startswith("1.") and got["rows"] == before
    # Attached to another database, the folder is given by file_search_path (docs/bi.md).
    con = duckdb.connect()
    con.execute(f"ATTACH '{moved / CATALOG_FILE}' AS nianbao (READ_ONLY)")
    con.execute(f"SET file_search_path = '{moved}'")
    assert con.sql("SELECT count(*) FROM nianbao.reports").fetchall() == [(13,)]
    con.close()


def test_a_copy_reads_its_own_files_not_the_originals(published: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(published, copy)
    # Change the original's data: rename every 2023 agency in place and drop the 2020 partition.
    part = next((published / "reports" / "report_year=2023").glob("*.parquet"))
    df = pl.read_parquet(part, hive_partitioning=False)
    df.with_columns(pl.lit("CHANGED").alias("agency")).write_parquet(part)
    shutil.rmtree(published / "reports" / "report_year=2020")
    q = ["SELECT count(*) FROM reports", "SELECT count(*) FROM reports WHERE agency = 'CHANGED'"]
    original = _answers(published / CATALOG_FILE, q)
    assert original == [[[str(13 - 1)]], [[str(df.height)]]]  # one report of 2020 in the planted batch
    assert _answers(copy / CATALOG_FILE, q) == [[["13"]], [["0"]]]
    got = _answers_in(duck1_python(), copy / CATALOG_FILE, q, cwd=published)  # even run from the original
    assert got["rows"] == [[["13"]], [["0"]]]


def test_nianbao_catalog_rebuilds_it(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (published / CATALOG_FILE).unlink()
    assert cli_main(["catalog", str(published)]) == 0
    assert str(published / CATALOG_FILE) in capsys.readouterr().out
    assert _answers(published / CATALOG_FILE, ["SELECT count(*) FROM reports"]) == [[["13"]]]
    assert cli_main(["catalog", str(published / "reports")]) == 2  # not an output folder: one line, no traceback
    assert "not an output folder" in capsys.readouterr().err


@pytest.mark.slow  # DuckDB reads every view through fsspec from a moto S3 server (~6 CPU-seconds)
def test_object_store_catalog_reads_s3_through_the_store(bucket: str, tmp_path: Path) -> None:  # noqa: F811
    from test_objectstore import SEEDS, _publish

    from nianbao.publish.objectstore import ObjectStore

    location = f"s3://{bucket}/pub"
    _publish(ObjectStore.open(location), SEEDS, "b1")
    catalog = tmp_path / "local" / "s3catalog.duckdb"
    assert cli_main(["catalog", location, "--catalog", str(catalog)]) == 0
    sqls = " ".join(r[0] for r in duckdb.connect(str(catalog), read_only=True)
                    .sql("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall())
    assert f"read_parquet('{location}/reports/*/*.parquet'" in sqls  # what httpfs readers run (docs/bi.md)
    con = connect_catalog(catalog)
    try:
        for name in DATASET_NAMES:
            assert con.sql(f'SELECT count(*) FROM "{name}"').fetchall()[0][0] == read_dataset(location, name).height
        assert con.sql("SELECT count(*) FROM report_summary").fetchall()[0][0] == len(SEEDS)
        assert con.sql("SELECT count(*) FROM crossyear_issues").fetchall()[0][0] == 0  # none written: empty view
    finally:
        con.close()
    # Without the store's client and without httpfs, DuckDB cannot read s3:// offline: said plainly.
    plain = duckdb.connect(str(catalog), read_only=True,
                           config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    with pytest.raises(duckdb.Error, match="httpfs"):
        plain.sql("SELECT count(*) FROM reports").fetchall()
    plain.close()


def test_an_output_folder_named_with_glob_characters_is_read(tmp_path: Path) -> None:
    """DuckDB reads the Parquet through glob patterns: a folder named ``out[1]*`` must be matched literally,
    both where the catalog was built and after a move to another such name. (A ``?`` in the path is not
    supported by DuckDB itself: it takes it for the start of connection options; docs/reliability.md.)"""
    plain = tmp_path / "plain"
    publish_planted(plain)
    post_publish(plain)
    want = _answers(plain / CATALOG_FILE, COUNTS + CONTENT)
    odd = tmp_path / "site[1]" / "out*[a]"
    publish_planted(odd)
    post_publish(odd)
    assert _answers(odd / CATALOG_FILE, COUNTS + CONTENT) == want
    moved = tmp_path / "x]y[" / "z*"
    moved.parent.mkdir()
    shutil.move(odd, moved)
    assert _answers(moved / CATALOG_FILE, COUNTS + CONTENT) == want
    got = _answers_in(duck1_python(), moved / CATALOG_FILE, COUNTS + CONTENT, cwd=Path("/"))
    assert got["rows"] == want

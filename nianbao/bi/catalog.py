"""The DuckDB catalog for BI tools: ``<out>/catalog.duckdb``, a file of views over the Parquet outputs.

The catalog holds no data, only views, and it is **relocatable**: a view names its Parquet files
relative to the catalog's own folder (``read_parquet(<root> || '/reports/*/*.parquet', ...)``, one
directory level, never ``**``, so hidden staging directories are never read), where ``<root>`` is
worked out by DuckDB when the view is queried (``ROOT_SQL``):

1. the first entry of the setting ``file_search_path`` when it is set (for a catalog ATTACHed to
   another database, or opened by a tool that sets ``temp_directory``);
2. otherwise the folder of the database file DuckDB opened: DuckDB's default ``temp_directory`` is
   ``<database file>.tmp`` (documented), so ``duckdb.connect('/anywhere/out/catalog.duckdb')``
   reads ``/anywhere/out/...`` with no setting at all;
3. otherwise (an in-memory database) the current directory.

So the output folder can be moved, copied or synced and the copy reads its own files. For an
object-store output (``s3://bucket/prefix``) the catalog is written to a local file and its views
name the ``s3://`` paths (``write_catalog(location, catalog=...)``; DuckDB reads them with its httpfs
extension, or with the store's own client through ``connect_catalog``). It is written with
``STORAGE_VERSION 'v1.4.0'`` so the DuckDB 1.4+ engines that BI drivers bundle can open it, built in
a temporary file and swapped in by ``os.replace``; readers open it ``read_only``.

Views (see docs/bi.md and docs/data-model.md):

- one per dataset: ``reports``, ``sections``, ``proactive_disclosure``, ``applications``,
  ``reviews_litigation``, ``validation_issues``, plus ``crossyear_issues`` and ``agency_keys``;
  a dataset without files gets an empty view with the right columns;
- ``all_issues``: validation_issues and crossyear_issues together (column ``origin``);
- ``applications_wide``: one row per report and applications row, one column per applicant;
- ``report_summary``: one row per report with key totals, status and failed-check counts;
- ``agency_years``: one row per body and published year (``has_report`` false where a body known
  from another year published nothing that year).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from nianbao.bi.crossyear import (
    AGENCY_DATASET,
    CROSSYEAR_DATASET,
    agency_schema,
    crossyear_schema,
    write_agency_keys,
)
from nianbao.fsio import atomic_write
from nianbao.location import is_remote
from nianbao.publish.objectstore import open_store
from nianbao.template import APPLICANTS, APPLICATIONS_2019, APPLICATIONS_2021
from schemas import DATASET_NAMES, polars_schema

CATALOG_FILE = "catalog.duckdb"
# Never download an extension (no network beyond package registries): s3:// goes through register_store.
_OFFLINE: dict[str, str | bool | int | float | list[str]] = {"autoinstall_known_extensions": False,
                                                            "autoload_known_extensions": False}
# DuckDB takes up to 80 % of the machine's memory for its buffers; its operators spill to disk past a limit.
# The smoke test reads a row of each dataset view: it needs little.
SMOKE_TEST_MEMORY = "128MB"


def query_config(out: Path | str, memory_limit: str) -> dict[str, str | bool | int | float | list[str]]:
    """A DuckDB connection's settings for queries over the outputs: offline, at most ``memory_limit`` of buffers,
    spilling into the output's ``.cache/duckdb`` (a local temporary folder for an object-store output)."""
    spill = Path(out) / ".cache" / "duckdb" if not is_remote(str(out)) else Path(tempfile.gettempdir()) / "nianbao-duckdb"
    return {**_OFFLINE, "memory_limit": memory_limit, "temp_directory": str(spill)}


STORAGE_VERSION = "v1.4.0"
PARTITION_TYPES = "{'report_year': INTEGER}"

# (view name, description) of every view the catalog defines, in creation order.
DERIVED_VIEWS: tuple[tuple[str, str], ...] = (
    ("all_issues", "validation_issues and crossyear_issues in one view; column origin = report or crossyear"),
    ("applications_wide", "applications pivoted: one row per report and row, one DECIMAL column per applicant "
                          "(null where the cell is not a printed number)"),
    ("report_summary", "one row per report: status, key totals of tables 2 and 3, issue counts"),
    ("agency_years", "one row per body (agency_keys.body_key) and published year; has_report = false where the "
                     "body published nothing that year"),
)

# Descriptions of the derived views' columns (docs/data-model.md); columns not listed are explained by
# the dataset they come from.
VIEW_COLUMNS: dict[str, dict[str, str]] = {
    "all_issues": {
        "origin": "report (validation_issues: checks within one report) or crossyear (crossyear_issues)",
        "related_report_id": "crossyear rows: the earlier year's report compared with",
    },
    "applications_wide": {
        "row": "applications row key (quote it in SQL: \"row\")",
        "row_no": "printed order of the row (1 = new_received … carried_forward last; 2019's other_handling "
                  "sits before total_handled)",
        **{a.key: f"value of the {a.key} column ({a.labels[0]}); null unless printed as a number"
           for a in APPLICANTS},
    },
    "report_summary": {
        "body_key": "agency_keys.body_key: the body across years",
        **{f"{r}_total": f"applications {r}, total column (null unless printed as a number)" for r in (
            "new_received", "carried_over", "granted", "partially_granted", "total_handled", "carried_forward")},
        "administrative_review_total": "reviews_litigation administrative_review / total",
        "administrative_review_corrected": "reviews_litigation administrative_review / corrected",
        "litigation_direct_total": "reviews_litigation litigation_direct / total",
        "litigation_after_review_total": "reviews_litigation litigation_after_review / total",
        "litigation_total": "litigation_direct_total + litigation_after_review_total (null if either is)",
        "n_errors": "validation_issues rows of severity error",
        "n_warnings": "validation_issues rows of severity warning",
        "n_crossyear_issues": "crossyear_issues rows (error or warning) attributed to this report",
        "n_failed_checks": "rows of validation_issues + crossyear_issues with severity error or warning",
        "n_failed_check_types": "distinct check names among those rows",
    },
    "agency_years": {
        "body_key": "agency_keys.body_key",
        "agency": "the body's name as printed in its latest report",
        "report_year": "every year that has any published report",
        "n_reports": "reports of the body for the year (2+ means ambiguous: not cross-year checked)",
        "has_report": "false where the body published nothing for the year",
        "first_year": "first year the body has a report",
        "last_year": "last year the body has a report",
        "report_ids": "comma-separated report_id values",
        "statuses": "comma-separated distinct statuses of those reports",
        "link_statuses": "how the reports were linked (exact, linked_suffix, ambiguous)",
        "n_failed_checks": "sum of report_summary.n_failed_checks",
        "n_crossyear_issues": "sum of report_summary.n_crossyear_issues",
    },
}


def duckdb_type(dtype: Any) -> str:
    """Given a polars dtype, return the DuckDB type name used for empty views."""
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    base = dtype.base_type() if hasattr(dtype, "base_type") else dtype
    mapping = {pl.String: "VARCHAR", pl.Int32: "INTEGER", pl.Int64: "BIGINT", pl.Int16: "SMALLINT",
               pl.Float64: "DOUBLE", pl.Date: "DATE", pl.Boolean: "BOOLEAN", pl.Datetime: "TIMESTAMP"}
    for k, v in mapping.items():
        if base == k:
            return v
    raise TypeError(f"no DuckDB type for {dtype}")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _empty_select(schema: pl.Schema) -> str:
    cols = ", ".join(f"CAST(NULL AS {duckdb_type(t)}) AS {_q(n)}" for n, t in schema.items())
    return f"SELECT {cols} WHERE false"


# Where a view's files are, worked out by DuckDB at query time (module docstring): file_search_path, else
# the folder of the opened database file (default temp_directory = '<file>.tmp'), else the current directory.
ROOT_SQL = ("(CASE WHEN current_setting('file_search_path') <> '' "
            "THEN split_part(current_setting('file_search_path'), ',', 1) "
            "WHEN current_setting('temp_directory') LIKE '%.tmp' AND current_setting('temp_directory') <> '.tmp' "
            "THEN parse_dirpath(current_setting('temp_directory')) ELSE '.' END)")


def _has_files(pattern_root: Path, glob: str) -> bool:
    return pattern_root.exists() and any(pattern_root.glob(glob))


def _store_has_files(location: str, name: str) -> bool:
    store = open_store(location)
    return any(o.key.endswith(".parquet") and not o.key.rsplit("/", 1)[-1].startswith(".")
               for o in store.list(name))


def glob_escape(path: str) -> str:
    """Given a folder path, return it with DuckDB's glob characters matched literally (``[`` → ``[[]``): an
    output folder may be named ``out[1]?``. The same rule runs inside the views, on the folder they find at
    query time (``regexp_replace`` over ``ROOT_SQL``)."""
    return re.sub(r"([\[\]?*])", r"[\1]", path)


def dataset_view_sql(out: Path | str, name: str) -> str:
    """Return the SELECT of a dataset view: a path relative to the catalog's folder (``ROOT_SQL``), or the
    ``s3://`` path of an object-store output; one-level glob; an empty typed SELECT if there are no files."""
    remote = is_remote(out)
    partitioned = name in DATASET_NAMES
    if remote:
        present = _store_has_files(str(out), name)
    else:
        present = _has_files(Path(out) / name, "report_year=*/*.parquet" if partitioned else "*.parquet")
    if not present:
        schema = (polars_schema(name) if partitioned
                  else crossyear_schema() if name == CROSSYEAR_DATASET else agency_schema())
        return _empty_select(schema)
    glob = f"/{name}/*/*.parquet" if partitioned else f"/{name}/*.parquet"
    path = (_lit(glob_escape(str(out).rstrip("/")) + glob) if remote
            else f"regexp_replace({ROOT_SQL}, '([\\[\\]?*])', '[\\1]', 'g') || {_lit(glob)}")
    if partitioned:
        return (f"SELECT * FROM read_parquet({path}, hive_partitioning = true, "
                f"hive_types = {PARTITION_TYPES}, union_by_name = true)")
    return f"SELECT * FROM read_parquet({path}, union_by_name = true)"


def _store_filesystem(location: str) -> Any:
    """An fsspec filesystem over the object store's own client (pyarrow S3, with the project's endpoint
    settings), registered under the location's scheme so DuckDB reads ``s3://`` without httpfs."""
    from fsspec.implementations.arrow import ArrowFSWrapper

    scheme = location.split("://", 1)[0]
    store = open_store(location)

    class _StoreFS(ArrowFSWrapper):  # type: ignore[misc]
        protocol = (scheme,)
        root_marker = ""

        @classmethod
        def _strip_protocol(cls, path: Any) -> str:
            return str(path).removeprefix(f"{scheme}://").rstrip("/")

    return _StoreFS(store.fs)


def register_store(con: duckdb.DuckDBPyConnection, location: str) -> None:
    """Let ``con`` read ``location``'s scheme (``s3://``) through the store's client (no DuckDB extension)."""
    scheme = location.split("://", 1)[0]
    if not con.filesystem_is_registered(scheme):
        con.register_filesystem(_store_filesystem(location))


def _unregister(con: duckdb.DuckDBPyConnection) -> None:
    # Registered fsspec filesystems hold Python objects; dropping them before close avoids leaks at exit.
    with contextlib.suppress(duckdb.Error):
        for name in con.list_filesystems():
            con.unregister_filesystem(name)


def connect_catalog(catalog: Path | str) -> duckdb.DuckDBPyConnection:
    """Open a catalog read-only; for an object-store catalog, register the store's client for its scheme
    (what a Python reader needs when DuckDB's httpfs extension is not installed)."""
    con = duckdb.connect(str(catalog), read_only=True, config=_OFFLINE)
    sqls = " ".join(r[0] or "" for r in con.sql("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall())
    for loc in sorted(set(re.findall(r"read_parquet\('([a-z0-9]+://[^']+?)/[^/']+/\*", sqls))):
        register_store(con, loc)
    return con


def application_row_order() -> list[str]:
    """Every applications row key of either template, in printed order (2019's 其他处理 before 总计)."""
    order = list(APPLICATIONS_2021.row_keys)
    for i, key in enumerate(APPLICATIONS_2019.row_keys):
        if key not in order:
            order.insert(order.index(APPLICATIONS_2019.row_keys[i + 1]), key)
    return order


def _issue_columns() -> list[str]:
    return list(polars_schema("validation_issues"))


def derived_view_sql() -> dict[str, str]:
    """Return the SELECT of every derived view (they refer to the dataset views by name)."""
    cols = ", ".join(_q(c) for c in _issue_columns())
    applicant_cols = ",\n  ".join(
        f"max(CASE WHEN applicant = {_lit(a.key)} AND value_kind = 'number' THEN value END) AS {_q(a.key)}"
        for a in APPLICANTS)
    row_no = " ".join(f"WHEN {_lit(k)} THEN {i}" for i, k in enumerate(application_row_order(), 1))

    def cell(k1: str, v1: str, k2: str, v2: str, alias: str) -> str:
        return f"max(CASE WHEN {k1} = {_lit(v1)} AND {k2} = {_lit(v2)} AND value_kind = 'number' THEN value END) " \
               f"AS {alias}"

    app_totals = ",\n    ".join(cell('"row"', r, "applicant", "total", f"{r}_total") for r in (
        "new_received", "carried_over", "granted", "partially_granted", "total_handled", "carried_forward"))
    rl_totals = ",\n    ".join(cell("proceeding", p, "outcome", o, f"{p}_{o}") for p, o in (
        ("administrative_review", "total"), ("administrative_review", "corrected"),
        ("litigation_direct", "total"), ("litigation_after_review", "total")))
    return {
        "all_issues": f"""SELECT {cols}, 'report' AS origin, CAST(NULL AS VARCHAR) AS related_report_id
FROM validation_issues
UNION ALL
SELECT {cols}, 'crossyear' AS origin, related_report_id
FROM crossyear_issues""",
        "applications_wide": f"""SELECT report_id, report_year, template, "row",
  CASE "row" {row_no} END AS row_no,
  {applicant_cols}
FROM applications
GROUP BY report_id, report_year, template, "row\"""",
        "report_summary": f"""WITH app AS (
  SELECT report_id, report_year,
    {app_totals},
    count(*) AS n_application_cells
  FROM applications GROUP BY report_id, report_year
), rl AS (
  SELECT report_id, report_year,
    {rl_totals}
  FROM reviews_litigation GROUP BY report_id, report_year
), iss AS (
  SELECT report_id, report_year,
    count(*) FILTER (WHERE severity = 'error' AND origin = 'report') AS n_errors,
    count(*) FILTER (WHERE severity = 'warning' AND origin = 'report') AS n_warnings,
    count(*) FILTER (WHERE severity IN ('error', 'warning') AND origin = 'crossyear') AS n_crossyear_issues,
    count(*) FILTER (WHERE severity IN ('error', 'warning')) AS n_failed_checks,
    count(DISTINCT "check") FILTER (WHERE severity IN ('error', 'warning')) AS n_failed_check_types
  FROM all_issues GROUP BY report_id, report_year
)
SELECT r.report_id, r.report_year, r.agency, k.body_key, r.title, r.source_uri, r.source_format, r.template,
  r.status, r.error, r.n_cells,
  app.new_received_total, app.carried_over_total, app.granted_total, app.partially_granted_total,
  app.total_handled_total, app.carried_forward_total,
  rl.administrative_review_total, rl.administrative_review_corrected,
  rl.litigation_direct_total, rl.litigation_after_review_total,
  rl.litigation_direct_total + rl.litigation_after_review_total AS litigation_total,
  coalesce(iss.n_errors, 0) AS n_errors, coalesce(iss.n_warnings, 0) AS n_warnings,
  coalesce(iss.n_crossyear_issues, 0) AS n_crossyear_issues,
  coalesce(iss.n_failed_checks, 0) AS n_failed_checks,
  coalesce(iss.n_failed_check_types, 0) AS n_failed_check_types
FROM reports r
LEFT JOIN agency_keys k ON k.report_id = r.report_id AND k.report_year = r.report_year
LEFT JOIN app ON app.report_id = r.report_id AND app.report_year = r.report_year
LEFT JOIN rl ON rl.report_id = r.report_id AND rl.report_year = r.report_year
LEFT JOIN iss ON iss.report_id = r.report_id AND iss.report_year = r.report_year""",
        "agency_years": """WITH bodies AS (
  SELECT body_key, arg_max(agency, report_year) AS agency, min(report_year) AS first_year,
    max(report_year) AS last_year
  FROM agency_keys WHERE body_key IS NOT NULL GROUP BY body_key
), years AS (
  SELECT DISTINCT report_year FROM reports
), per AS (
  SELECT k.body_key, s.report_year, count(*) AS n_reports,
    string_agg(s.report_id, ',' ORDER BY s.report_id) AS report_ids,
    string_agg(DISTINCT s.status, ',' ORDER BY s.status) AS statuses,
    string_agg(DISTINCT k.link_status, ',' ORDER BY k.link_status) AS link_statuses,
    CAST(sum(s.n_failed_checks) AS BIGINT) AS n_failed_checks,
    CAST(sum(s.n_crossyear_issues) AS BIGINT) AS n_crossyear_issues
  FROM agency_keys k JOIN report_summary s ON s.report_id = k.report_id AND s.report_year = k.report_year
  WHERE k.body_key IS NOT NULL
  GROUP BY k.body_key, s.report_year
)
SELECT b.body_key, b.agency, y.report_year, coalesce(p.n_reports, 0) AS n_reports,
  coalesce(p.n_reports, 0) > 0 AS has_report, b.first_year, b.last_year, p.report_ids, p.statuses,
  p.link_statuses, coalesce(p.n_failed_checks, CAST(0 AS BIGINT)) AS n_failed_checks,
  coalesce(p.n_crossyear_issues, CAST(0 AS BIGINT)) AS n_crossyear_issues
FROM bodies b CROSS JOIN years y
LEFT JOIN per p ON p.body_key = b.body_key AND p.report_year = y.report_year""",
    }


VIEW_DATASETS: tuple[str, ...] = (*DATASET_NAMES, CROSSYEAR_DATASET, AGENCY_DATASET)


def create_views(con: duckdb.DuckDBPyConnection, out_dir: Path | str) -> list[str]:
    """Create (or replace) every catalog view on ``con``'s current schema; return the view names.

    For a local output, ``file_search_path`` of ``con`` is set to it, so the relative views bind here."""
    out: Path | str = str(out_dir) if is_remote(out_dir) else Path(out_dir).resolve()
    if isinstance(out, Path):
        con.execute(f"SET file_search_path = {_lit(str(out))}")
    else:
        register_store(con, out)
    names: list[str] = []
    for name in VIEW_DATASETS:
        con.execute(f"CREATE OR REPLACE VIEW {_q(name)} AS {dataset_view_sql(out, name)}")
        names.append(name)
    for name, sql in derived_view_sql().items():
        con.execute(f"CREATE OR REPLACE VIEW {_q(name)} AS {sql}")
        names.append(name)
    return names


def write_catalog(out_dir: Path | str, *, catalog: Path | str | None = None, agency_keys: bool = True) -> Path:
    """Write the catalog (views only, storage v1.4.0) atomically; return its path.

    Local output: ``<out>/catalog.duckdb`` (``catalog`` may name another file in ``out``'s folder only
    by being None: a relocatable catalog lives next to its data); ``agency_keys`` is (re)derived from the
    published reports first (unless ``agency_keys`` is False: the caller just wrote them), so the file is
    consistent with the data it points at; ``crossyear_issues``
    is read as it stands (``run_crossyear_checks`` writes it). Object-store output: ``catalog`` is the
    local file to write (default ``./catalog.duckdb``), its views name the ``s3://`` paths.
    """
    if is_remote(out_dir):
        out: Path | str = str(out_dir).rstrip("/")
        final = Path(catalog or CATALOG_FILE).resolve()
        final.parent.mkdir(parents=True, exist_ok=True)
    else:
        out = Path(out_dir).resolve()
        out.mkdir(parents=True, exist_ok=True)
        if agency_keys:
            write_agency_keys(out)
        final = out / CATALOG_FILE
    return atomic_write(final, lambda tmp: _build_catalog(tmp, out))


def _build_catalog(tmp: Path, out: Path | str) -> None:
    """Write the views over ``out`` into a new database file at ``tmp`` and smoke-test them (the atomic write
    made ``tmp`` as an empty file, which DuckDB refuses to open: it is removed first)."""
    tmp.unlink()
    con = duckdb.connect(config=query_config(out, SMOKE_TEST_MEMORY))
    try:
        con.execute(f"ATTACH {_lit(str(tmp))} AS nianbao_catalog (STORAGE_VERSION {_lit(STORAGE_VERSION)})")
        con.execute("USE nianbao_catalog")
        create_views(con, out)
        # Smoke test before swapping in: every dataset view reads a row without error, every derived view binds
        # and plans (running one would aggregate or pivot every report of every year: memory that grows with
        # the output, for a check that the dataset views and the tests already make).
        for name in VIEW_DATASETS:
            con.execute(f"SELECT * FROM {_q(name)} LIMIT 1").fetchall()
        for name, _ in DERIVED_VIEWS:
            con.execute(f"EXPLAIN SELECT * FROM {_q(name)} LIMIT 1").fetchall()
        con.execute("CHECKPOINT")
        con.execute("USE memory")
        con.execute("DETACH nianbao_catalog")
    finally:
        _unregister(con)
        con.close()
        Path(str(tmp) + ".wal").unlink(missing_ok=True)


__all__ = [
    "CATALOG_FILE",
    "DERIVED_VIEWS",
    "ROOT_SQL",
    "SMOKE_TEST_MEMORY",
    "VIEW_COLUMNS",
    "VIEW_DATASETS",
    "application_row_order",
    "connect_catalog",
    "create_views",
    "dataset_view_sql",
    "derived_view_sql",
    "duckdb_type",
    "query_config",
    "register_store",
    "write_catalog",
]

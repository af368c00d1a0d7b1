"""Publishing: results → validated frames → Parquet partitions swapped in atomically.

Lineage is added here, at the write boundary: ``parser_version``, ``batch_id`` and
``flow_run_id`` on every row; page and position on every cell.

Layout: ``<out>/<dataset>/report_year=<Y>/part-<batch_id>.parquet`` (zstd). A local publish is one
commit of the versioned journal (``nianbao.publish.journal``): each year's generation is written
completely under ``<out>/_journal/versions/``, HEAD.json is replaced atomically (the commit), and the
live partitions are hard links of the version HEAD names, swapped in by ``renameat2(RENAME_EXCHANGE)``.
Readers never see a half-written partition; a crash rolls forward or back to a committed state; a year
can be rolled back to its previous version. The publish contract (``nianbao.publish.contract``) decides
whether the batch may replace the year at all.

An object store output (``s3://...``) has no rename: ``write_partitions_to_store`` publishes the
same bytes through a commit log instead (``nianbao.publish.objectstore``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from pandera.errors import SchemaErrors

from nianbao import PARSER_VERSION
from nianbao.location import is_remote
from nianbao.publish import journal
from nianbao.publish.contract import READABLE
from nianbao.publish.objectstore import ObjectStore, open_store, read_store_dataset
from nianbao.publish.sink import LocalSink, PartFile, StoreSink, open_sink, part_file
from nianbao.results import ReportResult
from nianbao.template import TABLE_KEY_COLUMNS, TABLES
from schemas import DATASET_NAMES, DATASETS, pandera_schema, polars_schema

STAGING = ".staging"  # the pre-journal staging folder; never read (kept for old outputs' tidy-up)
LOCKS = journal.LOCKS
PublishLockedError = journal.PublishLockedError


@dataclass(frozen=True)
class Lineage:
    batch_id: str
    flow_run_id: str | None = None


def _iso_date(s: str | None) -> date | None:
    if not s:
        return None
    try:
        return date.fromisoformat(s)
    except ValueError:
        return None


def _item_of(table: str, key1: str, version: str | None) -> str | None:
    if table != "proactive_disclosure":
        return None
    for v in ((version,) if version else ()) + ("2021", "2019"):
        for r in TABLES[(table, v)].rows:  # type: ignore[index]
            if r.key == key1:
                return r.item
    return None


def build_frames(results: Iterable[ReportResult], year_of: dict[str, int], lineage: Lineage) -> dict[str, pl.DataFrame]:
    """Given report results and the partition year of each report, return one frame per dataset."""
    rows: dict[str, list[dict[str, Any]]] = {d: [] for d in DATASET_NAMES}
    lin = {"batch_id": lineage.batch_id, "flow_run_id": lineage.flow_run_id}
    for r in results:
        if r.report_id not in year_of:
            continue  # held back (year unknown or another year's report): recorded in the manifest, not published
        year = year_of[r.report_id]
        base = {"report_id": r.report_id, "report_year": year}
        n_cells = 0
        for c in r.cells:
            k1, k2 = TABLE_KEY_COLUMNS[c.table]
            bbox = c.origin.bbox or (None, None, None, None)
            rows[c.table].append({
                **base, k1: c.key1, k2: c.key2, "template": r.table_templates.get(c.table) or
                (r.template if c.table != "applications" else None),
                "value": c.value, "value_kind": c.kind, "raw": c.raw, "unit": c.unit, "derivation": c.derivation,
                "page": c.origin.page, "line": c.origin.line, "x0": bbox[0], "top": bbox[1], "x1": bbox[2],
                "bottom": bbox[3], "parser_version": r.parser_version, **lin})
            n_cells += 1
        for p in r.problems:
            rows["validation_issues"].append({
                **base, "check": p.check, "severity": p.severity, "table_name": p.table, "key1": p.key1,
                "key2": p.key2, "expected": p.expected, "actual": p.actual, "message": p.message, "page": p.page,
                "parser_version": r.parser_version, **lin})
        for s in r.sections:
            rows["sections"].append({
                **base, "section_no": s.number, "section_key": s.key, "heading": s.heading, "text": s.text,
                "block_start": s.block_start, "block_end": s.block_end, "page": s.page,
                "parser_version": r.parser_version, **lin})
        rows["reports"].append({
            **base, "source_uri": r.source_uri, "source_format": r.source_format, "source_bytes": r.source_bytes,
            "title": r.title, "agency": r.agency, "published": _iso_date(r.published), "template": r.template,
            "template_applications": r.table_templates.get("applications"), "status": r.status, "error": r.error,
            "error_message": r.error_message, "page_count": r.page_count, "n_cells": n_cells,
            "n_issues": len(r.problems), "seconds": r.seconds, "parser_version": r.parser_version, **lin})
    return {d: pl.DataFrame(rows[d], schema=polars_schema(d), orient="row") for d in DATASET_NAMES}


def validate_frames(frames: dict[str, pl.DataFrame], lineage: Lineage, parser_version: str
                    ) -> dict[str, pl.DataFrame]:
    """Validate every frame with its pandera schema (lazy: all failures collected); rows that fail are
    removed from their dataset and each failure becomes a ``validation_issues`` row."""
    extra: list[dict[str, Any]] = []
    out = dict(frames)
    for name in DATASET_NAMES:
        if name == "validation_issues":
            continue
        df = frames[name]
        try:
            pandera_schema(name).validate(df, lazy=True)
        except SchemaErrors as exc:
            fc = exc.failure_cases
            bad = {int(i) for i in fc["index"].drop_nulls().to_list()}
            if not bad and len(fc):
                raise  # schema-level failure (wrong types): a bug in the writer, not bad data
            for rec in fc.iter_rows(named=True):
                idx = rec.get("index")
                src = df.row(int(idx), named=True) if idx is not None else {}
                extra.append({
                    "report_id": src.get("report_id", ""), "report_year": src.get("report_year", 0),
                    "check": f"schema_{rec.get('check')}", "severity": "error", "table_name": name,
                    "key1": None, "key2": rec.get("column"), "expected": str(rec.get("check")),
                    "actual": str(rec.get("failure_case")),
                    "message": f"row left out of {name}: column {rec.get('column')} fails {rec.get('check')}",
                    "page": None, "parser_version": parser_version, "batch_id": lineage.batch_id,
                    "flow_run_id": lineage.flow_run_id})
            out[name] = df.with_row_index("_i").filter(~pl.col("_i").is_in(sorted(bad))).drop("_i")
    if extra:
        out["validation_issues"] = pl.concat([frames["validation_issues"],
                                              pl.DataFrame(extra, schema=polars_schema("validation_issues"))])
    pandera_schema("validation_issues").validate(out["validation_issues"], lazy=True)
    return out


# --- the local publish ---------------------------------------------------------------------

def _frame_writer(frames: dict[str, pl.DataFrame], metadata: dict[str, str] | None, batch_id: str
                  ) -> Callable[[Path, int], dict[str, PartFile]]:
    """Write one year's partition of every dataset from frames held in memory (rows in the stable order)."""
    meta = parquet_metadata(metadata)

    def write(folder: Path, year: int) -> dict[str, PartFile]:
        files: dict[str, PartFile] = {}
        for name, _, part in _partitions(frames, [year]):
            path = folder / name / f"part-{batch_id}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            part.write_parquet(path, compression="zstd", statistics=True, metadata=meta)
            files[name] = part_file(name, year, path, part.height)
        return files

    return write


def write_partitions(frames: dict[str, pl.DataFrame], out: Path, years: list[int], batch_id: str,
                     metadata: dict[str, str] | None = None, lock_timeout: float | None = 0.0, *,
                     allow_shrink: bool = False, keep_versions: int = journal.KEEP_VERSIONS) -> list[dict[str, Any]]:
    """Publish the frames' rows of ``years`` to a local folder as one journal commit (``LocalSink``); return
    the files written (live paths).

    Every dataset gets a partition for every year, even an empty one, so a rerun that finds fewer rows
    replaces the old ones instead of leaving them behind. Raises ``NothingToPublishError`` /
    ``PublishRefusedError`` (the contract; nothing changes) and ``PublishConflictError`` when another run
    holds one of the years for longer than ``lock_timeout`` seconds (default: fail at once, one run wins).
    Runs of different years proceed in parallel; they meet only for the moment of the commit.
    """
    sink = LocalSink(Path(out), lock_timeout, keep_versions)
    return sink.publish(sorted(set(years)), frames["reports"], _frame_writer(frames, metadata, batch_id), {},
                       batch_id, allow_shrink)


def recover(out: Path) -> list[str]:
    """Bring every year whose lock is free back to its committed state (live == HEAD); return what was done."""
    return journal.recover(Path(out), list(DATASET_NAMES))


def rollback(out: Path, year: int, lock_timeout: float | None = 0.0) -> dict[str, Any]:
    """Make the previous version of ``year`` current again; the year then reads byte for byte as before."""
    return journal.rollback(Path(out), year, list(DATASET_NAMES), lock_timeout)


def published_years(out: Path | str, report_ids: Iterable[str], settings: Any = None) -> dict[str, int]:
    """Given report ids, return the year each is published under as a readable report (absent: nowhere)."""
    wanted = set(report_ids)
    if not wanted:
        return {}
    reports = read_dataset(out, "reports", settings)
    hits = reports.filter(pl.col("status").is_in(READABLE) & pl.col("report_id").is_in(sorted(wanted)))
    return {str(r): int(y) for r, y in hits.select("report_id", "report_year").iter_rows()}


def _partitions(frames: dict[str, pl.DataFrame], years: list[int]) -> Iterator[tuple[str, int, pl.DataFrame]]:
    """Every (dataset, year) partition, rows in a stable order (so equal data gives equal bytes)."""
    for name in DATASET_NAMES:
        df = frames[name]
        for year in years:
            yield name, year, sort_partition(name, df.filter(pl.col("report_year") == year))


def sort_partition(name: str, part: pl.DataFrame) -> pl.DataFrame:
    """The rows of a dataset in their stable order: by report, then by the dataset's keys."""
    sort_cols = [c for c in ("report_id", *TABLE_KEY_COLUMNS.get(name, ()), "section_no", "check", "key1",
                             "key2") if c in part.columns]
    return part.sort(sort_cols, nulls_last=True, maintain_order=True)


def parquet_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    return {"nianbao": json.dumps(metadata or {}, ensure_ascii=False)}


def write_partitions_to_store(frames: dict[str, pl.DataFrame], store: ObjectStore, years: list[int],
                              batch_id: str, metadata: dict[str, str] | None = None, *, allow_shrink: bool = False,
                              scratch_root: Path | None = None) -> list[dict[str, Any]]:
    """Write the frames' rows of ``years`` to an object store (``StoreSink``: stage, commit record, roll forward;
    see ``nianbao.publish.objectstore``); return the files written with their sha256. Same bytes as a local
    publish. The publish contract is checked against what the store holds (without a lock: a store has none)."""
    sink = StoreSink(store, scratch_root or Path(tempfile.gettempdir()) / "nianbao-publish")
    return sink.publish(sorted(set(years)), frames["reports"], _frame_writer(frames, metadata, batch_id), {},
                       batch_id, allow_shrink)


def publish_results(results: list[ReportResult], year_of: dict[str, int], years: list[int], out_dir: str,
                    batch_id: str, flow_run_id: str | None, metadata: dict[str, str],
                    settings: Any = None) -> list[dict[str, Any]]:
    """Publish results held in memory (small batches, tools and tests; the flow publishes staged chunks):
    build, validate and write the partitions of ``years`` to a local folder or an object store; return the
    files with their sha256 and the inputs of each."""
    lineage = Lineage(batch_id, flow_run_id)
    frames = validate_frames(build_frames(results, year_of, lineage), lineage,
                             results[0].parser_version if results else PARSER_VERSION)
    sink = open_sink(out_dir, settings, Path(tempfile.gettempdir()) / "nianbao-publish")
    files = sink.publish(sorted(set(years)), frames["reports"], _frame_writer(frames, metadata, batch_id), {},
                         batch_id, bool(settings and settings.allow_shrink))
    inputs_of: dict[int, list[str]] = {}
    for report_id, y in year_of.items():
        inputs_of.setdefault(y, []).append(report_id)
    for f in files:
        f["inputs"] = sorted(inputs_of.get(f["report_year"], []))
    return files


def scan_dataset(out: Path | str, name: str) -> pl.LazyFrame:
    """A lazy scan of a local published dataset as committed: a reader that filters and selects columns
    holds only what it keeps (the cross-year checks read a few cells per report, not every year's rows)."""
    root = Path(out) / name
    committed = journal.committed_files(Path(out), name)
    files = (sorted(str(p) for p in root.glob("report_year=*/*.parquet")) if committed is None
             else [str(p) for p in committed])
    if not files:
        return pl.LazyFrame(schema=polars_schema(name))
    # glob=False: the listed paths are files, and an output folder may hold [ ] ? in its name.
    return pl.scan_parquet(files, hive_partitioning=False, glob=False).select(list(polars_schema(name)))


def read_dataset(out: Path | str, name: str, settings: Any = None) -> pl.DataFrame:
    """Read a published dataset back as committed (the versions HEAD names; the live partitions equal them
    once a publish or recovery has finished). ``out`` may be an object store URI (``settings`` gives its
    endpoint)."""
    if is_remote(out):
        return read_store_dataset(open_store(str(out), settings), name, polars_schema(name))
    return scan_dataset(out, name).collect()


__all__ = [
    "DATASETS",
    "Lineage",
    "build_frames",
    "publish_results",
    "published_years",
    "read_dataset",
    "recover",
    "rollback",
    "scan_dataset",
    "validate_frames",
    "write_partitions",
    "write_partitions_to_store",
]

"""Publishing: results → validated frames → Parquet partitions swapped in atomically.

Lineage is added here, at the write boundary: ``parser_version``, ``batch_id`` and
``flow_run_id`` on every row; page and position on every cell.

Layout: ``<out>/<dataset>/report_year=<Y>/part-<batch_id>.parquet`` (zstd). A year is first
written completely under ``<out>/.staging/<batch_id>/`` (outside every dataset root), a
``COMMIT`` marker is written, and each dataset's partition directory is then exchanged with
the live one by an atomic ``renameat2(RENAME_EXCHANGE)`` (two renames where unavailable). A
publish interrupted after its marker is rolled forward by the next publish; one interrupted
before is discarded. Readers never see a half-written partition.

An object store output (``s3://...``) has no rename: ``write_partitions_to_store`` publishes the
same bytes through a commit log instead (``nianbao.publish.objectstore``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import io
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from pandera.errors import SchemaErrors

from nianbao.location import is_remote
from nianbao.publish.objectstore import ObjectStore, open_store, publish_to_store, read_store_dataset
from nianbao.results import ReportResult
from nianbao.template import TABLE_KEY_COLUMNS, TABLES
from schemas import DATASET_NAMES, DATASETS, pandera_schema, polars_schema

STAGING = ".staging"
LOCKS = ".locks"


class PublishLockedError(RuntimeError):
    """Another run is publishing the same year to the same output; raised after waiting ``timeout`` seconds."""


@contextmanager
def _flock(path: Path, timeout: float | None, what: str) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path``; wait up to ``timeout`` (None: forever)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")  # noqa: SIM115 - held across the yield below, closed in finally
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise PublishLockedError(
                        f"{what} is being published by another run (lock {path}); wait for it to finish and rerun, "
                        "or raise the lock timeout") from None
                time.sleep(0.2)
        yield
    finally:
        fh.close()


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


# --- atomic partition swap ---------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)


def exchange_dirs(a: Path, b: Path) -> None:
    """Atomically swap two existing directories (Linux renameat2); two renames elsewhere."""
    if _renameat2 is not None:
        rc = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
        if rc == 0:
            return
    tmp = b.with_name(b.name + ".swap")
    os.rename(b, tmp)
    os.rename(a, b)
    os.rename(tmp, a)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_in(stage: Path, out: Path, marker: dict[str, Any]) -> None:
    for name in marker["datasets"]:
        for year in marker["years"]:
            src = stage / name / f"report_year={year}"
            if not src.exists():
                continue  # already swapped in by an earlier, interrupted publish
            dst = out / name / f"report_year={year}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists():
                exchange_dirs(src, dst)
                shutil.rmtree(src)  # now holds the previous partition
            else:
                os.rename(src, dst)
    shutil.rmtree(stage, ignore_errors=True)


def recover(out: Path) -> list[str]:
    """Finish publishes that committed but were interrupted; discard those that did not. Return what was done."""
    done: list[str] = []
    root = out / STAGING
    if not root.exists():
        return done
    for stage in sorted(p for p in root.iterdir() if p.is_dir()):
        lock = stage.with_name(stage.name + ".lock")
        try:
            with _flock(lock, 0.0, f"staging {stage.name}"):
                if not stage.exists():
                    continue  # another run recovered it meanwhile
                commit = stage / "COMMIT"
                if commit.exists():
                    _swap_in(stage, out, json.loads(commit.read_text()))
                    done.append(f"rolled forward {stage.name}")
                else:
                    shutil.rmtree(stage, ignore_errors=True)
                    done.append(f"discarded incomplete {stage.name}")
            lock.unlink(missing_ok=True)
        except PublishLockedError:
            continue  # a live run is writing (or recovering) it right now
    return done


def write_partitions(frames: dict[str, pl.DataFrame], out: Path, years: list[int], batch_id: str,
                     metadata: dict[str, str] | None = None, lock_timeout: float | None = 3600.0
                     ) -> list[dict[str, Any]]:
    """Write the frames' rows of ``years`` as new partitions and swap them in; return the files written.

    Every dataset gets a partition for every year, even an empty one, so a rerun that finds fewer
    rows replaces the old ones instead of leaving them behind. Two runs publishing the same year
    to the same output take turns (a per-year lock; the second waits up to ``lock_timeout`` seconds,
    then fails with ``PublishLockedError``); runs of different years proceed in parallel.
    """
    out.mkdir(parents=True, exist_ok=True)
    with ExitStack() as locks:
        for year in sorted(set(years)):  # sorted: two runs never wait on each other crosswise
            locks.enter_context(_flock(out / LOCKS / f"report_year={year}.lock", lock_timeout,
                                       f"report_year={year} of {out}"))
        stage_lock = out / STAGING / f"{batch_id}.lock"
        locks.enter_context(_flock(stage_lock, 0.0, f"batch {batch_id}"))
        recover(out)
        files = _write_locked(frames, out, years, batch_id, metadata)
        stage_lock.unlink(missing_ok=True)
        return files


def _partitions(frames: dict[str, pl.DataFrame], years: list[int]) -> Iterator[tuple[str, int, pl.DataFrame]]:
    """Every (dataset, year) partition, rows in a stable order (so equal data gives equal bytes)."""
    for name in DATASET_NAMES:
        df = frames[name]
        for year in years:
            part = df.filter(pl.col("report_year") == year)
            sort_cols = [c for c in ("report_id", *TABLE_KEY_COLUMNS.get(name, ()), "section_no", "check", "key1",
                                     "key2") if c in part.columns]
            yield name, year, part.sort(sort_cols, nulls_last=True, maintain_order=True)


def _parquet_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    return {"nianbao": json.dumps(metadata or {}, ensure_ascii=False)}


def _write_locked(frames: dict[str, pl.DataFrame], out: Path, years: list[int], batch_id: str,
                  metadata: dict[str, str] | None) -> list[dict[str, Any]]:
    stage = out / STAGING / batch_id
    if stage.exists():
        shutil.rmtree(stage)
    files: list[dict[str, Any]] = []
    meta = _parquet_metadata(metadata)
    for name, year, part in _partitions(frames, years):
        pdir = stage / name / f"report_year={year}"
        pdir.mkdir(parents=True, exist_ok=True)
        path = pdir / f"part-{batch_id}.parquet"
        part.write_parquet(path, compression="zstd", statistics=True, metadata=meta)
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
        live = out / name / f"report_year={year}" / path.name
        files.append({"dataset": name, "report_year": year, "path": str(live), "rows": part.height,
                      "bytes": path.stat().st_size})
    marker = {"datasets": list(DATASET_NAMES), "years": years, "batch_id": batch_id}
    tmp = stage / "COMMIT.tmp"
    tmp.write_text(json.dumps(marker))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.rename(tmp, stage / "COMMIT")
    _fsync_dir(stage)
    _swap_in(stage, out, marker)
    return files


def write_partitions_to_store(frames: dict[str, pl.DataFrame], store: ObjectStore, years: list[int],
                              batch_id: str, metadata: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Write the frames' rows of ``years`` to an object store (stage, commit record, roll forward; see
    ``nianbao.publish.objectstore``); return the files written with their sha256. Same bytes as a local publish."""
    meta = _parquet_metadata(metadata)

    def encoded() -> Iterator[tuple[str, int, int, bytes]]:
        for name, year, part in _partitions(frames, years):
            buf = io.BytesIO()
            part.write_parquet(buf, compression="zstd", statistics=True, metadata=meta)
            yield name, year, part.height, buf.getvalue()

    return publish_to_store(store, encoded(), batch_id, sorted(set(years)), list(DATASET_NAMES))


def read_dataset(out: Path | str, name: str, settings: Any = None) -> pl.DataFrame:
    """Read a published dataset back (hive partitions; staging never included). ``out`` may be an
    object store URI (``settings`` then gives its endpoint)."""
    if is_remote(out):
        return read_store_dataset(open_store(str(out), settings), name, polars_schema(name))
    root = Path(out) / name
    if not root.exists():
        return pl.DataFrame(schema=polars_schema(name))
    files = sorted(str(p) for p in root.glob("report_year=*/*.parquet"))
    if not files:
        return pl.DataFrame(schema=polars_schema(name))
    return pl.read_parquet(files, hive_partitioning=False).select(list(polars_schema(name)))


__all__ = [
    "DATASETS",
    "Lineage",
    "build_frames",
    "read_dataset",
    "recover",
    "validate_frames",
    "write_partitions",
    "write_partitions_to_store",
]

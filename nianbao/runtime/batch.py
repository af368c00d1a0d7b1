"""From the chunks' records to the publish plan, the manifest's input records and the summary.

The flow gathers one ``ReportRecord`` per input (``nianbao.runtime.chunk``); this module turns them into
what the publish needs (partition years, the first copy of each duplicate, the problems the batch adds,
which reports each staged chunk contributes to each year) and what the manifest and the summary say.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import polars as pl

import nianbao
from nianbao.batch.cache import cache_root
from nianbao.batch.plan import BatchPlan, assign_years, drop_duplicates
from nianbao.publish.parquet import Lineage
from nianbao.publish.sink import open_sink
from nianbao.publish.staged import Published, StagedChunk, publish_staged
from nianbao.results import Problem, ReportResult
from nianbao.runtime.chunk import Chunk, ReportRecord, run_chunk
from nianbao.runtime.report import Ingested, ReportOutcome, unfetched_result
from nianbao.settings import Settings


@dataclass
class BatchOutcome:
    """The batch after planning: records in input order, the kept results, the plan, the staged chunks."""

    records: list[ReportRecord]
    results: list[ReportResult]
    plan: BatchPlan
    staged: list[StagedChunk]
    extras: dict[str, list[Problem]]
    fingerprints: dict[int, list[str]]  # per year, the fingerprints of the reports it publishes, in order

    def reports_frame(self) -> pl.DataFrame:
        """(report_id, report_year, status) of the reports published, for the publish contract."""
        rows = [(r.report_id, self.plan.year_of[r.report_id], r.status) for r in self.results
                if r.report_id in self.plan.year_of]
        return pl.DataFrame(rows, schema={"report_id": pl.String, "report_year": pl.Int32, "status": pl.String},
                            orient="row")


def plan_batch(records: list[ReportRecord], chunks: list[Chunk], year: int | None,
               published_elsewhere: dict[str, int]) -> BatchOutcome:
    """Given every input's record, the chunks and where reports are already published, return the plan:
    duplicates kept once (the first input), partition years assigned (``assign_years``), and for each chunk
    the reports whose staged rows each year takes."""
    records = sorted(records, key=lambda r: r.index)
    results = drop_duplicates([r.result for r in records])
    plan = assign_years(results, year, published_elsewhere)
    owner = {id(rec.result): rec.chunk for rec in records}
    prints = {id(rec.result): rec.fingerprint for rec in records}
    folders = {c.key: c.folder for c in chunks}
    owned: dict[str, dict[int, list[str]]] = {}
    for r in results:
        y = plan.year_of.get(r.report_id)
        if y is not None:
            owned.setdefault(owner[id(r)], {}).setdefault(y, []).append(r.report_id)
    staged = [StagedChunk(folders[k], o) for k, o in owned.items()]
    extras = {r.report_id: list(r.problems) for r in results if r.problems and r.report_id in plan.year_of}
    fingerprints: dict[int, list[str]] = {}
    for r in results:
        if r.report_id in plan.year_of:
            fingerprints.setdefault(plan.year_of[r.report_id], []).append(prints[id(r)])
    return BatchOutcome(records, results, plan, staged, extras, fingerprints)


def lost_chunk(chunk: Chunk, exc: BaseException, settings: Settings, year: int | None) -> list[ReportRecord]:
    """The records of a chunk whose task itself failed (its worker died, say): every report ``failed`` /
    ``crashed``, staged under a folder of their own (never taken for a finished chunk by a later run)."""
    message = f"the task processing this report's chunk failed: {type(exc).__name__}: {exc}"

    def lost(item: Any, _s: Settings, _y: int | None, _log: Any) -> ReportOutcome:
        ing = Ingested(item, None, 0, None, "failed", error="crashed", error_message=message)
        return ReportOutcome(unfetched_result(ing), ing)

    stand_in = Chunk(f"{chunk.key}-lost", f"{chunk.folder}-lost", chunk.items, skippable=False)
    records = run_chunk(stand_in, settings, year, process=lost)
    chunk.key, chunk.folder, chunk.skippable = stand_in.key, stand_in.folder, False  # plan_batch finds it there
    return records


def input_record(rec: ReportRecord, year_of: dict[str, int]) -> dict[str, Any]:
    """One input as the manifest records it."""
    r = rec.result
    return {"uri": r.source_uri, "sha256": rec.sha256, "size": rec.size if rec.sha256 else None,
            "report_id": r.report_id, "obtained": rec.how, "download_attempts": rec.attempts,
            "cache_hit": rec.cache_hit, "status": r.status, "error": r.error, "error_message": r.error_message,
            "detected_year": r.report_year, "partition_year": year_of.get(r.report_id),
            "agency": r.agency or rec.item_agency, "source_format": r.source_format,
            "parse_seconds": round(r.seconds, 3), "ingest_seconds": round(rec.ingest_seconds, 3),
            "worker": rec.worker, "chunk": rec.chunk}


def input_records(records: list[ReportRecord], year_of: dict[str, int]) -> list[dict[str, Any]]:
    """Every input in order; a later copy of the same bytes names the first (processed and published once)."""
    inputs = [input_record(rec, year_of) for rec in records]
    first_uri: dict[str, str] = {}
    for rec in inputs:
        if rec["report_id"] in first_uri:
            rec["duplicate_of"] = first_uri[rec["report_id"]]
        first_uri.setdefault(rec["report_id"], rec["uri"])
    return inputs


def accounting(results: list[ReportResult], held_ids: set[str]) -> dict[str, Any]:
    """What the summary must say about inputs that were not published: skipped files (with their
    reasons), reports held back (another year, unknown year: in no partition) and failed ones."""
    skipped = [{"uri": r.source_uri, "reason": r.error or "skipped", "message": r.error_message or ""}
               for r in results if r.status == "skipped"]
    held = [r.source_uri for r in results if r.report_id in held_ids and r.status != "skipped"]
    failed = [r.source_uri for r in results if r.status == "failed" and r.report_id not in held_ids]
    return {"skipped": skipped, "held_back": held, "failed": failed}


def counts(batch: BatchOutcome) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """(cells per kept report, problems per kept report, problems by check) of the batch, from the records
    and the problems the batch added."""
    kept = {id(r) for r in batch.results}
    cells: dict[str, int] = {}
    per_report: dict[str, int] = {}
    issues: Counter[str] = Counter()
    for rec in batch.records:
        if id(rec.result) in kept:
            rid = rec.result.report_id
            cells[rid] = rec.n_cells if rid in batch.plan.year_of else 0  # held back: nothing published
            per_report[rid] = rec.n_problems + len(rec.result.problems)
            issues.update(rec.checks)
            issues.update(p.check for p in rec.result.problems)
    return cells, per_report, dict(issues)


def progress_line(rec: ReportRecord) -> str:
    r = rec.result
    return (f"{r.source_uri.rsplit('/', 1)[-1]}: {r.status}{f' ({r.error})' if r.error else ''}, "
            f"{rec.n_cells} cells, {rec.n_problems} issues"
            + (" — cached" if rec.cache_hit else f", {r.seconds:.2f} s"))


__all__ = ["BatchOutcome", "accounting", "counts", "input_records", "lost_chunk", "plan_batch",
           "progress_line", "publish_batch"]


def publish_batch(batch: BatchOutcome, settings: Settings, batch_id: str, flow_run_id: str | None) -> Published:
    """Publish the batch's years from its staged chunks to the output of ``settings`` (local or object store)."""
    sink = open_sink(settings.out_dir, settings, cache_root(settings) / "tmp")
    metadata = {"batch_id": batch_id, "parser_version": nianbao.PARSER_VERSION, "code_version": nianbao.__version__}
    return publish_staged(sink, batch.staged, batch.plan.year_of, batch.plan.years, batch.extras, batch.fingerprints,
                          batch.reports_frame(), Lineage(batch_id, flow_run_id), metadata, nianbao.PARSER_VERSION,
                          settings.allow_shrink)

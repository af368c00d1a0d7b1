"""The bookkeeping of one batch run in Prefect: ids, OpenLineage events, the manifest, the summary and the
Prefect artifacts. The flow calls ``start``, then ``finish`` (or ``failed``); the work itself is core calls."""

from __future__ import annotations

import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from prefect import get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from flows.deployment import summary_table
from nianbao.batch.plan import summarize, summary_markdown
from nianbao.ingest.sources import SourceItem
from nianbao.publish.lineage import (
    build_manifest,
    copy_events_to_output,
    emit,
    lineage_file,
    now_iso,
    run_event,
    run_id_for,
    write_manifest,
)
from nianbao.publish.staged import Published
from nianbao.runtime.batch import BatchOutcome, accounting, counts, input_records
from nianbao.runtime.chunk import ReportRecord
from nianbao.settings import Settings
from schemas import DATASET_NAMES


def _parent() -> dict[str, str] | None:
    """The parent flow run (a backfill or the yearly wrapper), for the OpenLineage parent facet."""
    try:
        parent_id = flow_run.parent_flow_run_id
        if not parent_id:
            return None
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            parent = client.read_flow_run(uuid.UUID(str(parent_id)))
            name = client.read_flow(parent.flow_id).name
        return {"run_id": str(parent_id), "job": name}
    except Exception:
        return None


def _prefect_version() -> str:
    import prefect

    return str(prefect.__version__)


def _issue_rows(batch: BatchOutcome, limit: int = 1000) -> list[dict[str, Any]]:
    """The first ``limit`` validation issues of the published reports, read from the staged chunks."""
    names = {r.report_id: r.source_uri.rsplit("/", 1)[-1] for r in batch.results}
    rows: list[dict[str, Any]] = []
    for c in batch.staged:
        ids = sorted({i for ids in c.owned.values() for i in ids})
        if len(rows) >= limit:
            break
        df = (pl.scan_parquet(Path(c.folder) / "validation_issues.parquet", glob=False)
              .filter(pl.col("report_id").is_in(ids)).head(limit - len(rows)).collect())
        rows += [{"report": names.get(r["report_id"], ""), "report_id": r["report_id"][:12], "check": r["check"],
                  "severity": r["severity"], "table": r["table_name"] or "", "key1": r["key1"] or "",
                  "key2": r["key2"] or "", "expected": r["expected"] or "", "actual": r["actual"] or "",
                  "message": r["message"]} for r in df.iter_rows(named=True)]
    return rows


@dataclass
class BatchRun:
    cfg: Settings
    year: int | None
    batch_id: str
    flow_run_id: str | None
    started_at: str = field(default_factory=now_iso)
    t0: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    parent: dict[str, str] | None = None
    records: list[ReportRecord] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return str(self.year) if self.year is not None else "all"

    @property
    def ol_run(self) -> str:
        return run_id_for(self.flow_run_id)

    @classmethod
    def start(cls, cfg: Settings, year: int | None) -> BatchRun:
        tag = str(year) if year is not None else "all"
        batch_id = f"{tag}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        return cls(cfg, year, batch_id, str(flow_run.id) if flow_run.id else None, parent=_parent())

    def mark(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[name] = now - since
        return now

    def event(self, state: str, **kw: Any) -> None:
        for problem in emit(self.cfg, run_event(state, run_id=self.ol_run, event_time=now_iso(),
                                                out_dir=self.cfg.out_dir, parent=self.parent,
                                                engine_version=_prefect_version(), **kw)):
            get_run_logger().warning("lineage: %s", problem)

    def begin(self, items: list[SourceItem]) -> None:
        get_run_logger().info("batch %s: %d inputs, output %s, runner %s, chunks of up to %d", self.batch_id,
                              len(items), self.cfg.out_dir, self.cfg.task_runner, self.cfg.chunk_size)
        self.event("START", inputs=[{"uri": it.uri, "report_id": it.uri} for it in items])

    def failed(self, exc: BaseException) -> None:
        """Record a run that stops before it finished: the manifest (status failed), a FAIL event, an artifact."""
        logger = get_run_logger()
        self.timings["total_seconds"] = time.perf_counter() - self.t0
        msg = f"{type(exc).__name__}: {exc}"
        inputs = input_records(sorted(self.records, key=lambda r: r.index), {})
        try:
            write_manifest(self.cfg.out_dir, settings=self.cfg, manifest=build_manifest(
                batch_id=self.batch_id, flow_run_id=self.flow_run_id, openlineage_run_id=self.ol_run, year=self.year,
                years=[], inputs=inputs, outputs=[], started_at=self.started_at, finished_at=now_iso(),
                timings=self.timings, settings=self.cfg, status="failed",
                parent_flow_run_id=self.parent and self.parent["run_id"], error=msg))
        except Exception as mexc:
            logger.error("could not write the failed batch's manifest: %s", mexc)
        self.event("FAIL", inputs=inputs, error=msg, stack=traceback.format_exc(limit=20))
        try:  # the Prefect UI shows the outcome of a failed run too
            create_markdown_artifact(markdown=f"# nianbao batch {self.batch_id} failed\n\n{msg}\n\nNothing of this "
                                     "batch was published unless the log says so; the previous data is unchanged.",
                                     key=f"batch-summary-{self.tag}", description="nianbao batch summary (failed)")
        except Exception as aexc:
            logger.error("could not record the failure artifact: %s", aexc)

    def finish(self, batch: BatchOutcome, published: Published, bi: dict[str, Any],
               not_read: list[SourceItem]) -> dict[str, Any]:
        """Write the manifest and the lineage, make the artifacts; return the summary."""
        cfg, plan = self.cfg, batch.plan
        self.timings["total_seconds"] = time.perf_counter() - self.t0
        inputs = input_records(batch.records, plan.year_of)
        inputs_of: dict[int, list[str]] = {}
        for report_id, y in plan.year_of.items():
            inputs_of.setdefault(y, []).append(report_id)
        outputs = [{**f, "inputs": sorted(inputs_of.get(f["report_year"], []))} for f in published.files]
        outputs = [{k: f[k] for k in ("dataset", "report_year", "path", "rows", "bytes", "sha256", "inputs")}
                   for f in outputs]
        manifest = build_manifest(
            batch_id=self.batch_id, flow_run_id=self.flow_run_id, openlineage_run_id=self.ol_run, year=self.year,
            years=plan.years, inputs=inputs, outputs=outputs, started_at=self.started_at, finished_at=now_iso(),
            timings=self.timings, settings=cfg, parent_flow_run_id=self.parent and self.parent["run_id"],
            extra={"not_read": [{"uri": it.uri, "reason": it.skip, "message": it.note} for it in not_read],
                   "unchanged_years": published.unchanged_years})
        manifest_file = write_manifest(cfg.out_dir, manifest, cfg)
        self.event("COMPLETE", inputs=inputs, outputs=outputs)
        events_copy = self._copy_events()
        cells, per_report, issues = counts(batch)
        out_dir = cfg.out_dir if cfg.out_is_remote else str(Path(cfg.out_dir).resolve())
        summary = summarize(batch.results, out_dir, time.perf_counter() - self.t0, plan.years, cells, issues)
        summary.update(batch_id=self.batch_id, files=len(published.files), manifest=manifest_file,
                       lineage=events_copy or str(lineage_file(cfg)), cache=manifest["cache"],
                       flow_run_id=self.flow_run_id, catalog=bi.get("catalog"), quality_report=bi.get("quality_report"),
                       crossyear_issues=bi.get("crossyear_issue_count"), bi_error=bi.get("bi_error"),
                       not_read=[it.uri for it in not_read], unchanged_years=published.unchanged_years,
                       **accounting(batch.results, set(plan.held_back)))
        self._artifacts(summary, batch, cells, per_report, manifest_file)
        get_run_logger().info("summary: %s", {k: v for k, v in summary.items() if k != "issues"})
        return summary

    def _copy_events(self) -> str | None:
        try:
            return copy_events_to_output(self.cfg, self.batch_id, self.ol_run)
        except Exception as exc:  # lineage must never sink a batch that has already published
            get_run_logger().warning("lineage: could not copy the events next to the output: %s", exc)
            return None

    def _artifacts(self, summary: dict[str, Any], batch: BatchOutcome, cells: dict[str, int],
                   per_report: dict[str, int], manifest: str) -> None:
        tag = self.tag
        create_markdown_artifact(markdown=summary_markdown(summary, batch.results, cells, per_report),
                                 key=f"batch-summary-{tag}", description="nianbao batch summary")
        create_table_artifact(table=summary_table(summary), key=f"batch-summary-table-{tag}",
                              description=f"nianbao batch {summary['batch_id']}: outcome in figures")
        issues = _issue_rows(batch)
        create_table_artifact(table=issues or [{"check": "none", "message": "no validation issues"}],
                              key=f"validation-issues-{tag}",
                              description=f"validation issues of batch {summary['batch_id']} "
                                          f"({sum(summary['issues'].values())} in total; first 1000 shown)")
        remote = self.cfg.out_is_remote
        out_dir = self.cfg.out_dir

        def link(location: str) -> str:
            return location if "://" in location else Path(location).resolve().as_uri()

        base = out_dir.rstrip("/") if remote else str(Path(out_dir).resolve())
        for name in DATASET_NAMES:
            create_link_artifact(link=link(f"{base}/{name}"), link_text=f"{name} (Parquet, by report_year)",
                                 key=f"output-{name.replace('_', '-')}-{tag}", description=f"published dataset {name}")
        create_link_artifact(link=link(manifest), link_text=manifest.rsplit("/", 1)[-1], key=f"manifest-{tag}",
                             description="batch manifest: inputs, outputs, hashes, versions, timings")
        create_link_artifact(link=link(summary["lineage"]), link_text="OpenLineage events", key=f"lineage-{tag}",
                             description="OpenLineage run events (JSON lines)")
        if summary.get("quality_report"):
            create_link_artifact(link=Path(summary["quality_report"]).as_uri(), link_text="quality report (HTML)",
                                 key=f"quality-report-{tag}", description="batch quality report")

"""The batch flows.

* ``annual-batch``: one batch — ingest → process (cached or parsed in isolation) per report, then
  publish, manifest, OpenLineage events and artifacts. ``year=None``: every report under its own year.
* ``nianbao-year``: the scheduled entry point (deployment ``annual-batch``). ``year=None`` means the
  previous calendar year in Asia/Shanghai; it picks the task runner from the settings and runs
  ``annual-batch`` for that year as a subflow.
"""

from __future__ import annotations

import queue
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

import nianbao
from flows.deployment import FLOW_TIMEOUT_SECONDS, require_source, summary_table, year_slot
from flows.progress import Mode, Progress
from nianbao import __version__
from nianbao.batch.plan import assign_years, drop_duplicates, summarize, summary_markdown
from nianbao.ingest.sources import SourceItem, expand_sources
from nianbao.location import is_remote
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
from nianbao.publish.parquet import published_years
from nianbao.results import ReportResult
from nianbao.settings import Settings, load_settings
from schemas import DATASET_NAMES
from tasks import cancel
from tasks.report_tasks import Ingested, ReportOutcome, bi_outputs, ingest, process_report, publish, unfetched_result

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
TIMEZONE = "Asia/Shanghai"


def previous_year(tz: str = TIMEZONE) -> int:
    """The year before today's in ``tz`` (reports on year Y are due by 31 January of Y+1)."""
    return datetime.now(ZoneInfo(tz)).year - 1


def _task_runner(settings: Settings) -> Any:
    if settings.task_runner == "processes":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=settings.max_workers)
    if settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": settings.max_workers, "threads_per_worker": 1,
                                              "processes": True, "dashboard_address": None})
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=settings.max_workers)


def _batch_run_name() -> str:
    year = flow_run.parameters.get("year")
    return f"batch-{year if year is not None else 'all'}"


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


def _label(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1][:80]


def _as_completed(futures: list[Any], poll: float = 0.5) -> Iterator[Any]:
    """The futures as they finish, waking every ``poll`` seconds to check for a cancel. The kernel hands a
    signal to any thread and Python runs the handler only when the main thread runs again: a wait without
    a timeout would leave Ctrl-C unseen for as long as a report parses."""
    finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for f in futures:
        f.add_done_callback(finished.put)
    for _ in futures:
        while True:
            try:
                yield finished.get(timeout=poll)
                break
            except queue.Empty:
                cancel.check()


def _lost(item: SourceItem, exc: BaseException) -> ReportOutcome:
    """The outcome of a report whose task itself failed (its worker died, say): a failed result."""
    ing = Ingested(item, None, 0, None, "failed", error="crashed",
                   error_message=f"the task processing this report failed: {type(exc).__name__}: {exc}")
    return ReportOutcome(unfetched_result(ing), ing)


def _progress_line(outcome: ReportOutcome) -> str:
    r = outcome.result
    return (f"{r.source_uri.rsplit('/', 1)[-1]}: {r.status}{f' ({r.error})' if r.error else ''}, "
            f"{len(r.cells)} cells, {len(r.problems)} issues"
            + (" — cached" if outcome.cache_hit else f", {r.seconds:.2f} s"))


def _input_record(o: ReportOutcome, year_of: dict[str, int]) -> dict[str, Any]:
    r, ing = o.result, o.ingested
    return {"uri": ing.item.uri, "sha256": ing.sha256, "size": ing.size if ing.sha256 else None,
            "report_id": r.report_id, "obtained": ing.how, "download_attempts": ing.attempts,
            "cache_hit": o.cache_hit, "status": r.status, "error": r.error, "error_message": r.error_message,
            "detected_year": r.report_year,
            "partition_year": year_of.get(r.report_id), "agency": r.agency or ing.item.agency,
            "source_format": r.source_format, "parse_seconds": round(r.seconds, 3),
            "ingest_seconds": round(ing.seconds, 3), "worker": o.worker}


def _issue_rows(results: list[ReportResult], limit: int = 1000) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        for p in r.problems:
            rows.append({"report": r.source_uri.rsplit("/", 1)[-1], "report_id": r.report_id[:12],
                         "check": p.check, "severity": p.severity, "table": p.table or "", "key1": p.key1 or "",
                         "key2": p.key2 or "", "expected": p.expected or "", "actual": p.actual or "",
                         "message": p.message})
            if len(rows) >= limit:
                return rows
    return rows


def _artifacts(tag: str, summary: dict[str, Any], results: list[ReportResult], out_dir: str,
               manifest: str, events: str) -> None:
    create_markdown_artifact(markdown=summary_markdown(summary, results), key=f"batch-summary-{tag}",
                             description="nianbao batch summary")
    create_table_artifact(table=summary_table(summary), key=f"batch-summary-table-{tag}",
                          description=f"nianbao batch {summary['batch_id']}: outcome in figures")
    issues = _issue_rows(results)
    create_table_artifact(table=issues or [{"check": "none", "message": "no validation issues"}],
                          key=f"validation-issues-{tag}",
                          description=f"validation issues of batch {summary['batch_id']} "
                                      f"({sum(1 for r in results for _ in r.problems)} in total; first 1000 shown)")
    remote = is_remote(out_dir)

    def link(location: str) -> str:
        return location if "://" in location else Path(location).resolve().as_uri()

    base = out_dir.rstrip("/") if remote else str(Path(out_dir).resolve())
    for name in DATASET_NAMES:
        create_link_artifact(link=link(f"{base}/{name}"), link_text=f"{name} (Parquet, by report_year)",
                             key=f"output-{name.replace('_', '-')}-{tag}", description=f"published dataset {name}")
    create_link_artifact(link=link(manifest), link_text=manifest.rsplit("/", 1)[-1], key=f"manifest-{tag}",
                         description="batch manifest: inputs, outputs, hashes, versions, timings")
    create_link_artifact(link=link(events), link_text="OpenLineage events", key=f"lineage-{tag}",
                         description="OpenLineage run events (JSON lines)")


@flow(name="annual-batch", flow_run_name=_batch_run_name, log_prints=True)
def annual_batch(sources: list[str] | None = None, year: int | None = None, out: str | None = None,
                 settings: dict[str, Any] | None = None, progress: Mode = "off") -> dict[str, Any]:
    """Process one batch: per report ingest → process (cached, or parsed in isolation), then publish.

    ``sources`` are files, folders (``<inbox>/<year>/...``) or manifests (default: the bundled
    samples); ``year`` the year reported on (None: every report under its own year); ``out`` the
    output root; ``progress`` how finished reports are shown on stderr (``bar``, ``lines``, ``off``).
    Writes ``<out>/_manifests/<batch_id>.json`` and OpenLineage events. Raises ``tasks.cancel.Cancelled``
    (nothing published) when the batch is cancelled by Ctrl-C / SIGTERM before its publish.
    """
    cfg = load_settings(**(settings or {}))
    if out:
        cfg = cfg.with_overrides(out_dir=out)
    logger = get_run_logger()
    started_at, t0 = now_iso(), time.perf_counter()
    tag = str(year) if year is not None else "all"
    batch_id = f"{tag}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    run_id = str(flow_run.id) if flow_run.id else None
    ol_run = run_id_for(run_id)
    parent = _parent()
    engine = _prefect_version()

    def lineage_event(state: str, **kw: Any) -> None:
        for problem in emit(cfg, run_event(state, run_id=ol_run, event_time=now_iso(), out_dir=cfg.out_dir,
                                           parent=parent, engine_version=engine, **kw)):
            logger.warning("lineage: %s", problem)

    outcomes: list[ReportOutcome] = []
    timings: dict[str, float] = {}
    try:
        walked = expand_sources(sources or [str(SAMPLES)], year)
        # Another year's folder of an inbox belongs to that year's batch: listed in the manifest and the
        # summary, not as rows of this year's reports.
        other_years = [it for it in walked if it.skip == "other_year_folder"]
        items = [it for it in walked if it.skip != "other_year_folder"]
        logger.info("batch %s: %d inputs, output %s, runner %s", batch_id, len(items), cfg.out_dir, cfg.task_runner)
        lineage_event("START", inputs=[{"uri": it.uri, "report_id": it.uri} for it in items])
        cancel.check()
        finals = {process_report.submit(ingest.submit(item, cfg), cfg, year, _label(item.uri)): item
                  for item in items}
        bar = Progress(progress if cfg.progress else "off", len(items))
        try:
            for fut in _as_completed(list(finals)):
                try:
                    outcome: ReportOutcome = fut.result()
                except Exception as exc:
                    logger.error("%s: the task failed: %s: %s", finals[fut].uri, type(exc).__name__, exc)
                    outcome = _lost(finals[fut], exc)
                outcomes.append(outcome)
                line = _progress_line(outcome)
                logger.info("[%d/%d] %s", len(outcomes), len(items), line)
                bar.advance(line)  # stderr, not print(): log_prints would turn it into a log record
                cancel.check()  # Ctrl-C / SIGTERM: stop before anything is published
        finally:
            bar.close()
        timings["reports_seconds"] = time.perf_counter() - t0
        order = {it.uri: k for k, it in enumerate(items)}
        outcomes.sort(key=lambda o: order.get(o.ingested.item.uri, 0))
        results = drop_duplicates([o.result for o in outcomes])
        # One report, one year: a readable report already published under another year is held back.
        plan = assign_years(results, year, published_years(cfg.out_dir, [r.report_id for r in results
                                                                          if r.status in ("ok", "partial")], cfg))
        if plan.held_back:
            logger.warning("%d reports held back (not published): %s", len(plan.held_back), ", ".join(
                f"{r.source_uri.rsplit('/', 1)[-1]} ({r.error})" for r in results if r.report_id in plan.held_back))
        t_pub = time.perf_counter()
        cancel.check()
        with cancel.critical():  # one atomic commit: a cancel arriving now lets it finish
            files = publish(quote(results), plan.year_of, plan.years, cfg.out_dir, batch_id, run_id,
                            {"batch_id": batch_id, "parser_version": nianbao.PARSER_VERSION,
                             "code_version": __version__}, cfg)
        timings["publish_seconds"] = time.perf_counter() - t_pub
        t_bi = time.perf_counter()
        if cfg.out_is_remote:
            # The DuckDB catalog and the quality report are local files built over the local output.
            logger.info("object store output: cross-year checks, DuckDB catalog and quality report skipped "
                        "(they need a local output folder; see docs/bi.md)")
            bi: dict[str, Any] = {}
        else:
            bi = _bi_outputs(cfg.out_dir, batch_id, run_id, logger)
        timings["bi_seconds"] = time.perf_counter() - t_bi
    except BaseException as exc:
        if not isinstance(exc, Exception):  # SIGTERM (Prefect's TerminationSignal), KeyboardInterrupt
            cancel.request(type(exc).__name__)  # kill the parsing children: the task runner can shut down
        timings["total_seconds"] = time.perf_counter() - t0
        msg = f"{type(exc).__name__}: {exc}"
        try:
            write_manifest(cfg.out_dir, settings=cfg, manifest=build_manifest(
                batch_id=batch_id, flow_run_id=run_id, openlineage_run_id=ol_run, year=year, years=[],
                inputs=[_input_record(o, {}) for o in outcomes], outputs=[], started_at=started_at,
                finished_at=now_iso(), timings=timings, settings=cfg, status="failed",
                parent_flow_run_id=parent and parent["run_id"], error=msg))
        except Exception as mexc:
            logger.error("could not write the failed batch's manifest: %s", mexc)
        lineage_event("FAIL", inputs=[_input_record(o, {}) for o in outcomes], error=msg,
                      stack=traceback.format_exc(limit=20))
        try:  # the Prefect UI shows the outcome of a failed run too
            create_markdown_artifact(markdown=f"# nianbao batch {batch_id} failed\n\n{msg}\n\nNothing of this "
                                     "batch was published unless the log says so; the previous data is unchanged.",
                                     key=f"batch-summary-{tag}", description="nianbao batch summary (failed)")
        except Exception as aexc:
            logger.error("could not record the failure artifact: %s", aexc)
        raise
    timings["total_seconds"] = time.perf_counter() - t0
    inputs = [_input_record(o, plan.year_of) for o in outcomes]
    first_uri: dict[str, str] = {}
    for rec in inputs:
        if rec["report_id"] in first_uri:
            rec["duplicate_of"] = first_uri[rec["report_id"]]  # same bytes: processed and published once
        first_uri.setdefault(rec["report_id"], rec["uri"])
    outputs = [{k: f[k] for k in ("dataset", "report_year", "path", "rows", "bytes", "sha256", "inputs")}
               for f in files]
    manifest = build_manifest(batch_id=batch_id, flow_run_id=run_id, openlineage_run_id=ol_run, year=year,
                              years=plan.years, inputs=inputs, outputs=outputs, started_at=started_at,
                              finished_at=now_iso(), timings=timings, settings=cfg,
                              parent_flow_run_id=parent and parent["run_id"],
                              extra={"not_read": [{"uri": it.uri, "reason": it.skip, "message": it.note}
                                                  for it in other_years]})
    manifest_file = write_manifest(cfg.out_dir, manifest, cfg)
    lineage_event("COMPLETE", inputs=inputs, outputs=outputs)
    events_copy = _copy_events(cfg, batch_id, ol_run, logger)
    summary = summarize(results, cfg.out_dir if cfg.out_is_remote else str(Path(cfg.out_dir).resolve()),
                        time.perf_counter() - t0, plan.years)
    summary.update(batch_id=batch_id, files=len(files), manifest=manifest_file,
                   lineage=events_copy or str(lineage_file(cfg)), cache=manifest["cache"], flow_run_id=run_id,
                   catalog=bi.get("catalog"), quality_report=bi.get("quality_report"),
                   crossyear_issues=bi.get("crossyear_issue_count"), bi_error=bi.get("bi_error"),
                   not_read=[it.uri for it in other_years], **_accounting(results, set(plan.held_back)))
    _artifacts(tag, summary, results, cfg.out_dir, manifest_file, summary["lineage"])
    if bi.get("quality_report"):
        create_link_artifact(link=Path(bi["quality_report"]).as_uri(), link_text="quality report (HTML)",
                             key=f"quality-report-{tag}", description="batch quality report")
    logger.info("summary: %s", {k: v for k, v in summary.items() if k != "issues"})
    return summary


def _accounting(results: list[ReportResult], held_ids: set[str]) -> dict[str, Any]:
    """What the summary must say about inputs that were not published: skipped files (with their
    reasons), reports held back (another year, unknown year: in no partition) and failed ones."""
    skipped = [{"uri": r.source_uri, "reason": r.error or "skipped", "message": r.error_message or ""}
               for r in results if r.status == "skipped"]
    held = [r.source_uri for r in results if r.report_id in held_ids and r.status != "skipped"]
    failed = [r.source_uri for r in results if r.status == "failed" and r.report_id not in held_ids]
    return {"skipped": skipped, "held_back": held, "failed": failed}


def _bi_outputs(out_dir: str, batch_id: str, run_id: str | None, logger: Any) -> dict[str, Any]:
    """The catalog, cross-year checks and quality report, after a publish that has already committed:
    their failure (another run exchanging a partition while the catalog reads it, say) must not turn a
    completed publish into a failed run. One retry, then a warning the summary repeats."""
    for attempt in (1, 2):
        try:
            info: dict[str, Any] = bi_outputs(out_dir, batch_id, run_id)
            return info
        except Exception as exc:
            if attempt == 2:
                logger.warning("catalog / quality report not rebuilt: %s: %s", type(exc).__name__, exc)
                return {"bi_error": f"{type(exc).__name__}: {exc}"}
            time.sleep(1.0)
    return {}


def _copy_events(cfg: Settings, batch_id: str, ol_run: str, logger: Any) -> str | None:
    try:
        return copy_events_to_output(cfg, batch_id, ol_run)
    except Exception as exc:  # lineage must never sink a batch that has already published
        logger.warning("lineage: could not copy the events next to the output: %s", exc)
        return None


def _prefect_version() -> str:
    import prefect

    return str(prefect.__version__)


def _year_run_name() -> str:
    year = flow_run.parameters.get("year")
    return f"year-{year if year is not None else previous_year()}"


@flow(name="nianbao-year", flow_run_name=_year_run_name, timeout_seconds=FLOW_TIMEOUT_SECONDS)
def year_batch(source: str | list[str], year: int | None = None, out: str | None = None,
               settings: dict[str, Any] | None = None, progress: Mode = "off") -> dict[str, Any]:
    """The yearly batch (deployment ``annual-batch``): ``source`` (required) is the inbox folder
    (``<inbox>/<year>/...``), a manifest, or a list of them; ``year`` defaults to the previous year in
    Asia/Shanghai; ``out`` the output root. Runs ``annual-batch`` as a subflow on the task runner named in the
    settings, holding the year's concurrency slot (one run per year at a time)."""
    sources = require_source(source)
    y = year if year is not None else previous_year()
    cfg = load_settings(**(settings or {}))
    get_run_logger().info("year %d from %s into %s (%s runner)", y, sources, out or cfg.out_dir, cfg.task_runner)
    batch = annual_batch.with_options(task_runner=_task_runner(cfg))
    with year_slot(y):
        result: dict[str, Any] = batch(sources=sources, year=y, out=out, settings=settings, progress=progress)
    return result


if __name__ == "__main__":
    print(annual_batch(sources=sys.argv[1:] or None))

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
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from flows.batchrun import BatchRun
from flows.deployment import FLOW_TIMEOUT_SECONDS, require_source, year_slot
from flows.progress import Mode, Progress
from flows.runners import task_runner
from nianbao.bi.catalog import CATALOG_FILE
from nianbao.bi.quality_report import REPORT_FILE
from nianbao.ingest.sources import expand_sources
from nianbao.publish.contract import READABLE
from nianbao.publish.parquet import published_years
from nianbao.publish.staged import Published
from nianbao.runtime import cancel
from nianbao.runtime.batch import lost_chunk, plan_batch, progress_line
from nianbao.runtime.chunk import Chunk, ReportRecord, load_records, plan_chunks, prune_staging
from nianbao.settings import Settings, load_settings
from tasks.report_tasks import bi_outputs, process_chunk, publish

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
TIMEZONE = "Asia/Shanghai"


def previous_year(tz: str = TIMEZONE) -> int:
    """The year before today's in ``tz`` (reports on year Y are due by 31 January of Y+1)."""
    return datetime.now(ZoneInfo(tz)).year - 1


def _batch_run_name() -> str:
    year = flow_run.parameters.get("year")
    return f"batch-{year if year is not None else 'all'}"


def _as_completed(futures: list[Any], poll: float = 0.5) -> Iterator[Any]:
    """The futures as they finish, waking every ``poll`` seconds to check for a cancel. The kernel hands a
    signal to any thread and Python runs the handler only when the main thread runs again: a wait without
    a timeout would leave Ctrl-C unseen for as long as a chunk parses."""
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


def _gather(chunks: list[Chunk], cfg: Settings, year: int | None, bar: Progress) -> list[ReportRecord]:
    """Every input's record: read back for a chunk staged by an earlier run with the same inputs, settings and
    code (no task submitted), else from its ``process-chunk`` task; a chunk whose task failed is recorded failed."""
    logger = get_run_logger()
    records: list[ReportRecord] = []

    def done(recs: list[ReportRecord], chunk: Chunk | None = None) -> None:
        records.extend(recs)
        if chunk is None:
            for rec in recs:
                bar.advance(progress_line(rec))  # stderr, not print(): log_prints would make each a log record
        elif recs:  # read back whole: one line, not one per report (a rerun of a year)
            bar.advance(f"chunk {chunk.key}: {len(recs)} reports unchanged since an earlier run, read back — cached",
                        len(recs))
        cancel.check()  # Ctrl-C / SIGTERM: stop before anything is published

    try:
        reused = [c for c in chunks if c.done]
        if reused:
            logger.info("%d of %d chunks unchanged since an earlier run: read back, not processed again",
                        len(reused), len(chunks))
        for c in reused:
            done(load_records(c), c)
        pending = {process_chunk.submit(c, cfg, year): c for c in chunks if not c.done}
        for fut in _as_completed(list(pending)):
            try:
                recs = fut.result()
            except Exception as exc:
                logger.error("chunk %s: the task failed: %s: %s", pending[fut].key, type(exc).__name__, exc)
                recs = lost_chunk(pending[fut], exc, cfg, year)
            logger.info("[%d/%d] chunk %s: %d reports", len(records) + len(recs), bar.total, pending[fut].key,
                        len(recs))
            done(recs)
    finally:
        bar.close()
    return records


def _bi(cfg: Settings, run: BatchRun, published: Published) -> dict[str, Any]:
    """The catalog, cross-year checks and quality report after a publish that has committed (kept as they
    are when nothing was republished). Their failure must not turn a completed publish into a failed run:
    one retry, then a warning the summary repeats."""
    out = Path(cfg.out_dir)
    if cfg.out_is_remote:  # they are local files built over a local output
        get_run_logger().info("object store output: cross-year checks, DuckDB catalog and quality report skipped "
                              "(they need a local output folder; see docs/bi.md)")
        return {}
    if not published.files and (out / CATALOG_FILE).exists():
        return {"catalog": str((out / CATALOG_FILE).resolve()), "quality_report": str((out / REPORT_FILE).resolve())}
    for attempt in (1, 2):
        try:
            info: dict[str, Any] = bi_outputs(cfg.out_dir, run.batch_id, run.flow_run_id,
                                              sorted({f["report_year"] for f in published.files}))
            return info
        except Exception as exc:
            if attempt == 2:
                get_run_logger().warning("catalog / quality report not rebuilt: %s: %s", type(exc).__name__, exc)
                return {"bi_error": f"{type(exc).__name__}: {exc}"}
            time.sleep(1.0)
    return {}


@flow(name="annual-batch", flow_run_name=_batch_run_name, log_prints=True)
def annual_batch(sources: list[str] | None = None, year: int | None = None, out: str | None = None,
                 settings: dict[str, Any] | None = None, progress: Mode = "off") -> dict[str, Any]:
    """Process one batch: its inputs in chunks (read back when unchanged), then publish the changed years.

    ``sources`` are files, folders (``<inbox>/<year>/...``) or manifests (default: the bundled samples);
    ``year`` the year reported on (None: every report under its own year); ``out`` the output root;
    ``progress`` how finished reports are shown on stderr (``bar``, ``lines``, ``off``). Writes
    ``<out>/_manifests/<batch_id>.json`` and OpenLineage events. Raises ``nianbao.runtime.cancel.Cancelled``
    (nothing published) when the batch is cancelled by Ctrl-C / SIGTERM before its publish."""
    cfg = load_settings(**(settings or {})).with_overrides(**({"out_dir": out} if out else {}))
    run = BatchRun.start(cfg, year)
    try:
        walked = expand_sources(sources or [str(SAMPLES)], year)
        not_read = [it for it in walked if it.skip == "other_year_folder"]  # that year's batch reads them
        items = [it for it in walked if it.skip != "other_year_folder"]
        run.begin(items)
        chunks = plan_chunks(items, cfg, year)
        run.records = _gather(chunks, cfg, year, Progress(progress if cfg.progress else "off", len(items)))
        t = run.mark("reports_seconds", run.t0)
        readable = [r.result.report_id for r in run.records if r.result.status in READABLE]
        batch = plan_batch(run.records, chunks, year, published_years(cfg.out_dir, readable, cfg))
        if batch.plan.held_back:
            get_run_logger().warning("%d reports held back (not published): %s", len(batch.plan.held_back),
                                     ", ".join(f"{r.source_uri.rsplit('/', 1)[-1]} ({r.error})" for r in batch.results
                                               if r.report_id in batch.plan.held_back))
        cancel.check()
        with cancel.critical():  # one atomic commit: a cancel arriving now lets it finish
            published = publish(quote(batch), cfg, run.batch_id, run.flow_run_id)  # quote: not walked for futures
        t = run.mark("publish_seconds", t)
        bi = _bi(cfg, run, published)
        run.mark("bi_seconds", t)
    except BaseException as exc:
        if not isinstance(exc, Exception):  # SIGTERM (Prefect's TerminationSignal), KeyboardInterrupt
            cancel.request(type(exc).__name__)  # kill the parsing children: the task runner can shut down
        run.failed(exc)
        raise
    prune_staging(cfg, year, {c.key for c in chunks})
    return run.finish(batch, published, bi, not_read)


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
    batch = annual_batch.with_options(task_runner=task_runner(cfg))
    with year_slot(y):
        result: dict[str, Any] = batch(sources=sources, year=y, out=out, settings=settings, progress=progress)
    return result


if __name__ == "__main__":
    print(annual_batch(sources=sys.argv[1:] or None))

"""The annual batch flow: one run per year's batch of reports."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.futures import as_completed
from prefect.runtime import flow_run

from nianbao import PARSER_VERSION, __version__
from nianbao.batch import assign_years, drop_duplicates, summarize, summary_markdown
from nianbao.pipeline import ReportResult
from nianbao.settings import Settings, load_settings
from nianbao.sources import expand_sources
from tasks.report_tasks import extract, ingest, parse, publish, validate

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


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


@flow(name="annual-batch", flow_run_name="batch-{year}", log_prints=True)
def annual_batch(sources: list[str] | None = None, year: int | None = None, out: str | None = None,
                 settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Process one year's batch: ingest → parse/segment → extract → validate per report, then publish.

    ``sources`` are files, folders or manifests (default: the bundled samples); ``year`` the year
    reported on (None: every report under its own year); ``out`` the output root.
    """
    cfg = load_settings(**(settings or {}))
    if out:
        cfg = cfg.with_overrides(out_dir=out)
    logger = get_run_logger()
    started = time.perf_counter()
    items = expand_sources(sources or [str(SAMPLES)], year)
    batch_id = f"{year or 'all'}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    logger.info("batch %s: %d inputs, output %s", batch_id, len(items), cfg.out_dir)
    finals = []
    for item in items:
        ing = ingest.submit(item, cfg)
        par = parse.submit(ing, cfg)
        ext = extract.submit(par)
        finals.append(validate.submit(ext))
    results: list[ReportResult] = []
    for i, fut in enumerate(as_completed(finals), 1):
        res: ReportResult = fut.result()
        results.append(res)
        logger.info("[%d/%d] %s: %s%s, %d cells, %d issues", i, len(items), res.source_uri.rsplit("/", 1)[-1],
                    res.status, f" ({res.error})" if res.error else "", len(res.cells), len(res.problems))
    order = {it.uri: k for k, it in enumerate(items)}
    results.sort(key=lambda r: order.get(r.source_uri, 0))
    results = drop_duplicates(results)
    plan = assign_years(results, year)
    run_id = str(flow_run.id) if flow_run.id else None
    files = publish(results, plan.year_of, plan.years, cfg.out_dir, batch_id, run_id,
                    {"batch_id": batch_id, "parser_version": PARSER_VERSION, "code_version": __version__})
    summary = summarize(results, str(Path(cfg.out_dir).resolve()), time.perf_counter() - started, plan.years)
    summary["batch_id"] = batch_id
    summary["files"] = len(files)
    md = summary_markdown(summary, results)
    create_markdown_artifact(markdown=md, key=f"batch-summary-{year or 'all'}", description="nianbao batch summary")
    logger.info("summary: %s", {k: v for k, v in summary.items() if k != "issues"})
    return summary

"""Per-report and per-batch Prefect tasks. Each wraps the pure core and never raises for a bad input:
a report that cannot be fetched, read, parsed in time or at all comes back as a ``failed`` result,
so the batch goes on.

* ``ingest``: local file → its sha256 and size; http(s) → downloaded into the content-addressed
  cache (retries on transient faults only, see ``nianbao.ingest.fetch``). Only paths travel between tasks,
  never the bytes, so a Dask or process runner ships little.
* ``process_report``: the report's result from the result cache (same bytes, year and parser
  version), else parsed in an isolated child process cut off after ``report_timeout_seconds``.
* ``publish``: build, validate and atomically write the partitions (local folder or object store);
  hash every file written.

Retries: the tasks that touch the file system or the network (``ingest``, ``publish``, ``bi_outputs``)
are retried with exponential backoff and jitter (``RETRY_DELAYS``), and only on an ``OSError``; a
download has its own retries on transient faults. ``process_report`` is never retried: parsing is
deterministic, and a report that fails to parse fails the same way again.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run
from prefect.tasks import exponential_backoff

import nianbao
from nianbao.batch.cache import ResultCache, cache_root, cacheable, rebind, result_key
from nianbao.ingest import sources
from nianbao.ingest.local import NotRegularFileError, copy_once, discard
from nianbao.ingest.sources import SourceItem
from nianbao.ingest.walk import decide
from nianbao.location import is_remote
from nianbao.publish.objectstore import open_store
from nianbao.publish.parquet import Lineage, build_frames, validate_frames, write_partitions, write_partitions_to_store
from nianbao.results import ReportResult
from nianbao.settings import Settings
from tasks import cancel
from tasks.isolation import process_isolated


@dataclass(frozen=True)
class Ingested:
    """An input after ingest: where its bytes are (or why there are none)."""

    item: SourceItem
    sha256: str | None
    size: int
    path: str | None
    how: str  # local | network | cache | failed | skipped
    attempts: int = 0
    error: str | None = None
    error_message: str | None = None
    seconds: float = 0.0
    private_copy: bool = False  # ``path`` is this input's private copy (removed once processed)


@dataclass
class ReportOutcome:
    """What ``process_report`` returns: the result, the ingest record, and whether the cache served it."""

    result: ReportResult
    ingested: Ingested
    cache_hit: bool = False
    worker: str = ""  # host:pid of the process that ran the task (a Dask worker, a pool process, the flow)


def _name(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1][:80] or uri[:80]


def _ingest_run_name() -> str:
    from prefect.runtime import task_run

    item = task_run.parameters.get("item")
    return f"ingest-{_name(item.uri)}" if item is not None else "ingest"


def _process_run_name() -> str:
    from prefect.runtime import task_run

    label = task_run.parameters.get("label")  # the input is still a future when the name is made
    return f"process-{label}" if label else "process-report"


def ingest_tmp(settings: Settings) -> Path:
    """Where the private copies of local inputs are made (beside the download cache)."""
    return cache_root(settings) / "tmp" / "ingest"


def ingest_item(item: SourceItem, settings: Settings, logger: Any = None) -> Ingested:
    """Given an input, return where its bytes are: a private copy of a local file (read once, hashed while
    copied: the bytes parsed are the bytes hashed), or the download cache. Skipped entries of a folder walk
    (FIFOs, loops, hidden names ...) and files whose bytes are not a report format come back ``skipped``."""
    started = time.perf_counter()

    def skipped(code: str, reason: str) -> Ingested:
        return Ingested(item, None, 0, None, "skipped", 0, code, reason, time.perf_counter() - started)

    if item.skip is not None:
        return skipped(item.skip, item.note or item.skip)
    try:
        sources.check_item(item)  # refused manifest entries are never read
        if item.uri.startswith(("http://", "https://")):
            from nianbao.ingest.fetch import fetch_to_store

            def on_retry(attempt: int, reason: str, delay: float) -> None:
                if logger is not None:
                    logger.warning("download %s: attempt %d failed (%s); retrying in %.1f s", item.uri, attempt,
                                   reason, delay)

            got = fetch_to_store(item.uri, settings, on_retry=on_retry)
            return Ingested(item, got.sha256, got.size, got.path, "cache" if got.from_cache else "network",
                            got.attempts, seconds=time.perf_counter() - started)
        tmp = ingest_tmp(settings)
        copy = copy_once(item.uri.removeprefix("file://"), settings.max_file_bytes, tmp)
        if item.sniff:
            verdict = decide(item, Path(copy.path).read_bytes())
            if verdict is not None:
                discard(copy.path, tmp)
                return skipped(*verdict)
        return Ingested(item, copy.sha256, copy.size, copy.path, "local", seconds=time.perf_counter() - started,
                        private_copy=True)
    except NotRegularFileError as exc:
        return skipped(exc.code, str(exc))
    except Exception as exc:
        if isinstance(exc, FileNotFoundError):
            code = "not_found"
        else:
            code = getattr(exc, "code", None) or ("read_failed" if isinstance(exc, OSError) else "fetch_failed")
        return Ingested(item, None, 0, None, "failed", int(getattr(exc, "attempts", 0) or 0), code,
                        f"{exc}", time.perf_counter() - started)


def unfetched_result(ing: Ingested) -> ReportResult:
    """The result of an input whose bytes were not obtained: ``failed`` (could not be fetched or read) or
    ``skipped`` (not read on purpose, with the reason); its id derives from the URI."""
    if ing.how == "skipped":
        return ReportResult(report_id=hashlib.sha256(f"skipped:{ing.item.uri}".encode()).hexdigest(),
                            source_uri=ing.item.uri, source_format=None, source_bytes=0, status="skipped",
                            error=ing.error or "unreadable", error_message=ing.error_message, seconds=ing.seconds)
    return ReportResult(report_id=hashlib.sha256(f"unfetched:{ing.item.uri}".encode()).hexdigest(),
                        source_uri=ing.item.uri, source_format=None, source_bytes=0, status="failed",
                        error=ing.error or "fetch_failed", error_message=ing.error_message, seconds=ing.seconds)


def process_ingested(ing: Ingested, settings: Settings, year: int | None, logger: Any = None) -> ReportOutcome:
    """Given an ingested input, return its outcome: from the result cache, else parsed in isolation."""
    try:
        if cancel.requested():  # Ctrl-C / SIGTERM: start no new parse (the batch publishes nothing)
            return ReportOutcome(unfetched_result(Ingested(ing.item, None, 0, None, "failed", error="cancelled",
                                                           error_message="the batch was cancelled")), ing)
        outcome = _process(ing, settings, year, logger)
    finally:
        if ing.private_copy:
            discard(ing.path, ingest_tmp(settings))
    outcome.worker = f"{socket.gethostname()}:{os.getpid()}"
    return outcome


def _process(ing: Ingested, settings: Settings, year: int | None, logger: Any) -> ReportOutcome:
    if ing.sha256 is None or ing.path is None:
        return ReportOutcome(unfetched_result(ing), ing)
    version = nianbao.PARSER_VERSION  # read at call time: a bump invalidates every cached result
    cache = ResultCache.for_settings(settings)
    key = result_key(ing.sha256, year, version)
    cached = cache.get(key, version)
    if cached is not None:
        if logger is not None:
            logger.info("cache hit for %s (sha256 %s…, year %s, %s): not parsed again", ing.item.uri,
                        ing.sha256[:12], year, version)
        return ReportOutcome(rebind(cached, ing.item.uri), ing, True)
    result: ReportResult = process_isolated(ing.path, ing.item.uri, report_id=ing.sha256, size=ing.size,
                                            expected_sha256=ing.sha256,
                                            max_file_bytes=settings.max_file_bytes, max_pages=settings.max_pages,
                                            timeout=settings.report_timeout_seconds,
                                            memory_mb=settings.report_memory_mb, ocr=settings.ocr)
    if result.error in ("timeout", "crashed", "memory_limit") and logger is not None and not cancel.requested():
        logger.error("%s: %s", ing.item.uri, result.error_message)
    if cacheable(result):
        try:
            cache.put(key, version, result)
        except OSError as exc:
            if logger is not None:
                logger.warning("could not cache the result of %s: %s", ing.item.uri, exc)
    return ReportOutcome(result, ing, False)


# Three attempts, 2 s then 4 s apart (± 50 %), for a task that touches the file system or the network.
RETRIES = 3
RETRY_DELAYS = exponential_backoff(backoff_factor=2)
RETRY_JITTER = 0.5


class TransientReadError(OSError):
    """Reading a local input failed with an I/O error that may pass (a network file system, a busy disk)."""


def is_os_error(state: Any) -> bool:
    """Retry condition: the task failed with an ``OSError`` (never bad data, never a parse failure)."""
    try:
        state.result()
    except OSError:
        return True
    except Exception:
        return False
    return False


@task(name="ingest", cache_policy=NO_CACHE, persist_result=False, task_run_name=_ingest_run_name,
      retries=RETRIES - 1, retry_delay_seconds=RETRY_DELAYS, retry_jitter_factor=RETRY_JITTER,
      retry_condition_fn=lambda t, r, s: is_os_error(s))
def ingest(item: SourceItem, settings: Settings) -> Ingested:
    """Locate or download one input's bytes; never raises for a bad input. A local read that failed with an
    I/O error is raised for a retry while attempts remain, then comes back as ``failed`` / ``read_failed``."""
    ing = ingest_item(item, settings, get_run_logger())
    if ing.error == "read_failed" and task_run.run_count < RETRIES:
        raise TransientReadError(f"{item.uri}: {ing.error_message} (attempt {task_run.run_count} of {RETRIES})")
    return ing


@task(name="process-report", cache_policy=NO_CACHE, persist_result=False, task_run_name=_process_run_name,
      retries=0)
def process_report(ingested: Ingested, settings: Settings, year: int | None, label: str = "") -> ReportOutcome:
    """Parse one report (or reuse its cached result); never raises for a bad input. ``label``: the run name."""
    return process_ingested(ingested, settings, year, get_run_logger())


def publish_batch(results: list[ReportResult], year_of: dict[str, int], years: list[int], out_dir: str,
                  batch_id: str, flow_run_id: str | None, metadata: dict[str, str],
                  settings: Settings | None = None) -> list[dict[str, Any]]:
    """Build, validate and write the partitions (a local folder, or an object store such as ``s3://``);
    return the files with their sha256 and the inputs of each."""
    lineage = Lineage(batch_id, flow_run_id)
    frames = validate_frames(build_frames(results, year_of, lineage), lineage,
                             results[0].parser_version if results else nianbao.PARSER_VERSION)
    if is_remote(out_dir):
        files = write_partitions_to_store(frames, open_store(out_dir, settings), years, batch_id, metadata,
                                          allow_shrink=bool(settings and settings.allow_shrink))
    else:
        files = write_partitions(frames, Path(out_dir), years, batch_id, metadata,
                                 lock_timeout=settings.publish_lock_timeout_seconds if settings else 0.0,
                                 allow_shrink=bool(settings and settings.allow_shrink))
    inputs_of: dict[int, list[str]] = {}
    for report_id, y in year_of.items():
        inputs_of.setdefault(y, []).append(report_id)
    for f in files:
        f["inputs"] = sorted(inputs_of.get(f["report_year"], []))
    return files


@task(name="publish", cache_policy=NO_CACHE, persist_result=False, retries=RETRIES - 1,
      retry_delay_seconds=RETRY_DELAYS, retry_jitter_factor=RETRY_JITTER, retry_condition_fn=lambda t, r, s: is_os_error(s))
def publish(results: list[ReportResult], year_of: dict[str, int], years: list[int], out_dir: str, batch_id: str,
            flow_run_id: str | None, metadata: dict[str, str], settings: Settings | None = None
            ) -> list[dict[str, Any]]:
    """Build, validate and atomically write the year partitions; retried only on I/O errors (a full
    disk, an object store that stays unreachable after its own retries), never on bad data."""
    files = publish_batch(results, year_of, years, out_dir, batch_id, flow_run_id, metadata, settings)
    get_run_logger().info("published %d files for years %s under %s", len(files), years, out_dir)
    return files


@task(name="bi-outputs", cache_policy=NO_CACHE, persist_result=False, retries=RETRIES - 1,
      retry_delay_seconds=RETRY_DELAYS, retry_jitter_factor=RETRY_JITTER, retry_condition_fn=lambda t, r, s: is_os_error(s))
def bi_outputs(out_dir: str, batch_id: str, flow_run_id: str | None) -> dict[str, Any]:
    """After a publish: cross-year checks over everything published, the DuckDB catalog and the quality report."""
    from nianbao.bi import post_publish

    info = post_publish(out_dir, batch_id=batch_id, flow_run_id=flow_run_id)
    get_run_logger().info("catalog %s, quality report %s, %d cross-year issues", info["catalog"],
                          info["quality_report"], info["crossyear_issue_count"])
    return info

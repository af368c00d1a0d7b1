"""Per-report and per-year Prefect tasks. Each calls one step of the core and never raises for
bad input: a failed step returns a result marked ``failed`` so the batch goes on."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from nianbao.identities import Key  # noqa: F401 - re-exported for type readers
from nianbao.mapping import TableResult
from nianbao.model import Document
from nianbao.pipeline import ReportResult, extract_tables, fail, finish_report, open_report, segment_report
from nianbao.publish import Lineage, build_frames, validate_frames, write_partitions
from nianbao.segment import SectionSpan
from nianbao.settings import Settings
from nianbao.sources import SourceItem, read_local


@dataclass
class Parsed:
    """What flows from task to task for one report."""

    result: ReportResult
    document: Document | None = None
    spans: list[SectionSpan] | None = None
    tables: list[TableResult] | None = None
    started: float = 0.0


@task(name="ingest", cache_policy=NO_CACHE, persist_result=False, task_run_name="ingest-{item.uri}")
def ingest(item: SourceItem, settings: Settings) -> tuple[SourceItem, bytes | None, str | None]:
    """Fetch one input's bytes; return (item, bytes, None) or (item, None, error message)."""
    try:
        if item.uri.startswith(("http://", "https://")):
            from nianbao.fetch import fetch

            return item, fetch(item.uri, settings), None
        return item, read_local(item.uri, settings.max_file_bytes), None
    except Exception as exc:  # noqa: BLE001 - recorded as a failed report, the batch goes on
        return item, None, f"{getattr(exc, 'code', 'fetch_failed')}: {exc}"


@task(name="parse", cache_policy=NO_CACHE, persist_result=False)
def parse(ingested: tuple[SourceItem, bytes | None, str | None], settings: Settings) -> Parsed:
    """Read the bytes into the document model and segment it into sections."""
    started = time.perf_counter()
    item, data, error = ingested
    if data is None:
        result = ReportResult(report_id="", source_uri=item.uri, source_format=None, source_bytes=0,
                              status="failed", error=(error or "fetch_failed").split(":", 1)[0], error_message=error)
        import hashlib

        result.report_id = hashlib.sha256(f"unfetched:{item.uri}".encode()).hexdigest()
        return Parsed(result, started=started)
    result, doc = open_report(data, item.uri, max_file_bytes=settings.max_file_bytes, max_pages=settings.max_pages)
    if doc is None:
        return Parsed(result, started=started)
    try:
        spans = segment_report(doc, result)
    except Exception as exc:  # noqa: BLE001
        return Parsed(fail(result, exc), started=started)
    return Parsed(result, doc, spans, started=started)


@task(name="extract", cache_policy=NO_CACHE, persist_result=False)
def extract(parsed: Parsed) -> Parsed:
    """Map the section grids to the three template tables."""
    if parsed.document is None or parsed.spans is None:
        return parsed
    try:
        parsed.tables = extract_tables(parsed.document, parsed.spans)
    except Exception as exc:  # noqa: BLE001
        fail(parsed.result, exc)
        parsed.document = None
    return parsed


@task(name="validate", cache_policy=NO_CACHE, persist_result=False)
def validate(parsed: Parsed) -> ReportResult:
    """Evaluate the identities, set the status, and log one progress line."""
    result = parsed.result
    if parsed.document is not None and parsed.spans is not None and parsed.tables is not None:
        try:
            finish_report(parsed.document, parsed.spans, parsed.tables, result)
        except Exception as exc:  # noqa: BLE001
            fail(result, exc)
    result.seconds = time.perf_counter() - parsed.started if parsed.started else 0.0
    return result


@task(name="publish", cache_policy=NO_CACHE, persist_result=False, retries=2, retry_delay_seconds=[1, 5],
      retry_condition_fn=lambda t, r, s: _is_os_error(s))
def publish(results: list[ReportResult], year_of: dict[str, int], years: list[int], out_dir: str, batch_id: str,
            flow_run_id: str | None, metadata: dict[str, str]) -> list[dict[str, Any]]:
    """Build, validate and atomically write the year partitions; retried only on I/O errors."""
    lineage = Lineage(batch_id, flow_run_id)
    frames = validate_frames(build_frames(results, year_of, lineage), lineage,
                             results[0].parser_version if results else "")
    files = write_partitions(frames, Path(out_dir), years, batch_id, metadata)
    get_run_logger().info("published %d files for years %s under %s", len(files), years, out_dir)
    return files


def _is_os_error(state: Any) -> bool:
    try:
        state.result()
    except OSError:
        return True
    except Exception:  # noqa: BLE001
        return False
    return False

"""One report: ingest its bytes (a private copy of a local file, or the download cache), then its result
from the result cache or parsed in an isolated child. Never raises for a bad input: a report that cannot be
fetched, read, parsed in time or at all comes back as a ``failed`` (or ``skipped``) result.

Retries: a local read that fails with an I/O error is tried again with exponential backoff (a network file
system, a busy disk); a download has its own retries on transient faults (``nianbao.ingest.fetch``). Parsing
is never retried: it is deterministic, and a report that fails to parse fails the same way again.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nianbao
from nianbao.batch.cache import ResultCache, cache_root, cacheable, rebind, result_key
from nianbao.ingest import sources
from nianbao.ingest.local import NotRegularFileError, copy_once, discard
from nianbao.ingest.sources import SourceItem
from nianbao.ingest.walk import decide
from nianbao.results import ReportResult
from nianbao.runtime import cancel
from nianbao.runtime.isolation import process_isolated
from nianbao.settings import Settings

Log = Callable[[str], None]

# A local read failing with an I/O error: three attempts, 2 s then 4 s apart.
READ_ATTEMPTS = 3
READ_BACKOFF_SECONDS = 2.0


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
    """A processed input: the result, the ingest record, and whether the result cache served it."""

    result: ReportResult
    ingested: Ingested
    cache_hit: bool = False
    worker: str = ""  # host:pid of the process that ran it (a Dask worker, a pool process, the flow)


def ingest_tmp(settings: Settings) -> Path:
    """Where the private copies of local inputs are made (beside the download cache)."""
    return cache_root(settings) / "tmp" / "ingest"


def ingest_item(item: SourceItem, settings: Settings, log: Log | None = None) -> Ingested:
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
                if log is not None:
                    log(f"download {item.uri}: attempt {attempt} failed ({reason}); retrying in {delay:.1f} s")

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


def ingest_with_retries(item: SourceItem, settings: Settings, log: Log | None = None,
                        backoff: float = READ_BACKOFF_SECONDS) -> Ingested:
    """``ingest_item``, tried again (``READ_ATTEMPTS`` in all, exponential backoff) while a local read fails
    with an I/O error; the last attempt's outcome (``failed`` / ``read_failed``) is kept."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        ing = ingest_item(item, settings, log)
        if ing.error != "read_failed" or attempt == READ_ATTEMPTS or cancel.requested():
            return ing
        delay = backoff * 2 ** (attempt - 1)
        if log is not None:
            log(f"{item.uri}: {ing.error_message} (attempt {attempt} of {READ_ATTEMPTS}); retrying in {delay:.0f} s")
        time.sleep(delay)
    return ing


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


def process_ingested(ing: Ingested, settings: Settings, year: int | None, log: Log | None = None) -> ReportOutcome:
    """Given an ingested input, return its outcome: from the result cache, else parsed in isolation."""
    try:
        if cancel.requested():  # Ctrl-C / SIGTERM: start no new parse (the batch publishes nothing)
            return ReportOutcome(unfetched_result(Ingested(ing.item, None, 0, None, "failed", error="cancelled",
                                                           error_message="the batch was cancelled")), ing)
        outcome = _process(ing, settings, year, log)
    finally:
        if ing.private_copy:
            discard(ing.path, ingest_tmp(settings))
    outcome.worker = f"{socket.gethostname()}:{os.getpid()}"
    return outcome


def _process(ing: Ingested, settings: Settings, year: int | None, log: Log | None) -> ReportOutcome:
    if ing.sha256 is None or ing.path is None:
        return ReportOutcome(unfetched_result(ing), ing)
    version = nianbao.PARSER_VERSION  # read at call time: a bump invalidates every cached result
    cache = ResultCache.for_settings(settings)
    key = result_key(ing.sha256, year, version)
    cached = cache.get(key, version)
    if cached is not None:
        return ReportOutcome(rebind(cached, ing.item.uri), ing, True)
    result: ReportResult = process_isolated(ing.path, ing.item.uri, report_id=ing.sha256, size=ing.size,
                                            expected_sha256=ing.sha256,
                                            max_file_bytes=settings.max_file_bytes, max_pages=settings.max_pages,
                                            timeout=settings.report_timeout_seconds,
                                            memory_mb=settings.report_memory_mb, ocr=settings.ocr,
                                            pdf_text_source=settings.pdf_text_source)
    if result.error in ("timeout", "crashed", "memory_limit") and log is not None and not cancel.requested():
        log(f"{ing.item.uri}: {result.error_message}")
    if cacheable(result):
        try:
            cache.put(key, version, result)
        except OSError as exc:
            if log is not None:
                log(f"could not cache the result of {ing.item.uri}: {exc}")
    return ReportOutcome(result, ing, False)


def process_item(item: SourceItem, settings: Settings, year: int | None, log: Log | None = None) -> ReportOutcome:
    """Ingest one input, then process it: the whole per-report step of a batch."""
    return process_ingested(ingest_with_retries(item, settings, log), settings, year, log)

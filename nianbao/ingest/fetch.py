"""Downloading inputs over http(s): timeouts, a size limit, retries on transient faults only, and a
content-addressed cache so a rerun does not download again.

* **Retried** (exponential backoff with jitter, ``settings.download_retries`` times): connection
  errors and resets, timeouts (connect or a read that stalls longer than
  ``settings.download_timeout_seconds``), 5xx, 408/429 (honouring ``Retry-After``), and a body
  shorter than its ``Content-Length``.
* **Never retried**: 404/410 (``NotFoundError``), any other 4xx (``HttpStatusError``), a body larger
  than ``settings.max_file_bytes`` (``FileTooLargeError``, stopped while streaming), a URL or a
  redirect that is not http(s) or goes to a loopback, link-local or private address
  (``RefusedUrlError``, ``refused_url``; see ``nianbao.ingest.http``). Parse errors happen later and
  are never a reason to download again.
* **Deadlines**: ``download_connect_timeout_seconds`` per connection, ``download_timeout_seconds`` per
  wait for bytes, and ``download_total_seconds`` for the whole download (every attempt, redirect and
  backoff wait): past it the input is ``failed`` / ``download_timeout``, however slowly the server
  trickles bytes.
* Bytes are streamed to ``<cache>/tmp/`` and renamed to ``<cache>/sha256/<hh>/<sha256>`` only once
  complete, so a half download is never used. ``<cache>/urls/`` remembers which bytes a URL served:
  a rerun reads them back (after checking their hash) without touching the network.

The file's type is sniffed from its bytes later (``nianbao.read.sniff_format``); the URL's extension
and the server's Content-Type are only recorded.
"""

from __future__ import annotations

import http.client
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

from nianbao import __version__
from nianbao.batch.cache import CHUNK, BlobStore, cache_root
from nianbao.errors import FileTooLargeError, NianbaoError
from nianbao.ingest.http import DeadlineError, Policy, RefusedUrlError, open_url
from nianbao.settings import Settings

USER_AGENT = f"nianbao/{__version__} (+government information disclosure annual reports)"
TRANSIENT_STATUS = frozenset({408, 429})


class DownloadError(NianbaoError):
    """The download kept failing on transient faults until the retries ran out."""

    code = "download_failed"
    hint = "The server kept failing; rerun later (already downloaded files are not fetched again)"

    def __init__(self, message: str, *, source: str | None = None, attempts: int = 0,
                 status: int | None = None) -> None:
        self.attempts, self.status = attempts, status
        super().__init__(message, source=source)


class HttpStatusError(NianbaoError):
    """A client error (401, 403, 400, ...): not retried, so one attempt."""

    code = "http_error"
    hint = "The server refused the request; check the URL and whether it needs a login"

    def __init__(self, message: str, *, source: str | None = None, status: int | None = None) -> None:
        self.status, self.attempts = status, 1
        super().__init__(message, source=source)


class NotFoundError(HttpStatusError):
    """The server says the file does not exist (404/410): not retried."""

    code = "not_found"
    hint = "Check the URL in the manifest; the report may have moved"


class UnsupportedUriError(NianbaoError):
    code = "unsupported_uri"
    hint = "Inputs are local paths or http(s) URLs"


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.retry_after, self.status = retry_after, status


@dataclass(frozen=True)
class Fetched:
    """Where an input's bytes are now, and how they got there."""

    uri: str
    sha256: str
    size: int
    path: str
    attempts: int  # network attempts made by this call (0: served from the cache)
    from_cache: bool
    content_type: str | None = None
    seconds: float = 0.0


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """The wait before retry ``attempt`` (1-based): ``base * 2**(attempt-1)`` capped, times a jitter in [0.5, 1.5)."""
    r = float((rng or random).random())
    return min(cap, base * 2.0 ** (attempt - 1)) * (0.5 + r)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class DownloadDeadlineError(NianbaoError):
    """The download (all attempts and waits) outlasted ``download_total_seconds``."""

    code = "download_timeout"
    hint = "The server is too slow; rerun later or raise `download_total_seconds`"

    def __init__(self, message: str, *, source: str | None = None, attempts: int = 0) -> None:
        self.attempts = attempts
        super().__init__(message, source=source)


def _attempt(uri: str, store: BlobStore, settings: Settings, deadline: float) -> tuple[str, Path, int, str | None]:
    """One GET (redirects checked and followed): return (sha256, path, size, content type) or raise
    _Transient / a final error. Every socket wait is bounded by the read timeout and the deadline."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Accept": "*/*"}
    max_bytes, read_timeout = settings.max_file_bytes, settings.download_timeout_seconds
    try:
        opened = open_url(uri, policy=Policy.from_setting(settings.download_allow_private), headers=headers,
                          connect_timeout=settings.download_connect_timeout_seconds, read_timeout=read_timeout,
                          deadline=deadline)
    except (RefusedUrlError, DeadlineError):
        raise
    except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
        if time.monotonic() >= deadline:  # the wait was cut short by the total deadline
            raise DeadlineError("the download's total deadline passed") from None
        raise _Transient(f"connection failed: {type(exc).__name__}: {exc}") from None
    resp = opened.response
    try:
        status = resp.status
        if status >= 400:
            retry_after = _retry_after(resp.getheader("Retry-After"))
            if status in (404, 410):
                raise NotFoundError(f"HTTP {status}", source=uri, status=status)
            if status >= 500 or status in TRANSIENT_STATUS:
                raise _Transient(f"HTTP {status}", retry_after, status)
            raise HttpStatusError(f"HTTP {status}", source=uri, status=status)
        if status >= 300:
            raise HttpStatusError(f"HTTP {status} without a usable Location", source=uri, status=status)
        length_header = resp.getheader("Content-Length")
        try:
            expected = int(length_header) if length_header is not None else None
        except ValueError:
            expected = None
        if expected is not None and expected > max_bytes:
            raise FileTooLargeError(f"Content-Length {expected} exceeds the limit of {max_bytes} bytes", source=uri)
        content_type = resp.getheader("Content-Type")
        with store.writing() as w:
            try:
                while True:
                    opened.set_wait(read_timeout, deadline)
                    chunk = resp.read1(CHUNK)  # whatever has arrived: a trickling server meets the deadline
                    if not chunk:
                        break
                    w.write(chunk)
                    if w.size > max_bytes:
                        raise FileTooLargeError(f"more than {max_bytes} bytes (stopped while downloading)",
                                                source=uri)
            except DeadlineError:
                raise
            except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
                if time.monotonic() >= deadline:
                    raise DeadlineError("the download's total deadline passed") from None
                raise _Transient(f"body interrupted after {w.size} bytes: {type(exc).__name__}: {exc}") from None
            if expected is not None and w.size != expected:
                raise _Transient(f"truncated body: {w.size} of {expected} bytes")
            sha, path = w.commit()
            return sha, path, w.size, content_type
    finally:
        opened.close()


def fetch_to_store(uri: str, settings: Settings, *, backoff_seconds: float = 1.0, max_backoff_seconds: float = 30.0,
                   refresh: bool = False, sleep: Callable[[float], None] = time.sleep,
                   on_retry: Callable[[int, str, float], None] | None = None,
                   rng: random.Random | None = None) -> Fetched:
    """Given an http(s) URL, return where its bytes are in the cache (downloading them when needed).

    ``on_retry(attempt, reason, delay)`` is called before each wait. Raises ``NotFoundError``,
    ``HttpStatusError``, ``FileTooLargeError`` at once, and ``DownloadError`` when the transient
    faults outlast ``settings.download_retries`` retries.
    """
    if not uri.startswith(("http://", "https://")):
        raise UnsupportedUriError("not an http(s) URL", source=uri)
    started = time.perf_counter()
    store = BlobStore(cache_root(settings))
    if not refresh:
        hit = store.lookup_uri(uri)
        if hit is not None:
            return Fetched(uri, hit["sha256"], int(hit["size"]), hit["path"], 0, True, hit.get("content_type"),
                           time.perf_counter() - started)
    attempts = 1 + max(0, settings.download_retries)
    # One deadline for the whole download: attempts, redirects and the waits between them.
    deadline = time.monotonic() + settings.download_total_seconds
    reason = ""
    status: int | None = None
    for attempt in range(1, attempts + 1):
        try:
            sha, path, size, ctype = _attempt(uri, store, settings, deadline)
        except DeadlineError:
            raise DownloadDeadlineError(f"not complete within download_total_seconds="
                                        f"{settings.download_total_seconds:g} s (attempt {attempt})", source=uri,
                                        attempts=attempt) from None
        except _Transient as exc:
            reason, status = str(exc), exc.status
            if attempt == attempts:
                break
            delay = backoff_delay(attempt, backoff_seconds, max_backoff_seconds, rng)
            if exc.retry_after is not None:
                delay = max(delay, min(exc.retry_after, max_backoff_seconds))
            if time.monotonic() + delay >= deadline:  # the wait alone would pass the deadline: give up now
                raise DownloadDeadlineError(f"not complete within download_total_seconds="
                                            f"{settings.download_total_seconds:g} s (attempt {attempt}: {reason})",
                                            source=uri, attempts=attempt) from None
            if on_retry is not None:
                on_retry(attempt, reason, delay)
            sleep(delay)
            continue
        except NianbaoError as exc:
            exc.attempts = attempt  # type: ignore[attr-defined]
            raise
        store.record_uri(uri, sha, size, content_type=ctype)
        return Fetched(uri, sha, size, str(path), attempt, False, ctype, time.perf_counter() - started)
    raise DownloadError(f"gave up after {attempts} attempts; last: {reason}", source=uri, attempts=attempts,
                        status=status)


def fetch(uri: str, settings: Settings, **kwargs: object) -> bytes:
    """Given an http(s) URL, return its bytes (from the cache when this URL was fetched before)."""
    got = fetch_to_store(uri, settings, **kwargs)  # type: ignore[arg-type]
    return Path(got.path).read_bytes()

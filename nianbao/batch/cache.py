"""Local caches: fetched bytes by sha256, and finished report results by (sha256, year, parser version).

Layout under the cache root (``settings.cache_dir``, default ``<out_dir>/.cache``; for an object
store output, ``~/.cache/nianbao/<scheme>/<bucket>/<prefix>/.cache``)::

    sha256/<hh>/<sha256>          the bytes of a downloaded input (content-addressed)
    urls/<hh>/<sha256(uri)>.json  which bytes a URL served last (so a rerun does not download again)
    results/<hh>/<key>.pkl        a pickled ``ReportResult`` (key: sha256 + year + parser version)
    tmp/                          partial writes; renamed into place only when complete

Every write goes to ``tmp/`` first and is renamed into place, so a crash never leaves a
half-written entry under a final name; an entry that fails its check is deleted and treated
as a miss. The cache holds pickles: keep it where only the pipeline writes (next to the output).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nianbao.fsio import atomic_write
from nianbao.results import ReportResult
from nianbao.settings import Settings

CHUNK = 1 << 16

# Failures that depend only on the bytes (and the parser): cached like successes. Everything else
# (timeouts, crashes, internal errors, limits set in the settings, a missing converter or OCR engine
# (needs_ocr: RapidOCR missing or the `ocr` setting off), download errors) is retried on the next run.
DETERMINISTIC_ERRORS = frozenset({"not_a_report", "unsupported_format", "empty_file", "undecodable", "encrypted",
                                  "corrupt", "unreadable_font"})


def cache_root(settings: Settings) -> Path:
    """Given the settings, return the cache root (``cache_dir``, else ``.cache`` in the local state folder)."""
    return Path(settings.cache_dir) if settings.cache_dir else settings.local_dir() / ".cache"


def sha256_file(path: str | Path) -> tuple[str, int]:
    """Return (sha256 hex, size) of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _fsync_write(fh: IO[bytes]) -> None:
    fh.flush()
    os.fsync(fh.fileno())




class BlobWriter:
    """Streams bytes into ``tmp/`` while hashing them; ``commit()`` renames the file to its sha256 name."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        store.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=store.tmp, prefix="dl.")
        self.tmp_path = Path(name)
        self._fh = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._fh.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def commit(self) -> tuple[str, Path]:
        _fsync_write(self._fh)
        self._fh.close()
        sha = self._hash.hexdigest()
        dst = self.store.path_for(sha)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.tmp_path, dst)
        return sha, dst

    def abort(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.tmp_path.unlink(missing_ok=True)


class BlobStore:
    """Content-addressed bytes plus a URL → sha256 index."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"

    def path_for(self, sha: str) -> Path:
        return self.root / "sha256" / sha[:2] / sha

    def get_path(self, sha: str, size: int | None = None) -> Path | None:
        """Return the path of a complete, verified blob, or None (a corrupt one is removed)."""
        path = self.path_for(sha)
        if not path.is_file():
            return None
        if size is not None and path.stat().st_size != size:
            path.unlink(missing_ok=True)
            return None
        if sha256_file(path)[0] != sha:
            path.unlink(missing_ok=True)
            return None
        return path

    def put(self, data: bytes) -> tuple[str, Path]:
        w = self.writer()
        try:
            w.write(data)
            return w.commit()
        except BaseException:
            w.abort()
            raise

    @contextmanager
    def writing(self) -> Iterator[BlobWriter]:
        """Context manager: a writer whose partial file is removed unless ``commit()`` was called."""
        w = self.writer()
        try:
            yield w
        finally:
            w.abort()  # no-op for the renamed file: its temp name no longer exists

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

    def _url_entry(self, uri: str) -> Path:
        key = hashlib.sha256(uri.encode("utf-8")).hexdigest()
        return self.root / "urls" / key[:2] / f"{key}.json"

    def lookup_uri(self, uri: str) -> dict[str, Any] | None:
        """Return what the index knows about a URL whose bytes are still in the store, else None."""
        entry = self._url_entry(uri)
        try:
            info: dict[str, Any] = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if info.get("uri") != uri or not info.get("sha256"):
            return None
        path = self.get_path(info["sha256"], info.get("size"))
        if path is None:
            return None
        info["path"] = str(path)
        return info

    def record_uri(self, uri: str, sha: str, size: int, **extra: Any) -> None:
        info = {"uri": uri, "sha256": sha, "size": size, "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
        atomic_write(self._url_entry(uri), json.dumps(info, ensure_ascii=False).encode("utf-8"), tmp_dir=self.tmp)


def result_key(sha: str, year: int | None, parser_version: str) -> str:
    """The cache key of a report's result: its bytes, the batch year and the parser version."""
    return hashlib.sha256(f"{sha}|{year if year is not None else '-'}|{parser_version}".encode()).hexdigest()


def cacheable(result: ReportResult) -> bool:
    """True when a result depends only on the bytes and the parser (so a rerun may reuse it)."""
    return result.status not in ("failed", "skipped") or (result.error in DETERMINISTIC_ERRORS)


@dataclass
class ResultCache:
    """Pickled ``ReportResult`` objects keyed by ``result_key``."""

    root: Path

    @classmethod
    def for_settings(cls, settings: Settings) -> ResultCache:
        return cls(cache_root(settings))

    def _path(self, key: str) -> Path:
        return self.root / "results" / key[:2] / f"{key}.pkl"

    def get(self, key: str, parser_version: str) -> ReportResult | None:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                payload = pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception:
            path.unlink(missing_ok=True)
            return None
        if not isinstance(payload, dict) or payload.get("key") != key \
                or payload.get("parser_version") != parser_version or not isinstance(payload.get("result"),
                                                                                     ReportResult):
            return None
        result: ReportResult = payload["result"]
        return result

    def put(self, key: str, parser_version: str, result: ReportResult) -> None:
        data = pickle.dumps({"key": key, "parser_version": parser_version, "result": result},
                            protocol=pickle.HIGHEST_PROTOCOL)
        atomic_write(self._path(key), data, tmp_dir=self.root / "tmp")


def rebind(result: ReportResult, source_uri: str) -> ReportResult:
    """Given a cached result and the URI its bytes came from this time, return it under that URI."""
    old = result.source_uri
    if old == source_uri:
        return result
    result.source_uri = source_uri
    if result.error_message:
        result.error_message = result.error_message.replace(old, source_uri)
    return result

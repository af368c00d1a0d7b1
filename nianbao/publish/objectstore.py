"""Publishing to an object store (``s3://`` and whatever else pyarrow or fsspec can open).

An object store has no rename and no lock, so the local publish (stage, then an atomic directory
exchange under a file lock) cannot be used. Instead, every object write (PUT) is atomic on its own
and a commit log decides which file of a partition is current:

1. **stage**: every partition file is written under ``<out>/.staging/<batch_id>/<dataset>/report_year=<Y>/``;
2. **commit**: one PUT of ``<out>/_commits/<batch_id>.json`` (batch id, commit time, years, datasets,
   files and their sha256). Before it the batch does not exist; after it the batch is published;
3. **roll forward**: each staged file is copied (server side) to ``<out>/<dataset>/report_year=<Y>/``;
   then, in that partition, every ``part-*.parquet`` whose batch committed earlier is deleted (a
   file with no commit record counts as earlier), and if a later batch is already there the copy just
   made is deleted instead — the latest commit wins whatever order runs finish in; then the
   staging objects are removed.

A publish that dies before its commit leaves only staging objects, which readers never list and the
next publish removes once they are older than ``STALE_STAGING_SECONDS`` (a live run may still be
writing them). A publish that dies after its commit is rolled forward by the next publish. Between
the copy and the delete of step 3 a partition briefly holds two files: ``read_dataset`` (and every
reader in nianbao) resolves that by the commit log; a plain glob over the bucket may see both for
that moment (docs/reliability.md).

Two runs may publish the same year concurrently: no lock is needed because the commit log orders them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl
import pyarrow.fs as pafs

STAGING = ".staging"
COMMITS = "_commits"
STALE_STAGING_SECONDS = 24 * 3600.0


class ObjectStoreError(OSError):
    """An object store could not be opened or reached; says which location and what to check."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # relative to the store's root
    size: int
    mtime: float | None  # seconds since the epoch, when the store reports it


def _s3_filesystem(endpoint_url: str | None, region: str | None) -> pafs.FileSystem:
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    kwargs: dict[str, Any] = {
        # Explicit: without it pyarrow may try to look the bucket's region up on AWS, which fails offline.
        "region": region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        # Transient faults (5xx, throttling, resets) are retried with backoff by the AWS SDK itself.
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=5),
        "connect_timeout": 10.0,
        "request_timeout": 60.0,
    }
    if endpoint:
        parts = urlsplit(endpoint)
        kwargs["endpoint_override"] = parts.netloc or parts.path
        kwargs["scheme"] = parts.scheme or "https"
    return pafs.S3FileSystem(**kwargs)


class ObjectStore:
    """Whole-object operations under one root of an object store. Keys are ``/``-separated and relative
    to the root; every operation is a single request, so a test can fail any one of them."""

    def __init__(self, fs: pafs.FileSystem, root: str, uri: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.uri = uri.rstrip("/")

    @classmethod
    def open(cls, uri: str, *, endpoint_url: str | None = None, region: str | None = None) -> ObjectStore:
        """Given ``scheme://bucket/prefix``, return the store. ``s3://`` uses pyarrow's S3 client
        (endpoint from ``endpoint_url``, else ``AWS_ENDPOINT_URL``; credentials from the usual AWS
        variables or files); other schemes go to pyarrow, then fsspec."""
        parts = urlsplit(uri)
        if not parts.netloc:
            raise ObjectStoreError(f"output {uri!r} names no bucket; write it as {parts.scheme}://<bucket>/<prefix>")
        root = f"{parts.netloc}{parts.path}".rstrip("/")
        if parts.scheme in ("s3", "s3a"):
            return cls(_s3_filesystem(endpoint_url, region), root, uri)
        try:
            fs, path = pafs.FileSystem.from_uri(uri)
            return cls(fs, path, uri)
        except (ValueError, OSError):  # a scheme pyarrow does not know (ArrowInvalid is a ValueError)
            pass
        try:
            import fsspec
            from pyarrow.fs import FSSpecHandler, PyFileSystem

            ffs = fsspec.filesystem(parts.scheme)
        except (ImportError, ValueError) as exc:
            raise ObjectStoreError(f"cannot open output {uri!r}: no filesystem for {parts.scheme!r} "
                                   f"({exc}); use s3://, a local path, or install the fsspec driver") from exc
        return cls(PyFileSystem(FSSpecHandler(ffs)), root, uri)

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def _key_of(self, path: str) -> str:
        # fsspec filesystems may answer with a leading "/" (memory://), pyarrow's S3 without.
        path, root = path.lstrip("/"), self.root.lstrip("/")
        return path[len(root) + 1:] if path.startswith(root + "/") else path

    def uri_of(self, key: str) -> str:
        """Given a key, return its full URI."""
        return f"{self.uri}/{key}"

    def put(self, key: str, data: bytes | Path) -> tuple[int, str]:
        """Write one object from bytes or streamed from a local file (atomic: readers see the old object or
        the whole new one); return its size and sha256."""
        h = hashlib.sha256()
        size = 0
        with self.fs.open_output_stream(self._path(key)) as fh:
            if isinstance(data, Path):
                with open(data, "rb") as src:
                    while block := src.read(8 << 20):
                        fh.write(block)
                        h.update(block)
                        size += len(block)
            else:
                fh.write(data)
                h.update(data)
                size = len(data)
        return size, h.hexdigest()

    def get(self, key: str) -> bytes:
        with self.fs.open_input_stream(self._path(key)) as fh:
            data: bytes = fh.read()
        return data

    def exists(self, key: str) -> bool:
        return bool(self.fs.get_file_info(self._path(key)).type == pafs.FileType.File)

    def copy(self, src: str, dst: str) -> None:
        """Copy an object within the store (server side); ``FileNotFoundError`` when ``src`` is gone."""
        try:
            self.fs.copy_file(self._path(src), self._path(dst))
        except OSError:
            if not self.exists(src):  # S3 says NO_SUCH_KEY as a plain OSError
                raise FileNotFoundError(self.uri_of(src)) from None
            raise

    def delete(self, key: str) -> None:
        """Delete an object; nothing when it is already gone (another run finished the same step)."""
        try:
            self.fs.delete_file(self._path(key))
        except OSError:
            if self.exists(key):
                raise

    def delete_prefix(self, prefix: str) -> None:
        """Delete everything under ``prefix``, including the empty "directory" markers pyarrow leaves."""
        try:
            self.fs.delete_dir(self._path(prefix.rstrip("/")))
        except OSError:
            if self.list(prefix):
                raise

    def list(self, prefix: str) -> list[ObjectInfo]:
        """Return the objects under ``prefix`` (recursively), sorted by key."""
        sel = pafs.FileSelector(self._path(prefix.rstrip("/")), recursive=True, allow_not_found=True)
        out = []
        for info in self.fs.get_file_info(sel):
            if info.type != pafs.FileType.File:
                continue
            mtime = info.mtime.timestamp() if info.mtime is not None else None
            out.append(ObjectInfo(self._key_of(info.path), int(info.size or 0), mtime))
        return sorted(out, key=lambda o: o.key)


def open_store(location: str, settings: Any = None) -> ObjectStore:
    """Given an output location and (optionally) the settings, return its object store."""
    return ObjectStore.open(location, endpoint_url=getattr(settings, "s3_endpoint_url", None),
                            region=getattr(settings, "s3_region", None))


# --- the publish protocol -------------------------------------------------------------------

def _batch_of(filename: str) -> str:
    return filename.removeprefix("part-").removesuffix(".parquet")


def _commit_order(store: ObjectStore, batch_id: str, cache: dict[str, tuple[int, str]]) -> tuple[int, str]:
    """The commit position of a batch: (commit time in ns, batch id); (-1, id) when it has no record."""
    if batch_id not in cache:
        try:
            record = json.loads(store.get(f"{COMMITS}/{batch_id}.json"))
            cache[batch_id] = (int(record["committed_at_ns"]), batch_id)
        except (FileNotFoundError, ValueError, KeyError):
            cache[batch_id] = (-1, batch_id)
    return cache[batch_id]


def _resolve_partition(store: ObjectStore, partition: str, order: dict[str, tuple[int, str]]) -> str | None:
    """Keep only the newest-committed ``part-*.parquet`` of a partition; return its key."""
    files = [o.key for o in store.list(partition) if o.key.rsplit("/", 1)[-1].startswith("part-")
             and o.key.endswith(".parquet")]
    if not files:
        return None
    newest = max(files, key=lambda k: _commit_order(store, _batch_of(k.rsplit("/", 1)[-1]), order))
    for key in files:
        if key != newest:
            store.delete(key)
    return newest


def roll_forward(store: ObjectStore, record: dict[str, Any]) -> None:
    """Copy a committed batch's staged files into place, resolve each partition, remove the staging."""
    batch_id = record["batch_id"]
    order: dict[str, tuple[int, str]] = {}
    for f in record["files"]:
        staged = f"{STAGING}/{batch_id}/{f['key']}"
        # Missing: copied by an earlier, interrupted roll forward (its staging object was removed after).
        with contextlib.suppress(FileNotFoundError):
            store.copy(staged, f["key"])
        _resolve_partition(store, f["key"].rsplit("/", 1)[0], order)
        store.delete(staged)
    store.delete_prefix(f"{STAGING}/{batch_id}")


def recover_store(store: ObjectStore, *, stale_after: float = STALE_STAGING_SECONDS, now: float | None = None
                  ) -> list[str]:
    """Roll forward committed batches whose staging is still there; delete uncommitted staging older
    than ``stale_after`` seconds. Return what was done."""
    done: list[str] = []
    now = time.time() if now is None else now
    staged: dict[str, list[ObjectInfo]] = {}
    for o in store.list(STAGING):
        staged.setdefault(o.key.split("/", 2)[1], []).append(o)
    for batch_id, objs in sorted(staged.items()):
        try:
            record = json.loads(store.get(f"{COMMITS}/{batch_id}.json"))
        except FileNotFoundError:
            newest = max((o.mtime or now) for o in objs)
            if now - newest >= stale_after:
                store.delete_prefix(f"{STAGING}/{batch_id}")
                done.append(f"discarded incomplete {batch_id}")
            continue
        roll_forward(store, record)
        done.append(f"rolled forward {batch_id}")
    return done


def publish_to_store(store: ObjectStore, partitions: Iterable[tuple[str, int, int, bytes | Path]], batch_id: str,
                     years: list[int], datasets: list[str]) -> list[dict[str, Any]]:
    """Given the (dataset, year, rows, Parquet bytes or a local Parquet file) of every partition, stage, commit and roll them
    forward; return the files written (dataset, report_year, key, path, rows, bytes, sha256).

    An object store fault raises ``ObjectStoreError`` (an ``OSError``: the flow's publish task retries
    it) naming the output and what to check; the last published output is intact whatever step failed."""
    try:
        return _publish(store, partitions, batch_id, years, datasets)
    except OSError as exc:
        if isinstance(exc, ObjectStoreError):
            raise
        raise ObjectStoreError(
            f"publishing batch {batch_id} to {store.uri} failed: {exc}. Check that the bucket exists, the "
            "credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or an AWS profile) and the endpoint "
            "(setting s3_endpoint_url or AWS_ENDPOINT_URL); the last published output is intact, rerun the "
            "batch once the store is reachable") from exc


def _publish(store: ObjectStore, partitions: Iterable[tuple[str, int, int, bytes | Path]], batch_id: str,
             years: list[int], datasets: list[str]) -> list[dict[str, Any]]:
    recover_store(store)
    record = stage_and_commit(store, partitions, batch_id, years, datasets)
    roll_forward(store, record)
    files: list[dict[str, Any]] = record["files"]
    return files


def stage_and_commit(store: ObjectStore, partitions: Iterable[tuple[str, int, int, bytes | Path]], batch_id: str,
                     years: list[int], datasets: list[str]) -> dict[str, Any]:
    """Steps 1 and 2: put every partition under the staging prefix, then the commit record; return it."""
    files: list[dict[str, Any]] = []
    for dataset, year, rows, data in partitions:
        key = f"{dataset}/report_year={year}/part-{batch_id}.parquet"
        size, sha = store.put(f"{STAGING}/{batch_id}/{key}", data)
        files.append({"dataset": dataset, "report_year": year, "key": key, "path": store.uri_of(key),
                      "rows": rows, "bytes": size, "sha256": sha})
    record = {"batch_id": batch_id, "committed_at_ns": time.time_ns(), "years": years, "datasets": datasets,
              "files": files}
    store.put(f"{COMMITS}/{batch_id}.json", json.dumps(record, ensure_ascii=False, indent=1).encode())
    return record


def read_store_dataset(store: ObjectStore, name: str, schema: dict[str, Any]) -> pl.DataFrame:
    """Read a published dataset back: per partition, the file of the newest commit only."""
    order: dict[str, tuple[int, str]] = {}
    by_partition: dict[str, list[str]] = {}
    for o in store.list(name):
        parent, _, filename = o.key.rpartition("/")
        if filename.startswith("part-") and filename.endswith(".parquet"):
            by_partition.setdefault(parent, []).append(o.key)
    frames = []
    for _parent, keys in sorted(by_partition.items()):
        newest = max(keys, key=lambda k: _commit_order(store, _batch_of(k.rsplit("/", 1)[-1]), order))
        frames.append(pl.read_parquet(io.BytesIO(store.get(newest)), hive_partitioning=False).select(list(schema)))
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames)


__all__ = [
    "COMMITS",
    "STAGING",
    "ObjectInfo",
    "ObjectStore",
    "ObjectStoreError",
    "open_store",
    "publish_to_store",
    "read_store_dataset",
    "recover_store",
    "roll_forward",
    "stage_and_commit",
]

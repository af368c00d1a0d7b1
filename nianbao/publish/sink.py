"""Where a publish goes: one interface for a local folder and an object store.

``Sink.publish`` checks the publish contract against what the output holds, asks the caller to write each
year's partition files into a scratch folder (``WriteYear``), and commits them all at once:

* ``LocalSink``: one commit of the versioned journal (``nianbao.publish.journal``) under the years' locks;
  each version records its ``content_key`` so an unchanged year can be recognised (``unchanged``);
* ``StoreSink``: the files are staged as objects, one commit record, rolled forward
  (``nianbao.publish.objectstore``); the commit log records no content key, so every run publishes its years.

Both the streaming publish from staged chunks and the in-memory publish of frames write through these.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from nianbao.location import is_remote
from nianbao.publish import journal
from nianbao.publish.contract import check_contract, readable_counts, readable_ids
from nianbao.publish.objectstore import ObjectStore, ObjectStoreError, open_store, publish_to_store, read_store_dataset
from schemas import DATASET_NAMES, polars_schema


@dataclass(frozen=True)
class PartFile:
    """A partition file written for the publish (on local disk), with what the manifest records of it."""

    dataset: str
    year: int
    path: Path
    rows: int
    bytes: int
    sha256: str


WriteYear = Callable[[Path, int], dict[str, PartFile]]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def part_file(dataset: str, year: int, path: Path, rows: int) -> PartFile:
    """A written partition file with its size and sha256."""
    return PartFile(dataset, year, path, rows, path.stat().st_size, sha256_file(path))


def published_counts(out: Path, years: list[int]) -> dict[int, int]:
    """Readable reports per year as committed (HEAD), or in a year's live partition when it predates the journal."""
    head = journal.read_head(out)
    counts: dict[int, int] = {}
    for y in years:
        state = head["years"].get(str(y))
        if state is not None:
            counts[y] = int(state["readable"])
        else:
            files = sorted(journal.live_dir(out, "reports", y).glob("*.parquet"))
            if files:
                counts[y] = readable_counts(pl.read_parquet(files, columns=["report_year", "status"])).get(y, 0)
    return counts


def legacy_meta(out: Path, year: int) -> dict[str, Any]:
    files = sorted(journal.live_dir(out, "reports", year).glob("*.parquet"))
    reports = (pl.read_parquet(files, columns=["report_id", "report_year", "status"]) if files
               else pl.DataFrame(schema={"report_id": pl.String, "report_year": pl.Int32, "status": pl.String}))
    return {"batch_id": "legacy", "years": [year], "readable": readable_counts(reports).get(year, 0),
            "reports": reports.height, "readable_ids": readable_ids(reports, year), "files": {}}


def _records(parts: dict[int, dict[str, PartFile]], live: Callable[[PartFile], str]) -> list[dict[str, Any]]:
    return [{"dataset": p.dataset, "report_year": p.year, "path": live(p), "rows": p.rows, "bytes": p.bytes,
             "sha256": p.sha256} for y in sorted(parts) for p in parts[y].values()]


class Sink(Protocol):
    """Where a batch publishes: one interface for a local folder and an object store."""

    where: str

    def unchanged(self, keys: dict[int, str]) -> set[int]:
        """The years whose published version has this content key (nothing to publish for them)."""

    def publish(self, years: list[int], reports: pl.DataFrame, write: WriteYear, keys: dict[int, str],
                batch_id: str, allow_shrink: bool) -> list[dict[str, Any]]:
        """Check the contract against what is published, write each year's files with ``write`` and commit
        them at once; return the files (dataset, report_year, path, rows, bytes, sha256)."""


class LocalSink:
    """A local output folder: one commit of the versioned journal, under the years' locks."""

    def __init__(self, out: Path, lock_timeout: float | None = 0.0, keep_versions: int = journal.KEEP_VERSIONS
                 ) -> None:
        self.out, self.lock_timeout, self.keep_versions, self.where = Path(out), lock_timeout, keep_versions, str(out)

    def unchanged(self, keys: dict[int, str]) -> set[int]:
        head = journal.read_head(self.out)
        return {y for y, k in keys.items() if head["years"].get(str(y), {}).get("content_key") == k}

    def publish(self, years: list[int], reports: pl.DataFrame, write: WriteYear, keys: dict[int, str],
                batch_id: str, allow_shrink: bool) -> list[dict[str, Any]]:
        out = self.out
        check_contract(reports, years, {}, allow_shrink=True, where=self.where)  # before any lock or write
        out.mkdir(parents=True, exist_ok=True)
        datasets = list(DATASET_NAMES)
        with journal.session(out, years, datasets, self.lock_timeout) as scratch:
            check_contract(reports, years, published_counts(out, years), allow_shrink=allow_shrink, where=self.where)
            journal.step("checked")
            parts = {y: write(scratch / f"parts-{y}", y) for y in years}
            metas = {y: {"batch_id": batch_id, "years": years, "readable": readable_counts(reports).get(y, 0),
                         "reports": reports.filter(pl.col("report_year") == y).height,
                         "readable_ids": readable_ids(reports, y), "content_key": keys.get(y),
                         "files": {p.dataset: {"rows": p.rows, "bytes": p.bytes, "sha256": p.sha256}
                                   for p in parts[y].values()}} for y in years}
            journal.publish_versions(out, {y: {p.dataset: (p.path.name, p.path) for p in parts[y].values()}
                                           for y in years}, metas, datasets, scratch=scratch,
                                     legacy_meta={y: legacy_meta(out, y) for y in years},
                                     keep_versions=self.keep_versions, what=f"publish {batch_id}")
        return _records(parts, lambda p: str(journal.live_dir(out, p.dataset, p.year) / p.path.name))


class StoreSink:
    """An object store: staged objects, one commit record, rolled forward. Every run publishes its years
    (the commit log records no content key)."""

    def __init__(self, store: ObjectStore, scratch_root: Path) -> None:
        self.store, self.scratch_root, self.where = store, scratch_root, store.uri

    def unchanged(self, keys: dict[int, str]) -> set[int]:
        return set()

    def publish(self, years: list[int], reports: pl.DataFrame, write: WriteYear, keys: dict[int, str],
                batch_id: str, allow_shrink: bool) -> list[dict[str, Any]]:
        check_contract(reports, years, {}, allow_shrink=True, where=self.where)
        try:
            published = read_store_dataset(self.store, "reports", polars_schema("reports"))
        except OSError as exc:
            if isinstance(exc, ObjectStoreError):
                raise
            raise ObjectStoreError(
                f"publishing batch {batch_id} to {self.store.uri} failed reading what is published: {exc}. Check "
                "that the bucket exists, the credentials and the endpoint (setting s3_endpoint_url or "
                "AWS_ENDPOINT_URL); the last published output is intact, rerun the batch once the store is "
                "reachable") from exc
        check_contract(reports, years, readable_counts(published), allow_shrink=allow_shrink, where=self.where)
        self.scratch_root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="publish-", dir=self.scratch_root))
        try:
            parts = {y: write(scratch / f"parts-{y}", y) for y in years}
            encoded = ((p.dataset, y, p.rows, p.path) for y in sorted(parts) for p in parts[y].values())  # streamed
            return publish_to_store(self.store, encoded, batch_id, sorted(years), list(DATASET_NAMES))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def open_sink(out_dir: str, settings: Any, scratch_root: Path) -> Sink:
    """The sink of an output: an object store URI or a local folder."""
    if is_remote(out_dir):
        return StoreSink(open_store(out_dir, settings), scratch_root)
    return LocalSink(Path(out_dir.removeprefix("file://")),
                     lock_timeout=settings.publish_lock_timeout_seconds if settings else 0.0)

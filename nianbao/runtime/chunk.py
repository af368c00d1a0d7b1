"""A chunk of reports: the unit of orchestration.

The flow does not make one task per report (its bookkeeping would cost more than parsing a text report):
it splits the batch into chunks (``chunk_size`` reports, by a hash of the URI so adding a file changes only
its own chunk) and one task works through a chunk in-process, report by report, each parsed in an isolated
child (``nianbao.runtime.isolation``). The chunk's rows go straight to staged Parquet files, one per
dataset, under ``<staging>/<scope>/<key>/``; the flow keeps only a light record per report
(``ReportRecord``), so its memory does not grow with the reports' cells. The publish assembles each year's
partitions from the staged files (``nianbao.publish.staged``).

Incremental work: a chunk's key is a fingerprint of its inputs (URI, size, modification time, inode),
the settings that change a parse, and the parser and schema versions. A chunk whose key already has a
complete staging folder is not run again: its records are read back instead. Web inputs can change
without notice, so a chunk holding one is always run (its reports may still come from the result cache).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import pickle
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nianbao
from nianbao.batch.cache import cache_root
from nianbao.ingest.sources import SourceItem
from nianbao.publish.parquet import Lineage, build_frames, sort_partition, validate_frames
from nianbao.results import ReportResult
from nianbao.runtime.report import Log, ReportOutcome, process_item
from nianbao.settings import Settings
from schemas import DATASET_NAMES, polars_schema

RECORDS = "records.pkl"
# Settings that change what a parse returns: part of every chunk's key.
PARSE_SETTINGS = ("max_file_bytes", "max_pages", "ocr", "pdf_text_source")


@dataclass
class ReportRecord:
    """What the flow keeps of one processed input: its result without cells and sections (``problems``
    holds only what the batch adds later, such as ``duplicate_input``), and counts of what was staged."""

    result: ReportResult
    index: int  # position in the batch's inputs (duplicates: the first one is published)
    chunk: str
    n_cells: int
    n_problems: int
    checks: dict[str, int]
    sha256: str | None
    size: int
    how: str
    attempts: int
    ingest_seconds: float
    item_agency: str | None
    cache_hit: bool
    worker: str
    fingerprint: str = ""  # what the report's staged rows depend on (see ``fingerprint``)


@dataclass
class Chunk:
    """A chunk of the batch: its key, where it is staged, and its inputs (with their batch positions)."""

    key: str
    folder: str
    items: list[tuple[int, SourceItem]] = field(default_factory=list)
    skippable: bool = True

    @property
    def done(self) -> bool:
        """Staged completely by an earlier run with the same key (the records file is written last)."""
        return self.skippable and (Path(self.folder) / RECORDS).is_file()


def staging_root(settings: Settings) -> Path:
    """Where chunks are staged (``staging_dir``, else ``chunks`` in the cache root)."""
    return Path(settings.staging_dir) if settings.staging_dir else cache_root(settings) / "chunks"


def scope_of(year: int | None) -> str:
    return str(year) if year is not None else "all"


def code_and_settings(settings: Settings, year: int | None) -> str:
    """The part of every key that is not the inputs: the year, the parser, schema and code versions, and the
    settings that change a parse."""
    return json.dumps({"year": year, "parser": nianbao.PARSER_VERSION, "code": nianbao.__version__,
                       "schema": {d: str(polars_schema(d)) for d in DATASET_NAMES},
                       "settings": {k: getattr(settings, k) for k in PARSE_SETTINGS}}, sort_keys=True)


ITEM_FIELDS = tuple(f.name for f in dataclasses.fields(SourceItem))


def item_fields(item: SourceItem) -> dict[str, object]:
    """``dataclasses.asdict`` of a (flat) input, without its deep copy: planning a national batch calls it
    100,000 times."""
    return {name: getattr(item, name) for name in ITEM_FIELDS}


def _item_fingerprint(item: SourceItem) -> tuple[str, bool]:
    """(fingerprint, whether it is stable): a local file by its stat, a web input never stable."""
    desc = json.dumps(item_fields(item), sort_keys=True, ensure_ascii=False)
    if item.uri.startswith(("http://", "https://")):
        return desc, False
    try:
        st = os.stat(item.uri.removeprefix("file://"))
        return f"{desc}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}", True
    except OSError as exc:
        return f"{desc}|{type(exc).__name__}", True


def plan_chunks(items: list[SourceItem], settings: Settings, year: int | None) -> list[Chunk]:
    """Split the batch's inputs into chunks of about ``chunk_size`` (at least two per worker, so the workers
    share the batch; one report each in a batch that small), each keyed by what it holds."""
    if not items:
        return []
    buckets: dict[int, list[tuple[int, SourceItem]]] = {}
    if len(items) <= 2 * settings.max_workers:  # a small batch: one report per chunk, every worker busy
        buckets = {index: [(index, item)] for index, item in enumerate(items)}
    else:
        wanted = max(math.ceil(len(items) / settings.chunk_size), 2 * settings.max_workers)
        n = 1 << math.ceil(math.log2(wanted))  # a power of two: the count moves rarely as a batch grows
        for index, item in enumerate(items):
            b = int.from_bytes(hashlib.sha256(item.uri.encode()).digest()[:8], "big") % n
            buckets.setdefault(b, []).append((index, item))
    common = code_and_settings(settings, year)
    root = staging_root(settings) / scope_of(year)
    chunks = []
    for b in sorted(buckets):
        h = hashlib.sha256(common.encode())
        stable = True
        for _, item in buckets[b]:
            fp, ok = _item_fingerprint(item)
            stable &= ok
            h.update(fp.encode() + b"\0")
        if not stable:
            h.update(uuid.uuid4().bytes)
        key = h.hexdigest()[:24]
        chunks.append(Chunk(key, str(root / key), buckets[b], stable))
    return chunks


def fingerprint(r: ReportResult, item: SourceItem, common: str) -> str:
    """What a report's staged rows depend on: its bytes (the report id), where they came from, how it ended,
    and the settings and code (``common``). Equal fingerprints: equal rows (the parse time aside)."""
    desc = json.dumps([r.report_id, r.source_uri, r.status, r.error, r.error_message, len(r.cells), len(r.problems),
                       item_fields(item)], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256((common + desc).encode()).hexdigest()


def _record(o: ReportOutcome, index: int, chunk: str, common: str) -> ReportRecord:
    r = o.result
    light = dataclasses.replace(r, cells=[], sections=[], problems=[])
    ing = o.ingested
    return ReportRecord(light, index, chunk, len(r.cells), len(r.problems), dict(Counter(p.check for p in r.problems)),
                        ing.sha256, ing.size, ing.how, ing.attempts, ing.seconds, ing.item.agency, o.cache_hit,
                        o.worker, fingerprint(r, ing.item, common))


def provisional_year(r: ReportResult, year: int | None) -> int:
    """The year a chunk stages a report's rows under; the publish sets the year the batch assigns."""
    return year if year is not None else (r.report_year or 0)


def stage_results(results: list[ReportResult], folder: Path, year: int | None) -> None:
    """Write the results' rows, one validated Parquet file per dataset, into ``folder``."""
    frames = build_frames(results, {r.report_id: provisional_year(r, year) for r in results}, Lineage(""))
    frames = validate_frames(frames, Lineage(""), nianbao.PARSER_VERSION)
    for name in DATASET_NAMES:
        sort_partition(name, frames[name]).write_parquet(folder / f"{name}.parquet", compression="zstd")


def _first_copies(results: list[ReportResult]) -> list[ReportResult]:
    """One result per report id (the same bytes given twice): rows are staged once, for the first input."""
    first: dict[str, ReportResult] = {}
    for r in results:
        first.setdefault(r.report_id, r)
    return list(first.values())


def run_chunk(chunk: Chunk, settings: Settings, year: int | None, log: Log | None = None,
              process: Callable[[SourceItem, Settings, int | None, Log | None], ReportOutcome] = process_item
              ) -> list[ReportRecord]:
    """Process a chunk's reports one after another, stage their rows, return their records. The staging
    folder appears complete or not at all (written aside, renamed into place with the records last)."""
    outcomes = [(index, process(item, settings, year, log)) for index, item in chunk.items]
    common = code_and_settings(settings, year)
    records = [_record(o, index, chunk.key, common) for index, o in outcomes]
    final = Path(chunk.folder)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        stage_results(_first_copies([o.result for _, o in outcomes]), tmp, year)
        (tmp / RECORDS).write_bytes(pickle.dumps(records))
        if final.exists():  # a stale or concurrent staging of the same key: the same content
            shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return records


def load_records(chunk: Chunk) -> list[ReportRecord]:
    """The records of a chunk staged by an earlier run (the inputs' positions are this batch's)."""
    old: list[ReportRecord] = pickle.loads((Path(chunk.folder) / RECORDS).read_bytes())
    for rec, (index, _) in zip(old, chunk.items, strict=True):
        rec.index = index
        rec.cache_hit = True
    return old


STALE_SECONDS = 2 * 86400  # a staged chunk no batch of its scope used for this long is removed


def prune_staging(settings: Settings, year: int | None, keep: set[str], stale_after: float = STALE_SECONDS) -> int:
    """Mark the chunks this batch used as fresh and remove the staged chunks of its scope that no batch has used
    for ``stale_after`` seconds; return how many were removed. Not at once: another run of the same scope
    may be working with chunks this one did not use."""
    root = staging_root(settings) / scope_of(year)
    now = time.time()
    removed = 0
    for d in sorted(root.iterdir()) if root.is_dir() else ():
        try:
            if d.name in keep:
                os.utime(d)
            elif now - d.stat().st_mtime > stale_after:
                shutil.rmtree(d, ignore_errors=True)
                removed += 1
        except FileNotFoundError:
            continue  # removed by another run meanwhile
    return removed

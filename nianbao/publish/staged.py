"""The streaming publish: a year's partitions assembled from the chunks' staged Parquet files.

The flow never holds the batch's rows. Each chunk staged its rows (``nianbao.runtime.chunk``); the plan says
which reports of which chunk go into which year (the first copy of a duplicate, never a held-back report).
For every year, every dataset is one lazy scan over the staged files, filtered to those reports, with the
batch's lineage set, sunk straight to the new partition file: memory stays bounded by Parquet row groups,
not by the number of reports. Problems the batch adds to a published report (``duplicate_input``) are the
only rows built in memory.

A year whose content is unchanged (same staged chunks, same reports, same added problems: the ``content_key``
recorded with each published version) is not published again.

The files go to the output through its sink (``nianbao.publish.sink``: a local journal or an object store).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from nianbao.publish.contract import check_contract
from nianbao.publish.parquet import Lineage, build_frames, parquet_metadata
from nianbao.publish.sink import PartFile, Sink, part_file
from nianbao.results import Problem, ReportResult
from schemas import DATASET_NAMES, polars_schema


@dataclass(frozen=True)
class StagedChunk:
    """A staged chunk: its folder and, per partition year, the reports whose rows it contributes."""

    folder: str
    owned: dict[int, list[str]]


def content_key(year: int, fingerprints: list[str], extras: dict[str, list[Problem]], parser_version: str) -> str:
    """A fingerprint of what ``year`` would publish: its reports' fingerprints (each says what the report's
    rows depend on), in order, and the problems the batch adds to them."""
    h = hashlib.sha256(f"{year}|{parser_version}|".encode())
    h.update(json.dumps(fingerprints).encode())
    for rid in sorted(extras):
        h.update(json.dumps([rid, [(p.check, p.message) for p in extras[rid]]], ensure_ascii=False).encode())
    return h.hexdigest()


def _extra_frames(year: int, extras: dict[str, list[Problem]], lineage: Lineage, parser_version: str
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The batch's added problems as ``validation_issues`` rows, and how many each report gains."""
    stubs = [ReportResult(report_id=rid, source_uri="", source_format=None, source_bytes=0, problems=ps,
                          parser_version=parser_version) for rid, ps in sorted(extras.items())]
    issues = build_frames(stubs, {s.report_id: year for s in stubs}, lineage)["validation_issues"]
    counts = pl.DataFrame({"report_id": [s.report_id for s in stubs], "_extra": [len(s.problems) for s in stubs]},
                          schema={"report_id": pl.String, "_extra": pl.Int64})
    return issues, counts


def write_year(folder: Path, year: int, chunks: list[StagedChunk], extras: dict[str, list[Problem]],
               lineage: Lineage, metadata: dict[str, str] | None, parser_version: str) -> dict[str, PartFile]:
    """Write ``year``'s partition of every dataset into ``folder`` from the staged chunks; return the files."""
    meta = parquet_metadata(metadata)
    wanted = {c.folder: sorted(c.owned.get(year, [])) for c in chunks}
    issues, counts = _extra_frames(year, {k: v for k, v in extras.items()}, lineage, parser_version)
    files: dict[str, PartFile] = {}
    for name in DATASET_NAMES:
        schema = polars_schema(name)

        def rows_of(frame: pl.LazyFrame, schema: pl.Schema = schema, name: str = name) -> pl.DataFrame:
            frame = frame.with_columns(report_year=pl.lit(year, pl.Int32), batch_id=pl.lit(lineage.batch_id, pl.String),
                                       flow_run_id=pl.lit(lineage.flow_run_id, pl.String))
            if name == "reports" and counts.height:
                frame = (frame.join(counts.lazy(), on="report_id", how="left", maintain_order="left")
                         .with_columns(n_issues=pl.col("n_issues") + pl.col("_extra").fill_null(0)
                                       .cast(schema["n_issues"])))
            return frame.select(list(schema)).cast(schema).collect()

        parts: Iterable[pl.DataFrame] = (rows_of(pl.scan_parquet(Path(c.folder) / f"{name}.parquet", glob=False)
                         .filter(pl.col("report_id").is_in(wanted[c.folder]))) for c in chunks if wanted[c.folder])
        if name == "validation_issues" and issues.height:
            parts = itertools.chain(parts, [issues.select(list(schema)).cast(schema)])
        path = folder / name / f"part-{lineage.batch_id}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = write_parts(path, schema, parts, meta)
        files[name] = part_file(name, year, path, rows)
    return files


def write_parts(path: Path, schema: pl.Schema, parts: Iterable[pl.DataFrame], metadata: dict[str, str]) -> int:
    """Write the frames one after another into one Parquet file (a row group or more each); return the rows.
    One chunk's rows are in memory at a time: polars' streaming sink over a concat of every staged file reads
    many of them at once (its memory grew with the number of chunks: ~200 MB at 128 chunks)."""
    arrow_schema = pl.DataFrame(schema=schema).to_arrow().schema.with_metadata(metadata)
    rows = 0
    with pq.ParquetWriter(path, arrow_schema, compression="zstd", write_statistics=True) as writer:
        for part in parts:
            if part.height:
                writer.write_table(part.to_arrow().cast(arrow_schema))
                rows += part.height
    return rows


@dataclass
class Published:
    files: list[dict[str, Any]]
    unchanged_years: list[int]


def publish_staged(sink: Sink, chunks: list[StagedChunk], year_of: dict[str, int], years: list[int],
                   extras: dict[str, list[Problem]], fingerprints: dict[int, list[str]], reports: pl.DataFrame, lineage: Lineage,
                   metadata: dict[str, str] | None, parser_version: str, allow_shrink: bool) -> Published:
    """Publish the years of a batch from its staged chunks: the years whose content changed, in one commit.

    ``reports`` is a light frame (report_id, report_year, status) of the reports the plan publishes, for the
    contract. Raises what the contract raises (``NothingToPublishError``, ``PublishRefusedError``) before
    anything is written; a year with nothing readable is still checked (an empty batch never publishes)."""
    keys = {y: content_key(y, fingerprints.get(y, []), {r: p for r, p in extras.items() if year_of.get(r) == y},
                           parser_version) for y in years}
    check_contract(reports, years, {}, allow_shrink=True, where=sink.where)
    same = sink.unchanged(keys)
    todo = [y for y in years if y not in same]
    if not todo:
        return Published([], sorted(same))

    def write(folder: Path, year: int) -> dict[str, PartFile]:
        mine = {r: p for r, p in extras.items() if year_of.get(r) == year}
        return write_year(folder, year, chunks, mine, lineage, metadata, parser_version)

    files = sink.publish(todo, reports.filter(pl.col("report_year").is_in(todo)), write, keys, lineage.batch_id,
                         allow_shrink)
    return Published(files, sorted(same))

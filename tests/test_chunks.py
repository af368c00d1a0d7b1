"""Chunked processing and the streaming publish (no Prefect: the core calls the flow's tasks wrap).

* chunks are keyed by what they hold: adding a file changes only the chunk it lands in, touching a file
  changes its chunk's key, and a finished chunk is read back instead of processed again;
* publishing from staged chunks gives exactly the data an in-memory publish of the same results gives
  (duplicates in one chunk and across chunks, a report of another year held back);
* a year whose content is unchanged is not published again (same files, same HEAD), a changed one is.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, published_frames

from nianbao.batch.plan import assign_years, drop_duplicates
from nianbao.ingest.sources import SourceItem
from nianbao.publish import journal
from nianbao.publish.parquet import publish_results
from nianbao.runtime.batch import plan_batch, publish_batch
from nianbao.runtime.chunk import Chunk, load_records, plan_chunks, run_chunk
from nianbao.runtime.report import process_item
from nianbao.settings import load_settings

SAMPLES = ROOT / "data" / "samples"
TEXTS = ["seed-000-mulan-liuhe-2022.txt", "seed-001-nuomin-2022.txt", "seed-002-youyi-xinzhen-2021.txt",
         "seed-003-baoqing-qixingpao-2022.txt"]


def _files(folder: Path, n: int) -> list[SourceItem]:
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(n):
        p = folder / f"r{i:03d}.txt"
        p.write_text(f"report {i}", encoding="utf-8")
        items.append(SourceItem(str(p)))
    return items


def test_adding_a_file_changes_only_the_chunk_it_lands_in(tmp_path: Path) -> None:
    cfg = load_settings(out_dir=str(tmp_path / "out"), chunk_size=10, max_workers=2)
    items = _files(tmp_path / "in", 50)
    before = plan_chunks(items, cfg, 2022)
    assert sum(len(c.items) for c in before) == 50 and len(before) > 1
    assert sorted(i for c in before for i, _ in c.items) == list(range(50))  # every input in exactly one chunk
    after = plan_chunks(items + _files(tmp_path / "more", 1), cfg, 2022)
    changed = {c.key for c in after} - {c.key for c in before}
    assert len(changed) == 1  # the other chunks keep their keys: their staged work is reused
    new = next(c for c in after if c.key in changed)
    assert any(it.uri.endswith("more/r000.txt") for _, it in new.items)


def test_a_touched_file_or_another_setting_changes_the_key(tmp_path: Path) -> None:
    cfg = load_settings(out_dir=str(tmp_path / "out"), chunk_size=100, max_workers=1)
    items = _files(tmp_path / "in", 3)
    keys = [c.key for c in plan_chunks(items, cfg, 2022)]
    assert keys == [c.key for c in plan_chunks(items, cfg, 2022)]  # stable
    os.utime(items[0].uri, ns=(1, 1))
    assert keys != [c.key for c in plan_chunks(items, cfg, 2022)]
    assert [c.key for c in plan_chunks(items, cfg, 2022)] != [c.key for c in plan_chunks(items, cfg, 2023)]
    other = cfg.with_overrides(pdf_text_source="pdfplumber")
    assert [c.key for c in plan_chunks(items, cfg, 2022)] != [c.key for c in plan_chunks(items, other, 2022)]
    web = plan_chunks([SourceItem("http://127.0.0.1:9/r.txt")], cfg, 2022)
    assert not web[0].skippable and web[0].key != plan_chunks([SourceItem("http://127.0.0.1:9/r.txt")], cfg, 2022)[0].key


def _inbox(tmp_path: Path) -> list[SourceItem]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in TEXTS:
        shutil.copy(SAMPLES / name, inbox / name)
    shutil.copy(SAMPLES / TEXTS[0], inbox / "copy-in-same-or-other-chunk.txt")
    shutil.copy(SAMPLES / TEXTS[1], inbox / "zz-second-copy.txt")
    return [SourceItem(str(p)) for p in sorted(inbox.iterdir())]


@pytest.mark.parametrize("chunk_size", [1, 2, 100])
def test_staged_publish_equals_the_in_memory_publish(tmp_path: Path, chunk_size: int) -> None:
    items = _inbox(tmp_path)
    cfg = load_settings(out_dir=str(tmp_path / "staged"), chunk_size=chunk_size, max_workers=1,
                        cache_dir=str(tmp_path / "cache"))
    chunks = plan_chunks(items, cfg, 2022)
    records = [rec for c in chunks for rec in run_chunk(c, cfg, 2022)]
    batch = plan_batch(records, chunks, 2022, {})
    assert batch.plan.held_back  # the 2021 report, in a 2022 batch
    done = publish_batch(batch, cfg, "b1", None)
    assert done.files and not done.unchanged_years

    # The same inputs, every result held in memory and published at once.
    results = drop_duplicates([process_item(it, cfg, 2022).result for it in items])
    plan = assign_years(results, 2022)
    publish_results(results, plan.year_of, plan.years, str(tmp_path / "memory"), "b2", None, {}, cfg)
    staged, memory = published_frames(tmp_path / "staged"), published_frames(tmp_path / "memory")
    for name, df in memory.items():
        assert staged[name].equals(df), name
    assert memory["reports"].height == 3  # four 2022 files, one of them twice; the 2021 one held back
    assert memory["validation_issues"].filter(memory["validation_issues"]["check"] == "duplicate_input").height == 2


def test_an_unchanged_year_is_not_published_again(tmp_path: Path) -> None:
    items = _inbox(tmp_path)
    cfg = load_settings(out_dir=str(tmp_path / "out"), chunk_size=2, max_workers=1, cache_dir=str(tmp_path / "cache"))
    out = Path(cfg.out_dir)

    def run(batch_id: str) -> tuple[list[Chunk], object]:
        chunks = plan_chunks(items, cfg, None)
        records = [rec for c in chunks for rec in (load_records(c) if c.done else run_chunk(c, cfg, None))]
        return chunks, publish_batch(plan_batch(records, chunks, None, {}), cfg, batch_id, None)

    _, first = run("b1")
    assert {f["report_year"] for f in first.files} == {2021, 2022}  # type: ignore[attr-defined]
    head, live = journal.read_head(out), {p: p.stat().st_ino for p in out.glob("*/report_year=*/*.parquet")}
    chunks, second = run("b2")
    assert all(c.done for c in chunks)  # every chunk read back
    assert second.files == [] and second.unchanged_years == [2021, 2022]  # type: ignore[attr-defined]
    assert journal.read_head(out) == head
    assert {p: p.stat().st_ino for p in out.glob("*/report_year=*/*.parquet")} == live

    # One 2021 input changes: 2021 is published again, 2022 is not.
    changed = next(it for it in items if "2021" in it.uri)
    Path(changed.uri).write_text(Path(changed.uri).read_text(encoding="utf-8").replace("2021年", "2021 年", 1),
                                 encoding="utf-8")
    _, third = run("b3")
    assert third.unchanged_years == [2022]  # type: ignore[attr-defined]
    assert {f["report_year"] for f in third.files} == {2021}  # type: ignore[attr-defined]
    assert journal.read_head(out)["years"]["2022"] == head["years"]["2022"]


def test_staged_chunks_age_out_unless_used(tmp_path: Path) -> None:
    from nianbao.runtime.chunk import prune_staging, staging_root

    cfg = load_settings(out_dir=str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    root = staging_root(cfg) / "2022"
    for name in ("used", "fresh", "old", "old-but-used"):
        (root / name).mkdir(parents=True)
    for name in ("old", "old-but-used"):
        os.utime(root / name, (1, 1))
    assert prune_staging(cfg, 2022, {"used", "old-but-used"}) == 1  # only the old one nobody used
    assert sorted(p.name for p in root.iterdir()) == ["fresh", "old-but-used", "used"]
    assert (root / "old-but-used").stat().st_mtime > 1  # marked fresh by its use


def test_a_chunk_whose_task_failed_is_recorded_failed_and_the_rest_published(tmp_path: Path) -> None:
    """A chunk task that dies (its worker lost, say) leaves its reports ``failed`` / ``crashed`` in the year's
    ``reports``, with no number; the other chunks' reports are published as if nothing happened."""
    from nianbao.publish.parquet import read_dataset
    from nianbao.runtime.batch import lost_chunk

    items = [it for it in _inbox(tmp_path) if "2021" not in it.uri]
    cfg = load_settings(out_dir=str(tmp_path / "out"), chunk_size=1, max_workers=3, cache_dir=str(tmp_path / "c"))
    chunks = plan_chunks(items, cfg, 2022)
    assert [len(c.items) for c in chunks] == [1] * 5  # a batch this small: one report per chunk
    lost, kept = chunks[0], chunks[1:]
    original = lost.folder
    records = lost_chunk(lost, RuntimeError("worker died"), cfg, 2022)
    records += [rec for c in kept for rec in run_chunk(c, cfg, 2022)]
    assert not Path(original).exists()  # the next run processes that chunk again
    publish_batch(plan_batch(records, chunks, 2022, {}), cfg, "b1", None)
    reports = read_dataset(cfg.out_dir, "reports")
    lost_uri = lost.items[0][1].uri
    row = reports.filter(reports["source_uri"] == lost_uri).row(0, named=True)
    assert (row["status"], row["error"], row["n_cells"]) == ("failed", "crashed", 0)
    assert "worker died" in row["error_message"]
    assert reports.filter(reports["status"] != "failed").height == 3  # the other 2022 reports (one copy each)
    cells = read_dataset(cfg.out_dir, "applications")
    assert lost_uri not in set(reports.filter(reports["report_id"].is_in(cells["report_id"].unique().implode()))["source_uri"])

"""Publishing: partitions swap in atomically, reruns replace, crashes never leave a broken partition."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as pads
import pytest
from conftest import CORPUS, ROOT

from nianbao.pipeline import process_bytes
from nianbao.publish import journal
from nianbao.publish.parquet import (
    STAGING,
    Lineage,
    build_frames,
    read_dataset,
    recover,
    validate_frames,
    write_partitions,
)
from schemas import DATASET_NAMES, pandera_schema

SEEDS = sorted(CORPUS.glob("seed-*.txt"))


def _publish(out: Path, batch: str, files: list[Path], allow_shrink: bool = False) -> dict[str, pl.DataFrame]:
    results = [process_bytes(f.read_bytes(), str(f)) for f in files]
    year_of = {r.report_id: r.report_year or 2022 for r in results}
    lin = Lineage(batch, None)
    frames = validate_frames(build_frames(results, year_of, lin), lin, "p")
    write_partitions(frames, out, sorted(set(year_of.values())), batch, allow_shrink=allow_shrink)
    return frames


def test_published_data_reads_back_everywhere_and_passes_schemas(tmp_path: Path) -> None:
    _publish(tmp_path, "b1", SEEDS)
    for name in DATASET_NAMES:
        df = read_dataset(tmp_path, name)
        pandera_schema(name).validate(df, lazy=True)
        arrow = pads.dataset(tmp_path / name, format="parquet", partitioning="hive").to_table()
        assert arrow.num_rows == df.height
        n = duckdb.sql(f"select count(*) from read_parquet('{tmp_path / name}/*/*.parquet', "
                       "hive_partitioning=true)").fetchall()
        assert n[0][0] == df.height
    apps = read_dataset(tmp_path, "applications")
    assert apps.height > 0 and set(apps["report_year"].unique()) <= {2021, 2022, 2023}
    meta = pl.read_parquet_metadata(next((tmp_path / "applications").glob("*/*.parquet")))
    assert "nianbao" in meta


def test_rerun_replaces_a_year_and_never_duplicates(tmp_path: Path) -> None:
    _publish(tmp_path, "b1", SEEDS)
    first = read_dataset(tmp_path, "applications").drop("batch_id").sort("report_id", "row", "applicant")
    _publish(tmp_path, "b2", SEEDS)
    second = read_dataset(tmp_path, "applications").drop("batch_id").sort("report_id", "row", "applicant")
    assert first.equals(second)
    assert {p.name for p in (tmp_path / "applications" / "report_year=2022").iterdir()} == {"part-b2.parquet"}
    assert not (tmp_path / STAGING).exists() or not any((tmp_path / STAGING).iterdir())
    # A rerun with fewer reports for 2022 leaves only those: the partition is replaced, not merged.
    _publish(tmp_path, "b3", [CORPUS / "seed-000-mulan-liuhe-2022.txt"], allow_shrink=True)
    reps = read_dataset(tmp_path, "reports")
    assert reps.filter(pl.col("report_year") == 2022).height == 1
    assert reps.filter(pl.col("report_year") == 2021).height == 1  # other years untouched


def test_recover_rolls_forward_a_committed_publish_and_drops_an_uncommitted_one(tmp_path: Path) -> None:
    _publish(tmp_path, "b1", SEEDS)
    before = read_dataset(tmp_path, "reports")
    live = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.glob("*/report_year=*/*.parquet")}
    # An uncommitted generation (its publisher died before the HEAD commit) and a dead publisher's staging
    # are discarded; neither is ever read.
    orphan = journal.version_dir(tmp_path, 2022, 99) / "reports"
    orphan.mkdir(parents=True)
    (orphan / "part-crashed.parquet").write_bytes(b"half a file")
    dead = tmp_path / journal.JOURNAL / "tmp" / "dead" / "report_year=2022"
    dead.mkdir(parents=True)
    (dead / "part-dead.parquet").write_bytes(b"half a file")
    assert read_dataset(tmp_path, "reports").equals(before)
    done = recover(tmp_path)
    assert "discarded staging dead" in done and "removed uncommitted or pruned version 99 of 2022" in done
    assert not orphan.exists() and not dead.exists()
    # A committed generation whose live partition was lost or not swapped in yet is rolled forward.
    shutil.rmtree(tmp_path / "reports" / "report_year=2022")
    assert "rolled reports report_year=2022 forward to version 1" in recover(tmp_path)
    assert {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.glob("*/report_year=*/*.parquet")} == live
    assert read_dataset(tmp_path, "reports").equals(before)


KILLER = r"""
import sys
from pathlib import Path
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from test_publish import _publish
out = Path(sys.argv[1]); files = [Path(p) for p in sys.argv[3:]]
_publish(out, sys.argv[2], files)
print("DONE")
"""


@pytest.mark.slow
def test_killing_publish_at_random_points_never_leaves_a_partial_partition(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _publish(out, "base", SEEDS)
    # Timing and batch columns differ between runs of the same inputs; everything else must not.
    volatile = ["batch_id", "seconds"]

    def stable(name: str) -> pl.DataFrame:
        df = read_dataset(out, name)
        return df.drop([c for c in volatile if c in df.columns]).sort(pl.all())

    good = {name: stable(name) for name in DATASET_NAMES}
    script = tmp_path / "killer.py"
    script.write_text(KILLER.format(root=str(ROOT), tests=str(ROOT / "tests")))
    rng = random.Random(7)
    killed = 0
    for trial in range(20):
        proc = subprocess.Popen([sys.executable, str(script), str(out), f"t{trial}", *map(str, SEEDS)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.5, 4.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        # After any kill, every dataset reads and holds exactly the same data as before (same inputs).
        for name in DATASET_NAMES:
            assert stable(name).equals(good[name]), (trial, name)
            for year_dir in (out / name).glob("report_year=*"):
                assert len(list(year_dir.glob("*.parquet"))) == 1, (trial, year_dir)
    assert killed >= 5, "the kill points never hit a running publish; widen the timing"
    recover(out)
    assert json.dumps(sorted(p.name for p in (out / "reports").iterdir()))


def test_same_year_publishes_take_turns_and_a_timeout_says_why(tmp_path: Path) -> None:
    from nianbao.publish.journal import flock as _flock
    from nianbao.publish.parquet import LOCKS, PublishLockedError

    frames = _publish(tmp_path, "b1", SEEDS[:1])
    year = int(frames["reports"]["report_year"][0])
    with _flock(tmp_path / LOCKS / f"report_year={year}.lock", None, "test"):
        with pytest.raises(PublishLockedError, match=f"report_year={year}"):
            write_partitions(frames, tmp_path, [year], "b2", lock_timeout=0.5)
        # A different year is not blocked by it.
        shifted = {k: v.with_columns(pl.col("report_year") + 1, pl.col("report_id") + "-other") for k, v in frames.items()}
        write_partitions(shifted, tmp_path, [year + 1], "b3", lock_timeout=0.5)
    assert (tmp_path / "reports" / f"report_year={year + 1}").exists()


CONCURRENT = r"""
import sys
from pathlib import Path
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from test_publish import _publish
from nianbao.errors import PublishConflictError
won = 0
for i in range(3):
    try:
        _publish(Path(sys.argv[1]), sys.argv[2] + str(i), [Path(p) for p in sys.argv[3:]])
        won += 1
    except PublishConflictError:
        pass  # the other run holds the year: this one wrote nothing
print(won)
"""


@pytest.mark.slow
def test_two_runs_of_the_same_year_at_once_leave_consistent_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = tmp_path / "conc.py"
    script.write_text(CONCURRENT.format(root=str(ROOT), tests=str(ROOT / "tests")))
    procs = [subprocess.Popen([sys.executable, str(script), str(out), name, *map(str, SEEDS)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for name in ("a", "b")]
    won = 0
    for p in procs:
        stdout, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()
        won += int(stdout.decode().split()[-1])
    assert won >= 1  # one of them wins every time they meet; the loser fails cleanly
    for name in DATASET_NAMES:
        for year_dir in (out / name).glob("report_year=*"):
            files = list(year_dir.glob("*.parquet"))
            assert len(files) == 1, year_dir
    reports = read_dataset(out, "reports")
    assert reports.height == len(SEEDS) and reports["report_id"].n_unique() == len(SEEDS)
    # Every dataset of a year comes from the same batch (no mix of the two runs' partitions).
    for year in reports["report_year"].unique():
        batches = {read_dataset(out, n).filter(pl.col("report_year") == year)["batch_id"].unique().to_list()[0]
                   for n in ("reports", "applications", "sections") if
                   read_dataset(out, n).filter(pl.col("report_year") == year).height}
        assert len(batches) == 1, (year, batches)

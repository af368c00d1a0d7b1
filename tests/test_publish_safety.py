"""Publishing never loses, multiplies or poisons data (issue 18, cases 1-4): the publish contract, one report
one year, crash-safe versioned commits with rollback, concurrent publishers. Every test compares the
published bytes or rows before and after, and the exit code where the CLI is involved."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import CORPUS, ROOT

from nianbao.batch.plan import assign_years
from nianbao.errors import NothingToPublishError, PublishConflictError, PublishRefusedError
from nianbao.exitcodes import ExitCode
from nianbao.pipeline import process_bytes
from nianbao.publish import journal
from nianbao.publish.parquet import Lineage, build_frames, read_dataset, recover, validate_frames, write_partitions
from schemas import DATASET_NAMES

SEEDS = sorted(CORPUS.glob("seed-*.txt"))  # 2021: 002; 2022: 000, 001, 003; 2023: 004
BAD = ROOT / "tests" / "fixtures" / "bad" / "truncated-half.pdf"


def frames_of(files: list[Path], batch: str, year: int | None = None) -> dict[str, pl.DataFrame]:
    results = [process_bytes(f.read_bytes(), str(f)) for f in files]
    plan = assign_years(results, year)
    lin = Lineage(batch, None)
    return validate_frames(build_frames(results, plan.year_of, lin), lin, "p")


def years_of(frames: dict[str, pl.DataFrame]) -> list[int]:
    return sorted(set(frames["reports"]["report_year"].to_list()))


def snapshot(out: Path) -> dict[str, bytes]:
    """Every published data file (live partitions) with its bytes."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob("*/report_year=*/*.parquet"))}


def canon(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop([c for c in ("seconds",) if c in df.columns]).sort(pl.all(), nulls_last=True)


# --- case 1: a wrong or empty source never wipes a year ------------------------------------------

def test_a_batch_that_read_nothing_never_replaces_a_year(tmp_path: Path) -> None:
    good = frames_of(SEEDS, "good")
    write_partitions(good, tmp_path, years_of(good), "good")
    before = snapshot(tmp_path)
    # Every report failed (a 2022 batch of broken files), and a batch with no input at all.
    failed = frames_of([BAD], "bad", 2022)
    assert failed["reports"]["status"].to_list() == ["failed"]
    with pytest.raises(NothingToPublishError, match="no input yielded a readable report"):
        write_partitions(failed, tmp_path, [2022], "bad")
    empty = frames_of([], "empty", 2022)
    with pytest.raises(NothingToPublishError):
        write_partitions(empty, tmp_path, [2022], "empty")
    assert snapshot(tmp_path) == before


def test_replacing_a_year_with_fewer_reports_needs_allow_shrink(tmp_path: Path) -> None:
    good = frames_of(SEEDS, "good")
    write_partitions(good, tmp_path, years_of(good), "good")
    before = snapshot(tmp_path)
    fewer = frames_of([CORPUS / "seed-000-mulan-liuhe-2022.txt"], "fewer", 2022)
    with pytest.raises(PublishRefusedError, match="report_year=2022 holds 3 readable reports, this batch has 1"):
        write_partitions(fewer, tmp_path, [2022], "fewer")
    assert snapshot(tmp_path) == before
    write_partitions(fewer, tmp_path, [2022], "fewer", allow_shrink=True)
    assert read_dataset(tmp_path, "reports").filter(pl.col("report_year") == 2022).height == 1


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from flows.cli import main

    rc = main(args)
    return rc, capsys.readouterr().err


def test_cli_an_empty_or_mistyped_source_exits_4_and_leaves_the_year(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    good = frames_of(SEEDS, "good")
    write_partitions(good, out, years_of(good), "good")
    before = snapshot(out)
    (tmp_path / "empty").mkdir()
    rc, err = _cli(["run", str(tmp_path / "empty"), "--year", "2022", "--out", str(out)], capsys)
    assert rc == ExitCode.NOTHING_PUBLISHED, err
    assert "nothing published" in err or "nothing to publish" in err  # the preflight or the publish contract
    assert snapshot(out) == before


# --- case 2: no fallback year ----------------------------------------------------------------------

def test_a_report_whose_year_is_unknown_is_held_back_and_touches_no_year() -> None:
    broken = process_bytes(BAD.read_bytes(), str(BAD))
    plan = assign_years([broken], None)
    assert plan.years == [] and plan.year_of == {} and plan.held_back == [broken.report_id]
    assert "year_not_found" in [p.check for p in broken.problems]
    assert broken.error == "corrupt"  # a failed report keeps the reason it failed with
    # A readable report without a year is held back too, with the code as its error.
    text = (CORPUS / "seed-000-mulan-liuhe-2022.txt").read_text(encoding="utf-8").replace("2022", "")
    r = process_bytes(text.encode(), "no-year.txt")
    r.report_year = None
    plan = assign_years([r], None)
    assert plan.years == [] and r.status == "failed" and r.error == "year_not_found" and not r.cells


def test_cli_a_failed_only_batch_without_year_exits_4_and_wipes_nothing(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    good = frames_of(SEEDS, "good")
    write_partitions(good, out, years_of(good), "good")
    before = snapshot(out)
    rc, err = _cli(["run", str(BAD), "--out", str(out)], capsys)
    assert rc == ExitCode.NOTHING_PUBLISHED, err
    assert snapshot(out) == before


# --- case 3: one report, one year; full-key joins; backfill year folders -------------------------

def test_catalog_counts_a_report_once_per_year_it_is_recorded_under(tmp_path: Path) -> None:
    from nianbao.bi import post_publish

    good = frames_of(SEEDS, "good")
    write_partitions(good, tmp_path, years_of(good), "good")
    # The same bytes recorded as a failed input of 2021 as well (a failed row carries no data, so it
    # may sit beside the readable one): the views must not multiply either.
    rid = good["reports"].filter(pl.col("report_year") == 2022)["report_id"][0]
    extra = good["reports"].filter(pl.col("report_id") == rid).with_columns(
        pl.lit(2021, pl.Int32).alias("report_year"), pl.lit("failed").alias("status"))
    dup = {n: (pl.concat([good[n].filter(pl.col("report_year") == 2021), extra]) if n == "reports"
               else good[n].filter(pl.col("report_year") == 2021)) for n in DATASET_NAMES}
    write_partitions(dup, tmp_path, [2021], "dup")
    info = post_publish(tmp_path)
    con = duckdb.connect(info["catalog"], read_only=True)
    n_reports = con.execute("select count(*) from reports").fetchone()[0]
    assert n_reports == len(SEEDS) + 1
    assert con.execute("select count(*) from report_summary").fetchone()[0] == n_reports
    per_key = con.execute("select count(*) from report_summary group by report_id, report_year having count(*) > 1")
    assert per_key.fetchall() == []


def test_a_readable_report_is_never_published_under_two_years(tmp_path: Path) -> None:
    good = frames_of(SEEDS, "good")
    write_partitions(good, tmp_path, years_of(good), "good")
    before = snapshot(tmp_path)
    # The 2021 report's rows relabelled 2024: the commit is refused, nothing changes.
    moved = {n: good[n].filter(pl.col("report_year") == 2021).with_columns(pl.lit(2024, pl.Int32).alias("report_year"))
             for n in DATASET_NAMES}
    with pytest.raises(PublishRefusedError, match="under both report_year=2024 and report_year=2021"):
        write_partitions(moved, tmp_path, [2024], "moved")
    assert snapshot(tmp_path) == before
    # The flow's plan holds such a report back before it is written (recorded with a check code).
    r = process_bytes((CORPUS / "seed-002-youyi-xinzhen-2021.txt").read_bytes(), "again.txt")
    plan = assign_years([r], None, {r.report_id: 2020})
    assert plan.year_of == {} and r.error == "published_in_other_year"


def _inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    for f in SEEDS:
        year = f.stem.rsplit("-", 1)[1]
        (inbox / year).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, inbox / year / f.name)
    # A 2021 report misfiled in the 2022 folder: held back there, published under 2021 only.
    shutil.copy(CORPUS / "seed-002-youyi-xinzhen-2021.txt", inbox / "2022" / "misfiled-2021.txt")
    return inbox


def test_cli_backfill_of_a_year_without_its_folder_is_a_usage_error(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    inbox, out = _inbox(tmp_path), tmp_path / "out"
    rc, err = _cli(["backfill", "--from", "2020", "--to", "2023", str(inbox), "--out", str(out)], capsys)
    assert rc == ExitCode.USAGE, err
    assert str(inbox / "2020") in err
    assert snapshot(out) == {}


@pytest.mark.slow
def test_cli_backfill_of_three_years_counts_every_report_once(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    inbox, out = _inbox(tmp_path), tmp_path / "out"
    rc, err = _cli(["backfill", "--from", "2021", "--to", "2023", str(inbox), "--out", str(out)], capsys)
    assert rc == ExitCode.PARTIAL, err  # published; the misfiled report was held back in 2022
    # held back in the 2022 batch: recorded in that batch's manifest, published under no year
    from nianbao.publish.lineage import read_manifests

    held = [i for m in read_manifests(out) for i in m["inputs"] if i["uri"].endswith("misfiled-2021.txt")]
    assert [(i["error"], i["partition_year"]) for i in held] == [("year_mismatch", None)], held
    con = duckdb.connect(str(out / "catalog.duckdb"), read_only=True)
    assert con.execute("select count(*) from report_summary").fetchone()[0] == len(SEEDS)
    assert con.execute("select count(*) from reports").fetchone()[0] == len(SEEDS)
    assert con.execute("select report_id from reports group by report_id having count(distinct report_year) > 1"
                       ).fetchall() == []
    reports = read_dataset(out, "reports")
    assert sorted(reports["report_year"].to_list()) == [2021, 2022, 2022, 2022, 2023]


# --- case 4: crash safety, rollback, concurrency ----------------------------------------------------

CHILD = r"""
import os, sys
from pathlib import Path
sys.path.insert(0, {root!r})
import polars as pl
from nianbao.errors import PublishConflictError
from nianbao.publish.parquet import write_partitions
out, gen = Path(sys.argv[1]), Path(sys.argv[2])
frames = {{p.stem: pl.read_parquet(p) for p in gen.glob("*.parquet")}}
years = sorted(set(frames["reports"]["report_year"].to_list()))
try:
    write_partitions(frames, out, years, gen.name, allow_shrink=True)
except PublishConflictError as exc:
    print(exc, file=sys.stderr)
    sys.exit(5)
"""


def _save(frames: dict[str, pl.DataFrame], path: Path) -> Path:
    path.mkdir(parents=True)
    for n, df in frames.items():
        df.write_parquet(path / f"{n}.parquet")
    return path


def _child(tmp_path: Path, out: Path, gen: Path, kill_at: int | None) -> subprocess.Popen[bytes]:
    script = tmp_path / "child.py"
    if not script.exists():
        script.write_text(CHILD.format(root=str(ROOT)))
    env = {k: v for k, v in os.environ.items() if k != journal.KILL_ENV}
    if kill_at is not None:
        env[journal.KILL_ENV] = str(kill_at)
    return subprocess.Popen([sys.executable, str(script), str(out), str(gen)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _year_generation(out: Path, year: int, gens: dict[str, dict[str, pl.DataFrame]]) -> str:
    """The one generation (batch) every dataset of ``year`` holds, live and committed alike; fails otherwise."""
    head = journal.read_head(out)["years"][str(year)]
    batch = head["batch_id"]
    for name in DATASET_NAMES:
        live = sorted((out / name / f"report_year={year}").glob("*.parquet"))
        version = sorted((journal.version_dir(out, year, head["version"]) / name).glob("*.parquet"))
        assert [p.name for p in live] == [p.name for p in version] == [f"part-{batch}.parquet"], (year, name)
        assert live[0].read_bytes() == version[0].read_bytes()
        got = canon(pl.read_parquet(live[0]))
        want = canon(gens[batch][name].filter(pl.col("report_year") == year))
        assert got.equals(want), (year, name, batch)
    return str(batch)


@pytest.fixture(scope="module")
def generations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, pl.DataFrame]]:
    return {"base": frames_of(SEEDS, "base"),
            "a": frames_of(SEEDS[:1] + SEEDS[2:3], "a"),           # 2021: 002, 2022: 000
            "b": frames_of(SEEDS[1:2] + SEEDS[3:5], "b"),          # 2022: 001, 003; 2023: 004
            "c": frames_of([CORPUS / "seed-001-nuomin-2022.txt"], "c")}  # 2022: 001


@pytest.mark.slow
def test_kill_9_at_every_step_boundary_lands_on_one_committed_generation(
        tmp_path: Path, generations: dict[str, dict[str, pl.DataFrame]]) -> None:
    base = tmp_path / "base"
    write_partitions(generations["base"], base, [2021, 2022, 2023], "base")
    gen_b = _save(generations["b"], tmp_path / "gens" / "b")
    results = []
    n = 0
    while True:
        n += 1
        out = tmp_path / f"k{n}"
        shutil.copytree(base, out, symlinks=True)
        before = journal.read_head(out)["seq"]
        proc = _child(tmp_path, out, gen_b, n)
        _, err = proc.communicate(timeout=300)
        if proc.returncode == 0:
            break
        assert proc.returncode == -9, err.decode()
        # Right after the kill: every live partition is whole, and the committed state is one generation.
        for name in DATASET_NAMES:
            for d in (out / name).glob("report_year=*"):
                (f,) = d.glob("*.parquet")
                pl.read_parquet(f)
        committed = journal.read_head(out)["seq"] > before
        recover(out)
        got = {y: _year_generation(out, y, generations) for y in (2021, 2022, 2023)}
        assert got == ({2021: "base", 2022: "b", 2023: "b"} if committed else dict.fromkeys((2021, 2022, 2023), "base"))
        results.append(committed)
        # The next publish after the crash starts from a clean, consistent state.
        write_partitions(generations["c"], out, [2022], "c", allow_shrink=True)
        assert _year_generation(out, 2022, generations) == "c"
        assert not any((out / journal.JOURNAL / "tmp").iterdir())
    print(f"kill -9 at each of {n - 1} step boundaries: {results.count(False)} landed on the old generation, "
          f"{results.count(True)} on the new one")
    assert n > 10, "the publish passed fewer step boundaries than expected"
    # The commit is a single boundary: killed before it, the old state; after it, the new one.
    assert results == sorted(results) and True in results and False in results


def test_a_publish_heals_every_year_a_dead_publisher_left_behind_its_commit(
        tmp_path: Path, generations: dict[str, dict[str, pl.DataFrame]]) -> None:
    out = tmp_path / "out"
    write_partitions(generations["base"], out, [2021, 2022, 2023], "base")
    good = snapshot(out)
    # What a publisher of 2023 killed after its HEAD commit leaves: live partitions not yet swapped in.
    shutil.rmtree(out / "reports" / "report_year=2023")
    (out / "applications" / "report_year=2023" / "part-base.parquet").unlink()
    write_partitions(generations["c"], out, [2022], "c", allow_shrink=True)  # another year's publish
    assert {k: v for k, v in snapshot(out).items() if "2022" not in k} == {k: v for k, v in good.items()
                                                                           if "2022" not in k}
    assert _year_generation(out, 2023, generations) == "base"


def test_rollback_restores_the_previous_version_byte_for_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              generations: dict[str, dict[str, pl.DataFrame]]) -> None:
    out = tmp_path / "out"
    write_partitions(generations["base"], out, [2021, 2022, 2023], "base")
    good = snapshot(out)
    write_partitions(generations["c"], out, [2022], "c", allow_shrink=True)  # a bad publish of 2022
    assert snapshot(out) != good
    rc, err = _cli(["rollback", "--year", "2022", "--out", str(out)], capsys)
    assert rc == 0, err
    assert snapshot(out) == good
    assert _year_generation(out, 2022, generations) == "base"
    # Nothing earlier to go back to: refused, exit 4, nothing changes.
    rc, err = _cli(["rollback", "--year", "2022", "--out", str(out)], capsys)
    assert rc == ExitCode.NOTHING_PUBLISHED and "no earlier version" in err
    assert snapshot(out) == good


def test_an_output_published_before_the_journal_can_be_rolled_back_to(
        tmp_path: Path, generations: dict[str, dict[str, pl.DataFrame]]) -> None:
    out = tmp_path / "out"
    write_partitions(generations["base"], out, [2021, 2022, 2023], "base")
    shutil.rmtree(out / journal.JOURNAL)  # what an older nianbao left: live partitions only
    legacy = snapshot(out)
    assert read_dataset(out, "reports").height == len(SEEDS)
    write_partitions(generations["c"], out, [2022], "c", allow_shrink=True)
    assert journal.read_head(out)["years"]["2022"]["history"] == [0]  # the legacy data became version 0
    assert read_dataset(out, "reports").height == len(SEEDS) - 2  # 2021 and 2023 still read from live
    journal.rollback(out, 2022, list(DATASET_NAMES))
    assert snapshot(out) == legacy


def test_a_second_publisher_of_the_same_year_fails_cleanly(tmp_path: Path,
                                                           generations: dict[str, dict[str, pl.DataFrame]]) -> None:
    out = tmp_path / "out"
    write_partitions(generations["base"], out, [2021, 2022, 2023], "base")
    before = snapshot(out)
    with journal.flock(out / journal.LOCKS / "report_year=2022.lock", None, "test"):
        with pytest.raises(PublishConflictError, match="report_year=2022"):
            write_partitions(generations["c"], out, [2022], "c", allow_shrink=True)
        assert snapshot(out) == before
        # Another year is not blocked.
        other = {n: df.filter(pl.col("report_year") == 2023) for n, df in generations["b"].items()}
        write_partitions(other, out, [2023], "b")
    assert _year_generation(out, 2023, generations) == "b"


def test_cli_a_publish_while_another_run_holds_the_year_exits_5(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               generations: dict[str, dict[str, pl.DataFrame]]
                                                               ) -> None:
    out = tmp_path / "out"
    write_partitions(generations["base"], out, [2021, 2022, 2023], "base")
    before = snapshot(out)
    with journal.flock(out / journal.LOCKS / "report_year=2022.lock", None, "test"):
        rc, err = _cli(["run", str(CORPUS / "seed-001-nuomin-2022.txt"), "--year", "2022", "--out", str(out),
                        "--allow-shrink"], capsys)
    assert rc == ExitCode.PUBLISH_CONFLICT, err
    assert "being published by another run" in err
    assert snapshot(out) == before


@pytest.mark.slow
def test_50_random_kill_trials_with_two_concurrent_writers(tmp_path: Path,
                                                           generations: dict[str, dict[str, pl.DataFrame]]) -> None:
    base = tmp_path / "base"
    write_partitions(generations["base"], base, [2021, 2022, 2023], "base")
    only = {y: {g: {n: df.filter(pl.col("report_year") == y) for n, df in generations[g].items()} for g in ("a", "b")}
            for y in (2022, 2023)}
    gens = {"same": (_save(only[2022]["a"], tmp_path / "gens" / "same" / "a"),
                     _save(only[2022]["b"], tmp_path / "gens" / "same" / "b")),
            "different": (_save(only[2022]["a"], tmp_path / "gens" / "diff" / "a"),
                          _save(only[2023]["b"], tmp_path / "gens" / "diff" / "b"))}
    rng = random.Random(18)
    tally = {"trials": 0, "killed": 0, "conflict": 0, "completed": 0}
    for trial in range(50):
        kind = "same" if trial % 2 == 0 else "different"
        out = tmp_path / f"t{trial}"
        shutil.copytree(base, out, symlinks=True)
        kills = [rng.choice([None, rng.randint(1, 24)]) for _ in range(2)]
        procs = [_child(tmp_path, out, g, k) for g, k in zip(gens[kind], kills)]
        codes = []
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode in (0, -9, 5), err.decode()
            codes.append(p.returncode)
        tally["trials"] += 1
        tally["killed"] += codes.count(-9)
        tally["conflict"] += codes.count(5)
        tally["completed"] += codes.count(0)
        recover(out)
        got = {y: _year_generation(out, y, generations) for y in (2021, 2022, 2023)}
        assert got[2021] == "base", (trial, got)
        if kind == "same":
            assert got[2023] == "base"
            # A writer that conflicted never lands; one killed may have died after its commit.
            landed = {g for g, c in zip("ab", codes) if c in (0, -9)}
            assert got[2022] in (landed if 0 in codes else landed | {"base"}), (trial, codes, got)
        else:
            for year, g, c in ((2022, "a", codes[0]), (2023, "b", codes[1])):
                assert got[year] == g if c == 0 else got[year] in {"base", g}, (trial, codes, got)
        shutil.rmtree(out)
    print("kill trials:", tally)
    assert tally["killed"] >= 20 and tally["completed"] >= 20

"""The versioned publish journal of a local output folder: one atomic commit per publish.

Layout (everything but the live partitions sits under ``<out>/_journal/``, which no reader globs)::

    <out>/<dataset>/report_year=<Y>/part-<batch>.parquet     live partitions (what DuckDB, polars, pyarrow read)
    <out>/_journal/HEAD.json                                  the commit point: the current version of every year
    <out>/_journal/versions/report_year=<Y>/v<NNNNNN>/       one immutable, complete generation of a year:
        VERSION.json, <dataset>/part-<batch>.parquet          every dataset's partition and its metadata
    <out>/_journal/tmp/<token>/                               a live publish's staging (removed when it dies)
    <out>/_journal/log.jsonl                                  one line per commit (history, informational)
    <out>/.locks/report_year=<Y>.lock                         the year's publisher lock (flock)

A publish, holding the locks of its years: (1) recovers those years (live == HEAD), (2) checks the
publish contract (``nianbao.contract``), (3) writes each year's new generation to its staging and
fsyncs it, (4) renames it to ``versions/.../v<N+1>`` (N: the highest version ever made for the year),
(5) **commits**: under the short ``HEAD.lock``, re-reads HEAD, checks that no readable report of the
batch is published under another year, and replaces HEAD.json atomically (``os.replace``) with the new
versions and ``seq + 1``, (6) materializes each live partition from its version by hard links (a new
directory exchanged with the live one by ``renameat2(RENAME_EXCHANGE)``), (7) prunes versions beyond
``keep_versions``.

HEAD.json is the write-ahead record: before step 5 nothing a reader sees has changed and the new version
directory is an orphan that recovery deletes (roll back); after it recovery makes every live partition
equal the version HEAD names (roll forward), by comparing the live files with the version's, never by
looking at what a dead publisher left in its staging, so it cannot put back an older partition nor roll
a stale stage over newer data. Version numbers only grow; HEAD names exactly one complete version per
year, so every year always reads as exactly one generation.

``rollback`` makes the previous version of a year current again in one commit (the same files, so the
year reads byte for byte as before the bad publish).

Kill points for tests: ``NIANBAO_PUBLISH_KILL_AT=<n or step name>`` SIGKILLs the publishing process at
the n-th step boundary it passes (or the first one of that name); see ``step``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from nianbao.errors import NothingToRollBackError, ReportInOtherYearError
from nianbao.fsio import atomic_write, fsync_dir
from nianbao.publish.fsutil import PublishLockedError, exchange_dirs, flock, link_or_copy, write_durable

JOURNAL = "_journal"
LOCKS = ".locks"
HEAD_FILE = "HEAD.json"
VERSION_FILE = "VERSION.json"
KEEP_VERSIONS = 5
KILL_ENV = "NIANBAO_PUBLISH_KILL_AT"

_steps_passed = 0


def step(name: str) -> None:
    """A step boundary of the protocol. With ``NIANBAO_PUBLISH_KILL_AT`` set to this boundary's number
    (counted from 1 in this process) or its name, the process SIGKILLs itself here (a real kill -9, for
    the crash tests; never set in production)."""
    global _steps_passed
    _steps_passed += 1
    at = os.environ.get(KILL_ENV)
    if at and at in (name, str(_steps_passed)):
        os.kill(os.getpid(), signal.SIGKILL)


def _replace_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True))
    fsync_dir(path.parent)  # the rename itself durable: HEAD.json is the commit


# --- paths and HEAD ------------------------------------------------------------------------------

def journal_dir(out: Path) -> Path:
    return out / JOURNAL


def versions_dir(out: Path, year: int) -> Path:
    return out / JOURNAL / "versions" / f"report_year={year}"


def version_dir(out: Path, year: int, version: int) -> Path:
    return versions_dir(out, year) / f"v{version:06d}"


def live_dir(out: Path, dataset: str, year: int) -> Path:
    return out / dataset / f"report_year={year}"


def read_head(out: Path) -> dict[str, Any]:
    """The committed state: ``{"seq": n, "years": {"2022": {"version", "history", "seq", ...VERSION.json}}}``."""
    path = out / JOURNAL / HEAD_FILE
    if not path.exists():
        return {"seq": 0, "years": {}}
    head: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return head


def read_version(out: Path, year: int, version: int) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((version_dir(out, year, version) / VERSION_FILE).read_text(encoding="utf-8"))
    return meta


def _existing_versions(out: Path, year: int) -> list[int]:
    root = versions_dir(out, year)
    if not root.exists():
        return []
    return sorted(int(p.name[1:]) for p in root.iterdir() if p.name.startswith("v") and p.name[1:].isdigit())


# --- recovery ------------------------------------------------------------------------------------

def _live_matches(live: Path, src: Path) -> bool:
    """True when the live partition holds exactly the version's files (same names, same inodes or bytes)."""
    if not live.is_dir():
        return False
    want = {p.name: p for p in src.iterdir()}
    have = {p.name: p for p in live.iterdir()}
    if set(want) != set(have):
        return False
    for name, p in want.items():
        a, b = p.stat(), have[name].stat()
        if (a.st_ino, a.st_dev) != (b.st_ino, b.st_dev) and (a.st_size != b.st_size or
                                                             p.read_bytes() != have[name].read_bytes()):
            return False
    return True


def materialize(out: Path, dataset: str, year: int, version: int, scratch: Path) -> bool:
    """Make the live partition of (dataset, year) hold exactly the version's files; return True if it changed.

    A new directory of hard links is exchanged with the live one in one ``renameat2``; the old one
    then sits in ``scratch`` and is deleted. Killed anywhere here, the live partition is whole (old or
    new) and the next recovery compares it with HEAD again."""
    src = version_dir(out, year, version) / dataset
    live = live_dir(out, dataset, year)
    if _live_matches(live, src):
        return False
    new = scratch / f"{dataset}.report_year={year}"
    if new.exists():
        shutil.rmtree(new)
    new.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        link_or_copy(f, new / f.name)
    fsync_dir(new)
    live.parent.mkdir(parents=True, exist_ok=True)
    if live.exists():
        exchange_dirs(new, live)
        step("exchanged")
        shutil.rmtree(new)  # the previous live partition: its bytes stay in its version directory
        step("old_removed")
    else:
        os.rename(new, live)
        step("exchanged")
    fsync_dir(live.parent)
    return True


def _recover_years(out: Path, years: list[int], datasets: list[str], scratch: Path) -> list[str]:
    """For years whose lock this process holds: roll forward (live == HEAD) and delete orphan versions."""
    done: list[str] = []
    head = read_head(out)
    for year in years:
        state = head["years"].get(str(year))
        keep = set() if state is None else {state["version"], *state["history"]}
        for v in _existing_versions(out, year):
            if v not in keep:  # never committed (a publisher died before HEAD), or pruned
                shutil.rmtree(version_dir(out, year, v), ignore_errors=True)
                done.append(f"removed uncommitted or pruned version {v} of {year}")
        if state is None:
            continue
        for name in datasets:
            if materialize(out, name, year, state["version"], scratch):
                done.append(f"rolled {name} report_year={year} forward to version {state['version']}")
    return done


def clean_tmp(out: Path) -> list[str]:
    """Delete the staging of publishes that are no longer running (their token lock is free)."""
    done: list[str] = []
    root = out / JOURNAL / "tmp"
    if not root.exists():
        return done
    for entry in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            with flock(root / f"{entry.name}.lock", 0.0, f"staging {entry.name}"):
                shutil.rmtree(entry, ignore_errors=True)
                (root / f"{entry.name}.lock").unlink(missing_ok=True)
                done.append(f"discarded staging {entry.name}")
        except PublishLockedError:
            continue  # a live publish
    return done


def recover(out: Path, datasets: list[str], lock_timeout: float | None = 0.0, skip: frozenset[int] = frozenset()
            ) -> list[str]:
    """Bring every year whose lock is free (and not in ``skip``) back to its committed state; return what was done."""
    out = Path(out)
    done = clean_tmp(out)
    head = read_head(out)
    years = sorted({int(y) for y in head["years"]} | {
        int(p.name.split("=", 1)[1]) for p in (out / JOURNAL / "versions").glob("report_year=*")} - skip)
    for year in years:
        try:
            with _session(out, [year], lock_timeout) as scratch:
                done += _recover_years(out, [year], datasets, scratch)
        except PublishLockedError:
            continue
    return done


@contextmanager
def _session(out: Path, years: list[int], lock_timeout: float | None) -> Iterator[Path]:
    """Hold the locks of ``years`` (sorted: two runs never wait on each other crosswise) and a private
    scratch directory; yield the scratch directory, removed at the end."""
    with ExitStack() as stack:
        for year in sorted(set(years)):
            stack.enter_context(flock(out / LOCKS / f"report_year={year}.lock", lock_timeout,
                                      f"report_year={year} of {out}"))
        token = f"{os.getpid()}-{uuid.uuid4().hex[:10]}"
        root = out / JOURNAL / "tmp"
        stack.enter_context(flock(root / f"{token}.lock", 0.0, f"staging {token}"))
        scratch = root / token
        scratch.mkdir(parents=True, exist_ok=True)
        yield scratch
        shutil.rmtree(scratch, ignore_errors=True)
        (root / f"{token}.lock").unlink(missing_ok=True)


# --- commit --------------------------------------------------------------------------------------

def _readable_ids(out: Path, year: int, version: int) -> set[str]:
    meta = read_version(out, year, version)
    return set(meta.get("readable_ids", []))


def _check_one_year(out: Path, head: dict[str, Any], versions: dict[int, int]) -> None:
    """Refuse a commit that would leave a readable report published under two years."""
    ids = {int(y): _readable_ids(out, int(y), st["version"]) for y, st in head["years"].items()}
    ids.update({y: _readable_ids(out, y, v) for y, v in versions.items()})
    for year in sorted(versions):
        for other, other_ids in sorted(ids.items()):
            both = ids[year] & other_ids if other != year else set()
            if both:
                raise ReportInOtherYearError(
                    f"report {sorted(both)[0]} (and {len(both) - 1} more) would be published under both "
                    f"report_year={year} and report_year={other}; a report is published under one year only")


def commit(out: Path, versions: dict[int, int], what: str, *, check: bool = True) -> dict[str, Any]:
    """Make ``versions`` ({year: version}) current in one atomic replace of HEAD.json; return the new HEAD.

    Each version's previous one goes to the front of its history (a rollback passes the version found
    in the history and it is taken out of it instead)."""
    with flock(out / JOURNAL / "HEAD.lock", 120.0, f"the journal HEAD of {out}"):
        head = read_head(out)
        if check:  # not when adopting data published before the journal: that records what is there
            _check_one_year(out, head, versions)
        seq = int(head["seq"]) + 1
        for year, version in versions.items():
            old = head["years"].get(str(year))
            history: list[int] = [] if old is None else [old["version"], *old["history"]]
            if version in history:  # a rollback: the current version is dropped, not kept as "previous"
                history = history[history.index(version) + 1:]
            meta = read_version(out, year, version)
            head["years"][str(year)] = {"version": version, "history": history, "seq": seq,
                                        **{k: v for k, v in meta.items() if k != "readable_ids"}}
        head["seq"] = seq
        _replace_json(out / JOURNAL / HEAD_FILE, head)
        step("committed")
        with open(out / JOURNAL / "log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"seq": seq, "what": what, "versions": {str(y): v for y, v in versions.items()},
                                 "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n")
    return head


def _prune(out: Path, years: list[int], keep_versions: int) -> None:
    head = read_head(out)
    for year in years:
        state = head["years"].get(str(year))
        if state is None:
            continue
        keep = {state["version"], *state["history"][:max(keep_versions - 1, 0)]}
        for v in _existing_versions(out, year):
            if v not in keep:
                shutil.rmtree(version_dir(out, year, v), ignore_errors=True)
        if len(state["history"]) > keep_versions - 1:
            with flock(out / JOURNAL / "HEAD.lock", 120.0, f"the journal HEAD of {out}"):
                fresh = read_head(out)
                cur = fresh["years"].get(str(year))
                if cur is not None and cur["version"] == state["version"]:
                    cur["history"] = cur["history"][:max(keep_versions - 1, 0)]
                    _replace_json(out / JOURNAL / HEAD_FILE, fresh)
    step("pruned")


def stage_version(out: Path, year: int, scratch: Path, files: dict[str, tuple[str, bytes | Path]],
                  meta: dict[str, Any]) -> int:
    """Write one year's generation (``files``: dataset -> (file name, Parquet bytes or a file already written
    on the output's file system, moved in)) durably, then rename it into ``versions/`` as the next version
    number; return that number (not committed yet)."""
    stage = scratch / f"report_year={year}"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for dataset, (name, data) in files.items():
        (stage / dataset).mkdir()
        if isinstance(data, Path):
            with open(data, "rb") as fh:
                os.fsync(fh.fileno())
            os.rename(data, stage / dataset / name)
        else:
            write_durable(stage / dataset / name, data)
        fsync_dir(stage / dataset)
        step("staged_file")
    write_durable(stage / VERSION_FILE, json.dumps(meta, ensure_ascii=False, indent=1).encode())
    fsync_dir(stage)
    head = read_head(out)
    state = head["years"].get(str(year))
    known = _existing_versions(out, year) + ([] if state is None else [state["version"], *state["history"]])
    version = max(known, default=0) + 1
    target = version_dir(out, year, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(stage, target)
    fsync_dir(target.parent)
    step("version_written")
    return version


def adopt_legacy(out: Path, year: int, datasets: list[str], scratch: Path, meta: dict[str, Any]) -> int | None:
    """A year published before the journal existed (live partitions, no HEAD entry) becomes version 0,
    by hard links, so the first journal publish can be rolled back to it. Return 0, or None if no data."""
    if str(year) in read_head(out)["years"] or not any(live_dir(out, d, year).is_dir() for d in datasets):
        return None
    stage = scratch / f"legacy.report_year={year}"
    stage.mkdir(parents=True)
    for d in datasets:
        (stage / d).mkdir()
        if live_dir(out, d, year).is_dir():
            for f in sorted(live_dir(out, d, year).glob("*.parquet")):
                link_or_copy(f, stage / d / f.name)
    write_durable(stage / VERSION_FILE, json.dumps(meta, ensure_ascii=False).encode())
    target = version_dir(out, year, 0)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    os.rename(stage, target)
    step("legacy_adopted")
    return 0


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish_versions(out: Path, staged: dict[int, dict[str, tuple[str, bytes | Path]]], metas: dict[int, dict[str, Any]],
                     datasets: list[str], *, scratch: Path, legacy_meta: dict[int, dict[str, Any]],
                     keep_versions: int = KEEP_VERSIONS, what: str = "publish") -> dict[str, Any]:
    """Steps 3-7 for the years of ``staged`` (their locks held by the caller's ``_session``)."""
    versions: dict[int, int] = {}
    adopted: dict[int, int] = {}
    for year in sorted(staged):
        legacy = adopt_legacy(out, year, datasets, scratch, legacy_meta.get(year, {}))
        if legacy is not None:
            adopted[year] = legacy
        versions[year] = stage_version(out, year, scratch, staged[year], metas[year])
    if adopted:  # the legacy data becomes the version the first publish can be rolled back to
        commit(out, adopted, "adopt legacy partitions", check=False)
    head = commit(out, versions, what)
    for year, version in sorted(versions.items()):
        for name in datasets:
            materialize(out, name, year, version, scratch)
    _prune(out, sorted(versions), keep_versions)
    return head


@contextmanager
def session(out: Path, years: list[int], datasets: list[str], lock_timeout: float | None) -> Iterator[Path]:
    """Lock ``years``, recover them (and every other year no live run holds: a publisher that died after its
    commit leaves its year's live partitions behind HEAD until then), clean dead staging; yield a private
    scratch directory."""
    with _session(out, years, lock_timeout) as scratch:
        _recover_years(out, years, datasets, scratch)
        recover(out, datasets, 0.0, skip=frozenset(years))
        yield scratch


def rollback(out: Path, year: int, datasets: list[str], lock_timeout: float | None = 0.0) -> dict[str, Any]:
    """Make the previous version of ``year`` current again (one commit); return ``{"year", "from", "to", "seq"}``.

    Raises ``PublishRefusedError`` when the year has no earlier version kept."""
    out = Path(out)
    with session(out, [year], datasets, lock_timeout) as scratch:
        state = read_head(out)["years"].get(str(year))
        if state is None or not state["history"]:
            raise NothingToRollBackError(
                f"report_year={year} of {out} has no earlier version to roll back to "
                f"({'never published' if state is None else 'only version ' + str(state['version']) + ' is kept'})")
        target = state["history"][0]
        head = commit(out, {year: target}, f"rollback report_year={year} from {state['version']}")
        for name in datasets:
            materialize(out, name, year, target, scratch)
        _prune(out, [year], KEEP_VERSIONS)
    return {"year": year, "from": state["version"], "to": target, "seq": head["seq"]}


def committed_files(out: Path, dataset: str) -> list[Path] | None:
    """The files of ``dataset`` that HEAD names (one version per year), or None when there is no journal."""
    head = read_head(out)
    if not head["years"]:
        return None
    files: list[Path] = []
    for year, state in sorted(head["years"].items()):
        src = version_dir(out, int(year), state["version"]) / dataset
        files += sorted(src.glob("*.parquet"))
    # Years published before the journal existed and never since: their live partitions.
    for d in sorted((out / dataset).glob("report_year=*")):
        if d.name.split("=", 1)[1] not in head["years"]:
            files += sorted(d.glob("*.parquet"))
    return files


__all__ = ["KEEP_VERSIONS", "KILL_ENV", "PublishLockedError", "commit", "committed_files", "exchange_dirs", "flock",
           "materialize", "publish_versions", "read_head", "recover", "rollback", "session", "step"]

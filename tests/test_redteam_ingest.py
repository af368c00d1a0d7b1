"""Red team, ingestion and the command (issue 18 cases 5-8, issue 17 item 4, issue 14 item 4).

Each test states the fault, then asserts what was published afterwards (byte-identical to before, or
exactly the expected rows) and, where the case is about the command, the exit code of the real
``nianbao`` executable run as a subprocess. Faults are injected (a file changed between hash and parse,
a redirect to another loopback server, a real signal), never left to timing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT

from nianbao.exitcodes import ExitCode
from nianbao.publish.parquet import read_dataset
from schemas import DATASET_NAMES

SAMPLES = ROOT / "data" / "samples"
GOOD = [SAMPLES / "seed-000-mulan-liuhe-2022.txt", SAMPLES / "seed-001-nuomin-2022.txt"]
OTHER = SAMPLES / "seed-003-baoqing-qixingpao-2022.txt"
NIANBAO = Path(sys.executable).parent / "nianbao"


def run_cli(args: list[str], tmp: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command, with its own Prefect home (its embedded server must not share a database)."""
    full = {**os.environ, "PREFECT_HOME": str(tmp / "prefect-home"), "NIANBAO_CACHE_DIR": str(tmp / "cache"), **env}
    return subprocess.run([str(NIANBAO), *args], capture_output=True, text=True, timeout=timeout, env=full)


def snapshot(out: Path) -> dict[str, str]:
    """sha256 of every published dataset file (what a BI tool reads)."""
    files = {}
    for name in DATASET_NAMES:
        for p in sorted((out / name).rglob("*")) if (out / name).exists() else []:
            if p.is_file():
                files[str(p.relative_to(out))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return files


def one_line_no_traceback(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder holding a published 2022 (two reports), made by the real command."""
    tmp = tmp_path_factory.mktemp("base")
    out = tmp / "out"
    proc = run_cli(["run", *map(str, GOOD), "--year", "2022", "--out", str(out)], tmp)
    assert proc.returncode == ExitCode.OK, proc.stderr
    assert len(read_dataset(out, "reports")) == 2
    return out


@pytest.fixture()
def previous(published: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(published, out, symlinks=True)
    return out


# --- case 5: content identity from the bytes parsed -------------------------------------------------------

def test_a_file_changed_between_hash_and_parse_is_published_as_the_bytes_hashed(tmp_path: Path) -> None:
    from nianbao.batch.cache import ResultCache, result_key
    from nianbao.ingest.sources import SourceItem
    from nianbao.pipeline import process_bytes
    from nianbao.publish.parquet import publish_results as publish_batch
    from nianbao.runtime.report import ingest_item, process_ingested
    from nianbao.settings import Settings

    cfg = Settings(cache_dir=str(tmp_path / "cache"), report_timeout_seconds=60)
    path = tmp_path / "report.txt"
    original, replacement = GOOD[0].read_bytes(), OTHER.read_bytes()
    path.write_bytes(original)
    ing = ingest_item(SourceItem(str(path)), cfg)
    path.write_bytes(replacement)  # the fault: the file changes after it was hashed, before it is parsed
    outcome = process_ingested(ing, cfg, 2022)
    expected = process_bytes(original, str(path))
    r = outcome.result
    assert ing.sha256 == hashlib.sha256(original).hexdigest() == r.report_id
    assert sorted((c.table, c.key1, c.key2, c.raw) for c in r.cells) == \
        sorted((c.table, c.key1, c.key2, c.raw) for c in expected.cells)
    cached = ResultCache.for_settings(cfg).get(result_key(ing.sha256, 2022, r.parser_version), r.parser_version)
    assert cached is not None and cached.report_id == ing.sha256 and len(cached.cells) == len(expected.cells)
    out = tmp_path / "out"
    publish_batch([r], {r.report_id: 2022}, [2022], str(out), "b1", None, {"batch_id": "b1"}, cfg)
    reports = read_dataset(out, "reports")
    assert reports["report_id"].to_list() == [hashlib.sha256(original).hexdigest()]
    assert reports["n_cells"].to_list() == [len(expected.cells)]
    # the next run sees the new bytes under their own hash
    again = process_ingested(ingest_item(SourceItem(str(path)), cfg), cfg, 2022).result
    assert again.report_id == hashlib.sha256(replacement).hexdigest() != r.report_id
    assert not list((tmp_path / "cache" / "tmp" / "ingest").glob("*"))  # private copies removed


def test_a_file_changed_while_it_is_read_is_never_published_or_cached(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from nianbao.ingest import local
    from nianbao.ingest.sources import SourceItem
    from nianbao.runtime.report import ingest_item, process_ingested
    from nianbao.settings import Settings

    cfg = Settings(cache_dir=str(tmp_path / "cache"))
    path = tmp_path / "report.txt"
    path.write_bytes(GOOD[0].read_bytes())
    real = local._chunks

    def changing(fd: int, limit: int):  # type: ignore[no-untyped-def]
        for i, chunk in enumerate(real(fd, limit)):
            if i == 0:
                with open(path, "ab") as fh:  # the fault: a writer appends while nianbao copies
                    fh.write("\n追加的内容".encode() * 50)
            yield chunk

    monkeypatch.setattr(local, "CHUNK", 1024)
    monkeypatch.setattr(local, "_chunks", changing)
    ing = ingest_item(SourceItem(str(path)), cfg)
    assert (ing.how, ing.error, ing.sha256) == ("failed", "changed_while_read", None)
    outcome = process_ingested(ing, cfg, 2022)
    assert (outcome.result.status, outcome.result.cells) == ("failed", [])
    assert not (tmp_path / "cache" / "results").exists()  # nothing cached
    # the private copy itself altered after hashing: the child refuses to parse it
    monkeypatch.setattr(local, "_chunks", real)
    ing = ingest_item(SourceItem(str(path)), cfg)
    assert ing.path is not None and ing.how == "local"
    os.chmod(ing.path, 0o600)
    Path(ing.path).write_bytes(OTHER.read_bytes())
    r = process_ingested(ing, cfg, 2022).result
    assert (r.status, r.error, r.cells) == ("failed", "changed_while_read", [])
    assert not (tmp_path / "cache" / "results").exists()


# --- case 6 and issue 14 item 4: every entry accounted for, nothing hangs ---------------------------------

@pytest.fixture(scope="module")
def accounting(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """One run of the command over an inbox full of traps, a FIFO given directly and a GB18030 manifest
    naming /dev/zero: returns the process, the inbox and the output."""
    tmp = tmp_path_factory.mktemp("accounting")
    inbox, year = tmp / "inbox", tmp / "inbox" / "2022"
    (year / "deep").mkdir(parents=True)
    (inbox / "2021").mkdir()
    shutil.copy(GOOD[0], year / "good.txt")
    shutil.copy(GOOD[1], year / "report-without-extension")
    shutil.copy(OTHER, year / "deep" / "report.md")
    (year / "data.json").write_text('{"reports": 3}', encoding="utf-8")
    (year / "table.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (year / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    (year / "blob").write_bytes(bytes(range(256)) * 4)  # no extension, binary
    (year / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    os.mkfifo(year / "pipe.txt")  # a FIFO with a report's name: opening it would block
    (year / "dangling.txt").symlink_to(tmp / "nowhere.txt")
    (year / "self-loop").symlink_to("self-loop")
    (year / "deep" / "up").symlink_to("..")  # a folder loop
    outside = tmp / "elsewhere"
    outside.mkdir()
    shutil.copy(SAMPLES / "seed-002-youyi-xinzhen-2021.txt", outside / "linked-2021.txt")
    (year / "linked").symlink_to(outside)  # a symlinked folder: followed
    (inbox / "loose.txt").write_bytes(GOOD[0].read_bytes())  # outside 2022/
    shutil.copy(SAMPLES / "seed-002-youyi-xinzhen-2021.txt", inbox / "2021" / "r.txt")
    fifo = tmp / "given.fifo"
    os.mkfifo(fifo)
    named = tmp / "manifest" / "年报.txt"
    named.parent.mkdir()
    shutil.copy(SAMPLES / "seed-004-linjiang-huashu-2023.txt", named)
    manifest = tmp / "manifest" / "清单.csv"
    manifest.write_bytes("uri,agency\n年报.txt,某某县人民政府\n/dev/zero,设备\n".encode("gb18030"))
    out = tmp / "out"
    started = time.monotonic()
    proc = run_cli(["run", str(inbox), str(fifo), str(manifest), "--year", "2022", "--out", str(out)], tmp,
                   timeout=240)
    proc.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    return proc, tmp, out


def _rows(out: Path) -> dict[str, tuple[str, str | None]]:
    reports = read_dataset(out, "reports")
    return {Path(u).name: (s, e) for u, s, e in zip(reports["source_uri"], reports["status"], reports["error"])}


def _held(out: Path) -> dict[str, tuple[str, str | None]]:
    """Inputs held back (in no partition): the batch manifest records them."""
    import json

    (manifest,) = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "_manifests").glob("*.json")]
    return {Path(i["uri"]).name: (i["status"], i["error"]) for i in manifest["inputs"] if i["partition_year"] is None}


def test_a_folder_walk_reads_every_report_and_lists_every_other_file_as_skipped(accounting) -> None:  # type: ignore[no-untyped-def]
    proc, _tmp, out = accounting
    assert proc.returncode == ExitCode.PARTIAL, proc.stderr  # published, but some inputs were skipped
    rows = _rows(out)
    read = {k for k, (s, _) in rows.items() if s in ("ok", "partial")}
    assert {"good.txt", "report-without-extension", "report.md"} <= read
    for name in ("data.json", "table.csv", "scan.png", "blob"):
        assert rows[name] == ("skipped", "unsupported_format"), name
    assert rows[".DS_Store"] == ("skipped", "hidden")
    assert rows["loose.txt"] == ("skipped", "outside_year_folder")
    assert "r.txt" not in rows and "2021" not in rows  # another year's folder: manifest and summary only
    assert "skipped:" in proc.stdout and "unsupported_format 4" in proc.stdout and "not read: 1" in proc.stdout
    manifest = next((out / "_manifests").glob("*.json")).read_text(encoding="utf-8")
    assert '"other_year_folder"' in manifest and "data.json" in manifest


def test_fifos_devices_and_symlinks_never_hang_and_are_recorded(accounting) -> None:  # type: ignore[no-untyped-def]
    proc, _tmp, out = accounting
    assert proc.returncode == ExitCode.PARTIAL and proc.seconds < 200  # type: ignore[attr-defined]
    rows = _rows(out)
    assert rows["pipe.txt"] == ("skipped", "not_regular_file")
    assert rows["given.fifo"] == ("skipped", "not_regular_file")
    assert rows["zero"] == ("skipped", "not_regular_file")  # /dev/zero named by the manifest
    assert rows["dangling.txt"] == ("skipped", "symlink_dangling")
    assert rows["self-loop"] == ("skipped", "symlink_loop")
    assert rows["up"] == ("skipped", "symlink_loop")
    # the symlinked folder was walked: its 2021 report was read, and held back from the 2022 batch
    assert "linked-2021.txt" not in rows and _held(out)["linked-2021.txt"] == ("failed", "year_mismatch")


def test_a_gb18030_manifest_is_read_with_its_chinese_names(accounting) -> None:  # type: ignore[no-untyped-def]
    proc, _tmp, out = accounting
    assert _held(out)["年报.txt"] == ("failed", "year_mismatch")  # read: a 2023 report held back from 2022
    assert proc.returncode == ExitCode.PARTIAL


def test_a_manifest_in_no_known_encoding_is_a_usage_error_before_anything(previous: Path, tmp_path: Path) -> None:
    before = snapshot(previous)
    bad = tmp_path / "m.csv"
    bad.write_bytes(b"uri\n\x81\x30\xff\xfe.txt\n")
    proc = run_cli(["run", str(bad), "--out", str(previous)], tmp_path, timeout=30)
    assert proc.returncode == ExitCode.USAGE
    assert "neither UTF-8 nor GB18030" in one_line_no_traceback(proc)
    assert snapshot(previous) == before


def test_an_unreadable_subfolder_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root nothing is unreadable by permissions: the failure of listing one folder is injected."""
    from nianbao.ingest import walk
    from nianbao.ingest.sources import expand_sources

    (tmp_path / "in" / "locked").mkdir(parents=True)
    shutil.copy(GOOD[0], tmp_path / "in" / "a.txt")
    shutil.copy(GOOD[1], tmp_path / "in" / "locked" / "b.txt")
    real = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(walk.os, "scandir", scandir)
    items = {Path(i.uri).name: i.skip for i in expand_sources([str(tmp_path / "in")], 2022)}
    assert items == {"a.txt": None, "locked": "unreadable"}


# --- issue 17 item 4, case 7: usage errors before any work, fast, one line ----------------------------------

@pytest.mark.parametrize("case", ["year-1800", "year-next-next", "out-parent-is-a-file", "out-in-proc",
                                  "out-inside-input", "missing-input", "negative-timeout", "zero-timeout"])
def test_usage_errors_fail_fast_with_one_line_and_change_nothing(case: str, previous: Path, tmp_path: Path) -> None:
    before = snapshot(previous)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(GOOD[0], inbox / "a.txt")
    (tmp_path / "file").write_text("x")
    args, env, expect = {
        "year-1800": (["run", str(inbox), "--year", "1800", "--out", str(previous)], {}, "--year 1800"),
        "year-next-next": (["run", str(inbox), "--year", str(time.gmtime().tm_year + 2), "--out", str(previous)],
                           {}, "outside 2008.."),
        "out-parent-is-a-file": (["run", str(inbox), "--out", str(tmp_path / "file" / "out")], {}, "cannot write"),
        "out-in-proc": (["run", str(inbox), "--out", "/proc/nianbao-out"], {}, "cannot write"),
        "out-inside-input": (["run", str(inbox), "--out", str(inbox / "out")], {}, "inside the input folder"),
        "missing-input": (["run", str(tmp_path / "typo"), "--out", str(previous)], {}, "input not found"),
        "negative-timeout": (["run", str(inbox), "--out", str(previous)], {"NIANBAO_REPORT_TIMEOUT_SECONDS": "-5"},
                             "report_timeout_seconds"),
        "zero-timeout": (["run", str(inbox), "--out", str(previous)], {"NIANBAO_DOWNLOAD_TOTAL_SECONDS": "0"},
                         "download_total_seconds"),
    }[case]
    started = time.monotonic()
    proc = run_cli(args, tmp_path, timeout=30, **env)
    seconds = time.monotonic() - started
    assert proc.returncode == ExitCode.USAGE
    assert expect in one_line_no_traceback(proc)
    assert seconds < 2.0, seconds
    assert snapshot(previous) == before
    assert not (inbox / "out").exists()


def test_help_is_fast() -> None:
    for args in (["--help"], ["run", "--help"]):
        started = time.monotonic()
        proc = subprocess.run([str(NIANBAO), *args], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0 and "exit codes" in proc.stdout
        assert time.monotonic() - started < 1.0


def test_an_input_with_nothing_readable_is_one_line_naming_it_and_nothing_is_replaced(previous: Path,
                                                                                        tmp_path: Path) -> None:
    before = snapshot(previous)
    empty = tmp_path / "reports-2022"
    (empty / "2022").mkdir(parents=True)
    (empty / "2022" / "notes.json").write_text("{}")
    (empty / "2022" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    started = time.monotonic()
    proc = run_cli(["run", str(empty), "--year", "2022", "--out", str(previous)], tmp_path, timeout=60)
    assert proc.returncode == ExitCode.NOTHING_PUBLISHED
    line = one_line_no_traceback(proc)
    assert str(empty) in line and "nothing replaced" in line and "unsupported_format 2" in line
    assert time.monotonic() - started < 2.0
    assert snapshot(previous) == before


def test_an_output_path_with_glob_characters_works(tmp_path: Path) -> None:
    out = tmp_path / "out[1]?"
    proc = run_cli(["run", *map(str, GOOD), "--year", "2022", "--out", str(out)], tmp_path)
    assert proc.returncode == ExitCode.OK, proc.stderr
    reports = read_dataset(out, "reports")
    assert sorted(Path(u).name for u in reports["source_uri"]) == sorted(p.name for p in GOOD)
    assert set(reports["status"]) <= {"ok", "partial"}
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    # the DuckDB catalog globs its paths (nianbao.bi.catalog): where it cannot be built the command says so
    assert (out / "catalog.duckdb").exists() or "catalog / quality report were not rebuilt" in proc.stdout


# --- case 8: Ctrl-C / SIGTERM -------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["SIGINT to the process group (Ctrl-C)", "SIGTERM to the process"])
def test_a_signal_cancels_within_seconds_and_publishes_nothing(how: str, previous: Path, tmp_path: Path) -> None:
    from test_reliability import spinning_pdf

    before = snapshot(previous)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for p in GOOD:
        shutil.copy(p, inbox / p.name)
    (inbox / "spinning.pdf").write_bytes(spinning_pdf())  # parses for ever (until its 600 s timeout)
    # pdfplumber: its spinning page grows ≈ 8 MB/s, so it is still parsing when the signal comes (pdfium's
    # reaches the memory cap within seconds, and a batch whose every report has ended may publish first).
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "NIANBAO_CACHE_DIR": str(tmp_path / "c"),
           "NIANBAO_PDF_TEXT_SOURCE": "pdfplumber"}
    proc = subprocess.Popen([str(NIANBAO), "run", str(inbox), "--year", "2022", "--out", str(previous)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    import threading

    assert proc.stderr is not None and proc.stdout is not None
    seen: list[str] = []
    two_done = threading.Event()

    def drain() -> None:  # keep reading: a full pipe would block the command (and look like a hang)
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("[2/3]"):
                two_done.set()

    threading.Thread(target=drain, daemon=True).start()
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    # wait until the good reports are done and the spinning one is being parsed
    assert two_done.wait(timeout=240), "".join(seen)
    time.sleep(1.0)
    children = _live_children(proc.pid)  # the embedded Prefect server and the parsing workers
    assert children, "no child processes found"
    assert not any(line.startswith("[3/3]") for line in seen), "".join(seen)  # the spinning one still parses
    sent = time.monotonic()
    if how.startswith("SIGINT"):
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=60)
    waited = time.monotonic() - sent
    time.sleep(0.2)
    rest = "".join(seen)
    assert rc == ExitCode.INTERRUPTED, rest
    assert waited < 15, waited
    assert "nothing was published" in rest or "interrupted" in rest
    assert snapshot(previous) == before  # the previous 2022 is byte-identical
    time.sleep(1.0)
    assert [pid for pid in children if _alive(pid)] == []  # no child outlives the command


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


def _live_children(parent: int) -> list[int]:
    from flows.process import live_processes

    return [pid for pid, ppid in live_processes().items() if ppid == parent]


# --- case 7: a catalog build that fails after a committed publish ------------------------------------------

@pytest.mark.prefect  # runs the command through `python -c` (not seen by conftest's scan)
def test_a_catalog_failure_after_the_publish_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    """Injected: the first catalog build fails as it does when another run exchanges a partition under it."""
    out = tmp_path / "out"
    code = ("import sys, nianbao.bi as bi\n"
            "real = bi.post_publish\n"
            "calls = []\n"
            "def flaky(*a, **k):\n"
            "    calls.append(1)\n"
            "    if len(calls) == 1:\n"
            "        raise FileNotFoundError(2, 'No such file or directory (partition exchanged by another run)')\n"
            "    return real(*a, **k)\n"
            "bi.post_publish = flaky\n"
            "from flows.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "NIANBAO_CACHE_DIR": str(tmp_path / "c")}
    proc = subprocess.run([sys.executable, "-c", code, "run", *map(str, GOOD), "--year", "2022", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == ExitCode.OK, proc.stderr
    assert len(read_dataset(out, "reports")) == 2
    assert (out / "catalog.duckdb").exists()  # the retry built it
    assert pl.read_parquet(next((out / "reports").glob("*/*.parquet")))["status"].to_list() != []


# Case 6, downloads (deadlines, where redirects may go): tests/test_redteam_downloads.py

"""Scale-out: the same batch on a real Dask LocalCluster (2 worker processes) publishes the same tables as on
the default thread runner, and a report whose parsing outlasts ``report_timeout_seconds`` is cut off and
recorded as failed (``timeout``) while the batch goes on — on both runners."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import published_frames

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
TIMEOUT = 10.0  # a normal report takes well under a second (plus ≈0.5 s to start its process)




@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four ordinary reports and one genuine but enormous one: ~150 MB of report text (the same report
    pasted 12,000 times), which the parser needs far longer than TIMEOUT to get through (≈0.25 µs/byte
    for the reader alone on a quiet machine: ≈ 35 s; 40 MB once finished in 9.4 s, inside the limit)."""
    d = tmp_path_factory.mktemp("inbox")
    for name in ("seed-000-mulan-liuhe-2022.txt", "seed-002-youyi-xinzhen-2021.txt",
                 "seed-004-linjiang-huashu-2023.txt", "real-shanghai-office-2019.html"):
        shutil.copy(SAMPLES / name, d / name)
    text = (SAMPLES / "seed-001-nuomin-2022.txt").read_bytes()
    with open(d / "huge-nuomin-2022.txt", "wb") as fh:
        for _ in range(12000):
            fh.write(text)
    return d


def _run(inbox: Path, out: Path, **settings: Any) -> dict[str, Any]:
    from flows.annual import annual_batch
    from flows.runners import task_runner
    from nianbao.settings import load_settings

    overrides = {"report_timeout_seconds": TIMEOUT, **settings}
    cfg = load_settings(**overrides)
    return annual_batch.with_options(task_runner=task_runner(cfg))(sources=[str(inbox)], out=str(out),
                                                                   settings=overrides)


def _check_timeout(out: Path, summary: dict[str, Any]) -> None:
    from nianbao.publish.lineage import read_manifests

    reports = pl.read_parquet(str(out / "reports" / "*" / "*.parquet"))
    # The hung report was cut off before its year was read: held back (no year is invented), so it is in the
    # batch manifest and in no partition.
    assert reports.filter(pl.col("source_uri").str.ends_with("huge-nuomin-2022.txt")).height == 0
    (manifest,) = read_manifests(out)
    (huge,) = [i for i in manifest["inputs"] if i["uri"].endswith("huge-nuomin-2022.txt")]
    assert huge["status"] == "failed" and huge["error"] == "timeout" and huge["partition_year"] is None
    assert TIMEOUT <= huge["parse_seconds"] < TIMEOUT + 15
    others = reports.filter(~pl.col("source_uri").str.ends_with("huge-nuomin-2022.txt"))
    assert others.height == 4 and set(others["status"]) <= {"ok", "partial"}
    assert summary["errors"] == {"timeout": 1}


@pytest.mark.slow
def test_dask_runner_publishes_the_same_tables_and_cuts_off_a_hang(prefect_server: None, inbox: Path,
                                                                   tmp_path: Path) -> None:
    from nianbao.publish.lineage import read_manifests

    t0 = time.perf_counter()
    threads = _run(inbox, tmp_path / "threads")
    t_threads = time.perf_counter() - t0
    _check_timeout(tmp_path / "threads", threads)
    (m_threads,) = read_manifests(tmp_path / "threads")
    assert {i["worker"].rsplit(":", 1)[1] for i in m_threads["inputs"]} == {str(os.getpid())}

    dask = _run(inbox, tmp_path / "dask", task_runner="dask", max_workers=2)
    _check_timeout(tmp_path / "dask", dask)
    (m_dask,) = read_manifests(tmp_path / "dask")
    pids = {i["worker"].rsplit(":", 1)[1] for i in m_dask["inputs"]}
    assert str(os.getpid()) not in pids and 1 <= len(pids) <= 2  # ran on the cluster's worker processes

    a, b = published_frames(tmp_path / "threads"), published_frames(tmp_path / "dask")
    for name in a:
        assert a[name].height > 0 or name == "reviews_litigation", name
        assert a[name].equals(b[name]), name
    # the batch did not wait for the hung report to finish on its own (≈40 s)
    assert t_threads < 120


# --- the isolation mechanism itself (no Prefect, no Dask) ------------------------------------

@pytest.mark.parametrize(("target", "args", "expected"), [
    ("os:abort", (), "IsolationCrash"),          # a real crash (SIGABRT) of the child
    ("time:sleep", (30,), "IsolationTimeout"),   # a real hang, killed after the timeout
    ("json:loads", ("{",), "ChildError"),        # an exception in the child comes back as text
])
def test_call_isolated_survives_crash_hang_and_error(target: str, args: tuple, expected: str) -> None:
    from nianbao.runtime import isolation

    t0 = time.perf_counter()
    with pytest.raises(getattr(isolation, expected)):
        isolation.call_isolated(target, args, timeout=3)
    assert time.perf_counter() - t0 < 20


def test_process_isolated_records_a_timeout_as_a_failed_report(tmp_path: Path) -> None:
    from nianbao.runtime.isolation import process_isolated

    big = tmp_path / "big.txt"
    big.write_bytes((SAMPLES / "seed-001-nuomin-2022.txt").read_bytes() * 400)  # ≈5 MB: ≈5 s to parse
    r = process_isolated(str(big), str(big), report_id="f" * 64, size=big.stat().st_size,
                         max_file_bytes=10**9, max_pages=500, timeout=0.3)
    assert (r.status, r.error, r.report_id, r.source_format) == ("failed", "timeout", "f" * 64, "text")
    assert "report_timeout_seconds" in (r.error_message or "")
    ok = process_isolated(str(SAMPLES / "seed-001-nuomin-2022.txt"), "u", report_id="x", size=1,
                          max_file_bytes=10**9, max_pages=500, timeout=60)
    assert ok.status == "ok" and len(ok.cells) == 200


def test_a_warm_child_is_reused_until_worn_then_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    # children are recycled by calls and by resident memory (read from /proc), not every 200 reports
    from nianbao.runtime import isolation

    def child_pid() -> int:
        return int(isolation.call_isolated("os:getpid", timeout=30))

    first = child_pid()
    assert child_pid() == first  # reused: no new process per call
    monkeypatch.setattr(isolation._Worker, "MAX_CALLS", 3)
    assert child_pid() == first  # its third call
    third = child_pid()
    assert third != first  # retired after MAX_CALLS calls, a new child took over
    monkeypatch.setattr(isolation._Worker, "MAX_CALLS", 1000)
    monkeypatch.setattr(isolation._Worker, "RECYCLE_MB", 1)  # any live interpreter holds more than 1 MB
    assert child_pid() == third
    assert child_pid() != third

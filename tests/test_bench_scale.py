"""The scale benchmark (tools/bench_scale.py) on a small batch: it runs `nianbao run` end to end, and what it
reports agrees with what the run left behind (the Prefect database, the published files, the manifest)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

N = 50


def _tool():  # type: ignore[no-untyped-def]
    import bench_scale  # tools/ (on sys.path through conftest)

    return bench_scale


def test_copies_are_distinct_and_read_like_their_source(tmp_path: Path) -> None:
    from nianbao.pipeline import process_bytes

    tool = _tool()
    sources = tool.sample_sources(2022)
    assert sources and all(p.suffix != ".pdf" for p in sources)
    inbox = tool.build_inbox(tmp_path / "inbox", 2022, 9, sources)
    files = sorted((inbox / "2022").iterdir())
    assert len(files) == 9 and len({hashlib.sha256(f.read_bytes()).digest() for f in files}) == 9
    for f in files[:len(sources) + 1]:
        src = next(p for p in sources if f.name.endswith(p.name))
        a, b = process_bytes(src.read_bytes(), src.name), process_bytes(f.read_bytes(), src.name)
        assert (a.status, a.report_year, a.agency, a.cells) == (b.status, b.report_year, b.agency, b.cells)


@pytest.mark.slow
def test_bench_scale_smoke_reports_what_the_run_left(tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "bench"
    out.mkdir()
    (out / "report.md").write_text("# Benchmark\n\n## Accuracy\n\nkept\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "bench_scale.py"), "--sizes", str(N), "--workers", "1",
                           "--label", "smoke", "--out", str(out), "--work-dir", str(work)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    run = rep["scale"]["runs"]["smoke"]
    r = run["sizes"][str(N)]
    f = r["figures"]
    assert r["reports"] == N and r["core"]["reports"] == N and f["exit_code"] == 0
    # the same reports read the same without Prefect: the flow's summary and the core run agree
    assert r["flow_summary"]["status"] == r["core"]["status"] and sum(r["core"]["status"].values()) == N
    assert r["core"]["sources_reading_differently"] == []
    # CPU: the whole tree used more than the core work, and the overhead is their difference per report
    assert 0 < r["core"]["cpu_seconds"] < r["flow"]["cpu_seconds"]
    assert f["overhead_cpu_ms_per_report"] == pytest.approx(
        1000 * (r["flow"]["cpu_seconds"] - r["core"]["cpu_seconds"]) / N, abs=0.01)
    assert {"flow", "api", "parser"} <= set(r["flow"]["by_role"])  # the embedded API server was in the tree
    assert f["peak_rss_mb"] >= max(v["peak_rss_mb_one"] for v in r["flow"]["by_role"].values())
    assert f["reports_per_second"] == pytest.approx(N / r["flow"]["wall_seconds"], rel=0.01)
    # the task runs reported are those in the run's Prefect database (counted here independently)
    # the work folders are named after the checkout measured (its branch or revision), not the column label
    (prefect_home,) = work.glob(f"prefect-*-{N}")
    con = sqlite3.connect(prefect_home / "prefect.db")
    total = con.execute("SELECT count(*) FROM task_run").fetchone()[0]
    con.close()
    assert f["task_runs_recorded"] + f["rerun_task_runs"] == total
    assert f["task_runs_expected"] > 0
    # the rerun's verdict matches the journal's history: a republish is one more commit
    (published,) = work.glob(f"out-*-{N}")
    commits = (published / "_journal" / "log.jsonl").read_text(encoding="utf-8").splitlines()
    assert f["rerun_republished"] == (len(commits) > 1)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Accuracy\n\nkept" in md and md.count("<!-- scale -->") == 1
    assert f"smoke (threads, 1 w) N={N}" in md and "### Projection to a national year on 64 cores" in md
    cases = run["projection"]["cases"]
    assert {"this batch, 100k", "this batch, 700k"} <= set(cases)
    assert all(c["reports_per_second"] > 0 and c["hours"] > 0 for c in cases.values())

#!/usr/bin/env python3
"""Dask vs Ray (issue 16): the same batch through ``nianbao run`` on each cluster engine, side by side.

Usage (from the repo root; Ray needs ``prefect-ray``, which the project does not install)::

    nice -n 10 .venv/bin/python tools/bench_runners.py [--runners threads,dask,ray] [--n 200] [--workers 2]

For every runner, measured in this one run with the methods of ``tools/bench_scale.py``:

* **start-up**: a fresh interpreter constructs the runner from the settings (``flows.runners.task_runner``),
  enters it, waits until the local cluster's ``--workers`` workers answer a call, and leaves it: wall seconds of
  each step, CPU of the whole process tree, peak RSS.
* **the batch**: ``nianbao run`` on N distinct reports (as ``bench_scale``): wall time, CPU of the process
  tree less the CPU of the same core calls without Prefect, per task run (the per-task overhead) and per
  report, peak RSS of the tree, and the task runs in the run's Prefect database against those expected.

Writes ``report.json["runners"]`` and the "Runners" section of ``report.md`` in ``--out``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MARK_START, MARK_END = "<!-- runners -->", "<!-- /runners -->"

STARTUP = """
import json, os, sys, time
t0 = time.perf_counter()
from flows.runners import task_runner
from nianbao.settings import load_settings
t1 = time.perf_counter()
runner = task_runner(load_settings(task_runner=sys.argv[1], max_workers=int(sys.argv[2])))
runner.__enter__()
# the workers up and answering: Dask starts its cluster on first use, Ray when entered
if sys.argv[1] == "dask":
    pids = sorted(runner.client.run(os.getpid).values())
elif sys.argv[1] == "ray":
    import ray
    pid = ray.remote(lambda: os.getpid())
    pids = sorted(set(ray.get([pid.remote() for _ in range(4 * int(sys.argv[2]))])))
else:
    pids = []
t2 = time.perf_counter()
runner.__exit__(None, None, None)
t3 = time.perf_counter()
print(json.dumps({"import_seconds": round(t1 - t0, 2), "enter_seconds": round(t2 - t1, 2),
                  "exit_seconds": round(t3 - t2, 2), "worker_pids": pids}))
"""


def _scale() -> Any:
    import bench_scale  # a sibling script: the tools folder is on sys.path (script folder, bench.py, or conftest)

    return bench_scale


def startup(bs: Any, runner: str, workers: int, work: Path) -> dict[str, Any]:
    home = work / f"prefect-startup-{runner}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    bs.log(f"{runner}: start-up")
    start: dict[str, Any] = bs.run_measured([sys.executable, "-c", STARTUP, runner, str(workers)],
                                            bs._env(REPO, home), REPO, work / f"startup-{runner}.log")
    try:
        start.update(json.loads(start.pop("stdout").strip().splitlines()[-1]))
    except (ValueError, IndexError):
        start["error"] = (work / f"startup-{runner}.log").read_text(encoding="utf-8", errors="replace")[-500:]
    bs.log(f"  {start}")
    return start


def startup_figures(start: dict[str, Any]) -> dict[str, Any]:
    return {"startup_enter_seconds": start.get("enter_seconds"), "startup_cpu_seconds": start.get("cpu_seconds"),
            "startup_peak_rss_mb": start.get("peak_rss_mb"), "startup_workers": len(start.get("worker_pids", []))}


def measure_runner(bs: Any, runner: str, n: int, workers: int, year: int, work: Path,
                   sources: list[Path]) -> dict[str, Any]:
    start = startup(bs, runner, workers, work)
    sub = work / runner
    sub.mkdir(parents=True, exist_ok=True)
    batch = bs.measure(REPO, sub, n, year, workers, runner, sources, rerun=False)
    tasks = max(1, batch["prefect"]["expected_total"])
    over = batch["flow"]["cpu_seconds"] - batch["core"]["cpu_seconds"]
    return {"startup": start, "batch": batch,
            "figures": {**startup_figures(start),
                        "wall_seconds": batch["flow"]["wall_seconds"],
                        "reports_per_second": batch["figures"]["reports_per_second"],
                        "overhead_cpu_ms_per_task": round(1000 * over / tasks, 2),
                        "overhead_cpu_ms_per_report": batch["figures"]["overhead_cpu_ms_per_report"],
                        "peak_rss_mb": batch["flow"]["peak_rss_mb"],
                        "task_runs": f"{batch['prefect']['recorded']}/{batch['prefect']['expected_total']}",
                        "all_task_runs_recorded": batch["prefect"]["all_recorded"],
                        "exit_code": batch["flow"]["rc"]}}


ROWS = (("start-up: enter the runner until its workers answer, s", "startup_enter_seconds"),
        ("start-up: worker processes that answered", "startup_workers"), ("start-up: CPU of the tree, s", "startup_cpu_seconds"),
        ("start-up: peak RSS, MB", "startup_peak_rss_mb"), ("batch wall, s", "wall_seconds"),
        ("reports/s", "reports_per_second"), ("overhead CPU ms per task run", "overhead_cpu_ms_per_task"),
        ("overhead CPU ms per report", "overhead_cpu_ms_per_report"), ("peak RSS of the tree, MB", "peak_rss_mb"),
        ("task runs in Prefect DB / expected", "task_runs"), ("exit code", "exit_code"))


def markdown(rep: dict[str, Any]) -> list[str]:
    names = list(rep["runners"])
    L = [MARK_START, "## Runners: Dask vs Ray (tools/bench_runners.py)", "",
         f"Measured {rep['date']} ({rep['machine']}; `{rep['command']}`): {rep['n']} reports through `nianbao run`, "
         f"{rep['workers']} workers, local cluster of each engine"
         + (f" (start-up rows measured again {rep['startup_measured']}, one runner after the other)"
            if rep.get("startup_measured") else "") + "; overhead = CPU of the process tree less the "
         "core calls' CPU (tools/bench_scale.py).", "",
         "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    base = rep["runners"].get("threads", {}).get("figures", {}).get("startup_enter_seconds")
    if base is not None:  # the threads runner starts nothing: its figure is the import of prefect itself
        L.append("| start-up beyond the threads runner, s | " + " | ".join(
            str(round(rep["runners"][r]["figures"]["startup_enter_seconds"] - base, 1))
            if rep["runners"][r]["figures"].get("startup_enter_seconds") is not None else "-" for r in names) + " |")
    for title, key in ROWS:
        L.append(f"| {title} | " + " | ".join(str(rep["runners"][r]["figures"].get(key, "-")) for r in names) + " |")
    for r in names:
        if rep["runners"][r].get("note"):
            L += ["", f"*{r}*: {rep['runners'][r]['note']}"]
    if rep.get("decision"):
        L += ["", f"**Decision:** {rep['decision']}"]
    return [*L, MARK_END]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="bench_runners", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runners", default="threads,dask,ray")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--year", type=int, default=2022)
    ap.add_argument("--decision", default="", help="the decision text to print under the table")
    ap.add_argument("--startup-only", action="store_true",
                    help="measure only the start-up and put it into the runners already in --out/report.json")
    ap.add_argument("--out", type=Path, default=REPO / "bench")
    ap.add_argument("--work-dir", type=Path, default=None)
    a = ap.parse_args(argv)
    bs = _scale()
    bs._become_subreaper()
    sys.path.insert(0, str(REPO))
    work = a.work_dir or Path(tempfile.mkdtemp(prefix="nianbao-bench-runners-"))
    import os

    started, t0 = _dt.datetime.now().astimezone(), time.perf_counter()
    rep: dict[str, Any] = {"date": started.strftime("%Y-%m-%d %H:%M %Z"), "n": a.n, "workers": a.workers,
                           "command": " ".join(["tools/bench_runners.py", *argv]),
                           "machine": f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start",
                           "decision": a.decision, "runners": {}}
    sources = bs.sample_sources(a.year)
    if a.startup_only:
        full = json.loads((a.out / "report.json").read_text(encoding="utf-8"))
        rep = full["runners"]
        for r in [x for x in a.runners.split(",") if x]:
            start = startup(bs, r, a.workers, work)
            rep["runners"][r]["startup"] = start
            rep["runners"][r]["figures"].update(startup_figures(start))
        rep["startup_measured"] = started.strftime("%Y-%m-%d %H:%M %Z")
        rep["decision"] = a.decision or rep.get("decision", "")
        _write(a.out, full, rep)
        return 0
    try:
        for r in [x for x in a.runners.split(",") if x]:
            rep["runners"][r] = measure_runner(bs, r, a.n, a.workers, a.year, work, sources)
            bs.log(f"{r}: {rep['runners'][r]['figures']}")
    finally:
        if a.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    rep["machine"] += f", {os.getloadavg()[0]:.1f} at end"
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out / "report.json"
    full = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    _write(a.out, full, rep)
    bs.log(f"wrote {path} in {time.perf_counter() - t0:.0f} s")
    return 0


def _write(out: Path, full: dict[str, Any], rep: dict[str, Any]) -> None:
    path = out / "report.json"
    full["runners"] = rep
    path.write_text(json.dumps(full, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    md_path = out / "report.md"
    md = md_path.read_text(encoding="utf-8") if md_path.exists() else ""
    section = "\n".join(markdown(rep))
    if MARK_START in md and MARK_END in md:
        md = md[:md.index(MARK_START)] + section + md[md.index(MARK_END) + len(MARK_END):]
    else:
        md = md.rstrip("\n") + ("\n\n" if md else "") + section + "\n"
    md_path.write_text(md, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Scale benchmark (issue 16): a national year's batch end to end through ``nianbao run`` with Prefect.

Usage (from the repo root)::

    nice -n 10 .venv/bin/python tools/bench_scale.py [--sizes 1000,5000,20000] [--workers 2] [--runner threads]
                                                     [--label after] [--ref before=<git rev>] [--out bench]

For every N in ``--sizes`` and every code tree (this checkout, labelled ``--label``; each ``--ref LABEL=REV``
checked out into a temporary git worktree and run with the same venv), in one run:

1. **The inbox**: ``<work>/inbox/<year>/`` with N distinct copies of the bundled non-PDF samples of that
   year (``data/samples``; default 2022: four text reports). Each copy has the bytes of its source plus a
   trailing line of spaces and tabs encoding its number, so every copy has its own sha256 (the result cache
   cannot merge them) and reads exactly like its source (checked on the core run: same status and cells).
2. **Core** (no Prefect): a child process runs the same core calls the flow's tasks wrap, in a plain loop on
   a thread pool of ``--workers``: ``ingest_item`` + ``process_ingested`` per report (the result cache, then the
   parse in a warm isolation child, as in the flow), then ``publish_batch`` and ``nianbao.bi.post_publish``.
   Its CPU is that of its whole process tree (parsing children included) less what the child had used
   when its loop started (interpreter start and imports).
3. **Flow**: ``nianbao run <inbox> --year Y --out <out> --workers W --runner R`` as a subprocess in Prefect's
   embedded mode (a fresh ``PREFECT_HOME``, no ``PREFECT_API_URL``: the command starts its own API server).
   CPU of the whole process tree (the command, the embedded API server, runner workers, isolation
   children): this process is made a child subreaper, so every descendant is waited for by its parent or by
   this process and its CPU lands in ``RUSAGE_CHILDREN`` (exact); when the sum of the polls below is larger
   (a descendant escaped, as some Ray processes do), that sum is taken. The process tree is also polled
   every 0.2 s (psutil): peak memory is the largest sum of RSS over the tree (shared pages counted in each
   process: an upper bound; a child caught between fork and exec, still running its parent's command line, is
   not counted: its pages are the parent's), and the CPU per role (flow process, API server, parsers, runner workers)
   comes from the last poll of each process (a lower bound, used for the projection).
4. **Prefect records**: the task runs in the run's database (``$PREFECT_HOME/prefect.db``), by task name and
   state, against the task runs the flow must have made for N inputs.
5. **Unchanged rerun**: the same command again (same output, same Prefect home): time, CPU, task runs
   added, and whether anything was republished (the journal's HEAD, and the inode and mtime of every live
   partition file).

**Orchestration overhead per report** = (CPU of the flow's process tree - CPU of the core run) / N: all that
Prefect, the runner and the flow's own bookkeeping (manifest, lineage, artifacts, logs) add to the same core
work; the interpreter start and imports of ``nianbao run`` fall in it too (so it is an upper bound). The
marginal overhead is the slope of that difference over the sizes (ms per extra report).

Writes ``report.json["scale"]`` and the "Scale" section of ``report.md`` in ``--out`` (other sections kept).
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as _dt
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MARK_START, MARK_END = "<!-- scale -->", "<!-- /scale -->"
# Goals of issue 16.
GOAL_OVERHEAD_MS = 3.0
GOAL_MEMORY_RATIO = 1.25
GOAL_RERUN_SHARE = 0.05
CORES = 64


def log(msg: str) -> None:
    print(f"[bench-scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# The inbox
# ------------------------------------------------------------------------------------------------

def sample_sources(year: int) -> list[Path]:
    """The bundled non-PDF samples that the core reads as reports of ``year`` (text, HTML, Markdown)."""
    from nianbao.pipeline import process_bytes

    picked = []
    for p in sorted((REPO / "data" / "samples").iterdir()):
        if p.suffix.lower() not in (".txt", ".html", ".htm", ".md", ".markdown"):
            continue
        r = process_bytes(p.read_bytes(), p.name)
        if r.report_year == year and r.status in ("ok", "partial"):
            picked.append(p)
    if not picked:
        raise SystemExit(f"no bundled sample reads as a report of {year}: choose another --year")
    return picked


def distinct_copy(data: bytes, k: int) -> bytes:
    """The bytes of a report plus a last line of spaces and tabs spelling ``k`` in binary: distinct bytes
    for every ``k``, the same text once trailing whitespace is stripped."""
    return data.rstrip(b"\n") + b"\n\n" + format(k + 1, "b").replace("0", " ").replace("1", "\t").encode() + b"\n"


def build_inbox(root: Path, year: int, n: int, sources: list[Path]) -> Path:
    """``root/<year>/`` with ``n`` distinct copies of ``sources`` (round robin); returns ``root``."""
    d = root / str(year)
    if d.is_dir() and len(list(d.iterdir())) == n:
        return root
    shutil.rmtree(root, ignore_errors=True)
    d.mkdir(parents=True)
    blobs = [(p.stem, p.suffix, p.read_bytes()) for p in sources]
    seen = set()
    for k in range(n):
        stem, suffix, data = blobs[k % len(blobs)]
        copy = distinct_copy(data, k)
        seen.add(hashlib.sha256(copy).digest())
        (d / f"r{k:06d}-{stem}{suffix}").write_bytes(copy)
    assert len(seen) == n, "copies with equal bytes"
    return root


# ------------------------------------------------------------------------------------------------
# Measuring a process tree
# ------------------------------------------------------------------------------------------------

def _become_subreaper() -> bool:
    """Orphaned descendants are re-parented to this process (and waited for here), so their CPU is counted."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _role(cmdline: list[str], root: bool) -> str:
    s = " ".join(cmdline)
    if root:
        return "flow"
    if "isolation --serve" in s:  # tasks.isolation, or nianbao.runtime.isolation since the chunked flow
        return "parser"
    if "uvicorn" in s or ("prefect" in s and "server" in s):
        return "api"
    if any(w in s for w in ("distributed", "dask", "ray", "raylet", "gcs_server", "multiprocessing", "spawn")):
        return "runner"
    return "other"


class TreeWatch:
    """Polls a process tree every ``interval`` s: peak RSS sum, last CPU and role of every process seen."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.peak_rss = 0
        self.procs: dict[tuple[int, float], dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _poll(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        cmdlines: dict[int, list[str]] = {}
        for p in procs:
            try:
                with p.oneshot():
                    key = (p.pid, p.create_time())
                    cmdline = cmdlines[p.pid] = p.cmdline()
                    if p.pid != self.pid and cmdline == cmdlines.get(p.ppid()):
                        # A child that has not exec'd yet (between fork/vfork and exec): its pages are its
                        # parent's (shared outright by vfork, copy-on-write by fork), already counted there.
                        # Counting them twice made a spawn of a parser look like a second flow process.
                        continue
                    cpu = p.cpu_times()
                    rss = p.memory_info().rss
                    rec = self.procs.get(key)
                    if rec is None:
                        rec = self.procs[key] = {"role": _role(cmdline, p.pid == self.pid), "rss_peak": 0}
                    rec["cpu"] = cpu.user + cpu.system
                    rec["rss_peak"] = max(rec["rss_peak"], rss)
                    total += rss
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def by_role(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for rec in self.procs.values():
            r = out.setdefault(rec["role"], {"processes": 0, "cpu_seconds": 0.0, "peak_rss_mb_one": 0.0})
            r["processes"] += 1
            r["cpu_seconds"] = round(r["cpu_seconds"] + rec.get("cpu", 0.0), 2)
            r["peak_rss_mb_one"] = round(max(r["peak_rss_mb_one"], rec["rss_peak"] / 2**20), 1)
        return dict(sorted(out.items()))


def _reap_leftovers(grace: float = 5.0) -> list[int]:
    """Wait for descendants re-parented to this process (it is their subreaper); kill those still running
    after ``grace`` seconds (they were started by the measured command). Returns the pids killed."""
    import psutil

    deadline, killed = time.monotonic() + grace, []
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        kids = psutil.Process().children()
        kids = [k for k in kids if k.status() != psutil.STATUS_ZOMBIE] if kids else []
        if not kids:
            return killed
        if time.monotonic() > deadline:
            for k in kids:
                with contextlib.suppress(psutil.Error):
                    k.send_signal(signal.SIGKILL)
                    killed.append(k.pid)
            grace, deadline = 0.0, time.monotonic() + 5.0
        time.sleep(0.1)


def run_measured(cmd: list[str], env: dict[str, str], cwd: Path, log_file: Path) -> dict[str, Any]:
    """Run ``cmd``; return its exit code, wall time, tree CPU (exact), polled peak RSS and CPU by role."""
    _reap_leftovers(0.0)
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    with open(log_file, "wb") as err, subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                                       stderr=err) as proc, TreeWatch(proc.pid) as watch:
        while True:
            try:
                stdout, _ = proc.communicate(timeout=5)
                break
            except subprocess.TimeoutExpired:
                # the command has ended but a descendant it left behind (re-parented here) holds its stdout open
                if proc.poll() is not None:
                    _reap_leftovers(10.0)
    wall = time.perf_counter() - t0
    killed = _reap_leftovers()
    exact = _children_cpu() - cpu0
    polled = sum(rec.get("cpu", 0.0) for rec in watch.procs.values())
    # the rusage sum misses a descendant that escaped this process (re-parented elsewhere, as some Ray processes
    # do): then the polled sum, a lower bound of each process's CPU, is the larger and is taken
    return {"rc": proc.returncode, "wall_seconds": round(wall, 2), "cpu_seconds": round(max(exact, polled), 2),
            "cpu_seconds_rusage": round(exact, 2), "cpu_seconds_polled": round(polled, 2),
            "peak_rss_mb": round(watch.peak_rss / 2**20, 1), "by_role": watch.by_role(),
            "left_running_killed": killed, "stdout": stdout.decode("utf-8", "replace")}


# ------------------------------------------------------------------------------------------------
# The core run (child mode) and the Prefect database
# ------------------------------------------------------------------------------------------------

def core_child(inbox: str, year: int, out: str, workers: int) -> None:
    """The same core calls as the flow's tasks, without Prefect, on a thread pool of ``workers``; prints figures
    as JSON on stdout, with the task runs the flow makes for this batch (from the same plan the flow makes).
    Two shapes of flow: one task per chunk of reports (``nianbao.runtime.chunk``), else the earlier one task
    per report."""
    import importlib.util

    try:
        chunked = importlib.util.find_spec("nianbao.runtime.chunk") is not None
    except ModuleNotFoundError:  # no nianbao.runtime package at all
        chunked = False
    import nianbao.bi  # noqa: F401 - imported before the CPU count starts, like the rest
    from nianbao.ingest.sources import expand_sources
    from nianbao.settings import load_settings

    cfg = load_settings(out_dir=out, max_workers=workers)
    if chunked:
        from nianbao.runtime import batch as _batch  # noqa: F401
        from nianbao.runtime import chunk as _chunk  # noqa: F401
    else:
        from tasks import report_tasks  # noqa: F401
    # CPU of this process so far (interpreter start, imports): not core work; the caller subtracts it from the
    # CPU of the whole tree, which it measures exactly once this process and its parsing children are waited for.
    t0, startup_cpu = time.perf_counter(), time.process_time() + _children_cpu()
    items = [it for it in expand_sources([inbox], year) if it.skip != "other_year_folder"]
    batch_id = f"core-{year}-{time.strftime('%Y%m%dT%H%M%S')}"
    fig = (_core_chunked if chunked else _core_per_report)(items, cfg, year, workers, batch_id)
    fig.update(reports=len(items), startup_cpu_seconds=round(startup_cpu, 3),
               wall_seconds=round(time.perf_counter() - t0, 2))
    print(json.dumps(fig))


def _same_reading(pairs: list[tuple[str, str, int]]) -> list[str]:
    """Sources (file name after the copy number) whose copies did not all read alike: (uri, status, cells)."""
    by_source: dict[str, set[tuple[str, int]]] = {}
    for uri, status, cells in pairs:
        by_source.setdefault(Path(uri).name.split("-", 1)[1], set()).add((status, cells))
    return sorted(s for s, v in by_source.items() if len(v) > 1)


def _core_per_report(items: list[Any], cfg: Any, year: int, workers: int, batch_id: str) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    from nianbao.batch.plan import assign_years, drop_duplicates
    from nianbao.bi import post_publish
    from nianbao.publish.parquet import published_years
    from tasks.report_tasks import ingest_item, process_ingested, publish_batch

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as ex:
        outcomes = list(ex.map(lambda it: process_ingested(ingest_item(it, cfg), cfg, year), items))
    results = drop_duplicates([o.result for o in outcomes])
    t_parse = time.perf_counter() - t0
    ids = [r.report_id for r in results if r.status in ("ok", "partial")]
    plan = assign_years(results, year, published_years(cfg.out_dir, ids, cfg))
    files = publish_batch(results, plan.year_of, plan.years, cfg.out_dir, batch_id, None, {"batch_id": batch_id}, cfg)
    post_publish(cfg.out_dir, batch_id=batch_id, flow_run_id=None)
    return {"shape": "one task per report", "parse_wall_seconds": round(t_parse, 2), "files": len(files),
            "status": {s: sum(r.status == s for r in results) for s in sorted({r.status for r in results})},
            "expected_task_runs": {"ingest": len(items), "process_report": len(items), "publish": 1, "bi_outputs": 1},
            "sources_reading_differently": _same_reading([(o.ingested.item.uri, o.result.status, len(o.result.cells))
                                                          for o in outcomes])}


def _core_chunked(items: list[Any], cfg: Any, year: int, workers: int, batch_id: str) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    from nianbao.bi import post_publish
    from nianbao.publish.parquet import published_years
    from nianbao.runtime.batch import plan_batch, publish_batch
    from nianbao.runtime.chunk import plan_chunks, run_chunk

    t0 = time.perf_counter()
    chunks = plan_chunks(items, cfg, year)
    with ThreadPoolExecutor(max_workers=workers) as ex:
        records = [rec for recs in ex.map(lambda c: run_chunk(c, cfg, year), chunks) for rec in recs]
    t_parse = time.perf_counter() - t0
    readable = [r.result.report_id for r in records if r.result.status in ("ok", "partial")]
    batch = plan_batch(records, chunks, year, published_years(cfg.out_dir, readable, cfg))
    published = publish_batch(batch, cfg, batch_id, None)
    post_publish(cfg.out_dir, batch_id=batch_id, flow_run_id=None)
    results = [r.result for r in records]
    return {"shape": f"one task per chunk ({cfg.chunk_size} reports)", "chunks": len(chunks),
            "parse_wall_seconds": round(t_parse, 2), "files": len(published.files),
            "status": {s: sum(r.status == s for r in results) for s in sorted({r.status for r in results})},
            "expected_task_runs": {"process_chunk": len(chunks), "publish": 1, "bi_outputs": 1},
            "sources_reading_differently": _same_reading([(r.result.source_uri, r.result.status, r.n_cells)
                                                          for r in records])}


def task_runs(prefect_home: Path) -> dict[str, dict[str, int]]:
    """Task runs in the Prefect database: {task name: {state type: count}}."""
    db = prefect_home / "prefect.db"
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute("SELECT task_key, state_type, count(*) FROM task_run GROUP BY 1, 2").fetchall()
    finally:
        con.close()
    out: dict[str, dict[str, int]] = {}
    for key, state, count in rows:
        name = key.rsplit("-", 1)[0] if "-" in key else key  # task_key: <function name>-<hash of its code>
        out.setdefault(name, {})[str(state)] = out.setdefault(name, {}).get(str(state), 0) + count
    return out


def flow_timings(out: Path) -> dict[str, float]:
    """The phases of the first batch written to ``out`` (its manifest's timings: wall seconds)."""
    manifests = sorted((out / "_manifests").glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not manifests:
        return {}
    return dict(json.loads(manifests[0].read_text(encoding="utf-8")).get("timings") or {})


def published_state(out: Path) -> dict[str, Any]:
    """What a reader sees: the journal's HEAD and (inode, mtime, size) of every live partition file."""
    head_file = out / "_journal" / "HEAD.json"
    head = json.loads(head_file.read_text(encoding="utf-8")) if head_file.exists() else None
    files = {}
    for p in sorted(out.glob("*/report_year=*/*.parquet")):
        st = p.stat()
        files[str(p.relative_to(out))] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return {"head": head, "files": files}


# ------------------------------------------------------------------------------------------------
# One size on one code tree
# ------------------------------------------------------------------------------------------------

def _env(tree: Path, prefect_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_", "PREFECT_PROFILE"))}
    env.update(PREFECT_HOME=str(prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_UI_ENABLED="false", PYTHONPATH=os.pathsep.join(p for p in (str(tree), env.get("PYTHONPATH"))
                                                                        if p),
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180")
    return env


def _flow_cmd(inbox: Path, year: int, out: Path, workers: int, runner: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())", "run", str(inbox),
            "--year", str(year), "--out", str(out), "--workers", str(workers), "--runner", runner, "--json"]


def _new_runs(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name, states in after.items():
        for state, n in states.items():
            d = n - before.get(name, {}).get(state, 0)
            if d:
                out.setdefault(name, {})[state] = d
    return out


def _recorded(runs: dict[str, dict[str, int]], expected: dict[str, int]) -> dict[str, Any]:
    total = {name: sum(states.values()) for name, states in runs.items()}
    completed = {name: states.get("COMPLETED", 0) for name, states in runs.items()}
    return {"by_task": runs, "recorded": sum(total.values()), "completed": sum(completed.values()),
            "expected": expected, "expected_total": sum(expected.values()),
            "all_recorded": all(total.get(k, 0) == v for k, v in expected.items()) and bool(expected)}


def measure(tree: Path, work: Path, n: int, year: int, workers: int, runner: str, sources: list[Path],
            rerun: bool = True) -> dict[str, Any]:
    """Core run, flow run, unchanged rerun of ``n`` reports with the code of ``tree``."""
    inbox = build_inbox(work / f"inbox-{n}", year, n, sources)
    tag = f"{tree.name}-{n}"
    core_out, out, home = work / f"core-out-{tag}", work / f"out-{tag}", work / f"prefect-{tag}"
    for p in (core_out, out, home):
        shutil.rmtree(p, ignore_errors=True)
    home.mkdir(parents=True)
    env = _env(tree, home)
    log(f"{tree.name}: N={n}: core run (no Prefect)")
    core = run_measured([sys.executable, str(Path(__file__).resolve()), "--core-child", str(inbox), str(year),
                         str(core_out), str(workers)], env, tree, work / f"core-{tag}.log")
    if core["rc"] != 0:
        raise SystemExit(f"core run failed (rc {core['rc']}): see {work / f'core-{tag}.log'}")
    core["tree_cpu_seconds"] = core.pop("cpu_seconds")  # with the interpreter start and imports
    core.update(json.loads(core.pop("stdout").strip().splitlines()[-1]))
    core["cpu_seconds"] = round(core["tree_cpu_seconds"] - core["startup_cpu_seconds"], 2)
    log(f"  core: {core['wall_seconds']} s, CPU {core['cpu_seconds']} s (tree {core['tree_cpu_seconds']} s)")
    log(f"{tree.name}: N={n}: nianbao run ({runner}, {workers} workers)")
    first = run_measured(_flow_cmd(inbox, year, out, workers, runner), env, tree, work / f"flow-{tag}.log")
    summary = _summary(first.pop("stdout"))
    first["timings"] = flow_timings(out)
    runs1 = task_runs(home)
    res: dict[str, Any] = {"reports": n, "core": core, "flow": first, "flow_summary": summary,
                           "prefect": _recorded(runs1, core["expected_task_runs"])}
    log(f"  flow: rc {first['rc']}, {first['wall_seconds']} s, CPU {first['cpu_seconds']} s, "
        f"peak {first['peak_rss_mb']} MB, task runs {res['prefect']['recorded']}/{res['prefect']['expected_total']}")
    if rerun and first["rc"] in (0, 3):
        state0 = published_state(out)
        log(f"{tree.name}: N={n}: unchanged rerun")
        second = run_measured(_flow_cmd(inbox, year, out, workers, runner), env, tree, work / f"rerun-{tag}.log")
        second.pop("stdout")
        state1 = published_state(out)
        changed = sorted(k for k in set(state0["files"]) | set(state1["files"])
                         if state0["files"].get(k) != state1["files"].get(k))
        second.update(head_changed=state0["head"] != state1["head"], partition_files_changed=len(changed),
                      republished=state0["head"] != state1["head"] or bool(changed),
                      task_runs_added=_new_runs(runs1, task_runs(home)))
        res["rerun"] = second
        log(f"  rerun: {second['wall_seconds']} s, CPU {second['cpu_seconds']} s, republished {second['republished']}")
    res["figures"] = figures(res)
    return res


def _summary(stdout: str) -> dict[str, Any]:
    try:
        s = json.loads(stdout[stdout.index("{"):])
    except ValueError:
        return {"unparsed": stdout[-500:]}
    return {k: s.get(k) for k in ("reports", "status", "errors", "years", "files", "seconds", "cache")}


def figures(r: dict[str, Any]) -> dict[str, Any]:
    n, flow, core = r["reports"], r["flow"], r["core"]
    f: dict[str, Any] = {
        "reports_per_second": round(n / flow["wall_seconds"], 2),
        "core_reports_per_second": round(n / core["wall_seconds"], 2),
        "flow_cpu_ms_per_report": round(1000 * flow["cpu_seconds"] / n, 2),
        "core_cpu_ms_per_report": round(1000 * core["cpu_seconds"] / n, 2),
        "overhead_cpu_ms_per_report": round(1000 * (flow["cpu_seconds"] - core["cpu_seconds"]) / n, 2),
        "central_cpu_ms_per_report": round(1000 * sum(flow["by_role"].get(k, {}).get("cpu_seconds", 0.0)
                                                      for k in ("flow", "api")) / n, 2),
        "peak_rss_mb": flow["peak_rss_mb"],
        "task_runs_recorded": r["prefect"]["recorded"], "task_runs_expected": r["prefect"]["expected_total"],
        "all_task_runs_recorded": r["prefect"]["all_recorded"], "exit_code": flow["rc"],
    }
    if "rerun" in r:
        f.update(rerun_seconds=r["rerun"]["wall_seconds"],
                 rerun_share=round(r["rerun"]["wall_seconds"] / flow["wall_seconds"], 3),
                 rerun_republished=r["rerun"]["republished"],
                 rerun_task_runs=sum(sum(v.values()) for v in r["rerun"]["task_runs_added"].values()))
    return f


# ------------------------------------------------------------------------------------------------
# Projection, report
# ------------------------------------------------------------------------------------------------

def _fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares line through the points: (intercept, slope); one point: through the origin."""
    if len(xs) < 2:
        return 0.0, ys[0] / xs[0]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - slope * mx, slope


def national_core_cpu(out: Path) -> float | None:
    """Core CPU seconds per report of the realistic mix (60 % PDF ...) from the throughput section of the
    full benchmark (one worker), if it is in ``out/report.json``."""
    try:
        tp = json.loads((out / "report.json").read_text(encoding="utf-8"))["throughput"]
        run = next(r for r in tp["runs"] if r["workers"] == 1)
        return float(run["cpu_seconds_this_tree"]) / float(run["reports"])
    except (OSError, ValueError, KeyError, StopIteration, TypeError):
        return None


def projection(sizes: dict[str, Any], mix_cpu: float | None, workers: int) -> dict[str, Any]:
    """Time and memory of 100k and 700k reports on ``CORES`` cores from the measured sizes (model: docstring
    of the assumptions below)."""
    ns = sorted(int(k) for k in sizes)
    big = sizes[str(ns[-1])]
    over0, over_slope = _fit(ns, [sizes[str(n)]["flow"]["cpu_seconds"] - sizes[str(n)]["core"]["cpu_seconds"]
                                  for n in ns])
    over_slope = max(over_slope, 0.0)
    # start-up and shutdown (interpreter, imports, the embedded API server): the command's wall time less the
    # flow's own (its manifest), in the largest run; without a manifest, the intercept of wall time over the sizes
    timings_big = big["flow"].get("timings") or {}
    if timings_big.get("total_seconds"):
        wall0 = big["flow"]["wall_seconds"] - timings_big["total_seconds"]
    else:
        wall0, _ = _fit(ns, [sizes[str(n)]["flow"]["wall_seconds"] for n in ns])
    peaks = [sizes[str(n)]["flow"]["peak_rss_mb"] for n in ns]
    mem0, mem_slope = _fit(ns, peaks)
    if mem_slope < 0:  # noise: memory does not shrink with the batch
        mem0, mem_slope = max(peaks), 0.0
    roles = big["flow"]["by_role"]
    timings = big["flow"].get("timings") or {}
    # the publish and the BI step run once, in the flow's process, after the reports: serial work per report
    post = (timings.get("publish_seconds", 0.0) + timings.get("bi_seconds", 0.0)) / ns[-1]
    # one parsing child and one runner worker per extra core (150 MB when no parsing child was recognised)
    per_worker_mb = (roles.get("parser", {}).get("peak_rss_mb_one", 0.0) or 150.0) + roles.get("runner", {}).get(
        "peak_rss_mb_one", 0.0)
    out: dict[str, Any] = {
        "cores": CORES,
        "assumptions": [
            f"{CORES} cores: {CORES - 2} run the chunk (or report) tasks, each with its parsing child; the flow "
            "process and the Prefect API server have one core each",
            "per report: the core CPU measured here (the machine of the run, 2 cores shared with others) is "
            f"spread over the {CORES - 2} cores; the marginal orchestration overhead (slope of flow CPU - core "
            "CPU over the sizes) is taken as serial work of the flow process and the API server (so it caps "
            "the rate, however many cores), overlapping the parsing; the publish and BI step (the wall seconds "
            "of the largest run's manifest, an upper bound of their CPU) run after the parsing, in one process",
            "start-up and shutdown: the command's wall time less the flow's own (manifest) in the largest run",
            "memory: the intercept and slope of peak RSS over the sizes, plus a runner worker and a parsing "
            f"child per extra core ({per_worker_mb:.0f} MB); no swapping; storage and network keep up",
            "two mixes: this batch's (short text reports) and the national mix of the full benchmark's "
            "throughput section (60 % PDF, 20 % HTML, 12 % DOCX, 8 % text; one worker), when available",
        ],
        "marginal_overhead_ms_per_report": round(1000 * over_slope, 2), "fixed_overhead_cpu_seconds": round(over0, 1),
        "publish_bi_ms_per_report": round(1000 * post, 2),
        "flow_process_ms_per_report": round(1000 * roles.get("flow", {}).get("cpu_seconds", 0.0) / ns[-1], 2),
        "api_server_ms_per_report": round(1000 * roles.get("api", {}).get("cpu_seconds", 0.0) / ns[-1], 2),
        "startup_seconds": round(max(wall0, 0.0), 1), "memory_mb_per_1000_reports": round(1000 * mem_slope, 1),
        "cases": {},
    }
    mixes = {"this batch": big["core"]["cpu_seconds"] / ns[-1]}
    if mix_cpu:
        mixes["national mix"] = mix_cpu
    for mix, core in mixes.items():
        parallel = max(core - post, 0.0) / (CORES - 2)
        for n in (100_000, 700_000):
            parse_phase = n * max(parallel, over_slope)
            seconds = max(wall0, 0.0) + parse_phase + n * post
            mem = mem0 + mem_slope * n + (CORES - 2 - workers) * per_worker_mb
            out["cases"][f"{mix}, {n // 1000}k"] = {
                "core_cpu_ms_per_report": round(1000 * core, 1), "reports_per_second": round(n / seconds, 1),
                "bound_by": "workers" if parallel >= over_slope else "orchestration (flow/API, serial)",
                "hours": round(seconds / 3600, 2), "peak_memory_gb": round(mem / 1024, 1)}
    return out


def gaps(scale: dict[str, Any]) -> list[str]:
    """The issue 16 goals each measured column misses."""
    out = []
    for label, block in scale.get("runs", {}).items():
        sizes = block.get("sizes", {})
        for n, r in sorted(sizes.items(), key=lambda kv: int(kv[0])):
            f = r["figures"]
            if f["overhead_cpu_ms_per_report"] > GOAL_OVERHEAD_MS:
                out.append(f"scale / {label} N={n}: orchestration overhead {f['overhead_cpu_ms_per_report']} ms CPU "
                           f"per report (goal <= {GOAL_OVERHEAD_MS})")
            if not f["all_task_runs_recorded"]:
                out.append(f"scale / {label} N={n}: {f['task_runs_recorded']} task runs in the Prefect database, "
                           f"{f['task_runs_expected']} expected")
            if f.get("rerun_share") is not None and (f["rerun_share"] > GOAL_RERUN_SHARE or f["rerun_republished"]):
                out.append(f"scale / {label} N={n}: unchanged rerun {f['rerun_share']:.0%} of the first run "
                           f"(goal <= {GOAL_RERUN_SHARE:.0%}), republished: {f['rerun_republished']}")
        ns = sorted(int(k) for k in sizes)
        if len(ns) > 1:
            ratio = sizes[str(ns[-1])]["figures"]["peak_rss_mb"] / sizes[str(ns[0])]["figures"]["peak_rss_mb"]
            if ratio > GOAL_MEMORY_RATIO:
                out.append(f"scale / {label}: peak memory at {ns[-1]} reports {ratio:.2f}x that at {ns[0]} "
                           f"(goal <= {GOAL_MEMORY_RATIO}x)")
    return out


ROWS = (("reports/s (nianbao run)", "reports_per_second"), ("reports/s (core, no Prefect)", "core_reports_per_second"),
        ("CPU ms/report, whole tree", "flow_cpu_ms_per_report"), ("CPU ms/report, core", "core_cpu_ms_per_report"),
        ("**orchestration overhead, CPU ms/report**", "overhead_cpu_ms_per_report"),
        ("of it in flow process + API server (polled)", "central_cpu_ms_per_report"),
        ("peak RSS of the tree, MB", "peak_rss_mb"), ("task runs in Prefect DB", "task_runs_recorded"),
        ("task runs expected", "task_runs_expected"), ("exit code", "exit_code"),
        ("unchanged rerun, s", "rerun_seconds"), ("rerun / first run", "rerun_share"),
        ("rerun republished", "rerun_republished"), ("rerun: task runs added", "rerun_task_runs"))


def markdown(scale: dict[str, Any]) -> list[str]:
    L = [MARK_START, "## Scale: a year end to end through `nianbao run` (tools/bench_scale.py)", "",
         f"Written {scale['date']} (`{scale['command']}`; when and under which load each column was measured: "
         f"below the table); batch: {scale['batch']}. "
         "Definitions (overhead = CPU of the whole `nianbao run` process tree minus the CPU of the same core "
         "calls without Prefect, per report) and method: the docstring of tools/bench_scale.py.", ""]
    cols = [(label, n) for label, b in scale["runs"].items() for n in sorted(b["sizes"], key=int)]
    L.append("| | " + " | ".join(f"{label} ({scale['runs'][label]['runner']}, {scale['runs'][label]['workers']} w) "
                                   f"N={int(n):,}" for label, n in cols) + " |")
    L.append("|---|" + "---:|" * len(cols))
    for title, key in ROWS:
        vals = []
        for label, n in cols:
            v = scale["runs"][label]["sizes"][n]["figures"].get(key)
            vals.append("-" if v is None else (f"{v:.0%}" if key == "rerun_share" else str(v)))
        L.append(f"| {title} | " + " | ".join(vals) + " |")
    L.append("")
    for label, b in scale["runs"].items():
        when = f", measured {b['measured']}" if b.get("measured") else ""
        L.append(f"- **{label}**: code {b['code']}{when}. {b.get('note', '')}".rstrip(". ") + ".")
    for label, b in scale["runs"].items():
        p = b.get("projection")
        if not p:
            continue
        L += ["", f"### Projection to a national year on {p['cores']} cores ({label})", "",
              f"Marginal orchestration overhead {p['marginal_overhead_ms_per_report']} ms CPU per report (fixed "
              f"{p['fixed_overhead_cpu_seconds']} s); CPU of the flow process {p['flow_process_ms_per_report']} ms "
              f"(with the threads runner the chunk tasks run in it too) and of the API server "
              f"{p['api_server_ms_per_report']} ms per report; publish + BI {p.get('publish_bi_ms_per_report', '-')} "
              f"ms per report (serial); start-up {p['startup_seconds']} s; memory "
              f"+{p['memory_mb_per_1000_reports']} MB per 1,000 reports.", "",
              "| case | core CPU ms/report | reports/s | bound by | hours | peak memory GB |", "|---|---:|---:|---|---:|---:|"]
        for case, c in p["cases"].items():
            L.append(f"| {case} | {c['core_cpu_ms_per_report']} | {c['reports_per_second']} | {c['bound_by']} | "
                     f"{c['hours']} | {c['peak_memory_gb']} |")
        L += ["", "Assumptions: " + "; ".join(p["assumptions"]) + "."]
    g = gaps(scale)
    L += ["", "Goals of issue 16 missed: " + ("none" if not g else ""), *[f"- {x}" for x in g], MARK_END]
    return L


def _git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60).stdout.strip()


def write_report(out: Path, scale: dict[str, Any]) -> None:
    """Put ``scale`` into ``out/report.json`` and its section into ``out/report.md`` (between the scale
    markers, or appended), leaving the other sections as they are."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    rep = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    rep["scale"] = scale
    rep["gaps"] = [g for g in rep.get("gaps", []) if not g.startswith("scale /")] + gaps(scale)
    path.write_text(json.dumps(rep, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    md_path = out / "report.md"
    md = md_path.read_text(encoding="utf-8") if md_path.exists() else ""
    section = "\n".join(markdown(scale))
    if MARK_START in md and MARK_END in md:
        md = md[:md.index(MARK_START)] + section + md[md.index(MARK_END) + len(MARK_END):]
    else:
        md = md.rstrip("\n") + ("\n\n" if md else "") + section + "\n"
    md_path.write_text(md, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--core-child"]:
        core_child(argv[1], int(argv[2]), argv[3], int(argv[4]))
        return 0
    ap = argparse.ArgumentParser(prog="bench_scale", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,5000,20000", help="batch sizes N (comma-separated)")
    ap.add_argument("--year", type=int, default=2022)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runner", default="threads", help="task runner of `nianbao run` (threads, processes, dask...)")
    ap.add_argument("--label", default="this checkout", help="column label of this checkout's figures")
    ap.add_argument("--ref", action="append", default=[], metavar="LABEL=REV",
                    help="also measure git revision REV (a temporary worktree, same venv), labelled LABEL")
    ap.add_argument("--refs-only", action="store_true", help="measure only the --ref revisions, not this checkout")
    ap.add_argument("--keep-labels", action="store_true",
                    help="keep the columns of other labels already in report.json (measured earlier)")
    ap.add_argument("--note", action="append", default=[], metavar="LABEL=TEXT", help="a note under a column's label")
    ap.add_argument("--merge", type=Path, action="append", default=[], metavar="REPORT_JSON",
                    help="also show the columns of another report.json's scale section (measured apart)")
    ap.add_argument("--timings-from", action="append", default=[], metavar="LABEL=WORK_DIR",
                    help="fill the phase timings of merged columns from the manifests in their work dir")
    ap.add_argument("--no-rerun", action="store_true", help="skip the unchanged rerun")
    ap.add_argument("--out", type=Path, default=REPO / "bench", help="report directory (default bench/)")
    ap.add_argument("--work-dir", type=Path, default=None, help="inboxes, outputs, Prefect homes (default: temp)")
    a = ap.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",") if x.strip()]
    if not _become_subreaper():
        log("warning: could not become a child subreaper: CPU of orphaned processes is not counted")
    started, t0 = _dt.datetime.now().astimezone(), time.perf_counter()
    work = a.work_dir or Path(tempfile.mkdtemp(prefix="nianbao-bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    sources = sample_sources(a.year)
    trees: list[tuple[str, Path, str]] = []
    for spec in a.ref:
        label, _, rev = spec.partition("=")
        path = work / f"tree-{label}"
        if not path.exists():
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), rev], check=True,
                           capture_output=True)
        trees.append((label, path, _git("rev-parse", "--short", "HEAD", cwd=path)))
    dirty = _git("status", "--porcelain", "--", "nianbao", "tasks", "flows")
    if not a.refs_only:
        trees.append((a.label, REPO, _git("rev-parse", "--short", "HEAD") + ("+uncommitted" if dirty else "")))
    old = {}
    if a.keep_labels and (a.out / "report.json").exists():
        old = json.loads((a.out / "report.json").read_text(encoding="utf-8")).get("scale", {}).get("runs", {})
    for other in a.merge:
        theirs = json.loads(other.read_text(encoding="utf-8")).get("scale", {})
        for block in theirs.get("runs", {}).values():
            block.setdefault("measured", f"{theirs.get('date')}, {theirs.get('machine')}")
        old.update(theirs.get("runs", {}))
    runs: dict[str, Any] = {k: v for k, v in old.items() if k not in {t[0] for t in trees}}
    for spec in a.note:
        label, _, text = spec.partition("=")
        if label in runs:
            runs[label]["note"] = text
    for spec in a.timings_from:  # manifests' phase timings of columns measured before they were recorded
        label, _, wdir = spec.partition("=")
        for n, r in runs.get(label, {}).get("sizes", {}).items():
            if not r["flow"].get("timings"):
                r["flow"]["timings"] = flow_timings(Path(wdir) / f"out-tree-{label}-{n}")
    for block in runs.values():  # the projection of earlier columns with this code and this report's mix figure
        block["projection"] = projection(block["sizes"], national_core_cpu(a.out), block["workers"])
    import platform

    scale: dict[str, Any] = {
        "date": started.strftime("%Y-%m-%d %H:%M %Z"),
        "command": " ".join(["tools/bench_scale.py", *argv]),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, load "
                   f"{os.getloadavg()[0]:.1f} at start",
        "batch": f"N distinct copies of {', '.join(p.name for p in sources)} (data/samples) under <inbox>/{a.year}/, "
                 f"`nianbao run <inbox> --year {a.year} --runner {a.runner} --workers {a.workers}`",
        "runs": runs}
    mix = national_core_cpu(a.out)
    try:
        for label, tree, code in trees:
            block = runs[label] = {"code": code, "runner": a.runner, "workers": a.workers, "sizes": {},
                                   "measured": f"{scale['date']}, {scale['machine']}"}
            for n in sizes:
                block["sizes"][str(n)] = measure(tree, work, n, a.year, a.workers, a.runner, sources,
                                                 rerun=not a.no_rerun)
                block["projection"] = projection(block["sizes"], mix, a.workers)
                write_report(a.out, scale)  # after every size: a long run stopped early keeps what it measured
        scale["seconds"] = round(time.perf_counter() - t0, 1)
        scale["machine"] += f", {os.getloadavg()[0]:.1f} at end"
        write_report(a.out, scale)
    finally:
        for _label, tree, _ in trees:
            if tree != REPO:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
        if a.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    log(f"wrote {a.out / 'report.json'} and {a.out / 'report.md'} in {time.perf_counter() - t0:.0f} s; "
        f"{len(gaps(scale))} goal(s) missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

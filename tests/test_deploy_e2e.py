"""End to end, the way users run it: a real ``prefect server`` on 127.0.0.1, ``prefect deploy --all`` from
prefect.yaml, a real process worker, and the ``backfill`` deployment triggered twice over three years.

The second trigger must parse nothing (every report is a result-cache hit) and publish the same data.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import published_frames

from nianbao.publish.lineage import read_manifests
from nianbao.publish.parquet import read_dataset
from schemas import DATASET_NAMES

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
GENERATED = ROOT / "tests" / "fixtures" / "generated"
PREFECT = str(Path(sys.executable).parent / "prefect")
YEARS = [2021, 2022, 2023]

# two backfills through a real server and worker: ≈6 min on a busy 2-core machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _inbox(tmp: Path) -> Path:
    """``<inbox>/<year>/`` with text reports of 2021-2023 (the generated fixtures when present)."""
    inbox = tmp / "inbox"
    picked: dict[int, list[Path]] = {y: [] for y in YEARS}
    pool = sorted(GENERATED.glob("*.txt")) if GENERATED.is_dir() else []
    pool += sorted(SAMPLES.glob("seed-*.txt"))
    for f in pool:
        m = re.search(r"(20\d\d)", f.name)
        if m and int(m.group(1)) in picked and len(picked[int(m.group(1))]) < 2:
            picked[int(m.group(1))].append(f)
    for y, files in picked.items():
        assert files, f"no text report for {y}"
        (inbox / str(y)).mkdir(parents=True)
        for f in files:
            shutil.copy(f, inbox / str(y) / f.name)
    return inbox


class Stack:
    """A Prefect server and a process worker as subprocesses, with their own PREFECT_HOME."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        self.env.update({
            "PREFECT_HOME": str(tmp / "prefect-home"), "PREFECT_API_URL": self.api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PREFECT_WORKER_PREFETCH_SECONDS": "2", "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            # a year waiting for the deployment's concurrency slot retries after 5 s instead of 30 s
            "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "5",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        })
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        p = subprocess.Popen([PREFECT, *args], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def run(self, *args: str, timeout: float = 300) -> str:
        r = subprocess.run([PREFECT, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, f"prefect {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
        return r.stdout

    def get(self, path: str) -> object:
        with urllib.request.urlopen(f"{self.api}{path}", timeout=10) as resp:
            return json.loads(resp.read())

    def wait_healthy(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[0].poll() is not None:
                raise AssertionError("prefect server exited:\n" + (self.tmp / "server.log").read_text()[-3000:])
            try:
                if self.get("/health") is True:
                    return
            except OSError:
                pass
            time.sleep(1)
        raise AssertionError("prefect server did not become healthy:\n" + (self.tmp / "server.log").read_text()[-3000:])

    def wait_run(self, run_id: str, timeout: float = 900) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fr = self.get(f"/flow_runs/{run_id}")
            assert isinstance(fr, dict)
            if fr["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                return fr
            time.sleep(2)
        raise AssertionError(f"flow run {run_id} did not finish; worker log:\n"
                             + (self.tmp / "worker.log").read_text()[-5000:])

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()


def _trigger(stack: Stack, params: dict) -> str:
    out = stack.run("deployment", "run", "nianbao-backfill/backfill", "--params", json.dumps(params))
    m = re.search(r"UUID:\s*([0-9a-f-]{36})", out)
    assert m, out
    return m.group(1)


def test_backfill_deployment_end_to_end(tmp_path: Path) -> None:
    inbox, out = _inbox(tmp_path), tmp_path / "published"
    stack = Stack(tmp_path)
    try:
        stack.start("server", "server", "start", "--host", "127.0.0.1", "--port", str(stack.port), "--no-ui",
                    "--analytics-off")
        stack.wait_healthy()
        stack.run("work-pool", "create", "process", "--type", "process")
        deployed = stack.run("--no-prompt", "deploy", "--all")
        assert "nianbao-year/annual-batch" in deployed and "nianbao-backfill/backfill" in deployed, deployed
        stack.start("worker", "worker", "start", "--pool", "process", "--type", "process")
        deps = stack.get("/deployments/name/nianbao-year/annual-batch")
        assert isinstance(deps, dict)
        assert deps["schedules"][0]["schedule"]["cron"] == "0 3 15 2 *"
        assert deps["schedules"][0]["schedule"]["timezone"] == "Asia/Shanghai"
        # Deployed without NIANBAO_SOURCE: the yearly deployment has no source, and a run of it fails at once
        # with what to set (it never falls back to the bundled samples).
        assert deps["parameters"]["source"] in ("", "{{ $NIANBAO_SOURCE }}") and deps["enforce_parameter_schema"]
        out_run = stack.run("deployment", "run", "nianbao-year/annual-batch", "--param", f"out={out}")
        m = re.search(r"UUID:\s*([0-9a-f-]{36})", out_run)
        assert m, out_run
        refused = stack.wait_run(m.group(1))
        assert refused["state"]["type"] in ("FAILED", "CRASHED"), refused["state"]
        assert "has no source of reports" in (tmp_path / "worker.log").read_text(), "no clear message in the log"
        assert not out.exists()  # nothing read, nothing written

        params = {"from_year": YEARS[0], "to_year": YEARS[-1], "source": str(inbox), "out": str(out),
                  "poll_seconds": 2}
        first = stack.wait_run(_trigger(stack, params))
        assert first["state"]["type"] == "COMPLETED", (first["state"], (tmp_path / "worker.log").read_text()[-5000:])
        for name in DATASET_NAMES:
            parts = sorted(p.name for p in (out / name).glob("report_year=*"))
            assert parts == [f"report_year={y}" for y in YEARS], (name, parts)
        runs1 = read_manifests(out)
        assert sorted(m["year"] for m in runs1) == YEARS
        assert all(m["cache"]["hits"] == 0 and m["cache"]["misses"] >= 1 for m in runs1)
        assert all(m["parent_flow_run_id"] for m in runs1)  # linked child runs of the backfill
        before = published_frames(out)
        assert before["reports"].height == sum(len(list((inbox / str(y)).iterdir())) for y in YEARS)

        second = stack.wait_run(_trigger(stack, params))
        assert second["state"]["type"] == "COMPLETED", second["state"]
        runs2 = [m for m in read_manifests(out) if m["batch_id"] not in {r["batch_id"] for r in runs1}]
        assert sorted(m["year"] for m in runs2) == YEARS
        for m in runs2:  # nothing parsed again: every report came from the result cache
            assert m["cache"]["misses"] == 0 and m["cache"]["hits"] == len(m["inputs"]) > 0, m["cache"]
        after = published_frames(out)
        for name in DATASET_NAMES:
            assert after[name].equals(before[name]), name
        # nothing changed, so nothing was published again: the data is still the first run's, every year of
        # the second run is listed as unchanged and it wrote no file
        ids = set(read_dataset(out, "reports")["batch_id"].to_list())
        assert ids == {m["batch_id"] for m in runs1}
        assert all(m["unchanged_years"] == [m["year"]] and m["outputs"] == [] for m in runs2), runs2
    finally:
        stack.stop()

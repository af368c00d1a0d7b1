"""The flow on a local multi-worker Dask cluster (the cluster engine, docs/deploy.md): every task run it makes is
recorded in the Prefect database, completed, and ran on the cluster's worker processes; and the runner named in
the settings is the one built (flows/runners.py)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
NAMES = ("seed-000-mulan-liuhe-2022.txt", "seed-001-nuomin-2022.txt", "seed-003-baoqing-qixingpao-2022.txt",
         "real-pingtan-2022-textdump.txt", "seed-002-youyi-xinzhen-2021.txt")


def _task_runs(flow_run_id: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return list(client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(flow_run_id)]))))


@pytest.mark.slow
def test_flow_on_a_local_dask_cluster_records_every_task_run(prefect_server: None, tmp_path: Path) -> None:
    from flows.annual import annual_batch
    from flows.runners import task_runner
    from nianbao.ingest.sources import expand_sources
    from nianbao.publish.lineage import read_manifests
    from nianbao.runtime.chunk import plan_chunks
    from nianbao.settings import load_settings

    inbox = tmp_path / "inbox" / "2022"
    inbox.mkdir(parents=True)
    for name in NAMES:
        shutil.copy(SAMPLES / name, inbox / name)
    overrides = {"task_runner": "dask", "max_workers": 2}
    runner = task_runner(load_settings(**overrides))
    assert type(runner).__name__ == "DaskTaskRunner"
    out = tmp_path / "out"
    summary = annual_batch.with_options(task_runner=runner)(sources=[str(tmp_path / "inbox")], year=2022,
                                                             out=str(out), settings=overrides)
    assert summary["reports"] == len(NAMES)
    (manifest,) = read_manifests(out)
    pids = {i["worker"].rsplit(":", 1)[1] for i in manifest["inputs"]}
    assert str(os.getpid()) not in pids and 1 <= len(pids) <= 2  # the reports ran on the cluster's workers
    # The 2021 report is held back from the 2022 batch; it was processed all the same.
    assert sorted(i["status"] for i in manifest["inputs"]).count("failed") == 1

    # Every task run the flow made is in the database, in a final COMPLETED state: one process-chunk per chunk of
    # the batch's plan (the same plan made again here), one publish, one bi-outputs (read back through the API
    # after the flow returned; records that arrive late get a bounded wait, records that never arrive fail).
    items = [it for it in expand_sources([str(tmp_path / "inbox")], 2022) if it.skip != "other_year_folder"]
    chunks = plan_chunks(items, load_settings(**overrides, out_dir=str(out)), 2022)
    assert 2 <= len(chunks) <= len(NAMES)  # the batch was shared out: at least two chunks for two workers
    expected = Counter({"process-chunk": len(chunks), "publish": 1, "bi-outputs": 1})
    deadline = time.monotonic() + 30
    while True:
        runs = _task_runs(summary["flow_run_id"])
        names = Counter(r.task_key.rsplit("-", 1)[0].replace("_", "-") for r in runs)
        done = all(r.state_type is not None and r.state_type.value == "COMPLETED" for r in runs)
        if (names == expected and done) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert names == expected
    assert [r.name for r in runs if r.state_type is None or r.state_type.value != "COMPLETED"] == []


def test_runner_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.runners import RunnerUnavailableError, task_runner
    from nianbao.settings import load_settings

    assert type(task_runner(load_settings(task_runner="threads", max_workers=3))).__name__ == "ThreadPoolTaskRunner"
    assert type(task_runner(load_settings(task_runner="processes"))).__name__ == "ProcessPoolTaskRunner"
    remote = task_runner(load_settings(task_runner="dask", dask_address="tcp://scheduler.example:8786"))
    assert remote.address == "tcp://scheduler.example:8786"  # not contacted: the runner is only built
    local = task_runner(load_settings(task_runner="dask", max_workers=3))
    assert local.address is None and local.cluster_kwargs["n_workers"] == 3
    import sys

    monkeypatch.setitem(sys.modules, "prefect_ray", None)  # as on an install without prefect-ray
    with pytest.raises(RunnerUnavailableError, match="pip install prefect-ray"):
        task_runner(load_settings(task_runner="ray"))

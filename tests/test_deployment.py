"""Deployments that cannot publish demo data: prefect.yaml names no source by default, the yearly and backfill flows
require one (Prefect's parameter validation, and the flow's own check for empty or unfilled values), time out, retry
only what touches files or the network, and run one year at a time; every run leaves a summary table artifact."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from flows.annual import year_batch
from flows.backfill import backfill
from flows.deployment import FLOW_TIMEOUT_SECONDS, MissingSourceError, require_source, summary_table, year_slot
from tasks import report_tasks

PREFECT_YAML = ROOT / "prefect.yaml"


def _deployments() -> dict[str, dict]:
    return {d["name"]: d for d in yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))["deployments"]}


def test_prefect_yaml_has_no_source_default_that_reads_the_samples() -> None:
    deps = _deployments()
    annual = deps["annual-batch"]
    assert annual["parameters"]["source"] == "{{ $NIANBAO_SOURCE }}"  # filled in by `prefect deploy`, or refused
    assert "source" not in deps["backfill"]["parameters"]
    assert all(d.get("enforce_parameter_schema") is True for d in deps.values())
    assert "data/samples" not in str([d["parameters"] for d in deps.values()])
    assert annual["concurrency_limit"]["limit"] >= 1 and annual["schedules"][0]["timezone"] == "Asia/Shanghai"


@pytest.mark.parametrize("bad", [None, "", "  ", [], [""], "{{ $NIANBAO_SOURCE }}", ["/inbox", "{{ $X }}"]])
def test_a_run_without_a_source_is_refused_with_what_to_set(bad: object, tmp_path: Path) -> None:
    with pytest.raises(MissingSourceError, match=r"no source of reports .*set the parameter `source`"):
        require_source(bad)  # type: ignore[arg-type]
    out = tmp_path / "out"
    # The flows' own check runs first thing: nothing is read or written.
    with pytest.raises(MissingSourceError, match="deployment annual-batch has no source"):
        year_batch.fn(source=bad, year=2023, out=str(out))  # type: ignore[arg-type]
    with pytest.raises(MissingSourceError, match="deployment backfill has no source"):
        backfill.fn(from_year=2022, to_year=2023, source=bad, out=str(out))  # type: ignore[arg-type]
    assert not out.exists()


def test_prefect_parameter_validation_requires_a_source() -> None:
    from prefect.exceptions import ParameterTypeError
    from prefect.utilities.callables import parameter_schema

    for f in (year_batch, backfill):
        assert "source" in parameter_schema(f.fn).required
        with pytest.raises(ParameterTypeError, match="source"):
            f.validate_parameters({"year": 2023} if f is year_batch else {"from_year": 2022, "to_year": 2023})
    assert require_source("/srv/inbox") == ["/srv/inbox"]
    assert require_source(["/a", "/b.csv"]) == ["/a", "/b.csv"]


def test_flow_timeouts_and_task_retries() -> None:
    assert year_batch.timeout_seconds == backfill.timeout_seconds == FLOW_TIMEOUT_SECONDS > 0
    for t in (report_tasks.publish, report_tasks.bi_outputs):  # files or network
        assert t.retries == report_tasks.RETRIES - 1 >= 2, t.name
        delays = t.retry_delay_seconds
        assert isinstance(delays, list) and delays == sorted(delays) and delays[0] < delays[-1], t.name  # backoff
        assert t.retry_jitter_factor and t.retry_condition_fn is not None
    assert report_tasks.process_chunk.retries == 0  # parsing is deterministic: never retried


class _State:
    def __init__(self, exc: BaseException | None) -> None:
        self.exc = exc

    def result(self) -> None:
        if self.exc is not None:
            raise self.exc


def test_retries_only_on_io_errors() -> None:
    assert report_tasks.is_os_error(_State(OSError("disk full")))
    assert report_tasks.is_os_error(_State(FileNotFoundError("nfs")))
    assert not report_tasks.is_os_error(_State(ValueError("bad data")))
    assert not report_tasks.is_os_error(_State(None))


def test_summary_table_rows() -> None:
    rows = summary_table({"batch_id": "b", "reports": 3, "status": {"ok": 2, "failed": 1}, "issues": {"x": 2, "y": 1},
                          "quality_report": "/o/quality_report.html"})
    got = {r["metric"]: r["value"] for r in rows}
    assert got["status"] == "failed 1, ok 2" and got["validation issues"] == "3"
    assert got["quality report"] == "/o/quality_report.html" and got["errors"] == "none"


@pytest.mark.usefixtures("prefect_server")
def test_one_run_per_year_at_a_time() -> None:
    """The year slot is a global concurrency limit of 1, created on first use: a second holder of the same year
    waits (here: times out), another year does not."""
    from prefect.client.orchestration import get_client

    held = threading.Event()
    release = threading.Event()

    def first() -> None:
        with year_slot(2031):
            held.set()
            release.wait(30)

    t = threading.Thread(target=first)
    t.start()
    try:
        assert held.wait(60)
        with get_client(sync_client=True) as client:
            assert client.read_global_concurrency_limit_by_name("nianbao-year-2031").limit == 1
        started = time.monotonic()
        with pytest.raises(TimeoutError), year_slot(2031, timeout_seconds=3):
            pass
        assert time.monotonic() - started >= 2.5
        with year_slot(2032, timeout_seconds=10):  # another year is free
            pass
    finally:
        release.set()
        t.join(60)
    with year_slot(2031, timeout_seconds=10):  # free again once the first run let go
        pass

"""The batch flow under a real (temporary) Prefect server: report-level caching across reruns, a parser
version bump, an http(s) input, terminal progress, the local backfill command, and per-report isolation."""

from __future__ import annotations

import io
import shutil
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest
from conftest import published_frames

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
TEXTS = ["seed-000-mulan-liuhe-2022.txt", "seed-002-youyi-xinzhen-2021.txt", "seed-004-linjiang-huashu-2023.txt"]

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]




@pytest.fixture()
def web(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A plain HTTP server on 127.0.0.1 serving one report; yields its URL and the paths requested."""
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(SAMPLES / "seed-001-nuomin-2022.txt", root / "nuomin.txt")
    seen: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.path)
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/nuomin.txt", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def _inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    for name in TEXTS:
        year = name.rsplit("-", 1)[-1][:4]
        (inbox / year).mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / name, inbox / year / name)
    return inbox


def test_rerun_reuses_cached_results_and_publishes_the_same_data(tmp_path: Path, web: tuple[str, list[str]],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.annual as annual
    import nianbao

    url, requests = web
    inbox, out = _inbox(tmp_path), tmp_path / "out"
    sources = [str(inbox), url]
    progress = io.StringIO()
    monkeypatch.setattr(sys, "stderr", progress)  # progress="lines" writes to stderr
    settings = {"download_allow_private": url.split("/")[2]}  # the test server's 127.0.0.1:port only

    first = annual.annual_batch(sources=sources, out=str(out), settings=settings, progress="lines")
    assert first["reports"] == 4 and first["cache"] == {"hits": 0, "misses": 4}
    assert first["status"].get("failed", 0) == 0
    lines = progress.getvalue().splitlines()
    assert len(lines) == 4 and all(line.startswith(("[1/4]", "[2/4]", "[3/4]", "[4/4]")) for line in lines)
    assert any("nuomin.txt: ok" in line for line in lines)
    assert requests == ["/nuomin.txt"]
    before = published_frames(out)
    _check_artifacts(first["flow_run_id"])

    second = annual.annual_batch(sources=sources, out=str(out), settings=settings, progress="lines")
    assert second["cache"] == {"hits": 4, "misses": 0}
    assert requests == ["/nuomin.txt"]  # the download cache served it: no second request
    assert "cached" in progress.getvalue().splitlines()[-1]
    after = published_frames(out)
    for name, df in before.items():
        assert after[name].equals(df), name
    # nothing changed: no year is published again (the files are the first run's, same inode and bytes)
    assert second["files"] == 0 and second["unchanged_years"] == first["years"]
    assert set(pl.read_parquet(str(out / "reports" / "*" / "*.parquet"))["batch_id"]) == {first["batch_id"]}

    # a parser version bump reprocesses everything (the downloaded bytes are still reused)
    monkeypatch.setattr(nianbao, "PARSER_VERSION", nianbao.PARSER_VERSION + "+bump")
    third = annual.annual_batch(sources=sources, out=str(out), settings=settings)
    assert third["cache"] == {"hits": 0, "misses": 4}
    assert requests == ["/nuomin.txt"]
    assert published_frames(out)["applications"].equals(before["applications"])


def _check_artifacts(flow_run_id: str) -> None:
    """The run left its summary, a table of validation issues, and links to the outputs and the manifest."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)])))
    kinds = {a.key: a.type for a in arts}
    assert kinds["batch-summary-all"] == "markdown"
    assert kinds["validation-issues-all"] == "table"
    assert kinds["batch-summary-table-all"] == "table" and kinds["quality-report-all"] == "markdown"  # a link
    summary = next(a for a in arts if a.key == "batch-summary-table-all")
    assert "quality report" in str(summary.data) and "cells published" in str(summary.data)
    links = {a.key: str(a.data) for a in arts if a.key in ("output-reports-all", "manifest-all", "lineage-all")}
    assert len(links) == 3 and all("(file://" in d for d in links.values())  # Prefect keeps links as markdown
    assert links["output-reports-all"].rstrip(")").endswith("/reports")
    table = next(a for a in arts if a.key == "validation-issues-all")
    assert "cell_recovered_by_identity" in str(table.data)  # seed-000 has one such issue


def test_local_backfill_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import main

    inbox, out = _inbox(tmp_path), tmp_path / "out"
    rc = main(["backfill", "--from", "2021", "--to", "2023", str(inbox), "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err + captured.out
    assert sorted(p.name for p in (out / "reports").iterdir()) == [f"report_year={y}" for y in (2021, 2022, 2023)]
    # One progress line per report on the terminal (log records that quote it do not start with it).
    assert sum(line.startswith("[1/1] ") for line in captured.err.splitlines()) == 3
    for year in ("2021", "2022", "2023"):
        assert f"  {year}: completed: 1 reports" in captured.out
    reports = pl.read_parquet(str(out / "reports" / "*" / "*.parquet"))
    assert sorted(reports["report_year"].to_list()) == [2021, 2022, 2023]
    assert set(reports["status"]) == {"ok"}


def test_bad_source_fails_the_run_and_is_recorded(tmp_path: Path) -> None:
    from flows.annual import annual_batch
    from nianbao.publish.lineage import read_events, read_manifests

    bad = tmp_path / "manifest.csv"
    bad.write_text("path\nx.txt\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="no 'uri' column"):
        annual_batch(sources=[str(bad)], out=str(out))
    (m,) = read_manifests(out)
    assert m["status"] == "failed" and "no 'uri' column" in m["error"]
    events = read_events(out / "_lineage" / "events.jsonl")
    assert [e["eventType"] for e in events] == ["FAIL"]
    assert "no 'uri' column" in events[0]["run"]["facets"]["errorMessage"]["message"]

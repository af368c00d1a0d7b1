"""Lineage of a real batch run: the manifest next to the data and the OpenLineage events (file transport,
and the HTTP transport against a local endpoint). Every output names the inputs it was derived from."""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from nianbao import PARSER_VERSION, __version__
from nianbao.batch.cache import sha256_file
from nianbao.publish.lineage import dataset_id, emit, read_events, read_manifests, run_event
from nianbao.settings import Settings
from schemas import DATASET_NAMES

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"




@pytest.fixture(scope="module")
def batch(prefect_server: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, Path]:
    """One batch of four text reports of three years (one of them given twice)."""
    from flows.annual import annual_batch

    tmp = tmp_path_factory.mktemp("lineage")
    src = tmp / "src"
    src.mkdir()
    for name in ("seed-000-mulan-liuhe-2022.txt", "seed-002-youyi-xinzhen-2021.txt",
                 "seed-004-linjiang-huashu-2023.txt"):
        shutil.copy(SAMPLES / name, src / name)
    shutil.copy(SAMPLES / "seed-000-mulan-liuhe-2022.txt", src / "copy-of-mulan.txt")
    out = tmp / "out"
    summary = annual_batch(sources=[str(src)], out=str(out))
    return summary, out, src


@pytest.mark.slow
def test_manifest_describes_inputs_outputs_versions_and_timings(batch: tuple[dict[str, Any], Path, Path]) -> None:
    summary, out, src = batch
    (manifest,) = read_manifests(out)
    assert Path(summary["manifest"]) == out / "_manifests" / f"{manifest['batch_id']}.json"
    assert manifest["batch_id"] == summary["batch_id"] and manifest["status"] == "completed"
    assert str(uuid.UUID(manifest["flow_run_id"])) == summary["flow_run_id"]
    assert manifest["parser_version"] == PARSER_VERSION and manifest["code_version"]["package"] == __version__
    assert manifest["years"] == [2021, 2022, 2023]
    assert set(manifest["timings"]) >= {"reports_seconds", "publish_seconds", "total_seconds"}
    assert datetime.fromisoformat(manifest["started_at"]) <= datetime.fromisoformat(manifest["finished_at"])

    inputs = manifest["inputs"]
    assert sorted(Path(i["uri"]).name for i in inputs) == sorted(p.name for p in src.iterdir())
    for i in inputs:
        sha, size = sha256_file(i["uri"])
        assert (i["sha256"], i["size"]) == (sha, size) and i["report_id"] == sha
        assert i["obtained"] == "local" and i["status"] == "ok"
    dup = [i for i in inputs if i.get("duplicate_of")]
    assert len(dup) == 1 and Path(dup[0]["duplicate_of"]).name in ("seed-000-mulan-liuhe-2022.txt",
                                                                     "copy-of-mulan.txt")

    outputs = manifest["outputs"]
    assert {(o["dataset"], o["report_year"]) for o in outputs} == {(d, y) for d in DATASET_NAMES
                                                                   for y in (2021, 2022, 2023)}
    report_ids = {i["report_id"] for i in inputs}
    year_of = {i["report_id"]: i["partition_year"] for i in inputs}
    for o in outputs:
        path = Path(o["path"])
        assert path.is_file() and path.is_relative_to(out / o["dataset"] / f"report_year={o['report_year']}")
        assert sha256_file(path) == (o["sha256"], o["bytes"])
        assert pl.read_parquet(path).height == o["rows"]
        assert o["inputs"] and set(o["inputs"]) <= report_ids  # every output names its inputs ...
        assert all(year_of[r] == o["report_year"] for r in o["inputs"])  # ... those of its partition
        if o["rows"]:  # and the rows it holds come from those inputs
            assert set(pl.read_parquet(path)["report_id"]) <= set(o["inputs"])


@pytest.mark.slow
def test_openlineage_events_start_and_complete(batch: tuple[dict[str, Any], Path, Path]) -> None:
    summary, out, _ = batch
    (manifest,) = read_manifests(out)
    events = read_events(Path(summary["lineage"]))
    assert Path(summary["lineage"]) == out / "_lineage" / "events.jsonl"
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    start, complete = events
    for e in events:
        assert e["run"]["runId"] == manifest["flow_run_id"] == manifest["openlineage_run_id"]
        assert e["job"] == {"namespace": "nianbao", "name": "annual-batch", "facets": e["job"]["facets"]}
        assert e["job"]["facets"]["jobType"]["integration"] == "PREFECT"
        assert e["producer"].startswith("urn:nianbao:") and e["schemaURL"].startswith("https://openlineage.io/")
        datetime.fromisoformat(e["eventTime"])
    assert start["eventTime"] <= complete["eventTime"]
    assert complete["run"]["facets"]["processing_engine"]["name"] == "prefect"

    inputs = {(d["namespace"], d["name"]): d for d in complete["inputs"]}
    by_uri = {i["uri"]: i for i in manifest["inputs"]}
    assert set(inputs) == {dataset_id(u) for u in by_uri}
    for uri, rec in by_uri.items():
        d = inputs[dataset_id(uri)]
        assert d["facets"]["version"]["datasetVersion"] == rec["sha256"]
        assert d["inputFacets"]["inputStatistics"]["size"] == rec["size"]
    id_of = {i["report_id"]: dataset_id(i["uri"]) for i in manifest["inputs"]}
    assert len(complete["outputs"]) == len(manifest["outputs"])
    by_partition = {(o["dataset"], o["report_year"]): o for o in manifest["outputs"]}
    for d in complete["outputs"]:
        assert d["namespace"] == "file"
        dataset, part = d["name"].rsplit("/", 2)[-2:]
        o = by_partition[(dataset, int(part.removeprefix("report_year=")))]
        assert d["name"] == str(Path(o["path"]).parent)
        assert d["outputFacets"]["outputStatistics"]["rowCount"] == o["rows"]
        assert d["facets"]["version"]["datasetVersion"] == o["sha256"]
        assert {f["name"] for f in d["facets"]["schema"]["fields"]} >= {"report_id", "report_year", "batch_id"}
        named = {(f["namespace"], f["name"]) for f in d["facets"]["columnLineage"]["dataset"]}
        assert named and named == {id_of[r] for r in o["inputs"]} and named <= set(inputs)


def test_fail_event_carries_the_error(tmp_path: Path) -> None:
    cfg = Settings().with_overrides(out_dir=str(tmp_path))
    run = str(uuid.uuid4())
    assert emit(cfg, run_event("FAIL", run_id=run, event_time="2027-02-15T03:00:00+08:00", error="OSError: disk full",
                               stack="Traceback ...", parent={"run_id": str(uuid.uuid4()), "job": "nianbao-backfill"}
                               )) == []
    (e,) = read_events(tmp_path / "_lineage" / "events.jsonl")
    assert e["eventType"] == "FAIL" and e["run"]["runId"] == run
    assert e["run"]["facets"]["errorMessage"]["message"] == "OSError: disk full"
    assert e["run"]["facets"]["parent"]["job"]["name"] == "nianbao-backfill"


def test_http_transport_when_openlineage_url_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[tuple[str, dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{httpd.server_address[1]}")
        cfg = Settings().with_overrides(out_dir=str(tmp_path), lineage_file=str(tmp_path / "ol" / "ev.jsonl"))
        run = str(uuid.uuid4())
        problems = emit(cfg, run_event("START", run_id=run, event_time="2027-02-15T03:00:00+08:00",
                                       inputs=[{"uri": "https://example.gov.cn/a.pdf", "report_id": "r1",
                                                "sha256": "ab" * 32, "size": 10}]))
        assert problems == []
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert [p for p, _ in received] == ["/api/v1/lineage"]
    assert received[0][1]["run"]["runId"] == run
    assert received[0][1]["inputs"][0]["namespace"] == "https://example.gov.cn"
    assert len(read_events(tmp_path / "ol" / "ev.jsonl")) == 1  # the file transport still gets it


def test_unreachable_lineage_endpoint_never_fails_the_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENLINEAGE_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    cfg = Settings().with_overrides(out_dir=str(tmp_path))
    problems = emit(cfg, run_event("START", run_id=str(uuid.uuid4()), event_time="2027-02-15T03:00:00+08:00"))
    assert len(read_events(tmp_path / "_lineage" / "events.jsonl")) == 1
    assert all("HttpTransport" in p for p in problems)


def _event_inputs(n: int, folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "real.txt").write_text("x", encoding="utf-8")
    (folder / "link.txt").symlink_to(folder / "real.txt")
    uris = [str(folder / f"r{i}.pdf") for i in range(n)] + [str(folder / "link.txt"), str(folder / "sub" / ".." / "r0.pdf"),
                                                             "https://example.org/a.pdf?x=1", "refused:/nowhere.pdf"]
    inputs = [{"uri": u, "report_id": f"id{i}", "sha256": ("ab" * 32) if i % 2 else None, "size": i}
              for i, u in enumerate(uris)]
    outputs = [{"dataset": d, "report_year": y, "path": f"{folder}/out/{d}/report_year={y}/part-0.parquet", "rows": 3,
                "bytes": 9, "sha256": "cd" * 32, "inputs": [f"id{i}" for i in range(len(uris)) if i % 2 == y % 2]}
               for d in DATASET_NAMES for y in (2021, 2022)]
    return inputs, outputs


@pytest.mark.parametrize("state", ["START", "COMPLETE", "FAIL"])
def test_events_file_holds_the_bytes_of_the_openlineage_file_transport(tmp_path: Path, state: str) -> None:
    # the events are streamed (datasets one at a time, a year's shared column lineage serialized once) for memory;
    # the line must still be what the library's own serializer writes, byte for byte
    from openlineage.client.serde import Serde

    from nianbao.publish.lineage import append_event

    inputs, outputs = _event_inputs(5, tmp_path / "in")
    kw: dict[str, Any] = {"START": {"inputs": inputs}, "COMPLETE": {"inputs": inputs, "outputs": outputs,
                                                                    "out_dir": str(tmp_path / "out")},
                          "FAIL": {"error": "OSError: x", "stack": "Traceback", "parent": {"run_id": "p", "job": "b"}}}[state]
    event = run_event(state, run_id=str(uuid.uuid4()), event_time="2027-02-15T03:00:00+08:00", **kw)
    append_event(tmp_path / "events.jsonl", event)
    append_event(tmp_path / "events.jsonl", event)
    assert (tmp_path / "events.jsonl").read_text(encoding="utf-8") == 2 * (Serde.to_json(event) + "\n")


def test_input_names_are_resolved_like_one_by_one(tmp_path: Path) -> None:
    from nianbao.publish.lineage import dataset_ids

    inputs, _ = _event_inputs(3, tmp_path / "in")
    uris = [i["uri"] for i in inputs]
    assert dataset_ids(uris) == [dataset_id(u) for u in uris]
    assert dataset_ids(uris)[3] == ("file", str((tmp_path / "in" / "real.txt").resolve()))  # the symlink's target


def test_streamed_manifest_reads_back_equal(tmp_path: Path) -> None:
    from nianbao.publish.lineage import write_manifest

    manifest = {"batch_id": "b-1", "inputs": [{"uri": "/a/年报.pdf", "size": 1, "ok": True, "x": None}] * 3,
                "outputs": [], "timings": {"total_seconds": 1.5}, "years": [2021, 2022], "when": datetime(2027, 1, 1)}
    path = write_manifest(tmp_path, manifest)
    assert json.loads(Path(path).read_text(encoding="utf-8")) == json.loads(json.dumps(manifest, default=str))
    assert "年报" in Path(path).read_text(encoding="utf-8")  # not escaped: the manifest is read by people too

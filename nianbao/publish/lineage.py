"""Lineage of a batch: the manifest written next to the data, and OpenLineage run events.

* ``<out>/_manifests/<batch_id>.json``: every input (uri, sha256, size, how it was obtained,
  whether its result came from the cache), every output file (dataset, year, path, rows, bytes,
  sha256, and the ``report_id`` of each input it was derived from), parser and code versions,
  timings and the Prefect flow run id. Written atomically (on an object store too).
* OpenLineage ``START`` / ``COMPLETE`` (``FAIL`` on error) run events of the job
  ``nianbao.annual-batch``: inputs are the report files (version facet = sha256), outputs are
  the published partitions (schema, output statistics, and a dataset-level ``columnLineage``
  facet naming the inputs each partition was derived from). They go to a JSON-lines file
  (``settings.lineage_file``, default ``<out>/_lineage/events.jsonl``; for an object store output
  a local file, the run's events then copied to ``<out>/_lineage/<batch_id>.jsonl``) and, when
  ``OPENLINEAGE_URL`` is set, to that HTTP endpoint too (Marquez: ``http://host:5000``; optional
  ``OPENLINEAGE_ENDPOINT``, ``OPENLINEAGE_API_KEY``). ``OPENLINEAGE_DISABLED=true`` turns the
  events off (the manifest is always written).

Pure: no prefect. The OpenLineage client is imported lazily.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nianbao import PARSER_VERSION, __version__
from nianbao.fsio import atomic_write, file_lock
from nianbao.location import is_remote
from nianbao.publish.objectstore import open_store
from nianbao.settings import Settings

NAMESPACE = "nianbao"
JOB_NAME = "annual-batch"
PRODUCER = f"urn:nianbao:{__version__}"
MANIFEST_VERSION = 1


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def code_version(root: str | Path | None = None) -> dict[str, str | None]:
    """The package version and, in a git checkout, the commit (read from ``.git`` without running git)."""
    base = Path(root) if root else Path(__file__).resolve().parents[1]
    commit: str | None = None
    try:
        head = (base / ".git" / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            ref_file = base / ".git" / ref
            if ref_file.exists():
                commit = ref_file.read_text().strip()
            else:
                packed = base / ".git" / "packed-refs"
                for line in packed.read_text().splitlines() if packed.exists() else []:
                    if line.endswith(" " + ref):
                        commit = line.split(" ", 1)[0]
        else:
            commit = head
    except OSError:
        commit = None
    return {"package": __version__, "git_commit": commit}


def dataset_id(uri: str) -> tuple[str, str]:
    """Given an input or output location, return its OpenLineage (namespace, name)."""
    if uri.startswith(("http://", "https://", "s3://", "gs://")):
        p = urlsplit(uri)
        name = p.path + (f"?{p.query}" if p.query else "")
        return f"{p.scheme}://{p.netloc}", name or "/"
    if uri.startswith("refused:"):  # a manifest entry that was never read
        return "nianbao-refused", uri.removeprefix("refused:")
    path = uri.removeprefix("file://")
    try:
        return "file", str(Path(path).resolve())
    except (RuntimeError, OSError):  # a symlink loop (recorded as a skipped input): the path as given
        return "file", os.path.abspath(path)


def dataset_ids(uris: list[str]) -> list[tuple[str, str]]:
    """``dataset_id`` of many locations, resolving each folder once: a batch's files sit in a few folders, and
    resolving every path component of 100,000 paths costs seconds. A file that is itself a symlink is resolved
    whole, as ``dataset_id`` does."""
    folders: dict[str, str] = {}
    out: list[tuple[str, str]] = []
    for uri in uris:
        path = uri.removeprefix("file://")
        if "://" in path or uri.startswith("refused:") or not os.path.isabs(path) or os.path.islink(path):
            out.append(dataset_id(uri))
            continue
        folder, name = os.path.split(path)
        if folder not in folders:
            folders[folder] = dataset_id(folder)[1]
        out.append(("file", os.path.join(folders[folder], name)))
    return out


def partition_uri(out_dir: str, dataset: str, year: int) -> str:
    if is_remote(out_dir):
        return f"{out_dir.rstrip('/')}/{dataset}/report_year={year}"
    return str(Path(out_dir.removeprefix("file://")).resolve() / dataset / f"report_year={year}")


def build_manifest(*, batch_id: str, flow_run_id: str | None, openlineage_run_id: str, year: int | None,
                   years: list[int], inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], started_at: str,
                   finished_at: str, timings: dict[str, float], settings: Settings, status: str = "completed",
                   parent_flow_run_id: str | None = None, error: str | None = None,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Given what a batch read and wrote, return its manifest (a JSON-ready dict).

    ``inputs``: dicts with at least ``uri``, ``sha256``, ``size``, ``report_id``;
    ``outputs``: dicts with ``dataset``, ``report_year``, ``path``, ``rows``, ``bytes``, ``sha256``
    and ``inputs`` (the ``report_id`` of each input the file was derived from).
    """
    hits = sum(1 for i in inputs if i.get("cache_hit"))
    return {
        "manifest_version": MANIFEST_VERSION,
        "batch_id": batch_id,
        "status": status,
        "error": error,
        "job": {"namespace": NAMESPACE, "name": JOB_NAME},
        "flow_run_id": flow_run_id,
        "parent_flow_run_id": parent_flow_run_id,
        "openlineage_run_id": openlineage_run_id,
        "year": year,
        "years": years,
        "parser_version": PARSER_VERSION,
        "code_version": code_version(),
        "started_at": started_at,
        "finished_at": finished_at,
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "settings": {k: v for k, v in settings.to_dict().items()},
        "cache": {"hits": hits, "misses": len(inputs) - hits},
        "inputs": inputs,
        "outputs": outputs,
        **(extra or {}),
    }


def manifest_path(out_dir: str | Path, batch_id: str) -> Path:
    return Path(out_dir) / "_manifests" / f"{batch_id}.json"


def write_manifest(out_dir: str | Path, manifest: dict[str, Any], settings: Settings | None = None) -> str:
    """Write the manifest to ``<out>/_manifests/<batch_id>.json`` (local: temp file + rename; object
    store: one PUT); return where it went."""
    if is_remote(out_dir):  # written to a local temporary file, then streamed to the store
        store, key = open_store(str(out_dir), settings), f"_manifests/{manifest['batch_id']}.json"
        with tempfile.TemporaryDirectory(prefix="nianbao-manifest-") as tmp:
            _write_json_stream(Path(tmp) / "manifest.json", manifest)
            store.put(key, Path(tmp) / "manifest.json")
        return store.uri_of(key)
    path = manifest_path(out_dir, manifest["batch_id"])
    atomic_write(path, lambda tmp: _write_json_stream(tmp, manifest))
    return str(path.resolve())


def _write_json_stream(path: Path, obj: dict[str, Any]) -> None:
    """Write a JSON object one key per line and, in a list value, one element per line: a national batch's
    manifest (100,000 inputs) is ~100 MB of text, which need never be one string in memory, and each element
    goes through the C encoder (an indented dump is pure Python, seconds for such a manifest)."""

    def dumps(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, default=str)

    with open(path, "w", encoding="utf-8", buffering=1 << 20) as fh:
        fh.write("{")
        for n, (key, value) in enumerate(obj.items()):
            fh.write(("\n" if n == 0 else ",\n") + f"{dumps(key)}: ")
            if isinstance(value, list) and value:
                fh.write("[")
                for i, item in enumerate(value):
                    fh.write(("\n " if i == 0 else ",\n ") + dumps(item))
                fh.write("\n]")
            else:
                fh.write(dumps(value))
        fh.write("\n}\n")


def read_manifests(out_dir: str | Path, settings: Settings | None = None) -> list[dict[str, Any]]:
    """All manifests under ``<out>/_manifests``, oldest first."""
    if is_remote(out_dir):
        store = open_store(str(out_dir), settings)
        found = [json.loads(store.get(o.key)) for o in store.list("_manifests") if o.key.endswith(".json")]
    else:
        d = Path(out_dir) / "_manifests"
        found = [json.loads(p.read_text(encoding="utf-8")) for p in d.glob("*.json")] if d.exists() else []
    return sorted(found, key=lambda m: m.get("started_at") or "")


def copy_events_to_output(settings: Settings, batch_id: str, run_id: str) -> str | None:
    """For an object store output, put this run's OpenLineage events next to the data as
    ``<out>/_lineage/<batch_id>.jsonl`` (the file transport needs a local file); return its URI."""
    if not settings.out_is_remote:
        return None
    events = [e for e in read_events(lineage_file(settings)) if e.get("run", {}).get("runId") == run_id]
    body = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode("utf-8")
    store = open_store(settings.out_dir, settings)
    store.put(f"_lineage/{batch_id}.jsonl", body)
    return store.uri_of(f"_lineage/{batch_id}.jsonl")


# --- OpenLineage ---------------------------------------------------------------------------

def run_id_for(flow_run_id: str | None) -> str:
    """The OpenLineage run id: the Prefect flow run id when it is a UUID, else a new UUID."""
    if flow_run_id:
        try:
            return str(uuid.UUID(flow_run_id))
        except ValueError:
            pass
    return str(uuid.uuid4())


def _schema_fields(dataset: str) -> list[tuple[str, str]]:
    try:
        from schemas import polars_schema

        return [(k, str(v)) for k, v in polars_schema(dataset).items()]
    except Exception:
        return []


def run_event(state: str, *, run_id: str, event_time: str, inputs: list[dict[str, Any]] | None = None,
              outputs: list[dict[str, Any]] | None = None, out_dir: str | None = None,
              parent: dict[str, str] | None = None, error: str | None = None, stack: str | None = None,
              engine_version: str | None = None, job_name: str = JOB_NAME) -> Any:
    """Given a state (START, COMPLETE, FAIL) and the manifest's inputs/outputs, return an OpenLineage RunEvent.

    Outputs are grouped per partition (``<out>/<dataset>/report_year=<Y>``); each carries a
    ``columnLineage`` facet whose ``dataset`` list names every input it was derived from.
    ``parent``: ``{"run_id": ..., "job": ...}`` of a parent run (a backfill).
    """
    import attr

    with attr.validators.disabled():  # see _run_event
        return _run_event(state, run_id=run_id, event_time=event_time, inputs=inputs, outputs=outputs,
                          out_dir=out_dir, parent=parent, error=error, stack=stack, engine_version=engine_version,
                          job_name=job_name)


def _run_event(state: str, *, run_id: str, event_time: str, inputs: list[dict[str, Any]] | None,
               outputs: list[dict[str, Any]] | None, out_dir: str | None, parent: dict[str, str] | None,
               error: str | None, stack: str | None, engine_version: str | None, job_name: str) -> Any:
    """``run_event`` with the OpenLineage model's attrs validators off: they check the constant producer and
    schema URLs of every facet of every dataset again (three quarters of the time of an event with 100,000
    inputs); the events are written by the library's own serializer either way. The switch is process-wide: events
    are made before the chunk tasks start and after they end."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.generated import (
        column_lineage_dataset,
        dataset_version_dataset,
        error_message_run,
        input_statistics_input_dataset,
        job_type_job,
        output_statistics_output_dataset,
        parent_run,
        processing_engine_run,
        schema_dataset,
    )

    ins: list[Any] = []
    by_report: dict[str, tuple[str, str]] = {}
    for i, (ns, name) in zip(inputs or [], dataset_ids([i["uri"] for i in inputs or []]), strict=True):
        by_report[i["report_id"]] = (ns, name)
        facets: dict[str, Any] = {}
        if i.get("sha256"):
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=i["sha256"], producer=PRODUCER)
        ins.append(InputDataset(namespace=ns, name=name, facets=facets, inputFacets={
            "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                size=i.get("size"), fileCount=1, producer=PRODUCER)}))
    outs: list[Any] = []
    # Every dataset of a year is derived from the same inputs: one list of fields per distinct set, shared by the
    # outputs naming it (a year's six partitions would otherwise hold six copies of a 100,000-entry list).
    transformations = [column_lineage_dataset.Transformation(type="INDIRECT", subtype="TRANSFORMATION",
                                                             description="parsed by nianbao")]
    derived_for: dict[tuple[str, ...], list[Any]] = {}
    for o in outputs or []:
        loc = partition_uri(out_dir, o["dataset"], o["report_year"]) if out_dir else str(Path(o["path"]).parent)
        ns, name = dataset_id(loc)
        wanted = tuple(o.get("inputs", []))
        if wanted not in derived_for:
            derived_for[wanted] = [column_lineage_dataset.InputField(namespace=by_report[r][0], name=by_report[r][1],
                                                                     field="content", transformations=transformations)
                                   for r in wanted if r in by_report]
        derived = derived_for[wanted]
        facets = {
            "schema": schema_dataset.SchemaDatasetFacet(fields=[
                schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in _schema_fields(o["dataset"])],
                producer=PRODUCER),
            "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet(
                fields={}, dataset=derived, producer=PRODUCER),
        }
        if o.get("sha256"):
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=o["sha256"], producer=PRODUCER)
        outs.append(OutputDataset(namespace=ns, name=name, facets=facets, outputFacets={
            "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=o.get("rows"), size=o.get("bytes"), fileCount=1, producer=PRODUCER)}))
    run_facets: dict[str, Any] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=engine_version or "unknown", name="prefect", openlineageAdapterVersion=__version__,
            producer=PRODUCER)}
    if parent and parent.get("run_id"):
        run_facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_id_for(parent["run_id"])),
            job=parent_run.Job(namespace=NAMESPACE, name=parent.get("job", "backfill")), producer=PRODUCER)
    if error:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="PYTHON", stackTrace=stack, producer=PRODUCER)
    job = Job(namespace=NAMESPACE, name=job_name, facets={
        "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="PREFECT", jobType="FLOW",
                                                producer=PRODUCER)})
    return RunEvent(eventType=RunState[state], eventTime=event_time, run=Run(runId=run_id, facets=run_facets),
                    job=job, inputs=ins, outputs=outs, producer=PRODUCER)


def lineage_file(settings: Settings) -> Path:
    if settings.lineage_file:
        return Path(settings.lineage_file)
    return settings.local_dir() / "_lineage" / "events.jsonl"


def _http_clients() -> list[Any]:
    """The OpenLineage HTTP client when ``OPENLINEAGE_URL`` is set (the events file is written by
    ``append_event``)."""
    from openlineage.client import OpenLineageClient

    clients: list[Any] = []
    url = os.environ.get("OPENLINEAGE_URL")
    if url:
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        # Few, short retries: an unreachable lineage endpoint must not hold a batch for long.
        cfg: dict[str, Any] = {"url": url, "timeout": 5.0, "retry": {
            "total": 2, "read": 2, "connect": 2, "backoff_factor": 0.3, "status_forcelist": [500, 502, 503, 504],
            "allowed_methods": ["HEAD", "POST"]}}
        if os.environ.get("OPENLINEAGE_ENDPOINT"):
            cfg["endpoint"] = os.environ["OPENLINEAGE_ENDPOINT"]
        if os.environ.get("OPENLINEAGE_API_KEY"):
            cfg["auth"] = {"type": "api_key", "apiKey": os.environ["OPENLINEAGE_API_KEY"]}
        clients.append(OpenLineageClient(transport=HttpTransport(HttpConfig.from_dict(cfg))))
    return clients


def emit(settings: Settings, event: Any) -> list[str]:
    """Send an event to the file transport (and HTTP when configured). Return the failures as messages:
    lineage must never sink a batch."""
    if os.environ.get("OPENLINEAGE_DISABLED", "").lower() in ("1", "true", "yes"):
        return []
    problems: list[str] = []
    try:
        append_event(lineage_file(settings), event)
    except Exception as exc:
        problems.append(f"OpenLineage events file {lineage_file(settings)}: {type(exc).__name__}: {exc}")
    try:
        clients = _http_clients()
    except Exception as exc:
        return [*problems, f"OpenLineage client: {type(exc).__name__}: {exc}"]
    for client in clients:
        try:
            client.emit(event)
        except Exception as exc:
            problems.append(f"OpenLineage {type(client.transport).__name__}: {type(exc).__name__}: {exc}")
    return problems


def append_event(path: Path, event: Any) -> None:
    """Append ``event`` to a JSON-lines file as one line, the same bytes as the OpenLineage file transport
    writes (``Serde.to_json``), but its input and output datasets serialized one at a time, and a list of
    column-lineage fields shared by several outputs (a year's six datasets) serialized once: the transport
    builds the whole event as one dict and one string, hundreds of MB and many seconds for a national batch.
    Under a lock, so that two batches appending at once never interleave their lines."""
    import attr

    def to_dict(obj: Any) -> Any:
        return _plain(obj, attr.has)

    shared: dict[int, str] = {}

    def dataset_json(item: Any) -> str | None:
        lineage = (item.facets or {}).get("columnLineage") if hasattr(item, "facets") else None
        if lineage is None or not isinstance(lineage.dataset, list):
            d = to_dict(item)
            return _dumps(d) if d else None  # Serde drops {} from lists
        if id(lineage.dataset) not in shared:
            shared[id(lineage.dataset)] = "[" + ", ".join(
                _dumps(to_dict(f)) for f in lineage.dataset if f is not None) + "]"
        facet = _dumps_with(to_dict(attr.evolve(lineage, dataset=[])), "dataset", shared[id(lineage.dataset)])
        rest = to_dict(attr.evolve(item, facets={k: v for k, v in item.facets.items() if k != "columnLineage"}))
        facets = _dumps_with(rest.get("facets", {}), "columnLineage", facet)
        return _dumps_with(rest, "facets", facets)

    streamed = ("inputs", "outputs")
    head = to_dict(attr.evolve(event, **{k: [] for k in streamed}))
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.with_name(path.name + ".lock"), what="the OpenLineage events file"), \
            open(path, "a", encoding="utf-8", buffering=1 << 20) as fh:
        fh.write("{")
        for n, key in enumerate(sorted(head)):
            fh.write(("" if n == 0 else ", ") + json.dumps(key) + ": ")
            if key not in streamed:
                fh.write(_dumps(head[key]))
                continue
            fh.write("[")
            kept = 0
            for item in getattr(event, key):
                piece = dataset_json(item) if item is not None else None
                if piece:
                    fh.write((", " if kept else "") + piece)
                    kept += 1
            fh.write("]")
        fh.write("}\n")


def _plain(obj: Any, is_attrs: Any) -> Any:
    """``Serde.to_dict`` of the OpenLineage client in one pass (its ``attr.asdict`` then ``remove_nulls_and_enums``
    walk every value twice: most of the time of writing a big event): attrs instances and dicts without their None
    values, lists and tuples without None and {}, enums by value, dates and UUIDs as strings."""
    if is_attrs(type(obj)):
        out = {}
        for name in obj.__attrs_attrs__:
            v = _plain(getattr(obj, name.name), is_attrs)
            if v is not None:
                out[name.name] = v
        return out
    if isinstance(obj, dict):
        return {k: pv for k, v in obj.items() if (pv := _plain(v, is_attrs)) is not None}
    if isinstance(obj, (list, tuple)):
        return [pv for v in obj if v is not None and (pv := _plain(v, is_attrs)) is not None and pv != {}]
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if type(obj).__name__ == "int64":
        return int(obj)
    return obj


def _dumps(value: Any) -> str:
    """JSON as ``Serde.to_json`` writes it (sorted keys, ASCII, a placeholder for what JSON cannot hold)."""
    return json.dumps(value, sort_keys=True, default=lambda o: f"<<non-serializable: {type(o).__qualname__}>>")


def _dumps_with(d: dict[str, Any], key: str, raw: str) -> str:
    """``_dumps(d)`` with ``d[key]`` replaced by the JSON text ``raw``, already serialized."""
    items = sorted({**d, key: None}.items(), key=lambda kv: kv[0])
    parts = [f"{json.dumps(k)}: {raw if k == key else _dumps(v)}" for k, v in items]
    return "{" + ", ".join(parts) + "}"


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """The events of a JSON-lines file."""
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


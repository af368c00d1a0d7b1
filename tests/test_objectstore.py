"""Parquet output to an object store (``s3://``), against a real S3-compatible server: moto's, on
127.0.0.1. Same bytes as a local publish; reruns replace; a crash at any request leaves every partition
old or new, never broken; the latest commit wins whatever order concurrent publishes finish in."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from conftest import CORPUS, published_frames

from nianbao.errors import PublishRefusedError
from nianbao.pipeline import process_bytes
from nianbao.publish.objectstore import (
    COMMITS,
    STAGING,
    ObjectStore,
    ObjectStoreError,
    recover_store,
    roll_forward,
    stage_and_commit,
)
from nianbao.publish.parquet import (
    Lineage,
    build_frames,
    read_dataset,
    validate_frames,
    write_partitions,
    write_partitions_to_store,
)
from nianbao.settings import Settings
from schemas import DATASET_NAMES, pandera_schema

SEEDS = sorted(CORPUS.glob("seed-*.txt"))


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 for this module; the AWS variables point every client at it."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL",
                                            "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_ENDPOINT_URL=endpoint,
                      AWS_DEFAULT_REGION="us-east-1")
    try:
        yield endpoint
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture()
def bucket(s3_endpoint: str) -> str:
    """A new, empty bucket; returns its name."""
    import boto3

    name = f"nianbao-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def _frames(files: list[Path], batch: str, year: int | None = None) -> tuple[dict[str, pl.DataFrame], list[int]]:
    results = [process_bytes(f.read_bytes(), str(f)) for f in files]
    year_of = {r.report_id: year or r.report_year or 2022 for r in results}
    lin = Lineage(batch, None)
    return validate_frames(build_frames(results, year_of, lin), lin, "p"), sorted(set(year_of.values()))


def _publish(store: ObjectStore, files: list[Path], batch: str, year: int | None = None,
             allow_shrink: bool = False) -> list[dict]:
    frames, years = _frames(files, batch, year)
    return write_partitions_to_store(frames, store, years, batch, {"batch_id": batch}, allow_shrink=allow_shrink)


def _parts(store: ObjectStore, dataset: str) -> dict[str, list[str]]:
    """Live part files of each partition of a dataset."""
    out: dict[str, list[str]] = {}
    for o in store.list(dataset):
        parent, _, name = o.key.rpartition("/")
        if name.startswith("part-"):
            out.setdefault(parent, []).append(name)
    return out


def test_a_store_publish_writes_the_same_bytes_as_a_local_publish(bucket: str, tmp_path: Path) -> None:
    frames, years = _frames(SEEDS, "b1")
    store = ObjectStore.open(f"s3://{bucket}/pub")
    remote = write_partitions_to_store(frames, store, years, "b1", {"batch_id": "b1"})
    local = write_partitions(frames, tmp_path, years, "b1", {"batch_id": "b1"})
    assert len(remote) == len(local) == len(DATASET_NAMES) * len(years)
    for r, loc in zip(sorted(remote, key=lambda f: f["path"]), sorted(local, key=lambda f: f["path"]), strict=True):
        data = store.get(r["key"])
        assert hashlib.sha256(data).hexdigest() == r["sha256"]
        assert data == Path(loc["path"]).read_bytes(), r["key"]
        assert r["rows"] == loc["rows"]
    for name in DATASET_NAMES:
        got = read_dataset(f"s3://{bucket}/pub", name)
        pandera_schema(name).validate(got, lazy=True)
        assert got.equals(read_dataset(tmp_path, name)), name
    assert store.list(STAGING) == []
    record = json.loads(store.get(f"{COMMITS}/b1.json"))
    assert record["years"] == years and {f["key"] for f in record["files"]} == {f["key"] for f in remote}


def test_a_rerun_replaces_each_partition_and_leaves_one_file(bucket: str) -> None:
    store = ObjectStore.open(f"s3://{bucket}/pub")
    _publish(store, SEEDS, "b1")
    _publish(store, SEEDS, "b2")
    for name in DATASET_NAMES:
        for partition, files in _parts(store, name).items():
            assert files == ["part-b2.parquet"], partition
    # Fewer reports of 2022 in the next batch: refused (the publish contract), nothing changes ...
    before = {o.key: store.get(o.key) for o in store.list("reports")}
    with pytest.raises(PublishRefusedError, match="report_year=2022 holds 3 readable reports, this batch has 1"):
        _publish(store, [CORPUS / "seed-000-mulan-liuhe-2022.txt"], "b3")
    assert {o.key: store.get(o.key) for o in store.list("reports")} == before
    # ... unless allowed: the partition is replaced, not merged; other years stay.
    _publish(store, [CORPUS / "seed-000-mulan-liuhe-2022.txt"], "b3", allow_shrink=True)
    reps = read_dataset(f"s3://{bucket}/pub", "reports")
    assert reps.filter(pl.col("report_year") == 2022)["batch_id"].to_list() == ["b3"]
    assert set(reps.filter(pl.col("report_year") != 2022)["batch_id"]) == {"b2"}


class Crash(BaseException):
    """A process dying: not an Exception, so nothing on the way catches it."""


class CrashingStore(ObjectStore):
    """The real store, dying at the ``crash_at``-th request that changes the bucket."""

    def __init__(self, store: ObjectStore, crash_at: int) -> None:
        super().__init__(store.fs, store.root, store.uri)
        self.crash_at, self.writes = crash_at, 0

    def _count(self) -> None:
        self.writes += 1
        if self.writes == self.crash_at:
            raise Crash(f"killed at write {self.crash_at}")

    def put(self, key: str, data: bytes | Path) -> tuple[int, str]:
        self._count()
        return super().put(key, data)

    def copy(self, src: str, dst: str) -> None:
        self._count()
        super().copy(src, dst)

    def delete(self, key: str) -> None:
        self._count()
        super().delete(key)

    def delete_prefix(self, prefix: str) -> None:
        self._count()
        super().delete_prefix(prefix)


@pytest.mark.slow
def test_a_crash_at_any_request_leaves_each_partition_old_or_new_and_recovery_converges(bucket: str) -> None:
    old_files = [CORPUS / "seed-000-mulan-liuhe-2022.txt"]
    new_files = [CORPUS / "seed-001-nuomin-2022.txt", CORPUS / "seed-003-baoqing-qixingpao-2022.txt"]
    old_frames, _ = _frames(old_files, "old", 2022)
    new_frames, _ = _frames(new_files, "new", 2022)
    old_ids = set(old_frames["reports"]["report_id"])
    new_ids = set(new_frames["reports"]["report_id"])
    assert old_ids and new_ids and not old_ids & new_ids

    # Count the writes of one clean publish over an old one, then crash at each of them in turn.
    probe = CrashingStore(ObjectStore.open(f"s3://{bucket}/probe"), crash_at=0)
    write_partitions_to_store(old_frames, probe, [2022], "old")
    probe.writes = 0
    write_partitions_to_store(new_frames, probe, [2022], "new")
    total = probe.writes
    assert total >= 3 * len(DATASET_NAMES)  # stage, copy and delete per partition, plus the commit

    for crash_at in range(1, total + 1):
        uri = f"s3://{bucket}/crash{crash_at}"
        store = ObjectStore.open(uri)
        write_partitions_to_store(old_frames, store, [2022], "old")
        with pytest.raises(Crash):
            write_partitions_to_store(new_frames, CrashingStore(store, crash_at), [2022], "new")
        committed = store.exists(f"{COMMITS}/new.json")
        # Right after the crash: every partition reads whole, as the old data or the new.
        for name in ("reports", "applications"):
            ids = set(read_dataset(uri, name)["report_id"])
            assert ids in (old_ids, new_ids), (crash_at, name, ids)
            if not committed:
                assert ids == old_ids, (crash_at, name)
        # The next publish (or recover) rolls a committed batch forward and removes an uncommitted one.
        recover_store(store, stale_after=0.0)
        assert store.list(STAGING) == [], crash_at
        want = new_ids if committed else old_ids
        for name in DATASET_NAMES:
            assert all(len(f) == 1 for f in _parts(store, name).values()), (crash_at, name)
            df = read_dataset(uri, name)
            if name in ("reports", "applications", "sections"):
                assert set(df["report_id"]) == want, (crash_at, name)
            expected = (new_frames if committed else old_frames)[name].drop("batch_id")
            assert df.drop("batch_id").sort(pl.all()).equals(expected.sort(pl.all())), (crash_at, name)


def test_an_uncommitted_staging_of_a_live_run_is_left_alone_until_stale(bucket: str) -> None:
    store = ObjectStore.open(f"s3://{bucket}/pub")
    store.put(f"{STAGING}/live/reports/report_year=2022/part-live.parquet", b"being written")
    assert recover_store(store) == []  # young: another run may still be writing it
    assert store.exists(f"{STAGING}/live/reports/report_year=2022/part-live.parquet")
    assert recover_store(store, stale_after=0.0) == ["discarded incomplete live"]
    assert store.list(STAGING) == []


def test_the_latest_commit_wins_whatever_order_roll_forwards_run(bucket: str) -> None:
    store = ObjectStore.open(f"s3://{bucket}/pub")
    records = {}
    for batch in ("first", "second"):  # both staged and committed, neither rolled forward yet
        frames, years = _frames([CORPUS / "seed-000-mulan-liuhe-2022.txt"], batch, 2022)
        records[batch] = stage_and_commit(store, _encoded(frames, years), batch, years, list(DATASET_NAMES))
    assert records["first"]["committed_at_ns"] < records["second"]["committed_at_ns"]
    roll_forward(store, records["second"])  # the later commit lands first ...
    roll_forward(store, records["first"])  # ... and the earlier one must not overwrite it
    for name in DATASET_NAMES:
        assert list(_parts(store, name).values()) == [["part-second.parquet"]], name
    assert store.list(STAGING) == []


def _encoded(frames: dict[str, pl.DataFrame], years: list[int]) -> list[tuple[str, int, int, bytes]]:
    out = []
    for name in DATASET_NAMES:
        for year in years:
            buf = io.BytesIO()
            part = frames[name].filter(pl.col("report_year") == year)
            part.write_parquet(buf)
            out.append((name, year, part.height, buf.getvalue()))
    return out


def test_concurrent_publishes_of_one_year_end_with_the_later_commit_whole(bucket: str) -> None:
    uri = f"s3://{bucket}/pub"
    frames = {b: _frames(SEEDS, b, 2022)[0] for b in ("a", "b", "c")}
    errors: list[BaseException] = []

    def run(batch: str) -> None:
        try:
            write_partitions_to_store(frames[batch], ObjectStore.open(uri), [2022], batch)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in frames]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    store = ObjectStore.open(uri)
    order = sorted(frames, key=lambda b: json.loads(store.get(f"{COMMITS}/{b}.json"))["committed_at_ns"])
    for name in DATASET_NAMES:
        assert list(_parts(store, name).values()) == [[f"part-{order[-1]}.parquet"]], name
        assert set(read_dataset(uri, name)["batch_id"]) <= {order[-1]}


def test_polars_reads_the_published_dataset_straight_from_the_bucket(bucket: str, s3_endpoint: str) -> None:
    store = ObjectStore.open(f"s3://{bucket}/pub")
    _publish(store, SEEDS, "b1")
    options = {"aws_endpoint_url": s3_endpoint, "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
               "aws_region": "us-east-1", "aws_allow_http": "true"}
    apps = pl.scan_parquet(f"s3://{bucket}/pub/applications/**/*.parquet", storage_options=options,
                           hive_partitioning=True).collect()
    assert apps.sort(pl.all()).equals(read_dataset(f"s3://{bucket}/pub", "applications").sort(pl.all()))


def test_a_scheme_pyarrow_does_not_know_goes_through_fsspec() -> None:
    """fsspec's in-memory filesystem stands in for any fsspec driver (gcsfs, adlfs, ...)."""
    uri = f"memory://nianbao-{uuid.uuid4().hex[:8]}/pub"
    store = ObjectStore.open(uri)
    assert type(store.fs).__name__ == "PyFileSystem"
    _publish(store, SEEDS, "b1")
    _publish(store, SEEDS, "b2")
    assert all(files == ["part-b2.parquet"] for files in _parts(store, "reports").values())
    got = read_dataset(uri, "applications")
    assert got.height > 0 and set(got["batch_id"]) == {"b2"}
    assert store.list(STAGING) == []


@pytest.mark.slow
def test_an_unreachable_store_fails_with_what_to_check(tmp_path: Path) -> None:
    frames, years = _frames(SEEDS[:1], "b1")
    store = ObjectStore.open("s3://nianbao-nowhere/pub", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ObjectStoreError) as err:
        write_partitions_to_store(frames, store, years, "b1")
    assert isinstance(err.value, OSError)  # the flow's publish task retries I/O errors
    msg = str(err.value)
    assert "s3://nianbao-nowhere/pub" in msg and "s3_endpoint_url" in msg and "intact" in msg


def test_a_location_without_a_bucket_is_refused_clearly() -> None:
    with pytest.raises(ObjectStoreError, match="names no bucket"):
        ObjectStore.open("s3:///prefix")


def test_local_state_of_a_store_output_goes_to_the_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                                               ) -> None:
    from nianbao.batch.cache import cache_root
    from nianbao.publish.lineage import lineage_file

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cfg = Settings(out_dir="s3://bucket/some/prefix")
    assert cfg.out_is_remote and not Settings(out_dir="out").out_is_remote
    assert cache_root(cfg) == tmp_path / "xdg" / "nianbao" / "s3" / "bucket" / "some" / "prefix" / ".cache"
    assert lineage_file(cfg).is_relative_to(tmp_path / "xdg" / "nianbao")
    assert cache_root(Settings(out_dir=str(tmp_path / "o"))) == tmp_path / "o" / ".cache"


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_the_batch_flow_publishes_to_s3_what_it_publishes_locally(bucket: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.annual import annual_batch
    from nianbao.publish.lineage import read_events, read_manifests

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    sources = [str(p) for p in SEEDS[:3]]
    uri = f"s3://{bucket}/nianbao"
    settings = {"progress": False, "cache_dir": str(tmp_path / "cache")}
    remote = annual_batch(sources=sources, out=uri, settings=settings)
    local = annual_batch(sources=sources, out=str(tmp_path / "local"), settings=settings)
    assert remote["files"] == local["files"] and remote["out_dir"] == uri
    assert remote["manifest"] == f"{uri}/_manifests/{remote['batch_id']}.json"
    remote_frames, local_frames = published_frames(uri), published_frames(tmp_path / "local")
    for name in DATASET_NAMES:
        assert remote_frames[name].height > 0 or name == "validation_issues"
        assert remote_frames[name].equals(local_frames[name]), name

    # The manifest is next to the data; every output names its inputs and its sha256 is the object's.
    store = ObjectStore.open(uri)
    (manifest,) = read_manifests(uri)
    assert manifest["batch_id"] == remote["batch_id"] and manifest["cache"] == {"hits": 0, "misses": 3}
    for out in manifest["outputs"]:
        key = out["path"].removeprefix(uri + "/")
        assert hashlib.sha256(store.get(key)).hexdigest() == out["sha256"]
        assert out["inputs"], out["path"]
    # The run's OpenLineage events are copied next to the data as well, and name the S3 partitions.
    events_key = f"_lineage/{remote['batch_id']}.jsonl"
    events_file = tmp_path / "events.jsonl"
    events_file.write_bytes(store.get(events_key))
    events = read_events(events_file)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    outputs = events[-1]["outputs"]
    assert outputs and all(o["namespace"] == f"s3://{bucket}" for o in outputs)

    # A rerun parses nothing again and leaves one file per partition with the same data.
    again = annual_batch(sources=sources, out=uri, settings=settings)
    assert again["cache"] == {"hits": 3, "misses": 0}
    for name in DATASET_NAMES:
        assert all(files == [f"part-{again['batch_id']}.parquet"] for files in _parts(store, name).values())

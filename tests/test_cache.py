"""The local caches: content-addressed bytes (atomic, verified) and per-report results keyed by
(sha256, year, parser version). The flow-level rerun is in test_flow.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from nianbao.batch.cache import BlobStore, ResultCache, cache_root, cacheable, rebind, result_key
from nianbao.pipeline import process_bytes
from nianbao.results import ReportResult
from nianbao.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "seed-001-nuomin-2022.txt"


def test_cache_root_follows_the_settings(tmp_path: Path) -> None:
    assert cache_root(Settings().with_overrides(out_dir=str(tmp_path))) == tmp_path / ".cache"
    assert cache_root(Settings().with_overrides(out_dir="x", cache_dir=str(tmp_path / "c"))) == tmp_path / "c"


def test_result_key_changes_with_bytes_year_and_parser_version() -> None:
    base = result_key("a" * 64, 2022, "p/1")
    assert base == result_key("a" * 64, 2022, "p/1")
    assert len({base, result_key("b" * 64, 2022, "p/1"), result_key("a" * 64, 2023, "p/1"),
                result_key("a" * 64, None, "p/1"), result_key("a" * 64, 2022, "p/2")}) == 5


def test_result_cache_round_trip_and_damage(tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    result = process_bytes(data, str(SAMPLE))
    cache = ResultCache(tmp_path)
    key = result_key(result.report_id, 2022, "p/1")
    assert cache.get(key, "p/1") is None
    cache.put(key, "p/1", result)
    back = cache.get(key, "p/1")
    assert back is not None and back == result
    assert cache.get(key, "p/2") is None  # another parser version never reads it
    entry = next((tmp_path / "results").rglob("*.pkl"))
    entry.write_bytes(entry.read_bytes()[:100])  # truncated: a miss, and removed
    assert cache.get(key, "p/1") is None and not entry.exists()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_only_results_that_depend_on_the_bytes_alone_are_cached() -> None:
    def r(status: str, error: str | None = None) -> ReportResult:
        return ReportResult("id", "u", None, 0, status=status, error=error)  # type: ignore[arg-type]

    assert cacheable(r("ok")) and cacheable(r("partial")) and cacheable(r("failed", "not_a_report"))
    for transient in ("timeout", "crashed", "internal_error", "download_failed", "too_large", "page_limit",
                      "converter_missing"):
        assert not cacheable(r("failed", transient))


def test_rebind_moves_a_cached_result_to_its_new_uri() -> None:
    res = ReportResult("id", "/old/a.txt", "text", 3, status="failed", error="not_a_report",
                       error_message="no heading (report /old/a.txt)")
    rebind(res, "/new/a.txt")
    assert res.source_uri == "/new/a.txt" and res.error_message == "no heading (report /new/a.txt)"


def test_blob_store_is_content_addressed_atomic_and_verified(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha, path = store.put(b"hello")
    assert sha == hashlib.sha256(b"hello").hexdigest() and path == tmp_path / "sha256" / sha[:2] / sha
    assert store.get_path(sha, 5) == path
    with pytest.raises(RuntimeError), store.writing() as w:
        w.write(b"half a downlo")
        raise RuntimeError("connection lost")
    assert list((tmp_path / "tmp").iterdir()) == []  # the partial file is gone, nothing was committed
    store.record_uri("http://x/a", sha, 5)
    assert store.lookup_uri("http://x/a")["path"] == str(path)  # type: ignore[index]
    path.write_bytes(b"jello")  # same size, other bytes: not trusted
    assert store.lookup_uri("http://x/a") is None and not path.exists()

"""Downloads against a real HTTP server on 127.0.0.1 that misbehaves on purpose: retried on transient
faults only (500, reset, truncated body, a response slower than the timeout), never on 404/4xx; the
size limit stops a download; fetched bytes are cached by sha256 so a rerun does not download again."""

from __future__ import annotations

import hashlib
import random
import socket
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nianbao.batch.cache import BlobStore
from nianbao.errors import FileTooLargeError
from nianbao.ingest.fetch import DownloadError, HttpStatusError, NotFoundError, backoff_delay, fetch, fetch_to_store
from nianbao.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
REPORT = (ROOT / "data" / "samples" / "seed-001-nuomin-2022.txt").read_bytes()


class Server:
    """Scripted responses per path: each request pops the next action (the last one repeats)."""

    def __init__(self) -> None:
        self.plans: dict[str, list[str]] = {}
        self.bodies: dict[str, bytes] = {}
        self.hits: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep the test output quiet
                pass

            def do_GET(self) -> None:
                with outer.lock:
                    outer.hits[self.path] += 1
                    plan = outer.plans.get(self.path, ["404"])
                    action = plan.pop(0) if len(plan) > 1 else plan[0]
                body = outer.bodies.get(self.path, REPORT)
                if action.isdigit():
                    self.send_response(int(action))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif action == "reset":  # RST instead of a response
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                elif action == "truncated":  # promise the whole body, send half, hang up
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif action == "slow":  # answer only after the client's timeout
                    time.sleep(1.5)
                    self._ok(body)
                elif action == "nolength":  # no Content-Length: the body ends when the connection closes
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                    self.close_connection = True
                else:
                    self._ok(body)

            def _ok(self, body: bytes) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server() -> Iterator[Server]:
    with Server() as s:
        yield s


def _settings(tmp_path: Path, **kw: object) -> Settings:
    # The scripted server listens on loopback, which downloads refuse unless allowed (tests of that policy:
    # test_redteam_ingest.py).
    base = {"out_dir": str(tmp_path / "out"), "download_timeout_seconds": 0.5, "download_retries": 4,
            "download_allow_private": "127.0.0.1"}
    base.update(kw)
    return Settings().with_overrides(**base)


def test_transient_faults_are_retried_then_the_file_is_served(server: Server, tmp_path: Path) -> None:
    server.plans["/r.txt"] = ["500", "reset", "truncated", "slow", "ok"]
    retries: list[tuple[int, str]] = []
    cfg = _settings(tmp_path)
    got = fetch_to_store(f"{server.url}/r.txt", cfg, backoff_seconds=0.01,
                         on_retry=lambda a, reason, d: retries.append((a, reason)))
    assert Path(got.path).read_bytes() == REPORT
    assert got.sha256 == hashlib.sha256(REPORT).hexdigest() and got.size == len(REPORT)
    assert got.attempts == 5 and server.hits["/r.txt"] == 5 and not got.from_cache
    reasons = [r for _, r in retries]
    assert reasons[0] == "HTTP 500"
    assert "reset" in reasons[1].lower() or "disconnect" in reasons[1].lower() or "connection" in reasons[1].lower()
    assert reasons[2].startswith("truncated body") and f"of {len(REPORT)} bytes" in reasons[2]
    assert "timed out" in reasons[3].lower() or "timeout" in reasons[3].lower()
    # the stored file is the complete one; nothing half-written is left behind
    assert Path(got.path) == BlobStore(tmp_path / "out" / ".cache").path_for(got.sha256)
    assert list((tmp_path / "out" / ".cache" / "tmp").iterdir()) == []


def test_rerun_reads_the_cache_without_downloading(server: Server, tmp_path: Path) -> None:
    server.plans["/r.txt"] = ["ok"]
    cfg = _settings(tmp_path)
    assert fetch(f"{server.url}/r.txt", cfg) == REPORT
    again = fetch_to_store(f"{server.url}/r.txt", cfg)
    assert again.from_cache and again.attempts == 0 and server.hits["/r.txt"] == 1
    # a damaged cache entry is not trusted: it is downloaded again
    Path(again.path).write_bytes(b"garbage")
    fixed = fetch_to_store(f"{server.url}/r.txt", cfg)
    assert not fixed.from_cache and server.hits["/r.txt"] == 2 and Path(fixed.path).read_bytes() == REPORT


def test_cache_dir_setting_is_honoured(server: Server, tmp_path: Path) -> None:
    server.plans["/r.txt"] = ["ok"]
    got = fetch_to_store(f"{server.url}/r.txt", _settings(tmp_path, cache_dir=str(tmp_path / "cache")))
    sha = got.sha256
    assert got.path == str(tmp_path / "cache" / "sha256" / sha[:2] / sha)


def test_404_is_recorded_without_retry(server: Server, tmp_path: Path) -> None:
    server.plans["/gone.pdf"] = ["404"]
    with pytest.raises(NotFoundError) as err:
        fetch_to_store(f"{server.url}/gone.pdf", _settings(tmp_path), backoff_seconds=0.01)
    assert err.value.code == "not_found" and err.value.status == 404
    assert server.hits["/gone.pdf"] == 1


def test_other_4xx_is_not_retried(server: Server, tmp_path: Path) -> None:
    server.plans["/secret.pdf"] = ["403"]
    with pytest.raises(HttpStatusError) as err:
        fetch_to_store(f"{server.url}/secret.pdf", _settings(tmp_path), backoff_seconds=0.01)
    assert err.value.code == "http_error" and server.hits["/secret.pdf"] == 1


def test_persistent_5xx_gives_up_after_the_retries(server: Server, tmp_path: Path) -> None:
    server.plans["/down.pdf"] = ["503"]
    sleeps: list[float] = []
    with pytest.raises(DownloadError) as err:
        fetch_to_store(f"{server.url}/down.pdf", _settings(tmp_path, download_retries=2), backoff_seconds=0.01,
                       sleep=sleeps.append)
    assert err.value.code == "download_failed" and err.value.attempts == 3
    assert server.hits["/down.pdf"] == 3 and len(sleeps) == 2


def test_size_limit_from_content_length_and_while_streaming(server: Server, tmp_path: Path) -> None:
    big = b"x" * 50_000
    server.bodies["/big.txt"] = server.bodies["/stream.txt"] = big
    server.plans["/big.txt"] = ["ok"]
    server.plans["/stream.txt"] = ["nolength"]
    cfg = _settings(tmp_path, max_file_bytes=10_000)
    with pytest.raises(FileTooLargeError):
        fetch_to_store(f"{server.url}/big.txt", cfg, backoff_seconds=0.01)
    with pytest.raises(FileTooLargeError, match="stopped while downloading"):
        fetch_to_store(f"{server.url}/stream.txt", cfg, backoff_seconds=0.01)
    assert server.hits["/big.txt"] == 1 and server.hits["/stream.txt"] == 1
    assert list((tmp_path / "out" / ".cache" / "tmp").iterdir()) == []
    assert not (tmp_path / "out" / ".cache" / "sha256").exists()


def test_connection_refused_is_transient(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(DownloadError) as err:
        fetch_to_store(f"http://127.0.0.1:{port}/r.txt", _settings(tmp_path, download_retries=1),
                       backoff_seconds=0.01)
    assert err.value.attempts == 2


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(a, 1.0, 30.0, rng) for a in range(1, 8)]
    for a, d in enumerate(delays, 1):
        nominal = min(30.0, 2 ** (a - 1))
        assert 0.5 * nominal <= d < 1.5 * nominal
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered

"""Red team, downloads (issue 18 case 6): connect, read and total deadlines, and redirects only to http(s) and
never to loopback, link-local or private addresses unless allowed — against real HTTP servers on 127.0.0.1.

The test allowance names the test server's own ``127.0.0.1:port`` only, so a redirect to a second loopback
server proves the policy is checked per address and port (that server must never be contacted).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import ROOT

from nianbao.publish.parquet import read_dataset

GOOD = [ROOT / "data" / "samples" / "seed-000-mulan-liuhe-2022.txt"]


class _Web:
    """A real HTTP server on 127.0.0.1 with redirects and a server that trickles its body."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.hits: list[str] = []
        self.other_port = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.hits.append(self.path)
                targets = {"/to-self": "/report", "/to-other": f"http://127.0.0.1:{outer.other_port}/report",
                           "/to-ftp": "ftp://127.0.0.1/report", "/to-metadata": "http://169.254.169.254/latest",
                           "/to-private": "http://10.255.255.1/report"}
                if self.path in targets:
                    self.send_response(302)
                    self.send_header("Location", targets[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = GOOD[0].read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path == "/trickle":  # one byte every 0.2 s: no single read ever times out
                    for b in body[:40]:
                        self.wfile.write(bytes([b]))
                        self.wfile.flush()
                        time.sleep(0.2)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def web():  # type: ignore[no-untyped-def]
    main, other = _Web(), _Web()
    main.other_port = other.port
    yield main, other
    main.close()
    other.close()


def test_redirects_go_only_to_http_and_never_to_another_loopback_or_private_address(web, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from nianbao.ingest.fetch import fetch
    from nianbao.ingest.http import RefusedUrlError
    from nianbao.ingest.sources import SourceItem
    from nianbao.publish.parquet import publish_results as publish_batch
    from nianbao.runtime.report import ingest_item, process_ingested
    from nianbao.settings import Settings

    main, other = web
    base = f"http://127.0.0.1:{main.port}"
    # the allowance names the test server's own address and port: nothing else on loopback
    cfg = Settings(cache_dir=str(tmp_path / "cache"), download_allow_private=f"127.0.0.1:{main.port}",
                   download_retries=0, report_timeout_seconds=60)
    assert fetch(f"{base}/to-self", cfg) == GOOD[0].read_bytes()  # the allowance works, redirects too
    for path, why in (("/to-other", "loopback"), ("/to-ftp", "ftp"), ("/to-metadata", "link-local"),
                      ("/to-private", "private")):
        with pytest.raises(RefusedUrlError, match=why):
            fetch(f"{base}{path}", cfg)
    assert other.hits == []  # the other loopback server was never contacted
    with pytest.raises(RefusedUrlError, match="loopback"):  # no allowance: loopback refused outright
        fetch(f"{base}/report", Settings(cache_dir=str(tmp_path / "cache2")))
    outcomes = [process_ingested(ingest_item(SourceItem(f"{base}{p}"), cfg), cfg, 2022) for p in ("/report", "/to-other")]
    results = [o.result for o in outcomes]
    out = tmp_path / "out"
    publish_batch(results, {r.report_id: 2022 for r in results}, [2022], str(out), "b", None, {"batch_id": "b"}, cfg)
    rows = sorted(zip(*(read_dataset(out, "reports")[c].to_list() for c in ("source_uri", "status", "error"))))
    assert rows == [(f"{base}/report", "ok", None), (f"{base}/to-other", "failed", "refused_url")]


def test_a_trickling_download_meets_its_total_deadline(web, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from nianbao.ingest.sources import SourceItem
    from nianbao.runtime.report import ingest_item
    from nianbao.settings import Settings

    main, _ = web
    cfg = Settings(cache_dir=str(tmp_path / "cache"), download_allow_private=f"127.0.0.1:{main.port}",
                   download_timeout_seconds=1.0, download_total_seconds=2.0, download_retries=3)
    started = time.monotonic()
    ing = ingest_item(SourceItem(f"http://127.0.0.1:{main.port}/trickle"), cfg)
    assert (ing.how, ing.error, ing.sha256) == ("failed", "download_timeout", None)
    assert time.monotonic() - started < 4.0
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "sha256" in p.parts]

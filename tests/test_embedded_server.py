"""`nianbao run` in Prefect's embedded mode (no PREFECT_API_URL): the command starts the local API server itself,
before importing Prefect (flows.process.start_embedded_server), runs the flow against it and leaves no server
behind; when Prefect's settings name a server after all, the one it started is stopped unused."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "seed-001-nuomin-2022.txt"


def _servers_of(home: Path) -> list[int]:
    """Live uvicorn processes whose PREFECT_HOME is ``home``."""
    from flows.process import live_processes

    found = []
    for pid in live_processes():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            env = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if b"create_app" in cmd and f"PREFECT_HOME={home}".encode() in env.split(b"\0"):
            found.append(pid)
    return found


@pytest.mark.prefect
def test_run_in_embedded_mode_uses_its_own_server_and_leaves_none(tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_", "PREFECT_PROFILE"))}
    env.update(PREFECT_HOME=str(home), NIANBAO_CACHE_DIR=str(tmp_path / "cache"))
    probe = ("import sys, flows.cli as c\n"
             "rc = c.main(sys.argv[1:])\n"
             "print('SERVER-MODULE-IMPORTED' if 'prefect.server.api.server' in sys.modules else 'no-server-module')\n"
             "sys.exit(rc)\n")
    proc = subprocess.run([sys.executable, "-c", probe, "run", str(SAMPLE), "--year", "2022", "--out",
                           str(tmp_path / "out"), "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.rstrip().endswith("no-server-module")  # the command never imported Prefect's server
    with sqlite3.connect(home / "prefect.db") as db:  # the flow ran against the server of this home
        states = [s for (s,) in db.execute("SELECT state_type FROM flow_run WHERE name = 'batch-2022'")]
    assert states == ["COMPLETED"]
    time.sleep(0.5)
    assert _servers_of(home) == []  # stopped when the command ended


def test_a_server_named_by_the_settings_wins_over_the_one_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from flows.process import start_embedded_server

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    server = start_embedded_server()
    assert server.proc is not None and server.proc.poll() is None
    proc = server.proc
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}), server.ready():  # a profile's URL
        assert get_current_settings().api.url == "http://127.0.0.1:9/api"  # left alone
        assert server.proc is None
    assert proc.wait(timeout=10) is not None  # stopped unused


def test_a_server_that_does_not_come_up_leaves_the_start_to_prefect(monkeypatch: pytest.MonkeyPatch) -> None:
    # the failure path of the early start: ready() does not wait for a dead server, stops nothing that lives on and
    # leaves Prefect's settings as they were (Prefect then starts its own embedded server, as before)
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from flows.process import EmbeddedServer

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])  # uvicorn's exit when its port is taken
    dead.wait(timeout=30)
    server = EmbeddedServer(dead, "http://127.0.0.1:9/api")
    started = time.monotonic()
    with temporary_settings(restore_defaults={PREFECT_API_URL}):  # embedded mode: no server named anywhere
        assert get_current_settings().api.url is None
        with server.ready():
            assert get_current_settings().api.url is None  # not pointed at the dead one
            assert "PREFECT_API_URL" not in os.environ
    assert server.proc is None and time.monotonic() - started < 10

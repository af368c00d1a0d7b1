"""The ``nianbao`` command's own process: Ctrl-C / SIGTERM handling (cancel, grace period, killing the
children it started) and the early start of Prefect's embedded API server."""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any


def install_signal_handlers() -> None:
    """Ctrl-C / SIGTERM: cancel the batch (no new report starts, parsing children are killed, nothing is
    published), then leave with 130. A second signal, or a flow that does not stop within the grace
    period (the publish, if running, is waited for: it is one atomic commit), leaves at once."""
    import signal
    import threading

    from nianbao.runtime import cancel

    def leave() -> None:
        import time

        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline or (cancel.in_critical() and time.monotonic() < deadline + 120):
            time.sleep(0.1)
        _hard_exit("did not stop within the grace period")

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if cancel.requested():  # a second signal, or the flow already cancelling: leave now
            _hard_exit(name)
        _say(f"{name}: cancelling; nothing half-done will be published")
        cancel.request(name)
        threading.Thread(target=leave, daemon=True, name="nianbao-cancel-watchdog").start()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


GRACE_SECONDS = 5.0


def _say(message: str) -> None:
    """One line on stderr from a signal handler or the watchdog: os.write, because print() inside a flow
    that logs its prints is turned into a log record (and a signal handler must not take locks)."""
    with contextlib.suppress(OSError):
        os.write(2, f"nianbao: {message}\n".encode())


def _hard_exit(why: str) -> None:
    """Leave now with 130, killing the child processes this command started (parsers, Prefect's embedded
    server) by their process ids so that none outlives it."""
    import signal

    from nianbao.exitcodes import ExitCode
    from nianbao.runtime import cancel

    if cancel.in_critical():
        _say("interrupted while publishing; the publish is atomic: the next run completes or discards it")
    else:
        _say(f"interrupted ({why}): nothing of this batch was published; the previous data is unchanged")
    for pid in _child_pids():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    sys.stderr.flush()
    os._exit(int(ExitCode.INTERRUPTED))


def live_processes() -> dict[int, int]:
    """Process id → parent process id of every live process (zombies, which have exited, left out), read from
    ``/proc``; empty where there is none."""
    parent_of: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return {}
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parent_of[int(entry)] = int(fields[1])
    return parent_of


def _child_pids() -> list[int]:
    """Every live descendant of this process (Prefect's embedded server, pool processes, the parsing
    children they started), deepest first."""
    parent_of = live_processes()
    out: list[int] = []
    frontier = [os.getpid()]
    while frontier:
        kids = [pid for pid, ppid in parent_of.items() if ppid in frontier]
        out.extend(kids)
        frontier = kids
    return out[::-1]


class EmbeddedServer:
    """Prefect's local API server for this command, started by ``start_embedded_server``; ``ready()`` waits for
    it and points the flow at it (or does nothing when none was started)."""

    def __init__(self, proc: subprocess.Popen[bytes] | None = None, api_url: str | None = None) -> None:
        self.proc, self.api_url = proc, api_url

    @contextlib.contextmanager
    def ready(self, preload: tuple[str, ...] = ()) -> Iterator[None]:
        """Wait for the server (importing the ``preload`` modules the flow will need meanwhile: the wait is idle
        time otherwise), then point the flow at it for the ``with`` block."""
        from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED, temporary_settings

        embedded = not PREFECT_API_URL.value() and PREFECT_SERVER_EPHEMERAL_ENABLED.value()
        if embedded and self.proc is not None:
            for name in preload:
                with contextlib.suppress(ImportError):
                    importlib.import_module(name)
        if not embedded or self.proc is None or self.api_url is None or not self._healthy():
            self.stop()  # a Prefect profile names a server (started for nothing), or ours did not come up
            yield  # then Prefect works as usual: that server, or its own embedded one
            return

        os.environ["PREFECT_API_URL"] = self.api_url  # for the processes a runner starts
        try:
            with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
                yield
        finally:
            os.environ.pop("PREFECT_API_URL", None)

    def _healthy(self) -> bool:
        import urllib.request

        assert self.proc is not None
        deadline = time.monotonic() + float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", 120))
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def start_embedded_server() -> EmbeddedServer:
    """Unless ``PREFECT_API_URL`` is set, start Prefect's local API server now, in the background, with the command
    line and environment Prefect itself uses (``SubprocessASGIServer``), so that it boots (~4 s) while this
    process imports Prefect and the flow. Prefect's own way costs every run ~4 s more: the command imports the
    whole server package (~3 s of CPU) only to start that process, then waits for it. Started before Prefect's
    settings are read (importing them takes ~1.5 s): ``EmbeddedServer.ready`` stops it unused when a Prefect
    profile names a server. Any failure here leaves the start to Prefect, as before."""
    if os.environ.get("PREFECT_API_URL"):
        return EmbeddedServer()
    try:
        import importlib.util

        spec = importlib.util.find_spec("prefect")  # its folder, without importing it (~1.5 s)
        if spec is None or not spec.submodule_search_locations:
            return EmbeddedServer()
        app_dir = os.path.dirname(next(iter(spec.submodule_search_locations)))
        with socket.socket() as probe:  # a free port (uvicorn exits if it is taken meanwhile: Prefect's start then)
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--app-dir", app_dir, "--factory",
                                 "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
                                 "--log-level", "error", "--lifespan", "on"], env=env)
    except Exception:
        return EmbeddedServer()
    server = EmbeddedServer(proc, f"http://127.0.0.1:{port}/api")
    atexit.register(server.stop)
    return server


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def restore_signal_handlers() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

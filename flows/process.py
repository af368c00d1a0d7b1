"""The ``nianbao`` command's own process: Ctrl-C / SIGTERM handling (cancel, grace period, killing the
children it started) and the early start of Prefect's embedded API server."""

from __future__ import annotations

import contextlib
import os
import sys
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


def start_embedded_server() -> Any:
    """In embedded mode (no Prefect API configured), start Prefect's local API server now, in the background, so
    that it boots while this process imports the flow (seconds of an unchanged rerun otherwise spent waiting
    for it); return a function that waits until it is up or has failed. The flow would start the same server
    itself; a failure here is left for it to report."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return lambda: None
    import threading

    def boot() -> None:
        from prefect.server.api.server import SubprocessASGIServer

        with contextlib.suppress(Exception):
            SubprocessASGIServer().start()

    thread = threading.Thread(target=boot, name="nianbao-prefect-server", daemon=True)
    thread.start()
    return thread.join


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def restore_signal_handlers() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

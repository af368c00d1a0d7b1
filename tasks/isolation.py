"""Per-report isolation: run the parser in a child process that can be killed.

A thread cannot be interrupted while it is inside blocking code (pdfminer, a regex, a reader
bug looping forever), and a segfault or an out-of-memory kill in a reader would take the whole
worker down. So each report is parsed by ``python -m tasks.isolation`` in its own process
group: past ``report_timeout_seconds`` the group is killed and the report is recorded as failed
(``timeout``); a child that dies is recorded as failed (``crashed``). The batch goes on.

A fresh interpreter (not ``fork``) is used on purpose: forking a process that runs Prefect's
threads and event loops can deadlock, and ``multiprocessing`` refuses to start children from
daemonic processes such as Dask workers. The price is the interpreter start-up, ≈0.3–0.6 s per
report on a 2-core machine, small next to parsing a real PDF.

This module must not import prefect: the child imports only the pure core.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parents[1])


class IsolationError(Exception):
    """The child did not return a value."""


class IsolationTimeout(IsolationError):
    pass


class IsolationCrash(IsolationError):
    pass


class ChildError(IsolationError):
    """The target raised in the child; the message carries its type, message and traceback."""


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def call_isolated(target: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None, *,
                  timeout: float) -> Any:
    """Given ``"module:function"`` and picklable arguments, call it in a fresh child process and return
    its (picklable) value. Raises ``IsolationTimeout`` after ``timeout`` seconds (the child's whole
    process group is killed), ``IsolationCrash`` when the child dies without a value, and
    ``ChildError`` when the function raised."""
    with tempfile.TemporaryDirectory(prefix="nianbao-iso-") as td:
        inp, out = Path(td) / "in.pkl", Path(td) / "out.pkl"
        inp.write_bytes(pickle.dumps((target, args, kwargs or {}), protocol=pickle.HIGHEST_PROTOCOL))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen([sys.executable, "-m", "tasks.isolation", str(inp), str(out)], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise IsolationTimeout(f"no result within {timeout:g} s; the worker process was killed") from None
        except BaseException:
            _kill_group(proc)
            proc.communicate()
            raise
        tail = err.decode("utf-8", "replace").strip()[-2000:]
        if not out.exists():
            raise IsolationCrash(f"the worker process died ({_describe_exit(proc.returncode)})"
                                 + (f": {tail.splitlines()[-1]}" if tail else ""))
        kind, value = pickle.loads(out.read_bytes())
        if kind == "error":
            raise ChildError(value)
        return value


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _child(inp: str, out: str) -> int:
    target, args, kwargs = pickle.loads(Path(inp).read_bytes())
    mod_name, _, fn_name = target.partition(":")
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
        payload: tuple[str, Any] = ("ok", fn(*args, **kwargs))
    except Exception as exc:
        payload = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
    tmp = out + ".tmp"
    with open(tmp, "wb") as fh:
        pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, out)
    return 0


# --- the report worker ---------------------------------------------------------------------

def parse_file(path: str, source_uri: str, max_file_bytes: int, max_pages: int) -> Any:
    """Read a file and run the whole per-report pipeline on it (runs in the child)."""
    from nianbao.pipeline import process_bytes

    return process_bytes(Path(path).read_bytes(), source_uri, max_file_bytes=max_file_bytes, max_pages=max_pages)


def process_isolated(path: str, source_uri: str, *, report_id: str, size: int, max_file_bytes: int, max_pages: int,
                     timeout: float) -> Any:
    """Given a local file holding a report's bytes, return its ``ReportResult``, parsed in a child process
    cut off after ``timeout`` seconds (``timeout <= 0``: parsed in this process, no isolation). Never raises
    for a bad input: a timeout, a crash or an error in the child becomes a failed result."""
    from nianbao.pipeline import ReportResult, sniff_format

    if timeout <= 0:
        return parse_file(path, source_uri, max_file_bytes, max_pages)
    started = time.perf_counter()
    try:
        return call_isolated("tasks.isolation:parse_file", (path, source_uri, max_file_bytes, max_pages),
                             timeout=timeout)
    except IsolationError as exc:
        code = {IsolationTimeout: "timeout", IsolationCrash: "crashed"}.get(type(exc), "internal_error")
        fmt = None
        try:
            with open(path, "rb") as fh:
                head = fh.read(4096)
            fmt = sniff_format(head, source_uri)
        except Exception:
            fmt = None
        hint = {"timeout": "raise `report_timeout_seconds` if the file is genuine, or report it as a bug",
                "crashed": "the parser crashed on this file; please report it as a bug"}.get(
                    code, "please file a bug with this file")
        return ReportResult(report_id=report_id, source_uri=source_uri, source_format=fmt, source_bytes=size,
                            status="failed", error=code,
                            error_message=f"{exc} (report {source_uri}). {hint.capitalize()}",
                            seconds=time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], sys.argv[2]))

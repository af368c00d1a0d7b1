"""Per-report isolation: run the parser in a child process that can be killed.

A thread cannot be interrupted while it is inside blocking code (pdfminer, a regex, a reader
bug looping forever), and a segfault or an out-of-memory kill in a reader would take the whole
worker down. So each report is parsed by ``python -m nianbao.runtime.isolation`` in its own process
group: past ``report_timeout_seconds`` the group is killed and the report is recorded as failed
(``timeout``); a child that dies is recorded as failed (``crashed``). The batch goes on.

A fresh interpreter (not ``fork``) is started on purpose: forking a process that runs Prefect's
threads and event loops can deadlock, and ``multiprocessing`` refuses to start children from
daemonic processes such as Dask workers. The interpreters are kept warm and reused, one per
concurrent call, so the start-up (≈0.3–0.6 s) is paid once per worker, not once per report; a
child that timed out or crashed is killed and replaced.

This module must not import prefect: the child imports only the pure core.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from nianbao.errors import out_of_memory
from nianbao.processes import kill_group

_ROOT = str(Path(__file__).resolve().parents[2])


class IsolationError(Exception):
    """The child did not return a value."""


class IsolationTimeout(IsolationError):
    pass


class IsolationCrash(IsolationError):
    pass


class IsolationMemoryLimit(IsolationError):
    """The target ran out of the memory the child is allowed (``report_memory_mb``)."""


class ChildError(IsolationError):
    """The target raised in the child; the message carries its type, message and traceback."""


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class _Worker:
    """A warm child process (``python -m nianbao.runtime.isolation --serve``) that runs one call at a time.

    Requests and replies are length-prefixed pickles over the child's stdin/stdout; the child
    moves its own ``sys.stdout`` to stderr so nothing else can corrupt the channel.
    """

    # Recycled after MAX_CALLS calls (slow growth), or at once when it holds more than RECYCLE_MB (above what
    # OCR's loaded models and a page need, ~2 GB): not every 200 reports as before, since each start costs
    # ~0.3 s of CPU and a fork of the parent (a batch of 100,000 text reports started 500 of them).
    RECYCLE_MB = 3072
    MAX_CALLS = 1000
    MAX_CALLS_BLIND = 200  # where /proc cannot say how much memory the child holds

    def __init__(self, memory_mb: int = 0) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
        self.memory_mb = memory_mb
        self.proc = subprocess.Popen([sys.executable, "-m", "nianbao.runtime.isolation", "--serve", str(memory_mb)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self.calls = 0
        self.pid_of_parent = os.getpid()

    def call(self, request: bytes, timeout: float) -> tuple[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.calls += 1
        deadline = time.monotonic() + timeout
        try:
            self.proc.stdin.write(struct.pack("<Q", len(request)) + request)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise IsolationCrash(f"the worker process died ({_describe_exit(self.proc.wait())})") from None
        fd = self.proc.stdout.fileno()
        header = self._read(fd, 8, deadline, timeout)
        (n,) = struct.unpack("<Q", header)
        kind, value = pickle.loads(self._read(fd, n, deadline, timeout))
        return kind, value

    def _read(self, fd: int, n: int, deadline: float, timeout: float) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.kill()
                raise IsolationTimeout(f"no result within {timeout:g} s; the worker process was killed")
            chunk = os.read(fd, min(1 << 20, n - len(buf)))
            if not chunk:
                code = self.proc.wait()
                raise IsolationCrash(f"the worker process died ({_describe_exit(code)})")
            buf += chunk
        return bytes(buf)

    def kill(self) -> None:
        kill_group(self.proc)
        self.proc.wait()

    def alive(self) -> bool:
        return self.proc.poll() is None and self.pid_of_parent == os.getpid()

    def worn(self) -> bool:
        """Whether to retire it: too many calls, or more resident memory than ``RECYCLE_MB`` (read from
        ``/proc``; where there is none, after ``MAX_CALLS_BLIND`` calls)."""
        try:
            with open(f"/proc/{self.proc.pid}/statm", "rb") as fh:
                resident_mb = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            return self.calls >= self.MAX_CALLS_BLIND
        return self.calls >= self.MAX_CALLS or resident_mb > self.RECYCLE_MB


_IDLE: list[_Worker] = []
_IDLE_LOCK = threading.Lock()
_BUSY: set[_Worker] = set()  # workers running a call now (killed by kill_busy on a cancel)


def kill_busy() -> None:
    """Kill the process group of every worker (busy or idle) without waiting or locking: called from a
    signal handler on Ctrl-C / SIGTERM, so the reports being parsed come back at once (as crashed) and
    no child outlives the batch. The killed workers are replaced on their next use."""
    for w in list(_BUSY) + list(_IDLE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(w.proc.pid, signal.SIGKILL)


def _checkout(memory_mb: int) -> _Worker:
    with _IDLE_LOCK:
        for i in range(len(_IDLE) - 1, -1, -1):
            if _IDLE[i].memory_mb == memory_mb:
                w = _IDLE.pop(i)
                if w.alive():
                    return w
    return _Worker(memory_mb)


def _checkin(w: _Worker) -> None:
    if not w.alive() or w.worn():
        w.kill()
        return
    with _IDLE_LOCK:
        _IDLE.append(w)


@atexit.register
def _shutdown() -> None:
    with _IDLE_LOCK:
        while _IDLE:
            _IDLE.pop().kill()


def call_isolated(target: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None, *,
                  timeout: float, memory_mb: int = 0) -> Any:
    """Given ``"module:function"`` and picklable arguments, call it in a warm child process and return
    its (picklable) value. Raises ``IsolationTimeout`` after ``timeout`` seconds (the child's whole
    process group is killed), ``IsolationCrash`` when the child dies without a value, and
    ``ChildError`` when the function raised, ``IsolationMemoryLimit`` when it ran out of the
    ``memory_mb`` megabytes of address space the child is allowed (0: no cap; the child is replaced).
    Children are reused between calls (one per concurrent call, recycled when worn: ``_Worker.worn``),
    so a report costs no interpreter start-up."""
    request = pickle.dumps((target, args, kwargs or {}), protocol=pickle.HIGHEST_PROTOCOL)
    worker = _checkout(memory_mb)
    _BUSY.add(worker)
    try:
        kind, value = worker.call(request, timeout)
    except BaseException:
        if worker.proc.poll() is None:
            worker.kill()
        raise
    finally:
        _BUSY.discard(worker)
    if kind == "memory":
        worker.kill()  # its heap may be fragmented or half-freed: start the next call afresh
        raise IsolationMemoryLimit(value)
    _checkin(worker)
    if kind == "error":
        raise ChildError(value)
    return value


def _limit_memory(memory_mb: int) -> None:
    """Cap the child's address space (inherited by converters it starts, e.g. LibreOffice): a page
    that makes pdfminer's object lists grow without end fails with MemoryError instead of taking
    the machine's memory while it waits for its timeout."""
    if memory_mb > 0:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve(memory_mb: int = 0) -> int:
    """The child's loop: read a request, run it, write the reply; exit on EOF."""
    _limit_memory(memory_mb)
    channel_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # prints from parsers go to stderr, never into the reply channel
    channel_in = sys.stdin.buffer
    while True:
        header = channel_in.read(8)
        if len(header) < 8:
            return 0
        (n,) = struct.unpack("<Q", header)
        target, args, kwargs = pickle.loads(channel_in.read(n))
        mod_name, _, fn_name = target.partition(":")
        try:
            fn = getattr(importlib.import_module(mod_name), fn_name)
            payload: tuple[str, Any] = ("ok", fn(*args, **kwargs))
        except MemoryError:
            payload = ("memory", f"the parser needed more than the {memory_mb} MB it is allowed")
        except Exception as exc:
            if memory_mb > 0 and out_of_memory(exc):
                payload = ("memory", f"the parser needed more than the {memory_mb} MB it is allowed ({exc})")
            else:
                payload = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
        try:
            data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            data = pickle.dumps(("error", f"unpicklable result: {type(exc).__name__}: {exc}"))
        channel_out.write(struct.pack("<Q", len(data)) + data)
        channel_out.flush()


# --- the report worker ---------------------------------------------------------------------

def parse_file(path: str, source_uri: str, max_file_bytes: int, max_pages: int, ocr: bool = True,
               expected_sha256: str | None = None, pdf_text_source: str | None = None) -> Any:
    """Read a file and run the whole per-report pipeline on it (runs in the child). With
    ``expected_sha256`` (the hash taken at ingest), bytes that do not hash to it are not parsed: the
    result is ``failed`` / ``changed_while_read``, never a report published or cached under that hash."""
    import hashlib

    from nianbao.pipeline import process_bytes
    from nianbao.results import ReportResult

    data = Path(path).read_bytes()
    if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
        return ReportResult(report_id=expected_sha256, source_uri=source_uri, source_format=None,
                            source_bytes=len(data), status="failed", error="changed_while_read",
                            error_message=f"the bytes to parse are not the bytes hashed at ingest (report "
                            f"{source_uri}); rerun: nothing was published or cached for them")
    return process_bytes(data, source_uri, max_file_bytes=max_file_bytes, max_pages=max_pages, ocr=ocr,
                         pdf_text_source=pdf_text_source)


def process_isolated(path: str, source_uri: str, *, report_id: str, size: int, max_file_bytes: int, max_pages: int,
                     timeout: float, memory_mb: int = 0, ocr: bool = True,
                     expected_sha256: str | None = None, pdf_text_source: str | None = None) -> Any:
    """Given a local file holding a report's bytes, return its ``ReportResult``, parsed in a child process
    cut off after ``timeout`` seconds and limited to ``memory_mb`` MB of address space (``timeout <= 0``:
    parsed in this process, no isolation). Never raises for a bad input: a timeout, a crash, running out
    of memory or an error in the child becomes a failed result."""
    from nianbao.read import sniff_format
    from nianbao.results import ReportResult

    if timeout <= 0:
        return parse_file(path, source_uri, max_file_bytes, max_pages, ocr, expected_sha256, pdf_text_source)
    started = time.perf_counter()
    try:
        return call_isolated("nianbao.runtime.isolation:parse_file",
                             (path, source_uri, max_file_bytes, max_pages, ocr, expected_sha256, pdf_text_source),
                             timeout=timeout, memory_mb=memory_mb)
    except IsolationError as exc:
        code = {IsolationTimeout: "timeout", IsolationCrash: "crashed",
                IsolationMemoryLimit: "memory_limit"}.get(type(exc), "internal_error")
        fmt = None
        try:
            with open(path, "rb") as fh:
                head = fh.read(4096)
            fmt = sniff_format(head, source_uri)
        except Exception:
            fmt = None
        if code == "crashed" and memory_mb > 0:
            # Some allocations fail with an abort rather than MemoryError; the cap is the likely cause.
            exc = IsolationCrash(f"{exc}; the parsing process is limited to {memory_mb} MB of memory "
                                 "(`report_memory_mb`): raise it if the file is genuine")
        hint = {"timeout": "raise `report_timeout_seconds` if the file is genuine, or report it as a bug",
                "crashed": "the parser crashed on this file; please report it as a bug",
                "memory_limit": "raise `report_memory_mb` if the file is genuine, or report it as a bug"}.get(
                    code, "please file a bug with this file")
        return ReportResult(report_id=report_id, source_uri=source_uri, source_format=fmt, source_bytes=size,
                            status="failed", error=code,
                            error_message=f"{exc} (report {source_uri}). {hint.capitalize()}",
                            seconds=time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[2]) if len(sys.argv) > 2 else 0))

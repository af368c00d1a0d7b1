"""File-system primitives of the local publish: advisory locks, the atomic directory exchange, durable writes."""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nianbao.errors import PublishConflictError


class PublishLockedError(PublishConflictError):
    """Another run holds a lock this run needs (same year, same output)."""


@contextmanager
def flock(path: Path, timeout: float | None, what: str) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path``; wait up to ``timeout`` seconds (None: forever), then raise
    ``PublishLockedError``. The kernel releases it when the process dies, even by SIGKILL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")  # noqa: SIM115 - held across the yield below, closed in finally
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise PublishLockedError(
                        f"{what} is being published by another run (lock {path}); this run wrote nothing") from None
                time.sleep(0.1)
        yield
    finally:
        fh.close()


# --- file system primitives ----------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)


def exchange_dirs(a: Path, b: Path) -> None:
    """Atomically swap two existing directories (Linux renameat2); two renames elsewhere."""
    if _renameat2 is not None:
        rc = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
        if rc == 0:
            return
    tmp = b.with_name(b.name + ".swap")
    os.rename(b, tmp)
    os.rename(a, b)
    os.rename(tmp, a)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes) -> None:
    """Write a file and fsync it (not its directory)."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links: a copy has the same bytes
        shutil.copy2(src, dst)

"""File-system primitives of the local publish beyond ``nianbao.fsio`` (the one atomic write and the one lock):
the publish lock error, the atomic directory exchange, durable writes and hard links."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nianbao.errors import PublishConflictError
from nianbao.fsio import LockTimeoutError, file_lock


class PublishLockedError(PublishConflictError):
    """Another run holds a lock this run needs (same year, same output)."""


@contextmanager
def flock(path: Path, timeout: float | None, what: str) -> Iterator[None]:
    """Hold ``nianbao.fsio.file_lock`` on ``path``; after ``timeout`` seconds (None: wait forever) raise
    ``PublishLockedError`` (a ``PublishConflictError``). The kernel releases it when the process dies, even by
    SIGKILL."""
    lock = file_lock(path, timeout=timeout, what=what)
    try:
        lock.__enter__()
    except LockTimeoutError:
        raise PublishLockedError(
            f"{what} is being published by another run (lock {path}); this run wrote nothing") from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


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

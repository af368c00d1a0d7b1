"""The one way nianbao writes a local file that readers may be looking at, and the one file lock.

``atomic_write``: a temporary file in the target's folder (or a given one on the same file system),
written, flushed and fsynced, then ``os.replace``d over the target, so a reader sees the old file or the new
one, never a part. ``file_lock``: an exclusive advisory ``flock`` held for a ``with`` block.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class LockTimeoutError(RuntimeError):
    """Another process held the lock longer than the caller was willing to wait."""


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (new names, renames) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, content: bytes | str | Callable[[Path], None], *, tmp_dir: Path | None = None) -> Path:
    """Given a target path and its content (bytes, text written as UTF-8, or a function that writes the file
    at the path it is given), replace the target atomically and durably; return the target.

    ``tmp_dir`` must be on the same file system as the target (default: the target's folder; temporary names
    start with a dot, so readers globbing ``*.parquet`` never see them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = tmp_dir or path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{path.name[:32]}.", suffix=".tmp")
    tmp = Path(name)
    try:
        if callable(content):
            os.close(fd)
            content(tmp)
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content.encode("utf-8") if isinstance(content, str) else content)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@contextmanager
def file_lock(path: Path, *, timeout: float | None = None, what: str = "") -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` for the ``with`` block; wait up to ``timeout`` seconds
    (None: as long as it takes), then raise ``LockTimeoutError`` naming ``what`` and the lock file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")  # noqa: SIM115 - held across the yield below, closed in finally
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise LockTimeoutError(f"{what or path} is held by another run (lock {path})") from None
                time.sleep(0.2)
        yield
    finally:
        fh.close()

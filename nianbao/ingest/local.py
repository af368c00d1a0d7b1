"""Reading a local input exactly once: the bytes hashed are the bytes parsed.

The report id and the result-cache key are the sha256 of the input's bytes. Hashing the file and later
parsing it again by its path would let a file that changes in between be published under the old hash
(and the old hash's cache entry be filled with the new content, for ever). So a local input is read once
into a private copy (``<cache>/tmp/ingest/``) while it is hashed; the parse reads that copy, and the
parsing child checks the copy's hash again before it parses (``nianbao.runtime.isolation.parse_file``).

A file that changes *while* it is copied (its size, modification or change time, or inode differ before
and after, or fewer bytes came than it had) is refused as ``changed_while_read``: never published, never
cached, read again on the next run. Only regular files are opened for reading, with ``O_NONBLOCK`` so
that a FIFO cannot block the open; a FIFO, a device or a socket is ``not_regular_file``.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nianbao.errors import FileTooLargeError, NianbaoError

CHUNK = 1 << 20


class NotRegularFileError(NianbaoError):
    """A FIFO, device or socket named as an input: never read (it could block or never end)."""

    code = "not_regular_file"
    hint = "Only regular files are read; copy the report into a file"


class ChangedWhileReadError(NianbaoError):
    """The file changed while it was read: its bytes are not one version of the file."""

    code = "changed_while_read"
    hint = "The file was being written while nianbao read it; rerun once it is complete"


@dataclass(frozen=True)
class LocalCopy:
    """A private copy of an input's bytes, and their sha256 and size."""

    sha256: str
    size: int
    path: str


def kind_of(mode: int) -> str:
    """Given a stat mode that is not a regular file's, say what it is (for the skip reason)."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _identity(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _chunks(fd: int, limit: int) -> Iterator[bytes]:
    """The file's bytes in chunks, at most ``limit`` of them (a module function: tests inject a change here)."""
    left = limit
    while left > 0:
        chunk = os.read(fd, min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def _open_regular(path: str, max_bytes: int) -> tuple[int, os.stat_result]:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):

            raise NotRegularFileError(f"{kind_of(st.st_mode)}, not a file: never read", source=path)
        if st.st_size > max_bytes:
            raise FileTooLargeError(f"{st.st_size} bytes exceed the limit of {max_bytes}", source=path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _check_unchanged(fd: int, before: os.stat_result, size: int, path: str, max_bytes: int) -> None:
    if size > max_bytes:
        raise FileTooLargeError(f"more than {max_bytes} bytes (the file grew while read)", source=path)
    after = os.fstat(fd)
    if _identity(after) != _identity(before) or size != after.st_size:
        raise ChangedWhileReadError(f"the file changed while it was read ({before.st_size} bytes before, "
                                    f"{after.st_size} after, {size} read)", source=path)


def read_bytes_once(path: str, max_bytes: int) -> bytes:
    """Given a local path, return its bytes (one consistent version of the file, at most ``max_bytes``)."""
    fd, before = _open_regular(path, max_bytes)
    try:
        data = b"".join(_chunks(fd, max_bytes + 1))
        _check_unchanged(fd, before, len(data), path, max_bytes)
        return data
    finally:
        os.close(fd)


def copy_once(path: str, max_bytes: int, dest_dir: str | Path) -> LocalCopy:
    """Given a local path, copy its bytes into a private file under ``dest_dir`` while hashing them;
    return the copy. Raises ``NotRegularFileError``, ``FileTooLargeError``, ``ChangedWhileReadError``
    (and ``OSError`` for an unreadable file); no copy is left behind when it raises."""
    fd, before = _open_regular(path, max_bytes)
    try:
        Path(dest_dir).mkdir(parents=True, exist_ok=True)
        out_fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix="local.")
        try:
            h, size = hashlib.sha256(), 0
            with os.fdopen(out_fd, "wb") as out:
                for chunk in _chunks(fd, max_bytes + 1):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            _check_unchanged(fd, before, size, path, max_bytes)
            os.chmod(tmp, 0o400)  # private and read-only: nothing rewrites the bytes that were hashed
            return LocalCopy(h.hexdigest(), size, tmp)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    finally:
        os.close(fd)


def discard(copy_path: str | None, dest_dir: str | Path) -> None:
    """Remove a private copy made by ``copy_once`` (only files under ``dest_dir``: never an input)."""
    if copy_path and Path(copy_path).parent == Path(dest_dir):
        Path(copy_path).unlink(missing_ok=True)

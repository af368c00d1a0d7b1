"""Folder walks that account for every entry: each file is read, or recorded as skipped with a reason.

Nothing in an input folder is dropped silently, and nothing can make a walk hang:

* **Regular files only.** FIFOs, character/block devices and sockets are never opened (opening a FIFO
  blocks until a writer appears; ``/dev/zero`` never ends): ``not_regular_file``.
* **Symlinks are followed** (to files and to folders, also outside the input), with loop detection: a
  folder already walked (same device and inode) is not walked again (``symlink_loop``); a link that
  points nowhere is ``symlink_dangling``; a link that loops on itself is ``symlink_loop``.
* **Unreadable** folders and entries (permissions, I/O errors, entries vanishing mid-walk): ``unreadable``.
* **Hidden or private names** (starting with ``.`` or ``_``: ``.git``, ``.DS_Store``, ``_manifests``) are
  one ``hidden`` entry each, a folder as a whole (not walked).
* **Year folders.** ``--year 2022`` on an inbox that has a ``2022/`` folder reads that folder. The other
  top-level entries are accounted for, never read: a loose file or a non-year folder is
  ``outside_year_folder`` ("move it into 2022/ or give it explicitly"); another year's folder
  (``2021/``) is ``other_year_folder`` — it belongs to that year's batch, so it is listed in the
  batch manifest and the summary but not in this year's ``reports`` dataset.
* **Formats.** A file with an extension of ``nianbao.read.SUFFIXES`` is read. Any other file
  (``.json``, ``.csv``, images, unknown extensions, no extension) is sniffed from its first bytes by
  ``decide`` when it is ingested: a file with a data or image extension is read only when its bytes are a
  PDF or DOCX; a file with an unknown or no extension is read when its bytes are any readable format;
  otherwise it is ``unsupported_format`` with the reason.

Skipped entries become ``reports`` rows with ``status = skipped`` (error = the code above, message = the
reason) and manifest inputs, so the summary and the datasets list them.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from nianbao.ingest.item import SourceItem
from nianbao.ingest.local import kind_of
from nianbao.read import MAGIC_FORMATS, SUFFIXES

# Extensions of files that are data, media, code or archives, never a report's own format: such a file
# is read only when its bytes are a PDF or a DOCX (a report saved under the wrong name).
DATA_SUFFIXES: frozenset[str] = frozenset({
    ".json", ".jsonl", ".csv", ".tsv", ".parquet", ".xml", ".xls", ".xlsx", ".et", ".ods", ".ppt", ".pptx",
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".svg", ".ico", ".heic",
    ".zip", ".rar", ".7z", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".mp3", ".mp4", ".avi", ".mov", ".wav",
    ".exe", ".dll", ".so", ".js", ".css", ".py", ".sh", ".log", ".ini", ".yaml", ".yml", ".toml", ".db",
})

HIDDEN_PREFIXES = (".", "_")


def _skip(path: str, code: str, reason: str, year: int | None) -> SourceItem:
    return SourceItem(path, year=year, skip=code, note=reason)


def classify_stat(path: str, year: int | None) -> tuple[os.stat_result | None, SourceItem | None]:
    """Given a path, return ``(stat, None)`` when it can be looked at further, else ``(None, skipped item)``."""
    try:
        st = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        if os.path.islink(path):
            return None, _skip(path, "symlink_dangling", f"a symbolic link to {os.readlink(path)!r}, which does "
                               "not exist", year)
        return None, _skip(path, "unreadable", "the entry vanished while the folder was read", year)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, _skip(path, "symlink_loop", "a symbolic link that loops on itself", year)
        return None, _skip(path, "unreadable", f"cannot be looked at: {exc.strerror or exc}", year)
    if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
        return st, None
    return None, _skip(path, "not_regular_file", f"{kind_of(st.st_mode)}, not a file: never opened", year)


def file_item(path: str, year: int | None) -> SourceItem:
    """A regular file found in a folder: read as a report, or sniffed first when its extension is not a report's."""
    suffix = Path(path).suffix.lower()
    return SourceItem(path, year=year, sniff=suffix not in SUFFIXES)


def walk_folder(root: str, year: int | None) -> list[SourceItem]:
    """Given a folder, return every entry under it: files to read, and skipped entries with their reason,
    in a stable order (see the module docstring for the rules)."""
    return list(iter_folder(root, year))


def iter_folder(root: str, year: int | None) -> Iterator[SourceItem]:
    """``walk_folder`` one entry at a time (a check that stops at the first readable file walks no further)."""
    base = root
    if year is not None and os.path.isdir(os.path.join(root, str(year))):
        base = os.path.join(root, str(year))
        yield from _outside(root, year)
    yield from _walk(base, year, set())


def _outside(root: str, year: int) -> list[SourceItem]:
    """The top-level entries of an inbox beside its ``<year>/`` folder: accounted for, not read."""
    out: list[SourceItem] = []
    try:
        names = sorted(os.listdir(root))
    except OSError as exc:
        return [_skip(root, "unreadable", f"cannot list the folder: {exc.strerror or exc}", year)]
    for name in names:
        if name == str(year):
            continue
        path = os.path.join(root, name)
        if name.isdigit() and len(name) == 4 and os.path.isdir(path):
            out.append(_skip(path, "other_year_folder", f"another year's folder: read by the {name} batch, "
                             f"not by the {year} batch", year))
        elif name.startswith(HIDDEN_PREFIXES):
            out.append(_skip(path, "hidden", "a hidden or private name (starts with . or _): not read", year))
        else:
            what = "folder" if os.path.isdir(path) else "file"
            out.append(_skip(path, "outside_year_folder", f"a {what} outside the {year}/ folder: not read in the "
                             f"{year} batch; move it into {year}/ or give it explicitly", year))
    return out


def _walk(folder: str, year: int | None, visited: set[tuple[int, int]]) -> Iterator[SourceItem]:
    st, skipped = classify_stat(folder, year)
    if skipped is not None or st is None:
        yield skipped or _skip(folder, "unreadable", "cannot be looked at", year)
        return
    key = (st.st_dev, st.st_ino)
    if key in visited:
        yield _skip(folder, "symlink_loop", "a folder already walked (a symbolic link loop or a second link to "
                    "it): not walked again", year)
        return
    visited.add(key)
    try:
        with os.scandir(folder) as it:
            names = sorted(e.name for e in it)
    except OSError as exc:
        yield _skip(folder, "unreadable", f"cannot list the folder: {exc.strerror or exc}", year)
        return
    for name in names:
        path = os.path.join(folder, name)
        if name.startswith(HIDDEN_PREFIXES):
            yield _skip(path, "hidden", "a hidden or private name (starts with . or _): not read", year)
            continue
        est, skipped = classify_stat(path, year)
        if skipped is not None or est is None:
            yield skipped or _skip(path, "unreadable", "cannot be looked at", year)
        elif stat.S_ISDIR(est.st_mode):
            yield from _walk(path, year, visited)
        else:
            yield file_item(path, year)


def decide(item: SourceItem, data: bytes) -> tuple[str, str] | None:
    """Given an input and its bytes, return ``(code, reason)`` when it is skipped (a file found in a folder
    under a name that is not a report's, whose bytes are not a report format), None when it is read."""
    if not item.sniff:
        return None
    from nianbao.errors import NianbaoError
    from nianbao.read import sniff_format

    try:
        fmt: str | None = sniff_format(data, item.uri)
    except NianbaoError:
        fmt = None
    suffix = Path(item.uri).suffix.lower()
    if suffix in DATA_SUFFIXES:
        if fmt in MAGIC_FORMATS:
            return None  # a PDF or DOCX saved under a data name: read it
        return "unsupported_format", (f"a {suffix} file ({'its bytes are ' + fmt if fmt else 'not a report format'}"
                                      "): data or media, not a report; not read")
    if fmt is None:
        what = f"a {suffix} file" if suffix else "a file without an extension"
        return "unsupported_format", f"{what} whose bytes are not a format nianbao reads; not read"
    return None


def might_be_read(item: SourceItem, head_bytes: int = 8192) -> bool:
    """A quick, conservative look (first bytes only) used before a batch starts: False only for an entry
    that ``decide`` will certainly skip (a skipped entry, or a data/unknown file whose first bytes are
    neither a PDF, a ZIP nor text). The decision itself is made on the whole bytes at ingest."""
    if item.skip is not None:
        return False
    if not item.sniff:
        return True
    try:
        fd = os.open(item.uri, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return True  # ingest will record why
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.read(fd, head_bytes)
    except OSError:
        return True
    finally:
        os.close(fd)
    magic = head.startswith(b"PK\x03\x04") or b"%PDF-" in head[:1024]
    if Path(item.uri).suffix.lower() in DATA_SUFFIXES:
        return magic
    return magic or b"\x00" not in head

"""Checks of the ``nianbao`` command's arguments and paths, run before Prefect starts and before any parsing.

Each failure is a ``UsageError`` with one line that names the argument and says what to do; the
command prints it and exits with ``ExitCode.USAGE`` (2) in well under a second. Only the standard
library and the settings module are imported here (no prefect, polars or pdfplumber), so that a
mistake costs no start-up time.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

FIRST_YEAR = 2008  # the disclosure regulations (政府信息公开条例) took effect on 1 May 2008


class UsageError(Exception):
    """A bad argument or path; the message is the one line shown to the user."""


def last_year_allowed(today: date | None = None) -> int:
    """The latest report year accepted: next year (a batch may be prepared before the year ends)."""
    return (today or date.today()).year + 1


def check_year(year: int | None, flag: str = "--year") -> None:
    """Refuse a report year outside 2008..next year."""
    if year is None:
        return
    last = last_year_allowed()
    if not FIRST_YEAR <= year <= last:
        raise UsageError(f"{flag} {year} is outside {FIRST_YEAR}..{last}: reports exist from {FIRST_YEAR} "
                         f"(the disclosure regulations) to {last}")


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def check_sources(sources: list[str]) -> None:
    """Refuse inputs that do not exist (a typo must not become an empty batch), and manifests that cannot
    be read (encoding, no ``uri`` column)."""
    missing = [s for s in sources if not is_url(s) and not os.path.exists(s.removeprefix("file://"))]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise UsageError(f"input not found: {missing[0]}{more}; check the path")
    odd = [s for s in sources if "://" in s and not is_url(s) and not s.startswith("file://")]
    if odd:
        raise UsageError(f"input {odd[0]}: only local paths, file:// and http(s) URLs can be read")
    for s in sources:
        if not is_url(s) and s.lower().endswith((".csv", ".parquet")) and os.path.isfile(s.removeprefix("file://")):
            from nianbao.ingest.sources import ManifestError, read_manifest

            try:
                read_manifest(Path(s.removeprefix("file://")))
            except ManifestError as exc:
                raise UsageError(str(exc)) from None


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_out(out: str, sources: list[str]) -> None:
    """Refuse an ``--out`` inside an input folder (the run would read its own output) and an output
    folder that cannot be written (created if missing; a probe file is written and removed)."""
    if "://" in out and not out.startswith("file://"):
        return  # an object store: checked when it is opened
    target = Path(out.removeprefix("file://")).resolve()
    for s in sources:
        if is_url(s):
            continue
        src = Path(s.removeprefix("file://")).resolve()
        if src.is_dir() and _inside(target, src):
            raise UsageError(f"--out {out} is inside the input folder {s}: the run would read its own output; "
                             "choose an output folder outside the inputs")
        if _inside(src, target) and src != target:
            raise UsageError(f"input {s} is inside --out {out}: the output folder is rewritten by every run; "
                             "keep the inputs outside it")
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=target, prefix=".nianbao-write-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"cannot write to --out {out}: {exc.strerror or exc}; choose a writable folder") from None


def check_backfill_range(from_year: int, to_year: int) -> None:
    check_year(from_year, "--from")
    check_year(to_year, "--to")
    if from_year > to_year:
        raise UsageError(f"--from {from_year} is after --to {to_year}")


def check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: needs at least 1")


class NothingReadableError(Exception):
    """Every input yields nothing nianbao would read; the message names them."""


def check_readable(sources: list[str], year: int | None) -> list[str]:
    """Walk the local inputs (no file is parsed; only the first bytes of oddly named files are looked at).
    Raise ``NothingReadableError`` when no input yields a file that could be read; return one warning per
    input that yields nothing while others do."""
    from collections import Counter

    from nianbao.ingest.walk import iter_folder, might_be_read, walk_folder

    empty: list[str] = []
    for src in sources:
        folder = src.removeprefix("file://")
        if is_url(src) or not os.path.isdir(folder):
            continue
        if not any(might_be_read(it) for it in iter_folder(folder, year)):  # stops at the first readable file
            items = walk_folder(folder, year)
            reasons = Counter(it.skip or "unsupported_format" for it in items)
            what = ", ".join(f"{k} {v}" for k, v in reasons.most_common()) or "no files at all"
            where = f" (for --year {year}: {os.path.join(src, str(year))} or the folder itself)" if year else ""
            empty.append(f"nothing readable in {src}{where}: {len(items)} entries ({what})")
    local = [s for s in sources if not is_url(s)]
    if empty and len(empty) == len(sources) and local:
        raise NothingReadableError(empty[0] + ("" if len(empty) == 1 else f" (and {len(empty) - 1} more inputs)")
                                   + "; nothing published, nothing replaced")
    return empty

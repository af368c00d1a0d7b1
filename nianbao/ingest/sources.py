"""Sources of a batch: files, folders (``<inbox>/<year>/...``) and manifests, as a list of inputs.

Manifests are data scraped from thousands of sites, so their entries are checked before anything
is read. An entry is **refused** (kept in the batch as an input with ``SourceItem.refused`` set,
so it is recorded as a failed report, code ``refused_source``, and never read) when it:

* is a relative path that leaves the manifest's folder (``../../etc/passwd``, also with ``\\``);
* holds a NUL or another control character other than TAB/newline, or is empty;
* names a scheme other than http(s) and ``file://`` (``ftp://``, ``s3://`` ...);
* has a ``year`` that is not a year.

Absolute paths and ``file://`` URIs are honoured: the manifest is the operator's configuration.
Names with spaces, newlines, emoji or any other Unicode are ordinary names. Archives (``.zip``)
are not unpacked: they are inputs like any other and are recorded as ``unsupported_format``.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from nianbao.errors import NianbaoError
from nianbao.ingest.item import SourceItem as SourceItem  # re-exported: where callers have always found it
from nianbao.ingest.local import read_bytes_once
from nianbao.ingest.walk import classify_stat, walk_folder

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_YEAR = re.compile(r"^\s*(\d{4})(?:\.0+)?\s*年?\s*$")


class RefusedSourceError(NianbaoError):
    """A manifest entry nianbao will not read (path traversal, odd scheme, control characters)."""

    code = "refused_source"
    hint = ("Manifest entries must be http(s) URLs, absolute paths, or paths inside the manifest's folder; "
            "fix the entry in the manifest and rerun")


def expand_sources(sources: list[str], year: int | None = None) -> list[SourceItem]:
    """Given files, folders and manifests, return the inputs in a stable order, every entry accounted for.

    A folder is walked recursively (``nianbao.ingest.walk``: symlinks followed with loop detection;
    FIFOs, devices, sockets, dangling links, unreadable and hidden entries returned as skipped items with
    their reason); a folder that has a ``<year>`` sub-folder contributes only that year's files when
    ``year`` is given (the rest is accounted for as skipped). ``.csv``/``.parquet`` files given directly
    are manifests with a ``uri`` column. A file given directly is read whatever its name.
    """

    items: list[SourceItem] = []
    for src in sources:
        if src.startswith(("http://", "https://")):
            items.append(SourceItem(src, year=year))
            continue
        path = Path(src.removeprefix("file://"))
        st, skipped = classify_stat(str(path), year)
        if skipped is not None:
            items.append(skipped)
        elif st is not None and path.is_dir():
            items.extend(walk_folder(str(path), year))
        elif path.suffix.lower() in {".csv", ".parquet"}:
            items.extend(read_manifest(path))
        else:
            items.append(SourceItem(str(path), year=year))
    seen: set[str] = set()
    unique = []
    for it in items:
        if it.uri not in seen:
            seen.add(it.uri)
            unique.append(it)
    return unique


def _inert(raw: str) -> str:
    """The URI recorded for a refused entry: the entry as written, made unopenable as a path."""
    shown = raw.replace("\x00", "\\x00")
    return f"refused:{shown}"


def resolve_entry(raw: str, base: Path) -> tuple[str, str | None]:
    """Given a manifest entry and the manifest's folder, return ``(uri, refusal)``: the URI to read, or an
    inert URI and the reason the entry is refused."""
    entry = raw.strip()
    if not entry:
        return _inert(raw), "the manifest row has no uri"
    if _CONTROL.search(entry):
        return _inert(entry), "the uri holds a control character (NUL, ESC ...): not a file name nianbao will open"
    m = _SCHEME.match(entry)
    if m:
        scheme = m.group(1).lower()
        if scheme in ("http", "https"):
            return entry, None
        if scheme != "file":
            return _inert(entry), f"scheme {scheme}:// is not supported (only http(s) URLs and local paths)"
        parts = urlsplit(entry)
        if parts.netloc not in ("", "localhost"):
            return _inert(entry), f"file:// URI names another host ({parts.netloc})"
        entry = unquote(parts.path)
        if not entry.startswith("/"):
            return _inert(raw), "file:// URI without an absolute path"
    if os.path.isabs(entry):
        return os.path.normpath(entry), None
    pieces = re.split(r"[\\/]+", entry)
    depth = 0
    for piece in pieces:
        if piece == "..":
            depth -= 1
            if depth < 0:
                return _inert(entry), "the relative path leaves the manifest's folder (path traversal)"
        elif piece not in ("", "."):
            depth += 1
    return str(base.resolve() / os.path.normpath(entry)), None


def _year(value: Any) -> tuple[int | None, str | None]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, bool):
        return None, f"manifest year {value!r} is not a year"
    if isinstance(value, int):
        return (value, None) if 1900 <= value <= 2200 else (None, f"manifest year {value!r} is not a year")
    if isinstance(value, float) and value.is_integer():
        return _year(int(value))
    m = _YEAR.match(str(value))
    if m:
        return _year(int(m.group(1)))
    return None, f"manifest year {str(value)[:40]!r} is not a year"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


class ManifestError(NianbaoError, ValueError):
    """A manifest that cannot be read as a whole (encoding, no ``uri`` column, not a CSV/Parquet file)."""

    code = "bad_manifest"
    hint = "Save the manifest as UTF-8 (or GB18030) CSV with a header row that has a 'uri' column"


def decode_manifest(raw: bytes, name: str) -> str:
    """Given a CSV manifest's bytes, return its text: UTF-8 (with or without a BOM), UTF-16 with a BOM, or
    GB18030 (which covers GBK and GB2312, what Excel on a Chinese Windows saves); else ``ManifestError``."""
    if raw.startswith(codecs.BOM_UTF8):
        candidates = [("utf-8-sig", raw)]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = [("utf-16", raw)]
    else:
        candidates = [("utf-8", raw), ("gb18030", raw)]
    first: UnicodeDecodeError | None = None
    for encoding, data in candidates:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            first = first or exc
    where = f" (byte 0x{raw[first.start]:02x} at offset {first.start})" if first is not None else ""
    raise ManifestError(f"manifest {name} is neither UTF-8 nor GB18030{where}", source=name)


def _manifest_rows(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows of a CSV (stdlib, every value a string) or Parquet manifest."""
    try:
        if path.suffix.lower() == ".parquet":
            import polars as pl

            df = pl.read_parquet(path)
            return list(df.columns), list(df.iter_rows(named=True))
        with open(path, "rb") as fh:
            raw = fh.read(64 * 1024 * 1024 + 1)
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}", source=str(path)) from None
    except Exception as exc:  # polars: not a Parquet file
        raise ManifestError(f"cannot read manifest {path}: {type(exc).__name__}: {exc}", source=str(path)) from None
    if len(raw) > 64 * 1024 * 1024:
        raise ManifestError(f"manifest {path} is larger than 64 MiB; split it", source=str(path))
    text = decode_manifest(raw, str(path))
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = [{k: (v if v != "" else None) for k, v in row.items() if isinstance(k, str)} for row in reader]
    except csv.Error as exc:
        raise ManifestError(f"manifest {path} is not a readable CSV: {exc}", source=str(path)) from None
    return list(reader.fieldnames or []), rows


def read_manifest(path: Path) -> list[SourceItem]:
    """Given a CSV or Parquet manifest (``uri`` plus optional agency, region, year, published_at), return its items.

    Relative local paths are resolved against the manifest's folder and must stay inside it; an entry
    that must not be read is returned with ``refused`` set (see the module docstring), never dropped.
    """
    columns, rows = _manifest_rows(path)
    if "uri" not in columns:
        raise ManifestError(f"manifest {path} has no 'uri' column (columns: {', '.join(map(str, columns))})",
                            source=str(path))
    out = []
    for n, row in enumerate(rows, 2):  # CSV line numbers: the header is line 1
        raw = row["uri"]
        uri, refused = resolve_entry("" if raw is None else str(raw), path.parent)
        if refused and not (raw is None or str(raw).strip()):
            uri = f"refused:{path.name}#row={n}"
        year, bad_year = _year(row.get("year"))
        if refused is None and bad_year is not None:
            uri, refused = _inert(uri), bad_year
        if refused is not None:
            refused = f"manifest {path.name}, row {n}: {refused}"
        out.append(SourceItem(uri, _text(row.get("agency")), _text(row.get("region")), year,
                              _text(row.get("published_at")), refused))
    return out


def check_item(item: SourceItem) -> None:
    """Raise ``RefusedSourceError`` for an item a manifest check refused; do nothing otherwise."""
    if item.refused is not None:
        raise RefusedSourceError(item.refused, source=item.uri)


def local_path(item: SourceItem) -> Path:
    """Given a local input, return its path; raise ``RefusedSourceError`` for a refused manifest entry."""
    check_item(item)
    return Path(item.uri.removeprefix("file://"))


def read_local(uri: str, max_bytes: int) -> bytes:
    """Read a local file once (regular files only; refusing more than ``max_bytes`` without reading it all,
    and a file that changes while it is read)."""
    return read_bytes_once(uri.removeprefix("file://"), max_bytes)


def read_item(item: SourceItem, max_bytes: int) -> bytes:
    """Read a local input's bytes: refused entries raise ``RefusedSourceError``, large files ``FileTooLargeError``."""
    check_item(item)
    return read_local(item.uri, max_bytes)

"""Sources of a batch: files, folders (``<inbox>/<year>/...``) and manifests, as a list of inputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SUFFIXES = {".txt", ".html", ".htm", ".pdf", ".docx", ".doc", ".wps", ".rtf", ".shtml", ".xhtml"}


@dataclass(frozen=True)
class SourceItem:
    """One input: its URI (local path or http(s) URL) and what a manifest says about it."""

    uri: str
    agency: str | None = None
    region: str | None = None
    year: int | None = None
    published_at: str | None = None


def expand_sources(sources: list[str], year: int | None = None) -> list[SourceItem]:
    """Given files, folders and manifests, return the inputs in a stable order.

    A folder is walked recursively (hidden files and names starting with ``_`` are skipped); a
    folder that has a ``<year>`` sub-folder contributes only that year's files when ``year`` is
    given. ``.csv``/``.parquet`` files are manifests with a ``uri`` column.
    """
    items: list[SourceItem] = []
    for src in sources:
        if src.startswith(("http://", "https://")):
            items.append(SourceItem(src, year=year))
            continue
        path = Path(src)
        if path.is_dir():
            base = path / str(year) if year is not None and (path / str(year)).is_dir() else path
            for f in sorted(base.rglob("*")):
                rel = f.relative_to(base).parts
                if f.is_file() and not any(p.startswith((".", "_")) for p in rel) and not f.name.endswith(".json") \
                        and f.suffix.lower() not in {".md", ".csv", ".parquet"}:
                    items.append(SourceItem(str(f), year=year))
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


def read_manifest(path: Path) -> list[SourceItem]:
    """Given a CSV or Parquet manifest (``uri`` plus optional agency, region, year, published_at), return its items.
    Relative local paths are resolved against the manifest's folder."""
    import polars as pl

    df = pl.read_parquet(path) if path.suffix.lower() == ".parquet" else pl.read_csv(path, infer_schema=False)
    if "uri" not in df.columns:
        raise ValueError(f"manifest {path} has no 'uri' column (columns: {', '.join(df.columns)})")
    out = []
    for row in df.iter_rows(named=True):
        uri = str(row["uri"]).strip()
        if not uri:
            continue
        if not uri.startswith(("http://", "https://")) and not Path(uri).is_absolute():
            uri = str((path.parent / uri).resolve())
        year = row.get("year")
        out.append(SourceItem(uri, row.get("agency"), row.get("region"), int(year) if year not in (None, "") else None,
                              row.get("published_at")))
    return out


def read_local(uri: str, max_bytes: int) -> bytes:
    """Read a local file, refusing more than ``max_bytes`` without reading it all."""
    path = Path(uri.removeprefix("file://"))
    size = path.stat().st_size
    if size > max_bytes:
        from nianbao.errors import FileTooLargeError

        raise FileTooLargeError(f"{size} bytes exceed the limit of {max_bytes}", source=uri)
    return path.read_bytes()

"""One settings object: defaults, overridden by a TOML file and ``NIANBAO_*`` environment variables.

An unknown key or a value of the wrong type raises ``SettingsError`` naming the key and
listing the valid ones.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from nianbao.errors import SettingsError
from nianbao.location import is_remote


@dataclass(frozen=True)
class Settings:
    out_dir: str = "out"  # a local folder, or an object store URI such as s3://bucket/prefix
    max_file_bytes: int = 200 * 1024 * 1024
    max_pages: int = 500
    report_timeout_seconds: float = 600.0
    report_memory_mb: int = 4096  # address space of the parsing child (flow only); 0: no cap
    ocr: bool = True  # read scanned pages and pictures of tables by OCR (RapidOCR, checked by tesseract)
    pdf_text_source: str = "pdfium"  # pdfium | pdfplumber: the library that reads a PDF's pages (same cells)
    task_runner: str = "threads"  # threads | processes | dask | ray (ray: prefect-ray installed by hand)
    max_workers: int = 2
    chunk_size: int = 200  # reports per task: one task works through a chunk in-process (see docs/deploy.md)
    staging_dir: str | None = None  # where chunks stage their rows; None: <cache root>/chunks. A shared path on a cluster
    dask_address: str | None = None  # an existing Dask scheduler; None starts a local cluster
    ray_address: str | None = None  # an existing Ray cluster (ray://head:10001, auto); None: a local instance
    cache_dir: str | None = None  # where fetched bytes are kept (content-addressed); None: <out_dir>/.cache
    download_timeout_seconds: float = 60.0  # a read that stalls longer fails (then retried)
    download_connect_timeout_seconds: float = 10.0
    download_total_seconds: float = 300.0  # one attempt's wall time (redirects included), however slow the server
    download_retries: int = 3
    # Hosts a download may reach although they are loopback, link-local or private (comma-separated
    # ``host:port`` or ``host``, IPs or names; e.g. an intranet mirror). None: public addresses only.
    download_allow_private: str | None = None
    lineage_file: str | None = None  # OpenLineage events (JSON lines); None: <out_dir>/_lineage/events.jsonl
    progress: bool = True
    s3_endpoint_url: str | None = None  # an S3-compatible server (MinIO, moto...); None: AWS_ENDPOINT_URL or AWS
    s3_region: str | None = None  # None: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1
    allow_shrink: bool = False  # let a batch replace a year with fewer readable reports than it holds
    publish_lock_timeout_seconds: float = 0.0  # wait this long for another run publishing the same year, then fail

    def with_overrides(self, **overrides: Any) -> Settings:
        """Return a copy with the given keys replaced (validated like every other source)."""
        return replace(self, **_validated(overrides))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def out_is_remote(self) -> bool:
        """True when ``out_dir`` is an object store URI (``s3://...``) rather than a local folder."""
        return is_remote(self.out_dir)

    def local_dir(self) -> Path:
        """Given the settings, return where local state (download and result caches, lineage events)
        lives by default: the output folder, or for an object store output
        ``$XDG_CACHE_HOME/nianbao/<bucket>/<prefix>`` (default ``~/.cache/nianbao/...``)."""
        if not self.out_is_remote:
            return Path(self.out_dir.removeprefix("file://"))
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nianbao"
        scheme, _, rest = self.out_dir.partition("://")
        return base / scheme / rest.strip("/").replace("..", "_")


_CHOICES = {"task_runner": ("threads", "processes", "dask", "ray"), "pdf_text_source": ("pdfplumber", "pdfium")}
# Bounds of numeric settings: (minimum, whether the minimum itself is allowed). A timeout of 0 or less
# would silently switch a protection off (a negative report timeout used to disable the isolation).
_BOUNDS: dict[str, tuple[float, bool]] = {
    "max_file_bytes": (0, False), "max_pages": (0, False), "report_timeout_seconds": (0, False),
    "report_memory_mb": (0, True), "max_workers": (0, False), "chunk_size": (0, False), "download_timeout_seconds": (0, False),
    "download_connect_timeout_seconds": (0, False), "download_total_seconds": (0, False),
    "download_retries": (0, True),
}


def _validated(values: dict[str, Any]) -> dict[str, Any]:
    known = {f.name: f for f in fields(Settings)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise SettingsError(f"unknown setting {key!r}; valid settings: {', '.join(sorted(known))}")
        default = getattr(Settings(), key)
        expected = type(default) if default is not None else str
        if value is None and default is None:
            out[key] = None
            continue
        if isinstance(value, str) and expected is not str:
            try:
                value = {"true": True, "false": False}[value.lower()] if expected is bool else expected(value)
            except (KeyError, ValueError) as exc:
                raise SettingsError(f"setting {key!r} must be {expected.__name__}, got {value!r}") from exc
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise SettingsError(f"setting {key!r} must be {expected.__name__}, got {value!r}")
        if key in _CHOICES and value not in _CHOICES[key]:
            raise SettingsError(f"setting {key!r} must be one of {', '.join(_CHOICES[key])}, got {value!r}")
        if key in _BOUNDS and isinstance(value, int | float):
            low, inclusive = _BOUNDS[key]
            if value < low or (value == low and not inclusive) or value != value:  # value != value: NaN
                raise SettingsError(f"setting {key!r} must be {'at least' if inclusive else 'more than'} "
                                    f"{low:g}, got {value!r}")
        out[key] = value
    return out


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Return settings from defaults, then the TOML file (``[nianbao]`` table or top level), then
    ``NIANBAO_<KEY>`` environment variables, then keyword overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        values.update(data.get("nianbao", data))
    environ = os.environ if env is None else env
    for key in (f.name for f in fields(Settings)):
        if f"NIANBAO_{key.upper()}" in environ:
            values[key] = environ[f"NIANBAO_{key.upper()}"]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**_validated(values))

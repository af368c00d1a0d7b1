"""What makes the scheduled deployments safe to leave running (prefect.yaml):

* ``require_source``: a deployment must name its reports. ``source`` is a required parameter of the
  yearly flow (the deployment's parameter schema marks it required, so Prefect refuses a run without
  it), and an empty or never-filled value (``""``, ``[]``, an unrendered ``{{ $VAR }}``) is refused by
  the flow itself with a message saying what to set: a production deployment never falls back to the
  bundled sample reports (only ``make demo`` / ``nianbao run`` without inputs read those).
* ``FLOW_TIMEOUT_SECONDS``: the yearly and backfill flows are cut off after this long
  (``NIANBAO_FLOW_TIMEOUT_SECONDS``, default 24 h: a national year on one small machine).
* ``year_slot``: one run per report year at a time, across workers (a Prefect global concurrency
  limit ``nianbao-year-<Y>`` of 1, created on first use); different years still run side by side up to
  the deployment's ``concurrency_limit``.
* ``summary_table``: the rows of the summary table artifact every run leaves.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

FLOW_TIMEOUT_SECONDS = float(os.environ.get("NIANBAO_FLOW_TIMEOUT_SECONDS", 24 * 3600))
YEAR_SLOT_PREFIX = "nianbao-year-"
YEAR_SLOT_WAIT_SECONDS = FLOW_TIMEOUT_SECONDS


class MissingSourceError(ValueError):
    """A deployment run without a source of reports."""


def require_source(source: str | list[str] | None, deployment: str = "annual-batch") -> list[str]:
    """Given the ``source`` parameter, return it as a list of locations; raise ``MissingSourceError`` (with what
    to set) when it is missing, empty, or a template placeholder that was never filled in."""
    items = [source] if isinstance(source, str) else list(source or [])
    items = [s.strip() for s in items if isinstance(s, str)]
    bad = [s for s in items if not s or ("{{" in s and "}}" in s)]
    if not items or bad:
        raise MissingSourceError(
            f"deployment {deployment} has no source of reports ({source!r}): set the parameter `source` to the "
            "inbox folder (<inbox>/<year>/...) or manifest of this installation, in prefect.yaml or with "
            f"`prefect deployment run nianbao-year/{deployment} --param source=/path/to/inbox`. The bundled "
            "sample reports are never used by a deployment (only by `make demo`)")
    return items


@contextmanager
def year_slot(year: int, *, timeout_seconds: float | None = None) -> Iterator[None]:
    """Hold the year's slot (global concurrency limit ``nianbao-year-<Y>``, limit 1) for the ``with`` block,
    creating the limit on first use; another run of the same year waits for it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = f"{YEAR_SLOT_PREFIX}{year}"
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with suppress(ObjectAlreadyExists):  # another run created it first
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    with concurrency(name, occupy=1, timeout_seconds=timeout_seconds or YEAR_SLOT_WAIT_SECONDS, strict=True):
        yield


def summary_table(summary: dict[str, Any]) -> list[dict[str, str]]:
    """Given a batch summary, return the rows of its table artifact (metric, value)."""
    def fmt(d: dict[str, Any] | None) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted((d or {}).items())) or "none"

    rows = [("batch", summary.get("batch_id")), ("reports", summary.get("reports")),
            ("status", fmt(summary.get("status"))), ("errors", fmt(summary.get("errors"))),
            ("formats", fmt(summary.get("formats"))), ("cells published", summary.get("cells")),
            ("validation issues", sum((summary.get("issues") or {}).values())),
            ("cross-year issues", summary.get("crossyear_issues")), ("years", summary.get("years")),
            ("seconds", summary.get("seconds")), ("output", summary.get("out_dir")),
            ("quality report", summary.get("quality_report")), ("DuckDB catalog", summary.get("catalog")),
            ("manifest", summary.get("manifest"))]
    return [{"metric": k, "value": "" if v is None else str(v)} for k, v in rows]


__all__ = ["FLOW_TIMEOUT_SECONDS", "MissingSourceError", "require_source", "summary_table", "year_slot"]

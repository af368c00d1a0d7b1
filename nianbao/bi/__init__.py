"""After-publish step for BI: cross-year checks, the DuckDB catalog and the quality report.

``post_publish(out_dir)`` is called once after every publish (any year): it recomputes
``crossyear_issues`` and ``agency_keys`` from everything published, rewrites ``catalog.duckdb``
and ``quality_report.html``. Each output is swapped in atomically; a file lock
(``<out>/.bi.lock``) serialises concurrent calls so a slower run never overwrites a newer one
with older numbers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nianbao.bi.catalog import write_catalog
from nianbao.bi.crossyear import AGENCY_DATASET, CROSSYEAR_DATASET, run_crossyear_checks
from nianbao.bi.quality_report import write_quality_report
from nianbao.fsio import file_lock

LOCK_FILE = ".bi.lock"




def post_publish(out_dir: Path | str, *, batch_id: str | None = None, flow_run_id: str | None = None,
                 years: list[int] | None = None) -> dict[str, Any]:
    """Run cross-year checks (``years``: the years just published; only the pairs touching them are compared
    again), write the catalog and the quality report; return paths and counts.

    Returns ``{"catalog": str, "quality_report": str, "crossyear_issues": str, "agency_keys": str,
    "crossyear_issue_count": int, "crossyear_by_check": {check: n}, "seconds": float}``.
    """
    started = time.perf_counter()
    out = Path(out_dir).resolve()
    with file_lock(out / LOCK_FILE, what="the BI outputs"):
        issues = run_crossyear_checks(out, batch_id=batch_id, flow_run_id=flow_run_id, years=years)
        catalog = write_catalog(out, agency_keys=False)  # run_crossyear_checks just linked them: one pass
        report = write_quality_report(out)
    by_check = {str(k): int(n) for k, n in issues.group_by("check").len().sort("check").iter_rows()}
    return {
        "catalog": str(catalog),
        "quality_report": str(report),
        "crossyear_issues": str(out / CROSSYEAR_DATASET / f"{CROSSYEAR_DATASET}.parquet"),
        "agency_keys": str(out / AGENCY_DATASET / f"{AGENCY_DATASET}.parquet"),
        "crossyear_issue_count": issues.height,
        "crossyear_by_check": by_check,
        "seconds": round(time.perf_counter() - started, 3),
    }


__all__ = ["post_publish"]

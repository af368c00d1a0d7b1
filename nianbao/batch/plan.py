"""Batch-level logic shared by the flow and plain runs: partition years, duplicates, summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from nianbao.results import Problem, ReportResult


@dataclass
class BatchPlan:
    """The partition year of every report, and the years the batch replaces."""

    year_of: dict[str, int]
    years: list[int]
    held_back: list[str] = field(default_factory=list)


def assign_years(results: list[ReportResult], batch_year: int | None) -> BatchPlan:
    """Given results and the batch's year (None: every report under its own year), return the plan.

    With a batch year, a report found to be about another year is held back: it is recorded
    as failed (``year_mismatch``) in the batch year's ``reports`` and none of its cells are
    published, so a 2022 batch never overwrites the 2021 partition.
    """
    detected = [r.report_year for r in results if r.report_year]
    fallback = batch_year or (Counter(detected).most_common(1)[0][0] if detected else date.today().year - 1)
    year_of: dict[str, int] = {}
    held: list[str] = []
    for r in results:
        if batch_year is not None:
            if r.report_year is not None and r.report_year != batch_year and r.status != "failed":
                r.problems.append(Problem("year_mismatch", "error", None,
                                          f"report is about {r.report_year}, not {batch_year}: held back; "
                                          f"run it in the {r.report_year} batch", expected=str(batch_year),
                                          actual=str(r.report_year)))
                r.status, r.error = "failed", "year_mismatch"
                r.error_message = (f"report is about {r.report_year} but the batch is {batch_year}; "
                                   f"it was held back — run it in the {r.report_year} batch")
                r.cells, r.sections = [], []
                held.append(r.report_id)
            year_of[r.report_id] = batch_year
        else:
            year_of[r.report_id] = r.report_year or fallback
    years = sorted(set(year_of.values()) | ({batch_year} if batch_year is not None else set()))
    return BatchPlan(year_of, years, held)


def drop_duplicates(results: list[ReportResult]) -> list[ReportResult]:
    """Given results, keep one per report_id (same bytes); the others are listed as a problem on the kept one."""
    kept: dict[str, ReportResult] = {}
    for r in results:
        first = kept.get(r.report_id)
        if first is None:
            kept[r.report_id] = r
        else:
            first.problems.append(Problem("duplicate_input", "info", None,
                                          f"the same bytes were also given as {r.source_uri}; processed once",
                                          actual=r.source_uri))
    return list(kept.values())


def summarize(results: list[ReportResult], out_dir: str, seconds: float, years: list[int]) -> dict[str, object]:
    """Given a batch's results, return counts for the end-of-run summary."""
    return {
        "reports": len(results),
        "status": dict(Counter(r.status for r in results)),
        "formats": dict(Counter(r.source_format or "unknown" for r in results)),
        "errors": dict(Counter(r.error for r in results if r.error)),
        "cells": sum(len(r.cells) for r in results),
        "issues": dict(Counter(p.check for r in results for p in r.problems)),
        "years": years,
        "out_dir": out_dir,
        "seconds": round(seconds, 2),
    }


def summary_markdown(summary: dict[str, object], results: list[ReportResult]) -> str:
    """Given a summary and the results, return it as markdown (printed and kept as a Prefect artifact)."""
    lines = [f"# nianbao batch: {summary['reports']} reports, years {summary['years']}", "",
             f"Output: `{summary['out_dir']}` — {summary['cells']} cells in {summary['seconds']} s", "",
             "| status | reports |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(summary["status"].items())]  # type: ignore[attr-defined]
    lines += ["", "| report | format | status | year | agency | cells | issues | error |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        name = r.source_uri.rsplit("/", 1)[-1]
        lines.append(f"| {name} | {r.source_format or ''} | {r.status} | {r.report_year or ''} | {r.agency or ''} | "
                     f"{len(r.cells)} | {len(r.problems)} | {r.error or ''} |")
    issues = summary["issues"]
    if issues:
        lines += ["", "| check | count |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(issues.items(), key=lambda kv: -kv[1])]  # type: ignore[attr-defined]
    return "\n".join(lines) + "\n"

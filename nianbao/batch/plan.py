"""Batch-level logic shared by the flow and plain runs: partition years, duplicates, summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from nianbao.results import Problem, ReportResult


@dataclass
class BatchPlan:
    """The partition year of every published report, the years the batch replaces, and the reports held back
    (in no partition: recorded in the results, the summary and the batch manifest)."""

    year_of: dict[str, int]
    years: list[int]
    held_back: list[str] = field(default_factory=list)


def _hold(r: ReportResult, problem: Problem) -> None:
    r.problems.append(problem)
    if r.status not in ("failed", "skipped"):  # a failed or skipped input keeps its own error and reason
        r.status, r.error, r.error_message = "failed", problem.check, problem.message
    r.cells, r.sections = [], []


def assign_years(results: list[ReportResult], batch_year: int | None,
                 published_elsewhere: dict[str, int] | None = None) -> BatchPlan:
    """Given results, the batch's year (None: every report under its own year) and the year each report is
    already published under as a readable report, return the plan. There is no fallback year.

    Held back (published in no partition, so no other year's data is touched and a report is published under
    one year only), each with a check code on the report:

    * ``year_mismatch``: in a year batch, a readable report found to be about another year;
    * ``year_not_found``: without a batch year, a report whose year could not be read (failed ones included);
    * ``published_in_other_year``: a readable report already published under another year.

    In a year batch, failed reports (year unknown) are recorded in the batch year's ``reports``.
    """
    elsewhere = published_elsewhere or {}
    year_of: dict[str, int] = {}
    held: list[str] = []
    for r in results:
        year = batch_year if batch_year is not None else r.report_year
        if batch_year is not None and r.report_year is not None and r.report_year != batch_year \
                and r.status in ("ok", "partial"):
            _hold(r, Problem("year_mismatch", "error", None, f"report is about {r.report_year} but the batch is "
                             f"{batch_year}; it was held back — run it in the {r.report_year} batch",
                             expected=str(batch_year), actual=str(r.report_year)))
            year = None
        elif year is None:
            _hold(r, Problem("year_not_found", "error", None, "the report's year could not be read and the batch has "
                             "no year; it was held back — rerun it with --year <the year it reports on>"))
        elif r.status in ("ok", "partial") and elsewhere.get(r.report_id, year) != year:
            other = elsewhere[r.report_id]
            _hold(r, Problem("published_in_other_year", "error", None, f"the same report is already published "
                             f"under {other}; it was held back (a report is published under one year only) — "
                             f"republish {other} without it first if it belongs to {year}",
                             expected=str(year), actual=str(other)))
            year = None
        if year is None:
            held.append(r.report_id)
        else:
            year_of[r.report_id] = year
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


def summarize(results: list[ReportResult], out_dir: str, seconds: float, years: list[int],
              cells: dict[str, int] | None = None, issues: dict[str, int] | None = None) -> dict[str, object]:
    """Given a batch's results, return counts for the end-of-run summary. ``cells`` (per report id) and
    ``issues`` (per check) replace the counts of the results when these no longer hold their rows (a
    chunked batch staged them)."""
    return {
        "reports": len(results),
        "status": dict(Counter(r.status for r in results)),
        "formats": dict(Counter(r.source_format or "unknown" for r in results)),
        "errors": dict(Counter(r.error for r in results if r.error)),
        "cells": sum(cells.values()) if cells is not None else sum(len(r.cells) for r in results),
        "issues": issues if issues is not None else dict(Counter(p.check for r in results for p in r.problems)),
        "years": years,
        "out_dir": out_dir,
        "seconds": round(seconds, 2),
    }


def summary_markdown(summary: dict[str, object], results: list[ReportResult], cells: dict[str, int] | None = None,
                     issues_of: dict[str, int] | None = None, limit: int = 500) -> str:
    """Given a summary and the results, return it as markdown (printed and kept as a Prefect artifact);
    the table of reports lists the first ``limit`` (failed ones first)."""
    lines = [f"# nianbao batch: {summary['reports']} reports, years {summary['years']}", "",
             f"Output: `{summary['out_dir']}` — {summary['cells']} cells in {summary['seconds']} s", "",
             "| status | reports |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(summary["status"].items())]  # type: ignore[attr-defined]
    lines += ["", "| report | format | status | year | agency | cells | issues | error |", "|---|---|---|---|---|---|---|---|"]
    shown = sorted(results, key=lambda r: r.status not in ("failed", "skipped"))[:limit]
    for r in shown:
        name = r.source_uri.rsplit("/", 1)[-1]
        n = cells.get(r.report_id, 0) if cells is not None else len(r.cells)
        lines.append(f"| {name} | {r.source_format or ''} | {r.status} | {r.report_year or ''} | {r.agency or ''} | "
                     f"{n} | {issues_of.get(r.report_id, 0) if issues_of is not None else len(r.problems)} | {r.error or ''} |")
    if len(results) > len(shown):
        lines.append(f"| … {len(results) - len(shown)} more reports: see the manifest | | | | | | | |")
    issues = summary["issues"]
    if issues:
        lines += ["", "| check | count |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(issues.items(), key=lambda kv: -kv[1])]  # type: ignore[attr-defined]
    return "\n".join(lines) + "\n"

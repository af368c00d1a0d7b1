"""Cross-year checks over everything published, and the body (agency) keys they rely on.

Two identities link one year of a body to the next (template.md, "Across years"):

- ``crossyear_carried_forward``: applications ``carried_forward`` (Y) = ``carried_over`` (Y+1), per
  applicant column (the six applicant columns and ``total``);
- ``crossyear_in_force``: where both years' table 1 is the 2021 template,
  ``in_force`` (Y+1) = ``in_force`` (Y) + ``issued`` (Y+1) − ``repealed`` (Y+1), for ``rules`` and
  ``normative_documents``.

Only cells printed as numbers are compared (a blank or ``/`` is never read as 0). A break becomes a
row shaped like ``validation_issues`` (plus ``agency_key``, ``related_report_id``,
``related_year``), attributed to the *later* year's report. A link the agency module finds
ambiguous is reported once as ``crossyear_agency_ambiguous`` (severity info) and not checked.

Storage: the rows go to their own dataset, ``<out>/crossyear_issues/crossyear_issues.parquet`` —
one file, recomputed from all published years and swapped in by an atomic ``os.replace`` after
every publish — so the year partitions of ``validation_issues`` stay independent of each other
(republishing 2022 never has to rewrite 2021). The body keys go to
``<out>/agency_keys/agency_keys.parquet`` the same way.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from nianbao import PARSER_VERSION
from nianbao.bi.agency import AgencyLink, link_agencies
from nianbao.fsio import atomic_write
from nianbao.publish.parquet import read_dataset, scan_dataset
from nianbao.template import APPLICANTS
from schemas import pandera_schema, polars_schema

CROSSYEAR_DATASET = "crossyear_issues"
AGENCY_DATASET = "agency_keys"
CHECK_CARRIED_FORWARD = "crossyear_carried_forward"
CHECK_IN_FORCE = "crossyear_in_force"
CHECK_AMBIGUOUS = "crossyear_agency_ambiguous"
CROSSYEAR_CHECKS = (CHECK_CARRIED_FORWARD, CHECK_IN_FORCE, CHECK_AMBIGUOUS)
IN_FORCE_CATEGORIES = ("rules", "normative_documents")

# Extra columns of crossyear_issues beyond the validation_issues columns.
CROSSYEAR_EXTRA: tuple[tuple[str, pl.DataType, str], ...] = (
    ("agency_key", pl.String(), "body key that links the two reports (nianbao.bi.agency)"),
    ("related_report_id", pl.String(), "the earlier year's report the row was compared with"),
    ("related_year", pl.Int32(), "year of the related report"),
)
AGENCY_COLUMNS: tuple[tuple[str, pl.DataType, str], ...] = (
    ("report_id", pl.String(), "sha256 of the source bytes (reports.report_id)"),
    ("report_year", pl.Int32(), "the year reported on"),
    ("agency", pl.String(), "issuing body as printed (reports.agency)"),
    ("agency_key", pl.String(), "normalised name: spaces, years and 人民政府/政府/办公厅 suffix forms unified"),
    ("body_key", pl.String(), "key that groups one body's reports across years (null when no agency); a failed "
                              "report gets one too but never makes a link ambiguous"),
    ("link_status", pl.String(), "exact, linked_suffix (region-less name linked to its only candidate), "
                                 "ambiguous (reported, not merged) or no_agency"),
    ("candidates", pl.String(), "keys a region-less or clashing name could belong to (separated by a vertical bar)"),
    ("note", pl.String(), "why the link is what it is"),
)


def crossyear_schema() -> pl.Schema:
    """Return the polars schema of ``crossyear_issues``: validation_issues columns plus the extras."""
    return pl.Schema({**dict(polars_schema("validation_issues")), **{n: t for n, t, _ in CROSSYEAR_EXTRA}})


def agency_schema() -> pl.Schema:
    return pl.Schema({n: t for n, t, _ in AGENCY_COLUMNS})


def agency_frame(reports: pl.DataFrame) -> pl.DataFrame:
    """Given the published ``reports`` frame, return one ``agency_keys`` row per report."""
    rows = reports.select("report_id", "report_year", "agency").sort("report_year", "report_id")
    failed = set(reports.filter(pl.col("status") == "failed")["report_id"].to_list())
    links = link_agencies(rows.iter_rows(), passive=failed)
    return pl.DataFrame([{
        "report_id": k.report_id, "report_year": k.report_year, "agency": k.agency, "agency_key": k.agency_key,
        "body_key": k.body_key, "link_status": k.status, "candidates": " | ".join(k.candidates), "note": k.note,
    } for k in links], schema=agency_schema(), orient="row")


def _fmt(v: Decimal | None) -> str:
    if v is None:
        return ""
    if v == v.to_integral_value():
        return str(int(v))
    return format(v.normalize(), "f")


def _numbers(df: pl.DataFrame, k1: str, k2: str) -> dict[tuple[str, str, str], Decimal]:
    """Map (report_id, key1, key2) → value for the cells printed as numbers."""
    got = df.filter(pl.col("value_kind") == "number").select("report_id", k1, k2, "value")
    return {(rid, a, b): v for rid, a, b, v in got.iter_rows() if v is not None}


def bodies_by_year(links: list[AgencyLink], live_ids: set[str]) -> dict[str, dict[int, list[str]]]:
    """Body key → year → the live reports of that body in that year."""
    by_body: dict[str, dict[int, list[str]]] = {}
    for k in links:
        if k.report_id in live_ids and k.body_key is not None:
            by_body.setdefault(k.body_key, {}).setdefault(k.report_year, []).append(k.report_id)
    return by_body


def paired_reports(by_body: dict[str, dict[int, list[str]]]) -> set[str]:
    """The reports the checks compare: one report of a body in a year and one in the year after (two reports of
    one body in a year are ambiguous and skipped). A year with no neighbour has none, so its cells are not read."""
    ids: set[str] = set()
    for years in by_body.values():
        for year, found in years.items():
            nxt = years.get(year + 1)
            if len(found) == 1 and nxt is not None and len(nxt) == 1:
                ids.update((found[0], nxt[0]))
    return ids


def crossyear_checks(reports: pl.DataFrame, applications: pl.DataFrame, proactive: pl.DataFrame,
                     links: list[AgencyLink] | None = None, *, batch_id: str = "crossyear",
                     flow_run_id: str | None = None) -> pl.DataFrame:
    """Given published ``reports``, ``applications`` and ``proactive_disclosure`` frames, return the
    cross-year issues (schema ``crossyear_schema()``), attributed to the later year's report."""
    live = reports.filter(pl.col("status") != "failed")
    if links is None:
        links = link_agencies(live.select("report_id", "report_year", "agency").iter_rows())
    live_ids = set(live["report_id"].to_list())
    lin = {"parser_version": PARSER_VERSION, "batch_id": batch_id, "flow_run_id": flow_run_id}
    out: list[dict[str, Any]] = []

    def issue(rid: str, year: int, check: str, severity: str, table: str | None, key1: str | None,
              key2: str | None, expected: str | None, actual: str | None, message: str, body: str | None,
              related: str | None, related_year: int | None) -> None:
        out.append({"report_id": rid, "report_year": year, "check": check, "severity": severity,
                    "table_name": table, "key1": key1, "key2": key2, "expected": expected, "actual": actual,
                    "message": message, "page": None, **lin, "agency_key": body, "related_report_id": related,
                    "related_year": related_year})

    for k in links:
        if k.report_id in live_ids and k.status == "ambiguous":
            issue(k.report_id, k.report_year, CHECK_AMBIGUOUS, "info", None, k.agency_key, None, None, k.agency,
                  f"agency {k.agency!r} (key {k.agency_key}) links ambiguously: {k.note}; its cross-year checks "
                  "are skipped where the link is unclear", k.body_key, None, None)
    # A name that could be several bodies keeps its own key (it still links its own years); a year with two
    # reports of one body is skipped below.
    by_body = bodies_by_year(links, live_ids)

    paired = pl.Series(sorted(paired_reports(by_body)), dtype=pl.String)  # only their cells are compared
    apps = _numbers(applications.filter(pl.col("report_id").is_in(paired.implode())), "row", "applicant")
    pro_rows = proactive.filter(pl.col("category").is_in(IN_FORCE_CATEGORIES) & pl.col("report_id").is_in(paired.implode()))
    pro = _numbers(pro_rows, "category", "metric")
    pro_template = {(rid, cat): t for rid, cat, t in
                    pro_rows.select("report_id", "category", "template").unique().iter_rows()}
    applicants = [c.key for c in APPLICANTS]

    for body, years in sorted(by_body.items()):
        for year in sorted(years):
            nxt = year + 1
            if nxt not in years or len(years[year]) != 1 or len(years[nxt]) != 1:
                continue  # no next year, or two reports in one year (ambiguous, reported above)
            prev_id, cur_id = years[year][0], years[nxt][0]
            for a in applicants:
                fwd = apps.get((prev_id, "carried_forward", a))
                over = apps.get((cur_id, "carried_over", a))
                if fwd is None or over is None or fwd == over:
                    continue
                issue(cur_id, nxt, CHECK_CARRIED_FORWARD, "error", "applications", "carried_over", a, _fmt(fwd),
                      _fmt(over), f"{body}: carried_over {nxt} [{a}] is {_fmt(over)} but carried_forward {year} was "
                      f"{_fmt(fwd)} (report {prev_id[:12]})", body, prev_id, year)
            for cat in IN_FORCE_CATEGORIES:
                if pro_template.get((prev_id, cat)) != "2021" or pro_template.get((cur_id, cat)) != "2021":
                    continue
                before = pro.get((prev_id, cat, "in_force"))
                issued = pro.get((cur_id, cat, "issued"))
                repealed = pro.get((cur_id, cat, "repealed"))
                now = pro.get((cur_id, cat, "in_force"))
                if before is None or issued is None or repealed is None or now is None:
                    continue
                expected = before + issued - repealed
                if expected == now:
                    continue
                issue(cur_id, nxt, CHECK_IN_FORCE, "error", "proactive_disclosure", cat, "in_force", _fmt(expected),
                      _fmt(now), f"{body}: {cat} in_force {nxt} is {_fmt(now)} but in_force {year} ({_fmt(before)}) "
                      f"+ issued {nxt} ({_fmt(issued)}) − repealed {nxt} ({_fmt(repealed)}) = {_fmt(expected)} "
                      f"(report {prev_id[:12]})", body, prev_id, year)
    df = pl.DataFrame(out, schema=crossyear_schema(), orient="row")
    return df.sort("report_year", "report_id", "check", "key1", "key2", nulls_last=True, maintain_order=True)


def write_single_file(df: pl.DataFrame, out_dir: Path, dataset: str, metadata: dict[str, str] | None = None) -> Path:
    """Write ``<out>/<dataset>/<dataset>.parquet`` atomically (temp file in the same directory, fsync,
    ``os.replace``); readers globbing ``*.parquet`` never see the temp file."""
    root = Path(out_dir) / dataset
    root.mkdir(parents=True, exist_ok=True)
    return atomic_write(root / f"{dataset}.parquet",
                        lambda tmp: df.write_parquet(tmp, compression="zstd", statistics=True, metadata=metadata or {}))


def write_agency_keys(out_dir: Path, reports: pl.DataFrame | None = None) -> tuple[Path, pl.DataFrame]:
    """(Re)write ``<out>/agency_keys/agency_keys.parquet`` from the published reports; return (path, frame)."""
    reports = read_dataset(Path(out_dir), "reports") if reports is None else reports
    frame = agency_frame(reports)
    return write_single_file(frame, Path(out_dir), AGENCY_DATASET), frame


def run_crossyear_checks(out_dir: Path | str, *, batch_id: str | None = None, flow_run_id: str | None = None,
                         years: list[int] | None = None) -> pl.DataFrame:
    """Run the cross-year checks over what is published under ``out_dir``; write ``crossyear_issues`` (and
    ``agency_keys``) atomically and return the issues frame.

    ``years``: the years a publish just replaced. Then only the year pairs that touch them are compared
    again (a year's issues are attributed to the later year: those of the years and the year after each);
    the other years keep their issues from the last run. Agency links are always made over every year (one
    pass, and a new name can make an old one ambiguous)."""
    out = Path(out_dir)
    reports = scan_dataset(out, "reports").select("report_id", "report_year", "status", "agency").collect()
    _, keys = write_agency_keys(out, reports)
    status = dict(zip(reports["report_id"].to_list(), reports["status"].to_list(), strict=True))
    links = [AgencyLink(r["report_id"], r["report_year"], r["agency"], r["agency_key"], r["body_key"],
                        r["link_status"], tuple(c for c in (r["candidates"] or "").split(" | ") if c), r["note"] or "")
             for r in keys.iter_rows(named=True) if status.get(r["report_id"]) != "failed"]
    batch = batch_id or f"crossyear-{time.strftime('%Y%m%dT%H%M%S')}"
    previous = out / CROSSYEAR_DATASET / f"{CROSSYEAR_DATASET}.parquet"
    affected = None if years is None or not previous.exists() else sorted({y for t in years for y in (t, t + 1)})
    needed = None if affected is None else sorted({y for a in affected for y in (a - 1, a)})
    # Only the cells the checks compare are read: of the reports that have a report of the same body in the year
    # before or after (none in a year without neighbours), and of those only a few rows.
    live = {r for r, s in status.items() if s != "failed"}
    paired = pl.Series(sorted(paired_reports(bodies_by_year(links, live))), dtype=pl.String).implode()
    applications = (scan_dataset(out, "applications")
                    .filter(pl.col("row").is_in(["carried_forward", "carried_over"]) & (pl.col("value_kind") == "number"))
                    .filter(True if needed is None else pl.col("report_year").is_in(needed))
                    .filter(pl.col("report_id").is_in(paired)).collect())
    proactive = (scan_dataset(out, "proactive_disclosure").filter(pl.col("category").is_in(IN_FORCE_CATEGORIES))
                 .filter(True if needed is None else pl.col("report_year").is_in(needed))
                 .filter(pl.col("report_id").is_in(paired)).collect())
    issues = crossyear_checks(reports, applications, proactive, links, batch_id=batch, flow_run_id=flow_run_id)
    if affected is not None:
        pairs = pl.col("check") != CHECK_AMBIGUOUS
        kept = pl.read_parquet(previous).filter(pairs & ~pl.col("report_year").is_in(affected))
        kept = kept.filter(pl.col("report_id").is_in(reports["report_id"].implode()))  # still published
        issues = pl.concat([kept.select(issues.columns), issues.filter(~pairs | pl.col("report_year").is_in(affected))])
        issues = issues.sort("report_year", "report_id", "check", "key1", "key2", nulls_last=True, maintain_order=True)
    pandera_schema("validation_issues").validate(issues.select(list(polars_schema("validation_issues"))), lazy=True)
    write_single_file(issues, out, CROSSYEAR_DATASET, {"nianbao": f'{{"batch_id": "{batch}"}}'})
    return issues


__all__ = [
    "AGENCY_DATASET",
    "CROSSYEAR_CHECKS",
    "CROSSYEAR_DATASET",
    "agency_frame",
    "agency_schema",
    "crossyear_checks",
    "crossyear_schema",
    "run_crossyear_checks",
    "write_agency_keys",
    "write_single_file",
]

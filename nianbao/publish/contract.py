"""The publish contract: which batch may replace which published year. Same rules for every output.

* A batch in which no report was read (no inputs, every download failed, every report failed) never
  replaces anything: ``NothingToPublishError``.
* A year is replaced by fewer readable reports than it holds only with consent (``allow_shrink``, the
  CLI's ``--allow-shrink``): otherwise ``PublishRefusedError`` and nothing changes.

A readable report is one whose status is ``ok`` or ``partial``: ``failed`` and ``skipped`` rows record an
input, they carry no data.
"""

from __future__ import annotations

import polars as pl

from nianbao.errors import NothingToPublishError, PublishRefusedError

READABLE = ("ok", "partial")


def readable_counts(reports: pl.DataFrame) -> dict[int, int]:
    """Given a ``reports`` frame, return the number of readable reports per ``report_year``."""
    ok = reports.filter(pl.col("status").is_in(READABLE))
    return {int(y): int(n) for y, n in ok.group_by("report_year").len().iter_rows()}


def readable_ids(reports: pl.DataFrame, year: int) -> list[str]:
    """Given a ``reports`` frame, return the sorted report ids of the readable reports of ``year``."""
    ok = reports.filter(pl.col("status").is_in(READABLE) & (pl.col("report_year") == year))
    return sorted(ok["report_id"].to_list())


def check_contract(reports: pl.DataFrame, years: list[int], published: dict[int, int], *, allow_shrink: bool,
                   where: str) -> None:
    """Raise unless the batch (its ``reports`` frame) may replace ``years`` of ``where``, whose readable
    report counts are ``published`` ({year: n}; a year missing has none)."""
    new = readable_counts(reports)
    failed = reports.height - sum(new.values())
    if not years or sum(new.get(y, 0) for y in years) == 0:
        raise NothingToPublishError(
            f"nothing to publish: no input yielded a readable report ({reports.height} inputs recorded, {failed} "
            f"failed); published data in {where} left unchanged")
    shrinking = [(y, published.get(y, 0), new.get(y, 0)) for y in sorted(years) if new.get(y, 0) < published.get(y, 0)]
    if shrinking and not allow_shrink:
        said = "; ".join(f"report_year={y} holds {old} readable reports, this batch has {n}" for y, old, n in shrinking)
        raise PublishRefusedError(
            f"refused to shrink published years of {where}: {said} (setting allow_shrink)")

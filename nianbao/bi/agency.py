"""Agency identity across years: a normalised key per issuing body, and the linking of reports.

The body that issues a report prints its name in different forms from one year to the next
(``木兰县柳河镇`` / ``木兰县柳河镇人民政府`` / ``木兰县 柳河镇政府``; ``上海市人民政府办公厅`` /
``上海市政府办公室``). ``agency_key`` maps such forms to one key:

- NFKC, whitespace, quotes and book-title marks removed; years (``2022年``, ``2022年度``) removed;
  a trailing report title (``政府信息公开工作年度报告`` …) cut off when a whole title is given;
- ``人民政府办公厅`` / ``人民政府办公室`` / ``政府办公厅`` / ``政府办公室`` / ``政府办`` → ``政府办公室``;
- a trailing ``人民政府`` / ``政府`` after a place name (…省/市/县/区/旗/州/盟/镇/乡/街道) is dropped:
  a government and its place are one body;
- ``街道办事处`` → ``街道``, ``管理委员会`` → ``管委会``;
- region prefixes are kept: ``木兰县柳河镇`` and ``通河县柳河镇`` are different bodies.

``link_agencies`` then groups reports by key. A key that lacks a region prefix (``柳河镇``) is
linked to the one longer key it is the tail of (``木兰县柳河镇``) when exactly one exists and the
two never report for the same year; with two or more candidates (``木兰县柳河镇``,
``通河县柳河镇``), or a clash of years, it is **ambiguous**: reported, never merged. Two reports
of one key in one year are ambiguous too (cross-year checks skip that year of that body).

The candidates are found by blocking, not by comparing every key with every other: each key is filed
under its region tails (``TailIndex``), so linking is linear in the number of names (100,000 distinct
names in about a second, ``tools/bench_agency.py``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from nianbao.normalize import nfkc

LinkStatus = Literal["exact", "linked_suffix", "ambiguous", "no_agency"]

_MARKS = re.compile(r"[\s\"'“”‘’「」『』《》〈〉<>【】\[\]]+")
_YEAR = re.compile(r"(?:19|20)\d{2}\s*年度?|(?:19|20)\d{2}(?=政府|政务)")
_TITLE_TAIL = re.compile(r"(?:关于)?(?:政府信息公开|政务公开|信息公开).*?(?:年度报告|年报|报告)$")
_OFFICE = re.compile(r"(?:人民政府|政府)(?:办公厅|办公室|办)$")
_GOVERNMENT = re.compile(r"(?:人民政府|政府)$")
# A place name ends with one of these; a government after it is the place's own body.
_PLACE_END = re.compile(r"(?:省|市|县|区|旗|州|盟|镇|乡|街道|特区|新区|实验区|开发区|自治区|自治州|自治县|自治旗)$")
# What a region prefix (kept in the key) ends with.
_REGION_END = re.compile(r"(?:省|市|县|区|旗|州|盟)$")


def agency_key(name: str | None) -> str | None:
    """Given an agency name (or a report title) as printed, return its normalised key, or None."""
    if not name:
        return None
    s = _MARKS.sub("", nfkc(name))
    s = re.sub(r"^标题[:：]", "", s)
    s = _YEAR.sub("", s)
    s = _TITLE_TAIL.sub("", s)
    s = s.strip("()（）:：,，.。、-—_")
    if not s:
        return None
    s = re.sub(r"街道办事处$", "街道", s)
    s = re.sub(r"管理委员会$", "管委会", s)
    if _OFFICE.search(s):
        s = _OFFICE.sub("政府办公室", s)
    elif _GOVERNMENT.search(s):
        stripped = _GOVERNMENT.sub("", s)
        if len(stripped) >= 2 and _PLACE_END.search(stripped):
            s = stripped
    return s or None


@dataclass(frozen=True)
class AgencyLink:
    """How one report was linked to a body: ``body_key`` groups the reports of one body across years."""

    report_id: str
    report_year: int
    agency: str | None
    agency_key: str | None
    body_key: str | None
    status: LinkStatus
    candidates: tuple[str, ...] = ()
    note: str = ""


def is_region_tail(short: str, long: str) -> bool:
    """True when ``long`` is ``short`` with a region prefix in front (``木兰县`` + ``柳河镇``)."""
    if len(short) < 2 or len(long) <= len(short) or not long.endswith(short):
        return False
    return bool(_REGION_END.search(long[: -len(short)]))


def region_tails(key: str) -> Iterator[str]:
    """Every tail of ``key`` that follows a region prefix (``甲省乙市丙县丁镇`` → ``乙市丙县丁镇``, ``丙县丁镇``,
    ``丁镇``): exactly the ``short`` keys for which ``is_region_tail(short, key)`` holds."""
    for i in range(1, len(key) - 1):
        if _REGION_END.search(key[:i]):
            yield key[i:]


class TailIndex:
    """The blocking step of the linking: each key filed under its region tails, so the keys a region-less key
    may belong to are one dictionary look-up away (linear in the total length of the keys), instead of a
    comparison with every other key (quadratic in their number)."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._by_tail: dict[str, list[str]] = defaultdict(list)
        for key in sorted(set(keys)):
            for tail in region_tails(key):
                self._by_tail[tail].append(key)

    def longer(self, key: str) -> tuple[str, ...]:
        """The keys that are ``key`` with a region prefix in front, sorted."""
        return tuple(self._by_tail.get(key, ()))


def _target(key: str, index: TailIndex, years_of: dict[str, set[int]]
            ) -> tuple[str, LinkStatus, tuple[str, ...], str]:
    longer = index.longer(key)
    if not longer:
        return key, "exact", (), ""
    mine = years_of.get(key, set())
    if len(longer) == 1 and not (mine & years_of[longer[0]]):
        return (longer[0], "linked_suffix", longer,
                f"{key} has no region prefix; linked to the only body it can be, {longer[0]}")
    if len(longer) == 1:
        clash = sorted(mine & years_of[longer[0]])
        return key, "ambiguous", longer, f"{key} may be {longer[0]}, but both report for {clash}: not merged"
    return key, "ambiguous", longer, f"{key} may be any of {', '.join(longer)}: not merged"


def link_agencies(reports: Iterable[tuple[str, int, str | None]], passive: Collection[str] = ()
                  ) -> list[AgencyLink]:
    """Given (report_id, report_year, agency as printed) of published reports, return one link per report.

    Exact key matches are merged; a region-less key is linked to its single region-prefixed
    candidate; everything else that could match two ways is ``ambiguous`` and kept apart.
    Reports in ``passive`` (e.g. failed ones) are given a body key but never make a link
    ambiguous (they do not count as a report of that body and year).
    """
    rows = [(rid, int(year), agency, agency_key(agency)) for rid, year, agency in reports]
    years_of: dict[str, set[int]] = defaultdict(set)
    for rid, year, _, key in rows:
        if key and rid not in passive:
            years_of[key].add(year)
    index = TailIndex(years_of)
    target = {key: _target(key, index, years_of) for key in years_of}
    body_count: dict[tuple[str, int], int] = defaultdict(int)
    for rid, year, _, key in rows:
        if key and rid not in passive:
            body_count[(target[key][0], year)] += 1
    out: list[AgencyLink] = []
    for rid, year, agency, key in rows:
        if not key:
            out.append(AgencyLink(rid, year, agency, None, None, "no_agency", (), "no agency printed"))
            continue
        if key not in target:  # a passive report's key that no counted report has
            target[key] = _target(key, index, years_of)
        body, status, cands, note = target[key]
        if rid not in passive and body_count[(body, year)] > 1:
            status = "ambiguous"
            note = (note + "; " if note else "") + (
                f"{body_count[(body, year)]} reports of {body} for {year}: that year is not linked")
        out.append(AgencyLink(rid, year, agency, key, body, status, cands, note))
    return out


__all__ = ["AgencyLink", "TailIndex", "agency_key", "is_region_tail", "link_agencies", "region_tails"]

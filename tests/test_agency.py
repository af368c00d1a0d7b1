"""Agency keys: one body's printed name forms unify, region prefixes stay, ambiguous links are not merged."""

from __future__ import annotations

import pytest

from nianbao.bi.agency import AgencyLink, agency_key, link_agencies


@pytest.mark.parametrize(("printed", "key"), [
    ("木兰县柳河镇", "木兰县柳河镇"),
    ("木兰县柳河镇人民政府", "木兰县柳河镇"),
    ("木兰县 柳河镇政府", "木兰县柳河镇"),
    ("“木兰县柳河镇”2022年度", "木兰县柳河镇"),
    ("木兰县柳河镇人民政府2022年政府信息公开工作年度报告", "木兰县柳河镇"),
    ("上海市人民政府办公厅", "上海市政府办公室"),
    ("上海市政府办公室", "上海市政府办公室"),
    ("2019年上海市人民政府办公厅政府信息公开工作年度报告", "上海市政府办公室"),
    ("鄂伦春自治旗诺敏镇人民政府", "鄂伦春自治旗诺敏镇"),
    ("平潭综合实验区管理委员会", "平潭综合实验区管委会"),
    ("某区某某街道办事处", "某区某某街道"),
    ("上海市交通委员会", "上海市交通委员会"),  # a department keeps its name
    ("市政府", "市政府"),  # too short to drop 政府
    ("１２３", "123"),
])
def test_agency_key(printed: str, key: str) -> None:
    assert agency_key(printed) == key


def test_agency_key_empty() -> None:
    assert agency_key(None) is None
    assert agency_key("  ") is None
    assert agency_key("2022年") is None


def test_region_prefixes_are_kept_apart() -> None:
    assert agency_key("木兰县柳河镇") != agency_key("通河县柳河镇人民政府")


def test_linking_exact_suffix_and_ambiguous() -> None:
    links = {k.report_id: k for k in link_agencies([
        ("a20", 2020, "木兰县柳河镇人民政府"), ("a21", 2021, "木兰县柳河镇"), ("a22", 2022, "木兰县 柳河镇政府"),
        ("d22", 2022, "通河县柳河镇人民政府"),
        ("e21", 2021, "柳河镇政府"),  # could be 木兰县 or 通河县: ambiguous
        ("f21", 2021, "临江市桦树镇人民政府"), ("g22", 2022, "桦树镇人民政府"),  # one candidate, years disjoint
        ("h21", 2021, "甲县乙镇"), ("i21", 2021, "乙镇"),  # one candidate but the same year: ambiguous
        ("x", 2022, None),
    ])}
    assert {links[r].body_key for r in ("a20", "a21", "a22")} == {"木兰县柳河镇"}
    assert links["a21"].status == "exact"
    assert links["d22"].body_key == "通河县柳河镇"
    e = links["e21"]
    assert e.status == "ambiguous" and e.body_key == "柳河镇"  # kept to itself
    assert set(e.candidates) == {"木兰县柳河镇", "通河县柳河镇"}
    assert links["g22"].status == "linked_suffix" and links["g22"].body_key == "临江市桦树镇"
    assert links["i21"].status == "ambiguous" and links["i21"].body_key == "乙镇"
    assert links["x"].status == "no_agency" and links["x"].body_key is None


def test_two_reports_of_one_body_in_one_year_are_ambiguous() -> None:
    links = link_agencies([("a", 2022, "某县某镇"), ("b", 2022, "某县某镇人民政府"), ("c", 2021, "某县某镇")])
    by = {k.report_id: k for k in links}
    assert by["a"].status == by["b"].status == "ambiguous"
    assert by["c"].status == "exact"


def test_failed_reports_are_linked_passively() -> None:
    """A held-back or failed report of a body does not make that body's year ambiguous."""
    links = {k.report_id: k for k in link_agencies(
        [("good", 2023, "某县某镇人民政府"), ("failed", 2023, "某县某镇"), ("g22", 2022, "某镇")], passive={"failed"})}
    assert links["good"].status == "exact" and links["good"].body_key == "某县某镇"
    assert links["failed"].body_key == "某县某镇"
    assert links["g22"].status == "linked_suffix"


# --- the blocked linking gives the same links as the all-pairs linking it replaced ----------------------------

def _all_pairs_links(reports: list[tuple[str, int, str | None]], passive: set[str]) -> list[AgencyLink]:
    """The linking as it was before blocking: every key compared with every other key (quadratic), kept
    here as the reference the blocked version must equal."""
    from collections import defaultdict

    from nianbao.bi.agency import is_region_tail

    def target(key: str, keys: list[str], years_of: dict[str, set[int]]) -> tuple:
        longer = tuple(k for k in keys if is_region_tail(key, k))
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

    rows = [(rid, int(year), agency, agency_key(agency)) for rid, year, agency in reports]
    years_of: dict[str, set[int]] = defaultdict(set)
    for rid, year, _, key in rows:
        if key and rid not in passive:
            years_of[key].add(year)
    keys = sorted(years_of)
    tgt = {key: target(key, keys, years_of) for key in keys}
    count: dict[tuple[str, int], int] = defaultdict(int)
    for rid, year, _, key in rows:
        if key and rid not in passive:
            count[(tgt[key][0], year)] += 1
    out = []
    for rid, year, agency, key in rows:
        if not key:
            out.append(AgencyLink(rid, year, agency, None, None, "no_agency", (), "no agency printed"))
            continue
        body, status, cands, note = tgt[key] if key in tgt else target(key, keys, years_of)
        if rid not in passive and count[(body, year)] > 1:
            status = "ambiguous"
            note = (note + "; " if note else "") + f"{count[(body, year)]} reports of {body} for {year}: that year is not linked"
        out.append(AgencyLink(rid, year, agency, key, body, status, cands, note))
    return out


def test_blocked_linking_equals_all_pairs_linking_on_a_generated_list() -> None:
    import bench_agency  # tools/ (on sys.path through conftest)

    reports = bench_agency.synthetic_reports(2500, seed=7)
    passive = {rid for rid, _, _ in reports[::17]}  # some failed reports: linked passively
    got = link_agencies(reports, passive=passive)
    want = _all_pairs_links(reports, passive)
    assert got == want
    statuses = {k.status for k in got}
    assert statuses == {"exact", "linked_suffix", "ambiguous", "no_agency"}  # the list exercises every branch


def test_blocked_linking_equals_all_pairs_linking_on_the_hand_made_cases() -> None:
    reports = [("a20", 2020, "木兰县柳河镇人民政府"), ("a21", 2021, "木兰县柳河镇"), ("d22", 2022, "通河县柳河镇人民政府"),
               ("e21", 2021, "柳河镇政府"), ("f21", 2021, "临江市桦树镇人民政府"), ("g22", 2022, "桦树镇人民政府"),
               ("h21", 2021, "甲县乙镇"), ("i21", 2021, "乙镇"), ("p", 2022, "某省某市某县某镇"), ("q", 2023, "某县某镇"),
               ("r", 2023, "某市某县某镇"), ("x", 2022, None)]
    for passive in (set(), {"a21", "h21"}):
        assert link_agencies(reports, passive=passive) == _all_pairs_links(reports, passive)


def test_region_tails_are_exactly_the_keys_a_key_is_ais_region_tail() -> None:
    from nianbao.bi.agency import is_region_tail, region_tails

    for key in ("甲省乙市丙县丁镇", "鄂伦春自治旗诺敏镇", "某区某某街道", "上海市政府办公室", "市政府", "县"):
        want = {key[i:] for i in range(len(key)) if is_region_tail(key[i:], key)}
        assert set(region_tails(key)) == want, key

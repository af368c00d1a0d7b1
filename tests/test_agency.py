"""Agency keys: one body's printed name forms unify, region prefixes stay, ambiguous links are not merged."""

from __future__ import annotations

import pytest

from nianbao.bi.agency import agency_key, link_agencies


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

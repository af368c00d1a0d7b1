"""The one numbering grammar, heading detector and page-number rule (nianbao/grammar.py), used by every reader."""

from __future__ import annotations

import pytest

from nianbao.grammar import is_page_number, section_of


@pytest.mark.parametrize(("line", "in_margin", "expected"), [
    ("- 3 -", False, True), ("—12—", False, True), ("第3页", False, True), ("第 3 页 共 10 页", False, True),
    ("3/10", False, True), ("Page 3 of 10", False, True),
    # a bare or one-sided number in plain text may be a table value; in a page margin it is the page number
    ("3", False, False), ("-3", False, False), ("3", True, True), ("12", True, True),
    ("12345", True, False), ("三、总体情况", True, False), ("3.其他", True, False),
])
def test_page_numbers(line: str, in_margin: bool, expected: bool) -> None:
    assert is_page_number(line, in_margin=in_margin) is expected


@pytest.mark.parametrize(("line", "section"), [
    ("一、总体情况", 1), ("二、主动公开政府信息情况", 2), ("三、收到和处理政府信息公开申请情况", 3),
    ("四、政府信息公开行政复议、行政诉讼情况", 4), ("五、存在的主要问题及改进情况", 5), ("六、其他需要报告的事项", 6),
    ("（一）主动公开情况", None), ("本年度共收到申请120件。", None),
])
def test_heading_sections(line: str, section: int | None) -> None:
    assert section_of(line) == section

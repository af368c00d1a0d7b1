"""Tests of the HTML reader: the real Shanghai page, hand-written quirk fixtures, decoding, and fuzzing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nianbao.errors import CorruptFileError, DecodeError, NianbaoError
from nianbao.model import Document, Grid, TextBlock
from nianbao.normalize import parse_value
from nianbao.read.html import decode_html, read_html, section_of

FIXTURES = Path(__file__).parent / "fixtures"
HTML = FIXTURES / "html"
SHANGHAI = FIXTURES / "corpus" / "real-shanghai-office-2019.html"
SHANGHAI_GOLD = FIXTURES / "corpus" / "real-shanghai-office-2019.json"
EXPECTED: dict[str, Any] = {k: v for k, v in json.loads((HTML / "expected.json").read_text("utf-8")).items()
                            if not k.startswith("_")}


def _grids(doc: Document) -> list[Grid]:
    return [b for b in doc.blocks if isinstance(b, Grid)]


def _texts(doc: Document) -> list[str]:
    return [b.text for b in doc.blocks if isinstance(b, TextBlock)]


def _shape(doc: Document) -> list[Any]:
    """Blocks in the notation of expected.json."""
    out: list[Any] = []
    for b in doc.blocks:
        if isinstance(b, TextBlock):
            out.append(b.text)
        else:
            out.append({"grid": [[c.text, c.row, c.col, c.rowspan, c.colspan] for c in b.cells]})
    return out


def _check_invariants(doc: Document) -> None:
    assert doc.source_format == "html"
    for n, b in enumerate(doc.blocks, start=1):
        assert b.origin.line == n
        if isinstance(b, TextBlock):
            assert b.text and b.text == b.text.strip()
        else:
            assert b.positional
            starts = set()
            for c in b.cells:
                assert c.row >= 0 and c.col >= 0 and c.rowspan >= 1 and c.colspan >= 1
                assert c.text == c.text.strip()
                assert c.origin.line == n
                assert (c.row, c.col) not in starts
                starts.add((c.row, c.col))


# ---------------------------------------------------------------------------------------------------------
# The real Shanghai page (2019 template)


@pytest.fixture(scope="module")
def shanghai() -> Document:
    return read_html(SHANGHAI.read_bytes(), source=SHANGHAI.name)


@pytest.fixture(scope="module")
def gold() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SHANGHAI_GOLD.read_text("utf-8"))
    return data


def test_shanghai_has_three_tables_in_order(shanghai: Document) -> None:
    _check_invariants(shanghai)
    grids = _grids(shanghai)
    assert len(grids) == 3
    assert [(g.n_rows, g.n_cols) for g in grids] == [(18, 5), (26, 10), (4, 15)]
    # Each table directly follows its section heading.
    for heading in ("二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况", "四、政府信息公开行政复议、行政诉讼情况"):
        i = next(i for i, b in enumerate(shanghai.blocks) if isinstance(b, TextBlock) and b.text == heading)
        assert isinstance(shanghai.blocks[i + 1], Grid)


def test_shanghai_t1_rules_row_with_spans(shanghai: Document) -> None:
    t1 = _grids(shanghai)[0]
    row = [(c.text, c.col, c.rowspan, c.colspan) for c in t1.row_cells()[2]]
    assert row == [("规章", 0, 1, 1), ("13", 1, 1, 1), ("13", 2, 1, 2), ("524", 4, 1, 1)]
    # The header cell wraps with <br />: joined without a separator.
    assert [c.text for c in t1.row_cells()[1]] == ["信息内容", "本年新制作数量", "本年新公开数量", "对外公开总数量"]
    # The full-width heading row spans all five columns.
    assert [(c.text, c.colspan) for c in t1.row_cells()[0]] == [("第二十条第（一）项", 5)]


def test_shanghai_nbsp_cells_are_blank_not_zero(shanghai: Document) -> None:
    t2, t3 = _grids(shanghai)[1:]
    t3_values = [c.text for c in t3.row_cells()[3]]
    assert t3_values == ["5", "", "", "2", "7", "8", "", "", "1", "9", "", "", "", "", ""]
    # 科研机构 (column 5) is blank in every value row of the applications table.
    research = [c.text for c in t2.cells if c.col == 5 and c.row >= 3]
    assert len(research) == 23 and set(research) == {""}
    assert all(parse_value(c.text).kind == "blank" for c in t2.cells if c.text == "")
    assert not any("\u00a0" in c.text for g in _grids(shanghai) for c in g.cells)


def test_shanghai_section_headings_are_text_blocks(shanghai: Document) -> None:
    texts = _texts(shanghai)
    headings = [
        "一、总体情况",
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        "四、政府信息公开行政复议、行政诉讼情况",  # after a <br /> in its paragraph
        "五、政府信息公开工作存在的主要问题及改进情况",
        "六、其他需要报告的事项",
    ]
    for h in headings:
        assert h in texts
    found = [(s, t) for t in texts if (s := section_of(t)) is not None]
    assert found == list(zip(range(1, 7), headings, strict=True))
    # Title and date (a TAB apart in the source) come first, as two blocks; the page ends with section six.
    assert texts[:2] == ["2019年上海市人民政府办公厅政府信息公开工作年度报告", "发布日期：2020-01-31"]
    assert texts[-1] == "无。"
    assert any("《上海市贯彻<长江三角洲区域一体化发展规划纲要>实施方案》" in t for t in texts)  # &lt; &gt;


def _gold_values(gold: dict[str, Any], table: str) -> list[Decimal | None]:
    return [None if c["value"] is None else Decimal(str(c["value"])) for c in gold["cells"] if c["table"] == table]


def _cell_value(text: str) -> Decimal | None:
    v = parse_value(text)
    assert v.kind in ("number", "blank"), text
    return v.value


def test_shanghai_tables_match_gold(shanghai: Document, gold: dict[str, Any]) -> None:
    t1, t2, t3 = _grids(shanghai)
    # Table 1: the values of each labelled row, left to right (the colspan quirk only shifts columns).
    labels = ["规章", "规范性文件", "行政许可", "其他对外管理服务事项", "行政处罚", "行政强制", "行政事业性收费", "政府集中采购"]
    t1_values: list[Decimal | None] = []
    for row in t1.row_cells():
        if row and row[0].text in labels:
            t1_values += [_cell_value(c.text) for c in row[1:]]
    assert t1_values == _gold_values(gold, "proactive_disclosure")
    # Table 2: 23 value rows (2019 template) x 7 applicant columns, starting at grid row 3, column 3.
    t2_values = [_cell_value(c.text) for r in range(3, 26) for c in sorted(
        (c for c in t2.cells if c.row == r and c.col >= 3), key=lambda c: c.col)]
    assert t2_values == _gold_values(gold, "applications")
    # Table 3: one row of 15.
    assert [_cell_value(c.text) for c in t3.row_cells()[3]] == _gold_values(gold, "reviews_litigation")


# ---------------------------------------------------------------------------------------------------------
# Hand-written quirk fixtures


def _expected(name: str) -> dict[str, Any]:
    spec = dict(EXPECTED[name])
    if "same_as" in spec:
        spec = {**EXPECTED[spec.pop("same_as")], **spec}
    return spec


def test_every_fixture_has_an_expectation() -> None:
    assert {p.name for p in HTML.glob("*.html")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_golden(name: str) -> None:
    spec = _expected(name)
    data = (HTML / name).read_bytes()
    if "gbk" in spec:  # the fixture really is in the encoding it is named after
        try:
            data.decode("utf-8")
            is_utf8 = True
        except UnicodeDecodeError:
            is_utf8 = False
        assert is_utf8 is not spec["gbk"]
    doc = read_html(data, source=name)
    _check_invariants(doc)
    assert _shape(doc) == spec["blocks"]
    assert doc.title_hint == spec.get("title_hint")
    assert doc.date_hint == spec.get("date_hint")
    everything = " ".join(_texts(doc) + [c.text for g in _grids(doc) for c in g.cells])
    for word in spec.get("absent", []):
        assert word not in everything


# ---------------------------------------------------------------------------------------------------------
# Decoding


PAGE = "<html><head>{meta}</head><body><p>一、总体情况</p><p>主动公开规章13件。</p></body></html>"


@pytest.mark.parametrize(
    ("meta", "encoding"),
    [
        ('<meta charset="GB2312">', "gbk"),
        ('<meta http-equiv="content-type" content="text/html;charset=gbk" />', "gbk"),
        ("<meta charset=gb18030>", "gb18030"),
        ('<meta charset="utf-8">', "gbk"),  # wrong declaration
        ('<meta charset="iso-8859-1">', "gbk"),  # wrong single-byte declaration, common on old sites
        ('<meta charset="iso-8859-1">', "utf-8"),
        ('<meta charset="gbk">', "utf-8"),  # page re-saved as UTF-8, declaration kept
        ('<meta charset="x-no-such-charset">', "gbk"),
        ('<meta charset="base64">', "utf-8"),  # a Python codec that is not a text encoding: ignored
        ("", "gbk"),
        ("", "utf-8"),
    ],
)
def test_decode_variants(meta: str, encoding: str) -> None:
    page = PAGE.format(meta=meta)
    assert decode_html(page.encode(encoding)) == page
    assert _texts(read_html(page.encode(encoding))) == ["一、总体情况", "主动公开规章13件。"]


def test_decode_xml_declaration_and_boms() -> None:
    page = "<?xml version='1.0' encoding='gb2312'?>\n<html><body><p>二、主动公开政府信息情况</p></body></html>"
    assert _texts(read_html(page.encode("gbk"))) == ["二、主动公开政府信息情况"]
    body = "<p>一、总体情况</p>"
    assert decode_html(b"\xef\xbb\xbf" + body.encode("utf-8")) == body
    assert decode_html(b"\xff\xfe" + body.encode("utf-16-le")) == body
    assert decode_html(b"\xfe\xff" + body.encode("utf-16-be")) == body
    assert _texts(read_html(b"\xff\xfe" + body.encode("utf-16-le"))) == ["一、总体情况"]


def test_decode_tolerates_a_corrupted_byte_but_not_garbage() -> None:
    page = ("<p>" + "本年度收到政府信息公开申请。" * 20 + "</p>").encode("gbk")
    damaged = page[:30] + b"\xff" + page[31:]
    text = decode_html(damaged)
    assert text.count("\ufffd") <= 2 and "本年度收到政府信息公开申请。" in text
    with pytest.raises(DecodeError) as info:
        read_html(bytes(range(0x80, 0x100)) * 4, source="junk.html")
    assert info.value.code == "undecodable" and "junk.html" in str(info.value)


def test_decode_keeps_replacement_characters_that_are_in_the_page() -> None:
    page = "<p>" + "\ufffd" * 50 + "乱码</p>"
    assert decode_html(page.encode("utf-8")) == page


# ---------------------------------------------------------------------------------------------------------
# Headings, edge cases and robustness


@pytest.mark.parametrize(
    ("text", "section"),
    [
        ("一、总体情况", 1),
        ("（一）主动公开方面", None),
        ("二、 主动公开政府信息情况", 2),
        ("3、收到和处理政府信息公开申请情况", 3),
        ("三．收到和处理政府信息公开申请情况", 3),
        ("四、因政府信息公开工作被申请行政复议、提起行政诉讼情况", 4),
        ("五、政府信息公开工作存在的主要问题及改进情况", 5),
        ("六、其他需要报告的事项", 6),
        ("其他需要报告的事项", 6),
        ("概述", 1),
        ("本报告包括总体情况、主动公开政府信息情况、收到和处理政府信息公开申请情况等内容。", None),
        ("2019年，本机关主动公开规章13件", None),
        ("一是主动公开情况", None),
        ("一年来主动公开情况", None),
        ("二 主动公开政府信息情况", 2),
        ("第三部分 收到和处理政府信息公开申请情况", 3),
        ("", None),
    ],
)
def test_section_of(text: str, section: int | None) -> None:
    assert section_of(text) == section


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n\t ", b"<!-- only a comment -->", b"<html><head><title></title></head><body></body></html>",
     b"\x00\x00\x00\x00", b"<p>&nbsp;&#12288;</p>", b"<script>alert(1)</script>"],
)
def test_no_text_gives_no_blocks(data: bytes) -> None:
    doc = read_html(data)
    assert doc.blocks == [] and doc.source_format == "html"


def test_pathological_markup() -> None:
    deep = b"<div>" * 50_000 + "一、总体情况".encode() + b"</div>" * 50_000
    _check_invariants(read_html(deep))
    huge_attr = b"<p title='" + b"x" * 12_000_000 + b"'>" + "一、总体情况".encode() + b"</p>"
    assert _texts(read_html(huge_attr)) == ["一、总体情况"]
    spans = (b"<table><tr><td colspan='99999999999999999999999'>a</td><td rowspan='-3'>b</td>"
             b"<td colspan='2px' rowspan='x'>c</td></tr><tr><td rowspan='70000'>d</td></tr></table>")
    grid = _grids(read_html(spans))[0]
    assert [(c.text, c.row, c.col, c.rowspan, c.colspan) for c in grid.cells] == [
        ("a", 0, 0, 1, 1000), ("b", 0, 1000, 1, 1), ("c", 0, 1001, 1, 2), ("d", 1, 0, 1, 1)]
    broken = "<table><tr><td>规章<td>13</tr><tr><td>规范性文件<td>60</table></p></div><p>二、".encode()
    doc = read_html(broken)
    _check_invariants(doc)
    assert _shape(doc) == [{"grid": [["规章", 0, 0, 1, 1], ["13", 0, 1, 1, 1], ["规范性文件", 1, 0, 1, 1],
                                     ["60", 1, 1, 1, 1]]}, "二、"]


def test_nested_tables_innermost_hold_the_data() -> None:
    page = """<table><tr><td><p>表一</p><table border=1><tr><td>行政许可</td><td>4</td></tr></table></td>
              <td><table><tr><td>行政处罚</td><td>5</td></tr></table></td></tr></table>"""
    doc = read_html(page.encode())
    assert _shape(doc) == ["表一", {"grid": [["行政许可", 0, 0, 1, 1], ["4", 0, 1, 1, 1]]},
                           {"grid": [["行政处罚", 0, 0, 1, 1], ["5", 0, 1, 1, 1]]}]


def test_caption_and_headers_in_thead() -> None:
    page = """<table><caption>表3 行政复议</caption><thead><tr><th>结果维持</th><th>总计</th></tr></thead>
              <tbody><tr><td>1</td><td>1</td></tr></tbody></table>"""
    assert _shape(read_html(page.encode())) == ["表3 行政复议", {"grid": [
        ["结果维持", 0, 0, 1, 1], ["总计", 0, 1, 1, 1], ["1", 1, 0, 1, 1], ["1", 1, 1, 1, 1]]}]


# ---------------------------------------------------------------------------------------------------------
# Fuzzing: nothing but a NianbaoError ever escapes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    try:
        doc = read_html(data)
    except NianbaoError as exc:
        assert not isinstance(exc, CorruptFileError), exc  # decoding is the only expected failure
        return
    _check_invariants(doc)


_TAGS = ["p", "div", "span", "table", "tr", "td", "th", "tbody", "br", "script", "style", "a", "b", "li",
         "noscript", "caption", "h1", "font", "o:p", "title", "meta", "html", "body", "head"]
_ATTRS = st.sampled_from(['', ' rowspan="2"', ' colspan="3"', " rowspan=0", ' colspan="-1"', " rowspan='99999999999'",
                          ' style="display:none"', ' charset="gbk"', ' href="javascript:x()"', ' colspan="2x"'])
_TEXT = st.sampled_from(["一、总体情况", "二、主动公开政府信息情况", "六、其他需要报告的事项", "规章", "13", "&nbsp;",
                         "&lt;", "&amp;", "&#x4E00;", "&#99999999;", "&bogus;", "\t", "\n", " ", "主办：某县 ICP备1号",
                         "当前位置：首页 > 年报", "<!--", "-->", "<![CDATA[", "]]>", "<?php ?>", "\x00", "\ufffd",
                         "发布日期：2020-01-31", "2019年某县政府信息公开工作年度报告"])


@st.composite
def _html_ish(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 60))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            parts.append(f"<{draw(st.sampled_from(_TAGS))}{draw(_ATTRS)}>")
        elif kind == 1:
            parts.append(f"</{draw(st.sampled_from(_TAGS))}>")
        elif kind == 2:
            parts.append(draw(_TEXT))
        else:
            parts.append(draw(st.text(max_size=10)))
    return "".join(parts)


@pytest.mark.slow  # 400 generated pages (the tag-soup fuzz of tests/test_fuzz.py runs in test-fast)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_html_ish(), st.sampled_from(["utf-8", "gb18030", "utf-16"]))
def test_fuzz_html_ish_text(text: str, encoding: str) -> None:
    # Any text in any of these encodings decodes, so nothing at all may be raised.
    _check_invariants(read_html(text.encode(encoding)))

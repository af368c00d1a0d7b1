"""The one numbering grammar and the one heading detector of the template, used by every reader and by
segmentation.

Numbering (full- or half-width, NFKC first): ``一、`` ``（一）`` ``(一)`` ``1.`` ``1、`` ``1．`` ``第一部分``,
or none. A section heading is recognised by its TITLE first (the template's words and the real rewordings
below, e.g. ``依申请公开情况`` for section 3) and by its numbering second: a parenthesised number counts
only when it is the section's own (``（二）依申请公开情况`` is a sub-heading of section 1 in many reports),
other numberings may differ (bodies renumber their sections). Two shapes are found:

* ``section_of(line)``: a whole short line that is a heading (the intro sentence that lists every
  section title is long, ends in 。 and is never a heading);
* ``glued_headings(text)``: numbered headings merged into prose by crawlers and converters
  (``…保障。二、主动公开政府信息情况第二十条…``, ``一、总体情况2021年，…``): only a numbered title whose
  number is its section's, at the start of the text or after a sentence end, whitespace or a number.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from nianbao.normalize import LABEL_NUMBERING as _LABEL_NUMBERING
from nianbao.normalize import nfkc
from nianbao.variants import variants_of

_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN = "[一二三四五六七八九十]{1,3}"
# The numbering grammar (on NFKC text without spaces). ``sep`` is the separator after a bare numeral.
NUMBERING = re.compile(
    rf"^(?:第(?P<part>{_CN}|\d{{1,2}})(?:部分|章|节)[、.:]?"
    rf"|\((?P<paren>{_CN}|\d{{1,2}})\)"
    rf"|(?P<cn>{_CN})(?P<cnsep>[、.,:])?"
    rf"|(?P<ar>\d{{1,2}})(?P<arsep>[、.,:]|(?=[^\d.,]))(?![\d])"
    r")"
)
# Leading numbering of a table LABEL (stripped by ``normalize_label``), defined with the label normaliser.
LABEL_NUMBERING = _LABEL_NUMBERING
# After a bare Chinese numeral without separator these start prose (一是…, 一年来…), not a heading.
_NOT_AFTER_NUMERAL = re.compile(r"^[是要个项年月日次件条批些方〇零]")

# Section titles (on NFKC text without spaces and numbering). STRICT titles have a definite end, so a
# title glued to the text after it is cut right; LOOSE titles are accepted on a line of their own only.
_S4 = r"因?(?:政府信息公开)?(?:工作)?(?:被申请)?行政复议(?:[、和及与,]|以及)?(?:提起)?行政诉讼(?:的)?(?:情况)?"
_STRICT: dict[int, str] = {
    1: r"总体情况|概述|概况",
    # A bare 主动公开 / 依申请公开 heads a chapter of a disclosure guide (政府信息公开指南), not a report section:
    # the reworded titles need 情况 (or the template's full words).
    2: r"(?:行政机关)?主动公开(?:政府信息)?(?:工作)?情况|(?:行政机关)?主动公开政府信息",
    3: r"(?:收到和处理|收到处理)政府信息公开申请(?:的)?(?:情况)?|依申请公开(?:政府信息)?(?:工作)?情况"
       r"|政府信息公开申请(?:的)?(?:办理|受理|处理)(?:情况)?",
    4: _S4,
    5: r"(?:政府信息公开(?:工作)?)?存在的?(?:主要)?问题(?:及|和|与)?(?:改进|整改)(?:情况|措施|举措|方向|计划)?",
    6: r"其他需要报告的?(?:事项|情况)|其他事项",
}
_LOOSE: dict[int, str] = {
    4: r"[^,，。;；]{0,18}复议[^,，。;；]{0,10}诉讼(?:的)?(?:情况)?",
    5: r"[^,，。;；]{0,14}(?:存在的?|主要)问题[^,，。;；]{0,12}(?:改进|整改|措施|打算|方向)[^,，。;；]{0,6}",
    6: r"其他需要报告[^,，。;；]{0,6}",
}


def _title_pattern(sec: int, loose: bool) -> str:
    alts = [_STRICT[sec]]
    # plain NFKC at import time (normalize imports this module: its nfkc is not loaded yet)
    alts += [re.escape(re.sub(r"\s+", "", unicodedata.normalize("NFKC", v))) for v in variants_of(f"section:{sec}")]
    if loose and sec in _LOOSE:
        alts.append(_LOOSE[sec])
    return "(?:" + "|".join(alts) + ")"


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", nfkc(text))


_LINE_TITLE = {s: re.compile(_title_pattern(s, loose=True) + r"$") for s in range(1, 7)}
_GLUED_TITLE = {s: re.compile(_title_pattern(s, loose=False)) for s in range(1, 7)}
_MAX_HEADING_LEN = 45
# Site chrome after the report on web pages.


@dataclass(frozen=True)
class Numbering:
    """A parsed numbering: its number (None when absent), style and the text after it."""

    number: int | None
    style: str | None  # "part" (第一部分), "paren" ((一)/(1)), "cn" (一、), "arabic" (1. 1、), None
    separated: bool  # a separator follows the numeral (一、 1.), or the style needs none (paren, part)
    rest: str


def cn_number(text: str) -> int | None:
    """Given a Chinese (一…九十九) or Arabic numeral, return its value."""
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        t = _CN_DIGIT.get(tens, 1) if tens else 1
        o = _CN_DIGIT.get(ones, 0) if ones else 0
        return t * 10 + o
    return _CN_DIGIT.get(text) if len(text) == 1 else None


def parse_numbering(text: str) -> Numbering:
    """Given text (NFKC, no spaces), return its leading numbering and the rest."""
    m = NUMBERING.match(text)
    if not m:
        return Numbering(None, None, False, text)
    if m.group("part"):
        return Numbering(cn_number(m.group("part")), "part", True, text[m.end():])
    if m.group("paren"):
        return Numbering(cn_number(m.group("paren")), "paren", True, text[m.end():])
    if m.group("cn"):
        return Numbering(cn_number(m.group("cn")), "cn", bool(m.group("cnsep")), text[m.end():])
    return Numbering(int(m.group("ar")), "arabic", bool(m.group("arsep")), text[m.end():])


def strip_numbering(text: str) -> str:
    """Given a label (NFKC, no spaces), return it without its leading numbering (one level)."""
    n = parse_numbering(text)
    return n.rest if n.style is not None else text


def starts_numbered(line: str) -> bool:
    """Given a line, return True when it opens with a heading numbering (一、 1. （一） 第一部分)."""
    n = parse_numbering(_squash(line))
    return n.style in ("paren", "part") or (n.style in ("cn", "arabic") and n.separated)


def section_of(line: str) -> int | None:
    """Given a line of text, return the section (1–6) it is the heading of, or None."""
    t = _squash(line).replace("，", ",")
    if not t or len(t) > _MAX_HEADING_LEN or t[-1] in "。;,":
        return None
    n = parse_numbering(t)
    rest = n.rest.lstrip("、.:").rstrip(":")
    rest = re.sub(r"\([^()]{0,12}\)$", "", rest)  # a trailing (单位：件) or similar
    if n.style == "cn" and not n.separated and _NOT_AFTER_NUMERAL.match(rest):
        return None
    for sec in range(1, 7):
        if not _LINE_TITLE[sec].match(rest):
            continue
        if n.style == "paren" and n.number != sec:
            return None  # a sub-heading such as (二)依申请公开情况 inside section 1
        return sec
    return None


# Page numbers printed as running chrome: "- 3 -", "—3—", "第3页", "第3页 共10页", "3/10", "Page 3 of 10", and a
# bare "3" where the position says it is in a page margin.
PAGE_NUMBER = re.compile(
    r"^(?:[-—–－_~·]*\s*\d{1,4}\s*[-—–－_~·]*"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4}|(?:page|Page|PAGE)\s*\d{1,4}(?:\s*of\s*\d{1,4})?)$"
)
_DECORATED_NUMBER = re.compile(r"^[-—–－_~·]+\s*\d{1,4}\s*[-—–－_~·]+$")
_PLAIN_NUMBER = re.compile(r"^[-—–－_~·]*\s*\d{1,4}\s*[-—–－_~·]*$")


def is_page_number(line: str, *, in_margin: bool) -> bool:
    """Given a line and whether it sits in a page's top or bottom margin, return True when it is a page number.

    Without a position (plain text), a number with dashes on one side or none could be a table value, so only
    a number decorated on both sides ("- 3 -") counts there; every other form counts anywhere."""
    text = line.strip()
    if not PAGE_NUMBER.match(text):
        return False
    return in_margin or not _PLAIN_NUMBER.match(text) or bool(_DECORATED_NUMBER.match(text))



_GLUED = re.compile(
    r"(?<![^\s。;!?:」”\"'\d)）])"  # start, whitespace, sentence end, a closing mark or a number
    rf"(?P<num>(?P<cn>{_CN})、|\((?P<paren>{_CN})\)|(?P<ar>\d{{1,2}})[、.](?!\d))"
)


def glued_headings(text: str) -> list[tuple[int, int, int]]:
    """Given a block of text, return (start, end, section) of every numbered heading merged into it.

    Offsets index ``text`` itself. A heading that is the whole text is not returned (``section_of``
    finds it); the caller splits the text at the offsets.
    """
    norm, index = _norm_with_index(text)
    out: list[tuple[int, int, int]] = []
    for m in _GLUED.finditer(norm):
        raw = m.group("cn") or m.group("paren") or m.group("ar")
        num = cn_number(raw)
        if num is None or not 1 <= num <= 6:
            continue
        at = m.end()
        while at < len(norm) and norm[at] == " ":
            at += 1
        title = _GLUED_TITLE[num].match(norm, at)
        if title is None or title.end() == at:
            continue
        end = title.end()
        if end < len(norm) and norm[end] in "、,，":
            continue  # a list of titles (本报告包括一、总体情况、二、…), not a heading
        while end < len(norm) and norm[end] in ":：":
            end += 1
        start_raw, end_raw = index[m.start()], index[end - 1] + 1
        if start_raw == 0 and not text[end_raw:].strip():
            continue
        out.append((start_raw, end_raw, num))
    return out


def _norm_with_index(text: str) -> tuple[str, list[int]]:
    """NFKC text without whitespace-insensitivity: each output character with its source offset."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        n = unicodedata.normalize("NFKC", ch)
        for c in n:
            chars.append(c)
            index.append(i)
    return "".join(chars), index


def split_glued(text: str) -> list[str]:
    """Given a text block, return it cut before and after every glued heading (stripped, non-empty parts)."""
    cuts = glued_headings(text)
    if not cuts:
        return [text]
    parts: list[str] = []
    pos = 0
    for start, end, _ in cuts:
        if start < pos:
            continue
        parts += [text[pos:start], text[start:end]]
        pos = end
    parts.append(text[pos:])
    return [p.strip() for p in parts if p.strip()]

"""The one numbering grammar and heading detector of the template's headings, used by every reader and
by segmentation.

Numbering: ``一、`` ``（一）`` ``(一)`` ``1.`` ``1、`` (full- or half-width). A section heading is a short
line whose keywords are the template's, keywords first and numbering second, so the intro paragraph that
lists every section title is never taken for a heading.
"""

from __future__ import annotations

import re

from nianbao.normalize import nfkc
from nianbao.template import SECTIONS

_CN_NUM = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_NUMBERING = re.compile(
    r"^\s*(?:(?P<paren>[(（])\s*(?P<pn>[一二三四五六七八九十]+|\d{1,2})\s*[)）]"
    r"|(?P<n>[一二三四五六七八九十]+|\d{1,2})\s*(?:[、.．,，]|\s))\s*"
)
# Core phrases of each canonical title: present on a short line, they identify the heading even
# when the numbering differs (bodies that renumber their sections).
_CORE = {
    1: ("总体情况",),
    2: ("主动公开政府信息情况",),
    3: ("收到和处理政府信息公开申请情况",),
    4: ("行政复议、行政诉讼情况", "行政复议和行政诉讼情况", "被申请行政复议、提起行政诉讼情况",
        "被申请行政复议和提起行政诉讼情况"),
    5: ("存在的主要问题及改进情况",),
    6: ("其他需要报告的事项",),
}
_MAX_HEADING_LEN = 40
# Site chrome after the report on web pages.
CHROME = re.compile(r"主办[:：]|承办[:：]|ICP备|网站标识码|站点地图|公网安备|版权所有|建议使用.*浏览器|网站地图|技术支持[:：]")


def numbering(line: str) -> tuple[int | None, bool, str]:
    """Given a line, return (number, parenthesised, rest of the line)."""
    m = _NUMBERING.match(line)
    if not m:
        return None, False, line.strip()
    raw = m.group("pn") or m.group("n")
    num = int(raw) if raw.isdigit() else _CN_NUM.get(raw)
    return num, bool(m.group("paren")), line[m.end():].strip()


def heading_section(line: str) -> int | None:
    """Given a text line, return the section number it is a heading of, or None."""
    text = re.sub(r"\s+", "", nfkc(line)).replace(",", "，")
    text_cjk = text.replace("(", "（").replace(")", "）")
    if not text or len(text) > _MAX_HEADING_LEN or text.endswith(("。", "；", ";")):
        return None
    num, paren, rest = numbering(text_cjk)
    rest = rest.rstrip("：:")
    if len(rest) > _MAX_HEADING_LEN - 4:
        return None
    for sec in SECTIONS:
        keywords_ok = all(any(k in rest for k in group) for group in sec.keywords)
        if not keywords_ok:
            continue
        core = any(c.replace("、", "") in rest.replace("、", "") for c in _CORE[sec.number])
        if num == sec.number and not paren:
            return sec.number
        if core and (num is None or not paren or num == sec.number):
            # Renumbered headings ("3、收到和处理…" is fine anyway); parenthesised sub-headings
            # such as "(一)主动公开情况" only count when their number is the section's.
            return sec.number
    return None

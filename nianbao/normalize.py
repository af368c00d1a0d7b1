"""Normalisation of labels for matching, and parsing of printed cell values.

Matching always happens on ``normalize_label`` output; the raw text is kept beside it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

ValueKind = Literal["number", "blank", "not_applicable", "text"]

# CJK Radicals Supplement code points that NFKC leaves alone, mapped to their unified ideographs.
_RADICALS = str.maketrans({
    "⺠": "民", "⻓": "长", "⻔": "门", "⻋": "车", "⻅": "见", "⻆": "角", "⻝": "食", "⻢": "马",
    "⻄": "西", "⻜": "飞", "⺟": "母", "⻚": "页", "⻛": "风", "⺫": "目", "⺮": "竹", "⻩": "黄",
})
_QUOTES = "\"'“”‘’「」『』〝〞″`"
_SPACES = re.compile(r"\s+")
# Leading numbering of a table LABEL, stripped before matching: 一、 / (一) / 1. / 1、 / (1) / ①, and combinations
# like "(三)1." (stripped repeatedly). Part of the one numbering grammar: nianbao.grammar exports it with the
# heading numbering (it lives here because the base result types normalise labels and may not import grammar).
LABEL_NUMBERING = re.compile(
    r"^(?:[(（]?[一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+[、.．]|[(（]?\d{1,2}[)）]|\d{1,2}[、.．](?!\d)|[①-⑳])"
)
_NUMBERING = LABEL_NUMBERING
_PUNCT = re.compile(r"[\s,，。、:：;；/／()（）\[\]【】<>《》·.．\-—_]+")


def nfkc(text: str) -> str:
    """Given text, return its NFKC form with CJK radical code points mapped to ideographs."""
    return unicodedata.normalize("NFKC", text).translate(_RADICALS)


# Pure functions of a string, called for every label, template variant and cell of every report: memoised
# (the template's variants are normalised again on every row match; a report's cells repeat few texts).
_MEMO = 1 << 15


@functools.lru_cache(maxsize=_MEMO)
def normalize_label(text: str) -> str:
    """Given a printed label, return the form used for matching.

    NFKC, radicals mapped, whitespace and quotes removed, leading numbering stripped
    (repeatedly), and punctuation removed. Idempotent.
    """
    s = _SPACES.sub("", nfkc(text))
    for q in _QUOTES:
        s = s.replace(q, "")
    while True:  # strip numbering and punctuation until nothing changes, so the result is a fixpoint
        # NFKC again: removing a space can leave a combining mark that composes differently.
        stripped = nfkc(_PUNCT.sub("", _NUMBERING.sub("", _SPACES.sub("", s), count=1)))
        if stripped == s:
            return s
        s = stripped


def strip_spaces(text: str) -> str:
    """Given text, return it NFKC-normalised without any whitespace."""
    return _SPACES.sub("", nfkc(text))


@dataclass(frozen=True)
class ParsedValue:
    """A parsed cell: ``value`` is set only for kind ``number``; ``raw`` is the printed text."""

    value: Decimal | None
    kind: ValueKind
    raw: str
    unit: str = ""


# The published value column is DECIMAL(VALUE_PRECISION, VALUE_SCALE) (schemas.VALUE_DTYPE): a printed number
# with more decimals or more integer digits than it holds would be altered by storing it, so it is not
# taken as a number (kind "text", the printed text kept in ``raw``).
VALUE_PRECISION = 38
VALUE_SCALE = 18

_NA = {"/", "／", "-", "—", "——", "–", "无", "\\", "－", "×", "*"}
_NUMBER = re.compile(r"^([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(万元|元|件|个|项|条|次|万)?$")
_PAREN_NEG = re.compile(r"^\((\d+(?:\.\d+)?)\)$")


@functools.lru_cache(maxsize=_MEMO)
def parse_value(raw: str) -> ParsedValue:
    """Given the printed text of a cell, return its value and kind; never turn a blank into 0 (the result is
    immutable: memoised)."""
    s = strip_spaces(raw).replace("\u00a0", "")
    if s == "":
        return ParsedValue(None, "blank", raw)
    if s in _NA:
        return ParsedValue(None, "not_applicable", raw)
    s = s.replace("，", ",").replace("−", "-")
    m = _PAREN_NEG.match(s)
    if m:
        return ParsedValue(-Decimal(m.group(1)), "number", raw)
    m = _NUMBER.match(s)
    if not m:
        return ParsedValue(None, "text", raw)
    sign, whole, frac, unit = m.groups()
    try:
        val = Decimal(whole.replace(",", "") + (f".{frac}" if frac else ""))
    except InvalidOperation:  # pragma: no cover - the regex admits only digits
        return ParsedValue(None, "text", raw)
    if sign == "-":
        val = -val
    int_digits = len(whole.replace(",", "").lstrip("0"))
    if len(frac or "") > VALUE_SCALE or int_digits > VALUE_PRECISION - VALUE_SCALE:
        return ParsedValue(None, "text", raw)
    return ParsedValue(val, "number", raw, unit or "")


def is_value_like(raw: str) -> bool:
    """Given cell text, return True if it is a number, a not-applicable mark or blank."""
    return parse_value(raw).kind != "text"

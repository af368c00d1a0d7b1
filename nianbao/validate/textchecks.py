"""Text-vs-table checks: numbers stated in the prose of sections 1–4 compared with the table cells.

Deliberately conservative — a sentence is used only when its pattern is unambiguous:

- ``text_vs_table_new_received``: 本年新收政府信息公开申请N件 (the words between 新收 and 申请 may
  only be 到, 各类, 政府信息公开, 依申请公开 …) → applications ``new_received``/``total``; the looser
  收到政府信息公开申请N件 is often written for new + carried over, so it is flagged only when it
  equals neither ``new_received`` nor ``new_received`` + ``carried_over`` (total column);
- ``text_vs_table_administrative_review``: (政府信息公开)行政复议(案件)N件/起 → reviews_litigation
  ``administrative_review``/``total``;
- ``text_vs_table_litigation``: 行政诉讼(案件)N件/起 → ``litigation_direct``/``total`` +
  ``litigation_after_review``/``total``;
- ``text_vs_table_fees``: 行政事业性收费…N万元 / 本年收费金额N万元 → proactive_disclosure
  ``fees``/``amount`` (2021 template; the 信息处理费 of section 6 is another thing and never compared);
- ``text_vs_table_rules_issued`` / ``text_vs_table_normative_documents_issued``: 制发规章N件 /
  制发(行政)规范性文件N件 → ``rules``/``normative_documents`` ``issued`` (2021 template).

A general "主动公开政府信息N条" has no table cell (table 1 counts only rules, normative documents,
decisions and fees), so it is not checked.

Guards: only Arabic numbers (full-width folded); a sentence naming another year than the report's,
or with 去年/上年/同比/较 before the number, is skipped; 行政复议/行政诉讼 counts are used only in
section 4 or in a sentence that speaks of 信息公开 (a justice bureau's 办理行政复议案件120件 is its
case load, not table 3); a combined "行政复议、行政诉讼N件" is skipped; when one report states two
different numbers for the same thing, nothing is flagged. A break is a ``warning`` (prose is
looser than tables) and never changes a number.

Wiring: ``finish_report`` calls ``result.problems.extend(check_text_vs_table(result))`` once the
cells are set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from nianbao.normalize import nfkc
from nianbao.results import CellValue, Problem

if TYPE_CHECKING:
    from nianbao.results import ReportResult

_NUM = r"(\d+(?:\.\d+)?)"
_COUNT_END = r"(?:件|起|宗|个)(?![\d])"
_FILL_APP = r"(?:到)?(?:各类|各种|的)?(?:政府信息公开|信息公开|依申请公开)?"
_VERB_TAIL = r"(?:数量)?(?:共计|共|合计|总计|累计|为|是|达)?"


@dataclass(frozen=True)
class TextRule:
    """One prose pattern and the table cells whose sum it states."""

    what: str
    pattern: re.Pattern[str]
    table: str
    cells: tuple[tuple[str, str], ...]  # (key1, key2) summed
    disclosure_context: bool = False  # needs section 4 or 信息公开 in the sentence
    template: str | None = None  # only when the table is of this template
    unit: str = ""
    # A loosely worded statement (收到…申请N件) may also mean these cells' sum (new + carried over):
    # it is flagged only when it equals neither.
    loose_cells: tuple[tuple[str, str], ...] = ()


RULES: tuple[TextRule, ...] = (
    TextRule("new_received", re.compile(
        r"(?:新收" + _FILL_APP + r"|(?P<loose>收到)(?:各类|各种|的)?(?:政府信息公开|信息公开|依申请公开))"
        r"(?:申请|申请件)" + _VERB_TAIL + _NUM + _COUNT_END), "applications", (("new_received", "total"),),
        loose_cells=(("new_received", "total"), ("carried_over", "total"))),
    TextRule("administrative_review", re.compile(
        r"(?<!诉讼[、和及与])行政复议(?:案件|申请)?" + _VERB_TAIL + _NUM + _COUNT_END),
        "reviews_litigation", (("administrative_review", "total"),), disclosure_context=True),
    TextRule("litigation", re.compile(
        r"(?<!复议[、和及与])行政诉讼(?:案件)?" + _VERB_TAIL + _NUM + _COUNT_END),
        "reviews_litigation", (("litigation_direct", "total"), ("litigation_after_review", "total")),
        disclosure_context=True),
    TextRule("fees", re.compile(
        r"(?:行政事业性收费[^\d。;!?]{0,20}?|本年收费金额)" + _VERB_TAIL + _NUM + r"万元"),
        "proactive_disclosure", (("fees", "amount"),), template="2021", unit="万元"),
    TextRule("rules_issued", re.compile(r"制发(?:政府)?规章" + _VERB_TAIL + _NUM + r"件"),
             "proactive_disclosure", (("rules", "issued"),), template="2021"),
    TextRule("normative_documents_issued", re.compile(r"制发(?:行政)?规范性文件" + _VERB_TAIL + _NUM + r"件"),
             "proactive_disclosure", (("normative_documents", "issued"),), template="2021"),
)

_SENTENCE = re.compile(r"[^。;!?]+")
_YEAR = re.compile(r"((?:19|20)\d{2})年")
_BEFORE_GUARD = re.compile(r"去年|上年|上一年|前年|同比|同期|较|比上|往年")
_COMBINED = re.compile(r"(?:行政复议|复议)[、和及与]行政诉讼|(?:行政诉讼|诉讼)[、和及与]行政复议|各\d")
_SECTIONS_READ = (1, 2, 3, 4)


@dataclass(frozen=True)
class Statement:
    """A number stated in the prose."""

    what: str
    value: Decimal
    section: int
    snippet: str
    loose: bool = False


def _fmt(v: Decimal) -> str:
    return str(int(v)) if v == v.to_integral_value() else format(v.normalize(), "f")


def _value_group(m: re.Match[str]) -> int:
    """Index of the number group (the last group of every pattern)."""
    return m.re.groups


def _sum(keyed: dict[tuple[str, str, str], CellValue], table: str, cells: tuple[tuple[str, str], ...]
         ) -> Decimal | None:
    parts = [keyed.get((table, k1, k2)) for k1, k2 in cells]
    if any(p is None or p.kind != "number" or p.value is None for p in parts):
        return None
    return sum((p.value for p in parts if p is not None and p.value is not None), Decimal(0))


def find_statements(sections: list[tuple[int, str]], report_year: int | None) -> list[Statement]:
    """Given (section number, prose) pairs and the report year, return every unambiguous statement found."""
    out: list[Statement] = []
    for number, text in sections:
        if number not in _SECTIONS_READ or not text:
            continue
        flat = re.sub(r"\s+", "", nfkc(text))
        for sm in _SENTENCE.finditer(flat):
            sentence = sm.group(0)
            years = {int(y) for y in _YEAR.findall(sentence)}
            if report_year is not None and years - {report_year}:
                continue  # speaks of another year too
            for rule in RULES:
                if rule.disclosure_context and number != 4 and "信息公开" not in sentence:
                    continue
                for m in rule.pattern.finditer(sentence):
                    clause_start = max(sentence.rfind(",", 0, m.start()), sentence.rfind(":", 0, m.start())) + 1
                    before = sentence[clause_start:m.start()]
                    if _BEFORE_GUARD.search(before) or _BEFORE_GUARD.search(m.group(0)):
                        continue
                    if rule.what in ("administrative_review", "litigation"):
                        window = sentence[max(0, m.start() - 6):m.end() + 2]
                        if _COMBINED.search(window):
                            continue
                    snippet = sentence[max(0, m.start() - 12):m.end() + 4]
                    loose = bool(m.groupdict().get("loose"))
                    out.append(Statement(rule.what, Decimal(m.group(_value_group(m))), number, snippet, loose))
    return out


def compare(statements: list[Statement], cells: list[CellValue], templates: dict[str, str | None]
            ) -> list[Problem]:
    """Given prose statements, the report's cells and its table templates, return a Problem per break."""
    keyed = {(c.table, c.key1, c.key2): c for c in cells}
    problems: list[Problem] = []
    for rule in RULES:
        stated_all = [s for s in statements if s.what == rule.what]
        strict = [s for s in stated_all if not s.loose]
        found = strict or stated_all  # a strictly worded statement wins over a loose one
        values = {s.value for s in found}
        if len(values) != 1:
            continue  # not stated, or stated two different ways: ambiguous, never flagged
        if rule.template and templates.get(rule.table) not in (rule.template, None):
            continue  # e.g. a 2019 table 1: 本年制发 and 收费金额 are not its columns
        parts = [keyed.get((rule.table, k1, k2)) for k1, k2 in rule.cells]
        if rule.unit and any(p is not None and p.unit not in ("", rule.unit) for p in parts):
            continue
        table_value = _sum(keyed, rule.table, rule.cells)
        if table_value is None:
            continue
        stated = next(iter(values))
        accepted = {table_value}
        if not strict and rule.loose_cells:
            alt = _sum(keyed, rule.table, rule.loose_cells)
            if alt is None:
                continue  # cannot rule out the loose reading
            accepted.add(alt)
        if stated in accepted:
            continue
        first = found[0]
        cell_names = " + ".join(f"{k1}/{k2}" for k1, k2 in rule.cells)
        page = next((p.origin.page for p in parts if p is not None and p.origin.page), None)
        problems.append(Problem(
            f"text_vs_table_{rule.what}", "warning", rule.table,
            f"section {first.section} states {_fmt(stated)} ({first.snippet!r}) but the table has "
            f"{_fmt(table_value)} in {rule.table} {cell_names}",
            key1=rule.cells[0][0], key2=rule.cells[0][1], expected=_fmt(table_value), actual=_fmt(stated),
            page=page))
    return problems


def check_text_vs_table(result: ReportResult) -> list[Problem]:
    """Given a processed report (sections and cells set), return its text-vs-table problems."""
    if not result.cells:  # failed reports have none; the status may not be set yet
        return []
    statements = find_statements([(s.number, s.text) for s in result.sections], result.report_year)
    return compare(statements, result.cells, dict(result.table_templates))


TEXT_CHECKS: tuple[str, ...] = tuple(f"text_vs_table_{r.what}" for r in RULES)

__all__ = ["RULES", "TEXT_CHECKS", "Statement", "check_text_vs_table", "compare", "find_statements"]

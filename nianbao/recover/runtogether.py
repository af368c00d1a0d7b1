"""Tables read from a stream of tokens: crawler dumps and text extracts where the table is not a grid.

A web page dumped as text loses its table: the cells come out separated by single spaces (``规章 0 0 0``),
on one line with the rest of the page, or run together with no separator at all (``713000074`` is
71·3·0·0·0·0·74). The template knows each table's row order, its row labels and its column count, so the
rows are rebuilt from the tokens:

1. Each row's label is found in template order after the table's anchor (a column header printed in the
   table). Short labels (其他, 总计) occur everywhere, so they are found only with their printed numbering
   (``3.其他`` as the third sub-item of its group, ``（七）总计`` as its own group); a parenthesised note right
   after a label (``（区分处理的，只计这一情形…）``) belongs to the label.
2. The row's values are the value tokens (numbers, ``/``, ``-``) that follow its label, up to the first word.
   * exactly as many tokens as the template has columns: published as printed (row and column certain);
   * one digit run and nothing else, in a table that separates no cells at all: every way of cutting it into the row's cells is
     enumerated, the identities filter them, and a cut is published only when it is the only one left for
     the whole table (``derivation = split_by_identity``, flagged);
   * any other count: a blank cell leaves no trace in a text dump, so which column each value belongs to
     is unknown: the row is withheld (``dump_row_ambiguous``); a row with no value at all is withheld too
     (``dump_row_empty``: blank or lost cannot be told apart).
"""

from __future__ import annotations

import itertools
import re
from decimal import Decimal

from nianbao.extract.mapping import TableResult
from nianbao.normalize import nfkc, parse_value
from nianbao.results import CellValue, Problem
from nianbao.template import APPLICANTS, OUTCOMES, PROCEEDINGS, TABLES, Row, TemplateVersion
from nianbao.validate.identities import Key, equations, evaluate
from nianbao.variants import variants_of

_MAX_CANDIDATES = 2000
_QUOTES = re.compile("[\"'“”‘’「」『』]")
# Characters labels are compared without: spaces, and the commas a label may or may not print inside it
# (申请人无正当理由逾期不补正、行政机关不再处理…).
_SKIP = frozenset(" 、,，")
_CN_NUM = "一二三四五六七八九十"
_ANCHORS = {
    "proactive_disclosure": re.compile(r"第二十条第\(一\)项|信息内容"),
    "applications": re.compile(r"本列数据的勾稽关系|申请人情况"),
    "reviews_litigation": re.compile(r"复议后起诉|未经复议直接起诉|结果维持"),
}


class _Text:
    """The table's text (NFKC, quotes removed, whitespace as single spaces) and its squashed form, whose
    offsets map back to the spaced text, so labels are found across spaces and values read between them."""

    def __init__(self, text: str) -> None:
        self.spaced = re.sub(r"\s+", " ", _QUOTES.sub("", nfkc(text)))
        chars, index = [], []
        for i, ch in enumerate(self.spaced):
            if ch not in _SKIP:
                chars.append(ch)
                index.append(i)
        self.squashed = "".join(chars)
        self.index = index + [len(self.spaced)]

    def anchor(self, table: str) -> int:
        m = _ANCHORS[table].search(self.squashed)
        return m.start() if m else 0


def _squash(text: str) -> str:
    return "".join(ch for ch in re.sub(r"\s+", "", _QUOTES.sub("", nfkc(text))) if ch not in _SKIP)


def _compositions(digits: str, parts: int) -> list[tuple[int, ...]]:
    """Return every way to cut ``digits`` into ``parts`` numbers without leading zeros."""
    out: list[tuple[int, ...]] = []

    def rec(start: int, acc: list[int]) -> None:
        if len(out) > _MAX_CANDIDATES:
            return
        left = parts - len(acc)
        rest = len(digits) - start
        if left == 0:
            if rest == 0:
                out.append(tuple(acc))
            return
        if rest < left:
            return
        for end in range(start + 1, len(digits) - left + 2):
            piece = digits[start:end]
            if len(piece) > 1 and piece[0] == "0":
                break
            acc.append(int(piece))
            rec(end, acc)
            acc.pop()

    rec(0, [])
    return out


def _sub_number(row: Row, rows: tuple[Row, ...]) -> int | None:
    """Return the printed sub-item number (1., 2., …) of a row inside a group of several rows."""
    if "(" not in row.group:
        return None
    same = [r for r in rows if r.group == row.group]
    return same.index(row) + 1 if len(same) > 1 else None


def _label_forms(row: Row, rows: tuple[Row, ...]) -> list[str]:
    """The squashed forms a row's label is found by; short labels only with their printed numbering."""
    forms: list[str] = []
    for label in (*row.labels, *variants_of(row.key)):
        v = _squash(label)
        n = _sub_number(row, rows)
        if len(v) > 2 or ("(" not in row.group):
            forms.append(v)
        elif n is not None:
            forms += [f"{n}.{v}", f"{n}{v}"]  # 3.其他 / 3、其他 (the 、 is skipped)
        else:  # a group of its own: (七)总计
            forms.append(row.group[row.group.index("("):] + v)
    return sorted(set(forms), key=len, reverse=True)


def _find(text: _Text, row: Row, rows: tuple[Row, ...], start: int) -> tuple[int, int] | None:
    best: tuple[int, int] | None = None
    for v in _label_forms(row, rows):
        i = text.squashed.find(v, start)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, i + len(v))
    if best is not None:  # a parenthesised note printed right after the label is part of it
        m = re.match(r"\([^()]{0,40}\)", text.squashed[best[1]:])
        if m:
            best = (best[0], best[1] + m.end())
    return best


def _locate(text: _Text, rows: tuple[Row, ...], start: int) -> dict[str, tuple[int, int]]:
    spans: dict[str, tuple[int, int]] = {}
    pos = start
    for row in rows:
        hit = _find(text, row, rows, pos)
        if hit is not None:
            spans[row.key] = hit
            pos = hit[1]
    return spans


def _chunks(text: _Text, rows: tuple[Row, ...], spans: dict[str, tuple[int, int]]) -> dict[str, str]:
    """The spaced text between each found label and the next found label (or the end)."""
    found = [r.key for r in rows if r.key in spans]
    out: dict[str, str] = {}
    for k, key in enumerate(found):
        end_sq = spans[found[k + 1]][0] if k + 1 < len(found) else len(text.squashed)
        a, b = text.index[spans[key][1]], text.index[end_sq] if end_sq < len(text.squashed) else len(text.spaced)
        out[key] = text.spaced[a:b]
    return out


def _leading_values(chunk: str) -> list[str]:
    values: list[str] = []
    for tok in chunk.split():
        if parse_value(tok).kind in ("number", "not_applicable"):
            values.append(tok)
        else:
            break
    return values


def _separated(chunks: dict[str, str]) -> bool:
    """True when the table separates its cells (some row prints two or more value tokens): then a single
    token is one cell, never digits run together (``规章 377`` is one number, the other cells blank)."""
    return any(len(_leading_values(c)) >= 2 for c in chunks.values())


def _run_together(chunk: str, next_number: int | None) -> str | None:
    """The digit run of a chunk printed with no separator, without the next row's glued numbering."""
    sq = chunk.replace(" ", "")
    if next_number is not None:
        sq = re.sub(rf"{next_number}[.、]", "", sq, count=1) if re.match(rf"^\d+{next_number}[.、]", sq) else sq
    m = re.match(r"^(\d+)(?![\d.,])", sq)
    return m.group(1) if m else None


def _printed(table: str, key1: str, keys2: tuple[str, ...], tokens: list[str]) -> list[CellValue]:
    out = []
    for key2, raw in zip(keys2, tokens):
        pv = parse_value(raw)
        out.append(CellValue(table, key1, key2, pv.value, pv.kind, raw, unit=pv.unit))
    return out


def recover_applications(section_text: str) -> TableResult | None:
    """Given the text of the applications table's section, return the rows rebuilt from its tokens."""
    text = _Text(section_text)
    start = text.anchor("applications")
    located = {v: _locate(text, TABLES[("applications", v)].rows, start) for v in ("2021", "2019")}
    marker = {"2021": ("other_no_correction", "other_no_fee_paid"), "2019": ()}
    version: TemplateVersion = "2021" if any(k in located["2021"] for k in marker["2021"]) else "2019"
    rows = TABLES[("applications", version)].rows
    spans = located[version]
    if len(spans) < len(rows) // 2:
        return None
    chunks = _chunks(text, rows, spans)
    separated = _separated(chunks)
    cols = tuple(c.key for c in APPLICANTS)
    fixed: dict[str, list[CellValue]] = {}
    candidates: dict[str, list[tuple[int, ...]]] = {}
    withheld: dict[str, str] = {}
    for k, row in enumerate(rows):
        if row.key not in chunks:
            withheld[row.key] = "label not found"
            continue
        chunk = chunks[row.key]
        values = _leading_values(chunk)
        if len(values) == len(cols):
            fixed[row.key] = _printed("applications", row.key, cols, values)
            continue
        nxt = rows[k + 1] if k + 1 < len(rows) else None
        digits = (_run_together(chunk, _sub_number(nxt, rows) if nxt else None)
                  if len(values) <= 1 and not separated else None)
        if digits is not None and len(digits) >= len(cols):
            candidates[row.key] = [c for c in _compositions(digits, len(cols)) if c[-1] == sum(c[:-1])]
        elif not values:
            withheld[row.key] = "no value printed after the label (blank and lost cannot be told apart)"
        else:
            withheld[row.key] = (f"{len(values)} values printed where the template has {len(cols)}: a blank cell "
                                 "leaves no trace in a text dump, so their columns are unknown")
    return _solve(version, fixed, candidates, withheld)


def _solve(version: TemplateVersion, fixed: dict[str, list[CellValue]], candidates: dict[str, list[tuple[int, ...]]],
           withheld: dict[str, str]) -> TableResult:
    table = "applications"
    result = TableResult(table, version)
    cols = tuple(c.key for c in APPLICANTS)
    eqs = [e for e in equations(version) if e.check != "applications_row_total"]
    base: dict[Key, CellValue] = {(c.table, c.key1, c.key2): c for cells in fixed.values() for c in cells}
    unique = {k: v[0] for k, v in candidates.items() if len(v) == 1}
    open_rows = [k for k, v in candidates.items() if len(v) > 1]
    space = 1
    for k in open_rows:
        space *= len(candidates[k])
    solutions: list[dict[str, tuple[int, ...]]] = []
    if open_rows and space <= 200_000:
        for combo in itertools.product(*(candidates[k] for k in open_rows)):
            trial = dict(unique, **dict(zip(open_rows, combo)))
            keyed = dict(base)
            keyed.update({(table, r, c): CellValue(table, r, c, Decimal(v), "number", str(v))
                          for r, vals in trial.items() for c, v in zip(cols, vals)})
            if not evaluate(keyed, eqs):
                solutions.append(trial)
                if len(solutions) > 1:
                    break
    chosen = solutions[0] if len(solutions) == 1 else unique
    if open_rows and len(solutions) != 1:
        result.problems.append(Problem(
            "split_ambiguous", "error", table,
            f"rows {', '.join(open_rows)}: the run-together digits split in more than one way that balances; "
            "left out", actual=",".join(open_rows)))
    missing = [k for k, v in candidates.items() if not v]
    if missing:
        result.problems.append(Problem("split_impossible", "error", table,
                                       f"rows {', '.join(missing)}: no split of the digits balances; left out"))
    for cells in fixed.values():
        result.cells.extend(cells)
    split = [CellValue(table, r, c, Decimal(v), "number", str(v), derivation="split_by_identity")
             for r, vals in chosen.items() for c, v in zip(cols, vals)]
    result.cells.extend(split)
    if split:
        result.problems.append(Problem(
            "cells_split_by_identity", "warning", table,
            f"{len(split)} cells read from digits printed without separators; each split is the only one "
            "that satisfies the identities"))
    _withheld_problems(result, withheld)
    return result


def _withheld_problems(result: TableResult, withheld: dict[str, str]) -> None:
    """One problem per kind: rows with values that cannot be placed (error), rows with none (warning)."""
    empty = [k for k, why in withheld.items() if why.startswith("no value")]
    lost = [k for k, why in withheld.items() if k not in empty and why != "label not found"]
    missing = [k for k, why in withheld.items() if why == "label not found"]
    if lost:
        result.problems.append(Problem(
            "dump_row_ambiguous", "error", result.table,
            f"rows {', '.join(lost)} of a table printed as text hold fewer or more values than the template's "
            f"columns ({'; '.join(f'{k}: {withheld[k]}' for k in lost[:3])}): a blank cell leaves no trace in a "
            "text dump, so the columns are unknown; their cells are withheld", key1=lost[0], actual=",".join(lost)))
    if empty:
        result.problems.append(Problem(
            "dump_row_empty", "warning", result.table,
            f"rows {', '.join(empty)} of a table printed as text have no value after their label (blank and lost "
            "cannot be told apart); withheld", key1=empty[0], actual=",".join(empty)))
    if missing:
        result.problems.append(Problem(
            "rows_missing", "warning", result.table,
            f"rows not found in the table printed as text: {', '.join(missing)}", actual=",".join(missing)))


def recover_proactive(section_text: str) -> TableResult | None:
    """Given the text of section 2, return the proactive-disclosure rows rebuilt from its tokens."""
    text = _Text(section_text)
    hits = {v: sum(1 for m in TABLES[("proactive_disclosure", v)].markers if _squash(m) in text.squashed)
            for v in ("2019", "2021")}
    if not any(hits.values()):
        return None
    version: TemplateVersion = "2019" if hits["2019"] > hits["2021"] else "2021"
    template = TABLES[("proactive_disclosure", version)]
    result = TableResult("proactive_disclosure", version)
    spans = _locate(text, template.rows, text.anchor("proactive_disclosure"))
    chunks = _chunks(text, template.rows, spans)
    separated = _separated(chunks)
    withheld: dict[str, str] = {}
    for row in template.rows:
        if row.key not in chunks:
            withheld[row.key] = "label not found"
            continue
        n = len(row.metrics)
        values = _leading_values(chunks[row.key])
        if len(values) == n:
            result.cells.extend(_printed("proactive_disclosure", row.key, row.metrics, values))
            continue
        digits = _run_together(chunks[row.key], None) if len(values) <= 1 and n > 1 and not separated else None
        if digits is not None and len(digits) == n:  # n digits into n numbers: one way only
            result.cells.extend(CellValue("proactive_disclosure", row.key, m, Decimal(d), "number", d,
                                          derivation="split_by_identity") for m, d in zip(row.metrics, digits))
        elif digits is not None and len(digits) > n:
            result.problems.append(Problem("split_ambiguous", "error", "proactive_disclosure",
                                           f"row {row.key}: {digits} can be cut into {n} numbers in more than one way "
                                           "and no identity decides; left out", key1=row.key, actual=digits))
        elif not values:
            withheld[row.key] = "no value printed after the label (blank and lost cannot be told apart)"
        else:
            withheld[row.key] = (f"{len(values)} values printed where the template has {n}: a blank cell leaves "
                                 "no trace in a text dump, so their columns are unknown")
    _withheld_problems(result, withheld)
    return result if result.cells or result.problems else None


def recover_reviews(section_text: str) -> TableResult | None:
    """Given the text of section 4, return the 15 cells when exactly one run of 15 value tokens follows the
    table's header; a run of any other length is withheld (a blank cell left no trace)."""
    text = _Text(section_text)
    a = text.index[text.anchor("reviews_litigation")]
    runs: list[list[str]] = [[]]
    for tok in text.spaced[a:].split():
        if parse_value(tok).kind in ("number", "not_applicable"):
            runs[-1].append(tok)
        elif runs[-1]:
            runs.append([])
    runs = [r for r in runs if len(r) >= 3]
    full = [r for r in runs if len(r) == 15]
    result = TableResult("reviews_litigation", None)
    if len(full) != 1:
        if runs:
            result.problems.append(Problem(
                "dump_row_ambiguous", "error", "reviews_litigation",
                f"the table printed as text has runs of {', '.join(str(len(r)) for r in runs)} values where the "
                "template has 15: a blank cell leaves no trace in a text dump; the table is withheld",
                expected="15", actual=",".join(str(len(r)) for r in runs)))
            return result
        return None
    keys = [(p.key, o.key) for p in PROCEEDINGS for o in OUTCOMES]
    for (k1, k2), raw in zip(keys, full[0]):
        pv = parse_value(raw)
        result.cells.append(CellValue("reviews_litigation", k1, k2, pv.value, pv.kind, raw, unit=pv.unit))
    return result

"""Tables whose cells run together with no separator (crawler text dumps).

``713000074`` is 71·3·0·0·0·0·74. A split is published only when it is unique: every way
of cutting each row's digit run into the template's cells is enumerated, the identities
filter them, and only a single surviving assignment for the whole table is kept. Every
cell published this way is marked ``derivation="split_by_identity"`` and flagged; rows
whose split stays ambiguous are left out and recorded. Used only for a section that has
no table grid at all.
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

_MAX_CANDIDATES = 2000


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
    """Return the printed sub-item number (1., 2., …) of a row inside its （三）–（六） group."""
    if "(" not in row.group:
        return None
    same = [r for r in rows if r.group == row.group]
    return same.index(row) + 1


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", nfkc(text)).replace("“", "").replace("”", "").replace('"', "")


def _find(text: str, row: Row, start: int) -> tuple[int, int] | None:
    best: tuple[int, int] | None = None
    for variant in sorted(row.labels, key=len, reverse=True):
        v = _squash(variant)
        if row.key == "other_other":
            v = "3.其他"  # a bare 其他 is everywhere; the third (六) sub-item is printed "3.其他"
        i = text.find(v, start)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, i + len(v))
    return best


def recover_applications(section_text: str) -> TableResult | None:
    """Given the prose of section 3 with a run-together table, return the uniquely recoverable cells."""
    text = _squash(section_text)
    versions: tuple[TemplateVersion, ...] = ("2021", "2019")
    for version in versions:
        rows = TABLES[("applications", version)].rows
        spans: list[tuple[int, int]] = []
        pos = 0
        for row in rows:
            hit = _find(text, row, pos)
            if hit is None:
                break
            spans.append(hit)
            pos = hit[1]
        if len(spans) != len(rows):
            continue
        candidates: dict[str, list[tuple[int, ...]]] = {}
        for k, row in enumerate(rows):
            end = spans[k + 1][0] if k + 1 < len(rows) else len(text)
            chunk = text[spans[k][1]:end]
            nxt = rows[k + 1] if k + 1 < len(rows) else None
            n = _sub_number(nxt, rows) if nxt is not None else None
            if n is not None:  # the next label's own number ("2.") is glued to this row's digits
                chunk = re.sub(rf"{n}[.．、]$", "", chunk)
            m = re.search(r"\d+", chunk)
            digits = m.group(0) if m else ""
            comps = [c for c in _compositions(digits, 7) if c[6] == sum(c[:6])]
            candidates[row.key] = comps
        return _solve("applications", version, candidates)
    return None


def _solve(table: str, version: TemplateVersion, candidates: dict[str, list[tuple[int, ...]]]) -> TableResult:
    result = TableResult(table, version)
    cols = tuple(c.key for c in APPLICANTS)
    eqs = [e for e in equations(version) if e.check != "applications_row_total"]
    fixed = {k: v[0] for k, v in candidates.items() if len(v) == 1}
    open_rows = [k for k, v in candidates.items() if len(v) > 1]
    solutions: list[dict[str, tuple[int, ...]]] = []
    space = 1
    for k in open_rows:
        space *= len(candidates[k])
    if space <= 200_000:
        for combo in itertools.product(*(candidates[k] for k in open_rows)):
            trial = dict(fixed, **dict(zip(open_rows, combo)))
            keyed: dict[Key, CellValue] = {
                (table, r, c): CellValue(table, r, c, Decimal(v), "number", str(v))
                for r, vals in trial.items() for c, v in zip(cols, vals)}
            if not evaluate(keyed, eqs):
                solutions.append(trial)
                if len(solutions) > 1:
                    break
    if len(solutions) == 1:
        chosen = solutions[0]
    else:
        chosen = fixed  # only rows whose split is unique on its own
        if open_rows:
            result.problems.append(Problem(
                "split_ambiguous", "error", table,
                f"rows {', '.join(open_rows)}: the run-together digits split in more than one way that balances; "
                "left out", actual=",".join(open_rows)))
    missing = [k for k, v in candidates.items() if not v]
    if missing:
        result.problems.append(Problem("split_impossible", "error", table,
                                       f"rows {', '.join(missing)}: no split of the digits balances; left out"))
    for r, vals in chosen.items():
        for c, v in zip(cols, vals):
            result.cells.append(CellValue(table, r, c, Decimal(v), "number", str(v), derivation="split_by_identity"))
    if result.cells:
        result.problems.append(Problem(
            "cells_split_by_identity", "warning", table,
            f"{len(result.cells)} cells read from digits printed without separators; each split is the only one "
            "that satisfies the identities"))
    return result


def recover_proactive(section_text: str) -> TableResult | None:
    """Given section 2 prose with a run-together table, return the cells whose split is unique
    (a row with one metric, or as many digits as metrics)."""
    text = _squash(section_text)
    if "本年制发件数" not in text and "现行有效件数" not in text:
        return None
    template = TABLES[("proactive_disclosure", "2021")]
    result = TableResult("proactive_disclosure", "2021")
    pos = 0
    for row in template.rows:
        hit = _find(text, row, pos)
        if hit is None:
            continue
        pos = hit[1]
        m = re.match(r"^(\d+(?:\.\d+)?)", text[hit[1]:])
        if not m:
            continue
        token = m.group(1)
        n = len(row.metrics)
        if n == 1:
            values = [token]
        elif "." not in token and len(token) == n:
            values = list(token)
        else:
            result.problems.append(Problem("split_ambiguous", "error", "proactive_disclosure",
                                           f"row {row.key}: {token} can be cut into {n} numbers in more than one way "
                                           "and no identity decides; left out", key1=row.key, actual=token))
            continue
        for metric, raw in zip(row.metrics, values):
            pv = parse_value(raw)
            result.cells.append(CellValue("proactive_disclosure", row.key, metric, pv.value, pv.kind, raw,
                                          derivation="split_by_identity" if n > 1 else "printed"))
    return result if result.cells else None


def recover_reviews(section_text: str) -> TableResult | None:
    """Given section 4 prose, return the 15 cells when exactly one run of 15 numbers follows the headers."""
    runs = re.findall(r"(?<![\d.])((?:\d+\s+){14}\d+)(?![\d.])", nfkc(section_text))
    if len(runs) != 1:
        return None
    values = runs[0].split()
    result = TableResult("reviews_litigation", None)
    keys = [(p.key, o.key) for p in PROCEEDINGS for o in OUTCOMES]
    for (k1, k2), raw in zip(keys, values):
        pv = parse_value(raw)
        result.cells.append(CellValue("reviews_litigation", k1, k2, pv.value, pv.kind, raw))
    return result

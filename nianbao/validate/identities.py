"""The identities (勾稽关系) of template.md as equations over keyed cells, their evaluation,
and the one narrow recovery they allow.

An equation says ``sum(parts) == total``. Evaluation treats a blank or "/" part as 0
(real reports use blanks for zero and balance that way), skips an equation whose total
side is entirely blank (a total that was not printed), and skips one when any of its
cells is missing or text. A failed equation becomes a ``Problem``; printed numbers
are never altered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from nianbao.extract.mapping import TableRow
from nianbao.normalize import parse_value
from nianbao.results import CellValue, Problem
from nianbao.template import (
    APPLICANT_PARTS,
    APPLICANTS,
    HANDLING_ROWS_2019,
    HANDLING_ROWS_2021,
    OUTCOME_PARTS,
    PROCEEDINGS,
    TemplateVersion,
)

Key = tuple[str, str, str]  # (table, key1, key2)


@dataclass(frozen=True)
class Equation:
    check: str
    table: str
    parts: tuple[Key, ...]
    total: tuple[Key, ...]
    key1: str | None
    key2: str | None
    description: str


def equations(applications_version: TemplateVersion | None) -> list[Equation]:
    """Given the applications table's template version, return every within-report equation."""
    eqs: list[Equation] = []
    a = "applications"
    handling = HANDLING_ROWS_2019 if applications_version == "2019" else HANDLING_ROWS_2021
    rows = ("new_received", "carried_over", *handling, "total_handled", "carried_forward")
    for col in (c.key for c in APPLICANTS):
        eqs.append(Equation("applications_balance", a, ((a, "new_received", col), (a, "carried_over", col)),
                            ((a, "total_handled", col), (a, "carried_forward", col)), None, col,
                            f"new_received + carried_over = total_handled + carried_forward ({col})"))
        eqs.append(Equation("applications_handled_total", a, tuple((a, r, col) for r in handling),
                            ((a, "total_handled", col),), "total_handled", col,
                            f"total_handled = sum of the handling-result rows ({col})"))
    for r in rows:
        eqs.append(Equation("applications_row_total", a, tuple((a, r, c) for c in APPLICANT_PARTS),
                            ((a, r, "total"),), r, "total", f"total = sum of the six applicant columns ({r})"))
    t = "reviews_litigation"
    for p in (p.key for p in PROCEEDINGS):
        eqs.append(Equation("reviews_litigation_total", t, tuple((t, p, o) for o in OUTCOME_PARTS),
                            ((t, p, "total"),), p, "total", f"upheld + corrected + other + pending = total ({p})"))
    return eqs


def _num(cell: CellValue | None) -> Decimal | None:
    if cell is None:
        return None
    if cell.kind == "number":
        return cell.value
    if cell.kind in ("blank", "not_applicable"):
        return Decimal(0)
    return None


def _sum(keys: tuple[Key, ...], cells: dict[Key, CellValue]) -> Decimal | None:
    total = Decimal(0)
    for k in keys:
        v = _num(cells.get(k))
        if v is None:
            return None
        total += v
    return total


def evaluate(cells: dict[Key, CellValue], eqs: list[Equation]) -> list[Problem]:
    """Given keyed cells and equations, return a Problem for each equation that does not balance."""
    problems: list[Problem] = []
    for eq in eqs:
        if all((c := cells.get(k)) is not None and c.kind == "blank" for k in eq.total):
            continue  # a total left blank was not printed: nothing to compare (blank parts still count as 0)
        parts, total = _sum(eq.parts, cells), _sum(eq.total, cells)
        if parts is None or total is None or parts == total:
            continue
        page = next((c.origin.page for k in eq.total if (c := cells.get(k)) is not None), None)
        problems.append(Problem(eq.check, "error", eq.table, f"does not balance: {eq.description}: "
                                f"parts sum to {parts}, printed {total}", eq.key1, eq.key2,
                                expected=str(parts), actual=str(total), page=page))
    return problems


def check_non_negative(cells: list[CellValue]) -> list[Problem]:
    """Return a Problem for every negative count of table 1 (the 2019 ``change`` may be negative)."""
    return [Problem("proactive_non_negative", "error", c.table, f"negative value {c.raw} in {c.key1}/{c.key2}",
                    c.key1, c.key2, expected=">= 0", actual=str(c.value), page=c.origin.page)
            for c in cells if c.table == "proactive_disclosure" and c.kind == "number" and c.value is not None
            and c.value < 0 and c.key2 != "change"]


def _solve(eq: Equation, unknown: Key, cells: dict[Key, CellValue]) -> Decimal | None:
    """Given an equation containing ``unknown`` once, return the value that balances it."""
    others_parts = tuple(k for k in eq.parts if k != unknown)
    others_total = tuple(k for k in eq.total if k != unknown)
    p, t = _sum(others_parts, cells), _sum(others_total, cells)
    if p is None or t is None:
        return None
    return t - p if unknown in eq.parts else p - t


def recover_row(table: str, key1: str, row: TableRow, columns: tuple[str, ...], cells: dict[Key, CellValue],
                eqs: list[Equation]) -> list[CellValue] | None:
    """Given a row that lost exactly one value cell in the extract, return its complete cells when the
    identities leave exactly one possible row, else None.

    Every insertion position is tried; for each, the missing value is solved from an equation and all
    equations touching the row must then balance. Only a unique complete row is returned, with the
    recovered cell marked ``derivation="identity"``.
    """
    printed = [c for c in row.value_cells]
    if len(printed) != len(columns) - 1 or any(parse_value(c.text).kind == "text" for c in printed):
        return None
    solutions: set[tuple[Decimal | None, ...]] = set()
    candidates: list[list[CellValue]] = []
    for pos in range(len(columns)):
        trial = dict(cells)
        row_cells: list[CellValue] = []
        others = [col for i, col in enumerate(columns) if i != pos]
        for col, cell in zip(others, printed):
            pv = parse_value(cell.text)
            cv = CellValue(table, key1, col, pv.value, pv.kind, cell.text, cell.origin, pv.unit)
            trial[(table, key1, col)] = cv
            row_cells.append(cv)
        unknown: Key = (table, key1, columns[pos])
        touching = [e for e in eqs if unknown in e.parts or unknown in e.total]
        values = {v for e in touching if (v := _solve(e, unknown, trial)) is not None}
        if len(values) != 1:
            continue
        x = values.pop()
        if x < 0:
            continue
        rec = CellValue(table, key1, columns[pos], x, "number", "", row_cells[0].origin if row_cells else row.value_cells[0].origin,
                        derivation="identity")
        trial[unknown] = rec
        row_keys = {(table, key1, c) for c in columns}
        if evaluate(trial, [e for e in eqs if row_keys & (set(e.parts) | set(e.total))]):
            continue
        full = row_cells[:pos] + [rec] + row_cells[pos:]
        solutions.add(tuple(c.value if c.kind == "number" else None for c in full))
        candidates.append(full)
    if len(solutions) != 1:
        return None
    # Several insertion positions can give the same complete row (e.g. all zeros): publish that row.
    # Where it is ambiguous which printed cell was lost, mark every cell whose printed position is
    # uncertain as recovered so no printed raw text is attached to the wrong column.
    first = candidates[0]
    if len(candidates) == 1:
        return first
    return [replace(c, raw="", derivation="identity") if any(cc[i].raw != c.raw for cc in candidates) else c
            for i, c in enumerate(first)]

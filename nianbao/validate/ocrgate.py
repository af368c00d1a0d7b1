"""The correctness gate for numbers read by OCR: a cell is published only when something independent of
the primary reading confirms it.

OCR misreads digits (3↔8, 1↔7, a lost 0) with full confidence, so neither the engine's score nor a single
reading can vouch for a number. A cell read by OCR is published (``derivation = "ocr"``) only if

(a) **agreement**: the second engine (tesseract, digits only) read the same value (for a blank: neither
    engine read anything; for "/": both read a not-applicable mark); or tesseract read the same on a second
    try at the cleaned crop (``OcrRead.retry``) and no identity containing the cell fails; or
(b) **identities**: the cell is a number and every template identity (勾稽关系, ``nianbao.validate.identities``) containing it can be
    evaluated and balances with it (there is at least one), and no other reading of the cell is a "/" (a "/"
    is one slanted stroke, read as 1 by RapidOCR; a row printed "/" throughout misread so in a part and in
    its total still balances, 1 = 1, so identities cannot tell a not-applicable mark from a number); or
(c) **one-digit fix**: an identity containing it fails, and changing one digit of one of its cells is the
    only single-digit change that makes every identity touching that cell balance, and the second engine
    or a re-read of the crop at another scale read exactly that value (``ocr_digit_confirmed``).

Everything else is withheld with a warning naming the reason: ``ocr_disagreement`` (the engines differ
and no identity settles it), ``ocr_unbalanced`` (an identity containing it fails and no confirmed one-digit
fix exists), ``ocr_not_a_number`` (text where a number belongs), ``ocr_not_read`` (a cell recovered by an
identity rather than read), ``ocr_sign_unverified`` (a non-zero value in the 本年增/减 column, which may be
negative: a minus sign is one short stroke that both engines can miss; such a value passes on to (a) only
when the pixels of its cell tell the sign, ``OcrRead.minus``, and it matches). Rows placed by template order
because their label could not be read are withheld (``ocr_unverified`` per row; their cells take no part in
the identities): exchanged rows keep every identity balanced. A table with a duplicate row, or rows placed
by position without the mapper naming them, is withheld whole. Table 1 has no identities, so its cells are
published by agreement only.

Identity problems are re-evaluated on the published cells only: an identity that fails there was printed
so (both engines agree on every cell), one that involves a withheld cell is not reported as broken.
The gate returns new lists and never changes the cells or problems given to it.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from nianbao.extract.mapping import TableResult
from nianbao.model import Document, OcrRead
from nianbao.normalize import ParsedValue, parse_value
from nianbao.results import CellValue, Problem
from nianbao.validate.identities import Equation, Key, equations, evaluate

__all__ = ["CELL_CODES", "gate_ocr", "in_regions", "read_by_ocr_issue"]

# Warnings that rows were not placed by their printed label: two rows exchanged keep the identities balanced.
_MAPPING_DOUBTS = frozenset({"rows_mapped_by_position", "duplicate_row"})
CELL_CODES = ("ocr_disagreement", "ocr_unbalanced", "ocr_not_a_number", "ocr_not_read", "ocr_sign_unverified")
_SIGNED = frozenset({"change"})  # table 1 (2019): 本年增/减, the one column whose values may be negative
_EQUATION_CHECKS = frozenset({"applications_balance", "applications_handled_total", "applications_row_total",
                              "reviews_litigation_total"})


def read_by_ocr_issue() -> Problem:
    """Return the report-level issue every OCR'd report carries."""
    return Problem("read_by_ocr", "warning", None,
                   "page images were read by OCR (RapidOCR, checked by tesseract). A number is published only "
                   "where both engines agree or the template identities confirm it (derivation=ocr); the "
                   "ocr_* issues list the values withheld: check those against the scan by hand")


def _read_for(cell: CellValue, reads: list[OcrRead]) -> OcrRead | None:
    o = cell.origin
    if o.page is None or o.bbox is None:
        return None
    x0, top, x1, bottom = o.bbox
    for r in reads:
        if r.page == o.page:
            cx, cy = (r.bbox[0] + r.bbox[2]) / 2, (r.bbox[1] + r.bbox[3]) / 2
            if x0 <= cx <= x1 and top <= cy <= bottom:
                return r
    return None


def _same(pv: ParsedValue, text: str | None) -> bool:
    """True if another reading ``text`` gives the same value and kind as ``pv``."""
    if text is None:
        return False
    other = parse_value(text)
    if pv.kind != other.kind:
        return False
    return pv.kind != "number" or pv.value == other.value


def _read_as_mark(read: OcrRead | None) -> bool:
    """True if another reading of the cell (tesseract, its second try, the re-read) is a not-applicable mark."""
    return read is not None and any(t is not None and parse_value(t).kind == "not_applicable"
                                    for t in (read.second, read.retry, read.rescaled))


def _num(c: CellValue | None) -> Decimal | None:
    if c is None:
        return None
    if c.kind == "number":
        return c.value
    return Decimal(0) if c.kind in ("blank", "not_applicable") else None


def _status(eq: Equation, cells: dict[Key, CellValue]) -> bool | None:
    """True / False when the equation balances / fails on ``cells``; None when it cannot be evaluated."""
    if any(k not in cells for k in (*eq.parts, *eq.total)) or all(cells[k].kind == "blank" for k in eq.total):
        return None
    vals = [_num(cells[k]) for k in (*eq.parts, *eq.total)]
    if any(v is None for v in vals):
        return None
    parts = sum((_num(cells[k]) or Decimal(0) for k in eq.parts), Decimal(0))
    total = sum((_num(cells[k]) or Decimal(0) for k in eq.total), Decimal(0))
    return parts == total


def _one_digit_changes(value: Decimal) -> list[Decimal]:
    s = str(value)
    out = []
    for i, ch in enumerate(s):
        if ch.isdigit():
            for d in "0123456789":
                if d != ch and not (i == 0 and d == "0" and len(s) > 1 and s[1] != "."):
                    out.append(Decimal(s[:i] + d + s[i + 1:]))
    return out


def _fixes(eq: Equation, cells: dict[Key, CellValue], eqs: list[Equation]) -> list[tuple[Key, Decimal]]:
    """Every (cell, value) single-digit change in a failing equation after which every evaluable equation
    touching that cell balances."""
    out = []
    for key in (*eq.parts, *eq.total):
        c = cells[key]
        if c.kind != "number" or c.value is None:
            continue
        touching = [e for e in eqs if key in e.parts or key in e.total]
        for v in _one_digit_changes(c.value):
            trial = dict(cells)
            trial[key] = replace(c, value=v)
            if all(_status(e, trial) is not False for e in touching) and _status(eq, trial):
                out.append((key, v))
    return out


def in_regions(cell: CellValue, regions: list[tuple[int, tuple[float, float, float, float]]]) -> bool:
    """True if the cell's centre lies in an area read by OCR."""
    o = cell.origin
    if o.page is None or o.bbox is None:
        return False
    cx, cy = (o.bbox[0] + o.bbox[2]) / 2, (o.bbox[1] + o.bbox[3]) / 2
    return any(p == o.page and b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for p, b in regions)


def gate_ocr(tables: list[TableResult], cells: list[CellValue], problems: list[Problem], doc: Document
             ) -> tuple[list[CellValue], list[Problem]]:
    """Given the validated cells and problems of a report with OCR'd areas (``doc.ocr_regions``) and the
    readings of its cells (``doc.ocr_reads``), return the cells that may be published (cells read by OCR
    get ``derivation="ocr"``; cells of the text layer pass unchanged) and the problems: identity problems
    re-evaluated on the published cells, one warning per withheld cell or table, ``read_by_ocr``."""
    reads = doc.ocr_reads
    text_layer = [c for c in cells if not in_regions(c, doc.ocr_regions)]
    cells = [c for c in cells if in_regions(c, doc.ocr_regions)]
    apps = next((t for t in tables if t.table == "applications"), None)
    eqs = equations(apps.version if apps is not None else None)
    # Rows placed by template order are withheld row by row when the mapper says which they are (the rows
    # placed by their labels are as certain as in any table); otherwise, and on a duplicate row, the table.
    positional = {(t.table, k) for t in tables for k in t.positional}
    doubtful = {p.table for p in problems if p.check in _MAPPING_DOUBTS and any(c.table == p.table for c in cells)
                and not (p.check == "rows_mapped_by_position" and any(t == p.table for t, _ in positional))}
    out_problems = [p for p in problems if p.check not in _EQUATION_CHECKS]
    out_problems.append(read_by_ocr_issue())
    for table in sorted(t for t in doubtful if t is not None):
        n = sum(c.table == table for c in cells)
        out_problems.append(Problem(
            "ocr_unverified", "warning", table,
            f"{n} value(s) of this table were read by OCR and not published: its rows were not all placed by "
            "their printed labels, and exchanged rows would keep every identity balanced. Check them against "
            "the scan by hand", actual=str(n)))
    for table, row in sorted(positional):
        n = sum(c.table == table and c.key1 == row for c in cells)
        if n and table not in doubtful:
            out_problems.append(Problem(
                "ocr_unverified", "warning", table,
                f"{n} value(s) of row {row} were read by OCR and not published: the row's label could not be "
                "read, it was placed by template order. Check them against the scan by hand", row, actual=str(n)))
    # Cells of withheld rows are left out of the identities as well: they vouch for nothing.
    keyed: dict[Key, CellValue] = {(c.table, c.key1, c.key2): c for c in cells
                                   if c.table not in doubtful and (c.table, c.key1) not in positional}
    ok: dict[Key, CellValue] = {}
    why: dict[Key, tuple[str, str]] = {}
    retried: set[Key] = set()  # agreed only on tesseract's second try: no identity containing it may fail
    for key, c in keyed.items():
        read = _read_for(c, reads)
        if c.derivation != "printed":
            why[key] = ("ocr_not_read", "the value was recovered by an identity, not read")
        elif c.kind == "text":
            why[key] = ("ocr_not_a_number", f"text ({c.raw!r}) was read where a number belongs")
        elif c.key2 in _SIGNED and c.kind == "number" and c.value and (read is None or read.minus is None
                                                                        or read.minus != (c.value < 0)):
            seen = "the pixels do not show whether a minus sign is printed" if read is None or read.minus is None \
                else f"the pixels {'show' if read.minus else 'show no'} minus sign"
            why[key] = ("ocr_sign_unverified", f"{c.raw!r} in a column that may be negative: a minus sign is one "
                        f"short stroke that both engines can miss, and {seen}")
        elif read is not None and _same(parse_value(c.raw), read.second):
            ok[key] = replace(c, derivation="ocr")
        elif read is not None and _same(parse_value(c.raw), read.retry):
            ok[key] = replace(c, derivation="ocr")
            retried.add(key)
        else:
            second = "no second reading" if read is None or read.second is None else f"tesseract read {read.second!r}"
            why[key] = ("ocr_disagreement", f"RapidOCR read {c.raw!r}, {second}")
    corrected: dict[Key, CellValue] = {}
    for _ in range(3):  # identities vouch; a confirmed one-digit fix can make more identities evaluable
        work = {**keyed, **corrected}
        changed = False
        for key in [k for k in why if why[k][0] == "ocr_disagreement"]:
            c = work[key]
            touching = [e for e in eqs if key in e.parts or key in e.total]
            states = [_status(e, work) for e in touching]
            if (c.kind == "number" and touching and all(s is True for s in states)
                    and not _read_as_mark(_read_for(c, reads))):
                ok[key] = replace(c, derivation="ocr")
                del why[key]
                changed = True
            elif any(s is False for s in states):
                why[key] = ("ocr_unbalanced", why[key][1] + "; an identity containing it does not balance")
        for eq in eqs:
            if _status(eq, work) is not False:
                continue
            fixes = _fixes(eq, work, eqs)
            if len(fixes) != 1:
                continue
            key, value = fixes[0]
            c = work[key]
            read = _read_for(c, reads)
            confirm = next((t for t in ((read.second, read.rescaled, read.retry) if read else ()) if t is not None
                            and parse_value(t).kind == "number" and parse_value(t).value == value), None)
            if confirm is None or key in ok:
                continue
            fixed = replace(c, value=value, raw=confirm, derivation="ocr")
            corrected[key] = fixed
            ok[key] = fixed
            why.pop(key, None)
            out_problems.append(Problem(
                "ocr_digit_confirmed", "info", c.table,
                f"RapidOCR read {c.raw!r}; the only one-digit change that balances {eq.description} gives "
                f"{value}, and a second reading ({confirm!r}) confirms it", c.key1, c.key2,
                expected=str(value), actual=c.raw, page=c.origin.page))
            changed = True
        if not changed:
            break
    work = {**keyed, **corrected}
    for key in sorted(k for k in retried if k in ok and k not in corrected):
        if any(_status(e, work) is False for e in eqs if key in e.parts or key in e.total):
            del ok[key]
            why[key] = ("ocr_unbalanced", f"RapidOCR read {keyed[key].raw!r}, tesseract the same only on a second "
                        "try; an identity containing it does not balance")
    for key, (code, msg) in why.items():
        c = keyed[key]
        out_problems.append(Problem(code, "warning", c.table, f"not published: {msg}. Check it against the scan",
                                    c.key1, c.key2, actual=c.raw, page=c.origin.page))
    published = [*text_layer, *(ok[k] for k in keyed if k in ok)]
    out_problems.extend(evaluate({(c.table, c.key1, c.key2): c for c in published}, eqs))
    return published, out_problems

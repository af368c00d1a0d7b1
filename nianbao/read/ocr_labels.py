"""Table labels read by OCR matched to the template's, tolerant of the characters OCR confuses.

OCR reads 予 as 子, 已 as 己, 0 as O, 未 as 末…: a row label with one such character no longer equals any
template label, and the mapper (which matches printed labels exactly, after normalisation) would leave the
row out. Here a label cell's text is replaced by a template label when it is within a small edit distance
of exactly one of them, a known confusion costing a fraction of an ordinary substitution. Only text cells
(labels and headers) are touched, never a cell holding a number or "/": numbers get no lower bar.
"""

from __future__ import annotations

import functools
import re

from nianbao.model import Cell, Grid
from nianbao.normalize import is_value_like, normalize_label
from nianbao.template import APPLICANTS, METRICS, OUTCOMES, TABLES

__all__ = ["distance", "snap_label", "snap_labels"]

# Groups of characters OCR engines mistake for one another on Chinese government documents.
_CONFUSABLE = ("予子于", "己已巳", "0O〇o", "1lI丨|", "曰日", "未末", "土士", "人入八", "复夏", "拨拔",
               "侯候", "戊戌戍", "大太犬", "刀力", "处外", "织积", "务各", "请诸", "理埋", "维雏", "决诀")
_GROUP = {ch: i for i, g in enumerate(_CONFUSABLE) for ch in g}
_CONFUSION_COST = 0.25
_NUMBERING = re.compile(r"^\s*(?:[（(]?[一二三四五六七八九十]+[)）、.．]?|\d{1,2}[.．、])")


def _sub(a: str, b: str) -> float:
    if a == b:
        return 0.0
    ga, gb = _GROUP.get(a), _GROUP.get(b)
    return _CONFUSION_COST if ga is not None and ga == gb else 1.0


def _gap(ch: str) -> float:
    """Cost of an extra or missing character: a stray mark (not a CJK character) is cheap."""
    return 1.0 if "\u4e00" <= ch <= "\u9fff" else _CONFUSION_COST


def distance(a: str, b: str) -> float:
    """Edit distance: substitution 1, a known OCR confusion 0.25; inserting or deleting a CJK character 1,
    any other character (a speck read as i, a rule read as 【) 0.25."""
    prev = [0.0]
    for cb in b:
        prev.append(prev[-1] + _gap(cb))
    for ca in a:
        cur = [prev[0] + _gap(ca)]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + _gap(ca), cur[j - 1] + _gap(cb), prev[j - 1] + _sub(ca, cb)))
        prev = cur
    return prev[-1]


@functools.cache
def _targets() -> tuple[str, ...]:
    labels: set[str] = set()
    for t in TABLES.values():
        labels.update(v for r in t.rows for v in r.labels)
        labels.update(v for c in t.columns for v in c.labels)
    for cols in (APPLICANTS, OUTCOMES, tuple(METRICS.values())):
        labels.update(v for c in cols for v in c.labels)
    return tuple(sorted({n for v in labels if len(n := normalize_label(v)) >= 3}))


def snap_label(text: str) -> str:
    """Return the template label ``text`` was most likely printed as (keeping its numbering), or ``text``
    unchanged when it already is one, is too short, or no single label is close enough."""
    norm = normalize_label(text)
    if len(norm) < 3 or norm in _targets():
        return text
    scored = sorted((distance(norm, t), t) for t in _targets() if abs(len(t) - len(norm)) <= max(2, len(t) // 5))
    if not scored:
        return text
    best, target = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 99.0
    if best > max(0.75, 0.12 * len(target)) or runner_up - best < 0.75:
        return text
    m = _NUMBERING.match(text)
    return (m.group(0).strip() if m else "") + target


def snap_labels(grids: list[Grid]) -> None:
    """Snap the text cells of the given grids (read by OCR) to template labels, in place."""
    for g in grids:
        g.cells = [Cell(snap_label(c.text), c.row, c.col, c.rowspan, c.colspan, c.origin)
                   if c.text.strip() and not is_value_like(c.text) else c for c in g.cells]

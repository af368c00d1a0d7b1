"""Scoring published cells against hand-checked gold values, with the rules of ``../shared/tools/score.py``:
strict precision (a number published where the gold is blank counts against it), recall over the gold
cells that hold a number. Used by the golden tests and the benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nianbao.results import CellValue
from nianbao.template import TABLE_KEY_COLUMNS

Key = tuple[str, str | None, str | None]
TABLES = tuple(TABLE_KEY_COLUMNS)


@dataclass
class Score:
    """Cell counts with the rules of ../shared/tools/score.py (strict precision)."""

    gold: int = 0
    correct: int = 0
    wrong: int = 0
    missing: int = 0
    value_where_blank: int = 0
    reports: int = 0
    fully_right: int = 0

    def add(self, o: Score) -> None:
        for k in ("gold", "correct", "wrong", "missing", "value_where_blank", "reports", "fully_right"):
            setattr(self, k, getattr(self, k) + getattr(o, k))

    @property
    def precision(self) -> float:
        return self.correct / max(1, self.correct + self.wrong + self.value_where_blank)

    @property
    def recall(self) -> float:
        return self.correct / max(1, self.gold)

    def as_dict(self) -> dict[str, Any]:
        return {"reports": self.reports, "gold_cells": self.gold, "correct": self.correct, "wrong": self.wrong,
                "missing": self.missing, "value_where_blank": self.value_where_blank,
                # None when nothing was published (precision undefined; score.py would print 0)
                "precision": round(self.precision, 6) if self.correct + self.wrong + self.value_where_blank else None,
                "recall": round(self.recall, 6) if self.gold else None,
                "fully_right": self.fully_right,
                "fully_right_share": round(self.fully_right / self.reports, 6) if self.reports else None}


def score_published(published: dict[Key, float | None], gold: dict[str, Any]) -> tuple[dict[str, Score], list[str]]:
    """Given published numbers by key (None: no number) and a gold file, return a Score per table
    (``reports``/``fully_right`` count the table once) and the mistakes."""
    per: dict[str, Score] = {t: Score() for t in TABLES}
    mistakes = []
    for g in gold["cells"]:
        s = per.setdefault(g["table"], Score())
        key = (g["table"], g["key1"], g["key2"])
        pub = published.get(key)
        if g["value"] is None:
            if pub is not None:
                s.value_where_blank += 1
                mistakes.append(f"{key}: published {pub} where gold is blank")
            continue
        s.gold += 1
        if pub is None:
            s.missing += 1
        elif abs(float(pub) - float(g["value"])) < 1e-6:
            s.correct += 1
        else:
            s.wrong += 1
            mistakes.append(f"{key}: published {pub}, gold {g['value']}")
    for s in per.values():
        s.reports = 1
        s.fully_right = int(s.correct == s.gold and s.wrong == 0 and s.value_where_blank == 0)
    return per, mistakes


def report_score(per: dict[str, Score]) -> Score:
    tot = Score()
    for s in per.values():
        tot.add(s)
    tot.reports = 1
    tot.fully_right = int(all(s.fully_right for s in per.values()))
    return tot


def published_numbers(cells: Iterable[CellValue]) -> dict[Key, float | None]:
    """Given published cells, return the number of each key (None where no number was printed)."""
    return {(c.table, c.key1, c.key2): (float(c.value) if c.kind == "number" and c.value is not None else None)
            for c in cells}


def score_cells(cells: Iterable[CellValue], gold: dict[str, Any]) -> tuple[Score, list[str]]:
    """Given one report's published cells and its gold file, return its total score and the mistakes."""
    per, mistakes = score_published(published_numbers(cells), gold)
    return report_score(per), mistakes

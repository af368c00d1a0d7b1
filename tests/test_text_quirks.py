"""A fixture per quirk (tests/fixtures/text/<quirk>.txt) with its golden expectation
(<quirk>.expect.json, written from the values planted in the fixture), run by one test."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import FIXTURES

from nianbao.pipeline import process_bytes

QUIRKS = sorted((FIXTURES / "text").glob("*.txt"))


def test_quirk_fixtures_exist() -> None:
    assert len(QUIRKS) >= 6


@pytest.mark.parametrize("path", QUIRKS, ids=[p.stem for p in QUIRKS])
def test_quirk(path: Path) -> None:
    expect = json.loads(path.with_suffix(".expect.json").read_text())
    result = process_bytes(path.read_bytes(), str(path))
    assert result.status == expect["status"], [p.message for p in result.problems]
    got = {(c.table, c.key1, c.key2): c for c in result.cells}
    for table, k1, k2, value, kind in expect["cells"]:
        cell = got.get((table, k1, k2))
        assert cell is not None, (k1, k2)
        assert cell.kind == kind, (k1, k2, cell)
        assert cell.value == (None if value is None else Decimal(str(value))), (k1, k2, cell)
    for row in expect.get("absent_rows", []):
        assert not [c for c in result.cells if c.key1 == row]
    if expect["issues"] != "any":
        reported = {(p.check, p.key1, p.key2) for p in result.problems}
        assert reported == {tuple(i) for i in expect["issues"]}

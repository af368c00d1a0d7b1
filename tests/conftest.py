"""Shared test helpers: paths, gold loading and scoring (the rules of ../shared/tools/score.py)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = FIXTURES / "corpus"

# Prefect must never reach the network or the user's own profile from the tests.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="nianbao-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


@dataclass
class Score:
    gold: int = 0
    correct: int = 0
    wrong: int = 0
    missing: int = 0
    value_where_blank: int = 0

    @property
    def precision(self) -> float:
        return self.correct / max(1, self.correct + self.wrong + self.value_where_blank)

    @property
    def recall(self) -> float:
        return self.correct / max(1, self.gold)

    def add(self, other: Score) -> None:
        for k in ("gold", "correct", "wrong", "missing", "value_where_blank"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def load_gold(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def score_cells(cells: list, gold: dict) -> tuple[Score, list[str]]:
    """Given published CellValues and a gold file, return the score (strict: a number where the gold
    is blank counts against precision) and a list of human-readable mistakes."""
    got = {(c.table, c.key1, c.key2): c for c in cells}
    s, mistakes = Score(), []
    for g in gold["cells"]:
        key = (g["table"], g["key1"], g["key2"])
        c = got.get(key)
        published = c.value if c is not None and c.kind == "number" else None
        if g["value"] is None:
            if published is not None:
                s.value_where_blank += 1
                mistakes.append(f"{key}: published {published} where gold is blank")
            continue
        s.gold += 1
        if published is None:
            s.missing += 1
        elif abs(float(published) - float(g["value"])) < 1e-9:
            s.correct += 1
        else:
            s.wrong += 1
            mistakes.append(f"{key}: published {published}, gold {g['value']}")
    return s, mistakes


# Columns that differ between two runs over the same inputs (which batch, which run, how long).
LINEAGE_COLUMNS = ["batch_id", "flow_run_id", "seconds"]


def published_frames(out: Path | str) -> dict:
    """Given an output root (folder or object store URI), return every published dataset without the
    run-dependent columns, rows in a canonical order: equal frames mean the same published data."""
    from nianbao.publish import read_dataset
    from nianbao.schemas import DATASET_NAMES

    frames = {}
    for name in DATASET_NAMES:
        df = read_dataset(out, name)
        df = df.drop([c for c in LINEAGE_COLUMNS if c in df.columns])
        frames[name] = df.sort(df.columns, nulls_last=True)
    return frames


@pytest.fixture(autouse=True)
def _prefect_logging_outlives_capsys(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Prefect sets its logging up again whenever an in-process API app is made; inside a test that uses
    capsys its console handler then keeps that test's stream, and every later test in the worker would
    log into a closed file. After such a test, set it up again on the real stderr."""
    yield
    if "capsys" in request.fixturenames and "prefect" in sys.modules:
        from prefect.logging.configuration import setup_logging

        setup_logging(incremental=False)


@pytest.fixture
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def prefect_server():  # type: ignore[no-untyped-def]
    """One temporary Prefect API server per test worker, shared by every flow test (each start costs 15-100 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield

"""Shared test helpers: paths, gold loading and scoring (scoring itself: ``nianbao.goldscore``)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = FIXTURES / "corpus"

# tools/ is a folder of scripts, not a package: they import each other by module name (a script's own folder is
# on sys.path when it runs), and the tests import them the same way (``import generate_layouts``).
if str(ROOT / "tools") not in sys.path:
    sys.path.append(str(ROOT / "tools"))

# Prefect must never reach the network or the user's own profile from the tests.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="nianbao-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def load_gold(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# Columns that differ between two runs over the same inputs (which batch, which run, how long).
LINEAGE_COLUMNS = ["batch_id", "flow_run_id", "seconds"]


def published_frames(out: Path | str) -> dict:
    """Given an output root (folder or object store URI), return every published dataset without the
    run-dependent columns, rows in a canonical order: equal frames mean the same published data."""
    from nianbao.publish.parquet import read_dataset
    from schemas import DATASET_NAMES

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


# Calls in a test's body that run a Prefect flow (in process or through the `nianbao run` command; the
# executable run as a subprocess is ``[str(NIANBAO), "run", ...]``). A test that runs it some other way is
# marked ``prefect`` by hand.
_RUNS_A_FLOW = ("run_cli(", "_cli([", "annual_batch", "year_batch", "backfill(", 'NIANBAO), "run"')


_SOURCES: dict[object, str] = {}


def _source(function: object) -> str:
    """The function's source, read once per function (a fixture such as tmp_path is used by hundreds of tests)."""
    import inspect

    if function not in _SOURCES:
        try:
            _SOURCES[function] = inspect.getsource(function)  # type: ignore[arg-type]
        except (OSError, TypeError):
            _SOURCES[function] = ""
    return _SOURCES[function]


def _runs_a_flow(item: pytest.Item) -> bool:
    """Whether the test's body, or any fixture it uses (directly or through other fixtures), runs a flow: a
    module-scoped fixture that publishes with the real command makes each of its tests need Prefect."""
    functions = [getattr(item, "function", None)]
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    functions += [d.func for name in getattr(item, "fixturenames", ()) for d in defs.get(name, ())]
    return any(call in _source(f) for f in functions if f is not None for call in _RUNS_A_FLOW)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a Prefect API (the ``prefect_server`` fixture, or a flow or `nianbao run` in
    its body or its fixtures) as ``prefect``, so ``make test-fast`` can leave them out without a list to keep up
    to date."""
    for item in items:
        if "prefect_server" in getattr(item, "fixturenames", ()) or _runs_a_flow(item):
            item.add_marker(pytest.mark.prefect)


@pytest.fixture
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def prefect_server():  # type: ignore[no-untyped-def]
    """The Prefect API for flow tests: the one server scripts/test.sh starts for the whole run (PREFECT_API_URL);
    run under plain pytest, a temporary server per test worker instead (each start costs 15-100 s)."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield

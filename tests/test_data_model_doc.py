"""docs/data-model.md is generated from the code (tools/gen_data_model.py) and must not drift from it."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

from nianbao.bi.crossyear import AGENCY_COLUMNS, CROSSYEAR_CHECKS, CROSSYEAR_EXTRA
from nianbao.template import TABLES
from nianbao.validate.textchecks import TEXT_CHECKS
from schemas import DATASETS

DOC = ROOT / "docs" / "data-model.md"


def test_committed_doc_equals_generated() -> None:
    import gen_data_model  # tools/ (on sys.path through conftest)

    generated = gen_data_model.render()
    assert DOC.read_text(encoding="utf-8") == generated, (
        "docs/data-model.md is out of date: run `python tools/gen_data_model.py` and commit the result")


def test_doc_covers_every_dataset_column_key_and_label() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for name, cols in DATASETS.items():
        assert f"### `{name}`" in doc
        for c in cols:
            assert f"| `{c.name}` |" in doc and c.description in doc
    for name, _, desc in (*CROSSYEAR_EXTRA, *AGENCY_COLUMNS):
        assert f"| `{name}` |" in doc and desc in doc
    for t in TABLES.values():
        for r in t.rows:
            line = next(ln for ln in doc.splitlines() if ln.startswith(f"| `{r.key}` | "))
            assert r.labels[0] in line
        for c in t.columns:
            assert f"| `{c.key}` | {c.labels[0]} |" in doc
    for check in (*CROSSYEAR_CHECKS, *TEXT_CHECKS):
        assert f"`{check}`" in doc


def test_check_mode_of_the_tool() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_data_model.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr

"""Meta-tests: the core stays pure, and the template, schemas and published keys agree."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import CORPUS, ROOT

from nianbao.template import TABLE_KEY_COLUMNS, TABLE_KEYS, TABLES, all_column_keys, all_row_keys
from schemas import DATASETS, pandera_schema


def test_core_never_imports_prefect() -> None:
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "nianbao").rglob("*.py") if p.name != "__init__.py" or p.parent.name != "nianbao")
    code = ("import importlib, sys\n"
            f"mods = {modules!r}\n"
            "for m in mods:\n"
            "    try:\n        importlib.import_module(m)\n"
            "    except ImportError as e:\n        print('IMPORTERROR', m, e)\n"
            "print('PREFECT' if any(k == 'prefect' or k.startswith('prefect.') for k in sys.modules) else 'CLEAN')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert "CLEAN" in out.stdout, out.stdout
    assert "IMPORTERROR" not in out.stdout, out.stdout
    assert len(modules) >= 10


def test_no_core_source_mentions_prefect_imports() -> None:
    offenders = [p for p in (ROOT / "nianbao").rglob("*.py")
                 if any(line.lstrip().startswith(("import prefect", "from prefect")) for line in p.read_text().splitlines())]
    assert offenders == []


def test_schemas_allow_exactly_the_template_keys() -> None:
    for table in TABLE_KEYS:
        k1, k2 = TABLE_KEY_COLUMNS[table]
        cols = {c.name: c for c in DATASETS[table]}
        assert set(cols[k1].isin or ()) == set(all_row_keys(table))
        assert set(cols[k2].isin or ()) == set(all_column_keys(table))
        schema = pandera_schema(table)
        assert k1 in schema.columns and k2 in schema.columns


def test_template_versions_have_the_documented_shapes() -> None:
    # template.md: T1 10 numbers (2021); T2 25 rows (2021) / 23 (2019) x 7; T3 3 x 5.
    assert len(TABLES[("proactive_disclosure", "2021")].cell_keys()) == 10
    assert len(TABLES[("applications", "2021")].rows) == 25
    assert len(TABLES[("applications", "2019")].rows) == 23
    assert len(TABLES[("applications", "2021")].columns) == 7
    assert len(TABLES[("reviews_litigation", "2021")].cell_keys()) == 15


def test_every_gold_key_is_a_template_key() -> None:
    golds = list(CORPUS.glob("*.json"))
    assert golds
    for g in golds:
        data = json.loads(g.read_text())
        for c in data["cells"]:
            assert c["key1"] in all_row_keys(c["table"]), (g.name, c)
            assert c["key2"] in all_column_keys(c["table"]), (g.name, c)


def test_published_column_names_follow_template_md() -> None:
    assert TABLE_KEY_COLUMNS == {"proactive_disclosure": ("category", "metric"), "applications": ("row", "applicant"),
                                 "reviews_litigation": ("proceeding", "outcome")}
    for table in TABLE_KEYS:
        names = [c.name for c in DATASETS[table]]
        for col in ("report_id", "value", "value_kind", "raw", "parser_version", "batch_id", "flow_run_id", "page"):
            assert col in names


def test_every_test_named_in_the_reliability_doc_exists() -> None:
    import re

    doc = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    legend = dict(re.findall(r"`([A-Z])` = `(test_\w+\.py)`", doc))
    assert {"R", "P", "O"} <= set(legend)
    named = re.findall(r"`(?:([A-Z])::|(test_\w+\.py)::)(test_\w+)", doc)
    assert len(named) >= 20
    missing = []
    for letter, module, test in named:
        source = (ROOT / "tests" / (legend[letter] if letter else module)).read_text(encoding="utf-8")
        if not re.search(rf"^def {test}\(", source, re.M):
            missing.append(f"{letter or module}::{test}")
    assert missing == [], f"docs/reliability.md names tests that do not exist: {missing}"

"""The architecture as a tested contract: import-linter's layers (pyproject.toml [tool.importlinter]).

The first test runs the contracts on the real tree; the second proves they can fail, by running them on a
copy of the tree with one upward import planted (a reader importing the publish step), then a cycle inside a
package (the input type importing the folder walk).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_import_contracts_hold() -> None:
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path: Path) -> None:
    for pkg in ("nianbao", "flows", "tasks", "schemas"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _lint(tmp_path).returncode == 0  # the copy alone is clean
    text_reader = tmp_path / "nianbao" / "read" / "text.py"
    clean = text_reader.read_text()
    text_reader.write_text(clean + "\nfrom nianbao.publish import parquet  # planted\n")
    out = _lint(tmp_path)
    assert out.returncode != 0
    assert "nianbao.read.text -> nianbao.publish.parquet" in out.stdout
    # A cycle inside one package breaks the acyclic contract: the input type importing the folder walk.
    text_reader.write_text(clean)
    item = tmp_path / "nianbao" / "ingest" / "item.py"
    item.write_text(item.read_text() + "\nfrom nianbao.ingest import walk  # planted\n")
    out = _lint(tmp_path)
    assert out.returncode != 0
    assert "No cycles are allowed in nianbao.ingest" in out.stdout


def _private_imports(root: Path) -> list[str]:
    """``from pkg.mod import _name`` across modules of the project (dunder names such as __version__ are public)."""
    import ast

    found = []
    for path in sorted(root.glob("*/**/*.py")):
        if path.parts[len(root.parts)] not in ("nianbao", "schemas", "flows", "tasks"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in (
                    "nianbao", "schemas", "flows", "tasks"):
                found += [f"{path.relative_to(root)}: {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.endswith("__")]
    return found


def test_no_private_name_is_imported_across_modules(tmp_path: Path) -> None:
    assert _private_imports(ROOT) == []
    planted = tmp_path / "nianbao" / "read" / "x.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("from nianbao.read.pdf import _private\n")
    assert _private_imports(tmp_path) == ["nianbao/read/x.py: nianbao.read.pdf._private"]


def _readme_map() -> list[list[str]]:
    """The modules and packages named in each row of README's architecture table, as dotted names."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## How it works", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| package"):
            continue
        first = line.split("|")[1]
        names = []
        for token in re.findall(r"`([\w/.]+)`", first):
            path = token if "/" in token else f"nianbao/{token}"
            names.append(path.removesuffix("/").removesuffix(".py").replace("/", "."))
        rows.append(names)
    return rows


def test_the_readme_map_names_the_tree_in_the_order_of_the_layers() -> None:
    rows = _readme_map()
    named = [n for row in rows for n in row]
    tree = {"schemas", "tasks", "flows"}
    tree |= {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "nianbao").glob("**/__init__.py")}
    tree |= {f"nianbao.{p.stem}" for p in (ROOT / "nianbao").glob("*.py") if p.stem != "__init__"}
    tree.discard("nianbao")
    assert sorted(tree - set(named)) == [], "README's map misses packages or modules of the tree"
    assert sorted(set(named) - tree) == [], "README's map names packages or modules that do not exist"
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    order = [layers[::-1].index(n) for n in named if n in layers]
    assert order == sorted(order), "README's map is not in the order of the layers contract (ground first)"

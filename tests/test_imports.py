"""Core modules never import flask or click (STYLE §2): checked on their source with ast."""

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parent.parent / "server"
ADAPTERS = {"cli.py", "__init__.py"}
CORE = sorted(p for p in SERVER.glob("*.py") if p.name not in ADAPTERS)


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_modules_exist():
    assert {p.name for p in CORE} >= {"vocab.py", "loading.py", "reasoning.py", "validation.py", "query.py", "errors.py", "config.py"}


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_core_module_imports_neither_flask_nor_click(path):
    assert not imported_roots(path) & {"flask", "click", "werkzeug"}

"""Core modules never import flask or click (STYLE §2), checked in a fresh interpreter; no wing imports upwards."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "server" / "shiquan"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(_module(p) for p in PACKAGE.rglob("*.py"))
ADAPTERS = {"shiquan.cli"} | {m for m in MODULES if m == "shiquan.web" or m.startswith("shiquan.web.")}
CORE = [m for m in MODULES if m not in ADAPTERS]

# The wings from the bottom up: a module may import its own wing and those below it, never one above.
LAYERS = [
    {"shiquan", "shiquan.errors", "shiquan.config", "shiquan.vocab", "shiquan.terms", "shiquan.formats", "shiquan.labels", "shiquan.progress"},
    {"shiquan.sparql"},
    {"shiquan.graph"},
    {"shiquan.extract", "shiquan.publish"},
    {"shiquan.runtime"},
    {"shiquan.web", "shiquan.cli"},
]


def _layer(module: str) -> int:
    for depth in (2, 1):
        head = ".".join(module.split(".")[:depth])
        for number, names in enumerate(LAYERS):
            if head in names and (depth == 2 or module == "shiquan"):
                return number
    raise AssertionError(f"{module} is in no wing of LAYERS")


def _imports(module: str) -> set[str]:
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.is_file():
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("shiquan"):
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("shiquan")}
    return found


def test_the_wings_exist():
    assert {"shiquan.graph.loading", "shiquan.graph.reasoning", "shiquan.graph.validation", "shiquan.runtime.pool",
            "shiquan.errors", "shiquan.config", "shiquan.vocab"} <= set(MODULES)


@pytest.mark.parametrize("module", CORE)
def test_core_module_loads_neither_flask_nor_click(module):
    code = f"import sys, {module}; print(sorted({{'flask', 'click', 'werkzeug'}} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"importing {module} loads {out.strip()}"


@pytest.mark.parametrize("module", [m for m in MODULES if m != "shiquan"])
def test_module_imports_no_higher_wing(module):
    higher = {imported for imported in _imports(module) if _layer(imported) > _layer(module)}
    assert not higher, f"{module} imports {sorted(higher)} from a higher wing"

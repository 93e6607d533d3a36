"""docs/architecture.md: each protocol is one package, and no protocol imports another protocol's modules."""

from __future__ import annotations

import ast
from pathlib import Path

PROTOCOLS = Path(__file__).resolve().parents[4] / "layers" / "lodge" / "python" / "lodge" / "protocols"


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_every_protocol_is_a_package() -> None:
    modules = sorted(p.name for p in PROTOCOLS.glob("*.py") if p.name != "__init__.py")
    assert modules == []
    packages = sorted(p.name for p in PROTOCOLS.iterdir() if (p / "__init__.py").exists())
    assert packages == ["appsignal", "crashlog", "rollbar", "sentry"]


def test_no_protocol_imports_another() -> None:
    crossings = []
    for package in (p for p in PROTOCOLS.iterdir() if (p / "__init__.py").exists()):
        for module in package.rglob("*.py"):
            for name in _imported(module):
                parts = name.split(".")
                if parts[:2] == ["lodge", "protocols"] and len(parts) > 2 and parts[2] != package.name:
                    crossings.append(f"{module.relative_to(PROTOCOLS)} imports {name}")
    assert crossings == []


def test_no_mapping_reads_times_or_backtrace_lines_itself() -> None:
    """Adapters only map: the time and line parsers and the Ruby coercion run in the normalization
    pass (lodge.normalize), never in a protocol's mapping."""
    parsers = ("lodge.normalize.timestamps", "lodge.normalize.backtraces", "lodge.normalize.ruby")
    mappings = sorted(PROTOCOLS.glob("*/mapping.py"))
    assert [p.parent.name for p in mappings] == ["appsignal", "crashlog", "rollbar", "sentry"]
    reads = [f"{p.relative_to(PROTOCOLS)} imports {n}" for p in mappings for n in _imported(p) if n.startswith(parsers)]
    assert reads == []

"""The import order DESIGN.md and the developers' guide declare, checked on every module of `facility/`.

    core <- audit <- accounts <- cities <- challenges <- proposals <- review <- grants <- disbursements
    ledger needs only core; portfolio reads the rest, and api reads portfolio too; the app (create_app, cli, errors,
    security, demo) wires everything.

A module may import its own package and the packages below it, never above; the import graph
has no cycle; an import inside a function is allowed only where ALLOWED_LOCAL says why.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "facility"

# Rank of each layer: a module may import layers of a lower or equal rank.
LAYERS = {
    "core": 0, "extensions": 0, "queue": 0,
    "audit": 1, "ledger": 1,
    "accounts": 2,
    "cities": 3,
    "challenges": 4,
    "proposals": 5,
    "review": 6,
    "grants": 7,
    "disbursements": 8,
    "portfolio": 9,
    "solutions": 9,  # the solutions library reads grants, challenges, proposals, cities (and portfolio's public grant)
    "api": 10,  # the API serves the portfolio's figures too (results, public ledger, open data)
    "app": 11,  # facility/__init__.py, cli.py, demo.py, seed_scale*.py, errors.py, security.py
}
# Layers that may import fewer than their rank allows.
RESTRICTED = {"ledger": {"core", "extensions", "ledger"}}

# Imports inside functions, each with its reason. Keep this short.
ALLOWED_LOCAL = {
    # The app factory imports its parts when it is called, so that importing any one module
    # (a migration, a test helper) does not build the whole application.
    "facility/__init__.py": "app factory",
    # Commands import what they run when they run: `flask --help` stays fast and needs no Redis.
    "facility/cli.py": "commands",
}


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "facility":
        raise ValueError(module)
    if len(parts) == 1 or parts[1] in {"cli", "demo", "seed_scale", "seed_scale_money", "seed_scale_rows", "errors",
                                       "security"}:
        return "app"
    return parts[1]


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported facility module, line, inside a function) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names
                             if alias.name.split(".")[0] == "facility")
            elif (isinstance(child, ast.ImportFrom) and child.module and child.level == 0
                  and child.module.split(".")[0] == "facility"):
                if child.module == "facility":  # from facility import errors -> facility.errors
                    found.extend((f"facility.{alias.name}" if _is_module(alias.name) else "facility",
                                  child.lineno, in_function) for alias in child.names)
                else:
                    found.append((child.module, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def _is_module(name: str) -> bool:
    return (ROOT / f"{name}.py").exists() or (ROOT / name).is_dir()


def _graph() -> dict[str, list[tuple[str, int, bool]]]:
    return {_module_name(path): _imports(path) for path in sorted(ROOT.rglob("*.py"))}


def _relpath(module: str) -> str:
    path = ROOT.parent / Path(*module.split("."))
    return str((path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).relative_to(ROOT.parent))


def test_no_import_against_the_order():
    wrong = []
    for module, imports in _graph().items():
        layer = _layer(module)
        for imported, line, _local in imports:
            target = _layer(imported)
            allowed = RESTRICTED.get(layer)
            if (allowed is not None and target not in allowed) or LAYERS[target] > LAYERS[layer]:
                wrong.append(f"{_relpath(module)}:{line} imports {imported} ({layer} may not use {target})")
    assert not wrong, "\n".join(wrong)


def test_no_function_local_import_outside_the_allow_list():
    local = [f"{_relpath(module)}:{line} imports {imported} inside a function"
             for module, imports in _graph().items() if _relpath(module) not in ALLOWED_LOCAL
             for imported, line, inside in imports if inside]
    assert not local, "\n".join(local)


def test_no_import_cycle():
    graph = _graph()
    modules = set(graph)

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges = {module: {target for imported, _line, local in imports if not local
                      if (target := resolve(imported)) and target != module
                      # importing a submodule runs its package's __init__ first, not the other way round
                      and not module.startswith(target + ".")}
             for module, imports in graph.items()}
    cycles, state = [], {}

    def walk(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [node, target]) if target in stack
                              else f"{node} -> {target}")
            elif target not in state:
                walk(target, stack + [node])
        state[node] = "done"

    for module in sorted(edges):
        if module not in state:
            walk(module, [])
    assert not cycles, "\n".join(cycles)


@pytest.mark.parametrize("module", ["facility.ledger.services", "facility.core.policy", "facility.core.states"])
def test_the_check_sees_imports(module):
    """The parser finds what these modules import (the rules above would pass vacuously otherwise)."""
    assert _graph()[module], f"{module} imports nothing from facility?"

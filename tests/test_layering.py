"""The import graph holds to the table in README's architecture section."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# skserve/cli imports what a command runs inside the command (see the README).
LAZY_BY_POLICY = "skserve/cli/"


@dataclass(frozen=True)
class Edge:
    """One import of a first-party package from a file of another."""

    path: str
    line: int
    target: str
    in_function: bool
    commented: bool


def _names(cell: str) -> set[str]:
    return set(re.findall(r"`([a-z_]+)/`", cell))


def _table_after(heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first Markdown table whose header starts `heading`."""
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def allowed_imports() -> dict[str, set[str] | None]:
    """package -> the packages it may import (None: every package), from the README."""
    table = {}
    for package, _, may_import in _table_after("| package | owns | may import |"):
        (name,) = _names(package)
        table[name] = None if may_import == "every package" else _names(may_import)
    return table


def deliberate_edges() -> set[tuple[str, str]]:
    """(file, package) edges the README lists on purpose, with their reason."""
    edges = set()
    for path, target, why in _table_after("| file | imports | why |"):
        assert why, f"the deliberate edge {path} -> {target} needs its reason in the README"
        edges |= {(path.strip("`"), name) for name in _names(target)}
    return edges


def _edges(source: str, rel: str, packages: set[str]) -> list[Edge]:
    lines = source.splitlines()
    tree = ast.parse(source)
    in_function = {
        id(node)
        for scope in ast.walk(tree)
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(scope)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
        commented = "#" in lines[node.lineno - 1] or above.startswith("#")
        for module in modules:
            target = module.split(".")[0]
            if target in packages:
                found.append(Edge(rel, node.lineno, target, id(node) in in_function, commented))
    return found


def import_graph(packages: set[str]) -> list[Edge]:
    """Every first-party import in the packages' files, to another package."""
    edges = []
    for package in sorted(packages):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            found = _edges(path.read_text(), rel, packages)
            edges += [edge for edge in found if edge.target != package]
    return edges


def test_the_readme_table_names_every_package_and_has_no_cycle():
    table = allowed_imports()
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert set(table) == on_disk
    for package, allowed in table.items():
        seen, todo = set(), list(allowed or [])
        while todo:
            name = todo.pop()
            assert name != package, f"{package}/ can reach itself through the README table"
            if name not in seen:
                seen.add(name)
                todo += table[name] or []


def test_no_package_imports_one_it_may_not():
    table, deliberate = allowed_imports(), deliberate_edges()
    wrong = [
        f"{edge.path}:{edge.line} imports {edge.target}/"
        for edge in import_graph(set(table))
        if table[edge.path.split("/")[0]] is not None
        and edge.target not in table[edge.path.split("/")[0]]
        and (edge.path, edge.target) not in deliberate
    ]
    assert wrong == [], "edges the README's table does not allow (add a reason or move code)"


def test_every_deliberate_edge_is_still_used():
    used = {(edge.path, edge.target) for edge in import_graph(set(allowed_imports()))}
    assert deliberate_edges() <= used


def test_imports_inside_functions_say_why():
    hidden = [
        f"{edge.path}:{edge.line} imports {edge.target}/ inside a function without a comment"
        for edge in import_graph(set(allowed_imports()))
        if edge.in_function and not edge.commented and not edge.path.startswith(LAZY_BY_POLICY)
    ]
    assert hidden == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from worker.dispatch import Dispatcher\n", [("worker", False, False)]),
        ("import db.jobs, trainer\n", [("db", False, False), ("trainer", False, False)]),
        ("def f():\n    from worker import main\n", [("worker", True, False)]),
        ("def f():\n    # lazy: heavy\n    import worker\n", [("worker", True, True)]),
        ("from . import sibling\nimport numpy\n", []),
    ],
)
def test_the_graph_reader_sees_every_kind_of_import(source, expected):
    edges = _edges(source, "api/probe.py", {"api", "db", "trainer", "worker"})
    assert [(e.target, e.in_function, e.commented) for e in edges] == expected

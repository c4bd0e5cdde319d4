"""The folders are the layers: imports run one way (cli -> ops -> targets | postgres -> api -> the top-level pure
modules), nothing imports the package root, and no module-level imports form a cycle (testing/ included).

Read from the source with ``ast`` (no import runs): every import counts for the layering, function-level ones
too, and only what runs at import time (not ``if TYPE_CHECKING:`` blocks, not function bodies) for cycles.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import do_pgpool

PACKAGE = Path(do_pgpool.__file__).parent
ROOT = "do_pgpool"
#: folder -> rank; a module may import only lower ranks, or its own folder. Top-level modules are rank 0.
RANKS = {"api": 1, "targets": 2, "postgres": 2, "ops": 3, "testing": 3.5, "cli": 4}
#: the entry points may import any layer: ``python -m`` and the console script (top level, not in cli/, because it
#: installs its Ctrl-C handler before click loads; cli/ may import its ``settle()`` like any top-level module)
ENTRY_POINTS = {f"{ROOT}.__main__", f"{ROOT}._console"}


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    line: int
    at_import_time: bool  # module level and outside ``if TYPE_CHECKING:``


def module_name(path: Path, package: Path) -> str:
    parts = [package.name, *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement, and whether it runs when the module is imported."""

    def walk(nodes: list[ast.AST], runs: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield node, runs
            elif isinstance(node, ast.If) and is_type_checking(node.test):
                yield from walk(list(node.body), False)
                yield from walk(list(node.orelse), runs)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from walk(list(node.body), False)
            else:  # class bodies, if/try/with/for blocks and except handlers run with their module
                for field in ("body", "orelse", "finalbody", "handlers"):
                    children = getattr(node, field, None)
                    if isinstance(children, list):
                        yield from walk(children, runs)

    yield from walk(list(tree.body), True)


def edges(package: Path) -> list[Edge]:
    modules = {module_name(p, package) for p in package.rglob("*.py")}
    found: list[Edge] = []
    for path in sorted(package.rglob("*.py")):
        name = module_name(path, package)
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node, runs in imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif node.level == 0:
                targets = [node.module or ""]
            else:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                targets = [".".join([*base, node.module] if node.module else base)]
            resolved: list[str] = []
            for target in targets:
                if not (target == package.name or target.startswith(package.name + ".")):
                    continue
                if isinstance(node, ast.ImportFrom):
                    subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
                    if subs:  # ``from . import _log``: the submodule, not the package
                        resolved += subs
                        if len(subs) == len(node.names):
                            continue
                resolved.append(target)
            found += [Edge(name, target, node.lineno, runs) for target in resolved]
    return found


def folder(module: str) -> str:
    """The layer folder a module lives in ("" for the top-level modules)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANKS else ""


def rank(module: str) -> float:
    return RANKS.get(folder(module), 0)


def layer_violations(found: list[Edge], root: str = ROOT) -> list[str]:
    """One line per import that breaks the layering, naming the module, the line and the rule."""
    bad = []
    for edge in found:
        where = f"{edge.importer}:{edge.line} imports {edge.imported}"
        if edge.importer == root:
            continue  # the public surface re-exports every layer, lazily
        if edge.imported == root:
            bad.append(f"{where}: nothing imports the package root (import from the module that owns the name)")
        elif edge.importer in ENTRY_POINTS:
            continue
        elif folder(edge.importer) != folder(edge.imported) and rank(edge.imported) >= rank(edge.importer):
            bad.append(f"{where}: imports run one way, toward the top-level pure modules")
    return bad


def cycles(found: list[Edge]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for edge in found:
        if edge.at_import_time and edge.importer != edge.imported:
            graph.setdefault(edge.importer, set()).add(edge.imported)
    seen: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if seen.get(nxt) == 1:
                out.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node)
    return out


def test_imports_run_one_way_and_never_to_the_package_root() -> None:
    assert layer_violations(edges(PACKAGE)) == []


def test_no_module_level_import_cycles() -> None:
    assert cycles(edges(PACKAGE)) == []


def test_the_checks_catch_a_violation(tmp_path: Path) -> None:
    """A synthetic package breaking each rule once: the checks above would see each."""
    pkg = tmp_path / ROOT
    for folder_name in ("api", "ops"):
        (pkg / folder_name).mkdir(parents=True)
        (pkg / folder_name / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from .ops._run import run\n")
    (pkg / "_pure.py").write_text("from .api._client import Client\n")  # upward: 0 -> 1
    (pkg / "api" / "_client.py").write_text("def f():\n    from .. import run\n")  # the root, in a function
    (pkg / "ops" / "_run.py").write_text("from ._step import step\nfrom .._pure import x\n")
    (pkg / "_console.py").write_text("def run():\n    from .ops._run import run\n")  # an entry point: allowed
    type_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..cli import x\n"
    (pkg / "ops" / "_step.py").write_text("from ._run import run\n" + type_only)
    found = edges(pkg)
    bad = layer_violations(found)
    assert len(bad) == 3, bad
    assert "do_pgpool._pure:1 imports do_pgpool.api._client: imports run one way" in bad[0]
    assert "do_pgpool.api._client:2 imports do_pgpool: nothing imports the package root" in bad[1]
    assert "do_pgpool.ops._step:4 imports do_pgpool.cli: imports run one way" in bad[2]  # type-only ones count
    assert cycles(found) == [["do_pgpool.ops._run", "do_pgpool.ops._step", "do_pgpool.ops._run"]]


@pytest.mark.parametrize("module", sorted(RANKS))
def test_every_layer_folder_says_what_it_owns_and_may_import(module: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / module / "__init__.py").read_text()))
    assert doc and "may import" in doc.lower(), module

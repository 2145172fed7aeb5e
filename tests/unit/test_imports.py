"""The packages depend on each other in one direction only (issue 12, "No package cycles"; DESIGN: Layout).

Every module's imports are read with `ast` — at the top of the module and inside functions alike (a lazy
import is a dependency all the same) — and mapped to the package node they belong to. The graph must use
only the edges of ALLOWED, which has no cycle; the core `dialer` imports nothing above itself.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from dialer.settings import REPO_ROOT

TOP_PACKAGES = ("dialer", "rules", "ari_app", "web", "agi")
SUB_PACKAGES = ("dialer.services", "dialer.crm", "dialer.asterisk", "dialer.dev")
# Modules whose node is not the package they sit in: the processes and the command line that compose the rest.
RUN = "dialer.run"  # the processes composed: engine, web, agi, jobs
CLI = "dialer.cli"  # the command line: every command of `dialer`
DEVELOPMENT = "dialer.dev"  # demo, test helpers, the fake CRM, the Asterisk sandbox and its instances, `dialer-dev`
PLACED = {
    "dialer.run": RUN, "dialer.jobs": RUN,
    "dialer.cli": CLI, "dialer.cli_control": CLI, "dialer.asterisk.cli": CLI,
}
CORE = "dialer"
PRODUCTION = {CORE, "rules", "dialer.crm", "dialer.services", "dialer.asterisk", "ari_app", "agi", "web", RUN}
# node → the nodes it may import. Production never imports development: DEVELOPMENT is in no set but its own
# (it may import all of production, the CLI included: `dialer-dev` passes other commands to `dialer`).
ALLOWED: dict[str, set[str]] = {
    CORE: set(),  # settings, errors, models, db, validation, phones, tables, workers, commands, ...
    "rules": {CORE},
    "dialer.crm": {CORE, "rules"},
    "dialer.services": {CORE, "rules", "dialer.crm"},
    "dialer.asterisk": {CORE},
    "ari_app": {CORE, "rules"},
    "agi": {CORE},
    "web": {CORE, "rules", "dialer.services", "dialer.crm"},
    RUN: {CORE, "rules", "dialer.services", "dialer.crm", "dialer.asterisk", "ari_app", "agi", "web"},
    CLI: set(PRODUCTION),
    DEVELOPMENT: PRODUCTION | {CLI},
}


def modules() -> dict[str, Path]:
    found = {}
    for top in TOP_PACKAGES:
        for path in sorted((REPO_ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def node(module: str) -> str:
    if module in PLACED:
        return PLACED[module]
    for sub in SUB_PACKAGES:
        if module == sub or module.startswith(sub + "."):
            return sub
    return module.split(".")[0]


def imported(module: str, source: str, known, is_package: bool = False) -> set[tuple[str, int]]:
    """(module of this repository it imports, line) for every import statement anywhere in `source`."""
    package = module if is_package else module.rpartition(".")[0]
    out = set()
    for stmt in ast.walk(ast.parse(source)):
        if isinstance(stmt, ast.Import):
            names = [a.name for a in stmt.names]
        elif isinstance(stmt, ast.ImportFrom):
            if stmt.level:
                base = package.split(".")[:len(package.split(".")) - stmt.level + 1]
                base_name = ".".join(base + ([stmt.module] if stmt.module else []))
            else:
                base_name = stmt.module
            # `from pkg import name`: the module pkg.name when there is one, else pkg itself
            names = [f"{base_name}.{a.name}" if f"{base_name}.{a.name}" in known else base_name for a in stmt.names]
        else:
            continue
        for name in names:
            while name and name not in known:  # `import a.b.c` of an attribute: the longest module prefix
                name = name.rpartition(".")[0]
            if name:
                out.add((name, stmt.lineno))
    return out


def imports_of(module: str, known: dict[str, Path]) -> set[tuple[str, int]]:
    path = known[module]
    return imported(module, path.read_text(), known, path.name == "__init__.py")


def graph() -> dict[tuple[str, str], list[str]]:
    """(from node, to node) → where: "module:line imports module" for each import that crosses nodes."""
    known = modules()
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, path in known.items():
        for target, line in imports_of(module, known):
            if node(module) != node(target):
                edges[(node(module), node(target))].append(f"{module}:{line} imports {target}")
    return edges


def cycle(edges) -> list[str] | None:
    """A cycle of the directed graph, or None."""
    succ = defaultdict(set)
    for a, b in edges:
        succ[a].add(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(n):
        state[n] = 1
        path.append(n)
        for m in sorted(succ[n]):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        path.pop()
        state[n] = 2
        return None

    for n in sorted(succ):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_the_allowed_edges_have_no_cycle():
    assert cycle([(a, b) for a, targets in ALLOWED.items() for b in targets]) is None


def test_the_packages_import_each_other_only_along_the_allowed_edges():
    edges = graph()
    assert set(a for a, _ in edges) | set(b for _, b in edges) <= set(ALLOWED), "a package without a rule"
    wrong = {f"{a} → {b}": where for (a, b), where in edges.items() if b not in ALLOWED[a]}
    assert not wrong, wrong
    assert cycle(edges) is None


def test_the_core_imports_nothing_above_itself():
    """Not ari_app, web, agi, rules, dialer.services, dialer.crm — nor the processes or development code."""
    known = modules()
    offending = [f"{module}:{line} imports {target}" for module in known if node(module) == CORE
                 for target, line in imports_of(module, known) if node(target) != CORE]
    assert not offending, offending


def test_imports_inside_functions_and_relative_ones_are_read():
    """A lazy import is an edge like any other (rules.dnc once imported the services inside a function)."""
    known = modules()
    source = ("import dialer.settings\n"
              "def f():\n"
              "    from dialer.services.lead_csv import normalise_phone\n"
              "    from ..web import app\n"
              "    from . import model\n")
    assert imported("rules.dnc", source, known) == {("dialer.settings", 1), ("dialer.services.lead_csv", 3),
                                                    ("web.app", 4), ("rules.model", 5)}
    assert {(node("rules.dnc"), node(t)) for t, _ in imported("rules.dnc", source, known)} >= {("rules", "dialer.services")}


def test_production_never_imports_the_development_package():
    """Demo, test helpers, the fake CRM and the Asterisk sandbox stay out of an installation's code paths."""
    edges = graph()
    into_dev = {f"{a} → {b}": where for (a, b), where in edges.items() if b == DEVELOPMENT}
    assert not into_dev, into_dev
    assert all(DEVELOPMENT not in targets for n, targets in ALLOWED.items() if n != DEVELOPMENT)

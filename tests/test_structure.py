"""The package's import structure, read from its source: no import cycle.

Every ``import`` and ``from ... import`` of a module of :mod:`dnnsplit` is an arrow from the
importing module to the imported one, wherever the statement stands: at the top, inside a
function (a late import runs as surely as an early one, only later), or under ``if
TYPE_CHECKING:``. The last kind is kept apart: it is never run, so it can close no cycle
of imports; the others must form no cycle. ``from package import name`` is an arrow to
``package.name`` when that is a module, else to the package itself; an import of ``a.b.c``
is an arrow to ``a.b`` too (its ``__init__`` runs first) unless that is the importer's own
package; ``importlib.import_module("a.b")`` with a literal name is an import of ``a.b``.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import dnnsplit

PACKAGE = Path(dnnsplit.__file__).parent


def module_name(path: Path) -> str:
    """``dnnsplit/solvers/optimal.py`` -> ``dnnsplit.solvers.optimal``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` tests ``TYPE_CHECKING`` (or ``typing.TYPE_CHECKING``)."""
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"


def is_import_module(node: ast.AST) -> bool:
    """Whether ``node`` is ``importlib.import_module("literal", ...)`` (or the bare name)."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    first = node.args[0]
    return name == "import_module" and isinstance(first, ast.Constant) and isinstance(
        first.value, str
    )


def with_parents(module: str, targets: list[str]) -> list[str]:
    """``targets`` and the packages an import of each runs first (``a.b`` for ``a.b.c``),
    but not ``module``'s own (already running when it imports)."""
    own = {module.rsplit(".", k)[0] for k in range(module.count(".") + 1)}
    out = []
    for target in targets:
        parts = target.split(".")
        out += [".".join(parts[:k]) for k in range(1, len(parts)) if ".".join(parts[:k]) not in own]
        out.append(target)
    return out


def imported(module: str, package: bool, node: ast.Import | ast.ImportFrom | ast.Call) -> list[str]:
    """The package's modules that ``node`` imports, in ``module`` (itself a ``package``:
    an ``__init__.py``), with the packages the import runs on the way."""
    if isinstance(node, ast.Call):  # importlib.import_module("dnnsplit.x")
        targets = [node.args[0].value]  # type: ignore[attr-defined]
    elif isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # a relative import: from the module's package upwards
            here = module if package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                here = here.rpartition(".")[0]
            base = f"{here}.{base}" if base else here
        targets = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
            for alias in node.names
        ]
    return [target for target in with_parents(module, targets) if target in MODULES]


def module_arrows(module: str, source: str, package: bool = False) -> tuple[set[str], set[str]]:
    """The modules that ``source`` (the text of ``module``) imports when run, wherever the
    statement stands, and those it imports under ``if TYPE_CHECKING:`` only."""
    run: set[str] = set()
    typing: set[str] = set()

    def visit(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, typing_only)
            return
        if isinstance(node, ast.Import | ast.ImportFrom) or is_import_module(node):
            (typing if typing_only else run).update(imported(module, package, node))
        for child in ast.iter_child_nodes(node):
            visit(child, typing_only)

    visit(ast.parse(source), False)
    return run, typing


def arrows() -> dict[str, set[str]]:
    """Per module of the package, the modules it imports when run."""
    return {
        module: module_arrows(module, path.read_text(encoding="utf-8"), path.name == "__init__.py")[
            0
        ]
        for module, path in MODULES.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing
    itself), each sorted, by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def path_within(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest cycle through the first module of ``component`` (breadth first)."""
    start, members = component[0], set(component)
    parent: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        for target in sorted(graph[here] & members):
            if target == start:
                trail = [here]
                while (before := parent[trail[-1]]) is not None:
                    trail.append(before)
                return [*reversed(trail), start]
            if target not in parent:
                parent[target] = here
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")  # a component always closes one


HAND_MADE = """
import dnnsplit.errors
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from dnnsplit.scenario import Scenario
else:
    from dnnsplit import setup
def late():
    from dnnsplit import model
from . import chains
from .solvers import optimal
import numpy
class Holder:
    import dnnsplit.online.api as api
    def load(self):
        return importlib.import_module("dnnsplit.profiles")
"""


def test_the_reader_sees_every_kind_of_import():
    """Hand-made source: a top import, a late one, relative ones, a type-only one, one in
    a class, ``import a.b as c`` and ``importlib.import_module`` of a literal."""
    run, typing = module_arrows("dnnsplit.example", HAND_MADE)
    assert run == {
        "dnnsplit.errors",
        "dnnsplit.setup",
        "dnnsplit.model",
        "dnnsplit.chains",
        "dnnsplit.solvers",  # run by the import of its module
        "dnnsplit.solvers.optimal",
        "dnnsplit.online",
        "dnnsplit.online.api",
        "dnnsplit.profiles",
    }
    assert typing == {"dnnsplit.scenario"}
    assert module_arrows("dnnsplit.solvers", "from . import optimal", package=True)[0] == {
        "dnnsplit.solvers.optimal"
    }
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert path_within(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert cycles({"a": {"a"}}) == [["a"]] and path_within({"a": {"a"}}, ["a"]) == ["a", "a"]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    run = arrows()
    found = [" -> ".join(path_within(run, component)) for component in cycles(run)]
    assert not found, "import cycles (late imports included): " + "; ".join(found)

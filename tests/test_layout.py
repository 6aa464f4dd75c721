"""The house: each step of the data's way is one package on its floor, and imports only go down.

Read from the code's own import statements (lazy ones inside functions included), so a new
module that imports upward or closes a circle fails here, naming the import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from treatygraph.core.config import PROJECT_ROOT

# Lower floors first. A module may import its own room and any lower floor, nothing beside or above.
FLOORS = {
    "treatygraph": 0,  # the package itself: its version only
    "treatygraph.core": 0,
    "treatygraph.rdf": 1,
    "treatygraph.sparql": 1,
    "treatygraph.curation": 2,
    "treatygraph.validation": 2,
    "treatygraph.store": 2,
    "treatygraph.wikidata": 3,
    "treatygraph.publish": 4,
    "server": 5,
    "treatygraph.cli": 6,
    "bench": 7,
}
# `python -m treatygraph` is the command line too.
ENTRY_POINTS = {"treatygraph.__main__": "treatygraph.cli"}
PACKAGES = ("treatygraph", "server", "bench")
LONGEST_MODULE = 700


def module_files() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = module_files()


def room(module: str) -> str:
    """The longest FLOORS key that is the module or a package holding it."""
    module = ENTRY_POINTS.get(module, module)
    candidates = [key for key in FLOORS if module == key or module.startswith(key + ".")]
    return max(candidates, key=len)


def imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, imported project module) for every import in the file, wherever it stands."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.append((node.lineno, name))
    return found


GRAPH = {module: imports(module, path) for module, path in MODULES.items()}


def test_every_module_has_a_room():
    assert all(room(module) for module in MODULES)


def test_imports_only_go_down():
    wrong = []
    for module, edges in GRAPH.items():
        here = room(module)
        for line, target in edges:
            there = room(target)
            if there != here and FLOORS[there] >= FLOORS[here]:
                wrong.append(f"{MODULES[module]}:{line}: {here} imports {target} ({there})")
    assert not wrong, "imports sideways or up:\n" + "\n".join(wrong)


def test_no_import_circles():
    """Tarjan's strongly connected components over the module graph: each must be one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for _, target in GRAPH[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    assert not circles, f"import circles: {circles}"


@pytest.mark.parametrize(
    "package",
    sorted(key for key in FLOORS if key.startswith("treatygraph.") and key.count(".") == 1),
)
def test_each_step_says_what_it_takes_and_gives(package):
    path = MODULES[package]
    tree = ast.parse(path.read_text())
    docstring = ast.get_docstring(tree)
    assert docstring and "take" in docstring.lower(), f"{path}: say what this step takes and gives"
    assert len(tree.body) == 1, f"{path}: a package's __init__ holds its docstring only"


def test_no_module_outside_bench_is_too_long():
    files = [path for module, path in MODULES.items() if not module.startswith("bench")]
    files += sorted((PROJECT_ROOT / "tests").rglob("*.py"))
    long = [
        f"{path}: {n} lines"
        for path in files
        if (n := len(path.read_text().splitlines())) > LONGEST_MODULE
    ]
    assert not long, f"split these (at most {LONGEST_MODULE} lines):\n" + "\n".join(long)

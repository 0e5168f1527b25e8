"""The package's shape: one-way imports, no private names across modules, small modules, and
the torch-free parts really torch-free.

The import graph is read from the source (every ``import`` / ``from ... import`` of an
introscope module, at any depth, except those under ``if TYPE_CHECKING:``, which never run).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "introscope"

#: Largest module, in lines (docs/architecture.md).
MAX_MODULE_LINES = 500
#: Largest public Engine class, in lines.
MAX_ENGINE_LINES = 350


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST, package: str) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) for every import that runs."""
    out: list[tuple[str, list[str], int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for a in node.names:
                out.append((a.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                base = ".".join(parent[: len(parent) - node.level + 1] + ([base] if base else []))
            out.append((base, [a.name for a in node.names], node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for target, names, _ in runtime_imports(ast.parse(path.read_text()), package):
            if not target.startswith("introscope"):
                continue
            # "from introscope.core import engine" imports the submodule introscope.core.engine
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in mods]
            for t in subs or ([target] if target in mods else []):
                if t != name:
                    edges[name].add(t)
    return edges


def test_no_import_cycle() -> None:
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(edges[n]):
            if state.get(m) == 1:
                cycle = [*stack[stack.index(m) :], m]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if m not in state:
                dfs(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            dfs(n)


def test_no_private_name_imported_across_modules() -> None:
    bad = []
    for name, path in modules().items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for target, names, line in runtime_imports(ast.parse(path.read_text()), package):
            if target.startswith("introscope") and target != name:
                bad += [
                    f"{name}:{line} imports {target}.{n}"
                    for n in names
                    if n.startswith("_") and not n.startswith("__")
                ]
    assert not bad, "\n".join(bad)


def test_no_importlib_of_introscope_modules() -> None:
    bad = []
    for name, path in modules().items():
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("import_module", "__import__")
                and any(
                    isinstance(a, ast.Constant) and str(a.value).startswith("introscope")
                    for a in node.args
                )
            ):
                bad.append(f"{name}:{node.lineno}")
    assert not bad, bad


def test_modules_are_small() -> None:
    big = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not big, big


def test_engine_class_is_small() -> None:
    tree = ast.parse((SRC / "core" / "engine.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Engine")
    assert cls.end_lineno is not None
    assert cls.end_lineno - cls.lineno + 1 <= MAX_ENGINE_LINES


def test_core_imports_neither_pandas_nor_duckdb_nor_the_experiments() -> None:
    for name, path in modules().items():
        if not name.startswith("introscope.core"):
            continue
        for target, _names, line in runtime_imports(ast.parse(path.read_text()), name):
            top = target.split(".")[0]
            assert top not in ("pandas", "duckdb"), f"{name}:{line} imports {target}"
            assert not target.startswith(
                ("introscope.experiments", "introscope.report", "introscope.tables")
            ), f"{name}:{line} imports {target}"


@pytest.mark.parametrize(
    "module",
    [
        "introscope",
        "introscope.words",
        "introscope.items",
        "introscope.experiments",
        "introscope.spec",
        "introscope.battery",
        "introscope.tables",
        "introscope.stats",
        "introscope.report.document",
        "introscope.report.terminal",
    ],
)
def test_torch_free_parts_do_not_import_torch(module: str) -> None:
    code = f"import sys, {module}; sys.exit(1 if 'torch' in sys.modules else 0)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"importing {module} imports torch\n{done.stderr[-2000:]}"

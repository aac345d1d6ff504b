"""The code's shape, checked: no import cycle, few lazy imports, units a person can read.

import-linter (run by ``make test``) checks that imports point down the layers; this file
checks what it cannot: cycles that hide in function-level imports, the budget of those
imports, and the size limits of docs/architecture.md.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "gui")
MAX_FILE, MAX_CLASS, MAX_FUNCTION = 600, 450, 110
MAX_LAZY_IMPORTS = 8


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@dataclass
class _Module:
    name: str
    path: Path
    tree: ast.Module
    lines: list[str]
    imports: list[tuple[str, int, bool]] = field(default_factory=list)  # target, line, lazy


def _modules() -> dict[str, _Module]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            found[_module_name(path)] = _Module(_module_name(path), path, ast.parse(text),
                                                text.splitlines())
    for mod in found.values():
        _collect_imports(mod, found)
    return found


def _targets(mod: _Module, node: ast.Import | ast.ImportFrom, known: dict) -> list[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            pkg = mod.name.split(".")
            if mod.path.name != "__init__.py":
                pkg = pkg[:-1]
            pkg = pkg[:len(pkg) - node.level + 1]
            base = ".".join([*pkg, base] if base else pkg)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                 for a in node.names]
    out = []
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            out.append(name)
    return out


def _collect_imports(mod: _Module, known: dict) -> None:
    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # annotations only: never executed
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                mod.imports += [(t, child.lineno, lazy) for t in _targets(mod, child, known)]
            visit(child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(mod.tree, False)


MODULES = _modules()


def _cycles(modules: dict[str, _Module]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph = {m: {t for t, _, _ in mod.imports if t != m} for m, mod in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            strongconnect(v)
    return found


def _is_kernel(fn: ast.FunctionDef) -> bool:
    """Numba kernels are exempt from the function limit (the interpreter is one loop)."""
    return any("jit" in ast.unparse(d) or "kernel" in ast.unparse(d) for d in fn.decorator_list)


def _oversized(modules: dict[str, _Module]) -> list[str]:
    out = []
    for mod in modules.values():
        where = mod.path.relative_to(ROOT)
        if len(mod.lines) > MAX_FILE:
            out.append(f"{where}: {len(mod.lines)} lines (limit {MAX_FILE})")
        for node in ast.walk(mod.tree):
            size = (node.end_lineno or node.lineno) - node.lineno + 1 if hasattr(
                node, "end_lineno") else 0
            if isinstance(node, ast.ClassDef) and size > MAX_CLASS:
                out.append(f"{where}:{node.lineno} class {node.name}: {size} lines "
                           f"(limit {MAX_CLASS})")
            elif (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and size > MAX_FUNCTION and not _is_kernel(node)):
                out.append(f"{where}:{node.lineno} def {node.name}: {size} lines "
                           f"(limit {MAX_FUNCTION})")
    return out


def test_no_import_cycle_counting_function_level_imports() -> None:
    assert _cycles(MODULES) == []


def _reason(line: str) -> str:
    """The words of a line's comment, without the ``noqa`` marker that silences ruff."""
    comment = line.partition("#")[2]
    return re.sub(r"noqa:\s*[A-Z0-9, ]+", "", comment).strip(" -")


def test_function_level_project_imports_are_few_and_explained() -> None:
    lazy = sorted({(mod.path.relative_to(ROOT), line) for mod in MODULES.values()
                   for _, line, is_lazy in mod.imports if is_lazy})
    assert len(lazy) <= MAX_LAZY_IMPORTS, lazy
    for path, line in lazy:
        text = MODULES[_module_name(ROOT / path)].lines
        said = _reason(text[line - 1]) or text[line - 2].strip().startswith("#")
        assert said, f"{path}:{line}: say in a comment why this import waits for the call"


def test_files_classes_and_functions_fit_on_a_few_screens() -> None:
    assert _oversized(MODULES) == []


def test_the_scan_sees_cycles_lazy_imports_and_sizes() -> None:
    """The checks above can fail: a made-up two-module cycle and a long class are found."""
    a = ast.parse("def f():\n    import fake.b\n")
    b = ast.parse("import fake.a\n" + "class Big:\n" + "    x = 1\n" * (MAX_CLASS + 1))
    fake = {name: _Module(name, ROOT / "engine" / f"{name}.py", tree, [])
            for name, tree in (("fake.a", a), ("fake.b", b))}
    for mod in fake.values():
        _collect_imports(mod, fake)
    assert _cycles(fake) == [["fake.a", "fake.b"]]
    assert [lazy for _, _, lazy in fake["fake.a"].imports] == [True]
    assert [s.split(" ", 1)[1] for s in _oversized(fake)] == [
        f"class Big: {MAX_CLASS + 2} lines (limit {MAX_CLASS})"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_is_scanned(package: str) -> None:
    assert any(name.startswith(package) for name in MODULES)

"""Structure numbers for a closing note: import cycles, back-arrows, largest files and functions.

    python scripts/structure.py            # from the repository root, with the dev extras installed

Cycles are strongly connected groups of modules in the import graph (function-level imports count);
back-arrows are the imports `lint-imports` reports against the layers in pyproject.toml.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOTS = ("vibe", "tools", "trainers", "sandbox", "policies")


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def private_imports(path: Path) -> list[str]:
    """`from a.b._c import d` / `from a.b import _d` where a.b is not the importer's own package."""
    parts = list(path.with_suffix("").parts)
    own = ".".join(parts[:-1])  # the package a module (or an __init__) belongs to
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            names = target.split(".")
            private = next((i for i, name in enumerate(names) if name.startswith("_")), None)
            if private is None or names[0] not in ROOTS:
                continue
            owner = ".".join(names[:private])
            if owner != own:
                found.append(f"{path}:{node.lineno} {target}")
    return found


def functions(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    return [
        (node.end_lineno - node.lineno + 1, f"{path}:{node.lineno} {node.name}")
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def main() -> None:
    graph = grimp.build_graph(*ROOTS)
    groups = cycles(graph)
    print(f"import cycles: {len(groups)}")
    for group in groups:
        print("  " + " <-> ".join(group))
    lint = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--contract", "layers"],
        capture_output=True,
        text=True,
    )
    arrows = [
        line.strip() for line in lint.stdout.splitlines() if line.strip().startswith("-") and "->" in line
    ]
    print(f"back-arrows (lint-imports, rc {lint.returncode}): {len(arrows)}")
    private = [
        hit for r in (*ROOTS, "tests") for p in sorted(Path(r).rglob("*.py")) for hit in private_imports(p)
    ]
    print(f"private names imported from another package: {len(private)}")
    files = sorted(
        ((len(p.read_text().splitlines()), str(p)) for r in ROOTS for p in Path(r).rglob("*.py")),
        reverse=True,
    )
    print("largest files (lines):")
    for lines, name in files[:8]:
        print(f"  {lines:5d} {name}")
    funcs = sorted((f for r in ROOTS for p in Path(r).rglob("*.py") for f in functions(p)), reverse=True)
    print("largest functions (lines):")
    for lines, name in funcs[:8]:
        print(f"  {lines:5d} {name}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path.cwd()))
    main()

"""List the import circles of the package: groups of modules that reach each other by imports.

Counts every import grimp sees (module level, inside functions and under TYPE_CHECKING), so a
circle hidden behind a lazy import shows too. Usage: python scripts/import_cycles.py [PACKAGE]
"""

from __future__ import annotations

import sys

import grimp


def circles(package: str) -> list[list[str]]:
    """Strongly connected components of more than one module, largest first (Tarjan)."""
    graph = grimp.build_graph(package, cache_dir=None)
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:
        nonlocal counter
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recursed = False
            for j in range(i, len(edges[node])):
                nxt = edges[node][j]
                if nxt not in index:
                    work.append((node, j + 1))
                    work.append((nxt, 0))
                    recursed = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recursed:
                continue
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
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])

    for module in modules:
        if module not in index:
            visit(module)
    return sorted(found, key=len, reverse=True)


def main() -> int:
    package = sys.argv[1] if len(sys.argv) > 1 else "jupyter_mlops"
    groups = circles(package)
    for group in groups:
        print(f"{len(group)} modules: {', '.join(group)}")
    print(f"{len(groups)} import circle(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

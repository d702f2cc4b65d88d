"""The import graph of the product packages and the layering rules it must keep.

    python tools/layers.py        prints every violation (exit 1 when there is one)

Layers, lowest first: gateway (the kernel) < knowledge_base, speech < triage < bot < channels
< peers < server. A module may import its own layer or a lower one, never a higher one; a channel
never imports another channel; and the graph (TYPE_CHECKING imports included) has no cycle.
Used by tests/gateway/test_layers.py.
"""
from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gateway", "knowledge_base", "speech", "triage", "bot", "channels", "peers", "server")
LAYER = {"gateway": 0, "knowledge_base": 1, "speech": 1, "triage": 2, "bot": 3, "channels": 4, "peers": 5, "server": 6}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports_of(path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """Product modules imported by `path` (at any depth: lazy imports count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name.split(".")[0] in LAYER:
                yield name


def graph() -> dict[str, set[str]]:
    modules = product_modules()
    out: dict[str, set[str]] = {}
    for name, path in modules.items():
        # A package's __init__ is reached when importing a submodule; do not count that edge.
        out[name] = {m for m in imports_of(path, modules) if m != name and not name.startswith(m + ".")}
    return out


def channel_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "channels" and len(parts) > 1 else None


def violations() -> list[str]:
    found: list[str] = []
    edges = graph()
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            s_top, t_top = source.split(".")[0], target.split(".")[0]
            if LAYER[t_top] > LAYER[s_top]:
                found.append(f"upward import: {source} -> {target}")
            s_ch, t_ch = channel_of(source), channel_of(target)
            if s_ch and t_ch and s_ch != t_ch:
                found.append(f"channel imports another channel: {source} -> {target}")
    found += [f"import cycle: {' -> '.join(c)}" for c in cycles(edges)]
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component) + [min(component)])

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


if __name__ == "__main__":
    problems = violations()
    print("\n".join(problems) or "layers: clean")
    sys.exit(1 if problems else 0)

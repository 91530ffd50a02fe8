"""Dependency graphs (rules on rules, ruleset entries): deterministic order, cycles."""

from __future__ import annotations

from collections.abc import Callable, Iterable


class Cycle(Exception):
    """The graph has a cycle; `path` names it, first node repeated at the end."""

    def __init__(self, path: list[str]):
        super().__init__(" -> ".join(path))
        self.path = path


def dependency_order(nodes: Iterable[str], deps: Callable[[str], Iterable[str]]) -> list[str]:
    """Every node after what it depends on; otherwise by name, so the order never depends
    on the order the nodes were given in. Dependencies outside `nodes` are ignored.
    Raises Cycle."""
    names = set(nodes)
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: placed

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise Cycle(path[path.index(name):])  # `path` ends at `name` again
        state[name] = 1
        for dep in sorted(set(deps(name))):
            if dep in names:
                visit(dep, path + [dep])
        state[name] = 2
        order.append(name)

    for name in sorted(names):
        visit(name, [name])
    return order


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle of the graph (as a path), or None."""
    try:
        dependency_order(graph, lambda n: graph.get(n, ()))
    except Cycle as cycle:
        return cycle.path
    return None


def cycle_through(graph: dict[str, list[str]], node: str) -> list[str] | None:
    """A cycle of the graph that passes through `node` (as a path from `node` back to it),
    or None. Breadth first, so the shortest such cycle; deterministic (names sorted)."""
    parent: dict[str, str] = {}
    frontier = [node]
    while frontier:
        nxt: list[str] = []
        for current in frontier:
            for dep in sorted(set(graph.get(current, ()))):
                if dep == node:
                    path = [current]
                    while path[-1] != node:
                        path.append(parent[path[-1]])
                    return [node, *reversed(path[:-1]), node] if current != node \
                        else [node, node]
                if dep not in parent:
                    parent[dep] = current
                    nxt.append(dep)
        frontier = nxt
    return None

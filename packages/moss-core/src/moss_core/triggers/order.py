"""Order triggers by their `before`/`after` relations (pure)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping

from moss_core.triggers.errors import TriggerCycleError
from moss_core.triggers.model import Trigger

Edge = tuple[str, str]  # (runs first, runs later)


def order_triggers(fired: Iterable[str], loaded: Mapping[str, Trigger]) -> list[str]:
    """Return `fired` (names of loaded triggers) in an order that honours `before`/`after`.

    Relations naming a trigger that is not loaded are ignored. Relations are transitive, also
    through loaded triggers that do not fire: `a before b before c` runs `a` before `c` even
    when `b` does not run. A cycle among the triggers that constrain the fired ones raises
    `TriggerCycleError`; cycles elsewhere cannot affect the order and are ignored.

    Where the fired triggers' relations suffice, the order is the one upstream moss produces
    (so with no relations at all it is reverse alphabetical).
    """
    chosen = sorted(set(fired))
    direct = _unique(edge for name in chosen for edge in _relations(loaded[name], loaded))
    others = sorted(set(loaded) - set(chosen))
    every = _unique([*direct, *(e for name in others for e in _relations(loaded[name], loaded))])

    between = _reach(chosen, every) & _reach(chosen, [(b, a) for a, b in every])
    relevant = set(chosen) | between
    edges = _unique([*direct, *(e for e in every if e[0] in relevant and e[1] in relevant)])

    # Node order as upstream builds it: fired triggers by name, then the triggers their own
    # relations name, then (our addition) the ones that only link them transitively.
    nodes = list(chosen)
    for edge in direct:
        nodes.extend(name for name in edge if name not in nodes)
    nodes.extend(sorted(between - set(nodes)))

    successors: dict[str, list[str]] = {name: [] for name in nodes}
    predecessors: dict[str, set[str]] = {name: set() for name in nodes}
    for first, then in edges:
        successors[first].append(then)
        predecessors[then].add(first)

    # Depth-first topological walk, as petgraph's `Topo` used upstream: a stack seeded with the
    # roots in node order, popped from the end, successors pushed newest edge first.
    visited: set[str] = set()
    ordered: list[str] = []
    stack = [name for name in nodes if not predecessors[name]]
    while stack:
        name = stack.pop()
        if name in visited:
            continue
        visited.add(name)
        ordered.append(name)
        for successor in reversed(successors[name]):
            if predecessors[successor] <= visited:
                stack.append(successor)

    if len(ordered) < len(nodes):
        stuck = [name for name in nodes if name not in visited]
        raise TriggerCycleError(_find_cycle(stuck, predecessors))
    wanted = set(chosen)
    return [name for name in ordered if name in wanted]


def _relations(trigger: Trigger, loaded: Collection[str]) -> Iterator[Edge]:
    if trigger.before is not None and trigger.before in loaded:
        yield (trigger.name, trigger.before)
    if trigger.after is not None and trigger.after in loaded:
        yield (trigger.after, trigger.name)


def _unique(edges: Iterable[Edge]) -> list[Edge]:
    return list(dict.fromkeys(edges))


def _reach(start: Iterable[str], edges: list[Edge]) -> set[str]:
    successors: dict[str, list[str]] = {}
    for first, then in edges:
        successors.setdefault(first, []).append(then)
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for then in successors.get(todo.pop(), []):
            if then not in seen:
                seen.add(then)
                todo.append(then)
    return seen


def _find_cycle(stuck: list[str], predecessors: Mapping[str, set[str]]) -> list[str]:
    # Every node the walk could not reach has an unreached predecessor (else it would have been
    # pushed), so walking predecessors from any of them must come back on itself.
    remaining = set(stuck)
    path = [stuck[0]]
    seen = {stuck[0]: 0}
    while True:
        previous = min(predecessors[path[-1]] & remaining)
        if previous in seen:
            return list(reversed(path[seen[previous] :]))
        seen[previous] = len(path)
        path.append(previous)

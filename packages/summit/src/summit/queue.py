"""The build queue (pure): recipes → tasks → dependency graph, readiness, blocking.

Nothing here touches files, SQLite or Dask: the controller recomputes the plan from the state
it holds whenever something changes, so the graph is never stored and cannot go stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from stone import Dependency


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PUBLISHED = "published"
    FAILED = "failed"
    BLOCKED = "blocked"


OPEN = frozenset({Status.PENDING, Status.RUNNING})
CLOSED_BAD = frozenset({Status.FAILED, Status.BLOCKED})


@dataclass(frozen=True, slots=True)
class Task:
    """One recipe to build at its release. `provides` is None when the recipe has no committed
    manifest: what it provides is only learnt once its build is published."""

    name: str
    version: str
    release: int
    path: str
    deps: tuple[str, ...] = ()
    provides: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Edge:
    """`source` needs `via`, which `target` provides."""

    source: str
    target: str
    via: str


@dataclass(frozen=True, slots=True)
class Graph:
    order: tuple[str, ...]
    needs: Mapping[str, tuple[Edge, ...]]
    dropped: tuple[Edge, ...]
    unresolved: Mapping[str, tuple[str, ...]]
    unknown: frozenset[str]
    needed_by: Mapping[str, tuple[str, ...]]

    def dependencies(self, name: str) -> frozenset[str]:
        """Every task `name` transitively needs."""
        seen: set[str] = set()
        stack = [e.target for e in self.needs.get(name, ())]
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(e.target for e in self.needs.get(current, ()))
        return frozenset(seen)

    def dependents(self, name: str) -> frozenset[str]:
        """Every task that transitively needs `name`."""
        seen: set[str] = set()
        stack = list(self.needed_by.get(name, ()))
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.needed_by.get(current, ()))
        return frozenset(seen)


def providers_of(task: Task, learnt: Mapping[str, frozenset[str]]) -> frozenset[str] | None:
    """What a task provides: its manifest's providers, else what its published build showed."""
    if task.provides is not None:
        return task.provides | learnt.get(task.name, frozenset())
    return learnt.get(task.name)


def plan(
    tasks: Sequence[Task],
    learnt: Mapping[str, frozenset[str]],
    published: frozenset[str],
) -> Graph:
    """The graph over `tasks` (in their given order): X needs Y when a build dependency of X is
    a provider of Y. A dependency is resolved by every task providing it; one that only the
    published repository provides makes no edge. Cycles are broken deterministically: X is
    visited in task order, its targets in task order, and an edge whose target already reaches
    X is dropped and reported.
    """
    order = tuple(t.name for t in tasks)
    provided: dict[str, list[str]] = {}
    unknown: set[str] = set()
    for task in tasks:
        found = providers_of(task, learnt)
        if found is None:
            unknown.add(task.name)
            continue
        for provider in found:
            provided.setdefault(provider, []).append(task.name)
    reach: dict[str, set[str]] = {name: set() for name in order}
    needs: dict[str, list[Edge]] = {name: [] for name in order}
    dropped: list[Edge] = []
    unresolved: dict[str, tuple[str, ...]] = {}
    position = {name: i for i, name in enumerate(order)}
    for task in tasks:
        missing: list[str] = []
        candidates: list[Edge] = []
        for dep in task.deps:
            targets = [t for t in provided.get(dep, ()) if t != task.name]
            if not targets and dep not in published and dep not in _own(task, learnt):
                missing.append(dep)
            candidates += (Edge(task.name, t, dep) for t in targets)
        candidates.sort(key=lambda e: (position[e.target], e.via))
        for edge in candidates:
            if task.name in reach[edge.target]:
                dropped.append(edge)
                continue
            known = any(e.target == edge.target for e in needs[task.name])
            needs[task.name].append(edge)
            if known:
                continue
            gained = {edge.target} | reach[edge.target]
            for name in order:
                if name == task.name or task.name in reach[name]:
                    reach[name] |= gained
        if missing:
            unresolved[task.name] = tuple(missing)
    needed_by: dict[str, list[str]] = {}
    for name in order:
        for target in dict.fromkeys(e.target for e in needs[name]):
            needed_by.setdefault(target, []).append(name)
    return Graph(
        order,
        {k: tuple(v) for k, v in needs.items()},
        tuple(dropped),
        unresolved,
        frozenset(unknown),
        {k: tuple(v) for k, v in needed_by.items()},
    )


def _own(task: Task, learnt: Mapping[str, frozenset[str]]) -> frozenset[str]:
    return providers_of(task, learnt) or frozenset()


def unbootstrapped(graph: Graph, published: frozenset[str]) -> dict[str, str]:
    """Tasks that a dropped cycle edge leaves without a way to build: the dependency is provided
    only by a task of the cycle and nothing published provides it."""
    reasons: dict[str, str] = {}
    for edge in graph.dropped:
        if edge.via not in published:
            reasons.setdefault(
                edge.source,
                f"cycle with no bootstrap: {edge.source} needs {edge.via} from {edge.target}, "
                f"which needs {edge.source}; publish an older {edge.target} first",
            )
    return reasons


@dataclass(frozen=True, slots=True)
class Decision:
    start: tuple[str, ...]
    assumed_external: tuple[str, ...] = ()
    stuck: Mapping[str, str] = field(default_factory=dict)


def decide(graph: Graph, statuses: Mapping[str, Status], capacity: int) -> Decision:
    """Which pending tasks start now (at most `capacity`, most dependents first, then task
    order). A task whose dependency has no known provider waits while another recipe whose
    providers are still unknown is open: that build may turn out to provide it. When nothing
    runs and only such waits remain, the first waiting task starts anyway (reported: its
    dependency must then come from outside the set). When nothing runs and nothing can start,
    every pending task is stuck, with the reason naming what it misses."""
    running = [n for n in graph.order if statuses.get(n) is Status.RUNNING]
    pending = [n for n in graph.order if statuses.get(n) is Status.PENDING]
    ready: list[str] = []
    waiting_unknown: list[str] = []
    for name in pending:
        if any(statuses.get(e.target) is not Status.PUBLISHED for e in graph.needs[name]):
            continue
        others = [u for u in graph.unknown if u != name and statuses.get(u) in OPEN]
        if graph.unresolved.get(name) and others:
            waiting_unknown.append(name)
            continue
        ready.append(name)
    assumed: tuple[str, ...] = ()
    if not ready and not running and waiting_unknown:
        ready = [waiting_unknown[0]]
        assumed = (waiting_unknown[0],)
    weight = {n: len(graph.dependents(n)) for n in ready}
    position = {n: i for i, n in enumerate(graph.order)}
    ready.sort(key=lambda n: (-weight[n], position[n]))
    start = tuple(ready[: max(capacity, 0)])
    stuck: dict[str, str] = {}
    if not start and not running:
        for name in pending:
            stuck[name] = "nothing can start: " + _missing(graph, statuses, name)
    return Decision(start, assumed, stuck)


def _missing(graph: Graph, statuses: Mapping[str, Status], name: str) -> str:
    parts = [
        f"{e.via} (from {e.target}, {statuses.get(e.target, Status.PENDING)})"
        for e in graph.needs[name]
        if statuses.get(e.target) is not Status.PUBLISHED
    ]
    parts += [f"{dep} (no provider)" for dep in graph.unresolved.get(name, ())]
    return "needs " + ", ".join(parts) if parts else "no reason known"


def blocked_by_failure(graph: Graph, failed: str, statuses: Mapping[str, Status]) -> list[str]:
    """The open tasks a failure blocks: exactly those that transitively need it."""
    hit = graph.dependents(failed)
    return [n for n in graph.order if n in hit and statuses.get(n) is Status.PENDING]


def blocker(name: str, arch: str) -> str:
    """A blocker names a source, so any later published build of that source clears it."""
    return f"{name}_{arch}"


def normalise(dependencies: Iterable[str]) -> tuple[str, ...]:
    """Dependencies as `kind(name)` text, sorted, duplicates dropped."""
    return tuple(sorted({str(Dependency.parse(d)) for d in dependencies}))

"""The pure queue: edges, cycle breaking, readiness, blocking."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from summit.queue import (
    Status,
    Task,
    blocked_by_failure,
    decide,
    plan,
    unbootstrapped,
)


def _t(name: str, deps: tuple[str, ...] = (), provides: tuple[str, ...] | None = ()) -> Task:
    given_provides = None if provides is None else frozenset((f"name({name})", *provides))
    return Task(name, "1", 1, name, deps, given_provides)


DIAMOND = [
    _t("base", provides=("soname(libbase.so.1(x86_64))",)),
    _t("left", ("soname(libbase.so.1(x86_64))",), ("pkgconfig(left)",)),
    _t("right", ("soname(libbase.so.1(x86_64))",), ("pkgconfig(right)",)),
    _t("top", ("pkgconfig(left)", "pkgconfig(right)")),
    _t("solo"),
]


def test_diamond_edges_and_readiness() -> None:
    graph = plan(DIAMOND, {}, frozenset())
    assert [e.target for e in graph.needs["top"]] == ["left", "right"]
    assert graph.dependencies("top") == {"left", "right", "base"}
    statuses = {t.name: Status.PENDING for t in DIAMOND}
    assert decide(graph, statuses, 5).start == ("base", "solo")
    statuses.update(base=Status.PUBLISHED, solo=Status.PUBLISHED)
    assert decide(graph, statuses, 5).start == ("left", "right")


def test_failure_blocks_only_dependents() -> None:
    graph = plan(DIAMOND, {}, frozenset())
    statuses = {t.name: Status.PENDING for t in DIAMOND}
    statuses["right"] = Status.FAILED
    assert blocked_by_failure(graph, "right", statuses) == ["top"]


def test_cycle_broken_in_task_order_and_bootstrap() -> None:
    tasks = [_t("cyc-a", ("name(cyc-b)",)), _t("cyc-b", ("name(cyc-a)",))]
    graph = plan(tasks, {}, frozenset())
    assert [(e.source, e.target) for e in graph.dropped] == [("cyc-b", "cyc-a")]
    assert "cycle with no bootstrap" in unbootstrapped(graph, frozenset())["cyc-b"]
    assert unbootstrapped(graph, frozenset({"name(cyc-a)"})) == {}
    statuses = {"cyc-a": Status.PENDING, "cyc-b": Status.PENDING}
    assert decide(graph, statuses, 2).start == ("cyc-b",)


def test_unknown_providers_are_waited_for_then_learnt() -> None:
    tasks = [_t("prog", ("pkgconfig(lib)",)), _t("lib", provides=None)]
    graph = plan(tasks, {}, frozenset())
    statuses = {"prog": Status.PENDING, "lib": Status.PENDING}
    assert decide(graph, statuses, 2).start == ("lib",)
    learnt = {"lib": frozenset({"pkgconfig(lib)"})}
    graph = plan(tasks, learnt, frozenset())
    assert [e.target for e in graph.needs["prog"]] == ["lib"]


def test_only_unknown_waits_start_the_first_and_say_so() -> None:
    tasks = [_t("a", ("binary(gcc)",), None), _t("b", ("binary(gcc)",), None)]
    graph = plan(tasks, {}, frozenset())
    decision = decide(graph, {"a": Status.PENDING, "b": Status.PENDING}, 2)
    assert decision.start == ("a",) and decision.assumed_external == ("a",)


def test_nothing_can_start_names_missing_providers() -> None:
    graph = plan(DIAMOND, {}, frozenset())
    statuses = {t.name: Status.PENDING for t in DIAMOND}
    statuses.update(base=Status.FAILED, solo=Status.PUBLISHED)
    decision = decide(graph, statuses, 2)
    assert decision.start == ()
    assert "soname(libbase.so.1(x86_64)) (from base, failed)" in decision.stuck["left"]


@st.composite
def task_sets(draw: st.DrawFn) -> list[Task]:
    count = draw(st.integers(1, 8))
    names = [f"t{i}" for i in range(count)]
    tasks = []
    for name in names:
        deps = draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
        tasks.append(_t(name, tuple(f"name({d})" for d in deps)))
    return tasks


@settings(max_examples=150, deadline=None)
@given(task_sets(), st.integers(1, 3), st.data())
def test_simulated_run_respects_order_and_blocks_exactly_dependents(
    tasks: list[Task], capacity: int, data: st.DataObject
) -> None:
    graph = plan(tasks, {}, frozenset())
    statuses = {t.name: Status.PENDING for t in tasks}
    failing = set(data.draw(st.lists(st.sampled_from(graph.order), max_size=2)))
    while True:
        decision = decide(graph, statuses, capacity)
        if not decision.start:
            assert not decision.stuck, decision.stuck
            break
        for name in decision.start:
            for edge in graph.needs[name]:
                assert statuses[edge.target] is Status.PUBLISHED
            if name in failing:
                statuses[name] = Status.FAILED
                for other in blocked_by_failure(graph, name, statuses):
                    statuses[other] = Status.BLOCKED
            else:
                statuses[name] = Status.PUBLISHED
    for name in graph.order:
        if {d for d in graph.dependencies(name) if statuses[d] is Status.FAILED}:
            assert statuses[name] is Status.BLOCKED
        elif name in failing:
            assert statuses[name] is Status.FAILED
        else:
            assert statuses[name] is Status.PUBLISHED

"""Ordering by before/after (spec §3.4, scenario 19), cycles as errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moss_core.triggers import (
    Trigger,
    TriggerCycleError,
    TriggerError,
    load_trigger_file,
    order_triggers,
)

from .helpers import make_trigger


def loaded(*triggers: Trigger) -> dict[str, Trigger]:
    return {t.name: t for t in triggers}


def test_no_relations_runs_in_reverse_alphabetical_order() -> None:
    triggers = loaded(make_trigger("a"), make_trigger("b"), make_trigger("c"))
    assert order_triggers(["a", "b", "c"], triggers) == ["c", "b", "a"]


def test_after_relation_scenario_19() -> None:
    triggers = loaded(make_trigger("a"), make_trigger("b", after="a"), make_trigger("c"))
    assert order_triggers(["b", "a", "c"], triggers) == ["c", "a", "b"]


def test_before_relation() -> None:
    triggers = loaded(make_trigger("a"), make_trigger("z", before="a"))
    assert order_triggers(["a", "z"], triggers) == ["z", "a"]


def test_unknown_names_are_ignored() -> None:
    triggers = loaded(make_trigger("a", after="nowhere"), make_trigger("b", before="nothing"))
    assert order_triggers(["a", "b"], triggers) == ["b", "a"]


def test_only_fired_triggers_are_returned_but_order_passes_through_others() -> None:
    # c after b, b after a; b does not fire, yet a must still precede c.
    triggers = loaded(make_trigger("a"), make_trigger("b", after="a"), make_trigger("c", after="b"))
    assert order_triggers(["a", "c"], triggers) == ["a", "c"]


def test_two_node_cycle_is_an_error_naming_both() -> None:
    # Upstream drops the closing edge and runs b, a; we refuse.
    triggers = loaded(make_trigger("a", after="b"), make_trigger("b", after="a"))
    with pytest.raises(TriggerCycleError) as info:
        order_triggers(["a", "b"], triggers)
    assert sorted(info.value.cycle) == ["a", "b"]
    assert "a -> b -> a" in str(info.value) or "b -> a -> b" in str(info.value)
    assert isinstance(info.value, TriggerError)


def test_self_reference_is_a_cycle() -> None:
    triggers = loaded(make_trigger("a", before="a"))
    with pytest.raises(TriggerCycleError) as info:
        order_triggers(["a"], triggers)
    assert info.value.cycle == ("a",)


def test_cycle_through_a_trigger_that_did_not_fire() -> None:
    triggers = loaded(
        make_trigger("a", before="b"), make_trigger("b", before="c"), make_trigger("c", before="a")
    )
    with pytest.raises(TriggerCycleError) as info:
        order_triggers(["a"], triggers)
    assert info.value.cycle in {("a", "b", "c"), ("b", "c", "a"), ("c", "a", "b")}


def test_cycle_reported_is_the_cycle_not_its_downstream() -> None:
    triggers = loaded(
        make_trigger("a", after="b"),
        make_trigger("b", after="a"),
        make_trigger("d", after="a"),
        make_trigger("e"),
    )
    with pytest.raises(TriggerCycleError) as info:
        order_triggers(["a", "b", "d", "e"], triggers)
    assert sorted(info.value.cycle) == ["a", "b"]


NAMES = "abcdefg"
relation = st.one_of(st.none(), st.sampled_from(NAMES))


@st.composite
def trigger_sets(draw: st.DrawFn) -> tuple[dict[str, Trigger], list[str]]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, unique=True))
    triggers = loaded(
        *(make_trigger(n, before=draw(relation), after=draw(relation)) for n in names)
    )
    fired = draw(st.lists(st.sampled_from(names), unique=True))
    return triggers, fired


def edges(triggers: dict[str, Trigger]) -> set[tuple[str, str]]:
    found = set()
    for t in triggers.values():
        if t.before in triggers:
            found.add((t.name, t.before))
        if t.after in triggers:
            found.add((t.after, t.name))
    return found


def reaches(graph: set[tuple[str, str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for first, then in graph:
            if first == node and then not in seen:
                if then == goal:
                    return True
                seen.add(then)
                todo.append(then)
    return False


@given(trigger_sets())
def test_order_respects_every_relation_or_names_a_real_cycle(
    case: tuple[dict[str, Trigger], list[str]],
) -> None:
    triggers, fired = case
    graph = edges(triggers)
    try:
        order = order_triggers(fired, triggers)
    except TriggerCycleError as error:
        cycle = error.cycle
        assert len(set(cycle)) == len(cycle)
        for index, name in enumerate(cycle):
            assert (name, cycle[(index + 1) % len(cycle)]) in graph
        return
    assert sorted(order) == sorted(fired)
    for i, earlier in enumerate(order):
        for later in order[i + 1 :]:
            assert not reaches(graph, later, earlier)


def test_real_sys_triggers_follow_the_upstream_order(corpus: Path) -> None:
    # Spec §3.4 lists the order when every real sys.d trigger fires; the corpus holds six of
    # them, and systemd_tmpfiles (which several name in `after`) stands in for systemd's.
    recipes = ["c/ca-certificates", "d/dbus", "f/fontconfig", "i/ibus", "m/man-db", "p/polkit"]
    real = [load_trigger_file(corpus / "recipes" / r / "pkg/trigger.yaml")[0] for r in recipes]
    triggers = loaded(*real, make_trigger("systemd_tmpfiles"))
    assert order_triggers(triggers, triggers) == [
        "systemd_tmpfiles",
        "ca_certificates",
        "ibus_components",
        "reload_polkit",
        "reload_dbus",
        "mandb",
        "fonts-cache",
    ]

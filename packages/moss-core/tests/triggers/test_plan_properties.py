"""Property tests of the planner against a brute-force reading of spec §3.3."""

from __future__ import annotations

from collections import defaultdict
from random import Random

from hypothesis import given
from hypothesis import strategies as st

from moss_core.triggers import (
    Command,
    DeleteCommand,
    FileKind,
    RunCommand,
    Trigger,
    expand,
    plan_triggers,
)

from .helpers import make_trigger

SEGMENTS = ["usr", "lib", "lib64", "share", "a", "b.so", "x.conf"]
PATTERNS = [
    "/usr/**",
    "/usr/lib*/(name:*)",
    "/usr/(d:*)/*.so",
    "/usr/share/(rest:**)",
    "/usr/?ib/(f:*)",
    "/usr/[ls]*/a",
    "/(top:*)",
    "*",
]
KINDS = st.sampled_from(list(FileKind))

trees = st.dictionaries(
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4).map(lambda p: "/" + "/".join(p)),
    KINDS,
    max_size=25,
)


@st.composite
def trigger_lists(draw: st.DrawFn) -> list[Trigger]:
    triggers = []
    for index in range(draw(st.integers(1, 3))):
        rules = draw(
            st.dictionaries(
                st.sampled_from(PATTERNS),
                st.sampled_from(
                    [
                        {"handlers": ["r"]},
                        {"handlers": ["d", "r"]},
                        {"handlers": ["r"], "type": "directory"},
                    ]
                ),
                min_size=1,
                max_size=3,
            )
        )
        handlers = {
            "r": {"run": "/bin/t", "args": ["$(name)", "$(d)", "$(rest)", "$(f)", "$(top)"]},
            "d": {"delete": ["/x/$(name)"]},
        }
        triggers.append(make_trigger(f"t{index}", paths=rules, handlers=handlers))
    return triggers


def reference(triggers: list[Trigger], tree: dict[str, FileKind]) -> dict[str, set[Command]]:
    found: dict[str, set[Command]] = defaultdict(set)
    for trigger in triggers:
        for path, kind in tree.items():
            for rule in trigger.paths:
                match = rule.pattern.match(path)
                if match is None or (rule.kind is not None and rule.kind is not kind):
                    continue
                for name in rule.handlers:
                    found[trigger.name].add(expand(trigger.handlers[name], match.groups))
    return dict(found)


@given(trigger_lists(), trees)
def test_plan_is_the_deduplicated_sorted_set_of_matches(
    triggers: list[Trigger], tree: dict[str, FileKind]
) -> None:
    plan = plan_triggers(triggers, tree)
    expected = reference(triggers, tree)

    grouped: dict[str, list[Command]] = defaultdict(list)
    for invocation in plan.invocations:
        grouped[invocation.trigger].append(invocation.command)
    assert {name: set(cmds) for name, cmds in grouped.items()} == expected
    for cmds in grouped.values():
        runs = sorted({c for c in cmds if isinstance(c, RunCommand)})
        deletes = sorted({c for c in cmds if isinstance(c, DeleteCommand)})
        assert cmds == [*runs, *deletes]
    # Each trigger's invocations are contiguous.
    names = [invocation.trigger for invocation in plan.invocations]
    assert names == sorted(names, key=lambda n: names.index(n))


@given(trigger_lists(), trees, st.randoms())
def test_plan_does_not_depend_on_tree_order(
    triggers: list[Trigger], tree: dict[str, FileKind], random: Random
) -> None:
    items = list(tree.items())
    random.shuffle(items)
    assert plan_triggers(triggers, dict(items)) == plan_triggers(triggers, tree)

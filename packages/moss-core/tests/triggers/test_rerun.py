"""The re-run decision against a fresh run: whatever changed between two trees, the triggers a
recycled tree keeps plus those it runs again give the inputs and the commands a fresh run of
every trigger on the new tree gives."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import example, given
from hypothesis import strategies as st

from moss_core.trigger_record import Artefacts, Output, candidate_paths
from moss_core.triggers import plan_triggers
from moss_core.triggers.rerun import Defined, kind_of, needs_whole_tree, plan_rerun

from .helpers import make_trigger

PATHS = [
    "/usr/share/flavours/sweet",
    "/usr/share/flavours/sour",
    "/usr/share/flavours",
    "/usr/lib/libx.so",
    "/usr/lib/liby.so",
    "/usr/lib",
    "/usr/bin/tool",
]
FINGERPRINTS = ["d", "r:01", "r:02", "l:target"]
TRIGGERS = [
    make_trigger(
        "stamps",
        {"/usr/share/flavours/(flavour:*)": {"handlers": ["h"]}},
        {"h": {"run": "/usr/bin/stamp", "args": ["$(flavour)"]}},
    ),
    make_trigger("ldconfig", {"/usr/lib/*.so": {"handlers": ["h"]}}),
    make_trigger("index", {"/usr/share/**": {"handlers": ["h"]}}, after="stamps"),
    make_trigger("dirs", {"/usr/(d:*)": {"handlers": ["h"], "type": "directory"}}),
    make_trigger(
        "unless-tool",
        {"/usr/lib/(lib:*)": {"handlers": ["h"]}},
        {"h": {"run": "/usr/bin/cache", "args": ["$(lib)"]}},
        inhibitors={"paths": ["/usr/bin/tool"], "environment": []},
    ),
]

trees = st.dictionaries(st.sampled_from(PATHS), st.sampled_from(FINGERPRINTS))


def _defined(names: frozenset[str], changed_definition: frozenset[str]) -> list[Defined]:
    return [
        Defined(t, f"{t.name}:{'2' if t.name in changed_definition else '1'}")
        for t in TRIGGERS
        if t.name in names
    ]


def _full(defined: list[Defined], tree: dict[str, str]) -> Artefacts:
    decided = plan_rerun(None, defined, tree)
    return Artefacts(
        1,
        tuple(
            replace(r, outputs=(Output(f"/usr/out/{r.name}", "file", "", 0, 0),))
            for r in decided.fresh
        ),
    )


@given(
    old=trees,
    new=trees,
    old_names=st.frozensets(st.sampled_from([t.name for t in TRIGGERS])),
    new_names=st.frozensets(st.sampled_from([t.name for t in TRIGGERS])),
    redefined=st.frozensets(st.sampled_from([t.name for t in TRIGGERS])),
)
# Found by hypothesis: `index` (after `stamps`) and `ldconfig` run again, `stamps` is kept; the
# order of the two must be the fresh run's, which `stamps`'s relation decides.
@example(
    old={"/usr/share/flavours/sweet": "d", "/usr/share/flavours/sour": "d"},
    new={
        "/usr/share/flavours/sweet": "d",
        "/usr/share/flavours/sour": "d",
        "/usr/share/flavours": "d",
        "/usr/lib/libx.so": "d",
    },
    old_names=frozenset({"stamps"}),
    new_names=frozenset({"stamps", "ldconfig", "index"}),
    redefined=frozenset(),
)
def test_recycled_decision_is_the_fresh_one(
    old: dict[str, str],
    new: dict[str, str],
    old_names: frozenset[str],
    new_names: frozenset[str],
    redefined: frozenset[str],
) -> None:
    recorded = _full(_defined(old_names, frozenset()), old)
    defined = _defined(new_names, redefined)
    # What the recycle plan gives: every path whose entry differs, with the new fingerprint.
    changed = {p: new.get(p) for p in set(old) | set(new) if old.get(p) != new.get(p)}
    paths = new if needs_whole_tree(recorded, defined) else candidate_paths(recorded, changed)
    decided = plan_rerun(recorded, defined, paths)
    fresh = plan_rerun(None, defined, new)

    records = {r.name: r for r in (*decided.kept, *decided.fresh)}
    assert {name: r.inputs for name, r in records.items()} == {
        r.name: r.inputs for r in fresh.fresh
    }
    run_again = {r.name for r in decided.fresh}
    # A kept trigger keeps its outputs; every other recorded output goes first.
    for record in recorded.triggers:
        assert (record.name in records and record.name not in run_again) == (
            not set(record.outputs) & set(decided.stale)
        )
    # The commands run again are exactly the fresh run's commands of those triggers.
    whole = {p: kind_of(fp) for p, fp in new.items()}
    full_plan = plan_triggers([d.trigger for d in defined], whole)
    assert [i for i in full_plan.invocations if i.trigger in run_again] == list(
        decided.plan.invocations
    )
    # A trigger ordered after one that runs again runs again.
    if "stamps" in run_again and "index" in records:
        assert "index" in run_again


def test_nothing_runs_again_when_no_input_changed() -> None:
    tree = {"/usr/lib/libx.so": "r:01", "/usr/bin/tool": "r:02", "/usr/lib": "d"}
    defined = _defined(frozenset({"ldconfig"}), frozenset())
    recorded = _full(defined, tree)
    changed = {"/usr/bin/other": "r:03", "/usr/bin": "d"}
    assert not needs_whole_tree(recorded, defined)
    decided = plan_rerun(recorded, defined, candidate_paths(recorded, changed))
    assert not decided.plan.invocations and not decided.stale
    assert decided.kept == recorded.triggers

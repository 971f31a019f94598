"""Which transaction triggers a new state re-runs, given what they ran on before (pure).

A fresh tree runs every trigger whose patterns match. A recycled tree already holds the
outputs its triggers wrote for the source state (`moss_core.trigger_record`); a trigger
needs to run again only when what a fresh run would give differs:

- its definition changed, or it is new;
- the paths its patterns match, or what is at them, changed, or one of its inhibitor paths
  came or went (the inhibitor paths present in the tree count among its inputs);
- a trigger it is ordered after (`after`, or the other's `before`) runs again: ordering is how
  trigger files say that one reads what another writes.

Triggers that run again, and triggers that are gone, lose their recorded outputs first, so a
re-run starts from the tree a fresh run would have had. The assumption, stated in
docs/triggers.md: a handler's outputs depend on its trigger's definition and matched inputs
(and on the outputs of triggers ordered before it), not on other paths of the tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from moss_core.trigger_record import Artefacts, Output, TriggerRecord
from moss_core.triggers.commands import Plan
from moss_core.triggers.model import FileKind, Trigger
from moss_core.triggers.plan import Conditions, matched_paths, plan_triggers


@dataclass(frozen=True)
class Defined:
    """A loaded trigger and its definition (its file and the file's digest)."""

    trigger: Trigger
    definition: str


@dataclass(frozen=True)
class Rerun:
    """What to do: delete `stale` outputs, run `plan`; `kept` are the records that stay true,
    `fresh` the records (without outputs yet) of the triggers decided again."""

    stale: tuple[Output, ...]
    plan: Plan
    kept: tuple[TriggerRecord, ...]
    fresh: tuple[TriggerRecord, ...]


def kind_of(fp: str) -> FileKind:
    """The kind a fingerprint (`trigger_record.fingerprint`) stands for."""
    if fp == "d":
        return FileKind.DIRECTORY
    return FileKind.SYMLINK if fp.startswith("l:") else FileKind.REGULAR


def needs_whole_tree(recorded: Artefacts | None, defined: Sequence[Defined]) -> bool:
    """Whether a trigger's patterns must be matched against every path of the new tree
    (rather than the changed paths and the recorded inputs)."""
    if recorded is None:
        return True
    known = {record.name: record.definition for record in recorded.triggers}
    return any(known.get(d.trigger.name) != d.definition for d in defined)


def plan_rerun(
    recorded: Artefacts | None, defined: Sequence[Defined], paths: Mapping[str, str]
) -> Rerun:
    """Decide, for `paths` (path to fingerprint): every path of the new tree when
    `needs_whole_tree`, else the changed paths and the recorded inputs the change left
    (`trigger_record.candidate_paths`). Without a record, every trigger is decided afresh."""
    tree = {path: kind_of(fp) for path, fp in paths.items()}
    records = {r.name: r for r in recorded.triggers} if recorded is not None else {}
    by_name = {d.trigger.name: d for d in defined}
    inputs = {name: _inputs(d.trigger, tree, paths) for name, d in by_name.items()}
    dirty = {
        name
        for name, d in by_name.items()
        if name not in records
        or records[name].definition != d.definition
        or records[name].inputs != inputs[name]
    }
    dirty = _ordered_after(dirty, by_name)
    stale = tuple(
        output
        for name, record in sorted(records.items())
        if name in dirty or name not in by_name
        for output in record.outputs
    )
    # Planned with every trigger, not only those that run again: the order of triggers that
    # no relation orders depends on the relations of all of them (as upstream orders them), and
    # must be the order a fresh run gives.
    whole = plan_triggers([d.trigger for d in defined], tree, Conditions())
    plan = Plan(
        tuple(i for i in whole.invocations if i.trigger in dirty),
        tuple(held for held in whole.inhibited if held.trigger in dirty),
    )
    return Rerun(
        stale=tuple(sorted(stale, key=lambda o: o.path)),
        plan=plan,
        kept=tuple(records[name] for name in sorted(by_name) if name not in dirty),
        fresh=tuple(
            TriggerRecord(name, by_name[name].definition, inputs[name]) for name in sorted(dirty)
        ),
    )


def _inputs(
    trigger: Trigger, tree: Mapping[str, FileKind], paths: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """What the trigger's plan depends on: the paths it matches and the inhibitor paths there."""
    found = matched_paths(trigger, tree) | {p for p in trigger.inhibitors.paths if p in tree}
    return tuple(sorted((path, paths[path]) for path in found))


def _ordered_after(dirty: set[str], by_name: Mapping[str, Defined]) -> set[str]:
    """`dirty` with every trigger ordered after one of them, transitively."""
    follows: dict[str, set[str]] = {name: set() for name in by_name}
    for name, d in by_name.items():
        if d.trigger.after in follows:
            follows[d.trigger.after].add(name)
        if d.trigger.before in follows:
            follows[name].add(d.trigger.before)
    found = set(dirty)
    pending = list(dirty)
    while pending:
        for later in follows.get(pending.pop(), ()):
            if later not in found:
                found.add(later)
                pending.append(later)
    return found

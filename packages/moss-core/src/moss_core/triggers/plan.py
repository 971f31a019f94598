"""Turn a tree and its triggers into an ordered list of commands (pure: no I/O)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from moss_core.triggers.commands import (
    Command,
    DeleteCommand,
    Inhibited,
    Invocation,
    Plan,
    RunCommand,
)
from moss_core.triggers.errors import TriggerError
from moss_core.triggers.model import FileKind, Handler, PathRule, RunHandler, Trigger
from moss_core.triggers.order import order_triggers


@dataclass(frozen=True)
class Conditions:
    """Facts about the target system that inhibitors test.

    `environment` names the active environments (e.g. `chroot`, `live`); `existing_paths`
    lists absolute paths known to exist outside the tree (the tree's own paths count too).
    """

    environment: frozenset[str] = field(default_factory=frozenset)
    existing_paths: frozenset[str] = field(default_factory=frozenset)


def substitute(text: str, captures: Mapping[str, str]) -> str:
    """Replace each `$(name)` with its capture; unknown `$(...)` stay as written."""
    # Sorted order so that the result does not depend on the order the captures were found in.
    for name in sorted(captures):
        text = text.replace(f"$({name})", captures[name])
    return text


def expand(handler: Handler, captures: Mapping[str, str]) -> Command:
    """The command a handler stands for, given one match's captures."""
    if isinstance(handler, RunHandler):
        return RunCommand(
            run=substitute(handler.run, captures),
            args=tuple(substitute(arg, captures) for arg in handler.args),
        )
    return DeleteCommand(paths=tuple(substitute(path, captures) for path in handler.delete))


def _sort_key(command: Command) -> tuple[int, Command]:
    # All `run` commands before all `delete` commands, as upstream does.
    return (0, command) if isinstance(command, RunCommand) else (1, command)


def plan_triggers(
    triggers: Iterable[Trigger],
    tree: Mapping[str, FileKind],
    conditions: Conditions = Conditions(),
) -> Plan:
    """Plan the commands `triggers` ask for, given every path of the tree and its kind.

    Each trigger contributes one invocation per distinct command; triggers are ordered by
    `before`/`after`. A trigger none of whose patterns match, or whose inhibitors apply, does
    not run. Raises `TriggerCycleError` when the ordering relations form a cycle.
    """
    loaded: dict[str, Trigger] = {}
    for trigger in triggers:
        if trigger.name in loaded:
            raise TriggerError(f"two triggers are named {trigger.name!r}")
        loaded[trigger.name] = trigger

    paths = sorted(tree)
    commands: dict[str, list[Command]] = {}
    inhibited: list[Inhibited] = []
    for name in sorted(loaded):
        trigger = loaded[name]
        found = _commands(trigger, paths, tree)
        if not found:
            continue
        reason = _inhibition(trigger, tree, conditions)
        if reason is not None:
            inhibited.append(Inhibited(trigger=name, reason=reason))
            continue
        commands[name] = sorted(found, key=_sort_key)

    invocations = tuple(
        Invocation(trigger=name, command=command)
        for name in order_triggers(commands, loaded)
        for command in commands[name]
    )
    return Plan(invocations=invocations, inhibited=tuple(inhibited))


def matched_paths(trigger: Trigger, tree: Mapping[str, FileKind]) -> set[str]:
    """The paths of `tree` that one of the trigger's rules matches: what the trigger ran on."""
    return {path for path, _, _ in _matches(trigger, sorted(tree), tree)}


def _commands(trigger: Trigger, paths: list[str], tree: Mapping[str, FileKind]) -> set[Command]:
    return {
        expand(trigger.handlers[handler], captures)
        for _, rule, captures in _matches(trigger, paths, tree)
        for handler in rule.handlers
    }


def _matches(
    trigger: Trigger, paths: list[str], tree: Mapping[str, FileKind]
) -> Iterator[tuple[str, PathRule, Mapping[str, str]]]:
    for rule in trigger.paths:
        prefix = rule.pattern.prefix
        # `paths` is sorted, so the candidates sharing the literal prefix are one slice.
        for index in range(bisect.bisect_left(paths, prefix), len(paths)):
            path = paths[index]
            if not path.startswith(prefix):
                break
            if rule.kind is not None and tree[path] != rule.kind:
                continue
            match = rule.pattern.match(path)
            if match is not None:
                yield path, rule, match.groups


def _inhibition(
    trigger: Trigger, tree: Mapping[str, FileKind], conditions: Conditions
) -> str | None:
    for path in trigger.inhibitors.paths:
        if path in tree or path in conditions.existing_paths:
            return f"inhibited by existing path {path}"
    for environment in trigger.inhibitors.environment:
        if environment in conditions.environment:
            return f"inhibited in environment {environment}"
    return None

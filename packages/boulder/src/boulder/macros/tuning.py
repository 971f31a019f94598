"""Tuning groups → compiler flags (spec §2.4), pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from boulder.macros.model import FLAG_KINDS, Flag, FlagKind, MacroFile, Toolchain, TuningGroup


class TuningFailure(Exception):
    """`unknown group g` / `unknown value v for group g` / `unknown flag f`; `group` is at fault."""

    def __init__(self, message: str, group: str) -> None:
        super().__init__(message)
        self.message = message
        self.group = group


@dataclass(frozen=True, slots=True)
class TuningRequest:
    """One step: enable `group` (with `option`, else the group default) or disable it."""

    group: str
    enable: bool = True
    option: str | None = None


@dataclass(frozen=True, slots=True)
class GroupState:
    enabled: bool
    option: str | None = None


@dataclass(frozen=True, slots=True)
class Tuning:
    """The flags and groups registered by a set of macro files, later ones replacing earlier."""

    flags: dict[str, Flag]
    groups: dict[str, TuningGroup]
    defaults: tuple[str, ...]

    @classmethod
    def from_files(cls, base: MacroFile, arch: MacroFile, actions: Sequence[MacroFile]) -> Tuning:
        flags: dict[str, Flag] = {}
        groups: dict[str, TuningGroup] = {}
        for file in (base, arch, *actions):
            flags.update(file.flags)
            groups.update(file.tuning)
        defaults = arch.default_tuning_groups or base.default_tuning_groups
        return cls(flags, groups, defaults)

    def resolve(self, requests: Iterable[TuningRequest]) -> dict[str, GroupState]:
        """Group states after `requests`, in the order groups were first named."""
        state: dict[str, GroupState] = {}
        for request in requests:
            group = self.groups.get(request.group)
            if group is None:
                raise TuningFailure(f"unknown group {request.group}", request.group)
            if not request.enable:
                state[request.group] = GroupState(False)
                continue
            option = request.option if request.option is not None else group.default
            if option is not None and option not in group.options:
                raise TuningFailure(
                    f"unknown value {option} for group {request.group}", request.group
                )
            state[request.group] = GroupState(True, option)
        return state

    def flag_names(self, states: dict[str, GroupState]) -> list[tuple[str, str]]:
        """(group, flag name) pairs selected by the group states."""
        names: list[tuple[str, str]] = []
        for name, state in states.items():
            group = self.groups[name]
            if not state.enabled:
                selected = group.disabled
            elif state.option is not None:
                selected = group.options[state.option].enabled
            else:
                selected = group.enabled
            names.extend((name, flag) for flag in selected)
        return names

    def compile(
        self,
        recipe_items: Sequence[TuningRequest],
        extra: Sequence[TuningRequest],
        toolchain: Toolchain,
    ) -> dict[FlagKind, str]:
        """Flags per compiler kind: architecture, the recipe's items, defaults, then `extra`."""
        named = {item.group for item in recipe_items}
        requests = [
            TuningRequest("architecture"),
            *recipe_items,
            *(TuningRequest(g) for g in self.defaults if g not in named),
            *extra,
        ]
        flags: list[Flag] = []
        for group, name in self.flag_names(self.resolve(requests)):
            flag = self.flags.get(name)
            if flag is None:
                raise TuningFailure(f"unknown flag {name}", group)
            flags.append(flag)
        return {kind: _join(f.value(kind, toolchain) for f in flags) for kind in FLAG_KINDS}


def _join(values: Iterable[str | None]) -> str:
    # Each flag's text is one sort key: sorted bytewise, de-duplicated, tiny values dropped.
    kept = {v.strip() for v in values if v is not None and len(v.strip()) > 1}
    return " ".join(sorted(kept, key=lambda v: v.encode()))

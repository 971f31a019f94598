"""What a trigger plan is made of: commands, invocations, plans (plain data, no pydantic, so
that a runner can take them without loading the trigger models)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class RunCommand:
    """Run `run` with `args`; captures already substituted."""

    run: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join([self.run, *self.args])


@dataclass(frozen=True, order=True)
class DeleteCommand:
    """Delete `paths` (absolute within the root the plan runs in); captures already substituted."""

    paths: tuple[str, ...]

    def __str__(self) -> str:
        return "delete " + " ".join(self.paths)


Command = RunCommand | DeleteCommand


@dataclass(frozen=True)
class Invocation:
    """One command of one trigger."""

    trigger: str
    command: Command


@dataclass(frozen=True)
class Inhibited:
    """A trigger that matched the tree but was not planned, and why."""

    trigger: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """The invocations to run, in order, and the triggers that inhibitors held back."""

    invocations: tuple[Invocation, ...]
    inhibited: tuple[Inhibited, ...]

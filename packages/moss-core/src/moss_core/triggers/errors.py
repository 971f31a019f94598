"""Errors raised while loading, planning or running triggers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from moss_core.errors import MossError


class TriggerError(MossError):
    """Base class of every trigger error."""


class TriggerLoadError(TriggerError):
    """A trigger file could not be read or does not follow the schema."""

    def __init__(self, source: Path | str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class TriggerCycleError(TriggerError):
    """The `before`/`after` relations of the triggers to run form a cycle."""

    def __init__(self, cycle: Sequence[str]) -> None:
        # `cycle` lists each trigger once, in the order they would have to run.
        self.cycle = tuple(cycle)
        loop = " -> ".join([*self.cycle, self.cycle[0]])
        super().__init__(f"trigger ordering cycle: {loop} (each must run before the next)")


class TriggerRunError(TriggerError):
    """A handler failed: it exited non-zero, was killed, could not be started, or was refused."""

    def __init__(
        self,
        trigger: str,
        command: str,
        *,
        status: int | None,
        reason: str,
        stdout: str = "",
        stderr: str = "",
    ) -> None:
        super().__init__(f"trigger {trigger!r}: {command!r} {reason}")
        self.trigger = trigger
        self.command = command
        self.status = status
        self.reason = reason
        self.stdout = stdout
        self.stderr = stderr


class HandlerKilled(TriggerError):
    """A runner killed a handler, with every process it started: it ran past its time or
    exceeded a resource limit, as `reason` says (`did not finish within 600 s`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsafePathError(TriggerError):
    """A `delete` handler named a path that resolves outside the root it runs in."""

    def __init__(self, path: str, root: Path) -> None:
        super().__init__(f"refusing to delete {path!r}: it is outside {root}")
        self.path = path
        self.root = root

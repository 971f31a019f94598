"""Execute a plan. Runners do the work; `execute_plan` decides what counts as failure."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from moss_core.triggers.commands import DeleteCommand, Plan, RunCommand
from moss_core.triggers.errors import HandlerKilled, TriggerRunError, UnsafePathError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandResult:
    """How a `run` command ended. A negative `status` is the signal that killed it."""

    status: int
    stdout: str
    stderr: str


class TriggerRunner(Protocol):
    """Where and how trigger commands execute (directly, in a container, ...)."""

    def run(self, command: RunCommand) -> CommandResult:
        """Run the command to completion. Raise `HandlerKilled` if it was killed, with
        everything it started, for running out of time or exceeding a resource limit;
        `OSError` if it cannot be started."""
        ...

    def delete(self, command: DeleteCommand) -> None:
        """Delete the command's paths. Raise `OSError` or `UnsafePathError` on failure."""
        ...


class PlainRunner:
    """Runs commands as subprocesses of this process, with `root` as working directory.

    No isolation: `run` names a program of the host (absolute, or looked up in `PATH`).
    `delete` paths are taken relative to `root` and may not resolve outside it.
    """

    def __init__(self, root: Path, env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.env = None if env is None else dict(env)

    def run(self, command: RunCommand) -> CommandResult:
        completed = subprocess.run(
            [command.run, *command.args],
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        return CommandResult(
            status=completed.returncode,
            stdout=completed.stdout.decode(errors="replace"),
            stderr=completed.stderr.decode(errors="replace"),
        )

    def delete(self, command: DeleteCommand) -> None:
        delete_paths(self.root, command.paths)


def delete_paths(root: Path, paths: Iterable[str]) -> None:
    """Delete each of `paths`, taken relative to `root`; refuse any that resolves outside it.

    A directory goes with its contents; a symlink is removed, never what it points to; a path
    that does not exist is skipped. Shared by every runner, so they all agree on what is safe.
    """
    for path in paths:
        target = _inside_root(root, path)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.is_symlink() or target.exists():
            target.unlink()
        else:
            log.debug("nothing to delete at %s", target)


def _inside_root(root: Path, path: str) -> Path:
    real_root = Path(os.path.realpath(root))
    relative = Path(path.lstrip("/"))
    if relative.name in ("", ".", ".."):
        raise UnsafePathError(path, root)
    # Resolve the parent (following symlinks) but not the last component, so that deleting
    # a symlink removes the link and never what it points to.
    parent = Path(os.path.realpath(real_root / relative.parent))
    if not parent.is_relative_to(real_root):
        raise UnsafePathError(path, root)
    return parent / relative.name


def execute_plan(plan: Plan, runner: TriggerRunner) -> None:
    """Run every invocation in order; stop at the first failure.

    Unlike upstream, which logs a non-zero exit and carries on, a failing handler aborts with
    `TriggerRunError`: a half-configured tree must not silently go live.
    """
    for held in plan.inhibited:
        log.info("trigger %s not run: %s", held.trigger, held.reason)
    for invocation in plan.invocations:
        command = invocation.command
        log.info("trigger %s: %s", invocation.trigger, command)
        if isinstance(command, DeleteCommand):
            try:
                runner.delete(command)
            except (OSError, UnsafePathError) as error:
                raise TriggerRunError(
                    invocation.trigger, str(command), status=None, reason=f"failed: {error}"
                ) from error
            continue
        try:
            result = runner.run(command)
        except HandlerKilled as error:
            raise TriggerRunError(
                invocation.trigger, str(command), status=None, reason=error.reason
            ) from error
        except OSError as error:
            raise TriggerRunError(
                invocation.trigger, str(command), status=None, reason=f"could not start: {error}"
            ) from error
        if result.status != 0:
            reason = (
                f"was killed by signal {-result.status}"
                if result.status < 0
                else f"exited with status {result.status}"
            )
            raise TriggerRunError(
                invocation.trigger,
                str(command),
                status=result.status,
                reason=reason,
                stdout=result.stdout,
                stderr=result.stderr,
            )
        if result.stdout or result.stderr:
            log.debug("trigger %s output:\n%s%s", invocation.trigger, result.stdout, result.stderr)

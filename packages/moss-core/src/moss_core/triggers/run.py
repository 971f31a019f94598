"""Execute a plan. Runners do the work; `execute_plan` decides what counts as failure."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
from collections.abc import Generator, Iterable, Mapping, Sequence
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

    def run(self, commands: Sequence[RunCommand]) -> Generator[CommandResult, None, None]:
        """Run the commands one after another, each to completion, yielding each one's result.

        A command starts only when its result is asked for: a caller that stops asking (and
        closes the generator) has nothing more run. Asking for a result raises `HandlerKilled`
        if that command was killed, with everything it started, for running out of time or
        exceeding a resource limit; `OSError` if it cannot be started."""
        ...

    def delete(self, command: DeleteCommand) -> None:
        """Delete the command's paths. Raise `OSError` or `UnsafePathError` on failure."""
        ...

    def start(self) -> None:
        """Get ready to run commands (what `run` would otherwise do at its first command),
        so that it overlaps the caller's own work; `close` lets go of it."""
        ...

    def close(self) -> None: ...


class PlainRunner:
    """Runs commands as subprocesses of this process, with `root` as working directory.

    No isolation: `run` names a program of the host (absolute, or looked up in `PATH`).
    `delete` paths are taken relative to `root` and may not resolve outside it.
    """

    def __init__(self, root: Path, env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.env = None if env is None else dict(env)

    def run(self, commands: Sequence[RunCommand]) -> Generator[CommandResult, None, None]:
        for command in commands:
            completed = subprocess.run(
                [command.run, *command.args],
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
            yield CommandResult(
                status=completed.returncode,
                stdout=completed.stdout.decode(errors="replace"),
                stderr=completed.stderr.decode(errors="replace"),
            )

    def delete(self, command: DeleteCommand) -> None:
        delete_paths(self.root, command.paths)

    def start(self) -> None:
        """Nothing to get ready: each command is a process of its own."""

    def close(self) -> None:
        """Nothing is held between commands."""


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
    `TriggerRunError`: a half-configured tree must not silently go live. Consecutive `run`
    invocations go to the runner together (an isolated runner starts one helper for them);
    a `delete` between two of them runs in its place.
    """
    for held in plan.inhibited:
        log.info("trigger %s not run: %s", held.trigger, held.reason)
    runs: list[tuple[str, RunCommand]] = []
    for invocation in plan.invocations:
        command = invocation.command
        if isinstance(command, RunCommand):
            runs.append((invocation.trigger, command))
            continue
        _run_all(runs, runner)
        runs = []
        log.info("trigger %s: %s", invocation.trigger, command)
        try:
            runner.delete(command)
        except (OSError, UnsafePathError) as error:
            raise TriggerRunError(
                invocation.trigger, str(command), status=None, reason=f"failed: {error}"
            ) from error
    _run_all(runs, runner)


def _run_all(runs: Sequence[tuple[str, RunCommand]], runner: TriggerRunner) -> None:
    """Run the commands (each with its trigger's name) in one call of the runner."""
    if not runs:
        return
    # Closed at the first failure, so that nothing after it runs.
    with contextlib.closing(runner.run([command for _, command in runs])) as results:
        for trigger, command in runs:
            log.info("trigger %s: %s", trigger, command)
            try:
                result = next(results)
            except HandlerKilled as error:
                raise TriggerRunError(
                    trigger, str(command), status=None, reason=error.reason
                ) from error
            except OSError as error:
                raise TriggerRunError(
                    trigger,
                    str(command),
                    status=None,
                    reason=f"could not start: {error}",
                ) from error
            if result.status != 0:
                reason = (
                    f"was killed by signal {-result.status}"
                    if result.status < 0
                    else f"exited with status {result.status}"
                )
                raise TriggerRunError(
                    trigger,
                    str(command),
                    status=result.status,
                    reason=reason,
                    stdout=result.stdout,
                    stderr=result.stderr,
                )
            if result.stdout or result.stderr:
                log.debug("trigger %s output:\n%s%s", trigger, result.stdout, result.stderr)

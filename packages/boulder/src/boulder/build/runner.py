"""Running the jobs of a build: per target and PGO stage, prepare then each phase's scripts
(spec §3.6, §3.7), with breakpoints (§2.7)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn

from boulder.build.container import BuildDirs, build_spec, fresh_dir, write_file
from boulder.build.upstreams import prepare
from boulder.errors import BuildError
from boulder.phase import Phase
from boulder.phases import PhaseScript, buildroot, workdir
from boulder.recipe.model import GitUpstream, Recipe
from boulder.recipe.targets import Stage
from boulder.script import Breakpoint
from moss_core.container import (
    ContainerError,
    ContainerLimitExceeded,
    ContainerTimeout,
    Limits,
    Mount,
    run_container,
)
from moss_core.container.limits import NO_LIMITS

_LETTERS = {
    Phase.PREPARE: "P", Phase.SETUP: "S", Phase.BUILD: "B", Phase.INSTALL: "I",
    Phase.CHECK: "C", Phase.WORKLOAD: "W",
}  # fmt: skip
_STAGE_NAMES = {Stage.ONE: "stage1", Stage.TWO: "stage2", Stage.USE: "use"}
# Lines of the script preamble a breakpoint shell must not run: the interpreter line, the
# `set -e`-style options that would end the shell, and the dumb terminal.
_PROFILE_SKIPPED = ("#!", "set -", "TERM=")


# bash's trace of a command it runs (`set -o xtrace`): `+ `, one `+` more per nesting level.
_TRACE = re.compile(r"\++ ")


class Console:
    """Build output: saved to the build log, and printed, except (unless `verbose`) bash's
    trace of every command, which would bury what a build says in hundreds of lines."""

    def __init__(self, log: IO[str], out: Callable[[str], None], *, verbose: bool = False):
        self._log = log
        self._out = out
        self._verbose = verbose
        self._lock = threading.Lock()

    def line(self, text: str, *, trace: bool = False) -> None:
        with self._lock:
            if self._verbose or not trace:
                self._out(text)
            self._log.write(text + "\n")
            self._log.flush()


def _stream(read_fd: int, prefix: str, console: Console) -> None:
    with os.fdopen(read_fd, "rb") as pipe:
        for raw in pipe:
            text = raw.decode("utf-8", "replace").rstrip("\n")
            console.line(prefix + text, trace=_TRACE.match(text) is not None)


def _duration(seconds: float) -> str:
    """`2 s`, `90 min`, `12 h`: as a time limit is most likely given."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def breakpoint_profile(preamble: str) -> str:
    """`.profile` of a breakpoint shell: the script's environment, minus what would stop an
    interactive shell."""
    kept = [line for line in preamble.splitlines() if not line.startswith(_PROFILE_SKIPPED)]
    return "\n".join(kept) + "\n"


@dataclass
class JobRunner:
    """Runs the scripts of one recipe in containers over the build's directories."""

    recipe: Recipe
    recipe_file: Path
    dirs: BuildDirs
    binds: Sequence[Mount]
    console: Console
    shell_macros: Callable[[PhaseScript], str]
    """The actions and definitions a breakpoint shell offers, for a script's phase."""
    interactive: bool = False
    limits: Limits = NO_LIMITS
    """What each script's container may use."""
    time_limit: float | None = None
    """Seconds all the scripts may run, breakpoint shells not counted; None for no limit."""
    _count: int = field(default=0, init=False)
    _deadline: float | None = field(default=None, init=False)

    def run_jobs(self, scripts: Sequence[PhaseScript]) -> None:
        """Each (target, stage) job in build order: scripts arrive in that order."""
        if self.time_limit is not None:
            self._deadline = time.monotonic() + self.time_limit
        jobs: dict[tuple[str, Stage], list[PhaseScript]] = {}
        for script in scripts:
            jobs.setdefault((script.target, script.stage), []).append(script)
        for (target, stage), job in jobs.items():
            self._job(target, stage, job)

    def _job(self, target: str, stage: Stage, scripts: Sequence[PhaseScript]) -> None:
        pgo = stage is not Stage.NONE
        root = buildroot(target)
        work = workdir(self.recipe, target)
        host_root = self.dirs.guest_build(str(root))
        self.console.line(target)
        if pgo:
            self.console.line(f"│pgo-{_STAGE_NAMES[stage]}")
            self.dirs.guest_build(f"{root}-pgo").mkdir(parents=True, exist_ok=True)
        host_root.mkdir(parents=True, exist_ok=True)
        fresh_dir(self.dirs.guest_build(str(work)))
        bar = "││" if pgo else "│"
        if any(isinstance(u, GitUpstream) or u.unpack for u in self.recipe.upstreams):
            self.console.line(f"{bar}Prepare")
        try:
            prepare(self.recipe.upstreams, self.dirs.sourcedir, host_root)
        except BuildError as err:
            raise BuildError(str(err), key=f"prepare ({target})") from err
        for script in scripts:
            if script.phase is Phase.PREPARE:
                continue
            self.console.line(f"{bar}{script.phase.value.capitalize()}")
            cwd = str(work) if self.dirs.guest_build(str(work)).is_dir() else str(root)
            for command in script.commands:
                if isinstance(command, Breakpoint):
                    self._breakpoint(script, command, cwd)
                    continue
                try:
                    status = self._run_chunk(command, script.phase, pgo, cwd, str(root))
                except (ContainerTimeout, ContainerLimitExceeded) as err:
                    self._stopped(script, err)
                if status != 0:
                    self._fail(script, status)

    def _env(self, home: str) -> dict[str, str]:
        return {"HOME": home, "PATH": "/usr/bin:/usr/sbin"}

    def _run_chunk(self, text: str, phase: Phase, pgo: bool, cwd: str, home: str) -> int:
        self._count += 1
        script = self.dirs.scripts / f"{self._count:03d}-{phase.value}.sh"
        write_file(script, text + "\n\n")
        spec = build_spec(
            self.dirs, self.binds, networking=self.recipe.networking, workdir=cwd,
            env=self._env(home), limits=self.limits,
        )  # fmt: skip
        timeout = None
        if self._deadline is not None and self.time_limit is not None:
            timeout = self._deadline - time.monotonic()
            if timeout <= 0:
                raise ContainerTimeout("the build", self.time_limit)
        prefix = f"{'││' if pgo else '│'}{_LETTERS[phase]}│ "
        read_fd, write_fd = os.pipe()
        reader = threading.Thread(target=_stream, args=(read_fd, prefix, self.console))
        reader.start()
        try:
            argv = ["/usr/bin/bash", f"/mason/scripts/{script.name}"]
            return run_container(
                spec, argv, stdin=subprocess.DEVNULL, stdout=write_fd,
                stderr=write_fd, timeout=timeout,
            )  # fmt: skip
        except ContainerError as err:
            raise BuildError(f"container: {err}") from err
        finally:
            os.close(write_fd)
            reader.join()

    def _stopped(
        self, script: PhaseScript, err: ContainerTimeout | ContainerLimitExceeded
    ) -> NoReturn:
        if isinstance(err, ContainerTimeout):
            # The whole build's limit, not what was left of it for this script.
            what = f"the build did not finish within {_duration(self.time_limit or err.seconds)}"
        else:
            what = f"the build exceeded its {err.limit}"
        raise BuildError(
            f"{what} and was stopped, with every process it started (build log: {self.dirs.log})",
            file=self.recipe_file,
            line=script.text_line,
            key=f"{script.phase.value} ({script.target})",
        ) from err

    def _fail(self, script: PhaseScript, status: int) -> NoReturn:
        if status < 0:
            what = f"stopped by signal {signal.Signals(-status).name}"
        else:
            what = f"failed with status code {status}"
        raise BuildError(
            f"{what} (build log: {self.dirs.log})",
            file=self.recipe_file,
            line=script.text_line,
            key=f"{script.phase.value} ({script.target})",
        )

    def _breakpoint(self, script: PhaseScript, point: Breakpoint, cwd: str) -> None:
        kind = "exit" if point.exit else "continue"
        self.console.line(f"\nBreakpoint at line {script.recipe_line(point)} ({kind})")
        if self.interactive:
            home = str(buildroot(script.target))
            profile = self.dirs.guest_build(home) / ".profile"
            text = breakpoint_profile(script.preamble) + self.shell_macros(script)
            write_file(profile, text)
            env = {**self._env(home), "TERM": "xterm-256color"}
            spec = build_spec(
                self.dirs, self.binds, networking=self.recipe.networking, workdir=cwd, env=env,
                limits=self.limits,
            )  # fmt: skip
            started = time.monotonic()
            try:
                run_container(spec, ["/usr/bin/bash", "--login"], stdin=sys.stdin)
            except ContainerError as err:
                raise BuildError(f"container: {err}") from err
            finally:
                # A person at a shell is not the build running late.
                if self._deadline is not None:
                    self._deadline += time.monotonic() - started
        else:
            self.console.line("(standard input is not a terminal: no shell is opened)")
        if point.exit:
            raise BuildError(
                "breakpoint with exit action reached",
                file=self.recipe_file,
                line=script.recipe_line(point),
                key=f"{script.phase.value} ({script.target})",
            )

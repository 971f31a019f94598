"""One `summit build` run: scan, plan, submit ready builds, publish results, block dependents."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summit.errors import SummitError
from summit.executor import BuildSpec, Cluster
from summit.publish import Repository, stage
from summit.queue import Status, Task, blocked_by_failure, blocker, decide, plan, unbootstrapped
from summit.recipes import scan
from summit.state import State

STATE_DIR = ".summit"
BUILD_TIMEOUT = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class Options:
    recipes: Path
    out: Path
    workers: int = 2
    scheduler: str | None = None
    profile: str = "host"
    arch: str = "x86_64"
    builder: tuple[str, ...] | None = None
    timeout: float = BUILD_TIMEOUT


def state_path(out: Path) -> Path:
    return out / STATE_DIR / "state.db"


def check_writable(out: Path) -> None:
    try:
        (out / STATE_DIR).mkdir(parents=True, exist_ok=True)
        probe = out / STATE_DIR / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise SummitError(f"{out}: repository directory is not writable: {err.strerror}") from None


def recipe_commit(recipes: Path) -> str | None:
    """The exact commit built, when the recipes are a git checkout."""
    try:
        done = subprocess.run(
            ["git", "-C", str(recipes), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def builder_command(options: Options, recipe: Path, staging: Path) -> tuple[str, ...]:
    """boulder in this interpreter, unless another builder command is configured (it gets the
    recipe directory, the output directory and the profile appended). boulder gets what is
    published so far as an extra repository: the build root then holds the packages published
    earlier in the run that the recipe needs."""
    if options.builder is not None:
        return (*options.builder, str(recipe), str(staging), options.profile)
    index = (options.out / "stone.index").absolute()
    published = ("--extra-repo", str(index)) if index.is_file() else ()
    return (
        sys.executable, "-m", "boulder", "build", str(recipe / "stone.yaml"),
        "-o", str(staging), "-p", options.profile, *published,
    )  # fmt: skip


class Controller:
    def __init__(self, options: Options, say: Callable[[str], None]) -> None:
        self.options = options
        self.say = say
        self.repo = Repository(options.out, options.arch)
        self.state = State(state_path(options.out))
        self.tasks: list[Task] = []
        self._dask: Cluster | None = None

    def run(self) -> list[str]:
        """Build and publish; the problems (failed, blocked, unreadable recipes), one per line."""
        found = scan(self.options.recipes, self.options.arch)
        problems = [f"unreadable recipe: {e}" for e in found.errors]
        for line in problems:
            self.say(line)
        self.tasks = list(found.tasks)
        self.state.sync(self.tasks)
        self._restore_publication()
        try:
            self._loop()
        finally:
            if self._dask is not None:
                self._dask.close()
        counts: dict[str, int] = {}
        for row in self.state.tasks():
            if row.name not in self._names():
                continue
            counts[row.status] = counts.get(row.status, 0) + 1
            if row.status in (Status.FAILED, Status.BLOCKED):
                problems.append(f"{row.status}: {row.name}: {row.reason}")
        self.say("summary: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        return problems

    def close(self) -> None:
        self.state.close()

    def _names(self) -> set[str]:
        return {t.name for t in self.tasks}

    def _statuses(self) -> dict[str, Status]:
        names = self._names()
        return {n: s for n, s in self.state.statuses().items() if n in names}

    def _restore_publication(self) -> None:
        """After a crash between recording and switching, the root index lags the state."""
        outputs = self.state.outputs()
        if not outputs:
            return
        current = self.repo.current()
        published = {o.file for o in outputs}
        if current is None or not self._snapshot_holds(current, published):
            self.repo.switch(self.repo.snapshot(outputs), outputs)

    def _snapshot_holds(self, ident: str, files: set[str]) -> bool:
        base = self.repo.channel / "history" / ident / self.options.arch
        return all((base / f.removeprefix("main/")).exists() for f in files)

    def _graph(self) -> Any:
        learnt = self.state.learnt()
        published = frozenset().union(*learnt.values()) if learnt else frozenset()
        return plan(self.tasks, learnt, published), published

    def _cluster(self) -> Cluster:
        """Started on the first build: a run with nothing to build needs no scheduler."""
        if self._dask is None:
            self._dask = Cluster(self.options.workers, self.options.scheduler)
        return self._dask

    def _loop(self) -> None:
        while True:
            graph, published = self._graph()
            statuses = self._statuses()
            for name, reason in unbootstrapped(graph, published).items():
                if statuses.get(name) is Status.PENDING:
                    self._failed(graph, name, None, None, reason)
            statuses = self._statuses()
            for name in [n for n, s in statuses.items() if s is Status.FAILED]:
                for other in blocked_by_failure(graph, name, statuses):
                    self._block(other, name)
                    statuses[other] = Status.BLOCKED
            running = 0 if self._dask is None else self._dask.running()
            free = self.options.workers if self._dask is None else self._dask.capacity()
            decision = decide(graph, statuses, max(free, 1) - running)
            for name in decision.assumed_external:
                self.say(
                    f"note: {name}: {', '.join(graph.unresolved[name])} provided by no recipe "
                    "of the set; building it with what the build root has"
                )
            for name, reason in decision.stuck.items():
                self.state.mark(name, Status.FAILED, reason)
                self.say(f"failed: {name}: {reason}")
            if decision.start:
                dask = self._cluster()
                for name in decision.start[: max(dask.capacity(), 1) - dask.running()]:
                    self._submit(dask, name, len(graph.dependents(name)))
            if self._dask is None or self._dask.running() == 0:
                return
            self._finish(graph, self._dask.next_result())

    def _submit(self, dask: Cluster, name: str, weight: int) -> None:
        task = next(t for t in self.tasks if t.name == name)
        logs = self.options.out / STATE_DIR / "logs"
        attempt = self.state.start(name, recipe_commit(self.options.recipes), logs / name)
        row = self.state.task(name)
        assert row is not None and row.log_path is not None
        staging = self.options.out / STATE_DIR / "staging" / name / f"a{attempt}"
        recipe = (self.options.recipes / task.path).absolute()
        spec = BuildSpec(
            name, attempt, str(recipe), str(staging.absolute()), str(Path(row.log_path).absolute()),
            builder_command(self.options, recipe, staging.absolute()), self.options.timeout,
        )  # fmt: skip
        dask.submit(spec, weight)
        self.say(f"started: {name} {task.version}-{task.release} (attempt {attempt})")

    def _finish(self, graph: Any, result: dict[str, Any]) -> None:
        name = str(result["task"])
        attempt = int(result.get("attempt", self.state.current_attempt(name)))
        if attempt != self.state.current_attempt(name):
            return
        worker = result.get("worker")
        if result["status"] != "ok":
            self._failed(graph, name, attempt, worker, str(result["reason"]))
            return
        try:
            self._publish(name, attempt, str(worker), [Path(p) for p in result["stones"]])
        except SummitError as err:
            self._failed(graph, name, attempt, worker, str(err))
            return
        self.say(f"finished: {name} (published)")

    def _publish(self, name: str, attempt: int, worker: str, stones: Sequence[Path]) -> None:
        task = next(t for t in self.tasks if t.name == name)
        known = self.state.outputs()
        staged = stage(stones, known)
        self.repo.add_to_pool(staged, known)
        everything = [
            *known,
            *(s.output for s in staged if s.output.file not in {k.file for k in known}),
        ]
        ident = self.repo.snapshot(everything)
        self.state.finish(name, attempt, worker, task.release, [s.output for s in staged])
        self.repo.switch(ident, everything)

    def _failed(
        self, graph: Any, name: str, attempt: int | None, worker: str | None, reason: str
    ) -> None:
        if attempt is None:
            self.state.mark(name, Status.FAILED, reason)
        else:
            self.state.fail(name, attempt, worker, reason)
        self.say(f"failed: {name}: {reason}")
        for other in blocked_by_failure(graph, name, self._statuses()):
            self._block(other, name)

    def _block(self, name: str, failed: str) -> None:
        why = f"blocked by {blocker(failed, self.options.arch)} ({failed} failed)"
        self.state.mark(name, Status.BLOCKED, why)
        self.say(f"blocked: {name}: {why}")


def builder_from_text(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(shlex.split(text))

"""One `summit build` run: scan, plan, submit ready builds, publish results, block dependents."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summit.errors import SummitError
from summit.executor import BuildSpec, Cluster
from summit.publish import Repository, stage
from summit.queue import Status, Task, blocked_by_failure, blocker, decide, plan, unbootstrapped
from summit.recipes import scan
from summit.state import State, TaskRow
from summit.tls import TlsFiles
from summit.watch import changes, fingerprint

STATE_DIR = ".summit"
# How long `serve` waits at most before looking at a stop request again.
TICK = 0.5
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
    tls: TlsFiles | None = None


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
        self._in_flight: set[str] = set()
        # Set when the cluster starts; read by the web page's thread.
        self.dashboard: str | None = None

    def run(self) -> list[str]:
        """Build and publish; the problems (failed, blocked, unreadable recipes), one per line."""
        problems = self.refresh()
        try:
            self._loop()
        finally:
            self._close_cluster()
        return problems + self.report()

    def serve(self, stop: threading.Event, poll: float) -> None:
        """Build and publish, then keep watching the recipe tree until `stop` is set: a new
        commit (or changed files of a plain directory) is scanned again, and a recipe whose
        release rose is queued with the failed and blocked tasks that need it. The cluster
        stays up in between, so its dashboard does."""
        seen = fingerprint(self.options.recipes, recipe_commit(self.options.recipes))
        self.refresh()
        check = time.monotonic() + poll
        try:
            while not stop.is_set():
                graph = self._schedule()
                result = None
                if self._in_flight and self._dask is not None:
                    result = self._dask.next_result(timeout=TICK)
                else:
                    stop.wait(TICK)
                if result is not None:
                    self._finish(graph, result)
                if time.monotonic() >= check:
                    check = time.monotonic() + poll
                    now = fingerprint(self.options.recipes, recipe_commit(self.options.recipes))
                    if now != seen:
                        seen = now
                        self._rescan()
        finally:
            self._close_cluster()

    def refresh(self) -> list[str]:
        """Scan the recipes and record them in the state; the unreadable ones, one per line."""
        found = scan(self.options.recipes, self.options.arch)
        problems = [f"unreadable recipe: {e}" for e in found.errors]
        for line in problems:
            self.say(line)
        self.tasks = list(found.tasks)
        self.state.sync(self.tasks, self._in_flight)
        self._restore_publication()
        return problems

    def report(self) -> list[str]:
        """One summary line said; the failed and blocked tasks returned, one per line."""
        problems: list[str] = []
        counts: dict[str, int] = {}
        for row in self.state.tasks():
            if row.name not in self._names():
                continue
            counts[row.status] = counts.get(row.status, 0) + 1
            if row.status in (Status.FAILED, Status.BLOCKED):
                problems.append(f"{row.status}: {row.name}: {row.reason}")
        self.say("summary: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        return problems

    def rows(self) -> list[TaskRow]:
        """The state of this recipe set's tasks."""
        names = self._names()
        return [r for r in self.state.tasks() if r.name in names]

    def _rescan(self) -> None:
        old = self.tasks
        self.say(f"recipes changed: {recipe_commit(self.options.recipes) or 'files'}")
        before = self.state.statuses()
        self.refresh()
        graph, _published = self._graph()
        found = changes(old, self.tasks, graph)
        releases = {t.name: f"{t.version}-{t.release}" for t in self.tasks}
        for name in found.bumped:
            self.say(f"queued: {name} {releases[name]} (new release)")
        for name in found.dependents:
            if before.get(name) in (Status.FAILED, Status.BLOCKED):
                self.state.retry(name)
                self.say(f"queued: {name} (it needs a new release)")

    def _close_cluster(self) -> None:
        if self._dask is not None:
            self._dask.close()
            self._dask = None
            self.dashboard = None
            self._in_flight.clear()

    def close(self) -> None:
        self.state.close()

    def _names(self) -> set[str]:
        return {t.name for t in self.tasks}

    def _statuses(self) -> dict[str, Status]:
        """The recorded statuses; a task whose build of an older release still runs counts as
        running, so it is not started twice."""
        names = self._names()
        found = {n: s for n, s in self.state.statuses().items() if n in names}
        for name in self._in_flight & names:
            found[name] = Status.RUNNING
        return found

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
            self._dask = Cluster(self.options.workers, self.options.scheduler, tls=self.options.tls)
            self.dashboard = self._dask.dashboard_link()
        return self._dask

    def _loop(self) -> None:
        while True:
            graph = self._schedule()
            if not self._in_flight or self._dask is None:
                return
            result = self._dask.next_result()
            assert result is not None
            self._finish(graph, result)

    def _schedule(self) -> Any:
        """Fail, block and start what the state allows now; the graph it was decided on."""
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
        return graph

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
            private_cache=self.options.builder is None,
        )  # fmt: skip
        dask.submit(spec, weight)
        self._in_flight.add(name)
        self.say(f"started: {name} {task.version}-{task.release} (attempt {attempt})")

    def _finish(self, graph: Any, result: dict[str, Any]) -> None:
        name = str(result["task"])
        self._in_flight.discard(name)
        attempt = int(result["attempt"])
        if attempt != self.state.current_attempt(name):
            return
        if name not in self._names():
            reason = "its recipe left the tree while it was built"
            self.state.fail(name, attempt, result.get("worker"), reason)
            self.say(f"dropped: {name}: {reason}")
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

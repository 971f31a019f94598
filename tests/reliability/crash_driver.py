"""Run moss, but SIGKILL it at a chosen point: `python crash_driver.py POINT -- MOSS-ARGS...`,
or, as `python crash_driver.py serve`, for every JSON line `{"point", "argv", "output"}` on
stdin fork a child that does that (moss's modules are imported once, before the forks, which
saves most of a process start per kill) and answer `{"status"}`: the child's exit status, the
negative signal number if a signal killed it.

Test code only: production code has no hooks. The (child) process wraps moss's functions
before moss runs, so it can die right where it is told:

- `run` dies nowhere (a plain moss run);
- `count:FILE` dies nowhere either; at exit it writes to FILE the steps the run passed (in order)
  and how many filesystem-changing calls it made, overall and inside each phase;
- `step:K` dies right after the K-th step returns (a step is one of `STEPS`);
- `op:PHASE:K` dies instead of making the K-th filesystem-changing call (`os.link`,
  `os.rename`, `os.write`, ...) made during PHASE: `any`, `unpack` (the store unpack) or
  `blit` (writing the staging tree).

moss unpacks in worker processes forked from it; they inherit the wrappers. The counters live
in memory shared with them, and a worker told to die kills moss itself first (then itself,
though moss's death would take it anyway), so a kill inside the unpack is a kill of moss.
"""

from __future__ import annotations

import atexit
import functools
import json
import mmap
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

# os functions that change the filesystem; `open` only counts when it may write.
OPS = (
    "link",
    "symlink",
    "mkdir",
    "rename",
    "replace",
    "unlink",
    "rmdir",
    "chmod",
    "fchmod",
    "write",
    "fsync",
    "open",
)
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC


def _steps() -> list[tuple[Any, str]]:
    from moss_core.client import apply, cache, core, gc, hooks, recycle
    from moss_core.db import LayoutDb, MetaDb, StateDb

    return [
        (cache.Unpacker, "unpack"),
        (MetaDb, "add"),
        (MetaDb, "rebuild"),
        (LayoutDb, "add_many"),
        (apply, "blit_staging"),
        (recycle, "stage"),
        (recycle, "update"),
        (apply, "write_state_files"),
        (apply, "make_root_links"),
        (hooks, "run_triggers"),
        (hooks, "run_transaction_triggers"),
        (hooks, "remove_outputs"),
        (hooks, "write_record"),
        (StateDb, "add"),
        (apply.Journal, "write"),
        (apply, "sync_filesystem"),
        (apply, "exchange"),
        (apply, "fsync_directory"),
        (apply, "remove_tree"),
        (apply, "archive_staging"),
        (apply.Journal, "clear"),
        (core, "remove_tree"),
        (gc, "remove_tree"),
        (gc, "remove_states"),
        (StateDb, "remove"),
        (LayoutDb, "remove"),
        (MetaDb, "remove"),
        (gc, "_sweep_assets"),
        (gc, "_sweep_downloads"),
        (gc, "collect_garbage"),
    ]


PHASES = ("any", "unpack", "blit")


class Driver:
    def __init__(self, point: str) -> None:
        kind, _, rest = point.partition(":")
        self.kind = kind
        self.report = rest if kind == "count" else None
        self.phase_wanted = rest.partition(":")[0] if kind == "op" else ""
        self.target = int(rest.rpartition(":")[2]) if kind in ("step", "op") else 0
        self.steps: list[str] = []
        self.counters = memoryview(mmap.mmap(-1, 8 * len(PHASES))).cast("q")
        self.phase = "any"
        self.lock = multiprocessing.get_context("fork").Lock()
        self.moss_pid = os.getpid()

    @property
    def ops(self) -> dict[str, int]:
        return {phase: self.counters[n] for n, phase in enumerate(PHASES)}

    def die(self) -> None:
        os.kill(self.moss_pid, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    def install(self) -> None:
        for owner, name in _steps():
            self._wrap_step(owner, name)
        from moss_core.client import apply, cache, recycle

        self._wrap_phase(cache, "unpack_content", "unpack")
        self._wrap_phase(apply, "blit_staging", "blit")
        # Staging from a recycled tree: the archive taken out, then the update in place.
        self._wrap_phase(recycle, "stage", "blit")
        for name in OPS:
            self._wrap_op(name)
        if self.report is not None:
            atexit.register(self._write_report)

    def _write_report(self) -> None:
        assert self.report is not None
        with open(self.report, "w") as out:
            json.dump({"steps": self.steps, "ops": self.ops}, out)

    def _wrap_step(self, owner: Any, name: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)
        label = f"{owner.__name__.rpartition('.')[2]}.{name}"
        driver = self

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            with driver.lock:
                driver.steps.append(label)
                if driver.kind == "step" and len(driver.steps) == driver.target:
                    driver.die()
            return result

        setattr(owner, name, wrapper)

    def _wrap_phase(self, owner: Any, name: str, phase: str) -> None:
        # Phases wrap the step wrappers, so a step's own kill comes after its phase ends.
        original: Callable[..., Any] = getattr(owner, name)
        driver = self

        # Wrapped as itself, so that it is still pickled by name for a worker process.
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            driver.phase = phase
            try:
                return original(*args, **kwargs)
            finally:
                driver.phase = "any"

        setattr(owner, name, wrapper)

    def _wrap_op(self, name: str) -> None:
        original: Callable[..., Any] = getattr(os, name)
        driver = self
        is_open = name == "open"

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if is_open:
                flags = args[1] if len(args) > 1 else kwargs.get("flags", 0)
                if not flags & _WRITING:
                    return original(*args, **kwargs)
            counters = driver.counters
            with driver.lock:
                counters[0] += 1
                if driver.phase != "any":
                    counters[PHASES.index(driver.phase)] += 1
                if (
                    driver.kind == "op"
                    and counters[PHASES.index(driver.phase_wanted)] == driver.target
                    and driver.phase_wanted in ("any", driver.phase)
                ):
                    driver.die()
            return original(*args, **kwargs)

        setattr(os, name, wrapper)


def _run(point: str, argv: list[str]) -> None:
    driver = Driver(point)
    driver.install()
    from moss.cli import main as moss

    sys.argv = ["moss", *argv]
    moss()


def _preload() -> None:
    """Import what a moss transaction imports, once, before the children are forked."""
    import importlib

    for name in (
        "moss.cli",
        "moss.console",
        "moss_core.client",
        "moss_core.client.apply",
        "moss_core.client.cache",
        "moss_core.client.gc",
        "moss_core.client.hooks",
        "moss_core.client.verify",
        "moss_core.container.isolated",
        "moss_core.fetch",
        "moss_core.repository",
        "moss_core.triggers",
    ):
        importlib.import_module(name)


def _child(point: str, argv: list[str], output: str) -> None:
    """In the forked child: run moss with its output to `output`; never return."""
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        try:
            _run(point, argv)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:
            # Not moss's own error path: shown in the output the test reports.
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            atexit._run_exitfuncs()
    finally:
        os._exit(code)


def serve() -> None:
    _preload()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request["point"], request["argv"], request["output"])
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(json.dumps({"status": os.waitstatus_to_exitcode(status)}) + "\n")
        sys.stdout.flush()


def main() -> None:
    if sys.argv[1:] == ["serve"]:
        serve()
        return
    if sys.argv[2:3] != ["--"]:
        raise SystemExit("usage: crash_driver.py POINT -- MOSS-ARGS... | crash_driver.py serve")
    _run(sys.argv[1], sys.argv[3:])


if __name__ == "__main__":
    main()

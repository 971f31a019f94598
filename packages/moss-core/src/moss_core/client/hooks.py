"""Running a state's triggers: transaction triggers isolated in staging, system ones on the root.

Transaction triggers leave a record of what they ran on and wrote (`moss_core.trigger_record`),
which lets a recycled tree re-run only the triggers whose inputs changed
(`moss_core.triggers.rerun`). What a handler wrote is read from the tree (`TreeWatch`): the
entries of every directory (names and inode numbers) before, and of the directories whose time
moved after each trigger's handlers.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from moss_core._lazy import lazy_import
from moss_core.client.report import Reporter
from moss_core.fs import sha256_file, write_atomically
from moss_core.trigger_record import (
    RECORD_FILE,
    Artefacts,
    Listing,
    Output,
    TriggerRecord,
    candidate_paths,
    created_entries,
    encode,
    fingerprint,
)
from moss_core.triggers.files import Scope, trigger_files
from moss_core.vfs import TOP, Tree

# The trigger models need pydantic: loaded only when there are trigger files to read; the
# container and the commands it runs only when a handler is to run.
if TYPE_CHECKING:
    from moss_core.container import isolated
    from moss_core.container.limits import Limits
    from moss_core.triggers import commands, loader, rerun
    from moss_core.triggers import plan as planner
    from moss_core.triggers import run as trigger_run
    from moss_core.triggers.run import TriggerRunner
else:
    isolated = lazy_import("moss_core.container.isolated")
    commands = lazy_import("moss_core.triggers.commands")
    loader = lazy_import("moss_core.triggers.loader")
    planner = lazy_import("moss_core.triggers.plan")
    rerun = lazy_import("moss_core.triggers.rerun")
    trigger_run = lazy_import("moss_core.triggers.run")

# Makes the runner, once a handler is to run.
RunnerFactory = Callable[[], "TriggerRunner"]


def run_triggers(
    scope: Scope,
    tree_root: Path,
    tree: Callable[[], Tree],
    runner: RunnerFactory,
    reporter: Reporter,
) -> None:
    """Plan `scope`'s triggers over every path of the state's tree and run them; the first
    failure aborts. `tree` is only asked for when there are triggers to plan, `runner` when
    there are handlers to run."""
    files = trigger_files(tree_root, scope)
    if not files:
        return
    loaded = loader.load_trigger_files(files)
    for warning in loaded.warnings:
        reporter.warn(str(warning))
    if not loaded.triggers:
        return
    plan = planner.plan_triggers(loaded.triggers, tree().trigger_paths(), planner.Conditions())
    if not plan.invocations:
        return
    reporter.info(f"Running {'transaction' if scope is Scope.TRANSACTION else 'system'} triggers")
    for invocation in plan.invocations:
        reporter.detail(f"trigger {invocation.trigger}: {invocation.command}")
    with _started(runner) as made:
        trigger_run.execute_plan(plan, made)


@contextlib.contextmanager
def _started(runner: RunnerFactory) -> Iterator[TriggerRunner]:
    """The runner made and started (so that it gets ready while the caller goes on), closed
    when the block ends."""
    made = runner()
    made.start()
    try:
        yield made
    finally:
        made.close()


def transaction_runner(
    isolation: Path, staging_usr: Path, etc: Path, *, timeout: float, limits: Limits
) -> TriggerRunner:
    """Handlers see the new `/usr` read-write, the system's `/etc` read-only, and no network;
    each is killed after `timeout` seconds or on exceeding `limits`."""
    return isolated.IsolatedRunner(
        isolation, usr=staging_usr, etc=etc, etc_writable=False, timeout=timeout, limits=limits
    )


def system_runner(
    isolation: Path, usr: Path, etc: Path, *, timeout: float, limits: Limits
) -> TriggerRunner:
    return isolated.IsolatedRunner(
        isolation, usr=usr, etc=etc, etc_writable=True, timeout=timeout, limits=limits
    )


def run_transaction_triggers(
    staging_dir: Path,
    recorded: Artefacts | None,
    changed: Mapping[str, str | None] | None,
    tree: Callable[[], Tree],
    runner: RunnerFactory,
    reporter: Reporter,
) -> tuple[TriggerRecord, ...] | None:
    """Run the transaction triggers the staged tree needs and return its trigger records.

    `recorded` and `changed` (the new tree's fingerprints at the changed paths, None where
    an entry went) describe a recycled tree; a fresh one has neither, and every trigger runs.
    Returns None when a handler replaced or deleted an entry it did not create: nothing
    records how to undo that, so the tree is not recorded (and so never recycled). `runner` is
    made only when a handler is to run.
    """
    usr = staging_dir / "usr"
    if changed is None:
        recorded = None
    files = trigger_files(staging_dir, Scope.TRANSACTION)
    if not files:
        if recorded is not None:
            remove_outputs(usr, recorded.outputs())
        return ()
    loaded = loader.load_trigger_files(files)
    for warning in loaded.warnings:
        reporter.warn(str(warning))
    defined = [
        rerun.Defined(trigger, f"{source.relative_to(staging_dir)}:{sha256_file(source)}")
        for trigger, source in zip(loaded.triggers, loaded.sources, strict=True)
    ]
    if recorded is None or changed is None or rerun.needs_whole_tree(recorded, defined):
        whole = tree()
        paths = {"/": "d", **{node.path: fingerprint(node) for node in whole.walk()}}
    else:
        paths = candidate_paths(recorded, changed)
    decided = rerun.plan_rerun(recorded, defined, paths)
    remove_outputs(usr, decided.stale)
    outputs = _run_recording(decided.plan, usr, runner, reporter)
    if outputs is None:
        return None
    fresh = (replace(record, outputs=outputs.get(record.name, ())) for record in decided.fresh)
    return tuple(sorted((*decided.kept, *fresh), key=lambda record: record.name))


def write_record(usr: Path, state_id: int, records: tuple[TriggerRecord, ...]) -> None:
    write_atomically(usr / RECORD_FILE, encode(Artefacts(state_id, records)))


def remove_outputs(usr: Path, outputs: Iterable[Output]) -> None:
    """Delete what triggers wrote, deepest first; a directory only once it is empty (another
    trigger's output may still be in it). Nothing is followed out of `usr`."""
    top = os.path.realpath(usr)
    for output in sorted(outputs, key=lambda o: o.path, reverse=True):
        relative = output.path[len(TOP) + 1 :]
        parent = os.path.realpath(os.path.join(top, os.path.dirname(relative)))
        if parent != top and not parent.startswith(f"{top}/"):
            continue
        target = os.path.join(parent, os.path.basename(relative))
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            if output.kind == "directory":
                with contextlib.suppress(OSError):
                    os.rmdir(target)
            elif not os.path.isdir(target) or os.path.islink(target):
                os.unlink(target)


RECENT_NS = 100_000_000
"""A directory modified this close before a listing is listed again after every trigger: a
coarse filesystem clock may give a handler's change the same time as the one before it."""


class TreeWatch:
    """What a tree holds: every directory's entries (inode numbers) and time. After a handler
    ran, `changes` lists again only the directories whose time moved (and those too recent to
    tell): creating, removing or renaming an entry moves its directory's time, so the whole
    tree is walked once, not after every trigger."""

    def __init__(self, usr: Path) -> None:
        self.usr = usr
        self.entries: dict[str, dict[str, int]] = {}
        self.times: dict[str, int] = {}
        self.recent: set[str] = set()
        self._walk("", time.time_ns() - RECENT_NS)

    def changes(self) -> tuple[Listing, Listing]:
        """The directories that changed since the last call: before and after."""
        since = time.time_ns() - RECENT_NS
        before: dict[str, dict[str, int]] = {}
        moved = []
        for directory, seen in list(self.times.items()):
            try:
                current = os.lstat(self._path(directory)).st_mtime_ns
            except (FileNotFoundError, NotADirectoryError):
                current = None
            if current != seen or directory in self.recent:
                moved.append(directory)
        for directory in moved:
            before[directory] = self.entries.pop(directory, {})
            del self.times[directory]
        self.recent.clear()
        after: dict[str, dict[str, int]] = {}
        for directory in moved:
            if directory in self.times or not _is_directory(self._path(directory)):
                continue
            self._walk(directory, since, after)
        return before, after

    def _path(self, relative: str) -> str:
        return os.path.join(self.usr, relative) if relative else str(self.usr)

    def _walk(self, top: str, since: int, fresh: dict[str, dict[str, int]] | None = None) -> None:
        pending = [top]
        while pending:
            relative = pending.pop()
            names: dict[str, int] = {}
            path = self._path(relative)
            with os.scandir(path) as entries:
                for entry in entries:
                    names[entry.name] = entry.inode()
                    if entry.is_dir(follow_symlinks=False):
                        child = f"{relative}/{entry.name}" if relative else entry.name
                        # An unchanged subdirectory of a changed one keeps what it had.
                        if child not in self.times:
                            pending.append(child)
            mtime = os.lstat(path).st_mtime_ns
            self.entries[relative] = names
            self.times[relative] = mtime
            if mtime >= since:
                self.recent.add(relative)
            if fresh is not None:
                fresh[relative] = names


def _is_directory(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def describe_output(usr: Path, relative: str) -> Output:
    path = usr / relative
    info = os.lstat(path)
    if os.path.islink(path):
        kind, digest = "symlink", os.readlink(path)
    elif os.path.isdir(path):
        kind, digest = "directory", ""
    else:
        kind, digest = "file", sha256_file(path)
    return Output(f"{TOP}/{relative}", kind, digest, info.st_size, info.st_mtime_ns)


def _run_recording(
    plan: commands.Plan, usr: Path, runner: RunnerFactory, reporter: Reporter
) -> dict[str, tuple[Output, ...]] | None:
    """Run the plan one trigger at a time; what each created, by trigger name."""
    if not plan.invocations:
        return {}
    reporter.info("Running transaction triggers")
    outputs: dict[str, tuple[Output, ...]] = {}
    recordable = True
    # Started first: the runner gets ready (a container helper starts) while the tree is walked.
    with _started(runner) as made:
        watch = TreeWatch(usr)
        for name, group in itertools.groupby(plan.invocations, key=lambda i: i.trigger):
            invocations = tuple(group)
            for invocation in invocations:
                reporter.detail(f"trigger {invocation.trigger}: {invocation.command}")
            trigger_run.execute_plan(
                commands.Plan(invocations, plan.inhibited if not outputs else ()), made
            )
            created, touched = created_entries(*watch.changes())
            if touched:
                reporter.detail(f"trigger {name} changed entries it did not create: not recorded")
                recordable = False
            outputs[name] = tuple(describe_output(usr, relative) for relative in created)
    return outputs if recordable else None

"""Running a state's triggers: transaction triggers isolated in staging, system ones on the root.

Transaction triggers leave a record of what they ran on and wrote (`moss_core.trigger_record`),
which lets a recycled tree re-run only the triggers whose inputs changed
(`moss_core.triggers.rerun`). What a handler wrote is read from the tree: a listing of every
directory (names and inode numbers) before and after each trigger's handlers.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from moss_core._lazy import lazy_import
from moss_core.client.report import Reporter
from moss_core.container.isolated import IsolatedRunner
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
from moss_core.triggers.commands import Plan
from moss_core.triggers.files import Scope, trigger_files
from moss_core.triggers.run import TriggerRunner, execute_plan
from moss_core.vfs import TOP, Tree

# The trigger models need pydantic: loaded only when there are trigger files to read.
if TYPE_CHECKING:
    from moss_core.triggers import loader, rerun
    from moss_core.triggers import plan as planner
else:
    loader = lazy_import("moss_core.triggers.loader")
    planner = lazy_import("moss_core.triggers.plan")
    rerun = lazy_import("moss_core.triggers.rerun")


def run_triggers(
    scope: Scope,
    tree_root: Path,
    tree: Callable[[], Tree],
    runner: TriggerRunner,
    reporter: Reporter,
) -> None:
    """Plan `scope`'s triggers over every path of the state's tree and run them; the first
    failure aborts. `tree` is only asked for when there are triggers to plan."""
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
    execute_plan(plan, runner)


def transaction_runner(
    isolation: Path, staging_usr: Path, etc: Path, *, timeout: float
) -> TriggerRunner:
    """Handlers see the new `/usr` read-write, the system's `/etc` read-only, and no network;
    each is killed after `timeout` seconds."""
    return IsolatedRunner(isolation, usr=staging_usr, etc=etc, etc_writable=False, timeout=timeout)


def system_runner(isolation: Path, usr: Path, etc: Path, *, timeout: float) -> TriggerRunner:
    return IsolatedRunner(isolation, usr=usr, etc=etc, etc_writable=True, timeout=timeout)


def run_transaction_triggers(
    staging_dir: Path,
    recorded: Artefacts | None,
    changed: Mapping[str, str | None] | None,
    tree: Callable[[], Tree],
    runner: TriggerRunner,
    reporter: Reporter,
) -> tuple[TriggerRecord, ...] | None:
    """Run the transaction triggers the staged tree needs and return its trigger records.

    `recorded` and `changed` (the new tree's fingerprints at the changed paths, None where
    an entry went) describe a recycled tree; a fresh one has neither, and every trigger runs.
    Returns None when a handler replaced or deleted an entry it did not create: nothing
    records how to undo that, so the tree is not recorded (and so never recycled).
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


def listing(usr: Path) -> Listing:
    """Every directory of the tree (relative, "" for `usr`) with its entries' inode numbers."""
    found: dict[str, dict[str, int]] = {}
    pending = [""]
    while pending:
        relative = pending.pop()
        names: dict[str, int] = {}
        with os.scandir(os.path.join(usr, relative) if relative else usr) as entries:
            for entry in entries:
                names[entry.name] = entry.inode()
                if entry.is_dir(follow_symlinks=False):
                    pending.append(f"{relative}/{entry.name}" if relative else entry.name)
        found[relative] = names
    return found


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
    plan: Plan, usr: Path, runner: TriggerRunner, reporter: Reporter
) -> dict[str, tuple[Output, ...]] | None:
    """Run the plan one trigger at a time; what each created, by trigger name."""
    if not plan.invocations:
        return {}
    reporter.info("Running transaction triggers")
    outputs: dict[str, tuple[Output, ...]] = {}
    recordable = True
    before = listing(usr)
    for name, group in itertools.groupby(plan.invocations, key=lambda i: i.trigger):
        invocations = tuple(group)
        for invocation in invocations:
            reporter.detail(f"trigger {invocation.trigger}: {invocation.command}")
        execute_plan(Plan(invocations, plan.inhibited if not outputs else ()), runner)
        after = listing(usr)
        created, touched = created_entries(before, after)
        if touched:
            reporter.detail(f"trigger {name} changed entries it did not create: not recorded")
            recordable = False
        outputs[name] = tuple(describe_output(usr, relative) for relative in created)
        before = after
    return outputs if recordable else None

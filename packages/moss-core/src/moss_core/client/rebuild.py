"""`state verify --rebuild-db`: the databases rebuilt from what is on disk.

A root's software is on disk twice over: every state's tree (the live `usr` and each archived
`.moss/root/<id>/usr`) holds its own record of the packages it was made from, by id
(`usr/lib/system-model.kdl`, written with every tree), and the download cache holds each
package's `.stone` under its sha256. The databases are an index of both, so when one is lost
(emptied, or set aside as unreadable) it can be rebuilt, as `rpm --rebuilddb` does.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from moss_core.client.errors import ClientError
from moss_core.client.integrity import archived_states, is_unreadable
from moss_core.client.report import Reporter
from moss_core.db import DatabaseError, LayoutDb, MetaDb, Selection, State, StateDb
from moss_core.errors import MossError
from moss_core.installation import MODEL_IN_TREE, STATE_ID_FILE, Installation, read_state_id
from moss_core.model import load_model
from moss_core.registry import Package

if TYPE_CHECKING:
    from moss_core.client.core import Client

REBUILT_SUMMARY = "Rebuilt from its tree"
_DATABASES: tuple[tuple[str, type[MetaDb | LayoutDb | StateDb]], ...] = (
    ("install", MetaDb),
    ("layout", LayoutDb),
    ("state", StateDb),
)


def set_aside_unreadable(installation: Installation, reporter: Reporter) -> None:
    """Move each database file that cannot be opened (with its WAL files) out of the way,
    kept beside it for inspection, so that a fresh one can be rebuilt in its place."""
    stamp = time.strftime("%Y%m%d%H%M%S")
    for name, kind in _DATABASES:
        path = installation.db_dir / name
        try:
            kind.open(path).close()
        except DatabaseError as err:
            if not is_unreadable(err):
                raise
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.rename(f"{path}{suffix}", f"{path}.unreadable-{stamp}{suffix}")
            reporter.warn(f"set {path} aside as {path}.unreadable-{stamp}: {err.problem}")


@dataclass(frozen=True)
class TreeRecord:
    """What a state's tree says about the state: its packages, or why it cannot say."""

    state_id: int
    created: int
    selections: tuple[Selection, ...] = ()
    names: Mapping[str, str] | None = None
    """Provider text by package id, for the explicit packages (for messages)."""
    problem: str | None = None


def read_tree(state_id: int, usr: Path) -> TreeRecord:
    """The state recorded in a tree: its model names every package by id (explicit ones in
    `packages`, the rest in `locked`); its `.stateID` was written when the state was made."""
    model_path = usr / MODEL_IN_TREE
    try:
        created = int(os.lstat(usr / STATE_ID_FILE).st_mtime)
    except OSError:
        created = int(os.lstat(usr).st_mtime)
    if read_state_id(usr) != state_id:
        return TreeRecord(state_id, created, problem=f"{usr}/.stateID does not say #{state_id}")
    try:
        model = load_model(model_path)
    except MossError as err:
        return TreeRecord(state_id, created, problem=f"no record of its packages ({err})")
    unnamed = [str(p.provider) for p in model.packages if p.id is None]
    if unnamed:
        return TreeRecord(
            state_id,
            created,
            problem=f"{model_path} gives no package id for {', '.join(unnamed)}",
        )
    selections = [Selection(p.id, True) for p in model.packages if p.id is not None]
    explicit = {s.package_id for s in selections}
    selections += [Selection(i, False) for i in model.locked if i not in explicit]
    names = {p.id: str(p.provider) for p in model.packages if p.id is not None}
    return TreeRecord(state_id, created, tuple(selections), names)


@dataclass(frozen=True)
class RebuildPlan:
    restore: tuple[State, ...]
    skipped: tuple[str, ...]
    """Why each state that cannot be recorded is left out, one line each."""


def plan_states(
    trees: Sequence[TreeRecord], available: set[str], unavailable: Mapping[str, str]
) -> RebuildPlan:
    """The states to record from their trees: those whose every package is available.

    `unavailable` says, by package id, why a package could not be had. A state missing one
    is not recorded: recorded without it, the next transaction would drop its files.
    """
    restore: list[State] = []
    skipped: list[str] = []
    for tree in trees:
        if tree.problem is not None:
            skipped.append(f"state #{tree.state_id}: {tree.problem}")
            continue
        missing = [s.package_id for s in tree.selections if s.package_id not in available]
        if missing:
            names = tree.names or {}
            listed = "; ".join(
                f"{_label(names, i)} ({unavailable.get(i, 'not found')})" for i in missing
            )
            skipped.append(f"state #{tree.state_id}: missing package(s): {listed}")
            continue
        restore.append(
            State(
                id=tree.state_id,
                summary=REBUILT_SUMMARY,
                description=None,
                created=tree.created,
                selections=tree.selections,
            )
        )
    return RebuildPlan(tuple(restore), tuple(skipped))


def rebuild(client: Client) -> RebuildPlan:
    """Record again what the trees on disk hold: the packages of every state (metadata and
    layout, from the cached `.stone`, else fetched by id from a repository) and the states
    the state database lacks. What the databases still hold is kept as it is.

    Refused, with nothing written, when the live state cannot be rebuilt whole. An archived
    state that cannot be is left unrecorded (its tree stays) and its id is never handed out
    again; what was left out is listed and raises `ClientError` at the end.
    """
    installation, reporter = client.installation, client.reporter
    recorded = {s.id: s for s in client.state_db.list()}
    archived = archived_states(installation)
    trees = [read_tree(i, installation.archived_usr(i)) for i in archived if i not in recorded]
    live = installation.active_state_id()
    if live is not None and live not in recorded:
        trees.append(read_tree(live, installation.usr))
    wanted = {s.package_id for state in recorded.values() for s in state.selections}
    wanted |= {s.package_id for tree in trees for s in tree.selections}
    have = client.layout_db.ids() & client.install_db.ids()
    found: dict[str, tuple[Package, Path]] = {}
    unavailable: dict[str, str] = {}
    for package_id in sorted(wanted - have):
        try:
            found[package_id] = client.find_package(package_id)
        except MossError as err:
            unavailable[package_id] = str(err)
    plan = plan_states(trees, wanted - set(unavailable), unavailable)
    live_state = recorded.get(live) if live is not None else None
    live_lost = [
        line for line in plan.skipped if live is not None and line.startswith(f"state #{live}:")
    ]
    if live_state is not None:
        live_lost += [
            f"state #{live}: package {s.package_id}: {unavailable[s.package_id]}"
            for s in live_state.selections
            if s.package_id in unavailable
        ]
    if live_lost:
        raise ClientError(f"cannot rebuild the live {'; '.join(live_lost)}; nothing was changed")
    with client.unpacker() as unpacker:
        for package_id, (package, path) in found.items():
            unpacker.unpack(package, path)
            reporter.info(f"Recorded package {package.name} ({package_id})")
    client.state_db.restore(plan.restore)
    if archived:
        client.state_db.reserve_ids(max(archived))
    for state in plan.restore:
        reporter.info(f"Recorded state #{state.id} ({len(state.selections)} packages)")
    left = [f"{line}; not recorded, its tree stays" for line in plan.skipped]
    left += [
        f"state #{state.id}: package {s.package_id}: {unavailable[s.package_id]}"
        for state in recorded.values()
        for s in state.selections
        if s.package_id in unavailable
    ]
    for line in left:
        reporter.warn(line)
    if left:
        raise ClientError(f"{len(left)} thing(s) could not be rebuilt (listed above)")
    return plan


def _label(names: Mapping[str, str], package_id: str) -> str:
    name = names.get(package_id)
    return package_id if name is None else f"{name} {package_id}"

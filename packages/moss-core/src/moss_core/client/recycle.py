"""Staging a new state from an archived tree: only what changed is written.

Every state's tree is kept under `.moss/root/<id>/usr` for instant rollback. The newest
`KEEP_TREES` archived trees stay as they are; when there are that many, the oldest is taken
out of its archive into staging and turned into the new state's tree by applying the
difference between the two states (`moss_core.vfs_diff`), which is computed from the layout
rows at the changed packages' paths alone. A state whose tree was taken this way keeps its
row and a `recycled` marker in its archive directory; making it live again re-blits its tree
from the store (`Client.activate`).

A tree's transaction trigger outputs are in it; its trigger record (`moss_core.trigger_record`)
says which, and what the triggers ran on, so that the new state re-runs only the triggers whose
inputs changed (`moss_core.client.hooks.run_transaction_triggers`).

Anything that makes the difference uncertain falls back to composing and blitting the whole
tree: a tree whose `.stateID` is not its state's, a tree with transaction trigger files and no
record that matches it (each recorded output where it was, as it was), a change at a trigger
output's path or above it, an entry of either state beneath a symlink of that state (the VFS
moves those), and every conflict (the full composition names them all).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from moss_core.blit import probe_strategy, update
from moss_core.client.apply import RECYCLED_MARKER
from moss_core.client.report import Reporter
from moss_core.db import LayoutDb, StateDb
from moss_core.fs import fsync_directory, remove_tree, write_atomically
from moss_core.installation import STATE_ID_FILE, Installation, read_state_id
from moss_core.trigger_record import (
    RECORD_FILE,
    Artefacts,
    blocks_update,
    decode,
    fingerprint,
)
from moss_core.triggers.files import Scope, trigger_files
from moss_core.vfs import TOP, Tree, VfsError, build_tree
from moss_core.vfs_diff import TreeDiff, changed_paths, diff_nodes
from stone import FileKind, LayoutEntry

KEEP_TREES = 2
"""Archived trees kept whole for instant rollback; beyond them the oldest is recycled."""

# What moss itself writes into a tree beside the packages' entries (`apply.write_state_files`).
_MODEL = "lib/system-model.kdl"
_STATE_FILES = ("lib/os-release", _MODEL)


@dataclass(frozen=True)
class Change:
    """How the tree of `source` becomes the new state's: `diff`, between the nodes of `old`
    and `new` at the changed `paths` (the trees may hold other paths: they are not changes).
    `recorded`: the source tree's trigger record."""

    source: int
    diff: TreeDiff
    old: Tree
    new: Tree
    paths: frozenset[str]
    recorded: Artefacts | None = None

    @property
    def changed(self) -> dict[str, str | None]:
        """The new tree's fingerprints at the changed paths, None where no entry is."""
        found: dict[str, str | None] = {}
        for path in self.paths:
            node = self.new.get(path)
            found[path] = None if node is None else fingerprint(node)
        return found


def is_recycled(installation: Installation, state_id: int) -> bool:
    """Whether the state's tree went to a newer state (and is not back)."""
    archive = installation.archived_state_dir(state_id)
    return (archive / RECYCLED_MARKER).exists() and not (archive / "usr").is_dir()


def forget_recycled(installation: Installation, state_id: int) -> None:
    """The state has a tree again (it was re-blitted and made live)."""
    archive = installation.archived_state_dir(state_id)
    (archive / RECYCLED_MARKER).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        archive.rmdir()


def plan_change(
    layout_db: LayoutDb, old_ids: Iterable[str], new_ids: Iterable[str]
) -> tuple[TreeDiff, Tree, Tree, frozenset[str]] | None:
    """The difference between two states' trees, from the rows at the changed packages'
    paths, the trees of those rows and the paths; None when only a full composition can tell
    (see the module's description)."""
    old, new = set(old_ids), set(new_ids)
    if layout_db.any_beneath_symlink(old) or layout_db.any_beneath_symlink(new):
        return None
    layout_paths = {entry.path for _, entry in layout_db.query(old ^ new)}
    layout_paths.update(_STATE_FILES)
    paths = changed_paths(layout_paths)
    relative = {path: path[len(TOP) + 1 :] for path in paths if path != TOP}
    rows = layout_db.at_paths(relative.values(), old | new)
    trees = []
    for ids in (old, new):
        subset = [(pid, entry) for pid, entry in rows if pid in ids]
        tree = _subset_tree(layout_db, subset, relative, ids)
        if tree is None:
            return None
        trees.append(tree)
    return diff_nodes(trees[0].get, trees[1].get, paths), trees[0], trees[1], frozenset(paths)


def _subset_tree(
    layout_db: LayoutDb,
    subset: list[tuple[str, LayoutEntry]],
    relative: dict[str, str],
    ids: set[str],
) -> Tree | None:
    """The tree of the rows at the changed paths, whose nodes there are the full tree's."""
    present = changed_paths(entry.path for _, entry in subset)
    holding = layout_db.holding(relative.values(), ids)
    for path, layout_path in relative.items():
        if layout_path in holding and path not in present:
            # A directory no changed row is at or beneath: the tree has it (implicitly) only
            # for the unchanged rows beneath it, one of which stands for them all.
            witness = layout_db.first_beneath(layout_path, ids)
            if witness is not None:
                subset.append(witness)
                present |= changed_paths([witness[1].path])
    try:
        tree = build_tree(subset)
    except VfsError:
        return None
    for path, layout_path in relative.items():
        node = tree.get(path)
        if node is not None and node.kind is not FileKind.DIRECTORY and layout_path in holding:
            return None  # entries beneath a file: a conflict the full composition describes
    return tree


def pick_source(
    installation: Installation, state_db: StateDb, active: int | None
) -> tuple[int, Artefacts | None] | None:
    """The archived tree to recycle (the oldest, once `KEEP_TREES` of them are kept) and its
    trigger record."""
    archived = [
        state_id
        for state_id in sorted(state_db.ids())
        if state_id != active and installation.archived_usr(state_id).is_dir()
    ]
    if len(archived) < KEEP_TREES:
        return None
    for state_id in archived:
        usr = installation.archived_usr(state_id)
        if read_state_id(usr) != state_id or os.path.islink(usr):
            continue
        recorded = read_record(usr, state_id)
        if recorded is None and trigger_files(
            installation.archived_state_dir(state_id), Scope.TRANSACTION
        ):
            continue
        if recorded is not None and not outputs_intact(usr, recorded):
            continue
        return state_id, recorded
    return None


def read_record(usr: Path, state_id: int) -> Artefacts | None:
    """The tree's trigger record, if it has one and it is that state's."""
    try:
        text = (usr / RECORD_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    recorded = decode(text)
    return recorded if recorded is not None and recorded.state == state_id else None


def outputs_intact(usr: Path, recorded: Artefacts) -> bool:
    """The cheap check: every recorded output is there, of its kind, size and time."""
    for output in recorded.outputs():
        try:
            info = os.lstat(usr / output.path[len(TOP) + 1 :])
        except OSError:
            return False
        kind = (
            "symlink"
            if stat.S_ISLNK(info.st_mode)
            else "directory"
            if stat.S_ISDIR(info.st_mode)
            else "file"
        )
        if kind != output.kind:
            return False
        if kind != "directory" and (info.st_size, info.st_mtime_ns) != (
            output.size,
            output.mtime_ns,
        ):
            return False
    return True


def plan_recycling(
    installation: Installation,
    state_db: StateDb,
    layout_db: LayoutDb,
    new_ids: Sequence[str],
    active: int | None,
) -> Change | None:
    picked = pick_source(installation, state_db, active)
    if picked is None:
        return None
    source, recorded = picked
    state = state_db.get(source)
    if state is None:
        return None
    layout_db.index_paths()
    planned = plan_change(layout_db, [s.package_id for s in state.selections], new_ids)
    if planned is None:
        return None
    change = Change(source, *planned, recorded=recorded)
    if recorded is not None and blocks_update(
        recorded, change.paths, (node.path for node in change.diff.removed)
    ):
        return None
    return change


def stage(installation: Installation, change: Change, reporter: Reporter) -> Path:
    """Move the source state's tree into staging and make it the new state's tree.

    The source is marked recycled (durably) before its tree leaves the archive, so that a
    crash leaves it a state whose tree is re-blitted on activation; staging, as always, is
    removed by recovery. The live tree is not touched.
    """
    staging_usr = installation.staging_dir / "usr"
    archive = installation.archived_state_dir(change.source)
    remove_tree(staging_usr)
    installation.staging_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(archive / RECYCLED_MARKER, f"{change.source}\n")
    os.rename(archive / "usr", staging_usr)
    fsync_directory(archive)
    fsync_directory(installation.staging_dir)
    try:
        _remove_state_files(staging_usr, change)
        assets_fd = os.open(installation.assets_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            target_fd = os.open(staging_usr, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                stats = update(
                    change.diff,
                    change.new.get,
                    assets_fd,
                    target_fd,
                    strategy=probe_strategy(assets_fd, target_fd),
                )
            finally:
                os.close(target_fd)
        finally:
            os.close(assets_fd)
    except BaseException:
        remove_tree(staging_usr)
        raise
    reporter.info(f"{stats.summary()} (the tree of state #{change.source}, updated)")
    return staging_usr


def _remove_state_files(usr: Path, change: Change) -> None:
    """What moss wrote into the source tree beside its packages' entries goes before the
    update, so that the diff meets the source state's entries and nothing else. The model is
    always moss's own (written over a package's), os-release only when no package ships it."""
    (usr / STATE_ID_FILE).unlink(missing_ok=True)
    (usr / RECORD_FILE).unlink(missing_ok=True)
    if change.old.get(f"{TOP}/lib") is None:
        remove_tree(usr / "lib")
        return
    for name in _STATE_FILES:
        if name == _MODEL or change.old.get(f"{TOP}/{name}") is None:
            (usr / name).unlink(missing_ok=True)

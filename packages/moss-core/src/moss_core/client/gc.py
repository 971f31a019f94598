"""Removing states, and collecting the packages, assets and downloads no state needs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from moss_core.db import LayoutDb, MetaDb, State, StateDb
from moss_core.fs import fsync_directory, remove_tree
from moss_core.installation import Installation
from moss_core.store import ASSETS_VERSION


def prune_candidates(
    states: list[State], active: int, keep: int, *, include_newer: bool
) -> list[State]:
    """The states `state prune -k keep` removes: the oldest beyond the newest `keep - 1` others."""
    candidates = [s for s in states if (s.id != active if include_newer else s.id < active)]
    candidates.sort(key=lambda s: (s.created, s.id))
    return candidates[: max(0, len(candidates) - max(keep - 1, 0))]


REMOVING_PREFIX = ".removing-"
"""An archived state's tree is renamed to this prefix and its id before it is deleted."""


def remove_states(installation: Installation, state_db: StateDb, state_ids: Iterable[int]) -> None:
    """Trees out of place first (one rename each), then rows, then the trees themselves.

    A tree is never half there under its state's name: a crash leaves each state with its
    whole archived tree or none; recovery drops rows without a tree and the renamed trees.
    """
    ids = list(state_ids)
    doomed = []
    for state_id in ids:
        archive = installation.archived_state_dir(state_id)
        if os.path.lexists(archive):
            removing = installation.trees_dir / f"{REMOVING_PREFIX}{state_id}"
            remove_tree(removing)
            os.rename(archive, removing)
            doomed.append(removing)
    fsync_directory(installation.trees_dir)
    state_db.remove(ids)
    for removing in doomed:
        remove_tree(removing)


def remove_leftover_trees(installation: Installation) -> None:
    """Delete the trees a `remove_states` interrupted after renaming them left behind."""
    with os.scandir(installation.trees_dir) as entries:
        leftovers = [e.path for e in entries if e.name.startswith(REMOVING_PREFIX)]
    for path in leftovers:
        remove_tree(Path(path))


def collect_garbage(
    installation: Installation,
    state_db: StateDb,
    install_db: MetaDb,
    layout_db: LayoutDb,
    *,
    keep: Iterable[str] = (),
) -> int:
    """Forget packages no state references (rows first), then delete the files nothing names.

    Returns the number of packages forgotten.
    """
    referenced = state_db.all_package_ids() | set(keep)
    unused = (install_db.ids() | layout_db.ids()) - referenced
    if unused:
        layout_db.remove(unused)
        install_db.remove(unused)
        # Before the files go: an unrecorded asset left behind is hashed again when met.
        layout_db.forget_unused_blake3()
    _sweep_assets(installation.assets_dir / ASSETS_VERSION, layout_db.digests())
    _sweep_downloads(installation.downloads_dir, install_db.ids() | set(keep))
    return len(unused)


def _sweep_assets(assets: Path, wanted: set[int]) -> None:
    for directory, _dirs, files in os.walk(assets, topdown=False):
        for name in files:
            stem = name.removesuffix(".part")
            try:
                keep = stem == name and int(stem, 16) in wanted
            except ValueError:
                keep = False
            if not keep:
                os.unlink(os.path.join(directory, name))
        if directory != str(assets):
            with contextlib.suppress(OSError):
                os.rmdir(directory)


def _sweep_downloads(downloads: Path, wanted: set[str]) -> None:
    for directory, _dirs, files in os.walk(downloads, topdown=False):
        for name in files:
            if name not in wanted:
                os.unlink(os.path.join(directory, name))
        if directory != str(downloads):
            with contextlib.suppress(OSError):
                os.rmdir(directory)

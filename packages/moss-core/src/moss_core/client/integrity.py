"""Whether the databases still record what the root holds: an emptied database is told
apart from a new root before anything is changed (`rebuild` is the way out)."""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from moss_core.client.errors import ClientError
from moss_core.db import DatabaseError, LayoutDb, MetaDb, StateDb
from moss_core.installation import Installation

REBUILD_COMMAND = "state verify --rebuild-db"
_STATE_DIR = re.compile(r"[0-9]+")


class DatabaseLostError(ClientError):
    """A database no longer records software the root has; nothing was changed."""


@dataclass(frozen=True)
class Evidence:
    """What the root holds, against what its databases record."""

    live: int | None
    """The live tree's state (`usr/.stateID`)."""
    archived: tuple[int, ...]
    """States with an archived tree."""
    recorded: frozenset[int]
    """States in the state database."""
    last_id: int
    """The highest state id the state database has handed out."""
    selects_any: bool
    """Whether some recorded state selects a package."""
    metadata_empty: bool
    layouts_empty: bool


def lost_databases(evidence: Evidence, db_dir: Path) -> list[str]:
    """What the databases have lost, one phrase each; empty when they are whole.

    Lost: the live state, or every state while trees are on disk, or a state whose id the
    next transaction would be given again over its archived tree; and metadata or layouts
    while states select packages. Archived trees the state database does not record but will
    never number again are tolerated (`state verify --rebuild-db` records them). Assets alone
    are no evidence: a first transaction that failed leaves them, recorded by nothing, until
    `cache prune`.
    """
    trees = sorted({*evidence.archived, *([] if evidence.live is None else [evidence.live])})
    if not evidence.recorded:
        untracked = trees
    else:
        untracked = [
            i
            for i in trees
            if i not in evidence.recorded and (i == evidence.live or i > evidence.last_id)
        ]
    lost = []
    if untracked:
        states = ", ".join(f"#{i}" for i in untracked)
        if evidence.recorded:
            lost.append(
                f"{db_dir / 'state'} has no record of state(s) {states}, whose trees are on disk"
            )
        else:
            lost.append(f"{db_dir / 'state'} is empty, but state(s) {states} are on disk")
    if evidence.selects_any or untracked:
        if evidence.metadata_empty:
            lost.append(f"{db_dir / 'install'} is empty")
        if evidence.layouts_empty:
            lost.append(f"{db_dir / 'layout'} is empty")
    return lost


def gather_evidence(
    installation: Installation, state_db: StateDb, install_db: MetaDb, layout_db: LayoutDb
) -> Evidence:
    return Evidence(
        live=installation.active_state_id(),
        archived=tuple(archived_states(installation)),
        recorded=frozenset(state_db.ids()),
        last_id=state_db.last_id(),
        selects_any=state_db.selects_any(),
        metadata_empty=install_db.is_empty(),
        layouts_empty=layout_db.is_empty(),
    )


def archived_states(installation: Installation) -> list[int]:
    """The states with an archived tree, by id."""
    if not installation.trees_dir.is_dir():
        return []  # a root moss has not set up (a query does not set it up)
    with os.scandir(installation.trees_dir) as entries:
        found = [
            int(e.name)
            for e in entries
            if _STATE_DIR.fullmatch(e.name) and os.path.isdir(os.path.join(e.path, "usr"))
        ]
    return sorted(found)


def rebuild_hint(installation: Installation) -> str:
    where = "" if installation.root == Path("/") else f" -D {installation.root}"
    return (
        f"run `moss{where} {REBUILD_COMMAND}` to rebuild the databases from the state trees"
        " and the cached packages; nothing was changed"
    )


def is_unreadable(error: DatabaseError) -> bool:
    """Whether the file is damaged (not a database, malformed), rather than busy, of a newer
    schema or not ours to write: only a damaged file is set aside and rebuilt."""
    cause = error.__cause__
    return isinstance(cause, sqlite3.DatabaseError) and not isinstance(
        cause, sqlite3.OperationalError
    )

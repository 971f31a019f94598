"""The state database (`.moss/db/state`): each system state and the packages it selects.

Which state is active is not recorded here: `/usr/.stateID` inside the tree is the only record.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from moss_core.db._base import Database, Migration

_V1 = (
    """CREATE TABLE IF NOT EXISTS state (
        id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        created BIGINT NOT NULL DEFAULT (unixepoch()),
        summary TEXT NULL,
        description TEXT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS state_selections (
        state_id INTEGER NOT NULL,
        package_id TEXT NOT NULL,
        explicit BOOLEAN NOT NULL,
        reason TEXT NULL,
        PRIMARY KEY (state_id, package_id),
        FOREIGN KEY (state_id) REFERENCES state(id) ON DELETE CASCADE
    )""",
)

TRANSACTION = "transaction"
_SELECT_STATE = "SELECT id, type, created, summary, description FROM state"
_SELECT_SELECTIONS = "SELECT state_id, package_id, explicit, reason FROM state_selections"


@dataclass(frozen=True)
class Selection:
    """A package in a state; `explicit` when the user asked for it, not pulled in for another."""

    package_id: str
    explicit: bool
    reason: str | None = None


@dataclass(frozen=True)
class State:
    id: int
    summary: str | None
    description: str | None
    created: int
    """Creation time, UTC seconds since the epoch."""
    selections: tuple[Selection, ...]
    kind: str = TRANSACTION


class StateDb(Database):
    """States by id. Ids come from AUTOINCREMENT, so one is never reused, even after the newest
    state is removed."""

    MIGRATIONS: ClassVar[Sequence[Migration]] = (_V1,)
    MAIN_TABLE: ClassVar[str] = "state"

    def add(
        self,
        selections: Iterable[Selection],
        summary: str | None = None,
        description: str | None = None,
        *,
        created: int | None = None,
    ) -> State:
        """Record a new state; `created` defaults to now (as SQLite's clock has it)."""
        with self._write() as conn:
            if created is None:
                cursor = conn.execute(
                    "INSERT INTO state (type, summary, description) VALUES (?, ?, ?) RETURNING id",
                    (TRANSACTION, summary, description),
                )
            else:
                cursor = conn.execute(
                    "INSERT INTO state (type, created, summary, description)"
                    " VALUES (?, ?, ?, ?) RETURNING id",
                    (TRANSACTION, created, summary, description),
                )
            (state_id,) = cursor.fetchone()
            conn.executemany(
                "INSERT INTO state_selections (state_id, package_id, explicit, reason)"
                " VALUES (?, ?, ?, ?)",
                ((state_id, s.package_id, s.explicit, s.reason) for s in selections),
            )
            states = self._load(conn, state_id)
        return states[0]

    def restore(self, states: Iterable[State]) -> None:
        """Record states under their own ids, in one transaction (rebuilding the database from
        the trees on disk). The next `add` numbers after the highest id ever recorded."""
        with self._write() as conn:
            for state in states:
                conn.execute(
                    "INSERT INTO state (id, type, created, summary, description)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (state.id, state.kind, state.created, state.summary, state.description),
                )
                conn.executemany(
                    "INSERT INTO state_selections (state_id, package_id, explicit, reason)"
                    " VALUES (?, ?, ?, ?)",
                    ((state.id, s.package_id, s.explicit, s.reason) for s in state.selections),
                )

    def last_id(self) -> int:
        """The highest id ever handed out (0 for none): `add` numbers after it."""
        with self._read() as conn:
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'state'").fetchone()
            return int(row[0]) if row is not None else 0

    def reserve_ids(self, through: int) -> None:
        """Make `add` number after `through`: ids of trees on disk that no row records."""
        with self._write() as conn:
            updated = conn.execute(
                "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'state'", (through,)
            )
            if updated.rowcount == 0:
                conn.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('state', ?)", (through,)
                )

    def selects_any(self) -> bool:
        """Whether some state selects a package."""
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM state_selections LIMIT 1").fetchone() is not None

    def get(self, state_id: int) -> State | None:
        with self._read() as conn:
            states = self._load(conn, state_id)
        return states[0] if states else None

    def list(self) -> builtins.list[State]:
        """Every state, by ascending id."""
        with self._read() as conn:
            return self._load(conn, None)

    def ids(self) -> builtins.list[int]:
        with self._read() as conn:
            return [state_id for (state_id,) in conn.execute("SELECT id FROM state ORDER BY id")]

    def remove(self, state_ids: Iterable[int]) -> None:
        """Delete those states and their selections; ids not present are ignored."""
        with self._write() as conn:
            self._execute_in(conn, "DELETE FROM state WHERE id IN ({})", state_ids)

    def all_package_ids(self) -> set[str]:
        """Every package id some state selects: what garbage collection keeps."""
        with self._read() as conn:
            rows = conn.execute("SELECT DISTINCT package_id FROM state_selections")
            return {package_id for (package_id,) in rows}

    def _load(self, conn: sqlite3.Connection, state_id: int | None) -> builtins.list[State]:
        """One state, or every state when `state_id` is None; selections in the order given."""
        if state_id is None:
            states = conn.execute(_SELECT_STATE + " ORDER BY id").fetchall()
            rows = conn.execute(_SELECT_SELECTIONS + " ORDER BY state_id, rowid")
        else:
            states = conn.execute(_SELECT_STATE + " WHERE id = ?", (state_id,)).fetchall()
            rows = conn.execute(
                _SELECT_SELECTIONS + " WHERE state_id = ? ORDER BY rowid", (state_id,)
            )
        selections: dict[int, builtins.list[Selection]] = {row[0]: [] for row in states}
        for owner, package_id, explicit, reason in rows:
            selections[owner].append(Selection(package_id, bool(explicit), reason))
        return [
            State(
                id=row_id,
                summary=summary,
                description=description,
                created=created,
                selections=tuple(selections[row_id]),
                kind=kind,
            )
            for row_id, kind, created, summary, description in states
        ]

"""StateDb: states and selections round-trip, ids are never reused, removal cascades."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from moss_core.db import DatabaseError, Selection, State, StateDb

SELECTIONS = (
    Selection("f00", explicit=True),
    Selection("a11", explicit=False, reason="pulled in by f00"),
    Selection("c22", explicit=True),
)


def test_add_and_read_back(state_db: StateDb, tmp_path: Path) -> None:
    before = int(time.time())
    state = state_db.add(SELECTIONS, "Install")
    after = int(time.time())
    assert state == State(1, "Install", None, state.created, SELECTIONS, "transaction")
    assert before - 1 <= state.created <= after + 1
    assert state_db.get(1) == state
    assert state_db.get(2) is None
    second = state_db.add([], "Remove", "nothing left", created=1_700_000_000)
    assert second == State(2, "Remove", "nothing left", 1_700_000_000, ())
    assert state_db.list() == [state, second]
    assert state_db.ids() == [1, 2]
    conn = sqlite3.connect(tmp_path / "state")
    assert conn.execute("SELECT type, summary FROM state ORDER BY id").fetchall() == [
        ("transaction", "Install"),
        ("transaction", "Remove"),
    ]
    assert conn.execute(
        "SELECT package_id, explicit, reason FROM state_selections ORDER BY package_id"
    ).fetchall() == [("a11", 0, "pulled in by f00"), ("c22", 1, None), ("f00", 1, None)]


def test_ids_are_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "state"
    with StateDb.open(path) as db:
        db.add([Selection("a", True)], "Install")
        db.add([Selection("b", True)], "Install")
        db.remove([2])
        assert db.add([], "Sync").id == 3
        db.remove([1, 3])
        assert db.list() == []
    with StateDb.open(path) as db:
        assert db.add([], "Install").id == 4


def test_remove_cascades_and_ignores_unknown_ids(state_db: StateDb, tmp_path: Path) -> None:
    state_db.add([Selection("a", True), Selection("b", False)], "Install")
    state_db.add([Selection("b", True), Selection("c", False)], "Install")
    assert state_db.all_package_ids() == {"a", "b", "c"}
    state_db.remove([1, 99])
    assert state_db.ids() == [2]
    assert state_db.all_package_ids() == {"b", "c"}
    conn = sqlite3.connect(tmp_path / "state")
    assert conn.execute("SELECT DISTINCT state_id FROM state_selections").fetchall() == [(2,)]


def test_a_failed_add_leaves_no_state(state_db: StateDb) -> None:
    state_db.add([Selection("a", True)], "Install")
    with pytest.raises(DatabaseError, match="UNIQUE constraint failed"):
        state_db.add([Selection("x", True), Selection("x", False)], "Install")
    assert state_db.ids() == [1]
    # The rollback took the id sequence back too: no state with id 2 ever existed.
    assert state_db.add([], "Install").id == 2


def test_restore_keeps_ids_and_numbering_goes_on_after_them(state_db: StateDb) -> None:
    assert state_db.is_empty() and not state_db.selects_any() and state_db.last_id() == 0
    restored = [
        State(3, "Rebuilt", None, 1000, (Selection("a", True), Selection("b", False))),
        State(7, "Rebuilt", None, 2000, ()),
    ]
    state_db.restore(restored)
    assert state_db.list() == restored
    assert not state_db.is_empty() and state_db.selects_any() and state_db.last_id() == 7
    assert state_db.add([Selection("c", True)]).id == 8


def test_reserved_ids_are_never_handed_out(state_db: StateDb) -> None:
    state_db.reserve_ids(5)
    assert state_db.last_id() == 5 and state_db.is_empty()
    assert state_db.add([]).id == 6
    state_db.reserve_ids(2)  # never lowers the numbering
    assert state_db.add([]).id == 7


def test_a_zero_length_file_opens_empty(tmp_path: Path) -> None:
    (tmp_path / "state").write_bytes(b"")
    with StateDb.open(tmp_path / "state") as db:
        assert db.is_empty() and db.last_id() == 0

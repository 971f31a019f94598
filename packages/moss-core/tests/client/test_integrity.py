"""Telling a database that lost what the root holds from a new or emptied-by-design root."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moss_core.client.integrity import Evidence, is_unreadable, lost_databases
from moss_core.db import DatabaseError, MetaDb

DB = Path("/r/.moss/db")
NEW_ROOT = Evidence(
    live=None,
    archived=(),
    recorded=frozenset(),
    last_id=0,
    selects_any=False,
    metadata_empty=True,
    layouts_empty=True,
)
HEALTHY = Evidence(
    live=3,
    archived=(1, 2),
    recorded=frozenset({1, 2, 3}),
    last_id=3,
    selects_any=True,
    metadata_empty=False,
    layouts_empty=False,
)


def test_a_new_root_and_a_healthy_one_lose_nothing() -> None:
    assert lost_databases(NEW_ROOT, DB) == []
    assert lost_databases(HEALTHY, DB) == []


def test_an_empty_layout_database_under_installed_states() -> None:
    lost = lost_databases(dataclasses.replace(HEALTHY, layouts_empty=True), DB)
    assert lost == ["/r/.moss/db/layout is empty"]


def test_an_empty_install_database_under_installed_states() -> None:
    lost = lost_databases(dataclasses.replace(HEALTHY, metadata_empty=True), DB)
    assert lost == ["/r/.moss/db/install is empty"]


def test_an_empty_state_database_over_trees_names_them_and_the_other_empty_ones() -> None:
    emptied = dataclasses.replace(
        NEW_ROOT, live=3, archived=(1, 2), metadata_empty=False, layouts_empty=True
    )
    assert lost_databases(emptied, DB) == [
        "/r/.moss/db/state is empty, but state(s) #1, #2, #3 are on disk",
        "/r/.moss/db/layout is empty",
    ]
    archived_only = dataclasses.replace(NEW_ROOT, archived=(4,))
    assert lost_databases(archived_only, DB)[0].startswith("/r/.moss/db/state is empty")


def test_states_that_select_nothing_need_no_packages() -> None:
    removed_all = dataclasses.replace(HEALTHY, selects_any=False, layouts_empty=True)
    assert lost_databases(removed_all, DB) == []


def test_unrecorded_trees_are_lost_only_where_numbering_would_reach_them() -> None:
    # An archived tree the rebuild could not record has its id reserved: tolerated.
    reserved = dataclasses.replace(HEALTHY, archived=(1, 2, 5), last_id=5)
    assert lost_databases(reserved, DB) == []
    reused = dataclasses.replace(HEALTHY, archived=(1, 2, 5), last_id=4)
    assert lost_databases(reused, DB) == [
        "/r/.moss/db/state has no record of state(s) #5, whose trees are on disk"
    ]
    live_unknown = dataclasses.replace(HEALTHY, live=9, last_id=9)
    assert lost_databases(live_unknown, DB) == [
        "/r/.moss/db/state has no record of state(s) #9, whose trees are on disk"
    ]


ids = st.integers(min_value=1, max_value=20)


@given(
    live=st.none() | ids,
    archived=st.frozensets(ids),
    recorded=st.frozensets(ids),
    extra=st.integers(min_value=0, max_value=5),
    selects_any=st.booleans(),
    metadata_empty=st.booleans(),
    layouts_empty=st.booleans(),
)
def test_software_on_disk_is_never_silently_unrecorded(
    live: int | None,
    archived: frozenset[int],
    recorded: frozenset[int],
    extra: int,
    selects_any: bool,
    metadata_empty: bool,
    layouts_empty: bool,
) -> None:
    evidence = Evidence(
        live=live,
        archived=tuple(sorted(archived)),
        recorded=recorded,
        last_id=max(recorded, default=0) + extra,
        selects_any=selects_any and bool(recorded),
        metadata_empty=metadata_empty,
        layouts_empty=layouts_empty,
    )
    lost = lost_databases(evidence, DB)
    if live is not None and live not in recorded:
        assert any("/state " in line for line in lost)
    if (archived or live is not None) and not recorded:
        assert any("/state is empty" in line for line in lost)
    if any(i > evidence.last_id for i in archived):
        assert any("/state " in line for line in lost)
    if evidence.selects_any and layouts_empty:
        assert f"{DB}/layout is empty" in lost
    if evidence.selects_any and metadata_empty:
        assert f"{DB}/install is empty" in lost


def _open_error(path: Path) -> DatabaseError:
    with pytest.raises(DatabaseError) as caught:
        MetaDb.open(path)
    return caught.value


def test_only_a_damaged_file_counts_as_unreadable(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    damaged.write_bytes(os.urandom(4096))
    assert is_unreadable(_open_error(damaged))
    newer = tmp_path / "newer"
    with contextlib.closing(sqlite3.connect(newer)) as conn:
        conn.execute("PRAGMA user_version = 99")
    # Written by a newer moss: never set aside and rebuilt over.
    assert not is_unreadable(_open_error(newer))

"""Lost databases: refused before anything changes, rebuilt with `state verify --rebuild-db`."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path

import pytest
from moss_roots import tree_listing

from moss_core.db import StateDb

from .helpers import MossRun, make_stone

DATABASES = ("install", "layout", "state")


@pytest.fixture
def three_states(root: Path, packages: Path, moss: MossRun) -> dict[str, Path]:
    """#1 a; #2 a b; #3 a b c (live), each installed by name of file."""
    stones = {name: make_stone(packages, name) for name in "abc"}
    for name in "abc":
        assert moss("install", str(stones[name])).code == 0
    return stones


def _rows(path: Path) -> object:
    """Every row a database file holds; the bytes of a file SQLite cannot read."""
    try:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return sorted(line for line in conn.iterdump() if line.startswith("INSERT"))
    except sqlite3.DatabaseError:
        return path.read_bytes()


def _snapshot(root: Path) -> tuple[object, ...]:
    """The live tree, the archived trees and every database's rows."""
    db = root / ".moss/db"
    files = {
        p.name: _rows(p) for p in sorted(db.iterdir()) if not p.name.endswith(("-wal", "-shm"))
    }
    archived = sorted(p.name for p in (root / ".moss/root").iterdir())
    return tree_listing(root / "usr"), archived, files


def _states(moss: MossRun) -> list[tuple[int, bool, list[tuple[str, bool]]]]:
    listed = moss("state", "list", "--json")
    assert listed.code == 0, listed.text
    return [
        (s["id"], s["active"], sorted((p["id"], p["explicit"]) for p in s["packages"]))
        for s in json.loads(listed.out)
    ]


def _refused(root: Path, moss: MossRun, *args: str) -> str:
    before = _snapshot(root)
    result = moss(*args)
    assert result.code == 1, result.text
    assert result.err.startswith("moss: error: ") and result.err.count("\n") == 1, result.err
    assert _snapshot(root) == before
    return result.err


def _empty(root: Path, *names: str) -> None:
    for name in names:
        path = root / ".moss/db" / name
        path.write_bytes(b"")
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_a_truncated_layout_database_is_refused_then_rebuilt(
    root: Path, packages: Path, moss: MossRun, three_states: dict[str, Path]
) -> None:
    states = _states(moss)
    _empty(root, "layout")
    d = make_stone(packages, "d")
    for args in (("install", str(d)), ("list", "installed"), ("state", "verify")):
        error = _refused(root, moss, *args)
        assert f"{root}/.moss/db/layout is empty" in error
        assert f"run `moss -D {root} state verify --rebuild-db`" in error

    rebuilt = moss("state", "verify", "--rebuild-db")
    assert rebuilt.code == 0, rebuilt.text
    assert rebuilt.out.strip().endswith("No issues found")
    assert _states(moss) == states
    assert moss("install", str(d)).code == 0
    assert sorted(os.listdir(root / "usr/share")) == ["a", "b", "c", "d"]


def test_emptied_databases_never_number_over_archived_trees(
    root: Path, packages: Path, moss: MossRun, three_states: dict[str, Path]
) -> None:
    states = _states(moss)
    _empty(root, *DATABASES)
    error = _refused(root, moss, "install", str(make_stone(packages, "d")))
    assert f"{root}/.moss/db/state is empty, but state(s) #1, #2, #3 are on disk" in error

    rebuilt = moss("state", "verify", "--rebuild-db")
    assert rebuilt.code == 0, rebuilt.text
    assert "Recorded state #3 (3 packages)" in rebuilt.out
    assert _states(moss) == states  # ids, the live one, packages and which were explicit
    assert moss("install", str(make_stone(packages, "d"))).code == 0
    assert [s[0] for s in _states(moss)] == [1, 2, 3, 4]
    assert moss("state", "activate", "2").code == 0
    assert sorted(os.listdir(root / "usr/share")) == ["a", "b"]


def test_a_state_database_with_no_rows_is_refused(
    root: Path, moss: MossRun, three_states: dict[str, Path]
) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{root}/.moss/db/state{suffix}").unlink(missing_ok=True)
    StateDb.open(root / ".moss/db/state").close()
    assert "state is empty, but state(s) #1, #2, #3" in _refused(root, moss, "state", "list")
    assert moss("state", "verify", "--rebuild-db").code == 0
    assert [s[0] for s in _states(moss)] == [1, 2, 3]


def test_a_damaged_database_is_set_aside_and_rebuilt(
    root: Path, moss: MossRun, three_states: dict[str, Path]
) -> None:
    states = _states(moss)
    _empty(root, "state")
    (root / ".moss/db/state").write_bytes(os.urandom(8192))
    error = _refused(root, moss, "list", "installed")
    assert error.startswith(f"moss: error: {root}/.moss/db/state: file is not a database: run")

    rebuilt = moss("state", "verify", "--rebuild-db")
    assert rebuilt.code == 0, rebuilt.text
    assert f"set {root}/.moss/db/state aside as {root}/.moss/db/state.unreadable-" in rebuilt.err
    assert _states(moss) == [(i, live, p) for i, live, p in states]
    assert any(p.name.startswith("state.unreadable-") for p in (root / ".moss/db").iterdir())


def test_the_live_state_is_rebuilt_whole_or_not_at_all(
    root: Path, moss: MossRun, three_states: dict[str, Path]
) -> None:
    b_id = next(
        p["id"]
        for p in json.loads(moss("state", "query", "3", "--json").out)["packages"]
        if p["name"] == "b"
    )
    cached = root / ".moss/cache/downloads/v1" / b_id[:5] / b_id[-5:] / b_id
    cached.unlink()
    _empty(root, *DATABASES)
    error = _refused(root, moss, "state", "verify", "--rebuild-db")
    assert "cannot rebuild the live state #3: missing package(s): " in error
    assert "neither in the download cache nor in any repository" in error
    assert error.endswith("nothing was changed\n")
    # Still refused, still the way out once the package is back.
    assert "state is empty" in _refused(root, moss, "list", "installed")


def test_an_archived_state_that_cannot_be_rebuilt_keeps_its_tree_and_its_id(
    root: Path, packages: Path, moss: MossRun
) -> None:
    a, b = make_stone(packages, "a"), make_stone(packages, "b")
    assert moss("install", str(a)).code == 0
    assert moss("install", str(b)).code == 0
    assert moss("remove", "b").code == 0  # #3, live, holds a only
    cached = {p.name: p for p in (root / ".moss/cache/downloads/v1").rglob("*") if p.is_file()}
    b_id = next(i for i, path in cached.items() if path.read_bytes() == b.read_bytes())
    cached[b_id].unlink()
    _empty(root, *DATABASES)

    rebuilt = moss("state", "verify", "--rebuild-db")
    assert rebuilt.code == 1, rebuilt.text
    assert f"state #2: missing package(s): name(b) {b_id} (neither in the download cache" in (
        rebuilt.err
    )
    assert "not recorded, its tree stays" in rebuilt.err
    assert rebuilt.err.endswith("moss: error: 1 thing(s) could not be rebuilt (listed above)\n")
    assert [s[0] for s in _states(moss)] == [1, 3]
    assert moss("install", str(make_stone(packages, "c"))).code == 0
    assert [s[0] for s in _states(moss)] == [1, 3, 4]
    assert (root / ".moss/root/2/usr/share/b").is_dir()


def test_a_repaired_tree_keeps_its_record_and_can_still_be_rebuilt(
    root: Path, moss: MossRun, three_states: dict[str, Path]
) -> None:
    states = _states(moss)
    trees = [root / "usr", root / ".moss/root/1/usr"]
    models = [(usr / "lib/system-model.kdl").read_bytes() for usr in trees]
    os_release = (root / "usr/lib/os-release").read_bytes()
    for usr in trees:
        (usr / "share/a/README").unlink()
    repaired = moss("state", "verify")
    assert repaired.code == 0 and "All issues resolved" in repaired.out, repaired.text
    assert [(usr / "lib/system-model.kdl").read_bytes() for usr in trees] == models
    assert (root / "usr/lib/os-release").read_bytes() == os_release

    _empty(root, *DATABASES)
    assert moss("state", "verify", "--rebuild-db").code == 0
    assert _states(moss) == states

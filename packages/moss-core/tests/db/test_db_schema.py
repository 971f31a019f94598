"""The files themselves: table shapes as upstream's, versioning, pragmas, errors naming the path."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

from moss_core.db import DatabaseError, LayoutDb, MetaDb, StateDb
from moss_core.errors import MossError
from stone import Meta

Column = tuple[str, str, bool, int]  # name, declared type, NOT NULL, position in the primary key

META_TABLES: dict[str, list[Column]] = {
    "meta": [
        ("package", "TEXT", True, 1),
        ("name", "TEXT", True, 0),
        ("version_identifier", "TEXT", True, 0),
        ("source_release", "INT", True, 0),
        ("build_release", "INT", True, 0),
        ("architecture", "TEXT", True, 0),
        ("summary", "TEXT", True, 0),
        ("description", "TEXT", True, 0),
        ("source_id", "TEXT", True, 0),
        ("homepage", "TEXT", True, 0),
        ("uri", "TEXT", False, 0),
        ("hash", "TEXT", False, 0),
        ("download_size", "BIGINT", False, 0),
    ],
    "meta_licenses": [("package", "TEXT", True, 1), ("license", "TEXT", True, 2)],
    "meta_dependencies": [("package", "TEXT", True, 1), ("dependency", "TEXT", True, 2)],
    "meta_providers": [("package", "TEXT", True, 1), ("provider", "TEXT", True, 2)],
    "meta_conflicts": [("package", "TEXT", True, 1), ("conflict", "TEXT", True, 2)],
}
# Upstream declares the layout integers INTEGER (the same affinity as the spec's INT).
LAYOUT_TABLES: dict[str, list[Column]] = {
    "layout": [
        ("id", "INTEGER", True, 1),
        ("package_id", "TEXT", True, 0),
        ("uid", "INTEGER", True, 0),
        ("gid", "INTEGER", True, 0),
        ("mode", "INTEGER", True, 0),
        ("tag", "INTEGER", True, 0),
        ("entry_type", "TEXT", True, 0),
        ("entry_value1", "TEXT", False, 0),
        ("entry_value2", "TEXT", False, 0),
    ],
}
STATE_TABLES: dict[str, list[Column]] = {
    "state": [
        ("id", "INTEGER", True, 1),
        ("type", "TEXT", True, 0),
        ("created", "BIGINT", True, 0),
        ("summary", "TEXT", False, 0),
        ("description", "TEXT", False, 0),
    ],
    "state_selections": [
        ("state_id", "INTEGER", True, 1),
        ("package_id", "TEXT", True, 2),
        ("explicit", "BOOLEAN", True, 0),
        ("reason", "TEXT", False, 0),
    ],
}
KINDS = [
    (MetaDb, META_TABLES, {"meta_name_idx", "meta_providers_provider_idx"}),
    (LayoutDb, LAYOUT_TABLES, {"layout_package_id_idx"}),
    (StateDb, STATE_TABLES, set()),
]
# Tables of our own beside upstream's (upstream's moss ignores them), by database.
OWN_TABLES = {
    LayoutDb: {
        "moss_asset_blake3": [("digest", "TEXT", True, 1), ("blake3", "BLOB", True, 0)],
    },
}
DbClass = type[MetaDb] | type[LayoutDb] | type[StateDb]


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def tables(conn: sqlite3.Connection) -> dict[str, list[Column]]:
    names = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {
        name: [
            (col, decl, bool(notnull), pk)
            for _cid, col, decl, notnull, _default, pk in conn.execute(f"PRAGMA table_info({name})")
        ]
        for name in names
    }


def indexes(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'"
    )
    return {name for (name,) in rows}


@pytest.mark.parametrize(("cls", "expected", "extra_indexes"), KINDS)
def test_tables_columns_and_version(
    tmp_path: Path, cls: DbClass, expected: dict[str, list[Column]], extra_indexes: set[str]
) -> None:
    cls.open(tmp_path / "db").close()
    conn = raw(tmp_path / "db")
    assert tables(conn) == expected | OWN_TABLES.get(cls, {})
    assert extra_indexes <= indexes(conn)
    assert conn.execute("PRAGMA user_version").fetchone() == (1,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_side_tables_cascade_from_their_parent(tmp_path: Path) -> None:
    MetaDb.open(tmp_path / "install").close()
    StateDb.open(tmp_path / "state").close()
    meta = raw(tmp_path / "install")
    for table in ("meta_licenses", "meta_dependencies", "meta_providers", "meta_conflicts"):
        [fk] = meta.execute(f"PRAGMA foreign_key_list({table})").fetchall()
        assert (fk[2], fk[3], fk[4], fk[6]) == ("meta", "package", "package", "CASCADE")
    [fk] = raw(tmp_path / "state").execute("PRAGMA foreign_key_list(state_selections)").fetchall()
    assert (fk[2], fk[3], fk[4], fk[6]) == ("state", "state_id", "id", "CASCADE")


@pytest.mark.parametrize("cls", [MetaDb, LayoutDb, StateDb])
def test_connection_settings(tmp_path: Path, cls: DbClass) -> None:
    with cls.open(tmp_path / "db") as db:
        conn = db._conn
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (int(cls is not LayoutDb),)


def test_reopening_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "install"
    with MetaDb.open(path) as db:
        db.add([("p", Meta("p", "1", 1))])
    conn = raw(path)
    before = (conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall(), tables(conn))
    with MetaDb.open(path) as db:
        assert db.ids() == {"p"}
    after = (conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall(), tables(conn))
    assert before == after
    assert conn.execute("PRAGMA user_version").fetchone() == (1,)


@pytest.mark.parametrize("cls", [MetaDb, LayoutDb, StateDb])
def test_a_newer_schema_is_refused(tmp_path: Path, cls: DbClass) -> None:
    path = tmp_path / "db"
    cls.open(path).close()
    conn = raw(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    with pytest.raises(DatabaseError) as caught:
        cls.open(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "schema version 7 is newer" in str(caught.value)
    assert isinstance(caught.value, MossError)
    # Refusing does not touch the file, not even its journal mode.
    conn = raw(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (7,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_a_database_upstream_created_gains_our_indexes(tmp_path: Path) -> None:
    path = tmp_path / "layout"
    LayoutDb.open(path).close()
    conn = raw(path)
    conn.execute("DROP INDEX layout_package_id_idx")
    assert "layout_package_id_idx" not in indexes(conn)
    LayoutDb.open(path).close()
    assert "layout_package_id_idx" in indexes(conn)
    assert conn.execute("PRAGMA user_version").fetchone() == (1,)


def test_unversioned_file_with_the_tables_already_there_is_adopted(tmp_path: Path) -> None:
    # A v1 file whose user_version was never set: CREATE ... IF NOT EXISTS keeps the rows.
    path = tmp_path / "state"
    with StateDb.open(path) as db:
        db.add([], "Install")
    raw(path).execute("PRAGMA user_version = 0")
    with StateDb.open(path) as db:
        assert db.ids() == [1]
    assert raw(path).execute("PRAGMA user_version").fetchone() == (1,)


def test_errors_name_the_file(tmp_path: Path) -> None:
    missing_dir = tmp_path / "nowhere" / "install"
    with pytest.raises(DatabaseError, match=f"^{missing_dir}: "):
        MetaDb.open(missing_dir)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"this is not a database file at all" * 100)
    with pytest.raises(DatabaseError, match=f"^{garbage}: .*not a database"):
        LayoutDb.open(garbage)


def test_use_after_close_is_a_database_error(tmp_path: Path) -> None:
    db = StateDb.open(tmp_path / "state")
    db.close()
    with pytest.raises(DatabaseError, match="closed"):
        db.list()


def test_read_only_open_reads_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "odd name?#%"
    with MetaDb.open(path) as db:
        db.add([("p", Meta("p", "1", 1))])
    before = path.read_bytes()
    with MetaDb.open(path, read_only=True) as db:
        assert db.read_only
        assert db.get("p") == Meta("p", "1", 1)
        with pytest.raises(DatabaseError, match="readonly"):
            db.remove(["p"])
    assert path.read_bytes() == before
    conn = raw(path)
    conn.execute("PRAGMA user_version = 0")
    conn.close()  # checkpoints: an immutable open reads only the main file
    with pytest.raises(DatabaseError, match="needs upgrading to 1, but is read-only"):
        MetaDb.open(path, read_only=True)
    with pytest.raises(DatabaseError, match="unable to open"):
        MetaDb.open(tmp_path / "missing", read_only=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_an_unwritable_file_opens_read_only_by_itself() -> None:
    # As upstream, an unprivileged user may read a root-owned installation.
    directory = Path(tempfile.mkdtemp())
    try:
        directory.chmod(0o755)
        with StateDb.open(directory / "state") as db:
            db.add([], "Install")
        (directory / "state").chmod(0o644)
        child = os.fork()
        if child == 0:  # pragma: no cover - reported through the exit status
            status = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                with StateDb.open(directory / "state") as db:
                    status = 0 if db.read_only and db.ids() == [1] else 2
            finally:
                os._exit(status)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        shutil.rmtree(directory)

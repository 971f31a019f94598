"""The layout database (`.moss/db/layout`): every installed path of every package.

Rows are stored as upstream stores them: `entry_type` is the kind's text; a regular file keeps
its XXH3-128 digest as a decimal string in `entry_value1` and its path in `entry_value2`; a
symlink its target and path; every other kind its path in `entry_value1` and NULL beside it.

One table is ours alone, `moss_asset_blake3(digest, blake3)`: the BLAKE3 of each asset in the
store, by its XXH3-128 digest (decimal text, as in `layout`). Upstream's schema is unchanged,
and upstream's moss ignores the table (see `moss_core.trust.assets`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any, ClassVar

from moss_core.db._base import Database, Migration, like_pattern
from stone import FileKind, LayoutEntry

_V1 = (
    """CREATE TABLE IF NOT EXISTS layout (
        id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        package_id TEXT NOT NULL,
        uid INTEGER NOT NULL,
        gid INTEGER NOT NULL,
        mode INTEGER NOT NULL,
        tag INTEGER NOT NULL,
        entry_type TEXT NOT NULL,
        entry_value1 TEXT NULL,
        entry_value2 TEXT NULL
    )""",
)

_COLUMNS = (
    "package_id",
    "uid",
    "gid",
    "mode",
    "tag",
    "entry_type",
    "entry_value1",
    "entry_value2",
)
_INSERT = f"INSERT INTO layout ({', '.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})"
_INSERT_BLAKE3 = "INSERT OR IGNORE INTO moss_asset_blake3 (digest, blake3) VALUES (?, ?)"
_SELECT = f"SELECT id, {', '.join(_COLUMNS)} FROM layout"
_KIND_BY_TEXT = {kind.text: kind for kind in FileKind}
_TEXT_BY_KIND = {kind: text for text, kind in _KIND_BY_TEXT.items()}
# Kinds whose path is in entry_value2 (entry_value1 holds their source).
_SOURCE_KINDS = ("regular", "symlink", "unknown")
# A row's path. The index on it must be spelled exactly as the queries spell it, or SQLite
# does not use it.
_PATH = (
    "(CASE WHEN entry_type IN ('regular', 'symlink', 'unknown')"
    " THEN entry_value2 ELSE entry_value1 END)"
)
# Package ids given as one JSON array: a selection of any size in one parameter. The unary
# `+` keeps SQLite from looking rows up by package (every row of a system) instead of by path.
_SELECTED = "+package_id IN (SELECT value FROM json_each(?))"


class LayoutDb(Database):
    """Layout entries by package id, in the order they were stored."""

    MIGRATIONS: ClassVar[Sequence[Migration]] = (_V1,)
    MAIN_TABLE: ClassVar[str] = "layout"
    INDEXES: ClassVar[dict[str, str]] = {
        "layout_package_id_idx": (
            "CREATE INDEX IF NOT EXISTS layout_package_id_idx ON layout (package_id)"
        ),
        "moss_asset_blake3": (
            "CREATE TABLE IF NOT EXISTS moss_asset_blake3"
            " (digest TEXT NOT NULL PRIMARY KEY, blake3 BLOB NOT NULL) WITHOUT ROWID"
        ),
    }
    # What composing a state from another asks (which rows are at, or beneath, a path), made
    # by `index_paths` when first needed: kept up while a cold install writes every row, they
    # would cost it more than making them once afterwards does.
    PATH_INDEXES: ClassVar[tuple[str, ...]] = (
        f"CREATE INDEX IF NOT EXISTS layout_path_idx ON layout {_PATH}",
        "CREATE INDEX IF NOT EXISTS layout_symlink_idx ON layout (entry_value2)"
        " WHERE entry_type = 'symlink'",
    )
    FOREIGN_KEYS: ClassVar[bool] = False

    def add_many(
        self,
        items: Iterable[tuple[str, Sequence[LayoutEntry]]],
        blake3: Iterable[tuple[int, bytes]] = (),
    ) -> None:
        """Replace the entries of each package, and record assets' BLAKE3 (`blake3`), all in
        one transaction. A package given twice keeps its last entries; an asset's first
        BLAKE3 stays."""
        with self._write() as conn:
            for package_id, entries in items:
                conn.execute("DELETE FROM layout WHERE package_id = ?", (package_id,))
                conn.executemany(_INSERT, (self._row(package_id, entry) for entry in entries))
            conn.executemany(_INSERT_BLAKE3, ((str(d), b3) for d, b3 in blake3))

    def record_blake3(self, items: Iterable[tuple[int, bytes]]) -> None:
        """Record assets' BLAKE3 (an asset's first record stays)."""
        self.add_many((), items)

    def blake3_of(self, digests: Iterable[int]) -> dict[int, bytes]:
        """The BLAKE3 recorded for those assets (those with none are left out)."""
        with self._read() as conn:
            rows = self._select_in(
                conn,
                "SELECT digest, blake3 FROM moss_asset_blake3 WHERE digest IN ({})",
                {str(digest) for digest in digests},
            )
        return {int(digest): bytes(b3) for digest, b3 in rows}

    def forget_unused_blake3(self) -> None:
        """Drop the records of assets no layout names (the store has swept their files)."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM moss_asset_blake3 WHERE digest NOT IN"
                " (SELECT entry_value1 FROM layout WHERE entry_type = 'regular')"
            )

    def query(self, package_ids: Iterable[str]) -> list[tuple[str, LayoutEntry]]:
        """Entries of those packages, in the order they were stored (this order decides which
        of two packages shipping one path wins, so it never changes)."""
        with self._read() as conn:
            rows = self._select_in(
                conn, _SELECT + " WHERE package_id IN ({}) ORDER BY id", set(package_ids)
            )
        # Many ids take several statements; merging their ordered runs is linear.
        rows.sort(key=itemgetter(0))
        return self._entries(rows)

    def files_under(
        self, package_ids: Iterable[str], directory: str
    ) -> list[tuple[str, LayoutEntry]]:
        """Regular files and symlinks below `directory` (moss's own constant, such as
        `lib/kernel/`) of those packages, in stored order: what boot needs of a state without
        reading its whole layout."""
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*/", directory):
            raise ValueError(f"not a plain directory path: {directory!r}")
        with self._read() as conn:
            rows = self._select_in(
                conn,
                _SELECT + " WHERE package_id IN ({}) AND entry_type IN ('regular', 'symlink')"
                f" AND substr(entry_value2, 1, {len(directory)}) = '{directory}' ORDER BY id",
                set(package_ids),
            )
        rows.sort(key=itemgetter(0))
        return self._entries(rows)

    def index_paths(self) -> None:
        """Make the indexes by path that `at_paths`, `first_beneath`, `holding` and
        `any_beneath_symlink` need to be quick (once; a read-only database goes without)."""
        if self.read_only:
            return
        with self._write() as conn:
            for statement in self.PATH_INDEXES:
                conn.execute(statement)

    def at_paths(
        self, paths: Iterable[str], package_ids: Iterable[str]
    ) -> list[tuple[str, LayoutEntry]]:
        """The entries of those packages at those (layout) paths, in stored order."""
        wanted = set(package_ids)
        with self._read() as conn:
            rows = self._select_in(conn, _SELECT + f" WHERE {_PATH} IN ({{}})", set(paths))
        rows = [row for row in rows if row[1] in wanted]
        rows.sort(key=itemgetter(0))
        return self._entries(rows)

    def first_beneath(
        self, directory: str, package_ids: Iterable[str]
    ) -> tuple[str, LayoutEntry] | None:
        """One entry of those packages strictly beneath `directory` (a layout path; "" for
        the top), or None."""
        low, high = (f"{directory}/", f"{directory}0") if directory else ("", "\U0010ffff")
        with self._read() as conn:
            row = conn.execute(
                _SELECT + f" WHERE {_PATH} > ? AND {_PATH} < ? AND {_SELECTED} LIMIT 1",
                (low, high, json.dumps(sorted(set(package_ids)))),
            ).fetchone()
        return None if row is None else self._entries([row])[0]

    def holding(self, paths: Iterable[str], package_ids: Iterable[str]) -> set[str]:
        """Those of `paths` (layout paths) with an entry of those packages beneath them."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT held.value FROM json_each(?) AS held WHERE EXISTS (SELECT 1 FROM layout"
                f" WHERE {_PATH} > held.value || '/' AND {_PATH} < held.value || '0'"
                f" AND {_SELECTED})",
                (json.dumps(sorted(set(paths))), json.dumps(sorted(set(package_ids)))),
            ).fetchall()
        return {path for (path,) in rows}

    def any_beneath_symlink(self, package_ids: Iterable[str]) -> bool:
        """Whether an entry of those packages lies beneath a symlink of theirs (which the VFS
        moves, or refuses): then only a full composition says what the tree is."""
        selected = json.dumps(sorted(set(package_ids)))
        with self._read() as conn:
            row = conn.execute(
                "SELECT 1 FROM layout AS link WHERE link.entry_type = 'symlink'"
                f" AND +link.{_SELECTED[1:]} AND EXISTS (SELECT 1 FROM layout"
                f" WHERE {_PATH} > link.entry_value2 || '/'"
                f" AND {_PATH} < link.entry_value2 || '0' AND {_SELECTED}) LIMIT 1",
                (selected, selected),
            ).fetchone()
        return row is not None

    def has(self, package_id: str) -> bool:
        with self._read() as conn:
            row = conn.execute(
                "SELECT 1 FROM layout WHERE package_id = ? LIMIT 1", (package_id,)
            ).fetchone()
            return row is not None

    def ids(self) -> set[str]:
        """Every package id with at least one entry."""
        with self._read() as conn:
            return {pid for (pid,) in conn.execute("SELECT DISTINCT package_id FROM layout")}

    def remove(self, package_ids: Iterable[str]) -> None:
        with self._write() as conn:
            self._execute_in(conn, "DELETE FROM layout WHERE package_id IN ({})", package_ids)

    def digests(self) -> set[int]:
        """Every regular file's digest: the assets the store must keep."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT entry_value1 FROM layout WHERE entry_type = 'regular'"
            )
            return {int(value) for (value,) in rows}

    def owners_of_digest(self, digest: int) -> set[str]:
        """Ids of the packages with a regular file of that content."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT package_id FROM layout"
                " WHERE entry_type = 'regular' AND entry_value1 = ?",
                (str(digest),),
            )
            return {pid for (pid,) in rows}

    def search_path(self, keyword: str) -> list[tuple[str, LayoutEntry]]:
        """Entries whose path contains `keyword` (ASCII case-insensitive; `%` and `_` match
        themselves), in stored order."""
        pattern = like_pattern(keyword)
        kinds = ",".join(f"'{kind}'" for kind in _SOURCE_KINDS)
        with self._read() as conn:
            rows = conn.execute(
                _SELECT + " WHERE CASE WHEN entry_type IN (" + kinds + ")"
                " THEN entry_value2 ELSE entry_value1 END LIKE ? ESCAPE '\\' ORDER BY id",
                (pattern,),
            ).fetchall()
        return self._entries(rows)

    def _row(self, package_id: str, entry: LayoutEntry) -> tuple[Any, ...]:
        kind = entry.kind
        if kind is FileKind.REGULAR:
            if entry.digest is None:
                raise self._error(f"package {package_id}: regular file {entry.path} has no digest")
            value1, value2 = str(entry.digest), entry.path
        elif kind is FileKind.SYMLINK:
            if entry.link_target is None:
                raise self._error(f"package {package_id}: symlink {entry.path} has no target")
            value1, value2 = entry.link_target, entry.path
        else:
            value1, value2 = entry.path, None
        return (
            package_id,
            entry.uid,
            entry.gid,
            entry.mode,
            entry.tag,
            _TEXT_BY_KIND[kind],
            value1,
            value2,
        )

    def _entries(self, rows: Iterable[Any]) -> list[tuple[str, LayoutEntry]]:
        entries = []
        regular, symlink = FileKind.REGULAR, FileKind.SYMLINK
        for row_id, package_id, uid, gid, mode, tag, entry_type, value1, value2 in rows:
            kind = _KIND_BY_TEXT.get(entry_type)
            if kind is regular:
                if not value1.isdecimal():
                    raise self._error(f"layout row {row_id}: digest {value1!r} is not decimal")
                entry = LayoutEntry(value2, kind, mode, uid, gid, int(value1), None, tag)
            elif kind is symlink:
                entry = LayoutEntry(value2, kind, mode, uid, gid, None, value1, tag)
            elif kind is not None:
                entry = LayoutEntry(value1, kind, mode, uid, gid, None, None, tag)
            else:
                # Upstream records file types it cannot name as `unknown`; stone refuses such
                # archives, so a row like this comes from elsewhere and has no faithful form.
                raise self._error(f"layout row {row_id}: unsupported entry type {entry_type!r}")
            entries.append((package_id, entry))
        return entries

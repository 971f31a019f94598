"""The meta database: package metadata by package id (`.moss/db/install`, `.moss/repo/<k>/db`).

Read-back normalisation: licenses, depends, provides and conflicts come back deduplicated and
sorted by their text form; `provides` never holds the package's own `name(<name>)` (stored, as
upstream does, but implied by `stone.Meta.all_provides()`); `build_depends` is not kept (the
schema has no place for it, and moss never reads it); unknown `extra` records are not kept.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

from moss_core.db._base import (
    Database,
    Migration,
    StrPath,
    like_pattern,
    u64_from_sql,
    u64_to_sql,
)
from stone import Dependency, FlatMeta, Meta, Provider, RelationKind

_V1 = (
    """CREATE TABLE IF NOT EXISTS meta (
        package TEXT NOT NULL PRIMARY KEY,
        name TEXT NOT NULL,
        version_identifier TEXT NOT NULL,
        source_release INT NOT NULL,
        build_release INT NOT NULL,
        architecture TEXT NOT NULL,
        summary TEXT NOT NULL,
        description TEXT NOT NULL,
        source_id TEXT NOT NULL,
        homepage TEXT NOT NULL,
        uri TEXT NULL,
        hash TEXT NULL,
        download_size BIGINT NULL
    )""",
    *(
        f"""CREATE TABLE IF NOT EXISTS {table} (
            package TEXT NOT NULL,
            {column} TEXT NOT NULL,
            PRIMARY KEY (package, {column}),
            FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE
        )"""
        for table, column in (
            ("meta_licenses", "license"),
            ("meta_dependencies", "dependency"),
            ("meta_providers", "provider"),
            ("meta_conflicts", "conflict"),
        )
    ),
)

# Our own table, beside upstream's (which stay as upstream has them): the digest of the
# stored Meta payload each package was loaded from, so the next refresh copies the rows of
# payloads it already holds instead of decoding them again. The trigger forgets a package's
# digest whenever its rows go, whoever deletes them (upstream moss reloads by deleting).
_PAYLOADS = (
    "CREATE TABLE IF NOT EXISTS moss_meta_payload (package TEXT NOT NULL, digest BLOB NOT NULL)",
    """CREATE TRIGGER IF NOT EXISTS moss_meta_payload_forget AFTER DELETE ON meta
    BEGIN DELETE FROM moss_meta_payload WHERE package = old.package; END""",
)

_PAYLOADS_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS moss_meta_payload_package ON moss_meta_payload (package)"
)

# Packages stored per round of inserts while a refresh streams an index in.
_BATCH = 4096
# SQLite's page cache while a refresh loads (negative: in KiB): the side tables' keys arrive
# in no order, and with the default 2 MB each insert into their b-trees misses the cache.
# Bounded, as a refresh's memory must be: past it, pages go to the file (no journal).
_BULK_CACHE_SIZE = -(32 << 10)

_META_COLUMNS = (
    "package",
    "name",
    "version_identifier",
    "source_release",
    "build_release",
    "architecture",
    "summary",
    "description",
    "source_id",
    "homepage",
    "uri",
    "hash",
    "download_size",
)
_SELECT_META = f"SELECT {', '.join(_META_COLUMNS)} FROM meta"
_SELECT_HEADLINE = "SELECT package, name, source_release, build_release FROM meta"


@dataclass
class _Sets:
    """The side-table values of one package while it is assembled."""

    licenses: list[str] = field(default_factory=list)
    depends: list[Dependency] = field(default_factory=list)
    provides: list[Provider] = field(default_factory=list)
    conflicts: list[Provider] = field(default_factory=list)


class MetaDb(Database):
    """Package metadata keyed by package id (the `.stone`'s sha256)."""

    MIGRATIONS: ClassVar[Sequence[Migration]] = (_V1,)
    MAIN_TABLE: ClassVar[str] = "meta"
    INDEXES: ClassVar[dict[str, str]] = {
        "meta_name_idx": "CREATE INDEX IF NOT EXISTS meta_name_idx ON meta (name)",
        "meta_providers_provider_idx": (
            "CREATE INDEX IF NOT EXISTS meta_providers_provider_idx ON meta_providers (provider)"
        ),
        "meta_dependencies_dependency_idx": (
            "CREATE INDEX IF NOT EXISTS meta_dependencies_dependency_idx "
            "ON meta_dependencies (dependency)"
        ),
    }

    def add(self, packages: Iterable[tuple[str, Meta]]) -> None:
        """Store packages, replacing every row of their ids, in one transaction.

        A package id given twice keeps its last Meta.
        """
        with self._write() as conn:
            self._store(conn, {package: FlatMeta.of(meta) for package, meta in packages})

    @classmethod
    def rebuild(cls, path: StrPath, packages: Iterable[tuple[str, FlatMeta]]) -> None:
        """Replace the database at `path` by a new one holding exactly `packages` (a
        repository refresh), built aside and renamed into place (see `Database.building`).

        `packages` is consumed in batches, so a caller streaming an index of 65,535 packages
        never holds it whole; an exception from it leaves the old database as it was.
        """
        cls.reload(path, ((None, functools.partial(_given, item)) for item in packages))

    @classmethod
    def reload(cls, path: StrPath, payloads: Iterable[tuple[bytes | None, _Load]]) -> None:
        """`rebuild` from an index's Meta payloads, each given by a digest of its stored bytes
        (None: not known by one) and a function loading it.

        Most refreshes of a big repository change few packages. When the database at `path`
        recorded digests (in our own table `moss_meta_payload`), the new one starts as a copy
        of it: a payload whose digest it recorded for a package is not loaded, that package's
        rows are kept; the other payloads are loaded over it, and the packages the index no
        longer has are deleted.
        """
        previous = _recorded(path)
        with cls.building(path, from_copy=bool(previous)) as db, db._write() as conn:
            conn.execute(f"PRAGMA cache_size = {_BULK_CACHE_SIZE:d}")
            for sql in _PAYLOADS:
                conn.execute(sql)
            db._load(conn, payloads, previous)

    def _load(
        self,
        conn: sqlite3.Connection,
        payloads: Iterable[tuple[bytes | None, _Load]],
        previous: dict[bytes, str],
    ) -> None:
        # The ids with rows in the database: those kept from the copy, then those stored.
        stored = set(self._ids(conn)) if previous else set()
        stale = set(stored)
        loaded: set[str] = set()
        batch: dict[str, tuple[FlatMeta, bytes | None]] = {}

        def flush() -> None:
            # An id met earlier keeps its last Meta, as `add` does.
            self._delete(conn, stored.intersection(batch))
            stored.update(batch)
            self._insert(conn, {package: meta for package, (meta, _) in batch.items()})
            self._insert_rows(
                conn,
                "moss_meta_payload",
                ("package", "digest"),
                sorted((p, d) for p, (_, d) in batch.items() if d is not None),
            )
            batch.clear()

        for digest, load in payloads:
            known = None if digest is None else previous.get(digest)
            # A package loaded earlier in this index no longer has its old rows to keep.
            if known is not None and known not in loaded:
                stale.discard(known)
                continue
            package, meta = load()
            stale.discard(package)
            loaded.add(package)
            batch.pop(package, None)
            batch[package] = (meta, digest)
            if len(batch) >= _BATCH:
                flush()
        flush()
        self._delete(conn, stale)
        # Our lookup indexes are made once the rows are in: one sort instead of a b-tree
        # insert per row (a copy has them already).
        for sql in (*self.INDEXES.values(), _PAYLOADS_INDEX):
            conn.execute(sql)

    def _ids(self, conn: sqlite3.Connection) -> Iterator[str]:
        return (package for (package,) in conn.execute("SELECT package FROM meta"))

    def remove(self, package_ids: Iterable[str]) -> None:
        with self._write() as conn:
            self._delete(conn, package_ids)

    def get(self, package_id: str) -> Meta | None:
        return self.get_many([package_id]).get(package_id)

    def get_many(self, ids: Iterable[str]) -> dict[str, Meta]:
        """The Metas of those ids that are present, keyed by id."""
        wanted = sorted(set(ids))
        with self._read() as conn:
            rows = self._select_in(conn, _SELECT_META + " WHERE package IN ({})", wanted)
            return dict(self._assemble(conn, rows, wanted))

    def ids(self) -> set[str]:
        with self._read() as conn:
            return {package for (package,) in conn.execute("SELECT package FROM meta")}

    def all(self) -> Iterator[tuple[str, Meta]]:
        """Every package, by id."""
        with self._read() as conn:
            rows = conn.execute(_SELECT_META + " ORDER BY package").fetchall()
            packages = self._assemble(conn, rows, None)
        return iter(packages)

    def by_name(self, name: str) -> list[tuple[str, Meta]]:
        """Packages of that name, newest first: source release, then build release, descending;
        ties by id."""
        found = self._query(_SELECT_META + " WHERE name = ?", (name,))
        return sorted(found, key=lambda item: (-item[1].release, -item[1].build_release, item[0]))

    def by_provider(self, provider: Provider) -> list[tuple[str, Meta]]:
        """Packages providing `provider` (a package's own `name(<name>)` included), by id."""
        return self._query(
            _SELECT_META
            + " WHERE package IN (SELECT package FROM meta_providers WHERE provider = ?)"
            " ORDER BY package",
            (str(provider),),
        )

    def provider_ids(self, provider: Provider) -> list[str]:
        """Ids of the packages providing `provider`, sorted: the cheap lookup the resolver makes."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT package FROM meta_providers WHERE provider = ? ORDER BY package",
                (str(provider),),
            )
            return [package for (package,) in rows]

    def by_dependency(self, dependency: Dependency) -> list[tuple[str, Meta]]:
        """Packages depending on `dependency`, by id."""
        return self._query(
            _SELECT_META
            + " WHERE package IN (SELECT package FROM meta_dependencies WHERE dependency = ?)"
            " ORDER BY package",
            (str(dependency),),
        )

    def search(self, keyword: str) -> list[tuple[str, Meta]]:
        """Packages whose name or summary contains `keyword` (ASCII case-insensitive): name
        matches first, each group by name, then id.

        `%` and `_` in the keyword match themselves, not any text.
        """
        pattern = like_pattern(keyword)
        return self._query(
            _SELECT_META + " WHERE name LIKE ?1 ESCAPE '\\' OR summary LIKE ?1 ESCAPE '\\'"
            " ORDER BY name LIKE ?1 ESCAPE '\\' DESC, name, package",
            (pattern,),
        )

    def headlines_matching(self, keyword: str) -> list[tuple[str, str, int, int]]:
        """Id, name, source release and build release of the packages `search` finds, without
        assembling their Metas: what a registry search ranks."""
        pattern = like_pattern(keyword)
        with self._read() as conn:
            rows = conn.execute(
                _SELECT_HEADLINE + " WHERE name LIKE ?1 ESCAPE '\\' OR summary LIKE ?1 ESCAPE '\\'",
                (pattern,),
            ).fetchall()
        return _headlines(rows)

    def headlines_named(self, names: Iterable[str]) -> list[tuple[str, str, int, int]]:
        """The same for every package of these names."""
        with self._read() as conn:
            rows = self._select_in(conn, _SELECT_HEADLINE + " WHERE name IN ({})", names)
        return _headlines(rows)

    def hashes(self) -> set[str]:
        """Every package hash recorded: the downloads a cache sweep keeps."""
        with self._read() as conn:
            rows = conn.execute("SELECT DISTINCT hash FROM meta WHERE hash IS NOT NULL")
            return {value for (value,) in rows}

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[str, Meta]]:
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
            return self._assemble(conn, rows, [row[0] for row in rows])

    def _assemble(
        self, conn: sqlite3.Connection, rows: list[Any], ids: list[str] | None
    ) -> list[tuple[str, Meta]]:
        """Metas from `meta` rows, with their side-table values; `ids` None loads every row."""
        sets = {row[0]: _Sets() for row in rows}
        if not sets:
            return []

        def values(table: str, column: str) -> Iterator[tuple[str, str]]:
            sql = f"SELECT package, {column} FROM {table}"
            if ids is None:
                yield from conn.execute(sql + f" ORDER BY package, {column}")
            else:
                # Chunks of ascending ids keep each package's values in one sorted run.
                yield from self._select_in(
                    conn, sql + f" WHERE package IN ({{}}) ORDER BY package, {column}", sorted(ids)
                )

        for package, license_ in values("meta_licenses", "license"):
            if package in sets:
                sets[package].licenses.append(license_)
        for package, text in values("meta_dependencies", "dependency"):
            if package in sets and (dependency := _parse(Dependency, text)) is not None:
                sets[package].depends.append(dependency)
        for package, text in values("meta_providers", "provider"):
            if package in sets and (provider := _parse(Provider, text)) is not None:
                sets[package].provides.append(provider)
        for package, text in values("meta_conflicts", "conflict"):
            if package in sets and (conflict := _parse(Provider, text)) is not None:
                sets[package].conflicts.append(conflict)
        return [(row[0], _meta(row, sets[row[0]])) for row in rows]

    def _store(self, conn: sqlite3.Connection, packages: dict[str, FlatMeta]) -> None:
        self._delete(conn, packages)
        self._insert(conn, packages)

    def _insert(self, conn: sqlite3.Connection, packages: dict[str, FlatMeta]) -> None:
        """Rows for packages none of whose ids is in the database."""
        meta_rows = []
        licenses: list[tuple[str, str]] = []
        dependencies: list[tuple[str, str]] = []
        providers: list[tuple[str, str]] = []
        conflicts: list[tuple[str, str]] = []
        for package, meta in packages.items():
            meta_rows.append(self._meta_row(package, meta))
            licenses += ((package, text) for text in sorted(set(meta.licenses)))
            dependencies += ((package, text) for text in sorted(set(meta.depends)))
            # The package's own name, which every reader implies, is stored as upstream does.
            own = f"name({meta.name})"
            providers += ((package, text) for text in sorted({own, *meta.provides}))
            conflicts += ((package, text) for text in sorted(set(meta.conflicts)))
        self._insert_rows(conn, "meta", _META_COLUMNS, meta_rows)
        self._insert_rows(conn, "meta_licenses", ("package", "license"), licenses)
        self._insert_rows(conn, "meta_dependencies", ("package", "dependency"), dependencies)
        self._insert_rows(conn, "meta_providers", ("package", "provider"), providers)
        self._insert_rows(conn, "meta_conflicts", ("package", "conflict"), conflicts)

    def _meta_row(self, package: str, meta: FlatMeta) -> tuple[Any, ...]:
        return (
            package,
            meta.name,
            meta.version,
            self._u64(meta.release, package, "source release"),
            self._u64(meta.build_release, package, "build release"),
            meta.architecture,
            meta.summary,
            meta.description,
            meta.source_id,
            meta.homepage,
            meta.uri,
            meta.hash,
            None
            if meta.download_size is None
            else self._u64(meta.download_size, package, "download size"),
        )

    def _u64(self, value: int, package: str, what: str) -> int:
        stored = u64_to_sql(value)
        if stored is None:
            raise self._error(f"package {package}: {what} {value} is not an unsigned 64-bit value")
        return stored

    def _delete(self, conn: sqlite3.Connection, package_ids: Iterable[str]) -> None:
        # The side tables follow through ON DELETE CASCADE.
        self._execute_in(conn, "DELETE FROM meta WHERE package IN ({})", package_ids)


_Load = Callable[[], tuple[str, FlatMeta]]


def _given(item: tuple[str, FlatMeta]) -> tuple[str, FlatMeta]:
    return item


def _recorded(path: StrPath) -> dict[bytes, str]:
    """The package of each payload digest the database at `path` recorded for a package it
    holds; empty when there is none, or the database does not pass SQLite's quick check: a
    refresh must also replace a database it cannot read, and never copy a damaged one."""
    if not os.path.exists(path):
        return {}
    try:
        conn = sqlite3.connect(f"file:{quote(os.fspath(path))}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
                return {}
            rows = conn.execute(
                "SELECT digest, package FROM moss_meta_payload"
                " WHERE package IN (SELECT package FROM meta)"
            )
            return dict(rows)
        finally:
            conn.close()
    except sqlite3.Error:
        return {}


def _headlines(rows: list[Any]) -> list[tuple[str, str, int, int]]:
    return [(p, name, u64_from_sql(rel), u64_from_sql(build)) for p, name, rel, build in rows]


def _meta(row: Any, sets: _Sets) -> Meta:
    (_, name, version, release, build_release, arch, summary, description) = row[:8]
    (source_id, homepage, uri, hash_, download_size) = row[8:]
    own = Provider(RelationKind.NAME, name)
    return Meta(
        name=name,
        version=version,
        release=u64_from_sql(release),
        build_release=u64_from_sql(build_release),
        architecture=arch,
        summary=summary,
        description=description,
        source_id=source_id,
        homepage=homepage,
        licenses=tuple(sets.licenses),
        depends=tuple(sets.depends),
        provides=tuple(p for p in sets.provides if p != own),
        conflicts=tuple(sets.conflicts),
        uri=uri,
        hash=hash_,
        download_size=None if download_size is None else u64_from_sql(download_size),
    )


_Relation = TypeVar("_Relation", Dependency, Provider)


def _parse(cls: type[_Relation], text: str) -> _Relation | None:
    try:
        return cls.parse(text)
    except ValueError:
        # A kind from a newer moss: dropped, as stone drops it when reading an archive.
        return None

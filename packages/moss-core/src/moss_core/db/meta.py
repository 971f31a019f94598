"""The meta database: package metadata by package id (`.moss/db/install`, `.moss/repo/<k>/db`).

Read-back normalisation: licenses, depends, provides and conflicts come back deduplicated and
sorted by their text form; `provides` never holds the package's own `name(<name>)` (stored, as
upstream does, but implied by `stone.Meta.all_provides()`); `build_depends` is not kept (the
schema has no place for it, and moss never reads it); unknown `extra` records are not kept.
"""

from __future__ import annotations

import functools
import glob
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable
from urllib.parse import quote

from moss_core.db._base import (
    Database,
    Migration,
    StrPath,
    like_pattern,
    remove_database,
    u64_from_sql,
    u64_to_sql,
    write_as_scratch,
)
from moss_core.processes import Report, run_forked, usable_cores
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
# The tables a load fills, with their columns, in the order of their rows (`_Rows`).
_LOADED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("meta", _META_COLUMNS),
    ("meta_licenses", ("package", "license")),
    ("meta_dependencies", ("package", "dependency")),
    ("meta_providers", ("package", "provider")),
    ("meta_conflicts", ("package", "conflict")),
    ("moss_meta_payload", ("package", "digest")),
)
# Upstream's side tables: their primary key is their two columns.
_SIDE_TABLES = frozenset({"meta_licenses", "meta_dependencies", "meta_providers", "meta_conflicts"})
# A first load of at least this many payloads is shared out between forked workers.
_SHARED_FROM = 2 * _BATCH
# Workers beyond this many would mostly add to the merge, which is one process's work.
_MAX_WORKERS = 4
# What a worker's scratch file is named: the database's path, this, the worker's number.
_PART = ".part"
_SELECT_META = f"SELECT {', '.join(_META_COLUMNS)} FROM meta"
_SELECT_HEADLINE = "SELECT package, name, source_release, build_release FROM meta"


@runtime_checkable
class SharedPayloads(Protocol):
    """An index's Meta payloads (as `MetaDb.reload` takes them) that forked workers can share
    out: how many there are, and those from the `start`th to before the `stop`th."""

    def __len__(self) -> int: ...

    def between(self, start: int, stop: int) -> Iterable[tuple[bytes | None, _Load]]: ...


# The rows of a batch of packages, a list per table of `_LOADED`.
_Rows = tuple[list[tuple[Any, ...]], ...]


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
    def reload(
        cls,
        path: StrPath,
        payloads: Iterable[tuple[bytes | None, _Load]],
        *,
        workers: int | None = None,
    ) -> None:
        """`rebuild` from an index's Meta payloads, each given by a digest of its stored bytes
        (None: not known by one) and a function loading it.

        Most refreshes of a big repository change few packages. When the database at `path`
        recorded digests (in our own table `moss_meta_payload`), the new one starts as a copy
        of it: a payload whose digest it recorded for a package is not loaded, that package's
        rows are kept; the other payloads are loaded over it, and the packages the index no
        longer has are deleted.

        Otherwise, payloads that forked workers can share out (`SharedPayloads`) are loaded by
        `workers` of them (by default, for an index of 8,192 payloads or more read by a
        process without other threads, one per usable core, up to 4; otherwise none: they
        are loaded here), each into a scratch file of its own, which this process merges
        (`_reload_shared`). A failure in a worker is raised as `ForkedTaskError`, with the
        worker's message.
        """
        # A shared load killed before its cleanup left its scratch files (tens of MB each).
        for part in glob.glob(glob.escape(os.fspath(path)) + _PART + "[0-9]*"):
            remove_database(part)
        previous = _recorded(path)
        if not previous and isinstance(payloads, SharedPayloads):
            # Not from a process with other threads: one of them could hold a lock (of
            # SQLite's, of the allocator's) at the fork, which a worker would wait for forever.
            if workers is None and len(payloads) >= _SHARED_FROM and threading.active_count() == 1:
                workers = min(usable_cores(), _MAX_WORKERS)
            if workers and cls._reload_shared(path, payloads, workers):
                return
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
            self._insert(conn, self._rows((p, m, d) for p, (m, d) in batch.items()))
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

    @classmethod
    def _reload_shared(cls, path: StrPath, payloads: SharedPayloads, workers: int) -> bool:
        """Load `payloads` into a new database at `path`, `workers` forked processes each
        storing a run of them in a scratch file (no constraints, no indexes, no journal: the
        Python half of the work, decoding and binding rows, is shared out), then merge the
        files in SQLite alone (`_merge`). False, with `path` left as it was, when an id is
        given twice: which of its Metas wins is then the sequential load's to say.
        """
        count = len(payloads)
        bounds = [count * n // workers for n in range(workers + 1)]
        parts = [f"{os.fspath(path)}{_PART}{n}" for n in range(workers)]
        names = [f"part{n}" for n in range(workers)]
        tasks = [
            functools.partial(cls._stage, path, part, payloads, start, stop)
            for part, start, stop in zip(parts, bounds, bounds[1:], strict=False)
        ]
        try:
            run_forked(tasks)
            with cls.building(path) as db:
                with db._translate():
                    # The rows are consistent by construction: checking each side row's
                    # package in `meta` would be a b-tree search per row.
                    db._conn.execute("PRAGMA foreign_keys = OFF")
                    for part, name in zip(parts, names, strict=True):
                        db._conn.execute(f"ATTACH DATABASE ? AS {name}", (part,))
                with db._write() as conn:
                    if not db._merge(conn, names, count):
                        raise _Repeated
                # Before the database is switched to WAL, which would switch them too.
                with db._translate():
                    for name in names:
                        db._conn.execute(f"DETACH DATABASE {name}")
        except _Repeated:
            return False
        finally:
            for part in parts:
                remove_database(part)
        return True

    @classmethod
    def _stage(
        cls, path: StrPath, part: str, payloads: SharedPayloads, start: int, stop: int, _: Report
    ) -> int:
        """Store the rows of payloads `start` to `stop` in the scratch file `part` (in a
        forked worker); their number."""
        conn = sqlite3.connect(part, isolation_level=None)
        try:
            db = cls(path, conn)
            with db._translate():
                write_as_scratch(conn)
                for table, columns in _LOADED:
                    conn.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
            with db._write():
                batch: list[tuple[str, FlatMeta, bytes | None]] = []
                for digest, load in payloads.between(start, stop):
                    # An id given twice is kept twice here, for `_merge` to find.
                    batch.append((*load(), digest))
                    if len(batch) >= _BATCH:
                        db._insert(conn, db._rows(batch))
                        batch.clear()
                db._insert(conn, db._rows(batch))
        finally:
            conn.close()
        return stop - start

    def _merge(self, conn: sqlite3.Connection, parts: Sequence[str], count: int) -> bool:
        """Fill the empty tables from the attached scratch files `parts`, which hold `count`
        packages, the side tables in key order, and make the lookup indexes; False, having
        stored only some, when an id is in the files twice."""

        def union(table: str, columns: str) -> str:
            return " UNION ALL ".join(f"SELECT {columns} FROM {part}.{table}" for part in parts)

        conn.execute(f"PRAGMA cache_size = {_BULK_CACHE_SIZE:d}")
        for sql in _PAYLOADS:
            conn.execute(sql)
        for table, columns in _LOADED:
            # A side table's rows go in by its primary key, so its b-tree is built by
            # appending. Sorting whole `meta` rows costs more than its key index's inserts out
            # of order; `moss_meta_payload` has its index made after. An id given twice is
            # a `meta` row left out.
            verb = "INSERT OR IGNORE" if table == "meta" else "INSERT"
            order = f" ORDER BY {', '.join(columns)}" if table in _SIDE_TABLES else ""
            cursor = conn.execute(f"{verb} INTO {table} SELECT * FROM ({union(table, '*')}){order}")
            if table == "meta" and cursor.rowcount != count:
                return False
        for sql in (*self.INDEXES.values(), _PAYLOADS_INDEX):
            conn.execute(sql)
        return True

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
        self._insert(conn, self._rows((p, meta, None) for p, meta in packages.items()))

    def _insert(self, conn: sqlite3.Connection, rows: _Rows) -> None:
        """Store rows of packages none of whose ids is in the database."""
        for (table, columns), table_rows in zip(_LOADED, rows, strict=True):
            # Not even prepared when empty: `moss_meta_payload` is made only by a reload.
            if table_rows:
                self._insert_rows(conn, table, columns, table_rows)

    def _rows(self, packages: Iterable[tuple[str, FlatMeta, bytes | None]]) -> _Rows:
        """The rows of packages, each given by its id, its Meta and its payload's digest
        (None: none recorded)."""
        rows: _Rows = ([], [], [], [], [], [])
        meta_rows, licenses, dependencies, providers, conflicts, digests = rows
        for package, meta, digest in packages:
            meta_rows.append(self._meta_row(package, meta))
            licenses += ((package, text) for text in set(meta.licenses))
            dependencies += ((package, text) for text in set(meta.depends))
            # The package's own name, which every reader implies, is stored as upstream does.
            providers += ((package, text) for text in {f"name({meta.name})", *meta.provides})
            if meta.conflicts:
                conflicts += ((package, text) for text in set(meta.conflicts))
            if digest is not None:
                digests.append((package, digest))
        return rows

    def _meta_row(self, package: str, meta: FlatMeta) -> tuple[Any, ...]:
        size = meta.download_size
        if (
            0 <= meta.release < _I64
            and 0 <= meta.build_release < _I64
            and (size is None or 0 <= size < _I64)
        ):
            # What nearly every package has: SQLite stores these integers as they are, and
            # `FlatMeta`'s first fields are the columns of `meta`, in order.
            return (package, *meta[:12])
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
_I64 = 1 << 63


class _Repeated(Exception):
    """A shared load met an id twice."""


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

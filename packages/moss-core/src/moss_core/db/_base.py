"""What the three databases share: opening, pragmas, schema migrations, transactions, errors."""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

from moss_core.errors import MossError

StrPath = str | os.PathLike[str]
T = TypeVar("T")

# Long enough to outlast another moss process's whole batch write; readers in WAL mode never
# wait for writers, so only a second writer (or a migration) ever blocks here.
BUSY_TIMEOUT_SECONDS = 60.0

# The page size of a database built aside (`Database.building`): a bulk load of 100 MB
# builds its b-trees about a sixth faster in 16 KiB pages than in SQLite's default 4 KiB, and
# SQLite reads a file of any page size.
BUILD_PAGE_SIZE = 16 << 10

_U64_LIMIT = 1 << 64
_I64_LIMIT = 1 << 63


class DatabaseError(MossError):
    """A database could not be opened, read or written; the message leads with its path."""

    def __init__(self, path: StrPath, problem: str) -> None:
        super().__init__(f"{os.fspath(path)}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem


# One migration is a sequence of statements; migration N (1-based) takes user_version N-1 to N.
Migration = Sequence[str]


class Database:
    """An open SQLite file. Subclasses give the schema; each public method is one transaction.

    The connection is shared between threads but only used under `_lock`, so a batch written
    from one thread never interleaves with statements from another.
    """

    MIGRATIONS: ClassVar[Sequence[Migration]]
    # The table that holds a row for everything the database records.
    MAIN_TABLE: ClassVar[str]
    # Our own indexes and tables, by name. Kept outside the versioned migrations so that
    # `user_version` stays the number upstream writes, and created on open when missing (a DB
    # upstream created).
    INDEXES: ClassVar[dict[str, str]] = {}
    FOREIGN_KEYS: ClassVar[bool] = True

    def __init__(
        self, path: StrPath, connection: sqlite3.Connection, *, read_only: bool = False
    ) -> None:
        self.path = os.fspath(path)
        self.read_only = read_only
        self._conn = connection
        self._lock = threading.Lock()
        self._variable_limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    @classmethod
    def open(cls, path: StrPath, *, read_only: bool | None = None, create: bool = True) -> Self:
        """Open (creating if needed) and bring the schema up to date.

        With `create` False a missing file is not made: the database opens empty, in memory,
        for a query that must leave the root as it found it.

        `read_only` None means read-only exactly when the file exists but it or its directory
        is not writable: an unprivileged user's `moss list` on a root-owned system. A WAL file
        cannot be opened normally without creating its `-shm`, so a read-only open treats the
        file as immutable: it reads the last checkpointed contents, which is every transaction
        once the writing moss has closed the database.
        """
        exists = os.path.exists(path)
        if read_only is None:
            read_only = exists and not _writable(path)
        latest = len(cls.MIGRATIONS)
        target = os.fspath(path) if exists or create else ":memory:"
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a batch is exactly one
            # SQLite transaction rather than whatever the module's implicit rules produce.
            conn = sqlite3.connect(
                _immutable_uri(path) if read_only else target,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
                uri=read_only,
            )
        except sqlite3.Error as err:
            raise DatabaseError(path, f"cannot open database: {err}") from err
        try:
            # Refuse a newer schema before changing anything about the file (its journal mode).
            version = _known_version(path, conn, latest)
            conn.execute(f"PRAGMA foreign_keys = {'ON' if cls.FOREIGN_KEYS else 'OFF'}")
            if not read_only:
                if target != ":memory:":
                    _configure(conn)
                _migrate(path, conn, cls.MIGRATIONS, cls.INDEXES)
            elif version != latest:
                raise DatabaseError(
                    path, f"schema version {version} needs upgrading to {latest}, but is read-only"
                )
        except sqlite3.Error as err:
            conn.close()
            raise DatabaseError(path, str(err)) from err
        except BaseException:
            conn.close()
            raise
        return cls(path, conn, read_only=read_only)

    @classmethod
    @contextmanager
    def building(cls, path: StrPath, *, from_copy: bool = False) -> Iterator[Self]:
        """A new, empty database that replaces the one at `path` when the block ends without
        error, for a reload of everything it holds; on error `path` is left as it was. Its
        `INDEXES` are the caller's to make once the rows are in (or `open` makes them).
        With `from_copy`, it starts as a copy of the database at `path` instead, for a reload
        that keeps most of what it holds.

        It is written beside `path` in pages of `BUILD_PAGE_SIZE`, with no journal and no
        syncs (a half-written file is only ever deleted), then synced, switched to WAL as
        `open` would, and renamed over `path`. The old database stays whole until the rename.
        Its WAL is checkpointed away first: SQLite opens a `-wal` file found beside a database
        as that database's, whichever file it was written for. The caller holds the root's
        lock, so no other writer can be mid-transaction; if a reader still pins the WAL, the
        refresh fails cleanly.
        """
        target = os.fspath(path)
        fresh = target + ".new"
        remove_database(fresh)
        if from_copy:
            try:
                _release_wal(target)
                shutil.copyfile(target, fresh)
            except BaseException:
                remove_database(fresh)
                raise
        try:
            conn = sqlite3.connect(
                fresh, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise DatabaseError(path, f"cannot create database: {err}") from err
        try:
            try:
                write_as_scratch(conn)
                conn.execute(f"PRAGMA foreign_keys = {'ON' if cls.FOREIGN_KEYS else 'OFF'}")
                _migrate(fresh, conn, cls.MIGRATIONS, {})
            except sqlite3.Error as err:
                raise DatabaseError(path, str(err)) from err
            db = cls(path, conn)
            yield db
            with db._translate():
                (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
                if str(mode).lower() != "wal":
                    raise sqlite3.OperationalError(f"cannot switch to WAL (got {mode})")
            conn.close()
            _sync_file(fresh)
            _release_wal(target)
            os.replace(fresh, target)
            _sync_file(os.path.dirname(os.path.abspath(target)))
        except BaseException:
            conn.close()
            remove_database(fresh)
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def is_empty(self) -> bool:
        """Whether the database records nothing (as a zero-length file opens)."""
        with self._read() as conn:
            row = conn.execute(f"SELECT 1 FROM {self.MAIN_TABLE} LIMIT 1").fetchone()
            return row is None

    def _error(self, problem: str) -> DatabaseError:
        return DatabaseError(self.path, problem)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; any exception (from SQLite or the caller) rolls it back."""
        with self._lock, self._translate():
            # IMMEDIATE takes the write lock up front, so a busy DB is waited for at BEGIN
            # instead of failing half-way through a batch.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: the statements inside see one snapshot, never a partial batch."""
        with self._lock, self._translate():
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as err:
            raise self._error(str(err)) from err

    def _chunks(self, columns: int, items: Iterable[T]) -> Iterator[list[T]]:
        """Split so that a statement with `columns` variables per item stays within the limit."""
        size = max(1, self._variable_limit // columns)
        iterator = iter(items)
        while chunk := list(itertools.islice(iterator, size)):
            yield chunk

    def _select_in(self, conn: sqlite3.Connection, sql: str, keys: Iterable[Any]) -> list[Any]:
        """Rows of `sql`, whose `{}` stands for the `?` list of an `IN (...)`, over every key."""
        rows: list[Any] = []
        for chunk in self._chunks(1, keys):
            rows += conn.execute(sql.format(_placeholders(len(chunk))), chunk).fetchall()
        return rows

    def _execute_in(self, conn: sqlite3.Connection, sql: str, keys: Iterable[Any]) -> None:
        """Run a statement, whose `{}` stands for the `?` list of an `IN (...)`, over every key."""
        for chunk in self._chunks(1, keys):
            conn.execute(sql.format(_placeholders(len(chunk))), chunk)

    def _insert_rows(
        self,
        conn: sqlite3.Connection,
        table: str,
        columns: Sequence[str],
        rows: Iterable[tuple[Any, ...]],
    ) -> None:
        """One prepared INSERT run over every row (faster than multi-row statements, which
        SQLite must parse afresh for each chunk)."""
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_placeholders(len(columns))})"
        conn.executemany(sql, rows)


def like_pattern(keyword: str) -> str:
    """A LIKE pattern (with `ESCAPE '\\'`) matching text that contains `keyword` literally."""
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


def _writable(path: StrPath) -> bool:
    directory = os.path.dirname(os.path.abspath(path))
    return os.access(path, os.W_OK) and os.access(directory, os.W_OK)


def _immutable_uri(path: StrPath) -> str:
    return Path(os.path.abspath(path)).as_uri() + "?mode=ro&immutable=1"


def _configure(conn: sqlite3.Connection) -> None:
    # WAL: readers keep a consistent snapshot while moss writes, and never block it.
    (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"cannot switch to WAL journal mode (got {mode})")
    # FULL syncs the WAL on every commit: a crash after a transaction returns cannot lose it.
    conn.execute("PRAGMA synchronous = FULL")


_SIDE_FILES = ("-journal", "-wal", "-shm")


def write_as_scratch(conn: sqlite3.Connection) -> None:
    """Write `conn`'s database as a file that is only ever deleted if half-written: in pages
    of `BUILD_PAGE_SIZE` (a no-op on a database that has pages already, which keeps theirs),
    with no journal and no syncs."""
    conn.execute(f"PRAGMA page_size = {BUILD_PAGE_SIZE:d}")
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")


def remove_database(path: str) -> None:
    """Delete a database file and its side files, those that exist."""
    for name in (path, *(path + suffix for suffix in _SIDE_FILES)):
        with suppress(FileNotFoundError):
            os.unlink(name)


def _sync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _release_wal(path: str) -> None:
    """Fold the WAL of the database at `path` into it and empty it, so the file renamed over
    `path` is never read with it."""
    if not os.path.exists(path + "-wal"):
        return
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as err:
        raise DatabaseError(path, f"cannot release its WAL before replacing it: {err}") from err
    if busy:
        raise DatabaseError(path, "in use by another process: its WAL cannot be released")


def _known_version(path: StrPath, conn: sqlite3.Connection, latest: int) -> int:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > latest:
        raise DatabaseError(
            path,
            f"schema version {version} is newer than this moss understands ({latest}); "
            "the database was written by a newer moss",
        )
    return int(version)


def _missing_indexes(conn: sqlite3.Connection, indexes: dict[str, str]) -> list[str]:
    present = {
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('index', 'table')"
        )
    }
    return [name for name in indexes if name not in present]


def _migrate(
    path: StrPath,
    conn: sqlite3.Connection,
    migrations: Sequence[Migration],
    indexes: dict[str, str],
) -> None:
    latest = len(migrations)
    if _known_version(path, conn, latest) == latest and not _missing_indexes(conn, indexes):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the write lock.
        version = _known_version(path, conn, latest)
        for migration in migrations[version:]:
            for statement in migration:
                conn.execute(statement)
        for name in _missing_indexes(conn, indexes):
            conn.execute(indexes[name])
        # user_version is written inside the transaction, so a failed step leaves it unchanged.
        conn.execute(f"PRAGMA user_version = {latest:d}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def u64_to_sql(value: int) -> int | None:
    """SQLite integers are signed 64-bit; a u64 is stored as its two's complement, as upstream
    does, so every value round-trips. None when `value` is no u64."""
    if not 0 <= value < _U64_LIMIT:
        return None
    return value - _U64_LIMIT if value >= _I64_LIMIT else value


def u64_from_sql(value: int) -> int:
    return value + _U64_LIMIT if value < 0 else value

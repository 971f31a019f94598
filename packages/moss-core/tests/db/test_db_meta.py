"""MetaDb: round trips, lookups and their order, batches as single transactions."""

from __future__ import annotations

import dataclasses
import functools
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stone_strategies import metas as meta_strategy

from moss_core.db import DatabaseError, MetaDb
from moss_core.db._base import BUILD_PAGE_SIZE
from moss_core.processes import ForkedTaskError
from stone import Dependency, FlatMeta, Meta, Provider, RelationKind, StoneReader

NAME = RelationKind.NAME
SONAME = RelationKind.SONAME

metas = meta_strategy(build_depends=False)


def normalised(meta: Meta) -> Meta:
    """What MetaDb gives back: sets sorted by text, own name provider implied, no build deps."""
    own = Provider(NAME, meta.name)
    return dataclasses.replace(
        meta,
        licenses=tuple(sorted(set(meta.licenses))),
        depends=tuple(sorted(set(meta.depends), key=str)),
        provides=tuple(sorted(set(meta.provides) - {own}, key=str)),
        conflicts=tuple(sorted(set(meta.conflicts), key=str)),
        build_depends=(),
    )


def rebuilt(db: MetaDb, packages: Iterable[tuple[str, Meta]]) -> MetaDb:
    """The database at `db`'s path rebuilt from `packages`, opened again (as a refresh does)."""
    MetaDb.rebuild(db.path, ((pid, FlatMeta.of(meta)) for pid, meta in packages))
    db.close()
    return MetaDb.open(db.path)


def package(name: str, release: int = 1, build_release: int = 1, **fields: Any) -> Meta:
    return Meta(name, "1.0", release, build_release, "x86_64", **fields)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.text("0123456789abcdef", min_size=1, max_size=8), metas, max_size=4))
def test_round_trip(meta_db: MetaDb, packages: dict[str, Meta]) -> None:
    meta_db = rebuilt(meta_db, packages.items())
    expected = {pid: normalised(meta) for pid, meta in packages.items()}
    assert meta_db.get_many(packages) == expected
    assert dict(meta_db.all()) == expected
    assert [pid for pid, _ in meta_db.all()] == sorted(packages)
    for pid, meta in expected.items():
        assert meta_db.get(pid) == meta
        assert (pid, meta) in meta_db.by_provider(Provider(NAME, meta.name))
        for provider in meta.all_provides():
            assert pid in meta_db.provider_ids(provider)


def test_corpus_metas_round_trip(meta_db: MetaDb, corpus: Path) -> None:
    stones = sorted((corpus / "stones").glob("*.stone"))
    assert stones
    originals = {}
    for number, path in enumerate(stones):
        with StoneReader(path) as reader:
            originals[f"{number:064x}"] = reader.meta()
    meta_db.add(originals.items())
    for pid, meta in originals.items():
        assert meta_db.get(pid) == normalised(meta)
        assert meta_db.by_name(meta.name) == [(pid, normalised(meta))]


def test_storage_is_upstreams(meta_db: MetaDb, tmp_path: Path) -> None:
    meta = package(
        "foo",
        licenses=("MIT", "Apache-2.0"),
        depends=(Dependency(SONAME, "libc.so.6(x86_64)"), Dependency(NAME, "bar")),
        provides=(Provider(RelationKind.BINARY, "foo"),),
        conflicts=(Provider(NAME, "oldfoo"),),
    )
    meta_db.add([("id1", meta)])
    conn = sqlite3.connect(tmp_path / "install")
    assert conn.execute("SELECT * FROM meta").fetchall() == [
        ("id1", "foo", "1.0", 1, 1, "x86_64", "", "", "", "", None, None, None)
    ]

    def side(table: str) -> list[str]:
        return [value for (_, value) in conn.execute(f"SELECT * FROM {table} ORDER BY 2")]

    assert side("meta_licenses") == ["Apache-2.0", "MIT"]
    assert side("meta_dependencies") == ["name(bar)", "soname(libc.so.6(x86_64))"]
    assert side("meta_providers") == ["binary(foo)", "name(foo)"]
    assert side("meta_conflicts") == ["name(oldfoo)"]
    assert meta_db.get("id1") == normalised(meta)


def test_u64_extremes_round_trip_and_out_of_range_is_refused(meta_db: MetaDb) -> None:
    top = (1 << 64) - 1
    meta = package("big", release=top, build_release=1 << 63, download_size=top)
    meta_db.add([("big", meta)])
    assert meta_db.get("big") == meta
    # Refused after the old rows of the batch's ids were deleted: the rollback restores them.
    with pytest.raises(DatabaseError, match="source release -1"):
        meta_db.add([("big", package("big")), ("neg", package("neg", release=-1))])
    assert meta_db.ids() == {"big"}
    assert meta_db.get("big") == meta


def test_by_name_is_newest_first(meta_db: MetaDb) -> None:
    meta_db.add(
        [
            ("d", package("foo", 2, 1)),
            ("c", package("foo", 3, 1)),
            ("b", package("foo", 2, 5)),
            ("a", package("foo", 2, 5)),
            ("x", package("other", 9, 9)),
        ]
    )
    assert [pid for pid, _ in meta_db.by_name("foo")] == ["c", "a", "b", "d"]
    assert meta_db.by_name("nope") == []


def test_by_provider_includes_the_implicit_name_and_sorts_by_id(meta_db: MetaDb) -> None:
    lib = Provider(SONAME, "libb.so.1(x86_64)")
    meta_db.add(
        [
            ("f2", package("b", provides=(lib,))),
            ("f1", package("b2", provides=(lib,))),
            ("e9", package("a", depends=(Dependency(SONAME, "libb.so.1(x86_64)"),))),
        ]
    )
    assert [pid for pid, _ in meta_db.by_provider(lib)] == ["f1", "f2"]
    assert meta_db.provider_ids(lib) == ["f1", "f2"]
    [(pid, meta)] = meta_db.by_provider(Provider(NAME, "b"))
    assert pid == "f2"
    assert meta.provides == (lib,)  # the stored name(b) is implied, not returned
    assert Provider(NAME, "b") in meta.all_provides()
    assert [pid for pid, _ in meta_db.by_dependency(Dependency(SONAME, lib.name))] == ["e9"]
    assert meta_db.by_provider(Provider(NAME, "libb.so.1(x86_64)")) == []


def test_search_name_hits_first_case_insensitive_and_literal(meta_db: MetaDb) -> None:
    meta_db.add(
        [
            ("1", package("zlib", summary="Compression library")),
            ("2", package("nano", summary="A small text editor using LIBraries")),
            ("3", package("libfoo")),
            ("4", package("lib_x")),
            ("5", package("libbx")),
            ("6", package("ümlaut", summary="Ünicode")),
        ]
    )
    assert [m.name for _, m in meta_db.search("LIB")] == [
        "lib_x",
        "libbx",
        "libfoo",
        "zlib",
        "nano",
    ]
    # `_` is a literal underscore, not SQL's any-character.
    assert [m.name for _, m in meta_db.search("b_")] == ["lib_x"]
    assert meta_db.search("%") == []
    # Case folding is ASCII only, like SQLite's LIKE.
    assert [m.name for _, m in meta_db.search("ü")] == ["ümlaut"]
    assert meta_db.search("ÜM") == []


def test_add_replaces_every_row_of_an_id(meta_db: MetaDb, tmp_path: Path) -> None:
    meta_db.add([("p", package("p", licenses=("A", "B"), depends=(Dependency(NAME, "q"),)))])
    meta_db.add([("p", package("p", licenses=("C",)))])
    assert meta_db.get("p") == package("p", licenses=("C",))
    conn = sqlite3.connect(tmp_path / "install")
    assert conn.execute("SELECT count(*) FROM meta_dependencies").fetchone() == (0,)
    # The last of repeated ids wins.
    meta_db.add([("p", package("p", 1)), ("p", package("p", 2))])
    assert meta_db.get("p") == package("p", 2)


def test_remove_and_rebuild_leave_no_side_rows(meta_db: MetaDb, tmp_path: Path) -> None:
    meta_db.add(
        [
            (str(n), package(f"p{n}", licenses=("L",), depends=(Dependency(NAME, "d"),)))
            for n in range(5)
        ]
    )
    meta_db.remove(["1", "3", "missing"])
    assert meta_db.ids() == {"0", "2", "4"}
    conn = sqlite3.connect(tmp_path / "install")
    assert conn.execute("SELECT count(*) FROM meta_licenses").fetchone() == (3,)
    conn.close()
    meta_db = rebuilt(meta_db, [("9", package("nine"))])
    conn = sqlite3.connect(tmp_path / "install")
    assert meta_db.ids() == {"9"}
    for table in ("meta_licenses", "meta_dependencies", "meta_conflicts"):
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    assert conn.execute("SELECT provider FROM meta_providers").fetchall() == [("name(nine)",)]


def test_hashes_and_misses(meta_db: MetaDb) -> None:
    meta_db.add([("a", package("a", hash="h1")), ("b", package("b"))])
    assert meta_db.hashes() == {"h1"}
    assert meta_db.get("zzz") is None
    assert meta_db.get_many(["a", "zzz"]).keys() == {"a"}


def test_a_failing_batch_leaves_the_database_as_it_was(meta_db: MetaDb) -> None:
    meta_db.add([("keep", package("keep"))])

    def failing() -> Iterator[tuple[str, Meta]]:
        yield "new", package("new")
        raise RuntimeError("network went away")

    with pytest.raises(RuntimeError):
        MetaDb.rebuild(meta_db.path, ((pid, FlatMeta.of(meta)) for pid, meta in failing()))
    with pytest.raises(RuntimeError):
        meta_db.add(failing())
    assert meta_db.ids() == {"keep"}
    # The half-built database is gone.
    assert sorted(p.name for p in Path(meta_db.path).parent.iterdir()) == [
        "install",
        "install-shm",
        "install-wal",
    ]


def test_large_batches_span_several_statements(meta_db: MetaDb) -> None:
    # Far more rows than one statement's variable limit allows.
    many = [(f"{n:05}", package(f"p{n}", licenses=("MIT",))) for n in range(4000)]
    meta_db = rebuilt(meta_db, many)
    assert len(meta_db.ids()) == 4000
    assert meta_db.get_many(pid for pid, _ in many[::7]) == dict(many[::7])
    assert dict(meta_db.all()) == dict(many)


def test_rebuild_streams_batches_and_the_last_repeat_wins(
    meta_db: MetaDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("moss_core.db.meta._BATCH", 3)
    stream = [(str(n % 5), package(f"p{n}", licenses=(f"L{n}",))) for n in range(12)]
    meta_db = rebuilt(meta_db, iter(stream))
    assert dict(meta_db.all()) == dict(stream)
    # The lookup indexes made after the load are there.
    assert meta_db.by_provider(Provider(NAME, "p11")) == [("1", package("p11", licenses=("L11",)))]
    conn = sqlite3.connect(meta_db.path)
    indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert set(MetaDb.INDEXES) <= indexes


def reloaded(
    db: MetaDb, payloads: Iterable[tuple[bytes, str, Meta]], *, kept: Iterable[bytes] = ()
) -> MetaDb:
    """The database at `db`'s path reloaded from `(digest, id, Meta)` payloads, opened again;
    loading a payload of a digest in `kept` fails the test (its rows must be kept instead)."""
    kept = set(kept)

    def loader(digest: bytes, pid: str, meta: Meta) -> Any:
        def load() -> tuple[str, FlatMeta]:
            assert digest not in kept, f"payload {digest!r} was loaded again"
            return pid, FlatMeta.of(meta)

        return load

    MetaDb.reload(db.path, ((d, loader(d, pid, meta)) for d, pid, meta in payloads))
    db.close()
    return MetaDb.open(db.path)


def test_a_reload_keeps_the_rows_of_payloads_it_knows(meta_db: MetaDb) -> None:
    a, b, c = package("a", licenses=("MIT",)), package("b"), package("c", summary="new")
    meta_db = reloaded(meta_db, [(b"A", "1a", a), (b"B", "2b", b)])
    # b's payload changed, c is new, a is kept as it was.
    changed_b = package("b", summary="changed")
    meta_db = reloaded(
        meta_db, [(b"A", "1a", a), (b"B2", "2b", changed_b), (b"C", "3c", c)], kept={b"A"}
    )
    assert dict(meta_db.all()) == {"1a": normalised(a), "2b": changed_b, "3c": c}
    # A package the index no longer has goes, and with it its digest.
    meta_db = reloaded(meta_db, [(b"C", "3c", c)], kept={b"C"})
    assert dict(meta_db.all()) == {"3c": c}
    meta_db = reloaded(meta_db, [(b"A", "1a", a), (b"C", "3c", c)], kept={b"C"})
    assert dict(meta_db.all()) == {"1a": normalised(a), "3c": c}


def test_a_reload_keeps_the_last_meta_of_an_id_given_twice(meta_db: MetaDb) -> None:
    old, new = package("p", summary="old"), package("p", summary="new")
    meta_db = reloaded(meta_db, [(b"OLD", "p1", old)])
    # The known payload last: its rows were replaced by the new one's, so it is loaded again.
    meta_db = reloaded(meta_db, [(b"NEW", "p1", new), (b"OLD", "p1", old)])
    assert dict(meta_db.all()) == {"p1": old}
    meta_db = reloaded(meta_db, [(b"OLD", "p1", old), (b"NEW", "p1", new)], kept={b"OLD"})
    assert dict(meta_db.all()) == {"p1": new}


def test_a_reload_forgets_the_digests_of_rows_deleted_by_others(meta_db: MetaDb) -> None:
    meta_db = reloaded(meta_db, [(b"A", "1a", package("a")), (b"B", "2b", package("b"))])
    # Whoever deletes a package's rows (upstream moss reloads by deleting), its digest goes
    # with them, so a reload never keeps rows that are not the payload's.
    meta_db.remove(["1a"])
    meta_db.add([("1a", package("a", summary="stored by another tool"))])
    meta_db = reloaded(
        meta_db, [(b"A", "1a", package("a")), (b"B", "2b", package("b"))], kept={b"B"}
    )
    assert dict(meta_db.all()) == {"1a": package("a"), "2b": package("b")}


def test_a_reload_over_a_damaged_database_loads_everything(meta_db: MetaDb) -> None:
    meta_db = reloaded(meta_db, [(b"A", "1a", package("a"))])
    meta_db.close()
    Path(meta_db.path).write_bytes(b"not a database at all" * 100)
    meta_db = reloaded(meta_db, [(b"A", "1a", package("a"))])
    assert dict(meta_db.all()) == {"1a": package("a")}


def test_a_failing_reload_from_a_copy_leaves_the_database_as_it_was(meta_db: MetaDb) -> None:
    meta_db = reloaded(meta_db, [(b"A", "1a", package("a")), (b"B", "2b", package("b"))])

    def failing() -> Iterator[tuple[bytes, str, Meta]]:
        yield b"A", "1a", package("a")
        yield b"C", "3c", package("c")
        raise RuntimeError("network went away")

    with pytest.raises(RuntimeError):
        reloaded(meta_db, failing(), kept={b"A"})
    meta_db = MetaDb.open(meta_db.path)
    assert dict(meta_db.all()) == {"1a": package("a"), "2b": package("b")}
    assert not Path(f"{meta_db.path}.new").exists()


@dataclasses.dataclass
class Shared:
    """Payloads that forked workers share out (a `SharedPayloads`): `(digest, id, Meta)`,
    loading the one named `failing` raises."""

    payloads: list[tuple[bytes, str, Meta]]
    failing: str | None = None

    def __len__(self) -> int:
        return len(self.payloads)

    def __iter__(self) -> Iterator[tuple[bytes, Any]]:
        return self.between(0, len(self))

    def between(self, start: int, stop: int) -> Iterator[tuple[bytes, Any]]:
        for digest, pid, meta in self.payloads[start:stop]:
            yield digest, functools.partial(self._load, pid, meta)

    def _load(self, pid: str, meta: Meta) -> tuple[str, FlatMeta]:
        if meta.name == self.failing:
            raise ValueError(f"package {meta.name} is broken")
        return pid, FlatMeta.of(meta)


def dump(path: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table and the schema, as SQLite holds them."""
    conn = sqlite3.connect(path)
    try:
        tables = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = {t: sorted(conn.execute(f"SELECT * FROM {t}"), key=repr) for t in tables}
        rows["schema"] = sorted(conn.execute("SELECT type, name, sql FROM sqlite_master"))
        return rows
    finally:
        conn.close()


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(st.text("0123456789abcdef", min_size=1, max_size=8), metas, max_size=9),
    st.integers(min_value=1, max_value=3),
)
def test_a_shared_load_stores_what_a_sequential_one_does(
    tmp_path_factory: pytest.TempPathFactory, packages: dict[str, Meta], workers: int
) -> None:
    tmp = tmp_path_factory.mktemp("shared")
    payloads = [(pid.encode(), pid, meta) for pid, meta in packages.items()]
    MetaDb.reload(tmp / "sequential", iter(Shared(payloads)))
    MetaDb.reload(tmp / "shared", Shared(payloads), workers=workers)
    assert dump(str(tmp / "shared")) == dump(str(tmp / "sequential"))
    assert sorted(p.name for p in tmp.iterdir()) == ["sequential", "shared"]
    with MetaDb.open(tmp / "shared") as db:
        assert dict(db.all()) == {pid: normalised(meta) for pid, meta in packages.items()}


def test_a_shared_load_of_an_id_given_twice_keeps_its_last_meta(meta_db: MetaDb) -> None:
    payloads = [(b"A", "p1", package("a")), (b"B", "p2", package("b"))]
    payloads += [(b"C", "p1", package("c")), (b"D", "p3", package("d"))]
    MetaDb.reload(meta_db.path, Shared(payloads), workers=2)
    with MetaDb.open(meta_db.path) as db:
        assert dict(db.all()) == {"p1": package("c"), "p2": package("b"), "p3": package("d")}
    # The digest recorded is the last payload's.
    again = [(b"C", "p1", package("c")), (b"B", "p2", package("b"))]
    meta_db = reloaded(meta_db, again, kept={b"B", b"C"})
    assert dict(meta_db.all()) == {"p1": package("c"), "p2": package("b")}


def test_a_failing_shared_load_leaves_the_database_as_it_was(meta_db: MetaDb) -> None:
    meta_db.add([("keep", package("keep"))])
    payloads = [(bytes([n]), f"p{n}", package(f"n{n}")) for n in range(6)]
    with pytest.raises(ForkedTaskError, match=r"^package n4 is broken$"):
        MetaDb.reload(meta_db.path, Shared(payloads, failing="n4"), workers=2)
    assert meta_db.ids() == {"keep"}
    # Neither the half-built database nor a worker's scratch file is left.
    assert sorted(p.name for p in Path(meta_db.path).parent.iterdir()) == [
        "install",
        "install-shm",
        "install-wal",
    ]


def test_a_reload_removes_what_a_killed_shared_load_left(tmp_path: Path) -> None:
    payloads = [(bytes([n]), f"p{n}", package(f"n{n}")) for n in range(5)]
    MetaDb.reload(tmp_path / "db", Shared(payloads), workers=2)
    # A load killed between its workers' start and its cleanup.
    left = ["db.part0", "db.part1", "db.part1-journal", "db.part12"]
    for name in left:
        (tmp_path / name).write_bytes(b"scratch")
    (tmp_path / "db.partial").write_bytes(b"not ours")
    # An incremental reload, which shares nothing out, removes them too.
    with MetaDb.open(tmp_path / "db") as db:
        reloaded(db, payloads, kept=[digest for digest, _, _ in payloads]).close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("db.part")) == [
        "db.partial"
    ]


def test_a_shared_load_builds_in_large_pages_and_indexes(tmp_path: Path) -> None:
    payloads = [(bytes([n]), f"p{n}", package(f"n{n}")) for n in range(5)]
    MetaDb.reload(tmp_path / "db", Shared(payloads), workers=2)
    conn = sqlite3.connect(tmp_path / "db")
    assert conn.execute("PRAGMA page_size").fetchone() == (BUILD_PAGE_SIZE,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert {*MetaDb.INDEXES, "moss_meta_payload_package", "moss_meta_payload_forget"} <= names
    conn.close()
    # A reload copies it, keeping every payload it knows.
    with MetaDb.open(tmp_path / "db") as db:
        reloaded(db, payloads, kept=[digest for digest, _, _ in payloads]).close()


def test_a_big_first_load_is_shared_unless_other_threads_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("moss_core.db.meta._SHARED_FROM", 3)
    loaders = tmp_path / "loaders"

    class Noted(Shared):
        """Notes the process loading each payload."""

        def _load(self, pid: str, meta: Meta) -> tuple[str, FlatMeta]:
            with open(loaders, "a", encoding="ascii") as out:
                out.write(f"{os.getpid()}\n")
            return super()._load(pid, meta)

    def loaded_by(name: str, count: int) -> set[int]:
        loaders.unlink(missing_ok=True)
        payloads = [(bytes([n]), f"p{n}", package(f"n{n}")) for n in range(count)]
        MetaDb.reload(tmp_path / name, Noted(payloads))
        with MetaDb.open(tmp_path / name) as db:
            assert len(db.ids()) == count
        return {int(line) for line in loaders.read_text().split()}

    assert os.getpid() not in loaded_by("big", 3)
    assert loaded_by("small", 2) == {os.getpid()}
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert loaded_by("big-with-a-thread", 3) == {os.getpid()}
    finally:
        release.set()
        other.join()

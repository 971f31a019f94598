"""LayoutDb: every kind round-trips, rows are stored as upstream's, order is stable, batches
are all-or-nothing and fast."""

from __future__ import annotations

import random
import sqlite3
import stat
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moss_core.db import DatabaseError, LayoutDb
from stone import FileKind, LayoutEntry, StoneReader

EVERY_KIND = [
    LayoutEntry.regular("bin/nano", 0x99AA06D3014798D86001C324468D497F, 0o4755, uid=3, gid=4),
    LayoutEntry("lib/x.so", FileKind.REGULAR, stat.S_IFREG | 0o644, digest=(1 << 128) - 1, tag=7),
    LayoutEntry.regular("share/empty", 0),
    LayoutEntry.symlink("bin/vi", "nano", uid=1, gid=2),
    LayoutEntry.symlink("lib64", "/usr/lib"),
    LayoutEntry.directory("share/doc", 0o1777, uid=10, gid=20),
    LayoutEntry("dev/null", FileKind.CHARACTER_DEVICE, stat.S_IFCHR | 0o666),
    LayoutEntry("dev/sda", FileKind.BLOCK_DEVICE, stat.S_IFBLK | 0o660, gid=6),
    LayoutEntry("run/pipe", FileKind.FIFO, stat.S_IFIFO | 0o600),
    LayoutEntry("run/sock", FileKind.SOCKET, stat.S_IFSOCK | 0o755, tag=0xFFFF),
    # Type bits are not required in the mode (upstream accepts bare permissions).
    LayoutEntry("share/bare", FileKind.DIRECTORY, 0o755, uid=(1 << 32) - 1),
]


def test_every_kind_round_trips_and_is_stored_as_upstream(
    layout_db: LayoutDb, tmp_path: Path
) -> None:
    layout_db.add_many([("pkg", EVERY_KIND)])
    assert layout_db.query(["pkg"]) == [("pkg", entry) for entry in EVERY_KIND]
    conn = sqlite3.connect(tmp_path / "layout")
    rows = conn.execute(
        "SELECT package_id, uid, gid, mode, tag, entry_type, entry_value1, entry_value2"
        " FROM layout ORDER BY id"
    ).fetchall()
    assert rows[0] == (
        "pkg",
        3,
        4,
        stat.S_IFREG | 0o4755,
        0,
        "regular",
        "204254712233039002205064565430793619839",
        "bin/nano",
    )
    assert rows[2][5:] == ("regular", "0", "share/empty")
    assert rows[3][5:] == ("symlink", "nano", "bin/vi")
    assert [row[5:] for row in rows[5:10]] == [
        ("directory", "share/doc", None),
        ("character-device", "dev/null", None),
        ("block-device", "dev/sda", None),
        ("fifo", "run/pipe", None),
        ("socket", "run/sock", None),
    ]


paths = st.lists(st.text("abc/.-é", min_size=1, max_size=12), min_size=1, max_size=4).map("/".join)
u32s = st.integers(0, (1 << 32) - 1)
entries = st.one_of(
    st.builds(LayoutEntry.regular, paths, st.integers(0, (1 << 128) - 1), u32s, u32s, u32s),
    st.builds(LayoutEntry.symlink, paths, paths, u32s, u32s),
    st.builds(
        LayoutEntry,
        paths,
        st.sampled_from([k for k in FileKind if k not in (FileKind.REGULAR, FileKind.SYMLINK)]),
        u32s,
        u32s,
        u32s,
        tag=st.integers(0, 0xFFFF),
    ),
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from("abc"), st.lists(entries, max_size=6)), max_size=4))
def test_round_trip(layout_db: LayoutDb, batch: list[tuple[str, list[LayoutEntry]]]) -> None:
    layout_db.remove(["a", "b", "c"])
    layout_db.add_many(batch)
    # A package given twice keeps its last entries.
    last = {pid: index for index, (pid, _) in enumerate(batch)}
    expected = [(pid, e) for i, (pid, es) in enumerate(batch) if last[pid] == i for e in es]
    assert layout_db.query(["a", "b", "c"]) == expected
    assert layout_db.ids() == {pid for pid, _ in expected}


def test_corpus_layouts_round_trip(layout_db: LayoutDb, corpus: Path) -> None:
    stones = sorted((corpus / "stones").glob("*.stone"))
    assert stones
    layouts = {}
    for path in stones:
        with StoneReader(path) as reader:
            layouts[path.name] = reader.layout()
    layout_db.add_many(layouts.items())
    expected = [(name, entry) for name, layout in layouts.items() for entry in layout]
    assert layout_db.query(reversed(list(layouts))) == expected
    for name, layout in layouts.items():
        assert layout_db.query([name]) == [(name, entry) for entry in layout]
    digests = {e.digest for layout in layouts.values() for e in layout if e.digest is not None}
    assert layout_db.digests() == digests


def test_query_order_is_storage_order_not_argument_order(layout_db: LayoutDb) -> None:
    a = [LayoutEntry.directory("share/a"), LayoutEntry.regular("share/x", 1)]
    b = [LayoutEntry.regular("share/x", 2)]
    layout_db.add_many([("b", b)])
    layout_db.add_many([("a", a)])
    assert layout_db.query(["a", "b", "missing"]) == [("b", b[0]), ("a", a[0]), ("a", a[1])]
    # Replacing a package re-stores its rows, so they now come after b's.
    layout_db.add_many([("b", b)])
    assert layout_db.query(["b", "a"]) == [("a", a[0]), ("a", a[1]), ("b", b[0])]
    assert layout_db.query([]) == []


def test_digests_owners_has_remove(layout_db: LayoutDb) -> None:
    layout_db.add_many(
        [
            ("p1", [LayoutEntry.regular("a", 5), LayoutEntry.regular("b", 6)]),
            ("p2", [LayoutEntry.regular("c", 5), LayoutEntry.symlink("d", "5")]),
            ("p3", [LayoutEntry.directory("5")]),
        ]
    )
    assert layout_db.digests() == {5, 6}
    assert layout_db.owners_of_digest(5) == {"p1", "p2"}
    assert layout_db.owners_of_digest(7) == set()
    assert layout_db.has("p3") and not layout_db.has("p4")
    layout_db.remove(["p1", "p3", "p4"])
    assert layout_db.ids() == {"p2"}
    assert layout_db.digests() == {5}


def test_search_path_matches_each_kinds_path(layout_db: LayoutDb) -> None:
    layout_db.add_many(
        [
            (
                "p",
                [
                    LayoutEntry.regular("bin/Nano", 1),
                    LayoutEntry.symlink("bin/rnano", "nano"),
                    LayoutEntry.symlink("bin/vi", "nano"),
                    LayoutEntry.directory("share/nano"),
                    LayoutEntry.directory("share/na_no"),
                    LayoutEntry.regular("share/back\\slash", 2),
                ],
            )
        ]
    )
    assert [e.path for _, e in layout_db.search_path("NANO")] == [
        "bin/Nano",
        "bin/rnano",
        "share/nano",
    ]
    assert [e.path for _, e in layout_db.search_path("a_n")] == ["share/na_no"]
    assert [e.path for _, e in layout_db.search_path("k\\s")] == ["share/back\\slash"]
    assert layout_db.search_path("%") == []


def test_an_entry_without_its_value_is_refused(layout_db: LayoutDb) -> None:
    broken = LayoutEntry("x", FileKind.REGULAR, stat.S_IFREG | 0o644)
    with pytest.raises(DatabaseError, match="regular file x has no digest"):
        layout_db.add_many([("p", [LayoutEntry.regular("ok", 1), broken])])
    assert not layout_db.has("p")
    with pytest.raises(DatabaseError, match="symlink y has no target"):
        layout_db.add_many([("p", [LayoutEntry("y", FileKind.SYMLINK, stat.S_IFLNK | 0o777)])])


def test_a_row_we_cannot_represent_is_an_error(layout_db: LayoutDb, tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "layout")
    with conn:
        conn.execute(
            "INSERT INTO layout (package_id, uid, gid, mode, tag, entry_type, entry_value1,"
            " entry_value2) VALUES ('p', 0, 0, 0, 0, 'unknown', 'src', 'path')"
        )
    with pytest.raises(DatabaseError, match="unsupported entry type 'unknown'"):
        layout_db.query(["p"])


def test_a_failing_batch_leaves_the_database_as_it_was(layout_db: LayoutDb, tmp_path: Path) -> None:
    old = [LayoutEntry.regular("old", 1)]
    layout_db.add_many([("p1", old)])

    def batch() -> Iterator[tuple[str, Sequence[LayoutEntry]]]:
        yield "p1", [LayoutEntry.regular("new", 2)]
        yield "p2", [LayoutEntry.regular("other", 3)]
        # Mid-batch a second reader sees none of what was written so far.
        with LayoutDb.open(tmp_path / "layout") as reader:
            assert reader.query(["p1", "p2"]) == [("p1", old[0])]
        raise OSError("unpack failed")

    with pytest.raises(OSError, match="unpack failed"):
        layout_db.add_many(batch())
    assert layout_db.query(["p1", "p2"]) == [("p1", old[0])]
    assert layout_db.ids() == {"p1"}


def test_a_hundred_thousand_rows_round_trip(layout_db: LayoutDb) -> None:
    rng = random.Random(1)
    batch = [
        (
            f"{p:064x}",
            [LayoutEntry.directory(f"share/p{p}")]
            + [LayoutEntry.regular(f"share/p{p}/f{i}", rng.getrandbits(128)) for i in range(499)],
        )
        for p in range(200)
    ]
    layout_db.add_many(batch)
    rows = layout_db.query(pid for pid, _ in batch)
    assert len(rows) == 100_000
    assert rows[-1] == (batch[-1][0], batch[-1][1][-1])


def test_concurrent_writers_wait_for_each_other(layout_db: LayoutDb, tmp_path: Path) -> None:
    # One object shared by threads, and a second connection to the same file.
    other = LayoutDb.open(tmp_path / "layout")

    def write(db: LayoutDb, prefix: str) -> None:
        for n in range(20):
            db.add_many([(f"{prefix}{n}", [LayoutEntry.regular(f"f{n}", n)] * 50)])

    threads = [
        threading.Thread(target=write, args=(db, prefix))
        for db, prefix in ((layout_db, "a"), (layout_db, "b"), (other, "c"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    assert len(layout_db.ids()) == 60
    assert len(layout_db.query(layout_db.ids())) == 3000


def test_files_under_a_directory(layout_db: LayoutDb) -> None:
    layout_db.add_many(
        [
            (
                "linux",
                [
                    LayoutEntry.directory("lib/kernel/6.1", 0o755),
                    LayoutEntry.regular("lib/kernel/6.1/vmlinuz", 1),
                    LayoutEntry.symlink("lib/kernel/default", "6.1/vmlinuz"),
                    LayoutEntry.regular("lib/kernelx/other", 2),
                    LayoutEntry.regular("LIB/KERNEL/upper", 3),
                ],
            ),
            ("other", [LayoutEntry.regular("lib/kernel/6.2/vmlinuz", 4)]),
        ]
    )
    found = layout_db.files_under(["linux"], "lib/kernel/")
    assert [(p, e.path) for p, e in found] == [
        ("linux", "lib/kernel/6.1/vmlinuz"),
        ("linux", "lib/kernel/default"),
    ]
    with pytest.raises(ValueError, match="not a plain directory"):
        layout_db.files_under(["linux"], "lib/' OR 1=1 --/")


@pytest.mark.parametrize("indexed", [False, True])
def test_rows_by_path_at_and_beneath(layout_db: LayoutDb, indexed: bool) -> None:
    """What composing from another state asks, with the path indexes made or not."""
    layout_db.add_many(
        [
            ("a", [LayoutEntry.directory("share"), LayoutEntry.regular("share/x", 1)]),
            ("b", [LayoutEntry.symlink("lib64", "lib"), LayoutEntry.regular("share/x", 1)]),
            ("c", [LayoutEntry.regular("lib64/y", 2), LayoutEntry.regular("share-z", 3)]),
        ]
    )
    if indexed:
        layout_db.index_paths()
    assert [(p, e.path) for p, e in layout_db.at_paths(["share/x", "share"], ["a", "b"])] == [
        ("a", "share"),
        ("a", "share/x"),
        ("b", "share/x"),
    ]
    assert layout_db.at_paths(["share/x"], ["c"]) == []
    found = layout_db.first_beneath("share", ["b"])
    assert found is not None and found[1].path == "share/x"
    assert layout_db.first_beneath("share", ["c"]) is None  # share-z is beside it
    assert layout_db.first_beneath("", ["c"]) is not None
    assert layout_db.holding(["share", "share/x", "lib64"], ["a", "c"]) == {"share", "lib64"}
    assert layout_db.any_beneath_symlink(["b", "c"])
    assert not layout_db.any_beneath_symlink(["a", "b"])
    assert not layout_db.any_beneath_symlink(["a", "c"])

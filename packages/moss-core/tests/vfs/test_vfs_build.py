"""Building the VFS tree: the spec's acceptance scenarios (§1, §4) and where we deliberately
differ from upstream (conflicts are errors, siblings always sorted)."""

from __future__ import annotations

import stat

import pytest

from moss_core.errors import MossError
from moss_core.triggers import FileKind as TriggerKind
from moss_core.triggers import Trigger, plan_triggers
from moss_core.vfs import (
    Conflict,
    ConflictKind,
    Tree,
    VfsConflictError,
    VfsError,
    build_tree,
)
from stone import FileKind, LayoutEntry

Row = tuple[str, LayoutEntry]


def reg(path: str, digest: int = 1, mode: int = 0o644) -> LayoutEntry:
    return LayoutEntry.regular(path, digest, mode)


def link(path: str, target: str) -> LayoutEntry:
    return LayoutEntry.symlink(path, target)


def dir_(path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> LayoutEntry:
    return LayoutEntry.directory(path, mode, uid, gid)


def walked(tree: Tree) -> list[str]:
    return [node.path for node in tree.walk()]


def conflicts_of(rows: list[Row]) -> list[Conflict]:
    with pytest.raises(VfsConflictError) as caught:
        build_tree(rows)
    return caught.value.conflicts


SPEC_EXAMPLE: list[Row] = [
    ("layout", link("lib64", "lib")),
    ("layout", link("local", "/var/local")),
    ("layout", reg("share/doc/layout/README", 1)),
    ("nano", reg("bin/nano", 2, 0o755)),
    ("nano", link("bin/rnano", "nano")),
    ("nano", dir_("share/nano")),
    ("nano", reg("share/nano/c.nanorc", 3)),
    ("zlib", reg("lib/libz.so.1", 4)),
    ("zlib", link("lib64/libz.so", "libz.so.1")),
    ("zlib", reg("lib64/pkgconfig/zlib.pc", 5)),
]


def test_implicit_parents() -> None:
    tree = build_tree([("a", reg("share/a/b/c"))])
    assert walked(tree) == [
        "/usr",
        "/usr/share",
        "/usr/share/a",
        "/usr/share/a/b",
        "/usr/share/a/b/c",
    ]
    for path in ("/usr", "/usr/share", "/usr/share/a", "/usr/share/a/b"):
        node = tree.get(path)
        assert node is not None
        assert (node.kind, node.mode, node.uid, node.gid, node.package_id) == (
            FileKind.DIRECTORY,
            stat.S_IFDIR | 0o755,
            0,
            0,
            "",
        )
    leaf = tree.get("/usr/share/a/b/c")
    assert leaf is not None and leaf.package_id == "a" and leaf.children == ()


def test_walk_order_parents_first_siblings_by_name() -> None:
    rows = [("p", reg("lib/z")), ("p", reg("bin/b")), ("p", reg("lib/a/deep")), ("p", reg("bin/a"))]
    assert walked(build_tree(rows)) == [
        "/usr",
        "/usr/bin",
        "/usr/bin/a",
        "/usr/bin/b",
        "/usr/lib",
        "/usr/lib/a",
        "/usr/lib/a/deep",
        "/usr/lib/z",
    ]


def test_siblings_compare_bytewise_not_as_paths() -> None:
    # "a-b" < "a/..." as whole paths, but "a" < "a-b" as names: a's subtree comes first.
    rows = [("p", reg("a-b")), ("p", reg("a/x")), ("p", reg("B")), ("p", reg("é"))]
    assert walked(build_tree(rows)) == [
        "/usr",
        "/usr/B",
        "/usr/a",
        "/usr/a/x",
        "/usr/a-b",
        "/usr/é",
    ]


def test_spec_example_reparents_lib64_into_lib() -> None:
    tree = build_tree(SPEC_EXAMPLE)
    assert walked(tree) == [
        "/usr",
        "/usr/bin",
        "/usr/bin/nano",
        "/usr/bin/rnano",
        "/usr/lib",
        "/usr/lib/libz.so",
        "/usr/lib/libz.so.1",
        "/usr/lib/pkgconfig",
        "/usr/lib/pkgconfig/zlib.pc",
        "/usr/lib64",
        "/usr/local",
        "/usr/share",
        "/usr/share/doc",
        "/usr/share/doc/layout",
        "/usr/share/doc/layout/README",
        "/usr/share/nano",
        "/usr/share/nano/c.nanorc",
    ]
    lib64 = tree.get("/usr/lib64")
    assert lib64 is not None
    assert (lib64.kind, lib64.link_target, lib64.children) == (FileKind.SYMLINK, "lib", ())
    moved = tree.get("/usr/lib/libz.so")
    assert moved is not None
    assert (moved.kind, moved.link_target, moved.package_id) == (
        FileKind.SYMLINK,
        "libz.so.1",
        "zlib",
    )
    pc = tree.get("/usr/lib/pkgconfig/zlib.pc")
    assert pc is not None and (pc.digest, pc.package_id) == (5, "zlib")
    pkgconfig = tree.get("/usr/lib/pkgconfig")
    assert pkgconfig is not None and pkgconfig.package_id == ""
    assert tree.get("/usr/lib64/libz.so") is None
    assert len(tree) == 17


@pytest.mark.parametrize("text", ["lib", "/usr/lib", "./lib", "lib/", "../usr/lib", "lib//"])
def test_link_text_is_normalised_before_redirecting(text: str) -> None:
    tree = build_tree([("l", link("lib64", text)), ("l", dir_("lib")), ("z", reg("lib64/x"))])
    assert "/usr/lib/x" in tree
    assert "/usr/lib64/x" not in tree


def test_chained_symlinked_directories() -> None:
    rows = [
        ("l", link("lib32", "lib64")),
        ("l", link("lib64", "lib")),
        ("a", reg("lib/a")),
        ("b", reg("lib32/b")),
        ("c", reg("lib64/c")),
    ]
    tree = build_tree(rows)
    assert [p for p in walked(tree) if p.startswith("/usr/lib/")] == [
        "/usr/lib/a",
        "/usr/lib/b",
        "/usr/lib/c",
    ]


def test_symlink_moved_by_a_redirect_is_followed_from_its_new_place() -> None:
    # lib64/foo -> bar only means lib/bar once foo has moved from lib64 into lib.
    rows = [
        ("l", link("lib64", "lib")),
        ("a", dir_("lib/bar")),
        ("b", link("lib64/foo", "bar")),
        ("b", reg("lib64/foo/x")),
    ]
    tree = build_tree(rows)
    foo = tree.get("/usr/lib/foo")
    assert foo is not None and foo.kind is FileKind.SYMLINK
    x = tree.get("/usr/lib/bar/x")
    assert x is not None and x.package_id == "b"


def test_reparented_entry_identical_to_existing_one_is_fine() -> None:
    rows = [("a", reg("lib/x", 7)), ("b", reg("lib64/x", 7)), ("l", link("lib64", "lib"))]
    node = build_tree(rows).get("/usr/lib/x")
    assert node is not None and node.package_id == "a"


def test_reparented_entry_conflicting_with_existing_one() -> None:
    rows = [("a", reg("lib/x", 7)), ("b", reg("lib64/x", 8)), ("l", link("lib64", "lib"))]
    [conflict] = conflicts_of(rows)
    assert (conflict.path, conflict.package_ids) == ("/usr/lib/x", ("a", "b"))
    assert str(conflict) == "/usr/lib/x: a and b both provide it"


def test_different_files_at_one_path_conflict() -> None:
    rows = [("A", reg("bin/foo", 1)), ("B", reg("bin/foo", 2))]
    with pytest.raises(VfsConflictError) as caught:
        build_tree(rows)
    err = caught.value
    assert isinstance(err, MossError)
    [conflict] = err.conflicts
    assert conflict == Conflict(
        "/usr/bin/foo", ("A", "B"), ConflictKind.DIFFERENT_CONTENT, other_kind=FileKind.REGULAR
    )
    assert "/usr/bin/foo: A and B both provide it" in str(err)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (reg("bin/foo", 1, 0o644), reg("bin/foo", 1, 0o755)),
        (reg("bin/foo", 1), link("bin/foo", "bar")),
        (link("bin/foo", "bar"), link("bin/foo", "baz")),
        (
            LayoutEntry("bin/foo", FileKind.FIFO, 0o644),
            LayoutEntry("bin/foo", FileKind.FIFO, 0o600),
        ),
    ],
    ids=["mode", "kind", "link-target", "fifo-mode"],
)
def test_any_difference_in_content_conflicts(first: LayoutEntry, second: LayoutEntry) -> None:
    [conflict] = conflicts_of([("A", first), ("B", second)])
    assert conflict.kind is ConflictKind.DIFFERENT_CONTENT
    assert conflict.package_ids == ("A", "B")


@pytest.mark.parametrize(
    "entry",
    [
        reg("bin/foo", 3, 0o755),
        link("bin/foo", "bar"),
        LayoutEntry("bin/foo", FileKind.FIFO, 0o644),
    ],
    ids=["regular", "symlink", "fifo"],
)
def test_identical_duplicates_keep_the_first(entry: LayoutEntry) -> None:
    tree = build_tree([("A", entry), ("B", entry), ("C", entry)])
    node = tree.get("/usr/bin/foo")
    assert node is not None and node.package_id == "A"


def test_identical_means_same_mode_even_without_type_bits() -> None:
    bare = LayoutEntry("bin/foo", FileKind.REGULAR, 0o755, digest=3)
    full = LayoutEntry.regular("bin/foo", 3, 0o755)
    node = build_tree([("A", bare), ("B", full)]).get("/usr/bin/foo")
    assert node is not None and node.mode == stat.S_IFREG | 0o755


def test_directories_merge_and_the_last_row_supplies_mode_and_owner() -> None:
    rows = [
        ("A", dir_("share/x", 0o700)),
        ("B", dir_("share/x", 0o755, 5, 6)),
        ("A", reg("share/x/a")),
    ]
    node = build_tree(rows).get("/usr/share/x")
    assert node is not None
    assert (node.mode, node.uid, node.gid, node.package_id) == (stat.S_IFDIR | 0o755, 5, 6, "B")
    assert [child.name for child in node.children] == ["a"]


@pytest.mark.parametrize("order", ["dir-first", "file-first"])
def test_directory_against_file(order: str) -> None:
    rows = [("A", dir_("share/x")), ("A", reg("share/x/a")), ("B", reg("share/x"))]
    if order == "file-first":
        rows.reverse()
    [conflict] = conflicts_of(rows)
    assert (conflict.path, conflict.package_ids, conflict.kind) == (
        "/usr/share/x",
        ("A", "B"),
        ConflictKind.DIRECTORY_AND_OTHER,
    )
    assert str(conflict) == "/usr/share/x: is a directory in A and a file in B"


def test_directory_against_symlink() -> None:
    [conflict] = conflicts_of([("A", dir_("lib64")), ("B", link("lib64", "lib"))])
    assert str(conflict) == "/usr/lib64: is a directory in A and a symlink in B"


def test_entries_beneath_a_file() -> None:
    [conflict] = conflicts_of([("A", reg("share/x")), ("B", reg("share/x/y"))])
    assert conflict == Conflict(
        "/usr/share/x/y",
        ("B", "A"),
        ConflictKind.BENEATH_NON_DIRECTORY,
        other_kind=FileKind.REGULAR,
        blocker="/usr/share/x",
        blocker_kind=FileKind.REGULAR,
    )
    assert str(conflict) == "/usr/share/x/y: in B, lies beneath file /usr/share/x of A"


def test_file_at_an_implicit_directory_blocks_everything_beneath() -> None:
    rows = [("A", reg("share/x/y/1")), ("A", reg("share/x/y/2")), ("B", reg("share/x"))]
    found = conflicts_of(rows)
    assert [(c.path, c.blocker, c.package_ids) for c in found] == [
        ("/usr/share/x/y/1", "/usr/share/x", ("A", "B")),
        ("/usr/share/x/y/2", "/usr/share/x", ("A", "B")),
    ]


@pytest.mark.parametrize(
    "rows",
    [
        [("L", link("local", "/var/local")), ("B", reg("local/x"))],
        [("L", link("local", "lib/libz.so")), ("L", reg("lib/libz.so")), ("B", reg("local/x"))],
        [("L", link("local", "nowhere")), ("B", reg("local/x"))],
        [("L", link("local", "local/sub")), ("B", reg("local/sub/x"))],
        [("L", link("a", "b")), ("L", link("b", "a")), ("B", reg("a/x"))],
    ],
    ids=["outside-usr", "to-a-file", "dangling", "into-itself", "loop"],
)
def test_entries_beneath_a_symlink_that_leads_to_no_directory(rows: list[Row]) -> None:
    found = conflicts_of(rows)
    assert found
    assert all(c.kind is ConflictKind.BENEATH_NON_DIRECTORY for c in found)
    assert all(c.package_ids == ("B", "L") for c in found)
    assert "lies beneath symlink" in str(found[0])


def test_every_conflict_is_reported_at_once() -> None:
    rows = [
        ("A", reg("bin/one", 1)),
        ("B", reg("bin/one", 2)),
        ("A", dir_("share/two")),
        ("B", link("share/two", "x")),
        ("A", reg("lib/three")),
        ("B", reg("lib/three/four")),
    ]
    with pytest.raises(VfsConflictError) as caught:
        build_tree(rows)
    message = str(caught.value)
    assert message.splitlines() == [
        "3 file conflicts:",
        "  /usr/bin/one: A and B both provide it",
        "  /usr/lib/three/four: in B, lies beneath file /usr/lib/three of A",
        "  /usr/share/two: is a directory in A and a symlink in B",
    ]


def test_conflict_can_be_described_with_package_names() -> None:
    [conflict] = conflicts_of([("0a1b", reg("x", 1)), ("9f8e", reg("x", 2))])
    assert conflict.describe("nano", "vim") == "/usr/x: nano and vim both provide it"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (reg("lib//x"), "empty"),
        (reg("/etc/passwd"), "absolute"),
        (reg("lib/../../etc"), "'..'"),
        (reg("lib/./x"), "'.'"),
        (reg("lib/"), "empty"),
        (LayoutEntry("bin/x", FileKind.REGULAR, 0o644), "no digest"),
        (LayoutEntry("bin/x", FileKind.SYMLINK, 0o777), "no target"),
    ],
)
def test_entries_that_cannot_be_placed(entry: LayoutEntry, problem: str) -> None:
    with pytest.raises(VfsError) as caught:
        build_tree([("pkg", entry)])
    assert not isinstance(caught.value, VfsConflictError)
    assert "pkg" in str(caught.value) and problem in str(caught.value)


def test_empty_state_is_just_usr() -> None:
    tree = build_tree([])
    assert walked(tree) == ["/usr"]
    assert len(tree) == 1


def test_devices_stay_in_the_tree() -> None:
    tree = build_tree([("p", LayoutEntry("dev/null", FileKind.CHARACTER_DEVICE, 0o666))])
    node = tree.get("/usr/dev/null")
    assert node is not None and node.mode == stat.S_IFCHR | 0o666


def test_paths_for_the_trigger_planner() -> None:
    tree = build_tree(
        [
            ("p", reg("bin/nano")),
            ("p", link("bin/rnano", "nano")),
            ("p", LayoutEntry("run/fifo", FileKind.FIFO, 0o644)),
        ]
    )
    assert list(tree.paths())[:3] == [
        ("/", FileKind.DIRECTORY),
        ("/usr", FileKind.DIRECTORY),
        ("/usr/bin", FileKind.DIRECTORY),
    ]
    assert tree.trigger_paths() == {
        "/": TriggerKind.DIRECTORY,
        "/usr": TriggerKind.DIRECTORY,
        "/usr/bin": TriggerKind.DIRECTORY,
        "/usr/bin/nano": TriggerKind.REGULAR,
        "/usr/bin/rnano": TriggerKind.SYMLINK,
        "/usr/run": TriggerKind.DIRECTORY,
        "/usr/run/fifo": TriggerKind.REGULAR,
    }


def test_trigger_plan_over_the_tree_sees_reparented_paths() -> None:
    trigger = Trigger.model_validate(
        {
            "name": "libs",
            "description": "one call per library",
            "handlers": {"h": {"run": "/bin/echo", "args": ["$(name)"]}},
            "paths": {"/usr/lib/(name:lib*.so*)": {"handlers": ["h"]}},
        }
    )
    plan = plan_triggers([trigger], build_tree(SPEC_EXAMPLE).trigger_paths())
    assert [str(i.command) for i in plan.invocations] == [
        "/bin/echo libz.so",
        "/bin/echo libz.so.1",
    ]

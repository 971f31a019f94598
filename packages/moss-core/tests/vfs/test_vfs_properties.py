"""Properties of the VFS tree over random conflict-free layouts, and what one conflicting
entry added to them does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from moss_core.vfs import Conflict, Tree, VfsConflictError, build_tree
from stone import FileKind, LayoutEntry

# Names that sort differently as names and as path prefixes ("a" < "a-b" but "a-b" < "a/x"),
# upper before lower case, and non-ASCII.
NAMES = ["a", "a-b", "a.b", "b", "B", "é", "z0"]

Row = tuple[str, LayoutEntry]

paths = st.lists(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=4).map("/".join),
    min_size=1,
    max_size=25,
    unique=True,
)


@st.composite
def layouts(draw: st.DrawFn) -> list[Row]:
    """Rows without conflicts: whatever has something beneath it is a directory; packages may
    repeat an identical entry or the same directory with another mode."""
    chosen = draw(paths)
    parents = {path.rsplit("/", 1)[0] for path in chosen if "/" in path}
    parents |= {p for path in parents for p in _ancestors(path)}
    rows: list[Row] = []
    for path in chosen:
        if path in parents or (draw(st.booleans()) and draw(st.booleans())):
            entry = LayoutEntry.directory(path, draw(st.sampled_from([0o755, 0o700, 0o555])))
        elif draw(st.booleans()):
            entry = LayoutEntry.regular(path, draw(st.integers(1, 3)), 0o644)
        else:
            # A target that is no directory of the tree: never redirects.
            entry = LayoutEntry.symlink(path, "../nowhere")
        owners = draw(st.lists(st.sampled_from(["p1", "p2", "p3"]), min_size=1, max_size=2))
        rows.extend((owner, entry) for owner in owners)
    return draw(st.permutations(rows))


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:depth]) for depth in range(1, len(parts))]


def _check_walk(tree: Tree, rows: list[Row]) -> None:
    walked = [node.path for node in tree.walk()]
    expected = {"/usr/" + entry.path for _, entry in rows}
    implicit = {"/usr/" + a for _, entry in rows for a in _ancestors(entry.path)} - expected
    assert len(walked) == len(set(walked)) == len(tree)
    assert set(walked) == expected | implicit | {"/usr"}
    seen = set()
    for node in tree.walk():
        if node.path != "/usr":
            assert node.path.rsplit("/", 1)[0] in seen, "parent after child"
        seen.add(node.path)
        names = [child.name for child in node.children]
        assert names == sorted(names) and len(names) == len(set(names))
        assert all(child.path == f"{node.path}/{child.name}" for child in node.children)
        if node.path in implicit or node.path == "/usr":
            assert node.package_id == "" and node.kind is FileKind.DIRECTORY


@settings(max_examples=150, deadline=None)
@given(layouts())
def test_walk_yields_every_path_once_parents_first_siblings_sorted(rows: list[Row]) -> None:
    tree = build_tree(rows)
    _check_walk(tree, rows)
    for path, kind in tree.paths():
        if path != "/":
            node = tree.get(path)
            assert node is not None and node.kind is kind


@settings(max_examples=150, deadline=None)
@given(layouts(), st.data())
def test_a_conflicting_entry_always_raises_naming_its_path(
    rows: list[Row], data: st.DataObject
) -> None:
    tree = build_tree(rows)
    node = data.draw(st.sampled_from([n for n in tree.walk() if n.path != "/usr"]))
    relative = node.path.removeprefix("/usr/")
    if node.kind is FileKind.DIRECTORY:
        # A file where a directory is (explicit or implicit).
        extra = LayoutEntry.regular(relative, 9)
    elif data.draw(st.booleans()):
        # Different content at the same path.
        if node.kind is FileKind.SYMLINK:
            extra = LayoutEntry.symlink(relative, "elsewhere")
        else:
            extra = LayoutEntry.regular(relative, (node.digest or 0) + 7)
    else:
        # Something beneath a non-directory.
        extra = LayoutEntry.regular(relative + "/below", 1)
    position = data.draw(st.integers(0, len(rows)))
    with_extra = [*rows[:position], ("intruder", extra), *rows[position:]]
    try:
        build_tree(with_extra)
    except VfsConflictError as err:
        assert any(_names(conflict, "/usr/" + extra.path) for conflict in err.conflicts)
        assert all("intruder" in conflict.package_ids for conflict in err.conflicts)
        assert "intruder" in str(err)
    else:
        raise AssertionError(f"no conflict for {extra}")


def _names(conflict: Conflict, path: str) -> bool:
    return path in (conflict.path, conflict.blocker)

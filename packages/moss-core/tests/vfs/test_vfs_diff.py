"""A change composed from the rows at the changed paths, against composing both states whole.

Random packages (directories, files, symlinks that may lead to a directory and so move
entries, and conflicts) are recorded in a real layout database; two random selections are the
old and the new state. Whenever `plan_change` gives a difference, applying it to the old full
tree must give the new full tree; whenever the new state cannot be composed, it must give none.
On disk: a tree blitted for the old state and updated with the difference is the tree blitted
for the new one.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from moss_core.blit import Strategy, blit, update
from moss_core.client.recycle import plan_change
from moss_core.db import LayoutDb
from moss_core.store import ASSET_MODE, asset_relpath
from moss_core.trigger_record import fingerprint
from moss_core.vfs import Node, Tree, VfsError, build_tree
from moss_core.vfs_diff import TreeDiff, changed_paths, diff_nodes
from stone import FileKind, LayoutEntry

NAMES = ["a", "a-b", "b", "lib", "x"]
PACKAGES = ["p0", "p1", "p2", "p3", "p4"]
DIGESTS = [1, 2, 3]

Attrs = tuple[FileKind, int, int, int, int | None, str | None]


@st.composite
def entries(draw: st.DrawFn) -> LayoutEntry:
    path = "/".join(draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3)))
    kind = draw(st.sampled_from(["dir", "dir", "file", "file", "file", "link"]))
    if kind == "dir":
        return LayoutEntry.directory(path, draw(st.sampled_from([0o755, 0o700, 0o555])))
    if kind == "file":
        return LayoutEntry.regular(path, draw(st.sampled_from(DIGESTS)), 0o644)
    # "lib" may be a directory of the tree: such a link moves entries shipped beneath it.
    return LayoutEntry.symlink(path, draw(st.sampled_from(["lib", "../nowhere", "x"])))


@st.composite
def systems(draw: st.DrawFn) -> tuple[list[tuple[str, list[LayoutEntry]]], set[str], set[str]]:
    packages = [
        (name, draw(st.lists(entries(), max_size=6, unique_by=lambda e: e.path)))
        for name in draw(st.permutations(PACKAGES))
    ]
    old = set(draw(st.lists(st.sampled_from(PACKAGES), unique=True)))
    new = set(draw(st.lists(st.sampled_from(PACKAGES), unique=True)))
    return packages, old, new


def _attrs(node: Node) -> Attrs:
    return (node.kind, node.mode, node.uid, node.gid, node.digest, node.link_target)


def _model(tree: Tree) -> dict[str, Attrs]:
    return {node.path: _attrs(node) for node in tree.walk()}


def _subtree(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _subtree(child)


def _apply(model: dict[str, Attrs], diff: TreeDiff) -> dict[str, Attrs]:
    result = dict(model)
    for node in diff.removed:
        for path in [p for p in result if p == node.path or p.startswith(node.path + "/")]:
            del result[path]
    for node in diff.retuned:
        assert result[node.path][0] is FileKind.DIRECTORY
        result[node.path] = _attrs(node)
    for node in diff.added:
        assert node.path not in result and node.path.rsplit("/", 1)[0] in result
        result.update((n.path, _attrs(n)) for n in _subtree(node))
    return result


@pytest.fixture(scope="module")
def layout_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LayoutDb]:
    """One database for all examples (opening one per example is most of their time)."""
    db = LayoutDb.open(tmp_path_factory.mktemp("diff") / "layout")
    yield db
    db.close()


def _record(db: LayoutDb, packages: list[tuple[str, list[LayoutEntry]]]) -> None:
    db.remove(PACKAGES)
    db.add_many(packages)


def _compose(db: LayoutDb, ids: set[str]) -> Tree | None:
    try:
        return build_tree(db.query(ids))
    except VfsError:
        return None


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
@given(systems())
def test_a_planned_change_applied_to_the_old_tree_is_the_new_tree(
    layout_db: LayoutDb,
    system: tuple[list[tuple[str, list[LayoutEntry]]], set[str], set[str]],
) -> None:
    packages, old_ids, new_ids = system
    _record(layout_db, packages)
    old = _compose(layout_db, old_ids)
    assume(old is not None)
    assert old is not None
    new = _compose(layout_db, new_ids)
    planned = plan_change(layout_db, old_ids, new_ids)
    event("planned" if planned is not None else "left to the full composition")
    if new is None:
        assert planned is None
        return
    if planned is None:
        return
    diff, _, new_subset, paths = planned
    assert _apply(_model(old), diff) == _model(new)
    # What trigger re-runs rely on: outside the changed paths the two full trees agree, and
    # at them the planned tree's fingerprints are the full new tree's.
    for path in {n.path for n in old.walk()} | {n.path for n in new.walk()}:
        before, after = old.get(path), new.get(path)
        if path not in paths:
            assert before is not None and after is not None
            assert fingerprint(before) == fingerprint(after)
    for path in paths:
        full, planned_node = new.get(path), new_subset.get(path)
        assert (full is None) == (planned_node is None)
        if full is not None and planned_node is not None:
            assert fingerprint(full) == fingerprint(planned_node)
    for node in diff.added:
        assert {n.path for n in _subtree(node)} == {n.path for n in _subtree(new.get(node.path))}
    every = {n.path for n in old.walk()} | {n.path for n in new.walk()}
    whole = diff_nodes(old.get, new.get, every)
    assert [n.path for n in whole.removed] == [n.path for n in diff.removed]
    assert [n.path for n in whole.added] == [n.path for n in diff.added]
    assert [n.path for n in whole.retuned] == [n.path for n in diff.retuned]
    assert all(new_subset.get(n.path) is not None for n in diff.added)


def test_the_common_case_is_planned_not_left_to_the_full_composition(tmp_path: Path) -> None:
    """Removing or adding a package beside others under a shared directory."""
    db = LayoutDb.open(tmp_path / "layout")
    db.add_many(
        (name, [LayoutEntry.directory("share", 0o755), LayoutEntry.regular(f"share/{name}", 1)])
        for name in ("a", "b", "c")
    )
    removed = plan_change(db, {"a", "b", "c"}, {"a", "c"})
    added = plan_change(db, {"a", "c"}, {"a", "b", "c"})
    db.close()
    assert removed is not None and added is not None
    assert [n.path for n in removed[0].removed] == ["/usr/share/b"]
    assert not removed[0].added and not removed[0].retuned
    assert [n.path for n in added[0].added] == ["/usr/share/b"]


def test_changed_paths_are_the_paths_and_their_ancestors() -> None:
    assert changed_paths(["a/b/c", "a/d"]) == {
        "/usr",
        "/usr/a",
        "/usr/a/b",
        "/usr/a/b/c",
        "/usr/a/d",
    }


def _on_disk(usr: Path) -> dict[str, tuple[int, str | None, int]]:
    found = {}
    for directory, dirs, files in os.walk(usr):
        for name in dirs + files:
            path = Path(directory) / name
            info = path.lstat()
            link = os.readlink(path) if stat.S_ISLNK(info.st_mode) else None
            content = path.read_bytes()[0] if stat.S_ISREG(info.st_mode) else 0
            found[str(path.relative_to(usr))] = (info.st_mode, link, content)
    return found


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
@given(systems())
def test_updating_a_blitted_tree_gives_the_blit_of_the_new_tree(
    layout_db: LayoutDb,
    system: tuple[list[tuple[str, list[LayoutEntry]]], set[str], set[str]],
) -> None:
    packages, old_ids, new_ids = system
    _record(layout_db, packages)
    old, new = _compose(layout_db, old_ids), _compose(layout_db, new_ids)
    planned = plan_change(layout_db, old_ids, new_ids)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        assume(old is not None and new is not None and planned is not None)
        assert old is not None and new is not None and planned is not None
        for digest in DIGESTS:
            asset = root / "assets" / asset_relpath(digest)
            asset.parent.mkdir(parents=True, exist_ok=True)
            asset.write_bytes(bytes([digest]))
            asset.chmod(ASSET_MODE)
        trees = {}
        for name, tree in (("updated", old), ("fresh", new)):
            (root / name).mkdir()
            assets_fd = os.open(root / "assets", os.O_RDONLY | os.O_DIRECTORY)
            target_fd = os.open(root / name, os.O_RDONLY | os.O_DIRECTORY)
            try:
                blit(tree, assets_fd, target_fd, strategy=Strategy.HARDLINK)
                if name == "updated":
                    update(planned[0], planned[2].get, assets_fd, target_fd)
            finally:
                os.close(assets_fd)
                os.close(target_fd)
            trees[name] = _on_disk(root / name)
        assert trees["updated"] == trees["fresh"]
        for directory, _, _ in os.walk(root):
            os.chmod(directory, 0o755)

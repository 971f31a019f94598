"""Writing a tree in several forked processes: the split is a partition of the tree, and the
result is the tree one process writes, entry for entry."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss_core import blit as blit_module
from moss_core.blit import EMPTY_DIGEST, BlitError, blit, plan_split
from moss_core.vfs import Node, Tree, build_tree
from stone import FileKind, LayoutEntry

from .conftest import Scratch

paths = st.lists(
    st.lists(st.sampled_from("abcd"), min_size=1, max_size=4).map("/".join),
    min_size=1,
    max_size=60,
    unique=True,
)


def _tree_of(leaves: list[str]) -> Tree:
    # A path that is also above another becomes a directory.
    parents = {leaf[:cut] for leaf in leaves for cut in range(len(leaf)) if leaf[cut] == "/"}
    rows = [
        ("p", LayoutEntry.directory(leaf) if leaf in parents else LayoutEntry.symlink(leaf, "x"))
        for leaf in leaves
    ]
    return build_tree(rows)


def _below(node: Node) -> list[Node]:
    found = []
    for child in node.children:
        found.append(child)
        found += _below(child)
    return found


@settings(max_examples=150, deadline=None)
@given(leaves=paths, workers=st.integers(1, 4))
def test_split_covers_every_entry_once_with_parents_first(leaves: list[str], workers: int) -> None:
    tree = _tree_of(leaves)
    made, shares = plan_split(tree.top, workers)
    assert 1 <= len(shares) <= workers
    covered = [node.path for node in made]
    known = {tree.top.path, *covered}
    for node in made:
        assert node.path.rpartition("/")[0] in known
    for share in shares:
        for unit in share:
            assert unit.path.rpartition("/")[0] in known
            covered += [unit.path, *(n.path for n in _below(unit))]
    assert sorted(covered) == sorted(n.path for n in tree.walk() if n is not tree.top)


def test_split_shares_are_about_equal() -> None:
    rows = [("p", LayoutEntry.symlink(f"d{n % 7}/e{n % 3}/f{n}", "x")) for n in range(7000)]
    made, shares = plan_split(build_tree(rows).top, 2)
    sizes = [sum(1 + len(_below(unit)) for unit in share) for share in shares]
    assert len(shares) == 2
    assert max(sizes) < 1.2 * min(sizes)
    assert made


def _listing(usr: Path) -> dict[str, tuple[object, ...]]:
    found: dict[str, tuple[object, ...]] = {}
    for directory, dirs, files in os.walk(usr):
        for name in dirs + files:
            path = Path(directory, name)
            info = path.lstat()
            kind = stat.S_IFMT(info.st_mode)
            detail: object = None
            if stat.S_ISLNK(info.st_mode):
                detail = os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                detail = (path.read_bytes(), info.st_nlink > 1)
            found[str(path.relative_to(usr))] = (kind, stat.S_IMODE(info.st_mode), detail)
    return found


def test_parallel_blit_writes_what_one_process_writes(
    scratch: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blit_module, "PARALLEL_MIN_ENTRIES", 1)
    shared = scratch.add(b"one content, two modes")
    other = scratch.add(b"other")
    rows = [("p", LayoutEntry.directory("share/private", 0o700))]
    for n in range(400):
        rows.append(("p", LayoutEntry.regular(f"share/d{n % 9}/f{n}", other, 0o644)))
        rows.append(("p", LayoutEntry.symlink(f"lib/l{n % 5}/s{n}", f"../f{n}")))
    rows += [
        ("p", LayoutEntry.regular("bin/tool", shared, 0o755)),
        ("p", LayoutEntry.regular("share/d3/data", shared, 0o644)),
        ("p", LayoutEntry.regular("share/d4/empty", EMPTY_DIGEST, 0o644)),
        ("p", LayoutEntry.directory("share/d5/sticky", 0o1777)),
    ]
    tree = build_tree(rows)
    advances: list[int] = []
    stats = blit(tree, scratch.assets_fd, scratch.target_fd, progress=advances.append, workers=2)
    parallel = _listing(scratch.usr)

    (scratch.root / "one").mkdir()
    one_fd = os.open(scratch.root / "one", os.O_RDONLY | os.O_DIRECTORY)
    try:
        single = blit(tree, scratch.assets_fd, one_fd, workers=1)
    finally:
        os.close(one_fd)
    assert parallel == _listing(scratch.root / "one")
    assert stats.entries == single.entries == len(tree) == sum(advances)
    assert stat.S_IMODE(scratch.asset(shared).stat().st_mode) == 0o555
    assert stat.S_IMODE(scratch.usr.stat().st_mode) == 0o755


def test_a_failure_in_a_worker_names_the_path(
    scratch: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blit_module, "PARALLEL_MIN_ENTRIES", 1)
    present = scratch.add(b"here")
    rows = [("p", LayoutEntry.regular(f"share/d{n % 4}/f{n}", present)) for n in range(200)]
    rows.append(("p", LayoutEntry.regular("share/d2/deep/gone", 0xDEAD)))
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(BlitError, match="cannot write /usr/share/d2/deep/gone: asset dead"):
        blit(build_tree(rows), scratch.assets_fd, scratch.target_fd, workers=2)
    assert len(os.listdir("/proc/self/fd")) == before


def test_small_trees_are_written_here(scratch: Scratch) -> None:
    digest = scratch.add(b"x")
    tree = build_tree([("p", LayoutEntry.regular("bin/x", digest))])
    assert len(tree) < blit_module.PARALLEL_MIN_ENTRIES
    assert blit(tree, scratch.assets_fd, scratch.target_fd, workers=8).entries == len(tree)
    assert [kind for _, kind in tree.paths()][1:] == [
        FileKind.DIRECTORY,
        FileKind.DIRECTORY,
        FileKind.REGULAR,
    ]

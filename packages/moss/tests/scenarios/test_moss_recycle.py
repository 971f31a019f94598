"""Staging from an archived tree: once `KEEP_TREES` trees are archived, a transaction updates
the oldest one with only the change, and that state's tree is blitted again when it is made
live."""

from __future__ import annotations

import os
from pathlib import Path

from moss_core.client.recycle import KEEP_TREES

from .helpers import MossRun, make_stone


def _tree(usr: Path) -> dict[str, tuple[int, str]]:
    found = {}
    for directory, dirs, files in os.walk(usr):
        for name in dirs + files:
            path = Path(directory) / name
            info = path.lstat()
            text = os.readlink(path) if path.is_symlink() else ""
            if path.is_file() and not path.is_symlink():
                text = path.read_text()
            found[str(path.relative_to(usr))] = (info.st_mode, text)
    return found


def test_a_recycled_tree_is_the_new_state_and_its_state_comes_back(
    root: Path, packages: Path, moss: MossRun, tmp_path: Path
) -> None:
    assert KEEP_TREES == 2
    a = make_stone(packages, "a", {"share/a/one": "a1\n", "share/doc/a": "doc a\n"})
    b = make_stone(packages, "b", {"share/b/one": "b1\n", "share/doc/b": "doc b\n"})
    c = make_stone(
        packages, "c", {"share/c/one": "c1\n", "share/doc/c": "doc c\n", "lib/libc.so": "->x"}
    )
    for step in (("install", str(a), str(b)), ("remove", "b"), ("install", str(c))):
        assert moss(*step).code == 0
    # States 1 and 2 are archived, 3 is live: the fourth takes state 1's tree.
    result = moss("remove", "a")
    assert result.code == 0, result.text
    assert "(the tree of state #1, updated)" in result.out
    assert (root / ".moss/root/1/recycled").exists()
    assert not (root / ".moss/root/1/usr").exists()

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert moss("-D", str(fresh), "install", str(c)).code == 0
    assert _tree(root / "usr") == _tree(fresh / "usr") | {
        ".stateID": _tree(root / "usr")[".stateID"]
    }
    assert (root / "usr/.stateID").read_text() == "4\n"
    assert moss("state", "verify").out.strip().endswith("No issues found")

    activated = moss("state", "activate", "1")
    assert activated.code == 0, activated.text
    assert "blitting it again" in activated.out
    assert (root / "usr/.stateID").read_text() == "1\n"
    assert (root / "usr/share/b/one").read_text() == "b1\n"
    assert not (root / "usr/share/c").exists()
    assert not (root / ".moss/root/1").exists()
    assert moss("state", "verify").out.strip().endswith("No issues found")

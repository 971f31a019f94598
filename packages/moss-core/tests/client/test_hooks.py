"""What a trigger's handlers wrote, read from a real tree (`TreeWatch`)."""

from __future__ import annotations

import os
from pathlib import Path

from moss_core.client.hooks import TreeWatch, remove_outputs
from moss_core.trigger_record import Output, created_entries


def _tree(usr: Path) -> None:
    for path in ("lib/a.so", "share/x/one", "share/y/two"):
        (usr / path).parent.mkdir(parents=True, exist_ok=True)
        (usr / path).write_text(path)


def test_new_entries_are_seen_and_nothing_else(tmp_path: Path) -> None:
    usr = tmp_path / "usr"
    _tree(usr)
    watch = TreeWatch(usr)
    (usr / "share/cache/deep").mkdir(parents=True)
    (usr / "share/cache/deep/index").write_text("i")
    (usr / "lib/ld.cache").write_text("c")
    assert created_entries(*watch.changes()) == (
        ["lib/ld.cache", "share/cache", "share/cache/deep", "share/cache/deep/index"],
        False,
    )
    # The next trigger's changes only.
    (usr / "share/y/three").write_text("3")
    assert created_entries(*watch.changes()) == (["share/y/three"], False)
    assert created_entries(*watch.changes()) == ([], False)


def test_a_removed_or_replaced_entry_is_a_touch(tmp_path: Path) -> None:
    usr = tmp_path / "usr"
    _tree(usr)
    watch = TreeWatch(usr)
    (usr / "share/x/one").unlink()
    assert created_entries(*watch.changes())[1]
    (usr / "share/y/new").write_text("n")
    os.replace(usr / "share/y/new", usr / "share/y/two")
    assert created_entries(*watch.changes()) == ([], True)


def test_outputs_go_deepest_first_and_directories_only_when_empty(tmp_path: Path) -> None:
    usr = tmp_path / "usr"
    _tree(usr)
    (usr / "share/cache").mkdir()
    (usr / "share/cache/index").write_text("i")
    (usr / "share/cache/other").write_text("kept: another trigger's")
    (usr / "share/links").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "canary").write_text("not the tree's")
    os.symlink(outside, usr / "share/escape")

    def output(path: str, kind: str) -> Output:
        return Output(f"/usr/{path}", kind, "", 0, 0)

    remove_outputs(
        usr,
        [
            output("share/cache", "directory"),
            output("share/cache/index", "file"),
            output("share/links", "directory"),
            output("share/escape/canary", "file"),  # beneath a symlink out of the tree
        ],
    )
    assert not (usr / "share/cache/index").exists()
    assert (usr / "share/cache/other").exists()
    assert not (usr / "share/links").exists()
    assert (outside / "canary").exists()

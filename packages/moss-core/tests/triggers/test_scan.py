"""Reading a real tree: its paths and kinds, and the conditions inhibitors test."""

from __future__ import annotations

from pathlib import Path

from moss_core.triggers import Conditions, FileKind, probe_conditions, scan_tree

from .helpers import make_trigger


def test_probe_finds_existing_inhibitor_paths(tmp_path: Path) -> None:
    (tmp_path / "etc/ssh").mkdir(parents=True)
    (tmp_path / "etc/ssh/key").write_text("")
    (tmp_path / "etc/dangling").symlink_to("nowhere")
    triggers = [
        make_trigger("a", inhibitors={"paths": ["/etc/ssh/key", "/etc/none"], "environment": []}),
        make_trigger("b", inhibitors={"paths": ["/etc/dangling"], "environment": ["live"]}),
        make_trigger("c"),
    ]
    assert probe_conditions(tmp_path, triggers, ["chroot"]) == Conditions(
        environment=frozenset({"chroot"}),
        existing_paths=frozenset({"/etc/ssh/key", "/etc/dangling"}),
    )


def test_scan_tree_reports_kinds_without_following_links(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/nano").write_text("")
    (tmp_path / "usr/lib").mkdir()
    (tmp_path / "usr/lib64").symlink_to("lib")
    (tmp_path / "usr/bin/rnano").symlink_to("nano")
    assert scan_tree(tmp_path) == {
        "/": FileKind.DIRECTORY,
        "/usr": FileKind.DIRECTORY,
        "/usr/bin": FileKind.DIRECTORY,
        "/usr/bin/nano": FileKind.REGULAR,
        "/usr/bin/rnano": FileKind.SYMLINK,
        "/usr/lib": FileKind.DIRECTORY,
        "/usr/lib64": FileKind.SYMLINK,
    }

"""The command line as pacman and dnf users type it: global options after the verb too."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from moss.cli import main
from moss.cli.base import normalise_args

from .helpers import make_stone


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["install", "-y", "x"], ["-y", "install", "x"]),
        (["-D", "/r", "it", "x"], ["-D", "/r", "install", "x"]),
        (["li", "-D", "/r"], ["-D", "/r", "list", "installed"]),
        (["rm", "x", "--directory=/r", "-v"], ["--directory=/r", "-v", "remove", "x"]),
        (["state", "activate", "2", "--cache", "/c", "--no-wait"],
         ["--cache", "/c", "--no-wait", "state", "activate", "2"]),
        (["install", "--", "-y"], ["install", "--", "-y"]),
        (["install", "-D"], ["install", "-D"]),
        (["--help"], ["--help"]),
        ([], []),
    ],
)  # fmt: skip
def test_normalise_args(argv: list[str], expected: list[str]) -> None:
    assert normalise_args(argv) == expected


def test_install_with_global_options_after_the_verb(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    package = make_stone(tmp_path, "hello", {"bin/hello": b"#!/bin/sh\n"})
    done = CliRunner().invoke(main, ["install", "-y", str(package), "-D", str(root)])
    assert done.exit_code == 0, done.output
    assert (root / "usr/bin/hello").exists()


def test_verbose_shows_what_the_transaction_does(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    package = make_stone(tmp_path, "hello", {"bin/hello": b"#!/bin/sh\n"})
    quiet = CliRunner().invoke(main, ["-D", str(root), "-y", "install", str(package)])
    assert quiet.exit_code == 0 and "composing" not in quiet.stderr
    assert CliRunner().invoke(main, ["-D", str(root), "-y", "remove", "hello"]).exit_code == 0
    loud = CliRunner().invoke(main, ["-D", str(root), "-y", "-v", "install", str(package)])
    assert loud.exit_code == 0, loud.output
    assert "s] source local file (priority" in loud.stderr
    assert "s] composing the whole tree, then blitting it" in loud.stderr or (
        "s] updating the tree of state #" in loud.stderr
    )

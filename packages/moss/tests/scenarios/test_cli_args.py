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

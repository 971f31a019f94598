"""Completion of package names, through the shell protocol the generated scripts use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from moss_core.repository import build_index

from .helpers import make_stone, run_moss_process


def _complete(root: Path, *words: str) -> list[str]:
    line = ["moss", "-D", str(root), *words]
    env = {
        **os.environ,
        "COMP_WORDS": " ".join(line),
        "COMP_CWORD": str(len(line) - 1),
        "_MOSS_COMPLETE": "bash_complete",
    }
    done = subprocess.run(
        [sys.executable, "-m", "moss"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("hello", "help2man", "nano"):
        make_stone(repo, name, {f"share/{name}": name.encode()})
    build_index(repo)
    root = tmp_path / "root"
    root.mkdir()
    local = make_stone(tmp_path, "hexedit", {"share/hexedit": b"x"})
    assert (
        run_moss_process(root, "-y", "repo", "add", "r", f"file://{repo}/stone.index").returncode
        == 0
    )
    assert run_moss_process(root, "-y", "install", str(local)).returncode == 0
    return root


def test_remove_completes_installed_names(root: Path) -> None:
    assert _complete(root, "remove", "h") == ["hexedit"]


def test_install_completes_available_names_and_paths(root: Path) -> None:
    assert _complete(root, "install", "hel") == ["hello", "help2man"]
    assert _complete(root, "install", "./") == ["./"]


def test_completion_changes_nothing_on_a_fresh_root(tmp_path: Path) -> None:
    assert _complete(tmp_path, "remove", "") == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "moss", "completion", shell], capture_output=True, text=True
    )
    assert done.returncode == 0 and "_MOSS_COMPLETE" in done.stdout

"""`boulder cache size|clean`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from boulder.build.cache import tree_size
from boulder.cli import main


def test_sizes_count_hard_links_once_and_skip_symlinks(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 1000)
    os.link(tmp_path / "a", tmp_path / "b")
    (tmp_path / "c").symlink_to("/usr/bin/env")
    assert tree_size([tmp_path]) == 1000


def test_cache_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    (cache / "root/x-1-1/usr").mkdir(parents=True)
    (cache / "root/x-1-1/usr/f").write_bytes(b"y" * 2048)
    (cache / "moss/cache").mkdir(parents=True)
    (cache / "moss/cache/p").write_bytes(b"z" * 10)

    def run(*argv: str) -> str:
        with pytest.raises(SystemExit) as exited:
            main(["--cache-dir", str(cache), "cache", *argv])
        assert exited.value.code == 0
        return capsys.readouterr().out

    assert run("size") == f"boulder ({cache}): 2.0 KiB\nmoss ({cache}/moss): 10 B\n"
    assert run("clean", "-m") == f"Deleting moss directory: {cache}/moss\n"
    assert sorted(p.name for p in cache.iterdir()) == ["root"]
    assert run("clean") == (
        f"Deleting boulder directory: {cache}\nDeleting moss directory: {cache}/moss\n"
    )
    assert list(cache.iterdir()) == []

"""Choosing a strategy, and the strategies that make a new inode per file (copy, reflink)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from moss_core.blit import EMPTY_DIGEST, BlitError, Strategy, probe_strategy
from moss_core.vfs import build_tree
from stone import LayoutEntry

from .conftest import Scratch

SHM = Path("/dev/shm")


def test_probe_on_one_filesystem_links_and_cleans_up(scratch: Scratch) -> None:
    assert probe_strategy(scratch.assets_fd, scratch.target_fd, environ={}) in (
        Strategy.HARDLINK,
        Strategy.REFLINK,
    )
    assert os.listdir(scratch.assets) == []
    assert os.listdir(scratch.usr) == []


@pytest.mark.parametrize("value", ["reflink", "hardlink", "copy"])
def test_environment_forces_a_strategy(scratch: Scratch, value: str) -> None:
    environ = {"MOSS_FSTREE_NATIVE_STRATEGY": value}
    assert probe_strategy(scratch.assets_fd, scratch.target_fd, environ=environ).value == value


def test_environment_with_an_unknown_strategy(scratch: Scratch) -> None:
    environ = {"MOSS_FSTREE_NATIVE_STRATEGY": "symlink"}
    with pytest.raises(BlitError, match="expected one of reflink, hardlink, copy"):
        probe_strategy(scratch.assets_fd, scratch.target_fd, environ=environ)


@pytest.mark.skipif(not SHM.is_dir(), reason="needs /dev/shm as a second filesystem")
def test_probe_across_filesystems_copies(scratch: Scratch) -> None:
    target = Path(os.path.realpath(SHM)) / f"blit-probe-{os.getpid()}"
    target.mkdir()
    try:
        fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if os.stat(scratch.assets).st_dev == os.fstat(fd).st_dev:
                pytest.skip("store and /dev/shm share a filesystem")
            assert probe_strategy(scratch.assets_fd, fd, environ={}) is Strategy.COPY
        finally:
            os.close(fd)
        assert os.listdir(target) == []
        assert os.listdir(scratch.assets) == []
    finally:
        target.rmdir()


def test_copy_makes_independent_read_only_files(scratch: Scratch) -> None:
    content = os.urandom(300_000)
    digest = scratch.add(content, 0o644)
    rows = [
        ("p", LayoutEntry.regular("bin/tool", digest, 0o4755)),
        ("p", LayoutEntry.regular("share/data", digest, 0o640)),
        ("p", LayoutEntry.regular("share/empty", EMPTY_DIGEST, 0o644)),
        ("p", LayoutEntry.symlink("bin/alias", "tool")),
    ]
    stats = scratch.blit(build_tree(rows), Strategy.COPY)
    asset = scratch.asset(digest).stat()
    tool = (scratch.usr / "bin/tool").stat()
    data = (scratch.usr / "share/data").stat()
    assert (scratch.usr / "bin/tool").read_bytes() == content
    assert (scratch.usr / "share/data").read_bytes() == content
    assert len({asset.st_ino, tool.st_ino, data.st_ino}) == 3
    assert (stat.S_IMODE(tool.st_mode), stat.S_IMODE(data.st_mode)) == (0o4555, 0o440)
    # The store file is neither linked nor touched.
    assert (asset.st_nlink, stat.S_IMODE(asset.st_mode)) == (1, 0o644)
    assert (scratch.usr / "share/empty").stat().st_size == 0
    assert os.readlink(scratch.usr / "bin/alias") == "tool"
    assert stats.entries == 7


def test_copy_reports_a_missing_asset(scratch: Scratch) -> None:
    with pytest.raises(BlitError, match=r"/usr/x: asset abcdef0123 is missing"):
        scratch.blit(build_tree([("p", LayoutEntry.regular("x", 0xABCDEF0123))]), Strategy.COPY)


def test_copy_will_not_follow_a_symlink_in_the_store(scratch: Scratch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("secret")
    digest = 0xFEEDFACEFEEDFACEFEEDFACEFEEDFACE
    scratch.asset(digest).parent.mkdir(parents=True)
    scratch.asset(digest).symlink_to(secret)
    with pytest.raises(BlitError, match="/usr/x"):
        scratch.blit(build_tree([("p", LayoutEntry.regular("x", digest))]), Strategy.COPY)
    assert not (scratch.usr / "x").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership is only set as root")
def test_copy_sets_ownership_as_root(scratch: Scratch) -> None:
    digest = scratch.add(b"x")
    rows = [("p", LayoutEntry.regular("score", digest, 0o2755, 5, 20))]
    scratch.blit(build_tree(rows), Strategy.COPY)
    score = (scratch.usr / "score").stat()
    assert (score.st_uid, score.st_gid, stat.S_IMODE(score.st_mode)) == (5, 20, 0o2555)


def test_reflink_shares_content_in_a_new_inode(scratch: Scratch) -> None:
    if probe_strategy(scratch.assets_fd, scratch.target_fd, environ={}) is not Strategy.REFLINK:
        pytest.skip("the temporary directory's filesystem cannot reflink")
    digest = scratch.add(b"reflinked", 0o644)
    scratch.blit(build_tree([("p", LayoutEntry.regular("x", digest, 0o755))]), Strategy.REFLINK)
    x = (scratch.usr / "x").stat()
    assert (scratch.usr / "x").read_bytes() == b"reflinked"
    assert x.st_ino != scratch.asset(digest).stat().st_ino
    assert stat.S_IMODE(x.st_mode) == 0o555

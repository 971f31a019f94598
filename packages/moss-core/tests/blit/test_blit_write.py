"""Blitting a tree with hard links from a scratch store: contents, modes, inode sharing, and
the errors a broken store or target produces."""

from __future__ import annotations

import os
import re
import resource
import stat
from pathlib import Path

import pytest
import xxhash

from moss_core.blit import EMPTY_DIGEST, BlitError, BlitStats, blit
from moss_core.errors import MossError
from moss_core.triggers import scan_tree
from moss_core.vfs import build_tree
from stone import FileKind, LayoutEntry

from .conftest import Scratch

SUMMARY = re.compile(r"^\d+ entries blitted in \d+\.\d\ds \(\d+\.\dk / s\)$")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_every_entry_is_written(scratch: Scratch) -> None:
    nano = scratch.add(b"nano binary", 0o644)
    readme = scratch.add(b"readme", 0o644)
    rows = [
        ("nano", LayoutEntry.regular("bin/nano", nano, 0o755)),
        ("nano", LayoutEntry.symlink("bin/rnano", "nano")),
        ("nano", LayoutEntry.directory("share/nano", 0o750)),
        ("nano", LayoutEntry.regular("share/doc/nano/README", readme, 0o664)),
        ("nano", LayoutEntry.regular("share/nano/empty", EMPTY_DIGEST, 0o644)),
        ("nano", LayoutEntry.symlink("share/nano/dangling", "/nowhere/at/all")),
    ]
    tree = build_tree(rows)
    stats = scratch.blit(tree)

    usr = scratch.usr
    assert (usr / "bin/nano").read_bytes() == b"nano binary"
    assert (usr / "bin/nano").stat().st_ino == scratch.asset(nano).stat().st_ino
    assert mode_of(usr / "bin/nano") == 0o555
    assert (usr / "share/doc/nano/README").stat().st_ino == scratch.asset(readme).stat().st_ino
    assert mode_of(usr / "share/doc/nano/README") == 0o444
    assert os.readlink(usr / "bin/rnano") == "nano"
    assert os.readlink(usr / "share/nano/dangling") == "/nowhere/at/all"
    assert mode_of(usr / "share/nano") == 0o750
    for implicit in (usr, usr / "bin", usr / "share", usr / "share/doc", usr / "share/doc/nano"):
        assert mode_of(implicit) == 0o755
    empty = (usr / "share/nano/empty").stat()
    assert (empty.st_size, empty.st_nlink, stat.S_IMODE(empty.st_mode)) == (0, 1, 0o444)

    assert stats.entries == len(tree) == 11
    assert scan_tree(scratch.root / "sys") == tree.trigger_paths()


def test_summary_line() -> None:
    assert BlitStats(entries=231613, seconds=6.06).summary() == (
        "231613 entries blitted in 6.06s (38.2k / s)"
    )
    assert SUMMARY.match(BlitStats(entries=0, seconds=0.0).summary())


def test_summary_of_a_real_blit(scratch: Scratch) -> None:
    digest = scratch.add(b"x")
    stats = scratch.blit(build_tree([("p", LayoutEntry.regular("bin/x", digest))]))
    assert SUMMARY.match(stats.summary()), stats.summary()
    assert stats.seconds > 0


def test_shared_inode_modes_only_widen_and_never_allow_writing(scratch: Scratch) -> None:
    digest = scratch.add(b"shared", 0o644)
    rows = [
        ("a", LayoutEntry.regular("bin/tool", digest, 0o755)),
        ("b", LayoutEntry.regular("lib/data", digest, 0o600)),
    ]
    scratch.blit(build_tree(rows))
    asset = scratch.asset(digest).stat()
    assert stat.S_IMODE(asset.st_mode) == 0o555
    assert asset.st_nlink == 3
    for name in ("bin/tool", "lib/data"):
        assert (scratch.usr / name).stat().st_ino == asset.st_ino


def test_empty_file_is_never_linked_to_the_store(scratch: Scratch) -> None:
    assert xxhash.xxh3_128_intdigest(b"") == EMPTY_DIGEST
    stored = scratch.put(EMPTY_DIGEST, b"", 0o644)
    rows = [
        ("a", LayoutEntry.regular("a", EMPTY_DIGEST, 0o644)),
        ("a", LayoutEntry.regular("b", EMPTY_DIGEST, 0o4755)),
    ]
    scratch.blit(build_tree(rows))
    a, b = (scratch.usr / "a").stat(), (scratch.usr / "b").stat()
    assert len({a.st_ino, b.st_ino, stored.stat().st_ino}) == 3
    assert (stat.S_IMODE(a.st_mode), stat.S_IMODE(b.st_mode)) == (0o444, 0o4555)
    assert stored.stat().st_nlink == 1


def test_short_digest_is_found_at_its_unpadded_name(scratch: Scratch) -> None:
    digest = 0x0000000ABC
    path = scratch.put(digest, b"short", 0o644)
    assert path == scratch.assets / "v2" / "abc"
    scratch.blit(build_tree([("p", LayoutEntry.regular("x", digest))]))
    assert (scratch.usr / "x").stat().st_ino == path.stat().st_ino


def test_directory_modes_are_exact(scratch: Scratch) -> None:
    digest = scratch.add(b"x")
    modes = {"ro": 0o555, "none": 0o000, "sticky": 0o1777, "setgid": 0o2750, "private": 0o700}
    rows = [("p", LayoutEntry.directory(name, mode)) for name, mode in modes.items()]
    rows += [("p", LayoutEntry.regular(f"{name}/file", digest)) for name in modes]
    rows += [("p", LayoutEntry.directory(f"{name}/sub", 0o711)) for name in modes]
    scratch.blit(build_tree(rows))
    for name, mode in modes.items():
        assert mode_of(scratch.usr / name) == mode, name
        # Only root may look inside a directory of mode 000 without opening it up.
        (scratch.usr / name).chmod(mode | 0o700)
        assert mode_of(scratch.usr / name / "sub") == 0o711
        assert (scratch.usr / name / "file").read_bytes() == b"x"


def test_umask_does_not_narrow_modes_and_is_restored(scratch: Scratch) -> None:
    previous = os.umask(0o077)
    try:
        scratch.blit(build_tree([("p", LayoutEntry.directory("share/x", 0o775))]))
        assert os.umask(0o077) == 0o077
    finally:
        os.umask(previous)
    assert mode_of(scratch.usr / "share/x") == 0o775
    assert mode_of(scratch.usr / "share") == 0o755


def test_open_file_limit_is_raised_to_the_hard_limit(scratch: Scratch) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 64:
        pytest.skip("needs a finite hard limit above 64")
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    try:
        scratch.blit(build_tree([]))
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_special_files_are_skipped(scratch: Scratch) -> None:
    rows = [
        ("p", LayoutEntry("dev/fifo", FileKind.FIFO, 0o644)),
        ("p", LayoutEntry("dev/null", FileKind.CHARACTER_DEVICE, 0o666)),
        ("p", LayoutEntry("dev/sock", FileKind.SOCKET, 0o644)),
    ]
    stats = scratch.blit(build_tree(rows))
    assert os.listdir(scratch.usr / "dev") == []
    assert stats.entries == 2


def test_spec_example_lands_in_lib(scratch: Scratch) -> None:
    digests = [scratch.add(f"content {n}".encode()) for n in range(5)]
    rows = [
        ("layout", LayoutEntry.symlink("lib64", "lib")),
        ("layout", LayoutEntry.symlink("local", "/var/local")),
        ("layout", LayoutEntry.regular("share/doc/layout/README", digests[0])),
        ("nano", LayoutEntry.regular("bin/nano", digests[1], 0o755)),
        ("nano", LayoutEntry.symlink("bin/rnano", "nano")),
        ("nano", LayoutEntry.directory("share/nano", 0o755)),
        ("nano", LayoutEntry.regular("share/nano/c.nanorc", digests[2])),
        ("zlib", LayoutEntry.regular("lib/libz.so.1", digests[3])),
        ("zlib", LayoutEntry.symlink("lib64/libz.so", "libz.so.1")),
        ("zlib", LayoutEntry.regular("lib64/pkgconfig/zlib.pc", digests[4])),
    ]
    stats = scratch.blit(build_tree(rows))
    usr = scratch.usr
    assert stats.entries == 17
    assert os.readlink(usr / "lib64") == "lib"
    assert (usr / "lib64/libz.so").read_bytes() == b"content 3"
    assert (usr / "lib/pkgconfig/zlib.pc").read_bytes() == b"content 4"
    assert sorted(os.listdir(usr / "lib")) == ["libz.so", "libz.so.1", "pkgconfig"]


def test_progress_advances_add_up_to_the_entry_count(scratch: Scratch) -> None:
    digest = scratch.add(b"x")
    rows = [("p", LayoutEntry.regular(f"d{n // 100}/f{n}", digest)) for n in range(5000)]
    advances: list[int] = []
    stats = blit(build_tree(rows), scratch.assets_fd, scratch.target_fd, progress=advances.append)
    assert len(advances) >= 2
    assert sum(advances) == stats.entries == 5051


def test_missing_asset_names_path_and_digest(scratch: Scratch) -> None:
    digest = 0x1234567890ABCDEF1234567890ABCDEF
    with pytest.raises(BlitError) as caught:
        scratch.blit(build_tree([("p", LayoutEntry.regular("bin/gone", digest))]))
    assert isinstance(caught.value, MossError)
    assert "/usr/bin/gone" in str(caught.value)
    assert "1234567890abcdef1234567890abcdef" in str(caught.value)


def test_symlink_in_the_store_cannot_redirect_a_link(scratch: Scratch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("secret")
    secret.chmod(0o600)
    digest = 0xFEEDFACEFEEDFACEFEEDFACEFEEDFACE
    scratch.asset(digest).parent.mkdir(parents=True)
    scratch.asset(digest).symlink_to(secret)
    with pytest.raises(BlitError, match="not a regular file"):
        scratch.blit(build_tree([("p", LayoutEntry.regular("bin/x", digest, 0o755))]))
    assert not (scratch.usr / "bin/x").exists()
    assert mode_of(secret) == 0o600
    assert secret.stat().st_nlink == 1


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_failure_deep_in_the_tree_closes_every_directory_fd(scratch: Scratch) -> None:
    tree = build_tree([("p", LayoutEntry.regular("share/a/b/c/gone", 0xDEAD))])
    before = open_fds()
    with pytest.raises(BlitError, match="/usr/share/a/b/c/gone"):
        scratch.blit(tree)
    assert open_fds() == before


def test_existing_target_entry_is_an_error(scratch: Scratch) -> None:
    (scratch.usr / "bin").mkdir()
    digest = scratch.add(b"x")
    with pytest.raises(BlitError, match="cannot write /usr/bin: File exists"):
        scratch.blit(build_tree([("p", LayoutEntry.regular("bin/x", digest))]))


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership is only set as root")
def test_ownership_as_root(scratch: Scratch) -> None:
    digest = scratch.add(b"x")
    rows = [
        ("p", LayoutEntry.directory("share/games", 0o2775, 0, 20)),
        ("p", LayoutEntry.symlink("share/games/link", "x", 5, 5)),
        ("p", LayoutEntry.regular("share/games/score", digest, 0o664, 5, 20)),
    ]
    scratch.blit(build_tree(rows))
    games = (scratch.usr / "share/games").stat()
    assert (games.st_uid, games.st_gid, stat.S_IMODE(games.st_mode)) == (0, 20, 0o2775)
    link = (scratch.usr / "share/games/link").lstat()
    assert (link.st_uid, link.st_gid) == (5, 5)
    # A hard link shares the store inode, so it keeps the store's owner.
    score = (scratch.usr / "share/games/score").stat()
    assert (score.st_uid, score.st_gid) == (0, 0)


@pytest.mark.slow
def test_a_store_file_out_of_links_is_copied(scratch: Scratch) -> None:
    digest = scratch.add(b"popular", 0o644)
    count = 65_100
    rows = [("p", LayoutEntry.regular(f"d{n // 1000}/f{n}", digest)) for n in range(count)]
    scratch.blit(build_tree(rows))
    asset = scratch.asset(digest).stat()
    files = [entry for directory in scratch.usr.iterdir() for entry in directory.iterdir()]
    copies = [entry for entry in files if entry.stat().st_ino != asset.st_ino]
    # ext4 stops at 65,000 links; filesystems without such a limit need no copies.
    assert len(copies) == count - (asset.st_nlink - 1)
    assert all(copy.read_bytes() == b"popular" for copy in copies)

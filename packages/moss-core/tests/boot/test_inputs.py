"""Reading a state's boot inputs: OS identity, kernels from the layout's paths, snippets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from moss_core.boot.errors import BootInputError
from moss_core.boot.inputs import (
    OsIdentity,
    kernel_paths_in_tree,
    parse_os_release,
    read_etc_cmdline,
    read_identity,
    read_state,
)

FALLBACK = OsIdentity("fallback", "Fallback")


def test_identity_from_os_release(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text(
        "# comment\nNAME=\"AerynOS\"\nID=aerynos\nPRETTY_NAME='AerynOS 2025'\n"
    )
    assert read_identity(tmp_path) == OsIdentity("aerynos", "AerynOS 2025")
    assert parse_os_release('ID="x"\nbroken line\n') == {"ID": "x"}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "missing"),
        ({"os-release": "NAME=x\n"}, "no ID"),
        ({"os-info.json": "{"}, "unreadable"),
        ({"os-info.json": '{"metadata": {}}'}, "no metadata.identity"),
    ],
)
def test_bad_identity_is_one_line(tmp_path: Path, files: dict[str, str], message: str) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    for name, text in files.items():
        (tmp_path / "usr/lib" / name).write_text(text)
    with pytest.raises(BootInputError, match=message):
        read_identity(tmp_path)


def test_kernels_from_layout_paths(tmp_path: Path) -> None:
    kernel = tmp_path / "usr/lib/kernel/6.1"
    kernel.mkdir(parents=True)
    for name, data in {
        "vmlinuz": "k",
        "10-b.initrd": "b",
        "05-A.initrd": "a",
        "System.map": "m",
        "20-x.cmdline": "# c\nquiet\n",
        "30-masked.cmdline": "no",
    }.items():
        (kernel / name).write_text(data)
    (tmp_path / "usr/lib/kernel/6.2").mkdir()  # no vmlinuz: not a kernel
    paths = kernel_paths_in_tree(tmp_path)
    assert "usr/lib/kernel/6.1/vmlinuz" in paths
    warnings: list[str] = []
    state = read_state(
        3,
        tmp_path,
        [*paths, "usr/lib/kernel/current -> x"],
        frozenset({"30-masked.cmdline"}),
        warnings.append,
        FALLBACK,
    )
    assert state.identity == FALLBACK and "using the running system's identity" in warnings[0]
    (only,) = state.kernels
    assert only.version == "6.1"
    assert [i.name for i in only.initrds] == ["05-A.initrd", "10-b.initrd"]
    assert only.cmdline == ("quiet",)


def test_etc_snippets_and_masks(tmp_path: Path) -> None:
    etc = tmp_path / "etc/kernel/cmdline.d"
    etc.mkdir(parents=True)
    (etc / "20-b.cmdline").write_text("b\n")
    (etc / "10-a.cmdline").write_text("a\n")
    (etc / "10-a.cmdline~").write_text("backup\n")
    os.symlink("/dev/null", etc / "50-splash.cmdline")
    found = read_etc_cmdline(tmp_path, lambda _: None)
    assert found.snippets == ("a", "b")
    assert found.masks == frozenset({"50-splash.cmdline"})


def test_files_leaving_the_tree_are_refused(tmp_path: Path) -> None:
    """Packages are untrusted: a kernel, initrd, snippet or loader symlinked out of the state's
    tree (to a secret of the host) is never read, so it never reaches the FAT ESP."""
    from moss_core.boot.inputs import read_loader

    secret = tmp_path / "secret"
    secret.write_text("root:hash\n")
    sysroot = tmp_path / "state"
    kernel = sysroot / "usr/lib/kernel/6.1"
    kernel.mkdir(parents=True)
    os.symlink(secret, kernel / "vmlinuz")
    good = sysroot / "usr/lib/kernel/6.2"
    good.mkdir()
    (good / "vmlinuz").write_text("k")
    (good / "real.initrd").write_text("i")
    os.symlink("real.initrd", good / "50-inside.initrd")
    os.symlink(secret, good / "10-x.cmdline")
    vendor = sysroot / "usr/lib/kernel/cmdline.d"
    vendor.mkdir()
    os.symlink("../../../../../secret", vendor / "50-leak.cmdline")
    efi = sysroot / "usr/lib/systemd/boot/efi"
    efi.mkdir(parents=True)
    os.symlink(secret, efi / "systemd-bootx64.efi")
    warnings: list[str] = []
    state = read_state(
        1, sysroot, kernel_paths_in_tree(sysroot), frozenset(), warnings.append, FALLBACK
    )
    (only,) = state.kernels
    assert only.version == "6.2" and only.cmdline == () and state.vendor_cmdline == ()
    assert [i.name for i in only.initrds] == ["50-inside.initrd", "real.initrd"]
    assert sum("resolves outside its state's tree" in w for w in warnings) == 3
    with pytest.raises(BootInputError, match=r"systemd-bootx64\.efi: resolves outside"):
        read_loader(sysroot)

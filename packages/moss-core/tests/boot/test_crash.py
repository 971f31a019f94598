"""Crash injection after every write (spec boot.md §11.3 case 15) and a full partition (16):
at every stop, each entry points at complete files and loader.conf's default at an entry; a
later sync finishes the job."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from moss_core.boot.errors import BootError
from moss_core.boot.fat import FatImageBackend
from moss_core.boot.fs import Backend, DirectoryBackend
from moss_core.boot.loader import parse_loader_conf
from moss_core.boot.plan import parse_entry
from moss_core.boot.targets import Targets

from .conftest import BootRoot, PartitionFactory, make_fat, needs_mtools, tree_of

VER = "6.18.13-130.desktop"
OLD = "6.12.60-50.lts"


class Crash(Exception):
    """The machine stopped here."""


def _stopper(after: int, seen: list[str]) -> object:
    def step(label: str) -> None:
        seen.append(label)
        if len(seen) > after:
            raise Crash(label)

    return step


def _check_bootable(backend: Backend) -> None:
    files = tree_of(backend)
    entries = {
        p.rsplit("/", 1)[1]: d.decode()
        for p, d in files.items()
        if p.startswith("loader/entries/") and p.endswith(".conf")
    }
    for name, text in entries.items():
        keys = parse_entry(text)
        for path in (*keys["linux"], *keys.get("initrd", [])):
            data = files.get(path.lstrip("/").lower())
            assert data is not None, f"{name} points at missing {path}"
            digest = path.rsplit("-", 1)[1].split(".")[0]
            assert hashlib.sha256(data).hexdigest().startswith(digest), f"{path} is partial"
    conf = files.get("loader/loader.conf")
    if conf is not None:
        default = parse_loader_conf(conf.decode())["default"]
        assert default in entries, f"default {default} names no entry"


def _snapshot(backend: Backend, into: Path) -> None:
    if isinstance(backend, DirectoryBackend):
        shutil.copytree(backend.root, into, symlinks=True)
    else:
        assert isinstance(backend, FatImageBackend)
        shutil.copyfile(backend.image, into)


def _restore(backend: Backend, source: Path) -> None:
    if isinstance(backend, DirectoryBackend):
        shutil.rmtree(backend.root)
        shutil.copytree(source, backend.root, symlinks=True)
    else:
        assert isinstance(backend, FatImageBackend)
        shutil.copyfile(source, backend.image)


def _history(boot_root: BootRoot) -> None:
    """States 1 and 2 synced; then state 3 arrives with a new kernel and initrd."""
    boot_root.active = 2
    boot_root.add(2, {OLD: {"vmlinuz": b"old 2", "50-default.initrd": b"init 2"}})
    boot_root.add(1, {OLD: {"vmlinuz": b"old 1"}})


def test_crash_after_every_write(
    boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path
) -> None:
    _history(boot_root)
    esp = partition(tmp_path, "esp", lambda _: None)
    boot_root.sync(Targets(esp), window=1)
    boot_root.active = 3
    boot_root.add(2, {OLD: {"vmlinuz": b"old 2", "50-default.initrd": b"init 2"}})
    shutil.rmtree(boot_root.root / "usr/lib/kernel")
    boot_root.add(3, {VER: {"vmlinuz": b"new 3", "50-default.initrd": b"init 3"}})
    (boot_root.root / "usr/lib/systemd/boot/efi/systemd-bootx64.efi").write_bytes(b"loader v2")
    saved = tmp_path / "saved"
    _snapshot(esp, saved)

    clean: list[str] = []
    reference = partition(tmp_path, "reference", clean.append)
    _restore(reference, saved)
    boot_root.sync(Targets(reference), window=1)
    final = tree_of(reference)
    assert len(clean) >= 8

    for stop in range(len(clean)):
        _restore(esp, saved)
        seen: list[str] = []
        crashing = partition(tmp_path, "esp", _stopper(stop, seen))  # type: ignore[arg-type]
        with pytest.raises(Crash):
            boot_root.sync(Targets(crashing), window=1)
        assert seen == clean[: stop + 1]
        _check_bootable(crashing)
        boot_root.sync(Targets(partition(tmp_path, "esp", lambda _: None)), window=1)
        assert tree_of(crashing) == final, f"after a crash at {seen[-1]}"


MIB = 1 << 20


def _big(seed: int) -> bytes:
    return bytes([seed]) * (3 * MIB)


@needs_mtools
def test_full_fat_image_makes_room_first(boot_root: BootRoot, tmp_path: Path) -> None:
    esp = FatImageBackend(make_fat(tmp_path / "small.img", "8M"))
    boot_root.active = 2
    boot_root.add(2, {"6.1": {"vmlinuz": _big(2)}})
    boot_root.add(1, {"6.0": {"vmlinuz": _big(1)}})
    boot_root.sync(Targets(esp))
    boot_root.active = 3
    boot_root.add(2, {"6.1": {"vmlinuz": _big(2)}})
    shutil.rmtree(boot_root.root / "usr/lib/kernel")
    boot_root.add(3, {"6.2": {"vmlinuz": _big(3)}})
    before = tree_of(esp)

    # Three 3 MiB kernels cannot share 8 MiB: refused before anything is touched.
    with pytest.raises(BootError, match=r"not enough space for the boot files.*nothing changed"):
        boot_root.sync(Targets(esp), window=2)
    assert tree_of(esp) == before

    # Only the new state kept: state 1's kernel goes first, making room; state 2's (the old
    # default) goes once the new default is in place.
    boot_root.sync(Targets(esp), window=0)
    files = tree_of(esp)
    assert [p for p in files if p.startswith("efi/aerynos/")] == [
        f"efi/aerynos/6.2/vmlinuz-{hashlib.sha256(_big(3)).hexdigest()[:12]}"
    ]
    _check_bootable(esp)


@needs_mtools
def test_disk_full_mid_copy_leaves_no_part(tmp_path: Path) -> None:
    esp = FatImageBackend(make_fat(tmp_path / "tiny.img", "2M"))
    source = tmp_path / "big"
    source.write_bytes(_big(7))
    with pytest.raises(BootError, match="no space left on the boot partition"):
        esp.write_file("EFI/aerynos/6.1/vmlinuz-0123456789ab", source)
    assert not any(p.endswith(".moss-tmp") for p in esp.listing().files)
    assert esp.listing().files == {}


def test_directory_write_errors_leave_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "esp"
    target.mkdir()
    backend = DirectoryBackend(target)
    with pytest.raises(BootError, match="missing"):
        backend.write_file("EFI/x/vmlinuz", tmp_path / "missing")
    assert backend.listing().files == {}

"""Discovery on fixture trees standing for `/` (spec boot.md §11.3 cases 22-24): a GPT written
by sfdisk into a plain file, a real ext4 superblock from mkfs.ext4, hand-laid btrfs and LUKS2
superblocks, sysfs links, efivars files and a mounts table. No real disk is read."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moss_core.boot.errors import BootTargetError
from moss_core.boot.topology import (
    LOADER_VENDOR,
    Host,
    discover,
    parse_mounts,
    read_efivar,
    root_cmdline,
)

ESP_UUID = "0698393A-B99A-4919-9770-64F56D1C0177"
ROOT_PARTUUID = "6ca59a0c-e8c9-4ec4-b331-351d120fbb32"
ROOT_FS_UUID = "8e3f7b29-4d1c-4b8e-9a55-1f0c3d2e6a77"
BTRFS_UUID = "2a78a4da-f110-4441-8839-dbd97ab87cda"
LUKS_UUID = "b6b31f26-39f4-48f7-bed5-6faaff96cca4"


def _tool(name: str) -> bool:
    return any(
        os.access(os.path.join(d, name), os.X_OK)
        for d in (*os.environ.get("PATH", "").split(":"), "/usr/sbin", "/sbin")
    )


needs_sfdisk = pytest.mark.skipif(
    not _tool("sfdisk") or not _tool("mkfs.ext4"),
    reason="sfdisk (fdisk) and mkfs.ext4 (e2fsprogs) are needed: bash scripts/test-tools.sh",
)


def _run(*args: str, stdin: str | None = None) -> None:
    env = {**os.environ, "PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin"}
    subprocess.run(args, input=stdin, text=True, check=True, capture_output=True, env=env)


def _efivar(path: Path, text: str, attributes: int = 6) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<I", attributes) + text.encode("utf-16-le") + b"\0\0")


def _link(base: Path, link: str, target: str) -> None:
    path = base / link.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def _sys_device(base: Path, parents: str, name: str, number: str, partition: int | None) -> Path:
    directory = base / "sys/devices" / parents / name
    directory.mkdir(parents=True)
    if partition is not None:
        (directory / "partition").write_text(f"{partition}\n")
    _link(base, f"/sys/class/block/{name}", os.path.relpath(directory, base / "sys/class/block"))
    _link(base, f"/sys/dev/block/{number}", os.path.relpath(directory, base / "sys/dev/block"))
    return directory


def _device_file(base: Path, name: str, data: bytes | None = None, size: int = 1 << 20) -> Path:
    path = base / "dev" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.truncate(size)
        if data is not None:
            out.write(data)
    return path


def _btrfs(fs_uuid: str) -> bytes:
    block = bytearray(65536 + 4096)
    block[65536 + 32 : 65536 + 48] = uuid.UUID(fs_uuid).bytes
    block[65536 + 64 : 65536 + 72] = b"_BHRfS_M"
    return bytes(block)


def _luks2(luks_uuid: str) -> bytes:
    header = bytearray(4096)
    header[0:6] = b"LUKS\xba\xbe"
    header[6:8] = b"\x00\x02"
    header[168 : 168 + len(luks_uuid)] = luks_uuid.encode()
    return bytes(header)


@pytest.fixture
def nvme(tmp_path: Path) -> Host:
    """An NVMe disk: ESP (p1), XBOOTLDR (p2), ext4 root (p3); the ESP at /efi, XBOOTLDR at
    /boot, systemd-boot's efivars naming the ESP."""
    if not _tool("sfdisk") or not _tool("mkfs.ext4"):
        pytest.skip("sfdisk (fdisk) and mkfs.ext4 (e2fsprogs) are needed: scripts/test-tools.sh")
    base = tmp_path / "host"
    disk = _device_file(base, "nvme0n1", size=8 << 20)
    _run(
        "sfdisk",
        "-q",
        str(disk),
        stdin=(
            "label: gpt\n"
            f"start=2048, size=4096, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid={ESP_UUID}\n"
            "start=6144, size=2048, type=BC13C2FF-59E6-4262-A352-B275FD6F7172\n"
            "start=8192, size=4096, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, "
            f"uuid={ROOT_PARTUUID}\n"
        ),
    )
    parents = "pci0000:00/nvme/nvme0"
    disk_dir = _sys_device(base, parents, "nvme0n1", "259:0", None)
    for number in (1, 2, 3):
        _sys_device(base, f"{parents}/nvme0n1", f"nvme0n1p{number}", f"259:{number}", number)
    assert disk_dir.is_dir()
    _device_file(base, "nvme0n1p1")
    _device_file(base, "nvme0n1p2")
    root_fs = _device_file(base, "nvme0n1p3", size=4 << 20)
    _run("mkfs.ext4", "-q", "-F", "-U", ROOT_FS_UUID, str(root_fs))
    _link(base, f"/dev/disk/by-partuuid/{ESP_UUID.lower()}", "../../nvme0n1p1")
    efivars = base / "sys/firmware/efi/efivars"
    _efivar(efivars / f"LoaderInfo-{LOADER_VENDOR}", "systemd-boot 254")
    _efivar(efivars / f"LoaderDevicePartUUID-{LOADER_VENDOR}", ESP_UUID)
    (base / "proc/self").mkdir(parents=True)
    (base / "proc/self/mounts").write_text(
        "/dev/nvme0n1p3 / ext4 rw,relatime 0 0\n"
        "systemd-1 /efi autofs rw 0 0\n"
        "/dev/nvme0n1p1 /efi vfat rw,fmask=0077 0 0\n"
        "/dev/nvme0n1p2 /boot vfat rw 0 0\n"
    )
    return Host(base)


def test_ext4_gpt_root(nvme: Host) -> None:
    assert root_cmdline(nvme, "259:3") == f"root=PARTUUID={ROOT_PARTUUID}"


def test_esp_from_efivars(nvme: Host) -> None:
    found = discover(nvme, "259:3")
    assert found.esp_device == "/dev/nvme0n1p1"
    assert found.esp_dir == nvme.path("/efi")
    assert found.xbootldr_device == "/dev/nvme0n1p2"
    assert found.xbootldr_dir == nvme.path("/boot")


def test_esp_from_gpt_without_loader_info(nvme: Host) -> None:
    (nvme.path("/sys/firmware/efi/efivars") / f"LoaderInfo-{LOADER_VENDOR}").unlink()
    (nvme.path("/dev/disk/by-partuuid") / ESP_UUID.lower()).unlink()
    assert discover(nvme, "259:3").esp_device == "/dev/nvme0n1p1"


def test_odd_length_efivar_is_one_clear_error(nvme: Host) -> None:
    variable = nvme.path("/sys/firmware/efi/efivars") / f"LoaderDevicePartUUID-{LOADER_VENDOR}"
    variable.write_bytes(struct.pack("<I", 6) + b"\x30\x00\x36")
    with pytest.raises(BootTargetError, match="odd length 3"):
        discover(nvme, "259:3")
    with pytest.raises(BootTargetError, match="odd length"):
        read_efivar(variable)


def test_unmounted_esp_and_bios(nvme: Host) -> None:
    mounts = nvme.path("/proc/self/mounts")
    mounts.write_text("/dev/nvme0n1p3 / ext4 rw 0 0\n")
    with pytest.raises(BootTargetError, match="ESP /dev/nvme0n1p1 is not mounted"):
        discover(nvme, "259:3")
    shutil.rmtree(nvme.path("/sys/firmware"))
    with pytest.raises(BootTargetError, match="not booted through UEFI"):
        discover(nvme, "259:3")


def test_unknown_filesystem_needs_root_cmdline(nvme: Host) -> None:
    nvme.path("/dev/nvme0n1p3").write_bytes(bytes(1 << 20))
    with pytest.raises(BootTargetError, match="give it with `moss boot sync --root-cmdline`"):
        root_cmdline(nvme, "259:3")


def test_plain_btrfs_keeps_its_subvolume(tmp_path: Path) -> None:
    base = tmp_path / "host"
    _sys_device(base, "pci/sda", "sda", "8:0", None)
    _sys_device(base, "pci/sda/sda", "sda2", "8:2", 2)
    _device_file(base, "sda2", _btrfs(BTRFS_UUID))
    (base / "proc/self").mkdir(parents=True)
    (base / "proc/self/mounts").write_text("/dev/sda2 / btrfs rw,subvol=/@ 0 0\n")
    assert root_cmdline(Host(base), "8:2") == f"root=UUID={BTRFS_UUID} rootfsflags=subvol=/@"


def test_btrfs_on_lvm_on_luks(tmp_path: Path) -> None:
    base = tmp_path / "host"
    _sys_device(base, "pci/sda", "sda", "8:0", None)
    sda1 = _sys_device(base, "pci/sda/sda", "sda1", "8:1", 1)
    dm0 = _sys_device(base, "virtual/block", "dm-0", "254:0", None)
    dm1 = _sys_device(base, "virtual/block", "dm-1", "254:1", None)
    (dm0 / "slaves").mkdir()
    os.symlink(os.path.relpath(sda1, dm0 / "slaves"), dm0 / "slaves/sda1")
    (dm1 / "slaves").mkdir()
    os.symlink(os.path.relpath(dm0, dm1 / "slaves"), dm1 / "slaves/dm-0")
    _device_file(base, "sda1", _luks2(LUKS_UUID))
    _device_file(base, "dm-0", b"LVM2 001")
    _device_file(base, "dm-1", _btrfs(BTRFS_UUID))
    (base / "proc/self").mkdir(parents=True)
    (base / "proc/self/mounts").write_text("/dev/dm-1 / btrfs rw,subvol=/ 0 0\n")
    assert root_cmdline(Host(base), "254:1") == (
        f"rd.luks.uuid={LUKS_UUID} root=UUID={BTRFS_UUID} rootfsflags=subvol=/"
    )


def test_mounts_unescape() -> None:
    (mount,) = parse_mounts("/dev/sda1 /mnt/my\\040esp vfat rw,noatime 0 0\n")
    assert mount.mountpoint == "/mnt/my esp" and mount.options == ("rw", "noatime")


@given(st.binary(max_size=64))
def test_any_efivar_bytes_decode_or_fail_cleanly(data: bytes) -> None:
    import tempfile

    with tempfile.NamedTemporaryFile() as variable:
        variable.write(data)
        variable.flush()
        try:
            text = read_efivar(Path(variable.name))
        except BootTargetError as err:
            assert variable.name in str(err)
        else:
            assert "\0" not in text[-1:]


@given(st.text(max_size=200))
def test_any_mounts_text_parses(text: str) -> None:
    for mount in parse_mounts(text):
        assert mount.device and mount.mountpoint

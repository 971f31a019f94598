"""The running system's boot topology (moss -D /): the ESP the loader ran from (efivars), ESP
and XBOOTLDR by GPT type, where they are mounted, and the `root=` arguments that find the root
filesystem (spec boot.md §2.6, §3). Everything is read below `Host.base`, which is `/` on a real
system and a fixture tree in tests: nothing here probes a disk it was not pointed at.
"""

from __future__ import annotations

import os
import re
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

from moss_core.boot.errors import BootTargetError

LOADER_VENDOR = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
XBOOTLDR_TYPE = "bc13c2ff-59e6-4262-a352-b275fd6f7172"
_GPT_SIGNATURE = b"EFI PART"
_PROBE_BYTES = 128 * 1024


@dataclass(frozen=True)
class Host:
    """Where `/sys`, `/proc`, `/dev` are read from."""

    base: Path = Path("/")

    def path(self, absolute: str) -> Path:
        return self.base / absolute.lstrip("/")


def read_efivar(path: Path) -> str:
    """An efivarfs file: a 4-byte attribute word, then UTF-16LE text with a trailing NUL."""
    data = path.read_bytes()
    payload = data[4:]
    if len(data) < 4 or len(payload) % 2:
        raise BootTargetError(f"{path}: not a UTF-16 EFI variable (odd length {len(payload)})")
    try:
        return payload.decode("utf-16-le").rstrip("\0")
    except UnicodeDecodeError:
        raise BootTargetError(f"{path}: not a UTF-16 EFI variable") from None


def loader_esp_partuuid(host: Host) -> str | None:
    """The PARTUUID of the ESP systemd-boot ran from, lowercased; None when it did not say."""
    efivars = host.path("/sys/firmware/efi/efivars")
    if not (efivars / f"LoaderInfo-{LOADER_VENDOR}").exists():
        return None
    variable = efivars / f"LoaderDevicePartUUID-{LOADER_VENDOR}"
    if not variable.exists():
        return None
    return read_efivar(variable).lower()


@dataclass(frozen=True)
class Mount:
    device: str
    mountpoint: str
    fstype: str
    options: tuple[str, ...]


def parse_mounts(text: str) -> list[Mount]:
    """`/proc/self/mounts`: fields separated by spaces, with `\\040`-style octal escapes."""

    def unescape(field: str) -> str:
        return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)

    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            found.append(
                Mount(
                    unescape(fields[0]),
                    unescape(fields[1]),
                    fields[2],
                    tuple(fields[3].split(",")),
                )
            )
    return found


@dataclass(frozen=True)
class GptPartition:
    number: int
    type_guid: str
    unique_guid: str


def read_gpt(disk: Path) -> list[GptPartition]:
    """The used entries of a disk's primary GPT (512- or 4096-byte sectors)."""
    with open(disk, "rb") as device:
        for sector in (512, 4096):
            device.seek(sector)
            header = device.read(92)
            if header[:8] != _GPT_SIGNATURE:
                continue
            entries_lba, count, size = struct.unpack_from("<QII", header, 72)
            if not 128 <= size <= 4096 or count > 1024:
                raise BootTargetError(f"{disk}: GPT header out of range")
            device.seek(entries_lba * sector)
            table = device.read(count * size)
            found = []
            for index in range(count):
                entry = table[index * size : index * size + 32]
                if len(entry) < 32 or entry[:16] == bytes(16):
                    continue
                found.append(
                    GptPartition(
                        index + 1,
                        str(uuid.UUID(bytes_le=entry[:16])),
                        str(uuid.UUID(bytes_le=entry[16:32])),
                    )
                )
            return found
    raise BootTargetError(f"{disk}: no GPT")


@dataclass(frozen=True)
class Superblock:
    kind: str
    uuid: str


def probe_superblock(device: Path) -> Superblock | None:
    """ext4, btrfs, xfs, f2fs or LUKS2 from the first 128 KiB; None when unknown or unreadable."""
    try:
        with open(device, "rb") as source:
            data = source.read(_PROBE_BYTES)
    except OSError:
        return None

    def at(offset: int, length: int) -> bytes:
        return data[offset : offset + length]

    if at(1024 + 56, 2) == b"\x53\xef":
        return Superblock("ext4", str(uuid.UUID(bytes=at(1024 + 104, 16))))
    if at(65536 + 64, 8) == b"_BHRfS_M":
        return Superblock("btrfs", str(uuid.UUID(bytes=at(65536 + 32, 16))))
    if at(0, 6) == b"LUKS\xba\xbe" and at(6, 2) == b"\x00\x02":
        return Superblock("luks2", at(168, 40).split(b"\0")[0].decode("ascii", "replace"))
    if at(0, 4) == b"XFSB":
        return Superblock("xfs", str(uuid.UUID(bytes=at(32, 16))))
    if at(1024, 4) == b"\x10\x20\xf5\xf2":
        return Superblock("f2fs", str(uuid.UUID(bytes=at(1024 + 108, 16))))
    return None


@dataclass(frozen=True)
class BlockDevice:
    name: str
    path: str
    disk: str | None
    partition: int | None


def block_device(host: Host, number: str) -> BlockDevice:
    """The block device `maj:min` names, from sysfs."""
    link = host.path(f"/sys/dev/block/{number}")
    if not link.exists():
        raise BootTargetError(f"{link}: no such block device")
    return _device_at(host, link.resolve())


def _device_at(host: Host, sys_dir: Path) -> BlockDevice:
    parent = sys_dir.parent.name
    partition_file = sys_dir / "partition"
    partition = int(partition_file.read_text().strip()) if partition_file.exists() else None
    return BlockDevice(
        sys_dir.name,
        f"/dev/{sys_dir.name}",
        parent if partition is not None and parent != "block" else None,
        partition,
    )


def _slaves(host: Host, device: BlockDevice) -> list[BlockDevice]:
    """Depth first, as upstream walks `slaves/`."""
    directory = host.path(f"/sys/class/block/{device.name}").resolve() / "slaves"
    found: list[BlockDevice] = []
    if directory.is_dir():
        for entry in sorted(directory.iterdir()):
            below = _device_at(host, entry.resolve())
            found.append(below)
            found.extend(_slaves(host, below))
    return found


def _partuuid(host: Host, device: BlockDevice) -> str | None:
    if device.disk is None or device.partition is None:
        return None
    try:
        table = read_gpt(host.path(f"/dev/{device.disk}"))
    except (OSError, BootTargetError):
        return None
    return next((p.unique_guid for p in table if p.number == device.partition), None)


def root_cmdline(host: Host, number: str, root: str = "/") -> str:
    """`root=` (and `rd.luks.uuid=`, `rootfsflags=`) for the filesystem on `maj:min`, mounted at
    `root`. Unlike upstream, a subvolume is kept on a plain btrfs partition, and an unknown
    filesystem is an error rather than an entry without `root=` (H15)."""
    dev = block_device(host, number)
    chain = [dev, *_slaves(host, dev)]
    tip, children = chain[-1], chain[:-1]
    mounts = _read_mounts(host)
    fragments = []
    for device in (tip, *children):
        block = probe_superblock(host.path(device.path))
        if block is None:
            continue
        if block.kind == "btrfs":
            fragment = f"root=UUID={block.uuid}"
            if device == dev:
                fragment += _subvolume(mounts, device, root)
        elif block.kind == "luks2":
            fragment = f"rd.luks.uuid={block.uuid}"
        else:
            guid = _partuuid(host, device) if device == tip else None
            fragment = f"root=PARTUUID={guid}" if guid else f"root=UUID={block.uuid}"
        fragments.append(fragment)
    line = " ".join(fragments)
    if "root=" not in line:
        raise BootTargetError(
            f"cannot tell which root= finds {dev.path} (unknown filesystem): "
            "give it with `moss boot sync --root-cmdline`"
        )
    return line


def _read_mounts(host: Host) -> list[Mount]:
    try:
        return parse_mounts(host.path("/proc/self/mounts").read_text())
    except OSError:
        return []


def _subvolume(mounts: list[Mount], device: BlockDevice, root: str) -> str:
    for mount in reversed(mounts):
        if mount.mountpoint == root and mount.device == device.path:
            for option in mount.options:
                if option.startswith("subvol="):
                    return f" rootfsflags={option}"
    return ""


@dataclass(frozen=True)
class Discovered:
    esp_device: str
    esp_dir: Path
    xbootldr_device: str | None
    xbootldr_dir: Path | None


def discover(host: Host, root_device: str) -> Discovered:
    """ESP: the loader's own (efivars), else the first ESP-type partition on the root's disk;
    XBOOTLDR: the first on the ESP's disk. Both must be mounted: moss does not mount them."""
    if not host.path("/sys/firmware/efi").exists():
        raise BootTargetError("not booted through UEFI: moss manages systemd-boot only")
    partuuid = loader_esp_partuuid(host)
    esp: BlockDevice | None = None
    if partuuid is not None:
        link = host.path(f"/dev/disk/by-partuuid/{partuuid}")
        if link.exists():
            esp = _device_at(host, host.path(f"/sys/class/block/{link.resolve().name}").resolve())
    dev = block_device(host, root_device)
    chain = [dev, *_slaves(host, dev)]
    if esp is None:
        esp = _first_of_type(host, chain[-1].disk, ESP_TYPE)
    if esp is None:
        raise BootTargetError("no EFI system partition found (efivars, then the root's disk)")
    xbootldr = _first_of_type(host, esp.disk, XBOOTLDR_TYPE)
    mounts = _read_mounts(host)
    esp_dir = _mountpoint(host, mounts, esp)
    if esp_dir is None:
        raise BootTargetError(f"the ESP {esp.path} is not mounted: mount it (at /efi) first")
    xbootldr_dir = _mountpoint(host, mounts, xbootldr) if xbootldr is not None else None
    if xbootldr is not None and xbootldr_dir is None:
        raise BootTargetError(f"the XBOOTLDR {xbootldr.path} is not mounted: mount it at /boot")
    return Discovered(esp.path, esp_dir, xbootldr.path if xbootldr else None, xbootldr_dir)


def _first_of_type(host: Host, disk: str | None, type_guid: str) -> BlockDevice | None:
    if disk is None:
        return None
    try:
        table = read_gpt(host.path(f"/dev/{disk}"))
    except (OSError, BootTargetError):
        return None
    for partition in table:
        if partition.type_guid == type_guid:
            for entry in sorted(host.path(f"/sys/class/block/{disk}").resolve().iterdir()):
                number = entry / "partition"
                if number.exists() and int(number.read_text().strip()) == partition.number:
                    return _device_at(host, entry.resolve())
    return None


def _mountpoint(host: Host, mounts: list[Mount], device: BlockDevice) -> Path | None:
    found = None
    for mount in mounts:
        if mount.device.startswith("/") and os.path.realpath(
            host.path(mount.device)
        ) == os.path.realpath(host.path(device.path)):
            found = mount.mountpoint
    return host.path(found) if found is not None else None


def root_device_number(host: Host, root: str = "/") -> str:
    """`maj:min` of the block device holding `root`: its `st_dev`, or (btrfs, overlay: an
    anonymous device) the device the mounts table names for it."""
    info = os.stat(root)
    number = f"{os.major(info.st_dev)}:{os.minor(info.st_dev)}"
    if host.path(f"/sys/dev/block/{number}").exists():
        return number
    for mount in reversed(_read_mounts(host)):
        if mount.mountpoint == root and mount.device.startswith("/dev/"):
            device = os.stat(host.path(mount.device)).st_rdev
            return f"{os.major(device)}:{os.minor(device)}"
    raise BootTargetError(f"cannot tell which block device holds {root}")

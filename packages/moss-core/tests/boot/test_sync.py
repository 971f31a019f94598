"""The test plan's file cases (spec boot.md §11.3), on a directory and on a FAT image: the
"ours" expectation wherever it differs from upstream."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from moss_core.boot.errors import BootError
from moss_core.boot.loader import default_entry, parse_loader_conf
from moss_core.boot.plan import parse_entry
from moss_core.boot.targets import Targets

from .conftest import LOADER, BootRoot, PartitionFactory, needs_mtools, os_info, tree_of

VER = "6.18.13-130.desktop"
OLD = "6.12.60-50.lts"


def h(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def kernel(image: bytes = b"kernel-A", **initrds: bytes) -> dict[str, bytes]:
    return {
        "vmlinuz": image,
        **{f"{k.lstrip('_').replace('_', '-')}.initrd": v for k, v in initrds.items()},
    }


def entries_of(files: dict[str, bytes]) -> dict[str, str]:
    return {
        p.rsplit("/", 1)[1]: d.decode()
        for p, d in files.items()
        if p.startswith("loader/entries/") and p.endswith(".conf")
    }


def test_basic_esp(boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path) -> None:
    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"K1", _50_default=b"I1")})
    esp = partition(tmp_path, "esp", lambda _: None)
    result = boot_root.sync(Targets(esp))
    files = tree_of(esp)
    vmlinuz = f"EFI/aerynos/{VER}/vmlinuz-{h(b'K1')}"
    initrd = f"EFI/aerynos/{VER}/50-default-{h(b'I1')}.initrd"
    name = f"aerynos-{VER}-42.conf"
    assert files == {
        "efi/systemd/systemd-bootx64.efi": LOADER,
        "efi/boot/bootx64.efi": LOADER,
        vmlinuz.lower(): b"K1",
        initrd.lower(): b"I1",
        "loader/loader.conf": f"default {name}\n".encode(),
        f"loader/entries/{name}": (
            f"title AerynOS 0.25.1 ({VER}, state 42)\n"
            f"linux /{vmlinuz}\n"
            "\n"
            f"initrd /{initrd}\n"
            "options root=PARTUUID=P rw moss.fstx=42\n"
        ).encode(),
    }
    assert result.plan.default == name


def test_xbootldr(boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path) -> None:
    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"K1")})
    esp = partition(tmp_path, "esp", lambda _: None)
    xbootldr = partition(tmp_path, "xbootldr", lambda _: None)
    boot_root.sync(Targets(esp, xbootldr))
    assert set(tree_of(esp)) == {
        "efi/systemd/systemd-bootx64.efi",
        "efi/boot/bootx64.efi",
        "loader/loader.conf",
    }
    assert set(tree_of(xbootldr)) == {
        f"efi/aerynos/{VER}/vmlinuz-{h(b'K1')}".lower(),
        f"loader/entries/aerynos-{VER}-42.conf",
    }


def test_no_initrd_and_initrd_order(boot_root: BootRoot, tmp_path: Path) -> None:
    from .conftest import directory_partition

    boot_root.active = 1
    boot_root.add(
        1,
        {
            VER: kernel(b"K"),
            OLD: {"vmlinuz": b"L", "10-b.initrd": b"b", "05-A.initrd": b"a", "50-c.initrd": b"c"},
        },
    )
    esp = directory_partition(tmp_path, "esp", lambda _: None)
    boot_root.sync(Targets(esp))
    entries = entries_of(tree_of(esp))
    plain = entries[f"aerynos-{VER}-1.conf"].splitlines()
    assert plain[1].startswith("linux ") and plain[2] == "" and plain[3].startswith("options ")
    ordered = parse_entry(entries[f"aerynos-{OLD}-1.conf"])["initrd"]
    assert [p.rsplit("/", 1)[1].split("-")[:2] for p in ordered] == [
        ["05", "A"],
        ["10", "b"],
        ["50", "c"],
    ]


def test_window_keeps_newest_and_collects(
    boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path
) -> None:
    esp = partition(tmp_path, "esp", lambda _: None)
    boot_root.active = 2
    boot_root.add(2, {VER: kernel(b"K2")})
    boot_root.add(1, {VER: kernel(b"K1")})
    boot_root.sync(Targets(esp))
    assert set(entries_of(tree_of(esp))) == {f"aerynos-{VER}-2.conf", f"aerynos-{VER}-1.conf"}
    boot_root.active = 7
    for state_id in range(1, 8):
        boot_root.add(state_id, {VER: kernel(f"K{state_id}".encode())})
    boot_root.sync(Targets(esp))
    files = tree_of(esp)
    assert set(entries_of(files)) == {f"aerynos-{VER}-{i}.conf" for i in (7, 6, 5, 4, 3)}
    kernels = {p for p in files if p.startswith("efi/aerynos/")}
    assert kernels == {
        f"efi/aerynos/{VER}/vmlinuz-{h(f'K{i}'.encode())}".lower() for i in (7, 6, 5, 4, 3)
    }


def test_shared_kernel_one_copy(
    boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path
) -> None:
    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"same")})
    boot_root.add(41, {VER: kernel(b"same")})
    esp = partition(tmp_path, "esp", lambda _: None)
    boot_root.sync(Targets(esp))
    files = tree_of(esp)
    assert [p for p in files if p.startswith("efi/aerynos/")] == [
        f"efi/aerynos/{VER}/vmlinuz-{h(b'same')}".lower()
    ]
    a, b = (entries_of(files)[f"aerynos-{VER}-{i}.conf"] for i in (41, 42))
    assert a.replace("41", "42") == b


def test_idempotent_sync_writes_nothing(
    boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path
) -> None:
    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"K", _50_default=b"I")})
    boot_root.add(41, {OLD: kernel(b"L")})
    steps: list[str] = []
    esp = partition(tmp_path, "esp", steps.append)
    boot_root.sync(Targets(esp))
    before = tree_of(esp)
    steps.clear()
    result = boot_root.sync(Targets(esp))
    assert steps == [] and not result.plan.changes
    assert tree_of(esp) == before


def test_kernel_dropped_from_window(
    boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path
) -> None:
    boot_root.active = 2
    boot_root.add(2, {VER: kernel(b"new")})
    boot_root.add(1, {OLD: kernel(b"old", _50_default=b"I")})
    esp = partition(tmp_path, "esp", lambda _: None)
    boot_root.sync(Targets(esp))
    assert any(p.startswith(f"efi/aerynos/{OLD}/") for p in tree_of(esp))
    boot_root.sync(Targets(esp), window=0)
    listing = esp.listing()
    assert not any(
        d.lower().startswith(f"efi/aerynos/{OLD}") for d in (*listing.dirs, *listing.files)
    )
    assert set(entries_of(tree_of(esp))) == {f"aerynos-{VER}-2.conf"}


def test_missing_archive_and_missing_vmlinuz(boot_root: BootRoot, tmp_path: Path) -> None:
    from .conftest import directory_partition

    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"K")})
    boot_root.add(41, {VER: kernel(b"K41")})
    boot_root.others.add(40)  # no tree at all: no entry, no error
    esp = directory_partition(tmp_path, "esp", lambda _: None)
    trees = boot_root.trees()
    (boot_root.sysroot(41) / f"usr/lib/kernel/{VER}/vmlinuz").unlink()
    warnings: list[str] = []
    from moss_core.boot.config import BootConfig
    from moss_core.boot.sync import sync_boot

    sync_boot(
        boot_root.root,
        42,
        trees,
        BootConfig(Path("/x"), root_cmdline="root=X"),
        Targets(esp),
        warnings.append,
    )
    assert set(entries_of(tree_of(esp))) == {f"aerynos-{VER}-42.conf"}
    assert any("state 41: kernel" in w and "vmlinuz" in w for w in warnings)


def test_cmdline_order_and_masks(boot_root: BootRoot, tmp_path: Path) -> None:
    from .conftest import directory_partition

    boot_root.active = 42
    boot_root.add(
        42,
        {VER: {**kernel(b"K"), "10-k.cmdline": b"a"}},
        vendor={"50-splash.cmdline": "splash", "60-x.cmdline": "b", "70-backup.cmdline~": "no"},
    )
    etc = boot_root.root / "etc/kernel/cmdline.d"
    etc.mkdir(parents=True)
    (etc / "00-local.cmdline").write_text("# c\n  quiet  \n\n")
    os.symlink("/dev/null", etc / "50-splash.cmdline")
    esp = directory_partition(tmp_path, "esp", lambda _: None)
    result = boot_root.sync(Targets(esp))
    assert result.plan.entries[0].options == "root=PARTUUID=P rw a b moss.fstx=42 quiet"


def test_case_reuse(boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path) -> None:
    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"K")})
    esp = partition(tmp_path, "esp", lambda _: None)
    from .conftest import DirectoryBackend

    if isinstance(esp, DirectoryBackend):
        (esp.root / "efi/boot").mkdir(parents=True)
        (esp.root / "efi/boot/bootx64.efi").write_bytes(b"other")
        (esp.root / "efi/AERYNOS").mkdir()
    else:
        esp._run("mmd", "::/efi", "::/efi/boot", "::/efi/AERYNOS")
        other = tmp_path / "other"
        other.write_bytes(b"other")
        esp._run("mcopy", str(other), "::/efi/boot/bootx64.efi")
    boot_root.sync(Targets(esp))
    listing = esp.listing()
    # One tree: the existing spellings were reused, not doubled in another case.
    assert sorted(d.lower() for d in listing.dirs if "/" not in d) == ["efi", "loader"]
    assert len([d for d in listing.dirs if d.lower() == "efi/boot"]) == 1
    assert f"efi/AERYNOS/{VER}/vmlinuz-{h(b'K')}" in listing.files
    entry = entries_of(tree_of(esp))[f"aerynos-{VER}-42.conf"]
    assert f"linux /efi/AERYNOS/{VER}/vmlinuz-{h(b'K')}" in entry
    assert tree_of(esp)["efi/boot/bootx64.efi"] == LOADER


def test_loader_change_detection(
    boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path
) -> None:
    boot_root.active = 1
    boot_root.add(1, {VER: kernel(b"K")})
    steps: list[str] = []
    esp = partition(tmp_path, "esp", steps.append)
    boot_root.sync(Targets(esp))
    (boot_root.root / "usr/lib/systemd/boot/efi/systemd-bootx64.efi").write_bytes(b"v2")
    steps.clear()
    boot_root.sync(Targets(esp))
    assert sorted(s for s in steps if s.startswith("renamed")) == [
        "renamed EFI/Boot/BOOTX64.EFI",
        "renamed EFI/systemd/systemd-bootx64.efi",
    ]
    files = tree_of(esp)
    assert files["efi/boot/bootx64.efi"] == files["efi/systemd/systemd-bootx64.efi"] == b"v2"
    assert not any("tmp" in p.lower() for p in files)


def test_former_identity_and_foreign_files(
    boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path
) -> None:
    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"K")}, identity=os_info(former=("serpentos",)))
    esp = partition(tmp_path, "esp", lambda _: None)
    seed = tmp_path / "seed"
    for path, text in {
        "loader/entries/serpentos-6.6-3.conf": (
            "title old\nlinux /EFI/serpentos/6.6/vmlinuz\noptions root=X rw moss.fstx=3\n"
        ),
        "EFI/serpentos/6.6/vmlinuz": "old kernel",
        "loader/entries/fedora-6.9.conf": "title Fedora\nlinux /fedora/vmlinuz\n",
        "EFI/Microsoft/Boot/bootmgfw.efi": "windows",
        "loader/entries/aerynos-custom.conf": (
            "title mine\nlinux /EFI/aerynos/custom/vmlinuz\noptions rw\n"
        ),
    }.items():
        (seed / path).parent.mkdir(parents=True, exist_ok=True)
        (seed / path).write_text(text)
        esp.write_file(path, seed / path)
    boot_root.sync(Targets(esp))
    files = tree_of(esp)
    assert "loader/entries/serpentos-6.6-3.conf" not in files
    assert not any(p.startswith("efi/serpentos/") for p in files)
    assert files["loader/entries/fedora-6.9.conf"].startswith(b"title Fedora")
    assert files["efi/microsoft/boot/bootmgfw.efi"] == b"windows"
    assert "loader/entries/aerynos-custom.conf" in files


def test_content_collision_each_state_its_bytes(
    boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path
) -> None:
    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"bytes of 42")})
    boot_root.add(41, {VER: kernel(b"bytes of 41")})
    esp = partition(tmp_path, "esp", lambda _: None)
    boot_root.sync(Targets(esp))
    files = tree_of(esp)
    for state_id in (41, 42):
        linux = parse_entry(entries_of(files)[f"aerynos-{VER}-{state_id}.conf"])["linux"][0]
        assert files[linux.lstrip("/").lower()] == f"bytes of {state_id}".encode()


def test_default_is_active_state_not_highest_version(
    boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path
) -> None:
    boot_root.active = 12
    boot_root.add(12, {OLD: kernel(b"lts")})
    boot_root.add(11, {VER: kernel(b"desktop")})
    esp = partition(tmp_path, "esp", lambda _: None)
    boot_root.sync(Targets(esp))
    files = tree_of(esp)
    conf = parse_loader_conf(files["loader/loader.conf"].decode())
    assert default_entry(entries_of(files), conf) == f"aerynos-{OLD}-12.conf"
    # Upstream's `default "aerynos*"` would boot state 11 (H3): the model agrees it sorts first.
    assert default_entry(entries_of(files), {"default": "aerynos*"}) == f"aerynos-{VER}-11.conf"


def test_no_loader_touches_nothing(boot_root: BootRoot, tmp_path: Path) -> None:
    from .conftest import directory_partition

    boot_root.active = 1
    boot_root.add(1, {VER: kernel(b"K")}, loader=None)
    esp = directory_partition(tmp_path, "esp", lambda _: None)
    warnings: list[str] = []
    result = boot_root.sync(Targets(esp), warnings=warnings)
    assert not result.loader and tree_of(esp) == {}
    assert any("no systemd-boot" in w for w in warnings)


def test_loader_conf_keeps_user_keys(
    boot_root: BootRoot, partition: PartitionFactory, tmp_path: Path
) -> None:
    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"K")})
    esp = partition(tmp_path, "esp", lambda _: None)
    seed = tmp_path / "loader.conf"
    seed.write_text("timeout 5\ndefault foo*\n")
    esp.write_file("loader/loader.conf", seed)
    boot_root.sync(Targets(esp))
    assert (
        tree_of(esp)["loader/loader.conf"] == f"timeout 5\ndefault aerynos-{VER}-42.conf\n".encode()
    )


@pytest.mark.parametrize("version", ["6.1 space", "6.1:x", "bad\\name", ".hidden"])
def test_invalid_names_refused(boot_root: BootRoot, tmp_path: Path, version: str) -> None:
    from .conftest import directory_partition

    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"K")})
    boot_root.add(41, {VER: kernel(b"K41")})
    (boot_root.sysroot(41) / f"usr/lib/kernel/{VER}").rename(
        boot_root.sysroot(41) / f"usr/lib/kernel/{version}"
    )
    esp = directory_partition(tmp_path, "esp", lambda _: None)
    warnings: list[str] = []
    boot_root.sync(Targets(esp), warnings=warnings)
    assert set(entries_of(tree_of(esp))) == {f"aerynos-{VER}-42.conf"}
    assert any(repr(version) in w and "not a valid" in w for w in warnings)


def test_invalid_os_id_writes_nothing(boot_root: BootRoot, tmp_path: Path) -> None:
    from .conftest import directory_partition

    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"K")}, identity=os_info(os_id="aeryn os"))
    esp = directory_partition(tmp_path, "esp", lambda _: None)
    with pytest.raises(BootError, match="not a valid boot entry name"):
        boot_root.sync(Targets(esp))
    assert tree_of(esp) == {}


def test_no_root_cmdline_is_an_error(boot_root: BootRoot, tmp_path: Path) -> None:
    from .conftest import directory_partition

    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"K")})
    esp = directory_partition(tmp_path, "esp", lambda _: None)
    with pytest.raises(BootError, match="no root="):
        boot_root.sync(Targets(esp), root_cmdline=" ")
    assert tree_of(esp) == {}


def test_explicit_mode_reads_no_system_state(boot_root: BootRoot, tmp_path: Path) -> None:
    """Case 24: no /proc, /sys, /dev or efivars is opened (an audit hook watches every open)."""
    import sys

    from .conftest import directory_partition

    boot_root.active = 42
    boot_root.add(42, {VER: kernel(b"K")})
    esp = directory_partition(tmp_path, "esp", lambda _: None)
    opened: list[str] = []
    watching = [True]

    def audit(event: str, args: tuple[object, ...]) -> None:
        if watching[0] and event in ("open", "os.listdir", "os.scandir") and args:
            opened.append(str(args[0]))

    sys.addaudithook(audit)
    try:
        boot_root.sync(Targets(esp))
    finally:
        watching[0] = False
    assert opened
    assert not [p for p in opened if p.startswith(("/proc", "/sys", "/dev"))]


def test_only_an_arm_loader_touches_nothing(boot_root: BootRoot, tmp_path: Path) -> None:
    """Case 21: systemd-bootx64.efi is the loader moss installs; an aa64 one alone is none."""
    from .conftest import directory_partition

    boot_root.active = 1
    boot_root.add(1, {VER: kernel(b"K")}, loader=None)
    efi = boot_root.root / "usr/lib/systemd/boot/efi"
    efi.mkdir(parents=True)
    (efi / "systemd-bootaa64.efi").write_bytes(b"arm")
    esp = directory_partition(tmp_path, "esp", lambda _: None)
    assert not boot_root.sync(Targets(esp)).loader
    assert tree_of(esp) == {}


@needs_mtools
def test_backend_parity(boot_root: BootRoot, tmp_path: Path) -> None:
    """Case 26: the same history gives the same files on a directory and in a FAT image,
    as mdir and mtype see them."""
    import subprocess

    from .conftest import directory_partition, fat_partition

    boot_root.active = 7
    for state_id in range(1, 8):
        boot_root.add(state_id, {VER: kernel(f"K{state_id % 3}".encode(), _50_default=b"I")})
    boot_root.add(5, {OLD: kernel(b"L")})
    directory = directory_partition(tmp_path, "esp", lambda _: None)
    image = fat_partition(tmp_path, "esp", lambda _: None)
    for backend in (directory, image):
        boot_root.sync(Targets(backend))
    expected = tree_of(directory)
    assert tree_of(image) == expected
    listed = subprocess.run(
        ["mdir", "-i", str(tmp_path / "esp.img"), "-/", "-b", "::/"],
        env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = {p.removeprefix("::/").lower() for p in listed if not p.endswith("/")}
    assert files == set(expected)

"""`moss boot` and the resync every transaction ends with, on scratch roots and directories
standing in for the ESP (explicit mode: nothing outside them is touched)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .helpers import MossRun, make_stone

OS_INFO = json.dumps({"metadata": {"identity": {"id": "aerynos", "display": "AerynOS"}}})


def _os(packages: Path) -> Path:
    return make_stone(
        packages,
        "os",
        {
            "lib/os-info.json": OS_INFO,
            "lib/systemd/boot/efi/systemd-bootx64.efi": b"systemd-boot",
        },
    )


def _linux(packages: Path, version: str, release: int) -> Path:
    kernel = f"{version}-{release}.desktop"
    return make_stone(
        packages,
        "linux",
        {
            f"lib/kernel/{kernel}/vmlinuz": f"bzImage {kernel}".encode(),
            f"lib/kernel/{kernel}/50-default.initrd": f"initrd {kernel}".encode(),
            f"lib/kernel/{kernel}/boot.json": "{}",
        },
        version=version,
        release=release,
    )


def _entries(esp: Path) -> set[str]:
    return {p.name for p in (esp / "loader/entries").glob("*.conf")}


def _default(esp: Path) -> str:
    return (esp / "loader/loader.conf").read_text()


def test_boot_follows_every_transaction(
    root: Path, packages: Path, moss: MossRun, tmp_path: Path
) -> None:
    esp = tmp_path / "esp"
    esp.mkdir()
    assert moss("install", str(_os(packages)), str(_linux(packages, "6.1", 1))).code == 0
    assert not (root / "etc/moss/boot.kdl").exists() and not any(esp.iterdir())

    synced = moss("boot", "sync", "--esp", str(esp), "--root-cmdline", "root=PARTUUID=P", "--json")
    assert synced.code == 0, synced.err
    document = json.loads(synced.out)
    assert document["default"] == "aerynos-6.1-1.desktop-1.conf"
    assert document["entries"][0]["options"] == "root=PARTUUID=P rw moss.fstx=1"
    assert 'esp "' in (root / "etc/moss/boot.kdl").read_text()

    assert moss("install", str(_linux(packages, "6.2", 1))).code == 0
    assert _entries(esp) == {"aerynos-6.1-1.desktop-1.conf", "aerynos-6.2-1.desktop-2.conf"}
    assert _default(esp) == "default aerynos-6.2-1.desktop-2.conf\n"

    assert moss("state", "activate", "1", "--skip-boot").code == 0
    assert _default(esp) == "default aerynos-6.2-1.desktop-2.conf\n"
    assert moss("state", "activate", "2", "--skip-boot").code == 0

    activated = moss("state", "activate", "1")
    assert activated.code == 0, activated.err
    assert _default(esp) == "default aerynos-6.1-1.desktop-1.conf\n"
    assert _entries(esp) == {"aerynos-6.1-1.desktop-1.conf", "aerynos-6.2-1.desktop-2.conf"}

    assert moss("boot", "sync", "--window", "0").code == 0
    assert _entries(esp) == {"aerynos-6.1-1.desktop-1.conf"}
    assert "window 0" in (root / "etc/moss/boot.kdl").read_text()
    assert moss("boot", "sync", "--window", "4").code == 0
    assert len(_entries(esp)) == 2

    assert moss("state", "remove", "2").code == 0
    assert _entries(esp) == {"aerynos-6.1-1.desktop-1.conf"}
    assert [p.name for p in (esp / "EFI/aerynos").iterdir()] == ["6.1-1.desktop"]

    status = moss("boot", "status", "--json")
    assert status.code == 0, status.err
    shown = json.loads(status.out)
    assert shown["boots"] == "aerynos-6.1-1.desktop-1.conf"
    assert [(e["name"], e["state"]) for e in shown["entries"]] == [
        ("aerynos-6.1-1.desktop-1.conf", 1)
    ]
    etc = root / "etc/kernel/cmdline.d"
    etc.mkdir(parents=True)
    (etc / "10-quote.cmdline").write_text('x="a b"\n')
    assert moss("boot", "status").out == (
        f"ESP            : {esp}\n"
        "XBOOTLDR       : none\n"
        "Bootloader     : systemd-boot\n"
        'Global cmdline : ["root=PARTUUID=P", "rw", "x=\\"a b\\""]\n'
        "Default        : aerynos-6.1-1.desktop-1.conf\n"
        "  aerynos-6.1-1.desktop-1.conf  [state 1] (default)\n"
    )


def test_failed_resync_keeps_the_transaction(
    root: Path, packages: Path, moss: MossRun, tmp_path: Path
) -> None:
    esp = tmp_path / "esp"
    esp.mkdir()
    assert moss("install", str(_os(packages)), str(_linux(packages, "6.1", 1))).code == 0
    assert moss("boot", "sync", "--esp", str(esp), "--root-cmdline", "root=X").code == 0
    shutil.rmtree(esp)
    result = moss("install", str(_linux(packages, "6.2", 1)))
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "state 2 is active, but its boot entries were not updated" in result.err
    assert "no such boot partition directory" in result.err
    assert (root / "usr/.stateID").read_text().strip() == "2"
    esp.mkdir()
    assert moss("boot", "sync").code == 0
    assert "aerynos-6.2-1.desktop-2.conf" in _entries(esp)


def test_boot_errors_are_one_line(
    root: Path, packages: Path, moss: MossRun, tmp_path: Path
) -> None:
    assert moss("install", str(_os(packages)), str(_linux(packages, "6.1", 1))).code == 0
    missing = moss("boot", "status")
    assert missing.code == 1 and "run `moss boot sync --esp DIR` first" in missing.err
    absent = moss("boot", "sync", "--esp", str(tmp_path / "nope"), "--root-cmdline", "root=X")
    assert absent.code == 1 and "no such boot partition directory or FAT image" in absent.err
    assert not (root / "etc/moss/boot.kdl").exists()
    esp = tmp_path / "esp"
    esp.mkdir()
    no_root = moss("boot", "sync", "--esp", str(esp))
    assert no_root.code == 1 and "no root=" in no_root.err
    assert not any(esp.iterdir())


_READ_ONLY_ESP = """
import json, os, subprocess, sys
from moss_core.container import syscalls

esp, argv_list = sys.argv[1], json.loads(sys.argv[2])
uid, gid = os.geteuid(), os.getegid()
syscalls.unshare(syscalls.CLONE_NEWUSER | syscalls.CLONE_NEWNS)
syscalls.map_ids(uid, uid, gid, gid)
syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
syscalls.mount(esp, esp, None, syscalls.MS_BIND)
syscalls.mount(None, esp, None, syscalls.MS_REMOUNT | syscalls.MS_BIND | syscalls.MS_RDONLY)
results = []
for argv in argv_list:
    done = subprocess.run([sys.executable, "-m", "moss", *argv], capture_output=True, text=True)
    results.append([done.returncode, done.stderr])
print(json.dumps(results))
"""


def test_read_only_esp_is_one_line_and_nothing_changes(
    root: Path, packages: Path, moss: MossRun, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from moss_roots import moss_env

    esp = tmp_path / "esp"
    esp.mkdir()
    assert moss("install", str(_os(packages)), str(_linux(packages, "6.1", 1))).code == 0
    assert moss("boot", "sync", "--esp", str(esp), "--root-cmdline", "root=X").code == 0
    before = sorted(str(p.relative_to(esp)) for p in esp.rglob("*"))
    linux = str(_linux(packages, "6.2", 1))
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _READ_ONLY_ESP,
            str(esp),
            json.dumps(
                [["-D", str(root), "boot", "sync"], ["-D", str(root), "-y", "install", linux]]
            ),
        ],
        capture_output=True,
        text=True,
        env=moss_env(),
        check=False,
    )
    if done.returncode != 0 and "Operation not permitted" in done.stderr:
        pytest.skip("no user namespaces here to mount the ESP read-only")
    assert done.returncode == 0, done.stderr
    (sync_code, sync_err), (install_code, install_err) = json.loads(done.stdout)
    assert (
        sync_code == 1 and sync_err == f"moss: error: {esp}: boot partition is mounted read-only\n"
    )
    assert install_code == 1 and "state 2 is active, but its boot entries" in install_err
    assert sorted(str(p.relative_to(esp)) for p in esp.rglob("*")) == before


def test_initrd_rollback_leaves_boot_alone(
    root: Path,
    packages: Path,
    moss: MossRun,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moss_core.client import boot as glue

    esp = tmp_path / "esp"
    esp.mkdir()
    assert moss("install", str(_os(packages)), str(_linux(packages, "6.1", 1))).code == 0
    assert moss("install", str(_linux(packages, "6.2", 1))).code == 0
    assert moss("boot", "sync", "--esp", str(esp), "--root-cmdline", "root=X").code == 0
    shutil.rmtree(esp)
    marker = tmp_path / "initrd-release"
    marker.write_text("ID=initrd\n")
    monkeypatch.setattr(glue, "INITRD_RELEASE", marker)
    result = moss("state", "activate", "1")
    assert result.code == 0, result.err
    assert "left for `moss boot sync` after boot" in result.err
    assert (root / "usr/.stateID").read_text().strip() == "1"


def test_status_golden_text_with_an_xbootldr(packages: Path, moss: MossRun, tmp_path: Path) -> None:
    """§11.3 case 25 for the XBOOTLDR layout: entries and kernels there, loader on the ESP."""
    esp, xbootldr = tmp_path / "esp", tmp_path / "xbootldr"
    esp.mkdir()
    xbootldr.mkdir()
    assert moss("install", str(_os(packages)), str(_linux(packages, "6.1", 1))).code == 0
    synced = moss(
        "boot", "sync", "--esp", str(esp), "--xbootldr", str(xbootldr),
        "--root-cmdline", "root=PARTUUID=P",
    )  # fmt: skip
    assert synced.code == 0, synced.err
    assert _entries(xbootldr) == {"aerynos-6.1-1.desktop-1.conf"} and not _entries(esp)
    assert _default(esp) == "default aerynos-6.1-1.desktop-1.conf\n"
    assert moss("boot", "status").out == (
        f"ESP            : {esp}\n"
        f"XBOOTLDR       : {xbootldr}\n"
        "Bootloader     : systemd-boot\n"
        'Global cmdline : ["root=PARTUUID=P", "rw"]\n'
        "Default        : aerynos-6.1-1.desktop-1.conf\n"
        "  aerynos-6.1-1.desktop-1.conf  [state 1] (default)\n"
    )

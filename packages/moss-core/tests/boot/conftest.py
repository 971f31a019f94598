"""Boot fixtures: a root with states (trees with kernels, os-info, systemd-boot) and partitions
as directories or FAT images."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from moss_core.boot import fat
from moss_core.boot.config import BootConfig
from moss_core.boot.fs import Backend, DirectoryBackend, Step
from moss_core.boot.inputs import kernel_paths_in_tree
from moss_core.boot.sync import StateTree, SyncResult, sync_boot
from moss_core.boot.targets import Targets

ROOT_CMDLINE = "root=PARTUUID=P"
LOADER = b"systemd-boot x64 v1"


def os_info(
    os_id: str = "aerynos", display: str = "AerynOS 0.25.1", former: tuple[str, ...] = ()
) -> str:
    identity = {"id": os_id, "display": display, "former_identities": [{"id": f} for f in former]}
    return json.dumps({"metadata": {"identity": identity}})


def write_state(
    sysroot: Path,
    kernels: Mapping[str, Mapping[str, bytes]],
    *,
    identity: str | None = None,
    loader: bytes | None = LOADER,
    vendor: Mapping[str, str] | None = None,
) -> None:
    usr = sysroot / "usr"
    (usr / "lib").mkdir(parents=True, exist_ok=True)
    (usr / "lib/os-info.json").write_text(identity or os_info())
    for version, files in kernels.items():
        directory = usr / "lib/kernel" / version
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (directory / name).write_bytes(data)
    for name, text in (vendor or {}).items():
        (usr / "lib/kernel/cmdline.d").mkdir(parents=True, exist_ok=True)
        (usr / "lib/kernel/cmdline.d" / name).write_text(text)
    if loader is not None:
        efi = usr / "lib/systemd/boot/efi"
        efi.mkdir(parents=True, exist_ok=True)
        (efi / "systemd-bootx64.efi").write_bytes(loader)


@dataclass
class BootRoot:
    """A moss root whose states are trees on disk: `R/usr` for the active one,
    `R/.moss/root/<id>/usr` for the others."""

    root: Path
    active: int = 0
    others: set[int] = field(default_factory=set)

    def sysroot(self, state_id: int) -> Path:
        return self.root if state_id == self.active else self.root / ".moss/root" / str(state_id)

    def add(
        self, state_id: int, kernels: Mapping[str, Mapping[str, bytes]], **options: object
    ) -> None:
        """Add an archived state (or the active one, if it is `self.active`)."""
        write_state(self.sysroot(state_id), kernels, **options)  # type: ignore[arg-type]
        if state_id != self.active:
            self.others.add(state_id)

    def trees(self) -> list[StateTree]:
        found = [StateTree(self.active, self.root, tuple(kernel_paths_in_tree(self.root)))]
        for state_id in sorted(self.others):
            sysroot = self.sysroot(state_id)
            if (sysroot / "usr").is_dir():
                found.append(StateTree(state_id, sysroot, tuple(kernel_paths_in_tree(sysroot))))
        return found

    def sync(
        self,
        targets: Targets,
        *,
        root_cmdline: str = ROOT_CMDLINE,
        window: int = 4,
        warnings: list[str] | None = None,
    ) -> SyncResult:
        config = BootConfig(esp=Path("/unused"), root_cmdline=root_cmdline, window=window)
        sink = warnings if warnings is not None else []
        return sync_boot(self.root, self.active, self.trees(), config, targets, sink.append)


@pytest.fixture
def boot_root(tmp_path: Path) -> BootRoot:
    root = tmp_path / "root"
    root.mkdir()
    return BootRoot(root)


# mkfs.fat lives in /usr/sbin, which an ordinary user's PATH often lacks.
MKFS_FAT = shutil.which("mkfs.fat", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")


def make_fat(path: Path, size: str = "64M") -> Path:
    assert MKFS_FAT is not None
    subprocess.run(["truncate", "-s", size, str(path)], check=True)
    subprocess.run([MKFS_FAT, str(path)], check=True, capture_output=True)
    return path


needs_mtools = pytest.mark.skipif(
    not fat.available() or MKFS_FAT is None,
    reason="mtools and dosfstools (mkfs.fat) are needed: bash scripts/test-tools.sh installs them",
)


PartitionFactory = Callable[[Path, str, Step], Backend]


def directory_partition(base: Path, name: str, step: Step) -> Backend:
    path = base / name
    path.mkdir(exist_ok=True)
    return DirectoryBackend(path, step)


def fat_partition(base: Path, name: str, step: Step) -> Backend:
    image = base / f"{name}.img"
    if not image.exists():
        make_fat(image)
    return fat.FatImageBackend(image, step)


@pytest.fixture(
    params=[
        pytest.param(directory_partition, id="dir"),
        pytest.param(fat_partition, id="fat", marks=needs_mtools),
    ]
)
def partition(request: pytest.FixtureRequest) -> PartitionFactory:
    return request.param  # type: ignore[no-any-return]


def tree_of(backend: Backend) -> dict[str, bytes]:
    """Every file a partition holds, with its bytes, by lowercased path."""
    listing = backend.listing()
    found: dict[str, bytes] = {}
    for path in listing.files:
        if isinstance(backend, DirectoryBackend):
            found[path.lower()] = (backend.root / path).read_bytes()
        else:
            found[path.lower()] = backend._read(path)
    return found

"""The build's directories (spec §3.2) and the container each script runs in (§3.3).

The container comes from `moss_core.container`: new mount, PID, UTS, IPC (and, unless the
recipe asks for networking, network) namespaces, and always a user namespace: the builder is
root inside it, with capabilities over nothing outside, even when boulder runs as root
(docs/container.md). Every host directory the build writes to belongs to the
builder, so nothing outside needs privileges to clean up.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from boulder.errors import BuildError
from moss_core.container import Bind, ContainerSpec, Dev, Limits, Mount, Overlay
from moss_core.container.limits import NO_LIMITS

# Host files a build root made of the host's `/usr` needs from `/etc`: Debian-style
# `alternatives` links (`cc`, `awk`), the dynamic loader's cache and configuration, and the
# user database programs look themselves up in.
HOST_ETC = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "passwd",
    "group",
    "localtime",
)
NETWORK_ETC = ("hosts", "nsswitch.conf", "ssl", "ca-certificates")
# Top-level directories that hold programs or libraries on some hosts.
HOST_TOP = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_CACHES = ("ccache", "gocache", "gomodcache", "cargocache", "zigcache", "sccache")


@dataclass(frozen=True, slots=True)
class BuildDirs:
    """Where one recipe's build lives on the host, under the cache root."""

    cache: Path
    id: str

    @property
    def root(self) -> Path:
        return self.cache / "root" / self.id

    @property
    def build(self) -> Path:
        return self.cache / "build" / self.id

    @property
    def artefacts(self) -> Path:
        return self.cache / "artefacts" / self.id

    @property
    def log(self) -> Path:
        return self.cache / "logs" / f"{self.id}.log"

    @property
    def layer(self) -> Path:
        """A moss root of packages from `--extra-repo`, laid over the host's `/usr`."""
        return self.cache / "layer" / self.id

    @property
    def sourcedir(self) -> Path:
        return self.root / "mason" / "sourcedir"

    @property
    def scripts(self) -> Path:
        """Outside the root and bound read-only: scripts cannot change what runs next."""
        return self.cache / "scripts" / self.id

    def guest_build(self, guest: str) -> Path:
        """The host path of a container path under `/mason/build`.

        Builds can put symlinks anywhere in `/mason/build`; followed on the host, and by root,
        they could lead anywhere. So no component of the path may be one.
        """
        return beneath(self.build, os.path.relpath(guest, "/mason/build"))

    def install_root(self) -> Path:
        """`/mason/install` on the host, refusing a symlink the build made there."""
        return beneath(self.root, "mason/install")

    def caches(self) -> dict[str, Path]:
        return {name: self.cache / name for name in _CACHES}


def beneath(base: Path, relative: str) -> Path:
    """`base / relative`, provided no component below `base` is a symlink."""
    current = base
    for part in Path(relative).parts:
        current = current / part
        if current.is_symlink():
            raise BuildError(f"{current} is a symlink made by the build; it is not followed")
    return current


def write_file(path: Path, text: str) -> None:
    """Create `path` afresh: whatever the build left there (a symlink) is replaced, not used."""
    if path.is_symlink() or path.exists():
        path.unlink()
    with open(path, "x", encoding="utf-8") as out:
        out.write(text)


def remove_tree(path: Path) -> None:
    """Delete a tree the build made, even where it made directories unwritable."""
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    if not path.exists():
        return
    for directory, subdirs, _files in os.walk(path):
        for name in (directory, *(os.path.join(directory, d) for d in subdirs)):
            if not os.path.islink(name):
                os.chmod(name, stat.S_IMODE(os.lstat(name).st_mode) | stat.S_IRWXU)
    shutil.rmtree(path)


def fresh_dir(path: Path) -> None:
    remove_tree(path)
    path.mkdir(parents=True)


class BuildRoot(Protocol):
    def populate(self, root: Path, *, networking: bool) -> tuple[Mount, ...]:
        """Fill the empty directory `root`; the mounts the container needs on top of it."""
        ...

    def exists(self, path: str) -> bool:
        """Whether container path `path` exists in the build root."""
        ...

    def pkgconfig_dirs(self) -> list[Path]:
        """Host paths of the build root's pkg-config directories."""
        ...


@dataclass(frozen=True, slots=True)
class HostRoot:
    """The `host` profile: the host's `/usr` (read-only) is the build root's `/usr`, with the
    `/usr` of `layer` (packages moss composed from `--extra-repo`) laid over it, if any."""

    usr: Path = Path("/usr")
    top: Path = Path("/")
    layer: Path | None = None

    def populate(self, root: Path, *, networking: bool) -> tuple[Mount, ...]:
        """Give `root` the host's top-level links into `/usr`, and return the mounts."""
        binds: list[Mount] = [
            Bind(self.usr, "/usr")
            if self.layer is None
            else Overlay((self.layer, self.usr), "/usr")
        ]
        for name in HOST_TOP:
            host = self.top / name
            if host.is_symlink():
                # A root entered again (`boulder chroot`) already has its links.
                if not (root / name).is_symlink():
                    (root / name).symlink_to(os.readlink(host))
            elif host.is_dir():
                binds.append(Bind(host, f"/{name}"))
        (root / "etc").mkdir(exist_ok=True)
        for name in (*HOST_ETC, *(NETWORK_ETC if networking else ())):
            host = self.top / "etc" / name
            if host.exists():
                binds.append(Bind(host, f"/etc/{name}"))
        if networking and (self.top / "etc/resolv.conf").exists():
            shutil.copy(self.top / "etc/resolv.conf", root / "etc/resolv.conf")
        return tuple(binds)

    def _usrs(self) -> tuple[Path, ...]:
        return (self.usr,) if self.layer is None else (self.layer, self.usr)

    def exists(self, path: str) -> bool:
        """Whether container path `path` exists in the build root."""
        if path == "/usr" or path.startswith("/usr/"):
            relative = os.path.relpath(path, "/usr")
            return any(os.path.lexists(usr / relative) for usr in self._usrs())
        return False

    def pkgconfig_dirs(self) -> list[Path]:
        dirs = (usr / sub for usr in self._usrs() for sub in ("lib/pkgconfig", "share/pkgconfig"))
        return [d for d in dirs if d.is_dir()]


def mason_binds(dirs: BuildDirs, recipe_dir: Path) -> tuple[Bind, ...]:
    binds = [
        Bind(dirs.build, "/mason/build", read_only=False),
        Bind(dirs.artefacts, "/mason/artefacts", read_only=False),
        Bind(recipe_dir, "/mason/recipe"),
        Bind(dirs.scripts, "/mason/scripts"),
    ]
    binds += [Bind(path, f"/mason/{name}", read_only=False) for name, path in dirs.caches().items()]
    if Path("/etc/ccache").is_dir():
        binds.append(Bind(Path("/etc/ccache"), "/etc/ccache"))
    return tuple(binds)


def build_spec(
    dirs: BuildDirs,
    binds: Sequence[Mount],
    *,
    networking: bool,
    workdir: str,
    env: Mapping[str, str],
    limits: Limits = NO_LIMITS,
) -> ContainerSpec:
    return ContainerSpec(
        root=dirs.root,
        binds=tuple(binds),
        proc=True,
        dev=Dev.MINIMAL,
        tmpfs=("/tmp",),
        network=networking,
        hostname="boulder",
        workdir=workdir,
        env=env,
        # Test suites debug and trace their own processes.
        tracing=True,
        limits=limits,
    )

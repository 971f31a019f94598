"""What a container looks like: a pure, immutable description that `run_container` realises."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from moss_core.container.errors import ContainerError
from moss_core.container.limits import NO_LIMITS, Limits


class Dev(enum.Enum):
    """What the container sees at `/dev`."""

    NONE = "none"
    """Nothing is mounted; `/dev` is whatever the root directory holds."""
    MINIMAL = "minimal"
    """A fresh tmpfs holding the host's `null zero full random urandom tty` and the `fd` links."""
    HOST = "host"
    """The host's whole `/dev`, bound recursively."""


MINIMAL_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


@dataclass(frozen=True)
class Bind:
    """Make host directory or file `source` appear at `target` (absolute, inside the container)."""

    source: Path
    target: str
    read_only: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", Path(self.source))
        if not self.source.is_absolute():
            raise ContainerError("spec", detail=f"bind source {self.source} is not absolute")
        _check_inside_path("bind target", self.target)
        if PurePosixPath(self.target) == PurePosixPath("/"):
            raise ContainerError("spec", detail="a bind cannot replace `/`: set the root instead")


# overlayfs separates layers with `:` and options with `,`; it has an escape, but a path that
# needs one is refused rather than trusted to be escaped right.
_OVERLAY_UNSAFE = (":", ",", "\\", "\n")


@dataclass(frozen=True)
class Overlay:
    """Make the union of host directories `layers` appear at `target`, read-only: a path is
    found in the first layer that has it (overlayfs lower layers; no upper layer, so nothing
    can be written through it)."""

    layers: tuple[Path, ...]
    target: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(Path(layer) for layer in self.layers))
        if not self.layers:
            raise ContainerError("spec", detail=f"overlay at {self.target} has no layer")
        for layer in self.layers:
            if not layer.is_absolute():
                raise ContainerError("spec", detail=f"overlay layer {layer} is not absolute")
            if any(char in str(layer) for char in _OVERLAY_UNSAFE):
                raise ContainerError(
                    "spec", detail=f"overlay layer {str(layer)!r} holds a `:`, `,` or `\\`"
                )
        _check_inside_path("overlay target", self.target)
        if PurePosixPath(self.target) == PurePosixPath("/"):
            raise ContainerError("spec", detail="an overlay cannot replace `/`")


Mount = Bind | Overlay


@dataclass(frozen=True)
class ContainerSpec:
    """A container: its root, what is mounted in it, and how the command starts.

    Mounts happen in this order: `binds` (binds and overlays, in the given order, so a later
    one may land inside an earlier one), `/proc`, `/dev`, then the `tmpfs` targets. Mount
    points missing from the root are created in it (directories, or empty files for a file
    bind) and left there.
    `env` is the command's whole environment. `uid`/`gid` are the ids the command runs as,
    inside; whoever starts the container is mapped to them when it is not root. With
    `read_only_root`, the root itself (not what is mounted on it) is read-only, so a command
    can write only where a writable bind or tmpfs puts it. `tracing` lets the command use
    `ptrace` on its own processes (test suites do; trigger handlers never need it). `limits`
    bound the memory, processes and file sizes of everything it runs. What the command may do
    beyond that is `moss_core.container.privileges`'s to say.
    """

    root: Path
    binds: tuple[Mount, ...] = ()
    proc: bool = True
    dev: Dev = Dev.MINIMAL
    tmpfs: tuple[str, ...] = ("/tmp",)
    network: bool = False
    hostname: str = "moss"
    workdir: str = "/"
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    uid: int = 0
    gid: int = 0
    read_only_root: bool = False
    tracing: bool = False
    limits: Limits = NO_LIMITS

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        object.__setattr__(self, "binds", tuple(self.binds))
        object.__setattr__(self, "tmpfs", tuple(self.tmpfs))
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))
        if not self.root.is_absolute():
            raise ContainerError("spec", detail=f"root {self.root} is not absolute")
        for target in self.tmpfs:
            _check_inside_path("tmpfs target", target)
        _check_inside_path("workdir", self.workdir)
        if not 0 < len(self.hostname.encode()) <= 64:
            raise ContainerError("spec", detail=f"hostname {self.hostname!r} is not 1-64 bytes")
        for name, value in self.env.items():
            if not name or "=" in name or "\0" in name or "\0" in value:
                raise ContainerError("spec", detail=f"invalid environment variable {name!r}")
        if self.uid < 0 or self.gid < 0:
            raise ContainerError("spec", detail=f"invalid ids {self.uid}:{self.gid}")

    @property
    def writable_trees(self) -> tuple[Path, ...]:
        """The host directories and files the command can write to: its writable binds, and
        the root unless it is read-only (tmpfs mounts are memory, bounded on their own)."""
        trees = () if self.read_only_root else (self.root,)
        return trees + tuple(
            mount.source for mount in self.binds if isinstance(mount, Bind) and not mount.read_only
        )

    def to_json(self) -> str:
        """Serialise for the helper process that sets the container up."""
        return json.dumps(
            {
                "root": str(self.root),
                "binds": [_mount_json(mount) for mount in self.binds],
                "proc": self.proc,
                "dev": self.dev.value,
                "tmpfs": list(self.tmpfs),
                "network": self.network,
                "hostname": self.hostname,
                "workdir": self.workdir,
                "env": dict(self.env),
                "read_only_root": self.read_only_root,
                "tracing": self.tracing,
                "limits": self.limits.to_json(),
                "uid": self.uid,
                "gid": self.gid,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ContainerSpec:
        """The inverse of `to_json`."""
        data: dict[str, Any] = json.loads(text)
        return cls(
            root=Path(data["root"]),
            binds=tuple(_mount_from_json(mount) for mount in data["binds"]),
            proc=bool(data["proc"]),
            dev=Dev(data["dev"]),
            tmpfs=tuple(data["tmpfs"]),
            network=bool(data["network"]),
            hostname=str(data["hostname"]),
            workdir=str(data["workdir"]),
            env=dict(data["env"]),
            read_only_root=bool(data.get("read_only_root", False)),
            tracing=bool(data.get("tracing", False)),
            limits=Limits.from_json(data.get("limits", {})),
            uid=int(data["uid"]),
            gid=int(data["gid"]),
        )


def _mount_json(mount: Mount) -> Any:
    if isinstance(mount, Overlay):
        return {"overlay": [str(layer) for layer in mount.layers], "target": mount.target}
    return [str(mount.source), mount.target, mount.read_only]


def _mount_from_json(data: Any) -> Mount:
    if isinstance(data, dict):
        return Overlay(tuple(Path(layer) for layer in data["overlay"]), str(data["target"]))
    source, target, read_only = data
    return Bind(Path(source), target, bool(read_only))


def _check_inside_path(what: str, path: str) -> None:
    if not path.startswith("/") or "\0" in path:
        raise ContainerError("spec", detail=f"{what} {path!r} is not an absolute path")

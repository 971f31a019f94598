"""The mount work done inside the new namespaces, before the command is executed.

Everything here runs in the container's first process (PID 1 of its PID namespace), which still
sees the host's filesystem: host paths of container locations are computed with
`resolve_in_root`, so a symlink in the root can never send a mount outside it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import socket
import stat
import struct
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from moss_core.container import syscalls
from moss_core.container.errors import ContainerError
from moss_core.container.privileges import READ_ONLY_PROC
from moss_core.container.spec import MINIMAL_DEVICES, Bind, ContainerSpec, Dev, Overlay

_MAX_SYMLINKS = 40
_HOST_DEV = "/dev"

# Flags a bind mount carries over from its source and that a user namespace locks: a read-only
# remount must restate them or the kernel refuses it with EPERM.
_KEPT_FLAGS = (
    (os.ST_NOSUID, syscalls.MS_NOSUID),
    (os.ST_NODEV, syscalls.MS_NODEV),
    (os.ST_NOEXEC, syscalls.MS_NOEXEC),
    (os.ST_NOATIME, syscalls.MS_NOATIME),
    (os.ST_NODIRATIME, syscalls.MS_NODIRATIME),
    (os.ST_RELATIME, syscalls.MS_RELATIME),
)

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Turn an `OSError` raised while doing `name` into a `ContainerError` naming it."""
    try:
        yield
    except OSError as error:
        detail = " ".join(str(f) for f in (error.filename, error.filename2) if f is not None)
        raise ContainerError(name, error.errno, detail) from error


def resolve_in_root(root: str, path: str) -> str:
    """The host path of container path `path`, treating `root` as `/`.

    Symlinks are followed as the container will see them (absolute targets restart at `root`,
    `..` stops at it). Components that do not exist yet are kept as written.
    """
    pending = deque(path.split("/"))
    resolved: list[str] = []
    followed = 0
    while pending:
        name = pending.popleft()
        if name in ("", "."):
            continue
        if name == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, name)
        try:
            is_link = stat.S_ISLNK(os.lstat(candidate).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            is_link = False
        if not is_link:
            resolved.append(name)
            continue
        followed += 1
        if followed > _MAX_SYMLINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
        link = os.readlink(candidate)
        if link.startswith("/"):
            resolved.clear()
        pending.extendleft(reversed(link.split("/")))
    return os.path.join(root, *resolved)


def make_mount_point(host_path: str, *, directory: bool) -> None:
    """Create `host_path` (and its parents) unless it exists."""
    if os.path.lexists(host_path):
        return
    os.makedirs(os.path.dirname(host_path), exist_ok=True)
    if directory:
        os.mkdir(host_path, 0o755)
    else:
        os.close(os.open(host_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))


def _unescape(field: str) -> str:
    # /proc/self/mountinfo writes space, tab, newline and backslash as three octal digits.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mount_points_under(host_path: str) -> list[str]:
    prefix = host_path.rstrip("/") + "/"
    points: list[str] = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as mountinfo:
        for line in mountinfo:
            point = _unescape(line.split(" ")[4])
            if (point == host_path or point.startswith(prefix)) and point not in points:
                points.append(point)
    return points


def _kept_flags(host_path: str) -> int:
    current = os.statvfs(host_path).f_flag
    flags = 0
    for st_flag, ms_flag in _KEPT_FLAGS:
        if current & st_flag:
            flags |= ms_flag
    if not current & (os.ST_NOATIME | os.ST_RELATIME):
        flags |= syscalls.MS_STRICTATIME
    return flags


def restrict_mounts(host_path: str, *, read_only: bool, devices: bool = False) -> None:
    """Remount the mount at `host_path` and every mount below it `nosuid`, `nodev` (unless
    `devices`) and, if asked, read-only."""
    added = syscalls.MS_NOSUID | (0 if devices else syscalls.MS_NODEV)
    if read_only:
        added |= syscalls.MS_RDONLY
    for point in _mount_points_under(host_path):
        flags = syscalls.MS_BIND | syscalls.MS_REMOUNT | added | _kept_flags(point)
        syscalls.mount(None, point, None, flags)


def bind(root: str, spec: Bind, *, devices: bool = False) -> None:
    """Mount `spec.source` (recursively, with everything mounted below it) at its target,
    `nosuid` and, unless `devices`, `nodev`."""
    name = f"bind {spec.source} -> {spec.target}"
    with step(name):
        source = str(spec.source)
        directory = stat.S_ISDIR(os.stat(source).st_mode)
        target = resolve_in_root(root, spec.target)
        make_mount_point(target, directory=directory)
        syscalls.mount(source, target, None, syscalls.MS_BIND | syscalls.MS_REC)
    with step(f"{name} ({'read-only, ' if spec.read_only else ''}nosuid)"):
        restrict_mounts(target, read_only=spec.read_only, devices=devices)


def overlay(root: str, spec: Overlay) -> None:
    """Mount the read-only union of `spec.layers` at its target, `nosuid,nodev`. In a user
    namespace the kernel allows this from Linux 5.11 on."""
    layers = ":".join(str(layer) for layer in spec.layers)
    with step(f"overlay {layers} -> {spec.target}"):
        target = resolve_in_root(root, spec.target)
        make_mount_point(target, directory=True)
        flags = syscalls.MS_RDONLY | syscalls.MS_NOSUID | syscalls.MS_NODEV
        syscalls.mount("overlay", target, "overlay", flags, f"lowerdir={layers}")


def mount_proc(root: str) -> None:
    """A `proc` of the container's PID namespace at `/proc`, its kernel settings read-only."""
    with step("mount /proc"):
        target = resolve_in_root(root, "/proc")
        make_mount_point(target, directory=True)
        flags = syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC
        syscalls.mount("proc", target, "proc", flags)
    for name in READ_ONLY_PROC:
        entry = os.path.join(target, name)
        if not os.path.exists(entry):
            continue
        with step(f"read-only /proc/{name}"):
            syscalls.mount(entry, entry, None, syscalls.MS_BIND | syscalls.MS_REC)
            restrict_mounts(entry, read_only=True)


def mount_tmpfs(root: str, path: str, *, mode: int = 0o1777, size: int | None = None) -> None:
    """An empty tmpfs at container path `path`, of at most `size` bytes."""
    with step(f"tmpfs {path}"):
        target = resolve_in_root(root, path)
        make_mount_point(target, directory=True)
        flags = syscalls.MS_NOSUID | syscalls.MS_NODEV
        options = f"mode={mode:o}" + ("" if size is None else f",size={size}")
        syscalls.mount("tmpfs", target, "tmpfs", flags, options)


def mount_dev(root: str, mode: Dev, size: int | None = None) -> None:
    """Provide `/dev` as `mode` says; its tmpfs mounts hold at most `size` bytes each."""
    if mode is Dev.NONE:
        return
    if mode is Dev.HOST:
        bind(root, Bind(source=Path(_HOST_DEV), target="/dev", read_only=False), devices=True)
        return
    mount_tmpfs(root, "/dev", mode=0o755, size=size)
    dev = resolve_in_root(root, "/dev")
    for device in MINIMAL_DEVICES:
        with step(f"device /dev/{device}"):
            node = os.path.join(dev, device)
            make_mount_point(node, directory=False)
            syscalls.mount(os.path.join(_HOST_DEV, device), node, None, syscalls.MS_BIND)
    with step("populate /dev"):
        os.symlink("/proc/self/fd", os.path.join(dev, "fd"))
        for number, name in enumerate(("stdin", "stdout", "stderr")):
            os.symlink(f"/proc/self/fd/{number}", os.path.join(dev, name))
    mount_tmpfs(root, "/dev/shm", size=size)


def bring_up_loopback() -> None:
    """Set `lo` up in a fresh network namespace (it starts down)."""
    with step("loopback up"), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        current = struct.unpack("16sH22x", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", current | _IFF_UP))


def enter_root(root: str) -> str | None:
    """Make `root` the filesystem root; a warning if only a chroot could be done."""
    with step(f"enter root {root}"):
        os.chdir(root)
        try:
            # The documented way to pivot without an old-root directory: stack the old root on
            # the new one, then detach it.
            syscalls.pivot_root(".", ".")
        except OSError as error:
            os.chroot(".")
            os.chdir("/")
            return f"pivot_root failed ({error}); used chroot, the host's mounts stay reachable"
        syscalls.umount2(".", syscalls.MNT_DETACH)
        os.chdir("/")
    return None


def prepare(spec: ContainerSpec) -> str | None:
    """Build the container's filesystem and enter it. A warning is returned, if any."""
    with step(f"root {spec.root}"):
        root = os.path.realpath(spec.root)
        if not os.path.isdir(root):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), root)
    with step("make mounts private"):
        syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
    with step("bind root"):
        syscalls.mount(root, root, None, syscalls.MS_BIND | syscalls.MS_REC)
    for mount in spec.binds:
        if isinstance(mount, Overlay):
            overlay(root, mount)
        else:
            bind(root, mount)
    if spec.proc:
        mount_proc(root)
    # A tmpfs is memory: without a cgroup to charge it to, only its size bounds it.
    size = spec.limits.memory
    mount_dev(root, spec.dev, size)
    for path in spec.tmpfs:
        mount_tmpfs(root, path, size=size)
    with step("sethostname"):
        syscalls.sethostname(spec.hostname)
    with step("restrict root"):
        # Not recursive: the binds and tmpfs mounted on the root keep their own modes.
        flags = syscalls.MS_BIND | syscalls.MS_REMOUNT | syscalls.MS_NOSUID | syscalls.MS_NODEV
        if spec.read_only_root:
            flags |= syscalls.MS_RDONLY
        syscalls.mount(None, root, None, flags | _kept_flags(root))
    if not spec.network:
        bring_up_loopback()
    return enter_root(root)

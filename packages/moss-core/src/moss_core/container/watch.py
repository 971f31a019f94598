"""What the container's supervisor (the helper's process for that one command) measures while
the command runs: how full the filesystems holding its writable host trees are and, where
nothing else bounds them, how many processes and threads it has.

The filesystems are opened before the container exists, while the supervisor still sees the
host (PID 1's `pivot_root` moves the supervisor's root too). The processes are counted in the
container's own `/proc`, which, after that `pivot_root`, is the supervisor's `/proc`: listing
it costs one directory read of the container's processes, not a walk over the host's. What to
make of the numbers is `moss_core.container.limits`'s to say.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

from moss_core.container.limits import DiskUse, Limits, disk_exceeded, processes_exceeded
from moss_core.container.spec import ContainerSpec

INTERVAL = 0.02
"""Seconds between two looks. A command can go past a disk limit by what it writes in that
time, and past its process limit by what it forks."""


def _use(fd: int) -> DiskUse:
    stats = os.statvfs(fd)
    return DiskUse(
        used=(stats.f_blocks - stats.f_bfree) * stats.f_frsize,
        free=stats.f_bavail * stats.f_frsize,
    )


def _filesystems(spec: ContainerSpec) -> list[int]:
    """A descriptor on each distinct filesystem holding one of the spec's writable trees (one
    that cannot be opened fails the container's set-up anyway), leaving out those that count no
    blocks (pseudo filesystems)."""
    found: dict[int, int] = {}
    for tree in spec.writable_trees:
        try:
            fd = os.open(tree, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        device = os.fstat(fd).st_dev
        if device in found or os.statvfs(fd).f_blocks == 0:
            os.close(fd)
        else:
            found[device] = fd
    return list(found.values())


def count_tasks(proc_fd: int, most: int) -> int:
    """The processes and threads of the PID namespace whose `/proc` is open as `proc_fd`,
    counted up to one past `most`: a fork bomb must not make its own count slow."""
    tasks = 0
    with os.scandir(proc_fd) as entries:
        for entry in entries:
            if tasks > most:
                break
            if entry.name.isdigit():
                tasks += _threads(proc_fd, entry.name)
    return tasks


def _threads(proc_fd: int, pid: str) -> int:
    try:
        # A `task` directory's link count is 2 and one per thread: a single call per process.
        return max(1, os.stat(f"{pid}/task", dir_fd=proc_fd).st_nlink - 2)
    except OSError:
        return 0  # gone since the listing


@dataclass
class Watch:
    """The measures a running container is held to; `check` tells which limit it is past."""

    limits: Limits
    filesystems: list[int]
    start: list[DiskUse]
    proc_fd: int | None = field(default=None)
    """The container's `/proc`, when its processes are to be counted (`count_processes`)."""

    @classmethod
    def begin(cls, spec: ContainerSpec) -> Watch:
        """Note the use of the filesystems the container may fill, before it runs."""
        filesystems = _filesystems(spec) if spec.limits.watched else []
        return cls(spec.limits, filesystems, [_use(fd) for fd in filesystems])

    def count_processes(self, pid1: int, host_proc_fd: int) -> None:
        """Count the container's processes from now on, in the `/proc` this process sees, once
        it is shown to be that of `pid1`'s PID namespace (so never the host's)."""
        try:
            proc_fd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return
        try:
            inside = os.stat("1/ns/pid", dir_fd=proc_fd)
            outside = os.stat(f"{pid1}/ns/pid", dir_fd=host_proc_fd)
            same = (inside.st_dev, inside.st_ino) == (outside.st_dev, outside.st_ino)
        except OSError:
            same = False
        if same:
            self.proc_fd = proc_fd
        else:
            os.close(proc_fd)

    @property
    def active(self) -> bool:
        """Whether there is anything to look at while the container runs."""
        return bool(self.filesystems) or self.proc_fd is not None

    def check(self) -> str | None:
        """The limit the container is past now (`disk`, `disk_reserve`, `processes`), or None."""
        with contextlib.suppress(OSError):
            if self.filesystems:
                now = [_use(fd) for fd in self.filesystems]
                past = disk_exceeded(self.limits, self.start, now)
                if past is not None:
                    return past
            most = self.limits.processes
            if (
                self.proc_fd is not None
                and most is not None
                and processes_exceeded(self.limits, count_tasks(self.proc_fd, most))
            ):
                return "processes"
        return None

    def close(self) -> None:
        for fd in self.filesystems:
            os.close(fd)
        if self.proc_fd is not None:
            os.close(self.proc_fd)
        self.filesystems.clear()
        self.proc_fd = None

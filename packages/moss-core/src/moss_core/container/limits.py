"""How much a container's command may use: memory, processes, the size of a file it writes,
the disk it fills.

Pure: what the limits are, how they read in a message, which resource limits (`setrlimit`)
stand in for what a cgroup cannot enforce, and what the container's supervisor, watching it
run, stops it for. `moss_core.container.cgroups` applies them with a cgroup when one can be
made; PID 1 sets the resource limits just before executing the command;
`moss_core.container.watch` measures what the supervisor decides on.
"""

from __future__ import annotations

import resource
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Upper bounds for everything a container runs; `None` is no bound.

    `memory` (bytes) bounds memory and swap together: with a cgroup, of the whole container;
    otherwise of each process's data (`RLIMIT_DATA`). `processes` bounds processes and threads:
    with a cgroup, in the container; otherwise of the command's user in its user namespace
    (`RLIMIT_NPROC`), and, for root, whom the kernel exempts from that, by the supervisor
    counting them. `file_size` (bytes) bounds each file written (`RLIMIT_FSIZE`, always).
    `disk` (bytes) bounds how much the filesystems holding the container's writable host trees
    may grow while it runs; `disk_reserve` (bytes) is the free space the container may not
    take from any of them (the host's). Core dumps are always off.
    """

    memory: int | None = None
    processes: int | None = None
    file_size: int | None = None
    disk: int | None = None
    disk_reserve: int | None = None

    def __post_init__(self) -> None:
        for name in _NAMES:
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ValueError(f"a {name} limit must be a positive whole number, not {value}")

    def to_json(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in _NAMES}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Limits:
        return cls(**{name: data.get(name) for name in _NAMES})

    def describe(self, name: str) -> str:
        """`memory limit (512 MiB)`: the limit called `name`, as a message names it."""
        value = getattr(self, name)
        if name == "processes":
            return f"process limit ({value})"
        shown = f"{value / MIB:g} MiB" if value % MIB == 0 else f"{value} bytes"
        if name == "disk_reserve":
            return f"disk limit ({shown} must stay free)"
        return f"{name.replace('_', ' ')} limit ({shown})"

    @property
    def watched(self) -> bool:
        """Whether the supervisor must watch the disk while the container runs."""
        return self.disk is not None or self.disk_reserve is not None


_NAMES = ("memory", "processes", "file_size", "disk", "disk_reserve")

NO_LIMITS = Limits()


def from_mib(
    memory: float, processes: float, file_size: float, disk: float = 0, disk_reserve: float = 0
) -> Limits:
    """Limits as settings give them (MiB, a count, MiB, MiB, MiB), 0 meaning none."""
    return Limits(
        memory=int(memory * MIB) or None,
        processes=int(processes) or None,
        file_size=int(file_size * MIB) or None,
        disk=int(disk * MIB) or None,
        disk_reserve=int(disk_reserve * MIB) or None,
    )


def resource_limits(limits: Limits, by_cgroup: frozenset[str]) -> list[tuple[int, int]]:
    """The `setrlimit` calls (resource, value) for what the cgroup in `by_cgroup` does not
    enforce. `RLIMIT_DATA`, not `RLIMIT_AS`: address space that is only reserved (sanitizers,
    language runtimes) costs nothing and must not count."""
    calls = [(resource.RLIMIT_CORE, 0)]
    if limits.file_size is not None:
        calls.append((resource.RLIMIT_FSIZE, limits.file_size))
    if limits.memory is not None and "memory" not in by_cgroup:
        calls.append((resource.RLIMIT_DATA, limits.memory))
    if limits.processes is not None and "processes" not in by_cgroup:
        calls.append((resource.RLIMIT_NPROC, limits.processes))
    return calls


@dataclass(frozen=True)
class DiskUse:
    """A filesystem the container writes to, at one moment: bytes in use, and bytes free to an
    ordinary user (what `df` shows; container root, real uid 0, may also take the blocks a
    filesystem keeps for root)."""

    used: int
    free: int


def disk_exceeded(limits: Limits, start: Sequence[DiskUse], now: Sequence[DiskUse]) -> str | None:
    """The disk limit the container is past, or None, from the use of the filesystems holding
    its writable trees when it started and now (the same filesystems, in the same order).

    `disk`: their growth, added up (what another process frees meanwhile is not counted
    against it). `disk_reserve`: one that has grown since the start holds less free space than
    the reserve. A filesystem that was already below the reserve and does not grow costs the
    container nothing, so a command that writes nothing still runs on a nearly full disk.
    """
    grown = [max(0, later.used - first.used) for first, later in zip(start, now, strict=True)]
    if limits.disk is not None and sum(grown) > limits.disk:
        return "disk"
    reserve = limits.disk_reserve
    if reserve is not None and any(
        growth > 0 and later.free < reserve for growth, later in zip(grown, now, strict=True)
    ):
        return "disk_reserve"
    return None


def processes_exceeded(limits: Limits, tasks: int) -> bool:
    """Whether `tasks` processes and threads counted in the container are past its limit."""
    return limits.processes is not None and tasks > limits.processes


def exceeded(limits: Limits, status: int, hit: frozenset[str]) -> str | None:
    """The limit the command's end is due to, or None: one the supervisor stopped the
    container for or the cgroup counted (`hit`), or the file size limit when `SIGXFSZ` killed
    the command or a shell reports that it killed one of its commands (status 128 +
    `SIGXFSZ`). The command itself, PID 1 of its namespace, is spared the signal by the
    kernel: its writes just fail with `EFBIG`. The disk comes first: stopping the container is
    its only outcome, where an out-of-memory kill may have ended one process of it."""
    for name in ("disk", "disk_reserve", "memory", "processes"):
        if name in hit and getattr(limits, name) is not None:
            return name
    if limits.file_size is not None and status in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return "file_size"
    return None

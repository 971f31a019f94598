"""How much a container's command may use: memory, processes, the size of a file it writes.

Pure: what the limits are, how they read in a message, and which resource limits
(`setrlimit`) stand in for what a cgroup cannot enforce. `moss_core.container.cgroups` applies
them with a cgroup when one can be made; PID 1 sets the resource limits just before executing
the command.
"""

from __future__ import annotations

import resource
import signal
from dataclasses import dataclass
from typing import Any

MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Upper bounds for everything a container runs; `None` is no bound.

    `memory` (bytes) bounds memory and swap together: with a cgroup, of the whole container;
    otherwise of each process's data (`RLIMIT_DATA`). `processes` bounds processes and threads:
    with a cgroup, in the container; otherwise of the command's user in its user namespace
    (`RLIMIT_NPROC`). `file_size` (bytes) bounds each file written (`RLIMIT_FSIZE`, always).
    Core dumps are always off.
    """

    memory: int | None = None
    processes: int | None = None
    file_size: int | None = None

    def __post_init__(self) -> None:
        for name in ("memory", "processes", "file_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ValueError(f"a {name} limit must be a positive whole number, not {value}")

    def to_json(self) -> dict[str, int | None]:
        return {"memory": self.memory, "processes": self.processes, "file_size": self.file_size}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Limits:
        return cls(data.get("memory"), data.get("processes"), data.get("file_size"))

    def describe(self, name: str) -> str:
        """`memory limit (512 MiB)`: the limit called `name`, as a message names it."""
        value = getattr(self, name)
        if name == "processes":
            return f"process limit ({value})"
        shown = f"{value / MIB:g} MiB" if value % MIB == 0 else f"{value} bytes"
        return f"{name.replace('_', ' ')} limit ({shown})"


NO_LIMITS = Limits()


def from_mib(memory: float, processes: float, file_size: float) -> Limits:
    """Limits as settings give them (MiB, a count, MiB), 0 meaning none."""
    return Limits(
        memory=int(memory * MIB) or None,
        processes=int(processes) or None,
        file_size=int(file_size * MIB) or None,
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


def exceeded(limits: Limits, status: int, hit: frozenset[str]) -> str | None:
    """The limit the command's end is due to, or None: one the cgroup counted (`hit`), or the
    file size limit when `SIGXFSZ` killed the command or a shell reports that it killed one
    of its commands (status 128 + `SIGXFSZ`). The command itself, PID 1 of its namespace, is
    spared the signal by the kernel: its writes just fail with `EFBIG`."""
    for name in ("memory", "processes"):
        if name in hit and getattr(limits, name) is not None:
            return name
    if limits.file_size is not None and status in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return "file_size"
    return None

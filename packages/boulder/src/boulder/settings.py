"""boulder's settings: how long a build's scripts may run and what their containers may use.

`boulder.kdl` in `/usr/share/boulder` (the distribution's), then in the configuration
directory (the administrator's or user's), the later file winning setting by setting; the
command line's options win over both. Read by `moss_core.settings.read_numbers`, so a typo or
a bad value is an error naming the file and line:

```kdl
// Seconds the scripts of one build may run in all; then its container is killed (0: never).
build-timeout 43200
// What a build's container, with every process in it, may use (0: no limit). MiB of memory
// and swap together (unset: all the machine has, so that the kernel, running out, kills in
// the build rather than on the host):
build-memory 16384
// Processes and threads:
build-processes 16384
// MiB of any one file it writes:
build-file-size 65536
// MiB by which each script may grow the filesystems of the trees it writes (build root,
// build tree, artefacts, caches), all its files together:
build-disk 262144
// MiB that must stay free on each of them, for the host:
build-disk-reserve 1024
```
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from boulder.errors import BoulderError
from moss_core.container import Limits
from moss_core.container.limits import MIB, from_mib
from moss_core.settings import Number, read_numbers

FILE = "boulder.kdl"

_SCHEMA = {
    "build-timeout": Number("timeout", fraction=True, least=0),
    "build-memory": Number("memory", fraction=True, least=0),
    "build-processes": Number("processes", fraction=False, least=0),
    "build-file-size": Number("file_size", fraction=True, least=0),
    "build-disk": Number("disk", fraction=True, least=0),
    "build-disk-reserve": Number("disk_reserve", fraction=True, least=0),
}


class SettingsError(BoulderError):
    """`boulder.kdl` holds an unknown or bad setting."""


@dataclass(frozen=True)
class BuildSettings:
    timeout: float = 12 * 3600.0
    """Seconds: half a day, longer than the biggest packages take on a slow machine."""
    memory: float | None = None
    """MiB; None for all the machine has (`machine_memory`)."""
    processes: int = 16384
    file_size: float = 65536.0
    disk: float = 262144.0
    """MiB: 256 GiB, more than the biggest builds (a browser with debug information) take."""
    disk_reserve: float = 1024.0
    """MiB: what the host keeps free for itself while a build writes fast."""

    def limits(self) -> Limits:
        memory = machine_memory() if self.memory is None else self.memory
        return from_mib(memory, self.processes, self.file_size, self.disk, self.disk_reserve)

    def time_limit(self) -> float | None:
        return self.timeout or None


def load_settings(config_dir: Path, system_dir: Path | None) -> BuildSettings:
    """The settings the files of `system_dir` then `config_dir` give over the defaults."""
    files = tuple(str(d / FILE) for d in (system_dir, config_dir) if d is not None)
    return replace(BuildSettings(), **read_numbers(Path("/"), files, _SCHEMA, SettingsError))  # type: ignore[arg-type]


def machine_memory() -> float:
    """MiB of memory and swap this machine has, from `/proc/meminfo`."""
    total = 0
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            name, _, value = line.partition(":")
            if name in ("MemTotal", "SwapTotal"):
                total += int(value.split()[0]) * 1024
    return total / MIB

"""moss's settings files, and the one reader of them.

A settings file is KDL, a node per setting holding one number. Each kind comes in two layers
under the root moss works on, `usr/share/moss/NAME.kdl` (the distribution's) then
`etc/moss/NAME.kdl` (the administrator's), the later file winning setting by setting. An
unknown setting (a typo) or a bad value is an error naming the file, line and setting, never a
silent default. `fetch.kdl` holds the download limits (`moss_core.repository.limits`);
`moss.kdl` holds the rest:

```kdl
// Seconds a trigger handler may run before it is killed and its transaction aborted.
trigger-timeout 600
// What a handler, with every process it starts, may use (0: no limit). Exceeding one kills
// it and aborts its transaction. MiB of memory and swap together:
trigger-memory 4096
// Processes and threads:
trigger-processes 4096
// MiB of any one file it writes:
trigger-file-size 4096
// MiB by which it may grow the filesystems of the trees it writes (the staged /usr, and /etc
// for a system trigger), all its files together:
trigger-disk 1024
// MiB that must stay free on each of them, for the host:
trigger-disk-reserve 256
```
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from moss_core import kdl
from moss_core.container.limits import Limits, from_mib
from moss_core.errors import MossError
from moss_core.installation import Installation


class SettingsError(MossError):
    """A settings file holds a bad setting."""


@dataclass(frozen=True)
class Number:
    """A setting: the field it sets, whether it takes a fraction, its smallest value."""

    field: str
    fraction: bool
    least: float


def layers(name: str) -> tuple[str, str]:
    """The files of settings kind `name`, lowest precedence first, relative to the root."""
    return (f"usr/share/moss/{name}.kdl", f"etc/moss/{name}.kdl")


def read_numbers(
    root: Path,
    files: tuple[str, ...],
    schema: Mapping[str, Number],
    error: Callable[[str], Exception] = SettingsError,
) -> dict[str, int | float]:
    """Field name to value, for every setting `files` under `root` give; `error` makes the
    exception a bad setting raises."""
    values: dict[str, int | float] = {}
    for relative in files:
        path = root / relative
        if path.is_file():
            values.update(parse_numbers(kdl.load(path), str(path), schema, error))
    return values


def parse_numbers(
    nodes: list[kdl.Node],
    file: str,
    schema: Mapping[str, Number],
    error: Callable[[str], Exception] = SettingsError,
) -> dict[str, int | float]:
    """`read_numbers` for one parsed file. Pure."""
    values: dict[str, int | float] = {}
    for node in nodes:
        where = f"{file}:{node.line}:{node.column}"
        setting = schema.get(node.name)
        if setting is None:
            raise error(f"{where}: unknown setting {node.name!r} (known: {', '.join(schema)})")
        value = node.args[0] if len(node.args) == 1 and not node.props else None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not setting.fraction)
            or not math.isfinite(value)
            or value < setting.least
            or node.children
        ):
            kind = "number" if setting.fraction else "whole number"
            shown = " ".join(kdl.format_value(arg) for arg in node.args) or "nothing"
            raise error(
                f"{where}: {node.name} takes one {kind} of at least {setting.least:g}, not {shown}"
            )
        values[setting.field] = value
    return values


@dataclass(frozen=True)
class Settings:
    trigger_timeout: float = 600.0
    """Seconds a trigger handler may run: generous, as an initramfs or a font cache can take
    minutes; on expiry its container is killed and the transaction aborted."""
    trigger_memory: float = 4096.0
    """MiB of memory and swap a handler's container may use; 0 for no limit."""
    trigger_processes: int = 4096
    """Processes and threads a handler's container may hold; 0 for no limit."""
    trigger_file_size: float = 4096.0
    """MiB a file written by a handler may hold; 0 for no limit."""
    trigger_disk: float = 1024.0
    """MiB by which a handler may grow the filesystems it writes to; 0 for no limit. Caches,
    indexes and an initramfs take tens of MiB, a few hundred at most."""
    trigger_disk_reserve: float = 256.0
    """MiB a handler must leave free on the filesystems it writes to; 0 for none. Enough for
    the host to log, and for moss to finish or undo its transaction."""

    def trigger_limits(self) -> Limits:
        return from_mib(
            self.trigger_memory,
            self.trigger_processes,
            self.trigger_file_size,
            self.trigger_disk,
            self.trigger_disk_reserve,
        )


_SCHEMA = {
    "trigger-timeout": Number("trigger_timeout", fraction=True, least=0.001),
    "trigger-memory": Number("trigger_memory", fraction=True, least=0),
    "trigger-processes": Number("trigger_processes", fraction=False, least=0),
    "trigger-file-size": Number("trigger_file_size", fraction=True, least=0),
    "trigger-disk": Number("trigger_disk", fraction=True, least=0),
    "trigger-disk-reserve": Number("trigger_disk_reserve", fraction=True, least=0),
}


def load_settings(installation: Installation) -> Settings:
    """The `moss.kdl` settings of `installation`'s root; defaults where no file says otherwise."""
    values = read_numbers(installation.root, layers("moss"), _SCHEMA)
    return replace(Settings(), **values)  # type: ignore[arg-type]

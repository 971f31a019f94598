"""moss's own settings: `usr/share/moss/moss.kdl` (the distribution's), then `etc/moss/moss.kdl`
(the administrator's), each node of the later file replacing the earlier one's.

```kdl
// Seconds a trigger handler may run before it is killed and its transaction aborted.
trigger-timeout 600
```

Every node is checked: an unknown name (a typo) or a bad value is an error naming the file,
line and node, never a silent default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from moss_core import kdl
from moss_core.errors import MossError
from moss_core.installation import Installation

FILES = ("usr/share/moss/moss.kdl", "etc/moss/moss.kdl")


class SettingsError(MossError):
    """A settings file could not be read or holds a bad setting."""


@dataclass(frozen=True)
class Settings:
    trigger_timeout: float = 600.0
    """Seconds a trigger handler may run: generous, as an initramfs or a font cache can take
    minutes; on expiry its container is killed and the transaction aborted."""


def load_settings(installation: Installation) -> Settings:
    """The settings of `installation`'s root; defaults where no file says otherwise."""
    settings = Settings()
    for relative in FILES:
        path = installation.root / relative
        if path.is_file():
            settings = apply_nodes(settings, _load(path), path)
    return settings


def apply_nodes(settings: Settings, nodes: list[kdl.Node], source: Path | str) -> Settings:
    """`settings` with every node of `source` applied. Pure."""
    for node in nodes:
        where = f"{source}:{node.line}"
        if node.name != "trigger-timeout":
            raise SettingsError(f"{where}: unknown setting {node.name!r}")
        if len(node.args) != 1 or node.props or node.children:
            raise SettingsError(f"{where}: trigger-timeout takes one number of seconds")
        (value,) = node.args
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(f"{where}: trigger-timeout must be a number of seconds")
        if not (value > 0 and math.isfinite(value)):
            raise SettingsError(f"{where}: trigger-timeout must be positive, not {value}")
        settings = replace(settings, trigger_timeout=float(value))
    return settings


def _load(path: Path) -> list[kdl.Node]:
    try:
        return kdl.load(path)
    except kdl.KdlError as error:
        raise SettingsError(str(error)) from None

"""How much and how long a download may take, and where a root says so (`fetch.kdl`).

Every transfer has bounds: a server that sends an endless body or trickles bytes must not fill
the disk or hold moss for ever. `TransferLimits` holds them; `load_limits` reads the root's
`usr/share/moss/fetch.kdl` then `etc/moss/fetch.kdl`, a node per setting, the later file
winning setting by setting:

    timeout 30                      // seconds to connect, and to wait for each read
    speed-limit 1024                // bytes per second a transfer must keep up (0: no floor)...
    speed-time 30                   // ...over every stretch of this many seconds
    max-index-size 1073741824       // bytes a repository index may have
    max-download-size 17179869184   // bytes anything may have that declares no size
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from moss_core.repository._model import RepositoryError
from moss_core.settings import Number, layers, read_numbers

FILES = layers("fetch")


@dataclass(frozen=True)
class TransferLimits:
    """`timeout` bounds connecting and each wait for data (seconds). A transfer that receives
    fewer than `speed_limit * speed_time` bytes in `speed_time` seconds (counted from its start,
    and again from each time it reaches that many) is abandoned, as curl's
    `--speed-limit`/`--speed-time` do; a `speed_limit` of 0 sets no floor. An index larger than
    `max_index_bytes` is refused. Packages are held to the size their index gives; what has no
    declared size (a package whose index gives none, a boulder upstream) to
    `max_download_bytes`."""

    timeout: float = 30.0
    speed_limit: int = 1024
    speed_time: float = 30.0
    max_index_bytes: int = 1 << 30
    max_download_bytes: int = 16 << 30

    def __post_init__(self) -> None:
        if not self.timeout > 0 or not self.speed_time > 0:
            raise ValueError("timeout and speed_time must be positive")
        if self.speed_limit < 0 or min(self.max_index_bytes, self.max_download_bytes) < 1:
            raise ValueError("speed_limit must not be negative, the sizes positive")

    @property
    def quota(self) -> int:
        """Bytes each window must bring; 0 when there is no floor."""
        return math.ceil(self.speed_limit * self.speed_time)


DEFAULT_LIMITS = TransferLimits()

_SETTINGS = {
    "timeout": Number("timeout", fraction=True, least=0.001),
    "speed-limit": Number("speed_limit", fraction=False, least=0),
    "speed-time": Number("speed_time", fraction=True, least=0.001),
    "max-index-size": Number("max_index_bytes", fraction=False, least=1),
    "max-download-size": Number("max_download_bytes", fraction=False, least=1),
}


def load_limits(root: Path) -> TransferLimits:
    """The limits `root`'s configuration sets (the defaults where it sets none). A setting that
    is unknown or not a number in range is an error naming the file and line."""
    values = read_numbers(root, FILES, _SETTINGS, RepositoryError)
    return replace(TransferLimits(), **values)  # type: ignore[arg-type]

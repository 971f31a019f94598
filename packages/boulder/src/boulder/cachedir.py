"""Where boulder keeps what it can make again: build roots, build trees, upstreams, parsed
macro files (a module of its own: the command line needs it without loading a build)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """`/var/cache/boulder` for root, else `$XDG_CACHE_HOME/boulder`."""
    if os.geteuid() == 0:
        return Path("/var/cache/boulder")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "boulder"

"""Executables in `/usr/bin` and `/usr/sbin` provide `binary()` / `sysbinary()` (§3.9.2)."""

from __future__ import annotations

from pathlib import PurePosixPath


def _under(path: PurePosixPath, directory: str) -> bool:
    return path.parts[: len(PurePosixPath(directory).parts)] == PurePosixPath(directory).parts


def binary_provides(path: str) -> list[str]:
    """At any depth, symlinks included, as upstream does."""
    here = PurePosixPath(path)
    if _under(here, "/usr/bin") and here != PurePosixPath("/usr/bin"):
        return [f"binary({here.name})"]
    if _under(here, "/usr/sbin") and here != PurePosixPath("/usr/sbin"):
        return [f"sysbinary({here.name})"]
    return []

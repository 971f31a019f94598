"""CMake package configuration files provide `cmake(<package>)` (§3.9.6)."""

from __future__ import annotations

from pathlib import PurePosixPath


def cmake_provides(path: str) -> list[str]:
    name = PurePosixPath(path).name
    if name.endswith("-Config.cmake"):
        return []
    for suffix in ("Config.cmake", "-config.cmake"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return [f"cmake({name.removesuffix(suffix)})"]
    return []

"""Where boot files go: the partitions a root's boot configuration (`moss_core.boot.config`)
names. In this explicit mode nothing outside the given directories or images is read or
written: no `/proc`, `/sys`, `/dev` or efivars."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from moss_core.boot.config import BootConfig
from moss_core.boot.errors import BootTargetError
from moss_core.boot.fs import Backend, DirectoryBackend


@dataclass(frozen=True)
class Targets:
    esp: Backend
    xbootldr: Backend | None = None


def open_backend(path: Path) -> Backend:
    """A directory is a mounted (or stand-in) partition; a regular file is a FAT image."""
    if path.is_file():
        from moss_core.boot.fat import FatImageBackend

        return FatImageBackend(path)
    if not path.is_dir():
        raise BootTargetError(f"{path}: no such boot partition directory or FAT image")
    return DirectoryBackend(path)


def explicit_targets(config: BootConfig) -> Targets:
    esp = open_backend(config.esp)
    xbootldr = open_backend(config.xbootldr) if config.xbootldr is not None else None
    for backend in (esp, xbootldr):
        if backend is not None:
            backend.check()
    return Targets(esp, xbootldr)

"""`boulder cache size|clean`: what boulder keeps under its cache root, and moss's part of it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from boulder.build.container import remove_tree

MOSS = "moss"


def parts(cache: Path, *, boulder: bool, moss: bool) -> Iterator[tuple[str, Path, list[Path]]]:
    """(name, directory, what it holds) for the caches asked for (neither flag: both)."""
    if not boulder and not moss:
        boulder = moss = True
    if boulder:
        held = [] if not cache.is_dir() else [p for p in sorted(cache.iterdir()) if p.name != MOSS]
        yield "boulder", cache, held
    if moss:
        yield MOSS, cache / MOSS, [cache / MOSS] if (cache / MOSS).exists() else []


def tree_size(paths: list[Path]) -> int:
    """Bytes used by files below `paths`, symlinks not followed, hard links counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for top in paths:
        for directory, _dirs, files in os.walk(top):
            for name in files:
                info = os.lstat(os.path.join(directory, name))
                if stat.S_ISLNK(info.st_mode):
                    continue
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_size
    return total


def clean(paths: list[Path]) -> None:
    for path in paths:
        remove_tree(path)

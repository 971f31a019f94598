"""What a change of the recipe tree queues (pure), and noticing that the tree changed.

A git checkout changes when its HEAD moves (a new commit on the checked-out branch); a plain
directory changes when a file of a recipe directory changes size or modification time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from summit.queue import Graph, Task


@dataclass(frozen=True, slots=True)
class Changes:
    """`bumped`: recipes that are new or whose release rose; `dependents`: the other tasks
    that transitively need one of them, in graph order."""

    bumped: tuple[str, ...]
    dependents: tuple[str, ...]


def changes(old: Sequence[Task], new: Sequence[Task], graph: Graph) -> Changes:
    """Which recipes a new tree queues, given the trees' tasks and the new tree's graph."""
    before = {t.name: t.release for t in old}
    bumped = tuple(t.name for t in new if t.name not in before or t.release > before[t.name])
    hit: set[str] = set()
    for name in bumped:
        hit |= graph.dependents(name)
    return Changes(bumped, tuple(n for n in graph.order if n in hit and n not in bumped))


def fingerprint(recipes: Path, commit: str | None) -> str:
    """Equal while the tree is unchanged: the commit of a git checkout, else the size and
    modification time of every file below `recipes` outside hidden directories."""
    if commit is not None:
        return f"git:{commit}"
    digest = hashlib.sha256()
    for parent, dirs, files in os.walk(recipes):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(parent, name)
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            digest.update(
                f"{path.relative_to(recipes)}\0{info.st_size}\0{info.st_mtime_ns}\n".encode()
            )
    return f"dir:{digest.hexdigest()}"

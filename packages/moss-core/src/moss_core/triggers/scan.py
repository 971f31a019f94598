"""Read the facts a plan needs from a real directory tree (the imperative side of planning)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from moss_core.triggers.model import FileKind, Trigger
from moss_core.triggers.plan import Conditions


def scan_tree(root: Path) -> dict[str, FileKind]:
    """Every path under `root`, written as an absolute path inside it (`/`, `/usr`, ...).

    Symlinks are reported as such and never followed.
    """
    tree: dict[str, FileKind] = {"/": FileKind.DIRECTORY}
    pending = [(root, "")]
    while pending:
        directory, prefix = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                path = f"{prefix}/{entry.name}"
                if entry.is_symlink():
                    tree[path] = FileKind.SYMLINK
                elif entry.is_dir():
                    tree[path] = FileKind.DIRECTORY
                    pending.append((Path(entry.path), path))
                else:
                    tree[path] = FileKind.REGULAR
    return tree


def probe_conditions(
    root: Path, triggers: Iterable[Trigger], environment: Iterable[str] = ()
) -> Conditions:
    """Conditions for planning `triggers` against the system at `root`.

    Checks which inhibitor paths exist under `root` (symlinks count even when dangling).
    """
    candidates = {path for trigger in triggers for path in trigger.inhibitors.paths}
    existing = frozenset(path for path in candidates if os.path.lexists(root / path.lstrip("/")))
    return Conditions(environment=frozenset(environment), existing_paths=existing)

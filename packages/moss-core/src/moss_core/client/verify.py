"""`state verify`: re-hash the store and every state's tree, then repair what is wrong."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from moss_core.db import LayoutDb, State
from moss_core.installation import Installation
from moss_core.store import asset_relpath
from moss_core.vfs import Tree, build_tree
from stone import FileKind, file_digest

# Device nodes, fifos and sockets are in layouts, but moss creates none of them.
_NOT_BLITTED = frozenset(
    {FileKind.CHARACTER_DEVICE, FileKind.BLOCK_DEVICE, FileKind.FIFO, FileKind.SOCKET}
)


@dataclass(frozen=True)
class Issue:
    text: str
    digest: int | None = None
    state_id: int | None = None


@dataclass
class Report:
    issues: list[Issue] = field(default_factory=list)

    @property
    def bad_digests(self) -> set[int]:
        return {i.digest for i in self.issues if i.digest is not None and i.state_id is None}

    @property
    def bad_states(self) -> set[int]:
        return {i.state_id for i in self.issues if i.state_id is not None}


def check_assets(installation: Installation, layout_db: LayoutDb, report: Report) -> None:
    for digest in sorted(layout_db.digests()):
        path = installation.assets_dir / asset_relpath(digest)
        try:
            actual = file_digest(str(path))
        except FileNotFoundError:
            report.issues.append(Issue(f"Missing asset {digest:x}", digest=digest))
            continue
        if actual != digest:
            report.issues.append(Issue(f"Corrupt asset {digest:x}", digest=digest))


def state_tree_root(installation: Installation, state: State, active: int | None) -> Path:
    return installation.usr if state.id == active else installation.archived_usr(state.id)


def check_state(
    installation: Installation,
    layout_db: LayoutDb,
    state: State,
    active: int | None,
    report: Report,
) -> Tree:
    tree = build_tree(layout_db.query(s.package_id for s in state.selections))
    root = state_tree_root(installation, state, active)
    hashed: dict[tuple[int, int], int] = {}
    for node in tree.walk():
        if node.path == "/usr" or node.kind in _NOT_BLITTED:
            continue
        path = root / node.path.removeprefix("/usr/")
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            report.issues.append(
                Issue(f"Missing path {node.path} in state #{state.id}", state_id=state.id)
            )
            continue
        if node.kind is FileKind.REGULAR and node.digest is not None:
            if not stat.S_ISREG(info.st_mode):
                report.issues.append(
                    Issue(f"Corrupt path {node.path} in state #{state.id}", state_id=state.id)
                )
                continue
            key = (info.st_dev, info.st_ino)
            if key not in hashed:
                hashed[key] = file_digest(str(path))
            if hashed[key] != node.digest:
                report.issues.append(
                    Issue(f"Corrupt path {node.path} in state #{state.id}", state_id=state.id)
                )
    return tree

"""`state verify`: re-hash the store and every state's tree, then repair what is wrong."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from moss_core.db import LayoutDb, State
from moss_core.installation import Installation
from moss_core.store import asset_relpath
from moss_core.trust.assets import hash_file
from moss_core.vfs import Node, Tree, build_tree
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


def check_assets(
    installation: Installation, layout_db: LayoutDb, digests: Iterable[int], report: Report
) -> None:
    """Each asset must hash to its name (XXH3-128) and to its recorded BLAKE3, which catches
    content altered even so that its XXH3 stays. An asset with no BLAKE3 yet (a store written
    before moss recorded them, or by upstream's moss) that matches its name gets the BLAKE3 of
    its content recorded now: from then on it is held to it."""
    digests = sorted(digests)
    recorded = layout_db.blake3_of(digests)
    first_seen: list[tuple[int, bytes]] = []
    for digest in digests:
        path = installation.assets_dir / asset_relpath(digest)
        try:
            xxh3, blake3 = hash_file(str(path))
        except FileNotFoundError:
            report.issues.append(Issue(f"Missing asset {digest:x}", digest=digest))
            continue
        expected = recorded.get(digest)
        if xxh3 != digest or expected not in (None, blake3):
            report.issues.append(Issue(f"Corrupt asset {digest:x}", digest=digest))
        elif expected is None:
            first_seen.append((digest, blake3))
    if not layout_db.read_only:
        layout_db.record_blake3(first_seen)


def state_tree_root(installation: Installation, state: State, active: int | None) -> Path:
    return installation.usr if state.id == active else installation.archived_usr(state.id)


def check_state(
    installation: Installation,
    layout_db: LayoutDb,
    state: State,
    active: int | None,
    report: Report,
) -> Tree:
    """Compare a state's tree on disk with its layouts.

    The walk holds a directory fd per level and names each entry relative to its parent, as
    the blit writes them: a path longer than `PATH_MAX` is checked like any other, and a
    symlink put where a directory belongs is reported, never followed.
    """
    tree = build_tree(layout_db.query(s.package_id for s in state.selections))
    root = state_tree_root(installation, state, active)
    checker = _TreeCheck(state.id, report)
    try:
        root_fd = os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        checker.issue("Missing", tree.top)
        return tree
    try:
        checker.walk(tree.top, root_fd)
    finally:
        os.close(root_fd)
    return tree


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class _TreeCheck:
    def __init__(self, state_id: int, report: Report) -> None:
        self.state_id = state_id
        self.report = report
        self.hashed: dict[tuple[int, int], int] = {}

    def issue(self, what: str, node: Node) -> None:
        self.report.issues.append(
            Issue(f"{what} path {node.path} in state #{self.state_id}", state_id=self.state_id)
        )

    def walk(self, top: Node, top_fd: int) -> None:
        stack: list[tuple[int, Iterator[Node]]] = [(top_fd, iter(top.children))]
        try:
            while stack:
                fd, pending = stack[-1]
                for node in pending:
                    if node.kind in _NOT_BLITTED:
                        continue
                    if node.kind is FileKind.DIRECTORY:
                        child = self._open_directory(node, fd)
                        if child is not None:
                            stack.append((child, iter(node.children)))
                            break
                    else:
                        self._check_entry(node, fd)
                else:
                    stack.pop()
                    if fd != top_fd:
                        os.close(fd)
        finally:
            for fd, _ in stack:
                if fd != top_fd:
                    os.close(fd)

    def _open_directory(self, node: Node, parent_fd: int) -> int | None:
        try:
            return os.open(node.name, _DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            self.issue("Missing", node)
        except OSError as err:
            # Something else, or a symlink, where the directory belongs.
            if err.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            self.issue("Corrupt", node)
        return None

    def _check_entry(self, node: Node, parent_fd: int) -> None:
        try:
            info = os.stat(node.name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            self.issue("Missing", node)
            return
        if node.kind is not FileKind.REGULAR or node.digest is None:
            return
        if not stat.S_ISREG(info.st_mode):
            self.issue("Corrupt", node)
            return
        key = (info.st_dev, info.st_ino)
        if key not in self.hashed:
            self.hashed[key] = file_digest(node.name, dir_fd=parent_fd)
        if self.hashed[key] != node.digest:
            self.issue("Corrupt", node)

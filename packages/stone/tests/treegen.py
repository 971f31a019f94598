"""Generated directory trees for round-trip tests, and a byte-exact comparison of two trees."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

NAME = st.text(alphabet=st.sampled_from("abcxyz019_-. +éß"), min_size=1, max_size=8).filter(
    lambda name: name not in (".", "..")
)
CONTENT = st.sampled_from([b"", b"a", b"hello\n", b"\x00" * 300, bytes(range(256)) * 40])


@dataclass(frozen=True)
class Node:
    kind: str  # "file", "link" or "dir"
    mode: int = 0o644
    data: bytes = b""
    target: str = ""


def _node(depth: int) -> st.SearchStrategy[tuple[Node, dict[str, object]]]:
    file = st.builds(
        lambda data, mode: (Node("file", mode, data), {}),
        CONTENT,
        st.sampled_from([0o644, 0o755, 0o600, 0o444, 0o4755]),
    )
    link = st.builds(
        lambda target: (Node("link", target=target), {}),
        st.sampled_from(["x", "../y", "/usr/lib/libz.so.1", "a/b c", "dangling"]),
    )
    if depth == 0:
        return st.one_of(file, link)
    directory = st.builds(
        lambda mode, children: (Node("dir", mode), children),
        st.sampled_from([0o755, 0o700, 0o750, 0o1777]),
        st.dictionaries(NAME, st.deferred(lambda: _node(depth - 1)), max_size=4),
    )
    return st.one_of(file, link, directory)


TREES = st.dictionaries(NAME, _node(3), min_size=0, max_size=5)


def build(root: Path, tree: dict[str, object]) -> None:
    """Materialise a generated tree under `root` (which exists)."""
    directories: list[tuple[Path, int]] = []
    _build(root, tree, directories)
    for path, mode in reversed(directories):
        os.chmod(path, mode)


def _build(root: Path, tree: dict[str, object], directories: list[tuple[Path, int]]) -> None:
    for name, (node, children) in tree.items():  # type: ignore[misc]
        path = root / name
        if node.kind == "file":
            path.write_bytes(node.data)
            os.chmod(path, node.mode)
        elif node.kind == "link":
            os.symlink(node.target, path)
        else:
            path.mkdir()
            _build(path, children, directories)
            directories.append((path, node.mode))


def snapshot(root: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every path below `root` with its type, permission bits and content or link text."""
    found: dict[str, tuple[str, int, bytes]] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            info = path.lstat()
            relative = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[relative] = ("link", 0, os.readlink(path).encode())
            elif stat.S_ISDIR(info.st_mode):
                found[relative] = ("dir", stat.S_IMODE(info.st_mode), b"")
            else:
                found[relative] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return found

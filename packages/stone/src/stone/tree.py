"""Packing a directory tree into layout entries and content blobs, as boulder collects them."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

import xxhash

from .errors import EncodeError
from .layout import FileKind, LayoutEntry
from .writer import FileBlob

_HASH_CHUNK = 1 << 20
_SPECIAL_KINDS = {
    stat.S_IFCHR: FileKind.CHARACTER_DEVICE,
    stat.S_IFBLK: FileKind.BLOCK_DEVICE,
    stat.S_IFIFO: FileKind.FIFO,
    stat.S_IFSOCK: FileKind.SOCKET,
}
_DEFAULT_DIRECTORY_MODE = stat.S_IFDIR | 0o755


@dataclass
class Tree:
    """The layout of a directory, and the content behind each regular-file digest."""

    layout: list[LayoutEntry] = field(default_factory=list)
    blobs: dict[int, FileBlob] = field(default_factory=dict)


def file_digest(path: str, *, dir_fd: int | None = None) -> int:
    """XXH3-128 of a file's bytes, the key of the index and of moss's store.

    With `dir_fd`, `path` is a name relative to that directory and a symlink is not followed:
    a tree deeper than `PATH_MAX` is hashed one directory fd at a time.
    """
    hasher = xxhash.xxh3_128()
    opener = None if dir_fd is None else _opener_at(dir_fd)
    with open(path, "rb", opener=opener) as source:
        while chunk := source.read(_HASH_CHUNK):
            hasher.update(chunk)
    return hasher.intdigest()


def _opener_at(dir_fd: int) -> Callable[[str, int], int]:
    def opener(name: str, flags: int) -> int:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)

    return opener


def scan_tree(root: str | os.PathLike[str]) -> Tree:
    """Walk `root` depth-first in name order without following symlinks.

    Files, symlinks and special files are recorded; a directory only when it is empty or has a
    mode other than 0755 (after its children), as boulder does: moss creates the rest as
    implicit parents. Everything is owned by root in the package.
    """
    tree = Tree()
    _scan(os.fspath(root), "", tree)
    return tree


def _scan(directory: str, prefix: str, tree: Tree) -> None:
    try:
        names = sorted(os.listdir(directory))
    except OSError as err:
        raise EncodeError(f"{directory}: {err.strerror}") from None
    for name in names:
        path = os.path.join(directory, name)
        relative = f"{prefix}{name}"
        try:
            relative.encode("utf-8")
        except UnicodeEncodeError:
            raise EncodeError(f"{path}: file name is not valid UTF-8") from None
        info = os.lstat(path)
        kind = stat.S_IFMT(info.st_mode)
        permissions = stat.S_IMODE(info.st_mode)
        if kind == stat.S_IFDIR:
            before = len(tree.layout)
            _scan(path, f"{relative}/", tree)
            if len(tree.layout) == before or info.st_mode != _DEFAULT_DIRECTORY_MODE:
                tree.layout.append(LayoutEntry.directory(relative, permissions))
        elif kind == stat.S_IFREG:
            digest = file_digest(path)
            tree.blobs.setdefault(digest, FileBlob(path, info.st_size))
            tree.layout.append(LayoutEntry.regular(relative, digest, permissions))
        elif kind == stat.S_IFLNK:
            tree.layout.append(LayoutEntry.symlink(relative, os.readlink(path)))
        else:
            tree.layout.append(LayoutEntry(relative, _SPECIAL_KINDS[kind], info.st_mode))

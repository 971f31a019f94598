"""The filesystem operations a transaction's safety rests on: atomic exchange and durability."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import shutil
import stat
from pathlib import Path

from moss_core.errors import MossError

_AT_FDCWD = -100
_RENAME_EXCHANGE = 1 << 1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_renameat2 = _libc.renameat2
_renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
_renameat2.restype = ctypes.c_int
_syncfs = _libc.syncfs
_syncfs.argtypes = [ctypes.c_int]
_syncfs.restype = ctypes.c_int


class FilesystemError(MossError):
    """A filesystem operation moss relies on failed."""


def exchange(first: Path, second: Path) -> None:
    """Swap two paths atomically (`renameat2(RENAME_EXCHANGE)`): both must exist."""
    if (
        _renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
        != 0
    ):
        code = ctypes.get_errno()
        raise FilesystemError(f"atomic swap of {first} and {second} failed: {os.strerror(code)}")


def sync_filesystem(path: Path) -> None:
    """Flush everything written to the filesystem holding `path` (upstream never syncs)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise FilesystemError(f"syncing {path}: {os.strerror(code)}")
    finally:
        os.close(fd)


def fsync_directory(path: Path) -> None:
    """Make renames and creations inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_tree(path: Path) -> None:
    """Delete a tree even where packages made directories read-only; a missing path is fine."""

    def widen_and_retry(
        _function: object, failed: str, info: tuple[type, BaseException, object]
    ) -> None:
        error = info[1]
        if isinstance(error, FileNotFoundError):
            return
        if not isinstance(error, PermissionError):
            raise error
        parent = os.path.dirname(failed)
        os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | stat.S_IRWXU)
        if os.path.isdir(failed) and not os.path.islink(failed):
            os.chmod(failed, stat.S_IMODE(os.lstat(failed).st_mode) | stat.S_IRWXU)
            shutil.rmtree(failed, onerror=widen_and_retry)
        else:
            os.unlink(failed)

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, onerror=widen_and_retry)
    elif os.path.lexists(path):
        os.unlink(path)


def write_atomically(path: Path, text: str | bytes) -> None:
    """Replace `path` with `text` durably: a reader sees the old file or the new, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    data = text.encode() if isinstance(text, str) else text
    try:
        with open(part, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def sha256_file(path: Path) -> str:
    """Lowercase hex SHA-256 of a file: a package's id in a repository."""
    with open(path, "rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def is_empty_dir(path: Path) -> bool:
    with os.scandir(path) as entries:
        return next(entries, None) is None


def replace_symlink(link: Path, target: str) -> None:
    """Point `link` at `target`, atomically, unless it already does."""
    try:
        if os.readlink(link) == target:
            return
    except (FileNotFoundError, OSError):
        pass
    staged = link.with_name(f"{link.name}.next")
    if os.path.lexists(staged):
        os.unlink(staged)
    os.symlink(target, staged)
    os.replace(staged, link)

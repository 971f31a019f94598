"""The boot partitions as moss writes them: a directory (a mounted ESP, or a test's), or a FAT
image through mtools (no mount, no root). Every write goes temp → fsync → rename → fsync(dir),
so a reader finds the old file or the new one, never a part (upstream H8)."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from moss_core.boot.errors import BootError, BootTargetError
from moss_core.boot.plan import TEMP_SUFFIX, Listing
from moss_core.fs import fsync_directory

Step = Callable[[str], None]


class Backend(Protocol):
    """One boot partition; paths are relative and `/`-joined."""

    description: str

    def check(self) -> None:
        """Fail with one line if the partition cannot be written."""

    def listing(self) -> Listing: ...

    def read_text(self, path: str) -> str: ...

    def digest(self, path: str) -> str: ...

    def write_file(self, path: str, source: Path) -> None: ...

    def write_text(self, path: str, text: str) -> None: ...

    def remove(self, path: str) -> None:
        """Delete a file; a path ending in `/` is a directory, removed only if empty."""

    def free_bytes(self) -> int: ...

    def allocation(self, size: int) -> int:
        """Bytes a file of `size` takes on the partition."""


def _no_step(_label: str) -> None:
    return None


class DirectoryBackend:
    """A partition mounted (or standing in) at a directory. `step` is called after every
    durable change, with what was done: the crash tests stop the world there."""

    def __init__(self, root: Path, step: Step = _no_step):
        self.root = root
        self.description = str(root)
        self._step = step

    def check(self) -> None:
        if not self.root.is_dir():
            raise BootTargetError(f"{self.root}: boot partition directory does not exist")
        if os.statvfs(self.root).f_flag & os.ST_RDONLY:
            raise BootTargetError(f"{self.root}: boot partition is mounted read-only")
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise BootTargetError(f"{self.root}: boot partition directory is not writable")

    def listing(self) -> Listing:
        files: dict[str, int] = {}
        dirs: set[str] = set()
        for top, dirnames, filenames in os.walk(self.root):
            relative = os.path.relpath(top, self.root)
            prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
            dirs.update(prefix + d for d in dirnames)
            for name in filenames:
                info = os.lstat(os.path.join(top, name))
                if stat.S_ISREG(info.st_mode):
                    files[prefix + name] = info.st_size
        return Listing(files, frozenset(dirs))

    def read_text(self, path: str) -> str:
        try:
            return (self.root / path).read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise BootError(f"{self.root / path}: not UTF-8 text: {err}") from None

    def digest(self, path: str) -> str:
        with open(self.root / path, "rb") as source:
            return hashlib.file_digest(source, "sha256").hexdigest()

    def write_file(self, path: str, source: Path) -> None:
        def fill(out: int) -> None:
            with open(source, "rb") as data:
                while chunk := data.read(1 << 20):
                    os.write(out, chunk)

        self._write(path, fill)

    def write_text(self, path: str, text: str) -> None:
        def fill(out: int) -> None:
            os.write(out, text.encode("utf-8"))

        self._write(path, fill)

    def _write(self, path: str, fill: Callable[[int], None]) -> None:
        target = self.root / path
        self._make_dirs(target.parent)
        temp = target.with_name(target.name + TEMP_SUFFIX)
        try:
            out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                fill(out)
                os.fsync(out)
            finally:
                os.close(out)
        except OSError as err:
            temp.unlink(missing_ok=True)
            raise BootError(_space_message(target, err)) from None
        self._step(f"wrote {path}{TEMP_SUFFIX}")
        os.rename(temp, target)
        fsync_directory(target.parent)
        self._step(f"renamed {path}")

    def _make_dirs(self, directory: Path) -> None:
        missing: list[Path] = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for created in reversed(missing):
            created.mkdir()
            fsync_directory(created.parent)
            self._step(f"made {created.relative_to(self.root)}/")

    def remove(self, path: str) -> None:
        target = self.root / path.rstrip("/")
        if path.endswith("/"):
            try:
                target.rmdir()
            except FileNotFoundError:
                return
            except OSError as err:
                if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    return
                raise
        else:
            target.unlink(missing_ok=True)
        fsync_directory(target.parent)
        self._step(f"removed {path}")

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def allocation(self, size: int) -> int:
        block = os.statvfs(self.root).f_bsize or 4096
        return -(-size // block) * block


def _space_message(target: Path, err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return f"{target}: no space left on the boot partition"
    return f"{err.filename or target}: {err.strerror}"

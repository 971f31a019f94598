"""Writing a binary package's layout into a directory, never outside it.

Every path is walked one component at a time from directory file descriptors with
`O_NOFOLLOW`, so a symlink in the package (or already in the directory) cannot redirect a
write elsewhere, and nothing existing is overwritten.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections import Counter
from dataclasses import dataclass

from .errors import StoneError, UnsafePathError
from .layout import FileKind, LayoutEntry
from .reader import StoneReader
from .sinks import DirectorySink, hex_name

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class ExtractError(StoneError):
    """The layout could not be written into the destination."""


@dataclass(frozen=True)
class ExtractReport:
    files: int
    symlinks: int
    directories: int
    skipped_specials: int


class _Directories:
    """Open directory descriptors below the destination, created on demand."""

    def __init__(self, root_fd: int):
        self._fds: dict[str, int] = {"": root_fd}

    def parent_of(self, path: str) -> tuple[int, str]:
        head, _, name = path.rpartition("/")
        return self.open(head), name

    def open(self, path: str) -> int:
        fd = self._fds.get(path)
        if fd is not None:
            return fd
        parent_fd, name = self.parent_of(path)
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o755, dir_fd=parent_fd)
        try:
            fd = os.open(name, _DIRECTORY_FLAGS, dir_fd=parent_fd)
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafePathError(
                    f"{path!r} is not a directory (a symlink or a file)"
                ) from None
            raise
        self._fds[path] = fd
        return fd

    def close(self) -> None:
        for path, fd in self._fds.items():
            if path:
                os.close(fd)


def extract(reader: StoneReader, destination: str | os.PathLike[str]) -> ExtractReport:
    """Write the package's files into `destination`, which must exist."""
    layout = reader.layout()
    root_fd = os.open(destination, _DIRECTORY_FLAGS)
    staging = f".stone-staging-{os.getpid()}"
    os.mkdir(staging, 0o700, dir_fd=root_fd)
    directories = _Directories(root_fd)
    try:
        staging_fd = os.open(staging, _DIRECTORY_FLAGS, dir_fd=root_fd)
        try:
            with DirectorySink(staging_fd) as sink:
                reader.unpack_content(sink)
            return _materialise(layout, directories, staging_fd, os.fspath(destination))
        finally:
            for name in os.listdir(staging_fd):
                os.unlink(name, dir_fd=staging_fd)
            os.close(staging_fd)
    except OSError as err:
        raise ExtractError(
            f"{err.filename or destination}: {err.strerror}", file=reader.name
        ) from None
    except StoneError as err:
        raise err.in_context(file=reader.name) from None
    finally:
        directories.close()
        with contextlib.suppress(OSError):
            os.rmdir(staging, dir_fd=root_fd)
        os.close(root_fd)


def _materialise(
    layout: list[LayoutEntry], directories: _Directories, staging_fd: int, destination: str
) -> ExtractReport:
    uses = Counter(entry.digest for entry in layout if entry.kind is FileKind.REGULAR)
    as_root = os.geteuid() == 0
    dir_modes: list[tuple[str, LayoutEntry]] = []
    counts = Counter[FileKind]()
    for entry in layout:
        try:
            _materialise_entry(entry, directories, staging_fd, uses, as_root, dir_modes)
        except OSError as err:
            # Name the package's path, not the staged file (a digest) the call was given.
            raise OSError(err.errno, err.strerror, os.path.join(destination, entry.path)) from None
        counts[entry.kind] += 1
    # Modes last and deepest first, so a read-only directory does not block its own children.
    for path, entry in sorted(dir_modes, key=lambda item: item[0].count("/"), reverse=True):
        _set_owner_and_mode(directories.open(path), entry, as_root)
    specials = (FileKind.CHARACTER_DEVICE, FileKind.BLOCK_DEVICE, FileKind.SOCKET)
    return ExtractReport(
        files=counts[FileKind.REGULAR],
        symlinks=counts[FileKind.SYMLINK],
        directories=counts[FileKind.DIRECTORY],
        skipped_specials=sum(counts[kind] for kind in specials),
    )


def _materialise_entry(
    entry: LayoutEntry,
    directories: _Directories,
    staging_fd: int,
    uses: Counter[int | None],
    as_root: bool,
    dir_modes: list[tuple[str, LayoutEntry]],
) -> None:
    if entry.kind is FileKind.DIRECTORY:
        directories.open(entry.path)
        dir_modes.append((entry.path, entry))
        return
    parent_fd, name = directories.parent_of(entry.path)
    if entry.kind is FileKind.REGULAR:
        assert entry.digest is not None
        uses[entry.digest] -= 1
        staged = hex_name(entry.digest)
        _place_file(
            staging_fd, staged, parent_fd, name, entry, as_root, last=not uses[entry.digest]
        )
    elif entry.kind is FileKind.SYMLINK:
        assert entry.link_target is not None
        os.symlink(entry.link_target, name, dir_fd=parent_fd)
        if as_root:
            os.chown(name, entry.uid, entry.gid, dir_fd=parent_fd, follow_symlinks=False)
    elif entry.kind is FileKind.FIFO:
        os.mkfifo(name, 0o600, dir_fd=parent_fd)
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW, dir_fd=parent_fd)
        try:
            _set_owner_and_mode(fd, entry, as_root)
        finally:
            os.close(fd)


def _set_owner_and_mode(fd: int, entry: LayoutEntry, as_root: bool) -> None:
    # Ownership first: chown clears the set-user-ID and set-group-ID bits.
    if as_root:
        os.fchown(fd, entry.uid, entry.gid)
    os.fchmod(fd, stat.S_IMODE(entry.mode))


def _place_file(
    staging_fd: int,
    staged: str,
    parent_fd: int,
    name: str,
    entry: LayoutEntry,
    as_root: bool,
    *,
    last: bool,
) -> None:
    if last:
        source = os.open(staged, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=staging_fd)
        try:
            _set_owner_and_mode(source, entry, as_root)
        finally:
            os.close(source)
        os.link(staged, name, src_dir_fd=staging_fd, dst_dir_fd=parent_fd, follow_symlinks=False)
        os.unlink(staged, dir_fd=staging_fd)
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with (
        open(os.open(staged, os.O_RDONLY | os.O_CLOEXEC, dir_fd=staging_fd), "rb") as source_file,
        open(os.open(name, flags, 0o600, dir_fd=parent_fd), "wb") as target_file,
    ):
        shutil.copyfileobj(source_file, target_file)
        # A write after the chmod would clear the set-user-ID bit (for anyone but root).
        target_file.flush()
        _set_owner_and_mode(target_file.fileno(), entry, as_root)

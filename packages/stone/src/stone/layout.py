"""The Layout payload: where each file of a package goes, with its mode and ownership."""

from __future__ import annotations

import stat
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from ._cursor import decode_text
from .errors import EncodeError, RecordError, UnsafePathError

_HEAD = struct.Struct(">IIIIHHB11x")
DIGEST_SIZE = 16


class FileKind(IntEnum):
    REGULAR = 1
    SYMLINK = 2
    DIRECTORY = 3
    CHARACTER_DEVICE = 4
    BLOCK_DEVICE = 5
    FIFO = 6
    SOCKET = 7

    @property
    def text(self) -> str:
        return self.name.lower().replace("_", "-")


# The `st_mode` file-type bits of each kind.
TYPE_BITS = {
    FileKind.REGULAR: stat.S_IFREG,
    FileKind.SYMLINK: stat.S_IFLNK,
    FileKind.DIRECTORY: stat.S_IFDIR,
    FileKind.CHARACTER_DEVICE: stat.S_IFCHR,
    FileKind.BLOCK_DEVICE: stat.S_IFBLK,
    FileKind.FIFO: stat.S_IFIFO,
    FileKind.SOCKET: stat.S_IFSOCK,
}


@dataclass(frozen=True, slots=True)
class LayoutEntry:
    """One installed path, relative to `/usr`.

    `mode` is the full `st_mode`, type bits included. A regular file has the XXH3-128 `digest`
    of its content; a symlink has its `link_target` as `readlink` returns it.
    """

    path: str
    kind: FileKind
    mode: int
    uid: int = 0
    gid: int = 0
    digest: int | None = None
    link_target: str | None = None
    tag: int = 0

    @classmethod
    def regular(
        cls, path: str, digest: int, mode: int = 0o644, uid: int = 0, gid: int = 0
    ) -> LayoutEntry:
        return cls(
            path, FileKind.REGULAR, stat.S_IFREG | stat.S_IMODE(mode), uid, gid, digest=digest
        )

    @classmethod
    def symlink(cls, path: str, target: str, uid: int = 0, gid: int = 0) -> LayoutEntry:
        return cls(path, FileKind.SYMLINK, stat.S_IFLNK | 0o777, uid, gid, link_target=target)

    @classmethod
    def directory(cls, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> LayoutEntry:
        return cls(path, FileKind.DIRECTORY, stat.S_IFDIR | stat.S_IMODE(mode), uid, gid)

    @property
    def permissions(self) -> int:
        return stat.S_IMODE(self.mode)


def is_safe_path(path: str) -> bool:
    """Whether a layout path stays below the root it is installed into: not empty, relative,
    no NUL, and no empty, `.` or `..` component. Plain string tests, no list built: this runs
    for each of the tens of thousands of entries a system holds."""
    return (
        bool(path)
        and path[0] != "/"
        and "\x00" not in path
        and "//" not in path
        and path[-1] != "/"
        and "/./" not in path
        and "/../" not in path
        and not path.startswith(("./", "../"))
        and not path.endswith(("/.", "/.."))
        and path not in (".", "..")
    )


def validate_path(path: str) -> None:
    """Refuse a layout path that could land anywhere but below the root it is installed into
    (see `is_safe_path`), saying why."""
    if is_safe_path(path):
        return
    if not path:
        raise UnsafePathError("empty layout path")
    if "\x00" in path:
        raise UnsafePathError(f"layout path {path!r} contains NUL")
    if path.startswith("/"):
        raise UnsafePathError(f"layout path {path!r} is absolute")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise UnsafePathError(f"layout path {path!r} has an empty, '.' or '..' component")


def decode_layout(data: bytes | memoryview, num_records: int) -> list[LayoutEntry]:
    # One loop over the bytes with every field a local: this runs for each of the tens of
    # thousands of entries a system holds, so the checks are inline and messages built only
    # on failure.
    view = memoryview(data)
    size = len(view)
    head_unpack, head_size = _HEAD.unpack_from, _HEAD.size
    kinds = _KIND_BY_CODE
    regular, symlink = FileKind.REGULAR, FileKind.SYMLINK
    entries: list[LayoutEntry] = []
    append = entries.append
    pos = 0
    for number in range(num_records):
        if size - pos < head_size:
            raise RecordError(f"layout record {number} overruns the payload body")
        uid, gid, mode, tag, source_len, target_len, kind_code = head_unpack(view, pos)
        pos += head_size
        kind = kinds.get(kind_code)
        if kind is None:
            raise RecordError(f"layout record {number}: unknown file type {kind_code}")
        end = pos + source_len + target_len
        if end > size:
            raise RecordError(f"layout record {number} overruns the payload body")
        source = bytes(view[pos : pos + source_len])
        target = decode_text(bytes(view[pos + source_len : end]), f"layout record {number} path")
        pos = end
        try:
            validate_path(target)
        except UnsafePathError as err:
            raise UnsafePathError(f"layout record {number}: {err.problem}") from None
        digest = link = None
        if kind is regular:
            if source_len != DIGEST_SIZE:
                raise RecordError(
                    f"layout record {number}: regular file digest of {source_len} bytes,"
                    " expected 16"
                )
            digest = int.from_bytes(source, "big")
        elif kind is symlink:
            link = decode_text(source, f"layout record {number} link target")
            if not link or "\x00" in link:
                raise UnsafePathError(
                    f"layout record {number}: symlink {target!r} has an empty or NUL target"
                )
        elif source_len:
            raise RecordError(
                f"layout record {number}: {kind.text} entry carries {source_len} source bytes"
            )
        file_type = mode & 0o170000
        if file_type and file_type != TYPE_BITS[kind]:
            raise RecordError(
                f"layout record {number}: mode {mode:o} does not match file type {kind.text}"
            )
        append(LayoutEntry(target, kind, mode, uid, gid, digest, link, tag))
    if pos != size:
        raise RecordError(f"{size - pos} bytes left over after {num_records} layout records")
    return entries


_KIND_BY_CODE = {kind.value: kind for kind in FileKind}


def encode_layout(entries: Iterable[LayoutEntry]) -> tuple[bytes, int]:
    out = bytearray()
    count = 0
    for entry in entries:
        validate_path(entry.path)
        if entry.kind is FileKind.REGULAR:
            if entry.digest is None:
                raise EncodeError(f"regular file {entry.path!r} has no digest")
            source = entry.digest.to_bytes(DIGEST_SIZE, "big")
        elif entry.kind is FileKind.SYMLINK:
            if not entry.link_target:
                raise EncodeError(f"symlink {entry.path!r} has no target")
            source = entry.link_target.encode("utf-8")
        else:
            source = b""
        target = entry.path.encode("utf-8")
        if len(source) > 0xFFFF or len(target) > 0xFFFF:
            raise EncodeError(f"layout entry {entry.path!r} is longer than 65,535 bytes")
        out += _HEAD.pack(
            entry.uid, entry.gid, entry.mode, entry.tag, len(source), len(target), entry.kind
        )
        out += source
        out += target
        count += 1
    return bytes(out), count

"""The 32-byte container header."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from .errors import CorruptHeaderError, InvalidMagicError, TruncatedError, UnsupportedVersionError

MAGIC = b"\x00mos"
FORMAT_VERSION = 1
HEADER_SIZE = 32
# Not a checksum: a constant pattern that lets the reader tell a v1 header from garbage.
INTEGRITY = bytes((0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0, 0, 5, 0, 0, 6, 0, 0, 7))
_LAYOUT = struct.Struct(">4sH21sBI")


class FileType(IntEnum):
    """What an archive holds; the text names are upstream's kebab-case ones."""

    BINARY = 1
    DELTA = 2
    REPOSITORY = 3
    BUILD_MANIFEST = 4

    @property
    def text(self) -> str:
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True)
class Header:
    num_payloads: int
    file_type_code: int

    @property
    def file_type(self) -> FileType | None:
        """The file type, or None for a code this library does not know (upstream: "unknown")."""
        try:
            return FileType(self.file_type_code)
        except ValueError:
            return None

    def encode(self) -> bytes:
        return _LAYOUT.pack(
            MAGIC, self.num_payloads, INTEGRITY, self.file_type_code, FORMAT_VERSION
        )

    @classmethod
    def decode(cls, data: bytes) -> Header:
        if len(data) < HEADER_SIZE:
            if data[: len(MAGIC)] != MAGIC[: len(data)]:
                raise InvalidMagicError("not a stone archive (bad magic)")
            raise TruncatedError(f"header truncated: {len(data)} of {HEADER_SIZE} bytes")
        magic, num_payloads, integrity, file_type, version = _LAYOUT.unpack_from(data)
        if magic != MAGIC:
            raise InvalidMagicError("not a stone archive (bad magic)")
        if version != FORMAT_VERSION:
            raise UnsupportedVersionError(f"unknown format version {version}")
        if integrity != INTEGRITY:
            raise CorruptHeaderError("corrupt header (integrity bytes differ)")
        return cls(num_payloads=num_payloads, file_type_code=file_type)

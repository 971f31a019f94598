"""Bounds-checked reading of packed big-endian records."""

from __future__ import annotations

import struct

from .errors import RecordError


class Cursor:
    """Reads fields from a decompressed payload body, failing cleanly at its end."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes | memoryview):
        self._data = memoryview(data)
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def unpack(self, layout: struct.Struct, what: str) -> tuple[int, ...]:
        if self.remaining < layout.size:
            raise RecordError(f"{what} overruns the payload body")
        values = layout.unpack_from(self._data, self._pos)
        self._pos += layout.size
        return values

    def take(self, size: int, what: str) -> bytes:
        if self.remaining < size:
            raise RecordError(f"{what} overruns the payload body")
        chunk = bytes(self._data[self._pos : self._pos + size])
        self._pos += size
        return chunk

    def finish(self, what: str) -> None:
        if self.remaining:
            raise RecordError(f"{self.remaining} bytes left over after {what}")


def decode_text(raw: bytes, what: str) -> str:
    """Decode a stored string: UTF-8, every trailing NUL stripped, interior NULs kept."""
    try:
        return raw.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError as err:
        raise RecordError(f"{what} is not valid UTF-8 (byte {err.start})") from None

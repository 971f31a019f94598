"""The Index payload: which range of the content holds which file digest."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from ._cursor import Cursor

_RECORD = struct.Struct(">QQQQ")


@dataclass(frozen=True)
class IndexEntry:
    """The half-open range `[start, end)` of the plain content holding the file `digest`."""

    start: int
    end: int
    digest: int

    @property
    def size(self) -> int:
        return self.end - self.start


def decode_index(data: bytes | memoryview, num_records: int) -> list[IndexEntry]:
    cursor = Cursor(data)
    entries = []
    for number in range(num_records):
        start, end, high, low = cursor.unpack(_RECORD, f"index record {number}")
        entries.append(IndexEntry(start, end, (high << 64) | low))
    cursor.finish(f"{num_records} index records")
    return entries


def encode_index(entries: Iterable[IndexEntry]) -> tuple[bytes, int]:
    out = bytearray()
    count = 0
    mask = (1 << 64) - 1
    for entry in entries:
        out += _RECORD.pack(entry.start, entry.end, entry.digest >> 64, entry.digest & mask)
        count += 1
    return bytes(out), count

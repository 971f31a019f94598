"""The Index payload: which range of the content holds which file digest."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import RecordError

_RECORD = struct.Struct(">QQQQ")


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """The half-open range `[start, end)` of the plain content holding the file `digest`."""

    start: int
    end: int
    digest: int

    @property
    def size(self) -> int:
        return self.end - self.start


def decode_index(data: bytes | memoryview, num_records: int) -> list[IndexEntry]:
    available = len(data) // _RECORD.size
    if available < num_records:
        raise RecordError(f"index record {available} overruns the payload body")
    if available > num_records or len(data) % _RECORD.size:
        left = len(data) - num_records * _RECORD.size
        raise RecordError(f"{left} bytes left over after {num_records} index records")
    # Whole records only, checked above: one pass of the struct iterator, no per-record checks.
    return [
        IndexEntry(start, end, (high << 64) | low)
        for start, end, high, low in _RECORD.iter_unpack(data)
    ]


def encode_index(entries: Iterable[IndexEntry]) -> tuple[bytes, int]:
    out = bytearray()
    count = 0
    mask = (1 << 64) - 1
    for entry in entries:
        out += _RECORD.pack(entry.start, entry.end, entry.digest >> 64, entry.digest & mask)
        count += 1
    return bytes(out), count

"""The 32-byte payload header, and the kinds and compressions it names."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

PAYLOAD_HEADER_SIZE = 32
PAYLOAD_VERSION = 1
_LAYOUT = struct.Struct(">QQQIHBB")


class PayloadKind(IntEnum):
    META = 1
    CONTENT = 2
    LAYOUT = 3
    INDEX = 4
    ATTRIBUTES = 5

    @property
    def text(self) -> str:
        return self.name.lower()


class Compression(IntEnum):
    NONE = 1
    ZSTD = 2

    @property
    def text(self) -> str:
        return self.name.lower()


# Lookups rather than enum calls: asked for each of an index's 65,535 payloads, often.
_KINDS = {kind.value: kind for kind in PayloadKind}
_COMPRESSIONS = {compression.value: compression for compression in Compression}

# Smallest size of one record of each kind: a record count that cannot fit the plain size is
# rejected before anything is decompressed.
MIN_RECORD_SIZE = {
    PayloadKind.META: 8,
    PayloadKind.LAYOUT: 32,
    PayloadKind.INDEX: 32,
    PayloadKind.ATTRIBUTES: 16,
}

_MiB = 1 << 20

# The most a payload of each kind may hold, plain: far beyond any real package (see
# docs/stone.md, "Limits"), small enough that decoding a payload at the limit stays within a
# few hundred MB. A payload declaring more is refused when the archive is opened, before any
# of it is read. Content is streamed, never held: its limit bounds the disk it can fill.
MAX_PLAIN_SIZE = {
    PayloadKind.META: 8 * _MiB,
    PayloadKind.LAYOUT: 128 * _MiB,
    PayloadKind.INDEX: 32 * _MiB,
    PayloadKind.ATTRIBUTES: 8 * _MiB,
    PayloadKind.CONTENT: 32 << 30,
}
# The most records a structured payload may hold: each becomes a Python object.
MAX_RECORDS = {
    PayloadKind.META: 1 << 17,
    PayloadKind.LAYOUT: 1 << 20,
    PayloadKind.INDEX: 1 << 20,
    PayloadKind.ATTRIBUTES: 1 << 16,
}


def max_stored_size(plain_limit: int) -> int:
    """The largest stored body that can honestly hold `plain_limit` bytes: zstd's worst-case
    expansion of incompressible data, with room for a few frames."""
    return plain_limit + (plain_limit >> 7) + (1 << 17)


def header_fields(buffer: bytes, offset: int) -> tuple[int, ...]:
    """The fields of the payload header at `offset`, in the order they are stored: stored size,
    plain size, checksum, record count, version, kind code, compression code."""
    return _LAYOUT.unpack_from(buffer, offset)


# By kind code, what `within_limits` compares: the plain size limit, then (None for content)
# the record limit, the smallest record and the stored size limit.
_LIMITS: dict[int, tuple[int, tuple[int, int, int] | None]] = {
    kind.value: (
        MAX_PLAIN_SIZE[kind],
        None
        if kind is PayloadKind.CONTENT
        else (MAX_RECORDS[kind], MIN_RECORD_SIZE[kind], max_stored_size(MAX_PLAIN_SIZE[kind])),
    )
    for kind in PayloadKind
}


def within_limits(kind_code: int, stored_size: int, plain_size: int, num_records: int) -> bool:
    """Whether a payload header with these fields passes its kind's limits (`limit_problem`
    says why not): asked of each of an index's 65,535 headers before any object is made."""
    limits = _LIMITS.get(kind_code)
    if limits is None:
        return True
    plain_limit, records = limits
    if plain_size > plain_limit:
        return False
    if records is None:
        return True
    record_limit, record_size, stored_limit = records
    return (
        num_records <= record_limit
        and num_records * record_size <= plain_size
        and stored_size <= stored_limit
    )


def size_text(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class PayloadHeader:
    stored_size: int
    plain_size: int
    checksum: int
    num_records: int
    kind_code: int
    compression_code: int
    version: int = PAYLOAD_VERSION

    @property
    def kind(self) -> PayloadKind | None:
        return _KINDS.get(self.kind_code)

    @property
    def compression(self) -> Compression | None:
        return _COMPRESSIONS.get(self.compression_code)

    def limit_problem(self) -> str | None:
        """Why this payload is refused before reading it, or None: a declared size or record
        count beyond the limits of its kind, or more records than the plain size can hold."""
        kind = self.kind
        if kind is None:
            return None
        limit = MAX_PLAIN_SIZE[kind]
        if self.plain_size > limit:
            return (
                f"declared plain size {self.plain_size} exceeds the limit of {size_text(limit)}"
                f" for a {kind.text} payload"
            )
        if kind is PayloadKind.CONTENT:
            return None
        if self.num_records > MAX_RECORDS[kind]:
            return (
                f"{self.num_records} records exceed the limit of {MAX_RECORDS[kind]}"
                f" for a {kind.text} payload"
            )
        if self.num_records * MIN_RECORD_SIZE[kind] > self.plain_size:
            return f"{self.num_records} records cannot fit in {self.plain_size} bytes"
        if self.stored_size > max_stored_size(limit):
            return (
                f"stored size {self.stored_size} exceeds the limit of"
                f" {size_text(max_stored_size(limit))} for a {kind.text} payload"
            )
        return None

    def encode(self) -> bytes:
        return _LAYOUT.pack(
            self.stored_size,
            self.plain_size,
            self.checksum,
            self.num_records,
            self.version,
            self.kind_code,
            self.compression_code,
        )

    @classmethod
    def decode(cls, data: bytes) -> PayloadHeader:
        return cls.of_fields(header_fields(data, 0))

    @classmethod
    def of_fields(cls, fields: tuple[int, ...]) -> PayloadHeader:
        """The header of fields in the order they are stored (`header_fields`)."""
        stored, plain, checksum, records, version, kind, compression = fields
        return cls(
            stored_size=stored,
            plain_size=plain,
            checksum=checksum,
            num_records=records,
            kind_code=kind,
            compression_code=compression,
            version=version,
        )

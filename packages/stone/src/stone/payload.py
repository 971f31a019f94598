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


# Smallest size of one record of each kind: a record count that cannot fit the plain size is
# rejected before anything is decompressed.
MIN_RECORD_SIZE = {
    PayloadKind.META: 8,
    PayloadKind.LAYOUT: 32,
    PayloadKind.INDEX: 32,
    PayloadKind.ATTRIBUTES: 16,
}


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
        try:
            return PayloadKind(self.kind_code)
        except ValueError:
            return None

    @property
    def compression(self) -> Compression | None:
        try:
            return Compression(self.compression_code)
        except ValueError:
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
        stored, plain, checksum, records, version, kind, compression = _LAYOUT.unpack_from(data)
        return cls(
            stored_size=stored,
            plain_size=plain,
            checksum=checksum,
            num_records=records,
            kind_code=kind,
            compression_code=compression,
            version=version,
        )

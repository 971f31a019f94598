"""The Attributes payload: opaque key/value pairs. No producer writes it; readers decode it."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from ._cursor import Cursor

_HEAD = struct.Struct(">QQ")


@dataclass(frozen=True)
class Attribute:
    key: bytes
    value: bytes


def decode_attributes(data: bytes | memoryview, num_records: int) -> list[Attribute]:
    cursor = Cursor(data)
    attributes = []
    for number in range(num_records):
        what = f"attribute record {number}"
        key_len, value_len = cursor.unpack(_HEAD, what)
        key = cursor.take(key_len, what)
        attributes.append(Attribute(key, cursor.take(value_len, what)))
    cursor.finish(f"{num_records} attribute records")
    return attributes


def encode_attributes(attributes: Iterable[Attribute]) -> tuple[bytes, int]:
    out = bytearray()
    count = 0
    for attribute in attributes:
        out += (
            _HEAD.pack(len(attribute.key), len(attribute.value)) + attribute.key + attribute.value
        )
        count += 1
    return bytes(out), count

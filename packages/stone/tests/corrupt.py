"""Taking a real archive apart and putting it back with one thing wrong."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import xxhash
import zstandard

from stone import PayloadHeader, StoneReader


@dataclass
class Part:
    header: PayloadHeader
    body: bytes


def split(data: bytes) -> tuple[bytes, list[Part]]:
    with StoneReader(io.BytesIO(data), name="<memory>") as reader:
        parts = [
            Part(ref.header, data[ref.offset : ref.offset + ref.header.stored_size])
            for ref in reader.payloads
        ]
    return data[:32], parts


def join(head: bytes, parts: list[Part]) -> bytes:
    return head + b"".join(part.header.encode() + part.body for part in parts)


def plain(part: Part) -> bytes:
    return zstandard.ZstdDecompressor().stream_reader(part.body, read_across_frames=True).read()


def with_plain(part: Part, new_plain: bytes, **header: int) -> Part:
    """The payload re-compressed around `new_plain`, sizes and checksum made consistent."""
    body = zstandard.ZstdCompressor(level=3).compress(new_plain)
    fields = {
        "stored_size": len(body),
        "plain_size": len(new_plain),
        "checksum": xxhash.xxh3_64_intdigest(body),
    }
    fields.update(header)
    return Part(replace(part.header, **fields), body)


def with_body(part: Part, body: bytes, **header: int) -> Part:
    """A raw body put in place; stored size and checksum follow it unless overridden."""
    fields = {"stored_size": len(body), "checksum": xxhash.xxh3_64_intdigest(body)}
    fields.update(header)
    return Part(replace(part.header, **fields), body)

"""Writing archives exactly as upstream does (spec §10 and §12)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import BinaryIO, Protocol

import xxhash
import zstandard

from .errors import EncodeError
from .header import FileType, Header
from .index import IndexEntry, encode_index
from .layout import FileKind, LayoutEntry, encode_layout
from .meta import Meta, encode_meta
from .payload import PAYLOAD_HEADER_SIZE, Compression, PayloadHeader, PayloadKind

ZSTD_LEVEL = 18
_COPY_CHUNK = 1 << 20


class Blob(Protocol):
    """The bytes of one regular file to pack: its size, and a way to read them."""

    @property
    def size(self) -> int: ...

    def open(self) -> BinaryIO: ...


@dataclass(frozen=True)
class FileBlob:
    path: str
    size: int

    def open(self) -> BinaryIO:
        return open(self.path, "rb")


@dataclass(frozen=True)
class BytesBlob:
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data)


def encode_payload(
    kind: PayloadKind, plain: bytes, num_records: int, *, compress: bool = True
) -> bytes:
    """One payload, header and body; zstd level 18 with the content size in the frame."""
    if compress:
        stored = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(plain)
        compression = Compression.ZSTD
    else:
        stored, compression = plain, Compression.NONE
    header = PayloadHeader(
        stored_size=len(stored),
        plain_size=len(plain),
        checksum=xxhash.xxh3_64_intdigest(stored),
        num_records=num_records,
        kind_code=kind,
        compression_code=compression,
    )
    return header.encode() + stored


def _container_header(file_type: FileType, num_payloads: int) -> bytes:
    if num_payloads > 0xFFFF:
        raise EncodeError(f"{num_payloads} payloads do not fit in one archive (at most 65,535)")
    return Header(num_payloads=num_payloads, file_type_code=file_type).encode()


def _meta_payload(meta: Meta, *, with_build_depends: bool = False) -> bytes:
    plain, count = encode_meta(meta.records(with_build_depends=with_build_depends))
    return encode_payload(PayloadKind.META, plain, count)


def write_manifest(out: BinaryIO, metas: Iterable[Meta]) -> None:
    """A build manifest: one Meta per package, by name, build release 0, with build deps."""
    payloads = [
        _meta_payload(replace(meta, build_release=0), with_build_depends=True)
        for meta in sorted(metas, key=lambda meta: meta.name)
    ]
    out.write(_container_header(FileType.BUILD_MANIFEST, len(payloads)))
    for payload in payloads:
        out.write(payload)


def write_index(out: BinaryIO, metas: Iterable[Meta]) -> None:
    """A repository index: one Meta per package, by name; each must carry uri, hash and size."""
    payloads = []
    for meta in sorted(metas, key=lambda meta: meta.name):
        if meta.uri is None or meta.hash is None or meta.download_size is None:
            raise EncodeError(f"index entry {meta.name!r} lacks its uri, hash or size")
        payloads.append(_meta_payload(meta))
    out.write(_container_header(FileType.REPOSITORY, len(payloads)))
    for payload in payloads:
        out.write(payload)


def content_order(layout: Sequence[LayoutEntry], blobs: Mapping[int, Blob]) -> list[int]:
    """Unique digests of the layout's regular files, largest first, ties in layout order."""
    seen: dict[int, int] = {}
    for entry in layout:
        if entry.kind is FileKind.REGULAR and entry.digest is not None and entry.digest not in seen:
            if entry.digest not in blobs:
                raise EncodeError(f"no content for {entry.path!r} ({entry.digest:032x})")
            seen[entry.digest] = len(seen)
    return sorted(seen, key=lambda digest: (-blobs[digest].size, seen[digest]))


def write_binary(
    out: BinaryIO, meta: Meta, layout: Sequence[LayoutEntry], blobs: Mapping[int, Blob]
) -> None:
    """A binary package: Meta, Layout, then Index and Content if it has regular files.

    `out` must be seekable: the content checksum goes in the payload header, before the body
    it covers, and the body is compressed as a stream straight into the file.
    """
    digests = content_order(layout, blobs)
    payloads = 1 + bool(layout) + 2 * bool(digests)
    out.write(_container_header(FileType.BINARY, payloads))
    out.write(_meta_payload(meta))
    if layout:
        plain, count = encode_layout(layout)
        out.write(encode_payload(PayloadKind.LAYOUT, plain, count))
    if digests:
        index = list(_index_entries(digests, blobs))
        plain, count = encode_index(index)
        out.write(encode_payload(PayloadKind.INDEX, plain, count))
        _write_content(out, index, blobs)


def _index_entries(digests: Sequence[int], blobs: Mapping[int, Blob]) -> Iterator[IndexEntry]:
    start = 0
    for digest in digests:
        end = start + blobs[digest].size
        yield IndexEntry(start, end, digest)
        start = end


class _HashingWriter:
    """Counts and hashes the compressed bytes on their way into the archive."""

    def __init__(self, out: BinaryIO):
        self._out = out
        self.hasher = xxhash.xxh3_64()
        self.written = 0

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        self.written += len(data)
        return self._out.write(data)

    def flush(self) -> None:
        self._out.flush()


def _write_content(out: BinaryIO, index: Sequence[IndexEntry], blobs: Mapping[int, Blob]) -> None:
    plain_size = index[-1].end if index else 0
    header_at = out.tell()
    out.write(bytes(PAYLOAD_HEADER_SIZE))
    sink = _HashingWriter(out)
    # Multi-threaded zstd output does not depend on the number of workers, so packages stay
    # byte-for-byte reproducible across machines.
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
    with compressor.stream_writer(sink, size=plain_size, closefd=False) as stream:  # type: ignore[arg-type]
        for entry in index:
            blob = blobs[entry.digest]
            copied = 0
            with blob.open() as source:
                while chunk := source.read(_COPY_CHUNK):
                    copied += len(chunk)
                    stream.write(chunk)
            if copied != blob.size:
                raise EncodeError(f"content {entry.digest:032x} changed size while being packed")
    end = out.tell()
    header = PayloadHeader(
        stored_size=sink.written,
        plain_size=plain_size,
        checksum=sink.hasher.intdigest(),
        num_records=0,
        kind_code=PayloadKind.CONTENT,
        compression_code=Compression.ZSTD,
    )
    out.seek(header_at)
    out.write(header.encode())
    out.seek(end)

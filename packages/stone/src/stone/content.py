"""Streaming the Content payload into a sink, one verified file at a time.

The content body is one zstd stream holding every unique file end to end; the index says which
range is which digest. Decompressed bytes flow straight to the sink, so memory use does not grow
with the package size, and each file is checked against its XXH3-128 digest before the sink is
told to keep it.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import IO, BinaryIO, Protocol, cast

import xxhash
import zstandard

from .errors import (
    ChecksumMismatchError,
    CompressionError,
    DigestMismatchError,
    IndexRangeError,
    PlainSizeMismatchError,
    StoneError,
    TruncatedError,
)
from .index import IndexEntry
from .payload import Compression, PayloadHeader
from .sinks import ContentSink, ContentWriter

CHUNK_SIZE = 1 << 20
# zstd's own default is 2**27; upstream decodes with window log 31.
MAX_WINDOW_SIZE = 1 << 31
_MIN_WINDOW_SIZE = 1 << 27


class FileHasher(Protocol):
    """What checks a file against its index digest: XXH3-128, unless a test replaces it."""

    def update(self, data: memoryview, /) -> object: ...

    def intdigest(self) -> int: ...


NewHasher = Callable[[], FileHasher]


class _HashingReader(io.RawIOBase):
    """Reads exactly `size` bytes of a payload body, hashing them as they pass."""

    def __init__(self, source: BinaryIO, size: int):
        self._source, self._left = source, size
        self.hasher = xxhash.xxh3_64()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._left)
        if want == 0:
            return 0
        got = self._source.readinto(view[:want])  # type: ignore[attr-defined]
        if not got:
            raise TruncatedError("payload body ends early")
        self.hasher.update(view[:got])
        self._left -= got
        return int(got)

    def drain(self) -> None:
        while self.readinto(bytearray(min(CHUNK_SIZE, self._left) or 1)):
            pass


def window_limit(plain_size: int) -> int:
    """The largest zstd window accepted: enough for real frames, never a bomb's 2 GiB for a
    payload that declares a few bytes."""
    return min(MAX_WINDOW_SIZE, max(_MIN_WINDOW_SIZE, 1 << max(plain_size - 1, 1).bit_length()))


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def iter_plain(header: PayloadHeader, body: Readable) -> Iterator[memoryview]:
    """Yield the decompressed body in chunks, exactly `plain_size` bytes or an error.

    Decompression stops at `plain_size + 1` bytes, so a body that inflates past its declared
    size costs no more than that.
    """
    expected = header.plain_size
    stream: Readable
    if header.compression is Compression.NONE:
        stream = body
    else:
        dctx = _decompressor(expected)
        # zstandard only ever calls read() on its source.
        source = cast(IO[bytes], body)
        stream = dctx.stream_reader(source, read_size=CHUNK_SIZE, read_across_frames=True)
    produced = 0
    try:
        while True:
            chunk = stream.read(min(CHUNK_SIZE, expected - produced + 1))
            if not chunk:
                break
            produced += len(chunk)
            if produced > expected:
                raise PlainSizeMismatchError(
                    f"decompresses to more than its declared {expected} bytes"
                )
            yield memoryview(chunk)
    except zstandard.ZstdError as err:
        raise CompressionError(f"zstd: {err}") from None
    if produced != expected:
        raise PlainSizeMismatchError(f"decompresses to {produced} bytes, declared {expected}")


def decompress_body(header: PayloadHeader, body: bytes) -> bytes | bytearray:
    """A structured payload's whole plain body, exactly `plain_size` bytes or an error.

    The output never grows past `plain_size` (which the caller has held to the kind's limit):
    a single frame that states its content size, as every Rust writer makes, is decompressed
    in one call once that size is known to be the declared one; anything else (frames without
    a size, several frames) streams into one buffer of the declared size and stops one byte
    past it.
    """
    expected = header.plain_size
    if header.compression is Compression.NONE:
        if len(body) != expected:
            raise PlainSizeMismatchError(f"body holds {len(body)} bytes, declared {expected}")
        return body
    dctx = _structured_decompressor(expected)
    try:
        if len(body) >= 6 and zstandard.frame_content_size(body) == expected:
            one = dctx.decompressobj()
            plain = one.decompress(body)
            if one.eof and not one.unused_data and len(plain) == expected:
                return plain
        out = bytearray(expected + 1)
        view = memoryview(out)
        produced = 0
        with dctx.stream_reader(body, read_size=CHUNK_SIZE, read_across_frames=True) as stream:
            while produced <= expected:
                got = stream.readinto(view[produced:])
                if not got:
                    break
                produced += got
        view.release()
    except zstandard.ZstdError as err:
        raise CompressionError(f"zstd: {err}") from None
    if produced > expected:
        raise PlainSizeMismatchError(f"decompresses to more than its declared {expected} bytes")
    if produced != expected:
        raise PlainSizeMismatchError(f"decompresses to {produced} bytes, declared {expected}")
    del out[expected:]
    return out


def _decompressor(plain_size: int) -> zstandard.ZstdDecompressor:
    return zstandard.ZstdDecompressor(max_window_size=window_limit(plain_size))


_per_thread = threading.local()


def _structured_decompressor(plain_size: int) -> zstandard.ZstdDecompressor:
    """A decompressor kept per thread and window: an index has one payload per package, and
    making a decompressor costs more than decompressing one. Used only where a call runs to
    its end before the next, never across a generator's yields."""
    window = window_limit(plain_size)
    cached: tuple[int, zstandard.ZstdDecompressor] | None = getattr(_per_thread, "dctx", None)
    if cached is None or cached[0] != window:
        cached = (window, _decompressor(plain_size))
        _per_thread.dctx = cached
    return cached[1]


def check_index(entries: Sequence[IndexEntry], content_size: int) -> list[IndexEntry]:
    """Index entries in content order, after checking every range lies inside the content."""
    ordered = sorted(entries, key=lambda entry: (entry.start, entry.end))
    previous_end = 0
    for entry in ordered:
        if entry.start > entry.end:
            raise IndexRangeError(f"index range {entry.start}..{entry.end} starts after it ends")
        if entry.end > content_size:
            raise IndexRangeError(
                f"index range {entry.start}..{entry.end}"
                f" lies outside the {content_size}-byte content"
            )
        if entry.start < previous_end:
            raise IndexRangeError(f"index range {entry.start}..{entry.end} overlaps another")
        previous_end = entry.end
    return ordered


def stream_content(
    header: PayloadHeader,
    body: BinaryIO,
    entries: Sequence[IndexEntry],
    sink: ContentSink,
    *,
    new_hasher: NewHasher = xxhash.xxh3_128,
) -> None:
    """Decompress a content body from `body` (positioned at its start) into `sink`, each file
    checked with a hasher from `new_hasher` (injectable: a real XXH3 collision cannot be made
    for a test of what a store does with one)."""
    ordered = check_index(entries, header.plain_size)
    source = _HashingReader(body, header.stored_size)
    try:
        try:
            _dispatch(iter_plain(header, source), ordered, sink, new_hasher)
        finally:
            # Waits for the sink's writes in flight, so nothing runs on after an error.
            sink.finish()
        source.drain()
    except StoneError:
        # A corrupt body shows first as a zstd or digest error; name the root cause when the
        # stored bytes themselves do not match their checksum.
        source.drain()
        check_checksum(header, source.hasher.intdigest())
        raise
    check_checksum(header, source.hasher.intdigest())


def check_checksum(header: PayloadHeader, actual: int) -> None:
    """Compare the XXH3-64 of a payload's stored bytes with its header."""
    if actual != header.checksum:
        raise ChecksumMismatchError(
            f"checksum mismatch: stored bytes hash to {actual:016x},"
            f" header says {header.checksum:016x}"
        )


def _dispatch(
    chunks: Iterator[memoryview],
    ordered: list[IndexEntry],
    sink: ContentSink,
    new_hasher: NewHasher,
) -> None:
    position = 0
    pending = iter(ordered)
    current = next(pending, None)
    writer: ContentWriter | None = None
    hasher = new_hasher()
    try:
        for chunk in chunks:
            chunk_end = position + len(chunk)
            while current is not None:
                if current.start == current.end and current.start <= chunk_end:
                    _finish(sink.open(current), new_hasher(), current)
                    current = next(pending, None)
                    continue
                if current.start >= chunk_end:
                    break
                if writer is None:
                    writer, hasher = sink.open(current), new_hasher()
                low = max(current.start, position) - position
                piece = chunk[low : min(current.end, chunk_end) - position]
                hasher.update(piece)
                writer.write(piece)
                if current.end > chunk_end:
                    break
                done, writer = writer, None
                _finish(done, hasher, current)
                current = next(pending, None)
            position = chunk_end
        # What is left are empty files at the very end of the content (or an empty content).
        while current is not None:
            _finish(sink.open(current), new_hasher(), current)
            current = next(pending, None)
    except BaseException:
        if writer is not None:
            writer.discard()
        raise


def _finish(writer: ContentWriter, hasher: FileHasher, entry: IndexEntry) -> None:
    actual = hasher.intdigest()
    if actual != entry.digest:
        writer.discard()
        raise DigestMismatchError(
            f"file {entry.digest:032x} (bytes {entry.start}..{entry.end}) hashes to {actual:032x}"
        )
    writer.commit()

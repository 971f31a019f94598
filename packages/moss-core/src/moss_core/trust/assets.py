"""The store's second hash. Assets are named by XXH3-128, which is fast but not made to resist
a crafted collision, and the first package to bring a name writes its content. So every
asset's BLAKE3 is recorded beside its name: computed while a package is unpacked (the bytes
pass by anyway), compared when another package brings the same name, and re-checked by
`state verify`."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING

import blake3
import xxhash

from stone import IndexEntry, LayoutEntry

if TYPE_CHECKING:
    from stone.sinks import ContentSink, ContentWriter

_CHUNK = 1 << 20
_BATCH_BYTES = 1 << 20
_BATCHES_IN_FLIGHT = 2
_THREADED_FROM = 16 << 10


class Blake3Sink:
    """A content sink around another: each file's bytes are hashed with BLAKE3 as they are
    handed to it, and after `finish`, `found` maps each digest committed (verified by its
    XXH3) to its BLAKE3.

    The pieces of files of 16 KiB and more (views of bytes that never change, see
    `stone.sinks.ContentWriter`) are hashed by a thread of their own, handed over in batches
    of about a megabyte from many files: blake3 lets go of the interpreter lock while it
    hashes, so the hashing runs beside the decompression and the writes instead of after
    them. One hand-off per piece cost more than it saved (0.59x the unpack without BLAKE3);
    batched, it hides most of the hashing when a core is free (bench/store_blake3.py).
    Smaller files are hashed in line: for them the lock changing hands costs more than the
    hash, and blake3 keeps the lock under 2 KiB anyway. The thread starts with the first
    batch, so a small package never starts one. With `threaded` false (a process that may
    run on one CPU only, where a thread has no core to hash on), everything is hashed in
    line. Use the sink as a context manager: leaving stops the thread.
    """

    def __init__(self, inner: ContentSink, *, threaded: bool = True) -> None:
        self._inner = inner
        self._threaded = threaded
        self.found: dict[int, bytes] = {}
        self._committed: list[tuple[int, blake3.blake3]] = []
        self._batch: list[tuple[blake3.blake3, memoryview]] = []
        self._batched = 0
        self._hashing: ThreadPoolExecutor | None = None
        self._in_flight: deque[Future[None]] = deque()

    def open(self, entry: IndexEntry) -> ContentWriter:
        in_line = not self._threaded or entry.end - entry.start < _THREADED_FROM
        return _Blake3Writer(self, entry.digest, self._inner.open(entry), in_line=in_line)

    def hash_later(self, hasher: blake3.blake3, data: memoryview) -> None:
        self._batch.append((hasher, data))
        self._batched += len(data)
        if self._batched >= _BATCH_BYTES:
            self._hand_off()

    def _hand_off(self) -> None:
        batch, self._batch, self._batched = self._batch, [], 0
        if self._hashing is None:
            self._hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blake3")
        # Bounded: a batch holds on to the decompressed chunks its pieces are views of.
        if len(self._in_flight) >= _BATCHES_IN_FLIGHT:
            self._in_flight.popleft().result()
        self._in_flight.append(self._hashing.submit(_hash, batch))

    def committed(self, digest: int, hasher: blake3.blake3) -> None:
        self._committed.append((digest, hasher))

    def finish(self) -> None:
        try:
            self._inner.finish()
        finally:
            while self._in_flight:
                self._in_flight.popleft().result()
        batch, self._batch, self._batched = self._batch, [], 0
        _hash(batch)
        self.found = {digest: hasher.digest() for digest, hasher in self._committed}

    def __enter__(self) -> Blake3Sink:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._hashing is not None:
            self._hashing.shutdown(wait=True, cancel_futures=True)
            self._hashing = None


def _hash(batch: list[tuple[blake3.blake3, memoryview]]) -> None:
    for hasher, data in batch:
        hasher.update(data)


class _Blake3Writer:
    def __init__(
        self, sink: Blake3Sink, digest: int, inner: ContentWriter, *, in_line: bool
    ) -> None:
        self._sink, self._digest, self._inner = sink, digest, inner
        self._hasher = blake3.blake3()
        self._hash: Callable[[memoryview], object] = (
            self._hasher.update if in_line else partial(sink.hash_later, self._hasher)
        )

    def write(self, data: memoryview) -> object:
        self._hash(data)
        return self._inner.write(data)

    def commit(self) -> None:
        self._inner.commit()
        self._sink.committed(self._digest, self._hasher)

    def discard(self) -> None:
        self._inner.discard()


def conflicts(found: Mapping[int, bytes], known: Mapping[int, bytes]) -> list[int]:
    """The digests `found` with another BLAKE3 than `known` gives them: collisions (or an
    asset altered in the store), never content to share."""
    return sorted(d for d, b3 in found.items() if d in known and known[d] != b3)


def paths_of(digest: int, layout: Iterable[LayoutEntry]) -> list[str]:
    """Where a package puts the content of `digest`, as `/usr/...` paths."""
    return [f"/usr/{entry.path}" for entry in layout if entry.digest == digest]


def hash_file(path: str) -> tuple[int, bytes]:
    """A file's XXH3-128 and BLAKE3, in one read."""
    xxh3, b3 = xxhash.xxh3_128(), blake3.blake3()
    with open(path, "rb") as source:
        while chunk := source.read(_CHUNK):
            xxh3.update(chunk)
            b3.update(chunk)
    return xxh3.intdigest(), b3.digest()

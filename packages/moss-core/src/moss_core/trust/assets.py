"""The store's second hash. Assets are named by XXH3-128, which is fast but not made to resist
a crafted collision, and the first package to bring a name writes its content. So every
asset's BLAKE3 is recorded beside its name: computed while a package is unpacked (the bytes
pass by anyway), compared when another package brings the same name, and re-checked by
`state verify`."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import blake3
import xxhash

from stone import IndexEntry, LayoutEntry

if TYPE_CHECKING:
    from stone.sinks import ContentSink, ContentWriter

_CHUNK = 1 << 20


class Blake3Sink:
    """A content sink around another: each file's bytes are hashed with BLAKE3 on their way
    through, and `found` maps each digest committed (verified by its XXH3) to its BLAKE3 once
    `finish` returns.

    The hashing runs on a thread of its own, overlapping decompression and writing (BLAKE3,
    zstd and the writes all let go of the interpreter while they work): the pieces it is
    handed stay valid, as stone's sinks already rely on, and at most `_QUEUED` wait.
    """

    def __init__(self, inner: ContentSink) -> None:
        self._inner = inner
        self.found: dict[int, bytes] = {}
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=_QUEUED)
        self._error: BaseException | None = None
        # Started by the first file: stone calls `finish` once it has opened one.
        self._thread: threading.Thread | None = None

    def open(self, entry: IndexEntry) -> ContentWriter:
        if self._thread is None:
            self._thread = threading.Thread(target=self._hash, name="blake3", daemon=True)
            self._thread.start()
        return _Blake3Writer(self._queue, entry.digest, self._inner.open(entry))

    def finish(self) -> None:
        try:
            self._inner.finish()
        finally:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
                self._thread = None
        if self._error is not None:
            raise self._error

    def _hash(self) -> None:
        while (job := self._queue.get()) is not None:
            if self._error is not None:
                continue
            hasher, data, digest = job
            try:
                if data is not None:
                    hasher.update(data)
                else:
                    self.found[digest] = hasher.digest()
            except BaseException as err:
                self._error = err


# (hasher, bytes to add, or None to record the digest's BLAKE3)
_Job = tuple["blake3.blake3", "memoryview | None", int]
_QUEUED = 256


class _Blake3Writer:
    def __init__(self, jobs: queue.Queue[_Job | None], digest: int, inner: ContentWriter) -> None:
        self._jobs, self._digest, self._inner = jobs, digest, inner
        self._hasher = blake3.blake3()

    def write(self, data: memoryview) -> object:
        self._jobs.put((self._hasher, data, self._digest))
        return self._inner.write(data)

    def commit(self) -> None:
        self._inner.commit()
        self._jobs.put((self._hasher, None, self._digest))

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

"""The store's second hash. Assets are named by XXH3-128, which is fast but not made to resist
a crafted collision, and the first package to bring a name writes its content. So every
asset's BLAKE3 is recorded beside its name: computed while a package is unpacked (the bytes
pass by anyway), compared when another package brings the same name, and re-checked by
`state verify`."""

from __future__ import annotations

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
    through, and `found` maps each digest committed (verified by its XXH3) to its BLAKE3.

    The hashing is done in line, as each piece passes: BLAKE3 hashes at several GB/s, and a
    thread of its own cost more in hand-offs and the interpreter lock than it saved (0.59x
    the unpack without BLAKE3, against 0.9x and more in line; bench/store_blake3.py)."""

    def __init__(self, inner: ContentSink) -> None:
        self._inner = inner
        self.found: dict[int, bytes] = {}

    def open(self, entry: IndexEntry) -> ContentWriter:
        return _Blake3Writer(self.found, entry.digest, self._inner.open(entry))

    def finish(self) -> None:
        self._inner.finish()


class _Blake3Writer:
    def __init__(self, found: dict[int, bytes], digest: int, inner: ContentWriter) -> None:
        self._found, self._digest, self._inner = found, digest, inner
        self._hasher = blake3.blake3()

    def write(self, data: memoryview) -> object:
        self._hasher.update(data)
        return self._inner.write(data)

    def commit(self) -> None:
        self._inner.commit()
        self._found[self._digest] = self._hasher.digest()

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

"""Blake3Sink: the BLAKE3 recorded for each file is of the bytes written, whether the hashing
ran in line (a small package, or a sink told not to use a thread) or on its thread (pieces
from many files batched), also for a file already in the store; and no hashing thread
outlives an unpack, even a refused one."""

from __future__ import annotations

import io
import os
import random
import threading
from pathlib import Path

import blake3
import pytest
import xxhash

from moss_core.store import ASSET_MODE, asset_relpath
from moss_core.trust.assets import Blake3Sink
from stone import (
    BytesBlob,
    DigestMismatchError,
    DirectorySink,
    LayoutEntry,
    Meta,
    StoneReader,
    write_binary,
)


def _package(files: list[bytes]) -> bytes:
    blobs = {xxhash.xxh3_128_intdigest(data): BytesBlob(data) for data in files}
    layout = [LayoutEntry.regular(f"share/f{n}", digest) for n, digest in enumerate(blobs)]
    out = io.BytesIO()
    write_binary(out, Meta(name="assets", version="1", release=1), layout, blobs)
    return out.getvalue()


def _files(count: int, size: int) -> list[bytes]:
    rng = random.Random(count)
    return [rng.randbytes(rng.randint(size // 2, size * 3 // 2)) for _ in range(count)]


REFUSED = b"the smallest file, so the last in the content"


class _Watching:
    """XXH3-128 that notes whether the hashing thread is running when a file is checked, and
    says REFUSED does not match its digest."""

    thread_seen = False

    def __init__(self) -> None:
        self._real = xxhash.xxh3_128()
        self._data = b""

    def update(self, data: memoryview) -> None:
        self._real.update(data)
        self._data = bytes(data)

    def intdigest(self) -> int:
        if any(t.name.startswith("blake3") for t in threading.enumerate()):
            _Watching.thread_seen = True
        return self._real.intdigest() ^ (self._data == REFUSED)


def _unpack(
    store: Path, data: bytes, *, threaded: bool = True
) -> tuple[dict[int, bytes], set[int]]:
    _Watching.thread_seen = False
    fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY)
    try:
        sink = DirectorySink(
            fd, name_for=asset_relpath, skip_existing=True, file_mode=ASSET_MODE, workers=0
        )
        with (
            StoneReader(io.BytesIO(data), name="p.stone") as reader,
            sink,
            Blake3Sink(sink, threaded=threaded) as hashing,
        ):
            reader.unpack_content(hashing, new_hasher=_Watching)
        return hashing.found, sink.skipped
    finally:
        os.close(fd)
        assert not [t for t in threading.enumerate() if t.name.startswith("blake3")]


SMALL = [b"tiny", b"", os.urandom(1000), os.urandom(20 << 10)]
# Many batches, more than may be in flight, and a file across several of them.
LARGE = [*_files(120, 48 << 10), os.urandom(5 << 19), b"", b"x"]


@pytest.mark.parametrize(
    ("files", "threaded", "thread_seen"),
    [
        # Less than a batch: hashed at the end, no thread started.
        (SMALL, True, False),
        (LARGE, True, True),
        (LARGE, False, False),
    ],
    ids=["small", "large", "large-in-line"],
)
def test_each_blake3_is_of_the_bytes_written(
    tmp_path: Path, files: list[bytes], threaded: bool, thread_seen: bool
) -> None:
    kept = files[0]
    # One file the store already has: checked and hashed, not written.
    (tmp_path / asset_relpath(xxhash.xxh3_128_intdigest(kept))).parent.mkdir(parents=True)
    (tmp_path / asset_relpath(xxhash.xxh3_128_intdigest(kept))).write_bytes(kept)
    found, skipped = _unpack(tmp_path, _package(files), threaded=threaded)
    assert _Watching.thread_seen is thread_seen
    assert skipped == {xxhash.xxh3_128_intdigest(kept)}
    assert found.keys() == {xxhash.xxh3_128_intdigest(content) for content in files}
    for digest, b3 in found.items():
        written = (tmp_path / asset_relpath(digest)).read_bytes()
        assert b3 == blake3.blake3(written).digest()


def test_a_refused_file_is_not_published_and_no_thread_outlives_it(tmp_path: Path) -> None:
    files = [*_files(60, 64 << 10), REFUSED]
    with pytest.raises(DigestMismatchError):
        _unpack(tmp_path, _package(files))
    assert _Watching.thread_seen
    assert not (tmp_path / asset_relpath(xxhash.xxh3_128_intdigest(REFUSED))).exists()

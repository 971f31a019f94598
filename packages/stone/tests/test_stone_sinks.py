"""Unpacking into a directory: verified files only, parallel small writes, streamed large ones."""

from __future__ import annotations

import io
import os
import resource
import shutil
import signal
from pathlib import Path

import pytest
import xxhash

from stone import (
    BytesBlob,
    DigestMismatchError,
    DirectorySink,
    IndexEntry,
    LayoutEntry,
    Meta,
    StoneReader,
    write_binary,
)

META = Meta(name="sinks", version="1", release=1)


def _package(files: list[bytes]) -> bytes:
    blobs = {xxhash.xxh3_128_intdigest(data): BytesBlob(data) for data in files}
    layout = [LayoutEntry.regular(f"share/f{n}", digest) for n, digest in enumerate(blobs)]
    out = io.BytesIO()
    write_binary(out, META, layout, blobs)
    return out.getvalue()


def _sharded(digest: int) -> str:
    name = f"{digest:x}"
    return f"v2/{name[:2]}/{name[2:4]}/{name}"


@pytest.mark.parametrize("workers", [2, 0])
def test_small_and_large_files_land_under_their_names(tmp_path: Path, workers: int) -> None:
    files = [os.urandom(3 << 20), b"tiny", b"", os.urandom(1000)]
    data = _package(files)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with (
            StoneReader(io.BytesIO(data), name="p.stone") as reader,
            DirectorySink(fd, name_for=_sharded, workers=workers) as sink,
        ):
            reader.unpack_content(sink)
    finally:
        os.close(fd)
    for content in files:
        digest = xxhash.xxh3_128_intdigest(content)
        assert (tmp_path / _sharded(digest)).read_bytes() == content
    assert not list(tmp_path.rglob("*.part"))


def test_skip_existing_keeps_what_the_store_has_and_says_so(tmp_path: Path) -> None:
    content, new = b"already stored", b"not yet"
    digest = xxhash.xxh3_128_intdigest(content)
    (tmp_path / f"{digest:032x}").write_bytes(content)
    before = (tmp_path / f"{digest:032x}").stat().st_ino
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with (
            StoneReader(io.BytesIO(_package([content, new])), name="p.stone") as reader,
            DirectorySink(fd, skip_existing=True) as sink,
        ):
            reader.unpack_content(sink)
    finally:
        os.close(fd)
    assert (tmp_path / f"{digest:032x}").stat().st_ino == before
    assert sink.skipped == {digest}
    assert (tmp_path / f"{xxhash.xxh3_128_intdigest(new):032x}").read_bytes() == new


@pytest.mark.parametrize("workers", [2, 0])
@pytest.mark.parametrize("size", [10, 3 << 20])
def test_digest_mismatch_leaves_no_file(tmp_path: Path, size: int, workers: int) -> None:
    content = os.urandom(size)
    data = _package([content])
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with (
            StoneReader(io.BytesIO(data), name="p.stone") as reader,
            DirectorySink(fd, workers=workers) as sink,
        ):
            wrong = [IndexEntry(0, size, 0xBAD)]
            with pytest.raises(DigestMismatchError):
                reader.unpack_content(sink, wrong)
    finally:
        os.close(fd)
    assert list(tmp_path.iterdir()) == []


def test_symlinked_parent_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = tmp_path / "store"
    store.mkdir()
    (store / "v2").symlink_to(outside)
    fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with (
            StoneReader(io.BytesIO(_package([b"x" * 64])), name="p.stone") as reader,
            DirectorySink(fd, name_for=_sharded) as sink,
            pytest.raises(OSError),
        ):
            reader.unpack_content(sink)
    finally:
        os.close(fd)
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("workers", [2, 0])
def test_a_large_file_that_cannot_be_written_is_never_published(
    tmp_path: Path, workers: int
) -> None:
    content = os.urandom(3 << 20)
    data = _package([content])
    digest = xxhash.xxh3_128_intdigest(content)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    # A file size limit of 1 MiB makes the streamed write fail part-way (EFBIG).
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, hard))
    try:
        with (
            StoneReader(io.BytesIO(data), name="p.stone") as reader,
            DirectorySink(fd, workers=workers) as sink,
            pytest.raises(OSError),
        ):
            reader.unpack_content(sink)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
        os.close(fd)
    assert not (tmp_path / f"{digest:032x}").exists()
    assert list(tmp_path.iterdir()) == []


def test_known_directories_are_shared_and_made_again_when_gone(tmp_path: Path) -> None:
    first, second = b"first package's file", b"second package's file"
    known: set[str] = set()
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # The same file again (its very parent known, and gone), then another (a parent on
        # the way known, and gone).
        for content in (first, first, second):
            if (tmp_path / "v2").exists():
                # What the sink before made is swept (an emptied store).
                shutil.rmtree(tmp_path / "v2")
            with (
                StoneReader(io.BytesIO(_package([content])), name="p.stone") as reader,
                DirectorySink(fd, name_for=_sharded, workers=0, known_dirs=known) as sink,
            ):
                reader.unpack_content(sink)
            assert "v2" in known
            digest = xxhash.xxh3_128_intdigest(content)
            assert (tmp_path / _sharded(digest)).read_bytes() == content
    finally:
        os.close(fd)

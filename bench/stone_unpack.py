"""Unpack throughput of a large package against plain `zstd -d` of its content frame.

Both run in this process on the same bytes: the reference decompresses the content payload's
frame into one file; stone streams it through the index into one verified file per digest.
Goal: stone >= 0.8x the reference.

Two shapes of the same 234 MB content frame are measured: 1,800 files of about 130 KB (the
`ratio` the goal reads) and 48 files of about 5 MB (`large_files_ratio`). The second package
is the first with its Index and Layout rewritten to cut the content into fewer ranges: the
content payload is the same bytes, so both shapes decompress exactly the same frame and differ
only in how many files the filesystem is asked to create.
"""

from __future__ import annotations

import itertools
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import xxhash
import zstandard

from stone import (
    DirectorySink,
    FileType,
    Header,
    IndexEntry,
    LayoutEntry,
    MemorySink,
    Meta,
    PayloadKind,
    StoneReader,
    encode_payload,
    write_binary,
)
from stone.index import encode_index
from stone.layout import encode_layout
from stone.payload import PAYLOAD_HEADER_SIZE
from stone.tree import file_digest
from stone.writer import FileBlob

TOTAL_BYTES = 224 << 20
FILE_COUNT = 1800
LARGE_FILE_COUNT = 48
RUNS = 5


def _make_files(directory: Path) -> tuple[list[LayoutEntry], dict[int, FileBlob]]:
    rng = random.Random(7)
    words = [bytes(rng.choices(range(97, 123), k=rng.randint(2, 9))) for _ in range(4000)]
    layout, blobs = [], {}
    per_file = TOTAL_BYTES // FILE_COUNT
    for number in range(FILE_COUNT):
        size = rng.randint(per_file // 2, per_file * 3 // 2)
        text = bytearray()
        while len(text) < size:
            text += b" ".join(rng.choices(words, k=512)) + b"\n"
        path = directory / f"f{number:05d}"
        path.write_bytes(bytes(text[:size]))
        digest = file_digest(str(path))
        blobs[digest] = FileBlob(str(path), size)
        layout.append(LayoutEntry.regular(f"share/bench/f{number:05d}", digest))
    return layout, blobs


def _reference(package: Path, out_dir: Path) -> float:
    with StoneReader(package) as reader:
        [ref] = reader.of_kind(PayloadKind.CONTENT)
    with open(package, "rb") as source, open(out_dir / "content", "wb") as sink:
        source.seek(ref.offset)
        start = time.perf_counter()
        dctx = zstandard.ZstdDecompressor(max_window_size=1 << 31)
        dctx.copy_stream(source, sink, read_size=1 << 20, write_size=1 << 20)
        return time.perf_counter() - start


def _stone(package: Path, out_dir: Path) -> float:
    fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        start = time.perf_counter()
        with StoneReader(package) as reader, DirectorySink(fd) as sink:
            reader.unpack_content(sink)
        return time.perf_counter() - start
    finally:
        os.close(fd)


def _regroup(package: Path, target: Path, files: int) -> None:
    """`package` with its content cut into `files` ranges: new Index and Layout, same Content."""
    with StoneReader(package) as reader:
        meta_ref, content_ref = (
            reader.of_kind(PayloadKind.META)[0],
            reader.of_kind(PayloadKind.CONTENT)[0],
        )
        total = content_ref.header.plain_size
        with open(package, "rb") as source:
            source.seek(meta_ref.offset - PAYLOAD_HEADER_SIZE)
            meta_payload = source.read(PAYLOAD_HEADER_SIZE + meta_ref.header.stored_size)
            source.seek(content_ref.offset - PAYLOAD_HEADER_SIZE)
            content_payload = source.read(PAYLOAD_HEADER_SIZE + content_ref.header.stored_size)
        sink = MemorySink()
        reader.unpack_content(sink)
    ordered = b"".join(sink.files[e.digest] for e in sorted(reader.index(), key=lambda e: e.start))
    bounds = [total * n // files for n in range(files + 1)]
    index = [
        IndexEntry(start, end, xxhash.xxh3_128_intdigest(ordered[start:end]))
        for start, end in itertools.pairwise(bounds)
    ]
    layout = [LayoutEntry.regular(f"share/bench/big{n:03d}", e.digest) for n, e in enumerate(index)]
    layout_plain, layout_count = encode_layout(layout)
    index_plain, index_count = encode_index(index)
    with open(target, "wb") as out:
        out.write(Header(num_payloads=4, file_type_code=FileType.BINARY).encode())
        out.write(meta_payload)
        out.write(encode_payload(PayloadKind.LAYOUT, layout_plain, layout_count))
        out.write(encode_payload(PayloadKind.INDEX, index_plain, index_count))
        out.write(content_payload)


def _compare(package: Path, scratch: Path) -> tuple[float, float]:
    reference, ours = [], []
    for run in range(RUNS):
        for name, measure, results in (("ref", _reference, reference), ("stone", _stone, ours)):
            out_dir = scratch / f"{name}-{run}"
            out_dir.mkdir()
            results.append(measure(package, out_dir))
            for child in out_dir.iterdir():
                child.unlink()
            out_dir.rmdir()
    return statistics.median(reference), statistics.median(ours)


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="stone-bench-", dir=os.environ.get("BENCH_TMP")) as tmp:
        scratch = Path(tmp)
        (scratch / "files").mkdir()
        layout, blobs = _make_files(scratch / "files")
        package = scratch / "bench.stone"
        started = time.perf_counter()
        with open(package, "wb") as out:
            write_binary(out, Meta(name="bench", version="1", release=1), layout, blobs)
        pack_seconds = time.perf_counter() - started
        content = sum(blob.size for blob in blobs.values())
        for blob in blobs.values():
            os.unlink(blob.path)
        large = scratch / "bench-large.stone"
        _regroup(package, large, LARGE_FILE_COUNT)
        ref_median, ours_median = _compare(package, scratch)
        large_ref, large_ours = _compare(large, scratch)
        return {
            "content_mb": content / 1e6,
            "package_mb": package.stat().st_size / 1e6,
            "files": len(blobs),
            "pack_seconds": pack_seconds,
            "zstd_d_mb_s": content / 1e6 / ref_median,
            "stone_mb_s": content / 1e6 / ours_median,
            "ratio": ref_median / ours_median,
            "large_files": LARGE_FILE_COUNT,
            "large_stone_mb_s": content / 1e6 / large_ours,
            "large_files_ratio": large_ref / large_ours,
        }


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:>14}: {value:.3f}" if isinstance(value, float) else f"{key:>14}: {value}")

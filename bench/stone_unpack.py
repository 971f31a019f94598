"""Unpack throughput of a large package against plain `zstd -d` of its content frame.

Both run in this process on the same bytes: the reference decompresses the content payload's
frame into one file; stone streams it through the index into one verified file per digest.
Goal: stone >= 0.8x the reference.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import zstandard

from stone import DirectorySink, LayoutEntry, Meta, PayloadKind, StoneReader, write_binary
from stone.tree import file_digest
from stone.writer import FileBlob

TOTAL_BYTES = 224 << 20
FILE_COUNT = 1800
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
        reference, ours = [], []
        for run in range(RUNS):
            for name, measure, results in (("ref", _reference, reference), ("stone", _stone, ours)):
                out_dir = scratch / f"{name}-{run}"
                out_dir.mkdir()
                results.append(measure(package, out_dir))
                for child in out_dir.iterdir():
                    child.unlink()
                out_dir.rmdir()
        ref_median, ours_median = statistics.median(reference), statistics.median(ours)
        return {
            "content_mb": content / 1e6,
            "package_mb": package.stat().st_size / 1e6,
            "files": len(blobs),
            "pack_seconds": pack_seconds,
            "zstd_d_mb_s": content / 1e6 / ref_median,
            "stone_mb_s": content / 1e6 / ours_median,
            "ratio": ref_median / ours_median,
        }


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:>14}: {value:.3f}" if isinstance(value, float) else f"{key:>14}: {value}")

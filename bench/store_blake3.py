"""moss's unpack into its store with BLAKE3 recorded, against the same unpack without it.

Both run in this process, alternating, on one generated package, each into a fresh store: the
reference is the store sink moss uses (files named by XXH3-128 under `v2/`, read-only, existing
ones skipped and noted) fed by stone's `unpack_content`; ours is
`moss_core.client.cache.unpack_content`, what each unpacking worker process runs: the same
sink, the same work, plus the BLAKE3 of every file. Goal: ours >= 0.9x the reference.

The stores are in memory (`/dev/shm`, unless `BENCH_TMP` says otherwise): there the unpack is
bound by the processor, so BLAKE3's share of the time is the largest it can be. On a disk,
writing the files takes longer and the share is smaller; on a shared virtual disk it also
varies from one run to the next by more than the effect measured.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from moss_core.client.cache import unpack_content
from moss_core.store import ASSET_MODE, asset_relpath
from stone import DirectorySink, FileType, LayoutEntry, Meta, StoneReader, write_binary
from stone.tree import file_digest
from stone.writer import FileBlob

TOTAL_BYTES = 48 << 20
FILE_COUNT = 1200
RUNS = 9


def _make_package(scratch: Path) -> tuple[Path, int]:
    rng = random.Random(11)
    words = [bytes(rng.choices(range(97, 123), k=rng.randint(2, 9))) for _ in range(4000)]
    files = scratch / "files"
    files.mkdir()
    layout, blobs = [], {}
    per_file = TOTAL_BYTES // FILE_COUNT
    for number in range(FILE_COUNT):
        size = rng.randint(per_file // 4, per_file * 7 // 4)
        text = bytearray()
        while len(text) < size:
            text += b" ".join(rng.choices(words, k=512)) + b"\n"
        path = files / f"f{number:05d}"
        path.write_bytes(bytes(text[:size]))
        digest = file_digest(str(path))
        blobs[digest] = FileBlob(str(path), size)
        layout.append(LayoutEntry.regular(f"share/bench/f{number:05d}", digest))
    package = scratch / "bench.stone"
    with open(package, "wb") as out:
        write_binary(out, Meta(name="bench", version="1", release=1), layout, blobs)
    shutil.rmtree(files)
    return package, sum(blob.size for blob in blobs.values())


def _without_blake3(store: Path, package: Path) -> None:
    fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sink = DirectorySink(
            fd, name_for=asset_relpath, skip_existing=True, file_mode=ASSET_MODE, workers=0
        )
        with StoneReader(package) as reader, sink:
            reader.expect(FileType.BINARY)
            reader.unpack_content(sink)
    finally:
        os.close(fd)


def _with_blake3(store: Path, package: Path) -> None:
    unpack_content(str(store), "bench", str(package), str(package))


def _timed(unpack: Callable[[Path, Path], None], store: Path, package: Path) -> float:
    store.mkdir()
    start = time.perf_counter()
    unpack(store, package)
    seconds = time.perf_counter() - start
    shutil.rmtree(store)
    return seconds


def main() -> dict[str, float]:
    memory = "/dev/shm" if os.path.isdir("/dev/shm") else None
    where = os.environ.get("BENCH_TMP", memory)
    with tempfile.TemporaryDirectory(prefix="blake3-bench-", dir=where) as tmp:
        scratch = Path(tmp)
        package, content = _make_package(scratch)
        without, with_ = [], []
        for run in range(RUNS):
            without.append(_timed(_without_blake3, scratch / f"plain-{run}", package))
            with_.append(_timed(_with_blake3, scratch / f"blake3-{run}", package))
        plain, ours = statistics.median(without), statistics.median(with_)
        return {
            "content_mb": content / 1e6,
            "files": FILE_COUNT,
            "without_mb_s": content / 1e6 / plain,
            "with_blake3_mb_s": content / 1e6 / ours,
            "ratio": plain / ours,
        }


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:>16}: {value:.3f}" if isinstance(value, float) else f"{key:>16}: {value}")

"""Fetch + unpack of 200 small packages from an HTTP server on 127.0.0.1: the pipeline with 8
downloads in flight (unpacks overlapping them) against one package at a time (`parallel=1`,
each unpacked before the next is requested), in the same process.

The server runs in a child process (aiohttp's static file handler), so it does not share the
client's interpreter lock. Each run starts from an empty root and download cache; the runs
alternate between the two modes and the medians are compared. The same comparison is made
with the server waiting 20 ms before each response, as a nearby mirror would.

What to expect: on loopback both halves are CPU- or disk-bound, and unpacks are serialised
(they write the store and SQLite), so the parallel time cannot drop below the unpack time
alone; the best ratio is (download + unpack) / unpack, under 2. On tmpfs (`BENCH_TMP=/dev/shm`)
we see about 1.5, on a virtual disk where every unpack's fsyncs dominate about 1.3. With 20 ms
of latency downloads dominate and 8 in flight give 3x (disk) to 7x (tmpfs).
Goal: ratio >= 1.2 (loopback), rtt20_ratio >= 2.5.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from moss_core.client import cache
from moss_core.db import LayoutDb, MetaDb
from moss_core.fetch import FetchJob, fetch_all
from moss_core.installation import Installation
from moss_core.registry import Package
from moss_core.repository import build_index
from stone import Meta, scan_tree, write_binary

PACKAGES = 200
FILES_PER_PACKAGE = 4
RUNS = 3
LATENCY = 0.02

_SERVER = """
import asyncio, sys
from aiohttp import web

root, latency = sys.argv[1], float(sys.argv[2])

@web.middleware
async def delay(request, handler):
    if latency:
        await asyncio.sleep(latency)
    return await handler(request)

async def main():
    app = web.Application(middlewares=[delay])
    app.router.add_static("/", root)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _make_repository(directory: Path) -> list[Package]:
    rng = random.Random(11)
    words = [bytes(rng.choices(range(97, 123), k=rng.randint(2, 9))) for _ in range(2000)]
    trees = directory.parent / "trees"
    for number in range(PACKAGES):
        name = f"bench{number:03d}"
        tree = trees / name
        (tree / "share" / name).mkdir(parents=True)
        for index in range(FILES_PER_PACKAGE):
            size = rng.randint(2_000, 30_000)
            text = b" ".join(rng.choices(words, k=size // 5))[:size]
            (tree / "share" / name / f"f{index}").write_bytes(text)
        scanned = scan_tree(tree)
        meta = Meta(name=name, version="1", release=1, build_release=1, architecture="x86_64")
        with open(directory / meta.filename, "wb") as out:
            write_binary(out, meta, scanned.layout, scanned.blobs)
    shutil.rmtree(trees)
    metas = build_index(directory)
    return [Package(meta.hash or "", meta, "bench") for meta in metas]


def _serve(directory: Path, latency: float) -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(directory), str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.strip().isdigit():
        server.kill()
        raise RuntimeError("the benchmark server did not start")
    return server, int(line)


def _install(scratch: Path, packages: list[Package], port: int, parallel: int) -> float:
    root = scratch / f"root-{parallel}"
    root.mkdir()
    try:
        installation = Installation.open(root)
        jobs = [
            FetchJob(
                p,
                f"http://127.0.0.1:{port}/{p.meta.uri}",
                installation.download_path(p.id),
            )
            for p in packages
        ]
        with (
            MetaDb.open(installation.db_dir / "install") as install_db,
            LayoutDb.open(installation.db_dir / "layout") as layout_db,
        ):
            started = time.perf_counter()
            with cache.Unpacker(installation, install_db, layout_db) as unpacker:
                fetch_all(
                    jobs, lambda job, path: unpacker.unpack(job.package, path), parallel=parallel
                )
            elapsed = time.perf_counter() - started
            assert all(cache.is_cached(install_db, layout_db, p.id) for p in packages)
        return elapsed
    finally:
        shutil.rmtree(root)


def _compare(scratch: Path, packages: list[Package], latency: float) -> tuple[float, float]:
    server, port = _serve(scratch / "repo", latency)
    try:
        parallel, sequential = [], []
        for _ in range(RUNS):
            parallel.append(_install(scratch, packages, port, 8))
            sequential.append(_install(scratch, packages, port, 1))
        return statistics.median(parallel), statistics.median(sequential)
    finally:
        server.kill()
        server.wait()


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="fetch-bench-", dir=os.environ.get("BENCH_TMP")) as tmp:
        scratch = Path(tmp)
        (scratch / "repo").mkdir()
        packages = _make_repository(scratch / "repo")
        total = sum(p.meta.download_size or 0 for p in packages)
        parallel, sequential = _compare(scratch, packages, 0.0)
        slow_parallel, slow_sequential = _compare(scratch, packages, LATENCY)
        return {
            "packages": len(packages),
            "download_mb": total / 1e6,
            "parallel_s": parallel,
            "sequential_s": sequential,
            "ratio": sequential / parallel,
            "rtt20_parallel_s": slow_parallel,
            "rtt20_sequential_s": slow_sequential,
            "rtt20_ratio": slow_sequential / slow_parallel,
        }


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:>20}: {value:.3f}" if isinstance(value, float) else f"{key:>20}: {value}")

"""A cached re-install of a 100,000-entry system: moss's blit against `cp -al` of the same tree.

A transaction with fewer than two archived trees re-blits the whole `/usr` from the store (the
benchmark prunes to one state before each round), so re-installing one small package
re-creates every entry. The reference, run on the same machine in the same process, is
`cp -al` of the resulting tree (hard links, like the blit). Goal: blit rate >= 1.0x cp -al.
Also reported: the cold install of the whole set.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import xxhash

from moss_core.repository import build_index
from stone import BytesBlob, LayoutEntry, Meta, write_binary

PACKAGES = 100
FILES_PER_PACKAGE = 1000
RUNS = 3
BLIT_LINE = re.compile(r"^(\d+) entries blitted in ([\d.]+)s", re.M)


def _make_repository(directory: Path) -> None:
    for number in range(PACKAGES):
        name = f"bench{number:03d}"
        layout, blobs = [], {}
        for index in range(FILES_PER_PACKAGE):
            data = f"{name} file {index}\n".encode() * 4
            digest = xxhash.xxh3_128_intdigest(data)
            blobs[digest] = BytesBlob(data)
            layout.append(
                LayoutEntry.regular(f"share/{name}/d{index // 50:02d}/f{index:04d}", digest)
            )
        out = io.BytesIO()
        write_binary(
            out, Meta(name=name, version="1", release=1, architecture="x86_64"), layout, blobs
        )
        (directory / f"{name}-1-1-1-x86_64.stone").write_bytes(out.getvalue())
    build_index(directory)


def _moss(root: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "moss", "-D", str(root), "-y", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="moss-bench-", dir=os.environ.get("BENCH_TMP")) as tmp:
        scratch = Path(tmp)
        repo, root = scratch / "repo", scratch / "root"
        repo.mkdir()
        root.mkdir()
        _make_repository(repo)
        _moss(root, "repo", "add", "bench", f"file://{repo}/stone.index")
        names = [f"bench{n:03d}" for n in range(PACKAGES)]
        started = time.perf_counter()
        _moss(root, "install", *names)
        cold = time.perf_counter() - started
        blits, copies, entries = [], [], 0
        for run in range(RUNS):
            # One state kept: the re-install then blits the whole tree (with two archived
            # trees moss would update one of them instead, which one_change.py measures).
            _moss(root, "state", "prune", "-k", "1")
            _moss(root, "remove", names[0])
            started = time.perf_counter()
            output = _moss(root, "install", names[0])
            reinstall = time.perf_counter() - started
            match = BLIT_LINE.search(output)
            assert match is not None, output
            entries, blit_seconds = int(match.group(1)), float(match.group(2))
            blits.append((blit_seconds, reinstall))
            target = scratch / f"copy-{run}"
            started = time.perf_counter()
            subprocess.run(["cp", "-al", str(root / "usr"), str(target)], check=True)
            copies.append(time.perf_counter() - started)
            shutil.rmtree(target)
        blit = statistics.median(b for b, _ in blits)
        reinstall = statistics.median(r for _, r in blits)
        copy = statistics.median(copies)
        return {
            "entries": entries,
            "cold_install_s": cold,
            "reinstall_s": reinstall,
            "blit_s": blit,
            "cp_al_s": copy,
            "blit_k_per_s": entries / blit / 1000,
            "cp_al_k_per_s": entries / copy / 1000,
            "ratio": copy / blit,
        }


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:>16}: {value:.3f}" if isinstance(value, float) else f"{key:>16}: {value}")

"""`moss repo add` (a refresh) and `moss search` over an index of 65,535 packages, the most a
`.stone` index can hold (its payload count is a u16).

Each command runs as its own `moss` process against a scratch root, so its wall time and its
peak RSS (`ru_maxrss` of the finished child) are what a user's shell would see. Goals: refresh
in at most 2 s and 150 MB, search in at most 0.3 s (reported here as `*_goal_ratio`, goal over
measured, so at least 1.0 means met); `moss repo list` on the same root gives the start-up
cost every command pays, for scale. `moss repo update` after `CHANGED` packages of the index
changed (a new summary and package hash each) is the refresh most users make: the goal is
the same. The index is generated: names, versions, summaries,
descriptions, licences and a handful of depends and provides per package, sized like the
real corpus index (about 400 bytes of meta per package). The children keep their bytecode in a
scratch directory, as an installed moss has it, after an untimed warm-up run.
"""

from __future__ import annotations

import dataclasses
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peers_tools import ENV, bytecode_cache

from stone import Dependency, Meta, Provider, RelationKind, write_index

PACKAGES = 65_535
CHANGED = 100
RUNS = 3
REFRESH_GOAL_S = 2.0
REFRESH_GOAL_MB = 150.0
SEARCH_GOAL_S = 0.3
# moss in-process, printing its own peak RSS (VmHWM) last on stderr. Not `ru_maxrss` of the
# child: Linux carries the parent's resident size across fork and exec into it.
MOSS = [
    sys.executable,
    "-c",
    "import atexit, sys\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            print('peak-kb', line.split()[1], file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "from moss.cli import run\n"
    "sys.argv[0] = 'moss'\n"
    "run()",
]


def _metas(count: int) -> list[Meta]:
    rng = random.Random(11)
    syllables = ["lib", "gtk", "qt", "py", "font", "x", "net", "core", "util", "kit", "data"]
    metas = []
    for number in range(count):
        name = f"{rng.choice(syllables)}{rng.choice(syllables)}-{number:05d}"
        depends = {
            Dependency(RelationKind.SONAME, f"lib{rng.choice(syllables)}{rng.randrange(400)}.so")
            for _ in range(rng.randrange(6))
        }
        provides = {
            Provider(RelationKind.SONAME, f"lib{name}.so.{rng.randrange(9)}")
            for _ in range(rng.randrange(3))
        }
        metas.append(
            Meta(
                name=name,
                version=f"{rng.randrange(30)}.{rng.randrange(30)}.{rng.randrange(9)}",
                release=rng.randrange(1, 40),
                build_release=1,
                architecture="x86_64",
                summary=f"The {name} {rng.choice(syllables)} component",
                description=f"{name} provides " + " ".join(rng.choices(syllables, k=20)),
                source_id=name.rsplit("-", 1)[0],
                homepage=f"https://example.org/{name}",
                licenses=("MPL-2.0",),
                depends=tuple(sorted(depends)),
                provides=tuple(sorted(provides)),
                uri=f"pool/{name[0]}/{name}-1-1-x86_64.stone",
                hash=f"{number:064x}",
                download_size=rng.randrange(1 << 10, 1 << 24),
            )
        )
    return metas


def _cpu() -> float:
    """User and system CPU seconds of the finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _changed(metas: list[Meta]) -> list[Meta]:
    """`metas` with `CHANGED` of them rebuilt as a new release would be."""
    changed = list(metas)
    for number in random.Random(13).sample(range(len(metas)), CHANGED):
        meta = metas[number]
        changed[number] = dataclasses.replace(
            meta, summary=meta.summary + ", rebuilt", hash=f"{number + PACKAGES:064x}"
        )
    return changed


def _moss(root: Path, *args: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `moss` process."""
    started = time.perf_counter()
    done = subprocess.run(
        [*MOSS, "-D", str(root), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"moss {' '.join(args)} failed: {done.stderr}")
    peak_kb = next(
        int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("peak-kb")
    )
    return seconds, peak_kb / 1024


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="index-bench-", dir=os.environ.get("BENCH_TMP")) as tmp:
        scratch = Path(tmp)
        bytecode_cache(scratch / "pycache")
        index = scratch / "stone.index"
        metas = _metas(PACKAGES)
        with open(index, "wb") as out:
            write_index(out, metas)
        changed = scratch / "changed.index"
        with open(changed, "wb") as out:
            write_index(out, _changed(metas))
        warm = scratch / "root-warm-up"
        warm.mkdir()
        _moss(warm, "repo", "add", "bench", index.as_uri())
        _moss(warm, "search", "kitfont")
        refresh, refresh_cpu, refresh_rss, search, search_rss, startup = [], [], [], [], [], []
        update, update_cpu, update_rss = [], [], []
        for run in range(RUNS):
            root = scratch / f"root-{run}"
            root.mkdir()
            cpu = _cpu()
            seconds, rss = _moss(root, "repo", "add", "bench", index.as_uri())
            refresh_cpu.append(_cpu() - cpu)
            refresh.append(seconds)
            refresh_rss.append(rss)
            seconds, rss = _moss(root, "search", "kitfont")
            search.append(seconds)
            search_rss.append(rss)
            startup.append(_moss(root, "repo", "list")[0])
            os.replace(index, scratch / "first.index")
            os.replace(changed, index)
            cpu = _cpu()
            seconds, rss = _moss(root, "repo", "update", "bench")
            update_cpu.append(_cpu() - cpu)
            update.append(seconds)
            update_rss.append(rss)
            os.replace(index, changed)
            os.replace(scratch / "first.index", index)
        refresh_s, search_s = statistics.median(refresh), statistics.median(search)
        refresh_mb = max(refresh_rss)
        return {
            "packages": float(PACKAGES),
            "moss_startup_s": statistics.median(startup),
            "index_mb": index.stat().st_size / 1e6,
            "refresh_s": refresh_s,
            "refresh_cpu_s": statistics.median(refresh_cpu),
            "refresh_peak_mb": refresh_mb,
            "update_s": statistics.median(update),
            "update_cpu_s": statistics.median(update_cpu),
            "update_peak_mb": max(update_rss),
            "search_s": search_s,
            "search_peak_mb": max(search_rss),
            "refresh_goal_ratio": REFRESH_GOAL_S / refresh_s,
            "update_goal_ratio": REFRESH_GOAL_S / statistics.median(update),
            "refresh_rss_goal_ratio": REFRESH_GOAL_MB / refresh_mb,
            "search_goal_ratio": SEARCH_GOAL_S / search_s,
        }


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:>22}: {value:.3f}")

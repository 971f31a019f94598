"""`make bench`: run every benchmark and print its figures (not part of CI)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import boulder_startup
import fetch_install
import index_refresh
import moss_blit
import one_change
import peers
import resolve_corpus
import stone_unpack
import store_blake3
import trigger_batch

Bench = Callable[[], dict[str, float]]

# name: (benchmark, goals as (figure, at least)); a benchmark without goals only reports.
BENCHES: dict[str, tuple[Bench, list[tuple[str, float]]]] = {
    "stone unpack vs zstd -d": (stone_unpack.main, [("ratio", 0.8), ("large_files_ratio", 0.8)]),
    "moss unpack into the store: with BLAKE3 recorded vs without": (
        store_blake3.main,
        [("ratio", 0.9)],
    ),
    "moss cached re-install: blit vs cp -al": (moss_blit.main, [("ratio", 1.0)]),
    "one-package change on 235k entries vs cp -al and vs 20 packages": (
        one_change.main,
        [
            ("remove_ratio", 4.0),
            ("install_ratio", 4.0),
            ("remove_scaling", 1 / 1.5),
            ("install_scaling", 1 / 1.5),
            ("rss_ratio", 1.0),
        ],
    ),
    "a trigger's 19 invocations through one container helper": (trigger_batch.main, []),
    "fetch + unpack of 200 packages: 8 in flight vs 1": (fetch_install.main, [("ratio", 1.2)]),
    "resolution over the corpus index": (resolve_corpus.main, []),
    "boulder start-up: --help and recipe check": (
        boulder_startup.main,
        [("help_ratio", 1.0), ("check_ratio", 1.0)],
    ),
    "refresh and search of a 65,535-package index": (
        index_refresh.main,
        [
            ("refresh_goal_ratio", 1.0),
            ("refresh_rss_goal_ratio", 1.0),
            ("search_goal_ratio", 1.0),
        ],
    ),
    "moss vs pacman/ostree on real content": (
        peers.main,
        [("install_ratio", 2.0), ("blit_ratio", 1.0), ("startup_ratio", 1.0)],
    ),
}


def main() -> int:
    only = set(sys.argv[1:])
    failed = False
    for title, (bench, goals) in BENCHES.items():
        if only and not any(word in title for word in only):
            continue
        print(f"== {title}", flush=True)
        figures = bench()
        for name, value in figures.items():
            print(
                f"  {name:>16}: {value:.3f}"
                if isinstance(value, float)
                else f"  {name:>16}: {value}"
            )
        for key, target in goals:
            met = figures[key] >= target
            failed |= not met
            print(f"  goal {key} >= {target}: {'met' if met else 'NOT met'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

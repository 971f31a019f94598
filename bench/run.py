"""`make bench`: run every benchmark and print its figures (not part of CI)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fetch_install
import moss_blit
import resolve_corpus
import stone_unpack

Bench = Callable[[], dict[str, float]]

# name: (benchmark, (figure, goal)) — a goal of None only reports.
BENCHES: dict[str, tuple[Bench, tuple[str, float] | None]] = {
    "stone unpack vs zstd -d": (stone_unpack.main, ("ratio", 0.8)),
    "moss cached re-install: blit vs cp -al": (moss_blit.main, ("ratio", 1.0)),
    "fetch + unpack of 200 packages: 8 in flight vs 1": (fetch_install.main, ("ratio", 1.2)),
    "resolution over the corpus index": (resolve_corpus.main, None),
}


def main() -> int:
    only = set(sys.argv[1:])
    failed = False
    for title, (bench, goal) in BENCHES.items():
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
        if goal is not None:
            key, target = goal
            met = figures[key] >= target
            failed |= not met
            print(f"  goal {key} >= {target}: {'met' if met else 'NOT met'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

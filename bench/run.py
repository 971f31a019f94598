"""`make bench`: run every benchmark and print its figures (not part of CI)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stone_unpack

BENCHES = {"stone unpack vs zstd -d": (stone_unpack.main, ("ratio", 0.8))}


def main() -> int:
    failed = False
    for title, (bench, (key, goal)) in BENCHES.items():
        print(f"== {title}")
        figures = bench()
        for name, value in figures.items():
            print(
                f"  {name:>14}: {value:.3f}"
                if isinstance(value, float)
                else f"  {name:>14}: {value}"
            )
        met = figures[key] >= goal
        failed |= not met
        print(f"  goal {key} >= {goal}: {'met' if met else 'NOT met'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

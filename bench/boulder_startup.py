"""boulder's start-up: `boulder --help` and `boulder recipe check` of one small recipe, wall time
of the process (median of 15, bytecode cached as in an installed boulder), against the goals of
0.15 s and 0.3 s; `moss --help` and a bare interpreter are measured in the same run beside them.

`help_ratio` = 150 ms / `boulder --help`, `check_ratio` = 300 ms / `recipe check`: a ratio of 1
or more meets the goal."""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from peers_tools import bytecode_cache, run, timed

RUNS = 15
WORKSPACE = Path(__file__).resolve().parents[1]
RECIPE = WORKSPACE / "examples" / "hello" / "stone.yaml"


def _median_ms(argv: list[str]) -> float:
    run(argv)  # warm-up: fills the bytecode cache
    return statistics.median(timed(argv)[0] for _ in range(RUNS)) * 1000


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="boulder-startup-") as scratch:
        bytecode_cache(Path(scratch))
        python = sys.executable
        figures = {
            "python_bare_ms": _median_ms([python, "-c", "pass"]),
            "moss_help_ms": _median_ms([python, "-m", "moss", "--help"]),
            "help_ms": _median_ms([python, "-m", "boulder", "--help"]),
            "check_ms": _median_ms([python, "-m", "boulder", "recipe", "check", str(RECIPE)]),
        }
    figures["help_ratio"] = 150 / figures["help_ms"]
    figures["check_ratio"] = 300 / figures["check_ms"]
    return figures


if __name__ == "__main__":
    for name, value in main().items():
        print(f"{name:>16}: {value:.3f}")

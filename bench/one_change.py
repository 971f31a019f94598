"""A one-package transaction on a 235,000-entry system: does it cost what the change costs?

Two systems of generated packages (1,150 small files each): 200 packages (~235k entries in
`/usr`, the size upstream publishes its blit figure for) and the first 20 of them. On each,
one package is removed and installed again, several times (after a first round, reported
apart); the reference is `cp -al` of the large system's `/usr`, run in the same rounds.
Every moss run is a subprocess whose own peak RSS is read with `wait4`. Goals (issue 14): a
one-package change on the large system takes at most a quarter of `cp -al` (ratio >= 4), at
most 1.5x the same change on the small system (ratio >= 0.667), and at most 120 MB of RSS.

Both systems also hold `triggers`, a package of two transaction triggers run by a static
handler (built with gcc): `catalog` writes one file per matching package (the packages
chg000-chg099 match; the changed package does not), `index` one file for all of chg100-chg199
(the changed package matches: it runs again in every transaction). A real system always has
transaction triggers, and a tree that has them is recycled only with its trigger record.

The packages are generated once and kept under `$BENCH_TMP` (default `.bench-tmp` in the
checkout); the roots are made afresh. The moss children keep their bytecode in a scratch
directory (the first transaction fills it), as an installed moss has it cached: without it every
child compiled moss's modules at each start where `PYTHONDONTWRITEBYTECODE` is set. `--profile`
runs one more install under cProfile and prints the top of it.
"""

from __future__ import annotations

import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from generated import run_moss, scratch_base, write_package
from peers_tools import bytecode_cache
from stamp_handler import build_stamp, stamp_trigger

from moss_core.repository import build_index

PACKAGES = 200
SMALL = 20
FILES_PER_PACKAGE = 1150
RUNS = 3
CHANGED = "chg100"  # the package removed and installed again (in the middle of the large set)
SMALL_CHANGED = "chg010"
GENERATION = "v3"  # bump when the generated content changes
TRIGGERS = "triggers"

# The trigger files: each runs `stamp DIR OUT IN...` (make DIR, write OUT with each IN's name
# and content), the static handler the tests use.
_TRIGGER_FILES = {
    **stamp_trigger(
        "catalog",
        ["/usr/share/catalog", "/usr/share/catalog/$(name)", "/usr/share/$(name)/d00/f0000"],
        "/usr/share/(name:chg0*)/d00/f0000",
    ),
    **stamp_trigger(
        "index", ["/usr/share/index", "/usr/share/index/all"], "/usr/share/chg1*/d00/f0000"
    ),
}


def _write_package(directory: Path, number: int) -> None:
    name = f"chg{number:03d}"
    contents = {
        f"share/{name}/d{index // 50:02d}/f{index:04d}": f"{name} file {index}\n"
        for index in range(FILES_PER_PACKAGE)
    }
    write_package(directory, name, contents)


def _write_triggers(directory: Path) -> None:
    if shutil.which("gcc") is None:
        raise SystemExit("one_change.py needs gcc, to build its static trigger handler")
    with tempfile.TemporaryDirectory() as build:
        stamp = build_stamp(Path(build))
    write_package(directory, TRIGGERS, {"bin/stamp": stamp, **_TRIGGER_FILES})


def _repository() -> Path:
    """The generated repository, made once and reused while `GENERATION` stays the same."""
    repo = scratch_base() / f"one-change-repo-{GENERATION}"
    if (repo / "stone.index").exists():
        return repo
    building = repo.with_name(repo.name + ".part")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    for number in range(PACKAGES):
        _write_package(building, number)
    _write_triggers(building)
    build_index(building)
    shutil.rmtree(repo, ignore_errors=True)
    os.rename(building, repo)
    return repo


def _system(scratch: Path, repo: Path, name: str, count: int) -> Path:
    root = scratch / name
    root.mkdir()
    run_moss(root, "repo", "add", "gen", f"file://{repo}/stone.index")
    run_moss(root, "install", TRIGGERS, *[f"chg{n:03d}" for n in range(count)])
    if not (root / "usr/share/catalog/chg000").is_file():
        raise RuntimeError(f"the transaction triggers did not run in {root}")
    return root


def _copy(scratch: Path, root: Path) -> float:
    target = scratch / "copy"
    started = time.perf_counter()
    subprocess.run(["cp", "-al", str(root / "usr"), str(target)], check=True)
    elapsed = time.perf_counter() - started
    shutil.rmtree(target)
    return elapsed


def _count_entries(usr: Path) -> int:
    return sum(1 + len(files) + len(dirs) for _, dirs, files in os.walk(usr)) - 1


def main(profile: bool = False) -> dict[str, float]:
    repo = _repository()
    scratch = Path(tempfile.mkdtemp(prefix="one-change-", dir=scratch_base()))
    bytecode_cache(scratch / "pycache")
    try:
        started = time.perf_counter()
        large = _system(scratch, repo, "large", PACKAGES)
        cold = time.perf_counter() - started
        small = _system(scratch, repo, "small", SMALL)
        # The first round makes the archived trees a transaction may start from (moss keeps
        # two whole); it is reported apart, as the whole-tree figure.
        firsts: dict[str, float] = {}
        removes, installs, small_removes, small_installs, copies, rss = [], [], [], [], [], []
        for run in range(RUNS + 1):
            for target, name, rm, add in (
                (large, CHANGED, removes, installs),
                (small, SMALL_CHANGED, small_removes, small_installs),
            ):
                for action, times in (("remove", rm), ("install", add)):
                    done = run_moss(target, action, name)
                    if run == 0:
                        firsts[f"{'' if target is large else 'small_'}{action}"] = done.seconds
                        continue
                    times.append(done.seconds)
                    if target is large:
                        rss.append(done.peak_mb)
            copies.append(_copy(scratch, large))
        if profile:
            run_moss(large, "remove", CHANGED)
            stats_file = scratch / "install.prof"
            run_moss(large, "install", CHANGED, python=("-m", "cProfile", "-o", str(stats_file)))
            pstats.Stats(str(stats_file)).sort_stats("cumulative").print_stats(35)
        remove, install = statistics.median(removes), statistics.median(installs)
        small_remove, small_install = (
            statistics.median(small_removes),
            statistics.median(small_installs),
        )
        copy = statistics.median(copies)
        peak = max(rss)
        return {
            "entries": _count_entries(large / "usr"),
            "cold_install_s": cold,
            "whole_remove_s": firsts["remove"],
            "whole_install_s": firsts["install"],
            "small_whole_remove_s": firsts["small_remove"],
            "small_whole_install_s": firsts["small_install"],
            "remove_s": remove,
            "install_s": install,
            "small_remove_s": small_remove,
            "small_install_s": small_install,
            "cp_al_s": copy,
            "peak_rss_mb": peak,
            # goals, each "at least": cp -al / change >= 4; small / large >= 1 / 1.5; 120 / RSS >= 1
            "remove_ratio": copy / remove,
            "install_ratio": copy / install,
            "remove_scaling": small_remove / remove,
            "install_scaling": small_install / install,
            "rss_ratio": 120 / peak,
        }
    finally:
        # A dozen trees of 235k entries take minutes to delete on a slow disk: not waited for.
        subprocess.Popen(["rm", "-rf", str(scratch)], start_new_session=True)


if __name__ == "__main__":
    for key, value in main(profile="--profile" in sys.argv).items():
        print(f"{key:>16}: {value:.3f}" if isinstance(value, float) else f"{key:>16}: {value}")

"""moss against pacman and ostree on the same real content (issue 8; `make bench`, not in CI).

The package set (`peers_pkgset.py`): this interpreter's standard library and `/usr/share`,
about 54,000 files in 200 packages, packaged as `.stone` files indexed by `moss index`, as
pacman `.pkg.tar.zst` archives laid out as makepkg does, and as one ostree commit. Then, in one
run on the same machine, `RUNS` rounds of:

- cold install into an empty root: `moss -D R -y install <all 200>` from a `file://`
  repository against `pacman --root R -U <all 200 archives>`, in alternating order, each
  after a `sync -f` (untimed) so that none pays for writing back another's files. moss fsyncs
  (`syncfs`) before its exchange and pacman does not, so pacman is also timed with a
  `sync -f` after it (`pacman_sync_s`), for a like-for-like durable install. A third install,
  by moss with its store sharded one level deep instead of upstream's three
  (`flat_store_moss.py`, a what-if: moss has no such mode), measures what keeping upstream's
  store layout costs. A fourth, by moss confined to one CPU (`taskset --cpu-list 0`), compares
  the work per core with pacman's (which uses one) and measures what moss's worker processes
  buy on this machine;
- cached re-install: moss removes one package (not timed) and installs it again, which re-blits
  every entry of `/usr` from the store, against `ostree checkout -H` (hard links) of the commit
  into a new directory, and `cp -al` of the installed `/usr` (the blit reference of
  `moss_blit.py`, here on real content); moss and the peers take turns to go first;
- removal of all 200: `moss remove` against `pacman -R`. moss keeps the old tree as a state to
  roll back to, so its removal swaps in an empty `/usr` and unlinks nothing; pacman unlinks every
  file.

Then start-up: `moss list installed` on the 200-package root, wall time of the process, median
of `STARTUP_RUNS`, and a `python -X importtime` breakdown of the same command.

Figures are medians; ratios are peer time / moss time (> 1: moss faster), each the median of
the per-run ratios, so the goals read `install_ratio >= 2.0`, `blit_ratio >= 1.0` and
`startup_ratio >= 1.0` (150 ms / the start-up time). Bytecode of the moss processes is kept
in the scratch directory (`PYTHONPYCACHEPREFIX`), as an installed moss has it;
`startup_no_pyc_ms` is the start-up without it. `python bench/peers.py --plot` also writes
`bench/peers.png` (matplotlib, when it imports) or prints an ASCII chart.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers_pkgset
from peers_tools import (
    BLIT_LINE,
    FLAT_STORE_MOSS,
    bytecode_cache,
    moss,
    moss_root,
    pacman,
    pacman_root,
    run,
    syncfs,
    timed,
)

RUNS = 3
REINSTALLS = 3  # cached re-installs per run
STARTUP_RUNS = 10
STARTUP_GOAL_MS = 150.0
HERE = Path(__file__).resolve().parent
REQUIRED = ("pacman", "bsdtar", "ostree", "zstd", "taskset")


def _say(text: str) -> None:
    print(f"  [peers] {text}", file=sys.stderr, flush=True)


def ensure_tools() -> None:
    """The peers must be installed: `bench/setup.sh` installs what is missing (apt-get)."""
    if all(shutil.which(tool) for tool in REQUIRED):
        return
    subprocess.run(["bash", str(HERE / "setup.sh")], check=True)
    missing = [tool for tool in REQUIRED if not shutil.which(tool)]
    if missing:
        raise RuntimeError(f"bench/setup.sh did not provide {', '.join(missing)}")


def _rmtree(path: Path) -> None:
    """Remove a tree whatever its modes (the store's files are read-only)."""
    if path.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


def _cold(scratch: Path, pset: peers_pkgset.PackageSet, run_no: int) -> dict[str, float]:
    mroot, proot = scratch / f"moss-{run_no}", scratch / f"pacman-{run_no}"
    flat_root, one_cpu_root = scratch / f"moss-flat-{run_no}", scratch / f"moss-1cpu-{run_no}"
    moss_root(mroot, pset.stone_repo)
    moss_root(flat_root, pset.stone_repo)
    moss_root(one_cpu_root, pset.stone_repo)
    pacman_root(proot)
    figures: dict[str, float] = {}
    steps = ["moss", "pacman", "flat", "one-cpu"]
    if run_no % 2:
        steps.reverse()
    for step in steps:
        # No tool may pay for writing back what another left dirty (moss's syncfs would
        # flush pacman's files too).
        syncfs(scratch)
        if step == "moss":
            figures["moss_install_s"], _ = timed(moss(mroot, "install", *pset.names))
        elif step == "flat":
            command = moss(flat_root, "install", *pset.names, command=FLAT_STORE_MOSS)
            figures["moss_flat_store_install_s"], _ = timed(command)
        elif step == "one-cpu":
            command = ["taskset", "--cpu-list", "0", *moss(one_cpu_root, "install", *pset.names)]
            figures["moss_one_cpu_install_s"], _ = timed(command)
        else:
            started = time.perf_counter()
            run(pacman(proot, "-U", *map(str, pset.pacman_files)))
            figures["pacman_install_s"] = time.perf_counter() - started
            syncfs(proot)
            figures["pacman_sync_s"] = time.perf_counter() - started
    return figures


# What moss itself writes in every state's /usr, beside the packages' content.
MOSS_OWN = {".stateID", "lib/system-model.kdl", "lib/os-release"}


def _paths(usr: Path) -> set[str]:
    return {str(p.relative_to(usr)) for p in usr.rglob("*")} if usr.exists() else set()


def _check_same_tree(mroot: Path, proot: Path) -> int:
    """Both installed the same entries under /usr; returns how many."""
    moss_paths, pacman_paths = _paths(mroot / "usr") - MOSS_OWN, _paths(proot / "usr")
    if moss_paths != pacman_paths:
        extra = sorted(moss_paths ^ pacman_paths)[:5]
        raise RuntimeError(f"moss and pacman installed different trees, e.g. {extra}")
    return len(moss_paths)


def _cached(scratch: Path, pset: peers_pkgset.PackageSet, run_no: int) -> list[dict[str, float]]:
    """`REINSTALLS` rounds of moss re-install, ostree checkout and cp -al (cheap: more samples).

    The order alternates (moss first, then the peers first), so that neither side always runs
    right after the other's trees were deleted; the peers always copy the full 200-package tree.
    """
    mroot = scratch / f"moss-{run_no}"
    samples = []
    for round_no in range(REINSTALLS):
        peers_first = (run_no * REINSTALLS + round_no) % 2 == 1
        peers = _peer_copies(scratch, pset, mroot) if peers_first else {}
        # One state kept: the re-install then blits the whole tree (with two archived trees
        # moss would update one of them instead, which bench/one_change.py measures).
        run(moss(mroot, "state", "prune", "-k", "1"))
        run(moss(mroot, "remove", pset.names[0]))
        syncfs(scratch)
        reinstall, output = timed(moss(mroot, "install", pset.names[0]))
        match = BLIT_LINE.search(output)
        if match is None:
            raise RuntimeError(f"no blit summary in moss's output:\n{output}")
        if not peers_first:
            peers = _peer_copies(scratch, pset, mroot)
        samples.append(
            {
                "moss_reinstall_s": reinstall,
                "blit_entries": float(match.group(1)),
                "blit_s": float(match.group(2)),
                **peers,
            }
        )
    return samples


def _peer_copies(scratch: Path, pset: peers_pkgset.PackageSet, mroot: Path) -> dict[str, float]:
    """`ostree checkout -H` of the commit and `cp -al` of moss's `/usr`, each timed alone."""
    checkout_dir, copy_dir = scratch / "checkout", scratch / "copy"
    ostree = ["ostree", f"--repo={pset.ostree_repo}", "checkout", "-H"]
    syncfs(scratch)
    ostree_s, _ = timed([*ostree, pset.commit, str(checkout_dir)])
    syncfs(scratch)
    cp_s, _ = timed(["cp", "-al", str(mroot / "usr"), str(copy_dir)])
    _rmtree(checkout_dir)
    _rmtree(copy_dir)
    syncfs(scratch)
    return {"ostree_checkout_s": ostree_s, "cp_al_s": cp_s}


def _removal(scratch: Path, pset: peers_pkgset.PackageSet, run_no: int) -> dict[str, float]:
    mroot, proot = scratch / f"moss-{run_no}", scratch / f"pacman-{run_no}"
    syncfs(scratch)
    moss_s, _ = timed(moss(mroot, "remove", *pset.names))
    syncfs(scratch)
    pacman_s, _ = timed(pacman(proot, "-R", *pset.names))
    left = (_paths(mroot / "usr") - MOSS_OWN - {"lib"}) | _paths(proot / "usr")
    if left:
        raise RuntimeError(f"removal left entries behind, e.g. {sorted(left)[:5]}")
    return {"moss_remove_s": moss_s, "pacman_remove_s": pacman_s}


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)$")


def import_breakdown(root: Path, rows: int = 8) -> list[str]:
    """What `python -X importtime -m moss -D root list installed` spends its imports on: the
    biggest imports made at the top level with their biggest direct children, then the self
    time of every module summed by top-level package. Times are as importtime reports them
    (its own overhead included, so larger than the plain import wall time)."""
    argv = [sys.executable, "-X", "importtime", "-m", "moss", "-D", str(root), "list", "installed"]
    tops: list[tuple[str, float, list[tuple[str, float]]]] = []
    children: list[tuple[str, float]] = []
    by_package: dict[str, float] = {}
    for line in run(argv).stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match is None:
            continue
        own, cumulative, indent, module = match.groups()
        package = module.split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + int(own) / 1000
        depth = len(indent) // 2
        if depth == 1:  # printed before their parent
            children.append((module, int(cumulative) / 1000))
        elif depth == 0:
            tops.append((module, int(cumulative) / 1000, children))
            children = []
    total = sum(cumulative for _, cumulative, _ in tops)
    lines = [f"all imports: {total:.0f} ms (importtime, cumulative)"]
    for module, cumulative, kids in sorted(tops, key=lambda top: top[1], reverse=True)[:rows]:
        lines.append(f"  {module:<36} {cumulative:7.1f} ms")
        for kid, kid_ms in sorted(kids, key=lambda kid: kid[1], reverse=True)[:3]:
            if kid_ms >= 1.0:
                lines.append(f"    {kid:<34} {kid_ms:7.1f} ms")
    lines.append("self time summed by top-level package:")
    for package, ms in sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:rows]:
        lines.append(f"  {package:<36} {ms:7.1f} ms")
    return lines


def _startup(scratch: Path) -> dict[str, float]:
    root = scratch / "moss-0"
    argv = moss(root, "list", "installed")
    listed = run(argv).stdout  # also the warm-up that fills the bytecode cache
    if listed.count("peer") < peers_pkgset.PACKAGES:
        raise RuntimeError(f"moss list installed shows too few packages:\n{listed[:500]}")

    def median_ms(argv: list[str]) -> float:
        return statistics.median(timed(argv)[0] for _ in range(STARTUP_RUNS)) * 1000

    figures = {
        "startup_ms": median_ms(argv),
        "import_moss_cli_ms": median_ms([sys.executable, "-c", "import moss.cli"]),
        "python_bare_ms": median_ms([sys.executable, "-c", "pass"]),
    }
    bytecode_cache(None)
    try:
        figures["startup_no_pyc_ms"] = median_ms(argv)
    finally:
        bytecode_cache(scratch / "pycache")
    figures["startup_ratio"] = STARTUP_GOAL_MS / figures["startup_ms"]
    return figures


def measure(scratch: Path) -> tuple[dict[str, float], list[str]]:
    ensure_tools()
    load_before = os.getloadavg()[0]
    bytecode_cache(scratch / "pycache")
    pset = peers_pkgset.build(scratch)
    syncfs(scratch)
    rounds: list[dict[str, float]] = []
    cached: list[dict[str, float]] = []
    startup: dict[str, float] = {}
    breakdown: list[str] = []
    entries = 0
    for run_no in range(RUNS):
        figures = _cold(scratch, pset, run_no)
        _say(
            f"run {run_no + 1}: cold install moss {figures['moss_install_s']:.1f}s, "
            f"pacman {figures['pacman_install_s']:.1f}s (+sync {figures['pacman_sync_s']:.1f}s), "
            f"moss with a one-level store {figures['moss_flat_store_install_s']:.1f}s, "
            f"moss on one CPU {figures['moss_one_cpu_install_s']:.1f}s"
        )
        if run_no == 0:
            entries = _check_same_tree(scratch / "moss-0", scratch / "pacman-0")
            startup = _startup(scratch)
            breakdown = import_breakdown(scratch / "moss-0")
            _say(f"start-up: moss list installed {startup['startup_ms']:.0f} ms")
        for sample in _cached(scratch, pset, run_no):
            cached.append(sample)
            _say(
                f"run {run_no + 1}: re-install {sample['moss_reinstall_s']:.1f}s (blit "
                f"{sample['blit_s']:.2f}s, cp -al {sample['cp_al_s']:.2f}s, ostree checkout "
                f"{sample['ostree_checkout_s']:.2f}s)"
            )
        figures |= _removal(scratch, pset, run_no)
        _say(
            f"run {run_no + 1}: remove moss {figures['moss_remove_s']:.1f}s, "
            f"pacman {figures['pacman_remove_s']:.1f}s"
        )
        _rmtree(scratch / f"moss-{run_no}")
        _rmtree(scratch / f"moss-flat-{run_no}")
        _rmtree(scratch / f"moss-1cpu-{run_no}")
        _rmtree(scratch / f"pacman-{run_no}")
        syncfs(scratch)  # the next run starts with nothing of this one left to write back
        rounds.append(figures)
    med = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    med |= {key: statistics.median(c[key] for c in cached) for key in cached[0]}

    def ratio(samples: list[dict[str, float]], peer: str, ours: str) -> float:
        """Median of the ratios of each run (both measured back to back): drift between runs,
        from other work on the machine, cancels out better than in a ratio of medians."""
        return statistics.median(sample[peer] / sample[ours] for sample in samples)

    result = {
        "packages": float(len(pset.names)),
        "files": float(pset.files),
        "symlinks": float(pset.symlinks),
        "entries_under_usr": float(entries),
        "megabytes": pset.bytes / 1e6,
        "stone_mb": sum(p.stat().st_size for p in pset.stone_repo.glob("*.stone")) / 1e6,
        "pacman_mb": sum(p.stat().st_size for p in pset.pacman_files) / 1e6,
        **med,
        "install_ratio": ratio(rounds, "pacman_install_s", "moss_install_s"),
        "install_sync_ratio": ratio(rounds, "pacman_sync_s", "moss_install_s"),
        "flat_store_install_ratio": ratio(rounds, "pacman_install_s", "moss_flat_store_install_s"),
        "flat_store_gain": ratio(rounds, "moss_install_s", "moss_flat_store_install_s"),
        "one_cpu_install_ratio": ratio(rounds, "pacman_install_s", "moss_one_cpu_install_s"),
        "worker_speedup": ratio(rounds, "moss_one_cpu_install_s", "moss_install_s"),
        "reinstall_vs_ostree": ratio(cached, "ostree_checkout_s", "moss_reinstall_s"),
        "blit_vs_ostree": ratio(cached, "ostree_checkout_s", "blit_s"),
        "blit_k_per_s": med["blit_entries"] / med["blit_s"] / 1000,
        "cp_al_k_per_s": med["blit_entries"] / med["cp_al_s"] / 1000,
        "blit_ratio": ratio(cached, "cp_al_s", "blit_s"),
        "remove_ratio": ratio(rounds, "pacman_remove_s", "moss_remove_s"),
        **startup,
        "load_before": load_before,  # 1-minute load averages: other work on the machine
        "load_after": os.getloadavg()[0],
    }
    return result, breakdown


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="peers-bench-", dir=os.environ.get("BENCH_TMP")) as tmp:
        try:
            figures, _ = measure(Path(tmp))
        finally:
            _rmtree(Path(tmp))  # read-only store files: rm -rf, then the context cleans up
            Path(tmp).mkdir()
    return figures


# --- the chart ---------------------------------------------------------------------------------

_BARS = [
    (
        "cold install",
        [
            ("moss", "moss_install_s"),
            ("moss, one-level store (what-if)", "moss_flat_store_install_s"),
            ("moss on one CPU", "moss_one_cpu_install_s"),
            ("pacman", "pacman_install_s"),
            ("pacman + sync", "pacman_sync_s"),
        ],
    ),
    (
        "cached re-install",
        [
            ("moss (whole tx)", "moss_reinstall_s"),
            ("moss blit", "blit_s"),
            ("ostree checkout -H", "ostree_checkout_s"),
            ("cp -al", "cp_al_s"),
        ],
    ),
    ("remove all", [("moss", "moss_remove_s"), ("pacman", "pacman_remove_s")]),
    (
        "start-up",
        [
            ("moss list installed, no .pyc", "startup_no_pyc_ms"),
            ("moss list installed", "startup_ms"),
            ("import moss.cli", "import_moss_cli_ms"),
            ("python -c pass", "python_bare_ms"),
        ],
    ),
]


_UNIT = {"start-up": "ms"}


def ascii_chart(figures: dict[str, float], width: int = 50) -> str:
    """Bars scaled within each section."""
    lines = []
    for title, bars in _BARS:
        longest = max(figures[key] for _, key in bars)
        lines.append(f"{title} ({_UNIT.get(title, 'seconds')}, medians; shorter is better)")
        for label, key in bars:
            bar = "#" * max(1, round(figures[key] / longest * width))
            lines.append(f"  {label:<32} {bar} {figures[key]:.2f}")
    return "\n".join(lines)


def plot(figures: dict[str, float], path: Path) -> bool:
    """Write a PNG chart when matplotlib imports; False otherwise."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, len(_BARS), figsize=(17, 4))
    for ax, (title, bars) in zip(axes, _BARS, strict=True):
        labels = [label for label, _ in bars]
        values = [figures[key] for _, key in bars]
        colours = [
            "tab:blue" if label.startswith(("moss", "import moss")) else "tab:gray"
            for label in labels
        ]
        ax.barh(labels, values, color=colours)
        ax.invert_yaxis()
        ax.set_title(title)
        unit = _UNIT.get(title, "seconds")
        ax.set_xlabel(f"{unit} (median)")
        for y, value in enumerate(values):
            ax.text(value, y, f" {value:.1f}", va="center")
        ax.set_xlim(0, max(values) * 1.3)
        if title == "start-up":
            ax.axvline(STARTUP_GOAL_MS, color="tab:red", linestyle="--", label="goal 150 ms")
            ax.legend(loc="lower right")
    fig.suptitle(
        f"{int(figures['packages'])} packages, {int(figures['files'])} files, "
        f"{figures['megabytes']:.0f} MB: moss against pacman, ostree and cp -al "
        "(blue: moss; shorter is better)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", action="store_true", help="write bench/peers.png (or ASCII)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="peers-bench-", dir=os.environ.get("BENCH_TMP")) as tmp:
        try:
            figures, breakdown = measure(Path(tmp))
        finally:
            _rmtree(Path(tmp))
            Path(tmp).mkdir()
    for key, value in figures.items():
        print(f"{key:>22}: {value:.3f}")
    print("\nimports of `moss list installed`, with bytecode cached:")
    print("\n".join(breakdown))
    if options.plot:
        print()
        print(ascii_chart(figures))
        if plot(figures, HERE / "peers.png"):
            print(f"\nwrote {HERE / 'peers.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_cli())

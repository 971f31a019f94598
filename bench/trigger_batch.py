"""A trigger's invocations through one container helper: what a transaction pays for them.

A system of 20 generated packages (chg000-chg019, 5 files each) and `triggers`, whose `catalog`
transaction trigger runs the static `stamp` handler (tests/support/stamp_handler.py) once per
package. Removing chg010 re-runs the trigger's 19 other invocations, installing it again all
20 (a changed capture set re-runs the whole trigger); a first round is not counted, then the
medians of 3 rounds, wall and processor time (the moss process with all it waited for, the
containers included). Apart from moss, the containers alone: 19 runs of `true` in the
container spec of a transaction trigger, through one `ContainerSession` and through
`run_container` each.

`--moss-core DIR` runs the transactions with the `moss_core` package found in DIR instead (for
a comparison with an earlier commit: `git archive COMMIT packages/moss-core/src | tar -x -C
/tmp/old`, then `--moss-core /tmp/old/packages/moss-core/src`).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from generated import run_moss, scratch_base, write_package
from peers_tools import ENV, bytecode_cache
from stamp_handler import build_stamp, stamp_trigger

from moss_core.container import ContainerSession, run_container
from moss_core.container.isolated import IsolatedRunner
from moss_core.repository import build_index

PACKAGES = 20
CHANGED = "chg010"
RUNS = 3
INVOCATIONS = PACKAGES - 1
GENERATION = "v1"  # bump when the generated content changes


def _repository() -> Path:
    repo = scratch_base() / f"trigger-batch-repo-{GENERATION}"
    if (repo / "stone.index").exists():
        return repo
    if shutil.which("gcc") is None:
        raise SystemExit("trigger_batch.py needs gcc, to build its static trigger handler")
    building = repo.with_name(repo.name + ".part")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    for number in range(PACKAGES):
        name = f"chg{number:03d}"
        files = {f"share/{name}/d00/f{i:04d}": f"{name} {i}\n" for i in range(5)}
        write_package(building, name, files)
    with tempfile.TemporaryDirectory() as build:
        trigger = stamp_trigger(
            "catalog",
            ["/usr/share/catalog", "/usr/share/catalog/$(name)", "/usr/share/$(name)/d00/f0000"],
            "/usr/share/(name:chg0*)/d00/f0000",
        )
        write_package(building, "triggers", {"bin/stamp": build_stamp(Path(build)), **trigger})
    build_index(building)
    shutil.rmtree(repo, ignore_errors=True)
    os.rename(building, repo)
    return repo


def _containers(scratch: Path) -> tuple[float, float]:
    """Seconds for `INVOCATIONS` runs of `true` in a transaction trigger's container: through
    one session, and each through `run_container`."""
    (scratch / "etc").mkdir()
    spec = IsolatedRunner(scratch / "isolation", Path("/usr"), scratch / "etc").spec
    # The host's own loader, where the host's /usr (bound read-only here) expects it.
    for name in ("lib64", "lib32"):
        link, host = scratch / "isolation" / name, Path("/") / name
        link.unlink()
        if host.is_symlink():
            link.symlink_to(os.readlink(host))
    started = time.perf_counter()
    with ContainerSession(spec, stdin=subprocess.DEVNULL) as session:
        for _ in range(INVOCATIONS):
            session.run(["true"])
    together = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(INVOCATIONS):
        run_container(spec, ["true"], stdin=subprocess.DEVNULL)
    return together, time.perf_counter() - started


def main(moss_core: Path | None = None) -> dict[str, float]:
    repo = _repository()
    scratch = Path(tempfile.mkdtemp(prefix="trigger-batch-", dir=scratch_base()))
    bytecode_cache(scratch / "pycache")
    if moss_core is not None:
        ENV["PYTHONPATH"] = str(moss_core)
    try:
        root = scratch / "root"
        root.mkdir()
        run_moss(root, "repo", "add", "gen", f"file://{repo}/stone.index")
        run_moss(root, "install", "triggers", *[f"chg{n:03d}" for n in range(PACKAGES)])
        removes, remove_cpus, installs = [], [], []
        for run in range(RUNS + 1):
            removed = run_moss(root, "-v", "remove", CHANGED)
            ran = sum("trigger catalog:" in line for line in removed.output.splitlines())
            if ran != INVOCATIONS:
                raise RuntimeError(f"the remove ran {ran} catalog invocations, not {INVOCATIONS}")
            again = run_moss(root, "install", CHANGED)
            if run > 0:
                removes.append(removed.seconds)
                remove_cpus.append(removed.cpu_s)
                installs.append(again.seconds)
        together, each = _containers(scratch)
        return {
            "invocations": INVOCATIONS,
            "remove_s": statistics.median(removes),
            "remove_cpu_s": statistics.median(remove_cpus),
            "install_s": statistics.median(installs),
            "session_containers_s": together,
            "run_container_containers_s": each,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    chosen = Path(arguments[1]) if arguments[:1] == ["--moss-core"] else None
    for key, value in main(chosen).items():
        print(f"{key:>28}: {value:.3f}" if isinstance(value, float) else f"{key:>28}: {value}")

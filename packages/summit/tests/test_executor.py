"""The Dask executor: two builds of one recipe at once each get a boulder cache of their own;
on a real LocalCluster, a build whose worker is SIGKILLed finishes on the other worker, and no
process of the killed worker's build survives it."""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from summit.executor import BuildSpec, cluster, run_build

# Given its output directory, the other build's name, then `--cache-dir DIR`: says what DIR
# held when it started, leaves a read-only tree there (as builds do), waits for the other
# build, and leaves a package.
CACHED = """
import json, os, sys, time
out, other, flag, cache = sys.argv[1:5]
assert flag == "--cache-dir"
held = os.listdir(cache)
os.makedirs(os.path.join(cache, "root", "usr"))
os.chmod(os.path.join(cache, "root"), 0o555)
open(os.path.join(out, "seen.json"), "w").write(json.dumps({"cache": cache, "held": held}))
mine = os.path.join(out, "started")
open(mine, "w").close()
runs = os.path.dirname(os.path.dirname(out))
other = os.path.join(runs, other, "staging", "started")
while not os.path.exists(other):
    time.sleep(0.05)
open(os.path.join(out, "same-1-1-1-x86_64.stone"), "wb").write(b"x")
"""


def test_two_builds_of_one_recipe_at_once_have_caches_of_their_own(tmp_path: Path) -> None:
    def spec(run: str, other: str) -> BuildSpec:
        staging = str(tmp_path / run / "staging")
        command = (sys.executable, "-c", CACHED, staging, other)
        log = str(tmp_path / run / "same.log")
        return BuildSpec("same", 1, str(tmp_path), staging, log, command, 60, private_cache=True)

    specs = [spec("one", "two"), spec("two", "one")]
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda s=s: results.append(run_build(s))) for s in specs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [r["status"] for r in results] == ["ok", "ok"], results
    seen = [json.loads((tmp_path / r / "staging/seen.json").read_text()) for r in ("one", "two")]
    assert seen[0]["cache"] != seen[1]["cache"]
    assert seen[0]["held"] == seen[1]["held"] == []
    for cache in (Path(s["cache"]) for s in seen):
        assert cache.parent == Path(tempfile.gettempdir())  # not in a worker: no worker dir
        assert cache.name.startswith("summit-same-a1-")
        assert not cache.exists()  # removed with its read-only tree once the build ended
    assert f"--cache-dir {seen[0]['cache']}" in (tmp_path / "one" / "same.log").read_text()


def test_a_builder_of_its_own_gets_no_cache_directory(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    script = "import sys; open(sys.argv[1] + '/args', 'w').write(repr(sys.argv[1:]))"
    spec = BuildSpec(
        "solo", 1, str(tmp_path), str(staging), str(tmp_path / "solo.log"),
        (sys.executable, "-c", script, str(staging)), 60,
    )  # fmt: skip
    assert run_build(spec)["reason"] == "builder produced no package"
    assert (staging / "args").read_text() == repr([str(staging)])


# Records its pid, then works for a while in a child `sleep`, then leaves a package.
BUILDER = """
import os, subprocess, sys
out = sys.argv[1]
with open(os.path.join(out, "..", "pids"), "a") as f:
    f.write(f"{os.getpid()}\\n")
subprocess.run(["sleep", "3"], check=True)
open(os.path.join(out, "left-1-1-1-x86_64.stone"), "wb").write(b"x")
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
def test_build_survives_a_killed_worker(tmp_path: Path) -> None:
    staging = tmp_path / "staging" / "a1"
    command = (sys.executable, "-c", BUILDER, str(staging))
    spec = BuildSpec(
        "left", 1, str(tmp_path), str(staging), str(tmp_path / "left.log"), command, 60
    )
    with cluster(2, None) as dask:
        pids = dask.worker_pids()
        dask.submit(spec, 0)
        deadline = time.monotonic() + 60
        victim = None
        while victim is None and time.monotonic() < deadline:
            victim = next((w for w, keys in dask.processing().items() if keys), None)
            time.sleep(0.05)
        assert victim is not None
        pid_file = tmp_path / "staging" / "pids"
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        first_build = int(pid_file.read_text().split()[0])
        children = Path(f"/proc/{first_build}/task/{first_build}/children")
        while not children.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.05)
        first_sleep = int(children.read_text().split()[0])
        os.kill(pids[victim], signal.SIGKILL)
        result = dask.next_result()
    assert result is not None
    assert result["status"] == "ok", result
    assert result["stones"] == [str(staging / "left-1-1-1-x86_64.stone")]
    assert len(pid_file.read_text().split()) == 2
    assert not _alive(first_build) and not _alive(first_sleep)
    assert "attempt 1" in (tmp_path / "left.log").read_text()

"""The Dask executor on a real LocalCluster: a build whose worker is SIGKILLed finishes on the
other worker, and no process of the killed worker's build survives it."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from summit.executor import BuildSpec, cluster

pytestmark = pytest.mark.slow

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

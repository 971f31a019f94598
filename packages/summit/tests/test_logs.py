"""Following a build log: everything the build wrote, live, ending when the attempt ends."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from summit.logs import follow
from summit.queue import Task
from summit.state import State

from .conftest import kill_group


def test_follow_copies_a_growing_file_until_the_build_ends(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    done = threading.Event()

    def build() -> None:
        time.sleep(0.1)  # the log does not exist yet when following starts
        with open(log, "ab") as f:
            for i in range(20):
                f.write(f"line {i}\n".encode())
                f.flush()
                time.sleep(0.01)
        done.set()

    got: list[bytes] = []
    writer = threading.Thread(target=build)
    writer.start()
    follow(log, lambda: not done.is_set(), got.append, poll=0.02)
    writer.join()
    assert b"".join(got) == b"".join(f"line {i}\n".encode() for i in range(20))


def test_summit_log_follow_streams_a_running_build_and_ends_with_it(tmp_path: Path) -> None:
    out = tmp_path / "repo"
    state = State(out / ".summit" / "state.db")
    state.sync([Task("solo", "1.0", 1, "s/solo")])
    state.start("solo", None, out / ".summit" / "logs" / "solo")
    row = state.task("solo")
    assert row is not None and row.log_path is not None
    log = Path(row.log_path)
    log.parent.mkdir(parents=True)
    log.write_text("configure\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "summit", "log", "--repo", str(out), "solo", "--follow"],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "configure\n"
        with open(log, "a") as f:
            f.write("compile\n")
        assert process.stdout.readline() == "compile\n"
        with open(log, "a") as f:
            f.write("install\n")
        state.fail("solo", 1, "w", "builder exited with 2")
        rest, _ = process.communicate(timeout=30)
    finally:
        kill_group(process.pid)
        state.close()
    assert rest == "install\n"
    assert process.returncode == 0

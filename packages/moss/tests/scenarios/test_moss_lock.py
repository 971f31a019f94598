"""One moss at a time on a root: a second one waits (saying who holds the root) or, with
`--no-wait`, fails at once."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from .helpers import MossRun, run_moss_process


def test_second_moss_waits_then_runs(root: Path, moss: MossRun) -> None:
    assert moss("state", "list").code == 0
    lock = root / ".moss/.moss-lockfile"
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b"4242\n", 0)
        process = subprocess.Popen(
            [sys.executable, "-m", "moss", "-D", str(root), "state", "list"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        assert process.poll() is None, "moss did not wait for the lock"
    finally:
        os.close(fd)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Blocking: another moss process (pid 4242) is using the root" in err


def test_no_wait_fails_at_once(root: Path, moss: MossRun) -> None:
    assert moss("state", "list").code == 0
    fd = os.open(root / ".moss/.moss-lockfile", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        started = time.monotonic()
        result = run_moss_process(root, "--no-wait", "state", "list")
        assert time.monotonic() - started < 10
    finally:
        os.close(fd)
    assert result.returncode == 1
    assert result.stderr.startswith("moss: error: another moss process")
    assert result.stderr.count("\n") == 1


def test_twenty_rounds_of_two_writers(root: Path, packages: Path, moss: MossRun) -> None:
    from .helpers import make_stone

    stones = [make_stone(packages, f"p{n}", {f"share/p{n}": b"x"}) for n in range(2)]
    for round_ in range(10):
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "moss",
                    "-D",
                    str(root),
                    "-y",
                    "install" if round_ % 2 == 0 else "remove",
                    str(stone) if round_ % 2 == 0 else f"p{n}",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n, stone in enumerate(stones)
        ]
        for proc in procs:
            _out, err = proc.communicate(timeout=60)
            assert "database" not in err.lower(), err
            assert proc.returncode in (0, 1), err
    verify = run_moss_process(root, "-y", "state", "verify")
    assert verify.returncode == 0 and "No issues found" in verify.stdout

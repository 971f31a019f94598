"""One moss at a time on a root: a second one waits (saying who holds the root) or, with
`--no-wait`, fails at once. Twenty rounds of two writers: tests/reliability/test_concurrency.py."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

from moss_roots import moss_argv, moss_env

from moss_core.installation import Installation

from .helpers import run_moss_process


def test_second_moss_waits_then_runs(root: Path) -> None:
    Installation.open(root)
    lock = root / ".moss/.moss-lockfile"
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b"4242\n", 0)
        process = subprocess.Popen(
            moss_argv(root, "state", "list"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=moss_env(),
        )
        # Held until moss says it waits, however long it takes to start on a busy machine.
        assert process.stderr is not None
        first = process.stderr.readline()
        time.sleep(0.5)
        assert process.poll() is None, "moss did not wait for the lock"
    finally:
        os.close(fd)
    _out, rest = process.communicate(timeout=30)
    assert process.returncode == 0, first + rest
    assert "Blocking: another moss process (pid 4242) is using the root" in first


def test_no_wait_fails_at_once(root: Path) -> None:
    Installation.open(root)
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

"""Forked workers: results and progress come back, failures are raised, none outlives moss."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from moss_core.processes import ForkedTaskError, Report, fork_pool, run_forked, usable_cores


def test_results_add_up_and_progress_reaches_the_parent() -> None:
    def task(n: int) -> Callable[[Report], int]:
        def run(report: Report) -> int:
            for _ in range(n):
                report(1)
            return n * 10

        return run

    advances: list[int] = []
    assert run_forked([task(3), task(5)], advances.append) == 80
    assert sum(advances) == 8


def test_children_work_on_what_the_parent_holds(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:

        def write(name: str) -> Callable[[Report], int]:
            def run(_report: Report) -> int:
                os.close(os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
                return 1

            return run

        assert run_forked([write("a"), write("b")]) == 2
    finally:
        os.close(fd)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_the_first_failure_is_raised_after_every_child_ended(tmp_path: Path) -> None:
    def fail(_report: Report) -> int:
        raise OSError("disk on fire\nsecond line")

    def slow(_report: Report) -> int:
        time.sleep(0.2)
        (tmp_path / "slow-done").touch()
        return 1

    with pytest.raises(ForkedTaskError, match=r"^disk on fire second line$"):
        run_forked([fail, slow])
    assert (tmp_path / "slow-done").exists()


def test_a_child_killed_by_a_signal_is_a_failure() -> None:
    def die(_report: Report) -> int:
        os.kill(os.getpid(), signal.SIGKILL)
        return 0

    with pytest.raises(ForkedTaskError, match="status -9"):
        run_forked([die])


def test_pool_workers_ignore_ctrl_c_and_die_with_the_parent(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        # A moss stand-in: starts a pool, reports its workers, then is killed.
        try:
            os.close(read_end)
            pool = fork_pool(2)
            pids = {process.pid for process in pool._processes.values()}
            os.write(write_end, (" ".join(map(str, sorted(pids))) + "\n").encode())
            time.sleep(30)
        finally:
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        # The workers hold the pipe open too: read the line, not to the end.
        workers = [int(p) for p in reader.readline().split()]
    assert len(workers) == 2
    for worker in workers:
        os.kill(worker, signal.SIGINT)
    time.sleep(0.1)
    for worker in workers:
        os.kill(worker, 0)  # still alive after Ctrl-C
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.02)
    assert not any(_alive(w) for w in workers)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_an_interrupted_parent_kills_its_children_first(tmp_path: Path) -> None:
    def late_write(_report: Report) -> int:
        time.sleep(1.0)
        (tmp_path / "written-after-the-interruption").touch()
        return 1

    def interrupt(advance: int) -> None:
        raise KeyboardInterrupt

    def report_once(report: Report) -> int:
        report(1)
        return 1

    with pytest.raises(KeyboardInterrupt):
        run_forked([report_once, late_write], interrupt)
    time.sleep(1.5)
    assert not (tmp_path / "written-after-the-interruption").exists()


def test_usable_cores_follow_the_affinity() -> None:
    def pinned(_report: Report) -> int:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        return usable_cores()

    assert run_forked([pinned]) == 1
    assert usable_cores() == len(os.sched_getaffinity(0))


def test_a_task_that_cannot_have_a_process_runs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    forks = []
    real_fork = os.fork

    def second_fork_fails() -> int:
        forks.append(1)
        if len(forks) == 2:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real_fork()

    monkeypatch.setattr(os, "fork", second_fork_fails)
    here = os.getpid()

    def where(_report: Report) -> int:
        _report(1)
        return 1 if os.getpid() == here else 10

    advances: list[int] = []
    assert run_forked([where, where, where], advances.append) == 10 + 1 + 10
    assert sum(advances) == 3

"""Worker processes, for work that is system calls driven from Python (unpacking into the
store, writing a tree). Threads of one interpreter take turns at the GIL between system calls;
processes do not. The workers are forked, so they start in milliseconds with every module
already imported and every object of the parent at hand.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor


def fork_pool(workers: int) -> ProcessPoolExecutor:
    """`workers` processes, forked before this call returns.

    Call it before starting any thread: a fork copies only the calling thread, and a lock
    another thread held at that moment would stay locked in the child. The workers leave
    Ctrl-C to the parent and die with it, so none writes on after moss was killed.
    """
    # Imported here: most moss commands start no worker, and these imports cost 10 ms.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker,
    )
    # With fork, the first task starts every worker at once.
    pool.submit(int).result()
    return pool


def _init_worker() -> None:
    from moss_core.container.syscalls import set_parent_death_signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_parent_death_signal(signal.SIGKILL)


class ForkedTaskError(Exception):
    """A task run by `run_forked` failed; the message is the child's error."""


Report = Callable[[int], None]


def run_forked(tasks: Sequence[Callable[[Report], int]], progress: Report | None = None) -> int:
    """Run every task at once, each in a child forked now, and return the sum of their results.

    For work on objects this process holds (a tree, open directory descriptors), which a pool
    would have to pickle: a forked child sees them as they are. A task may call its `Report`
    with advances, which reach `progress` here. Once all children ended, the first failure is
    raised as `ForkedTaskError` with the child's message. Children die with this process.
    """
    children: list[tuple[int, int]] = []
    try:
        for task in tasks:
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_end)
                _child(task, write_end)
            os.close(write_end)
            children.append((pid, read_end))
    except BaseException:
        for pid, _ in children:
            os.kill(pid, signal.SIGKILL)
        _reap(children)
        raise
    total, errors = 0, []
    for pid, read_end in children:
        with os.fdopen(read_end, "r", encoding="utf-8", errors="replace") as messages:
            for line in messages:
                kind, _, value = line.rstrip("\n").partition(" ")
                if kind == "+" and progress is not None:
                    progress(int(value))
                elif kind == "=":
                    total += int(value)
                elif kind == "!":
                    errors.append(value)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0 and not errors:
            errors.append(f"worker process ended with status {os.waitstatus_to_exitcode(status)}")
    if errors:
        raise ForkedTaskError(errors[0])
    return total


def _child(task: Callable[[Report], int], write_end: int) -> NoReturn:
    code = 1
    try:
        _init_worker()
        with os.fdopen(write_end, "w", encoding="utf-8") as messages:

            def report(advance: int) -> None:
                messages.write(f"+ {advance}\n")
                messages.flush()

            try:
                result = task(report)
                messages.write(f"= {result}\n")
                code = 0
            except BaseException as err:
                messages.write(f"! {' '.join(str(err).splitlines()) or repr(err)}\n")
    finally:
        os._exit(code)


def _reap(children: list[tuple[int, int]]) -> None:
    for pid, read_end in children:
        os.close(read_end)
        os.waitpid(pid, 0)

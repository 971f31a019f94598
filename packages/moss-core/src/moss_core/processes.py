"""Worker processes, for work that is system calls driven from Python (unpacking into the
store, writing a tree). Threads of one interpreter take turns at the GIL between system calls;
processes do not. The workers are forked, so they start in milliseconds with every module
already imported and every object of the parent at hand.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity, which a container or `taskset` may
    narrow), at least one."""
    return max(1, len(os.sched_getaffinity(0)))


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
    with _sigint_held():
        # With fork, the first task starts every worker at once.
        pool.submit(int).result()
    return pool


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold back Ctrl-C while forking: a child must not die of it before it ignores it. The
    parent gets it once the forks are done."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _init_worker() -> None:
    from moss_core.container.syscalls import set_parent_death_signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    set_parent_death_signal(signal.SIGKILL)


class ForkedTaskError(Exception):
    """A task run by `run_forked` failed; the message is the child's error."""


Report = Callable[[int], None]


def run_forked(tasks: Sequence[Callable[[Report], int]], progress: Report | None = None) -> int:
    """Run every task at once, each in a child forked now, and return the sum of their results.

    For work on objects this process holds (a tree, open directory descriptors), which a pool
    would have to pickle: a forked child sees them as they are. A task may call its `Report`
    with advances, which reach `progress` here. Once all children ended, the first failure is
    raised as `ForkedTaskError` with the child's message. A task that cannot have a process
    (a limit on processes or memory) runs here instead, and its errors are raised as they are.
    If this process is interrupted (Ctrl-C) meanwhile, the children are killed before the
    interruption goes on, so nothing writes behind the caller's clean-up; they die with this
    process too.
    """
    children: list[tuple[int, int]] = []
    here: list[Callable[[Report], int]] = []
    total, errors = 0, []
    try:
        with _sigint_held():
            for task in tasks:
                try:
                    children.append(_fork(task))
                except OSError:
                    here.append(task)
        for task in here:
            total += task(progress or _ignore)
        while children:
            pid, read_end = children[0]
            children[0] = (pid, -1)  # the file object below owns the descriptor now
            with os.fdopen(read_end, "r", encoding="utf-8", errors="replace") as messages:
                for line in messages:
                    kind, _, value = line.rstrip("\n").partition(" ")
                    if kind == "+" and progress is not None:
                        progress(int(value))
                    elif kind == "=":
                        total += int(value)
                    elif kind == "!":
                        errors.append(value)
            children.pop(0)
            code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            if code != 0 and not errors:
                errors.append(f"worker process ended with status {code}")
    except BaseException:
        for pid, read_end in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            if read_end >= 0:
                os.close(read_end)
        raise
    if errors:
        raise ForkedTaskError(errors[0])
    return total


def _fork(task: Callable[[Report], int]) -> tuple[int, int]:
    """A child running `task`: its pid and the end of the pipe it reports through."""
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:
        os.close(read_end)
        _child(task, write_end)
    os.close(write_end)
    return pid, read_end


def _ignore(_advance: int) -> None:
    return None


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
